"""``jobtrail graph`` and the cycle check of ``flows check``: which job types enqueue
which, from the code (ctx.enqueue, prepared calls of chains and groups) and from recorded
runs (in a subprocess)."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.conftest import Cli

SOURCE = '''
from jobtrail import App, Context

app = App("sqlite:///graph.db")


@app.job
def signup(ctx: Context, user: int) -> None:
    ctx.enqueue(welcome, user=user)


@app.job
def welcome(ctx: Context, user: int) -> None:
    app.chain(profile.prepare(user=user), digest.prepare(user=user))


@app.job
def profile(user: int) -> None: ...


@app.job
def digest(ctx: Context, user: int) -> None:
    if user < 0:
        ctx.enqueue(signup, user=-user)


@app.job
def alone() -> None: ...
'''


def write(tmp_path: Path) -> None:
    (tmp_path / "accounts.py").write_text(SOURCE)
    (tmp_path / "flows.lock").write_text("")


def test_the_graph_from_the_code_shows_enqueues_chains_and_the_cycle(cli: Cli,
                                                                    tmp_path: Path) -> None:
    write(tmp_path)
    text = cli("graph", "accounts:app", "--code-only")
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    for edge in ("signup -> welcome  (code)", "welcome -> profile  (code)",
                 "welcome -> digest  (code)", "profile -> digest  (code)",
                 "digest -> signup  (code)", "alone  (enqueues nothing, enqueued by nothing seen)",
                 "cycle: digest -> signup -> welcome -> digest"):
        assert edge in lines, text.stdout
    report = cli("graph", "accounts:app", "--json").json()
    assert report["cycles"] == [["digest", "signup", "welcome", "digest"]]
    assert {"from": "signup", "to": "welcome", "seen": ["code"], "runs": 0} in report["edges"]
    mermaid = cli("graph", "accounts:app", "--format", "mermaid")
    assert mermaid.stdout.startswith("flowchart LR") and '"signup"' in mermaid.stdout
    dot = cli("graph", "accounts:app", "--format", "dot")
    assert '"signup" -> "welcome" [label="code"];' in dot.stdout


def test_recorded_runs_add_their_edges_with_counts(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path)
    for user in (1, 2):
        assert cli("enqueue", "accounts:app", "signup", "--arg", f"user={user}").code == 0
    ran = cli("worker", "accounts:app", "--burst")
    assert ran.code == 0, ran.stderr
    report = cli("graph", "accounts:app", "--json").json()
    edges = {(e["from"], e["to"]): e for e in report["edges"]}
    assert edges[("signup", "welcome")] == {"from": "signup", "to": "welcome",
                                            "seen": ["code", "runs"], "runs": 2}
    assert edges[("profile", "digest")]["seen"] == ["code", "runs"]  # the chain's next call
    assert "signup -> welcome  (code + runs: 2 runs)" in cli("graph", "accounts:app").stdout


def test_flows_check_reports_the_cycle_and_exits_2(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path)
    assert cli("flows", "lock", "accounts:app").code == 0
    checked = cli("flows", "check", "accounts:app")
    assert checked.code == 2, checked.stdout + checked.stderr
    assert ("job types enqueue each other in a cycle: digest -> signup -> welcome -> digest"
            in checked.stdout)
    assert cli("flows", "check", "accounts:app", "--json").json()["cycles"] == [
        ["digest", "signup", "welcome", "digest"]]

"""``jobtrail paths`` and ``jobtrail rules``: timelines, variants, funnels, divergences and
rules, as an operator reads them from the command line (in a subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli, Shop

ORDERS_SOURCE = '''
from jobtrail import App, Context
from jobtrail.paths.rules import enqueued, succeeded

app = App("sqlite:///orders.db")

@app.job(expect="reserve decide:in_stock=true effect:charge ship | reserve decide:in_stock=false exit:out_of_stock")
def place_order(ctx: Context, order: int) -> None:
    ctx.step("reserve", lambda: order)
    if not ctx.decide("in_stock", order % 3 != 0):
        return ctx.exit("out_of_stock")
    ctx.effect("charge", lambda: f"ch-{order}", key=f"charge-{order}")
    if order % 5 == 0:
        return None  # a silent early return: the ship step is missing
    ctx.step("ship", lambda: True)
    if order % 2 == 0:
        ctx.enqueue(ship_order, order=order)

@app.job
def ship_order(order: int) -> None:
    pass

app.paths.rule("orders ship", when=succeeded(place_order), then=enqueued(ship_order), within=0.001)

def place_order_v2(ctx: Context, order: int) -> None:
    ctx.step("reserve", lambda: order)
    if not ctx.decide("in_stock", order % 3 != 0):
        return ctx.exit("out_of_stock")
    ctx.effect("charge", lambda: f"ch-{order}", key=f"charge-{order}")
    ctx.step("ship", lambda: True)

app.paths.shadow(place_order, place_order_v2)
'''


@pytest.fixture
def orders(cli: Cli, tmp_path: Path) -> str:
    """orders.py with ten orders worked: 3 out of stock, order 5 and 10 skip shipping."""
    (tmp_path / "orders.py").write_text(ORDERS_SOURCE)
    for order in range(1, 11):
        assert cli("enqueue", "orders:app", "place_order", "--arg", f"order={order}").code == 0
    ran = cli("worker", "orders:app", "--burst")
    assert ran.code == 0, ran.stderr
    return "orders:app"


def test_paths_show_prints_the_timeline_and_divergences(cli: Cli, orders: str) -> None:
    """paths show gives a run's events in order, its variant and its divergences."""
    shown = cli("paths", "show", "5", "--app", orders, "--json").json()
    assert shown["variant"] == "reserve decide:in_stock=true effect:charge"
    assert [e["name"] for e in shown["events"] if e["kind"] != "lifecycle"] == ["reserve", "in_stock", "charge"]
    assert [d["kind"] for d in shown["divergences"]] == ["missing"]
    human = cli("paths", "show", "5", "--app", orders)
    assert human.code == 0 and "missing step ship" in human.stdout


def test_paths_variants_and_funnel_count_the_runs(cli: Cli, orders: str) -> None:
    """variants groups the ten runs by path; funnel counts how far they got."""
    variants = {v["path"]: v["count"] for v in cli("paths", "variants", "place_order", "--app", orders, "--json").json()}
    assert variants == {
        "reserve decide:in_stock=true effect:charge ship": 5,
        "reserve decide:in_stock=false exit:out_of_stock": 3,
        "reserve decide:in_stock=true effect:charge": 2,
    }
    funnel = cli("paths", "funnel", "place_order", "--app", orders, "--json").json()
    assert funnel["started"] == 10 and funnel["exits"] == {"out_of_stock": 3}
    assert [(s["point"], s["reached"]) for s in funnel["stages"]] == [
        ("reserve", 10), ("decide:in_stock", 10), ("effect:charge", 7), ("ship", 5)]
    table = cli("paths", "funnel", "place_order", "--app", orders)
    assert table.code == 0 and "started" in table.stdout and "ship" in table.stdout


def test_paths_divergences_counts_and_lists_them(cli: Cli, orders: str) -> None:
    """divergences counts by job and kind, then lists the latest, filtered by kind."""
    found = cli("paths", "divergences", "--app", orders, "--json").json()
    assert found["counts"] == [{"job_name": "place_order", "kind": "missing", "count": 2}]
    assert sorted(d["job_id"] for d in found["divergences"]) == [5, 10]
    none = cli("paths", "divergences", "--app", orders, "--kind", "slow")
    assert none.code == 0 and "no divergences" in none.stdout


def test_rules_check_names_the_orders_that_broke_the_rule(cli: Cli, orders: str) -> None:
    """rules check lists each order that succeeded with no ship_order child in time, and exits 1."""
    checked = cli("rules", "check", orders, "--json")
    assert checked.code == 1, checked.stderr
    (report,) = checked.json()
    # Orders 3, 6 and 9 exited (out of stock): not orders that succeeded at their work.
    assert (report["rule"], report["checked"], report["kept"]) == ("orders ship", 7, 3)
    assert sorted(int(b["entity"]) for b in report["broken"]) == [1, 5, 7, 10]


def test_bad_input_to_the_paths_commands_is_one_clear_line(cli: Cli, orders: str) -> None:
    """A bad time, an unknown kind or a missing job id is a usage error or not-found, not a traceback."""
    bad_time = cli("paths", "variants", "place_order", "--app", orders, "--since", "yesterday")
    assert bad_time.code == 2 and "ISO-8601" in bad_time.error_line()
    bad_kind = cli("paths", "divergences", "--app", orders, "--kind", "weird")
    assert bad_kind.code == 2 and "weird" in bad_kind.error_line()
    missing = cli("paths", "show", "999", "--app", orders)
    assert missing.code == 3 and "999" in missing.error_line()


def test_rules_check_on_an_app_without_rules_says_so(cli: Cli, shop: Shop) -> None:
    """An app that declares no rule is a usage error naming app.paths.rule."""
    checked = cli("rules", "check", shop.target)
    assert checked.code == 2 and "declares no rules" in checked.error_line()


def test_run_dry_run_shows_the_path_and_captured_effects(cli: Cli, orders: str) -> None:
    """run --dry-run prints what the job would do (as JSON with --json) and performs nothing."""
    done = cli("run", orders, "place_order", "--arg", "order=5", "--dry-run", "--json")
    assert done.code == 0, done.stderr
    report = done.json()
    assert report["variant"] == "reserve decide:in_stock=true effect:charge"
    assert [(e["name"], e["key"]) for e in report["effects"]] == [("charge", "charge-5")]
    assert [d["kind"] for d in report["divergences"]] == ["missing"]
    human = cli("run", orders, "place_order", "--arg", "order=4", "--dry-run")
    assert human.code == 0 and "Effects captured" in human.stdout and "would enqueue ship_order" in human.stdout
    assert cli("jobs", "list", "--app", orders, "--status", "queued", "--json").json()["jobs"] == []


def test_paths_shadow_summarises_the_candidate_against_real_runs(cli: Cli, orders: str) -> None:
    """Every real run was shadowed; the candidate differs where the real job skipped shipping."""
    report = cli("paths", "shadow", "place_order", "--app", orders, "--json").json()
    assert (report["compared"], report["same_path"]) == (10, 8)
    assert sorted(d["real_job_id"] for d in report["differences"]) == [5, 10]
    human = cli("paths", "shadow", "place_order", "--app", orders)
    assert human.code == 0 and "10 runs compared" in human.stdout


REFUNDS_SOURCE = '''
import os

from jobtrail import App, Context, Permanent, Retry

app = App(os.environ["REFUNDS_URL"])

@app.job(retry=Retry(max_attempts=1))
def refund(ctx: Context, order: int) -> None:
    ctx.step("load", lambda: order)
    raise Permanent(f"order {order} was never paid")

def refund_v2(ctx: Context, order: int) -> None:
    ctx.step("load", lambda: order)

app.paths.shadow(refund, refund_v2)
'''


def test_paths_shadow_shows_the_error_of_a_real_run_that_failed(
    cli: Cli, tmp_path: Path, db_url: str
) -> None:
    """A real run that failed is shown by its error (class and message) against the candidate's
    result, in text and in --json."""
    (tmp_path / "refunds.py").write_text(REFUNDS_SOURCE)
    assert cli("enqueue", "refunds:app", "refund", "--arg", "order=7", REFUNDS_URL=db_url).code == 0
    # Twice: a burst worker on PostgreSQL may stop before it hears of the shadow job that
    # its last write enqueued (the notification comes back through LISTEN).
    for _ in range(2):
        ran = cli("worker", "refunds:app", "--burst", REFUNDS_URL=db_url)
        assert ran.code == 0, ran.stderr
    report = cli("paths", "shadow", "refund", "--app", "refunds:app", "--json", REFUNDS_URL=db_url)
    assert report.code == 0, report.stderr
    (difference,) = report.json()["differences"]
    assert difference["real_error"] == "jobtrail.errors.Permanent: order 7 was never paid"
    assert (difference["same_path"], difference["same_result"]) == (True, False)
    assert (difference["real_result"], difference["shadow_result"]) == (None, None)
    human = cli("paths", "shadow", "refund", "--url", db_url)
    assert human.code == 0, human.stderr
    assert "jobtrail.errors.Permanent: order 7 was never paid → None" in human.stdout

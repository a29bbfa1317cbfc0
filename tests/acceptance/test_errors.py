"""Errors end the command with one line on stderr and the documented exit code."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import click
import pytest

from jobtrail.cli.main import cli as jobtrail_group
from tests.acceptance.conftest import Cli, Shop, Worked


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under *group*, as the words that name it."""
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += command_paths(command, (*prefix, name))
    return found


def test_help_documents_the_commands_and_exit_codes(cli: Cli) -> None:
    """--help lists every command and what each exit code means."""
    run = cli("--help")
    assert run.code == 0
    for command in ("worker", "enqueue", "jobs", "dlq", "db", "describe", "demo"):
        assert command in run.stdout
    for line in ("0  success", "2  usage error", "3  not found", "4  store unavailable"):
        assert line in run.stdout


def test_every_command_has_help(cli: Cli) -> None:
    """`jobtrail ... --help` of every command and group exits 0 and prints its usage."""
    commands = command_paths(jobtrail_group)
    assert len(commands) > 20 and ("db", "upgrade") in commands
    with ThreadPoolExecutor(max_workers=4) as pool:  # a few at once: 30 interpreters to start
        runs = dict(zip(commands, pool.map(lambda words: cli(*words, "--help"), commands),
                        strict=True))
    broken = {
        " ".join(words): run.stderr or run.stdout[:200]
        for words, run in runs.items()
        if run.code != 0 or run.stderr
        or not run.stdout.startswith(f"Usage: jobtrail {' '.join(words)} ")
    }
    assert not broken


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nowhere:app", "cannot import module 'nowhere'"),
        ("shop:missing", "module 'shop' has no attribute 'missing' (it holds app)"),
        ("shop:not_an_app", "'shop:not_an_app' is not a jobtrail App (found int)"),
        ("shop", "'shop' is not MODULE:APP"),
    ],
)
def test_bad_module_app_is_a_usage_error(cli: Cli, shop: Shop, target: str, message: str) -> None:
    """A MODULE:APP that does not name an App exits 2 with one line saying why."""
    run = cli("worker", target, "--burst")
    assert run.code == 2
    assert message in run.error_line()


def test_module_that_fails_to_import_is_one_line(cli: Cli) -> None:
    """An exception raised while importing the app's module is named with its location."""
    (cli.cwd / "broken.py").write_text("x = 1\nraise RuntimeError('no config')\n")
    run = cli("jobs", "list", "--app", "broken:app")
    assert run.code == 2
    assert run.error_line() == (
        "error: importing module 'broken' failed at broken.py:2: RuntimeError: no config"
    )


def test_unknown_job_name_is_not_found(cli: Cli, shop: Shop) -> None:
    """Enqueueing a job name the app does not know exits 3 and lists the known names."""
    run = cli("enqueue", shop.target, "refund")
    assert run.code == 3
    assert run.error_line() == "error: no job named 'refund' (known: add, decline, greet)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arg", "a=x", "--arg", "b=1"], "argument 'a' expected int, got 'x'"),
        (["--arg", "a=1"], "missing required argument 'b'"),
        (["--arg", "a=1", "--arg", "b=2", "--arg", "c=3"], "unexpected argument 'c'"),
        (["--arg", "a"], "'a' is not KEY=VALUE"),
        (["--json", "[1, 2]"], "must be a JSON object"),
        (["--json", "{"], "not valid JSON"),
        (["--arg", "a=1", "--json", '{"a": 1}'], "argument 'a' is given twice"),
        (["--json", '{"a": 1, "b": 2, "delay": 3}'], "'delay' is an option of enqueue"),
    ],
)
def test_bad_job_arguments_are_a_usage_error(
    cli: Cli, shop: Shop, args: list[str], message: str
) -> None:
    """Arguments that do not fit the job exit 2 with one line, and nothing is stored."""
    assert cli("db", "upgrade", shop.target).code == 0
    run = cli("enqueue", shop.target, "add", *args)
    assert run.code == 2
    assert message in run.error_line()
    assert cli("jobs", "list", "--url", shop.url, "--json").json()["jobs"] == []


def test_unknown_job_id_is_not_found(cli: Cli, worked: Worked, shop: Shop) -> None:
    """jobs show of an id the store does not hold exits 3 with one line."""
    run = cli("jobs", "show", "999", "--url", shop.url)
    assert run.code == 3
    assert run.error_line() == "error: no job with id 999"


def test_missing_database_is_store_unavailable(cli: Cli) -> None:
    """Reading from a SQLite file that does not exist exits 4 and creates nothing."""
    run = cli("jobs", "list", "--url", "sqlite:///typo.db")
    assert run.code == 4
    assert "no SQLite database at 'typo.db'" in run.error_line()
    assert not (cli.cwd / "typo.db").exists()


def test_unsupported_url_is_a_usage_error(cli: Cli) -> None:
    """A URL of an unknown scheme exits 2 with one line."""
    run = cli("dlq", "list", "--url", "mysql://db/jobs")
    assert run.code == 2
    assert "unsupported database URL scheme 'mysql'" in run.error_line()


def test_click_usage_errors_are_one_line(cli: Cli, shop: Shop) -> None:
    """Missing arguments, bad option values and giving both --app and --url exit 2."""
    for args in (
        ["worker"],
        ["jobs", "show", "abc", "--url", shop.url],
        ["jobs", "list", "--status", "lost"],
        ["jobs", "list", "--app", shop.target, "--url", shop.url],
    ):
        run = cli(*args)
        assert run.code == 2, args
        assert run.error_line()


def test_traceback_flag_shows_the_traceback(cli: Cli, worked: Worked, shop: Shop) -> None:
    """--traceback shows the full traceback of a jobtrail error instead of one line."""
    run = cli("--traceback", "jobs", "show", "999", "--url", shop.url)
    assert run.code == 1
    assert "Traceback (most recent call last)" in run.stderr
    assert "JobNotFound: no job with id 999" in run.stderr

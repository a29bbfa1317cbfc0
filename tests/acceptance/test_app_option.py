"""One way to name the app: ``--app MODULE:APP`` and ``$JOBTRAIL_APP`` on every command
that runs the app's code, the positional MODULE:APP kept as shorthand."""

from __future__ import annotations

import pytest

from tests.acceptance.conftest import Cli, Shop

#: Commands that take the app and, maybe, a job name: (words before the app, job or None).
WITH_JOB: list[tuple[str, ...]] = [("describe",), ("flows", "show"), ("flows", "coverage")]
WITHOUT_JOB: list[tuple[str, ...]] = [("flows", "lock"), ("rules", "check"), ("worker",)]


@pytest.mark.parametrize("command", WITH_JOB, ids=" ".join)
def test_the_app_can_be_named_three_ways(cli: Cli, shop: Shop, command: tuple[str, ...]) -> None:
    """Positional MODULE:APP, --app and $JOBTRAIL_APP give the same output, with or
    without a job name after them."""
    positional = cli(*command, shop.target, "add")
    assert positional.code == 0, positional.stderr
    assert cli(*command, "--app", shop.target, "add").stdout == positional.stdout
    assert cli(*command, "add", "--app", shop.target).stdout == positional.stdout
    assert cli(*command, "add", JOBTRAIL_APP=shop.target).stdout == positional.stdout
    every_job = cli(*command, shop.target)
    assert every_job.code == 0, every_job.stderr
    assert cli(*command, JOBTRAIL_APP=shop.target).stdout == every_job.stdout


@pytest.mark.parametrize("command", WITH_JOB + WITHOUT_JOB, ids=" ".join)
def test_usage_shows_the_app_as_optional(cli: Cli, command: tuple[str, ...]) -> None:
    """The usage line shows MODULE:APP in brackets, and --app is listed."""
    shown = cli(*command, "--help")
    usage = shown.stdout.splitlines()[0]
    assert usage.startswith(f"Usage: jobtrail {' '.join(command)} [OPTIONS] [MODULE:APP]")
    assert "--app MODULE:APP" in shown.stdout


@pytest.mark.parametrize("command", WITH_JOB + WITHOUT_JOB, ids=" ".join)
def test_no_app_is_one_clear_line(cli: Cli, command: tuple[str, ...]) -> None:
    """Without MODULE:APP, --app or $JOBTRAIL_APP the command says which three it takes."""
    run = cli(*command)
    assert run.code == 2
    assert run.error_line().startswith("error: which app? Give MODULE:APP (e.g. tasks:app), "
                                       "--app MODULE:APP or $JOBTRAIL_APP")


def test_two_different_apps_are_refused(cli: Cli, shop: Shop) -> None:
    """A positional MODULE:APP and a different --app: exit 2 naming both."""
    run = cli("flows", "show", "other:app", "add", "--app", shop.target)
    assert run.code == 2
    assert "two apps given: other:app and --app shop:app" in run.error_line()


def test_the_option_wins_over_the_environment(cli: Cli, shop: Shop) -> None:
    """--app names the app even when $JOBTRAIL_APP names another."""
    run = cli("describe", "--app", shop.target, "add", "--json", JOBTRAIL_APP="missing:app")
    assert run.code == 0, run.stderr
    assert run.json()["name"] == "add"


def test_an_extra_word_is_refused(cli: Cli, shop: Shop) -> None:
    """A word past the app and the job is a usage error naming it."""
    run = cli("describe", shop.target, "add", "greet")
    assert run.code == 2
    assert "unexpected extra argument 'greet'" in run.error_line()


def test_enqueue_and_run_take_the_app_three_ways(cli: Cli, shop: Shop) -> None:
    """enqueue and run find the app from MODULE:APP, --app or $JOBTRAIL_APP, and their
    usage lines show it optional and the job name required."""
    ids = [
        cli("enqueue", shop.target, "add", "--arg", "a=1", "--arg", "b=2", "--json").json()["id"],
        cli("enqueue", "--app", shop.target, "add", "--arg", "a=1", "--arg", "b=2",
            "--json").json()["id"],
        cli("enqueue", "add", "--arg", "a=1", "--arg", "b=2", "--json",
            JOBTRAIL_APP=shop.target).json()["id"],
    ]
    assert len(set(ids)) == 3
    ran = cli("run", "add", "--arg", "a=2", "--arg", "b=3", "--json", JOBTRAIL_APP=shop.target)
    assert ran.code == 0, ran.stderr
    assert ran.json()["job"]["result"] == 5
    for command in ("enqueue", "run"):
        usage = cli(command, "--help").stdout.splitlines()[0]
        assert usage == f"Usage: jobtrail {command} [OPTIONS] [MODULE:APP] JOB_NAME"
        missing = cli(command, shop.target)
        assert missing.code == 2
        assert "missing argument JOB_NAME" in missing.error_line()


def test_the_old_json_arguments_get_a_hint(cli: Cli, shop: Shop) -> None:
    """`--json '{...}'`, as the arguments were once given, is told to use --args-json."""
    run = cli("enqueue", shop.target, "add", "--json", '{"a": 1, "b": 2}')
    assert run.code == 2
    assert "give the job's arguments as --args-json" in run.error_line()

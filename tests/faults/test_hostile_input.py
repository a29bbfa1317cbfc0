"""Hostile arguments and ids: nesting deep enough to exhaust the stack, numbers too big
for a float or for text, and job ids no store can hold — each a clear error (or simply
not found), the same on every backend, with nothing stored."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypedDict

import pytest

from jobtrail import App, Retry
from jobtrail.errors import ArgumentError, ConfigurationError, JobNotFound
from jobtrail.limits import MAX_DEPTH
from jobtrail.testing import run_until_idle
from tests.acceptance.conftest import Cli, Shop, Worked


def _nested(depth: int) -> list[Any]:
    """A list holding a list ... *depth* levels deep, built without recursion."""
    outer: list[Any] = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


class Node(TypedDict):
    """A tree: a TypedDict that refers to itself."""

    children: list[Node]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deeply_nested_arguments_are_an_argument_error(
    make_app: Callable[..., App], depth: int
) -> None:
    """A list nested past the limit names the job and argument; nothing is stored."""
    app = make_app()

    @app.job
    def walk(tree: Any, label: str = "") -> None: ...

    @app.job
    def typed(tree: list[Any]) -> None: ...

    for job in (walk, typed):
        with pytest.raises(ArgumentError, match=(
            rf"^job '{job.name}': argument 'tree' nests lists and dicts more than "
            rf"{MAX_DEPTH} levels deep \(or contains itself\)"
        )):
            job.enqueue(_nested(depth))
    with pytest.raises(ArgumentError, match="enqueue_many item 1: job 'walk': argument 'tree'"):
        walk.enqueue_many([{"tree": []}, {"tree": _nested(depth)}])
    assert app.jobs() == []


def test_a_value_that_contains_itself_is_refused(make_app: Callable[..., App]) -> None:
    """A list holding itself is refused by the same check, however wide it is."""
    app = make_app()

    @app.job
    def walk(tree: Any) -> None: ...

    loop: list[Any] = []
    loop.extend([loop] * 50)
    with pytest.raises(ArgumentError, match="argument 'tree' nests lists and dicts more than"):
        walk.enqueue(loop)
    assert app.jobs() == []


def test_nesting_at_the_limit_is_stored_and_runs(make_app: Callable[..., App]) -> None:
    """Arguments nested exactly to the limit, through a self-referring TypedDict, run."""
    app = make_app()

    @app.job
    def count(tree: Node) -> int:
        depth, node = 1, tree
        while node["children"]:
            depth, node = depth + 1, node["children"][0]
        return depth

    tree: Node = {"children": []}
    leaf = tree
    for _ in range((MAX_DEPTH - 1) // 2):  # each level is a dict and a list
        leaf["children"].append({"children": []})
        leaf = leaf["children"][0]
    handle = count.enqueue(tree)
    run_until_idle(app)
    assert handle.get().result == (MAX_DEPTH - 1) // 2 + 1


def test_big_ints_work_for_int_arguments_on_every_backend(make_app: Callable[..., App]) -> None:
    """A 401-digit int is stored, given to the job whole and returned whole."""
    app = make_app()

    @app.job
    def double(n: int) -> int:
        return n * 2

    handle = double.enqueue(10**400)
    run_until_idle(app)
    job = handle.get()
    assert job.status == "succeeded"
    assert job.args == {"n": 10**400}
    assert job.result == 2 * 10**400


@pytest.mark.parametrize("hint", ["int", "str", "float"])
def test_an_int_too_long_to_write_out_is_an_argument_error(
    make_app: Callable[..., App], hint: str
) -> None:
    """An int past Python's digit limit names the argument, never a raw ValueError."""
    app = make_app()
    take: Any = app.job(name=f"take_{hint}")(_taking(hint))
    huge = 10 ** (sys.get_int_max_str_digits() + 1)
    with pytest.raises(ArgumentError) as caught:
        take.enqueue(huge)
    message = str(caught.value)
    assert message.startswith(f"job 'take_{hint}': ")
    assert "argument 'n'" in message
    if hint == "int":
        assert "holds an int of more than 4,300 digits, the most Python writes out" in message
    else:
        assert f"expected {hint}, got an int of about 4,302 digits" in message
    assert app.jobs() == []


def _taking(hint: str) -> Callable[..., None]:
    def take(n: Any) -> None: ...

    take.__annotations__ = {"n": {"int": int, "str": str, "float": float}[hint], "return": None}
    return take


def test_float_arguments_take_any_finite_float_and_no_bigger_int(
    make_app: Callable[..., App]
) -> None:
    """The largest floats round-trip; an int no float can hold is refused at enqueue."""
    app = make_app()

    @app.job
    def halve(x: float) -> float:
        return x / 2

    largest = sys.float_info.max
    handle = halve.enqueue(largest)
    tiny = halve.enqueue(-5e-324)
    run_until_idle(app)
    assert handle.get().args == {"x": largest}
    assert handle.get().result == largest / 2
    assert tiny.get().status == "succeeded"
    with pytest.raises(ArgumentError, match=(
        r"job 'halve': argument 'x' expected float, got 1000.* \(expected float, got an int "
        r"beyond the largest float \(about 1.8e308\)\)"
    )):
        halve.enqueue(10**400)
    with pytest.raises(ArgumentError, match=r"argument 'x': Out of range float values"):
        halve.enqueue(float("inf"))
    assert len(app.jobs()) == 2


ABSURD_IDS = [0, -1, 2**63, 10**23, -(2**63) - 1]


@pytest.mark.parametrize("job_id", ABSURD_IDS, ids=["0", "-1", "2**63", "1e23", "-2**63-1"])
def test_ids_no_store_can_hold_are_simply_not_found(
    make_app: Callable[..., App], job_id: int
) -> None:
    """Every operation by id says "no job with id N" for an id outside 1..2**63-1."""
    app = make_app()
    message = rf"^no job with id {job_id}$"
    calls: list[Callable[[], object]] = [
        lambda: app.get(job_id),
        lambda: app.events(job_id),
        lambda: app.replay(job_id),
        lambda: app.discard(job_id),
        lambda: app.cancel(job_id),
        lambda: app.effects(job_id),
        lambda: app.resolve_effect(job_id, "charge", "done", 1),
    ]
    for call in calls:
        with pytest.raises(JobNotFound, match=message):
            call()


def test_listings_take_any_limit_and_bound(make_app: Callable[..., App]) -> None:
    """Limits and id bounds past 64 bits list what there is instead of failing."""
    app = make_app(retry=Retry(max_attempts=1))

    @app.job
    def ping() -> None: ...

    handle = ping.enqueue()
    assert [job.id for job in app.jobs(limit=10**20)] == [handle.id]
    assert [job.id for job in app.jobs(before_id=10**20)] == [handle.id]
    assert app.jobs(before_id=-(10**20)) == []
    assert app.paths.divergences(limit=10**20, job_id=10**20, before_id=10**20) == []
    assert app.paths.shadow_reports("ping", limit=10**20) == []
    with pytest.raises(ConfigurationError, match="limit must be a positive int"):
        app.paths.divergences(limit=0)


@pytest.mark.parametrize(
    "command",
    [["jobs", "show"], ["dlq", "show"], ["dlq", "replay"], ["dlq", "discard"],
     ["paths", "show"]],
    ids=["jobs-show", "dlq-show", "dlq-replay", "dlq-discard", "paths-show"],
)
def test_the_cli_finds_no_job_with_a_huge_id(
    cli: Cli, shop: Shop, worked: Worked, command: list[str]
) -> None:
    """A 23-digit id exits 3 with one line, like any id that is not there."""
    run = cli(*command, "99999999999999999999999", "--app", shop.target)
    assert run.code == 3
    assert run.error_line() == "error: no job with id 99999999999999999999999"


def test_the_cli_lists_with_a_huge_limit(cli: Cli, shop: Shop, worked: Worked) -> None:
    """``--limit`` past 64 bits lists every job instead of printing a traceback."""
    run = cli("jobs", "list", "--app", shop.target, "--limit", "99999999999999999999",
              "--json")
    assert run.code == 0, run.stderr
    assert sorted(job["id"] for job in run.json()["jobs"]) == sorted([worked.added, worked.declined])
    run = cli("paths", "divergences", "--app", shop.target, "--limit", "99999999999999999999")
    assert run.code == 0, run.stderr

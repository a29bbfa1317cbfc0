"""Names that cannot be stored — of jobs, queues, idempotency keys and the queues a worker
takes — are refused where they are given, with one clear error on every backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobtrail import App
from jobtrail.errors import ArgumentError, ConfigurationError, JobDefinitionError
from tests.acceptance.conftest import Cli, Shop

# Options given beside a job's arguments (``job.enqueue(n=1, delay=5)``) work at run time but
# are outside the signature a type checker sees (``job.options(...)`` is their typed form):
# those calls carry ``type: ignore[call-arg]``.

BAD_NAMES = [
    ("a\x00b", r"'a\\x00b' contains a NUL character \(\\x00\), which cannot be stored"),
    ("a\ud800b", r"'a\\ud800b' contains the lone surrogate U\+D800 at index 1, which is not "
     r"valid Unicode text and cannot be stored"),
    ("q" * 10_000, r"'q{198}… is 10,000 characters long, over the limit of 200"),
    ("  \t", r"'  \\t' must not be empty or only whitespace"),
    ("", r"'' must not be empty or only whitespace"),
]
BAD_IDS = ["nul", "surrogate", "10k", "whitespace", "empty"]


@pytest.mark.parametrize(("queue", "problem"), BAD_NAMES, ids=BAD_IDS)
def test_a_queue_that_cannot_be_stored_fails_the_declaration(
    tmp_path: Path, queue: str, problem: str
) -> None:
    """``@app.job(queue=...)`` refuses NUL, surrogates, huge, blank and empty names."""
    app = App(f"sqlite:///{tmp_path / 'never.db'}")
    with pytest.raises(JobDefinitionError, match=rf"^job 'send': queue {problem}$"):

        @app.job(queue=queue)
        def send() -> None: ...

    assert "send" not in app.registry


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES, ids=BAD_IDS)
def test_a_job_name_that_cannot_be_stored_fails_the_declaration(
    tmp_path: Path, name: str, problem: str
) -> None:
    """``@app.job(name=...)`` refuses the same names, ``""`` included (not the function's)."""
    app = App(f"sqlite:///{tmp_path / 'never.db'}")
    with pytest.raises(JobDefinitionError, match=rf"^@app.job: job name {problem}$"):

        @app.job(name=name)
        def send() -> None: ...

    assert app.registry == {}


def test_a_name_that_is_not_a_str_is_refused(tmp_path: Path) -> None:
    """A job name or queue of another type is refused, not hashed or stored as text."""
    app = App(f"sqlite:///{tmp_path / 'never.db'}")
    with pytest.raises(JobDefinitionError, match=r"job name must be a non-empty str, got \['x'\]"):
        app.job(name=["x"])(lambda: None)  # type: ignore[call-overload]
    with pytest.raises(JobDefinitionError, match=r"job 'f': queue must be a non-empty str, got 7"):
        app.job(name="f", queue=7)(lambda: None)  # type: ignore[call-overload]


@pytest.mark.parametrize(("queue", "problem"), BAD_NAMES, ids=BAD_IDS)
def test_the_default_queue_is_checked_when_the_app_is_made(
    tmp_path: Path, queue: str, problem: str
) -> None:
    """``App(default_queue=...)`` refuses a name no job could be stored under."""
    with pytest.raises(ConfigurationError, match=rf"^App\(default_queue=...\): default_queue "
                       rf"{problem}$"):
        App(f"sqlite:///{tmp_path / 'never.db'}", default_queue=queue)


def test_queue_none_means_the_default_and_empty_is_an_error(tmp_path: Path) -> None:
    """``queue=None`` is the app's default queue; ``queue=""`` no longer silently is."""
    app = App(f"sqlite:///{tmp_path / 'never.db'}", default_queue="main")
    assert app.job(queue=None)(lambda: None).queue == "main"
    with pytest.raises(JobDefinitionError, match="queue '' must not be empty"):
        app.job(name="blank", queue="")(lambda: None)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        *BAD_NAMES[:2],
        ("k" * 256, r"'k{198}… is 256 characters long, over the limit of 255; hash long "
         r"identifiers into the key"),
        (" ", r"' ' must not be empty or only whitespace"),
        (7, r"must be a non-empty str, got 7"),
    ],
    ids=["nul", "surrogate", "256", "blank", "int"],
)
def test_idempotency_keys_are_checked_at_enqueue_on_every_backend(
    make_app: Callable[..., App], key: Any, problem: str
) -> None:
    """A key given to enqueue, or returned by the job's key function, is checked alike."""
    app = make_app()

    @app.job
    def charge(invoice: str) -> None: ...

    @app.job(idempotency_key=lambda invoice: invoice)
    def refund(invoice: Any) -> None: ...

    with pytest.raises(ArgumentError, match=rf"^job 'charge': idempotency_key {problem}"):
        charge.enqueue("a", idempotency_key=key)  # type: ignore[call-arg]
    with pytest.raises(ArgumentError, match=rf"^job 'refund': idempotency_key {problem}"):
        refund.enqueue(key)
    assert app.jobs() == []


def test_a_key_at_the_limit_is_stored(make_app: Callable[..., App]) -> None:
    """A 255-character key with non-ASCII text is stored and deduplicates."""
    app = make_app()

    @app.job
    def charge(invoice: str) -> None: ...

    key = "é" * 255
    first = charge.enqueue("a", idempotency_key=key)  # type: ignore[call-arg]
    again = charge.enqueue("a", idempotency_key=key)  # type: ignore[call-arg]
    assert again.id == first.id and again.deduplicated


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        (["mail", "a\x00"], r"queues=...: queue 'a\\x00' contains a NUL character"),
        (["q" * 201], r"queues=...: queue 'q{198}… is 201 characters long"),
        ([""], r"queues=...: queue '' must not be empty"),
        ("mail", r"queues='mail': give a list of queue names, e.g. queues=\[\"mail\"\]"),
    ],
    ids=["nul", "long", "empty", "bare-str"],
)
def test_worker_queues_are_checked_before_it_starts(
    tmp_path: Path, queues: Any, message: str
) -> None:
    """``App.work(queues=...)`` refuses names no job could have, and a bare str."""
    app = App(f"sqlite:///{tmp_path / 'never.db'}")
    with pytest.raises(ConfigurationError, match=message):
        app.work(queues=queues, burst=True)
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(
    ("queues", "problem"),
    [
        ("mail,q" + "q" * 200, "queue '" + "q" * 198 + "… is 201 characters long, over the "
         "limit of 200"),
        ("a\udcff", r"queue 'a\udcff' contains the lone surrogate U+DCFF at index 1"),
    ],
    ids=["long", "undecodable-bytes"],
)
def test_worker_queues_option_is_a_usage_error(
    cli: Cli, shop: Shop, queues: str, problem: str
) -> None:
    """``jobtrail worker --queues`` with a name no job could have exits 2 in one line."""
    run = cli("worker", shop.target, "--burst", "--queues", queues)
    assert run.code == 2
    assert run.error_line().startswith(f"error: Invalid value for --queues: {problem}")

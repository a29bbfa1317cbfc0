"""The exception tree: drawn in `jobtrail.errors`' docstring, documented, with default messages."""

from __future__ import annotations

import inspect
import pickle
import re

import pytest

from jobtrail import errors
from jobtrail.errors import (
    ArgumentError,
    JobTimeout,
    JobtrailError,
    PayloadTooLarge,
    Permanent,
    Transient,
)

CLASSES = sorted(
    (
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    ),
    key=lambda cls: cls.__name__,
)

def drawn_tree() -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Each class named in the docstring's tree: (its parent in the drawing, extra bases)."""
    block = errors.__doc__.split("```")[1] if errors.__doc__ else ""
    parents: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    stack: list[tuple[int, str]] = []
    for line in block.strip("\n").splitlines():
        match = re.match(r"^([\s│├└─]*)(\w+)(?: \(([\w, ]+)\))?", line)
        assert match, f"unreadable tree line: {line!r}"
        depth, name = len(match[1]), match[2]
        extra = tuple(base.strip() for base in match[3].split(",")) if match[3] else ()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = (stack[-1][1] if stack else None, extra)
        stack.append((depth, name))
    return parents


def test_the_docstring_draws_every_class_and_only_those() -> None:
    """The tree names exactly the exception classes the module defines."""
    assert sorted(drawn_tree()) == sorted(cls.__name__ for cls in CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_each_class_sits_where_the_tree_draws_it(cls: type[BaseException]) -> None:
    """A class's drawn parent is its nearest jobtrail base, and drawn extras are its bases."""
    parent, extras = drawn_tree()[cls.__name__]
    nearest = next(
        (base.__name__ for base in cls.__mro__[1:] if base in CLASSES), None
    )
    assert nearest == parent
    for extra in extras:
        assert any(base.__name__ == extra for base in cls.__mro__[1:]), extra


#: Ways out rather than errors: an ``except Exception`` must not catch them.
WAYS_OUT = {"JobExit", "StopNow"}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_is_a_jobtrail_error(cls: type[BaseException]) -> None:
    """``except JobtrailError`` catches every error jobtrail defines; the ways out are no Exception at all."""
    if cls.__name__ in WAYS_OUT:
        assert not issubclass(cls, Exception)
    else:
        assert issubclass(cls, JobtrailError)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_class_has_a_docstring(cls: type[BaseException]) -> None:
    """Each class explains itself in one sentence of its own."""
    assert "__doc__" in vars(cls) and cls.__doc__ and cls.__doc__.strip().endswith(".")


#: Built from what they describe (an expression and a column, an exit's reason).
STRUCTURED = {"ExpectationError", "JobExit", "QueueFull", "WaitTimeout"}


@pytest.mark.parametrize("cls", [c for c in CLASSES if c.__name__ not in STRUCTURED],
                         ids=lambda cls: cls.__name__)
def test_docstring_is_the_default_message(cls: type[BaseException]) -> None:
    """Raised without a message, an error says what its docstring says."""
    assert cls.__doc__
    assert str(cls()) == cls.__doc__.strip()


def test_a_given_message_replaces_the_default() -> None:
    """An explicit message is used as is."""
    assert str(PayloadTooLarge("job 'x': too big")) == "job 'x': too big"


def test_argument_error_is_a_type_error() -> None:
    """Callers catching TypeError for bad arguments also catch `ArgumentError`."""
    assert issubclass(ArgumentError, TypeError)
    with pytest.raises(TypeError):
        raise ArgumentError("bad")


def test_job_timeout_is_transient() -> None:
    """A timed-out attempt is retried like any transient failure."""
    assert issubclass(JobTimeout, Transient)
    assert not issubclass(JobTimeout, Permanent)


def test_payload_too_large_is_a_value_error() -> None:
    """An oversized payload is a bad value, not a bad type."""
    assert issubclass(PayloadTooLarge, ValueError) and not issubclass(PayloadTooLarge, TypeError)


def test_driver_errors_can_be_chained() -> None:
    """A jobtrail error raised from a driver error keeps it on ``__cause__``."""
    cause = OSError("connection refused")
    try:
        try:
            raise cause
        except OSError as exc:
            raise errors.StoreError("the database is unreachable") from exc
    except errors.StoreError as error:
        assert error.__cause__ is cause


def test_wait_timeout_names_the_job_its_status_and_the_timeout_and_pickles() -> None:
    """`WaitTimeout` says which job, where it still is and how long it was waited for, is a
    `TimeoutError`, and crosses a process boundary with its fields."""
    error = errors.WaitTimeout(42, "charge", "running", 2.5)
    assert str(error) == "job 42 (charge) did not finish within the 2.5s timeout: it is still running"
    assert isinstance(error, TimeoutError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.job_id, copy.job_name, copy.status, copy.timeout) == (42, "charge", "running", 2.5)
    assert str(copy) == str(error)

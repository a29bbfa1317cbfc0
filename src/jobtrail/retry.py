"""Retry policies: how many attempts, how long to wait, which errors deserve another try.

A `Retry` is a frozen value. The worker asks it two questions after a failed
attempt: `should_retry(error, attempt)` and `delay(attempt, previous)`.

Classification, first match wins:

1. `Permanent` or a class in ``give_up_on`` → give up now (dead-letter).
2. `Transient` (including `JobTimeout`) or a class in ``retry_on`` → retry.
3. Anything else → ``unknown``: retried when ``retry_unknown`` is true (the default).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from jobtrail.errors import ConfigurationError, Permanent, Transient
from jobtrail.limits import HORIZON, HORIZON_TEXT, MAX_ATTEMPTS
from jobtrail.text import shown

Jitter = Literal["none", "full", "equal", "decorrelated"]
JITTERS: tuple[str, ...] = ("none", "full", "equal", "decorrelated")


class ErrorClass(enum.StrEnum):
    """How a failure is treated."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Retry:
    """A declarative retry policy.

    ``max_attempts`` counts every attempt, the first included: ``Retry(max_attempts=1)``
    never retries. The delay before attempt *n + 1* is ``base * 2 ** (n - 1)``, capped at
    ``cap`` seconds, then spread by ``jitter``:

    - ``none``: exactly that delay;
    - ``full``: uniformly between 0 and the delay;
    - ``equal``: half the delay plus up to another half;
    - ``decorrelated``: between ``base`` and three times the previous delay, capped.
    """

    max_attempts: int = 3
    base: float = 1.0
    cap: float = 300.0
    jitter: Jitter = "full"
    retry_on: tuple[type[BaseException], ...] = field(default=())
    give_up_on: tuple[type[BaseException], ...] = field(default=())
    retry_unknown: bool = True

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise ConfigurationError(
                f"Retry(max_attempts={shown(self.max_attempts)}): must be an integer of at least 1"
            )
        if self.max_attempts > MAX_ATTEMPTS:
            raise ConfigurationError(
                f"Retry(max_attempts={shown(self.max_attempts)}): must be at most "
                f"{MAX_ATTEMPTS:,} (attempts are counted in a 32-bit integer)"
            )
        for name in ("base", "cap"):
            seconds = getattr(self, name)
            number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
            # ``not seconds >= 0`` also catches NaN, which compares false with everything.
            if not number or not seconds >= 0:
                raise ConfigurationError(
                    f"Retry({name}={shown(seconds)}): delays must be numbers of seconds, "
                    "and cannot be negative"
                )
            # A retry delay becomes the job's next run time, which every backend must
            # store and read back: bounded like enqueue's delay (infinity included).
            if seconds > HORIZON:
                raise ConfigurationError(
                    f"Retry({name}={shown(seconds)}): delays are at most {HORIZON_TEXT}"
                )
        if self.jitter not in JITTERS:
            raise ConfigurationError(
                f"Retry(jitter={self.jitter!r}): expected one of {', '.join(JITTERS)}"
            )
        for name in ("retry_on", "give_up_on"):
            given = getattr(self, name)
            classes = _exception_classes(name, given)
            object.__setattr__(self, name, classes)

    def classify(self, error: BaseException) -> ErrorClass:
        """Say whether *error* is transient, permanent or unknown under this policy."""
        if isinstance(error, (Permanent, *self.give_up_on)):
            return ErrorClass.PERMANENT
        if isinstance(error, (Transient, *self.retry_on)):
            return ErrorClass.TRANSIENT
        return ErrorClass.UNKNOWN

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """True when attempt number *attempt* failed with *error* and another is due."""
        if attempt >= self.max_attempts:
            return False
        kind = self.classify(error)
        if kind is ErrorClass.UNKNOWN:
            return self.retry_unknown
        return kind is ErrorClass.TRANSIENT

    def delay(self, attempt: int, previous: float | None = None) -> float:
        """Seconds to wait after attempt number *attempt* (1-based) failed."""
        try:
            exponential = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        except OverflowError:  # 2.0 ** 1024 and beyond: far past any cap
            exponential = self.cap if self.base > 0 else 0.0
        if self.jitter == "none":
            return float(exponential)
        if self.jitter == "full":
            return float(random.uniform(0, exponential))
        if self.jitter == "equal":
            return float(exponential / 2 + random.uniform(0, exponential / 2))
        last = previous if previous is not None and previous > 0 else self.base
        return float(min(self.cap, random.uniform(self.base, max(self.base, last * 3))))


def _exception_classes(name: str, given: object) -> tuple[type[BaseException], ...]:
    """Normalise ``retry_on`` / ``give_up_on`` to a tuple of exception classes."""
    if isinstance(given, type):
        given = (given,)
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise ConfigurationError(
            f"Retry({name}={given!r}): expected an exception class or a tuple of them"
        )
    classes: list[type[BaseException]] = []
    for cls in given:
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise ConfigurationError(f"Retry({name}=...): {cls!r} is not an exception class")
        classes.append(cls)
    return tuple(classes)

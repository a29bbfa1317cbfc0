"""`Retry`: validation, error classification, the retry decision and the backoff delays."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.errors import ConfigurationError, JobTimeout, Permanent, Transient
from jobtrail.retry import ErrorClass, Retry

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
attempts = st.integers(min_value=1, max_value=200)


class Flaky(Exception):
    """An application error the tests put in ``retry_on``."""


class Broken(Exception):
    """An application error the tests put in ``give_up_on``."""


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("max_attempts", [0, -1])
def test_max_attempts_below_one_is_rejected(max_attempts: int) -> None:
    """A policy must allow at least the first attempt."""
    with pytest.raises(ConfigurationError, match=rf"max_attempts={max_attempts}\): must be an "
                       "integer of at least 1"):
        Retry(max_attempts=max_attempts)


@pytest.mark.parametrize("max_attempts", [2.0, "3", True, None])
def test_max_attempts_must_be_a_real_int(max_attempts: object) -> None:
    """Floats, strings, None and bools are not attempt counts."""
    with pytest.raises(ConfigurationError, match="must be an integer of at least 1"):
        Retry(max_attempts=max_attempts)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["base", "cap"])
def test_negative_delays_are_rejected(field: str) -> None:
    """Neither the base delay nor the cap may be negative, and the message names the field."""
    with pytest.raises(ConfigurationError, match=rf"Retry\({field}=-1\.0\).*cannot be negative"):
        Retry(**{field: -1.0})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), "1", None, True])
def test_delays_must_be_numbers(value: object) -> None:
    """NaN, strings, None and bools are not a number of seconds."""
    with pytest.raises(ConfigurationError, match="delays must be numbers of seconds"):
        Retry(base=value)  # type: ignore[arg-type]


def test_zero_delays_are_allowed() -> None:
    """``base=0`` (retry at once) is a valid policy, useful in tests."""
    assert Retry(base=0, cap=0, jitter="none").delay(5) == 0


def test_unknown_jitter_is_rejected_listing_the_known_ones() -> None:
    """A misspelt jitter names every accepted value."""
    with pytest.raises(
        ConfigurationError,
        match=r"Retry\(jitter='fulll'\): expected one of none, full, equal, decorrelated",
    ):
        Retry(jitter="fulll")  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["retry_on", "give_up_on"])
@pytest.mark.parametrize("bad", [(int,), (ValueError, "KeyError"), (ValueError(),)])
def test_non_exception_classes_are_rejected(field: str, bad: tuple[object, ...]) -> None:
    """Only exception classes can classify errors; the message names the offender."""
    with pytest.raises(ConfigurationError, match=rf"Retry\({field}=\.\.\.\): .* is not an "
                       "exception class"):
        Retry(**{field: bad})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["ValueError", ValueError(), 3])
def test_retry_on_that_is_not_a_class_or_collection_is_rejected(bad: object) -> None:
    """A string, an exception instance or a number is neither a class nor a tuple of them."""
    with pytest.raises(ConfigurationError, match="expected an exception class or a tuple"):
        Retry(retry_on=bad)  # type: ignore[arg-type]


def test_a_single_class_is_accepted_in_place_of_a_tuple() -> None:
    """``retry_on=Flaky`` means ``retry_on=(Flaky,)``."""
    policy = Retry(retry_on=Flaky, give_up_on=Broken)  # type: ignore[arg-type]
    assert policy.retry_on == (Flaky,) and policy.give_up_on == (Broken,)
    assert policy.classify(Flaky()) is ErrorClass.TRANSIENT


def test_a_list_of_classes_is_stored_as_a_tuple_and_works() -> None:
    """A list in ``retry_on`` is normalised, so classification and hashing keep working."""
    policy = Retry(retry_on=[Flaky], give_up_on=[Broken])  # type: ignore[arg-type]
    assert policy.retry_on == (Flaky,) and policy.give_up_on == (Broken,)
    assert policy.classify(Flaky()) is ErrorClass.TRANSIENT
    assert policy.classify(Broken()) is ErrorClass.PERMANENT
    assert hash(policy) == hash(Retry(retry_on=(Flaky,), give_up_on=(Broken,)))


def test_policies_are_frozen_values() -> None:
    """A policy cannot be changed after it is made, and equal policies compare equal."""
    policy = Retry()
    with pytest.raises(AttributeError):
        policy.max_attempts = 9  # type: ignore[misc]
    assert Retry(max_attempts=5) == Retry(max_attempts=5)


# -- classification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Permanent("no"), ErrorClass.PERMANENT),
        (Broken(), ErrorClass.PERMANENT),
        (Transient("later"), ErrorClass.TRANSIENT),
        (JobTimeout(), ErrorClass.TRANSIENT),
        (Flaky(), ErrorClass.TRANSIENT),
        (ValueError("?"), ErrorClass.UNKNOWN),
        (KeyboardInterrupt(), ErrorClass.UNKNOWN),
    ],
)
def test_classification(error: BaseException, expected: ErrorClass) -> None:
    """Permanent/give_up_on are permanent, Transient/JobTimeout/retry_on transient, else unknown."""
    policy = Retry(retry_on=(Flaky,), give_up_on=(Broken,))
    assert policy.classify(error) is expected


def test_subclasses_are_classified_like_their_base() -> None:
    """``retry_on=(OSError,)`` covers ConnectionError too."""
    assert Retry(retry_on=(OSError,)).classify(ConnectionError()) is ErrorClass.TRANSIENT


def test_give_up_on_beats_retry_on() -> None:
    """An error matching both lists is permanent: giving up is checked first."""
    policy = Retry(retry_on=(LookupError,), give_up_on=(KeyError,))
    assert policy.classify(KeyError("k")) is ErrorClass.PERMANENT
    assert policy.classify(IndexError()) is ErrorClass.TRANSIENT


def test_permanent_beats_retry_on_and_give_up_on_beats_transient() -> None:
    """The permanent rule wins over the transient one whichever way each is declared."""
    assert Retry(retry_on=(Permanent,)).classify(Permanent()) is ErrorClass.PERMANENT
    assert Retry(give_up_on=(JobTimeout,)).classify(JobTimeout()) is ErrorClass.PERMANENT


# -- should_retry ----------------------------------------------------------------------------


def test_should_retry_until_max_attempts_is_reached() -> None:
    """With max_attempts=3, attempts 1 and 2 are retried and attempt 3 is the last."""
    policy = Retry(max_attempts=3)
    assert [policy.should_retry(Transient(), n) for n in (1, 2, 3, 4)] == [
        True, True, False, False,
    ]


def test_max_attempts_of_one_never_retries() -> None:
    """``Retry(max_attempts=1)`` gives up after the first failure, even a transient one."""
    assert Retry(max_attempts=1).should_retry(Transient(), 1) is False


def test_permanent_errors_are_never_retried() -> None:
    """A permanent error stops retries even with attempts to spare."""
    policy = Retry(max_attempts=10, give_up_on=(Broken,))
    assert policy.should_retry(Permanent(), 1) is False
    assert policy.should_retry(Broken(), 1) is False


@pytest.mark.parametrize("retry_unknown", [True, False])
def test_unknown_errors_follow_retry_unknown(retry_unknown: bool) -> None:
    """An unclassified error is retried exactly when ``retry_unknown`` is true."""
    policy = Retry(max_attempts=5, retry_unknown=retry_unknown)
    assert policy.should_retry(ValueError(), 1) is retry_unknown
    assert policy.should_retry(Transient(), 1) is True


def test_unknown_errors_are_retried_by_default() -> None:
    """The default policy retries errors it knows nothing about."""
    assert Retry().should_retry(RuntimeError(), 1) is True


@given(max_attempts=st.integers(1, 50), attempt=st.integers(1, 60))
def test_should_retry_never_exceeds_max_attempts(max_attempts: int, attempt: int) -> None:
    """Whatever the error, no retry is due once *attempt* reaches max_attempts."""
    policy = Retry(max_attempts=max_attempts)
    assert policy.should_retry(Transient(), attempt) is (attempt < max_attempts)


# -- delays ------------------------------------------------------------------------------------


def test_no_jitter_doubles_from_base_up_to_the_cap() -> None:
    """Without jitter the delays are base, 2·base, 4·base… until the cap."""
    policy = Retry(base=1.5, cap=10, jitter="none")
    assert [policy.delay(n) for n in range(1, 6)] == [1.5, 3.0, 6.0, 10, 10]


def test_attempt_zero_or_below_is_treated_as_the_first() -> None:
    """A non-positive attempt number never shrinks the delay below base."""
    assert Retry(base=2, jitter="none").delay(0) == 2


def test_huge_attempt_numbers_are_capped_not_overflowing() -> None:
    """A policy retrying for a very long time still returns the cap, not an OverflowError."""
    assert Retry(max_attempts=10_000, base=1, cap=60, jitter="none").delay(5_000) == 60
    assert Retry(max_attempts=10_000, base=0, cap=60, jitter="none").delay(5_000) == 0
    assert 0 <= Retry(base=1, cap=60, jitter="full").delay(5_000) <= 60


@given(base=seconds, cap=seconds, attempt=attempts)
def test_no_jitter_is_exactly_the_capped_exponential(
    base: float, cap: float, attempt: int
) -> None:
    """``none`` returns exactly min(cap, base · 2^(attempt-1))."""
    expected = min(cap, base * 2.0 ** (attempt - 1))
    assert Retry(base=base, cap=cap, jitter="none").delay(attempt) == expected


@given(base=seconds, cap=seconds, attempt=attempts)
def test_full_jitter_lies_between_zero_and_the_delay(
    base: float, cap: float, attempt: int
) -> None:
    """``full`` is uniform in [0, d] where d is the capped exponential delay."""
    ceiling = Retry(base=base, cap=cap, jitter="none").delay(attempt)
    assert 0 <= Retry(base=base, cap=cap, jitter="full").delay(attempt) <= ceiling


@given(base=seconds, cap=seconds, attempt=attempts)
def test_equal_jitter_lies_between_half_the_delay_and_the_delay(
    base: float, cap: float, attempt: int
) -> None:
    """``equal`` keeps at least half the capped exponential delay: [d/2, d]."""
    ceiling = Retry(base=base, cap=cap, jitter="none").delay(attempt)
    value = Retry(base=base, cap=cap, jitter="equal").delay(attempt)
    assert ceiling / 2 <= value <= ceiling


@given(
    base=st.floats(0, 100, allow_nan=False),
    extra=st.floats(0, 1e4, allow_nan=False),
    previous=st.floats(1e-3, 1e4, allow_nan=False),
    attempt=attempts,
)
def test_decorrelated_jitter_lies_between_base_and_three_times_previous_capped(
    base: float, extra: float, previous: float, attempt: int
) -> None:
    """``decorrelated`` is in [base, min(cap, 3·previous)], and never below base when
    the previous delay was short (or the first, when there is none)."""
    cap = base + extra
    policy = Retry(base=base, cap=cap, jitter="decorrelated")
    value = policy.delay(attempt, previous)
    # random.uniform(a, b) may land one rounding step past b; the cap is exact.
    assert base <= value <= min(cap, max(base, 3 * previous) * (1 + 1e-12))
    first = policy.delay(attempt, None)
    assert base <= first <= min(cap, 3 * base * (1 + 1e-12))


def test_decorrelated_jitter_grows_from_the_previous_delay() -> None:
    """With a long previous delay, decorrelated delays can exceed what base alone allows."""
    policy = Retry(base=1, cap=1_000, jitter="decorrelated")
    values = [policy.delay(2, previous=100) for _ in range(200)]
    assert all(1 <= v <= 300 for v in values)
    assert max(values) > 3  # from base alone it could never pass 3


def test_decorrelated_jitter_never_exceeds_a_cap_below_base() -> None:
    """A cap smaller than base wins: the delay is the cap."""
    assert Retry(base=10, cap=5, jitter="decorrelated").delay(1, 100) == 5


@pytest.mark.parametrize("jitter", ["none", "full", "equal", "decorrelated"])
def test_every_jitter_returns_a_float(jitter: str) -> None:
    """Delays are floats whatever the jitter, even with int settings and at the cap."""
    policy = Retry(base=1, cap=10, jitter=jitter)  # type: ignore[arg-type]
    assert isinstance(policy.delay(2, 1), float) and isinstance(policy.delay(9, 100), float)

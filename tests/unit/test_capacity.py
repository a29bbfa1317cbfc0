"""The M/M/c (Erlang C) model of `jobtrail.capacity`, checked against textbook values and
against independent formulas (exact fractions, log-space sums)."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobtrail.capacity import (
    Forecast,
    QueueLoad,
    erlang_b,
    erlang_c,
    mean_wait,
    percentile_wait,
    slots_needed,
    slots_serving,
    utilisation,
    wait_beyond,
)


def exact_erlang_c(servers: int, load: Fraction) -> Fraction:
    """Erlang C from its textbook definition, with factorials, in exact arithmetic."""
    rho = load / servers
    last = load ** servers / math.factorial(servers) / (1 - rho)
    below = sum((load ** k / math.factorial(k) for k in range(servers)), Fraction(0))
    return last / (below + last)


def log_space_erlang_c(servers: int, load: float) -> float:
    """Erlang C from its definition, its terms summed as logarithms (no overflow)."""
    terms = [k * math.log(load) - math.lgamma(k + 1) for k in range(servers)]
    last = servers * math.log(load) - math.lgamma(servers + 1) - math.log(1 - load / servers)
    top = max([*terms, last])
    below = sum(math.exp(term - top) for term in terms)
    return math.exp(last - top) / (below + math.exp(last - top))


def test_textbook_three_servers_at_two_thirds() -> None:
    """λ = 2/s, μ = 1/s, c = 3: a job waits with probability 4/9 and 4/9 s on average."""
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, rel=1e-12)
    assert mean_wait(3, 2.0, 1.0) == pytest.approx(4 / 9, rel=1e-12)
    assert utilisation(3, 2.0, 1.0) == pytest.approx(2 / 3)
    assert wait_beyond(3, 2.0, 1.0, 1.0) == pytest.approx(4 / 9 * math.exp(-1), rel=1e-12)


def test_single_server_matches_mm1() -> None:
    """With one server, Erlang C is rho and the mean wait is rho/(μ - λ) (M/M/1)."""
    assert erlang_b(1, 0.8) == pytest.approx(0.8 / 1.8)
    assert erlang_c(1, 0.8) == pytest.approx(0.8)
    assert mean_wait(1, 4.0, 0.2) == pytest.approx(0.8 / (5.0 - 4.0))


@pytest.mark.parametrize("servers", [1, 2, 5, 12, 30])
@pytest.mark.parametrize("share", [Fraction(1, 10), Fraction(1, 2), Fraction(9, 10),
                                   Fraction(99, 100)])
def test_erlang_c_matches_the_exact_factorial_formula(servers: int, share: Fraction) -> None:
    """The recursion agrees with the factorial definition, computed exactly, to 1e-12."""
    load = share * servers
    assert erlang_c(servers, float(load)) == pytest.approx(
        float(exact_erlang_c(servers, load)), rel=1e-12)


@pytest.mark.parametrize(("servers", "load"), [(500, 450.0), (2000, 1990.0), (5000, 4999.5)])
def test_thousands_of_servers_near_saturation_stay_finite_and_exact(servers: int,
                                                                   load: float) -> None:
    """For thousands of servers at a utilisation next to 1 nothing overflows, and the
    result matches the definition summed in log space."""
    found = erlang_c(servers, load)
    assert 0 < found < 1
    assert found == pytest.approx(log_space_erlang_c(servers, load), rel=1e-9)
    wait = mean_wait(servers, load, 1.0)
    assert wait is not None and math.isfinite(wait)


def test_unstable_queues_have_no_wait() -> None:
    """At rho ≥ 1 (or with no server) the wait is unbounded: no number is given."""
    assert mean_wait(2, 2.0, 1.0) is None
    assert percentile_wait(2, 3.0, 1.0, 95) is None
    assert percentile_wait(0, 1.0, 1.0, 95) is None
    assert erlang_c(2, 2.0) == 1.0
    assert utilisation(0, 1.0, 1.0) == math.inf


def test_no_traffic_never_waits() -> None:
    """Without arrivals the wait is 0 whatever the servers, and one slot is enough."""
    assert mean_wait(0, 0.0, 1.0) == 0.0
    assert percentile_wait(3, 0.0, 1.0, 99) == 0.0
    assert slots_needed(0.0, 1.0, 0.5, 95) == 1


def test_percentile_wait_is_where_the_tail_falls_to_the_share_left() -> None:
    """P(W > the p-th percentile wait) is 1 - p, and below C the percentile wait is 0."""
    wait = percentile_wait(3, 2.0, 1.0, 95)
    assert wait is not None and wait > 0
    assert wait_beyond(3, 2.0, 1.0, wait) == pytest.approx(0.05, rel=1e-12)
    assert percentile_wait(3, 2.0, 1.0, 50) == 0.0  # C = 4/9: over half never wait


def test_slots_needed_is_the_fewest_that_meet_the_target() -> None:
    """The slots found meet the target; one fewer does not (or is unstable)."""
    needed = slots_needed(40.0, 0.5, 0.1, 99)
    assert needed is not None
    met = percentile_wait(needed, 40.0, 0.5, 99)
    assert met is not None and met <= 0.1
    fewer = percentile_wait(needed - 1, 40.0, 0.5, 99)
    assert fewer is None or fewer > 0.1
    assert needed > 20  # the load alone is 20 slots


def test_slots_needed_with_thousands_of_servers() -> None:
    """A load of 3,000 slots is sized in one walk of the recursion, just above the load."""
    needed = slots_needed(30_000.0, 0.1, 0.01, 95)
    assert needed is not None and 3_000 < needed < 3_200


@settings(max_examples=200, deadline=None)
@given(load=st.floats(0.01, 400.0), service=st.floats(0.001, 60.0),
       percentile=st.floats(1.0, 99.9), extra=st.integers(0, 50))
def test_more_servers_never_increase_the_wait(load: float, service: float, percentile: float,
                                              extra: int) -> None:
    """Adding a server never raises the probability of waiting, the mean wait nor the
    percentile wait."""
    servers = math.floor(load) + 1 + extra
    rate = load / service
    assert erlang_c(servers + 1, load) <= erlang_c(servers, load) * (1 + 1e-12)
    now, more = mean_wait(servers, rate, service), mean_wait(servers + 1, rate, service)
    assert now is not None and more is not None and more <= now * (1 + 1e-9) + 1e-15
    tail = percentile_wait(servers, rate, service, percentile)
    tail_more = percentile_wait(servers + 1, rate, service, percentile)
    assert tail is not None and tail_more is not None
    assert tail_more <= tail * (1 + 1e-9) + 1e-15


def test_queue_load_reads_rates_service_time_and_its_variation() -> None:
    """From a store row: λ = arrivals/window, S = mean duration, CV = sample stdev / mean."""
    durations = [0.1, 0.2, 0.3, 0.6]
    row = ("work", 120, 100, 90, 45.0, len(durations), sum(durations),
           sum(d * d for d in durations))
    load = QueueLoad.from_row(row, 60.0)
    assert load.arrival_rate == 2.0
    assert load.service_time == pytest.approx(0.3)
    assert load.service_cv == pytest.approx(statistics.stdev(durations) / 0.3)
    assert load.observed_wait == 0.5
    empty = QueueLoad.from_row(("idle", 3, 0, 0, None, 0, None, None), 60.0)
    assert empty.service_time is None and empty.service_cv is None
    assert empty.observed_wait is None


def test_slots_serving_counts_workers_of_the_queue_up_to_its_limit() -> None:
    """A worker of every queue (None) or of this one counts; a queue's limit caps them."""
    workers = [(None, 4), (("mail",), 2), (("work", "mail"), 8)]
    assert slots_serving("work", workers) == 12
    assert slots_serving("mail", workers) == 14
    assert slots_serving("other", workers) == 4
    assert slots_serving("mail", workers, limit=5) == 5


def test_forecast_projects_doubled_traffic_onto_todays_slots() -> None:
    """At 2 slots and rho = 0.6, doubled traffic is unstable today and needs more slots."""
    load = QueueLoad.from_row(("work", 720, 720, 720, 0.0, 720, 720 * 0.5, 720 * 0.25), 300.0)
    forecast = Forecast(load, slots=2, target=1.0, percentile=95)
    assert forecast.utilisation() == pytest.approx(0.6)
    assert forecast.wait() == percentile_wait(2, 2.4, 0.5, 95)
    assert forecast.wait(2.0) is None
    doubled = forecast.needed(2.0)
    assert doubled is not None and doubled >= 3
    shape = forecast.to_json()
    assert shape["doubled"]["stable"] is False and shape["doubled"]["wait"] is None
    assert shape["now"]["stable"] is True and shape["now"]["slots_needed"] == forecast.needed()

"""Redaction, step timings and rule declarations: the pure parts of execution paths."""

from __future__ import annotations

import json

import pytest

from jobtrail.errors import ConfigurationError
from jobtrail.paths.rules import Rule, enqueued, event, succeeded
from jobtrail.paths.timings import StepTimings
from jobtrail.records import ErrorInfo
from jobtrail.redaction import MASK, Redactor
from jobtrail.store.base import PathEvent


def test_a_redactor_masks_declared_values_wherever_they_appear() -> None:
    """Values under a declared field (at any depth) are masked in names, attrs, results and errors."""
    redactor = Redactor(["email", "card"], {"user": {"email": "ada@x.io"}, "card": 4242424242, "n": 1})
    entries = [
        PathEvent("event", "mail ada@x.io", 1.0, None, {"to": "ada@x.io", "email": "other", "n": 1}),
        PathEvent("step", "load", 1.0, 0.1, None, json.dumps({"card": 4242424242, "ok": True})),
        PathEvent("step", "count", 1.0, 0.1, None, "1"),
        PathEvent("decide", "email", 1.0, None, None, '"ada@x.io"'),
    ]
    masked = redactor.entries(entries)
    assert masked[0].name == f"mail {MASK}"
    assert masked[0].attrs == {"to": MASK, "email": MASK, "n": 1}
    assert masked[1].result is None  # a masked checkpoint is dropped: the step runs again
    assert masked[2].result == "1"  # "1" is not a secret: too short to mask anywhere
    assert masked[3].result == json.dumps(MASK)
    error = redactor.error(ErrorInfo("ValueError", "bad card 4242424242", "at ada@x.io"))
    assert "4242424242" not in error.message and "ada@x.io" not in error.traceback


def test_a_redactor_without_declared_values_changes_nothing() -> None:
    """Declared fields missing from the payload mask only keys of that name."""
    redactor = Redactor(["ssn"], {"user": 3})
    entry = PathEvent("event", "e", 1.0, None, {"user": 3, "ssn": "x"})
    assert redactor.entries([entry]) == [entry._replace(attrs={"user": 3, "ssn": MASK})]


def test_step_timings_flag_only_a_step_far_beyond_its_history() -> None:
    """Until enough history, nothing is slow; then only durations past factor x p99 and the floor."""
    timings = StepTimings(factor=3.0, min_samples=100, floor=0.01)
    assert timings.observe("job", "fresh", 10.0) is None  # no history yet
    for _ in range(150):
        timings.observe("job", "load", 0.02)
    assert timings.observe("job", "load", 0.05) is None
    assert timings.observe("job", "load", 0.07) == pytest.approx(0.02)
    for _ in range(150):
        timings.observe("job", "tiny", 0.0001)
    assert timings.observe("job", "tiny", 0.005) is None  # 50x, but below the floor: noise


def test_rules_refuse_combinations_that_cannot_be_checked() -> None:
    """A rule must pair a trigger with an answer it can be linked to, within a positive time."""
    Rule("ok", succeeded("order"), enqueued("ship"), 60)
    Rule("ok", event("started", key="user"), event("done", key="user"), 60)
    with pytest.raises(ConfigurationError, match="not a trigger"):
        Rule("bad", enqueued("ship"), succeeded("order"), 60)
    with pytest.raises(ConfigurationError, match="needs when=succeeded"):
        Rule("bad", event("started"), enqueued("ship"), 60)
    with pytest.raises(ConfigurationError, match="answers when=event"):
        Rule("bad", succeeded("order"), event("done"), 60)
    with pytest.raises(ConfigurationError, match="positive"):
        Rule("bad", succeeded("order"), enqueued("ship"), 0)
    with pytest.raises(ConfigurationError, match="job or a job name"):
        succeeded(42)
    assert str(Rule("r", succeeded("order"), enqueued("ship"), 3600)) == (
        "every order succeeded is followed by ship enqueued within 1 h")


def test_the_log_sink_writes_each_alert_and_a_failing_sink_is_contained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """log_sink warns on jobtrail.divergences; a sink that raises is logged and the next still runs."""
    from jobtrail.paths.alerts import log_sink, send
    from jobtrail.records import Divergence, DivergenceKind

    alert = Divergence(DivergenceKind.MISSING, "missing step save at the end", 3, None, ("save",),
                       job_id=7, job_name="bill", attempt=1)
    seen: list[Divergence] = []

    def broken(_: Divergence) -> None:
        raise RuntimeError("pager down")

    with caplog.at_level("WARNING", logger="jobtrail.divergences"):
        send([broken, log_sink, seen.append], [alert])
    assert seen == [alert]
    messages = [r.getMessage() for r in caplog.records]
    assert any("bill#7 missing: missing step save" in m for m in messages)
    assert any("alert sink" in m and "failed" in m for m in messages)

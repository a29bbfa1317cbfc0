"""How a recorded path is written and read back, as properties over generated paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from jobtrail.records import utc_from_epoch
from jobtrail.step_values import to_json
from jobtrail.store import segments
from jobtrail.store.base import PathEvent, StepRecord

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
names = st.text(min_size=1, max_size=12)
entries = st.builds(
    PathEvent,
    kind=st.sampled_from(["step", "effect", "event", "custom \"kind\""]),
    name=names,
    at=st.floats(1.7e9, 1.8e9),
    duration=st.none() | st.floats(0, 1e4),
    attrs=st.none() | st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    result=st.none() | json_values.map(to_json),
)


@given(json_values)
def test_to_json_writes_what_json_dumps_writes(value: object) -> None:
    """A step result is written as the compact text json.dumps gives."""
    assert to_json(value) == json.dumps(value, separators=(",", ":"), allow_nan=False)


@given(st.lists(entries, min_size=1, max_size=8))
def test_a_segment_reads_back_as_the_entries_written(path: list[PathEvent]) -> None:
    """Kinds, names and attributes come back exactly, with the claim of their row; times and
    durations to the microsecond."""
    row = segments.segment_row(7, 2, path, 99)
    assert row[:4] == (7, 2, "path", "segment") and row[-1] == 99
    events = segments.expand([row], utc_from_epoch)
    assert [(e.job_id, e.attempt, e.kind, e.name, e.attrs, e.claim) for e in events] == [
        (7, 2, p.kind, p.name, p.attrs or {}, 99) for p in path
    ]
    for event, entry in zip(events, path, strict=True):
        assert abs(event.at - datetime.fromtimestamp(entry.at, UTC)).total_seconds() < 2e-6
        if entry.duration is None:
            assert event.duration is None
        else:
            assert event.duration is not None and abs(event.duration - entry.duration) < 1e-6


@given(st.lists(entries, min_size=1, max_size=8), st.lists(entries, min_size=1, max_size=8))
def test_steps_read_back_are_the_latest_completed_result_of_each_occurrence(
    first: list[PathEvent], second: list[PathEvent]
) -> None:
    """Whatever two claims recorded, each step occurrence reads back as the later claim's
    result when it completed one, else the earlier claim's."""
    rows = [(1, 10, 1, segments.segment_json(first)), (1, 20, 2, segments.segment_json(second))]
    expected: dict[str, dict[int, str]] = {}
    for claimed in (first, second):
        seen: dict[str, int] = {}
        for e in claimed:
            if e.kind != "step":
                continue
            n = seen[e.name] = seen.get(e.name, -1) + 1
            if e.result is not None:
                expected.setdefault(e.name, {})[n] = json.dumps(
                    json.loads(e.result), separators=(",", ":"))
    found = segments.completed_steps(rows).get(1, {})
    assert {name: {n: record.result for n, record in enumerate(records) if record}
            for name, records in found.items()} == expected
    assert all(records[-1] is not None for records in found.values())


def test_a_damaged_segment_holds_no_steps_and_reads_as_unreadable() -> None:
    """A segment that is not one gives no steps and shows as an unreadable entry."""
    texts = ["{not json", "[1, 2]", None]
    assert segments.completed_steps([(1, None, n, text) for n, text in enumerate(texts)]) == {}
    for damaged in ("[[1]]", '[["step", "a", "not a number", null, null]]', "{}"):
        row = (1, 1, "path", "segment", 1.8e9, None, None, damaged, None)
        (event,) = segments.expand([row], utc_from_epoch)
        assert (event.kind, event.name, event.attrs) == ("path", "unreadable", {"unreadable": damaged})


def test_an_outcome_row_reads_as_its_path_then_its_transition() -> None:
    """The path an attempt recorded rides on its outcome's row and reads back before it,
    after the attempt's start, which the row's duration gives."""
    path = [PathEvent("step", "load", 1.8e9, 0.5, None, "1"), PathEvent("decide", "paid", 1.8e9 + 1, None, None, '"true"')]
    row = (3, 1, "lifecycle", "succeeded", 1.8e9 + 2, 2.0, '{"outcome": "exit:done"}', segments.path_text(path), 5)
    events = segments.expand([row], utc_from_epoch)
    assert [(e.kind, e.name, e.attrs) for e in events] == [
        ("lifecycle", "started", {}), ("step", "load", {}), ("decide", "paid", {"value": "true"}),
        ("lifecycle", "succeeded", {"outcome": "exit:done"}),
    ]
    assert events[0].at == utc_from_epoch(1.8e9)  # the outcome's time less the attempt's duration
    assert segments.path_text([]) is None


def test_a_checkpoint_written_by_schema_version_2_still_reads() -> None:
    """Version 2 kept a segment in attrs, timed from its row; it reads the same after the upgrade."""
    old = '[["step","load",0,500000,null,{"rows":3}],["event","sent",250000,null,{"to":"x"}]]'
    row = (3, 1, "path", "segment", 1.8e9, None, old, None, None)
    events = segments.expand([row], utc_from_epoch)
    assert [(e.name, e.at, e.duration) for e in events] == [
        ("load", utc_from_epoch(1.8e9), 0.5), ("sent", utc_from_epoch(1.80000000025e9), None),
    ]
    assert segments.completed_steps([(3, None, 1, old)]) == {3: {"load": [StepRecord('{"rows":3}')]}}
    assert segments.saved_path([(1.8e9, old, None)]) == [
        PathEvent("step", "load", 1.8e9, 0.5, None, '{"rows":3}'),
        PathEvent("event", "sent", 1.80000000025e9, None, {"to": "x"}),
    ]

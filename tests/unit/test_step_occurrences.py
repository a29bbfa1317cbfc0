"""How stored segments read back as the steps a job completed, by name and occurrence, and
as the path a claim saved (store/segments.py, the same for every backend)."""

from __future__ import annotations

from jobtrail.records import utc_from_epoch
from jobtrail.store import segments
from jobtrail.store.base import PathEvent, StepRecord

T = 1.8e9
REPLAYED = {"replayed": True}


def step(name: str, result: str | None = None, args: str | None = None,
         replayed: bool = False) -> PathEvent:
    """A step entry: completed (with its result), replayed, or begun and never completed."""
    attrs = dict(REPLAYED) if replayed else ({"args": args} if args else None)
    return PathEvent("step", name, T, 0.001, attrs, result)


def seg(*entries: PathEvent) -> str:
    """The stored text of a segment of *entries*."""
    return segments.segment_json(entries)


def test_each_call_of_a_step_in_a_loop_is_an_occurrence_of_its_own() -> None:
    """Three calls of fetch in one claim are occurrences 0, 1 and 2, each with its result."""
    rows = [(1, 7, 1, seg(step("fetch", "1"), step("save", '"a"'), step("fetch", "2"))),
            (1, 7, 1, seg(step("fetch", "3")))]
    assert segments.completed_steps(rows) == {1: {
        "fetch": [StepRecord("1"), StepRecord("2"), StepRecord("3")], "save": [StepRecord('"a"')],
    }}


def test_an_occurrence_no_attempt_completed_is_none() -> None:
    """A step entry without a result (the call raised before it returned) counts, holding None."""
    rows = [(1, 7, 1, seg(step("fetch", "1"), PathEvent("event", "x", T),
                          step("fetch"), step("fetch", "3")))]
    assert segments.completed_steps(rows) == {1: {
        "fetch": [StepRecord("1"), None, StepRecord("3")]}}


def test_the_digest_of_a_steps_arguments_comes_back_with_its_result() -> None:
    """``attrs["args"]`` is the occurrence's argument digest; a non-text one reads as none."""
    odd = PathEvent("step", "fetch", T, 0.0, {"args": 5}, "2")
    rows = [(1, 7, 1, seg(step("fetch", "1", args="sha:ab"), odd))]
    assert segments.completed_steps(rows)[1]["fetch"] == [
        StepRecord("1", "sha:ab"), StepRecord("2", None)]


def test_replayed_entries_count_without_completing_and_a_later_claim_wins() -> None:
    """A later claim replaying occurrences keeps the earlier results; what it completes
    itself replaces them, and a further occurrence extends the list."""
    first = seg(step("fetch", "1"), step("fetch", "2"))
    second = seg(step("fetch", replayed=True), step("fetch", "20"), step("fetch", "30"))
    rows = [(1, 7, 1, first), (1, 9, 2, second)]
    assert segments.completed_steps(rows) == {1: {
        "fetch": [StepRecord("1"), StepRecord("20"), StepRecord("30")]}}


def test_claims_merge_oldest_first_by_the_order_their_rows_were_written() -> None:
    """The claim whose first row came first is the older, whatever its token."""
    rows = [(1, 900, 1, seg(step("a", "1"))), (1, 5, 1, seg(step("a", "2"))),
            (1, 900, 1, seg(step("b", "3")))]
    assert segments.completed_steps(rows) == {1: {"a": [StepRecord("2")], "b": [StepRecord("3")]}}


def test_occurrences_restart_with_every_claim_even_of_the_same_attempt_number() -> None:
    """A released attempt and the next share an attempt number, never a claim: each counts
    from 0, so its first call is the first occurrence again."""
    rows = [(1, 7, 1, seg(step("fetch", "1"))), (1, 8, 1, seg(step("fetch", "9")))]
    assert segments.completed_steps(rows) == {1: {"fetch": [StepRecord("9")]}}


def test_rows_of_no_claim_are_grouped_by_attempt() -> None:
    """Rows stored before claims were recorded count per attempt number, then merge like claims."""
    rows = [(1, None, 1, seg(step("fetch", "1"))), (1, None, 1, seg(step("fetch", "2"))),
            (1, None, 2, seg(step("fetch", "10")))]
    assert segments.completed_steps(rows) == {1: {"fetch": [StepRecord("10"), StepRecord("2")]}}


def test_a_damaged_segment_ends_what_its_claim_contributes() -> None:
    """Its steps are unknown, so occurrences after it cannot be counted: they are left out,
    while other claims (and the same claim's earlier segments) still count."""
    rows = [(1, 7, 1, seg(step("fetch", "1"))), (1, 7, 1, "{not json"),
            (1, 7, 1, seg(step("fetch", "3"))), (1, 8, 2, seg(step("save", '"s"')))]
    assert segments.completed_steps(rows) == {1: {
        "fetch": [StepRecord("1")], "save": [StepRecord('"s"')]}}
    named = '[1.8e9,["step",5,0,null,null,"1"]]'  # a step name that is not text
    assert segments.completed_steps([(1, 7, 1, named), (1, 7, 1, seg(step("a", "1")))]) == {}


def test_jobs_are_kept_apart_and_those_without_completed_steps_left_out() -> None:
    """Each job has its own occurrences; a job of replays and events alone is not listed."""
    rows = [(1, 7, 1, seg(step("a", "1"))), (2, 8, 1, seg(step("a", replayed=True))),
            (3, 9, 1, seg(PathEvent("event", "sent", T))), (1, 7, 1, seg(step("a", "2")))]
    assert segments.completed_steps(rows) == {1: {"a": [StepRecord("1"), StepRecord("2")]}}
    assert segments.completed_steps([]) == {}


def test_a_saved_path_reads_back_as_the_entries_recorded() -> None:
    """Kinds, names, attributes and results come back as written (a decision's value as its
    JSON text), times to the microsecond; a damaged segment is left out."""
    first = [step("load", '{"rows":3}', args="d1"),
             PathEvent("decide", "paid", T + 1, None, None, '"true"'),
             PathEvent("effect", "charge", T + 2, 0.25, {"key": "c-1"})]
    second = [PathEvent("exit", "done", T + 3)]
    found = segments.saved_path([(T, seg(*first), 7), (T, "[[1]]", 7), (T + 3, seg(*second), 7)])
    assert [(e.kind, e.name, e.attrs, e.result) for e in found] == [
        (e.kind, e.name, e.attrs, e.result) for e in first + second]
    for got, wrote in zip(found, first + second, strict=True):
        assert abs(got.at - wrote.at) < 2e-6
        assert (got.duration is None) == (wrote.duration is None)
        assert got.duration is None or abs(got.duration - (wrote.duration or 0)) < 1e-6
    entry = '["step","a",0,null,null]'
    assert segments.saved_path([(T, None, 7), (T, f"[NaN,{entry}]", 7), (None, f"[{entry}]", 7),
                                (T, '[1.8e9,["step",0,"x",null,null]]', 7)]) == []


def test_the_saved_path_is_the_one_of_the_claim_that_went_furthest() -> None:
    """Each claim replays the earlier ones' steps: the claim that saved the most points is
    the run's furthest progress (a later claim that died before saving much is not)."""
    went_far = [step("a", "1"), step("b", "2"), PathEvent("event", "half", T + 1)]
    died_early = [step("a", replayed=True)]
    rows = [(T, seg(*went_far[:1]), 7), (T, seg(*went_far[1:]), 7), (T + 5, seg(*died_early), 8)]
    assert [e.name for e in segments.saved_path(rows)] == ["a", "b", "half"]
    again = [step("a", replayed=True), step("b", replayed=True)]
    rows.append((T + 9, seg(*again), 9))  # as far: the latest of them
    assert [e.attrs for e in segments.saved_path(rows)] == [{"replayed": True}] * 2
    assert segments.saved_path([]) == []


def row(kind: str, name: str, at: float, claim: int | None, attempt: int = 1,
        duration: float | None = None, path: list[PathEvent] | None = None
        ) -> tuple[object, ...]:
    """A ``jobtrail_events`` row of job 1, as the stores read it."""
    return (1, attempt, kind, name, at, duration, None,
            segments.path_text(path) if path else None, claim)


def test_each_claims_start_follows_its_own_claimed_after_a_release() -> None:
    """A released attempt and the one that finishes share attempt 1: the finishing claim's
    start is placed after its own ``claimed``, not the released one's."""
    rows = [row("lifecycle", "enqueued", T, None, attempt=0),
            row("lifecycle", "claimed", T + 1, 7),
            row("lifecycle", "released", T + 2, 7),
            row("lifecycle", "claimed", T + 10, 8),
            row("lifecycle", "succeeded", T + 15, 8, duration=4.0,
                path=[step("load", "1")])]
    events = segments.expand(rows, utc_from_epoch)
    assert [(e.name, e.claim) for e in events] == [
        ("enqueued", None), ("claimed", 7), ("released", 7), ("claimed", 8),
        ("started", 8), ("load", 8), ("succeeded", 8)]
    assert events[4].at == utc_from_epoch(T + 11)


def test_rows_of_no_claim_place_the_start_by_attempt_number() -> None:
    """Old rows, without claims, keep placing an attempt's start after its ``claimed``."""
    rows = [row("lifecycle", "claimed", T + 1, None),
            row("lifecycle", "retry_scheduled", T + 3, None, duration=1.0),
            row("lifecycle", "claimed", T + 5, None, attempt=2),
            row("lifecycle", "succeeded", T + 9, None, attempt=2, duration=2.0)]
    names = [(e.name, e.attempt) for e in segments.expand(rows, utc_from_epoch)]
    assert names == [("claimed", 1), ("started", 1), ("retry_scheduled", 1),
                     ("claimed", 2), ("started", 2), ("succeeded", 2)]

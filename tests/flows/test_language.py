"""Flow graphs as path-language automata: the paths they list, the runs they accept, and
how they compare with expectations."""

from __future__ import annotations

import pytest

from jobtrail.expect import parse
from jobtrail.flows import (
    Acceptance,
    CodePath,
    Comparison,
    FlowGraph,
    accepts,
    build_flow,
    code_paths,
    compare,
)
from tests.flows import corpus
from tests.support.symbols import run


def build(name: str) -> FlowGraph:
    """The flow graph of the corpus function `name`."""
    return build_flow(getattr(corpus, name), job_name=name)


def listed(name: str, **options: int) -> list[tuple[str, str]]:
    """The paths of corpus function `name` as (text, ends) pairs."""
    return [(path.text, path.ends) for path in code_paths(build(name), **options)]


# -- paths -----------------------------------------------------------------------------------


def test_paths_of_an_early_exit() -> None:
    """Each way through the code is listed with how it ends, shortest first."""
    assert code_paths(build("early_exit")) == [
        CodePath(("load", "decide:is_paid=false", "effect:charge"), "return"),
        CodePath(("load", "decide:is_paid=true", "exit:already_paid"), "exit"),
    ]


def test_a_silent_return_ends_by_return_and_falling_off_ends_by_end() -> None:
    """An early ``return`` without an exit shows as such; the end of the function as ``end``."""
    assert listed("not_decide") == [("decide:has_items=false", "return"), ("decide:has_items=true process", "end")]


def test_match_paths_list_each_case_value_and_any_value_for_the_rest() -> None:
    """Each literal value of a case is a path of its own; ``case _`` writes the decision without value."""
    assert listed("matched") == [
        ("decide:tier no_perks done", "end"),
        ("decide:tier=bronze metal_perks done", "end"),
        ("decide:tier=gold gold_perks done", "end"),
        ("decide:tier=silver metal_perks done", "end"),
    ]


def test_loop_bound_limits_how_often_a_loop_is_taken_again() -> None:
    """With loop_bound n a node appears at most n + 1 times on a path."""
    assert [len(code_paths(build("for_loop"), loop_bound=bound)) for bound in (0, 1, 2)] == [4, 10, 22]
    assert listed("for_loop", loop_bound=0) == [
        ("fetch close", "end"),
        ("fetch decide:skip=true close", "end"),
        ("fetch decide:skip=false pack decide:full=false close", "end"),
        ("fetch decide:skip=false pack decide:full=true close", "end"),
    ]
    longest = code_paths(build("for_loop"), loop_bound=1)[-1]
    assert longest.tokens.count("pack") == 2


def test_while_true_is_left_only_by_break() -> None:
    """``while True`` has no path that skips its body, and ``break`` is its only way on."""
    assert listed("while_loops", loop_bound=0) == [("decide:more=false poll decide:done=true finish", "end")]
    for path in code_paths(build("while_loops")):
        assert "poll" in path.tokens and path.tokens[-2:] == ("decide:done=true", "finish")


def test_paths_that_end_by_raise_are_listed_as_such() -> None:
    """A path through a re-raise and its finally block ends by ``raise``."""
    assert listed("try_blocks") == [
        ("release", "raise"),
        ("effect:charge release", "raise"),
        ("mark_declined release done", "end"),
        ("effect:charge effect:send_receipt release done", "end"),
        ("effect:charge mark_declined release done", "end"),
    ]


def test_a_finally_copy_keeps_the_way_out() -> None:
    """A return through a finally block still ends by ``return``; a break goes on after the loop."""
    assert listed("finally_ways", loop_bound=0) == [
        ("after_loop", "end"),
        ("decide:stop=false decide:done=true cleanup", "return"),
        ("decide:stop=true cleanup after_loop", "end"),
        ("decide:stop=false decide:done=false handle cleanup after_loop", "end"),
    ]


def test_exits_are_not_caught_by_except_exception() -> None:
    """``ctx.exit`` goes to an ``except BaseException`` handler, never an ``except Exception``."""
    assert listed("exit_in_try") == [("not_for_exits", "end"), ("exit:early catches_exits", "end")]


def test_paths_through_unknown_calls_are_uncertain() -> None:
    """A path every way to which passes a call not followed is flagged uncertain."""
    assert code_paths(build("uses_helpers")) == [
        CodePath(("audit", "decide:needs_review=false", "tick", "done"), "end", uncertain=False),
        CodePath(("audit", "decide:needs_review=true", "review", "tick", "done"), "end", uncertain=True),
    ]


def test_max_paths_truncates_and_says_so() -> None:
    """More distinct paths than max_paths: the list is cut to max_paths and flagged truncated."""
    cut = code_paths(build("fulfil_order"), max_paths=10)
    assert len(cut) == 10 and cut.truncated
    whole = code_paths(build("fulfil_order"))
    assert len(whole) == 92 and not whole.truncated
    assert [len(p.tokens) for p in whole] == sorted(len(p.tokens) for p in whole)


def test_path_text_is_an_expectation_the_path_satisfies() -> None:
    """A path's text parses as an expectation that accepts the path's own run."""
    for path in code_paths(build("fulfil_order")):
        if all("=" in token or not token.startswith("decide:") for token in path.tokens):
            assert parse(path.text).accepts(run(path.text))


# -- accepts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "observed", "accepted"),
    [
        ("early_exit", "load decide:is_paid=true exit:already_paid", True),
        ("early_exit", "load decide:is_paid=false effect:charge", True),
        ("early_exit", "load decide:is_paid=false exit:already_paid", False),
        ("early_exit", "load effect:charge", False),
        ("early_exit", "load decide:is_paid=true exit:already_paid effect:charge", False),
        ("not_decide", "", False),
        ("matched", "decide:tier=bronze metal_perks done", True),
        ("matched", "decide:tier=platinum no_perks done", True),
        ("matched", "decide:tier=gold no_perks done", False),
        ("matched_enum", "decide:tier=gold gold decide:paid=false", True),
        ("matched_enum", "decide:tier=bronze decide:paid=true thank", False),
        ("compared", "decide:tier=silver decide:region=fr decide:coupon=SAVE10 apply_coupon", True),
        ("compared", "decide:tier=silver decide:region=fr decide:coupon=null apply_coupon", False),
        ("compared", "decide:tier=gold upgrade decide:region=uk gdpr_notice decide:coupon=null", True),
        ("raising", "decide:too_large=false approve decide:suspicious=true", True),
        ("raising", "decide:too_large=maybe reject decide:suspicious=false", True),
        ("raising", "decide:too_large=true approve decide:suspicious=false", False),
        ("while_loops", "decide:more=false poll decide:done=false finish", False),
    ],
)
def test_accepts_runs_the_code_can_produce(name: str, observed: str, accepted: bool) -> None:
    """A run is accepted exactly when some path of the code records it, decision values included."""
    answer = accepts(build(name), run(observed))
    assert answer == Acceptance(accepted, uncertain=False)
    assert bool(answer) is accepted


def test_accepts_takes_loops_any_number_of_times() -> None:
    """Loops are unbounded: five rounds are accepted though code_paths() lists at most two."""
    rounds = " ".join(["decide:skip=false pack decide:full=false"] * 5)
    assert accepts(build("for_loop"), run(f"fetch {rounds} decide:skip=true close"))
    assert accepts(build("for_loop"), run(f"fetch {rounds} decide:skip=false pack decide:full=true close"))
    assert not accepts(build("for_loop"), run(f"fetch {rounds} decide:full=true close"))
    polls = " ".join(["poll decide:done=false"] * 7)
    assert accepts(build("while_loops"), run(f"decide:more=false {polls} poll decide:done=true finish"))


def test_a_decision_the_code_does_not_branch_on_matches_any_value() -> None:
    """An unguarded edge out of a decision (here the one to an except handler) takes any value."""
    graph = build("raising")
    assert accepts(graph, run("decide:too_large=whatever reject decide:suspicious=false"))
    assert not accepts(graph, run("decide:too_large=whatever approve decide:suspicious=false"))


def test_unknown_calls_may_record_anything_and_make_the_answer_uncertain() -> None:
    """By default an unknown call stands for any symbols; a run accepted only so is uncertain."""
    graph = build("uses_helpers")
    assert accepts(graph, run("audit decide:needs_review=true review deeper tick done")) == Acceptance(True, uncertain=True)
    assert accepts(graph, run("audit decide:needs_review=true review tick done")) == Acceptance(True, uncertain=True)
    assert accepts(graph, run("audit decide:needs_review=false tick tick done")) == Acceptance(True, uncertain=True)
    assert accepts(graph, run("audit decide:needs_review=false tick done")) == Acceptance(True, uncertain=False)
    assert accepts(graph, run("audit decide:needs_review=true review done")) == Acceptance(False)


def test_unknown_calls_can_be_read_as_recording_nothing() -> None:
    """With unknown="nothing" an unknown call records no symbol, so runs needing one are rejected."""
    graph = build("uses_helpers")
    assert not accepts(graph, run("audit decide:needs_review=true review deeper tick done"), unknown="nothing")
    assert accepts(graph, run("audit decide:needs_review=true review tick done"), unknown="nothing") == Acceptance(True, uncertain=True)


def test_incomplete_runs_are_accepted_as_prefixes() -> None:
    """With complete=False a run that stopped partway is accepted when some path begins with it."""
    graph = build("early_exit")
    assert not accepts(graph, run("load decide:is_paid=false"))
    assert accepts(graph, run("load decide:is_paid=false"), complete=False)
    assert accepts(graph, run(""), complete=False)
    assert not accepts(graph, run("load decide:is_paid=false mark_paid"), complete=False)


# -- compare ---------------------------------------------------------------------------------


def test_a_matching_expectation_has_no_differences() -> None:
    """When the expectation allows exactly the code's paths, nothing is reported."""
    result = compare(build("early_exit"), parse("load (decide:is_paid=true exit:already_paid | decide:is_paid=false effect:charge)"))
    assert result == Comparison((), (), uncertain=False, truncated=False)
    assert result.agrees


def test_compare_finds_both_kinds_of_difference() -> None:
    """Code paths the expectation forbids and expected paths the code cannot take are both shown."""
    result = compare(build("early_exit"), parse("load decide:is_paid=false effect:charge mark_paid | load decide:is_paid=true exit:already_paid"))
    assert result.code_not_expected == (("load", "decide:is_paid=false", "effect:charge"),)
    assert result.expected_not_in_code == (("load", "decide:is_paid=false", "effect:charge", "mark_paid"),)
    assert not result.agrees


def test_compare_respects_decision_values() -> None:
    """A value the code sends one way and the expectation another is reported on both sides."""
    result = compare(build("matched"), parse("decide:tier=gold gold_perks done | decide:tier=silver metal_perks done | decide:tier no_perks done"))
    assert result.code_not_expected == (("decide:tier=bronze", "metal_perks", "done"),)
    assert result.expected_not_in_code == (
        ("decide:tier=bronze", "no_perks", "done"),
        ("decide:tier=gold", "no_perks", "done"),
        ("decide:tier=silver", "no_perks", "done"),
    )


def test_values_neither_side_names_show_as_other() -> None:
    """An expectation allowing any value, where the code branches on bools, is shown with <other>."""
    result = compare(build("early_exit"), parse("load decide:is_paid (exit:already_paid | effect:charge)"))
    assert result.code_not_expected == ()
    assert result.expected_not_in_code == (
        ("load", "decide:is_paid=false", "exit:already_paid"),
        ("load", "decide:is_paid=true", "effect:charge"),
        ("load", "decide:is_paid=<other>", "effect:charge"),
        ("load", "decide:is_paid=<other>", "exit:already_paid"),
    )


def test_runs_ending_by_raise_are_not_paths_the_code_produces() -> None:
    """Paths that end by raise are failures: an expectation covering only successes agrees."""
    graph = build("try_blocks")
    assert {p.ends for p in code_paths(graph)} == {"raise", "end"}
    successes = "(mark_declined | effect:charge (effect:send_receipt | mark_declined)) release done"
    assert compare(graph, parse(successes)).agrees
    expecting_failure = compare(graph, parse(f"{successes} | release"))
    assert expecting_failure.expected_not_in_code == (("release",),)


def test_compare_gives_the_shortest_examples_first_up_to_the_limit() -> None:
    """Examples come shortest first, at most `limit` of each kind, distinct even when they diverge alike."""
    expectation = parse("fetch decide:skip=false pack decide:full=true close")
    result = compare(build("for_loop"), expectation, limit=2)
    assert result.code_not_expected == (("fetch", "close"), ("fetch", "decide:skip=true", "close"))
    assert result.expected_not_in_code == ()
    assert len(compare(build("for_loop"), expectation, limit=7).code_not_expected) == 7


def test_compare_reports_uncertainty_from_unknown_calls() -> None:
    """A graph with calls not followed makes the comparison uncertain; by default they record nothing."""
    graph = build("uses_helpers")
    expectation = parse("audit (decide:needs_review=true review deeper | decide:needs_review=false) tick done")
    nothing = compare(graph, expectation)
    assert nothing.uncertain
    assert nothing.code_not_expected == (("audit", "decide:needs_review=true", "review", "tick", "done"),)
    assert nothing.expected_not_in_code == (("audit", "decide:needs_review=true", "review", "deeper", "tick", "done"),)
    anything = compare(graph, expectation, unknown="anything")
    assert anything.expected_not_in_code == ()


def test_compare_says_when_it_stopped_at_its_bounds() -> None:
    """A search cut short by max_states is truncated and never claims agreement."""
    result = compare(build("fulfil_order"), parse("load_order"), max_states=3)
    assert result.truncated and not result.agrees


def test_an_expectation_with_wildcards_is_compared_by_what_it_matches() -> None:
    """``step:*`` and ``exit:*`` cover the code's names; the names they allow beyond show as <other>."""
    assert compare(build("early_exit"), parse("step:* decide:is_paid (exit:* | effect:*)")).code_not_expected == ()
    result = compare(build("bare_exit"), parse("decide:empty=true exit:* | decide:empty=false step:*"))
    assert result.code_not_expected == ()
    assert result.expected_not_in_code == (("decide:empty=false", "step:<other>"), ("decide:empty=true", "exit:<other>"))

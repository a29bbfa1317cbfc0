"""Checking runs against expectations: acceptance, and how each kind of divergence is reported."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.expect import Divergence, Symbol, parse
from jobtrail.expect import automaton as automaton_module
from jobtrail.expect.automaton import Automaton
from jobtrail.expect.expectation import Expectation
from jobtrail.expect.nodes import Alt, Atom, Node, Repeat, Seq, alt, seq
from jobtrail.records import DivergenceKind
from tests.support.symbols import run

PAYMENT = (
    "load decide:is_paid=true exit:already_paid"
    " | load decide:is_paid=false effect:charge (mark_paid | mark_failed)"
)


# -- acceptance ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "observed", "accepted"),
    [
        ("a b c", "a b c", True),
        ("a b c", "a b", False),
        ("a b c", "a b c c", False),
        ("a b c", "", False),
        ("a b? c", "a c", True),
        ("a b? c", "a b c", True),
        ("a b? c", "a b b c", False),
        ("a b* c", "a c", True),
        ("a b* c", "a b b b c", True),
        ("a b+ c", "a c", False),
        ("a b+ c", "a b b c", True),
        ("a (b c)* d", "a b c b c d", True),
        ("a (b c)* d", "a b b c d", False),
        ("a (b | c)+", "a c b c", True),
        ("a?", "", True),
        ("(a? b?)*", "b a a", True),
        (PAYMENT, "load decide:is_paid=true exit:already_paid", True),
        (PAYMENT, "load decide:is_paid=false effect:charge mark_failed", True),
        (PAYMENT, "load decide:is_paid=false exit:already_paid", False),
        (PAYMENT, "load decide:is_paid=gold effect:charge mark_paid", False),
        ("load decide:tier effect:charge", "load decide:tier=gold effect:charge", True),
        ("load decide:tier effect:charge", "load decide:tier=3 effect:charge", True),
        ("load decide:tier=gold", "load decide:tier=silver", False),
        ("load decide:* exit:*", "load decide:anything=1 exit:whatever", True),
        ("load step:* effect:*", "load validate effect:mail", True),
        ("load step:*", "load effect:mail", False),
        ("load", "Load", False),
    ],
)
def test_accepts_exactly_the_expected_paths(expression: str, observed: str, accepted: bool) -> None:
    """accepts() is true exactly for runs that are whole paths of the expectation."""
    assert parse(expression).accepts(run(observed)) is accepted


# -- conforming runs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "observed",
    [
        "load decide:is_paid=true exit:already_paid",
        "load decide:is_paid=false effect:charge mark_paid",
        "load decide:is_paid=false effect:charge mark_failed",
    ],
)
def test_conforming_runs_have_no_divergence(observed: str) -> None:
    """A run that follows one of the expected paths gives [] whether it completed or stopped."""
    expectation = parse(PAYMENT)
    assert expectation.check(run(observed), completed=True) == []
    assert expectation.check(run(observed), completed=False) == []


# -- each divergence ----------------------------------------------------------------------------


def test_missing_in_the_middle_names_what_should_have_come_before() -> None:
    """A symbol that fits only after skipped steps reports those steps as missing before it."""
    expectation = parse("load send_receipt effect:charge mark_paid")
    assert expectation.check(run("load effect:charge mark_paid"), completed=True) == [
        Divergence(DivergenceKind.MISSING, "missing step send_receipt before effect:charge at position 1", 1, "effect:charge", ("send_receipt",)),
    ]


def test_missing_several_symbols_lists_them_in_path_order() -> None:
    """Several skipped symbols are listed in the order the expectation puts them."""
    [divergence] = parse("load validate effect:charge mark_paid").check(run("load mark_paid"), completed=True)
    assert (divergence.kind, divergence.position, divergence.expected) == ("missing", 1, ("validate", "effect:charge"))
    assert divergence.message == "missing step validate, effect:charge before mark_paid at position 1"


def test_missing_at_the_end_names_the_shortest_completion() -> None:
    """A completed run that stops short reports the shortest way to finish, at position len(run)."""
    expectation = parse(PAYMENT)
    assert expectation.check(run("load decide:is_paid=false"), completed=True) == [
        Divergence(DivergenceKind.MISSING, "missing effect:charge, step mark_paid at the end (position 2)", 2, None, ("effect:charge", "mark_paid")),
    ]


def test_unexpected_symbol_is_skipped_and_reported_with_what_was_allowed() -> None:
    """A symbol reachable from nowhere ahead is unexpected; the walk skips it and goes on."""
    expectation = parse("a (b | c) d")
    assert expectation.check(run("a x b d"), completed=True) == [
        Divergence(DivergenceKind.UNEXPECTED, "unexpected step x at position 1; expected one of step b, step c", 1, "x", ("b", "c")),
    ]


def test_unexpected_after_an_accepting_point_mentions_the_end() -> None:
    """A symbol after a point where the run could have ended says the end was also allowed."""
    [divergence] = parse("a b*").check(run("a b x"), completed=True)
    assert (divergence.kind, divergence.position, divergence.expected) == ("unexpected", 2, ("b",))
    assert divergence.message == "unexpected step x at position 2; expected one of step b, the end of the run"


def test_out_of_order_reports_the_early_symbol_once() -> None:
    """Observing a c b against a b c is one out_of_order at c, and the late b is not reported again."""
    assert parse("a b c").check(run("a c b"), completed=True) == [
        Divergence(DivergenceKind.OUT_OF_ORDER, "step c at position 1 came before step b, which should precede it", 1, "c", ("b",)),
    ]


def test_out_of_order_names_only_the_symbols_seen_later() -> None:
    """Of the symbols an early one skipped, those seen later are out of order; none are missing."""
    [divergence] = parse("a b c d").check(run("d a b c"), completed=True)
    assert (divergence.kind, divergence.position, divergence.found, divergence.expected) == ("out_of_order", 0, "d", ("a", "b", "c"))


def test_unexpected_exit_stops_the_walk() -> None:
    """An exit the expectation does not allow there is unexpected_exit, and nothing is said about the end."""
    expectation = parse(PAYMENT)
    assert expectation.check(run("load decide:is_paid=false exit:already_paid"), completed=True) == [
        Divergence(DivergenceKind.UNEXPECTED_EXIT, "unexpected exit:already_paid at position 2; expected effect:charge", 2, "exit:already_paid", ("effect:charge",)),
    ]


def test_allowed_exit_that_leaves_the_expectation_unfinished_is_missing() -> None:
    """An exit allowed mid-path ends the run, so what the expectation still wanted is missing."""
    [divergence] = parse("load exit:done cleanup").check(run("load exit:done"), completed=True)
    assert (divergence.kind, divergence.position, divergence.expected) == ("missing", 2, ("cleanup",))


def test_exit_wildcard_allows_any_reason() -> None:
    """exit:* matches an exit with any reason."""
    assert parse("load exit:* | load charge").check(run("load exit:nothing_to_do"), completed=True) == []


def test_incomplete_run_names_what_should_have_come_next() -> None:
    """A run that stopped for good after a valid prefix has one incomplete divergence at its end."""
    expectation = parse(PAYMENT)
    assert expectation.check(run("load decide:is_paid=false effect:charge"), completed=False) == [
        Divergence(DivergenceKind.INCOMPLETE, "the run stopped at position 3 before step mark_paid", 3, None, ("mark_paid",)),
    ]


def test_stopped_run_that_did_everything_has_no_divergence() -> None:
    """A run that stopped for good in an accepting state diverged from nothing it was expected to do."""
    assert parse("load charge*").check(run("load charge"), completed=False) == []


def test_incomplete_can_end_with_an_exit() -> None:
    """The shortest completion may end in an exit, since an exit finishes a run."""
    [divergence] = parse("load (exit:done | a b)").check(run("load"), completed=False)
    assert (divergence.kind, divergence.expected) == ("incomplete", ("exit:done",))


def test_decision_with_the_wrong_value_is_unexpected() -> None:
    """A decision whose value the expectation does not allow there is unexpected, naming the allowed values."""
    expectation = parse("load decide:is_paid=true send_receipt")
    divergences = expectation.check(run("load decide:is_paid=false send_receipt"), completed=True)
    assert divergences == [
        Divergence(DivergenceKind.UNEXPECTED, "unexpected decide:is_paid=false at position 1; expected decide:is_paid=true", 1, "decide:is_paid=false", ("decide:is_paid=true",)),
        Divergence(DivergenceKind.MISSING, "missing decide:is_paid=true before send_receipt at position 2", 2, "send_receipt", ("decide:is_paid=true",)),
    ]


def test_decision_without_value_matches_any_value() -> None:
    """decide:NAME with no value accepts the decision whatever value was recorded."""
    expectation = parse("load decide:tier ship")
    for value in ("gold", "3", "true", "some value"):
        assert expectation.check([Symbol("step", "load"), Symbol("decide", "tier", value), Symbol("step", "ship")], completed=True) == []


def test_divergence_prints_its_message() -> None:
    """str() of a divergence is its one-line message."""
    [divergence] = parse("a b").check(run("a"), completed=True)
    assert str(divergence) == "missing step b at the end (position 1)"


def test_cache_eviction_keeps_answers_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a tiny per-state cache, runs with many distinct decision values are still judged right."""
    monkeypatch.setattr(automaton_module, "ROW_LIMIT", 2)
    expectation = parse("load decide:amount ship")
    for amount in range(20):
        observed = [Symbol("step", "load"), Symbol.decision("amount", amount), Symbol("step", "ship")]
        assert expectation.accepts(observed)
        assert expectation.check(observed[:2], completed=False)[0].expected == ("ship",)


def test_one_expectation_checks_runs_from_many_threads() -> None:
    """Threads sharing one expectation, filling its caches at once, all get the right answers."""
    expectation = parse(PAYMENT)
    runs = [run(f"load decide:is_paid=false effect:charge {last}") for last in ("mark_paid", "mark_failed", "mark_lost")] * 50
    runs += [[Symbol("step", "load"), Symbol.decision("is_paid", n)] for n in range(100)]

    def judge(observed: list[Symbol]) -> list[Divergence]:
        return expectation.check(observed, completed=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(judge, runs))
    assert answers == [parse(PAYMENT).check(observed, completed=True) for observed in runs]


# -- properties ---------------------------------------------------------------------------------

CONCRETE = [Atom("step", "a"), Atom("step", "b"), Atom("step", "c"), Atom("effect", "charge"), Atom("decide", "d", "true"), Atom("decide", "d", "false"), Atom("exit", "done")]
OPEN = [Atom("decide", "d"), Atom("exit", "*"), Atom("step", "*")]


def _trees(leaves: list[Atom]) -> st.SearchStrategy[Node]:
    """Small normal-form trees over `leaves`, so that patterns often repeat and overlap."""
    return st.recursive(
        st.sampled_from(leaves),
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda items: seq(*items)),
            st.lists(children, min_size=2, max_size=3).map(lambda options: alt(*options)),
            st.builds(Repeat, children, st.sampled_from("?*+")),
        ),
        max_leaves=8,
    )


def _concrete(atom: Atom, draw: Callable[[st.SearchStrategy[str]], str]) -> Symbol:
    """An observed symbol that `atom` matches, choosing a name or value where it leaves one open."""
    name = draw(st.sampled_from(["a", "x", "done"])) if atom.name == "*" else atom.name
    value = atom.value
    if atom.kind == "decide" and value is None:
        value = draw(st.sampled_from(["true", "false", "3"]))
    return Symbol(atom.kind, name, value)


@st.composite
def paths(draw: st.DrawFn, node: Node) -> list[Symbol]:
    """A run that the tree describes, generated from the tree itself (not the automaton)."""
    if isinstance(node, Atom):
        return [_concrete(node, draw)]
    if isinstance(node, Seq):
        return [symbol for item in node.items for symbol in draw(paths(item))]
    if isinstance(node, Alt):
        return draw(paths(draw(st.sampled_from(node.options))))
    low, high = {"?": (0, 1), "*": (0, 3), "+": (1, 3)}[node.op]
    return [symbol for _ in range(draw(st.integers(low, high))) for symbol in draw(paths(node.node))]


@given(st.data())
def test_paths_of_the_tree_conform(data: st.DataObject) -> None:
    """Any run generated from an expectation's tree is accepted and has no divergence."""
    tree = data.draw(_trees(CONCRETE + OPEN))
    observed = data.draw(paths(tree))
    expectation = Expectation(tree)
    assert expectation.accepts(observed)
    assert expectation.check(observed, completed=True) == []
    assert expectation.check(observed, completed=False) == []


@given(st.data())
def test_random_walks_of_the_automaton_conform(data: st.DataObject) -> None:
    """A run made by walking the automaton at random until it may stop is accepted with no divergence."""
    tree = data.draw(_trees(CONCRETE + OPEN))
    automaton = Automaton(tree)
    state = automaton.start
    observed: list[Symbol] = []
    while not automaton.accepting(state) or (
        automaton.allowed(state) and len(observed) <= 12 and data.draw(st.booleans())
    ):
        options = automaton.allowed(state)
        pattern = automaton.patterns[data.draw(st.sampled_from(options))]
        symbol = _concrete(pattern, data.draw)
        observed.append(symbol)
        state = automaton.move(state, symbol)
        if len(observed) > 12:
            path = automaton.shortest(state, automaton.accepting, exits=True)
            assert path is not None
            observed.extend(Symbol(p.kind, p.name, p.value) for p in (automaton.patterns[i] for i in path[0]))
            state = path[1]
    expectation = Expectation(tree)
    assert expectation.accepts(observed)
    assert expectation.check(observed, completed=True) == []


def _regex(node: Node, letters: dict[Atom, str]) -> str:
    """The tree as a Python regular expression over one letter per concrete pattern."""
    if isinstance(node, Atom):
        return letters[node]
    if isinstance(node, Seq):
        return "".join(_regex(item, letters) for item in node.items)
    if isinstance(node, Alt):
        return "(?:" + "|".join(_regex(option, letters) for option in node.options) + ")"
    return f"(?:{_regex(node.node, letters)}){node.op}"


@given(_trees(CONCRETE), st.lists(st.sampled_from([*CONCRETE, Atom("step", "z")]), max_size=8))
def test_acceptance_agrees_with_regular_expressions(tree: Node, observed_atoms: list[Atom]) -> None:
    """For concrete patterns, accepts() and check() agree with Python's re on the same language."""
    letters = {atom: chr(ord("A") + index) for index, atom in enumerate([*CONCRETE, Atom("step", "z")])}
    observed = [Symbol(atom.kind, atom.name, atom.value) for atom in observed_atoms]
    expected = re.fullmatch(_regex(tree, letters), "".join(letters[atom] for atom in observed_atoms)) is not None
    expectation = Expectation(tree)
    assert expectation.accepts(observed) is expected
    assert (expectation.check(observed, completed=True) == []) is expected
    assert (expectation.check(observed, completed=False) == []) is expected


@given(st.data())
def test_prefixes_of_conforming_runs_are_incomplete_with_a_completion_that_works(data: st.DataObject) -> None:
    """A stopped prefix of a conforming run is [] or one incomplete whose completion makes it conform."""
    tree = data.draw(_trees(CONCRETE))
    observed = data.draw(paths(tree))
    prefix = observed[: data.draw(st.integers(0, len(observed)))]
    expectation = Expectation(tree)
    divergences = expectation.check(prefix, completed=False)
    if expectation.accepts(prefix):
        assert divergences == []
        return
    [divergence] = divergences
    assert (divergence.kind, divergence.position, divergence.found) == ("incomplete", len(prefix), None)
    completion = [Symbol(a.kind, a.name, a.value) for text in divergence.expected for a in [parse(text).ast] if isinstance(a, Atom)]
    assert expectation.accepts(prefix + completion)


@given(st.data())
def test_divergences_are_well_formed_and_deterministic(data: st.DataObject) -> None:
    """For any run, divergences have known kinds, sane positions, and the same answer every time."""
    tree = data.draw(_trees(CONCRETE + OPEN))
    observed = [_concrete(atom, data.draw) for atom in data.draw(st.lists(st.sampled_from(CONCRETE), max_size=8))]
    completed = data.draw(st.booleans())
    expectation = Expectation(tree)
    divergences = expectation.check(observed, completed=completed)
    assert divergences == expectation.check(observed, completed=completed)
    assert (divergences == []) is expectation.accepts(observed)
    for divergence in divergences:
        assert divergence.kind in {"missing", "unexpected", "out_of_order", "unexpected_exit", "incomplete"}
        assert divergence.position is not None and 0 <= divergence.position <= len(observed)
        assert (divergence.found is None) is (divergence.position == len(observed))
        assert divergence.kind != "incomplete" or not completed

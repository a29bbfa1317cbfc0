"""The expectation language's grammar: what parses to what, canonical text, and errors."""

from __future__ import annotations

import enum
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jobtrail.expect
from jobtrail.expect import Expectation, ExpectationError, Symbol, format_value, parse
from jobtrail.expect.grammar import MAX_DEPTH, parse_node, render
from jobtrail.expect.nodes import Alt, Atom, Node, Repeat, Seq, alt, seq

load, charge, paid = Atom("step", "load"), Atom("effect", "charge"), Atom("decide", "is_paid", "true")


# -- valid expressions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("load", load),
        ("step:load", load),
        ("send-email step.v2 charge_card", Seq((Atom("step", "send-email"), Atom("step", "step.v2"), Atom("step", "charge_card")))),
        ("effect:charge", charge),
        ("decide:is_paid=true", paid),
        ("is_paid=true", paid),
        ("decide:is_paid", Atom("decide", "is_paid")),
        ("tier=3 delta=-1 ratio=0.5", Seq((Atom("decide", "tier", "3"), Atom("decide", "delta", "-1"), Atom("decide", "ratio", "0.5")))),
        ('tier="gold plus"', Atom("decide", "tier", "gold plus")),
        ('note="say \\"hi\\" \\\\ bye"', Atom("decide", "note", 'say "hi" \\ bye')),
        ('empty=""', Atom("decide", "empty", "")),
        ("exit:already_paid", Atom("exit", "already_paid")),
        ("exit:*", Atom("exit", "*")),
        ("step:* effect:*", Seq((Atom("step", "*"), Atom("effect", "*")))),
        ("load | effect:charge", Alt((load, charge))),
        ("load?", Repeat(load, "?")),
        ("load*", Repeat(load, "*")),
        ("load+", Repeat(load, "+")),
        ("exit:**", Repeat(Atom("exit", "*"), "*")),
        ("load effect:charge | is_paid=true", Alt((Seq((load, charge)), paid))),
        ("load (effect:charge | is_paid=true)", Seq((load, Alt((charge, paid))))),
        ("load effect:charge*", Seq((load, Repeat(charge, "*")))),
        ("(load effect:charge)+", Repeat(Seq((load, charge)), "+")),
        ("((load))", load),
        ("(load effect:charge) is_paid=true", Seq((load, charge, paid))),
        ("(load | effect:charge) | is_paid=true", Alt((load, charge, paid))),
        ("(load?)*", Repeat(Repeat(load, "?"), "*")),
        ("load(effect:charge)is_paid=true", Seq((load, charge, paid))),
        ("step exit effect:x", Seq((Atom("step", "step"), Atom("step", "exit"), Atom("effect", "x")))),
        ("  load\n\t|\r\neffect:charge  ", Alt((load, charge))),
    ],
)
def test_valid_expressions_parse_to_their_normal_form_tree(text: str, tree: Node) -> None:
    """Every construct of the language parses to the expected normal-form tree."""
    assert parse_node(text) == tree


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("step:load", "load"),
        ("is_paid=true", "decide:is_paid=true"),
        ("load   effect:charge|x", "load effect:charge | x"),
        ("((load effect:charge)) ((x))", "load effect:charge x"),
        ("load (a | (b | c))", "load (a | b | c)"),
        ("(a b)*", "(a b)*"),
        ("(a | b)?", "(a | b)?"),
        ("(a)+", "a+"),
        ('tier="gold"', "decide:tier=gold"),
        ('tier="gold plus"', 'decide:tier="gold plus"'),
        ("a ?", "a?"),
        (
            "load decide:is_paid=true exit:already_paid | load decide:is_paid=false effect:charge (mark_paid | mark_failed)",
            "load decide:is_paid=true exit:already_paid | load decide:is_paid=false effect:charge (mark_paid | mark_failed)",
        ),
    ],
)
def test_rendering_is_canonical(text: str, canonical: str) -> None:
    """An expectation's text is the canonical spelling: bare steps, single spaces, fewest parentheses."""
    expectation = parse(text)
    assert expectation.text == canonical
    assert str(expectation) == canonical
    assert parse(canonical) == expectation


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("", 1, "empty expression"),
        ("   ", 1, "empty expression"),
        ("(load effect:charge", 1, '"(" is never closed'),
        ("load (effect:charge", 6, '"(" is never closed'),
        ("load effect:charge)", 19, 'unmatched ")"'),
        (") load", 1, 'unmatched ")"'),
        ("()", 2, 'empty group "()"'),
        ("load | | x", 8, 'empty alternative between two "|"'),
        ("load |", 6, 'nothing after "|"'),
        ("| load", 1, 'nothing before "|"'),
        ("load (| x)", 7, 'nothing before "|"'),
        ("(load |)", 8, 'nothing between "|" and ")"'),
        ("* load", 1, '"*" has nothing before it to repeat'),
        ("load | +", 8, '"+" has nothing before it to repeat'),
        ("load (?)", 7, '"?" has nothing before it to repeat'),
        ("load*?", 6, '"?" cannot follow "*"; put the repeated part in ( )'),
        ("efect:charge", 1, 'unknown prefix "efect:"; did you mean "effect:"?'),
        ("load Exit:done", 6, 'unknown prefix "Exit:"; did you mean "exit:"?'),
        ("foo:bar", 1, 'unknown prefix "foo:"; use step:, effect:, decide: or exit:'),
        ("load effect:", 13, 'expected a name after "effect:"'),
        ("load effect: x", 13, 'expected a name after "effect:"'),
        ("exit:3", 6, 'a name must start with a letter or "_", not "3"'),
        ("3load", 1, 'a name must start with a letter or "_", not "3"'),
        ("load - x", 6, 'a name must start with a letter or "_", not "-"'),
        ("exit:*x", 7, '"*" stands for a whole name; write exit:*'),
        ("load & x", 6, 'unexpected character "&"'),
        ("load é", 6, 'unexpected character "é"'),
        ("load :x", 6, '":" must follow a prefix: step, effect, decide or exit'),
        ("load =x", 6, '"=" must follow a decision name'),
        ('load "x"', 6, 'a quoted value must follow "="'),
        ("is_paid=", 9, 'expected a value after "is_paid="'),
        ("is_paid= true", 9, 'expected a value after "is_paid="'),
        ("decide:is_paid=", 16, 'expected a value after "decide:is_paid="'),
        ('tier="gold', 6, "quoted value is never closed"),
        ('tier="a\\nb"', 8, 'only \\" and \\\\ may be escaped in a quoted value'),
        ("effect:charge=1", 14, "effect:charge cannot take a value; only decisions do"),
        ("step:load=1", 10, "step:load cannot take a value; only decisions do"),
        ("exit:*=x", 7, "exit:* cannot take a value; only decisions do"),
    ],
)
def test_invalid_expressions_name_the_column_and_reason(text: str, column: int, reason: str) -> None:
    """Each kind of mistake raises ExpectationError with its 1-based column and a precise reason."""
    with pytest.raises(ExpectationError) as caught:
        parse(text)
    assert (caught.value.column, caught.value.reason) == (column, reason)
    assert caught.value.expression == text


def test_error_message_shows_the_expression_with_a_caret() -> None:
    """str() of an error is the reason with its column, then the expression with a caret under it."""
    with pytest.raises(ExpectationError) as caught:
        parse("load effect:")
    assert str(caught.value) == (
        'expected a name after "effect:" at column 13\n  load effect:\n              ^'
    )


def test_error_caret_stays_aligned_across_tabs_and_newlines() -> None:
    """Whitespace in the expression is shown as single spaces so the caret lines up."""
    with pytest.raises(ExpectationError) as caught:
        parse("load\n\t&")
    assert str(caught.value).splitlines()[1:] == ["  load  &", "        ^"]


def test_error_is_a_value_error_that_survives_pickling() -> None:
    """ExpectationError is a ValueError and keeps its attributes through pickle."""
    with pytest.raises(ValueError) as caught:
        parse("a |")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, ExpectationError)
    assert (copy.expression, copy.column, copy.reason, str(copy)) == (
        "a |",
        3,
        'nothing after "|"',
        str(caught.value),
    )


def test_nesting_is_bounded() -> None:
    """Groups nested deeper than the limit raise ExpectationError instead of exhausting the stack."""
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)
    with pytest.raises(ExpectationError) as caught:
        parse("(" * 1000 + "a" + ")" * 1000)
    assert caught.value.column == MAX_DEPTH + 1


# -- symbols, alphabet, names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "text"),
    [
        (Symbol("step", "load"), "load"),
        (Symbol("effect", "charge"), "effect:charge"),
        (Symbol("decide", "is_paid", "true"), "decide:is_paid=true"),
        (Symbol("decide", "tier", "gold plus"), 'decide:tier="gold plus"'),
        (Symbol("decide", "is_paid"), "decide:is_paid"),
        (Symbol("exit", "already_paid"), "exit:already_paid"),
    ],
)
def test_symbols_print_in_the_language(symbol: Symbol, text: str) -> None:
    """A symbol's str() is how the language writes it."""
    assert str(symbol) == text


class Tier(enum.Enum):
    GOLD = "gold"


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (None, "null"), (3, "3"), (-1, "-1"), (0.5, "0.5"), ("gold", "gold"), (Tier.GOLD, "gold"), ([1, "a"], '[1,"a"]')],
)
def test_decision_values_are_formatted_as_the_language_compares_them(value: object, text: str) -> None:
    """Recorded decision values become text the way expectations write them."""
    assert format_value(value) == text
    assert Symbol.decision("d", value) == Symbol("decide", "d", text)


def test_symbols_reject_unknown_kinds_and_values_on_non_decisions() -> None:
    """A Symbol must have a known kind, and only decisions carry a value."""
    with pytest.raises(ValueError, match="symbol kind"):
        Symbol("stp", "load")
    with pytest.raises(ValueError, match="only decisions"):
        Symbol("effect", "charge", "1")


def test_alphabet_lists_the_patterns_mentioned() -> None:
    """alphabet() gives every pattern the expectation mentions, in canonical text."""
    expectation = parse("load is_paid=true exit:already_paid | step:load effect:charge exit:* decide:tier")
    assert expectation.alphabet() == {"load", "decide:is_paid=true", "exit:already_paid", "effect:charge", "exit:*", "decide:tier"}


def test_names_are_in_first_appearance_order_without_wildcards() -> None:
    """names() lists the names of one kind in first-appearance order, each once, wildcards left out."""
    expectation = parse("load (validate | load) effect:charge step:* send-email effect:mail exit:*")
    assert expectation.names() == ("load", "validate", "send-email")
    assert expectation.names("effect") == ("charge", "mail")
    assert expectation.names("exit") == ()


def test_expectations_compare_by_tree() -> None:
    """Expectations that parse to the same tree are equal and hash alike; repr shows the text."""
    assert parse("step:load  (a)") == parse("load a")
    assert hash(parse("step:load  (a)")) == hash(parse("load a"))
    assert parse("load a") != parse("a load")
    assert repr(parse("load | a")) == "Expectation('load | a')"


def test_package_exports_the_public_names_sorted() -> None:
    """jobtrail.expect exports exactly its public names, in sorted order."""
    assert jobtrail.expect.__all__ == ["Divergence", "Expectation", "ExpectationError", "Symbol", "decision_text", "format_value", "parse"]
    assert all(hasattr(jobtrail.expect, name) for name in jobtrail.expect.__all__)


# -- properties ---------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,6}", fullmatch=True)
values = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_.\-]{1,5}", fullmatch=True), st.text(max_size=6))
leaves = st.one_of(
    names.map(lambda name: Atom("step", name)),
    st.builds(Atom, st.sampled_from(["step", "effect", "exit"]), st.just("*")),
    st.builds(Atom, st.just("effect"), names),
    st.builds(Atom, st.just("exit"), names),
    st.builds(Atom, st.just("decide"), names | st.just("*"), values),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    many = st.lists(children, min_size=2, max_size=4)
    return st.one_of(
        many.map(lambda items: seq(*items)),
        many.map(lambda options: alt(*options)),
        st.builds(Repeat, children, st.sampled_from("?*+")),
    )


trees: st.SearchStrategy[Node] = st.recursive(leaves, _extend, max_leaves=12)


@given(trees)
def test_rendered_trees_parse_back_to_themselves(tree: Node) -> None:
    """Rendering any normal-form tree gives text that parses back to the same tree."""
    assert parse_node(render(tree)) == tree
    assert Expectation(tree).text == render(tree)


language = st.text(alphabet=st.sampled_from(list('ab_.-3:=|?*+() "\\\nxdecistfp*é&')), max_size=30)


@given(st.one_of(language, st.text(max_size=30)))
def test_any_text_either_parses_stably_or_raises_expectation_error(text: str) -> None:
    """Arbitrary text never raises anything but ExpectationError, and what parses renders stably."""
    try:
        expectation = parse(text)
    except ExpectationError as error:
        assert 1 <= error.column <= len(text) + 1
        return
    assert parse(expectation.text) == expectation
    assert parse(expectation.text).text == expectation.text

"""Job signatures: which type hints a job may use, and how arguments are checked against them."""

from __future__ import annotations

import functools
import math
from typing import Any, Literal, NotRequired, Optional, TypedDict, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobtrail.context import Context
from jobtrail.errors import ArgumentError, JobDefinitionError
from jobtrail.jobs import ENQUEUE_OPTIONS
from jobtrail.signature import JobSignature, describe, mismatch


class Address(TypedDict):
    """A TypedDict with one optional key."""

    street: str
    number: int
    floor: NotRequired[int]


class Partial(TypedDict, total=False):
    """A TypedDict whose keys are all optional."""

    note: str


class Money:
    """A class that cannot travel in a JSON payload."""


def signature(fn: Any, name: str = "job") -> JobSignature:
    return JobSignature(fn, name, ENQUEUE_OPTIONS)


# -- mismatch: one hint at a time ---------------------------------------------------------------

FITS = [
    (int, 3),
    (int, -(2**70)),
    (float, 1.5),
    (float, 2),
    (str, ""),
    (bool, False),
    (None, None),
    (type(None), None),
    (Optional[int], None),  # noqa: UP045 - the old spelling must keep working
    (Optional[int], 1),  # noqa: UP045
    (Union[int, str], "a"),  # noqa: UP007
    (int | None, None),
    (int | None, 5),
    (int | str, "x"),
    (list, [1, "a", None]),
    (list[int], []),
    (list[int], [1, 2]),
    (list[int], (1, 2)),
    (list[list[str]], [["a"], []]),
    (tuple, [1, "x"]),
    (tuple[int, str], (1, "a")),
    (tuple[int, str], [1, "a"]),
    (tuple[int, ...], ()),
    (tuple[int, ...], [1, 2, 3]),
    (dict, {"a": object()}),
    (dict[str, int], {}),
    (dict[str, int], {"a": 1}),
    (dict[str, list[float]], {"a": [1, 2.5]}),
    (Literal["a", "b"], "b"),
    (Literal[1, 2], 2),
    (Literal[True], True),
    (Literal[None], None),
    (Any, object()),
    (Address, {"street": "Main", "number": 1}),
    (Address, {"street": "Main", "number": 1, "floor": 3}),
    (Partial, {}),
    (Partial, {"note": "n"}),
]

MISFITS = [
    (int, True, "expected int, got bool"),
    (int, 1.0, "expected int, got float"),
    (int, "1", "expected int, got str"),
    (float, True, "expected float, got bool"),
    (float, "1.5", "expected float, got str"),
    (str, 1, "expected str, got int"),
    (str, None, "expected str, got NoneType"),
    (bool, 1, "expected bool, got int"),
    (None, 0, "expected None, got int"),
    (Optional[int], "1", "expected Optional[int], got str"),  # noqa: UP045
    (int | None, 1.5, "expected int | None, got float"),
    (int | None, False, "expected int | None, got bool"),
    (list[int], {"a": 1}, "expected list, got dict"),
    (list[int], [1, "2"], "at index 1: expected int, got str"),
    (list[int], "12", "expected list, got str"),
    (list[list[str]], [["a"], [1]], "at index 1: at index 0: expected str, got int"),
    (tuple[int, str], (1,), "expected 2 items, got 1"),
    (tuple[int, str], (1, 2), "at index 1: expected str, got int"),
    (tuple[int, str], 1, "expected tuple, got int"),
    (tuple[int, ...], [1, None], "at index 1: expected int, got NoneType"),
    (dict[str, int], [], "expected dict, got list"),
    (dict[str, int], {"a": "1"}, "at key 'a': expected int, got str"),
    (dict[str, int], {1: 1}, "dict keys must be str, got int"),
    (dict, {1: 1}, "dict keys must be str, got int"),
    (Literal["a", "b"], "c", "expected one of ['a', 'b'], got 'c'"),
    (Literal[1, 2], True, "expected one of [1, 2], got True"),
    (Literal[1], 1.0, "expected one of [1], got 1.0"),
    (Literal[0], False, "expected one of [0], got False"),
    (Literal[True], 1, "expected one of [True], got 1"),
    (Address, [], "expected Address (a dict), got list"),
    (Address, {"street": "Main"}, "Address is missing number"),
    (Address, {}, "Address is missing number, street"),
    (Address, {"street": "M", "number": 1, "zip": "x"}, "Address has unknown keys zip"),
    (Address, {"street": "M", "number": "1"}, "at key 'number': expected int, got str"),
    (Address, {"street": "M", "number": 1, "floor": None},
     "at key 'floor': expected int, got NoneType"),
    (Partial, {"note": 1}, "at key 'note': expected str, got int"),
]


@pytest.mark.parametrize(("hint", "value"), FITS)
def test_values_that_fit_their_hint(hint: Any, value: Any) -> None:
    """Each supported hint accepts the JSON-shaped values it describes."""
    assert mismatch(value, hint) is None


@pytest.mark.parametrize(("hint", "value", "why"), MISFITS)
def test_values_that_do_not_fit_say_why(hint: Any, value: Any, why: str) -> None:
    """A value of the wrong shape is rejected with the path to the offending part."""
    assert mismatch(value, hint) == why


def test_typeddict_with_keys_of_mixed_types_is_described_not_crashing() -> None:
    """Unknown keys that are not all strings are listed, not a TypeError from sorting them."""
    assert mismatch({"street": "M", "number": 1, 2: "x", "b": 1}, Address) == (
        "Address has unknown keys 2, b"
    )


@pytest.mark.parametrize(
    ("hint", "text"),
    [
        (int, "int"),
        (None, "None"),
        (Any, "Any"),
        (int | None, "int | None"),
        (Optional[str], "Optional[str]"),  # noqa: UP045
        (list[int], "list[int]"),
        (dict[str, float], "dict[str, float]"),
        (tuple[int, ...], "tuple[int, ...]"),
        (Literal["a"], "Literal['a']"),
        (Address, "Address"),
    ],
)
def test_describe_writes_hints_as_in_code(hint: Any, text: str) -> None:
    """Hints are named in error messages the way a programmer wrote them."""
    assert describe(hint) == text


# -- property tests ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=20,
)


@given(json_values)
def test_any_accepts_every_json_value(value: Any) -> None:
    """``Any`` puts no constraint on a JSON value."""
    assert mismatch(value, Any) is None


@given(st.lists(st.integers()))
def test_lists_of_ints_fit_list_of_int(value: list[int]) -> None:
    """Any list of ints fits ``list[int]``."""
    assert mismatch(value, list[int]) is None


@given(st.dictionaries(st.text(), st.integers() | st.floats(allow_nan=False)))
def test_str_keyed_dicts_of_numbers_fit_dict_of_float(value: dict[str, float]) -> None:
    """Any str-keyed dict of ints and floats fits ``dict[str, float]`` (an int is a float)."""
    assert mismatch(value, dict[str, float]) is None


@given(st.lists(st.integers(), min_size=1), st.data())
def test_one_bool_in_a_list_of_int_is_found(value: list[int], data: st.DataObject) -> None:
    """Slipping a bool anywhere into a list of ints is caught, at its index."""
    index = data.draw(st.integers(0, len(value) - 1))
    value[index] = True
    assert mismatch(value, list[int]) == f"at index {index}: expected int, got bool"


# -- JobSignature: binding arguments ----------------------------------------------------------


def charge(invoice_id: int, amount: float, note: str | None = None) -> None:
    """A job with a required int, a required float and an optional str."""


def test_bind_maps_positional_and_keyword_arguments_by_name() -> None:
    """Positional arguments take the parameters' names; defaults are not filled in."""
    sig = signature(charge, "charge")
    assert sig.bind((7,), {"amount": 2}) == {"invoice_id": 7, "amount": 2}
    assert sig.bind((7, 2.5, "x"), {}) == {"invoice_id": 7, "amount": 2.5, "note": "x"}


def test_a_wrong_type_names_job_argument_expected_type_and_value() -> None:
    """The message says which job, which argument, what was expected and what came."""
    sig = signature(charge, "charge")
    with pytest.raises(ArgumentError) as caught:
        sig.bind((), {"invoice_id": "7", "amount": 1.0})
    assert str(caught.value) == (
        "job 'charge': argument 'invoice_id' expected int, got '7'"
    )


def test_optional_argument_message_names_the_union() -> None:
    """An optional argument's expected type is written as in the code."""
    sig = signature(charge, "charge")
    with pytest.raises(ArgumentError, match=r"argument 'note' expected str \| None, got 5"):
        sig.bind((1, 1.0), {"note": 5})


def test_bool_is_not_accepted_as_an_int_argument() -> None:
    """``True`` is an int in Python but not in a job's signature."""
    with pytest.raises(ArgumentError, match="argument 'invoice_id' expected int, got True"):
        signature(charge, "charge").bind((True, 1.0), {})


def test_missing_required_argument_is_named_with_its_type() -> None:
    """Leaving out a required argument names it and its type."""
    with pytest.raises(ArgumentError, match=r"job 'charge': missing required argument "
                       r"'amount' \(float\)"):
        signature(charge, "charge").bind((1,), {})


def test_unexpected_argument_lists_what_the_job_takes() -> None:
    """A misspelt keyword is named, with the job's real arguments."""
    with pytest.raises(ArgumentError, match=r"unexpected argument 'amout' \(the job takes "
                       r"invoice_id, amount, note\)"):
        signature(charge, "charge").bind((1,), {"amout": 1.0})


def test_too_many_positional_arguments() -> None:
    """More positional arguments than parameters is an error counting both."""
    with pytest.raises(ArgumentError, match=r"job 'charge' takes 3 arguments \(invoice_id, "
                       r"amount, note\), got 4 positional"):
        signature(charge, "charge").bind((1, 1.0, None, 4), {})


def test_an_argument_given_twice() -> None:
    """Passing the same argument positionally and by keyword is an error."""
    with pytest.raises(ArgumentError, match="argument 'invoice_id' given twice"):
        signature(charge, "charge").bind((1,), {"invoice_id": 2, "amount": 1.0})


def test_a_job_without_arguments_says_so() -> None:
    """A job taking nothing explains that in its error."""

    def tick() -> None: ...

    with pytest.raises(ArgumentError, match=r"takes 0 arguments \(none\), got 1"):
        signature(tick, "tick").bind((1,), {})
    with pytest.raises(ArgumentError, match=r"the job takes no arguments"):
        signature(tick, "tick").bind((), {"x": 1})


def test_unannotated_arguments_accept_anything() -> None:
    """An argument without a hint is checked only for presence."""

    def legacy(a, b=1):  # type: ignore[no-untyped-def]
        ...

    sig = signature(legacy)
    assert sig.parameters["a"].hint is Any and sig.parameters["a"].required
    assert not sig.parameters["b"].required
    assert sig.bind(({"any": [1]},), {}) == {"a": {"any": [1]}}


def test_typeddict_argument_is_checked_deeply() -> None:
    """A TypedDict argument reports the missing key, naming the job and argument."""

    def ship(to: Address) -> None: ...

    sig = signature(ship, "ship")
    assert sig.bind(({"street": "Main", "number": 1},), {})
    with pytest.raises(ArgumentError, match=r"job 'ship': argument 'to' expected Address, got "
                       r"\{'street': 'Main'\} \(Address is missing number\)"):
        sig.bind(({"street": "Main"},), {})


def test_keyword_only_arguments_are_supported() -> None:
    """Keyword-only parameters are ordinary named arguments."""

    def job(a: int, *, b: str = "x") -> None: ...

    assert signature(job).bind((1,), {"b": "y"}) == {"a": 1, "b": "y"}


class Mailer:
    """A callable object used as a job."""

    def __call__(self, to: str, retries: int = 0) -> None: ...


def test_callable_objects_are_checked_against_their_call_method() -> None:
    """An instance with ``__call__`` is a job whose arguments are those of ``__call__``."""
    sig = signature(Mailer(), "mail")
    assert list(sig.parameters) == ["to", "retries"] and sig.parameters["to"].hint is str
    with pytest.raises(ArgumentError, match="argument 'to' expected str, got 1"):
        sig.bind((1,), {})


def test_partials_keep_the_hints_of_their_function() -> None:
    """A ``functools.partial`` takes the remaining arguments, with their hints."""
    sig = signature(functools.partial(charge, 7), "charge")
    assert list(sig.parameters) == ["amount", "note"]
    with pytest.raises(ArgumentError, match="argument 'amount' expected float, got 'x'"):
        sig.bind(("x",), {})


# -- JobSignature: the Context parameter -------------------------------------------------------


def test_first_parameter_annotated_context_is_the_context() -> None:
    """A first parameter typed `Context` is the context, whatever its name."""

    def job(c: Context, n: int) -> None: ...

    sig = signature(job)
    assert sig.takes_context and list(sig.parameters) == ["n"]


def test_context_subclass_counts_as_context() -> None:
    """A subclass of `Context` in first position is also the context."""

    def job(c: MyContext, n: int) -> None: ...

    assert signature(job).takes_context


class MyContext(Context):
    """A user's own context type."""


@pytest.mark.parametrize("name", ["ctx", "context"])
def test_unannotated_ctx_or_context_first_is_the_context(name: str) -> None:
    """An unannotated first parameter named ctx or context is the context."""
    namespace: dict[str, Any] = {}
    exec(f"def job({name}, n: int): pass", {"int": int}, namespace)
    sig = signature(namespace["job"])
    assert sig.takes_context and list(sig.parameters) == ["n"]


def test_ctx_annotated_with_a_data_type_is_an_argument() -> None:
    """A first parameter named ctx but typed int is a plain argument."""

    def job(ctx: int) -> None: ...

    sig = signature(job)
    assert not sig.takes_context and list(sig.parameters) == ["ctx"]


def test_ctx_that_is_not_first_is_an_argument() -> None:
    """Only the first parameter can be the context."""

    def job(n, ctx):  # type: ignore[no-untyped-def]
        ...

    sig = signature(job)
    assert not sig.takes_context and list(sig.parameters) == ["n", "ctx"]


def test_context_annotation_in_second_place_is_rejected() -> None:
    """A `Context` anywhere but first cannot be filled from a payload."""

    def job(n: int, c: Context) -> None: ...

    with pytest.raises(JobDefinitionError, match="argument 'c': type Context cannot be carried"):
        signature(job)


def test_a_job_taking_only_the_context_takes_no_arguments() -> None:
    """A job whose only parameter is the context binds an empty argument set."""

    def job(ctx: Context) -> None: ...

    sig = signature(job)
    assert sig.takes_context and sig.parameters == {} and sig.bind((), {}) == {}


# -- JobSignature: definitions that cannot work ------------------------------------------------


def test_custom_class_hint_is_rejected_at_decoration() -> None:
    """A class that JSON cannot carry is refused, naming job, argument and the allowed types."""

    def job(amount: Money) -> None: ...

    with pytest.raises(JobDefinitionError, match=r"job 'pay', argument 'amount': type Money "
                       r"cannot be carried in a JSON payload; use int, float"):
        signature(job, "pay")


@pytest.mark.parametrize("hint", ["list[Money]", "Money | None", "dict[str, Money]",
                                  "tuple[int, Money]", "bytes", "set[int]"])
def test_unsupported_types_nested_anywhere_are_rejected(hint: str) -> None:
    """An unsupported type inside a list, union, dict or tuple is found too."""
    namespace: dict[str, Any] = {}
    exec(f"def job(x: {hint}): pass", globals(), namespace)
    with pytest.raises(JobDefinitionError, match=r"argument 'x': type .* cannot be carried"):
        signature(namespace["job"])


def test_dict_with_int_keys_is_rejected() -> None:
    """JSON object keys are strings, so ``dict[int, str]`` cannot round-trip."""

    def job(by_id: dict[int, str]) -> None: ...

    with pytest.raises(JobDefinitionError, match=r"job 'job', argument 'by_id': dict keys must "
                       r"be str to travel as JSON, not int"):
        signature(job)


def test_typeddict_with_an_unsupported_field_is_rejected() -> None:
    """The fields of a TypedDict are checked like arguments."""

    def job(x: BadTD) -> None: ...

    with pytest.raises(JobDefinitionError, match="type Money cannot be carried"):
        signature(job)


class BadTD(TypedDict):
    """A TypedDict with a field JSON cannot carry."""

    price: Money


@pytest.mark.parametrize("definition", ["def job(*args): pass", "def job(**kwargs): pass",
                                        "def job(a: int, *rest: int): pass"])
def test_star_args_are_rejected(definition: str) -> None:
    """``*args`` and ``**kwargs`` cannot be checked or stored by name."""
    namespace: dict[str, Any] = {}
    exec(definition, {"int": int}, namespace)
    with pytest.raises(JobDefinitionError, match="are not supported; name every argument"):
        signature(namespace["job"])


def test_positional_only_arguments_are_rejected() -> None:
    """Arguments are stored by name, so positional-only ones cannot work."""

    def job(a: int, /) -> None: ...

    with pytest.raises(JobDefinitionError, match="positional-only argument 'a' is not supported"):
        signature(job)


@pytest.mark.parametrize("option", sorted(ENQUEUE_OPTIONS))
def test_argument_named_like_an_enqueue_option_is_rejected(option: str) -> None:
    """An argument called ``delay`` (or any enqueue option) would be swallowed by enqueue."""
    namespace: dict[str, Any] = {}
    exec(f"def job({option}: int): pass", {"int": int}, namespace)
    with pytest.raises(JobDefinitionError, match=rf"argument name '{option}' is reserved for "
                       "enqueue options"):
        signature(namespace["job"], "job")


def test_unresolvable_hints_are_a_definition_error() -> None:
    """A hint naming something that does not exist is reported at decoration."""
    namespace: dict[str, Any] = {}
    exec("def job(x: 'Nowhere'): pass", {}, namespace)
    with pytest.raises(JobDefinitionError, match="job 'job': cannot resolve its type hints"):
        signature(namespace["job"])


def test_nan_fits_float_here_and_is_refused_by_the_payload_encoder() -> None:
    """The type check accepts any float; NaN is refused later, when the payload is encoded."""
    assert mismatch(math.nan, float) is None

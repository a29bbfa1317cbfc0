"""The values of the expectation language: observed symbols, patterns and the syntax tree.

A run's path is a list of `Symbol` values (``load``, ``effect:charge``,
``decide:is_paid=true``, ``exit:already_paid``). An expectation is a tree of
`Atom` patterns combined by `Seq` (one after the other), `Alt` (one of) and
`Repeat` (``?``, ``*``, ``+``). An `Atom` differs from a `Symbol` only in what
it may leave open: ``*`` as a name matches any name of its kind, and a decision
without a value matches any value.

The tree is kept in one normal form so that equal expectations compare equal:
a `Seq` holds at least two items and none of them is a `Seq`; an `Alt` holds at
least two options and none of them is an `Alt`. Build trees with `seq` and
`alt`, which keep that form, rather than with the classes directly.

Nothing here imports the rest of jobtrail: the language is pure data.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Final, TypeAlias

from jobtrail.records import PointKind

KINDS: Final = (PointKind.STEP, PointKind.EFFECT, PointKind.DECIDE, PointKind.EXIT)
"""The kinds of points the language speaks of (`PointKind`s), in the order it lists them."""

WILDCARD: Final = "*"
"""The name of a pattern that matches any name of its kind (``exit:*``)."""

BARE_VALUE: Final = re.compile(r"[A-Za-z0-9_.\-]+")
"""Decision values that need no quotes; anything else is written ``"quoted"``."""




def quote_value(value: str) -> str:
    """Write a decision value as the language does: bare when it can be, else quoted."""
    if BARE_VALUE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def format_value(value: object) -> str:
    """Turn a recorded decision value into the text the language compares.

    ``True`` → ``"true"``, ``None`` → ``"null"``, ``3`` → ``"3"``, ``"gold"`` → ``"gold"``;
    enum members by their value; anything else as compact JSON.
    """
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def symbol_text(kind: str, name: str, value: str | None) -> str:
    """The language text of one symbol or pattern (steps are written bare)."""
    bare = kind == "step" and name != WILDCARD
    head = name if bare else f"{kind}:{name}"
    return head if value is None else f"{head}={quote_value(value)}"


@dataclass(frozen=True, slots=True)
class Symbol:
    """One observed point of a run's path.

    `kind` is ``"step"``, ``"effect"``, ``"decide"`` or ``"exit"``; `value` is the
    recorded decision value as text (see `format_value`) and is ``None`` for the
    other kinds. ``str()`` gives the symbol in the language.
    """

    kind: str
    name: str
    value: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"symbol kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.value is not None and self.kind != "decide":
            raise ValueError(f"only decisions carry a value, not {self.kind} {self.name!r}")

    @classmethod
    def decision(cls, name: str, value: object) -> Symbol:
        """A decision symbol, with `value` turned into text by `format_value`."""
        return cls("decide", name, format_value(value))

    def __str__(self) -> str:
        return symbol_text(self.kind, self.name, self.value)


@dataclass(frozen=True, slots=True)
class Atom:
    """A pattern for one symbol: a name of ``*`` or a value of ``None`` matches any."""

    kind: str
    name: str
    value: str | None = None

    def matches(self, symbol: Symbol) -> bool:
        """True when `symbol` is one of the symbols this pattern stands for."""
        return (
            self.kind == symbol.kind
            and (self.name == symbol.name or self.name == WILDCARD)
            and (self.value is None or self.value == symbol.value)
        )

    def __str__(self) -> str:
        return symbol_text(self.kind, self.name, self.value)


@dataclass(frozen=True, slots=True)
class Seq:
    """Its items one after the other."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    """Exactly one of its options."""

    options: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Repeat:
    """Its node zero or one (``?``), zero or more (``*``) or one or more (``+``) times."""

    node: Node
    op: str


Node: TypeAlias = Atom | Seq | Alt | Repeat


def seq(*items: Node) -> Node:
    """A sequence in normal form: nested sequences are spliced, one item stands alone."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Seq) else (item,))
    if not flat:
        raise ValueError("a sequence needs at least one item")
    return flat[0] if len(flat) == 1 else Seq(tuple(flat))


def alt(*options: Node) -> Node:
    """An alternation in normal form: nested ones are spliced, one option stands alone."""
    flat: list[Node] = []
    for option in options:
        flat.extend(option.options if isinstance(option, Alt) else (option,))
    if not flat:
        raise ValueError("an alternation needs at least one option")
    return flat[0] if len(flat) == 1 else Alt(tuple(flat))


def atoms(node: Node) -> list[Atom]:
    """Every atom of the tree, left to right, repeats included."""
    if isinstance(node, Atom):
        return [node]
    if isinstance(node, Repeat):
        return atoms(node.node)
    children = node.items if isinstance(node, Seq) else node.options
    return [atom for child in children for atom in atoms(child)]


_LITERALS: dict[object, str] = {True: "true", False: "false", None: "null"}


def decision_text(value: object) -> str:
    """A decided value as expectations spell it (`jobtrail.expect.format_value`): ``true``,
    ``false``, ``null``, ``3``, the text of a str, the value of an enum member. Anything
    else (a list, an object) is a `TypeError`: a decision records a label, not data."""
    known = _LITERALS.get(value) if type(value) is bool or value is None else None
    if known is not None:
        return known
    label = value.value if isinstance(value, enum.Enum) else value
    if label is not None and not isinstance(label, str | int | float):
        raise TypeError(f"cannot record a {type(value).__name__} as a decision")
    return format_value(label)

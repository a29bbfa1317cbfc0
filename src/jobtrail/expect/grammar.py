"""Text to tree and back: the tokenizer, the recursive-descent parser and the renderer.

An atom (``load``, ``effect:charge``, ``is_paid=true``, ``decide:tier="gold plus"``,
``exit:*``) is one token, read without spaces inside it; operators (``|``, ``?``,
``*``, ``+``, ``(``, ``)``) are tokens of their own; whitespace separates items of a
sequence. The parser follows the precedence postfix > sequence > ``|`` and builds
the normal-form tree of `jobtrail.expect.nodes`. `render` writes a tree back as
canonical text, which `parse_node` reads back to an equal tree.

Every mistake raises `ExpectationError` with the column of the character the parser
could not accept, except where the culprit is something left open: a dangling
``|`` or an unclosed ``(`` is pointed at itself. See docs/expectations.md.
"""

from __future__ import annotations

import difflib
import string
from typing import Final, NamedTuple

from jobtrail.errors import ExpectationError
from jobtrail.expect.nodes import (
    KINDS,
    WILDCARD,
    Alt,
    Atom,
    Node,
    Repeat,
    Seq,
    alt,
    seq,
)

NAME_START: Final = frozenset(string.ascii_letters + "_")
WORD_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_-.")
SPACES: Final = frozenset(" \t\r\n")
POSTFIX: Final = frozenset("?*+")
OPERATORS: Final = frozenset("|?*+()")
MAX_DEPTH: Final = 64
"""Groups nest at most this deep, so a hostile expression cannot exhaust the stack."""


class Token(NamedTuple):
    """One token: an operator character, ``"atom"`` or ``"end"``, and its 1-based column."""

    kind: str
    column: int
    atom: Atom | None = None


class _Lexer:
    """Splits an expression into tokens, reading each atom whole."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, pos: int, reason: str) -> ExpectationError:
        return ExpectationError(self.text, pos + 1, reason)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def tokens(self) -> list[Token]:
        found: list[Token] = []
        while True:
            while self.peek() in SPACES:
                self.pos += 1
            char = self.peek()
            if not char:
                found.append(Token("end", self.pos + 1))
                return found
            if char in OPERATORS:
                found.append(Token(char, self.pos + 1))
                self.pos += 1
            elif char in WORD_CHARS:
                found.append(Token("atom", self.pos + 1, self.atom()))
            else:
                raise self.fail(self.pos, _stray(char))

    def word(self) -> str:
        start = self.pos
        # peek() is "" at the end, which is in no character set.
        while self.peek() in WORD_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def checked(self, start: int, name: str) -> str:
        """`name`, read from `start`, if it starts as a name must."""
        if name[0] not in NAME_START:
            raise self.fail(start, f'a name must start with a letter or "_", not "{name[0]}"')
        return name

    def prefixed_name(self, prefix: str) -> str:
        """The name after ``prefix:``: a name, or ``*`` standing alone."""
        start = self.pos
        if self.peek() == WILDCARD:
            self.pos += 1
            if self.peek() in WORD_CHARS:
                raise self.fail(self.pos, f'"*" stands for a whole name; write {prefix}:*')
            return WILDCARD
        name = self.word()
        if not name:
            raise self.fail(start, f'expected a name after "{prefix}:"')
        return self.checked(start, name)

    def atom(self) -> Atom:
        """One atom, whole: ``[prefix:]name[=value]``."""
        start = self.pos
        word = self.word()
        if self.peek() == ":":
            if word not in KINDS:
                raise self.fail(start, _unknown_prefix(word))
            self.pos += 1
            kind, name, explicit = word, self.prefixed_name(word), True
        else:
            kind, name, explicit = "step", self.checked(start, word), False
        if self.peek() != "=":
            return Atom(kind, name)
        if kind != "decide" and explicit:
            shown = self.text[start : self.pos]
            raise self.fail(self.pos, f"{shown} cannot take a value; only decisions do")
        self.pos += 1
        return Atom("decide", name, self.value(self.text[start : self.pos]))

    def value(self, head: str) -> str:
        """The value after ``head`` (which ends in ``=``): a word or a quoted string."""
        if self.peek() == '"':
            return self.quoted()
        value = self.word()
        if not value:
            raise self.fail(self.pos, f'expected a value after "{head}"')
        return value

    def quoted(self) -> str:
        """A double-quoted value, where only ``\\"`` and ``\\\\`` are escapes."""
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(chars)
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped not in ('"', "\\"):
                    reason = 'only \\" and \\\\ may be escaped in a quoted value'
                    raise self.fail(self.pos, reason)
                chars.append(escaped)
                self.pos += 2
            else:
                chars.append(char)
                self.pos += 1
        raise self.fail(start, "quoted value is never closed")


def _stray(char: str) -> str:
    """Why a character that cannot start a token is there."""
    if char == ":":
        return '":" must follow a prefix: step, effect, decide or exit'
    if char == "=":
        return '"=" must follow a decision name'
    if char == '"':
        return 'a quoted value must follow "="'
    shown = f'"{char}"' if char.isprintable() else repr(char)
    return f"unexpected character {shown}"


def _unknown_prefix(word: str) -> str:
    """An unknown-prefix message, suggesting the closest real prefix if one is close."""
    close = difflib.get_close_matches(word.lower(), KINDS, n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}:"?' if close else "use step:, effect:, decide: or exit:"
    return f'unknown prefix "{word}:"; {hint}'


class _Parser:
    """Recursive descent over the token list; one method per precedence level."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def fail(self, column: int, reason: str) -> ExpectationError:
        return ExpectationError(self.text, column, reason)

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expression(self) -> Node:
        node = self.alternation(None, 0)
        token = self.peek()
        if token.kind != "end":
            raise self.fail(token.column, 'unmatched ")"')
        return node

    def alternation(self, opener: Token | None, depth: int) -> Node:
        options = [self.sequence(opener, depth)]
        while self.peek().kind == "|":
            options.append(self.sequence(self.take(), depth))
        return alt(*options)

    def sequence(self, before: Token | None, depth: int) -> Node:
        items: list[Node] = []
        while self.peek().kind in ("atom", "("):
            items.append(self.postfixed(depth))
        if not items:
            raise self.missing_operand(before, self.peek())
        return seq(*items)

    def postfixed(self, depth: int) -> Node:
        node = self.primary(depth)
        if self.peek().kind in POSTFIX:
            op = self.take().kind
            node = Repeat(node, op)
            after = self.peek()
            if after.kind in POSTFIX:
                reason = f'"{after.kind}" cannot follow "{op}"; put the repeated part in ( )'
                raise self.fail(after.column, reason)
        return node

    def primary(self, depth: int) -> Node:
        token = self.take()
        if token.atom is not None:
            return token.atom
        if depth >= MAX_DEPTH:
            raise self.fail(token.column, f"groups nest deeper than {MAX_DEPTH}")
        node = self.alternation(token, depth + 1)
        if self.take().kind != ")":
            raise self.fail(token.column, '"(" is never closed')
        return node

    def missing_operand(self, before: Token | None, token: Token) -> ExpectationError:
        """The error for a place where an item should start but `token` stands instead."""
        opened = before.kind if before is not None else ""
        if token.kind in POSTFIX:
            return self.fail(token.column, f'"{token.kind}" has nothing before it to repeat')
        if token.kind == "|":
            reason = 'empty alternative between two "|"' if opened == "|" else 'nothing before "|"'
            return self.fail(token.column, reason)
        if token.kind == ")":
            reasons = {"(": 'empty group "()"', "|": 'nothing between "|" and ")"'}
            return self.fail(token.column, reasons.get(opened, 'unmatched ")"'))
        if before is None:
            return self.fail(1, "empty expression")
        if opened == "|":
            return self.fail(before.column, 'nothing after "|"')
        return self.fail(before.column, '"(" is never closed')


def parse_node(text: str) -> Node:
    """Parse an expectation's text into its normal-form tree, or raise `ExpectationError`."""
    return _Parser(text, _Lexer(text).tokens()).expression()


def render(node: Node) -> str:
    """Canonical text for a tree: single spaces, `` | `` between options, the fewest ``( )``."""
    if isinstance(node, Atom):
        return str(node)
    if isinstance(node, Repeat):
        inner = render(node.node)
        return f"{inner}{node.op}" if isinstance(node.node, Atom) else f"({inner}){node.op}"
    if isinstance(node, Seq):
        return " ".join(f"({render(i)})" if isinstance(i, Alt) else render(i) for i in node.items)
    return " | ".join(render(option) for option in node.options)

"""Suppression comments of the flow lint: ``# jobtrail: allow <rule> — <reason>``.

Comments are read with `tokenize`, so a ``#`` inside a string is never taken for one.

- A comment after code on a line applies to that line.
- A comment alone on its line applies to the next line of code; other comment-only lines
  may stand between them (so several directives can be stacked), a blank line may not.
- Several rules may share one reason: ``# jobtrail: allow silent-exit, unreachable — why``.
- The separator before the reason is an em dash ``—`` (or an en dash, U+2013), ``--``, ``-``
  or ``:``. The reason is required: it must contain a letter or a digit.

A comment that starts with ``jobtrail:`` but is not a valid directive (no rule, an unknown
rule, no separator, no reason, or a word other than ``allow``) silences nothing: it comes
back as a `Directive` with a ``problem``, which the lint reports as a ``bad-suppression``.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Collection
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"#+\s*jobtrail\s*:\s*(?P<rest>.*)\Z", re.IGNORECASE | re.DOTALL)
_VERB = re.compile(r"(?P<verb>[A-Za-z_][\w-]*)?")
_RULE = re.compile(r"\s*(?P<rule>\w+(?:-\w+)*)")
_COMMA = re.compile(r"\s*,")
_SEPARATOR = re.compile("\\s*(?:\u2014|\u2013|--|-|:)")  # em dash, en dash, --, -, :
_NOT_CODE = frozenset({
    tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
    tokenize.ENCODING, tokenize.ENDMARKER,
})
SYNTAX = "# jobtrail: allow <rule> — <reason>"


@dataclass(frozen=True, slots=True)
class Directive:
    """One ``# jobtrail:`` comment.

    ``line`` is the comment's line, ``targets`` the lines of code it silences,
    ``rules`` the known rules it names and ``reason`` the text after the separator.
    ``problem`` says why it is not a valid suppression (``None`` when it is); an invalid
    directive silences nothing.
    """

    line: int
    targets: tuple[int, ...]
    rules: tuple[str, ...]
    reason: str
    problem: str | None
    text: str

    def allows(self, rule: str, line: int) -> bool:
        """True when this directive is valid and silences *rule* on *line*."""
        return self.problem is None and rule in self.rules and line in self.targets


def read_directives(source: str, *, first_line: int, rules: Collection[str]) -> list[Directive]:
    """The ``# jobtrail:`` comments of *source*, whose line 1 is line *first_line* of its
    file (lines in the result are file lines). *rules* are the rule names a directive
    may allow."""
    comments: list[tuple[int, str]] = []
    code_rows: set[int] = set()
    comment_rows: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments.append((token.start[0], token.string))
                comment_rows.add(token.start[0])
            elif token.type not in _NOT_CODE:
                code_rows.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - the source parsed already
        pass
    shift = first_line - 1
    found = []
    for row, text in comments:
        parsed = parse_directive(text, rules)
        if parsed is None:
            continue
        names, reason, problem = parsed
        targets = tuple(target + shift for target in _targets(row, code_rows, comment_rows))
        found.append(Directive(row + shift, targets, names, reason, problem, text.strip()))
    return found


def parse_directive(
    comment: str, rules: Collection[str]
) -> tuple[tuple[str, ...], str, str | None] | None:
    """``(rules, reason, problem)`` of a comment, or ``None`` when it is no ``jobtrail:``
    directive at all. ``problem`` is ``None`` for a valid directive."""
    match = _DIRECTIVE.match(comment.strip())
    if match is None:
        return None
    rest = match.group("rest").strip()
    verb_match = _VERB.match(rest)
    verb = verb_match.group("verb") if verb_match else None
    if verb is None or verb.lower() != "allow":
        shown = f"{verb!r}" if verb else "nothing"
        return (), "", f"says {shown} where `allow` belongs"
    position = verb_match.end() if verb_match else 0
    names: list[str] = []
    unknown: list[str] = []
    while True:
        rule_match = _RULE.match(rest, position)
        if rule_match is None:
            break
        name = rule_match.group("rule")
        (names if name in rules else unknown).append(name)
        position = rule_match.end()
        comma = _COMMA.match(rest, position)
        if comma is None:
            break
        position = comma.end()
    problems: list[str] = []
    if not names and not unknown:
        problems.append("names no rule")
    for name in unknown:
        problems.append(f"names unknown rule {name!r} (known: {', '.join(sorted(rules))})")
    separator = _SEPARATOR.match(rest, position)
    reason = rest[separator.end():].strip() if separator else ""
    if separator is None and rest[position:].strip():
        problems.append(
            f"has no separator before its reason {rest[position:].strip()!r} "
            "(write —, --, - or : after the rule)"
        )
    elif not re.search(r"[^\W_]", reason):
        problems.append("gives no reason (the reason is required)")
    return tuple(names), reason, "; ".join(problems) or None


def _targets(row: int, code_rows: set[int], comment_rows: set[int]) -> tuple[int, ...]:
    """The rows a comment on *row* silences: its own row when it follows code there, else
    the next row of code, across comment-only rows but not across blank ones."""
    if row in code_rows:
        return (row,)
    following = row + 1
    while following in comment_rows and following not in code_rows:
        following += 1
    return (following,) if following in code_rows else ()

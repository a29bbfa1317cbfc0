"""Tables that fit the terminal they are printed on.

Every table the command line prints is made by `table`, from columns that say how their
text gives way when the terminal is narrow:

- ``whole``: ids, numbers, statuses, times — never cut, never wrapped;
- ``elide``: names, error summaries — one line, the middle elided with "…" (the start and
  the end kept);
- ``wrap``: paths, messages, details — over several lines, the middle of text longer than
  `MAX_LINES` lines elided.

A column marked ``optional`` is left out when the others would not fit beside it. On a
console as wide as ``--wide`` makes it (`WIDE`), everything fits: every text is shown
whole. Control characters of stored text are shown escaped (``\\n``, ``\\x1b``), never
sent to the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.style import Style
from rich.table import Table
from rich.text import Text

Fit = Literal["whole", "elide", "wrap"]
#: How wide ``--wide`` makes the console: wider than any line jobtrail prints.
WIDE = 1_000_000
#: Lines a wrapped cell takes at most before the middle of its text is elided.
MAX_LINES = 6
#: The narrowest an elided or wrapped column gets (or its header's width, if wider) before
#: optional columns give way, and after, when whole columns leave no more room.
MIN_FLEXIBLE = 8
HARDEST = 4
#: Columns are this many cells apart.
GAP = 2
ELLIPSIS = "…"
#: Characters shown escaped: C0 and C1 controls, DEL, and the Unicode line separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")

Cell = str | Text


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a `table`: its header, how its text fits (see the module), its
    alignment and style, and whether it may be left out for room (`narrowest`: before
    this column gets narrower than that)."""

    header: str
    fit: Fit = "whole"
    justify: JustifyMethod = "left"
    style: str = ""
    optional: bool = False
    #: How narrow an elided or wrapped column may get before optional columns give way.
    narrowest: int = MIN_FLEXIBLE

    @property
    def min_width(self) -> int:
        """The narrowest this column may be made."""
        return cell_len(self.header) if self.fit == "whole" else max(
            self.narrowest, cell_len(self.header))


#: In a table's rows: a break (a blank line) between the rows before and after.
SECTION = None


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char)
    if named:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def visible(text: str, *, newlines: bool = False) -> str:
    """*text* with its control characters escaped (``\\n`` kept as a line break when
    *newlines*), so that stored text can neither break a table's rows nor drive the
    terminal."""
    pattern = _CONTROL_BUT_NEWLINE if newlines else _CONTROL
    return pattern.sub(_escape, text)


def shown(value: Cell, *, newlines: bool = False, style: str | Style = "") -> Text:
    """*value* as text safe to print (see `visible`); a `Text` keeps its styles unless a
    control character had to be escaped."""
    if isinstance(value, Text):
        plain = value.plain
        escaped = visible(plain, newlines=newlines)
        return value if escaped == plain else Text(escaped, style=value.style)
    return Text(visible(value, newlines=newlines), style=style)


def _cut(text: Text, cells: int, *, from_end: bool) -> Text:
    """The first (or last) characters of *text* that fill at most *cells* cells."""
    chars, used = 0, 0
    plain = text.plain
    order = reversed(plain) if from_end else iter(plain)
    for char in order:
        width = cell_len(char)
        if used + width > cells:
            break
        used += width
        chars += 1
    return text[len(plain) - chars:] if from_end else text[:chars]


def elide(text: Text, width: int) -> Text:
    """*text* in at most *width* cells: whole when it fits, else its start and its end
    with "…" between them (the start gets the extra cell)."""
    if cell_len(text.plain) <= width:
        return text
    if width <= 1:
        return Text(ELLIPSIS[:width])
    room = width - 1
    end = _cut(text, room // 2, from_end=True)
    start = _cut(text, room - cell_len(end.plain), from_end=False)
    return Text.assemble(start, ELLIPSIS, end)


def _natural(value: Text) -> int:
    return max((cell_len(line) for line in value.plain.split("\n")), default=0)


def _share(columns: Sequence[Column], natural: list[int], room: int,
           least: Callable[[Column], int]) -> list[int] | None:
    """The widths of *columns* in *room* cells: whole columns at their natural width, the
    others at *least* (or their natural width, if less), and what room is left shared
    among those that want more, the smallest wants served first; ``None`` when they do
    not fit so."""
    flexible = [i for i, column in enumerate(columns) if column.fit != "whole"]
    widths = list(natural)
    for i in flexible:
        widths[i] = min(natural[i], least(columns[i]))
    left = room - sum(widths)
    if left < 0:
        return None
    wanting = sorted((i for i in flexible if widths[i] < natural[i]),
                     key=lambda i: natural[i] - widths[i])
    for index, i in enumerate(wanting):
        extra = min(natural[i] - widths[i], left // (len(wanting) - index))
        widths[i] += extra
        left -= extra
    return widths


def _widths(columns: Sequence[Column], natural: list[int], width: int) -> dict[int, int]:
    """The width of each column shown, by index: all at their natural width if they fit;
    else elided and wrapped columns narrower, down to their `Column.min_width`; else
    without the optional columns, leftmost first; else as narrow as `HARDEST` allows."""
    keep = list(range(len(columns)))
    while True:
        room = width - GAP * (len(keep) - 1)
        chosen = [columns[i] for i in keep]
        sizes = [natural[i] for i in keep]
        found = sizes if sum(sizes) <= room else _share(
            chosen, sizes, room, lambda c: c.min_width)
        if found is not None:
            return dict(zip(keep, found, strict=True))
        optional = [i for i in keep if columns[i].optional]
        if not optional:
            break
        keep.remove(optional[0])
    found = _share(chosen, sizes, room, lambda c: HARDEST) or [
        size if column.fit == "whole" else min(size, HARDEST)
        for column, size in zip(chosen, sizes, strict=True)]
    return dict(zip(keep, found, strict=True))


def table(columns: Sequence[Column], rows: Sequence[Sequence[Cell] | None], width: int,
          *, title: str | Text | None = None, caption: str | None = None,
          grid: bool = False) -> Table:
    """A table of *rows* (`SECTION` between two breaks them) that fits in *width* cells
    (see the module); a *grid* has neither headers nor lines. Whole columns alone wider
    than that still show whole."""
    shaped = [None if row is None else [
        shown(cell, newlines=column.fit == "wrap", style=column.style)
        for column, cell in zip(columns, row, strict=True)] for row in rows]
    natural = [max([cell_len(column.header), *(_natural(row[i]) for row in shaped if row)])
               for i, column in enumerate(columns)]
    widths = _widths(columns, natural, width)
    result = Table(title=title, caption=caption, title_justify="left", caption_justify="left",
                   header_style="bold", box=None if grid else box.SIMPLE_HEAD,
                   show_header=not grid, show_edge=False, pad_edge=False, collapse_padding=True,
                   padding=(0, GAP) if grid else (0, 1))
    for i, column_width in widths.items():
        column = columns[i]
        result.add_column(column.header, justify=column.justify, width=column_width,
                          no_wrap=column.fit != "wrap",
                          overflow="fold" if column.fit == "wrap" else "ellipsis")
    for row in shaped:
        if row is None:
            result.add_section()
            continue
        result.add_row(*(_fitted(columns[i], row[i], column_width)
                         for i, column_width in widths.items()))
    return result


def _fitted(column: Column, value: Text, width: int) -> Text:
    if column.fit == "elide":
        return elide(value, width)
    if column.fit == "wrap" and _lines(value, width) > MAX_LINES:
        flowing = value if "\n" not in value.plain else shown(value.plain, style=value.style)
        return elide(flowing, width * MAX_LINES)
    return value


def _lines(value: Text, width: int) -> int:
    """About how many lines *value* takes wrapped in *width* cells."""
    return sum(max(1, -(-cell_len(line) // width)) for line in value.plain.split("\n"))

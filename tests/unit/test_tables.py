"""Tables that fit: the middle of long text elided, control characters escaped, columns
sized to the terminal without ever cutting a whole one."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobtrail.cli.tables import MAX_LINES, SECTION, WIDE, Column, elide, shown, table, visible


def render(printed: Table, width: int) -> list[str]:
    out = Console(width=width, highlight=False, color_system=None)
    with out.capture() as captured:
        out.print(printed)
    return captured.get().splitlines()


@pytest.mark.parametrize("width", [1, 2, 3, 10, 11, 40])
def test_elide_keeps_the_start_and_the_end_in_exactly_the_width(width: int) -> None:
    """A text too long for *width* cells keeps its start and end around one "…", filling
    the width exactly; the start gets the extra cell."""
    text = "START" + "-" * 100 + "END"
    cut = elide(Text(text), width).plain
    assert cell_len(cut) == width
    if width > 1:
        head, tail = cut.split("…")
        assert text.startswith(head) and text.endswith(tail) and len(head) >= len(tail)
    else:
        assert cut == "…"


def test_elide_leaves_a_text_that_fits_and_keeps_its_style() -> None:
    """What fits is returned as it is; an elided text keeps the style of its parts."""
    fits = Text("short", style="red")
    assert elide(fits, 5) is fits
    cut = elide(Text("abcdefghij", style="red"), 5)
    assert cut.plain == "ab…ij" and all(span.style == "red" for span in cut.spans)


def test_elide_counts_cells_not_characters() -> None:
    """Wide characters (CJK, emoji) take two cells: the elided text never overflows."""
    text = Text("漢字" * 20 + "🎉" * 10)
    for width in range(1, 30):
        assert cell_len(elide(text, width).plain) <= width


def test_visible_escapes_every_control_character() -> None:
    """Line breaks, tabs, escape sequences, DEL, C1 controls and Unicode line separators
    are written out; a newline stays a line break only when asked."""
    hostile = "a\nb\tc\x1b[31md\x7fe\x85f\u2028g\x00"
    assert visible(hostile) == "a\\nb\\tc\\x1b[31md\\x7fe\\x85f\\u2028g\\x00"
    assert visible("one\ntwo\x1b", newlines=True) == "one\ntwo\\x1b"
    assert visible("plain ünïcode 漢字") == "plain ünïcode 漢字"


def test_shown_keeps_a_styled_text_unless_it_had_to_escape() -> None:
    """A safe Text comes back as it was; one holding a control character is rebuilt with
    its style."""
    safe = Text("ok", style="green")
    assert shown(safe) is safe
    escaped = shown(Text("bad\x1b", style="green"))
    assert escaped.plain == "bad\\x1b" and escaped.style == "green"


COLUMNS = (
    Column("ID", justify="right"), Column("Name", "elide"), Column("Status"),
    Column("When", optional=True), Column("Message", "wrap", narrowest=20),
)


def rows(count: int, name: str, message: str) -> list[tuple[str, ...]]:
    return [(str(10**18 + i), name, "succeeded", "2026-12-05 10:00:00", message)
            for i in range(count)]


def test_a_table_that_fits_is_left_as_it_is() -> None:
    """Every column at its natural width, nothing elided or left out."""
    lines = render(table(COLUMNS, rows(2, "short", "fine"), 200), 200)
    assert lines[0].split() == ["ID", "Name", "Status", "When", "Message"]
    assert "…" not in "\n".join(lines)


@pytest.mark.parametrize("width", range(48, 130, 7))
def test_a_narrow_table_never_overflows_and_never_cuts_an_id(width: int) -> None:
    """At any width the whole columns fit in, no line is wider and every id is whole."""
    lines = render(table(COLUMNS, rows(3, "n" * 150, "word " * 80), width), width)
    assert max(cell_len(line) for line in lines) <= width
    ids = [line.split()[0] for line in lines if line.strip().startswith("1000")]
    assert ids == [str(10**18 + i) for i in range(3)]


def test_optional_columns_give_way_before_text_gets_too_narrow() -> None:
    """The optional column is left out when the message would get narrower than it asks."""
    wide_enough = render(table(COLUMNS, rows(1, "name", "m" * 30), 100), 100)
    assert "When" in wide_enough[0]
    narrow = render(table(COLUMNS, rows(1, "name", "m" * 30), 70), 70)
    assert "When" not in narrow[0] and "m" * 20 in "\n".join(narrow)


def test_a_wrapped_cell_is_elided_past_its_most_lines() -> None:
    """A wrapped text longer than MAX_LINES lines keeps its start and end."""
    message = "BEGIN" + "x" * 2000 + "FINISH"
    lines = render(table(COLUMNS, rows(1, "name", message), 80), 80)
    body = [line for line in lines[2:] if line.strip()]
    assert len(body) <= MAX_LINES and "BEGIN" in body[0] and body[-1].rstrip().endswith("FINISH")


def test_wide_shows_everything_whole() -> None:
    """As wide as --wide makes the console, the longest texts come out whole."""
    name, message = "N" * 300, "M" * 3000
    lines = render(table(COLUMNS, rows(1, name, message), WIDE), WIDE)
    assert name in lines[2] and message in lines[2] and "…" not in lines[2]


def test_sections_and_newlines_in_cells() -> None:
    """SECTION leaves a blank line between rows; a newline in an elided cell is shown
    escaped, in a wrapped one it breaks the line."""
    printed = table(COLUMNS, [("1", "a\nb", "ok", "-", "x\ny"), SECTION,
                              ("2", "c", "ok", "-", "z")], 80)
    lines = render(printed, 80)
    assert any("a\\nb" in line for line in lines)
    assert [line.split()[0] for line in lines[2:] if line.strip()] == ["1", "y", "2"]
    assert lines[4].strip() == ""
    assert any(line.rstrip().endswith("y") and "a\\nb" not in line for line in lines)

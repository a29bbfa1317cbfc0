"""The ledger: every effect performed, as the outside world saw it, one line each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LedgerLine:
    """One performed effect, as the outside world saw it."""

    key: str
    job_id: int
    attempt: int
    pid: int
    at: float  # epoch seconds


def read_ledger(path: Path) -> tuple[list[LedgerLine], list[str]]:
    """The ledger's lines, and the lines that could not be read."""
    lines: list[LedgerLine] = []
    bad: list[str] = []
    if not path.exists():
        return lines, bad
    for text in path.read_text(errors="replace").splitlines():
        parts = text.split()
        try:
            key, job_id, attempt, pid, at = parts
            lines.append(LedgerLine(key, int(job_id), int(attempt), int(pid), float(at)))
        except ValueError:
            bad.append(text)
    return lines, bad

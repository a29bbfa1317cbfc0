"""What the flow lint reports: a `LintFinding`, or a `Suppressed` one with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One mistake: the rule, the job, where it is (a real line of *file*) and what to do."""

    rule: str
    job_name: str
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A finding silenced by a ``# jobtrail: allow`` comment, with the reason it gives."""

    finding: LintFinding
    reason: str


def order(finding: LintFinding) -> tuple[str, int, str, str, str]:
    """The key findings are sorted by: file, line, then rule, job and message."""
    return finding.file, finding.line, finding.rule, finding.job_name, finding.message

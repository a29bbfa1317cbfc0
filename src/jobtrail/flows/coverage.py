"""The three-way check: code (the static graph) against intent (``expect=``) against
reality (the paths runs recorded).

For one job it answers:

- code paths the expectation forbids, and expected paths the code cannot produce
  (`jobtrail.flows.compare`);
- recorded paths the code cannot explain — instrumentation missing, or the code changed
  since those runs;
- code paths never observed in recorded runs (untested paths), and path coverage: the
  share of the code's paths (ending without an exception, loops taken at most once more)
  that some recorded run took.

A run that stopped for good partway (dead, orphaned, cancelled: `split_runs`) is explained
when its points are how some code path begins: an exception from inside a step is not a
path the code lacks. What is read of the code alone (`code_side`) can be computed once
and handed to every `check` of the same code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from jobtrail.expect import ExpectationError, Symbol, parse
from jobtrail.expect.nodes import Atom, Node, Repeat, Seq
from jobtrail.flows.declared import DeclaredJob
from jobtrail.flows.graph import FlowGraph
from jobtrail.flows.language import CodePathList, Comparison, accepts, code_paths, compare
from jobtrail.records import RunRecord, Status


@dataclass(frozen=True, slots=True)
class Coverage:
    """The three-way check of one job."""

    job_name: str
    code_paths: tuple[str, ...]
    observed: tuple[str, ...]
    never_observed: tuple[str, ...]
    unexplained: dict[str, int]
    runs: int
    comparison: Comparison | None = None
    truncated: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def coverage(self) -> float | None:
        """The share of code paths some recorded run took (``None`` without code paths)."""
        if not self.code_paths:
            return None
        return len(self.observed) / len(self.code_paths)


def symbols(variant: str) -> list[Symbol] | None:
    """The points of a stored variant, a repeated point or block (``fetch+``, a loop the
    run went round several times) as two rounds; ``None`` when it cannot be read back."""
    if not variant:
        return []
    if variant.endswith("…"):
        return None
    try:
        return [Symbol(a.kind, a.name, a.value) for a in _rounds(parse(variant).ast)]
    except (ExpectationError, ValueError):
        return None


def _rounds(node: Node) -> list[Atom]:
    """The atoms of a variant's tree, each repeat gone round twice (a code path takes a
    loop at most twice)."""
    if isinstance(node, Atom):
        return [node]
    if isinstance(node, Repeat):
        once = _rounds(node.node)
        return once + once if node.op == "+" else once
    if isinstance(node, Seq):
        return [atom for item in node.items for atom in _rounds(item)]
    raise ValueError("a variant has no alternatives")


def _takes(path_tokens: tuple[str, ...], variant: tuple[str, ...]) -> bool:
    """Whether a run of *variant* took the code path: the same points, where a decision
    the code does not branch on (``decide:x``) matches any value."""
    if len(path_tokens) != len(variant):
        return False
    return all(p == v or (p.startswith("decide:") and "=" not in p and v.startswith(p + "="))
               for p, v in zip(path_tokens, variant, strict=True))


@dataclass(frozen=True, slots=True)
class CodeSide:
    """What the check reads of the code and of ``expect=`` alone: the code's paths and how
    they compare with the expectation (``None`` without one)."""

    paths: CodePathList
    comparison: Comparison | None


def code_side(job: DeclaredJob, graph: FlowGraph) -> CodeSide:
    """The part of *job*'s check that no run changes."""
    return CodeSide(code_paths(graph),
                    compare(graph, job.expectation) if job.expectation else None)


def split_runs(runs: Iterable[RunRecord]) -> tuple[list[str], list[str]]:
    """The variants of *runs* that completed (succeeded, exits included), and of those
    that stopped for good partway (dead, orphaned, cancelled): `check`'s two arguments."""
    completed: list[str] = []
    stopped: list[str] = []
    for run in runs:
        (completed if run.status is Status.SUCCEEDED else stopped).append(run.variant)
    return completed, stopped


def check(job: DeclaredJob, graph: FlowGraph, variants: Iterable[str], *,
          stopped: Iterable[str] = (), code: CodeSide | None = None) -> Coverage:
    """The three-way check of *job*, whose code *graph* is, against its recorded runs:
    *variants* holds the path each run took, in the path language (a stored variant), and
    *stopped* those of runs that stopped for good partway, explained when the code can
    begin so. *code* is `code_side` of the same job and graph, when already known."""
    code = code if code is not None else code_side(job, graph)
    ending = [p for p in code.paths if p.ends != "raise"]
    texts = tuple(dict.fromkeys(p.text for p in ending))
    counts: dict[tuple[str, bool], int] = {}
    for key in [*((v, False) for v in variants), *((v, True) for v in stopped)]:
        counts[key] = counts.get(key, 0) + 1
    unexplained: dict[str, int] = {}
    seen: set[str] = set()
    notes: list[str] = list(graph.notes)
    for (variant, partway), count in counts.items():
        points = symbols(variant)
        if points is None:
            notes.append(f"a recorded path too long to check: {variant[:60]}…"
                         if variant.endswith("…") else
                         f"a recorded path the path language cannot read: {variant[:60]}")
            continue
        if not accepts(graph, points):
            if not (partway and accepts(graph, points, complete=False)):
                unexplained[variant] = unexplained.get(variant, 0) + count
            continue
        tokens = tuple(str(s) for s in points)
        seen.update(p.text for p in ending if _takes(p.tokens, tokens))
    return Coverage(
        job.name, texts, tuple(t for t in texts if t in seen),
        tuple(t for t in texts if t not in seen), unexplained, sum(counts.values()),
        code.comparison, code.paths.truncated, tuple(notes),
    )

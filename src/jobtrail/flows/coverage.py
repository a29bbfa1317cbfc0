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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from jobtrail.expect import ExpectationError, Symbol, parse
from jobtrail.expect.nodes import Atom, Node, Repeat, Seq
from jobtrail.flows.declared import DeclaredJob
from jobtrail.flows.graph import FlowGraph
from jobtrail.flows.language import Comparison, accepts, code_paths, compare


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


def check(job: DeclaredJob, graph: FlowGraph, variants: Iterable[str]) -> Coverage:
    """The three-way check of *job*, whose code *graph* is, against its recorded runs:
    *variants* holds the path each run took, in the path language (a stored variant)."""
    found = code_paths(graph)
    code = [p for p in found if p.ends != "raise"]
    texts = tuple(dict.fromkeys(p.text for p in code))
    counts: dict[str, int] = {}
    for variant in variants:
        counts[variant] = counts.get(variant, 0) + 1
    unexplained: dict[str, int] = {}
    seen: set[str] = set()
    notes: list[str] = list(graph.notes)
    for variant, count in counts.items():
        points = symbols(variant)
        if points is None:
            notes.append(f"a recorded path too long to check: {variant[:60]}…")
            continue
        if not accepts(graph, points):
            unexplained[variant] = count
            continue
        tokens = tuple(str(s) for s in points)
        seen.update(p.text for p in code if _takes(p.tokens, tokens))
    comparison = compare(graph, job.expectation) if job.expectation else None
    return Coverage(
        job.name, texts, tuple(t for t in texts if t in seen),
        tuple(t for t in texts if t not in seen), unexplained, sum(counts.values()), comparison,
        found.truncated, tuple(notes),
    )

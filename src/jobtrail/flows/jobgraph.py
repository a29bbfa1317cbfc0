"""The job-type dependency graph: which job types enqueue which.

Read two ways, and drawn with both:

- **from the code**: each job's flow graph (`jobtrail.flows.build_flow`) has a node per
  ``ctx.enqueue(child, ...)``; and a call ``other.prepare(...)`` in a job's source (a
  workflow it starts: ``app.chain``, ``app.group``) is an edge to ``other`` too — in a
  chain, each call also leads to the next one;
- **from recorded runs**: jobs whose parent is a job of another type (``ctx.enqueue``,
  a chain's next call), with how many times (`Store.job_links`).

`cycles` lists the cycles (a job type that, through others, enqueues itself): `jobtrail
flows check` reports them, since a cycle keeps enqueueing forever unless the code stops
it. `render` draws the graph as text, Mermaid or DOT.
"""

from __future__ import annotations

import ast
import inspect
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobtrail.flows import resolve
from jobtrail.flows.builder import build_flow
from jobtrail.flows.declared import DeclaredJob

FORMATS = ("text", "mermaid", "dot")


@dataclass
class JobGraph:
    """Job types and who enqueues whom: each edge with where it was seen (``code``,
    ``runs``) and how many runs took it."""

    jobs: list[str]
    edges: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    runs: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, parent: str, child: str, seen: str, count: int = 0) -> None:
        self.edges.setdefault((parent, child), set()).add(seen)
        if count:
            self.runs[(parent, child)] = self.runs.get((parent, child), 0) + count
        for name in (parent, child):
            if name not in self.jobs:
                self.jobs.append(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "jobs": sorted(self.jobs),
            "edges": [{"from": a, "to": b, "seen": sorted(seen), "runs": self.runs.get((a, b), 0)}
                      for (a, b), seen in sorted(self.edges.items())],
            "cycles": cycles(self),
        }


def from_code(registry: Mapping[str, DeclaredJob]) -> JobGraph:
    """The edges the code of each job of *registry* shows."""
    graph = JobGraph(sorted(registry))
    for name, job in sorted(registry.items()):
        try:
            flow = build_flow(job, job_name=name)
        except (OSError, TypeError):  # no source to read (a builtin, code made at runtime)
            continue
        for node in flow.nodes.values():
            if node.kind == "enqueue" and node.name:
                graph.add(name, node.name, "code")
        for parent, child in _prepared(job, name):
            graph.add(parent, child, "code")
    return graph


def add_runs(graph: JobGraph, links: Iterable[tuple[str, str, int]]) -> JobGraph:
    """*graph* with the (parent job, child job, count) links of recorded runs."""
    for parent, child, count in links:
        graph.add(parent, child, "runs", count)
    return graph


def _prepared(job: DeclaredJob, name: str) -> list[tuple[str, str]]:
    """Edges from the ``X.prepare(...)`` calls in a job's source: the job → each X, and in
    a chain each call → the next."""
    fn = inspect.unwrap(job.fn)
    try:
        definition, _, _ = resolve.parse_function(fn)
    except (OSError, TypeError):
        return []
    namespace = fn.__globals__
    found: list[tuple[str, str]] = []
    for node in ast.walk(definition):
        if not isinstance(node, ast.Call):
            continue
        target = _prepared_job(node, namespace)
        if target is not None:
            found.append((name, target))
        if isinstance(node.func, ast.Attribute) and node.func.attr == "chain":
            steps = [_prepared_job(arg, namespace) for arg in node.args]
            found += [(a, b) for a, b in itertools.pairwise(steps)
                      if a is not None and b is not None]
    return found


def _prepared_job(node: ast.expr, namespace: Mapping[str, Any]) -> str | None:
    """The job name of ``X.prepare(...)`` when X is a declared job."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "prepare"):
        return None
    job = resolve.lookup(node.func.value, namespace)
    return job.name if isinstance(job, DeclaredJob) else None


def cycles(graph: JobGraph) -> list[list[str]]:
    """Each cycle of *graph* once, as the job names along it, starting from the smallest
    (the strongly connected components with more than one job, and jobs enqueueing
    themselves)."""
    children: dict[str, list[str]] = {}
    for parent, child in graph.edges:
        children.setdefault(parent, []).append(child)
    found = []
    for component in _components(graph.jobs, children):
        if len(component) > 1:
            found.append(_loop(sorted(component), children, set(component)))
        elif component[0] in children.get(component[0], []):
            found.append([component[0], component[0]])
    return sorted(found)


def _components(jobs: list[str], children: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in sorted(jobs):
        if root in index:
            continue
        work = [(root, iter(sorted(children.get(root, []))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            advanced = False
            for child in pending:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(children.get(child, [])))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _loop(members: list[str], children: dict[str, list[str]], inside: set[str]) -> list[str]:
    """A cycle through the first of *members* inside their component (breadth first)."""
    start = members[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(children.get(node, [])):
            if child == start:
                return [*paths[node], start]
            if child in inside and child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return [*members, start]  # pragma: no cover - a component always closes


def render(graph: JobGraph, fmt: str) -> str:
    """*graph* as ``text`` (one edge a line), ``mermaid`` or ``dot``."""
    edges = sorted(graph.edges.items())
    if fmt == "mermaid":
        ids = {name: f"j{i}" for i, name in enumerate(sorted(graph.jobs))}
        lines = ["flowchart LR"]
        lines += [f'    {ids[name]}["{_mermaid(name)}"]' for name in sorted(graph.jobs)]
        lines += [f"    {ids[a]} -->{_mermaid_label(graph, a, b, seen)} {ids[b]}"
                  for (a, b), seen in edges]
        return "\n".join(lines)
    if fmt == "dot":
        lines = ["digraph jobs {", "    rankdir=LR;"]
        lines += [f'    "{_dot(name)}";' for name in sorted(graph.jobs)]
        lines += [f'    "{_dot(a)}" -> "{_dot(b)}" [label="{_dot(_label(graph, a, b, seen))}"];'
                  for (a, b), seen in edges]
        return "\n".join([*lines, "}"])
    lines = [f"{a} -> {b}  ({_label(graph, a, b, seen)})" for (a, b), seen in edges]
    alone = sorted(set(graph.jobs) - {n for edge in graph.edges for n in edge})
    lines += [f"{name}  (enqueues nothing, enqueued by nothing seen)" for name in alone]
    return "\n".join(lines)


def _label(graph: JobGraph, a: str, b: str, seen: set[str]) -> str:
    runs = graph.runs.get((a, b))
    return " + ".join(sorted(seen)) + (f": {runs:,} runs" if runs else "")


def _mermaid_label(graph: JobGraph, a: str, b: str, seen: set[str]) -> str:
    return f'|"{_mermaid(_label(graph, a, b, seen))}"|'


def _dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _mermaid(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")

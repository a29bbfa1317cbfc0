"""The flows lock: every job's flow graph, written down to be reviewed and checked in CI.

``jobtrail flows lock MODULE:APP`` writes ``jobtrail.flows.json``; ``jobtrail flows check``
builds the graphs again and lists what changed against it. The file is keyed by names, not
line numbers, and sorted, so moving code changes nothing and a pull request's diff shows
exactly the branches, steps, effects, decisions and exits a change adds or removes::

    {"version": 1, "jobs": {"bill": {"function": "billing.bill",
      "steps": ["load", "mark_paid"], "effects": ["charge"],
      "decisions": {"is_paid": ["is_paid=false", "is_paid=true"]},
      "exits": ["already_paid"],
      "branches": ["decide:is_paid -> exit:already_paid [is_paid=true]", ...]}}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobtrail.errors import LockError
from jobtrail.flows.builder import build_flow
from jobtrail.flows.declared import DeclaredJob, JobRegistry
from jobtrail.flows.graph import FlowGraph

LOCK_FILE = "jobtrail.flows.json"
VERSION = 1
#: What a lock records per job, beside its function; each is a sorted list of names.
SECTIONS = ("steps", "effects", "decisions", "exits", "branches")



def flow_jobs(app: JobRegistry) -> list[DeclaredJob]:
    """The app's jobs that have flows: all but the shadow jobs jobtrail registers itself."""
    return [d for name, d in sorted(app.registry.items()) if not name.endswith(".shadow")]


def graphs(app: JobRegistry) -> dict[str, FlowGraph]:
    """The flow graph of each of the app's jobs, by job name."""
    return {d.name: build_flow(d, job_name=d.name) for d in flow_jobs(app)}


def describe(graph: FlowGraph) -> dict[str, Any]:
    """The lock entry of one job's graph."""
    names: dict[str, set[str]] = {"step": set(), "effect": set(), "exit": set()}
    decisions: dict[str, set[str]] = {}
    for node in graph.nodes.values():
        if node.kind in names and node.name:
            names[node.kind].add(node.name)
        elif node.kind == "decide" and node.name:
            decisions.setdefault(node.name, set())
    branches = set()
    for edge in graph.edges:
        source = graph.nodes[edge.src]
        if source.kind == "decide" and source.name and edge.label:
            decisions.setdefault(source.name, set()).update(
                part for part in edge.label.split(", ") if part != "loop")
        label = f" [{edge.label}]" if edge.label else ""
        branches.add(f"{edge.src} -> {edge.dst}{label}")
    return {
        "function": graph.function,
        "steps": sorted(names["step"]), "effects": sorted(names["effect"]),
        "decisions": {name: sorted(values) for name, values in sorted(decisions.items())},
        "exits": sorted(names["exit"]), "branches": sorted(branches),
    }


def snapshot(app: JobRegistry) -> dict[str, Any]:
    """The whole lock document of *app*."""
    return {"version": VERSION,
            "jobs": {name: describe(graph) for name, graph in graphs(app).items()}}


def write(path: Path, document: Mapping[str, Any]) -> None:
    """Write the lock, stable and diff-friendly (sorted keys, one item per line)."""
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def read(path: Path) -> dict[str, Any]:
    """Read a lock written by `write`; a clear `LockError` for anything else."""
    if not path.exists():
        raise LockError(f"no flows lock at {path}: run `jobtrail flows lock MODULE:APP` "
                        "and commit the file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LockError(f"{path} is not valid JSON ({exc}): write it again with "
                        "`jobtrail flows lock`") from None
    if not isinstance(document, dict) or document.get("version") != VERSION \
            or not isinstance(document.get("jobs"), dict):
        raise LockError(f"{path} is not a version {VERSION} flows lock: write it again with "
                        "`jobtrail flows lock`")
    for job, entry in document["jobs"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("decisions", {}), dict) or \
                not all(isinstance(entry.get(s, []), list) for s in SECTIONS if s != "decisions"):
            raise LockError(f"{path}: the entry of job {job!r} is damaged: write the lock again "
                            "with `jobtrail flows lock`")
    return document


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the lock and the code: ``sign`` is ``+`` (the code gained it)
    or ``-`` (the code lost it)."""

    job: str
    section: str
    sign: str
    item: str

    def __str__(self) -> str:
        return f"{self.sign} {self.job}: {_SINGULAR[self.section]} {self.item}"


_SINGULAR = {"jobs": "job", "steps": "step", "effects": "effect", "decisions": "decision",
             "exits": "exit", "branches": "branch"}


def diff(locked: Mapping[str, Any], current: Mapping[str, Any]) -> list[Change]:
    """What changed from the *locked* document to the *current* one, job by job."""
    old, new = locked["jobs"], current["jobs"]
    changes: list[Change] = []
    for job in sorted(set(old) | set(new)):
        if job not in new:
            changes.append(Change(job, "jobs", "-", job))
            continue
        if job not in old:
            changes.append(Change(job, "jobs", "+", job))
            continue
        for section in SECTIONS:
            before, after = _items(section, old[job]), _items(section, new[job])
            changes += [Change(job, section, "-", i) for i in sorted(before - after)]
            changes += [Change(job, section, "+", i) for i in sorted(after - before)]
    return changes


def _items(section: str, entry: Mapping[str, Any]) -> set[str]:
    value = entry.get(section) or ()
    if section == "decisions" and isinstance(value, Mapping):
        return {name for name in value} | {v for values in value.values() for v in values}
    return set(_strings(value))


def _strings(values: Iterable[Any]) -> list[str]:
    return [str(v) for v in values]

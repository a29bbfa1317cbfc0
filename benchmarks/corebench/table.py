"""The table printed at the end of a run: every figure per backend, and the targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table

from corebench.settings import BULK_BATCH, CLAIM_LIMIT
from corebench.terminal import console

# What we compare with (see README.md): (backend, metric) -> (bound, "min" | "max").
TARGETS: dict[tuple[str, str], tuple[float, str]] = {
    ("sqlite", "single_enqueue"): (3_000, "min"),
    ("sqlite", "drain"): (5_000, "min"),
    ("postgres", "drain"): (5_500, "min"),
    ("sqlite", "pickup_p99"): (20.0, "max"),
    ("postgres", "pickup_p99"): (10.0, "max"),
}


def verdict(backend: str, metric: str, value: float) -> str:
    target = TARGETS.get((backend, metric))
    if target is None:
        return ""
    bound, kind = target
    ok = value >= bound if kind == "min" else value <= bound
    return " [green]✓[/]" if ok else " [red]✗[/]"


def target_text(metric: str) -> str:
    parts = []
    for backend, label in (("sqlite", "SQLite"), ("postgres", "PG")):
        target = TARGETS.get((backend, metric))
        if target:
            bound, kind = target
            parts.append(f"{label} {'≥' if kind == 'min' else '≤'} {bound:,g}")
    return ", ".join(parts)


#: Reads one cell of the table from a backend's figures.
Getter = Callable[[dict[str, Any]], str]


def _sweep_median(value: int) -> Getter:
    return lambda d: f"{d['sweep'][value]['jobs_per_s']:,.0f}"


def _sweep_runs(value: int) -> Getter:
    return lambda d: " ".join(f"{r:,.0f}" for r in d["sweep"][value]["runs_jobs_per_s"])


def _pickup(q: str, metric: str) -> Getter:
    return lambda d: (f"{d['pickup'][f'{q}_ms']:.1f}"
                      + verdict(d["_backend"], metric, d["pickup"][f"{q}_ms"]))


def _claim_median(depth: int) -> Getter:
    return lambda d: next(f"{c['median_us']:,.0f}" for c in d["claim"] if c["queued"] == depth)


def _claim_ratio(depth: int, base: int) -> Getter:
    return lambda d: f"{claim_ratio(d, depth, base):.2f}x"


def render(results: dict[str, Any], report: dict[str, Any]) -> None:
    names = list(results)
    table = Table(title="jobtrail core benchmark", title_justify="left")
    table.add_column("measurement", no_wrap=True)
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("target", style="dim")

    def cell(name: str, get: Getter) -> str:
        data = results[name]
        if "skipped" in data:
            return "[yellow]skipped[/]"
        try:
            return get(data)
        except (KeyError, IndexError, StopIteration):
            return "[red]failed[/]" if "error" in data else "-"

    def row(label: str, get: Getter, target: str = "") -> None:
        cells = [cell(n, get) for n in names]
        if all(c in ("-", "[yellow]skipped[/]") for c in cells):
            return  # not measured in this run
        table.add_row(label, *cells, target)

    sweeps = sorted({c for d in results.values() for c in d.get("sweep", {})})
    for value in sweeps:
        row(f"drain, concurrency {value}, median (jobs/s)", _sweep_median(value))
        row(f"drain, concurrency {value}, every run", _sweep_runs(value))
    row("single enqueue (jobs/s)",
        lambda d: f"{d['single_enqueue']['jobs_per_s']:,.0f}"
        + verdict(d["_backend"], "single_enqueue", d["single_enqueue"]["jobs_per_s"]),
        target_text("single_enqueue"))
    row(f"bulk enqueue, batches of {BULK_BATCH:,} (jobs/s)",
        lambda d: f"{d['bulk_enqueue']['jobs_per_s']:,.0f}")
    row("drain, median (jobs/s)",
        lambda d: f"{d['drain']['jobs_per_s']:,.0f}"
        + verdict(d["_backend"], "drain", d["drain"]["jobs_per_s"]),
        target_text("drain"))
    row("drain, every run (jobs/s)",
        lambda d: " ".join(f"{r:,.0f}" for r in d["drain"]["runs_jobs_per_s"]))
    for q in ("p50", "p95", "p99", "max"):
        metric = f"pickup_{q}"
        row(f"pick-up latency {q} (ms)", _pickup(q, metric), target_text(metric))
    depths = sorted({c["queued"] for d in results.values() for c in d.get("claim", [])})
    for depth in depths:
        row(f"claim+finish of {CLAIM_LIMIT}, {depth:,} queued (median µs)", _claim_median(depth))
    if len(depths) > 1:
        base = depths[0]
        for depth in depths[1:]:
            row(f"claim cost ratio {depth:,} / {base:,} queued", _claim_ratio(depth, base))
    console.print()
    console.print(table)
    loads = ", ".join(
        f"{n} {d['load_before']:.2f}" for n, d in results.items() if "load_before" in d
    )
    if loads:
        console.print(f"load average (1 min) before each backend: {loads}")
    for name in names:
        data = results[name]
        if "skipped" in data:
            console.print(f"[yellow]{name} skipped:[/] {data['skipped']}")
        elif "error" in data:
            console.print(f"[red]{name} failed:[/] {data['error']}")
    s = report["settings"]
    measured = {key for d in results.values() for key in d}
    if measured & {"drain", "sweep"}:
        threads = ",".join(map(str, s["sweep"])) if s.get("sweep") else s["concurrency"]
        console.print(
            f"drain: {s['jobs']:,} no-op jobs, {s['processes']} worker processes x "
            f"{threads} threads, median of {s['repeat']} run(s)"
        )
    if "pickup" in measured:
        console.print(
            f"pick-up: {s['latency_rate']:g} jobs/s for {s['latency_seconds']:g}s to "
            f"{s['processes']} idle worker processes x {s['concurrency']} threads"
        )
    console.print(
        f"{report['date']}, {report['machine']['cpus']} CPUs, Python "
        f"{report['machine']['python']}, {report['machine']['platform']}"
    )
    console.print(f"workers: {report['workers_started_by']}")
    console.print(f"command: [bold]{report['command']}[/]")


def claim_ratio(data: dict[str, Any], depth: int, base: int) -> float:
    by_depth = {c["queued"]: c["median_us"] for c in data["claim"]}
    return float(by_depth[depth] / by_depth[base])


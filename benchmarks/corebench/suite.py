"""What a backend's run measures: the measurements chosen, or the drain at several
concurrencies."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from corebench.backends import Backend
from corebench.claim import bench_claim
from corebench.drain import bench_drain, bench_drain_once
from corebench.enqueue import bench_bulk_enqueue, bench_single_enqueue
from corebench.machine import load_average
from corebench.pickup import bench_pickup
from corebench.settings import Settings
from corebench.terminal import console

MEASUREMENTS = ("single", "bulk", "drain", "pickup", "claim")


def run_measurements(
    backend: Backend, settings: Settings, only: Sequence[str] | None, out: dict[str, Any]
) -> None:
    """Run the chosen measurements into *out* (what finished stays there if one fails)."""
    chosen = set(only or MEASUREMENTS)
    name = backend.name
    out["load_before"] = load_average()
    if "single" in chosen:
        console.print(f"[bold]{name}[/]: single enqueue ({settings.single:,} jobs)")
        out["single_enqueue"] = bench_single_enqueue(backend, settings.single)
        console.print(f"  {out['single_enqueue']['jobs_per_s']:,.0f} jobs/s")
    if "bulk" in chosen:
        console.print(f"[bold]{name}[/]: bulk enqueue ({settings.bulk:,} jobs)")
        out["bulk_enqueue"] = bench_bulk_enqueue(backend, settings.bulk)
        console.print(f"  {out['bulk_enqueue']['jobs_per_s']:,.0f} jobs/s")
    if "drain" in chosen:
        console.print(
            f"[bold]{name}[/]: drain {settings.jobs:,} jobs, {settings.processes} processes "
            f"x {settings.concurrency} threads, {settings.repeat} run(s)"
        )
        out["drain"] = bench_drain(backend, settings)
    if "pickup" in chosen:
        console.print(
            f"[bold]{name}[/]: pick-up latency, {settings.latency_rate:g} jobs/s for "
            f"{settings.latency_seconds:g}s"
        )
        out["pickup"] = p = bench_pickup(backend, settings)
        console.print(
            f"  p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, max {p['max_ms']:.1f} ms"
        )
    if "claim" in chosen:
        out["claim"] = []
        for depth in settings.claim_depths:
            console.print(f"[bold]{name}[/]: claim + finish with {depth:,} jobs queued")
            result = bench_claim(backend, depth, settings.claims)
            out["claim"].append(result)
            console.print(f"  median {result['median_us']:,.0f} µs")


def run_sweep(
    backend: Backend, settings: Settings, values: Sequence[int], out: dict[str, Any]
) -> None:
    """The drain at several concurrencies (to choose the default). The runs alternate
    between the values, so a busy moment on the machine does not favour one of them."""
    out["load_before"] = load_average()
    runs: dict[int, list[dict[str, Any]]] = {value: [] for value in values}
    for k in range(settings.repeat):
        for value in values:
            run = bench_drain_once(backend, replace(settings, concurrency=value))
            runs[value].append(run)
            console.print(
                f"  {backend.name} concurrency {value}, run {k + 1}/{settings.repeat}: "
                f"{run['jobs_per_s']:,.0f} jobs/s"
            )
    out["sweep"] = {
        value: {
            "jobs": settings.jobs, "processes": settings.processes, "concurrency": value,
            "jobs_per_s": statistics.median(r["jobs_per_s"] for r in found),
            "runs_jobs_per_s": [r["jobs_per_s"] for r in found], "runs": found,
        }
        for value, found in runs.items()
    }

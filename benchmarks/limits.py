"""What flow limits cost: the drain of N jobs with and without limits that never bind.

    python benchmarks/limits.py [--backend sqlite|postgres|all] [--jobs N] [--repeat K] [--quick]

The drain of ``core.py`` (2 burst worker processes x 32 threads) of a no-op job:

- ``none``: an app that declares no limit (the usual claim alone);
- ``global``: the job under ``concurrency_limit=1000`` (every claim is a limited claim:
  the slots held counted, the candidates read, then leased, under the limits' lock);
- ``keyed``: ``concurrency_limit=1000`` per key, over 100 keys;
- ``rate``: ``rate_limit="1000000/s"`` (the bucket read and written by every claim);
- ``queue``: the job's queue under ``concurrency_limit=1000``;
- ``beside``: a job without limits in an app that declares the others (what limits
  elsewhere cost the jobs they do not apply to).

The limits are far above the workers' 64 slots, so they never hold a job back: what the
drain loses is what enforcing them costs. Configurations alternate in each of K rounds;
medians, and each one's loss against ``none`` as the median of the rounds' losses.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import LIMITS_ENV
from corebench.backends import Backend, chosen
from corebench.drain import bench_drain_once
from corebench.rounds import drain_parser, drain_settings, footer, over_backends
from corebench.settings import Settings
from corebench.terminal import console
from rich.table import Table

#: configuration → (job drained, whether the app declares the limited jobs)
CONFIGS = {
    "none": ("bench_noop", False),
    "global": ("bench_limited", True),
    "keyed": ("bench_keyed", True),
    "rate": ("bench_rated", True),
    "queue": ("bench_queue_limited", True),
    "beside": ("bench_noop", True),
}


def drain(backend: Backend, settings: Settings, config: str) -> dict[str, Any]:
    job, limits = CONFIGS[config]
    os.environ[LIMITS_ENV] = "1" if limits else "0"  # read by the workers' app and by fill
    try:
        return bench_drain_once(backend, settings, job)
    finally:
        os.environ.pop(LIMITS_ENV, None)


def throughput(backend: Backend, settings: Settings) -> dict[str, Any]:
    runs: dict[str, list[float]] = {config: [] for config in CONFIGS}
    cpu: dict[str, list[float]] = {config: [] for config in CONFIGS}
    for k in range(settings.repeat):
        for config in CONFIGS:
            drained = drain(backend, settings, config)
            runs[config].append(drained["jobs_per_s"])
            cpu[config].append(drained["cpu_us_per_job"])
            console.print(f"  {backend.name} round {k + 1}: {config} "
                          f"{drained['jobs_per_s']:,.0f} jobs/s, "
                          f"{drained['cpu_us_per_job']:.0f} µs of worker CPU per job")
    return {"runs": runs, "medians": {c: statistics.median(r) for c, r in runs.items()},
            "cpu_us": {c: statistics.median(t) for c, t in cpu.items()}}


def loss(data: dict[str, Any], config: str) -> str:
    """The median of the rounds' losses against ``none`` (a round's drains ran back to back)."""
    runs = data["runs"]
    losses = [1 - rate / base for rate, base in zip(runs[config], runs["none"], strict=True)]
    return f"{statistics.median(losses) * 100:.1f}%"


def render(results: dict[str, dict[str, Any]], settings: Settings) -> None:
    table = Table(title="jobtrail: what flow limits cost (limits that never bind)")
    table.add_column("configuration")
    for name in results:
        table.add_column(f"{name} jobs/s", justify="right")
        table.add_column(f"{name} loss", justify="right")
        table.add_column(f"{name} CPU µs/job", justify="right")
    for config in CONFIGS:
        cells = []
        for data in results.values():
            cells += [f"{data['medians'][config]:,.0f}",
                      "-" if config == "none" else loss(data, config),
                      f"{data['cpu_us'][config]:.0f}"]
        table.add_row(config, *cells)
    console.print(table)
    footer(settings)


def main(argv: list[str] | None = None) -> int:
    parser = drain_parser(__doc__)
    args = parser.parse_args(argv)
    settings = drain_settings(args)
    backends = chosen(args.backend, args.pg_url)
    if backends is None:
        return 1
    results = over_backends(backends, lambda backend: throughput(backend, settings))
    render(results, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())

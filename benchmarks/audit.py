"""What the audit trail costs: the drain with a sealer running beside the workers, and the
sealer's own cost per event.

    python benchmarks/audit.py [--backend sqlite|postgres|all] [--jobs N] [--repeat K]
                               [--every SECONDS] [--quick]

The trail is the events every change already writes, in its own transaction: enqueueing,
claiming and finishing a job write nothing more for it. What it adds is the sealing, after
the fact: every worker runs a `Sealer` thread that, once a second, reads the events written
since the last seal, hashes each, and appends a seal. Here one `Sealer` (the benchmark's
process, as busy as one worker's would be) seals while 2 burst worker processes drain N
no-op jobs (`core.py`'s drain), sealing every `--every` seconds (a worker's sealer: 1; give
N jobs enough for the drain to last several seconds, or less between rounds), against the
same drain with no sealer; the two alternate in each of K rounds. Medians, and the loss as
the median of the rounds' losses.

Per event: `seal_all` over the events of a drained database, timed (CPU of this process,
which does the hashing; the database's reads are included in the wall time).
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import make_app
from corebench.backends import Backend, chosen
from corebench.drain import bench_drain_once
from corebench.rounds import drain_parser, drain_settings, footer, over_backends
from corebench.settings import Settings
from corebench.terminal import console
from rich.table import Table

from jobtrail.audit import verify
from jobtrail.audit.sealer import Sealer
from jobtrail.audit.sealing import seal_all


def drain(backend: Backend, settings: Settings, sealed: bool, every: float = 1.0
          ) -> dict[str, Any]:
    sealers: list[Sealer] = []
    drained = bench_drain_once(backend, settings,
                               beside=sealing(backend, sealers, every) if sealed else None)
    if sealers:
        drained["seals"] = sealers[0].appended
    return drained


def sealing(backend: Backend, made: list[Sealer], every: float
            ) -> Callable[[], AbstractContextManager[object]]:
    """A sealer on a connection of its own, as a worker's is, sealing every *every*
    seconds while the workers drain."""
    @contextlib.contextmanager
    def beside() -> Iterator[object]:
        app = make_app(backend.url)
        sealer = Sealer(app.store, every=every)
        made.append(sealer)
        sealer.start()
        try:
            yield sealer
        finally:
            sealer.stop()
            app.close()

    return beside


def per_event(backend: Backend) -> dict[str, float]:
    """Seal a drained database's events from scratch: µs per event (CPU and wall)."""
    app = make_app(backend.url)
    try:
        store = app.store
        rows = store.audit_digests(0, 2**62)
        cpu, wall = time.process_time(), time.perf_counter()
        seal_all(store)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        verdict = verify(store)
        assert verdict.ok, verdict.problem
        return {"events": len(rows), "cpu_us": cpu / max(1, len(rows)) * 1e6,
                "wall_us": wall / max(1, len(rows)) * 1e6}
    finally:
        app.close()


def throughput(backend: Backend, settings: Settings, every: float) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"off": [], "sealed": []}
    for k in range(settings.repeat):
        for name in runs:
            drained = drain(backend, settings, name == "sealed", every)
            runs[name].append(drained["jobs_per_s"])
            seals = f", {drained['seals']} seals" if "seals" in drained else ""
            console.print(f"  {backend.name} round {k + 1}: {name} "
                          f"{drained['jobs_per_s']:,.0f} jobs/s{seals}")
    losses = [1 - s / o for s, o in zip(runs["sealed"], runs["off"], strict=True)]
    return {"runs": runs, "medians": {n: statistics.median(r) for n, r in runs.items()},
            "loss": statistics.median(losses)}


def main(argv: list[str] | None = None) -> int:
    parser = drain_parser(__doc__)
    parser.add_argument("--every", type=float, default=1.0,
                        help="seconds between the sealer's rounds (a worker's: 1)")
    args = parser.parse_args(argv)
    settings = drain_settings(args)
    backends = chosen(args.backend, args.pg_url)
    if backends is None:
        return 1
    def measure(backend: Backend) -> dict[str, Any]:
        drained = throughput(backend, settings, args.every)
        drain(backend, settings, sealed=False)  # then the events of one drain, unsealed
        return {**drained, "per_event": per_event(backend)}

    results = over_backends(backends, measure)
    table = Table(title="jobtrail audit trail cost")
    table.add_column("measurement")
    for name in results:
        table.add_column(name, justify="right")
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("drain, no sealer (jobs/s, median)", lambda d: f"{d['medians']['off']:,.0f}"),
        ("drain, a sealer beside (jobs/s, median)", lambda d: f"{d['medians']['sealed']:,.0f}"),
        ("throughput loss (median of rounds)", lambda d: f"{d['loss'] * 100:.1f}%"),
        ("sealing: events sealed from scratch", lambda d: f"{d['per_event']['events']:,}"),
        ("sealing: CPU per event (µs)", lambda d: f"{d['per_event']['cpu_us']:.1f}"),
        ("sealing: wall time per event (µs)", lambda d: f"{d['per_event']['wall_us']:.1f}"),
    ]
    for label, pick in rows:
        table.add_row(label, *(pick(data) for data in results.values()))
    console.print(table)
    footer(settings, f"; a sealer every {args.every:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a backend's run printed at its end: the figures, and each check with examples."""

from __future__ import annotations

import json
from typing import Any

from chaosrun.checks import Check
from chaosrun.settings import Settings

EXAMPLES = 10  # examples of each failed check printed (all of them go to findings.json)


def report(name: str, figures: dict[str, Any], checks: list[Check], settings: Settings) -> None:
    restarts = figures["pg_restarts"]
    dead_by = "; ".join(f"{kind}: {n:,}" for kind, n in figures["dead_by"].items()) or "none"
    life = figures["lifecycle_events"]
    print(f"\n== {name}: {figures['jobs']:,} jobs, {settings.workers} workers x "
          f"{settings.concurrency} threads, lease {settings.lease:g}s, grace {settings.grace:g}s")
    print(f"  elapsed {figures['elapsed_s']:.1f}s, {figures['jobs_per_s']:,.1f} jobs/s; "
          f"SIGKILL {figures['sigkills']}, SIGTERM {figures['sigterms']} "
          f"({figures['sigterms_before_start']} before the worker started), workers started "
          f"{figures['workers_started']}, PostgreSQL restarts {len(restarts)}"
          + (f" ({', '.join(_seconds(r) for r in restarts)})" if restarts else ""))
    print(f"  succeeded {figures['succeeded']:,}; dead {figures['dead']:,} ({dead_by}); "
          f"lost {figures['lost']:,}; other {_others(figures['statuses'])}")
    print(f"  attempts {figures['attempts']:,} ({figures['jobs_run_more_than_once']:,} jobs ran "
          f"more than once); lease expiries {life.get('lease_expired', 0):,}, releases "
          f"{life.get('released', 0):,}, retries scheduled {life.get('retry_scheduled', 0):,}")
    happened = figures["uncertain_effects"]
    if happened:
        print(f"  effects left uncertain: {happened.get('happened', 0):,} had happened, "
              f"{happened.get('had not happened', 0):,} had not (from the ledger)")
    print(f"  ledger {figures['ledger_lines']:,} lines, {figures['ledger_keys']:,} keys; keys "
          f"performed more than once: {figures['duplicate_keys']:,}")
    if figures["duplicate_keys"]:
        print(f"    of which {figures['duplicate_keys_of_released_jobs']:,} belong to jobs a "
              "graceful stop released; calls made by a released attempt after its release: "
              f"{figures['duplicate_calls_after_release']:,}")
    for check in checks:
        mark = "ok    " if check.ok else "BROKEN"
        print(f"  {mark} {check.name}" + ("" if check.ok else f": {len(check.failures)}"))
        for item in check.failures[:EXAMPLES]:
            print(f"           {_example(item)}")
        if len(check.failures) > EXAMPLES:
            print(f"           ... {len(check.failures) - EXAMPLES} more in findings.json")


def _example(item: Any) -> str:
    """One failure on one line; a key performed twice as its calls, in order."""
    if isinstance(item, dict) and "calls" in item:
        calls = ", ".join(
            f"attempt {c['attempt']} by worker {c['worker']} ({c['worker_fate']}) at "
            f"{c['run_s']:.1f}s" + (" after its release" if c["after_release"] else "")
            for c in item["calls"])
        released = "; the job was released by a graceful stop" if item["released"] else ""
        return f"{item['key']} (job {item['job']}) {item['times']} times: {calls}{released}"
    return json.dumps(item, sort_keys=True)


def _seconds(restart: dict[str, float]) -> str:
    return f"{restart['seconds']:.1f}s"


def _others(statuses: dict[str, int]) -> str:
    rest = {k: v for k, v in statuses.items() if k not in ("succeeded", "dead")}
    return ", ".join(f"{k} {v:,}" for k, v in sorted(rest.items())) or "none"

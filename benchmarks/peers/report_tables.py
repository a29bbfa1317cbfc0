"""The tables of a run: the same ones drawn with rich on the terminal and written as
Markdown to ``latest.md``.

1. enqueue and claim cost, one row per library (they start no workers);
2. drain of each job kind and pick-up latency, one row per library and settings, with the
   jobs each worker process runs at once;
3. jobtrail ÷ PgQueuer and ÷ the faster Huey, per job kind and settings;
4. what recording costs jobtrail, per backend and settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import report

DASH, TIMES = "\u2013", "\u00d7"  # what an empty cell shows; "times"
REFERENCE_LABEL = {"jobtrail-sqlite": "jobtrail SQLite", "jobtrail-postgres": "jobtrail PG"}
PAIRING_LABELS = {"defaults/defaults": "both with defaults", "tuned/tuned": "both tuned",
                  "defaults/tuned": "jobtrail defaults, peer tuned"}


@dataclass
class Table:
    title: str
    headers: list[str]
    right: set[int]  # columns aligned right (figures)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return DASH
    return f"{value:,.{digits}f}"


def _times(value: float | None) -> str:
    return DASH if value is None else f"{value:,.2f}{TIMES}"


def _k(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def _name(m: dict[str, Any]) -> str:
    return str(m["library"]) + (f" {m['version']}" if m.get("version") else "")


def enqueue_table(out: dict[str, Any]) -> Table:
    depths = " → ".join(_k(d) for d in out["sizes"]["claim_depths"])
    t = Table("Enqueue and claim cost",
              ["library", "backend", "enqueue 1 by 1 (jobs/s)", "bulk enqueue (jobs/s)",
               f"claim µs: {depths} queued"], {2, 3, 4})
    for key, s in out["summary"].items():
        m = out["libraries"][key]
        depths_us = s.get("claim")
        if isinstance(depths_us, dict) and "na" not in depths_us:
            claim = " → ".join(_num(depths_us[d]) for d in sorted(depths_us))
        else:
            claim = "n/a"
        bulk = s.get("bulk", {})
        t.rows.append([_name(m), m["backend"], _num(s.get("single", {}).get("jobs_per_s")),
                       "n/a" if "na" in bulk else _num(bulk.get("jobs_per_s")), claim])
    return t


def drain_table(out: dict[str, Any]) -> Table:
    t = Table("Drain and pick-up, with each library's default and tuned settings",
              ["library", "backend", "settings", "workers", "jobs at once per process",
               "drain no-op (jobs/s)", "drain round trip, blocking (jobs/s)",
               "drain round trip, asyncio (jobs/s)", "pick-up p50 / p99 (ms)",
               "jobtrail ahead: no-op / blocking / asyncio / p99"], {4, 5, 6, 7, 8})
    for key, s in out["summary"].items():
        m = out["libraries"][key]
        for settings in ("defaults", "tuned"):
            own = s["settings"].get(settings)
            if not own:
                continue
            drains = [_num(report.rate(out["summary"], key, settings, job))
                      if job in m.get("jobs", ()) else "n/a" for job in report.WORKLOAD]
            pick = own.get("pickup", {})
            ahead = own.get("jobtrail_ahead")
            vs = DASH
            if ahead:
                figures = " / ".join(_times(ahead.get(j)) for j in (*report.WORKLOAD, "p99"))
                vs = f"{figures} vs {REFERENCE_LABEL[s['compared_with']]}"
            label = f"{settings} (nothing to tune)" if own.get("measured_once") else settings
            t.rows.append([_name(m), m["backend"], label, own.get("workers", ""),
                           own.get("concurrency", ""), *drains,
                           f"{_num(pick.get('p50'), 1)} / {_num(pick.get('p99'), 1)}", vs])
    return t


def headline_table(out: dict[str, Any]) -> Table:
    t = Table(f"jobtrail against PgQueuer and Huey (> 1{TIMES}: jobtrail drains faster)",
              ["comparison", "job", *PAIRING_LABELS.values()], {2, 3, 4},
              note="Each cell: jobtrail's drain ÷ the peer's, then both figures in jobs/s. "
              "\"jobtrail defaults, peer tuned\" is jobtrail as it ships against each peer "
              "tuned for throughput.")
    for row in report.headline(out["summary"], out["libraries"]):
        cells = []
        for pairing in PAIRING_LABELS:
            c = row["cells"].get(pairing)
            if not c:
                cells.append("n/a" if row["job"] == "roundtrip_async" else DASH)
                continue
            peer = f" {c['peer_label']}" if "Huey" in row["label"] else ""
            cells.append(f"{_times(c['ratio'])} ({_num(c['jobtrail'])} ÷ "
                         f"{_num(c['peer_jobs_per_s'])}{peer})")
        t.rows.append([row["label"], report.JOB_LABELS[row["job"]], *cells])
    return t


def recording_table(out: dict[str, Any]) -> Table:
    t = Table("What recording costs jobtrail",
              ["backend", "settings", "no-op (jobs/s)",
               *(f"{label} (jobs/s)" for label in report.VARIANTS.values()),
               *(f"cost of {label}" for label in report.VARIANTS.values())],
              {2, 3, 4, 5, 6})
    for e in report.recording_cost(out["summary"]):
        backend = out["libraries"][e["key"]]["backend"]
        costs = [DASH if e[f"{v}_cost"] is None else f"{e[f'{v}_cost'] * 100:.0f} %"
                 for v in report.VARIANTS]
        t.rows.append([backend, e["settings"], _num(e["noop"]),
                       *(_num(e[v]) for v in report.VARIANTS), *costs])
    return t


def tables(out: dict[str, Any]) -> list[Table]:
    found = [enqueue_table(out), drain_table(out), headline_table(out), recording_table(out)]
    return [t for t in found if t.rows]


def markdown(table: Table) -> str:
    lines = [f"## {table.title}", ""]
    if table.note:
        lines += [table.note, ""]
    lines += ["| " + " | ".join(table.headers) + " |",
              "| " + " | ".join("---:" if i in table.right else "---"
                                for i in range(len(table.headers))) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table.rows]
    return "\n".join(lines) + "\n"


def rich(table: Table) -> Any:
    from rich.table import Table as RichTable

    t = RichTable(title=table.title, caption=table.note or None)
    for i, h in enumerate(table.headers):
        t.add_column(h, justify="right" if i in table.right else "left", overflow="fold",
                     max_width=34 if h == "workers" else None)
    for r in table.rows:
        t.add_row(*r)
    return t


def page(out: dict[str, Any]) -> str:
    """``latest.md``: how the run was made, then every table."""
    m, s = out["machine"], out["sizes"]
    lines = [
        f"Measured {out['date']} on {m['cpus']} cores, {m['memory_gib']} GiB, "
        f"Python {m['python']}, {m['platform']} (1-minute load before: "
        f"{m['load_1min_before']}, after: {m.get('load_1min_after', DASH)}), with",
        "", "```sh", out["command"], "```", "",
        f"Medians of {out['repetitions']} alternating repetition(s). Settings: "
        f"{' and '.join(out.get('settings', ['tuned']))} (tuned: "
        f"{out.get('concurrency', 32)} jobs at once per process where a library has the "
        f"knob). Drain: {s['drain']:,} queued jobs of one kind, 2 worker processes, first "
        f"start to last start (timed for at most {s['drain_seconds']:g} s: a slower library "
        f"drains part of the queue). Pick-up: {s['pickup']['rate']:g} no-op jobs/s for "
        f"{s['pickup']['seconds']:g} s to the same workers, idle again. Single enqueue: "
        f"{s['single']:,} calls; bulk: {s['bulk']:,} jobs in batches of {s['batch']:,}.", "",
    ]
    lines += [markdown(t) for t in tables(out)]
    if out["skipped"]:
        lines += ["Not run:", ""] + [f"- {k}: {v}" for k, v in out["skipped"].items()] + [""]
    if out["errors"]:
        lines += ["Failed:", ""] + [
            f"- {e['library']} {e['workload']} ({e.get('settings', 'tuned')}, rep "
            f"{e['rep'] + 1}): {e['error'].splitlines()[0]}" for e in out["errors"]]
    return "\n".join(lines) + "\n"

"""Turn the runs into figures: medians over the repetitions, and how far ahead jobtrail is.

`summarize` gives one library's medians; `ratios` adds to every peer how many times
jobtrail is ahead of it with the same settings; `headline` compares jobtrail with
PgQueuer (PostgreSQL) and with the faster Huey (SQLite or Redis) per job kind and settings.
The tables are drawn by `report_tables`.
"""

from __future__ import annotations

import statistics
from typing import Any

#: Which jobtrail each family is compared with. jobtrail has no Redis backend: Redis peers
#: are compared with jobtrail on PostgreSQL, its server backend for many machines.
REFERENCE = {"sqlite": "jobtrail-sqlite", "postgres": "jobtrail-postgres",
             "redis": "jobtrail-postgres"}
#: Job kind -> the workload that drains it.
WORKLOAD = {"noop": "drain", "roundtrip": "roundtrip", "roundtrip_async": "roundtrip_async"}
JOB_LABELS = {"noop": "no-op", "roundtrip": "Redis round trip, blocking client",
              "roundtrip_async": "Redis round trip, asyncio client"}
#: The drains that only jobtrail runs: the no-op with recording on.
VARIANTS = {"steps": "5 recorded steps per job", "effect": "1 keyed effect per job"}
#: (jobtrail's settings, the peer's settings) the headline compares.
PAIRINGS = (("defaults", "defaults"), ("tuned", "tuned"), ("defaults", "tuned"))
#: jobtrail key, the peers it is measured against (the fastest of them counts), label.
HEADLINE = (("jobtrail-postgres", ("pgqueuer",), "jobtrail PostgreSQL ÷ PgQueuer"),
            ("jobtrail-sqlite", ("huey-sqlite", "huey-redis"),
             "jobtrail SQLite ÷ the faster Huey (SQLite or Redis)"))


def _median(runs: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in runs if field in r]
    return statistics.median(values) if values else None


def _drain(rs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"jobs_per_s": _median(rs, "jobs_per_s"), "runs": [round(r["jobs_per_s"]) for r in rs],
            "jobs": rs[0]["jobs"], "measured_jobs": min(r["measured_jobs"] for r in rs),
            "complete": all(r["complete"] for r in rs)}


def _summarize_settings(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"described": {}}
    for name in (*WORKLOAD.values(), *VARIANTS):
        if runs.get(name):
            out[name] = _drain(runs[name])
            out["described"][name] = runs[name][0].get("settings", "")
    if runs.get("drain"):
        out["workers"] = runs["drain"][0].get("settings", "")
        out["concurrency"] = runs["drain"][0].get("concurrency", "")
    if runs.get("pickup"):
        rs = runs["pickup"]
        out["pickup"] = {q: _median(rs, f"{q}_ms") for q in ("p50", "p95", "p99", "max")}
        out["pickup"]["runs_p99"] = [round(r["p99_ms"], 1) for r in rs]
    return out


def summarize(lib: dict[str, Any], settings: list[str]) -> dict[str, Any]:
    """Medians over the repetitions of one library's results, for every one of *settings*
    (a library with nothing to tune was measured once: that figure stands for both)."""
    runs = lib.get("runs", {})
    out: dict[str, Any] = {}
    for name in ("single", "bulk"):
        rs = runs.get(name, [])
        if any("na" in r for r in rs):
            out[name] = {"na": rs[0]["na"]}
        elif rs:
            out[name] = {"jobs_per_s": _median(rs, "jobs_per_s"),
                         "runs": [round(r["jobs_per_s"]) for r in rs], "jobs": rs[0]["jobs"]}
    if runs.get("claim"):
        c = runs["claim"][0]
        out["claim"] = c if "na" in c else {d["queued"]: d["median_us"] for d in c["depths"]}
    out["settings"] = {name: _summarize_settings(rs)
                       for name, rs in lib.get("by_settings", {}).items()}
    if lib.get("tuned_is_defaults") and out["settings"]:
        measured = next(iter(out["settings"].values()))
        out["settings"] = {name: dict(measured, measured_once=True) for name in settings}
    return out


def rate(summary: dict[str, dict[str, Any]], key: str, settings: str, job: str) -> float | None:
    """The median drain of *job* (a job kind or a variant) by *key* with *settings*."""
    s = summary.get(key, {}).get("settings", {}).get(settings, {})
    value = s.get(WORKLOAD.get(job, job), {}).get("jobs_per_s")
    return float(value) if value else None


def ratios(summary: dict[str, dict[str, Any]], meta: dict[str, dict[str, Any]]) -> None:
    """Add "how many times jobtrail is ahead" (> 1: jobtrail better) to every peer, for
    each of its settings, against jobtrail with the same settings: the drain of every job
    kind (jobtrail ÷ peer) and the pick-up p99 (peer ÷ jobtrail)."""
    for key, s in summary.items():
        reference = REFERENCE.get(meta[key].get("family") or "", "")
        if key.startswith("jobtrail") or reference not in summary:
            continue
        s["compared_with"] = reference
        for settings, own in s["settings"].items():
            r: dict[str, float] = {}
            for job in WORKLOAD:
                mine, theirs = rate(summary, reference, settings, job), rate(
                    summary, key, settings, job)
                if mine and theirs:
                    r[job] = mine / theirs
            ref = summary[reference]["settings"].get(settings, {})
            if own.get("pickup", {}).get("p99") and ref.get("pickup", {}).get("p99"):
                r["p99"] = own["pickup"]["p99"] / ref["pickup"]["p99"]
            own["jobtrail_ahead"] = r


def headline(summary: dict[str, dict[str, Any]],
             meta: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """jobtrail against PgQueuer and against the faster Huey: one entry per comparison,
    job kind and pairing of settings (jobtrail's, the peer's)."""
    out = []
    for reference, peers, label in HEADLINE:
        if reference not in summary:
            continue
        for job in WORKLOAD:
            row: dict[str, Any] = {"label": label, "job": job, "cells": {}}
            for mine, theirs in PAIRINGS:
                jt = rate(summary, reference, mine, job)
                candidates = [(r, p) for p in peers
                              if (r := rate(summary, p, theirs, job)) is not None]
                if jt is None or not candidates:
                    continue
                best, peer = max(candidates)
                row["cells"][f"{mine}/{theirs}"] = {
                    "ratio": jt / best, "jobtrail": jt, "peer": peer, "peer_jobs_per_s": best,
                    "peer_label": f"{meta[peer]['library']} {meta[peer]['backend']}"}
            if any(job in meta[p].get("jobs", ()) for p in peers if p in meta):
                out.append(row)
    return out


def recording_cost(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """jobtrail's drain with recording on, against its no-op drain with the same settings."""
    out = []
    for key in ("jobtrail-sqlite", "jobtrail-postgres"):
        for settings in summary.get(key, {}).get("settings", {}):
            noop = rate(summary, key, settings, "noop")
            entry: dict[str, Any] = {"key": key, "settings": settings, "noop": noop}
            for variant in VARIANTS:
                value = rate(summary, key, settings, variant)
                entry[variant] = value
                entry[f"{variant}_cost"] = 1 - value / noop if value and noop else None
            out.append(entry)
    return out

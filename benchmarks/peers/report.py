"""Turn the runs into figures and tables: rich on the terminal, Markdown and JSON on disk."""

from __future__ import annotations

import statistics
from typing import Any

#: Which jobtrail each family is compared with. jobtrail has no Redis backend: Redis peers
#: are compared with jobtrail on PostgreSQL, its server backend for many machines.
REFERENCE = {"sqlite": "jobtrail-sqlite", "postgres": "jobtrail-postgres",
             "redis": "jobtrail-postgres"}
DASH, TIMES = "\u2013", "\u00d7"  # what an empty cell shows; "times"


def _median(runs: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in runs if field in r]
    return statistics.median(values) if values else None


def summarize(lib: dict[str, Any]) -> dict[str, Any]:
    """Medians over the repetitions of one library's results."""
    runs = lib.get("runs", {})
    out: dict[str, Any] = {}
    for name in ("single", "bulk", "drain", "steps", "effect"):
        rs = runs.get(name, [])
        if any("na" in r for r in rs):
            out[name] = {"na": rs[0]["na"]}
        elif rs:
            out[name] = {"jobs_per_s": _median(rs, "jobs_per_s"),
                         "runs": [round(r["jobs_per_s"]) for r in rs], "jobs": rs[0]["jobs"]}
    if runs.get("pickup"):
        rs = runs["pickup"]
        out["pickup"] = {q: _median(rs, f"{q}_ms") for q in ("p50", "p95", "p99", "max")}
        out["pickup"]["runs_p99"] = [round(r["p99_ms"], 1) for r in rs]
    if runs.get("claim"):
        c = runs["claim"][0]
        out["claim"] = c if "na" in c else {d["queued"]: d["median_us"] for d in c["depths"]}
    for name in ("drain", "pickup", "steps", "effect"):
        if runs.get(name):
            out.setdefault("settings", {})[name] = runs[name][0].get("settings", "")
    return out


def ratios(summary: dict[str, dict[str, Any]], meta: dict[str, dict[str, Any]]) -> None:
    """Add "how many times jobtrail is ahead" (> 1: jobtrail better) to every peer."""
    for key, s in summary.items():
        reference = REFERENCE.get(meta[key].get("family") or "", "")
        ref = summary.get(reference, {})
        if key.startswith("jobtrail") or not ref:
            continue
        r: dict[str, float] = {}
        if s.get("drain", {}).get("jobs_per_s") and ref.get("drain", {}).get("jobs_per_s"):
            r["drain"] = ref["drain"]["jobs_per_s"] / s["drain"]["jobs_per_s"]
        if s.get("pickup", {}).get("p99") and ref.get("pickup", {}).get("p99"):
            r["p99"] = s["pickup"]["p99"] / ref["pickup"]["p99"]
        s["jobtrail_ahead"] = r
        s["compared_with"] = reference


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return DASH
    return f"{value:,.{digits}f}"


def rows(summary: dict[str, dict[str, Any]], meta: dict[str, dict[str, Any]]) -> list[list[str]]:
    out = []
    for key, s in summary.items():
        m = meta[key]
        depths = s.get("claim")
        if isinstance(depths, dict) and "na" not in depths:
            ks = sorted(depths)
            claim = " → ".join(_num(depths[k]) for k in ks)
        else:
            claim = "n/a"
        bulk = s.get("bulk", {})
        ahead = s.get("jobtrail_ahead", {})
        vs = DASH if key.startswith("jobtrail") else (
            f"{_num(ahead.get('drain'), 2)}{TIMES} / {_num(ahead.get('p99'), 2)}{TIMES}"
            f" vs {REFERENCE_LABEL[s.get('compared_with', '')]}" if ahead else DASH)
        pick = s.get("pickup", {})
        out.append([
            m["library"] + (f" {m['version']}" if m.get("version") else ""),
            m["backend"], s.get("settings", {}).get("drain", ""),
            _num(s.get("single", {}).get("jobs_per_s")),
            "n/a" if "na" in bulk else _num(bulk.get("jobs_per_s")),
            _num(s.get("drain", {}).get("jobs_per_s")),
            f"{_num(pick.get('p50'), 1)} / {_num(pick.get('p99'), 1)}",
            claim, vs,
        ])
        for variant, label in VARIANT_LABELS.items():
            if "jobs_per_s" in s.get(variant, {}):
                out.append([
                    f"{m['library']}, {label}", m["backend"],
                    s["settings"].get(variant, ""), "", "", _num(s[variant]["jobs_per_s"]),
                    "", "", DASH,
                ])
    return out


VARIANT_LABELS = {"steps": "5 recorded steps per job", "effect": "1 keyed effect per job"}
REFERENCE_LABEL = {"jobtrail-sqlite": "jobtrail SQLite", "jobtrail-postgres": "jobtrail PG",
                   "": ""}
HEADERS = ["library", "backend", "settings (drain and pick-up)", "enqueue 1 by 1 (jobs/s)",
           "bulk enqueue (jobs/s)", "drain (jobs/s)", "pick-up p50 / p99 (ms)",
           "claim µs: 1k → 100k queued", "jobtrail ahead: drain / p99"]


def markdown(report: dict[str, Any]) -> str:
    table = rows(report["summary"], report["libraries"])
    headers = list(HEADERS)
    depths = report["sizes"]["claim_depths"]
    headers[7] = "claim µs: " + " → ".join(_k(d) for d in depths) + " queued"
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join(["---"] * 3 + ["---:"] * 5 + ["---"]) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table]
    return "\n".join(lines) + "\n"


def _k(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def rich_table(report: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"jobtrail and its peers — {report['date']}", show_lines=False)
    depths = report["sizes"]["claim_depths"]
    for i, h in enumerate(HEADERS):
        if i == 7:
            h = "claim µs: " + " → ".join(_k(d) for d in depths)
        t.add_column(h, justify="right" if 3 <= i <= 7 else "left",
                     overflow="fold", max_width=34 if i == 2 else None)
    for r in rows(report["summary"], report["libraries"]):
        t.add_row(*r)
    return t

"""The run as the JSON file holds it: when, the command, the machine, the settings, how the
workers were started, and every backend's figures."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from corebench.machine import machine
from corebench.settings import Settings
from corebench.terminal import console
from corebench.workers import RUNNER_COMMANDS


def describe_run(command: str, settings: Settings, runner: str) -> dict[str, Any]:
    """The report of a run about to start, before any figure."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command, "machine": machine(), "settings": asdict(settings),
        "workers_started_by": RUNNER_COMMANDS[runner],
    }


def add_results(report: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    """Put every backend's figures in *report* (without the table's own ``_backend`` key)."""
    report["results"] = {n: {k: v for k, v in d.items() if k != "_backend"}
                         for n, d in results.items()}


def write_json(report: dict[str, Any], destination: str) -> None:
    """Write *report* to *destination*, making its directory if needed."""
    path = Path(destination)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"results written to {path}")

"""What the drain comparisons (``steps.py``, ``limits.py``, ``observability.py``,
``audit.py``) share: their command line, and the line under their tables."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from corebench.backends import Backend
from corebench.settings import DEFAULT_PG_URL, Settings
from corebench.terminal import console


def drain_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser with the options every drain comparison takes."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="2,000 jobs, one round")
    return parser


def drain_settings(args: argparse.Namespace) -> Settings:
    """The settings *args* ask for (``--quick``: 2,000 jobs, one round)."""
    return Settings(jobs=2_000 if args.quick else args.jobs,
                    repeat=1 if args.quick else args.repeat, concurrency=args.concurrency)


def footer(settings: Settings, extra: str = "") -> None:
    """Say what was drained, how many rounds, and the command that did it."""
    console.print(f"drain: {settings.jobs:,} jobs, {settings.processes} worker processes x "
                  f"{settings.concurrency} threads, median of {settings.repeat} alternating "
                  f"rounds{extra}")
    console.print("command: python " + " ".join(sys.argv))


def over_backends(backends: Sequence[Backend],
                  measure: Callable[[Backend], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """*measure* each backend in turn, by name; every backend cleaned up at the end."""
    results: dict[str, dict[str, Any]] = {}
    try:
        for backend in backends:
            console.print(f"[bold]{backend.name}[/]: measuring")
            results[backend.name] = measure(backend)
    finally:
        for backend in backends:
            backend.cleanup()
    return results

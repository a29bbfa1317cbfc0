"""The console every part of the core benchmark prints to (120 columns when not a terminal)."""

from __future__ import annotations

import sys

from rich.console import Console

console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)

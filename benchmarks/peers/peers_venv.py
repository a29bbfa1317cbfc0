"""The peers' virtual environment: ``benchmarks/peers/.venv``, made and kept up to date.

It holds the pinned peers of ``requirements-peers.txt`` and jobtrail itself, installed
editable from this checkout. A stamp file records a hash of the requirements file,
jobtrail's ``pyproject.toml`` and the Python version; when they match, nothing is
installed. Runs on the system Python with the standard library (rich, when present, only
draws the progress).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements-peers.txt"
STAMP = VENV / ".peers-stamp"
PYTHON = VENV / "bin" / "python"


def fingerprint() -> str:
    h = hashlib.sha256()
    for path in (REQUIREMENTS, ROOT / "pyproject.toml"):
        h.update(path.read_bytes())
    h.update(sys.version.split()[0].encode())
    return h.hexdigest()


def up_to_date() -> bool:
    return PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == fingerprint()


def _requirements() -> list[str]:
    lines = (line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    return [line for line in lines if line]


def _pip(args: list[str], on_line: Any) -> None:
    proc = subprocess.Popen(
        [str(PYTHON), "-m", "pip", args[0], "--disable-pip-version-check", "--progress-bar",
         "off", *args[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if not line or line.startswith("WARNING: Location"):
            continue
        tail = [*tail[-30:], line]
        on_line(line)
    if proc.wait() != 0:
        raise RuntimeError("pip failed:\n" + "\n".join(tail))


def ensure(console: Any = None) -> Path:
    """Create or update the environment when needed; return its python."""
    if up_to_date():
        return PYTHON
    say = console.print if console else print
    if VENV.exists() and not PYTHON.exists():
        shutil.rmtree(VENV)
    if not PYTHON.exists():
        say(f"creating {VENV.relative_to(ROOT)} (Python {sys.version.split()[0]})")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    total = len(_requirements()) + 1  # + jobtrail
    names = {re.split(r"[\[=<>]", r)[0].lower().replace("_", "-") for r in _requirements()}
    seen: set[str] = set()
    progress = _progress(console, total)
    with progress as bar:
        task = bar.add_task("installing the peers", total=total)

        def on_line(line: str) -> None:
            m = re.match(r"(?:Collecting|Requirement already satisfied:|Obtaining) (\S+)", line)
            if m:
                name = re.split(r"[\[=<>]", m.group(1))[0].lower().replace("_", "-")
                if name in names or "file://" in name or name == ROOT.as_uri():
                    seen.add(name)
                bar.update(task, completed=min(len(seen), total - 1),
                           description=f"pip: {line[:60]}")
            elif line.startswith(("Installing collected", "Building", "Successfully")):
                bar.update(task, description=f"pip: {line[:60]}")

        _pip(["install", "-r", str(REQUIREMENTS)], on_line)
        bar.update(task, completed=total - 1, description="pip: jobtrail (editable)")
        _pip(["install", "--no-deps", "-e", str(ROOT)], on_line)
        bar.update(task, completed=total, description="installed")
    STAMP.write_text(fingerprint() + "\n")
    return PYTHON


class _Plain:
    """Progress printed as lines, when rich is not installed."""

    def __init__(self, total: int) -> None:
        self.total, self.last = total, -10

    def __enter__(self) -> _Plain:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add_task(self, description: str, total: int) -> int:
        print(description, flush=True)
        return 0

    def update(self, task: int, completed: int | None = None, description: str = "") -> None:
        if completed is not None and (completed - self.last >= 10 or completed == self.total):
            self.last = completed
            print(f"  [{completed}/{self.total}] {description}", flush=True)


def _progress(console: Any, total: int) -> Any:
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    except ImportError:
        return _Plain(total)
    if console is None or not console.is_terminal:
        return _Plain(total)
    return Progress(TextColumn("{task.description:<66}"), BarColumn(), MofNCompleteColumn(),
                    console=console, transient=False)


if __name__ == "__main__":
    print(ensure())

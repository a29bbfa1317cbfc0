"""The third-party files the dashboard serves, pinned: htmx (progressive enhancement of its
forms) and uPlot (sparklines), each at one version, with the SHA-256 of every file as
published and the tarball it came from.

They are in ``static/vendor/``, minified as published, beside their licences, and served
from the dashboard's own origin (its Content-Security-Policy allows no other). `mismatches`
checks a directory of them against `VENDORED`; the tests run it on the package's own, so a
file edited by hand, or another version dropped in without this table saying so, fails the
suite.

To upgrade one: ``npm pack htmx.org@VERSION`` (or ``uplot@VERSION``), check the tarball's
integrity against the registry's (``npm view htmx.org@VERSION dist.integrity``), copy the
files from its ``package/`` directory, and set their version, source and SHA-256 here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VENDOR", "VENDORED", "Vendored", "mismatches", "sha256_of"]

#: Where the vendored files are.
VENDOR = Path(__file__).parent / "static" / "vendor"

_HTMX = "https://registry.npmjs.org/htmx.org/-/htmx.org-2.0.11.tgz"
_UPLOT = "https://registry.npmjs.org/uplot/-/uplot-1.6.32.tgz"


@dataclass(frozen=True, slots=True)
class Vendored:
    """One vendored file: its name in ``static/vendor/``, the npm package and version it
    comes from, where (the tarball, and the file's path inside it), its SHA-256, and the
    file holding its licence."""

    file: str
    package: str
    version: str
    source: str
    sha256: str
    license: str


#: Every vendored file, its licence text included.
VENDORED: tuple[Vendored, ...] = (
    Vendored("htmx.min.js", "htmx.org", "2.0.11", f"{_HTMX}#package/dist/htmx.min.js",
             "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
             "htmx.LICENSE"),
    Vendored("htmx.LICENSE", "htmx.org", "2.0.11", f"{_HTMX}#package/LICENSE",
             "d3d2456f76414f2456104660ebd65aff1c04cd7966b942bdabd63f3cdb316a38",
             "htmx.LICENSE"),
    Vendored("uPlot.iife.min.js", "uplot", "1.6.32", f"{_UPLOT}#package/dist/uPlot.iife.min.js",
             "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
             "uPlot.LICENSE"),
    Vendored("uPlot.min.css", "uplot", "1.6.32", f"{_UPLOT}#package/dist/uPlot.min.css",
             "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
             "uPlot.LICENSE"),
    Vendored("uPlot.LICENSE", "uplot", "1.6.32", f"{_UPLOT}#package/LICENSE",
             "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
             "uPlot.LICENSE"),
)


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file at *path*, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mismatches(directory: Path = VENDOR,
               pinned: tuple[Vendored, ...] = VENDORED) -> list[str]:
    """What is wrong with the vendored files in *directory*, one sentence each: a file
    missing, a file whose SHA-256 is not its pinned one, a file no entry pins. Empty when
    every file is the one pinned."""
    problems: list[str] = []
    for entry in pinned:
        path = directory / entry.file
        if not path.is_file():
            problems.append(f"{entry.file} ({entry.package} {entry.version}) is missing")
            continue
        found = sha256_of(path)
        if found != entry.sha256:
            problems.append(
                f"{entry.file} is not {entry.package} {entry.version} as published: its "
                f"SHA-256 is {found}, pinned {entry.sha256} (from {entry.source})")
    known = {entry.file for entry in pinned}
    if directory.is_dir():
        problems += [f"{path.name} is not pinned: add it to VENDORED or remove it"
                     for path in sorted(directory.iterdir()) if path.name not in known]
    return problems

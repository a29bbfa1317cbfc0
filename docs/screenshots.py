"""Take the dashboard's screenshots shown in the README (docs/images/dashboard-*.png).

    python docs/screenshots.py [--chromium PATH]

Runs ``jobtrail demo`` on a new SQLite file, serves its dashboard with ``jobtrail
dashboard --app jobtrail.demo:app`` (as the demo says), and photographs each page in a
headless chromium (Playwright, with the system's chromium: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from playwright.sync_api import sync_playwright

IMAGES = Path(__file__).resolve().parent / "images"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium"),
                        help="the chromium to drive (default: the one on PATH)")
    args = parser.parse_args()
    if not args.chromium:
        sys.exit("no chromium found: apt-get install chromium, or give --chromium PATH")
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        subprocess.run([sys.executable, "-m", "jobtrail", "demo", "--url", url], check=True,
                       stdout=subprocess.DEVNULL)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "jobtrail", "dashboard", "--app", "jobtrail.demo:app",
             "--port", str(port)], env={**os.environ, "JOBTRAIL_DEMO_URL": url},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            pages = _pages(base)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                for name, path in pages:
                    page.goto(base + path)
                    page.wait_for_load_state()
                    page.screenshot(path=IMAGES / f"dashboard-{name}.png")
                    print(f"docs/images/dashboard-{name}.png  {path}")
                browser.close()
        finally:
            server.terminate()
            server.wait(10)


def _pages(base: str) -> list[tuple[str, str]]:
    """The pages to photograph, once the server answers: a dead job's page among them."""
    deadline = time.monotonic() + 20
    while True:
        try:
            dead = httpx2.get(base + "/dead?format=json", timeout=2).json()
            break
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                sys.exit("the dashboard did not answer in 20 s")
            time.sleep(0.2)
    first_dead = dead["jobs"][0]["id"] if dead["jobs"] else 1
    return [("overview", "/"), ("jobs", "/jobs"), ("job", f"/jobs/{first_dead}"),
            ("dead", "/dead"), ("audit", "/audit"), ("flow", "/flows/sync_customer"),
            ("catalog", "/catalog"), ("paths", "/paths/sync_customer"),
            ("divergences", "/divergences")]


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""jobtrail beside its peers: the same workloads on every library, in one run.

    python benchmarks/peers/run.py --quick     # about 4 minutes with every library
    python benchmarks/peers/run.py             # 3 alternating repetitions, full sizes
    python benchmarks/peers/run.py --libs jobtrail-postgres,pgqueuer --repeat 5
    python benchmarks/peers/run.py --quick --settings defaults

On first use it creates benchmarks/peers/.venv with the pinned peers and jobtrail from
this checkout. It needs Redis and PostgreSQL (``--redis-url``, ``--pg-url``); a library
whose server is missing is skipped with the reason. See benchmarks/peers/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers_venv  # noqa: E402
import report  # noqa: E402
import report_tables  # noqa: E402

KEYS = ["jobtrail-sqlite", "huey-sqlite", "jobtrail-postgres", "pgqueuer", "procrastinate",
        "celery", "rq", "dramatiq", "huey-redis", "arq", "saq", "taskiq"]
FULL = {"single": 2000, "bulk": 20000, "batch": 1000, "drain": 20000, "drain_seconds": 20,
        "pickup": {"rate": 200, "seconds": 5, "idle": 1.0},
        "claim_depths": [1000, 100_000], "claims": 200}
QUICK = {"single": 300, "bulk": 3000, "batch": 1000, "drain": 2000, "drain_seconds": 2.0,
         "pickup": {"rate": 100, "seconds": 1.5, "idle": 0.5},
         "claim_depths": [1000, 10_000], "claims": 30}

try:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console: Any = Console(highlight=False, width=None if sys.stdout.isatty() else 220)
except ImportError:  # plain output without rich
    console = None
    Progress = None  # type: ignore[assignment,misc]


def say(text: str) -> None:
    if console:
        console.print(text)
    else:
        print(text, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="jobtrail and its peers, side by side")
    p.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    p.add_argument("--large", action="store_true", help="also claim cost at 1,000,000 queued")
    p.add_argument("--repeat", type=int, help="alternating repetitions (default 3; 1 --quick)")
    p.add_argument("--libs", help="comma-separated subset of: " + ",".join(KEYS))
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15",
                   help="Redis database the harness owns (flushed!) (default %(default)s)")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/jt_peers",
                   help="PostgreSQL server; the harness creates and drops <db>_jobtrail, "
                   "<db>_pgqueuer, <db>_procrastinate (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=32,
                   help="jobs at once per worker process with the tuned settings, where a "
                   "library has the knob (default %(default)s)")
    p.add_argument("--settings", choices=["defaults", "tuned", "both"], default="both",
                   help="the workers' settings: each library's defaults, tuned for "
                   "throughput, or both (default %(default)s)")
    p.add_argument("--out", default=str(HERE / "results"), help="where latest.json|md go")
    args = p.parse_args(argv)
    keys = args.libs.split(",") if args.libs else KEYS
    unknown = set(keys) - set(KEYS)
    if unknown:
        p.error(f"unknown --libs {sorted(unknown)}; choose from {', '.join(KEYS)}")
    args.keys = [k for k in KEYS if k in keys]
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.settings = ["defaults", "tuned"] if args.settings == "both" else [args.settings]
    return args


def machine() -> dict[str, Any]:
    memory = None
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        memory = round(int(f.readline().split()[1]) / 1024 / 1024)
    return {"cpus": os.cpu_count(), "memory_gib": memory, "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "load_1min_before": round(os.getloadavg()[0], 2)}


class Driver:
    """``driver.py`` in the peers' environment, in this process group (Ctrl-C reaches it)."""

    current: subprocess.Popen[str] | None = None

    def __init__(self, python: Path, config: Path, log: Path) -> None:
        self.python, self.config, self.log = python, config, log

    def lines(self, *args: str) -> Any:
        with open(self.log, "a") as err:
            proc = subprocess.Popen([str(self.python), str(HERE / "driver.py"), *args,
                                     str(self.config)], stdout=subprocess.PIPE, stderr=err,
                                    text=True, cwd=HERE)
            Driver.current = proc
            assert proc.stdout is not None
            for line in proc.stdout:
                with contextlib.suppress(ValueError):
                    yield json.loads(line)
            proc.wait()
            Driver.current = None

    @classmethod
    def stop(cls) -> None:
        proc = cls.current
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def sweep(run_id: str) -> None:
    """Kill any process left with this run's marker in its environment (a last resort)."""
    marker = f"PEERS_RUN_ID={run_id}".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)


#: Workloads measured on a library's workers, once for each of their settings; the others
#: (enqueue, claim cost) do not start workers and run once, with the tuned settings.
WORKER_WORKLOADS = ("drain", "pickup", "roundtrip", "roundtrip_async", "steps", "effect")


class Step(NamedTuple):
    rep: int
    key: str
    settings: str  # "defaults" or "tuned"
    names: list[str]  # the workloads, in order


def plan(libs: dict[str, dict[str, Any]], settings: list[str], repeat: int) -> list[Step]:
    """Round-robin: every repetition runs every library once, starting one further along,
    and each library's settings in turn (the other one first in every other repetition).
    *libs*: each library's job kinds and whether it has settings to tune, in the order of
    the tables. One with nothing to tune runs once, with the tuned settings."""
    keys = list(libs)
    home = "tuned" if "tuned" in settings else settings[0]  # where enqueue and claim run
    steps = []
    for rep in range(repeat):
        order = keys[rep % len(keys):] + keys[:rep % len(keys)]
        for key in order:
            own = [home] if libs[key].get("tuned_is_defaults") else settings
            for setting in own if rep % 2 == 0 else own[::-1]:
                names = ["single", "bulk"] if setting == home else []
                names += ["drain", "pickup", *(j for j in libs[key]["jobs"] if j != "noop")]
                if key.startswith("jobtrail"):
                    names += ["steps", "effect"]
                if rep == 0 and setting == home:
                    names.append("claim")
                steps.append(Step(rep, key, setting, names))
    return steps


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    python = peers_venv.ensure(console)
    sizes: dict[str, Any] = dict(QUICK if args.quick else FULL)
    if args.large:
        sizes["claim_depths"] = [*sizes["claim_depths"], 1_000_000]
    run_dir = Path(tempfile.mkdtemp(prefix="jt-peers-"))
    shm = Path("/dev/shm")
    record_dir = Path(tempfile.mkdtemp(prefix="jt-peers-rec-", dir=shm if shm.is_dir() else None))
    run_id = uuid.uuid4().hex
    cfg = {"run_dir": str(run_dir), "record_dir": str(record_dir), "run_id": run_id,
           "redis_url": args.redis_url, "pg_url": args.pg_url, "keys": args.keys,
           "concurrency": args.concurrency, "processes": 2, "sizes": sizes}
    config = run_dir / "config.json"
    config.write_text(json.dumps(cfg))
    driver = Driver(python, config, run_dir / "driver.log")
    command = shlex.join(["python", "benchmarks/peers/run.py", *(sys.argv[1:] if argv is None
                                                                else argv)])
    out: dict[str, Any] = {
        "date": dt.date.today().isoformat(), "command": command, "machine": machine(),
        "sizes": sizes, "repetitions": args.repeat, "settings": args.settings,
        "concurrency": args.concurrency, "libraries": {}, "skipped": {}, "errors": [],
    }
    interrupted = False
    try:
        for info in driver.lines("check"):
            if info.get("reason"):
                out["skipped"][info["key"]] = info["reason"]
                say(f"[yellow]skipped {info['key']}:[/] {info['reason']}" if console
                    else f"skipped {info['key']}: {info['reason']}")
            else:
                out["libraries"][info["key"]] = {
                    k: info[k] for k in ("version", "library", "backend", "family", "jobs",
                                         "tuned_is_defaults")}
                out["libraries"][info["key"]].update(runs={}, by_settings={})
        libs = {k: out["libraries"][k] for k in args.keys if k in out["libraries"]}
        run_plan(driver, plan(libs, args.settings, args.repeat), out)
    except KeyboardInterrupt:
        interrupted = True
        say("interrupted: stopping workers")
        Driver.stop()
    finally:
        Driver.stop()
        with contextlib.suppress(Exception):
            for _ in driver.lines("cleanup"):
                pass
        sweep(run_id)
        shutil.rmtree(record_dir, ignore_errors=True)
        if not interrupted:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            say(f"logs kept in {run_dir}")
    if interrupted:
        return 130
    return finish(out, Path(args.out))


def run_plan(driver: Driver, steps: list[Step], out: dict[str, Any]) -> None:
    total = sum(len(step.names) for step in steps)
    live = Progress is not None and console.is_terminal  # else one line per workload
    bar: Any = (Progress(TextColumn("{task.description:<60}"), BarColumn(), MofNCompleteColumn(),
                         console=console, transient=True) if live else None)
    with bar or contextlib.nullcontext():
        task = bar.add_task("", total=total) if bar else None
        done = 0
        for rep, key, setting, names in steps:
            lib = out["libraries"][key]
            label = f"rep {rep + 1}/{out['repetitions']} {key} {setting}"
            if bar:
                bar.update(task, description=f"{label}: {names[0]}")
            for msg in driver.lines("run", key, ",".join(names), str(rep), setting):
                if "meta" in msg:
                    lib.update(msg["meta"])
                    continue
                name = msg.get("workload")
                if name is None:
                    continue
                done += 1
                if "error" in msg:
                    out["errors"].append({"library": key, "rep": rep, "settings": setting,
                                          "workload": name, "error": msg["error"][:2000]})
                    say(f"{label}: {name} failed: {msg['error'][:300]}")
                else:
                    result = {**msg["result"], "seconds": round(msg.get("seconds", 0), 2)}
                    runs = (lib["by_settings"].setdefault(setting, {})
                            if name in WORKER_WORKLOADS else lib["runs"])
                    runs.setdefault(name, []).append(result)
                nxt = names[names.index(name) + 1] if names.index(name) + 1 < len(names) else ""
                if bar:
                    bar.update(task, completed=done, description=f"{label}: {nxt}")
                else:
                    print(f"[{done}/{total}] {label}: {name} done", flush=True)


def finish(out: dict[str, Any], directory: Path) -> int:
    out["machine"]["load_1min_after"] = round(os.getloadavg()[0], 2)
    out["summary"] = {k: report.summarize(v, out["settings"])
                      for k, v in out["libraries"].items()}
    report.ratios(out["summary"], out["libraries"])
    out["headline"] = report.headline(out["summary"], out["libraries"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    (directory / "latest.md").write_text(report_tables.page(out))
    for table in report_tables.tables(out):
        if console:
            console.print(report_tables.rich(table))
        else:
            print(report_tables.markdown(table))
    for key, reason in out["skipped"].items():
        say(f"skipped {key}: {reason}")
    m = out["machine"]
    say(f"{out['date']}, {m['cpus']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"load {m['load_1min_before']} → {m['load_1min_after']}; command: {out['command']}")
    say(f"written: {directory / 'latest.md'}, {directory / 'latest.json'}")
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

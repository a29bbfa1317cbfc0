"""The demo's crash scenario: a worker killed inside an effect, and how the effect is resolved.

``refund_order`` refunds a card inside ``ctx.effect``. A real worker process runs it and
is SIGKILLed while the gateway call is in flight: the effect's intent is on disk, its
end never is. jobtrail cannot know whether the refund happened, so it does not guess:
the job's next attempt finds the effect uncertain and ends dead with
``effect_uncertain`` instead of refunding a second time. The operator asks the gateway
(here: its ledger file, where every refund it made is one line), finds the refund, and
resolves the effect as done with the gateway's refund id; the replayed job then gets
that id back instead of calling the gateway again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from jobtrail.app import App
from jobtrail.context import Context
from jobtrail.errors import JobtrailError
from jobtrail.records import JobRecord, Status
from jobtrail.store.base import EffectRecord

QUEUE = "refunds"
#: Set in the worker process the scenario kills: its gateway call stalls until then.
STALL_ENV = "JOBTRAIL_DEMO_STALL"
ORDER = 9001
AMOUNT_CENTS = 2_500
#: Seconds the scenario waits for each of its stages before saying it is stuck.
STAGE_TIMEOUT = 30.0

T = TypeVar("T")


def _gateway_refund(order_id: int, amount_cents: int, ledger: str) -> str:
    """Refund at the gateway: the gateway records it in its ledger (one line per refund,
    with the process that asked), then its answer is slow to come back."""
    refund_id = f"re_{order_id}_{amount_cents}"
    with open(ledger, "a", encoding="utf-8") as file:
        file.write(f"{refund_id} {os.getpid()}\n")
        file.flush()
        os.fsync(file.fileno())
    if os.environ.get(STALL_ENV):
        time.sleep(STAGE_TIMEOUT * 2)  # the answer that never comes: the worker is killed
    return refund_id


def refund_order(ctx: Context, order_id: int, amount_cents: int, ledger: str) -> str:
    """Refund an order once, then tell the customer."""
    refund_id = ctx.effect("refund", _gateway_refund, order_id, amount_cents, ledger,
                           key=f"refund-{order_id}")
    ctx.event("customer_told", refund=refund_id)
    return refund_id


def register(demo: App) -> None:
    """Declare ``refund_order`` on *demo* (one attempt after the crash is enough to see)."""
    demo.job(queue=QUEUE)(refund_order)


def refunds_in(ledger: Path) -> list[tuple[str, int]]:
    """The gateway's refunds: (refund id, the process that asked for it), in order."""
    if not ledger.exists():
        return []
    refunds = []
    for line in ledger.read_text(encoding="utf-8").splitlines():
        refund_id, _, pid = line.partition(" ")
        refunds.append((refund_id, int(pid)))
    return refunds


@dataclass(frozen=True, slots=True)
class Crash:
    """What the crash left: the job (dead), its uncertain effect, the process killed,
    and the refund the gateway says it made."""

    job: JobRecord
    effect: EffectRecord
    killed_pid: int
    refund_id: str


def crash_inside_effect(demo: App, ledger: Path) -> Crash:
    """Run ``refund_order`` in a real worker process, SIGKILL it inside the refund, and
    wait until jobtrail has ended the job as ``effect_uncertain``.

    The worker runs supervised (``--processes 1``), as in production: its supervisor sees
    the process die, ends the leases it held, and a new process takes the job's next
    attempt, which finds the refund begun and never ended.
    """
    handle = demo.job_named("refund_order").enqueue(
        order_id=ORDER, amount_cents=AMOUNT_CENTS, ledger=str(ledger))
    env = dict(os.environ, JOBTRAIL_DEMO_URL=demo.url, **{STALL_ENV: "1"})
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobtrail", "worker", "jobtrail.demo:app", "--queues", QUEUE,
         "--processes", "1", "--log-level", "error"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=env, start_new_session=True,
    )
    try:
        refunds = _until(lambda: _called(demo, handle.id, ledger), worker,
                         "the worker to call the gateway")
        refund_id, pid = refunds[0]
        os.kill(pid, signal.SIGKILL)
        job = _until(lambda: _dead(demo, handle.id), worker, "jobtrail to end the job")
    finally:
        _stop(worker)
    (effect,) = [e for e in demo.effects(handle.id) if e.name == "refund"]
    return Crash(job, effect, pid, refund_id)


def resolve_and_replay(demo: App, crash: Crash) -> JobRecord:
    """The operator's part: the gateway did refund, so the effect is done with its id;
    then the job is queued again."""
    demo.resolve_effect(crash.job.id, "refund", "done", crash.refund_id)
    return demo.replay(crash.job.id)


def _called(demo: App, job_id: int, ledger: Path) -> list[tuple[str, int]]:
    """The gateway's refunds once there is one; an error if the job ended without one."""
    refunds = refunds_in(ledger)
    if not refunds:
        job = demo.get(job_id)
        if job.is_final:
            raise JobtrailError(f"the demo's refund_order #{job_id} ended {job.status.value} "
                                f"before the gateway was called: {job.error}")
    return refunds


def _dead(demo: App, job_id: int) -> JobRecord | None:
    job = demo.get(job_id)
    return job if job.status is Status.DEAD else None


def _until(probe: Callable[[], T | None], worker: subprocess.Popen[bytes], what: str) -> T:
    deadline = time.monotonic() + STAGE_TIMEOUT
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        if worker.poll() is not None:
            stderr = worker.stderr.read().decode(errors="replace") if worker.stderr else ""
            raise JobtrailError(f"the demo's refund worker exited with {worker.returncode} "
                                f"while waiting for {what}: {stderr.strip()[-500:]}")
        time.sleep(0.02)
    raise JobtrailError(f"the demo waited {STAGE_TIMEOUT:g}s for {what}")


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """Stop the worker's supervisor (it stops its process); kill the group if it lingers."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    if worker.stderr is not None:
        worker.stderr.close()

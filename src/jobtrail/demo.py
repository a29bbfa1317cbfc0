"""A small, realistic workload for seeing jobtrail at work; ``jobtrail demo`` runs it.

Three teams share one app:

- **billing** charges invoices. The payment gateway times out now and then (a
  `Transient` failure) or drops the connection (an unclassified error, retried too);
  both succeed on a later attempt. One card is always declined: a `Permanent` failure
  that sends its invoice straight to the dead-letter queue.
- **onboarding** sends welcome emails; each enqueues a follow-up as a child job.
- **notifications** pushes messages from an ``async def`` job.

The **deploy** scenario (`jobtrail.demo_paths`) shows execution paths: a release that
silently stopped validating before a push is caught as divergences and a new path.

One more scenario plays a deploy that changed a job's signature: an invoice enqueued
by the previous release, whose ``invoice_id`` was a string, no longer fits the code and
ends ``orphaned`` instead of running with the wrong data.

The **idempotency** scenario shows the tools that make running twice harmless: an invoice
enqueued twice under one idempotency key is one job; a ledger reconciliation whose first
attempt dies between its checkpointed steps resumes after the last completed one; and a
payment whose receipt fails once is retried without charging the card again. The jobs
count what they really do in `TALLY`, so the summary can say what ran how often.

Each scenario is one function that enqueues its jobs, so the demo can grow new ones.
The **crash** scenario (`jobtrail.demo_crash`) SIGKILLs a real worker process inside a
refund's effect: the job ends ``effect_uncertain`` rather than refunding twice, and the
operator resolves the effect and replays the job.

The module's ``app`` uses ``$JOBTRAIL_DEMO_URL`` (default: ``demo.db`` in the directory
`demo_home`, under the system's temporary directory), so a worker can run the same jobs::

    JOBTRAIL_DEMO_URL=sqlite:////tmp/jobtrail-demo/demo.db jobtrail worker jobtrail.demo:app
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jobtrail import demo_crash, demo_paths
from jobtrail.app import App
from jobtrail.context import Context
from jobtrail.errors import Permanent, Transient
from jobtrail.paths.rules import enqueued, succeeded
from jobtrail.retry import Retry
from jobtrail.store.base import NewJob


def demo_home() -> Path:
    """Where the demo keeps its data: a directory of the system's temporary one (honouring
    ``$TMPDIR``), so that no checkout or working directory collects demo databases."""
    return Path(tempfile.gettempdir()) / "jobtrail-demo"


DEMO_URL = f"sqlite:///{demo_home() / 'demo.db'}"
DEMO_URL_ENV = "JOBTRAIL_DEMO_URL"

#: Short delays so that retries happen within the demo's few seconds.
RETRY = Retry(max_attempts=3, base=0.05, cap=0.5)
DECLINED_CARD = "4000-0000-0000-0002"
GOOD_CARD = "4242-4242-4242-4242"
#: Every n-th invoice meets a gateway timeout, every m-th a dropped connection, once.
TIMEOUT_EVERY = 4
DROPPED_EVERY = 7


# -- the jobs ------------------------------------------------------------------------------
def _simulate_io() -> None:
    time.sleep(random.uniform(0.01, 0.06))


def charge_invoice(ctx: Context, invoice_id: int, amount_cents: int, card: str) -> dict[str, int]:
    """Charge an invoice on a card through a gateway that sometimes fails."""
    ctx.event("authorising", amount_cents=amount_cents)
    _simulate_io()
    if card == DECLINED_CARD:
        raise Permanent(f"card ending {card[-4:]} declined by the issuer: do not honour")
    if invoice_id % TIMEOUT_EVERY == 0 and ctx.attempt == 1:
        raise Transient("payment gateway timed out after 30s")
    if invoice_id % DROPPED_EVERY == 0 and ctx.attempt < 3:
        raise ConnectionResetError("connection reset by payment gateway")
    ctx.event("captured", amount_cents=amount_cents)
    return {"invoice_id": invoice_id, "charged_cents": amount_cents}


def send_welcome_email(ctx: Context, user_id: int, email: str) -> str:
    """Send the welcome email of a new user, then plan their follow-up."""
    _simulate_io()
    ctx.event("email_sent", to=email)
    followup = ctx.enqueue("schedule_followup", user_id=user_id, days=3)
    return f"welcome email sent; follow-up job {followup.id}"


def schedule_followup(user_id: int, days: int) -> str:
    """Plan a check-in with a user some days after they signed up."""
    _simulate_io()
    return f"follow-up for user {user_id} in {days} days"


async def push_notification(
    user_id: int, message: str, channel: Literal["push", "sms"] = "push"
) -> bool:
    """Deliver a notification to a user's device."""
    await asyncio.sleep(random.uniform(0.005, 0.02))
    return True


@dataclass
class Tally:
    """What the idempotency scenario's jobs really did, counted in this process (the demo
    runs its worker in-process): card charges per invoice, receipt sends tried per
    invoice, and runs of each ledger step."""

    charges: Counter[int] = field(default_factory=Counter)
    receipts_tried: Counter[int] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, counter: Counter[Any], key: Any) -> int:
        """Add one to *counter*[*key*] (jobs run on several threads); return the new count."""
        with self.lock:
            counter[key] += 1
            return int(counter[key])

    def reset(self) -> None:
        """Forget every count."""
        with self.lock:
            self.charges.clear()
            self.receipts_tried.clear()
            self.steps.clear()


TALLY = Tally()
LEDGER_STEPS = ("fetch", "match", "post")


def _gateway_charge(invoice_id: int, amount_cents: int) -> str:
    """Charge the card at the payment gateway: the side effect that must never repeat."""
    TALLY.count(TALLY.charges, invoice_id)
    return f"ch_{invoice_id}_{amount_cents}"


def _send_receipt(invoice_id: int, charge_id: str) -> str:
    """Email a receipt; the mail server turns the first try of each invoice away."""
    if TALLY.count(TALLY.receipts_tried, invoice_id) == 1:
        raise Transient("mail server unavailable (421), try again later")
    return f"receipt for {charge_id} sent"


def pay_invoice(ctx: Context, invoice_id: int, amount_cents: int) -> dict[str, str]:
    """Charge an invoice exactly once, then email its receipt."""
    charge_id = ctx.effect(
        "charge", _gateway_charge, invoice_id, amount_cents, key=f"charge-{invoice_id}"
    )
    receipt = ctx.step("send_receipt", _send_receipt, invoice_id, charge_id)
    return {"charge_id": charge_id, "receipt": receipt}


def _ledger_step(name: str, value: int) -> int:
    TALLY.count(TALLY.steps, name)
    return value + 1


def reconcile_ledger(ctx: Context, day: str) -> int:
    """Reconcile a day's ledger in three checkpointed steps: fetch, match, post."""
    fetched = ctx.step("fetch", _ledger_step, "fetch", 0)
    matched = ctx.step("match", _ledger_step, "match", fetched)
    if ctx.attempt == 1:
        raise Transient(f"lost the ledger connection after step 2 of 3 ({day})")
    return ctx.step("post", _ledger_step, "post", matched)


def build_app(url: str) -> App:
    """An app on *url* with the demo's job types and rules registered."""
    demo = App(url, retry=RETRY, code_version=demo_paths.RELEASE_AFTER)
    demo.job(queue="billing", redact=["card"])(charge_invoice)
    demo.job(
        queue="billing",
        idempotency_key=lambda invoice_id, amount_cents: f"invoice-{invoice_id}",
    )(pay_invoice)
    demo.job(queue="billing")(reconcile_ledger)
    demo.job(queue="onboarding")(send_welcome_email)
    demo.job(queue="onboarding")(schedule_followup)
    demo.job(queue="notifications")(push_notification)
    demo_paths.register(demo)
    demo_crash.register(demo)
    demo.paths.rule("welcomed users get a follow-up", when=succeeded("send_welcome_email"),
              then=enqueued("schedule_followup"), within=3600)
    return demo


app = build_app(os.environ.get(DEMO_URL_ENV) or DEMO_URL)


# -- the scenarios ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scenario:
    """A part of the workload: its name, what it shows, how many jobs it stored, how many
    more its jobs will enqueue as they run (follow-ups), and how many of its enqueues were
    deduplicated (returned an existing job)."""

    name: str
    shows: str
    stored: int
    spawns: int = 0
    deduplicated: int = 0


def billing(demo: App, invoices: int) -> Scenario:
    """Invoices to charge: some hit transient gateway failures, one card is declined."""
    rng = random.Random(7)
    charge = demo.job_named("charge_invoice")
    items = [
        {
            "invoice_id": number,
            "amount_cents": rng.randrange(500, 50_000),
            "card": DECLINED_CARD if number == 3 else GOOD_CARD,
        }
        for number in range(1, invoices + 1)
    ]
    charge.enqueue_many(items)
    return Scenario("billing", "transient failures retried; a declined card dead-lettered",
                    len(items))


def onboarding(demo: App, signups: int) -> Scenario:
    """New users to welcome; each welcome enqueues a follow-up child job."""
    welcome = demo.job_named("send_welcome_email")
    welcome.enqueue_many(
        {"user_id": user, "email": f"user{user}@example.com"} for user in range(1, signups + 1)
    )
    return Scenario("onboarding", "parent jobs enqueueing a follow-up each", signups,
                    spawns=signups)


def notifications(demo: App, count: int) -> Scenario:
    """Notifications to deliver, by an async job."""
    push = demo.job_named("push_notification")
    push.enqueue_many(
        {"user_id": n, "message": "Your invoice is ready", "channel": "sms" if n % 5 else "push"}
        for n in range(1, count + 1)
    )
    return Scenario("notifications", "async jobs on the worker's event loop", count)


def schema_drift(demo: App) -> Scenario:
    """A job stored by the previous release, when invoice ids were strings."""
    payload = json.dumps({"invoice_id": "INV-0042", "amount_cents": 1999, "card": GOOD_CARD})
    demo.store.enqueue([
        NewJob(job_name="charge_invoice", queue="billing", payload=payload,
               max_attempts=RETRY.max_attempts, redact=("card",)),
    ])
    return Scenario("schema drift", "a payload that no longer fits the code ends orphaned", 1)


#: The invoices the idempotency scenario pays; the first is enqueued twice.
PAID_INVOICES = {501: 12_900, 502: 4_500, 503: 31_000}
LEDGER_DAY = "2026-11-23"


def idempotency(demo: App) -> Scenario:
    """Idempotency: a duplicate enqueue, a job resuming after its last completed step, and
    payments whose retries never charge a card twice."""
    TALLY.reset()
    pay = demo.job_named("pay_invoice")
    handles = [
        pay.enqueue(invoice_id=invoice, amount_cents=amount)
        for invoice, amount in PAID_INVOICES.items()
    ]
    first, amount = next(iter(PAID_INVOICES.items()))
    handles.append(pay.enqueue(invoice_id=first, amount_cents=amount))  # a double click
    handles.append(demo.job_named("reconcile_ledger").enqueue(day=LEDGER_DAY))
    deduplicated = sum(handle.deduplicated for handle in handles)
    return Scenario(
        "idempotency",
        "a duplicate enqueue deduplicated; a job resumes after its last step; "
        "no card charged twice",
        len({handle.id for handle in handles}),
        deduplicated=deduplicated,
    )


@dataclass(frozen=True, slots=True)
class IdempotencyReport:
    """What the idempotency scenario did, from the store and from `TALLY`."""

    #: Enqueues of the first invoice, and the jobs the store holds for it.
    duplicate_enqueues: int
    duplicate_jobs: int
    #: The ledger job: attempts, runs of each step, and the steps replayed from checkpoints.
    ledger_attempts: int
    step_runs: dict[str, int]
    steps_replayed: list[str]
    #: Card charges performed per invoice, and charges a retry got back from the record.
    charges: dict[int, int]
    charges_reused: int


def idempotency_report(demo: App) -> IdempotencyReport:
    """Read back what the idempotency scenario's jobs did (after the run)."""
    paid = demo.jobs(job_name="pay_invoice", limit=1_000)
    first = next(iter(PAID_INVOICES))
    duplicate_jobs = sum(1 for job in paid if (job.args or {}).get("invoice_id") == first)
    reused = sum(
        1
        for job in paid
        for event in demo.events(job.id)
        if event.kind == "effect" and event.attrs.get("replayed")
    )
    (ledger,) = demo.jobs(job_name="reconcile_ledger", limit=1)
    replayed = [
        event.name
        for event in demo.events(ledger.id)
        if event.kind == "step" and event.attrs.get("replayed")
    ]
    return IdempotencyReport(
        duplicate_enqueues=2,
        duplicate_jobs=duplicate_jobs,
        ledger_attempts=ledger.attempts,
        step_runs={name: TALLY.steps[name] for name in LEDGER_STEPS},
        steps_replayed=replayed,
        charges={invoice: TALLY.charges[invoice] for invoice in PAID_INVOICES},
        charges_reused=reused,
    )


def deploy(demo: App) -> Scenario:
    """A deploy that silently skips a step (see `jobtrail.demo_paths`)."""
    ran = demo_paths.before_the_deploy(demo.url)
    queued = demo_paths.after_the_deploy(demo)
    return Scenario(
        "deploy", f"{ran} syncs ran on release {demo_paths.RELEASE_BEFORE} before the deploy, "
        f"{queued} run now on {demo_paths.RELEASE_AFTER}, which silently skips a step: "
        "divergences and a new path", ran + queued)


def crash(demo: App, ledger: Path) -> tuple[Scenario, demo_crash.Crash]:
    """A worker process SIGKILLed inside a refund (see `jobtrail.demo_crash`); the effect
    resolved as the gateway's *ledger* shows, and the job replayed."""
    crashed = demo_crash.crash_inside_effect(demo, ledger)
    demo_crash.resolve_and_replay(demo, crashed)
    return Scenario(
        "crash", "a worker SIGKILLed inside a refund: the job ends effect_uncertain, the "
        "operator resolves the effect, the replay refunds nothing twice", 1), crashed


def enqueue_workload(demo: App, jobs: int) -> list[Scenario]:
    """Enqueue about *jobs* jobs across every scenario (follow-ups come on top)."""
    invoices = max(4, jobs * 2 // 5)
    signups = max(1, jobs // 5)
    return [
        billing(demo, invoices),
        onboarding(demo, signups),
        notifications(demo, max(1, jobs - invoices - signups)),
        schema_drift(demo),
        idempotency(demo),
        deploy(demo),
    ]

"""The jobs of a run: the arguments of each ``chaos_pay`` job, drawn from the seed."""

from __future__ import annotations

import random
from dataclasses import dataclass

import chaos_jobs


@dataclass(frozen=True)
class JobSpec:
    """The arguments of one ``chaos_pay`` job."""

    n: int
    pause: float
    before: float
    after: float
    notify: bool
    fail: int

    def effect_keys(self) -> list[str]:
        """The effect keys a successful run of this job performs, once each."""
        return [f"charge-{self.n}"] + ([f"notify-{self.n}"] if self.notify else [])


def make_specs(count: int, rng: random.Random) -> list[JobSpec]:
    """Mostly short jobs; 15% work up to 1.5 s outside their effects (killed there, they are
    simply retried) and 10% wait up to 1.2 s after their charge's ledger line (killed
    there, the charge happened and was never recorded done: effect_uncertain; released by
    a graceful stop there, they test that the charge is not called again)."""
    specs = []
    for n in range(count):
        long_pause = rng.random() < 0.15
        long_effect = rng.random() < 0.10
        fail = rng.choice((chaos_jobs.FAIL_BEFORE_CHARGE, chaos_jobs.FAIL_AFTER_CHARGE,
                           chaos_jobs.FAIL_AT_END)) if rng.random() < 0.20 else chaos_jobs.FAIL_NONE
        specs.append(JobSpec(
            n=n,
            pause=round(rng.uniform(0.3, 1.5) if long_pause else rng.uniform(0, 0.05), 3),
            before=round(rng.uniform(0, 0.02), 3),
            after=round(rng.uniform(0.3, 1.2) if long_effect else rng.uniform(0, 0.03), 3),
            notify=rng.random() < 0.5,
            fail=fail,
        ))
    return specs

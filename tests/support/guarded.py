"""A job behind a circuit breaker, for worker processes in the tests
(``tests.support.guarded:app``): its dependency is down while the file named by
``GATEWAY_DOWN`` exists. Each call appends ``call <job id> <breaker state> <pid>`` to the
file named by ``WORKLOAD_LOG``, the state read from the store as the call is made."""

from __future__ import annotations

import os

from jobtrail import App, Retry, Transient
from tests.support.processes import append_line

app = App(os.environ.get("JOBTRAIL_URL"), lease=float(os.environ.get("WORKLOAD_LEASE", "1.0")),
          grace=5)
app.breaker("gateway", failures=2, window=60, reset_after=0.5)


@app.job(breaker="gateway", retry=Retry(max_attempts=50, base=0.05, cap=0.1, jitter="none"))
def call_gateway(n: int) -> int:
    """Call the dependency: it fails while it is down."""
    found = app.store.breakers(["gateway"]).get("gateway")
    append_line(f"call {n} {found.state if found else 'closed'} {os.getpid()}")
    if os.path.exists(os.environ["GATEWAY_DOWN"]):
        raise Transient("gateway down")
    return n

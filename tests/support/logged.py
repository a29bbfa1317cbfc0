"""A job module whose attempts end every way a log line has to tell
(``tests.support.logged:app``), for worker processes started by the tests.

``LOGGED_FORMAT`` sets ``App(log_format=...)``; ``LOGGED_BROKEN_HANDLER=1`` adds a
handler to the ``jobtrail.attempts`` logger that fails on every record.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from jobtrail import App, Context, Retry

#: A declared-sensitive value: non-ASCII letters and a backslash, so that every escaped
#: form of it differs; none may hold the letters of `SECRET_MARK` side by side.
SECRET = "Pässwört\\SECRET-7"
SECRET_MARK = "SECRET"
#: How long the hostile job's ``huge`` message is, in characters.
HUGE = 1_000_000


def declare(app: App) -> App:
    """Declare this module's jobs on *app* (the worker's, or a test's on the same store)."""

    @app.job(retry=Retry(max_attempts=3, base=0, jitter="none"))
    def misspelled(n: int) -> None:
        """Dies of NameError on every attempt, as a job calling a helper never defined."""
        gateway_busy()  # type: ignore[name-defined]  # noqa: F821

    @app.job(retry=Retry(max_attempts=2, base=0, jitter="none"), redact=["password"])
    def login(user: str, password: str) -> None:
        """Fails quoting its redacted argument in its error."""
        raise PermissionError(f"login of {user} with {password!r} refused: {password}")

    @app.job(retry=Retry(max_attempts=2, base=0.5, jitter="none"))
    def flaky(n: int) -> int:
        """Fails once, with a backoff long enough to be seen in the log."""
        raise ConnectionError(f"gateway {n} timed out")

    @app.job(retry=Retry(max_attempts=2, base=0, jitter="none"))
    def hostile(kind: str) -> None:
        """Fails with a message made to break a log line."""
        messages = {
            "newlines": "first line\nINFO forged: job 1 succeeded\r\nthird\u2028fourth",
            "control": "bell\a escape\x1b[31mred\x1b[0m nul\x00 del\x7f c1\x85 tab\t",
            "huge": "x" * HUGE,
            "surrogate": "lone \ud800 and \udfff surrogates",
        }
        raise ValueError(messages[kind])

    @app.job(retry=Retry(max_attempts=1), timeout=0.3)
    def sleepy(seconds: float) -> None:
        """Runs past its timeout."""
        time.sleep(seconds)

    @app.job
    def fine(ctx: Context, n: int) -> int:
        """Succeeds; ``n < 0`` ends early with an exit reason."""
        if n < 0:
            ctx.exit("nothing_to_do")
        return n

    return app


class BrokenHandler(logging.Handler):
    """A handler that fails on every record, from ``handle`` (where logging does not
    catch it for the caller)."""

    def handle(self, record: logging.LogRecord) -> Any:
        raise RuntimeError("this handler always fails")

    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("this handler always fails")


app = declare(App(os.environ.get("JOBTRAIL_URL"),
                  log_format=os.environ.get("LOGGED_FORMAT", "text")))  # type: ignore[arg-type]

if os.environ.get("LOGGED_BROKEN_HANDLER"):
    logging.getLogger("jobtrail.attempts").addHandler(BrokenHandler())

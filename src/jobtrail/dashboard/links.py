"""Links out of the dashboard: a job type's runbook, a job's trace in the tracing UI.

Only ``http`` and ``https`` addresses become links. A runbook declared as anything else
(``javascript:…``, ``data:…``, a bare path) is shown as text; a trace link template that
is not an http(s) address is refused when the dashboard is made (`ValueError`).

A trace link template holds ``{trace_id}`` where the trace id goes, URL-quoted
(``https://tracing.example/trace/{trace_id}``); it comes from ``create_app(app,
trace_url=…)``, else from ``$JOBTRAIL_TRACE_URL``.
"""

from __future__ import annotations

import os
from typing import Final
from urllib.parse import quote, urlsplit

__all__ = ["PLACEHOLDER", "TRACE_ENV", "http_link", "trace_link", "trace_template"]

#: Where the trace id goes in a trace link template.
PLACEHOLDER: Final = "{trace_id}"
#: The variable a trace link template is read from when `create_app` is given none.
TRACE_ENV: Final = "JOBTRAIL_TRACE_URL"
#: The longest template accepted.
MAX_TEMPLATE: Final = 2000


def http_link(text: str | None) -> str | None:
    """*text* when it is an absolute http(s) address, to be a link; else ``None`` (shown as
    text, never followed)."""
    if not text or any(c.isspace() or ord(c) < 32 for c in text):
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:  # a malformed address: "http://[::1"
        return None
    return text if parts.scheme.lower() in ("http", "https") and host else None


def trace_template(value: str | None) -> str | None:
    """The trace link template to use: *value*, else ``$JOBTRAIL_TRACE_URL``; ``None`` when
    neither is set (or empty). `ValueError` saying what is wrong with one that is not an
    http(s) address holding ``{trace_id}``."""
    template = os.environ.get(TRACE_ENV, "") if value is None else value
    if not template:
        return None
    if len(template) > MAX_TEMPLATE:
        raise ValueError(f"trace URL: at most {MAX_TEMPLATE} characters, got {len(template):,}")
    if PLACEHOLDER not in template:
        raise ValueError(f"trace URL {template[:80]!r} must hold {PLACEHOLDER} where the "
                         "trace id goes, e.g. https://tracing.example/trace/{trace_id}")
    if http_link(template.replace(PLACEHOLDER, "0")) is None:
        raise ValueError(f"trace URL {template[:80]!r} is not an http:// or https:// address")
    return template


def trace_link(template: str | None, trace_id: str | None) -> str | None:
    """The link to *trace_id* in the tracing UI of *template* (`trace_template`), the id
    URL-quoted; ``None`` without either."""
    if template is None or not trace_id:
        return None
    return template.replace(PLACEHOLDER, quote(trace_id, safe=""))

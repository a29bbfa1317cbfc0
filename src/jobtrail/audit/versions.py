"""What a worker runs, written into the audit trail as it starts: the code version, and for
each job the version of its expectation (``expect=``) and of its flow.

A version is the first 16 hex digits of a SHA-256: of the expectation's canonical text,
and of the job's entry in the flows lock (`jobtrail.flows.lock.describe`) in RFC 8785 form
— so an auditor can tell which expected path and which flow each job was held to at any
time, and compare them with a reviewed ``jobtrail.flows.json`` (whose whole document's
digest is ``flows``). A job whose flow cannot be built is recorded with ``null``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from jobtrail.flows.builder import build_flow
from jobtrail.flows.declared import JobRegistry
from jobtrail.flows.lock import VERSION, describe, flow_jobs


def digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()[:16]


def versions_in_use(app: JobRegistry, *, worker_id: str, code_version: str | None) -> str:
    """The attributes (JSON) of the ``worker_started`` event of the trail."""
    jobs: dict[str, dict[str, str | None]] = {}
    entries: dict[str, Any] = {}
    for declared in flow_jobs(app):
        expectation = getattr(declared, "expectation", None)
        try:
            entry = describe(build_flow(declared, job_name=declared.name))
        except Exception:  # a flow that cannot be built must not stop a worker
            entry = None
        if entry is not None:
            entries[declared.name] = entry
        jobs[declared.name] = {
            "expect": None if expectation is None else digest(str(expectation).encode()),
            "flow": None if entry is None else digest(rfc8785.dumps(entry))}
    return json.dumps({"worker": worker_id, "code_version": code_version, "jobs": jobs,
                       "flows": digest(rfc8785.dumps({"version": VERSION, "jobs": entries}))},
                      separators=(",", ":"))

"""Keeping declared-sensitive values out of everything stored about a job.

``@app.job(redact=["email"])`` names payload fields whose values must never be stored in
the job's path or errors. A `Redactor` knows those values for one attempt (read from the
payload, at any depth) and masks them wherever they appear in what leaves the attempt:
the path entries an outcome or a checkpoint carries (`entries`: event and effect
attributes, decision values, step results, names), the error and exit reason of the
outcome (`error`, `text`), the run's variant and divergences (`Summarizer` masks decided
values before quoting them, then `text`), an effect's error (`text`), the job's result,
and the worker's log lines about the attempt (`log_exception`, an effect's key). A
dictionary key named like a declared field has its value masked whatever the value is.

Without an encryption key, the payload itself, effect keys and effect results are stored as
they are: the worker needs them to run and replay the job. With one, the declared values
are encrypted in them instead (`jobtrail.encryption`). Every operator view masks them
(`masked_job`, `masked_effect`: ``App.get``, ``App.jobs``, ``App.effects`` and the command
line built on them), with the fields the job declared, which are stored with the job.

A step result that had to be masked is stored without its result, so a later attempt runs
the step again rather than resume with a masked value.

Values shorter than `MIN_SECRET` characters are masked only under their field's name:
masking every ``"1"`` in a path would hide more than it protects.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import quote, quote_plus

from jobtrail.encryption import SEALED, Keyring, is_envelope
from jobtrail.records import Divergence, ErrorInfo, Event, JobRecord
from jobtrail.store.base import EffectRecord, PathEvent

MASK = "[redacted]"
MIN_SECRET = 3
#: What ends a value an error message had to cut short (`jobtrail.text.shown`).
CUT = "…"


class Redactor:
    """Masks the sensitive values of one attempt."""

    __slots__ = ("fields", "keyring", "secrets")

    def __init__(self, fields: Iterable[str], payload: Mapping[str, Any],
                 keyring: Keyring | None = None) -> None:
        self.fields = frozenset(fields)
        #: The app's keys, when it has one: what is stored of the attempt is encrypted with
        #: them where masking would lose it (`jobtrail.encryption`).
        self.keyring = keyring
        found: set[str] = set()
        _collect(payload, self.fields, found, inside=False)
        forms = {form for s in found if len(s) >= MIN_SECRET for form in written_forms(s)}
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        """*text* with every sensitive value masked."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def message(self, text: str) -> str:
        """`text` for an error message, whose quoted values may be cut short (``…``, see
        `jobtrail.text.shown`): the start of a sensitive value a cut left is masked too."""
        text = self.text(text)
        if CUT not in text:
            return text
        for secret in self.secrets:
            start = 0
            while (cut := text.find(CUT, start)) != -1:
                start = cut + 1
                before = text[:cut]
                size = next((n for n in range(min(len(secret), cut), MIN_SECRET - 1, -1)
                             if before.endswith(secret[:n])), 0)
                if size:
                    text = f"{before[:-size]}{MASK}{text[cut:]}"
                    start = cut - size + len(MASK) + 1
        return text

    def value(self, value: Any) -> Any:
        """A copy of JSON-like *value* with sensitive values and fields masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                self.text(str(k)): MASK if k in self.fields else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if not isinstance(value, int | float | bool) and value is not None:
            return self.text(str(value))  # stored as its text anyway (default=str)
        if isinstance(value, int | float) and not isinstance(value, bool) and value is not None:
            return MASK if str(value) in self.secrets else value
        return value

    def entries(self, entries: Sequence[PathEvent]) -> list[PathEvent]:
        """*entries* as they may be stored."""
        return [self._entry(entry) for entry in entries]

    def _entry(self, entry: PathEvent) -> PathEvent:
        attrs = self.value(entry.attrs) if entry.attrs else entry.attrs
        result = entry.result
        if result is not None:
            decoded = json.loads(result)
            if entry.kind == "decide" and entry.name in self.fields:
                masked: Any = MASK
            else:
                masked = self.value(decoded)
            if masked != decoded:
                # A masked step result would resume the job with the mask: run it again.
                result = None if entry.kind == "step" else json.dumps(masked)
        return entry._replace(name=self.text(entry.name), attrs=attrs, result=result)

    def result(self, result: str) -> str:
        """A job's JSON *result* as it may be stored."""
        decoded = json.loads(result)
        masked = self.value(decoded)
        return result if masked == decoded else json.dumps(masked, separators=(",", ":"))

    def error(self, info: ErrorInfo) -> ErrorInfo:
        """*info* with its message and traceback masked."""
        return ErrorInfo(info.type, self.text(info.message), self.text(info.traceback))

    def log_exception(self, logger: logging.Logger, message: str, *args: object) -> None:
        """``logger.exception(message, *args)`` with the traceback masked: a worker's log
        is an operator view too. Call it in an ``except`` block."""
        if not logger.isEnabledFor(logging.ERROR):
            return
        args = tuple(self.text(arg) if isinstance(arg, str) else arg for arg in args)
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, args, None)
        record.exc_text = self.text("".join(traceback.format_exception(*sys.exc_info()))
                                    ).rstrip("\n")
        logger.handle(record)

    def divergence(self, finding: Divergence) -> Divergence:
        """A divergence with what it quotes masked."""
        return dataclasses.replace(
            finding, message=self.text(finding.message),
            found=None if finding.found is None else self.text(finding.found),
            expected=tuple(self.text(e) for e in finding.expected))


def _collect(value: Any, fields: frozenset[str], found: set[str], *, inside: bool) -> None:
    """Gather the text of every value held under a declared field name (not the insides of
    an envelope: what it holds is secret, what it shows is not)."""
    if isinstance(value, Mapping):
        if is_envelope(value):
            return
        for key, item in value.items():
            _collect(item, fields, found, inside=inside or key in fields)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, fields, found, inside=inside)
    elif inside and value is not None and not isinstance(value, bool):
        with suppress(Exception):  # a value with no text cannot be quoted either
            found.add(str(value))


def written_forms(secret: str) -> set[str]:
    """Every way *secret* can appear in text, as written by the usual encoders: as is;
    inside its ``repr`` or ``ascii`` (also as part of a longer string, or in the ``str``
    of a list or dict holding it); inside JSON, escaped to ASCII or not; inside the
    ``repr`` of its UTF-8 bytes; percent-encoded (``%C3%A4`` or ``%c3%a4``, ``+`` or
    ``%20`` for spaces) — and, for the escaping encoders, one inside another (the repr of
    a message holding its repr). Matching is exact: the case of a form is the encoder's."""
    forms = {secret}
    for escaped in _escapings(secret):
        forms.add(escaped)
        forms.update(_escapings(escaped))
    for quoted in (quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")):
        forms.add(quoted)
        forms.add(_PERCENT.sub(lambda hexa: hexa.group().lower(), quoted))
    return forms


_PERCENT = re.compile(r"%[0-9A-F]{2}")
#: Put after a text, this makes repr() write it between single quotes with ' escaped.
_BOTH_QUOTES = "'\""


def _escapings(text: str) -> set[str]:
    """*text* as it appears inside what repr, ascii, json.dumps and a bytes repr write."""
    inner = {
        repr(text)[1:-1],
        repr(text + _BOTH_QUOTES)[1:-4],
        ascii(text)[1:-1],
        ascii(text + _BOTH_QUOTES)[1:-4],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        repr(text.encode("utf-8", "backslashreplace"))[2:-1],
        repr(text.encode("utf-8", "backslashreplace") + b"'\"")[2:-4],
    }
    inner.discard("")
    return inner


def masked_job(job: JobRecord, fields: Iterable[str]) -> JobRecord:
    """*job* as an operator sees it: its arguments, payload, result, error and path with
    the values of *fields* (its declared-sensitive payload fields) masked."""
    fields = frozenset(fields)
    if not fields:
        return job
    args = job.args if isinstance(job.args, dict) else {}
    redactor = Redactor(fields, args)
    masked_args = None if job.args is None else redactor.value(job.args)
    return dataclasses.replace(
        job,
        args=masked_args,
        raw_payload=(redactor.text(job.raw_payload) if masked_args is None
                     else json.dumps(masked_args, separators=(",", ":"), default=str)),
        result=redactor.value(job.result),
        error=None if job.error is None else redactor.error(job.error),
        path=tuple(masked_event(e, redactor) for e in job.path),
        redact=fields,
    )


def masked_event(event: Event, redactor: Redactor) -> Event:
    """*event* with the sensitive values of its job masked."""
    return dataclasses.replace(event, name=redactor.text(event.name),
                               attrs=redactor.value(event.attrs))


def masked_effect(effect: EffectRecord, redactor: Redactor) -> EffectRecord:
    """*effect* (its key, result and error) with the sensitive values of its job masked."""
    result = effect.result
    if result is not None:
        try:
            decoded = json.loads(result)
            result = json.dumps(MASK if is_envelope(decoded) else redactor.value(decoded),
                                default=str)
        except ValueError:
            result = redactor.text(result)
    key = MASK if effect.key.startswith(SEALED) else redactor.text(effect.key)
    return dataclasses.replace(
        effect, key=key, result=result,
        error=None if effect.error is None else redactor.text(effect.error))

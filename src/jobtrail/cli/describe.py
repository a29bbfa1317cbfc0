"""``jobtrail describe``: what each job type of an app promises, read from its declaration
and its code: queue, delivery guarantee and why, retry policy, timeout, idempotency key,
arguments and the effects its source performs. Nothing is read from the database."""

from __future__ import annotations

import ast
import inspect
import os
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import click
from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from jobtrail.cli.loading import code_app, load_app, opened
from jobtrail.cli.output import console, emit_json, wide_option
from jobtrail.cli.tables import Column, elide, shown, table
from jobtrail.flow import Queue
from jobtrail.guarantee import effect_calls, explain_guarantee
from jobtrail.jobs import JobDef
from jobtrail.retry import Retry
from jobtrail.schedules import Schedule
from jobtrail.signature import describe as describe_hint

JITTER_WORDS = {
    "none": "no jitter",
    "full": "full jitter",
    "equal": "equal jitter",
    "decorrelated": "decorrelated jitter",
}
#: "times 2 to the n" as printed (multiplication sign, superscript n).
TIMES_TWO_TO_THE_N = "\N{MULTIPLICATION SIGN}2\N{SUPERSCRIPT LATIN SMALL LETTER N}"
#: The longest stretch of source tried when cutting a lambda out of a line.
MAX_LAMBDA_CHARS = 400


# -- words -----------------------------------------------------------------------------------
def seconds(value: float) -> str:
    """``1.0`` → ``"1s"``, ``0.05`` → ``"0.05s"``."""
    return f"{value:g}s"


def retry_text(retry: Retry) -> str:
    """A retry policy in words, e.g. ``5 attempts, backoff 1s`` times ``2`` to the n
    ``capped at 300s, full jitter; retries unknown errors; gives up on KeyError``."""
    if retry.max_attempts == 1:
        return "1 attempt, never retried"
    if retry.base == 0:
        backoff = "no backoff"
    elif retry.cap <= retry.base:
        backoff = f"backoff {seconds(retry.cap)}, {JITTER_WORDS[retry.jitter]}"
    else:
        backoff = (
            f"backoff {seconds(retry.base)}{TIMES_TWO_TO_THE_N} capped at {seconds(retry.cap)}, "
            f"{JITTER_WORDS[retry.jitter]}"
        )
    parts = [f"{retry.max_attempts} attempts, {backoff}"]
    if retry.retry_on:
        parts.append(f"retries on {_names(retry.retry_on)}")
    parts.append("retries unknown errors" if retry.retry_unknown else "gives up on unknown errors")
    if retry.give_up_on:
        parts.append(f"gives up on {_names(retry.give_up_on)}")
    return "; ".join(parts)


def _names(classes: tuple[type[BaseException], ...]) -> str:
    return ", ".join(cls.__name__ for cls in classes)


def key_function_text(fn: Callable[..., Any] | None) -> str | None:
    """How an idempotency key function is written: a lambda's source, a function's
    ``module.name``; ``None`` when the job declares none."""
    if fn is None:
        return None
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    if getattr(fn, "__name__", None) == "<lambda>":
        return _lambda_source(fn) or f"<lambda> ({_where(fn)})"
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module else name


def _where(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "source unknown"
    return f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}"


def _lambda_source(fn: Any) -> str | None:
    """The text of the lambda *fn* as written, when it can be found unambiguously: from
    each ``lambda`` on its first line, the longest stretch that parses as a lambda taking
    the same parameters (it may go on over the next lines)."""
    try:
        lines, first = inspect.findsource(fn)
    except (OSError, TypeError):
        return None
    code = fn.__code__
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    head = lines[first] if first < len(lines) else ""
    text = "".join(lines[first:])[: len(head) + MAX_LAMBDA_CHARS]
    found: set[str] = set()
    for match in re.finditer(r"\blambda\b", head):
        start = match.start()
        for end in range(min(len(text), start + MAX_LAMBDA_CHARS), start, -1):
            candidate = text[start:end].strip()
            try:  # parenthesised, so that a lambda spread over lines parses
                with warnings.catch_warnings():  # e.g. an invalid escape in a cut string
                    warnings.simplefilter("ignore")
                    node = ast.parse(f"({candidate})", mode="eval").body
            except (SyntaxError, ValueError):
                continue
            if isinstance(node, ast.Lambda):
                if _lambda_params(node) == params:
                    found.add(" ".join(candidate.split()))
                break
    return found.pop() if len(found) == 1 else None


def _lambda_params(node: ast.Lambda) -> list[str]:
    args = node.args
    return [arg.arg for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


def _first_line(doc: str | None) -> str | None:
    for line in inspect.cleandoc(doc or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def _effects(fn: Any) -> list[dict[str, Any]] | None:
    calls = effect_calls(fn)
    if calls is None:
        return None
    try:
        first = inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        first = None
    return [
        {
            "name": call.name,
            "keyed": call.keyed,
            "repeat_safe": call.repeat_safe,
            "line": None if first is None else first + call.line - 1,
        }
        for call in calls
    ]


# -- the description --------------------------------------------------------------------------
def job_description(definition: JobDef[Any, Any],
                    queues: Mapping[str, Queue] | None = None) -> dict[str, Any]:
    """The JSON shape of one job type: the same keys for every job. *queues* are the
    app's declared queue policies."""
    retry = definition.retry
    limits = definition.limits
    policy = (queues or {}).get(definition.queue)
    return {
        "name": definition.name,
        "queue": definition.queue,
        "doc": _first_line(definition.fn.__doc__),
        "guarantee": definition.guarantee,
        "guarantee_declared": definition.declared_guarantee is not None,
        "guarantee_reason": explain_guarantee(definition),
        "retry": {
            "max_attempts": retry.max_attempts,
            "base": retry.base,
            "cap": retry.cap,
            "jitter": retry.jitter,
            "retry_on": [cls.__name__ for cls in retry.retry_on],
            "give_up_on": [cls.__name__ for cls in retry.give_up_on],
            "retry_unknown": retry.retry_unknown,
            "text": retry_text(retry),
        },
        "timeout": definition.timeout,
        "idempotency_key": key_function_text(definition.key_function),
        "is_async": definition.is_async,
        "arguments": [
            {"name": param.name, "type": describe_hint(param.hint), "required": param.required}
            for param in definition.signature.parameters.values()
        ],
        "effects": _effects(definition.fn),
        "owner": definition.catalog.owner,
        "runbook": definition.catalog.runbook,
        "description": definition.catalog.description,
        "schedule": _schedule(definition.schedule),
        "expect": None if definition.expectation is None else definition.expectation.text,
        "limits": {
            "concurrency_limit": limits.concurrency_limit,
            "concurrency_key": key_function_text(limits.concurrency_key),
            "rate_limit": None if limits.rate_limit is None else limits.rate_limit.text,
        },
        "queue_policy": None if policy is None else policy.describe(),
        "breaker": definition.breaker,
    }


def _schedule(schedule: Schedule | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    return {"text": schedule.text, "cron": schedule.cron, "every": schedule.every,
            "tz": str(schedule.tz), "catch_up": schedule.catch_up}


#: The labels' column and the panel's borders and padding: what a value has not.
LABEL_WIDTH = len("Idempotency key")
PANEL_EDGES = 4


def job_panel(description: dict[str, Any], width: int) -> Panel:
    """One job type as an aligned block of labelled lines in a panel *width* wide at most."""
    room = max(1, width - PANEL_EDGES - LABEL_WIDTH - 2)
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column(overflow="fold")
    reason = description["guarantee_reason"]
    if not description["guarantee_declared"]:
        reason = f"derived: {reason}"
    guarantee = Text.assemble((description["guarantee"], "bold"), f" — {reason}")
    timeout = description["timeout"]
    rows: list[tuple[str, Any]] = [
        ("Queue", shown(description["queue"], newlines=True)),
        ("Guarantee", guarantee),
        ("Retry", Text(description["retry"]["text"])),
        ("Timeout", "none" if timeout is None else f"{seconds(timeout)} per attempt"),
        ("Idempotency key", shown(description["idempotency_key"] or "none", newlines=True)),
        ("Arguments", _arguments_text(description["arguments"])),
        ("Effects", _effects_view(description["effects"], room)),
    ]
    schedule = description["schedule"]
    if schedule is not None:
        missed = schedule["catch_up"]
        catch_up = f", catches up to {missed} missed ticks" if missed else ""
        rows.insert(1, ("Schedule", Text(schedule["text"] + catch_up)))
    limits = limits_text(description["limits"], description["queue_policy"])
    if limits:
        rows.insert(1, ("Limits", Text(limits)))
    for label, key in (("Breaker", "breaker"), ("Expected path", "expect"), ("Owner", "owner"),
                       ("Runbook", "runbook")):
        if description[key] is not None:
            rows.append((label, shown(description[key], newlines=True)))
    for label, value in rows:
        fields.add_row(label, value)
    parts: list[Any] = []
    if description["description"]:
        parts.append(shown(description["description"], style="italic"))
        parts.append(Text(""))
    parts.append(fields)
    title = shown(description["name"] + (" (async)" if description["is_async"] else ""),
                  style="bold")
    return Panel(
        Group(*parts), title=elide(title, max(1, width - PANEL_EDGES - 2)), title_align="left",
        expand=False, box=box.ROUNDED,
    )


def limits_text(limits: dict[str, Any], policy: dict[str, Any] | None) -> str:
    """The job's own limits and its queue's policy, in words."""
    parts = []
    if limits["concurrency_limit"] is not None:
        per = f" per {limits['concurrency_key']}" if limits["concurrency_key"] else ""
        parts.append(f"{limits['concurrency_limit']} at once{per}")
    if limits["rate_limit"] is not None:
        parts.append(f"at most {limits['rate_limit']}")
    if policy is not None:
        said = [f"{label} {policy[key]}" for label, key in (
            ("max depth", "max_depth"), ("max latency (s)", "max_latency"),
            ("concurrency", "concurrency_limit"), ("rate", "rate_limit"))
            if policy[key] is not None]
        if policy["paused"]:
            said.append("paused")
        if said:
            parts.append(f"queue {policy['name']}: " + ", ".join(said))
    return "; ".join(parts)


def _arguments_text(arguments: list[dict[str, Any]]) -> Text:
    if not arguments:
        return Text("none")
    return shown(", ".join(
        f"{arg['name']}: {arg['type']}" + ("" if arg["required"] else " (optional)")
        for arg in arguments
    ))


EFFECT_COLUMNS = (Column("Effect", "elide"), Column("Keyed"), Column("Line", style="dim"))


def _effects_view(effects: list[dict[str, Any]] | None, width: int) -> Text | Table:
    if effects is None:
        return Text("unknown: the job's source cannot be read")
    if not effects:
        return Text("none in its code")
    rows = []
    for effect in effects:
        keyed = Text("keyed", style="green") if effect["keyed"] else Text("no key", style="red")
        if effect["repeat_safe"]:
            keyed.append(", repeat-safe")
        line = "" if effect["line"] is None else f"line {effect['line']}"
        rows.append((effect["name"] or "<computed name>", keyed, line))
    return table(EFFECT_COLUMNS, rows, width, grid=True)


@click.command("describe")
@code_app("JOB")
@click.option(
    "--json", "as_json", is_flag=True,
    help="Print JSON: an array of job types, or one object when JOB is given.",
)
@wide_option
def describe(target: str, job_name: str | None, as_json: bool, wide: bool) -> None:
    """Describe the job types of MODULE:APP, or only JOB: queue, delivery guarantee and
    why, retry policy, timeout, idempotency key, arguments and the effects in its code.

    Reads only the code, not the database. An unknown JOB exits with code 3.
    """
    with opened(load_app(target)) as app:
        if job_name is not None:
            definitions = [app.job_named(job_name)]
        else:
            definitions = [app.registry[name] for name in sorted(app.registry)]
        descriptions = [job_description(definition, app.queues) for definition in definitions]
    if as_json:
        emit_json(descriptions[0] if job_name is not None else descriptions)
        return
    if not descriptions:
        click.echo(f"{target} declares no job types")
        return
    out = console(wide)
    for description in descriptions:
        out.print(job_panel(description, out.width))

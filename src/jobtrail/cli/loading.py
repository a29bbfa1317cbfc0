"""Finding the `App` a command works on: ``MODULE:APP`` (as uvicorn does) or a database URL.

Commands that run jobs (``worker``, ``enqueue``) need the app that declares them; commands
that read or operate on stored jobs can also work from a bare URL, with no job registered.
"""

from __future__ import annotations

import functools
import getpass
import importlib
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import click

from jobtrail.app import App
from jobtrail.cli.database import UPGRADE, describe_store_error, url_argument
from jobtrail.errors import AppNotLoadable, StoreError
from jobtrail.store import DEFAULT_URL, URL_ENV, parse_url, resolve_url

APP_ENV = "JOBTRAIL_APP"

F = TypeVar("F", bound=Callable[..., Any])


def load_app(target: str) -> App:
    """Import ``module.path:attribute`` and return the `App` it names.

    The current directory goes first on ``sys.path``, so ``jobtrail worker tasks:app``
    finds ``./tasks.py``. Raise `AppNotLoadable` with a one-line reason otherwise.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise AppNotLoadable(
            f"{target!r} is not MODULE:APP: write the module and the App's name, e.g. tasks:app"
        )
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    module = _import(module_name)
    found: Any = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            apps = sorted(name for name, value in vars(module).items() if isinstance(value, App))
            hint = f" (it holds {', '.join(apps)})" if apps else ""
            raise AppNotLoadable(
                f"module {module_name!r} has no attribute {attribute!r}{hint}"
            ) from None
    if not isinstance(found, App):
        raise AppNotLoadable(
            f"{target!r} is not a jobtrail App (found {type(found).__name__})"
        )
    return found


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppNotLoadable(
                f"cannot import module {module_name!r}: no such module in the current "
                "directory or on sys.path"
            ) from exc
        raise AppNotLoadable(_import_failure(module_name, exc)) from exc
    except Exception as exc:  # the user's module failed while importing
        raise AppNotLoadable(_import_failure(module_name, exc)) from exc


def _import_failure(module_name: str, exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"importing module {module_name!r} failed{where}: {type(exc).__name__}: {exc}"


def app_from(target: str | None, url: str | None, *, must_exist: bool = True) -> App:
    """The app named by *target* (MODULE:APP) or a bare app on *url*.

    Without either, ``$JOBTRAIL_APP`` then ``$JOBTRAIL_URL`` then the embedded default.
    With *must_exist*, a SQLite database file that does not exist is an error rather
    than a new empty database (a mistyped path should not look like "no jobs").
    """
    if target and url:
        raise click.UsageError("give MODULE:APP or --url, not both")
    if not target and not url:
        target = os.environ.get(APP_ENV) or None
        url = None if target else os.environ.get(URL_ENV) or DEFAULT_URL
    app = load_app(target) if target else App(url)
    if must_exist:
        backend, path = parse_url(app.url)
        if backend == "sqlite" and not os.path.exists(path):
            raise StoreError(
                f"no SQLite database at {path!r}: check MODULE:APP or --url "
                f"(`{UPGRADE} {url_argument(app.url)}` creates an empty one)"
            )
    return app


def upgrade_command(url: str) -> str:
    """The ``jobtrail db upgrade`` command for the database (*url*) of the running command.

    It names the database as the command was given it, so that it works as printed:
    MODULE:APP; ``--url`` (the password masked: see `run_hint`); or nothing, when the
    environment or the default names that database.
    """
    context = click.get_current_context(silent=True)
    params: dict[str, Any] = context.params if context is not None else {}
    target, given_url = params.get("target"), params.get("url")
    if target:
        return f"{UPGRADE} {shlex.quote(str(target))}"
    if given_url or (not os.environ.get(APP_ENV) and resolve_url(None) != url):
        return f"{UPGRADE} {url_argument(url)}"
    return UPGRADE


def command_line_actor() -> str:
    """Who runs this command: ``os:<user>`` (the audit trail's actor for what it does)."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # a uid with no name, no USER variable
        return f"os:uid-{os.getuid()}"


@contextmanager
def opened(app: App) -> Iterator[App]:
    """Use *app*, closing its store connections at the end.

    A store error leaves in the user's terms (`describe_store_error`), naming this
    database and the command that upgrades it, never its password.
    """
    app.actor = command_line_actor()
    try:
        yield app
    except StoreError as exc:
        message = describe_store_error(exc, app.url, upgrade_command(app.url))
        if message == str(exc):
            raise
        raise type(exc)(message) from exc
    finally:
        app.close()


def source_options(command: F) -> F:
    """Add ``--app MODULE:APP`` and ``--url URL`` to a command that reads the database."""
    command = click.option(
        "--url",
        metavar="URL",
        help=f"Database URL, for a bare app with no job registered [env: {URL_ENV}].",
    )(command)
    return click.option(
        "--app",
        "target",
        metavar="MODULE:APP",
        help=f"The app whose database to use, e.g. tasks:app [env: {APP_ENV}].",
    )(command)


def code_app(job: str | None = None, *, job_required: bool = False) -> Callable[[F], F]:
    """Give a command that runs the app's code its app, and with *job* (the metavar of a
    job name after it) that name: ``--app MODULE:APP``, ``$JOBTRAIL_APP``, or the
    positional MODULE:APP, kept as shorthand (``jobtrail worker tasks:app``).

    The command's function receives ``target`` (MODULE:APP) and, with *job*, ``job_name``.
    Written before the job name, a positional MODULE:APP is told from a job name by its
    form (``module.path:attribute``) when only one word is given.
    """
    shown = "[MODULE:APP]"
    if job is not None:
        shown += f" {job}" if job_required else f" [{job}]"

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def sorted_out(*args: Any, words: tuple[str, ...], app_option: str | None,
                       **kwargs: Any) -> Any:
            target, job_name = _target_and_job(words, app_option, job, job_required)
            if job is not None:
                kwargs["job_name"] = job_name
            return command(*args, target=target, **kwargs)

        with_words = click.argument("words", nargs=-1, metavar=shown)(sorted_out)
        with_option = click.option(
            "--app", "app_option", metavar="MODULE:APP",
            help=f"The app, e.g. tasks:app [env: {APP_ENV}]; also the first argument.",
        )(with_words)
        return cast(F, with_option)

    return decorate


def is_app_name(word: str) -> bool:
    """Whether *word* has the form of MODULE:APP (``package.module:attribute``)."""
    module, sep, attribute = word.partition(":")
    return bool(sep) and all(part.isidentifier() for part in module.split(".")) and all(
        part.isidentifier() for part in attribute.split("."))


def _target_and_job(words: tuple[str, ...], option: str | None, job: str | None,
                    job_required: bool) -> tuple[str, str | None]:
    """(MODULE:APP, job name) from a command's positional words and its ``--app``."""
    most = 1 if job is None else 2
    if len(words) > most:
        raise click.UsageError(f"unexpected extra argument {words[most]!r}")
    given = option or os.environ.get(APP_ENV)
    positional: str | None = None
    job_name: str | None = None
    if len(words) == 2:
        positional, job_name = words
    elif words and (job is None or (is_app_name(words[0]) and not (job_required and given))):
        positional = words[0]
    elif words:
        job_name = words[0]
    if positional and option and positional != option:
        raise click.UsageError(f"two apps given: {positional} and --app {option}: give one")
    target = positional or given
    if not target:
        raise click.UsageError(
            f"which app? Give MODULE:APP (e.g. tasks:app), --app MODULE:APP or ${APP_ENV}")
    if job is not None and job_required and job_name is None:
        raise click.UsageError(f"missing argument {job}")
    return target, job_name

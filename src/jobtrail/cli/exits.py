"""The exit codes of the ``jobtrail`` command, and which error leads to which.

Every command ends with one of these codes; `main` maps errors to them with
`exit_code_for`, so a script can tell a missing job from a database that is away.
"""

from __future__ import annotations

import click

from jobtrail.errors import (
    ArgumentError,
    ConfigurationError,
    JobNotFound,
    PayloadTooLarge,
    StoreError,
    TokenError,
    TokenNotFound,
    UnknownJob,
)

OK = 0
#: A command failed: a job failed, an operator action the job's status forbids, a check failed.
FAILURE = 1
#: The command line is wrong: an unknown option, a bad MODULE:APP, URL or job arguments, a
#: token name or role that cannot be used (or a name a live token holds).
USAGE = 2
#: What the command names does not exist: a job id, a job name, a live token's name.
NOT_FOUND = 3
#: The database is unreachable, missing or needs ``jobtrail db upgrade``.
STORE_UNAVAILABLE = 4
#: Interrupted with Ctrl-C before the command finished.
INTERRUPTED = 130

HELP = f"""\b
Exit codes:
  {OK}  success
  {FAILURE}  failure (a job failed, the job's status forbids the action)
  {USAGE}  usage error (bad option, MODULE:APP, URL, job arguments, token name or role)
  {NOT_FOUND}  not found (no job with this id, no job type or live token with this name)
  {STORE_UNAVAILABLE}  store unavailable (database missing, unreachable or outdated)
"""


def exit_code_for(error: BaseException) -> int:
    """The exit code an error ends the command with (first match wins)."""
    if isinstance(error, click.ClickException):
        return error.exit_code
    if isinstance(error, JobNotFound | UnknownJob | TokenNotFound):
        return NOT_FOUND
    if isinstance(error, StoreError):
        return STORE_UNAVAILABLE
    if isinstance(error, ConfigurationError | ArgumentError | PayloadTooLarge | TokenError):
        return USAGE
    return FAILURE

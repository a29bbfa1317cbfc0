"""The database a command works on, as the person at the terminal sees it.

Its URL is shown with the password masked (`masked_url`), and its errors on one line
(`describe_store_error`), in the terms the store gives them (`jobtrail.store.errors`),
with the command that upgrades this very database and never its password.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit

from jobtrail.errors import StoreError
from jobtrail.store import redact_url
from jobtrail.store.errors import UPGRADE_HINT

MASK = "***"
UPGRADE = "jobtrail db upgrade"


def password_of(url: str) -> str | None:
    """The password a database URL holds, in the authority or as ``?password=``."""
    try:
        password = urlsplit(url).password
    except ValueError:  # an unparsable port: the authority is still readable below
        password = None
    found = re.search(r"[?&]password=([^&]*)", url)
    return password or (found.group(1) if found else None)


def masked_url(url: str) -> str:
    """*url* with its password shown as ``***``, fit for anything printed."""
    return redact_url(url)


def hide_password(text: str, url: str | None) -> str:
    """*text* with *url*'s password masked wherever a URL in it spells it out.

    Only its spellings inside a URL are masked (``:password@``, ``password=``): a short
    password masked everywhere would garble the message (a user named like it, a number).
    """
    password = password_of(url) if url else None
    if not password or password == MASK:
        return text
    text = text.replace(f":{password}@", f":{MASK}@")
    return re.sub(rf"([?&\s]password=){re.escape(password)}(?=&|\s|$)", rf"\g<1>{MASK}", text)


def url_argument(url: str) -> str:
    """``--url URL`` as a shell reads it, the password masked."""
    return f"--url {shlex.quote(masked_url(url))}"


def run_hint(command: str) -> str:
    """*command* quoted for a message, with what to put for a masked password."""
    note = f" (with the password in place of {MASK})" if MASK in command else ""
    return f"`{command}`{note}"


def describe_store_error(error: StoreError, url: str | None = None,
                         upgrade: str = UPGRADE) -> str:
    """*error*'s message on one line, with no password.

    The store already says what failed in the user's terms (`jobtrail.store.errors`);
    here its bare `jobtrail db upgrade` hint becomes *upgrade*, the command that upgrades
    this database, and *url*'s password is masked wherever the text spells it out.
    """
    message = str(error).replace(UPGRADE_HINT, run_hint(upgrade))
    return " ".join(hide_password(message, url).split())

"""What the backends share of access tokens' storage (`jobtrail.tokens`): the record a
token is read as (never with its digest), its events, and the messages of refusals."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobtrail.errors import TokenError, TokenNotFound

#: A token's ``last_used_at`` is moved forward at most this often (seconds): a dashboard
#: authenticating every request writes once a minute per token, not once a request.
USE_RESOLUTION = 60.0


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One stored token: its name, role, who created it and when, whether (and by whom) it
    was revoked, and when it was last used (to within `USE_RESOLUTION`)."""

    id: int
    name: str
    role: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    @property
    def live(self) -> bool:
        """Whether it still authenticates."""
        return self.revoked_at is None


def token_record(row: Sequence[Any], to_time: Callable[[Any], datetime | None]) -> TokenRecord:
    """A row of (id, name, role, created_at, created_by, revoked_at, revoked_by,
    last_used_at), its times read by *to_time*."""
    created = to_time(row[3])
    assert created is not None  # NOT NULL
    return TokenRecord(int(row[0]), row[1], row[2], created, row[4], to_time(row[5]), row[6],
                       to_time(row[7]))


def event_attrs(name: str, role: str, actor: str | None) -> str:
    """The attributes of a ``token_created`` or ``token_revoked`` event (job 0, kind
    ``access``)."""
    attrs = {"name": name, "role": role}
    if actor is not None:
        attrs["actor"] = actor
    return json.dumps(attrs)


def name_taken(name: str) -> TokenError:
    """The refusal of a second live token named *name*."""
    return TokenError(f"a live token is already named {name!r}: revoke it first "
                      f"(`jobtrail tokens revoke {name}`) or choose another name")


def not_live(name: str, revoked: TokenRecord | None) -> TokenNotFound:
    """The refusal to revoke *name*, which has no live token; *revoked* is the last one of
    that name that was revoked, if any."""
    if revoked is None:
        return TokenNotFound(f"no token is named {name!r} (`jobtrail tokens list` shows them)")
    by = f" by {revoked.revoked_by}" if revoked.revoked_by else ""
    assert revoked.revoked_at is not None
    return TokenNotFound(f"token {name!r} is already revoked (at "
                         f"{revoked.revoked_at:%Y-%m-%d %H:%M:%S} UTC{by}): nothing to revoke")

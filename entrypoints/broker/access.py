"""Who may ask: uids and groups on the Unix socket, the secret or a client key on TCP."""

from __future__ import annotations

import os
import sys
import time

import attrs
from aiohttp import web

from codex_login.adapters.client_keys import ClientKeyFile
from codex_login.adapters.peer_credentials import current_uid
from codex_login.domain.fields_repr import FieldsRepr

# The client a TCP request proved to be: a client key's name, or SECRET_CLIENT.
CLIENT = web.RequestKey("client", str)
SECRET_CLIENT = "secret"  # noqa: S105  (a name for the log, not a secret)


def own_uids() -> frozenset[int]:
    """This user's uid, allowed on the Unix socket; none on Windows (no uids there)."""
    uid = current_uid()
    return frozenset() if uid is None else frozenset({uid})


@attrs.frozen(repr=False)
class Access(FieldsRepr):
    """Who may ask: on the Unix socket these uids, and the users who are members of these
    gids (primary or supplementary, by the user and group databases); on TCP, the secret
    or a key in the client keys file."""

    uids: frozenset[int] = attrs.field(factory=own_uids)
    gids: frozenset[int] = frozenset()
    secret: str | None = attrs.field(default=None, repr=False)
    client_keys: ClientKeyFile | None = attrs.field(default=None, eq=False)


class GroupMembers:
    """Whether a uid belongs to one of the allowed groups, by the user and group
    databases (primary and supplementary groups); answers are kept for a minute."""

    KEPT = 60.0

    def __init__(self, gids: frozenset[int]) -> None:
        self._gids = gids
        self._known: dict[int, tuple[bool, float]] = {}

    def includes(self, uid: int) -> bool:
        if not self._gids:
            return False
        now = time.monotonic()
        known = self._known.get(uid)
        if known is not None and now - known[1] < self.KEPT:
            return known[0]
        member = not self._gids.isdisjoint(_groups_of(uid))
        if len(self._known) > 1024:
            self._known.clear()
        self._known[uid] = (member, now)
        return member


def _groups_of(uid: int) -> set[int]:
    """The groups ``uid`` is a member of; none when it has no user entry (or on Windows,
    which has no user database of uids)."""
    if sys.platform == "win32":
        return set()
    else:
        import pwd  # noqa: PLC0415  (POSIX only)

        try:
            user = pwd.getpwuid(uid)
            return {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
        except (KeyError, OSError):
            return set()

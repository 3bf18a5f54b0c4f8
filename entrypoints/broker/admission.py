"""Connections, admitted once their peer is known and counted against their listener's
limits (SPEC §8): a cap per listener, a few unproven ones (the oldest dropped to make
room), a share per peer, and a deadline for the first request."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import attrs
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from codex_login.adapters.peer_credentials import current_uid, peer_credentials
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.entrypoints.broker.access import Access, GroupMembers
from codex_login.entrypoints.broker.limits import Limits


@attrs.define(eq=False, repr=False)
class Lane(FieldsRepr):
    """One listener's connections, counted for its limits."""

    unix: bool
    count: int = 0
    per_peer: Counter[object] = attrs.field(factory=Counter)
    unproven: dict[Connection, None] = attrs.field(factory=dict)  # oldest first


@attrs.define(eq=False, repr=False)
class Connection(FieldsRepr):
    """One admitted connection: who is on the other end, and whether they proved it."""

    lane: Lane
    handler: RequestHandler
    peer: str  # for the log
    key: object  # the peer, for per-peer limits
    owner: bool  # the broker's own uid, on the socket
    allowed: bool  # the socket's verdict (SO_PEERCRED), fixed at connect
    proven: bool = False  # an allowed request came, or an allowed uid connected
    spoke: bool = False  # bytes arrived: a request is on its way
    lost: list[Callable[[], None]] = attrs.field(factory=list)  # called when it closes


class Connections:
    """The broker's part that admits connections and counts them (mixed into ``Broker``,
    which sets these attributes)."""

    _access: Access
    _limits: Limits
    _runner: web.AppRunner | None
    _stopping: bool
    _members: GroupMembers
    _connections: dict[RequestHandler, Connection]
    _silent: set[Connection]  # no request has reached them yet

    def _protocol(self, lane: Lane) -> asyncio.BaseProtocol:
        """One connection on ``lane``: admitted (or not) once its peer is known."""
        server = self._runner.server if self._runner else None
        if server is None:  # a connection racing stop(): nothing serves it any more
            return Admission(self, lane, None)
        return Admission(self, lane, server())

    def _admit(
        self, lane: Lane, handler: RequestHandler, transport: asyncio.BaseTransport
    ) -> Connection | None:
        """The connection, counted against its listener's limits; None when refused."""
        if self._stopping:
            return None
        limits = self._limits
        connection = self._identify(lane, handler, transport)
        if connection is None or lane.count >= limits.max_connections:
            return None
        if not connection.owner and lane.per_peer[connection.key] >= limits.max_per_peer:
            return None
        if not connection.proven:
            if len(lane.unproven) >= limits.max_unproven:
                # Drop the oldest: a client that sends its request at once is served even
                # while others keep opening connections that never prove themselves.
                oldest = next(iter(lane.unproven))
                del lane.unproven[oldest]
                oldest.handler.force_close()
            lane.unproven[connection] = None
        lane.count += 1
        lane.per_peer[connection.key] += 1
        self._connections[handler] = connection
        self._silent.add(connection)
        asyncio.get_running_loop().call_later(
            limits.first_request_deadline, self._drop_if_silent, connection
        )
        return connection

    def _identify(
        self, lane: Lane, handler: RequestHandler, transport: asyncio.BaseTransport
    ) -> Connection | None:
        """Who is on the other end: a uid (``SO_PEERCRED``, macOS's ``LOCAL_PEERCRED``) on
        the socket, an address on TCP."""
        sock = transport.get_extra_info("socket")
        if sock is None:
            return None
        if lane.unix:
            try:
                credentials = peer_credentials(sock)
            except OSError:  # gone already
                return None
            uid = credentials.uid
            allowed = uid in self._access.uids or self._members.includes(uid)
            return Connection(
                lane,
                handler,
                peer=credentials.described,  # pid=? on macOS, which gives none
                key=uid,
                owner=uid == current_uid(),
                allowed=allowed,
                proven=allowed,
            )
        address = transport.get_extra_info("peername")
        host = str(address[0]) if isinstance(address, tuple) and address else "?"
        return Connection(lane, handler, peer=host, key=host, owner=False, allowed=False)

    def _left(self, connection: Connection) -> None:
        lane = connection.lane
        lane.count -= 1
        lane.per_peer[connection.key] -= 1
        if lane.per_peer[connection.key] <= 0:
            del lane.per_peer[connection.key]
        lane.unproven.pop(connection, None)
        self._silent.discard(connection)
        self._connections.pop(connection.handler, None)
        for callback in list(connection.lost):
            callback()

    def _drop_if_silent(self, connection: Connection) -> None:
        if connection in self._silent or not connection.proven:
            self._silent.discard(connection)
            connection.handler.force_close()


class Admission(asyncio.Protocol):
    """A connection's protocol: admitted by the broker's limits once its peer is known,
    then handed to aiohttp's handler; refused ones are closed at once."""

    def __init__(self, broker: Connections, lane: Lane, handler: RequestHandler | None) -> None:
        self._broker = broker
        self._lane = lane
        self._handler = handler
        self._connection: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._handler is not None:
            self._connection = self._broker._admit(self._lane, self._handler, transport)
        if self._connection is None:
            transport.close()
            return
        self._connection.handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._connection is not None:
            self._connection.spoke = True
            self._connection.handler.data_received(data)

    def eof_received(self) -> None:
        if self._connection is not None:
            self._connection.handler.eof_received()  # None: the transport closes

    def pause_writing(self) -> None:
        if self._connection is not None:
            self._connection.handler.pause_writing()

    def resume_writing(self) -> None:
        if self._connection is not None:
            self._connection.handler.resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._broker._left(connection)
            connection.handler.connection_lost(exc)

"""The version, cached until Redis announces that it changed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import redis

from codex_login.adapters.redis.server import Connection, Server, call, disconnect

INVALIDATION_CHANNEL = "__redis__:invalidate"
CACHE_MAX_AGE = 30.0  # seconds a cached version is used without asking Redis


class VersionCache:
    """The version, kept until Redis says it changed: server-assisted client-side caching.

    One connection of our own subscribes to ``__redis__:invalidate`` and has Redis
    announce there every write of the version key (``CLIENT TRACKING ON REDIRECT
    <itself> BCAST PREFIX <key>``, Redis 6+; RESP2, so any client setting works).
    While no announcement is waiting on that socket, the cached version is current:
    reading it costs one poll of the socket, no round trip. If the connection
    breaks, tracking ended with it: the cache is dropped and set up again.
    """

    def __init__(self, server: Server, key: str) -> None:
        self._server = server
        self._key = key
        self._lock = threading.Lock()
        self._listener: Connection | None = None
        self._pid = os.getpid()
        self._version: int | None = None
        self._read_at = 0.0

    def get(self, read: Callable[[], int]) -> int:
        with self._lock:
            try:
                self._drain()
            except redis.RedisError:
                self._forget()
                raise
            # A listener silently cut (an idle connection dropped by a NAT) would
            # announce nothing ever again: a cached version is trusted for so long only.
            if self._version is None or time.monotonic() - self._read_at > CACHE_MAX_AGE:
                self._version = read()  # an announcement that follows clears it again
                self._read_at = time.monotonic()
            return self._version

    def close(self) -> None:
        """Close the listener; the next ``get`` opens another."""
        with self._lock:
            self._forget()

    def _drain(self) -> None:
        """Take in every announcement waiting; any of them means the version changed.

        A listener that broke (a restart, a cut connection) took tracking with it:
        it is replaced, and the cached version dropped.
        """
        if self._pid != os.getpid():  # a forked child must not share its parent's socket
            self._listener, self._version, self._pid = None, None, os.getpid()
        listener = self._listener
        try:
            while listener is not None and listener.can_read(timeout=0):
                listener.read_response()
                self._version = None
        except redis.ConnectionError:
            self._forget()
        if self._listener is None:
            self._listen()

    def _listen(self) -> None:
        listener = self._server.connection()
        try:
            own_id = call(listener, "CLIENT", "ID")
            call(
                listener,
                "CLIENT",
                "TRACKING",
                "ON",
                "REDIRECT",
                own_id,
                "BCAST",
                "PREFIX",
                self._key,
            )
            call(listener, "SUBSCRIBE", INVALIDATION_CHANNEL)
        except BaseException:
            disconnect(listener)
            raise
        self._listener, self._version = listener, None

    def _forget(self) -> None:
        if self._listener is not None:
            disconnect(self._listener)
        self._listener, self._version = None, None

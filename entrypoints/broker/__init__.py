"""The token broker (``codex-login serve``): an HTTP entrypoint handing out access tokens.

The host runs one broker that owns the login; sandboxes and containers ask it
for a short-lived access token and never see the refresh token, the ID token
or the stored record. Tokens come from the application service, so the broker
refreshes through the same single-flight protocol as every other process.

Routes (every answer JSON, ``Cache-Control: no-store``, written by the protocol's one
converter in ``adapters/broker_protocol.py``, which the client reads them with):

- ``GET /v1/token``: ``{access_token, token_type, expires_at, expires_in,
  account_id, mode, base_url, headers}`` (``mode`` as auth.json spells it; ``base_url``
  and ``headers`` the model API to call with the token and every header to send),
  refreshed first when due;
- ``POST /v1/token/refresh`` with ``{"stale": token}``: a token a server refused;
  refreshed unless that is no longer the current one;
- ``GET /healthz``;
- ``/openai/v1/<path>`` (any method the model API takes): the proxy
  (``entrypoints/proxy/``) forwards it to the login's model API base URL (or
  ``--upstream``) with the login's headers instead of the client's ``Authorization``,
  and streams the answer back; nothing else is forwarded anywhere.
- ``GET /metrics``: the Prometheus text format (``entrypoints/metrics.py``), or 404
  naming the ``metrics`` extra when prometheus_client is not installed.

Who may ask: on a Unix socket, peers whose uid (``SO_PEERCRED``) is allowed, or
is a member of an allowed group in the user and group databases (the peer's own
gid is not trusted: a setgid program would carry a group its user is not in); on
loopback TCP, requests carrying ``Authorization: Bearer <secret>``, the secret
being the one of ``--secret-file`` or a client key of ``--client-keys`` (re-read
when the file changes, ``adapters/client_keys.py``). A refused request is answered
and its connection closed.

Bounded, so that no client can starve another (SPEC §8):

- each listener has its own connection cap, so TCP clients can never fill the
  socket's slots;
- a connection that has not proven itself (TCP: no request with the secret yet;
  socket: a peer that is not allowed) is one of a few per listener; when they are
  all taken, the oldest is dropped to make room;
- each peer (a uid on the socket, other than the broker's own; an address on TCP)
  holds a bounded share of a listener's connections;
- a deadline for a connection's first request (slow clients), a per-request
  timeout, body and header sizes;
- forced refreshes (``POST /v1/token/refresh``): a few per peer, then one per
  interval; beyond that the peer is answered the current token.

One access-log line per request, its raw path escaped and truncated, never a
token or a key: the peer (``uid=N pid=N`` on the socket, the address on TCP), then
on TCP the client it proved to be (``client=NAME``, a client key's name, or
``client=secret``).

One module per job: ``app`` (``Broker``: the aiohttp application, its wiring and life
cycle), ``handlers`` (the token routes), ``guard`` (the middleware: who may ask, the
request deadline, the access log), ``admission`` (connections counted against their
listener's limits), ``access`` (``Access``: uids, groups, the secret, client keys),
``limits`` (``Limits``, forced-refresh buckets), ``answers`` (the JSON answers),
``access_log`` (log lines) and ``listeners`` (the Unix socket, TCP, systemd's sockets).
"""

from __future__ import annotations

from codex_login.entrypoints.broker.access import CLIENT, SECRET_CLIENT, Access, own_uids
from codex_login.entrypoints.broker.app import Broker, log
from codex_login.entrypoints.broker.guard import PROXY_ROUTE, Handler
from codex_login.entrypoints.broker.limits import Limits
from codex_login.entrypoints.broker.listeners import (
    NO_UNIX_SOCKET,
    systemd_listeners,
    tcp_listener,
    unix_listener,
)
from codex_login.entrypoints.http_answers import NO_STORE, RETRY_AFTER_SECONDS

__all__ = [
    "CLIENT",
    "NO_STORE",
    "NO_UNIX_SOCKET",
    "PROXY_ROUTE",
    "RETRY_AFTER_SECONDS",
    "SECRET_CLIENT",
    "Access",
    "Broker",
    "Handler",
    "Limits",
    "log",
    "own_uids",
    "systemd_listeners",
    "tcp_listener",
    "unix_listener",
]

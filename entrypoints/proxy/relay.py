"""Not an open relay: what the proxy forwards, and the refusals for everything else.

Only an origin-form target under ``/openai/v1/``, sent to this broker, goes to the
configured upstream. Refused before anything is sent (400: a target that could mean
another path once decoded; 403: a request aimed somewhere else):

- ``CONNECT`` and absolute-form or authority-form targets (403);
- a ``Host``, ``X-Forwarded-Host``, ``X-Forwarded-Server`` or ``Forwarded: host=`` that
  names anything but this loopback broker (a loopback name, with no port on the Unix
  socket and no port but the broker's on TCP) (403), and ``X-Original-URL`` /
  ``X-Rewrite-URL`` (400);
- dot-segments, empty segments, backslashes, and encoded slashes, backslashes or dots
  (``%2f``, ``%5c``, ``%2e``, in any case) in the path (400).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.model_api import is_loopback

PREFIX = "/openai/v1/"
_ENCODED = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
_REWRITES = ("X-Original-URL", "X-Rewrite-URL")
_HOST_HEADERS = ("X-Forwarded-Host", "X-Forwarded-Server")
_FORWARDED_HOST = re.compile(r"host\s*=\s*\"?([^;,\"]*)", re.IGNORECASE)


@attrs.frozen(repr=False)
class Refusal(FieldsRepr):
    """A request the proxy will not forward: its status, error code and message."""

    status: int
    error: str
    message: str


def refusal(
    method: str, target: str, headers: Mapping[str, str], *, own_port: int | None = None
) -> Refusal | None:
    """Why this request may not be forwarded, or None: it may. ``target``: the raw
    request target, as the client sent it; ``own_port``: the broker's TCP port the
    request came in on (None on the Unix socket), the one port a host may name."""
    if method.upper() == "CONNECT":
        return Refusal(403, "forbidden", "CONNECT is not forwarded")
    if not target.startswith("/") or target.startswith("//"):
        return Refusal(403, "forbidden", "only origin-form targets under /openai/v1/")
    return _aimed_elsewhere(headers, own_port) or path_problem(target.split("?", 1)[0])


def path_problem(path: str) -> Refusal | None:
    """Why ``path`` (raw, still percent-encoded) may not be forwarded, or None."""
    if not path.startswith(PREFIX):
        return Refusal(404, "not_found", "only /openai/v1/ is forwarded")
    if "\\" in path:
        return Refusal(400, "bad_request", "a backslash in the path")
    if _ENCODED.search(path):
        return Refusal(400, "bad_request", "encoded slashes, backslashes or dots in the path")
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        return Refusal(400, "bad_request", "dot-segments in the path")
    if "" in segments[:-1]:
        return Refusal(400, "bad_request", "empty segments in the path")
    return None


def _aimed_elsewhere(headers: Mapping[str, str], own_port: int | None) -> Refusal | None:
    for name in _REWRITES:
        if name in headers:
            return Refusal(400, "bad_request", f"{name} is not accepted")
    hosts = [headers.get("Host", "")]
    hosts += [headers[name] for name in _HOST_HEADERS if name in headers]
    hosts += _FORWARDED_HOST.findall(headers.get("Forwarded", ""))
    for host in hosts:
        if not _names_this_broker(host, own_port):
            return Refusal(403, "forbidden", "the request names another host")
    return None


@functools.lru_cache(maxsize=256)  # bounded: the client chooses the values
def _names_this_broker(host: str, own_port: int | None) -> bool:
    """An empty host, or a loopback name; with a port only on TCP, the broker's own.
    Cached: every request of a client sends the same ``Host``."""
    host = host.strip()
    if not host:
        return True
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else rest
    else:
        name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", "")
    if port and not (port.isdigit() and int(port) == own_port):
        return False
    return is_loopback(name)


def upstream_url(base_url: str, target: str) -> str:
    """The upstream URL of an allowed ``target``: its path after ``/openai/v1/`` (still
    encoded, as sent) and its query, under ``base_url``."""
    return base_url.rstrip("/") + "/" + target.removeprefix(PREFIX)

"""Origins (RFC 6454: scheme, host, port): where a URL's requests really go.

The defences against an OAuth mix-up compare the origins of the URLs an issuer
names with the issuer's own. The comparison must not be fooled by a URL that
Python and a browser read differently: ``https://auth.openai.com@evil`` goes to
``evil``, and a browser reads ``https://evil\\@auth.openai.com`` as ``evil`` too
while Python's parser sees ``auth.openai.com``. Such URLs have no origin here.
"""

from __future__ import annotations

from codex_login.domain.errors import ConfigurationError

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that never belong in a host, and that parsers disagree about.
_AMBIGUOUS = frozenset("@\\ \t\r\n%") | frozenset(chr(c) for c in range(32)) | {"\x7f"}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL: lower case, the port only when not the
    scheme's default (so ``https://a.example:443`` and ``https://A.example/`` agree).

    Raises ValueError for a URL without one: another scheme, no host, a bad
    port, or user info and other characters a browser may read differently.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415  (only custom issuers pay for it)

    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if not parts.netloc or _AMBIGUOUS.intersection(parts.netloc):
        raise ValueError(f"{url!r} has no plain host (user info, spaces or escapes)")
    host = parts.hostname
    if not host:
        raise ValueError(f"{url!r} has no host")
    port = parts.port or DEFAULT_PORTS[scheme]  # ValueError for a bad port
    written = "" if port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{_bracketed(host)}{written}"


def same_origin(url: str, other: str) -> bool:
    """Whether both URLs have the same origin (False when either has none)."""
    try:
        return origin_of(url) == origin_of(other)
    except ValueError:
        return False


def parse_origins(text: str, source: str) -> frozenset[str]:
    """The origins listed in ``text`` (commas or spaces between them), each checked.

    An entry is an origin only: ``https://login.example.com`` or with a port;
    a path, query or user info is refused, naming ``source``.
    """
    entries = text.replace(",", " ").split()
    if not entries:
        return frozenset()
    from urllib.parse import urlsplit  # noqa: PLC0415  (only custom issuers pay for it)

    origins = set()
    for entry in entries:
        parts = urlsplit(entry)
        try:
            origin = origin_of(entry)
        except ValueError as exc:
            raise _not_an_origin(entry, source) from exc
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise _not_an_origin(entry, source)
        origins.add(origin)
    return frozenset(origins)


def _not_an_origin(entry: str, source: str) -> ConfigurationError:
    return ConfigurationError(
        f"{source}: {entry!r} is not an origin; list origins such as "
        "https://login.example.com or https://login.example.com:8443, without a path"
    )


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host

"""Reading a JWT's payload without checking its signature.

The tokens come from the issuer over TLS; we only read claims from them.
Any input that is not a decodable JWT raises ``InvalidJwt``, never anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from codex_login.domain.errors import InvalidJwt

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def decode_payload(token: str) -> dict[str, object]:
    """Return the JSON object in the middle part of ``token``."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidJwt("a JWT has three non-empty parts separated by dots")
    raw = _decode_base64url(parts[1])
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidJwt("the JWT payload is not UTF-8 JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidJwt("the JWT payload is not a JSON object")
    return payload


def _decode_base64url(segment: str) -> bytes:
    if not _BASE64URL.fullmatch(segment):
        raise InvalidJwt("the JWT payload is not base64url")
    unpadded = segment.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise InvalidJwt("the JWT payload has an impossible base64url length")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidJwt("the JWT payload is not base64url") from exc

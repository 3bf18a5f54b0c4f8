"""The issuer dialects as strategies, over a transport that records instead of sending."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from codex_login.adapters.oauth.dialects import dialects
from codex_login.adapters.oauth.transport import Answer, Transport
from codex_login.domain.issuer import IssuerConfig, IssuerProfile

FIELDS = {"client_id": "app_x", "token": "t"}


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def request(self, method: str, url: str, **options: Any) -> Answer:
        self.sent.append((method, url, options))
        return Answer(200, "OK", b"{}", ())


def strategies() -> tuple[RecordingTransport, dict[IssuerProfile, Any]]:
    transport = RecordingTransport()
    return transport, dict(dialects(cast(Transport, transport)))


def test_every_issuer_profile_has_a_dialect() -> None:
    assert set(strategies()[1]) == set(IssuerProfile)


def test_the_openai_dialect_posts_json_and_a_standard_one_a_form() -> None:
    transport, by_profile = strategies()
    for profile in (IssuerProfile.OPENAI, IssuerProfile.STANDARD):
        asyncio.run(by_profile[profile].post_fields("https://i/t", FIELDS, what="revoking"))
    (_, _, as_json), (_, _, as_form) = transport.sent
    assert as_json == {"json_body": FIELDS, "what": "revoking", "revoke": False}
    assert as_form == {"form": "client_id=app_x&token=t", "what": "revoking", "revoke": False}


def test_the_openai_dialect_knows_its_endpoints_without_asking() -> None:
    transport, by_profile = strategies()
    issuer = IssuerConfig()
    endpoints = asyncio.run(by_profile[IssuerProfile.OPENAI].endpoints(issuer))
    assert endpoints == issuer.openai_endpoints()
    assert transport.sent == []

"""A standard issuer's metadata: OpenID Connect discovery, then RFC 8414, kept once read."""

from __future__ import annotations

from typing import Any

from codex_login.adapters.oauth.transport import Transport
from codex_login.adapters.oauth_answers import read_metadata
from codex_login.domain.errors import TokenEndpointError
from codex_login.domain.issuer import IssuerConfig, IssuerEndpoints


class Discovery:
    """An issuer's endpoints from its metadata, read when the first request to it is
    about to be sent and kept for the life of this object."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._known: dict[str, IssuerEndpoints] = {}

    async def endpoints(self, issuer: IssuerConfig) -> IssuerEndpoints:
        known = self._known.get(issuer.issuer)
        if known is None:
            known = self._known[issuer.issuer] = await self._discover(issuer)
        return known

    async def _discover(self, issuer: IssuerConfig) -> IssuerEndpoints:
        """OpenID Connect discovery first, then RFC 8414."""
        tried = []
        for url in issuer.discovery_urls:
            answer = await self._transport.request("GET", url, what="reading the issuer's metadata")
            document = answer.json_object() if answer.status == 200 else None
            if document is not None:
                return _endpoints_from(document, issuer, url)
            tried.append(f"{url} answered HTTP {answer.status}")
        raise TokenEndpointError(
            f"{issuer.issuer} publishes no OAuth metadata ({'; '.join(tried)}); "
            "check the issuer URL, or set CODEX_LOGIN_ISSUER_PROFILE=openai for an "
            "issuer with OpenAI's paths"
        )


def _endpoints_from(document: dict[str, Any], config: IssuerConfig, url: str) -> IssuerEndpoints:
    """The endpoints an issuer's metadata names, refusing another issuer's (RFC 8414 §3.3)
    and, against a mix-up, endpoints on another origin than the issuer's own that the
    user does not trust (RFC 9700 §4.4)."""
    metadata = read_metadata(document)
    issuer = config.issuer
    named = metadata.issuer
    if named is None or named.rstrip("/") != issuer:
        raise TokenEndpointError(
            f"the metadata at {url} names the issuer {named!r}, not {issuer}; "
            "refusing it (RFC 8414 §3.3): check the issuer URL"
        )
    authorize, token = metadata.authorization_endpoint, metadata.token_endpoint
    if authorize is None or token is None:
        raise TokenEndpointError(
            f"the metadata at {url} lacks authorization_endpoint or token_endpoint"
        )

    def optional(value: str | None, name: str) -> str | None:
        return config.check_endpoint(value, name) if value else None

    return IssuerEndpoints(
        issuer=issuer,
        authorize=config.check_endpoint(authorize, "authorization endpoint"),
        token=config.check_endpoint(token, "token endpoint"),
        revocation=optional(metadata.revocation_endpoint, "revocation endpoint"),
        device_authorization=optional(
            metadata.device_authorization_endpoint, "device authorization endpoint"
        ),
        iss_parameter_supported=metadata.authorization_response_iss_parameter_supported,
    )

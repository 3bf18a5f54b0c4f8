"""The fake backend's state and its decisions, without HTTP: who may call, what it answers.

A ChatGPT login's request passes when its bearer token is the linked issuer's current
access token for that login (issued there, not expired on the issuer's clock, not
superseded by a refresh, its grant not revoked) and ``ChatGPT-Account-ID`` names the
token's account. An API-key request passes when its bearer is a key the backend knows
(``api_keys``) or the issuer hands out (``issuer.api_key``). Every refusal is a 401
with an error shaped like OpenAI's, whose ``code`` says which rule failed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from codex_login.testing.backend.values import (
    ACCOUNT_HEADER,
    DEFAULT_MODEL,
    DEFAULT_TEXT,
    Answer,
    refusal,
)
from codex_login.testing.issuer.state import IssuerState
from codex_login.testing.issuer.values import Recorded, Reply

# Why an access token is refused, by its standing at the issuer.
_STANDING = {
    "revoked": ("the access token's login was revoked; sign in again", "token_revoked"),
    "superseded": ("a refresh replaced the access token; use the new one", "token_superseded"),
}


class BackendState:
    """What the backend knows and decides; ``FakeBackend`` documents the attributes."""

    def __init__(
        self,
        issuer: IssuerState,
        *,
        api_keys: Iterable[str] = (),
        text: str = DEFAULT_TEXT,
        model: str = DEFAULT_MODEL,
    ) -> None:
        self.url = ""
        self.issuer = issuer
        self.api_keys: set[str] = set(api_keys)
        self.text = text
        self.model = model
        self.models: list[dict[str, Any]] = []  # Codex's catalogue at GET /models
        self.requests: list[Recorded] = []
        self._serials = itertools.count(1)
        self._lock = threading.Lock()

    # -- what tests look at ----------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The API-key flavour's base URL (``/v1``, as ``https://api.openai.com/v1``)."""
        return f"{self.url}/v1"

    def requests_to(self, path: str) -> list[Recorded]:
        """The requests to ``path`` (``"/responses"``, ``"/v1/models"``...)."""
        return [r for r in self.requests if r.path == path]

    def accepted_api_keys(self) -> set[str]:
        """The keys the API-key flavour accepts: ``api_keys`` and the issuer's ``api_key``."""
        return {*self.api_keys, self.issuer.api_key}

    # -- decisions -------------------------------------------------------------------

    def chatgpt_refusal(self, headers: Mapping[str, str]) -> Reply | None:
        """Why a ChatGPT login's request is refused (None: it may pass)."""
        token = _bearer(headers)
        if token is None:
            return refusal("no bearer token in the Authorization header", "missing_authorization")
        issued = self.issuer.issued_access(token)
        if issued is None:
            return refusal("the access token was not issued by this issuer", "invalid_token")
        if issued.standing != "current":
            return refusal(*_STANDING[issued.standing])
        if self.issuer.now() >= issued.expires_at:
            return refusal("the access token has expired; refresh it", "token_expired")
        return _account_refusal(_header(headers, ACCOUNT_HEADER), issued.account_id)

    def api_key_refusal(self, headers: Mapping[str, str]) -> Reply | None:
        """Why an API-key request is refused (None: it may pass)."""
        key = _bearer(headers)
        if key is None:
            return refusal("no API key in the Authorization header", "missing_authorization")
        if key not in self.accepted_api_keys():
            return refusal("Incorrect API key provided.", "invalid_api_key")
        return None

    def answer(self, body: Mapping[str, Any]) -> Answer:
        """The model's answer to a ``POST /responses`` body: ``text``, under its model."""
        serial = next(self._serials)
        model = body.get("model")
        return Answer(
            response_id=f"resp_fake_{serial}",
            message_id=f"msg_fake_{serial}",
            model=model if isinstance(model, str) and model else self.model,
            created_at=int(self.issuer.now().timestamp()),
            text=self.text,
        )

    def chatgpt_models(self) -> dict[str, Any]:
        """Codex's model catalogue (``GET /models?client_version=...``): ``models``,
        empty by default, which Codex 0.171 accepts."""
        return {"models": list(self.models)}

    def api_models(self) -> dict[str, Any]:
        """The public API's model list (``GET /v1/models``): ``model``, owned by OpenAI."""
        entry = {"id": self.model, "object": "model", "created": 0, "owned_by": "openai"}
        return {"object": "list", "data": [entry]}

    def record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)


def _account_refusal(sent: str | None, account_id: str | None) -> Reply | None:
    if account_id is None:  # a login without a workspace: no header to send
        if sent is None:
            return None
        return refusal(f"{ACCOUNT_HEADER} names an account this login has not", "account_mismatch")
    if sent is None:
        return refusal(f"no {ACCOUNT_HEADER} header", "missing_account_id")
    if sent != account_id:
        return refusal(f"{ACCOUNT_HEADER} is not the access token's account", "account_mismatch")
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = (_header(headers, "Authorization") or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None

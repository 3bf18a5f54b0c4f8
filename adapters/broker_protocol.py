"""The token broker's wire format (SPEC §8), one converter for both ends.

``TokenAnswer`` is what ``GET /v1/token`` and ``POST /v1/token/refresh`` answer (the
token, and the model API to call with it: ``base_url`` and ``headers``),
``ErrorAnswer`` every refusal and failure, ``RefreshRequest`` the refresh body and
``Health`` the answer of ``GET /healthz``. Keys are written in the fields' order; a
key the reader does not know is ignored (a newer broker may say more). Modes are
spelled as auth.json spells them, moments written as auth.json writes them. Reading
is strict: a value of the wrong type is a ``ValueError``, never coerced.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.model_api import ModelApi
from codex_login.domain.modes import AuthMode
from codex_login.domain.timestamps import format_timestamp, parse_timestamp
from codex_login.domain.tokens import AccessToken

# Brokers before this vocabulary was settled said "api_key"; still understood.
_OLD_MODES = {"api_key": AuthMode.API_KEY}

Message = TypeVar("Message")


@attrs.frozen(kw_only=True, repr=False)
class TokenAnswer(FieldsRepr):
    """An access token as the broker hands it out; never the refresh or ID token."""

    access_token: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))
    token_type: str = "Bearer"  # noqa: S105  (the scheme's name, no secret)
    expires_at: datetime | None = None
    expires_in: int | None = None
    account_id: str | None = None
    mode: AuthMode
    # The model API to call with the token (its base URL, every header to send); a broker
    # before these fields said neither (omitted when None).
    base_url: str | None = None
    headers: dict[str, str] | None = attrs.field(default=None, repr=False)

    @classmethod
    def of(cls, token: AccessToken, *, now: datetime, api: ModelApi | None = None) -> TokenAnswer:
        """The answer for ``token``; ``expires_in`` counted from ``now``."""
        expires_in = None
        if token.expires_at is not None:
            expires_in = max(0, int((token.expires_at - now).total_seconds()))
        return cls(
            access_token=token.token,
            expires_at=token.expires_at,
            expires_in=expires_in,
            account_id=token.account_id,
            mode=token.mode,
            base_url=None if api is None else api.base_url,
            headers=None if api is None else dict(api.headers),
        )

    def model_api(self) -> ModelApi | None:
        """The model API as the broker said it; None from a broker that did not."""
        if self.base_url is None or self.headers is None:
            return None
        return ModelApi(self.base_url, self.headers)

    def token(self) -> AccessToken:
        return AccessToken(
            mode=self.mode,
            token=self.access_token,
            expires_at=self.expires_at,
            account_id=self.account_id,
        )


@attrs.frozen(repr=False)
class ErrorAnswer(FieldsRepr):
    """Why a request was refused or failed: a code for programs, a message for people."""

    error: str
    message: str


@attrs.frozen(repr=False)
class RefreshRequest(FieldsRepr):
    """The body of ``POST /v1/token/refresh``: the token a server refused."""

    stale: str = attrs.field(repr=False, validator=attrs.validators.min_len(1))


@attrs.frozen(repr=False)
class Health(FieldsRepr):
    status: str = "ok"


def dumps(message: TokenAnswer | ErrorAnswer | RefreshRequest | Health) -> str:
    return json.dumps(_converter().unstructure(message))


def loads(data: bytes, kind: type[Message]) -> Message:
    """``data`` read as a ``kind``; ValueError when it is not JSON or not of that shape."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    try:
        return _converter().structure(document, kind)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise ValueError(f"not a {kind.__name__}") from exc


def _strict(kind: type[Any]) -> Any:
    def structure(value: object, _: object) -> Any:
        # bool is an int to Python, never to the protocol.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def _structure_mode(value: object, _: object) -> AuthMode:
    if not isinstance(value, str):
        raise ValueError(f"expected a mode, got {type(value).__name__}")
    return _OLD_MODES.get(value) or AuthMode(value)


def _structure_moment(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected a moment, got {type(value).__name__}")
    return parse_timestamp(value)


@functools.cache
def _converter() -> cattrs.Converter:
    """Built on first use; each class's code is generated when it is first written or read."""
    converter = cattrs.Converter()
    converter.register_structure_hook(str, _strict(str))
    converter.register_structure_hook(int, _strict(int))
    converter.register_structure_hook(AuthMode, _structure_mode)
    converter.register_structure_hook(datetime, _structure_moment)
    converter.register_unstructure_hook(datetime, format_timestamp)
    converter.register_unstructure_hook(
        TokenAnswer,
        make_dict_unstructure_fn(
            TokenAnswer,
            converter,
            base_url=override(omit_if_default=True),
            headers=override(omit_if_default=True),
        ),
    )
    return converter

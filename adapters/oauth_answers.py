"""What an issuer answers, read through one converter: token grants, metadata and the
device-code answers (RFC 8628 and the OpenAI issuer's own).

An issuer's JSON is read leniently, as OAuth clients must: a text field that is
missing, empty or not a string is absent (``None``), a flag is set only by
``true``, a number of seconds is a positive number (or numeric string) under a day
or absent, and keys we do not use are ignored. What an absent field means (an
error, a default) is for the caller to decide: ``oauth.endpoint`` says which one
was missing, in the words of the RFC that requires it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.tokens import TokenGrant

Answer = TypeVar("Answer")
MAX_SECONDS = 24 * 3600


@attrs.frozen(repr=False)
class IssuerMetadata(FieldsRepr):
    """OpenID Connect discovery / RFC 8414 authorization server metadata, the fields used."""

    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    authorization_response_iss_parameter_supported: bool = False  # RFC 9207


@attrs.frozen(repr=False)
class DeviceAuthorization(FieldsRepr):
    """An RFC 8628 §3.2 device authorization answer, the fields used."""

    device_code: str | None = attrs.field(default=None, repr=False)
    user_code: str | None = None
    verification_uri: str | None = None
    verification_url: str | None = None  # the spelling of issuers older than the RFC
    verification_uri_complete: str | None = None
    interval: float | None = None
    expires_in: float | None = None


@attrs.frozen(repr=False)
class OpenAIDeviceCode(FieldsRepr):
    """The OpenAI issuer's answer to a request for a device code."""

    device_auth_id: str | None = attrs.field(default=None, repr=False)
    user_code: str | None = None
    interval: float | None = None


@attrs.frozen(repr=False)
class OpenAIDeviceApproval(FieldsRepr):
    """The OpenAI issuer's answer once the code is approved: a code to exchange."""

    authorization_code: str | None = attrs.field(default=None, repr=False)
    code_verifier: str | None = attrs.field(default=None, repr=False)


def read_grant(document: Mapping[str, Any]) -> TokenGrant:
    """A token endpoint's successful answer: the tokens it holds, each possibly absent."""
    return _read(document, TokenGrant)


def read_metadata(document: Mapping[str, Any]) -> IssuerMetadata:
    return _read(document, IssuerMetadata)


def read_device_authorization(document: Mapping[str, Any]) -> DeviceAuthorization:
    return _read(document, DeviceAuthorization)


def read_openai_device_code(document: Mapping[str, Any]) -> OpenAIDeviceCode:
    return _read(document, OpenAIDeviceCode)


def read_openai_approval(document: Mapping[str, Any]) -> OpenAIDeviceApproval:
    return _read(document, OpenAIDeviceApproval)


def _read(document: Mapping[str, Any], kind: type[Answer]) -> Answer:
    return _converter().structure(document, kind)


def _text(value: object, _: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _flag(value: object, _: object) -> bool:
    return value is True


def _seconds(value: object, _: object) -> float | None:
    """A positive number of seconds under a day, given as a number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 < seconds < MAX_SECONDS else None


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_structure_hook_func(lambda type_: type_ == str | None, _text)
    converter.register_structure_hook(bool, _flag)
    converter.register_structure_hook_func(lambda type_: type_ == float | None, _seconds)
    return converter

"""What an issuer answers, read through one converter: token grants and metadata.

An issuer's JSON is read leniently, as OAuth clients must: a text field that is
missing, empty or not a string is absent (``None``), a flag is set only by
``true``, and keys we do not use are ignored. What an absent field means (an
error, a default) is for the caller to decide: ``oauth_http`` says which one
was missing, in the words of the RFC that requires it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from codex_login.domain.tokens import TokenGrant

Answer = TypeVar("Answer")


@attrs.frozen
class IssuerMetadata:
    """OpenID Connect discovery / RFC 8414 authorization server metadata, the fields used."""

    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    authorization_response_iss_parameter_supported: bool = False  # RFC 9207


def read_grant(document: Mapping[str, Any]) -> TokenGrant:
    """A token endpoint's successful answer: the tokens it holds, each possibly absent."""
    return _read(document, TokenGrant)


def read_metadata(document: Mapping[str, Any]) -> IssuerMetadata:
    return _read(document, IssuerMetadata)


def _read(document: Mapping[str, Any], kind: type[Answer]) -> Answer:
    return _converter().structure(document, kind)


def _text(value: object, _: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _flag(value: object, _: object) -> bool:
    return value is True


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_structure_hook_func(lambda type_: type_ == str | None, _text)
    converter.register_structure_hook(bool, _flag)
    return converter

"""The auth.json wire format, byte-compatible with the Codex CLI.

One cattrs converter owns the mapping between ``CredentialRecord`` and JSON:
renames (``OPENAI_API_KEY``), the null and omission rules, RFC 3339 timestamps,
and the unknown fields other tools wrote, which are kept on every rewrite.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from codex_login.domain.claims import IdToken, parse_id_token
from codex_login.domain.errors import InvalidJwt, MalformedCredentials, StorageError
from codex_login.domain.masking import scrub
from codex_login.domain.modes import StoredMode, mode_name, parse_mode
from codex_login.domain.record import CredentialRecord, Loaded
from codex_login.domain.timestamps import format_timestamp, parse_timestamp
from codex_login.domain.tokens import TokenData

PROVENANCE_FIELDS = ("issuer", "client_id")
RECORD_FIELDS = ("auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh")
TOKEN_FIELDS = ("id_token", "access_token", "refresh_token", "oauth_provenance", "account_id")
# Where the Codex CLI writes each key; ``login_owner_id`` is kept as an unknown field, in place.
TOKEN_ORDER = (
    "id_token",
    "access_token",
    "refresh_token",
    "oauth_provenance",
    "login_owner_id",
    "account_id",
)
_BOM = b"\xef\xbb\xbf"


class _Rejected(ValueError):
    """A value of the wrong shape; its message becomes part of the error."""


def decode(data: bytes, location: str) -> Loaded:
    """Parse auth.json bytes; raises ``MalformedCredentials`` naming the problem."""
    document = _parse_json(data, location)
    warnings = _drop_malformed_optionals(document)
    try:
        record = _converter().structure(document, CredentialRecord)
    except cattrs.BaseValidationError as exc:
        raise MalformedCredentials(location, _first_problem(exc)) from exc
    return Loaded(record, tuple(warnings))


def encode(record: CredentialRecord, *, compact: bool = False) -> bytes:
    """Serialize like the Codex CLI: 2-space indent (or compact), raw UTF-8, no newline."""
    document = _converter().unstructure(record, CredentialRecord)
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    try:
        try:
            return json.dumps(document, ensure_ascii=False, allow_nan=False, **layout).encode()
        except UnicodeEncodeError:
            # A lone surrogate (from a "\ud800" escape in a preserved field) has no
            # UTF-8 form; escaping keeps the file valid and the value intact.
            return json.dumps(document, ensure_ascii=True, allow_nan=False, **layout).encode()
    except ValueError as exc:
        raise StorageError(f"the credentials cannot be written as JSON: {exc}") from exc


def _parse_json(data: bytes, location: str) -> dict[str, Any]:
    def malformed(problem: str) -> MalformedCredentials:
        return MalformedCredentials(location, problem)

    if data.startswith(_BOM):
        raise malformed("it starts with a byte-order mark (BOM); save it as UTF-8 without BOM")
    if not data.strip():
        raise malformed("it is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise malformed(f"it is not UTF-8 text (bad byte at offset {exc.start})") from exc
    try:
        document = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        # Some of json's messages end in "at" already ("Unterminated string starting at").
        at = "" if exc.msg.endswith(" at") else " at"
        where = f"line {exc.lineno} column {exc.colno}"
        raise malformed(f"it is not valid JSON ({exc.msg}{at} {where})") from exc
    except (ValueError, RecursionError) as exc:
        # _Rejected, an integer too long to convert, or nesting too deep.
        raise malformed(f"it is not valid JSON ({exc or 'nested too deeply'})") from exc
    if not isinstance(document, dict):
        raise malformed(f"it holds a JSON {_json_type(document)}, not an object")
    return document


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _Rejected(f"the key {key!r} appears twice")
        document[key] = value
    return document


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Rejected(f"the number {text[:20]} is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise _Rejected(f"{name} is not a JSON value")


def _drop_malformed_optionals(document: dict[str, Any]) -> list[str]:
    """Treat unreadable informational fields as absent, so a stray tool cannot lock us out.

    A warning quotes the value, scrubbed of the record's secrets (a stray tool may
    have put one there).
    """
    warnings: list[str] = []
    secrets = _secrets_in(document)

    def _shown(value: object) -> str:
        return _quoted(value, secrets)

    stamp = document.get("last_refresh")
    if stamp is not None and not _is_timestamp(stamp):
        del document["last_refresh"]
        warnings.append(f"ignoring last_refresh {_shown(stamp)}: not an RFC 3339 timestamp")
    tokens = document.get("tokens")
    if isinstance(tokens, dict):
        account = tokens.get("account_id")
        if account is not None and not isinstance(account, str):
            del tokens["account_id"]
            warnings.append(f"ignoring tokens.account_id {_shown(account)}: not a string")
        provenance = tokens.get("oauth_provenance")
        if provenance is not None and not _is_provenance(provenance):
            del tokens["oauth_provenance"]
            warnings.append(
                f"ignoring tokens.oauth_provenance {_shown(provenance)}: "
                "not an object with string issuer and client_id"
            )
    return warnings


def _is_provenance(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    return all(isinstance(value.get(name), str) and value[name] for name in PROVENANCE_FIELDS)


def _is_timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return True


def _quoted(value: object, secrets: tuple[str, ...]) -> str:
    text = scrub(json.dumps(value, ensure_ascii=True), secrets)
    return text if len(text) <= 40 else text[:37] + "..."


def _secrets_in(document: dict[str, Any]) -> tuple[str, ...]:
    tokens = document.get("tokens")
    values = [document.get("OPENAI_API_KEY")]
    if isinstance(tokens, dict):
        values += [tokens.get(name) for name in ("id_token", "access_token", "refresh_token")]
    return tuple(value for value in values if isinstance(value, str))


def _json_type(value: object) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _first_problem(exc: cattrs.BaseValidationError) -> str:
    messages = cattrs.transform_error(exc, path="$", format_exception=_describe)
    message = messages[0] if messages else str(exc)
    problem, _, path = message.rpartition(" @ $.")
    if not path:
        return message
    return f"{path.replace('openai_api_key', 'OPENAI_API_KEY')} {problem}"


def _describe(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, KeyError):
        return "is missing"
    if isinstance(exc, _Rejected | InvalidJwt):
        return str(exc)
    return "has the wrong type"


# -- the converter ---------------------------------------------------------


def _strict_str(value: object, _type: object) -> str:
    if not isinstance(value, str):
        raise _Rejected(f"must be a string, not {_json_type(value)}")
    return value


def _structure_mode(value: object, _type: object) -> StoredMode:
    return parse_mode(_strict_str(value, str))


def _mode_name(mode: StoredMode | None) -> str | None:
    return None if mode is None else mode_name(mode)


def _structure_id_token(value: object, _type: object) -> IdToken:
    try:
        return parse_id_token(_strict_str(value, str))
    except InvalidJwt as exc:
        raise _Rejected(f"is not a decodable JWT ({exc})") from exc


def _structure_timestamp(value: object, _type: object) -> datetime:
    return parse_timestamp(_strict_str(value, str))


def _with_extras(
    base: Callable[[dict[str, Any], Any], Any], known: tuple[str, ...]
) -> Callable[[object, Any], Any]:
    """Wrap a structure function so unknown keys land in the ``extra`` field."""

    def structure(value: object, type_: Any) -> Any:
        if not isinstance(value, dict):
            raise _Rejected(f"must be an object, not {_json_type(value)}")
        extra = {key: item for key, item in value.items() if key not in known}
        return base({**value, "extra": extra}, type_)

    return structure


def _unstructure_with_extras(
    base: Callable[[Any], dict[str, Any]], known: tuple[str, ...], order: tuple[str, ...]
) -> Callable[[Any], dict[str, Any]]:
    def unstructure(value: Any) -> dict[str, Any]:
        # Keys in the Codex CLI's order (those it knows and we keep as extras included),
        # then the other unknown ones as read.
        extra = {k: v for k, v in value.extra.items() if k not in known}
        generated = {**extra, **base(value)}
        document = {key: generated[key] for key in order if key in generated}
        document.update((k, v) for k, v in generated.items() if k not in document)
        return document

    return unstructure


def _make_converter() -> cattrs.Converter:
    """One converter; each direction's code is generated on first use, so reading never
    pays for writing."""
    converter = cattrs.Converter()
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook_func(
        lambda type_: type_ == StoredMode | None,
        lambda value, _: None if value is None else _structure_mode(value, StoredMode),
    )
    converter.register_structure_hook(IdToken, _structure_id_token)
    converter.register_structure_hook(datetime, _structure_timestamp)
    converter.register_unstructure_hook_func(lambda type_: type_ == StoredMode | None, _mode_name)
    converter.register_unstructure_hook(IdToken, lambda token: token.raw)
    converter.register_unstructure_hook(datetime, format_timestamp)
    raw_extra = override(struct_hook=lambda value, _: value)

    def structure_tokens(_: type) -> Callable[[object, Any], Any]:
        generated = make_dict_structure_fn(
            TokenData,
            converter,
            provenance=override(rename="oauth_provenance"),
            extra=raw_extra,
        )
        return _with_extras(generated, TOKEN_FIELDS)

    def structure_record(_: type) -> Callable[[object, Any], Any]:
        generated = make_dict_structure_fn(
            CredentialRecord,
            converter,
            openai_api_key=override(rename="OPENAI_API_KEY"),
            extra=raw_extra,
        )
        return _with_extras(generated, RECORD_FIELDS)

    def unstructure_tokens(_: type) -> Callable[[Any], dict[str, Any]]:
        generated = make_dict_unstructure_fn(
            TokenData,
            converter,
            provenance=override(rename="oauth_provenance", omit_if_default=True),
            extra=override(omit=True),
        )
        return _unstructure_with_extras(generated, TOKEN_FIELDS, TOKEN_ORDER)

    def unstructure_record(_: type) -> Callable[[Any], dict[str, Any]]:
        generated = make_dict_unstructure_fn(
            CredentialRecord,
            converter,
            auth_mode=override(omit_if_default=True),
            openai_api_key=override(rename="OPENAI_API_KEY"),
            tokens=override(omit_if_default=True),
            last_refresh=override(omit_if_default=True),
            extra=override(omit=True),
        )
        return _unstructure_with_extras(generated, RECORD_FIELDS, RECORD_FIELDS)

    converter.register_structure_hook_factory(lambda t: t is TokenData, structure_tokens)
    converter.register_structure_hook_factory(lambda t: t is CredentialRecord, structure_record)
    converter.register_unstructure_hook_factory(lambda t: t is TokenData, unstructure_tokens)
    converter.register_unstructure_hook_factory(lambda t: t is CredentialRecord, unstructure_record)
    return converter


@functools.cache
def _converter() -> cattrs.Converter:
    return _make_converter()

"""The auth.json wire format: byte-exact output, strict input, tolerant optionals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.adapters.auth_json import decode, encode
from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import MalformedCredentials, StorageError
from codex_login.domain.modes import AuthMode, UnsupportedMode
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import TokenData
from codex_login.testing import strategies
from support.records import chatgpt_document, chatgpt_record
from support.tokens import id_token

LOCATION = "/home/u/.codex/auth.json"


def test_api_key_login_bytes_match_the_codex_cli() -> None:
    record = CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-123456789")
    assert encode(record) == (
        b'{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-123456789"\n}'
    )


def test_chatgpt_record_keys_nulls_and_order() -> None:
    record = chatgpt_record()
    record = CredentialRecord(
        auth_mode=record.auth_mode,
        tokens=TokenData(record.tokens.id_token, "at", "rt") if record.tokens else None,
        last_refresh=datetime(2026, 11, 28, 10, 45, 43, 654531, tzinfo=UTC),
    )
    document = json.loads(encode(record))
    assert list(document) == ["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"]
    assert document["OPENAI_API_KEY"] is None
    assert list(document["tokens"]) == ["id_token", "access_token", "refresh_token", "account_id"]
    assert document["tokens"]["account_id"] is None
    assert document["last_refresh"] == "2026-11-28T10:45:43.654531Z"


def test_absent_fields_are_omitted_but_the_key_is_always_written() -> None:
    assert encode(CredentialRecord()) == b'{\n  "OPENAI_API_KEY": null\n}'


def test_no_trailing_newline_and_raw_utf8() -> None:
    data = encode(CredentialRecord(openai_api_key="sk", extra={"note": "café ✓"}))
    assert not data.endswith(b"\n")
    assert "café ✓".encode() in data


def test_lone_surrogates_in_preserved_fields_stay_valid_json() -> None:
    loaded = decode(b'{"OPENAI_API_KEY": "k", "odd": "\\ud800"}', LOCATION)
    assert json.loads(encode(loaded.record))["odd"] == "\ud800"


def test_codex_cli_file_round_trips_byte_for_byte_apart_from_precision() -> None:
    data = json.dumps(chatgpt_document(), indent=2).encode()
    again = encode(decode(data, LOCATION).record)
    assert again == data.replace(b"654531020Z", b"654531Z")


def test_unknown_fields_are_preserved_in_place() -> None:
    document = chatgpt_document(agent={"a": [1, 2.5, None]}, zeta=True)
    document["tokens"]["token_kind"] = "v2"
    again = json.loads(encode(decode(json.dumps(document).encode(), LOCATION).record))
    assert again["agent"] == {"a": [1, 2.5, None]}
    assert again["zeta"] is True
    assert again["tokens"]["token_kind"] == "v2"
    assert list(again)[-2:] == ["agent", "zeta"]


def test_unknown_auth_mode_is_kept_verbatim() -> None:
    loaded = decode(b'{"auth_mode": "agentIdentity", "OPENAI_API_KEY": null}', LOCATION)
    assert loaded.record.auth_mode == UnsupportedMode("agentIdentity")
    assert b'"auth_mode": "agentIdentity"' in encode(loaded.record)


# -- malformed files -------------------------------------------------------------

JWT = id_token()


def _tokens(*, without: str = "", **fields: object) -> bytes:
    base: dict[str, object] = {"id_token": JWT, "access_token": "a", "refresh_token": "r"}
    base.update(fields)
    base.pop(without, None)
    return json.dumps({"tokens": base}).encode()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "it is empty"),
        (b"  \n", "it is empty"),
        (b'\xef\xbb\xbf{"OPENAI_API_KEY": "k"}', "byte-order mark"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"OPENAI_API_KEY": "k"', "not valid JSON"),
        # json's own message ends in "at": said once.
        (b'{"OPENAI_API_KEY": "k', "(Unterminated string starting at line 1 column 20)"),
        (b'{"OPENAI_API_KEY" "k"}', "(Expecting ':' delimiter at line 1 column 19)"),
        (b"[]", "holds a JSON array, not an object"),
        (b"null", "holds a JSON null, not an object"),
        (b'"x"', "holds a JSON string"),
        (b'{"a": 1, "a": 2}', "'a' appears twice"),
        (b'{"OPENAI_API_KEY": NaN}', "NaN is not a JSON value"),
        (b'{"OPENAI_API_KEY": "k", "x": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"OPENAI_API_KEY": "k", "x": 1e999}', "the number 1e999 is out of range"),
        (b'{"OPENAI_API_KEY": "k", "x": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"auth_mode": 1}', "auth_mode must be a string, not number"),
        (b'{"auth_mode": ["chatgpt"]}', "auth_mode must be a string, not array"),
        (b'{"OPENAI_API_KEY": true}', "OPENAI_API_KEY must be a string, not boolean"),
        (b'{"tokens": "x"}', "tokens must be an object, not string"),
        (_tokens(without="id_token"), "tokens.id_token is missing"),
        (_tokens(without="access_token"), "tokens.access_token is missing"),
        (_tokens(without="refresh_token"), "tokens.refresh_token is missing"),
        (_tokens(access_token=7), "tokens.access_token must be a string, not number"),
        (_tokens(refresh_token=None), "tokens.refresh_token must be a string, not null"),
        (_tokens(id_token="not-a-jwt"), "tokens.id_token is not a decodable JWT"),
        (_tokens(id_token={"raw": JWT}), "tokens.id_token must be a string, not object"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedCredentials) as caught:
        decode(data, LOCATION)
    message = str(caught.value)
    assert LOCATION in message
    assert problem in message
    assert "\n" not in message


def test_secrets_never_appear_in_errors() -> None:
    data = _tokens(id_token="secret-id-token", access_token="secret-access")
    with pytest.raises(MalformedCredentials) as caught:
        decode(data, LOCATION)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "stamp",
    [
        "",
        "yesterday",
        17,
        "2026-13-01T00:00:00Z",
        "2026-11-28",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_malformed_last_refresh_is_a_warning(stamp: object) -> None:
    data = json.dumps(chatgpt_document(last_refresh=stamp)).encode()
    loaded = decode(data, LOCATION)
    assert loaded.record.last_refresh is None
    assert loaded.record.tokens is not None
    assert len(loaded.warnings) == 1
    assert "last_refresh" in loaded.warnings[0]


def test_malformed_account_id_is_a_warning() -> None:
    document = chatgpt_document()
    document["tokens"]["account_id"] = 42
    loaded = decode(json.dumps(document).encode(), LOCATION)
    assert loaded.record.tokens is not None
    assert loaded.record.tokens.account_id is None
    assert loaded.warnings == ("ignoring tokens.account_id 42: not a string",)


def test_seed_style_nulls_are_absent() -> None:
    loaded = decode(
        b'{"OPENAI_API_KEY": "sk-test-key", "tokens": null, "last_refresh": null}', LOCATION
    )
    assert loaded.record == CredentialRecord(openai_api_key="sk-test-key")
    assert loaded.warnings == ()


# -- round trip ---------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def extras(known: tuple[str, ...]) -> st.SearchStrategy[dict[str, object]]:
    return st.dictionaries(st.text().filter(lambda k: k not in known), json_values, max_size=3)


moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
)
id_tokens = strategies.id_tokens().map(parse_id_token)
token_data = st.builds(
    TokenData,
    id_token=id_tokens,
    access_token=st.text(),
    refresh_token=st.text(),
    account_id=st.none() | st.text(),
    extra=extras(("id_token", "access_token", "refresh_token", "account_id")),
)
# Records of any shape (unknown fields holding lone surrogates included), and every
# kind of record the Codex CLI writes.
hand_built = st.builds(
    CredentialRecord,
    auth_mode=st.none() | st.sampled_from(list(AuthMode)) | st.builds(UnsupportedMode, st.text()),
    openai_api_key=st.none() | st.text(),
    tokens=st.none() | token_data,
    last_refresh=st.none() | moments,
    extra=extras(("auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh")),
)
records = hand_built | strategies.credential_records()


@given(records)
def test_round_trip_is_the_identity(record: CredentialRecord) -> None:
    loaded = decode(encode(record), LOCATION)
    assert loaded.record == record
    assert loaded.warnings == ()


@given(records)
def test_encoding_is_stable(record: CredentialRecord) -> None:
    data = encode(record)
    assert encode(decode(data, LOCATION).record) == data


def test_a_record_json_cannot_represent_is_refused_before_writing() -> None:
    with pytest.raises(StorageError, match="cannot be written as JSON"):
        encode(CredentialRecord(extra={"x": float("inf")}))


def test_a_warning_never_quotes_a_secret_even_in_part() -> None:
    document = chatgpt_document()
    secret = "rt-" + "s" * 60
    document["tokens"]["refresh_token"] = secret
    document["last_refresh"] = "x" + secret
    [warning] = decode(json.dumps(document).encode(), "auth.json").warnings
    assert secret[:10] not in warning
    assert "***" in warning


def test_oauth_provenance_is_read_and_written_where_the_codex_cli_puts_it() -> None:
    document = chatgpt_document()
    document["tokens"] = {
        "id_token": document["tokens"]["id_token"],
        "access_token": "at",
        "refresh_token": "rt",
        "oauth_provenance": {"issuer": "http://127.0.0.1:1", "client_id": "app_1"},
        "login_owner_id": "owner-1",
        "account_id": "acc-1",
        "later_field": True,
    }
    document["last_refresh"] = "2026-11-28T10:45:43.654531Z"
    text = json.dumps(document, indent=2, ensure_ascii=False)
    loaded = decode(text.encode(), "auth.json")
    assert loaded.record.tokens is not None
    assert loaded.record.tokens.provenance is not None
    assert loaded.record.tokens.provenance.issuer == "http://127.0.0.1:1"
    assert encode(loaded.record) == text.encode()


@pytest.mark.parametrize("value", ["x", {"issuer": "i"}, {"issuer": 1, "client_id": "c"}, []])
def test_a_malformed_oauth_provenance_is_a_warning(value: object) -> None:
    document = chatgpt_document()
    document["tokens"]["oauth_provenance"] = value
    loaded = decode(json.dumps(document).encode(), "auth.json")
    assert loaded.record.tokens is not None
    assert loaded.record.tokens.provenance is None
    assert "oauth_provenance" in loaded.warnings[0]

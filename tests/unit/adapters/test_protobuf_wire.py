"""The hand-written protobuf codec of the SPIFFE Workload API's JWT messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_login.adapters.protobuf_wire import (
    WireError,
    decode_fields,
    decode_varint,
    encode_fields,
    encode_varint,
)
from codex_login.adapters.spiffe_workload_api import (
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from codex_login.domain.workload_identity import JwtSvid

text = st.text(max_size=40)


def test_varints_are_little_endian_groups_of_seven_bits() -> None:
    """The protobuf documentation's examples: 1, 150, 300."""
    assert encode_varint(1) == b"\x01"
    assert encode_varint(150) == b"\x96\x01"
    assert encode_varint(300) == b"\xac\x02"
    assert decode_varint(b"\xac\x02", 0) == (300, 2)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_a_varint_round_trips(value: int) -> None:
    encoded = encode_varint(value)
    assert decode_varint(encoded, 0) == (value, len(encoded))


def test_a_request_is_what_protoc_would_encode() -> None:
    """JWTSVIDRequest{audience: ["aud"], spiffe_id: "spiffe://x/y"}, bytes worked out by
    hand from the wire format: key 0x0a (field 1, length-delimited), key 0x12 (field 2)."""
    assert encode_request(["aud"], "spiffe://x/y") == b"\x0a\x03aud\x12\x0cspiffe://x/y"
    assert encode_request(["aud"]) == b"\x0a\x03aud"  # proto3: no empty spiffe_id


@given(st.lists(text, max_size=4), text)
def test_a_request_round_trips(audience: list[str], spiffe_id: str) -> None:
    assert decode_request(encode_request(audience, spiffe_id)) == (audience, spiffe_id)


@given(st.lists(st.builds(JwtSvid, text, text), max_size=4))
def test_a_response_round_trips(svids: list[JwtSvid]) -> None:
    decoded = decode_response(encode_response(svids))
    assert [(s.spiffe_id, s.token) for s in decoded] == [(s.spiffe_id, s.token) for s in svids]


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    """A newer agent adds fields (JWTSVID.hint = 3, anything else): they are framed and
    left out, in the response and in each JWT-SVID."""
    svid = (
        encode_fields([(1, "spiffe://example.org/ci"), (2, "h.p.s"), (3, "a hint")])
        + encode_varint(4 << 3 | 0)
        + encode_varint(2**40)  # an unknown varint
        + encode_varint(5 << 3 | 1)
        + b"8 bytes!"  # an unknown fixed64
        + encode_varint(6 << 3 | 5)
        + b"4byt"  # an unknown fixed32
    )
    answer = encode_fields([(2, b"\x08\x01"), (1, svid), (9, "later")])
    (decoded,) = decode_response(answer)
    assert (decoded.spiffe_id, decoded.token) == ("spiffe://example.org/ci", "h.p.s")


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x05abc",  # a length beyond the end
        b"\x0a",  # a key without its value
        b"\x80",  # a truncated varint
        b"\xff" * 11,  # a varint of more than 64 bits
        b"\x0b",  # wire type 3 (a group)
        b"\x02\x00",  # field number 0
    ],
)
def test_bytes_that_do_not_frame_are_a_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        decode_fields(data)


def test_a_string_that_is_not_utf8_is_a_wire_error() -> None:
    with pytest.raises(WireError, match="UTF-8"):
        decode_request(b"\x0a\x01\xff")

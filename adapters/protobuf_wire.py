"""The protobuf wire format, as much of it as the SPIFFE Workload API's JWT messages need.

A message is a sequence of fields, each a key (``field_number << 3 | wire_type``, a
varint) and a value: a varint (type 0), 8 bytes (1), a length-delimited run (2: strings,
bytes, nested messages) or 4 bytes (5). Decoding keeps every field it can frame and
leaves the choice to the caller, so fields a newer peer adds are skipped, as protobuf
requires. Hand-written (a few dozen lines) so that no code generation or protobuf
runtime is needed.
"""

from __future__ import annotations

from collections.abc import Iterable

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_FIXED = {FIXED64: 8, FIXED32: 4}
_MAX_VARINT_BYTES = 10  # a 64-bit value


class WireError(ValueError):
    """Bytes that are not a protobuf message (truncated, or an unsupported wire type)."""


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("only unsigned varints are encoded here")
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def decode_varint(data: bytes, at: int) -> tuple[int, int]:
    """The varint at ``at`` and the offset after it."""
    value = 0
    for shift in range(_MAX_VARINT_BYTES):
        if at >= len(data):
            raise WireError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            return value, at
    raise WireError("varint longer than 10 bytes")


def encode_fields(fields: Iterable[tuple[int, str | bytes]]) -> bytes:
    """A message of length-delimited fields (strings as UTF-8), in the order given."""
    out = bytearray()
    for number, value in fields:
        raw = value.encode() if isinstance(value, str) else value
        out += encode_varint(number << 3 | LENGTH_DELIMITED)
        out += encode_varint(len(raw))
        out += raw
    return bytes(out)


def decode_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """Every field of a message: (number, value), a varint's value as an int, every
    other wire type's as bytes. Raises WireError for bytes that do not frame."""
    fields: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = decode_varint(data, at)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value: int | bytes
        if wire_type == VARINT:
            value, at = decode_varint(data, at)
        elif wire_type == LENGTH_DELIMITED:
            size, at = decode_varint(data, at)
            value, at = _take(data, at, size)
        elif wire_type in _FIXED:
            value, at = _take(data, at, _FIXED[wire_type])
        else:  # groups (3, 4) are long deprecated; 6 and 7 do not exist
            raise WireError(f"unsupported wire type {wire_type}")
        fields.append((number, value))
    return fields


def _take(data: bytes, at: int, size: int) -> tuple[bytes, int]:
    end = at + size
    if end > len(data):
        raise WireError("truncated field")
    return data[at:end], end


def strings(fields: list[tuple[int, int | bytes]], number: int) -> list[str]:
    """The values of a (repeated) string field, in order."""
    try:
        return [value.decode() for n, value in fields if n == number and isinstance(value, bytes)]
    except UnicodeDecodeError as exc:
        raise WireError(f"field {number} is not UTF-8") from exc


def messages(fields: list[tuple[int, int | bytes]], number: int) -> list[bytes]:
    """The encoded values of a (repeated) message field, in order."""
    return [value for n, value in fields if n == number and isinstance(value, bytes)]

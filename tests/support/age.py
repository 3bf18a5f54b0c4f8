"""age files with a passphrase (scrypt) at a work factor a test can afford.

pyrage writes Codex's work factor, 2^19: about a second and a half of CPU to write, the
same again for every cold read. ``encrypt`` writes the same format (age v1, one scrypt
stanza, https://age-encryption.org/v1) at 2^10, which pyrage, and Codex's rage, read
as any other age file; a test that is not about the cost of the KDF puts it in place of
``pyrage.passphrase.encrypt`` (monkeypatch): the store's own code runs, with a cheaper
key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WORK_FACTOR = 10  # log2 of scrypt's N; Codex's is 19
CHUNK = 64 * 1024


def encrypt(plaintext: bytes, passphrase: str, work_factor: int = WORK_FACTOR) -> bytes:
    """``pyrage.passphrase.encrypt(plaintext, passphrase)`` at 2^``work_factor``."""
    file_key, salt = os.urandom(16), os.urandom(16)
    wrapping = hashlib.scrypt(
        passphrase.encode(),
        salt=b"age-encryption.org/v1/scrypt" + salt,
        n=2**work_factor,
        r=8,
        p=1,
        maxmem=2**26,
        dklen=32,
    )
    body = ChaCha20Poly1305(wrapping).encrypt(bytes(12), file_key, None)
    header = (
        f"age-encryption.org/v1\n-> scrypt {_b64(salt)} {work_factor}\n{_b64(body)}\n---"
    ).encode()
    mac = hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()
    nonce = os.urandom(16)
    return (
        header
        + f" {_b64(mac)}\n".encode()
        + nonce
        + _stream(_hkdf(file_key, nonce, b"payload"), plaintext)
    )


def _stream(key: bytes, plaintext: bytes) -> bytes:
    """age's STREAM: 64 KiB chunks, each nonce a counter and a last-chunk flag."""
    chunks = [plaintext[at : at + CHUNK] for at in range(0, len(plaintext), CHUNK)] or [b""]
    aead = ChaCha20Poly1305(key)
    return b"".join(
        aead.encrypt(
            n.to_bytes(11, "big") + (b"\x01" if n == len(chunks) - 1 else b"\x00"), chunk, None
        )
        for n, chunk in enumerate(chunks)
    )


def _hkdf(secret: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")

"""What a read costs in each keyring layout, against the file store, in one run.

    python bench/encrypted_store.py [--rounds 3]

Starts its own Secret Service (gnome-keyring-daemon on a private D-Bus, as the tests
do). In-process: ``load()`` of the file store (the baseline), of the direct keyring
layout (one D-Bus lookup), and of the encrypted layout cold (the file's identity
changed: a scrypt decrypt at the work factor age picks) and cached (same identity:
no decrypt). Whole commands: ``codex-login token`` with a fresh token, per layout —
a new process decrypts once, so this is what a cold ``token`` costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from timing import Call, fresh_document, measure

from codex_login.adapters import auth_json
from codex_login.adapters.encrypted_store import EncryptedCredentialStore
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.keyring_store import KeyringCredentialStore
from codex_login.adapters.secret_service import CodexSecretService
from codex_login.domain.ports import CredentialStore
from support.cli import CLI, clean_env
from support.secret_service import running_secret_service


def stores(root: Path) -> dict[str, CredentialStore]:
    record = auth_json.decode(fresh_document(), "bench").record
    made: dict[str, CredentialStore] = {
        "file": FileCredentialStore(root / "file"),
        "keyring": KeyringCredentialStore(root / "keyring", backend=CodexSecretService()),
        "encrypted": EncryptedCredentialStore(root / "encrypted", backend=CodexSecretService()),
    }
    for store in made.values():
        store.save(record)
    return made


def load(store: CredentialStore, touch: Path | None = None) -> Call:
    async def call() -> object:
        if touch is not None:
            os.utime(touch)  # a new identity: the cache misses, as in a new process
        return store.load()

    return call


def token(home: Path, kind: str, address: str) -> Call:
    env = clean_env(home, CODEX_LOGIN_STORE=kind, DBUS_SESSION_BUS_ADDRESS=address)

    async def call() -> object:
        return subprocess.run([str(CLI), "token"], env=env, capture_output=True, check=True)

    return call


def run(rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as root, running_secret_service(Path(root) / "ss") as ss:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = ss.address  # this process only, till exit
        made = stores(Path(root))
        encrypted = made["encrypted"]
        sealed = Path(root) / "encrypted" / "secrets" / "codex_auth.age"
        (Path(root) / "encrypted" / "config.toml").write_text(
            "[features]\nsecret_auth_storage = true\n"
        )
        cases = {
            "load: file store (baseline)": load(made["file"]),
            "load: keyring, direct layout": load(made["keyring"]),
            "load: keyring, encrypted, cold": load(encrypted, touch=sealed),
            "load: keyring, encrypted, cached": load(encrypted),
            "codex-login token: file store": token(Path(root) / "file", "file", ss.address),
            "codex-login token: keyring, direct": token(
                Path(root) / "keyring", "keyring", ss.address
            ),
            "codex-login token: keyring, encrypted": token(
                Path(root) / "encrypted", "keyring", ss.address
            ),
        }
        return asyncio.run(measure(cases, calls=1, rounds=rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = run(args.rounds)
    width = max(map(len, results))
    print(f"{'case':<{width}}  median")
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds * 1000:9.1f} ms")


if __name__ == "__main__":
    main()

"""Run the oidc-provider test issuer (tests/interop/peers/issuer/server.mjs) as a real peer.

    reason = issuer_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with OidcIssuer(claims={"chatgpt_plan_type": "plus"}) as issuer:
        ...  # issuer.issuer, issuer.token_url, issuer.events("grant.success")

By default the server answers at OpenAI's paths (`/oauth/authorize`, `/oauth/token`, ...);
`OidcIssuer(default_routes=True)` keeps oidc-provider's own routes (`/auth`, `/token`,
`/token/revocation`, `/device/auth`), which a client finds only through the metadata.

The server prints one JSON line per provider event; a background thread collects them.
An event is printed before the HTTP answer is sent, but may be read here a little after
the client got its answer: wait for events with `wait_for_event`, never with sleeps.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

ISSUER_DIR = Path(__file__).resolve().parent / "issuer"
DEFAULT_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"

Event = dict[str, Any]

# Route paths by name: server.mjs's OpenAI-shaped ones, and oidc-provider's defaults
# (its lib/helpers/defaults.js `routes`), which its discovery document lists.
OPENAI_ROUTES = {
    "authorization": "/oauth/authorize",
    "token": "/oauth/token",
    "revocation": "/oauth/revoke",
    "device_authorization": "/oauth/device/code",
    "code_verification": "/device",
}
OIDC_PROVIDER_ROUTES = {
    "authorization": "/auth",
    "token": "/token",
    "revocation": "/token/revocation",
    "device_authorization": "/device/auth",
    "code_verification": "/device",
}


def issuer_unavailable_reason() -> str | None:
    """Why the issuer cannot run here (the caller skips with it), or None."""
    if shutil.which("node") is None:
        return "node is not installed (the oidc-provider test issuer needs it)"
    if not (ISSUER_DIR / "node_modules" / "oidc-provider").is_dir():
        return f"oidc-provider is not installed in {ISSUER_DIR}: run .ci/install-issuer.sh"
    return None


class OidcIssuer:
    """One `node server.mjs` process, started by `start()` or `with`."""

    def __init__(
        self,
        *,
        claims: Mapping[str, object] | None = None,
        users: Mapping[str, Mapping[str, object]] | None = None,
        access_token_ttl: int | None = None,
        token_exchange_fails: bool = False,
        device_interval: int | None = None,
        device_code_ttl: int | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        default_routes: bool = False,
        port: int = 0,
        ready_timeout: float = 20.0,
    ) -> None:
        self.client_id = client_id
        self.default_routes = default_routes
        self.routes: Mapping[str, str] = OIDC_PROVIDER_ROUTES if default_routes else OPENAI_ROUTES
        self._env = {"PORT": str(port), "CLIENT_ID": client_id, "EXIT_ON_STDIN_EOF": "1"}
        if default_routes:
            self._env["DEFAULT_ROUTES"] = "1"
        if claims is not None:
            self._env["CLAIMS_JSON"] = json.dumps(dict(claims))
        if users is not None:  # claims per login name typed at sign-in
            self._env["USERS_JSON"] = json.dumps({name: dict(c) for name, c in users.items()})
        if access_token_ttl is not None:
            self._env["ACCESS_TOKEN_TTL"] = str(access_token_ttl)
        if token_exchange_fails:
            self._env["TOKEN_EXCHANGE"] = "fail"
        if device_interval is not None:  # else the device code answer has no `interval`
            self._env["DEVICE_INTERVAL"] = str(device_interval)
        if device_code_ttl is not None:
            self._env["DEVICE_CODE_TTL"] = str(device_code_ttl)
        self._ready_timeout = ready_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._condition = threading.Condition()
        self._events: list[Event] = []
        self._issuer: str | None = None
        self._stdout_closed = False

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> OidcIssuer:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=ISSUER_DIR,
            env={**os.environ, **self._env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        with self._condition:
            ready = self._condition.wait_for(
                lambda: self._issuer is not None or self._stdout_closed, self._ready_timeout
            )
        if not ready or self._issuer is None:
            stderr = self.stderr()
            self.stop()
            raise RuntimeError(
                f"the oidc-provider issuer did not become ready within {self._ready_timeout}s;"
                f" its stderr:\n{stderr}"
            )
        return self

    def stop(self) -> None:
        """Terminate the server (by its PID) and wait for it; safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> OidcIssuer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where it is -------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """`http://127.0.0.1:PORT`, the issuer identifier (and the `iss` it sends)."""
        if self._issuer is None:
            raise RuntimeError("the issuer is not started")
        return self._issuer

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}{self.routes['authorization']}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}{self.routes['token']}"

    @property
    def revoke_url(self) -> str:
        return f"{self.issuer}{self.routes['revocation']}"

    @property
    def device_authorization_url(self) -> str:
        return f"{self.issuer}{self.routes['device_authorization']}"

    @property
    def verification_url(self) -> str:
        """The device flow's user-code page (the same path in both modes)."""
        return f"{self.issuer}{self.routes['code_verification']}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stderr(self) -> str:
        """What the server printed on stderr so far (warnings, crashes)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    # -- events ------------------------------------------------------------------

    def events(self, kind: str | None = None) -> list[Event]:
        """A copy of the events read so far, in order; only those of `kind` if given."""
        with self._condition:
            return [e for e in self._events if kind is None or e.get("event") == kind]

    def wait_for_event(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        """The first event (already read or still to come) that matches `predicate`."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for event in self._events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._stdout_closed:
                    break
                self._condition.wait(left)
            seen = [e.get("event") for e in self._events]
        raise TimeoutError(f"no matching issuer event within {timeout}s; seen: {seen}")

    def wait_for_count(
        self, predicate: Callable[[Event], bool], count: int, timeout: float = 10.0
    ) -> list[Event]:
        """Wait until at least `count` events match; return all that match."""
        with self._condition:
            done = self._condition.wait_for(
                lambda: sum(map(predicate, self._events)) >= count or self._stdout_closed,
                timeout,
            )
            matching = [e for e in self._events if predicate(e)]
        if not done or len(matching) < count:
            raise TimeoutError(f"{len(matching)} of {count} matching issuer events")
        return matching

    def _read_stdout(self) -> None:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        for line in process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"event": "stdout", "line": line.rstrip("\n")}
            with self._condition:
                if event.get("event") == "ready" and self._issuer is None:
                    self._issuer = str(event["issuer"])
                else:
                    self._events.append(event)
                self._condition.notify_all()
        with self._condition:
            self._stdout_closed = True
            self._condition.notify_all()

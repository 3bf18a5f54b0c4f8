"""The fake issuer's state and its decisions, without HTTP: codes, grants, devices, failures.

Every answer is decided here as a ``Reply`` (or, for the authorization, the URL the
browser is sent back to); ``app`` only carries requests in and replies out.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urlsplit

import attrs

from codex_login.domain.claims import AUTH_CLAIM, parse_id_token
from codex_login.domain.errors import InvalidJwt
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.domain.jwt import decode_payload
from codex_login.domain.login import login_record as record_of_login
from codex_login.domain.login import tokens_from_grant
from codex_login.domain.tokens import Provenance, TokenGrant
from codex_login.testing.issuer.values import (
    GRANT_ENDPOINTS,
    Device,
    Failure,
    Grant,
    IssuedAccess,
    Recorded,
    Reply,
    WorkloadRule,
    error,
    s256,
)
from codex_login.testing.tokens import access_token, id_token

# Where whoami lives under the issuer: {url}/api/accounts/v1/user-auth-credential/whoami.
AUTHAPI_PATH = "/api/accounts"

if TYPE_CHECKING:
    from codex_login.domain.ports import Clock
    from codex_login.domain.record import CredentialRecord


class IssuerState:
    """What the issuer knows and decides; ``FakeIssuer`` documents the attributes."""

    def __init__(
        self,
        *,
        plan: str = "pro",
        access_ttl: timedelta = timedelta(hours=1),
        clock: Clock | None = None,
        sign_in_page: bool = False,
    ) -> None:
        self.url = ""
        self.plan = plan
        self.sign_in_page = sign_in_page
        self.claims: dict[str, Any] = {}
        self.access_ttl = access_ttl
        self.clock = clock
        self.api_key = "sk-proj-exchanged-0123456789"
        self.authorize_error: str | None = None
        self.sends_iss = True
        self.metadata: dict[str, Any] = {}
        self.device_interval = 0.05
        self.approve_devices = False  # True: every device code is approved as it is issued
        self.device_slow_downs = 0
        self.failures: dict[str, Failure] = {}
        self.gates: dict[str, threading.Event] = {}
        self.gate_timeout = 60.0
        self.exchange_delay = 0.0
        self.requests: list[Recorded] = []
        self.devices: dict[str, Device] = {}  # by user code
        # Federation rules by id: what a workload-identity exchange is checked against.
        self.workload_rules: dict[str, WorkloadRule] = {}
        # Access tokens (at-…) whoami knows -> its answer for each (add_access_token).
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, str | None]] = {}
        self._grants: dict[str, Grant] = {}  # every refresh token ever issued -> its grant
        # every access token handed out with a grant's refresh token -> (grant, account, expiry)
        self._access: dict[str, tuple[Grant, str | None, datetime]] = {}
        self._serials = itertools.count(1)
        self._lock = threading.Lock()

    # -- what tests look at ----------------------------------------------------------

    def posts(self, grant_type: str) -> list[Recorded]:
        """The token requests with this ``grant_type`` (``"refresh_token"``...)."""
        return [r for r in self.requests if r.grant_type == grant_type]

    def requests_to(self, path: str) -> list[Recorded]:
        """The requests to ``path`` (``"/oauth/revoke"``...)."""
        return [r for r in self.requests if r.path == path]

    def issued_access(self, token: str) -> IssuedAccess | None:
        """What this issuer knows of ``token``, an access token; None if it never issued it.

        A resource server linked to this issuer (``FakeBackend``) decides with it.
        """
        with self._lock:
            found = self._access.get(token)
            if found is None:
                return None
            grant, account_id, expires_at = found
            if grant.revoked:
                standing: Literal["current", "superseded", "revoked"] = "revoked"
            elif grant.access_token == token:
                standing = "current"
            else:
                standing = "superseded"
        return IssuedAccess(account_id, expires_at, standing)

    def now(self) -> datetime:
        """The issuer's time: ``clock``'s, else the system's (what expiry is measured on)."""
        return self._now()

    def refresh_token_works(self, token: str) -> bool:
        """Whether a refresh with ``token`` would succeed now (it is its grant's newest)."""
        with self._lock:
            grant = self._grants.get(token)
            return grant is not None and not grant.revoked and grant.refresh_tokens[-1] == token

    # -- logins without a browser --------------------------------------------------------

    def new_refresh_token(self) -> str:
        """The refresh token of a new grant, as if a login had just happened."""
        token = f"rt-{next(self._serials)}"
        with self._lock:
            self._grants[token] = Grant([token], claims=dict(self.claims))
        return token

    def issue_tokens(self, refresh_token: str, *, now: datetime | None = None) -> dict[str, str]:
        """The ID, access and refresh tokens this issuer answers with, for ``refresh_token``.

        The ID token names this issuer (``iss``) and carries ``plan`` (the plan may
        change between refreshes) and the claims of the grant's login (who signed in
        does not: ``claims`` as it was then; for a token of no grant, as it is now);
        the access token is issued ``now`` (default: the issuer's clock) and expires
        ``access_ttl`` later.
        """
        now = now or self._now()
        with self._lock:
            grant = self._grants.get(refresh_token)
        claims = self.claims if grant is None else grant.claims
        tokens = {
            "id_token": id_token(plan=self.plan, issuer=self.url or None, **claims),
            "access_token": access_token(
                now + self.access_ttl, issued_at=now, jti=f"at-{next(self._serials)}"
            ),
            "refresh_token": refresh_token,
        }
        self._remember_access(tokens, now + self.access_ttl)
        return tokens

    def _remember_access(self, tokens: dict[str, str], expires_at: datetime) -> None:
        """The new access token becomes its grant's current one (if the grant is known)."""
        account_id = parse_id_token(tokens["id_token"]).account_id
        with self._lock:
            grant = self._grants.get(tokens["refresh_token"])
            if grant is None:
                return
            grant.access_token = tokens["access_token"]
            self._access[tokens["access_token"]] = (grant, account_id, expires_at)

    def login_record(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        api_key: str | None = None,
        age: timedelta = timedelta(0),
    ) -> CredentialRecord:
        """The record a ChatGPT login at this issuer stores, for a new grant.

        The tokens are the ones a code exchange hands out (``issue_tokens`` of
        ``new_refresh_token()``, so refreshing and revoking them work), made into
        a record by the same code a real login uses, with ``tokens.oauth_provenance``
        naming this issuer and ``client_id``. Save it in a store to start a test
        logged in without a browser. ``age`` dates the login that long ago (its
        ``last_refresh`` and the access token's ``iat``): a forced refresh of tokens
        issued seconds ago answers them without asking the issuer.
        """
        if not self.url:
            raise RuntimeError("the issuer is not running: use running_issuer() first")
        issued = self._now() - age
        grant = TokenGrant(**self.issue_tokens(self.new_refresh_token(), now=issued))
        tokens = attrs.evolve(tokens_from_grant(grant), provenance=Provenance(self.url, client_id))
        return record_of_login(tokens, api_key, issued, None)

    def approve_device(self, user_code: str) -> None:
        """The user enters ``user_code`` on another device and approves."""
        self.devices[user_code].state = "approved"

    def deny_device(self, user_code: str) -> None:
        """The user enters ``user_code`` and declines."""
        self.devices[user_code].state = "denied"

    def expire_device(self, user_code: str) -> None:
        """The device code's time runs out before anyone approves it."""
        self.devices[user_code].state = "expired"

    # -- decisions, one per endpoint -----------------------------------------------------

    def take_failure(self, endpoint: str) -> Failure | None:
        """The endpoint's scripted failure, counted down (and removed at zero)."""
        with self._lock:
            failure = self.failures.get(endpoint)
            if failure is not None and failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    del self.failures[endpoint]
        return failure

    def authorization(self, query: Mapping[str, str]) -> str | Reply:
        """Where the browser goes back to with a code (or the error), or a refusal."""
        redirect_uri = query.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return error(400, "invalid_request", "redirect_uri is missing or not a URL")
        answer = {"state": query["state"]} if "state" in query else {}
        if self.authorize_error is not None:
            answer |= {"error": self.authorize_error, "error_description": "the user declined"}
        elif not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            answer |= {"error": "invalid_request", "error_description": "PKCE S256 is required"}
        else:
            answer["code"] = self._new_code(
                query["code_challenge"], redirect_uri, query.get("client_id")
            )
        if self.sends_iss:
            answer["iss"] = self.url  # RFC 9207
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return f"{redirect_uri}{separator}{urlencode(answer)}"

    def _new_code(self, challenge: str, redirect_uri: str, client_id: str | None) -> str:
        code = f"code-{next(self._serials)}"
        with self._lock:
            self._codes[code] = {
                "challenge": challenge,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
            }
        return code

    def trust_workload(self, rule_id: str, rule: WorkloadRule | None = None) -> WorkloadRule:
        """Accept workload-identity exchanges under ``rule_id`` (a new rule by default)."""
        rule = rule or WorkloadRule()
        self.workload_rules[rule_id] = rule
        return rule

    def workload_identity(self, fields: Mapping[str, Any]) -> Reply:
        """The JWT-bearer grant as OpenAI answers it: the rule, then the identity token."""
        rule = self.workload_rules.get(str(fields.get("federation_rule_id", "")))
        if rule is None:
            return error(400, "invalid_request", "unknown federation_rule_id")
        if not self._accepts(rule, str(fields.get("assertion", ""))):
            return error(401, "invalid_grant", "the identity token is not accepted")
        now = self._now()
        token = access_token(
            now + self.access_ttl,
            issued_at=now,
            jti=f"at-{next(self._serials)}",
            **{
                AUTH_CLAIM: {
                    "chatgpt_user_id": rule.user_id,
                    "chatgpt_account_id": rule.account_id,
                    "chatgpt_account_user_id": rule.account_user_id,
                    "chatgpt_plan_type": rule.plan,
                }
            },
        )
        with self._lock:
            grant = Grant([], access_token=token)
            self._access[token] = (grant, rule.account_id, now + self.access_ttl)
        return Reply(
            200,
            {
                "access_token": token,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": int(self.access_ttl.total_seconds()),
                "scope": "openid profile email",
                "chatgpt_account_id": rule.account_id,
                "chatgpt_account_user_id": rule.account_user_id,
                "user_id": rule.user_id,
                "chatgpt_plan_type": rule.plan,
            },
        )

    def _accepts(self, rule: WorkloadRule, assertion: str) -> bool:
        if assertion in rule.tokens:
            return True
        if rule.subject is None:
            return False
        try:
            claims = decode_payload(assertion)
        except InvalidJwt:
            return False
        expiry = claims.get("exp")
        if isinstance(expiry, int) and expiry <= self._now().timestamp():
            return False
        return claims.get("sub") == rule.subject

    def grant(self, endpoint: str, fields: Mapping[str, Any]) -> Reply:
        """The token endpoint's answer for a grant (``GRANT_ENDPOINTS``' names)."""
        if endpoint == "workload_identity":
            return self.workload_identity(fields)
        if endpoint == "code":
            return self.exchange_code(fields)
        if endpoint == "api_key":
            return Reply(200, {"access_token": self.api_key, "issued_token_type": "openai-api-key"})
        if endpoint == "refresh":
            return self.refresh(str(fields.get("refresh_token", "")))
        return self.device_grant(str(fields.get("device_code", "")))

    def exchange_code(self, fields: Mapping[str, Any]) -> Reply:
        with self._lock:
            pending = self._codes.pop(str(fields.get("code", "")), None)  # single use
        if pending is None or pending["redirect_uri"] != fields.get("redirect_uri"):
            return error(400, "invalid_grant", "unknown code or redirect_uri")
        client = pending["client_id"]
        if client is not None and client != fields.get("client_id"):
            return error(400, "invalid_grant", "the code was issued to another client")
        if s256(str(fields.get("code_verifier", ""))) != pending["challenge"]:
            return error(400, "invalid_grant", "code_verifier does not match")
        return self.token_answer(self.new_refresh_token())

    def refresh(self, token: str) -> Reply:
        with self._lock:
            grant = self._grants.get(token)
            if grant is None or grant.revoked:
                return error(401, "refresh_token_invalidated", "unknown or revoked")
            if grant.refresh_tokens[-1] != token:
                grant.revoked = True  # reuse: the whole grant dies
                return error(401, "refresh_token_reused", "already used")
            new = f"rt-{next(self._serials)}"
            grant.refresh_tokens.append(new)
            self._grants[new] = grant
        return self.token_answer(new)

    def token_answer(self, refresh_token: str) -> Reply:
        answer: dict[str, Any] = {
            **self.issue_tokens(refresh_token),
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl.total_seconds()),
        }
        return Reply(200, answer)

    def revoke(self, token: str) -> Reply:
        with self._lock:
            grant = self._grants.get(token)
            if grant is not None:
                grant.revoked = True
        return Reply(200, {})  # RFC 7009: unknown tokens are "revoked" too

    def metadata_document(self) -> dict[str, Any]:
        document = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth/authorize",
            "token_endpoint": f"{self.url}/oauth/token",
            "revocation_endpoint": f"{self.url}/oauth/revoke",
            "device_authorization_endpoint": f"{self.url}/oauth/device/code",
            "response_types_supported": ["code"],
            "grant_types_supported": [*GRANT_ENDPOINTS],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            **self.metadata,
        }
        return {k: v for k, v in document.items() if v is not None}

    # -- access tokens: whoami ----------------------------------------------------------------

    @property
    def authapi_base_url(self) -> str:
        """What CODEX_AUTHAPI_BASE_URL is set to for this issuer's whoami."""
        return f"{self.url}{AUTHAPI_PATH}"

    def add_access_token(
        self,
        token: str | None = None,
        *,
        email: str | None = "user@example.com",
        account_id: str = "workspace-1",
        user_id: str = "user-1",
        plan: str = "enterprise",
        fedramp: bool = False,
    ) -> str:
        """An access token whoami answers for (a new ``at-…`` one unless ``token``)."""
        token = token or f"at-test-{next(self._serials)}-0123456789abcdef"
        self.access_tokens[token] = {
            "email": email,
            "chatgpt_user_id": user_id,
            "chatgpt_account_id": account_id,
            "chatgpt_plan_type": plan,
            "chatgpt_account_is_fedramp": fedramp,
        }
        return token

    def whoami(self, authorization: str) -> Reply:
        """Whoami's answer for ``Authorization: Bearer <token>``; 401 for any other."""
        scheme, _, token = authorization.partition(" ")
        answer = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if answer is None:
            return error(401, "invalid_token", "unknown access token")
        return Reply(200, dict(answer))

    # -- device login: RFC 8628 and the OpenAI issuer's own endpoints ------------------------

    def new_device(self) -> Device:
        serial = next(self._serials)
        device = Device(device_code=f"dc-{serial}", user_code=f"CODE-{serial}")
        if self.approve_devices:
            device.state = "approved"
        self.devices[device.user_code] = device
        return device

    def device_grant(self, device_code: str) -> Reply:
        device = next((d for d in self.devices.values() if d.device_code == device_code), None)
        if device is None:
            return error(400, "invalid_grant", "unknown device code")
        if self.device_slow_downs > 0:
            self.device_slow_downs -= 1
            return error(400, "slow_down")
        if device.state != "approved":
            errors = {"denied": "access_denied", "expired": "expired_token"}
            return error(400, errors.get(device.state, "authorization_pending"))
        device.state = "used"
        return self.token_answer(self.new_refresh_token())

    def openai_device_token(self, fields: Mapping[str, Any]) -> Reply:
        device = self.devices.get(str(fields.get("user_code", "")))
        if device is None or device.device_code != fields.get("device_auth_id"):
            return error(404, "not_found")
        if device.state != "approved":
            return error(403, "deviceauth_authorization_pending")
        device.state = "used"
        # The OpenAI issuer hands the client a code and its verifier to exchange.
        verifier = f"verifier-{device.device_code}"
        code = self._new_code(s256(verifier), f"{self.url}/deviceauth/callback", None)
        return Reply(
            200,
            {
                "authorization_code": code,
                "code_challenge": s256(verifier),
                "code_verifier": verifier,
            },
        )

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

"""The options of one login, resolved once: the value the service, its auth manager and
``status`` share instead of each spelling the same keywords.

It lives in application/, not domain/: its parts are domain values, but which of them a
façade is built with (an environment key, a network timeout) is the application's
configuration, and the composition root (``bootstrap()``) is its one author.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from codex_login.domain.choice import choose_credential
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import IssuerConfig
from codex_login.domain.login_policy import LoginPolicy
from codex_login.domain.model_api import ModelApiSettings
from codex_login.domain.modes import AuthMode
from codex_login.domain.refresh_policy import RefreshPolicy

if TYPE_CHECKING:
    from codex_login.domain.choice import Choice
    from codex_login.domain.record import CredentialRecord
    from codex_login.domain.workload_identity import WorkloadIdentity


@attrs.frozen(kw_only=True, repr=False)
class AuthOptions(FieldsRepr):
    """Which issuer, which keys from the environment, which rules; secrets never shown."""

    issuer: IssuerConfig = attrs.Factory(IssuerConfig)
    # OPENAI_API_KEY: used only when nothing is stored.
    env_api_key: str | None = attrs.field(default=None, repr=False)
    # CODEX_API_KEY: handed out before any stored credential (the Codex CLI's exec does so).
    override_api_key: str | None = attrs.field(default=None, repr=False)
    # CODEX_ACCESS_TOKEN: an access token handed out before any stored credential (Codex).
    access_token: str | None = attrs.field(default=None, repr=False)
    preferred: AuthMode = AuthMode.CHATGPT
    policy: RefreshPolicy = attrs.Factory(RefreshPolicy)
    # Which login methods and workspaces are allowed (config.toml, requirements.toml).
    login_policy: LoginPolicy = attrs.Factory(LoginPolicy)
    refresh_timeout: float = 60.0
    # Where model requests go and what they carry besides the token (config.toml, env).
    model_api: ModelApiSettings = attrs.Factory(ModelApiSettings)
    # OPENAI_FEDERATION_RULE_ID + OPENAI_IDENTITY_TOKEN_FILE: used instead of any other
    # credential, CODEX_API_KEY included (the Codex CLI 0.171, measured).
    workload_identity: WorkloadIdentity | None = None

    def without_environment_keys(self) -> AuthOptions:
        """These options for one stored login: no environment key stands in for it."""
        return attrs.evolve(
            self, env_api_key=None, override_api_key=None, workload_identity=None, access_token=None
        )

    @property
    def uses_workload_identity(self) -> bool:
        """Whether tokens come from a workload-identity exchange, not from the store."""
        return self.workload_identity is not None

    def choose(self, record: CredentialRecord | None, *, location: str) -> Choice:
        """The credential to hand out (``choose_credential``) given the stored ``record``."""
        return choose_credential(
            override=self.override_api_key,
            record=record,
            env_key=self.env_api_key,
            preferred=self.preferred,
            policy=self.login_policy,
            location=location,
            access_token=self.access_token,
        )

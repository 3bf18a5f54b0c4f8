"""A fake OAuth issuer: a real HTTP server on 127.0.0.1 (any free port), for tests.

It speaks both dialects codex-login knows, at once:

- the OpenAI issuer's (profile ``openai``): ``/oauth/authorize``, ``/oauth/token``
  taking JSON (refresh) or forms, ``/oauth/revoke``, and the device login at
  ``/api/accounts/deviceauth/usercode`` and ``/api/accounts/deviceauth/token``;
- a standard OAuth server's (profile ``standard``, what codex-login uses for any
  issuer but auth.openai.com): the same endpoints found through
  ``/.well-known/openid-configuration``, plus RFC 8628's ``/oauth/device/code``.

Like a real issuer it checks PKCE (S256) and the redirect URI on the code
exchange, hands out single-use codes and single-use refresh tokens (reusing a
spent refresh token revokes the whole grant, as oidc-provider and the OpenAI
issuer do), exchanges an ID token for an API key, and revokes (RFC 7009). It also
exchanges a workload's identity token (the JWT-bearer grant of OpenAI's workload
identity) under the federation rules a test declares with ``trust_workload``.
``GET /oauth/authorize`` plays a user who approves at once: it redirects to the
client's callback with a code. ``approve(url)`` plays the browser that follows it.
With ``sign_in_page=True`` it shows a person a one-click page instead ("Sign in as
user@example.com", a form that posts back to ``/oauth/authorize``), and only that
click redirects; ``approve(url)`` then submits the form as a browser would.

Tests script it through attributes (``failures``, ``gates``, ``plan``...) and read
``requests``, the record of every request received::

    from codex_login import CodexAuth
    from codex_login.stores import MemoryCredentialStore
    from codex_login.testing.issuer import FakeIssuer, running_issuer

    # The fake stands in for OpenAI's issuer; any issuer but auth.openai.com needs
    # its client id named (a mix-up defence), here OpenAI's.
    with running_issuer(FakeIssuer()) as issuer:
        store = MemoryCredentialStore()
        client = "app_EMoamEEZ73f0CkXaXp7hrann"
        with CodexAuth(store=store, issuer=issuer.url, client_id=client, environ={}) as auth:
            auth.login_in_browser(
                announce=issuer.approve_in_background, open_browser=False, port=0
            )
            assert auth.get_token() == store.saved[-1].tokens.access_token
        assert len(issuer.posts("authorization_code")) == 1

One module per job: ``values`` (what it records and replies), ``state`` (codes,
grants, devices and every decision, without HTTP), ``app`` (the aiohttp routes),
``browser`` (the fake browser behind ``approve``), ``server`` (``running_issuer``)
and ``fake`` (``FakeIssuer``, which puts them together).
"""

from __future__ import annotations

from codex_login.testing.issuer.fake import FakeIssuer
from codex_login.testing.issuer.server import running_issuer
from codex_login.testing.issuer.values import (
    ENDPOINTS,
    Device,
    Failure,
    Recorded,
    Visit,
    WorkloadRule,
)

__all__ = [
    "ENDPOINTS",
    "Device",
    "Failure",
    "FakeIssuer",
    "Recorded",
    "Visit",
    "WorkloadRule",
    "running_issuer",
]

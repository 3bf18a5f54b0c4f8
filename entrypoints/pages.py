"""The pages the callback server shows in the browser.

One template for every page: self-contained (no external assets, no JavaScript; the
org-setup redirect is a ``<meta http-equiv="refresh">``), readable at 360 px wide, dark
when the system is (``prefers-color-scheme``). Each page says first, in a sentence,
what happened and what to do; details such as the issuer's error code come second.
Everything a page echoes is HTML-escaped here, and no page shows a secret: the only
token on any page is the ID token in the org-setup address the platform needs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from html import escape

from codex_login.domain.errors import (
    AuthorizationDenied,
    CodexLoginError,
    TokenEndpointError,
    TransientTokenError,
)

_STYLE = """
:root { color-scheme: light dark; --fg: #0d0d0d; --muted: #5d5d5d; --bg: #ffffff;
        --panel: #f4f4f4; --line: #dcdcdc; --button: #0d0d0d; --button-fg: #ffffff; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #ececec; --muted: #b4b4b4; --bg: #171717; --panel: #242424; --line: #3a3a3a;
          --button: #ececec; --button-fg: #0d0d0d; }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 36rem; margin: 0 auto; padding: 12vh 1.25rem 2rem; overflow-wrap: anywhere; }
h1 { font-size: 1.75rem; font-weight: 600; line-height: 1.25; margin: 0 0 1rem; }
p { margin: 0 0 1rem; }
.lead { font-size: 1.125rem; }
.next { color: var(--muted); }
.details { margin: 1.5rem 0 0; padding: .75rem 1rem; border: 1px solid var(--line);
           border-radius: 12px; background: var(--panel); }
.details dt { color: var(--muted); font-size: .875rem; }
.details dd { margin: 0 0 .5rem; }
.details dd:last-child { margin-bottom: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .95em; }
.button { display: inline-block; margin-top: .5rem; padding: .625rem 1.25rem;
          border-radius: 999px; background: var(--button); color: var(--button-fg);
          font-weight: 600; text-decoration: none; }
"""

# Only the inline style above may apply: no scripts, no fetches, no forms, no frames.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

_RETRY = "Nothing was saved. To try again, run <code>codex-login login</code> in your terminal."
_CLOSE = "You can close this tab and go back to your terminal."

_OAUTH_ERRORS = {
    "access_denied": "The sign-in was declined, so you are not signed in.",
    "server_error": "The sign-in service ran into a problem and could not sign you in.",
    "temporarily_unavailable": (
        "The sign-in service is busy or down for the moment and could not sign you in."
    ),
    "login_required": "The sign-in service needs you to sign in again in your browser.",
    "consent_required": "The sign-in service needs your consent before it can sign you in.",
    "interaction_required": "The sign-in service needs you to finish signing in in your browser.",
}


def _page(
    *,
    title: str,
    lead: str,
    heading: str | None = None,
    more: str = "",
    details: Sequence[tuple[str, str, bool]] = (),
    head: str = "",
) -> str:
    """The template. ``title``, ``heading``, ``lead`` and ``details`` (label, value, and
    whether the value is a code) are plain text; ``more`` and ``head`` are markup built
    in this module from escaped parts."""
    rows = "".join(
        f"<dt>{escape(label)}</dt><dd>{_code(value) if code else escape(value)}</dd>"
        for label, value, code in details
    )
    listing = f'<dl class="details">{rows}</dl>' if rows else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="referrer" content="no-referrer">'
        '<link rel="icon" href="data:,">'
        f"{head}<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(heading or title)}</h1>"
        f'<p class="lead">{escape(lead)}</p>{more}{listing}</main></body></html>\n'
    )


def success_page(*, email: str | None, setup_url: str | None) -> str:
    """Signed in; an org owner who must finish onboarding is sent on to ``setup_url``."""
    who = f"You are signed in as {email}." if email else "You are signed in."
    if setup_url is None:
        return _page(title="Signed in to Codex", lead=f"{who} {_CLOSE}")
    link = escape(setup_url, quote=True)
    return _page(
        title="Signed in to Codex",
        lead=f"{who} Your API organization needs a few more details before you can use it.",
        more=(
            '<p class="next">Taking you to the OpenAI Platform to finish setting it up…</p>'
            f'<p><a class="button" href="{link}">Finish setting up</a></p>'
        ),
        head=f'<meta http-equiv="refresh" content="3;url={link}">',
    )


def failure_page(error: CodexLoginError) -> str:
    """The login ended without signing in: why, in a sentence, then the issuer's details."""
    details: list[tuple[str, str, bool]] = []
    if isinstance(error, AuthorizationDenied):
        lead = _OAUTH_ERRORS.get(
            error.error, "The sign-in service refused this sign-in, so you are not signed in."
        )
        details.append(("Error code", error.error, True))
        if error.description:
            details.append(("Description", error.description, False))
    else:
        if isinstance(error, TransientTokenError):
            lead = (
                "Codex could not collect your credentials from the sign-in service, "
                "so you are not signed in. This is usually temporary."
            )
        elif isinstance(error, TokenEndpointError):
            lead = (
                "The sign-in service did not hand over your credentials, so you are not signed in."
            )
        else:
            lead = "Codex could not finish signing you in."
        if isinstance(error, TokenEndpointError) and error.error_code:
            details.append(("Error code", error.error_code, True))
        details.append(("Details", _capitalised(str(error)), False))
    return _page(
        title="Sign-in failed", lead=lead, more=f'<p class="next">{_RETRY}</p>', details=details
    )


def notice_page(title: str, message: str, *, retry: bool = False) -> str:
    """A request the server answers without it changing the login (or a cancellation)."""
    more = f'<p class="next">{_RETRY}</p>' if retry else ""
    return _page(title=title, lead=message, more=more)


def not_found_page() -> str:
    return _page(
        title="Page not found",
        lead="There is nothing at this address. It belongs to a Codex sign-in running "
        "in a terminal on this computer, and only that sign-in uses it.",
    )


def method_not_allowed_page() -> str:
    return _page(
        title="Method not allowed",
        lead="This address only answers a browser opening it as a plain link.",
    )


def already_finished_page(*, signed_in: bool) -> str:
    """A second visit to /success, or a callback for a login that has already ended."""
    if signed_in:
        return _page(
            title="Already signed in",
            heading="This sign-in is already finished",
            lead=f"You are signed in to Codex. {_CLOSE}",
        )
    return _page(
        title="Sign-in already ended",
        heading="This sign-in has already ended",
        lead="It ended without signing you in, so this response was not used.",
        more=f'<p class="next">{_RETRY}</p>',
    )


def _code(value: str) -> str:
    return f"<code>{escape(value)}</code>"


def _capitalised(message: str) -> str:
    """``the issuer …`` → ``The issuer …``; a leading code or address stays as it is."""
    if re.match(r"[a-z]+\b(?![_:/.-])", message):
        return message[0].upper() + message[1:]
    return message

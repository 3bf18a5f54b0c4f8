"""The address a browser ended on, pasted instead of reaching our callback server.

A browser on another machine is sent to ``http://localhost:PORT/auth/callback?...``,
which is not our localhost. The user copies that address and pastes it where the
login waits; its query then goes through the same rules as a callback
(``BrowserLogin.callback``). This module only reads a pasted line into that query,
or says in one line why it cannot be one. Messages never quote the line: it holds
the authorization code and the state.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

# What a sign-in response carries; a query with none of them was not one.
RESPONSE_PARAMETERS = ("code", "state", "error")
QUOTES = "\"'<>`"


class NotAResponse(ValueError):
    """The pasted line is not an address the issuer sent the browser to; says why."""


def pasted_params(text: str, redirect_uri: str) -> dict[str, list[str]] | None:
    """The query of a pasted callback address; None for a blank line.

    Takes the whole address (with or without surrounding spaces or quotes) or
    just its query (``code=...&state=...``). Raises NotAResponse otherwise.
    """
    pasted = text.strip().strip(QUOTES).strip()
    if not pasted:
        return None
    expected = urlsplit(redirect_uri).path
    address = urlsplit(pasted)
    if address.scheme:  # a whole address (a bare query's values may hold "://" too)
        if address.path.rstrip("/") != expected:
            raise NotAResponse(
                f"that is not the address of the sign-in callback ({expected}); "
                f"paste the address that starts with {redirect_uri}"
            )
        query = address.query
    else:
        query = pasted.removeprefix("?")
    params = parse_qs(query, keep_blank_values=True)
    if not any(name in params for name in RESPONSE_PARAMETERS):
        raise NotAResponse(
            "it carries no sign-in response (no code, state or error); after signing in, "
            f"paste the whole address the browser ended on, starting with {redirect_uri}"
        )
    return params

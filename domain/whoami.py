"""Whoami's answer: the account an access token acts for (``domain/access_tokens.py``).

Its own module: only a login with an access token asks whoami, so the commands that
read another kind of login do not build this class.
"""

from __future__ import annotations

import attrs

from codex_login.domain.fields_repr import FieldsRepr


@attrs.frozen(repr=False)
class WhoAmI(FieldsRepr):
    """Whoami's answer: the account an access token acts for."""

    account_id: str
    user_id: str
    plan: str
    fedramp: bool = False
    email: str | None = None

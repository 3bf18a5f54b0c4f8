"""Policies: which logins are allowed (``LoginPolicy``, as Codex's requirements.toml),
when tokens are refreshed (``RefreshPolicy``), and ChatGPT plans (``KnownPlan``,
``UnknownPlan``, ``Plan``). Pass them as ``CodexAuth(login_policy=..., policy=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login._lazy import exports

if TYPE_CHECKING:
    from codex_login.domain.login_policy import LoginMethod, LoginPolicy
    from codex_login.domain.plans import KnownPlan, Plan, UnknownPlan
    from codex_login.domain.refresh_policy import RefreshPolicy

_WHERE = {
    "LoginPolicy": "codex_login.domain.login_policy",
    "LoginMethod": "codex_login.domain.login_policy",
    "RefreshPolicy": "codex_login.domain.refresh_policy",
    "KnownPlan": "codex_login.domain.plans",
    "UnknownPlan": "codex_login.domain.plans",
    "Plan": "codex_login.domain.plans",
}

__all__ = [  # noqa: RUF022  (grouped by kind, like the table above)
    "LoginPolicy",
    "LoginMethod",
    "RefreshPolicy",
    "KnownPlan",
    "UnknownPlan",
    "Plan",
]

if not TYPE_CHECKING:  # type checkers see the imports above, and only those
    __getattr__, __dir__ = exports(__name__, _WHERE)

"""ChatGPT plans and the policy that picks API key or ChatGPT tokens."""

from __future__ import annotations

import enum

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import AuthMode


class KnownPlan(enum.Enum):
    FREE = "free"
    PLUS = "plus"
    PRO = "pro"
    TEAM = "team"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"
    EDU = "edu"


@attrs.frozen(repr=False)
class UnknownPlan(FieldsRepr):
    """A plan name this version does not know, kept verbatim."""

    name: str


Plan = KnownPlan | UnknownPlan

# Plans whose users sign in with ChatGPT even when an API key is stored.
CHATGPT_PLANS = frozenset({KnownPlan.FREE, KnownPlan.PLUS, KnownPlan.PRO, KnownPlan.TEAM})


def parse_plan(value: str) -> Plan:
    try:
        return KnownPlan(value)
    except ValueError:
        return UnknownPlan(value)


def plan_name(plan: Plan) -> str:
    return plan.value if isinstance(plan, KnownPlan) else plan.name


def should_use_api_key(preferred: AuthMode, plan: Plan | None) -> bool:
    """The seed's policy: an API key wins unless the plan is a ChatGPT plan.

    A missing or unknown plan means the API key.
    """
    if preferred is AuthMode.API_KEY:
        return True
    return plan not in CHATGPT_PLANS

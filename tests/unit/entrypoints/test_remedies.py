"""Messages say what happened; the edge that knows its user adds what to do, once."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import codex_login.adapters
import codex_login.application
import codex_login.domain
from codex_login.domain.errors import (
    AccountNotFound,
    AmbiguousAccount,
    BrokerUnreachable,
    IssuerMismatch,
    LoginTimedOut,
    MalformedCredentials,
    NotLoggedIn,
    PolicyViolation,
    SessionEnded,
    SigningTokenInEnvironment,
    SignsRequests,
    TokensUnsaved,
    TransientTokenError,
    WorkspaceRefused,
)
from codex_login.entrypoints.cli import refresh, token
from codex_login.entrypoints.remedies import on_the_host, with_remedy

# `codex-login login`, `codex-login serve`... : a command a library's user may not have.
COMMAND = re.compile(
    r"codex-login (login|logout|serve|token|status|accounts|switch|export|import|demo)\b"
)
CORE = [codex_login.domain, codex_login.application, codex_login.adapters]


def strings_said(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module but its docstrings, with its line."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_message_of_the_core_names_a_cli_command() -> None:
    """domain/, application/ and adapters/ serve embedders too: the CLI adds its commands."""
    found = [
        f"{path.name}:{line}: {text}"
        for package in CORE
        for root in package.__path__
        for path in sorted(Path(root).glob("*.py"))
        for line, text in strings_said(path)
        if COMMAND.search(text)
    ]
    assert found == []


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (NotLoggedIn(), "not logged in; run `codex-login login`"),
        (
            SessionEnded("your ChatGPT session has expired (HTTP 401)", status=401),
            "your ChatGPT session has expired (HTTP 401); run `codex-login login` to sign in again",
        ),
        (
            MalformedCredentials("auth.json", "not JSON"),
            "cannot use auth.json: not JSON; fix it or run `codex-login login` to replace it",
        ),
        (
            SignsRequests("agentIdentity", "agent identity"),
            'this login is an agent identity (auth_mode "agentIdentity"), which signs each '
            "request instead of sending a bearer token, so there is no token to hand out; use "
            "it with the Codex CLI, or run `codex-login login` for a login that has one",
        ),
        (
            # It wins over any stored login: logging in again would change nothing.
            SigningTokenInEnvironment("agentIdentity", "agent identity", "CODEX_ACCESS_TOKEN"),
            'CODEX_ACCESS_TOKEN holds an agent identity (auth_mode "agentIdentity"), which signs '
            "each request instead of sending a bearer token, so there is no token to hand out; "
            "use it with the Codex CLI, or unset CODEX_ACCESS_TOKEN to use a stored login",
        ),
        (
            WorkspaceRefused("Login is restricted to workspace id(s) ws-a."),
            "Login is restricted to workspace id(s) ws-a. Log in again with `codex-login login`.",
        ),
        (PolicyViolation("API key login is disabled."), "API key login is disabled."),
        (
            IssuerMismatch(stored="https://a.example", configured="https://b.example"),
            "the stored login was issued by https://a.example, but the configured issuer is "
            "https://b.example; nothing was sent; unset CODEX_LOGIN_ISSUER to use the stored "
            "login, or run `codex-login login --issuer https://b.example` to replace it",
        ),
        (
            AccountNotFound("no account 'carol'; choose one of: alice, bob"),
            "no account 'carol'; choose one of: alice, bob (see `codex-login accounts`)",
        ),
        (AmbiguousAccount("use one of those names"), "use one of those names"),
        (TransientTokenError("no answer"), "no answer"),
    ],
)
def test_the_cli_adds_its_remedy_once(error: Exception, said: str) -> None:
    assert with_remedy(error) == said  # type: ignore[arg-type]
    assert said.count("codex-login") <= 1


def test_a_timed_out_login_is_run_again_the_way_it_was_run() -> None:
    error = LoginTimedOut("the code was not approved within 2 s")
    assert with_remedy(error, login="codex-login login --device-auth") == (
        "the code was not approved within 2 s; run `codex-login login --device-auth` again"
    )


def test_a_login_that_signs_its_requests_keeps_its_mode_wherever_it_comes_from() -> None:
    """Both are an UnsupportedAuthMode, which carries the mode it met."""
    stored = SignsRequests("agentIdentity", "agent identity")
    variable = SigningTokenInEnvironment("agentIdentity", "agent identity", "CODEX_ACCESS_TOKEN")
    assert (stored.mode, variable.mode, variable.variable) == (
        "agentIdentity",
        "agentIdentity",
        "CODEX_ACCESS_TOKEN",
    )


def test_in_a_sandbox_only_the_clients_own_failures_get_a_remedy() -> None:
    relayed = SessionEnded("the broker says: ended; on the host, run `codex-login login`")
    assert with_remedy(relayed, brokered=True) == str(relayed)
    unreachable = BrokerUnreachable("no broker is listening at /s (no such socket)")
    assert with_remedy(unreachable, brokered=True).endswith(
        "; start `codex-login serve` on the host, or fix CODEX_LOGIN_BROKER"
    )


def test_the_broker_says_to_act_on_the_host_once() -> None:
    ended = SessionEnded("your ChatGPT session has expired (HTTP 401)", status=401)
    assert on_the_host(str(ended), ended) == (
        "your ChatGPT session has expired (HTTP 401); on the host, run `codex-login login` "
        "to sign in again"
    )
    refused = PolicyViolation("API key login is disabled. Use ChatGPT login instead.")
    assert on_the_host(str(refused), refused).endswith(
        "instead. On the host, run `codex-login login`."
    )
    assert on_the_host("no answer", TransientTokenError("no answer")) == "no answer"


def test_tokens_only_in_memory_are_lost_with_a_command_and_kept_by_a_broker() -> None:
    """`token` and `refresh` end, and the rotated tokens with them: they say to sign in
    once the store works. The broker lives on and saves them: it adds nothing."""
    unsaved = TokensUnsaved("the issuer sent new tokens but they could not be saved (x)")
    for command in (token, refresh):
        assert with_remedy(unsaved, own=command.REMEDIES) == (
            f"{unsaved}; this command ends here and the new tokens with it: once the store "
            "works, run `codex-login login`"
        )
    assert on_the_host(str(unsaved), unsaved) == str(unsaved)

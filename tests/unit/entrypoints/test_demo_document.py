"""`codex-login demo --json` is a document of the CLI's one converter
(entrypoints/documents.py), with the keys, order and values it had when built by hand."""

from __future__ import annotations

import json

from codex_login.entrypoints.documents import (
    DemoDocument,
    DemoStepDocument,
    LogoutFacts,
    SignInFacts,
    dumps,
)


def test_a_passed_step_lists_its_facts_after_its_outcome_and_no_error() -> None:
    document = DemoDocument(
        ok=True,
        issuer="http://127.0.0.1:8000",
        codex_home="/home/me/demo-home",
        seconds=3.21,
        codex_home_removed=True,
        steps=[
            DemoStepDocument(
                step="sign-in",
                ok=True,
                seconds=0.5,
                facts=SignInFacts(how="http", callback_port=1455, email="d@e.com", plan="plus"),
            ),
            DemoStepDocument(
                step="logout",
                ok=True,
                seconds=0.1,
                facts=LogoutFacts(revoke_requests=1, removed=True, refresh_token_works=False),
            ),
        ],
    )
    text = dumps(document)
    assert text == json.dumps(
        {
            "ok": True,
            "issuer": "http://127.0.0.1:8000",
            "codex_home": "/home/me/demo-home",
            "seconds": 3.21,
            "codex_home_removed": True,
            "steps": [
                {
                    "step": "sign-in",
                    "ok": True,
                    "seconds": 0.5,
                    "how": "http",
                    "callback_port": 1455,
                    "email": "d@e.com",
                    "plan": "plus",
                },
                {
                    "step": "logout",
                    "ok": True,
                    "seconds": 0.1,
                    "revoke_requests": 1,
                    "removed": True,
                    "refresh_token_works": False,
                },
            ],
        },
        indent=2,
    )


def test_a_failed_step_says_its_error_and_a_run_that_never_started_names_no_issuer() -> None:
    failed = DemoStepDocument(step="sign-in", ok=False, seconds=0.02, error="port in use")
    document = DemoDocument(
        ok=False,
        issuer=None,
        codex_home="/home/me/h",
        seconds=0.03,
        codex_home_removed=True,
        steps=[failed],
    )
    assert json.loads(dumps(document)) == {
        "ok": False,
        "issuer": None,
        "codex_home": "/home/me/h",
        "seconds": 0.03,
        "codex_home_removed": True,
        "steps": [{"step": "sign-in", "ok": False, "seconds": 0.02, "error": "port in use"}],
    }

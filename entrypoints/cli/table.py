"""The commands: each one's module, loaded only when it runs, and its one-line summary.

``codex-login --help``, ``help``, completion and the docs read this table; none of
them imports the commands' modules.
"""

from __future__ import annotations


class Command:
    """A command's module and its one-line summary (a plain class: a NamedTuple costs
    about a millisecond and a half of every command's start-up)."""

    __slots__ = ("module", "summary")

    def __init__(self, module: str, summary: str) -> None:
        self.module = module
        self.summary = summary


_PACKAGE = "codex_login.entrypoints.cli."

COMMANDS: dict[str, Command] = {
    "login": Command(_PACKAGE + "login", "sign in with ChatGPT (or an API key)"),
    "status": Command(_PACKAGE + "status", "show how you are logged in"),
    "token": Command(_PACKAGE + "token", "print the bearer token, refreshed when due"),
    "refresh": Command(_PACKAGE + "refresh", "refresh the ChatGPT tokens now, due or not"),
    "export": Command(
        _PACKAGE + "export",
        "write the stored login to stdout (auth.json format), to move it to another store",
    ),
    "import": Command(_PACKAGE + "import_", "store a login read from stdin (auth.json format)"),
    "serve": Command(
        _PACKAGE + "serve", "hand out access tokens to sandboxes over a socket (a token broker)"
    ),
    "logout": Command(_PACKAGE + "logout", "revoke and remove the stored credentials"),
    "accounts": Command(_PACKAGE + "accounts", "list the stored logins, the active one marked"),
    "switch": Command(_PACKAGE + "switch", "make another stored login the active one"),
    "doctor": Command(
        _PACKAGE + "doctor", "check why a login works or not, one line per check (read-only)"
    ),
    "demo": Command(_PACKAGE + "demo", "sign in, refresh and log out against a fake issuer"),
    "completion": Command(_PACKAGE + "completion", "print a shell completion script"),
}

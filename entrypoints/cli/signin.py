"""The sign-in flows ``login`` runs: browser, device code, and an API key on stdin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.printable import printable
from codex_login.entrypoints.cli.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from codex_login.application.service import AuthService
    from codex_login.application.signin import LoginOutcome
    from codex_login.domain.device import DeviceCode
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.settings import Settings

MAX_KEY_BYTES = 64 * 1024
LOGIN_TIMEOUT = 15 * 60.0
PIPE_HINT = "printenv OPENAI_API_KEY | codex-login login --with-api-key"
KEY_PROMPT = "Paste your OpenAI API key (input is hidden): "


@attrs.frozen(repr=False)
class SignIn(FieldsRepr):
    """What the ChatGPT sign-ins need of login's options."""

    no_browser: bool
    port: int | None
    timeout: float
    verbose: bool


def in_browser(service: AuthService, options: SignIn, io: IO, settings: Settings) -> LoginOutcome:
    import asyncio  # noqa: PLC0415  (the HTTP stack loads only for logins)
    import logging  # noqa: PLC0415

    if not options.verbose:
        # aiohttp reports malformed requests with a traceback (and request data) through
        # Python's last-resort handler; the login answers them with a 4xx and goes on.
        logging.getLogger("aiohttp").addHandler(logging.NullHandler())

    from codex_login.adapters.browser import SystemBrowser  # noqa: PLC0415

    stdin = _stdin_for_pastes(options, io)
    browser = SystemBrowser(settings.graphical_display)
    # Without a graphical browser nothing opens: say so as --no-browser does.
    opens = not options.no_browser and browser.graphical()

    def announce(url: str, port: int) -> None:
        io.say(f"Starting local login server on http://localhost:{port}.")
        if opens:
            io.say("If your browser did not open, navigate to this URL to authenticate:")
        else:
            io.say("Open this URL in a browser to sign in:")
        io.say(f"\n{printable(url)}\n")
        io.say(
            "On a remote or headless machine, use `codex-login login --device-auth` instead "
            f"(or forward the port: ssh -L {port}:localhost:{port} HOST)."
        )
        if stdin is not None:
            io.say(
                "If the browser cannot reach this machine, paste the address it ended on "
                f"(it starts with http://localhost:{port}/auth/callback) here and press Enter."
            )

    def refused(reason: str) -> None:
        sentence = f"{reason[:1].upper()}{reason[1:].rstrip('.')}."
        io.say(
            printable(f"That address was not accepted. {sentence} Still waiting for the sign-in.")
        )

    return asyncio.run(
        service.login_in_browser(
            announce=announce,
            open_browser=browser.open if opens else None,
            port=options.port,
            timeout=options.timeout,
            pasted=None if stdin is None else _pasted_lines(stdin),
            refused=refused,
        )
    )


def _stdin_for_pastes(options: SignIn, io: IO) -> int | None:
    """stdin's descriptor when it takes the pasted redirect: always with --no-browser,
    else at a terminal (a script's stdin is not a person's)."""
    fd = io.stdin_descriptor()
    if fd is None:
        return None
    return fd if options.no_browser or io.stdin_is_terminal() else None


def _pasted_lines(fd: int) -> AsyncIterator[str]:
    from codex_login.adapters.pasted_lines import (  # noqa: PLC0415
        descriptor_lines,
        lines_in_background,
    )

    return lines_in_background(descriptor_lines(fd))


def with_device_code(
    service: AuthService, options: SignIn, io: IO, settings: Settings
) -> LoginOutcome:
    import asyncio  # noqa: PLC0415

    del settings

    def announce(device: DeviceCode) -> None:
        page, code = printable(device.verification_uri), printable(device.user_code)
        io.say(f"To sign in, open this page on any device:\n\n    {page}\n")
        io.say(f"and enter this code:\n\n    {code}\n")
        if device.verification_uri_complete:
            io.say(printable(f"(or open {device.verification_uri_complete})"))
        io.say(
            f"Waiting for approval; the code expires in {round(device.expires_in / 60)} minutes."
        )

    return asyncio.run(service.login_with_device_code(announce=announce, timeout=options.timeout))


@attrs.frozen(repr=False)
class SecretInput(FieldsRepr):
    """How a secret is read from stdin: its option, its name, its prompt, the way to pipe it."""

    option: str = "--with-api-key"
    what: str = "API key"
    noun: str = "key"
    prompt: str = KEY_PROMPT
    hint: str = PIPE_HINT


API_KEY_INPUT = SecretInput()
ACCESS_TOKEN_INPUT = SecretInput(
    "--with-access-token",
    "access token",
    "token",
    "Paste your access token (input is hidden): ",
    "printenv CODEX_ACCESS_TOKEN | codex-login login --with-access-token",
)


def read_key(io: IO, secret: SecretInput = API_KEY_INPUT) -> str:
    """The API key (or access token): piped in on stdin, or typed at a prompt that does not
    echo it."""
    if io.stdin is None:
        raise UsageError(
            f"{secret.option} reads the {secret.noun} from stdin, but there is none; "
            f"pipe it in: {secret.hint}"
        )
    if io.stdin_is_terminal():
        return _prompt_for_key(io, secret.prompt)
    data = io.read_stdin(MAX_KEY_BYTES + 1) or b""
    if len(data) > MAX_KEY_BYTES:
        raise UsageError(
            f"stdin holds more than 64 KiB, so it is not an {secret.what}; "
            f"pipe in just the {secret.noun}"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"the {secret.what} on stdin is not UTF-8 text; pipe in just the {secret.noun}"
        ) from exc


def _prompt_for_key(io: IO, prompt: str = KEY_PROMPT) -> str:
    import getpass  # noqa: PLC0415  (only a key typed at a terminal needs it)

    try:
        return getpass.getpass(prompt, stream=io.stderr)
    except EOFError:  # Ctrl-D: nothing typed, and the prompt's line is still open
        io.say("")
        return ""
    except KeyboardInterrupt:
        io.say("")
        raise

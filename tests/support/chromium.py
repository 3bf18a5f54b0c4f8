"""Headless Chromium, Debian's package, driven over the DevTools protocol for page tests.

Tests that need it take the ``chromium`` fixture (import ``chromium_fixture``): one
browser per test module, started with a new empty profile in a temporary directory and
stopped by its own process id. Without ``chromium`` on the PATH the tests skip with
"chromium is not installed" (``.ci/install-browser.sh`` installs it; under CI that skip
is a failure, see tests/conftest.py).

Each test opens its own websocket to the browser and its own pages
(``async with devtools(chromium) as tools, new_page(tools) as page``); a page is a
fresh browser context, 360 px wide, that records what a person would not see: every
request, the HTTP status of each document, console errors and uncaught exceptions.
No request leaves the machine: the browser resolves no host name but ``localhost``, and
each page holds every request to a host that is not loopback, recording it and failing
it, or answering it with ``stand_in(url)``'s HTML when that gives some.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import attrs
import pytest

from support.waiting import wait_until

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WIDTH, HEIGHT = 360, 740
FLAGS = (
    # What this machine's notes say a headless Chromium needs, and nothing downloaded.
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-default-browser-check",
    "--disable-extensions",
    "--mute-audio",
    # Belt and braces: only loopback resolves, so nothing can leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")


class DevToolsError(Exception):
    """Chromium refused a DevTools command."""


@attrs.frozen
class Chromium:
    """A running headless Chromium: its process id and its DevTools websocket."""

    pid: int
    websocket: str
    log: Path


@pytest.fixture(scope="module", name="chromium")
def chromium_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip(
            "chromium is not installed: run .ci/install-browser.sh (Debian's chromium package)"
        )
    with running_chromium(executable, tmp_path_factory.mktemp("chromium")) as browser:
        yield browser


@contextlib.contextmanager
def running_chromium(executable: str, directory: Path, timeout: float = 30) -> Iterator[Chromium]:
    profile = directory / "profile"
    profile.mkdir()
    log = directory / "chromium.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                executable,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    try:
        yield Chromium(process.pid, _devtools_address(process, log, timeout), log)
    finally:
        process.terminate()  # this process only; Chromium ends its own helpers
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _devtools_address(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    """The DevTools address Chromium prints once it listens; its exit, or the deadline,
    is an error with the log's tail."""
    found: list[str] = []

    def listening() -> bool:
        match = _LISTENING.search(log.read_bytes())
        if match:
            found.append(match.group(1).decode())
            return True
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited before offering DevTools:\n{_tail(log)}")
        return False

    wait_until(
        listening,
        timeout,
        "chromium to offer DevTools",
        poll=0.05,
        error=lambda said: RuntimeError(f"{said}:\n{_tail(log)}"),
    )
    return found[0]


def _tail(log: Path) -> str:
    return log.read_bytes()[-2000:].decode(errors="replace")


@attrs.frozen
class Request:
    url: str
    kind: str  # Document, Stylesheet, Image, Script, Fetch, Other, ...


@attrs.frozen
class Load:
    """A document the page loaded: where it ended up and with what HTTP status."""

    url: str
    status: int


class DevTools:
    """One websocket to the browser; each page is a session on it (flat mode)."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.pages: dict[str, Page] = {}

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        answer = asyncio.get_running_loop().create_future()
        self._pending[self._next] = answer
        await self._socket.send_str(json.dumps(message))
        return await asyncio.wait_for(answer, 30)

    async def read(self) -> None:
        async for frame in self._socket:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if "id" in message:
                answer = self._pending.pop(message["id"], None)
                if answer is None or answer.done():
                    continue
                if "error" in message:
                    answer.set_exception(DevToolsError(str(message["error"])))
                else:
                    answer.set_result(message.get("result", {}))
            elif (page := self.pages.get(message.get("sessionId", ""))) is not None:
                page.receive(message["method"], message.get("params", {}))
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(DevToolsError("the DevTools connection closed"))


@asynccontextmanager
async def devtools(chromium: Chromium) -> AsyncIterator[DevTools]:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(chromium.websocket, max_msg_size=0) as socket,
    ):
        tools = DevTools(socket)
        reader = asyncio.create_task(tools.read())
        try:
            yield tools
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


class Page:
    """A tab in a browser context of its own, and what it saw."""

    def __init__(self, tools: DevTools, session: str) -> None:
        self._tools = tools
        self._session = session
        self._arrived = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[Request] = []
        self.loads: list[Load] = []
        self.blocked: list[str] = []  # requests to other hosts, stopped in the browser
        self.errors: list[tuple[str, str]] = []  # console errors, exceptions, error logs
        self.stand_in: Callable[[str], str | None] | None = None
        self.release = asyncio.Event()  # stand-ins wait for it: the old page stays till then
        self.release.set()

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._tools.send(method, params, session=self._session)

    @property
    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and error logs. Chromium also logs a
        document's own 4xx status as a failed load; tests check ``loads`` for that."""
        failed = {load.url for load in self.loads if load.status >= 400}
        return [text for text, url in self.errors if not url or url not in failed]

    # -- what the browser reports -------------------------------------------------------

    def receive(self, method: str, params: dict[str, Any]) -> None:
        self.events.append((method, params))
        if method == "Network.requestWillBeSent":
            self.requests.append(Request(params["request"]["url"], params.get("type", "Other")))
        elif method == "Network.responseReceived" and params.get("type") == "Document":
            self.loads.append(Load(params["response"]["url"], params["response"]["status"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.errors.append((f"console.{params['type']}: {args}", ""))
        elif method == "Runtime.exceptionThrown":
            self.errors.append((f"exception: {params['exceptionDetails'].get('text')}", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            url = entry.get("url", "") if entry["source"] == "network" else ""
            self.errors.append((f"{entry['source']}: {entry['text']} {entry.get('url', '')}", url))
        elif method == "Fetch.requestPaused":
            task = asyncio.ensure_future(self._hold(params))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._arrived.set()

    async def _hold(self, paused: dict[str, Any]) -> None:
        """Let loopback requests through; stop or stand in for every other one."""
        url = paused["request"]["url"]
        request = {"requestId": paused["requestId"]}
        with contextlib.suppress(DevToolsError):
            if urlsplit(url).hostname in LOOPBACK:
                await self.send("Fetch.continueRequest", request)
                return
            self.blocked.append(url)
            page = self.stand_in(url) if self.stand_in is not None else None
            if page is None:
                await self.send("Fetch.failRequest", request | {"errorReason": "BlockedByClient"})
                return
            await self.release.wait()
            await self.send(
                "Fetch.fulfillRequest",
                request
                | {
                    "responseCode": 200,
                    "responseHeaders": [
                        {"name": "Content-Type", "value": "text/html; charset=utf-8"}
                    ],
                    "body": base64.b64encode(page.encode()).decode(),
                },
            )

    async def wait_for(
        self,
        method: str,
        *,
        since: int,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 15,
    ) -> int:
        """Wait for an event ``method`` at or after index ``since`` that ``where`` accepts;
        return the index just after it, to wait for what follows it."""
        seen = since
        async with asyncio.timeout(timeout):
            while True:
                while seen < len(self.events):
                    name, params = self.events[seen]
                    seen += 1
                    if name == method and (where is None or where(params)):
                        return seen
                self._arrived.clear()
                await self._arrived.wait()

    # -- what a person does and sees ----------------------------------------------------

    async def open(self, url: str) -> Load:
        """Go to ``url`` as if typed in; the document it ends at, once it has loaded."""
        mark, loads = len(self.events), len(self.loads)
        answer = await self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise DevToolsError(f"cannot open {url}: {answer['errorText']}")
        await self.wait_for("Page.loadEventFired", since=mark)
        return self.loads[-1] if len(self.loads) > loads else Load(url, 0)

    async def evaluate(self, expression: str) -> Any:
        answer = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in answer:
            raise DevToolsError(f"{expression!r} threw: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def text(self) -> str:
        """What a person reads: the rendered text of the page."""
        text: str = await self.evaluate("document.body.innerText")
        return text

    async def url(self) -> str:
        href: str = await self.evaluate("location.href")
        return href

    async def prefer(self, scheme: str) -> None:
        """Emulate the system's light or dark color scheme."""
        await self.send(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
        )

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@asynccontextmanager
async def new_page(
    tools: DevTools, *, width: int = WIDTH, height: int = HEIGHT
) -> AsyncIterator[Page]:
    """A phone-sized tab (``width`` CSS pixels, honouring the page's viewport tag)."""
    context = (await tools.send("Target.createBrowserContext"))["browserContextId"]
    try:
        target = await tools.send(
            "Target.createTarget", {"url": "about:blank", "browserContextId": context}
        )
        attached = await tools.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(tools, attached["sessionId"])
        tools.pages[attached["sessionId"]] = page
        for domain in ("Page", "Network", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        await page.send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
        )
        await page.prefer("light")
        yield page
    finally:
        with contextlib.suppress(DevToolsError):
            await tools.send("Target.disposeBrowserContext", {"browserContextId": context})

"""The tests' own loopback helpers: one way to serve, one way to wait."""

from __future__ import annotations

import socket
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from support.servers import serve_in_thread
from support.waiting import wait_until


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: object) -> None:
        pass


def fetch(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as page:
        body: bytes = page.read()
        return body


def refused(url: str) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", urlsplit(url).port or 0)) != 0


def an_aiohttp_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    return app


@pytest.mark.parametrize("kind", ["aiohttp", "http.server"])
def test_a_server_answers_on_loopback_and_is_gone_after_the_block(kind: str) -> None:
    server = an_aiohttp_app() if kind == "aiohttp" else HTTPServer(("127.0.0.1", 0), Hello)
    with serve_in_thread(server) as url:
        assert url.startswith("http://127.0.0.1:")
        assert fetch(url + "/") == b"hello"
    assert refused(url)


def test_waiting_returns_once_the_condition_holds() -> None:
    looks = iter([False, False, True])
    wait_until(lambda: next(looks), 5.0, "the third look")


def test_waiting_in_vain_names_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"gave up after 0.05 s waiting for the moon"):
        wait_until(lambda: False, 0.05, "the moon")


def test_waiting_in_vain_raises_the_callers_error() -> None:
    """A server's helper turns the deadline into its own error (a skip reason, say)."""
    with pytest.raises(LookupError, match=r"^server: gave up after 0.05 s waiting for it$"):
        wait_until(lambda: False, 0.05, "it", error=lambda said: LookupError(f"server: {said}"))


def test_a_condition_that_raises_ends_the_wait_at_once() -> None:
    """A server that exited will not start: the helper says so without waiting out the
    deadline."""
    looks = []

    def exited() -> bool:
        looks.append(1)
        raise RuntimeError("the server exited")

    with pytest.raises(RuntimeError, match="the server exited"):
        wait_until(exited, 30.0, "the server")
    assert looks == [1]

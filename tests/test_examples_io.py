"""The examples/ that do I/O, run for real over loopback.

Each example server (blocking sockets, asyncio adapter, trio) runs as a
subprocess on a free port and is checked with both example clients and with
the ``websockets`` client; the asyncio adapter is also used in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from noio_ws import _cli as cli

from .test_cli import TIMEOUT, child_env, raw_request, read_line, run, websockets_server, ws_connect

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LISTENING = re.compile(r"^listening on (ws://127\.0\.0\.1:(\d+)/)$")
MESSAGES = ["hello", "héllo wörld ✓", ""]


@contextlib.contextmanager
def example_server(name: str) -> Iterator[str]:
    """Run ``examples/NAME --port 0``; its URL."""
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        line = read_line(proc.stdout)
        match = LISTENING.match(line.rstrip("\n"))
        assert match, f"unexpected first line {line!r}"
        yield match.group(1)
    finally:
        proc.kill()
        proc.communicate(timeout=TIMEOUT)


@pytest.fixture(params=["sync_server.py", "asyncio_server.py", "trio_server.py"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "trio_server.py":
        pytest.importorskip("trio")
    with example_server(request.param) as url:
        yield url


@pytest.mark.parametrize("client", ["sync_client.py", "asyncio_client.py"])
def test_example_client_and_server(server_url: str, client: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / client), server_url, *MESSAGES],
        check=False,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=TIMEOUT,
    )
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.split("\n")
    if client == "asyncio_client.py":
        assert lines.pop(0) == "connected; extensions in use: ['permessage-deflate']"
    assert lines == [*MESSAGES, "closed with code 1000", ""]


def test_example_server_with_websockets(server_url: str) -> None:
    async def check() -> None:
        async with ws_connect(server_url) as ws:
            assert ws.response is not None
            assert ws.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
            messages: list[str | bytes] = ["text ✓", b"\x00\x01", bytes(range(256)) * 1024]
            for message in messages:
                await ws.send(message)
                assert await ws.recv() == message
            for number in range(100):
                await ws.send(str(number))
            for number in range(100):
                assert await ws.recv() == str(number)
            await asyncio.wait_for(await ws.ping(b"ping"), TIMEOUT)
            await ws.close(1000)
            assert ws.protocol.close_rcvd is not None
            assert ws.protocol.close_rcvd.code == 1000

    run(check())
    port = int(server_url.rsplit(":", 1)[1].rstrip("/"))
    assert raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 400 ")


# ---------------------------------------------------------------- the adapter, in process


def load_adapter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("asyncio_adapter", EXAMPLES / "asyncio_adapter.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


adapter = load_adapter()


def test_adapter_connect_and_serve() -> None:
    seen: list[object] = []

    async def handler(ws: adapter.WebSocket) -> None:  # type: ignore[name-defined]
        seen.append((ws.subprotocol, ws.extensions))
        async for message in ws:
            await ws.send(message)

    async def check() -> None:
        server = await adapter.serve(handler, "127.0.0.1", 0, subprotocols=["chat"])
        async with server:
            port = server.sockets[0].getsockname()[1]
            ws = await adapter.connect(f"ws://127.0.0.1:{port}/", subprotocols=["other", "chat"])
            assert (ws.subprotocol, ws.extensions) == ("chat", ["permessage-deflate"])
            for message in ["héllo", b"\xff" * 70000, ""]:
                await ws.send(message)
                assert await ws.recv() == message
            await ws.ping(b"skipped by recv")
            await ws.send("after the ping")
            assert await ws.recv() == "after the ping"
            await ws.close()
            assert ws.close_code == 1000
            with pytest.raises(adapter.ConnectionClosed):
                await ws.send("too late")

            plain = await adapter.connect(f"ws://127.0.0.1:{port}/", compress=False)
            assert plain.extensions == []
            await plain.close(1001)
            assert plain.close_code == 1001
        assert seen == [("chat", ["permessage-deflate"]), (None, [])]

    run(check())


def test_adapter_errors(caplog: pytest.LogCaptureFixture) -> None:
    async def failing(ws: adapter.WebSocket) -> None:  # type: ignore[name-defined]
        await ws.recv()
        raise ValueError("the handler broke")

    def forbid(ws: ServerConnection, request: Request) -> Response:
        return ws.respond(HTTPStatus.FORBIDDEN, "no\n")

    async def check() -> None:
        # A handler that raises: the client sees 1011.
        server = await adapter.serve(failing, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            ws = await adapter.connect(f"ws://127.0.0.1:{port}/")
            await ws.send("boom")
            with pytest.raises(adapter.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 1011

        # A message over max_size: the adapter fails the connection with 1009.
        echo = cli.EchoServer()
        url = await echo.start("127.0.0.1", 0)
        try:
            ws = await adapter.connect(url, max_size=10)
            await ws.send("x" * 11)
            with pytest.raises(adapter.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 1009
        finally:
            await echo.aclose()

        # A refused handshake.
        async with websockets_server(lambda ws: ws.wait_closed(), process_request=forbid) as url:
            with pytest.raises(adapter.HandshakeError) as refused:
                await adapter.connect(url)
            assert refused.value.status_code == 403

    run(check())
    assert "the handler broke" in caplog.text

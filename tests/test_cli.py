"""The command line (CLI.md): demo, echo-server and client, against real peers.

The echo server runs as a subprocess (``python -m noio_ws echo-server --port 0``)
and is checked with the ``websockets`` and ``aiohttp`` clients and with noio_ws's
own client; the client runs as a subprocess against a ``websockets`` server.
A few tests drive the same code in this process, where coverage sees it.
Every wait is bounded, and every subprocess is killed in a ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import runpy
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import IO, TypeVar

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

import noio_ws
from noio_ws import BinaryMessage, Close, Connection, Role, Signal, TextMessage
from noio_ws import _cli as cli
from noio_ws._cli import _client, _demo, _show
from noio_ws._cli._pump import EventPump
from noio_ws.handshake import Accepted, ClientHandshake, ServerHandshake
from noio_ws.testing.hostile import reserved_opcode

T = TypeVar("T")
E = TypeVar("E", bound=noio_ws.Event)
TIMEOUT = 15.0  # generous: the machine may be loaded; a hang still fails in seconds
PACKAGE_ROOT = Path(noio_ws.__file__).resolve().parent.parent  # the checkout, or site-packages
LISTENING = re.compile(r"^listening on ws://(127\.0\.0\.1):(\d+)/$")
MiB = 1 << 20
TIMER_FLAGS = [
    "--ping-interval SECONDS",
    "--ping-timeout SECONDS",
    "--close-timeout SECONDS",
    "0 or none: off",
]


def child_env() -> dict[str, str]:
    """The environment of a subprocess: it imports the same noio_ws as the tests."""
    path = [str(PACKAGE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def read_line(stream: IO[str], timeout: float = TIMEOUT) -> str:
    """One line from a subprocess pipe, failing the test if none comes in time."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines, f"no line within {timeout} s"
    return lines[0]


class EchoServerProcess:
    """``python -m noio_ws echo-server --port 0 ARGS`` and the URL it printed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "noio_ws", "echo-server", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        try:
            assert self.proc.stdout is not None
            line = read_line(self.proc.stdout)
            match = LISTENING.match(line.rstrip("\n"))
            assert match, f"unexpected first line {line!r}"
        except BaseException:
            self.kill()
            raise
        self.port = int(match.group(2))
        self.url = f"ws://127.0.0.1:{self.port}/"

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send *signum*; the exit status and what it wrote after the first line."""
        self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=TIMEOUT)

    def rss_kib(self) -> int | None:
        """Resident memory of the server (Linux), in KiB."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) if match else None


@contextlib.contextmanager
def echo_server_process(*args: str) -> Iterator[EchoServerProcess]:
    server = EchoServerProcess(*args)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EchoServerProcess]:
    """One server with the default options, shared by the tests that do not stop it."""
    with echo_server_process() as server:
        yield server


def run(coro: Awaitable[T], timeout: float = TIMEOUT) -> T:
    """Run *coro* in a fresh event loop, within *timeout* seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def ws_connect(url: str, **options: object) -> connect:
    """A ``websockets`` client: no proxy, and large messages allowed."""
    options.setdefault("max_size", 16 * MiB)
    return connect(url, proxy=None, open_timeout=TIMEOUT, **options)  # type: ignore[arg-type]


def negotiated(ws: ClientConnection) -> str | None:
    assert ws.response is not None
    return ws.response.headers.get("Sec-WebSocket-Extensions")


# ---------------------------------------------------------------- help and demo


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ([], ["demo", "echo-server", "client"]),
        (["demo"], ["permessage-deflate"]),
        (["echo-server"], ["--host", "--port", "--no-deflate", "--max-size", "1001", *TIMER_FLAGS]),
        (["client"], ["URL", "--no-deflate", "--subprotocol", "<binary N bytes>", *TIMER_FLAGS]),
    ],
)
def test_help(command: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m noio_ws")
    for word in expected:
        assert word in " ".join(out.split())


def test_python_dash_m() -> None:
    # The real entry point: __main__.py, in a fresh interpreter.
    help_run = subprocess.run(
        [sys.executable, "-m", "noio_ws", "echo-server", "--help"],
        check=False,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=TIMEOUT,
    )
    assert help_run.returncode == 0
    assert "--max-size BYTES" in help_run.stdout
    no_command = subprocess.run(
        [sys.executable, "-m", "noio_ws"],
        check=False,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=TIMEOUT,
    )
    assert no_command.returncode == 2
    assert "usage:" in no_command.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "70000"],
        ["--max-size", "0"],
        ["--max-size", "16MiB"],
        ["--ping-interval", "soon"],
        ["--close-timeout", "nan"],
    ],
)
def test_echo_server_bad_arguments(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["echo-server", *args])
    assert exit_info.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_demo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "noio_ws", "demo"],
        check=False,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in range(1, 7):
        assert f"[{step}/6]" in out
    # What was sent, the frames on the wire, and what each side received.
    assert "client sent  TextMessage('Hello, WebSocket!')" in out
    assert "frame  FIN RSV1 text, masked" in out  # compressed, from the client
    assert "frame  FIN RSV1 text, unmasked" in out  # compressed, from the server
    assert "frame  RSV1 text, masked" in out
    assert "frame  FIN continuation, masked" in out
    assert "server got   TextMessage('fragmented message')" in out
    assert "client got   Pong(b'are you there?')" in out
    assert "client got   Close(1000, '')" in out
    assert "wire   88 02 03 e8 (4 bytes)" in out  # the server's Close 1000, unmasked
    assert out.rstrip().endswith("all 6 steps succeeded")
    assert result.stderr == ""


def test_demo_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo"]) == 0
    assert "all 6 steps succeeded" in capsys.readouterr().out


def test_demo_reports_a_failed_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An echo server cannot answer "ping" with "pong": the demo must say so and exit 1.
    monkeypatch.setattr(
        _demo, "_DEMO_STEPS", [("a wrong expectation", [TextMessage("ping")], [TextMessage("pong")])]
    )
    assert cli.main(["demo"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: expected" in out
    assert "demo failed: 1 of 2 steps succeeded" in out


# ------------------------------------------------ the echo server, with websockets


def test_echo_text_unicode_binary(echo_server: EchoServerProcess) -> None:
    messages: list[str | bytes] = [
        "hello",
        "",
        "héllo wörld ✓ 🎉 こんにちは",
        b"",
        b"\x00\xff",
        os.urandom(125),
        os.urandom(126),
        os.urandom(65536),
        os.urandom(MiB),
        os.urandom(8 * MiB),
    ]

    async def check() -> None:
        async with ws_connect(echo_server.url) as ws:
            assert negotiated(ws) is not None
            for message in messages:
                await ws.send(message)
                assert await ws.recv() == message  # the same type too: str stays str

    run(check(), timeout=60)


@pytest.mark.parametrize("compression", ["deflate", None])
def test_compression_negotiation(echo_server: EchoServerProcess, compression: str | None) -> None:
    async def check() -> None:
        async with ws_connect(echo_server.url, compression=compression) as ws:
            extensions = negotiated(ws)
            if compression is None:
                assert extensions is None
            else:
                assert extensions is not None
                assert extensions.startswith("permessage-deflate")
            text = "compressible " * 1000
            await ws.send(text)
            assert await ws.recv() == text

    run(check())


def test_no_deflate_server() -> None:
    with echo_server_process("--no-deflate") as server:

        async def check() -> None:
            async with ws_connect(server.url) as ws:  # offers permessage-deflate
                assert negotiated(ws) is None
                await ws.send("plain")
                assert await ws.recv() == "plain"

        run(check())


def test_pipelined_messages(echo_server: EchoServerProcess) -> None:
    async def check() -> None:
        async with ws_connect(echo_server.url) as ws:
            for number in range(1000):
                await ws.send(f"message {number}" if number % 2 else f"{number}".encode())
            for number in range(1000):
                assert await ws.recv() == (f"message {number}" if number % 2 else f"{number}".encode())

    run(check())


def test_ping_pong(echo_server: EchoServerProcess) -> None:
    async def check() -> None:
        async with ws_connect(echo_server.url) as ws:
            pong = await ws.ping(b"are you there?")
            await asyncio.wait_for(pong, TIMEOUT)
            await ws.send("still echoing")
            assert await ws.recv() == "still echoing"

    run(check())


@pytest.mark.parametrize("code", [1000, 1001])
def test_close_code_is_echoed(echo_server: EchoServerProcess, code: int) -> None:
    async def check() -> None:
        async with ws_connect(echo_server.url) as ws:
            await ws.close(code, "bye")
            assert ws.protocol.close_rcvd is not None
            assert ws.protocol.close_rcvd.code == code

    run(check())


def test_max_size_gives_1009() -> None:
    with echo_server_process("--max-size", "1000") as server:

        async def too_big(fits: str | bytes, too_big: str | bytes, compression: str | None) -> None:
            async with ws_connect(server.url, compression=compression) as ws:
                await ws.send(fits)
                assert await ws.recv() == fits
                await ws.send(too_big)
                with pytest.raises(ConnectionClosedError):
                    await ws.recv()
                assert ws.protocol.close_rcvd is not None
                assert ws.protocol.close_rcvd.code == 1009

        run(too_big(b"x" * 1000, b"x" * 1001, None))
        run(too_big("é" * 500, "é" * 500 + "x", None))  # the limit counts UTF-8 bytes
        # Compressed, 100 kB fits in a few hundred bytes: the limit holds after inflation.
        run(too_big(b"\x00" * 1000, b"\x00" * 100_000, "deflate"))


def test_sigterm_closes_with_1001_and_exits_0() -> None:
    with echo_server_process() as server:

        async def check() -> None:
            clients = [await ws_connect(server.url) for _ in range(3)]
            # One client is mid-handshake: it sent nothing yet.
            _, idle = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                for ws in clients:
                    await ws.send("before")
                    assert await ws.recv() == "before"
                loop = asyncio.get_running_loop()
                stopped = loop.run_in_executor(None, server.stop)
                for ws in clients:
                    with pytest.raises(ConnectionClosed):
                        await ws.recv()
                    assert ws.protocol.close_rcvd is not None
                    assert ws.protocol.close_rcvd.code == 1001
                status, out, err = await stopped
                assert (status, out, err) == (0, "", "")
            finally:
                idle.close()
                for ws in clients:
                    await ws.close()

        run(check())


def test_sigint_exits_0() -> None:
    with echo_server_process() as server:
        assert server.stop(signal.SIGINT) == (0, "", "")


def test_200_concurrent_clients(echo_server: EchoServerProcess) -> None:
    async def client(number: int) -> None:
        async with ws_connect(echo_server.url) as ws:
            for round_ in range(3):
                await ws.send(f"client {number} round {round_}")
            for round_ in range(3):
                assert await ws.recv() == f"client {number} round {round_}"

    async def check() -> None:
        await asyncio.gather(*(client(number) for number in range(200)))

    run(check(), timeout=60)


# ------------------------------------------------- misbehaving and greedy peers


def raw_request(port: int, request: bytes) -> bytes:
    """Send *request* on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def open_raw(port: int, *, rcvbuf: int | None = None) -> tuple[socket.socket, Connection]:
    """A blocking socket that completed the handshake (no extension) and its Connection."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connecting
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    handshake = ClientHandshake(f"127.0.0.1:{port}", "/", max_message_size=None)
    sock.sendall(handshake.send())
    result = None
    while result is None:
        result = handshake.receive_data(sock.recv(65536))
    assert isinstance(result, Accepted)
    return sock, result.connection


def close_code_after(sock: socket.socket, conn: Connection, data: bytes) -> int:
    """Send raw *data*; the code of the Close the server answers with."""
    sock.sendall(data)
    while True:
        event = conn.next_event()
        if event is Signal.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, Close):
            return event.code


UPGRADE = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"


def test_misbehaving_peers_do_not_disturb_others(echo_server: EchoServerProcess) -> None:
    port = echo_server.port
    good, good_conn = open_raw(port)
    with good:
        # HTTP errors during the handshake.
        assert raw_request(port, UPGRADE + KEY + b"\r\n").startswith(b"HTTP/1.1 426 ")  # no version
        answer = raw_request(port, UPGRADE + KEY + b"Sec-WebSocket-Version: 8\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 426 ")
        assert b"Sec-WebSocket-Version: 13" in answer
        assert raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert raw_request(port, b"POST / HTTP/1.1\r\nHost: x\r\n" + b"\r\n").startswith(b"HTTP/1.1 4")
        assert raw_request(port, b"\x16\x03\x01 not http\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert raw_request(port, b"") == b""  # gone before a request: no answer

        # Protocol errors after it, each with its close code.
        sock, conn = open_raw(port)
        with sock:
            assert close_code_after(sock, conn, b"\x81\x02hi") == 1002  # unmasked
        sock, conn = open_raw(port)
        with sock:
            assert close_code_after(sock, conn, b"\x81\x82\x00\x00\x00\x00\xc3\x28") == 1007  # bad UTF-8
        sock, conn = open_raw(port)
        with sock:
            assert close_code_after(sock, conn, b"\x83\x80\x00\x00\x00\x00") == 1002  # reserved opcode

        # The well-behaved connection, opened first, never noticed.
        good.sendall(good_conn.send(TextMessage("still here")))
        events: list[object] = []
        while not events:
            good_conn.receive_data(good.recv(65536))
            events = list(good_conn.events())
        assert events == [TextMessage("still here")]


def test_a_peer_that_does_not_read_cannot_grow_the_server() -> None:
    # The client sends megabytes of messages and never reads the echoes. The
    # server must stop reading from it (TCP pushes back) instead of buffering.
    with echo_server_process("--no-deflate") as server:
        greedy, conn = open_raw(server.port, rcvbuf=64 * 1024)
        with greedy:
            frame = conn.send(BinaryMessage(os.urandom(MiB)))
            greedy.settimeout(2.0)
            sent, limit = 0, 160 * MiB
            with contextlib.suppress(TimeoutError):
                while sent < limit:
                    sent += greedy.send(frame[sent % len(frame) :])
            # Kernel socket buffers hold some tens of MiB on loopback; not all of it.
            assert sent < limit / 2, f"the server read {sent} bytes from a peer that does not read"
            rss = server.rss_kib()
            if rss is not None:
                assert rss < 150 * 1024, f"server RSS {rss} KiB"

            # Other connections are served meanwhile.
            async def other() -> None:
                async with ws_connect(server.url) as ws:
                    await ws.send("hello")
                    assert await ws.recv() == "hello"

            run(other())


# ------------------------------------------------------------- the echo server, aiohttp


def test_aiohttp_client(echo_server: EchoServerProcess) -> None:
    aiohttp = pytest.importorskip("aiohttp")

    async def check() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                echo_server.url, compress=15, autoping=False, max_msg_size=16 * MiB
            ) as ws:
                assert ws.compress == 15  # permessage-deflate, 15-bit window
                for text in ["hello", "héllo ✓", ""]:
                    await ws.send_str(text)
                    message = await ws.receive(TIMEOUT)
                    assert (message.type, message.data) == (aiohttp.WSMsgType.TEXT, text)
                for data in [b"\x01\x02", os.urandom(8 * MiB)]:
                    await ws.send_bytes(data)
                    message = await ws.receive(TIMEOUT)
                    assert message.type == aiohttp.WSMsgType.BINARY
                    assert message.data == data
                for number in range(1000):
                    await ws.send_str(str(number))
                for number in range(1000):
                    assert (await ws.receive(TIMEOUT)).data == str(number)
                await ws.ping(b"ping!")
                message = await ws.receive(TIMEOUT)
                assert (message.type, message.data) == (aiohttp.WSMsgType.PONG, b"ping!")
                await ws.close(code=1001)
                assert ws.close_code == 1001
            async with session.ws_connect(echo_server.url, compress=0) as ws:
                assert ws.compress == 0
                await ws.send_str("uncompressed")
                assert (await ws.receive(TIMEOUT)).data == "uncompressed"
                await ws.close()
                assert ws.close_code == 1000

    run(check(), timeout=60)


# ----------------------------------------------------------- the client, as a subprocess


def run_client(
    url: str, *args: str, stdin: bytes = b"", timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "noio_ws", "client", url, *args],
        check=False,
        input=stdin,
        capture_output=True,
        env=child_env(),
        timeout=timeout,
    )


def test_client_against_echo_server(echo_server: EchoServerProcess) -> None:
    lines = ["hello", "héllo wörld ✓", "", *(f"line {number}" for number in range(1000))]
    result = run_client(echo_server.url, stdin="\n".join(lines).encode() + b"\n")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.decode().split("\n") == [*lines, ""]


def test_client_into_a_closed_pipe(echo_server: EchoServerProcess, tmp_path: Path) -> None:
    # ``... | python -m noio_ws client URL | head -2``: no traceback when the reader goes away.
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"line {number}\n" for number in range(100_000)))  # far over a pipe's buffer
    with lines.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "noio_ws", "client", echo_server.url],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
        )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"line 0\n"
        proc.stdout.close()
        _, err = proc.communicate(timeout=TIMEOUT)
        assert (proc.returncode, err) == (1, b"")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=TIMEOUT)


async def client_process(url: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "noio_ws",
        "client",
        url,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
    )


@contextlib.asynccontextmanager
async def websockets_server(
    handler: Callable[[ServerConnection], Awaitable[None]], **options: object
) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, **options) as server:  # type: ignore[arg-type]
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/chat?room=1"


@pytest.mark.parametrize("deflate", [True, False])
def test_client_against_websockets_server(deflate: bool) -> None:
    seen: dict[str, object] = {}

    async def handler(ws: ServerConnection) -> None:
        seen["path"] = ws.request.path if ws.request else None
        seen["offer"] = ws.request.headers.get("Sec-WebSocket-Extensions") if ws.request else None
        seen["subprotocol"] = ws.subprotocol
        # The client must answer pings by itself, and print binary messages as such.
        await asyncio.wait_for(await ws.ping(b"hi"), TIMEOUT)
        await ws.send(b"\x00" * 10)
        async for message in ws:
            await ws.send(message)
        seen["close"] = ws.close_code

    async def check() -> None:
        async with websockets_server(handler, subprotocols=[Subprotocol("superchat")]) as url:
            args = ["--subprotocol", "chat", "--subprotocol", "superchat"]
            proc = await client_process(url, *args, *([] if deflate else ["--no-deflate"]))
            assert proc.stdin is not None
            assert proc.stdout is not None
            # stdin stays open until the server's messages are in: its end closes the connection.
            proc.stdin.write(b"one\n")
            assert await proc.stdout.readline() == b"<binary 10 bytes>\n"
            assert await proc.stdout.readline() == b"one\n"
            proc.stdin.write("two ✓\n".encode())
            assert await proc.stdout.readline() == "two ✓\n".encode()
            proc.stdin.close()
            out, err = await proc.communicate()
        assert (proc.returncode, out, err) == (0, b"", b"")
        assert seen["path"] == "/chat?room=1"
        assert seen["subprotocol"] == "superchat"
        assert seen["close"] == 1000  # stdin EOF: close 1000
        offer = seen["offer"]
        if deflate:
            assert isinstance(offer, str)
            assert offer.startswith("permessage-deflate")
        else:
            assert offer is None

    run(check())


@pytest.mark.parametrize(("code", "status"), [(1001, 0), (1011, 1)])
def test_client_when_the_server_closes(code: int, status: int) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(await ws.recv())
        await ws.close(code, "server says bye")

    async def check() -> None:
        async with websockets_server(handler) as url:
            proc = await client_process(url)
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.write(b"first\n")  # and stdin stays open: the server ends it
            assert await proc.stdout.readline() == b"first\n"
            out, err = await proc.communicate()
        assert (proc.returncode, out) == (status, b"")
        if status:
            assert err.decode().count("\n") == 1
            assert "1011 (server says bye)" in err.decode()
        else:
            assert err == b""

    run(check())


def test_client_rejected_handshake() -> None:
    def forbid(ws: ServerConnection, request: Request) -> Response:
        return ws.respond(HTTPStatus.FORBIDDEN, "no entry\n")

    async def check() -> None:
        async with websockets_server(lambda ws: ws.wait_closed(), process_request=forbid) as url:
            proc = await client_process(url)
            out, err = await proc.communicate(b"never sent\n")
        assert (proc.returncode, out) == (2, b"")
        assert err.decode().count("\n") == 1
        assert "rejected the WebSocket handshake: HTTP 403 Forbidden" in err.decode()

    run(check())


def test_client_connection_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # a port nobody listens on
        port = sock.getsockname()[1]
        result = run_client(f"ws://127.0.0.1:{port}/", stdin=b"hello\n")
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr.decode().count("\n") == 1
    assert result.stderr.startswith(b"noio_ws client: cannot connect to ws://127.0.0.1:")


def test_client_not_a_websocket_server() -> None:
    # An HTTP server that answers 200: a rejection too.
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer() -> None:
            sock, _ = listener.accept()
            with sock:
                sock.recv(65536)
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        result = run_client(f"ws://127.0.0.1:{listener.getsockname()[1]}/")
        thread.join(TIMEOUT)
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1
    assert b"HTTP 200 OK" in result.stderr


# ------------------------------------------------------------ the same code, in process


async def client_in_process(
    url: str, stdin: bytes, *, keep_stdin_open: bool = False, **options: object
) -> tuple[int, bytes, str]:
    """``run_client`` in this process, *stdin* through a pipe; status, stdout, stderr.

    With *keep_stdin_open*, the pipe stays open until the client returns.
    """
    stdout, stderr = io.BytesIO(), io.StringIO()
    read_end, write_end = os.pipe()
    os.write(write_end, stdin)  # small: the pipe holds it all
    if not keep_stdin_open:
        os.close(write_end)
    try:
        status = await cli.run_client(
            url,
            stdin_fd=read_end,
            stdout=stdout,
            stderr=stderr,
            **options,  # type: ignore[arg-type]
        )
    finally:
        if keep_stdin_open:
            os.close(write_end)
        # The client's reader thread stops at EOF; let it get there before the
        # descriptor is closed (and its number reused).
        for thread in threading.enumerate():
            if thread.name == "noio_ws-stdin":
                thread.join(TIMEOUT)
        os.close(read_end)
    return status, stdout.getvalue(), stderr.getvalue()


def test_in_process_server_and_client() -> None:
    async def check() -> None:
        server = cli.EchoServer(handshake_timeout=0.5, timing=cli.Timing(close_timeout=1.0))
        url = await server.start("127.0.0.1", 0)
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        try:
            status, out, err = await client_in_process(url, "a\r\nb ✓\nlast".encode())
            assert (status, out, err) == (0, "a\nb ✓\nlast\n".encode(), "")
            status, out, err = await client_in_process(url, b"x\n", subprotocols=["chat"], deflate=False)
            assert (status, out) == (0, b"x\n")

            # An idle connection is closed after the handshake timeout, without an answer.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
            writer.close()
            # A bad handshake gets its HTTP status.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(UPGRADE + KEY + b"\r\n")
            assert (await asyncio.wait_for(reader.read(), TIMEOUT)).startswith(b"HTTP/1.1 426 ")
            writer.close()
            # A protocol error gets its close code, and so does an oversized frame.
            loop = asyncio.get_running_loop()
            sock, conn = await loop.run_in_executor(None, open_raw, port)
            with sock:
                assert await loop.run_in_executor(None, close_code_after, sock, conn, b"\x81\x02hi") == 1002

            # Shutdown: an open client gets 1001, one that never answers is dropped.
            async with ws_connect(url) as ws:
                silent, _ = await loop.run_in_executor(None, open_raw, port)
                with silent:
                    _, handshaking = await asyncio.open_connection("127.0.0.1", port)
                    await asyncio.sleep(0.1)
                    assert server.connections == 3
                    started = loop.time()
                    await server.aclose()
                    assert loop.time() - started < 5
                    assert server.connections == 0
                    handshaking.close()
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.protocol.close_rcvd is not None
                assert ws.protocol.close_rcvd.code == 1001
        finally:
            await server.aclose()

    run(check())


def test_in_process_echo_server_command() -> None:
    # run_echo_server as the command runs it: the listening line, then a signal.
    async def check() -> None:
        stdout, stderr = io.StringIO(), io.StringIO()
        task = asyncio.create_task(
            cli.run_echo_server("127.0.0.1", 0, deflate=True, max_size=MiB, stdout=stdout, stderr=stderr)
        )
        while not stdout.getvalue():
            await asyncio.sleep(0.01)
        match = LISTENING.match(stdout.getvalue().rstrip("\n"))
        assert match
        async with ws_connect(f"ws://127.0.0.1:{match.group(2)}/") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
            os.kill(os.getpid(), signal.SIGINT)  # SIGINT: a miss is a KeyboardInterrupt, not a dead run
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.protocol.close_rcvd is not None
            assert ws.protocol.close_rcvd.code == 1001
        assert await task == 0
        assert stdout.getvalue().count("\n") == 1
        assert stderr.getvalue() == ""

        # A port in use: one line on stderr, status 2.
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            status = await cli.run_echo_server(
                "127.0.0.1", port, deflate=True, max_size=MiB, stdout=stdout, stderr=stderr
            )
        assert status == 2
        assert stderr.getvalue().startswith(f"noio_ws echo-server: cannot listen on 127.0.0.1:{port}")

    run(check())


def test_client_in_process_server_side_close() -> None:
    # The server pings, sends binary, then closes: the client answers both, stdin still open.
    async def handler(ws: ServerConnection) -> None:
        await asyncio.wait_for(await ws.ping(b"hi"), TIMEOUT)
        await ws.send(b"\x01\x02\x03")
        await ws.send(await ws.recv())
        await ws.close(1001 if ws.request and ws.request.path == "/away" else 1011, "bye")

    async def check() -> None:
        async with websockets_server(handler) as url:
            base = url.split("/chat")[0]
            status, out, err = await client_in_process(f"{base}/away", b"line\n", keep_stdin_open=True)
            assert (status, out, err) == (0, b"<binary 3 bytes>\nline\n", "")
            status, out, err = await client_in_process(f"{base}/error", b"line\n", keep_stdin_open=True)
            assert (status, out) == (1, b"<binary 3 bytes>\nline\n")
            assert err == "noio_ws client: the connection closed with code 1011 (bye)\n"

    run(check())


def test_client_gives_up_on_a_silent_server() -> None:
    # A server that accepts, then never answers our Close: the client still exits 0, in time.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshake = ServerHandshake()
        while handshake.receive_data(await reader.read(65536)) is None:
            pass
        writer.write(handshake.accept()[0])
        while await reader.read(65536):
            pass  # reads everything, answers nothing
        writer.close()

    async def check() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            loop = asyncio.get_running_loop()
            started = loop.time()
            status, out, err = await client_in_process(
                f"ws://127.0.0.1:{port}/", b"unanswered\n", timing=cli.Timing(close_timeout=0.3)
            )
            assert (status, out, err) == (0, b"", "")
            assert 0.3 <= loop.time() - started < 3

    run(check())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_client_wss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # wss:// through ssl.create_default_context(), trusting a throwaway self-signed certificate.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subject = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *subject, *files],
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # what the default context trusts
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def echo_once(ws: ServerConnection) -> None:
        await ws.send(await ws.recv())

    async def check() -> None:
        async with serve(echo_once, "127.0.0.1", 0, ssl=context) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            status, out, err = await client_in_process(
                f"wss://localhost:{port}/", b"secure\n", keep_stdin_open=True
            )
            assert (status, out, err) == (0, b"secure\n", "")
            # The certificate is checked: its name is localhost, not 127.0.0.1.
            status, out, err = await client_in_process(f"wss://127.0.0.1:{port}/", b"")
            assert status == 2
            assert "certificate" in err.lower()

    run(check())


def test_a_handler_bug_stays_in_its_connection(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("bug")

    async def check() -> None:
        server = cli.EchoServer()
        url = await server.start("127.0.0.1", 0)
        try:
            async with ws_connect(url) as healthy:
                with monkeypatch.context() as patch:
                    patch.setattr(server, "_echo", broken)
                    async with ws_connect(url) as ws:
                        with pytest.raises(ConnectionClosed):
                            await ws.recv()
                await healthy.send("fine")
                assert await healthy.recv() == "fine"
        finally:
            await server.aclose()

    run(check())
    assert "RuntimeError: bug" in capsys.readouterr().err


def test_main_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    # main() as the command line calls it, for each command that does I/O.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert cli.main(["client", f"ws://127.0.0.1:{port}/"]) == 2
    assert "cannot connect" in capsys.readouterr().err

    def stop_when_listening() -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)  # SIGINT: a miss is a KeyboardInterrupt, not a dead run

    stopper = threading.Thread(target=stop_when_listening)
    stopper.start()
    try:
        assert cli.main(["echo-server", "--port", str(port)]) == 0
    finally:
        stopper.join(TIMEOUT)
    assert capsys.readouterr().out == f"listening on ws://127.0.0.1:{port}/\n"


def test_main_module(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["noio_ws", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("noio_ws", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"noio_ws {noio_ws.__version__}\n"


def test_signals_without_add_signal_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the loop cannot watch signals (Windows), plain handlers stop the server.
    async def check() -> None:
        loop = asyncio.get_running_loop()

        def unsupported(*args: object) -> None:
            raise NotImplementedError

        monkeypatch.setattr(loop, "add_signal_handler", unsupported)
        previous = signal.getsignal(signal.SIGINT)
        stdout = io.StringIO()
        task = asyncio.create_task(
            cli.run_echo_server(
                "127.0.0.1", 0, deflate=False, max_size=MiB, stdout=stdout, stderr=io.StringIO()
            )
        )
        while not stdout.getvalue():
            await asyncio.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # SIGINT: a miss is a KeyboardInterrupt, not a dead run
        assert await task == 0
        assert signal.getsignal(signal.SIGINT) is previous

    run(check())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/", "it must start with ws:// or wss://"),
        ("ws:///path", "no host"),
        ("ws://example.com/#top", "no fragment"),
        ("ws://example.com:99999/", "invalid URL"),
    ],
)
def test_client_invalid_url(url: str, message: str) -> None:
    status, out, err = run(client_in_process(url, b""))
    assert (status, out) == (2, b"")
    assert err.count("\n") == 1
    assert message in err


def test_client_in_process_errors() -> None:
    def forbid(ws: ServerConnection, request: Request) -> Response:
        return ws.respond(HTTPStatus.NOT_FOUND, "no such room\n")

    async def not_a_websocket(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        await writer.drain()
        writer.close()

    async def protocol_breaker(ws: ServerConnection) -> None:
        assert ws.transport is not None
        ws.transport.write(b"\x83\x00")  # a reserved opcode: the client fails with 1002
        await ws.wait_closed()

    async def check() -> None:
        async with websockets_server(lambda ws: ws.wait_closed(), process_request=forbid) as url:
            status, _, err = await client_in_process(url, b"")
            assert status == 2
            assert "HTTP 404 Not Found" in err
        bad = await asyncio.start_server(not_a_websocket, "127.0.0.1", 0)
        async with bad:
            port = bad.sockets[0].getsockname()[1]
            status, _, err = await client_in_process(f"ws://127.0.0.1:{port}/", b"")
            assert status == 2
            assert "invalid handshake response" in err
        async with websockets_server(protocol_breaker) as url:
            status, _, err = await client_in_process(url, b"hello\n", keep_stdin_open=True)
            assert status == 1
            assert "broke the protocol" in err

    run(check())


# ------------------------------------------------ keepalive and close deadlines

KEEPALIVE = b"noio_ws keepalive "


def read_until(
    sock: socket.socket, conn: Connection, kind: type[E], *, answer: bool
) -> tuple[list[bytes], E]:
    """Read from the server until an event of *kind*; the Ping payloads seen (answered if *answer*)."""
    pings: list[bytes] = []
    for _ in range(10_000):  # bounded; each recv is bounded by the socket's timeout too
        event = conn.next_event()
        if event is Signal.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, noio_ws.Ping):
            pings.append(event.payload)
            if answer:
                sock.sendall(conn.send(event.response()))
        elif isinstance(event, kind):
            return pings, event
        else:
            raise AssertionError(f"unexpected {event!r}")
    raise AssertionError(f"no {kind.__name__}")


def seconds_until_eof(sock: socket.socket) -> float:
    started = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass  # an aborted transport may reset
    return time.monotonic() - started


def test_echo_server_closes_a_peer_that_does_not_answer_pings_with_1011() -> None:
    timers = ["--ping-interval", "0.2", "--ping-timeout", "0.3", "--close-timeout", "0.5"]
    with echo_server_process(*timers) as server:
        sock, conn = open_raw(server.port)
        with sock:
            started = time.monotonic()
            pings, close = read_until(sock, conn, Close, answer=False)
            closed_after = time.monotonic() - started
            assert close == Close(1011, "keepalive ping timeout")
            assert len(pings) == 1
            assert pings[0].startswith(KEEPALIVE)
            assert 0.45 <= closed_after < 5  # 0.2 s of silence, then 0.3 s without a Pong
            # We never answer its Close either: it drops us after --close-timeout.
            assert 0.3 <= seconds_until_eof(sock) < 5


def test_echo_server_keeps_a_peer_that_answers_pings() -> None:
    with echo_server_process("--ping-interval", "0.1", "--ping-timeout", "2", "--no-deflate") as server:
        sock, conn = open_raw(server.port)
        with sock:
            pings: list[bytes] = []
            for _ in range(1000):  # bounded; recv has the socket's timeout
                event = conn.next_event()
                if event is Signal.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                    continue
                assert isinstance(event, noio_ws.Ping), event
                pings.append(event.payload)
                sock.sendall(conn.send(event.response()))
                if len(pings) == 3:
                    break
            assert len(set(pings)) == 3  # a new counter each time
            assert all(payload.startswith(KEEPALIVE) for payload in pings)
            sock.sendall(conn.send(TextMessage("still here")))
            _, echo = read_until(sock, conn, TextMessage, answer=True)
            assert echo == TextMessage("still here")
            sock.sendall(conn.send(Close(1000)))
            _, close = read_until(sock, conn, Close, answer=False)
            assert close == Close(1000)


def keepalive_server(
    answer: bool, pings: list[bytes], closes: list[Close]
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A server that answers the client's Pings (closing after 3), or answers nothing at all."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshake = ServerHandshake()
        while handshake.receive_data(await reader.read(65536)) is None:
            pass
        wire, conn = handshake.accept()
        writer.write(wire)
        while not closes:
            event = conn.next_event()
            if event is Signal.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, noio_ws.Ping):
                pings.append(event.payload)
                if answer:
                    writer.write(conn.send(event.response()))
                    if len(pings) == 3:
                        writer.write(conn.send(Close(1000)))
            elif isinstance(event, Close):
                closes.append(event)
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass  # never a Close back: the client must give up by itself
        writer.close()

    return handle


@pytest.mark.parametrize("answer", [True, False])
def test_client_keepalive(answer: bool) -> None:
    async def check() -> None:
        pings: list[bytes] = []
        closes: list[Close] = []
        server = await asyncio.start_server(keepalive_server(answer, pings, closes), "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            loop = asyncio.get_running_loop()
            started = loop.time()
            timing = cli.Timing(ping_interval=0.1, ping_timeout=0.3, close_timeout=0.4)
            status, out, err = await client_in_process(
                f"ws://127.0.0.1:{port}/", b"", keep_stdin_open=True, timing=timing
            )
            elapsed = loop.time() - started
        assert all(payload.startswith(KEEPALIVE) for payload in pings)
        if answer:  # three Pings answered, then the server's Close 1000 ends it
            assert (status, out, err) == (0, b"", "")
            assert len(set(pings)) == 3
            assert closes == [Close(1000)]  # the client's answer
        else:  # one Ping, no Pong: Close 1011, no answer: dropped after the close timeout
            assert (status, out) == (1, b"")
            assert (
                err
                == "noio_ws client: the server did not answer a keepalive ping in time: closed with 1011\n"
            )
            assert len(pings) == 1
            assert closes == [Close(1011, "keepalive ping timeout")]
            assert 0.75 <= elapsed < 5  # 0.1 + 0.3 + 0.4

    run(check())


def test_client_timer_flags(echo_server: EchoServerProcess) -> None:
    flags = ["--ping-interval", "0.05", "--ping-timeout", "5", "--close-timeout", "none"]
    result = run_client(echo_server.url, *flags, stdin=b"a\nb\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"a\nb\n", b"")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20", 20.0), ("0.25", 0.25), ("0", None), ("-1", None), ("none", None), ("Off", None), ("inf", None)],
)
def test_seconds(text: str, seconds: float | None) -> None:
    assert cli._seconds(text) == seconds


# ------------------------------------------------------------------------ the event pump


async def pump_with_peer(
    *, backpressure: bool = False, trace: Callable[[str], None] | None = None
) -> tuple[EventPump, Connection, asyncio.StreamReader, asyncio.StreamWriter]:
    """A server-side ``EventPump`` on a socket pair; the other end's streams and client ``Connection``."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    peer_reader, peer_writer = await asyncio.open_connection(sock=theirs)
    pump = EventPump(
        reader,
        writer,
        Connection(Role.SERVER),
        side="server",
        timing=cli.Timing(None, None, None),
        backpressure=backpressure,
        trace=trace,
    )
    return pump, Connection(Role.CLIENT), peer_reader, peer_writer


@pytest.mark.parametrize("backpressure", [True, False])
def test_pump_answers_pings_and_the_peers_close(backpressure: bool) -> None:
    async def check() -> None:
        pump, peer, peer_reader, peer_writer = await pump_with_peer(backpressure=backpressure)
        peer_writer.write(
            peer.send(noio_ws.Ping(b"hi")) + peer.send(TextMessage("x")) + peer.send(Close(1000, "bye"))
        )
        assert [await pump.receive() for _ in range(4)] == [
            noio_ws.Ping(b"hi"),
            TextMessage("x"),
            Close(1000, "bye"),
            None,  # the connection is over
        ]
        pump.abort()
        peer.receive_data(await peer_reader.read())
        assert list(peer.events()) == [noio_ws.Pong(b"hi"), Close(1000)]
        peer_writer.close()

    run(check())


def test_pump_says_nothing_more_after_its_own_close() -> None:
    # Shutdown: our Close is out, then a Ping (not answered) and a protocol error (no second Close).
    async def check() -> None:
        pump, peer, peer_reader, peer_writer = await pump_with_peer(backpressure=True)
        pump.go_away(Close(1001, "going away"))
        peer_writer.write(peer.send(noio_ws.Ping(b"late")) + reserved_opcode(to=Role.SERVER).wire)
        assert await pump.receive() == noio_ws.Ping(b"late")
        with pytest.raises(noio_ws.RemoteProtocolError) as error:
            await pump.receive()
        assert error.value.close_code == 1002
        pump.abort()
        assert await peer_reader.read() == Connection(Role.SERVER).send(Close(1001, "going away"))
        peer_writer.close()

    run(check())


def test_pump_fails_the_connection_with_the_close_code() -> None:
    async def check() -> None:
        lines: list[str] = []
        pump, peer, peer_reader, peer_writer = await pump_with_peer(trace=lines.append)
        peer_writer.write(reserved_opcode(to=Role.SERVER).wire)
        with pytest.raises(noio_ws.RemoteProtocolError):
            await pump.receive()
        pump.abort()
        peer.receive_data(await peer_reader.read())
        assert list(peer.events()) == [Close(1002)]
        assert lines[0].startswith("  server failed the connection: ")
        assert lines[1] == "  server sent  Close(1002, '')"
        peer_writer.close()

    run(check())


# ------------------------------------------------------------------------ unit


@pytest.mark.parametrize(
    ("url", "host", "port", "resource", "header"),
    [
        ("ws://Example.com/", "example.com", 80, "/", "example.com"),
        ("ws://example.com", "example.com", 80, "/", "example.com"),
        ("wss://example.com:443/a?b=c", "example.com", 443, "/a?b=c", "example.com"),
        ("ws://example.com:8080/x y", "example.com", 8080, "/x%20y", "example.com:8080"),
        ("ws://[::1]:9001/", "::1", 9001, "/", "[::1]:9001"),
        ("ws://bücher.example/", "xn--bcher-kva.example", 80, "/", "xn--bcher-kva.example"),
    ],
)
def test_parse_url(url: str, host: str, port: int, resource: str, header: str) -> None:
    target = _client.parse_url(url)
    assert (target.host, target.port, target.resource, target.host_header) == (host, port, resource, header)
    assert target.secure == url.startswith("wss:")


def test_frame_summary_and_hexdump() -> None:
    client = Connection(Role.CLIENT, mask_key_source=lambda: b"\x00\x00\x00\x00")
    assert _show.frame_summary(client.send(TextMessage("hi"))) == "FIN text, masked, 2 payload bytes"
    server = Connection(Role.SERVER)
    assert (
        _show.frame_summary(server.send(BinaryMessage(b"x" * 200)))
        == "FIN binary, unmasked, 200 payload bytes"
    )
    assert _show.frame_summary(server.send(BinaryMessage(b"x" * 70000))).endswith("70000 payload bytes")
    assert _show.frame_summary(bytes([0x83, 0x00])) == "FIN opcode 0x3, unmasked, 0 payload bytes"
    assert _show.hexdump(b"\x01\x02") == "01 02 (2 bytes)"
    assert _show.hexdump(bytes(30), 4) == "00 00 00 00 ... (30 bytes)"
    assert _show.describe(Close(1000, "bye")) == "Close(1000, 'bye')"
    assert _show.describe(TextMessage("x" * 50)) == f"TextMessage('{'x' * 37}...')"
    assert _show.describe(BinaryMessage(b"\x00", final=False)) == "BinaryMessage(00 (1 bytes), final=False)"


def test_header_lengths_are_what_the_demo_prints() -> None:
    # frame_summary reads the 16- and 64-bit extended lengths (RFC 6455 section 5.2).
    assert (
        _show.frame_summary(b"\x82\x7e" + struct.pack("!H", 300)) == "FIN binary, unmasked, 300 payload bytes"
    )
    assert _show.frame_summary(b"\x82\x7f" + struct.pack("!Q", 1 << 32)).endswith(f"{1 << 32} payload bytes")

"""The CLI's echo server under stress: many clients, hostile ones among them, all at once.

``python -m noio_ws echo-server --port 0 --max-size 65536`` runs as a subprocess.
At the same time:

- 300 well-behaved clients (an asyncio client built on noio_ws's public API,
  half of them with permessage-deflate) send rounds of text and binary messages
  (up to the 64 KiB limit) and pings, check every echo and pong, and close;
- 20 slow readers send message after message and never read: the server must
  stop reading from them (TCP pushes back) rather than buffer;
- 60 peers send random bytes before the handshake, and 60 after it;
- 10 peers send half a request and go quiet.

The well-behaved clients must all get correct echoes, the server's resident
memory (``VmRSS``) must stay under ``RSS_BOUND``, and SIGTERM must close the
remaining connections with 1001 and exit 0. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import noio_ws
from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    Ping,
    Pong,
    RemoteProtocolError,
    Signal,
    TextMessage,
)
from noio_ws.extensions import ExtensionFactory, PerMessageDeflateFactory
from noio_ws.handshake import Accepted, ClientHandshake

MAX_SIZE = 64 * 1024
GOOD_CLIENTS = 300
ROUNDS = 8
SLOW_READERS = 20
GARBAGE_BEFORE = 60
GARBAGE_AFTER = 60
SLOWLORIS = 10
#: The server's resident memory may not exceed this (Linux VmRSS). Per
#: connection it holds at most a 64 KiB read buffer, one message (64 KiB and
#: its copies), a 64 KiB write buffer and zlib's state (about 300 KiB when it
#: both inflates and compresses): about 0.5 MiB, for at most ~450 connections
#: here, on top of the interpreter's ~25 MiB. What it really takes is far less.
RSS_BOUND_KIB = 200 * 1024
TIMEOUT = 90.0  # the whole stress run; it takes 10-30 s
PACKAGE_ROOT = Path(noio_ws.__file__).resolve().parent.parent
LISTENING = re.compile(r"^listening on ws://127\.0\.0\.1:(\d+)/$")


# ------------------------------------------------------------------ the server process


@contextmanager
def echo_server() -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "noio_ws", "echo-server", "--port", "0", "--max-size", str(MAX_SIZE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(15)
        assert lines, "the server printed nothing within 15 s"
        match = LISTENING.match(lines[0].rstrip("\n"))
        assert match, lines[0]
        yield process, int(match.group(1))
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=15)


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match
    return int(match.group(1))


# ------------------------------------------------------------------ a small asyncio client


class Client:
    """A WebSocket client over asyncio streams, with noio_ws's public API only."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: Connection) -> None:
        self.reader, self.writer, self.conn = reader, writer, conn

    @classmethod
    async def connect(cls, port: int, *, deflate: bool = False, small_buffers: bool = False) -> Client:
        sock = socket.socket()
        if small_buffers:  # so that a peer that does not read stalls the server soon
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        factories: list[ExtensionFactory] = [PerMessageDeflateFactory()] if deflate else []
        handshake = ClientHandshake(f"127.0.0.1:{port}", "/", extensions=factories, max_message_size=None)
        writer.write(handshake.send())
        result = None
        while result is None:
            result = handshake.receive_data(await reader.read(65536))
        assert isinstance(result, Accepted), result
        return cls(reader, writer, result.connection)

    async def send(self, event: Event) -> None:
        self.writer.write(self.conn.send(event))
        await self.writer.drain()

    async def receive(self) -> Event:
        """The next event; Pings are answered on the way, as the RFC asks."""
        while True:
            event = self.conn.next_event()
            if event is Signal.NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
            elif isinstance(event, Ping):
                await self.send(event.response())
            elif isinstance(event, Signal):
                raise AssertionError("the server closed unexpectedly")
            else:
                return event

    def abort(self) -> None:
        self.writer.transport.abort()


def random_message(rng: random.Random) -> TextMessage | BinaryMessage:
    size = rng.choice([0, 1, 125, 126, 1000, 4000, rng.randrange(8000), MAX_SIZE // 2, MAX_SIZE - 100])
    if rng.random() < 0.5:
        return TextMessage("".join(rng.choice("aé€𝄞 ") for _ in range(size // 4)))
    return BinaryMessage(rng.randbytes(size))


async def well_behaved(port: int, number: int) -> int:
    """Rounds of messages and a ping; every echo checked; then a clean close. Messages echoed."""
    rng = random.Random(number)
    client = await Client.connect(port, deflate=number % 2 == 1)
    echoed = 0
    for round_ in range(ROUNDS):
        sent = [random_message(rng) for _ in range(3)]
        for message in sent:
            await client.send(message)
        await client.send(Ping(b"round %d" % round_))
        for message in sent:
            assert await client.receive() == message
            echoed += 1
        assert await client.receive() == Pong(b"round %d" % round_)
        await asyncio.sleep(rng.random() * 0.2)  # stay around while the others misbehave
    await client.send(Close(1000, "done"))
    assert await client.receive() == Close(1000)  # Close.response() echoes the code
    assert await client.reader.read() == b""  # then the server closes the transport
    client.writer.close()
    return echoed


async def slow_reader(port: int, number: int) -> tuple[int, Client]:
    """Send messages and never read: how many bytes were written before the server stopped reading."""
    client = await Client.connect(port, small_buffers=True)
    message = client.conn.send(BinaryMessage(random.Random(number).randbytes(MAX_SIZE - 1000)))
    written = 0
    while written < 64 * 1024 * 1024:
        client.writer.write(message)
        written += len(message)
        try:
            await asyncio.wait_for(client.writer.drain(), 1.0)
        except asyncio.TimeoutError:
            return written, client  # the server pushes back: it stopped reading from us
    raise AssertionError(f"the server read {written} bytes from a peer that never reads")


async def garbage(port: int, number: int, *, after_handshake: bool) -> bytes:
    """Random bytes, then EOF; what the server answered before it closed."""
    rng = random.Random(number)
    if after_handshake:
        client = await Client.connect(port)
        reader, writer = client.reader, client.writer
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(rng.randbytes(rng.choice([1, 10, 1000, 20_000, 70_000])))
    answer = b""
    reset = False
    try:
        # The server may already have failed the connection and reset it.
        writer.write_eof()
    except OSError:
        reset = True
    try:
        while chunk := await reader.read(65536):
            answer += chunk
    except ConnectionResetError:
        # The server closed with our garbage unread: the kernel resets the
        # connection, and may drop the end of the answer.
        reset = True
    writer.close()
    if after_handshake:
        # Whatever the server made of the bytes (random bytes may hold a valid frame
        # or two, which it echoes), it answers with valid frames and ends with a Close:
        # its own (1002, 1007, 1009, or an echo) or, after our EOF, none (1006 here).
        conn = client.conn
        conn.receive_data(answer)
        conn.receive_data(b"")
        try:
            events = list(conn.events())
        except RemoteProtocolError as exc:
            raise AssertionError(f"the server sent an invalid frame: {exc}") from None
        assert events, "no Close"
        assert isinstance(events[-1], Close), events[-1]
    elif reset:
        assert b"HTTP/1.1 4".startswith(answer[:10]), answer[:80]
    else:
        assert answer == b"" or re.match(rb"HTTP/1\.1 4\d\d ", answer), answer[:80]
    return answer


async def slowloris(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    await writer.drain()
    return reader, writer


# ------------------------------------------------------------------ the test


async def stress(process: subprocess.Popen[str], port: int) -> tuple[list[int], int]:
    peak = rss_kib(process.pid)
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(process.pid))
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    quiet = [await slowloris(port) for _ in range(SLOWLORIS)]
    slow = [asyncio.create_task(slow_reader(port, number)) for number in range(SLOW_READERS)]
    hostile = [
        asyncio.create_task(garbage(port, number, after_handshake=after))
        for after, count in ((False, GARBAGE_BEFORE), (True, GARBAGE_AFTER))
        for number in range(count)
    ]
    echoed = await asyncio.gather(*(well_behaved(port, number) for number in range(GOOD_CLIENTS)))
    await asyncio.gather(*hostile)
    stalled = await asyncio.gather(*slow)
    assert all(0 < written < 48 * 1024 * 1024 for written, _ in stalled), [written for written, _ in stalled]
    peak = max(peak, rss_kib(process.pid))
    for _, client in stalled:
        client.abort()

    # SIGTERM with connections open: each gets a Close(1001), and the server exits 0.
    for _, writer in quiet:
        writer.transport.abort()
    idle = [await Client.connect(port, deflate=number % 2 == 0) for number in range(10)]
    process.send_signal(signal.SIGTERM)
    for client in idle:
        close = await client.receive()
        assert isinstance(close, Close)
        assert close.code == 1001
        await client.send(close.response())
        client.abort()
    done.set()
    await watcher
    return echoed, peak


def test_echo_server_under_stress() -> None:
    with echo_server() as (process, port):

        async def bounded() -> tuple[list[int], int]:
            return await asyncio.wait_for(stress(process, port), TIMEOUT)

        echoed, peak = asyncio.run(bounded())
        assert echoed == [3 * ROUNDS] * GOOD_CLIENTS
        assert peak < RSS_BOUND_KIB, f"server RSS peaked at {peak} KiB"
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        assert process.returncode == 0, process.returncode
        _, errors = process.communicate(timeout=5)
        # Hostile peers get close codes and HTTP errors: no handler fails, nothing is logged.
        assert errors == "", errors
        print(f"server RSS peak: {peak} KiB")

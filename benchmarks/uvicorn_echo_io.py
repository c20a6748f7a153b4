"""The processes and sockets of ``uvicorn_echo.py``: uvicorn servers and noio_ws clients.

Rules of this module:

- A ``Server`` is ``python -m uvicorn`` serving ``uvicorn_echo_app:app`` with one
  WebSocket backend, in its own process, with the same options for every backend.
  Its CPU time (user + system) is read from /proc to the nanosecond (psutil elsewhere).
  Its output is kept: a traceback or an error in it fails the run.
- The load generator runs on one asyncio event loop in the caller's process. Each
  connection is an ``asyncio.Protocol`` around noio_ws's ``ClientHandshake`` and
  ``Connection``, and its round trips run inside the protocol's callbacks (the echo
  arrives, it is checked, the next message goes out), with no task or future per
  message: the generator must stay cheap, as it shares two cores with the server.
- Every echoed message is compared with the one sent, type and content (text as
  ``str``, binary byte for byte). Anything unexpected (a mismatch, a message that
  nobody asked for, a close the client did not start, a rejected handshake, a
  close reply with another code, a connection that ends before its close
  handshake) is a ``VerificationError``: the run stops.
- Frames sent are masked with a fresh key each (noio_ws's client role), as a
  browser's are. No extension is offered, so nothing is compressed.
"""

from __future__ import annotations

import asyncio
import importlib
import random
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import noio_ws
from noio_ws import (
    BinaryMessage,
    Close,
    CloseCode,
    Connection,
    Event,
    Ping,
    Pong,
    RemoteProtocolError,
    TextMessage,
)
from noio_ws.handshake import Accepted, ClientHandshake

Message: TypeAlias = TextMessage | BinaryMessage

HOST = "127.0.0.1"
APP_DIRECTORY = Path(__file__).resolve().parent
#: The same for every backend (uvicorn's defaults for the rest). At "warning", no backend logs
#: a line per connection: the handshake row measures protocol work, not logging.
UVICORN_OPTIONS = (
    *("--loop", "asyncio", "--http", "h11", "--lifespan", "off"),
    *("--no-access-log", "--log-level", "warning"),
)
DISTINCT = 16  # different payloads per row
#: Longest wait for any one step (connect, a batch of round trips, a close), in seconds.
STEP_TIMEOUT = 120.0


class VerificationError(AssertionError):
    """The server answered something other than the echo the client expects."""


@dataclass(frozen=True)
class Address:
    """Where a server listens."""

    host: str
    port: int


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far, all its threads, in seconds.

    Linux keeps this total to the nanosecond as each thread's run time
    (``/proc/<pid>/task/<tid>/schedstat``, first field); ``/proc/<pid>/stat`` reports
    the same total split into user and system, but in 10 ms clock ticks. Elsewhere,
    psutil.
    """
    tasks = Path(f"/proc/{pid}/task")
    if (tasks / str(pid) / "schedstat").exists():
        return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks.iterdir()) / 1e9
    psutil = importlib.import_module("psutil")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class Server:
    """``python -m uvicorn`` serving the echo app with one backend, on a free port."""

    def __init__(self, backend: str, ws: str) -> None:
        self.backend = backend
        with socket.socket() as probe:  # a free port; uvicorn binds it a moment later
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        self.address = Address(HOST, port)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        command = [sys.executable, "-m", "uvicorn", "uvicorn_echo_app:app", "--app-dir", str(APP_DIRECTORY)]
        command += ["--host", HOST, "--port", str(port), "--ws", ws, *UVICORN_OPTIONS]
        # Run beside the app, so that no other directory's noio_ws is picked up by accident.
        self._process = subprocess.Popen(
            command, cwd=APP_DIRECTORY, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self._process.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the {self.backend} server exited:\n{self.log()}")
            try:
                socket.create_connection((HOST, self.address.port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
            else:
                return
        raise RuntimeError(f"the {self.backend} server did not listen within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def check_log(self) -> None:
        """A traceback or an error in the server's output is a failed run."""
        text = self.log()
        if "Traceback" in text or "ERROR" in text:
            raise VerificationError(f"the {self.backend} server logged an error:\n{text}")

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def noio_ws_source() -> dict[str, str | bool | None]:
    """The noio_ws that clients and servers import (both use this process's path and
    environment): its directory, its git commit, and whether it has uncommitted changes."""
    package = Path(noio_ws.__file__).resolve().parent
    git = ["git", "-C", str(package)]
    try:
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        status = subprocess.run(
            [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return {"path": str(package), "commit": None, "uncommitted_changes": None}
    return {
        "path": str(package),
        "commit": commit.stdout.strip(),
        "uncommitted_changes": bool(status.stdout.strip()),
    }


def idle_cpu(servers: Sequence[Server], seconds: float) -> dict[str, float]:
    """Each idle server's CPU in ms per second: what uvicorn's own timers cost."""
    before = [cpu_seconds(server.pid) for server in servers]
    time.sleep(seconds)
    return {
        server.backend: (cpu_seconds(server.pid) - start) / seconds * 1e3
        for server, start in zip(servers, before, strict=True)
    }


def workload(seed: str, size: int, text: bool, connections: int, count: int) -> list[list[Message]]:
    """What each of *connections* sends in one repetition: *count* messages that cycle
    through DISTINCT different ones of *size* bytes, each connection from its own place,
    so consecutive messages always differ. Seeded: every run sends the same bytes."""
    rng = random.Random(seed)
    pool: list[Message]
    if text:
        # ASCII letters and one two-byte character: *size* bytes of UTF-8 to validate.
        texts = ["".join(rng.choices(string.ascii_letters, k=size - 2)) for _ in range(DISTINCT)]
        pool = [TextMessage(t[: i % len(t)] + "\u00e9" + t[i % len(t) :]) for i, t in enumerate(texts)]
    else:
        pool = [BinaryMessage(rng.randbytes(size)) for _ in range(DISTINCT)]
    return [[pool[(client + index) % DISTINCT] for index in range(count)] for client in range(connections)]


# ---------------------------------------------------------------- clients


class EchoClient(asyncio.Protocol):
    """One client connection: the handshake, closed-loop round trips, the close handshake."""

    def __init__(self, address: Address) -> None:
        self._handshake = ClientHandshake(f"{address.host}:{address.port}", "/")
        self._connection: Connection | None = None
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()  # the current batch
        self.closed: asyncio.Future[None] = loop.create_future()
        self._messages: Sequence[Message] = ()
        self._next = 0  # index in _messages of the message to send next
        self._expected: Message | None = None
        self._closing = False
        self._close_echoed = False
        #: Messages echoed correctly, over the connection's life.
        self.echoed = 0

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._handshake.send())

    def data_received(self, data: bytes) -> None:
        try:
            connection = self._connection
            if connection is None:
                result = self._handshake.receive_data(data)
                if result is None:
                    return
                if not isinstance(result, Accepted):
                    raise VerificationError(f"handshake rejected with status {result.status_code}")
                if result.extensions:
                    raise VerificationError("the server agreed to an extension nobody offered")
                self._connection = connection = result.connection
                self.opened.set_result(None)
            else:
                connection.receive_data(data)
            for event in connection.events():
                self._on_event(connection, event)
        except (VerificationError, RemoteProtocolError) as exc:
            self._fail(exc)

    def eof_received(self) -> None:
        if self._connection is not None:
            self._connection.receive_data(b"")
        # Returning None lets asyncio close the transport: the server closed first.

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._close_echoed:
            self._fail(VerificationError(f"connection lost before the close handshake ({exc!r})"))
        elif not self.closed.done():
            self.closed.set_result(None)

    # ------------------------------------------------------------ the benchmark's steps

    def start(self, messages: Sequence[Message]) -> asyncio.Future[None]:
        """Send *messages* one at a time, each after the echo of the one before;
        the future is done when the last echo has been checked."""
        assert self._connection is not None, "start() before the handshake"
        assert messages, "a batch needs at least one message"
        loop = asyncio.get_running_loop()
        self.finished = loop.create_future()
        self._messages = messages
        self._next = 0
        self._send_next(self._connection)
        return self.finished

    def close(self) -> asyncio.Future[None]:
        """Start the close handshake; the future is done when the server has
        answered it and closed the TCP connection (RFC 6455 section 7.1.1)."""
        assert self._connection is not None
        assert self._transport is not None
        if self._expected is not None:
            raise VerificationError("close() during a batch")
        self._closing = True
        self._transport.write(self._connection.send(Close(CloseCode.NORMAL_CLOSURE)))
        return self.closed

    # ------------------------------------------------------------ internals

    def _send_next(self, connection: Connection) -> None:
        assert self._transport is not None
        message = self._messages[self._next]
        self._next += 1
        self._expected = message
        self._transport.write(connection.send(message))

    def _on_event(self, connection: Connection, event: Event) -> None:
        if isinstance(event, (TextMessage, BinaryMessage)):
            expected = self._expected
            if expected is None:
                raise VerificationError(f"a message nobody asked for: {_describe(event)}")
            if type(event) is not type(expected) or event.data != expected.data:
                raise VerificationError(f"sent {_describe(expected)}, got back {_describe(event)}")
            self.echoed += 1
            self._expected = None
            if self._next < len(self._messages):
                self._send_next(connection)
            else:
                self.finished.set_result(None)
        elif isinstance(event, Close):
            if not self._closing or event.code != CloseCode.NORMAL_CLOSURE:
                raise VerificationError(f"the server closed with {event.code} {event.reason!r}")
            self._close_echoed = True
        elif isinstance(event, Ping):
            assert self._transport is not None
            self._transport.write(connection.send(event.response()))
        elif not isinstance(event, Pong):
            raise VerificationError(f"unexpected event {event!r}")

    def _fail(self, error: Exception) -> None:
        for future in (self.opened, self.finished, self.closed):
            if not future.done():
                future.set_exception(error)
        if self._transport is not None:
            self._transport.abort()


def _describe(message: Message) -> str:
    kind = "text" if isinstance(message, TextMessage) else "binary"
    return f"{kind} of {len(message.data)} {'characters' if kind == 'text' else 'bytes'}"


async def _within(future: asyncio.Future[None], what: str) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(future), STEP_TIMEOUT)
    except asyncio.TimeoutError as exc:  # TimeoutError itself from Python 3.11 on
        raise VerificationError(f"{what}: no answer within {STEP_TIMEOUT:.0f} s") from exc


async def open_clients(address: Address, count: int) -> list[EchoClient]:
    """*count* connections, each through its opening handshake."""
    loop = asyncio.get_running_loop()
    clients: list[EchoClient] = []
    for _ in range(count):
        _, client = await loop.create_connection(lambda: EchoClient(address), address.host, address.port)
        clients.append(client)
    await asyncio.gather(*(_within(client.opened, "opening handshake") for client in clients))
    return clients


async def echo(clients: Sequence[EchoClient], batches: Sequence[Sequence[Message]]) -> int:
    """Run one batch of round trips on each client at once; the number of messages echoed."""
    before = sum(client.echoed for client in clients)
    futures = [client.start(batch) for client, batch in zip(clients, batches, strict=True)]
    await asyncio.gather(*(_within(future, "round trips") for future in futures))
    echoed = sum(client.echoed for client in clients) - before
    expected = sum(len(batch) for batch in batches)
    if echoed != expected:
        raise VerificationError(f"{echoed} messages echoed, {expected} sent")
    return echoed


async def close_clients(clients: Sequence[EchoClient]) -> None:
    """The close handshake on every client, and the server's end of the TCP connection."""
    await asyncio.gather(*(_within(client.close(), "closing handshake") for client in clients))


async def handshakes(address: Address, total: int, concurrency: int) -> int:
    """Open and close *total* connections, *concurrency* at a time; the number done."""

    async def worker(share: int) -> int:
        for _ in range(share):
            (client,) = await open_clients(address, 1)
            await close_clients([client])
        return share

    shares = [total // concurrency + (index < total % concurrency) for index in range(concurrency)]
    return sum(await asyncio.gather(*(worker(share) for share in shares if share)))

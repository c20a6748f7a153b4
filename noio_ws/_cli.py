"""The command line: ``python -m noio_ws demo | echo-server | client`` (see CLI.md).

Rules of this module:
- asyncio, the standard library and noio_ws's public API only (``noio_ws``,
  ``noio_ws.handshake``, ``noio_ws.extensions``): no private imports, no new
  dependency. It is also the worked example of embedding noio_ws in an event loop.
- One task per connection. The ``Connection`` never writes: every byte on the
  wire comes from ``send()``, and the replies the RFC demands (Pong, the answering
  Close, the failing Close of a protocol error) are sent here, explicitly.
- Backpressure: a peer's bytes are read only after what we owe that peer has
  drained (``await writer.drain()`` before each read and after each echoed
  message, with the transport's write buffer bounded). So a peer that sends but
  never reads stalls its own connection, not the server's memory: per
  connection we hold at most the stream buffer, one message (``--max-size``)
  and the write buffer.
- Timeouts: an opening handshake must arrive within ``HANDSHAKE_TIMEOUT``
  (10 s); the client gives connecting plus its handshake ``CONNECT_TIMEOUT``
  (10 s). After that, one timer per connection (``_Timer``) is kept at what
  ``Deadlines`` says, on ``loop.time()``: keepalive Pings after
  ``--ping-interval`` of silence, Close 1011 when a Pong is ``--ping-timeout``
  late, and the transport dropped ``--close-timeout`` after our Close.
- Output: stdout carries only what the command is for (the "listening on"
  line, received messages, the demo's narrative); problems are one line on
  stderr, prefixed with the command's name.
- Exit codes: 0 success; 1 failure after a good start (a demo step failed, the
  connection ended abnormally); 2 usage errors, a server that cannot listen,
  and a client whose connection or handshake failed; 130 on Ctrl-C in the client.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import BinaryIO, TextIO
from urllib.parse import quote, urlsplit

from . import (
    BinaryMessage,
    Close,
    Connection,
    Deadlines,
    Event,
    Expired,
    HandshakeError,
    Ping,
    Pong,
    RemoteProtocolError,
    Signal,
    State,
    TextMessage,
    __version__,
)
from .extensions import ExtensionFactory, PerMessageDeflateFactory
from .handshake import Accepted, ClientHandshake, Rejected, ServerHandshake

__all__ = ["EchoServer", "main", "run_client", "run_demo"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9001
DEFAULT_MAX_SIZE = 16 << 20
#: Bytes asked of the transport per read; also the stream buffer's limit.
READ_SIZE = 64 << 10
#: Above this many unsent bytes, ``drain()`` waits for the peer to read.
WRITE_BUFFER_HIGH = 64 << 10
HANDSHAKE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
#: Close codes that end a connection normally, for the client's exit status.
_NORMAL_CLOSE_CODES = frozenset((1000, 1001, 1005))

Trace = Callable[[str], None]


# ---------------------------------------------------------------- the timer


@dataclass(frozen=True)
class Timing:
    """The timers of a connection, in seconds; None turns one off (see ``Deadlines``)."""

    ping_interval: float | None = PING_INTERVAL
    ping_timeout: float | None = PING_TIMEOUT
    close_timeout: float | None = CLOSE_TIMEOUT


class _Timer:
    """A connection's one asyncio timer, kept at ``Deadlines.deadline`` on ``loop.time()``.

    What can move the deadline goes through here (bytes and events received, our
    Close sent) and reschedules it. When it fires: a keepalive Ping is written, or
    a silent peer gets Close 1011, or, once the close timeout passed, the
    transport is aborted (the reading task then sees the end of the stream).
    """

    def __init__(self, conn: Connection, writer: asyncio.StreamWriter, timing: Timing) -> None:
        self._loop = asyncio.get_running_loop()
        self._conn = conn
        self._writer = writer
        self._deadlines = Deadlines(
            conn,
            now=self._loop.time(),
            ping_interval=timing.ping_interval,
            ping_timeout=timing.ping_timeout,
            close_timeout=timing.close_timeout,
        )
        self._handle: asyncio.TimerHandle | None = None
        self.unresponsive = False  # we closed with 1011: no Pong came in time
        self.timed_out = False  # we dropped the transport: the close handshake did not end
        self._reschedule()

    def data_received(self) -> None:
        self._deadlines.data_received(self._loop.time())
        self._reschedule()

    def event_received(self, event: Event) -> None:
        self._deadlines.event_received(event, self._loop.time())
        self._reschedule()

    def close_sent(self) -> None:
        self._deadlines.close_sent(self._loop.time())
        self._reschedule()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _reschedule(self) -> None:
        # Only ever earlier: a timer left at an older, earlier deadline fires, finds
        # nothing due (expire() returns b"") and moves on. So a busy connection costs
        # one wake-up per interval, not a new timer per read.
        due = self._deadlines.deadline
        if due is not None and (self._handle is None or due < self._handle.when()):
            self.cancel()
            self._handle = self._loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if self._writer.transport.is_closing():
            return  # the connection is ending: its task cancels us
        # Early (see above, and asyncio may run a timer up to its clock resolution
        # early): expire() returns b"" and the timer is set again.
        result = self._deadlines.expire(self._loop.time())
        if result is Expired.PEER_UNRESPONSIVE:
            self.unresponsive = True
            self._writer.write(self._conn.send(Close(1011, "keepalive ping timeout")))
            self._deadlines.close_sent(self._loop.time())
        elif result is Expired.CLOSE_TIMEOUT:
            self.timed_out = True
            self._writer.transport.abort()
        elif result:
            self._writer.write(result)  # a keepalive Ping
        self._reschedule()


# ---------------------------------------------------------------- echo server


@dataclass(eq=False)
class _Peer:
    """One connection of the echo server: its streams, task and WebSocket, once open."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    task: asyncio.Task[None]
    conn: Connection | None = None
    timer: _Timer | None = None

    def going_away(self) -> None:
        """Start closing with 1001: the handler task finishes the close handshake."""
        if self.conn is None or self.timer is None:
            # Still in the opening handshake: nothing to say. The handler reads EOF
            # and returns (cancelling it would upset asyncio's streams on 3.11).
            self.writer.transport.abort()
        elif self.conn.state is State.OPEN:
            self.writer.write(self.conn.send(Close(1001, "server shutting down")))
            self.timer.close_sent()


class EchoServer:
    """Echoes every message back, one task per connection.

    Args:
        deflate: Accept permessage-deflate when a client offers it.
        max_size: Largest message accepted; larger ones fail with 1009.
        handshake_timeout: Seconds a client has to send its opening handshake.
        timing: Keepalive and close timeouts of each connection. At shutdown,
            ``aclose()`` also waits at most ``close_timeout`` (``CLOSE_TIMEOUT``
            if None) before dropping what is left.
        trace: Called with a line describing every event and frame (the demo).
    """

    def __init__(
        self,
        *,
        deflate: bool = True,
        max_size: int = DEFAULT_MAX_SIZE,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        timing: Timing = Timing(),  # frozen: one default for all is safe
        trace: Trace | None = None,
    ) -> None:
        self._deflate = deflate
        self._max_size = max_size
        self._handshake_timeout = handshake_timeout
        self._timing = timing
        # Shutdown and the end of a transport are bounded even without a close timeout.
        self._close_timeout = CLOSE_TIMEOUT if timing.close_timeout is None else timing.close_timeout
        self._trace = trace
        self._server: asyncio.Server | None = None
        self._peers: set[_Peer] = set()

    @property
    def connections(self) -> int:
        """How many connections are being served (handshaking or open)."""
        return len(self._peers)

    async def start(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
        """Start listening; the URL it serves, with the real port (``port=0`` picks one)."""
        # A large backlog: hundreds of clients may connect at the same moment.
        self._server = await asyncio.start_server(self._handle, host, port, limit=READ_SIZE, backlog=1024)
        address = self._server.sockets[0].getsockname()
        return f"ws://{_url_host(address[0])}:{address[1]}/"

    async def aclose(self) -> None:
        """Stop listening, close every connection with 1001 and wait (``close_timeout`` at most)."""
        if self._server is None:
            return
        self._server.close()
        peers = list(self._peers)
        for peer in peers:
            peer.going_away()
        if peers:
            _, pending = await asyncio.wait({peer.task for peer in peers}, timeout=self._close_timeout)
            for peer in peers:
                if peer.task in pending:
                    peer.writer.transport.abort()  # no answer: drop it, its handler sees EOF
            if pending:
                _, pending = await asyncio.wait(pending, timeout=self._close_timeout)
            for task in pending:  # a handler that EOF did not end: last resort
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = _Peer(reader, writer, task)
        self._peers.add(peer)
        # drain() waits while more than this is unsent: memory stays bounded
        # whatever the peer does, and we stop reading from it meanwhile.
        writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        try:
            peer.conn = await self._handshake(reader, writer)
            if peer.conn is not None:
                peer.timer = _Timer(peer.conn, writer, self._timing)
                await self._echo(reader, writer, peer.conn, peer.timer)
        except OSError:
            pass  # the peer vanished (reset, broken pipe): nothing left to do
        except Exception as exc:  # one connection's bug must not stop the server
            where = writer.get_extra_info("peername")
            print(f"noio_ws echo-server: connection {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            if peer.timer is not None:
                peer.timer.cancel()
            self._peers.discard(peer)
            await self._close_transport(writer)

    async def _close_transport(self, writer: asyncio.StreamWriter) -> None:
        writer.close()  # sends what is buffered, then FIN
        try:
            await asyncio.wait_for(writer.wait_closed(), self._close_timeout)
        except (asyncio.TimeoutError, OSError):
            writer.transport.abort()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Connection | None:
        """Read and answer the opening handshake; the open ``Connection``, or None if refused."""
        factories: list[ExtensionFactory] = [PerMessageDeflateFactory()] if self._deflate else []
        handshake = ServerHandshake(extensions=factories, max_message_size=self._max_size)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._handshake_timeout  # for the whole request, not per read
        received = 0
        try:
            request = None
            while request is None:
                data = await asyncio.wait_for(reader.read(READ_SIZE), max(0.0, deadline - loop.time()))
                received += len(data)
                request = handshake.receive_data(data)
        except asyncio.TimeoutError:
            return None  # idle: h11 cannot answer a request it never saw, so just hang up
        except HandshakeError as err:
            if received:  # a client that sent nothing at all gets no answer either
                writer.write(handshake.reject_error(err))
            if self._trace:
                self._trace(f"  server refused the handshake: {err.status_code} {err}")
            return None
        wire, conn = handshake.accept()
        writer.write(wire)
        if self._trace:
            offers = ", ".join(name for name, _ in request.extensions) or "none"
            agreed = ", ".join(repr(extension) for extension in conn.extensions) or "none"
            self._trace(f"  server got   GET {request.target} (extensions offered: {offers})")
            self._trace(f"  server sent  101 Switching Protocols (extensions in use: {agreed})")
        return conn

    async def _echo(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: Connection, timer: _Timer
    ) -> None:
        """Echo messages, answer pings and finish the close handshake; *timer* hears of it all."""
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as err:
                if self._trace:
                    self._trace(f"  server failed the connection: {err} (close code {err.close_code})")
                if conn.state is State.FAILED:  # in LOCAL_CLOSING our Close is already out
                    self._send(writer, conn, Close(err.close_code))
                return
            if event is Signal.NEED_DATA:
                await writer.drain()  # backpressure: what we owe this peer goes out first
                data = await reader.read(READ_SIZE)
                if data:
                    timer.data_received()
                conn.receive_data(data)
                continue
            if event is Signal.CLOSED:
                return
            timer.event_received(event)
            if self._trace:
                self._trace(f"  server got   {describe(event)}")
            if isinstance(event, Close):
                if conn.state is State.REMOTE_CLOSING:  # else it answers our Close (or is EOF)
                    self._send(writer, conn, event.response())
            elif conn.state is not State.OPEN:
                pass  # after our own Close (shutdown), RFC 6455 lets us send nothing more
            elif isinstance(event, (TextMessage, BinaryMessage)):
                self._send(writer, conn, event)
                await writer.drain()  # one message at a time, however many arrived at once
            elif isinstance(event, Ping):
                self._send(writer, conn, event.response())

    def _send(self, writer: asyncio.StreamWriter, conn: Connection, event: Event) -> None:
        wire = conn.send(event)
        writer.write(wire)
        if self._trace:
            self._trace(f"  server sent  {describe(event)}")
            self._trace(f"    frame  {frame_summary(wire)}")
            self._trace(f"    wire   {hexdump(wire)}")


async def run_echo_server(
    host: str,
    port: int,
    *,
    deflate: bool,
    max_size: int,
    timing: Timing = Timing(),
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """The ``echo-server`` command: serve until SIGINT or SIGTERM, then close with 1001."""
    server = EchoServer(deflate=deflate, max_size=max_size, timing=timing)
    stopping = asyncio.Event()
    # Before listening: a signal sent as soon as the port answers must find the handlers.
    restore = _on_signals(stopping.set)
    try:
        try:
            url = await server.start(host, port)
        except OSError as exc:
            print(f"noio_ws echo-server: cannot listen on {host}:{port}: {_one_line(exc)}", file=stderr)
            return 2
        print(f"listening on {url}", file=stdout, flush=True)
        await stopping.wait()
    finally:
        restore()
        await server.aclose()
    return 0


def _on_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Call *callback* in the loop on SIGINT and SIGTERM; returns what undoes it."""
    loop = asyncio.get_running_loop()
    signals = [signal.SIGINT, signal.SIGTERM]
    try:
        for signum in signals:
            loop.add_signal_handler(signum, callback)
    except NotImplementedError:  # Windows: no add_signal_handler, plain handlers instead
        previous = {signum: signal.getsignal(signum) for signum in signals}
        for signum in signals:
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(callback))

        def restore_handlers() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        return restore_handlers

    def remove_handlers() -> None:
        for signum in signals:
            loop.remove_signal_handler(signum)

    return remove_handlers


# ---------------------------------------------------------------------- client


class ClientError(Exception):
    """The client could not connect, or its handshake failed: exit status 2."""


@dataclass(frozen=True)
class _Target:
    """Where a ws:// or wss:// URL points."""

    secure: bool
    host: str  # ASCII (IDNA), without brackets
    port: int
    resource: str  # path and query, percent-encoded
    host_header: str


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ClientError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise ClientError(f"invalid URL {url!r}: it must start with ws:// or wss://")
    if not parts.hostname:
        raise ClientError(f"invalid URL {url!r}: no host")
    if parts.fragment:  # RFC 6455 section 3
        raise ClientError(f"invalid URL {url!r}: a WebSocket URL has no fragment")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ClientError(f"invalid URL {url!r}: {exc}") from None
    secure = parts.scheme == "wss"
    default = 443 if secure else 80
    # h11 accepts only visible ASCII in a request target.
    resource = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
    if parts.query:
        resource += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=~")
    bracketed = _url_host(host)
    header = bracketed if port in (None, default) else f"{bracketed}:{port}"
    return _Target(secure, host, port or default, resource, header)


async def _connect(
    url: str, *, deflate: bool, subprotocols: Sequence[str], max_size: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Accepted]:
    """Open the TCP (and TLS) connection and do the opening handshake; ``ClientError`` if that fails."""
    target = _parse_url(url)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target.host,
                target.port,
                ssl=ssl.create_default_context() if target.secure else None,
                limit=READ_SIZE,
            ),
            CONNECT_TIMEOUT,
        )
    except asyncio.TimeoutError:
        raise ClientError(f"cannot connect to {url}: no answer within {CONNECT_TIMEOUT:g} s") from None
    except OSError as exc:
        raise ClientError(f"cannot connect to {url}: {exc}") from None
    factories: list[ExtensionFactory] = [PerMessageDeflateFactory()] if deflate else []
    handshake = ClientHandshake(
        target.host_header,
        target.resource,
        subprotocols=subprotocols,
        extensions=factories,
        max_message_size=max_size,
    )
    try:
        writer.write(handshake.send())
        result = await asyncio.wait_for(_read_response(reader, handshake), CONNECT_TIMEOUT)
    except asyncio.TimeoutError:
        writer.transport.abort()
        raise ClientError(f"{url}: no handshake response within {CONNECT_TIMEOUT:g} s") from None
    except HandshakeError as exc:
        writer.transport.abort()
        raise ClientError(f"{url}: invalid handshake response: {exc}") from None
    except OSError as exc:
        writer.transport.abort()
        raise ClientError(f"{url}: connection lost during the handshake: {exc}") from None
    if isinstance(result, Rejected):
        writer.transport.abort()
        raise ClientError(f"{url} rejected the WebSocket handshake: HTTP {_status_text(result.status_code)}")
    writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
    return reader, writer, result


async def _read_response(reader: asyncio.StreamReader, handshake: ClientHandshake) -> Accepted | Rejected:
    while True:
        result = handshake.receive_data(await reader.read(READ_SIZE))
        if result is not None:
            return result


class _StdinLines:
    """Lines of a file descriptor, read by a daemon thread and handed to the loop.

    A thread works with any stdin (pipe, file, terminal), unlike the loop's pipe
    transports, and one blocked in ``os.read`` cannot hold up the exit. It may
    run ahead of the WebSocket by ``_AHEAD`` chunks, no more.
    """

    _AHEAD = 4

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._credit = threading.Semaphore(self._AHEAD)
        self._pending = bytearray()
        self._eof = False
        threading.Thread(target=self._read, name="noio_ws-stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            self._credit.acquire()
            try:
                chunk = os.read(self._fd, READ_SIZE)
            except OSError:
                chunk = b""
            try:
                self._loop.call_soon_threadsafe(self._chunks.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: nobody wants more
                return
            if not chunk:
                return

    async def readline(self) -> str | None:
        """The next line without its line ending, or None at EOF."""
        while True:
            end = self._pending.find(b"\n")
            if end >= 0:
                line = bytes(self._pending[:end])
                del self._pending[: end + 1]
                return _decode_line(line)
            if self._eof:
                if not self._pending:
                    return None
                line = bytes(self._pending)  # a last line without a newline
                self._pending.clear()
                return _decode_line(line)
            chunk = await self._chunks.get()
            self._credit.release()
            self._pending += chunk
            self._eof = not chunk


def _decode_line(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", "replace")


class _ClientSession:
    """The client after the handshake: stdin lines out, messages to stdout."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: Connection,
        stdout: BinaryIO,
        stderr: TextIO,
        *,
        timing: Timing,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._conn = conn
        self._stdout = stdout
        self._stderr = stderr
        self._timer = _Timer(conn, writer, timing)
        # Two tasks write; drain() must not be awaited by both at once on Python 3.10.
        self._drain_lock = asyncio.Lock()

    async def _write(self, event: Event) -> None:
        self._writer.write(self._conn.send(event))
        if isinstance(event, Close):
            self._timer.close_sent()
        async with self._drain_lock:
            await self._writer.drain()

    async def send_lines(self, lines: _StdinLines) -> None:
        """Send each line as a text message; at EOF, send Close 1000."""
        while self._conn.state is State.OPEN:
            line = await lines.readline()
            if self._conn.state is not State.OPEN:
                break  # the server closed while we waited for stdin
            if line is None:
                await self._write(Close(1000))
                break
            await self._write(TextMessage(line))

    async def receive(self) -> int:
        """Print messages until the connection closes; the exit status it deserves."""
        conn = self._conn
        status = 1
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as err:
                self._error(f"the server broke the protocol: {err}")
                if conn.state is State.FAILED:
                    await self._write(Close(err.close_code))
                return 1
            if event is Signal.NEED_DATA:
                self._stdout.flush()
                try:
                    data = await self._reader.read(READ_SIZE)
                except OSError:
                    data = b""  # a reset is an end of the transport, reported as 1006
                if data:
                    self._timer.data_received()
                conn.receive_data(data)
                continue
            if event is Signal.CLOSED:
                return status
            self._timer.event_received(event)
            if isinstance(event, TextMessage):
                self._stdout.write(event.data.encode("utf-8") + b"\n")
            elif isinstance(event, BinaryMessage):
                self._stdout.write(b"<binary %d bytes>\n" % len(event.data))
            elif isinstance(event, Ping) and conn.state is State.OPEN:
                await self._write(event.response())
            elif isinstance(event, Close):
                if conn.state is State.REMOTE_CLOSING:
                    await self._write(event.response())
                status = self._status(event)

    def _status(self, close: Close) -> int:
        """The exit status the end of the connection deserves, and one line on stderr if not 0."""
        if self._timer.unresponsive:
            self._error("the server did not answer a keepalive ping in time: closed with 1011")
            return 1
        if self._timer.timed_out:
            return 0  # stdin ended and our Close went unanswered: nothing was lost
        if close.code in _NORMAL_CLOSE_CODES:
            return 0
        reason = f" ({close.reason})" if close.reason else ""
        self._error(f"the connection closed with code {close.code}{reason}")
        return 1

    def _error(self, message: str) -> None:
        print(f"noio_ws client: {_one_line(message)}", file=self._stderr, flush=True)

    async def wait_closed(self) -> None:
        """After the close handshake the server closes TCP first (RFC 6455 section 7.1.1).

        The close timeout, counted from our Close, bounds the wait: the timer aborts the
        transport, which ends the stream.
        """
        try:
            while await self._reader.read(READ_SIZE):
                pass
        except OSError:
            pass
        self._timer.cancel()
        self._writer.transport.abort()

    def abort(self) -> None:
        self._timer.cancel()
        self._writer.transport.abort()


async def run_client(
    url: str,
    *,
    deflate: bool = True,
    subprotocols: Sequence[str] = (),
    max_size: int = DEFAULT_MAX_SIZE,
    timing: Timing = Timing(),
    stdin_fd: int = 0,
    stdout: BinaryIO,
    stderr: TextIO,
) -> int:
    """The ``client`` command: stdin lines out as text, messages to stdout; the exit status."""
    try:
        reader, writer, accepted = await _connect(
            url, deflate=deflate, subprotocols=subprotocols, max_size=max_size
        )
    except ClientError as exc:
        print(f"noio_ws client: {_one_line(exc)}", file=stderr, flush=True)
        return 2
    session = _ClientSession(reader, writer, accepted.connection, stdout, stderr, timing=timing)
    receiver = asyncio.create_task(session.receive())
    sender = asyncio.create_task(session.send_lines(_StdinLines(stdin_fd)))
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if not receiver.done():
            sender.result()  # raises what stopped the sender, if anything did
            # stdin ended and our Close is out: the close timeout bounds the wait for the server's.
            await receiver
        status = receiver.result()
    except BrokenPipeError:
        session.abort()
        raise  # stdout is gone (``| head``): main() ends quietly
    except OSError as exc:
        print(f"noio_ws client: connection lost: {_one_line(exc)}", file=stderr, flush=True)
        status = 1
        session.abort()
    finally:
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
        stdout.flush()
    await session.wait_closed()
    return status


# ------------------------------------------------------------------------ demo


def describe(event: Event) -> str:
    """A short description of *event*, with long data abbreviated."""
    if isinstance(event, TextMessage):
        text = event.data if len(event.data) <= 40 else event.data[:37] + "..."
        return f"TextMessage({text!r}{'' if event.final else ', final=False'})"
    if isinstance(event, BinaryMessage):
        final = "" if event.final else ", final=False"
        return f"BinaryMessage({hexdump(event.data, 8)}{final})"
    if isinstance(event, (Ping, Pong)):
        return f"{type(event).__name__}({event.payload!r})"
    if isinstance(event, Close):
        return f"Close({event.code}, {event.reason!r})"
    return repr(event)


def hexdump(data: bytes, limit: int = 20) -> str:
    """*data* as hex bytes, the first *limit* of them, and the total length."""
    shown = data[:limit].hex(" ")
    more = " ..." if len(data) > limit else ""
    return f"{shown}{more} ({len(data)} bytes)"


_OPCODES = {0x0: "continuation", 0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}
_FLAGS = ((0x80, "FIN"), (0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3"))


def frame_summary(frame: bytes) -> str:
    """What the header of one frame says (RFC 6455 section 5.2)."""
    first, second = frame[0], frame[1]
    words = [name for bit, name in _FLAGS if first & bit]
    words.append(_OPCODES.get(first & 0x0F, f"opcode {first & 0x0F:#x}"))
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(frame[2:4], "big")
    elif length == 127:
        length = int.from_bytes(frame[2:10], "big")
    masked = "masked" if second & 0x80 else "unmasked"
    return f"{' '.join(words)}, {masked}, {length} payload bytes"


class DemoFailed(Exception):
    """A step of the demo did not go as expected."""


class _DemoClient:
    """The demo's client: sends events and shows each frame, then shows what comes back."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: Connection, out: TextIO
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._conn = conn
        self._out = out

    async def send(self, *events: Event) -> None:
        for event in events:
            wire = self._conn.send(event)
            print(f"  client sent  {describe(event)}", file=self._out)
            print(f"    frame  {frame_summary(wire)}", file=self._out)
            print(f"    wire   {hexdump(wire)}", file=self._out)
            self._writer.write(wire)
        await self._writer.drain()

    async def receive(self, count: int) -> list[Event]:
        """The next *count* events (fewer if the connection closes first)."""
        received: list[Event] = []
        while len(received) < count:
            event = self._conn.next_event()
            if event is Signal.NEED_DATA:
                self._conn.receive_data(await self._reader.read(READ_SIZE))
            elif event is Signal.CLOSED:
                break
            else:
                print(f"  client got   {describe(event)}", file=self._out)
                received.append(event)
        return received


_GREETING = "Hello, WebSocket!"
_DEMO_STEPS: list[tuple[str, list[Event], list[Event]]] = [
    ("a text message, compressed", [TextMessage(_GREETING)], [TextMessage(_GREETING)]),
    ("a binary message", [BinaryMessage(bytes(range(32)))], [BinaryMessage(bytes(range(32)))]),
    (
        "a text message in three fragments, echoed whole",
        [TextMessage("frag", final=False), TextMessage("mented ", final=False), TextMessage("message")],
        [TextMessage("fragmented message")],
    ),
    ("ping and pong", [Ping(b"are you there?")], [Pong(b"are you there?")]),
    ("the close handshake", [Close(1000, "done")], [Close(1000)]),
]
_STEP_TIMEOUT = 5.0


async def run_demo(out: TextIO) -> int:
    """The ``demo`` command: a narrated conversation with an echo server; 0 if every step succeeded."""

    def show(line: str) -> None:
        print(line, file=out)

    server = EchoServer(trace=show)
    url = await server.start(DEFAULT_HOST, 0)
    show(f"noio_ws {__version__} demo: an echo server on {url} and a client, in one process.")
    show("Client frames are masked (RFC 6455 section 5.3), the server's are not;")
    show("RSV1 on a message's first frame means it is compressed (RFC 7692).")
    steps = 1 + len(_DEMO_STEPS)
    done = 0
    writer: asyncio.StreamWriter | None = None
    try:
        show(f"\n[1/{steps}] opening handshake, offering permessage-deflate")
        reader, writer, client = await asyncio.wait_for(_demo_handshake(url, out), _STEP_TIMEOUT)
        done += 1
        for number, (title, sent, expected) in enumerate(_DEMO_STEPS, start=2):
            show(f"\n[{number}/{steps}] {title}")
            await client.send(*sent)
            received = await asyncio.wait_for(client.receive(len(expected)), _STEP_TIMEOUT)
            if received != expected:
                raise DemoFailed(
                    f"expected {[describe(e) for e in expected]}, got {[describe(e) for e in received]}"
                )
            show("  ok")
            done += 1
        if await asyncio.wait_for(reader.read(), _STEP_TIMEOUT) != b"":
            raise DemoFailed("bytes after the close handshake")
        show("  the server closed the TCP connection: both sides are CLOSED")
    except (DemoFailed, HandshakeError, OSError, asyncio.TimeoutError) as exc:
        show(f"  FAILED: {_one_line(exc) or type(exc).__name__}")
        show(f"\ndemo failed: {done} of {steps} steps succeeded")
        return 1
    finally:
        if writer is not None:
            writer.transport.abort()
        await server.aclose()
    show(f"\nall {steps} steps succeeded")
    return 0


async def _demo_handshake(
    url: str, out: TextIO
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, _DemoClient]:
    target = _parse_url(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    handshake = ClientHandshake(target.host_header, target.resource, extensions=[PerMessageDeflateFactory()])
    request = handshake.send()
    print("  client sent  the HTTP upgrade request:", file=out)
    for line in request.decode("ascii").splitlines():
        if line:
            print(f"    | {line}", file=out)
    writer.write(request)
    result = await _read_response(reader, handshake)
    if isinstance(result, Rejected):
        raise DemoFailed(f"the server answered {result.status_code}")
    print(f"  client got   101 Switching Protocols; extensions in use: {list(result.extensions)}", file=out)
    if [extension.name for extension in result.extensions] != ["permessage-deflate"]:
        raise DemoFailed("permessage-deflate was not agreed")
    print("  ok", file=out)
    return reader, writer, _DemoClient(reader, writer, result.connection, out)


# --------------------------------------------------------------------- helpers


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _size(text: str) -> int:
    """argparse type for --max-size: a whole number of bytes, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of bytes: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float | None:
    """argparse type for the timers: seconds; 0, a negative number or "none" turns it off."""
    if text.strip().lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value if 0 < value < math.inf else None


def _add_timing(parser: argparse.ArgumentParser) -> None:
    def add(flag: str, default: float, what: str) -> None:
        parser.add_argument(
            flag,
            type=_seconds,
            default=default,
            metavar="SECONDS",
            help=f"{what} (default: %(default)g; 0 or none: off)",
        )

    add("--ping-interval", PING_INTERVAL, "send a Ping after this long without hearing from the peer")
    add("--ping-timeout", PING_TIMEOUT, "close with 1011 if that Ping's Pong is this late")
    add("--close-timeout", CLOSE_TIMEOUT, "drop the connection this long after our Close if it has not ended")


def _timing(args: argparse.Namespace) -> Timing:
    return Timing(args.ping_interval, args.ping_timeout, args.close_timeout)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m noio_ws",
        description="noio_ws command line: a narrated demo, an echo server and a line-based client.",
    )
    parser.add_argument("--version", action="version", version=f"noio_ws {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "demo",
        help="run an echo server and a client in one process and show every frame",
        description=(
            "Start an echo server on a free loopback port, connect a client and walk through "
            "the handshake (with permessage-deflate), a text, a binary and a fragmented message, "
            "ping/pong and the close handshake, showing the frames on the wire and the events "
            "each side receives. Exits 0 if every step succeeded, 1 otherwise."
        ),
    )

    server = commands.add_parser(
        "echo-server",
        help="serve ws://HOST:PORT/ and echo every message",
        description=(
            "Serve WebSocket connections on ws://HOST:PORT/ (any path) and echo every message. "
            'Prints "listening on ws://HOST:PORT/" once listening. Runs until SIGINT or SIGTERM, '
            f"then closes every connection with 1001 and exits 0. Opening handshakes must arrive "
            f"within {HANDSHAKE_TIMEOUT:g} s."
        ),
    )
    server.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    server.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port, 0 for a free one (default: %(default)s)"
    )
    server.add_argument("--no-deflate", action="store_true", help="do not negotiate permessage-deflate")
    server.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_SIZE,
        metavar="BYTES",
        help="largest message accepted; larger ones close the connection with 1009 (default: %(default)s)",
    )
    _add_timing(server)

    client = commands.add_parser(
        "client",
        help="send stdin lines to a WebSocket server and print what it sends",
        description=(
            "Connect to URL (ws:// or wss://), send each line of stdin as a text message and "
            'print each message received: text as one line, binary as "<binary N bytes>". '
            "At the end of stdin, close with 1000 and wait (at most --close-timeout) for the "
            "close handshake. Exits 0 after a normal close, 1 if the connection ended abnormally, "
            "2 if the connection or the handshake failed."
        ),
    )
    client.add_argument("url", metavar="URL", help="ws://host[:port]/path or wss://...")
    client.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    client.add_argument(
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="offer this subprotocol (repeat for several, most preferred first)",
    )
    _add_timing(client)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status."""
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:  # the client's Ctrl-C; the server handles SIGINT itself
        return 130
    except BrokenPipeError:
        # Whoever read our stdout stopped (``| head``). Point stdout at devnull so
        # that the interpreter's final flush does not fail as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


async def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return await run_demo(sys.stdout)
    if args.command == "echo-server":
        return await run_echo_server(
            args.host,
            args.port,
            deflate=not args.no_deflate,
            max_size=args.max_size,
            timing=_timing(args),
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    return await run_client(
        args.url,
        deflate=not args.no_deflate,
        subprotocols=args.subprotocol,
        timing=_timing(args),
        stdout=sys.stdout.buffer,
        stderr=sys.stderr,
    )

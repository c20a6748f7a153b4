"""``echo-server``: serve ws://HOST:PORT/ and echo every message back.

Rules of this module:
- One task per connection: the opening handshake (within ``HANDSHAKE_TIMEOUT``),
  then an ``EventPump`` with backpressure. Per connection we hold at most the
  stream buffer, one message (``--max-size``) and the write buffer.
- One connection's failure, a bug included, is reported on stderr and drops
  that connection alone.
- Shutdown: every open connection gets Close 1001; what has not ended
  ``close_timeout`` later is dropped.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from .. import BinaryMessage, Close, Connection, HandshakeError, RemoteProtocolError, State, TextMessage
from ..extensions import ExtensionFactory, PerMessageDeflateFactory
from ..handshake import ServerHandshake
from ._pump import CLOSE_TIMEOUT, DEFAULT_MAX_SIZE, DEFAULT_TIMING, READ_SIZE, EventPump, Timing
from ._show import Trace, one_line, url_host

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "HANDSHAKE_TIMEOUT", "EchoServer", "run_echo_server"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9001
HANDSHAKE_TIMEOUT = 10.0


@dataclass(eq=False)
class _Peer:
    """One connection of the echo server: its transport, its task and, once open, its pump."""

    writer: asyncio.StreamWriter
    task: asyncio.Task[None]
    pump: EventPump | None = None

    def going_away(self) -> None:
        """Start closing with 1001: the handler task finishes the close handshake."""
        if self.pump is None:
            # Still in the opening handshake: nothing to say. The handler reads EOF
            # and returns (cancelling it would upset asyncio's streams on 3.11).
            self.writer.transport.abort()
        elif self.pump.conn.state is State.OPEN:
            self.pump.go_away(Close(1001, "server shutting down"))


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
        timing: Timing = DEFAULT_TIMING,
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
        return f"ws://{url_host(address[0])}:{address[1]}/"

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
        peer = _Peer(writer, task)
        self._peers.add(peer)
        try:
            conn = await self._handshake(reader, writer)
            if conn is not None:
                peer.pump = EventPump(
                    reader,
                    writer,
                    conn,
                    side="server",
                    timing=self._timing,
                    backpressure=True,
                    trace=self._trace,
                )
                await self._echo(peer.pump)
        except OSError:
            pass  # the peer vanished (reset, broken pipe): nothing left to do
        except Exception as exc:  # one connection's bug must not stop the server
            where = writer.get_extra_info("peername")
            print(f"noio_ws echo-server: connection {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            if peer.pump is not None:
                peer.pump.stop_timer()
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

    async def _echo(self, pump: EventPump) -> None:
        """Echo every message while the connection is open; the pump does the rest."""
        try:
            while (event := await pump.receive()) is not None:
                # After our own Close (shutdown), RFC 6455 lets us send nothing more.
                if isinstance(event, (TextMessage, BinaryMessage)) and pump.conn.state is State.OPEN:
                    await pump.send(event)  # one message at a time, however many arrived at once
        except RemoteProtocolError:
            pass  # the pump wrote the failing Close; the handler drops the transport


async def run_echo_server(
    host: str,
    port: int,
    *,
    deflate: bool,
    max_size: int,
    timing: Timing = DEFAULT_TIMING,
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
            print(f"noio_ws echo-server: cannot listen on {host}:{port}: {one_line(exc)}", file=stderr)
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

"""A small asyncio adapter for noio_ws: ``connect()``, ``serve()`` and ``WebSocket``.

Copy this file and adapt it: it is the glue between asyncio's streams and
noio_ws's sans-io ``Connection``, and nothing more. Usage::

    async def echo(ws: WebSocket) -> None:
        async for message in ws:          # str for text, bytes for binary
            await ws.send(message)

    server = await serve(echo, "127.0.0.1", 8765)

    ws = await connect("ws://127.0.0.1:8765/")
    await ws.send("hello")
    print(await ws.recv())
    await ws.close()

Pings are answered and the close handshake is completed inside ``recv()``, so
keep receiving. One task may call ``recv()`` at a time; any task may ``send()``.
Backpressure works both ways: ``send()`` waits until the peer has read enough
(``writer.drain()``), and bytes are read from the socket only when ``recv()``
asks for them, so a slow consumer slows its peer down instead of buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    HandshakeError,
    Ping,
    RemoteProtocolError,
    Role,
    Signal,
    State,
    TextMessage,
)
from noio_ws.extensions import ExtensionFactory, PerMessageDeflateFactory
from noio_ws.handshake import ClientHandshake, Rejected, ServerHandshake

READ_SIZE = 64 * 1024
CLOSE_TIMEOUT = 5.0  # how long to wait for the peer's answering Close
HANDSHAKE_TIMEOUT = 10.0


class ConnectionClosed(Exception):
    """The connection is closed; ``code`` and ``reason`` say how (1006: it was dropped)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class WebSocket:
    """One open WebSocket connection over an asyncio stream pair."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: Connection,
        subprotocol: str | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._conn = conn
        self.subprotocol = subprotocol
        self.close_code: int | None = None  # set once the connection is closed
        self.close_reason = ""
        # drain() waits while more than 64 KiB is unsent; on Python 3.10 two
        # tasks must not wait in drain() at once, hence the lock.
        writer.transport.set_write_buffer_limits(high=64 * 1024)
        self._drain_lock = asyncio.Lock()

    @property
    def extensions(self) -> list[str]:
        """Names of the extensions in use, e.g. ``["permessage-deflate"]``."""
        return [extension.name for extension in self._conn.extensions]

    async def send(self, message: str | bytes) -> None:
        """Send a text (str) or binary (bytes) message; waits while the peer is slow."""
        event = TextMessage(message) if isinstance(message, str) else BinaryMessage(bytes(message))
        await self._send(event)

    async def ping(self, payload: bytes = b"") -> None:
        """Send a Ping; its Pong will be skipped by ``recv()``."""
        await self._send(Ping(payload))

    async def recv(self) -> str | bytes:
        """The next message: str for text, bytes for binary. Raises ``ConnectionClosed``."""
        while True:
            event = await self._next_event()
            if isinstance(event, (TextMessage, BinaryMessage)):
                return event.data

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait (``CLOSE_TIMEOUT`` at most) for the peer's answer."""
        if self._conn.state is State.OPEN:
            await self._write(Close(code, reason))
        # Messages still in flight are dropped until the peer's Close arrives.
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            await asyncio.wait_for(self._until_closed(), CLOSE_TIMEOUT)
        await self._drop()

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> str | bytes:
        """Iterate over messages until a normal close (1000, 1001 or no code)."""
        try:
            return await self.recv()
        except ConnectionClosed as exc:
            if exc.code in (1000, 1001, 1005):
                raise StopAsyncIteration from None
            raise

    async def _until_closed(self) -> None:
        try:
            while True:
                await self._next_event()
        except ConnectionClosed:
            pass

    async def _send(self, event: Event) -> None:
        if self._conn.state is not State.OPEN:
            raise ConnectionClosed(self.close_code or 1006, self.close_reason)
        await self._write(event)

    async def _write(self, event: Event) -> None:
        # noio_ws never writes by itself: every byte sent comes from send().
        self._writer.write(self._conn.send(event))
        async with self._drain_lock:
            await self._writer.drain()

    async def _next_event(self) -> Event:
        """The next event from the peer, answering pings and closes on the way."""
        while True:
            try:
                event = self._conn.next_event()
            except RemoteProtocolError as err:
                # The peer broke the protocol: tell it why (1002, 1007, 1009...) and hang up.
                if self._conn.state is State.FAILED:
                    await self._write(Close(err.close_code))
                await self._closed(err.close_code, str(err))
                raise ConnectionClosed(err.close_code, str(err)) from None
            if event is Signal.NEED_DATA:
                try:
                    data = await self._reader.read(READ_SIZE)
                except OSError:
                    data = b""  # a reset: the connection reports it as Close(1006)
                self._conn.receive_data(data)
            elif event is Signal.CLOSED:
                raise ConnectionClosed(self.close_code or 1006, self.close_reason)
            elif isinstance(event, Ping):
                if self._conn.state is State.OPEN:  # not after our own Close
                    await self._write(event.response())
            elif isinstance(event, Close):
                if self._conn.state is State.REMOTE_CLOSING:  # their Close: answer it
                    await self._write(event.response())
                await self._closed(event.code, event.reason)
                raise ConnectionClosed(event.code, event.reason)
            else:
                return event

    async def _closed(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        if self._conn.role is Role.CLIENT:
            # RFC 6455 section 7.1.1: the server closes TCP first; give it a moment.
            try:
                while await asyncio.wait_for(self._reader.read(READ_SIZE), CLOSE_TIMEOUT):
                    pass
            except (asyncio.TimeoutError, OSError):
                pass
        await self._drop()

    async def _drop(self) -> None:
        if self._writer.is_closing():
            return
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), CLOSE_TIMEOUT)
        except (asyncio.TimeoutError, OSError):
            self._writer.transport.abort()


def _factories(compress: bool) -> list[ExtensionFactory]:
    return [PerMessageDeflateFactory()] if compress else []


async def connect(
    url: str,
    *,
    subprotocols: Sequence[str] = (),
    compress: bool = True,
    max_size: int | None = 1 << 20,
) -> WebSocket:
    """Open a WebSocket to a ws:// or wss:// URL.

    Raises ``OSError`` if the connection fails and ``HandshakeError`` if the
    server refuses the handshake or answers it wrongly.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    reader, writer = await asyncio.open_connection(
        parts.hostname, port, ssl=ssl.create_default_context() if secure else None
    )
    host = parts.netloc.rpartition("@")[2]  # the Host header: host[:port], no credentials
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    handshake = ClientHandshake(
        host, target, subprotocols=subprotocols, extensions=_factories(compress), max_message_size=max_size
    )
    try:
        writer.write(handshake.send())
        while True:
            result = handshake.receive_data(await reader.read(READ_SIZE))
            if result is not None:
                break
        if isinstance(result, Rejected):
            raise HandshakeError(f"the server answered HTTP {result.status_code}", result.status_code)
    except BaseException:
        writer.transport.abort()
        raise
    return WebSocket(reader, writer, result.connection, result.subprotocol)


Handler = Callable[[WebSocket], Awaitable[None]]


async def serve(
    handler: Handler,
    host: str,
    port: int,
    *,
    subprotocols: Sequence[str] = (),
    compress: bool = True,
    max_size: int | None = 1 << 20,
) -> asyncio.Server:
    """Serve WebSocket connections: ``handler(ws)`` runs in its own task for each one.

    When the handler returns, the connection is closed with 1000 (1011 if it
    raised). Use the returned server as asyncio's: ``async with server: ...``.
    """

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshake = ServerHandshake(
            subprotocols=subprotocols, extensions=_factories(compress), max_message_size=max_size
        )
        try:
            await asyncio.wait_for(_read_request(reader, handshake), HANDSHAKE_TIMEOUT)
        except HandshakeError as err:
            writer.write(handshake.reject_error(err))  # 400, 426... with the reason
            writer.close()
            return
        except (asyncio.TimeoutError, OSError):
            writer.transport.abort()  # idle or gone before finishing its request
            return
        wire, conn = handshake.accept()
        writer.write(wire)
        ws = WebSocket(reader, writer, conn, handshake.subprotocol)
        try:
            await handler(ws)
        except ConnectionClosed:
            pass
        except Exception:
            await ws.close(1011)
            raise
        await ws.close()

    return await asyncio.start_server(on_connection, host, port)


async def _read_request(reader: asyncio.StreamReader, handshake: ServerHandshake) -> None:
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            raise ConnectionResetError("the client left before finishing its request")
        if handshake.receive_data(data) is not None:
            return

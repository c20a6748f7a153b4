"""Interoperability over loopback with a real peer: the ``websockets`` library.

A noio_ws client (ClientHandshake + Connection on asyncio streams) talks to a
``websockets`` server, and a ``websockets`` client talks to a noio_ws server.
Every await has a timeout, so a hang fails the test in seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from noio_ws import BinaryMessage, Close, Connection, Event, Ping, Signal, TextMessage
from noio_ws.extensions import ExtensionFactory
from noio_ws.handshake import Accepted, ClientHandshake, HandshakeError, HandshakeRequest, ServerHandshake

TIMEOUT = 5.0
T = TypeVar("T")
# Compressible enough that permessage-deflate, when negotiated, really compresses.
TEXT = "héllo " * 50
BINARY = b"\x00\xff" * 1000
MESSAGES: list[Event] = [TextMessage(TEXT), BinaryMessage(BINARY), TextMessage("")]


def factories(kind: str) -> list[ExtensionFactory]:
    """No extension, or permessage-deflate (skipped while it is not available)."""
    if kind == "plain":
        return []
    module = pytest.importorskip("noio_ws.extensions.permessage_deflate")
    factory: ExtensionFactory = module.PerMessageDeflateFactory()
    return [factory]


def extension_names(kind: str) -> list[str]:
    return [] if kind == "plain" else ["permessage-deflate"]


async def within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, TIMEOUT)


async def next_events(reader: asyncio.StreamReader, conn: Connection) -> list[Event]:
    """Read until the connection has at least one event (or the peer is gone)."""
    while True:
        events = list(conn.events())
        if events or conn.next_event() is Signal.CLOSED:
            return events
        conn.receive_data(await within(reader.read(65536)))


async def noio_client(port: int, kind: str) -> Accepted:
    """Connect with noio_ws, check the echoes of ``MESSAGES`` and close; the handshake's result."""
    reader, writer = await within(asyncio.open_connection("127.0.0.1", port))
    try:
        handshake = ClientHandshake(
            f"127.0.0.1:{port}", "/echo", subprotocols=["x-other", "chat"], extensions=factories(kind)
        )
        writer.write(handshake.send())
        result = None
        while result is None:
            result = handshake.receive_data(await within(reader.read(65536)))
        assert isinstance(result, Accepted), result
        conn = result.connection
        wires = [conn.send(message) for message in MESSAGES]
        assert [bool(wire[0] & 0x40) for wire in wires[:2]] == [kind != "plain"] * 2  # RSV1: compressed
        writer.write(b"".join(wires))
        received: list[Event] = []
        while len(received) < len(MESSAGES):
            received += await next_events(reader, conn)
        assert received == MESSAGES
        writer.write(conn.send(Close(1000, "done")))
        assert await next_events(reader, conn) == [Close(1000, "done")]
        assert await within(reader.read()) == b""  # the server closes the TCP connection first
        return result
    finally:
        writer.close()
        await within(writer.wait_closed())


@pytest.mark.parametrize("kind", ["plain", "permessage-deflate"])
def test_noio_client_against_websockets_server(kind: str) -> None:
    async def main() -> None:
        closed: asyncio.Future[tuple[int | None, str | None]] = asyncio.get_running_loop().create_future()

        async def echo(ws: ServerConnection) -> None:
            async for message in ws:
                await ws.send(message)
            closed.set_result((ws.close_code, ws.close_reason))

        async with serve(echo, "127.0.0.1", 0, subprotocols=[Subprotocol("chat")]) as server:
            port = server.sockets[0].getsockname()[1]
            result = await noio_client(port, kind)
            assert result.subprotocol == "chat"
            assert [extension.name for extension in result.extensions] == extension_names(kind)
            assert await within(closed) == (1000, "done")

    asyncio.run(main())


async def read_request(handshake: ServerHandshake, reader: asyncio.StreamReader) -> HandshakeRequest:
    request = None
    while request is None:
        request = handshake.receive_data(await within(reader.read(65536)))
    return request


async def noio_server_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: list[Event], kind: str
) -> None:
    """Serve one connection with noio_ws: handshake, then echo until the peer closes."""
    try:
        handshake = ServerHandshake(subprotocols=["chat"], extensions=factories(kind))
        try:
            await read_request(handshake, reader)
        except HandshakeError as error:
            writer.write(handshake.reject_error(error))
            return
        wire, conn = handshake.accept()
        writer.write(wire)
        while True:
            for event in await next_events(reader, conn):
                log.append(event)
                if isinstance(event, (TextMessage, BinaryMessage)):
                    writer.write(conn.send(event))
                elif isinstance(event, Ping):
                    writer.write(conn.send(event.response()))
                elif isinstance(event, Close):
                    writer.write(conn.send(event.response()))
                    return
    finally:
        writer.close()
        await within(writer.wait_closed())


@pytest.mark.parametrize("kind", ["plain", "permessage-deflate"])
def test_websockets_client_against_noio_server(kind: str) -> None:
    factories(kind)  # skip early if the extension is missing

    async def main() -> None:
        log: list[Event] = []
        server = await asyncio.start_server(
            lambda r, w: noio_server_connection(r, w, log, kind), "127.0.0.1", 0
        )
        async with server:
            port = server.sockets[0].getsockname()[1]
            async with connect(
                f"ws://127.0.0.1:{port}/echo",
                subprotocols=[Subprotocol("chat")],
                proxy=None,
                open_timeout=TIMEOUT,
            ) as ws:
                assert ws.subprotocol == "chat"
                assert [extension.name for extension in ws.protocol.extensions] == extension_names(kind)
                await within(ws.send(TEXT))
                assert await within(ws.recv()) == TEXT
                await within(ws.send(BINARY))
                assert await within(ws.recv()) == BINARY
                pong = await within(ws.ping(b"are you there"))
                await within(pong)  # the server answered with a Pong
                await within(ws.close(1000, "bye"))
            assert ws.close_code == 1000  # the code of the server's Close, echoing ours
        assert log == [TextMessage(TEXT), BinaryMessage(BINARY), Ping(b"are you there"), Close(1000, "bye")]

    asyncio.run(main())


def test_websockets_client_is_rejected_by_noio_server_origin_policy() -> None:
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handshake = ServerHandshake(origins=["https://good.example"])
            with pytest.raises(HandshakeError) as info:
                await read_request(handshake, reader)
            writer.write(handshake.reject_error(info.value))
            writer.close()
            await within(writer.wait_closed())

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(InvalidStatus) as info:
                await within(
                    connect(f"ws://127.0.0.1:{port}/", origin=Origin("https://evil.example"), proxy=None)
                )
            assert info.value.response.status_code == 403

    asyncio.run(main())

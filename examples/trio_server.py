"""An echo server on trio (``pip install trio``).

Run ``python examples/trio_server.py [--host 127.0.0.1] [--port 8765]``
(``--port 0`` picks a free port); it prints ``listening on ws://HOST:PORT/``.
Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib

import trio

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    HandshakeError,
    Ping,
    RemoteProtocolError,
    Signal,
    State,
    TextMessage,
)
from noio_ws.extensions import PerMessageDeflateFactory
from noio_ws.handshake import ServerHandshake

READ_SIZE = 64 * 1024


async def handshake(stream: trio.SocketStream) -> Connection | None:
    """Answer the opening handshake; the open connection, or None if it was refused."""
    server = ServerHandshake(extensions=[PerMessageDeflateFactory()], max_message_size=16 << 20)
    try:
        with trio.fail_after(10):  # idle clients do not get to hold a connection
            while True:
                data = await stream.receive_some(READ_SIZE)
                if not data:
                    return None  # the client left before finishing its request
                if server.receive_data(data) is not None:
                    break
    except HandshakeError as err:
        await stream.send_all(server.reject_error(err))
        return None
    wire, conn = server.accept()
    await stream.send_all(wire)
    return conn


async def echo(stream: trio.SocketStream, conn: Connection) -> None:
    """Echo messages, answer pings, finish the close handshake."""
    while True:
        try:
            event = conn.next_event()
        except RemoteProtocolError as err:
            await stream.send_all(conn.send(Close(err.close_code)))
            return
        if event is Signal.NEED_DATA:
            # send_all() returns once the bytes are handed to the kernel, so we
            # never read faster than the peer takes our replies.
            conn.receive_data(await stream.receive_some(READ_SIZE))
        elif event is Signal.CLOSED:
            return
        elif isinstance(event, Close):
            if conn.state is State.REMOTE_CLOSING:  # their Close: answer it
                await stream.send_all(conn.send(event.response()))
        elif isinstance(event, (TextMessage, BinaryMessage)):
            await stream.send_all(conn.send(event))
        elif isinstance(event, Ping):
            await stream.send_all(conn.send(event.response()))  # noio_ws never answers by itself


async def serve_one(stream: trio.SocketStream) -> None:
    # trio runs this in its own task for every connection.
    async with stream:
        try:
            conn = await handshake(stream)
            if conn is not None:
                await echo(stream, conn)
        except (trio.BrokenResourceError, trio.TooSlowError):
            pass  # the peer went away, or never finished its handshake


async def main(host: str, port: int) -> None:
    listeners = await trio.open_tcp_listeners(port, host=host)
    address = listeners[0].socket.getsockname()
    print(f"listening on ws://{address[0]}:{address[1]}/", flush=True)
    await trio.serve_listeners(serve_one, listeners)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, args.host, args.port)

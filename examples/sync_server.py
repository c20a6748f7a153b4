"""An echo server on blocking sockets, one thread per connection.

Run ``python examples/sync_server.py [--host 127.0.0.1] [--port 8765]``
(``--port 0`` picks a free port); it prints ``listening on ws://HOST:PORT/``.
Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading

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


def handshake(sock: socket.socket) -> Connection | None:
    """Answer the opening handshake; the open connection, or None if it was refused."""
    server = ServerHandshake(extensions=[PerMessageDeflateFactory()], max_message_size=16 << 20)
    try:
        while True:
            data = sock.recv(READ_SIZE)
            if not data:
                return None  # the client left before finishing its request
            if server.receive_data(data) is not None:
                break
    except HandshakeError as err:
        sock.sendall(server.reject_error(err))  # e.g. 400 with the reason as the body
        return None
    wire, conn = server.accept()  # conn already holds any bytes sent after the request
    sock.sendall(wire)
    return conn


def echo(sock: socket.socket, conn: Connection) -> None:
    """Echo messages, answer pings, finish the close handshake."""
    while True:
        try:
            event = conn.next_event()
        except RemoteProtocolError as err:
            sock.sendall(conn.send(Close(err.close_code)))  # fail with the right code
            return
        if event is Signal.NEED_DATA:
            # sendall() blocks until the peer reads: a blocking server gets
            # backpressure for free, it does not read while it cannot write.
            conn.receive_data(sock.recv(READ_SIZE))
        elif event is Signal.CLOSED:
            return
        elif isinstance(event, Close):
            if conn.state is State.REMOTE_CLOSING:  # their Close: answer it
                sock.sendall(conn.send(event.response()))
        elif isinstance(event, (TextMessage, BinaryMessage)):
            sock.sendall(conn.send(event))
        elif isinstance(event, Ping):
            sock.sendall(conn.send(event.response()))  # noio_ws never answers by itself


def serve_one(sock: socket.socket) -> None:
    with sock:
        sock.settimeout(10)  # idle handshake or peer: give up after 10 s
        try:
            conn = handshake(sock)
            if conn is not None:
                sock.settimeout(None)  # an open WebSocket may stay quiet for long
                echo(sock, conn)
        except OSError:
            pass  # the peer went away or timed out


def main(host: str, port: int) -> None:
    with socket.create_server((host, port)) as listener:
        address = listener.getsockname()
        print(f"listening on ws://{address[0]}:{address[1]}/", flush=True)
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=serve_one, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        main(args.host, args.port)

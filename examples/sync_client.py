"""A WebSocket client on a blocking socket.

Run ``python examples/sync_client.py ws://127.0.0.1:8765/ hello world``:
each argument after the URL is sent as a text message, and each reply is
printed on its own line (binary replies as ``<binary N bytes>``).
"""

from __future__ import annotations

import argparse
import socket
from urllib.parse import urlsplit

from noio_ws import BinaryMessage, Close, Connection, Ping, Signal, State, TextMessage
from noio_ws.extensions import PerMessageDeflateFactory
from noio_ws.handshake import ClientHandshake, Rejected

READ_SIZE = 64 * 1024


class Client:
    """A blocking WebSocket client: ``send()``, ``recv()``, ``close()``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ws" or not parts.hostname:
            raise ValueError(f"not a ws:// URL: {url!r}")
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        handshake = ClientHandshake(parts.netloc, target, extensions=[PerMessageDeflateFactory()])
        self.sock.sendall(handshake.send())
        while True:
            result = handshake.receive_data(self.sock.recv(READ_SIZE))
            if result is not None:
                break
        if isinstance(result, Rejected):
            self.sock.close()
            raise ConnectionError(f"the server answered HTTP {result.status_code}")
        self.conn: Connection = result.connection
        self.close_code: int | None = None

    def send(self, message: str | bytes) -> None:
        event = TextMessage(message) if isinstance(message, str) else BinaryMessage(message)
        self.sock.sendall(self.conn.send(event))

    def recv(self) -> str | bytes | None:
        """The next message, or None once the connection is closed."""
        while True:
            event = self.conn.next_event()  # raises RemoteProtocolError if the server misbehaves
            if event is Signal.NEED_DATA:
                self.conn.receive_data(self.sock.recv(READ_SIZE))
            elif event is Signal.CLOSED:
                return None
            elif isinstance(event, (TextMessage, BinaryMessage)):
                return event.data
            elif isinstance(event, Ping) and self.conn.state is State.OPEN:
                self.sock.sendall(self.conn.send(event.response()))  # the library never answers for us
            elif isinstance(event, Close):
                self.close_code = event.code
                if self.conn.state is State.REMOTE_CLOSING:
                    self.sock.sendall(self.conn.send(event.response()))

    def close(self, code: int = 1000) -> None:
        """Send Close, skip what is still in flight until the server's Close, hang up."""
        if self.conn.state is State.OPEN:
            self.sock.sendall(self.conn.send(Close(code)))
        while self.recv() is not None:
            pass
        self.sock.close()


def main(url: str, messages: list[str]) -> None:
    client = Client(url)
    try:
        for message in messages:
            client.send(message)
            reply = client.recv()
            print(reply if isinstance(reply, str) else f"<binary {len(reply or b'')} bytes>")
    finally:
        client.close()
    print(f"closed with code {client.close_code}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_args()
    main(args.url, args.messages)

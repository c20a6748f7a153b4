"""Autobahn|Testsuite testee: a client on noio_ws and plain sockets.

Reads AUTOBAHN_URL and AUTOBAHN_AGENT, runs every case of the fuzzing server
in turn (see ../shared/autobahn/README.md), offering permessage-deflate.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.parse

from _echo import MAX_MESSAGE_SIZE, READ_SIZE, echo, linger

from noio_ws import BinaryMessage, Connection, TextMessage
from noio_ws.extensions import PerMessageDeflateFactory
from noio_ws.handshake import Accepted, ClientHandshake

URL = urllib.parse.urlsplit(os.environ["AUTOBAHN_URL"])
AGENT = os.environ.get("AUTOBAHN_AGENT", "noio_ws")


def connect(target: str) -> tuple[socket.socket, Connection]:
    assert URL.hostname is not None
    assert URL.port is not None
    sock = socket.create_connection((URL.hostname, URL.port), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    handshake = ClientHandshake(
        URL.netloc, target, extensions=[PerMessageDeflateFactory()], max_message_size=MAX_MESSAGE_SIZE
    )
    sock.sendall(handshake.send())
    while (result := handshake.receive_data(sock.recv(READ_SIZE))) is None:
        pass
    if not isinstance(result, Accepted):
        sock.close()
        raise ConnectionError(f"handshake rejected with {result.status_code}")
    return sock, result.connection


def run(target: str, keep: list[TextMessage | BinaryMessage] | None = None) -> None:
    """Echo on one connection (or collect into *keep*) until it closes."""
    sock, conn = connect(target)
    with sock:
        echo(sock, conn, keep)
        # The server closes TCP first (RFC 6455 section 7.1.1): give it a moment.
        linger(sock)


def main() -> None:
    agent = urllib.parse.quote(AGENT)
    received: list[TextMessage | BinaryMessage] = []
    run("/getCaseCount", received)
    (count,) = [e.data for e in received if isinstance(e, TextMessage)]
    for case in range(1, int(count) + 1):
        try:
            run(f"/runCase?case={case}&agent={agent}")
        except Exception as exc:  # one broken case must not stop the run
            print(f"case {case}: {exc!r}", file=sys.stderr)
    run(f"/updateReports?agent={agent}")


if __name__ == "__main__":
    main()

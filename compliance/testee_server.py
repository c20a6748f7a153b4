"""Autobahn|Testsuite testee: an echo server on noio_ws, plain sockets, one thread per connection.

Listens on AUTOBAHN_HOST:AUTOBAHN_PORT (see ../shared/autobahn/README.md) and
accepts permessage-deflate when offered.
"""

from __future__ import annotations

import os
import socket
import threading

from _echo import MAX_MESSAGE_SIZE, READ_SIZE, echo, linger

from noio_ws import HandshakeError
from noio_ws.extensions import PerMessageDeflateFactory
from noio_ws.handshake import ServerHandshake


def serve(sock: socket.socket) -> None:
    with sock:
        sock.settimeout(120)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handshake = ServerHandshake(
            extensions=[PerMessageDeflateFactory()], max_message_size=MAX_MESSAGE_SIZE
        )
        try:
            while handshake.receive_data(sock.recv(READ_SIZE)) is None:
                pass
        except HandshakeError as err:
            sock.sendall(handshake.reject_error(err))
            linger(sock)
            return
        except OSError:
            return
        wire, conn = handshake.accept()
        try:
            sock.sendall(wire)
            echo(sock, conn)
        except OSError:
            return
        # RFC 6455 section 7.1.1: the server closes the TCP connection first.
        linger(sock)


def main() -> None:
    server = socket.create_server((os.environ["AUTOBAHN_HOST"], int(os.environ["AUTOBAHN_PORT"])))
    while True:
        sock, _ = server.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()

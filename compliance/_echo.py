"""The part both testees share: echo every message over a blocking socket."""

from __future__ import annotations

import socket

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Ping,
    RemoteProtocolError,
    Signal,
    State,
    TextMessage,
)

# The suite sends messages of up to 16 MiB (group 9); the limit must not be lower.
MAX_MESSAGE_SIZE = 16 << 20
READ_SIZE = 256 << 10


def echo(
    sock: socket.socket, conn: Connection, keep: list[TextMessage | BinaryMessage] | None = None
) -> None:
    """Echo messages, answer pings and complete the close handshake.

    With *keep*, messages are collected there instead of echoed. Returns when the
    connection is closed or failed; the caller closes the socket.
    """
    while True:
        out: list[bytes] = []
        try:
            for event in conn.events():
                if isinstance(event, (TextMessage, BinaryMessage)):
                    if keep is None:
                        out.append(conn.send(event))
                    else:
                        keep.append(event)
                elif isinstance(event, Ping) or (
                    isinstance(event, Close) and conn.state is State.REMOTE_CLOSING
                ):
                    out.append(conn.send(event.response()))
            if out:
                sock.sendall(b"".join(out))
        except RemoteProtocolError as err:
            # Echo what came before the bad frame, then fail the connection with
            # the code the error carries (1002, 1007, ...).
            sock.sendall(b"".join(out) + conn.send(Close(err.close_code)))
            return
        if conn.next_event() is Signal.CLOSED:
            return
        conn.receive_data(sock.recv(READ_SIZE))


def linger(sock: socket.socket, seconds: float = 2.0) -> None:
    """Close our side, then read until the peer closes too (or *seconds* pass).

    Closing a socket that still has unread bytes makes the kernel send a reset,
    and a reset can destroy our last frames (the echo, the Close) before the peer
    reads them. So: half-close, drain, and only then close.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(seconds)
        while sock.recv(READ_SIZE):
            pass
    except OSError:
        pass

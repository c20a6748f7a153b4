"""A client and a server ``Connection`` joined by an in-memory transport that the test drives.

Rules of this module:
- Nothing moves on its own. Bytes a side sends wait in flight on a ``Link``
  (one per direction) until the test delivers them: whole, in chunks of a
  chosen size, only the first so many, or not at all (``drop()`` loses them).
  Holding bytes is simply not delivering them yet.
- A link behaves like one direction of a TCP stream: bytes arrive in order,
  and an end of file (``close()``) arrives after the last byte in flight.
- The sides are plain ``Connection`` objects (``peer.connection``): nothing
  here answers a Ping or a Close on their behalf, as nothing in noio_ws does.
- The opening handshake, when asked for, is the real one: ``ClientHandshake``
  and ``ServerHandshake`` exchange their bytes and hand over the connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._codes import Role
from .._connection import Connection
from .._events import Event, Signal
from .._state import State
from ..extensions import PerMessageDeflate, PerMessageDeflateFactory
from ..handshake import Accepted, ClientHandshake, ConnectionOptions, HandshakeRequest, ServerHandshake
from ._feeding import Outcome, pull_events
from ._masks import MaskKeys

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ConnectedPair", "Link", "Peer", "connected_pair", "handshake_pair"]

#: The Host and target of the handshake ``connected_pair`` performs.
HOST = "example.com"
TARGET = "/"


class Link:
    """One direction of the transport: what one side wrote and the other has not received yet."""

    def __init__(self, receiver: Connection) -> None:
        self._receiver = receiver
        self._in_flight = bytearray()
        self._closed = False  # the writer closed its side: EOF follows the bytes in flight
        self._eof_delivered = False

    def __repr__(self) -> str:
        end = ", then EOF" if self._closed and not self._eof_delivered else ""
        return f"<Link to the {self._receiver.role.value}: {len(self._in_flight)} bytes in flight{end}>"

    @property
    def in_flight(self) -> bytes:
        """The bytes written and not yet delivered, in order."""
        return bytes(self._in_flight)

    @property
    def closed(self) -> bool:
        """Whether the writing side closed the link (its EOF may still be in flight)."""
        return self._closed

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Put *data* in flight: what ``send()`` returned, or hand-made bytes (``raw_frame``, ``hostile``).

        Raises:
            RuntimeError: the link is closed.
        """
        if self._closed:
            raise RuntimeError(f"write to a closed link ({len(data)} bytes)")
        self._in_flight += data

    def deliver(self, max_bytes: int | None = None, *, chunk_size: int | None = None) -> int:
        """Hand what is in flight to the receiving connection; returns how many bytes.

        Args:
            max_bytes: Deliver only the first *max_bytes* bytes and keep the
                rest in flight (to cut the stream at an offset); None: all.
            chunk_size: Hand the bytes over in ``receive_data()`` calls of this
                size (1: byte by byte); None: in one call.

        Once the link is closed and nothing is left in flight, the end of file
        is delivered too (once). Events are not read here: ask the receiving
        side for them.
        """
        for name, value in (("max_bytes", max_bytes), ("chunk_size", chunk_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be None or a number of bytes, not {value!r}")
        if chunk_size == 0:
            raise ValueError("chunk_size must be at least 1")
        count = len(self._in_flight) if max_bytes is None else min(max_bytes, len(self._in_flight))
        data = bytes(self._in_flight[:count])
        del self._in_flight[:count]
        step = chunk_size or max(count, 1)
        for start in range(0, count, step):
            self._receiver.receive_data(data[start : start + step])
        if self._closed and not self._in_flight and not self._eof_delivered:
            self._eof_delivered = True
            self._receiver.receive_data(b"")
        return count

    def drop(self) -> bytes:
        """Lose what is in flight (it never arrives); returns it. A pending EOF stays."""
        lost = bytes(self._in_flight)
        self._in_flight.clear()
        return lost

    def close(self) -> None:
        """The writing side closes the transport: the receiver gets EOF after the bytes in flight.

        The EOF, like the bytes, arrives only when ``deliver()`` is called.
        Closing twice is harmless.
        """
        self._closed = True


class Peer:
    """One side of a ``ConnectedPair``: its ``Connection``, with what it sends put in flight."""

    def __init__(self, connection: Connection, outgoing: Link) -> None:
        #: The side's ``Connection``: use it directly for anything not wrapped here.
        self.connection = connection
        #: The link carrying what this side sends.
        self.outgoing = outgoing

    def __repr__(self) -> str:
        return f"<Peer {self.connection.role.value} {self.connection.state.value}>"

    @property
    def state(self) -> State:
        """The connection's state."""
        return self.connection.state

    def send(self, event: Event) -> bytes:
        """Send *event*: its bytes go in flight to the other side, and are returned too."""
        wire = self.connection.send(event)
        self.outgoing.write(wire)
        return wire

    def next_event(self) -> Event | Signal:
        """The connection's next event, as ``Connection.next_event()`` gives it."""
        return self.connection.next_event()

    def events(self) -> list[Event]:
        """Every event that the bytes delivered so far make, up to ``NEED_DATA`` or ``CLOSED``.

        Raises:
            RemoteProtocolError: the other side broke the protocol. The events
                before the violation are lost with the exception: to keep
                them, use ``events_and_error()``.
        """
        events, error = pull_events(self.connection)
        if error is not None:
            raise error
        return events

    def events_and_error(self) -> Outcome:
        """Every event available, and the ``RemoteProtocolError`` that ended them, if any."""
        return pull_events(self.connection)


class ConnectedPair:
    """A client and a server ``Connection`` joined in memory.

    ``client.send(...)`` puts bytes on ``to_server``; ``to_server.deliver()``
    hands them to the server; ``server.events()`` reads what they made. The
    other direction is ``server.send(...)``, ``to_client`` and ``client.events()``.

    Build one with ``connected_pair()`` or ``handshake_pair()``, or from two
    connections of your own: ``ConnectedPair(client_connection, server_connection)``.
    """

    def __init__(
        self,
        client: Connection,
        server: Connection,
        *,
        accepted: Accepted | None = None,
        request: HandshakeRequest | None = None,
    ) -> None:
        if client.role is not Role.CLIENT or server.role is not Role.SERVER:
            raise ValueError(f"a pair is a client and a server, not {client.role} and {server.role}")
        #: What the client sends, on its way to the server.
        self.to_server = Link(server)
        #: What the server sends, on its way to the client.
        self.to_client = Link(client)
        #: The client side: its ``Connection``, and a ``send()`` onto ``to_server``.
        self.client = Peer(client, self.to_server)
        #: The server side: its ``Connection``, and a ``send()`` onto ``to_client``.
        self.server = Peer(server, self.to_client)
        #: The client's result of the opening handshake, or None without one.
        self.accepted = accepted
        #: The request as the server accepted it, or None without a handshake.
        self.request = request

    def __repr__(self) -> str:
        return f"<ConnectedPair {self.client!r} {self.to_server!r} {self.server!r} {self.to_client!r}>"

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the handshake agreed on, if any."""
        return None if self.accepted is None else self.accepted.subprotocol


def handshake_pair(client: ClientHandshake, server: ServerHandshake) -> ConnectedPair:
    """Run the opening handshake between two drivers you configured; the pair it gives.

    The request and the 101 go across whole. Whatever the drivers do not
    accept raises as it would over a network: ``HandshakeError``.
    """
    request = server.receive_data(client.send())
    assert request is not None  # the whole request was given: a request or an error
    wire, server_connection = server.accept()
    accepted = client.receive_data(wire)
    assert isinstance(accepted, Accepted)  # a 101 was given: Accepted or an error
    return ConnectedPair(accepted.connection, server_connection, accepted=accepted, request=request)


def connected_pair(
    *,
    handshake: bool = True,
    subprotocols: Sequence[str] = (),
    deflate: bool = False,
    **options: Unpack[ConnectionOptions],
) -> ConnectedPair:
    """A client and a server, connected in memory and ready to talk.

    Args:
        handshake: Perform the real opening handshake first (Host
            ``example.com``, target ``/``), through ``noio_ws.handshake``.
            False: two connections made directly.
        subprotocols: Offered by the client and supported by the server, which
            picks the first; needs the handshake.
        deflate: Use permessage-deflate: negotiated with default preferences,
            or, without the handshake, ``PerMessageDeflate()`` on both sides.
        options: ``Connection`` options for both sides. The client masks with
            ``MaskKeys()`` unless *mask_key_source* is given, so its bytes are
            the same on every run.

    For other choices (a server that supports different subprotocols, deflate
    parameters, other extensions, origins), configure the drivers yourself and
    call ``handshake_pair()``.
    """
    client_options: ConnectionOptions = {"mask_key_source": MaskKeys(), **options}
    if handshake:
        client = ClientHandshake(
            HOST,
            TARGET,
            subprotocols=subprotocols,
            extensions=[PerMessageDeflateFactory()] if deflate else [],
            **client_options,
        )
        server = ServerHandshake(
            subprotocols=subprotocols,
            extensions=[PerMessageDeflateFactory()] if deflate else [],
            **options,
        )
        return handshake_pair(client, server)
    if subprotocols:
        raise ValueError("subprotocols are agreed by the handshake: use handshake=True")
    return ConnectedPair(
        Connection(Role.CLIENT, extensions=[PerMessageDeflate()] if deflate else [], **client_options),
        Connection(Role.SERVER, extensions=[PerMessageDeflate()] if deflate else [], **options),
    )

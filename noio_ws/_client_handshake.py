"""The client's driver of the HTTP/1.1 opening handshake, over an ``h11.Connection``.

Rules of this module:

- Bytes in, bytes out: ``send()`` gives the request once, ``receive_data()``
  takes what the server sends until the outcome is known.
- Whatever the server sends, the outcome is ``Accepted``, ``Rejected`` or a
  ``HandshakeError``: h11's errors are translated. A rejection's body is kept
  up to ``max_body_size``; the rest is not read.
- Bytes after the 101 (frames the server sent with it) and an EOF belong to the
  WebSocket stream: they go into the handed-off ``Connection``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import h11

from ._connection import Connection
from ._errors import HandshakeError, LocalProtocolError
from ._negotiation import Headers, check_options, client_connection
from ._upgrade import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
    build_request,
    check_head,
    feed_pieces,
    hand_off,
    send_events,
    verify_response,
)
from .extensions._base import Extension, ExtensionFactory

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._negotiation import ConnectionOptions

__all__ = ["Accepted", "ClientHandshake", "Rejected"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The server accepted: use ``connection`` from now on."""

    connection: Connection
    subprotocol: str | None
    extensions: tuple[Extension, ...]
    response: h11.InformationalResponse


@dataclass(frozen=True, slots=True)
class Rejected:
    """The server answered with an ordinary HTTP response (body cut at the size limit)."""

    status_code: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class ClientHandshake:
    """The client side of the opening handshake over an ``h11.Connection``.

    ``send()`` gives the request bytes; feed what the server sends to
    ``receive_data()`` until it returns ``Accepted`` (use its ``connection``,
    which already holds any bytes that came after the 101) or ``Rejected``
    (status, headers and the body, kept up to *max_body_size* bytes). An invalid
    101 or a malformed response raises ``HandshakeError``.

    Args:
        host: The Host header (``name`` or ``name:port``), ASCII ``str`` or bytes.
        target: The request target, e.g. ``"/chat?room=1"``.
        subprotocols: Subprotocols to offer, most preferred first.
        extensions: Extension factories whose offers to make, in order.
        extra_headers: More request headers (not the ones the handshake sets);
            names and values ``str`` (ASCII) or ``bytes``.
        origin: The Origin header to send, if any.
        max_incomplete_event_size: Limit on the response head (h11's option).
        max_headers: Most header fields accepted in the response.
        max_body_size: Most bytes of a rejection's body kept.
        connection_options: Passed on to ``noio_ws.Connection``.
    """

    def __init__(
        self,
        host: str | bytes,
        target: str | bytes,
        *,
        subprotocols: Sequence[str | bytes] = (),
        extensions: Sequence[ExtensionFactory] = (),
        extra_headers: Headers = (),
        origin: str | bytes | None = None,
        max_incomplete_event_size: int = DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        **connection_options: Unpack[ConnectionOptions],
    ) -> None:
        check_options(connection_options)
        self._options = connection_options
        self._factories = list(extensions)
        self._limits = (max_incomplete_event_size, max_headers)
        self._max_body_size = max_body_size
        #: The ``h11.Request`` this handshake sends.
        self.request = build_request(
            host,
            target,
            subprotocols=subprotocols,
            extensions=self._factories,
            extra_headers=extra_headers,
            origin=origin,
        )
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_incomplete_event_size)
        self._sent = False
        self._over = False
        self._rejection: h11.Response | None = None
        self._body = bytearray()

    def send(self) -> bytes:
        """The request bytes to write to the transport, once."""
        if self._sent:
            raise LocalProtocolError("the request has already been sent")
        self._sent = True
        return send_events(self._h11, self.request, h11.EndOfMessage())

    def receive_data(self, data: bytes | bytearray | memoryview) -> Accepted | Rejected | None:
        """Feed bytes from the server (``b""`` at EOF); the outcome once it is known, else None."""
        if not self._sent:
            raise LocalProtocolError("send() the request before receiving the response")
        if self._over:
            raise LocalProtocolError("the handshake is over")
        result: Accepted | Rejected | None = None
        try:
            for piece in feed_pieces(data, self._limits[0]):
                if result is None:
                    self._h11.receive_data(piece)
                    result = self._next_result()
                elif isinstance(result, Accepted):
                    result.connection.receive_data(piece)  # frames sent with the 101
        except h11.RemoteProtocolError as exc:
            self._over = True
            raise HandshakeError(f"invalid HTTP response: {exc}") from exc
        except HandshakeError:
            self._over = True
            raise
        self._over = result is not None
        return result

    def _next_result(self) -> Accepted | Rejected | None:
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, (h11.InformationalResponse, h11.Response)):
                check_head(event, self._limits)
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    return self._accept(event)
                # Other 1xx responses are interim (RFC 9110 section 15.2): the answer follows.
            elif isinstance(event, h11.Response):
                self._rejection = event
            elif isinstance(event, h11.Data):
                self._body += event.data[: self._max_body_size - len(self._body)]
                if len(self._body) >= self._max_body_size:
                    return self._rejected()
            else:
                # h11 reports an EOF before the end of the response as an error.
                assert isinstance(event, h11.EndOfMessage), event
                return self._rejected()

    def _accept(self, response: h11.InformationalResponse) -> Accepted:
        subprotocol, extensions = verify_response(self.request, response, self._factories)
        connection = client_connection(extensions, self._options)
        return Accepted(hand_off(connection, self._h11), subprotocol, tuple(extensions), response)

    def _rejected(self) -> Rejected:
        assert self._rejection is not None  # h11 gives a Response before its body
        return Rejected(self._rejection.status_code, list(self._rejection.headers), bytes(self._body))

"""The server's driver of the HTTP/1.1 opening handshake, over an ``h11.Connection``.

Rules of this module:

- Bytes in, bytes out. ``receive_data()`` gives the valid request or raises
  ``HandshakeError`` (h11's errors translated, with the status to answer);
  then exactly one response: ``accept()``, or a rejection whole (``reject()``,
  ``reject_error()``) or in pieces (``reject_head()`` then ``reject_body()``).
- Every response is one h11 sends: misuse is refused before h11 sees it
  (``LocalProtocolError``, nothing changed), bad arguments are ``ValueError``
  before any byte goes out, and a response to HEAD (or with status 204 or
  304) gets no body.
- Bytes after the request (frames pipelined behind it) and an EOF belong to the
  WebSocket stream: they go into the handed-off ``Connection``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import h11

from ._codes import Role
from ._connection import Connection
from ._errors import HandshakeError, LocalProtocolError
from ._headers import as_header_list
from ._negotiation import (
    CONFIGURED,
    Headers,
    Negotiated,
    OriginPolicy,
    ServerPolicy,
    SubprotocolSelector,
    _Configured,
    check_options,
)
from ._upgrade import (
    BODILESS_STATUSES,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
    HandshakeRequest,
    build_accept,
    check_head,
    declared_length,
    feed_pieces,
    hand_off,
    rejection_from_error,
    rejection_head,
    send_events,
    verify_request,
)
from .extensions._base import Extension, ExtensionFactory

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._negotiation import ConnectionOptions

__all__ = ["ServerHandshake"]

# Markers for what a rejection's body may hold (see ServerHandshake._body_left).
_NO_BODY = -1  # a 204 or 304: data is refused
_DROPPED = -2  # the answer to a HEAD: data is dropped


class ServerHandshake:
    """The server side of the opening handshake over an ``h11.Connection``.

    Feed bytes to ``receive_data()`` until it returns the ``HandshakeRequest``
    (it raises ``HandshakeError`` if the request is invalid: answer with
    ``reject_error(err)``). Then ``accept()`` (the 101 bytes and a
    ``Connection`` already holding any bytes that followed the request) or
    ``reject()``, or ``reject_head()`` then ``reject_body()`` for a body that
    comes in pieces. The subprotocol and extensions are chosen when the request
    arrives (see ``subprotocol`` and ``extensions``); ``accept()`` may name
    another offered subprotocol. Names and values may be ``str`` (ASCII) or
    ``bytes`` throughout.

    Args:
        subprotocols: Supported subprotocols, most preferred first.
        select_subprotocol: Instead of *subprotocols*, a callable given the
            client's offers that returns one of them or None.
        extensions: Extension factories, tried in order for each offer.
        origins: Accepted Origin values (include None to accept requests
            without one), or a callable given the origin; others get 403.
            None accepts any.
        max_incomplete_event_size: Limit on the request head (h11's option);
            a larger head gets 431.
        max_headers: Most header fields in the request; more get 431.
        connection_options: Passed on to ``noio_ws.Connection``.
    """

    def __init__(
        self,
        *,
        subprotocols: Sequence[str | bytes] = (),
        select_subprotocol: SubprotocolSelector | None = None,
        extensions: Sequence[ExtensionFactory] = (),
        origins: OriginPolicy | None = None,
        max_incomplete_event_size: int = DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        **connection_options: Unpack[ConnectionOptions],
    ) -> None:
        self._policy = ServerPolicy(subprotocols, select_subprotocol, extensions, origins)
        check_options(connection_options)
        self._options = connection_options
        self._limits = (max_incomplete_event_size, max_headers)
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_incomplete_event_size)
        self._request: HandshakeRequest | None = None
        self._negotiated = Negotiated(None, [], [])
        self._method: bytes | None = None  # of the request, once h11 has parsed its head
        self._failed = False  # the request was invalid: only a rejection may follow
        self._responding = False  # a response was started (a rejection's head, or the 101)
        self._over = False  # a whole response was sent
        # What the rejection's body may still hold: bytes left of its Content-Length,
        # None (no length), _NO_BODY or _DROPPED.
        self._body_left: int | None = None
        self._eof = False

    @property
    def request(self) -> HandshakeRequest | None:
        """The valid request, once received."""
        return self._request

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol chosen for the request (or given to ``accept()``), if any."""
        return self._negotiated.subprotocol

    @property
    def extensions(self) -> tuple[Extension, ...]:
        """The extensions agreed for the request, in order of application."""
        return tuple(self._negotiated.extensions)

    def receive_data(self, data: bytes | bytearray | memoryview) -> HandshakeRequest | None:
        """Feed bytes from the client (``b""`` at EOF); the request once complete, else None.

        Bytes received after the request are kept for the ``Connection``.
        """
        if self._responding or self._failed:
            raise LocalProtocolError("the handshake is over")
        if self._eof:
            raise LocalProtocolError("receive_data() called after EOF")
        self._eof = not data
        for piece in feed_pieces(data, self._limits[0]):
            self._h11.receive_data(piece)  # after the request: kept for the Connection
            if self._request is None:
                try:
                    self._request = self._next_request()
                except h11.RemoteProtocolError as exc:
                    self._failed = True
                    raise HandshakeError(f"invalid HTTP request: {exc}", exc.error_status_hint) from exc
                except HandshakeError:
                    self._failed = True
                    raise
        return self._request

    def _next_request(self) -> HandshakeRequest | None:
        event = self._h11.next_event()
        if event is h11.NEED_DATA:
            return None
        if not isinstance(event, h11.Request):
            raise HandshakeError("the connection closed before the request arrived")
        self._method = event.method
        check_head(event, self._limits)
        request = verify_request(event)
        self._negotiated = self._policy.negotiate(request.origin, request.subprotocols, request.extensions)
        # verify_request refused a body, so the end of the request is already here.
        end = self._h11.next_event()
        assert isinstance(end, h11.EndOfMessage), end
        return request

    def accept(
        self,
        *,
        subprotocol: str | bytes | _Configured | None = CONFIGURED,
        extra_headers: Headers = (),
    ) -> tuple[bytes, Connection]:
        """Accept the request: the 101 bytes to write, and the ``Connection`` to use.

        *subprotocol* overrides the one chosen from the configured subprotocols
        (None: answer with none); it must be one the client offered (section
        4.2.2), else ``LocalProtocolError`` and nothing is sent.
        """
        request = self._request
        if request is None or self._responding or self._failed:
            raise LocalProtocolError("there is no valid request to accept")
        chosen = ServerPolicy.final_subprotocol(subprotocol, self._negotiated, request.subprotocols)
        negotiated = self._negotiated
        response = build_accept(
            request.key, subprotocol=chosen, extensions=negotiated.entries, extra_headers=extra_headers
        )
        connection = Connection(Role.SERVER, extensions=negotiated.extensions, **self._options)
        wire = send_events(self._h11, response)
        self._negotiated = Negotiated(chosen, negotiated.entries, negotiated.extensions)
        self._responding = self._over = True
        return wire, hand_off(connection, self._h11)

    def reject(self, status_code: int, headers: Headers = (), body: bytes = b"") -> bytes:
        """Refuse the handshake: the bytes of the whole response (then close the transport).

        Content-Length is set to the length of *body*. To a HEAD request the
        body is left out (RFC 9110 section 9.3.2); a 204 or 304 cannot have one
        (``ValueError``).
        """
        if status_code in BODILESS_STATUSES and body:
            raise ValueError(f"a {status_code} response has no body (RFC 9110 section 15)")
        length = None if status_code in BODILESS_STATUSES else len(body)
        kept = [(name, value) for name, value in as_header_list(headers) if name.lower() != b"content-length"]
        head = self._start_rejection(rejection_head(status_code, kept, length))
        return head + self.reject_body(body)

    def reject_error(self, error: HandshakeError) -> bytes:
        """The response *error* asks for (status, headers, its message as the body)."""
        response, body = rejection_from_error(error)
        return self._start_rejection(response) + self.reject_body(body)

    def reject_head(self, status_code: int, headers: Headers = ()) -> bytes:
        """Start a rejection whose body follows in pieces: the bytes of the head.

        Send the body with ``reject_body()``. A Content-Length in *headers* is
        kept and the body must match it; without one the body is chunked (an
        HTTP/1.0 client gets it delimited by the end of the connection).
        Transfer-Encoding and Connection are the handshake's: the response
        closes the connection. A status outside 200-599 is a ``ValueError``.
        """
        return self._start_rejection(rejection_head(status_code, headers, None))

    def reject_body(self, data: bytes | bytearray | memoryview = b"", *, more: bool = False) -> bytes:
        """Bytes of the rejection's body, after ``reject_head()``; ``more=False`` ends it.

        To a HEAD request, or with a 204 or 304 status, the response has no
        body: *data* is dropped after a HEAD, and is a ``LocalProtocolError``
        with a 204 or 304. So is more than the declared Content-Length, or
        ending short of it; nothing is sent then, and the call can be repeated.
        """
        if not self._responding or self._over:
            state = "over" if self._over else "not started: call reject_head() first"
            raise LocalProtocolError(f"the rejection is {state}")
        if self._body_left == _NO_BODY and data:
            raise LocalProtocolError("this rejection has no body (a 204 or 304 status)")
        size = len(data)
        if self._body_left is not None and self._body_left >= 0:
            if size > self._body_left:
                raise LocalProtocolError(f"{size} bytes of body, but only {self._body_left} declared left")
            if not more and size < self._body_left:
                raise LocalProtocolError(f"the body ends {self._body_left - size} bytes short of its length")
            self._body_left -= size
        events: list[h11.Event] = []
        if size and self._body_left != _DROPPED:
            events.append(h11.Data(data=bytes(data)))
        if not more:
            events.append(h11.EndOfMessage())
            self._over = True
        return send_events(self._h11, *events)

    def _start_rejection(self, response: h11.Response) -> bytes:
        if self._responding:
            raise LocalProtocolError("a response has already been sent")
        status = response.status_code
        if self._method == b"CONNECT" and 200 <= status < 300:
            raise ValueError("a 2xx answer to CONNECT opens a tunnel; it cannot be a rejection")
        # h11 gives no body to a HEAD, 204 or 304 response and refuses any data.
        if self._method == b"HEAD":
            self._body_left = _DROPPED
        elif status in BODILESS_STATUSES:
            self._body_left = _NO_BODY
        else:
            self._body_left = declared_length(response)
        # h11 lets a server answer even a request it could not parse, but not a
        # client that went away before sending anything.
        try:
            wire = send_events(self._h11, response)
        except h11.LocalProtocolError as exc:
            self._responding = self._over = True
            raise LocalProtocolError(f"cannot respond: {exc}") from None
        self._responding = True
        return wire

"""WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): the handshake as header lists.

Rules of this module:

- Sans-io and stack-free: the opening handshake is an extended CONNECT whose
  headers are lists of ``(name, value)`` pairs with pseudo-headers first, as
  every HTTP/2 and HTTP/3 library takes and gives them (h2, aioquic, ...). No
  HTTP library is imported; the caller's stack sends and receives HEADERS and
  DATA frames, and the WebSocket frames travel as the stream's data.
- What is negotiated (subprotocol, extensions, origin, version 13) is decided
  by the very functions the HTTP/1.1 handshake uses (``_negotiation``). What
  differs is only the framing: ``:method`` CONNECT with ``:protocol``
  websocket instead of a GET with Upgrade, no Sec-WebSocket-Key and no
  Sec-WebSocket-Accept (RFC 8441 section 5), and ``:status`` 200 instead of 101.
- The helpers cannot see SETTINGS: the caller checks that the peer sent
  SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 section 3, RFC 9220 section 3)
  before a client sends the request, and that it sent it itself before a
  server accepts one.
- Names are produced lowercase and received ones must be (RFC 9113 section
  8.2.1); connection-specific fields are malformed (RFC 9113 section 8.2.2).
  A peer's mistake is a ``HandshakeError`` (a server answers with its status);
  the caller's is ``ValueError`` or ``LocalProtocolError``, before anything is
  built. Given names and values may be ``str`` or ``bytes``.
- RFC 6455 framing is unchanged: the client's ``Connection`` masks. The stream's
  end (END_STREAM, or a QUIC FIN) is the transport's EOF: feed ``b""``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._codes import Role
from ._connection import Connection
from ._errors import HandshakeError, LocalProtocolError
from ._fields import CONNECTION_SPECIFIC, is_forbidden, lowercase, lowercase_fields, split_pseudo
from ._headers import ExtensionEntry, as_header_list, as_text, check_ascii, header_values
from ._negotiation import (
    CONFIGURED,
    Headers,
    Negotiated,
    OriginPolicy,
    ServerPolicy,
    SubprotocolSelector,
    _Configured,
    agreed_extensions,
    agreed_subprotocol,
    answer_headers,
    check_extra_headers,
    check_options,
    check_version,
    client_connection,
    offer_headers,
    read_offers,
)
from .extensions._base import Extension, ExtensionFactory

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._negotiation import ConnectionOptions

__all__ = [
    "ExtendedConnectAccepted",
    "ExtendedConnectClient",
    "ExtendedConnectRejected",
    "ExtendedConnectRequest",
    "ExtendedConnectServer",
]

_REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path", b":protocol"))
# The HTTP/1.1 handshake's proof of a WebSocket client, superseded by :protocol (RFC 8441 section 5).
_KEY_FIELDS = frozenset((b"sec-websocket-key", b"sec-websocket-accept"))


@dataclass(frozen=True, slots=True)
class ExtendedConnectRequest:
    """A valid extended CONNECT for a WebSocket, as the server sees it.

    ``headers`` are all the fields received, pseudo-headers included, as bytes;
    ``subprotocols`` and ``extensions`` are the client's offers, in its order.
    """

    scheme: str
    authority: str
    path: str
    headers: list[tuple[bytes, bytes]]
    origin: str | None
    subprotocols: list[str]
    extensions: list[ExtensionEntry]


@dataclass(frozen=True, slots=True)
class ExtendedConnectAccepted:
    """The server answered 200: use ``connection`` on the stream from now on."""

    connection: Connection
    subprotocol: str | None
    extensions: tuple[Extension, ...]
    headers: list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class ExtendedConnectRejected:
    """The server answered with another final status; its body, if any, follows as DATA."""

    status_code: int
    headers: list[tuple[bytes, bytes]]


def _is_managed(name: bytes) -> bool:
    """Fields an extra header may not set in a handshake message: also Sec-WebSocket-*."""
    return is_forbidden(name) or name.startswith(b"sec-websocket-")


def _extra_fields(
    headers: Headers, is_managed: Callable[[bytes], bool] = _is_managed
) -> list[tuple[bytes, bytes]]:
    return lowercase(check_extra_headers(headers, is_managed))


# ------------------------------------------------------------------ client


class ExtendedConnectClient:
    """The client side: the request's headers, then the check of the response's.

    Send ``request_headers`` in a HEADERS frame (without END_STREAM) on a new
    stream, once the server's SETTINGS have said ENABLE_CONNECT_PROTOCOL = 1.
    Give the response's headers to ``receive_response()``: a 200 that agrees
    to what was offered gives ``ExtendedConnectAccepted`` (its ``connection``
    is a client ``Connection``: feed it the stream's DATA, send what it
    produces as DATA); any other final status gives ``ExtendedConnectRejected``
    (RFC 8441 section 5: only 200 completes the handshake). An interim 1xx
    gives None. A 200 that agrees to something not offered raises
    ``HandshakeError``: reset the stream (CANCEL).

    Args:
        authority: ``:authority``, the host (and ``:port`` if not the default).
        path: ``:path``, the path and query of the WebSocket URI, e.g. ``"/chat"``.
        scheme: ``:scheme``: ``"https"`` for a wss URI, ``"http"`` for ws.
        subprotocols: Subprotocols to offer, most preferred first.
        extensions: Extension factories whose offers to make, in order.
        extra_headers: More fields (no pseudo-headers, no connection-specific
            ones, none the handshake sets); names are sent lowercase.
        origin: The Origin to send, if any.
        connection_options: Passed on to ``noio_ws.Connection``.
    """

    def __init__(
        self,
        authority: str | bytes,
        path: str | bytes,
        *,
        scheme: str | bytes = "https",
        subprotocols: Sequence[str | bytes] = (),
        extensions: Sequence[ExtensionFactory] = (),
        extra_headers: Headers = (),
        origin: str | bytes | None = None,
        **connection_options: Unpack[ConnectionOptions],
    ) -> None:
        check_options(connection_options)
        self._options = connection_options
        self._factories = list(extensions)
        self._offered = [as_text(protocol, "subprotocol") for protocol in subprotocols]
        scheme_text = as_text(scheme, "scheme")
        if scheme_text not in ("http", "https"):  # RFC 8441 section 5
            raise ValueError(f"scheme must be http (ws) or https (wss), not {scheme_text!r}")
        path_text = as_text(path, "path")
        if not path_text:
            raise ValueError("the path cannot be empty: use '/'")
        extra = _extra_fields(extra_headers)
        #: The fields of the extended CONNECT to send, pseudo-headers first, names lowercase.
        self.request_headers: list[tuple[bytes, bytes]] = [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", scheme_text.encode("ascii")),
            (b":path", path_text.encode("ascii")),
            (b":authority", as_text(authority, "authority").encode("ascii")),
            (b"sec-websocket-version", b"13"),
            *lowercase(offer_headers(self._offered, self._factories, origin)),
            *extra,
        ]
        self._over = False

    def receive_response(self, headers: Headers) -> ExtendedConnectAccepted | ExtendedConnectRejected | None:
        """Judge the response's fields; None for an interim (1xx) response."""
        if self._over:
            raise LocalProtocolError("the handshake is over")
        try:
            result = self._judge(lowercase_fields(headers))
        except HandshakeError:
            self._over = True
            raise
        self._over = result is not None
        return result

    def _judge(
        self, fields: list[tuple[bytes, bytes]]
    ) -> ExtendedConnectAccepted | ExtendedConnectRejected | None:
        pseudo = split_pseudo(fields, frozenset((b":status",)))
        status_text = pseudo.get(b":status", "")
        if len(status_text) != 3 or not status_text.isdigit():
            raise HandshakeError(f"the response's :status is {status_text or 'missing'}, not a status code")
        status = int(status_text)
        if status == 101:  # RFC 9113 section 8.6, RFC 9114 section 4.6
            raise HandshakeError("101 is not a valid status in HTTP/2 or HTTP/3")
        if status < 200:
            return None
        if status != 200:
            return ExtendedConnectRejected(status, fields)
        regular = [(name, value) for name, value in fields if not name.startswith(b":")]
        check_ascii(regular)
        subprotocol = agreed_subprotocol(regular, self._offered)
        extensions = agreed_extensions(regular, self._factories)
        connection = client_connection(extensions, self._options)
        return ExtendedConnectAccepted(connection, subprotocol, tuple(extensions), fields)


# ------------------------------------------------------------------ server


class ExtendedConnectServer:
    """The server side: the request's check, then the response's headers.

    Give the request's headers to ``receive_request()``: it returns the
    ``ExtendedConnectRequest``, or raises ``HandshakeError`` (answer with
    ``reject_error(err)``). Then ``accept()`` (the 200's fields and the server
    ``Connection``) or ``reject()``. Send the fields in a HEADERS frame, and the
    WebSocket stream as DATA. Before accepting, this server's SETTINGS must have
    said ENABLE_CONNECT_PROTOCOL = 1 (a client may not send the request before).

    Args:
        subprotocols: Supported subprotocols, most preferred first.
        select_subprotocol: Instead of *subprotocols*, a callable given the
            client's offers that returns one of them or None.
        extensions: Extension factories, tried in order for each offer.
        origins: Accepted Origin values, or a callable given the origin; others
            get 403. None accepts any.
        connection_options: Passed on to ``noio_ws.Connection``.
    """

    def __init__(
        self,
        *,
        subprotocols: Sequence[str | bytes] = (),
        select_subprotocol: SubprotocolSelector | None = None,
        extensions: Sequence[ExtensionFactory] = (),
        origins: OriginPolicy | None = None,
        **connection_options: Unpack[ConnectionOptions],
    ) -> None:
        self._policy = ServerPolicy(subprotocols, select_subprotocol, extensions, origins)
        check_options(connection_options)
        self._options = connection_options
        self._request: ExtendedConnectRequest | None = None
        self._negotiated = Negotiated(None, [], [])
        self._received = False
        self._over = False

    @property
    def request(self) -> ExtendedConnectRequest | None:
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

    def receive_request(self, headers: Headers) -> ExtendedConnectRequest:
        """Check the request's fields (RFC 8441 sections 4 and 5) and negotiate."""
        if self._received:
            raise LocalProtocolError("a request was already received")
        self._received = True
        fields = lowercase_fields(headers)
        pseudo = split_pseudo(fields, _REQUEST_PSEUDO)
        regular = [(name, value) for name, value in fields if not name.startswith(b":")]
        method, protocol = pseudo.get(b":method"), pseudo.get(b":protocol")
        if method != "CONNECT":
            if protocol is not None:  # RFC 8441 section 4
                raise HandshakeError(":protocol is only allowed with the CONNECT method")
            raise HandshakeError("a WebSocket over HTTP/2 or HTTP/3 is an extended CONNECT", 405)
        if protocol is None:
            raise HandshakeError("a CONNECT without :protocol opens a tunnel, not a WebSocket")
        if protocol.lower() != "websocket":
            raise HandshakeError(f":protocol is {protocol!r}, not websocket")
        scheme, path = pseudo.get(b":scheme"), pseudo.get(b":path")
        if not scheme or not path:  # RFC 8441 section 4: unlike CONNECT, extended CONNECT has both
            raise HandshakeError("an extended CONNECT needs :scheme and :path")
        authority = pseudo.get(b":authority") or self._host(regular)
        for name, _ in regular:
            if name in CONNECTION_SPECIFIC or name in _KEY_FIELDS:
                raise HandshakeError(f"{name.decode('ascii')} must not be sent with an extended CONNECT")
        if header_values(regular, b"te") not in ([], [b"trailers"]):  # RFC 9113 section 8.2.2
            raise HandshakeError("te may only be trailers")
        check_ascii(regular)
        check_version(regular)
        origin, subprotocols, offers = read_offers(regular)
        request = ExtendedConnectRequest(scheme, authority, path, fields, origin, subprotocols, offers)
        self._negotiated = self._policy.negotiate(origin, subprotocols, offers)
        self._request = request
        return request

    @staticmethod
    def _host(regular: list[tuple[bytes, bytes]]) -> str:
        hosts = header_values(regular, b"host")
        if len(hosts) != 1 or not hosts[0] or not hosts[0].isascii():
            raise HandshakeError("the request needs :authority (or one Host)")
        return hosts[0].decode("ascii")

    def accept(
        self, *, subprotocol: str | bytes | _Configured | None = CONFIGURED, extra_headers: Headers = ()
    ) -> tuple[list[tuple[bytes, bytes]], Connection]:
        """Accept: the 200's fields to send, and the server ``Connection`` for the stream.

        *subprotocol* overrides the configured choice (None: none); it must be
        one the client offered, else ``LocalProtocolError`` and nothing changes.
        """
        request = self._request
        if request is None or self._over:
            raise LocalProtocolError("there is no valid request to accept")
        negotiated = self._negotiated
        chosen = ServerPolicy.final_subprotocol(subprotocol, negotiated, request.subprotocols)
        fields = [
            (b":status", b"200"),
            *lowercase(answer_headers(chosen, negotiated.entries)),
            *_extra_fields(extra_headers),
        ]
        connection = Connection(Role.SERVER, extensions=negotiated.extensions, **self._options)
        self._negotiated = Negotiated(chosen, negotiated.entries, negotiated.extensions)
        self._over = True
        return fields, connection

    def reject(self, status_code: int, headers: Headers = ()) -> list[tuple[bytes, bytes]]:
        """Refuse: the response's fields (send a body as DATA, then END_STREAM).

        The status must be a final one that does not open the tunnel: 300-599
        (a 2xx answer to CONNECT would). A 405 gets ``allow: CONNECT``.
        """
        if self._over:
            raise LocalProtocolError("a response has already been given")
        if not 300 <= status_code <= 599:
            raise ValueError(
                f"a rejection of an extended CONNECT needs a status in 300-599, not {status_code}"
            )
        fields = [(b":status", str(status_code).encode("ascii")), *_extra_fields(headers, is_forbidden)]
        if status_code == 405 and not any(name == b"allow" for name, _ in fields):
            fields.append((b"allow", b"CONNECT"))  # RFC 9110 section 15.5.6
        self._over = True
        return fields

    def reject_error(self, error: HandshakeError) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The response *error* asks for: its fields, and its message as a text body."""
        body = f"{error}\n".encode()
        headers = [(name.lower(), value) for name, value in as_header_list(error.headers)]
        if not any(name == b"content-type" for name, _ in headers):
            headers.append((b"content-type", b"text/plain; charset=utf-8"))
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        return self.reject(error.status_code, headers), body

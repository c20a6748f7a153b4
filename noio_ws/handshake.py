"""The HTTP/1.1 opening handshake (RFC 6455 section 4), as an add-on for h11.

Rules of this module:

- Sans-io like the rest of noio_ws: bytes in, bytes out; no sockets, no clocks.
- Two levels. The helpers work on h11 objects: ``build_request`` and
  ``verify_response`` for a client; ``verify_request``, ``choose_subprotocol``,
  ``accept_extensions``, ``build_accept`` and ``build_rejection`` for a server.
  The drivers ``ClientHandshake`` and ``ServerHandshake`` own an
  ``h11.Connection`` and hand off a configured ``noio_ws.Connection``.
- Whatever the peer sends, a driver raises ``HandshakeError`` (carrying the
  status to answer with: 400 malformed, 403 origin, 405 method, 426 version,
  431 header limits) and nothing else: h11 errors are translated, and header
  values are checked for ASCII before they are decoded. A request with a
  non-ASCII byte in Host, Upgrade, Connection, Origin or any Sec-WebSocket-*
  header is rejected whole. The caller's mistakes raise ``LocalProtocolError``
  (misuse of a driver) or ``ValueError`` (bad arguments).
- Memory is bounded: h11 never buffers more than ``max_incomplete_event_size``
  of an incomplete head, a complete head is held to the same size and to
  ``max_headers`` fields (431), and a rejection body is kept up to
  ``max_body_size``.
- A server's answer is always one h11 will send: a rejection to a HEAD request,
  or with status 204 or 304, has no body (RFC 9110 sections 9.3.2 and 6.4.1);
  every 405 says ``Allow: GET``; headers h11 refuses are a ``ValueError``
  before anything is sent.
- Bytes that follow the handshake (early frames pipelined after the request, or
  frames sent with the 101) belong to the WebSocket stream: they are fed into
  the handed-off ``Connection``, never dropped. So is an end of file.
- Only this module (and the CLI) imports h11.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, TypedDict

import h11

from ._codes import Role
from ._connection import Connection
from ._errors import HandshakeError, LocalProtocolError
from ._headers import (
    ExtensionEntry,
    check_ascii,
    format_extension_list,
    format_token_list,
    header_values,
    parse_extension_list,
    parse_protocol_list,
    parse_token_list,
    single_value,
)
from .extensions._base import Extension, ExtensionFactory

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "CONFIGURED",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_INCOMPLETE_EVENT_SIZE",
    "Accepted",
    "ClientHandshake",
    "ConnectionOptions",
    "ExtensionEntry",
    "HandshakeError",
    "HandshakeRequest",
    "Rejected",
    "ServerHandshake",
    "accept_extensions",
    "accept_token",
    "build_accept",
    "build_rejection",
    "build_request",
    "choose_subprotocol",
    "rejection_from_error",
    "verify_request",
    "verify_response",
]

#: Largest incomplete HTTP head h11 may buffer, and largest complete head accepted.
DEFAULT_MAX_INCOMPLETE_EVENT_SIZE = 16 * 1024
#: Most header fields accepted in a request or response head.
DEFAULT_MAX_HEADERS = 128
#: Most bytes of a rejection's body a client keeps; the rest is not read.
DEFAULT_MAX_BODY_SIZE = 1 << 20

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # section 1.3
# Headers the handshake sets itself (and Sec-WebSocket-*); extra headers may not repeat them.
_MANAGED = frozenset((b"host", b"upgrade", b"connection", b"origin", b"content-length", b"transfer-encoding"))

# Framing is the handshake's (and h11's) business; the rejection ends the connection.
_FRAMING = frozenset((b"transfer-encoding", b"connection"))
# Statuses whose responses never carry a body (RFC 9110 sections 15.3.5 and 15.4.5).
_BODILESS_STATUSES = frozenset((204, 304))

_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}

Headers = Sequence[tuple[bytes, bytes]]
SubprotocolSelector = Callable[[list[str]], "str | None"]
OriginPolicy = Collection["str | None"] | Callable[["str | None"], bool]


class _Configured(enum.Enum):
    """The type of ``CONFIGURED``."""

    CONFIGURED = "CONFIGURED"

    def __repr__(self) -> str:
        return "CONFIGURED"


#: ``ServerHandshake.accept()``'s default: the subprotocol chosen from the configuration.
CONFIGURED = _Configured.CONFIGURED

# Markers for what a rejection's body may hold (see ServerHandshake._body_left).
_NO_BODY = -1
_DROPPED = -2


class ConnectionOptions(TypedDict, total=False):
    """The keyword options of ``noio_ws.Connection`` a driver passes on."""

    max_message_size: int | None
    max_frame_size: int | None
    stream_messages: bool
    validate_utf8: bool
    mask_key_source: Callable[[], bytes] | None


# ------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """A valid opening handshake, as the server sees it.

    ``headers`` are as h11 gives them (lowercase names); ``subprotocols`` and
    ``extensions`` are what the client offered, in its order of preference.
    """

    target: str
    headers: list[tuple[bytes, bytes]]
    host: str
    key: str
    origin: str | None
    subprotocols: list[str]
    extensions: list[ExtensionEntry]


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


# ------------------------------------------------------------------ helpers


def accept_token(key: str) -> str:
    """``Sec-WebSocket-Accept`` for *key*: base64(SHA-1(key + GUID)) (section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def build_request(
    host: str,
    target: str,
    *,
    subprotocols: Sequence[str] = (),
    extensions: Sequence[ExtensionFactory] = (),
    extra_headers: Headers = (),
    origin: str | None = None,
) -> h11.Request:
    """The client's opening handshake (section 4.1), with a fresh random key.

    *host* is the Host header (with ``:port`` if not the default), ASCII: encode
    international names with IDNA first.
    """
    _check_extra_headers(extra_headers)
    # Section 4.1: the key is 16 random bytes, base64-encoded, new for each connection.
    key = base64.b64encode(secrets.token_bytes(16))
    headers = [
        (b"Host", host.encode("ascii")),
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", key),
        (b"Sec-WebSocket-Version", b"13"),
    ]
    if origin is not None:
        headers.append((b"Origin", origin.encode("ascii")))
    if subprotocols:
        headers.append((b"Sec-WebSocket-Protocol", format_token_list(subprotocols)))
    if extensions:
        offers = format_extension_list((factory.name, factory.offer()) for factory in extensions)
        headers.append((b"Sec-WebSocket-Extensions", offers))
    headers.extend(extra_headers)
    return h11.Request(method="GET", target=target, headers=headers)


def verify_response(
    request: h11.Request,
    response: h11.InformationalResponse,
    extensions: Sequence[ExtensionFactory] = (),
) -> tuple[str | None, list[Extension]]:
    """Check the server's 101 against *request* (section 4.1); the agreed subprotocol and extensions.

    *extensions* are the factories whose offers *request* carries. Raises
    ``HandshakeError`` if the client must fail the connection.
    """
    if response.status_code != 101:
        raise HandshakeError(f"expected status 101, got {response.status_code}")
    headers, sent = list(response.headers), list(request.headers)
    check_ascii(headers)
    # Section 4.1, the client's checks of the response, items 2 to 6.
    upgrade = parse_protocol_list(header_values(headers, b"upgrade"), "Upgrade")
    if _lowered(upgrade) != ["websocket"]:
        raise HandshakeError("the response's Upgrade is not websocket")
    if "upgrade" not in _lowered(parse_token_list(header_values(headers, b"connection"), "Connection")):
        raise HandshakeError("the response's Connection does not include upgrade")
    key = single_value(sent, b"sec-websocket-key", "Sec-WebSocket-Key")
    # Section 11.3.3: Sec-WebSocket-Accept appears once.
    if single_value(headers, b"sec-websocket-accept", "Sec-WebSocket-Accept") != accept_token(key):
        raise HandshakeError("Sec-WebSocket-Accept does not match the key")
    offered = parse_token_list(header_values(sent, b"sec-websocket-protocol"), "Sec-WebSocket-Protocol")
    return _agreed_subprotocol(headers, offered), _agreed_extensions(headers, extensions)


def _agreed_subprotocol(headers: Headers, offered: list[str]) -> str | None:
    """Sections 4.1 and 11.3.4: at most one subprotocol, and one the client offered."""
    chosen = parse_token_list(header_values(headers, b"sec-websocket-protocol"), "Sec-WebSocket-Protocol")
    if not chosen:
        return None
    if len(chosen) > 1 or chosen[0] not in offered:
        raise HandshakeError(f"the server chose subprotocol {', '.join(chosen)}, which was not offered")
    return chosen[0]


def _agreed_extensions(headers: Headers, factories: Sequence[ExtensionFactory]) -> list[Extension]:
    """Section 4.1: only offered extensions, each once, in the server's order."""
    by_name: dict[str, ExtensionFactory] = {}
    for factory in factories:
        by_name.setdefault(factory.name, factory)
    agreed: list[Extension] = []
    seen: set[str] = set()
    for name, params in parse_extension_list(header_values(headers, b"sec-websocket-extensions")):
        chosen = by_name.get(name)
        if chosen is None:
            raise HandshakeError(f"the server selected extension {name}, which was not offered")
        if name in seen:
            raise HandshakeError(f"the server selected extension {name} twice")
        seen.add(name)
        agreed.append(chosen.accept_response(params))
    return agreed


def verify_request(request: h11.Request) -> HandshakeRequest:
    """Check a client's opening handshake (section 4.2.1); raise ``HandshakeError`` if invalid."""
    headers = list(request.headers)
    check_ascii(headers)
    # Section 4.2.1, items 1 to 6 (a 400 unless said otherwise).
    if request.method != b"GET":
        raise HandshakeError("the opening handshake must be a GET", 405, [(b"Allow", b"GET")])
    if request.http_version < b"1.1":
        raise HandshakeError("the opening handshake needs HTTP/1.1 or later")
    host = single_value(headers, b"host", "Host")
    if "websocket" not in _lowered(parse_protocol_list(header_values(headers, b"upgrade"), "Upgrade")):
        raise HandshakeError("Upgrade does not include websocket")
    if "upgrade" not in _lowered(parse_token_list(header_values(headers, b"connection"), "Connection")):
        raise HandshakeError("Connection does not include upgrade")
    # Section 4.2.2 item 4 and 4.4: name the version we speak.
    if header_values(headers, b"sec-websocket-version") != [b"13"]:
        raise HandshakeError("unsupported WebSocket version", 426, [(b"Sec-WebSocket-Version", b"13")])
    key = single_value(headers, b"sec-websocket-key", "Sec-WebSocket-Key")  # once: section 11.3.1
    if not _is_valid_key(key):
        raise HandshakeError("Sec-WebSocket-Key is not the base64 encoding of 16 bytes")
    if header_values(headers, b"transfer-encoding") or header_values(headers, b"content-length") not in (
        [],
        [b"0"],
    ):
        raise HandshakeError("the opening handshake must not have a body")
    origins = header_values(headers, b"origin")
    if len(origins) > 1:
        raise HandshakeError("more than one Origin header")
    return HandshakeRequest(
        target=request.target.decode("ascii"),  # h11 admits only visible ASCII in a target
        headers=headers,
        host=host,
        key=key,
        origin=origins[0].decode("ascii") if origins else None,
        subprotocols=parse_token_list(
            header_values(headers, b"sec-websocket-protocol"), "Sec-WebSocket-Protocol"
        ),
        extensions=parse_extension_list(header_values(headers, b"sec-websocket-extensions")),
    )


def _is_valid_key(key: str) -> bool:
    """Section 4.2.1 item 5: base64 of exactly 16 bytes, in canonical form."""
    try:
        raw = base64.b64decode(key, validate=True)
    except binascii.Error:
        return False
    return len(raw) == 16 and base64.b64encode(raw).decode("ascii") == key


def choose_subprotocol(offered: list[str], supported: Sequence[str] | SubprotocolSelector) -> str | None:
    """The subprotocol to answer with (section 4.2.2 item 5.4), or None.

    *supported* is the server's list in order of preference (the first one the
    client offered wins) or a callable given the offers. A callable that returns
    something the client did not offer raises ``LocalProtocolError``.
    """
    if callable(supported):
        chosen = supported(list(offered))
        if chosen is not None and chosen not in offered:
            raise LocalProtocolError(f"select_subprotocol chose {chosen!r}, which the client did not offer")
        return chosen
    return next((protocol for protocol in supported if protocol in offered), None)


def accept_extensions(
    offers: Sequence[ExtensionEntry], factories: Sequence[ExtensionFactory]
) -> tuple[list[ExtensionEntry], list[Extension]]:
    """Accept the client's extension offers (section 9.1): the response entries and extensions.

    Offers are taken in the client's order; an offer goes to the first unused
    factory of its name that accepts it, so for each name the first acceptable
    offer wins. An extension whose RSV bits or opcodes collide with one already
    accepted is declined. The order of the result is the order of application.
    """
    entries: list[ExtensionEntry] = []
    agreed: list[Extension] = []
    for name, params in offers:
        if any(entry[0] == name for entry in entries):
            continue
        for factory in factories:
            if factory.name != name:
                continue
            result = factory.accept_offer(params)
            if result is None or _collides(result[1], agreed):
                continue
            entries.append((name, list(result[0])))
            agreed.append(result[1])
            break
    return entries, agreed


def _collides(extension: Extension, agreed: list[Extension]) -> bool:
    for other in agreed:
        if extension.rsv_mask & other.rsv_mask or set(extension.opcodes) & set(other.opcodes):
            return True
    return False


def build_accept(
    key: str,
    *,
    subprotocol: str | None = None,
    extensions: Sequence[ExtensionEntry] = (),
    extra_headers: Headers = (),
) -> h11.InformationalResponse:
    """The server's 101 answer (section 4.2.2 item 5) to the handshake with *key*."""
    _check_extra_headers(extra_headers)
    headers = [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", accept_token(key).encode("ascii")),
    ]
    if subprotocol is not None:
        headers.append((b"Sec-WebSocket-Protocol", format_token_list([subprotocol])))
    if extensions:
        headers.append((b"Sec-WebSocket-Extensions", format_extension_list(extensions)))
    headers.extend(extra_headers)
    return h11.InformationalResponse(status_code=101, headers=headers, reason=b"Switching Protocols")


def build_rejection(status_code: int, headers: Headers = (), body: bytes = b"") -> h11.Response:
    """A response refusing the handshake, framing *body* (sent after it) and closing.

    Any Content-Length, Transfer-Encoding or Connection in *headers* is replaced;
    a 405 without ``Allow`` gets ``Allow: GET``. A 204 or 304 cannot carry a
    body, and gets no Content-Length.
    """
    if status_code in _BODILESS_STATUSES:
        if body:
            raise ValueError(f"a {status_code} response has no body (RFC 9110 section 15)")
        length = None
    else:
        length = len(body)
    kept = [(name, value) for name, value in headers if name.lower() != b"content-length"]
    return _rejection_head(status_code, kept, length)


def rejection_from_error(error: HandshakeError) -> tuple[h11.Response, bytes]:
    """The response a ``HandshakeError`` asks for, with its message as a text body."""
    body = f"{error}\n".encode()
    headers = list(error.headers)
    if not any(name.lower() == b"content-type" for name, _ in headers):
        headers.append((b"Content-Type", b"text/plain; charset=utf-8"))
    if error.status_code in _BODILESS_STATUSES:
        body = b""
    return build_rejection(error.status_code, headers, body), body


def _rejection_head(status_code: int, headers: Headers, content_length: int | None) -> h11.Response:
    """The head of a rejection: *headers* less Transfer-Encoding and Connection, closing.

    A Content-Length in *headers* is kept (h11 then holds the body to it), else
    *content_length* is added if not None; without either, h11 chunks the body
    for an HTTP/1.1 client and delimits it by closing for HTTP/1.0.
    """
    if not 100 <= status_code <= 599:
        raise ValueError(f"{status_code} is not an HTTP status code (100-599)")
    if status_code < 200:
        raise ValueError(f"a rejection needs a final status code (200-599), not {status_code}")
    kept = [(name, value) for name, value in headers if name.lower() not in _FRAMING]
    given_length = any(name.lower() == b"content-length" for name, _ in kept)
    if status_code == 204 and given_length:
        raise ValueError("a 204 response must not have a Content-Length (RFC 9110 section 8.6)")
    if content_length is not None and not given_length:
        kept.append((b"Content-Length", str(content_length).encode("ascii")))
    # RFC 9110 section 15.5.6: a 405 must say which methods are allowed; only GET is.
    if status_code == 405 and not any(name.lower() == b"allow" for name, _ in kept):
        kept.append((b"Allow", b"GET"))
    # The handshake connection ends with a rejection: the client must not reuse it.
    kept.append((b"Connection", b"close"))
    try:
        return h11.Response(status_code=status_code, headers=kept, reason=_REASONS.get(status_code, b""))
    except h11.LocalProtocolError as exc:  # a malformed header name, value or Content-Length
        raise ValueError(f"cannot send these rejection headers: {exc}") from None


# ------------------------------------------------------------------ internals


def _lowered(tokens: list[str]) -> list[str]:
    return [token.lower() for token in tokens]


def _check_extra_headers(headers: Headers) -> None:
    for name, _ in headers:
        lowered = name.lower()
        if lowered in _MANAGED or lowered.startswith(b"sec-websocket-"):
            raise ValueError(f"{name!r} is set by the handshake; it cannot be an extra header")


def _check_head(
    event: h11.Request | h11.Response | h11.InformationalResponse, limits: tuple[int, int]
) -> None:
    """h11 bounds only incomplete heads; hold complete ones to the same limits (431)."""
    max_size, max_headers = limits
    if len(event.headers) > max_headers:
        raise HandshakeError(f"more than {max_headers} header fields", 431)
    # The start line counts too: "GET <target> HTTP/1.1" or "HTTP/1.1 101 <reason>".
    if isinstance(event, h11.Request):
        size = len(event.method) + len(event.target) + 11
    else:
        size = len(event.reason) + 15
    size += sum(len(name) + len(value) + 4 for name, value in event.headers)
    if size > max_size:
        raise HandshakeError(f"head over {max_size} bytes", 431)


def _pieces(data: bytes | bytearray | memoryview, size: int) -> list[bytes]:
    """*data* cut into pieces of at most *size* bytes (``b""``, an EOF, stays one piece).

    h11 bounds only an incomplete head: handed a huge complete head at once, it
    parses all of it before any check. Fed at most *size* bytes at a time, it
    sees an oversized head while still incomplete, and refuses it (431).
    """
    if not data:
        return [b""]
    view = memoryview(data)
    return [bytes(view[start : start + size]) for start in range(0, len(view), size)]


def _check_options(options: ConnectionOptions) -> ConnectionOptions:
    """Fail at construction, not at the end of the handshake, on bad Connection options."""
    unknown = set(options) - ConnectionOptions.__optional_keys__
    if unknown:
        raise TypeError(f"unexpected connection options: {', '.join(sorted(unknown))}")
    Connection(Role.CLIENT, **options)  # raises ValueError on a bad value
    return options


def _hand_off(connection: Connection, h11_connection: h11.Connection) -> Connection:
    """Feed the bytes (and EOF) h11 received after the handshake into *connection*."""
    trailing, closed = h11_connection.trailing_data
    if trailing:
        connection.receive_data(trailing)
    if closed:
        connection.receive_data(b"")
    return connection


def _send(connection: h11.Connection, *events: h11.Event) -> bytes:
    return b"".join(connection.send(event) or b"" for event in events)


# ------------------------------------------------------------------ drivers


class ClientHandshake:
    """The client side of the opening handshake over an ``h11.Connection``.

    ``send()`` gives the request bytes; feed what the server sends to
    ``receive_data()`` until it returns ``Accepted`` (use its ``connection``,
    which already holds any bytes that came after the 101) or ``Rejected``
    (status, headers and the body, kept up to *max_body_size* bytes). An invalid
    101 or a malformed response raises ``HandshakeError``.

    Args:
        host: The Host header (``name`` or ``name:port``), ASCII.
        target: The request target, e.g. ``"/chat?room=1"``.
        subprotocols: Subprotocols to offer, most preferred first.
        extensions: Extension factories whose offers to make, in order.
        extra_headers: More request headers (not the ones the handshake sets).
        origin: The Origin header to send, if any.
        max_incomplete_event_size: Limit on the response head (h11's option).
        max_headers: Most header fields accepted in the response.
        max_body_size: Most bytes of a rejection's body kept.
        connection_options: Passed on to ``noio_ws.Connection``.
    """

    def __init__(
        self,
        host: str,
        target: str,
        *,
        subprotocols: Sequence[str] = (),
        extensions: Sequence[ExtensionFactory] = (),
        extra_headers: Headers = (),
        origin: str | None = None,
        max_incomplete_event_size: int = DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        **connection_options: Unpack[ConnectionOptions],
    ) -> None:
        self._options = _check_options(connection_options)
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
        return _send(self._h11, self.request, h11.EndOfMessage())

    def receive_data(self, data: bytes | bytearray | memoryview) -> Accepted | Rejected | None:
        """Feed bytes from the server (``b""`` at EOF); the outcome once it is known, else None."""
        if not self._sent:
            raise LocalProtocolError("send() the request before receiving the response")
        if self._over:
            raise LocalProtocolError("the handshake is over")
        result: Accepted | Rejected | None = None
        try:
            for piece in _pieces(data, self._limits[0]):
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
                _check_head(event, self._limits)
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
        try:
            connection = Connection(Role.CLIENT, extensions=extensions, **self._options)
        except ValueError as exc:  # the server agreed to extensions that claim the same bits
            raise HandshakeError(f"the server's extensions conflict: {exc}") from exc
        return Accepted(_hand_off(connection, self._h11), subprotocol, tuple(extensions), response)

    def _rejected(self) -> Rejected:
        assert self._rejection is not None  # h11 gives a Response before its body
        return Rejected(self._rejection.status_code, list(self._rejection.headers), bytes(self._body))


class ServerHandshake:
    """The server side of the opening handshake over an ``h11.Connection``.

    Feed bytes to ``receive_data()`` until it returns the ``HandshakeRequest``
    (it raises ``HandshakeError`` if the request is invalid: answer with
    ``reject_error(err)``). Then ``accept()`` (the 101 bytes and a
    ``Connection`` already holding any bytes that followed the request) or
    ``reject()``, or ``reject_head()`` then ``reject_body()`` for a body that
    comes in pieces. The subprotocol and extensions are chosen when the request
    arrives (see ``subprotocol`` and ``extensions``); ``accept()`` may name
    another offered subprotocol.

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
        subprotocols: Sequence[str] = (),
        select_subprotocol: SubprotocolSelector | None = None,
        extensions: Sequence[ExtensionFactory] = (),
        origins: OriginPolicy | None = None,
        max_incomplete_event_size: int = DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
        max_headers: int = DEFAULT_MAX_HEADERS,
        **connection_options: Unpack[ConnectionOptions],
    ) -> None:
        if subprotocols and select_subprotocol is not None:
            raise ValueError("give subprotocols or select_subprotocol, not both")
        self._options = _check_options(connection_options)
        self._supported = select_subprotocol if select_subprotocol is not None else list(subprotocols)
        self._factories = list(extensions)
        self._origins = origins
        self._limits = (max_incomplete_event_size, max_headers)
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_incomplete_event_size)
        self._request: HandshakeRequest | None = None
        self._subprotocol: str | None = None
        self._entries: list[ExtensionEntry] = []
        self._extensions: list[Extension] = []
        self._method: bytes | None = None  # of the request, once h11 has parsed its head
        self._failed = False  # the request was invalid: only a rejection may follow
        self._responding = False  # a response was started (a rejection's head, or the 101)
        self._over = False  # a whole response was sent
        # What the rejection's body may still hold: bytes left of its Content-Length,
        # None (no length), _NO_BODY (204, 304) or _DROPPED (a HEAD request).
        self._body_left: int | None = None
        self._eof = False

    @property
    def request(self) -> HandshakeRequest | None:
        """The valid request, once received."""
        return self._request

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol chosen for the request, if any."""
        return self._subprotocol

    @property
    def extensions(self) -> tuple[Extension, ...]:
        """The extensions agreed for the request, in order of application."""
        return tuple(self._extensions)

    def receive_data(self, data: bytes | bytearray | memoryview) -> HandshakeRequest | None:
        """Feed bytes from the client (``b""`` at EOF); the request once complete, else None.

        Bytes received after the request are kept for the ``Connection``.
        """
        if self._responding or self._failed:
            raise LocalProtocolError("the handshake is over")
        if self._eof:
            raise LocalProtocolError("receive_data() called after EOF")
        self._eof = not data
        for piece in _pieces(data, self._limits[0]):
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
        _check_head(event, self._limits)
        request = verify_request(event)
        self._check_origin(request.origin)
        self._subprotocol = choose_subprotocol(request.subprotocols, self._supported)
        self._entries, self._extensions = accept_extensions(request.extensions, self._factories)
        # verify_request refused a body, so the end of the request is already here.
        end = self._h11.next_event()
        assert isinstance(end, h11.EndOfMessage), end
        return request

    def _check_origin(self, origin: str | None) -> None:
        policy = self._origins
        if policy is None:
            return
        allowed = policy(origin) if callable(policy) else origin in policy
        if not allowed:
            raise HandshakeError("origin not allowed", 403)

    def accept(
        self,
        *,
        subprotocol: str | _Configured | None = CONFIGURED,
        extra_headers: Headers = (),
    ) -> tuple[bytes, Connection]:
        """Accept the request: the 101 bytes to write, and the ``Connection`` to use.

        *subprotocol* overrides the one chosen from the configured subprotocols
        (None: answer with none); it must be one the client offered (section
        4.2.2), else ``LocalProtocolError`` and nothing is sent.
        """
        if self._request is None or self._responding or self._failed:
            raise LocalProtocolError("there is no valid request to accept")
        if subprotocol is CONFIGURED:
            subprotocol = self._subprotocol
        elif subprotocol is not None and subprotocol not in self._request.subprotocols:
            raise LocalProtocolError(f"subprotocol {subprotocol!r} was not offered by the client")
        response = build_accept(
            self._request.key,
            subprotocol=subprotocol,
            extensions=self._entries,
            extra_headers=extra_headers,
        )
        connection = Connection(Role.SERVER, extensions=self._extensions, **self._options)
        wire = _send(self._h11, response)
        self._subprotocol = subprotocol
        self._responding = self._over = True
        return wire, _hand_off(connection, self._h11)

    def reject(self, status_code: int, headers: Headers = (), body: bytes = b"") -> bytes:
        """Refuse the handshake: the bytes of the whole response (then close the transport).

        Content-Length is set to the length of *body*. To a HEAD request the
        body is left out (RFC 9110 section 9.3.2); a 204 or 304 cannot have one
        (``ValueError``).
        """
        if status_code in _BODILESS_STATUSES and body:
            raise ValueError(f"a {status_code} response has no body (RFC 9110 section 15)")
        length = None if status_code in _BODILESS_STATUSES else len(body)
        kept = [(name, value) for name, value in headers if name.lower() != b"content-length"]
        head = self._start_rejection(_rejection_head(status_code, kept, length))
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
        return self._start_rejection(_rejection_head(status_code, headers, None))

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
        return _send(self._h11, *events)

    def _start_rejection(self, response: h11.Response) -> bytes:
        if self._responding:
            raise LocalProtocolError("a response has already been sent")
        status = response.status_code
        if self._method == b"CONNECT" and 200 <= status < 300:
            raise ValueError("a 2xx answer to CONNECT opens a tunnel; it cannot be a rejection")
        # h11 gives no body to a HEAD, 204 or 304 response and refuses any data.
        if self._method == b"HEAD":
            self._body_left = _DROPPED
        elif status in _BODILESS_STATUSES:
            self._body_left = _NO_BODY
        else:
            self._body_left = _declared_length(response)
        # h11 lets a server answer even a request it could not parse, but not a
        # client that went away before sending anything.
        try:
            wire = _send(self._h11, response)
        except h11.LocalProtocolError as exc:
            self._responding = self._over = True
            raise LocalProtocolError(f"cannot respond: {exc}") from None
        self._responding = True
        return wire


def _declared_length(response: h11.Response) -> int | None:
    """The Content-Length of *response* (h11 checked that its values agree), or None."""
    for name, value in response.headers:
        if name == b"content-length":
            return int(value)
    return None

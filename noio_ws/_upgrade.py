"""The HTTP/1.1 opening handshake's rules (RFC 6455 section 4) on h11 objects.

Rules of this module:

- Stateless helpers that build and check h11 events; the drivers
  (``_client_handshake``, ``_server_handshake``) feed h11 and call them. What is
  negotiated (subprotocol, extensions, origin, version) is ``_negotiation``'s,
  shared with extended CONNECT; this module adds what is HTTP/1.1's own: Host,
  Upgrade, Connection, the key and its accept token, the 101, and rejections
  framed the way h11 will send them.
- Header values the handshake reads are checked for ASCII before they are
  decoded (``check_ascii``): a stray byte is a ``HandshakeError`` (400).
- Everything built here is something h11 sends: headers h11 would refuse are a
  ``ValueError`` before any byte goes out, a 405 says ``Allow: GET``, and a
  204 or 304 carries no body (RFC 9110 sections 6.4.1 and 15.5.6).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

import h11

from ._connection import Connection
from ._errors import HandshakeError
from ._headers import (
    ExtensionEntry,
    ExtensionText,
    as_bytes,
    as_header_list,
    check_ascii,
    header_values,
    parse_protocol_list,
    parse_token_list,
    single_value,
)
from ._negotiation import (
    Headers,
    agreed_extensions,
    agreed_subprotocol,
    answer_headers,
    check_extra_headers,
    check_version,
    offer_headers,
    read_offers,
)
from .extensions._base import Extension, ExtensionFactory

__all__ = [
    "BODILESS_STATUSES",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_INCOMPLETE_EVENT_SIZE",
    "HandshakeRequest",
    "accept_token",
    "build_accept",
    "build_rejection",
    "build_request",
    "check_head",
    "declared_length",
    "feed_pieces",
    "hand_off",
    "rejection_from_error",
    "rejection_head",
    "send_events",
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
# Origin is the caller's: given as origin= or as an extra header, once.
_MANAGED = frozenset((b"host", b"upgrade", b"connection", b"content-length", b"transfer-encoding"))
# Framing is the handshake's (and h11's) business; the rejection ends the connection.
_FRAMING = frozenset((b"transfer-encoding", b"connection"))
#: Statuses whose responses never carry a body (RFC 9110 sections 15.3.5 and 15.4.5).
BODILESS_STATUSES = frozenset((204, 304))

_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}


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


def accept_token(key: str | bytes) -> str:
    """``Sec-WebSocket-Accept`` for *key*: base64(SHA-1(key + GUID)) (section 4.2.2)."""
    digest = hashlib.sha1(as_bytes(key, "Sec-WebSocket-Key") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def _is_managed(name: bytes) -> bool:
    return name in _MANAGED or name.startswith(b"sec-websocket-")


def build_request(
    host: str | bytes,
    target: str | bytes,
    *,
    subprotocols: Sequence[str | bytes] = (),
    extensions: Sequence[ExtensionFactory] = (),
    extra_headers: Headers = (),
    origin: str | bytes | None = None,
) -> h11.Request:
    """The client's opening handshake (section 4.1), with a fresh random key.

    *host* is the Host header (with ``:port`` if not the default), ASCII: encode
    international names with IDNA first. Every name and value may be ``str``
    (ASCII) or ``bytes``. The Origin may be given as *origin* or as an extra
    header, once.
    """
    extra = check_extra_headers(extra_headers, _is_managed)
    origins = sum(name.lower() == b"origin" for name, _ in extra) + (origin is not None)
    if origins > 1:
        raise ValueError("give the Origin once: as origin= or as an extra header")
    # Section 4.1: the key is 16 random bytes, base64-encoded, new for each connection.
    key = base64.b64encode(secrets.token_bytes(16))
    headers = [
        (b"Host", as_bytes(host, "host")),
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", key),
        (b"Sec-WebSocket-Version", b"13"),
        *offer_headers(subprotocols, extensions, origin),
        *extra,
    ]
    try:
        return h11.Request(method="GET", target=as_bytes(target, "target"), headers=headers)
    except h11.LocalProtocolError as exc:  # a malformed target, header name or value
        raise ValueError(f"cannot send this request: {exc}") from None


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
    return agreed_subprotocol(headers, offered), agreed_extensions(headers, extensions)


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
    check_version(headers)
    key = single_value(headers, b"sec-websocket-key", "Sec-WebSocket-Key")  # once: section 11.3.1
    if not _is_valid_key(key):
        raise HandshakeError("Sec-WebSocket-Key is not the base64 encoding of 16 bytes")
    if header_values(headers, b"transfer-encoding") or header_values(headers, b"content-length") not in (
        [],
        [b"0"],
    ):
        raise HandshakeError("the opening handshake must not have a body")
    origin, subprotocols, extensions = read_offers(headers)
    return HandshakeRequest(
        target=request.target.decode("ascii"),  # h11 admits only visible ASCII in a target
        headers=headers,
        host=host,
        key=key,
        origin=origin,
        subprotocols=subprotocols,
        extensions=extensions,
    )


def _is_valid_key(key: str) -> bool:
    """Section 4.2.1 item 5: base64 of exactly 16 bytes, in canonical form."""
    try:
        raw = base64.b64decode(key, validate=True)
    except binascii.Error:
        return False
    return len(raw) == 16 and base64.b64encode(raw).decode("ascii") == key


def build_accept(
    key: str | bytes,
    *,
    subprotocol: str | bytes | None = None,
    extensions: Sequence[ExtensionText] = (),
    extra_headers: Headers = (),
) -> h11.InformationalResponse:
    """The server's 101 answer (section 4.2.2 item 5) to the handshake with *key*."""
    extra = check_extra_headers(extra_headers, _is_managed)
    headers = [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", accept_token(key).encode("ascii")),
        *answer_headers(subprotocol, extensions),
        *extra,
    ]
    try:
        return h11.InformationalResponse(status_code=101, headers=headers, reason=b"Switching Protocols")
    except h11.LocalProtocolError as exc:  # a malformed header name or value
        raise ValueError(f"cannot send this response: {exc}") from None


def build_rejection(status_code: int, headers: Headers = (), body: bytes = b"") -> h11.Response:
    """A response refusing the handshake, framing *body* (sent after it) and closing.

    Any Content-Length, Transfer-Encoding or Connection in *headers* is replaced;
    a 405 without ``Allow`` gets ``Allow: GET``. A 204 or 304 cannot carry a
    body, and gets no Content-Length.
    """
    if status_code in BODILESS_STATUSES:
        if body:
            raise ValueError(f"a {status_code} response has no body (RFC 9110 section 15)")
        length = None
    else:
        length = len(body)
    kept = [(name, value) for name, value in as_header_list(headers) if name.lower() != b"content-length"]
    return rejection_head(status_code, kept, length)


def rejection_from_error(error: HandshakeError) -> tuple[h11.Response, bytes]:
    """The response a ``HandshakeError`` asks for, with its message as a text body."""
    body = b"" if error.status_code in BODILESS_STATUSES else f"{error}\n".encode()
    headers = as_header_list(error.headers)
    if not any(name.lower() == b"content-type" for name, _ in headers):
        headers.append((b"Content-Type", b"text/plain; charset=utf-8"))
    return build_rejection(error.status_code, headers, body), body


def rejection_head(status_code: int, headers: Headers, content_length: int | None) -> h11.Response:
    """The head of a rejection: *headers* less Transfer-Encoding and Connection, closing.

    A Content-Length in *headers* is kept (h11 then holds the body to it), else
    *content_length* is added if not None; without either, h11 chunks the body
    for an HTTP/1.1 client and delimits it by closing for HTTP/1.0.
    """
    if not 100 <= status_code <= 599:
        raise ValueError(f"{status_code} is not an HTTP status code (100-599)")
    if status_code < 200:
        raise ValueError(f"a rejection needs a final status code (200-599), not {status_code}")
    kept = [(name, value) for name, value in as_header_list(headers) if name.lower() not in _FRAMING]
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


def declared_length(response: h11.Response) -> int | None:
    """The Content-Length of *response* (h11 checked that its values agree), or None."""
    for name, value in response.headers:
        if name == b"content-length":
            return int(value)
    return None


# ------------------------------------------------------------------ feeding h11


def _lowered(tokens: list[str]) -> list[str]:
    return [token.lower() for token in tokens]


def check_head(
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


def feed_pieces(data: bytes | bytearray | memoryview, size: int) -> list[bytes]:
    """*data* cut into pieces of at most *size* bytes (``b""``, an EOF, stays one piece).

    h11 bounds only an incomplete head: handed a huge complete head at once, it
    parses all of it before any check. Fed at most *size* bytes at a time, it
    sees an oversized head while still incomplete, and refuses it (431).
    """
    if not data:
        return [b""]
    view = memoryview(data)
    return [bytes(view[start : start + size]) for start in range(0, len(view), size)]


def hand_off(connection: Connection, h11_connection: h11.Connection) -> Connection:
    """Feed the bytes (and EOF) h11 received after the handshake into *connection*."""
    trailing, closed = h11_connection.trailing_data
    if trailing:
        connection.receive_data(trailing)
    if closed:
        connection.receive_data(b"")
    return connection


def send_events(connection: h11.Connection, *events: h11.Event) -> bytes:
    return b"".join(connection.send(event) or b"" for event in events)

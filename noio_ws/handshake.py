"""The HTTP/1.1 opening handshake (RFC 6455 section 4), as an add-on for h11.

Rules of this module:

- Sans-io like the rest of noio_ws: bytes in, bytes out; no sockets, no clocks.
- This module is the public face; the work is done behind it, one concern per
  module: ``_negotiation`` (subprotocol, extensions, origin, version: shared
  with extended CONNECT over HTTP/2 and HTTP/3), ``_upgrade`` (the HTTP/1.1
  rules on h11 objects), ``_client_handshake`` and ``_server_handshake`` (the
  drivers).
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
- What the caller gives (header names and values, subprotocols, origins, hosts,
  extension names and parameters) may be ``str`` or ``bytes``, as in h11; a
  non-ASCII ``str`` is a ``ValueError``.
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
- Only the handshake modules and the CLI import h11 (``extended_connect`` does
  not need it).
"""

from __future__ import annotations

from ._client_handshake import Accepted, ClientHandshake, Rejected
from ._errors import HandshakeError
from ._headers import ExtensionEntry
from ._negotiation import (
    CONFIGURED,
    ConnectionOptions,
    Headers,
    OriginPolicy,
    SubprotocolSelector,
    accept_extensions,
    choose_subprotocol,
)
from ._server_handshake import ServerHandshake
from ._upgrade import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
    HandshakeRequest,
    accept_token,
    build_accept,
    build_rejection,
    build_request,
    rejection_from_error,
    verify_request,
    verify_response,
)

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
    "Headers",
    "OriginPolicy",
    "Rejected",
    "ServerHandshake",
    "SubprotocolSelector",
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

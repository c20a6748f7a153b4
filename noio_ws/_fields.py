"""HTTP/2 and HTTP/3 field rules (RFC 9113 section 8.2-8.3, RFC 9114 section 4.2-4.3).

Rules of this module:

- Pure functions on header lists of ``(name, value)`` bytes pairs; no state, no
  HTTP library. Used by ``extended_connect``.
- A received list that breaks the rules (an uppercase name, a pseudo-header
  after a regular field, unknown or repeated, or not ASCII) is malformed: a
  ``HandshakeError`` (400), raised before any value is decoded.
"""

from __future__ import annotations

from ._errors import HandshakeError
from ._headers import as_header_list
from ._negotiation import Headers

__all__ = ["CONNECTION_SPECIFIC", "is_forbidden", "lowercase", "lowercase_fields", "split_pseudo"]

#: Connection-specific fields, malformed in HTTP/2 (RFC 9113 8.2.2) and HTTP/3 (RFC 9114 4.2).
CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"proxy-connection", b"keep-alive", b"transfer-encoding", b"upgrade")
)


def lowercase_fields(headers: Headers) -> list[tuple[bytes, bytes]]:
    """*headers* as bytes; 400 if a name has an uppercase letter (RFC 9113 section 8.2.1)."""
    fields = as_header_list(headers)
    for name, _ in fields:
        if name != name.lower():
            raise HandshakeError(f"header name {name!r} is not lowercase (RFC 9113 section 8.2.1)")
    return fields


def split_pseudo(fields: list[tuple[bytes, bytes]], allowed: frozenset[bytes]) -> dict[bytes, str]:
    """The pseudo-headers of *fields*: each known, once, ASCII, before the regular fields (8.3)."""
    pseudo: dict[bytes, str] = {}
    regular_seen = False
    for name, value in fields:
        if not name.startswith(b":"):
            regular_seen = True
            continue
        if regular_seen:
            raise HandshakeError(f"pseudo-header {name!r} after a regular field (RFC 9113 section 8.3)")
        if name not in allowed:
            raise HandshakeError(f"unexpected pseudo-header {name!r} (RFC 9113 section 8.3)")
        if name in pseudo:
            raise HandshakeError(f"repeated pseudo-header {name!r} (RFC 9113 section 8.3)")
        if not value.isascii():
            raise HandshakeError(f"non-ASCII bytes in {name.decode('ascii')}")
        pseudo[name] = value.decode("ascii")
    return pseudo


def is_forbidden(name: bytes) -> bool:
    """Whether a caller may not add field *name* (lowercase) to any message: pseudo and connection-specific."""
    # RFC 9113 section 8.2.2: te is allowed only as "trailers", which a handshake never needs.
    return name.startswith(b":") or name in CONNECTION_SPECIFIC or name == b"te"


def lowercase(fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """*fields* with lowercase names, as HTTP/2 and HTTP/3 send them (RFC 9113 section 8.2.1)."""
    return [(name.lower(), value) for name, value in fields]

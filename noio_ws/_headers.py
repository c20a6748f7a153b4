"""Parsing and formatting of the list-valued headers of the opening handshake.

Rules of this module:
- Pure functions on header values; no h11, no state.
- Linear time whatever the input: lists are split with ``str.split`` and
  ``str.strip``, elements are matched with regular expressions that cannot
  backtrack, and quoted strings are scanned once, character by character
  (the ReDoS bugs of other libraries came from patterns like ``/ *, */``).
- A value is checked for ASCII before it is decoded, so a stray byte becomes a
  ``HandshakeError`` (400), never a ``UnicodeDecodeError``.
- Values are given as the list of fields of one header name, in order; several
  fields are one comma-separated list (RFC 7230 section 3.2.2).
- What the caller gives (names, values, tokens) may be ``str`` or ``bytes``, as
  in h11: ``as_bytes``/``as_text`` turn it into one type, and a non-ASCII ``str``
  is a ``ValueError`` that says what to do (a ``HandshakeError`` is only ever
  about what the peer sent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ._errors import HandshakeError

__all__ = [
    "ExtensionEntry",
    "ExtensionText",
    "as_bytes",
    "as_header_list",
    "as_text",
    "ascii_value",
    "check_ascii",
    "format_extension_list",
    "format_token_list",
    "header_values",
    "is_token",
    "parse_extension_list",
    "parse_protocol_list",
    "parse_token_list",
    "single_value",
]

#: One element of ``Sec-WebSocket-Extensions``: ``(name, [(param, value or None), ...])``.
ExtensionEntry = tuple[str, list[tuple[str, "str | None"]]]
#: An extension entry as a caller may give it: names, parameters and values as str or bytes.
ExtensionText = tuple["str | bytes", Sequence[tuple["str | bytes", "str | bytes | None"]]]

_TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_TOKEN = re.compile(f"{_TCHAR}+")
# RFC 7230 section 6.7: protocol = protocol-name ["/" protocol-version].
_PROTOCOL = re.compile(f"{_TCHAR}+(?:/{_TCHAR}+)?")
_OWS = re.compile(r"[ \t]*")
# Headers the handshake reads, besides Sec-WebSocket-*.
_HANDSHAKE_HEADERS = frozenset((b"host", b"upgrade", b"connection", b"origin"))


def as_bytes(value: str | bytes, what: str) -> bytes:
    """*value* as bytes: a ``str`` must be ASCII (``ValueError``), bytes are kept as they are."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        if not value.isascii():
            raise ValueError(f"{what} {value!r} is not ASCII: encode it (e.g. IDNA, UTF-8) and pass bytes")
        return value.encode("ascii")
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


def as_text(value: str | bytes, what: str) -> str:
    """*value* as an ASCII ``str`` (tokens, origins, hosts); ``ValueError`` if not ASCII."""
    if isinstance(value, bytes):
        if not value.isascii():
            raise ValueError(f"{what} {value!r} is not ASCII")
        return value.decode("ascii")
    return as_bytes(value, what).decode("ascii")


def as_header_list(headers: Iterable[tuple[str | bytes, str | bytes]]) -> list[tuple[bytes, bytes]]:
    """*headers* with every name and value as bytes (a bytes value may hold obs-text)."""
    return [(as_bytes(name, "header name"), as_bytes(value, "header value")) for name, value in headers]


def is_token(text: str) -> bool:
    """Whether *text* is an RFC 7230 token."""
    return _TOKEN.fullmatch(text) is not None


def ascii_value(values: Sequence[bytes], header: str) -> str:
    """The fields of *header* joined into one list, decoded; 400 unless all ASCII."""
    joined = b", ".join(values)
    if not joined.isascii():
        raise HandshakeError(f"{header} contains non-ASCII bytes")
    return joined.decode("ascii")


def header_values(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """The values of the fields named *name* (lowercase, as h11 gives names), in order."""
    return [value for key, value in headers if key == name]


def single_value(headers: Sequence[tuple[bytes, bytes]], name: bytes, header: str) -> str:
    """The value of a header that must appear exactly once, decoded; 400 otherwise."""
    values = header_values(headers, name)
    if len(values) != 1:
        raise HandshakeError(f"{'missing' if not values else 'repeated'} {header} header")
    return ascii_value(values, header)


def check_ascii(headers: Sequence[tuple[bytes, bytes]]) -> None:
    """400 if a header the handshake reads holds a non-ASCII byte, before anything is decoded."""
    for name, value in headers:
        if (name in _HANDSHAKE_HEADERS or name.startswith(b"sec-websocket-")) and not value.isascii():
            raise HandshakeError(f"non-ASCII bytes in the {name.decode('ascii')} header")


def _elements(values: Sequence[bytes], header: str, pattern: re.Pattern[str]) -> list[str]:
    # RFC 7230 section 7: empty list elements are accepted and ignored.
    elements = []
    for raw in ascii_value(values, header).split(","):
        element = raw.strip(" \t")
        if not element:
            continue
        if pattern.fullmatch(element) is None:
            raise HandshakeError(f"{header} is not a valid list of tokens")
        elements.append(element)
    return elements


def parse_token_list(values: Sequence[bytes], header: str) -> list[str]:
    """A ``#token`` list (Connection, Sec-WebSocket-Protocol), in order."""
    return _elements(values, header, _TOKEN)


def parse_protocol_list(values: Sequence[bytes], header: str) -> list[str]:
    """An Upgrade list: tokens, each with an optional ``/version``."""
    return _elements(values, header, _PROTOCOL)


def parse_extension_list(values: Sequence[bytes]) -> list[ExtensionEntry]:
    """Parse ``Sec-WebSocket-Extensions`` (RFC 6455 section 9.1), in order.

    Quoted parameter values are unescaped and must then be tokens, as section
    9.1 requires. Any malformation is a ``HandshakeError`` (400).
    """
    text = ascii_value(values, "Sec-WebSocket-Extensions")
    entries: list[ExtensionEntry] = []
    pos = _skip_ows(text, 0)
    while pos < len(text):
        if text[pos] == ",":  # an empty element
            pos = _skip_ows(text, pos + 1)
            continue
        name, pos = _token_at(text, pos)
        params: list[tuple[str, str | None]] = []
        while pos < len(text) and text[pos] == ";":
            pos = _skip_ows(text, pos + 1)
            param, pos = _token_at(text, pos)
            value = None
            if pos < len(text) and text[pos] == "=":
                pos = _skip_ows(text, pos + 1)
                value, pos = _quoted_at(text, pos) if text[pos : pos + 1] == '"' else _token_at(text, pos)
            params.append((param, value))
        entries.append((name, params))
        if pos < len(text) and text[pos] != ",":
            raise HandshakeError(f"Sec-WebSocket-Extensions: unexpected {text[pos]!r} at offset {pos}")
    return entries


def _skip_ows(text: str, pos: int) -> int:
    match = _OWS.match(text, pos)
    assert match is not None  # [ \t]* matches the empty string
    return match.end()


def _token_at(text: str, pos: int) -> tuple[str, int]:
    """The token starting at *pos* and the position after it and its trailing OWS."""
    match = _TOKEN.match(text, pos)
    if match is None:
        raise HandshakeError(f"Sec-WebSocket-Extensions: expected a token at offset {pos}")
    return match.group(), _skip_ows(text, match.end())


def _quoted_at(text: str, pos: int) -> tuple[str, int]:
    """The unescaped quoted string starting at *pos* (a '"'), and the position after it."""
    chars: list[str] = []
    end = len(text)
    i = pos + 1
    while i < end:
        char = text[i]
        if char == '"':
            value = "".join(chars)
            if not is_token(value):  # RFC 6455 section 9.1
                raise HandshakeError("Sec-WebSocket-Extensions: a quoted value must be a token")
            return value, _skip_ows(text, i + 1)
        if char == "\\":
            i += 1
            if i == end:
                break
            char = text[i]
        chars.append(char)
        i += 1
    raise HandshakeError("Sec-WebSocket-Extensions: unterminated quoted string")


def format_token_list(tokens: Iterable[str | bytes]) -> bytes:
    """``a, b, c``; ``ValueError`` if an element is not a token."""
    texts = [_loose_text(token) for token in tokens]
    for token in texts:
        if not is_token(token):
            raise ValueError(f"{token!r} is not an RFC 7230 token")
    return ", ".join(texts).encode("ascii")


def format_extension_list(entries: Iterable[ExtensionText]) -> bytes:
    """``name; param=value; flag, other``; ``ValueError`` unless every part is a token.

    Values are never quoted: section 9.1 requires them to be tokens anyway.
    """
    parts = []
    for raw_name, params in entries:
        name = _require_token(raw_name, "an extension name")
        items = [name]
        for raw_param, raw_value in params:
            param = _require_token(raw_param, f"extension {name!r}")
            if raw_value is None:
                items.append(param)
            else:
                items.append(f"{param}={_require_token(raw_value, f'extension {name!r}')}")
        parts.append("; ".join(items))
    return ", ".join(parts).encode("ascii")


def _loose_text(value: str | bytes) -> str:
    """*value* as text for a token check: any byte maps to one character, so a non-ASCII one fails it."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _require_token(value: str | bytes, where: str) -> str:
    text = _loose_text(value)
    if not is_token(text):
        raise ValueError(f"{text!r} in {where} is not an RFC 7230 token")
    return text

"""How the command line shows things to a person: events, frames, hosts, errors.

Rules of this module:
- Pure functions from values to text: no I/O, no state. Whoever prints decides
  where the text goes (stdout for what the command is for, stderr for problems).
- Long data is abbreviated: a line of the demo's narration stays one line.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import BinaryMessage, Close, Event, Ping, Pong, TextMessage

__all__ = ["Trace", "describe", "frame_summary", "hexdump", "one_line", "url_host"]

#: Where a narrated connection sends its lines (the demo prints them).
Trace = Callable[[str], None]

_OPCODES = {0x0: "continuation", 0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}
_FLAGS = ((0x80, "FIN"), (0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3"))


def describe(event: Event) -> str:
    """A short description of *event*, with long data abbreviated."""
    if isinstance(event, TextMessage):
        text = event.data if len(event.data) <= 40 else event.data[:37] + "..."
        return f"TextMessage({text!r}{'' if event.final else ', final=False'})"
    if isinstance(event, BinaryMessage):
        final = "" if event.final else ", final=False"
        return f"BinaryMessage({hexdump(event.data, 8)}{final})"
    if isinstance(event, (Ping, Pong)):
        return f"{type(event).__name__}({event.payload!r})"
    if isinstance(event, Close):
        return f"Close({event.code}, {event.reason!r})"
    return repr(event)


def hexdump(data: bytes, limit: int = 20) -> str:
    """*data* as hex bytes, the first *limit* of them, and the total length."""
    shown = data[:limit].hex(" ")
    more = " ..." if len(data) > limit else ""
    return f"{shown}{more} ({len(data)} bytes)"


def frame_summary(frame: bytes) -> str:
    """What the header of one frame says (RFC 6455 section 5.2)."""
    first, second = frame[0], frame[1]
    words = [name for bit, name in _FLAGS if first & bit]
    words.append(_OPCODES.get(first & 0x0F, f"opcode {first & 0x0F:#x}"))
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(frame[2:4], "big")
    elif length == 127:
        length = int.from_bytes(frame[2:10], "big")
    masked = "masked" if second & 0x80 else "unmasked"
    return f"{' '.join(words)}, {masked}, {length} payload bytes"


def one_line(message: object) -> str:
    """*message* as text on one line: an error's own line breaks would split the report."""
    return " ".join(str(message).split())


def url_host(host: str) -> str:
    """*host* as it appears in a URL: an IPv6 address goes in brackets (RFC 3986)."""
    return f"[{host}]" if ":" in host else host

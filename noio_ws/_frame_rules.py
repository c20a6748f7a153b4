"""What a frame's first byte may be, and what a control frame means (RFC 6455 section 5).

Rules of this module:
- Which first header bytes are valid depends only on what the extensions claim:
  the tables are built once per set of claims and shared by every connection.
- Pure functions: the reader asks, and raises what they say.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from ._codes import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, CloseCode, is_valid_close_code
from ._errors import RemoteProtocolError
from ._events import Close, Event, ExtensionMessage, Ping, Pong
from ._frame import Frame
from ._utf8 import decode_text
from .extensions._base import OpcodeKind

__all__ = ["FirstBytes", "control_event", "first_bytes", "parse_close"]


def control_event(frame: Frame, strict: bool) -> Event:
    """The event of a whole control frame, after the extensions decoded it."""
    opcode, data = frame.opcode, frame.payload
    if opcode == PING:
        return Ping(data)
    if opcode == PONG:
        return Pong(data)
    if opcode == CLOSE:
        return parse_close(data, strict)
    return ExtensionMessage(opcode, data)


def parse_close(payload: bytes, strict: bool) -> Close:
    """Section 5.5.1: an optional 2-byte code, then an optional UTF-8 reason."""
    if not payload:
        return Close(CloseCode.NO_STATUS_RCVD)
    if len(payload) == 1:
        raise RemoteProtocolError("close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if not is_valid_close_code(code):  # section 7.4
        raise RemoteProtocolError(f"close code {code} may not be sent")
    return Close(code, decode_text(payload[2:], strict, "close reason"))


@dataclass(frozen=True, slots=True)
class FirstBytes:
    """What the first header byte of a frame may be, for one set of extension claims."""

    claimed_rsv: int
    custom_opcodes: tuple[tuple[int, OpcodeKind], ...]
    #: Every first byte a frame may start with (section 5.2: RSV bits nobody claimed
    #: and opcodes nobody defined fail the connection; section 5.5: control frames
    #: are never fragmented, so FIN is set).
    valid: frozenset[int]
    #: The first bytes of the frames the batch loop takes: FIN, text or binary.
    batch: frozenset[int]

    def why_invalid(self, first: int) -> str:
        """Explain why no frame may start with the byte *first*."""
        opcode = first & 0x0F
        rsv = first & 0x70 & ~self.claimed_rsv
        if rsv:
            return f"RSV bits {rsv:#04x} set but no extension claims them"
        if opcode & 0x08 and (opcode in (CLOSE, PING, PONG) or opcode in dict(self.custom_opcodes)):
            return f"fragmented control frame (opcode {opcode:#x})"
        return f"reserved opcode {opcode:#x}"


def first_bytes(claimed_rsv: int, custom_opcodes: Mapping[int, OpcodeKind]) -> FirstBytes:
    """The rules of first bytes for these claims (one object per set of claims)."""
    return _first_bytes(claimed_rsv, tuple(sorted(custom_opcodes.items())))


@functools.lru_cache(maxsize=64)
def _first_bytes(claimed_rsv: int, custom_opcodes: tuple[tuple[int, OpcodeKind], ...]) -> FirstBytes:
    # Cached: a server builds one table per set of claims, not one per connection
    # (building it was the largest cost of opening a connection).
    opcodes = dict(custom_opcodes)
    valid = set()
    for first in range(256):
        opcode = first & 0x0F
        if first & 0x70 & ~claimed_rsv:
            continue
        data = opcode in (CONTINUATION, TEXT, BINARY) or opcodes.get(opcode) is OpcodeKind.DATA
        control = opcode in (CLOSE, PING, PONG) or opcodes.get(opcode) is OpcodeKind.CONTROL
        if data or (control and first & 0x80):
            valid.add(first)
    batch = frozenset(
        kind | rsv for kind in (0x81, 0x82) for rsv in range(0, 0x80, 0x10) if not rsv & ~claimed_rsv
    )
    return FirstBytes(claimed_rsv, custom_opcodes, frozenset(valid), batch)

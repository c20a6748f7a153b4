"""Frame headers (RFC 6455 section 5.2), nothing else.

Rules of this module:
- Pure functions over bytes. What a header *means* (opcodes, RSV bits, limits,
  roles) is the reader's business (``_reader.py``); this module only decodes the
  length field, and rejects the encodings section 5.2 forbids whatever they mean.
- Lengths are always written in their shortest form (section 5.2).
- ``Frame`` is the unit extensions transform; the fast paths never build one.
- Masking itself is ``_mask.py``'s. ``serialize()`` is the accelerator's when it
  is used (one allocation per frame); ``serialize_python()`` is the reference.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from ._errors import RemoteProtocolError
from ._mask import ACCELERATED, apply_mask

__all__ = [
    "Frame",
    "frame_buffers",
    "pack_medium_header",
    "pack_short_header",
    "parse_header",
    "serialize",
    "serialize_python",
    "split_frames",
]

_unpack_u16 = struct.Struct("!H").unpack_from
_unpack_u64 = struct.Struct("!Q").unpack_from
#: A two-byte header: the first byte, then the second (mask bit and a length under 126).
pack_short_header = struct.Struct("!BB").pack
#: A four-byte header: the first byte, the second (mask bit and 126), then a 16-bit length.
pack_medium_header = struct.Struct("!BBH").pack
_pack_u64 = struct.Struct("!BBQ").pack


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame after unmasking, as extensions see it.

    ``rsv`` holds the RSV bits as they sit in the first header byte (0x40 is
    RSV1, 0x20 RSV2, 0x10 RSV3).
    """

    opcode: int
    payload: bytes
    fin: bool = True
    rsv: int = 0


# Frames are built for every message an extension touches. The frozen
# dataclass __init__ pays one object.__setattr__ call per field; this one sets
# the slots directly.
_set_opcode: Callable[[Frame, int], None] = getattr(Frame, "opcode").__set__  # noqa: B009
_set_payload: Callable[[Frame, bytes], None] = getattr(Frame, "payload").__set__  # noqa: B009
_set_fin: Callable[[Frame, bool], None] = getattr(Frame, "fin").__set__  # noqa: B009
_set_rsv: Callable[[Frame, int], None] = getattr(Frame, "rsv").__set__  # noqa: B009


def _frame_init(self: Frame, opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> None:
    _set_opcode(self, opcode)
    _set_payload(self, payload)
    _set_fin(self, fin)
    _set_rsv(self, rsv)


_frame_init.__qualname__ = "Frame.__init__"
Frame.__init__ = _frame_init  # type: ignore[method-assign]


def parse_header(buf: bytes | bytearray | memoryview) -> tuple[int, int, bytes | None] | None:
    """Decode the length and mask key of the header at the start of *buf*.

    Returns None until the length field has arrived, then ``(header_size,
    payload_length, mask_key)``, where the mask key is None for an unmasked
    frame, or until the whole header has arrived (the header size counts it).
    Raises 1002 for a length that is not minimally encoded or whose 64-bit form
    has its most significant bit set (section 5.2: both MUST).
    """
    available = len(buf)
    if available < 2:
        return None
    second = buf[1]
    length = second & 0x7F
    size = 2
    if length == 126:
        if available < 4:
            return None
        (length,) = _unpack_u16(buf, 2)
        if length < 126:
            raise RemoteProtocolError(f"length {length} sent in a 16-bit field")
        size = 4
    elif length == 127:
        if available < 10:
            return None
        (length,) = _unpack_u64(buf, 2)
        if length >> 63:
            raise RemoteProtocolError("64-bit length with its most significant bit set")
        if length < 0x10000:
            raise RemoteProtocolError(f"length {length} sent in a 64-bit field")
        size = 10
    if not second & 0x80:
        return size, length, None
    return size + 4, length, bytes(buf[size : size + 4]) if available >= size + 4 else None


def serialize_python(
    first_byte: int, payload: bytes | bytearray | memoryview, mask_key: bytes | None, /
) -> bytes:
    """A whole frame: header, then the payload, masked with *mask_key* if given.

    The length always takes its shortest form (section 5.2).
    """
    # _header(), inline: serialize() is on every send path that is not inlined itself.
    size = len(payload)
    mask_bit = 0x80 if mask_key is not None else 0
    if size < 126:
        header = pack_short_header(first_byte, mask_bit | size)
    elif size < 0x10000:
        header = pack_medium_header(first_byte, mask_bit | 126, size)
    else:
        header = _pack_u64(first_byte, mask_bit | 127, size)
    if mask_key is None:
        return header + payload
    return header + mask_key + apply_mask(payload, mask_key)


serialize = serialize_python
if ACCELERATED:  # pragma: no branch - one side per build; CI runs both
    from ._speedups import serialize


def _header(first_byte: int, size: int, mask_bit: int) -> bytes:
    """A frame header without its key; the length in its shortest form (section 5.2)."""
    if size < 126:
        return pack_short_header(first_byte, mask_bit | size)
    if size < 0x10000:
        return pack_medium_header(first_byte, mask_bit | 126, size)
    return _pack_u64(first_byte, mask_bit | 127, size)


def frame_buffers(
    first_byte: int, payload: bytes | bytearray | memoryview, mask_key: bytes | None
) -> list[bytes | memoryview]:
    """``serialize()`` as two buffers, the header (with the key) and the payload.

    An unmasked payload is not copied: it is *payload* itself, or a view of it.
    """
    header = _header(first_byte, len(payload), 0x80 if mask_key is not None else 0)
    if mask_key is None:
        return [header, payload if type(payload) is bytes else memoryview(payload)]
    return [header + mask_key, apply_mask(payload, mask_key)]


def split_frames(
    first_byte: int,
    payload: bytes | bytearray | memoryview,
    limit: int,
    mask_key: bytes | None,
    next_mask_key: Callable[[], bytes],
) -> list[bytes | memoryview]:
    """``frame_buffers()`` for *payload* cut into frames of at most *limit* bytes.

    Section 5.4: the first frame keeps the opcode and RSV bits of *first_byte*
    (RFC 7692 section 6.1: RSV1 on the first frame only), the others are
    continuations, and only the last may carry FIN. When *mask_key* is given, it
    masks the first frame and every other one gets its own from *next_mask_key*
    (section 5.3).
    """
    size = len(payload)
    buffers: list[bytes | memoryview] = []
    view = memoryview(payload)  # not released: unmasked frames are views of it
    for start in range(0, size, limit):
        end = min(start + limit, size)
        head = (first_byte & 0x7F if not start else 0) | (first_byte & 0x80 if end == size else 0)
        if start and mask_key is not None:
            mask_key = next_mask_key()
        buffers += frame_buffers(head, view[start:end], mask_key)
    return buffers

"""``raw_frame``: one frame built byte by byte, whether or not it is valid.

Rules of this module:
- Nothing is checked: a test says which bits it wants, including the ones
  RFC 6455 forbids. The hostile frames (``hostile``) are built from it.
- The first header byte is given whole (FIN, RSV1-3, opcode: section 5.2),
  so a frame reads as it would in a hex dump: ``raw_frame(0x81, b"hi")`` is a
  final text frame.
"""

from __future__ import annotations

from .._mask import apply_mask

__all__ = ["raw_frame"]


def raw_frame(
    first_byte: int,
    payload: bytes = b"",
    *,
    mask: bytes | None = None,
    length: bytes | None = None,
) -> bytes:
    """The bytes of one frame: *first_byte*, the length, the mask key if any, the payload.

    Args:
        first_byte: FIN (0x80), RSV1-3 (0x40, 0x20, 0x10) and the opcode.
        payload: The payload, unmasked: it is masked here when *mask* is given.
        mask: The 4-byte mask key; None sends the payload unmasked (as a
            server must, and a client must not).
        length: The length field as it goes on the wire, without the mask bit:
            one byte, or 126 and 2 bytes, or 127 and 8 bytes. None writes the
            payload's length in its shortest form. Anything else builds a
            forbidden encoding, or a header that promises more (or less) than
            *payload* holds.
    """
    if length is None:
        size = len(payload)
        if size < 126:
            length = bytes([size])
        elif size < 0x10000:
            length = b"\x7e" + size.to_bytes(2, "big")
        else:
            length = b"\x7f" + size.to_bytes(8, "big")
    if mask is None:
        return bytes([first_byte]) + length + payload
    return bytes([first_byte, length[0] | 0x80]) + length[1:] + mask + apply_mask(payload, mask)

"""Hand-crafted frames a broken or malicious peer might send, and how noio_ws answers them.

Rules of this module:

- Each builder returns a ``HostileFrame``: the bytes, and the close code of the
  ``RemoteProtocolError`` a ``Connection`` with the default options raises on
  them (the code to ``send(Close(...))`` with). Each docstring names that code
  in bold, and the test suite proves every one against a real ``Connection``.
- ``to`` is the role of the connection that receives the frame. Frames are
  masked as that side expects (with ``FIXED_MASK`` for a server) unless the
  masking is the violation, so each frame breaks exactly one rule.
- Only the violation is wrong: payloads are short and valid otherwise, so the
  error is the one documented, whatever the chunking of the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._codes import Role, is_valid_close_code
from ._masks import FIXED_MASK
from ._raw_frames import raw_frame

__all__ = [
    "HostileFrame",
    "bad_close_code",
    "continuation_without_start",
    "data_frame_inside_fragmented_message",
    "every_hostile_frame",
    "fragmented_control",
    "invalid_utf8_close_reason",
    "invalid_utf8_text",
    "length_top_bit_set",
    "non_minimal_length",
    "one_byte_close",
    "oversized_control",
    "oversized_length",
    "reserved_bits",
    "reserved_opcode",
    "wrong_masking",
]


@dataclass(frozen=True, slots=True)
class HostileFrame:
    """Bytes that break RFC 6455, and the close code noio_ws fails the connection with."""

    #: The builder that made it, e.g. ``"reserved_bits"``.
    name: str
    #: The bytes to deliver to the connection under test.
    wire: bytes
    #: ``RemoteProtocolError.close_code`` for these bytes, with the default options.
    close_code: int
    #: What is wrong, and the section of RFC 6455 it breaks.
    violation: str


def _receiver(to: Role) -> Role:
    if not isinstance(to, Role):
        raise TypeError(f"to must be a Role (the receiving side), not {to!r}")
    return to


def _frame(to: Role, first_byte: int, payload: bytes = b"", *, length: bytes | None = None) -> bytes:
    """A frame masked as a peer of *to* must mask it (section 5.1)."""
    to = _receiver(to)
    return raw_frame(first_byte, payload, mask=FIXED_MASK if to is Role.SERVER else None, length=length)


def reserved_bits(*, to: Role, rsv: int = 0x40) -> HostileFrame:
    """A text frame with RSV bits set that no extension claimed.

    noio_ws answers with **1002** (section 5.2). permessage-deflate claims RSV1
    (0x40): with it agreed, pass ``rsv=0x20`` or ``rsv=0x10``.
    """
    if not rsv or rsv & ~0x70:
        raise ValueError(f"rsv must be a non-empty combination of 0x40, 0x20 and 0x10, not {rsv:#x}")
    return HostileFrame(
        "reserved_bits", _frame(to, 0x81 | rsv, b"hi"), 1002, f"RSV bits {rsv:#x} set (section 5.2)"
    )


def wrong_masking(*, to: Role) -> HostileFrame:
    """A text frame masked the wrong way: unmasked to a server, masked to a client.

    noio_ws answers with **1002** (section 5.1).
    """
    if _receiver(to) is Role.SERVER:
        wire, what = raw_frame(0x81, b"hi"), "an unmasked frame to a server"
    else:
        wire, what = raw_frame(0x81, b"hi", mask=FIXED_MASK), "a masked frame to a client"
    return HostileFrame("wrong_masking", wire, 1002, f"{what} (section 5.1)")


def non_minimal_length(*, to: Role) -> HostileFrame:
    """A 5-byte binary frame whose length takes the 16-bit form.

    noio_ws answers with **1002** (section 5.2: the minimal number of bytes MUST
    be used).
    """
    wire = _frame(to, 0x82, b"hello", length=b"\x7e\x00\x05")
    return HostileFrame("non_minimal_length", wire, 1002, "length 5 in a 16-bit field (section 5.2)")


def length_top_bit_set(*, to: Role) -> HostileFrame:
    """The header of a binary frame whose 64-bit length has its most significant bit set.

    noio_ws answers with **1002** (section 5.2), from the header alone.
    """
    wire = _frame(to, 0x82, length=b"\x7f" + (1 << 63).to_bytes(8, "big"))
    return HostileFrame("length_top_bit_set", wire, 1002, "64-bit length with its top bit set (section 5.2)")


def oversized_length(*, to: Role, length: int = (1 << 63) - 1) -> HostileFrame:
    """The header of a binary frame that announces *length* bytes (none follow).

    noio_ws answers with **1009** as soon as the header is in, before any
    payload is buffered, when *length* is over ``max_message_size`` (1 MiB by
    default) or ``max_frame_size``. Without limits the connection waits for
    the payload instead.
    """
    if not 0x10000 <= length < 1 << 63:
        raise ValueError(f"length must take the 64-bit form (65536 to 2**63 - 1), not {length}")
    wire = _frame(to, 0x82, length=b"\x7f" + length.to_bytes(8, "big"))
    return HostileFrame(
        "oversized_length", wire, 1009, f"a {length}-byte frame, over the limits (section 10.4)"
    )


def invalid_utf8_text(*, to: Role) -> HostileFrame:
    """A text frame holding ``C3 28``: a 2-byte sequence whose second byte is not a continuation.

    noio_ws answers with **1007** (section 8.1), unless ``validate_utf8=False``
    (then it reads as ``"\ufffd("``).
    """
    wire = _frame(to, 0x81, b"\xc3\x28")
    return HostileFrame("invalid_utf8_text", wire, 1007, "invalid UTF-8 in a text message (section 8.1)")


def invalid_utf8_close_reason(*, to: Role) -> HostileFrame:
    """A Close frame (code 1000) whose reason is not UTF-8.

    noio_ws answers with **1007** (section 5.5.1: the reason is UTF-8), unless
    ``validate_utf8=False``.
    """
    wire = _frame(to, 0x88, b"\x03\xe8bye\xff")
    return HostileFrame(
        "invalid_utf8_close_reason", wire, 1007, "invalid UTF-8 in a close reason (section 5.5.1)"
    )


def bad_close_code(*, to: Role, code: int = 999) -> HostileFrame:
    """A Close frame carrying *code*, one no endpoint may send (999, 1004-1006, 1015, 5000...).

    noio_ws answers with **1002** (section 7.4).
    """
    if not 0 <= code <= 0xFFFF or is_valid_close_code(code):
        raise ValueError(f"code must be 0-65535 and not a close code a peer may send, not {code}")
    wire = _frame(to, 0x88, code.to_bytes(2, "big"))
    return HostileFrame("bad_close_code", wire, 1002, f"close code {code} (section 7.4)")


def one_byte_close(*, to: Role) -> HostileFrame:
    """A Close frame with a 1-byte payload: half a close code.

    noio_ws answers with **1002** (section 5.5.1: a body starts with a 2-byte code).
    """
    wire = _frame(to, 0x88, b"\x03")
    return HostileFrame("one_byte_close", wire, 1002, "a 1-byte close payload (section 5.5.1)")


def fragmented_control(*, to: Role) -> HostileFrame:
    """A Ping with FIN clear.

    noio_ws answers with **1002** (section 5.5: control frames MUST NOT be
    fragmented).
    """
    wire = _frame(to, 0x09, b"ping")
    return HostileFrame("fragmented_control", wire, 1002, "a fragmented Ping (section 5.5)")


def oversized_control(*, to: Role) -> HostileFrame:
    """A Ping with a 126-byte payload.

    noio_ws answers with **1002** (section 5.5: at most 125 bytes), from the
    header alone.
    """
    wire = _frame(to, 0x89, b"p" * 126)
    return HostileFrame("oversized_control", wire, 1002, "a 126-byte Ping (section 5.5)")


def continuation_without_start(*, to: Role) -> HostileFrame:
    """A final continuation frame with no message to continue.

    noio_ws answers with **1002** (section 5.4).
    """
    wire = _frame(to, 0x80, b"tail")
    return HostileFrame(
        "continuation_without_start", wire, 1002, "a continuation outside a message (section 5.4)"
    )


def data_frame_inside_fragmented_message(*, to: Role) -> HostileFrame:
    """The first fragment of a text message, then a new binary message instead of its continuation.

    noio_ws answers with **1002** (section 5.4: fragments of one message are
    not interleaved with another). With ``stream_messages=True`` the first
    fragment is returned as a piece before the error.
    """
    wire = _frame(to, 0x01, b"first") + _frame(to, 0x82, b"second")
    return HostileFrame(
        "data_frame_inside_fragmented_message",
        wire,
        1002,
        "a new message inside a fragmented one (section 5.4)",
    )


def reserved_opcode(*, to: Role, opcode: int = 0x3) -> HostileFrame:
    """A frame with a reserved opcode (0x3-0x7 data, 0xB-0xF control) no extension claimed.

    noio_ws answers with **1002** (section 5.2).
    """
    if not (0x3 <= opcode <= 0x7 or 0xB <= opcode <= 0xF):
        raise ValueError(f"opcode must be reserved (0x3-0x7 or 0xB-0xF), not {opcode:#x}")
    wire = _frame(to, 0x80 | opcode, b"?")
    return HostileFrame("reserved_opcode", wire, 1002, f"reserved opcode {opcode:#x} (section 5.2)")


def every_hostile_frame(*, to: Role) -> list[HostileFrame]:
    """One frame from each builder of this module, with its default arguments."""
    return [
        reserved_bits(to=to),
        wrong_masking(to=to),
        non_minimal_length(to=to),
        length_top_bit_set(to=to),
        oversized_length(to=to),
        invalid_utf8_text(to=to),
        invalid_utf8_close_reason(to=to),
        bad_close_code(to=to),
        one_byte_close(to=to),
        fragmented_control(to=to),
        oversized_control(to=to),
        continuation_without_start(to=to),
        data_frame_inside_fragmented_message(to=to),
        reserved_opcode(to=to),
    ]

"""``take_batch()``: the receive fast path, between the connection and the ``FrameReader``.

Runs of whole one-frame data messages at the head of the buffer, parsed in one
loop, without the state kept between calls that ``FrameReader.parse()`` needs
for frames that arrive in pieces.

Rules of this module:
- It only accepts: on any doubt (a control frame, a fragment, an incomplete
  frame, a header rule broken, text that is not UTF-8) it stops, and
  ``parse()`` deals with that frame after the events queued before it. The
  every-split tests check that both paths agree.
- At most ``BATCH`` events are queued at once: that bounds what a batch holds.
- The bytes of the frames taken are dropped from the reader at once.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import TYPE_CHECKING

from ._errors import RemoteProtocolError
from ._events import BinaryMessage, EncodedTextMessage, Event, TextMessage
from ._mask import ACCELERATED, apply_mask

if TYPE_CHECKING:
    from ._assembler import MessageAssembler
    from ._reader import FrameReader

__all__ = ["BATCH", "take_batch"]

BATCH = 64  # events parsed ahead at most: bounds what a batch holds
# Without the accelerator, the batch loop unmasks short payloads inline (a call
# is a large part of the cost of a small frame); the compiled helper is faster still.
# The key repeated over n bytes is an integer: the key's times _REPEATS[n] (its
# copies do not overlap, so nothing carries), cut to n bytes by _LOW[n].
_XOR_INLINE_BELOW = 0 if ACCELERATED else 256
_REPEATS = [sum(1 << 32 * copy for copy in range((n + 3) // 4)) for n in range(_XOR_INLINE_BELOW)]
_LOW = [(1 << 8 * n) - 1 for n in range(_XOR_INLINE_BELOW)]
_from_bytes = int.from_bytes
_UNTIL_PARSED = sys.maxsize


def take_batch(reader: FrameReader, ready: deque[Event], assembler: MessageAssembler) -> None:
    """Queue the whole one-frame data messages at the head of *reader*'s buffer in *ready*.

    Up to ``BATCH`` events, and the bytes they came from are removed at once.
    With extensions, frames are decoded here; a decoder's error is kept in
    ``deferred`` for ``parse()`` to raise after the queued events.
    """
    buf = reader.buf
    size = len(buf)
    mask_bit, limit, firsts, transformed, special, strict, errors = reader.batch_settings
    inline_below = _XOR_INLINE_BELOW
    pos = 0
    room = BATCH - len(ready)
    # When the loop stops at a frame it will not take, no batch is tried again until
    # parse() has taken that frame, or until it is whole if that was all it lacked.
    whole_at = _UNTIL_PARSED
    while size - pos >= 2 and room:
        first = buf[pos]
        if first not in firsts:
            break
        second = buf[pos + 1]
        length = second & 0x7F
        if second & 0x80 != mask_bit or length == 127:
            break
        start = pos + 2
        if length == 126:
            if size - pos < 4:
                break
            length = buf[start] << 8 | buf[start + 1]
            start += 2
            if length < 126:
                break
        if length > limit:
            break
        if mask_bit:
            start += 4
        end = start + length
        if end > size:
            whole_at = end - pos
            break
        # Always bytes (a slice of a view would not be): its decode() is the fastest.
        if not mask_bit:
            payload = bytes(buf[start:end])
        elif length < inline_below:
            # Pure Python: an XOR of two integers, without a call.
            key = _from_bytes(buf[start - 4 : start], "little") * _REPEATS[length] & _LOW[length]
            payload = (_from_bytes(buf[start:end], "little") ^ key).to_bytes(length, "little")
        else:
            payload = apply_mask(buf[start:end], buf[start - 4 : start])
        message: Event | None
        if special:
            if transformed:
                try:
                    message = assembler.whole_frame(first, payload)
                except RemoteProtocolError as exc:
                    # Nothing after it will be parsed: drop the rest.
                    reader.deferred = exc
                    pos = size
                    break
                if message is None:  # a decoder left the message unfinished
                    pos = end
                    break
            elif first == 0x81:  # text as bytes
                if strict and not payload.isascii():
                    # Batched frames are under 64 KiB: one decode is the fastest
                    # check, and its str goes at once.
                    try:
                        payload.decode()
                    except UnicodeDecodeError:
                        break
                message = EncodedTextMessage(payload, True, strict)
            else:
                message = BinaryMessage(payload)
        elif first == 0x81:
            try:
                text = payload.decode("utf-8", errors)
            except UnicodeDecodeError:
                break
            message = TextMessage(text)
        else:
            message = BinaryMessage(payload)
        ready.append(message)
        room -= 1
        pos = end
    else:
        whole_at = 0  # out of bytes or of room, not stopped by a frame
    if pos:
        reader.drop(pos)
    if whole_at:
        reader.whole_at = whole_at

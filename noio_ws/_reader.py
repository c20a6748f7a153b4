"""``FrameReader``: the bytes received, cut into frames and judged by their headers.

Rules of this module:
- A frame is judged from its header, before its payload is waited for: masking
  (section 5.1), RSV bits and opcodes (5.2), fragmentation and control-frame rules
  (5.4, 5.5) fail with 1002; then the ``Budget`` (1009). Memory held is bounded by
  the limits, whatever the peer sends.
- Without extensions, a data frame's payload is handed to the ``MessageAssembler``
  piece by piece as it arrives, except that a short one (``WAIT_WHOLE``) starting a
  message delivered whole waits here to be whole; its text is checked as its bytes
  arrive, in ``feed()``, so it still fails at the first invalid byte (the error is
  raised by the next ``parse()``). Extensions transform whole frames, so with them
  a data frame waits here whole. Control frames always wait whole (at most 125 bytes).
- ``wanted`` says how long the buffer must be before parsing can get anywhere, so
  a peer that sends a byte at a time costs a comparison per byte.
- ``bytes`` given to ``feed()`` are parsed where they are, with no copy; a
  ``bytearray`` is kept only while a frame is incomplete.
- ``batch()`` is the fast path: runs of whole one-frame data messages, parsed in one
  loop. It only accepts: on any doubt (a control frame, a fragment, an incomplete
  frame, a header rule broken, text that is not UTF-8) it stops, and ``parse()``
  deals with the frame after the events queued before it. The every-split tests
  check that both paths agree.
- It knows nothing of the connection's state: the connection stops feeding it after
  the peer's Close or a failure.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from ._codes import CONTINUATION, TEXT, Role
from ._errors import RemoteProtocolError
from ._events import BinaryMessage, EncodedTextMessage, Event, TextMessage
from ._frame import parse_header
from ._frame_rules import control_event, first_bytes
from ._limits import Budget
from ._mask import ACCELERATED, apply_mask
from ._utf8 import ArrivingText
from .extensions._base import OpcodeKind

if TYPE_CHECKING:
    from ._assembler import MessageAssembler

__all__ = ["FrameReader"]

BATCH = 64  # events parsed ahead at most: bounds what a batch holds
# Without the accelerator, the batch loop unmasks short payloads inline (a call
# is a large part of the cost of a small frame); the compiled helper is faster still.
_XOR_INLINE_BELOW = 0 if ACCELERATED else 4096
_from_bytes = int.from_bytes
# Data frames this short that start a message wait until they are whole (when
# messages are delivered whole), rather than being taken piece by piece: a peer
# that sends a byte at a time then costs a comparison per byte, not a pass
# through the assembler.
WAIT_WHOLE = 4096


class FrameReader:
    """The receive buffer, the frame whose payload is arriving, and the header rules."""

    __slots__ = (
        "_batch_settings",
        "_budget",
        "_first_bytes",
        "_mask_bit",
        "_strict",
        "_transformed",
        "_wait_whole",
        "buf",
        "deferred",
        "eof",
        "frame_done",
        "frame_fin",
        "frame_left",
        "frame_mask",
        "in_frame",
        "waiting_text",
        "wanted",
    )

    def __init__(
        self,
        role: Role,
        claimed_rsv: int,
        custom_opcodes: dict[int, OpcodeKind],
        budget: Budget,
        *,
        transformed: bool,
        stream_messages: bool,
        validate_utf8: bool,
        text_as_bytes: bool,
    ) -> None:
        self._first_bytes = rules = first_bytes(claimed_rsv, custom_opcodes)
        self._mask_bit = 0x80 if role is Role.SERVER else 0  # section 5.1: clients mask, servers do not
        self._budget = budget
        self._transformed = transformed  # extensions decode whole frames
        self._wait_whole = 0 if stream_messages else WAIT_WHOLE  # streamed: pieces as they come
        self._strict = validate_utf8
        # What batch() needs, in one tuple (a message may come alone: its set-up counts);
        # extensions or text as bytes are off the default path, behind one test.
        self._batch_settings = (
            self._mask_bit,
            budget.batch_frame,
            rules.batch,
            transformed,
            transformed or text_as_bytes,
            validate_utf8,
            "strict" if validate_utf8 else "replace",
        )
        #: What is not parsed yet: a bytearray, or the bytes fed (or a view of them).
        self.buf: bytes | bytearray | memoryview = b""
        #: How long ``buf`` must be before parsing can get anywhere (0: unknown).
        self.wanted = 0
        #: A short text frame waiting to be whole: its payload is checked as it arrives.
        self.waiting_text: ArrivingText | None = None
        self.eof = False
        #: An error the batch loop found behind the events it queued.
        self.deferred: RemoteProtocolError | None = None
        # The data frame whose payload is arriving (without extensions).
        self.in_frame = False
        self.frame_left = 0
        self.frame_done = 0
        self.frame_fin = False
        self.frame_mask: bytes | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes (never empty); check them if a text frame waits (see rules)."""
        buf = self.buf
        if self.waiting_text is not None and self.deferred is None:
            try:
                self.waiting_text.check(data, len(buf))
            except RemoteProtocolError as exc:
                self.deferred = exc
                self.wanted = 0
        if not buf:
            # Immutable bytes are parsed where they are, without a copy.
            self.buf = data if type(data) is bytes else bytearray(data)
        elif len(data) >= len(buf) and type(data) is bytes:
            # A chunk after a remainder: joined as bytes, quickest to slice (copied at most twice).
            self.buf = b"".join((buf, data))
        elif type(buf) is bytearray:
            buf += data
        else:
            buf = self.buf = bytearray(buf)
            buf += data

    def drop(self, size: int) -> None:
        """Forget the first *size* bytes received (and what was known of the next frame)."""
        # Next comes a header (2 bytes at least) or the rest of a payload; an error waits at once.
        self.wanted = 0 if self.deferred is not None else 1 if self.in_frame else 2
        self.waiting_text = None
        buf = self.buf
        if type(buf) is bytearray:
            del buf[:size]
        else:
            # The caller's bytes: a view past what was parsed, copied no more.
            self.buf = memoryview(buf)[size:] if size < len(buf) else b""

    def clear(self) -> None:
        """Forget everything received: nothing more will be parsed."""
        # Replaced, not emptied: an error's traceback may still hold a view of it.
        self.buf = b""
        self.wanted = 0
        self.waiting_text = None

    def parse(self, assembler: MessageAssembler) -> Event | None:
        """Parse until an event is complete; None if more bytes are needed."""
        if self.deferred is not None:
            raise self.deferred
        if len(self.buf) < self.wanted:
            return None
        while True:
            if self.in_frame:
                event = self._payload(assembler)
                if event is not None or self.in_frame:
                    return event
            buf = self.buf
            available = len(buf)
            if available < 2:
                self.wanted = 2
                return None
            first, second = buf[0], buf[1]
            if first not in self._first_bytes.valid:
                raise RemoteProtocolError(self._first_bytes.why_invalid(first))
            if second & 0x80 != self._mask_bit:
                raise RemoteProtocolError(
                    "unmasked frame from the client" if self._mask_bit else "masked frame from the server"
                )
            opcode = first & 0x0F
            length = second & 0x7F
            if length < 126:  # a short header, inline: most frames take this path
                if second & 0x80:
                    if available < 6:
                        self.wanted = 6
                        return None
                    header_size = 6
                    mask: bytes | None = bytes(buf[2:6])
                else:
                    header_size = 2
                    mask = None
            elif opcode & 0x08:
                raise RemoteProtocolError("control frame with a payload over 125 bytes")  # section 5.5
            else:
                header = parse_header(buf)
                if header is None:
                    field_end = 4 if length == 126 else 10  # judged once whole, before the key
                    self.wanted = field_end if available < field_end else field_end + 4
                    return None
                header_size, length, mask = header
            end = header_size + length
            used = 0
            # Section 5.4: a continuation continues a message, and only it may.
            if opcode == CONTINUATION:
                if not assembler.opcode:
                    raise RemoteProtocolError("continuation frame without a message to continue")
                used = assembler.size
            elif assembler.opcode and not opcode & 0x08:
                raise RemoteProtocolError("new data frame inside a fragmented message")
            if not opcode & 0x08:
                self._budget.check_header(length, used)
            if opcode & 0x08 or self._transformed:  # taken whole
                if available < end:
                    self.wanted = end
                    return None
                payload = self._take(header_size, end, mask)
                if opcode & 0x08:
                    return control_event(assembler.decode(first, payload), self._strict)
                event = assembler.whole_frame(first, payload)
                if event is not None:
                    return event
                continue
            if available < end and opcode and length <= self._wait_whole:
                # A short frame starting a message waits to be whole (for the batch loop); its
                # text is checked meanwhile, to fail at the first invalid byte (section 8.1).
                self.wanted = end
                if opcode == TEXT and self._strict:
                    self.waiting_text = ArrivingText(header_size, end, mask)
                    self.waiting_text.check(buf, 0)
                return None
            self.drop(header_size)
            if opcode:
                assembler.start(opcode)
            assembler.size = used + length
            self.in_frame = True
            self.frame_left = length
            self.frame_done = 0
            self.frame_fin = first > 0x7F
            self.frame_mask = mask

    def _payload(self, assembler: MessageAssembler) -> Event | None:
        """Hand what has arrived of the current data frame's payload to *assembler*."""
        take = min(len(self.buf), self.frame_left)
        if not take and self.frame_left:
            self.wanted = 1
            return None
        done = self.frame_done
        self.frame_done = done + take
        left = self.frame_left = self.frame_left - take
        if not left:
            self.in_frame = False
        # Through a view: the piece is copied once, by the unmasking or into the message.
        with memoryview(self.buf) as view:
            event = assembler.piece(view[:take], not left and self.frame_fin, self.frame_mask, done, left)
        self.drop(take)
        return event

    def _take(self, header_size: int, end: int, mask: bytes | None) -> bytes:
        """Remove a whole frame from the buffer; its payload, unmasked, copied once."""
        with memoryview(self.buf) as view:
            payload = (
                bytes(view[header_size:end]) if mask is None else apply_mask(view[header_size:end], mask)
            )
        self.drop(end)
        return payload

    def batch(self, ready: deque[Event], assembler: MessageAssembler) -> None:
        """Queue the whole one-frame data messages at the head of the buffer in *ready*.

        Up to ``BATCH`` events, and the bytes they came from are removed at once.
        With extensions, frames are decoded here; a decoder's error is kept in
        ``deferred`` for ``parse()`` to raise after the queued events.
        """
        buf = self.buf
        size = len(buf)
        mask_bit, limit, firsts, transformed, special, strict, errors = self._batch_settings
        inline_below = _XOR_INLINE_BELOW
        pos = 0
        while size - pos >= 2 and len(ready) < BATCH:
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
                break
            # Always bytes (a slice of a view would not be): its decode() is the fastest.
            if not mask_bit:
                payload = bytes(buf[start:end])
            elif length < inline_below:
                # Pure Python: _mask.apply_mask_python's XOR of two integers, without the call.
                key = bytes(buf[start - 4 : start]) * ((length >> 2) + 1)
                payload = (
                    _from_bytes(buf[start:end], "little") ^ _from_bytes(key[:length], "little")
                ).to_bytes(length, "little")
            else:
                payload = apply_mask(buf[start:end], buf[start - 4 : start])
            message: Event | None
            if special:
                if transformed:
                    try:
                        message = assembler.whole_frame(first, payload)
                    except RemoteProtocolError as exc:
                        # Nothing after it will be parsed: drop the rest.
                        self.deferred = exc
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
            pos = end
        if pos:
            self.drop(pos)

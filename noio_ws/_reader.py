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
  raised by the next ``parse()``; the bytes that make the frame whole are checked by
  parsing it, in the same ``next_event()``). Extensions transform whole frames, so with them
  a data frame waits here whole. Control frames always wait whole (at most 125 bytes).
- ``wanted`` says how long the buffer must be before parsing can get anywhere, so
  a peer that sends a byte at a time costs a comparison per byte.
- ``bytes`` given to ``feed()`` are parsed where they are, with no copy; a
  ``bytearray`` is kept only while a frame is incomplete.
- ``_batch.take_batch()`` is the fast path: runs of whole one-frame data
  messages, parsed in one loop; ``parse()`` takes whatever it leaves. It is
  worth a try once the buffer holds ``whole_at`` bytes: the first frame's end
  when its header said so, else the shortest frame there can be; not at all
  while a frame it refused waits for ``parse()``.
- It knows nothing of the connection's state: the connection stops feeding it after
  the peer's Close or a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._codes import CONTINUATION, TEXT, Role
from ._errors import RemoteProtocolError
from ._events import Event
from ._frame import parse_header
from ._frame_rules import control_event, first_bytes
from ._limits import Budget
from ._mask import apply_mask
from ._utf8 import ArrivingText, TextCheck
from .extensions._base import OpcodeKind

if TYPE_CHECKING:
    from ._assembler import MessageAssembler

__all__ = ["FrameReader"]

# Data frames this short that start a message wait until they are whole (when
# messages are delivered whole), rather than being taken piece by piece: a peer
# that sends a byte at a time then costs a comparison per byte, not a pass
# through the assembler.
WAIT_WHOLE = 4096


class FrameReader:
    """The receive buffer, the frame whose payload is arriving, and the header rules."""

    __slots__ = (
        "_budget",
        "_first_bytes",
        "_mask_bit",
        "_shortest",
        "_strict",
        "_transformed",
        "_wait_whole",
        "batch_settings",
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
        "whole_at",
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
        # What take_batch() needs, in one tuple (a message may come alone: its set-up counts);
        # extensions or text as bytes are off the default path, behind one test.
        self.batch_settings = (
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
        #: How long ``buf`` must be before its first frame can be whole: for ``take_batch()``.
        self.whole_at = self._shortest = 6 if self._mask_bit else 2
        #: A short text frame waiting to be whole: its payload is checked as it arrives.
        self.waiting_text: TextCheck | None = None
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
        if self.waiting_text is not None:
            try:
                self.waiting_text.check(data, len(buf))
            except RemoteProtocolError as exc:
                self.deferred = exc
                self.wanted = 0
                self.waiting_text = None
        if type(buf) is bytearray and len(data) < 512:
            buf += data  # a frame is incomplete and bytes trickle in: the per-call path
        elif not buf:
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
        self.whole_at = self._shortest
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
                    header_size = 6
                    # The frame is judged before its key is in: the key has no rules.
                    mask: bytes | None = bytes(buf[2:6]) if available > 5 else None
                else:
                    header_size = 2
                    mask = None
            elif opcode & 0x08:
                raise RemoteProtocolError("control frame with a payload over 125 bytes")  # section 5.5
            else:
                header = parse_header(buf)
                if header is None:  # judged once the length field is whole, before the key
                    self.wanted = 4 if length == 126 else 10
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
                self.wanted = self.whole_at = end
                if opcode == TEXT and self._strict:
                    self.waiting_text = ArrivingText(header_size, end, self._mask_bit)
                    self.waiting_text.check(buf, 0)
                return None
            if available < header_size:  # a streamed frame's key
                self.wanted = header_size
                return None
            if opcode:
                assembler.start(opcode)
            assembler.size = used + length
            if available >= end:  # all here (a fragment, say): its payload in one piece
                with memoryview(buf) as view:
                    event = assembler.piece(view[header_size:end], first > 0x7F, mask, 0, 0)
                self.drop(end)
                if event is not None:
                    return event
                continue
            self.drop(header_size)
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

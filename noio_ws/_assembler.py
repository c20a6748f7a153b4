"""``MessageAssembler``: data frames in, message events out.

Rules of this module:
- One message at a time: ``start()`` begins it, and the piece with ``final``
  set ends it. Control frames never pass through here, except to be decoded by
  the extensions (``decode()``).
- Whole delivery: a message that arrives in pieces grows in one buffer that
  becomes the event's bytes, so each byte is copied once on its way to an event,
  and room is reserved for a frame's announced length only in step with what
  has arrived (the peer's header alone does not get memory allocated).
- Streamed delivery: each piece becomes an event at once; text pieces end on
  whole characters.
- Text is checked piece by piece and fails at the first invalid byte (1007,
  section 8.1), not at the end of the message.
- With extensions, the message is held to ``max_message_size`` after decoding,
  and each decoder is told what is left of it (1009 rather than a bomb).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from ._codes import BINARY, TEXT
from ._errors import RemoteProtocolError
from ._events import BinaryMessage, EncodedTextMessage, Event, ExtensionMessage, TextMessage
from ._frame import Frame
from ._limits import Budget
from ._mask import apply_mask, apply_mask_into
from ._utf8 import Utf8Decoder, Utf8Validator, decode_text
from .extensions._base import Extension

__all__ = ["MessageAssembler"]

# Pieces this big are unmasked straight into the message being assembled;
# smaller ones are cheaper to unmask into bytes and copy.
_UNMASK_INTO_FROM = 16 << 10


class MessageAssembler:
    """The message being received: its opcode, size, buffer and text decoder."""

    __slots__ = (
        "_budget",
        "_buffer",
        "_decoders",
        "_reserved",
        "_stream",
        "_strict",
        "_text",
        "_text_as_bytes",
        "opcode",
        "size",
    )

    def __init__(
        self,
        budget: Budget,
        extensions: Sequence[Extension],
        *,
        stream_messages: bool,
        validate_utf8: bool,
        text_as_bytes: bool,
    ) -> None:
        self._budget = budget
        self._decoders = tuple(extension.decode for extension in reversed(extensions))
        self._stream = stream_messages
        self._strict = validate_utf8
        self._text_as_bytes = text_as_bytes
        #: The opcode of the message being received; 0 between messages.
        self.opcode = 0
        #: Its size so far: on the wire without extensions, decoded with them.
        self.size = 0
        # Whole delivery of a message in several pieces: the buffer they are
        # assembled in, and the bytes reserved in it.
        self._buffer: io.BytesIO | None = None
        self._reserved = 0
        # The text check or decoder, once the message has needed one.
        self._text: Utf8Decoder | Utf8Validator | None = None

    def start(self, opcode: int) -> None:
        """A data message with *opcode* begins."""
        self.opcode = opcode
        self._buffer = None
        self._text = None

    def release(self) -> None:
        """Forget the message: nothing more will be received."""
        self._buffer = None
        self._text = None

    def _end(self) -> None:
        self.opcode = 0
        self.size = 0
        self._buffer = None
        self._text = None

    # ------------------------------------------------------------- from the wire

    def piece(
        self, data: memoryview, final: bool, mask: bytes | None, offset: int, frame_left: int
    ) -> Event | None:
        """A piece of a data frame's payload, *offset* bytes into it, with *frame_left* to come."""
        if self._stream or (final and self._buffer is None):
            return self._deliver(bytes(data) if mask is None else apply_mask(data, mask, offset), final)
        self._assemble(data, final, mask, offset, frame_left)
        return self._whole() if final else None

    def decode(self, first: int, payload: bytes) -> Frame:
        """Run a whole frame through the extensions' decoders (in reverse order)."""
        frame = Frame(first & 0x0F, payload, first > 0x7F, first & 0x70)
        if self._decoders:
            left = self._budget.left(self.size if not first & 0x0F else 0)
            for decoder in self._decoders:
                frame = decoder(frame, max_size=left)
            if frame.rsv:  # section 5.2: a bit no extension took
                raise RemoteProtocolError(f"RSV bits {frame.rsv:#04x} set but not consumed by any extension")
        return frame

    def whole_frame(self, first: int, payload: bytes) -> Event | None:
        """A whole data frame, when extensions are in use."""
        frame = self.decode(first, payload)
        data = frame.payload
        if frame.opcode:
            self.start(frame.opcode)
            self.size = len(data)
        else:
            self.size += len(data)
        if self.size > self._budget.message:
            self._budget.refuse_message(self.size)
        return self._deliver(data, frame.fin)

    # ------------------------------------------------------------- into events

    def _deliver(self, data: bytes, final: bool) -> Event | None:
        """Add a piece of the current message; the event it completes, if any."""
        opcode = self.opcode
        if self._stream:
            if opcode == TEXT and self._text_as_bytes:
                return self._text_piece(data, final)
            piece = ""
            if opcode == TEXT:
                decoder = self._text
                if not isinstance(decoder, Utf8Decoder):  # None: the message's first piece
                    decoder = self._text = Utf8Decoder(self._strict)
                piece = decoder.decode(data, final)
            if final:
                self._end()
            elif not data:
                return None
            if opcode == TEXT:
                return None if not (piece or final) else TextMessage(piece, final)
            if opcode == BINARY:
                return BinaryMessage(data, final)
            return ExtensionMessage(opcode, data, final)
        if final and self._buffer is None:
            # The whole message in one piece (a decoded frame, say): decode it once.
            return self._message(data)
        self._assemble(data, final)
        return self._whole() if final else None

    def _text_piece(self, data: bytes, final: bool) -> Event | None:
        """A streamed piece of text, as bytes: whole characters only."""
        validator = self._text
        if not isinstance(validator, Utf8Validator):  # None: the message's first piece
            validator = self._text = Utf8Validator(self._strict)
        piece = validator.whole(data, final)
        if final:
            self._end()
        return EncodedTextMessage(piece, final, self._strict) if piece or final else None

    def _whole(self) -> Event:
        """The message assembled, handed over by the BytesIO without a copy (in CPython)."""
        assert self._buffer is not None
        return self._message(self._buffer.getvalue())

    def _message(self, whole: bytes) -> Event:
        """End the message being received: its event."""
        opcode = self.opcode
        checked = self._text is not None
        self._end()
        if opcode == TEXT:
            if self._text_as_bytes:
                if not checked and self._strict:
                    Utf8Validator().check(whole, True)
                return EncodedTextMessage(whole, True, self._strict)
            return TextMessage(decode_text(whole, self._strict))
        if opcode == BINARY:
            return BinaryMessage(whole)
        return ExtensionMessage(opcode, whole)

    def _assemble(
        self,
        data: bytes | memoryview,
        final: bool,
        mask: bytes | None = None,
        offset: int = 0,
        frame_left: int = 0,
    ) -> None:
        """Append a piece to the message, unmasking it on the way in.

        When the frame's length says more is coming, room is reserved for it,
        but never more than three times what has arrived. Big buffers grow in
        place (the allocator remaps their pages), so the message is never held
        twice.
        """
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = io.BytesIO()
            self._reserved = 0
        start = buffer.tell()
        end = start + len(data)
        if end > self._reserved:
            # Double, or take the rest of the frame at once if that is less
            # than twice as much: the last step lands exactly on its end.
            wanted = end + (frame_left if frame_left <= 2 * end else end)
            # Writing the last byte sizes the buffer exactly; the frame fills
            # the room before the message can end.
            buffer.seek(wanted - 1)
            buffer.write(b"\0")
            buffer.seek(start)
            self._reserved = wanted
        if mask is not None and end - start < _UNMASK_INTO_FROM:
            data, mask = apply_mask(data, mask, offset), None
        decoder = self._text
        if decoder is None and self.opcode == TEXT and self._strict:
            decoder = self._text = Utf8Validator() if self._text_as_bytes else Utf8Decoder()
        if mask is None:
            buffer.write(data)
            if decoder is not None:
                decoder.check(data, final)
            return
        with buffer.getbuffer() as target, target[start:end] as piece:
            apply_mask_into(piece, data, mask, offset)
            if decoder is not None:
                decoder.check(piece, final)
        buffer.seek(end)

"""``Connection``: RFC 6455 framing for one side of one WebSocket connection.

Rules of this module:
- Bytes in, events out; events in, bytes out. No I/O, no clocks, no replies on
  the caller's behalf: ``receive_data()`` only buffers, ``next_event()`` parses,
  and every byte to write comes from ``send()``.
- One event per ``next_event()`` call, and the state changes exactly when that
  event is returned (through the table in ``_state.py``). So every valid event
  that precedes a bad frame is returned before the error is raised.
- A frame is judged from its header, before its payload is waited for: masking,
  RSV bits, opcode, fragmentation and control-frame rules (1002), then the size
  limits (1009). Memory held is bounded by the limits, whatever the peer sends.
- Without extensions, data frames are consumed as their bytes arrive: text is
  validated on the fly (fail-fast, 1007) and nothing is held twice. Extensions
  transform whole frames, so with extensions a data frame is buffered whole first.
- Each byte is copied once on its way to an event: ``bytes`` handed to
  ``receive_data()`` are parsed where they are, unmasking copies, and a message
  that arrives in pieces grows in one buffer that becomes the event's bytes.
- The common case, runs of whole one-frame messages, is parsed ahead in one loop
  (``_batch``); an error found there waits behind the events before it.
- A ``RemoteProtocolError`` moves the connection to FAILED; a
  ``LocalProtocolError`` changes nothing.
"""

from __future__ import annotations

import functools
import io
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from ._codes import CloseCode, Opcode, Role, is_valid_close_code
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    BinaryMessage,
    Close,
    EncodedTextMessage,
    Event,
    ExtensionMessage,
    Ping,
    Pong,
    Signal,
    TextMessage,
)
from ._frame import (
    Frame,
    _pack_short,
    apply_mask,
    apply_mask_into,
    frame_buffers,
    parse_header,
    serialize,
    split_frames,
)
from ._state import TRANSITIONS, Input, State
from ._utf8 import Utf8Decoder, Utf8Validator, is_valid_utf8
from .extensions._base import Extension, OpcodeKind, claims

__all__ = ["Connection"]

_CONTINUATION = Opcode.CONTINUATION.value
_TEXT = Opcode.TEXT.value
_BINARY = Opcode.BINARY.value
_CLOSE = Opcode.CLOSE.value
_PING = Opcode.PING.value
_PONG = Opcode.PONG.value
_RECV_MESSAGE = Input.RECV_MESSAGE
_OPEN = State.OPEN
_LOCAL_CLOSING = State.LOCAL_CLOSING

# Pieces this big are unmasked straight into the message being assembled;
# smaller ones are cheaper to unmask into bytes and copy.
_UNMASK_INTO_FROM = 16 << 10
_BATCH = 64  # events parsed ahead at most: bounds what a batch holds
_NO_LIMIT = 1 << 64  # above any length a frame header can carry
_MAX_CONTROL_PAYLOAD = 125  # section 5.5
# The table by input, for the hot paths: one lookup by state, no tuple to build.
_ROWS: dict[Input, dict[State, State]] = {event: {} for event in Input}
for (_state, _event), _after in TRANSITIONS.items():
    _ROWS[_event][_state] = _after
_AFTER_RECV_MESSAGE = _ROWS[Input.RECV_MESSAGE]
_AFTER_SEND_MESSAGE = _ROWS[Input.SEND_MESSAGE]
# Client mask keys are drawn from ``secrets`` this many bytes at a time: one
# system call per 64 frames (section 10.3 asks for a strong source, and this
# is the same source).
_MASK_POOL = 256
_MAX_CLOSE_REASON = _MAX_CONTROL_PAYLOAD - 2

_CONTROL_INPUTS = {
    _CLOSE: Input.RECV_CLOSE,
    _PING: Input.RECV_PING,
    _PONG: Input.RECV_PONG,
}


class Connection:
    """The sans-io WebSocket protocol, after the opening handshake.

    Args:
        role: ``Role.CLIENT`` masks what it sends and expects unmasked frames;
            ``Role.SERVER`` the reverse (RFC 6455 section 5.1).
        extensions: The negotiated extensions, in the order of the handshake's
            answer. Their RSV bits and custom opcodes must not overlap.
        max_message_size: Largest message, in bytes after decoding, and in
            total over its fragments; None for no limit. Over it: 1009.
        max_frame_size: Largest frame payload; None for no limit. Over it: 1009.
        stream_messages: Deliver data as it arrives, as message pieces with
            ``final=False`` and a last piece with ``final=True``, instead of one
            event per whole message.
        validate_utf8: With False, invalid UTF-8 in text and close reasons is
            replaced by U+FFFD instead of failing the connection with 1007 (and
            text received as bytes is not checked).
        text_as_bytes: Receive text messages as ``EncodedTextMessage``, their
            UTF-8 bytes (checked as strictly as text), instead of ``TextMessage``.
        max_send_frame_size: Largest payload of a data frame ``send()`` makes;
            a larger message goes out in several frames (after compression, if
            any). None: one frame per ``send()``. Control frames are not split.
        mask_key_source: Returns the 4-byte masking key of each frame a client
            sends; for deterministic tests. The default draws from ``secrets``,
            as section 10.3 requires.
    """

    def __init__(
        self,
        role: Role,
        *,
        extensions: Iterable[Extension] = (),
        max_message_size: int | None = 1 << 20,
        max_frame_size: int | None = None,
        stream_messages: bool = False,
        validate_utf8: bool = True,
        text_as_bytes: bool = False,
        max_send_frame_size: int | None = None,
        mask_key_source: Callable[[], bytes] | None = None,
    ) -> None:
        if not isinstance(role, Role):
            raise TypeError(f"role must be a Role, not {role!r}")
        for name, limit in (("max_message_size", max_message_size), ("max_frame_size", max_frame_size)):
            if limit is not None and limit < 0:
                raise ValueError(f"{name} must be None or at least 0, not {limit}")
        if max_send_frame_size is not None and max_send_frame_size < 1:
            raise ValueError(f"max_send_frame_size must be None or at least 1, not {max_send_frame_size}")
        self._role = role
        self._extensions = tuple(extensions)
        self._claimed_rsv, self._custom_opcodes = claims(self._extensions)
        self._valid_first_bytes = _valid_first_bytes(
            self._claimed_rsv, tuple(sorted(self._custom_opcodes.items()))
        )
        for extension in self._extensions:
            extension.bind(role)
        self._decoders = tuple(extension.decode for extension in reversed(self._extensions))
        self._encoders = tuple(extension.encode for extension in self._extensions)
        self._max_message_size = max_message_size
        # What extensions decode may be a little larger on the wire than after
        # decoding (deflate grows incompressible data by well under 1/2048 plus a
        # few bytes); the decoded size is then held to the limit exactly.
        allowance = (max_message_size >> 11) + 64 if self._extensions and max_message_size is not None else 0
        # The limits as plain numbers, for one comparison each on the hot path.
        self._frame_limit = _NO_LIMIT if max_frame_size is None else max_frame_size
        self._message_limit = _NO_LIMIT if max_message_size is None else max_message_size + allowance
        self._decoded_limit = _NO_LIMIT if max_message_size is None else max_message_size
        self._batch_limit = min(self._frame_limit, self._message_limit)
        self._max_frame_size = max_frame_size
        self._stream = stream_messages
        self._validate_utf8 = validate_utf8
        self._utf8_errors = "strict" if validate_utf8 else "replace"
        self._text_as_bytes = text_as_bytes
        self._mask_bit = 0x80 if role is Role.SERVER else 0  # section 5.1: clients mask
        self._masking = role is Role.CLIENT
        self._send_limit = _NO_LIMIT if max_send_frame_size is None else max_send_frame_size
        if max_send_frame_size is not None:
            # Chosen once, so that without a limit no frame pays for the check.
            self._frame = self._frame_split  # type: ignore[method-assign]
        # Frames go out as they are given, without a mask or an encoder (and a
        # short one is never split).
        self._plain = not self._masking and not self._extensions and self._send_limit >= 125
        self._mask_key_source = mask_key_source
        self._mask_pool = b""
        self._mask_pos = 0

        self._state = State.OPEN
        self._error: RemoteProtocolError | None = None
        # Whole one-frame messages parsed ahead, and an error found while
        # decoding ahead, raised after them (see _batch).
        self._ready: deque[Event] = deque()
        self._deferred: RemoteProtocolError | None = None
        # FIN, text or binary, and RSV bits only as the extensions claim them.
        self._batch_firsts = frozenset(
            kind | rsv
            for kind in (0x81, 0x82)
            for rsv in range(0, 0x80, 0x10)
            if not rsv & ~self._claimed_rsv
        )
        # Receiving.
        # What has arrived and is not parsed yet: a bytearray, or bytes given to
        # receive_data() (or a view into them) while nothing else was waiting.
        self._buf: bytes | bytearray | memoryview = b""
        self._eof = False
        # The data frame whose payload is arriving (fast path without extensions).
        self._in_frame = False
        self._frame_left = 0
        self._frame_done = 0
        self._frame_fin = False
        self._frame_mask: bytes | None = None
        # The message being received: its opcode (0: none) and size so far;
        # when it is delivered whole and comes in several pieces, the buffer
        # they are assembled in and the bytes reserved in it (see _assemble).
        self._msg_opcode = 0
        self._msg_size = 0
        self._msg_io: io.BytesIO | None = None
        self._msg_reserved = 0
        self._msg_utf8: Utf8Decoder | Utf8Validator | None = None
        # Sending: the opcode of the fragmented message we are sending (0: none),
        # and the start of a character its UTF-8 bytes so far leave unfinished.
        self._send_opcode = 0
        self._send_pending = b""

    @property
    def role(self) -> Role:
        """Which side of the connection this is."""
        return self._role

    @property
    def state(self) -> State:
        """Where the connection stands; see ``State``."""
        return self._state

    @property
    def extensions(self) -> tuple[Extension, ...]:
        """The extensions in use: the very objects passed in."""
        return self._extensions

    def __repr__(self) -> str:
        return f"<Connection {self._role.value} {self._state.value}>"

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes from the transport; ``b""`` means the transport ended.

        Nothing is parsed here: call ``next_event()``. Bytes that arrive after
        the peer's Close, or after a failure, are discarded.
        """
        if not data:
            self._eof = True
            return
        if self._eof:
            raise LocalProtocolError("receive_data() called after EOF")
        if self._state is _OPEN or self._state is _LOCAL_CLOSING:
            buf = self._buf
            if not buf:
                # Immutable bytes are parsed where they are, without a copy.
                self._buf = data if type(data) is bytes else bytearray(data)
            elif type(buf) is bytearray:
                buf += data
            else:
                buf = self._buf = bytearray(buf)
                buf += data

    def _drop(self, size: int) -> None:
        """Forget the first *size* bytes received."""
        buf = self._buf
        if type(buf) is bytearray:
            del buf[:size]
        else:
            # The caller's bytes: a view past what was parsed, copied no more.
            self._buf = memoryview(buf)[size:] if size < len(buf) else b""

    def events(self) -> Iterator[Event]:
        """Yield events until ``next_event()`` returns a ``Signal``."""
        ready = self._ready
        while True:
            if ready:
                # What next_event() would do with a parsed-ahead message, inline.
                self._state = _AFTER_RECV_MESSAGE[self._state]
                yield ready.popleft()
                continue
            event = self.next_event()
            if isinstance(event, Signal):
                return
            yield event

    def next_event(self) -> Event | Signal:
        """The next event, ``Signal.NEED_DATA`` or ``Signal.CLOSED``.

        Raises ``RemoteProtocolError`` if the peer broke the protocol, and again on
        every call until ``send(Close(err.close_code))``.
        """
        ready = self._ready
        if not ready and not self._in_frame and not self._msg_opcode and len(self._buf) > 1:
            self._batch()
        if ready:
            # Only whole data messages are batched, and only while receiving.
            self._state = _AFTER_RECV_MESSAGE[self._state]
            return ready.popleft()
        state = self._state
        if state is _OPEN or state is _LOCAL_CLOSING:
            # An empty buffer completes nothing, except a frame whose payload is empty.
            if self._buf or self._in_frame or self._deferred is not None:
                try:
                    event = self._parse()
                except RemoteProtocolError as exc:
                    self._fail(exc)
                    raise
                if event is not None:
                    return event
            if self._eof:
                self._received(Input.RECV_EOF)
                return Close(CloseCode.ABNORMAL_CLOSURE, "the transport ended before the close handshake")
            return Signal.NEED_DATA
        if state is State.FAILED:
            assert self._error is not None
            raise RemoteProtocolError(str(self._error), self._error.close_code)
        return Signal.CLOSED

    def _received(self, event: Input) -> None:
        self._state = TRANSITIONS[self._state, event]

    def _fail(self, exc: RemoteProtocolError) -> None:
        self._error = exc
        self._received(Input.RECV_ERROR)
        self._release()

    def _release(self) -> None:
        """Forget everything received: nothing more will be parsed."""
        self._buf = b""
        self._msg_io = None
        self._msg_utf8 = None

    def _parse(self) -> Event | None:
        """Parse until an event is complete; None if more bytes are needed."""
        if self._deferred is not None:
            raise self._deferred
        while True:
            if self._in_frame:
                event = self._consume_payload()
                if event is not None or self._in_frame:
                    return event
            buf = self._buf
            available = len(buf)
            if available < 2:
                return None
            # Judge the frame by its first two bytes, before the rest arrives.
            first = buf[0]
            second = buf[1]
            if first not in self._valid_first_bytes:
                raise RemoteProtocolError(self._why_invalid(first))
            if second & 0x80 != self._mask_bit:
                raise RemoteProtocolError(
                    "unmasked frame from the client" if self._mask_bit else "masked frame from the server"
                )
            opcode = first & 0x0F
            length = second & 0x7F
            if length < 126:
                # Short header, inline: most frames take this path.
                if second & 0x80:
                    if available < 6:
                        return None
                    header_size = 6
                    mask: bytes | None = bytes(buf[2:6])
                else:
                    header_size = 2
                    mask = None
            elif opcode & 0x08:
                raise RemoteProtocolError("control frame with a payload over 125 bytes")
            else:
                header = parse_header(buf)
                if header is None:
                    return None
                header_size, length, mask = header
            if opcode & 0x08:
                end = header_size + length
                if len(buf) < end:
                    return None
                return self._control(first, self._take(header_size, end, mask))

            if opcode == _CONTINUATION:
                if not self._msg_opcode:
                    raise RemoteProtocolError("continuation frame without a message to continue")
                used = self._msg_size
            elif self._msg_opcode:
                raise RemoteProtocolError("new data frame inside a fragmented message")
            else:
                used = 0
            if length > self._frame_limit:
                raise RemoteProtocolError(
                    f"{length}-byte frame exceeds the limit of {self._max_frame_size}", 1009
                )
            if used + length > self._message_limit:
                raise RemoteProtocolError(
                    f"message of at least {used + length} bytes exceeds the limit of {self._max_message_size}",
                    1009,
                )
            end = header_size + length

            if self._extensions:
                if len(buf) < end:
                    return None
                event = self._extension_data(first, self._take(header_size, end, mask))
            else:
                self._drop(header_size)
                if opcode:
                    self._start_message(opcode)
                self._msg_size = used + length
                self._in_frame = True
                self._frame_left = length
                self._frame_done = 0
                self._frame_fin = bool(first & 0x80)
                self._frame_mask = mask
                continue
            if event is not None:
                return event

    def _batch(self) -> None:
        """Parse the whole one-frame data messages at the head of the buffer.

        The common case, in one tight loop: up to ``_BATCH`` events are queued,
        and the bytes they came from are removed at once. Anything else (a
        control frame, a fragment, an incomplete frame, and every frame that
        breaks a header rule or whose text is not UTF-8) stops the batch, and
        ``_parse`` deals with it after the queued events, so they come first.
        With extensions, frames are decoded here; a decoder's error is kept for
        ``_parse`` to raise after the queued events.
        """
        buf = self._buf
        size = len(buf)
        ready = self._ready
        mask_bit = self._mask_bit
        limit = self._batch_limit
        errors = self._utf8_errors
        firsts = self._batch_firsts
        extensions = bool(self._extensions)
        # Extensions or text as bytes: off the default path, behind one test.
        special = extensions or self._text_as_bytes
        strict = errors == "strict"
        pos = 0
        while size - pos >= 2 and len(ready) < _BATCH:
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
            payload = (
                apply_mask(buf[start:end], buf[start - 4 : start]) if mask_bit else bytes(buf[start:end])
            )
            message: Event | None
            if special:
                if extensions:
                    try:
                        message = self._extension_data(first, payload)
                    except RemoteProtocolError as exc:
                        # Nothing after it will be parsed: drop the rest.
                        self._deferred = exc
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
            self._drop(pos)

    def _why_invalid(self, first: int) -> str:
        """Explain why no frame may start with the byte *first*."""
        opcode = first & 0x0F
        rsv = first & 0x70 & ~self._claimed_rsv
        if rsv:
            return f"RSV bits {rsv:#04x} set but no extension claims them"
        if opcode & 0x08 and (opcode in (_CLOSE, _PING, _PONG) or opcode in self._custom_opcodes):
            return f"fragmented control frame (opcode {opcode:#x})"
        return f"reserved opcode {opcode:#x}"

    def _start_message(self, opcode: int) -> None:
        self._msg_opcode = opcode
        self._msg_io = None
        self._msg_utf8 = None

    def _consume_payload(self) -> Event | None:
        """Take what has arrived of the current data frame's payload."""
        buf = self._buf
        take = min(len(buf), self._frame_left)
        if not take and self._frame_left:
            return None
        done = self._frame_done
        self._frame_done += take
        self._frame_left -= take
        if not self._frame_left:
            self._in_frame = False
        final = not self._frame_left and self._frame_fin
        # Through a view: the piece is copied once, by the unmasking, into
        # the message being assembled if there is one.
        chunk: bytes | None = None
        with memoryview(buf) as view:
            if self._stream or (final and self._msg_io is None):
                if self._frame_mask is None:
                    chunk = bytes(view[:take])
                else:
                    chunk = apply_mask(view[:take], self._frame_mask, done)
            else:
                self._assemble(view[:take], final, self._frame_mask, done)
        self._drop(take)
        if chunk is not None:
            return self._deliver(chunk, final)
        return self._whole() if final else None

    def _deliver(self, data: bytes, final: bool) -> Event | None:
        """Add a piece of the current message; the event it completes, if any."""
        opcode = self._msg_opcode
        if self._stream:
            if opcode == _TEXT and self._text_as_bytes:
                return self._text_piece(data, final)
            piece = ""
            if opcode == _TEXT:
                decoder = self._msg_utf8
                if not isinstance(decoder, Utf8Decoder):  # None: the message's first piece
                    decoder = self._msg_utf8 = Utf8Decoder(self._validate_utf8)
                piece = decoder.decode(data, final)
            if final:
                self._end_message()
            elif not data:
                return None
            if opcode == _TEXT:
                return None if not (piece or final) else TextMessage(piece, final)
            if opcode == _BINARY:
                return BinaryMessage(data, final)
            return ExtensionMessage(opcode, data, final)
        if final and self._msg_io is None:
            # The whole message in one piece (a decoded frame, say): decode it once.
            return self._message(data)
        self._assemble(data, final)
        return self._whole() if final else None

    def _text_piece(self, data: bytes, final: bool) -> Event | None:
        """A streamed piece of text, as bytes: whole characters only."""
        validator = self._msg_utf8
        if not isinstance(validator, Utf8Validator):  # None: the message's first piece
            validator = self._msg_utf8 = Utf8Validator(self._validate_utf8)
        piece = validator.whole(data, final)
        if final:
            self._end_message()
        return EncodedTextMessage(piece, final, self._validate_utf8) if piece or final else None

    def _whole(self) -> Event:
        """The message assembled, handed over by the BytesIO without a copy (in CPython)."""
        assert self._msg_io is not None
        return self._message(self._msg_io.getvalue())

    def _message(self, whole: bytes) -> Event:
        """End the message being received: its event."""
        opcode = self._msg_opcode
        checked = self._msg_utf8 is not None
        self._end_message()
        if opcode == _TEXT:
            if self._text_as_bytes:
                if not checked and self._validate_utf8:
                    Utf8Validator().check(whole, True)
                return EncodedTextMessage(whole, True, self._validate_utf8)
            try:
                return TextMessage(whole.decode("utf-8", self._utf8_errors))
            except UnicodeDecodeError as exc:
                raise RemoteProtocolError(f"invalid UTF-8 in text: {exc.reason}", 1007) from None
        if opcode == _BINARY:
            return BinaryMessage(whole)
        return ExtensionMessage(opcode, whole)

    def _assemble(
        self, data: bytes | memoryview, final: bool, mask: bytes | None = None, offset: int = 0
    ) -> None:
        """Append a piece to the message being assembled, unmasking it on the way in.

        The message grows in one buffer. When the current frame's length says
        more is coming, room is reserved for it, but never more than three
        times what has arrived: the peer's header alone does not get memory
        allocated. Big buffers grow in place (the allocator remaps their
        pages), so the message is never held twice. Text is validated piece by
        piece, to fail fast at the first invalid byte.
        """
        buffer = self._msg_io
        if buffer is None:
            buffer = self._msg_io = io.BytesIO()
            self._msg_reserved = 0
        start = buffer.tell()
        end = start + len(data)
        if end > self._msg_reserved:
            # Double, or take the rest of the frame at once if that is less
            # than twice as much: the last step lands exactly on its end.
            left = self._frame_left
            wanted = end + (left if left <= 2 * end else end)
            # Writing the last byte sizes the buffer exactly; the frame fills
            # the room before the message can end.
            buffer.seek(wanted - 1)
            buffer.write(b"\0")
            buffer.seek(start)
            self._msg_reserved = wanted
        if mask is not None and end - start < _UNMASK_INTO_FROM:
            data, mask = apply_mask(data, mask, offset), None
        decoder = self._msg_utf8
        if decoder is None and self._msg_opcode == _TEXT and self._validate_utf8:
            decoder = self._msg_utf8 = Utf8Validator() if self._text_as_bytes else Utf8Decoder()
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

    def _end_message(self) -> None:
        self._state = _AFTER_RECV_MESSAGE[self._state]
        self._msg_opcode = 0
        self._msg_size = 0
        self._msg_io = None
        self._msg_utf8 = None

    def _take(self, header_size: int, end: int, mask: bytes | None) -> bytes:
        """Remove a whole frame from the buffer; its payload, unmasked, copied once."""
        with memoryview(self._buf) as view:
            payload = (
                bytes(view[header_size:end]) if mask is None else apply_mask(view[header_size:end], mask)
            )
        self._drop(end)
        return payload

    def _decode(self, first: int, payload: bytes) -> Frame:
        """Run a whole frame through the extensions' decoders (in reverse order)."""
        frame = Frame(first & 0x0F, payload, first > 0x7F, first & 0x70)
        if self._decoders:
            budget = None
            if self._max_message_size is not None:
                budget = self._max_message_size - (self._msg_size if not first & 0x0F else 0)
            for decoder in self._decoders:
                frame = decoder(frame, max_size=budget)
            if frame.rsv:
                raise RemoteProtocolError(f"RSV bits {frame.rsv:#04x} set but not consumed by any extension")
        return frame

    def _extension_data(self, first: int, payload: bytes) -> Event | None:
        """A whole data frame, when extensions are in use."""
        frame = self._decode(first, payload)
        opcode, data = frame.opcode, frame.payload
        if opcode:
            self._start_message(opcode)
            self._msg_size = len(data)
        else:
            self._msg_size += len(data)
        if self._msg_size > self._decoded_limit:
            raise RemoteProtocolError(
                f"message of at least {self._msg_size} bytes exceeds the limit of {self._max_message_size}",
                1009,
            )
        return self._deliver(data, frame.fin)

    def _control(self, first: int, payload: bytes) -> Event:
        """A whole control frame."""
        frame = self._decode(first, payload)
        opcode, data = frame.opcode, frame.payload
        if opcode == _PING:
            event: Event = Ping(data)
        elif opcode == _PONG:
            event = Pong(data)
        elif opcode == _CLOSE:
            event = self._parse_close(data)
        else:
            self._received(Input.RECV_CONTROL)
            return ExtensionMessage(opcode, data)
        self._received(_CONTROL_INPUTS[opcode])
        if opcode == _CLOSE:
            # Nothing after the peer's Close is parsed (section 5.5.1).
            self._release()
        return event

    def _parse_close(self, payload: bytes) -> Close:
        """Section 5.5.1: an optional 2-byte code, then an optional UTF-8 reason."""
        if not payload:
            return Close(CloseCode.NO_STATUS_RCVD)
        if len(payload) == 1:
            raise RemoteProtocolError("close frame with a 1-byte payload")
        code = int.from_bytes(payload[:2], "big")
        if not is_valid_close_code(code):
            raise RemoteProtocolError(f"close code {code} may not be sent")
        try:
            reason = payload[2:].decode("utf-8", self._utf8_errors)
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f"invalid UTF-8 in close reason: {exc.reason}", 1007) from None
        return Close(code, reason)

    # ------------------------------------------------------------------ sending

    def send(self, event: Event) -> bytes:
        """The bytes that send *event*; write them to the transport.

        Raises ``LocalProtocolError`` (and changes nothing) if *event* may not be
        sent now, or is malformed.
        """
        if isinstance(event, TextMessage):
            if not isinstance(event.data, str):
                raise LocalProtocolError(f"TextMessage data must be str, not {type(event.data).__name__}")
            try:
                payload: bytes | bytearray | memoryview = event.data.encode()
            except UnicodeEncodeError as exc:
                raise LocalProtocolError(f"text cannot be encoded as UTF-8: {exc.reason}") from None
            opcode = _TEXT
        elif isinstance(event, BinaryMessage):
            payload = _payload(event.data, "BinaryMessage")
            opcode = _BINARY
        elif isinstance(event, EncodedTextMessage) and event.final and not self._send_opcode:
            # A whole message: nothing to carry over from a fragment before it.
            payload = event.data
            if type(payload) is not bytes:
                payload = _payload(payload, "EncodedTextMessage")
            if not event.validated and not is_valid_utf8(payload):
                return b"".join(self._send_message(event))  # which says what is wrong
            opcode = _TEXT
        elif (
            isinstance(event, ExtensionMessage) and self._custom_opcodes.get(event.opcode) is OpcodeKind.DATA
        ):
            payload = _payload(event.data, "ExtensionMessage")
            opcode = event.opcode
        else:
            return self._send_other(event)
        # A data frame (inline: most of what is sent).
        state = _AFTER_SEND_MESSAGE.get(self._state) or self._transition(Input.SEND_MESSAGE)
        if self._send_opcode:
            self._check_continuation(opcode)
            wire = self._frame(_CONTINUATION, payload, event.final)
        elif self._plain and event.final and len(payload) < 126:
            # Unmasked, untransformed and short: the whole header is two bytes.
            wire = _pack_short(opcode | 0x80, len(payload)) + payload
        else:
            wire = self._frame(opcode, payload, event.final)
        self._send_opcode = 0 if event.final else opcode
        self._state = state
        return wire

    def send_buffers(self, event: Event) -> list[bytes | memoryview]:
        """What ``send(event)`` returns, as separate buffers, for ``writelines()``.

        Each frame is its header (with the masking key), then its payload. An
        unmasked, untransformed payload is the event's own data (a view of it,
        when split), so a large message is not copied once more on its way to
        ``socket.sendmsg()`` or ``transport.writelines()``. Keep the buffers
        unchanged until written. Control frames come as one buffer.
        """
        if isinstance(event, (TextMessage, BinaryMessage, EncodedTextMessage)) or (
            isinstance(event, ExtensionMessage) and self._custom_opcodes.get(event.opcode) is OpcodeKind.DATA
        ):
            return self._send_message(event)
        return [self.send(event)]

    def _send_message(
        self, event: TextMessage | BinaryMessage | EncodedTextMessage | ExtensionMessage
    ) -> list[bytes | memoryview]:
        """A data message as frame buffers: the general path behind ``send()``."""
        opcode, payload, pending = self._message_payload(event)
        state = self._transition(Input.SEND_MESSAGE)
        if self._send_opcode:
            self._check_continuation(opcode, pending is None)
        buffers = self._frame_buffers(_CONTINUATION if self._send_opcode else opcode, payload, event.final)
        self._send_opcode = 0 if event.final else opcode
        self._send_pending = pending or b""
        self._state = state
        return buffers

    def _message_payload(
        self, event: TextMessage | BinaryMessage | EncodedTextMessage | ExtensionMessage
    ) -> tuple[int, bytes | bytearray | memoryview, bytes | None]:
        """Opcode, payload and, for UTF-8 bytes, the character they leave unfinished.

        That last is None for text given as ``str``: whole characters.
        """
        if isinstance(event, TextMessage):
            if not isinstance(event.data, str):
                raise LocalProtocolError(f"TextMessage data must be str, not {type(event.data).__name__}")
            try:
                return _TEXT, event.data.encode(), None
            except UnicodeEncodeError as exc:
                raise LocalProtocolError(f"text cannot be encoded as UTF-8: {exc.reason}") from None
        if isinstance(event, BinaryMessage):
            return _BINARY, _payload(event.data, "BinaryMessage"), b""
        if isinstance(event, ExtensionMessage):
            return event.opcode, _payload(event.data, "ExtensionMessage"), b""
        payload = _payload(event.data, "EncodedTextMessage")
        # Fragments may split a character (section 5.4): check on from where the last ended.
        validator = Utf8Validator(pending=self._send_pending if self._send_opcode == _TEXT else b"")
        if event.validated:
            validator.skip(payload)
        else:
            try:
                validator.check(payload, event.final)
            except RemoteProtocolError as exc:
                raise LocalProtocolError(f"EncodedTextMessage: {exc}") from None
        return _TEXT, payload, b"" if event.final else validator.pending

    def _check_continuation(self, opcode: int, whole_characters: bool = True) -> None:
        """Whether a message piece may continue the fragmented message being sent."""
        if opcode != self._send_opcode:
            raise LocalProtocolError(
                f"cannot send opcode {opcode:#x} while a fragmented message "
                f"(opcode {self._send_opcode:#x}) is in progress"
            )
        if whole_characters and self._send_pending:
            raise LocalProtocolError(
                f"text given as str cannot continue a fragment that ends inside a character "
                f"({self._send_pending.hex(' ')})"
            )

    def _send_other(self, event: Event) -> bytes:
        if isinstance(event, EncodedTextMessage):
            return b"".join(self._send_message(event))
        if isinstance(event, Ping):
            return self._send_control(_PING, _payload(event.payload, "Ping"), Input.SEND_PING)
        if isinstance(event, Pong):
            return self._send_control(_PONG, _payload(event.payload, "Pong"), Input.SEND_PONG)
        if isinstance(event, Close):
            return self._send_control(_CLOSE, _close_payload(event), Input.SEND_CLOSE)
        if isinstance(event, ExtensionMessage):
            data = _payload(event.data, "ExtensionMessage")
            if self._custom_opcodes.get(event.opcode) is OpcodeKind.CONTROL:
                if not event.final:
                    raise LocalProtocolError("control frames cannot be fragmented")
                return self._send_control(event.opcode, data, Input.SEND_CONTROL)
            raise LocalProtocolError(
                f"opcode {event.opcode!r} is not claimed by an extension of this connection"
            )
        raise LocalProtocolError(f"cannot send {event!r}")

    def _transition(self, event: Input) -> State:
        state = _ROWS[event].get(self._state)
        if state is None:
            raise LocalProtocolError(f"cannot {event.value.replace('-', ' ')} in state {self._state.name}")
        return state

    def _send_control(self, opcode: int, payload: bytes | bytearray | memoryview, event: Input) -> bytes:
        state = self._transition(event)
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError(f"control frame payload of {len(payload)} bytes (at most 125)")
        wire = self._frame(opcode, payload, True)
        self._state = state
        return wire

    def _frame(self, opcode: int, payload: bytes | bytearray | memoryview, fin: bool) -> bytes:
        # Draw the mask first: once the encoders have run, their state (a
        # compressor's window) has moved on, and a refusal would desynchronise it.
        key = self._mask_key() if self._masking else None
        first = opcode | 0x80 if fin else opcode
        if self._encoders:
            frame = Frame(opcode, payload if type(payload) is bytes else bytes(payload), fin)
            for encode in self._encoders:
                frame = encode(frame)
            first = frame.opcode | frame.rsv | 0x80 if frame.fin else frame.opcode | frame.rsv
            payload = frame.payload
        return serialize(first, payload, key)

    def _frame_split(self, opcode: int, payload: bytes | bytearray | memoryview, fin: bool) -> bytes:
        """``_frame()`` with ``max_send_frame_size`` set, which then takes its place."""
        return b"".join(self._frame_buffers(opcode, payload, fin))

    def _frame_buffers(
        self, opcode: int, payload: bytes | bytearray | memoryview, fin: bool
    ) -> list[bytes | memoryview]:
        """``_frame()``, as header and payload buffers."""
        key = self._mask_key() if self._masking else None
        first = opcode | 0x80 if fin else opcode
        if self._encoders:
            first, payload = self._encode(opcode, payload, fin)
        if len(payload) > self._send_limit and not opcode & 0x08:  # section 5.5: control frames are whole
            return split_frames(first, payload, self._send_limit, key, self._mask_key)
        return frame_buffers(first, payload, key)

    def _encode(self, opcode: int, payload: bytes | bytearray | memoryview, fin: bool) -> tuple[int, bytes]:
        """Run a frame through the extensions' encoders: its first header byte and payload."""
        frame = Frame(opcode, payload if type(payload) is bytes else bytes(payload), fin)
        for encode in self._encoders:
            frame = encode(frame)
        return frame.opcode | frame.rsv | 0x80 if frame.fin else frame.opcode | frame.rsv, frame.payload

    def _mask_key(self) -> bytes:
        if self._mask_key_source is not None:
            key = self._mask_key_source()
            if len(key) != 4:
                raise LocalProtocolError(f"mask_key_source returned {len(key)} bytes, not 4")
            return key
        pos = self._mask_pos
        if pos == len(self._mask_pool):
            self._mask_pool = secrets.token_bytes(_MASK_POOL)
            pos = 0
        self._mask_pos = pos + 4
        return self._mask_pool[pos : pos + 4]


def _payload(data: object, what: str) -> bytes | bytearray | memoryview:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise LocalProtocolError(f"{what} data must be bytes, not {type(data).__name__}")
    return data


def _close_payload(event: Close) -> bytes:
    """Section 5.5.1 and 7.4: the payload of the Close frame *event* stands for."""
    if event.code == CloseCode.NO_STATUS_RCVD:
        if event.reason:
            raise LocalProtocolError("a Close without a status code cannot carry a reason")
        return b""
    if not isinstance(event.code, int) or not is_valid_close_code(event.code):
        raise LocalProtocolError(f"close code {event.code!r} may not be sent")
    if not isinstance(event.reason, str):
        raise LocalProtocolError(f"close reason must be str, not {type(event.reason).__name__}")
    try:
        reason = event.reason.encode()
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"close reason cannot be encoded as UTF-8: {exc.reason}") from None
    if len(reason) > _MAX_CLOSE_REASON:
        raise LocalProtocolError(f"close reason of {len(reason)} bytes (at most {_MAX_CLOSE_REASON})")
    return event.code.to_bytes(2, "big") + reason


@functools.lru_cache(maxsize=64)
def _valid_first_bytes(
    claimed_rsv: int, custom_opcodes: tuple[tuple[int, OpcodeKind], ...]
) -> frozenset[int]:
    """Every first header byte a frame may start with on this connection.

    Section 5.2: RSV bits nobody claimed and opcodes nobody defined fail the
    connection; section 5.5: control frames are never fragmented (FIN set).
    Cached: a server builds one table per set of claims, not one per connection
    (building it was the largest cost of opening a connection).
    """
    opcodes = dict(custom_opcodes)
    valid = set()
    for first in range(256):
        opcode = first & 0x0F
        if first & 0x70 & ~claimed_rsv:
            continue
        data = opcode in (_CONTINUATION, _TEXT, _BINARY) or opcodes.get(opcode) is OpcodeKind.DATA
        control = opcode in (_CLOSE, _PING, _PONG) or opcodes.get(opcode) is OpcodeKind.CONTROL
        if data or (control and first & 0x80):
            valid.add(first)
    return frozenset(valid)

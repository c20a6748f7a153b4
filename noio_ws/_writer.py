"""``FrameWriter``: events to send, checked and turned into frame bytes.

Rules of this module:
- Whether an event may be sent *now* is the connection's question (its state);
  everything else is checked here: payload types, UTF-8 of text given as bytes,
  control payloads of at most 125 bytes (section 5.5), close codes and reasons
  (section 7.4), and that a fragmented message is continued with its own opcode
  (section 5.4). A refusal raises ``LocalProtocolError`` and changes nothing.
- Clients mask every frame with a fresh key from a strong source (sections 5.3
  and 10.3): keys are drawn from ``secrets`` 256 bytes at a time.
- The mask key is drawn before the encoders run: once they have, their state (a
  compressor's window) has moved on, and a refusal after that would
  desynchronise it.
- ``max_send_frame_size`` splits data messages after encoding; control frames
  are never split.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import TypeGuard

from ._codes import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, CloseCode, Role, is_valid_close_code
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import (
    BinaryMessage,
    Close,
    EncodedTextMessage,
    Event,
    ExtensionMessage,
    Ping,
    Pong,
    TextMessage,
)
from ._frame import Frame, frame_buffers, pack_short_header, serialize, split_frames
from ._limits import NO_LIMIT
from ._utf8 import Utf8Validator, is_valid_utf8
from .extensions._base import Extension, OpcodeKind

__all__ = ["FrameWriter", "MessageEvent", "close_payload", "payload_of"]

MessageEvent = TextMessage | BinaryMessage | EncodedTextMessage | ExtensionMessage
_MAX_CONTROL_PAYLOAD = 125  # section 5.5
_MAX_CLOSE_REASON = _MAX_CONTROL_PAYLOAD - 2
_MASK_POOL = 256  # bytes of mask keys drawn at once: one system call per 64 frames
# The headers of whole unmasked text and binary frames under 126 bytes, by opcode and size.
_SHORT_HEADERS = {
    opcode: tuple(pack_short_header(0x80 | opcode, size) for size in range(126)) for opcode in (TEXT, BINARY)
}


class FrameWriter:
    """Frames out: the message being sent in fragments, the encoders, the mask keys."""

    __slots__ = (
        "_custom_opcodes",
        "_encoders",
        "_mask_key_source",
        "_mask_pool",
        "_mask_pos",
        "_masking",
        "_pending",
        "_plain",
        "_split_at",
        "_splitting",
        "sending",
    )

    def __init__(
        self,
        role: Role,
        extensions: Sequence[Extension],
        custom_opcodes: dict[int, OpcodeKind],
        max_send_frame_size: int | None,
        mask_key_source: Callable[[], bytes] | None,
    ) -> None:
        self._custom_opcodes = custom_opcodes
        self._encoders = tuple(extension.encode for extension in extensions)
        self._masking = role is Role.CLIENT  # section 5.1: clients mask
        self._split_at = NO_LIMIT if max_send_frame_size is None else max_send_frame_size
        self._splitting = max_send_frame_size is not None
        # Frames go out as they are given, but for the client's mask: no encoder, no splitting.
        self._plain = not extensions and max_send_frame_size is None
        self._mask_key_source = mask_key_source
        self._mask_pool = b""
        self._mask_pos = 0
        #: The opcode of the fragmented message being sent; 0: none.
        self.sending = 0
        # The start of a character the UTF-8 bytes sent so far leave unfinished.
        self._pending = b""

    def is_message(self, event: Event) -> TypeGuard[MessageEvent]:
        """Whether *event* is a data message (custom data opcodes included)."""
        return isinstance(event, (TextMessage, BinaryMessage, EncodedTextMessage)) or (
            isinstance(event, ExtensionMessage) and self._custom_opcodes.get(event.opcode) is OpcodeKind.DATA
        )

    def message(self, event: Event) -> bytes | None:
        """The bytes of a data message; None if *event* is not one."""
        if isinstance(event, TextMessage):
            if not isinstance(event.data, str):
                raise LocalProtocolError(f"TextMessage data must be str, not {type(event.data).__name__}")
            try:
                payload: bytes | bytearray | memoryview = event.data.encode()
            except UnicodeEncodeError as exc:
                raise LocalProtocolError(f"text cannot be encoded as UTF-8: {exc.reason}") from None
            opcode = TEXT
        elif isinstance(event, BinaryMessage):
            payload = payload_of(event.data, "BinaryMessage")
            opcode = BINARY
        elif isinstance(event, EncodedTextMessage):
            payload = payload_of(event.data, "EncodedTextMessage")
            if not event.final or self.sending or not (event.validated or is_valid_utf8(payload)):
                # Characters split across fragments, or invalid text: the general path says what is wrong.
                return b"".join(self.message_buffers(event))
            opcode = TEXT
        elif (
            isinstance(event, ExtensionMessage) and self._custom_opcodes.get(event.opcode) is OpcodeKind.DATA
        ):
            payload = payload_of(event.data, "ExtensionMessage")
            opcode = event.opcode
        else:
            return None
        if self.sending:
            self._check_continuation(opcode)
            wire = self.frame_bytes(CONTINUATION, payload, event.final)
        elif self._plain and event.final:
            # Untransformed, never split, whole (nothing to remember): serialize(), but
            # for the commonest frames, whose header is looked up rather than packed.
            if self._masking:
                return serialize(opcode | 0x80, payload, self._mask_key())
            if len(payload) < 126 and opcode < 3:
                return _SHORT_HEADERS[opcode][len(payload)] + payload
            return serialize(opcode | 0x80, payload, None)
        else:
            wire = self.frame_bytes(opcode, payload, event.final)
        self.sending = 0 if event.final else opcode
        return wire

    def message_buffers(self, event: MessageEvent) -> list[bytes | memoryview]:
        """A data message as frame buffers: header, then payload, for each frame."""
        opcode, payload, pending = self._message_payload(event)
        if self.sending:
            self._check_continuation(opcode, pending is None)
        buffers = self._frame_buffers(CONTINUATION if self.sending else opcode, payload, event.final)
        self.sending = 0 if event.final else opcode
        self._pending = pending or b""
        return buffers

    def control(self, event: Event) -> tuple[int, bytes | bytearray | memoryview]:
        """The opcode and payload of a control frame; ``LocalProtocolError`` if *event* is not one."""
        if isinstance(event, Ping):
            return PING, payload_of(event.payload, "Ping")
        if isinstance(event, Pong):
            return PONG, payload_of(event.payload, "Pong")
        if isinstance(event, Close):
            return CLOSE, close_payload(event)
        if isinstance(event, ExtensionMessage):
            data = payload_of(event.data, "ExtensionMessage")
            if self._custom_opcodes.get(event.opcode) is OpcodeKind.CONTROL:
                if not event.final:
                    raise LocalProtocolError("control frames cannot be fragmented")
                return event.opcode, data
            raise LocalProtocolError(
                f"opcode {event.opcode!r} is not claimed by an extension of this connection"
            )
        raise LocalProtocolError(f"cannot send {event!r}")

    def control_bytes(self, opcode: int, payload: bytes | bytearray | memoryview) -> bytes:
        """The bytes of a control frame (section 5.5: at most 125 bytes, never split)."""
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError(f"control frame payload of {len(payload)} bytes (at most 125)")
        return self.frame_bytes(opcode, payload, True)

    def _message_payload(
        self, event: MessageEvent
    ) -> tuple[int, bytes | bytearray | memoryview, bytes | None]:
        """Opcode, payload and, for UTF-8 bytes, the character they leave unfinished.

        That last is None for text given as ``str``: whole characters.
        """
        if isinstance(event, TextMessage):
            if not isinstance(event.data, str):
                raise LocalProtocolError(f"TextMessage data must be str, not {type(event.data).__name__}")
            try:
                return TEXT, event.data.encode(), None
            except UnicodeEncodeError as exc:
                raise LocalProtocolError(f"text cannot be encoded as UTF-8: {exc.reason}") from None
        if isinstance(event, BinaryMessage):
            return BINARY, payload_of(event.data, "BinaryMessage"), b""
        if isinstance(event, ExtensionMessage):
            return event.opcode, payload_of(event.data, "ExtensionMessage"), b""
        payload = payload_of(event.data, "EncodedTextMessage")
        # Fragments may split a character (section 5.4): check on from where the last ended.
        validator = Utf8Validator(pending=self._pending if self.sending == TEXT else b"")
        if event.validated:
            validator.skip(payload)
        else:
            try:
                validator.check(payload, event.final)
            except RemoteProtocolError as exc:
                raise LocalProtocolError(f"EncodedTextMessage: {exc}") from None
        return TEXT, payload, b"" if event.final else validator.pending

    def _check_continuation(self, opcode: int, whole_characters: bool = True) -> None:
        """Whether a message piece may continue the fragmented message being sent."""
        if opcode != self.sending:
            raise LocalProtocolError(
                f"cannot send opcode {opcode:#x} while a fragmented message "
                f"(opcode {self.sending:#x}) is in progress"
            )
        if whole_characters and self._pending:
            raise LocalProtocolError(
                f"text given as str cannot continue a fragment that ends inside a character "
                f"({self._pending.hex(' ')})"
            )

    def frame_bytes(self, opcode: int, payload: bytes | bytearray | memoryview, fin: bool) -> bytes:
        """The bytes of one frame, or of several with ``max_send_frame_size``."""
        if self._splitting:
            return b"".join(self._frame_buffers(opcode, payload, fin))
        key = self._mask_key() if self._masking else None
        first = opcode | 0x80 if fin else opcode
        if self._encoders:
            first, payload = self._encode(opcode, payload, fin)
        return serialize(first, payload, key)

    def _frame_buffers(
        self, opcode: int, payload: bytes | bytearray | memoryview, fin: bool
    ) -> list[bytes | memoryview]:
        """``_frame()``, as header and payload buffers."""
        key = self._mask_key() if self._masking else None
        first = opcode | 0x80 if fin else opcode
        if self._encoders:
            first, payload = self._encode(opcode, payload, fin)
        if len(payload) > self._split_at and not opcode & 0x08:  # section 5.5: control frames are whole
            return split_frames(first, payload, self._split_at, key, self._mask_key)
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


def payload_of(data: object, what: str) -> bytes | bytearray | memoryview:
    """*data*, if it is a bytes-like payload; ``LocalProtocolError`` otherwise."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise LocalProtocolError(f"{what} data must be bytes, not {type(data).__name__}")
    return data


def close_payload(event: Close) -> bytes:
    """Sections 5.5.1 and 7.4: the payload of the Close frame *event* stands for."""
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

"""``Connection``: RFC 6455 framing for one side of one WebSocket connection.

Rules of this module:
- Bytes in, events out; events in, bytes out. No I/O, no clocks, no replies on
  the caller's behalf: ``receive_data()`` only buffers, ``next_event()`` parses,
  and every byte to write comes from ``send()``.
- The connection owns the public API and the state, and nothing else: the
  ``FrameReader`` (``_reader.py``) cuts and judges frames, the
  ``MessageAssembler`` (``_assembler.py``) makes messages of them, the
  ``FrameWriter`` (``_writer.py``) makes frames of what is sent, and one
  ``Budget`` (``_limits.py``) holds the receive limits.
- One event per ``next_event()`` call, and the state changes exactly when that
  event is returned, only in ``_move()``, through the table in ``_state.py``. So
  every valid event that precedes a bad frame is returned before the error is raised.
- A ``RemoteProtocolError`` moves the connection to FAILED; a
  ``LocalProtocolError`` changes nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from ._assembler import MessageAssembler
from ._batch import take_batch
from ._codes import CLOSE, PING, PONG, CloseCode, Role
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import Close, Event, Signal
from ._limits import Budget, check_limits
from ._reader import FrameReader
from ._state import MAY_SEND_MESSAGE, RECEIVING, TRANSITIONS, Input, State, next_state
from ._writer import FrameWriter
from .extensions._base import Extension, claims

__all__ = ["Connection"]

_FAILED = State.FAILED


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
        check_limits(max_message_size, max_frame_size, max_send_frame_size)
        self._role = role
        self._extensions = tuple(extensions)
        claimed_rsv, custom_opcodes = claims(self._extensions)
        for extension in self._extensions:
            extension.bind(role)
        budget = Budget(max_message_size, max_frame_size, transformed=bool(self._extensions))
        self._reader = FrameReader(
            role,
            claimed_rsv,
            custom_opcodes,
            budget,
            transformed=bool(self._extensions),
            stream_messages=stream_messages,
            validate_utf8=validate_utf8,
            text_as_bytes=text_as_bytes,
        )
        self._assembler = MessageAssembler(
            budget,
            self._extensions,
            stream_messages=stream_messages,
            validate_utf8=validate_utf8,
            text_as_bytes=text_as_bytes,
        )
        self._writer = FrameWriter(
            role, self._extensions, custom_opcodes, max_send_frame_size, mask_key_source
        )
        self._state = State.OPEN
        # Derived from the state, in step with it (see _move()): one attribute test per call.
        self._receiving = self._may_send = True
        self._error: RemoteProtocolError | None = None
        # Whole one-frame messages the reader parsed ahead (see FrameReader.batch).
        self._ready: deque[Event] = deque()

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
        reader = self._reader
        if not data:
            reader.eof = True
            return
        if reader.eof:
            raise LocalProtocolError("receive_data() called after EOF")
        if self._receiving:
            reader.feed(data)

    def events(self) -> Iterator[Event]:
        """Yield events until ``next_event()`` returns a ``Signal``."""
        reader = self._reader
        if not self._ready and len(reader.buf) < reader.wanted and not reader.eof:
            return iter(())  # nothing can come of so few bytes: no generator to start
        return self._events()

    def _events(self) -> Iterator[Event]:
        ready = self._ready
        reader = self._reader
        while True:
            if ready:
                # What next_event() would do with a parsed-ahead message, inline.
                yield ready.popleft()
                continue
            if len(reader.buf) < reader.wanted and not reader.eof:
                return  # next_event() would say NEED_DATA: its first test, inline
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
        reader = self._reader
        if not ready:
            size = len(reader.buf)
            if size < reader.wanted and not reader.eof:
                return Signal.NEED_DATA  # too short to get anywhere: the byte-at-a-time case
            if size >= reader.whole_at and not reader.in_frame and not self._assembler.opcode:
                take_batch(reader, ready, self._assembler)
        if ready:
            # Only whole data messages are batched, and a message leaves the state as it is.
            return ready.popleft()
        if self._receiving:
            # An empty buffer completes nothing, except a frame whose payload is empty.
            if reader.buf or reader.in_frame or reader.deferred is not None:
                try:
                    event = reader.parse(self._assembler)
                except RemoteProtocolError as exc:
                    self._error = exc
                    self._move(Input.RECV_ERROR)
                    self._release()
                    raise
                if event is not None:
                    if type(event) is Close:
                        self._move(Input.RECV_CLOSE)
                        self._release()  # nothing after the peer's Close is parsed (section 5.5.1)
                    return event
            if reader.eof:
                self._move(Input.RECV_EOF)
                return Close(CloseCode.ABNORMAL_CLOSURE, "the transport ended before the close handshake")
            return Signal.NEED_DATA
        if self._state is _FAILED:
            assert self._error is not None
            raise RemoteProtocolError(str(self._error), self._error.close_code)
        return Signal.CLOSED

    def _release(self) -> None:
        """Forget everything received: nothing more will be parsed."""
        self._reader.clear()
        self._assembler.release()

    # ------------------------------------------------------------------ sending

    def send(self, event: Event) -> bytes:
        """The bytes that send *event*; write them to the transport.

        Raises ``LocalProtocolError`` (and changes nothing) if *event* may not be
        sent now, or is malformed.
        """
        if self._may_send:
            wire = self._writer.message(event)
            if wire is not None:
                return wire
        elif self._writer.is_message(event):
            raise self._refusal(Input.SEND_MESSAGE)
        return self._send_control(event)

    def send_buffers(self, event: Event) -> list[bytes | memoryview]:
        """What ``send(event)`` returns, as separate buffers, for ``writelines()``.

        Each frame is its header (with the masking key), then its payload. An
        unmasked, untransformed payload is the event's own data (a view of it,
        when split), so a large message is not copied once more on its way to
        ``socket.sendmsg()`` or ``transport.writelines()``. Keep the buffers
        unchanged until written. Control frames come as one buffer.
        """
        writer = self._writer
        if not writer.is_message(event):
            return [self._send_control(event)]
        if not self._may_send:
            raise self._refusal(Input.SEND_MESSAGE)
        return writer.message_buffers(event)

    def _send_control(self, event: Event) -> bytes:
        opcode, payload = self._writer.control(event)
        action = _CONTROL_INPUTS.get(opcode, Input.SEND_CONTROL)
        if next_state(self._state, action) is None:
            raise self._refusal(action)
        wire = self._writer.control_bytes(opcode, payload)
        self._move(action)
        return wire

    # -------------------------------------------------------------------- state

    def _move(self, action: Input) -> None:
        """The one place the state changes, as the table in ``_state.py`` says.

        Callers have made sure *action* may happen now (sends ask ``next_state()``
        first; receiving stops at the peer's Close).
        """
        self._state = state = TRANSITIONS[self._state, action]
        self._receiving = state in RECEIVING
        self._may_send = state in MAY_SEND_MESSAGE

    def _refusal(self, action: Input) -> LocalProtocolError:
        return LocalProtocolError(f"cannot {action.value.replace('-', ' ')} in state {self._state.name}")


# What sending each control opcode is to the state table (custom ones: SEND_CONTROL).
_CONTROL_INPUTS = {CLOSE: Input.SEND_CLOSE, PING: Input.SEND_PING, PONG: Input.SEND_PONG}

"""The fuzz targets: each takes one input (bytes) and checks noio_ws's promises on it.

Rules of this module:
- A target returns normally when noio_ws behaved: it gave events, or refused
  the input with one of its own ``ProtocolError`` subclasses, with a close code
  or HTTP status that makes sense. Anything else escapes as an exception (a
  crash for the fuzzer): a foreign exception from the library, or a broken
  invariant (``AssertionError``).
- Inputs start with a small header that chooses the options and how the bytes
  are cut into chunks, so that one corpus explores every delivery mode:
  byte 0 holds flags, byte 1 seeds the chunking (0: one chunk), the rest is the
  wire. ``seeds.py`` writes inputs in this format from real traffic.
- Deterministic: the same input always takes the same path (no clock, no
  global random state), so a crash file reproduces with ``run.py --reproduce``.
- Memory: limits are small (``LIMIT`` = 64 KiB), the connection's buffers are
  checked against them after every step, and the traced peak of every input
  (deflate targets) or one in eight (the others) is held to ``MEMORY_BOUND``.
"""

# The targets assert on the exceptions they catch: they are not pytest tests.
# ruff: noqa: PT017

from __future__ import annotations

import random
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    ExtensionMessage,
    HandshakeError,
    LocalProtocolError,
    Ping,
    Pong,
    RemoteProtocolError,
    Role,
    Signal,
    State,
    TextMessage,
)
from noio_ws import _reader as reader_module
from noio_ws._codes import is_valid_close_code
from noio_ws._frame import serialize, serialize_python
from noio_ws._headers import (
    format_extension_list,
    parse_extension_list,
    parse_protocol_list,
    parse_token_list,
)
from noio_ws._reader import WAIT_WHOLE
from noio_ws._utf8 import ArrivingTextPython
from noio_ws.extensions import PerMessageDeflate, PerMessageDeflateFactory
from noio_ws.handshake import ServerHandshake

__all__ = [
    "LIMIT",
    "MEMORY_BOUND",
    "TARGETS",
    "Target",
    "chunks",
    "deflate_parameters",
    "factory_preferences",
]

#: max_message_size of every connection under test.
LIMIT = 64 << 10
#: max_frame_size, when flag FRAME_LIMIT is set.
FRAME_LIMIT = 4 << 10
#: The handshake's limits under test.
HEAD_LIMIT = 4 << 10
MAX_HEADERS = 32
#: Most bytes a target's run may have traced at its peak: a few messages at the
#: limit (the message buffer, its final copy, a str of up to 4 bytes per
#: character, inflation pieces and their join) plus the input itself.
MEMORY_BOUND = 12 * LIMIT

# Byte 0 of a frame input.
STREAM = 0x01  # stream_messages=True
LENIENT = 0x02  # validate_utf8=False
FRAME_LIMITED = 0x04  # max_frame_size=FRAME_LIMIT
CLOSE_FIRST = 0x08  # we send Close before receiving: LOCAL_CLOSING
EOF_AT_END = 0x10  # the transport ends after the wire
# Bits 5-7: which agreed permessage-deflate parameters (see deflate_parameters).

CLOSE_CODES_WE_FAIL_WITH = frozenset((1002, 1007, 1009))
#: Statuses a handshake refusal may carry (ours, and h11's hints).
HTTP_STATUSES = frozenset((400, 403, 405, 414, 426, 431, 501, 505))


#: Agreed permessage-deflate parameters (both sides of a frame target use the same).
_AGREED: list[dict[str, Any]] = [
    {},
    {"server_no_context_takeover": True, "client_no_context_takeover": True},
    {"server_max_window_bits": 9, "client_max_window_bits": 9},
    {"server_max_window_bits": 8, "client_max_window_bits": 8},
    {"client_no_context_takeover": True},
    {"server_no_context_takeover": True},
    {"server_max_window_bits": 12},
    {"client_max_window_bits": 10, "server_no_context_takeover": True},
]
#: A server's permessage-deflate preferences, for the handshake target.
_PREFERENCES: list[dict[str, Any]] = [
    {},
    {"server_no_context_takeover": True},
    {"client_no_context_takeover": True, "server_max_window_bits": 9},
    {"client_max_window_bits": 9},
    {"require_client_max_window_bits": True},
    {"server_max_window_bits": 12, "client_max_window_bits": 10},
    {"compression_threshold": 16},
    {"server_no_context_takeover": True, "require_client_max_window_bits": True},
]


def deflate_parameters(flags: int) -> dict[str, Any]:
    """The agreed permessage-deflate parameters flags bits 5-7 choose."""
    return _AGREED[flags >> 5 & 7]


def factory_preferences(flags: int) -> dict[str, Any]:
    """The server's permessage-deflate preferences flags bits 5-7 choose."""
    return _PREFERENCES[flags >> 5 & 7]


def chunks(wire: bytes, seed: int) -> Iterator[bytes]:
    """*wire* cut into pieces: whole for seed 0, else pseudo-random sizes (1 to 2*seed bytes)."""
    if seed == 0:
        if wire:
            yield wire
        return
    rng = random.Random(seed)
    position = 0
    while position < len(wire):
        size = rng.randint(1, 2 * seed)
        yield wire[position : position + size]
        position += size


# ------------------------------------------------------------------ frames


@dataclass
class Outcome:
    """What a connection made of a wire: events (streamed pieces joined) and the error code."""

    events: list[Event] = field(default_factory=list)
    error: int | None = None
    partial: list[str | bytes] = field(default_factory=list)
    partial_size: int = 0

    def add(self, event: Event, limit: int) -> None:
        """Record *event*, joining message pieces; check sizes against *limit*."""
        if isinstance(event, (TextMessage, BinaryMessage)):
            data = event.data
            # A character is at least one byte, so len() of text is at most its size.
            self.partial_size += len(data)
            assert self.partial_size <= limit, f"{self.partial_size}-byte message over the limit"
            self.partial.append(data)
            if event.final:
                if isinstance(event, TextMessage):
                    self.events.append(TextMessage("".join(str(piece) for piece in self.partial)))
                else:
                    self.events.append(
                        BinaryMessage(b"".join(piece for piece in self.partial if isinstance(piece, bytes)))
                    )
                self.partial.clear()
                self.partial_size = 0
        else:
            self.events.append(event)


def _check_event(conn: Connection, event: Event, before: State) -> None:
    """Checks on one event against the state the connection was in."""
    assert not isinstance(event, ExtensionMessage), event  # no custom opcode is claimed
    if isinstance(event, (Ping, Pong)):
        assert isinstance(event.payload, bytes)
        assert len(event.payload) <= 125
        assert conn.state is before
    elif isinstance(event, Close):
        code = event.code
        if code == 1006:
            assert conn.state is State.CLOSED
            return
        assert code == 1005 or is_valid_close_code(code), code
        assert len(event.reason) <= 123, event  # characters: lenient decoding may grow the bytes
        expected = State.REMOTE_CLOSING if before is State.OPEN else State.CLOSED
        assert conn.state is expected, (before, conn.state)
    else:
        assert isinstance(event, (TextMessage, BinaryMessage)), event
        assert isinstance(event.data, str if isinstance(event, TextMessage) else bytes)
        if not event.final:
            assert event.data, "an empty piece that is not the last"
        assert conn.state is before


def buffer_bound(*, extensions: bool, stream: bool) -> int:
    """Most bytes the receive buffer may hold when the connection answers NEED_DATA.

    With extensions, one frame waits whole (the limit, deflate's allowance, a
    14-byte header). Without, a partial header or a control frame (125 + 14), or
    a short data frame starting a message that waits to be whole when messages
    are delivered whole (``WAIT_WHOLE`` and its header).
    """
    if extensions:
        return LIMIT + (LIMIT >> 11) + 64 + 14
    return 125 + 14 if stream else WAIT_WHOLE + 14


def _pull(conn: Connection, outcome: Outcome, *, bound: int) -> bool:
    """Pull every event now available; False once the connection will give nothing more."""
    while True:
        before = conn.state
        try:
            event = conn.next_event()
        except RemoteProtocolError as exc:
            assert exc.close_code in CLOSE_CODES_WE_FAIL_WITH, exc.close_code
            assert before in (State.OPEN, State.LOCAL_CLOSING), before
            outcome.error = exc.close_code
            if before is State.OPEN:
                assert conn.state is State.FAILED
                # Raised again, the same, until our Close; then only our Close.
                try:
                    conn.next_event()
                except RemoteProtocolError as again:
                    assert again.close_code == exc.close_code
                else:
                    raise AssertionError("a failed connection gave an event") from None
                try:
                    conn.send(Ping())
                except LocalProtocolError:
                    pass
                else:
                    raise AssertionError("a failed connection sent a Ping") from None
                assert conn.send(Close(exc.close_code))
            assert conn.state is State.CLOSED, conn.state
            assert conn.next_event() is Signal.CLOSED
            return False
        if event is Signal.NEED_DATA:
            assert len(conn._reader.buf) <= bound, len(conn._reader.buf)
            assert conn.state in (State.OPEN, State.LOCAL_CLOSING)
            return True
        if event is Signal.CLOSED:
            assert conn.state in (State.CLOSED, State.REMOTE_CLOSING), conn.state
            assert conn.next_event() is Signal.CLOSED
            return False
        assert isinstance(event, Event)
        _check_event(conn, event, before)
        message = conn._assembler._buffer  # the message being assembled, with the room reserved for it
        if message is not None:
            assert len(message.getbuffer()) <= LIMIT
        outcome.add(event, LIMIT)


def _receive(
    role: Role, deflate: bool, flags: int, pieces: Iterator[bytes], *, stream: bool
) -> tuple[Outcome, Connection]:
    options = deflate_parameters(flags)
    extensions = [PerMessageDeflate(**options)] if deflate else []
    conn = Connection(
        role,
        extensions=extensions,
        max_message_size=LIMIT,
        max_frame_size=FRAME_LIMIT if flags & FRAME_LIMITED else None,
        stream_messages=stream,
        validate_utf8=not flags & LENIENT,
        mask_key_source=lambda: b"\x00\x00\x00\x00",
    )
    bound = buffer_bound(extensions=deflate, stream=stream)
    if flags & CLOSE_FIRST:
        conn.send(Close(1000))
    outcome = Outcome()
    going = True
    for piece in pieces:
        conn.receive_data(piece)
        going = _pull(conn, outcome, bound=bound)
        if not going:
            break
    if going and flags & EOF_AT_END:
        conn.receive_data(b"")
        assert not _pull(conn, outcome, bound=bound)
        assert isinstance(outcome.events[-1], Close) or outcome.error is not None
    return outcome, conn


def _comparable(outcome: Outcome) -> tuple[list[Event], int | None]:
    return outcome.events, outcome.error


def fuzz_frames(data: bytes, role: Role, deflate: bool) -> None:
    """The receive path: only RemoteProtocolError, bounded buffers, and the same
    outcome whatever the chunking and the delivery mode."""
    if len(data) < 2:
        return
    flags, seed, wire = data[0], data[1], data[2:]
    stream = bool(flags & STREAM)
    chunked, _ = _receive(role, deflate, flags, chunks(wire, seed), stream=stream)
    if reader_module.ArrivingText is not ArrivingTextPython:
        # The compiled pieces of the receive path against the pure-Python reference (issue 16).
        with mock.patch.object(reader_module, "ArrivingText", ArrivingTextPython):
            reference, _ = _receive(role, deflate, flags, chunks(wire, seed), stream=stream)
        assert _comparable(chunked) == _comparable(reference), (chunked, reference)
    if serialize is not serialize_python:
        # And of the send path: what was received, framed again both ways.
        for event in chunked.events:
            if isinstance(event, (TextMessage, BinaryMessage)):
                payload = event.data.encode() if isinstance(event.data, str) else event.data
                for key in (None, wire[-4:].rjust(4, b"\x00")):
                    assert serialize(flags, payload, key) == serialize_python(flags, payload, key)
    if seed or stream:
        # The reference: the whole wire at once, whole messages.
        whole, _ = _receive(role, deflate, flags, chunks(wire, 0), stream=False)
        assert _comparable(chunked) == _comparable(whole), (chunked, whole)


def frames_server(data: bytes) -> None:
    fuzz_frames(data, Role.SERVER, deflate=False)


def frames_client(data: bytes) -> None:
    fuzz_frames(data, Role.CLIENT, deflate=False)


def frames_deflate_server(data: bytes) -> None:
    fuzz_frames(data, Role.SERVER, deflate=True)


def frames_deflate_client(data: bytes) -> None:
    fuzz_frames(data, Role.CLIENT, deflate=True)


# ------------------------------------------------------------------ handshake


def handshake_server(data: bytes) -> None:
    """ServerHandshake.receive_data: a request or a HandshakeError, nothing else; then
    the handed-off connection parses what followed the request."""
    if len(data) < 2:
        return
    flags, seed, wire = data[0], data[1], data[2:]
    server = ServerHandshake(
        subprotocols=["chat", "superchat"],
        extensions=[PerMessageDeflateFactory(**factory_preferences(flags))],
        max_incomplete_event_size=HEAD_LIMIT,
        max_headers=MAX_HEADERS,
        max_message_size=LIMIT,
        stream_messages=bool(flags & STREAM),
    )
    request = None
    received = 0
    pieces = list(chunks(wire, seed))
    if flags & EOF_AT_END:
        pieces.append(b"")
    try:
        while pieces and request is None:
            piece = pieces.pop(0)
            received += len(piece)
            request = server.receive_data(piece)
    except HandshakeError as exc:
        assert exc.status_code in HTTP_STATUSES, exc.status_code
        assert server.request is None
        try:
            response = server.reject_error(exc)
        except LocalProtocolError:
            assert not received, "no answer for a client that sent something"
        else:
            assert response.startswith(f"HTTP/1.1 {exc.status_code} ".encode()), response[:40]
        return
    if request is None:
        return
    assert request.key
    assert isinstance(request.target, str)
    assert server.subprotocol in (None, *request.subprotocols)
    wire_101, conn = server.accept()
    assert wire_101.startswith(b"HTTP/1.1 101 "), wire_101[:40]
    outcome = Outcome()
    bound = buffer_bound(extensions=bool(conn.extensions), stream=bool(flags & STREAM))
    going = _pull(conn, outcome, bound=bound)
    for piece in pieces:  # what arrives after the handshake, EOF included
        if not going:
            break
        conn.receive_data(piece)
        going = _pull(conn, outcome, bound=bound)


# ------------------------------------------------------------------ headers


def extension_header(data: bytes) -> None:
    """The list parsers: a result or a HandshakeError; what parses re-formats and
    re-parses to itself; permessage-deflate judges any parsed offer or answer."""
    fields = data.split(b"\n")  # several header fields of the same name
    parsers: list[Callable[[list[bytes]], list[str]]] = [
        lambda values: parse_token_list(values, "Sec-WebSocket-Protocol"),
        lambda values: parse_protocol_list(values, "Upgrade"),
    ]
    for parse in parsers:
        try:
            tokens = parse(fields)
        except HandshakeError as exc:
            assert exc.status_code == 400
        else:
            assert all(token and token == token.strip() for token in tokens)
    try:
        entries = parse_extension_list(fields)
    except HandshakeError as exc:
        assert exc.status_code == 400
        return
    again = parse_extension_list([format_extension_list(entries)])
    assert again == entries, (entries, again)
    factory = PerMessageDeflateFactory()
    for name, params in entries:
        assert name
        accepted = factory.accept_offer(params)
        if accepted is not None:
            answer, extension = accepted
            # Our own answer must be acceptable to a client that made this offer.
            assert isinstance(extension, PerMessageDeflate)
            assert parse_extension_list([format_extension_list([(name, answer)])]) == [(name, answer)]
        try:
            factory.accept_response(params)
        except HandshakeError as exc:
            assert exc.status_code == 400


# ------------------------------------------------------------------ registry


@dataclass(frozen=True)
class Target:
    """A fuzz target and how it is run."""

    name: str
    run: Callable[[bytes], None]
    #: Largest input worth trying (libFuzzer's -max_len).
    max_len: int
    #: Hold one input in this many to MEMORY_BOUND under tracemalloc (which
    #: slows a run about fivefold); 0 never. Chosen by the input's CRC, so a
    #: crash reproduces.
    memory_every: int = 1

    def __call__(self, data: bytes) -> None:
        if not self.memory_every or zlib.crc32(data) % self.memory_every:
            self.run(data)
            return
        tracemalloc.start()
        try:
            self.run(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak <= MEMORY_BOUND + 4 * len(data), f"traced peak {peak} bytes"


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        # Without inflation, memory is bounded by the input: check it now and then.
        Target("frames_server", frames_server, 1 << 14, memory_every=8),
        Target("frames_client", frames_client, 1 << 14, memory_every=8),
        # Inflation is where a bomb would blow up: check every input.
        Target("frames_deflate_server", frames_deflate_server, 1 << 14),
        Target("frames_deflate_client", frames_deflate_client, 1 << 14),
        Target("handshake_server", handshake_server, 1 << 14, memory_every=8),
        Target("extension_header", extension_header, 1 << 14, memory_every=0),
    )
}

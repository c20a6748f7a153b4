"""The resource bounds of docs/limits.rst, checked with tracemalloc.

Each bound is a formula of the limits (``M`` = max_message_size, ``R`` = the
size of the chunks given to ``receive_data``, ``E`` = max_incomplete_event_size,
``B`` = max_body_size); the functions below are those formulas, and each test
feeds the worst cases we know of and asserts the traced peak stays under them.
The peak includes the event handed back (the message itself), since the
caller holds it at that moment anyway.
"""

from __future__ import annotations

import os
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from noio_ws import (
    BinaryMessage,
    Connection,
    Message,
    RemoteProtocolError,
    Role,
    TextMessage,
)
from noio_ws.extensions import Frame, PerMessageDeflate
from noio_ws.handshake import (
    DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
    ClientHandshake,
    HandshakeError,
    Rejected,
    ServerHandshake,
)
from noio_ws.testing import FIXED_MASK, fixed_mask_key, raw_frame

KiB = 1 << 10
M = 256 * KiB  # max_message_size under test
R = 16 * KiB  # chunk size given to receive_data
#: What a connection costs before any message: objects, and zlib's state with
#: permessage-deflate (a compressor is made only when sending; the decompressor
#: holds a 32 KiB window plus about 7 KiB).
FIXED = 64 * KiB
FIXED_DEFLATE = 128 * KiB


# ------------------------------------------------------------------ the formulas of docs/limits.rst


def bound_whole(text: bool, m: int = M, r: int = R) -> int:
    """No extension, whole messages: the message buffer (up to 1/8 over when fragments
    outgrow what was reserved), which becomes the event's bytes; for text, the str
    decoded from it (up to 4 bytes per character: 4 M) and the decoder's working copy;
    and three chunks."""
    return int((6.25 if text else 1.125) * m) + 3 * r + FIXED


def bound_stream(text: bool, r: int = R) -> int:
    """No extension, streaming: nothing per message; a chunk, its copies, and its piece."""
    return (8 if text else 4) * r + FIXED


def bound_deflate(text: bool, m: int = M, r: int = R) -> int:
    """permessage-deflate, either mode: one whole compressed frame (at most M plus 1/2048),
    its unmasked copy, its inflation (at most the budget plus a 64 KiB piece) and their
    join, the message buffer, the final bytes or str, three chunks."""
    return int((6.5 if text else 3.5) * m) + 3 * r + FIXED_DEFLATE


# ------------------------------------------------------------------ feeding


Seen = tuple[str, int, bool]  # an event's class name, its data's length, whether final


def peak_of(conn: Connection, wire: bytes, r: int = R) -> tuple[int, list[Seen], int | None]:
    """Feed *wire* in *r*-byte chunks, pulling events; the traced peak, what the final
    events were (each dropped once seen, pieces only counted) and the close code of a failure."""
    chunks = [wire[start : start + r] for start in range(0, len(wire), r)]
    events: list[Seen] = []
    code = None
    tracemalloc.start()
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            for event in conn.events():
                assert isinstance(event, Message)
                if event.final:
                    events.append((type(event).__name__, len(event.data), event.final))
                del event
    except RemoteProtocolError as exc:
        code = exc.close_code
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, events, code


WORST_TEXT = "𝄞" + "a" * (M - 4)  # M bytes of UTF-8, 4 bytes per character as a str


def messages(text: bool) -> Iterator[tuple[str, TextMessage | BinaryMessage]]:
    if text:
        yield "ascii", TextMessage("a" * M)
        yield "worst", TextMessage(WORST_TEXT)
    else:
        yield "zeros", BinaryMessage(bytes(M))
        yield "random", BinaryMessage(os.urandom(M))


def wires(message: TextMessage | BinaryMessage, deflate: bool) -> Iterator[tuple[str, bytes]]:
    """The same message as one frame, in 64 KiB frames, in 100-byte frames (and a 3-byte cut
    for text, splitting characters), from a client."""
    data = message.data
    kind = type(message)
    for name, step in (("one frame", len(data) or 1), ("64 KiB frames", 64 * KiB), ("100-byte frames", 100)):
        sender = Connection(
            Role.CLIENT,
            extensions=[PerMessageDeflate()] if deflate else [],
            mask_key_source=fixed_mask_key(),
        )
        pieces = [data[start : start + step] for start in range(0, len(data), step)]
        yield (
            name,
            b"".join(
                sender.send(kind(piece, index == len(pieces) - 1))  # type: ignore[arg-type]
                for index, piece in enumerate(pieces)
            ),
        )


def receiver(deflate: bool, stream: bool, limit: int | None = M) -> Connection:
    return Connection(
        Role.SERVER,
        extensions=[PerMessageDeflate()] if deflate else [],
        max_message_size=limit,
        stream_messages=stream,
    )


# ------------------------------------------------------------------ max_message_size


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_message_within_the_limit_without_extensions(text: bool, stream: bool) -> None:
    bound = bound_stream(text) if stream else bound_whole(text)
    for name, message in messages(text):
        for how, wire in wires(message, deflate=False):
            peak, events, code = peak_of(receiver(False, stream), wire)
            assert code is None
            assert events[-1][2]
            assert peak < bound, f"{name}, {how}: {peak} > {bound}"


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_message_within_the_limit_with_deflate(text: bool, stream: bool) -> None:
    bound = bound_deflate(text)
    for name, message in messages(text):
        for how, wire in wires(message, deflate=True):
            peak, events, code = peak_of(receiver(True, stream), wire)
            assert code is None
            assert events[-1][2]
            assert peak < bound, f"{name}, {how}: {peak} > {bound}"


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_message_over_the_limit(deflate: bool, stream: bool) -> None:
    """Four times the limit, as one frame and in 64 KiB frames: 1009, within the same bound."""
    for how, wire in wires(BinaryMessage(os.urandom(4 * M)), deflate=deflate):
        if how == "100-byte frames":
            continue  # slow, and no different
        peak, _, code = peak_of(receiver(deflate, stream), wire)
        assert code == 1009, how
        bound = bound_deflate(False) if deflate else bound_stream(False) if stream else bound_whole(False)
        assert peak < bound, f"{how}: {peak} > {bound}"


# ------------------------------------------------------------------ inflation


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """64 MiB of zeros, compressed (about 64 KiB)."""
    return deflated(bytes(64 << 20))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("step", [1 << 20, 4 * KiB, 64], ids=["one frame", "4 KiB frames", "64-byte frames"])
def test_bomb(bomb: bytes, stream: bool, step: int) -> None:
    """A small frame that inflates past the limit fails with 1009 having inflated at most the
    budget: memory is bounded by M, not by what the bytes would inflate to."""
    wire = b""
    for start in range(0, len(bomb), step):
        first = (0x42 if start == 0 else 0x00) | (0x80 if start + step >= len(bomb) else 0)
        wire += raw_frame(first, bomb[start : start + step], mask=FIXED_MASK)
    peak, _, code = peak_of(receiver(True, stream), wire)
    assert code == 1009
    assert peak < bound_deflate(False), peak


def test_a_small_frame_then_one_that_inflates_to_the_rest() -> None:
    """The budget of a continuation frame is what the message has left: the limit holds across frames."""
    message = b"x" * 100 + bytes(M - 100)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(message[:100]) + compressor.flush(zlib.Z_SYNC_FLUSH)
    rest = (compressor.compress(message[100:]) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    wire = raw_frame(0x42, first, mask=FIXED_MASK) + raw_frame(0x80, rest, mask=FIXED_MASK)
    peak, events, code = peak_of(receiver(True, False), wire)
    assert code is None
    assert events == [("BinaryMessage", M, True)]
    assert peak < bound_deflate(False), peak
    over = raw_frame(0x42, first, mask=FIXED_MASK) + raw_frame(0x80, deflated(bytes(M)), mask=FIXED_MASK)
    assert peak_of(receiver(True, False), over)[2] == 1009


@pytest.mark.parametrize("budget", [0, 1, 64 * KiB - 1, 64 * KiB, M])
def test_inflation_holds_at_most_the_budget_and_a_piece(bomb: bytes, budget: int) -> None:
    """PerMessageDeflate.decode: the pieces it inflates (at most budget + 64 KiB) and their join."""
    extension = PerMessageDeflate()
    extension.bind(Role.SERVER)
    tracemalloc.start()
    try:
        with pytest.raises(RemoteProtocolError) as info:
            extension.decode(Frame(2, bomb, True, 0x40), max_size=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.close_code == 1009
    assert peak < 2 * (budget + 64 * KiB) + FIXED_DEFLATE, peak


# ------------------------------------------------------------------ max_frame_size


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflate"])
def test_max_frame_size_bounds_what_waits_for_a_frame(deflate: bool) -> None:
    """With extensions a frame is buffered whole before decoding: max_frame_size bounds that
    buffer even without a message limit. A frame over it is refused from its header."""
    limit = 32 * KiB
    conn = Connection(
        Role.SERVER,
        extensions=[PerMessageDeflate()] if deflate else [],
        max_message_size=None,
        max_frame_size=limit,
    )
    sender = Connection(Role.CLIENT, mask_key_source=fixed_mask_key())
    fits = sender.send(BinaryMessage(os.urandom(limit), final=False))
    over = sender.send(BinaryMessage(os.urandom(limit + 1)))
    peak, events, code = peak_of(conn, fits + over, r=4 * KiB)
    assert code == 1009
    assert events == []  # the first frame alone never completes the message
    assert peak < 4 * limit + FIXED_DEFLATE, peak


# ------------------------------------------------------------------ the handshake


@pytest.mark.parametrize("limit", [4 * KiB, DEFAULT_MAX_INCOMPLETE_EVENT_SIZE])
def test_incomplete_head_holds_at_most_the_limit(limit: int) -> None:
    """max_incomplete_event_size (E): a head that never ends is a 431 once E is buffered;
    fed in R-byte chunks, the peak is E plus a few chunks."""
    server = ServerHandshake(max_incomplete_event_size=limit)
    wire = b"GET / HTTP/1.1\r\nX-Endless: " + b"x" * (8 * limit)
    chunks = [wire[start : start + R] for start in range(0, len(wire), R)]
    errors: list[HandshakeError] = []
    tracemalloc.start()
    try:
        for chunk in chunks:
            server.receive_data(chunk)
    except HandshakeError as exc:
        errors.append(exc)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert errors[0].status_code == 431
    assert peak < limit + 4 * R + FIXED, peak


def test_max_headers() -> None:
    """max_headers: the 129th field is a 431, however small the head."""
    fields = b"".join(b"A%d: b\r\n" % i for i in range(129))
    head = (
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    )
    with pytest.raises(HandshakeError) as info:
        ServerHandshake(max_headers=128 + 5).receive_data(head + fields + b"\r\n")
    assert info.value.status_code == 431
    assert ServerHandshake(max_headers=129 + 5).receive_data(head + fields + b"\r\n") is not None


@pytest.mark.parametrize("body_limit", [0, 1000, 256 * KiB])
def test_a_rejection_body_is_kept_up_to_max_body_size(body_limit: int) -> None:
    """max_body_size (B): a client keeps at most B bytes of a rejection's body, however
    long it is; the peak is B plus a few chunks."""
    client = ClientHandshake("example.com", "/", max_body_size=body_limit)
    client.send()
    size = 4 << 20
    head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n" % size
    body = os.urandom(R)
    results: list[object] = []
    tracemalloc.start()
    try:
        result = client.receive_data(head)
        sent = 0
        while result is None and sent < size:
            result = client.receive_data(body)
            sent += len(body)
        results.append(result)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rejected = results[0]
    assert isinstance(rejected, Rejected)
    assert rejected.status_code == 403
    assert len(rejected.body) == body_limit
    assert peak < 2 * body_limit + 4 * R + FIXED, peak

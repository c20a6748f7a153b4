"""The public test kit ``noio_ws.testing``: the pair and its links, hostile frames, clock, masks, feeding."""

from __future__ import annotations

import ast
import inspect
import math
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import noio_ws.testing
from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Deadlines,
    EncodedTextMessage,
    Event,
    Expired,
    ExtensionMessage,
    Ping,
    Pong,
    RemoteProtocolError,
    Role,
    Signal,
    State,
    TextMessage,
)
from noio_ws.extensions import PerMessageDeflate, PerMessageDeflateFactory
from noio_ws.handshake import ClientHandshake, HandshakeError, ServerHandshake
from noio_ws.testing import (
    FIXED_MASK,
    ConnectedPair,
    FakeClock,
    MaskKeys,
    connected_pair,
    every_chunking,
    feed_chunks,
    feed_every_chunking,
    fixed_mask_key,
    handshake_pair,
    hostile,
    merge_pieces,
    raw_frame,
)

# ------------------------------------------------------------------ the pair


def test_a_handshake_then_messages_both_ways() -> None:
    pair = connected_pair()
    assert pair.request is not None
    assert (pair.request.host, pair.request.target) == ("example.com", "/")
    assert pair.accepted is not None
    assert pair.accepted.response.status_code == 101
    assert pair.subprotocol is None
    assert (pair.client.state, pair.server.state) == (State.OPEN, State.OPEN)
    pair.client.send(TextMessage("hello"))
    pair.to_server.deliver()
    assert pair.server.events() == [TextMessage("hello")]
    pair.server.send(BinaryMessage(b"back"))
    pair.to_client.deliver()
    assert pair.client.events() == [BinaryMessage(b"back")]


def test_nothing_moves_until_delivered() -> None:
    pair = connected_pair()
    wire = pair.client.send(TextMessage("held"))
    assert pair.to_server.in_flight == wire
    assert pair.server.events() == []
    assert pair.server.next_event() is Signal.NEED_DATA
    assert pair.to_server.deliver() == len(wire)
    assert pair.to_server.in_flight == b""
    assert pair.server.events() == [TextMessage("held")]
    assert pair.to_server.deliver() == 0


def test_deliver_cut_at_an_offset_keeps_the_rest_in_flight() -> None:
    pair = connected_pair()
    wire = pair.client.send(TextMessage("first")) + pair.client.send(TextMessage("second"))
    cut = len(wire) - 3
    assert pair.to_server.deliver(max_bytes=cut) == cut
    assert pair.to_server.in_flight == wire[cut:]
    assert pair.server.events() == [TextMessage("first")]
    assert pair.to_server.deliver(max_bytes=100) == 3
    assert pair.server.events() == [TextMessage("second")]


def test_deliver_byte_by_byte() -> None:
    pair = connected_pair()
    pair.client.send(TextMessage("é€"))
    pair.client.send(Ping(b"p"))
    pair.to_server.deliver(chunk_size=1)  # many receive_data() calls, then the events
    assert pair.server.events() == [TextMessage("é€"), Ping(b"p")]


def test_reading_events_after_each_byte() -> None:
    pair = connected_pair(stream_messages=True)
    wire = pair.client.send(TextMessage("é€"))
    events: list[Event] = []
    for _ in range(len(wire)):
        assert pair.to_server.deliver(max_bytes=1) == 1
        events += pair.server.events()
    assert pair.to_server.in_flight == b""
    assert events == [  # a piece as soon as a character is whole
        TextMessage("é", final=False),
        TextMessage("€", final=True),
    ]


def test_chunks_of_a_size_are_separate_receive_data_calls() -> None:
    received: list[bytes] = []

    class Recording(Connection):
        def receive_data(self, data: bytes | bytearray | memoryview) -> None:
            received.append(bytes(data))
            super().receive_data(data)

    pair = ConnectedPair(Connection(Role.CLIENT), Recording(Role.SERVER))
    wire = pair.client.send(BinaryMessage(b"0123456789"))
    pair.to_server.deliver(chunk_size=4)
    assert received == [wire[i : i + 4] for i in range(0, len(wire), 4)]
    pair.to_server.close()
    pair.to_server.deliver(chunk_size=4)
    assert received[-1] == b""  # the EOF


def test_dropped_bytes_never_arrive() -> None:
    pair = connected_pair()
    lost = pair.client.send(TextMessage("lost"))
    assert pair.to_server.drop() == lost
    assert pair.to_server.in_flight == b""
    pair.client.send(TextMessage("kept"))
    pair.to_server.deliver()
    assert pair.server.events() == [TextMessage("kept")]


def test_close_delivers_eof_after_the_bytes_in_flight() -> None:
    pair = connected_pair()
    pair.client.send(TextMessage("last words"))
    pair.to_server.close()
    pair.to_server.close()  # harmless
    assert pair.to_server.closed
    assert "then EOF" in repr(pair.to_server)
    with pytest.raises(RuntimeError, match="closed link"):
        pair.client.send(TextMessage("too late"))
    pair.to_server.deliver(max_bytes=2)
    assert pair.server.events() == []  # EOF waits behind the rest
    pair.to_server.deliver()
    message, eof = pair.server.events()
    assert message == TextMessage("last words")
    assert isinstance(eof, Close)
    assert eof.code == 1006
    assert pair.server.next_event() is Signal.CLOSED
    assert pair.server.state is State.CLOSED
    pair.to_server.deliver()  # the EOF is delivered once
    assert "then EOF" not in repr(pair.to_server)


def test_a_close_handshake_through_the_pair() -> None:
    pair = connected_pair()
    pair.client.send(Close(1000, "bye"))
    pair.to_server.deliver()
    [close] = pair.server.events()
    assert close == Close(1000, "bye")
    assert isinstance(close, Close)
    pair.server.send(close.response())
    pair.to_client.close()  # a server closes the TCP connection after its Close
    pair.to_client.deliver()
    assert pair.client.events() == [Close(1000)]
    assert (pair.client.state, pair.server.state) == (State.CLOSED, State.CLOSED)


def test_events_raise_and_events_and_error_keep_what_came_before() -> None:
    pair = connected_pair()
    pair.client.send(TextMessage("fine"))
    pair.to_server.write(hostile.invalid_utf8_text(to=Role.SERVER).wire)
    pair.to_server.deliver()
    events, error = pair.server.events_and_error()
    assert events == [TextMessage("fine")]
    assert error is not None
    assert error.close_code == 1007
    with pytest.raises(RemoteProtocolError):  # the connection has failed: it says so again
        pair.server.events()
    assert pair.server.state is State.FAILED


@pytest.mark.parametrize("deflate", [False, True])
@pytest.mark.parametrize("handshake", [False, True])
def test_deflate_with_and_without_the_handshake(deflate: bool, handshake: bool) -> None:
    pair = connected_pair(deflate=deflate, handshake=handshake)
    for side in (pair.client, pair.server):
        extensions = side.connection.extensions
        assert [type(e) for e in extensions] == ([PerMessageDeflate] if deflate else [])
    wire = pair.client.send(TextMessage("a" * 100))
    assert bool(wire[0] & 0x40) is deflate
    pair.to_server.deliver()
    assert pair.server.events() == [TextMessage("a" * 100)]
    assert (pair.request is not None, pair.accepted is not None) == (handshake, handshake)


def test_subprotocols_and_options() -> None:
    pair = connected_pair(subprotocols=["chat", "superchat"], max_message_size=4)
    assert pair.subprotocol == "chat"
    assert pair.request is not None
    assert pair.request.subprotocols == ["chat", "superchat"]
    pair.client.send(TextMessage("too long"))
    pair.to_server.deliver()
    assert pair.server.events_and_error().close_code == 1009
    with pytest.raises(ValueError, match="handshake"):
        connected_pair(handshake=False, subprotocols=["chat"])


def test_the_client_masks_the_same_way_on_every_run() -> None:
    first = connected_pair().client.send(TextMessage("same"))
    assert first == connected_pair(handshake=False).client.send(TextMessage("same"))
    fixed = connected_pair(mask_key_source=fixed_mask_key()).client.send(TextMessage("same"))
    assert fixed == raw_frame(0x81, b"same", mask=FIXED_MASK)


def test_handshake_pair_with_drivers_of_your_own() -> None:
    client = ClientHandshake(
        "chat.example",
        "/room/1",
        subprotocols=["v1", "v2"],
        extensions=[PerMessageDeflateFactory(client_max_window_bits=10)],
    )
    server = ServerHandshake(subprotocols=["v2"], extensions=[PerMessageDeflateFactory()])
    pair = handshake_pair(client, server)
    assert pair.subprotocol == "v2"
    assert pair.request is not None
    assert pair.request.target == "/room/1"
    [extension] = pair.client.connection.extensions
    assert isinstance(extension, PerMessageDeflate)
    assert extension.client_max_window_bits == 10
    refusing = ServerHandshake(origins=["https://chat.example"])
    with pytest.raises(HandshakeError) as info:
        handshake_pair(ClientHandshake("chat.example", "/"), refusing)
    assert info.value.status_code == 403


def test_pair_arguments_and_reprs() -> None:
    with pytest.raises(ValueError, match="a client and a server"):
        ConnectedPair(Connection(Role.SERVER), Connection(Role.CLIENT))
    pair = connected_pair()
    pair.client.send(Ping())
    assert repr(pair) == (
        "<ConnectedPair <Peer client open> <Link to the server: 6 bytes in flight>"
        " <Peer server open> <Link to the client: 0 bytes in flight>>"
    )
    assert pair.client.outgoing is pair.to_server
    assert pair.server.outgoing is pair.to_client
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_bytes"):
            pair.to_server.deliver(max_bytes=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="chunk_size"):
            pair.to_server.deliver(chunk_size=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        pair.to_server.deliver(chunk_size=0)
    assert pair.to_server.deliver(max_bytes=0) == 0
    assert len(pair.to_server.in_flight) == 6


# ------------------------------------------------------------------ hostile frames

BUILDERS = {name: getattr(hostile, name) for name in hostile.__all__ if name[0].islower()}
del BUILDERS["every_hostile_frame"]


def hostile_cases() -> Iterator[object]:
    for role in Role:
        for frame in hostile.every_hostile_frame(to=role):
            yield pytest.param(role, frame, id=f"{frame.name}-to-{role.value}")


@pytest.mark.parametrize(("role", "frame"), list(hostile_cases()))
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_each_hostile_frame_gets_its_documented_close_code(
    role: Role, frame: hostile.HostileFrame, stream: bool
) -> None:
    """The code a builder documents is the code a real Connection answers with, however cut."""
    builder = BUILDERS[frame.name]
    documented = re.findall(r"\*\*(\d{4})\*\*", inspect.getdoc(builder) or "")
    assert documented == [str(frame.close_code)], frame.name
    outcome = feed_every_chunking(lambda: Connection(role, stream_messages=stream), frame.wire)
    assert outcome.close_code == frame.close_code, frame.violation
    if frame.name == "data_frame_inside_fragmented_message":
        assert merge_pieces(outcome.events) == ([TextMessage("first", final=False)] if stream else [])
    else:
        assert outcome.events == []
    # Masked as the receiver expects, unless the masking is the violation.
    masked = bool(frame.wire[1] & 0x80)
    assert masked is ((role is Role.SERVER) != (frame.name == "wrong_masking"))


def test_every_builder_is_in_the_catalogue() -> None:
    names = [frame.name for frame in hostile.every_hostile_frame(to=Role.SERVER)]
    assert sorted(names) == sorted(BUILDERS)


def test_hostile_builders_with_arguments() -> None:
    with_deflate = Connection(Role.CLIENT, extensions=[PerMessageDeflate()])
    assert (
        feed_chunks(with_deflate, [hostile.reserved_bits(to=Role.CLIENT, rsv=0x20).wire]).close_code == 1002
    )
    assert (
        feed_chunks(
            Connection(Role.SERVER), [hostile.bad_close_code(to=Role.SERVER, code=1005).wire]
        ).close_code
        == 1002
    )
    assert (
        feed_chunks(
            Connection(Role.SERVER), [hostile.reserved_opcode(to=Role.SERVER, opcode=0xF).wire]
        ).close_code
        == 1002
    )
    over = hostile.oversized_length(to=Role.SERVER, length=100_000)
    assert feed_chunks(Connection(Role.SERVER, max_message_size=99_999), [over.wire]).close_code == 1009
    assert feed_chunks(Connection(Role.SERVER, max_message_size=None), [over.wire]) == ([], None)
    lenient = Connection(Role.SERVER, validate_utf8=False)
    assert feed_chunks(lenient, [hostile.invalid_utf8_text(to=Role.SERVER).wire]) == (
        [TextMessage("\ufffd(")],
        None,
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: hostile.reserved_bits(to=Role.SERVER, rsv=0), "rsv"),
        (lambda: hostile.reserved_bits(to=Role.SERVER, rsv=0x80), "rsv"),
        (lambda: hostile.bad_close_code(to=Role.SERVER, code=1000), "code"),
        (lambda: hostile.bad_close_code(to=Role.SERVER, code=1 << 16), "code"),
        (lambda: hostile.reserved_opcode(to=Role.SERVER, opcode=0x1), "opcode"),
        (lambda: hostile.oversized_length(to=Role.SERVER, length=1 << 63), "length"),
        (lambda: hostile.oversized_length(to=Role.SERVER, length=125), "length"),
    ],
)
def test_hostile_builders_refuse_arguments_that_are_not_hostile(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_hostile_builders_need_a_role() -> None:
    for name, builder in BUILDERS.items():
        with pytest.raises(TypeError, match="Role"):
            builder(to="server")
        assert builder.__name__ == name


def test_a_hostile_client_through_the_pair() -> None:
    """What an application does with a hostile peer: fail with the code, and the peer hears it."""
    pair = connected_pair()
    frame = hostile.one_byte_close(to=Role.SERVER)
    pair.client.outgoing.write(frame.wire)
    pair.to_server.deliver()
    _, error = pair.server.events_and_error()
    assert error is not None
    pair.server.send(Close(error.close_code))
    pair.to_client.deliver()
    assert pair.client.events() == [Close(frame.close_code)]


# ------------------------------------------------------------------ raw frames and feeding


@pytest.mark.parametrize("size", [0, 125, 126, 0xFFFF, 0x10000])
def test_raw_frame_lengths_round_trip(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    plain = raw_frame(0x82, payload)
    assert plain[1] == min(size, 126 + (size > 0xFFFF))
    assert feed_chunks(Connection(Role.CLIENT, max_message_size=None), [plain]) == (
        [BinaryMessage(payload)],
        None,
    )
    masked = raw_frame(0x82, payload, mask=FIXED_MASK)
    assert masked[1] & 0x80
    assert feed_chunks(Connection(Role.SERVER, max_message_size=None), [masked]) == (
        [BinaryMessage(payload)],
        None,
    )
    assert raw_frame(0x81, b"hi", length=b"\x05") == b"\x81\x05hi"  # a header that promises more


def test_feed_chunks_stops_at_the_error() -> None:
    server = Connection(Role.SERVER)
    good = raw_frame(0x81, b"ok", mask=FIXED_MASK)
    bad = hostile.continuation_without_start(to=Role.SERVER).wire
    outcome = feed_chunks(server, [good + bad, b"never fed"])
    assert outcome.events == [TextMessage("ok")]
    assert outcome.close_code == 1002
    assert feed_chunks(Connection(Role.SERVER), [good]).close_code is None
    events, error = feed_chunks(Connection(Role.SERVER), [good, b""])  # b"": the end of the transport
    assert error is None
    assert [type(event) for event in events] == [TextMessage, Close]


def test_every_chunking() -> None:
    chunkings = dict(every_chunking(b"abcd"))
    assert chunkings == {
        "whole": [b"abcd"],
        "byte by byte": [b"a", b"b", b"c", b"d"],
        "cut at 1": [b"a", b"bcd"],
        "cut at 2": [b"ab", b"cd"],
        "cut at 3": [b"abc", b"d"],
    }


def test_merge_pieces() -> None:
    events: list[Event] = [
        TextMessage("a", final=False),
        Ping(b"1"),
        TextMessage("b"),
        BinaryMessage(b"x", final=False),
        BinaryMessage(b"y"),
        ExtensionMessage(3, b"e", final=False),
        ExtensionMessage(3, b"f"),
        Pong(),
        BinaryMessage(b"cut", final=False),
    ]
    assert merge_pieces(events) == [
        Ping(b"1"),
        TextMessage("ab"),
        BinaryMessage(b"xy"),
        ExtensionMessage(3, b"ef"),
        Pong(),
        BinaryMessage(b"cut", final=False),
    ]
    with pytest.raises(ValueError, match="one kind"):
        merge_pieces([TextMessage("a", final=False), BinaryMessage(b"b")])
    with pytest.raises(ValueError, match="one kind"):
        merge_pieces([ExtensionMessage(3, b"a", final=False), ExtensionMessage(4, b"b")])


def test_feed_every_chunking_names_the_chunking_that_disagrees() -> None:
    wire = raw_frame(0x81, b"ab\xff", mask=FIXED_MASK)
    made: list[Connection] = []

    def lenient_first() -> Connection:  # the whole delivery is judged differently from the others
        made.append(Connection(Role.SERVER, validate_utf8=not made))
        return made[-1]

    with pytest.raises(AssertionError, match=r"^whole: events"):
        feed_every_chunking(lenient_first, wire)

    def limit_after_whole() -> Connection:  # made for the outcome, then for "whole", then the others
        made.append(Connection(Role.SERVER, max_message_size=1 if len(made) > 1 else None))
        return made[-1]

    made.clear()
    ok = raw_frame(0x82, b"", mask=FIXED_MASK)
    assert feed_every_chunking(limit_after_whole, ok) == ([BinaryMessage(b"")], None)
    made.clear()
    # Over the limit is decided from the header, before the UTF-8: 1009, not 1007.
    invalid = hostile.invalid_utf8_text(to=Role.SERVER).wire
    with pytest.raises(AssertionError, match=r"^byte by byte: close code 1009, whole: 1007"):
        feed_every_chunking(limit_after_whole, invalid)


# ------------------------------------------------------------------ clock and mask keys


def test_fake_clock() -> None:
    clock = FakeClock()
    assert clock() == 0.0
    assert clock.advance(2.5) == 2.5
    assert clock.advance(0) == 2.5
    assert clock.advance_to(10) == 10
    assert clock() == 10
    assert repr(clock) == "FakeClock(10)"
    assert FakeClock(100.0)() == 100.0
    for bad in (-1, math.nan, math.inf, True, "1"):
        with pytest.raises(ValueError, match=r"backwards|finite"):
            clock.advance(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(9.5)
    with pytest.raises(ValueError, match="finite"):
        FakeClock(math.nan)
    assert clock() == 10  # the refusals changed nothing


def test_mask_keys() -> None:
    assert [fixed_mask_key()() for _ in range(3)] == [FIXED_MASK] * 3
    zeros = Connection(Role.CLIENT, mask_key_source=fixed_mask_key(bytes(4)))
    assert zeros.send(TextMessage("plain")) == b"\x81\x85" + bytes(4) + b"plain"
    for bad in (b"abc", b"abcde", "abcd"):
        with pytest.raises(ValueError, match="4 bytes"):
            fixed_mask_key(bad)  # type: ignore[arg-type]
    keys = MaskKeys(7)
    drawn = [keys() for _ in range(50)]
    assert all(len(key) == 4 for key in drawn)
    assert len(set(drawn)) > 45  # varied
    again = MaskKeys(7)
    assert [again() for _ in range(50)] == drawn
    other = MaskKeys(8)
    assert [other() for _ in range(50)] != drawn


# ------------------------------------------------------------------ what the kit imports

KIT = Path(noio_ws.testing.__file__).parent


def test_the_kit_imports_only_the_standard_library_noio_ws_and_h11() -> None:
    """Statically, every import in the package; and at run time, what importing it loads."""
    for path in KIT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").partition(".")[0]}
            else:
                continue
            assert roots <= set(sys.stdlib_module_names) | {"noio_ws", "h11", "typing_extensions"}, path
            if "typing_extensions" in roots:  # for the type checker only
                assert "if TYPE_CHECKING:" in path.read_text(encoding="utf-8"), path
    probe = (
        "import sys; before = set(sys.modules); import noio_ws.testing; "
        "print(' '.join(sorted({m.partition('.')[0] for m in set(sys.modules) - before})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    foreign = set(loaded.stdout.split()) - set(sys.stdlib_module_names) - {"noio_ws", "h11"}
    assert not foreign, foreign


def test_import_noio_ws_does_not_import_the_kit() -> None:
    probe = "import sys, noio_ws; print('noio_ws.testing' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.strip() == "False"
    assert "testing" not in noio_ws.__all__


def test_the_docs_table_gives_each_builder_its_code() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "testing.rst").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^   \* - ``(\w+)\(.*?\)``\n     - (\d{4})$", page, re.MULTILINE))
    assert rows == {
        frame.name: str(frame.close_code) for frame in hostile.every_hostile_frame(to=Role.CLIENT)
    }


# ------------------------------------------------------------------ driving Deadlines


def test_fake_clock_drives_deadlines_through_a_pair() -> None:
    """Keepalive over the pair: answered once, then the client goes silent."""
    clock = FakeClock(1000.0)
    pair = connected_pair()
    deadlines = Deadlines(
        pair.server.connection, now=clock(), ping_interval=20, ping_timeout=10, close_timeout=5
    )

    def next_deadline() -> float:
        assert deadlines.deadline is not None
        return deadlines.deadline

    clock.advance(19.5)
    assert deadlines.expire(clock()) == b""  # not yet: nothing to send
    clock.advance_to(next_deadline())
    assert clock() == 1020.0
    ping_wire = deadlines.expire(clock())
    assert isinstance(ping_wire, bytes)
    pair.to_client.write(ping_wire)
    pair.to_client.deliver()
    [ping] = pair.client.events()
    assert isinstance(ping, Ping)

    clock.advance(0.25)  # the Pong takes a quarter of a second
    pair.client.send(ping.response())
    pair.to_server.deliver()
    deadlines.data_received(clock())
    for event in pair.server.events():
        deadlines.event_received(event, clock())
    assert deadlines.latency == 0.25
    assert not deadlines.ping_in_flight

    clock.advance_to(next_deadline())  # 20 s after the Pong: the next Ping
    assert clock() == 1040.25
    second_ping = deadlines.expire(clock())
    assert isinstance(second_ping, bytes)
    pair.to_client.write(second_ping)
    pair.to_client.drop()  # lost on the way: the client never sees it
    clock.advance_to(next_deadline())
    assert deadlines.expire(clock()) is Expired.PEER_UNRESPONSIVE
    pair.server.send(Close(1011, "keepalive ping timeout"))
    deadlines.close_sent(clock())
    clock.advance_to(next_deadline())
    assert clock() == 1055.25
    assert deadlines.expire(clock()) is Expired.CLOSE_TIMEOUT
    assert deadlines.deadline is None


def test_merge_pieces_joins_text_received_as_bytes() -> None:
    text = "héllo wörld, ünïcode" * 5
    wire = Connection(Role.CLIENT).send(TextMessage(text))
    streamed = Connection(Role.SERVER, text_as_bytes=True, stream_messages=True)
    outcome = feed_chunks(streamed, [wire[i : i + 1] for i in range(len(wire))])
    assert len(outcome.events) > 1
    merged = merge_pieces(outcome.events)
    assert merged == [EncodedTextMessage(text.encode())]
    assert isinstance(merged[0], EncodedTextMessage)
    assert merged[0].validated

"""The receive path: RFC 6455 framing rules, each run whole, byte by byte and cut at every offset."""

from __future__ import annotations

import pytest

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    LocalProtocolError,
    Ping,
    Pong,
    RemoteProtocolError,
    Role,
    Signal,
    State,
    TextMessage,
)

from .helpers import FIXED_MASK, drain, feed_every_split, frame, server

M = FIXED_MASK


def client_conn(**options: object) -> Connection:
    return Connection(Role.CLIENT, **options)  # type: ignore[arg-type]


def outcome(wire: bytes, **options: object) -> tuple[list[Event], int | None]:
    """Events and the close code of the failure, identical for every split of *wire*."""
    events, error = feed_every_split(lambda: server(**options), wire)
    return events, error.close_code if error else None


# --- valid traffic ---------------------------------------------------------------


def test_text_binary_and_control_frames() -> None:
    wire = (
        frame(0x81, b"hello", mask=M)
        + frame(0x82, b"\x00\xff", mask=M)
        + frame(0x89, b"ping", mask=M)
        + frame(0x8A, b"", mask=M)
        + frame(0x88, b"\x03\xe8bye", mask=M)
    )
    events, code = outcome(wire)
    assert events == [
        TextMessage("hello"),
        BinaryMessage(b"\x00\xff"),
        Ping(b"ping"),
        Pong(b""),
        Close(1000, "bye"),
    ]
    assert code is None


def test_several_frames_per_chunk_and_length_encodings() -> None:
    wire = b"".join(frame(0x82, bytes([n % 256]) * n, mask=M) for n in (0, 1, 125, 126, 127, 65535, 65536))
    events, _ = drain(server(), [wire])
    assert [len(e.data) for e in events if isinstance(e, BinaryMessage)] == [
        0,
        1,
        125,
        126,
        127,
        65535,
        65536,
    ]
    # Splits of the extended-length frames would take minutes byte by byte; the
    # short ones cover every header boundary.
    events, code = outcome(b"".join(frame(0x82, b"x" * n, mask=M) for n in (0, 125, 126, 300)))
    assert code is None
    assert [len(e.data) for e in events if isinstance(e, BinaryMessage)] == [0, 125, 126, 300]


def test_unmasked_frames_to_the_client() -> None:
    wire = frame(0x81, b"hi") + frame(0x82, b"x" * 200)
    events, error = feed_every_split(client_conn, wire)
    assert events == [TextMessage("hi"), BinaryMessage(b"x" * 200)]
    assert error is None


def test_fragmented_message_with_control_frames_between() -> None:
    wire = (
        frame(0x01, b"fra", mask=M)
        + frame(0x89, b"1", mask=M)
        + frame(0x00, b"gme", mask=M)
        + frame(0x8A, b"2", mask=M)
        + frame(0x80, b"nted", mask=M)
    )
    events, code = outcome(wire)
    assert events == [Ping(b"1"), Pong(b"2"), TextMessage("fragmented")]
    assert code is None


def test_empty_fragments() -> None:
    wire = frame(0x02, b"", mask=M) + frame(0x00, b"", mask=M) + frame(0x80, b"", mask=M)
    assert outcome(wire) == ([BinaryMessage(b"")], None)


def test_character_split_across_fragments() -> None:
    euro = "€".encode()
    wire = frame(0x01, euro[:1], mask=M) + frame(0x00, euro[1:2], mask=M) + frame(0x80, euro[2:], mask=M)
    assert outcome(wire) == ([TextMessage("€")], None)


# --- masking (section 5.1) -----------------------------------------------------------


def test_server_rejects_unmasked_frame() -> None:
    assert outcome(frame(0x81, b"hi")) == ([], 1002)


def test_client_rejects_masked_frame() -> None:
    _, error = feed_every_split(client_conn, frame(0x81, b"hi", mask=M))
    assert error is not None
    assert error.close_code == 1002


# --- RSV bits and opcodes (section 5.2) -------------------------------------------


@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x70])
def test_unclaimed_rsv_bits(rsv: int) -> None:
    assert outcome(frame(0x81 | rsv, b"hi", mask=M)) == ([], 1002)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes(opcode: int) -> None:
    assert outcome(frame(0x80 | opcode, b"", mask=M)) == ([], 1002)


def test_valid_events_come_before_the_error() -> None:
    wire = frame(0x81, b"first", mask=M) + frame(0x89, b"p", mask=M) + frame(0x83, b"", mask=M)
    assert outcome(wire) == ([TextMessage("first"), Ping(b"p")], 1002)


# --- control frames (section 5.5) ---------------------------------------------------


def test_size_limits_apply_to_data_frames_only() -> None:
    """A Ping, Pong or Close is under 126 bytes by section 5.5; the message limits are not theirs."""
    wire = frame(0x89, b"p" * 100, mask=M) + frame(0x88, b"\x03\xe8" + b"r" * 100, mask=M)
    for limit in (0, 10):
        events, code = outcome(wire, max_frame_size=limit, max_message_size=limit)
        assert events == [Ping(b"p" * 100), Close(1000, "r" * 100)]
        assert code is None


def test_control_frame_payload_limit_decided_from_header() -> None:
    conn = server()
    conn.receive_data(frame(0x89, b"x" * 126, mask=M)[:4])  # header only, no payload
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.close_code == 1002
    assert outcome(frame(0x89, b"x" * 125, mask=M)) == ([Ping(b"x" * 125)], None)


@pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
def test_fragmented_control_frame(opcode: int) -> None:
    assert outcome(frame(opcode, b"", mask=M)) == ([], 1002)


# --- fragmentation (section 5.4) ------------------------------------------------------


def test_orphan_continuation() -> None:
    assert outcome(frame(0x80, b"x", mask=M)) == ([], 1002)


@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_new_data_frame_inside_fragmented_message(opcode: int) -> None:
    wire = frame(0x01, b"a", mask=M) + frame(0x80 | opcode, b"b", mask=M)
    assert outcome(wire) == ([], 1002)


# --- length encoding (section 5.2) -------------------------------------------------


@pytest.mark.parametrize(
    "length",
    [
        bytes([126]) + (125).to_bytes(2, "big"),
        bytes([126]) + (0).to_bytes(2, "big"),
        bytes([127]) + (65535).to_bytes(8, "big"),
        bytes([127]) + (1).to_bytes(8, "big"),
        bytes([127]) + (1 << 63).to_bytes(8, "big"),
        bytes([127]) + ((1 << 64) - 1).to_bytes(8, "big"),
    ],
)
def test_forbidden_length_encodings(length: bytes) -> None:
    # Only the header is sent: the verdict cannot wait for the payload.
    wire = frame(0x82, b"", mask=M, length=length)
    assert outcome(wire, max_message_size=None) == ([], 1002)


def test_protocol_error_wins_over_size_limit() -> None:
    wire = frame(0x82, b"", mask=M, length=bytes([127]) + (1 << 63).to_bytes(8, "big"))
    assert outcome(wire, max_message_size=10)[1] == 1002
    wire = frame(0x89, b"x" * 126, mask=M)[:4]
    assert outcome(wire, max_frame_size=10)[1] == 1002


# --- UTF-8 (section 8.1) ----------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b"\xff", b"\xc0\x80", b"ab\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80\xaf", b"\xce\xba\xe1", b"\x80"],
)
def test_invalid_utf8(payload: bytes) -> None:
    assert outcome(frame(0x81, payload, mask=M)) == ([], 1007)
    fragmented = frame(0x01, payload[:1], mask=M) + frame(0x80, payload[1:], mask=M)
    assert outcome(fragmented) == ([], 1007)


@pytest.mark.parametrize("prefix", [b"\xed\xa0", b"\xf4\x90", b"\xc1", b"\xf5", b"\xe0\x9f", b"\xf0\x8f"])
def test_utf8_fails_fast_before_the_message_ends(prefix: bytes) -> None:
    """1007 as soon as the impossible bytes arrive, even if the frame is incomplete."""
    whole = frame(0x81, b"ok" + prefix + b"\x80" * 20, mask=M)
    for streaming in (False, True):
        conn = server(stream_messages=streaming)
        conn.receive_data(whole[: 6 + 2 + len(prefix)])
        with pytest.raises(RemoteProtocolError) as info:
            conn.next_event()
        assert info.value.close_code == 1007
    # and across fragments: the first fragment is valid, the second starts badly
    conn = server()
    conn.receive_data(
        frame(0x01, b"ok", mask=M) + frame(0x80, prefix + b"\x80" * 20, mask=M)[: 6 + len(prefix)]
    )
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize("bad", [b"\xff", b"\xed\xa0", b"\xc3(", b"\xf4\x90"])
def test_a_byte_at_a_time_fails_at_the_first_invalid_byte(role: Role, bad: bytes) -> None:
    """A short text frame waits to be whole, but its bytes are checked as they arrive."""
    good = "héllo €".encode()
    wire = frame(0x81, good + bad + b"tail" * 10, mask=M if role is Role.SERVER else None)
    header = 6 if role is Role.SERVER else 2
    # The byte that makes the text impossible, not the end of the frame.
    failing = header + len(good) + len(bad) - 1
    conn = Connection(role)
    for index in range(failing):
        conn.receive_data(wire[index : index + 1])
        assert conn.next_event() is Signal.NEED_DATA
    conn.receive_data(wire[failing : failing + 1])
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.close_code == 1007


@pytest.mark.parametrize("header", [b"\x81\xfe\x00\x05", b"\x82\xff" + (5).to_bytes(8, "big")])
def test_a_bad_length_field_fails_as_soon_as_it_is_whole(header: bytes) -> None:
    """Section 5.2: judged when its last byte arrives, before the masking key, whatever the pieces."""
    conn = server()
    for byte in header[:-1]:
        conn.receive_data(bytes((byte,)))
        assert conn.next_event() is Signal.NEED_DATA
    conn.receive_data(header[-1:])
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.close_code == 1002


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (b"\x80\x85", 1002),  # a continuation with no message to continue (section 5.4)
        (b"\x88\xfe", 1002),  # a control frame over 125 bytes (section 5.5)
        (b"\x82\xfe\x10\x00", 1009),  # 4 KiB, over a 1 KiB limit
        (b"\x82\xff" + (1 << 20).to_bytes(8, "big"), 1009),
    ],
)
def test_a_header_is_judged_before_its_key(header: bytes, code: int) -> None:
    """Rules and limits are decided once the length field is in: the key has no rules."""
    for key_bytes in range(4):  # the peer stops inside the key, or the key is not sent yet
        conn = Connection(Role.SERVER, max_message_size=1024)
        conn.receive_data(header + FIXED_MASK[:key_bytes])
        with pytest.raises(RemoteProtocolError) as info:
            conn.next_event()
        assert info.value.close_code == code


def test_eof_inside_a_waiting_frame_is_1006() -> None:
    conn = server()
    conn.receive_data(frame(0x81, b"hello", mask=M)[:8])
    assert conn.next_event() is Signal.NEED_DATA
    conn.receive_data(b"")
    event = conn.next_event()
    assert isinstance(event, Close)
    assert event.code == 1006
    assert conn.state is State.CLOSED


def test_a_waiting_text_frame_ends_where_the_next_frame_begins() -> None:
    """Bytes past the waiting frame belong to the next frame: they are not checked as its text."""
    first, second = frame(0x81, b"abc", mask=M), frame(0x82, b"\xff\xfe", mask=M)
    conn = server()
    conn.receive_data(first[:7])
    assert conn.next_event() is Signal.NEED_DATA
    conn.receive_data(first[7:] + second)
    assert list(conn.events()) == [TextMessage("abc"), BinaryMessage(b"\xff\xfe")]


def test_truncated_character_at_end_of_message() -> None:
    assert outcome(frame(0x81, "€".encode()[:2], mask=M)) == ([], 1007)
    assert outcome(frame(0x01, b"a", mask=M) + frame(0x80, b"\xe2\x82", mask=M)) == ([], 1007)


def test_validation_can_be_relaxed() -> None:
    events, code = outcome(frame(0x81, b"a\xffb", mask=M), validate_utf8=False)
    assert events == [TextMessage("a\ufffdb")]
    assert code is None
    events, code = outcome(frame(0x88, b"\x03\xe8\xff", mask=M), validate_utf8=False)
    assert events == [Close(1000, "\ufffd")]
    events, _ = outcome(frame(0x01, b"a\xe2", mask=M) + frame(0x80, b"\x82", mask=M), validate_utf8=False)
    assert events == [TextMessage("a\ufffd")]  # one replacement per maximal invalid subpart


# --- close frames (section 5.5.1, 7.4) ------------------------------------------------


def test_close_without_payload_is_1005() -> None:
    events, _ = outcome(frame(0x88, b"", mask=M))
    assert events == [Close(1005, "")]
    assert events[0] == Close(1005)


def test_close_with_one_byte_payload() -> None:
    assert outcome(frame(0x88, b"\x03", mask=M)) == ([], 1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_invalid_close_codes(code: int) -> None:
    assert outcome(frame(0x88, code.to_bytes(2, "big"), mask=M)) == ([], 1002)


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
)
def test_valid_close_codes(code: int) -> None:
    assert outcome(frame(0x88, code.to_bytes(2, "big") + b"why", mask=M)) == ([Close(code, "why")], None)


def test_invalid_utf8_in_close_reason() -> None:
    assert outcome(frame(0x88, b"\x03\xe8\xed\xa0\x80", mask=M)) == ([], 1007)


def test_close_in_the_middle_of_a_fragmented_message() -> None:
    wire = frame(0x01, b"half", mask=M) + frame(0x88, b"\x03\xe8", mask=M) + frame(0x80, b"rest", mask=M)
    assert outcome(wire) == ([Close(1000)], None)


def test_nothing_is_parsed_after_the_peers_close() -> None:
    conn = server()
    events, error = drain(conn, [frame(0x88, b"\x03\xe8", mask=M) + b"\xff\xff garbage", b"more"])
    assert (events, error) == ([Close(1000)], None)
    assert conn.state is State.REMOTE_CLOSING
    assert conn.next_event() is Signal.CLOSED
    conn.send(Close(1000))
    assert conn.state is State.CLOSED
    assert conn.next_event() is Signal.CLOSED


# --- EOF -------------------------------------------------------------------------


@pytest.mark.parametrize("pending", [b"", frame(0x81, b"partial", mask=M)[:5], frame(0x01, b"frag", mask=M)])
def test_eof_before_close_handshake_is_1006(pending: bytes) -> None:
    conn = server()
    if pending:
        conn.receive_data(pending)
    conn.receive_data(b"")
    assert list(conn.events()) == [Close(1006, "the transport ended before the close handshake")]
    assert conn.state is State.CLOSED
    assert conn.next_event() is Signal.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"late")
    conn.receive_data(b"")  # a second EOF is harmless


def test_eof_after_events_delivers_them_first() -> None:
    conn = server()
    conn.receive_data(frame(0x81, b"a", mask=M))
    conn.receive_data(b"")
    assert list(conn.events()) == [
        TextMessage("a"),
        Close(1006, "the transport ended before the close handshake"),
    ]


def test_eof_after_the_peers_close_changes_nothing() -> None:
    conn = server()
    conn.receive_data(frame(0x88, b"", mask=M))
    conn.receive_data(b"")
    assert list(conn.events()) == [Close(1005)]
    assert conn.state is State.REMOTE_CLOSING
    assert conn.send(Close(1005)) == b"\x88\x00"
    assert conn.state is State.CLOSED


# --- limits -------------------------------------------------------------------------


def test_max_message_size_decided_from_the_header() -> None:
    conn = server(max_message_size=100)
    conn.receive_data(frame(0x82, b"x" * 101, mask=M)[:8])  # header only
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.close_code == 1009
    assert outcome(frame(0x82, b"x" * 100, mask=M), max_message_size=100) == (
        [BinaryMessage(b"x" * 100)],
        None,
    )


@pytest.mark.parametrize("streaming", [False, True])
def test_max_message_size_counts_every_fragment(streaming: bool) -> None:
    wire = b"".join(frame(0x02 if i == 0 else 0x00, b"x" * 30, mask=M) for i in range(4))
    events, code = outcome(wire, max_message_size=100, stream_messages=streaming)
    assert code == 1009
    assert sum(len(e.data) for e in events if isinstance(e, BinaryMessage)) <= 100


def test_max_frame_size() -> None:
    wire = frame(0x02, b"x" * 50, mask=M) + frame(0x80, b"x" * 51, mask=M)
    assert outcome(wire, max_frame_size=50) == ([], 1009)
    wire = frame(0x02, b"x" * 50, mask=M) + frame(0x80, b"x" * 50, mask=M)
    assert outcome(wire, max_frame_size=50) == ([BinaryMessage(b"x" * 100)], None)


def test_limits_can_be_disabled() -> None:
    events, _ = drain(server(max_message_size=None), [frame(0x82, b"x" * (2 << 20), mask=M)])
    assert events == [BinaryMessage(b"x" * (2 << 20))]


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_message_size"):
        server(max_message_size=-1)
    with pytest.raises(ValueError, match="max_frame_size"):
        server(max_frame_size=-5)
    with pytest.raises(TypeError):
        Connection("server")  # type: ignore[arg-type]


# --- streaming --------------------------------------------------------------------------


def test_streaming_delivers_partial_frames() -> None:
    conn = server(stream_messages=True)
    wire = frame(0x82, b"abcdef", mask=M)
    conn.receive_data(wire[:9])
    assert list(conn.events()) == [BinaryMessage(b"abc", final=False)]
    conn.receive_data(wire[9:])
    assert list(conn.events()) == [BinaryMessage(b"def", final=True)]


def test_streaming_text_never_splits_a_character() -> None:
    text = "a€b😀c"
    wire = frame(0x01, text.encode()[:3], mask=M) + frame(0x80, text.encode()[3:], mask=M)
    for how_events in (drain(server(stream_messages=True), [wire[i : i + 1] for i in range(len(wire))])[0],):
        pieces = [e for e in how_events if isinstance(e, TextMessage)]
        assert "".join(p.data for p in pieces) == text
        assert [p.final for p in pieces] == [False] * (len(pieces) - 1) + [True]
        assert all(p.data for p in pieces[:-1])


def test_streaming_ends_an_empty_message_with_a_final_piece() -> None:
    wire = frame(0x01, b"", mask=M) + frame(0x80, b"", mask=M)
    assert outcome(wire, stream_messages=True) == ([TextMessage("", final=True)], None)


# --- failure ----------------------------------------------------------------------------


def test_after_a_remote_error_only_close_may_be_sent() -> None:
    conn = server()
    conn.receive_data(frame(0x83, b"", mask=M) + frame(0x81, b"x", mask=M))
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert conn.state is State.FAILED
    with pytest.raises(RemoteProtocolError) as again:
        conn.next_event()
    assert again.value.close_code == info.value.close_code == 1002
    for event in (TextMessage("x"), Ping(), Pong()):
        with pytest.raises(LocalProtocolError):
            conn.send(event)
    conn.receive_data(b"ignored")
    assert conn.send(Close(info.value.close_code)) == b"\x88\x02\x03\xea"
    assert conn.state is State.CLOSED
    assert conn.next_event() is Signal.CLOSED


def test_remote_error_after_our_close_ends_the_connection() -> None:
    conn = server()
    conn.send(Close(1000))
    conn.receive_data(frame(0x81, b"\xff", mask=M))
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is State.CLOSED
    assert conn.next_event() is Signal.CLOSED


def test_data_still_arrives_after_our_close() -> None:
    conn = server()
    conn.send(Close(1000))
    assert conn.state is State.LOCAL_CLOSING
    conn.receive_data(frame(0x81, b"late", mask=M) + frame(0x88, b"\x03\xe8", mask=M))
    assert list(conn.events()) == [TextMessage("late"), Close(1000)]
    assert conn.state is State.CLOSED


# --- many messages in one chunk (parsed ahead in batches) -----------------------


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(0x81, b"\xff", mask=M), 1007),
        (frame(0x81, b"x"), 1002),  # unmasked
        (frame(0xC1, b"x", mask=M), 1002),  # RSV1
        (frame(0x82, b"", mask=M, length=bytes([126]) + (5).to_bytes(2, "big")), 1002),
        (frame(0x82, b"x" * 101, mask=M), 1009),
        (frame(0x82, b"", mask=M, length=bytes([127]) + (1 << 63).to_bytes(8, "big")), 1002),
    ],
)
def test_every_message_before_a_bad_frame_comes_first(bad: bytes, code: int) -> None:
    good: list[Event] = [
        TextMessage(f"m{i}") if i % 2 else BinaryMessage(bytes([i % 256]) * (i % 90)) for i in range(150)
    ]
    wire = b"".join(frame(0x81 if isinstance(e, TextMessage) else 0x82, _data(e), mask=M) for e in good)
    events, error = drain(server(max_message_size=100), [wire + bad])
    assert events == good
    assert error is not None
    assert error.close_code == code


def _data(event: Event) -> bytes:
    assert isinstance(event, (TextMessage, BinaryMessage))
    return event.data.encode() if isinstance(event.data, str) else event.data


def test_large_one_frame_message_among_small_ones() -> None:
    big = b"B" * 70000  # a 64-bit length: not batched, same result
    wire = frame(0x81, b"a", mask=M) + frame(0x82, big, mask=M) + frame(0x81, b"c", mask=M)
    assert drain(server(), [wire]) == ([TextMessage("a"), BinaryMessage(big), TextMessage("c")], None)


def test_state_follows_each_returned_event_not_the_batch() -> None:
    conn = server()
    conn.receive_data(b"".join(frame(0x81, b"x", mask=M) for _ in range(100)) + frame(0x88, b"", mask=M))
    assert conn.next_event() == TextMessage("x")
    conn.send(Close(1000))
    assert conn.state is State.LOCAL_CLOSING
    rest = list(conn.events())
    assert rest == [TextMessage("x")] * 99 + [Close(1005)]
    assert conn.state is State.CLOSED


def test_a_mutable_buffer_given_to_receive_data_is_copied() -> None:
    """bytes are parsed in place; a bytearray or a view may be reused by the caller."""
    wire = bytes(Connection(Role.CLIENT).send(TextMessage("hello")))
    for make in (bytearray, lambda data: memoryview(bytearray(data))):
        conn = Connection(Role.SERVER)
        data = make(wire[:-2])
        conn.receive_data(data)
        data[:] = bytes(len(data))  # the caller reuses its buffer
        conn.receive_data(make(wire[-2:]))
        assert conn.next_event() == TextMessage("hello")


def test_bytes_left_over_from_the_callers_buffer_are_joined_with_what_follows() -> None:
    sender = Connection(Role.CLIENT)
    wire = sender.send(BinaryMessage(b"a" * 70_000)) + sender.send(TextMessage("b" * 200))
    for cut in (3, 70_005, 70_010, len(wire) - 100):
        conn = Connection(Role.SERVER)
        events: list[Event] = []
        for piece in (wire[:cut], bytearray(wire[cut : cut + 50]), wire[cut + 50 :]):
            conn.receive_data(piece)
            events += conn.events()
        assert events == [BinaryMessage(b"a" * 70_000), TextMessage("b" * 200)], cut

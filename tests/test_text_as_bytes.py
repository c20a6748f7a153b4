"""Text as UTF-8 bytes: received with ``text_as_bytes=True``, sent as ``EncodedTextMessage``.

The receiving side is checked against the default one: on the same bytes, cut the
same way, a bytes connection must give the default connection's events with every
``TextMessage`` encoded, and fail at the same place with the same close code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noio_ws import (
    BinaryMessage,
    Connection,
    EncodedTextMessage,
    Event,
    LocalProtocolError,
    Ping,
    RemoteProtocolError,
    Role,
    State,
    TextMessage,
)
from noio_ws.extensions import PerMessageDeflate
from noio_ws.handshake import ConnectionOptions

from .helpers import FIXED_MASK, client, drain, feed_every_split, frame, merge_pieces, server

M = FIXED_MASK


def encoded(events: Iterable[Event]) -> list[Event]:
    """The events a text-as-bytes connection gives where a default one gives *events*."""
    return [EncodedTextMessage(e.data.encode(), e.final) if isinstance(e, TextMessage) else e for e in events]


def as_text(events: Iterable[Event]) -> list[Event]:
    """Decode every EncodedTextMessage piece on its own: one that splits a character fails."""
    return [TextMessage(e.data.decode(), e.final) if isinstance(e, EncodedTextMessage) else e for e in events]


def chunkings(wire: bytes) -> Iterator[list[bytes]]:
    """Whole, byte by byte, and cut once at every offset (as the every-split helper)."""
    yield [wire]
    yield [wire[i : i + 1] for i in range(len(wire))]
    for cut in range(1, len(wire)):
        yield [wire[:cut], wire[cut:]]


def same_as_default(wire: bytes, **options: object) -> tuple[list[Event], RemoteProtocolError | None]:
    """Feed *wire* every way to a default and a text-as-bytes server; they must agree exactly.

    Streamed pieces are compared one for one (the same chunking gives the same
    cuts), so a piece that splits a character, or an error raised at another
    piece, fails. Returns the bytes server's outcome for *wire* whole.
    """
    outcome = None
    for chunks in chunkings(wire):
        default_events, default_error = drain(server(**options), chunks)
        events, error = drain(server(text_as_bytes=True, **options), chunks)
        assert events == encoded(default_events), chunks
        assert (error and error.close_code) == (default_error and default_error.close_code), chunks
        assert all(not isinstance(e, TextMessage) for e in events)
        if outcome is None:
            outcome = (events, error)
    assert outcome is not None
    return outcome


# ---------------------------------------------------------------- receiving


def test_text_arrives_as_validated_bytes() -> None:
    conn = server(text_as_bytes=True)
    conn.receive_data(frame(0x81, "héllo €".encode(), mask=M) + frame(0x82, b"\xff", mask=M))
    text, binary = conn.events()
    assert text == EncodedTextMessage("héllo €".encode())
    assert isinstance(text, EncodedTextMessage)
    assert type(text.data) is bytes
    assert text.validated
    assert binary == BinaryMessage(b"\xff")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "wire",
    [
        frame(0x81, "héllo wörld 😀".encode(), mask=M),
        frame(0x01, "hé".encode()[:2], mask=M) + frame(0x80, "hé".encode()[2:] + "€".encode(), mask=M),
        # A character cut across three frames, and a ping between them.
        frame(0x01, b"a\xf0", mask=M)
        + frame(0x89, b"p", mask=M)
        + frame(0x00, b"\x9f\x98", mask=M)
        + frame(0x80, b"\x80z", mask=M),
        frame(0x81, b"", mask=M) + frame(0x81, b"x" * 200, mask=M) + frame(0x82, b"\x00", mask=M),
        frame(0x01, b"", mask=M) + frame(0x80, b"", mask=M),
    ],
)
def test_valid_text_matches_the_default_every_split(wire: bytes, stream: bool) -> None:
    events, error = same_as_default(wire, stream_messages=stream)
    assert error is None
    assert any(isinstance(e, EncodedTextMessage) for e in events)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "payload",
    [
        b"\xff",
        b"ok \xc0\xaf",
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",  # a surrogate (Autobahn 6.x)
        b"abc\xf4\x90\x80\x80",  # above U+10FFFF
        b"truncated \xe2\x82",  # ends inside a character
        "é".encode() * 10 + b"\x80",
    ],
)
def test_invalid_text_fails_where_the_default_fails(payload: bytes, stream: bool) -> None:
    # Valid messages first: they come out before the error.
    wire = frame(0x81, b"first", mask=M) + frame(0x81, payload, mask=M) + frame(0x81, b"never", mask=M)
    events, error = same_as_default(wire, stream_messages=stream)
    assert error is not None
    assert error.close_code == 1007
    assert events[0] == EncodedTextMessage(b"first")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("prefix", [b"\xed\xa0", b"\xf4\x90", b"\xc1", b"\xf5", b"\xe0\x9f", b"\xf0\x8f"])
def test_fails_fast_before_the_frame_or_message_ends(prefix: bytes, stream: bool) -> None:
    # Only the start of a long frame has arrived, and a fragment before it.
    first = frame(0x01, "début ".encode(), mask=M)
    start = frame(0x80, b"x" * 1000 + prefix + b"y" * 1000, mask=M)[: 8 + 1000 + len(prefix)]
    conn = server(text_as_bytes=True, stream_messages=stream)
    _, error = drain(conn, [first, start])
    assert error is not None
    assert error.close_code == 1007
    assert conn.state is State.FAILED


@settings(max_examples=200, deadline=None)
@given(
    payload=st.one_of(st.binary(max_size=40), st.text(max_size=20).map(str.encode)),
    cuts=st.lists(st.integers(0, 40), max_size=3),
    stream=st.booleans(),
)
def test_any_bytes_any_fragments_match_the_default(payload: bytes, cuts: list[int], stream: bool) -> None:
    points = sorted({min(c, len(payload)) for c in cuts})
    parts = [payload[a:b] for a, b in zip([0, *points], [*points, len(payload)], strict=True)]
    wire = b"".join(
        frame((0x01 if i == 0 else 0x00) | (0x80 if i == len(parts) - 1 else 0), part, mask=M)
        for i, part in enumerate(parts)
    )
    for chunks in ([wire], [wire[i : i + 1] for i in range(len(wire))]):
        default_events, default_error = drain(server(stream_messages=stream), chunks)
        events, error = drain(server(text_as_bytes=True, stream_messages=stream), chunks)
        assert events == encoded(default_events)
        assert (error and error.close_code) == (default_error and default_error.close_code)


@pytest.mark.parametrize("stream", [False, True])
def test_large_text_is_checked_across_slices(stream: bool) -> None:
    # Over 64 KiB in one piece: checked slice by slice, characters straddling slices.
    text = ("a€😀" * 30_000).encode()
    conn = server(text_as_bytes=True, stream_messages=stream, max_message_size=None)
    conn.receive_data(frame(0x81, text, mask=M))
    assert merge_pieces(as_text(conn.events())) == [TextMessage(text.decode())]
    bad = text[:100_001] + b"\xff" + text[100_001:]
    conn = server(text_as_bytes=True, stream_messages=stream, max_message_size=None)
    _, error = drain(conn, [frame(0x81, bad, mask=M)])
    assert error is not None
    assert error.close_code == 1007


def test_many_small_texts_in_one_buffer_then_a_bad_one() -> None:
    good = [f"message {i} é".encode() for i in range(100)]
    wire = b"".join(frame(0x81, data, mask=M) for data in good) + frame(0x81, b"\xc3(", mask=M)
    events, error = drain(server(text_as_bytes=True), [wire])
    assert events == [EncodedTextMessage(data) for data in good]
    assert error is not None
    assert error.close_code == 1007


@pytest.mark.parametrize("stream", [False, True])
def test_unchecked_when_validation_is_off(stream: bool) -> None:
    conn = server(text_as_bytes=True, validate_utf8=False, stream_messages=stream)
    conn.receive_data(frame(0x81, b"bad \xff\xfe", mask=M))
    (event,) = conn.events()
    assert event == EncodedTextMessage(b"bad \xff\xfe")
    assert isinstance(event, EncodedTextMessage)
    assert not event.validated


def test_unchecked_stream_still_cuts_at_character_boundaries() -> None:
    wire = frame(0x81, "é€😀 ok".encode(), mask=M)
    for chunks in chunkings(wire):
        events, error = drain(server(text_as_bytes=True, validate_utf8=False, stream_messages=True), chunks)
        assert error is None
        assert merge_pieces(as_text(events)) == [TextMessage("é€😀 ok")]
        assert all(isinstance(e, EncodedTextMessage) and not e.validated for e in events)


@pytest.mark.parametrize("stream", [False, True])
def test_compressed_text_as_bytes(stream: bool) -> None:
    sender = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], mask_key_source=lambda: M)
    wire = sender.send(TextMessage("compressé " * 20)) + sender.send(TextMessage("€", final=False))
    wire += sender.send(TextMessage("ok"))

    def make() -> Connection:
        return server(extensions=[PerMessageDeflate()], text_as_bytes=True, stream_messages=stream)

    events, error = drain(make(), [wire])
    assert error is None
    assert merge_pieces(as_text(events)) == [TextMessage("compressé " * 20), TextMessage("€ok")]
    assert all(isinstance(e, EncodedTextMessage) for e in events)
    if not stream:
        assert feed_every_split(make, wire) == (events, None)


def test_compressed_invalid_text_is_1007() -> None:
    sender = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], mask_key_source=lambda: M)
    wire = sender.send(EncodedTextMessage(b"ok \xff", validated=True))
    events, error = drain(server(extensions=[PerMessageDeflate()], text_as_bytes=True), [wire])
    assert events == []
    assert error is not None
    assert error.close_code == 1007


def test_validated_takes_no_part_in_comparisons() -> None:
    assert EncodedTextMessage(b"a", validated=True) == EncodedTextMessage(b"a")
    assert EncodedTextMessage(b"a") != TextMessage("a")
    assert EncodedTextMessage(b"a") != BinaryMessage(b"a")
    assert repr(EncodedTextMessage(b"a")) == "EncodedTextMessage(data=b'a', final=True, validated=False)"


def test_the_option_passes_through_the_handshake_options() -> None:
    options: ConnectionOptions = {"text_as_bytes": True, "max_send_frame_size": 1024}
    conn = Connection(Role.SERVER, **options)
    conn.receive_data(frame(0x81, b"hi", mask=M))
    assert list(conn.events()) == [EncodedTextMessage(b"hi")]


# ------------------------------------------------------------------ sending


@pytest.mark.parametrize("make", [client, server])
@pytest.mark.parametrize("text", ["", "hi", "héllo €😀", "x" * 200, "é" * 40_000])
def test_encoded_text_goes_out_as_the_same_text_frame(make: Callable[..., Connection], text: str) -> None:
    assert make().send(EncodedTextMessage(text.encode())) == make().send(TextMessage(text))
    assert make().send(EncodedTextMessage(text.encode(), validated=True)) == make().send(TextMessage(text))
    for buffer in (bytearray(text.encode()), memoryview(text.encode())):
        assert make().send(EncodedTextMessage(buffer)) == make().send(TextMessage(text))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data", [b"\xff", b"ok \xc0\xaf", b"\xed\xa0\x80", b"end \xe2\x82", ("é" * 40_000).encode() + b"\x80"]
)
def test_invalid_encoded_text_is_refused_and_changes_nothing(data: bytes) -> None:
    conn = server()
    with pytest.raises(LocalProtocolError, match="invalid UTF-8"):
        conn.send(EncodedTextMessage(data))
    assert conn.state is State.OPEN
    # Not even the start of a fragmented message: a binary message may follow.
    assert conn.send(BinaryMessage(b"x")) == b"\x82\x01x"


def test_vouched_bytes_are_not_checked() -> None:
    # The caller's word is taken: the peer is the one to fail the connection.
    wire = client().send(EncodedTextMessage(b"bad \xff", validated=True))
    _, error = drain(server(), [wire])
    assert error is not None
    assert error.close_code == 1007


def test_encoded_text_data_must_be_bytes() -> None:
    with pytest.raises(LocalProtocolError, match="EncodedTextMessage data must be bytes, not str"):
        server().send(EncodedTextMessage("text"))  # type: ignore[arg-type]


def test_fragments_may_split_a_character() -> None:
    data = "a€😀b".encode()
    conn = client()
    wire = b"".join(conn.send(EncodedTextMessage(data[i : i + 1], final=False)) for i in range(len(data)))
    wire += conn.send(Ping(b"between"))
    wire += conn.send(EncodedTextMessage(b"", final=True))
    events, error = drain(server(), [wire])
    assert error is None
    assert events == [Ping(b"between"), TextMessage("a€😀b")]


def test_a_message_may_not_end_inside_a_character() -> None:
    conn = server()
    conn.send(EncodedTextMessage(b"\xe2\x82", final=False))
    with pytest.raises(LocalProtocolError, match="invalid UTF-8"):
        conn.send(EncodedTextMessage(b"", final=True))
    with pytest.raises(LocalProtocolError, match="invalid UTF-8"):
        conn.send(EncodedTextMessage(b"\xac\xac", final=True))
    # Refused fragments change nothing: the character can still be finished.
    assert conn.send(EncodedTextMessage(b"\xac")) == b"\x80\x01\xac"


def test_str_cannot_continue_a_fragment_that_ends_inside_a_character() -> None:
    conn = server()
    conn.send(EncodedTextMessage(b"\xe2", final=False))
    for send in (conn.send, conn.send_buffers):
        with pytest.raises(LocalProtocolError, match="ends inside a character"):
            send(TextMessage("x"))
    with pytest.raises(LocalProtocolError, match="fragmented message"):
        conn.send(BinaryMessage(b"x"))
    conn.send(EncodedTextMessage(b"\x82\xac", final=False))
    conn.send(TextMessage("str may follow whole characters"))
    assert conn.state is State.OPEN


def test_a_vouched_fragment_is_followed_to_its_last_character() -> None:
    conn = server()
    conn.send(EncodedTextMessage(b"ok \xf0\x9f", final=False, validated=True))
    # The next, checked fragment is checked as the rest of that character.
    with pytest.raises(LocalProtocolError, match="invalid UTF-8"):
        conn.send(EncodedTextMessage(b"x", final=False))
    conn.send(EncodedTextMessage(b"\x98", final=False))
    conn.send(EncodedTextMessage(b"\x80", final=False, validated=True))
    wire = b"\x01\x05ok \xf0\x9f" + b"\x00\x01\x98" + b"\x00\x01\x80" + conn.send(TextMessage("!"))
    assert drain(client(), [wire]) == ([TextMessage("ok 😀!")], None)


def test_str_pieces_and_encoded_pieces_mix() -> None:
    conn = client()
    wire = conn.send(TextMessage("é", final=False)) + conn.send(
        EncodedTextMessage("€".encode()[:1], final=False)
    )
    wire += conn.send(EncodedTextMessage("€".encode()[1:]))
    assert drain(server(text_as_bytes=True), [wire]) == ([EncodedTextMessage("é€".encode())], None)


def test_received_events_can_be_sent_back_unchecked() -> None:
    conn = server(text_as_bytes=True)
    conn.receive_data(frame(0x81, "écho".encode(), mask=M))
    (event,) = conn.events()
    assert isinstance(event, EncodedTextMessage)
    assert event.validated
    assert conn.send(event) == server().send(TextMessage("écho"))


def test_encoded_text_cannot_continue_a_binary_message() -> None:
    conn = server()
    conn.send(BinaryMessage(b"x", final=False))
    with pytest.raises(LocalProtocolError, match="fragmented message"):
        conn.send(EncodedTextMessage(b"y"))
    assert conn.send(BinaryMessage(b"z")) == b"\x80\x01z"

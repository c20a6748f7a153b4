"""Send-side fragmentation (``max_send_frame_size``) and ``send_buffers()``.

Every wire is read back twice: by a small reference parser here (frame sizes, FIN,
opcodes, RSV bits, masking keys) and by a default ``Connection``, fed every way the
bytes can arrive.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    EncodedTextMessage,
    Event,
    ExtensionMessage,
    LocalProtocolError,
    Ping,
    Pong,
    Role,
    State,
    TextMessage,
)
from noio_ws._mask import apply_mask
from noio_ws.extensions import Frame, OpcodeKind, PerMessageDeflate

from .helpers import FIXED_MASK, client, drain, feed_every_split, server

Parsed = tuple[int, bytes, bytes | None]  # first header byte, payload (unmasked), key


def parse(wire: bytes) -> list[Parsed]:
    """The frames of *wire*, checked to use the shortest length encoding."""
    frames: list[Parsed] = []
    pos = 0
    while pos < len(wire):
        first, second = wire[pos], wire[pos + 1]
        length, pos = second & 0x7F, pos + 2
        if length == 126:
            length, pos = int.from_bytes(wire[pos : pos + 2], "big"), pos + 2
            assert length >= 126
        elif length == 127:
            length, pos = int.from_bytes(wire[pos : pos + 8], "big"), pos + 8
            assert length >= 1 << 16
        key = None
        if second & 0x80:
            key, pos = wire[pos : pos + 4], pos + 4
        payload = wire[pos : pos + length]
        assert len(payload) == length
        frames.append((first, apply_mask(payload, key) if key else payload, key))
        pos += length
    return frames


def counting_keys() -> Callable[[], bytes]:
    """A mask-key source that never repeats a key."""
    counter = itertools.count(1)
    return lambda: next(counter).to_bytes(4, "big")


MESSAGES: list[TextMessage | BinaryMessage | EncodedTextMessage] = [
    TextMessage("héllo wörld, " * 30),
    TextMessage(""),
    BinaryMessage(bytes(range(256)) * 3),
    EncodedTextMessage("€😀".encode() * 20),
    BinaryMessage(b"x" * 70_000),
]


@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
@pytest.mark.parametrize("limit", [1, 3, 125, 126, 1000, 65_536])
def test_no_frame_is_larger_than_the_limit(role: Role, limit: int) -> None:
    sender = Connection(role, max_send_frame_size=limit, mask_key_source=counting_keys())
    receiver = Connection(Role.SERVER if role is Role.CLIENT else Role.CLIENT, max_message_size=None)
    for message in MESSAGES:
        wire = sender.send(message)
        frames = parse(wire)
        size = len(message.data.encode() if isinstance(message, TextMessage) else message.data)
        assert len(frames) == max(1, -(-size // limit))
        assert all(len(payload) <= limit for _, payload, _ in frames)
        # Section 5.4: the opcode on the first frame only, FIN on the last only.
        opcode = 0x2 if isinstance(message, BinaryMessage) else 0x1
        assert [first for first, _, _ in frames] == (
            [opcode | 0x80] if len(frames) == 1 else [opcode] + [0x00] * (len(frames) - 2) + [0x80]
        )
        if role is Role.CLIENT:  # section 5.3: a fresh key for every frame
            keys = [key for _, _, key in frames]
            assert None not in keys
            assert len(set(keys)) == len(keys)
        receiver.receive_data(wire)
        expected = TextMessage(message.data.decode()) if isinstance(message, EncodedTextMessage) else message
        assert list(receiver.events()) == [expected]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("text_as_bytes", [False, True])
@pytest.mark.parametrize("limit", [1, 2, 5])
def test_split_points_inside_characters_do_not_matter(limit: int, stream: bool, text_as_bytes: bool) -> None:
    # Cut into frames of 1, 2 or 5 bytes: most cuts fall inside a character.
    wire = client(max_send_frame_size=limit).send(TextMessage("é€😀z"))
    assert len(parse(wire)) > 1

    cuts = [[wire], [wire[i : i + 1] for i in range(len(wire))]]
    for chunks in cuts + [[wire[:cut], wire[cut:]] for cut in range(1, len(wire))]:
        events, error = drain(server(stream_messages=stream, text_as_bytes=text_as_bytes), chunks)
        assert error is None
        if text_as_bytes:  # each piece whole characters, and validated
            assert all(isinstance(e, EncodedTextMessage) and e.validated for e in events)
            text = "".join(e.data.decode() for e in events if isinstance(e, EncodedTextMessage))
        else:
            text = "".join(e.data for e in events if isinstance(e, TextMessage))
        assert text == "é€😀z"
        assert len(events) == 1 or stream


def test_invalid_text_split_across_frames_still_fails_fast() -> None:
    # Vouched-for bytes, cut into 1-byte frames: the receiver fails at the bad byte.
    wire = client(max_send_frame_size=1).send(EncodedTextMessage(b"ok\xed\xa0\x80 and more", validated=True))
    frames = parse(wire)
    for text_as_bytes in (False, True):
        conn = server(text_as_bytes=text_as_bytes)
        # Up to the frame carrying A0 (ED A0 is a surrogate): the rest never arrives.
        _, error = drain(conn, [wire[: sum(6 + len(p) for _, p, _ in frames[:4])]])
        assert error is not None
        assert error.close_code == 1007


def test_a_streaming_sender_interleaves_control_frames() -> None:
    conn = client(max_send_frame_size=4)
    wire = conn.send(TextMessage("part one, ", final=False))
    wire += conn.send(Ping(b"a ping of more than four bytes"))
    wire += conn.send(TextMessage("part two", final=False))
    wire += conn.send(Pong(b"pong"))
    wire += conn.send(TextMessage("."))
    frames = parse(wire)
    # Control frames are never split, whatever the limit.
    assert (0x89, b"a ping of more than four bytes") in [(f, p) for f, p, _ in frames]
    assert all(len(p) <= 4 for f, p, _ in frames if not f & 0x08)
    assert [f for f, _, _ in frames if f & 0x0F in (0x1, 0x2)] == [0x01]  # one message start
    events, error = feed_every_split(server, wire)
    assert error is None
    assert events == [
        Ping(b"a ping of more than four bytes"),
        Pong(b"pong"),
        TextMessage("part one, part two."),
    ]


def test_close_is_not_split() -> None:
    conn = server(max_send_frame_size=1)
    assert conn.send(Close(1000, "a reason")) == b"\x88\x0a\x03\xe8a reason"


@pytest.mark.parametrize("limit", [1, 7, 64, 1000])
@pytest.mark.parametrize("role", [Role.CLIENT, Role.SERVER])
def test_compressed_payload_is_split_with_rsv1_on_the_first_frame_only(limit: int, role: Role) -> None:
    sender = Connection(
        role, extensions=[PerMessageDeflate()], max_send_frame_size=limit, mask_key_source=counting_keys()
    )
    other = Role.SERVER if role is Role.CLIENT else Role.CLIENT
    receiver = Connection(other, extensions=[PerMessageDeflate()], max_message_size=None)
    inflater = zlib.decompressobj(-15)
    messages: list[TextMessage | BinaryMessage] = [
        TextMessage("compressible text " * 50),
        BinaryMessage(bytes(range(256)) * 8),
        TextMessage("é" * 10),
    ]
    for message in messages:
        wire = sender.send(message)
        frames = parse(wire)
        assert all(len(p) <= limit for _, p, _ in frames)
        # RFC 7692 section 6.1: RSV1 on the first frame of the message, and only there.
        assert frames[0][0] & 0x40
        assert not any(f & 0x70 for f, _, _ in frames[1:])
        compressed = b"".join(p for _, p, _ in frames)
        data = inflater.decompress(compressed + b"\x00\x00\xff\xff")
        assert data == (message.data.encode() if isinstance(message, TextMessage) else message.data)
        receiver.receive_data(wire)
        assert list(receiver.events()) == [message]


def test_compressed_fragments_are_split_too() -> None:
    sender = Connection(Role.SERVER, extensions=[PerMessageDeflate()], max_send_frame_size=5)
    wire = sender.send(TextMessage("first fragment " * 10, final=False))
    wire += sender.send(Ping())
    wire += sender.send(TextMessage("second fragment " * 10))
    frames = parse(wire)
    assert all(len(p) <= 5 for f, p, _ in frames)
    assert [f & 0x40 for f, _, _ in frames].count(0x40) == 1
    receiver = Connection(Role.CLIENT, extensions=[PerMessageDeflate()])
    receiver.receive_data(wire)
    assert list(receiver.events()) == [Ping(), TextMessage("first fragment " * 10 + "second fragment " * 10)]


class Custom:
    """A custom data opcode (0x3) and no transformation."""

    name = "x-custom"
    rsv_mask = 0
    opcodes: ClassVar[dict[int, OpcodeKind]] = {0x3: OpcodeKind.DATA}

    def bind(self, role: Role) -> None:
        self.role = role

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        return frame

    def encode(self, frame: Frame) -> Frame:
        return frame


def test_extension_messages_are_split_too() -> None:
    sender = Connection(Role.SERVER, extensions=[Custom()], max_send_frame_size=2)
    wire = sender.send(ExtensionMessage(0x3, b"abcde"))
    assert parse(wire) == [(0x03, b"ab", None), (0x00, b"cd", None), (0x80, b"e", None)]
    receiver = Connection(Role.CLIENT, extensions=[Custom()])
    receiver.receive_data(wire)
    assert list(receiver.events()) == [ExtensionMessage(0x3, b"abcde")]


@pytest.mark.parametrize("limit", [0, -1])
def test_the_limit_is_at_least_one(limit: int) -> None:
    with pytest.raises(ValueError, match="max_send_frame_size"):
        Connection(Role.SERVER, max_send_frame_size=limit)


def test_without_a_limit_one_frame_per_send() -> None:
    assert len(parse(server().send(BinaryMessage(b"x" * 200_000)))) == 1


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(max_size=600),
    text=st.text(max_size=100),
    limit=st.integers(1, 300),
    deflate=st.booleans(),
    client_sends=st.booleans(),
)
def test_any_limit_parses_to_the_same_messages(
    data: bytes, text: str, limit: int, deflate: bool, client_sends: bool
) -> None:
    def pair() -> tuple[Connection, Connection]:
        extensions: Callable[[], list[PerMessageDeflate]] = lambda: [PerMessageDeflate()] if deflate else []  # noqa: E731
        sender_role = Role.CLIENT if client_sends else Role.SERVER
        receiver_role = Role.SERVER if client_sends else Role.CLIENT
        return (
            Connection(sender_role, extensions=extensions(), max_send_frame_size=limit),
            Connection(receiver_role, extensions=extensions()),
        )

    sender, receiver = pair()
    messages: list[Event] = [BinaryMessage(data), TextMessage(text), EncodedTextMessage(text.encode())]
    wire = b"".join(sender.send(message) for message in messages)
    assert all(len(p) <= limit for _, p, _ in parse(wire))
    events, error = drain(receiver, [wire])
    assert error is None
    assert events == [BinaryMessage(data), TextMessage(text), TextMessage(text)]


# ------------------------------------------------------------- send_buffers


def twins(**options: object) -> Iterator[tuple[Connection, Connection]]:
    """Pairs of identical senders, one for send() and one for send_buffers()."""
    for make in (client, server):
        yield make(**options), make(**options)
        yield (
            make(extensions=[PerMessageDeflate()], **options),
            make(extensions=[PerMessageDeflate()], **options),
        )


SENT: list[Event] = [
    TextMessage("hi"),
    BinaryMessage(b"b" * 300, final=False),
    Ping(b"p"),
    BinaryMessage(b"c" * 70_000),
    EncodedTextMessage("é".encode() * 100),
    TextMessage("x" * 1000, final=False),
    TextMessage(""),
    Pong(),
    Close(1000, "done"),
]


@pytest.mark.parametrize("limit", [None, 1, 100, 1 << 16])
def test_buffers_join_to_what_send_returns(limit: int | None) -> None:
    for by_send, by_buffers in twins(max_send_frame_size=limit):
        for event in SENT:
            buffers = by_buffers.send_buffers(event)
            assert all(isinstance(buffer, (bytes, memoryview)) for buffer in buffers)
            assert b"".join(buffers) == by_send.send(event)
            assert by_buffers.state is by_send.state
        assert by_buffers.state is State.LOCAL_CLOSING


def test_a_large_server_message_is_not_copied() -> None:
    data = bytes(16 << 20)
    header, payload = server().send_buffers(BinaryMessage(data))
    assert header == b"\x82\x7f" + (16 << 20).to_bytes(8, "big")
    assert payload is data


def test_split_buffers_are_views_of_the_message() -> None:
    data = bytearray(b"abcdefgh")
    buffers = server(max_send_frame_size=3).send_buffers(BinaryMessage(data))  # type: ignore[arg-type]
    assert [bytes(buffer) for buffer in buffers] == [
        b"\x02\x03",
        b"abc",
        b"\x00\x03",
        b"def",
        b"\x80\x02",
        b"gh",
    ]
    assert all(isinstance(buffer, memoryview) for buffer in buffers[1::2])
    data[0:1] = b"A"  # views: the caller keeps the data unchanged until it is written
    assert bytes(buffers[1]) == b"Abc"


def test_client_buffers_are_masked() -> None:
    buffers = client().send_buffers(BinaryMessage(b"secret"))
    assert buffers == [b"\x82\x86" + FIXED_MASK, apply_mask(b"secret", FIXED_MASK)]


@pytest.mark.parametrize(
    "event",
    [TextMessage(b"not str"), BinaryMessage("not bytes"), EncodedTextMessage(b"\xff"), Ping(b"x" * 126)],  # type: ignore[arg-type]
)
def test_buffers_refuse_what_send_refuses(event: Event) -> None:
    conn = server()
    with pytest.raises(LocalProtocolError):
        conn.send_buffers(event)
    assert conn.state is State.OPEN
    assert conn.send_buffers(TextMessage("still open")) == [b"\x81\x0a", b"still open"]


def test_buffers_follow_the_state_machine() -> None:
    conn = server()
    conn.send(Close())
    with pytest.raises(LocalProtocolError, match="LOCAL_CLOSING"):
        conn.send_buffers(BinaryMessage(b"too late"))


def test_buffers_refuse_text_that_cannot_be_encoded() -> None:
    conn = server()
    with pytest.raises(LocalProtocolError, match="cannot be encoded"):
        conn.send_buffers(TextMessage("\ud800"))
    assert conn.send_buffers(TextMessage("ok")) == [b"\x81\x02", b"ok"]


def test_buffers_of_extension_data_messages() -> None:
    conn = Connection(Role.SERVER, extensions=[Custom()], max_send_frame_size=2)
    assert conn.send_buffers(ExtensionMessage(0x3, b"abc")) == [b"\x03\x02", b"ab", b"\x80\x01", b"c"]
    assert conn.send_buffers(Ping(b"p")) == [b"\x89\x01p"]

"""hypothesis: whatever one side sends, the other receives identically, however it is cut
(and however the sender cuts it into frames, with every option of both sides)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from noio_ws import BinaryMessage, Connection, EncodedTextMessage, Event, Ping, Role, TextMessage
from noio_ws.extensions import PerMessageDeflate

from .helpers import drain, merge_pieces

messages = st.lists(
    st.one_of(
        st.builds(TextMessage, st.text(max_size=300)),
        st.builds(BinaryMessage, st.binary(max_size=300)),
        st.builds(Ping, st.binary(max_size=125)),
    ),
    max_size=12,
)


def fragment(event: Event, cuts: list[int]) -> list[Event]:
    """Send *event* as fragments cut at *cuts* (control frames cannot be cut)."""
    if isinstance(event, TextMessage):
        points = sorted({min(c, len(event.data)) for c in cuts})
        parts = [event.data[a:b] for a, b in zip([0, *points], [*points, len(event.data)], strict=True)]
        return [TextMessage(p, final=i == len(parts) - 1) for i, p in enumerate(parts)]
    if isinstance(event, BinaryMessage):
        points = sorted({min(c, len(event.data)) for c in cuts})
        chunks = [event.data[a:b] for a, b in zip([0, *points], [*points, len(event.data)], strict=True)]
        return [BinaryMessage(p, final=i == len(chunks) - 1) for i, p in enumerate(chunks)]
    return [event]


def chunked(wire: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(wire)) for c in cuts} | {0, len(wire)})
    return [wire[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=150, deadline=None)
@given(
    sent=messages,
    fragments=st.lists(st.lists(st.integers(0, 300), max_size=4), min_size=12, max_size=12),
    receive_cuts=st.lists(st.integers(0, 5000), max_size=30),
    client_sends=st.booleans(),
    stream=st.booleans(),
)
def test_round_trip(
    sent: list[Event], fragments: list[list[int]], receive_cuts: list[int], client_sends: bool, stream: bool
) -> None:
    sender = Connection(Role.CLIENT if client_sends else Role.SERVER)
    receiver = Connection(Role.SERVER if client_sends else Role.CLIENT, stream_messages=stream)
    wire = b"".join(
        sender.send(piece)
        for event, cuts in zip(sent, fragments, strict=False)
        for piece in fragment(event, cuts)
    )
    events, error = drain(receiver, chunked(wire, receive_cuts))
    assert error is None
    assert merge_pieces(events) == sent
    if not stream:
        assert events == sent


def received_as(event: Event, *, text_as_bytes: bool) -> Event:
    """What a receiver delivers for *event* sent whole: text as str, or as its UTF-8 bytes."""
    if isinstance(event, EncodedTextMessage):
        event = TextMessage(event.data.decode())
    if text_as_bytes and isinstance(event, TextMessage):
        return EncodedTextMessage(event.data.encode())
    return event


def joined(events: list[Event]) -> list[Event]:
    """``merge_pieces`` for text received as bytes too: each piece must be whole characters."""
    as_text = [
        TextMessage(e.data.decode(), e.final) if isinstance(e, EncodedTextMessage) else e for e in events
    ]
    return merge_pieces(as_text)


with_encoded_text = st.lists(
    st.one_of(
        st.builds(TextMessage, st.text(max_size=300)),
        st.builds(EncodedTextMessage, st.text(max_size=300).map(str.encode), st.just(True), st.booleans()),
        st.builds(BinaryMessage, st.binary(max_size=300)),
        st.builds(Ping, st.binary(max_size=125)),
    ),
    max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(
    sent=with_encoded_text,
    receive_cuts=st.lists(st.integers(0, 5000), max_size=30),
    client_sends=st.booleans(),
    stream=st.booleans(),
    text_as_bytes=st.booleans(),
    max_send_frame_size=st.one_of(st.none(), st.integers(1, 200)),
    deflate=st.booleans(),
)
def test_round_trip_with_options(
    *,
    sent: list[Event],
    receive_cuts: list[int],
    client_sends: bool,
    stream: bool,
    text_as_bytes: bool,
    max_send_frame_size: int | None,
    deflate: bool,
) -> None:
    """Text as bytes, pre-encoded text, send-side fragmentation and deflate, in any mix."""
    sender = Connection(
        Role.CLIENT if client_sends else Role.SERVER,
        extensions=[PerMessageDeflate()] if deflate else [],
        max_send_frame_size=max_send_frame_size,
    )
    receiver = Connection(
        Role.SERVER if client_sends else Role.CLIENT,
        extensions=[PerMessageDeflate()] if deflate else [],
        stream_messages=stream,
        text_as_bytes=text_as_bytes,
    )
    wire = b"".join(sender.send(event) for event in sent)
    events, error = drain(receiver, chunked(wire, receive_cuts))
    assert error is None
    expected = [received_as(event, text_as_bytes=text_as_bytes) for event in sent]
    assert not any(isinstance(e, TextMessage if text_as_bytes else EncodedTextMessage) for e in events)
    assert joined(events) == joined(expected)
    if not stream:
        assert events == expected

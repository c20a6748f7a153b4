"""Memory held while a large message arrives stays close to the message itself."""

from __future__ import annotations

import tracemalloc

import pytest

from noio_ws import BinaryMessage, Connection, Event, RemoteProtocolError, Role, Signal, TextMessage

SIZE = 16 << 20
CHUNK = 64 << 10


def arrive(conn: Connection, wire: bytes) -> tuple[int, int, object]:
    """Feed *wire* in 64 KiB chunks; (peak before the last chunk, overall peak, event)."""
    events: list[Event] = []
    tracemalloc.start()
    try:
        for start in range(0, len(wire), CHUNK):
            if start + CHUNK >= len(wire):
                arriving_peak = tracemalloc.get_traced_memory()[1]
            conn.receive_data(wire[start : start + CHUNK])
            events.extend(conn.events())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(events) == 1
    return arriving_peak, peak, events[0]


@pytest.mark.parametrize("kind", [BinaryMessage, TextMessage])
def test_large_message_in_chunks(kind: type) -> None:
    sender = Connection(Role.CLIENT)
    data = b"a" * SIZE
    wire = sender.send(kind(data if kind is BinaryMessage else data.decode()))
    arriving, peak, event = arrive(Connection(Role.SERVER, max_message_size=SIZE), wire)
    assert event == kind(data if kind is BinaryMessage else data.decode())
    # While it arrives: the message so far, in one buffer that grows in place,
    # plus a chunk or two of working space.
    assert arriving < SIZE * 1.1, arriving
    if kind is BinaryMessage:
        # The buffer becomes the event's bytes without a copy.
        assert peak < SIZE * 1.1, peak
    else:
        # Decoding builds the str next to the bytes it decodes.
        assert peak < SIZE * 2.1, peak


def test_a_large_header_alone_reserves_little() -> None:
    """Room is reserved ahead of the payload only in proportion to what arrived."""
    wire = Connection(Role.CLIENT).send(BinaryMessage(b"a" * SIZE))
    conn = Connection(Role.SERVER, max_message_size=SIZE)
    tracemalloc.start()
    try:
        for start in range(0, 4 * CHUNK, CHUNK):
            conn.receive_data(wire[start : start + CHUNK])
            assert conn.next_event() is Signal.NEED_DATA
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 4 * CHUNK, peak


def test_oversized_message_is_refused_before_it_is_buffered() -> None:
    conn = Connection(Role.SERVER, max_message_size=1 << 20)
    wire = Connection(Role.CLIENT).send(BinaryMessage(b"x" * (2 << 20)))
    tracemalloc.start()
    try:
        conn.receive_data(wire[:CHUNK])
        with pytest.raises(RemoteProtocolError) as info:
            conn.next_event()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.close_code == 1009
    assert peak < 4 * CHUNK

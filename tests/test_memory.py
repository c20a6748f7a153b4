"""Memory held while a large message arrives stays close to the message itself."""

from __future__ import annotations

import tracemalloc

import pytest

from noio_ws import BinaryMessage, Connection, Event, RemoteProtocolError, Role, TextMessage

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
    # While it arrives: the message so far (in a bytearray, which CPython grows
    # by up to 1/8 ahead), plus a chunk or two of working space. Nothing is
    # reserved ahead of the bytes that arrived: a header alone costs nothing.
    assert arriving < SIZE * 1.15, arriving
    # Turning the buffer into the event's immutable bytes or str copies it once.
    assert peak < SIZE * 2.2, peak


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

"""Shared test helpers: feeding bytes every way they can arrive."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from noio_ws import (
    BinaryMessage,
    Connection,
    Event,
    ExtensionMessage,
    RemoteProtocolError,
    Role,
    Signal,
    TextMessage,
)
from noio_ws._frame import apply_mask

FIXED_MASK = b"\x37\xfa\x21\x3d"


def client(**options: object) -> Connection:
    """A client with a fixed mask key, so its output is reproducible."""
    return Connection(Role.CLIENT, mask_key_source=lambda: FIXED_MASK, **options)  # type: ignore[arg-type]


def server(**options: object) -> Connection:
    return Connection(Role.SERVER, **options)  # type: ignore[arg-type]


Outcome = tuple[list[Event], RemoteProtocolError | None]


def drain(conn: Connection, chunks: Iterable[bytes]) -> Outcome:
    """Feed *chunks* one by one, pulling every event after each.

    Returns the events and the error that ended them, if any (its close code
    and the state are what tests compare).
    """
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        try:
            while not isinstance(event := conn.next_event(), Signal):
                events.append(event)
        except RemoteProtocolError as exc:
            return events, exc
    return events, None


def splits(wire: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """The ways *wire* can arrive: whole, byte by byte, and cut once at every offset."""
    yield "whole", [wire]
    yield "bytewise", [wire[i : i + 1] for i in range(len(wire))]
    for cut in range(1, len(wire)):
        yield f"cut at {cut}", [wire[:cut], wire[cut:]]


def merge_pieces(events: Iterable[Event]) -> list[Event]:
    """Join streamed message pieces, so that different chunkings compare equal.

    Consecutive pieces of one message become one event; a message cut short
    (by an error) stays one piece with ``final=False``.
    """
    merged: list[Event] = []
    pending: list[TextMessage | BinaryMessage | ExtensionMessage] = []

    def flush(final: bool) -> None:
        first = pending[0]
        if isinstance(first, TextMessage):
            merged.append(TextMessage("".join(str(p.data) for p in pending), final))
        elif isinstance(first, BinaryMessage):
            merged.append(
                BinaryMessage(b"".join(p.data for p in pending if isinstance(p.data, bytes)), final)
            )
        else:
            merged.append(
                ExtensionMessage(
                    first.opcode, b"".join(p.data for p in pending if isinstance(p.data, bytes)), final
                )
            )
        pending.clear()

    for event in events:
        if isinstance(event, (TextMessage, BinaryMessage, ExtensionMessage)):
            pending.append(event)
            if event.final:
                flush(True)
        else:
            merged.append(event)
    if pending:
        flush(False)
    return merged


def feed_every_split(make: Callable[[], Connection], wire: bytes) -> Outcome:
    """Feed *wire* every way it can arrive; all must give the same outcome.

    Streamed pieces differ with the chunking, so they are compared joined (see
    ``merge_pieces``). Returns the events and the error, if any.
    """
    expected = drain(make(), [wire])
    expected_merged = merge_pieces(expected[0])
    for how, chunks in splits(wire):
        events, error = drain(make(), chunks)
        assert merge_pieces(events) == expected_merged, how
        assert (error and error.close_code) == (expected[1] and expected[1].close_code), how
    return expected


def frame(
    first: int, payload: bytes = b"", *, mask: bytes | None = None, length: bytes | None = None
) -> bytes:
    """A hand-built frame: first header byte, payload, optional mask and raw length field.

    *length* overrides the length encoding (to build forbidden encodings); by
    default the shortest form is used.
    """
    if length is None:
        size = len(payload)
        if size < 126:
            length = bytes([size])
        elif size < 0x10000:
            length = bytes([126]) + size.to_bytes(2, "big")
        else:
            length = bytes([127]) + size.to_bytes(8, "big")
    if mask is None:
        return bytes([first]) + length + payload
    return bytes([first, length[0] | 0x80]) + length[1:] + mask + apply_mask(payload, mask)

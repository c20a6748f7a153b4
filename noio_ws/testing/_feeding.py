"""Feeding bytes to one ``Connection`` every way they can arrive, and reading the outcome.

Rules of this module:
- An outcome is the events a connection returned and the ``RemoteProtocolError``
  that ended them, if any: a peer's violation is a result to compare, not a
  crash, and the events before it are kept.
- A transport may cut a stream anywhere, so the same bytes must give the same
  outcome however they are cut. ``feed_every_chunking`` checks that, comparing
  streamed message pieces joined (their number depends on the cuts).
- Failures of these checks raise ``AssertionError`` explicitly (not ``assert``),
  so they hold under ``python -O`` and in any test runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from .._connection import Connection
from .._errors import RemoteProtocolError
from .._events import BinaryMessage, EncodedTextMessage, Event, ExtensionMessage, Signal, TextMessage

__all__ = ["Outcome", "every_chunking", "feed_chunks", "feed_every_chunking", "merge_pieces"]


class Outcome(NamedTuple):
    """What a connection made of the bytes it was given.

    A tuple, so ``outcome == ([TextMessage("hi")], None)`` and
    ``events, error = outcome`` work.
    """

    #: The events returned, in order (never a ``Signal``).
    events: list[Event]
    #: The error that ended them (the peer broke the protocol), or None.
    error: RemoteProtocolError | None

    @property
    def close_code(self) -> int | None:
        """The close code the error asks to fail the connection with, or None."""
        return None if self.error is None else self.error.close_code


def pull_events(connection: Connection) -> Outcome:
    """Every event *connection* can return now, up to ``NEED_DATA``, ``CLOSED`` or an error."""
    events: list[Event] = []
    try:
        while not isinstance(event := connection.next_event(), Signal):
            events.append(event)
    except RemoteProtocolError as error:
        return Outcome(events, error)
    return Outcome(events, None)


def feed_chunks(connection: Connection, chunks: Iterable[bytes]) -> Outcome:
    """Give *connection* each chunk in turn, reading every event after each.

    Stops at the first error: the chunks after it are not fed. A ``b""``
    chunk is the end of the transport.
    """
    events: list[Event] = []
    for chunk in chunks:
        connection.receive_data(chunk)
        pulled = pull_events(connection)
        events += pulled.events
        if pulled.error is not None:
            return Outcome(events, pulled.error)
    return Outcome(events, None)


def every_chunking(wire: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """The ways *wire* can arrive, each with a name: whole, byte by byte, and cut once at every offset.

    That is ``len(wire) + 1`` chunkings: keep *wire* short (a few hundred bytes).
    """
    yield "whole", [wire]
    yield "byte by byte", [wire[i : i + 1] for i in range(len(wire))]
    for cut in range(1, len(wire)):
        yield f"cut at {cut}", [wire[:cut], wire[cut:]]


def merge_pieces(events: Iterable[Event]) -> list[Event]:
    """Join the pieces of each streamed message into one event.

    With ``stream_messages=True`` the number of pieces depends on how the bytes
    were cut; joined, they compare equal. A message cut short (by an error or
    the end of the events) stays one event with ``final=False``. A control
    event that arrived between a message's pieces comes before the message.
    """
    merged: list[Event] = []
    pieces: list[_Piece] = []
    for event in events:
        if isinstance(event, (TextMessage, BinaryMessage, EncodedTextMessage, ExtensionMessage)):
            pieces.append(event)
            if event.final:
                merged.append(_joined(pieces, final=True))
                pieces = []
        else:
            merged.append(event)
    if pieces:
        merged.append(_joined(pieces, final=False))
    return merged


_Piece = TextMessage | BinaryMessage | EncodedTextMessage | ExtensionMessage


def _joined(pieces: list[_Piece], *, final: bool) -> Event:
    first = pieces[0]
    kind = (type(first), first.opcode if isinstance(first, ExtensionMessage) else None)
    for piece in pieces:
        if (type(piece), piece.opcode if isinstance(piece, ExtensionMessage) else None) != kind:
            raise ValueError(f"{piece!r} cannot continue {first!r}: a message's pieces are of one kind")
    # All pieces are of first's kind now; the isinstance filters are for the type checker.
    if isinstance(first, TextMessage):
        return TextMessage("".join(piece.data for piece in pieces if isinstance(piece, TextMessage)), final)
    data = b"".join(piece.data for piece in pieces if not isinstance(piece, TextMessage))
    if isinstance(first, BinaryMessage):
        return BinaryMessage(data, final)
    if isinstance(first, EncodedTextMessage):
        # Pieces never split a character, so the joined bytes are validated too.
        return EncodedTextMessage(
            data, final, all(p.validated for p in pieces if isinstance(p, EncodedTextMessage))
        )
    return ExtensionMessage(first.opcode, data, final)


def feed_every_chunking(make_connection: Callable[[], Connection], wire: bytes) -> Outcome:
    """Feed *wire* to a fresh connection for every chunking; all must agree.

    Args:
        make_connection: Builds a new connection for each chunking.
        wire: The bytes that arrive.

    Returns:
        The outcome of *wire* given whole.

    Raises:
        AssertionError: a chunking gave other events (compared with
            ``merge_pieces``) or another close code; the message names it.
    """
    expected = feed_chunks(make_connection(), [wire])
    expected_events = merge_pieces(expected.events)
    for name, chunks in every_chunking(wire):
        got = feed_chunks(make_connection(), chunks)
        got_events = merge_pieces(got.events)
        if got_events != expected_events:
            raise AssertionError(f"{name}: events {got_events!r}, whole: {expected_events!r}")
        if got.close_code != expected.close_code:
            raise AssertionError(f"{name}: close code {got.close_code}, whole: {expected.close_code}")
    return expected

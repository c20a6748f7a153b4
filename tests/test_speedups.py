"""The compiled receive pieces against the pure-Python reference (issue 16).

Every compiled piece must give the same answers as the Python it replaces:
the same events, the same errors (type, close code and words), the same
states, for arbitrary bytes cut into arbitrary pieces. Skipped when the
accelerator is not built (the pure build runs everything else).
"""

from __future__ import annotations

from collections.abc import Sequence
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noio_ws import Connection, RemoteProtocolError, Role, State
from noio_ws import _reader as reader_module
from noio_ws._frame import serialize_python
from noio_ws._mask import apply_mask
from noio_ws._utf8 import ArrivingTextPython
from noio_ws.testing import feed_chunks, raw_frame

speedups = pytest.importorskip("noio_ws._speedups")

Failure = tuple[type, int, str] | None

# Text near the grammar's edges: valid characters of every length, and bytes that break them.
_NEAR_UTF8 = st.lists(
    st.one_of(
        st.text(max_size=4).map(str.encode),
        st.sampled_from(
            [b"\xc0", b"\xc2", b"\xe0\x80", b"\xe0\xa0", b"\xed\xa0", b"\xf0\x90", b"\xf4\x90", b"\xff"]
        ),
        st.binary(max_size=3),
    ),
    max_size=12,
).map(b"".join)


def _outcome_of(check: object, pieces: Sequence[tuple[bytes | bytearray | memoryview, int]]) -> list[Failure]:
    """What each piece did to *check*: None, or the error, up to the first error."""
    seen: list[Failure] = []
    for data, position in pieces:
        try:
            check.check(data, position)  # type: ignore[attr-defined]
        except RemoteProtocolError as exc:
            seen.append((type(exc), exc.close_code, str(exc)))
            break
        seen.append(None)
    return seen


@given(_NEAR_UTF8, st.binary(min_size=4, max_size=4), st.booleans(), st.lists(st.integers(1, 9), max_size=30))
def test_arriving_text_matches_the_reference(
    payload: bytes, key: bytes, masked: bool, cuts: list[int]
) -> None:
    """Header bytes first, the next frame after; any cuts: the same error at the same piece, in the same words."""
    header = b"\x81\xfe\x00\x00" + (key if masked else b"")
    wire = header + (apply_mask(payload, key) if masked else payload) + b"\x81\x02ok"
    pieces, start = [], 0
    for size in [*cuts, len(wire)]:
        if start < len(wire):
            pieces.append((wire[start : start + size], start))
        start += size
    end = len(header) + len(payload)
    compiled = _outcome_of(speedups.ArrivingText(len(header), end, masked), pieces)
    assert compiled == _outcome_of(ArrivingTextPython(len(header), end, masked), pieces)


@given(_NEAR_UTF8, st.binary(min_size=4, max_size=4))
def test_arriving_text_takes_any_buffer(payload: bytes, key: bytes) -> None:
    """bytes, bytearray and memoryview pieces give the reference's answer."""
    wire = b"\x81\xfe\x00\x00" + key + apply_mask(payload, key)
    end = len(wire) + 1  # one byte still to come: a piece that makes the frame whole is not checked
    expected = _outcome_of(ArrivingTextPython(8, end, True), [(wire, 0)])
    for kind in (bytes, bytearray, memoryview):
        assert _outcome_of(speedups.ArrivingText(8, end, True), [(kind(wire), 0)]) == expected, kind


def test_arriving_text_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError):
        speedups.ArrivingText(0, 10)
    with pytest.raises(TypeError):
        speedups.ArrivingText(0, 10, None, extra=1)
    check = speedups.ArrivingText(0, 10, None)
    with pytest.raises(TypeError):
        check.check(b"a")
    with pytest.raises(TypeError):
        check.check("text", 0)


_SIZES = st.sampled_from([0, 1, 125, 126, 127, 0xFFFF, 0x10000, 0x10001]) | st.integers(0, 300)


@given(
    st.integers(0, 255),
    _SIZES,
    st.sampled_from([bytes, bytearray, memoryview]),
    st.none() | st.binary(min_size=4, max_size=4),
)
def test_serialize_matches_the_reference(first: int, size: int, kind: type, key: bytes | None) -> None:
    """Every length form (section 5.2), masked or not, from any buffer."""
    payload = kind(bytes(range(256)) * (size // 256) + bytes(range(size % 256)))
    assert speedups.serialize(first, payload, key) == serialize_python(first, payload, key)


def test_serialize_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.serialize(0x81, b"abc", b"abc")
    with pytest.raises(ValueError, match="range"):
        speedups.serialize(256, b"abc", None)
    with pytest.raises(TypeError):
        speedups.serialize(0x81, "text", None)
    with pytest.raises(TypeError):
        speedups.serialize(0x81, b"abc")


_FRAMES = st.lists(
    st.tuples(
        st.sampled_from([0x81, 0x01, 0x80, 0x82, 0x89, 0x8A, 0x88]), _NEAR_UTF8 | st.binary(max_size=300)
    ),
    max_size=5,
)


@given(_FRAMES, st.booleans(), st.lists(st.integers(1, 40), max_size=40), st.booleans())
def test_connections_agree_with_and_without_the_compiled_pieces(
    frames: list[tuple[int, bytes]], server: bool, cuts: list[int], eof: bool
) -> None:
    """Whole connections: the same events, errors and states, however the bytes are cut."""
    key = b"\x9a\x01\xff\x37"
    wire = b"".join(
        raw_frame(first, payload[:125] if first & 8 else payload, mask=key if server else None)
        for first, payload in frames
    )
    chunks, start = [], 0
    for size in [*cuts, len(wire)]:
        if start < len(wire):
            chunks.append(wire[start : start + size])
        start += size
    if eof:
        chunks.append(b"")

    def run() -> tuple[object, ...]:
        conn = Connection(Role.SERVER if server else Role.CLIENT, max_message_size=1 << 10)
        events, error = feed_chunks(conn, chunks)
        failure = None if error is None else (type(error), error.close_code, str(error))
        return events, failure, conn.state

    compiled = run()
    with mock.patch.object(reader_module, "ArrivingText", ArrivingTextPython):
        reference = run()
    assert compiled == reference
    assert compiled[2] in (State.OPEN, State.FAILED, State.REMOTE_CLOSING, State.CLOSED)

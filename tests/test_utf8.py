"""The fail-fast incremental UTF-8 decoder, checked byte by byte against the grammar."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noio_ws import RemoteProtocolError
from noio_ws._mask import apply_mask
from noio_ws._utf8 import ArrivingText, Utf8Decoder, _is_valid_prefix


def first_invalid_byte(data: bytes) -> int | None:
    """Where a perfect validator must fail: the index of the first impossible byte."""
    for end in range(1, len(data) + 1):
        head = data[:end]
        try:
            head.decode()
            continue
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data" and _is_valid_prefix(head[exc.start :]):
                continue
            return end - 1
    return None


def fails_at(data: bytes) -> int | None:
    """Where Utf8Decoder fails when fed byte by byte (always with 1007)."""
    decoder = Utf8Decoder()
    for index in range(len(data)):
        try:
            decoder.decode(data[index : index + 1], final=False)
        except RemoteProtocolError as exc:
            codes.append(exc.close_code)
            return index
    return None


codes: list[int] = []


@pytest.fixture(autouse=True)
def _close_code_is_always_1007() -> Iterator[None]:
    yield
    assert set(codes) <= {1007}
    codes.clear()


@pytest.mark.parametrize(
    ("data", "index"),
    [
        (b"\xed\xa0\x80", 1),  # surrogate: CPython holds ED A0 back
        (b"\xed\xbf\xbf", 1),
        (b"\xf4\x90\x80\x80", 1),  # above U+10FFFF
        (b"\xe0\x80\x80", 1),  # overlong
        (b"\xf0\x80\x80\x80", 1),
        (b"\xc0\xaf", 0),
        (b"\xf5", 0),
        (b"\x80", 0),
        (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", 12),  # Autobahn 6.4.2-like
        (b"\xe2\x82\xac", None),
        (b"\xf0\x9f\x98\x80", None),
    ],
)
def test_fails_at_the_first_impossible_byte(data: bytes, index: int | None) -> None:
    assert fails_at(data) == index == first_invalid_byte(data)


@given(st.binary(max_size=12))
def test_matches_the_grammar_on_any_bytes(data: bytes) -> None:
    assert fails_at(data) == first_invalid_byte(data)


@given(st.text(max_size=50), st.lists(st.integers(0, 200), max_size=5))
def test_never_splits_a_character(text: str, cuts: list[int]) -> None:
    data = text.encode()
    decoder = Utf8Decoder()
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    pieces = [decoder.decode(data[a:b], final=b == len(data)) for a, b in itertools.pairwise(points)]
    assert "".join(pieces) == text


def test_truncated_end_fails_when_final() -> None:
    decoder = Utf8Decoder()
    assert decoder.decode(b"\xe2\x82", final=False) == ""
    with pytest.raises(RemoteProtocolError):
        decoder.decode(b"", final=True)


def test_lenient_decoder_replaces() -> None:
    decoder = Utf8Decoder(strict=False)
    assert decoder.decode(b"a\xed\xa0", final=False) == "a"
    assert decoder.decode(b"\x80b", final=True) == "\ufffd\ufffd\ufffdb"


@pytest.mark.parametrize(
    ("prefix", "valid"),
    [
        (b"\xc0", False),
        (b"\xf5", False),
        (b"\xe0\xa0", True),
        (b"\xf0\x90\x80", True),
        (b"\xf0\x90\xc0", False),
    ],
)
def test_prefix_grammar(prefix: bytes, valid: bool) -> None:
    assert _is_valid_prefix(prefix) is valid


def _first_failure(check_each: Callable[[bytes], None], data: bytes) -> tuple[int, int, str] | None:
    """Where feeding *data* a byte at a time first fails: the index, the close code and the words."""
    for index in range(len(data)):
        try:
            check_each(data[index : index + 1])
        except RemoteProtocolError as exc:
            return index, exc.close_code, str(exc)
    return None


@given(st.binary(max_size=40), st.binary(min_size=4, max_size=4), st.booleans())
def test_arriving_text_fails_where_the_decoder_fails(payload: bytes, key: bytes, masked: bool) -> None:
    """Byte by byte, the grammar walk fails at the same byte, with the same words, as the decoder."""
    header = b"\x81\xa8" + key if masked else b"\x81\x28"
    # One byte more to come: the byte that makes a frame whole is left to the parse.
    arriving = ArrivingText(len(header), len(header) + len(payload) + 1, masked)
    arriving.check(header, 0)  # the key is learnt from the header
    wire = apply_mask(payload, key) if masked else payload
    position = [len(header)]

    def arrive(byte: bytes) -> None:
        arriving.check(byte, position[0])
        position[0] += 1

    decoder = Utf8Decoder()
    assert _first_failure(arrive, wire) == _first_failure(lambda byte: decoder.check(byte, False), payload)


@given(st.binary(max_size=60), st.lists(st.integers(1, 7), max_size=20), st.binary(min_size=4, max_size=4))
def test_arriving_text_in_pieces_fails_at_the_first_piece_that_makes_it_invalid(
    payload: bytes, cuts: list[int], key: bytes
) -> None:
    """Pieces of any size, with the header before the payload and the next frame after it."""
    header, after = b"\x81\xfe\x00\x00" + key, b"\x81\x85next!"
    wire = header + apply_mask(payload, key) + after
    arriving = ArrivingText(len(header), len(header) + len(payload), True)

    def prefix_fails(end: int) -> bool:
        """Whether the payload bytes in wire[:end] cannot begin valid UTF-8."""
        try:
            Utf8Decoder().check(payload[: max(0, min(end - len(header), len(payload)))], False)
        except RemoteProtocolError:
            return True
        return False

    start = 0
    for size in [*cuts, len(wire)]:
        piece = wire[start : start + size]
        try:
            arriving.check(piece, start)
        except RemoteProtocolError:
            assert prefix_fails(start + len(piece))
            assert not prefix_fails(start)
            return
        if start + len(piece) >= len(header) + len(payload):
            break  # the frame is whole: the parse that follows checks it
        start += len(piece)
    assert not prefix_fails(start)

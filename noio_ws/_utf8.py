"""Fail-fast incremental UTF-8 validation (RFC 6455 section 8.1).

Text must be valid UTF-8, and a peer that sends an invalid byte should be failed
at that byte, not at the end of the message (Autobahn 6.4.x checks this). CPython's
incremental decoder does the work in C and fails at once on most invalid bytes,
but it holds some impossible prefixes until the next byte arrives (``ED A0``: a
surrogate; older versions also ``F4 90``: above U+10FFFF). So after each piece we
check the bytes it holds back against the UTF-8 grammar (RFC 3629 section 4).

Rules of this module:
- ``Utf8Decoder`` makes the ``str`` of a text message; ``Utf8Validator`` checks its
  bytes and keeps none of its text. Both fail at the first invalid byte (1007) and
  hand out whole characters only.
- Pure Python has no UTF-8 check that builds no ``str`` and is fast: a regular
  expression over bytes is some 80 times slower than decoding on CJK text. So
  ``Utf8Validator`` takes ``bytes.isascii()`` where it can and otherwise decodes in
  slices of at most ``_SLICE`` bytes, each result dropped at once: the extra memory
  is bounded by the slice, not by the message.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import NoReturn, Protocol

from ._errors import RemoteProtocolError
from ._mask import ACCELERATED, apply_mask

__all__ = [
    "ArrivingText",
    "ArrivingTextPython",
    "TextCheck",
    "Utf8Decoder",
    "Utf8Validator",
    "decode_text",
    "incomplete_tail",
    "invalid_sequence",
    "is_valid_utf8",
]

# Second-byte ranges that differ from the usual 80-BF (RFC 3629 section 4).
_SECOND_BYTE = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}
_SLICE = 64 << 10  # the most bytes decoded at once only to be checked (a str of at most 256 KiB)
_IncrementalDecoder = codecs.getincrementaldecoder("utf-8")


def _is_valid_prefix(pending: bytes) -> bool:
    """Whether *pending* (1-3 bytes) can still grow into one valid character."""
    lead = pending[0]
    if not 0xC2 <= lead <= 0xF4:
        return False
    if len(pending) > 1:
        low, high = _SECOND_BYTE.get(lead, (0x80, 0xBF))
        if not low <= pending[1] <= high:
            return False
    return all(0x80 <= byte <= 0xBF for byte in pending[2:])


def decode_text(data: bytes, strict: bool, what: str = "text") -> str:
    """All of *data* as text; with *strict*, invalid UTF-8 fails with 1007, else it becomes U+FFFD."""
    try:
        return data.decode("utf-8", "strict" if strict else "replace")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError(f"invalid UTF-8 in {what}: {exc.reason}", 1007) from None


class Utf8Decoder:
    """Decode a text message piece by piece; never split a character.

    With ``strict=False`` invalid sequences become U+FFFD instead of an error.
    """

    __slots__ = ("_decoder", "_strict")

    def __init__(self, strict: bool = True) -> None:
        self._strict = strict
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict" if strict else "replace")

    def decode(self, data: bytes | memoryview, final: bool) -> str:
        """The characters completed by *data*; raise 1007 at the first invalid byte."""
        try:
            text: str = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f"invalid UTF-8 in text: {exc.reason}", 1007) from None
        if self._strict and not final:
            pending = self._decoder.getstate()[0]
            if pending and not _is_valid_prefix(pending):
                raise RemoteProtocolError(
                    f"invalid UTF-8 in text: impossible sequence {pending.hex(' ')}", 1007
                )
        return text

    def check(self, data: bytes | memoryview, final: bool) -> None:
        """``decode()`` for its checks alone, where the text is not needed."""
        self.decode(data, final)


def incomplete_tail(data: bytes | bytearray | memoryview) -> int:
    """How many bytes at the end of *data* start a character it does not finish (0-3).

    Looks at the last three bytes only and checks nothing: for cutting unchecked
    text at a character boundary.
    """
    size = len(data)
    for back in range(1, min(size, 3) + 1):
        byte = data[size - back]
        if byte < 0x80:
            return 0
        if byte >= 0xC0:  # a lead byte: 2, 3 or 4 bytes long
            return back if back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4) else 0
    return 0


def is_valid_utf8(data: bytes | bytearray | memoryview) -> bool:
    """Whether *data* is UTF-8 text on its own (whole characters), without keeping a str."""
    if type(data) is not memoryview:
        if data.isascii():
            return True
        if len(data) <= _SLICE:
            try:
                data.decode()  # the fastest check there is; the str goes at once
            except UnicodeDecodeError:
                return False
            return True
    try:
        Utf8Validator().check(data, True)
    except RemoteProtocolError:
        return False
    return True


class Utf8Validator:
    """Check a text message piece by piece as UTF-8 bytes; never split a character.

    *pending* resumes a message whose pieces so far end inside a character. With
    ``strict=False`` nothing is checked, but ``whole()`` still cuts at character
    boundaries.
    """

    __slots__ = ("_decoder", "_pending")

    def __init__(self, strict: bool = True, pending: bytes = b"") -> None:
        self._decoder = _IncrementalDecoder() if strict else None
        self._pending = pending
        if pending and self._decoder is not None:
            self._decoder.setstate((pending, 0))

    @property
    def pending(self) -> bytes:
        """The start of a character that the pieces so far leave unfinished."""
        return self._pending

    def check(self, data: bytes | bytearray | memoryview, final: bool) -> None:
        """Check the next piece; raise 1007 at the first invalid byte.

        A message that ends (*final*) inside a character is invalid too.
        """
        decoder = self._decoder
        if decoder is None:
            self.skip(data)
            return
        size = len(data)
        if not self._pending and type(data) is bytes and data.isascii():
            return  # nothing held back before it, nothing after it
        view = memoryview(data) if size > _SLICE else data
        try:
            for start in range(0, size or 1, _SLICE):
                decoder.decode(view[start : start + _SLICE], final and start + _SLICE >= size)
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f"invalid UTF-8 in text: {exc.reason}", 1007) from None
        pending = b"" if final else decoder.getstate()[0]
        if pending and not _is_valid_prefix(pending):
            raise RemoteProtocolError(f"invalid UTF-8 in text: impossible sequence {pending.hex(' ')}", 1007)
        self._pending = pending

    def skip(self, data: bytes | bytearray | memoryview) -> None:
        """Take the next piece unchecked (its sender vouches for it): only follow where characters end."""
        recent = self._pending + bytes(data[-3:])
        held = incomplete_tail(recent)
        self._pending = recent[len(recent) - held :] if held else b""
        if self._decoder is not None:
            self._decoder.setstate((self._pending, 0))

    def whole(self, data: bytes, final: bool) -> bytes:
        """Check the next piece; the whole characters it completes, as bytes."""
        before = self._pending
        self.check(data, final)
        if before:
            data = before + data
        held = len(self._pending)
        return data[: len(data) - held] if held else data


def _continuations(lead: int) -> tuple[int, int, int] | None:
    """For a lead byte: how many bytes follow, and the range of the first (RFC 3629 section 4)."""
    if 0xC2 <= lead <= 0xDF:
        return 1, 0x80, 0xBF
    if 0xE0 <= lead <= 0xEF:
        return (2, *_SECOND_BYTE.get(lead, (0x80, 0xBF)))
    if 0xF0 <= lead <= 0xF4:
        return (3, *_SECOND_BYTE.get(lead, (0x80, 0xBF)))
    return None  # a continuation byte, C0, C1 or F5-FF: never a lead


_LEADS = {lead: _continuations(lead) for lead in range(0x80, 0x100)}


def invalid_sequence(sequence: bytes) -> RemoteProtocolError:
    """The error for text made invalid by *sequence*: a begun character, its invalid byte, what followed.

    The decoder's own words, so every check of arriving text says the same.
    """
    try:
        Utf8Decoder().check(sequence, False)
    except RemoteProtocolError as exc:
        return exc
    raise AssertionError(f"{sequence.hex(' ')} is not invalid UTF-8")  # pragma: no cover


class TextCheck(Protocol):
    """What the reader needs of an ``ArrivingText``, compiled or not."""

    def check(self, data: bytes | bytearray | memoryview, position: int, /) -> None:
        """Check *data*, received at *position* in the buffer, unless it makes the frame whole."""


class ArrivingTextPython:
    """The check of a text frame's payload as it arrives in a buffer, before the frame is whole.

    A byte at a time, it walks the UTF-8 grammar itself (a few comparisons, no
    call); pieces of several bytes go to a ``Utf8Decoder``, which then takes over.
    An invalid byte raises what the decoder would say about it. The accelerator's
    ``ArrivingText`` walks the grammar over every piece and must agree with this
    one, error words included (``tests/test_speedups.py``).
    """

    __slots__ = ("_char", "_decoder", "_end", "_high", "_low", "_mask", "_needed", "_start")

    def __init__(self, start: int, end: int, masked: int) -> None:
        self._start = start  # where the payload begins in the buffer, and ends
        self._end = end
        # The key is learnt as it passes, in the four bytes before the payload.
        self._mask = bytearray(4) if masked else None
        self._decoder: Utf8Decoder | None = None  # from the first piece of several bytes not ASCII
        # The character begun byte by byte: its bytes so far, how many are still
        # needed, and the range the next one must fall in.
        self._char = b""
        self._needed = 0
        self._low = 0x80
        self._high = 0xBF

    def check(self, data: bytes | bytearray | memoryview, position: int) -> None:
        """Check *data*, received at *position* in the buffer; 1007 at an invalid byte.

        Data that makes the frame whole is not checked: the parse that follows checks
        the whole frame.
        """
        if position + len(data) >= self._end:
            return
        offset = position - self._start
        if len(data) == 1 and self._decoder is None:
            if offset < 0:  # a header byte: the key's is kept
                if offset >= -4 and self._mask is not None:
                    self._mask[offset + 4] = data[0]
                return
            byte = data[0] ^ (self._mask[offset & 3] if self._mask else 0)
            if byte < 0x80 and not self._needed:  # the common case, inline
                return
            self._check_byte(byte)
            return
        # Only the payload: the header's last bytes may come first (the frame is not whole yet,
        # so nothing of the next frame comes after).
        first = max(-offset, 0)
        if self._mask is not None and offset < 0:
            for index in range(max(-offset - 4, 0), min(first, len(data))):
                self._mask[offset + index + 4] = data[index]
        with memoryview(data) as view, view[first:] as payload:
            piece = bytes(payload) if self._mask is None else apply_mask(payload, self._mask, offset + first)
        if self._decoder is None:
            if not self._needed and piece.isascii():
                return
            self._decoder = Utf8Decoder()
            piece, self._char = self._char + piece, b""
        self._decoder.check(piece, False)

    def _check_byte(self, byte: int) -> None:
        """One byte that is not ASCII, or that continues a character."""
        if self._needed:
            if not self._low <= byte <= self._high:
                self._fail(byte)
            self._needed -= 1
            self._low, self._high = 0x80, 0xBF
            self._char = self._char + bytes((byte,)) if self._needed else b""
        else:
            rule = _LEADS[byte]
            if rule is None:
                self._fail(byte)
            self._needed, self._low, self._high = rule
            self._char = bytes((byte,))

    def _fail(self, byte: int) -> NoReturn:
        """Raise the decoder's own words about the character that *byte* makes impossible."""
        raise invalid_sequence(self._char + bytes((byte,)))


#: ``ArrivingText(start, end, masked)``: the compiled one when the accelerator is used.
ArrivingText: Callable[[int, int, int], TextCheck] = ArrivingTextPython
if ACCELERATED:  # pragma: no branch - one side per build; CI runs both
    from ._speedups import ArrivingText as _CompiledArrivingText

    ArrivingText = _CompiledArrivingText

"""Fail-fast incremental UTF-8 validation (RFC 6455 section 8.1).

Text must be valid UTF-8, and a peer that sends an invalid byte should be failed
at that byte, not at the end of the message (Autobahn 6.4.x checks this). CPython's
incremental decoder does the work in C and fails at once on most invalid bytes,
but it holds some impossible prefixes until the next byte arrives (``ED A0``: a
surrogate; older versions also ``F4 90``: above U+10FFFF). So after each piece we
check the bytes it holds back against the UTF-8 grammar (RFC 3629 section 4).
"""

from __future__ import annotations

import codecs

from ._errors import RemoteProtocolError

__all__ = ["Utf8Decoder"]

# Second-byte ranges that differ from the usual 80-BF (RFC 3629 section 4).
_SECOND_BYTE = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


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

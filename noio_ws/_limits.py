"""The receive limits of one connection, kept in one place: ``Budget``.

Rules of this module:
- ``max_message_size`` and ``max_frame_size`` are checked from a frame's header,
  before its payload is waited for (RFC 6455 section 10.4: an endpoint MAY limit
  sizes, and a peer over them gets 1009). Every 1009 of the receive side is
  raised here, so the messages read the same wherever the limit is met.
- The options are validated here too, for the connection and for the handshakes
  that pass them on (a bad value fails at construction, not after a handshake).
- Extensions transform frames (deflate compresses), so with extensions two sizes
  count: the frame on the wire, held to a little more than the limit, and the
  message after decoding, held to the limit exactly.
"""

from __future__ import annotations

from typing import NoReturn

from ._errors import RemoteProtocolError

__all__ = ["NO_LIMIT", "Budget", "check_limits"]

NO_LIMIT = 1 << 64  # above any length a frame header can carry


def check_limits(
    max_message_size: int | None, max_frame_size: int | None, max_send_frame_size: int | None
) -> None:
    """Raise ``ValueError`` for a limit that cannot be meant."""
    for name, limit in (("max_message_size", max_message_size), ("max_frame_size", max_frame_size)):
        if limit is not None and limit < 0:
            raise ValueError(f"{name} must be None or at least 0, not {limit}")
    if max_send_frame_size is not None and max_send_frame_size < 1:
        raise ValueError(f"max_send_frame_size must be None or at least 1, not {max_send_frame_size}")


class Budget:
    """What a connection accepts from its peer: the options, and the numbers compared with.

    The numbers are plain ints (``NO_LIMIT`` for none), so each check on the
    hot paths is one comparison.
    """

    __slots__ = ("batch_frame", "frame", "max_frame_size", "max_message_size", "message", "wire_message")

    def __init__(self, max_message_size: int | None, max_frame_size: int | None, transformed: bool) -> None:
        self.max_message_size = max_message_size
        self.max_frame_size = max_frame_size
        self.frame = NO_LIMIT if max_frame_size is None else max_frame_size
        #: The message limit after decoding.
        self.message = NO_LIMIT if max_message_size is None else max_message_size
        # What extensions decode may be a little larger on the wire than after
        # decoding (deflate grows incompressible data by well under 1/2048 plus a
        # few bytes); the decoded size is then held to the limit exactly.
        allowance = (self.message >> 11) + 64 if transformed and max_message_size is not None else 0
        #: The message limit on the wire, over the frames' payloads.
        self.wire_message = self.message + allowance
        #: The largest frame the batch loop takes whole, with no check of its own.
        self.batch_frame = min(self.frame, self.wire_message)

    def check_header(self, length: int, used: int) -> None:
        """A frame of *length* bytes arrives for a message that has *used* bytes so far."""
        if length > self.frame or used + length > self.wire_message:
            self._refuse(length, used)

    def _refuse(self, length: int, used: int) -> NoReturn:
        if length > self.frame:
            raise RemoteProtocolError(f"{length}-byte frame exceeds the limit of {self.max_frame_size}", 1009)
        self.refuse_message(used + length)

    def refuse_message(self, size: int) -> NoReturn:
        """Fail a message of at least *size* bytes: it is over the limit."""
        raise RemoteProtocolError(
            f"message of at least {size} bytes exceeds the limit of {self.max_message_size}", 1009
        )

    def left(self, used: int) -> int | None:
        """What a decoder may still produce for a message that has *used* bytes so far."""
        return None if self.max_message_size is None else self.max_message_size - used

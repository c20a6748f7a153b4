"""``Deadlines``: keepalive pings and the close timeout, as data on the caller's clock.

Rules of this module:
- No clock of its own and no I/O: every method takes ``now``, a number read from
  the caller's clock (``time.monotonic()``, ``loop.time()``,
  ``trio.current_time()``, a fake clock in tests), and the same clock throughout.
  Time never goes backwards: a ``now`` earlier than the last one seen is a
  ``ValueError``, so a mixed-up clock fails loudly instead of silencing a timer.
- Bytes come only from ``Connection.send()``: ``expire()`` sends the keepalive
  Ping through the connection (the h11 shape) and hands the bytes back to write.
- ``deadline`` is the one moment ``expire()`` must next be called, or None. After
  any call (to this object or to the connection) an event loop reschedules its
  one timer at ``deadline``; nothing needs polling. An ``expire()`` before the
  deadline returns ``b""`` and changes nothing, so a timer that fires early, or
  late after the deadline moved, is harmless.
- At most one thing is pending at a time: the next Ping, the wait for its Pong,
  or, once our Close is out, the close timeout.

Keepalive. After ``ping_interval`` seconds in which no bytes arrived
(``data_received()`` restarts the count), and only while the connection is OPEN,
``expire()`` sends a Ping whose payload is a fixed prefix and an 8-byte counter.
Only a Pong with exactly that payload answers it: unsolicited Pongs, and Pongs
answering the application's own Pings, do not. If no such Pong arrives within
``ping_timeout`` of sending, ``expire()`` returns ``Expired.PEER_UNRESPONSIVE``,
once; keepalive then stops. With ``ping_timeout=None`` the peer is never
declared dead and a new Ping replaces an unanswered one after another
``ping_interval`` of silence (RFC 6455 section 5.5.3 lets a peer answer only the
latest Ping, so only the latest is matched).

Received data postpones the next Ping but does not stand in for the Pong. Bytes
arriving prove that the peer sent them, perhaps long ago, not that it is reading
what we send: a peer stuck writing to us while never reading would otherwise
look alive for ever. The Pong proves the whole round trip, and gives
``latency``. Do set ``ping_timeout`` above the time your largest frame takes to
arrive, since a Pong cannot overtake a frame already on the wire.

Closing. ``close_sent(now)`` (after sending our Close, or replying to theirs)
stops keepalive and starts the close timeout: ``close_timeout`` seconds later
``expire()`` returns ``Expired.CLOSE_TIMEOUT``, once, and the embedding aborts
the transport. The embedding stops asking once the transport is closed: a
client waits for the server's EOF after the Close exchange (RFC 6455 section
7.1.1, so the timeout also bounds that wait), a server closes the transport
itself once the peer's Close arrived.
"""

from __future__ import annotations

import enum
import math

from ._connection import Connection
from ._events import Event, Ping, Pong
from ._state import State

__all__ = ["Deadlines", "Expired"]

# Recognisable among the application's own Pings; the counter follows.
_PING_PREFIX = b"noio_ws keepalive "


class Expired(enum.Enum):
    """What ``Deadlines.expire()`` says ran out."""

    #: No matching Pong within ``ping_timeout``. Send ``Close(1011, "keepalive
    #: ping timeout")`` through ``Connection.send()``, call ``close_sent(now)``
    #: and keep reading until the close handshake ends or ``CLOSE_TIMEOUT``.
    #: Recommended over aborting at once: a peer that is slow rather than gone
    #: learns why it was dropped and the close stays clean (section 7.1.1),
    #: and ``close_timeout`` bounds what waiting costs. Abort at once only when
    #: there is no close timeout or the Close cannot be written.
    PEER_UNRESPONSIVE = "peer-unresponsive"
    #: ``close_timeout`` passed after our Close without the close handshake
    #: finishing (and, for a client, without the server's EOF): abort the
    #: transport.
    CLOSE_TIMEOUT = "close-timeout"


class Deadlines:
    """Keepalive and close deadlines for one ``Connection``, on the caller's clock.

    Args:
        connection: The connection the Pings are sent through.
        now: The current time on the caller's clock; the silence counts from here.
        ping_interval: Seconds of silence before a keepalive Ping; None: no keepalive.
        ping_timeout: Seconds a keepalive Ping may wait for its Pong; None: wait
            for ever (and re-ping). Ignored without ``ping_interval``.
        close_timeout: Seconds after our Close before giving up on the close
            handshake; None: no limit. Zero gives up at the next ``expire()``.

    Raises:
        ValueError: a negative, zero (except ``close_timeout``), NaN or infinite
            duration, or a ``now`` that is not a finite number.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        now: float,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        close_timeout: float | None = None,
    ) -> None:
        self._conn = connection
        self._ping_interval = _duration("ping_interval", ping_interval, zero_ok=False)
        self._ping_timeout = _duration("ping_timeout", ping_timeout, zero_ok=False)
        self._close_timeout = _duration("close_timeout", close_timeout, zero_ok=True)
        if not (isinstance(now, (int, float)) and math.isfinite(now)):
            raise ValueError(f"now must be a finite number, not {now!r}")
        self._now = now
        self._heard_at = now  # when bytes last arrived (or when we started)
        self._ping_payload: bytes | None = None  # the keepalive Ping awaiting its Pong
        self._ping_sent_at = now
        self._pings_sent = 0
        self._latency: float | None = None
        self._gave_up = False  # PEER_UNRESPONSIVE was returned: keepalive is over
        self._closing = False  # close_sent() was called
        self._close_at: float | None = None  # None: no close deadline (or it was returned)

    def __repr__(self) -> str:
        return f"<Deadlines deadline={self.deadline!r} ping_in_flight={self.ping_in_flight}>"

    @property
    def deadline(self) -> float | None:
        """When ``expire()`` must next be called; None: never (until something changes)."""
        if self._closing:
            return self._close_at
        if self._ping_interval is None or self._gave_up or self._conn.state is not State.OPEN:
            return None
        if self._ping_payload is not None and self._ping_timeout is not None:
            return self._ping_sent_at + self._ping_timeout
        return max(self._heard_at, self._ping_sent_at) + self._ping_interval

    @property
    def latency(self) -> float | None:
        """Seconds from the last answered keepalive Ping to its Pong; None before one."""
        return self._latency

    @property
    def ping_in_flight(self) -> bool:
        """Whether a keepalive Ping awaits its Pong."""
        return self._ping_payload is not None

    def data_received(self, now: float) -> None:
        """Bytes from the peer arrived: the silence before the next Ping starts again.

        Call it when the bytes arrive (before feeding the events they carry to
        ``event_received()`` and before the next ``expire()``).
        """
        self._advance(now)
        self._heard_at = now

    def event_received(self, event: Event, now: float) -> None:
        """The connection returned *event*: a Pong may answer the keepalive Ping."""
        self._advance(now)
        if isinstance(event, Pong) and self._ping_payload is not None and event.payload == self._ping_payload:
            self._ping_payload = None
            self._latency = now - self._ping_sent_at

    def close_sent(self, now: float) -> None:
        """We sent a Close, or replied to theirs: keepalive stops, the close timeout starts.

        Only the first call counts: the close handshake is timed from our first Close.
        """
        self._advance(now)
        if self._closing:
            return
        self._closing = True
        self._ping_payload = None
        if self._close_timeout is not None:
            self._close_at = now + self._close_timeout

    def expire(self, now: float) -> bytes | Expired:
        """Act on what is due at *now*.

        Returns:
            ``b""`` if nothing is due yet, the bytes of a keepalive Ping to
            write, or what ran out (see ``Expired``).
        """
        self._advance(now)
        deadline = self.deadline
        if deadline is None or now < deadline:
            return b""
        if self._closing:
            self._close_at = None
            return Expired.CLOSE_TIMEOUT
        if self._ping_payload is not None and self._ping_timeout is not None:
            self._ping_payload = None
            self._gave_up = True
            return Expired.PEER_UNRESPONSIVE
        self._pings_sent += 1
        self._ping_payload = _PING_PREFIX + self._pings_sent.to_bytes(8, "big")
        self._ping_sent_at = now
        return self._conn.send(Ping(self._ping_payload))

    def _advance(self, now: float) -> None:
        # Written so that NaN (every comparison false) fails too.
        if not self._now <= now < math.inf:
            raise ValueError(f"time went backwards, or is not finite: {now!r} after {self._now!r}")
        self._now = now


def _duration(name: str, value: float | None, *, zero_ok: bool) -> float | None:
    if value is None:
        return None
    if not (isinstance(value, (int, float)) and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number of seconds or None, not {value!r}")
    if value < 0 or (value == 0 and not zero_ok):
        least = "at least 0" if zero_ok else "more than 0"
        raise ValueError(f"{name} must be {least} seconds or None, not {value!r}")
    return value

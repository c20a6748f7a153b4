"""The event pump: a connection's bytes in, its events out, the replies the RFC demands.

Rules of this module:
- Written once for the echo server, the client and the demo; they differ only
  in what they do with the events ``receive()`` returns.
- The ``Connection`` never writes: every byte on the wire comes from ``send()``,
  and the replies the RFC demands (Pong, the answering Close, the failing Close
  of a protocol error) are written here, explicitly.
- One asyncio timer per connection, kept at ``Deadlines.deadline`` on ``loop.time()``.
- Backpressure, where asked for (the server): a peer's bytes are read only after
  what we owe it has drained, so a peer that never reads stalls only itself. A
  client must keep reading, or it and its server could each wait for the other.
- One task at a time awaits ``drain()`` (Python 3.10 asserts it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .. import Close, Connection, Deadlines, Event, Expired, Ping, RemoteProtocolError, Signal, State
from ._show import Trace, describe, frame_summary, hexdump

__all__ = [
    "CLOSE_TIMEOUT",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_TIMING",
    "PING_INTERVAL",
    "PING_TIMEOUT",
    "READ_SIZE",
    "WRITE_BUFFER_HIGH",
    "EventPump",
    "Timing",
]

#: The largest message a connection accepts unless told otherwise (``--max-size``).
DEFAULT_MAX_SIZE = 16 << 20
#: Bytes asked of the transport per read; also the stream buffer's limit.
READ_SIZE = 64 << 10
#: Above this many unsent bytes, ``drain()`` waits for the peer to read.
WRITE_BUFFER_HIGH = 64 << 10
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Timing:
    """The timers of a connection, in seconds; None turns one off (``Deadlines``' arguments)."""

    ping_interval: float | None = PING_INTERVAL
    ping_timeout: float | None = PING_TIMEOUT
    close_timeout: float | None = CLOSE_TIMEOUT


DEFAULT_TIMING = Timing()  # frozen: one default for all is safe


class EventPump:
    """One open WebSocket connection on asyncio streams, and its timer.

    Args:
        reader, writer: The streams, after the opening handshake.
        conn: The open ``Connection``.
        timing: Keepalive and close timeouts.
        backpressure: Drain what we owe the peer before reading more from it.
        before_read: Called before each wait for the peer's bytes (the client
            flushes its stdout there).
        side: Which side this is ("server", "client"), for the narration.
        trace: Called with a line for every event received and frame sent (the demo).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: Connection,
        *,
        side: str,
        timing: Timing,
        backpressure: bool = False,
        before_read: Callable[[], object] | None = None,
        trace: Trace | None = None,
    ) -> None:
        self.conn = conn
        self._reader = reader
        self._writer = writer
        self._backpressure = backpressure
        self._before_read = before_read
        self._trace = trace
        self._side = side
        self._drain_lock = asyncio.Lock()
        # drain() waits while more than this is unsent: memory stays bounded
        # whatever the peer does (and, with backpressure, we stop reading from it).
        writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self._loop = asyncio.get_running_loop()
        self._deadlines = Deadlines(conn, now=self._loop.time(), **asdict(timing))
        self._timer: asyncio.TimerHandle | None = None
        self.unresponsive = False  # we closed with 1011: no Pong came in time
        self.timed_out = False  # we dropped the transport: the close handshake did not end
        self._reschedule()

    # ---------------------------------------------------------------- receiving

    async def receive(self) -> Event | None:
        """The peer's next event, once the reply it calls for is written; None when closed.

        Raises:
            RemoteProtocolError: the peer broke the protocol; the failing Close
                is already written (the caller drops the connection).
        """
        conn = self.conn
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as err:
                if self._trace:
                    self._trace(f"  {self._side} failed the connection: {err} (close code {err.close_code})")
                if conn.state is State.FAILED:  # in LOCAL_CLOSING our Close is already out
                    # Not drained: nothing more is owed to a peer that broke the
                    # protocol, and whoever drops the transport bounds the wait.
                    self.write(Close(err.close_code))
                raise
            if event is Signal.NEED_DATA:
                await self._read()
                continue
            if event is Signal.CLOSED:
                return None
            self._deadlines.event_received(event, self._loop.time())
            self._reschedule()
            if self._trace:  # only then: describing every event would cost every connection
                self._trace(f"  {self._side} got   {describe(event)}")
            if isinstance(event, Ping) and conn.state is State.OPEN:
                await self._reply(event.response())  # after our own Close, nothing more
            elif isinstance(event, Close) and conn.state is State.REMOTE_CLOSING:
                await self._reply(event.response())  # else it answers our Close, or is EOF
            return event

    async def _read(self) -> None:
        if self._backpressure:
            await self.drain()  # what we owe this peer goes out first
        if self._before_read is not None:
            self._before_read()
        try:
            data = await self._reader.read(READ_SIZE)
        except OSError:
            data = b""  # a reset is an end of the transport, reported as 1006
        if data:
            self._deadlines.data_received(self._loop.time())
            self._reschedule()
        self.conn.receive_data(data)

    # ------------------------------------------------------------------ sending

    async def _reply(self, event: Event) -> None:
        self.write(event)
        if not self._backpressure:  # with it, the next read drains first
            await self.drain()

    def write(self, event: Event) -> None:
        """Write *event* now, without waiting for the peer to read it."""
        wire = self.conn.send(event)
        self._writer.write(wire)
        if self._trace:
            self._trace(f"  {self._side} sent  {describe(event)}")
            self._trace(f"    frame  {frame_summary(wire)}")
            self._trace(f"    wire   {hexdump(wire)}")
        if isinstance(event, Close):
            self._close_sent()

    async def send(self, event: Event) -> None:
        """Write *event*, then wait until the transport's buffer is low enough."""
        self.write(event)
        await self.drain()

    async def drain(self) -> None:
        """Wait until the transport's buffer is low enough (at once if it is empty)."""
        transport = self._writer.transport
        if not transport.get_write_buffer_size() and not transport.is_closing():
            return  # all sent: drain() would return at once, at the cost of a lock and two awaits
        async with self._drain_lock:
            await self._writer.drain()

    def go_away(self, close: Close) -> None:
        """Close on our own initiative (shutdown, a silent peer); not narrated."""
        self._writer.write(self.conn.send(close))
        self._close_sent()

    # ------------------------------------------------------------------ the end

    async def wait_closed(self) -> int:
        """Read until the peer closes TCP (a server does so first, RFC 6455 section 7.1.1).

        Returns how many bytes came first (discarded: nothing follows a Close).
        The close timeout, counted from our Close, bounds the wait: the timer
        aborts the transport, which ends the stream.
        """
        discarded = 0
        try:
            while data := await self._reader.read(READ_SIZE):
                discarded += len(data)
        except OSError:
            pass
        self.abort()
        return discarded

    def abort(self) -> None:
        """Drop the transport now, and the timer with it."""
        self.stop_timer()
        self._writer.transport.abort()

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---------------------------------------------------------------- the timer

    def _close_sent(self) -> None:
        self._deadlines.close_sent(self._loop.time())
        self._reschedule()

    def _reschedule(self) -> None:
        # Only ever earlier: a timer left at an older, earlier deadline fires, finds
        # nothing due (expire() returns b"") and moves on. So a busy connection costs
        # one wake-up per interval, not a new timer per read.
        due = self._deadlines.deadline
        if due is not None and (self._timer is None or due < self._timer.when()):
            self.stop_timer()
            self._timer = self._loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._writer.transport.is_closing():
            return  # the connection is ending: its owner stops us
        # Early (see above, and asyncio may run a timer up to its clock resolution
        # early): expire() returns b"" and the timer is set again.
        result = self._deadlines.expire(self._loop.time())
        if result is Expired.PEER_UNRESPONSIVE:
            self.unresponsive = True
            self.go_away(Close(1011, "keepalive ping timeout"))
        elif result is Expired.CLOSE_TIMEOUT:
            self.timed_out = True
            self._writer.transport.abort()  # the reading task then sees the end of the stream
        elif result:
            self._writer.write(result)  # a keepalive Ping
        self._reschedule()

"""One event-loop timer driven by ``Deadlines``.

Rules of this module:

- ``Deadlines`` owns the rules (when to ping, when the peer is dead, when to
  stop waiting for a Close); this class only keeps one ``loop.call_at`` handle at
  its ``deadline``, writes the keepalive Pings ``expire()`` gives, and calls
  back when something ran out.
- ``start()`` begins with a connection; ``heard()`` (bytes or a Pong arrived)
  and ``close_sent()`` tell ``Deadlines`` and move the handle; after anything
  else that may move the deadline, ``schedule()``. ``stop()`` ends it all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .. import Connection, Deadlines, Event, Expired

__all__ = ["DeadlineTimer"]


class DeadlineTimer:
    """The timer of one connection, on *loop*'s clock."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        write: Callable[[bytes], object],
        on_timeout: Callable[[Expired], None],
    ) -> None:
        self._loop = loop
        self._write = write
        self._on_timeout = on_timeout
        #: ``loop.time()`` of the last keepalive Ping written; 0.0 before the first.
        self.ping_sent_at = 0.0
        self.deadlines: Deadlines | None = None
        #: The pending timer, if any.
        self.handle: asyncio.TimerHandle | None = None

    def start(self, connection: Connection, **options: float | None) -> None:
        """Time *connection* from now on; *options* go to ``Deadlines``."""
        self.deadlines = Deadlines(connection, now=self._loop.time(), **options)
        self.schedule()

    def heard(self, event: Event | None = None) -> None:
        """Bytes arrived from the peer (and the events they carried, one by one)."""
        if self.deadlines is not None:
            if event is None:
                self.deadlines.data_received(self._loop.time())
            else:
                self.deadlines.event_received(event, self._loop.time())

    def close_sent(self) -> None:
        if self.deadlines is not None:
            self.deadlines.close_sent(self._loop.time())
        self.schedule()

    def schedule(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        deadline = self.deadlines.deadline if self.deadlines is not None else None
        if deadline is not None:
            self.handle = self._loop.call_at(deadline, self._fire)

    def stop(self) -> None:
        self.deadlines = None
        self.schedule()

    def _fire(self) -> None:
        self.handle = None
        if self.deadlines is None:
            return
        now = self._loop.time()
        outcome = self.deadlines.expire(now)
        self.schedule()
        if isinstance(outcome, Expired):
            self._on_timeout(outcome)
        elif outcome:
            self.ping_sent_at = now
            self._write(outcome)

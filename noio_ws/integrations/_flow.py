"""Back-pressure on one transport, both ways.

Rules of this module:

- Writing: ``writable`` is clear while the transport's buffer is over its high
  water mark (asyncio's ``pause_writing``) and set again below the low one, or
  when the transport is lost (asyncio never resumes a lost transport).
- Reading: ``pause_reading()`` and ``resume_reading()`` may be called any number
  of times; the transport hears of each change once, and nothing is asked of a
  transport that is closing.
"""

from __future__ import annotations

import asyncio

__all__ = ["Flow"]


class Flow:
    """Whether we may write, and whether we are reading."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.reading_paused = False

    def pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None and not self.transport.is_closing():
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.reading_paused:
            self.reading_paused = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

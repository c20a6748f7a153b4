"""``FakeClock``: time that moves only when a test moves it.

Rules of this module:
- A clock is a callable returning the current time in seconds, like
  ``time.monotonic``; anything that takes ``now`` from the caller's clock
  (``noio_ws.Deadlines``) can be driven by it.
- Time never goes backwards and never sleeps: ``advance()`` and
  ``advance_to()`` jump, and refuse a negative step or a NaN.
"""

from __future__ import annotations

import math

__all__ = ["FakeClock"]


class FakeClock:
    """A clock for tests: ``clock()`` is the current time, ``advance()`` moves it.

    Args:
        start: The time it shows at first, in seconds.

    Steps are added as floats, so ten steps of 0.1 make 0.9999999999999999,
    not 1.0: prefer steps that are exact in binary (0.5, 0.25) or compare with
    a tolerance.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = _finite("start", start)

    def __call__(self) -> float:
        """The current time, in seconds."""
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"

    def advance(self, seconds: float) -> float:
        """Move forward by *seconds* (0 or more); returns the new time."""
        if not _finite("seconds", seconds) >= 0:
            raise ValueError(f"a clock cannot go backwards: advance({seconds!r})")
        self._now += seconds
        return self._now

    def advance_to(self, moment: float) -> float:
        """Move forward to *moment*, which must not be in the past; returns it.

        Handy with a deadline: ``clock.advance_to(deadlines.deadline)``.
        """
        if not _finite("moment", moment) >= self._now:
            raise ValueError(f"a clock cannot go backwards: advance_to({moment!r}) at {self._now!r}")
        self._now = moment
        return self._now


def _finite(name: str, value: float) -> float:
    # bool is an int, but a clock set to True is a mistake.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, not {value!r}")
    return value

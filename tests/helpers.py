"""The old names of the test helpers, for the test files that still use them.

The helpers became the public kit ``noio_ws.testing``; new tests import it
directly. Nothing is defined here but two connection shorthands: every other name
is the kit's, under its old name.
"""

from __future__ import annotations

from noio_ws import Connection, Role
from noio_ws.testing import FIXED_MASK, fixed_mask_key, merge_pieces
from noio_ws.testing import feed_chunks as drain
from noio_ws.testing import feed_every_chunking as feed_every_split
from noio_ws.testing import raw_frame as frame

__all__ = ["FIXED_MASK", "client", "drain", "feed_every_split", "frame", "merge_pieces", "server"]


def client(**options: object) -> Connection:
    """A client that masks with ``FIXED_MASK``, so its output is reproducible."""
    return Connection(Role.CLIENT, mask_key_source=fixed_mask_key(), **options)  # type: ignore[arg-type]


def server(**options: object) -> Connection:
    return Connection(Role.SERVER, **options)  # type: ignore[arg-type]

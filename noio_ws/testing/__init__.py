"""``noio_ws.testing``: test WebSocket behaviour without a network.

A kit for unit tests of code built on noio_ws (an application protocol, a
reconnect policy, a server's handling of a misbehaving client), and for the
tests of noio_ws itself:

- ``connected_pair()``: a client and a server ``Connection``, after a real
  opening handshake if asked, joined by in-memory ``Link`` objects that move
  bytes only when the test says so (whole, in chunks, cut at an offset, held,
  dropped, followed by an end of file).
- ``hostile``: hand-crafted frames a broken or malicious peer might send, each
  with the close code noio_ws answers with; ``raw_frame()`` builds any other.
- ``FakeClock`` for ``noio_ws.Deadlines`` (or any code that takes the time from
  its caller), ``MaskKeys`` and ``fixed_mask_key()`` for reproducible client bytes.
- ``feed_chunks()``, ``every_chunking()``, ``feed_every_chunking()`` and
  ``merge_pieces()``: feed one connection every way its bytes can arrive.

Rules of this package:

- It imports the standard library, noio_ws and h11, nothing else: no test
  runner. Checks raise ``AssertionError`` themselves, so they work under
  pytest, unittest or a plain script.
- No threads, no sleeping, no real clock: a test that uses it is deterministic.
- ``import noio_ws`` does not import it; import ``noio_ws.testing`` explicitly.
"""

from . import hostile
from ._clock import FakeClock
from ._feeding import Outcome, every_chunking, feed_chunks, feed_every_chunking, merge_pieces
from ._masks import FIXED_MASK, MaskKeys, fixed_mask_key
from ._pair import ConnectedPair, Link, Peer, connected_pair, handshake_pair
from ._raw_frames import raw_frame

__all__ = [
    "FIXED_MASK",
    "ConnectedPair",
    "FakeClock",
    "Link",
    "MaskKeys",
    "Outcome",
    "Peer",
    "connected_pair",
    "every_chunking",
    "feed_chunks",
    "feed_every_chunking",
    "fixed_mask_key",
    "handshake_pair",
    "hostile",
    "merge_pieces",
    "raw_frame",
]

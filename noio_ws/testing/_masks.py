"""Mask keys that are the same on every run, for ``Connection(mask_key_source=...)``.

Rules of this module:
- For tests only. RFC 6455 section 10.3 requires a client's mask keys to be
  unpredictable; these are predictable on purpose, so that a client's bytes
  can be written down in a test and compared.
- A source is a callable with no arguments returning 4 bytes, as
  ``Connection`` expects.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["FIXED_MASK", "MaskKeys", "fixed_mask_key"]

#: The key ``fixed_mask_key()`` returns by default and the hostile frames
#: aimed at a server are masked with. Every byte is non-zero and they all
#: differ, so a frame masked with it never reads as its plain payload.
FIXED_MASK = b"\x37\xfa\x21\x3d"


def fixed_mask_key(key: bytes = FIXED_MASK) -> Callable[[], bytes]:
    """A mask-key source that returns *key* for every frame.

    ``fixed_mask_key(bytes(4))`` masks with zeros: the masked payload is the
    payload itself, which makes a client's frames easy to read.
    """
    key = _four_bytes(key)
    return lambda: key


class MaskKeys:
    """A mask-key source drawing different keys from a seeded generator.

    Two sources with the same *seed* give the same keys in the same order, so
    a client built with ``MaskKeys(seed)`` sends the same bytes on every run,
    while its frames are still masked with varied keys.
    """

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)  # deterministic on purpose (see the module rules)

    def __call__(self) -> bytes:
        """The next key: 4 bytes."""
        return self._random.randbytes(4)


def _four_bytes(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) != 4:
        raise ValueError(f"a mask key is 4 bytes, not {key!r}")
    return key

"""Masking (RFC 6455 section 5.3), and the choice of the compiled helper that does it.

Rules of this module:
- Masking and unmasking are the same XOR with a 4-byte key; *offset* says how
  far into the key a piece starts, so a payload can be unmasked as it arrives.
- ``apply_mask`` and ``apply_mask_into`` are the C versions from ``_speedups``
  when it is built and ``NOIO_WS_PURE_PYTHON`` is not set, the pure-Python ones
  otherwise; both give the same answers (``tests/test_frame.py`` checks).
"""

from __future__ import annotations

import functools
import os

__all__ = ["ACCELERATED", "apply_mask", "apply_mask_into", "apply_mask_into_python", "apply_mask_python"]

_from_bytes = int.from_bytes


def apply_mask_python(
    data: bytes | bytearray | memoryview, key: bytes | bytearray | memoryview, offset: int = 0, /
) -> bytes:
    """XOR *data* with the 4-byte *key*, starting *offset* bytes into the key.

    Masking and unmasking are the same operation (section 5.3). Small payloads
    take one XOR of two big integers (in C, no loop over bytes); from a few KiB
    on, four strided ``translate`` calls through XOR tables are three times faster.
    """
    size = len(data)
    if type(key) is not bytes:
        key = bytes(key)
    if offset & 3:
        key = key[offset & 3 :] + key[: offset & 3]
    if size < _TRANSLATE_FROM:
        return (
            _from_bytes(data, "little") ^ _from_bytes((key * ((size >> 2) + 1))[:size], "little")
        ).to_bytes(size, "little")
    out = bytearray(data)
    for lane in range(4):
        out[lane::4] = out[lane::4].translate(_xor_table(key[lane]))
    return bytes(out)


_TRANSLATE_FROM = 4096


def apply_mask_into_python(
    target: bytearray | memoryview,
    data: bytes | bytearray | memoryview,
    key: bytes | bytearray | memoryview,
    offset: int = 0,
    /,
) -> None:
    """Write ``apply_mask(data, key, offset)`` into *target*, a writable buffer of the same size."""
    if len(target) != len(data):
        raise ValueError("the target and the data differ in size")
    target[:] = apply_mask_python(data, key, offset)


@functools.cache
def _xor_table(byte: int) -> bytes:
    """The ``translate`` table that XORs every byte with *byte* (at most 256 of them)."""
    return bytes(value ^ byte for value in range(256))


apply_mask = apply_mask_python
apply_mask_into = apply_mask_into_python
#: Whether the optional C accelerator does the masking (see _speedups.c). It
#: gives the same answers; NOIO_WS_PURE_PYTHON=1 turns it off, for testing.
ACCELERATED = False
# Coverage: one test process takes one side of each of these branches; CI runs
# the suite with and without NOIO_WS_PURE_PYTHON, and test_frame.py checks the
# switch in a subprocess. An unbuilt accelerator (ImportError) is the same path
# as the switch.
if not os.environ.get("NOIO_WS_PURE_PYTHON"):  # pragma: no branch
    try:
        from ._speedups import apply_mask, apply_mask_into
    except ImportError:  # pragma: no cover - not built: no compiler, or an unusual platform
        pass
    else:
        ACCELERATED = True

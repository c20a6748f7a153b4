"""Header decoding, serialisation and masking, against the RFC 6455 examples and hypothesis."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noio_ws import RemoteProtocolError
from noio_ws._frame import parse_header, serialize
from noio_ws._mask import apply_mask, apply_mask_into_python, apply_mask_python


def test_rfc_6455_section_5_7_examples() -> None:
    # A single-frame unmasked text message, and the same masked.
    assert serialize(0x81, b"Hello", None) == bytes.fromhex("810548656c6c6f")
    masked = bytes.fromhex("818537fa213d7f9f4d5158")
    assert serialize(0x81, b"Hello", bytes.fromhex("37fa213d")) == masked
    assert parse_header(masked) == (6, 5, bytes.fromhex("37fa213d"))
    assert apply_mask(masked[6:], masked[2:6]) == b"Hello"
    # 256 bytes and 64 KiB binary messages in a single unmasked frame.
    assert serialize(0x82, bytes(256), None)[:4] == bytes.fromhex("827e0100")
    assert serialize(0x82, bytes(65536), None)[:10] == bytes.fromhex("827f0000000000010000")


@pytest.mark.parametrize("wire", [b"", b"\x81", b"\x81\x7e", b"\x81\x7e\x00", b"\x81\x7f" + bytes(7)])
def test_incomplete_length_fields(wire: bytes) -> None:
    assert parse_header(wire) is None


@pytest.mark.parametrize(
    ("wire", "header"),
    [
        (b"\x81\x85\x00\x00\x00", (6, 5, None)),
        (b"\x81\xfe\x01\x00", (8, 256, None)),
        (b"\x81\xff" + (1 << 16).to_bytes(8, "big") + b"\x01\x02\x03", (14, 1 << 16, None)),
    ],
)
def test_a_key_on_its_way_is_none(wire: bytes, header: tuple[int, int, None]) -> None:
    """The frame can be judged before its key is in: its size and length are known."""
    assert parse_header(wire) == header


@pytest.mark.parametrize(
    "wire",
    [
        b"\x82\x7e\x00\x7d",
        b"\x82\x7f" + (0xFFFF).to_bytes(8, "big"),
        b"\x82\x7f" + (1 << 63).to_bytes(8, "big"),
    ],
)
def test_forbidden_lengths(wire: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_header(wire)
    assert info.value.close_code == 1002


@given(
    first=st.integers(0, 255),
    payload=st.binary(max_size=70000),
    key=st.none() | st.binary(min_size=4, max_size=4),
)
def test_serialize_then_parse(first: int, payload: bytes, key: bytes | None) -> None:
    wire = serialize(first, payload, key)
    header = parse_header(wire)
    assert header is not None
    size, length, mask = header
    assert wire[0] == first
    assert (length, mask) == (len(payload), key)
    body = wire[size:]
    assert (apply_mask(body, key) if key else body) == payload


@given(data=st.binary(max_size=300), key=st.binary(min_size=4, max_size=4), cut=st.integers(0, 300))
def test_masking_resumes_at_any_offset(data: bytes, key: bytes, cut: int) -> None:
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    cut = min(cut, len(data))
    assert apply_mask(data, key) == expected
    assert apply_mask(data[:cut], key) + apply_mask(data[cut:], key, cut) == expected


c_apply_mask: Callable[..., bytes] | None
c_apply_mask_into: Callable[..., None] | None
try:
    from noio_ws._speedups import apply_mask as c_apply_mask
    from noio_ws._speedups import apply_mask_into as c_apply_mask_into
except ImportError:  # .ci/run checks that the accelerator is built
    c_apply_mask = c_apply_mask_into = None

INTO = [apply_mask_into_python] + ([c_apply_mask_into] if c_apply_mask_into else [])


@pytest.mark.parametrize("into", INTO)
@given(data=st.binary(max_size=300), key=st.binary(min_size=4, max_size=4), offset=st.integers(0, 7))
def test_masking_into_a_buffer_writes_what_apply_mask_returns(
    into: Callable[..., None], data: bytes, key: bytes, offset: int
) -> None:
    target = bytearray(b"?" * (len(data) + 4))
    with memoryview(target) as view:
        into(view[2 : 2 + len(data)], memoryview(data), key, offset)
    assert target == b"??" + apply_mask_python(data, key, offset) + b"??"


@pytest.mark.parametrize("into", INTO)
def test_masking_into_a_buffer_rejects_bad_arguments(into: Callable[..., None]) -> None:
    big = bytes(range(256)) * 1024  # above the size where the accelerator releases the GIL
    target = bytearray(len(big))
    into(target, big, b"abcd", 1)
    assert target == apply_mask_python(big, b"abcd", 1)
    with pytest.raises(ValueError, match="differ in size"):
        into(bytearray(3), b"ab", b"abcd")
    with pytest.raises((TypeError, BufferError)):
        into(b"ro", b"ab", b"abcd")  # not writable


@pytest.mark.skipif(c_apply_mask_into is None, reason="the C accelerator is not built")
def test_accelerated_masking_into_rejects_bad_argument_types() -> None:
    assert c_apply_mask_into is not None
    for args in [(bytearray(1), b"x"), (bytearray(1), "x", b"abcd"), (bytearray(1), b"x", "abcd")]:
        with pytest.raises(TypeError):
            c_apply_mask_into(*args)
    with pytest.raises(TypeError):
        c_apply_mask_into(bytearray(1), b"x", b"abcd", "0")
    with pytest.raises(ValueError, match="4 bytes"):
        c_apply_mask_into(bytearray(1), b"x", b"abc")


@pytest.mark.skipif(c_apply_mask is None, reason="the C accelerator is not built")
@given(data=st.binary(max_size=200), key=st.binary(min_size=4, max_size=4), offset=st.integers(0, 1000))
def test_accelerator_matches_the_reference(data: bytes, key: bytes, offset: int) -> None:
    assert c_apply_mask is not None
    assert c_apply_mask(data, key, offset) == apply_mask_python(data, key, offset)
    assert c_apply_mask(bytearray(data), key) == apply_mask_python(data, key)
    assert c_apply_mask(memoryview(data), key) == apply_mask_python(data, key)


@pytest.mark.skipif(c_apply_mask is None, reason="the C accelerator is not built")
def test_accelerator_rejects_bad_arguments() -> None:
    assert c_apply_mask is not None
    big = bytes(range(256)) * 1024  # above the size where it releases the GIL
    assert c_apply_mask(big, b"abcd", 3) == apply_mask_python(big, b"abcd", 3)
    with pytest.raises(ValueError, match="4 bytes"):
        c_apply_mask(b"x", b"abc")
    with pytest.raises(TypeError):
        c_apply_mask(b"x")
    with pytest.raises(TypeError):
        c_apply_mask("str", b"abcd")
    with pytest.raises(TypeError):
        c_apply_mask(b"x", "abcd")
    with pytest.raises(TypeError):
        c_apply_mask(b"x", b"abcd", "0")


def test_pure_python_path_can_be_forced() -> None:
    code = "import noio_ws._mask as f; print(f.ACCELERATED, f.apply_mask is f.apply_mask_python)"
    env = {**os.environ, "NOIO_WS_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


@given(
    size=st.sampled_from([4095, 4096, 4097, 10_001, 70_000]),
    key=st.binary(min_size=4, max_size=4),
    offset=st.integers(0, 7),
)
def test_large_payloads_take_the_translate_path_with_the_same_result(
    size: int, key: bytes, offset: int
) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    expected = bytes(b ^ key[(i + offset) % 4] for i, b in enumerate(data))
    assert apply_mask_python(data, key, offset) == expected
    assert apply_mask_python(memoryview(data), bytearray(key), offset) == expected

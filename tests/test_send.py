"""The send path: what may be sent, in which state, and the bytes it makes."""

from __future__ import annotations

import pytest

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    ExtensionMessage,
    LocalProtocolError,
    Ping,
    Pong,
    Role,
    State,
    TextMessage,
)

from .helpers import FIXED_MASK, client, drain, frame, server

M = FIXED_MASK


def test_server_frames_are_unmasked_and_minimal() -> None:
    conn = server()
    assert conn.send(TextMessage("hi")) == b"\x81\x02hi"
    assert conn.send(BinaryMessage(b"x" * 126)) == b"\x82\x7e\x00\x7e" + b"x" * 126
    assert conn.send(BinaryMessage(b"x" * 65536)) == b"\x82\x7f" + (65536).to_bytes(8, "big") + b"x" * 65536
    assert conn.send(Ping(b"p")) == b"\x89\x01p"
    assert conn.send(Pong()) == b"\x8a\x00"
    assert conn.send(Close(1000, "bye")) == b"\x88\x05\x03\xe8bye"


def test_client_frames_are_masked_with_the_injected_key() -> None:
    conn = client()
    assert conn.send(TextMessage("hello")) == frame(0x81, b"hello", mask=M)
    assert conn.send(BinaryMessage(b"")) == frame(0x82, b"", mask=M)
    assert conn.send(BinaryMessage(b"z" * 300)) == frame(0x82, b"z" * 300, mask=M)


def test_client_mask_keys_are_fresh_by_default() -> None:
    conn = Connection(Role.CLIENT)
    # 200 frames: several refills of the pool keys are drawn from.
    keys = [conn.send(BinaryMessage(b"same"))[2:6] for _ in range(200)]
    assert len(set(keys)) > 195  # 4 random bytes: repeats in 200 draws are very unlikely


def test_bytes_like_payloads() -> None:
    conn = server()
    assert conn.send(BinaryMessage(bytearray(b"ab"))) == b"\x82\x02ab"  # type: ignore[arg-type]
    assert conn.send(BinaryMessage(memoryview(b"ab"))) == b"\x82\x02ab"  # type: ignore[arg-type]


def test_fragmented_send() -> None:
    conn = server()
    wire = conn.send(TextMessage("frag", final=False))
    wire += conn.send(Ping(b"between"))
    wire += conn.send(TextMessage("men", final=False))
    wire += conn.send(TextMessage("ted"))
    assert wire == b"\x01\x04frag" + b"\x89\x07between" + b"\x00\x03men" + b"\x80\x03ted"
    assert drain(Connection(Role.CLIENT), [wire]) == ([Ping(b"between"), TextMessage("fragmented")], None)


def test_cannot_mix_messages_while_fragmenting() -> None:
    conn = server()
    conn.send(BinaryMessage(b"a", final=False))
    with pytest.raises(LocalProtocolError, match="in progress"):
        conn.send(TextMessage("b"))
    assert conn.send(BinaryMessage(b"c")) == b"\x80\x01c"  # the refused send changed nothing
    assert conn.send(TextMessage("d")) == b"\x81\x01d"


@pytest.mark.parametrize(
    "event",
    [
        TextMessage(b"bytes"),  # type: ignore[arg-type]
        TextMessage("\ud800"),
        BinaryMessage("str"),  # type: ignore[arg-type]
        Ping(b"x" * 126),
        Pong("str"),  # type: ignore[arg-type]
        Close(999),
        Close(1004),
        Close(1005, "reason without code"),
        Close(1006),
        Close(1015),
        Close(5000),
        Close(1000, "é" * 62),  # 124 bytes
        Close(1000, "\ud800"),
        Close(1000, b"bytes"),  # type: ignore[arg-type]
        Close("1000"),  # type: ignore[arg-type]
        ExtensionMessage(0x3, b"unclaimed"),
        Event(),
    ],
)
def test_malformed_events_are_refused_without_state_change(event: Event) -> None:
    conn = server()
    with pytest.raises(LocalProtocolError):
        conn.send(event)
    assert conn.state is State.OPEN
    assert conn.send(TextMessage("still fine")) == b"\x81\x0astill fine"


def test_close_reason_of_123_bytes_is_fine() -> None:
    wire = server().send(Close(1000, "é" * 61 + "a"))
    assert len(wire) == 2 + 125


def test_close_1005_sends_an_empty_close() -> None:
    assert server().send(Close(1005)) == b"\x88\x00"
    assert server().send(Close(1005).response()) == b"\x88\x00"


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999])
def test_sendable_close_codes(code: int) -> None:
    assert server().send(Close(code)) == b"\x88\x02" + code.to_bytes(2, "big")


def test_nothing_may_be_sent_after_close() -> None:
    conn = server()
    conn.send(Close(1000))
    assert conn.state is State.LOCAL_CLOSING
    for event in (TextMessage("x"), BinaryMessage(b"x"), Ping(), Pong(), Close(1000)):
        with pytest.raises(LocalProtocolError):
            conn.send(event)
    assert conn.state is State.LOCAL_CLOSING


def test_after_the_peers_close_we_may_finish_then_close() -> None:
    conn = server()
    conn.send(TextMessage("part", final=False))
    conn.receive_data(frame(0x88, b"\x03\xe9", mask=M))
    (close,) = conn.events()
    assert close == Close(1001)
    assert conn.state is State.REMOTE_CLOSING
    assert conn.send(TextMessage("end")) == b"\x80\x03end"
    assert conn.send(Ping()) == b"\x89\x00"
    assert conn.send(close.response()) == b"\x88\x02\x03\xe9"
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        conn.send(TextMessage("x"))


def test_responses() -> None:
    assert Ping(b"abc").response() == Pong(b"abc")
    assert Close(1001, "going").response() == Close(1001)
    assert Close(1005).response() == Close(1005)


def test_bad_mask_key_source() -> None:
    conn = Connection(Role.CLIENT, mask_key_source=lambda: b"abc")
    with pytest.raises(LocalProtocolError, match="3 bytes"):
        conn.send(TextMessage("x"))
    assert conn.state is State.OPEN


def test_repr_and_properties() -> None:
    conn = Connection(Role.CLIENT)
    assert conn.role is Role.CLIENT
    assert conn.extensions == ()
    assert repr(conn) == "<Connection client open>"

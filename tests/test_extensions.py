"""The extension API: RSV-bit claims, custom opcodes, ordering, per-connection tables."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    ExtensionMessage,
    LocalProtocolError,
    Ping,
    RemoteProtocolError,
    Role,
    TextMessage,
)
from noio_ws.extensions import Frame, OpcodeKind
from noio_ws.testing import (
    FIXED_MASK,
    ConnectedPair,
    feed_chunks,
    feed_every_chunking,
    fixed_mask_key,
    hostile,
    raw_frame,
)

M = FIXED_MASK


class Reverse:
    """A toy extension: frames with its RSV bit carry their payload reversed."""

    name = "x-reverse"

    def __init__(self, rsv: int = 0x20, opcodes: Mapping[int, OpcodeKind] | None = None) -> None:
        self.rsv_mask = rsv
        self.opcodes = dict(opcodes or {})
        self.role: Role | None = None
        self.seen: list[Frame] = []

    def bind(self, role: Role) -> None:
        self.role = role

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        self.seen.append(frame)
        if frame.rsv & self.rsv_mask:
            return Frame(frame.opcode, frame.payload[::-1], frame.fin, frame.rsv & ~self.rsv_mask)
        return frame

    def encode(self, frame: Frame) -> Frame:
        if frame.opcode in (1, 2, 0) or frame.opcode in self.opcodes:
            return Frame(frame.opcode, frame.payload[::-1], frame.fin, frame.rsv | self.rsv_mask)
        return frame


class Upper:
    """Another toy: RSV3 means "this payload was lower-cased, restore upper case"."""

    name = "x-upper"
    rsv_mask = 0x10
    opcodes: Mapping[int, OpcodeKind] = {}

    def bind(self, role: Role) -> None:
        pass

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        if frame.rsv & 0x10:
            return Frame(frame.opcode, frame.payload.upper(), frame.fin, frame.rsv & ~0x10)
        return frame

    def encode(self, frame: Frame) -> Frame:
        return Frame(frame.opcode, frame.payload.lower(), frame.fin, frame.rsv | 0x10)


def pair(*make: type) -> ConnectedPair:
    """A client and a server, each with a new instance of the extensions *make*."""
    return ConnectedPair(
        Connection(Role.CLIENT, extensions=[m() for m in make], mask_key_source=fixed_mask_key()),
        Connection(Role.SERVER, extensions=[m() for m in make]),
    )


def test_claimed_rsv_bit_is_accepted_and_consumed() -> None:
    client = pair(Reverse).client
    wire = client.send(TextMessage("abc")) + client.send(BinaryMessage(b"xyz", final=False))
    wire += client.send(BinaryMessage(b"123"))
    assert wire[0] & 0x70 == 0x20
    events, error = feed_every_chunking(lambda: Connection(Role.SERVER, extensions=[Reverse()]), wire)
    assert (events, error) == ([TextMessage("abc"), BinaryMessage(b"xyz123")], None)


def test_bind_tells_each_extension_its_side() -> None:
    connected = pair(Reverse)
    assert [e.role for e in connected.client.connection.extensions] == [Role.CLIENT]  # type: ignore[attr-defined]
    assert [e.role for e in connected.server.connection.extensions] == [Role.SERVER]  # type: ignore[attr-defined]


def test_unclaimed_rsv_bit_still_fails() -> None:
    server = Connection(Role.SERVER, extensions=[Reverse()])
    unclaimed = hostile.reserved_bits(to=Role.SERVER, rsv=0x40)  # Reverse claims RSV2 only
    assert feed_chunks(server, [unclaimed.wire]).close_code == unclaimed.close_code == 1002


def test_bit_left_set_by_decoders_fails() -> None:
    class Lazy(Reverse):
        def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
            return frame  # claims RSV2 but never clears it

    _, error = feed_chunks(Connection(Role.SERVER, extensions=[Lazy()]), [raw_frame(0xA1, b"x", mask=M)])
    assert error is not None
    assert error.close_code == 1002
    assert "not consumed" in str(error)


def test_decoders_run_in_reverse_order_encoders_in_order() -> None:
    connected = pair(Reverse, Upper)
    wire = connected.client.send(TextMessage("Hello"))
    assert wire[0] & 0x70 == 0x30
    # encode: reverse then lower -> "olleh"; decode: upper then reverse -> "OLLEH"[::-1]
    connected.to_server.deliver()
    assert connected.server.events() == [TextMessage("HELLO")]
    # And the other way, where the server does not mask.
    connected.server.send(TextMessage("World"))
    connected.to_client.deliver()
    assert connected.client.events() == [TextMessage("WORLD")]


def test_control_frames_pass_through_decoders() -> None:
    ext = Reverse()
    server = Connection(Role.SERVER, extensions=[ext])
    assert feed_chunks(server, [raw_frame(0x89, b"ab", mask=M)]) == ([Ping(b"ab")], None)
    assert ext.seen == [Frame(0x9, b"ab", True, 0)]


def test_custom_opcodes() -> None:
    opcodes = {0x3: OpcodeKind.DATA, 0xB: OpcodeKind.CONTROL}

    def make(role: Role) -> Connection:
        return Connection(
            role, extensions=[Reverse(rsv=0, opcodes=opcodes)], mask_key_source=fixed_mask_key()
        )

    client = make(Role.CLIENT)
    wire = client.send(ExtensionMessage(0x3, b"data", final=False))
    wire += client.send(ExtensionMessage(0xB, b"ctl"))
    wire += client.send(ExtensionMessage(0x3, b"more"))
    assert [wire[0] & 0x0F] == [0x3]
    events, error = feed_every_chunking(lambda: make(Role.SERVER), wire)
    assert error is None
    # rsv_mask=0: the encoder reverses, nothing marks it, so the decoder leaves it.
    assert events == [ExtensionMessage(0xB, b"ltc"), ExtensionMessage(0x3, b"atad" + b"erom")]


def test_custom_opcodes_stream() -> None:
    ext = Reverse(rsv=0, opcodes={0x4: OpcodeKind.DATA})
    server = Connection(Role.SERVER, extensions=[ext], stream_messages=True)
    wire = raw_frame(0x04, b"ab", mask=M) + raw_frame(0x80, b"cd", mask=M)
    assert feed_chunks(server, [wire]) == (
        [ExtensionMessage(4, b"ab", False), ExtensionMessage(4, b"cd", True)],
        None,
    )


def test_custom_opcodes_without_extensions_are_reserved() -> None:
    ext = Reverse(rsv=0, opcodes={0x3: OpcodeKind.DATA})
    client = Connection(Role.CLIENT, extensions=[ext], mask_key_source=fixed_mask_key())
    wire = client.send(ExtensionMessage(0x3, b"x"))
    _, error = feed_chunks(Connection(Role.SERVER), [wire])
    assert error is not None
    assert error.close_code == 1002


def test_custom_control_rules() -> None:
    ext = Reverse(rsv=0, opcodes={0xC: OpcodeKind.CONTROL})
    conn = Connection(Role.SERVER, extensions=[ext])
    with pytest.raises(LocalProtocolError):
        conn.send(ExtensionMessage(0xC, b"x", final=False))
    with pytest.raises(LocalProtocolError):
        conn.send(ExtensionMessage(0xC, b"x" * 126))
    assert conn.send(ExtensionMessage(0xC, b"x")) == b"\x8c\x01x"
    _, error = feed_chunks(Connection(Role.SERVER, extensions=[ext]), [raw_frame(0x0C, b"x", mask=M)])
    assert error is not None
    assert "fragmented control frame" in str(error)


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ([Reverse(rsv=0x80)], "not a subset"),
        ([Reverse(rsv=0x40), Reverse(rsv=0x40)], "already claimed"),
        ([Reverse(rsv=0, opcodes={0x8: OpcodeKind.CONTROL})], "not a reserved control opcode"),
        ([Reverse(rsv=0, opcodes={0xB: OpcodeKind.DATA})], "not a reserved data opcode"),
        ([Reverse(rsv=0, opcodes={0x2: OpcodeKind.DATA})], "not a reserved data opcode"),
        (
            [
                Reverse(rsv=0x40, opcodes={3: OpcodeKind.DATA}),
                Reverse(rsv=0x20, opcodes={3: OpcodeKind.DATA}),
            ],
            "opcode 0x3",
        ),
    ],
)
def test_overlapping_or_invalid_claims(extensions: list[Reverse], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Connection(Role.SERVER, extensions=extensions)


def test_claims_are_per_connection() -> None:
    Connection(Role.SERVER, extensions=[Reverse(rsv=0, opcodes={0x3: OpcodeKind.DATA})])
    plain = Connection(Role.SERVER)
    assert feed_chunks(plain, [hostile.reserved_opcode(to=Role.SERVER, opcode=0x3).wire]).close_code == 1002
    with pytest.raises(LocalProtocolError):
        plain.send(ExtensionMessage(0x3, b""))


def test_decoder_output_counts_against_the_message_limit() -> None:
    class Double(Reverse):
        def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
            self.seen.append(frame)
            return Frame(frame.opcode, frame.payload * 2, frame.fin, frame.rsv & ~self.rsv_mask)

    ext = Double()
    conn = Connection(Role.SERVER, extensions=[ext], max_message_size=10)
    wire = (
        raw_frame(0xA2, b"x" * 4, mask=M) + raw_frame(0x02, b"y" * 4, mask=M) + raw_frame(0x80, b"zz", mask=M)
    )
    events, error = feed_chunks(conn, [wire])
    assert events == [BinaryMessage(b"x" * 8)]
    assert error is not None
    assert error.close_code == 1009


def test_max_size_passed_to_decoders_is_the_remaining_budget() -> None:
    budgets: list[int | None] = []

    class Spy(Reverse):
        def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
            budgets.append(max_size)
            return super().decode(frame, max_size=max_size)

    conn = Connection(Role.SERVER, extensions=[Spy()], max_message_size=100)
    feed_chunks(
        conn,
        [
            raw_frame(0x02, b"x" * 30, mask=M)
            + raw_frame(0x89, b"", mask=M)
            + raw_frame(0x80, b"y" * 20, mask=M)
        ],
    )
    assert budgets == [100, 100, 70]
    unlimited = Connection(Role.SERVER, extensions=[Spy()], max_message_size=None)
    feed_chunks(unlimited, [raw_frame(0x82, b"x", mask=M)])
    assert budgets[-1] is None


def test_remote_error_from_a_decoder_fails_the_connection() -> None:
    class Picky(Reverse):
        def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
            raise RemoteProtocolError("picky", 1007)

    conn = Connection(Role.SERVER, extensions=[Picky()])
    conn.receive_data(raw_frame(0x81, b"x", mask=M))
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.send(Close(1007)) == b"\x88\x02\x03\xef"


def test_mask_key_is_checked_before_encoders_run() -> None:
    calls: list[Frame] = []

    class Counting(Reverse):
        def encode(self, frame: Frame) -> Frame:
            calls.append(frame)
            return frame

    conn = Connection(Role.CLIENT, extensions=[Counting()], mask_key_source=lambda: b"bad")
    with pytest.raises(LocalProtocolError):
        conn.send(TextMessage("x"))
    assert calls == []


def test_a_decoder_error_comes_after_the_messages_before_it() -> None:
    """Frames are decoded ahead in a batch; an error waits for the events before it."""

    class PickyAboutBang(Reverse):
        def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
            if frame.payload == b"!":
                raise RemoteProtocolError("no bangs", 1007)
            return super().decode(frame, max_size=max_size)

    wire = raw_frame(0x81, b"a", mask=M) + raw_frame(0xA1, b"cb", mask=M) + raw_frame(0x81, b"!", mask=M)
    wire += raw_frame(0x81, b"never parsed", mask=M)
    events, error = feed_every_chunking(lambda: Connection(Role.SERVER, extensions=[PickyAboutBang()]), wire)
    assert events == [TextMessage("a"), TextMessage("bc")]
    assert error is not None
    assert error.close_code == 1007
    conn = Connection(Role.SERVER, extensions=[PickyAboutBang()])
    conn.receive_data(wire)
    assert [conn.next_event(), conn.next_event()] == events
    for _ in range(2):  # and again, until the Close is sent
        with pytest.raises(RemoteProtocolError, match="no bangs"):
            conn.next_event()


def test_a_decoder_may_leave_a_whole_frame_unfinished() -> None:
    """What the decoders return decides: here FIN is cleared, so a continuation follows."""

    class Holdback(Reverse):
        def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
            if frame.rsv & self.rsv_mask:
                return Frame(frame.opcode, frame.payload, False, frame.rsv & ~self.rsv_mask)
            return frame

    wire = raw_frame(0x81, b"a", mask=M) + raw_frame(0xA1, b"b", mask=M) + raw_frame(0x80, b"c", mask=M)
    events, error = feed_every_chunking(lambda: Connection(Role.SERVER, extensions=[Holdback()]), wire)
    assert error is None
    assert events == [TextMessage("a"), TextMessage("bc")]

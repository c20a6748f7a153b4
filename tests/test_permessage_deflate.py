"""permessage-deflate (RFC 7692): negotiation, the wire, context takeover, limits."""

from __future__ import annotations

import itertools
import random
import tracemalloc
import zlib
from collections.abc import Callable, Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    HandshakeError,
    Ping,
    Pong,
    RemoteProtocolError,
    Role,
    Signal,
    State,
    TextMessage,
)
from noio_ws.extensions import Frame, PerMessageDeflate, PerMessageDeflateFactory
from noio_ws.extensions.permessage_deflate import _CHUNK

from .helpers import FIXED_MASK, drain, feed_every_split, frame

MiB = 1 << 20
Pairs = list[tuple[str, "str | None"]]


def conns(
    client_ext: PerMessageDeflate | None = None,
    server_ext: PerMessageDeflate | None = None,
    **options: object,
) -> tuple[Connection, Connection]:
    """A client and a server using permessage-deflate (RFC defaults unless given)."""
    client_ext = client_ext or PerMessageDeflate()
    server_ext = server_ext or PerMessageDeflate()
    return (
        Connection(Role.CLIENT, extensions=[client_ext], mask_key_source=lambda: FIXED_MASK, **options),  # type: ignore[arg-type]
        Connection(Role.SERVER, extensions=[server_ext], **options),  # type: ignore[arg-type]
    )


def negotiated(
    client: PerMessageDeflateFactory, server: PerMessageDeflateFactory
) -> tuple[Connection, Connection]:
    """Run the negotiation the handshake runs, and connect the two sides."""
    accepted = server.accept_offer(client.offer())
    assert accepted is not None
    answer, server_ext = accepted
    return conns(client.accept_response(answer), server_ext)


def unmask(wire: bytes) -> Iterator[tuple[int, bytes]]:
    """The (first header byte, unmasked payload) of each frame in *wire*."""
    pos = 0
    while pos < len(wire):
        first, second = wire[pos], wire[pos + 1]
        length, pos = second & 0x7F, pos + 2
        if length >= 126:
            size = 2 if length == 126 else 8
            length, pos = int.from_bytes(wire[pos : pos + size], "big"), pos + size
        key = b"\0\0\0\0"
        if second & 0x80:
            key, pos = wire[pos : pos + 4], pos + 4
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(wire[pos : pos + length]))
        yield first, payload
        pos += length


def deliver(sender: Connection, receiver: Connection, *events: Event) -> list[Event]:
    wire = b"".join(sender.send(event) for event in events)
    received, error = drain(receiver, [wire])
    assert error is None, error
    return received


def strict_inflate(data: bytes, bits: int, inflater: zlib._Decompress | None = None) -> bytes:
    """Inflate one output byte per call, so no back-reference can reach past a
    2**bits window into zlib's output buffer: zlib then checks every distance.
    Pass the same *inflater* for the messages of one context."""
    inflater = inflater or zlib.decompressobj(-bits)
    out = bytearray()
    rest = data + b"\x00\x00\xff\xff"
    while rest:
        out += inflater.decompress(rest, 1)
        rest = inflater.unconsumed_tail
    while piece := inflater.decompress(b"", 1):
        out += piece
    return bytes(out)


# ------------------------------------------------------------------- arguments


@pytest.mark.parametrize("bits", [7, 16, True, "10", 9.0])
def test_window_bits_out_of_range(bits: object) -> None:
    with pytest.raises(ValueError, match="max_window_bits"):
        PerMessageDeflate(server_max_window_bits=bits)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_window_bits"):
        PerMessageDeflateFactory(client_max_window_bits=bits)  # type: ignore[arg-type]


def test_factory_preferences_start_at_9_agreed_parameters_at_8() -> None:
    with pytest.raises(ValueError, match="from 9 to 15"):
        PerMessageDeflateFactory(server_max_window_bits=8)
    assert PerMessageDeflate(server_max_window_bits=8, client_max_window_bits=8).client_max_window_bits == 8


@pytest.mark.parametrize(
    "options",
    [
        {"compression_level": 10},
        {"compression_level": -2},
        {"mem_level": 0},
        {"mem_level": 10},
        {"compression_threshold": -1},
        {"compression_threshold": 1.5},
    ],
)
def test_invalid_settings(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        PerMessageDeflate(**options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=next(iter(options))):
        PerMessageDeflateFactory(**options)  # type: ignore[arg-type]


def test_claims_rsv1_only() -> None:
    ext = PerMessageDeflate()
    assert (ext.name, ext.rsv_mask, dict(ext.opcodes)) == ("permessage-deflate", 0x40, {})
    assert PerMessageDeflateFactory().name == "permessage-deflate"


def test_one_instance_per_connection() -> None:
    ext = PerMessageDeflate()
    Connection(Role.SERVER, extensions=[ext])
    with pytest.raises(ValueError, match="already bound"):
        Connection(Role.CLIENT, extensions=[ext])


def test_unbound_extension_refuses_to_work() -> None:
    with pytest.raises(RuntimeError, match="bind"):
        PerMessageDeflate().encode(Frame(1, b"hi"))
    with pytest.raises(RuntimeError, match="bind"):
        PerMessageDeflate().decode(Frame(1, b"\xf2\x48\x05\x00", True, 0x40), max_size=None)


def test_repr_shows_agreed_parameters() -> None:
    assert repr(PerMessageDeflate()) == "PerMessageDeflate()"
    text = repr(PerMessageDeflate(server_no_context_takeover=True, client_max_window_bits=10))
    assert text == "PerMessageDeflate(server_no_context_takeover=True, client_max_window_bits=10)"


def test_settings_are_read_only_attributes() -> None:
    ext = PerMessageDeflate(server_no_context_takeover=1, compression_level=3)  # type: ignore[arg-type]
    assert ext.server_no_context_takeover is True  # any truth value, kept as a bool
    assert (ext.compression_level, ext.mem_level, ext.compression_threshold) == (3, 8, 0)
    factory = PerMessageDeflateFactory(client_no_context_takeover=[0], require_client_max_window_bits=1)  # type: ignore[arg-type]
    assert factory.client_no_context_takeover is True
    assert factory.require_client_max_window_bits is True
    # The extension reads its settings once in bind(); a change afterwards could not apply.
    with pytest.raises(AttributeError):
        ext.compression_level = 9  # type: ignore[misc]
    with pytest.raises(AttributeError):
        factory.server_max_window_bits = 10  # type: ignore[misc]


@pytest.mark.parametrize("side", ["client", "server"])
def test_negotiation_passes_the_zlib_settings_on(side: str) -> None:
    factory = PerMessageDeflateFactory(
        client_max_window_bits=12, compression_level=1, mem_level=3, compression_threshold=20
    )
    if side == "client":
        ext = factory.accept_response([cbits("10")])
    else:
        accepted = factory.accept_offer([cbits(None)])
        assert accepted is not None
        ext = accepted[1]
    assert (ext.compression_level, ext.mem_level, ext.compression_threshold) == (1, 3, 20)
    assert ext.client_max_window_bits == (10 if side == "client" else 12)
    assert repr(ext) == f"PerMessageDeflate(client_max_window_bits={ext.client_max_window_bits})"


# ------------------------------------------------------------ client: the offer


def test_default_offer() -> None:
    assert PerMessageDeflateFactory().offer() == [("client_max_window_bits", None)]


def test_full_offer() -> None:
    factory = PerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=10,
        client_max_window_bits=12,
    )
    assert factory.offer() == [
        ("server_no_context_takeover", None),
        ("client_no_context_takeover", None),
        ("server_max_window_bits", "10"),
        ("client_max_window_bits", "12"),
    ]


# ------------------------------------------------------------ server: accepting

SNCT = ("server_no_context_takeover", None)
CNCT = ("client_no_context_takeover", None)


def sbits(value: str | None) -> tuple[str, str | None]:
    return ("server_max_window_bits", value)


def cbits(value: str | None) -> tuple[str, str | None]:
    return ("client_max_window_bits", value)


@pytest.mark.parametrize(
    ("preferences", "offer", "answer"),
    [
        ({}, [], []),
        ({}, [cbits(None)], []),
        ({}, [cbits("10")], [cbits("10")]),  # echoed: our inflater can be that small
        ({"client_max_window_bits": 12}, [cbits(None)], [cbits("12")]),
        ({"client_max_window_bits": 12}, [cbits("10")], [cbits("10")]),
        ({"client_max_window_bits": 12}, [cbits("14")], [cbits("12")]),
        ({"client_max_window_bits": 12}, [], []),  # the client cannot be limited
        ({"client_max_window_bits": 12, "require_client_max_window_bits": True}, [], None),
        ({"require_client_max_window_bits": True}, [cbits(None)], []),
        ({}, [cbits("8")], [cbits("8")]),  # the peer's compressor: not our problem
        ({}, [sbits("10")], [sbits("10")]),
        ({}, [sbits("15")], [sbits("15")]),
        ({"server_max_window_bits": 12}, [sbits("10")], [sbits("10")]),
        ({"server_max_window_bits": 9}, [sbits("10")], [sbits("9")]),
        ({"server_max_window_bits": 11}, [], [sbits("11")]),
        ({}, [sbits("8")], None),  # would need a wbits-8 compressor
        ({"server_max_window_bits": 9}, [sbits("8")], None),
        ({}, [SNCT], [SNCT]),
        ({"server_no_context_takeover": True}, [], [SNCT]),
        ({}, [CNCT], [CNCT]),
        ({"client_no_context_takeover": True}, [], [CNCT]),
        (
            {},
            [cbits("11"), SNCT, sbits("12"), CNCT],
            [SNCT, CNCT, sbits("12"), cbits("11")],
        ),
    ],
)
def test_server_answers(preferences: dict[str, object], offer: Pairs, answer: Pairs | None) -> None:
    factory = PerMessageDeflateFactory(**preferences)  # type: ignore[arg-type]
    accepted = factory.accept_offer(offer)
    if answer is None:
        assert accepted is None
        return
    assert accepted is not None
    assert accepted[0] == answer
    ext = accepted[1]
    agreed = dict(answer)
    assert ext.server_no_context_takeover == ("server_no_context_takeover" in agreed)
    assert ext.client_no_context_takeover == ("client_no_context_takeover" in agreed)
    assert ext.server_max_window_bits == (int(agreed.get("server_max_window_bits") or 0) or None)
    assert ext.client_max_window_bits == (int(agreed.get("client_max_window_bits") or 0) or None)


INVALID_OFFERS: list[Pairs] = [
    [("x-unknown", None)],
    [("server_no_context_takeover", "1")],
    [("client_no_context_takeover", "")],
    [SNCT, SNCT],
    [CNCT, CNCT],
    [sbits("10"), sbits("10")],
    [cbits(None), cbits("10")],
    [sbits(None)],
    *([sbits(v)] for v in ["7", "16", "abc", "010", "08", " 9", "9 ", "+9", "1_0", '"10"', "", "0x9"]),
    *([cbits(v)] for v in ["7", "16", "abc", "09", '"10"', "", "٩"]),
]


@pytest.mark.parametrize("offer", INVALID_OFFERS)
def test_server_declines_invalid_offers(offer: Pairs) -> None:
    assert PerMessageDeflateFactory().accept_offer(offer) is None


def test_several_offers_first_acceptable_wins() -> None:
    factory = PerMessageDeflateFactory(client_max_window_bits=11, require_client_max_window_bits=True)
    offers: list[Pairs] = [
        [sbits("8")],  # declined: wbits 8
        [("mystery", None)],  # declined: unknown
        [],  # declined: no client_max_window_bits
        [SNCT, cbits(None)],  # the first acceptable
        [cbits("9")],
    ]
    results = [factory.accept_offer(offer) for offer in offers]
    assert [r is None for r in results] == [True, True, True, False, False]
    first = next(r for r in results if r is not None)
    assert first[0] == [SNCT, cbits("11")]
    # Negotiation never changes the factory: the later offer got its own answer.
    assert results[4] is not None
    assert results[4][0] == [cbits("9")]
    assert factory.client_max_window_bits == 11
    assert first[1] is not results[4][1]


# ------------------------------------------------------------ client: the answer


@pytest.mark.parametrize(
    ("preferences", "answer", "agreed"),
    [
        ({}, [], (False, False, None, None)),
        ({}, [SNCT], (True, False, None, None)),  # the server may add it unasked
        ({}, [CNCT], (False, True, None, None)),
        ({}, [sbits("10")], (False, False, 10, None)),
        ({}, [sbits("8")], (False, False, 8, None)),  # limits their compressor only
        ({}, [cbits("10")], (False, False, None, 10)),
        ({"client_max_window_bits": 10}, [cbits("9")], (False, False, None, 9)),
        ({"client_max_window_bits": 10}, [], (False, False, None, 10)),  # our limit holds
        ({"client_no_context_takeover": True}, [], (False, True, None, None)),  # our promise holds
        ({"server_no_context_takeover": True}, [SNCT], (True, False, None, None)),
        ({"server_max_window_bits": 10}, [sbits("10")], (False, False, 10, None)),
        ({"server_max_window_bits": 10}, [sbits("9")], (False, False, 9, None)),
    ],
)
def test_client_accepts(
    preferences: dict[str, object], answer: Pairs, agreed: tuple[bool, bool, int | None, int | None]
) -> None:
    ext = PerMessageDeflateFactory(**preferences).accept_response(answer)  # type: ignore[arg-type]
    assert (
        ext.server_no_context_takeover,
        ext.client_no_context_takeover,
        ext.server_max_window_bits,
        ext.client_max_window_bits,
    ) == agreed


@pytest.mark.parametrize(
    ("preferences", "answer", "why"),
    [
        ({}, [("x-unknown", None)], "unknown"),
        ({}, [SNCT, SNCT], "duplicate"),
        ({}, [("server_no_context_takeover", "yes")], "takes no value"),
        ({}, [sbits("16")], "invalid"),
        ({}, [sbits(None)], "invalid"),
        ({}, [cbits("abc")], "invalid"),
        ({}, [cbits(None)], "no value"),
        ({}, [cbits("8")], "=8"),
        ({"client_max_window_bits": 10}, [cbits("11")], "over our offer"),
        ({"server_max_window_bits": 10}, [sbits("11")], "over our offer"),
        ({"server_max_window_bits": 10}, [], "missing"),
        ({"server_no_context_takeover": True}, [], "missing"),
    ],
)
def test_client_refuses(preferences: dict[str, object], answer: Pairs, why: str) -> None:
    factory = PerMessageDeflateFactory(**preferences)  # type: ignore[arg-type]
    with pytest.raises(HandshakeError, match=why):
        factory.accept_response(answer)


# ------------------------------------------------------------------- the wire

HELLO = bytes.fromhex("f248cdc9c90700")  # RFC 7692 section 7.2.3.1


def test_rfc_7692_examples_are_what_we_send() -> None:
    _, server = conns()
    assert server.send(TextMessage("Hello")) == b"\xc1\x07" + HELLO
    # Section 7.2.3.2: the second message refers back to the first.
    assert server.send(TextMessage("Hello")) == bytes.fromhex("c105f200110000")
    # Section 7.2.3.6: an empty message is a single 0x00.
    _, fresh = conns()
    assert fresh.send(BinaryMessage(b"")) == bytes.fromhex("c20100")


@pytest.mark.parametrize(
    "wire",
    [
        b"\xc1\x07" + HELLO,
        bytes.fromhex("4103f248cd8004c9c90700"),  # 7.2.3.1, fragmented
        bytes.fromhex("c10b000500faff48656c6c6f00"),  # 7.2.3.3, a stored block
        bytes.fromhex("c108f348cdc9c9070000"),  # 7.2.3.4, BFINAL set
        bytes.fromhex("c10df24805000000ffffcac9c90700"),  # 7.2.3.5, two blocks
    ],
)
def test_rfc_7692_examples_are_understood(wire: bytes) -> None:
    events, error = feed_every_split(lambda: Connection(Role.CLIENT, extensions=[PerMessageDeflate()]), wire)
    assert (events, error) == ([TextMessage("Hello")], None)


def test_after_a_final_block_the_next_message_is_a_new_stream() -> None:
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()])
    wire = bytes.fromhex("c108f348cdc9c9070000") + b"\xc1\x07" + HELLO
    assert drain(client, [wire]) == ([TextMessage("Hello"), TextMessage("Hello")], None)


@pytest.mark.parametrize("limit", [None, MiB])
def test_what_follows_a_final_block_is_ignored_not_kept(limit: int | None) -> None:
    # Section 7.2.3.4's example itself carries a byte after its final block.
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], max_message_size=limit)
    junk = frame(0x00, b"\xff" * (MiB // 2))
    chunks = [frame(0x41, bytes.fromhex("f348cdc9c90700")), *[junk] * 20, frame(0x80, b"\xff")]
    outcome: list[tuple[list[Event], RemoteProtocolError | None]] = []
    peak = traced_peak(lambda: outcome.append(drain(client, chunks)))
    assert outcome == [([TextMessage("Hello")], None)]
    assert peak < 4 * MiB, peak  # 10 MiB of junk went by, a frame at a time


def test_uncompressed_messages_pass_untouched() -> None:
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()])
    wire = frame(0x81, b"plain") + frame(0x82, b"\xf2\x48") + frame(0x89, b"p")
    assert drain(client, [wire]) == ([TextMessage("plain"), BinaryMessage(b"\xf2\x48"), Ping(b"p")], None)


@pytest.mark.parametrize(
    "wire",
    [
        frame(0x41, HELLO[:3]) + frame(0xC0, HELLO[3:]),  # RSV1 on a continuation
        frame(0x01, b"Hel") + frame(0xC0, b"lo"),
        frame(0xC9, b""),  # on a ping
        frame(0xCA, b"x"),  # on a pong
        frame(0xC8, b"\x03\xe8"),  # on a close
        frame(0x41, HELLO[:3]) + frame(0xC9, b"") + frame(0x80, HELLO[3:]),
    ],
)
def test_rsv1_where_it_may_not_be_is_1002(wire: bytes) -> None:
    _, error = feed_every_split(lambda: Connection(Role.CLIENT, extensions=[PerMessageDeflate()]), wire)
    assert error is not None
    assert error.close_code == 1002


def test_other_rsv_bits_stay_unclaimed() -> None:
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()])
    _, error = drain(client, [frame(0xE1, HELLO)])
    assert error is not None
    assert error.close_code == 1002


@pytest.mark.parametrize(
    "wire",
    [
        frame(0xC1, b"\xff\xff\xff\xff"),  # a reserved block type
        frame(0xC2, b"\x00\x05\x00\x00\x00"),  # stored block whose lengths disagree
        # After a sync flush, in a continuation: BTYPE 11, a reserved block type.
        frame(0x42, HELLO + b"\x00\x00\xff\xff") + frame(0x80, b"\xff\xff\xff"),
        frame(0xC2, zlib.compress(b"zlib header, not raw deflate")),
    ],
)
def test_corrupt_data_is_1007(wire: bytes) -> None:
    _, error = feed_every_split(lambda: Connection(Role.CLIENT, extensions=[PerMessageDeflate()]), wire)
    assert error is not None
    assert error.close_code == 1007


def test_inflated_size_counts_against_the_limit_exactly() -> None:
    data = bytes(range(256)) * 1024  # 256 KiB, 4 chunks of inflation
    for limit, ok in ((len(data), True), (len(data) - 1, False)):
        client, server = conns(max_message_size=limit)
        wire = server.send(BinaryMessage(data))
        assert len(wire) < limit  # the compressed frame passes the header check
        events, error = drain(client, [wire])
        assert (events == [BinaryMessage(data)]) is ok
        assert ok or (error is not None and error.close_code == 1009)


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536, 3 * 65536 + 1])
def test_sizes_around_the_inflation_chunk(size: int) -> None:
    data = random.Random(size).randbytes(size // 2) + bytes(size - size // 2)
    # The exact budget only where the compressed frame is no larger than the
    # message: the connection checks the frame's own length against it first.
    for budget in (size, size + 16, None) if size > 1000 else (size + 16, None):
        client, server = conns(max_message_size=budget)
        assert deliver(client, server, BinaryMessage(data)) == [BinaryMessage(data)]


def test_a_frame_delivers_all_it_can_inflate() -> None:
    # A peer may cut its stream anywhere. Cut just after a match that straddles
    # an inflation step, zlib holds output back with no input left: that output
    # belongs to this frame all the same.
    data = random.Random(0).randbytes(65000) + bytes(3000)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    stream = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)

    def holds_back(cut: int) -> bool:
        probe = zlib.decompressobj(-15)
        return len(probe.decompress(stream[:cut], _CHUNK)) == _CHUNK and not probe.unconsumed_tail

    cuts = [cut for cut in range(len(stream) - 40, len(stream)) if holds_back(cut)]
    assert cuts
    for cut in cuts:
        head = zlib.decompressobj(-15).decompress(stream[:cut])
        assert len(head) > _CHUNK
        client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], stream_messages=True)
        assert drain(client, [frame(0x42, stream[:cut])]) == ([BinaryMessage(head, final=False)], None)
        assert drain(client, [frame(0x80, stream[cut:-4])]) == ([BinaryMessage(data[len(head) :])], None)


@pytest.mark.parametrize("limit", [None, MiB])
def test_a_frame_that_starts_with_many_empty_blocks(limit: int | None) -> None:
    # A peer may flush as often as it likes: 70 KB of empty stored blocks
    # inflate to nothing, whole inflation chunks of them, before the data.
    empty_blocks = b"\x00\x00\x00\xff\xff" * 14_000
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], max_message_size=limit)
    assert drain(client, [frame(0xC1, empty_blocks + HELLO)]) == ([TextMessage("Hello")], None)
    assert drain(client, [frame(0xC1, HELLO)]) == ([TextMessage("Hello")], None)  # the stream goes on


# ------------------------------------------------------------- context takeover


def sizes(sender: Connection, receiver: Connection, message: str, count: int) -> list[int]:
    """Send *message* *count* times; the compressed payload sizes on the wire."""
    out = []
    for _ in range(count):
        wire = sender.send(TextMessage(message))
        ((first, payload),) = unmask(wire)
        assert first & 0x40
        out.append(len(payload))
        assert drain(receiver, [wire]) == ([TextMessage(message)], None)
    return out


MESSAGE = "".join(random.Random(7).choices("abcdefghij ", k=300))


@pytest.mark.parametrize("server_nct", [False, True])
@pytest.mark.parametrize("client_nct", [False, True])
def test_context_takeover_each_direction(server_nct: bool, client_nct: bool) -> None:
    agreed = {"server_no_context_takeover": server_nct, "client_no_context_takeover": client_nct}
    client, server = conns(PerMessageDeflate(**agreed), PerMessageDeflate(**agreed))
    for sender, receiver, reset in ((client, server, client_nct), (server, client, server_nct)):
        seen = sizes(sender, receiver, MESSAGE, 20)
        if reset:
            assert len(set(seen)) == 1  # every message stands alone
        else:
            assert all(size < seen[0] // 5 for size in seen[1:])  # later ones refer back


def test_negotiated_no_context_takeover_resets_the_peer_too() -> None:
    client, server = negotiated(
        PerMessageDeflateFactory(server_no_context_takeover=True), PerMessageDeflateFactory()
    )
    assert len(set(sizes(server, client, MESSAGE, 5))) == 1
    assert len(set(sizes(client, server, MESSAGE, 5))) > 1


def test_receiver_without_takeover_really_starts_afresh() -> None:
    # A sender that (wrongly) keeps its window: the receiver, which agreed to
    # reset per message, cannot resolve the back-reference.
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], mask_key_source=lambda: FIXED_MASK)
    server = Connection(Role.SERVER, extensions=[PerMessageDeflate(client_no_context_takeover=True)])
    assert deliver(client, server, TextMessage(MESSAGE)) == [TextMessage(MESSAGE)]
    _, error = drain(server, [client.send(TextMessage(MESSAGE))])
    assert error is not None
    assert error.close_code == 1007


def test_fragmented_messages_keep_the_context() -> None:
    client, server = conns()
    for _ in range(10):
        pieces = [MESSAGE[:100], "", MESSAGE[100:], ""]
        events = [TextMessage(p, final=False) for p in pieces[:-1]] + [TextMessage(pieces[-1])]
        wire = b"".join(client.send(e) for e in events)
        frames = list(unmask(wire))
        assert [first & 0x40 for first, _ in frames] == [0x40, 0, 0, 0]
        assert drain(server, [wire]) == ([TextMessage(MESSAGE)], None)


# ---------------------------------------------------------------- window bits


def distant_repeats(bits: int) -> bytes:
    """Random data repeated at a distance just inside a 2**bits zlib window."""
    block = random.Random(bits).randbytes(max(1 << bits, 512) - 262)
    return block * 4


@pytest.mark.parametrize("bits", range(9, 16))
@pytest.mark.parametrize("direction", ["client", "server"])
def test_window_bits_on_the_wire(bits: int, direction: str) -> None:
    param = f"{direction}_max_window_bits"
    client, server = conns(PerMessageDeflate(**{param: bits}), PerMessageDeflate(**{param: bits}))  # type: ignore[arg-type]
    sender, receiver = (client, server) if direction == "client" else (server, client)
    inside = distant_repeats(bits)
    outside = distant_repeats(bits + 1)[: len(inside)] if bits < 15 else b""
    inflater = zlib.decompressobj(-bits)
    for data in (inside, outside):
        if not data:
            continue
        wire = sender.send(BinaryMessage(data))
        ((_, payload),) = unmask(wire)
        assert strict_inflate(payload, bits, inflater) == data  # no distance beyond the window
        assert drain(receiver, [wire]) == ([BinaryMessage(data)], None)
        if data is inside:
            assert len(payload) < len(data) // 3  # repeats found within the window
        else:
            assert len(payload) > len(data) // 2  # ... and not beyond it


def test_zlib_refuses_a_raw_8_bit_compressor() -> None:
    # Why 8 is special: this is the zlib behaviour the module works around.
    with pytest.raises(ValueError, match="Invalid initialization option"):
        zlib.compressobj(wbits=-8)


@pytest.mark.parametrize("direction", ["client", "server"])
def test_an_8_bit_window_is_honoured_with_zlib_s_9(direction: str) -> None:
    param = f"{direction}_max_window_bits"
    client, server = conns(PerMessageDeflate(**{param: 8}), PerMessageDeflate(**{param: 8}))  # type: ignore[arg-type]
    sender, receiver = (client, server) if direction == "client" else (server, client)
    # Repeats at 250 bytes (zlib's farthest reach with 9 bits) and at 300 (beyond 8 bits).
    rng = random.Random(8)
    data = b"".join(rng.randbytes(n) * 6 for n in (250, 300, 256, 40) * 3)
    inflater = zlib.decompressobj(-8)
    for _ in range(3):
        wire = sender.send(BinaryMessage(data))
        ((_, payload),) = unmask(wire)
        assert strict_inflate(payload, 8, inflater) == data  # a true 256-byte window inflates it
        assert len(payload) < len(data) * 3 // 4  # the 250- and 40-byte repeats were found
        assert drain(receiver, [wire]) == ([BinaryMessage(data)], None)


def test_negotiated_windows_reach_both_compressors() -> None:
    client, server = negotiated(
        PerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=11),
        PerMessageDeflateFactory(),
    )
    for sender, receiver, bits in ((client, server, 11), (server, client, 10)):
        data = distant_repeats(bits + 1)
        wire = sender.send(BinaryMessage(data))
        ((_, payload),) = unmask(wire)
        assert strict_inflate(payload, bits) == data
        assert len(payload) > len(data) // 2
        assert drain(receiver, [wire]) == ([BinaryMessage(data)], None)


# ------------------------------------------------------ threshold and opting out


def rsv1_flags(wire: bytes) -> list[bool]:
    return [bool(first & 0x40) for first, _ in unmask(wire)]


def test_threshold() -> None:
    client, server = conns(PerMessageDeflate(compression_threshold=10))
    assert rsv1_flags(client.send(BinaryMessage(b"x" * 9))) == [False]
    assert rsv1_flags(client.send(BinaryMessage(b"x" * 10))) == [True]
    # The first frame decides for the whole message.
    wire = client.send(BinaryMessage(b"x" * 5, final=False)) + client.send(BinaryMessage(b"y" * 500))
    assert rsv1_flags(wire) == [False, False]
    assert drain(server, [wire]) == ([BinaryMessage(b"x" * 5 + b"y" * 500)], None)


def test_skip_next_message() -> None:
    client, server = conns()
    ext = client.extensions[0]
    assert isinstance(ext, PerMessageDeflate)
    assert deliver(client, server, TextMessage(MESSAGE)) == [TextMessage(MESSAGE)]
    ext.skip_next_message()
    wire = b"".join(client.send(TextMessage(p, final=False)) for p in ("se", "cr")) + client.send(
        TextMessage("et")
    )
    assert rsv1_flags(wire) == [False, False, False]
    assert b"secret" in b"".join(payload for _, payload in unmask(wire))
    assert drain(server, [wire]) == ([TextMessage("secret")], None)
    # Only that one: the next message is compressed again, still with the context.
    wire = client.send(TextMessage(MESSAGE))
    assert rsv1_flags(wire) == [True]
    assert len(wire) < 30
    assert drain(server, [wire]) == ([TextMessage(MESSAGE)], None)


def test_skip_during_a_fragmented_send_applies_to_the_next_message() -> None:
    client, server = conns()
    ext = client.extensions[0]
    assert isinstance(ext, PerMessageDeflate)
    wire = client.send(BinaryMessage(b"a" * 50, final=False))
    ext.skip_next_message()
    wire += client.send(BinaryMessage(b"b" * 50))
    assert rsv1_flags(wire) == [True, False]
    after = client.send(BinaryMessage(b"c" * 50))
    assert rsv1_flags(after) == [False]
    assert drain(server, [wire + after]) == (
        [BinaryMessage(b"a" * 50 + b"b" * 50), BinaryMessage(b"c" * 50)],
        None,
    )


def test_control_frames_are_never_compressed() -> None:
    client, server = conns()
    wire = client.send(Ping(b"a" * 100)) + client.send(Pong(b"b" * 100)) + client.send(Close(1000, "c" * 100))
    assert rsv1_flags(wire) == [False, False, False]
    assert drain(server, [wire])[0] == [Ping(b"a" * 100), Pong(b"b" * 100), Close(1000, "c" * 100)]


@pytest.mark.parametrize(("level", "mem_level"), [(0, 1), (1, 9), (9, 5), (-1, 8)])
def test_compression_settings(level: int, mem_level: int) -> None:
    ext = PerMessageDeflate(compression_level=level, mem_level=mem_level)
    client, server = conns(ext)
    wire = client.send(TextMessage(MESSAGE))
    ((_, payload),) = unmask(wire)
    assert (len(payload) > len(MESSAGE)) is (level == 0)  # level 0 stores
    assert drain(server, [wire]) == ([TextMessage(MESSAGE)], None)


# ------------------------------------------------------------------- the bomb


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros, compressed (about 1 MiB), without ever holding the GiB.

    Past the first block, each 4 MiB of zeros compresses to the same bytes:
    compress three blocks, check that, and repeat the second.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(4 * MiB)
    blocks = [compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH) for _ in range(3)]
    assert blocks[1] == blocks[2]
    stream = blocks[0] + blocks[1] * 255
    assert zlib.decompressobj(-15).decompress(blocks[0] + blocks[1]) == bytes(8 * MiB)
    assert stream.endswith(b"\x00\x00\xff\xff")
    return stream[:-4]


def traced_peak(run: Callable[[], object]) -> int:
    """The peak of memory traced while *run* runs."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_bomb_in_decode_inflates_at_most_the_budget(bomb: bytes) -> None:
    ext = PerMessageDeflate()
    ext.bind(Role.CLIENT)
    compressed = Frame(2, bomb, True, 0x40)
    caught: list[RemoteProtocolError] = []

    def run() -> None:
        with pytest.raises(RemoteProtocolError) as info:
            ext.decode(compressed, max_size=MiB)
        caught.append(info.value)

    peak = traced_peak(run)
    assert caught[0].close_code == 1009
    assert peak < 2 * MiB, peak


def test_bomb_in_one_frame_is_1009(bomb: bytes) -> None:
    assert len(bomb) < MiB  # so the frame passes the header check
    wire = frame(0xC2, bomb)
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], max_message_size=MiB)
    outcome: list[tuple[list[Event], RemoteProtocolError | None]] = []
    peak = traced_peak(lambda: outcome.append(drain(client, [wire])))
    events, error = outcome[0]
    assert events == []
    assert error is not None
    assert error.close_code == 1009
    assert client.state is State.FAILED
    # The connection holds the compressed frame (up to max_message_size) while
    # it is inflated, in two copies today; inflation itself adds at most the budget.
    assert peak < 2 * MiB + 2 * len(bomb), peak


def test_bomb_under_a_realistic_limit_peaks_below_twice_the_limit(bomb: bytes) -> None:
    """Issue 4: 1 GiB of zeros, compressed, fails with 1009; peak memory < 2x max_message_size."""
    limit = 16 * MiB
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], max_message_size=limit)
    wire = frame(0xC2, bomb)
    outcome: list[tuple[list[Event], RemoteProtocolError | None]] = []
    peak = traced_peak(
        lambda: outcome.append(drain(client, [wire[i : i + 65536] for i in range(0, len(wire), 65536)]))
    )
    events, error = outcome[0]
    assert events == []
    assert error is not None
    assert error.close_code == 1009
    assert peak < 2 * limit, peak


def test_bomb_across_continuation_frames_is_1009(bomb: bytes) -> None:
    client = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], max_message_size=MiB)
    step = 64  # about 64 KiB of zeros per frame

    def frames() -> Iterator[bytes]:
        for start in range(0, len(bomb), step):
            first = (0x42 if start == 0 else 0x00) | (0x80 if start + step >= len(bomb) else 0)
            yield frame(first, bomb[start : start + step])

    fed = 0
    error: RemoteProtocolError | None = None

    def run() -> None:
        nonlocal fed, error
        for wire in frames():
            fed += 1
            _, error = drain(client, [wire])
            if error is not None:
                return

    peak = traced_peak(run)
    assert error is not None
    assert error.close_code == 1009
    assert 10 < fed < 100  # the budget ran out over many frames, not in one
    assert peak < 2 * MiB, peak


def compressed_frames(sender: PerMessageDeflate, data: bytes, cuts: int = 0) -> list[Frame]:
    """*data* as one message in *cuts* + 1 frames, compressed by *sender* (a bound client)."""
    step = -(-len(data) // (cuts + 1)) or 1
    pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    return [
        sender.encode(Frame(0 if i else 2, piece, i == len(pieces) - 1)) for i, piece in enumerate(pieces)
    ]


def inflate_message(ext: PerMessageDeflate, frames: list[Frame], budget: int | None) -> list[bytes]:
    """Decode one message's frames as the connection does, the budget shrinking as output comes."""
    out: list[bytes] = []
    for compressed in frames:
        left = None if budget is None else budget - sum(map(len, out))
        decoded = ext.decode(compressed, max_size=left)
        assert (decoded.opcode, decoded.fin, decoded.rsv) == (compressed.opcode, compressed.fin, 0)
        out.append(decoded.payload)
    return out


# Sizes around the inflation chunk, in an order that makes every kind of frame
# follow every other: with context takeover a frame inflates only if the one
# before it left the stream where the sender did.
SIZES = [3 * _CHUNK, _CHUNK + 1, 300, 0, _CHUNK - 1, 1, _CHUNK, 3 * _CHUNK, 0, 300]


@pytest.mark.parametrize("cuts", [0, 1, 3])
@pytest.mark.parametrize("reset", [False, True])
def test_one_inflate_path_with_or_without_a_limit(cuts: int, reset: bool) -> None:
    """Frame by frame the same output with no limit and with the exact budget; one byte less is 1009.

    Random halves make frames whose compressed payload crosses the inflation
    chunk; the zero halves inflate to more than they take.
    """
    rng = random.Random(cuts)
    sender, unlimited, exact = (PerMessageDeflate(client_no_context_takeover=reset) for _ in range(3))
    sender.bind(Role.CLIENT)
    unlimited.bind(Role.SERVER)
    exact.bind(Role.SERVER)
    sent: list[list[Frame]] = []
    for size in SIZES:
        data = rng.randbytes(size // 2) + bytes(size - size // 2)
        frames = compressed_frames(sender, data, cuts)
        pieces = inflate_message(unlimited, frames, None)
        assert b"".join(pieces) == data
        assert inflate_message(exact, frames, len(data)) == pieces
        if data:
            # A receiver in the same state, one byte short for this message.
            short = PerMessageDeflate(client_no_context_takeover=reset)
            short.bind(Role.SERVER)
            for before in sent:
                inflate_message(short, before, None)
            with pytest.raises(RemoteProtocolError, match="inflates past the size limit") as info:
                inflate_message(short, frames, len(data) - 1)
            assert info.value.close_code == 1009
        sent.append(frames)


def test_a_budget_below_zero_counts_as_zero() -> None:
    sender, ext = PerMessageDeflate(), PerMessageDeflate()
    sender.bind(Role.CLIENT)
    ext.bind(Role.SERVER)
    (empty,) = compressed_frames(sender, b"")
    assert ext.decode(empty, max_size=-1).payload == b""
    (one,) = compressed_frames(sender, b"x")
    with pytest.raises(RemoteProtocolError) as info:
        ext.decode(one, max_size=-1)
    assert info.value.close_code == 1009


# ------------------------------------------------------------------ round trips

TEXT = st.text(alphabet="ab é€😀", max_size=60)
BINARY = st.binary(max_size=40).map(lambda data: data * 3)
MESSAGES = st.lists(
    st.tuples(
        st.lists(TEXT, min_size=1, max_size=4) | st.lists(BINARY, min_size=1, max_size=4), st.booleans()
    ),
    min_size=1,
    max_size=6,
)
AGREED = st.fixed_dictionaries(
    {
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": st.none() | st.integers(8, 15),
        "client_max_window_bits": st.none() | st.integers(8, 15),
        "compression_threshold": st.sampled_from([0, 0, 20]),
    }
)


def fragments(pieces: Sequence[str] | Sequence[bytes]) -> tuple[list[Event], Event]:
    """The events that send *pieces* as one fragmented message, and the message."""
    last = len(pieces) - 1
    if isinstance(pieces[0], str):
        texts = [str(p) for p in pieces]
        return [TextMessage(p, final=i == last) for i, p in enumerate(texts)], TextMessage("".join(texts))
    data = [p for p in pieces if isinstance(p, bytes)]
    return [BinaryMessage(p, final=i == last) for i, p in enumerate(data)], BinaryMessage(b"".join(data))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agreed=AGREED, messages=MESSAGES, cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_round_trip_under_fragmentation_and_chunking(
    agreed: dict[str, int | None], messages: list[tuple[list[str] | list[bytes], bool]], cuts: list[int]
) -> None:
    client, server = conns(PerMessageDeflate(**agreed), PerMessageDeflate(**agreed))  # type: ignore[arg-type]
    for sender, receiver in ((client, server), (server, client)):
        wire = b""
        expected: list[Event] = []
        for pieces, ping in messages:
            events, whole = fragments(pieces)
            for i, event in enumerate(events):
                wire += sender.send(event)
                if ping and i == 0 and len(events) > 1:
                    wire += sender.send(Ping(b"mid"))  # a control frame inside the message
                    expected.append(Ping(b"mid"))
            expected.append(whole)
        points = sorted({min(cut, len(wire)) for cut in cuts} | {0, len(wire)})
        chunks = [wire[a:b] for a, b in itertools.pairwise(points) if b > a]
        assert drain(receiver, chunks) == (expected, None)
        assert receiver.next_event() is Signal.NEED_DATA


@settings(max_examples=25, deadline=None)
@given(pieces=st.lists(st.binary(max_size=300), min_size=1, max_size=5))
def test_streamed_delivery_of_compressed_fragments(pieces: list[bytes]) -> None:
    client, server = conns(stream_messages=True)
    events = [BinaryMessage(p, final=i == len(pieces) - 1) for i, p in enumerate(pieces)]
    received = deliver(client, server, *events)
    assert all(isinstance(event, BinaryMessage) for event in received)
    assert b"".join(event.data for event in received) == b"".join(pieces)  # type: ignore[attr-defined]
    assert [event.final for event in received] == [False] * (len(received) - 1) + [True]  # type: ignore[attr-defined]


def test_incompressible_message_at_exactly_the_limit() -> None:
    """Deflate grows random data a little; the decoded size is what the limit counts."""
    data = random.Random(7).randbytes(65536)
    sender = Connection(Role.CLIENT, extensions=[PerMessageDeflate()])
    receiver = Connection(Role.SERVER, extensions=[PerMessageDeflate()], max_message_size=65536)
    wire = sender.send(BinaryMessage(data))
    assert len(wire) > 65536 + 14  # the frame really is larger than the limit
    assert drain(receiver, [wire]) == ([BinaryMessage(data)], None)
    _, error = drain(receiver, [sender.send(BinaryMessage(data + b"!"))])
    assert error is not None
    assert error.close_code == 1009

"""permessage-deflate against another implementation: the sans-I/O layer of ``websockets``.

Negotiation runs between our factories and theirs, then compressed messages
cross the wire both ways between a ``noio_ws.Connection`` and a
``websockets.protocol.Protocol`` carrying their extension object.
"""

from __future__ import annotations

from typing import Any

import pytest

from noio_ws import BinaryMessage, Connection, Role, TextMessage
from noio_ws.extensions import PerMessageDeflate, PerMessageDeflateFactory
from noio_ws.testing import feed_chunks

pmd = pytest.importorskip("websockets.extensions.permessage_deflate")
protocol = pytest.importorskip("websockets.protocol")

TEXT = "permessage-deflate interop, " * 40
BLOB = bytes(range(100)) * 50  # a period well inside the smallest window

PREFERENCES: list[dict[str, Any]] = [
    {},
    {"server_no_context_takeover": True},
    {"client_no_context_takeover": True},
    {"server_max_window_bits": 10},
    {"client_max_window_bits": 11},
    {
        "server_no_context_takeover": True,
        "client_no_context_takeover": True,
        "server_max_window_bits": 9,
        "client_max_window_bits": 12,
    },
]


def exchange(ours: Connection, theirs: Any) -> None:
    """Messages, whole and fragmented, repeated (so context matters), both ways."""
    wire = b""
    for _ in range(3):
        for event in (
            TextMessage(TEXT),
            BinaryMessage(BLOB[:1000], final=False),
            BinaryMessage(b"", final=False),
            BinaryMessage(BLOB[1000:]),
        ):
            wire += ours.send(event)
    assert wire[0] == 0xC1  # FIN, RSV1, text
    assert len(wire) < len(TEXT) + len(BLOB)  # all three rounds, compressed
    theirs.receive_data(wire)
    got = theirs.events_received()
    assert [(f.opcode.value, f.fin) for f in got] == [(1, True), (2, False), (0, False), (0, True)] * 3
    assert b"".join(f.data for f in got) == (TEXT.encode() + BLOB) * 3

    for _ in range(3):
        theirs.send_text(TEXT.encode())
        theirs.send_binary(BLOB[:500], fin=False)
        theirs.send_continuation(BLOB[500:], fin=True)
    wire = b"".join(theirs.data_to_send())
    assert len(wire) < len(TEXT) + len(BLOB)
    events, error = feed_chunks(ours, [wire])
    assert error is None
    assert events == [TextMessage(TEXT), BinaryMessage(BLOB)] * 3


@pytest.mark.parametrize("preferences", PREFERENCES)
def test_our_client_their_server(preferences: dict[str, Any]) -> None:
    factory = PerMessageDeflateFactory(**preferences)
    answer, their_ext = pmd.ServerPerMessageDeflateFactory().process_request_params(factory.offer(), [])
    our_ext = factory.accept_response(answer)
    theirs = protocol.Protocol(protocol.Side.SERVER)
    theirs.extensions = [their_ext]
    exchange(Connection(Role.CLIENT, extensions=[our_ext]), theirs)


@pytest.mark.parametrize("preferences", PREFERENCES)
def test_their_client_our_server(preferences: dict[str, Any]) -> None:
    their_factory = pmd.ClientPerMessageDeflateFactory(**preferences)
    accepted = PerMessageDeflateFactory().accept_offer(their_factory.get_request_params())
    assert accepted is not None
    answer, our_ext = accepted
    theirs = protocol.Protocol(protocol.Side.CLIENT)
    theirs.extensions = [their_factory.process_response_params(answer, [])]
    exchange(Connection(Role.SERVER, extensions=[our_ext]), theirs)


@pytest.mark.parametrize("preferences", PREFERENCES[1:])
def test_our_server_preferences_reach_their_client(preferences: dict[str, Any]) -> None:
    their_factory = pmd.ClientPerMessageDeflateFactory()
    accepted = PerMessageDeflateFactory(**preferences).accept_offer(their_factory.get_request_params())
    assert accepted is not None
    answer, our_ext = accepted
    theirs = protocol.Protocol(protocol.Side.CLIENT)
    theirs.extensions = [their_factory.process_response_params(answer, [])]
    exchange(Connection(Role.SERVER, extensions=[our_ext]), theirs)


def test_handshake_less_defaults_match() -> None:
    ours = Connection(Role.SERVER, extensions=[PerMessageDeflate()])
    theirs = protocol.Protocol(protocol.Side.CLIENT)
    theirs.extensions = [pmd.PerMessageDeflate(False, False, 15, 15)]
    exchange(ours, theirs)


def test_their_compressed_message_over_our_limit_is_1009() -> None:
    ours = Connection(Role.CLIENT, extensions=[PerMessageDeflate()], max_message_size=1 << 20)
    theirs = protocol.Protocol(protocol.Side.SERVER)
    theirs.extensions = [pmd.PerMessageDeflate(False, False, 15, 15)]
    theirs.send_binary(bytes(2 << 20))
    wire = b"".join(theirs.data_to_send())
    assert len(wire) < 4096
    events, error = feed_chunks(ours, [wire])
    assert events == []
    assert error is not None
    assert error.close_code == 1009

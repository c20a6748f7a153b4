"""RFC 8441 end to end: an h2 client and an h2 server connection in memory, the WebSocket
handshake as an extended CONNECT, permessage-deflate, messages both ways in DATA frames,
and a clean close (Close frames, then END_STREAM each way)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TypeVar

import pytest

from noio_ws import BinaryMessage, Close, Connection, Event, HandshakeError, Signal, State, TextMessage
from noio_ws.extended_connect import (
    ExtendedConnectAccepted,
    ExtendedConnectClient,
    ExtendedConnectRejected,
    ExtendedConnectServer,
)
from noio_ws.extensions import PerMessageDeflate, PerMessageDeflateFactory

h2_config = pytest.importorskip("h2.config")
h2_connection = pytest.importorskip("h2.connection")
h2_events = pytest.importorskip("h2.events")
h2_settings = pytest.importorskip("h2.settings")

T = TypeVar("T")
ENABLE_CONNECT_PROTOCOL = h2_settings.SettingCodes.ENABLE_CONNECT_PROTOCOL


class Peer:
    """One side of an HTTP/2 connection in memory, with the events it has seen."""

    def __init__(self, *, client_side: bool, enable_connect_protocol: bool = True) -> None:
        config = h2_config.H2Configuration(client_side=client_side, header_encoding=None)
        self.h2 = h2_connection.H2Connection(config=config)
        self.h2.initiate_connection()
        if enable_connect_protocol:
            self.h2.update_settings({ENABLE_CONNECT_PROTOCOL: 1})
        self.events: list[object] = []

    def take(self, kind: type[T]) -> list[T]:
        """The events of *kind* seen so far, removed from the list."""
        taken = [event for event in self.events if isinstance(event, kind)]
        self.events = [event for event in self.events if not isinstance(event, kind)]
        return taken

    def send_data(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        """DATA frames no larger than the peer allows (the windows are large enough here)."""
        size = self.h2.max_outbound_frame_size
        assert self.h2.local_flow_control_window(stream_id) >= len(data)
        pieces = [data[start : start + size] for start in range(0, len(data), size)] or [b""]
        for index, piece in enumerate(pieces):
            self.h2.send_data(stream_id, piece, end_stream=end_stream and index == len(pieces) - 1)


def pump(a: Peer, b: Peer) -> None:
    """Move bytes both ways until both are quiet (bounded); acknowledge DATA as it arrives."""
    for _ in range(100):
        moved = False
        for sender, receiver in ((a, b), (b, a)):
            data = sender.h2.data_to_send()
            if data:
                moved = True
                for event in receiver.h2.receive_data(data):
                    if isinstance(event, h2_events.DataReceived):
                        receiver.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    receiver.events.append(event)
        if not moved:
            return
    raise AssertionError("the connections never went quiet")


def stream_events(conn: Connection, peer: Peer, stream_id: int) -> Iterator[Event | Signal]:
    """Feed the stream's DATA (and END_STREAM as EOF) into *conn*; its events, then the signal."""
    for event in peer.events:
        if isinstance(event, h2_events.DataReceived) and event.stream_id == stream_id:
            conn.receive_data(event.data)
        elif isinstance(event, h2_events.StreamEnded) and event.stream_id == stream_id:
            conn.receive_data(b"")
    peer.events = [
        event
        for event in peer.events
        if not isinstance(event, (h2_events.DataReceived, h2_events.StreamEnded))
        or event.stream_id != stream_id
    ]
    yield from conn.events()
    yield conn.next_event()


def connected_pair() -> tuple[Peer, Peer]:
    client, server = Peer(client_side=True), Peer(client_side=False)
    pump(client, server)
    # The helpers cannot see SETTINGS: this is the check RFC 8441 section 3 asks of the caller.
    assert client.h2.remote_settings.enable_connect_protocol == 1
    assert server.h2.remote_settings.enable_connect_protocol == 1
    return client, server


def open_websocket() -> tuple[Peer, Peer, int, ExtendedConnectAccepted, Connection, ExtendedConnectServer]:
    client, server = connected_pair()
    ws_client = ExtendedConnectClient(
        "example.com",
        "/chat?room=1",
        subprotocols=["chat", "superchat"],
        extensions=[PerMessageDeflateFactory()],
        origin="https://example.com",
    )
    stream_id = client.h2.get_next_available_stream_id()
    client.h2.send_headers(stream_id, ws_client.request_headers, end_stream=False)
    pump(client, server)
    (request_event,) = server.take(h2_events.RequestReceived)
    ws_server = ExtendedConnectServer(subprotocols=["superchat"], extensions=[PerMessageDeflateFactory()])
    request = ws_server.receive_request(request_event.headers)
    assert (request.scheme, request.authority, request.path) == ("https", "example.com", "/chat?room=1")
    assert request.origin == "https://example.com"
    fields, server_conn = ws_server.accept()
    server.h2.send_headers(stream_id, fields, end_stream=False)
    pump(client, server)
    (response_event,) = client.take(h2_events.ResponseReceived)
    result = ws_client.receive_response(response_event.headers)
    assert isinstance(result, ExtendedConnectAccepted)
    return client, server, stream_id, result, server_conn, ws_server


def test_extended_connect_with_permessage_deflate_over_h2() -> None:
    client, server, stream_id, accepted, server_conn, ws_server = open_websocket()
    assert accepted.subprotocol == ws_server.subprotocol == "superchat"
    assert [type(extension) for extension in accepted.extensions] == [PerMessageDeflate]
    assert [type(extension) for extension in server_conn.extensions] == [PerMessageDeflate]
    client_conn = accepted.connection

    # Client to server: compressed (RSV1 set) and masked, in DATA frames.
    wire = client_conn.send(TextMessage("hello over HTTP/2 " * 20))
    assert wire[0] & 0x40, "the message should be compressed"
    assert wire[1] & 0x80, "a client masks (RFC 8441 keeps RFC 6455 framing)"
    client.send_data(stream_id, wire)
    pump(client, server)
    assert list(stream_events(server_conn, server, stream_id)) == [
        TextMessage("hello over HTTP/2 " * 20),
        Signal.NEED_DATA,
    ]

    # Server to client: a binary message larger than one DATA frame (16 KiB).
    payload = os.urandom(40_000)
    wire = server_conn.send(BinaryMessage(payload))
    assert not wire[1] & 0x80, "a server does not mask"
    server.send_data(stream_id, wire)
    pump(client, server)
    assert list(stream_events(client_conn, client, stream_id)) == [BinaryMessage(payload), Signal.NEED_DATA]

    # The close: the client's Close, the server's answer and END_STREAM, then the client's END_STREAM.
    client.send_data(stream_id, client_conn.send(Close(1000, "bye")))
    pump(client, server)
    received = list(stream_events(server_conn, server, stream_id))
    assert received == [Close(1000, "bye"), Signal.CLOSED]
    server.send_data(stream_id, server_conn.send(Close(1000, "bye").response()), end_stream=True)
    pump(client, server)
    assert list(stream_events(client_conn, client, stream_id)) == [Close(1000, ""), Signal.CLOSED]
    assert client_conn.state is State.CLOSED
    client.h2.end_stream(stream_id)
    pump(client, server)
    assert list(stream_events(server_conn, server, stream_id)) == [Signal.CLOSED]
    assert server_conn.state is State.CLOSED
    # No reset on either side: the stream ended cleanly both ways.
    for peer in (client, server):
        assert not peer.take(h2_events.StreamReset)
        assert not peer.take(h2_events.ConnectionTerminated)


def test_a_rejection_over_h2_carries_its_body_as_data() -> None:
    client, server = connected_pair()
    ws_client = ExtendedConnectClient("example.com", "/", origin="https://evil.example")
    stream_id = client.h2.get_next_available_stream_id()
    client.h2.send_headers(stream_id, ws_client.request_headers)
    pump(client, server)
    (request_event,) = server.take(h2_events.RequestReceived)
    ws_server = ExtendedConnectServer(origins=["https://example.com"])
    with pytest.raises(HandshakeError) as info:
        ws_server.receive_request(request_event.headers)
    fields, body = ws_server.reject_error(info.value)
    server.h2.send_headers(stream_id, fields)
    server.send_data(stream_id, body, end_stream=True)
    pump(client, server)
    (response_event,) = client.take(h2_events.ResponseReceived)
    result = ws_client.receive_response(response_event.headers)
    assert isinstance(result, ExtendedConnectRejected)
    assert result.status_code == 403
    data = b"".join(event.data for event in client.take(h2_events.DataReceived))
    assert data == b"origin not allowed\n"
    assert client.take(h2_events.StreamEnded)


def test_h2_does_not_check_the_peer_setting_for_us() -> None:
    """h2 4.x lets a client send :protocol to a server that never enabled it: the
    check is the caller's (SETTINGS are invisible to the helpers)."""
    client, server = Peer(client_side=True), Peer(client_side=False, enable_connect_protocol=False)
    pump(client, server)
    assert client.h2.remote_settings.enable_connect_protocol == 0
    stream_id = client.h2.get_next_available_stream_id()
    client.h2.send_headers(stream_id, ExtendedConnectClient("example.com", "/").request_headers)
    pump(client, server)
    assert server.take(h2_events.RequestReceived)

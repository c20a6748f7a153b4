"""noio_ws.integrations.uvicorn under a real uvicorn on loopback.

uvicorn's own test suite is the judge of the protocol contract
(compliance/peer_suites.sh); these tests cover what that suite does not: bad
input through the server gets the close code or HTTP status noio_ws chose, a
peer that stops reading does not grow the server, a deflate bomb is cut at the
limit, denial bodies are streamed, and keepalive runs on ``Deadlines``.
Every wait is bounded by a socket timeout.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

uvicorn = pytest.importorskip("uvicorn")

from noio_ws import (  # noqa: E402
    BinaryMessage,
    Close,
    Connection,
    Event,
    Ping,
    RemoteProtocolError,
    Role,
    Signal,
    TextMessage,
)
from noio_ws.extensions import PerMessageDeflateFactory  # noqa: E402
from noio_ws.handshake import Accepted, ClientHandshake, Rejected  # noqa: E402
from noio_ws.integrations.uvicorn import NoioWSProtocol  # noqa: E402

App = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]
TIMEOUT = 10.0


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept", "subprotocol": (scope["subprotocols"] or [None])[0]})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "scope":
            fields = ("path", "raw_path", "query_string", "root_path", "scheme", "http_version")
            await send({"type": "websocket.send", "text": repr({name: scope[name] for name in fields})})
            continue
        await send({"type": "websocket.send", **{k: v for k, v in message.items() if k in ("text", "bytes")}})


@contextmanager
def serve(app: App = echo_app, **options: Any) -> Iterator[tuple[int, Any]]:
    """A uvicorn server with our protocol class, in a thread; yields (port, server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, ws=NoioWSProtocol, lifespan="off", log_level="critical", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()


_sockets: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_client_sockets() -> Iterator[None]:
    yield
    while _sockets:
        _sockets.pop().close()


class Client:
    """A blocking noio_ws client over a socket, for tests (closed after each test)."""

    def __init__(self, port: int, target: str = "/", **options: Any) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        _sockets.append(self.sock)
        handshake = ClientHandshake(f"127.0.0.1:{port}", target, **options)
        self.sock.sendall(handshake.send())
        result = None
        while result is None:
            result = handshake.receive_data(self.sock.recv(65536))
        self.result = result
        self.conn: Connection = result.connection if isinstance(result, Accepted) else None  # type: ignore[assignment]

    def send(self, event: Event) -> None:
        self.sock.sendall(self.conn.send(event))

    def next(self) -> Event | Signal:
        """The next event; reads until there is one (or the error the server's bytes raise)."""
        while (event := self.conn.next_event()) is Signal.NEED_DATA:
            self.conn.receive_data(self.sock.recv(65536))
        return event

    def read_until_eof(self) -> bytes:
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        return data


def raw_request(port: int, request: bytes) -> bytes:
    """Send *request* on a fresh socket; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def upgrade(
    method: bytes = b"GET",
    *,
    version: bytes = b"13",
    key: bytes = b"dGhlIHNhbXBsZSBub25jZQ==",
    extra: bytes = b"",
) -> bytes:
    return (
        method + b" / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: " + version + b"\r\n" + extra + b"\r\n"
    )


# ---------------------------------------------------------------- the good path


@pytest.mark.parametrize("deflate", [False, True])
def test_echo_text_and_binary(deflate: bool) -> None:
    extensions = [PerMessageDeflateFactory()] if deflate else []
    with serve() as (port, _):
        client = Client(port, subprotocols=["chat"], extensions=extensions)
        assert isinstance(client.result, Accepted)
        assert client.result.subprotocol == "chat"
        assert [e.name for e in client.result.extensions] == (["permessage-deflate"] if deflate else [])
        client.send(TextMessage("héllo"))
        assert client.next() == TextMessage("héllo")
        client.send(BinaryMessage(b"\x00" * 100_000))
        assert client.next() == BinaryMessage(b"\x00" * 100_000)
        client.send(Ping(b"p"))
        assert client.next().payload == b"p"  # type: ignore[union-attr]
        client.send(Close(1000, "bye"))
        assert client.next() == Close(1000)  # the reply echoes the code
        assert client.read_until_eof() == b""  # the server closes the transport first


def test_scope_paths_and_root_path() -> None:
    with serve(root_path="/root") as (port, _):
        client = Client(port, "/a%2Fb?x=1")
        client.send(TextMessage("scope"))
        event = client.next()
        assert isinstance(event, TextMessage)
        assert event.data == repr(
            {
                "path": "/root/a/b",
                "raw_path": b"/root/a%2Fb",
                "query_string": b"x=1",
                "root_path": "/root",
                "scheme": "ws",
                "http_version": "1.1",
            }
        )


def test_frames_sent_before_the_accept_are_delivered_after_it() -> None:
    # Reading pauses at the end of the request until the app accepts; the frames
    # that wait in the meantime then reach the app. (uvicorn's HTTP protocols
    # re-feed only the request head, so bytes that came in the same read as the
    # request never reach any --ws class: the frame is sent on its own here.)
    trigger = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await asyncio.get_running_loop().run_in_executor(None, trigger.wait, TIMEOUT)
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "got " + message["text"]})

    client_conn = Connection(Role.CLIENT)
    with serve(app) as (port, server), socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(upgrade(key=base64.b64encode(b"k" * 16)))
        deadline = time.monotonic() + TIMEOUT
        while not any(getattr(p, "scope", None) for p in server.server_state.connections):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        sock.sendall(client_conn.send(TextMessage("early")))
        trigger.set()
        data = b""
        while b"got early" not in data:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        assert data.startswith(b"HTTP/1.1 101 ")


# ---------------------------------------------------------------- bad input


def close_code_for(port: int, wire: bytes, **options: Any) -> int:
    """Send raw frame bytes after a real handshake; the code of the server's Close."""
    client = Client(port, **options)
    client.sock.sendall(wire)
    event = client.next()
    assert isinstance(event, Close)
    client.read_until_eof()  # then the transport ends
    return event.code


def header(first: int, length: int, key: bytes = b"\x01\x02\x03\x04") -> bytes:
    """A masked frame header (RFC 6455 section 5.2), with minimal length encoding."""
    if length < 126:
        return bytes([first, 0x80 | length]) + key
    if length < 65536:
        return bytes([first, 0xFE]) + length.to_bytes(2, "big") + key
    return bytes([first, 0xFF]) + length.to_bytes(8, "big") + key


def masked(first: int, payload: bytes) -> bytes:
    key = b"\x01\x02\x03\x04"
    return header(first, len(payload), key) + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_bad_input_gets_the_right_close_code() -> None:
    with serve(ws_max_size=1000) as (port, _):
        assert close_code_for(port, masked(0x81, b"\xff\xfe")) == 1007  # invalid UTF-8
        assert close_code_for(port, b"\x81\x02hi") == 1002  # a client frame must be masked
        assert close_code_for(port, masked(0xC1, b"")) == 1002  # RSV bits nobody claimed
        assert close_code_for(port, header(0x82, 2000)) == 1009  # decided from the header alone


def test_a_deflate_bomb_is_cut_at_the_limit() -> None:
    compressor = zlib.compressobj(wbits=-15)
    bomb = compressor.compress(b"\x00" * (64 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]  # RFC 7692 section 7.2.1: the tail is left off
    with serve(ws_max_size=1 << 20) as (port, _):
        client = Client(port, extensions=[PerMessageDeflateFactory()])
        # FIN, RSV1 (compressed), binary; a zero mask leaves the payload as it is.
        client.sock.sendall(header(0xC2, len(bomb), b"\x00" * 4) + bomb)
        event = client.next()
        assert isinstance(event, Close)
        assert event.code == 1009


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (upgrade(key=b""), 400),
        (upgrade(version=b"12"), 426),
        (upgrade(b"POST"), 405),
        (upgrade(extra=b"X-Big: " + b"x" * 15000 + b"\r\n" + b"X-Many: 1\r\n" * 200), 431),
    ],
    ids=["no key", "version 12", "POST", "too many headers"],
)
def test_handshake_abuse_gets_the_handshake_status(request_bytes: bytes, status: int) -> None:
    with serve() as (port, _):
        answer = raw_request(port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:200]
    if status == 405:
        assert b"\r\nallow: get\r\n" in answer.lower()


def test_head_gets_405_without_a_body() -> None:
    with serve() as (port, _):
        answer = raw_request(port, upgrade(b"HEAD"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 ")
    assert body == b""


def test_a_peer_that_stops_reading_does_not_grow_the_server() -> None:
    with serve(ws_max_size=1 << 20) as (port, server):
        client = Client(port)
        client.sock.setblocking(False)
        message = client.conn.send(BinaryMessage(b"x" * 65536))
        sent = 0
        stalled_since = None
        deadline = time.monotonic() + TIMEOUT
        # Send echo requests and never read the echoes, until TCP pushes back for a while.
        while time.monotonic() < deadline:
            try:
                sent += client.sock.send(message[sent % len(message) :] or message)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 0.5:
                    break
                time.sleep(0.01)
        assert stalled_since is not None, "the server kept reading"
        (protocol,) = server.server_state.connections
        assert isinstance(protocol, NoioWSProtocol)
        # The server stopped reading: what waits is at most one read's worth of
        # messages (asyncio reads up to 256 KiB), and the write buffer is bounded.
        assert protocol.inbox.backlog <= 5
        assert protocol.transport.get_write_buffer_size() <= 4 * 65536 + 65536
        client.sock.close()


# ---------------------------------------------------------------- the application


def test_an_app_that_raises_before_accept_gives_500() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("boom")

    with serve(app) as (port, _):
        answer = raw_request(port, upgrade())
    assert answer.startswith(b"HTTP/1.1 500 ")
    assert b"boom" not in answer
    assert answer.endswith(b"Internal Server Error")


def test_a_denial_body_is_streamed_in_pieces() -> None:
    pieces = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-why", b"no")]})
        await send({"type": "websocket.http.response.body", "body": b"not ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"you", "more_body": False})
        pieces.set()

    with serve(app) as (port, _):
        client = Client(port)
    assert isinstance(client.result, Rejected)
    assert client.result.status_code == 401
    assert client.result.body == b"not you"
    assert (b"transfer-encoding", b"chunked") in client.result.headers


def test_a_denial_given_whole_gets_a_content_length() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"denied"})

    with serve(app) as (port, _):
        client = Client(port)
    assert isinstance(client.result, Rejected)
    assert (b"content-length", b"6") in client.result.headers
    assert client.result.body == b"denied"


def test_keepalive_declares_a_silent_peer_dead_with_1011() -> None:
    with serve(ws_ping_interval=0.05, ws_ping_timeout=0.1) as (port, _):
        client = Client(port)
        # Read without answering the pings: the server gives up on us.
        events = []
        while not isinstance(event := client.next(), (Close, Signal)):
            events.append(event)
        assert isinstance(events[0], Ping)
        assert event == Close(1011, "keepalive ping timeout")


def test_protocol_errors_are_remote_errors_on_the_client_side_too() -> None:
    # The server's Close for a violation is well formed: the client parses it cleanly.
    with serve() as (port, _):
        client = Client(port)
        client.sock.sendall(b"\x81\x02hi")
        try:
            event = client.next()
        except RemoteProtocolError as exc:  # pragma: no cover - would be a bug
            pytest.fail(f"the server's Close did not parse: {exc}")
        assert isinstance(event, Close)
        assert event.code == 1002


# ---------------------------------------------------------------- the app's side of the contract


def recorded_app(script: Callable[[Any, Any, list[Any]], Awaitable[None]]) -> tuple[App, list[Any]]:
    """An app running *script*, with a list where it notes what happened (read after the server stops)."""
    notes: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await script(receive, send, notes)

    return app, notes


def test_close_before_accept_gives_403() -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        await send({"type": "websocket.close"})
        notes.append(await receive())

    app, notes = recorded_app(script)
    with serve(app) as (port, _):
        client = Client(port)
    assert isinstance(client.result, Rejected)
    assert client.result.status_code == 403
    assert notes == [{"type": "websocket.disconnect", "code": 1006}]


def test_the_app_closes_with_its_code_and_reason() -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4000, "reason": "done"})
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except RuntimeError as exc:
            notes.append(str(exc))

    app, notes = recorded_app(script)
    with serve(app) as (port, _):
        client = Client(port)
        assert client.next() == Close(4000, "done")
        client.send(Close(4000))
        assert client.read_until_eof() == b""
    assert notes == ["Unexpected ASGI message 'websocket.send', after sending 'websocket.close'."]


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "websocket.send", "text": "x"}], "Expected ASGI message 'websocket.accept'"),
        (
            [{"type": "websocket.http.response.start", "status": 700, "headers": []}],
            "Invalid HTTP status code '700'",
        ),
    ],
    ids=["send before accept", "invalid status"],
)
def test_an_app_error_before_it_answers_gives_500(messages: list[Any], error: str) -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        for message in messages:
            await send(message)

    app, _ = recorded_app(script)
    with serve(app) as (port, _):
        client = Client(port)
    assert isinstance(client.result, Rejected)
    assert client.result.status_code == 500
    assert client.result.body == b"Internal Server Error"  # *error* is logged, not shown


@pytest.mark.parametrize(
    "second",
    [{"type": "websocket.accept"}, {"type": "websocket.http.response.start", "status": 404, "headers": []}],
    ids=["accept twice", "start after accept"],
)
def test_an_app_error_after_accept_closes_the_transport_without_a_close_frame(second: Any) -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send(second)

    app, _ = recorded_app(script)
    with serve(app) as (port, _):
        client = Client(port)
        # As uvicorn's own backends do (and its suite checks): the peer sees 1006.
        assert client.next() == Close(1006, "the transport ended before the close handshake")


def test_an_app_that_returns_mid_denial_ends_the_response() -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 418, "headers": []})
        try:
            await send({"type": "websocket.send", "text": "x"})
        except RuntimeError as exc:
            notes.append(str(exc))

    app, notes = recorded_app(script)
    with serve(app) as (port, _):
        client = Client(port)
    assert isinstance(client.result, Rejected)
    assert client.result.status_code == 418
    assert client.result.body == b""
    assert notes == ["Expected ASGI message 'websocket.http.response.body' but got 'websocket.send'."]


def test_the_peer_going_away_ends_the_app_with_1006() -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        notes.append(await receive())
        notes.append(await receive())  # asked again after the end: the same answer
        try:
            await send({"type": "websocket.send", "text": "anyone?"})
        except OSError as exc:
            notes.append(type(exc).__name__)

    app, notes = recorded_app(script)
    with serve(app) as (port, server):
        client = Client(port)
        client.sock.close()
        deadline = time.monotonic() + TIMEOUT
        while server.server_state.tasks:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    disconnect = {
        "type": "websocket.disconnect",
        "code": 1006,
        "reason": "the transport ended before the close handshake",
    }
    assert notes == [disconnect, disconnect, "ClientDisconnected"]


def test_server_shutdown_closes_open_connections_with_1012() -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        notes.append(await receive())

    app, notes = recorded_app(script)
    with serve(app) as (port, server):
        client = Client(port)
        server.should_exit = True
        assert client.next() == Close(1012)
    assert notes == [{"type": "websocket.disconnect", "code": 1012}]


def test_server_shutdown_before_the_app_answers_gives_500() -> None:
    async def script(receive: Any, send: Any, notes: list[Any]) -> None:
        await receive()
        notes.append(await receive())  # never answers the request

    app, notes = recorded_app(script)
    with serve(app) as (port, server), socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(upgrade())
        deadline = time.monotonic() + TIMEOUT
        while not server.server_state.tasks:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.should_exit = True
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 500 ")
    assert notes == [{"type": "websocket.disconnect", "code": 1006}]


def test_keepalive_pings_are_answered_and_the_connection_lives() -> None:
    with serve(ws_ping_interval=0.05, ws_ping_timeout=5.0) as (port, server):
        client = Client(port)
        for _ in range(3):  # answer three keepalive pings
            event = client.next()
            assert isinstance(event, Ping)
            assert event.payload.startswith(b"noio_ws keepalive ")
            client.send(event.response())
        (protocol,) = server.server_state.connections
        assert protocol.ping_sent_at > 0
        assert protocol.ping_timer is not None
        client.send(TextMessage("still here"))
        while isinstance(event := client.next(), Ping):
            client.send(event.response())
        assert event == TextMessage("still here")


def test_keepalive_off_means_no_timer() -> None:
    with serve(ws_ping_interval=0) as (port, server):
        client = Client(port)
        client.send(TextMessage("x"))
        assert client.next() == TextMessage("x")
        (protocol,) = server.server_state.connections
        assert protocol.ping_timer is None
        assert protocol.close_timer is None

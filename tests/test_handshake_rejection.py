"""ServerHandshake's answers other than the 101: streamed rejections, HEAD and bodiless
statuses, HTTP/1.0 clients, headers h11 would refuse, and the subprotocol chosen at accept."""

from __future__ import annotations

from collections.abc import Callable

import h11
import pytest

from noio_ws import LocalProtocolError
from noio_ws.handshake import CONFIGURED, ClientHandshake, HandshakeError, Rejected, ServerHandshake

from .test_handshake import request_wire, sent_client


def read_response(wire: bytes, *, method: bytes = b"GET") -> tuple[h11.Response, bytes]:
    """Parse *wire* as the response to a *method* request, as any HTTP client would."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    response = client.next_event()
    assert isinstance(response, h11.Response), response
    body = b""
    for _ in range(len(wire) + 2):  # bounded: at least one byte per event
        event = client.next_event()
        if isinstance(event, h11.EndOfMessage):
            return response, body
        assert isinstance(event, h11.Data), event
        body += event.data
    raise AssertionError("the response never ended")


def headers_of(response: h11.Response) -> dict[bytes, bytes]:
    return dict(response.headers)


def failed_on(wire: bytes) -> tuple[ServerHandshake, HandshakeError]:
    server = ServerHandshake()
    with pytest.raises(HandshakeError) as info:
        server.receive_data(wire)
    return server, info.value


def valid() -> ServerHandshake:
    server = ServerHandshake()
    assert server.receive_data(request_wire()) is not None
    return server


# ------------------------------------------------------------------ HEAD


def test_head_gets_405_with_allow_and_no_body() -> None:
    server, error = failed_on(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert error.status_code == 405
    wire = server.reject_error(error)
    assert wire.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    response, body = read_response(wire, method=b"HEAD")
    headers = headers_of(response)
    assert headers[b"allow"] == b"GET"
    assert headers[b"connection"] == b"close"
    # RFC 9110 section 9.3.2: the length a GET's body would have had, without the body.
    assert headers[b"content-length"] == str(len(f"{error}\n")).encode()
    assert body == b""
    assert wire.endswith(b"\r\n\r\n")


def test_head_gets_no_body_from_reject() -> None:
    server, _ = failed_on(b"HEAD /chat HTTP/1.1\r\nHost: x\r\n\r\n")
    wire = server.reject(403, [(b"Content-Type", b"text/plain")], b"go away")
    response, body = read_response(wire, method=b"HEAD")
    assert (response.status_code, body) == (403, b"")
    assert headers_of(response)[b"content-length"] == b"7"
    assert not wire.endswith(b"go away")


def test_head_drops_a_streamed_body() -> None:
    server, _ = failed_on(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = server.reject_head(404, [(b"Content-Type", b"text/html")])
    assert server.reject_body(b"<h1>not", more=True) == b""
    assert server.reject_body(b" here</h1>", more=True) == b""
    assert server.reject_body() == b""
    response, body = read_response(head, method=b"HEAD")
    assert (response.status_code, body) == (404, b"")
    with pytest.raises(LocalProtocolError, match="over"):
        server.reject_body(b"")


def test_head_with_a_declared_length_drops_the_body_without_counting() -> None:
    server, _ = failed_on(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = server.reject_head(404, [(b"Content-Length", b"5")])
    assert server.reject_body(b"far more than five bytes") == b""
    response, body = read_response(head, method=b"HEAD")
    assert (headers_of(response)[b"content-length"], body) == (b"5", b"")


# ------------------------------------------------------------------ streamed bodies


def test_streamed_body_is_chunked_for_http_1_1() -> None:
    server = valid()
    wire = server.reject_head(500, [(b"Content-Type", b"text/plain")])
    assert b"transfer-encoding: chunked" in wire.lower()
    pieces: list[bytes | bytearray | memoryview] = [
        b"internal",
        b"",
        b" server",
        bytearray(b" error"),
        memoryview(b"!"),
    ]
    for piece in pieces:
        wire += server.reject_body(piece, more=True)
    wire += server.reject_body()
    result = sent_client().receive_data(wire)
    assert isinstance(result, Rejected)
    assert (result.status_code, result.body) == (500, b"internal server error!")
    assert (b"connection", b"close") in result.headers


def test_streamed_body_with_its_content_length() -> None:
    server = valid()
    wire = server.reject_head(403, [(b"Content-Length", b"10")])
    assert b"chunked" not in wire
    with pytest.raises(LocalProtocolError, match="only 10 declared"):
        server.reject_body(b"x" * 11, more=True)
    wire += server.reject_body(b"abcd", more=True)
    with pytest.raises(LocalProtocolError, match="4 bytes short"):
        server.reject_body(b"ef")
    wire += server.reject_body(b"ef", more=True)  # nothing was sent by the refused calls
    wire += server.reject_body(b"ghij")
    response, body = read_response(wire)
    assert (response.status_code, headers_of(response)[b"content-length"], body) == (
        403,
        b"10",
        b"abcdefghij",
    )


def test_streamed_body_to_an_http_1_0_client_ends_with_the_connection() -> None:
    wire = b"GET /chat HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    server, error = failed_on(wire)
    assert error.status_code == 400
    out = server.reject_head(400)
    assert b"chunked" not in out.lower()
    assert b"connection: close" in out.lower()
    out += server.reject_body(b"need ", more=True) + server.reject_body(b"HTTP/1.1")
    head, body = out.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"content-length" not in head.lower()
    assert body == b"need HTTP/1.1"  # raw: no chunk framing


def test_reject_is_the_streamed_path_in_one_call() -> None:
    server = valid()
    wire = server.reject(401, [(b"WWW-Authenticate", b"Basic"), (b"Content-Length", b"99")], b"who?")
    response, body = read_response(wire)
    assert headers_of(response)[b"content-length"] == b"4"  # the body's own length wins
    assert body == b"who?"
    with pytest.raises(LocalProtocolError, match="over"):
        server.reject_body(b"")


def test_caller_framing_headers_are_replaced() -> None:
    server = valid()
    wire = server.reject_head(
        503, [(b"Transfer-Encoding", b"gzip, chunked"), (b"Connection", b"keep-alive"), (b"X-A", b"1")]
    )
    wire += server.reject_body(b"later")
    response, body = read_response(wire)
    headers = headers_of(response)
    assert headers[b"transfer-encoding"] == b"chunked"
    assert headers[b"connection"] == b"close"
    assert (headers[b"x-a"], body) == (b"1", b"later")


def test_a_client_asking_to_close_still_gets_its_answers() -> None:
    wire = request_wire({b"Connection": b"close, Upgrade"})
    server = ServerHandshake()
    assert server.receive_data(wire) is not None
    response, body = read_response(server.reject(429, body=b"slow down"))
    assert (response.status_code, headers_of(response)[b"connection"], body) == (429, b"close", b"slow down")
    server = ServerHandshake()
    server.receive_data(wire)
    assert server.accept()[0].startswith(b"HTTP/1.1 101 ")


# ------------------------------------------------------------------ statuses without a body


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_refuse_a_body(status: int) -> None:
    server = valid()
    with pytest.raises(ValueError, match=f"a {status} response has no body"):
        server.reject(status, body=b"x")
    wire = server.reject_head(status)
    with pytest.raises(LocalProtocolError, match="no body"):
        server.reject_body(b"x")
    wire += server.reject_body(b"", more=True) + server.reject_body()
    response, body = read_response(wire)
    assert (response.status_code, body) == (status, b"")
    assert b"content-length" not in dict(response.headers)
    assert b"transfer-encoding" not in dict(response.headers)


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_in_one_call(status: int) -> None:
    response, body = read_response(valid().reject(status, [(b"Content-Length", b"3")]))
    assert (response.status_code, body) == (status, b"")
    assert b"content-length" not in dict(response.headers)
    error = HandshakeError("gone", status)
    response, body = read_response(valid().reject_error(error))
    assert (response.status_code, body) == (status, b"")


def test_204_refuses_a_content_length_and_304_keeps_it() -> None:
    server = valid()
    with pytest.raises(ValueError, match="204 response must not have a Content-Length"):
        server.reject_head(204, [(b"Content-Length", b"0")])
    response, _ = read_response(server.reject_head(304, [(b"Content-Length", b"12")]) + server.reject_body())
    assert headers_of(response)[b"content-length"] == b"12"  # the representation's (RFC 9110 8.6)


@pytest.mark.parametrize("status", [-1, 0, 99, 600, 1000])
def test_status_outside_the_http_range_is_a_value_error(status: int) -> None:
    server = valid()
    calls: list[Callable[[], bytes]] = [lambda: server.reject_head(status), lambda: server.reject(status)]
    for call in calls:
        with pytest.raises(ValueError, match="not an HTTP status code"):
            call()
    assert read_response(server.reject(400))[0].status_code == 400  # nothing was sent


@pytest.mark.parametrize("status", [100, 101, 103, 199])
def test_interim_status_cannot_reject(status: int) -> None:
    server = valid()
    with pytest.raises(ValueError, match="final status code"):
        server.reject_head(status)
    with pytest.raises(ValueError, match="final status code"):
        server.reject_error(HandshakeError("x", status))


def test_2xx_cannot_reject_a_connect() -> None:
    server, error = failed_on(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    assert error.status_code == 405
    with pytest.raises(ValueError, match="CONNECT opens a tunnel"):
        server.reject(200, body=b"ok")
    response, body = read_response(server.reject_error(error), method=b"CONNECT")
    assert (response.status_code, headers_of(response)[b"allow"]) == (405, b"GET")
    assert body == f"{error}\n".encode()


def test_every_405_says_allow_get() -> None:
    response, _ = read_response(valid().reject(405))
    assert headers_of(response)[b"allow"] == b"GET"
    response, _ = read_response(valid().reject_error(HandshakeError("no", 405)))
    assert headers_of(response)[b"allow"] == b"GET"
    response, _ = read_response(valid().reject(405, [(b"Allow", b"GET, OPTIONS")]))
    assert headers_of(response)[b"allow"] == b"GET, OPTIONS"


# ------------------------------------------------------------------ headers h11 refuses


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Bad Name", b"x")],
        [(b"X-Split", b"a\r\nInjected: 1")],
        [(b"", b"empty name")],
        [(b"Content-Length", b"ten")],
        [(b"Content-Length", b"1"), (b"Content-Length", b"2")],
    ],
)
def test_headers_h11_refuses_are_a_value_error_and_nothing_is_sent(
    headers: list[tuple[bytes, bytes]],
) -> None:
    server = valid()
    with pytest.raises(ValueError, match="cannot send these rejection headers"):
        server.reject_head(400, headers)
    if headers[0][0] != b"Content-Length":  # reject_error sets the length of its own body
        with pytest.raises(ValueError, match="cannot send these rejection headers"):
            server.reject_error(HandshakeError("x", 400, headers))
    assert read_response(server.reject(400))[0].status_code == 400


def test_request_and_101_headers_h11_refuses_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="cannot send this request: Illegal header name"):
        ClientHandshake("h", "/", extra_headers=[(b"Bad Name", b"x")])
    with pytest.raises(ValueError, match="cannot send this request: Illegal target"):
        ClientHandshake("h", "/a b")
    server = valid()
    with pytest.raises(ValueError, match="cannot send this response: Illegal header value"):
        server.accept(extra_headers=[(b"X-Split", b"a\r\nInjected: 1")])
    assert server.accept()[0].startswith(b"HTTP/1.1 101 ")  # nothing was sent before


# ------------------------------------------------------------------ misuse


def test_streamed_rejection_misuse() -> None:
    server = valid()
    with pytest.raises(LocalProtocolError, match="reject_head\\(\\) first"):
        server.reject_body(b"x")
    server.reject_head(400)
    for call in (
        lambda: server.reject_head(400),
        lambda: server.reject(400),
        lambda: server.reject_error(HandshakeError("x")),
        server.accept,
        lambda: server.receive_data(b"x"),
    ):
        with pytest.raises(LocalProtocolError):
            call()
    server.reject_body(b"end")
    with pytest.raises(LocalProtocolError, match="over"):
        server.reject_body(b"")


def test_no_rejection_after_accept() -> None:
    server = valid()
    server.accept()
    calls: list[Callable[[], bytes]] = [lambda: server.reject_head(400), lambda: server.reject_body(b"")]
    for call in calls:
        with pytest.raises(LocalProtocolError):
            call()


def test_a_rejection_may_come_before_the_request_is_complete() -> None:
    server = ServerHandshake()
    assert server.receive_data(request_wire()[:30]) is None
    response, body = read_response(server.reject(408, body=b"too slow"))
    assert (response.status_code, body) == (408, b"too slow")


# ------------------------------------------------------------------ accept(subprotocol=...)


def offering(*protocols: str) -> bytes:
    return request_wire({b"Sec-WebSocket-Protocol": ", ".join(protocols).encode()})


def accepted_subprotocol(wire: bytes) -> bytes | None:
    head = wire.split(b"\r\n\r\n")[0].lower()
    for line in head.split(b"\r\n"):
        if line.startswith(b"sec-websocket-protocol:"):
            return line.split(b":", 1)[1].strip()
    return None


def test_accept_defaults_to_the_configured_choice() -> None:
    server = ServerHandshake(subprotocols=["b", "a"])
    server.receive_data(offering("a", "b"))
    assert server.subprotocol == "b"
    assert accepted_subprotocol(server.accept(subprotocol=CONFIGURED)[0]) == b"b"
    assert repr(CONFIGURED) == "CONFIGURED"


def test_accept_takes_the_application_choice() -> None:
    server = ServerHandshake(subprotocols=["b"])
    server.receive_data(offering("a", "b"))
    wire, _ = server.accept(subprotocol="a")
    assert accepted_subprotocol(wire) == b"a"
    assert server.subprotocol == "a"


def test_accept_with_no_subprotocol() -> None:
    server = ServerHandshake(subprotocols=["a"])
    server.receive_data(offering("a"))
    wire, _ = server.accept(subprotocol=None)
    assert accepted_subprotocol(wire) is None
    assert server.subprotocol is None


def test_accept_refuses_a_subprotocol_not_offered_before_sending() -> None:
    server = ServerHandshake()
    server.receive_data(offering("a"))
    with pytest.raises(LocalProtocolError, match="subprotocol 'b', which the client did not offer"):
        server.accept(subprotocol="b")
    wire, _ = server.accept(subprotocol="a")  # nothing was sent: the handshake goes on
    assert accepted_subprotocol(wire) == b"a"
    server = ServerHandshake()
    server.receive_data(request_wire())
    with pytest.raises(LocalProtocolError, match="did not offer"):
        server.accept(subprotocol="a")


def test_client_agrees_to_the_subprotocol_chosen_at_accept() -> None:
    client = ClientHandshake("example.com", "/", subprotocols=["a", "b"])
    server = ServerHandshake(subprotocols=["a"])
    server.receive_data(client.send())
    wire, _ = server.accept(subprotocol="b")
    result = client.receive_data(wire)
    assert result is not None
    assert result.subprotocol == "b"  # type: ignore[union-attr]

"""The RFC 8441 / RFC 9220 helpers on header lists: what they build and what they refuse."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from noio_ws import Close, HandshakeError, LocalProtocolError, Signal, TextMessage
from noio_ws.extended_connect import (
    ExtendedConnectAccepted,
    ExtendedConnectClient,
    ExtendedConnectRejected,
    ExtendedConnectRequest,
    ExtendedConnectServer,
)
from noio_ws.extensions import PerMessageDeflate, PerMessageDeflateFactory
from noio_ws.handshake import CONFIGURED

from .helpers import FIXED_MASK
from .test_handshake import FakeExtension, FakeFactory

Fields = list[tuple[bytes, bytes]]

REQUEST: Fields = [
    (b":method", b"CONNECT"),
    (b":protocol", b"websocket"),
    (b":scheme", b"https"),
    (b":path", b"/chat"),
    (b":authority", b"example.com"),
    (b"sec-websocket-version", b"13"),
]


def changed(fields: Fields, **changes: bytes | None) -> Fields:
    """*fields* with some replaced (None drops one); names given with _ for - and a leading p_ for ':'."""
    names = {
        (":" + key[2:] if key.startswith("p_") else key).replace("_", "-").encode(): value
        for key, value in changes.items()
    }
    result: Fields = []
    for name, value in fields:
        replacement = names.pop(name, value)
        if replacement is not None:
            result.append((name, replacement))
    return result + [(name, value) for name, value in names.items() if value is not None]


def server_error(
    fields: Sequence[tuple[bytes, bytes]], server: ExtendedConnectServer | None = None
) -> HandshakeError:
    server = server or ExtendedConnectServer()
    with pytest.raises(HandshakeError) as info:
        server.receive_request(fields)
    return info.value


def accepted_fields(**options: object) -> Fields:
    """The client's request, accepted by a plain server: the response fields."""
    server = ExtendedConnectServer(**options)  # type: ignore[arg-type]
    server.receive_request(ExtendedConnectClient("example.com", "/", subprotocols=["chat"]).request_headers)
    return server.accept()[0]


# ------------------------------------------------------------------ the client's request


def test_request_headers_are_rfc_8441_section_5() -> None:
    client = ExtendedConnectClient(
        "example.com:8443",
        "/chat?room=1",
        subprotocols=["chat", "superchat"],
        extensions=[PerMessageDeflateFactory()],
        extra_headers=[("Cookie", "a=b"), (b"X-Token", b"t")],
        origin="https://example.com",
    )
    assert client.request_headers == [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"https"),
        (b":path", b"/chat?room=1"),
        (b":authority", b"example.com:8443"),
        (b"sec-websocket-version", b"13"),
        (b"origin", b"https://example.com"),
        (b"sec-websocket-protocol", b"chat, superchat"),
        (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
        (b"cookie", b"a=b"),
        (b"x-token", b"t"),
    ]
    names = [name for name, _ in client.request_headers]
    assert not {b"sec-websocket-key", b"upgrade", b"connection", b"host"} & set(names)


def test_request_headers_from_bytes_equal_those_from_str() -> None:
    as_str = ExtendedConnectClient("h", "/p", scheme="http", subprotocols=["a"], origin="o")
    as_bytes = ExtendedConnectClient(b"h", b"/p", scheme=b"http", subprotocols=[b"a"], origin=b"o")
    assert as_str.request_headers == as_bytes.request_headers
    assert (b":scheme", b"http") in as_str.request_headers


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scheme": "wss"}, "scheme must be http"),
        ({"path": ""}, "path cannot be empty"),
        ({"path": "/é"}, "path '/é' is not ASCII"),
        ({"authority": "é.example"}, "authority 'é.example' is not ASCII"),
        ({"subprotocols": ["a b"]}, "not an RFC 7230 token"),
        ({"extra_headers": [("Connection", "close")]}, "set by the handshake"),
        ({"extra_headers": [(":status", "200")]}, "set by the handshake"),
        ({"extra_headers": [("Sec-WebSocket-Key", "x")]}, "set by the handshake"),
        ({"extra_headers": [("te", "trailers")]}, "set by the handshake"),
        ({"extra_headers": [("X", "é")]}, "header value 'é' is not ASCII"),
    ],
)
def test_client_refuses_bad_arguments(arguments: dict[str, object], message: str) -> None:
    options: dict[str, object] = {"authority": "example.com", "path": "/", **arguments}
    with pytest.raises(ValueError, match=message):
        ExtendedConnectClient(**options)  # type: ignore[arg-type]


def test_client_checks_connection_options_at_construction() -> None:
    with pytest.raises(TypeError, match="unexpected connection options: bogus"):
        ExtendedConnectClient("h", "/", bogus=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="max_message_size"):
        ExtendedConnectClient("h", "/", max_message_size=-1)


# ------------------------------------------------------------------ the client's check of the response


def client() -> ExtendedConnectClient:
    return ExtendedConnectClient(
        "example.com",
        "/",
        subprotocols=["chat"],
        extensions=[FakeFactory()],
        mask_key_source=lambda: FIXED_MASK,
    )


def test_a_200_is_accepted_with_what_was_offered() -> None:
    result = client().receive_response(
        [
            (b":status", b"200"),
            (b"sec-websocket-protocol", b"chat"),
            (b"sec-websocket-extensions", b"x-fake; ok"),
        ]
    )
    assert isinstance(result, ExtendedConnectAccepted)
    assert result.subprotocol == "chat"
    assert [(extension.name, extension.params) for extension in result.extensions] == [  # type: ignore[attr-defined]
        ("x-fake", [("ok", None)])
    ]
    assert result.connection.send(TextMessage("a"))[1] & 0x80  # a client Connection: it masks
    assert result.headers[0] == (b":status", b"200")


def test_interim_responses_are_skipped_and_101_is_invalid() -> None:
    ws = client()
    assert ws.receive_response([(b":status", b"103"), (b"link", b"</a>")]) is None
    assert isinstance(ws.receive_response([(":status", "200")]), ExtendedConnectAccepted)
    with pytest.raises(HandshakeError, match="101 is not a valid status"):
        client().receive_response([(b":status", b"101")])


@pytest.mark.parametrize("status", [b"201", b"204", b"302", b"403", b"500"])
def test_any_other_final_status_is_a_rejection(status: bytes) -> None:
    """RFC 8441 section 5: any status other than 200 means the handshake did not complete."""
    result = client().receive_response([(b":status", status), (b"location", b"/elsewhere")])
    assert isinstance(result, ExtendedConnectRejected)
    assert result.status_code == int(status)
    assert (b"location", b"/elsewhere") in result.headers


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([], "status is missing"),
        ([(b":status", b"2000")], "status is 2000"),
        ([(b":status", b"abc")], "status is abc"),
        ([(b":status", b"200"), (b":status", b"200")], "repeated pseudo-header"),
        ([(b":status", b"200"), (b":path", b"/")], "unexpected pseudo-header"),
        ([(b"x", b"1"), (b":status", b"200")], "after a regular field"),
        ([(b":status", b"200"), (b"Sec-WebSocket-Protocol", b"chat")], "not lowercase"),
        ([(b":status", b"200"), (b"sec-websocket-protocol", b"other")], "not offered"),
        ([(b":status", b"200"), (b"sec-websocket-protocol", b"chat, chat")], "not offered"),
        ([(b":status", b"200"), (b"sec-websocket-extensions", b"x-other")], "not offered"),
        ([(b":status", b"200"), (b"sec-websocket-extensions", b"x-fake; refuse")], "refused"),
        ([(b":status", b"200"), (b"sec-websocket-protocol", b"ch\xe9")], "non-ASCII"),
        ([(b":status", b"2\xb20")], "non-ASCII"),
    ],
)
def test_client_fails_a_bad_response(fields: Fields, message: str) -> None:
    ws = client()
    with pytest.raises(HandshakeError, match=message):
        ws.receive_response(fields)
    with pytest.raises(LocalProtocolError, match="over"):
        ws.receive_response([(b":status", b"200")])


def test_client_fails_extensions_that_conflict() -> None:
    ws = ExtendedConnectClient("h", "/", extensions=[FakeFactory("x-a"), FakeFactory("x-b")])
    with pytest.raises(HandshakeError, match="extensions conflict"):
        ws.receive_response([(b":status", b"200"), (b"sec-websocket-extensions", b"x-a, x-b")])


def test_client_misuse() -> None:
    ws = client()
    ws.receive_response([(b":status", b"404")])
    with pytest.raises(LocalProtocolError, match="over"):
        ws.receive_response([(b":status", b"200")])


# ------------------------------------------------------------------ the server's check of the request


def test_server_reads_the_request_and_negotiates() -> None:
    server = ExtendedConnectServer(subprotocols=["superchat", "chat"], extensions=[FakeFactory()])
    fields = changed(
        REQUEST,
        origin=b"https://example.com",
        sec_websocket_protocol=b"chat, superchat",
        sec_websocket_extensions=b"x-fake; a=1",
        cookie=b"a=b",
    )
    request = server.receive_request(fields)
    assert request == ExtendedConnectRequest(
        scheme="https",
        authority="example.com",
        path="/chat",
        headers=fields,
        origin="https://example.com",
        subprotocols=["chat", "superchat"],
        extensions=[("x-fake", [("a", "1")])],
    )
    assert server.request is request
    assert server.subprotocol == "superchat"
    assert [extension.name for extension in server.extensions] == ["x-fake"]
    response, connection = server.accept(extra_headers=[("Set-Cookie", "s=1")])
    assert response == [
        (b":status", b"200"),
        (b"sec-websocket-protocol", b"superchat"),
        (b"sec-websocket-extensions", b"x-fake; a=1; ok"),
        (b"set-cookie", b"s=1"),
    ]
    assert isinstance(connection.extensions[0], FakeExtension)
    assert connection.send(TextMessage("a"))[1] & 0x80 == 0  # a server Connection: no mask


def test_server_accepts_str_fields_and_a_host_instead_of_authority() -> None:
    fields = [
        (name.decode(), value.decode()) for name, value in changed(REQUEST, p_authority=None, host=b"h:1")
    ]
    assert ExtendedConnectServer().receive_request(fields).authority == "h:1"


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"p_method": b"GET", "p_protocol": None}, 405, "extended CONNECT"),
        ({"p_method": b"POST"}, 400, ":protocol is only allowed with the CONNECT method"),
        ({"p_protocol": None}, 400, "opens a tunnel"),
        ({"p_protocol": b"webtransport"}, 400, "not websocket"),
        ({"p_scheme": None}, 400, "needs :scheme and :path"),
        ({"p_path": None}, 400, "needs :scheme and :path"),
        ({"p_path": b""}, 400, "needs :scheme and :path"),
        ({"p_authority": None}, 400, "needs :authority"),
        ({"sec_websocket_version": b"8"}, 426, "unsupported WebSocket version"),
        ({"sec_websocket_version": None}, 426, "unsupported WebSocket version"),
        ({"sec_websocket_key": b"dGhlIHNhbXBsZSBub25jZQ=="}, 400, "sec-websocket-key must not"),
        ({"sec_websocket_accept": b"x"}, 400, "sec-websocket-accept must not"),
        ({"connection": b"upgrade"}, 400, "connection must not"),
        ({"upgrade": b"websocket"}, 400, "upgrade must not"),
        ({"keep_alive": b"5"}, 400, "keep-alive must not"),
        ({"transfer_encoding": b"chunked"}, 400, "transfer-encoding must not"),
        ({"te": b"gzip"}, 400, "te may only be trailers"),
        ({"p_path": b"/\xe9"}, 400, "non-ASCII bytes in :path"),
        ({"origin": b"https://\xe9.example"}, 400, "non-ASCII"),
        ({"sec_websocket_protocol": b"a b"}, 400, "not a valid list of tokens"),
        ({"sec_websocket_extensions": b"x;;"}, 400, "Sec-WebSocket-Extensions"),
    ],
)
def test_server_refuses_invalid_requests(changes: dict[str, bytes | None], status: int, message: str) -> None:
    error = server_error(changed(REQUEST, **changes))
    assert error.status_code == status
    assert message in str(error)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([(b":Method", b"CONNECT")], "not lowercase"),
        ([*REQUEST, (b"X-Big", b"1")], "not lowercase"),
        ([(b"x", b"1"), *REQUEST], "after a regular field"),
        ([*REQUEST, (b":path", b"/again")], "after a regular field"),
        ([REQUEST[0], *REQUEST], "repeated pseudo-header"),
        ([(b":status", b"200"), *REQUEST], "unexpected pseudo-header"),
        ([*REQUEST, (b"origin", b"a"), (b"origin", b"b")], "more than one Origin"),
        ([*changed(REQUEST, p_authority=None), (b"host", b"a"), (b"host", b"b")], "needs :authority"),
    ],
)
def test_server_refuses_malformed_field_lists(fields: Fields, message: str) -> None:
    error = server_error(fields)
    assert error.status_code == 400
    assert message in str(error)


def test_a_426_names_the_version_and_a_405_allows_connect() -> None:
    server = ExtendedConnectServer()
    error = server_error(changed(REQUEST, sec_websocket_version=b"8"), server)
    fields, body = server.reject_error(error)
    assert fields[0] == (b":status", b"426")
    assert (b"sec-websocket-version", b"13") in fields
    assert (b"content-type", b"text/plain; charset=utf-8") in fields
    assert (b"content-length", str(len(body)).encode()) in fields
    assert body == b"unsupported WebSocket version\n"
    server = ExtendedConnectServer()
    fields, _ = server.reject_error(server_error(changed(REQUEST, p_method=b"GET", p_protocol=None), server))
    assert (b"allow", b"CONNECT") in fields
    fields, _ = ExtendedConnectServer().reject_error(
        HandshakeError("x", 400, [(b"Content-Type", b"text/html")])
    )
    assert [value for name, value in fields if name == b"content-type"] == [b"text/html"]


def test_origin_policy_is_the_same_as_http_1_1() -> None:
    fields = changed(REQUEST, origin=b"https://evil.example")
    error = server_error(fields, ExtendedConnectServer(origins=["https://good.example"]))
    assert (error.status_code, str(error)) == (403, "origin not allowed")
    assert ExtendedConnectServer(origins=lambda origin: origin == "https://evil.example").receive_request(
        fields
    )
    assert server_error(REQUEST, ExtendedConnectServer(origins=[b"https://good.example"])).status_code == 403


def test_permessage_deflate_is_negotiated_as_over_http_1_1() -> None:
    client = ExtendedConnectClient("h", "/", extensions=[PerMessageDeflateFactory(client_max_window_bits=12)])
    server = ExtendedConnectServer(extensions=[PerMessageDeflateFactory()])
    server.receive_request(client.request_headers)
    fields, server_conn = server.accept()
    assert (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits=12") in fields
    result = client.receive_response(fields)
    assert isinstance(result, ExtendedConnectAccepted)
    assert isinstance(result.extensions[0], PerMessageDeflate)
    server_conn.receive_data(result.connection.send(TextMessage("squeeze " * 50)))
    assert list(server_conn.events()) == [TextMessage("squeeze " * 50)]
    result.connection.receive_data(server_conn.send(Close(1000)))
    assert list(result.connection.events()) == [Close(1000)]
    assert result.connection.next_event() is Signal.CLOSED


# ------------------------------------------------------------------ the server's answers


def test_accept_takes_the_application_choice_of_subprotocol() -> None:
    offering = changed(REQUEST, sec_websocket_protocol=b"a, b")
    server = ExtendedConnectServer(subprotocols=["a"])
    server.receive_request(offering)
    with pytest.raises(LocalProtocolError, match="did not offer"):
        server.accept(subprotocol="c")
    fields, _ = server.accept(subprotocol=b"b")
    assert (b"sec-websocket-protocol", b"b") in fields
    assert server.subprotocol == "b"
    for choice, expected in ((None, None), (CONFIGURED, b"a")):
        server = ExtendedConnectServer(subprotocols=["a"])
        server.receive_request(offering)
        fields, _ = server.accept(subprotocol=choice)
        assert dict(fields).get(b"sec-websocket-protocol") == expected


def test_accept_refuses_managed_extra_headers() -> None:
    for name in ("sec-websocket-protocol", "Upgrade", ":status", "TE"):
        server = ExtendedConnectServer()
        server.receive_request(REQUEST)
        with pytest.raises(ValueError, match="set by the handshake"):
            server.accept(extra_headers=[(name, "x")])


def test_reject() -> None:
    server = ExtendedConnectServer()
    server.receive_request(REQUEST)
    assert server.reject(401, [("WWW-Authenticate", "Basic")]) == [
        (b":status", b"401"),
        (b"www-authenticate", b"Basic"),
    ]
    with pytest.raises(LocalProtocolError, match="already"):
        server.reject(401)
    with pytest.raises(LocalProtocolError, match="no valid request"):
        server.accept()


@pytest.mark.parametrize("status", [100, 101, 200, 204, 299, 600])
def test_reject_needs_a_status_that_does_not_open_the_tunnel(status: int) -> None:
    server = ExtendedConnectServer()
    with pytest.raises(ValueError, match="300-599"):
        server.reject(status)
    assert server.reject(308, [("location", "/there")])[0] == (b":status", b"308")


def test_reject_refuses_connection_specific_fields() -> None:
    with pytest.raises(ValueError, match="set by the handshake"):
        ExtendedConnectServer().reject(400, [("Connection", "close")])


def test_server_misuse() -> None:
    server = ExtendedConnectServer()
    with pytest.raises(LocalProtocolError, match="no valid request"):
        server.accept()
    server.receive_request(REQUEST)
    with pytest.raises(LocalProtocolError, match="already received"):
        server.receive_request(REQUEST)
    server.accept()
    for call in (server.accept, lambda: server.reject(400)):
        with pytest.raises(LocalProtocolError):
            call()
    failed = ExtendedConnectServer()
    server_error(changed(REQUEST, p_protocol=None), failed)
    with pytest.raises(LocalProtocolError, match="no valid request"):
        failed.accept()


def test_server_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="not both"):
        ExtendedConnectServer(subprotocols=["a"], select_subprotocol=lambda offered: None)
    with pytest.raises(TypeError, match="unexpected connection options"):
        ExtendedConnectServer(bogus=True)  # type: ignore[call-arg]


def test_accepted_fields_are_lowercase() -> None:
    fields = accepted_fields(subprotocols=[b"chat"])
    assert all(name == name.lower() for name, _ in fields)
    assert fields == [(b":status", b"200"), (b"sec-websocket-protocol", b"chat")]

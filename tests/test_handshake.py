"""The opening handshake: h11 helpers and the sans-io drivers, over in-memory bytes."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping

import h11
import pytest

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    LocalProtocolError,
    RemoteProtocolError,
    Role,
    Signal,
    TextMessage,
)
from noio_ws.extensions import Extension, Frame, OpcodeKind, Params
from noio_ws.handshake import (
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_INCOMPLETE_EVENT_SIZE,
    Accepted,
    ClientHandshake,
    HandshakeError,
    HandshakeRequest,
    Rejected,
    ServerHandshake,
    accept_extensions,
    accept_token,
    build_accept,
    build_rejection,
    build_request,
    choose_subprotocol,
    rejection_from_error,
    verify_request,
    verify_response,
)

from .helpers import FIXED_MASK

# RFC 6455 section 1.3's example.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class FakeExtension:
    """A trivial extension on RSV1: it sets the bit on what it sends and clears it on receipt."""

    opcodes: Mapping[int, OpcodeKind] = {}

    def __init__(self, name: str = "x-fake", params: Params = (), rsv_mask: int = 0x40) -> None:
        self.name = name
        self.params = list(params)
        self.rsv_mask = rsv_mask
        self.role: Role | None = None

    def bind(self, role: Role) -> None:
        self.role = role

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        return Frame(frame.opcode, frame.payload, frame.fin, frame.rsv & ~self.rsv_mask)

    def encode(self, frame: Frame) -> Frame:
        return Frame(frame.opcode, frame.payload, frame.fin, frame.rsv | self.rsv_mask)


class FakeFactory:
    """Negotiates ``FakeExtension``: the server declines offers carrying ``decline``,
    the client refuses answers carrying ``refuse``."""

    def __init__(self, name: str = "x-fake", offer: Params = (), rsv_mask: int = 0x40) -> None:
        self.name = name
        self._offer = list(offer)
        self.rsv_mask = rsv_mask
        self.offers_seen: list[list[tuple[str, str | None]]] = []

    def offer(self) -> list[tuple[str, str | None]]:
        return list(self._offer)

    def accept_response(self, params: Params) -> FakeExtension:
        if ("refuse", None) in params:
            raise HandshakeError("refused")
        return FakeExtension(self.name, params, self.rsv_mask)

    def accept_offer(self, params: Params) -> tuple[list[tuple[str, str | None]], FakeExtension] | None:
        self.offers_seen.append(list(params))
        if ("decline", None) in params:
            return None
        answer = [*params, ("ok", None)]
        return answer, FakeExtension(self.name, answer, self.rsv_mask)


def described(extensions: Iterable[Extension]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The names and parameters of fake extensions."""
    fakes = [extension for extension in extensions if isinstance(extension, FakeExtension)]
    return [(fake.name, fake.params) for fake in fakes]


def handshake(client: ClientHandshake, server: ServerHandshake) -> tuple[Accepted, Connection]:
    """Run a handshake that must succeed; the client's result and the server's Connection."""
    request = server.receive_data(client.send())
    assert isinstance(request, HandshakeRequest)
    wire, server_conn = server.accept()
    result = client.receive_data(wire)
    assert isinstance(result, Accepted)
    return result, server_conn


def request_wire(
    changes: Mapping[bytes, bytes | None] | None = None,
    *,
    extra: list[tuple[bytes, bytes]] | None = None,
    start: bytes = b"GET /chat HTTP/1.1",
) -> bytes:
    """A hand-written request: the valid handshake with headers replaced (None drops one)."""
    headers: dict[bytes, bytes | None] = {
        b"Host": b"example.com",
        b"Upgrade": b"websocket",
        b"Connection": b"Upgrade",
        b"Sec-WebSocket-Key": KEY.encode(),
        b"Sec-WebSocket-Version": b"13",
    }
    headers.update(changes or {})
    lines = [start] + [name + b": " + value for name, value in headers.items() if value is not None]
    lines += [name + b": " + value for name, value in extra or []]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def response_for(client: ClientHandshake, **changes: str | None) -> bytes:
    """A hand-written 101 for *client*'s request, with headers replaced (None drops one)."""
    key = dict(client.request.headers)[b"sec-websocket-key"].decode()
    headers: dict[str, str | None] = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Accept": accept_token(key),
    }
    headers.update({name.replace("_", "-"): value for name, value in changes.items()})
    lines = ["HTTP/1.1 101 Switching Protocols"] + [f"{k}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def sent_client() -> ClientHandshake:
    client = ClientHandshake("example.com", "/chat", mask_key_source=lambda: FIXED_MASK)
    client.send()
    return client


def rejection(wire: bytes) -> Rejected:
    """Parse a server's rejection as a client would."""
    result = sent_client().receive_data(wire)
    assert isinstance(result, Rejected)
    return result


def server_error(wire: bytes, server: ServerHandshake | None = None) -> HandshakeError:
    """The error *wire* causes; also checks the response it asks for is well-formed."""
    server = server or ServerHandshake()
    with pytest.raises(HandshakeError) as info:
        server.receive_data(wire)
    answer = rejection(server.reject_error(info.value))
    assert answer.status_code == info.value.status_code
    assert answer.body == f"{info.value}\n".encode()
    return info.value


def rsv_of(wire: bytes) -> int:
    return wire[0] & 0x70


# ------------------------------------------------------------------ helpers on h11 objects


def test_accept_token_matches_rfc_example() -> None:
    assert accept_token(KEY) == ACCEPT


def test_build_request_has_the_handshake_headers_and_a_fresh_key() -> None:
    request = build_request("example.com:8080", "/chat?x=1")
    headers = dict(request.headers)
    assert request.method == b"GET"
    assert request.target == b"/chat?x=1"
    assert headers[b"host"] == b"example.com:8080"
    assert headers[b"upgrade"] == b"websocket"
    assert headers[b"connection"] == b"Upgrade"
    assert headers[b"sec-websocket-version"] == b"13"
    assert len(base64.b64decode(headers[b"sec-websocket-key"], validate=True)) == 16
    assert b"sec-websocket-protocol" not in headers
    assert b"sec-websocket-extensions" not in headers
    assert b"origin" not in headers
    other = dict(build_request("example.com", "/").headers)
    assert other[b"sec-websocket-key"] != headers[b"sec-websocket-key"]


def test_build_request_with_options() -> None:
    request = build_request(
        "example.com",
        "/",
        subprotocols=["chat", "v2.chat"],
        extensions=[FakeFactory(offer=[("a", "1"), ("b", None)]), FakeFactory("x-other")],
        extra_headers=[(b"Authorization", b"Bearer t")],
        origin="https://example.com",
    )
    headers = dict(request.headers)
    assert headers[b"sec-websocket-protocol"] == b"chat, v2.chat"
    assert headers[b"sec-websocket-extensions"] == b"x-fake; a=1; b, x-other"
    assert headers[b"origin"] == b"https://example.com"
    assert headers[b"authorization"] == b"Bearer t"


@pytest.mark.parametrize("name", [b"Sec-WebSocket-Key", b"host", b"CONNECTION", b"Content-Length"])
def test_extra_headers_cannot_override_the_handshake(name: bytes) -> None:
    with pytest.raises(ValueError, match="set by the handshake"):
        build_request("example.com", "/", extra_headers=[(name, b"x")])
    with pytest.raises(ValueError, match="set by the handshake"):
        build_accept(KEY, extra_headers=[(name, b"x")])


def test_build_request_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="token"):
        build_request("example.com", "/", subprotocols=["a b"])
    with pytest.raises(ValueError, match=r"host 'exämple\.com' is not ASCII: encode it"):
        build_request("exämple.com", "/")


def test_verify_request_gives_the_offers() -> None:
    request = h11.Request(
        method="GET",
        target="/chat",
        headers=[
            ("Host", "example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", KEY),
            ("Sec-WebSocket-Version", "13"),
            ("Origin", "https://example.com"),
            ("Sec-WebSocket-Protocol", "a, b"),
            ("Sec-WebSocket-Protocol", "c"),
            ("Sec-WebSocket-Extensions", 'x-fake; p="1", x-other'),
        ],
    )
    verified = verify_request(request)
    assert verified.target == "/chat"
    assert verified.host == "example.com"
    assert verified.key == KEY
    assert verified.origin == "https://example.com"
    assert verified.subprotocols == ["a", "b", "c"]
    assert verified.extensions == [("x-fake", [("p", "1")]), ("x-other", [])]
    assert verified.headers == list(request.headers)


def test_build_accept_is_the_101() -> None:
    response = build_accept(
        KEY,
        subprotocol="chat",
        extensions=[("x-fake", [("p", "1")])],
        extra_headers=[(b"Set-Cookie", b"a=b")],
    )
    assert response.status_code == 101
    assert response.reason == b"Switching Protocols"
    assert list(response.headers) == [
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-accept", ACCEPT.encode()),
        (b"sec-websocket-protocol", b"chat"),
        (b"sec-websocket-extensions", b"x-fake; p=1"),
        (b"set-cookie", b"a=b"),
    ]


def test_verify_response_round_trip_with_helpers() -> None:
    factory = FakeFactory()
    request = build_request("example.com", "/", subprotocols=["chat"], extensions=[factory])
    verified = verify_request(request)
    entries, server_extensions = accept_extensions(verified.extensions, [FakeFactory()])
    response = build_accept(verified.key, subprotocol="chat", extensions=entries)
    subprotocol, extensions = verify_response(request, response, [factory])
    assert subprotocol == "chat"
    assert described(extensions) == [("x-fake", [("ok", None)])]
    assert len(server_extensions) == 1
    with pytest.raises(HandshakeError, match="expected status 101, got 100"):
        verify_response(request, h11.InformationalResponse(status_code=100, headers=[]))


def test_build_rejection_frames_the_body_and_closes() -> None:
    response = build_rejection(
        403, [(b"Content-Length", b"99"), (b"connection", b"keep-alive"), (b"X-Why", b"no")], b"go away"
    )
    assert response.status_code == 403
    assert response.reason == b"Forbidden"
    assert list(response.headers) == [
        (b"x-why", b"no"),
        (b"content-length", b"7"),
        (b"connection", b"close"),
    ]
    assert build_rejection(599).reason == b""
    for status in (101, 199):
        with pytest.raises(ValueError, match="final status code"):
            build_rejection(status)
    for status in (99, 600):
        with pytest.raises(ValueError, match="not an HTTP status code"):
            build_rejection(status)


def test_build_rejection_without_a_body_status() -> None:
    for status in (204, 304):
        assert b"content-length" not in dict(build_rejection(status, [(b"Content-Length", b"3")]).headers)
        with pytest.raises(ValueError, match="has no body"):
            build_rejection(status, body=b"x")
    assert (b"allow", b"GET") in list(build_rejection(405).headers)


def test_rejection_from_error_keeps_its_headers() -> None:
    response, body = rejection_from_error(HandshakeError("nope", 426, [(b"Sec-WebSocket-Version", b"13")]))
    assert response.status_code == 426
    assert (b"sec-websocket-version", b"13") in list(response.headers)
    assert (b"content-type", b"text/plain; charset=utf-8") in list(response.headers)
    assert body == b"nope\n"
    response, _ = rejection_from_error(HandshakeError("x", 400, [(b"Content-Type", b"text/html")]))
    assert [v for k, v in response.headers if k == b"content-type"] == [b"text/html"]


# ------------------------------------------------------------------ full handshakes


def test_minimal_handshake_and_messages_both_ways() -> None:
    client = ClientHandshake("example.com", "/chat", mask_key_source=lambda: FIXED_MASK)
    server = ServerHandshake()
    result, server_conn = handshake(client, server)
    assert result.subprotocol is None
    assert result.extensions == ()
    assert result.response.status_code == 101
    assert server.request is not None
    assert server.request.target == "/chat"
    assert server.subprotocol is None
    assert server.extensions == ()
    client_conn = result.connection
    assert client_conn.role is Role.CLIENT
    assert server_conn.role is Role.SERVER
    server_conn.receive_data(client_conn.send(TextMessage("hi")) + client_conn.send(BinaryMessage(b"\x00")))
    assert list(server_conn.events()) == [TextMessage("hi"), BinaryMessage(b"\x00")]
    client_conn.receive_data(server_conn.send(Close(1000, "bye")))
    assert list(client_conn.events()) == [Close(1000, "bye")]


def test_subprotocol_server_preference_wins() -> None:
    client = ClientHandshake("h", "/", subprotocols=["a", "b", "c"])
    server = ServerHandshake(subprotocols=["z", "c", "b"])
    result, _ = handshake(client, server)
    assert result.subprotocol == "c"
    assert server.subprotocol == "c"
    assert server.request is not None
    assert server.request.subprotocols == ["a", "b", "c"]


def test_subprotocol_none_in_common() -> None:
    client = ClientHandshake("h", "/", subprotocols=["a"])
    result, _ = handshake(client, ServerHandshake(subprotocols=["b"]))
    assert result.subprotocol is None
    assert b"sec-websocket-protocol" not in dict(result.response.headers)


def test_subprotocol_offered_to_a_server_without_any() -> None:
    result, _ = handshake(ClientHandshake("h", "/", subprotocols=["a"]), ServerHandshake())
    assert result.subprotocol is None


def test_subprotocol_chosen_by_a_callable() -> None:
    seen: list[list[str]] = []

    def select(offered: list[str]) -> str | None:
        seen.append(offered)
        return offered[-1]

    client = ClientHandshake("h", "/", subprotocols=["a", "b"])
    result, _ = handshake(client, ServerHandshake(select_subprotocol=select))
    assert result.subprotocol == "b"
    assert seen == [["a", "b"]]
    result, _ = handshake(ClientHandshake("h", "/"), ServerHandshake(select_subprotocol=lambda offered: None))
    assert result.subprotocol is None


def test_subprotocol_callable_must_choose_an_offer() -> None:
    server = ServerHandshake(select_subprotocol=lambda offered: "evil")
    with pytest.raises(LocalProtocolError, match="did not offer"):
        server.receive_data(ClientHandshake("h", "/", subprotocols=["a"]).send())


def test_choose_subprotocol() -> None:
    assert choose_subprotocol(["a", "b"], ["b", "a"]) == "b"
    assert choose_subprotocol([], ["a"]) is None
    assert choose_subprotocol(["a"], lambda offered: "a") == "a"
    with pytest.raises(ValueError, match="not both"):
        ServerHandshake(subprotocols=["a"], select_subprotocol=lambda offered: None)


def test_extension_negotiated_and_applied_on_both_sides() -> None:
    client = ClientHandshake(
        "h", "/", extensions=[FakeFactory(offer=[("p", "1")])], mask_key_source=lambda: FIXED_MASK
    )
    server_factory = FakeFactory()
    server = ServerHandshake(extensions=[server_factory])
    result, server_conn = handshake(client, server)
    assert server_factory.offers_seen == [[("p", "1")]]
    assert dict(result.response.headers)[b"sec-websocket-extensions"] == b"x-fake; p=1; ok"
    [client_ext] = result.extensions
    [server_ext] = server.extensions
    assert isinstance(client_ext, FakeExtension)
    assert isinstance(server_ext, FakeExtension)
    assert client_ext.params == [("p", "1"), ("ok", None)]
    assert result.connection.extensions == (client_ext,)
    assert server_conn.extensions == (server_ext,)
    assert (client_ext.role, server_ext.role) == (Role.CLIENT, Role.SERVER)
    wire = result.connection.send(TextMessage("rsv"))
    assert rsv_of(wire) == 0x40  # the extension is in use ...
    server_conn.receive_data(wire)
    assert list(server_conn.events()) == [TextMessage("rsv")]  # ... at both ends
    wire = server_conn.send(BinaryMessage(b"back"))
    assert rsv_of(wire) == 0x40
    result.connection.receive_data(wire)
    assert list(result.connection.events()) == [BinaryMessage(b"back")]


def test_permessage_deflate_negotiated_in_memory() -> None:
    module = pytest.importorskip("noio_ws.extensions.permessage_deflate")
    client = ClientHandshake("h", "/", extensions=[module.PerMessageDeflateFactory()])
    server = ServerHandshake(extensions=[module.PerMessageDeflateFactory()])
    result, server_conn = handshake(client, server)
    assert (
        [e.name for e in result.extensions]
        == [e.name for e in server_conn.extensions]
        == ["permessage-deflate"]
    )
    wire = result.connection.send(TextMessage("compress me " * 20))
    assert rsv_of(wire) == 0x40
    assert len(wire) < 100
    server_conn.receive_data(wire)
    assert list(server_conn.events()) == [TextMessage("compress me " * 20)]


def test_extension_declined() -> None:
    client = ClientHandshake("h", "/", extensions=[FakeFactory(offer=[("decline", None)])])
    server = ServerHandshake(extensions=[FakeFactory()])
    result, server_conn = handshake(client, server)
    assert result.extensions == ()
    assert server_conn.extensions == ()
    assert b"sec-websocket-extensions" not in dict(result.response.headers)
    assert rsv_of(result.connection.send(TextMessage("x"))) == 0


def test_extension_unknown_to_the_server_is_ignored() -> None:
    result, _ = handshake(ClientHandshake("h", "/", extensions=[FakeFactory("x-a")]), ServerHandshake())
    assert result.extensions == ()


def test_first_acceptable_offer_wins_and_order_follows_the_client() -> None:
    wire = request_wire(
        {b"Sec-WebSocket-Extensions": b"x-b; decline, x-a; n=1, x-b; n=2, x-a; n=3, x-b; n=4"}
    )
    server = ServerHandshake(extensions=[FakeFactory("x-b", rsv_mask=0x20), FakeFactory("x-a")])
    server.receive_data(wire)
    response, conn = server.accept()
    assert b"Sec-WebSocket-Extensions: x-a; n=1; ok, x-b; n=2; ok\r\n" in response
    assert described(conn.extensions) == [
        ("x-a", [("n", "1"), ("ok", None)]),
        ("x-b", [("n", "2"), ("ok", None)]),
    ]


def test_extensions_claiming_the_same_bits_are_not_both_accepted() -> None:
    offers: list[tuple[str, list[tuple[str, str | None]]]] = [("x-a", []), ("x-b", [])]
    entries, extensions = accept_extensions(offers, [FakeFactory("x-a"), FakeFactory("x-b")])
    assert [name for name, _ in entries] == ["x-a"]
    assert len(extensions) == 1
    opcode_a, opcode_b = FakeExtension("x-a", rsv_mask=0), FakeExtension("x-b", rsv_mask=0)
    opcode_a.opcodes = opcode_b.opcodes = {3: OpcodeKind.DATA}

    class OpcodeFactory(FakeFactory):
        def accept_offer(self, params: Params) -> tuple[list[tuple[str, str | None]], FakeExtension] | None:
            return [], opcode_a if self.name == "x-a" else opcode_b

    entries, extensions = accept_extensions(offers, [OpcodeFactory("x-a"), OpcodeFactory("x-b")])
    assert extensions == [opcode_a]


def test_everything_at_once_with_origin_and_extra_headers() -> None:
    client = ClientHandshake(
        "example.com",
        "/x",
        subprotocols=["chat"],
        extensions=[FakeFactory()],
        extra_headers=[(b"Cookie", b"a=b")],
        origin="https://example.com",
    )
    server = ServerHandshake(
        subprotocols=["chat"], extensions=[FakeFactory()], origins=["https://example.com"]
    )
    request = server.receive_data(client.send())
    assert request is not None
    assert request.origin == "https://example.com"
    assert (b"cookie", b"a=b") in request.headers
    wire, _ = server.accept(extra_headers=[(b"Set-Cookie", b"c=d")])
    result = client.receive_data(wire)
    assert isinstance(result, Accepted)
    assert result.subprotocol == "chat"
    assert (b"set-cookie", b"c=d") in list(result.response.headers)


def test_connection_options_are_passed_on() -> None:
    client = ClientHandshake("h", "/", max_message_size=4, mask_key_source=lambda: FIXED_MASK)
    server = ServerHandshake(max_message_size=4, stream_messages=True)
    result, server_conn = handshake(client, server)
    assert result.connection.send(TextMessage("a")) == b"\x81\x81" + FIXED_MASK + bytes(
        [ord("a") ^ FIXED_MASK[0]]
    )
    server_conn.receive_data(result.connection.send(BinaryMessage(b"12345")))
    with pytest.raises(RemoteProtocolError) as info:
        list(server_conn.events())
    assert info.value.close_code == 1009


def test_connection_options_are_checked_at_construction() -> None:
    with pytest.raises(TypeError, match="unexpected connection options: bogus"):
        ServerHandshake(bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected connection options: role"):
        ClientHandshake("h", "/", role=Role.SERVER)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="max_message_size"):
        ClientHandshake("h", "/", max_message_size=-1)


# ------------------------------------------------------------------ what the server accepts


@pytest.mark.parametrize(
    "changes",
    [
        {b"Connection": b"keep-alive, Upgrade"},
        {b"Connection": b"upgrade"},
        {b"Upgrade": b"WebSocket"},
        {b"Upgrade": b"h2c/2, websocket"},
        {b"Sec-WebSocket-Protocol": b" , "},
        {b"Content-Length": b"0"},
    ],
)
def test_server_accepts_variants(changes: dict[bytes, bytes | None]) -> None:
    server = ServerHandshake()
    assert server.receive_data(request_wire(changes)) is not None
    wire, _ = server.accept()
    assert wire.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")


def test_server_accepts_split_connection_header() -> None:
    wire = request_wire({b"Connection": b"keep-alive"}, extra=[(b"Connection", b"Upgrade")])
    assert ServerHandshake().receive_data(wire) is not None


def test_server_waits_for_the_whole_request() -> None:
    wire = request_wire()
    server = ServerHandshake()
    for i in range(len(wire) - 1):
        assert server.receive_data(wire[i : i + 1]) is None
    assert server.receive_data(wire[-1:]) is not None


# ------------------------------------------------------------------ what the server rejects


def test_wrong_method_is_405_with_allow() -> None:
    error = server_error(request_wire(start=b"POST /chat HTTP/1.1"))
    assert (error.status_code, error.headers) == (405, [(b"Allow", b"GET")])
    answer = rejection(ServerHandshake().reject_error(error))
    assert (b"allow", b"GET") in answer.headers


@pytest.mark.parametrize("version", [b"8", b"12", b"13, 8", b"", None])
def test_wrong_version_is_426_naming_13(version: bytes | None) -> None:
    error = server_error(request_wire({b"Sec-WebSocket-Version": version}))
    assert (error.status_code, error.headers) == (426, [(b"Sec-WebSocket-Version", b"13")])
    answer = rejection(ServerHandshake().reject_error(error))
    assert (answer.status_code, dict(answer.headers)[b"sec-websocket-version"]) == (426, b"13")


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({b"Sec-WebSocket-Key": None}, "missing Sec-WebSocket-Key"),
        ({b"Sec-WebSocket-Key": b"short"}, "16 bytes"),
        ({b"Sec-WebSocket-Key": base64.b64encode(bytes(15))}, "16 bytes"),
        ({b"Sec-WebSocket-Key": base64.b64encode(bytes(17))}, "16 bytes"),
        ({b"Sec-WebSocket-Key": b"AAAAAAAAAAAAAAAAAAAAAB=="}, "16 bytes"),  # not canonical
        ({b"Sec-WebSocket-Key": b"AAAAAAAAAAAAAAAAAAAAAA"}, "16 bytes"),  # no padding
        ({b"Sec-WebSocket-Key": b"AAAAAAAAAAAA*AAAAAAAAA=="}, "16 bytes"),
        ({b"Host": None}, "Host"),
        ({b"Upgrade": None}, "Upgrade does not include websocket"),
        ({b"Upgrade": b"h2c"}, "Upgrade does not include websocket"),
        ({b"Upgrade": b"web socket"}, "Upgrade is not a valid list"),
        ({b"Connection": None}, "Connection does not include upgrade"),
        ({b"Connection": b"keep-alive"}, "Connection does not include upgrade"),
        ({b"Sec-WebSocket-Protocol": b"a b"}, "Sec-WebSocket-Protocol is not a valid list"),
        ({b"Sec-WebSocket-Extensions": b'x; a="1'}, "unterminated"),
        ({b"Content-Length": b"2"}, "must not have a body"),
        ({b"Transfer-Encoding": b"chunked"}, "must not have a body"),
    ],
)
def test_malformed_request_is_400(changes: dict[bytes, bytes | None], why: str) -> None:
    error = server_error(request_wire(changes))
    assert error.status_code == 400
    assert why in str(error)


def test_http_1_0_is_400() -> None:
    error = server_error(request_wire(start=b"GET /chat HTTP/1.0"))
    assert error.status_code == 400
    assert "HTTP/1.1" in str(error)


@pytest.mark.parametrize(
    "extra",
    [
        [(b"Sec-WebSocket-Key", KEY.encode())],
        [(b"Origin", b"a"), (b"Origin", b"b")],
    ],
)
def test_repeated_single_headers_are_400(extra: list[tuple[bytes, bytes]]) -> None:
    assert server_error(request_wire(extra=extra)).status_code == 400


def test_garbage_is_400_and_can_still_be_answered() -> None:
    server = ServerHandshake()
    error = server_error(b"\x16\x03\x01 hello TLS\r\n\r\n", server)
    assert error.status_code == 400
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"more")


@pytest.mark.parametrize(
    "changes",
    [
        {b"Host": b"ex\xe4mple.com"},
        {b"Upgrade": b"websocket\xff"},
        {b"Connection": b"Upgrade, caf\xc3\xa9"},
        {b"Origin": b"https://\xc3\xa9.example"},
        {b"Sec-WebSocket-Key": b"\xff" * 24},
        {b"Sec-WebSocket-Protocol": b"chat, \xe9"},
        {b"Sec-WebSocket-Extensions": b'x; a="\xe9"'},
        {b"Sec-WebSocket-Whatever": b"\x80"},
    ],
)
def test_non_ascii_in_handshake_headers_is_400(changes: dict[bytes, bytes | None]) -> None:
    error = server_error(request_wire(changes))
    assert error.status_code == 400
    assert "non-ASCII" in str(error)


def test_non_ascii_elsewhere_is_left_to_the_application() -> None:
    request = ServerHandshake().receive_data(request_wire({b"User-Agent": b"caf\xc3\xa9"}))
    assert request is not None
    assert (b"user-agent", b"caf\xc3\xa9") in request.headers


def test_origin_allow_list() -> None:
    allowed = ["https://good.example"]
    wire = request_wire({b"Origin": b"https://good.example"})
    assert ServerHandshake(origins=allowed).receive_data(wire) is not None
    error = server_error(request_wire({b"Origin": b"https://evil.example"}), ServerHandshake(origins=allowed))
    assert error.status_code == 403
    assert server_error(request_wire(), ServerHandshake(origins=allowed)).status_code == 403
    assert ServerHandshake(origins=[None]).receive_data(request_wire()) is not None


def test_origin_callable() -> None:
    seen: list[str | None] = []

    def check(origin: str | None) -> bool:
        seen.append(origin)
        return origin is not None and origin.endswith(".good.example")

    wire = request_wire({b"Origin": b"https://a.good.example"})
    assert ServerHandshake(origins=check).receive_data(wire) is not None
    assert server_error(request_wire(), ServerHandshake(origins=check)).status_code == 403
    assert seen == ["https://a.good.example", None]


def test_too_many_headers_is_431() -> None:
    many = [(f"X-{i}".encode(), b"1") for i in range(DEFAULT_MAX_HEADERS)]
    assert server_error(request_wire(extra=many)).status_code == 431
    assert server_error(request_wire(extra=many[:3]), ServerHandshake(max_headers=7)).status_code == 431
    assert ServerHandshake(max_headers=8).receive_data(request_wire(extra=many[:3])) is not None


def test_two_thousand_headers_is_431() -> None:
    many = [(b"A", b"b")] * 2000
    assert server_error(request_wire(extra=many)).status_code == 431


def test_large_complete_head_is_431() -> None:
    wire = request_wire(extra=[(b"X-Big", b"x" * DEFAULT_MAX_INCOMPLETE_EVENT_SIZE)])
    assert server_error(wire).status_code == 431


def test_large_incomplete_head_is_431_without_buffering_more() -> None:
    server = ServerHandshake(max_incomplete_event_size=1000)
    assert server.receive_data(b"GET / HTTP/1.1\r\nX-Big: " + b"x" * 900) is None
    with pytest.raises(HandshakeError) as info:
        server.receive_data(b"x" * 200)
    assert info.value.status_code == 431


def test_eof_before_the_request_is_an_error() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError, match="closed before the request"):
        server.receive_data(b"")
    server = ServerHandshake()
    server.receive_data(request_wire()[:20])
    with pytest.raises(HandshakeError):
        server.receive_data(b"")


def test_the_application_can_reject_any_valid_request() -> None:
    server = ServerHandshake()
    assert server.receive_data(request_wire()) is not None
    wire = server.reject(401, [(b"WWW-Authenticate", b"Basic")], b"who are you?")
    answer = rejection(wire)
    assert answer.status_code == 401
    assert (b"www-authenticate", b"Basic") in answer.headers
    assert answer.body == b"who are you?"
    assert wire.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
    with pytest.raises(LocalProtocolError):
        server.accept()
    with pytest.raises(LocalProtocolError):
        server.reject(403)


def test_reject_without_body() -> None:
    server = ServerHandshake()
    server.receive_data(request_wire())
    answer = rejection(server.reject(503))
    assert (answer.status_code, answer.body) == (503, b"")


def test_server_misuse() -> None:
    server = ServerHandshake()
    with pytest.raises(LocalProtocolError, match="no valid request"):
        server.accept()
    server.receive_data(request_wire())
    server.accept()
    for call in (server.accept, lambda: server.reject(400), lambda: server.receive_data(b"x")):
        with pytest.raises(LocalProtocolError):
            call()
    failed = ServerHandshake()
    with pytest.raises(HandshakeError):
        failed.receive_data(request_wire(start=b"PUT / HTTP/1.1"))
    with pytest.raises(LocalProtocolError):
        failed.accept()


# ------------------------------------------------------------------ bytes after the handshake


def early_frames() -> tuple[bytes, list[object]]:
    """Masked frames a client pipelines after its request, and the events they are."""
    sender = Connection(Role.CLIENT, mask_key_source=lambda: FIXED_MASK)
    wire = sender.send(TextMessage("early")) + sender.send(BinaryMessage(b"bird"))
    return wire, [TextMessage("early"), BinaryMessage(b"bird")]


def test_frames_pipelined_after_the_request_reach_the_connection() -> None:
    frames, expected = early_frames()
    server = ServerHandshake()
    assert server.receive_data(request_wire() + frames) is not None
    _, conn = server.accept()
    assert list(conn.events()) == expected


def test_frames_pipelined_after_the_request_byte_by_byte() -> None:
    frames, expected = early_frames()
    wire = request_wire() + frames
    server = ServerHandshake()
    results = [server.receive_data(wire[i : i + 1]) for i in range(len(wire))]
    assert results.count(None) == len(request_wire()) - 1
    _, conn = server.accept()
    assert list(conn.events()) == expected


def test_eof_after_the_request_reaches_the_connection() -> None:
    frames, _ = early_frames()
    server = ServerHandshake()
    server.receive_data(request_wire() + frames[:3])
    assert server.receive_data(b"") is not None
    with pytest.raises(LocalProtocolError, match="after EOF"):
        server.receive_data(b"x")
    _, conn = server.accept()
    event = conn.next_event()
    assert isinstance(event, Close)
    assert event.code == 1006
    assert conn.next_event() is Signal.CLOSED


def test_frames_sent_with_the_101_reach_the_connection() -> None:
    for split in ("whole", "bytewise"):
        client = ClientHandshake("h", "/")
        server = ServerHandshake()
        server.receive_data(client.send())
        response, conn = server.accept()
        wire = response + conn.send(TextMessage("hello")) + conn.send(Close(1001))
        if split == "whole":
            result = client.receive_data(wire)
        else:
            results = [client.receive_data(wire[i : i + 1]) for i in range(len(response))]
            assert results[:-1] == [None] * (len(response) - 1)
            result = results[-1]
            assert isinstance(result, Accepted)
            result.connection.receive_data(wire[len(response) :])
        assert isinstance(result, Accepted)
        assert list(result.connection.events()) == [TextMessage("hello"), Close(1001, "")]


def test_many_frames_sent_with_the_101_all_reach_the_connection() -> None:
    """More than max_incomplete_event_size of frames in the same read as the 101:
    the drivers feed h11 in pieces, and every piece after the 101 goes to the Connection."""
    client = ClientHandshake("h", "/", max_incomplete_event_size=1024)
    server = ServerHandshake()
    server.receive_data(client.send())
    response, conn = server.accept()
    messages = [TextMessage(f"message {i}") for i in range(500)]
    wire = response + b"".join(conn.send(m) for m in messages)
    assert len(wire) > 4 * 1024
    result = client.receive_data(wire)
    assert isinstance(result, Accepted)
    assert list(result.connection.events()) == messages


def test_eof_right_after_the_101_reaches_the_connection() -> None:
    client = sent_client()
    assert client.receive_data(response_for(client)) is not None
    client = sent_client()
    assert client.receive_data(response_for(client)[:-1]) is None
    result = client.receive_data(b"\n")
    assert isinstance(result, Accepted)
    result.connection.receive_data(b"")
    assert result.connection.next_event() == Close(1006, "the transport ended before the close handshake")


# ------------------------------------------------------------------ what the client refuses


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"Sec-WebSocket-Accept": "x" + ACCEPT[1:]}, "does not match"),
        ({"Sec-WebSocket-Accept": None}, "missing Sec-WebSocket-Accept"),
        ({"Upgrade": None}, "Upgrade is not websocket"),
        ({"Upgrade": "websocket, h2c"}, "Upgrade is not websocket"),
        ({"Connection": "keep-alive"}, "Connection does not include upgrade"),
        ({"Sec-WebSocket-Protocol": "chat"}, "not offered"),
        ({"Sec-WebSocket-Extensions": "x-fake"}, "not offered"),
        ({"Sec-WebSocket-Extensions": 'x-fake; a="1'}, "unterminated"),
    ],
)
def test_client_fails_an_invalid_101(changes: dict[str, str | None], why: str) -> None:
    client = sent_client()
    with pytest.raises(HandshakeError, match=why):
        client.receive_data(response_for(client, **changes))
    with pytest.raises(LocalProtocolError, match="over"):
        client.receive_data(b"")


def test_client_accepts_case_insensitive_tokens() -> None:
    client = sent_client()
    result = client.receive_data(response_for(client, Upgrade="WebSocket", Connection="keep-alive, UPGRADE"))
    assert isinstance(result, Accepted)


def test_client_refuses_an_unoffered_or_extra_subprotocol() -> None:
    for chosen in ("other", "a, b"):
        client = ClientHandshake("h", "/", subprotocols=["a", "b"])
        client.send()
        with pytest.raises(HandshakeError, match="not offered"):
            client.receive_data(response_for(client, **{"Sec-WebSocket-Protocol": chosen}))
    client = ClientHandshake("h", "/", subprotocols=["a", "b"])
    client.send()
    result = client.receive_data(response_for(client, **{"Sec-WebSocket-Protocol": "b"}))
    assert isinstance(result, Accepted)
    assert result.subprotocol == "b"


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("x-fake, x-fake", "twice"),
        ("x-other", "not offered"),
        ("x-fake; refuse", "refused"),
        ("x-fake, x-rival", "conflict"),
    ],
)
def test_client_refuses_bad_extension_answers(answer: str, why: str) -> None:
    client = ClientHandshake("h", "/", extensions=[FakeFactory(), FakeFactory("x-rival")])
    client.send()
    with pytest.raises(HandshakeError, match=why):
        client.receive_data(response_for(client, **{"Sec-WebSocket-Extensions": answer}))


def test_client_uses_the_server_order_of_extensions() -> None:
    client = ClientHandshake("h", "/", extensions=[FakeFactory("x-a"), FakeFactory("x-b", rsv_mask=0x20)])
    client.send()
    result = client.receive_data(response_for(client, **{"Sec-WebSocket-Extensions": "x-b, x-a"}))
    assert isinstance(result, Accepted)
    assert [e.name for e in result.extensions] == ["x-b", "x-a"]


@pytest.mark.parametrize(
    "header", ["Sec-WebSocket-Protocol", "Upgrade", "Sec-WebSocket-Accept", "Connection"]
)
def test_client_fails_non_ascii_in_the_101(header: str) -> None:
    client = sent_client()
    wire = response_for(client).replace(b"\r\n\r\n", f"\r\n{header}: \xe9\r\n\r\n".encode("latin-1"))
    with pytest.raises(HandshakeError, match="non-ASCII"):
        client.receive_data(wire)


def test_non_101_is_rejected_with_headers_and_body() -> None:
    client = sent_client()
    wire = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: origin\r\n\r\nforbidden"
    assert client.receive_data(wire[:-3]) is None
    result = client.receive_data(wire[-3:])
    assert result == Rejected(403, [(b"content-length", b"9"), (b"x-why", b"origin")], b"forbidden")


def test_rejection_body_read_until_eof() -> None:
    client = sent_client()
    assert client.receive_data(b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\npart one, ") is None
    assert client.receive_data(b"part two") is None
    result = client.receive_data(b"")
    assert isinstance(result, Rejected)
    assert (result.status_code, result.body) == (500, b"part one, part two")


def test_rejection_body_is_bounded() -> None:
    client = ClientHandshake("h", "/", max_body_size=10)
    client.send()
    result = client.receive_data(b"HTTP/1.1 404 Not Found\r\nContent-Length: 100000\r\n\r\n" + b"x" * 30_000)
    assert isinstance(result, Rejected)
    assert result.body == b"x" * 10


def test_interim_responses_are_skipped() -> None:
    client = sent_client()
    assert client.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n") is None
    assert isinstance(client.receive_data(response_for(client)), Accepted)


@pytest.mark.parametrize(
    "wire",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # then EOF
        b"HTTP/1.1 101 Switching Protocols\r\nX: \x00\r\n\r\n",
    ],
)
def test_client_maps_http_errors(wire: bytes) -> None:
    client = sent_client()
    with pytest.raises(HandshakeError, match="invalid HTTP response"):
        feed(client, wire, b"")


def feed(client: ClientHandshake, *chunks: bytes) -> None:
    for chunk in chunks:
        assert client.receive_data(chunk) is None


def test_client_eof_before_response() -> None:
    client = sent_client()
    with pytest.raises(HandshakeError, match="invalid HTTP response"):
        client.receive_data(b"")


def test_client_header_limits() -> None:
    client = ClientHandshake("h", "/", max_headers=3)
    client.send()
    with pytest.raises(HandshakeError) as info:
        client.receive_data(response_for(client, X_A="1"))
    assert info.value.status_code == 431
    client = sent_client()
    with pytest.raises(HandshakeError):
        client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nX: " + b"y" * 20_000)


def test_client_misuse() -> None:
    client = ClientHandshake("h", "/")
    with pytest.raises(LocalProtocolError, match="send"):
        client.receive_data(b"x")
    client.send()
    with pytest.raises(LocalProtocolError, match="already"):
        client.send()
    assert isinstance(client.receive_data(response_for(client)), Accepted)
    with pytest.raises(LocalProtocolError, match="over"):
        client.receive_data(b"\x81\x00")


# ------------------------------------------------------------------ hostile input, whole request


@pytest.mark.parametrize(
    "changes",
    [
        {b"Sec-WebSocket-Protocol": b"a" + b" " * 50_000 + b"b,"},
        {b"Connection": b"Upgrade, a" + b" " * 50_000 + b"b,"},
        {b"Upgrade": b"websocket, a" + b" " * 50_000 + b"b,"},
        {b"Sec-WebSocket-Extensions": b'x; a="' + b"\\\\" * 25_000},
    ],
)
def test_hostile_lists_are_rejected_in_linear_time(changes: dict[bytes, bytes | None]) -> None:
    # A head large enough to reach the list parsers (the default limit stops it earlier).
    server = ServerHandshake(max_incomplete_event_size=1 << 17)
    wire = request_wire(changes)
    start = time.process_time()  # CPU time: other work on a busy machine does not count
    with pytest.raises(HandshakeError) as info:
        server.receive_data(wire)
    assert time.process_time() - start < 0.1
    assert info.value.status_code == 400
    assert server_error(wire).status_code == 431  # and by default they never get that far


# Issue 18: found by the handshake_server fuzz target (its first two bytes are the target's
# option and chunking bytes); also in fuzz/corpus/handshake_server/.
ISSUE_18_INPUT = base64.b64decode(
    "AABIRUFEIC8gSFRUUC8xLjENCkhvc3Q6IAp0cmFuc2Zlci1lbnlvZGluZ0hvc3Q6IHNlcnZlci5leGFtcGxlLmNvbSBz////////DQoNCg=="
)


@pytest.mark.parametrize(
    "wire",
    [ISSUE_18_INPUT[2:], b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", request_wire(start=b"HEAD / HTTP/1.1")],
)
def test_head_is_answered_405_without_a_body(wire: bytes) -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError) as info:
        server.receive_data(wire)
    assert info.value.status_code == 405
    answer = server.reject_error(info.value)
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"\r\nAllow: GET\r\n" in head
    assert body == b""


def test_no_response_to_a_client_that_sent_nothing() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError) as info:
        server.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="cannot respond"):
        server.reject_error(info.value)

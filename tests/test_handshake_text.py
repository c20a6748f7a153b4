"""Every entry point of noio_ws.handshake takes str or bytes (issue 13), as h11 does."""

from __future__ import annotations

from collections.abc import Callable

import h11
import pytest

import noio_ws.handshake
from noio_ws.extensions import PerMessageDeflateFactory
from noio_ws.handshake import (
    Accepted,
    ClientHandshake,
    HandshakeError,
    HandshakeRequest,
    Headers,
    OriginPolicy,
    Rejected,
    ServerHandshake,
    SubprotocolSelector,
    accept_token,
    build_accept,
    build_rejection,
    build_request,
    choose_subprotocol,
    rejection_from_error,
)

from .test_handshake import KEY, request_wire, sent_client


def without_key(request: h11.Request) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in request.headers if name != b"sec-websocket-key"]


def test_the_issue_13_example_works() -> None:
    client = ClientHandshake(
        "example.com:8765", "/", extra_headers=[("Origin", "http://example.com"), ("X-Token", "t0k")]
    )
    server = ServerHandshake(origins=["http://example.com"])
    request = server.receive_data(client.send())
    assert isinstance(request, HandshakeRequest)
    assert request.origin == "http://example.com"
    assert (b"x-token", b"t0k") in request.headers
    wire, _ = server.accept()
    assert isinstance(client.receive_data(wire), Accepted)


def test_build_request_str_and_bytes_agree() -> None:
    as_str = build_request(
        "example.com",
        "/chat?x=1",
        subprotocols=["chat", "v2"],
        extra_headers=[("X-A", "1")],
        origin="https://example.com",
    )
    as_bytes = build_request(
        b"example.com",
        b"/chat?x=1",
        subprotocols=[b"chat", b"v2"],
        extra_headers=[(b"X-A", b"1")],
        origin=b"https://example.com",
    )
    assert without_key(as_str) == without_key(as_bytes)
    assert as_str.target == as_bytes.target == b"/chat?x=1"
    mixed = build_request(
        "example.com", b"/chat?x=1", subprotocols=["chat", b"v2"], extra_headers=[("X-A", b"1")]
    )
    assert (b"sec-websocket-protocol", b"chat, v2") in mixed.headers


def test_origin_is_given_once() -> None:
    request = build_request("h", "/", extra_headers=[(b"origin", b"https://a.example")])
    assert (b"origin", b"https://a.example") in request.headers
    with pytest.raises(ValueError, match="give the Origin once"):
        build_request("h", "/", extra_headers=[("Origin", "https://a.example")], origin="https://b.example")
    with pytest.raises(ValueError, match="give the Origin once"):
        build_request(
            "h", "/", extra_headers=[("Origin", "https://a.example"), ("origin", "https://b.example")]
        )


def test_build_accept_str_and_bytes_agree() -> None:
    as_str = build_accept(
        KEY,
        subprotocol="chat",
        extensions=[
            ("permessage-deflate", [("client_max_window_bits", "12"), ("server_no_context_takeover", None)])
        ],
        extra_headers=[("Set-Cookie", "a=b")],
    )
    as_bytes = build_accept(
        KEY.encode(),
        subprotocol=b"chat",
        extensions=[
            (
                b"permessage-deflate",
                [(b"client_max_window_bits", b"12"), (b"server_no_context_takeover", None)],
            )
        ],
        extra_headers=[(b"Set-Cookie", b"a=b")],
    )
    assert as_str.headers == as_bytes.headers
    assert accept_token(KEY) == accept_token(KEY.encode())


def test_build_rejection_str_and_bytes_agree() -> None:
    as_str = build_rejection(403, [("X-Why", "no"), ("Content-Length", "99")], b"go")
    as_bytes = build_rejection(403, [(b"X-Why", b"no"), (b"Content-Length", b"99")], b"go")
    assert as_str.headers == as_bytes.headers
    assert (b"content-length", b"2") in as_str.headers


def test_rejection_from_error_takes_str_headers() -> None:
    error = HandshakeError("old", 426, [("Sec-WebSocket-Version", "13")])  # type: ignore[list-item]
    response, body = rejection_from_error(error)
    assert (b"sec-websocket-version", b"13") in response.headers
    assert body == b"old\n"


def test_choose_subprotocol_str_and_bytes() -> None:
    assert choose_subprotocol(["a", "b"], [b"b", "a"]) == "b"

    def selector(offered: list[str]) -> bytes:
        return offered[-1].encode()

    assert choose_subprotocol(["a", "b"], selector) == "b"


def server_with(**options: object) -> tuple[ServerHandshake, HandshakeRequest]:
    server = ServerHandshake(**options)  # type: ignore[arg-type]
    wire = request_wire({b"Origin": b"https://a.example", b"Sec-WebSocket-Protocol": b"chat, v2"})
    request = server.receive_data(wire)
    assert isinstance(request, HandshakeRequest)
    return server, request


@pytest.mark.parametrize("protocols", [["v2"], [b"v2"]])
def test_server_subprotocols_str_or_bytes(protocols: list[str | bytes]) -> None:
    server, _ = server_with(subprotocols=protocols)
    assert server.subprotocol == "v2"


def test_server_selector_may_answer_bytes() -> None:
    def select(offered: list[str]) -> bytes:
        return b"chat"

    server, _ = server_with(select_subprotocol=select)
    assert server.subprotocol == "chat"


@pytest.mark.parametrize(
    "origins", [["https://a.example"], [b"https://a.example"], [None, b"https://a.example"]]
)
def test_server_origins_str_or_bytes(origins: list[str | bytes | None]) -> None:
    _, request = server_with(origins=origins)
    assert request.origin == "https://a.example"


def test_server_accept_and_rejections_take_str_or_bytes() -> None:
    for subprotocol, extra in (("chat", [("X-A", "1")]), (b"chat", [(b"X-A", b"1")])):
        server, _ = server_with(extensions=[PerMessageDeflateFactory()])
        wire, _ = server.accept(subprotocol=subprotocol, extra_headers=extra)
        assert b"\r\nSec-WebSocket-Protocol: chat\r\n" in wire
        assert b"\r\nX-A: 1\r\n" in wire
        assert server.subprotocol == "chat"
    for headers in ([("X-Why", "no")], [(b"X-Why", b"no")]):
        server, _ = server_with()
        result = sent_client().receive_data(server.reject(403, headers, b"no"))
        assert isinstance(result, Rejected)
        assert (b"x-why", b"no") in result.headers
        server, _ = server_with()
        head = server.reject_head(
            500, [("Content-Type", "text/plain")] if headers[0][0] == "X-Why" else headers
        )
        result = sent_client().receive_data(head + server.reject_body(b"!"))
        assert isinstance(result, Rejected)
        assert result.body == b"!"


def test_client_handshake_all_bytes() -> None:
    client = ClientHandshake(
        b"example.com",
        b"/chat",
        subprotocols=[b"chat"],
        extra_headers=[(b"X-Token", b"t0k")],
        origin=b"https://a.example",
    )
    server = ServerHandshake(subprotocols=["chat"], origins=[b"https://a.example"])
    request = server.receive_data(client.send())
    assert request is not None
    assert request.target == "/chat"
    result = client.receive_data(server.accept()[0])
    assert isinstance(result, Accepted)
    assert result.subprotocol == "chat"


def test_bytes_values_may_hold_obs_text() -> None:
    request = build_request("h", "/", extra_headers=[(b"X-Name", b"caf\xc3\xa9")])
    assert (b"x-name", b"caf\xc3\xa9") in request.headers


NON_ASCII: list[tuple[str, Callable[[], object]]] = [
    ("header name", lambda: build_request("h", "/", extra_headers=[("X-Café", "1")])),
    ("header value", lambda: build_request("h", "/", extra_headers=[("X-Name", "café")])),
    ("host", lambda: ClientHandshake("exämple.com", "/")),
    ("target", lambda: build_request("h", "/café")),
    ("origin", lambda: build_request("h", "/", origin="https://é.example")),
    ("header value", lambda: build_accept(KEY, extra_headers=[("X-A", "é")])),
    ("header value", lambda: build_rejection(400, [("X-A", "é")])),
    ("Sec-WebSocket-Key", lambda: accept_token("é")),
    ("origin", lambda: ServerHandshake(origins=["https://é.example"])),
    ("subprotocol", lambda: ServerHandshake(subprotocols=["é"])),
    ("subprotocol", lambda: choose_subprotocol(["a"], ["é"])),
    ("subprotocol", lambda: choose_subprotocol(["a"], lambda offered: b"\xe9")),
]


@pytest.mark.parametrize(
    ("what", "call"), NON_ASCII, ids=[f"{n}-{what}" for n, (what, _) in enumerate(NON_ASCII)]
)
def test_non_ascii_is_a_clear_value_error(what: str, call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=f"{what} .* is not ASCII"):
        call()


def test_non_ascii_tokens_are_not_tokens() -> None:
    with pytest.raises(ValueError, match="not an RFC 7230 token"):
        build_request("h", "/", subprotocols=["é"])
    with pytest.raises(ValueError, match="not an RFC 7230 token"):
        build_accept(KEY, subprotocol=b"\xe9")
    with pytest.raises(ValueError, match="not an RFC 7230 token"):
        build_accept(KEY, extensions=[("x", [("é", None)])])


def test_non_ascii_at_accept_and_reject() -> None:
    server, _ = server_with()
    with pytest.raises(ValueError, match="subprotocol 'é' is not ASCII"):
        server.accept(subprotocol="é")
    with pytest.raises(ValueError, match="header value 'é' is not ASCII"):
        server.accept(extra_headers=[("X-A", "é")])
    with pytest.raises(ValueError, match="header value 'é' is not ASCII"):
        server.reject(400, [("X-A", "é")])
    with pytest.raises(ValueError, match="header name 'É' is not ASCII"):
        server.reject_head(400, [("É", "1")])
    assert server.accept()[0].startswith(b"HTTP/1.1 101 ")  # nothing was sent before


def test_other_types_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="header value must be str or bytes, not int"):
        build_request("h", "/", extra_headers=[("X-A", 1)])  # type: ignore[list-item]


def test_aliases_are_exported() -> None:
    for name in ("Headers", "SubprotocolSelector", "OriginPolicy", "CONFIGURED", "ConnectionOptions"):
        assert name in noio_ws.handshake.__all__
    headers: Headers = [("a", b"b"), (b"c", "d")]
    selector: SubprotocolSelector = lambda offered: None  # noqa: E731
    policy: OriginPolicy = [None, "x", b"y"]
    assert selector([]) is None
    assert not callable(policy)
    assert len(headers) == len(policy) - 1

"""Seed corpora made from real traffic: what noio_ws's own Connection and handshake send.

``python fuzz/seeds.py DIR`` writes one folder per target under DIR (``run.py``
does this itself before fuzzing). The output is deterministic: fixed mask keys,
fixed handshake keys, no randomness, so the same files come out every time.

Each frame input is ``bytes([flags, chunk_seed]) + wire`` (see ``targets.py``);
each wire is written with several option bytes, so that every delivery mode
starts from valid traffic.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from targets import (  # noqa: E402
    CLOSE_FIRST,
    EOF_AT_END,
    FRAME_LIMITED,
    LENIENT,
    STREAM,
    deflate_parameters,
)

from noio_ws import (  # noqa: E402
    BinaryMessage,
    Close,
    Connection,
    Event,
    Ping,
    Pong,
    Role,
    TextMessage,
)
from noio_ws._headers import format_extension_list  # noqa: E402
from noio_ws.extensions import PerMessageDeflate, PerMessageDeflateFactory  # noqa: E402
from noio_ws.handshake import ClientHandshake  # noqa: E402

__all__ = ["seeds"]

MASK = b"\x9a\x1b\x5c\x3d"
#: RFC 6455 section 1.3's key, in place of the random one ClientHandshake draws.
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="

#: Conversations: the events one side sends, in order.
CONVERSATIONS: list[list[Event]] = [
    [TextMessage("hello")],
    [BinaryMessage(b"\x00\x01\x02\xff" * 8)],
    [TextMessage("κόσμε €𝄞"), BinaryMessage(b""), TextMessage("")],
    [Ping(b"ping"), Pong(b"pong"), Ping(), Pong()],
    [TextMessage("frag", final=False), TextMessage("ment€", final=False), TextMessage("ed", final=True)],
    [
        BinaryMessage(b"a" * 10, final=False),
        Ping(b"between"),
        BinaryMessage(b"b" * 300, final=False),
        BinaryMessage(b"", final=True),
    ],
    [TextMessage("x" * 200), BinaryMessage(bytes(range(256)) * 4)],
    [TextMessage("bye"), Close(1000, "done")],
    [Close(1005)],
    [Close(4999, "ü" * 40)],
    [TextMessage("half", final=False), Close(1001)],
    [Ping(b"p" * 125), Close(1011, "")],
    [TextMessage("repeat " * 400), TextMessage("repeat " * 400)],  # context takeover
]

#: (flags, chunk seed) pairs each wire is written with.
MODES = [
    (0, 0),
    (STREAM, 3),
    (STREAM | EOF_AT_END, 1),
    (CLOSE_FIRST, 7),
    (LENIENT | FRAME_LIMITED, 0),
    (EOF_AT_END, 200),
]


def _wire(sender: Connection, events: list[Event]) -> bytes:
    return b"".join(sender.send(event) for event in events)


def frame_seeds(receiver: Role, deflate: bool) -> Iterator[bytes]:
    """Wires a peer of *receiver* sends, with every mode byte."""
    sender_role = Role.SERVER if receiver is Role.CLIENT else Role.CLIENT
    for parameters in range(8 if deflate else 1):
        for events in CONVERSATIONS:
            extensions = [PerMessageDeflate(**deflate_parameters(parameters << 5))] if deflate else []
            sender = Connection(sender_role, extensions=extensions, mask_key_source=lambda: MASK)
            if deflate and parameters == 7 and events and isinstance(events[0], TextMessage):
                extensions[0].skip_next_message()  # an uncompressed message on a deflate connection
            wire = _wire(sender, events)
            for flags, seed in MODES:
                yield bytes([flags | parameters << 5, seed]) + wire


def handshake_seeds() -> Iterator[bytes]:
    """Opening handshakes as ClientHandshake sends them, some with frames pipelined after."""
    variants: list[dict[str, object]] = [
        {},
        {"subprotocols": ["chat", "superchat"]},
        {"extensions": [PerMessageDeflateFactory()]},
        {
            "extensions": [
                PerMessageDeflateFactory(server_no_context_takeover=True, server_max_window_bits=10),
                PerMessageDeflateFactory(client_max_window_bits=9, client_no_context_takeover=True),
            ],
            "subprotocols": ["v2.chat"],
            "origin": "https://example.com",
            "extra_headers": [(b"Cookie", b"a=b; c=d"), (b"User-Agent", b"fuzz/1.0")],
        },
    ]
    for number, options in enumerate(variants):
        client = ClientHandshake("example.com:8080", f"/chat?room={number}", **options)  # type: ignore[arg-type]
        request = re.sub(rb"(Sec-WebSocket-Key: )[A-Za-z0-9+/=]+", rb"\g<1>" + KEY, client.send())
        early = Connection(Role.CLIENT, mask_key_source=lambda: MASK)
        pipelined = early.send(TextMessage("early")) + early.send(Ping(b"x")) + early.send(Close(1000))
        for flags, seed in [(0, 0), (STREAM, 5), (EOF_AT_END, 1), (0x60, 0), (0xE0 | EOF_AT_END, 33)]:
            yield bytes([flags, seed]) + request
            yield bytes([flags, seed]) + request + pipelined
    # Hand-written ones: the RFC's example, and the variants servers must accept.
    rfc = (
        b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    yield b"\x00\x00" + rfc
    yield b"\x00\x00" + rfc.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade")
    yield b"\x00\x00" + rfc.replace(b"Connection: Upgrade", b"Connection: close, Upgrade")
    yield b"\x00\x00" + rfc.replace(b"Upgrade: websocket", b"Upgrade: WebSocket, h2c/2")
    yield b"\x00\x00" + rfc.replace(
        b"\r\n\r\n",
        b'\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits="10"'
        b", x-unknown; a=1\r\n\r\n",
    )
    yield b"\x00\x00" + rfc.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8")


def extension_header_seeds() -> Iterator[bytes]:
    """Sec-WebSocket-Extensions values (offers and answers), and token lists; fields split at newlines."""
    factories = [
        PerMessageDeflateFactory(),
        PerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True),
        PerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=12),
    ]
    offers = [format_extension_list([(factory.name, factory.offer())]) for factory in factories]
    yield from offers
    yield b", ".join(offers)
    yield b"\n".join(offers)
    for factory in factories:
        accepted = PerMessageDeflateFactory(client_max_window_bits=9).accept_offer(factory.offer())
        assert accepted is not None
        yield format_extension_list([("permessage-deflate", accepted[0])])
    yield b'permessage-deflate; client_max_window_bits="10"; server_no_context_takeover'
    yield b'foo; bar="baz\\"qux"; x, permessage-deflate ;a = 1 , ,'
    yield b"chat, superchat, v2.chat/1"
    yield b"websocket, h2c/2, TLS/1.0"
    yield b"keep-alive, Upgrade"


SEEDS: dict[str, Callable[[], Iterator[bytes]]] = {
    "frames_server": lambda: frame_seeds(Role.SERVER, deflate=False),
    "frames_client": lambda: frame_seeds(Role.CLIENT, deflate=False),
    "frames_deflate_server": lambda: frame_seeds(Role.SERVER, deflate=True),
    "frames_deflate_client": lambda: frame_seeds(Role.CLIENT, deflate=True),
    "handshake_server": handshake_seeds,
    "extension_header": extension_header_seeds,
}


def seeds(target: str) -> list[bytes]:
    """The seed inputs of *target*, without duplicates, in a stable order."""
    unique: dict[bytes, None] = {}
    for data in SEEDS[target]():
        unique.setdefault(data)
    return list(unique)


def write(directory: Path, target: str) -> int:
    """Write *target*'s seeds into *directory* (named by content); how many."""
    directory.mkdir(parents=True, exist_ok=True)
    inputs = seeds(target)
    for data in inputs:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
    return len(inputs)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python fuzz/seeds.py DIR", file=sys.stderr)
        return 2
    for target in SEEDS:
        count = write(Path(argv[0]) / target, target)
        print(f"{target}: {count} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

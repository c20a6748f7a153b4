"""``demo``: an echo server and a client in one process, every frame narrated.

Rules of this module:
- Built from the real parts (``EchoServer``, ``connect()``, ``EventPump``), each
  narrating into the same output: what it shows is what the other commands do.
- Every step is bounded (``_STEP_TIMEOUT``); a failed step ends the demo with
  exit status 1, saying which step and why.
"""

from __future__ import annotations

import asyncio
from typing import TextIO

from .. import BinaryMessage, Close, Event, Ping, Pong, RemoteProtocolError, TextMessage, __version__
from ._client import ClientError, connect
from ._pump import DEFAULT_MAX_SIZE, DEFAULT_TIMING, EventPump
from ._server import DEFAULT_HOST, EchoServer
from ._show import Trace, describe, one_line

__all__ = ["run_demo"]

_GREETING = "Hello, WebSocket!"
#: Each step: its title, what the client sends, what it must get back.
_DEMO_STEPS: list[tuple[str, list[Event], list[Event]]] = [
    ("a text message, compressed", [TextMessage(_GREETING)], [TextMessage(_GREETING)]),
    ("a binary message", [BinaryMessage(bytes(range(32)))], [BinaryMessage(bytes(range(32)))]),
    (
        "a text message in three fragments, echoed whole",
        [TextMessage("frag", final=False), TextMessage("mented ", final=False), TextMessage("message")],
        [TextMessage("fragmented message")],
    ),
    ("ping and pong", [Ping(b"are you there?")], [Pong(b"are you there?")]),
    ("the close handshake", [Close(1000, "done")], [Close(1000)]),
]
_STEP_TIMEOUT = 5.0


class DemoFailed(Exception):
    """A step of the demo did not go as expected."""


async def run_demo(out: TextIO) -> int:
    """The ``demo`` command: a narrated conversation with an echo server; 0 if every step succeeded."""

    def show(line: str) -> None:
        print(line, file=out)

    server = EchoServer(trace=show)
    url = await server.start(DEFAULT_HOST, 0)
    show(f"noio_ws {__version__} demo: an echo server on {url} and a client, in one process.")
    show("Client frames are masked (RFC 6455 section 5.3), the server's are not;")
    show("RSV1 on a message's first frame means it is compressed (RFC 7692).")
    steps = 1 + len(_DEMO_STEPS)
    done = 0
    client: EventPump | None = None
    try:
        show(f"\n[1/{steps}] opening handshake, offering permessage-deflate")
        client = await asyncio.wait_for(_open(url, show), _STEP_TIMEOUT)
        show("  ok")
        done += 1
        for number, (title, sent, expected) in enumerate(_DEMO_STEPS, start=2):
            show(f"\n[{number}/{steps}] {title}")
            for event in sent:
                await client.send(event)
            received = await asyncio.wait_for(_receive(client, len(expected)), _STEP_TIMEOUT)
            if received != expected:
                raise DemoFailed(
                    f"expected {[describe(e) for e in expected]}, got {[describe(e) for e in received]}"
                )
            show("  ok")
            done += 1
        if await asyncio.wait_for(client.wait_closed(), _STEP_TIMEOUT):
            raise DemoFailed("bytes after the close handshake")
        show("  the server closed the TCP connection: both sides are CLOSED")
    except (DemoFailed, ClientError, RemoteProtocolError, OSError, asyncio.TimeoutError) as exc:
        show(f"  FAILED: {one_line(exc) or type(exc).__name__}")
        show(f"\ndemo failed: {done} of {steps} steps succeeded")
        return 1
    finally:
        if client is not None:
            client.abort()
        await server.aclose()
    show(f"\nall {steps} steps succeeded")
    return 0


async def _open(url: str, show: Trace) -> EventPump:
    """The opening handshake, narrated; the client's pump."""
    reader, writer, accepted = await connect(
        url, deflate=True, subprotocols=(), max_size=DEFAULT_MAX_SIZE, trace=show
    )
    show(f"  client got   101 Switching Protocols; extensions in use: {list(accepted.extensions)}")
    pump = EventPump(reader, writer, accepted.connection, side="client", timing=DEFAULT_TIMING, trace=show)
    if [extension.name for extension in accepted.extensions] != ["permessage-deflate"]:
        pump.abort()
        raise DemoFailed("permessage-deflate was not agreed")
    return pump


async def _receive(pump: EventPump, count: int) -> list[Event]:
    """The next *count* events (fewer if the connection closes first)."""
    received: list[Event] = []
    while len(received) < count and (event := await pump.receive()) is not None:
        received.append(event)
    return received

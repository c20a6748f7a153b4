"""The command line: ``python -m noio_ws demo | echo-server | client`` (see CLI.md).

Rules of this package:
- asyncio, the standard library and noio_ws's public API only: no private
  imports, no new dependency. It is the worked example of embedding noio_ws in
  an event loop.
- One module per concern: ``_pump`` (the one event pump of every command),
  ``_server``, ``_client`` and ``_demo`` (a command each), ``_show`` (how events
  and frames are shown); this one parses the arguments and runs the command.
- Output: stdout carries only what the command is for; problems are one line on
  stderr, prefixed with the command's name.
- Exit codes: 0 success; 1 failure after a good start (a demo step failed, the
  connection ended abnormally); 2 usage errors, a server that cannot listen,
  and a client whose connection or handshake failed; 130 on Ctrl-C in the client.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ._client import run_client
from ._demo import run_demo
from ._pump import CLOSE_TIMEOUT, DEFAULT_MAX_SIZE, PING_INTERVAL, PING_TIMEOUT, Timing
from ._server import DEFAULT_HOST, DEFAULT_PORT, HANDSHAKE_TIMEOUT, EchoServer, run_echo_server

__all__ = ["EchoServer", "Timing", "main", "run_client", "run_demo", "run_echo_server"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status."""
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:  # the client's Ctrl-C; the server handles SIGINT itself
        return 130
    except BrokenPipeError:
        # Whoever read our stdout stopped (``| head``). Point stdout at devnull so
        # that the interpreter's final flush does not fail as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


async def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return await run_demo(sys.stdout)
    timing = Timing(args.ping_interval, args.ping_timeout, args.close_timeout)
    if args.command == "echo-server":
        return await run_echo_server(
            args.host,
            args.port,
            deflate=not args.no_deflate,
            max_size=args.max_size,
            timing=timing,
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    return await run_client(
        args.url,
        deflate=not args.no_deflate,
        subprotocols=args.subprotocol,
        timing=timing,
        stdout=sys.stdout.buffer,
        stderr=sys.stderr,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m noio_ws",
        description="noio_ws command line: a narrated demo, an echo server and a line-based client.",
    )
    parser.add_argument("--version", action="version", version=f"noio_ws {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "demo",
        help="run an echo server and a client in one process and show every frame",
        description=(
            "Start an echo server on a free loopback port, connect a client and walk through "
            "the handshake (with permessage-deflate), a text, a binary and a fragmented message, "
            "ping/pong and the close handshake, showing the frames on the wire and the events "
            "each side receives. Exits 0 if every step succeeded, 1 otherwise."
        ),
    )

    server = commands.add_parser(
        "echo-server",
        help="serve ws://HOST:PORT/ and echo every message",
        description=(
            "Serve WebSocket connections on ws://HOST:PORT/ (any path) and echo every message. "
            'Prints "listening on ws://HOST:PORT/" once listening. Runs until SIGINT or SIGTERM, '
            f"then closes every connection with 1001 and exits 0. Opening handshakes must arrive "
            f"within {HANDSHAKE_TIMEOUT:g} s."
        ),
    )
    server.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    server.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port, 0 for a free one (default: %(default)s)"
    )
    server.add_argument("--no-deflate", action="store_true", help="do not negotiate permessage-deflate")
    server.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_SIZE,
        metavar="BYTES",
        help="largest message accepted; larger ones close the connection with 1009 (default: %(default)s)",
    )
    _add_timers(server)

    client = commands.add_parser(
        "client",
        help="send stdin lines to a WebSocket server and print what it sends",
        description=(
            "Connect to URL (ws:// or wss://), send each line of stdin as a text message and "
            'print each message received: text as one line, binary as "<binary N bytes>". '
            "At the end of stdin, close with 1000 and wait (at most --close-timeout) for the "
            "close handshake. Exits 0 after a normal close, 1 if the connection ended abnormally, "
            "2 if the connection or the handshake failed."
        ),
    )
    client.add_argument("url", metavar="URL", help="ws://host[:port]/path or wss://...")
    client.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    client.add_argument(
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="offer this subprotocol (repeat for several, most preferred first)",
    )
    _add_timers(client)
    return parser


def _add_timers(parser: argparse.ArgumentParser) -> None:
    def add(flag: str, default: float, what: str) -> None:
        parser.add_argument(
            flag,
            type=_seconds,
            default=default,
            metavar="SECONDS",
            help=f"{what} (default: %(default)g; 0 or none: off)",
        )

    add("--ping-interval", PING_INTERVAL, "send a Ping after this long without hearing from the peer")
    add("--ping-timeout", PING_TIMEOUT, "close with 1011 if that Ping's Pong is this late")
    add("--close-timeout", CLOSE_TIMEOUT, "drop the connection this long after our Close if it has not ended")


def _size(text: str) -> int:
    """argparse type for --max-size: a whole number of bytes, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of bytes: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float | None:
    """argparse type for the timers: seconds; 0, a negative number or "none" turns it off."""
    if text.strip().lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value if 0 < value < math.inf else None


def _port(text: str) -> int:
    """argparse type for --port: 0 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, not {value}")
    return value

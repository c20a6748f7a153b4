"""An echo server on the asyncio adapter.

Run ``python examples/asyncio_server.py [--host 127.0.0.1] [--port 8765]``
(``--port 0`` picks a free port); it prints ``listening on ws://HOST:PORT/``.
Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from asyncio_adapter import WebSocket, serve


async def echo(ws: WebSocket) -> None:
    # One task per connection: receive a message, send it back, until the client closes.
    async for message in ws:
        await ws.send(message)


async def main(host: str, port: int) -> None:
    server = await serve(echo, host, port)
    address = server.sockets[0].getsockname()
    print(f"listening on ws://{address[0]}:{address[1]}/", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port))

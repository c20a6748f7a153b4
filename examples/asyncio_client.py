"""Send messages with the asyncio adapter and print the replies.

Run ``python examples/asyncio_client.py ws://127.0.0.1:8765/ hello world``:
each argument after the URL is sent as a text message, and each reply is
printed on its own line (binary replies as ``<binary N bytes>``).
"""

from __future__ import annotations

import argparse
import asyncio

from asyncio_adapter import connect


async def main(url: str, messages: list[str]) -> None:
    ws = await connect(url)
    print(f"connected; extensions in use: {ws.extensions or 'none'}")
    try:
        for message in messages:
            await ws.send(message)
            reply = await ws.recv()
            print(reply if isinstance(reply, str) else f"<binary {len(reply)} bytes>")
    finally:
        # The close handshake: send Close(1000), wait for the server's answer.
        await ws.close()
    print(f"closed with code {ws.close_code}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.messages))

"""The ASGI echo application that ``uvicorn_echo.py`` serves under each backend.

Rules of this module:

- It is the whole server-side application of the benchmark, identical for every
  WebSocket backend, so that the only difference between the server processes is
  the backend: accept, then send every message back as it came, text as text and
  bytes as bytes, until the client leaves.
- It imports nothing: the server process loads uvicorn, its backend and this file,
  and nothing of the benchmark's own machinery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo every WebSocket message; answer any plain HTTP request with a 404."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["type"] != "websocket":  # lifespan: the benchmark runs uvicorn with --lifespan off
        raise RuntimeError(f"unexpected scope type {scope['type']!r}")
    connect = await receive()
    if connect["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return  # websocket.disconnect
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})

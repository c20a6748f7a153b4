"""The ASGI side of a WebSocket connection: the scope, and the app's inbox.

Rules of this module:

- ``websocket_scope`` builds the ASGI ``websocket`` scope (ASGI spec 2.4) from a
  verified ``HandshakeRequest``; paths are percent-decoded, ``raw_path`` is not.
- ``Inbox`` holds the ``websocket.*`` messages the app has not received yet. It
  knows whether the app is waiting in ``receive()``, so the transport can stop
  reading while messages pile up for a busy app (``backlog``), and it remembers
  the disconnect, which it gives again to an app that asks after the end.
- No I/O here: what to do about a backlog is the protocol's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from uvicorn.config import Config
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl

from ..handshake import HandshakeRequest

__all__ = ["Inbox", "Message", "websocket_scope"]

Message = dict[str, Any]


def websocket_scope(
    request: HandshakeRequest, config: Config, transport: asyncio.Transport, **fields: Any
) -> Message:
    """The ASGI scope of *request*, received on *transport*; *fields* adds more (``state``)."""
    raw_path, _, query = request.target.partition("?")
    root_path = config.root_path
    return {
        "type": "websocket",
        "asgi": {"version": config.asgi_version, "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "wss" if is_ssl(transport) else "ws",
        "server": get_local_addr(transport),
        "client": get_remote_addr(transport),
        "root_path": root_path,
        "path": root_path + unquote(raw_path),
        "raw_path": root_path.encode("ascii") + raw_path.encode("ascii"),
        "query_string": query.encode("ascii"),
        "headers": request.headers,
        "subprotocols": request.subprotocols,
        "extensions": {"websocket.http.response": {}},
        **fields,
    }


class Inbox:
    """Messages for the app, in order; ``on_drained`` runs when the app has taken them all."""

    def __init__(self, on_drained: Callable[[], None]) -> None:
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._on_drained = on_drained
        self._waiting = False  # the app is blocked in receive()
        self.disconnect: Message | None = None  # the last disconnect given

    @property
    def backlog(self) -> int:
        """Messages that no waiting ``receive()`` will take at once."""
        return self._queue.qsize() - self._waiting

    def put(self, message: Message) -> None:
        self._queue.put_nowait(message)

    def put_disconnect(self, code: int, reason: str | None = None) -> None:
        message: Message = {"type": "websocket.disconnect", "code": int(code)}
        if reason is not None:
            message["reason"] = reason
        self.disconnect = message
        self.put(message)

    async def receive(self) -> Message:
        """The next message; once the disconnect was given, the disconnect again."""
        if self.disconnect is not None and self._queue.empty():
            return self.disconnect  # nothing can follow it
        self._waiting = True
        try:
            message = await self._queue.get()
        finally:
            self._waiting = False
        if self._queue.empty():
            self._on_drained()
        return message

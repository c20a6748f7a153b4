"""The HTTP answer to the upgrade request, as the ASGI application gives it.

Rules of this module:

- One answer per request, built by ``ServerHandshake`` (which also knows when a
  response has no body, e.g. to HEAD): the 101 of ``websocket.accept``, a 403
  for ``websocket.close`` before accept, a 500 when the app fails first, or the
  app's own denial (``websocket.http.response.start`` and ``.body``).
- A denial is written as soon as HTTP/1.1 allows: the head waits only until its
  framing is known. A Content-Length of the app's sends it at once; otherwise
  the first body message decides (given whole, it gets a Content-Length; in
  pieces, the body is chunked, RFC 9112 section 7.1). Each piece goes out as it
  arrives.
- uvicorn's default headers (Server, Date) go on every answer. No I/O here.
"""

from __future__ import annotations

from typing import Any

from .. import Connection
from ..handshake import ServerHandshake

__all__ = ["RequestAnswer"]

Headers = list[tuple[bytes, bytes]]


class RequestAnswer:
    """Bytes of the answer to one upgrade request."""

    def __init__(self, handshake: ServerHandshake, default_headers: Headers) -> None:
        self._handshake = handshake
        self._default_headers = default_headers
        self._denial: tuple[int, Headers] | None = None  # a denial's head, until it is sent
        #: A denial has started and its body has not ended.
        self.denying = False

    def accept(self, message: dict[str, Any]) -> tuple[bytes, Connection]:
        headers = [*self._default_headers, *message.get("headers", [])]
        return self._handshake.accept(subprotocol=message.get("subprotocol"), extra_headers=headers)

    def forbid(self) -> bytes:
        return self._handshake.reject(403, self._default_headers)

    def fail(self) -> bytes:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        return self._handshake.reject(500, [*self._default_headers, *headers], b"Internal Server Error")

    def start_denial(self, status: int, headers: Headers) -> bytes:
        """The app's ``websocket.http.response.start``: the head, if its framing is known."""
        if not 100 <= status < 600:
            raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
        self._denial = (status, [*self._default_headers, *headers])
        self.denying = True
        if any(name.lower() == b"content-length" for name, _ in headers):
            return self._head()
        return b""

    def denial_body(self, data: bytes, *, more: bool) -> bytes:
        """One ``websocket.http.response.body``; the denial ends unless *more*."""
        head = b""
        if self._denial is not None:
            head = self._head(*([] if more else [(b"content-length", b"%d" % len(data))]))
        self.denying = more
        return head + self._handshake.reject_body(data, more=more)

    def finish_denial(self) -> bytes:
        """The app returned mid-denial: end a response whose head still waits (empty body)."""
        if self._denial is None or not self.denying:
            return b""
        return self.denial_body(b"", more=False)

    def _head(self, *extra: tuple[bytes, bytes]) -> bytes:
        assert self._denial is not None
        status, headers = self._denial
        self._denial = None
        return self._handshake.reject_head(status, [*headers, *extra])

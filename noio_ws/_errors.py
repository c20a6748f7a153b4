"""The three ways things go wrong, each carrying what to answer with.

- ``LocalProtocolError``: the caller asked for something illegal. Nothing changed.
- ``RemoteProtocolError``: the peer broke RFC 6455; ``close_code`` is the code to
  close with (1002, 1007, 1009, ...).
- ``HandshakeError``: the HTTP upgrade failed; ``status_code`` and ``headers`` are
  the HTTP response to answer with.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["HandshakeError", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base class of every error noio_ws raises on purpose."""


class LocalProtocolError(ProtocolError):
    """The caller tried something RFC 6455 forbids; the connection is unchanged."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol.

    Answer with ``send(Close(err.close_code))`` and close the transport.
    """

    def __init__(self, message: str, close_code: int = 1002) -> None:
        super().__init__(message)
        self.close_code = close_code


class HandshakeError(ProtocolError):
    """The opening handshake failed.

    A server answers with ``status_code`` and ``headers``; a client gives up.
    """

    def __init__(
        self,
        message: str,
        status_code: int = 400,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = list(headers)

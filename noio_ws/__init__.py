"""noio_ws: a sans-io implementation of the WebSocket protocol (RFC 6455).

A ``Connection`` turns received bytes into events and events to send into bytes;
it never touches a socket. The HTTP/1.1 opening handshake lives apart, in
``noio_ws.handshake`` (an add-on for h11).
"""

from ._codes import CloseCode, Opcode, Role
from ._connection import Connection
from ._deadlines import Deadlines, Expired
from ._errors import HandshakeError, LocalProtocolError, ProtocolError, RemoteProtocolError
from ._events import (
    BinaryMessage,
    Close,
    EncodedTextMessage,
    Event,
    ExtensionMessage,
    Message,
    Ping,
    Pong,
    Signal,
    TextMessage,
)
from ._state import State
from ._version import __version__

__all__ = [
    "BinaryMessage",
    "Close",
    "CloseCode",
    "Connection",
    "Deadlines",
    "EncodedTextMessage",
    "Event",
    "Expired",
    "ExtensionMessage",
    "HandshakeError",
    "LocalProtocolError",
    "Message",
    "Opcode",
    "Ping",
    "Pong",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "Signal",
    "State",
    "TextMessage",
    "__version__",
]

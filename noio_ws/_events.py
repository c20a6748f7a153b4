"""Events: what ``Connection.next_event()`` returns and what ``Connection.send()`` takes.

Rules of this module:
- Events are plain frozen data that compare by value. They do not validate:
  ``send()`` checks what it is asked to send, the parser checks what it receives.
- The same classes are used in both directions.
- The library never answers for you. Where RFC 6455 demands a reply, the event
  has a ``response()`` that builds it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._codes import CloseCode

__all__ = [
    "BinaryMessage",
    "Close",
    "EncodedTextMessage",
    "Event",
    "ExtensionMessage",
    "Message",
    "Ping",
    "Pong",
    "Signal",
    "TextMessage",
]

_T = TypeVar("_T", str, bytes)
_M = TypeVar("_M", bound="Message[Any]")


class Signal(enum.Enum):
    """What ``next_event()`` returns when it has no event to give."""

    #: Nothing more can be parsed until ``receive_data()`` brings more bytes.
    NEED_DATA = "need-data"
    #: The peer will send nothing more: its Close (or EOF) has been returned.
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every event."""


@dataclass(frozen=True, slots=True)
class Message(Event, Generic[_T]):
    """A data message, or a piece of one.

    ``final`` is False on every piece but the last: when sending, ``final=False``
    sends a fragment and the next message events of the same type continue it;
    when receiving with ``stream_messages=True``, pieces arrive as the bytes do.
    """

    data: _T
    final: bool = True


def _quick_init(data_type: str) -> Callable[[type[_M]], type[_M]]:
    """Give a message class an ``__init__`` that sets its two slots directly.

    The frozen dataclass ``__init__`` pays an ``object.__setattr__`` call per
    field; applications build these events for every message they send. The
    descriptors are the class's own: on 3.10, ``dataclass(slots=True)`` repeats
    the inherited slots in every subclass.
    """

    def decorate(cls: type[_M]) -> type[_M]:
        set_data = getattr(cls, "data").__set__  # noqa: B009
        set_final = getattr(cls, "final").__set__  # noqa: B009

        def __init__(self: Message[Any], data: Any, final: bool = True) -> None:
            set_data(self, data)
            set_final(self, final)

        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        __init__.__annotations__ = {"data": data_type, "final": "bool", "return": "None"}
        cls.__init__ = __init__  # type: ignore[method-assign]
        return cls

    return decorate


@_quick_init("str")
@dataclass(frozen=True, slots=True)
class TextMessage(Message[str]):
    """A text message (opcode 0x1). Its bytes on the wire are UTF-8."""


@_quick_init("bytes")
@dataclass(frozen=True, slots=True)
class BinaryMessage(Message[bytes]):
    """A binary message (opcode 0x2)."""


@dataclass(frozen=True, slots=True)
class EncodedTextMessage(Message[bytes]):
    """A text message (opcode 0x1) as its UTF-8 bytes: no ``str`` is made.

    A connection made with ``text_as_bytes=True`` returns these instead of
    ``TextMessage``; ``send()`` takes them on any connection, to send bytes that
    are already UTF-8 (a JSON encoder's output, say) as text.

    ``validated`` says the bytes are known to be UTF-8, and takes no part in
    comparisons. A strict connection sets it on what it receives. On what you send,
    the default (False) has ``send()`` check the bytes; True means you vouch for
    them and nothing is checked: invalid bytes would then make the peer fail the
    connection (1007).
    """

    validated: bool = field(default=False, compare=False)


# The same direct __init__ as the other message events, with the third slot.
_set_encoded_data = getattr(EncodedTextMessage, "data").__set__  # noqa: B009
_set_encoded_final = getattr(EncodedTextMessage, "final").__set__  # noqa: B009
_set_encoded_validated = getattr(EncodedTextMessage, "validated").__set__  # noqa: B009


def _encoded_init(self: EncodedTextMessage, data: bytes, final: bool = True, validated: bool = False) -> None:
    _set_encoded_data(self, data)
    _set_encoded_final(self, final)
    _set_encoded_validated(self, validated)


_encoded_init.__qualname__ = "EncodedTextMessage.__init__"
EncodedTextMessage.__init__ = _encoded_init  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class ExtensionMessage(Event):
    """A message with a custom opcode that an extension of this connection claimed.

    Data opcodes (0x3-0x7) fragment like binary messages; control opcodes
    (0xB-0xF) follow the control-frame rules: at most 125 bytes, never fragmented.
    """

    opcode: int
    data: bytes
    final: bool = True


@dataclass(frozen=True, slots=True)
class Ping(Event):
    """A Ping. On receipt, RFC 6455 section 5.5.2 says you **must** answer with
    ``send(event.response())`` as soon as is practical."""

    payload: bytes = b""

    def response(self) -> Pong:
        """The Pong that answers this Ping: the same payload (section 5.5.3)."""
        return Pong(self.payload)


@dataclass(frozen=True, slots=True)
class Pong(Event):
    """A Pong: the answer to a Ping, or an unsolicited heartbeat."""

    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Close(Event):
    """A Close frame, or the end of the connection.

    ``code`` 1005 (``CloseCode.NO_STATUS_RCVD``) stands for a Close frame with an
    empty payload, and 1006 (``ABNORMAL_CLOSURE``) for a transport that closed
    before the close handshake. On receipt of the peer's Close, RFC 6455 section
    5.5.1 says you **must** answer with ``send(event.response())`` unless you have
    already sent your own Close.
    """

    code: int = CloseCode.NORMAL_CLOSURE
    reason: str = ""

    def response(self) -> Close:
        """The Close that answers this one: the same code, no reason.

        A Close without a status code is answered by one without a status code.
        """
        return Close(self.code)

"""The connection's state machine, as a table.

Rules of this module:
- Every legal ``(state, input)`` pair is in ``TRANSITIONS``; absence means illegal.
- It knows nothing of bytes, roles or error classes: the connection asks
  ``next_state()`` and decides what an illegal pair means (a ``LocalProtocolError``
  when sending; receiving never asks for an illegal pair, see below).
- Receiving stops at the peer's Close: once it is returned, nothing more is parsed,
  so there are no ``RECV_*`` entries for REMOTE_CLOSING, CLOSED and FAILED.
- Only closing moves the state. Messages, Pings, Pongs and custom control frames
  leave it where it is, wherever they are legal (checked at import, below), so the
  connection checks them against the table and writes the state only for the
  inputs in ``MOVING``.

The states:

- OPEN: both sides may send.
- LOCAL_CLOSING: we sent Close and wait for theirs. We may send nothing more
  (RFC 6455 section 5.5.1); the peer's data is still delivered.
- REMOTE_CLOSING: they sent Close and we owe ours. We may finish what we were
  sending (section 5.5.1 allows delaying the Close until the message is sent).
- CLOSED: the close handshake is complete, or the transport ended.
- FAILED: the peer broke the protocol. The only thing left to do is to send a
  Close with the error's code, which closes the connection.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

__all__ = ["MAY_SEND_MESSAGE", "MOVING", "RECEIVING", "TRANSITIONS", "Input", "State", "next_state"]


class State(enum.Enum):
    """Where a connection stands in the close handshake."""

    # Members are singletons: hash by identity, in C, not by name in Python,
    # since the table is consulted for every event.
    __hash__ = object.__hash__

    OPEN = "open"
    LOCAL_CLOSING = "local-closing"
    REMOTE_CLOSING = "remote-closing"
    CLOSED = "closed"
    FAILED = "failed"


class Input(enum.Enum):
    """What can happen to a connection: we send, or the peer sends."""

    __hash__ = object.__hash__  # see State

    SEND_MESSAGE = "send-message"  # data frames, including custom data opcodes
    SEND_PING = "send-ping"
    SEND_PONG = "send-pong"
    SEND_CONTROL = "send-control"  # a custom control opcode
    SEND_CLOSE = "send-close"
    RECV_MESSAGE = "recv-message"
    RECV_PING = "recv-ping"
    RECV_PONG = "recv-pong"
    RECV_CONTROL = "recv-control"
    RECV_CLOSE = "recv-close"
    RECV_EOF = "recv-eof"  # the transport ended
    RECV_ERROR = "recv-error"  # the peer broke the protocol


_S = State
_I = Input

TRANSITIONS: Final[Mapping[tuple[State, Input], State]] = {
    # Both sides talking.
    (_S.OPEN, _I.SEND_MESSAGE): _S.OPEN,
    (_S.OPEN, _I.SEND_PING): _S.OPEN,
    (_S.OPEN, _I.SEND_PONG): _S.OPEN,
    (_S.OPEN, _I.SEND_CONTROL): _S.OPEN,
    (_S.OPEN, _I.SEND_CLOSE): _S.LOCAL_CLOSING,
    (_S.OPEN, _I.RECV_MESSAGE): _S.OPEN,
    (_S.OPEN, _I.RECV_PING): _S.OPEN,
    (_S.OPEN, _I.RECV_PONG): _S.OPEN,
    (_S.OPEN, _I.RECV_CONTROL): _S.OPEN,
    (_S.OPEN, _I.RECV_CLOSE): _S.REMOTE_CLOSING,
    (_S.OPEN, _I.RECV_EOF): _S.CLOSED,
    (_S.OPEN, _I.RECV_ERROR): _S.FAILED,
    # We sent Close: we send nothing more, they may still be talking (5.5.1).
    (_S.LOCAL_CLOSING, _I.RECV_MESSAGE): _S.LOCAL_CLOSING,
    (_S.LOCAL_CLOSING, _I.RECV_PING): _S.LOCAL_CLOSING,
    (_S.LOCAL_CLOSING, _I.RECV_PONG): _S.LOCAL_CLOSING,
    (_S.LOCAL_CLOSING, _I.RECV_CONTROL): _S.LOCAL_CLOSING,
    (_S.LOCAL_CLOSING, _I.RECV_CLOSE): _S.CLOSED,
    (_S.LOCAL_CLOSING, _I.RECV_EOF): _S.CLOSED,
    # Our Close is already out, so there is nothing left to send: it is over.
    (_S.LOCAL_CLOSING, _I.RECV_ERROR): _S.CLOSED,
    # They sent Close: we may finish our message, then we owe our Close.
    (_S.REMOTE_CLOSING, _I.SEND_MESSAGE): _S.REMOTE_CLOSING,
    (_S.REMOTE_CLOSING, _I.SEND_PING): _S.REMOTE_CLOSING,
    (_S.REMOTE_CLOSING, _I.SEND_PONG): _S.REMOTE_CLOSING,
    (_S.REMOTE_CLOSING, _I.SEND_CONTROL): _S.REMOTE_CLOSING,
    (_S.REMOTE_CLOSING, _I.SEND_CLOSE): _S.CLOSED,
    # A transport that ends after their Close changes nothing: we still owe ours.
    (_S.REMOTE_CLOSING, _I.RECV_EOF): _S.REMOTE_CLOSING,
    (_S.CLOSED, _I.RECV_EOF): _S.CLOSED,
    # The peer broke the protocol: only our Close, carrying the error's code.
    (_S.FAILED, _I.SEND_CLOSE): _S.CLOSED,
    (_S.FAILED, _I.RECV_EOF): _S.FAILED,
}


def next_state(state: State, event: Input) -> State | None:
    """The state after *event* happens in *state*, or None if that is illegal."""
    return TRANSITIONS.get((state, event))


#: The inputs that can change the state; every other input leaves it as it is.
MOVING: Final = frozenset({Input.SEND_CLOSE, Input.RECV_CLOSE, Input.RECV_EOF, Input.RECV_ERROR})
assert all(after is before for (before, event), after in TRANSITIONS.items() if event not in MOVING)
#: The states in which frames are parsed: the peer has not closed.
RECEIVING: Final = frozenset(before for before, event in TRANSITIONS if event is Input.RECV_MESSAGE)
#: The states in which a data message may be sent.
MAY_SEND_MESSAGE: Final = frozenset(before for before, event in TRANSITIONS if event is Input.SEND_MESSAGE)

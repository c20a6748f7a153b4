"""The transition table, checked for every (state, input) pair through a real Connection."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import MappingProxyType

import pytest

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    ExtensionMessage,
    LocalProtocolError,
    Ping,
    Pong,
    RemoteProtocolError,
    Role,
    Signal,
    State,
    TextMessage,
)
from noio_ws._state import MAY_SEND_MESSAGE, MOVING, RECEIVING, TRANSITIONS, Input, next_state
from noio_ws.extensions import Frame, OpcodeKind
from noio_ws.testing import FIXED_MASK, hostile, raw_frame

M = FIXED_MASK


class CustomControl:
    """An extension that owns control opcode 0xB and nothing else."""

    name = "x-custom-control"
    rsv_mask = 0
    opcodes: Mapping[int, OpcodeKind] = MappingProxyType({0xB: OpcodeKind.CONTROL})

    def bind(self, role: Role) -> None:
        pass

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        return frame

    def encode(self, frame: Frame) -> Frame:
        return frame


def connection_in(state: State) -> Connection:
    """A server connection driven into *state* through its public API."""
    conn = Connection(Role.SERVER, extensions=[CustomControl()])
    if state is State.LOCAL_CLOSING:
        conn.send(Close())
    elif state is State.REMOTE_CLOSING:
        conn.receive_data(raw_frame(0x88, b"", mask=M))
        assert isinstance(conn.next_event(), Close)
    elif state is State.CLOSED:
        conn.send(Close())
        conn.receive_data(raw_frame(0x88, b"", mask=M))
        assert isinstance(conn.next_event(), Close)
    elif state is State.FAILED:
        conn.receive_data(hostile.reserved_opcode(to=Role.SERVER).wire)
        with pytest.raises(RemoteProtocolError):
            conn.next_event()
    assert conn.state is state
    return conn


SENDS: dict[Input, Event] = {
    Input.SEND_MESSAGE: TextMessage("x"),
    Input.SEND_PING: Ping(),
    Input.SEND_PONG: Pong(),
    Input.SEND_CONTROL: ExtensionMessage(0xB, b""),
    Input.SEND_CLOSE: Close(),
}
RECEIVES: dict[Input, bytes] = {
    Input.RECV_MESSAGE: raw_frame(0x82, b"x", mask=M),
    Input.RECV_PING: raw_frame(0x89, b"", mask=M),
    Input.RECV_PONG: raw_frame(0x8A, b"", mask=M),
    Input.RECV_CONTROL: raw_frame(0x8B, b"", mask=M),
    Input.RECV_CLOSE: raw_frame(0x88, b"", mask=M),
    Input.RECV_EOF: b"",
    Input.RECV_ERROR: hostile.reserved_opcode(to=Role.SERVER).wire,
}
assert set(SENDS) | set(RECEIVES) == set(Input)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, Input)))
def test_every_state_and_input(state: State, event: Input) -> None:
    conn = connection_in(state)
    expected = next_state(state, event)
    if event in SENDS:
        if expected is None:
            with pytest.raises(LocalProtocolError):
                conn.send(SENDS[event])
            assert conn.state is state
        else:
            assert isinstance(conn.send(SENDS[event]), bytes)
            assert conn.state is expected
        return
    conn.receive_data(RECEIVES[event])
    if state in (State.OPEN, State.LOCAL_CLOSING):
        # Receiving is legal in these states, whatever arrives.
        assert expected is not None
        if event is Input.RECV_ERROR:
            with pytest.raises(RemoteProtocolError):
                conn.next_event()
        else:
            assert isinstance(conn.next_event(), Event)
        assert conn.state is expected
    elif state is State.FAILED:
        with pytest.raises(RemoteProtocolError):
            conn.next_event()
        assert conn.state is State.FAILED
    else:
        # Nothing is parsed after the peer's Close: the table has no RECV entries
        # here (EOF aside, which changes nothing).
        assert conn.next_event() is Signal.CLOSED
        assert conn.state is state
        assert expected in (None, state)


def test_table_shape() -> None:
    assert all(isinstance(s, State) and isinstance(i, Input) for s, i in TRANSITIONS)
    # Every state but CLOSED has a way out towards CLOSED.
    for state in State:
        seen, frontier = {state}, [state]
        while frontier:
            current = frontier.pop()
            for (s, _), t in TRANSITIONS.items():
                if s is current and t not in seen:
                    seen.add(t)
                    frontier.append(t)
        assert State.CLOSED in seen, state


def test_only_closing_inputs_move_the_state() -> None:
    # The connection writes the state only for these (Connection._move); the rest are checks.
    moving = {event for (before, event), after in TRANSITIONS.items() if after is not before}
    assert moving <= MOVING
    assert {Input.SEND_CLOSE, Input.RECV_CLOSE, Input.RECV_EOF, Input.RECV_ERROR} == MOVING
    assert {State.OPEN, State.LOCAL_CLOSING} == RECEIVING
    assert {State.OPEN, State.REMOTE_CLOSING} == MAY_SEND_MESSAGE


def test_binary_message_in_every_state_is_the_same_input() -> None:
    for state in (State.OPEN, State.REMOTE_CLOSING):
        conn = connection_in(state)
        conn.send(BinaryMessage(b"x"))
        assert conn.state is state

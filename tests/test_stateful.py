"""Two correct peers, any interleaving: a hypothesis state machine checks RFC 6455's promises.

A client and a server ``Connection`` talk through two in-memory pipes. Rules
send (text and binary, whole or in fragments, Ping, Pong, Close with valid
and invalid arguments), deliver any number of the bytes in flight in either
direction, and end either direction's transport (after delivering what is in
flight, or cutting it off). After every step:

- every message arrives identical and in order, pings and pongs too, and each
  event arrives exactly once;
- a Close is delivered once, then ``Signal.CLOSED`` for ever;
- both connections' states are what ``TRANSITIONS`` (``noio_ws._state``) says
  the inputs so far lead to, computed here from the events alone;
- a send the table forbids (anything after our Close, a second Close, data
  after the peer's Close was answered, ...) raises ``LocalProtocolError`` and
  changes nothing: no state change and no bytes, so the peer never notices;
- two correct peers never see a ``RemoteProtocolError``;
- an EOF gives ``Close(1006)`` exactly when the peer's Close had not arrived.

It runs without extensions and with permessage-deflate (several agreed
parameter sets), each side in whole-message or streaming delivery.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Event,
    LocalProtocolError,
    Ping,
    Pong,
    Role,
    Signal,
    State,
    TextMessage,
)
from noio_ws._codes import is_valid_close_code
from noio_ws._state import TRANSITIONS, Input
from noio_ws.extensions import PerMessageDeflate

DEFLATE_PARAMETERS: list[dict[str, Any]] = [
    {},
    {"server_no_context_takeover": True, "client_no_context_takeover": True},
    {"server_max_window_bits": 9, "client_max_window_bits": 8},
    {"client_no_context_takeover": True, "server_max_window_bits": 12},
]

SIDES = st.sampled_from(["client", "server"])
# Mostly small payloads; sometimes one that needs the 16-bit or the 64-bit length.
PAYLOADS = st.binary(max_size=200) | st.builds(
    lambda size, pattern: (pattern * size)[:size], st.integers(126, 70_000), st.binary(min_size=1, max_size=3)
)
TEXTS = st.text(max_size=100) | st.builds(lambda size: "é𝄞x" * size, st.integers(40, 20_000))
CONTROL_PAYLOADS = st.binary(max_size=130)  # over 125 is the caller's mistake
CLOSE_CODES = st.sampled_from([1000, 1001, 1003, 1011, 1014, 3000, 4999, 1005, 999, 1004, 1006, 1015, 5000])
CLOSE_REASONS = st.text(max_size=45)  # up to 180 bytes: over 123 is the caller's mistake


class Side:
    """One connection, what the model says of it, and what it sent that its peer has not seen."""

    def __init__(self, conn: Connection, stream: bool) -> None:
        self.conn = conn
        self.stream = stream
        self.state = State.OPEN  # the model's state, from the table
        # Sending: the kind and pieces of the fragmented message being sent.
        self.sending: type[TextMessage] | type[BinaryMessage] | None = None
        self.pieces: list[Any] = []
        self.in_flight = bytearray()  # sent, not delivered
        self.expected: deque[Event] = deque()  # what the peer must see, in order
        self.transport_ended = False  # our direction has ended: the peer got EOF
        # Receiving.
        self.got_close = False  # the peer's Close (or the EOF's Close(1006)) was returned
        self.streamed: list[Any] = []  # pieces of a streamed message being received

    def send(self, event: Event, input_: Input, *, valid: bool = True) -> bool:
        """Send *event*: it must succeed exactly when the table allows *input_* and it is *valid*."""
        after = TRANSITIONS.get((self.state, input_))
        if after is None or not valid:
            before = self.conn.state
            with pytest.raises(LocalProtocolError):
                self.conn.send(event)
            assert self.conn.state is before
            return False
        wire = self.conn.send(event)
        self.state = after
        if not self.transport_ended:
            self.in_flight += wire
        return True

    def expect(self, event: Event) -> None:
        """The peer must receive *event*, unless our transport has ended."""
        if not self.transport_ended:
            self.expected.append(event)


class Pair(RuleBasedStateMachine):
    """A client and a server talking; ``deflate`` says whether permessage-deflate is on."""

    deflate: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.sides: dict[str, Side] = {}

    @initialize(
        client_stream=st.booleans(),
        server_stream=st.booleans(),
        parameters=st.sampled_from(DEFLATE_PARAMETERS),
        mask=st.binary(min_size=4, max_size=4),
    )
    def connect(
        self, client_stream: bool, server_stream: bool, parameters: dict[str, Any], mask: bytes
    ) -> None:
        def extensions() -> list[PerMessageDeflate]:
            return [PerMessageDeflate(**parameters)] if self.deflate else []

        client = Connection(
            Role.CLIENT, extensions=extensions(), stream_messages=client_stream, mask_key_source=lambda: mask
        )
        server = Connection(Role.SERVER, extensions=extensions(), stream_messages=server_stream)
        self.sides = {"client": Side(client, client_stream), "server": Side(server, server_stream)}

    @staticmethod
    def other(name: str) -> str:
        return "server" if name == "client" else "client"

    # ------------------------------------------------------------ sending

    def send_data(self, name: str, event: TextMessage | BinaryMessage) -> None:
        side = self.sides[name]
        kind = type(event)
        # A new message inside a fragmented one of the other kind is the caller's mistake.
        if not side.send(event, Input.SEND_MESSAGE, valid=side.sending in (None, kind)):
            return
        side.pieces.append(event.data)
        side.sending = None if event.final else kind
        if event.final:
            if kind is TextMessage:
                side.expect(TextMessage("".join(side.pieces)))
            else:
                side.expect(BinaryMessage(b"".join(side.pieces)))
            side.pieces = []

    @rule(name=SIDES, data=TEXTS, final=st.booleans())
    def send_text(self, name: str, data: str, final: bool) -> None:
        self.send_data(name, TextMessage(data, final))

    @rule(name=SIDES, data=PAYLOADS, final=st.booleans())
    def send_binary(self, name: str, data: bytes, final: bool) -> None:
        self.send_data(name, BinaryMessage(data, final))

    @rule(name=SIDES, payload=CONTROL_PAYLOADS, pong=st.booleans())
    def send_ping_or_pong(self, name: str, payload: bytes, pong: bool) -> None:
        side = self.sides[name]
        event: Event = Pong(payload) if pong else Ping(payload)
        if side.send(event, Input.SEND_PONG if pong else Input.SEND_PING, valid=len(payload) <= 125):
            side.expect(event)

    @rule(name=SIDES, code=CLOSE_CODES, reason=CLOSE_REASONS)
    def send_close(self, name: str, code: int, reason: str) -> None:
        side = self.sides[name]
        # 1005 stands for "no status": it sends an empty payload, so no reason either.
        valid = not reason if code == 1005 else is_valid_close_code(code) and len(reason.encode()) <= 123
        if side.send(Close(code, reason), Input.SEND_CLOSE, valid=valid):
            side.expect(Close(code, reason))
            side.pieces = []  # a message cut short by Close is never delivered

    # ------------------------------------------------------------ delivering

    def receive(self, name: str) -> list[Event]:
        """Pull every event *name* can give now, checking each against what was sent."""
        receiver = self.sides[name]
        sender = self.sides[self.other(name)]
        events: list[Event] = []
        while True:
            event = receiver.conn.next_event()  # a RemoteProtocolError fails the test
            if event is Signal.NEED_DATA:
                assert not receiver.got_close
                return events
            if event is Signal.CLOSED:
                assert receiver.got_close
                return events
            assert not receiver.got_close, f"{event!r} after the Close"
            if isinstance(event, (TextMessage, BinaryMessage)) and receiver.stream:
                assert event.data or event.final, "an empty piece that is not the last"
                receiver.streamed.append(event.data)
                if not event.final:
                    continue
                if isinstance(event, TextMessage):
                    event = TextMessage("".join(receiver.streamed))
                else:
                    event = BinaryMessage(b"".join(receiver.streamed))
                receiver.streamed = []
            events.append(event)
            if isinstance(event, Close) and event.code == 1006:  # never sent: the EOF's
                assert sender.transport_ended, "Close(1006) without EOF"
                receiver.got_close = True
                receiver.state = TRANSITIONS[receiver.state, Input.RECV_EOF]
                continue
            assert sender.expected, f"unexpected {event!r}"
            assert event == sender.expected.popleft()
            if isinstance(event, Close):
                receiver.got_close = True
                receiver.state = TRANSITIONS[receiver.state, Input.RECV_CLOSE]
            elif isinstance(event, Ping):
                receiver.state = TRANSITIONS[receiver.state, Input.RECV_PING]
            elif isinstance(event, Pong):
                receiver.state = TRANSITIONS[receiver.state, Input.RECV_PONG]
            else:
                receiver.state = TRANSITIONS[receiver.state, Input.RECV_MESSAGE]

    def deliver_bytes(self, name: str, count: int) -> None:
        """Move *count* in-flight bytes from *name* to its peer, and pull the peer's events."""
        side = self.sides[name]
        chunk = bytes(side.in_flight[:count])
        del side.in_flight[:count]
        if chunk:
            self.sides[self.other(name)].conn.receive_data(chunk)
        self.receive(self.other(name))

    @rule(name=SIDES, count=st.integers(1, 100) | st.integers(1, 100_000))
    def deliver(self, name: str, count: int) -> None:
        self.deliver_bytes(name, count)

    @rule(name=SIDES, flush=st.booleans())
    def end_transport(self, name: str, flush: bool) -> None:
        """*name*'s direction ends: what is in flight arrives first (flush) or is lost."""
        side = self.sides[name]
        if side.transport_ended:
            return
        if flush:
            self.deliver_bytes(name, len(side.in_flight))
            assert not side.expected, f"never arrived: {list(side.expected)}"
        side.in_flight.clear()
        side.expected.clear()  # cut off in flight: none of it can arrive now
        side.transport_ended = True
        receiver = self.sides[self.other(name)]
        had_close, state_before = receiver.got_close, receiver.state
        receiver.conn.receive_data(b"")
        events = self.receive(self.other(name))
        if had_close:  # the close handshake had reached the receiver: EOF changes nothing
            assert events == []
            assert receiver.state is state_before
        else:  # it had not: abnormal closure, once
            assert len(events) == 1
            assert isinstance(events[0], Close)
            assert events[0].code == 1006
            assert receiver.state is State.CLOSED
        assert receiver.conn.next_event() is Signal.CLOSED
        with pytest.raises(LocalProtocolError):
            receiver.conn.receive_data(b"late")

    # ------------------------------------------------------------ invariants

    @invariant()
    def states_follow_the_table(self) -> None:
        for name, side in self.sides.items():
            assert side.conn.state is side.state, (name, side.conn.state, side.state)
            assert side.state is not State.FAILED

    def teardown(self) -> None:
        """Whatever is still in flight arrives, all of it, in order."""
        for name, side in self.sides.items():
            if not side.transport_ended:
                self.deliver_bytes(name, len(side.in_flight))
                assert not side.expected, f"never arrived: {list(side.expected)}"


class DeflatePair(Pair):
    deflate = True

    @rule(name=SIDES)
    def skip_compression(self, name: str) -> None:
        """The next message goes uncompressed (all its frames)."""
        extension = self.sides[name].conn.extensions[0]
        assert isinstance(extension, PerMessageDeflate)
        extension.skip_next_message()


SETTINGS = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestPlain = Pair.TestCase
TestPlain.settings = SETTINGS
TestDeflate = DeflatePair.TestCase
TestDeflate.settings = SETTINGS

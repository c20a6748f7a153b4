"""``Deadlines``: keepalive and close timing on a fake clock (a float the test advances).

Every Ping it sends goes to a real peer ``Connection``, whose answer comes back
through our ``Connection`` into ``event_received()``. No test sleeps. A
hypothesis state machine drives random sequences of calls on a monotonic clock
that, like an event loop's one timer, never passes ``deadline`` without calling
``expire()`` there, and checks that ``deadline`` never lies.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import noio_ws
from noio_ws import (
    BinaryMessage,
    Close,
    Connection,
    Deadlines,
    Event,
    Expired,
    Ping,
    Pong,
    RemoteProtocolError,
    Role,
    Signal,
    State,
    TextMessage,
)

from .helpers import FIXED_MASK, client, frame, server

PREFIX = b"noio_ws keepalive "


def pull(conn: Connection, wire: bytes, deadlines: Deadlines | None = None, now: float = 0.0) -> list[Event]:
    """Feed *wire* to *conn* and return its events, telling *deadlines* as an embedding would."""
    conn.receive_data(wire)
    if deadlines is not None:
        deadlines.data_received(now)
    events: list[Event] = []
    for _ in range(100):  # bounded: a few frames at most per test
        event = conn.next_event()
        if isinstance(event, Signal):
            return events
        if deadlines is not None:
            deadlines.event_received(event, now)
        events.append(event)
    raise AssertionError("more than 100 events")


def ping_bytes(result: bytes | Expired) -> bytes:
    assert isinstance(result, bytes), result
    assert result, "nothing was due"
    return result


def answer(peer: Connection, wire: bytes) -> bytes:
    """The peer reads our Ping and answers it, as the RFC says it must."""
    (ping,) = pull(peer, wire)
    assert isinstance(ping, Ping)
    return peer.send(ping.response())


# ------------------------------------------------------------------ keepalive


def test_exported() -> None:
    assert noio_ws.Deadlines is Deadlines
    assert {"Deadlines", "Expired"} <= set(noio_ws.__all__)


def test_no_keepalive_without_an_interval() -> None:
    deadlines = Deadlines(server(), now=0.0, ping_timeout=5.0, close_timeout=None)
    assert deadlines.deadline is None
    for now in (0.0, 10.0, 1e6):
        assert deadlines.expire(now) == b""
    assert not deadlines.ping_in_flight
    assert deadlines.latency is None


def test_a_ping_after_silence() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=100.0, ping_interval=10.0, ping_timeout=5.0)
    assert deadlines.deadline == 110.0
    assert deadlines.expire(109.5) == b""
    wire = ping_bytes(deadlines.expire(110.0))
    assert deadlines.ping_in_flight
    (event,) = pull(peer, wire)
    assert isinstance(event, Ping)
    assert event.payload == PREFIX + (1).to_bytes(8, "big")
    assert deadlines.deadline == 115.0  # now only the Pong's timeout is pending


def test_received_data_restarts_the_silence() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0)
    deadlines.data_received(4.0)
    assert deadlines.deadline == 14.0
    assert deadlines.expire(10.0) == b""
    pull(conn, peer.send(TextMessage("still here")), deadlines, now=13.0)
    assert deadlines.deadline == 23.0
    assert deadlines.expire(22.9) == b""
    assert ping_bytes(deadlines.expire(23.0))


def test_the_matching_pong_answers_and_measures_latency() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0)
    pong = answer(peer, ping_bytes(deadlines.expire(10.0)))
    (event,) = pull(conn, pong, deadlines, now=10.25)
    assert event == Pong(PREFIX + (1).to_bytes(8, "big"))
    assert not deadlines.ping_in_flight
    assert deadlines.latency == 0.25
    assert deadlines.deadline == 20.25  # silence counts from the Pong's arrival
    # The next keepalive Ping carries the next counter.
    (event,) = pull(peer, ping_bytes(deadlines.expire(20.25)))
    assert event == Ping(PREFIX + (2).to_bytes(8, "big"))


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # an unsolicited heartbeat
        b"the application's own ping",
        PREFIX,  # the prefix without the counter
        PREFIX + (2).to_bytes(8, "big"),  # a counter we have not sent
        PREFIX + (1).to_bytes(8, "big") + b"x",
    ],
)
def test_other_pongs_do_not_answer(payload: bytes) -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0)
    ping_bytes(deadlines.expire(10.0))
    pull(conn, peer.send(Pong(payload)), deadlines, now=11.0)
    assert deadlines.ping_in_flight
    assert deadlines.latency is None
    assert deadlines.deadline == 15.0
    assert deadlines.expire(15.0) is Expired.PEER_UNRESPONSIVE


def test_the_pong_to_the_applications_ping_does_not_answer() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0)
    own_pong = answer(peer, conn.send(Ping(b"app")))
    ping_bytes(deadlines.expire(10.0))
    (event,) = pull(conn, own_pong, deadlines, now=11.0)
    assert event == Pong(b"app")
    assert deadlines.ping_in_flight


def test_a_pong_before_any_ping_changes_nothing() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0)
    pull(conn, peer.send(Pong(PREFIX + (1).to_bytes(8, "big"))), deadlines, now=1.0)
    assert deadlines.latency is None
    assert deadlines.deadline == 11.0  # only the data's arrival counted


def test_the_timeout_is_reported_once_and_keepalive_stops() -> None:
    conn = server()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0)
    ping_bytes(deadlines.expire(10.0))
    assert deadlines.expire(14.999) == b""
    assert deadlines.expire(15.0) is Expired.PEER_UNRESPONSIVE
    assert not deadlines.ping_in_flight
    assert deadlines.deadline is None
    for now in (15.0, 25.0, 100.0):
        assert deadlines.expire(now) == b""
    deadlines.data_received(101.0)  # too late: it is given up
    assert deadlines.deadline is None


def test_a_late_expire_still_reports_the_timeout() -> None:
    deadlines = Deadlines(server(), now=0.0, ping_interval=10.0, ping_timeout=5.0)
    ping_bytes(deadlines.expire(10.0))
    assert deadlines.expire(60.0) is Expired.PEER_UNRESPONSIVE


def test_data_does_not_stand_in_for_the_pong() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0)
    ping_bytes(deadlines.expire(10.0))
    for now in (11.0, 12.0, 14.0):
        pull(conn, peer.send(BinaryMessage(b"busy")), deadlines, now=now)
        assert deadlines.deadline == 15.0
    assert deadlines.expire(15.0) is Expired.PEER_UNRESPONSIVE


def test_unresponsive_then_close_1011_then_close_timeout() -> None:
    """The recommended reaction: Close 1011, then the close timeout bounds the wait."""
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=1.0, ping_timeout=1.0, close_timeout=2.0)
    ping_bytes(deadlines.expire(1.0))
    assert deadlines.expire(2.0) is Expired.PEER_UNRESPONSIVE
    wire = conn.send(Close(1011, "keepalive ping timeout"))
    deadlines.close_sent(2.0)
    assert pull(peer, wire) == [Close(1011, "keepalive ping timeout")]
    assert deadlines.deadline == 4.0
    assert deadlines.expire(4.0) is Expired.CLOSE_TIMEOUT


def test_without_a_timeout_the_peer_is_never_declared_dead() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0)
    first = ping_bytes(deadlines.expire(10.0))
    assert deadlines.deadline == 20.0
    deadlines.data_received(15.0)  # data postpones the next Ping
    assert deadlines.deadline == 25.0
    second = ping_bytes(deadlines.expire(25.0))
    assert deadlines.deadline == 35.0
    # Only the latest Ping is awaited (RFC 6455 section 5.5.3: a peer may answer only it).
    pull(conn, answer(peer, first), deadlines, now=26.0)
    assert deadlines.ping_in_flight
    pull(conn, answer(peer, second), deadlines, now=27.0)
    assert not deadlines.ping_in_flight
    assert deadlines.latency == 2.0
    for _ in range(5):  # never an Expired, only more Pings
        due = deadlines.deadline
        assert due is not None
        ping_bytes(deadlines.expire(due))


def test_a_ping_timeout_without_an_interval_is_ignored() -> None:
    deadlines = Deadlines(server(), now=0.0, ping_timeout=1.0, close_timeout=3.0)
    assert deadlines.deadline is None
    assert deadlines.expire(50.0) == b""


def test_no_second_ping_while_one_awaits_its_pong() -> None:
    """With a timeout longer than the interval, the Pong's deadline is the only one."""
    deadlines = Deadlines(server(), now=0.0, ping_interval=2.0, ping_timeout=30.0)
    ping_bytes(deadlines.expire(2.0))
    assert deadlines.deadline == 32.0
    for now in (4.0, 10.0, 31.0):
        assert deadlines.expire(now) == b""
    assert deadlines.expire(32.0) is Expired.PEER_UNRESPONSIVE


# ------------------------------------------------------------------- closing


def test_close_timeout() -> None:
    conn = client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0, close_timeout=4.0)
    ping_bytes(deadlines.expire(10.0))
    conn.send(Close(1000))
    deadlines.close_sent(12.0)
    assert not deadlines.ping_in_flight  # keepalive stopped with our Close
    assert deadlines.deadline == 16.0  # not the Pong's 15.0
    assert deadlines.expire(15.0) == b""
    assert deadlines.expire(16.0) is Expired.CLOSE_TIMEOUT
    assert deadlines.deadline is None
    assert deadlines.expire(20.0) == b""  # once


def test_the_close_deadline_counts_from_the_first_close() -> None:
    deadlines = Deadlines(server(), now=0.0, close_timeout=5.0)
    deadlines.close_sent(1.0)
    deadlines.close_sent(3.0)
    assert deadlines.deadline == 6.0


def test_no_close_timeout() -> None:
    conn = server()
    deadlines = Deadlines(conn, now=0.0, ping_interval=1.0, close_timeout=None)
    conn.send(Close(1001))
    deadlines.close_sent(0.5)
    assert deadlines.deadline is None
    assert deadlines.expire(1e9) == b""


def test_a_zero_close_timeout_is_due_at_once() -> None:
    deadlines = Deadlines(server(), now=0.0, close_timeout=0)
    deadlines.close_sent(2.0)
    assert deadlines.deadline == 2.0
    assert deadlines.expire(2.0) is Expired.CLOSE_TIMEOUT


def test_replying_to_the_peers_close_starts_the_close_timeout() -> None:
    """A client that answered the server's Close waits for its EOF, within close_timeout."""
    conn, peer = client(), server()
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, close_timeout=3.0)
    (close,) = pull(conn, peer.send(Close(1001, "bye")), deadlines, now=1.0)
    assert isinstance(close, Close)
    assert conn.state is State.REMOTE_CLOSING
    assert deadlines.deadline is None  # no keepalive once the peer is closing
    conn.send(close.response())
    deadlines.close_sent(1.5)
    assert deadlines.deadline == 4.5
    assert deadlines.expire(4.5) is Expired.CLOSE_TIMEOUT


# ----------------------------------------------------- the connection's state


@pytest.mark.parametrize("how", ["we closed", "they closed", "they failed", "eof"])
def test_no_ping_unless_open(how: str) -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=1.0, ping_timeout=1.0)
    if how == "we closed":  # without telling close_sent(): still no Ping
        conn.send(Close(1000))
    elif how == "they closed":
        pull(conn, peer.send(Close(1000)))
    elif how == "they failed":
        conn.receive_data(b"\x8f\x80" + FIXED_MASK)  # reserved opcode 0xF
        with pytest.raises(RemoteProtocolError):
            conn.next_event()
    else:
        pull(conn, b"")
    assert conn.state is not State.OPEN
    assert deadlines.deadline is None
    assert deadlines.expire(5.0) == b""
    assert not deadlines.ping_in_flight


def test_the_peers_close_cancels_the_pong_timeout() -> None:
    """A peer that sent Close sends no Pong: that is no reason to call it unresponsive."""
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=1.0, ping_timeout=1.0)
    ping_bytes(deadlines.expire(1.0))
    pull(conn, peer.send(Close(1000)), deadlines, now=1.5)
    assert deadlines.deadline is None
    assert deadlines.expire(10.0) == b""


def test_the_client_masks_the_ping() -> None:
    conn, peer = client(), server()
    deadlines = Deadlines(conn, now=0.0, ping_interval=1.0, ping_timeout=1.0)
    wire = ping_bytes(deadlines.expire(1.0))
    payload = PREFIX + (1).to_bytes(8, "big")
    assert wire == frame(0x89, payload, mask=FIXED_MASK)  # FIN, ping, masked (section 5.3)
    pong = answer(peer, wire)
    assert pong == frame(0x8A, payload)  # the server's answer is not masked
    pull(conn, pong, deadlines, now=1.5)
    assert not deadlines.ping_in_flight


def test_the_server_does_not_mask_the_ping() -> None:
    conn, peer = server(), client()
    deadlines = Deadlines(conn, now=0.0, ping_interval=1.0)
    wire = ping_bytes(deadlines.expire(1.0))
    assert wire == frame(0x89, PREFIX + (1).to_bytes(8, "big"))
    assert len(wire) - 2 <= 125  # a control frame's payload (section 5.5)
    pull(conn, answer(peer, wire), deadlines, now=1.0)
    assert deadlines.latency == 0.0


def test_an_early_expire_changes_nothing() -> None:
    keys: list[bytes] = []

    def mask_key() -> bytes:
        keys.append(FIXED_MASK)
        return FIXED_MASK

    conn = Connection(Role.CLIENT, mask_key_source=mask_key)
    deadlines = Deadlines(conn, now=0.0, ping_interval=10.0, ping_timeout=5.0, close_timeout=1.0)
    for step in range(3):
        before = (deadlines.deadline, deadlines.ping_in_flight, deadlines.latency, repr(deadlines))
        assert deadlines.deadline is not None
        assert deadlines.expire(deadlines.deadline - 0.001) == b""
        assert (deadlines.deadline, deadlines.ping_in_flight, deadlines.latency, repr(deadlines)) == before
        if step == 0:
            ping_bytes(deadlines.expire(10.0))
        elif step == 1:
            conn.send(Close(1000))
            deadlines.close_sent(15.0)
    assert len(keys) == 2  # one Ping, one Close: nothing else went through send()


def test_repr() -> None:
    deadlines = Deadlines(server(), now=0.0, ping_interval=3.0)
    assert repr(deadlines) == "<Deadlines deadline=3.0 ping_in_flight=False>"


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize("name", ["ping_interval", "ping_timeout", "close_timeout"])
@pytest.mark.parametrize("value", [-1.0, -1e-9, math.nan, math.inf, -math.inf])
def test_invalid_durations(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        Deadlines(server(), now=0.0, **{name: value})


@pytest.mark.parametrize("name", ["ping_interval", "ping_timeout"])
def test_a_zero_ping_period_is_invalid(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be more than 0"):
        Deadlines(server(), now=0.0, **{name: 0})


def test_a_duration_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="ping_interval"):
        Deadlines(server(), now=0.0, ping_interval="20")  # type: ignore[arg-type]


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf, "0"])
def test_invalid_start(now: float) -> None:
    with pytest.raises(ValueError, match="now must be a finite number"):
        Deadlines(server(), now=now)


@pytest.mark.parametrize("method", ["data_received", "event_received", "close_sent", "expire"])
@pytest.mark.parametrize("now", [9.999, math.nan, math.inf])
def test_time_must_not_go_backwards(method: str, now: float) -> None:
    deadlines = Deadlines(server(), now=0.0, ping_interval=30.0, close_timeout=1.0)
    deadlines.data_received(10.0)
    before = deadlines.deadline
    call = (
        (lambda now: deadlines.event_received(Pong(b""), now))
        if method == "event_received"
        else getattr(deadlines, method)
    )
    with pytest.raises(ValueError, match="time went backwards"):
        call(now)
    assert deadlines.deadline == before
    deadlines.expire(10.0)  # the same time again is fine


# ------------------------------------------------------- hypothesis: no lies


class Embedding(RuleBasedStateMachine):
    """An event loop with one timer at ``deadline``, a peer that may or may not answer.

    The clock only moves forward, and never past ``deadline`` without calling
    ``expire()`` there (the timer firing). The checks: ``expire()`` at the
    deadline always does something; before it, nothing; after any call the
    deadline is not in the past; and it is never later than the rules allow.
    """

    @initialize(
        role=st.sampled_from(Role),
        interval=st.none() | st.floats(0.1, 20.0),
        timeout=st.none() | st.floats(0.1, 20.0),
        close=st.none() | st.floats(0.0, 20.0),
        start=st.floats(-1e6, 1e6),
    )
    def start(
        self, role: Role, interval: float | None, timeout: float | None, close: float | None, start: float
    ) -> None:
        self.conn = Connection(role, mask_key_source=lambda: FIXED_MASK)
        peer_role = Role.SERVER if role is Role.CLIENT else Role.CLIENT
        self.peer = Connection(peer_role, mask_key_source=lambda: FIXED_MASK)
        self.interval, self.timeout = interval, timeout
        self.now = start
        self.deadlines = Deadlines(
            self.conn, now=start, ping_interval=interval, ping_timeout=timeout, close_timeout=close
        )
        self.to_peer = bytearray()  # written by us, not yet read by the peer
        self.to_us = bytearray()
        self.heard_at = start
        self.ping_sent_at: float | None = None
        self.gave_up = self.closing = self.aborted = False

    # The clock and the timer.

    @rule(step=st.floats(0.0, 30.0))
    def advance(self, step: float) -> None:
        target = self.now + step
        due = self.deadlines.deadline
        if due is not None and due <= target:
            self.now = due  # the timer fires
            result = self.deadlines.expire(due)
            assert result != b"", "expire() at the deadline did nothing"
            after = self.deadlines.deadline
            assert after is None or after > self.now, "the deadline did not move on"
            self.handle(result)
        else:
            self.now = target
            before = self.deadlines.deadline
            assert self.deadlines.expire(self.now) == b""
            assert self.deadlines.deadline == before

    def handle(self, result: bytes | Expired) -> None:
        if isinstance(result, bytes):
            assert self.conn.state is State.OPEN
            self.to_peer += result
            self.ping_sent_at = self.now
        elif result is Expired.PEER_UNRESPONSIVE:
            assert not self.closing
            assert not self.gave_up
            self.gave_up = True
            self.send_close(Close(1011, "keepalive ping timeout"))
        else:
            assert self.closing
            self.aborted = True

    def send_close(self, close: Close) -> None:
        if self.conn.state in (State.OPEN, State.REMOTE_CLOSING, State.FAILED):
            self.to_peer += self.conn.send(close)
            self.deadlines.close_sent(self.now)
            self.closing = True

    # What the peer and the application do.

    @precondition(lambda self: not self.aborted and bool(self.to_peer))
    @rule(answer=st.booleans())
    def peer_reads(self, answer: bool) -> None:
        """The peer reads what we sent and answers Pings (or, unresponsive, does not)."""
        self.peer.receive_data(bytes(self.to_peer))
        self.to_peer.clear()
        for _ in range(1000):
            event = self.peer.next_event()
            if isinstance(event, Signal):
                break
            reply: Event | None = None
            if isinstance(event, Ping) and answer and self.peer.state is State.OPEN:
                reply = event.response()
            if isinstance(event, Close) and self.peer.state is State.REMOTE_CLOSING:
                reply = event.response()
            if reply is not None:
                self.to_us += self.peer.send(reply)

    @precondition(lambda self: not self.aborted)
    @rule(event=st.sampled_from([TextMessage("x"), Pong(b""), Pong(PREFIX + bytes(8)), Close(1000)]))
    def peer_sends(self, event: Event) -> None:
        if self.peer.state in (State.OPEN, State.REMOTE_CLOSING):
            self.to_us += self.peer.send(event)

    @precondition(lambda self: not self.aborted and bool(self.to_us))
    @rule()
    def we_read(self) -> None:
        self.conn.receive_data(bytes(self.to_us))
        self.to_us.clear()
        self.deadlines.data_received(self.now)
        self.heard_at = self.now
        for _ in range(1000):
            event = self.conn.next_event()
            if isinstance(event, Signal):
                break
            self.deadlines.event_received(event, self.now)
            if isinstance(event, Ping) and self.conn.state is State.OPEN:
                self.to_peer += self.conn.send(event.response())
            elif isinstance(event, Close) and self.conn.state is State.REMOTE_CLOSING:
                self.send_close(event.response())

    @precondition(lambda self: not self.aborted)
    @rule(payload=st.binary(max_size=8))
    def application_pings(self, payload: bytes) -> None:
        if self.conn.state is State.OPEN:
            self.to_peer += self.conn.send(Ping(payload))

    @precondition(lambda self: not self.aborted)
    @rule()
    def we_close(self) -> None:
        self.send_close(Close(1000))

    # The checks.

    @invariant()
    def the_deadline_is_not_in_the_past(self) -> None:
        if hasattr(self, "deadlines"):
            due = self.deadlines.deadline
            assert due is None or due >= self.now

    @invariant()
    def the_deadline_is_not_later_than_the_rules(self) -> None:
        if not hasattr(self, "deadlines") or self.interval is None:
            return
        due = self.deadlines.deadline
        if self.closing or self.gave_up or self.conn.state is not State.OPEN:
            return
        assert due is not None
        if self.deadlines.ping_in_flight and self.timeout is not None:
            assert self.ping_sent_at is not None
            assert due <= self.ping_sent_at + self.timeout
        else:
            last = max(self.heard_at, self.ping_sent_at or self.heard_at)
            assert due <= last + self.interval


TestEmbedding = Embedding.TestCase
TestEmbedding.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

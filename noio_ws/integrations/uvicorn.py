"""noio_ws as uvicorn's WebSocket protocol: ``uvicorn app:app --ws noio_ws.integrations.uvicorn:NoioWSProtocol``.

Rules of this module:

- It follows uvicorn's protocol-class contract: built from uvicorn's config and
  server state, handed the transport by uvicorn's HTTP protocol, which then
  re-feeds the upgrade request through ``data_received``. The attributes
  uvicorn's own tests read (``transport``, ``close_timeout``, ``close_timer``,
  ``ping_timer``, ``ping_sent_at``) keep their meaning there.
- noio_ws's public API only: ``ServerHandshake`` answers the request (and every
  invalid one, with the status it asks for), ``Connection`` carries the frames,
  ``Deadlines`` decides when to ping, when the peer is dead and when to stop
  waiting for a Close (``_timer.DeadlineTimer`` keeps its one loop timer).
- Back-pressure both ways: ``send`` waits while the transport's buffer is full,
  and reading pauses while received messages wait for an app that is not
  waiting for them (``_asgi.Inbox.backlog``), and from the end of the request
  until the app accepts.
- An application that fails never shows the peer a traceback: before it
  answers the request, the peer gets a 500; after accept the transport is
  closed without a Close frame, as uvicorn's own backends do (uvicorn's suite
  expects the peer to see 1006), unless the app had closed.
- Bad input from the peer ends the connection with the close code noio_ws
  chose (1002, 1007, 1009, ...); this side then half-closes and drains, so that
  its Close is read instead of lost to a reset, for at most ``close_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.protocols.utils import ClientDisconnected, get_client_addr, get_path_with_query_string
from uvicorn.server import ServerState

from .. import (
    BinaryMessage,
    Close,
    Connection,
    Expired,
    HandshakeError,
    LocalProtocolError,
    Ping,
    Pong,
    RemoteProtocolError,
    State,
    TextMessage,
)
from ..extensions import PerMessageDeflateFactory
from ..handshake import HandshakeRequest, ServerHandshake
from ._answer import RequestAnswer
from ._asgi import Inbox, Message, websocket_scope
from ._flow import Flow
from ._timer import DeadlineTimer

__all__ = ["NoioWSProtocol"]


class NoioWSProtocol(asyncio.Protocol):
    """One WebSocket connection served by uvicorn, from the upgrade request on."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app: Any = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.app_state = app_state
        self.connections = cast("set[Any]", server_state.connections)
        self.tasks = server_state.tasks
        #: Seconds to wait for the peer's Close after ours (uvicorn has no option for it).
        self.close_timeout = 10.0

        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.scope: Message = {}
        extensions = [PerMessageDeflateFactory()] if config.ws_per_message_deflate else []
        self.handshake = ServerHandshake(extensions=extensions, max_message_size=config.ws_max_size)
        self.answer = RequestAnswer(self.handshake, server_state.default_headers)
        self.conn: Connection | None = None
        self.flow = Flow()
        self.inbox = Inbox(on_drained=self.flow.resume_reading)
        self.timer = DeadlineTimer(self.loop, write=self._write, on_timeout=self._timed_out)
        # Where the exchange stands: the app has answered the request (accept or
        # deny), we sent a Close or finished a denial, the transport is gone.
        self.handshake_complete = False
        self.close_sent = False
        self.disconnected = False

    @property
    def ping_timer(self) -> asyncio.TimerHandle | None:
        """The pending timer while keepalive runs (None once a Close was sent)."""
        return None if self.close_sent else self.timer.handle

    @property
    def close_timer(self) -> asyncio.TimerHandle | None:
        """The pending timer while we wait for the peer's Close after ours."""
        return self.timer.handle if self.close_sent else None

    @property
    def ping_sent_at(self) -> float:
        """``loop.time()`` of the last keepalive Ping sent; 0.0 before the first."""
        return self.timer.ping_sent_at

    def _timed_out(self, outcome: Expired) -> None:
        if outcome is Expired.PEER_UNRESPONSIVE:
            self.logger.debug("WebSocket keepalive ping timeout")
            self._send_close(1011, "keepalive ping timeout")
        # Either way, stop waiting: RFC 6455 section 7.1.1 lets the server close first.
        self.timer.stop()
        self.transport.close()

    # ------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections.add(self)
        self.transport = self.flow.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.stop()
        self.connections.discard(self)
        if self.inbox.disconnect is None:
            self.inbox.put_disconnect(1006)
        self.handshake_complete = self.disconnected = True
        self.flow.writable.set()  # asyncio never resumes writing on a lost transport
        if exc is None:
            self.transport.close()

    def eof_received(self) -> None:
        self.data_received(b"")

    def pause_writing(self) -> None:
        self.flow.writable.clear()

    def resume_writing(self) -> None:
        self.flow.writable.set()

    def shutdown(self) -> None:
        """The server is stopping: end this connection now."""
        self.timer.stop()
        if not self.close_sent and not self.disconnected:
            if not self.handshake_complete:
                self._respond_500()
            elif self.conn is not None and self.conn.state is State.OPEN:
                self.inbox.put_disconnect(1012)
                self.transport.write(self.conn.send(Close(1012)))  # 1012: service restart
        self.transport.close()

    def _write(self, data: bytes) -> None:
        self.transport.write(data)  # the transport arrives after __init__: looked up here

    # ------------------------------------------------------------ receiving

    def data_received(self, data: bytes) -> None:
        if self.disconnected or self.transport.is_closing():
            return  # e.g. a Pong that crossed our closing of the transport
        if self.conn is not None:
            if self.conn.state is not State.CLOSED:
                self.conn.receive_data(data)  # after our Close on a failure: drained, discarded
                if data:
                    self.timer.heard()
                self._handle_events()
        elif self.scope:
            # Bytes behind the request are the WebSocket stream: the handshake
            # keeps them for the Connection (reading paused at the request's end).
            self.handshake.receive_data(data)
        elif not self.handshake_complete:
            try:
                request = self.handshake.receive_data(data)
            except HandshakeError as error:
                self.handshake_complete = True
                self.transport.write(self.handshake.reject_error(error))
                self.transport.close()
                return
            if request is not None:
                self.flow.pause_reading()  # nothing more is read until the app accepts
                self._start_app(request)

    def _handle_events(self) -> None:
        conn = self.conn
        assert conn is not None
        try:
            for event in conn.events():
                if isinstance(event, Close):
                    self._peer_closed(event)
                    return
                if self.close_sent:
                    continue  # the app said its last word; only the peer's Close matters now
                if isinstance(event, TextMessage):
                    self.inbox.put({"type": "websocket.receive", "text": event.data})
                elif isinstance(event, BinaryMessage):
                    self.inbox.put({"type": "websocket.receive", "bytes": event.data})
                elif isinstance(event, Ping):
                    self.transport.write(conn.send(event.response()))  # RFC 6455 5.5.2
                elif isinstance(event, Pong):
                    self.timer.heard(event)
        except RemoteProtocolError as error:
            self._fail(error)
            return
        if self.inbox.backlog > 0 and not self.close_sent:
            self.flow.pause_reading()  # messages wait for an app that is busy
        self.timer.schedule()

    def _peer_closed(self, event: Close) -> None:
        assert self.conn is not None
        if not self.close_sent:
            if self.conn.state is State.REMOTE_CLOSING:
                self.transport.write(self.conn.send(event.response()))  # RFC 6455 5.5.1
            self.inbox.put_disconnect(event.code, event.reason)
        self.timer.stop()
        self.transport.close()  # section 7.1.1: the server closes the TCP connection first

    def _fail(self, error: RemoteProtocolError) -> None:
        reason = str(error).encode()[:123].decode(errors="ignore")  # section 5.5: 125 bytes
        if not self.close_sent:
            self.inbox.put_disconnect(error.close_code, reason)
        self._send_close(error.close_code, reason)
        self.flow.resume_reading()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        # Half-close and drain what the peer still sends, so that it reads our
        # Close rather than a reset; the close timeout bounds the wait.
        self.transport.write_eof()
        assert self.conn is not None
        self.timer.start(self.conn, close_timeout=self.close_timeout)
        self.timer.close_sent()

    def _send_close(self, code: int, reason: str) -> None:
        assert self.conn is not None
        self.close_sent = True
        if not self.transport.is_closing():
            self.transport.write(self.conn.send(Close(code, reason)))

    # ------------------------------------------------------------ the application

    def _start_app(self, request: HandshakeRequest) -> None:
        self.scope = websocket_scope(request, self.config, self.transport, state=self.app_state.copy())
        self.inbox.put({"type": "websocket.connect"})
        task = self.loop.create_task(self._run_app())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _run_app(self) -> None:
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self._respond_500()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self._respond_500()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.answer.denying and not self.disconnected:
            self.transport.write(self.answer.finish_denial())  # the app returned mid-denial
            self._end_denial()
        if self.close_timer is None:
            self.transport.close()

    async def receive(self) -> Message:
        """The next ``websocket.*`` message for the application."""
        return await self.inbox.receive()

    async def send(self, message: Message) -> None:
        """Carry out one ``websocket.*`` message from the application."""
        await self.flow.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        kind = message["type"]
        if not self.handshake_complete:
            self._answer(kind, message)
        elif self.answer.denying:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")
            self.transport.write(
                self.answer.denial_body(message.get("body", b""), more=message.get("more_body", False))
            )
            if not self.answer.denying:
                self._end_denial()
        elif not self.close_sent:
            assert self.conn is not None
            try:
                if kind == "websocket.send":
                    data = message.get("bytes")
                    event = TextMessage(message["text"]) if data is None else BinaryMessage(data)
                    self.transport.write(self.conn.send(event))
                elif kind == "websocket.close":
                    self._close_by_app(message.get("code", 1000), message.get("reason") or "")
                else:
                    raise RuntimeError(
                        f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'."
                    )
            except LocalProtocolError as exc:  # the peer's Close already ended the connection
                raise ClientDisconnected() from exc
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")

    def _answer(self, kind: str, message: Message) -> None:
        """The application's answer to the request: accept, close (403) or a denial."""
        where = (get_client_addr(cast(Any, self.scope)), get_path_with_query_string(cast(Any, self.scope)))
        log = '%s - "WebSocket %s" %s'
        if kind == "websocket.accept":
            wire, self.conn = self.answer.accept(message)
            self.logger.info(log, *where, "[accepted]")
            self.handshake_complete = True
            self.transport.write(wire)
            keepalive = {
                "ping_interval": self.config.ws_ping_interval,
                "ping_timeout": self.config.ws_ping_timeout,
            }
            # uvicorn's 0 means "off", as None does.
            self.timer.start(
                self.conn, close_timeout=self.close_timeout, **{k: v or None for k, v in keepalive.items()}
            )
            self.flow.resume_reading()
            self._handle_events()  # bytes that came behind the request, or its EOF
        elif kind == "websocket.close":
            self.logger.info(log, *where, 403)
            self.handshake_complete = self.close_sent = True
            self.inbox.put_disconnect(1006)
            self.transport.write(self.answer.forbid())
            self.transport.close()
        elif kind == "websocket.http.response.start":
            self.transport.write(self.answer.start_denial(message["status"], message.get("headers", [])))
            self.logger.info(log, *where, message["status"])
            self.handshake_complete = True
        else:
            raise RuntimeError(
                "Expected ASGI message 'websocket.accept', 'websocket.close' "
                f"or 'websocket.http.response.start' but got '{kind}'."
            )

    def _close_by_app(self, code: int, reason: str) -> None:
        self._send_close(code, reason)
        self.inbox.put_disconnect(code, reason)
        self.flow.resume_reading()  # the peer's Close must get through
        self.timer.close_sent()

    def _end_denial(self) -> None:
        self.close_sent = True
        self.inbox.put_disconnect(1006)
        self.transport.close()

    def _respond_500(self) -> None:
        if self.handshake_complete or self.disconnected or not self.scope:
            return  # a response (or the 101) went out, or no whole request came to answer
        self.handshake_complete = True
        self.transport.write(self.answer.fail())

"""``client``: connect to a ws:// URL, send stdin's lines, print what arrives.

Rules of this module:
- ``connect()`` (the demo's too) bounds connecting and the handshake by
  ``CONNECT_TIMEOUT`` each; what fails is a ``ClientError`` (exit status 2) with
  a one-line message, the transport dropped.
- Two tasks share one ``EventPump``: stdin's lines out (Close 1000 at EOF), one
  stdout line per message in; stdout is flushed before each wait for the server.
- Exit status 0 after a normal close or an unanswered Close of ours, 1 after any
  other end (one line on stderr says why).
- The server closes TCP first (RFC 6455 section 7.1.1): we wait for that, within
  the close timeout.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import BinaryIO, TextIO
from urllib.parse import quote, urlsplit

from .. import BinaryMessage, Close, HandshakeError, RemoteProtocolError, State, TextMessage
from ..extensions import ExtensionFactory, PerMessageDeflateFactory
from ..handshake import Accepted, ClientHandshake, Rejected
from ._pump import DEFAULT_MAX_SIZE, DEFAULT_TIMING, READ_SIZE, EventPump, Timing
from ._show import Trace, one_line, url_host

__all__ = ["ClientError", "connect", "parse_url", "run_client"]

CONNECT_TIMEOUT = 10.0
#: Close codes that end a connection normally, for the exit status.
_NORMAL_CLOSE_CODES = frozenset((1000, 1001, 1005))


class ClientError(Exception):
    """The client could not connect, or its handshake failed: exit status 2."""


@dataclass(frozen=True)
class Target:
    """Where a ws:// or wss:// URL points."""

    secure: bool
    host: str  # ASCII (IDNA), without brackets
    port: int
    resource: str  # path and query, percent-encoded
    host_header: str


def parse_url(url: str) -> Target:
    """Where *url* points; ``ClientError`` if it is not a WebSocket URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ClientError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise ClientError(f"invalid URL {url!r}: it must start with ws:// or wss://")
    if not parts.hostname:
        raise ClientError(f"invalid URL {url!r}: no host")
    if parts.fragment:  # RFC 6455 section 3
        raise ClientError(f"invalid URL {url!r}: a WebSocket URL has no fragment")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ClientError(f"invalid URL {url!r}: {exc}") from None
    secure = parts.scheme == "wss"
    default = 443 if secure else 80
    # h11 accepts only visible ASCII in a request target.
    resource = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
    if parts.query:
        resource += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=~")
    bracketed = url_host(host)
    header = bracketed if port in (None, default) else f"{bracketed}:{port}"
    return Target(secure, host, port or default, resource, header)


async def connect(
    url: str,
    *,
    deflate: bool,
    subprotocols: Sequence[str],
    max_size: int,
    trace: Trace | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Accepted]:
    """Open the TCP (and TLS) connection and do the opening handshake; ``ClientError`` if that fails.

    *trace*, if given, is shown the request, line by line (the demo).
    """
    target = parse_url(url)
    try:
        context = ssl.create_default_context() if target.secure else None
        opening = asyncio.open_connection(target.host, target.port, ssl=context, limit=READ_SIZE)
        reader, writer = await asyncio.wait_for(opening, CONNECT_TIMEOUT)
    except asyncio.TimeoutError:
        raise ClientError(f"cannot connect to {url}: no answer within {CONNECT_TIMEOUT:g} s") from None
    except OSError as exc:
        raise ClientError(f"cannot connect to {url}: {exc}") from None
    factories: list[ExtensionFactory] = [PerMessageDeflateFactory()] if deflate else []
    handshake = ClientHandshake(
        target.host_header,
        target.resource,
        subprotocols=subprotocols,
        extensions=factories,
        max_message_size=max_size,
    )
    request = handshake.send()
    if trace is not None:
        trace("  client sent  the HTTP upgrade request:")
        for line in filter(None, request.decode("ascii").splitlines()):
            trace(f"    | {line}")
    try:
        writer.write(request)
        result = await asyncio.wait_for(_read_response(reader, handshake), CONNECT_TIMEOUT)
    except asyncio.TimeoutError:
        failure = f"{url}: no handshake response within {CONNECT_TIMEOUT:g} s"
    except HandshakeError as exc:
        failure = f"{url}: invalid handshake response: {exc}"
    except OSError as exc:
        failure = f"{url}: connection lost during the handshake: {exc}"
    else:
        if isinstance(result, Accepted):
            return reader, writer, result
        failure = f"{url} rejected the WebSocket handshake: HTTP {_status_text(result.status_code)}"
    writer.transport.abort()
    raise ClientError(failure)


async def _read_response(reader: asyncio.StreamReader, handshake: ClientHandshake) -> Accepted | Rejected:
    while True:
        result = handshake.receive_data(await reader.read(READ_SIZE))
        if result is not None:
            return result


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


async def run_client(
    url: str,
    *,
    deflate: bool = True,
    subprotocols: Sequence[str] = (),
    max_size: int = DEFAULT_MAX_SIZE,
    timing: Timing = DEFAULT_TIMING,
    stdin_fd: int = 0,
    stdout: BinaryIO,
    stderr: TextIO,
) -> int:
    """The ``client`` command: stdin lines out as text, messages to stdout; the exit status."""
    try:
        reader, writer, accepted = await connect(
            url, deflate=deflate, subprotocols=subprotocols, max_size=max_size
        )
    except ClientError as exc:
        _error(stderr, str(exc))
        return 2
    pump = EventPump(
        reader, writer, accepted.connection, side="client", timing=timing, before_read=stdout.flush
    )
    receiver = asyncio.create_task(_print_messages(pump, stdout, stderr))
    sender = asyncio.create_task(_send_lines(pump, _StdinLines(stdin_fd)))
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if not receiver.done():
            sender.result()  # raises what stopped the sender, if anything did
            # stdin ended and our Close is out: the close timeout bounds the wait for the server's.
            await receiver
        status = receiver.result()
    except BrokenPipeError:
        pump.abort()
        raise  # stdout is gone (``| head``): main() ends quietly
    except OSError as exc:
        _error(stderr, f"connection lost: {exc}")
        status = 1
        pump.abort()
    finally:
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
        stdout.flush()
    await pump.wait_closed()
    return status


async def _send_lines(pump: EventPump, lines: _StdinLines) -> None:
    """Send each line as a text message; at EOF, send Close 1000."""
    while pump.conn.state is State.OPEN:
        line = await lines.readline()
        if pump.conn.state is not State.OPEN:
            break  # the server closed while we waited for stdin
        if line is None:
            await pump.send(Close(1000))
            break
        await pump.send(TextMessage(line))


async def _print_messages(pump: EventPump, stdout: BinaryIO, stderr: TextIO) -> int:
    """Print messages until the connection closes; the exit status it deserves."""
    status = 1
    try:
        while (event := await pump.receive()) is not None:
            if isinstance(event, TextMessage):
                stdout.write(event.data.encode("utf-8") + b"\n")
            elif isinstance(event, BinaryMessage):
                stdout.write(b"<binary %d bytes>\n" % len(event.data))
            elif isinstance(event, Close):
                status = _exit_status(pump, event, stderr)
    except RemoteProtocolError as err:
        _error(stderr, f"the server broke the protocol: {err}")
        return 1
    return status


def _exit_status(pump: EventPump, close: Close, stderr: TextIO) -> int:
    """The exit status the end of the connection deserves, and one line on stderr if not 0."""
    if pump.unresponsive:
        _error(stderr, "the server did not answer a keepalive ping in time: closed with 1011")
        return 1
    if pump.timed_out:
        return 0  # stdin ended and our Close went unanswered: nothing was lost
    if close.code in _NORMAL_CLOSE_CODES:
        return 0
    reason = f" ({close.reason})" if close.reason else ""
    _error(stderr, f"the connection closed with code {close.code}{reason}")
    return 1


def _error(stderr: TextIO, message: str) -> None:
    print(f"noio_ws client: {one_line(message)}", file=stderr, flush=True)


class _StdinLines:
    """Lines of a file descriptor, read by a daemon thread and handed to the loop.

    A thread works with any stdin (pipe, file, terminal), unlike the loop's pipe
    transports, and one blocked in ``os.read`` cannot hold up the exit. It may
    run ahead of the WebSocket by ``_AHEAD`` chunks, no more.
    """

    _AHEAD = 4

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._credit = threading.Semaphore(self._AHEAD)
        self._pending = bytearray()
        self._eof = False
        threading.Thread(target=self._read, name="noio_ws-stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            self._credit.acquire()
            try:
                chunk = os.read(self._fd, READ_SIZE)
            except OSError:
                chunk = b""
            try:
                self._loop.call_soon_threadsafe(self._chunks.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: nobody wants more
                return
            if not chunk:
                return

    async def readline(self) -> str | None:
        """The next line without its line ending, or None at EOF."""
        while (end := self._pending.find(b"\n")) < 0 and not self._eof:
            chunk = await self._chunks.get()
            self._credit.release()
            self._pending += chunk
            self._eof = not chunk
        if end < 0:  # the end of stdin: a last line without a newline, or nothing
            if not self._pending:
                return None
            end = len(self._pending)
        line = bytes(self._pending[:end])
        del self._pending[: end + 1]
        return line.removesuffix(b"\r").decode("utf-8", "replace")

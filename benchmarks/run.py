"""Side-by-side benchmark of three sans-io WebSocket cores: noio_ws, wsproto, websockets.

Method (see benchmarks/README.rst for how to run it and how to read it):

- One process, the same inputs. Every input wire is built once per workload, before
  anything is timed, by a small reference encoder in this file (independent of the
  three libraries), with a seeded random generator: the same bytes go to every
  library. Frames a server parses come from a client, so they are masked.
- Each library is driven through its public sans-io API only, the way an application
  would drive it: noio_ws's ``Connection`` (``receive_data`` / ``events()`` /
  ``send``), wsproto's ``Connection`` (``receive_data`` / ``events()`` / ``send``) and
  websockets' ``ServerProtocol`` / ``ClientProtocol`` created in state OPEN
  (``receive_data`` / ``events_received()`` / ``send_*`` / ``data_to_send()``). An
  application receives whole messages as ``str`` or bytes, so the adapters do what
  each library leaves to its user: join the pieces wsproto delivers as they arrive,
  join websockets' fragments and decode its text frames (its sans-io layer hands out
  frames and does not check UTF-8; noio_ws and wsproto do). Size limits are off in all
  three, so none pays for a check another skips.
- Interleaved repetitions. For every workload each library runs once untimed (a
  warm-up, verified like the others), then the libraries take turns, A B C, B C A,
  C A B, ... (the order rotates so no library always follows the same one), for
  ``--repeat`` rounds. The figure kept is the median of each library's repetitions,
  and the ratios compare medians: ``other / noio_ws``, so above 1 means noio_ws is
  faster. Absolute times depend on the machine and its load; ratios from medians of
  interleaved runs are what to compare.
- Each repetition gets fresh connection objects (built outside the timed section),
  then ``gc.collect()``, then ``time.perf_counter()`` around the work alone. The
  garbage collector stays enabled during the timed section, as in an application.
  The thread's CPU time (``time.thread_time()``) of the same repetition is recorded
  too: on a loaded machine a preempted repetition gains whole scheduler slices of
  wall time but no CPU time. The table shows the wall clock unless ``--clock cpu``;
  the JSON holds both. Large-message rows carry several messages per repetition so
  that one repetition outlasts a time slice.
- Every repetition is verified after its timer stops: the number of messages, the
  first and last message, and a SHA-256 over every message (type, length, content).
  What a library sends is parsed back by the reference decoder (checking masking and,
  with permessage-deflate, that every message was really compressed). A library
  cannot win by skipping work: a wrong result stops the run.
- Memory: the peak traced by ``tracemalloc`` while a server receives one 16 MiB
  binary message in 64 KiB chunks (the received message, which the application
  keeps, included). One untimed run per library.
- Options of noio_ws (text as bytes, pre-encoded text, ``send_buffers``) have rows of
  their own, where every library does the same job its own way (an application that
  wants text as UTF-8 bytes, or has it as bytes already). ``--against-default`` also
  measures each such row against the default row it is an option of, noio_ws alone,
  the two interleaved, with the peak traced memory of one run of each.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import functools
import gc
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import statistics
import string
import struct
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import noio_ws
from noio_ws.extensions.permessage_deflate import PerMessageDeflate as NoioDeflate

# The competitors are optional: a missing one is left out of the table.
try:
    from wsproto import ConnectionType
    from wsproto.connection import Connection as WsprotoConnection
    from wsproto.events import BytesMessage as WsprotoBytesMessage
    from wsproto.events import Message as WsprotoMessage
    from wsproto.events import TextMessage as WsprotoTextMessage
    from wsproto.extensions import Extension as WsprotoExtension
    from wsproto.extensions import PerMessageDeflate as WsprotoDeflate
except ImportError:
    HAVE_WSPROTO = False
else:
    HAVE_WSPROTO = True

try:
    from websockets.client import ClientProtocol
    from websockets.extensions.permessage_deflate import PerMessageDeflate as WebsocketsDeflate
    from websockets.frames import Frame as WebsocketsFrame
    from websockets.frames import Opcode as WebsocketsOpcode
    from websockets.protocol import Protocol as WebsocketsProtocol
    from websockets.protocol import State as WebsocketsState
    from websockets.server import ServerProtocol
    from websockets.uri import parse_uri
except ImportError:
    HAVE_WEBSOCKETS = False
else:
    HAVE_WEBSOCKETS = True
    _WS_TEXT = WebsocketsOpcode.TEXT
    _WS_BINARY = WebsocketsOpcode.BINARY
    _WS_CONTINUATION = WebsocketsOpcode.CONT

KiB = 1 << 10
MiB = 1 << 20

#: What a library hands the application for one message: text or bytes-like.
Payload = str | bytes | bytearray | memoryview
#: A message to send: text or binary.
Outgoing = str | bytes
Kind = Literal["receive", "send", "echo"]
Clock = Literal["wall", "cpu"]

ALL_LIBRARIES = ("noio_ws", "wsproto", "websockets")


class VerificationError(AssertionError):
    """A library's result differs from what the workload sent it."""


class UnexpectedEventError(VerificationError):
    """A library produced an event the workload cannot have caused."""

    def __init__(self, event: object) -> None:
        super().__init__(f"unexpected event: {_short(event)}")


# ---------------------------------------------------------------- reference codec
# Independent of the libraries under test: it builds their input and checks their output.

_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 section 7.2.1: removed after each sync flush
_OPCODE_TEXT = 0x1
_OPCODE_BINARY = 0x2


def xor_mask(data: bytes, key: bytes) -> bytes:
    """Mask or unmask *data* with a 4-byte *key* (RFC 6455 section 5.3)."""
    size = len(data)
    keystream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")).to_bytes(size, "big")


def encode_frame(opcode: int, payload: bytes, *, fin: bool, rsv1: bool, mask_key: bytes | None) -> bytes:
    """One frame, length in its shortest form, masked if *mask_key* is given."""
    first = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    mask_bit = 0x80 if mask_key is not None else 0
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, mask_bit | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if mask_key is None:
        return header + payload
    return header + mask_key + xor_mask(payload, mask_key)


def client_wire(messages: Sequence[Outgoing], *, fragments: int = 1, deflate: bool = False) -> bytes:
    """What a client sends for *messages*: masked frames, optionally compressed
    (context takeover, 15-bit window) and split into *fragments* frames each."""
    rng = random.Random(0x5EED)
    compressor = zlib.compressobj(wbits=-15) if deflate else None
    frames = []
    for message in messages:
        opcode = _OPCODE_TEXT if isinstance(message, str) else _OPCODE_BINARY
        payload = message.encode() if isinstance(message, str) else message
        if compressor is not None:
            payload = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
            payload = payload.removesuffix(_TAIL)
        step = -(-len(payload) // fragments) or 1
        pieces = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        for index, piece in enumerate(pieces):
            frames.append(
                encode_frame(
                    opcode if index == 0 else 0,
                    piece,
                    fin=index == len(pieces) - 1,
                    rsv1=compressor is not None and index == 0,
                    mask_key=rng.randbytes(4),
                )
            )
    return b"".join(frames)


def decode_wire(wire: bytes, *, masked: bool, deflate: bool) -> list[Payload]:
    """The messages in *wire*; raises VerificationError on anything unexpected.

    *masked*: whether every frame must be masked (sent by a client) or none.
    *deflate*: whether every message must be compressed (RSV1, context takeover).
    """
    inflater = zlib.decompressobj(wbits=-15)
    messages: list[Payload] = []
    parts: list[bytes] = []
    opcode = compressed = 0
    position = 0
    while position < len(wire):
        position, first, payload = _next_frame(wire, position, masked)
        if first & 0x30:
            raise VerificationError(f"RSV2/RSV3 set in {first:#04x}")
        if first & 0x0F:
            if parts:
                raise VerificationError("new message inside a fragmented one")
            opcode, compressed = first & 0x0F, first & 0x40
        elif first & 0x40 or not opcode:
            raise VerificationError("bad continuation frame")
        parts.append(payload)
        if first & 0x80:
            data = b"".join(parts)
            if deflate and not compressed:
                raise VerificationError("message sent uncompressed with permessage-deflate in use")
            if compressed:
                data = inflater.decompress(data + _TAIL)
            messages.append(_as_message(opcode, data))
            parts, opcode = [], 0
    if parts:
        raise VerificationError("the wire ends inside a fragmented message")
    return messages


def _next_frame(wire: bytes, position: int, masked: bool) -> tuple[int, int, bytes]:
    """Decode the frame at *position*: (end position, first header byte, payload)."""
    if len(wire) - position < 2:
        raise VerificationError("truncated frame header")
    first, second = wire[position], wire[position + 1]
    position += 2
    if bool(second & 0x80) != masked:
        raise VerificationError("a client frame is not masked" if masked else "a server frame is masked")
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack_from("!H", wire, position)
        position += 2
    elif length == 127:
        (length,) = struct.unpack_from("!Q", wire, position)
        position += 8
    key = b""
    if masked:
        key = wire[position : position + 4]
        position += 4
    end = position + length
    if end > len(wire):
        raise VerificationError("truncated frame payload")
    payload = wire[position:end]
    return end, first, xor_mask(payload, key) if masked else payload


def _as_message(opcode: int, data: bytes) -> Payload:
    if opcode == _OPCODE_TEXT:
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise VerificationError(f"invalid UTF-8 in a text message: {exc}") from None
    if opcode == _OPCODE_BINARY:
        return data
    raise VerificationError(f"unexpected opcode {opcode:#x}")


def join_wire(pieces: Sequence[object]) -> bytes:
    """The bytes a library returned for sending, in order, as one string."""
    checked: list[bytes | bytearray | memoryview] = []
    for piece in pieces:
        if not isinstance(piece, bytes | bytearray | memoryview):
            raise VerificationError(f"a library returned {type(piece).__name__} as wire bytes")
        checked.append(piece)
    return b"".join(checked)


# --------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Summary:
    """What a list of messages must match: count, ends and a digest of them all."""

    count: int
    total_bytes: int
    first: str | bytes | None
    last: str | bytes | None
    digest: str


def summarize(messages: Sequence[object]) -> Summary:
    """The Summary of *messages*; text and binary digest differently."""
    digest = hashlib.sha256()
    total = 0
    first: str | bytes | None = None
    last: str | bytes | None = None
    for message in messages:
        if isinstance(message, str):
            tag, data, last = b"t", message.encode(), message
        elif isinstance(message, bytes | bytearray | memoryview):
            tag, data = b"b", bytes(message)
            last = data
        else:
            raise VerificationError(f"a message of type {type(message).__name__}")
        if first is None:
            first = last
        digest.update(tag + len(data).to_bytes(8, "big"))
        digest.update(data)
        total += len(data)
    return Summary(len(messages), total, first, last, digest.hexdigest())


def check(expected: Summary, received: Sequence[object]) -> None:
    """Raise VerificationError unless *received* matches *expected* exactly."""
    got = summarize(received)
    for name in ("count", "total_bytes", "first", "last", "digest"):
        want, have = getattr(expected, name), getattr(got, name)
        if want != have:
            raise VerificationError(f"{name}: expected {_short(want)}, got {_short(have)}")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


# ------------------------------------------------------------------------- adapters


class Endpoint(Protocol):
    """One side of a connection in one library, as a workload drives it."""

    def receive(self, chunks: Sequence[bytes]) -> list[Payload]:
        """Feed *chunks* in order; every whole message received, in order."""

    def send(self, messages: Sequence[Outgoing]) -> list[bytes]:
        """Send *messages* in order; the bytes to write, in order."""

    def echo(self, server: Endpoint, messages: Sequence[str]) -> list[Payload]:
        """As the client: send each message to *server*, which sends it back."""

    def receive_utf8(self, chunks: Sequence[bytes]) -> list[Payload]:
        """``receive``, text handed over as validated UTF-8 bytes (made with ``text_as_bytes``)."""

    def send_utf8(self, messages: Sequence[bytes], *, vouched: bool) -> list[bytes]:
        """Send UTF-8 bytes as text; *vouched*: the application vouches they are UTF-8."""

    def send_gathered(self, messages: Sequence[bytes]) -> list[bytes | memoryview]:
        """Send binary messages as buffers for ``writelines()``, if the library can."""


class EndpointFactory(Protocol):
    def __call__(self, *, client: bool, deflate: bool, text_as_bytes: bool = False) -> Endpoint: ...


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    make: EndpointFactory


class NoioEndpoint:
    """noio_ws: whole messages, as ``Connection.events()`` yields them."""

    def __init__(self, *, client: bool, deflate: bool, text_as_bytes: bool = False) -> None:
        self.conn = noio_ws.Connection(
            noio_ws.Role.CLIENT if client else noio_ws.Role.SERVER,
            extensions=[NoioDeflate()] if deflate else [],
            max_message_size=None,
            text_as_bytes=text_as_bytes,
        )

    def receive(self, chunks: Sequence[bytes]) -> list[Payload]:
        conn = self.conn
        received: list[Payload] = []
        append = received.append
        for chunk in chunks:
            conn.receive_data(chunk)
            for event in conn.events():
                if not isinstance(event, noio_ws.Message):
                    raise UnexpectedEventError(event)
                append(event.data)
        return received

    def send(self, messages: Sequence[Outgoing]) -> list[bytes]:
        conn = self.conn
        wire: list[bytes] = []
        append = wire.append
        for message in messages:
            if isinstance(message, str):
                append(conn.send(noio_ws.TextMessage(message)))
            else:
                append(conn.send(noio_ws.BinaryMessage(message)))
        return wire

    def receive_utf8(self, chunks: Sequence[bytes]) -> list[Payload]:
        conn = self.conn
        received: list[Payload] = []
        append = received.append
        for chunk in chunks:
            conn.receive_data(chunk)
            for event in conn.events():
                if not isinstance(event, noio_ws.EncodedTextMessage):
                    raise UnexpectedEventError(event)
                append(event.data)
        return received

    def send_utf8(self, messages: Sequence[bytes], *, vouched: bool) -> list[bytes]:
        send, make = self.conn.send, noio_ws.EncodedTextMessage
        return [send(make(message, True, vouched)) for message in messages]

    def send_gathered(self, messages: Sequence[bytes]) -> list[bytes | memoryview]:
        send_buffers, make = self.conn.send_buffers, noio_ws.BinaryMessage
        return [buffer for message in messages for buffer in send_buffers(make(message))]

    def echo(self, server: Endpoint, messages: Sequence[str]) -> list[Payload]:
        assert isinstance(server, NoioEndpoint)
        near, far = self.conn, server.conn
        received: list[Payload] = []
        append = received.append
        for message in messages:
            far.receive_data(near.send(noio_ws.TextMessage(message)))
            for event in far.events():
                if not isinstance(event, noio_ws.TextMessage):
                    raise UnexpectedEventError(event)
                near.receive_data(far.send(noio_ws.TextMessage(event.data)))
            for event in near.events():
                if not isinstance(event, noio_ws.TextMessage):
                    raise UnexpectedEventError(event)
                append(event.data)
        return received


class WsprotoEndpoint:
    """wsproto: it delivers data as it arrives; pieces are joined into messages."""

    def __init__(self, *, client: bool, deflate: bool, text_as_bytes: bool = False) -> None:
        extensions: list[WsprotoExtension] = []
        if deflate:
            # No handshake: accept (server) or finalize (client) the default offer.
            extension = WsprotoDeflate()
            if client:
                extension.finalize("permessage-deflate")
            else:
                extension.accept("permessage-deflate")
            extensions.append(extension)
        kind = ConnectionType.CLIENT if client else ConnectionType.SERVER
        self.conn = WsprotoConnection(kind, extensions=extensions)

    def receive(self, chunks: Sequence[bytes]) -> list[Payload]:
        conn = self.conn
        received: list[Payload] = []
        append = received.append
        text: list[str] = []
        binary = bytearray()
        partial = False
        for chunk in chunks:
            conn.receive_data(chunk)
            for event in conn.events():
                if not isinstance(event, WsprotoMessage):
                    raise UnexpectedEventError(event)
                data = event.data
                if event.message_finished and not partial:
                    append(data)
                    continue
                partial = True
                if isinstance(data, str):
                    text.append(data)
                else:
                    binary += data
                if event.message_finished:
                    append("".join(text) if isinstance(data, str) else binary)
                    text, binary, partial = [], bytearray(), False
        return received

    def send(self, messages: Sequence[Outgoing]) -> list[bytes]:
        conn = self.conn
        wire: list[bytes] = []
        append = wire.append
        for message in messages:
            if isinstance(message, str):
                append(conn.send(WsprotoTextMessage(data=message)))
            else:
                append(conn.send(WsprotoBytesMessage(data=message)))
        return wire

    def echo(self, server: Endpoint, messages: Sequence[str]) -> list[Payload]:
        assert isinstance(server, WsprotoEndpoint)
        near, far = self.conn, server.conn
        received: list[Payload] = []
        append = received.append
        for message in messages:
            far.receive_data(near.send(WsprotoTextMessage(data=message)))
            for event in far.events():
                if not isinstance(event, WsprotoTextMessage) or not event.message_finished:
                    raise UnexpectedEventError(event)
                near.receive_data(far.send(WsprotoTextMessage(data=event.data)))
            for event in near.events():
                if not isinstance(event, WsprotoTextMessage) or not event.message_finished:
                    raise UnexpectedEventError(event)
                append(event.data)
        return received

    def receive_utf8(self, chunks: Sequence[bytes]) -> list[Payload]:
        """Text comes as str only: encoded back for the application."""
        received: list[Payload] = []
        for message in self.receive(chunks):
            if not isinstance(message, str):
                raise UnexpectedEventError(message)
            received.append(message.encode())
        return received

    def send_utf8(self, messages: Sequence[bytes], *, vouched: bool) -> list[bytes]:
        """Text goes as str only: decoded first (which checks it, vouched for or not)."""
        send = self.conn.send
        return [send(WsprotoTextMessage(data=message.decode())) for message in messages]

    def send_gathered(self, messages: Sequence[bytes]) -> list[bytes | memoryview]:
        return list(self.send(messages))


class WebsocketsEndpoint:
    """websockets' sans-io layer: it yields frames; fragments are joined and text
    decoded (strict UTF-8), as its own asyncio layer would."""

    def __init__(self, *, client: bool, deflate: bool, text_as_bytes: bool = False) -> None:
        proto: WebsocketsProtocol
        if client:
            proto = ClientProtocol(parse_uri("ws://localhost/"), state=WebsocketsState.OPEN, max_size=None)
        else:
            proto = ServerProtocol(state=WebsocketsState.OPEN, max_size=None)
        if deflate:
            # What the handshake would have negotiated: context takeover, 15-bit windows.
            proto.extensions = [WebsocketsDeflate(False, False, 15, 15)]
        self.proto = proto

    def receive(self, chunks: Sequence[bytes]) -> list[Payload]:
        proto = self.proto
        received: list[Payload] = []
        append = received.append
        pending = bytearray()
        pending_opcode = _WS_BINARY
        for chunk in chunks:
            proto.receive_data(chunk)
            frames: list[WebsocketsFrame] = proto.events_received()  # type: ignore[assignment]  # in state OPEN: frames only
            for frame in frames:
                opcode = frame.opcode
                if opcode is _WS_CONTINUATION:
                    pending += frame.data
                elif opcode is _WS_TEXT or opcode is _WS_BINARY:
                    if frame.fin:
                        append(str(frame.data, "utf-8") if opcode is _WS_TEXT else frame.data)
                        continue
                    pending_opcode, pending = opcode, bytearray(frame.data)
                else:
                    raise UnexpectedEventError(frame)
                if frame.fin:
                    append(str(pending, "utf-8") if pending_opcode is _WS_TEXT else pending)
                    pending = bytearray()
        return received

    def send(self, messages: Sequence[Outgoing]) -> list[bytes]:
        proto = self.proto
        wire: list[bytes] = []
        for message in messages:
            if isinstance(message, str):
                proto.send_text(message.encode())
            else:
                proto.send_binary(message)
            wire += proto.data_to_send()
        return wire

    def echo(self, server: Endpoint, messages: Sequence[str]) -> list[Payload]:
        assert isinstance(server, WebsocketsEndpoint)
        near, far = self.proto, server.proto
        received: list[Payload] = []
        append = received.append
        for message in messages:
            near.send_text(message.encode())
            for data in near.data_to_send():
                far.receive_data(data)
            frames: list[WebsocketsFrame] = far.events_received()  # type: ignore[assignment]  # in state OPEN: frames only
            for frame in frames:
                if frame.opcode is not _WS_TEXT or not frame.fin:
                    raise UnexpectedEventError(frame)
                far.send_text(str(frame.data, "utf-8").encode())
            for data in far.data_to_send():
                near.receive_data(data)
            frames = near.events_received()  # type: ignore[assignment]  # in state OPEN: frames only
            for frame in frames:
                if frame.opcode is not _WS_TEXT or not frame.fin:
                    raise UnexpectedEventError(frame)
                append(str(frame.data, "utf-8"))
        return received

    def receive_utf8(self, chunks: Sequence[bytes]) -> list[Payload]:
        """Fragments joined; text checked as its asyncio layer's decoding would, kept as bytes."""
        received = self.receive_frames(chunks)
        for message in received:
            str(message, "utf-8")  # the check; the str is dropped
        return cast("list[Payload]", received)

    def receive_frames(self, chunks: Sequence[bytes]) -> list[bytes | bytearray | memoryview]:
        """Whole messages, text left as the bytes of its frames (opcodes are checked)."""
        proto = self.proto
        received: list[bytes | bytearray | memoryview] = []
        append = received.append
        pending = bytearray()
        for chunk in chunks:
            proto.receive_data(chunk)
            frames: list[WebsocketsFrame] = proto.events_received()  # type: ignore[assignment]  # in state OPEN: frames only
            for frame in frames:
                opcode = frame.opcode
                if opcode is _WS_TEXT and frame.fin:
                    append(frame.data)
                    continue
                if opcode is not _WS_TEXT and opcode is not _WS_CONTINUATION:
                    raise UnexpectedEventError(frame)
                pending += frame.data
                if frame.fin:
                    append(bytes(pending))
                    pending = bytearray()
        return received

    def send_utf8(self, messages: Sequence[bytes], *, vouched: bool) -> list[bytes]:
        """``send_text()`` takes bytes and never checks them: the same work either way."""
        proto = self.proto
        wire: list[bytes] = []
        for message in messages:
            proto.send_text(message)
            wire += proto.data_to_send()
        return wire

    def send_gathered(self, messages: Sequence[bytes]) -> list[bytes | memoryview]:
        return list(self.send(messages))


def available_libraries() -> dict[str, Library]:
    """The libraries that can be measured here, in the table's order."""
    libraries = {"noio_ws": Library("noio_ws", noio_ws.__version__, NoioEndpoint)}
    if HAVE_WSPROTO:
        libraries["wsproto"] = Library("wsproto", importlib.metadata.version("wsproto"), WsprotoEndpoint)
    if HAVE_WEBSOCKETS:
        libraries["websockets"] = Library(
            "websockets", importlib.metadata.version("websockets"), WebsocketsEndpoint
        )
    return libraries


# ------------------------------------------------------------------------ workloads


@dataclass(frozen=True)
class Scale:
    """How many messages a workload handles per repetition. Sizes never change."""

    label: str
    small: int  # small texts: parsing, sending
    bytewise: int  # small texts fed one byte at a time
    echo: int  # echo round trips
    json: int  # small JSON messages with permessage-deflate
    count_64KiB: int  # 64 KiB binary messages
    count_1MiB: int  # 1 MiB binary messages
    count_16MiB: int  # 16 MiB binary messages
    memory_size: int = 16 * MiB  # the message received for the memory row


# Large-message rows carry several messages per repetition, so that one repetition
# lasts well over a scheduler time slice (4 ms on a 250 Hz kernel) even for the
# fastest library: a preemption then shifts it by a fraction, not by a multiple.
FULL = Scale(
    "full",
    small=20_000,
    bytewise=2_000,
    echo=5_000,
    json=2_000,
    count_64KiB=256,
    count_1MiB=16,
    count_16MiB=2,
)
QUICK = Scale(
    "quick", small=4_000, bytewise=400, echo=1_000, json=400, count_64KiB=32, count_1MiB=4, count_16MiB=1
)


@dataclass(frozen=True)
class Workload:
    """One row of the table. ``messages`` builds the input (outside any timing)."""

    name: str
    description: str
    kind: Kind
    messages: Callable[[], list[Outgoing]]
    chunk_size: int | None = None  # receive: bytes per receive_data(); None: one buffer
    fragments: int = 1  # receive: frames per message
    deflate: bool = False
    client: bool = False  # send: which side sends (the client masks)
    # The application takes (receive) or gives (send) text as UTF-8 bytes; send: vouching
    # for them (noio_ws: EncodedTextMessage(validated=True)).
    text_as_bytes: bool = False
    vouched: bool = False
    gathered: bool = False  # send: frames as buffers for writelines() (noio_ws: send_buffers)
    baseline: str | None = None  # the default row this row is an option of (--against-default)


def text_messages(count: int, size: int, seed: int = 1) -> list[Outgoing]:
    """*count* distinct texts of *size* UTF-8 bytes; from 64 bytes on, with é and €."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " "
    extra = "é€ " if size >= 64 else ""
    messages: list[Outgoing] = []
    for index in range(count):
        head = f"{index:07d} {extra}"
        messages.append(head + "".join(rng.choices(alphabet, k=size - len(head.encode()))))
    return messages


def binary_messages(count: int, size: int, seed: int = 2) -> list[Outgoing]:
    """*count* distinct random binary messages of *size* bytes."""
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


_SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "ASML", "SAP", "BABA")
_NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")
_FLAGS = ("odd-lot", "dark", "iceberg", "retail", "auction", "short")


def json_record(rng: random.Random, index: int) -> str:
    """A realistic market-data style JSON object of about 200 bytes."""
    record = {
        "type": rng.choice(("trade", "quote", "order")),
        "seq": index,
        "symbol": rng.choice(_SYMBOLS),
        "price": round(rng.uniform(1, 1000), 2),
        "size": rng.randint(1, 10_000),
        "ts": f"2024-05-{rng.randint(1, 31):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        f":{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z",
        "trader": {"id": rng.randint(1, 99_999), "name": rng.choice(_NAMES)},
        "flags": rng.sample(_FLAGS, k=rng.randint(0, 3)),
        "ok": rng.random() < 0.9,
    }
    return json.dumps(record, separators=(",", ":"))


def json_messages(count: int, seed: int = 3) -> list[Outgoing]:
    rng = random.Random(seed)
    return [json_record(rng, index) for index in range(count)]


def json_document(size: int, seed: int = 4) -> list[Outgoing]:
    """One JSON array of records, padded with spaces to exactly *size* bytes."""
    rng = random.Random(seed)
    records: list[str] = []
    used = 2  # the brackets
    while True:
        record = json_record(rng, len(records))
        if used + len(record) + 1 > size:
            break
        records.append(record)
        used += len(record) + 1
    document = "[" + ",".join(records) + "]"
    return [document + " " * (size - len(document))]


def workloads(scale: Scale) -> list[Workload]:
    """Every timed workload, in table order. Names are stable: docs refer to them."""
    small, bytewise = scale.small, scale.bytewise
    rows: list[Workload] = []
    for size in (16, 128):
        feeds = (("whole", None, small, "as one buffer"), ("4KiB", 4 * KiB, small, "in 4 KiB chunks"))
        for label, chunk, count, how in (*feeds, ("bytewise", 1, bytewise, "one byte at a time")):
            rows.append(
                Workload(
                    f"recv_text_{size}B_{label}",
                    f"server parses {count:,} masked {size}-byte texts, fed {how}",
                    "receive",
                    functools.partial(text_messages, count, size),
                    chunk_size=chunk,
                )
            )
    for size, label, count in ((64 * KiB, "64KiB", scale.count_64KiB), (MiB, "1MiB", scale.count_1MiB)):
        rows += _binary_rows(label, size, count)
    rows += _binary_rows("16MiB", 16 * MiB, scale.count_16MiB)
    rows.append(
        Workload(
            "recv_fragmented_1MiB",
            f"server parses {scale.count_1MiB:,} masked 1 MiB binary messages of 1,024 frames each, fed as one buffer",
            "receive",
            functools.partial(binary_messages, scale.count_1MiB, MiB),
            fragments=1024,
        )
    )
    for client, side in ((False, "server"), (True, "client")):
        rows.append(
            Workload(
                f"send_{side}_text_16B",
                f"{side} sends {small:,} 16-byte texts" + (" (masked)" if client else ""),
                "send",
                functools.partial(text_messages, small, 16),
                client=client,
            )
        )
    for client, side in ((False, "server"), (True, "client")):
        rows.append(
            Workload(
                f"send_{side}_binary_1MiB",
                f"{side} sends {scale.count_1MiB:,} binary messages of 1 MiB"
                + (" (masked)" if client else ""),
                "send",
                functools.partial(binary_messages, scale.count_1MiB, MiB),
                client=client,
            )
        )
    rows += _deflate_rows(scale)
    rows += _option_rows(scale)
    rows.append(
        Workload(
            "echo_text_16B",
            f"{scale.echo:,} round trips of a 16-byte text: client sends, server receives and "
            "sends it back, client receives",
            "echo",
            functools.partial(text_messages, scale.echo, 16),
        )
    )
    return rows


def _binary_rows(label: str, size: int, count: int) -> list[Workload]:
    size_text = label.replace("KiB", " KiB").replace("MiB", " MiB")
    what = f"{count:,} masked {size_text} binary messages (one frame each)"
    if count == 1:
        what = f"one masked {size_text} binary message (one frame)"
    return [
        Workload(
            f"recv_binary_{label}_whole",
            f"server parses {what}, fed as one buffer",
            "receive",
            functools.partial(binary_messages, count, size),
        ),
        Workload(
            f"recv_binary_{label}_chunked",
            f"server parses {what}, fed in 64 KiB chunks",
            "receive",
            functools.partial(binary_messages, count, size),
            chunk_size=64 * KiB,
        ),
    ]


def _deflate_rows(scale: Scale) -> list[Workload]:
    json_small = functools.partial(json_messages, scale.json)
    document = functools.partial(json_document, MiB)
    pmd = "permessage-deflate, context takeover"
    return [
        Workload(
            "deflate_recv_json",
            f"{pmd}: server parses {scale.json:,} compressed ~200-byte JSON texts, fed as one buffer",
            "receive",
            json_small,
            deflate=True,
        ),
        Workload(
            "deflate_send_json",
            f"{pmd}: server compresses and sends {scale.json:,} ~200-byte JSON texts",
            "send",
            json_small,
            deflate=True,
        ),
        Workload(
            "deflate_recv_text_1MiB",
            f"{pmd}: server parses one compressed 1 MiB JSON text, fed as one buffer",
            "receive",
            document,
            deflate=True,
        ),
        Workload(
            "deflate_send_text_1MiB",
            f"{pmd}: server compresses and sends one 1 MiB JSON text",
            "send",
            document,
            deflate=True,
        ),
    ]


def _option_rows(scale: Scale) -> list[Workload]:
    """Text as UTF-8 bytes, both ways, and frame buffers, each beside its default row."""
    small, count = scale.small, scale.count_1MiB
    texts_128 = functools.partial(text_messages, small, 128)
    texts_1MiB = functools.partial(text_messages, count, MiB)
    document = functools.partial(json_document, MiB)
    pmd = "permessage-deflate, context takeover"
    as_bytes = "text handed over as UTF-8 bytes"
    rows = [
        Workload(
            "recv_text_128B_whole_bytes",
            f"server parses {small:,} masked 128-byte texts, fed as one buffer; {as_bytes}",
            "receive",
            texts_128,
            text_as_bytes=True,
            baseline="recv_text_128B_whole",
        ),
        Workload(
            "recv_text_1MiB",
            f"server parses {count:,} masked 1 MiB texts (one frame each), fed in 64 KiB chunks",
            "receive",
            texts_1MiB,
            chunk_size=64 * KiB,
        ),
        Workload(
            "recv_text_1MiB_bytes",
            f"server parses {count:,} masked 1 MiB texts (one frame each), fed in 64 KiB chunks; {as_bytes}",
            "receive",
            texts_1MiB,
            chunk_size=64 * KiB,
            text_as_bytes=True,
            baseline="recv_text_1MiB",
        ),
        Workload(
            "deflate_recv_text_1MiB_bytes",
            f"{pmd}: server parses one compressed 1 MiB JSON text, fed as one buffer; {as_bytes}",
            "receive",
            document,
            deflate=True,
            text_as_bytes=True,
            baseline="deflate_recv_text_1MiB",
        ),
    ]
    for label, messages, what in (
        ("128B", texts_128, f"{small:,} 128-byte"),
        ("1MiB", texts_1MiB, f"{count:,} 1 MiB"),
    ):
        name = f"send_server_text_{label}"
        rows += [
            Workload(name, f"server sends {what} texts", "send", messages),
            Workload(
                f"{name}_bytes",
                f"server sends {what} texts given as UTF-8 bytes (checked)",
                "send",
                messages,
                text_as_bytes=True,
                baseline=name,
            ),
            Workload(
                f"{name}_vouched",
                f"server sends {what} texts given as UTF-8 bytes it vouches for (not checked)",
                "send",
                messages,
                text_as_bytes=True,
                vouched=True,
                baseline=name,
            ),
        ]
    rows += [
        Workload(
            "deflate_send_text_1MiB_bytes",
            f"{pmd}: server compresses and sends one 1 MiB JSON text given as UTF-8 bytes (checked)",
            "send",
            document,
            deflate=True,
            text_as_bytes=True,
            baseline="deflate_send_text_1MiB",
        ),
        Workload(
            "send_server_binary_16MiB",
            f"server sends {scale.count_16MiB:,} binary messages of 16 MiB",
            "send",
            functools.partial(binary_messages, scale.count_16MiB, 16 * MiB),
        ),
        Workload(
            "send_server_binary_16MiB_buffers",
            f"server sends {scale.count_16MiB:,} binary messages of 16 MiB, as buffers for writelines()",
            "send",
            functools.partial(binary_messages, scale.count_16MiB, 16 * MiB),
            gathered=True,
            baseline="send_server_binary_16MiB",
        ),
    ]
    return rows


MEMORY_WORKLOAD = "memory_recv_16MiB"


def memory_description(scale: Scale) -> str:
    return (
        f"peak traced memory while a server receives one masked {scale.memory_size // MiB} MiB "
        "binary message in 64 KiB chunks (untimed, one run)"
    )


# ----------------------------------------------------------------------- measuring


@dataclass
class Prepared:
    """A workload's input, built once, and what every library must produce."""

    workload: Workload
    messages: list[Outgoing]
    chunks: list[bytes] = field(default_factory=list)
    expected: Summary = field(init=False)
    encoded: list[bytes] = field(init=False)  # text as UTF-8 bytes: what such rows hand over

    def __post_init__(self) -> None:
        self.encoded = [m.encode() if isinstance(m, str) else m for m in self.messages]
        bytes_received = self.workload.text_as_bytes and self.workload.kind == "receive"
        self.expected = summarize(self.encoded if bytes_received else self.messages)


def split(wire: bytes, size: int | None) -> list[bytes]:
    """*wire* cut into pieces of *size* bytes (the last may be shorter); None: whole."""
    if size is None:
        return [wire]
    return [wire[start : start + size] for start in range(0, len(wire), size)]


def prepare(workload: Workload) -> Prepared:
    messages = workload.messages()
    prepared = Prepared(workload, messages)
    if workload.kind == "receive":
        wire = client_wire(messages, fragments=workload.fragments, deflate=workload.deflate)
        prepared.chunks = split(wire, workload.chunk_size)
    return prepared


def task(prepared: Prepared, library: Library) -> Callable[[], Sequence[object]]:
    """The timed call for one repetition, with fresh endpoints (built here, untimed)."""
    workload = prepared.workload
    # Only rows of an option pass it: a factory without it still runs the others.
    options = {"text_as_bytes": True} if workload.text_as_bytes and workload.kind == "receive" else {}
    if workload.kind == "receive":
        server = library.make(client=False, deflate=workload.deflate, **options)
        return functools.partial(server.receive_utf8 if options else server.receive, prepared.chunks)
    if workload.kind == "send":
        sender = library.make(client=workload.client, deflate=workload.deflate)
        if workload.text_as_bytes:
            return functools.partial(sender.send_utf8, prepared.encoded, vouched=workload.vouched)
        if workload.gathered:
            return functools.partial(sender.send_gathered, prepared.encoded)
        return functools.partial(sender.send, prepared.messages)
    client = library.make(client=True, deflate=False)
    server = library.make(client=False, deflate=False)
    return functools.partial(client.echo, server, [m for m in prepared.messages if isinstance(m, str)])


def verify(prepared: Prepared, output: Sequence[object]) -> None:
    """Raise VerificationError unless *output* is exactly what the workload sent."""
    workload = prepared.workload
    if workload.kind == "send":
        output = decode_wire(join_wire(output), masked=workload.client, deflate=workload.deflate)
    check(prepared.expected, output)


def run_once(prepared: Prepared, library: Library) -> tuple[float, float]:
    """One verified repetition: its wall-clock and CPU durations, in seconds.

    The CPU clock (``time.thread_time``) is read outside the wall-clock window, so
    it does not lengthen it.
    """
    call = task(prepared, library)
    gc.collect()
    cpu_start = time.thread_time()
    start = time.perf_counter()
    output = call()
    elapsed = time.perf_counter() - start
    cpu = time.thread_time() - cpu_start
    try:
        verify(prepared, output)
    except VerificationError as exc:
        raise VerificationError(f"{library.name}, {prepared.workload.name}: {exc}") from None
    return elapsed, cpu


@dataclass
class Result:
    """One workload's numbers. Wall clock (``perf_counter``) first; the CPU time of
    the same repetitions (``thread_time``, which a preempted process does not
    accumulate) beside it."""

    name: str
    description: str
    timings: dict[str, list[float]]  # seconds, in the order they were taken
    medians_ms: dict[str, float]
    ratios: dict[str, float]  # other median / noio_ws median
    cpu_timings: dict[str, list[float]]
    cpu_medians_ms: dict[str, float]
    cpu_ratios: dict[str, float]

    def figures(self, clock: Clock) -> tuple[dict[str, float], dict[str, float]]:
        """The medians and ratios of *clock*."""
        if clock == "cpu":
            return self.cpu_medians_ms, self.cpu_ratios
        return self.medians_ms, self.ratios


def measure(workload: Workload, libraries: Sequence[Library], repeat: int) -> Result:
    """Warm up (verified, untimed), then *repeat* rounds in rotating order."""
    prepared = prepare(workload)
    for library in libraries:
        run_once(prepared, library)
    wall: dict[str, list[float]] = {library.name: [] for library in libraries}
    cpu: dict[str, list[float]] = {library.name: [] for library in libraries}
    for round_ in range(repeat):
        shift = round_ % len(libraries)
        for library in (*libraries[shift:], *libraries[:shift]):
            elapsed, used = run_once(prepared, library)
            wall[library.name].append(elapsed)
            cpu[library.name].append(used)
    wall_medians, cpu_medians = medians_ms(wall), medians_ms(cpu)
    return Result(
        workload.name,
        workload.description,
        wall,
        wall_medians,
        ratios_of(wall_medians),
        cpu,
        cpu_medians,
        ratios_of(cpu_medians),
    )


def medians_ms(timings: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


def ratios_of(medians: dict[str, float]) -> dict[str, float]:
    """other / noio_ws for every other library: above 1, noio_ws is faster."""
    base = medians.get("noio_ws")
    if not base:
        return {}
    return {name: value / base for name, value in medians.items() if name != "noio_ws"}


@dataclass
class MemoryResult:
    message_bytes: int
    peak_bytes: dict[str, int]
    peak_mib: dict[str, float]
    ratio_to_message: dict[str, float]


@dataclass
class OptionResult:
    """An option of noio_ws against its default, both on noio_ws, interleaved."""

    name: str
    baseline: str
    timings: dict[str, list[float]]  # "default" and "option", seconds
    medians_ms: dict[str, float]
    ratio: float  # default median / option median: above 1, the option is faster
    cpu_medians_ms: dict[str, float]
    cpu_ratio: float
    peak_bytes: dict[str, int]  # tracemalloc peak of one untimed run of each


def measure_against_default(
    workload: Workload, default: Workload, library: Library, repeat: int
) -> OptionResult:
    """Warm up both rows, then *repeat* rounds of the two in alternating order; then memory."""
    pairs = {"default": prepare(default), "option": prepare(workload)}
    for prepared in pairs.values():
        run_once(prepared, library)
    wall: dict[str, list[float]] = {key: [] for key in pairs}
    cpu: dict[str, list[float]] = {key: [] for key in pairs}
    for round_ in range(repeat):
        for key in ("default", "option") if round_ % 2 == 0 else ("option", "default"):
            elapsed, used = run_once(pairs[key], library)
            wall[key].append(elapsed)
            cpu[key].append(used)
    peaks: dict[str, int] = {}
    for key, prepared in pairs.items():
        call = task(prepared, library)  # built before tracing starts
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            output = call()
            peaks[key] = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            tracemalloc.stop()
        verify(prepared, output)
        del output
    wall_medians, cpu_medians = medians_ms(wall), medians_ms(cpu)
    return OptionResult(
        workload.name,
        default.name,
        wall,
        wall_medians,
        wall_medians["default"] / wall_medians["option"],
        cpu_medians,
        cpu_medians["default"] / cpu_medians["option"],
        peaks,
    )


def option_lines(results: Sequence[OptionResult], clock: Clock) -> list[str]:
    lines = [
        "noio_ws options against the default row, interleaved (ratio: default / option, above 1: "
        "the option is faster; peak: tracemalloc, one run)",
        f"{'option row':<32} {'default row':<26} {'default ms':>11} {'option ms':>11} {'ratio':>7}"
        f" {'peak MiB':>17}",
    ]
    for result in results:
        medians, ratio = (
            (result.cpu_medians_ms, result.cpu_ratio) if clock == "cpu" else (result.medians_ms, result.ratio)
        )
        peaks = f"{result.peak_bytes['default'] / MiB:.1f} -> {result.peak_bytes['option'] / MiB:.1f}"
        lines.append(
            f"{result.name:<32} {result.baseline:<26} {medians['default']:>11.3f} {medians['option']:>11.3f}"
            f" {ratio:>6.2f}x {peaks:>17}"
        )
    return lines


def measure_memory(libraries: Sequence[Library], size: int) -> MemoryResult:
    """Peak traced memory while each library's server receives one *size* message."""
    messages = binary_messages(1, size, seed=5)
    expected = summarize(messages)
    chunks = split(client_wire(messages), 64 * KiB)  # built before tracing starts
    peaks: dict[str, int] = {}
    for library in libraries:
        server = library.make(client=False, deflate=False)
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            received = server.receive(chunks)
            peaks[library.name] = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            tracemalloc.stop()
        try:
            check(expected, received)
        except VerificationError as exc:
            raise VerificationError(f"{library.name}, {MEMORY_WORKLOAD}: {exc}") from None
        del received, server
    return MemoryResult(
        size,
        peaks,
        {name: peak / MiB for name, peak in peaks.items()},
        {name: peak / size for name, peak in peaks.items()},
    )


# ------------------------------------------------------------------------ reporting


def environment(scale: Scale, repeat: int, libraries: Sequence[Library], clock: Clock) -> dict[str, Any]:
    """Where and how the numbers were taken, for the JSON file."""
    frame_module = importlib.import_module("noio_ws._mask")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "mode": scale.label,
        "scale": asdict(scale),
        "repeat": repeat,
        "clock": clock,
        "method": "interleaved rotating repetitions after one verified warm-up each; gc.collect() "
        "before each repetition, gc enabled while timing; medians of time.perf_counter (timings) "
        "and of time.thread_time (cpu_timings)",
        "libraries": {library.name: library.version for library in libraries},
        "noio_ws_accelerated": getattr(frame_module, "ACCELERATED", None),
        "websockets_speedups": importlib.util.find_spec("websockets.speedups") is not None
        if HAVE_WEBSOCKETS
        else None,
    }


def header_lines(scale: Scale, repeat: int, libraries: Sequence[Library], clock: Clock) -> list[str]:
    env = environment(scale, repeat, libraries, clock)
    versions = ", ".join(f"{name} {version}" for name, version in env["libraries"].items())
    lines = [
        f"Python {platform.python_version()} ({env['implementation']}) on {env['platform']}, "
        f"{env['cpu_count']} CPUs",
        f"libraries: {versions}",
        f"noio_ws accelerator: {'on' if env['noio_ws_accelerated'] else 'off'}; "
        f"websockets C speedups: {'on' if env['websockets_speedups'] else 'off'}",
        f"method: median of {repeat} interleaved repetitions after a warm-up; gc.collect() before "
        "each, gc enabled; every result verified",
        "clock: "
        + (
            "CPU time of the thread (time.thread_time)"
            if clock == "cpu"
            else "wall clock (time.perf_counter)"
        ),
        "ratios: other median / noio_ws median (above 1: noio_ws is faster)",
    ]
    if scale.label == "quick":
        lines.append(
            f"QUICK MODE: {repeat} repetitions and fewer messages ({scale.small:,} small texts "
            f"instead of {FULL.small:,}, ...): indicative only"
        )
    return lines


def table_header(names: Sequence[str]) -> str:
    columns = [f"{'workload':<32}", *(f"{name + ' ms':>14}" for name in names)]
    columns += [f"{'vs ' + name:>14}" for name in names if name != "noio_ws" and "noio_ws" in names]
    return " ".join(columns)


def table_row(result: Result, names: Sequence[str], clock: Clock) -> str:
    medians, ratios = result.figures(clock)
    columns = [f"{result.name:<32}", *(f"{medians[name]:>14.3f}" for name in names)]
    columns += [f"{ratios[name]:>13.2f}x" for name in names if name in ratios]
    return " ".join(columns)


def memory_lines(memory: MemoryResult, description: str) -> list[str]:
    lines = [f"{MEMORY_WORKLOAD}: {description}", f"{'library':<14} {'peak MiB':>10} {'x message':>10}"]
    for name, mib in memory.peak_mib.items():
        lines.append(f"{name:<14} {mib:>10.1f} {memory.ratio_to_message[name]:>9.2f}x")
    return lines


def write_json(
    path: Path,
    env: dict[str, Any],
    results: Sequence[Result],
    memory: MemoryResult | None,
    memory_text: str,
    *,
    options: Sequence[OptionResult] = (),
) -> None:
    document = {
        **env,
        "units": {"timings": "seconds", "cpu_timings": "seconds", "medians_ms": "milliseconds"},
        "workloads": [asdict(result) for result in results],
        "memory": None
        if memory is None
        else {"name": MEMORY_WORKLOAD, "description": memory_text, **asdict(memory)},
    }
    if options:
        document["options_against_default"] = [asdict(result) for result in options]
    path.write_text(json.dumps(document, indent=2) + "\n")


# ------------------------------------------------------------------------------ CLI


def selected(name: str, patterns: Sequence[str]) -> bool:
    """Whether *name* matches a pattern: a glob, or a plain substring."""
    return not patterns or any(fnmatch.fnmatchcase(name, pattern) or pattern in name for pattern in patterns)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark noio_ws against wsproto and websockets (sans-io layers), side by side."
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and messages (under 30 s): indicative only"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write raw timings and results to PATH")
    parser.add_argument(
        "--repeat", type=int, metavar="N", help="timed repetitions per library (default 9, quick 5)"
    )
    parser.add_argument(
        "--only", metavar="PATTERN", default="", help="comma-separated workload globs or substrings"
    )
    parser.add_argument(
        "--libraries", metavar="NAMES", default=",".join(ALL_LIBRARIES), help="comma-separated, default all"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what the table shows: wall clock (perf_counter, default) or the thread's CPU time; "
        "the JSON holds both",
    )
    parser.add_argument(
        "--against-default",
        action="store_true",
        help="instead of the table: each selected row that is an option of noio_ws (text as bytes, "
        "send_buffers) against its default row, noio_ws alone, interleaved",
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def choose_libraries(names: str) -> list[Library]:
    available = available_libraries()
    chosen: list[Library] = []
    for name in filter(None, (part.strip() for part in names.split(","))):
        if name not in ALL_LIBRARIES:
            raise SystemExit(f"unknown library {name!r}; choose from {', '.join(ALL_LIBRARIES)}")
        if name not in available:
            print(f"note: {name} is not installed, skipped (pip install 'noio_ws[bench]')", file=sys.stderr)
            continue
        chosen.append(available[name])
    if not chosen:
        raise SystemExit("no library to measure")
    return sorted(chosen, key=lambda library: ALL_LIBRARIES.index(library.name))


def main(argv: Sequence[str] | None = None, *, scale: Scale | None = None) -> int:
    """Run the benchmark; *scale* overrides the mode's (for tests)."""
    args = parse_args(argv)
    scale = scale or (QUICK if args.quick else FULL)
    repeat = args.repeat or (5 if args.quick else 9)
    patterns = [pattern.strip() for pattern in args.only.split(",") if pattern.strip()]
    rows = [workload for workload in workloads(scale) if selected(workload.name, patterns)]
    with_memory = selected(MEMORY_WORKLOAD, patterns)
    if args.list:
        for workload in workloads(scale):
            default = f" [an option of {workload.baseline}]" if workload.baseline else ""
            print(f"{workload.name:<32} {workload.description}{default}")
        print(f"{MEMORY_WORKLOAD:<32} {memory_description(scale)}")
        return 0
    if not rows and not with_memory:
        raise SystemExit(f"no workload matches {args.only!r} (see --list)")
    if args.against_default:
        return _main_against_default(args, scale, repeat, rows)
    libraries = choose_libraries(args.libraries)
    names = [library.name for library in libraries]
    started = time.perf_counter()
    print("\n".join(header_lines(scale, repeat, libraries, args.clock)), end="\n\n", flush=True)
    results: list[Result] = []
    if rows:
        print(table_header(names), flush=True)
    for workload in rows:
        results.append(measure(workload, libraries, repeat))
        print(table_row(results[-1], names, args.clock), flush=True)
    memory = measure_memory(libraries, scale.memory_size) if with_memory else None
    if memory is not None:
        print("\n" + "\n".join(memory_lines(memory, memory_description(scale))))
    print(f"\n{time.perf_counter() - started:.1f} s in all")
    if args.json:
        env = environment(scale, repeat, libraries, args.clock)
        write_json(args.json, env, results, memory, memory_description(scale))
        print(f"wrote {args.json}")
    return 0


def _main_against_default(args: argparse.Namespace, scale: Scale, repeat: int, rows: list[Workload]) -> int:
    by_name = {workload.name: workload for workload in workloads(scale)}
    options = [workload for workload in rows if workload.baseline is not None]
    if not options:
        raise SystemExit("no selected row is an option of noio_ws (see --list: rows with a default row)")
    (library,) = choose_libraries("noio_ws")
    started = time.perf_counter()
    print("\n".join(header_lines(scale, repeat, [library], args.clock)), end="\n\n", flush=True)
    results: list[OptionResult] = []
    lines = option_lines([], args.clock)
    print("\n".join(lines), flush=True)
    for workload in options:
        assert workload.baseline is not None
        results.append(measure_against_default(workload, by_name[workload.baseline], library, repeat))
        print(option_lines(results[-1:], args.clock)[-1], flush=True)
    print(f"\n{time.perf_counter() - started:.1f} s in all")
    if args.json:
        env = environment(scale, repeat, [library], args.clock)
        write_json(args.json, env, [], None, memory_description(scale), options=results)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

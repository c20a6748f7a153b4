"""permessage-deflate (RFC 7692): DEFLATE compression of whole messages.

Rules of this module:
- ``PerMessageDeflate`` holds the agreed settings of one connection and its
  compression state; ``bind(role)`` says which parameters govern our compressor
  (``client_*`` for a client, ``server_*`` for a server) and which the peer's.
  One instance per connection. ``PerMessageDeflateFactory`` negotiates it (the
  rules live in ``_deflate_params``) and is never mutated by negotiation. Both
  keep their settings in one ``DeflateSettings``, validated there.
- RSV1 on the first frame of a data message means the message is compressed;
  its continuation frames are inflated too. RSV1 on a continuation or control
  frame is 1002 (section 6.1). Messages sent without RSV1 pass through untouched.
- ``decode()`` inflates every compressed frame on one path: whole frame or
  fragment, with or without context takeover, with or without a limit.
  Inflation is bounded: a frame never inflates to more than the ``max_size``
  the connection allows (the rest of the message budget), plus one byte to
  notice the excess, which fails with 1009. Memory is bounded by the budget,
  not by what the peer's bytes would inflate to.
- A compressed stream zlib cannot inflate fails with 1007 (RFC 6455 section
  7.4.1: data "not consistent with the type of the message"); RFC 7692 names
  no code for it.
- A block with BFINAL set ends the DEFLATE stream (section 7.2.3.4): the rest
  of that message is ignored and the next message starts a fresh stream, with
  an empty window.
- zlib cannot build a raw compressor with an 8-bit window. A compressor whose
  window is limited to 8 bits uses 9: zlib never emits a distance longer than
  the window minus 262 bytes, 250 for 9 bits, so a peer with a 256-byte window
  inflates it. Negotiation never agrees to it for our side, as DESIGN.md asks.
  Inflating needs no such care: a window of at least the peer's is enough.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import Mapping

from .._codes import Role
from .._errors import HandshakeError, RemoteProtocolError
from ._base import Frame, OpcodeKind, Params
from ._deflate_params import (
    CLIENT_BITS,
    CLIENT_NCT,
    SERVER_BITS,
    SERVER_NCT,
    DeflateSettings,
    SettingsAttributes,
    agreed_by_response,
    answer_offer,
    offer_params,
)

__all__ = ["PerMessageDeflate", "PerMessageDeflateFactory"]

_RSV1 = 0x40
_TAIL = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with
_CHUNK = 64 << 10  # inflate in pieces this big, so an excess is seen early


class PerMessageDeflate(SettingsAttributes):
    """The permessage-deflate extension on one connection, with its agreed parameters.

    With no arguments: the RFC defaults, context takeover both ways and 15-bit
    windows, which is what both sides of a handshake-less connection pass.
    The arguments stay readable as attributes; ``bind()`` reads them once.

    Args:
        server_no_context_takeover: The server resets its compressor after every
            message (and the client may reset its decompressor).
        client_no_context_takeover: The same for what the client sends.
        server_max_window_bits: Base-2 log of the server's LZ77 window (8-15);
            None is 15.
        client_max_window_bits: The same for the client's window.
        compression_level: zlib's level, 0-9, or -1 for zlib's default (6).
        mem_level: zlib's memLevel, 1-9: memory for speed. 8 is zlib's default.
        compression_threshold: Messages whose first frame carries fewer bytes
            than this are sent uncompressed. 0 compresses everything.
    """

    name = "permessage-deflate"
    rsv_mask = _RSV1
    opcodes: Mapping[int, OpcodeKind] = types.MappingProxyType({})

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | None = None,
        compression_level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 8,
        compression_threshold: int = 0,
    ) -> None:
        self._start(
            DeflateSettings(
                server_no_context_takeover=server_no_context_takeover,
                client_no_context_takeover=client_no_context_takeover,
                server_max_window_bits=server_max_window_bits,
                client_max_window_bits=client_max_window_bits,
                compression_level=compression_level,
                mem_level=mem_level,
                compression_threshold=compression_threshold,
            )
        )

    @classmethod
    def _agreed(cls, settings: DeflateSettings) -> PerMessageDeflate:
        """The extension for settings negotiation agreed on (and validated)."""
        extension = cls.__new__(cls)
        extension._start(settings)
        return extension

    def _start(self, settings: DeflateSettings) -> None:
        self._settings = settings
        self._role: Role | None = None
        # Sending: our compressor (made on first use), whether the message being
        # sent is compressed, and whether the next one must not be.
        self._compress_bits = 15
        # How the last frame of a message is flushed: a full flush also resets the window.
        self._last_flush = zlib.Z_SYNC_FLUSH
        self._compressor: zlib._Compress | None = None
        self._deflating = False
        self._skip_next = False
        # Receiving: the peer's stream, and whether the message arriving is compressed.
        self._inflate_bits = 15
        self._inflate_reset = False
        self._decompressor: zlib._Decompress | None = None
        self._inflating = False

    def __repr__(self) -> str:
        settings = self._settings
        agreed = [
            f"{key}={value!r}"
            for key, value in (
                (SERVER_NCT, settings.server_no_context_takeover),
                (CLIENT_NCT, settings.client_no_context_takeover),
                (SERVER_BITS, settings.server_max_window_bits),
                (CLIENT_BITS, settings.client_max_window_bits),
            )
            if value
        ]
        return f"PerMessageDeflate({', '.join(agreed)})"

    def bind(self, role: Role) -> None:
        """Learn our side: it decides which parameters govern which direction."""
        if self._role is not None:
            raise ValueError("PerMessageDeflate is already bound: make one per connection")
        self._role = role
        settings = self._settings
        if role is Role.CLIENT:
            ours, theirs = settings.client_max_window_bits, settings.server_max_window_bits
            compress_reset = settings.client_no_context_takeover
            inflate_reset = settings.server_no_context_takeover
        else:
            ours, theirs = settings.server_max_window_bits, settings.client_max_window_bits
            compress_reset = settings.server_no_context_takeover
            inflate_reset = settings.client_no_context_takeover
        # zlib refuses raw deflate with 8 bits; 9 is safe, see the module docstring.
        self._compress_bits = max(ours or 15, 9)
        self._inflate_bits = max(theirs or 15, 9)
        # A full flush also forgets the window: no_context_takeover without a
        # new compressor per message.
        self._last_flush = zlib.Z_FULL_FLUSH if compress_reset else zlib.Z_SYNC_FLUSH
        self._inflate_reset = inflate_reset

    def skip_next_message(self) -> None:
        """Send the next data message (all its frames) uncompressed."""
        self._skip_next = True

    # ---------------------------------------------------------------- receiving

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        """Inflate the frames of compressed messages; clear RSV1.

        The one inflate path: whole frames and fragments, with or without
        context takeover, with or without a limit (*max_size* None). Output one
        byte over *max_size* fails with 1009 before any more is inflated; data
        zlib cannot inflate fails with 1007.
        """
        opcode = frame.opcode
        if opcode & 0x08 or opcode == 0:
            if frame.rsv & _RSV1:
                kind = "control" if opcode & 0x08 else "continuation"
                raise RemoteProtocolError(f"RSV1 set on a {kind} frame")  # section 6.1
            if opcode or not self._inflating:
                return frame
        else:
            self._inflating = inflating = frame.rsv & _RSV1 != 0
            if not inflating:
                return frame
        inflater = self._decompressor
        if inflater is None:
            if self._role is None:
                raise RuntimeError("bind() must be called before decode()")
            inflater = self._decompressor = zlib.decompressobj(-self._inflate_bits)
        payload, fin = frame.payload, frame.fin
        # The inputs: the payload, then, after a message's last frame, the tail
        # the sender removed (section 7.2.2). *data* goes in first, *later*
        # holds the rest, last first.
        later: list[bytes | memoryview] = []
        data: bytes | memoryview
        if inflater.eof:
            data = b""  # after a final block the rest of the message is ignored (section 7.2.3.4)
        elif len(payload) < _CHUNK:
            data = payload + _TAIL if fin else payload  # the copy costs less than a second call
        else:
            if max_size is None:
                later.append(payload)
            else:
                # By slices: zlib copies whatever it leaves unconsumed, and a
                # whole frame left over at every step would cost its size each time.
                view = memoryview(payload)
                later = [view[start : start + _CHUNK] for start in range(0, len(view), _CHUNK)]
            if fin:
                later.append(_TAIL)
            later.reverse()
            data = later.pop()
        budget = max_size if max_size is None or max_size > 0 else 0
        earlier: list[bytes] | None = None  # the output before *piece*, once there is some
        try:
            while True:
                if budget is None:
                    piece = inflater.decompress(data)  # no limit: zlib takes all of data
                    if not later:
                        break
                    full = False
                else:
                    # One byte over the budget is enough to know it is exceeded
                    # (and zlib reads a limit of 0 as none).
                    limit = _CHUNK if budget >= _CHUNK else budget + 1
                    piece = inflater.decompress(data, limit)
                    budget -= len(piece)
                    if budget < 0:
                        raise RemoteProtocolError("compressed message inflates past the size limit", 1009)
                    # A full piece may leave input unconsumed, or output pending in zlib.
                    full = len(piece) == limit
                if not (full or later) or inflater.eof:
                    break
                if piece:
                    if earlier is None:
                        earlier = [piece]
                    else:
                        earlier.append(piece)
                data = inflater.unconsumed_tail if full else later.pop()
        except zlib.error as exc:
            raise RemoteProtocolError(f"corrupt compressed data: {exc}", 1007) from None
        if earlier is not None:
            if piece:
                earlier.append(piece)
            piece = b"".join(earlier)  # several pieces, copied once
        # Section 7.2.2: no_context_takeover lets us start each message afresh;
        # after a final block there is no stream left to continue.
        if fin and (self._inflate_reset or inflater.eof):
            self._decompressor = None
        return Frame(opcode, piece, fin, frame.rsv & ~_RSV1)

    # ------------------------------------------------------------------ sending

    def encode(self, frame: Frame) -> Frame:
        """Compress the frames of data messages; set RSV1 on the first."""
        opcode = frame.opcode
        if opcode & 0x08:
            return frame
        payload = frame.payload
        if opcode:
            self._deflating = not self._skip_next and len(payload) >= self._settings.compression_threshold
            self._skip_next = False
        if not self._deflating:
            return frame
        compressor = self._compressor
        if compressor is None:
            if self._role is None:
                raise RuntimeError("bind() must be called before encode()")
            settings = self._settings
            compressor = self._compressor = zlib.compressobj(
                settings.compression_level, zlib.DEFLATED, -self._compress_bits, settings.mem_level
            )
        if frame.fin:
            # A full flush also forgets the window: no_context_takeover without
            # a new compressor per message. Either flush ends with the empty
            # stored block, which section 7.2.1 removes from the end of the
            # message only.
            data = (compressor.compress(payload) + compressor.flush(self._last_flush))[:-4]
        else:
            # Flush each fragment so the peer can inflate it as it comes; the
            # empty stored blocks this leaves mid-message are valid DEFLATE.
            data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return Frame(opcode, data, frame.fin, (frame.rsv | _RSV1) if opcode else frame.rsv)


class PerMessageDeflateFactory(SettingsAttributes):
    """Negotiates permessage-deflate in the opening handshake, as client or server.

    The preferences are the parameters this side wants. A client offers them:
    the ``server_*`` ones are requests, ``client_no_context_takeover`` is a
    promise it keeps whatever the answer, and ``client_max_window_bits`` is
    always offered, valueless unless set (section 7.1.2.2). A server answers
    every offer it can accept with these preferences applied on top of what
    the client asked for.

    Args:
        server_no_context_takeover: Client: ask the server to reset its
            compressor per message. Server: always do so.
        client_no_context_takeover: Client: reset our compressor per message.
            Server: require the client to.
        server_max_window_bits: 9-15. Client: ask the server to use at most
            this window. Server: use at most this window.
        client_max_window_bits: 9-15. Client: use at most this window. Server:
            ask a client that offers ``client_max_window_bits`` to use at most it.
        compression_level, mem_level, compression_threshold: passed on to
            ``PerMessageDeflate``.
        require_client_max_window_bits: Server: decline offers that do not let
            it limit the client's window (useful with ``client_max_window_bits``
            to cap the memory each connection's decompressor takes).
    """

    name = "permessage-deflate"

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | None = None,
        compression_level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 8,
        compression_threshold: int = 0,
        require_client_max_window_bits: bool = False,
    ) -> None:
        self._settings = DeflateSettings(
            server_no_context_takeover=server_no_context_takeover,
            client_no_context_takeover=client_no_context_takeover,
            server_max_window_bits=server_max_window_bits,
            client_max_window_bits=client_max_window_bits,
            compression_level=compression_level,
            mem_level=mem_level,
            compression_threshold=compression_threshold,
            lowest_window_bits=9,  # preferences never ask for 8, see _deflate_params
        )
        self.require_client_max_window_bits = bool(require_client_max_window_bits)

    def offer(self) -> list[tuple[str, str | None]]:
        """Client side: the parameters of our offer."""
        return offer_params(self._settings)

    def accept_response(self, params: Params) -> PerMessageDeflate:
        """Client side: the extension the server's answer to ``offer()`` selects.

        Raises ``HandshakeError`` if the answer breaks section 7.1 or would
        limit our compressor to an 8-bit window.
        """
        try:
            agreed = agreed_by_response(self._settings, params)
        except ValueError as exc:
            raise HandshakeError(f"permessage-deflate response refused: {exc}") from None
        return PerMessageDeflate._agreed(agreed)

    def accept_offer(self, params: Params) -> tuple[list[tuple[str, str | None]], PerMessageDeflate] | None:
        """Server side: our answer to one offer and the extension, or None to decline."""
        answered = answer_offer(
            self._settings, params, require_client_max_window_bits=self.require_client_max_window_bits
        )
        if answered is None:
            return None
        answer, agreed = answered
        return answer, PerMessageDeflate._agreed(agreed)

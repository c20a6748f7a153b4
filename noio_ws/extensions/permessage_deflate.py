"""permessage-deflate (RFC 7692): DEFLATE compression of whole messages.

Rules of this module:
- ``PerMessageDeflate`` holds the agreed parameters of one connection and its
  compression state; ``bind(role)`` says which parameters govern our compressor
  (``client_*`` for a client, ``server_*`` for a server) and which the peer's.
  One instance per connection. ``PerMessageDeflateFactory`` negotiates it and
  is never mutated by negotiation.
- RSV1 on the first frame of a data message means the message is compressed;
  its continuation frames are inflated too. RSV1 on a continuation or control
  frame is 1002 (section 6.1). Messages sent without RSV1 pass through untouched.
- Inflation is bounded: a frame never inflates to more than the ``max_size``
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
  inflates it. Negotiation is stricter, as DESIGN.md asks: an offer that would
  limit our compressor to 8 bits is declined, such a response is refused.
  Inflating needs no such care: a window of at least the peer's is enough.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import Mapping, Sequence

from .._codes import Role
from .._errors import HandshakeError, RemoteProtocolError
from ._base import Frame, OpcodeKind, Params

__all__ = ["PerMessageDeflate", "PerMessageDeflateFactory"]

_RSV1 = 0x40
_TAIL = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with
_CHUNK = 64 << 10  # inflate in pieces this big, so an excess is seen early
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}  # section 7.1.2: no leading zeroes
_SERVER_NCT = "server_no_context_takeover"
_CLIENT_NCT = "client_no_context_takeover"
_SERVER_BITS = "server_max_window_bits"
_CLIENT_BITS = "client_max_window_bits"


def _check_bits(name: str, value: int | None, low: int) -> None:
    if value is not None and (type(value) is not int or not low <= value <= 15):
        raise ValueError(f"{name} must be None or an int from {low} to 15, not {value!r}")


def _check_settings(level: int, mem_level: int, threshold: int) -> None:
    if type(level) is not int or not -1 <= level <= 9:
        raise ValueError(f"compression_level must be an int from -1 to 9, not {level!r}")
    if type(mem_level) is not int or not 1 <= mem_level <= 9:
        raise ValueError(f"mem_level must be an int from 1 to 9, not {mem_level!r}")
    if type(threshold) is not int or threshold < 0:
        raise ValueError(f"compression_threshold must be an int of at least 0, not {threshold!r}")


class PerMessageDeflate:
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
        _check_bits("server_max_window_bits", server_max_window_bits, 8)
        _check_bits("client_max_window_bits", client_max_window_bits, 8)
        _check_settings(compression_level, mem_level, compression_threshold)
        self.server_no_context_takeover = bool(server_no_context_takeover)
        self.client_no_context_takeover = bool(client_no_context_takeover)
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.compression_level = compression_level
        self.mem_level = mem_level
        self.compression_threshold = compression_threshold
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
        agreed = [
            f"{key}={value!r}"
            for key, value in (
                (_SERVER_NCT, self.server_no_context_takeover),
                (_CLIENT_NCT, self.client_no_context_takeover),
                (_SERVER_BITS, self.server_max_window_bits),
                (_CLIENT_BITS, self.client_max_window_bits),
            )
            if value
        ]
        return f"PerMessageDeflate({', '.join(agreed)})"

    def bind(self, role: Role) -> None:
        """Learn our side: it decides which parameters govern which direction."""
        if self._role is not None:
            raise ValueError("PerMessageDeflate is already bound: make one per connection")
        self._role = role
        client = role is Role.CLIENT
        ours = self.client_max_window_bits if client else self.server_max_window_bits
        theirs = self.server_max_window_bits if client else self.client_max_window_bits
        # zlib refuses raw deflate with 8 bits; 9 is safe, see the module docstring.
        self._compress_bits = max(ours or 15, 9)
        self._inflate_bits = max(theirs or 15, 9)
        compress_reset = self.client_no_context_takeover if client else self.server_no_context_takeover
        self._last_flush = zlib.Z_FULL_FLUSH if compress_reset else zlib.Z_SYNC_FLUSH
        self._inflate_reset = self.server_no_context_takeover if client else self.client_no_context_takeover

    def skip_next_message(self) -> None:
        """Send the next data message (all its frames) uncompressed."""
        self._skip_next = True

    # ---------------------------------------------------------------- receiving

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        """Inflate the frames of compressed messages; clear RSV1."""
        opcode = frame.opcode
        if opcode & 0x08 or opcode == 0:
            if frame.rsv & _RSV1:
                kind = "control" if opcode & 0x08 else "continuation"
                raise RemoteProtocolError(f"RSV1 set on a {kind} frame")  # section 6.1
            if opcode or not self._inflating:
                return frame
        else:
            self._inflating = bool(frame.rsv & _RSV1)
            if not self._inflating:
                return frame
        if self._role is None:
            raise RuntimeError("bind() must be called before decode()")
        if self._decompressor is None:
            self._decompressor = zlib.decompressobj(-self._inflate_bits)
        inflater = self._decompressor
        payload = frame.payload
        fin = frame.fin
        try:
            if inflater.eof:
                # After a final block the rest of the message is ignored.
                payload = b""
            elif max_size is None:
                # Section 7.2.2: the sender removed the tail of the last frame;
                # put it back (in the same call when the copy costs little).
                if fin and len(payload) < _CHUNK:
                    payload = inflater.decompress(payload + _TAIL)
                else:
                    payload = inflater.decompress(payload)
                    if fin and not inflater.eof:
                        payload += inflater.decompress(_TAIL)
            else:
                payload = self._inflate(inflater, payload, fin, max(max_size, 0))
        except zlib.error as exc:
            raise RemoteProtocolError(f"corrupt compressed data: {exc}", 1007) from None
        # Section 7.2.2: no_context_takeover lets us start each message afresh;
        # after a final block there is no stream left to continue.
        if fin and (self._inflate_reset or inflater.eof):
            self._decompressor = None
        return Frame(opcode, payload, fin, frame.rsv & ~_RSV1)

    @staticmethod
    def _inflate(inflater: zlib._Decompress, payload: bytes, fin: bool, budget: int) -> bytes:
        """Inflate *payload* (and the tail, if *fin*) to at most *budget* bytes (1009 beyond)."""
        inputs: Sequence[bytes | memoryview]
        if len(payload) < _CHUNK:
            inputs = (payload + _TAIL,) if fin else (payload,)
        else:
            # Input goes in by slices: zlib copies whatever it leaves unconsumed,
            # and a whole frame left over at every step would cost its size each time.
            view = memoryview(payload)
            inputs = [view[start : start + _CHUNK] for start in range(0, len(view), _CHUNK)]
            if fin:
                inputs.append(_TAIL)
        pieces = []
        for data in inputs:
            rest, pending = data, True
            while (rest or pending) and not inflater.eof:
                # One byte over the budget is enough to know it is exceeded
                # (and zlib reads a limit of 0 as none).
                limit = min(_CHUNK, budget + 1)
                piece = inflater.decompress(rest, limit)
                budget -= len(piece)
                if budget < 0:
                    raise RemoteProtocolError("compressed message inflates past the size limit", 1009)
                pieces.append(piece)
                rest = inflater.unconsumed_tail
                # A full piece may leave output pending inside zlib: ask again.
                pending = len(piece) == limit
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    # ------------------------------------------------------------------ sending

    def encode(self, frame: Frame) -> Frame:
        """Compress the frames of data messages; set RSV1 on the first."""
        opcode = frame.opcode
        if opcode & 0x08:
            return frame
        payload = frame.payload
        if opcode:
            self._deflating = not self._skip_next and len(payload) >= self.compression_threshold
            self._skip_next = False
        if not self._deflating:
            return frame
        compressor = self._compressor
        if compressor is None:
            if self._role is None:
                raise RuntimeError("bind() must be called before encode()")
            compressor = self._compressor = zlib.compressobj(
                self.compression_level, zlib.DEFLATED, -self._compress_bits, self.mem_level
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


# ------------------------------------------------------------------ negotiation


def _parse(params: Params) -> dict[str, int | None]:
    """The parameters of one offer or response; ValueError if any is invalid.

    No-context-takeover flags map to None; window bits to their value, or
    None for a valueless ``client_max_window_bits`` (section 7.1.2.2).
    """
    parsed: dict[str, int | None] = {}
    for name, value in params:
        if name in parsed:
            raise ValueError(f"duplicate parameter {name}")  # section 7: MUST decline
        if name in (_SERVER_NCT, _CLIENT_NCT):
            if value is not None:
                raise ValueError(f"{name} takes no value")
            parsed[name] = None
        elif name in (_SERVER_BITS, _CLIENT_BITS):
            if value is None and name == _CLIENT_BITS:
                parsed[name] = None
            elif value in _WINDOW_BITS:
                parsed[name] = _WINDOW_BITS[value]
            else:
                raise ValueError(f"invalid {name} value {value!r}")
        else:
            raise ValueError(f"unknown parameter {name}")
    return parsed


class PerMessageDeflateFactory:
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
        # 9 at least: 8 on our side is refused in negotiation, and asking for it
        # would make a noio_ws peer decline.
        _check_bits("server_max_window_bits", server_max_window_bits, 9)
        _check_bits("client_max_window_bits", client_max_window_bits, 9)
        _check_settings(compression_level, mem_level, compression_threshold)
        self.server_no_context_takeover = bool(server_no_context_takeover)
        self.client_no_context_takeover = bool(client_no_context_takeover)
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.compression_level = compression_level
        self.mem_level = mem_level
        self.compression_threshold = compression_threshold
        self.require_client_max_window_bits = bool(require_client_max_window_bits)

    def _extension(self, snct: bool, cnct: bool, sbits: int | None, cbits: int | None) -> PerMessageDeflate:
        return PerMessageDeflate(
            server_no_context_takeover=snct,
            client_no_context_takeover=cnct,
            server_max_window_bits=sbits,
            client_max_window_bits=cbits,
            compression_level=self.compression_level,
            mem_level=self.mem_level,
            compression_threshold=self.compression_threshold,
        )

    # ------------------------------------------------------------------ client

    def offer(self) -> list[tuple[str, str | None]]:
        """Client side: the parameters of our offer."""
        params: list[tuple[str, str | None]] = []
        if self.server_no_context_takeover:
            params.append((_SERVER_NCT, None))
        if self.client_no_context_takeover:
            params.append((_CLIENT_NCT, None))
        if self.server_max_window_bits is not None:
            params.append((_SERVER_BITS, str(self.server_max_window_bits)))
        bits = self.client_max_window_bits
        params.append((_CLIENT_BITS, None if bits is None else str(bits)))
        return params

    def accept_response(self, params: Params) -> PerMessageDeflate:
        """Client side: the extension the server's answer to ``offer()`` selects.

        Raises ``HandshakeError`` if the answer breaks section 7.1 or would
        limit our compressor to an 8-bit window.
        """
        try:
            return self._accept_response(params)
        except ValueError as exc:
            raise HandshakeError(f"permessage-deflate response refused: {exc}") from None

    def _accept_response(self, params: Params) -> PerMessageDeflate:
        answer = _parse(params)
        # Sections 7.1.1.1 and 7.1.2.1: a server accepts these requests by answering them.
        if self.server_no_context_takeover and _SERVER_NCT not in answer:
            raise ValueError(f"the requested {_SERVER_NCT} is missing")
        sbits = answer.get(_SERVER_BITS)
        if self.server_max_window_bits is not None:
            if sbits is None:
                raise ValueError(f"the requested {_SERVER_BITS} is missing")
            if sbits > self.server_max_window_bits:
                raise ValueError(f"{_SERVER_BITS}={sbits} is over our offer")
        cbits = answer.get(_CLIENT_BITS)
        if _CLIENT_BITS in answer:
            # Section 7.1.2.2: only with a value, and at most what we offered.
            if cbits is None:
                raise ValueError(f"{_CLIENT_BITS} has no value")
            if self.client_max_window_bits is not None and cbits > self.client_max_window_bits:
                raise ValueError(f"{_CLIENT_BITS}={cbits} is over our offer")
            if cbits == 8:
                raise ValueError(f"{_CLIENT_BITS}=8 would need a compressor zlib cannot build")
        else:
            cbits = self.client_max_window_bits  # our own limit still holds
        cnct = _CLIENT_NCT in answer or self.client_no_context_takeover
        return self._extension(_SERVER_NCT in answer, cnct, sbits, cbits)

    # ------------------------------------------------------------------ server

    def accept_offer(self, params: Params) -> tuple[list[tuple[str, str | None]], PerMessageDeflate] | None:
        """Server side: our answer to one offer and the extension, or None to decline."""
        try:
            offer = _parse(params)
        except ValueError:
            return None  # section 7: an invalid offer is declined, not failed
        # Section 7.1.2.1: an offered server_max_window_bits must be answered,
        # with the same or a smaller value; 8 would need a wbits-8 compressor.
        sbits = offer.get(_SERVER_BITS)
        if self.server_max_window_bits is not None:
            sbits = min(sbits or 15, self.server_max_window_bits)
        if sbits == 8:
            return None
        cbits: int | None = None
        if _CLIENT_BITS in offer:
            # Section 7.1.2.2: answer with at most the offered value; echoing a
            # value the client chose keeps our decompressor as small as it allows.
            cbits = offer[_CLIENT_BITS]
            if self.client_max_window_bits is not None:
                cbits = min(cbits or 15, self.client_max_window_bits)
        elif self.require_client_max_window_bits:
            return None
        snct = self.server_no_context_takeover or _SERVER_NCT in offer
        # The client's own hint is taken up: it lets us inflate each message afresh.
        cnct = self.client_no_context_takeover or _CLIENT_NCT in offer
        answer: list[tuple[str, str | None]] = []
        if snct:
            answer.append((_SERVER_NCT, None))
        if cnct:
            answer.append((_CLIENT_NCT, None))
        if sbits is not None:
            answer.append((_SERVER_BITS, str(sbits)))
        if cbits is not None:
            answer.append((_CLIENT_BITS, str(cbits)))
        return answer, self._extension(snct, cnct, sbits, cbits)

"""The extension API: how an extension plugs into a connection and a handshake.

Rules of this module:
- An ``Extension`` owns RSV bits and/or custom opcodes on one connection, and
  transforms frames on their way in (``decode``) and out (``encode``). Nothing is
  registered globally: the connection builds its tables from the extensions it
  was given and ``claims()`` checks that no two claim the same bit or opcode.
- An extension claims an RSV bit by clearing it in ``decode``; any bit still set
  after every decoder has run fails the connection with 1002 (RFC 6455 section 5.2).
- An ``ExtensionFactory`` negotiates in the opening handshake and returns the
  configured ``Extension``; it is never mutated by negotiation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Protocol

from .._codes import Role
from .._frame import Frame

__all__ = ["Extension", "ExtensionFactory", "Frame", "OpcodeKind", "Params", "claims"]

#: Extension parameters as they appear in ``Sec-WebSocket-Extensions``:
#: ``[(name, value or None), ...]``, in order, values unquoted.
Params = Sequence[tuple[str, "str | None"]]


class OpcodeKind(enum.Enum):
    """What a custom opcode is: data (0x3-0x7) or control (0xB-0xF)."""

    DATA = "data"
    CONTROL = "control"


class Extension(Protocol):
    """A negotiated extension, bound to one connection."""

    # Read-only properties, so that plain class attributes satisfy them.
    @property
    def name(self) -> str:
        """The registered name, e.g. ``"permessage-deflate"``."""

    @property
    def rsv_mask(self) -> int:
        """The RSV bits this extension may find set on received frames (a subset of 0x70)."""

    @property
    def opcodes(self) -> Mapping[int, OpcodeKind]:
        """The custom opcodes this extension owns, and what kind each is."""

    def bind(self, role: Role) -> None:
        """Called once by the connection, so the extension learns its side."""

    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        """Transform a received frame; clear the RSV bits consumed.

        *max_size* is what is left of the message budget: a decoder that expands
        data must raise ``RemoteProtocolError(..., 1009)`` rather than exceed it.
        """

    def encode(self, frame: Frame) -> Frame:
        """Transform a frame about to be sent; set the RSV bits it uses."""


class ExtensionFactory(Protocol):
    """Negotiates one extension in the opening handshake (RFC 6455 section 9.1)."""

    @property
    def name(self) -> str:
        """The registered name of the extension it negotiates."""

    def offer(self) -> list[tuple[str, str | None]]:
        """Client side: the parameters to offer."""

    def accept_response(self, params: Params) -> Extension:
        """Client side: the extension the server's answer selects.

        Raises ``HandshakeError`` if the answer is not acceptable.
        """

    def accept_offer(self, params: Params) -> tuple[list[tuple[str, str | None]], Extension] | None:
        """Server side: the parameters to answer with and the extension, or None to decline."""


def claims(extensions: Sequence[Extension]) -> tuple[int, dict[int, OpcodeKind]]:
    """The RSV bits and custom opcodes *extensions* claim together.

    Raises ``ValueError`` if two claim the same bit or opcode, or one claims
    what is not reserved (RFC 6455 sections 5.2 and 11.8). The connection and
    the handshake's negotiation both judge claims here.
    """
    claimed_rsv = 0
    opcodes: dict[int, OpcodeKind] = {}
    for extension in extensions:
        rsv = extension.rsv_mask
        if rsv & ~0x70:
            raise ValueError(f"{extension.name}: rsv_mask {rsv:#x} is not a subset of 0x70")
        if rsv & claimed_rsv:
            raise ValueError(f"{extension.name}: RSV bits {rsv & claimed_rsv:#04x} are already claimed")
        claimed_rsv |= rsv
        for opcode, kind in extension.opcodes.items():
            allowed = range(0x3, 0x8) if kind is OpcodeKind.DATA else range(0xB, 0x10)
            if opcode not in allowed:
                raise ValueError(f"{extension.name}: {opcode!r} is not a reserved {kind.value} opcode")
            if opcode in opcodes:
                raise ValueError(f"{extension.name}: opcode {opcode:#x} is already claimed")
            opcodes[opcode] = kind
    return claimed_rsv, opcodes

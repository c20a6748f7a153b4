"""Opcodes and close codes of RFC 6455, and which close codes may cross the wire.

Rules of this module:
- Pure data and predicates: no state, no errors raised.
- The close-code predicates follow RFC 6455 section 7.4 and the IANA registry
  (which adds 1012-1014). Codes 1004, 1005, 1006 and 1015 are reserved for local
  use and MUST NOT appear in a Close frame (section 7.4.1).
"""

from __future__ import annotations

import enum

__all__ = [
    "BINARY",
    "CLOSE",
    "CONTINUATION",
    "PING",
    "PONG",
    "TEXT",
    "CloseCode",
    "Opcode",
    "Role",
    "is_valid_close_code",
]


class Role(enum.Enum):
    """Which end of the connection we are. Clients mask what they send (section 5.3)."""

    CLIENT = "client"
    SERVER = "server"


class Opcode(enum.IntEnum):
    """The opcodes RFC 6455 section 5.2 defines. 3-7 and 0xB-0xF are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        """Whether this is a control opcode (0x8-0xF, section 5.5)."""
        return self >= 0x8


# The opcodes as plain ints, for the hot paths: no enum attribute lookup there.
CONTINUATION = Opcode.CONTINUATION.value
TEXT = Opcode.TEXT.value
BINARY = Opcode.BINARY.value
CLOSE = Opcode.CLOSE.value
PING = Opcode.PING.value
PONG = Opcode.PONG.value


class CloseCode(enum.IntEnum):
    """Close status codes (RFC 6455 section 7.4.1 and the IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005  # never on the wire: stands for "no status code"
    ABNORMAL_CLOSURE = 1006  # never on the wire: the transport closed first
    INVALID_FRAME_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # never on the wire


def is_valid_close_code(code: int) -> bool:
    """Whether *code* may be carried in a Close frame, in either direction.

    1000-1003 and 1007-1014 are defined by RFC 6455 and IANA, 3000-3999 are
    registered for libraries and frameworks, 4000-4999 are private. Everything
    else is unassigned or reserved, and a peer sending it fails the connection.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999

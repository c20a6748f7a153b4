"""Close-code predicates and the public names."""

from __future__ import annotations

import noio_ws
from noio_ws import CloseCode, Opcode
from noio_ws._codes import is_valid_close_code


def test_valid_close_codes() -> None:
    valid = {code for code in range(70000) if is_valid_close_code(code)}
    assert valid == set(range(1000, 1004)) | set(range(1007, 1015)) | set(range(3000, 5000))


def test_reserved_codes_are_not_valid() -> None:
    for code in (CloseCode.NO_STATUS_RCVD, CloseCode.ABNORMAL_CLOSURE, CloseCode.TLS_HANDSHAKE, 1004):
        assert not is_valid_close_code(code)


def test_opcodes() -> None:
    assert [op for op in Opcode if op.is_control] == [Opcode.CLOSE, Opcode.PING, Opcode.PONG]


def test_public_names() -> None:
    for name in noio_ws.__all__:
        assert getattr(noio_ws, name) is not None
    assert noio_ws.__version__

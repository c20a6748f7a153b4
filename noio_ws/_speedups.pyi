def apply_mask(
    data: bytes | bytearray | memoryview, key: bytes | bytearray | memoryview, offset: int = 0, /
) -> bytes: ...
def apply_mask_into(
    target: bytearray | memoryview,
    data: bytes | bytearray | memoryview,
    key: bytes | bytearray | memoryview,
    offset: int = 0,
    /,
) -> None: ...
def serialize(
    first_byte: int, payload: bytes | bytearray | memoryview, mask_key: bytes | None, /
) -> bytes: ...

class ArrivingText:
    def __init__(self, start: int, end: int, masked: int, /) -> None: ...
    def check(self, data: bytes | bytearray | memoryview, position: int, /) -> None: ...

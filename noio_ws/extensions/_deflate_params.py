"""permessage-deflate's settings and their negotiation (RFC 7692 sections 5 and 7).

Rules of this module:
- ``DeflateSettings`` is the one place the seven settings are validated. The
  extension holds the agreed ones, its factory the preferred ones; both read
  them through ``SettingsAttributes``.
- Negotiation is pure: it reads preferences and parameters and returns new,
  validated settings. Nothing here holds compression state, and nothing is
  mutated by negotiating.
- Parameters are parsed strictly (section 7): an unknown or duplicated name, a
  value where none belongs or a window size out of range makes the whole offer
  invalid; a server declines it, a client refuses such a response.
- zlib cannot build a raw compressor with an 8-bit window, so an offer that would
  limit our compressor to 8 bits is declined and such a response is refused.
  The window sizes we ask for start at 9, so that a noio_ws peer never declines us.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import InitVar, dataclass

from ._base import Params

__all__ = [
    "CLIENT_BITS",
    "CLIENT_NCT",
    "SERVER_BITS",
    "SERVER_NCT",
    "DeflateSettings",
    "SettingsAttributes",
    "agreed_by_response",
    "answer_offer",
    "offer_params",
]

SERVER_NCT = "server_no_context_takeover"
CLIENT_NCT = "client_no_context_takeover"
SERVER_BITS = "server_max_window_bits"
CLIENT_BITS = "client_max_window_bits"
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}  # section 7.1.2: no leading zeroes

Answer = list[tuple[str, "str | None"]]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeflateSettings:
    """The four RFC 7692 parameters and zlib's three settings, validated.

    *lowest_window_bits* is 8 for agreed parameters and 9 for a factory's
    preferences (see the module's rules).
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    compression_level: int = zlib.Z_DEFAULT_COMPRESSION
    mem_level: int = 8
    compression_threshold: int = 0
    lowest_window_bits: InitVar[int] = 8

    def __post_init__(self, lowest_window_bits: int) -> None:
        for name, bits in (
            (SERVER_BITS, self.server_max_window_bits),
            (CLIENT_BITS, self.client_max_window_bits),
        ):
            # type() rather than isinstance(): True is no window size.
            if bits is not None and (type(bits) is not int or not lowest_window_bits <= bits <= 15):
                raise ValueError(
                    f"{name} must be None or an int from {lowest_window_bits} to 15, not {bits!r}"
                )
        level, mem_level, threshold = self.compression_level, self.mem_level, self.compression_threshold
        if type(level) is not int or not -1 <= level <= 9:
            raise ValueError(f"compression_level must be an int from -1 to 9, not {level!r}")
        if type(mem_level) is not int or not 1 <= mem_level <= 9:
            raise ValueError(f"mem_level must be an int from 1 to 9, not {mem_level!r}")
        if type(threshold) is not int or threshold < 0:
            raise ValueError(f"compression_threshold must be an int of at least 0, not {threshold!r}")
        # The flags may be given as any truth value; they are kept as bools.
        object.__setattr__(self, "server_no_context_takeover", bool(self.server_no_context_takeover))
        object.__setattr__(self, "client_no_context_takeover", bool(self.client_no_context_takeover))

    def agreed(self, snct: bool, cnct: bool, sbits: int | None, cbits: int | None) -> DeflateSettings:
        """These settings with the four parameters negotiation agreed on."""
        return dataclasses.replace(
            self,
            server_no_context_takeover=snct,
            client_no_context_takeover=cnct,
            server_max_window_bits=sbits,
            client_max_window_bits=cbits,
        )


class SettingsAttributes:
    """The settings, readable (not writable) as attributes of the object holding them."""

    _settings: DeflateSettings

    @property
    def server_no_context_takeover(self) -> bool:
        return self._settings.server_no_context_takeover

    @property
    def client_no_context_takeover(self) -> bool:
        return self._settings.client_no_context_takeover

    @property
    def server_max_window_bits(self) -> int | None:
        return self._settings.server_max_window_bits

    @property
    def client_max_window_bits(self) -> int | None:
        return self._settings.client_max_window_bits

    @property
    def compression_level(self) -> int:
        return self._settings.compression_level

    @property
    def mem_level(self) -> int:
        return self._settings.mem_level

    @property
    def compression_threshold(self) -> int:
        return self._settings.compression_threshold


def _parse(params: Params) -> dict[str, int | None]:
    """The parameters of one offer or response; ValueError if any is invalid.

    No-context-takeover flags map to None; window bits to their value, or
    None for a valueless ``client_max_window_bits`` (section 7.1.2.2).
    """
    parsed: dict[str, int | None] = {}
    for name, value in params:
        if name in parsed:
            raise ValueError(f"duplicate parameter {name}")  # section 7: MUST decline
        if name in (SERVER_NCT, CLIENT_NCT):
            if value is not None:
                raise ValueError(f"{name} takes no value")
            parsed[name] = None
        elif name in (SERVER_BITS, CLIENT_BITS):
            if value is None and name == CLIENT_BITS:
                parsed[name] = None
            elif value in _WINDOW_BITS:
                parsed[name] = _WINDOW_BITS[value]
            else:
                raise ValueError(f"invalid {name} value {value!r}")
        else:
            raise ValueError(f"unknown parameter {name}")
    return parsed


# ------------------------------------------------------------------ client


def offer_params(preferences: DeflateSettings) -> Answer:
    """Client side: the parameters of our offer.

    ``client_max_window_bits`` is always offered, valueless unless set: it
    lets the server limit our window (section 7.1.2.2).
    """
    params: Answer = []
    if preferences.server_no_context_takeover:
        params.append((SERVER_NCT, None))
    if preferences.client_no_context_takeover:
        params.append((CLIENT_NCT, None))
    if preferences.server_max_window_bits is not None:
        params.append((SERVER_BITS, str(preferences.server_max_window_bits)))
    bits = preferences.client_max_window_bits
    params.append((CLIENT_BITS, None if bits is None else str(bits)))
    return params


def agreed_by_response(preferences: DeflateSettings, params: Params) -> DeflateSettings:
    """Client side: the settings the server's answer to our offer selects.

    Raises ``ValueError`` if the answer breaks section 7.1 or would limit our
    compressor to an 8-bit window.
    """
    answer = _parse(params)
    # Sections 7.1.1.1 and 7.1.2.1: a server accepts these requests by answering them.
    if preferences.server_no_context_takeover and SERVER_NCT not in answer:
        raise ValueError(f"the requested {SERVER_NCT} is missing")
    sbits = answer.get(SERVER_BITS)
    if preferences.server_max_window_bits is not None:
        if sbits is None:
            raise ValueError(f"the requested {SERVER_BITS} is missing")
        if sbits > preferences.server_max_window_bits:
            raise ValueError(f"{SERVER_BITS}={sbits} is over our offer")
    cbits = answer.get(CLIENT_BITS)
    if CLIENT_BITS in answer:
        # Section 7.1.2.2: only with a value, and at most what we offered.
        if cbits is None:
            raise ValueError(f"{CLIENT_BITS} has no value")
        if preferences.client_max_window_bits is not None and cbits > preferences.client_max_window_bits:
            raise ValueError(f"{CLIENT_BITS}={cbits} is over our offer")
        if cbits == 8:
            raise ValueError(f"{CLIENT_BITS}=8 would need a compressor zlib cannot build")
    else:
        cbits = preferences.client_max_window_bits  # our own limit still holds
    # Our own client_no_context_takeover is a promise kept whatever the answer.
    cnct = CLIENT_NCT in answer or preferences.client_no_context_takeover
    return preferences.agreed(SERVER_NCT in answer, cnct, sbits, cbits)


# ------------------------------------------------------------------ server


def answer_offer(
    preferences: DeflateSettings, params: Params, *, require_client_max_window_bits: bool
) -> tuple[Answer, DeflateSettings] | None:
    """Server side: our answer to one offer and the agreed settings, or None to decline."""
    try:
        offer = _parse(params)
    except ValueError:
        return None  # section 7: an invalid offer is declined, not failed
    # Section 7.1.2.1: an offered server_max_window_bits must be answered,
    # with the same or a smaller value; 8 would need a wbits-8 compressor.
    sbits = offer.get(SERVER_BITS)
    if preferences.server_max_window_bits is not None:
        sbits = min(sbits or 15, preferences.server_max_window_bits)
    if sbits == 8:
        return None
    cbits: int | None = None
    if CLIENT_BITS in offer:
        # Section 7.1.2.2: answer with at most the offered value; echoing a
        # value the client chose keeps our decompressor as small as it allows.
        cbits = offer[CLIENT_BITS]
        if preferences.client_max_window_bits is not None:
            cbits = min(cbits or 15, preferences.client_max_window_bits)
    elif require_client_max_window_bits:
        return None
    snct = preferences.server_no_context_takeover or SERVER_NCT in offer
    # The client's own hint is taken up: it lets us inflate each message afresh.
    cnct = preferences.client_no_context_takeover or CLIENT_NCT in offer
    answer: Answer = []
    if snct:
        answer.append((SERVER_NCT, None))
    if cnct:
        answer.append((CLIENT_NCT, None))
    if sbits is not None:
        answer.append((SERVER_BITS, str(sbits)))
    if cbits is not None:
        answer.append((CLIENT_BITS, str(cbits)))
    return answer, preferences.agreed(snct, cnct, sbits, cbits)

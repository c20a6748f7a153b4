"""What both opening handshakes negotiate: subprotocol, extensions, origin, version.

Rules of this module:

- One implementation for every HTTP version. The HTTP/1.1 handshake
  (``handshake``) and extended CONNECT over HTTP/2 and HTTP/3
  (``extended_connect``) differ in how the request is framed, not in what is
  agreed: both call these functions on a list of ``(name, value)`` bytes pairs
  whose names are lowercase (h11's and HTTP/2's form).
- No h11 and no state beyond the server's configuration (``ServerPolicy``).
- A peer's mistake is a ``HandshakeError`` with the status to answer with (400,
  403, 426); the caller's is ``ValueError`` (bad arguments) or
  ``LocalProtocolError`` (a choice the client did not offer). Names, values,
  tokens and origins given by the caller may be ``str`` or ``bytes``.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from ._codes import Role
from ._connection import Connection
from ._errors import HandshakeError, LocalProtocolError
from ._headers import (
    ExtensionEntry,
    ExtensionText,
    as_bytes,
    as_header_list,
    as_text,
    format_extension_list,
    format_token_list,
    header_values,
    parse_extension_list,
    parse_token_list,
)
from ._limits import check_limits
from .extensions._base import Extension, ExtensionFactory, claims

__all__ = [
    "CONFIGURED",
    "ConnectionOptions",
    "Headers",
    "OriginPolicy",
    "ServerPolicy",
    "SubprotocolSelector",
    "accept_extensions",
    "agreed_extensions",
    "agreed_subprotocol",
    "answer_headers",
    "check_extra_headers",
    "check_options",
    "check_version",
    "choose_subprotocol",
    "client_connection",
    "offer_headers",
    "read_offers",
]

#: Header fields as a caller gives them: ``(name, value)`` pairs of ``str`` or ``bytes``.
Headers = Sequence[tuple["str | bytes", "str | bytes"]]
#: A server's choice of subprotocol, given the client's offers: one of them, or None.
SubprotocolSelector = Callable[[list[str]], "str | bytes | None"]
#: Accepted Origin values (None stands for "no Origin header"), or a callable given the origin.
OriginPolicy = Collection["str | bytes | None"] | Callable[["str | None"], bool]


class _Configured(enum.Enum):
    """The type of ``CONFIGURED``."""

    CONFIGURED = "CONFIGURED"

    def __repr__(self) -> str:
        return "CONFIGURED"


#: ``accept()``'s default: the subprotocol chosen from the server's configuration.
CONFIGURED = _Configured.CONFIGURED


class ConnectionOptions(TypedDict, total=False):
    """The keyword options of ``noio_ws.Connection`` a driver passes on."""

    max_message_size: int | None
    max_frame_size: int | None
    stream_messages: bool
    validate_utf8: bool
    text_as_bytes: bool
    max_send_frame_size: int | None
    mask_key_source: Callable[[], bytes] | None


# The keyword options of Connection that a handshake passes on.
_CONNECTION_OPTIONS = frozenset(
    name
    for name, parameter in inspect.signature(Connection).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "extensions"
)


def check_options(options: Mapping[str, Any]) -> None:
    """Fail at construction, not at the end of the handshake, on bad Connection options."""
    unknown = set(options) - _CONNECTION_OPTIONS
    if unknown:
        raise TypeError(f"unexpected connection options: {', '.join(sorted(unknown))}")
    check_limits(
        options.get("max_message_size"), options.get("max_frame_size"), options.get("max_send_frame_size")
    )


def client_connection(extensions: Sequence[Extension], options: Mapping[str, Any]) -> Connection:
    """The client's Connection with the agreed *extensions*; ``HandshakeError`` if they clash."""
    try:
        return Connection(Role.CLIENT, extensions=extensions, **options)
    except ValueError as exc:  # the server agreed to extensions that claim the same bits
        raise HandshakeError(f"the server's extensions conflict: {exc}") from exc


def check_extra_headers(headers: Headers, is_managed: Callable[[bytes], bool]) -> list[tuple[bytes, bytes]]:
    """*headers* as bytes pairs; ``ValueError`` for one the handshake sets itself."""
    pairs = as_header_list(headers)
    for name, _ in pairs:
        if is_managed(name.lower()):
            raise ValueError(f"{name!r} is set by the handshake; it cannot be an extra header")
    return pairs


# ------------------------------------------------------------------ the client's side


def offer_headers(
    subprotocols: Sequence[str | bytes], extensions: Sequence[ExtensionFactory], origin: str | bytes | None
) -> list[tuple[bytes, bytes]]:
    """Origin, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions of a request (section 4.1)."""
    headers = []
    if origin is not None:
        headers.append((b"Origin", as_bytes(origin, "origin")))
    if subprotocols:
        headers.append((b"Sec-WebSocket-Protocol", format_token_list(subprotocols)))
    if extensions:
        offers = format_extension_list((factory.name, factory.offer()) for factory in extensions)
        headers.append((b"Sec-WebSocket-Extensions", offers))
    return headers


def agreed_subprotocol(headers: Sequence[tuple[bytes, bytes]], offered: Sequence[str]) -> str | None:
    """Sections 4.1 and 11.3.4: at most one subprotocol, and one the client offered."""
    chosen = parse_token_list(header_values(headers, b"sec-websocket-protocol"), "Sec-WebSocket-Protocol")
    if not chosen:
        return None
    if len(chosen) > 1 or chosen[0] not in offered:
        raise HandshakeError(f"the server chose subprotocol {', '.join(chosen)}, which was not offered")
    return chosen[0]


def agreed_extensions(
    headers: Sequence[tuple[bytes, bytes]], factories: Sequence[ExtensionFactory]
) -> list[Extension]:
    """Section 4.1: only offered extensions, each once, in the server's order."""
    by_name: dict[str, ExtensionFactory] = {}
    for factory in factories:
        by_name.setdefault(factory.name, factory)
    agreed: list[Extension] = []
    seen: set[str] = set()
    for name, params in parse_extension_list(header_values(headers, b"sec-websocket-extensions")):
        chosen = by_name.get(name)
        if chosen is None:
            raise HandshakeError(f"the server selected extension {name}, which was not offered")
        if name in seen:
            raise HandshakeError(f"the server selected extension {name} twice")
        seen.add(name)
        agreed.append(chosen.accept_response(params))
    return agreed


# ------------------------------------------------------------------ the server's side


def check_version(headers: Sequence[tuple[bytes, bytes]]) -> None:
    """Section 4.2.1 item 6, 4.2.2 item 4 and 4.4: version 13, else 426 naming it."""
    if header_values(headers, b"sec-websocket-version") != [b"13"]:
        raise HandshakeError("unsupported WebSocket version", 426, [(b"Sec-WebSocket-Version", b"13")])


def read_offers(headers: Sequence[tuple[bytes, bytes]]) -> tuple[str | None, list[str], list[ExtensionEntry]]:
    """The Origin (at most one), the subprotocols and the extensions a request offers."""
    origins = header_values(headers, b"origin")
    if len(origins) > 1:
        raise HandshakeError("more than one Origin header")
    subprotocols = parse_token_list(
        header_values(headers, b"sec-websocket-protocol"), "Sec-WebSocket-Protocol"
    )
    extensions = parse_extension_list(header_values(headers, b"sec-websocket-extensions"))
    # check_ascii has vouched for the Origin's bytes.
    return (origins[0].decode("ascii") if origins else None), subprotocols, extensions


def choose_subprotocol(
    offered: Sequence[str], supported: Sequence[str | bytes] | SubprotocolSelector
) -> str | None:
    """The subprotocol to answer with (section 4.2.2 item 5.4), or None.

    *supported* is the server's list in order of preference (the first one the
    client offered wins) or a callable given the offers. A callable that returns
    something the client did not offer raises ``LocalProtocolError``.
    """
    if callable(supported):
        chosen = supported(list(offered))
        return None if chosen is None else _offered_one(chosen, offered, "select_subprotocol chose")
    names = [as_text(protocol, "subprotocol") for protocol in supported]
    return next((protocol for protocol in names if protocol in offered), None)


def _offered_one(subprotocol: str | bytes, offered: Sequence[str], what: str) -> str:
    chosen = as_text(subprotocol, "subprotocol")
    if chosen not in offered:  # section 4.2.2 item 5.4: one the client offered
        raise LocalProtocolError(f"{what} {chosen!r}, which the client did not offer")
    return chosen


def accept_extensions(
    offers: Sequence[ExtensionEntry], factories: Sequence[ExtensionFactory]
) -> tuple[list[ExtensionEntry], list[Extension]]:
    """Accept the client's extension offers (section 9.1): the response entries and extensions.

    Offers are taken in the client's order; an offer goes to the first unused
    factory of its name that accepts it, so for each name the first acceptable
    offer wins. An extension whose RSV bits or opcodes collide with one already
    accepted is declined. The order of the result is the order of application.
    """
    entries: list[ExtensionEntry] = []
    agreed: list[Extension] = []
    for name, params in offers:
        if any(entry[0] == name for entry in entries):
            continue
        for factory in factories:
            if factory.name != name:
                continue
            result = factory.accept_offer(params)
            if result is None or _collides(result[1], agreed):
                continue
            entries.append((name, list(result[0])))
            agreed.append(result[1])
            break
    return entries, agreed


def _collides(extension: Extension, agreed: list[Extension]) -> bool:
    """Whether *extension* claims an RSV bit or opcode that one agreed before it claims."""
    try:
        claims([*agreed, extension])
    except ValueError:
        return True
    return False


def answer_headers(
    subprotocol: str | bytes | None, extensions: Sequence[ExtensionText]
) -> list[tuple[bytes, bytes]]:
    """Sec-WebSocket-Protocol and Sec-WebSocket-Extensions of an accepting response (4.2.2)."""
    headers = []
    if subprotocol is not None:
        headers.append((b"Sec-WebSocket-Protocol", format_token_list([subprotocol])))
    if extensions:
        headers.append((b"Sec-WebSocket-Extensions", format_extension_list(extensions)))
    return headers


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What a server agreed to for one request."""

    subprotocol: str | None
    entries: list[ExtensionEntry]
    extensions: list[Extension]


class ServerPolicy:
    """A server's configuration of subprotocols, extensions and origins, and its choices."""

    def __init__(
        self,
        subprotocols: Sequence[str | bytes],
        select_subprotocol: SubprotocolSelector | None,
        extensions: Sequence[ExtensionFactory],
        origins: OriginPolicy | None,
    ) -> None:
        if subprotocols and select_subprotocol is not None:
            raise ValueError("give subprotocols or select_subprotocol, not both")
        self._supported: Sequence[str] | SubprotocolSelector = (
            select_subprotocol
            if select_subprotocol is not None
            else [as_text(protocol, "subprotocol") for protocol in subprotocols]
        )
        self._factories = list(extensions)
        self._origins: Collection[str | None] | Callable[[str | None], bool] | None = (
            origins
            if origins is None or callable(origins)
            else {None if origin is None else as_text(origin, "origin") for origin in origins}
        )

    def negotiate(
        self, origin: str | None, subprotocols: list[str], offers: list[ExtensionEntry]
    ) -> Negotiated:
        """Check the origin (403), choose a subprotocol, accept extensions."""
        policy = self._origins
        if policy is not None and not (policy(origin) if callable(policy) else origin in policy):
            raise HandshakeError("origin not allowed", 403)
        subprotocol = choose_subprotocol(subprotocols, self._supported)
        entries, extensions = accept_extensions(offers, self._factories)
        return Negotiated(subprotocol, entries, extensions)

    @staticmethod
    def final_subprotocol(
        requested: str | bytes | _Configured | None, negotiated: Negotiated, offered: Sequence[str]
    ) -> str | None:
        """The subprotocol ``accept(subprotocol=requested)`` answers with."""
        if requested is CONFIGURED:
            return negotiated.subprotocol
        if requested is None:
            return None
        return _offered_one(requested, offered, "accept() was given subprotocol")

"""The extension API: RSV bits, custom opcodes and negotiation, per connection."""

from ._base import Extension, ExtensionFactory, Frame, OpcodeKind, Params
from .permessage_deflate import PerMessageDeflate, PerMessageDeflateFactory

__all__ = [
    "Extension",
    "ExtensionFactory",
    "Frame",
    "OpcodeKind",
    "Params",
    "PerMessageDeflate",
    "PerMessageDeflateFactory",
]

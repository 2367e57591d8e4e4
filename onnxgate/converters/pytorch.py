"""PyTorch converter (being written)."""

from __future__ import annotations

from onnxgate.converters._base import Converter

__all__ = ["PyTorchConverter"]


class PyTorchConverter(Converter):
    framework = "pytorch"
    PRIORITY = 10
    MODULE_PREFIXES = ("torch.",)

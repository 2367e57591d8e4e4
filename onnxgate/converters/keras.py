"""Keras converter (being written)."""

from __future__ import annotations

from onnxgate.converters._base import Converter

__all__ = ["KerasConverter"]


class KerasConverter(Converter):
    framework = "keras"
    PRIORITY = 20
    MODULE_PREFIXES = ("keras.",)

"""TensorFlow converter (being written)."""

from __future__ import annotations

from onnxgate.converters._base import Converter

__all__ = ["TensorFlowConverter"]


class TensorFlowConverter(Converter):
    framework = "tensorflow"
    MODULE_PREFIXES = ("tensorflow.",)

"""keras reference models (being written)."""

from __future__ import annotations

from onnxgate.zoo._base import ZooEntry

__all__ = ["ENTRIES"]

ENTRIES: tuple[ZooEntry, ...] = ()

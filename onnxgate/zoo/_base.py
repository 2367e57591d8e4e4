"""``ZooEntry`` and the zoo registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from onnxgate.errors import OnnxGateError, UnknownNameError

__all__ = ["ZooEntry", "ZooRegistry"]

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class ZooEntry:
    """A reference model: how to build it, and what it is known to meet.

    Attributes
    ----------
    name : str
        ``"<framework>-<dataset>-<model>"``.
    framework : str
        The converter that handles it.
    task : {"classification", "regression"}
    builder : callable
        Returns ``(model, X, y)``; deterministic, about a second on this machine.
    atol, rtol : float
        Tolerances its ONNX conversion is known to meet against the native model.
    description : str
    opsets : tuple of int
        Opsets it is known to convert at (tested).
    tags : tuple of str
        e.g. ``("dataframe",)``, ``("planted-divergence",)``.
    precision : str, optional
        The ``precision`` ``onnxgate zoo export`` converts it at (None: ``convert``'s default).
    """

    name: str
    framework: str
    task: Task
    builder: Callable[[], tuple[Any, Any, Any]] = field(repr=False)
    atol: float = 1e-5
    rtol: float = 1e-4
    description: str = ""
    opsets: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    precision: str | None = None

    def build(self) -> tuple[Any, Any, Any]:
        """Train the model. Returns ``(model, X, y)`` with X the rows it was trained on."""
        return self.builder()


class ZooRegistry:
    def __init__(self) -> None:
        self._entries: dict[str, ZooEntry] = {}

    def register(self, entry: ZooEntry, *, overwrite: bool = False) -> ZooEntry:
        if entry.name in self._entries and not overwrite:
            raise OnnxGateError(f"zoo entry {entry.name!r} is already registered; pass overwrite=True to replace it")
        self._entries[entry.name] = entry
        return entry

    def get(self, name: str) -> ZooEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(f"unknown zoo entry {name!r}; known entries are {self.names()}") from None

    def names(self, framework: str | None = None) -> list[str]:
        known = sorted({e.framework for e in self._entries.values()})
        if framework is not None and framework not in known:  # names("SKLEARN") was [], read as "no models"
            raise UnknownNameError(f"no zoo entries for framework {framework!r}; the zoo's frameworks are {known}")
        return sorted(n for n, e in self._entries.items() if framework is None or e.framework == framework)

    def entries(self, framework: str | None = None) -> list[ZooEntry]:
        return [self._entries[n] for n in self.names(framework)]

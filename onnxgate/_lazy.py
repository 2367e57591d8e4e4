"""Packages that import their members on first use (PEP 562), so that ``onnxgate validate`` without a reference
does not import parity, the search or the adaptation it never runs."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any


def lazy_members(namespace: dict[str, Any], lazy: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                                             Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is ``namespace``: a name of
    ``lazy`` is imported from its module when first read (then kept in ``namespace``); any other name that is a
    submodule of the package is that submodule, as when the package imported every module itself
    (``import onnxgate.validators`` then ``onnxgate.validators.parity.X``); else AttributeError."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module_name = lazy.get(name)
        if module_name is None:
            if name.isidentifier() and importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace["__all__"]))

    return __getattr__, __dir__

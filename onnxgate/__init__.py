"""onnxgate: convert models to ONNX at the opset you choose, prove parity, check them against their
deployment target, and package them.

This module is a table of contents. Names are imported on first use, so ``import onnxgate`` loads
no framework and not even onnx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CheckResult",
    "Conversion",
    "InvalidDataError",
    "InvalidModelError",
    "MissingDependencyError",
    "OnnxGateError",
    "OpsetError",
    "OutputExistsError",
    "PackagingError",
    "ParityError",
    "Report",
    "Signature",
    "Target",
    "TargetError",
    "TensorSpec",
    "UnknownNameError",
    "UnsupportedModelError",
    "UntrustedFileError",
    "ValidationFailedError",
    "__version__",
    "adapt",
    "convert",
    "package",
    "targets",
    "testing",
    "validate",
    "zoo",
]

_LAZY: dict[str, tuple[str, str | None]] = {
    "CheckResult": ("onnxgate.validators", "CheckResult"),
    "Conversion": ("onnxgate.conversion", "Conversion"),
    "InvalidDataError": ("onnxgate.errors", "InvalidDataError"),
    "InvalidModelError": ("onnxgate.errors", "InvalidModelError"),
    "MissingDependencyError": ("onnxgate.errors", "MissingDependencyError"),
    "OnnxGateError": ("onnxgate.errors", "OnnxGateError"),
    "OpsetError": ("onnxgate.errors", "OpsetError"),
    "OutputExistsError": ("onnxgate.errors", "OutputExistsError"),
    "PackagingError": ("onnxgate.errors", "PackagingError"),
    "ParityError": ("onnxgate.errors", "ParityError"),
    "Report": ("onnxgate.validators", "Report"),
    "Signature": ("onnxgate.signature", "Signature"),
    "Target": ("onnxgate.targets", "Target"),
    "TargetError": ("onnxgate.errors", "TargetError"),
    "TensorSpec": ("onnxgate.signature", "TensorSpec"),
    "UnknownNameError": ("onnxgate.errors", "UnknownNameError"),
    "UnsupportedModelError": ("onnxgate.errors", "UnsupportedModelError"),
    "UntrustedFileError": ("onnxgate.errors", "UntrustedFileError"),
    "ValidationFailedError": ("onnxgate.errors", "ValidationFailedError"),
    "adapt": ("onnxgate.api", "adapt"),
    "convert": ("onnxgate.api", "convert"),
    "package": ("onnxgate.api", "package"),
    "targets": ("onnxgate.targets", None),
    "testing": ("onnxgate.testing", None),
    "validate": ("onnxgate.validators", "validate"),
    "zoo": ("onnxgate.zoo", None),
}

if TYPE_CHECKING:
    from onnxgate import targets, testing, zoo
    from onnxgate.api import adapt, convert, package
    from onnxgate.conversion import Conversion
    from onnxgate.errors import (
        InvalidDataError,
        InvalidModelError,
        MissingDependencyError,
        OnnxGateError,
        OpsetError,
        OutputExistsError,
        PackagingError,
        ParityError,
        TargetError,
        UnknownNameError,
        UnsupportedModelError,
        UntrustedFileError,
        ValidationFailedError,
    )
    from onnxgate.signature import Signature, TensorSpec
    from onnxgate.targets import Target
    from onnxgate.validators import CheckResult, Report, validate


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'onnxgate' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

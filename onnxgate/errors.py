"""One exception hierarchy for onnxgate.

Every public exception derives from :class:`OnnxGateError` and also from the builtin a caller
would naturally catch, so ``except ValueError`` keeps working for code that does not know
onnxgate. Messages follow one shape: what was expected, what was found, how to fix it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "InvalidDataError",
    "InvalidModelError",
    "MissingDependencyError",
    "OnnxGateError",
    "OpsetError",
    "OutputExistsError",
    "PackagingError",
    "ParityError",
    "TargetError",
    "UnknownNameError",
    "UnsupportedModelError",
    "UntrustedFileError",
    "ValidationFailedError",
]


class OnnxGateError(Exception):
    """Root of every error onnxgate raises on purpose.

    Structured fields (``opset``, ``input``, ``output``, ``framework``, ``path``, ``column``) are
    set when they apply and are ``None`` otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        opset: int | None = None,
        input: str | None = None,
        output: str | None = None,
        framework: str | None = None,
        path: str | None = None,
        column: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.opset = opset
        self.input = input
        self.output = output
        self.framework = framework
        self.path = path
        self.column = column
        self.extra = extra

    def __str__(self) -> str:
        return self.message


class UnsupportedModelError(OnnxGateError, TypeError):
    """The model's type has no converter, or the converter cannot handle part of it."""


class OpsetError(OnnxGateError, ValueError):
    """The requested opset cannot be produced, or a model's opset is outside a target's caps.

    ``opset`` is the requested opset; ``extra["max_opset"]`` the highest one that can be reached
    when known.
    """

    @property
    def max_opset(self) -> int | None:
        value = self.extra.get("max_opset")
        return int(value) if value is not None else None


class InvalidModelError(OnnxGateError, ValueError):
    """The bytes given are not a loadable, well-formed ONNX model (not ONNX, truncated, corrupt)."""


class InvalidDataError(OnnxGateError, ValueError):
    """Sample or validation data does not fit the model (columns, types, shapes, encoding)."""


class TargetError(OnnxGateError, ValueError):
    """An unknown target name, or a target definition that is not valid."""


class UnknownNameError(OnnxGateError, KeyError):
    """A name looked up in one of onnxgate's registries (a zoo entry) is not in it; the message lists those that are."""


class ParityError(OnnxGateError, AssertionError):
    """The ONNX model does not predict what the reference model predicts. The message carries the evidence."""


class ValidationFailedError(OnnxGateError, AssertionError):
    """Raised by ``Report.raise_for_failures()`` and by ``package`` for a model that failed its checks.

    ``report`` is the :class:`onnxgate.validators.Report` that failed.
    """

    def __init__(self, message: str, *, report: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.report = report


class PackagingError(OnnxGateError, ValueError):
    """A package cannot be written as asked."""


class OutputExistsError(OnnxGateError, FileExistsError):
    """An output file or folder exists and overwriting was not asked for."""


class UntrustedFileError(OnnxGateError, PermissionError):
    """Loading this file would run code from it (pickle, joblib, torch.load), and that was not allowed."""


class MissingDependencyError(OnnxGateError, ImportError):
    """An optional dependency needed for this operation is not installed; the message names the extra."""


def missing_dependency(package: str, extra: str, purpose: str) -> MissingDependencyError:
    """Build the standard error for an optional dependency that is not installed."""
    return MissingDependencyError(
        f"{purpose} needs the package {package!r}, which is not installed. "
        f"Install it with: pip install 'onnxgate[{extra}]'"
    )


def first_line(err: BaseException | str, limit: int | None = 300) -> str:
    """The first line of an error's message, at most ``limit`` characters (its type name when empty): the
    root cause a one-line message carries."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:limit]

"""``Conversion``: what :func:`onnxgate.convert` returns (core: it knows no framework).

Every part of onnxgate recognises a conversion one way, ``isinstance(obj, Conversion)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx

    from onnxgate.signature import Signature

__all__ = ["Conversion"]


@dataclass
class Conversion:
    """The result of :func:`onnxgate.convert`.

    Attributes
    ----------
    model : onnx.ModelProto
        The ONNX model.
    framework : str
        ``"sklearn"``, ``"pytorch"``, ``"tensorflow"`` or ``"keras"``.
    opset : int
        The default-domain opset stamped in the file; never above ``requested_opset``.
    requested_opset : int
        The opset that was asked for (or the framework default when none was).
    signature : Signature
        Inputs and outputs read from the graph.
    warnings : tuple of str
        Everything the conversion did that the user did not ask for in so many words.
    target : str or None
        The target the model was adapted to, if any.
    source : object
        The native model, used as the parity reference by default.
    sample : object
        The sample the model was converted with.
    options : mapping
        The framework options the conversion was asked for; a conversion made again (for a
        target's opset cap) uses the same ones.
    """

    model: onnx.ModelProto
    framework: str
    opset: int
    requested_opset: int
    signature: Signature
    warnings: tuple[str, ...] = ()
    target: str | None = None
    source: Any = field(default=None, repr=False)
    sample: Any = field(default=None, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    name: str | None = field(default=None, repr=False)

    @property
    def ml_opset(self) -> int | None:
        from onnxgate._onnx import ML_DOMAIN, model_opsets

        return model_opsets(self.model).get(ML_DOMAIN)

    @property
    def opsets(self) -> dict[str, int]:
        from onnxgate._onnx import model_opsets

        return model_opsets(self.model)

    @property
    def ir_version(self) -> int:
        return int(self.model.ir_version)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> str:
        """Write the model as one self-contained file, atomically (temporary file, then rename).

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``overwrite`` is false.
        PackagingError
            ``path`` is not a path (``None``), or ``overwrite`` is not True or False; nothing is written.
        """
        from onnxgate._onnx import atomic_write_bytes, serialize
        from onnxgate.errors import PackagingError

        if not isinstance(path, (str, os.PathLike)):  # save(None) raised pathlib's TypeError
            raise PackagingError(f"path: expected the ONNX file's path (str or os.PathLike), found {path!r}; "
                                 "pass e.g. conv.save(\"model.onnx\")")
        if not isinstance(overwrite, bool):  # overwrite="no" is true, and replaced the file
            raise PackagingError(f"overwrite: expected True or False, found {overwrite!r}")

        atomic_write_bytes(path, serialize(self.model), overwrite=overwrite)
        return os.fspath(path)

    def to_bytes(self) -> bytes:
        from onnxgate._onnx import serialize

        return serialize(self.model)

"""Parity for a SQL-adapted model: the native model's predictions laid out like the adapted outputs.

The adapted model carries its mapping (:mod:`onnxgate.adaptation.mapping`): its column feeds are put
back together into the original inputs, the native model runs through its converter's ``predict``
(or onnxruntime for an ONNX reference), and each original output is split the way the adaptation did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from onnxgate.adaptation.mapping import adaptation_of, adapted_outputs, original_feeds

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["reference_outputs_for_adapted"]


def reference_outputs_for_adapted(
    reference: Any, feeds: Mapping[str, np.ndarray], onnx_model: Any, signature: Signature
) -> list[np.ndarray | None]:
    """Native predictions of ``reference`` laid out like the adapted model's outputs.

    ``feeds`` are the adapted model's inputs (one ``[N,1]`` array per column); they are put back
    together into the original inputs, the native model runs through its converter's ``predict``,
    and each original output is split/reshaped the way :func:`onnxgate.adapt` did.

    Parameters
    ----------
    reference : object
        The native model (or an ONNX model to run with onnxruntime).
    feeds : mapping of str to ndarray
        Feeds for the adapted model.
    onnx_model : onnx.ModelProto, path or bytes
        The adapted model (carries the mapping).
    signature : Signature
        The adapted model's signature.

    Returns
    -------
    list of ndarray or None
        One entry per adapted output, in order; None where the native model has no counterpart.

    Raises
    ------
    InvalidModelError
        ``onnx_model`` carries no adaptation mapping.

    Examples
    --------
    >>> outs = reference_outputs_for_adapted(rf, feeds, adapted, Signature.from_model(adapted))  # doctest: +SKIP
    """
    from onnxgate.errors import InvalidModelError

    mapping = adaptation_of(onnx_model)
    if mapping is None:
        raise InvalidModelError("the model carries no onnxgate.adapt mapping; it was not adapted by onnxgate")
    from onnxgate.signature import output_class_labels

    native_feeds, native_signature = original_feeds(mapping, feeds, onnx_model)
    native = _run_reference(reference, native_feeds, native_signature)
    # a classifier's text labels as the codes the file's own record gives them, never a copy of it
    return adapted_outputs(mapping, native, signature.output_names, output_class_labels(onnx_model))


def _run_reference(reference: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[Any]:
    import onnx

    if isinstance(reference, (onnx.ModelProto, bytes, bytearray)) or (
        isinstance(reference, str) and reference.endswith(".onnx")
    ):
        from onnxgate import runtime
        from onnxgate._onnx import load_model, runnable

        return list(runtime.session(runnable(load_model(reference))).run(None, dict(feeds)))
    from onnxgate.converters import registry
    from onnxgate.errors import UnsupportedModelError as _Unsupported

    try:
        converter = registry.for_model(reference)
    except _Unsupported:
        if callable(reference):  # a plain function of the original feeds
            return list(reference(dict(feeds)))
        raise
    return list(converter.predict(reference, feeds, signature))

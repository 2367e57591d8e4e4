"""Parity tolerances: the defaults by output element type, labels compared exactly, and the user's
values per output (``atol={"": 1e-5, "probabilities": 1e-4}``) resolved against them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from onnxgate.errors import InvalidDataError

if TYPE_CHECKING:
    from onnxgate.signature import TensorSpec

__all__ = ["DEFAULT_TOLERANCES", "EXACT_TYPES", "LABEL_NAME_HINTS", "Mode", "Tolerance", "atol_defaulted",
           "check_tolerance_numbers", "model_tolerances", "resolve_tolerances"]

#: (atol, rtol) by ONNX output element type. float32 allows for the float32 arithmetic inside most
#: converted graphs against a float64 reference; float64 for graphs that compute in double.
DEFAULT_TOLERANCES: Mapping[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-2),
    "bfloat16": (1e-2, 1e-2),
    "float32": (1e-4, 1e-3),
    "float64": (1e-7, 1e-6),
}
#: Element types compared exactly by default (labels, counts, flags, strings).
EXACT_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string"})
#: A floating-point output whose name contains one of these holds class labels: compared exactly.
LABEL_NAME_HINTS: tuple[str, ...] = ("label",)

Mode = Literal["tolerance", "exact"]
Tolerance = float | Mapping[str, float] | None


def _is_exact(spec: TensorSpec) -> bool:
    if spec.elem_type in EXACT_TYPES:
        return True
    return any(h in spec.name.lower() for h in LABEL_NAME_HINTS)


def check_tolerance_numbers(atol: Tolerance = None, rtol: Tolerance = None) -> None:
    """Refuse a tolerance that is not a finite number >= 0, before the model is read: an infinite one passes
    any answer, so the gate would check nothing; a negative one fails every answer.

    Raises
    ------
    InvalidDataError
        A tolerance (the default or one output's) is negative, infinite, NaN or not a number.
    """
    for which, value in (("atol", atol), ("rtol", rtol)):
        items = value.items() if isinstance(value, Mapping) else [("", value)] if value is not None else []
        for key, number in items:
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number < float("inf"):
                raise InvalidDataError(
                    f"{which} for {key or 'all outputs'!r} must be a finite number >= 0, found {number!r}; give 0 "
                    "(exact) or a small positive number such as 1e-5"
                )


def resolve_tolerances(
    outputs: tuple[TensorSpec, ...], atol: Tolerance = None, rtol: Tolerance = None
) -> dict[str, tuple[float, float, Mode]]:
    """(atol, rtol, mode) per output from the user's values and the defaults by type.

    Parameters
    ----------
    outputs : tuple of TensorSpec
        The ONNX model's outputs.
    atol, rtol : float, mapping of str to float, or None
        A scalar applies to floating-point outputs. A mapping gives values per output name, with
        ``""`` as the default for floating-point outputs.

    Returns
    -------
    dict
        ``name -> (atol, rtol, mode)`` where mode is ``"exact"`` or ``"tolerance"``.

    Raises
    ------
    InvalidDataError
        A mapping names an output the model does not have, or a tolerance is negative or not a number.

    Examples
    --------
    >>> from onnxgate.signature import TensorSpec
    >>> outs = (TensorSpec("label", "int64", ("N",)), TensorSpec("probabilities", "float32", ("N", 3)))
    >>> resolve_tolerances(outs, atol={"": 1e-5, "probabilities": 1e-4})
    {'label': (0.0, 0.0, 'exact'), 'probabilities': (0.0001, 0.001, 'tolerance')}
    """
    names = [o.name for o in outputs]
    for which, value in (("atol", atol), ("rtol", rtol)):
        for key in value if isinstance(value, Mapping) else ():
            if key and key not in names:
                raise InvalidDataError(
                    f"{which} given for output {key!r}, which the model does not have; its outputs are "
                    f"{names} ('' sets the default): name one of them"
                )
    check_tolerance_numbers(atol, rtol)
    out: dict[str, tuple[float, float, Mode]] = {}
    for spec in outputs:
        default_a, default_r = DEFAULT_TOLERANCES.get(spec.elem_type, DEFAULT_TOLERANCES["float32"])
        named_a = atol.get(spec.name) if isinstance(atol, Mapping) else None
        named_r = rtol.get(spec.name) if isinstance(rtol, Mapping) else None
        is_label = spec.elem_type in ("string", "bool") or any(h in spec.name.lower() for h in LABEL_NAME_HINTS)
        if is_label and any(v is not None and float(v) != 0.0 for v in (named_a, named_r)):
            # a tolerance on classes would pass a flipped label (label 1 against 2 "within atol 5")
            raise InvalidDataError(
                f"output {spec.name!r} holds labels ({spec.elem_type}), which are compared exactly: a tolerance "
                "would let a flipped class pass. Name tolerances for numeric outputs only (an integer count "
                "takes one)"
            )
        if _is_exact(spec) and (is_label or (named_a is None and named_r is None)):
            out[spec.name] = (0.0, 0.0, "exact")
            continue
        a = _pick(named_a, atol, default_a)
        r = _pick(named_r, rtol, default_r)
        out[spec.name] = (a, r, "tolerance")
    return out


def _pick(named: float | None, given: Tolerance, default: float) -> float:
    if named is not None:
        return float(named)
    if isinstance(given, Mapping):
        return float(given.get("", default))
    return float(given) if given is not None else float(default)


def atol_defaulted(name: str, atol: Tolerance) -> bool:
    """Whether output ``name``'s atol is the default for its type (the user gave none for it)."""
    return atol is None or (isinstance(atol, Mapping) and name not in atol and "" not in atol)


def model_tolerances(model: Any, outputs: tuple[TensorSpec, ...], atol: Tolerance = None, rtol: Tolerance = None,
                     *, reference_float32: bool = False) -> dict[str, tuple[float, float, Mode]]:
    """:func:`resolve_tolerances` for ``model``'s ``outputs``: the float64 outputs of a model that records
    computing part of its answer in float32 (a forest in a double graph: :data:`onnxgate._onnx.FLOAT32_INSIDE_KEY`)
    get float32's defaults, whose rounding they carry (an ExtraTreesClassifier's probabilities summed in float32
    failed float64's atol 1e-7 on 357 of 569 rows, its labels all equal). So do they where the reference computes
    in float32 (``reference_float32``: :func:`reference_reads_float32`)."""
    import dataclasses

    from onnxgate._onnx import FLOAT32_INSIDE_KEY

    if reference_float32 or any(prop.key == FLOAT32_INSIDE_KEY for prop in getattr(model, "metadata_props", ())):
        outputs = tuple(dataclasses.replace(o, elem_type="float32") if o.elem_type == "float64" else o
                        for o in outputs)
    narrow = _half_precision_inside(model)
    if narrow is not None:
        outputs = tuple(dataclasses.replace(o, elem_type=narrow) if o.elem_type in ("float32", "float64") else o
                        for o in outputs)
    return resolve_tolerances(outputs, atol, rtol)


def reference_reads_float32(reference: Any, inputs: tuple[TensorSpec, ...], rows_float32: bool,
                            rounding_shows: Callable[[], bool] | None = None) -> bool:
    """Whether a scikit-learn reference computes on float32 rows the file reads as double: the user's rows are
    float32 (:func:`onnxgate._data.float32_rows`), and scikit-learn is given them so
    (:data:`onnxgate.converters.ROWS_GIVEN_FLOAT32`). Its answer then carries float32's rounding, and a
    StandardScaler and PCA on float32 breast_cancer failed float64's atol 1e-7 by 4.2e-7 on a right file
    (helper-92). ``rounding_shows`` (:func:`onnxgate.validators.reference.float32_rounding_shows` on the
    first rows), when given, decides whether it does: a LogisticRegression answers float32 rows in float64,
    and float32's tolerances (1000 times wider) passed a file with a coefficient 1e-4 off (helper-95)."""
    if not rows_float32 or not any(spec.elem_type == "float64" for spec in inputs):
        return False
    from onnxgate.converters import registry
    from onnxgate.errors import OnnxGateError

    try:
        if registry.for_model(reference).framework != "sklearn":
            return False
    except OnnxGateError:
        return False
    return rounding_shows is None or rounding_shows()


#: Operators whose arithmetic in float16 puts float16's rounding into a model's answer (a Cast to float16
#: and back of a 0/1 mask rounds nothing).
HALF_PRECISION_OPS = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"})


def _half_precision_inside(model: Any) -> str | None:
    """``"float16"`` or ``"bfloat16"`` when a matrix product or a convolution of the graph computes in it: a
    Keras ``mixed_float16`` model answers in float32 but multiplies in float16, and float16's rounding is in
    its answer (measured: 8.2e-4 off Keras, which computes in float16 too, past float32's atol 1e-4). A
    float16 value elsewhere (a mask cast to float16 and back) widens nothing: that let a wrong bias 4e-4
    off pass (found by helper-70)."""
    graph = getattr(model, "graph", None)
    if graph is None:
        return None
    half = {10: "float16", 16: "bfloat16"}  # TensorProto.FLOAT16, BFLOAT16
    cheap: set[int] = {init.data_type for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Cast":
            cheap.update(a.i for a in node.attribute if a.name == "to")
    if not cheap & set(half):
        return None
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:
        return None
    types = {init.name: init.data_type for init in inferred.graph.initializer}
    for info in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        types[info.name] = info.type.tensor_type.elem_type
    found = {types.get(name) for node in inferred.graph.node if node.op_type in HALF_PRECISION_OPS
             for name in node.input}
    for code in (16, 10):
        if code in found:
            return half[code]
    return None


def _quantized_steps(model: Any) -> dict[str, float]:
    """The step of each output a ``DequantizeLinear`` writes with a constant scale (the largest, per channel):
    the resolution of that answer. A static-quantized torch model's file does its arithmetic in float between
    QuantizeLinear and DequantizeLinear, torch in integers: a value on a step's boundary rounds to the next step in
    one of them (measured: 1 value of 192 off by exactly 0.00864, the scale)."""
    graph = getattr(model, "graph", None)
    if graph is None:
        return {}
    import numpy as np
    from onnx import numpy_helper

    from onnxgate._onnx import constant_tensors

    constants = constant_tensors(graph)
    outputs = {o.name for o in graph.output}
    steps: dict[str, float] = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        scale = constants.get(node.input[1])
        if scale is None or node.output[0] not in outputs:
            continue
        values = np.abs(numpy_helper.to_array(scale).astype(np.float64))
        if values.size and np.all(np.isfinite(values)):
            steps[node.output[0]] = float(values.max())
    return steps

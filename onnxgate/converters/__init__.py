"""Converters: one module per framework behind a registry, and :func:`convert`.

Framework modules import their framework only when a conversion runs, so importing this package
costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from onnxgate.converters._base import (
    ROWS_GIVEN_FLOAT32,
    Conversion,
    Converter,
    ConverterRegistry,
    RawConversion,
    registry,
)
from onnxgate.converters.catboost import CatBoostConverter
from onnxgate.converters.keras import KerasConverter
from onnxgate.converters.lightgbm import LightGBMConverter
from onnxgate.converters.pytorch import PyTorchConverter
from onnxgate.converters.sklearn import SklearnConverter
from onnxgate.converters.tensorflow import TensorFlowConverter
from onnxgate.converters.xgboost import XGBoostConverter
from onnxgate.errors import InvalidModelError, OpsetError, UnsupportedModelError

if TYPE_CHECKING:
    from onnxgate.targets import Target

__all__ = [
    "ROWS_GIVEN_FLOAT32",
    "Conversion",
    "Converter",
    "ConverterRegistry",
    "RawConversion",
    "convert",
    "registry",
]

_CONVERTERS: tuple[type[Converter], ...] = (SklearnConverter, PyTorchConverter, KerasConverter, TensorFlowConverter)
_CONVERTERS += (XGBoostConverter, LightGBMConverter, CatBoostConverter)  # gradient boosting (issue 12)
for _converter in _CONVERTERS:
    registry.register(_converter)


def convert(
    model: Any,
    sample: Any = None,
    *,
    opset: int | None = None,
    target: str | Target | None = None,
    name: str | None = None,
    options: Mapping[str, Any] | None = None,
    precision: str | None = None,
) -> Conversion:
    """Convert a scikit-learn, XGBoost, LightGBM, CatBoost, PyTorch, TensorFlow or Keras model to ONNX at the
    opset asked for.

    Parameters
    ----------
    model : object
        A fitted scikit-learn estimator or pipeline, a ``torch.nn.Module`` (or ``torch.export``
        program), a ``tf.Module``/``tf.function`` with an input signature or a SavedModel folder, or
        a Keras 3 model. The framework is detected from the model's type.
    sample : array-like, DataFrame or dict, optional
        Example input: fixes input names, element types and shapes. A DataFrame gives one input per
        column (scikit-learn); a polars DataFrame is read as the pandas one of the same columns.
        Required except for TensorFlow functions with an input signature.
    opset : int, optional
        Default-domain (ai.onnx) opset. Defaults to the framework's ``DEFAULT_OPSET``, capped by the
        target's. The ai.onnx.ml opset is the one released with it (capped by the target).
    target : str or Target, optional
        Convert for a deployment target: caps the opset. The adaptation of a SQL target's model to
        the ``PREDICT`` contract is :func:`onnxgate.convert`'s (:mod:`onnxgate.api`), which calls this.
    name : str, optional
        Graph name.
    options : mapping, optional
        Framework-specific options (``zipmap``, ``input_names``, ``output_names``, ``dynamo``...).
    precision : {"auto", "float32", "float64"}, optional
        Floating-point precision of the graph, for converters that offer the choice (scikit-learn;
        the same as ``options={"precision": ...}``). ``"auto"`` (the default) keeps float64 where
        scikit-learn computes in float64 (a float64 or integer sample, text its vectorizers weigh
        in float64) and the double graph is well-typed and runs on the installed
        onnxruntime, else float32 (with a warning saying why). For a target whose onnxruntime is
        not the installed one (the SQL targets: 1.5.3, 1.12.1), whose double kernels cannot be
        checked here, ``"auto"`` means float32; ask for ``"float64"`` to keep double there.

    Returns
    -------
    Conversion
        ``conv.opset`` is what the file says, never above the requested opset.

    Raises
    ------
    UnsupportedModelError
        No converter for this model, or the converter cannot convert part of it.
    OpsetError
        The requested opset is out of range, above the target's cap, or the framework cannot write it;
        the message names the highest opset that can be reached.

    Examples
    --------
    >>> import onnxgate as og
    >>> model, X, y = og.zoo.get("sklearn-iris-logreg").build()  # doctest: +SKIP
    >>> conv = og.convert(model, X, opset=15)  # doctest: +SKIP
    >>> conv.opset <= 15  # doctest: +SKIP
    True
    """
    from onnxgate._data import from_polars
    from onnxgate.converters._base import one_conversion

    if options is not None and not isinstance(options, Mapping):
        raise UnsupportedModelError(
            f"options: expected a mapping of option name to value, found {type(options).__name__} {options!r}; "
            "pass e.g. options={\"zipmap\": False}"
        )
    with one_conversion():
        return _convert(model, from_polars(sample), opset=opset, target=target, name=name, options=options,
                        precision=precision)


def _convert(model: Any, sample: Any, *, opset: int | None, target: str | Target | None, name: str | None,
             options: Mapping[str, Any] | None, precision: str | None) -> Conversion:
    from onnxgate import _onnx
    from onnxgate._data import one_row
    from onnxgate.signature import Signature
    from onnxgate.targets import resolve

    converter = registry.for_model(model)
    converter.check_model(model)
    tgt = resolve(target, default=None)
    requested = _requested_opset(converter, model, opset, tgt)
    ml_opset = _onnx.ml_opset_for(requested)
    if tgt is not None and tgt.max_opset is not None and "ai.onnx.ml" in tgt.max_opset:
        ml_opset = min(ml_opset, tgt.max_opset["ai.onnx.ml"])

    options, precision_note = _with_precision(converter, dict(options or {}), precision, tgt)
    from onnxgate.converters._base import CONVERSION_TARGET, OPSET_CHOSEN

    chosen = OPSET_CHOSEN.set(None if opset is not None else _why_opset(converter, requested, tgt))
    targeted = CONVERSION_TARGET.set(tgt)
    try:
        raw = converter.convert(model, sample, opset=requested, ml_opset=ml_opset, name=name, options=options)
    finally:
        CONVERSION_TARGET.reset(targeted)
        OPSET_CHOSEN.reset(chosen)
    proto = raw.model
    warnings = list(raw.warnings) + precision_note
    from onnxgate._graph import restamp

    restamp(proto, {"": requested, _onnx.ML_DOMAIN: ml_opset})
    stamped = _onnx.model_opsets(proto).get("", 0)
    if stamped > requested:
        raise OpsetError(
            f"the {converter.framework} exporter wrote opset {stamped} when opset {requested} was asked "
            f"for; onnxgate does not hand back a model at another opset. Ask for opset {stamped} or "
            "higher, or for an opset this exporter honours.",
            opset=requested,
            framework=converter.framework,
            max_opset=converter.max_opset_for(model),
        )
    if stamped < requested:
        from onnxgate._graph import lower_stamp

        lower_stamp(proto, _onnx.ML_DOMAIN, _onnx.ml_opset_for(stamped))  # the ml opset of the stamped one's time
        ml = _onnx.model_opsets(proto).get(_onnx.ML_DOMAIN)
        ml_text = "" if ml is None or ml <= _onnx.ml_opset_for(stamped) else f" and ai.onnx.ml opset {ml}"
        warnings.append(
            f"opset {stamped} stamped (requested {requested}): no operator in this model needs a newer "
            "version, and the file is valid for any runtime that supports opset "
            f"{stamped}{ml_text} or later"
        )
    if tgt is not None and tgt.outputs_tensor_only and not tgt.is_sql:  # a SQL target's adaptation splits its own
        warnings.extend(_split_sequences(proto, tgt))
    # the size is checked before the ONNX checker, which said "Failed to serialize proto", blaming the exporter; both
    # on one serialization of the model (check_model's size_limit)
    try:
        if not _lower_ir_version(proto, warnings):
            _check(proto, converter.framework)
    except _onnx.ModelTooLargeError as err:
        raise UnsupportedModelError(
            _onnx.too_large_message(f"the model the {converter.framework} exporter wrote", err.size),
            framework=converter.framework,
        ) from None
    warnings.extend(_record_fitted_columns(proto, converter, model, sample))
    renamed = _record_columns(proto, sample)
    if renamed and (tgt is None or not tgt.is_sql):  # a SQL target's adaptation lists its own renames
        warnings.append(f"columns renamed to ONNX input names (data may use either name): {renamed}")

    if tgt is not None:  # a target running an older onnxruntime (the SQL targets') lacks some double kernels and
        # some LabelEncoder type pairs
        from onnxgate._kernels import rewrite_for_target_kernels

        warnings.extend(rewrite_for_target_kernels(proto, tgt))

    from onnxgate._narrowing import record_float32_nodes

    record_float32_nodes(proto)  # what the file computes in float32 as written: validate names a narrowing added after
    signature = Signature.from_model(proto)
    conversion = Conversion(
        model=proto,
        framework=converter.framework,
        opset=stamped,
        requested_opset=requested,
        signature=signature,
        warnings=tuple(warnings),
        target=None if tgt is None else tgt.name,
        source=model,
        # as the converter read it: X[0] of a model of 4 features is one row, which validate read as 4 rows of 1
        sample=one_row(sample, signature.inputs[0].width if len(signature.inputs) == 1 else None),
        options=options,
        name=name,
    )
    return conversion


def _split_sequences(proto: Any, target: Target) -> list[str]:
    """A target that returns tensors only gets each output that is a sequence of tensors (a MultiOutputClassifier's
    probabilities, one ``[N, k_t]`` per target) as one output per element; returns the warning saying so."""
    from onnxgate._graph import split_tensor_sequences

    split = split_tensor_sequences(proto)
    return [f"output {name!r} (a sequence of {len(parts)} tensors, one per target) is written as the outputs "
            f"{parts}: target {target.name!r} returns tensors only" for name, parts in split.items()]


def _with_precision(
    converter: Converter, options: dict[str, Any], precision: str | None, target: Target | None
) -> tuple[dict[str, Any], list[str]]:
    """Options with the precision asked for; for a target running another onnxruntime, ``auto`` is
    float32 (that runtime's double kernels are known from a table probed on one release of its line, not run)."""
    choices = converter.PRECISIONS
    if precision == "auto" and not choices:
        precision = None  # the default asked for by name: the graph keeps the model's own types
    if precision is not None:
        if not choices:
            raise UnsupportedModelError(
                f"the {converter.framework} converter has no precision choice (found precision={precision!r}); "
                "the graph keeps the model's own types",
                framework=converter.framework,
            )
        if precision not in choices:
            raise UnsupportedModelError(
                f"precision must be one of {list(choices)}, found {precision!r}", framework=converter.framework
            )
        if options.get("precision", precision) != precision:
            raise UnsupportedModelError(
                f"precision={precision!r} and options['precision']={options['precision']!r} disagree; give one",
                framework=converter.framework,
            )
        options["precision"] = precision
    chosen = options.get("precision", "auto")
    if choices and chosen == "auto" and target is not None and target.runtime != "installed":
        options["precision"] = "float32"
        return options, [
            f"precision float32 for target {target.name!r}: its {target.runtime} is not the installed one; pass "
            "precision='float64' (--precision float64) to keep float64 (the nodes it has no double kernel for are "
            "then computed in float32 between Casts)"
        ]
    return options, []


def _record_columns(proto: Any, sample: Any) -> dict[str, str]:
    """Write which DataFrame column feeds which input, when the exporter renamed any (``a b`` -> ``a_b``);
    returns the renamed ones (column -> input)."""
    from onnxgate._data import is_dataframe
    from onnxgate.columns import ColumnMap

    if sample is None or not is_dataframe(sample):
        return {}
    weights = {init.name for init in proto.graph.initializer}
    inputs = [vi.name for vi in proto.graph.input if vi.name not in weights]
    unread = ColumnMap.from_model(proto).unread  # columns the model never reads: no input is made of them
    columns = ColumnMap.for_sample([c for c in sample.columns if str(c) not in unread], inputs)
    columns.write(proto)
    return {str(c): i for c, i in columns.pairs if c != i}


def _record_fitted_columns(proto: Any, converter: Converter, model: Any, sample: Any) -> list[str]:
    """Record the named columns a model was fitted on (:meth:`Converter.fitted_columns`) when it is converted
    from an array sample, so the file's one ``[N,k]`` input takes them by position
    (:data:`onnxgate.signature.FITTED_COLUMNS_METADATA_KEY`): onnxgate's own feeds then refuse a frame holding
    them in another order. Nothing in the file said which they were, and 'onnxgate score' on a Parquet file
    holding them reversed wrote 98 of 150 wrong iris labels (scikit-learn, helper-142), 119 (XGBoost), 124
    (LightGBM) and 101 (CatBoost; helper-146) with exit 0. Returns the warning that the file feeds them by
    position (a MLflow DataFrame in another order is scored on the wrong columns; helper-138)."""
    import json

    from onnxgate._data import is_dataframe
    from onnxgate.converters._sklearn_graph import set_metadata
    from onnxgate.signature import BY_POSITION_WARNING, FITTED_COLUMNS_METADATA_KEY

    if sample is None or is_dataframe(sample) or getattr(sample, "ndim", 0) != 2:
        return []
    fitted = converter.fitted_columns(model)
    if not fitted or len(fitted) < 2:
        return []
    weights = {init.name for init in proto.graph.initializer}
    inputs = [vi.name for vi in proto.graph.input if vi.name not in weights]
    if len(inputs) != 1:
        return []
    set_metadata(proto, FITTED_COLUMNS_METADATA_KEY, json.dumps({inputs[0]: fitted}, ensure_ascii=False))
    shown = ", ".join(repr(c) for c in fitted[:6]) + (", ..." if len(fitted) > 6 else "")
    return [f"{BY_POSITION_WARNING} ({shown}) but converted from an array: the file takes them as "
            "one input, by position in that order. onnxgate (validate, score, Spark, the service) refuses those "
            "columns in another order, but other runtimes (MLflow's DataFrames, onnxruntime) score them on the "
            "wrong columns. Convert with a DataFrame sample (X.head()) for one input per column, fed by name"]


def _why_opset(converter: Converter, opset: int, target: Target | None) -> str:
    """What chose ``opset`` for a conversion given none (:func:`_requested_opset`), as a refusal says it."""
    if target is not None and opset == target.opset:
        return f"opset {opset}, the highest target {target.name!r} runs"
    if opset == converter.DEFAULT_OPSET:
        return f"the default opset {opset}"
    return f"opset {opset}, the {converter.framework} converter's choice for this model"


def _requested_opset(converter: Converter, model: Any, opset: int | None, target: Target | None) -> int:
    from onnxgate._onnx import check_opset_number

    cap = target.opset if target is not None else None
    high = converter.max_opset_for(model)
    low = converter.min_opset_for(model)
    if opset is None:
        chosen = converter.DEFAULT_OPSET if cap is None else min(cap, converter.DEFAULT_OPSET)
        return max(min(chosen, high), low)
    check_opset_number(opset, framework=converter.framework, max_opset=high)
    opset = int(opset)  # np.int64(15) from a config or an array: the file and the Conversion hold a Python int
    if cap is not None and opset > cap:
        raise OpsetError(
            f"target {target.name!r} runs at most opset {cap}, but opset {opset} was asked for. "  # type: ignore[union-attr]
            f"Ask for opset {cap} or lower, or leave opset unset to use the target's cap.",
            opset=opset,
            framework=converter.framework,
            max_opset=min(cap, high),
        )
    if opset > high:
        raise OpsetError(
            f"the {converter.framework} converter can write at most opset {high} for "
            f"{type(model).__name__}, but opset {opset} was asked for. Ask for opset {high} or lower.",
            opset=opset,
            framework=converter.framework,
            max_opset=high,
        )
    if opset < low:
        raise OpsetError(
            f"the {converter.framework} converter cannot write opsets below {low} for "
            f"{type(model).__name__}, but opset {opset} was asked for. Ask for opset {low} or higher.",
            opset=opset,
            framework=converter.framework,
            max_opset=high,
        )
    return opset


def _lower_ir_version(proto: Any, warnings: list[str]) -> bool:
    """Stamp the IR version the opsets imply, so older runtimes load the file, if the graph allows it.

    Returns True when the model, as left, has passed the full ONNX checker here (the lowered IR was
    kept), so :func:`_check` need not run it again.
    """
    from onnxgate import _onnx

    opsets = _onnx.model_opsets(proto)
    wanted = _onnx.ir_version_for_opset(max(opsets.get("", 1), 1))
    if proto.ir_version <= wanted:
        return False
    original = proto.ir_version
    proto.ir_version = wanted
    try:
        _onnx.check_model(proto, size_limit=_onnx.MODEL_BYTES_LIMIT)
    except _onnx.ModelTooLargeError:
        raise
    except Exception as err:  # the graph uses a feature of the newer IR
        proto.ir_version = original
        warnings.append(
            f"IR version {original} kept: opset {opsets.get('')} implies IR {wanted}, but the graph "
            f"needs a newer IR ({str(err).splitlines()[0][:160]})"
        )
        return False
    return True


def _check(proto: Any, framework: str) -> None:
    """The ONNX checker on the converted model (:func:`onnxgate._onnx.check_model`), which refuses one above
    :data:`onnxgate._onnx.MODEL_BYTES_LIMIT` first (:class:`onnxgate._onnx.ModelTooLargeError`)."""
    from onnxgate import _onnx

    try:
        _onnx.check_model(proto, size_limit=_onnx.MODEL_BYTES_LIMIT)
    except _onnx.ModelTooLargeError:
        raise
    except Exception as err:
        raise InvalidModelError(
            f"the {framework} exporter produced a model that fails the ONNX checker: {err}",
            framework=framework,
        ) from err

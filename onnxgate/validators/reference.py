"""The single place that produces a reference model's predictions, in the ONNX model's output order.

A reference can be a native model of any registered framework (its converter's ``predict``), a
second ONNX model (a ``ModelProto`` or ``.onnx`` path, run with onnxruntime, outputs matched by
name), or a plain callable taking the feeds dict and returning arrays in ONNX output order (or a
dict by output name).

SQL-adapted models (:mod:`onnxgate.adaptation`) carry the metadata key ``onnxgate.adapt``: their
inputs and outputs were reshaped for PREDICT, so the native model's outputs are mapped through
:func:`onnxgate.validators.adapted.reference_outputs_for_adapted` (see :data:`ADAPT_METADATA_KEY`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate.adaptation.mapping import ADAPT_METADATA_KEY
from onnxgate.columns import ColumnMap
from onnxgate.errors import InvalidDataError, OnnxGateError, ParityError

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.signature import Signature

__all__ = ["ADAPT_METADATA_KEY", "ReferenceFn", "is_native_reference", "prepare_reference", "reference_classes",
           "reference_outputs"]


ReferenceFn = Callable[[Mapping[str, "np.ndarray"]], list["np.ndarray | None"]]


def reference_outputs(
    reference: Any, feeds: Mapping[str, np.ndarray], onnx_model: onnx.ModelProto, signature: Signature, *,
    float32_rows: bool = False,
) -> list[np.ndarray | None]:
    """Run the reference on ONNX-style ``feeds``; return its outputs in ``onnx_model``'s output order.

    Parameters
    ----------
    reference : object
        A native model (any registered framework), an ONNX model, or a callable ``f(feeds)``.
    feeds : mapping of str to ndarray
        The ONNX model's inputs, by name (as built by ``onnxgate._data.as_feeds``).
    onnx_model : onnx.ModelProto
        The ONNX model being validated; decides the output order.
    signature : Signature
        ``onnx_model``'s signature.

    Returns
    -------
    list of ndarray or None
        One entry per ONNX output; ``None`` where the reference has no counterpart.

    Raises
    ------
    ParityError
        The reference returned a different number of outputs than the ONNX model has.
    UnsupportedModelError
        No registered converter recognises the reference.

    Examples
    --------
    >>> outs = reference_outputs(clf, {"input": X}, conv.model, conv.signature)  # doctest: +SKIP
    >>> [o.shape for o in outs]  # doctest: +SKIP
    [(150,), (150, 3)]
    """
    return prepare_reference(reference, onnx_model, signature, float32_rows=float32_rows)(feeds)


def prepare_reference(reference: Any, onnx_model: onnx.ModelProto, signature: Signature, *,
                      float32_rows: bool = False) -> ReferenceFn:
    """A function ``feeds -> outputs in ONNX order`` for ``reference``, set up once for many batches.

    A :class:`~onnxgate.Conversion` as the reference stands for its ONNX model (pass ``conv.source``
    to compare with the native model it came from). ``float32_rows``: the user's rows are float32
    (:func:`onnxgate._data.float32_rows`), and a native reference is given them so.
    """
    from onnxgate.conversion import Conversion
    from onnxgate.converters import ROWS_GIVEN_FLOAT32

    if isinstance(reference, Conversion):
        reference = reference.model
    onnx_reference = _as_onnx(reference)
    if onnx_reference is None and _is_native(reference):
        from onnxgate.converters import registry

        # what the file records that the native model does not hold (a Booster's missing value)
        reference = registry.for_model(reference).reference_for(reference, onnx_model)
    adapted = _adapt_metadata(onnx_model)
    if onnx_reference is not None and adapted is not None and _same_inputs(onnx_reference, signature):
        # an ONNX reference in the same layout (the adapted model itself, another adaptation of it): fed
        # as it is, not through the original layout it does not have
        return _onnx_reference(onnx_reference, signature)
    if adapted is not None:
        # a SQL-adapted model: its recorded mapping lays the native outputs out like its own
        from onnxgate.adaptation.mapping import columns_against_fitted
        from onnxgate.validators.adapted import reference_outputs_for_adapted

        contradicts = (columns_against_fitted(onnx_model, fitted_columns(reference))
                       if is_native_reference(reference) else None)
        if contradicts is not None:
            from onnxgate.errors import InvalidDataError

            raise InvalidDataError(contradicts)

        def run_adapted(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray | None]:
            given = ROWS_GIVEN_FLOAT32.set(float32_rows)
            try:
                outs = reference_outputs_for_adapted(reference, feeds, onnx_model, signature)
            finally:
                ROWS_GIVEN_FLOAT32.reset(given)
            return _normalise(outs, signature, "the adapted reference")

        return run_adapted

    if onnx_reference is not None:
        return _onnx_reference(onnx_reference, signature)
    if _is_native(reference):
        from onnxgate.converters import registry

        converter = registry.for_model(reference)
        # the native model reads the columns it was fitted on, under the user's own names
        columns = ColumnMap.from_model(onnx_model)
        native_signature = columns.native_signature(signature)

        def run_native(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray | None]:
            given = ROWS_GIVEN_FLOAT32.set(float32_rows)
            try:
                outs = converter.predict(reference, columns.to_columns(feeds), native_signature)
            finally:
                ROWS_GIVEN_FLOAT32.reset(given)
            return _normalise(outs, signature, f"the {converter.framework} reference")

        return run_native
    if callable(reference):

        def run_callable(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray | None]:
            return _normalise(reference(dict(feeds)), signature, "the reference callable")

        return run_callable
    from onnxgate.converters import registry

    registry.for_model(reference)  # raises UnsupportedModelError naming the type
    raise AssertionError("unreachable")  # pragma: no cover


def _adapt_metadata(model: onnx.ModelProto) -> str | None:
    for prop in model.metadata_props:
        if prop.key == ADAPT_METADATA_KEY:
            return str(prop.value)
    return None


def _same_inputs(reference: onnx.ModelProto, signature: Signature) -> bool:
    """Whether the ONNX ``reference`` takes exactly the inputs of the model under test, by name."""
    weights = {init.name for init in reference.graph.initializer}
    names = {vi.name for vi in reference.graph.input if vi.name not in weights}
    return names == set(signature.input_names)


def is_native_reference(reference: Any) -> bool:
    """Whether ``reference`` is a native model of a registered framework (not an ONNX model, a
    :class:`~onnxgate.Conversion` or a callable): parity against it compared the framework's own answers."""
    from onnxgate.conversion import Conversion

    return not isinstance(reference, Conversion) and _as_onnx(reference) is None and _is_native(reference)


def reference_classes(reference: Any) -> list[Any] | None:
    """The classes a native classifier ``reference`` answers (its ``classes_``, as Python values), or None: not a
    native model, not a classifier, or classes that are not one flat list (a multi-output classifier's)."""
    if not is_native_reference(reference):
        return None
    try:
        classes = getattr(reference, "classes_", None)
    except Exception:  # a property that raises on an unfitted or odd model
        return None
    if classes is None:
        return None
    try:
        values = [c.item() if hasattr(c, "item") else c for c in list(classes)]
    except Exception:
        return None
    if any(hasattr(c, "__len__") and not isinstance(c, (str, bytes)) for c in values):
        return None
    return values


def fitted_columns(reference: Any) -> list[str] | None:
    """The column names a native ``reference`` was fitted on, in order; None when it records none or is not a
    native model (:meth:`onnxgate.converters.Converter.fitted_columns`)."""
    from onnxgate.converters import registry

    try:
        return registry.for_model(reference).fitted_columns(reference)
    except Exception:  # not a registered framework's model, or one whose names cannot be read
        return None


def read_columns(reference: Any) -> list[str] | None:
    """The columns a native ``reference`` reads when it predicts, in order (its fitted columns less those a
    ColumnTransformer drops); None when it records none or is not a native model
    (:meth:`onnxgate.converters.Converter.read_columns`)."""
    from onnxgate.converters import registry

    try:
        return registry.for_model(reference).read_columns(reference)
    except Exception:  # not a registered framework's model, or one whose names cannot be read
        return None


def inputs_the_file_lacks(reference: Any, signature: Signature, data: Any) -> str | None:
    """What to say when ``data`` (a DataFrame, or a dict by name, fed by column name) holds columns the native
    ``reference`` reads that no input of the ONNX file takes; None otherwise.

    Such a column is no label or ID left in: the file lacks an input the model needs (converted from another
    model, or an input lost since), so it cannot predict what the reference predicts. The data's refusal said
    "drop them (a label or ID column...)", and dropping it made the reference refuse the rows instead (a
    ColumnTransformer's text column ``note``). Parity and the search fail with this, as a check.
    """
    from onnxgate._data import from_polars, is_dataframe, shown_names

    data = from_polars(data)
    if is_dataframe(data):
        given = [str(c) for c in data.columns]
    elif isinstance(data, Mapping):
        given = [str(k) for k in data]
    else:
        return None
    if not signature.inputs or not is_native_reference(reference):
        return None
    read = read_columns(reference)
    if not read:
        return None
    columns = signature.columns
    renamed, unread = dict(columns.pairs), set(columns.unread)
    fed = {c: renamed.get(c, c) for c in given if c not in unread}  # column -> the input it would feed
    only = signature.inputs[0]
    by_name = only.name in fed.values() and only.width in (1, None)
    if is_dataframe(data) and len(signature.inputs) == 1 and not by_name:
        return None  # the frame feeds one [N,k] input by position, not by name: its width is checked where fed
    names, reads = set(signature.input_names), set(read)
    lacking = [c for c, name in fed.items() if name not in names and c in reads]
    if not lacking:
        return None
    column_of = {i: c for c, i in columns.pairs}
    inputs = [column_of.get(n, n) for n in signature.input_names]
    return (f"the ONNX file has no input for the column(s) {shown_names(lacking)}, which the reference reads (it "
            f"predicts from {shown_names(read)}; the file's inputs are {shown_names(inputs)}). The file lacks an "
            "input the model needs (it was converted from another model, or an input was lost since), so it cannot "
            "predict what the reference predicts: convert the reference again and check the new file (or give the "
            "reference this file was converted from)")


def _is_native(reference: Any) -> bool:
    from onnxgate.converters import registry

    try:
        registry.for_model(reference)
    except OnnxGateError:
        return False
    return True


def _as_onnx(reference: Any) -> onnx.ModelProto | None:
    if isinstance(reference, (str, os.PathLike)) and str(reference).lower().endswith(".onnx"):
        from onnxgate._onnx import load_model

        return load_model(reference)
    if type(reference).__name__ == "ModelProto":
        return reference  # type: ignore[no-any-return]
    return None


def _onnx_reference(model: onnx.ModelProto, signature: Signature) -> ReferenceFn:
    from onnxgate import runtime
    from onnxgate._onnx import runnable

    session = runtime.session(runnable(model), spinning=False)
    ref_outputs = [o.name for o in session.get_outputs()]
    ref_inputs = {i.name for i in session.get_inputs()}

    def run(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray | None]:
        missing = sorted(ref_inputs - set(feeds))
        if missing:
            # nothing can be compared: the caller's input, as a native reference that cannot take the data (exit 2)
            raise InvalidDataError(
                f"the reference ONNX model needs inputs {missing} that the model under test does not have "
                f"(its inputs are {sorted(feeds)}), so nothing was compared. Give the reference the model under "
                "test was converted from, or an ONNX model with the same inputs"
            )
        from onnxgate.signature import matched_outputs

        values = session.run(None, {k: v for k, v in feeds.items() if k in ref_inputs})
        # every output of one model matches one of the other: in order when the counts agree and no name sits
        # at another place, else by name; matched by name alone, an output renamed and negated was "not compared"
        return [_as_array(v) for v in matched_outputs(ref_outputs, values, signature, "the reference ONNX model")]

    return run


def _as_array(value: Any) -> np.ndarray | None:
    import numpy as np

    if value is None:
        return None
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return maps_to_array(value)
    to_numpy = getattr(value, "numpy", None)  # torch / tf tensors
    if callable(to_numpy) and not isinstance(value, np.ndarray):
        value = value.detach().numpy() if hasattr(value, "detach") else to_numpy()
    return np.asarray(side_by_side(value))


def maps_to_array(rows: Sequence[Mapping[Any, Any]]) -> np.ndarray:
    """A ZipMap-style list of ``{class: probability}`` dicts as an ``[N, k]`` array (keys sorted)."""
    import numpy as np

    keys = sorted(rows[0])
    return np.asarray([[row[k] for k in keys] for row in rows])


def _normalise(outs: Any, signature: Signature, who: str) -> list[np.ndarray | None]:
    names = signature.output_names
    if isinstance(outs, Mapping):
        unknown = sorted(set(outs) - set(names))
        if unknown:
            raise ParityError(
                f"{who} returned outputs {unknown} that the ONNX model does not have; its outputs are {names}"
            )
        return [_as_array(outs.get(name)) for name in names]
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    if len(outs) != len(names):
        raise ParityError(
            f"{who} returned {len(outs)} output(s) but the ONNX model has {len(names)} ({names}); return "
            "one entry per ONNX output, None where there is no counterpart"
        )
    return [_as_array(o) for o in outs]


def side_by_side(value: Any) -> Any:
    """A sequence of ``[N, k_i]`` arrays (one per target: a ``seq(tensor)`` output, MultiOutputClassifier's
    probabilities) as one ``[N, sum k_i]`` array, so its values compare row by row; anything else as is."""
    import numpy as np

    if isinstance(value, (list, tuple)) and value and all(getattr(v, "ndim", 0) == 2 for v in value):
        rows = {len(v) for v in value}
        if len(rows) == 1:
            return np.concatenate([np.asarray(v) for v in value], axis=1)
    return value


#: How many of the data's first rows :func:`float32_rounding_shows` scores twice.
ROUNDING_PROBE_ROWS = 256


def float32_rounding_shows(reference: Any, onnx_model: onnx.ModelProto, signature: Signature, data: Any) -> bool:
    """Whether a native reference answers the data's first rows (float32 values, fed to a double file) otherwise
    when given them as float32, as validation gives them, than when given the same values as float64: it
    computes in float32 somewhere (a scaler, an MLP), and its answer carries float32's rounding. A reference
    that fails on them counts as rounding (the wider tolerances, as before this was asked)."""
    import numpy as np

    from onnxgate._data import as_feeds, iter_batches

    try:
        feeds = as_feeds(next(iter_batches(data, ROUNDING_PROBE_ROWS)), signature)
        narrow = prepare_reference(reference, onnx_model, signature, float32_rows=True)(feeds)
        wide = prepare_reference(reference, onnx_model, signature, float32_rows=False)(feeds)
    except Exception:
        return True
    for given32, given64 in zip(narrow, wide):
        if given32 is None or given64 is None:
            continue
        a, b = np.asarray(given32), np.asarray(given64)
        if a.dtype == np.float32:
            return True
        if a.dtype.kind != "f" or b.dtype.kind != "f" or a.shape != b.shape:
            continue
        if not np.array_equal(a, b, equal_nan=True):
            return True
    return False

"""The adaptation's mapping, recorded in the adapted model: which table columns feed which original
input, which new outputs come from which original output. It turns the adapted model's feeds back
into the original model's (:func:`original_feeds`) and the original outputs into the adapted ones
(:func:`adapted_outputs`), so the native model can be compared with the adapted ONNX model."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate.columns import ColumnMap
from onnxgate.sql_rules import sql_identifier

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.signature import Signature
    from onnxgate.targets import Target

__all__ = [
    "ADAPT_METADATA_KEY",
    "ADAPT_METADATA_VERSION",
    "adaptation_of",
    "adapted_outputs",
    "already_adapted",
    "boolean_columns",
    "columns_against_fitted",
    "columns_of_native",
    "label_codes",
    "original_feeds",
    "outputs_off_record",
    "set_metadata",
    "split_outputs",
]

#: ``metadata_props`` key holding the JSON mapping from the original model to the adapted one.
ADAPT_METADATA_KEY = "onnxgate.adapt"
#: Version of that JSON layout.
ADAPT_METADATA_VERSION = 1

#: The float types narrower than float64: a float64 feed of one is the user's own values (:func:`original_feeds`).
NARROW_FLOATS = ("float32", "float16", "bfloat16")


def set_metadata(proto: Any, mapping: Mapping[str, Any]) -> None:
    for prop in list(proto.metadata_props):
        if prop.key == ADAPT_METADATA_KEY:
            proto.metadata_props.remove(prop)
    entry = proto.metadata_props.add()
    entry.key = ADAPT_METADATA_KEY
    entry.value = json.dumps(mapping, sort_keys=True)


def already_adapted(model: onnx.ModelProto, target: Target) -> bool:
    from onnxgate.signature import Signature

    sig = Signature.from_model(model)
    for spec in sig.inputs:
        if spec.rank != 2 or spec.width != 1:
            return False
        if sql_identifier(spec.name) != spec.name:  # a T-SQL keyword ("select") is renamed by the adaptation
            return False
        if target.input_types is not None and spec.elem_type not in target.input_types:
            return False
    for spec in sig.outputs:
        if not spec.is_tensor or spec.rank != 2 or spec.width != 1:
            return False
        if sql_identifier(spec.name) != spec.name:
            return False
        if target.output_types is not None and spec.elem_type not in target.output_types:
            return False
    return True


def adaptation_of(model: Any) -> dict[str, Any] | None:
    """The mapping :func:`adapt` wrote into a model, or None for a model it did not adapt."""
    from onnxgate._onnx import load_model

    proto = load_model(model)
    for prop in proto.metadata_props:
        if prop.key == ADAPT_METADATA_KEY:
            return dict(json.loads(prop.value))
    return None


def split_outputs(model: Any) -> frozenset[str]:
    """The outputs of an adapted model that each hold one column of an output of several columns (a multi-label
    classifier's [N,k] labels as ``label_0`` ... ``label_{k-1}``, a classifier's probabilities one per class);
    empty for a model not adapted."""
    outputs = (adaptation_of(model) or {}).get("outputs") or {}
    return frozenset(str(new) for columns in outputs.values() if len(columns) > 1 for new, _index in columns)


def boolean_columns(model: Any) -> frozenset[str]:
    """The inputs of an adapted model that are the table columns of a boolean input of the model it was converted
    from: integer columns the file casts to bool, of which only 0 and 1 are values (:func:`original_feeds` refuses
    any other). Empty for a model :func:`adapt` did not adapt."""
    mapping = adaptation_of(model)
    original = (mapping or {}).get("original")
    inputs = (mapping or {}).get("inputs")
    if not isinstance(original, Mapping) or not isinstance(inputs, Mapping):
        return frozenset()
    from onnxgate.signature import Signature

    found: set[str] = set()
    for spec in Signature.from_dict(original).inputs:
        entry = inputs.get(spec.name)
        if spec.elem_type == "bool" and isinstance(entry, Mapping):
            found.update(str(c) for c in entry.get("columns", []))
    return frozenset(found)


def columns_of_native(model: Any, data: Any) -> Any:
    """``data`` keyed by an adapted model's original inputs (``{"a": [N,3], "b": [N,2]}``, the layout it
    was converted from) as one column per table column (``a_0, a_1, a_2, b_0, b_1``), by the mapping
    :func:`adapt` recorded; any other data as it is.

    Only a dict (not a DataFrame) whose keys are exactly the original inputs, none of them a column of
    the adapted model, with one array of the recorded width per split input, is laid out so.
    """
    import numpy as np

    if not isinstance(data, Mapping) or not data:
        return data
    mapping = adaptation_of(model)
    inputs = (mapping or {}).get("inputs")
    if not isinstance(inputs, Mapping) or set(map(str, data)) != set(inputs):
        return data
    columns = {str(c) for entry in inputs.values() for c in entry.get("columns", [])}
    if columns & set(map(str, data)):
        return data
    out: dict[str, Any] = {}
    for name, value in data.items():
        entry = inputs[str(name)]
        names = [str(c) for c in entry.get("columns", [])]
        array = np.asarray(value)
        if entry.get("kind") == "split":
            if array.ndim != 2 or array.shape[1] != len(names):
                return data
            out.update({col: array[:, [i]] for i, col in enumerate(names)})
        elif len(names) == 1:
            out[names[0]] = array
        else:
            return data
    return out


def columns_against_fitted(model: Any, fitted: Sequence[str] | None, source: str = "the reference") -> str | None:
    """Why the table columns an adapted model splits its one ``[N,k]`` input into contradict the native
    ``reference``: they are the columns it was fitted on, in another order (``adapt(columns=...)``,
    ``--columns``), so the table's column of one name feeds the position the reference, fitted on the columns
    ``fitted`` in that order (:func:`onnxgate.validators.reference.fitted_columns`), reads as another.
    Parity gave the reference the same columns in the same wrong positions and passed; a package of a
    DataFrame-fitted iris model adapted with its columns reversed answered 98 of 150 rows otherwise than
    the model fed by name (helper-138). None when they are in training order, or nothing names them.
    ``source`` names who was fitted on ``fitted`` in the message (the names the file records, for adapt)."""
    mapping = adaptation_of(model)
    inputs = (mapping or {}).get("inputs")
    if not isinstance(inputs, Mapping) or len(inputs) != 1:
        return None
    (name, entry), = inputs.items()
    if not isinstance(entry, Mapping) or entry.get("kind") != "split":
        return None
    recorded = ColumnMap.from_model(model)
    columns = [recorded.column_for(str(c)) for c in entry.get("columns", [])]
    from onnxgate._data import in_another_order

    if fitted is None or not in_another_order(columns, fitted):
        return None
    fitted = list(fitted)
    first = next(i for i, (c, f) in enumerate(zip(columns, fitted)) if f not in (c, c.replace(" ", "_")))
    from onnxgate._data import shown_names

    return (f"the model's table columns {shown_names(columns)} (the columns given to adapt, --columns) are the "
            f"columns {source} was fitted on, {shown_names(fitted)}, in another order: table column "
            f"{columns[first]!r} would feed "
            f"position {first} of input {name!r}, which {source} reads as {fitted[first]!r}. Adapt again "
            "with the columns in training order (columns=list(model.feature_names_in_)), or without columns")


def original_feeds(
    mapping: Mapping[str, Any], feeds: Mapping[str, np.ndarray], onnx_model: Any
) -> tuple[dict[str, np.ndarray], Signature]:
    """The original model's feeds, under the names its native model reads, from the adapted model's.

    Split inputs are put back together from their columns, types restored, rank-1 inputs flattened;
    float64 columns of a float32 or float16 input stay float64 (the user's own values, which parity gives
    a native reference: :func:`onnxgate.validators.parity.users_values_signature`); an input the exporter
    renamed is fed under the column name the model was fitted on (the user's own name, recorded in the
    model by :mod:`onnxgate.columns`).

    Returns
    -------
    (dict, Signature)
        The feeds, and the native model's signature (the original one under those names).
    """
    import numpy as np

    from onnxgate.signature import Signature

    original = Signature.from_dict(mapping["original"])
    recorded = ColumnMap.from_model(onnx_model)

    def native_name(spec: Any) -> str:
        info = mapping["inputs"].get(spec.name) or {}
        columns = info.get("columns") or []
        if info.get("kind") == "split" or len(columns) != 1:
            return str(spec.name)
        user = recorded.column_for(columns[0])
        return user if user != columns[0] else str(spec.name)

    # an input of category codes is read back into its categories by the codes the file records now, the ones its
    # feeds were mapped by (validate, score, the dry run): the copy in the mapping, written when it was adapted,
    # decoded a file whose recorded codes had two categories swapped into the very categories the file then scored,
    # so parity passed a file that scores one category as another for every table written by its codes
    recorded_codes = {s.name: s.codes for s in Signature.from_model(onnx_model).inputs}

    def native_codes(spec: Any) -> Any:
        columns = (mapping["inputs"].get(spec.name) or {}).get("columns") or []
        if spec.codes is None or len(columns) != 1:
            return spec.codes
        # a file whose input takes the categories again (an MLflow package's) records no codes: the mapping's copy
        recorded = recorded_codes.get(str(columns[0]))
        return spec.codes if recorded is None else recorded

    native_inputs = tuple(dataclasses.replace(spec, name=native_name(spec), codes=native_codes(spec))
                          for spec in original.inputs)
    native_sig = Signature(inputs=native_inputs, outputs=original.outputs)
    out: dict[str, np.ndarray] = {}
    values = mapping.get("category_values") or {}
    for spec, native_spec in zip(original.inputs, native_inputs):
        info = mapping["inputs"][spec.name]
        cols = [(_codes_of_values(feeds[c], values[c], spec) if c in values else np.asarray(feeds[c]))
                .reshape(len(feeds[c]), -1) for c in info["columns"]]
        array = np.hstack(cols) if len(cols) > 1 else cols[0]
        if spec.elem_type == "bool":
            _refuse_non_booleans(array, info["columns"], spec.name)
        if spec.elem_type != "string" and not (array.dtype == np.float64 and spec.elem_type in NARROW_FLOATS):
            array = array.astype(spec.numpy_dtype)
        if info.get("kind") == "rank1":
            array = array.reshape(-1)
        out[native_spec.name] = array
    return out, native_sig


def _refuse_non_booleans(array: np.ndarray, columns: Sequence[str], name: str) -> None:
    """Refuse a value other than 0 and 1 in the integer columns of a boolean input: the file reads any other as
    true, and so did the native model, given the values cast to the booleans it was converted for, so a column
    of 0..9 for a model fitted on those numbers passed parity with every row off (helper-218)."""
    import numpy as np

    odd = (array != 0) & (array != 1)
    if not odd.any():
        return
    where = sorted({str(columns[int(j)]) for j in np.nonzero(odd.any(axis=0))[0]}) if array.ndim == 2 else list(columns)
    from onnxgate.errors import InvalidDataError

    raise InvalidDataError(
        f"column(s) {where} hold {int(odd.sum())} value(s) other than 0 and 1 (e.g. {array[odd].ravel()[0].item()!r}), "
        f"but input {name!r} is boolean (the model was converted from a sample of booleans), which the file reads "
        "as 0 for False and 1 for True and any other number as True. Give those columns as 0/1, or, if the model "
        "was fitted on these numbers, convert it again from a sample of them",
        input=name,
    )


def adapted_outputs(
    mapping: Mapping[str, Any], native: Sequence[Any], output_names: Sequence[str],
    labels: Mapping[str, Sequence[str]] | None = None,
) -> list[np.ndarray | None]:
    """The original model's outputs split and reshaped the way the adaptation did, in ``output_names`` order.

    ``labels``: the text label of each code of the outputs that return a classifier's text labels as codes, as the
    adapted file records them (:func:`onnxgate.signature.output_class_labels`); the native text labels of such an
    output are given as their codes by that record (-1 for a text it does not hold), so a file whose record names
    the codes otherwise than its graph computes them fails parity, as its package's label table would answer
    other labels than the model."""
    import numpy as np

    from onnxgate.signature import Signature

    original = Signature.from_dict(mapping["original"])
    by_new: dict[str, np.ndarray | None] = {}
    for spec, value in zip(original.outputs, native):
        for new_name, index in mapping["outputs"].get(spec.name, []):
            if value is None:
                by_new[new_name] = None
                continue
            arr = np.asarray(value)
            if arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            arr = arr[:, index : index + 1] if index is not None else arr.reshape(len(arr), -1)
            if spec.elem_type == "string" and labels is not None and new_name in labels:
                arr = label_codes(arr, labels[new_name])
            by_new[new_name] = arr
    return [by_new.get(name) for name in output_names]


def label_codes(texts: Any, labels: Sequence[str]) -> np.ndarray:
    """The int32 code of each of ``texts`` (an array of text labels, any shape) among ``labels``, -1 for a text none
    of them is."""
    import numpy as np

    index = {str(text): code for code, text in enumerate(labels)}
    flat = np.asarray(texts, dtype=object)
    return np.array([index.get(str(t), -1) for t in flat.reshape(-1)], dtype=np.int32).reshape(flat.shape)


def outputs_off_record(model: Any) -> str | None:
    """Why an adapted model's outputs are not the ones its recorded mapping wrote (an output renamed,
    added or removed after :func:`adapt`), or None when they are, or the model was not adapted.

    Parity lays the native model's outputs out by that record: an output it does not name has nothing
    to be compared with, and a renamed label or two swapped probability columns would go unchecked.
    """
    from onnxgate._onnx import load_model

    proto = load_model(model)
    mapping = adaptation_of(proto)
    if mapping is None:
        return None
    recorded = [str(new) for news in mapping.get("outputs", {}).values() for new, _index in news]
    present = [o.name for o in proto.graph.output]
    unknown = [name for name in present if name not in recorded]
    lost = [name for name in recorded if name not in present]
    if not unknown and not lost:
        return None
    parts = []
    if unknown:
        parts.append(f"output(s) {unknown} are not among the outputs its adaptation wrote")
    if lost:
        parts.append(f"output(s) {lost} that its adaptation wrote are gone")
    return (f"the model's outputs are not the ones onnxgate.adapt recorded in it ({'; '.join(parts)}): it was "
            f"edited after the adaptation, so its outputs {present} cannot be matched with the reference's. Adapt "
            "the original model again (onnxgate.adapt, or convert with the SQL target) instead of editing the "
            "adapted one")


def _codes_of_values(values: Any, record: Mapping[str, Any], spec: Any) -> np.ndarray:
    """The category codes an input of codes read, of the category ``values`` fed in its place (an MLflow package's
    column of values, mapped to the codes in its graph: the mapping's ``category_values``): -1 (NaN for a float
    input) for a missing value, given as NaN or None, or as one of the record's ``missing_texts``."""
    import numpy as np

    from onnxgate._category_codes import category_codes

    gaps = set(record.get("missing_texts") or ())
    flat = [None if isinstance(v, str) and v in gaps else v for v in np.asarray(values, dtype=object).reshape(-1)]
    codes = category_codes(flat, record["categories"], bool(record.get("unseen_missing")), plain=False,
                           missing_refused=bool(getattr(spec, "missing_refused", False)),
                           missing_learnt=bool(getattr(spec, "missing_learnt", False)))
    if spec.numpy_dtype.kind == "f":
        return np.where(codes < 0, np.nan, codes.astype(np.float64))
    return codes

"""Adapt a model to T-SQL ``PREDICT``: the entry points of the rewrite (:mod:`onnxgate.adaptation`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate._onnx import model_opsets
from onnxgate.adaptation.categories import (
    refuse_codes_unknown_not_missing,
    text_categories_as_codes,
    text_category_inputs,
    unseen_refused,
)
from onnxgate.adaptation.graph import check_rewritten, class_labels, class_labels_per_target, dtype_to_elem
from onnxgate.adaptation.mapping import adaptation_of, already_adapted, set_metadata
from onnxgate.adaptation.opset import fix_opset
from onnxgate.adaptation.rewrite import rewrite
from onnxgate.columns import ColumnMap
from onnxgate.conversion import Conversion
from onnxgate.errors import InvalidDataError
from onnxgate.sql_rules import check_column_names, sql_identifier

if TYPE_CHECKING:
    from onnxgate.targets import Target

__all__ = ["adapt", "adapt_conversion", "adapt_model", "columns_from_sample"]


def adapt(
    model: Any,
    target: str | Target,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    reference: Any = None,
    is_classifier: bool | None = None,
    data: Any = None,
) -> Any:
    """Rewrite a model so T-SQL ``PREDICT`` on ``target`` can score it.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
        A model above the target's caps is lowered only when every node means the same there, checked in
        onnxruntime, else :class:`OpsetError` (:func:`onnxgate.adapt` first converts a ``Conversion`` again
        at the cap).
    target : str or Target
        A SQL target (``"sql-edge-1.0"``, ``"sql-edge-2.0"``, ``"synapse"``).
    columns : sequence of str, optional
        Table column names for the values of the ``[N,k]`` inputs, in order (default: the
        DataFrame sample's columns, or the named columns the model was fitted on where the file records
        them, else ``f0..f{k-1}``).
    column_types : mapping of str to str, optional
        Element type of a table column (``{"age": "int64"}``); default: the DataFrame's dtype, else
        the model's own type (or the nearest type the target allows). A Cast inside the graph
        bridges any difference.
    reference : object, optional
        The native model, for class names (``classes_``) of per-class probability outputs.
    is_classifier : bool, optional
        Whether the native model is a classifier (its converter knows); judged from the graph when
        not given.
    data : array-like or DataFrame, optional
        Rows of the model's inputs, for the onnxruntime check of a model lowered to the target's opset
        (default: the conversion sample, else generated rows).

    Returns
    -------
    Conversion or onnx.ModelProto
        The same kind as given (a path or bytes give a ModelProto).

    Raises
    ------
    OpsetError
        The model is above the target's caps and cannot be lowered; names the operators and the
        conversion that gives a file for the target.
    UnsupportedModelError
        An input or output cannot be one table column (rank > 2, non-tensor other than ZipMap,
        text output on a numeric-only target).
    InvalidDataError
        ``columns`` has the wrong length or repeats names.

    Examples
    --------
    >>> import onnxgate as og
    >>> adapted = og.adapt("mlp.onnx", "sql-edge-2.0")  # doctest: +SKIP
    >>> [i.name for i in og.Signature.from_model(adapted).inputs]  # doctest: +SKIP
    ['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9']
    """
    from onnxgate._onnx import load_model
    from onnxgate.targets import resolve_target

    tgt = resolve_target(target)
    if isinstance(model, Conversion):
        return adapt_conversion(model, tgt, sample=model.sample if data is None else data, columns=columns,
                                column_types=column_types, reference=reference, is_classifier=is_classifier)
    proto = load_model(model)
    refuse_malformed(proto)
    import onnx

    work = onnx.ModelProto()
    work.CopyFrom(proto)
    lowered = fix_opset(work, tgt, rows=data)
    adapted = adapt_model(work, tgt, columns=columns, column_types=column_types, reference=reference,
                          is_classifier=is_classifier)
    from onnxgate._kernels import rewrite_for_target_kernels

    # as adapt_conversion: nodes the target's older onnxruntime has no kernel for (a float to float LabelEncoder,
    # a double IsNaN) are rewritten into ones it has; the file's record says so (a package prints it)
    rewritten = rewrite_for_target_kernels(adapted, tgt)
    return record_lowering(adapted, lowered, rewritten)


def record_lowering(adapted: Any, notes: list[str], rewritten: Sequence[str] = ()) -> Any:
    """``adapted`` with :func:`~onnxgate.adaptation.opset.fix_opset`'s notes in its adaptation record
    (``"lowered"``), where a package's manifest and the CLI read them: a file handed back at another opset or IR
    version than it came in says so; and so do the warnings of the nodes rewritten for the target's onnxruntime
    (``"kernel_rewrites"``, :func:`onnxgate._kernels.rewrite_for_target_kernels`), for a file adapted without a
    Conversion to carry warnings."""
    mapping = adaptation_of(adapted)
    if (notes or rewritten) and mapping is not None:
        set_metadata(adapted, {**mapping, **({"lowered": list(notes)} if notes else {}),
                               **({"kernel_rewrites": list(rewritten)} if rewritten else {})})
    return adapted


def refuse_malformed(proto: Any) -> None:
    """Refuse a model that breaks the ONNX spec before rewriting it: the rewrite re-stamps and renames,
    and a package of the result would record a well-formed model (an IR version 99 file, an output listed
    twice, a graph without opset_import were packaged with exit 0; found by helper-72).

    Raises
    ------
    InvalidModelError
        The ONNX checker refuses the model, or an output is listed twice.
    """
    from onnxgate._onnx import check_model
    from onnxgate.errors import InvalidModelError

    try:
        check_model(proto)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidModelError(
            f"the model breaks the ONNX spec ({first}), so it is not adapted for PREDICT: `onnxgate validate` "
            "names the fault (model_wellformed); re-export it with a converter that writes valid ONNX"
        ) from None
    names = [o.name for o in proto.graph.output]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidModelError(
            f"the model lists output(s) {twice} more than once, so it is not adapted for PREDICT (a table holds "
            "one column per name); re-export it with an output name of its own for each"
        )


def _codes_order_note(coded: Mapping[str, Sequence[str]], sample: Any) -> str:
    """For text category inputs taking their codes, where the sample's category column holds the categories in
    another order (a HistGradientBoosting model's are sorted, whatever the frame's order): the order the codes
    follow, since the column's ``.cat.codes`` are not them. Where it holds other categories than the model's (a
    column re-cast after fitting), which ones, rather than a guess at what the model would make of its codes."""
    other = {}
    differ = {}
    for name, keys in coded.items():
        column = sample[name] if hasattr(sample, "columns") and name in sample.columns else None
        order = getattr(getattr(column, "cat", None), "categories", None)
        given = [] if order is None else [str(c) for c in order]
        if [c for c in given if c in keys] != [k for k in keys if k in given]:
            other[name] = list(keys)
        if given and set(given) != set(keys):
            differ[name] = {"sample only": [c for c in given if c not in keys],
                            "model only": [k for k in keys if k not in given]}
    note = ""
    if other:
        note = (f"; the codes follow the model's order of the categories, {other}, not the sample's category "
                "order, so the column's .cat.codes are not them: map by value (pandas.Categorical(column, "
                "categories=...).codes)")
    if differ:
        note += (f"; the sample's category column(s) hold other categories than the model was fitted on, {differ} "
                 "(re-cast after fitting?): a code is a position among the model's categories "
                 f"{ {n: list(coded[n]) for n in differ} }, never among the column's, so write the table's codes "
                 "from those, by value; a value the model does not know is scored as the model scores an unknown "
                 "category, or refused where it cannot be")
    return note


def adapt_model(
    proto: Any,
    target: Target,
    *,
    columns: Sequence[str] | None,
    column_types: Mapping[str, str] | None,
    reference: Any,
    is_classifier: bool | None,
    conversion: Any = None,
) -> Any:
    if adaptation_of(proto) is not None and already_adapted(proto, target):
        return proto
    if target.input_types is not None and "string" not in target.input_types:
        # a text category column (LightGBM's) is its codes where the target takes no text, as convert(...,
        # target=...) writes it: the same model converted without the target was refused here
        refuse_codes_unknown_not_missing(proto, target.name)
        text_categories_as_codes(proto)
    if columns is not None:
        check_column_names(list(columns))  # a repeated name first: said as such, not as a column feeding another
        _refuse_own_names_elsewhere(proto, columns)
    else:
        columns = _recorded_fitted_columns(proto)
    labels = class_labels(proto, reference, conversion)
    per_target = class_labels_per_target(reference, conversion)
    if is_classifier is None:
        is_classifier = labels is not None or per_target is not None or any(
            n.op_type in ("ZipMap", "TreeEnsembleClassifier", "LinearClassifier", "SVMClassifier")
            for n in proto.graph.node)
    adapted, _mapping = rewrite(proto, target, columns=columns, column_types=column_types,
                                class_labels=labels, is_classifier=bool(is_classifier),
                                target_labels=per_target)
    check_rewritten(adapted)
    if columns is not None:
        _refuse_fitted_columns_reordered(proto, adapted)
    return adapted


def _recorded_fitted_columns(proto: Any) -> list[str] | None:
    """The named columns the model's one ``[N,k]`` input takes by position, as the file records them: the
    table's columns by default, where they were ``f0..f{k-1}`` and a table holding the user's own names
    could not feed them."""
    from onnxgate.signature import Signature

    inputs = Signature.from_model(proto).inputs
    if len(inputs) != 1 or inputs[0].fitted_columns is None:
        return None
    return list(inputs[0].fitted_columns)


def _refuse_fitted_columns_reordered(proto: Any, adapted: Any) -> None:
    """Refuse table columns (``columns=``, ``--columns``) that are the named columns the model's one ``[N,k]``
    input takes by position (:attr:`onnxgate.signature.TensorSpec.fitted_columns`, recorded in the file), in
    another order: the table's column of one name would feed the position the model reads as another. Only a
    native reference told it (:func:`onnxgate.adaptation.mapping.columns_against_fitted`): from the file alone,
    an iris model adapted with its fitted columns reversed answered 98 of 150 labels otherwise than the model,
    and validate against the file passed (helper-146).

    Raises
    ------
    InvalidDataError
        Naming the first table column that feeds another column's position.
    """
    from onnxgate.adaptation.mapping import columns_against_fitted

    fitted = _recorded_fitted_columns(proto)
    if fitted is None:
        return
    contradicts = columns_against_fitted(adapted, fitted, source="the model")
    if contradicts is not None:
        raise InvalidDataError(contradicts)


def _refuse_own_names_elsewhere(proto: Any, columns: Sequence[str]) -> None:
    """Refuse ``columns`` (one per input, in the model's input order) that give an input the name another input
    reads: ``columns=["lon", "lat"]`` for inputs ``lat, lon`` made table column ``lon`` feed the model's ``lat``,
    and validate failed only with the reference's KeyError (helper-131).

    Raises
    ------
    InvalidDataError
        Naming the first input given another input's name.
    """
    from onnxgate.signature import Signature

    inputs = Signature.from_model(proto).inputs
    if len(inputs) != len(columns) or len(inputs) < 2:
        return  # a split [N,k] input's columns: checked against the reference's fitted columns
    recorded = ColumnMap.from_model(proto)
    own = [recorded.column_for(s.name) for s in inputs]
    for i, column in enumerate(columns):
        others = [j for j, name in enumerate(own) if j != i and column in (name, inputs[j].name)]
        if others:
            j = others[0]
            raise InvalidDataError(
                f"columns {list(columns)} give input {inputs[i].name!r} (your column {own[i]!r}) the name "
                f"{column!r}, which is the model's input {inputs[j].name!r}: table column {column!r} would feed "
                f"{own[i]!r}. Give the columns in the model's input order ({own}), or leave columns out")


def adapt_conversion(
    conv: Conversion,
    target: str | Target,
    sample: Any = None,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    reference: Any = None,
    is_classifier: bool | None = None,
) -> Conversion:
    """Adapt a :class:`Conversion` for a SQL target; :func:`onnxgate.convert` calls it for one.

    A conversion above the target's caps is lowered when every node means the same there; converting the
    native model again at the cap is :func:`onnxgate.api.at_target_cap`'s, which the API runs first.

    Parameters
    ----------
    conv : Conversion
    target : str or Target
    sample : array-like or DataFrame, optional
        The conversion sample; a DataFrame gives column names and types.
    columns, column_types, reference, is_classifier
        As in :func:`adapt`.

    Returns
    -------
    Conversion
        A new Conversion whose model follows the PREDICT contract, with ``target`` set.

    Raises
    ------
    OpsetError, UnsupportedModelError, InvalidDataError
        As in :func:`adapt`.

    Examples
    --------
    >>> conv = og.convert(model, X[:5], target="sql-edge-2.0")  # doctest: +SKIP
    """
    import dataclasses

    import onnx

    from onnxgate.signature import BY_POSITION_WARNING, Signature
    from onnxgate.targets import resolve_target

    tgt = resolve_target(target)
    sample = sample if sample is not None else conv.sample
    warnings = list(conv.warnings)
    work = onnx.ModelProto()
    work.CopyFrom(conv.model)
    lowered = fix_opset(work, tgt, rows=sample)
    warnings.extend(lowered)
    if tgt.input_types is not None and "string" not in tgt.input_types:
        coded = text_category_inputs(work)
        if coded:
            refused = unseen_refused(work)
            scored = [n for n in coded if n not in refused]
            unseen = ", and ".join(
                ([f"an unseen value scored as a missing one{f' for {scored}' if refused else ''}"] if scored else [])
                + ([f"for {refused} an unseen value refused (the one-hot encoder learnt a missing category, or raises "
                    "on an unknown one; a code outside 0..k-1 in the table scores as it scores an unknown category, "
                    "onnxruntime raising where it raises)"] if refused else []))
            warnings.append(f"text category input(s) {list(coded)} take their codes (the position of each value among "
                            f"the categories, -1 for a missing one) on target {tgt.name!r}, which takes no text: a "
                            f"pandas category column is mapped to them by value, {unseen}"
                            f"{_codes_order_note(coded, sample)}")
    sample_columns, sample_types = columns_from_sample(sample)
    recorded = ColumnMap.from_model(work)
    if recorded.renamed:
        # the exporter turned "age (years)" into the input "age__years_" (recorded): its dtype still applies
        types = {recorded.input_for(k): v for k, v in sample_types.items()}
    else:
        types = dict(sample_types)
        types.update({sql_identifier(k): v for k, v in sample_types.items() if sql_identifier(k) not in types})
    types.update(column_types or {})
    allowed = tgt.input_types
    if allowed is not None:
        # a sample dtype the target cannot hold (bool, text on SQL Edge) falls back to the model's type
        types = {k: v for k, v in types.items() if v in allowed or k in (column_types or {})}
    cols = columns
    if cols is None and sample_columns is not None:
        sig = conv.signature
        widths = [s.width for s in sig.inputs]
        if len(sig.inputs) == 1 and widths[0] == len(sample_columns) and sig.inputs[0].name not in sample_columns:
            cols = sample_columns
    adapted = record_lowering(adapt_model(work, tgt, columns=cols, column_types=types, reference=reference,
                                          is_classifier=is_classifier, conversion=conv), lowered)
    from onnxgate._kernels import rewrite_for_target_kernels

    # a conversion made for no target (or another) may hold double nodes the target's older onnxruntime has no
    # kernel for (a LightGBM or HistGradientBoosting model's IsNaN on float64 rows), or a LabelEncoder from float to
    # float (a float32 OrdinalEncoder's): the database refused the file
    warnings.extend(rewrite_for_target_kernels(adapted, tgt))
    mapping = adaptation_of(adapted) or {}
    if mapping.get("zipmap_removed"):
        warnings.append(f"ZipMap removed from outputs {mapping['zipmap_removed']}: PREDICT returns tensors only")
    for name, parts in mapping.get("sequences_split", {}).items():
        per_target = [[column for column, _ in mapping["outputs"].get(part, [])] for part in parts]
        warnings.append(f"output {name!r} (a sequence of {len(parts)} tensors, one per target) is written as one "
                        f"column per class of each target, {per_target}: PREDICT returns tensors only")
    adapted_signature = Signature.from_model(adapted)
    warnings.extend(_cast_outputs(mapping, adapted_signature, tgt))
    split = [k for k, v in mapping.get("inputs", {}).items() if v.get("kind") == "split"]
    if split:
        warnings.append(f"inputs {split} are fed one table column per value (PREDICT takes one column per input)")
        if conv.signature.inputs[0].fitted_columns is not None:
            # its fitted columns are now table columns fed by name (checked against the fitted order): convert's
            # warning that the file takes them by position no longer holds
            warnings = [w for w in warnings if not w.startswith(BY_POSITION_WARNING)]
    # the sample keeps the user's own names: the mapping recorded in the model feeds them to the SQL inputs
    renamed = {c: i for c, i in ColumnMap.from_model(adapted).pairs if c != i}
    outputs = {name.casefold(): name for name in adapted_signature.output_names}
    yielded = {c: i for c, i in renamed.items() if sql_identifier(c).casefold() in outputs}
    if yielded:
        # T-SQL compares names ignoring case: the column LABEL made the output label 'label_1' (helper-200)
        named = ", ".join(f"{c!r} -> {i!r} (output {outputs[sql_identifier(c).casefold()]!r})"
                          for c, i in yielded.items())
        warnings.append(f"input columns renamed because a PREDICT output has their name (T-SQL ignores case), so the "
                        f"outputs keep their documented names; the data may use either name: {named}")
    renamed = {c: i for c, i in renamed.items() if c not in yielded}
    if renamed:
        warnings.append(f"columns renamed to SQL identifiers (data may use either name): {renamed}")
    return dataclasses.replace(
        conv,
        sample=sample,
        model=adapted,
        signature=adapted_signature,
        warnings=tuple(warnings),
        target=tgt.name,
        opset=model_opsets(adapted).get("", conv.opset),
    )


def columns_from_sample(sample: Any) -> tuple[list[str] | None, dict[str, str]]:
    from onnxgate._data import is_dataframe

    if sample is None or not is_dataframe(sample):
        return None, {}
    names = [str(c) for c in sample.columns]
    return names, {str(c): dtype_to_elem(sample[c].dtype) for c in sample.columns
                   if not _nullable_numbers(sample[c].dtype)}


def _nullable_numbers(dtype: Any) -> bool:
    """Whether a column is one of pandas' nullable integer or boolean dtypes (``Int64``, ``boolean``,
    ``int64[pyarrow]``): it may hold ``<NA>``, which scikit-learn, XGBoost and LightGBM read as NaN, so the
    file's own input (float64 where the model reads NaN) is the column's type; an int64 column could not carry
    the rows the model was fitted on. A category column is typed by its categories, not here."""
    import pandas as pd

    return (isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(dtype, pd.CategoricalDtype)
            and dtype.kind in "iub" and dtype.na_value is pd.NA)


def _cast_outputs(mapping: Mapping[str, Any], adapted: Any, target: Target) -> list[str]:
    """One warning per output whose values the target cannot return and which PREDICT returns in another type
    (a classifier's bool labels as the integers 0 and 1, where scikit-learn answers False and True)."""
    from onnxgate.signature import Signature

    original = Signature.from_dict(mapping["original"]) if mapping.get("original") else None
    if original is None:
        return []
    found = []
    for name, entries in mapping.get("outputs", {}).items():
        if name not in original.output_names:
            continue
        before = original.output(name)
        if not before.is_tensor:
            continue  # a ZipMap's probabilities: said by the ZipMap warning
        after = sorted({adapted.output(column).elem_type for column, _ in entries})
        if after != [before.elem_type]:
            columns = [column for column, _ in entries]
            meaning = " (False as 0, True as 1)" if before.elem_type == "bool" else ""
            labels = [adapted.output(column).labels for column, _ in entries]
            if before.elem_type == "string" and labels and labels[0] is not None:
                shown = ", ".join(f"{code} {text!r}" for code, text in enumerate(labels[0][:10]))
                meaning = (f", the code of each class ({shown}{', ...' if len(labels[0]) > 10 else ''}): the codes "
                           "are recorded in the model, and its SQL package writes a table of them and a query that "
                           "returns the text labels")
            found.append(f"output {name!r} holds {before.elem_type} values, which target {target.name!r} does not "
                         f"return: PREDICT returns {columns} as {'/'.join(after)}{meaning}")
    return found

"""The graph skl2onnx wrote, made to answer as scikit-learn does: output ranks, types and layouts
(multi-label probabilities side by side, one label per row, binary scores), float32 and double
bookkeeping, the text normalizer's locale, LightGBM category codes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from onnxgate.converters._sklearn_models import final_step, sub_estimators

#: How skl2onnx lays out a binary classifier's decision scores ``d`` in its ``probabilities`` output when
#: the classifier has no predict_proba (measured with skl2onnx 1.20 on breast_cancer, to 1e-6).
BINARY_SCORES = {"SVC": "-d,d", "NuSVC": "-d,d", "LinearSVC": "d", "RidgeClassifier": "d", "RidgeClassifierCV": "d",
                  "SGDClassifier": "-d,d", "Perceptron": "-d,d", "PassiveAggressiveClassifier": "-d,d",
                  # scikit-learn's two columns sum to 1 (one vote, and the same confidence with either sign)
                  # before decision_function keeps the second
                  "OneVsOneClassifier": "1-d,d", "OneVsRestClassifier": "-d,d"}


def zipmap_column_names(model: Any) -> list[str]:
    """The outputs skl2onnx's ``zipmap="columns"`` writes for a classifier, one per class in ``classes_`` order:
    ``'i<class>'`` for integer or boolean classes, ``'s<label>'`` for text; empty for a model without one list of
    classes."""
    import numpy as np

    classes = getattr(model, "classes_", None)
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        return []
    if np.issubdtype(classes.dtype, np.integer) or classes.dtype == np.bool_:
        return [f"i{int(c)}" for c in classes]
    return [f"s{c}" for c in classes]


def binary_scores_by_class(proto: Any, model: Any, *, raw_scores: bool = False) -> None:
    """Make a binary SVC's or NuSVC's scores (no ``probability=True``) one column per class, ``[-d, d]``:
    skl2onnx writes ``[d, -d]``, so the class-1 column held minus the decision score and the column with the
    highest score was the other class on every row (found by helper-71). With ``zipmap="columns"`` the two
    columns are outputs of their own (``'i0'``, ``'i1'``), each negated the same way; with ``zipmap=True`` in a
    float32 graph the scores are negated before the ZipMap (a ``Neg`` of its maps was a file onnxruntime refused,
    "Type 'seq(map(int64,tensor(float)))' of input parameter ... of operator (Neg) ... is invalid").

    With skl2onnx's ``raw_scores`` (``raw_scores=True``) skl2onnx writes ``[-d, d]`` itself, as onnxgate's double
    graph does: negated again, its scores were ``[d, -d]`` and the highest was the other class on every row."""
    from onnx import helper

    from onnxgate._graph import graph_names, output_after, unique_name

    final = final_step(model)
    if (raw_scores or type(final).__name__ not in ("SVC", "NuSVC") or len(getattr(final, "classes_", ())) != 2
            or hasattr(final, "predict_proba")):
        return
    columns = set(zipmap_column_names(model))
    producers = {out: node for node in proto.graph.node for out in node.output}
    for out in list(proto.graph.output):
        if "prob" not in out.name.lower() and out.name not in columns:
            continue
        zipmap = producers.get(out.name)
        if zipmap is not None and zipmap.op_type == "ZipMap":
            scores = unique_name(f"{zipmap.input[0]}_by_class", graph_names(proto.graph))
            at = list(proto.graph.node).index(zipmap)  # the nodes stay in topological order
            proto.graph.node.insert(at, helper.make_node("Neg", [zipmap.input[0]], [scores], name=scores))
            zipmap.input[0] = scores
        else:
            output_after(proto.graph, out.name, "Neg", was="negated", node="by_class")


def declare_binary_scores(proto: Any, model: Any, *, raw_scores: bool = False) -> None:
    """Declare ``[N,1]`` the scores of a binary classifier that writes one score per row (RidgeClassifier,
    LinearSVC: see :data:`BINARY_SCORES`); skl2onnx declares ``[N,2]`` for RidgeClassifier, and shape
    inference agrees with it, but onnxruntime's LinearClassifier writes one column. With skl2onnx's
    ``raw_scores`` it writes two, ``[-d, d]``: declared so (declared one, onnxruntime warned of the merge)."""
    final = final_step(model)
    if BINARY_SCORES.get(type(final).__name__) != "d" or len(getattr(final, "classes_", ())) != 2:
        return
    for out in proto.graph.output:
        dims = out.type.tensor_type.shape.dim if out.type.HasField("tensor_type") else []
        if "prob" in out.name.lower() and len(dims) == 2 and dims[1].HasField("dim_value"):
            dims[1].dim_value = 2 if raw_scores else 1


def mlp_targets(proto: Any, model: Any) -> None:
    """A multi-target MLPRegressor's output as ``[N, n_targets]``: skl2onnx ends it with a Reshape to
    ``[-1, 1]``, a ``[2N, 1]`` column of the two targets' values interleaved (found by helper-77; the double
    graph was ill-typed against its declaration and fell back to float32)."""
    import numpy as np
    from onnx import numpy_helper

    final = final_step(model)
    targets = getattr(final, "n_outputs_", 1)
    if type(final).__name__ != "MLPRegressor" or not isinstance(targets, int) or targets < 2:
        return
    if len(proto.graph.output) != 1:
        return
    name = proto.graph.output[0].name
    node = next((n for n in proto.graph.node if name in n.output), None)
    if node is None or node.op_type != "Reshape":
        return
    old, shape = node.input[1], f"{node.input[1]}_targets"
    proto.graph.initializer.append(numpy_helper.from_array(np.array([-1, targets], dtype=np.int64), shape))
    node.input[1] = shape
    if not any(old in n.input for n in proto.graph.node):  # the [-1, 1] read by nothing else
        kept = [i for i in proto.graph.initializer if i.name != old]
        del proto.graph.initializer[:]
        proto.graph.initializer.extend(kept)


def zero_init_base_values(proto: Any, model: Any) -> None:
    """One zero base value per class for a ``GradientBoostingClassifier(init="zero")`` of three or more classes.

    skl2onnx sizes them from the loss's ``K``, which scikit-learn's ``HalfMultinomialLoss`` no longer has: it
    wrote one, and onnxruntime refused the file ("base_values" of the wrong size), in double and float32 alike,
    while convert put it down to a missing double kernel (helper-89)."""
    from onnx import helper

    final = final_step(model)
    # only then: a TargetEncoder fitted on a continuous target has classes_ None (convert raised a TypeError)
    if type(final).__name__ != "GradientBoostingClassifier" or getattr(final, "init", None) != "zero" \
            or len(final.classes_) < 3:
        return
    classes = len(final.classes_)
    for node in proto.graph.node:
        if node.domain != "ai.onnx.ml" or node.op_type != "TreeEnsembleClassifier":
            continue
        for k, attr in enumerate(node.attribute):
            if attr.name == "base_values" and len(attr.floats) == 1:
                node.attribute[k].CopyFrom(helper.make_attribute("base_values", [0.0] * classes))


def declare_targets(proto: Any, model: Any) -> None:
    """Declare a multi-target regressor's output ``[N, n_targets]``: skl2onnx declares a forest's and a
    linear model's ``[N,1]`` (for a forest onnxruntime then warned at every run, and the SQL adaptation did
    not split the targets)."""
    from sklearn.base import is_regressor

    final = final_step(model)
    targets = getattr(final, "n_outputs_", None)
    coef: Any = getattr(final, "coef_", None)
    if targets is None and getattr(coef, "ndim", 0) == 2:  # a linear model: one row of coefficients per target
        targets = int(coef.shape[0])
    if not is_regressor(final) or not isinstance(targets, int) or targets < 2 or len(proto.graph.output) != 1:
        return
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    if len(dims) == 2 and dims[1].HasField("dim_value") and dims[1].dim_value == 1:
        dims[1].dim_value = targets


def probabilities_per_row(proto: Any, model: Any, opset: int) -> None:
    """A multi-label tree, forest or KNN classifier's probabilities as one ``[N, sum k_t]`` row per sample.

    skl2onnx writes them ``[targets, N, max k]`` (a target with fewer classes padded), where scikit-learn
    returns one ``[N, k_t]`` array per target; parity compares those side by side, and failed every such
    model on shape, and no SQL target could split a rank-3 output into columns. The targets are laid out
    in order, each sliced to its own classes, as MultiOutputClassifier's sequence is compared.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    from onnxgate._graph import model_names, output_after, redirect_output, unique_name

    final = final_step(model)
    classes = getattr(final, "classes_", None)
    if not isinstance(classes, list) or len(classes) < 2 or len(proto.graph.output) != 2:
        return
    out = proto.graph.output[1]
    if not out.type.HasField("tensor_type"):
        return
    dims = out.type.tensor_type.shape.dim
    widths = [len(c) for c in classes]
    if len(dims) != 3 or not dims[0].HasField("dim_value") or dims[0].dim_value != len(widths):
        return
    graph = proto.graph
    writer = next((n for n in graph.node if out.name in n.output), None)
    if (len(set(widths)) > 1 and writer is not None and writer.op_type == "Concat"
            and len(writer.input) == len(widths) and [a.i for a in writer.attribute if a.name == "axis"] == [0]):
        # skl2onnx's KNN does not pad a target with fewer classes: it concatenates [1, N, k_t] blocks on
        # axis 0, a file the checker and onnxruntime refuse. Side by side on the class axis instead.
        del writer.attribute[:]
        writer.attribute.append(helper.make_attribute("axis", 2))
        output_after(graph, out.name, "Reshape", [None, np.asarray([-1, sum(widths)], dtype=np.int64)],
                     was="per_target", node="side_by_side")
    else:
        taken = model_names(graph)
        stacked = unique_name(f"{out.name}_per_target", taken)
        redirect_output(graph, out.name, stacked)

        def const(base: str, value: Any) -> str:
            name = unique_name(base, taken)
            graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=np.int64), name))
            return name

        parts = _per_target_slices(graph, stacked, out.name, widths, opset, taken, const)
        graph.node.append(helper.make_node("Concat", parts, [out.name], axis=1,
                                           name=unique_name(f"{out.name}_side_by_side", taken)))
    batch = type(dims[1])()
    batch.CopyFrom(dims[1])
    out.type.tensor_type.shape.ClearField("dim")
    out.type.tensor_type.shape.dim.add().CopyFrom(batch)
    out.type.tensor_type.shape.dim.add().dim_value = sum(widths)


def declare_target_widths(proto: Any, model: Any) -> None:
    """Declare each element of a MultiOutputClassifier's probability sequence ``[N, k_t]``, ``k_t`` its target's
    classes: shape inference cannot tell most of them (LinearClassifier with a Normalizer after it, a
    TreeEnsembleClassifier), and a target whose service or ``PREDICT`` returns tensors only gets each element
    as an output of its own (:func:`onnxgate._graph.split_tensor_sequences`), one column per class on SQL."""
    from onnx import helper

    classes = getattr(final_step(model), "classes_", None)
    if type(final_step(model)).__name__ != "MultiOutputClassifier" or not isinstance(classes, list):
        return
    graph = proto.graph
    writers = {out: node for node in graph.node for out in node.output}
    declared = {vi.name for vi in graph.value_info}
    for out in graph.output:
        node = writers.get(out.name)
        if (not out.type.HasField("sequence_type") or node is None or node.op_type != "SequenceConstruct"
                or len(node.input) != len(classes)):
            continue
        elem = out.type.sequence_type.elem_type.tensor_type.elem_type
        for part, target_classes in zip(node.input, classes):
            if part not in declared:
                graph.value_info.append(helper.make_tensor_value_info(part, elem, [None, len(target_classes)]))


#: The locale a text model's StringNormalizer lower-cases with, where the converter names none.
TEXT_LOCALE = "C.UTF-8"


def portable_locale(proto: Any, warnings: list[str]) -> None:
    """Name a locale every Linux onnxruntime can build in a StringNormalizer that names none.

    skl2onnx writes CountVectorizer's and TfidfVectorizer's StringNormalizer without a locale, and
    onnxruntime on Linux then builds ``en_US.UTF-8``, which most container images and this machine lack:
    every text model failed to load ("Failed to construct locale with name:en_US.UTF-8"), raw skl2onnx's
    too. ``C.UTF-8`` ships with glibc's Debian and Ubuntu images and lower-cases all of Unicode as
    ``en_US.UTF-8`` does. onnxruntime on Windows reads Windows' own locale names, so the choice is said.
    """
    from onnx import helper

    changed = 0
    for node in proto.graph.node:
        if (node.op_type == "StringNormalizer" and node.domain in ("", "ai.onnx")
                and not any(a.name == "locale" for a in node.attribute)):
            node.attribute.append(helper.make_attribute("locale", TEXT_LOCALE))
            changed += 1
    if changed:
        warnings.append(
            f"the text normalizer lower-cases in locale {TEXT_LOCALE!r}, which Linux images ship (onnxruntime's "
            "default, en_US.UTF-8, is missing from most and the model would not load); onnxruntime on Windows "
            "needs a Windows locale name there (en-US)"
        )


def _per_target_slices(graph: Any, stacked: str, out: str, widths: list[int], opset: int, taken: set[str],
                       const: Any) -> list[str]:
    """The ``[N, k_t]`` block of each target of a ``[targets, N, max k]`` tensor, sliced to its classes."""
    from onnx import helper

    from onnxgate._graph import unique_name

    parts = []
    for t, width in enumerate(widths):
        rows = unique_name(f"{out}_target{t}", taken)
        graph.node.append(helper.make_node("Gather", [stacked, const(f"{out}_t{t}", t)], [rows], axis=0,
                                           name=unique_name(f"{out}_gather{t}", taken)))
        part = unique_name(f"{out}_target{t}_classes", taken)
        if opset >= 10:
            graph.node.append(helper.make_node(
                "Slice", [rows, const(f"{out}_start", [0]), const(f"{out}_end{t}", [width]),
                          const(f"{out}_axis", [1])], [part], name=unique_name(f"{out}_slice{t}", taken)))
        else:
            graph.node.append(helper.make_node("Slice", [rows], [part], starts=[0], ends=[width], axes=[1],
                                               name=unique_name(f"{out}_slice{t}", taken)))
        parts.append(part)
    return parts


def lightgbm_category_codes(proto: Any, model: Any, opset: int) -> None:
    """A pipeline ending in a LightGBM model fitted with ``categorical_feature``: its tree ensemble reads
    the categorical columns as LightGBM does (:func:`onnxgate.converters._boosting.truncate_category_codes`),
    when it is the only tree model in the pipeline (another's trees may read the same features)."""
    final = final_step(model)
    if not type(final).__module__.startswith("lightgbm"):
        return
    trees = [e for e in sub_estimators(model) if e is not final and (
        type(e).__module__.startswith(("sklearn.ensemble", "sklearn.tree", "xgboost", "catboost", "lightgbm")))]
    if trees:
        return
    from onnxgate.converters._boosting import truncate_category_codes
    from onnxgate.converters.lightgbm import _booster, _training_params

    booster = _booster(final)
    codes = [int(i) for i in _training_params(booster).get("categorical_feature") or ()]
    if codes:
        truncate_category_codes(proto, codes, booster.num_feature(), opset)


def exp_link(proto: Any, model: Any) -> None:
    """A HistGradientBoosting regressor fitted with a log link (``loss="poisson"`` or ``"gamma"``) answers
    ``exp`` of its trees' sum, as ``predict`` does; skl2onnx wrote the raw sum, so every row failed parity
    (the file answered log-counts)."""
    from onnxgate._graph import output_after

    final = final_step(model)
    link = getattr(getattr(final, "_loss", None), "link", None)
    if (not type(final).__name__.startswith("HistGradientBoostingRegressor") or type(link).__name__ != "LogLink"
            or len(proto.graph.output) != 1):
        return
    output_after(proto.graph, proto.graph.output[0].name, "Exp", was="log", node="exp")


#: The numpy functions written as ONNX nodes (a FunctionTransformer's ``func``, a TransformedTargetRegressor's
#: ``inverse_func``), by ``__name__``, each an op and its inputs (``None``: the value so far, a number: a constant
#: of its type). Each op is one onnxruntime runs in float and double and answers as numpy does on 0, negatives,
#: the infinities and NaN (``Log(-1)`` NaN, ``Sign(NaN)`` NaN, ``Round`` half to even as ``rint``); ``tan``,
#: ``sinh``, ``arcsin``... are left out: onnxruntime 1.32 has no double kernel for them. ``"exact log1p"`` and
#: ``"exact expm1"`` are the nodes of :func:`onnxgate._graph.exact_log1p` and :func:`onnxgate._graph.exact_expm1`
#: (:func:`exact_function`): ``Log(1 + x)`` and ``Exp(x) - 1`` lost every digit of a tiny ``x`` (relative error
#: up to 1.0e-4 in double and 1.0 in float32 for ``x`` in [1e-12, 1e-3], 2.2e-16 and 2.3e-7 written so).
NUMPY_FUNCTIONS: dict[str, list[tuple[str, list[Any]]]] = {
    "absolute": [("Abs", [None])],
    "ceil": [("Ceil", [None])],
    "cos": [("Cos", [None])],
    "exp": [("Exp", [None])],
    "exp2": [("Pow", [2.0, None])],
    "expm1": [("exact expm1", [None])],
    "floor": [("Floor", [None])],
    "log": [("Log", [None])],
    "log10": [("Log", [None]), ("Div", [None, math.log(10.0)])],
    "log1p": [("exact log1p", [None])],
    "log2": [("Log", [None]), ("Div", [None, math.log(2.0)])],
    "negative": [("Neg", [None])],
    "reciprocal": [("Reciprocal", [None])],
    "rint": [("Round", [None])],
    "sign": [("Sign", [None])],
    "sin": [("Sin", [None])],
    "sqrt": [("Sqrt", [None])],
    "square": [("Mul", [None, None])],
    "tanh": [("Tanh", [None])],
}

#: The numpy functions written with their keyword arguments (``kw_args``, ``inverse_kw_args``): ``clip`` with
#: ``a_min``/``a_max`` (or ``min``/``max``, numpy 2.1), scalars or one bound per column, ``round``/``around``
#: with ``decimals``.
KEYWORD_FUNCTIONS = ("around", "clip", "round")


def numpy_steps(func: Any, kw_args: dict[str, Any] | None) -> list[tuple[str, list[Any]]] | None:
    """The nodes computing ``func(x, **kw_args)`` (:data:`NUMPY_FUNCTIONS`, :data:`KEYWORD_FUNCTIONS`); None for
    a function or keyword argument not written here (a lambda, ``np.log(x, where=...)``)."""
    import numpy as np

    name = getattr(func, "__name__", None)
    if name is None or getattr(np, name, None) is not func:
        return None
    kw = dict(kw_args or {})
    if name in NUMPY_FUNCTIONS and not kw:
        return NUMPY_FUNCTIONS[name]
    if name == "clip":
        low = kw.pop("a_min", kw.pop("min", None))
        high = kw.pop("a_max", kw.pop("max", None))
        if kw or (low is None and high is None):
            return None
        # np.clip is minimum(maximum(x, a_min), a_max): a_max wins where the bounds cross; NaN stays NaN
        return ([("Max", [None, np.asarray(low, dtype=np.float64)])] if low is not None else []) + (
            [("Min", [None, np.asarray(high, dtype=np.float64)])] if high is not None else [])
    if name in ("round", "around"):
        decimals = int(kw.pop("decimals", 0))
        if kw:
            return None
        # numpy's own order: x * 10**d, rint, / 10**d (x / 10**-d, rint, * 10**-d for negative d)
        factor = 10.0 ** abs(decimals)
        into, back = ("Mul", "Div") if decimals >= 0 else ("Div", "Mul")
        return [("Round", [None])] if decimals == 0 else [
            (into, [None, factor]), ("Round", [None]), (back, [None, factor])]
    return None


def exact_function(op: str, x: Any, node: Any, const: Any) -> Any:
    """The output of ``op`` (``"exact log1p"``, ``"exact expm1"``, :data:`NUMPY_FUNCTIONS`) of ``x``, written with
    ``node(kind, *inputs)`` and ``const(value)`` of any graph builder."""
    from onnxgate._graph import exact_expm1, exact_log1p

    return (exact_log1p if op == "exact log1p" else exact_expm1)(x, node, const)


def numpy_functions_written() -> str:
    """The numpy functions :func:`numpy_steps` writes, for a refusal's message."""
    return "numpy." + ", numpy.".join(sorted((*NUMPY_FUNCTIONS, *KEYWORD_FUNCTIONS)))


def inverse_steps(transformer: Any) -> list[tuple[str, list[Any]]]:
    """The nodes computing a TransformedTargetRegressor's ``transformer_.inverse_transform`` on its
    regressor's output, each an op and its inputs (``None`` the value so far, arrays constants).

    Raises
    ------
    UnsupportedModelError
        A transformer or ``inverse_func`` not written here (a lambda, a PCA...).
    """

    from onnxgate.errors import UnsupportedModelError

    kind = type(transformer).__name__
    if kind == "FunctionTransformer":
        inverse = transformer.inverse_func
        if inverse is None:
            return []
        written = numpy_steps(inverse, transformer.inv_kw_args)
        if written is not None:
            return written
        name = getattr(inverse, "__name__", repr(inverse))
        what = f"inverse_func {name}" + (" with inv_kw_args" if transformer.inv_kw_args else "")
    elif kind == "StandardScaler":
        steps: list[tuple[str, list[Any]]] = []
        if transformer.scale_ is not None:
            steps.append(("Mul", [None, transformer.scale_]))
        if transformer.mean_ is not None and transformer.with_mean:
            steps.append(("Add", [None, transformer.mean_]))
        return steps
    elif kind == "MinMaxScaler":  # clip bounds transform only: inverse_transform never clips
        return [("Sub", [None, transformer.min_]), ("Div", [None, transformer.scale_])]
    elif kind == "PowerTransformer":
        steps = []
        if transformer.standardize:
            steps += [("Mul", [None, transformer._scaler.scale_]), ("Add", [None, transformer._scaler.mean_])]
        return [*steps, (f"inverse {transformer.method}", [transformer.lambdas_])]
    elif kind == "MaxAbsScaler":
        return [("Mul", [None, transformer.scale_])]
    elif kind == "QuantileTransformer":
        return [("inverse quantiles", [transformer])]
    elif kind == "RobustScaler":
        steps = [("Mul", [None, transformer.scale_])] if transformer.scale_ is not None else []
        return steps + ([("Add", [None, transformer.center_])] if transformer.center_ is not None else [])
    else:
        what = f"transformer {kind}"
    raise UnsupportedModelError(
        f"TransformedTargetRegressor's {what} is not one onnxgate writes in the graph: expected inverse_func "
        f"{numpy_functions_written()} (func/inverse_func), or a StandardScaler, MinMaxScaler, "
        "MaxAbsScaler, RobustScaler, PowerTransformer or QuantileTransformer transformer. Refit with one of those, or "
        "convert the "
        "regressor_ alone and invert its output yourself",
        framework="sklearn",
    )


def inverse_target(proto: Any, transformer: Any) -> None:
    """A TransformedTargetRegressor's answer: its regressor's output put through ``transformer``'s
    inverse (:func:`inverse_steps`), in the output's own element type; skl2onnx has no converter for it."""
    import numpy as np
    from onnx import helper

    from onnxgate._graph import output_after

    out = proto.graph.output[0]
    dtype = helper.tensor_dtype_to_np_dtype(out.type.tensor_type.elem_type)
    for k, (op, inputs) in enumerate(inverse_steps(transformer)):
        if op == "inverse quantiles":
            from onnxgate.converters._sklearn_quantiles import inverse_quantiles

            inverse_quantiles(proto, out.name, inputs[0])
            continue
        if op.startswith("inverse "):
            _power_inverse(proto.graph, out.name, op.split()[1], np.asarray(inputs[0], dtype=np.float64), dtype)
            continue
        if op.startswith("exact "):
            _exact_after(proto.graph, out.name, op, dtype)
            continue
        fed = [None if v is None else np.asarray(v, dtype=dtype).reshape(1, -1) if np.ndim(v) else
               np.asarray(v, dtype=dtype) for v in inputs]
        output_after(proto.graph, out.name, op, fed, was=f"transformed{k}", node=f"inverse{k}")


def _exact_after(graph: Any, name: str, op: str, dtype: Any) -> None:
    """Graph output ``name`` put through ``op`` (:func:`exact_function`), in ``dtype``."""
    import numpy as np
    from onnx import helper, numpy_helper

    from onnxgate._graph import model_names, redirect_output, unique_name

    taken = model_names(graph)
    x = unique_name(f"{name}_{op.split()[1]}", taken)
    redirect_output(graph, name, x)

    def const(value: float) -> str:
        tensor = unique_name(f"{name}_{op.split()[1]}_constant", taken)
        graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), tensor))
        return tensor

    def node(kind: str, *inputs: str) -> str:
        result = unique_name(f"{name}_{op.split()[1]}_{kind.lower()}", taken)
        graph.node.append(helper.make_node(kind, list(inputs), [result], name=unique_name(f"{name}_{kind}", taken)))
        return result

    graph.node.append(helper.make_node("Identity", [exact_function(op, x, node, const)], [name],
                                       name=unique_name(f"{name}_Identity", taken)))


def _power_inverse(graph: Any, name: str, method: str, lambdas: Any, dtype: Any) -> None:
    """PowerTransformer's inverse of each column of output ``name`` with its own lambda, as scikit-learn
    computes it: Box-Cox ``(x*l + 1)^(1/l)`` (``exp(x)`` where l is 0); Yeo-Johnson, for ``x >= 0``
    ``(x*l + 1)^(1/l) - 1`` (``exp(x) - 1`` where l is 0), else ``1 - (1 - (2-l)*x)^(1/(2-l))``
    (``1 - exp(-x)`` where l is 2). Both sides are computed and ``Where`` picks, per column and row."""
    import numpy as np
    from onnx import helper, numpy_helper

    from onnxgate._graph import model_names, redirect_output, unique_name

    taken = model_names(graph)
    x = unique_name(f"{name}_power", taken)
    redirect_output(graph, name, x)

    def const(value: Any, kind: Any = dtype) -> str:
        tensor = unique_name(f"{name}_power_constant", taken)
        graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=kind).reshape(1, -1), tensor))
        return tensor

    def node(op: str, *inputs: str, out: str | None = None) -> str:
        result = out or unique_name(f"{name}_power_{op.lower()}", taken)
        graph.node.append(helper.make_node(op, list(inputs), [result], name=unique_name(f"{name}_{op}", taken)))
        return result

    tiny = np.spacing(1.0)
    one = const(1.0)

    def powered(lam: Any, special: Any) -> str:  # (x*lam + 1)^(1/lam), lam = 1 where the special form is used
        safe = np.where(special, 1.0, lam)
        return node("Pow", node("Add", node("Mul", x, const(safe)), one), const(1.0 / safe))

    if method == "box-cox":
        zero = lambdas == 0
        node("Where", const(zero, bool), node("Exp", x), powered(lambdas, zero), out=name)
        return
    zero, two = np.abs(lambdas) < tiny, np.abs(lambdas - 2) < tiny
    above = node("Where", const(zero, bool), node("Sub", node("Exp", x), one),
                 node("Sub", powered(lambdas, zero), one))
    flipped = node("Neg", x)  # 1 - ((-x)*(2-l) + 1)^(1/(2-l))
    below_exp = node("Sub", one, node("Exp", flipped))
    safe = np.where(two, 1.0, 2.0 - lambdas)
    below_pow = node("Sub", one, node("Pow", node("Add", node("Mul", flipped, const(safe)), one), const(1.0 / safe)))
    below = node("Where", const(two, bool), below_exp, below_pow)
    node("Where", node("Not", node("Less", x, const(0.0))), above, below, out=name)


def label_per_row(proto: Any, model: Any) -> None:
    """QuadraticDiscriminantAnalysis's label output, which skl2onnx writes ``[1, N]`` (OneVsOneClassifier's:
    ``[N, 1]``), as one label per row
    (``[N]``, as ``predict`` answers): parity failed every such model on shape, and a service answered one
    list of N labels for a batch."""
    import numpy as np

    from onnxgate._graph import output_after

    kind = type(final_step(model)).__name__
    if kind not in ("QuadraticDiscriminantAnalysis", "OneVsOneClassifier") or not proto.graph.output:
        return
    out = proto.graph.output[0]
    # a OneVsOneClassifier's label is its ArgMax's [N, 1], declared [N] over decision trees (strict shape
    # inference then failed a right file) and [N, 1] over others
    rank = len(out.type.tensor_type.shape.dim) if out.type.HasField("tensor_type") else None
    if rank is None or (kind != "OneVsOneClassifier" and rank != 2):
        return
    graph = proto.graph
    output_after(graph, out.name, "Reshape", [None, np.asarray([-1], dtype=np.int64)], was="one_row", node="per_row")
    batch = next((o.type.tensor_type.shape.dim[0] for o in graph.output[1:] if o.type.HasField("tensor_type")
                  and o.type.tensor_type.shape.dim), None)
    out.type.tensor_type.shape.ClearField("dim")
    if batch is not None:
        out.type.tensor_type.shape.dim.add().CopyFrom(batch)
    else:
        out.type.tensor_type.shape.dim.add().dim_param = "N"
    classes = np.asarray(getattr(final_step(model), "classes_", ()))
    if kind != "OneVsOneClassifier" or not len(classes):
        return
    # skl2onnx's label is the class's position: labels 10/20/30 answered 0/1/2 (every row wrong), and text
    # labels made a file onnxruntime could not run (an int64 position declared a string; helper-113)
    if classes.dtype.kind in "iu" and out.type.tensor_type.elem_type == 7 and not np.array_equal(
            classes, np.arange(len(classes))) and _writes_position(graph, out.name):
        output_after(graph, out.name, "Gather", [classes.astype(np.int64), None], was="position", node="class")
    elif classes.dtype.kind in "OUS" and out.type.tensor_type.elem_type == 8 and _writes_position(graph, out.name):
        output_after(graph, out.name, "Gather", [np.array([str(c) for c in classes], dtype=object), None],
                     was="position", node="class")


def classes_at_positions(proto: Any, classes: Any) -> None:
    """The label of a classifier converted with its classes' positions as classes
    (:func:`onnxgate.converters._sklearn_models.positional_classes`): each position looked up in the true classes
    (int64; float64 for float classes), after the label output and in a ZipMap's keys, in place.

    Raises
    ------
    UnsupportedModelError
        The first output is no int64 label (a converter option renamed or retyped it): the file would answer
        positions for classes.
    """
    import numpy as np
    from onnx import TensorProto, helper

    from onnxgate._graph import output_after
    from onnxgate.errors import UnsupportedModelError

    graph = proto.graph
    if not isinstance(classes, list):
        classes = np.asarray(classes)
        # unsigned labels past int64's largest (2**63 + 5) as uint64: int64 answered -9223372036854775803 for it
        wide = classes.dtype.kind == "u" and classes.size and int(classes.max()) > np.iinfo(np.int64).max
        classes = classes.astype(np.float64 if classes.dtype.kind == "f" else np.uint64 if wide else np.int64)
    out = graph.output[0] if graph.output else None
    if out is None or not out.type.HasField("tensor_type") or out.type.tensor_type.elem_type != TensorProto.INT64:
        widest = int(np.abs(np.concatenate([np.ravel(c) for c in classes])).max())
        raise UnsupportedModelError(
            f"class labels such as {widest} are past {2**24} (float32's exact "
            "integers), which skl2onnx writes as int32 or float32, and this classifier's first output is no int64 "
            "label onnxgate can map back to them. Fit on labels within +-16777216 (a LabelEncoder's codes, kept "
            "with the model to decode its answers)", framework="sklearn")
    if isinstance(classes, list):  # [N, targets] positions, each column among its own target's classes
        width = max(len(c) for c in classes)
        # float labels (1.0/3.0/5.0) answered as float64, as predict answers them; unsigned ones past int64 as uint64
        kinds = {np.asarray(c).dtype for c in classes}
        kind = (np.float64 if any(k.kind == "f" for k in kinds) else np.uint64 if np.dtype(np.uint64) in kinds
                else np.int64)
        table = np.concatenate([np.pad(np.asarray(c, dtype=kind), (0, width - len(c))) for c in classes])
        offsets = (np.arange(len(classes), dtype=np.int64) * width).reshape(1, -1)
        output_after(graph, out.name, "Add", [None, offsets], was="position", node="flat")
        output_after(graph, out.name, "Gather", [table, None], was="flat", node="class")
        out.type.tensor_type.elem_type = {np.float64: TensorProto.DOUBLE, np.uint64: TensorProto.UINT64}.get(
            kind, TensorProto.INT64)
        return
    output_after(graph, out.name, "Gather", [classes, None], was="position", node="class")
    if classes.dtype.kind == "f":  # float classes (1e12, 3.0, 5.0) answered as float64, as predict answers them
        out.type.tensor_type.elem_type = TensorProto.DOUBLE
    elif classes.dtype == np.uint64:
        out.type.tensor_type.elem_type = TensorProto.UINT64
    for node in graph.node:
        if node.op_type != "ZipMap":
            continue
        if classes.dtype == np.uint64:
            raise UnsupportedModelError(
                f"class labels such as {int(classes.max())} are past int64's largest, and a ZipMap's keys are int64: "
                "convert with zipmap=False (the default), or fit on labels within int64", framework="sklearn")
        for attr in node.attribute:
            if (attr.name == "classlabels_int64s" and not isinstance(classes, list)
                    and list(attr.ints) == list(range(len(classes)))):
                attr.CopyFrom(helper.make_attribute("classlabels_int64s", [int(c) for c in classes]))
    # float classes named 's<class>' as skl2onnx names them (1e12/3.0/5.0: 's1000000000000.0'...): 'i0', 'i1'
    # and 'i2' were written, and validate found them matching none of the answers
    _class_columns_named(graph, [f"s{c}" if classes.dtype.kind == "f" else f"i{int(c)}" for c in classes])


def _class_columns_named(graph: Any, names: list[str]) -> None:
    """skl2onnx's ``zipmap="columns"`` outputs of a classifier converted with its classes' positions, ``'i0'``..,
    named ``names`` (``'i<class>'``, ``'s<class>'`` for float classes) as for the classifier itself
    (:func:`zipmap_column_names`), in place: labels 3/5/10**12 wrote outputs 'i0', 'i1', 'i2', which no class
    is, and validate found them matching none of the answers."""
    positions = [f"i{k}" for k in range(len(names))]
    if not {o.name for o in graph.output}.issuperset(positions):
        return
    renamed = dict(zip(positions, names, strict=True))  # at once: 'i1' may become 'i3'
    for node in graph.node:
        node.input[:] = [renamed.get(n, n) for n in node.input]
        node.output[:] = [renamed.get(n, n) for n in node.output]
    for value in [*graph.output, *graph.value_info]:
        value.name = renamed.get(value.name, value.name)


def _writes_position(graph: Any, name: str) -> bool:
    """Whether graph output ``name`` is an ArgMax's position, through Reshapes, Casts and Identities."""
    from onnxgate._graph import traced_back

    made = {out: node for node in graph.node for out in node.output}
    node = made.get(traced_back(made, name, ("Reshape", "Identity", "Cast")))
    return node is not None and node.op_type == "ArgMax"


def unanswered_scores(proto: Any, model: Any, warnings: list[str]) -> None:
    """A MultiOutputClassifier whose members have no ``predict_proba`` answers ``predict`` only (its own
    ``predict_proba`` is not there); skl2onnx still wrote a ``probabilities`` output of the members' scores,
    which no scikit-learn answer checks, so validate failed a file whose labels were right. That output is
    left out (with the nodes only it used), and said."""
    final = final_step(model)
    if type(final).__name__ != "MultiOutputClassifier" or hasattr(final, "predict_proba"):
        return
    graph = proto.graph
    if len(graph.output) < 2 or any(a.type in (5, 10) for n in graph.node for a in n.attribute):  # GRAPH(S)
        return
    dropped = [o.name for o in graph.output[1:]]
    del graph.output[1:]
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    unused = [t for t in graph.initializer if t.name not in needed]
    for tensor in unused:
        graph.initializer.remove(tensor)
    warnings.append(
        f"{type(final).__name__}'s members have no predict_proba, so it answers predict only: the output(s) "
        f"{dropped} skl2onnx writes (the members' scores, which no scikit-learn answer checks) are left out"
    )


def radius_outliers(proto: Any, model: Any) -> None:
    """A RadiusNeighborsClassifier with an ``outlier_label``: a row with no training row within the radius
    gets that label and probabilities of 0 (1 for the label, where it is a class), as scikit-learn answers it.
    skl2onnx divided no votes by no weight there: NaN probabilities and the first class as the label (27 of
    68 wine rows; data without such rows passed parity; found by helper-77). The rows are those whose
    probabilities are NaN."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    final = final_step(model)
    outlier = getattr(final, "outlier_label_", None)
    if type(final).__name__ != "RadiusNeighborsClassifier" or outlier is None or getattr(final, "outputs_2d_", True):
        return
    if len(proto.graph.output) != 2:
        return
    label, probabilities = (o.name for o in proto.graph.output)
    classes = np.asarray(final.classes_)
    value = outlier[0] if isinstance(outlier, (list, tuple, np.ndarray)) else outlier
    kind = proto.graph.output[1].type.tensor_type.elem_type
    row = np.zeros((1, len(classes)), dtype=np.float64 if kind == TensorProto.DOUBLE else np.float32)
    where = np.flatnonzero(classes == value)
    if where.size == 1:
        row[0, where[0]] = 1.0
    label_kind = proto.graph.output[0].type.tensor_type.elem_type
    # onnxruntime has no Where on bool: a bool label is chosen as int64 and cast back (helper-78)
    chosen_kind = TensorProto.INT64 if label_kind == TensorProto.BOOL else label_kind
    answer = (np.array([str(value).encode()], dtype=object) if label_kind == TensorProto.STRING
              else np.array([value], dtype=helper.tensor_dtype_to_np_dtype(chosen_kind)))
    for node in proto.graph.node:
        node.output[:] = [f"{o}_inlier" if o in (label, probabilities) else o for o in node.output]
    proto.graph.initializer.extend([
        numpy_helper.from_array(row, "onnxgate_outlier_row"),
        numpy_helper.from_array(answer, "onnxgate_outlier_label"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "onnxgate_first_class"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "onnxgate_flat"),
    ])
    proto.graph.node.extend([
        helper.make_node("Gather", [f"{probabilities}_inlier", "onnxgate_first_class"], ["onnxgate_first_p"], axis=1),
        helper.make_node("IsNaN", ["onnxgate_first_p"], ["onnxgate_outlier"]),
        helper.make_node("Where", ["onnxgate_outlier", "onnxgate_outlier_row", f"{probabilities}_inlier"],
                         [probabilities]),
        helper.make_node("Reshape", ["onnxgate_outlier", "onnxgate_flat"], ["onnxgate_outlier_rows"]),
    ])
    if chosen_kind == label_kind:
        proto.graph.node.append(helper.make_node(
            "Where", ["onnxgate_outlier_rows", "onnxgate_outlier_label", f"{label}_inlier"], [label]))
        return
    proto.graph.node.extend([
        helper.make_node("Cast", [f"{label}_inlier"], ["onnxgate_inlier_codes"], to=chosen_kind),
        helper.make_node("Where", ["onnxgate_outlier_rows", "onnxgate_outlier_label", "onnxgate_inlier_codes"],
                         ["onnxgate_label_codes"]),
        helper.make_node("Cast", ["onnxgate_label_codes"], [label], to=label_kind),
    ])


def labels_as_classes(proto: Any, model: Any) -> None:
    """A classifier fitted on ``bool`` (or float) labels predicts ``False``/``True`` (``0.0``/``1.0``);
    skl2onnx writes its label output as int64 codes: cast back in the graph
    (:func:`onnxgate._graph.label_as_classes`)."""
    from onnxgate._graph import label_as_classes

    final = final_step(model)
    if hasattr(final, "predict_proba") or hasattr(final, "decision_function"):
        label_as_classes(proto, getattr(final, "classes_", None))


def dedupe_opset_imports(proto: Any) -> None:
    """skl2onnx can list the default domain twice ('' and 'ai.onnx'); keep one entry per domain."""
    from onnxgate._onnx import model_opsets

    best = model_opsets(proto)  # one entry per domain, the highest version listed
    del proto.opset_import[:]
    for domain, version in best.items():
        item = proto.opset_import.add()
        item.domain = domain
        item.version = version


class NoDouble(Exception):
    """The double-precision graph cannot be written or run; ``short`` says why in a few words."""

    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short


def set_metadata(proto: Any, key: str, value: str) -> None:
    for prop in proto.metadata_props:
        if prop.key == key:
            prop.value = value
            return
    entry = proto.metadata_props.add()
    entry.key = key
    entry.value = value


def record_row_width(proto: Any, width: int) -> None:
    """Record ``width`` values a row as the graph's widest (:data:`onnxgate._onnx.ROW_WIDTH_METADATA_KEY`: validate
    and score size their batches to it), unless a wider one is recorded already: the scikit-learn converter's
    text vectorizers and :func:`double_tree_leaves` each record theirs."""
    from onnxgate._onnx import ROW_WIDTH_METADATA_KEY

    recorded = next((int(p.value) for p in proto.metadata_props if p.key == ROW_WIDTH_METADATA_KEY), 0)
    if width > recorded:
        set_metadata(proto, ROW_WIDTH_METADATA_KEY, str(width))


def double_feature_vectorizers(proto: Any) -> None:
    """In a double graph, join the columns in double, not through a float32 FeatureVectorizer.

    skl2onnx joins one input per DataFrame column with ai.onnx.ml's FeatureVectorizer, whose output is
    float32 whatever it reads, then casts the result to double: float64 columns lose their precision
    before a double scaler, and a tree splitting exactly at a training value flips rows that the
    array sample's graph (one double input) scores right. Where every input of the FeatureVectorizer
    is an ``[N,k]`` graph input (or a Cast of one) of the width it declares, and every node reading its output casts it
    to double, it becomes a Cast of each input to double and a Concat on axis 1 (the same values, in
    the same order, in double).
    """
    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, static_width, unique_name

    graph = proto.graph
    widths = {vi.name: static_width(vi) for vi in graph.input}
    types = {vi.name: vi.type.tensor_type.elem_type for vi in graph.input}
    for node in graph.node:  # an integer column is cast (to double, in a double graph) before joining
        if node.op_type == "Cast" and node.input[0] in widths and node.output[0] not in widths:
            widths[node.output[0]] = widths[node.input[0]]
            types[node.output[0]] = next(a.i for a in node.attribute if a.name == "to")
    taken = graph_names(graph)
    for node in list(graph.node):
        if node.op_type != "FeatureVectorizer":
            continue
        declared = [int(d) for a in node.attribute if a.name == "inputdimensions" for d in a.ints]
        if len(declared) != len(node.input) or any(widths.get(i) != d for i, d in zip(node.input, declared)):
            continue
        out = node.output[0]
        readers = [n for n in graph.node if out in n.input]
        to_double = all(
            (n.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.DOUBLE for a in n.attribute))
            or (n.op_type == "CastLike" and n.input[0] == out and types.get(n.input[1]) == TensorProto.DOUBLE)
            for n in readers
        )
        if not readers or not to_double or any(vi.name == out for vi in graph.output):
            continue
        parts, casts = [], []
        for name in node.input:
            if types[name] == TensorProto.DOUBLE:
                parts.append(name)
                continue
            cast = unique_name(f"{name}_as_double", taken)
            casts.append(helper.make_node("Cast", [name], [cast], to=TensorProto.DOUBLE,
                                          name=unique_name(f"Cast_{name}_double", taken)))
            parts.append(cast)
        position = list(graph.node).index(node)
        del graph.node[position]
        for offset, new in enumerate([*casts, helper.make_node("Concat", parts, [out], axis=1, name=node.name)]):
            graph.node.insert(position + offset, new)
        for vi in list(graph.value_info):
            if vi.name == out:
                graph.value_info.remove(vi)


_TREE_ENSEMBLES = {"TreeEnsembleClassifier": 1, "TreeEnsembleRegressor": 0}  # op -> index of its float output


#: ai.onnx.ml operators whose scores are float32 whatever their input (the spec types them float only).
_FLOAT_SCORES = frozenset({"SVMClassifier", "SVMRegressor", "LinearClassifier", "LinearRegressor"})


def float32_ml_outputs(proto: Any) -> list[str]:
    """Record that a double graph computes in float32 where an SVM or linear ai.onnx.ml operator scores.

    Those operators write float32 scores by definition, which skl2onnx casts to double: ``SVC(probability=
    True)`` answered probabilities with float32's rounding (4e-7 off) under float64's tolerance (1e-7), and
    a correct model failed. Recorded like the trees (``onnxgate.float32_inside``), its outputs get float32's
    default tolerances. Returns those operators (none: an empty list), for convert to say so.
    """
    from onnxgate._onnx import FLOAT32_INSIDE_KEY

    ops = sorted({n.op_type for n in proto.graph.node if n.domain == "ai.onnx.ml" and n.op_type in _FLOAT_SCORES})
    if ops and not any(p.key == FLOAT32_INSIDE_KEY for p in proto.metadata_props):
        set_metadata(proto, FLOAT32_INSIDE_KEY, ", ".join(ops))
    return ops



def float32_as_scikit_learn(proto: Any) -> bool:
    """Record that a double graph computes part of its answer in float32 because scikit-learn does: a
    GradientBoostingClassifier's init LogisticRegression, fitted on float32 rows, answers its decision and
    probability in float32, mirrored there (:data:`onnxgate.converters._skl2onnx_fixes.FLOAT32_AS_SCIKIT_LEARN`),
    and float32 sums in another order leave float32's rounding (1.6e-6 on breast_cancer) that float64's
    tolerance (1e-7) failed; so does any init estimator fitted on float32 rows that answers them in float32 (a
    GaussianNB, a LinearRegression), written by its own converter in float32. Its outputs get float32's default
    tolerances, as for ai.onnx.ml's float32 scores. Whether it did."""
    from onnxgate._onnx import FLOAT32_INSIDE_KEY
    from onnxgate.converters._skl2onnx_fixes import FLOAT32_AS_SCIKIT_LEARN

    if not any(n.name.startswith(FLOAT32_AS_SCIKIT_LEARN) for n in proto.graph.node):
        return False
    if not any(p.key == FLOAT32_INSIDE_KEY for p in proto.metadata_props):
        set_metadata(proto, FLOAT32_INSIDE_KEY, "a GradientBoosting model's init estimator")
    return True


def float32_tree_ensembles(proto: Any) -> None:
    """Let tree ensembles sit in a double graph: float32 in, float32 out, Cast on both sides.

    skl2onnx 1.20 declares double outputs on ``TreeEnsembleClassifier``/``Regressor`` when the graph
    is double; ai.onnx.ml 1-3 define those outputs as float only, so the file is ill-typed and
    onnxruntime refuses it. Casting the tree's input to float32 is what scikit-learn's own trees do
    (``DecisionTree*``, forests and gradient boosting compare ``float32(x)`` with thresholds chosen
    for float32), so the comparisons are the estimator's; everything before the trees (a scaler)
    and after them stays in double. Applied only when the result type-checks.
    """
    import onnx
    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, unique_name

    trees = [n for n in proto.graph.node if n.domain == "ai.onnx.ml" and n.op_type in _TREE_ENSEMBLES]
    if not trees:
        return

    def type_error(model: Any) -> str | None:
        try:
            onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        except Exception as err:
            return str(err)
        return None

    # a graph ill-typed before the trees are touched (a multi-output forest's ReduceMean declared double, which
    # declare_double_outputs settles later) takes the casts when they add no error of their own: its per-tree
    # classifiers compared double rows with float32 thresholds (6 of 124 wine rows off; helper-89)
    before: list[str | None] = []  # the graph's own type error, found only when a candidate has one
    for widen_outputs in (True, False):  # skl2onnx declares some tree outputs double, some float
        candidate = onnx.ModelProto()
        candidate.CopyFrom(proto)
        graph = candidate.graph
        taken = graph_names(graph)
        positions = [
            i for i, n in enumerate(graph.node) if n.domain == "ai.onnx.ml" and n.op_type in _TREE_ENSEMBLES
        ]
        for index in reversed(positions):
            node = graph.node[index]
            source = node.input[0]
            narrow = unique_name(f"{source}_float32", taken)
            node.input[0] = narrow
            if widen_outputs:
                out_index = _TREE_ENSEMBLES[node.op_type]
                wide = node.output[out_index]
                inner = unique_name(f"{wide}_float32", taken)
                node.output[out_index] = inner
                graph.node.insert(index + 1, helper.make_node(
                    "Cast", [inner], [wide], to=TensorProto.DOUBLE, name=unique_name("Cast_tree_out", taken)
                ))
            graph.node.insert(index, helper.make_node(
                "Cast", [source], [narrow], to=TensorProto.FLOAT, name=unique_name("Cast_tree_in", taken)
            ))
        after = type_error(candidate)
        if after is not None:
            if not before:
                before.append(type_error(proto))
            if after != before[0]:
                continue
        proto.CopyFrom(candidate)
        from onnxgate._onnx import FLOAT32_INSIDE_KEY

        set_metadata(proto, FLOAT32_INSIDE_KEY, "tree ensembles")
        return  # else leave it: refuse_ill_typed_double says why


def exponential_link_in_double(proto: Any) -> None:
    """GradientBoostingClassifier(loss="exponential")'s float32 leaves feeding double probabilities.

    skl2onnx writes the exponential loss's link as ``Sigmoid(Mul(scores, 2))`` with a float32 ``2``, so in a
    double graph the probabilities were float32 while declared double: the file was ill-typed, and a shallow
    model fell back to a float32 graph
    whole, float64 rows cast to float32 before anything. Here the ensemble's scores are cast to double and the
    ``2`` is double, so the link and the outputs after it compute in double, as for the log-loss (the leaves
    are added in double by :func:`double_tree_leaves`)."""
    from onnx import TensorProto, helper, numpy_helper

    from onnxgate._graph import graph_names, unique_name

    graph = proto.graph
    constants = {c.name: c for c in graph.initializer}
    taken = graph_names(graph)
    for index in reversed(range(len(graph.node))):
        tree = graph.node[index]
        if tree.domain != "ai.onnx.ml" or tree.op_type != "TreeEnsembleClassifier":
            continue
        scores = tree.output[1]
        readers = [n for n in graph.node if scores in n.input]
        if len(readers) != 1 or readers[0].op_type != "Mul" or list(readers[0].input).index(scores) != 0:
            continue
        scale = constants.get(readers[0].input[1])
        if scale is None or scale.data_type != TensorProto.FLOAT:
            continue
        wide = unique_name(f"{scores}_double", taken)
        readers[0].input[0] = wide
        double = unique_name(f"{scale.name}_double", taken)
        graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(scale).astype("float64"), double))
        readers[0].input[1] = double
        if not any(scale.name in n.input for n in graph.node):
            graph.initializer.remove(scale)
        graph.node.insert(index + 1, helper.make_node(
            "Cast", [scores], [wide], to=TensorProto.DOUBLE, name=unique_name("Cast_tree_out", taken)))


@dataclass(frozen=True)
class ZipMapEnd:
    """The end skl2onnx writes for ``zipmap=True`` (its ``SklearnZipMap`` operator), taken off a double graph by
    :func:`unzipped`: the label node (a Cast to int64, or an Identity of text labels) and the ZipMap, the
    tensors they read (``label``, ``probabilities``) and the graph outputs they write, as declared."""

    label: str
    probabilities: str
    nodes: tuple[Any, ...]
    outputs: tuple[Any, ...]


def unzipped(proto: Any) -> ZipMapEnd | None:
    """Take skl2onnx's ZipMap end off a double graph, leaving the ``label`` and ``probabilities`` tensors as its
    outputs, as ``zipmap=False`` writes them; :func:`zipped_in_float32` puts it back once the graph is settled.

    ai.onnx.ml's ZipMap reads float32 scores only, so a classifier converted with ``zipmap=True`` could not be
    written in double and fell back to float32 altogether (a LogisticRegression's probabilities 2.5e-7 off
    on iris), and the double graph's fixes, which read its ``label`` and ``probabilities`` outputs, passed a
    forest's by (its float32 sums kept, 4.2e-7 off). Without the end, the graph takes those fixes as the
    graph of ``zipmap=False`` does. None (the graph left as it is) for an end of another form.
    """
    import onnx
    from onnx import TensorProto, helper

    graph = proto.graph
    zipmaps = [n for n in graph.node if n.op_type == "ZipMap"]
    names = [o.name for o in graph.output]
    if len(zipmaps) != 1 or zipmaps[0].output[0] not in names or names.index(zipmaps[0].output[0]) == 0:
        return None
    zipmap = zipmaps[0]
    at = names.index(zipmap.output[0])
    producers = {out: node for node in graph.node for out in node.output}
    label_node = producers.get(names[at - 1])
    if label_node is None or label_node.op_type not in ("Cast", "Identity") or len(label_node.input) != 1:
        return None
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:
        return None
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info if v.type.HasField("tensor_type")}
    widths = [len(a.ints or a.strings) for a in zipmap.attribute if a.name.startswith("classlabels")]
    label, probabilities = label_node.input[0], zipmap.input[0]
    end = ZipMapEnd(label, probabilities, (_copied(label_node), _copied(zipmap)),
                    (_copied(graph.output[at - 1]), _copied(graph.output[at])))
    # declared as skl2onnx declares it without ZipMap (its type guessed from the classes, as output_label's): the
    # fixes read the declaration (a OneVsOneClassifier's text label declared string holds the class's position)
    label_out = _copied(graph.output[at - 1])
    label_out.name = label
    scores_out = helper.make_tensor_value_info(probabilities, types.get(probabilities) or TensorProto.DOUBLE,
                                               [None, widths[0] if widths else None])
    graph.node.remove(label_node)
    graph.node.remove(zipmap)
    del graph.output[at - 1:at + 1]
    graph.output.insert(at - 1, scores_out)
    graph.output.insert(at - 1, label_out)
    return end


def _copied(message: Any) -> Any:
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


def zipped_in_float32(proto: Any, end: ZipMapEnd) -> None:
    """Put back the ZipMap end :func:`unzipped` took off, its probabilities cast to float32 right before the
    ZipMap (the only float type it reads): the graph computes in double, and the ``output_probability`` maps
    carry float32's rounding of the double probabilities (at most half a float32 step, 6e-8 relative), the
    label its double answer. Refused (:class:`NoDouble`) when the graph no longer writes the two outputs."""
    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, unique_name

    graph = proto.graph
    names = [o.name for o in graph.output]
    if end.label not in names or end.probabilities not in names:
        raise NoDouble("zipmap=True's ZipMap could not be put back after the double graph's fixes. Convert with "
                       "zipmap=False (the default: the scores as a float64 [N, classes] tensor) to keep double, or "
                       "with precision='float32'.", "zipmap=True's ZipMap could not be put back on the double graph")
    taken = graph_names(graph)
    narrow = unique_name(f"{end.probabilities}_float32", taken)
    label_node, zipmap = (_copied(node) for node in end.nodes)
    zipmap.input[0] = narrow
    graph.node.extend([label_node, helper.make_node("Cast", [end.probabilities], [narrow], to=TensorProto.FLOAT,
                                                     name=unique_name("Cast_zipmap_float32", taken)), zipmap])
    at = min(names.index(end.label), names.index(end.probabilities))
    # the label keeps the shape the fixes settled (QuadraticDiscriminantAnalysis': [N], where skl2onnx says [1, N])
    label_out = _copied(graph.output[names.index(end.label)])
    label_out.name = end.outputs[0].name
    if label_node.op_type == "Cast":
        label_out.type.tensor_type.elem_type = end.outputs[0].type.tensor_type.elem_type
    scores_out = _copied(end.outputs[1])
    # skl2onnx declares the maps' values double in a double graph; ZipMap writes seq(map(int64 or string, float))
    scores_out.type.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    for name in (end.label, end.probabilities):
        graph.output.remove(next(o for o in graph.output if o.name == name))
    graph.output.insert(at, scores_out)
    graph.output.insert(at, label_out)


def float32_tree_outputs(proto: Any) -> None:
    """Graph outputs that are a float32 tree ensemble's output cast to double stay float32.

    For a pipeline ending in XGBoost, LightGBM or CatBoost: the trees compute in float32 (the
    library's own ONNX form, and XGBoost's predictions), so a double output would only claim a
    precision the values do not have, and parity would hold them to double's tolerance. The same
    model converted on its own declares these outputs float32.
    """
    from onnx import TensorProto

    from onnxgate.adaptation.graph import rename_tensor

    graph = proto.graph
    producers = {out: node for node in graph.node for out in node.output}
    for output in graph.output:
        cast = producers.get(output.name)
        if cast is None or cast.op_type != "Cast" or output.type.tensor_type.elem_type != TensorProto.DOUBLE:
            continue
        tree = producers.get(cast.input[0])
        if tree is None or tree.domain != "ai.onnx.ml" or tree.op_type not in _TREE_ENSEMBLES:
            continue
        inner = cast.input[0]
        graph.node.remove(cast)
        rename_tensor(graph, inner, output.name)
        output.type.tensor_type.elem_type = TensorProto.FLOAT


def declare_output_ranks(proto: Any) -> None:
    """Declare each graph output with the rank its node really writes.

    skl2onnx 1.20 declares some outputs with a rank their node does not produce (OneVsOneClassifier's
    ``label``: ``[N]`` declared, ``ArgMax`` with ``keepdims=1`` writes ``[N,1]``): onnxruntime warns and
    returns ``[N,1]``, and the ONNX checker's strict inference rejects the file. Where inference finds
    another rank, the declaration takes the inferred shape (the batch axis stays dynamic); where it finds
    the same rank, the inferred widths, and a dynamic batch for a fixed one. Targets and the SQL adaptation
    read these declarations: a width declared wider than written was split into a column that does not exist.
    """
    import onnx

    # inferred from the file's bytes with the outputs' shapes left out, then put back: a copy of the model to clear
    # them in took as long as the inference (80-650 us of a 5 ms decision tree conversion, measured)
    kept = []
    for out in proto.graph.output:
        if out.type.HasField("tensor_type") and out.type.tensor_type.HasField("shape"):
            shape = onnx.TensorShapeProto()
            shape.CopyFrom(out.type.tensor_type.shape)
            kept.append((out.type.tensor_type, shape))
            out.type.tensor_type.ClearField("shape")
    try:
        try:
            probe = proto.SerializeToString()
        finally:
            for tensor_type, shape in kept:
                tensor_type.shape.CopyFrom(shape)
        inferred = onnx.shape_inference.infer_shapes(probe)
    except Exception:
        return
    shapes = {o.name: o.type.tensor_type for o in inferred.graph.output if o.type.HasField("tensor_type")}
    rows_dynamic = all(i.type.tensor_type.shape.dim and not i.type.tensor_type.shape.dim[0].HasField("dim_value")
                       for i in proto.graph.input if i.type.HasField("tensor_type"))
    for out in proto.graph.output:
        found = shapes.get(out.name)
        if out.type.HasField("tensor_type") and (found is None or not found.HasField("shape")):
            # nothing inferred (an ai.onnx.ml Normalizer has no shape inference): scikit-learn returns a
            # row per input row, so a batch axis fixed to 1 (TfidfTransformer in float32: [1,k]) is
            # skl2onnx's declaration, not the model's, and made every SQL target refuse the model
            dims = out.type.tensor_type.shape.dim
            if rows_dynamic and dims and dims[0].HasField("dim_value") and dims[0].dim_value == 1:
                dims[0].Clear()
            continue
        if found is None or not out.type.tensor_type.HasField("shape"):
            continue
        declared = out.type.tensor_type.shape
        if not found.shape.dim:
            continue
        if len(found.shape.dim) == len(declared.dim):
            # the same rank, another width (PLSRegression: [N,n_features] declared for [N,n_targets]) or a
            # fixed batch (TfidfTransformer: [1,k]); a binary RidgeClassifier's [N,2] inference repeats, so
            # declare_binary_scores declares it
            for i, (dim, said) in enumerate(zip(found.shape.dim, declared.dim)):
                known = dim.HasField("dim_value") and said.HasField("dim_value")
                if i > 0 and known and dim.dim_value != said.dim_value:
                    said.dim_value = dim.dim_value
                elif i == 0 and said.HasField("dim_value") and not dim.HasField("dim_value"):
                    said.Clear()  # the rows: dynamic
            continue
        declared.ClearField("dim")
        for i, dim in enumerate(found.shape.dim):
            new = declared.dim.add()
            if i > 0 and dim.HasField("dim_value"):
                new.dim_value = dim.dim_value


def declare_double_outputs(proto: Any) -> None:
    """Declare double the float outputs a double graph writes in double.

    skl2onnx 1.20 declares a multi-label forest's probabilities float in a double graph while its
    ``ReduceMean`` writes double: the file was ill-typed, and the model fell back to float32 (a label flipped
    on iris). Only float -> double is changed, and only where type inference says the node writes double.
    """
    import onnx
    from onnx import TensorProto

    floats = [o for o in proto.graph.output
              if o.type.HasField("tensor_type") and o.type.tensor_type.elem_type == TensorProto.FLOAT]
    if not floats:
        return
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    wanted = {o.name for o in floats}
    for out in probe.graph.output:
        if out.name in wanted:
            out.type.tensor_type.elem_type = TensorProto.UNDEFINED
    try:
        inferred = onnx.shape_inference.infer_shapes(probe)
    except Exception:
        return  # refuse_ill_typed_double says why
    found = {o.name: o.type.tensor_type.elem_type for o in inferred.graph.output if o.type.HasField("tensor_type")}
    for out in floats:
        if found.get(out.name) == TensorProto.DOUBLE:
            out.type.tensor_type.elem_type = TensorProto.DOUBLE


def refuse_ill_typed_double(proto: Any, model: Any) -> None:
    """skl2onnx accepts double precision for models whose ONNX operators have no double form at the
    ai.onnx.ml opset it writes, or that onnxruntime has no double kernel for; such a file would fail
    type inference or be refused at load. Say so at conversion instead of handing it back."""
    import onnx
    import onnxruntime as ort

    try:
        onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except Exception as err:
        ops = sorted({n.op_type for n in proto.graph.node if n.domain == "ai.onnx.ml"})
        first = root_line(err)
        if "op_type:ZipMap" in str(err):
            # the option's operator, not the estimator: SVC(probability=True) asked for raw_scores and zipmap was
            # told "skl2onnx cannot write SVC in double precision at this opset ... ask for a higher opset", where
            # SVC is written in double and no opset has a double ZipMap
            raise NoDouble(
                f"zipmap=True ends {type(model).__name__}'s file in ai.onnx.ml's ZipMap, which takes float32 scores "
                "only (at every ai.onnx.ml opset), so the graph cannot compute in double. Convert with "
                "zipmap=False (the default: the scores as a float64 [N, classes] tensor) to keep double, or with "
                "precision='float32'.",
                "zipmap=True's ZipMap takes float32 scores only (zipmap=False keeps float64)",
            ) from None
        raise NoDouble(
            f"skl2onnx cannot write {type(model).__name__} in double precision at this opset: the file it "
            f"writes is ill-typed ({first}); operators involved: {ops}. Convert with precision='float32' "
            "(onnxgate casts float64 inputs inside the graph), or ask for a higher "
            "opset if your skl2onnx writes the double form of these operators there.",
            f"skl2onnx writes an ill-typed double graph ({first})",
        ) from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(proto.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:
        first = root_line(err)
        raise NoDouble(
            f"{type(model).__name__} in double precision uses operators onnxruntime has no double kernel for "
            f"({first}). Convert with precision='float32' (onnxgate casts float64 inputs inside "
            "the graph).",
            f"onnxruntime has no double kernel for part of it ({first})",
        ) from None


def root_line(err: BaseException, limit: int = 200) -> str:
    """The first line of the innermost cause of ``err`` (the reason, not the wrapper's context)."""
    root = err
    seen = {id(root)}
    while root.__cause__ is not None and id(root.__cause__) not in seen:
        root = root.__cause__
        seen.add(id(root))
    text = str(root).strip()
    line = text.splitlines()[0] if text else type(root).__name__
    if root is not err and type(root).__name__ not in line:
        line = f"{type(root).__name__}: {line}"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def exact_hist_thresholds(proto: Any, model: Any) -> int:
    """HistGradientBoosting in a double graph, split exactly as scikit-learn splits: it compares float64
    features with its double thresholds, and ai.onnx.ml's tree ensembles (opsets 1-3) compare float32, so
    a value within a float32 step of a threshold took the other branch (the search found one on
    breast_cancer, 0.0013 off). Each feature the trees split is fed instead as the number of the
    ensemble's thresholds on it that lie below the value, counted in double (``Greater``, ``ReduceSum``;
    NaN stays NaN, so each split's missing side holds), and each threshold becomes its own rank among
    them (:func:`feed_ranks`): ``x <= t_j`` is ``count <= j``, whole numbers float32 holds exactly.

    Applied to an ensemble whose nodes are the estimator's, in scikit-learn's order (a categorical split as
    the chain of ``BRANCH_EQ`` nodes :func:`~onnxgate.converters._skl2onnx_fixes.patch_hist_gradient_boosting`
    writes, whose category codes are left as they are: whole numbers, and their columns fed as cast); the
    count of ensembles changed is returned."""
    import numpy as np

    from onnxgate._onnx import model_opsets

    if model_opsets(proto).get("", 0) < 9:
        return 0  # IsNaN and Where are not there yet
    graph = proto.graph
    made = {out: node for node in graph.node for out in node.output}
    changed = 0
    for hist in (e for e in sub_estimators(model) if type(e).__name__.startswith("HistGradientBoosting")):
        if not hasattr(hist, "_predictors"):
            continue
        expected = _hist_nodes(hist)
        for tree in list(graph.node):
            if tree.domain != "ai.onnx.ml" or tree.op_type not in _TREE_ENSEMBLES:
                continue
            attrs = {a.name: a for a in tree.attribute}
            cast = made.get(tree.input[0])
            if "nodes_values" not in attrs or cast is None or cast.op_type != "Cast":
                continue
            modes = [m.decode() for m in attrs["nodes_modes"].strings]
            values = np.asarray(attrs["nodes_values"].floats, dtype=np.float64)
            features = list(attrs["nodes_featureids"].ints)
            if len(modes) != len(expected) or not all(
                    mode == want_mode and (mode == "LEAF" or (f == want and (
                        value == t or (mode == "BRANCH_LEQ"
                                       and abs(value - t) <= 2 * float(np.spacing(np.float32(abs(t))))))))
                    for mode, f, value, (want_mode, want, t) in zip(modes, features, values, expected)):
                continue
            thresholds: dict[int, Any] = {}
            for mode, f, t in expected:
                if mode == "BRANCH_LEQ":
                    thresholds.setdefault(f, set()).add(t)
            ranked = {f: np.array(sorted(ts), dtype=np.float64) for f, ts in thresholds.items()}
            ranks = [float(np.searchsorted(ranked[f], t)) if mode == "BRANCH_LEQ" else value
                     for mode, f, value, (_, _, t) in zip(modes, features, values, expected)]
            feed_ranks(proto, tree, cast.input[0], ranked, int(hist.n_features_in_), ranks)
            made = {out: n for n in graph.node for out in n.output}
            changed += 1
            break
    return changed


def _hist_nodes(hist: Any) -> list[tuple[str, int, float]]:
    """The (mode, feature, threshold) of each node of a fitted HistGradientBoosting model's ensemble, in the
    order skl2onnx writes them: a categorical split as one ``BRANCH_EQ`` per category sent left (the
    codes of the model's own encoder), as ``patch_hist_gradient_boosting`` writes it."""
    out: list[tuple[str, int, float]] = []
    for predictors in hist._predictors:
        for predictor in predictors:
            bitsets: Any = getattr(predictor, "raw_left_cat_bitsets", ())
            for n in predictor.nodes:
                if n["is_leaf"]:
                    out.append(("LEAF", 0, 0.0))
                elif not n["is_categorical"]:
                    out.append(("BRANCH_LEQ", int(n["feature_idx"]), float(n["num_threshold"])))
                else:
                    left = left_categories(bitsets[int(n["bitset_idx"])])
                    out.extend(("BRANCH_EQ", int(n["feature_idx"]), float(code)) for code in left)
    return out


def left_categories(words: Any) -> list[int]:
    """The category codes a HistGradientBoosting split sends left, from its bitset (32-bit words); ``[-1]``,
    a code no value has, when it sends none."""
    return [c for c in range(32 * len(words)) if (int(words[c // 32]) >> (c % 32)) & 1] or [-1]


def feed_ranks(proto: Any, tree: Any, source: str, ranked: dict[int, Any], width: int, ranks: list[float],
               before: Sequence[Any] = ()) -> None:
    """Feed ``tree`` (a TreeEnsemble node of ``proto``) the ``width`` columns of the double ``source``, each
    feature in ``ranked`` as the number of its thresholds (sorted doubles) below the value, counted in double
    (``Greater``, ``ReduceSum``; NaN stays NaN), the others cast to float32; and set the tree's thresholds to
    ``ranks`` (a split's threshold ``t_j`` as its index ``j``: ``x <= t_j`` is ``count <= j``, whole numbers
    float32 holds exactly). The nodes go in just before the tree (after ``before``, the nodes that make
    ``source``), the Concat named :data:`HIST_CODES`; the
    default-domain opset is raised to 9 where it is lower (IsNaN, Where): the caller's requested opset is 9 or
    more."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from onnxgate._graph import HIST_CODES, graph_names, unique_name
    from onnxgate._onnx import model_opsets

    graph = proto.graph
    taken = graph_names(graph)
    added: list[Any] = list(before)

    def name(base: str) -> str:
        return unique_name(f"{HIST_CODES}_{base}", taken)

    def const(array: Any, base: str) -> str:
        tensor = name(base)
        graph.initializer.append(numpy_helper.from_array(np.asarray(array), tensor))
        return tensor

    def node(op: str, inputs: list[str], **attributes: Any) -> str:
        out = name(op.lower())
        added.append(helper.make_node(op, inputs, [out], name=name(op), **attributes))
        return out

    default = next((e for e in proto.opset_import if e.domain in ("", "ai.onnx")), None)
    if default is not None and default.version < 9:
        default.version = 9  # IsNaN and Where; the callers ask for no fewer
    columns = []
    nan = const(np.array([np.nan], dtype=np.float32), "nan")
    axes = const(np.array([1], dtype=np.int64), "axes") if model_opsets(proto).get("", 13) >= 13 else None
    for f in range(width):
        column = node("Gather", [source, const(np.array([f], dtype=np.int64), "index")], axis=1)
        if f not in ranked:
            columns.append(node("Cast", [column], to=TensorProto.FLOAT))
            continue
        above = node("Cast", [node("Greater", [column, const(ranked[f].reshape(1, -1), "thresholds")])],
                     to=TensorProto.FLOAT)
        count = (node("ReduceSum", [above, axes], keepdims=1) if axes is not None
                 else node("ReduceSum", [above], axes=[1], keepdims=1))
        columns.append(node("Where", [node("IsNaN", [column]), nan, count]))
    codes = unique_name(HIST_CODES, taken)
    added.append(helper.make_node("Concat", columns, [codes], name=codes, axis=1))
    tree.input[0] = codes
    values = next(a for a in tree.attribute if a.name == "nodes_values")
    del values.floats[:]
    values.floats.extend(ranks)
    nodes = list(graph.node)  # copies: the tree is changed above, before its copy goes back
    at = next(i for i, n in enumerate(nodes) if n is tree)
    del graph.node[:]
    graph.node.extend(nodes[:at] + added + nodes[at:])  # after the source, before the trees


@dataclass
class _LeafTable:
    """What one fitted tree model's ensemble holds (as skl2onnx writes it) and how scikit-learn answers from its
    leaves.

    ``written``: the ``(tree, node, class or target id, weight)`` entries skl2onnx writes (four arrays), to
    recognise the ensemble. ``trees``, ``nodes``: each leaf; ``values``: the float64 values it adds to the
    ``width`` values of a row, each tree's in turn (``groups`` turns), as scikit-learn adds them (a boosting
    model's baseline already in its first turn's leaves: ``baseline + leaf`` is its first addition);
    ``labels``: the position of a leaf's label (its first largest value). ``mean``: the sum divided by
    ``groups`` (a forest's average). ``answer``: ``"sum"`` (a regressor), ``"proba"`` (the sum is the
    probabilities, the label the first largest: a forest), ``"leaf"`` (one tree: the label is its leaf's),
    ``"logistic>"``/``"logistic>="`` (one score: ``[1 - p, p]``, ``p`` its sigmoid, the label the score's side
    of 0, ``>`` or ``>=``), ``"softmax"`` (the label is the first largest score). ``link``: the operators skl2onnx
    writes, one after the other, from the ensemble's scores to the answer (which the leaves' nodes answer
    instead; GradientBoosting's exponential loss: ``Sigmoid(2 * raw)``, its leaves doubled in the table).
    ``fixed_point``: the leaves are added as whole numbers (:func:`_fixed_point_in_double`), not picked by number
    (shallow trees, whose splits cost less than a column per tree)."""

    written: tuple[Any, Any, Any, Any]
    trees: Any
    nodes: Any
    values: Any
    labels: Any
    groups: int
    width: int
    transform: str
    base_values: int
    mean: bool
    answer: str
    link: tuple[str, ...] = ()
    fixed_point: bool = False


def _hist_table(hist: Any) -> _LeafTable:
    """HistGradientBoosting's leaves: ``raw = baseline``, then each iteration's predictor values added."""
    import numpy as np

    per_iteration = max(len(p) for p in hist._predictors)
    baseline = np.asarray(hist._baseline_prediction, dtype=np.float64).ravel()

    def leaves_of(predictor: Any) -> tuple[Any, Any]:
        leaves = np.flatnonzero(predictor.nodes["is_leaf"])
        return leaves, predictor.nodes["value"][leaves].astype(np.float64)

    stages = [[leaves_of(predictor) for predictor in predictors] for predictors in hist._predictors]
    return _boosted_table(stages, baseline, per_iteration, hasattr(hist, "classes_"), "logistic>")


def _boosted_table(stages: list[list[tuple[Any, Any]]], baseline: Any, per_stage: int, classifier: bool,
                   binary_rule: str) -> _LeafTable:
    """The leaf table of a boosted model: ``stages[i][k]`` holds stage ``i``'s tree of class ``k`` as (leaf node
    ids, float64 leaf values as added); ``baseline`` is added to the first stage's leaves, scikit-learn's first
    addition; a binary classifier labels by ``binary_rule`` (HistGradientBoosting ``score > 0``, GradientBoosting
    ``score >= 0``)."""
    import numpy as np

    trees, nodes, steps, values, classes = [], [], [], [], []
    for i, stage in enumerate(stages):
        for k, (leaves, step) in enumerate(stage):
            trees.append(np.full(len(leaves), i * per_stage + k))
            nodes.append(leaves)
            steps.append(step)
            values.append(baseline[k] + step if i == 0 else step)
            classes.append(np.full(len(leaves), k))
    written = (np.concatenate(trees), np.concatenate(nodes), np.concatenate(classes), np.concatenate(steps))
    return _LeafTable(written, written[0], written[1], np.concatenate(values)[:, np.newaxis], None,
                      len(stages), per_stage,
                      ("LOGISTIC" if per_stage == 1 else "SOFTMAX") if classifier else "NONE", per_stage,
                      False, (binary_rule if per_stage == 1 else "softmax") if classifier else "sum")


def _forest_table(model: Any) -> _LeafTable | None:
    """A decision tree's or a forest's leaves (RandomForest, ExtraTrees): each tree's values (one per output of a
    regressor), or its class proportions (``predict_proba``'s, one output), added in the trees' order and divided
    by their count; a tree alone labels a row the first largest of its leaf's values (``predict``). A classifier
    of several outputs is none: skl2onnx writes its trees' leaves as labels, picking their double values after
    (:func:`_writes_leaf_ids`)."""
    import numpy as np

    members = list(getattr(model, "estimators_", [model]))
    if not all(hasattr(t, "tree_") for t in members):
        return None
    classes = getattr(model, "n_classes_", None)
    outputs = int(getattr(model, "n_outputs_", 1))
    if classes is not None and (outputs != 1 or classes < 2 or any(t.n_classes_ != classes for t in members)):
        return None
    width = int(classes or outputs)
    share = 1.0 / len(members)  # the weight skl2onnx gives each tree
    trees, nodes, values, written = [], [], [], []
    for t, member in enumerate(members):
        leaves = np.flatnonzero(member.tree_.children_left == -1)
        # a classifier's values are its leaves' class proportions (scikit-learn >= 1.4): predict_proba's answer;
        # a regressor's its outputs' values
        value = np.array(member.tree_.value[leaves, 0, :width] if classes is not None
                         else member.tree_.value[leaves, :, 0], dtype=np.float64)
        trees.append(np.full(len(leaves), t))
        nodes.append(leaves)
        values.append(value)
        # skl2onnx: the values times the tree's share over their sum, a binary classifier's second alone
        totals = value.sum(axis=1) if classes is not None else np.ones(len(leaves))
        weights = value * (share / np.where(totals == 0, 1.0, totals))[:, np.newaxis]
        weights = weights[:, 1:] if classes == 2 else weights
        count = weights.shape[1]
        written.append((np.repeat(trees[-1], count), np.repeat(leaves, count), np.tile(np.arange(count), len(leaves)),
                        weights.ravel()))
    table = np.concatenate(values)
    answer = "sum" if classes is None else "leaf" if len(members) == 1 else "proba"
    entries = [np.concatenate(part) for part in zip(*written)]
    return _LeafTable((entries[0], entries[1], entries[2], entries[3]),
                      np.concatenate(trees), np.concatenate(nodes), table, np.argmax(table, axis=1),
                      len(members), width, "NONE", 0, len(members) > 1, answer)


def _boosting_table(model: Any) -> _LeafTable | None:
    """GradientBoosting's leaves: ``raw`` = the init estimator's constant (0 for an init estimator, whose answer
    is added after them), then ``learning_rate * value`` of each
    stage's trees added (``predict_stages``). The exponential loss's probability is ``expit(2 * raw)``, which
    skl2onnx writes after raw scores (``Mul`` by 2, ``Sigmoid``, ``Identity``): its table's leaves are doubled,
    which doubles their sums exactly (a power of two), and its label is the raw score's side of 0 as log-loss's."""
    import numpy as np

    fitted = model.estimators_
    per_stage = int(fitted.shape[1])
    zeros = np.zeros((1, fitted[0, 0].n_features_in_))
    # an init estimator's answer is added after the trees, written as init="zero" (register_gradient_boosting_init)
    baseline = (np.asarray(model._raw_predict_init(zeros), dtype=np.float64).ravel()
                if model.init in (None, "zero") else np.zeros(per_stage))
    stages = []
    for i in range(fitted.shape[0]):
        stage = []
        for k in range(per_stage):
            tree = fitted[i, k].tree_
            leaves = np.flatnonzero(tree.children_left == -1)
            stage.append((leaves, model.learning_rate * tree.value[leaves, 0, 0].astype(np.float64)))
        stages.append(stage)
    if model.init not in (None, "zero"):  # its trees' raw sums alone, zero base values (the init's answer after)
        return _boosted_table(stages, baseline, per_stage, False, "logistic>=")
    table = _boosted_table(stages, baseline, per_stage, hasattr(model, "classes_"), "logistic>=")
    if getattr(model, "loss", None) == "exponential":
        return replace(table, values=2.0 * table.values, transform="NONE", link=("Mul", "Sigmoid", "Identity"))
    return table


#: The fewest splits a training row passes on average, over the trees, in a decision tree, forest or gradient
#: boosting model whose leaves :func:`double_tree_leaves` adds in double: the cost. Its nodes take about 14 ns a
#: row and tree in onnxruntime (a tree ensemble writing a column per tree, the Gather of the leaves, the sum),
#: where a float32 tree takes about 5 ns a split. 100 trees on 200,000 float64 rows in 16,384-row batches, 1 and
#: 2 threads, against the float32 file: GradientBoostingRegressor of depth 3 (its default) 1.87x and 2.19x,
#: depth 6 1.51x and 1.85x, 7 1.41x and 1.52x, 8 1.31x and 1.38x; a 3-class RandomForestClassifier of depth 8
#: 1.17x and 1.52x; forests grown to their leaves (20,000 rows) 1.04x-1.10x. Trees about 8 deep and deeper
#: (a depth-8 tree's rows pass 8 splits or a few fewer) add a column per tree; shallower ones add their leaves as
#: whole numbers (:func:`_fixed_point_in_double`), measured as above on a shared machine, 1 thread, 100 trees:
#: GradientBoostingRegressor of depth 3 1.04x, a 3-class GradientBoostingClassifier 1.18x, a RandomForestRegressor
#: of depth 5 1.37x, where a column per tree took 1.24x, 2.40x, 1.58x. Not for classifiers (decision trees,
#: RandomForest, ExtraTrees): a label is
#: the first largest of the averaged proportions, and float32 sums broke exact ties (an even forest voting half
#: and half: 1 row in 569 of a default forest on breast_cancer columns, seed 268). Every depth adds
#: them in double: 100 trees of depth 4 and 6 (3 classes, 200,000 rows, 1 thread) take 1.37x and 1.34x the
#: float32 file's time; forests of pure leaves (grown to their leaves, the default) add their proportions in
#: float32 exactly (:func:`_counted_exactly`): 1.04x-1.08x, a decision tree 0.75x.
DOUBLE_LEAVES_MIN_SPLITS = 7.5


def _mean_splits(members: Any) -> float:
    """The mean count of splits training rows pass in scikit-learn trees (``tree_``), over the trees."""
    import numpy as np

    reached = total = 0.0
    for member in members:
        tree = member.tree_
        leaves = tree.children_left == -1
        weights = tree.weighted_n_node_samples[leaves]
        reached += float(np.dot(tree.compute_node_depths()[leaves] - 1, weights))  # the root is at depth 1
        total += float(weights.sum())
    return reached / total if total else 0.0


#: scikit-learn's tree models :func:`_forest_table` reads.
_FORESTS = frozenset({"DecisionTreeRegressor", "DecisionTreeClassifier", "ExtraTreeRegressor", "ExtraTreeClassifier",
                      "RandomForestRegressor", "RandomForestClassifier", "ExtraTreesRegressor",
                      "ExtraTreesClassifier"})


def _leaf_table(est: Any, min_splits: float = DOUBLE_LEAVES_MIN_SPLITS) -> _LeafTable | None:
    """The leaves of a fitted scikit-learn tree model :func:`double_tree_leaves` rewrites, or None; regressors and
    boosting models whose training rows pass fewer than ``min_splits`` splits on average are marked ``fixed_point``
    (a tree or forest classifier's leaves are read at any depth, for its ties)."""
    import numpy as np

    name = type(est).__name__
    if type(est).__module__.split(".")[0] != "sklearn":
        return None
    if name.startswith("HistGradientBoosting") and hasattr(est, "_predictors"):
        return _hist_table(est)
    if name in _FORESTS and (hasattr(est, "tree_") or hasattr(est, "estimators_")):
        reader = _forest_table
    elif name in ("GradientBoostingRegressor", "GradientBoostingClassifier") and hasattr(est, "estimators_"):
        reader = _boosting_table
    else:
        return None
    members = np.ravel(getattr(est, "estimators_", [est]))
    if not all(hasattr(m, "tree_") for m in members):
        return None
    table = reader(est)
    if table is None or table.answer in ("proba", "leaf"):
        return table  # a forest's or a tree's classes, any depth: its label is the first largest of exact sums
    if min_splits > 0 and _mean_splits(members) < min_splits:
        # its trees are cheap: a column per tree would cost more than 1.5x their time, whole numbers do not
        return replace(table, fixed_point=True)
    return table


def double_tree_leaves(proto: Any, model: Any, min_splits: float = DOUBLE_LEAVES_MIN_SPLITS) -> int:
    """scikit-learn's tree models' leaves added in double, as scikit-learn adds them: ai.onnx.ml's tree
    ensembles (opsets 1-3) hold their leaf weights and write their scores as float32, so in a double graph a
    RandomForestRegressor fitted on float64 diabetes rows answered 6.6e-5 off ``predict``, a
    GradientBoostingRegressor 3.8e-5, a HistGradientBoosting one 2.5e-5 (poisson 9.4e-5), and probabilities
    were 1e-7 off.

    Each ensemble written for a fitted estimator (:func:`_leaf_table`: decision trees, RandomForest and
    ExtraTrees (a classifier of one output, a regressor of any), GradientBoosting with log-loss, the exponential
    loss or a regression loss and its default init, also a CalibratedClassifierCV's fitted ones, whose
    training rows pass ``min_splits`` (:data:`DOUBLE_LEAVES_MIN_SPLITS`; 0 when float64 was asked for) splits or
    more on average, for the cost, a tree or forest classifier at any depth; and
    HistGradientBoosting; its leaves matched one by one: tree, node, class and weight as skl2onnx writes them;
    a shallower regressor or boosting model adds its leaves as whole numbers instead,
    :func:`_fixed_point_in_double`, unless it has more than 65,536 trees: float32 leaves) becomes a
    ``TreeEnsembleRegressor`` with the same splits whose leaves write their own number, one column per tree
    (whole numbers, exact in float32, below 2**24); the numbers pick the leaves' float64 values
    (``Gather``), added tree after tree in double (``CumSum``: scikit-learn's order, so a forest's tied
    probabilities tie as in ``predict``; ``ReduceSum`` below opset 11). A forest's sum is divided by its tree
    count, a boosting model's starts from its baseline; probabilities are the forest's average, or the scores'
    ``Sigmoid`` (``[1 - p, p]``) or ``Softmax``, and the label is ``predict``'s rule (the first largest
    probability or leaf value, the score above 0 for HistGradientBoosting, at or above it for
    GradientBoosting). A forest whose class proportions add up exactly in float32 (:func:`_counted_exactly`)
    writes their sums instead, one column per class (:func:`_counts_in_double`). The splits are left as they
    are: scikit-learn's trees compare ``float32(x)`` (the Cast :func:`float32_tree_ensembles` wrote),
    HistGradientBoosting's are fed ranks (:func:`exact_hist_thresholds`).
    An ensemble whose scores go anywhere but one Cast to double or a graph output (declared double after, by
    :func:`declare_double_outputs`), past the link skl2onnx writes after them (the exponential loss's
    ``Sigmoid(2 * raw)``, which the new nodes answer instead), or whose post-transform is not the estimator's
    (``raw_scores``: a GradientBoosting inside CalibratedClassifierCV), is left in float32. Only ai.onnx.ml 1-3
    operators are written, so a SQL target's cap takes it too. When every tree ensemble of the graph is one of
    these (HistGradientBoosting's reading the ranks) or writes only the leaf a row reaches
    (:func:`_writes_leaf_ids`: a multi-label forest's), the graph no longer records float32 inside
    (:data:`onnxgate._onnx.FLOAT32_INSIDE_KEY`); the width
    of the trees' columns is recorded (:data:`onnxgate._onnx.ROW_WIDTH_METADATA_KEY`), so batches are sized to
    it. Returns the count rewritten."""
    from onnxgate._graph import HIST_CODES
    from onnxgate._onnx import FLOAT32_INSIDE_KEY, model_opsets

    graph = proto.graph
    if model_opsets(proto).get("", 0) < 5:
        return 0  # Reshape with a shape input
    changed: dict[str, bool] = {}  # the new ensembles' names -> whether their splits are the estimator's
    widest = 0  # 4-byte values a row holds while the trees' columns are added
    # a CalibratedClassifierCV's fitted classifiers (one per fold) are no parameter sub_estimators walks
    folds = [c.estimator for e in sub_estimators(model) for c in getattr(e, "calibrated_classifiers_", [])]
    for est in [*sub_estimators(model), *(e for fold in folds for e in sub_estimators(fold))]:
        if not any(n.domain == "ai.onnx.ml" and n.op_type in _TREE_ENSEMBLES and n.name not in changed
                   for n in graph.node):
            break  # every ensemble done: a forest's own trees are not looked at
        table = _leaf_table(est, min_splits)
        if table is None or len(table.trees) >= 2**24:
            continue
        parts = _fixed_point_parts(table) if table.fixed_point else None
        if table.fixed_point and parts is None:
            continue  # too many trees for whole numbers float32 adds exactly: float32 leaves, for the cost
        for tree in graph.node:
            if tree.domain != "ai.onnx.ml" or tree.op_type not in _TREE_ENSEMBLES or tree.name in changed:
                continue
            kind = "class" if tree.op_type == "TreeEnsembleClassifier" else "target"
            if (kind == "class") != (table.answer != "sum"):
                continue
            reached = _answer_link(graph, tree.output[1 if kind == "class" else 0], table.link)
            if reached is None and table.link and kind == "class":
                # the exponential loss's raw scores (raw_scores: decision_function), written without its link
                reached = _answer_link(graph, tree.output[1], ())
                raw = replace(table, values=table.values / 2.0, link=(), answer=table.answer.replace("logistic", "raw"))
                if reached is not None and _written_leaves(tree, kind, raw) is not None:
                    table = raw
                    parts = _fixed_point_parts(table) if table.fixed_point else None
            if reached is None:
                continue
            order = _written_leaves(tree, kind, table)
            if order is None and kind == "class" and table.transform in ("LOGISTIC", "SOFTMAX") and not table.link:
                # the raw scores (skl2onnx's raw_scores: decision_function; CalibratedClassifierCV's folds)
                raw = replace(table, transform="NONE", answer=table.answer.replace("logistic", "raw")
                              if table.answer.startswith("logistic") else "raw")
                order = _written_leaves(tree, kind, raw)
                table = raw if order is not None else table
            if order is None:
                continue
            replaced, answer = reached
            hist = type(est).__name__.startswith("HistGradientBoosting")
            made = {out: n for n in graph.node for out in n.output}
            exact = not hist or (tree.input[0] in made and made[tree.input[0]].name.startswith(HIST_CODES))
            for gone in replaced:
                del graph.node[next(i for i, n in enumerate(graph.node) if n is gone)]
            read = {name for n in graph.node for name in n.input}
            for constant in [c for c in graph.initializer if c.name in {i for n in replaced for i in n.input}
                             and c.name not in read]:
                graph.initializer.remove(constant)  # the link's own (its Mul's 2)
            if _counted_exactly(table):  # its columns: the classes' sums, no wider than the classifier's
                changed[_counts_in_double(proto, tree, table, order, answer)] = exact
            elif parts is not None:  # its columns: each value's whole-number parts
                changed[_fixed_point_in_double(proto, tree, table, order, answer, parts)] = exact
            else:
                changed[_leaves_in_double(proto, tree, table, order, answer)] = exact
                widest = max(widest, (3 + 4 * table.values.shape[1]) * (int(table.trees.max()) + 1))
            break  # skl2onnx writes one ensemble per estimator
    if changed:
        record_row_width(proto, widest)  # a 1,000-tree forest: 28 kB a row
    from onnxgate.converters._skl2onnx_fixes import LEAF_NUMBERS

    exact = all(changed.get(n.name, False) or _writes_leaf_ids(graph, n) or n.name.startswith(LEAF_NUMBERS)
                for n in graph.node if n.domain == "ai.onnx.ml" and n.op_type in _TREE_ENSEMBLES)
    inside = [p for p in proto.metadata_props if p.key == FLOAT32_INSIDE_KEY and p.value == "tree ensembles"]
    if exact and inside:
        proto.metadata_props.remove(inside[0])
    return len(changed)


def _answer_link(graph: Any, scores: str, link: tuple[str, ...]) -> tuple[list[Any], str] | None:
    """The nodes from an ensemble's ``scores`` to the answer they make, and the answer's name, or None: the
    ``link`` operators (each the only reader of the one before), then a graph output (declared float or double;
    :func:`declare_double_outputs` declares it double after) or the one Cast to double that reads it."""
    from onnx import TensorProto

    declared = {o.name: o.type.tensor_type.elem_type for o in graph.output}
    chain: list[Any] = []
    for op in (*link, "Cast"):
        readers = [n for n in graph.node if scores in n.input]
        if len(chain) == len(link) and not readers and declared.get(scores) in (TensorProto.FLOAT, TensorProto.DOUBLE):
            return chain, scores
        if len(readers) != 1 or readers[0].op_type != op or scores in declared:
            return None
        if op == "Cast" and [a.i for a in readers[0].attribute if a.name == "to"] != [TensorProto.DOUBLE]:
            return None
        chain.append(readers[0])
        scores = readers[0].output[0]
    return chain, scores


def _writes_leaf_ids(graph: Any, tree: Any) -> bool:
    """Whether ``tree`` writes only the node id of the leaf a row reaches, as an int64 label, which is exact:
    skl2onnx writes each tree of a classifier of several outputs (a multi-label forest) so, one ensemble whose
    classes are its leaves' node ids, and picks their values (double in a double graph) after. Its float32
    scores must go nowhere (a Cast no node reads, at most)."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in tree.attribute}
    labels = list(attrs.get("classlabels_int64s", []))
    if (tree.op_type != "TreeEnsembleClassifier" or attrs.get("post_transform", b"NONE") != b"NONE"
            or labels != list(range(len(labels))) or list(attrs.get("class_ids", [])) != list(attrs["class_nodeids"])
            or set(attrs["class_treeids"]) != {0} or set(attrs["class_weights"]) != {1.0}):
        return False
    outputs = {o.name for o in graph.output}

    def unread(name: str) -> bool:
        return name not in outputs and not any(name in n.input for n in graph.node)

    readers = [n for n in graph.node if tree.output[1] in n.input]
    return tree.output[1] not in outputs and all(n.op_type == "Cast" and unread(n.output[0]) for n in readers)


def _written_leaves(tree: Any, kind: str, table: _LeafTable) -> Any:
    """Where each leaf of ``tree`` (in its nodes' order) is in ``table``, when the ensemble's leaf weights,
    post-transform and base values are ``table``'s (weights to 4 float32 steps: skl2onnx computes some, a
    forest's share over the counts, in another order); else None."""
    import numpy as np

    attrs = {a.name: a for a in tree.attribute}
    post = attrs["post_transform"].s.decode() if "post_transform" in attrs else "NONE"
    bases = len(attrs["base_values"].floats) if "base_values" in attrs else 0
    if f"{kind}_weights" not in attrs or post != table.transform or bases != table.base_values:
        return None
    found = [np.asarray(attrs[f"{kind}_{part}"].ints, dtype=np.int64) for part in ("treeids", "nodeids", "ids")]
    weights = np.asarray(attrs[f"{kind}_weights"].floats, dtype=np.float64)
    want = table.written
    if len(weights) != len(want[3]) or any(len(f) != len(weights) for f in found):
        return None
    mine, theirs = np.lexsort(found[::-1]), np.lexsort((want[2], want[1], want[0]))
    if not all(np.array_equal(f[mine], w[theirs]) for f, w in zip(found, want[:3])):
        return None
    expected = want[3][theirs]
    if np.any(np.abs(weights[mine] - expected) > 4 * np.spacing(np.abs(expected).astype(np.float32))):
        return None
    modes = np.array(attrs["nodes_modes"].strings, dtype=object) == b"LEAF"
    trees = np.asarray(attrs["nodes_treeids"].ints, dtype=np.int64)[modes]
    nodes = np.asarray(attrs["nodes_nodeids"].ints, dtype=np.int64)[modes]
    span = int(max(nodes.max(initial=0), table.nodes.max(initial=0))) + 1
    keys, known = trees * span + nodes, table.trees.astype(np.int64) * span + table.nodes
    sorted_known = np.argsort(known)
    at = np.searchsorted(known, keys, sorter=sorted_known).clip(0, len(known) - 1)
    order = sorted_known[at]
    if len(keys) != len(known) or not np.array_equal(known[order], keys):
        return None
    return order


def _counted_exactly(table: _LeafTable) -> bool:
    """Whether a forest's class proportions add up exactly in float32, in any order: each a whole number of
    ``2**-k`` (a leaf grown pure holds 1 and 0, as RandomForest and ExtraTrees grow them by default; a leaf of two
    duplicate rows a half), the trees' sums at most ``2**24`` such steps. Their float32 sum is then scikit-learn's
    float64 sum, whatever order onnxruntime adds them in."""
    import numpy as np

    if table.answer != "proba":
        return False
    values = table.values
    largest = float(np.abs(values).max(initial=0.0)) * table.groups
    for k in range(25):
        scaled = values * 2.0**k
        if largest * 2.0**k > 2.0**24:
            return False
        if np.array_equal(scaled, np.round(scaled)):
            return True
    return False


class _NodesAfter:
    """Nodes to write right after one node of ``proto``'s graph (a tree ensemble made over), each named
    ``prefix_*`` apart from every name the graph holds; their constants go to its initializers."""

    def __init__(self, proto: Any, prefix: str) -> None:
        from onnxgate._graph import graph_names

        self.graph = proto.graph
        self.taken = graph_names(self.graph)
        self.prefix = prefix
        self.added: list[Any] = []

    def name(self, base: str) -> str:
        from onnxgate._graph import unique_name

        return unique_name(f"{self.prefix}_{base}", self.taken)

    def const(self, array: Any, base: str) -> str:
        import numpy as np
        from onnx import numpy_helper

        tensor = self.name(base)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(array), tensor))
        return tensor

    def node(self, op: str, inputs: list[str], out: str | None = None, **attributes: Any) -> str:
        from onnx import helper

        out = out or self.name(op.lower())
        self.added.append(helper.make_node(op, inputs, [out], name=self.name(op), **attributes))
        return out

    def classes(self, tree: Any) -> str:
        """A constant of ``tree``'s class labels (int64 or text), read before its attributes are replaced."""
        import numpy as np
        from onnx import TensorProto, helper

        attrs = {a.name: helper.get_attribute_value(a) for a in tree.attribute}
        if "classlabels_int64s" in attrs:
            return self.const(np.array(attrs["classlabels_int64s"], dtype=np.int64), "classes")
        tensor = self.name("classes")
        strings = attrs["classlabels_strings"]
        self.graph.initializer.append(helper.make_tensor(tensor, TensorProto.STRING, [len(strings)], strings))
        return tensor

    def summing_regressor(self, tree: Any, base: str, width: int, trees: Any, nodes: Any, ids: Any,
                          weights: Any) -> str:
        """``tree``, an ensemble of ``nodes_*`` splits, made over in place into a ``TreeEnsembleRegressor`` of
        ``width`` columns whose leaf (``trees``, ``nodes``) adds ``weights`` to column ``ids``, with no
        post-transform; its old targets and outputs dropped, its one output named ``base``, returned."""
        from onnx import helper

        for a in [a for a in tree.attribute if not a.name.startswith("nodes_")]:
            tree.attribute.remove(a)
        tree.attribute.extend([
            helper.make_attribute("n_targets", width), helper.make_attribute("post_transform", "NONE"),
            helper.make_attribute("aggregate_function", "SUM"),
            helper.make_attribute("target_treeids", list(trees)), helper.make_attribute("target_nodeids", list(nodes)),
            helper.make_attribute("target_ids", list(ids)), helper.make_attribute("target_weights", list(weights))])
        tree.op_type, tree.name = "TreeEnsembleRegressor", self.name("TreeEnsembleRegressor")
        out = self.name(base)
        del tree.output[:]
        tree.output.append(out)
        return out

    def insert_after(self, tree: Any) -> None:
        at = next(i for i, n in enumerate(self.graph.node) if n is tree)
        for offset, new in enumerate(self.added, start=1):
            self.graph.node.insert(at + offset, new)


def _counts_in_double(proto: Any, tree: Any, table: _LeafTable, order: Any, answer: str) -> str:
    """``tree`` (:func:`double_tree_leaves`) made a ``TreeEnsembleRegressor`` with the same splits that adds the
    forest's class proportions (:func:`_counted_exactly`: exact in float32), one column per class; they are cast
    to double and divided by the tree count (``predict_proba``'s average) into ``answer``, and the tree's first
    output is labelled the first largest (``predict``). As cheap as the float32 classifier it replaces, where
    :func:`_leaves_in_double` writes a column per tree. Returns its new name."""
    import numpy as np
    from onnx import TensorProto

    nodes_after = _NodesAfter(proto, "tree_counts")
    const, node = nodes_after.const, nodes_after.node
    classes = nodes_after.classes(tree)
    label = tree.output[0]
    width = table.width
    trees, nodes, values = table.trees[order], table.nodes[order], table.values[order]
    sums = nodes_after.summing_regressor(tree, "sums", width, np.repeat(trees, width).tolist(),
                                         np.repeat(nodes, width).tolist(),
                                         np.tile(np.arange(width), len(trees)).tolist(), values.ravel().tolist())
    total = node("Cast", [sums], to=TensorProto.DOUBLE)
    average = node("Div", [total, const(np.array([[float(table.groups)]]), "count")], answer)
    # the first largest (ArgMax's select_last_index 0), as numpy's argmax in predict
    node("Gather", [classes, node("ArgMax", [average], axis=1, keepdims=0)], label, axis=0)
    nodes_after.insert_after(tree)
    return tree.name


def _leaves_in_double(proto: Any, tree: Any, table: _LeafTable, order: Any, answer: str) -> str:
    """``tree`` (:func:`double_tree_leaves`) made a ``TreeEnsembleRegressor`` with the same splits writing the
    number ``j`` of the leaf reached (its ``j``-th leaf, ``table``'s row ``order[j]``) in its tree's column;
    nodes after it pick ``table``'s values for it and add them over the ``table.groups`` turns of
    ``table.width`` values each; the sum (a regressor's) or the probabilities (a classifier's) are written to
    ``answer``, a classifier's label to the tree's first output. Changed in place (a forest's splits are
    large), the nodes inserted after it; constants go to ``proto``'s initializers. Returns its new name."""
    import numpy as np
    from onnx import TensorProto

    from onnxgate._onnx import model_opsets

    opset = model_opsets(proto).get("", 0)
    nodes_after = _NodesAfter(proto, "tree_leaves")
    const, node = nodes_after.const, nodes_after.node
    classes = nodes_after.classes(tree) if table.answer != "sum" else ""
    label = tree.output[0]
    trees, nodes = table.trees[order], table.nodes[order]
    columns = int(table.trees.max()) + 1
    leaf = nodes_after.summing_regressor(tree, "number", columns, trees.tolist(), nodes.tolist(), trees.tolist(),
                                         np.arange(len(order), dtype=np.float64).tolist())
    number = node("Cast", [leaf], to=TensorProto.INT64)
    values = table.values[order]  # [leaves, values a tree adds]
    picked = node("Gather", [const(values if values.shape[1] > 1 else values[:, 0], "values"), number], axis=0)
    groups, width = table.groups, table.width
    if groups == 1:  # one tree: its leaf's values
        total = node("Reshape", [picked, const(np.array([0, width], dtype=np.int64), "shape")])
    else:
        # [N, trees (x their values)] -> [N, turns, width] (0: the row count as it is, also none)
        grouped = node("Reshape", [picked, const(np.array([0, groups, width], dtype=np.int64), "shape")])
        if opset >= 11:  # added one turn after the other (CumSum), as scikit-learn adds them; the last is the sum
            running = node("CumSum", [grouped, const(np.array(1, dtype=np.int64), "axis")])
            total = node("Gather", [running, const(np.array(groups - 1, dtype=np.int64), "last")], axis=1)
        else:
            total = (node("ReduceSum", [grouped, const(np.array([1], dtype=np.int64), "axes")], keepdims=0)
                     if opset >= 13 else node("ReduceSum", [grouped], axes=[1], keepdims=0))
    if table.answer == "leaf":  # a tree's label is its leaf's (predict's argmax of the leaf's values)
        node("Identity", [total], answer)
        own = const(table.labels[order], "labels")
        position = node("Reshape", [node("Gather", [own, number], axis=0),
                                    const(np.array([-1], dtype=np.int64), "flat")])
        node("Gather", [classes, position], label, axis=0)
    else:
        _answer_from_sums(nodes_after, table, total, answer, label, classes)
    nodes_after.insert_after(tree)
    return tree.name


def _answer_from_sums(nodes_after: _NodesAfter, table: _LeafTable, total: str, answer: str, label: str,
                      classes: str) -> None:
    """Nodes (through ``nodes_after``) that make ``answer`` of ``total``, the double sums of ``table``'s leaves:
    divided by the tree count for a forest, the sum itself for a regressor, a classifier's probabilities (or raw
    scores) and its label in ``label``, one of ``classes`` by ``predict``'s rule (:class:`_LeafTable`'s
    ``answer``; not ``"leaf"``)."""
    import numpy as np
    from onnx import TensorProto

    const, node = nodes_after.const, nodes_after.node
    if table.mean:
        total = node("Div", [total, const(np.array([[float(table.groups)]]), "count")])
    if table.answer == "sum":
        node("Identity", [total], answer)
    else:
        if table.answer.startswith(("logistic", "raw>")):
            if table.answer.startswith("raw"):  # onnxruntime's binary raw scores: [-score, score]
                node("Concat", [node("Neg", [total]), total], answer, axis=1)
            else:
                positive = node("Sigmoid", [total])
                node("Concat", [node("Sub", [const(np.ones((1, 1)), "one"), positive]), positive], answer, axis=1)
            zero = const(np.zeros((1, 1)), "zero")
            side = (node("Greater", [total, zero]) if table.answer.endswith(">")
                    else node("Not", [node("Less", [total, zero])]))
            position = node("Reshape", [node("Cast", [side], to=TensorProto.INT64),
                                        const(np.array([-1], dtype=np.int64), "flat")])
        elif table.answer in ("softmax", "raw"):
            node("Softmax" if table.answer == "softmax" else "Identity", [total], answer, **(
                {"axis": 1} if table.answer == "softmax" else {}))
            position = node("ArgMax", [total], axis=1, keepdims=0)
        else:  # "proba": the forest's average, labelled its first largest
            node("Identity", [total], answer)
            position = node("ArgMax", [total], axis=1, keepdims=0)
        node("Gather", [classes, position], label, axis=0)


#: The finest step :func:`_fixed_point_parts` keeps, as a power of two below the largest leaf: a row's sum is off
#: by less than ``trees * 2**-61`` of the largest leaf, below scikit-learn's own rounding of its float64 sum.
_FIXED_POINT_BITS = 60


def _fixed_point_parts(table: _LeafTable) -> tuple[Any, Any] | None:
    """Each of ``table``'s leaf values as a few whole numbers, ``value = sum_j parts[..., j] * scales[j]``, that
    float32 adds exactly over a row's trees: each part at most ``2**b``, ``b = 24 - ceil(log2(trees a value
    sums))``, so every partial sum of a column stays within ``2**24`` (onnxruntime's float32 tree ensemble adds
    in any order, in float32, and whole numbers there are exact). The parts go on until every remainder is 0
    or below :data:`_FIXED_POINT_BITS` (``parts``: ``[leaves, width, k]``, a leaf's values in its columns,
    float64 whole numbers; ``scales``: ``[k]`` powers of two);
    None when a part would be narrower than 8 bits (more than 65,536 trees a sum)."""
    import numpy as np

    values = np.asarray(table.values, dtype=np.float64)
    if values.shape[1] != table.width:  # a boosting model's: each leaf adds to its class's column alone
        values = np.zeros((len(values), table.width))
        values[np.arange(len(values)), table.written[2]] = table.values[:, 0]
    bits = 24 - int(np.ceil(np.log2(max(table.groups, 1))))
    if bits < 8 or not np.all(np.isfinite(values)):
        return None
    largest = float(np.abs(values).max(initial=0.0))
    top = int(np.frexp(largest)[1]) if largest > 0 else 0  # every value within 2**top
    rest, parts, scales = values.copy(), [], []
    step = top
    while np.any(rest != 0) and step > top - _FIXED_POINT_BITS:
        step -= bits
        scale = 2.0**step
        part = np.round(rest / scale)  # at most 2**bits (the first), 2**(bits - 1) after
        rest = rest - part * scale  # exact: the bits of rest that part leaves
        parts.append(part)
        scales.append(scale)
    if not parts:  # every leaf 0
        parts, scales = [np.zeros_like(values)], [1.0]
    return np.stack(parts, axis=-1), np.array(scales)


def _fixed_point_in_double(proto: Any, tree: Any, table: _LeafTable, order: Any, answer: str,
                           parts: tuple[Any, Any]) -> str:
    """``tree`` (:func:`double_tree_leaves`) made a ``TreeEnsembleRegressor`` with the same splits that adds the
    whole-number parts of its leaves' values (:func:`_fixed_point_parts`: exact in float32), ``k`` columns per
    value; they are cast to double and scaled back (a ``MatMul`` by their powers of two) into the sums of the
    leaves' values, from which :func:`_answer_from_sums` makes ``answer`` (and a classifier's label). The sums are
    the float64 values' sums to about ``2**-53`` of the largest leaf (not in scikit-learn's order: no tie to
    keep in a regressor's sum or a boosting model's score). As cheap as the float32 ensemble it replaces
    (``k`` values added a tree where it added one), where :func:`_leaves_in_double` writes a column per tree.
    Returns its new name."""
    import numpy as np
    from onnx import TensorProto

    nodes_after = _NodesAfter(proto, "tree_parts")
    const, node = nodes_after.const, nodes_after.node
    classes = nodes_after.classes(tree) if table.answer != "sum" else ""
    label = tree.output[0]
    whole, scales = parts
    width, k = table.width, len(scales)
    whole = whole[order].reshape(len(order), width * k)  # a leaf's column c * k + j: value c's part j
    leaf, column = np.nonzero(whole)  # the parts that are 0 add nothing
    sums = nodes_after.summing_regressor(tree, "sums", width * k, table.trees[order][leaf].tolist(),
                                         table.nodes[order][leaf].tolist(), column.tolist(),
                                         whole[leaf, column].tolist())
    back = np.zeros((width * k, width))
    for c in range(width):
        back[c * k:(c + 1) * k, c] = scales
    total = node("MatMul", [node("Cast", [sums], to=TensorProto.DOUBLE), const(back, "scales")])
    _answer_from_sums(nodes_after, table, total, answer, label, classes)
    nodes_after.insert_after(tree)
    return tree.name

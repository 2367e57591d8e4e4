"""skl2onnx's own faults, worked around: converters registered in place of its Binarizer, OneHotEncoder
and SimpleImputer ones, and its tree writers patched (HistGradientBoosting's boolean attribute, its
category splits, the side a missing value takes in scikit-learn's trees). Installed once, by
:func:`onnxgate.converters.sklearn._skl2onnx`."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from onnxgate.converters._sklearn_models import sub_estimators


def _replaceable(alias: str, marker: str) -> Any | None:
    """skl2onnx's converter registered for ``alias``, or None when onnxgate's replacement (tagged
    ``marker``) is in already: each replacement is installed once and calls the converter it replaced."""
    from skl2onnx.common._registration import _converter_pool

    original = _converter_pool[alias]
    return None if getattr(original, marker, False) else original


def _replace(alias: str, marker: str, original: Any, convert: Any, shape: Any = None) -> None:
    """Register ``convert`` (and ``shape``) for ``alias`` in place of ``original``, with its options,
    tagged ``marker`` (:func:`_replaceable`) and every marker ``original`` carries: two replacements of one alias
    (RidgeClassifier's double scores over LinearDiscriminantAnalysis' logistic) each wrapped the other again at
    every conversion, until a LogisticRegression ran out of stack."""
    from skl2onnx.common._registration import _converter_pool, register_converter, register_shape_calculator

    if shape is not None:
        register_shape_calculator(alias, shape, overwrite=True)
    register_converter(alias, convert, overwrite=True, options=original.get_allowed_options())
    for below in [a for a in vars(original) if a.startswith("_onnxgate_")] + [marker]:
        setattr(_converter_pool[alias], below, True)

def register_binarizer() -> None:
    """skl2onnx's Binarizer in double precision wrote ``Where(x < threshold, 0, 1)``: a value equal to
    the threshold became 1, where scikit-learn's ``x > threshold`` gives 0. Written here as
    ``Where(x > threshold, 1, 0)``; in float32 skl2onnx's ``ai.onnx.ml.Binarizer`` already compares so."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.converters._sklearn_extra import joined_inputs

    original = _replaceable("SklearnBinarizer", "_onnxgate_binarizer")
    if original is None:
        return

    def convert_binarizer(scope: Any, operator: Any, container: Any) -> None:
        if not isinstance(operator.inputs[0].type, DoubleTensorType):
            original(scope, operator, container)
            return
        features = joined_inputs(scope, operator, container)
        zero, one, threshold, above = (scope.get_unique_variable_name(n) for n in ("zero", "one", "threshold", "above"))
        container.add_initializer(zero, TensorProto.DOUBLE, [], [0.0])
        container.add_initializer(one, TensorProto.DOUBLE, [], [1.0])
        container.add_initializer(threshold, TensorProto.DOUBLE, [], [float(operator.raw_operator.threshold)])
        container.add_node("Greater", [features, threshold], above, name=scope.get_unique_operator_name("Greater"))
        container.add_node("Where", [above, one, zero], operator.output_full_names,
                           name=scope.get_unique_operator_name("Where"))

    _replace("SklearnBinarizer", "_onnxgate_binarizer", original, convert_binarizer)


def register_label_binarizer() -> None:
    """LabelBinarizer's ``transform`` of one label per row: ``pos_label`` in the column of the row's class and
    ``neg_label`` elsewhere, one column per class, two classes the second's column alone, and one class a column of
    ``neg_label`` (scikit-learn's ``label_binarize`` of a batch of at most two distinct values; skl2onnx wrote
    ``pos_label`` where the row is that class: every row of the training data differed). Text classes are found by
    an ai.onnx.ml ``LabelEncoder`` (skl2onnx compared text with ``Equal``, which takes no text below opset 19:
    the file did not load). A value that is no class answers ``neg_label`` everywhere, as in scikit-learn. A
    multilabel indicator keeps skl2onnx's converter."""
    import numpy as np
    from skl2onnx.common.data_types import Int64TensorType

    from onnxgate.converters._sklearn_extra import GraphWriter

    original = _replaceable("SklearnLabelBinarizer", "_onnxgate_label_binarizer")
    if original is None:
        return

    def one_label(binarizer: Any) -> bool:
        return getattr(binarizer, "y_type_", "binary") in ("binary", "multiclass")

    def shape(operator: Any) -> None:
        binarizer = operator.raw_operator
        width = len(binarizer.classes_)
        if one_label(binarizer) and width <= 2:
            width = 1
        operator.outputs[0].type = Int64TensorType([operator.inputs[0].get_first_dimension(), width])

    def convert(scope: Any, operator: Any, container: Any) -> None:
        binarizer = operator.raw_operator
        if not one_label(binarizer):
            original(scope, operator, container)
            return
        w = GraphWriter(scope, container, np.float64)
        classes = binarizer.classes_
        values = w.node("Reshape", operator.inputs[0].full_name, w.const([-1, 1], np.int64))
        if classes.dtype.kind in "biu":
            keys = w.const(classes.astype(np.int64).reshape(1, -1), dtype=np.int64)
        else:  # text: each class's position, -1 for none
            values = w.node("LabelEncoder", values, op_domain="ai.onnx.ml", op_version=2,
                            keys_strings=[str(c) for c in classes], values_int64s=list(range(len(classes))),
                            default_int64=-1)
            keys = w.const(np.arange(len(classes), dtype=np.int64).reshape(1, -1), dtype=np.int64)
        negative = w.const(np.full((1, 1), binarizer.neg_label, dtype=np.int64), dtype=np.int64)
        positive = (negative if len(classes) == 1  # label_binarize answers neg_label whatever the row
                    else w.const(np.full((1, 1), binarizer.pos_label, dtype=np.int64), dtype=np.int64))
        table = w.node("Where", w.node("Equal", values, keys), positive, negative)
        if len(classes) == 2:
            table = w.node("Slice", table, w.const([1], np.int64), w.const([2], np.int64), w.const([1], np.int64))
        w.node("Identity", table, out=operator.outputs[0].full_name)

    _replace("SklearnLabelBinarizer", "_onnxgate_label_binarizer", original, convert, shape)


def register_double_polynomial_features() -> None:
    """skl2onnx's PolynomialFeatures wrote its bias column as a float32 constant beside double products: an
    ill-typed file in double, so a float64 sample (or an integer one) computed the whole pipeline in float32
    (a PolynomialFeatures + LogisticRegression on wine 1.6e-7 off scikit-learn's probabilities). Written
    here in double as each output column the product of its input columns (a ``Gather`` and a
    ``ReduceProd``), the bias a column of ones; in float32 and on integers skl2onnx's converter stays."""
    from onnx import TensorProto, helper
    from skl2onnx.common.data_types import DoubleTensorType

    original = _replaceable("SklearnPolynomialFeatures", "_onnxgate_polynomial")
    if original is None:
        return

    def convert_polynomial(scope: Any, operator: Any, container: Any) -> None:
        if not isinstance(operator.inputs[0].type, DoubleTensorType):
            original(scope, operator, container)
            return
        op = operator.raw_operator
        name = scope.get_unique_variable_name
        x = operator.inputs[0].full_name
        combinations = list(op._combinations(n_features=op.n_features_in_, min_degree=op._min_degree,
                                             max_degree=op._max_degree, interaction_only=op.interaction_only,
                                             include_bias=op.include_bias))
        axes = name("axes")
        if container.target_opset >= 18:  # ReduceProd's axes an input from opset 18
            container.add_initializer(axes, TensorProto.INT64, [1], [1])
        outputs = []
        for comb in combinations:
            index, picked, product = name("comb"), name("picked"), name("product")
            # the bias (no column): a column of the input's rows, then ones
            container.add_initializer(index, TensorProto.INT64, [max(len(comb), 1)], list(comb) or [0])
            container.add_node("Gather", [x, index], picked, axis=1, name=scope.get_unique_operator_name("Gather"))
            if len(comb) == 0:
                shape = name("shape")
                container.add_node("Shape", [picked], shape, name=scope.get_unique_operator_name("Shape"))
                container.add_node("ConstantOfShape", [shape], product,
                                   value=helper.make_tensor("one", TensorProto.DOUBLE, [1], [1.0]),
                                   name=scope.get_unique_operator_name("ConstantOfShape"))
            elif container.target_opset >= 18:
                container.add_node("ReduceProd", [picked, axes], product, keepdims=1,
                                   name=scope.get_unique_operator_name("ReduceProd"))
            else:
                container.add_node("ReduceProd", [picked], product, keepdims=1, axes=[1],
                                   name=scope.get_unique_operator_name("ReduceProd"))
            outputs.append(product)
        container.add_node("Concat", outputs, operator.outputs[0].full_name, axis=1,
                           name=scope.get_unique_operator_name("Concat"))

    _replace("SklearnPolynomialFeatures", "_onnxgate_polynomial", original, convert_polynomial)


def register_double_power_transformer() -> None:
    """skl2onnx's PowerTransformer wrote float32 masks beside double values (a ``Mul`` of both): an ill-typed
    file in double, so a float64 or integer sample computed it in float32 (2.2e-6 off scikit-learn on
    diabetes). Written here in double as scipy computes each column (scikit-learn calls it):

    * Yeo-Johnson, ``x >= 0``: ``expm1(l * log1p(x)) / l`` (``log1p(x)`` where ``|l| < eps``); else
      ``-expm1((2 - l) * log1p(-x)) / (2 - l)`` (``-log1p(-x)`` where ``|l - 2| < eps``).
    * Box-Cox: ``expm1(l * log(x)) / l`` (``log(x)`` where ``|l| < 1e-19``; scipy's other form past
      ``l * log(x) = 709.78``, where ``expm1`` overflows, is left out).
    * Standardized: ``(y - mean) / scale`` with the fitted scaler's.

    ONNX has no ``log1p`` or ``expm1``: they are Kahan's forms, ``log(u) * x / (u - 1)`` with ``u = 1 + x``
    and ``(u - 1) * y / log(u)`` with ``u = exp(y)``, within a few units in the last place where ``1 + x`` or
    ``exp(y)`` alone would lose the digits of a small ``x`` or ``y``. A NaN stays NaN, as in scikit-learn
    (skl2onnx's answered 0). In float32 skl2onnx's converter stays."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common._registration import _shape_calculator_pool
    from skl2onnx.common.data_types import DoubleTensorType, Int32TensorType, Int64TensorType

    original = _replaceable("SklearnPowerTransformer", "_onnxgate_power")
    if original is None:
        return
    original_shape = _shape_calculator_pool["SklearnPowerTransformer"]

    def double(operator: Any) -> bool:
        """Whether the graph computes in double here: double inputs, or integer columns beside them (a
        DataFrame's int64 and float64 columns, read as float64 by scikit-learn)."""
        kinds = [type(i.type) for i in operator.inputs]
        return DoubleTensorType in kinds and all(k in (DoubleTensorType, Int64TensorType, Int32TensorType)
                                                 for k in kinds)

    def shape(operator: Any) -> None:
        if not double(operator):
            original_shape(operator)
            return
        rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = DoubleTensorType([rows, len(operator.raw_operator.lambdas_)])

    def convert(scope: Any, operator: Any, container: Any) -> None:
        if not double(operator):
            original(scope, operator, container)
            return
        from onnxgate.converters._sklearn_extra import GraphWriter

        model = operator.raw_operator
        w = GraphWriter(scope, container, np.float64)
        # one matrix, each input cast to double (skl2onnx's concatenation is float32 ai.onnx.ml FeatureVectorizer)
        parts = [i.full_name if isinstance(i.type, DoubleTensorType) else w.node("Cast", i.full_name,
                                                                                 to=TensorProto.DOUBLE)
                 for i in operator.inputs]
        x = parts[0] if len(parts) == 1 else w.node("Concat", *parts, axis=1)
        lambdas = np.asarray(model.lambdas_, dtype=np.float64).reshape(1, -1)
        one = w.const(1.0)

        def log1p(v: str) -> str:
            u = w.node("Add", v, one)
            kahan = w.node("Div", w.node("Mul", w.node("Log", u), v), w.node("Sub", u, one))
            return w.node("Where", w.node("Equal", u, one), v, kahan)

        def expm1(v: str) -> str:
            u = w.node("Exp", v)
            less = w.node("Sub", u, one)
            kahan = w.node("Div", w.node("Mul", less, v), w.node("Log", u))
            edges = w.node("Where", w.node("Equal", less, w.const(-1.0)), w.const(-1.0),
                           w.node("Where", w.node("Equal", u, w.const(np.inf)), u, kahan))
            return w.node("Where", w.node("Equal", u, one), v, edges)

        def power(logs: str, lam: Any, plain: Any) -> str:
            """``expm1(lam * logs) / lam``, or ``logs`` in the columns ``plain`` marks."""
            safe = np.where(plain, 1.0, lam)
            scaled = w.node("Div", expm1(w.node("Mul", w.const(safe), logs)), w.const(safe))
            return w.node("Where", w.const(plain, dtype=bool), logs, scaled)

        eps = np.spacing(1.0)
        if model.method == "box-cox":
            value = power(w.node("Log", x), lambdas, np.abs(lambdas) < 1e-19)
        else:
            above = power(log1p(x), lambdas, np.abs(lambdas) < eps)
            below = w.node("Neg", power(log1p(w.node("Neg", x)), 2.0 - lambdas, np.abs(lambdas - 2.0) <= eps))
            value = w.node("Where", w.node("Not", w.node("Less", x, w.const(0.0))), above, below)
        out = operator.outputs[0].full_name
        if not model.standardize:
            w.node("Identity", value, out=out)
            return
        scaler = model._scaler
        centred = w.node("Sub", value, w.const(np.asarray(scaler.mean_, dtype=np.float64).reshape(1, -1)))
        w.node("Div", centred, w.const(np.asarray(scaler.scale_, dtype=np.float64).reshape(1, -1)), out=out)

    _replace("SklearnPowerTransformer", "_onnxgate_power", original, convert, shape)


def register_knn_imputer() -> None:
    """skl2onnx's KNNImputer graph failed inside onnxruntime on batches scikit-learn imputes:

    * a column some of whose receivers have no present feature in common with any donor (imputed with the
      column's mean) beside receivers that have one: its ``knn_imputer_column_all_nan`` function took the
      distances of the others through the un-flattened ``[1, P]`` output of ``NonZero``, a ``[R, 1, P]``
      tensor whose donors ``GatherElements`` then looked for on the axis of length 1 ("GatherElements op:
      Out of range value in index tensor": a batch holding a row with 3 of 4 features missing);
    * a column whose receivers all take the mean: it went on to the nearest donors of no row ("k argument
      [1] should not be greater than specified axis dim value [0]", ScatterND "updates shape: {0,5}": a row
      with every feature missing);
    * a feature missing from every training row: imputed too, from no donors (the same TopK error on any
      row); ``add_indicator``'s missing-value columns were left out ([300, 4] for scikit-learn's [300, 8]);
    * ``weights='distance'`` was refused ("KNNImputer with distance as metric is not supported").

    Written here as scikit-learn's ``transform`` computes it, every row at once, in double (as scikit-learn
    computes a float32 row's distances in float64; a float32 graph's rows are cast in, its answer cast out):

    * the nan-Euclidean distance of each row to each training row, as ``nan_euclidean_distances`` computes it
      (``|x|^2 - 2 x.y + |y|^2`` on zeroed missing values, less what the values missing on the other side
      added, clipped at 0, NaN where the two share no present feature, else scaled by ``features / shared``);
    * per column, its donors are the training rows where it is present: the ``n_neighbors`` nearest with a
      distance (``TopK``; a donor without one, or not a donor, is infinitely far and weighs 0, as scikit-learn's
      NaN distances do among its ``min(n_neighbors, donors)`` nearest), averaged with weights 1 (``uniform``) or
      ``1 / distance`` (``distance``; a row at distance 0 from some donors takes only those, weighed 1);
      a row with no donor at a distance takes the column's training mean;
    * a cell is replaced only where it is missing; a feature missing from every training row is dropped, or
      zeros under ``keep_empty_features``; ``add_indicator`` appends the missing-value flags of the features
      that had missing values in training.

    Ties at the ``n_neighbors``-th distance take the lower training row (``TopK``'s order), where scikit-learn's
    ``argpartition`` takes either. A callable ``weights`` or ``metric`` is refused."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.errors import UnsupportedModelError

    original = _replaceable("SklearnKNNImputer", "_onnxgate_knn_imputer")
    if original is None:
        return

    def width(model: Any) -> int:
        kept = model.n_features_in_ if model.keep_empty_features else int(np.sum(model._valid_mask))
        indicator = getattr(model, "indicator_", None)
        return int(kept + (0 if indicator is None else len(indicator.features_)))

    def shape(operator: Any) -> None:
        from onnxgate.converters._sklearn_extra import float_tensor_type

        rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = float_tensor_type(operator)([rows, width(operator.raw_operator)])

    def convert(scope: Any, operator: Any, container: Any) -> None:
        from onnxgate.converters._sklearn_extra import GraphWriter, input_matrix

        model = operator.raw_operator
        if model.metric != "nan_euclidean" or model.weights not in ("uniform", "distance"):
            raise UnsupportedModelError(
                f"KNNImputer(metric={model.metric!r}, weights={model.weights!r}) cannot be written to ONNX: "
                "onnxgate writes metric='nan_euclidean' with weights='uniform' or 'distance'",
                framework="sklearn",
            )
        double = isinstance(operator.outputs[0].type, DoubleTensorType)
        # in double whatever the graph's type: in float32, |x|^2 - 2 x.y + |y|^2 lost the digits of a near donor's
        # distance, and with weights='distance' 19 of 48 missing patterns were up to 6e-3 off scikit-learn
        w = GraphWriter(scope, container, np.float64)
        x = input_matrix(scope, operator, container)
        if not double:
            x = w.node("Cast", x, to=TensorProto.DOUBLE)
        if container.target_opset < 18:  # ReduceMin's and ReduceMax's axes an input (SklearnConverter.NEWER_OPSET)
            raise UnsupportedModelError("onnxgate writes a KNNImputer at opset 18 or higher", framework="sklearn")
        axis1 = w.const([1], dtype=np.int64)

        fit = np.asarray(model._fit_X, dtype=np.float64)
        fit_missing = np.asarray(model._mask_fit_X, dtype=bool)
        missing_values = model.missing_values
        if isinstance(missing_values, float) and np.isnan(missing_values):
            missing = w.node("IsNaN", x)
        else:
            # a float32 row is compared with the value as float32, as numpy compares it
            missing = w.node("Equal", x, w.const([[missing_values if double else np.float32(missing_values)]]))
        missing_f = w.node("Cast", missing, to=w.float_type)
        x0 = w.node("Where", missing, w.const(0.0), x)

        # nan_euclidean_distances(x, fit), in its order of operations
        fit0 = np.where(fit_missing, 0.0, fit)
        xx0 = w.node("Mul", x0, x0)
        dist = w.node("Add", w.node("Add", w.node("MatMul", x0, w.const(-2.0 * fit0.T)),
                                    w.node("ReduceSum", xx0, axis1, keepdims=1)),
                      w.const((fit0 * fit0).sum(axis=1).reshape(1, -1)))
        dist = w.node("Max", dist, w.const(0.0))
        dist = w.node("Sub", dist, w.node("MatMul", xx0, w.const(fit_missing.T)))
        dist = w.node("Sub", dist, w.node("MatMul", missing_f, w.const((fit0 * fit0).T)))
        dist = w.node("Max", dist, w.const(0.0))
        shared = w.node("MatMul", w.node("Sub", w.const(1.0), missing_f), w.const((~fit_missing).T))
        dist = w.node("Sqrt", w.node("Mul", w.node("Div", dist, w.node("Max", shared, w.const(1.0))),
                                     w.const(float(fit.shape[1]))))
        # no shared feature: no distance, as if infinitely far (NaN sorts last in scikit-learn's argpartition)
        dist = w.node("Where", w.node("Equal", shared, w.const(0.0)), w.const(np.inf), dist)

        k = w.const([min(int(model.n_neighbors), fit.shape[0])], dtype=np.int64)
        columns = []
        for col in range(fit.shape[1]):
            column = w.const([col], dtype=np.int64)
            value = w.node("Gather", x, column, axis=1)
            if not model._valid_mask[col]:
                if model.keep_empty_features:  # zeros, a NaN too
                    columns.append(w.node("Where", w.const([[True]], dtype=bool), w.const([[0.0]]), value))
                continue
            donors = ~fit_missing[:, col]
            col_dist = w.node("Where", w.const(donors.reshape(1, -1), dtype=bool), dist, w.const(np.inf))
            near, index = (scope.get_unique_variable_name(n) for n in ("near", "near_index"))
            container.add_node("TopK", [col_dist, k], [near, index], largest=0, sorted=1,
                               name=scope.get_unique_operator_name("TopK"))
            if model.weights == "uniform":
                weight = w.node("Cast", w.node("Not", w.node("IsInf", near)), to=w.float_type)
            else:
                inverse = w.node("Reciprocal", near)  # 0 where there is no distance
                at_zero = w.node("Cast", w.node("IsInf", inverse), to=w.float_type)
                any_zero = w.node("Greater", w.node("ReduceMax", at_zero, axis1, keepdims=1), w.const(0.0))
                weight = w.node("Where", any_zero, at_zero, inverse)
            fit_col = np.where(donors, fit[:, col], 0.0)
            picked = w.node("Gather", w.const(fit_col), index, axis=0)
            total = w.node("ReduceSum", weight, axis1, keepdims=1)
            weighted = w.node("ReduceSum", w.node("Mul", picked, weight), axis1, keepdims=1)
            mean = np.ma.array(model._fit_X[:, col], mask=fit_missing[:, col]).mean()
            none_near = w.node("IsInf", w.node("ReduceMin", near, axis1, keepdims=1))
            imputed = w.node("Where", none_near, w.const(float(mean)),
                             w.node("Div", weighted, w.node("Where", none_near, w.const(1.0), total)))
            columns.append(w.node("Where", w.node("Gather", missing, column, axis=1), imputed, value))
        indicator = getattr(model, "indicator_", None)
        if indicator is not None and len(indicator.features_):
            flags = w.node("Gather", missing_f, w.const(indicator.features_, dtype=np.int64), axis=1)
            columns.append(flags)
        out = operator.outputs[0].full_name
        if double:
            w.node("Concat", *columns, axis=1, out=out)
        else:
            w.node("Cast", w.node("Concat", *columns, axis=1), to=TensorProto.FLOAT, out=out)

    _replace("SklearnKNNImputer", "_onnxgate_knn_imputer", original, convert, shape)


#: Whether the rows being converted are float32 for scikit-learn (every number column float32 or float16; it
#: reads integers and mixed columns as float64), set by the scikit-learn converter; None: not known.
ROWS_FLOAT32: ContextVar[bool | None] = ContextVar("onnxgate_rows_float32", default=None)

#: Whether the graph being written computes in float64 (the scikit-learn converter's double attempt).
GRAPH_FLOAT64: ContextVar[bool] = ContextVar("onnxgate_graph_float64", default=False)


def register_normalizer() -> None:
    """scikit-learn's Normalizer leaves a row whose norm is 0 as it is (zeros), and its ``'max'`` norm is the
    largest absolute value. skl2onnx divided by the norm in double (an all-zero row, an empty document's
    counts, became NaN: probabilities NaN and label 0 where scikit-learn answers class 1), and its float32
    ``ai.onnx.ml.Normalizer`` with ``MAX`` divides by the largest value, not the largest absolute one (0.83
    off on a row of negatives; helper-105). Written here for every type as ``x / norm`` with a zero norm
    taken as 1 (below 10 machine epsilons, as scikit-learn's ``_handle_zeros_in_scale``: a float32 row
    [5e-7, -2e-7, 0] stays as it is; helper-107), in the input's float type."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.converters._sklearn_extra import joined_inputs

    original = _replaceable("SklearnNormalizer", "_onnxgate_normalizer")
    if original is None:
        return

    def convert_normalizer(scope: Any, operator: Any, container: Any) -> None:
        norm = operator.raw_operator.norm
        if norm not in ("l1", "l2", "max"):
            original(scope, operator, container)
            return
        double = isinstance(operator.outputs[0].type, DoubleTensorType)
        kind = TensorProto.DOUBLE if double else TensorProto.FLOAT
        name = scope.get_unique_variable_name
        features = joined_inputs(scope, operator, container)
        x = name("features")
        container.add_node("Cast", [features], x, to=kind, name=scope.get_unique_operator_name("Cast"))
        _normalize_rows(scope, container, x, norm, double, operator.output_full_names)

    _replace("SklearnNormalizer", "_onnxgate_normalizer", original, convert_normalizer)


def _normalize_rows(scope: Any, container: Any, x: str, norm: str, double: bool, outputs: Any) -> None:
    """``outputs``: each row of ``x`` divided by its ``norm`` (``'l1'``, ``'l2'`` or ``'max'``), a norm below 10
    machine epsilons of the rows' type taken as 1 (scikit-learn's ``_handle_zeros_in_scale``), in ``x``'s float
    type (double when ``double``)."""
    import numpy as np
    from onnx import TensorProto

    kind = TensorProto.DOUBLE if double else TensorProto.FLOAT
    name = scope.get_unique_variable_name
    opset = container.target_opset
    tiny, one = name("tiny"), name("one")
    # scikit-learn leaves a row whose norm is below 10 machine epsilons of the rows' type as it is: the
    # sample's, not the graph's (float64 rows in a float32 graph keep float64's; helper-109)
    rows32 = ROWS_FLOAT32.get()
    rows32 = (not double) if rows32 is None else rows32
    container.add_initializer(tiny, kind, [], [float(10 * np.finfo(np.float32 if rows32 else np.float64).eps)])
    container.add_initializer(one, kind, [], [1.0])

    def reduce(op: str, value: str) -> str:
        out = name(op.lower())
        if opset >= (13 if op == "ReduceSum" else 18):  # the axes an input from then on
            axes = name("axes")
            container.add_initializer(axes, TensorProto.INT64, [1], [1])
            container.add_node(op, [value, axes], out, keepdims=1, name=scope.get_unique_operator_name(op))
        else:
            container.add_node(op, [value], out, keepdims=1, axes=[1], name=scope.get_unique_operator_name(op))
        return out

    if norm == "l2":
        norms = name("l2")
        container.add_node("Sqrt", [reduce("ReduceSumSquare", x)], norms,
                           name=scope.get_unique_operator_name("Sqrt"))
    else:
        magnitude = name("abs")
        container.add_node("Abs", [x], magnitude, name=scope.get_unique_operator_name("Abs"))
        norms = reduce("ReduceSum" if norm == "l1" else "ReduceMax", magnitude)
    zeros, safe = name("zero_norm"), name("norms")
    container.add_node("Less", [norms, tiny], zeros, name=scope.get_unique_operator_name("Less"))
    container.add_node("Where", [zeros, one, norms], safe, name=scope.get_unique_operator_name("Where"))
    container.add_node("Div", [x, safe], outputs, name=scope.get_unique_operator_name("Div"))


def register_tfidf_transformer() -> None:
    """A TfidfTransformer (a TfidfVectorizer's second half): skl2onnx wrote ``sublinear_tf=True`` as
    ``log(tf + 1)``, where scikit-learn computes ``1 + log(tf)`` on each count above 0 (every row with a word
    off, 0.025 after the l2 norm, 1.9 without it; validate failed 93 of 240 rows of a logistic regression's
    probabilities: helper 213's sweep). Here each count above 0 is ``1 + log(tf)``, times the idf, then
    divided by its row's norm (:func:`_normalize_rows`, an all-zero row kept), in the output's declared type.

    That type is double in a float64 graph (:func:`tfidf_in_double`): skl2onnx declared TF-IDF float32 whatever
    the graph, so a float64 DataFrame's text column was weighted in float32 and cast to double after (a
    ColumnTransformer of a TfidfVectorizer and float64 columns before a Ridge: 3.8e-6 off, validate failed 5 of
    240 rows against float64's tolerance). The counts stay float32 (onnx's TfIdfVectorizer writes float only):
    whole numbers, exact below 2**24; the idf, the sublinear log and the norm are computed in double."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.shape_calculators.tfidf_transformer import calculate_sklearn_tfidf_transformer_output_shapes

    original = _replaceable("SklearnTfidfTransformer", "_onnxgate_tfidf")
    if original is None:
        return

    def convert_tfidf_transformer(scope: Any, operator: Any, container: Any) -> None:
        transformer = operator.raw_operator
        if (container.get_options(transformer, {"nan": False}).get("nan", False)
                or transformer.norm not in (None, "l1", "l2")):
            original(scope, operator, container)
            return
        double = isinstance(operator.outputs[0].type, DoubleTensorType)
        kind = TensorProto.DOUBLE if double else TensorProto.FLOAT
        dtype = np.float64 if double else np.float32
        name = scope.get_unique_variable_name

        def node(op: str, inputs: list[str], **attrs: Any) -> str:
            out = name(op.lower())
            container.add_node(op, inputs, out, name=scope.get_unique_operator_name(op), **attrs)
            return out

        def const(value: Any) -> str:
            array = np.asarray(value, dtype=dtype)
            constant = name("tfidf_const")
            container.add_initializer(constant, kind, list(array.shape), array.ravel().tolist())
            return constant

        x = node("Cast", [operator.inputs[0].full_name], to=kind)
        if transformer.sublinear_tf:  # scikit-learn's np.log on the stored (non-zero) counts, then += 1
            logged = node("Add", [node("Log", [x]), const(1.0)])
            x = node("Where", [node("Greater", [x, const(0.0)]), logged, const(0.0)])
        if transformer.use_idf:
            x = node("Mul", [x, const(transformer.idf_)])
        if transformer.norm is None:
            container.add_node("Identity", [x], operator.output_full_names,
                               name=scope.get_unique_operator_name("Identity"))
        else:
            _normalize_rows(scope, container, x, transformer.norm, double, operator.output_full_names)

    def shape(operator: Any) -> None:
        calculate_sklearn_tfidf_transformer_output_shapes(operator)
        if tfidf_in_double(operator.raw_operator):
            operator.outputs[0].type = DoubleTensorType(operator.outputs[0].type.shape)

    _replace("SklearnTfidfTransformer", "_onnxgate_tfidf", original, convert_tfidf_transformer, shape)
    _register_double_tfidf_vectorizer()
    _register_double_count_vectorizer()


def tfidf_in_double(est: Any) -> bool:
    """Whether the TF-IDF weights of ``est`` (a TfidfVectorizer or TfidfTransformer) are computed in double: in a
    float64 graph (:data:`GRAPH_FLOAT64`), unless the vectorizer was asked for float32 (``dtype``), in which
    scikit-learn weights them too."""
    import numpy as np

    return GRAPH_FLOAT64.get() and np.dtype(getattr(est, "dtype", np.float64)) == np.float64


def counts_in_double(est: Any) -> bool:
    """Whether the word counts of ``est`` (a CountVectorizer) are handed on as double: in a float64 graph
    (:data:`GRAPH_FLOAT64`), unless the vectorizer was asked for a narrower float (``dtype=np.float32``), which
    scikit-learn's next step then reads; its default int64 counts are read as float64."""
    import numpy as np

    dtype = np.dtype(getattr(est, "dtype", np.float64))
    return GRAPH_FLOAT64.get() and not (dtype.kind == "f" and dtype.itemsize < 8)


class _Renamed:
    """``operator`` writing its output under ``names`` (a converter writes to ``output_full_names``)."""

    def __init__(self, operator: Any, names: list[str]) -> None:
        self._operator = operator
        self.output_full_names = names

    def __getattr__(self, name: str) -> Any:
        return getattr(self._operator, name)


def _text_vectorizer_shape(in_double: Any) -> Any:
    """skl2onnx's shape of a text vectorizer's output (float32 for a text input), declared double where
    ``in_double(estimator)`` says its numbers are handed on in double."""
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.shape_calculators.text_vectorizer import calculate_sklearn_text_vectorizer_output_shapes

    def shape(operator: Any) -> None:
        calculate_sklearn_text_vectorizer_output_shapes(operator)
        if in_double(operator.raw_operator):
            operator.outputs[0].type = DoubleTensorType(operator.outputs[0].type.shape)

    return shape


def _register_double_count_vectorizer() -> None:
    """skl2onnx declares a CountVectorizer's counts float32 for a text input, in any graph: in a float64 graph
    the step after it computed in float32 (a MultinomialNB behind a CountVectorizer: probabilities 1.5e-6 off,
    where scikit-learn reads the int64 counts as float64). Where they are handed on in double
    (:func:`counts_in_double`), the counts are declared double, cast from onnx's float TfIdfVectorizer (whole
    numbers, exact below 2**24)."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    alias = "SklearnCountVectorizer"
    original = _replaceable(alias, "_onnxgate_counts_double")
    if original is None:
        return

    shape = _text_vectorizer_shape(counts_in_double)

    def convert(scope: Any, operator: Any, container: Any) -> None:
        if not isinstance(operator.outputs[0].type, DoubleTensorType):
            original(scope, operator, container)
            return
        counts = scope.get_unique_variable_name("counts")
        original(scope, _Renamed(operator, [counts]), container)
        container.add_node("Cast", [counts], operator.output_full_names, to=TensorProto.DOUBLE,
                           name=scope.get_unique_operator_name("Cast"))

    _replace(alias, "_onnxgate_counts_double", original, convert, shape)


def _register_double_tfidf_vectorizer() -> None:
    """skl2onnx's TfidfVectorizer converter (a CountVectorizer, then a TfidfTransformer) declares its weights
    float32 for a text input, in any graph; where they are computed in double (:func:`tfidf_in_double`), the
    vectorizer's output is declared double and its TfidfTransformer writes them so, from the float32 counts."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._apply_operation import apply_identity
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    alias = "SklearnTfidfVectorizer"
    original = _replaceable(alias, "_onnxgate_tfidf_double")
    if original is None:
        return

    shape = _text_vectorizer_shape(tfidf_in_double)

    def convert(scope: Any, operator: Any, container: Any) -> None:
        if not isinstance(operator.outputs[0].type, DoubleTensorType):
            original(scope, operator, container)
            return
        est = operator.raw_operator
        width = max(est.vocabulary_.values()) + 1
        counter = scope.declare_local_operator(sklearn_operator_name_map[CountVectorizer], est)
        counter.inputs = operator.inputs
        counts = scope.declare_local_variable("count_vec_output", FloatTensorType([None, width]))
        counter.outputs.append(counts)
        weigher = scope.declare_local_operator(sklearn_operator_name_map[TfidfTransformer], est)
        weigher.inputs.append(counts)
        weights = scope.declare_local_variable("tfidf_output", DoubleTensorType([None, width]))
        weigher.outputs.append(weights)
        apply_identity(scope, weights.full_name, operator.outputs[0].full_name, container)

    _replace(alias, "_onnxgate_tfidf_double", original, convert, shape)


#: How near (relative, at least 1 absolute unit) a value must be to a category to be encoded as it, by the
#: graph's float type: a few ulps, far below the gap between two categories anyone fits on.
RELATIVE_MATCH = {"float32": 1e-6, "float64": 1e-12}


def register_hist_category_codes() -> None:
    """The converter of :class:`~onnxgate.converters._hist_codes.HistCategoryCodes`: each categorical
    column is compared with the model's categories (a ``[1, k]`` constant), the matching category's
    position is the code (a MatMul of the matches with ``0..k-1``), and a value matching none (unknown, or
    missing) is NaN; the codes come first, then the numeric columns (Gather), as the trees read them.
    Same element type in and out (float or double).

    A value matches a category within :data:`RELATIVE_MATCH` of it, where scikit-learn's encoder asks for
    equality: the steps before compute that value in the graph, whose float32 arithmetic can differ from
    scikit-learn's by an ulp (2.4e-7 on a StandardScaler's output, measured here), and one ulp would make a
    known category unknown."""
    import numpy as np
    from skl2onnx import update_registered_converter
    from skl2onnx.common._registration import _converter_pool
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    from onnxgate.converters._hist_codes import HistCategoryCodes
    from onnxgate.converters._sklearn_extra import GraphWriter, joined_inputs

    if "OnnxgateHistCategoryCodes" in _converter_pool:
        return

    def shape(operator: Any) -> None:
        kind = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
        batch = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = kind([batch, len(operator.raw_operator.categorical)])

    def convert(scope: Any, operator: Any, container: Any) -> None:
        codes = operator.raw_operator
        dtype = np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) else np.float32
        w = GraphWriter(scope, container, dtype)
        features = joined_inputs(scope, operator, container)
        missing = w.const(np.nan)
        parts = []
        columns = [i for i, c in enumerate(codes.categorical) if c]
        for column, values in zip(columns, codes.categories, strict=True):
            value = w.node("Gather", features, w.const([column], np.int64), axis=1)
            gap = w.node("Abs", w.node("Sub", value, w.const(values[None, :], name="categories")))
            near = RELATIVE_MATCH[np.dtype(dtype).name] * np.maximum(1.0, np.abs(values))[None, :]
            hits = w.node("Cast", w.node("Less", gap, w.const(near)), to=w.float_type)
            parts.append(matched_position(w, hits, len(values), missing))
        numeric = [i for i, c in enumerate(codes.categorical) if not c]
        if numeric:
            parts.append(w.node("Gather", features, w.const(numeric, np.int64), axis=1))
        w.node("Concat", *parts, out=operator.outputs[0].full_name, axis=1)

    update_registered_converter(HistCategoryCodes, "OnnxgateHistCategoryCodes", shape, convert)


def matched_position(w: Any, hits: str, count: int, otherwise: str) -> str:
    """Each row's position among ``count`` categories from ``hits`` (an ``[N, count]`` matrix of 0/1 in the graph's
    float type, at most one 1 a row): a MatMul with ``0..count-1``; ``otherwise`` where no category matched."""
    import numpy as np

    code = w.node("MatMul", hits, w.const(np.arange(count)[:, None]))
    found = w.node("Greater", w.node("MatMul", hits, w.const(np.ones((count, 1)))), w.const(0.5))
    return str(w.node("Where", found, code, otherwise))


def patch_qda_sum_of_logs() -> None:
    """QuadraticDiscriminantAnalysis at opset 11 or 12 (SQL Edge 1.0, Synapse): skl2onnx sums each class's log
    scalings with a ReduceSum given no axes, which it writes there as an empty ``axes`` attribute, and onnx cannot
    type one: every QDA was refused below opset 13 ("Could not infer attribute `axes` type from empty iterator").
    That sum is over a 1-D vector, so it is written over axis 0, the whole of it."""
    from skl2onnx.operator_converters import quadratic_discriminant_analysis as qda

    original = qda.apply_reducesum
    if getattr(original, "_onnxgate_axes", False):
        return

    def reducesum(scope: Any, input_name: Any, output_name: Any, container: Any, *args: Any, **kwargs: Any) -> Any:
        if not args and kwargs.get("axes") is None and container.target_opset < 13:
            kwargs["axes"] = [0]
        return original(scope, input_name, output_name, container, *args, **kwargs)

    reducesum._onnxgate_axes = True  # type: ignore[attr-defined]
    qda.apply_reducesum = reducesum


def patch_radius_neighbors() -> None:
    """skl2onnx's radius neighbours (RadiusNeighborsClassifier, RadiusNeighborsRegressor) mark a
    training row outside the radius with index -1 and then read the training labels at every index:
    onnxruntime refuses the file on any row ("index is out of range: Y[15] (-1)"), so every such model
    failed to run. Those entries weigh 0 in the vote or mean, so index 0 is read there instead.

    For the euclidean metric, a training row is inside the radius as scikit-learn decides it: squared
    distance ``<=`` squared radius (skl2onnx kept ``distance < radius``: iris rows 54 and 67, whose
    squared distance is 1.0000000000000002, were neighbours at radius 1 in the file and not in
    scikit-learn, and rows exactly at the radius were left out; 2 of 150 iris rows answered otherwise).
    ``weights="distance"`` on a row at distance 0 follows scikit-learn's rule as well
    (:func:`patch_knn_distance_weights`). In float32 (the SQL targets), decimal data puts pairs within
    rounding of the radius on either side of it (iris at radius 1: 10 of 150 rows); parity shows it and
    says the model computes in float32."""
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxLess, OnnxWhere
    from skl2onnx.operator_converters import nearest_neighbours

    original = nearest_neighbours.onnx_nearest_neighbors_indices_radius
    if getattr(original, "_onnxgate_radius", False):
        return

    def indices_radius(X: Any, Y: Any, radius: Any, metric: str = "euclidean", **kwargs: Any) -> Any:
        opset = kwargs.get("op_version")
        if metric == "euclidean" and kwargs.get("optim") is None and opset is not None and opset >= 11:
            indices, distances, inside = _radius_by_squares(X, Y, radius, **kwargs)
        else:
            indices, distances, inside = original(X, Y, radius, metric=metric, **kwargs)
        zero = np.array([0], dtype=np.int64)
        readable = OnnxWhere(OnnxLess(indices, zero, op_version=opset), zero, indices, op_version=opset)
        return readable, distances, inside

    indices_radius._onnxgate_radius = True  # type: ignore[attr-defined]
    nearest_neighbours.onnx_nearest_neighbors_indices_radius = indices_radius


def _radius_by_squares(X: Any, Y: Any, radius: Any, dtype: Any = None, op_version: Any = None,
                       proto_dtype: Any = None, **_: Any) -> tuple[Any, Any, Any]:
    """skl2onnx's three radius matrices (training index or -1, distance or 0, 1 or 0 inside the radius),
    with inside meaning squared distance at or under the squared radius, as scikit-learn's search."""
    import numpy as np
    from skl2onnx.algebra.complex_functions import onnx_cdist
    from skl2onnx.algebra.onnx_ops import (
        OnnxCast,
        OnnxConstantOfShape,
        OnnxCumSum,
        OnnxGreater,
        OnnxMax,
        OnnxNot,
        OnnxShape,
        OnnxSqrt,
        OnnxSub,
        OnnxWhere,
    )

    opv = op_version
    squared = onnx_cdist(X, Y, metric="sqeuclidean", dtype=dtype, op_version=opv,
                         dim_in=Y.shape[1] if hasattr(Y, "shape") else None,
                         dim_out=Y.shape[0] if hasattr(Y, "shape") else None)
    inside = OnnxNot(OnnxGreater(squared, np.array([float(radius) ** 2], dtype=dtype), op_version=opv),
                     op_version=opv)
    distances = OnnxSqrt(OnnxMax(squared, np.array([0], dtype=dtype), op_version=opv), op_version=opv)
    shape = OnnxShape(squared, op_version=opv)
    zero = OnnxCast(OnnxConstantOfShape(shape, op_version=opv), to=proto_dtype, op_version=opv)
    # each entry's training index (its column), counted along the row
    ones = OnnxConstantOfShape(shape, op_version=opv, value=_int64_tensor(1))
    index = OnnxSub(OnnxCumSum(ones, np.array(1, dtype=np.int64), op_version=opv), np.array([1], dtype=np.int64),
                    op_version=opv)
    indices = OnnxWhere(inside, index, np.array([-1], dtype=np.int64), op_version=opv)
    return indices, OnnxWhere(inside, distances, zero, op_version=opv), OnnxCast(inside, to=proto_dtype,
                                                                                 op_version=opv)


def _int64_tensor(value: int) -> Any:
    from onnx import helper

    return helper.make_tensor("value", 7, [1], [value])


def patch_knn_distance_weights() -> None:
    """KNeighborsClassifier and KNeighborsRegressor with ``weights="distance"`` answered as with uniform
    weights: skl2onnx's neighbour search hands back the distances negated (its other readers negate
    them again), and the weights ``1 / max(d, 1e-6)`` were computed from those, every one ``1e6``
    (measured: the file's answers equal the plain mean of the neighbours; 440 of 442 diabetes rows off).

    The weights are written again from the distances made positive, with scikit-learn's rule for a row
    that has neighbours at distance 0: those weigh 1 and the others 0 (skl2onnx gave them 1e6). The same
    rule holds for RadiusNeighborsClassifier/Regressor(weights="distance"), whose weights were right
    otherwise (21 of 150 iris rows differed at radius 0.5, by 2e-5, each a training row)."""
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxAnd,
        OnnxCast,
        OnnxEqual,
        OnnxGreater,
        OnnxMax,
        OnnxNeg,
        OnnxReciprocal,
        OnnxReduceSumApi11,
        OnnxWhere,
    )
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters import nearest_neighbours

    original = nearest_neighbours._convert_nearest_neighbors
    if getattr(original, "_onnxgate_weights", False):
        return

    def convert(operator: Any, container: Any, k: Any = None, radius: Any = None) -> Any:
        top_indices, top_distances, reshaped, wei, norm, axis = original(operator, container, k=k, radius=radius)
        model = operator.raw_operator
        radius_search = getattr(model, "radius", None) is not None and radius is None and k is None
        if top_distances is None or getattr(model, "weights", None) != "distance":
            return top_indices, top_distances, reshaped, wei, norm, axis
        opv = container.target_opset
        double = isinstance(operator.inputs[0].type, DoubleTensorType)
        dtype = np.float64 if double else np.float32
        if radius_search:
            if opv < 11:
                return top_indices, top_distances, reshaped, wei, norm, axis
            # skl2onnx's weights are 1 / max(d, 1e-6) inside the radius and 0 outside, its distances 0
            # outside: a neighbour at distance 0 is one with a weight and a distance of 0
            inside = OnnxGreater(wei, np.array([0], dtype=dtype), op_version=opv)
            at_zero = OnnxCast(OnnxAnd(inside, OnnxEqual(top_distances, np.array([0], dtype=dtype), op_version=opv),
                                       op_version=opv), to=11 if double else 1, op_version=opv)
            any_zero = OnnxGreater(OnnxReduceSumApi11(at_zero, axes=[1], keepdims=1, op_version=opv),
                                   np.array([0], dtype=dtype), op_version=opv)
            weights = OnnxWhere(any_zero, at_zero, wei, op_version=opv)
            weights.set_onnx_name_prefix("wei")
            total = OnnxReduceSumApi11(weights, axes=[1], keepdims=0, op_version=opv)
            total.set_onnx_name_prefix("norm")
            return top_indices, top_distances, reshaped, weights, total, axis
        distances = OnnxNeg(top_distances, op_version=opv)
        inverse = OnnxReciprocal(OnnxMax(distances, np.array([1e-6], dtype=dtype), op_version=opv), op_version=opv)
        if opv >= 11:  # Equal on floats
            at_zero = OnnxCast(OnnxEqual(distances, np.array([0], dtype=dtype), op_version=opv),
                               to=11 if double else 1, op_version=opv)
            any_zero = OnnxGreater(OnnxReduceSumApi11(at_zero, axes=[1], keepdims=1, op_version=opv),
                                   np.array([0], dtype=dtype), op_version=opv)
            weights = OnnxWhere(any_zero, at_zero, inverse, op_version=opv)
        else:
            weights = inverse
        weights.set_onnx_name_prefix("wei")
        total = OnnxReduceSumApi11(weights, axes=[1], keepdims=0, op_version=opv)
        total.set_onnx_name_prefix("norm")
        return top_indices, top_distances, reshaped, weights, total, axis

    convert._onnxgate_weights = True  # type: ignore[attr-defined]
    nearest_neighbours._convert_nearest_neighbors = convert


def patch_isotonic_calibration() -> None:
    """CalibratedClassifierCV(method="isotonic"): skl2onnx took each calibrator's value at the nearest
    threshold, where scikit-learn interpolates between the two around it (``np.interp``): 14 of 178
    wine rows were off by up to 0.22. Written as the interpolation
    (:func:`onnxgate.converters._sklearn_extra.interpolate`)."""
    import numpy as np
    from skl2onnx.operator_converters import calibrated_classifier_cv

    from onnxgate.converters._sklearn_extra import interpolate

    original = calibrated_classifier_cv._transform_isotonic
    if getattr(original, "_onnxgate_isotonic", False):
        return

    def transform(scope: Any, container: Any, model: Any, T: Any, k: int, dtype: Any, proto_type: Any) -> Any:
        calibrators = model.calibrators if hasattr(model, "calibrators") else model.calibrators_
        calibrator = calibrators[k]
        if len(calibrator.X_thresholds_) < 2:
            return original(scope, container, model, T, k, dtype, proto_type)
        kind = np.float64 if np.dtype(dtype) == np.float64 else np.float32
        return interpolate(scope, container, T, calibrator.X_thresholds_, calibrator.y_thresholds_,
                           calibrator.out_of_bounds, kind)

    transform._onnxgate_isotonic = True  # type: ignore[attr-defined]
    calibrated_classifier_cv._transform_isotonic = transform


def _edit_after(alias: str, marker: str, edit: Any) -> None:
    """Register, in place of skl2onnx's converter for ``alias``, that converter followed by
    ``edit(estimator, nodes)``, which may change the nodes it just added (once, tagged ``marker``)."""
    original = _replaceable(alias, marker)
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        before = len(container.nodes)
        original(scope, operator, container)
        edit(operator.raw_operator, container.nodes[before:])

    _replace(alias, marker, original, convert)


#: skl2onnx's aliases of the scalers whose float32 arithmetic :func:`register_exact_float32_scalers` writes.
SCALER_ALIASES = ("SklearnScaler", "SklearnRobustScaler", "SklearnMaxAbsScaler", "SklearnMinMaxScaler")


def _scaler_steps(op: Any) -> tuple[list[tuple[str, Any]], tuple[float, float] | None]:
    """The arithmetic of a scaler's ``transform`` on float32 rows, as scikit-learn does it in place:
    ``[(ONNX op, the constant as scikit-learn holds it)]`` and the clip bounds (None: no clip)."""
    import numpy as np

    kind = type(op).__name__
    steps: list[tuple[str, Any]] = []
    clip = None
    if kind == "StandardScaler":  # X -= mean_.astype(X.dtype); X /= scale_.astype(X.dtype)
        if op.with_mean and op.mean_ is not None:
            steps.append(("Sub", np.asarray(op.mean_).astype(np.float32)))
        if op.with_std and op.scale_ is not None:
            steps.append(("Div", np.asarray(op.scale_).astype(np.float32)))
    elif kind == "RobustScaler":  # X -= center_; X /= scale_ (in the attributes' own type)
        if op.with_centering and op.center_ is not None:
            steps.append(("Sub", np.asarray(op.center_)))
        if op.with_scaling and op.scale_ is not None:
            steps.append(("Div", np.asarray(op.scale_)))
    elif kind == "MaxAbsScaler":
        steps.append(("Div", np.asarray(op.scale_)))
        clip = (-1.0, 1.0) if getattr(op, "clip", False) else None
    elif kind == "MinMaxScaler":
        steps += [("Mul", np.asarray(op.scale_)), ("Add", np.asarray(op.min_))]
        clip = tuple(float(b) for b in op.feature_range) if getattr(op, "clip", False) else None  # type: ignore[assignment]
    return steps, clip


def register_exact_float32_scalers() -> None:
    """StandardScaler, RobustScaler, MaxAbsScaler and MinMaxScaler on float32 rows, computed as scikit-learn
    computes them: each in-place step rounds to float32, a float64 constant (RobustScaler's center, a scaler
    fitted on float64 rows) computes in double first. skl2onnx wrote ``ai.onnx.ml.Scaler``, which multiplies
    by the reciprocal of the scale: an ulp off on some values, and a tree after it whose threshold is a
    training value (XGBoost's are) sent those rows the other way (``make_pipeline(StandardScaler(),
    XGBClassifier())`` on float32 breast_cancer: 8 of 398 training rows off by up to 0.42, two labels
    flipped, while held-out rows passed; found by helper-80). skl2onnx also ignored MaxAbsScaler's ``clip``.
    Double graphs keep skl2onnx's Sub and Div, which are scikit-learn's float64 arithmetic already."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import FloatTensorType

    from onnxgate.converters._sklearn_extra import GraphWriter, joined_inputs

    def exact(original: Any) -> Any:
        def convert(scope: Any, operator: Any, container: Any) -> None:
            steps, clip = _scaler_steps(operator.raw_operator)
            if not steps or not all(isinstance(v.type, FloatTensorType) for v in operator.inputs):
                original(scope, operator, container)
                return
            w = GraphWriter(scope, container, np.float32)
            value = joined_inputs(scope, operator, container)
            last = len(steps) - 1 if clip is None else None
            for i, (op_type, constant) in enumerate(steps):
                out = operator.outputs[0].full_name if i == last else None
                if constant.dtype == np.float32:
                    value = w.node(op_type, value, w.const(constant.reshape(1, -1)), out=out)
                    continue
                wide = w.node(op_type, w.node("Cast", value, to=TensorProto.DOUBLE),
                              w.const(np.asarray(constant, dtype=np.float64).reshape(1, -1), np.float64))
                value = w.node("Cast", wide, to=TensorProto.FLOAT, out=out)
            if clip is not None:
                low, high = w.const(np.float32(clip[0])), w.const(np.float32(clip[1]))
                if container.target_opset >= 11:
                    w.node("Clip", value, low, high, out=operator.outputs[0].full_name)
                else:
                    w.node("Min", w.node("Max", value, low), high, out=operator.outputs[0].full_name)

        return convert

    for alias in SCALER_ALIASES:
        original = _replaceable(alias, "_onnxgate_exact_scaler")
        if original is not None:
            _replace(alias, "_onnxgate_exact_scaler", original, exact(original))


def register_binary_discriminant() -> None:
    """A binary LinearDiscriminantAnalysis's probabilities: scikit-learn gives ``expit(d)`` for its decision
    score ``d``; skl2onnx wrote the softmax of ``[-d, d]``, which is ``expit(2 d)`` (breast_cancer: 563 of
    569 rows off, by up to 0.15; the labels agree). The same scores through a logistic instead: ``[expit(-d),
    expit(d)]``. More classes take a softmax in both."""
    import onnx

    def edit(op: Any, added: list[Any]) -> None:
        if type(op).__name__ != "LinearDiscriminantAnalysis" or len(op.classes_) != 2:
            return
        for node in added:
            if node.op_type == "LinearClassifier":
                for attribute in node.attribute:
                    if attribute.name == "post_transform" and attribute.s == b"SOFTMAX":
                        attribute.CopyFrom(onnx.helper.make_attribute("post_transform", "LOGISTIC"))
            elif node.op_type == "Softmax":  # the double graph: MatMul, Add, Softmax
                node.op_type = "Sigmoid"
                del node.attribute[:]

    _edit_after("SklearnLinearClassifier", "_onnxgate_discriminant", edit)


#: The linear classifiers whose scores skl2onnx could not write in double (``post_transform 'NONE'``).
_LINEAR_SCORES = ("LinearSVC", "RidgeClassifier", "RidgeClassifierCV")


def register_double_linear_scores() -> None:
    """LinearSVC, RidgeClassifier and RidgeClassifierCV in a double graph: skl2onnx 1.20 refused them ("post_transform
    'NONE' is not supported with double"), so a float64 sample fell back to a float32 graph (decision scores up to
    5.8e-6 off scikit-learn's on breast_cancer) and ``precision="float64"`` was refused. Written here as
    scikit-learn's ``decision_function``, ``X @ coef_.T + intercept_`` in double, and its ``predict``: the class of
    the highest score, or of two classes the second where the score is above 0. The outputs are skl2onnx's (a
    label, the scores: one column for two classes, one per class otherwise). A float input, a multi-label
    RidgeClassifier and skl2onnx's ``raw_scores``, ``nocl`` and ``output_class_labels`` options keep skl2onnx's
    (``zipmap``, which skl2onnx passes over for them, no longer does: a RidgeClassifier fell back to float32)."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.common.utils_classifier import _finalize_converter_classes, get_label_classes

    from onnxgate.converters._sklearn_extra import GraphWriter, input_matrix

    def double_scores(original: Any) -> Any:
        def convert(scope: Any, operator: Any, container: Any) -> None:
            op = operator.raw_operator
            options = container.get_options(op, dict(raw_scores=False, nocl=False, output_class_labels=False))
            multilabel = getattr(getattr(op, "_label_binarizer", None), "y_type_", "") == "multilabel-indicator"
            if (type(op).__name__ not in _LINEAR_SCORES or not isinstance(operator.inputs[0].type, DoubleTensorType)
                    or multilabel or any(options.get(k) for k in ("raw_scores", "nocl", "output_class_labels"))
                    or len(operator.outputs) != 2):
                original(scope, operator, container)
                return
            w = GraphWriter(scope, container, np.float64)
            coef = np.asarray(op.coef_, dtype=np.float64).reshape(-1, op.n_features_in_)
            intercept = np.broadcast_to(np.asarray(op.intercept_, dtype=np.float64), (coef.shape[0],))
            scores = w.node("Add", w.node("MatMul", input_matrix(scope, operator, container), w.const(coef.T)),
                            w.const(intercept.reshape(1, -1)), out=operator.outputs[1].full_name)
            if coef.shape[0] == 1:  # two classes: scikit-learn's ``scores > 0``
                index = w.node("Reshape", w.node("Cast", w.node("Greater", scores, w.const(np.zeros(1))),
                                                 to=TensorProto.INT64),
                               w.const([-1], np.int64))
            else:
                index = w.node("ArgMax", scores, axis=1, keepdims=0)
            _finalize_converter_classes(scope, index, operator.outputs[0].full_name, container,
                                        np.asarray(get_label_classes(scope, op)), TensorProto.INT64)

        return convert

    for alias in ("SklearnLinearSVC", "SklearnLinearClassifier"):
        original = _replaceable(alias, "_onnxgate_double_linear")
        if original is not None:
            _replace(alias, "_onnxgate_double_linear", original, double_scores(original))


def _double_kernel_written(model: Any) -> bool:
    """Whether :func:`_double_kernel` writes ``model``'s kernel: ``linear``, ``poly``, ``rbf`` or ``sigmoid`` (not
    ``precomputed`` or a callable); support vectors held sparse (fitted on sparse rows) are written dense."""
    return model.kernel in ("linear", "poly", "rbf", "sigmoid")


def _double_kernel(w: Any, rows: str, model: Any) -> str:
    """``K(rows, support_vectors_)`` in double, one column per support vector, written through ``w``
    (:class:`GraphWriter`) for a model :func:`_double_kernel_written` takes.

    The RBF kernel's squared distance is ``|x|^2 + |s|^2 - 2 x.s`` of rows and support vectors shifted by the
    support vectors' mean (the distance is the same; the shift keeps the cancellation to a few ulps of the
    data's spread, not of its offset), floored at 0: a matrix product, where the difference of every row and
    support vector would hold rows x support vectors x features values."""
    import numpy as np

    vectors = model.support_vectors_
    vectors = np.asarray(vectors.toarray() if hasattr(vectors, "toarray") else vectors, dtype=np.float64)
    gamma, coef0 = float(model._gamma), float(model.coef0)
    if model.kernel == "rbf":
        centre = vectors.mean(axis=0)
        shifted = vectors - centre
        x = w.node("Sub", rows, w.const(centre.reshape(1, -1)))
        x_norms = w.node("MatMul", w.node("Mul", x, x), w.const(np.ones((vectors.shape[1], 1))))
        twice = w.node("MatMul", x, w.const(2.0 * shifted.T))
        squared = w.node("Sub", w.node("Add", x_norms, w.const((shifted**2).sum(axis=1).reshape(1, -1))), twice)
        return str(w.node("Exp", w.node("Mul", w.node("Max", squared, w.const(np.zeros(1))), w.const([-gamma]))))
    kernel = w.node("MatMul", rows, w.const(vectors.T))
    if model.kernel != "linear":
        kernel = w.node("Add", w.node("Mul", kernel, w.const([gamma])), w.const([coef0]))
        kernel = (w.node("Pow", kernel, w.const([float(model.degree)])) if model.kernel == "poly"
                  else w.node("Tanh", kernel))
    return str(kernel)


def _dense_dual(model: Any) -> Any:
    import numpy as np

    dual = model.dual_coef_
    return np.asarray(dual.toarray() if hasattr(dual, "toarray") else dual, dtype=np.float64)


def _double_kernel_decision(w: Any, rows: str, model: Any, weights: Any = None) -> str:
    """``K(rows, support_vectors_) @ weights + intercept_`` in double, ``weights`` by default ``dual_coef_.T``: one
    column per row of ``dual_coef_`` (libsvm's decision of an SVR, NuSVR or OneClassSVM, a binary SVC's
    ``decision_function``), written through ``w`` (:class:`GraphWriter`) for a model :func:`_double_kernel_written`
    takes."""
    import numpy as np

    weights = _dense_dual(model).T if weights is None else weights
    return str(w.node("Add", w.node("MatMul", _double_kernel(w, rows, model), w.const(weights)),
                      w.const(np.asarray(model.intercept_, dtype=np.float64).reshape(1, -1))))


def _pairwise_decisions(w: Any, rows: str, model: Any) -> str:
    """An SVC's or NuSVC's one-against-one decisions as libsvm computes them, ``[N, pairs]`` in double, the pairs
    ``(i, j)``, ``i < j``, in scikit-learn's order (a value above 0 votes for class ``i``): scikit-learn's
    ``decision_function_shape="ovo"`` scores for three classes or more, minus its ``decision_function`` for two
    (scikit-learn flips the sign of a binary model's ``dual_coef_`` and ``intercept_``). Pair ``(i, j)`` sums the
    kernel of class ``i``'s support vectors weighted by row ``j - 1`` of ``dual_coef_`` and class ``j``'s weighted
    by row ``i``, plus ``intercept_``'s entry of the pair (libsvm's ``-rho``)."""
    import numpy as np

    n = len(model.classes_)
    if n == 2:
        return str(w.node("Neg", _double_kernel_decision(w, rows, model)))
    dual = _dense_dual(model)
    starts = np.concatenate([[0], np.cumsum(model.n_support_)])
    weights = np.zeros((dual.shape[1], n * (n - 1) // 2))
    for pair, (i, j) in enumerate(itertools.combinations(range(n), 2)):
        weights[starts[i]:starts[i + 1], pair] = dual[j - 1, starts[i]:starts[i + 1]]
        weights[starts[j]:starts[j + 1], pair] = dual[i, starts[j]:starts[j + 1]]
    return _double_kernel_decision(w, rows, model, weights)


def _pair_classes(n: int) -> tuple[Any, Any]:
    """``(first, second)``: ``[pairs, n]`` matrices of 0 and 1 placing each one-against-one pair's classes."""
    import numpy as np

    pairs = list(itertools.combinations(range(n), 2))
    first, second = np.zeros((len(pairs), n)), np.zeros((len(pairs), n))
    for pair, (i, j) in enumerate(pairs):
        first[pair, i] = second[pair, j] = 1.0
    return first, second


def _pairwise_votes(w: Any, wins: str, n: int) -> str:
    """``[N, n]`` votes of each class from ``wins`` (``[N, pairs]`` bool, true where a pair votes for its first
    class, else for its second): whole numbers in double, exact."""
    from onnx import TensorProto

    first, second = _pair_classes(n)
    won = w.node("MatMul", w.node("Cast", wins, to=TensorProto.DOUBLE), w.const(first - second))
    return str(w.node("Add", won, w.const(second.sum(axis=0, keepdims=True))))


def _ovr_scores(w: Any, pairs: str, n: int) -> str:
    """scikit-learn's ``_ovr_decision_function(dec < 0, -dec, n)`` of the pairwise decisions ``pairs``: each
    class's votes (a pair at or above 0 votes for its first class) plus its summed confidences ``s`` as
    ``s / (3 (|s| + 1))``."""
    import numpy as np

    first, second = _pair_classes(n)
    votes = _pairwise_votes(w, w.node("Not", w.node("Less", pairs, w.const(np.zeros(1)))), n)
    summed = w.node("MatMul", pairs, w.const(first - second))
    shrunk = w.node("Div", summed, w.node("Mul", w.node("Add", w.node("Abs", summed), w.const([1.0])), w.const([3.0])))
    return str(w.node("Add", votes, shrunk))


def _coupled_probabilities(w: Any, pairs: str, model: Any) -> str:
    """libsvm's ``svm_predict_probability`` of the pairwise decisions ``pairs`` (``[N, pairs]``, libsvm's sign):
    Platt's probability of each pair, then Wu, Lin and Weng's coupling of them (``multiclass_probability``,
    which scikit-learn's libsvm runs for two classes too: :func:`_coupling_sweeps`)."""
    import numpy as np

    n = len(model.classes_)
    # scikit-learn 1.9 deprecates probA_ and probB_ (its own name for them is _probA, _probB)
    a = np.asarray(model._probA if hasattr(model, "_probA") else model.probA_, dtype=np.float64)
    b = np.asarray(model._probB if hasattr(model, "_probB") else model.probB_, dtype=np.float64)
    f = w.node("Add", w.node("Mul", pairs, w.const(a.reshape(1, -1))), w.const(b.reshape(1, -1)))
    # libsvm's sigmoid_predict: exp(-f) / (1 + exp(-f)) for f >= 0, 1 / (1 + exp(f)) below, both of exp(-|f|)
    e = w.node("Exp", w.node("Neg", w.node("Abs", f)))
    one = w.const([1.0])
    plus = w.node("Add", e, one)
    platt = w.node("Where", w.node("Less", f, w.const(np.zeros(1))), w.node("Div", one, plus), w.node("Div", e, plus))
    return _coupling_sweeps(w, *_coupling_matrix(w, w.node("Min", w.node("Max", platt, w.const([1e-7])),
                                                           w.const([1 - 1e-7])), n), n)


def _coupling_matrix(w: Any, pairwise: str, n: int) -> tuple[str, str]:
    """``(Q, diagonal)`` of libsvm's coupling from each pair's probability ``r[i][j]`` (``pairwise``,
    ``[N, pairs]``; ``r[j][i] = 1 - r[i][j]``): ``Q`` as ``[N, n * n]``, ``Q[t][t]`` the sum over ``j != t`` of
    ``r[j][t]^2`` and ``Q[t][j] = -r[j][t] r[t][j]``, its diagonal ``[N, n]``. Placing values by products with
    matrices of 0 and 1 is exact."""
    import numpy as np

    size, count = n * n, n * (n - 1) // 2
    at_ij, at_ji = np.zeros((count, size)), np.zeros((count, size))
    for pair, (i, j) in enumerate(itertools.combinations(range(n), 2)):
        at_ij[pair, i * n + j] = at_ji[pair, j * n + i] = 1.0
    r = w.node("Add", w.node("MatMul", pairwise, w.const(at_ij)),
               w.node("MatMul", w.node("Sub", w.const([1.0]), pairwise), w.const(at_ji)))  # 0 on the diagonal
    by_column = np.zeros((size, n))
    for j, t in itertools.product(range(n), range(n)):
        by_column[j * n + t, t] = 1.0
    diagonal = w.node("MatMul", w.node("Mul", r, r), w.const(by_column))
    transposed = w.node("Gather", r, w.const([t * n + j for j in range(n) for t in range(n)], np.int64), axis=1)
    onto = np.zeros((n, size))
    onto[range(n), [t * n + t for t in range(n)]] = 1.0
    q = w.node("Add", w.node("Neg", w.node("Mul", r, transposed)), w.node("MatMul", diagonal, w.const(onto)))
    return str(q), str(diagonal)


def _coupling_sweeps(w: Any, q: str, diagonal: str, n: int) -> str:
    """libsvm's ``multiclass_probability`` of every row at once, ``[N, n]``: ``p = 1/n``, then at most
    ``max(100, n)`` sweeps, each row stopping at the first whose largest ``|Qp_t - pQp|`` is below ``0.005 / n``,
    as libsvm stops it (the probabilities depend on where it stops, not only on the coupling's solution). The
    sweeps are an ONNX ``Loop``, a row that stopped keeping its ``p``; each sweep is libsvm's, step by step."""
    import numpy as np
    from onnx import TensorProto, helper

    size = n * n
    q_tt = [w.node("Gather", diagonal, w.const([t], np.int64), axis=1) for t in range(n)]
    q_t = [w.node("Gather", q, w.const(list(range(t * n, t * n + n)), np.int64), axis=1) for t in range(n)]
    # the Loop's body: its constants are its own nodes (onnxruntime merging an outer constant it reads with an
    # equal one outside warned "Implicit input name ... cannot be safely updated" at every session)
    sweep = _BodyWriter(w.scope)
    p_in, active_in = sweep.name("p"), sweep.name("active")
    ones = sweep.const(np.ones((n, 1)))
    # Qp[t] = sum over j of Q[t][j] p[j]: p spread to Q's n * n columns, multiplied, each row of Q summed (2-D
    # products: a batch of [n, n] @ [n, 1] ones took 1.5 ms a sweep for 1,000 rows)
    spread, summed = np.zeros((n, size)), np.zeros((size, n))
    for t, j in itertools.product(range(n), range(n)):
        spread[j, t * n + j] = summed[t * n + j, t] = 1.0
    qp = sweep.node("MatMul", sweep.node("Mul", q, sweep.node("MatMul", p_in, sweep.const(spread))),
                    sweep.const(summed))
    pqp = sweep.node("MatMul", sweep.node("Mul", p_in, qp), ones)
    error = sweep.node("Abs", sweep.node("Sub", qp, pqp))
    off = sweep.node("Cast", sweep.node("Not", sweep.node("Less", error, sweep.const([0.005 / n]))),
                     to=TensorProto.DOUBLE)
    active = sweep.node("And", active_in, sweep.node("Greater", sweep.node("MatMul", off, ones), sweep.const([0.0])))
    p, one, two = p_in, sweep.const([1.0]), sweep.const([2.0])
    for t in range(n):  # libsvm's steps: p[t] += diff, pQp, then Qp and p divided by 1 + diff
        qp_t = sweep.node("Gather", qp, sweep.const([t], np.int64), axis=1)
        diff = sweep.node("Div", sweep.node("Sub", pqp, qp_t), q_tt[t])
        after = sweep.node("Add", diff, one)
        p = sweep.node("Div", sweep.node("Add", p, sweep.node("Mul", diff, sweep.const(np.eye(n)[[t]]))), after)
        grown = sweep.node("Add", sweep.node("Mul", diff, q_tt[t]), sweep.node("Mul", two, qp_t))
        pqp = sweep.node("Div", sweep.node("Div", sweep.node("Add", pqp, sweep.node("Mul", diff, grown)), after), after)
        qp = sweep.node("Div", sweep.node("Add", qp, sweep.node("Mul", diff, q_t[t])), after)
    moving = sweep.node("ReduceSum", sweep.node("Cast", active, to=TensorProto.DOUBLE), keepdims=0)
    body = sweep.graph(
        [(sweep.name("sweep"), TensorProto.INT64, []), (sweep.name("going"), TensorProto.BOOL, []),
         (p_in, TensorProto.DOUBLE, None), (active_in, TensorProto.BOOL, None)],
        [(sweep.node("Greater", moving, sweep.const(0.0)), TensorProto.BOOL, []),
         (sweep.node("Where", active, p, p_in), TensorProto.DOUBLE, None),
         (sweep.node("Identity", active), TensorProto.BOOL, None)])
    start = w.node("ConstantOfShape", w.node("Shape", diagonal),
                   value=helper.make_tensor("p", TensorProto.DOUBLE, [1], [1.0 / n]))
    everyone = w.node("ConstantOfShape", w.node("Shape", q_tt[0]),
                      value=helper.make_tensor("active", TensorProto.BOOL, [1], [True]))
    coupled = w.scope.get_unique_variable_name("coupled")
    w.container.add_node("Loop", [w.const(max(100, n), np.int64), w.const(True, np.bool_), start, everyone],
                         [coupled, w.scope.get_unique_variable_name("stopped")],
                         name=w.scope.get_unique_operator_name("Loop"), body=body)
    return str(coupled)


class _BodyWriter:
    """The nodes of a ``Loop``'s body, named uniquely in ``scope`` (:class:`GraphWriter`'s ``node`` and ``const``,
    the constants as ``Constant`` nodes of the body), and the body graph they make."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope
        self.nodes: list[Any] = []

    def name(self, hint: str) -> str:
        return str(self.scope.get_unique_variable_name(hint))

    def node(self, op: str, *inputs: str, **attributes: Any) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=self.scope.get_unique_operator_name(op),
                                           **attributes))
        return out

    def const(self, value: Any, dtype: Any = None) -> str:
        import numpy as np
        from onnx import numpy_helper

        return self.node("Constant", value=numpy_helper.from_array(np.asarray(value, dtype=dtype or np.float64)))

    def graph(self, inputs: list[tuple[str, int, Any]], outputs: list[tuple[str, int, Any]]) -> Any:
        """The body of these nodes; ``inputs`` and ``outputs`` as ``(name, element type, shape or None)``."""
        from onnx import helper

        return helper.make_graph(self.nodes, self.scope.get_unique_operator_name("body"),
                                 [helper.make_tensor_value_info(*i) for i in inputs],
                                 [helper.make_tensor_value_info(*o) for o in outputs])


def register_double_kernel_svm() -> None:
    """SVR, NuSVR, OneClassSVM, SVC and NuSVC in a double graph: ai.onnx.ml's SVMRegressor and SVMClassifier hold
    their support vectors and coefficients as float32 attributes and onnxruntime has no double kernel for them, so
    a float64 sample fell back to a float32 graph (an SVR on diabetes 2.9e-5 off scikit-learn's ``predict``) and
    ``precision="float64"`` was refused, or (SVC, NuSVC) the double graph scored in float32 (a NuSVC on unscaled
    wine 1.1e-3 off ``decision_function``, 1 of 20,000 rows near it labelled otherwise). Written here in double
    with standard operators (:func:`_double_kernel_decision`): an SVR's and a NuSVR's prediction, a OneClassSVM's
    ``decision_function`` and its label (1 above 0, else -1, as libsvm); an SVC's and NuSVC's one-against-one decisions
    (:func:`_pairwise_decisions`), their label as ``predict`` (libsvm's votes, the first most voted class, or with
    ``break_ties`` the highest ``ovr`` score), their scores in skl2onnx's layout (two classes: ``[d, -d]``, which
    :func:`binary_scores_by_class` turns by class, or skl2onnx's ``raw_scores`` ``[-d, d]``; more: ``ovo``, or
    ``ovr`` as ``_ovr_decision_function``), or with ``probability=True`` libsvm's coupled probabilities
    (:func:`_coupled_probabilities`), and with ``raw_scores`` (a CalibratedClassifierCV around it) its scores, as
    ``decision_function`` answers them, probabilities or not (skl2onnx's float32 ``SVMClassifier`` wrote Platt's
    probabilities there: 363 of 569 breast_cancer labels of a calibrated ``SVC(probability=True)`` wrong).
    Sparse support vectors (a model fitted on sparse rows) are written dense. A float input, a precomputed or
    callable kernel, and skl2onnx's ``nocl`` and ``output_class_labels`` options keep skl2onnx's, given with
    ``raw_scores`` a copy without Platt's sigmoid (:func:`without_platt`): it writes the decision scores then."""
    import copy

    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.converters._sklearn_extra import GraphWriter, input_matrix, label_constant

    def double_svm(original: Any) -> Any:
        def convert(scope: Any, operator: Any, container: Any) -> None:
            if (not all(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
                    or not _double_kernel_written(operator.raw_operator)):
                original(scope, operator, container)
                return
            w = GraphWriter(scope, container, np.float64)
            decision = _double_kernel_decision(w, input_matrix(scope, operator, container), operator.raw_operator)
            w.node("Identity", decision, out=operator.outputs[-1].full_name)
            if len(operator.outputs) == 2:  # OneClassSVM: the label first
                inlier = w.node("Greater", decision, w.const(np.zeros(1)))
                w.node("Where", inlier, w.const([1], np.int64), w.const([-1], np.int64),
                       out=operator.outputs[0].full_name)

        return convert

    def double_svc(original: Any) -> Any:
        def convert(scope: Any, operator: Any, container: Any) -> None:
            op = operator.raw_operator
            options = container.get_options(op, dict(raw_scores=False, nocl=False, output_class_labels=False))
            platt = hasattr(op, "predict_proba")
            if (not all(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
                    or not _double_kernel_written(op) or options["nocl"] or options["output_class_labels"]
                    or len(operator.outputs) != 2):
                if platt and options["raw_scores"]:
                    # skl2onnx's SVMClassifier writes Platt's probabilities where raw scores were asked for (a
                    # CalibratedClassifierCV around it reads them as decision_function): a float32 graph's
                    # calibrated SVC(probability=True) had 363 of 569 breast_cancer labels wrong, 0.96 off
                    alone = without_platt(op)
                    container.add_options(id(alone), {**options, "raw_scores": True})
                    operator = copy.copy(operator)
                    operator.raw_operator = alone
                original(scope, operator, container)
                return
            w = GraphWriter(scope, container, np.float64)
            n = len(op.classes_)
            pairs = _pairwise_decisions(w, input_matrix(scope, operator, container), op)
            ovr = _ovr_scores(w, pairs, n) if n > 2 and op.decision_function_shape == "ovr" else None
            if ovr is not None and op.break_ties:
                index = w.node("ArgMax", ovr, axis=1, keepdims=0)
            else:  # libsvm's votes: above 0 for the pair's first class, else its second; the first most voted
                index = w.node("ArgMax", _pairwise_votes(w, w.node("Greater", pairs, w.const(np.zeros(1))), n),
                               axis=1, keepdims=0)
            w.node("Gather", label_constant(w, op.classes_), index, out=operator.outputs[0].full_name, axis=0)
            scores = operator.outputs[1].full_name
            if platt and not options["raw_scores"]:
                w.node("Identity", _coupled_probabilities(w, pairs, op), out=scores)
            elif n == 2:  # pairs = -d
                d = w.node("Neg", pairs)
                w.node("Concat", *((pairs, d) if options["raw_scores"] else (d, pairs)), out=scores, axis=1)
            else:
                w.node("Identity", ovr or pairs, out=scores)

        return convert

    for alias, replacement in (("SklearnSVR", double_svm), ("SklearnOneClassSVM", double_svm),
                               ("SklearnSVC", double_svc)):
        original = _replaceable(alias, "_onnxgate_double_svm")
        if original is not None:
            _replace(alias, "_onnxgate_double_svm", original, replacement(original))


def register_modified_huber_labels() -> None:
    """SGDClassifier(loss="modified_huber") (and ``"log_loss"``: :func:`_log_loss_label_from_scores`) with three
    classes or more: skl2onnx took the label as the argmax of its probabilities, which clip every score at 1
    (and are uniform where all are below -1), so classes whose scores pass 1 tie and the first wins;
    scikit-learn predicts the argmax of the scores (6 of 72 held-out wine labels differed, the probabilities
    equal; found by helper-74). The label's ArgMax reads the scores the probabilities clip."""

    def edit(op: Any, added: list[Any]) -> None:
        if getattr(op, "loss", None) == "log_loss" and len(op.classes_) >= 3:
            _log_loss_label_from_scores(added)
            return
        if getattr(op, "loss", None) != "modified_huber" or len(op.classes_) < 3:
            return
        clip = next((n for n in added if n.op_type == "Clip"), None)
        if clip is None:  # raw scores asked for: the label is already the scores' argmax
            return
        made_from: dict[str, Any] = {out: node for node in added for out in node.output}
        for node in added:
            if node.op_type == "ArgMax" and _computed_from(node.input[0], clip.output[0], made_from):
                node.input[0] = clip.input[0]

    _edit_after("SklearnSGDClassifier", "_onnxgate_huber", edit)


def _log_loss_label_from_scores(added: list[Any]) -> None:
    """SGDClassifier(loss="log_loss") with three classes or more: its one-against-rest sigmoids saturate at 1
    (scores of 56.7 and 73.75 both give 1.0), the normalised probabilities tie at 0.5, and the label, taken as
    their argmax, was the first of the two; scikit-learn predicts the argmax of the scores (12 of 1,000 wine
    rows; helper-105). The label's ArgMax reads the scores the sigmoid is computed from."""
    exp = next((n for n in added if n.op_type == "Exp"), None)
    made_from: dict[str, Any] = {out: node for node in added for out in node.output}
    negate = made_from.get(exp.input[0]) if exp is not None else None
    if exp is None or negate is None or negate.op_type != "Mul":
        return
    scores = negate.input[0]
    for node in added:
        if node.op_type == "ArgMax" and _computed_from(node.input[0], exp.output[0], made_from):
            node.input[0] = scores


def _computed_from(name: str, source: str, made_from: dict[str, Any]) -> bool:
    """Whether value ``name`` is ``source`` or computed from it by the nodes in ``made_from``."""
    todo, seen = [name], set()
    while todo:
        value = todo.pop()
        if value == source:
            return True
        if value in seen or value not in made_from:
            continue
        seen.add(value)
        todo.extend(made_from[value].input)
    return False


def patch_operator_verification() -> None:
    """skl2onnx's algebra API checks, after adding each operator, that every operator upstream of it was
    added, by walking its inputs recursively without remembering what it saw. A graph whose values are
    shared (QuantileTransformer's binary search: each step reads the previous index and step twice)
    makes that walk exponential in its depth: a QuantileTransformer of 13 columns with 178 quantiles
    took 13.8 s, 30 columns with 569 quantiles about 460 s, all of it in that walk. The same check,
    visiting each operator once."""
    from skl2onnx.algebra.onnx_operator import OnnxOperator

    original = OnnxOperator._verify_add_to_
    if getattr(original, "_onnxgate_once", False):
        return

    def verify(self: Any) -> None:
        seen: set[int] = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.state is None:
                raise RuntimeError(
                    f"Graph was not produced for operator '{node.__class__.__name__}': {node}."
                )
            stack.extend(i for i in node.inputs if hasattr(i, "_verify_add_to_"))

    verify._onnxgate_once = True  # type: ignore[attr-defined]
    OnnxOperator._verify_add_to_ = verify


def patch_operator_version_table() -> None:
    """skl2onnx builds, for each conversion that adds a node without naming its version (onnxgate's own
    graph steps, several of its converters), a table of every operator's versions from ``onnx.defs``: about
    3 ms a conversion here, a fifth of a LightGBM pipeline's. The table depends on the installed onnx only,
    so it is built once per process and shared. An operator missing from it (a schema registered after the
    table was built) rebuilds it, so such an operator gets its version as before."""
    from skl2onnx.common._container import ModelComponentContainer

    build, lookup = ModelComponentContainer._build_op_version, ModelComponentContainer._get_op_version
    if getattr(build, "_onnxgate_once", False):
        return
    shared: dict[str, Any] = {}

    def build_once(self: Any) -> None:
        if "table" not in shared:
            build(self)
            shared["table"] = self._op_versions
        self._op_versions = shared["table"]

    def get_op_version(self: Any, domain: str, op_type: str) -> Any:
        if not hasattr(self, "_op_versions"):
            build_once(self)
        if (domain, op_type) not in self._op_versions and domain not in ("com.microsoft", "local_domain"):
            build(self)  # a schema the shared table has not seen: read onnx.defs again
            shared["table"] = self._op_versions
        return lookup(self, domain, op_type)

    build_once._onnxgate_once = True  # type: ignore[attr-defined]
    # skl2onnx's own methods, for a caller that measures skl2onnx as shipped (bench/bench_convert.py)
    build_once._onnxgate_original = build  # type: ignore[attr-defined]
    get_op_version._onnxgate_original = lookup  # type: ignore[attr-defined]
    ModelComponentContainer._build_op_version = build_once
    ModelComponentContainer._get_op_version = get_op_version


def register_multiclass_gaussian_process() -> None:
    """GaussianProcessClassifier on more than two classes, which skl2onnx refused ("Only binary
    classification is implemented"). scikit-learn fits one binary Laplace classifier per class
    (``base_estimator_``, one-vs-rest) and divides their probabilities of the class by their sum: each
    binary one is written by skl2onnx's own converter, then the division and the most probable class's
    label. The one-vs-one form has no ``predict_proba`` and stays refused. (:func:`_solve_as_product`
    makes the binary files load at all.)"""
    import copy
    from types import SimpleNamespace

    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType

    from onnxgate.converters._sklearn_extra import GraphWriter, label_constant

    original = _replaceable("SklearnGaussianProcessClassifier", "_onnxgate_multiclass")
    if original is None:
        return
    _solve_as_product()

    def convert(scope: Any, operator: Any, container: Any) -> None:
        model = operator.raw_operator
        binaries = getattr(model.base_estimator_, "estimators_", None)
        if binaries is None or type(model.base_estimator_).__name__ != "OneVsRestClassifier":
            original(scope, operator, container)
            return
        double = isinstance(operator.outputs[1].type, DoubleTensorType)
        w = GraphWriter(scope, container, np.float64 if double else np.float32)
        second = w.const([1], np.int64)
        columns = []
        for binary in binaries:
            one = copy.copy(model)
            one.base_estimator_ = binary  # kernel_ then reads its kernel (a property of two classes)
            one.classes_, one.n_classes_ = np.array([0, 1]), 2
            label = scope.declare_local_variable("gpc_class_label", Int64TensorType())
            proba = scope.declare_local_variable("gpc_class_proba", (DoubleTensorType if double else FloatTensorType)())
            original(scope, SimpleNamespace(raw_operator=one, inputs=operator.inputs, outputs=[label, proba]),
                     container)
            columns.append(w.node("Gather", proba.onnx_name, second, axis=1))  # its class's probability
        stacked = w.node("Concat", *columns, axis=1)
        total = w.node("MatMul", stacked, w.const(np.ones((len(columns), 1))))
        probabilities = w.node("Div", stacked, total, out=operator.outputs[1].full_name)
        index = w.node("ArgMax", probabilities, axis=1, keepdims=0)
        w.node("Gather", label_constant(w, model.classes_), index, out=operator.outputs[0].full_name, axis=0)

    _replace("SklearnGaussianProcessClassifier", "_onnxgate_multiclass", original, convert)


def decision_written(member: Any) -> str | None:
    """How :func:`member_decision` writes a binary member's ``decision_function``: "linear" (``X @ coef_.T +
    intercept_``), "svm" (skl2onnx's raw scores of a copy without Platt's probabilities), or None (not here)."""
    import numpy as np
    from sklearn.linear_model._base import LinearClassifierMixin

    shape = np.shape(getattr(member, "coef_", ()))
    if isinstance(member, LinearClassifierMixin) and (len(shape) == 1 or shape[:1] == (1,)):  # Ridge's [n]
        return "linear"
    return "svm" if type(member).__name__ in ("SVC", "NuSVC") and len(getattr(member, "classes_", ())) == 2 else None


def without_platt(member: Any) -> Any:
    """A copy of an ``SVC``/``NuSVC`` fitted with ``probability=True`` whose converter writes its decision
    scores (what its ``decision_function`` and ``predict`` use), not Platt's probabilities."""
    import copy

    import numpy as np

    alone = copy.copy(member)
    alone.probability, alone._probA, alone._probB = False, np.empty(0), np.empty(0)
    return alone


def patch_one_vs_one_scores() -> None:
    """OneVsOneClassifier's scores (its ``decision_function``) sum each pair's votes and its member's
    confidence, the member's ``decision_function`` where it has one; skl2onnx took the member's second
    probability, which for ``SVC(probability=True)`` is Platt's, not the decision: the scores were 0.49 off
    on wine (the labels, votes, held). Such members are converted as copies that write their decision
    scores (:func:`without_platt`)."""
    original = _replaceable("SklearnOneVsOneClassifier", "_onnxgate_scores")
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        import copy

        model = operator.raw_operator
        members = list(getattr(model, "estimators_", ()))
        platt = [type(m).__name__ in ("SVC", "NuSVC") and getattr(m, "probability", False) for m in members]
        if not any(platt):
            original(scope, operator, container)
            return
        decided = copy.copy(model)
        decided.estimators_ = [without_platt(m) if p else m for m, p in zip(members, platt)]
        operator.raw_operator = decided
        try:
            original(scope, operator, container)
        finally:
            operator.raw_operator = model

    _replace("SklearnOneVsOneClassifier", "_onnxgate_scores", original, convert)


def member_decision(w: Any, features: str, inputs: Any, member: Any) -> str:
    """A binary member's ``decision_function`` as an ``[N, 1]`` tensor of ``w``'s float type, computed from
    ``features`` (the matrix ``inputs`` make, in that type); the member is one :func:`decision_written` knows."""
    import copy

    import numpy as np
    from skl2onnx._supported_operators import get_model_alias
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType

    scope, container = w.scope, w.container
    if decision_written(member) == "linear":
        product = w.node("MatMul", features, w.const(np.asarray(member.coef_, dtype=np.float64).reshape(-1, 1)))
        return str(w.node("Add", product, w.const(np.reshape(member.intercept_, (1, 1)))))
    alone = without_platt(member) if getattr(member, "probability", False) else copy.copy(member)
    # its own options (raw scores, whatever the ensemble's member has)
    container.add_options(id(alone), {"raw_scores": True})
    scope.add_options(id(alone), {"raw_scores": True})
    label = scope.declare_local_variable("member_label", Int64TensorType())
    double = w.dtype == np.float64
    raw = scope.declare_local_variable("member_scores", (DoubleTensorType if double else FloatTensorType)())
    this = scope.declare_local_operator(get_model_alias(type(member)), raw_model=alone)
    this.inputs, this.outputs = inputs, [label, raw]
    return str(w.node("Gather", raw.onnx_name, w.const([1], np.int64), axis=1))  # [-d, d]: d, as a column


def allowed_options(est: Any) -> Mapping[str, Any]:
    """The options skl2onnx's converter for ``est`` accepts ({} when none is registered)."""
    try:
        from skl2onnx._supported_operators import sklearn_operator_name_map
        from skl2onnx.common._registration import get_converter

        return get_converter(sklearn_operator_name_map[type(est)]).get_allowed_options() or {}
    except Exception:  # no converter registered: skl2onnx will say so when it meets the estimator
        return {}


def _flat_steps(model: Any) -> list[Any]:
    """A pipeline's steps, nested pipelines' spelled out; ``[model]`` for a plain estimator."""
    steps = getattr(model, "steps", None)
    return [s for _, step in steps for s in _flat_steps(step)] if steps else [model]


def _last_step(model: Any) -> Any:
    """A pipeline's last step (through nested pipelines); the model itself when it is none."""
    return _flat_steps(model)[-1]


def _steps_before_last(scope: Any, model: Any, source: Any) -> Any:
    """The variable holding ``source`` through a pipeline's steps before its last (a Pipeline operator of its
    own, converted by skl2onnx's pipeline converter), or ``source`` itself for a plain estimator."""
    before = _flat_steps(model)[:-1]
    if not before:
        return source
    from sklearn.pipeline import Pipeline

    this = scope.declare_local_operator("SklearnPipeline", raw_model=Pipeline([(f"step{i}", step) for i, step
                                                                                in enumerate(before)]))
    this.inputs = [source]
    out = scope.declare_local_variable("member_steps", source.type.__class__())
    this.outputs.append(out)
    return out


def patch_pipeline_step_options() -> None:
    """skl2onnx's converter of a pipeline inside another model (a stacking or voting member) gives every
    classifier step ``zipmap=False``, and a step whose converter has no such option failed the whole
    conversion (``make_pipeline(StandardScaler(), LinearSVC())`` in a StackingClassifier: "Option 'zipmap'
    not in ['nocl', 'output_class_labels', 'raw_scores']"; raw skl2onnx too). The option goes only to steps
    whose converter takes it."""
    from skl2onnx._parse import _parse_sklearn
    from skl2onnx.common._apply_operation import apply_cast
    from skl2onnx.common.data_types import guess_proto_type
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline

    original = _replaceable("SklearnPipeline", "_onnxgate_step_options")
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        inputs, outputs = operator.inputs, operator.inputs
        steps = operator.raw_operator.steps
        # an option the model around gave the pipeline reaches the step that answers (OneVsOneClassifier asks
        # for raw scores: a pipeline ending in SVC() answered its binary scores negated, 0.51 off on wine)
        raw = container.get_options(operator.raw_operator, {"raw_scores": None}).get("raw_scores")
        for index, (_, step) in enumerate(steps):
            given = {"zipmap": False} if is_classifier(step) or isinstance(step, Pipeline) else {}
            if raw is not None and index == len(steps) - 1:
                given["raw_scores"] = raw
            allowed = allowed_options(step)  # none without a converter: _parse_sklearn says so below
            given = {k: v for k, v in given.items() if k in allowed}
            if given:
                scope.add_options(id(step), options=given)
                container.add_options(id(step), options=given)
            outputs = _parse_sklearn(scope, step, inputs, custom_parsers=None)
            inputs = outputs
        if len(outputs) != len(operator.outputs):
            raise RuntimeError(f"the pipeline's last step answers {len(outputs)} outputs, the pipeline "
                               f"{len(operator.outputs)}")
        for source, out in zip(outputs, operator.outputs):
            name = scope.get_unique_operator_name("Id" + operator.onnx_name)
            if isinstance(out.type, type(source.type)):
                container.add_node("Identity", source.full_name, out.full_name, name=name)
            else:  # the pipeline's declared type differs from its last step's
                apply_cast(scope, source.full_name, out.full_name, container, operator_name=name,
                           to=guess_proto_type(out.type))

    _replace("SklearnPipeline", "_onnxgate_step_options", original, convert)


def patch_column_transformer_selection() -> None:
    """A ColumnTransformer that reads the matrix a step before it gives (a later pipeline step, after a
    ``set_output(transform="pandas")`` step: its names are positions of that matrix, see
    :func:`onnxgate.converters.sklearn._by_position`) could not be converted: skl2onnx finds which input holds
    a column by the inputs' declared widths, and a step's output has none while the model is parsed ("Cannot
    extract a specific column 8 when one input ... has unknown dimension"; "Unexpect rank=0"). Its one input
    is declared as wide as the ColumnTransformer was fitted on (``n_features_in_``), which the step's own shape
    calculator confirms afterwards. skl2onnx also took a branch picking as many columns as its input holds as
    that input itself ("No need to extract"): ``[3, 2, 1, 0]`` of iris read the columns in their own order
    (validate failed on every row). They are gathered unless they are the input's columns in order."""
    from skl2onnx import _parse
    from skl2onnx.common.data_types import TensorType
    from sklearn.compose import ColumnTransformer

    marker = "_onnxgate_selection"
    original, original_fetch = _parse.sklearn_parsers_map[ColumnTransformer], _parse._fetch_input_slice
    if getattr(original, marker, False):
        return

    def parse(scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None) -> Any:
        width = getattr(model, "n_features_in_", None)
        if len(inputs) == 1 and width is not None and isinstance(inputs[0].type, TensorType):
            shape = inputs[0].type.shape
            if len(shape) != 2 or shape[1] is None:
                inputs[0].set_type(inputs[0].type.__class__([shape[0] if shape else None, int(width)]))
        return original(scope, model, inputs, custom_parsers=custom_parsers)

    def fetch_input_slice(scope: Any, inputs: list[Any], column_indices: list[int]) -> list[Any]:
        if len(inputs) != 1:
            return original_fetch(scope, inputs, column_indices)
        shape = getattr(inputs[0].type, "shape", None)
        if shape is not None and len(shape) == 2 and list(column_indices) == list(range(shape[1] or -1)):
            return inputs  # the input's own columns, in order
        extractor = scope.declare_local_operator("SklearnArrayFeatureExtractor")
        extractor.inputs = inputs
        extractor.column_indices = column_indices
        extractor.outputs.append(scope.declare_local_variable("extracted_feature_columns", inputs[0].type))
        return list(extractor.outputs)

    setattr(parse, marker, True)
    _parse.sklearn_parsers_map[ColumnTransformer] = parse
    _parse._fetch_input_slice = fetch_input_slice


def patch_binary_stacking_decisions() -> None:
    """A StackingClassifier on two classes stacks each member's ``decision_function`` as one column (and
    ``predict_proba``'s second); skl2onnx took the raw scores as they came, two columns or one by member, so
    the final estimator met more features than it was fitted on: SVC, LinearSVC, RidgeClassifier or
    SGDClassifier members gave a file onnxruntime could not run (found by the stop's own review of
    meta-estimators). Written here as scikit-learn stacks them, for the members :func:`decision_written`
    knows; others keep skl2onnx's way.

    A member stacked by its ``predict`` (``stack_method="predict"``) is one column, its label: the position of
    its class, since the members are fitted on the encoded labels. skl2onnx stacked its probabilities there,
    on any number of classes, and onnxruntime could not run the file (helper-178: iris, raw skl2onnx too)."""
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters import stacking

    original = stacking._transform
    if getattr(original, "_onnxgate_binary", False):
        return

    from onnxgate.converters._sklearn_extra import GraphWriter

    def transform(scope: Any, operator: Any, container: Any, model: Any) -> Any:
        pairs = [(est, how) for est, how in zip(model.estimators_, model.stack_method_) if not isinstance(est, str)]
        binary = len(model.classes_) == 2
        by_label = any(how == "predict" for _, how in pairs)
        if not by_label and (not binary or all(how == "predict_proba" for _, how in pairs)
                             or any(how not in ("predict_proba", "decision_function") for _, how in pairs)
                             or any(how == "decision_function" and decision_written(_last_step(est)) is None
                                    for est, how in pairs)):
            return original(scope, operator, container, model)
        double = isinstance(operator.inputs[0].type, DoubleTensorType)
        w = GraphWriter(scope, container, np.float64 if double else np.float32)
        features = operator.inputs[0].onnx_name
        columns = []
        for est, how in pairs:
            if how == "predict":
                columns.append(_member_label_column(w, est, operator.inputs[0]))
            elif how == "decision_function" and (not binary or decision_written(_last_step(est)) is None):
                # skl2onnx's raw scores, as it stacks them (one column per class on more than two)
                columns.append(stacking._fetch_scores(scope, container, est, operator.inputs[0], raw_scores=True))
            elif how == "predict_proba" and not binary:
                columns.append(stacking._fetch_scores(scope, container, est, operator.inputs[0]))
            elif how == "decision_function":
                # a pipeline member: its steps before the last, then the last one's decision on their output
                inputs = [_steps_before_last(scope, est, operator.inputs[0])]
                columns.append(member_decision(w, inputs[0].onnx_name, inputs, _last_step(est)))
            else:  # the second class's probability
                scores = stacking._fetch_scores(scope, container, est, operator.inputs[0])
                columns.append(w.node("Gather", scores, w.const([1], np.int64), axis=1))
        if model.passthrough:
            columns.append(features)
        return w.node("Concat", *columns, axis=1)

    transform._onnxgate_binary = True  # type: ignore[attr-defined]
    stacking._transform = transform


def _member_label_column(w: Any, member: Any, source: Any) -> str:
    """A stacking member's ``predict`` as an ``[N, 1]`` column of ``w``'s float type: its label output, the
    position of its class (the members of a StackingClassifier are fitted on the encoded labels)."""
    import numpy as np
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common.data_types import Int64TensorType

    scope = w.scope
    this = scope.declare_local_operator(sklearn_operator_name_map[type(member)], member)
    this.inputs.append(source)
    label = scope.declare_local_variable("member_label", Int64TensorType())
    this.outputs.append(label)
    this.outputs.append(scope.declare_local_variable("member_scores", source.type.__class__()))
    column = w.node("Reshape", label.onnx_name, w.const([-1, 1], np.int64))
    return w.node("Cast", column, to=w.float_type)


def patch_bagging_votes() -> None:
    """A BaggingClassifier whose members have no ``predict_proba`` (SVC, LinearSVC, RidgeClassifier,
    SGDClassifier(hinge)) averages their votes: skl2onnx stacks the members' one-hot votes ``[members, N,
    classes]`` and summed them over axis 1, the rows, from opset 13: the file answered one row per member
    whatever the batch (4 rows for 178). Summed over the members here.

    In a double graph skl2onnx counted the votes in float32 and divided them by a float32 member count, under
    probabilities declared double: the file was ill-typed, and a float64 sample fell back to a float32 graph
    whole (probabilities 2.4e-8 off on wine for RidgeClassifier members). The votes are counted and divided in
    double there."""
    from onnx import TensorProto, helper
    from skl2onnx.common.data_types import DoubleTensorType

    original = _replaceable("SklearnBaggingClassifier", "_onnxgate_votes")
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        before = len(container.nodes)
        original(scope, operator, container)
        members = getattr(operator.raw_operator, "estimators_", ())
        if not members or hasattr(members[0], "predict_proba"):
            return
        added = container.nodes[before:]
        made = {out: node for node in added for out in node.output}
        double = isinstance(operator.inputs[0].type, DoubleTensorType)
        for node in added:
            sums = node.op_type == "ReduceSum"
            cast = made.get(node.input[0]) if sums else None
            equal = made.get(cast.input[0]) if cast is not None and cast.op_type == "Cast" else None
            if cast is None or equal is None or equal.op_type != "Equal":
                continue
            if len(node.input) == 2:
                axis = scope.get_unique_variable_name("members_axis")
                container.add_initializer(axis, TensorProto.INT64, [1], [0])
                node.input[1] = axis
            divides = [n for n in added if n.op_type == "Div" and n.input[0] == node.output[0]]
            if double and len(divides) == 1:
                del cast.attribute[:]
                cast.attribute.append(helper.make_attribute("to", TensorProto.DOUBLE))
                count = scope.get_unique_variable_name("members_count")
                container.add_initializer(count, TensorProto.DOUBLE, [], [float(len(members))])
                unread, divides[0].input[1] = divides[0].input[1], count
                _drop_unread_constants(container, [unread])

    _replace("SklearnBaggingClassifier", "_onnxgate_votes", original, convert)


def _member_labels(scope: Any, declared: set[str], chosen: Any = None) -> dict[str, str]:
    """Probabilities' name -> label output's name of each two-output operator declared since ``declared``
    (the members a meta-estimator's converter added), those ``chosen(member)`` keeps when given."""
    return {member.outputs[1].onnx_name: member.outputs[0].onnx_name
            for name, member in scope.operators.items()
            if name not in declared and len(member.outputs) == 2 and (chosen is None or chosen(member.raw_operator))}


def _argmax_over_members(added: list[Any], label_of: dict[str, str]) -> Iterator[tuple[Any, str]]:
    """Each ArgMax of ``added`` over a member's probabilities (through Casts and Identities; ``label_of`` from
    :func:`_member_labels`), with that member's label output."""
    from onnxgate._graph import traced_back

    made = {out: node for node in added for out in node.output}
    for node in added:
        source = traced_back(made, node.input[0], ("Cast", "Identity")) if node.op_type == "ArgMax" else None
        if source in label_of:
            yield node, label_of[source]


def _labels_for_argmax(scope: Any, container: Any, added: list[Any], label_of: dict[str, str]) -> None:
    """Each ArgMax of ``added`` over an estimator's probabilities (:func:`_argmax_over_members`) made that
    estimator's label, as a column."""
    from onnx import TensorProto

    column = None
    for node, label in list(_argmax_over_members(added, label_of)):
        if column is None:
            column = scope.get_unique_variable_name("label_column")
            container.add_initializer(column, TensorProto.INT64, [2], [-1, 1])
        node.op_type = "Reshape"
        node.input[:] = [label, column]
        del node.attribute[:]


def _labels_of_members(alias: str, marker: str, chosen: Any) -> None:
    """Register, in place of skl2onnx's converter for ``alias``, that converter with each ArgMax over the
    probabilities of a member ``chosen(model, member)`` picks made that member's label
    (:func:`_labels_for_argmax`)."""
    original = _replaceable(alias, marker)
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        before, declared = len(container.nodes), set(scope.operators)
        original(scope, operator, container)
        model = operator.raw_operator
        label_of = _member_labels(scope, declared, lambda member: chosen(model, member))
        _labels_for_argmax(scope, container, container.nodes[before:], label_of)

    _replace(alias, marker, original, convert)


def patch_hard_voting_labels() -> None:
    """A hard VotingClassifier counts its members' ``predict``; skl2onnx counted the argmax of their
    probabilities, which is another class where those are scores (a binary SVC() alone: every one of 569 rows
    wrong; RidgeClassifier 378, LinearSVC 361) or order otherwise than the label (SVC(probability=True): 26 of
    178 wine rows; SGDClassifier(modified_huber): 110; helper-113). Each member's vote is its label output (the
    position of its class: the members are fitted on the encoded labels)."""

    _labels_of_members("SklearnVotingClassifier", "_onnxgate_hard",
                       lambda model, member: getattr(model, "voting", "soft") == "hard")


def patch_adaboost_member_labels() -> None:
    """AdaBoostClassifier (SAMME, scikit-learn's one algorithm since 1.6) adds up its members' ``predict``,
    each one-hot and weighted; skl2onnx one-hot encoded the argmax of each member's probabilities, which
    orders otherwise than its label for ``SVC(probability=True)`` (Platt's probabilities: 106 of 178 wine
    labels wrong, probabilities 0.13 off). Each ArgMax reads the member's label output instead, as the
    one-hot of its position among the classes (an ``Equal`` with them): its ``predict``, whatever the
    class labels. Integer and text classes; others keep skl2onnx's converter.

    In a double graph its one-hot votes are double too (:func:`_samme_in_double`)."""
    original = _replaceable("SklearnAdaBoostClassifier", "_onnxgate_member_labels")
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        import numpy as np
        from onnx import TensorProto

        model = operator.raw_operator
        classes = np.asarray(getattr(model, "classes_", ()))
        before, declared = len(container.nodes), set(scope.operators)
        original(scope, operator, container)
        _samme_in_double(scope, operator, container, container.nodes[before:])
        text = classes.dtype.kind in "OUS"
        if (classes.dtype.kind not in "iuOUS" or getattr(model, "algorithm", "SAMME") != "SAMME"
                or (text and container.target_opset_any_domain("ai.onnx.ml") < 2)):
            return
        row = None
        for node, member_label in list(_argmax_over_members(container.nodes[before:],
                                                            _member_labels(scope, declared))):
            if row is None:
                row = scope.get_unique_variable_name("classes_row")
                # a text label is first mapped to its position (Equal takes text only from opset 19)
                values = np.arange(len(classes)) if text else classes.astype(np.int64)
                container.add_initializer(row, TensorProto.INT64, [1, len(classes)], values)
                column = scope.get_unique_variable_name("label_column")
                container.add_initializer(column, TensorProto.INT64, [2], [-1, 1])
            found = member_label
            if text:
                found = scope.get_unique_variable_name("member_label_position")
                container.add_node("LabelEncoder", [member_label], found, op_domain="ai.onnx.ml", op_version=2,
                                   name=scope.get_unique_operator_name("LabelEncoder"),
                                   keys_strings=[str(c) for c in classes], values_int64s=list(range(len(classes))),
                                   default_int64=-1)
            label = scope.get_unique_variable_name("member_label")
            container.add_node("Reshape", [found, column], label, name=scope.get_unique_operator_name("Reshape"))
            hit = scope.get_unique_variable_name("member_label_hit")
            container.add_node("Equal", [label, row], hit, name=scope.get_unique_operator_name("Equal"))
            one_hot = scope.get_unique_variable_name("member_label_one_hot")
            container.add_node("Cast", [hit], one_hot, name=scope.get_unique_operator_name("Cast"),
                               to=TensorProto.FLOAT)
            node.input[0] = one_hot  # the ArgMax now picks the member's label's position

    _replace("SklearnAdaBoostClassifier", "_onnxgate_member_labels", original, convert)


def _samme_in_double(scope: Any, operator: Any, container: Any, added: list[Any]) -> None:
    """AdaBoostClassifier (SAMME) in a double graph: skl2onnx 1.20 wrote each member's vote, ``Where(its class,
    1, -1 / (classes - 1)) * its weight``, with a float32 ``1`` (a ConstantOfShape) beside the double
    ``-1 / (classes - 1)``, and float32 weights: the file was ill-typed, so a float64 sample fell back to a
    float32 graph whole (float64 rows cast to float32 before the members, probabilities float32: 7.4e-8 off
    ``predict_proba`` on breast_cancer of LogisticRegression members) and ``precision="float64"`` was refused.
    The ``1`` and the ``0`` beside it are written double, and each weight is the member's float64
    ``estimator_weights_``, in the members' order (skl2onnx writes one vote after the other)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx.common.data_types import DoubleTensorType

    model = operator.raw_operator
    if not isinstance(operator.inputs[0].type, DoubleTensorType) or getattr(model, "algorithm", "SAMME") != "SAMME":
        return
    for node in added:
        if node.op_type != "ConstantOfShape":
            continue
        for attribute in node.attribute:
            if attribute.name == "value" and attribute.t.data_type == TensorProto.FLOAT:
                value = numpy_helper.to_array(attribute.t).astype(np.float64)
                attribute.t.CopyFrom(helper.make_tensor("value", TensorProto.DOUBLE, value.shape, value.tolist()))
    votes = {n.output[0] for n in added if n.op_type == "Where"}
    weighting = [n for n in added if n.op_type == "Mul" and n.input[0] in votes]
    fitted = model.estimator_weights_[:len(model.estimators_)]  # the rest 0: boosting stopped early
    if len(weighting) != len(fitted):
        return
    gone = []
    for node, weight in zip(weighting, fitted):
        # a weight of its own: skl2onnx shares a constant between equal float32 weights (an Identity of the first)
        gone.append(node.input[1])
        name = scope.get_unique_variable_name("member_weight")
        container.add_initializer(name, TensorProto.DOUBLE, [], [float(weight)])
        node.input[1] = name
    _drop_unread_constants(container, gone)


def _drop_unread_constants(container: Any, names: list[str]) -> None:
    """Remove the constants ``names`` from skl2onnx's ``container`` where no node reads them any more, and the
    Identity nodes skl2onnx wrote for a constant equal to an earlier one (and that one, unread then too)."""
    gone = list(names)
    while gone:
        name = gone.pop()
        if any(name in n.input for n in container.nodes):
            continue
        for identity in [n for n in container.nodes if n.op_type == "Identity" and list(n.output) == [name]]:
            container.nodes.remove(identity)
            gone.append(identity.input[0])
        container.initializers[:] = [c for c in container.initializers if c.name != name]
        cache = getattr(container, "initializers_strings", {})  # skl2onnx's: a later equal constant reuses it
        for content in [k for k, v in cache.items() if v == name]:
            del cache[content]


def patch_multi_output_member_options() -> None:
    """skl2onnx's MultiOutputClassifier converter passes ``zipmap=False`` to every member's converter, and a
    member whose converter has no such option failed the whole conversion (``LinearSVC``: "Option 'zipmap'
    not in ['nocl', 'output_class_labels', 'raw_scores']"; raw skl2onnx too). Each member now gets only the
    options its converter takes. Applied once, to that converter module's name for the member builder."""
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.operator_converters import multioutput

    if getattr(multioutput.OnnxSubEstimator, "_onnxgate_options", False):
        return

    def member(sub: Any, *args: Any, options: Any = None, **kwargs: Any) -> Any:
        allowed = allowed_options(sub)
        taken = {k: v for k, v in (options or {}).items() if k in allowed}
        return OnnxSubEstimator(sub, *args, options=taken or None, **kwargs)

    member._onnxgate_options = True  # type: ignore[attr-defined]
    multioutput.OnnxSubEstimator = member


def patch_stacking_final_labels() -> None:
    """A StackingClassifier labels a row by its final estimator's ``predict``; skl2onnx took the argmax of that
    estimator's probabilities, which are scores without ``predict_proba`` (final SVC() on two classes: every
    one of 569 rows wrong; RidgeClassifier 363) and order otherwise than its votes with Platt's probabilities
    (a final SVC(probability=True) passed validate while 2 of 2,845 perturbed breast_cancer rows were wrong;
    helper-113). The label is the final estimator's own label output (the position of the class: it is
    fitted on the encoded labels)."""

    _labels_of_members("SklearnStackingClassifier", "_onnxgate_final_label",
                       lambda model, member: member is getattr(model, "final_estimator_", None))


def register_one_vs_rest_decisions() -> None:
    """OneVsRestClassifier over classifiers with ``decision_function``: scikit-learn labels a row by its
    members' decision scores (the largest, the first one on a tie; two classes: the score above 0), skl2onnx
    by their probabilities. Saturated sigmoids tie at 1 and the first class won (SGDClassifier(log_loss) on
    unscaled digits: 184 of 1,797 labels; modified_huber 122), Platt's probabilities order otherwise than
    the scores (SVC(probability=True): 48 of 178 wine labels), and a member without probabilities had its
    scores read as one (SVC(): every label wrong; RidgeClassifier: a file onnxruntime could not run).
    Written here for linear members (``X @ coef_.T + intercept_``) and support vector members (their
    scores from skl2onnx's converter): the label from the scores; the probabilities from the scores for
    logistic and modified Huber members (skl2onnx's were 0 where scikit-learn's ``expit`` gives 1e-94: 185 of
    1,797 digits rows off by 1), skl2onnx's for others, and without ``predict_proba`` the scores, as
    ``decision_function`` gives them. Several labels per row: each where its member's score is above 0
    (``SVC()`` members had their scores held to 0.5, every row wrong; RidgeClassifier's file could not run).
    Members without ``decision_function`` (scikit-learn then labels by their probabilities too) and other
    members keep skl2onnx's converter."""
    from types import SimpleNamespace

    import numpy as np
    import onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType

    from onnxgate.converters._sklearn_extra import GraphWriter, input_matrix, label_constant

    original = _replaceable("SklearnOneVsRestClassifier", "_onnxgate_decisions")
    if original is None:
        return

    def logistic(member: Any) -> str | None:
        """How a linear member's ``predict_proba`` follows from its score: "expit", "huber" or None."""
        name, loss = type(member).__name__, getattr(member, "loss", None)
        if name == "LogisticRegression" or (name == "SGDClassifier" and loss == "log_loss"):
            return "expit"
        return "huber" if name == "SGDClassifier" and loss == "modified_huber" else None

    def convert(scope: Any, operator: Any, container: Any) -> None:
        model = operator.raw_operator
        members = list(getattr(model, "estimators_", ()))
        classes = np.asarray(model.classes_)
        kinds = [decision_written(_last_step(m)) for m in members]
        piped = any(_last_step(m) is not m for m in members)
        if (not members or None in kinds or classes.dtype.kind not in "iubOUS"
                or (model.multilabel_ and len(members) < 2) or (piped and len(operator.inputs) != 1)
                or not all(hasattr(m, "decision_function") for m in members)):
            original(scope, operator, container)
            return
        double = isinstance(operator.outputs[1].type, DoubleTensorType)
        w = GraphWriter(scope, container, np.float64 if double else np.float32)
        features = input_matrix(scope, operator, container)
        if not isinstance(operator.inputs[0].type, DoubleTensorType if double else FloatTensorType):
            features = w.node("Cast", features, to=w.float_type)
        def decision(member: Any) -> str:
            last = _last_step(member)
            if last is member:
                return member_decision(w, features, operator.inputs, member)
            # a pipeline member (skl2onnx's own way failed in onnxruntime): its steps, then its last's decision
            out = _steps_before_last(scope, member, operator.inputs[0])
            steps = out.onnx_name
            if not isinstance(out.type, DoubleTensorType if double else FloatTensorType):
                steps = w.node("Cast", steps, to=w.float_type)
            return member_decision(w, steps, [out], last)

        scores = [decision(member) for member in members]
        stacked = w.node("Concat", *scores, axis=1) if len(scores) > 1 else scores[0]
        shapes = {logistic(_last_step(m)) for m in members}

        def log_expit() -> str:
            # log(expit(d)) = min(d, 0) - log(1 + exp(-|d|)): onnxruntime's Sigmoid is 1e-3 off at -30 and
            # 0 from -216, where scikit-learn's expit gives 2.6e-94 and the row's division then 1
            tail = w.node("Log", w.node("Add", w.const(1.0), w.node("Exp", w.node("Neg", w.node("Abs", stacked)))))
            return str(w.node("Sub", w.node("Min", stacked, w.const(0.0)), tail))

        def huber() -> str:  # modified_huber: (clip(d, -1, 1) + 1) / 2
            clipped = w.node("Clip", stacked, w.const(-1.0), w.const(1.0))
            return str(w.node("Div", w.node("Add", clipped, w.const(1.0)), w.const(2.0)))

        if model.multilabel_:  # each label where its member's score is above 0; its own probability, unnormalised
            w.node("Cast", w.node("Greater", stacked, w.const(0.0)), to=onnx.TensorProto.INT64,
                   out=operator.outputs[0].full_name)
            if shapes == {"expit"}:
                w.node("Exp", log_expit(), out=operator.outputs[1].full_name)
            elif shapes == {"huber"}:
                w.node("Identity", huber(), out=operator.outputs[1].full_name)
            elif hasattr(model, "predict_proba"):
                labels = scope.declare_local_variable("ovr_labels_of_probabilities", Int64TensorType())
                original(scope, SimpleNamespace(raw_operator=model, inputs=operator.inputs,
                                                outputs=[labels, operator.outputs[1]]), container)
            else:
                w.node("Identity", stacked, out=operator.outputs[1].full_name)
            return
        if len(members) == 1:  # two classes: the second where the score is above 0
            above = w.node("Cast", w.node("Greater", stacked, w.const(0.0)), to=onnx.TensorProto.INT64)
            index = w.node("Reshape", above, w.const([-1], np.int64))
        else:
            index = w.node("ArgMax", stacked, axis=1, keepdims=0)  # the first of equal scores, as scikit-learn
        if len(shapes) == 1 and None not in shapes:  # each probability from its score, as scikit-learn
            out = operator.outputs[1].full_name
            if shapes == {"expit"}:
                logs = log_expit()
                if len(members) == 1:
                    ones = w.node("Exp", logs)
                    w.node("Concat", w.node("Sub", w.const(1.0), ones), ones, axis=1, out=out)
                else:  # expit(d_i) / sum_j expit(d_j), in logs; a row whose every expit underflows a double
                    # (d < -745.13) scikit-learn leaves at 0 (wine, unscaled: 16 of 178 rows)
                    alive = w.node("Cast", w.node("Less", w.const(-745.1332191019412), logs), to=w.float_type)
                    zero = w.node("Equal", w.node("ReduceSum", alive, w.const([1], np.int64), keepdims=1),
                                  w.const(0.0))
                    w.node("Where", zero, w.const(0.0), w.node("Softmax", logs, axis=1), out=out)
            else:  # modified_huber, a row of zeros left as it is
                ones = huber()
                if len(members) == 1:
                    w.node("Concat", w.node("Sub", w.const(1.0), ones), ones, axis=1, out=out)
                else:
                    total = w.node("ReduceSum", ones, w.const([1], np.int64), keepdims=1)
                    zero = w.node("Equal", total, w.const(0.0))
                    w.node("Div", ones, w.node("Where", zero, w.const(1.0), total), out=out)
        elif hasattr(model, "predict_proba"):
            probabilities = scope.declare_local_variable("ovr_label_of_probabilities", Int64TensorType())
            original(scope, SimpleNamespace(raw_operator=model, inputs=operator.inputs,
                                            outputs=[probabilities, operator.outputs[1]]), container)
        elif len(members) == 1:
            w.node("Concat", w.node("Neg", stacked), stacked, axis=1, out=operator.outputs[1].full_name)
        else:
            w.node("Identity", stacked, out=operator.outputs[1].full_name)
        w.node("Gather", label_constant(w, classes), index, out=operator.outputs[0].full_name, axis=0)

    _replace("SklearnOneVsRestClassifier", "_onnxgate_decisions", original, convert)


def _solve_as_product() -> None:
    """skl2onnx's GaussianProcessClassifier solves ``L v = W K*`` with ``com.microsoft.Solve``, an
    operator onnxruntime does not register: every such file failed to load ("Solve(-1) is not a
    registered function/op"). ``L`` is a constant of the fitted model (its Cholesky factor), so
    ``v = L^-1 (W K*)`` is written as a MatMul by its inverse, computed here by triangular solve."""
    import numpy as np
    from scipy.linalg import solve_triangular
    from skl2onnx.algebra.onnx_ops import OnnxMatMul
    from skl2onnx.operator_converters import gaussian_process

    original = gaussian_process.OnnxSolve
    if getattr(original, "_onnxgate_product", False):
        return

    def solve(A: Any, B: Any, *args: Any, op_version: Any = None, **kwargs: Any) -> Any:
        if not isinstance(A, np.ndarray) or args or kwargs:
            return original(A, B, *args, op_version=op_version, **kwargs)
        inverse = solve_triangular(A.astype(np.float64), np.eye(len(A)), lower=True)
        return OnnxMatMul(inverse.astype(A.dtype), B, op_version=op_version)

    solve._onnxgate_product = True  # type: ignore[attr-defined]
    gaussian_process.OnnxSolve = solve


def register_target_encoder() -> None:
    """skl2onnx's TargetEncoder, for a multiclass target too (it refused one: "only support TargetEncoder
    for binary classification or 1d regression").

    scikit-learn encodes each feature once per class (``encodings_[feature * n_classes + class]``), the
    columns feature by feature. skl2onnx's own converter writes each class's encoding, as for a binary
    target (that class's encodings, an unknown category its ``target_mean_``), into a ``[N, features]``
    block; the blocks are stacked and laid out as scikit-learn's columns.
    """
    import copy
    from types import SimpleNamespace

    import numpy as np
    from skl2onnx.common._registration import _shape_calculator_pool
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    original = _replaceable("SklearnTargetEncoder", "_onnxgate_multiclass")
    if original is None:
        return
    original_shape = _shape_calculator_pool["SklearnTargetEncoder"]

    def shape(operator: Any) -> None:
        encoder = operator.raw_operator
        if encoder.target_type_ != "multiclass":
            original_shape(operator)
        else:
            width = len(encoder.categories_) * len(encoder.classes_)
            operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])
        if GRAPH_FLOAT64.get():
            operator.outputs[0].type = DoubleTensorType(operator.outputs[0].type.shape)

    def convert(scope: Any, operator: Any, container: Any) -> None:
        encoder = operator.raw_operator
        if isinstance(operator.outputs[0].type, DoubleTensorType):
            _double_target_encodings(scope, operator, container)
            return
        if encoder.target_type_ != "multiclass":
            original(scope, operator, container)
            return
        classes, features = len(encoder.classes_), len(encoder.categories_)
        blocks = []
        for c in range(classes):
            one = copy.copy(encoder)
            one.target_type_ = "binary"
            one.encodings_ = [encoder.encodings_[j * classes + c] for j in range(features)]
            one.target_mean_ = float(encoder.target_mean_[c])
            block = scope.get_unique_variable_name(f"class{c}_encoding")
            original(scope, SimpleNamespace(raw_operator=one, inputs=operator.inputs, output_full_names=[block]),
                     container)
            blocks.append(block)
        shape_name = scope.get_unique_variable_name("class_rows")
        container.add_initializer(shape_name, 7, [3], [-1, 1, features])  # 7: INT64
        rows = []
        for block in blocks:  # [N, features] -> [N, 1, features]
            rows.append(scope.get_unique_variable_name("class_block"))
            container.add_node("Reshape", [block, shape_name], rows[-1], name=scope.get_unique_operator_name("Reshape"))
        stacked = scope.get_unique_variable_name("classes_stacked")
        container.add_node("Concat", rows, stacked, axis=1, name=scope.get_unique_operator_name("Concat"))
        by_feature = scope.get_unique_variable_name("features_first")  # [N, features, classes]
        container.add_node("Transpose", [stacked], by_feature, perm=[0, 2, 1],
                           name=scope.get_unique_operator_name("Transpose"))
        flat = scope.get_unique_variable_name("flat_shape")
        container.add_initializer(flat, 7, [2], np.asarray([-1, features * classes]).tolist())
        container.add_node("Reshape", [by_feature, flat], operator.outputs[0].full_name,
                           name=scope.get_unique_operator_name("Reshape"))

    _replace("SklearnTargetEncoder", "_onnxgate_multiclass", original, convert, shape)


def _double_target_encodings(scope: Any, operator: Any, container: Any) -> None:
    """A TargetEncoder's encodings in a float64 graph, in double as scikit-learn's: skl2onnx writes them as a
    ``LabelEncoder``'s float values (ai.onnx.ml's ``values_doubles`` is opset 4, beyond older runtimes), so a Ridge
    after it was 9.2e-7 off and failed validate. Here each column's ``LabelEncoder`` (opset 2) gives a category's
    position (an unknown category one past the last), which picks its row of a double table: the encodings,
    then ``target_mean_`` (per class for a multiclass target, the columns feature by feature as scikit-learn's)."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    encoder = operator.raw_operator
    classes = len(encoder.classes_) if encoder.target_type_ == "multiclass" else 1
    name = scope.get_unique_variable_name
    # (input, its column, its width) of each feature; an input of unknown width holds the rest
    columns: list[tuple[Any, int, Any]] = []
    for v in operator.inputs:
        width = v.get_second_dimension()
        columns.extend((v, j, width) for j in range(len(encoder.categories_) if width is None else width))
    encoded = []
    for f, categories in enumerate(encoder.categories_):
        variable, j, width = columns[f]
        column, kind = variable.onnx_name, variable.type
        if width != 1:
            picked = name("feature_column")
            index = name("index")
            container.add_initializer(index, TensorProto.INT64, [], [j])
            container.add_node("ArrayFeatureExtractor", [column, index], picked, op_domain="ai.onnx.ml",
                               name=scope.get_unique_operator_name("ArrayFeatureExtractor"))
            column = picked
        if isinstance(kind, FloatTensorType):
            keys: dict[str, Any] = {"keys_floats": [float(c) for c in categories]}
        elif isinstance(kind, Int64TensorType):
            keys = {"keys_int64s": [int(c) for c in categories]}
        else:
            keys = {"keys_strings": [str(c) for c in categories]}
        position = name("category_position")
        container.add_node("LabelEncoder", [column], position, op_domain="ai.onnx.ml", op_version=2,
                           values_int64s=list(range(len(categories))), default_int64=len(categories),
                           name=scope.get_unique_operator_name("LabelEncoder"), **keys)
        rows = name("category_rows")
        flat = name("flat")
        container.add_initializer(flat, TensorProto.INT64, [1], [-1])
        container.add_node("Reshape", [position, flat], rows, name=scope.get_unique_operator_name("Reshape"))
        encodings = np.stack([np.asarray(encoder.encodings_[f * classes + c], dtype=np.float64)
                              for c in range(classes)], axis=1)
        table = np.vstack([encodings, np.reshape(np.asarray(encoder.target_mean_, dtype=np.float64), (1, classes))])
        values = name("encodings")
        container.add_initializer(values, TensorProto.DOUBLE, list(table.shape), table.ravel().tolist())
        encoded.append(name("encoded"))
        container.add_node("Gather", [values, rows], encoded[-1], axis=0, name=scope.get_unique_operator_name("Gather"))
    container.add_node("Concat", encoded, operator.outputs[0].full_name, axis=1,
                       name=scope.get_unique_operator_name("Concat"))


def register_one_hot_encoder() -> None:
    """skl2onnx's OneHotEncoder, scoring an unknown value as scikit-learn does where it can.

    skl2onnx writes ``zeros=1`` (an unknown value encodes as zeros) only for ``handle_unknown="ignore"``;
    for any other setting onnxruntime fails on the row ("Unknown Category and zeros = 0"). scikit-learn
    also encodes an unknown value as zeros for ``"warn"``, and for ``"infrequent_if_exist"`` when no
    category was infrequent: those are converted as ``"ignore"``.

    Float categories, which skl2onnx refuses ("Category 4.3 is not an int64"), are written here
    (:func:`_float_one_hot`), and so is an encoder with infrequent categories (``min_frequency``,
    ``max_categories``; :func:`_infrequent_one_hot`), which skl2onnx refused on one input ("Infrequent
    categories are not implemented") or with ``drop``, and whose unknown values it failed on where
    scikit-learn puts them in the infrequent column (``"infrequent_if_exist"``, ``"warn"``).
    """
    import copy

    import numpy as np
    from skl2onnx.common._registration import _shape_calculator_pool
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    original = _replaceable("SklearnOneHotEncoder", "_onnxgate_unknown")
    if original is None:
        return
    original_shape = _shape_calculator_pool["SklearnOneHotEncoder"]

    def shape(operator: Any) -> None:
        encoder = operator.raw_operator
        if not getattr(encoder, "_infrequent_enabled", False):
            original_shape(operator)
            return
        # skl2onnx counted every category: the infrequent ones share one column
        width = sum(_one_hot_widths(encoder))
        kind = Int64TensorType if np.issubdtype(encoder.dtype, np.signedinteger) else FloatTensorType
        operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), width])

    def convert_one_hot_encoder(scope: Any, operator: Any, container: Any) -> None:
        encoder = operator.raw_operator
        if getattr(encoder, "_infrequent_enabled", False):
            _infrequent_one_hot(scope, operator, container)
            return
        if (all(np.asarray(c).dtype.kind == "f" for c in encoder.categories_) and not _infrequent(encoder)
                and container.target_opset >= 11):
            _float_one_hot(scope, operator, container)
            return
        if _unknown_as_zeros(encoder) and encoder.handle_unknown != "ignore":
            operator.raw_operator = copy.copy(encoder)
            operator.raw_operator.handle_unknown = "ignore"
            try:
                original(scope, operator, container)
            finally:
                operator.raw_operator = encoder
            return
        original(scope, operator, container)

    _replace("SklearnOneHotEncoder", "_onnxgate_unknown", original, convert_one_hot_encoder, shape)


def _infrequent_one_hot(scope: Any, operator: Any, container: Any) -> None:
    """A OneHotEncoder with infrequent categories enabled: each column's categories matched (``ai.onnx.ml``
    ``OneHotEncoder`` over text or integers, ``Equal``/``IsNaN`` over floats), with one more column for a
    value that is none of them, times the rows the encoder's own ``transform`` gives each category and an
    unseen value (:func:`_one_hot_rows`): a frequent category its column, an infrequent one the infrequent
    column, the dropped category zeros, an unseen value zeros or the infrequent column as ``handle_unknown``
    says. With ``handle_unknown="error"``, where scikit-learn raises, onnxruntime fails on an unseen text or
    integer ("Unknown Category", as skl2onnx's converter does) and an unseen float encodes as zeros
    (:func:`_float_one_hot`)."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    from onnxgate.converters._sklearn_extra import GraphWriter

    encoder = operator.raw_operator
    w = GraphWriter(scope, container, np.float32)
    fail = 0 if encoder.handle_unknown == "error" else 1
    blocks = []
    for j, variable, value in _encoded_columns(w, operator):
        categories = encoder.categories_[j]
        known, unseen = _one_hot_rows(encoder, j)
        if not known.shape[1]:
            continue  # a column of one dropped category
        count = len(categories)
        if isinstance(variable.type, (FloatTensorType, DoubleTensorType)):
            number = w.node("Cast", value, to=TensorProto.DOUBLE)
            values = np.asarray(categories, dtype=np.float64)
            hits = w.node("Cast", w.node("Equal", number, w.const(values[None, :], np.float64)),
                          to=TensorProto.FLOAT)
            if np.isnan(values).any():
                hits = w.node("Add", hits, w.node("Mul", w.node("Cast", w.node("IsNaN", number),
                                                                to=TensorProto.FLOAT),
                                                  w.const(np.isnan(values)[None, :])))
        else:
            keys: dict[str, Any]
            if isinstance(variable.type, StringTensorType):
                keys = {"cats_strings": [str(c) for c in categories]}
            else:
                keys = {"cats_int64s": [int(c) for c in categories]}
                value = w.node("Cast", value, to=TensorProto.INT64)
            hits = w.node("Reshape", w.node("OneHotEncoder", value, op_domain="ai.onnx.ml", zeros=fail, **keys),
                          w.const([-1, count], np.int64))
        seen = w.node("MatMul", hits, w.const(np.ones((count, 1))))
        hits = w.node("Concat", hits, w.node("Sub", w.const([[1.0]]), seen), axis=1)
        blocks.append(w.node("MatMul", hits, w.const(np.vstack([known, unseen[None, :]]))))
    joined = w.node("Concat", *blocks, axis=1) if len(blocks) > 1 else blocks[0]
    declared = operator.outputs[0].type.to_onnx_type().tensor_type.elem_type
    w.node("Cast", joined, out=operator.outputs[0].full_name, to=declared)


def _one_hot_widths(encoder: Any) -> list[int]:
    """How many columns a fitted OneHotEncoder writes for each of its features (the infrequent categories
    in one column, the dropped one left out)."""
    return [len(encoder._compute_transformed_categories(j)) for j in range(len(encoder.categories_))]


def _one_hot_rows(encoder: Any, j: int) -> tuple[Any, Any]:
    """Feature ``j``'s columns as a fitted OneHotEncoder's own ``transform`` gives them, float32: a row per
    category of ``categories_[j]``, and the row for a value it did not see (zeros for
    ``handle_unknown="error"``, where scikit-learn raises); the other features hold their first category."""
    import warnings

    import numpy as np

    from onnxgate.signature import text_outside

    categories = encoder.categories_[j]
    numbers = [float(c) for c in categories
               if isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, (bool, np.bool_))]
    if len(numbers) == len(categories) and np.isfinite(numbers).any():
        unseen: Any = np.nanmax(numbers) + 1
        unseen = int(unseen) if np.asarray(categories).dtype.kind in "iu" else unseen
    else:
        unseen = text_outside(categories, "onnxgate-unseen-value")
    values = [*categories, unseen]
    rows = np.empty((len(values), len(encoder.categories_)), dtype=object)
    for k, known in enumerate(encoder.categories_):
        rows[:, k] = values if k == j else known[0]
    frame: Any = rows
    names = getattr(encoder, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(names))
    widths = _one_hot_widths(encoder)
    start = sum(widths[:j])

    def transform(part: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = encoder.transform(part)
        out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
        return np.asarray(out, dtype=np.float32)[:, start:start + widths[j]]

    known_rows = transform(frame[:-1])
    if encoder.handle_unknown == "error":
        return known_rows, np.zeros(widths[j], dtype=np.float32)
    return known_rows, transform(frame[-1:])[0]


def _float_one_hot(scope: Any, operator: Any, container: Any) -> None:
    """A OneHotEncoder fitted on float categories: each feature compared with its categories (``Equal``
    against a ``[1, k]`` constant; ``IsNaN`` for a NaN category), the dropped category's column left out,
    the features' blocks side by side, as float32 (skl2onnx's declared type). A value equal to no category
    encodes as zeros, as ``handle_unknown="ignore"`` does (with ``"error"`` scikit-learn raises instead)."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.converters._sklearn_extra import GraphWriter

    encoder = operator.raw_operator
    double = any(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
    w = GraphWriter(scope, container, np.float64 if double else np.float32)
    columns = [w.node("Cast", v.full_name, to=w.float_type) for v in operator.inputs]
    features = columns[0] if len(columns) == 1 else w.node("Concat", *columns, axis=1)
    drops = getattr(encoder, "drop_idx_", None)
    blocks = []
    for j, categories in enumerate(encoder.categories_):
        values = np.asarray(categories, dtype=np.float64)
        value = w.node("Gather", features, w.const([j], np.int64), axis=1)
        hits = w.node("Cast", w.node("Equal", value, w.const(values[None, :])), to=TensorProto.FLOAT)
        if np.isnan(values).any():
            nan_at = np.isnan(values)[None, :]  # the NaN category's column, where NaN
            nan_hit = w.node("Mul", w.node("Cast", w.node("IsNaN", value), to=TensorProto.FLOAT),
                             w.const(nan_at, np.float32))
            hits = w.node("Add", hits, nan_hit)
        drop = None if drops is None else drops[j]
        if drop is not None:
            kept = [i for i in range(len(values)) if i != int(drop)]
            hits = w.node("Gather", hits, w.const(kept, np.int64), axis=1)
        blocks.append(hits)
    joined = w.node("Concat", *blocks, axis=1) if len(blocks) > 1 else blocks[0]
    declared = operator.outputs[0].type.to_onnx_type().tensor_type.elem_type  # int64 for dtype=int
    w.node("Cast", joined, out=operator.outputs[0].full_name, to=declared)


def register_ordinal_encoder() -> None:
    """skl2onnx's OrdinalEncoder casts a double column to float32 before its ``LabelEncoder`` (whose keys
    are float32): a value one float64 step from a category took that category's code, where scikit-learn
    finds it unknown (0.1 + 0.2 beside the category 0.3: 199 of 200 labels of a categorical
    HistGradientBoosting model off, validate passed; helper-126), and categories that differ beyond float32's
    precision (ids 100000001..100000004) shared one code. A double input with number categories is compared
    in double here (:func:`_double_ordinal`), and text columns whose NaN category is written as a text
    (:func:`_text_ordinal`); anything else goes to skl2onnx's converter."""
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType, StringTensorType

    original = _replaceable("SklearnOrdinalEncoder", "_onnxgate_double")
    if original is None:
        return

    def convert_ordinal_encoder(scope: Any, operator: Any, container: Any) -> None:
        encoder = operator.raw_operator
        if (all(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
                and all(np.asarray(c).dtype.kind in "iuf" for c in encoder.categories_)
                and not _infrequent(encoder) and container.target_opset >= 11):
            _double_ordinal(scope, operator, container)
            return
        missing = getattr(encoder, "_missing_indices", None) or {}
        # text columns beside integer ones (a city and a code: one input each) take the same path
        if (all(isinstance(v.type, (StringTensorType, Int64TensorType)) for v in operator.inputs)
                and any(isinstance(v.type, StringTensorType) for v in operator.inputs)
                and (any(isinstance(encoder.categories_[i][j], str) for i, j in missing.items())
                     # a learnt None or NaN written as a text beside infrequent categories: skl2onnx's codes
                     # missed them (the model was refused: "learnt missing values of text column")
                     or (getattr(encoder, "_onnxgate_missing_text", False) and _infrequent(encoder)))) or (
                # an object column of booleans whose NaN category is written as -1 (fed as int64): skl2onnx
                # gave it its position, 2, where scikit-learn encodes encoded_missing_value (NaN)
                all(isinstance(v.type, Int64TensorType) for v in operator.inputs)
                and (missing or (getattr(encoder, "_onnxgate_missing_text", False) and _infrequent(encoder)))
                and all(np.asarray(c).dtype.kind in "iu" for c in encoder.categories_)):
            _text_ordinal(scope, operator, container)
            return
        original(scope, operator, container)

    _replace("SklearnOrdinalEncoder", "_onnxgate_double", original, convert_ordinal_encoder)


def _double_ordinal(scope: Any, operator: Any, container: Any) -> None:
    """An OrdinalEncoder over double columns with number categories: each value compared with its
    categories in double (``Equal`` against a ``[1, k]`` constant), the matching one's position its code,
    a value equal to none ``unknown_value`` (-1 for ``handle_unknown="error"``, where scikit-learn raises),
    a NaN ``encoded_missing_value`` where NaN was a category; cast to the declared output type."""
    import numpy as np

    from onnxgate.converters._sklearn_extra import GraphWriter, joined_inputs

    encoder = operator.raw_operator
    w = GraphWriter(scope, container, np.float64)
    features = joined_inputs(scope, operator, container)
    unknown = encoder.unknown_value if encoder.handle_unknown == "use_encoded_value" else -1
    columns = []
    for j, categories in enumerate(encoder.categories_):
        values = np.asarray(categories, dtype=np.float64)
        known = values[~np.isnan(values)]
        value = w.node("Gather", features, w.const([j], np.int64), axis=1)
        hits = w.node("Cast", w.node("Equal", value, w.const(known[None, :])), to=w.float_type)
        code = matched_position(w, hits, len(known), w.const(float(unknown)))
        if np.isnan(values).any():  # scikit-learn's NaN category (always last) encodes as encoded_missing_value
            code = w.node("Where", w.node("IsNaN", value), w.const(float(encoder.encoded_missing_value)), code)
        columns.append(code)
    joined = w.node("Concat", *columns, axis=1) if len(columns) > 1 else columns[0]
    declared = operator.outputs[0].type.to_onnx_type().tensor_type.elem_type
    w.node("Cast", joined, out=operator.outputs[0].full_name, to=declared)


def _text_ordinal(scope: Any, operator: Any, container: Any) -> None:
    """An OrdinalEncoder over text columns whose NaN category is written as a text no data holds, or over
    object columns of booleans fed as int64, whose NaN category is written as -1
    (:func:`~onnxgate.converters._sklearn_models.encoded_missing_categories`; scikit-learn's
    ``_missing_indices`` still point at it): a ``LabelEncoder`` per column maps each category to its position,
    that text to ``encoded_missing_value`` and any other text to ``unknown_value`` (-1 for
    ``handle_unknown="error"``, where scikit-learn raises), as floats: the default ``encoded_missing_value``
    is NaN, which skl2onnx's int64 codes cannot hold (it gave the missing category its position)."""
    import numpy as np

    from onnxgate.converters._sklearn_extra import GraphWriter

    encoder = operator.raw_operator
    w = GraphWriter(scope, container, np.float32)
    unknown = encoder.unknown_value if encoder.handle_unknown == "use_encoded_value" else -1
    codes = []
    for j, _variable, text in _encoded_columns(w, operator):
        categories = encoder.categories_[j]
        values = np.arange(len(categories), dtype=np.float32)
        if j in encoder._missing_indices:
            values[encoder._missing_indices[j]] = encoder.encoded_missing_value
        if _infrequent(encoder):
            values = _ordinal_codes(encoder, j)  # the infrequent categories share one code
        keys = ({"keys_int64s": [int(c) for c in categories]} if np.asarray(categories).dtype.kind in "iu"
                else {"keys_strings": [str(c) for c in categories]})
        codes.append(w.node("LabelEncoder", text, op_domain="ai.onnx.ml", op_version=2, **keys,
                            values_floats=values.tolist(), default_float=float(unknown)))
    joined = w.node("Concat", *codes, axis=1) if len(codes) > 1 else codes[0]
    declared = operator.outputs[0].type.to_onnx_type().tensor_type.elem_type
    w.node("Cast", joined, out=operator.outputs[0].full_name, to=declared)


def _encoded_columns(w: Any, operator: Any) -> Iterator[tuple[int, Any, str]]:
    """``(j, its input, its values [N,1])`` for each column ``j`` an encoder reads, in ``categories_``'s order: an
    input of several columns gives each by a ``Gather``."""
    import numpy as np

    j = 0
    for variable in operator.inputs:
        width = variable.get_second_dimension() or 1
        for k in range(width):
            yield j, variable, (variable.onnx_name if width == 1 else
                                w.node("Gather", variable.onnx_name, w.const([k], np.int64), axis=1))
            j += 1


def _ordinal_codes(encoder: Any, j: int) -> Any:
    """The codes a fitted OrdinalEncoder gives column ``j``'s categories, each as its own ``transform`` gives
    it (an infrequent category the infrequent group's code, NaN ``encoded_missing_value``; the encoding is
    per value), as float32; the other columns hold their first category."""
    import warnings

    import numpy as np

    categories = encoder.categories_[j]
    rows = np.empty((len(categories), len(encoder.categories_)), dtype=object)
    for k, values in enumerate(encoder.categories_):
        rows[:, k] = categories if k == j else values[0]
    names = getattr(encoder, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        rows = pd.DataFrame(rows, columns=list(names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(encoder.transform(rows), dtype=np.float32)[:, j]


def _infrequent(encoder: Any) -> bool:
    groups = getattr(encoder, "infrequent_categories_", None) or []
    return any(g is not None and len(g) for g in groups)


def _unknown_as_zeros(encoder: Any) -> bool:
    """True when scikit-learn encodes a value ``encoder`` did not see in training as all zeros."""
    unknown = getattr(encoder, "handle_unknown", "error")
    return unknown in ("ignore", "warn") or (unknown == "infrequent_if_exist" and not _infrequent(encoder))


def unknown_value_notes(model: Any) -> list[str]:
    """A warning per SimpleImputer of text, whose missing values the ONNX model cannot be fed. (A
    OneHotEncoder(handle_unknown='infrequent_if_exist') was named too: the file failed on an unseen value
    scikit-learn puts in the infrequent column; :func:`_infrequent_one_hot` writes it so.)"""
    notes = []
    for est in sub_estimators(model):
        statistics = getattr(est, "statistics_", None)
        missing = getattr(est, "missing_values", 0)
        fitted = getattr(est, "_fit_dtype", None)  # the input's dtype: strategy='constant' keeps object
        filled = statistics if statistics is not None else ()
        text = fitted.kind in "OUS" if fitted is not None else any(isinstance(v, str) for v in filled)
        if (type(est).__name__ == "SimpleImputer" and statistics is not None and statistics.dtype.kind == "O"
                and text and (missing is None or (isinstance(missing, float) and missing != missing))):
            columns = [str(c) for c in getattr(est, "feature_names_in_", [])] or "its columns"
            fills = sorted({str(v) for v in statistics})
            notes.append(
                f"SimpleImputer on text {columns}: an ONNX text input holds no missing value, so the model takes "
                f"its text as it comes; feed a missing value as what scikit-learn fills it with ({fills}), as "
                "onnxgate's validate, score, service and dry run do for a column only that imputer reads"
                + ("" if missing is None else " (a NaN; None is no missing value to this imputer: scikit-learn passes "
                   "it on, and onnxgate refuses it)")
            )
        if (type(est).__name__ == "LabelBinarizer" and getattr(est, "y_type_", "") == "binary"
                and len(getattr(est, "classes_", ())) == 2):
            notes.append(
                f"LabelBinarizer fitted on two classes {est.classes_.tolist()}: the file answers one column (the "
                "second class's; neg_label for any other value), as scikit-learn answers a batch of those classes; "
                "scikit-learn answers a batch holding any other value with two columns, which the file does not"
            )
    return notes


def _text_imputer(operator: Any) -> bool:
    """True for a SimpleImputer over text inputs whose missing value is NaN or None (its default):
    skl2onnx refused it ("implemented when the missing values are string")."""
    from skl2onnx.common.data_types import StringTensorType

    imputer = operator.raw_operator
    missing = imputer.missing_values
    absent = missing is None or (isinstance(missing, float) and missing != missing)
    return absent and not imputer.add_indicator and all(isinstance(i.type, StringTensorType) for i in operator.inputs)


def register_simple_imputer() -> None:
    """A numeric SimpleImputer written with standard operators (``IsNaN``/``Equal``, ``Where``), in the
    graph's own float type, instead of skl2onnx's ``ai.onnx.ml.Imputer``. Three faults of that one:

    * ``Imputer`` has no double kernel: a pipeline holding a SimpleImputer (then StandardScaler and a
      forest, a common shape) could only compute in float32, where scaled values round next to the
      trees' splits and labels flip (parity failed on wine), and the advice to convert in float64 led
      back to float32.
    * A feature with no statistic (all missing when fitted) is dropped by scikit-learn, not by
      skl2onnx: onnxruntime failed, or every row was off. It is dropped here by a ``Gather``.
    * ``add_indicator=True``: skl2onnx leaves the indicator columns out (402 of 442 rows off).
      They are appended here, for the features scikit-learn's ``indicator_`` lists.

    The statistics keep the graph's type (double in a double graph). On integer inputs (a most frequent
    value or a constant, which scikit-learn keeps as integers) a whole-number missing value is written here
    too, the statistics as the input's integers: skl2onnx refused a missing value given as an int
    (``SimpleImputer(strategy="most_frequent", missing_values=-1)``: "Unsupported proposed value '-1'").
    Text inputs, a NaN missing value on integers and a number below opset 11 on floats (``Equal`` takes
    floats from 11) keep skl2onnx's.
    """
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common._registration import _shape_calculator_pool
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int32TensorType, Int64TensorType

    from onnxgate.converters._sklearn_extra import joined_inputs

    original = _replaceable("SklearnSimpleImputer", "_onnxgate_imputer")
    if original is None:
        return
    original_shape = _shape_calculator_pool["SklearnSimpleImputer"]

    def integer_type(operator: Any) -> Any:
        """The inputs' integer tensor type when they all have one, else None."""
        kinds = {type(i.type) for i in operator.inputs}
        return next(iter(kinds)) if len(kinds) == 1 and kinds <= {Int64TensorType, Int32TensorType} else None

    def written_here(operator: Any, opset: Any) -> str | None:
        """``"nan"``, ``"number"`` or ``"integer"`` (the missing value's form) for an imputer written here: a
        float or double one of a missing value given as NaN or as a number (from opset 11), an integer one of a
        whole number; None for skl2onnx's."""
        opset = opset.get("", 0) if isinstance(opset, dict) else opset or 0
        missing = operator.raw_operator.missing_values
        nan = isinstance(missing, float) and np.isnan(missing)
        number = isinstance(missing, (int, float, np.number)) and not isinstance(missing, bool) and not nan
        if integer_type(operator) is not None:
            return "integer" if number and float(missing) == int(missing) else None
        floats = (all(isinstance(i.type, DoubleTensorType) for i in operator.inputs)
                  or all(isinstance(i.type, FloatTensorType) for i in operator.inputs))
        if not floats:
            return None
        return "nan" if nan else "number" if number and opset >= 11 else None

    def layout(imputer: Any) -> tuple[Any, Any]:
        """The features scikit-learn keeps (those with a statistic), and its missing indicator or None."""
        kept = np.flatnonzero(~np.isnan(np.asarray(imputer.statistics_, dtype=np.float64)))
        return kept, getattr(imputer, "indicator_", None) if imputer.add_indicator else None

    def imputer_shape(operator: Any) -> None:
        form = written_here(operator, operator.target_opset)
        if form == "integer":  # skl2onnx's takes no int32 input
            operator.outputs[0].type = integer_type(operator)([operator.inputs[0].get_first_dimension(), None])
        else:
            original_shape(operator)
        if form:
            kept, indicator = layout(operator.raw_operator)
            width = len(kept) + (0 if indicator is None else len(indicator.features_))
            output = operator.outputs[0]
            output.type.shape = [output.type.shape[0], width]

    def convert_simple_imputer(scope: Any, operator: Any, container: Any) -> None:
        imputer = operator.raw_operator
        if _text_imputer(operator):
            # a text input holds no NaN or None: nothing reaches the graph for it to fill
            # (:func:`unknown_value_notes` says how to feed missing text)
            features = joined_inputs(scope, operator, container)
            container.add_node("Identity", [features], [operator.outputs[0].full_name],
                               name=scope.get_unique_operator_name("Identity"))
            return
        form = written_here(operator, container.target_opset)
        if form is None:
            original(scope, operator, container)
            return
        double = all(isinstance(i.type, DoubleTensorType) for i in operator.inputs)
        dtype: Any
        code, dtype = (TensorProto.DOUBLE, np.float64) if double else (TensorProto.FLOAT, np.float32)
        if form == "integer":
            code, dtype = ((TensorProto.INT32, np.int32) if integer_type(operator) is Int32TensorType
                           else (TensorProto.INT64, np.int64))

        def name(text: str) -> str:
            return str(scope.get_unique_variable_name(text))

        def node(op: str, inputs: list[str], output: str, **attrs: Any) -> None:
            container.add_node(op, inputs, [output], name=scope.get_unique_operator_name(op), **attrs)

        if form == "integer":  # skl2onnx's concatenation takes no int32
            features = operator.inputs[0].full_name
            if len(operator.inputs) > 1:
                features = name("imputer_features")
                node("Concat", [i.full_name for i in operator.inputs], features, axis=1)
        else:
            features = joined_inputs(scope, operator, container)
        mask = name("imputer_missing")
        if form == "nan":
            node("IsNaN", [features], mask)
        else:
            value = name("imputer_missing_value")
            missing = int(imputer.missing_values) if form == "integer" else float(imputer.missing_values)
            container.add_initializer(value, code, [], [missing])
            node("Equal", [features, value], mask)

        def columns(source: str, indices: Any, text: str) -> str:
            chosen = name(f"{text}_columns")
            container.add_initializer(chosen, TensorProto.INT64, [len(indices)], [int(i) for i in indices])
            out = name(text)
            node("Gather", [source, chosen], out, axis=1)
            return out

        statistics = np.asarray(imputer.statistics_, dtype=np.float64)
        kept, indicator = layout(imputer)  # scikit-learn drops a feature with no statistic
        values, kept_mask = features, mask
        if len(kept) < len(statistics):
            values, kept_mask = columns(features, kept, "imputer_kept"), columns(mask, kept, "imputer_kept_missing")
        fill = name("imputer_statistics")
        container.add_initializer(fill, code, [1, len(kept)], statistics[kept].astype(dtype).tolist())
        if indicator is None:
            node("Where", [kept_mask, fill, values], operator.outputs[0].full_name)
            return
        imputed = name("imputed")
        node("Where", [kept_mask, fill, values], imputed)
        flags = name("imputer_indicator")
        node("Cast", [columns(mask, indicator.features_, "imputer_indicator_missing")], flags, to=code)
        node("Concat", [imputed, flags], operator.outputs[0].full_name, axis=1)

    _replace("SklearnSimpleImputer", "_onnxgate_imputer", original, convert_simple_imputer, imputer_shape)


#: The scikit-learn tree skl2onnx is writing (``add_tree_to_attribute_pairs``), for ``add_node``.
_TREES: list[Any] = []


#: skl2onnx's modules that write scikit-learn trees with ``add_tree_to_attribute_pairs`` (imported by name).
_TREE_WRITERS = ("decision_tree", "random_forest", "gradient_boosting", "isolation_forest")


def patch_hist_gradient_boosting() -> None:
    """Work around skl2onnx 1.20's handling of scikit-learn >= 1.9 trees: three faults, one patch.

    * HistGradientBoosting crashed: scikit-learn 1.9 stores ``missing_go_to_left`` in its predictor
      nodes as a numpy bool (it was uint8); ``add_tree_to_attribute_pairs_hist_gradient_boosting``
      passes it on as ``nodes_missing_value_tracks_true``, an INTS attribute, and
      ``onnx.helper.make_node`` refuses it: "AttributeProto.ints: Expected an int, got a boolean".
      ``add_node`` now turns it into an int.
    * Decision trees and forests sent every NaN to the false branch: ``add_tree_to_attribute_pairs``
      ignores ``tree_.missing_go_to_left``, the side scikit-learn (>= 1.3 for trees, 1.4 for forests)
      sends a missing value to at each split, also for a model fitted without one. ``add_node``
      now writes it as ``nodes_missing_value_tracks_true`` (``x <= t`` is the true branch, the left
      child), from the tree being written.
    * A forest fitted with NaN has splits at threshold ``inf`` (missing values apart from the rest),
      and ``sklearn_threshold``, which moves a float64 threshold to its float32 switch point, looped
      forever on it (``find_switch_point`` with a NaN bound). A threshold that is not finite is kept;
      a finite one is given as a numpy float64 (a Python float left it unmoved under numpy 2).

    Applied once, only to skl2onnx's modules.
    """
    import importlib

    import numpy as np
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node
    if getattr(original, "_onnxgate_bool_fix", False):
        return

    def add_node(*args: Any, **kwargs: Any) -> Any:
        value = kwargs.get("nodes_missing_value_tracks_true")
        if value is not None:
            kwargs["nodes_missing_value_tracks_true"] = int(value)
        elif _TREES and len(args) > 6 and args[6] != "LEAF":
            routes = getattr(_TREES[-1], "missing_go_to_left", None)  # args[4]: the node's id in its tree
            if routes is not None:
                kwargs["nodes_missing_value_tracks_true"] = int(routes[args[4]])
        return original(*args, **kwargs)

    add_node._onnxgate_bool_fix = True  # type: ignore[attr-defined]
    tree_ensemble.add_node = add_node

    write_tree = tree_ensemble.add_tree_to_attribute_pairs

    def add_tree_to_attribute_pairs(attr_pairs: Any, is_classifier: Any, tree: Any, *args: Any, **kwargs: Any) -> Any:
        _TREES.append(tree)
        try:
            return write_tree(attr_pairs, is_classifier, tree, *args, **kwargs)
        finally:
            _TREES.pop()

    for module in (tree_ensemble, *(importlib.import_module(f"skl2onnx.operator_converters.{m}")
                                    for m in _TREE_WRITERS)):
        if getattr(module, "add_tree_to_attribute_pairs", None) is write_tree:
            module.add_tree_to_attribute_pairs = add_tree_to_attribute_pairs

    threshold = tree_ensemble.sklearn_threshold

    def sklearn_threshold(dy: Any, dtype: Any, mode: Any) -> Any:
        if not np.isfinite(dy):
            return np.float64(dy)
        # as a numpy float64: numpy 2 compares a Python float with a float32 in float32, and the function's
        # "float32(t) == t" then holds for every t, leaving each threshold rounded to nearest
        return threshold(np.float64(dy), dtype, mode)

    tree_ensemble.sklearn_threshold = sklearn_threshold

    from skl2onnx.operator_converters import random_forest

    random_forest.add_tree_to_attribute_pairs_hist_gradient_boosting = _hist_tree_with_category_sets(
        tree_ensemble.add_tree_to_attribute_pairs_hist_gradient_boosting, add_node)


def _hist_tree_with_category_sets(write_tree: Any, add_node: Any) -> Any:
    """skl2onnx's writer of one HistGradientBoosting tree, writing a categorical split as what it is.

    skl2onnx 1.20 wrote a split on a category set (``left if the category is one of {a, c, f}``) as
    ``x <= num_threshold``, a threshold such splits do not have: 107 of 178 wine rows took other labels.
    Each is written as a chain of ``BRANCH_EQ`` nodes, one per category sent left, all sharing the left
    child (as onnxmltools writes LightGBM's category splits): the first equal category goes left, and a
    value equal to none goes right. The categories are the codes of the estimator's own ordinal encoder
    (:func:`hist_category_codes` writes that encoder in front). A missing value (and an unknown category,
    which that encoder makes missing) goes where the split sends missing values. A tree without
    categorical splits is written by skl2onnx's own writer.
    """

    def write(attr_pairs: Any, is_classifier: Any, tree: Any, tree_id: Any, tree_weight: Any, weight_id_bias: Any,
              leaf_weights_are_counts: Any, adjust_threshold_for_sklearn: bool = False, dtype: Any = None) -> Any:
        import numpy as np

        from onnxgate.converters._boosting import SAMPLE_FLOAT64
        from onnxgate.converters._sklearn_graph import left_categories

        if SAMPLE_FLOAT64.get() is False and dtype in (None, np.float32):
            # rows of float32 (or integers): scikit-learn compares them, as doubles, with double thresholds; a
            # threshold rounded to the nearest float32 sent a value between the two down the other branch (4
            # of 133 held-out diabetes rows 3.27 off; helper-105). The largest float32 at or below it is exact
            adjust_threshold_for_sklearn, dtype = True, np.float32
        nodes = tree.nodes
        if not any(n["is_categorical"] and not n["is_leaf"] for n in nodes):
            return write_tree(attr_pairs, is_classifier, tree, tree_id, tree_weight, weight_id_bias,
                              leaf_weights_are_counts, adjust_threshold_for_sklearn=adjust_threshold_for_sklearn,
                              dtype=dtype)
        bitsets = tree.raw_left_cat_bitsets
        spare = len(nodes)

        def put(node_id: int, node: Any, mode: str, value: float, true_id: int, false_id: int, missing: int) -> None:
            add_node(attr_pairs, is_classifier, tree_id, tree_weight, node_id, 0 if mode == "LEAF" else
                     int(node["feature_idx"]), mode, value, true_id, false_id, node["value"], weight_id_bias,
                     leaf_weights_are_counts, adjust_threshold_for_sklearn=adjust_threshold_for_sklearn
                     and mode == "BRANCH_LEQ", dtype=dtype, nodes_missing_value_tracks_true=missing)

        for i, node in enumerate(nodes):
            missing = int(bool(node["missing_go_to_left"]))
            if node["is_leaf"]:
                put(i, node, "LEAF", 0.0, 0, 0, 0)
            elif not node["is_categorical"]:
                put(i, node, "BRANCH_LEQ", float(node["num_threshold"]), int(node["left"]), int(node["right"]),
                    missing)
            else:
                left = left_categories(bitsets[int(node["bitset_idx"])])
                ids = [i, *range(spare, spare + len(left) - 1)]
                spare += len(left) - 1
                for k, code in enumerate(left):
                    after = ids[k + 1] if k + 1 < len(left) else int(node["right"])
                    put(ids[k], node, "BRANCH_EQ", float(code), int(node["left"]), after, missing)

    return write


def patch_per_tree_thresholds() -> None:
    """Write the per-tree graphs of a multi-output forest with scikit-learn's comparisons and missing sides.

    skl2onnx writes a forest fitted on several outputs as one ``TreeEnsembleClassifier`` per tree through
    ``decision_tree.populate_tree_attributes``, which, unlike the one-output writer, keeps each float64
    threshold as written (ONNX stores it as float32, rounded to nearest) and sends every NaN to the false
    branch. scikit-learn compares ``float32(x) <= t``: a training value whose float32 equals the rounded
    threshold went left where scikit-learn goes right (6 of 124 wine training rows off by 0.05, one tree of
    20; helper-89). Each threshold becomes its float32 switch point (skl2onnx's own ``sklearn_threshold``)
    and each split's missing side is ``tree_.missing_go_to_left``, as :func:`patch_hist_gradient_boosting`
    makes the one-output writer do. Applied once.
    """
    from skl2onnx.common import tree_ensemble
    from skl2onnx.operator_converters import decision_tree

    populate = decision_tree.populate_tree_attributes
    if getattr(populate, "_onnxgate_thresholds", False):
        return

    def populate_tree_attributes(model: Any, name: Any, dtype: Any) -> Any:
        import numpy as np

        attrs = populate(model, name, dtype)
        tree = model.tree_
        sides = getattr(tree, "missing_go_to_left", None)
        for k, (node, mode) in enumerate(zip(attrs["nodes_nodeids"], attrs["nodes_modes"])):
            if mode != "BRANCH_LEQ":
                continue
            threshold = np.float64(tree.threshold[node])
            if np.isfinite(threshold):
                attrs["nodes_values"][k] = float(tree_ensemble.sklearn_threshold(threshold, np.float32, mode))
            if sides is not None:
                attrs["nodes_missing_value_tracks_true"][k] = int(sides[node])
        return attrs

    populate_tree_attributes._onnxgate_thresholds = True  # type: ignore[attr-defined]
    decision_tree.populate_tree_attributes = populate_tree_attributes


def patch_per_tree_predictions() -> None:
    """Fix two faults of skl2onnx's ``decision_tree.predict``, which writes a multi-output tree (a multi-label
    DecisionTreeClassifier, each tree of a multi-label forest) as leaf indices looked up in its values.

    * A multi-label DecisionTreeClassifier's probabilities went through a cast to BOOL and back: every
      non-zero probability became 1 (0.875 off predict_proba on make_multilabel_classification, labels right).
      scikit-learn's leaves hold each target's class fractions (>= 1.4), its ``predict_proba``: they are
      given as they are.
    * A tree of one node (a leaf, as a bootstrap sample of one class or ``min_samples_split`` above the rows
      grows) found its leaf as ``input * 0`` summed over the features: a row holding NaN gave NaN, the index
      INT64_MIN, and onnxruntime refused the whole batch. Its zeros are ``ConstantOfShape(Shape(input))``.

    Applied once, to both modules that call it.
    """
    from onnx import TensorProto, helper
    from skl2onnx.operator_converters import decision_tree, random_forest

    original = decision_tree.predict
    if getattr(original, "_onnxgate_per_tree", False):
        return

    def predict(model: Any, scope: Any, operator: Any, container: Any, *args: Any, **kwargs: Any) -> Any:
        before = len(container.nodes)
        result = original(model, scope, operator, container, *args, **kwargs)
        added = container.nodes[before:]
        if model.tree_.node_count == 1:
            _zeros_without_nan(scope, container, added, helper)
        writers = {out: node for node in added for out in node.output}
        for node in added:
            to = [a.i for a in node.attribute if a.name == "to"]
            back = next((n for n in added if node.output[0] in n.input), None)
            if (node.op_type == "Cast" and to == [TensorProto.BOOL] and node.input[0] in writers
                    and back is not None and back.op_type == "Cast"):
                back.input[0] = node.input[0]  # the probabilities, already of the output's type
                container.nodes.remove(node)
        return result

    predict._onnxgate_per_tree = True  # type: ignore[attr-defined]
    decision_tree.predict = predict
    random_forest.predict = predict


def register_tree_of_unequal_targets() -> None:
    """A multi-label DecisionTreeClassifier (or ExtraTreeClassifier) whose targets have different numbers of
    classes: skl2onnx's converter asks ``np.asarray(classes_).size`` whether it saw one class, which numpy
    refuses for arrays of different lengths ("setting an array element with a sequence. The requested array
    has an inhomogeneous shape"). It converts a copy whose ``classes_`` is an array of those arrays; the rest
    of the converter reads them target by target, and the values of a target with fewer classes are padded."""
    import copy

    import numpy as np

    def converter(original: Any) -> Any:
        def convert(scope: Any, operator: Any, container: Any) -> None:
            model = operator.raw_operator
            classes = model.classes_
            if not isinstance(classes, list) or len({len(c) for c in classes}) < 2:
                original(scope, operator, container)
                return
            same = copy.copy(model)
            same.classes_ = np.empty(len(classes), dtype=object)
            same.classes_[:] = classes
            operator.raw_operator = same
            try:
                original(scope, operator, container)
            finally:
                operator.raw_operator = model

        return convert

    for alias in ("SklearnDecisionTreeClassifier", "SklearnExtraTreeClassifier"):
        original = _replaceable(alias, "_onnxgate_unequal_targets")
        if original is not None:
            _replace(alias, "_onnxgate_unequal_targets", original, converter(original))


def _zeros_without_nan(scope: Any, container: Any, added: list[Any], helper: Any) -> None:
    """Replace skl2onnx's ``input * 0`` (NaN for a row holding NaN) with zeros of the input's shape."""
    init = {i.name: i for i in container.initializers}
    mul = next((n for n in added if n.op_type == "Mul" and n.input[1] in init), None)
    if mul is None:
        return
    shape, zeros = scope.get_unique_variable_name("input_shape"), scope.get_unique_variable_name("zeros")
    value = helper.make_tensor("value", init[mul.input[1]].data_type, [1], [0])
    at = container.nodes.index(mul)
    container.nodes.remove(mul)
    if not any(mul.input[1] in node.input for node in container.nodes):
        container.initializers.remove(init[mul.input[1]])
    for node in added:
        node.input[:] = [zeros if name == mul.output[0] else name for name in node.input]
    container.add_node("Shape", [mul.input[0]], [shape], name=scope.get_unique_operator_name("Shape"))
    container.add_node("ConstantOfShape", [shape], [zeros], value=value,
                       name=scope.get_unique_operator_name("ConstantOfShape"))
    made = container.nodes[-2:]
    del container.nodes[-2:]
    container.nodes[at:at] = made


def _matches_space(items: Any) -> bool:
    """Whether a parsed regular expression (``re._parser``) can match a space within what it consumes;
    True for what is not read here (a backreference, an unknown node)."""
    from re import _constants as sre  # type: ignore[attr-defined]

    spaces = {sre.CATEGORY_SPACE, sre.CATEGORY_NOT_DIGIT, sre.CATEGORY_NOT_WORD, sre.CATEGORY_NOT_LINEBREAK,
              sre.CATEGORY_UNI_SPACE, sre.CATEGORY_UNI_NOT_DIGIT, sre.CATEGORY_UNI_NOT_WORD,
              sre.CATEGORY_UNI_NOT_LINEBREAK}
    for op, av in items:
        if op is sre.LITERAL:
            if av == 32:
                return True
        elif op is sre.NOT_LITERAL or op is sre.ANY:
            if op is sre.ANY or av != 32:
                return True
        elif op is sre.IN:
            negate = any(kind is sre.NEGATE for kind, _ in av)
            held = any((kind is sre.LITERAL and value == 32) or (kind is sre.RANGE and value[0] <= 32 <= value[1])
                       or (kind is sre.CATEGORY and value in spaces) for kind, value in av)
            if held != negate:
                return True
        elif op is sre.SUBPATTERN:
            if _matches_space(av[-1]):
                return True
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            if _matches_space(av[2]):
                return True
        elif op is sre.ATOMIC_GROUP:
            if _matches_space(av):
                return True
        elif op is sre.BRANCH:
            if any(_matches_space(branch) for branch in av[1]):
                return True
        elif op not in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            return True
    return False


def _unsupported_by_re2(items: Any) -> str | None:
    """What a parsed token pattern uses that re2 (onnxruntime's tokenizer) does not have, or None."""
    from re import _constants as sre  # type: ignore[attr-defined]

    for op, av in items:
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return "a lookaround ((?=...), (?!...), (?<=...), (?<!...))"
        if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            return "a backreference"
        if op is sre.ATOMIC_GROUP or op is sre.POSSESSIVE_REPEAT:
            return "an atomic group or possessive repeat"
        if op is sre.AT and av is sre.AT_END_STRING:
            return "\\Z (re2 writes the end of the text \\z)"
        nested = (av[-1] if op is sre.SUBPATTERN else av[2] if op in (sre.MAX_REPEAT, sre.MIN_REPEAT)
                  else [] if op is not sre.BRANCH else [item for branch in av[1] for item in branch])
        found = _unsupported_by_re2(nested) if nested else None
        if found:
            return found
    return None


def register_text_vectorizer() -> None:
    """skl2onnx's CountVectorizer (and so TfidfVectorizer) converter, given a copy it reads right.

    * A token pattern written with Python's ``(?u)`` flag (``(?u)\\b\\w+\\b``, which keeps one-letter words)
      gave a file onnxruntime cannot load: re2 has no ``(?u)``. Python 3 reads every str pattern as Unicode,
      so the flag changes nothing there; it is dropped. scikit-learn's default pattern is passed the same way,
      ``\\b\\w\\w+\\b``, where skl2onnx wrote ``[a-zA-Z0-9_]+``: that kept the one-letter words the default
      drops, and n-grams crossing them differed ('This is a copy' gives 'is copy'; helper-77).
    * With n-grams, skl2onnx guesses an entry's words from the vocabulary, and takes an entry whose words were
      not all kept (``max_features``, ``min_df``) for one token: ``'at the'`` with ``'at'`` pruned was counted
      as never seen (0.49 off on a TfidfVectorizer(ngram_range=(1, 2), max_features=12)). Where no token can
      hold a space, an entry's spaces are the joins between its words, and it is handed over split
      (the tuples skl2onnx reads for its Traceable vectorizers).
    * Stop words are removed as scikit-learn removes them (:func:`_stop_words_as_sklearn`).

    A pattern re2 cannot read (a lookaround, a backreference) is refused by name, as is a setting the graph cannot
    compute as scikit-learn does (:func:`onnxgate.converters._sklearn_text.text_setting_refusal`)."""
    alias = "SklearnCountVectorizer"
    original = _replaceable(alias, "_onnxgate_text")
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        from onnxgate.converters._sklearn_text import text_setting_refusal
        from onnxgate.errors import UnsupportedModelError

        est = operator.raw_operator
        refusal = text_setting_refusal(est)
        if refusal:
            raise UnsupportedModelError(refusal, framework="sklearn")
        fixed = _readable_vectorizer(est)
        before = len(container.nodes)
        if fixed is est:
            original(scope, operator, container)
            _unicode_tokenizer(est, container.nodes[before:])
            _char_spaces_as_sklearn(scope, container, est, container.nodes[before:])
            _stop_words_as_sklearn(scope, container, est, container.nodes[before:])
            return
        options = container.options
        if options is not None and id(est) in options:
            options[id(fixed)] = options[id(est)]
        operator.raw_operator = fixed
        try:
            original(scope, operator, container)
        finally:
            operator.raw_operator = est
            if options is not None:
                options.pop(id(fixed), None)
        _unicode_tokenizer(est, container.nodes[before:])
        _char_spaces_as_sklearn(scope, container, est, container.nodes[before:])
        _stop_words_as_sklearn(scope, container, est, container.nodes[before:])

    _replace(alias, "_onnxgate_text", original, convert)


def _char_spaces_as_sklearn(scope: Any, container: Any, est: Any, added: list[Any]) -> None:
    """Make the characters the nodes skl2onnx ``added`` for ``est`` (``analyzer='char'``) read those scikit-learn
    reads: it writes each run of two or more spaces (``\\s\\s+``: tabs, newlines, no-break and other Unicode
    spaces) as one ' ' before it makes the character n-grams, and a space alone as it is. skl2onnx made them of
    the text as given: 'good  film' counted the n-gram '  ' scikit-learn never makes (every text with a double
    space, a tab beside a space or a blank line scored otherwise). After the tokenizer, the first space of each
    run becomes ' ', the others move behind the row's characters as its pad value, which no n-gram holds."""
    import re

    import numpy as np
    from onnx import TensorProto, helper

    from onnxgate.converters._sklearn_extra import GraphWriter

    if getattr(est, "analyzer", None) != "char":
        return
    tokenizer = next((n for n in added if n.op_type == "Tokenizer"), None)
    if tokenizer is None:
        return
    chars = tokenizer.output[0]
    readers = [n for n in added if chars in n.input]
    pad = next(helper.get_attribute_value(a) for a in tokenizer.attribute if a.name == "pad_value")
    w = GraphWriter(scope, container, np.float32)

    def ints(value: Any) -> str:
        return w.const(value, dtype=np.int64, name="const")

    def text(value: bytes | str, base: str) -> str:
        name = scope.get_unique_variable_name(base)
        container.add_initializer(name, TensorProto.STRING, [], [value if isinstance(value, bytes) else value.encode()])
        return str(name)

    # com.microsoft's Tokenizer has no schema in onnx: an untyped LabelEncoder input crashes shape inference
    container.value_info.append(helper.make_tensor_value_info(chars, TensorProto.STRING, None))
    spaces = [chr(c) for c in range(0x3001) if re.match(r"\s", chr(c))]  # Python's \s: none past U+3000
    is_space = w.node("LabelEncoder", chars, op_domain="ai.onnx.ml", op_version=2, keys_strings=spaces,
                      values_int64s=[1] * len(spaces), default_int64=0)
    # the characters are [N, T], or [N, 1, T] when the tokenizer reads the [N, 1] input itself (no normalizer)
    zero = w.node("Mul", w.node("Slice", is_space, ints([0]), ints([1]), ints([-1])), ints(0))
    before = w.node("Concat", zero, w.node("Slice", is_space, ints([0]), ints([-1]), ints([-1])), axis=-1)
    after = w.node("Concat", w.node("Slice", is_space, ints([1]), ints([np.iinfo(np.int64).max]), ints([-1])),
                   zero, axis=-1)
    in_run = w.node("Cast", w.node("Mul", is_space, w.node("Max", before, after)), to=TensorProto.BOOL)
    spaced = w.node("Where", in_run, text(" ", "space"), chars)
    dropped = w.node("Mul", is_space, before)  # a space after a space
    width = w.node("Gather", w.node("Shape", chars), ints(-1), axis=0)
    key = w.node("Add", w.node("Mul", dropped, width), w.node("Range", ints(0), width, ints(1)))
    values, order = scope.get_unique_variable_name("space_key_sorted"), scope.get_unique_variable_name("space_order")
    container.add_node("TopK", [key, w.node("Reshape", width, ints([1]))], [values, order],
                       name=scope.get_unique_operator_name("TopK"), axis=-1, largest=0, sorted=1)
    moved = w.node("GatherElements", spaced, order, axis=-1)
    behind = w.node("Cast", w.node("GatherElements", dropped, order, axis=-1), to=TensorProto.BOOL)
    collapsed = w.node("Where", behind, text(pad, "pad"), moved)
    for reader in readers:
        reader.input[:] = [collapsed if name == chars else name for name in reader.input]


def _unicode_tokenizer(est: Any, added: list[Any]) -> None:
    """The Tokenizer skl2onnx ``added`` for the word-analyzing vectorizer ``est`` matching its token pattern's
    ``\\w``, ``\\d`` and ``\\s`` as Python does (:func:`re2_token_pattern`), where it holds the pattern skl2onnx
    was handed (not a ``tokenexp`` option of the user's)."""
    import re

    from onnx import helper

    pattern = getattr(est, "token_pattern", None)
    if getattr(est, "analyzer", None) != "word" or not isinstance(pattern, str) or est.tokenizer is not None:
        return
    try:
        parsed = parsed_pattern(pattern)
    except re.error:
        return
    unicode = re2_token_pattern(est, parsed)
    for node in added:
        if node.op_type != "Tokenizer":
            continue
        for attribute in node.attribute:
            handed = _without_flag(pattern).encode()
            if attribute.name == "tokenexp" and helper.get_attribute_value(attribute) == handed:
                attribute.s = unicode.encode()


def _stop_words_as_sklearn(scope: Any, container: Any, est: Any, added: list[Any]) -> None:
    """Make the nodes skl2onnx ``added`` for the vectorizer ``est`` remove stop words as scikit-learn does.

    scikit-learn removes the stop words from each document's tokens before it makes n-grams: ``'times are
    the best'`` gives the bigram ``'times best'``. skl2onnx leaves them in the tokens (it hands them only to
    its ``StringNormalizer``, which removes whole documents, and only those of a ``stop_words_`` attribute,
    which scikit-learn 1.9 no longer has), so the ONNX model never counted ``'times best'``: 20 of 120 labels off for a
    TfidfVectorizer(stop_words="english", ngram_range=(1, 2)) pipeline. After the tokenizer, each row's
    stop words now move behind its other tokens (a stable sort on ``is_stop * width + position``) and
    become the tokenizer's pad value, which no n-gram holds. Alone, a stop word is no vocabulary entry, so
    unigram-only vectorizers are left as they are."""
    from onnx import TensorProto, helper

    stop = est.get_stop_words() if getattr(est, "analyzer", None) == "word" else None
    if not stop or est.ngram_range[1] < 2:
        return  # alone, a stop word is no vocabulary entry: nothing counts it either way
    if container.target_opset < 11:  # Range and TopK's ascending order
        from onnxgate.converters._base import opset_asked
        from onnxgate.errors import UnsupportedModelError

        raise UnsupportedModelError(
            f"{type(est).__name__}(stop_words=..., ngram_range={est.ngram_range}) needs opset 11 or higher: "
            "scikit-learn makes n-grams after removing the stop words, which the graph writes with Range and "
            f"TopK (opset 11); {opset_asked(container.target_opset)}", framework="sklearn")
    tokenizer = next(n for n in added if n.op_type == "Tokenizer")
    reader = next(n for n in added if n.input and n.input[0] == tokenizer.output[0])
    pad = next(helper.get_attribute_value(a) for a in tokenizer.attribute if a.name == "pad_value")
    pad = pad.decode("utf-8") if isinstance(pad, bytes) else str(pad)

    def name(base: str) -> str:
        return str(scope.get_unique_variable_name(base))

    def node(op: str, inputs: list[str], base: str, **attrs: Any) -> str:
        out = name(base)
        container.add_node(op, inputs, out, name=scope.get_unique_operator_name(op), **attrs)
        return out

    tokens = tokenizer.output[0]
    # com.microsoft's Tokenizer has no schema in onnx, so its output has no type, and onnx's shape inference
    # of a LabelEncoder reading an untyped tensor crashes the process (a segmentation fault)
    container.value_info.append(helper.make_tensor_value_info(tokens, TensorProto.STRING, None))
    one, last, row, zero, pad_value = (name("one"), name("last_axis"), name("one_value_row"), name("zero"),
                                       name("stop_pad"))
    container.add_initializer(one, TensorProto.INT64, [], [1])
    container.add_initializer(last, TensorProto.INT64, [], [-1])
    container.add_initializer(row, TensorProto.INT64, [1], [1])
    container.add_initializer(zero, TensorProto.INT64, [], [0])
    container.add_initializer(pad_value, TensorProto.STRING, [], [pad.encode("utf-8")])
    is_stop = name("is_stop_word")
    words = sorted(str(w) for w in stop)
    container.add_node("LabelEncoder", [tokens], is_stop, op_domain="ai.onnx.ml", op_version=2,
                       name=scope.get_unique_operator_name("LabelEncoder"), keys_strings=words,
                       values_int64s=[1] * len(words), default_int64=0)
    # the tokens are [N, T], or [N, 1, T] when the tokenizer reads the [N, 1] input itself (no normalizer)
    width = node("Gather", [node("Shape", [tokens], "token_shape"), last], "token_width", axis=0)
    key = node("Add", [node("Mul", [is_stop, width], "stop_rank"),
                       node("Range", [zero, width, one], "token_position")], "token_order_key")
    _values, order = name("token_order_key_sorted"), name("token_order")
    container.add_node("TopK", [key, node("Reshape", [width, row], "token_k")],
                       [_values, order], name=scope.get_unique_operator_name("TopK"), axis=-1, largest=0, sorted=1)
    moved = node("GatherElements", [tokens, order], "tokens_kept_first", axis=-1)
    stop_behind = node("Cast", [node("GatherElements", [is_stop, order], "stop_behind", axis=-1)], "stop_mask",
                       to=TensorProto.BOOL)
    reader.input[0] = node("Where", [stop_behind, pad_value, moved], "tokens_without_stop_words")


def parsed_pattern(pattern: str) -> Any:
    """``pattern`` parsed by Python's own regular-expression parser (``re._parser`` from Python 3.11,
    ``sre_parse`` before), as :func:`re2_token_pattern` reads it. Raises ``re.error`` as ``re.compile`` does."""
    import re

    parser: Any = getattr(re, "_parser", None)
    if parser is None:  # Python 3.10
        import sre_parse as parser
    return parser.parse(pattern)


def is_group(item: Any) -> bool:
    """True for an item of a :func:`parsed_pattern` that is a group (``(...)``)."""
    import re

    constants: Any = getattr(re, "_constants", None)
    if constants is None:  # Python 3.10
        import sre_constants as constants
    return bool(item[0] is constants.SUBPATTERN)


def re2_token_pattern(est: Any, parsed: Any) -> str:
    """``est.token_pattern`` (``parsed`` by Python's ``re``) as onnxruntime's tokenizer (re2) reads it.

    A pattern re2 cannot read (a lookaround, a backreference, the verbose or locale flag) is refused by
    name: the file could not be loaded."""
    import re

    from onnxgate.errors import UnsupportedModelError

    pattern = est.token_pattern
    unsupported = _unsupported_by_re2(parsed)
    flags = {re.VERBOSE: "the verbose flag (?x)", re.LOCALE: "the locale flag (?L)"}
    unsupported = unsupported or next((what for flag, what in flags.items() if parsed.state.flags & flag), None)
    if unsupported:
        raise UnsupportedModelError(
            f"{type(est).__name__}(token_pattern={pattern!r}) uses {unsupported}, which onnxruntime's tokenizer "
            "(re2) does not have: the file could not be loaded. Refit with a pattern without it",
            framework="sklearn")
    stripped = _without_flag(pattern)
    # re2's own \w, \d, \s and \b are ASCII, as with (?a): Python's Unicode classes are written out
    # (unicode_classes); a pattern they cannot be written for is warned of by convert
    return unicode_classes(stripped, ascii_only=bool(parsed.state.flags & re.ASCII)) or stripped


def _without_flag(pattern: str) -> str:
    """``pattern`` without a leading ``(?u)`` or ``(?a)``, which re2 has not (Python 3 reads every str pattern as
    Unicode, so ``(?u)`` changes nothing there), and the pattern "." as ``[^\\n]``: the tokenizer reads "." as
    "split into characters", newlines included, where "." is any character but a newline (a HashingVectorizer
    hashed each '\\n': 2.0 off). Python reads it as the pattern itself."""
    stripped = str(pattern[4:] if pattern.startswith(("(?u)", "(?a)")) else pattern)
    return "[^\n]" if stripped == "." else stripped


#: Python's ``\s`` in a str pattern (``str.isspace``: the no-break and ideographic spaces, ...), inside a class;
#: re2's ``\s`` is ``[\t\n\f\r ]``. Measured over every code point (Python 3.11): the same set.
PYTHON_SPACES = r"\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"


@functools.cache
def python_classes() -> tuple[str, str]:
    """Python's ``\\w`` in a str pattern (``str.isalnum()`` or ``_``) and ``\\d`` (``str.isdecimal()``), as the bodies
    of re2 classes of explicit code point ranges read from this Python's own ``re`` (734 and 62 ranges on Python
    3.11, about 0.05 s once per process).

    re2's ``\\p{L}\\p{N}`` held the same code points but for those Unicode assigned after this Python's version,
    which onnxruntime 1.32's re2 (Unicode 15.1) counts as letters and digits: past Python 3.11's Unicode 14.0, 5,010
    (CJK extensions H and I, Kawi, Nag Mundari), so 'ab' + U+31350 + 'cd' was one token in the file where
    scikit-learn counts 'ab' and 'cd'. Ranges written out are the Python's own, whatever re2's tables hold."""
    import re

    import numpy as np

    # every code point but the surrogates, as two strings (a str holds no lone surrogate a pattern could read)
    spans = ((0, 0xD800), (0xE000, 0x110000))
    texts = [(first, np.arange(first, end, dtype="<u4").tobytes().decode("utf-32-le")) for first, end in spans]

    def ranges(pattern: str) -> str:
        found = [(first + m.start(), first + m.end() - 1) for first, text in texts for m in re.finditer(pattern, text)]
        return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in found)

    return ranges(r"\w+"), ranges(r"\d+")


def unicode_classes(pattern: str, ascii_only: bool = False) -> str | None:
    """``pattern`` (re2's syntax, without a leading ``(?u)``) with Python's ``\\w``, ``\\W``, ``\\d``, ``\\D``, ``\\s``
    and ``\\S`` written as re2 classes of the same characters, or None when that cannot be done: ``\\W``, ``\\S``
    or ``\\D`` inside a class (re2 has no intersection), ``\\b`` or ``\\B`` but around a run of ``\\w``
    (:func:`_word_run`). ``ascii_only`` (Python's ``(?a)``): only ``\\s``, which in re2 lacks ``\\v``.

    re2 reads its ``\\w`` and ``\\b`` as ASCII: scikit-learn's default ``(?u)\\b\\w\\w+\\b`` made 'caf' of 'café'
    and nothing of 'Привет' or '日本語', so a TfidfVectorizer pipeline answered 0.137 for 'slowé slowé slowé'
    where scikit-learn answers 0.145. With ``\\b`` around a greedy run of ``\\w`` the match is the whole run
    either way, so there the ``\\b`` is dropped (re2 has no Unicode ``\\b``)."""
    spaces, (word, digit) = (r"\t-\r ", ("0-9A-Za-z_", "0-9")) if ascii_only else (PYTHON_SPACES, python_classes())
    inside = {"s": spaces} if ascii_only else {"w": word, "d": digit, "s": spaces}
    outside = {"s": f"[{spaces}]", "S": f"[^{spaces}]"}
    if not ascii_only:
        outside.update({"w": f"[{word}]", "W": f"[^{word}]", "d": f"[{digit}]", "D": f"[^{digit}]"})
    body = pattern
    if not ascii_only:
        body = body[2:] if body.startswith("\\b") else body
        body = body[:-2] if body.endswith("\\b") and not body.endswith("\\\\b") and len(body) > 2 else body
        if body != pattern and not _word_run(body):
            return None
    out, i, in_class = [], 0, False
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            escape = body[i + 1]
            if in_class and escape in ("" if ascii_only else "WSD"):
                return None
            if not in_class and escape in ("" if ascii_only else "bB"):
                return None
            out.append((inside if in_class else outside).get(escape, char + escape))
            i += 2
            continue
        out.append(char)
        i += 1
        if char == "[" and not in_class:
            in_class = True
            for lead in ("^", "]"):  # a class's first ']' is a literal
                if body[i:i + 1] == lead:
                    out.append(lead)
                    i += 1
        elif char == "]" and in_class:
            in_class = False
    return "".join(out)


def _word_run(body: str) -> bool:
    """True when ``body`` matches runs of ``\\w`` only, one of them repeated greedily without bound (``\\w\\w+``,
    ``\\w+``, ``\\w{2,}``): found left to right, each match is then a whole run of word characters, ``\\b`` on either
    side or not."""
    import re

    constants: Any = getattr(re, "_constants", None)
    if constants is None:  # Python 3.10
        import sre_constants as constants
    try:
        items = parsed_pattern(body).data
    except re.error:
        return False
    word = [(constants.IN, [(constants.CATEGORY, constants.CATEGORY_WORD)])]
    unbounded = False
    for op, av in items:
        if op is constants.MAX_REPEAT and list(av[2]) == word:
            unbounded = unbounded or av[1] is constants.MAXREPEAT
        elif (op, av) != word[0]:
            return False
    return unbounded


def _readable_vectorizer(est: Any) -> Any:
    """``est`` (a word-analyzing vectorizer) with its pattern re2 reads and its n-grams split into words
    (:func:`register_text_vectorizer`), or ``est`` itself when nothing needs it."""
    import copy
    import re

    pattern = getattr(est, "token_pattern", None)
    if getattr(est, "analyzer", None) != "word" or not isinstance(pattern, str) or est.tokenizer is not None:
        return est
    try:
        parsed = parsed_pattern(pattern)
    except re.error:
        return est  # scikit-learn could not have fitted it
    re2_token_pattern(est, parsed)  # refuses what re2 cannot read
    # scikit-learn's tokenizer splits the vocabulary's n-grams in skl2onnx: the copy's pattern is Python's, the
    # Tokenizer node's re2's (_unicode_tokenizer)
    stripped = _without_flag(pattern)
    ngrams = getattr(est, "ngram_range", (1, 1))
    split = None
    if ngrams[1] > 1 and not _matches_space(parsed):
        split = {tuple(entry.split(" ")): index for entry, index in est.vocabulary_.items()}
        if any("" in words or all(c == "#" for c in "".join(words)) for words in split):
            split = None  # an empty word, or the tokenizer's pad value: left to skl2onnx's reading
    if stripped == pattern and split is None:
        return est
    fixed = copy.copy(est)
    fixed.token_pattern = stripped
    if split is not None:
        fixed.vocabulary_ = split
    return fixed


def register_exact_kbins() -> None:
    """skl2onnx's KBinsDiscretizer compared each value with its bin edges in float32, where scikit-learn
    compares in the rows' own type with its double edges: in a float64 graph a value just below an edge
    (53.49999999999999 under 53.5) rounded onto it and took the next bin (a forest's label flipped;
    found by onnxgate's own search), and the double graph was ill-typed, so a float64 sample was computed
    in float32. A double graph now compares in double; a float32 one on float32 rows against each edge
    raised to the nearest float32 at or above it, which splits float32 values exactly as the double edge
    does (float64 rows computed in float32, as for SQL Edge, keep the nearest float32 edge, which a value
    equal to the edge, a quantile's own training value, rounds to as well)."""
    alias = "SklearnKBinsDiscretizer"
    original = _replaceable(alias, "_onnxgate_kbins")
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        import numpy as np
        from onnx import TensorProto, numpy_helper

        before = len(container.nodes)
        original(scope, operator, container)
        added = container.nodes[before:]
        double = type(operator.inputs[0].type).__name__ == "DoubleTensorType"
        made_by = {out: node for node in added for out in node.output}
        at = {tensor.name: i for i, tensor in enumerate(container.initializers)}
        for edges, less in zip(operator.raw_operator.bin_edges_, [n for n in added if n.op_type == "Less"]):
            inner = np.asarray(edges[1:-1], dtype=np.float64)
            if double:
                values = inner if len(inner) else np.array([np.inf])
                column = made_by[less.input[0]].input[0]  # the Cast to float32 reads the column
                cast = scope.get_unique_variable_name("column_double")
                container.add_node("Cast", [column], [cast], to=TensorProto.DOUBLE,
                                   name=scope.get_unique_operator_name("Cast"))
                less.input[0] = cast
            elif len(inner) and ROWS_FLOAT32.get():
                values = inner.astype(np.float32)
                below = values.astype(np.float64) < inner
                values[below] = np.nextafter(values[below], np.float32(np.inf))
            else:
                continue
            container.initializers[at[less.input[1]]] = numpy_helper.from_array(values, less.input[1])
        if double:
            # the bins are written float32 whatever the output's declared type: the double graph was ill-typed
            # (a Concat of float into double), and convert fell back to float32 rows, which no edge can split
            # exactly. The small whole numbers are cast to double.
            final = next(n for n in reversed(added) if operator.outputs[0].full_name in n.output)
            for i, bins in enumerate(list(final.input)):
                cast = scope.get_unique_variable_name("bins_double")
                container.add_node("Cast", [bins], [cast], to=TensorProto.DOUBLE,
                                   name=scope.get_unique_operator_name("Cast"))
                final.input[i] = cast

    _replace(alias, "_onnxgate_kbins", original, convert)


#: skl2onnx's aliases of the feature selectors it converts with ``convert_sklearn_feature_selection``.
SELECTORS = ("SklearnGenericUnivariateSelect", "SklearnRFE", "SklearnRFECV", "SklearnSelectFdr", "SklearnSelectFpr",
             "SklearnSelectFromModel", "SklearnSelectFwe", "SklearnSelectKBest", "SklearnSelectPercentile",
             "SklearnVarianceThreshold")


def register_feature_selection() -> None:
    """skl2onnx's feature selectors wrote ``ConstantOfShape(X)`` for a selector keeping column 0 alone (it tests
    ``index.any()``): SelectKBest(k=1) picking a wine column 0 made convert write, silently, a file
    onnxruntime cannot load (validate: model_wellformed failed). Written by
    :func:`onnxgate.converters._sklearn_extra.convert_selection` instead."""
    from onnxgate.converters._sklearn_extra import convert_selection

    for alias in SELECTORS:
        original = _replaceable(alias, "_onnxgate_selection")
        if original is not None:
            _replace(alias, "_onnxgate_selection", original, convert_selection)


def register_tuned_threshold() -> None:
    """skl2onnx wrote a TunedThresholdClassifierCV's label as its estimator's, at the default threshold: 12 of
    569 breast_cancer labels differed (helper-71), and onnxgate refused it. Written with its tuned threshold
    by :func:`onnxgate.converters._sklearn_extra.convert_threshold_classifier`."""
    from onnxgate.converters._sklearn_extra import convert_threshold_classifier

    original = _replaceable("SklearnTunedThresholdClassifierCV", "_onnxgate_threshold")
    if original is not None:
        _replace("SklearnTunedThresholdClassifierCV", "_onnxgate_threshold", original, convert_threshold_classifier)


def register_function_transformer() -> None:
    """A FunctionTransformer of a numpy function written as its nodes
    (:func:`onnxgate.converters._sklearn_graph.numpy_steps`: ``np.log1p``, ``np.abs``, ``np.sign``, ``np.floor``,
    ``np.sin``, ``np.clip`` with ``kw_args={"a_min": ..., "a_max": ...}``, ``np.round`` with ``decimals``...), where
    skl2onnx refuses any function but the identity ("FunctionTransformer is not supported unless the transform
    function is None"): ``make_pipeline(FunctionTransformer(np.log1p), ...)`` is how skewed columns are usually
    fed. The nodes compute in the graph's float type (integers too: ``np.reciprocal`` of an integer, numpy's
    integer division, is refused). Any other function (a lambda) is refused by name; the identity
    (``func=None``) is left to skl2onnx."""
    import numpy as np

    from onnxgate.converters._sklearn_extra import GraphWriter, graph_dtype, input_matrix
    from onnxgate.converters._sklearn_graph import exact_function, numpy_functions_written, numpy_steps

    alias = "SklearnFunctionTransformer"
    original = _replaceable(alias, "_onnxgate_function")
    if original is None:
        return
    from skl2onnx.common._registration import _shape_calculator_pool

    original_shape = _shape_calculator_pool.get(alias)

    def steps_of(est: Any) -> list[tuple[str, list[Any]]] | None:
        """The function's nodes; None for the identity; any other function refused by name."""
        func = est.func
        if func is None:
            return None
        steps = numpy_steps(func, est.kw_args)
        if steps is not None:
            return steps
        import numpy as np

        from onnxgate.errors import UnsupportedModelError

        name = getattr(func, "__name__", None)
        # numpy.tan was refused as "a Python function", which it is not
        why = "a Python function cannot be read into a graph"
        if isinstance(func, np.ufunc) and getattr(np, name or "", None) is func:
            why = f"numpy.{name} is not among the functions written"
            if name in ("tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh"):
                why += (f" (ONNX's {name.replace('arc', 'a').capitalize()} has no double kernel in onnxruntime, "
                        "so a double graph could not hold it)")
        raise UnsupportedModelError(
            f"FunctionTransformer(func={name or repr(func)}{f', kw_args={est.kw_args!r}' if est.kw_args else ''}) "
            f"is not converted: {why}. onnxgate writes func="
            f"{numpy_functions_written()} (clip with kw_args a_min/a_max, round with decimals, the others without "
            "kw_args); refit with one of those, or with a scikit-learn transformer that does the same",
            framework="sklearn")

    def shape(operator: Any) -> None:
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

        if steps_of(operator.raw_operator) is None:
            if original_shape is not None:
                original_shape(operator)
            return
        width = sum(v.get_second_dimension() or 0 for v in operator.inputs) or None
        kind = DoubleTensorType if graph_dtype(operator) == np.float64 else FloatTensorType
        operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), width])

    def convert(scope: Any, operator: Any, container: Any) -> None:
        steps = steps_of(operator.raw_operator)
        if steps is None:
            original(scope, operator, container)
            return
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

        if steps == [("Reciprocal", [None])] and not all(
                isinstance(v.type, (FloatTensorType, DoubleTensorType)) for v in operator.inputs):
            from onnxgate.errors import UnsupportedModelError

            raise UnsupportedModelError(
                "FunctionTransformer(func=reciprocal) of integer columns is not converted: numpy divides integers "
                "(1/2 is 0), the graph would not. Cast the columns to float before it (np.reciprocal(X.astype(float)))",
                framework="sklearn")
        dtype = graph_dtype(operator)
        w = GraphWriter(scope, container, dtype)
        value = input_matrix(scope, operator, container)
        for i, (op, inputs) in enumerate(steps):
            out = operator.outputs[0].full_name if i == len(steps) - 1 else None
            if op.startswith("exact "):  # log1p, expm1: several nodes
                value = w.node("Identity", exact_function(op, value, w.node, w.const), out=out)
                continue
            fed = [value if v is None else w.const(v) for v in inputs]
            value = w.node(op, *fed, out=out)

    _replace(alias, "_onnxgate_function", original, convert, shape)


#: The name (its start) of the tree ensemble :func:`register_double_isolation_forest` writes: it writes the number
#: of the leaf a row reaches, exact in float32, so a graph holding it computes in double.
LEAF_NUMBERS = "onnxgate_leaf_numbers"


def register_double_isolation_forest() -> None:
    """IsolationForest in a double graph: skl2onnx 1.20 could not write it (its node counts and path lengths
    are float32 ``LabelEncoder`` outputs multiplied with double constants: "Conflicted constraint 'T' ...
    operator=Add"), so a float64 sample fell back to a float32 graph (``decision_function`` 1.2e-7 off on
    breast_cancer) and ``precision="float64"`` was refused.

    Its double form here computes as ``score_samples`` does: the rows cast to float32 (scikit-learn scores
    ``float32(X)``), one ``TreeEnsembleRegressor`` holding every tree (its feature ids mapped to the row's
    columns: ``estimators_features_``) writing the number of the leaf a row reaches in its tree's column
    (whole numbers, exact in float32, below 2**24); each leaf's depth term (``_decision_path_lengths +
    _average_path_length_per_tree - 1``, float64) picked (``Gather``) and added tree after tree (``CumSum``,
    scikit-learn's order), then ``-2 ** -(depths / (trees * c(max_samples)))``, minus ``offset_``, and the
    label ``-1`` where that is below 0. Only ai.onnx.ml 1 operators: an old runtime's cap takes it. A float
    input, a model of one training row (a depth of 0) or opset below 11 (``CumSum``) keep skl2onnx's."""
    import numpy as np

    original = _replaceable("SklearnIsolationForest", "_onnxgate_double_iforest")
    if original is None:
        return

    def convert(scope: Any, operator: Any, container: Any) -> None:
        from onnx import TensorProto
        from skl2onnx.common import tree_ensemble
        from skl2onnx.common.data_types import DoubleTensorType
        from sklearn.ensemble._iforest import _average_path_length

        model = operator.raw_operator
        denominator = len(model.estimators_) * float(_average_path_length([model._max_samples])[0])
        if (not isinstance(operator.inputs[0].type, DoubleTensorType) or container.target_opset < 11
                or denominator == 0):
            original(scope, operator, container)
            return
        name = scope.get_unique_variable_name

        def const(value: Any, base: str) -> str:
            tensor = name(base)
            array = np.asarray(value)
            kind = {np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.int64): TensorProto.INT64}[array.dtype]
            container.add_initializer(tensor, kind, list(array.shape), array.ravel().tolist())
            return tensor

        def node(op: str, inputs: list[str], out: str | None = None, **attributes: Any) -> str:
            out = out or name(op.lower())
            container.add_node(op, inputs, out, name=scope.get_unique_operator_name(op), **attributes)
            return out

        attrs = tree_ensemble.get_default_tree_regressor_attribute_pairs()
        values: list[Any] = []
        for t, (tree, features) in enumerate(zip(model.estimators_, model.estimators_features_)):
            written = len(attrs["nodes_featureids"])
            targets = len(attrs["target_nodeids"])
            tree_ensemble.add_tree_to_attribute_pairs(attrs, False, tree.tree_, t, 1.0, t, False, True,
                                                      dtype=np.float32)
            columns = np.asarray(features, dtype=np.int64)
            attrs["nodes_featureids"][written:] = [int(columns[f]) for f in attrs["nodes_featureids"][written:]]
            leaves = np.asarray(attrs["target_nodeids"][targets:], dtype=np.int64)
            depth = (model._decision_path_lengths[t][leaves] + model._average_path_length_per_tree[t][leaves]
                     - 1.0)
            attrs["target_weights"][targets:] = [float(len(values) + j) for j in range(len(leaves))]
            values.extend(np.asarray(depth, dtype=np.float64).tolist())
        if len(values) >= 2**24:
            original(scope, operator, container)
            return
        attrs["n_targets"] = len(model.estimators_)
        attrs["post_transform"] = "NONE"
        attrs["name"] = scope.get_unique_operator_name(LEAF_NUMBERS)
        rows = node("Cast", [operator.inputs[0].full_name], to=TensorProto.FLOAT)
        leaf = name("leaf_number")
        container.add_node("TreeEnsembleRegressor", rows, leaf, op_domain="ai.onnx.ml", op_version=1, **attrs)
        picked = node("Gather", [const(np.asarray(values, dtype=np.float64), "depths"),
                                 node("Cast", [leaf], to=TensorProto.INT64)], axis=0)
        running = node("CumSum", [picked, const(np.array(1, dtype=np.int64), "axis")])
        depths = node("Gather", [running, const(np.array([len(model.estimators_) - 1], dtype=np.int64), "last")],
                      axis=1)
        ratio = node("Div", [depths, const(np.array([denominator], dtype=np.float64), "denominator")])
        scores = node("Neg", [node("Pow", [const(np.array([2.0]), "two"), node("Neg", [ratio])])],
                      operator.outputs[2].full_name if len(operator.outputs) > 2 else None)
        decision = node("Sub", [scores, const(np.array([float(model.offset_)]), "offset")],
                        operator.outputs[1].full_name)
        outlier = node("Cast", [node("Less", [decision, const(np.array([0.0]), "zero")])], to=TensorProto.INT64)
        node("Add", [node("Mul", [outlier, const(np.array([-2], dtype=np.int64), "minus_two")]),
                     const(np.array([1], dtype=np.int64), "one")], operator.outputs[0].full_name)

    from skl2onnx.shape_calculators.isolation_forest import calculate_isolation_forest_output_shapes

    def shape(operator: Any) -> None:
        calculate_isolation_forest_output_shapes(operator)
        if len(operator.outputs) > 2:  # the score_samples option's: its shape was left unset (checker: "Field
            # 'shape' of 'type' is required but missing")
            operator.outputs[2].type.shape = [operator.inputs[0].get_first_dimension(), 1]

    _replace("SklearnIsolationForest", "_onnxgate_double_iforest", original, convert, shape)


def register_gradient_boosting_init() -> None:
    """GradientBoosting fitted with ``init=`` an estimator (``LinearRegression()``, a quantile ``DummyRegressor``,
    ``LogisticRegression()`` for a classifier), which skl2onnx refuses ("Setting init to an estimator is not
    supported"). scikit-learn's raw score (``_raw_predict_init``) is the init estimator's answer on ``X`` as float32
    (``predict`` for a regressor; for a classifier ``predict_proba`` clipped to ``[eps, 1 - eps]`` through the
    loss's link: ``logit(p)`` of the positive class, half of it for the exponential loss, ``log(p / gmean(p))``
    for several classes) plus ``learning_rate`` times the trees' sum; a classifier's probabilities are its inverse
    link (``Sigmoid``, of twice the score for the exponential loss, ``Softmax``), its label the score at or above 0
    or the first largest. The trees are written as one ``TreeEnsembleRegressor`` without base values (a regressor's
    by skl2onnx's converter as ``init="zero"``), summed in double in a double graph
    (:func:`onnxgate.converters._sklearn_graph.double_tree_leaves`), and the init estimator, converted by its own
    converter (a Pipeline step by step), is added to their sum. Where scikit-learn answers the float32 rows in
    float32 (a LinearRegression or Ridge fitted on them holds float32 coefficients) the init stays float32: its
    answer is scikit-learn's float32 sum, whose order no graph reproduces, and on diabetes a double product is
    3.3e-5 from it where ai.onnx.ml's float32 LinearRegressor is 3.1e-5 (2 float32 steps at 150): double is no
    closer. A DummyClassifier, DummyRegressor, a tree or ``init="zero"`` is written in double (within 2e-13). With
    skl2onnx's ``raw_scores`` (a CalibratedClassifierCV around it, which reads
    ``decision_function``) the classifier's scores take the probabilities' place, as for the default init (it
    was refused)."""
    for alias in ("SklearnGradientBoostingRegressor", "SklearnGradientBoostingClassifier"):
        original = _replaceable(alias, "_onnxgate_boosting_init")
        if original is not None:
            _replace(alias, "_onnxgate_boosting_init", original, _boosting_with_init(original))


def _boosting_with_init(original: Any) -> Any:
    def convert(scope: Any, operator: Any, container: Any) -> None:
        import copy

        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

        from onnxgate.converters._sklearn_extra import GraphWriter, graph_dtype

        model = operator.raw_operator
        classifier = hasattr(model, "classes_")
        # a CalibratedClassifierCV reads the member's decision_function (skl2onnx's raw_scores); it was refused
        raw_scores = classifier and bool(container.get_options(model, {"raw_scores": False}).get("raw_scores"))
        if model.init in (None, "zero") and raw_scores and model.loss == "exponential":
            _exponential_raw_scores(original, scope, operator, container)
            return
        if model.init in (None, "zero"):
            original(scope, operator, container)
            return
        double = isinstance(operator.inputs[0].type, DoubleTensorType)
        kind = DoubleTensorType if double else FloatTensorType
        sums = scope.declare_local_variable("boosting_trees", kind())
        if classifier:
            _boosting_trees(scope, operator, container, sums.full_name)
        else:
            trees_only = copy.copy(model)
            trees_only.init = "zero"
            sub = copy.copy(operator)
            sub.raw_operator, sub.outputs = trees_only, [sums]
            original(scope, sub, container)
        w = GraphWriter(scope, container, graph_dtype(operator))
        init = _init_raw(scope, operator, container, w)
        raw = w.node("Add", w.node("Cast", sums.full_name, to=w.float_type), init)
        if not classifier:
            w.node("Identity", raw, out=operator.outputs[0].full_name)
            return
        _boosting_answer(w, model, raw, operator.outputs[0].full_name, operator.outputs[1].full_name, raw_scores)

    return convert


def _exponential_raw_scores(original: Any, scope: Any, operator: Any, container: Any) -> None:
    """GradientBoostingClassifier(loss="exponential")'s raw scores (``decision_function``, skl2onnx's ``raw_scores``
    option, which a CalibratedClassifierCV around it asks for). skl2onnx's converter writes the exponential
    loss's link, ``Sigmoid(2 * scores)``, whether or not raw scores were asked for, so the calibration read
    probabilities as scores: 13 of 569 breast_cancer labels wrong, probabilities 0.46 off. Its log-loss
    writing is the same trees and base values without the link (the base values are ``_raw_predict_init``'s,
    which reads the fitted loss, the exponential's half logit): a copy of the model whose ``loss`` reads
    ``"log_loss"`` is given to it, asked for the raw scores too."""
    import copy

    as_log_loss = copy.copy(operator.raw_operator)
    as_log_loss.loss = "log_loss"
    container.add_options(id(as_log_loss), {"raw_scores": True})
    sub = copy.copy(operator)
    sub.raw_operator = as_log_loss
    original(scope, sub, container)


def _boosting_trees(scope: Any, operator: Any, container: Any, out: str) -> None:
    """A GradientBoostingClassifier's trees as one ``TreeEnsembleRegressor`` of a column per raw score (one for two
    classes), each tree's leaves times ``learning_rate``, base values 0, no post-transform."""
    import numpy as np
    from skl2onnx.common.tree_ensemble import add_tree_to_attribute_pairs, get_default_tree_regressor_attribute_pairs

    from onnxgate.converters._sklearn_extra import input_matrix

    model = operator.raw_operator
    per_stage = int(model.estimators_.shape[1])
    attrs = get_default_tree_regressor_attribute_pairs()
    attrs["name"] = scope.get_unique_operator_name("TreeEnsembleRegressor")
    attrs["n_targets"] = per_stage
    attrs["base_values"] = [0.0] * per_stage  # as skl2onnx writes a regressor's of init="zero"
    dtype = np.float64 if graph_dtype_is_double(operator) else np.float32
    for i in range(model.estimators_.shape[0]):
        for k in range(per_stage):
            add_tree_to_attribute_pairs(attrs, False, model.estimators_[i][k].tree_, i * per_stage + k,
                                        model.learning_rate, k, False, True, dtype=dtype)
    for key in ("nodes_values", "target_weights", "nodes_hitrates", "base_values"):
        attrs[key] = np.array(attrs[key], dtype=dtype)
    container.add_node("TreeEnsembleRegressor", [input_matrix(scope, operator, container)], [out],
                       op_domain="ai.onnx.ml", op_version=1, **attrs)


def graph_dtype_is_double(operator: Any) -> bool:
    from skl2onnx.common.data_types import DoubleTensorType

    return isinstance(operator.inputs[0].type, DoubleTensorType)


def _init_raw(scope: Any, operator: Any, container: Any, w: Any) -> str:
    """A GradientBoosting model's init estimator's raw score (``_init_raw_predictions``), ``[N, K]`` in the
    graph's float type, of the rows as float32 (``predict`` reads them so)."""
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxIdentity
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    from onnxgate.converters._sklearn_extra import sub_estimator

    model = operator.raw_operator
    classifier = hasattr(model, "classes_")
    if classifier and len(model.classes_) == 2 and _sigmoid_of_decision(_last_step(model.init_)):
        return _logistic_init_raw(operator, w)
    double = graph_dtype_is_double(operator)
    narrow = False
    read = operator.inputs[0]
    if double:
        narrow = _answers_float32(model.init_, model.n_features_in_, classifier)
        rounded = scope.declare_local_variable("boosting_init_float32", FloatTensorType(read.type.shape))
        # named for convert where the init then answers in float32, as scikit-learn's does: a GaussianNB's float32
        # probability near 1 is a step of 6e-8 from the next, which the link's logit turns into raw scores 14.5
        # apart from 36.0 (breast_cancer), and float64's tolerance (1e-7) failed a right file by 1.4e-5
        container.add_node("Cast", [read.full_name], [rounded.full_name], to=1,
                           name=scope.get_unique_operator_name(FLOAT32_AS_SCIKIT_LEARN if narrow else "Cast"))
        read = rounded
        if not narrow:
            read = scope.declare_local_variable("boosting_init_input", DoubleTensorType(read.type.shape))
            container.add_node("Cast", [rounded.full_name], [read.full_name], to=11,
                               name=scope.get_unique_operator_name("Cast"))
    opv = container.target_opset
    init = _as_fitted(model.init_) if narrow else model.init_
    sub = sub_estimator(init, read, opv, options={"zipmap": False} if classifier else None)
    answer = scope.get_unique_variable_name("boosting_init_answer")
    OnnxIdentity(sub[1] if classifier else sub, op_version=opv, output_names=[answer]).add_to(
        scope=scope, container=container)
    value = w.node("Cast", answer, to=w.float_type)
    if not classifier:
        return w.node("Reshape", value, w.const([-1, 1], np.int64))
    eps = float(np.finfo(np.float64).eps)
    if len(model.classes_) == 2:
        value = w.node("Gather", value, w.const([1], np.int64), axis=1)
    p = w.node("Min", w.node("Max", value, w.const(eps)), w.const(1.0 - eps))
    if len(model.classes_) == 2:
        logit = w.node("Log", w.node("Div", p, w.node("Sub", w.const(1.0), p)))
        return w.node("Mul", logit, w.const(0.5)) if model.loss == "exponential" else logit
    log_p = w.node("Log", p)
    return w.node("Sub", log_p, w.node("ReduceMean", log_p, axes=[1], keepdims=1))




#: The name of the node where a double graph rounds a GradientBoostingClassifier's init LogisticRegression's
#: decision to float32, as scikit-learn computes it (:func:`_logistic_init_raw`).
FLOAT32_AS_SCIKIT_LEARN = "Cast_float32_as_scikit_learn"


def _sigmoid_of_decision(init: Any) -> bool:
    """Whether a binary GradientBoostingClassifier's ``init_`` answers ``predict_proba`` as scipy's ``expit`` of
    its ``decision_function``, ``X @ coef_.T + intercept_`` (a LogisticRegression's ``_predict_proba_lr``)."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    return type(init) in (LogisticRegression, LogisticRegressionCV) and len(init.classes_) == 2


def _logistic_init_raw(operator: Any, w: Any) -> str:
    """A binary GradientBoostingClassifier's raw init score when ``init_`` is a LogisticRegression, ``[N, 1]``
    in the graph's float type, as scikit-learn computes it: the LogisticRegression, fitted on float32 rows,
    holds float32 ``coef_`` and answers ``decision_function`` ``z`` and ``expit(z)`` in float32; that
    probability, clipped to ``[eps, 1 - eps]`` in double, goes through ``logit`` (half of it for the
    exponential loss). Near 1 a float32 probability is 6e-8 apart from the next, and its logit turns an ulp
    into 6e-8 / (1 - p); below ``eps`` (z under -36) the clip answers ``logit(eps)``, and from z = 16.6 the
    probability is 1.0 and the clip answers 36.04: ``logit(p)`` is not ``z`` there, so it is mirrored, not
    replaced by ``z``. ai.onnx.ml's float32 LinearClassifier wrote the negative side's probability as
    ``1 - Sigmoid(|z|)``, 0 from z = -17 on: raw scores of -36.04 where scikit-learn's are z, which a
    CalibratedClassifierCV around it turned into probabilities 1.5e-3 off (breast_cancer). Here ``z`` is the
    exact product of the float32 rows and coefficients, rounded to float32 (scikit-learn's float32 sum is
    within 2e-5 of it on breast_cancer), plus the float32 intercept; ``expit`` is ``1 / (1 + exp(-z))`` in
    float32 with ``exp`` rounded from double (scipy's float32 ``expit``; an ulp apart on 1 in 3,000 values,
    where the probability is below 1e-4); the link in double. An ``init_`` answering float64 (fitted on
    float64 rows outside ``fit``) is mirrored in double."""
    import numpy as np
    from onnx import TensorProto

    from onnxgate.converters._sklearn_extra import input_matrix

    model = operator.raw_operator
    kind = np.float32 if _answers_float32(model.init_, model.n_features_in_, True) else np.float64
    onnx_kind = TensorProto.FLOAT if kind == np.float32 else TensorProto.DOUBLE
    rows = w.node("Cast", input_matrix(w.scope, operator, w.container), to=TensorProto.FLOAT)
    init = model.init_
    if hasattr(init, "steps"):
        # a Pipeline ending in the LogisticRegression: its steps before, each by its own converter, on the rows as
        # scikit-learn feeds them (float32; a StandardScaler answers them in float32)
        from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxIdentity
        from skl2onnx.common.data_types import FloatTensorType

        from onnxgate.converters._sklearn_extra import sub_estimator

        opv = w.container.target_opset
        read = w.scope.declare_local_variable("init_rows", FloatTensorType([None, model.n_features_in_]))
        OnnxIdentity(rows, op_version=opv, output_names=[read]).add_to(w.scope, w.container)
        steps = [step for _, step in init.steps if step is not None and step != "passthrough"]
        for step in steps[:-1]:
            done = w.scope.declare_local_variable("init_steps", FloatTensorType())
            OnnxCast(sub_estimator(step, read, opv), to=TensorProto.FLOAT, op_version=opv,
                     output_names=[done]).add_to(w.scope, w.container)
            read = done
        rows = read.full_name
        init = steps[-1]
    init = _as_fitted(init)
    # the rows as the LogisticRegression reads them (float32), exactly widened: their product with the
    # coefficients in double is exact to a double's rounding
    rows = w.node("Cast", rows, to=TensorProto.DOUBLE)
    product = w.node("MatMul", rows, w.const(np.asarray(init.coef_, dtype=np.float64).T, dtype=np.float64))
    rounded = w.scope.get_unique_variable_name("init_decision")
    # named for convert, which records that the double graph computes this part in float32
    w.container.add_node("Cast", [product], [rounded], to=onnx_kind,
                         name=w.scope.get_unique_operator_name(FLOAT32_AS_SCIKIT_LEARN))
    z = w.node("Add", rounded,
               w.const(np.asarray(init.intercept_, dtype=kind).reshape(1, 1), dtype=kind))
    exp = w.node("Cast", w.node("Exp", w.node("Neg", w.node("Cast", z, to=TensorProto.DOUBLE))), to=onnx_kind)
    one = w.const(np.ones((1, 1)), dtype=kind)
    p = w.node("Cast", w.node("Div", one, w.node("Add", one, exp)), to=TensorProto.DOUBLE)
    eps = float(np.finfo(np.float64).eps)
    p = w.node("Min", w.node("Max", p, w.const(eps, dtype=np.float64)), w.const(1.0 - eps, dtype=np.float64))
    logit = w.node("Log", w.node("Div", p, w.node("Sub", w.const(1.0, dtype=np.float64), p)))
    if model.loss == "exponential":
        logit = w.node("Mul", logit, w.const(0.5, dtype=np.float64))
    return w.node("Cast", logit, to=w.float_type)


def _boosting_answer(w: Any, model: Any, raw: str, label: str, probabilities: str, raw_scores: bool = False) -> None:
    """A GradientBoostingClassifier's probabilities and label of its raw scores ``raw`` (``[N, K]``); with
    ``raw_scores`` the scores in place of the probabilities, laid out as skl2onnx writes them for the default init
    (two classes: ``[-d, d]``), which a CalibratedClassifierCV around it reads."""
    import numpy as np
    from onnx import TensorProto

    classes = model.classes_
    labels = (w.const(classes.astype(np.int64), dtype=np.int64) if classes.dtype.kind in "biu"
              else w.const(classes.astype(str), dtype=object))
    if raw_scores and len(classes) == 2:
        w.node("Concat", w.node("Neg", raw), raw, out=probabilities, axis=1)
    elif raw_scores:
        w.node("Identity", raw, out=probabilities)
    if len(classes) == 2:
        if not raw_scores:
            positive = w.node("Sigmoid", w.node("Mul", raw, w.const(2.0)) if model.loss == "exponential" else raw)
            w.node("Concat", w.node("Sub", w.const(np.ones((1, 1))), positive), positive, out=probabilities, axis=1)
        side = w.node("Not", w.node("Less", raw, w.const(np.zeros((1, 1)))))
        position = w.node("Reshape", w.node("Cast", side, to=TensorProto.INT64),
                          w.const([-1], np.int64))
    else:
        if not raw_scores:
            w.node("Softmax", raw, out=probabilities, axis=1)
        position = w.node("ArgMax", raw, axis=1, keepdims=0)
    w.node("Gather", labels, position, out=label, axis=0)


def _as_fitted(init: Any) -> Any:
    """A GradientBoosting model's ``init_`` with its fitted float arrays float32 again where they hold float32
    values: it was fitted on float32 rows, and a float64 graph's copy of the model has them widened
    (:func:`onnxgate.converters._sklearn_models.float64_attributes`)."""
    import copy

    import numpy as np

    narrowed = copy.deepcopy(init)
    for key, value in vars(narrowed).items():
        if key.endswith("_") and key != "classes_" and isinstance(value, np.ndarray) and value.dtype == np.float64 \
                and np.array_equal(value.astype(np.float32), value):
            setattr(narrowed, key, value.astype(np.float32))
    return narrowed


def _answers_float32(init: Any, features: int, classifier: bool) -> bool:
    """Whether a GradientBoosting model's ``init_`` answers float32 rows in float32 (a LinearRegression fitted on
    them; a DummyRegressor answers its float64 constant), as ``predict`` feeds it."""
    import numpy as np

    fitted = _as_fitted(init)
    rows = np.zeros((1, features), dtype=np.float32)
    answer = fitted.predict_proba(rows) if classifier else fitted.predict(rows)
    return bool(np.asarray(answer).dtype == np.float32)

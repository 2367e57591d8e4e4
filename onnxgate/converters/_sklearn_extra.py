"""Converters skl2onnx 1.20 lacks, registered with it: transformers whose ``transform`` is affine
(FastICA, FactorAnalysis, SparsePCA, MiniBatchSparsePCA, FeatureAgglomeration with mean pooling, PLSSVD,
SparseRandomProjection) and the cross decompositions CCA and PLSCanonical, whose ``predict`` is, the
kernel approximations RBFSampler, SkewedChi2Sampler and Nystroem, SplineTransformer, BernoulliRBM, MissingIndicator,
IsotonicRegression, KernelRidge, DummyRegressor, DummyClassifier, NearestCentroid, LabelPropagation and
LabelSpreading (rbf kernel), RegressorChain, ClassifierChain, SequentialFeatureSelector, FixedThresholdClassifier (and
TunedThresholdClassifierCV, whose threshold skl2onnx's converter leaves out), the clusterers
AffinityPropagation, MeanShift and Birch, and the outlier detector EllipticEnvelope.
Installed once, by :func:`onnxgate.converters.sklearn._skl2onnx`; each file they write is checked by
parity like any other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Estimators whose answer is ``X @ A + b`` for a fixed ``A`` and ``b`` (a centring and a projection,
#: FactorAnalysis's posterior mean, SparsePCA's ridge regression onto its components, a random projection),
#: by the scikit-learn module holding them: ``transform`` for a transformer, ``predict`` for the
#: regressors CCA and PLSCanonical (a standardisation, then their coefficients).
AFFINE = {"FastICA": "decomposition", "FactorAnalysis": "decomposition", "SparsePCA": "decomposition",
          "MiniBatchSparsePCA": "decomposition", "FeatureAgglomeration": "cluster", "PLSSVD": "cross_decomposition",
          "CCA": "cross_decomposition", "PLSCanonical": "cross_decomposition",
          "SparseRandomProjection": "random_projection"}

#: Unit rows :func:`_affine_parts` probes a model with at once: 2**24 values (128 MB of float64).
_PROBE_VALUES = 1 << 24

#: KernelRidge and Nystroem kernels written here (scikit-learn's pairwise kernels by those names).
KERNELS = ("linear", "rbf", "poly", "polynomial", "sigmoid")


def register_missing_converters() -> None:
    """Register each converter below with skl2onnx, once."""
    import importlib

    import sklearn.cluster as cluster
    from skl2onnx import update_registered_converter
    from skl2onnx.common._registration import _converter_pool
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    from skl2onnx.shape_calculators.feature_selection import calculate_sklearn_select
    from sklearn.covariance import EllipticEnvelope
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.feature_selection import SequentialFeatureSelector
    from sklearn.impute import MissingIndicator
    from sklearn.isotonic import IsotonicRegression
    from sklearn.kernel_approximation import Nystroem, RBFSampler, SkewedChi2Sampler
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.multioutput import ClassifierChain, RegressorChain
    from sklearn.neighbors import NearestCentroid
    from sklearn.neural_network import BernoulliRBM
    from sklearn.preprocessing import SplineTransformer
    from sklearn.semi_supervised import LabelPropagation, LabelSpreading

    if "OnnxgateKernelRidge" in _converter_pool:
        return
    for name, module in AFFINE.items():
        agglomeration = name == "FeatureAgglomeration"  # a ClusterMixin: skl2onnx would give it a label output
        update_registered_converter(getattr(importlib.import_module(f"sklearn.{module}"), name), f"Onnxgate{name}",
                                    _affine_shape, _convert_affine,
                                    parser=transform_only_parser if agglomeration else None)
    update_registered_converter(BernoulliRBM, "OnnxgateBernoulliRBM", width_shape(lambda op: op.n_components),
                                _convert_rbm)
    update_registered_converter(RegressorChain, "OnnxgateRegressorChain",
                                width_shape(lambda op: len(op.estimators_)), _convert_regressor_chain)
    update_registered_converter(ClassifierChain, "OnnxgateClassifierChain", _classifier_chain_shape,
                                _convert_classifier_chain, parser=_classifier_chain_parser,
                                options={"zipmap": [False]})  # onnxgate's, for a classifier ending a pipeline
    update_registered_converter(SplineTransformer, "OnnxgateSplineTransformer",
                                width_shape(lambda op: op.n_features_out_), _convert_splines)
    for kind in (cluster.AffinityPropagation, cluster.MeanShift):
        update_registered_converter(kind, f"Onnxgate{kind.__name__}", _label_shape, _convert_nearest_center,
                                    parser=_label_only)
    update_registered_converter(cluster.Birch, "OnnxgateBirch", _birch_shape, _convert_birch)
    update_registered_converter(EllipticEnvelope, "OnnxgateEllipticEnvelope", _outlier_shape,
                                _convert_elliptic_envelope)
    for kind in (RBFSampler, SkewedChi2Sampler):
        update_registered_converter(kind, f"Onnxgate{kind.__name__}", width_shape(lambda op: op.n_components),
                                    _convert_random_features)
    update_registered_converter(Nystroem, "OnnxgateNystroem",
                                width_shape(lambda op: op.normalization_.shape[0]), _convert_nystroem)
    update_registered_converter(DummyRegressor, "OnnxgateDummyRegressor",
                                width_shape(lambda op: op.constant_.shape[1]), _convert_dummy_regressor)
    # a classifier: skl2onnx's parser gives it a label and a probabilities output, and handles zipmap
    classifier = {"zipmap": [True, False, "columns"], "nocl": [True, False]}
    update_registered_converter(DummyClassifier, "OnnxgateDummyClassifier", calculate_linear_classifier_output_shapes,
                                _convert_dummy_classifier, options=classifier)
    update_registered_converter(NearestCentroid, "OnnxgateNearestCentroid", calculate_linear_classifier_output_shapes,
                                _convert_nearest_centroid, options=classifier)
    for kind in (LabelPropagation, LabelSpreading):
        update_registered_converter(kind, f"Onnxgate{kind.__name__}", calculate_linear_classifier_output_shapes,
                                    _convert_label_propagation, options=classifier)
    update_registered_converter(MissingIndicator, "OnnxgateMissingIndicator", _indicator_shape, _convert_indicator)
    update_registered_converter(IsotonicRegression, "OnnxgateIsotonicRegression", width_shape(lambda _: 1),
                                _convert_isotonic)
    update_registered_converter(KernelRidge, "OnnxgateKernelRidge",
                                width_shape(lambda op: 1 if op.dual_coef_.ndim == 1 else op.dual_coef_.shape[1]),
                                _convert_kernel_ridge)
    update_registered_converter(SequentialFeatureSelector, "OnnxgateSequentialFeatureSelector",
                                calculate_sklearn_select, convert_selection)
    update_registered_converter(FixedThresholdClassifier, "OnnxgateFixedThresholdClassifier",
                                calculate_linear_classifier_output_shapes, convert_threshold_classifier,
                                options=classifier)


def convert_selection(scope: Any, operator: Any, container: Any) -> None:
    """A feature selector's kept columns (``get_support``), picked by one ArrayFeatureExtractor: skl2onnx's
    converter of the selectors it knows, with one fault left out (it tested ``index.any()``, so a selector
    keeping column 0 alone wrote ``ConstantOfShape(X)``, a graph onnxruntime cannot load), and the one of
    SequentialFeatureSelector, for which skl2onnx has none."""
    import numpy as np

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    index = model.get_support(indices=True)
    if len(index) == 0:
        raise UnsupportedModelError(
            f"{type(model).__name__} keeps no feature, so the steps after it read an empty matrix. Refit it to keep "
            "at least one (a lower threshold, or k/n_features_to_select of 1 or more), or remove the step",
            framework="sklearn")
    w = GraphWriter(scope, container, np.float32)
    w.node("ArrayFeatureExtractor", operator.inputs[0].full_name, w.const(index, np.int64, "column_indices"),
           out=operator.outputs[0].full_name, op_domain="ai.onnx.ml")


def threshold_of(model: Any) -> float:
    """The threshold a FixedThresholdClassifier or TunedThresholdClassifierCV compares its estimator's
    probability of ``pos_label`` with (``"auto"``: 0.5)."""
    threshold = getattr(model, "best_threshold_", getattr(model, "threshold", "auto"))
    return 0.5 if isinstance(threshold, str) else float(threshold)


def pos_label_of(model: Any) -> Any:
    """The class whose probability a threshold classifier compares: FixedThresholdClassifier's ``pos_label``, a
    TunedThresholdClassifierCV's scorer's (``make_scorer(f1_score, pos_label=0)``); None for ``classes_[1]``."""
    if hasattr(model, "pos_label"):
        return model.pos_label
    scorer = getattr(model, "_curve_scorer", None)  # scikit-learn's own predict reads it there
    return scorer._get_pos_label() if scorer is not None else None


def convert_threshold_classifier(scope: Any, operator: Any, container: Any) -> None:
    """A FixedThresholdClassifier or TunedThresholdClassifierCV: its estimator's probabilities as they are,
    and as label ``pos_label`` (``classes_[1]`` without one) where its probability is at least the threshold,
    the other class elsewhere, as scikit-learn's ``predict``. skl2onnx has no converter for the first, and
    wrote the second's label as its estimator's (at 0.5, leaving the tuned threshold out). Only the
    probability is read here: one scored by ``decision_function`` is refused before conversion."""
    import numpy as np
    from skl2onnx._supported_operators import sklearn_operator_name_map

    model = operator.raw_operator
    classes = np.asarray(model.classes_)
    pos_label = pos_label_of(model)
    pos = 1 if pos_label is None else int(np.flatnonzero(classes == pos_label)[0])
    inner = scope.declare_local_operator(sklearn_operator_name_map[type(model.estimator_)], model.estimator_)
    inner.inputs = operator.inputs
    label = scope.declare_local_variable("label_estimator", operator.outputs[0].type.__class__())
    probabilities = scope.declare_local_variable("probabilities_estimator", operator.outputs[1].type.__class__())
    inner.outputs.extend([label, probabilities])
    w = GraphWriter(scope, container, np.float64)
    container.add_node("Identity", [probabilities.onnx_name], [operator.outputs[1].full_name],
                       name=scope.get_unique_operator_name("Identity"))
    column = w.node("Gather", probabilities.onnx_name, w.const(pos, np.int64), axis=1)
    score = w.node("Cast", column, to=w.float_type)  # compared in double, with the threshold as fitted
    threshold = w.const(threshold_of(model))
    above = w.node("Or", w.node("Greater", score, threshold), w.node("Equal", score, threshold))
    picked = w.node("Cast", above, to=_tensor_type(np.int64))
    w.node("Gather", label_constant(w, classes[[1 - pos, pos]]), picked, axis=0, out=operator.outputs[0].full_name)


def float_tensor_type(operator: Any) -> Any:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType


def _probability_dtype(operator: Any) -> Any:
    """A classifier's float type: the one skl2onnx's parser declared its probabilities output in."""
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType

    return np.float64 if isinstance(operator.outputs[1].type, DoubleTensorType) else np.float32


def graph_dtype(operator: Any) -> Any:
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType

    return np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) else np.float32


class GraphWriter:
    """Nodes and constants of one skl2onnx converter, uniquely named in its scope (the converters here
    and onnxgate's in :mod:`onnxgate.converters._skl2onnx_fixes` write through it)."""

    def __init__(self, scope: Any, container: Any, dtype: Any) -> None:
        self.scope, self.container, self.dtype = scope, container, dtype

    @property
    def float_type(self) -> int:
        """The ONNX element type of the graph's floats (FLOAT or DOUBLE)."""
        return _tensor_type(self.dtype)

    def const(self, value: Any, dtype: Any = None, name: str = "const") -> str:
        import numpy as np
        from onnx import helper, numpy_helper

        array = np.asarray(value, dtype=dtype or self.dtype)
        name = self.scope.get_unique_variable_name(name)
        # numbers as raw bytes: a list of Python floats took 1.3 GB for a 40M-value matrix
        content = numpy_helper.from_array(array) if array.dtype.kind in "fiu" else array.reshape(-1).tolist()
        self.container.add_initializer(name, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape), content)
        return name

    def node(self, op: str, *inputs: str, out: str | None = None, **attributes: Any) -> str:
        result = out or self.scope.get_unique_variable_name(op.lower())
        self.container.add_node(op, list(inputs), result, name=self.scope.get_unique_operator_name(op), **attributes)
        return result


def joined_inputs(scope: Any, operator: Any, container: Any) -> str:
    """The operator's inputs as one matrix, as skl2onnx's ``concatenate_variables`` joins them; one input is read
    as it is. skl2onnx looks up each input's width even for one input, and an input of no known shape has none: a
    stacking's final estimator reads its members' answers from one (a StackingRegressor ending in an SVR fell back
    to a float32 graph, "list index out of range"), and a float32 StandardScaler first in a ClassifierChain's later
    link read one too (refused with that message) until :func:`_chain_read` declared its width."""
    from skl2onnx.operator_converters.common import concatenate_variables

    if len(operator.inputs) == 1:
        return str(operator.inputs[0].full_name)
    return str(concatenate_variables(scope, operator.inputs, container))


def input_matrix(scope: Any, operator: Any, container: Any) -> str:
    """The operator's inputs as one matrix of the graph's float type: skl2onnx leaves integer inputs
    as they are, and the float constants of these converters then did not type-check (a KernelRidge
    fitted on int64 digits wrote a file onnxruntime refused). One input is read as it is (:func:`joined_inputs`)."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    features = joined_inputs(scope, operator, container)
    if all(isinstance(v.type, (FloatTensorType, DoubleTensorType)) for v in operator.inputs):
        return features
    floats = scope.get_unique_variable_name("features_float")
    double = all(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
    container.add_node("Cast", [features], [floats], to=TensorProto.DOUBLE if double else TensorProto.FLOAT,
                       name=scope.get_unique_operator_name("Cast"))
    return str(floats)


def _affine_shape(operator: Any) -> None:
    # the answer for one row, not the whole map: it was worked out twice, and on 20,000 features (a
    # SparseRandomProjection to 2,000) each took 16 s of a 56 s conversion
    import numpy as np

    answer, n = _affine_answer(operator.raw_operator)
    width = answer(np.zeros((1, n))).shape[1]
    operator.outputs[0].type = float_tensor_type(operator)([operator.inputs[0].get_first_dimension(), width])


def _affine_answer(model: Any) -> tuple[Callable[[Any], Any], int]:
    """The model's affine answer (``transform``, ``predict`` for a regressor) as ``[rows, width]`` float64,
    and its number of features."""
    import numpy as np
    from sklearn.base import is_regressor

    from onnxgate.errors import UnsupportedModelError

    pooling = getattr(model, "pooling_func", np.mean)
    if pooling is not np.mean:
        raise UnsupportedModelError(
            f"{type(model).__name__} pools its clusters with {getattr(pooling, '__name__', pooling)}, which is not "
            "affine; onnxgate writes it with pooling_func=numpy.mean (the default)",
            framework="sklearn",
        )

    answer = model.predict if is_regressor(model) else model.transform

    def rows(X: Any) -> Any:
        out = np.asarray(answer(X), dtype=np.float64)
        return out.reshape(len(X), -1)  # a regressor of one target answers one value per row

    return rows, int(model.n_features_in_)


def _affine_parts(model: Any) -> tuple[Any, Any]:
    """``A`` and ``b`` with ``transform(X) == X @ A + b`` (``predict`` for a regressor), read off the
    model's own answer (for the zero row, then for each unit row, in blocks), so nothing of its formula
    is copied here."""
    import numpy as np

    rows, n = _affine_answer(model)
    offset = rows(np.zeros((1, n)))
    block = max(1, _PROBE_VALUES // n)
    matrix = np.empty((n, offset.shape[1]))
    for start in range(0, n, block):
        stop = min(n, start + block)
        unit = np.zeros((stop - start, n))
        unit[np.arange(stop - start), np.arange(start, stop)] = 1.0
        matrix[start:stop] = rows(unit) - offset
    return matrix, offset


def _convert_affine(scope: Any, operator: Any, container: Any) -> None:
    matrix, offset = _affine_parts(operator.raw_operator)
    w = GraphWriter(scope, container, graph_dtype(operator))
    product = w.node("MatMul", input_matrix(scope, operator, container), w.const(matrix))
    w.node("Add", product, w.const(offset), out=operator.outputs[0].full_name)


def _indicator_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import BooleanTensorType

    width = len(operator.raw_operator.features_)
    operator.outputs[0].type = BooleanTensorType([operator.inputs[0].get_first_dimension(), width])


def _convert_indicator(scope: Any, operator: Any, container: Any) -> None:
    """``IsNaN`` (or equality with ``missing_values``) of the columns the indicator reports
    (``features_``: those that held a missing value in training, unless ``features="all"``)."""
    import numpy as np

    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    picked = w.node("Gather", input_matrix(scope, operator, container),
                    w.const(np.asarray(model.features_), np.int64), axis=1)
    out = operator.outputs[0].full_name
    missing = model.missing_values
    if isinstance(missing, float) and missing != missing:
        w.node("IsNaN", picked, out=out)
    else:
        w.node("Equal", picked, w.const(missing), out=out)


def width_shape(width: Callable[[Any], Any]) -> Callable[[Any], None]:
    def shape(operator: Any) -> None:
        batch = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = float_tensor_type(operator)([batch, width(operator.raw_operator)])

    return shape


def _convert_isotonic(scope: Any, operator: Any, container: Any) -> None:
    """``np.interp`` over the fitted thresholds: the segment a value falls in is the count of thresholds
    at or below it (clipped to the segments there are), then a line through its two ends; outside the
    fitted range NaN (``out_of_bounds="nan"``) or the end value (``"clip"``). A NaN stays NaN."""

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    xs, ys = model.X_thresholds_, model.y_thresholds_
    if model.out_of_bounds == "raise" or len(xs) < 2:
        raise UnsupportedModelError(
            "IsotonicRegression with out_of_bounds='raise' (or fitted on one distinct value) is not written: "
            "an ONNX model cannot raise on a row. Refit with out_of_bounds='nan' or 'clip'",
            framework="sklearn",
        )
    value = input_matrix(scope, operator, container)
    interpolate(scope, container, value, xs, ys, model.out_of_bounds, graph_dtype(operator),
                out=operator.outputs[0].full_name)


def interpolate(scope: Any, container: Any, value: str, xs: Any, ys: Any, out_of_bounds: str, dtype: Any,
                out: str | None = None) -> str:
    """``np.interp(value, xs, ys)`` of a ``[N, 1]`` tensor (at least two increasing ``xs``), written in
    ``dtype``: the segment a value falls in is the count of ``xs`` at or below it, clipped to the
    segments there are, then a line through its two ends. Outside ``[xs[0], xs[-1]]`` NaN
    (``out_of_bounds="nan"``) or the end value (``"clip"``); a NaN stays NaN."""
    import numpy as np

    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    w = GraphWriter(scope, container, dtype)
    value = w.node("Reshape", value, w.const([-1, 1], np.int64))
    if out_of_bounds == "clip":
        value = w.node("Max", w.node("Min", value, w.const(xs[-1])), w.const(xs[0]))
    at_or_below = w.node("Cast", w.node("Not", w.node("Less", value, w.const(xs[None, :]))),
                         to=w.float_type)
    count = w.node("MatMul", at_or_below, w.const(np.ones((len(xs), 1))))
    segment = w.node("Max", w.node("Min", w.node("Sub", count, w.const(1.0)), w.const(len(xs) - 2.0)), w.const(0.0))
    index = w.node("Cast", segment, to=_tensor_type(np.int64))
    slopes = np.diff(ys) / np.diff(xs)
    start_x = w.node("Gather", w.const(xs[:-1]), index, axis=0)
    start_y = w.node("Gather", w.const(ys[:-1]), index, axis=0)
    slope = w.node("Gather", w.const(slopes), index, axis=0)
    line = w.node("Add", start_y, w.node("Mul", slope, w.node("Sub", value, start_x)))
    if out_of_bounds == "clip":
        return w.node("Identity", line, out=out)
    outside = w.node("Or", w.node("Less", value, w.const(xs[0])), w.node("Greater", value, w.const(xs[-1])))
    return w.node("Where", outside, w.const(np.nan), line, out=out)


def _tensor_type(dtype: Any) -> int:
    import numpy as np
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def _convert_kernel_ridge(scope: Any, operator: Any, container: Any) -> None:
    """``kernel(X, X_fit_) @ dual_coef_`` (:func:`_kernel`)."""
    import numpy as np

    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    kernel = _kernel(w, input_matrix(scope, operator, container), model.X_fit_, "KernelRidge", model.kernel,
                     model.kernel_params, model.gamma, model.degree, model.coef0)
    coef = np.asarray(model.dual_coef_, dtype=np.float64)
    w.node("MatMul", kernel, w.const(coef.reshape(len(coef), -1)), out=operator.outputs[0].full_name)


def _convert_nystroem(scope: Any, operator: Any, container: Any) -> None:
    """``kernel(X, components_) @ normalization_.T`` (:func:`_kernel`)."""
    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    kernel = _kernel(w, input_matrix(scope, operator, container), model.components_, "Nystroem", model.kernel,
                     model.kernel_params, model.gamma, model.degree, model.coef0)
    w.node("MatMul", kernel, w.const(model.normalization_.T), out=operator.outputs[0].full_name)


def _kernel(w: GraphWriter, X: str, fitted: Any, owner: str, kernel: Any, params: Any, gamma: Any, degree: Any,
            coef0: Any) -> str:
    """The ``[N, m]`` kernel between the rows of ``X`` and the ``m`` rows of ``fitted``, for the kernels in
    :data:`KERNELS`, with scikit-learn's defaults where a setting is None (``gamma`` 1/n_features,
    ``degree`` 3, ``coef0`` 1)."""
    import numpy as np

    from onnxgate.errors import UnsupportedModelError

    if kernel not in KERNELS or params:
        raise UnsupportedModelError(
            f"{owner}'s kernel {kernel!r} is not written here: expected one of {list(KERNELS)} without "
            "kernel_params. Refit with one of those",
            framework="sklearn",
        )
    fitted = np.asarray(fitted, dtype=np.float64)
    gamma = gamma if gamma is not None else 1.0 / fitted.shape[1]
    dot = w.node("MatMul", X, w.const(fitted.T))
    if kernel == "linear":
        return dot
    if kernel == "rbf":  # exp(-gamma * |x - y|^2)
        return w.node("Exp", w.node("Mul", squared_distances(w, X, fitted, dot), w.const(-gamma)))
    scaled = w.node("Add", w.node("Mul", dot, w.const(gamma)), w.const(1.0 if coef0 is None else coef0))
    if kernel == "sigmoid":
        return w.node("Tanh", scaled)
    return w.node("Pow", scaled, w.const(float(3 if degree is None else degree)))


def _convert_random_features(scope: Any, operator: Any, container: Any) -> None:
    """RBFSampler's ``cos(X @ random_weights_ + random_offset_) * sqrt(2 / n_components)``; SkewedChi2Sampler's
    the same of ``log(X + skewedness)`` (a value at or below ``-skewedness``, which scikit-learn refuses,
    gives NaN)."""
    import numpy as np

    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    X = input_matrix(scope, operator, container)
    if type(model).__name__ == "SkewedChi2Sampler":
        X = w.node("Log", w.node("Add", X, w.const(model.skewedness)))
    projection = w.node("Add", w.node("MatMul", X, w.const(model.random_weights_)),
                        w.const(np.asarray(model.random_offset_)[None, :]))
    w.node("Mul", w.node("Cos", projection), w.const(np.sqrt(2.0 / model.n_components)),
           out=operator.outputs[0].full_name)


def _convert_dummy_regressor(scope: Any, operator: Any, container: Any) -> None:
    """DummyRegressor's ``constant_`` (the mean, median, quantile or constant it learnt), once per row."""
    import numpy as np

    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    # the rows' count from the first input alone: it ignores the features (text columns among them)
    rows = w.node("Gather", w.node("Shape", operator.inputs[0].full_name), w.const([0], np.int64), axis=0)
    shape = w.node("Concat", rows, w.const([model.constant_.shape[1]], np.int64), axis=0)
    w.node("Expand", w.const(np.asarray(model.constant_).reshape(1, -1)), shape, out=operator.outputs[0].full_name)


def _convert_dummy_classifier(scope: Any, operator: Any, container: Any) -> None:
    """DummyClassifier's one answer for every row: ``strategy="prior"`` the most likely class and the
    class priors, ``"most_frequent"`` and ``"constant"`` that class with probability 1. The random
    strategies (``"stratified"``, ``"uniform"``) and several outputs are refused."""
    import numpy as np

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    if model.strategy not in ("prior", "most_frequent", "constant"):
        raise UnsupportedModelError(
            f"DummyClassifier(strategy={model.strategy!r}) answers at random, which no file can reproduce; "
            "strategies 'prior', 'most_frequent' and 'constant' convert",
            framework="sklearn",
        )
    if model.n_outputs_ != 1:
        raise UnsupportedModelError(
            f"DummyClassifier fitted on {model.n_outputs_} outputs is not written here; fit one per output",
            framework="sklearn",
        )
    classes = np.asarray(model.classes_)
    if classes.dtype.kind == "f" and not np.all(classes == np.round(classes)):
        raise UnsupportedModelError(
            f"DummyClassifier was fitted on fractional labels ({classes[:3].tolist()}...), which the file's int64 "
            "label output cannot hold. Fit it on integer or text labels",
            framework="sklearn",
        )
    prior = np.asarray(model.class_prior_, dtype=np.float64)
    if model.strategy == "constant":
        index = int(np.flatnonzero(classes == model.constant)[0])
    else:
        index = int(np.argmax(prior))
    proba = prior if model.strategy == "prior" else np.eye(len(classes))[index]
    w = GraphWriter(scope, container, _probability_dtype(operator))
    rows = w.node("Gather", w.node("Shape", input_matrix(scope, operator, container)), w.const([0], np.int64), axis=0)
    w.node("Expand", label_constant(w, classes[[index]]), rows, out=operator.outputs[0].full_name)
    width = w.node("Concat", rows, w.const([len(classes)], np.int64), axis=0)
    w.node("Expand", w.const(proba[None, :]), width, out=operator.outputs[1].full_name)


def label_constant(w: GraphWriter, classes: Any) -> str:
    """A constant of class labels as the label output holds them: text, or int64 (as skl2onnx writes a
    numeric or bool label, which onnxgate casts back afterwards)."""
    import numpy as np
    from onnx import TensorProto

    classes = np.asarray(classes)
    if classes.dtype.kind in "OUS":
        name = w.scope.get_unique_variable_name("labels")
        w.container.add_initializer(name, TensorProto.STRING, [len(classes)], [str(c).encode() for c in classes])
        return name
    return w.const(classes.astype(np.int64), np.int64)


def _convert_nearest_centroid(scope: Any, operator: Any, container: Any) -> None:
    """NearestCentroid as scikit-learn (>= 1.5) answers: the probabilities are the softmax of the
    discriminant scores ``-|x/s - c/s|^2 + 2 log(prior)`` (``s`` the within-class deviation, where not 0);
    the label is the class of the nearest centroid in the raw features when the priors are uniform, of the
    highest score otherwise. Only the euclidean metric has probabilities: manhattan is refused."""
    import numpy as np

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    if model.metric != "euclidean":
        raise UnsupportedModelError(
            f"NearestCentroid(metric={model.metric!r}) is not written here (it has no predict_proba); the "
            "euclidean metric is",
            framework="sklearn",
        )
    w = GraphWriter(scope, container, _probability_dtype(operator))
    X = input_matrix(scope, operator, container)
    centroids = np.asarray(model.centroids_, dtype=np.float64)
    deviation = np.asarray(model.within_class_std_dev_, dtype=np.float64)
    scale = np.where(deviation != 0, deviation, 1.0)

    normalized = w.node("Div", X, w.const(scale[None, :]))
    log_prior = 2.0 * np.log(np.asarray(model.class_prior_, dtype=np.float64))
    scores = w.node("Sub", w.const(log_prior[None, :]), squared_distances(w, normalized, centroids / scale))
    w.node("Softmax", scores, out=operator.outputs[1].full_name, axis=1)
    classes = np.asarray(model.classes_)
    if np.isclose(model.class_prior_, 1 / len(classes)).all():
        index = w.node("ArgMin", squared_distances(w, X, centroids), axis=1, keepdims=0)
    else:
        index = w.node("ArgMax", scores, axis=1, keepdims=0)
    w.node("Gather", label_constant(w, classes), index, axis=0, out=operator.outputs[0].full_name)


def squared_distances(w: GraphWriter, X: str, points: Any, dot: str | None = None) -> str:
    """``|x - p|^2`` between the rows of ``X`` and each row of ``points``, ``[N, len(points)]``, as
    ``|x|^2 - 2 x.p + |p|^2`` (``dot``: ``X @ points.T`` where already written)."""
    import numpy as np

    points = np.asarray(points, dtype=np.float64)
    norms = w.node("MatMul", w.node("Mul", X, X), w.const(np.ones((points.shape[1], 1))))
    cross = w.node("Mul", dot or w.node("MatMul", X, w.const(points.T)), w.const(2.0))
    return w.node("Add", w.node("Sub", norms, cross), w.const((points ** 2).sum(axis=1)[None, :]))


def _label_only(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
    """skl2onnx's parser for a clusterer that has ``predict`` and no ``transform``: one ``label`` output
    (its default parser adds a ``scores`` output no method of the model answers)."""
    from skl2onnx._supported_operators import get_model_alias
    from skl2onnx.common.data_types import Int64TensorType

    operator = scope.declare_local_operator(get_model_alias(type(model)), model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("label", Int64TensorType()))
    return operator.outputs


def transform_only_parser(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
    """skl2onnx's parser for a transformer it takes for a clusterer: one ``variable`` output."""
    from skl2onnx._supported_operators import get_model_alias
    from skl2onnx.common.data_types import guess_tensor_type

    operator = scope.declare_local_operator(get_model_alias(type(model)), model)
    operator.inputs = inputs
    operator.outputs.append(scope.declare_local_variable("variable", guess_tensor_type(inputs[0].type)))
    return operator.outputs


def _label_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType

    operator.outputs[0].type = Int64TensorType([operator.inputs[0].get_first_dimension()])


def _convert_nearest_center(scope: Any, operator: Any, container: Any) -> None:
    """AffinityPropagation's and MeanShift's ``predict``: the index of the nearest cluster center."""
    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    centers = getattr(model, "cluster_centers_", None)
    if centers is None or len(centers) == 0:
        raise UnsupportedModelError(
            f"{type(model).__name__} has no cluster centers to assign rows to (a precomputed affinity, or a "
            "fit that did not converge): it cannot be written",
            framework="sklearn",
        )
    w = GraphWriter(scope, container, graph_dtype(operator))
    distances = squared_distances(w, input_matrix(scope, operator, container), centers)
    w.node("ArgMin", distances, axis=1, keepdims=0, out=operator.outputs[0].full_name)


def _birch_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType

    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([batch])
    operator.outputs[1].type = float_tensor_type(operator)([batch, len(operator.raw_operator.subcluster_centers_)])


def _convert_birch(scope: Any, operator: Any, container: Any) -> None:
    """Birch's ``predict`` (the label of the nearest subcluster center) and ``transform`` (the euclidean
    distance to each subcluster center)."""
    import numpy as np

    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    squared = squared_distances(w, input_matrix(scope, operator, container), model.subcluster_centers_)
    index = w.node("ArgMin", squared, axis=1, keepdims=0)
    w.node("Gather", w.const(np.asarray(model.subcluster_labels_), np.int64), index, axis=0,
           out=operator.outputs[0].full_name)
    w.node("Sqrt", w.node("Max", squared, w.const(0.0)), out=operator.outputs[1].full_name)


def _convert_rbm(scope: Any, operator: Any, container: Any) -> None:
    """BernoulliRBM's ``transform``: the hidden units' probabilities, ``sigmoid(X @ components_.T +
    intercept_hidden_)``."""
    import numpy as np

    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    hidden = w.node("Add", w.node("MatMul", input_matrix(scope, operator, container), w.const(model.components_.T)),
                    w.const(np.asarray(model.intercept_hidden_)[None, :]))
    w.node("Sigmoid", hidden, out=operator.outputs[0].full_name)


def _outlier_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType

    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([batch])
    operator.outputs[1].type = float_tensor_type(operator)([batch, 1])


def _convert_elliptic_envelope(scope: Any, operator: Any, container: Any) -> None:
    """EllipticEnvelope's ``decision_function`` (``-mahalanobis(x) - offset_``) and ``predict`` (1 where
    it is at least 0, else -1)."""
    import numpy as np

    model = operator.raw_operator
    w = GraphWriter(scope, container, graph_dtype(operator))
    centred = w.node("Sub", input_matrix(scope, operator, container), w.const(np.asarray(model.location_)[None, :]))
    weighted = w.node("Mul", w.node("MatMul", centred, w.const(model.get_precision())), centred)
    mahalanobis = w.node("MatMul", weighted, w.const(np.ones((len(model.location_), 1))))
    decision = w.node("Sub", w.node("Neg", mahalanobis), w.const(model.offset_), out=operator.outputs[1].full_name)
    inlier = w.node("Not", w.node("Less", decision, w.const(0.0)))
    label = w.node("Where", inlier, w.const([1], np.int64), w.const([-1], np.int64))
    w.node("Reshape", label, w.const([-1], np.int64), out=operator.outputs[0].full_name)


def _convert_label_propagation(scope: Any, operator: Any, container: Any) -> None:
    """LabelPropagation's and LabelSpreading's ``predict_proba`` with the rbf kernel: the kernel between
    the rows and the training points times ``label_distributions_``, each row divided by its sum; the
    label the most probable class. The knn kernel is refused."""
    import numpy as np

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    if model.kernel != "rbf":
        raise UnsupportedModelError(
            f"{type(model).__name__}(kernel={model.kernel!r}) is not written here; kernel='rbf' is",
            framework="sklearn",
        )
    w = GraphWriter(scope, container, _probability_dtype(operator))
    X = input_matrix(scope, operator, container)
    # exp(-gamma |x - x_i|^2), each row scaled by exp(gamma * its smallest distance), which the division
    # below cancels: in float32 every weight of a row a little away from the training points underflowed
    # to 0, and 0/0 answered NaN
    squared = squared_distances(w, X, model.X_)
    opset = container.target_opset
    nearest = (w.node("ReduceMin", squared, w.const([1], np.int64), keepdims=1) if opset >= 18
               else w.node("ReduceMin", squared, axes=[1], keepdims=1))
    weights = w.node("Exp", w.node("Mul", w.node("Sub", squared, nearest), w.const(-model.gamma)))
    mass = w.node("MatMul", weights, w.const(model.label_distributions_))
    total = w.node("MatMul", mass, w.const(np.ones((model.label_distributions_.shape[1], 1))))
    proba = w.node("Div", mass, total, out=operator.outputs[1].full_name)
    index = w.node("ArgMax", proba, axis=1, keepdims=0)
    w.node("Gather", label_constant(w, model.classes_), index, axis=0, out=operator.outputs[0].full_name)


def _convert_splines(scope: Any, operator: Any, container: Any) -> None:
    """SplineTransformer's ``transform`` (dense): each feature's B-spline bases, written as the piecewise
    polynomials they are (scipy's ``PPoly.from_spline``, per output column): the knot interval a value
    falls in picks its polynomial's coefficients, evaluated at the distance from the interval's start.
    Outside the knots: ``"continue"`` extends the end polynomials (scipy's extrapolation), ``"periodic"``
    first wraps the value into the base interval, ``"constant"`` and ``"linear"`` give the end bases'
    values (and slopes) as scikit-learn sets them. A missing value encodes as zeros. ``"error"`` and
    ``sparse_output`` are refused."""
    import numpy as np

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    if model.extrapolation == "error" or model.sparse_output:
        raise UnsupportedModelError(
            "SplineTransformer with extrapolation='error' or sparse_output=True is not written (a file cannot "
            "raise on a row, nor answer sparse); extrapolation 'constant', 'linear', 'continue' or 'periodic' "
            "with dense output is",
            framework="sklearn",
        )
    w = GraphWriter(scope, container, graph_dtype(operator))
    X = input_matrix(scope, operator, container)
    blocks = []
    degree = model.degree
    for feature, spline in enumerate(model.bsplines_):
        value = w.node("Gather", X, w.const([feature], np.int64), axis=1)
        block = _spline_block(w, value, spline, model.extrapolation, degree)
        if model.extrapolation == "linear" and degree <= 1:
            # scikit-learn (1.9) raises a degree below 2 by one for the linear continuation inside its loop
            # over the features, and the next features keep it (their range ends move one knot in)
            degree += 1
        if not model.include_bias:  # scikit-learn drops each feature's last basis
            block = w.node("Gather", block, w.const(np.arange(spline.c.shape[1] - 1), np.int64), axis=1)
        blocks.append(block)
    out = operator.outputs[0].full_name
    if len(blocks) == 1:
        w.node("Identity", blocks[0], out=out)
    else:
        w.node("Concat", *blocks, out=out, axis=1)


def _spline_block(w: GraphWriter, value: str, spline: Any, extrapolation: str, degree: int) -> str:
    """The ``[N, n_splines]`` bases of one feature's ``[N, 1]`` values (:func:`_convert_splines`)."""
    import numpy as np
    from scipy.interpolate import BSpline, PPoly

    t, k, columns = np.asarray(spline.t, dtype=np.float64), spline.k, spline.c.shape[1]
    n = len(t) - k - 1  # intervals [t[l], t[l+1]) for l in k..n-1 are the base ones
    pieces = [PPoly.from_spline(BSpline(t, spline.c[:, j], k)).c for j in range(columns)]  # [k+1, len(t)-1]
    table = np.stack(pieces, axis=-1)[:, k:n, :]  # [k+1, intervals, columns]
    starts = t[k:n]
    # The end intervals are also where scipy evaluates a value beyond the knots (and one at the right
    # end); where repeated knots make one empty, PPoly gives it the next interval's polynomial, not the
    # one scipy uses there: each end's polynomial is fitted to scipy's own values beyond that end.
    beyond = BSpline(t, spline.c, k, extrapolate=True)
    step = (t[n] - t[k]) / (n - k) if t[n] > t[k] else 1.0
    for slot, points in ((0, t[k] - step * np.arange(1, k + 2)), (-1, t[n] + step * np.arange(k + 1))):
        vandermonde = np.vander(points - starts[slot], k + 1)  # decreasing powers, as PPoly's
        table[:, slot, :] = np.linalg.solve(vandermonde, beyond(points))
    zero = w.const(0.0)
    x = value
    if extrapolation == "periodic":
        period = t[n] - t[k]
        if period > 0:  # numpy's floor modulo, into [t[k], t[n])
            shifted = w.node("Sub", value, w.const(t[k]))
            turns = w.node("Floor", w.node("Div", shifted, w.const(period)))
            x = w.node("Add", w.node("Sub", shifted, w.node("Mul", turns, w.const(period))), w.const(t[k]))
        else:
            x = w.node("Mul", value, zero)
    # the interval: the count of interval starts at or below x, less one, clipped (extrapolation uses
    # the end polynomials); a NaN counts every start and is zeroed below
    at_or_below = w.node("Cast", w.node("Not", w.node("Less", x, w.const(starts[None, :]))),
                         to=w.float_type)
    count = w.node("MatMul", at_or_below, w.const(np.ones((len(starts), 1))))
    interval = w.node("Max", w.node("Min", w.node("Sub", count, w.const(1.0)), w.const(len(starts) - 1.0)), zero)
    index = w.node("Reshape", w.node("Cast", interval, to=_tensor_type(np.int64)), w.const([-1], np.int64))
    coefficients = w.node("Gather", w.const(np.transpose(table, (1, 0, 2))), index, axis=0)  # [N, k+1, columns]
    offset = w.node("Sub", x, w.node("Unsqueeze", w.node("Gather", w.const(starts), index, axis=0),
                                      w.const([1], np.int64)))
    powers = w.node("Pow", offset, w.const(np.arange(k, -1, -1, dtype=np.float64)[None, :]))  # [N, k+1]
    rows = w.node("Unsqueeze", powers, w.const([1], np.int64))
    bases = w.node("Reshape", w.node("MatMul", rows, coefficients), w.const([-1, columns], np.int64))
    missing = w.node("IsNaN", value)
    if extrapolation in ("continue", "periodic"):
        return w.node("Where", missing, w.const(np.zeros((1, columns))), bases)
    low, high = t[degree], t[-degree - 1]
    at_low, at_high = spline(low), spline(high)
    steps = degree + 1 if extrapolation == "linear" and degree <= 1 else degree
    below0, above0 = np.zeros(columns), np.zeros(columns)
    below0[:degree], above0[columns - degree:] = at_low[:degree], at_high[columns - degree:]
    below1, above1 = np.zeros(columns), np.zeros(columns)
    if extrapolation == "linear":
        slope_low, slope_high = spline(low, nu=1), spline(high, nu=1)
        below0[:steps], below1[:steps] = at_low[:steps], slope_low[:steps]
        above0[columns - steps:], above1[columns - steps:] = at_high[columns - steps:], slope_high[columns - steps:]
    outside = w.node("Or", w.node("Or", w.node("Less", value, w.const(low)), w.node("Greater", value, w.const(high))),
                     missing)
    inside = w.node("Not", outside)  # a missing value is outside: zeros, as scikit-learn leaves it
    below_values = w.node("Add", w.const(below0[None, :]),
                          w.node("Mul", w.node("Sub", value, w.const(low)), w.const(below1[None, :])))
    above_values = w.node("Add", w.const(above0[None, :]),
                          w.node("Mul", w.node("Sub", value, w.const(high)), w.const(above1[None, :])))
    nothing = w.const(np.zeros((1, columns)))
    part = w.node("Where", inside, bases, nothing)
    part = w.node("Add", part, w.node("Where", w.node("Less", value, w.const(low)), below_values, nothing))
    return w.node("Add", part, w.node("Where", w.node("Greater", value, w.const(high)), above_values, nothing))


def _chain_read(scope: Any, container: Any, features: Any, handed: list[Any]) -> Any:
    """What a chain's next link reads: the ``features`` joined to what the links before it ``handed`` on (one
    column each), declared with its width. A Concat's answer has no known shape, and skl2onnx's shape calculators
    and converters look its width up: a ClassifierChain of ``make_pipeline(StandardScaler(), LogisticRegression())``
    was refused ("list index out of range"), and so were ones of a Binarizer or a SimpleImputer before the
    classifier."""
    from skl2onnx.algebra.onnx_ops import OnnxConcat

    if not handed:
        return features
    width = features.type.shape[1] if len(features.type.shape) == 2 else None
    kind = type(features.type)([None, None if width is None else width + len(handed)])
    read = scope.declare_local_variable("chain_features", kind)
    OnnxConcat(features, *handed, axis=1, op_version=container.target_opset,
               output_names=[read]).add_to(scope=scope, container=container)
    return read


def _convert_regressor_chain(scope: Any, operator: Any, container: Any) -> None:
    """RegressorChain's ``predict``: each regressor reads the features and the chain's predictions so far
    (each converted by its own skl2onnx converter), and the columns are put back in target order."""
    import numpy as np
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxConcat, OnnxGather, OnnxReshapeApi13
    from skl2onnx.common.data_types import DoubleTensorType

    model = operator.raw_operator
    opv = container.target_opset
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    X: Any = operator.inputs[0]
    so_far: list[Any] = []
    for estimator in model.estimators_:
        read = _chain_read(scope, container, X, so_far)
        predicted = OnnxReshapeApi13(OnnxSubEstimator(estimator, read, op_version=opv),
                                     np.array([-1, 1], dtype=np.int64), op_version=opv)
        # a sub-model may answer float32 in a double graph (trees): the next one reads the features' type
        so_far.append(OnnxCast(predicted, to=11 if double else 1, op_version=opv))
    chained = OnnxConcat(*so_far, axis=1, op_version=opv)
    in_order = OnnxGather(chained, np.argsort(np.asarray(model.order_)).astype(np.int64), axis=1, op_version=opv,
                          output_names=[operator.outputs[0]])
    in_order.add_to(scope=scope, container=container)


#: ClassifierChain's ``chain_method``s written here: what each link hands the next, its label or its
#: probability of ``classes_[-1]``. ``predict_log_proba`` is not: the log of a probability near 0 (an unscaled
#: LogisticRegression on breast_cancer) is -inf or -800 on one ulp of difference, and the next link then
#: answered otherwise (4 of 569 labels); ``decision_function``: skl2onnx's scores are not all scikit-learn's.
CHAIN_METHODS = ("predict", "predict_proba")
#: Why a ``chain_method`` not in :data:`CHAIN_METHODS` is refused, said in the refusal: it read only "is not
#: written here", and a user fitting ``predict_log_proba`` had no reason to expect its file to differ.
_CHAIN_WHY = {
    "predict_log_proba": (
        " (each link hands the next the log of its probability, which is -inf where the probability rounds to 0: "
        "scikit-learn's next link then answers NaN or refuses the row, and a graph one rounding step apart hands on "
        "-745 there and answers another label; a LogisticRegression chain on breast_cancer flipped 2 to 62 of 569 "
        "labels)"),
    "decision_function": (
        " (each link hands the next its decision_function, which skl2onnx's converters do not write as "
        "scikit-learn computes it for every classifier)"),
}


def sub_estimator(estimator: Any, read: Any, op_version: int, options: Any = None) -> Any:
    """skl2onnx's ``OnnxSubEstimator`` of ``estimator`` reading ``read``, a Pipeline written step by step: skl2onnx's
    own of a classifier Pipeline fails ("Mismatch between pipeline output 2 and last step outputs 1"; a
    ClassifierChain of Pipelines was refused, a GradientBoostingClassifier with one as ``init`` failed with "Empty
    inputs outputs=[]"). ``options`` are the last step's."""
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator

    while hasattr(estimator, "steps"):
        steps = [step for _, step in estimator.steps if step is not None and step != "passthrough"]
        for step in steps[:-1]:
            read = sub_estimator(step, read, op_version)
        estimator = steps[-1]
    return OnnxSubEstimator(estimator, read, op_version=op_version, options=options)


def _classifier_chain_parser(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
    """A ClassifierChain's outputs: ``label`` (``predict``, one column per target), and ``probabilities``
    (``predict_proba``: each target's probability of its class ``classes_[-1]``) where its classifiers have it."""
    from skl2onnx._supported_operators import get_model_alias
    from skl2onnx.common.data_types import guess_tensor_type

    operator = scope.declare_local_operator(get_model_alias(type(model)), model)
    operator.inputs = inputs
    kind = guess_tensor_type(inputs[0].type)
    operator.outputs.append(scope.declare_local_variable("label", kind))
    if hasattr(model, "predict_proba"):
        operator.outputs.append(scope.declare_local_variable("probabilities", guess_tensor_type(inputs[0].type)))
    return operator.outputs


def _classifier_chain_shape(operator: Any) -> None:
    batch = operator.inputs[0].get_first_dimension()
    for output in operator.outputs:
        output.type = float_tensor_type(operator)([batch, len(operator.raw_operator.estimators_)])


def _convert_classifier_chain(scope: Any, operator: Any, container: Any) -> None:
    """ClassifierChain's ``predict`` and ``predict_proba``: each classifier (converted by its own skl2onnx
    converter) reads the features and what the links before it handed on (``chain_method``: their labels,
    their probabilities of ``classes_[-1]`` or the logs of those), and the columns are put back in target order.
    Its labels are numbers, as ``predict`` answers them (float). A Pipeline as a link is written step by step
    (:func:`sub_estimator`)."""
    import numpy as np
    from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxConcat, OnnxGather, OnnxReshapeApi13
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    method = getattr(model, "chain_method_", "predict")
    counts = sorted({len(getattr(e, "classes_", ())) for e in model.estimators_})
    if method not in CHAIN_METHODS or counts != [2]:
        what = f"chain_method={method!r}" if method not in CHAIN_METHODS else f"targets of {counts} classes"
        raise UnsupportedModelError(
            f"ClassifierChain with {what} is not written here: onnxgate writes chain_method "
            f"{' or '.join(map(repr, CHAIN_METHODS))} over targets of two classes{_CHAIN_WHY.get(method, '')}. "
            "Refit with chain_method='predict_proba' (or 'predict'), or convert each classifier alone",
            framework="sklearn")
    opv = container.target_opset
    float_type = 11 if isinstance(operator.inputs[0].type, DoubleTensorType) else 1
    column = np.array([-1, 1], dtype=np.int64)
    X: Any = operator.inputs[0]
    handed: list[Any] = []
    labels: list[Any] = []
    positives: list[Any] = []
    for estimator in model.estimators_:
        read = _chain_read(scope, container, X, handed)
        sub = sub_estimator(estimator, read, opv, options={"zipmap": False})
        # a sub-model may answer float32 in a double graph (trees): the chain reads the features' type
        label = OnnxCast(OnnxReshapeApi13(sub[0], column, op_version=opv), to=float_type, op_version=opv)
        positive = OnnxCast(OnnxGather(sub[1], np.array([1], dtype=np.int64), axis=1, op_version=opv),
                            to=float_type, op_version=opv)
        labels.append(label)
        positives.append(positive)
        handed.append(label if method == "predict" else positive)
    order = np.argsort(np.asarray(model.order_)).astype(np.int64)
    for output, columns in zip(operator.outputs, (labels, positives), strict=False):
        OnnxGather(OnnxConcat(*columns, axis=1, op_version=opv), order, axis=1, op_version=opv,
                   output_names=[output]).add_to(scope=scope, container=container)

"""More converters skl2onnx 1.20 lacks, each an exact rewrite of what scikit-learn computes:
AdditiveChi2Sampler and PolynomialCountSketch (explicit feature maps), BisectingKMeans (its bisection
tree, each split a comparison of two distances), Isomap (geodesic distances through the training
graph, then its kernel PCA) and RadiusNeighborsTransformer (the dense radius-neighbours graph).
Registered with skl2onnx once, beside :mod:`onnxgate.converters._sklearn_extra`, whose
:class:`GraphWriter` they write through; each file is checked by parity like any other."""

from __future__ import annotations

from typing import Any

from onnxgate.converters._sklearn_extra import (
    GraphWriter,
    float_tensor_type,
    graph_dtype,
    input_matrix,
    squared_distances,
    transform_only_parser,
    width_shape,
)

#: The metrics the neighbour graphs here are written for (scikit-learn's default, the euclidean distance).
EUCLIDEAN = ("euclidean", "l2")


def register_geometry_converters() -> None:
    """Register each converter below with skl2onnx, once."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common._registration import _converter_pool
    from sklearn.cluster import BisectingKMeans
    from sklearn.kernel_approximation import AdditiveChi2Sampler, PolynomialCountSketch
    from sklearn.manifold import Isomap
    from sklearn.neighbors import RadiusNeighborsTransformer

    if "OnnxgateIsomap" in _converter_pool:
        return
    update_registered_converter(AdditiveChi2Sampler, "OnnxgateAdditiveChi2Sampler",
                                width_shape(lambda op: op.n_features_in_ * (2 * op.sample_steps - 1)),
                                _convert_additive_chi2)
    update_registered_converter(PolynomialCountSketch, "OnnxgatePolynomialCountSketch",
                                width_shape(lambda op: op.n_components), _convert_count_sketch)
    update_registered_converter(Isomap, "OnnxgateIsomap",
                                width_shape(lambda op: op.embedding_.shape[1]), _convert_isomap)
    update_registered_converter(RadiusNeighborsTransformer, "OnnxgateRadiusNeighborsTransformer",
                                width_shape(lambda op: op.n_samples_fit_), _convert_radius_graph,
                                parser=transform_only_parser)
    update_registered_converter(BisectingKMeans, "OnnxgateBisectingKMeans", _clusters_shape,
                                _convert_bisecting_kmeans)


def _convert_additive_chi2(scope: Any, operator: Any, container: Any) -> None:
    """``[sqrt(x s)]`` then, for each step ``j`` after the first, ``f cos(j s log x)`` and ``f sin(j s log x)``
    with ``f = sqrt(2 x s / cosh(pi j s))`` (``s`` the sample interval): every block 0 where ``x`` is 0, as
    scikit-learn's dense transform. A negative value, which scikit-learn refuses, gives NaN, except one
    within rounding of 0 (down to -1e-5 in float32, -1e-12 in float64), which is read as 0: a step before
    in float32 puts a training minimum at -6e-8 after a MinMaxScaler, where scikit-learn has exactly 0."""
    import numpy as np

    model = operator.raw_operator
    steps = int(model.sample_steps)
    interval = model.sample_interval if model.sample_interval is not None else {1: 0.8, 2: 0.5, 3: 0.4}[steps]
    w = GraphWriter(scope, container, graph_dtype(operator))
    X = input_matrix(scope, operator, container)
    rounding = 1e-5 if w.dtype == np.float32 else 1e-12
    X = w.node("Where", w.node("Less", X, w.const(-rounding)), X, w.node("Max", X, w.const(0.0)))
    zero = w.node("Equal", X, w.const(0.0))
    # log(0) is -inf and 0 * -inf NaN: the zeros take 1 (log 0) and are put back as 0 at the end
    safe = w.node("Where", zero, w.const(1.0), X)
    blocks = [w.node("Sqrt", w.node("Mul", X, w.const(interval)))]
    log_step = w.node("Mul", w.node("Log", safe), w.const(interval))
    for j in range(1, steps):
        factor = w.node("Sqrt", w.node("Mul", safe, w.const(2 * interval / np.cosh(np.pi * j * interval))))
        angle = w.node("Mul", log_step, w.const(float(j)))
        for wave in ("Cos", "Sin"):
            blocks.append(w.node("Where", zero, w.const(0.0), w.node("Mul", factor, w.node(wave, angle))))
    w.node("Concat", *blocks, axis=1, out=operator.outputs[0].full_name)


def _convert_count_sketch(scope: Any, operator: Any, container: Any) -> None:
    """PolynomialCountSketch: a count sketch of ``sqrt(gamma) x`` (and ``sqrt(coef0)`` where not 0) per degree,
    a matrix product each, then their circular convolution, which is what scikit-learn's product of FFTs
    followed by the real part of the inverse FFT computes, written as a sum (no DFT before opset 17)."""
    import numpy as np

    model = operator.raw_operator
    n = int(model.n_components)
    w = GraphWriter(scope, container, graph_dtype(operator))
    X = w.node("Mul", input_matrix(scope, operator, container), w.const(np.sqrt(model.gamma)))
    if model.coef0 != 0:
        ones = w.node("Add", w.node("Mul", w.node("ReduceSum", X, w.const([1], np.int64), keepdims=1),
                                    w.const(0.0)), w.const(np.sqrt(model.coef0)))
        X = w.node("Concat", X, ones, axis=1)
    sketches = []
    for d in range(model.degree):
        hashing = np.zeros((model.indexHash_.shape[1], n))
        np.add.at(hashing, (np.arange(hashing.shape[0]), model.indexHash_[d]), model.bitHash_[d])
        sketches.append(w.node("MatMul", X, w.const(hashing)))
    # (a * b)[k] = sum_j a[j] b[(k - j) mod n]: gather b into [N, n, n] and multiply by a as a column
    shifts = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
    result = sketches[0]
    for sketch in sketches[1:]:
        rolled = w.node("Gather", sketch, w.const(shifts, np.int64), axis=1)
        column = w.node("Unsqueeze", result, w.const([2], np.int64))
        result = w.node("Squeeze", w.node("MatMul", rolled, column), w.const([2], np.int64))
    w.node("Identity", result, out=operator.outputs[0].full_name)


def _neighbour_distances(scope: Any, container: Any, X: str, fitted: Any, dtype: Any,
                         metric: str = "euclidean") -> str:
    """The euclidean distances (or their squares, ``metric="sqeuclidean"``) ``[N, len(fitted)]`` from each
    row of ``X`` to each fitted row, written as skl2onnx writes its nearest-neighbour models (differences,
    not ``|x|^2 - 2 x.y + |y|^2``, whose rounding would move a training row off its own distance 0)."""
    import numpy as np
    from skl2onnx.algebra.complex_functions import onnx_cdist
    from skl2onnx.algebra.onnx_ops import OnnxIdentity

    fitted = np.asarray(fitted, dtype=dtype)
    out = scope.get_unique_variable_name("distances")
    distances = onnx_cdist(X, fitted, metric=metric, dtype=dtype, op_version=container.target_opset,
                           dim_in=fitted.shape[1], dim_out=fitted.shape[0])
    OnnxIdentity(distances, output_names=[out], op_version=container.target_opset).add_to(scope, container)
    return str(out)


def _euclidean_only(model: Any, neighbours: Any) -> None:
    from onnxgate.errors import UnsupportedModelError

    metric = neighbours.effective_metric_
    if metric not in EUCLIDEAN and not (metric == "minkowski" and neighbours.effective_metric_params_.get("p") == 2):
        raise UnsupportedModelError(
            f"{type(model).__name__} with metric {metric!r} is not written here: the euclidean metric (the default) "
            "is. Refit with metric='minkowski', p=2",
            framework="sklearn",
        )


def _convert_radius_graph(scope: Any, operator: Any, container: Any) -> None:
    """RadiusNeighborsTransformer's ``transform`` as a dense ``[N, n_samples_fit]`` matrix: the distance
    (``mode="distance"``) or 1 (``"connectivity"``) to each training row within the radius, 0 elsewhere,
    as scikit-learn's sparse graph holds them. Like scikit-learn, the squared distance is compared with the
    squared radius: a pair at 1.0000000000000002 squared is outside a radius of 1, though its root rounds
    to 1."""
    model = operator.raw_operator
    _euclidean_only(model, model)
    w = GraphWriter(scope, container, graph_dtype(operator))
    squared = _neighbour_distances(scope, container, input_matrix(scope, operator, container), model._fit_X,
                                   w.dtype, metric="sqeuclidean")
    inside = w.node("LessOrEqual", squared, w.const(float(model.radius) ** 2))
    value = w.node("Sqrt", w.node("Max", squared, w.const(0.0))) if model.mode == "distance" \
        else w.node("Add", w.node("Mul", squared, w.const(0.0)), w.const(1.0))
    w.node("Where", inside, value, w.const(0.0), out=operator.outputs[0].full_name)


def _convert_isomap(scope: Any, operator: Any, container: Any) -> None:
    """Isomap's ``transform``: the geodesic distance to each training row through the query's
    ``n_neighbors`` nearest training rows (the least of distance to the neighbour plus the neighbour's
    shortest-path distance), then ``-g^2 / 2`` centred and projected by its kernel PCA, which is affine in
    it. A radius neighbourhood and metrics other than the euclidean are refused."""
    import numpy as np

    from onnxgate.errors import UnsupportedModelError

    model = operator.raw_operator
    if model.n_neighbors is None:
        raise UnsupportedModelError(
            "Isomap with a radius neighbourhood is not written here (its neighbour count differs per row); "
            "refit with n_neighbors",
            framework="sklearn",
        )
    neighbours = model.nbrs_
    _euclidean_only(model, neighbours)
    w = GraphWriter(scope, container, graph_dtype(operator))
    distances = _neighbour_distances(scope, container, input_matrix(scope, operator, container), neighbours._fit_X,
                                     w.dtype)
    nearest = scope.get_unique_variable_name("nearest")
    index = scope.get_unique_variable_name("nearest_index")
    container.add_node("TopK", [distances, w.const([model.n_neighbors], np.int64)], [nearest, index],
                       name=scope.get_unique_operator_name("TopK"), largest=0, sorted=1)
    paths = w.node("Gather", w.const(model.dist_matrix_), index, axis=0)  # [N, k, n_fit]
    through = w.node("Add", paths, w.node("Unsqueeze", nearest, w.const([2], np.int64)))
    geodesic = w.node("ReduceMin", through, w.const([1], np.int64), keepdims=0) \
        if container.target_opset >= 18 else w.node("ReduceMin", through, axes=[1], keepdims=0)
    kernel = w.node("Mul", w.node("Mul", geodesic, geodesic), w.const(-0.5))
    matrix, offset = _centred_projection(model.kernel_pca_)
    w.node("Add", w.node("MatMul", kernel, w.const(matrix)), w.const(offset), out=operator.outputs[0].full_name)


def _centred_projection(pca: Any) -> tuple[Any, Any]:
    """``A`` and ``b`` with ``pca.transform(K) == K @ A + b`` for a precomputed kernel ``K``: its centring
    (``K - K_fit_rows_ - mean of each row + K_fit_all_``) then the product with the eigenvectors scaled by
    ``1 / sqrt(eigenvalue)`` (0 where the eigenvalue is 0)."""
    import numpy as np

    vectors = np.asarray(pca.eigenvectors_, dtype=np.float64)
    values = np.asarray(pca.eigenvalues_, dtype=np.float64)
    scaled = np.zeros_like(vectors)
    kept = values != 0
    scaled[:, kept] = vectors[:, kept] / np.sqrt(values[kept])
    centerer = pca._centerer
    matrix = scaled - scaled.mean(axis=0, keepdims=True)
    offset = (centerer.K_fit_all_ - np.asarray(centerer.K_fit_rows_, dtype=np.float64)) @ scaled
    return matrix, offset[None, :]


def _clusters_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import Int64TensorType

    batch = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([batch])
    operator.outputs[1].type = float_tensor_type(operator)([batch, len(operator.raw_operator.cluster_centers_)])


def _convert_bisecting_kmeans(scope: Any, operator: Any, container: Any) -> None:
    """BisectingKMeans: ``predict`` walks its bisection tree, each split sending a row to the nearer of
    two centers (the left one on a tie), so a row's cluster is the leaf whose every split on the path
    holds; ``transform`` is the euclidean distance to each cluster center, as KMeans'."""
    import numpy as np

    model = operator.raw_operator
    mean = np.asarray(getattr(model, "_X_mean", 0.0), dtype=np.float64)
    splits, leaves = _bisection(model._bisecting_tree)
    w = GraphWriter(scope, container, graph_dtype(operator))
    X = input_matrix(scope, operator, container)
    if splits:
        children = np.array([center for split in splits for center in split]) + mean  # left, right, left, ...
        squared = squared_distances(w, X, children)
        left = w.node("Gather", squared, w.const(np.arange(0, 2 * len(splits), 2), np.int64), axis=1)
        right = w.node("Gather", squared, w.const(np.arange(1, 2 * len(splits), 2), np.int64), axis=1)
        goes_left = w.node("Cast", w.node("LessOrEqual", left, right), to=w.float_type)
        # a leaf's score is 0 where every split on its path holds, negative otherwise
        path = np.zeros((len(splits), len(leaves)))
        bias = np.zeros(len(leaves))
        for column, (_, steps) in enumerate(leaves):
            for split, to_left in steps:
                path[split, column] = 1.0 if to_left else -1.0
                bias[column] -= 1.0 if to_left else 0.0
        score = w.node("Add", w.node("MatMul", goes_left, w.const(path)), w.const(bias[None, :]))
        leaf = w.node("ArgMax", score, axis=1, keepdims=0)
        w.node("Gather", w.const(np.array([label for label, _ in leaves]), np.int64), leaf, axis=0,
               out=operator.outputs[0].full_name)
    else:
        w.node("Cast", w.node("ReduceSum", w.node("Mul", X, w.const(0.0)), w.const([1], np.int64), keepdims=0),
               to=7, out=operator.outputs[0].full_name)
    squared_centers = squared_distances(w, X, np.asarray(model.cluster_centers_, dtype=np.float64))
    w.node("Sqrt", w.node("Max", squared_centers, w.const(0.0)), out=operator.outputs[1].full_name)


def _bisection(tree: Any) -> tuple[list[tuple[Any, Any]], list[tuple[int, list[tuple[int, bool]]]]]:
    """The splits of a bisecting tree (their left and right centers, in a fixed order) and its leaves
    (label, and the path to it: split index and whether the path goes left)."""
    splits: list[tuple[Any, Any]] = []
    leaves: list[tuple[int, list[tuple[int, bool]]]] = []

    def walk(node: Any, path: list[tuple[int, bool]]) -> None:
        if node.left is None:
            leaves.append((int(node.label), path))
            return
        index = len(splits)
        splits.append((node.left.center, node.right.center))
        walk(node.left, [*path, (index, True)])
        walk(node.right, [*path, (index, False)])

    walk(tree, [])
    return splits, leaves

"""Where a graph mixes the rows of a batch: the nodes whose answer for one row reads the other rows.

A file scored by a service or by ``PREDICT`` gets its rows in batches of any size, and each row's answer must
depend on that row alone. Parity compares the file with its reference on the data's own batches, so a node that
reads every row of its batch agrees there and answers otherwise elsewhere: a count of the rows (``x * 0 + 1``
summed over axis 0) compared with a threshold halved every probability in batches above 100 rows and passed on 5
rows of data; a batch's largest value switching behaviour passed on rows that all lie below it (helper-345).

The batch's rows are followed through the graph by ONNX shape inference: the first axis of each input whose
batch is not fixed gets the symbol :data:`ROWS`, inference carries it through element-wise operators,
``Transpose``, ``MatMul``, ``Gather``... (data propagation on: a ``Reshape`` to a computed shape keeps it, and
one to a constant ``[-1, k, ...]`` whose other entries hold the input's other axes is read as ``[0, k, ...]``), and a
node is said to mix the rows (:data:`ROW_MIXERS`) when it reduces, sorts, normalises or contracts over an axis that
carries it, or keeps some of the rows by constant positions (a ``Gather`` or ``Slice``: ``x - x[0:1]``). A
model-local function is inlined first, so a node inside one is found and named as inlined. Where
inference loses the symbol (a ``Reshape`` to a constant ``[-1]``, an operator without a shape function) nothing is
said: the scan finds what it can name, and parity's large batch (scored for a file that reads its batch size or
mixes its rows) is the check of what the scan cannot see.

The ``ai.onnx.ml`` operators, ``StringNormalizer``, ``TfIdfVectorizer`` and ``com.microsoft``'s ``Tokenizer`` have
no shape function, or one that drops the rows' symbol (``StringNormalizer`` answers ``[unk]``): the scan gives each
the rows its definition keeps (:data:`ROW_MODELS` answer each row of a ``[N, F]`` input from it alone) and names the
ones that read a batch's rows as one sample's values (a ``TfIdfVectorizer`` of a 1-D tensor counts the n-grams of every
row together; an ``ArrayFeatureExtractor`` indexing a 1-D tensor picks rows). A KNN, a voting or bagging ensemble and
a text pipeline lost their rows there, and each file paid for the large batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from onnxgate._onnx import node_subgraphs

__all__ = ["ROWS", "ROW_INDEXERS", "ROW_MIXERS", "ROW_MODELS", "RowsScan", "rows_mixing_sentence", "scan_rows"]

#: The symbol given to the first axis of each input whose batch is not fixed, before shape inference.
ROWS = "onnxgate_rows"
#: Operators that read every position of an axis for the value at each position of it (reductions, arg/top-k,
#: cumulative sums, the softmax family, normalisations over an axis), with how each says its axes: ``"axes"``
#: (an attribute, or from the opset where it became an input, input 1), ``"axis"`` (one; the value its default),
#: or ``"from"`` (that axis and every later one: LayerNormalization).
ROW_MIXERS: Mapping[str, tuple[str, int]] = {
    **{op: ("axes", 0) for op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                     "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")},
    "ArgMax": ("axis", 0), "ArgMin": ("axis", 0), "TopK": ("axis", -1), "CumSum": ("axis", 0),
    "Softmax": ("axis", -1), "LogSoftmax": ("axis", -1), "Hardmax": ("axis", -1), "LpNormalization": ("axis", -1),
    "MeanVarianceNormalization": ("axes", 0), "LayerNormalization": ("from", -1),
}
#: Operators answering positions or values of a whole tensor, the rows' too: whether a row's answer then reads the
#: other rows is up to what the graph does with them. A boolean mask's row-wise update (PyTorch's
#: ``out[m] = x[m] * 2``: NonZero, then GatherND/ScatterND of those rows) or a lookup of each row's unique value
#: answers each row from its own values, and failing it as mixing the rows failed correct files; a count of them
#: (through Shape or a reduction) does not. The scan names them in :attr:`RowsScan.untraced`: the large batch checks.
ROW_INDEXERS = ("NonZero", "Unique")
#: ``ai.onnx.ml`` models of a feature vector: a ``[N, F]`` input is N rows, each answered from its own features; a
#: ``[F]`` input is one row (ONNX's and onnxruntime's definitions), so a 1-D tensor of the batch's rows, or a
#: ``[k, N]`` one, is read as the features of one sample.
ROW_MODELS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble", "LinearClassifier", "LinearRegressor",
              "SVMClassifier", "SVMRegressor", "Normalizer")
#: ``ai.onnx.ml`` operators answering each element from itself: the output keeps the input's shape (OneHotEncoder adds
#: a last axis), the rows where they were.
_ML_ELEMENTWISE = ("Binarizer", "LabelEncoder", "CategoryMapper", "OneHotEncoder")
#: ``ai.onnx.ml`` operators with one value per feature (``Scaler``'s scale, ``Imputer``'s imputed values) taken at
#: flat position ``i % dims[1]`` (``dims[0]`` for a 1-D input): per row for rows on axis 0 of a 2-D or wider input.
_ML_PER_FEATURE = {"Scaler": ("scale",), "Imputer": ("imputed_value_floats", "imputed_value_int64s")}
#: The operators of other domains the scan knows the rows of (:func:`_row_op`): domain by operator.
_ROW_OPS: Mapping[str, tuple[str, ...]] = {
    **{op: ("ai.onnx.ml",) for op in (*ROW_MODELS, *_ML_ELEMENTWISE, *_ML_PER_FEATURE, "ArrayFeatureExtractor",
                                      "FeatureVectorizer")},
    "StringNormalizer": ("", "ai.onnx"), "TfIdfVectorizer": ("", "ai.onnx"), "Tokenizer": ("com.microsoft",),
}
#: Of :data:`_ROW_OPS`, those that can read across the rows (on some input shapes): :func:`_row_op_mixes` judges them
#: (a ``Scaler`` or ``Imputer`` only with more than one value: :func:`_per_feature_values`).
_ROW_OP_MIXERS = (*ROW_MODELS, *_ML_PER_FEATURE, "ArrayFeatureExtractor", "FeatureVectorizer", "StringNormalizer",
                  "TfIdfVectorizer")
#: The opset of the default domain from which a reduction reads its axes from input 1 (ReduceSum from 13, the
#: others from 18).
AXES_AS_INPUT = {"ReduceSum": 13}
AXES_AS_INPUT_DEFAULT = 18


@dataclass(frozen=True)
class RowsScan:
    """What :func:`scan_rows` found. ``mixed``: the nodes whose answer for a row reads the other rows of its batch,
    each a dict with ``node`` (its name and operator), ``op_type``, ``where`` (``"main graph"`` or the subgraph's
    path), ``reads`` (the input that carries the rows, with its shape, ``rows`` for the batch axis) and ``why`` (over
    which axis, a clause). ``untraced``: the nodes of those kinds reading a tensor made from the inputs whose rows
    axis inference lost (a ``Reshape`` of ``[rows, 4]`` to ``[-1]``), or ``["shape inference"]`` when it failed: the
    scan cannot say whether they mix the rows, so parity scores the file in a large batch for them."""

    mixed: tuple[dict[str, Any], ...] = ()
    untraced: tuple[str, ...] = ()


def scan_rows(model: Any) -> RowsScan:
    """Follow the batch's rows through ``model`` (an ``onnx.ModelProto``, not changed) by shape inference (see the
    module) and name the nodes that mix them (:class:`RowsScan`). Empty for a file whose inputs fix their batch.
    Within a validation, remembered for the same bytes validated again (:func:`onnxgate._onnx.model_fact`)."""
    from onnxgate._onnx import model_fact

    return model_fact(model, "scan_rows", _scan_rows)  # type: ignore[no-any-return]


def _scan_rows(model: Any) -> RowsScan:
    """:func:`scan_rows`, computed."""
    import onnx

    if not _could_mix(model):  # a tree ensemble's file: nothing to follow the rows to (a 60 MB forest took 4 s)
        return RowsScan()
    prepared = _rows_named(model)
    if prepared is None:
        return RowsScan()
    try:
        if prepared.functions:
            import onnx.inliner

            prepared = onnx.inliner.inline_local_functions(prepared)
        inferred = _inferred_keeping_rows(prepared)
    except Exception:  # a file shape inference cannot read: the large batch is the only check then
        return RowsScan(untraced=("shape inference",))
    opset = next((int(o.version) for o in inferred.opset_import if o.domain in ("", "ai.onnx")), 0)
    initializers = {t.name for t in inferred.graph.initializer}
    derived = {v.name for v in inferred.graph.input if v.name not in initializers}
    found: list[dict[str, Any]] = []
    untraced: list[str] = []
    consumers: dict[str, list[Any]] = {}  # the main graph's readers of each tensor (a Tokenizer's: the n-grams after)
    for reader in inferred.graph.node:
        for name in reader.input:
            consumers.setdefault(name, []).append(reader)
    for where, node, shapes, constants in _nodes_with_shapes(inferred.graph, "main graph", {}, {}):
        label = repr(node.name or f"{node.op_type} -> {node.output[0] if node.output else ''}")
        reads = [name for name in node.input if name in derived]
        if reads or any(True for _ in node_subgraphs(node)):
            derived.update(node.output)
        if not reads:
            continue
        reason = _mixes_rows(node, shapes, constants, opset, consumers)
        if reason is not None:
            read, why = reason
            found.append({"node": f"{label} ({node.op_type})", "op_type": node.op_type, "where": where,
                          "reads": f"{read!r} {_shown(shapes[read])}", "why": why})
        elif (_may_mix(node, constants) and any(_rows_lost(shapes.get(name)) for name in reads)) or _indexes_rows(
                node, [shapes.get(name) for name in reads]):
            untraced.append(f"{label} ({node.op_type})")
    return RowsScan(tuple(found), tuple(untraced))


def _inferred_keeping_rows(model: Any) -> Any:
    """``model`` (prepared by :func:`_rows_named`) through shape inference, with each constant ``Reshape`` of the
    main graph to ``[-1, k, ...]`` that provably keeps axis 0 as the rows written ``[0, k, ...]`` (copy axis 0), which
    inference follows: it gives ``[-1, k]`` an axis of its own (``unk__0``), and the rows of a KNN, a voting
    ensemble or a text pipeline were lost to it, sending every such file to the large batch. A rewrite holds when
    the Reshape's input carries the rows on axis 0 and the product of its other axes, all known, equals that of the
    constant's other entries (``[rows, 3, 4]`` to ``[-1, 12]``): then ``-1`` is the rows. Each rewrite is checked on
    the shapes inferred with it and undone when it does not hold (``[-1, 1]`` of ``[rows, 4]``); ``[-1]`` is never
    rewritten: the rows are lost to it. The outputs of the main graph's :data:`_ROW_OPS` get the rows their
    definition keeps (:func:`_row_op_keeps`) as value_info, which inference carries on; both are settled together,
    each from the shapes inferred upstream of it, and a graph they do not settle on is inferred as the file has it."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    constants: dict[str, Any] = {t.name: numpy_helper.to_array(t) for t in graph.initializer
                                 if t.data_type in _INTEGER_TYPES and t.data_location != onnx.TensorProto.EXTERNAL}
    for node in graph.node:
        if node.op_type == "Constant" and node.output and len(node.attribute) == 1:
            attr = node.attribute[0]
            if attr.name == "value" and attr.t.data_type in _INTEGER_TYPES:
                constants[node.output[0]] = numpy_helper.to_array(attr.t)
            elif attr.name == "value_ints":
                constants[node.output[0]] = list(attr.ints)
    candidates: dict[int, Any] = {}
    for index, node in enumerate(graph.node):
        if (node.op_type == "Reshape" and node.domain in ("", "ai.onnx") and len(node.input) > 1
                and node.input[1] in constants and _attr(node, "allowzero") != 1):
            shape = [int(v) for v in _flat(constants[node.input[1]])]
            if shape and shape[0] == -1 and all(v >= 0 for v in shape[1:]):
                candidates[index] = shape
    row_ops = [node for node in graph.node if _row_op(node)]
    # a constant Reshape to [1, ..., -1, k, ...] (bagging stacks each estimator's [N, C] as [1, N, C]): its -1 is the
    # rows when the input has them on axis 0 and the k's hold the input's other axes; annotated, not rewritten
    stacked = [node for node in graph.node if node.op_type == "Reshape" and _stacked_shape(node, constants)]
    if not candidates and not row_ops and not stacked:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    original = {index: graph.node[index].input[1] for index in candidates}
    rewritten = {index: f"{ROWS}_reshape_{index}" for index in candidates}
    for index, shape in candidates.items():
        graph.initializer.append(numpy_helper.from_array(np.array([0, *shape[1:]], dtype=np.int64),
                                                         rewritten[index]))
    file_info = list(graph.value_info)
    active = set(candidates)
    annotated: dict[str, tuple[int, tuple[Any, ...]]] = {}
    # each round settles at least the next node downstream: a DAG settles within as many rounds as it has of these
    for _ in range(len(candidates) + len(row_ops) + len(stacked) + 2):
        for index in candidates:
            graph.node[index].input[1] = rewritten[index] if index in active else original[index]
        del graph.value_info[:]
        graph.value_info.extend(v for v in file_info if v.name not in annotated)
        graph.value_info.extend(_value_info(name, *typed) for name, typed in annotated.items())
        try:
            inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # a rewrite inference refuses: the file's own constants, as without the rewrites
            break
        values = [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]
        shapes: dict[str, list[Any] | None] = {t.name: list(t.dims) for t in inferred.graph.initializer}
        shapes.update((v.name, _dims(v)) for v in values)
        types = {t.name: t.data_type for t in inferred.graph.initializer}
        types.update((v.name, v.type.tensor_type.elem_type) for v in values if v.type.HasField("tensor_type"))
        wanted_active = {index for index, shape in candidates.items()
                         if _keeps_rows(shapes.get(graph.node[index].input[0]), shape)}
        wanted: dict[str, tuple[int, tuple[Any, ...]]] = {}
        for node in row_ops:
            wanted.update((name, (types.get(name) or _row_op_type(node, name, types), dims))
                          for name, dims in _row_op_keeps(node, shapes, constants, consumers).items())
        for node in stacked:
            dims = _stacked_keeps(shapes.get(node.input[0]), _stacked_shape(node, constants))
            if dims is not None:
                wanted[node.output[0]] = (types.get(node.output[0]) or types.get(node.input[0], 0), dims)
        if wanted_active == active and wanted == annotated:
            return inferred
        active, annotated = wanted_active, wanted
    for index in candidates:  # not settled (or refused): the file's own constants and shapes
        graph.node[index].input[1] = original[index]
    del graph.value_info[:]
    graph.value_info.extend(file_info)
    return onnx.shape_inference.infer_shapes(model, data_prop=True)


def _value_info(name: str, elem_type: int, dims: Sequence[Any]) -> Any:
    """A value_info of ``name`` shaped ``dims`` (:data:`ROWS`, ints, None for an axis not known): inference keeps the
    rows' symbol over the one it would make up, and carries it on to the nodes after."""
    from onnx import helper

    return helper.make_tensor_value_info(name, elem_type, list(dims))


def _row_op_type(node: Any, name: str, types: Mapping[str, int]) -> int:
    """The element type of ``name`` (an output of ``node``, one of :data:`_ROW_OPS`, or of the ``Reshape`` after an
    ``ArrayFeatureExtractor``) where inference gave none: by the operator's definition."""
    import onnx

    float_, int64, string = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64, onnx.TensorProto.STRING
    op = node.op_type
    first = types.get(node.input[0], 0) if node.input else 0
    if op == "Tokenizer":
        return string
    if op.endswith("Classifier") and node.output and name == node.output[0]:
        return int64 if _attr(node, "classlabels_ints") or _attr(node, "classlabels_int64s") else string
    if op in ("ArrayFeatureExtractor", "Imputer", "Binarizer", "TreeEnsemble", "StringNormalizer"):
        return first
    if op in ("Scaler", "Normalizer", "FeatureVectorizer", "LinearRegressor", "SVMRegressor", "TreeEnsembleRegressor",
              "TfIdfVectorizer") or op.endswith("Classifier"):
        return float_
    return 0


def _stacked_shape(node: Any, constants: Mapping[str, Any]) -> list[int]:
    """The constant shape of a main-graph ``Reshape`` to ``[1, ..., 1, -1, k, ...]`` (at least one leading 1, every
    ``k`` positive), else ``[]``."""
    if (node.domain not in ("", "ai.onnx") or len(node.input) < 2 or node.input[1] not in constants
            or _attr(node, "allowzero") == 1):
        return []
    shape = [int(v) for v in _flat(constants[node.input[1]])]
    if -1 not in shape:
        return []
    at = shape.index(-1)
    if at == 0 or any(v != 1 for v in shape[:at]) or not all(v > 0 for v in shape[at + 1:]):
        return []
    return shape


def _stacked_keeps(dims: Sequence[Any] | None, shape: Sequence[int]) -> tuple[Any, ...] | None:
    """The shape a Reshape of ``dims`` (rows on axis 0, the other axes known) to ``shape`` (:func:`_stacked_shape`)
    answers with the rows where its -1 is, or None when the -1 is not the rows."""
    if not shape or not dims or dims[0] != ROWS or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
        return None
    at = shape.index(-1)
    if _product(dims[1:]) != _product(shape[at + 1:]):
        return None
    return (*shape[:at], ROWS, *shape[at + 1:])


def _keeps_rows(dims: Sequence[Any] | None, shape: Sequence[int]) -> bool:
    """Whether a Reshape of a tensor shaped ``dims`` to ``shape`` (``[-1, k, ...]``) keeps axis 0 as the rows."""
    if not dims or dims[0] != ROWS or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
        return False
    rest = [dims[i] if v == 0 and i < len(dims) else v for i, v in enumerate(shape) if i > 0]
    if any(v == 0 for i, v in enumerate(shape) if i > 0 and i >= len(dims)):
        return False
    product_in = 1
    for d in dims[1:]:
        product_in *= int(d)
    product_out = 1
    for v in rest:
        product_out *= int(v)
    return product_in == product_out


def _may_mix(node: Any, constants: Mapping[str, Any]) -> bool:
    """Whether ``node`` is of a kind :func:`_mixes_rows` judges (a reduction, a product, a constant Gather, a model of
    ``ai.onnx.ml``...)."""
    if _row_op(node):
        return node.op_type in _ROW_OP_MIXERS and (node.op_type not in _ML_PER_FEATURE
                                                   or len(_per_feature_values(node)) > 1)
    if node.domain not in ("", "ai.onnx"):
        return False
    if node.op_type in ("Gather", "GatherElements"):
        return len(node.input) > 1 and node.input[1] in constants
    return (node.op_type in ROW_MIXERS or node.op_type in ("MatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "Einsum")
            or (node.op_type == "BatchNormalization" and _attr(node, "training_mode") == 1))


def _indexes_rows(node: Any, read: Sequence[Any]) -> bool:
    """Whether ``node`` is a :data:`ROW_INDEXERS` reading a tensor that carries the rows (or whose rows were lost)."""
    return node.op_type in ROW_INDEXERS and node.domain in ("", "ai.onnx") and any(
        _rows_axis(dims) is not None or _rows_lost(dims) for dims in read)


def _rows_lost(dims: Sequence[Any] | None) -> bool:
    """A shape that does not say where the rows are: an unknown rank, or an axis of unknown length and none the
    rows' (a fully known shape holds no rows: ``ones.T @ ones`` is [4, 4])."""
    return dims is None or (ROWS not in dims and any(not isinstance(d, int) or d <= 0 for d in dims))


def rows_mixing_sentence(found: Sequence[Mapping[str, Any]], limit: int = 3) -> str:
    """The nodes of :attr:`RowsScan.mixed` as a clause of a message: ``node 'x' (ReduceSum) in the main graph,
    reading 'ones' [rows, 4], sums over axis 0, the batch's rows; ...``, at most ``limit`` of them."""
    shown = [f"node {f['node']} in the {f['where']}, reading {f['reads']}, {f['why']}" if f["where"] == "main graph"
             else f"node {f['node']} in {f['where']}, reading {f['reads']}, {f['why']}" for f in found[:limit]]
    more = f" (and {len(found) - limit} more)" if len(found) > limit else ""
    return "; ".join(shown) + more


def _rows_named(model: Any) -> Any:
    """A copy of ``model`` whose inputs' first axes, where not fixed, are :data:`ROWS` (value_info and outputs
    naming the same symbols as those axes did follow); None when no input has such an axis. Its weights keep their
    shapes but not their values (:func:`_without_weights`)."""
    copy = _without_weights(model)
    initializers = {t.name for t in copy.graph.initializer}
    renamed: set[str] = set()
    for value in copy.graph.input:
        if value.name in initializers or not value.type.HasField("tensor_type"):
            continue
        shape = value.type.tensor_type.shape
        if not value.type.tensor_type.HasField("shape") or not shape.dim or shape.dim[0].dim_value > 0:
            continue
        if shape.dim[0].dim_param:
            renamed.add(shape.dim[0].dim_param)
        shape.dim[0].dim_param = ROWS
    if not any(d.dim_param == ROWS for v in copy.graph.input if v.type.HasField("tensor_type")
               for d in v.type.tensor_type.shape.dim[:1]):
        return None
    for value in [*copy.graph.value_info, *copy.graph.output]:
        if value.type.HasField("tensor_type"):
            for dim in value.type.tensor_type.shape.dim:
                if dim.dim_param in renamed:
                    dim.dim_param = ROWS
    return copy


#: Integer tensor types, the only weights whose values the scan reads (axes, indices, shapes).
_INTEGER_TYPES = (6, 7)  # TensorProto.INT32, TensorProto.INT64


def _could_mix(model: Any) -> bool:
    """Whether ``model`` holds a node of a kind the scan judges (:func:`_may_mix`, :data:`ROW_INDEXERS`), in its
    main graph, a subgraph or a model-local function: without one there is nothing to infer shapes for."""
    kinds = {*ROW_MIXERS, *ROW_INDEXERS, "MatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "Einsum", "Gather",
             "GatherElements", "BatchNormalization", "Slice"}
    pending: list[Any] = [model.graph, *model.functions]
    while pending:
        for node in pending.pop().node:
            if (node.op_type in kinds and node.domain in ("", "ai.onnx")) or (
                    _row_op(node) and node.op_type in _ROW_OP_MIXERS):
                return True
            pending.extend(sub for _, sub in node_subgraphs(node))
    return False


#: The attributes of a :data:`ROW_MODELS` node the scan keeps (ONNX's shape functions and :func:`_row_model_width` read
#: them); the others are its trees or vectors.
_ROW_MODEL_ATTRIBUTES = ("classlabels_strings", "classlabels_ints", "classlabels_int64s", "n_targets", "targets",
                         "intercepts", "norm", "post_transform")


def _without_weights(model: Any) -> Any:
    """A copy of ``model`` whose weights other than integer ones keep their name, type and shape but not their values
    (nor external data), and whose :data:`ROW_MODELS` keep no trees nor vectors (:data:`_ROW_MODEL_ATTRIBUTES`):
    shape inference reads no more, and serialising a 100 MB MLP's weights to it and back took 1.9 s of a 2.4 s
    scan."""
    import onnx

    graph = model.graph
    copy = onnx.ModelProto(ir_version=model.ir_version, opset_import=model.opset_import, functions=model.functions)
    target = copy.graph
    target.name = graph.name
    for node in graph.node:
        if node.op_type in ROW_MODELS and _row_op(node):
            # a forest's trees (nodes_*, class_*, target_*) and an SVM's vectors: megabytes no shape reads
            kept = target.node.add(name=node.name, op_type=node.op_type, domain=node.domain, input=node.input,
                                   output=node.output)
            kept.attribute.extend(a for a in node.attribute if a.name in _ROW_MODEL_ATTRIBUTES)
        else:
            target.node.append(node)
    target.input.extend(graph.input)
    target.output.extend(graph.output)
    target.value_info.extend(graph.value_info)
    target.sparse_initializer.extend(graph.sparse_initializer)
    for tensor in graph.initializer:
        if tensor.data_type in _INTEGER_TYPES and tensor.data_location != onnx.TensorProto.EXTERNAL:
            target.initializer.append(tensor)
        else:
            target.initializer.add(name=tensor.name, data_type=tensor.data_type, dims=tensor.dims)
    return copy


def _nodes_with_shapes(graph: Any, where: str, outer: Mapping[str, Any], outer_constants: Mapping[str, Any],
                       ) -> Iterator[tuple[str, Any, Mapping[str, Any], Mapping[str, Any]]]:
    """Each node of ``graph`` and of its subgraphs, with the shapes (a list per name: an int, a symbol or None per
    axis; None for an unknown rank) and the constant integer tensors visible where it sits."""
    import onnx
    from onnx import numpy_helper

    shapes: dict[str, Any] = dict(outer)
    for value in [*graph.input, *graph.value_info, *graph.output]:
        shapes[value.name] = _dims(value)
    constants: dict[str, Any] = dict(outer_constants)
    for tensor in graph.initializer:
        if tensor.data_type in _INTEGER_TYPES and tensor.data_location != onnx.TensorProto.EXTERNAL:
            constants[tensor.name] = numpy_helper.to_array(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((a for a in node.attribute if a.name in ("value", "value_ints", "value_int")), None)
            if value is not None and (value.name != "value" or value.t.data_type in _INTEGER_TYPES):
                constants[node.output[0]] = (numpy_helper.to_array(value.t) if value.name == "value"
                                             else list(value.ints) if value.name == "value_ints" else [value.i])
        yield where, node, shapes, constants
        for attr_name, sub in node_subgraphs(node):
            inner = f"{'' if where == 'main graph' else where + '/'}{node.name or node.op_type}.{attr_name}"
            yield from _nodes_with_shapes(sub, inner, shapes, constants)


def _dims(value: Any) -> list[Any] | None:
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else d.dim_param or None for d in value.type.tensor_type.shape.dim]


def _shown(dims: Sequence[Any]) -> str:
    return "[" + ", ".join("rows" if d == ROWS else "?" if d is None else str(d) for d in dims) + "]"


def _attr(node: Any, name: str) -> Any:
    from onnx import helper

    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return None


def _rows_axis(dims: Any) -> int | None:
    if dims is None:
        return None
    return next((i for i, d in enumerate(dims) if d == ROWS), None)


def _mixes_rows(node: Any, shapes: Mapping[str, Any], constants: Mapping[str, Any],
                opset: int, consumers: Mapping[str, Sequence[Any]] | None = None) -> tuple[str, str] | None:
    """``(input read, why)`` when ``node`` reads across the batch's rows, else None (also when it cannot be told)."""
    if _row_op(node):
        return _row_op_mixes(node, shapes, consumers)
    if node.domain not in ("", "ai.onnx") or not node.input:
        return None
    op = node.op_type
    if op in ("MatMul", "Gemm", "MatMulInteger", "QLinearMatMul"):
        return _contracts_rows(node, shapes)
    if op == "Einsum":
        return _einsum_contracts_rows(node, shapes)
    if op == "BatchNormalization" and _attr(node, "training_mode") == 1:
        read = node.input[0]
        if _rows_axis(shapes.get(read)) is not None:
            return read, "computes its mean and variance over the batch's rows (training_mode=1)"
        return None
    if op in ("Gather", "GatherElements") and len(node.input) > 1:
        return _gathers_rows(node, shapes, constants)
    if op == "Slice":
        return _slices_rows(node, shapes, constants, opset)
    if op not in ROW_MIXERS:
        return None
    read = node.input[0]
    dims = shapes.get(read)
    rows = _rows_axis(dims)
    if rows is None or dims is None:
        return None
    rank = len(dims)
    kind, default = ROW_MIXERS[op]
    if kind == "from":
        axis = _attr(node, "axis")
        first = (default if axis is None else int(axis)) % rank
        if rows < first:
            return None
        return read, f"normalises over axes {first}..{rank - 1}, axis {rows} the batch's rows"
    if kind == "axis":
        if op == "CumSum":
            value = constants.get(node.input[1]) if len(node.input) > 1 else None
            if value is None:
                return None
            axis = int(_flat(value)[0])
        else:
            attr = _attr(node, "axis")
            if op in ("Softmax", "LogSoftmax", "Hardmax") and opset < 13:
                # before opset 13 these read axes ``axis``.. as one (default 1): the rows mix when among them
                first = int(1 if attr is None else attr) % rank
                return (read, f"{_verb(op)} over axes {first}..{rank - 1} as one, axis {rows} the batch's rows"
                        ) if rows >= first else None
            axis = int(default if attr is None else attr)
        return (read, f"{_verb(op)} over axis {axis % rank}, the batch's rows") if axis % rank == rows else None
    axes = _reduce_axes(node, constants, opset)
    if axes is _UNKNOWN:
        return None
    if axes is None:  # every axis
        if op != "MeanVarianceNormalization" and _attr(node, "noop_with_empty_axes") == 1:
            return None
        return read, f"{_verb(op)} over every axis, the batch's rows (axis {rows}) among them"
    if rows in {int(a) % rank for a in axes}:
        return read, f"{_verb(op)} over axis {rows}, the batch's rows"
    return None


_UNKNOWN = object()


def _reduce_axes(node: Any, constants: Mapping[str, Any], opset: int) -> Any:
    """A reduction's axes: a list, None for every axis, or :data:`_UNKNOWN` (an axes input not constant)."""
    if node.op_type == "MeanVarianceNormalization":
        axes = _attr(node, "axes")
        return [0, 2, 3] if axes is None else list(axes)
    if opset >= AXES_AS_INPUT.get(node.op_type, AXES_AS_INPUT_DEFAULT):
        if len(node.input) < 2 or not node.input[1]:
            return None
        value = constants.get(node.input[1])
        if value is None:
            return _UNKNOWN
        flat = _flat(value)
        return None if not len(flat) else [int(a) for a in flat]
    axes = _attr(node, "axes")
    return None if not axes else list(axes)


def _flat(value: Any) -> Any:
    import numpy as np

    return np.asarray(value).reshape(-1)


def _verb(op: str) -> str:
    return {"ReduceSum": "sums", "ReduceMean": "averages", "ReduceMax": "takes the largest value",
            "ReduceMin": "takes the smallest value", "ArgMax": "takes the position of the largest value",
            "ArgMin": "takes the position of the smallest value", "TopK": "ranks", "CumSum": "sums cumulatively",
            "MeanVarianceNormalization": "normalises", "LpNormalization": "normalises"}.get(
        op, f"reduces ({op})" if op.startswith("Reduce") else f"computes {op}")


def _contracts_rows(node: Any, shapes: Mapping[str, Any]) -> tuple[str, str] | None:
    """A matrix product whose summed axis is the batch's rows (``A.T @ A``), else None."""
    a, b = shapes.get(node.input[0]), shapes.get(node.input[1]) if len(node.input) > 1 else None
    trans_a = node.op_type == "Gemm" and _attr(node, "transA") == 1
    trans_b = node.op_type == "Gemm" and _attr(node, "transB") == 1
    if a and len(a) >= 2 and a[-2 if trans_a else -1] == ROWS:
        return node.input[0], "sums a product over the batch's rows (the contracted axis of its first operand)"
    if a and len(a) == 1 and a[0] == ROWS:
        return node.input[0], "sums a product over the batch's rows (its first operand is a vector of them)"
    if b and len(b) >= 2 and b[-1 if trans_b else -2] == ROWS:
        return node.input[1], "sums a product over the batch's rows (the contracted axis of its second operand)"
    if b and len(b) == 1 and b[0] == ROWS:
        return node.input[1], "sums a product over the batch's rows (its second operand is a vector of them)"
    return None


def _einsum_contracts_rows(node: Any, shapes: Mapping[str, Any]) -> tuple[str, str] | None:
    equation = str(_attr(node, "equation") or b"", "utf-8") if isinstance(_attr(node, "equation"), bytes) \
        else str(_attr(node, "equation") or "")
    left, _, right = equation.replace(" ", "").partition("->")
    terms = left.split(",")
    for name, term in zip(node.input, terms):
        dims = shapes.get(name)
        if dims is None or "." in term or len(term) != len(dims):
            continue
        for letter, dim in zip(term, dims):
            if dim == ROWS and letter not in right and "->" in equation:
                return name, f"sums over index {letter!r}, the batch's rows ({equation})"
    return None


def _gathers_rows(node: Any, shapes: Mapping[str, Any], constants: Mapping[str, Any]) -> tuple[str, str] | None:
    """A Gather picking rows of a tensor that carries them by constant positions (``x[0]`` broadcast over the batch):
    row 0's values become every row's. Computed indices (one pick per row, as often) are left alone."""
    dims = shapes.get(node.input[0])
    rows = _rows_axis(dims)
    if rows is None or dims is None:
        return None
    attr = _attr(node, "axis")
    axis = int(0 if attr is None else attr) % len(dims)
    if axis != rows or node.input[1] not in constants:
        return None
    return node.input[0], f"picks rows of the batch by position along axis {rows}, the batch's rows"


#: A Slice's end at or past this reads to the end of its axis, for any batch scored (exporters write INT32_MAX or
#: INT64_MAX; tf2onnx writes 1e9 for an open end of a strided slice with steps, ``x[:, ::2]``, ``x[:, ::-1]``).
_TO_THE_END = 10**9


def _slices_rows(node: Any, shapes: Mapping[str, Any], constants: Mapping[str, Any],
                 opset: int) -> tuple[str, str] | None:
    """A Slice keeping some of the batch's rows by constant positions (``x[0:1]``, ``x[1:] - x[:-1]``, ``x[::-1]``):
    like a constant Gather (:func:`_gathers_rows`), the rows kept answer for the others, or by their place in the
    batch. A slice of every row in order (``0:INT_MAX``, step 1: an exporter's ``x[:, 1:3]``), or one whose bounds
    are computed, is left alone."""
    import numpy as np

    dims = shapes.get(node.input[0])
    rows = _rows_axis(dims)
    if rows is None or dims is None:
        return None
    if opset < 10:
        starts, ends, axes, steps = _attr(node, "starts"), _attr(node, "ends"), _attr(node, "axes"), None
    else:
        got = [constants.get(name) if name else None
               for name in (*node.input[1:5], *[""] * (5 - len(node.input)))]
        if any(got[i] is None for i in (0, 1)) or any(
                node.input[i] and got[i - 1] is None for i in range(3, min(len(node.input), 5))):
            return None  # a bound computed (from Shape: the batch size is read, and scored large for it)
        starts, ends, axes, steps = got
    if starts is None or ends is None:
        return None
    starts, ends = [int(v) for v in _flat(starts)], [int(v) for v in _flat(ends)]
    axes = [int(v) % len(dims) for v in _flat(axes)] if axes is not None and len(np.asarray(axes)) else list(
        range(len(starts)))
    steps = [int(v) for v in _flat(steps)] if steps is not None and len(np.asarray(steps)) else [1] * len(starts)
    for axis, start, end, step in zip(axes, starts, ends, steps):
        if axis != rows:
            continue
        if step == 1 and (start == 0 or start <= -_TO_THE_END) and end >= _TO_THE_END:
            return None  # every row, in order
        return node.input[0], (f"keeps rows {start}:{end}{'' if step == 1 else f':{step}'} of the batch by "
                               f"position along axis {rows}, the batch's rows")
    return None


def _row_op(node: Any) -> bool:
    """Whether ``node`` is one of :data:`_ROW_OPS` (in its own domain)."""
    return node.domain in _ROW_OPS.get(node.op_type, ())


def _known(dims: Sequence[Any] | None) -> bool:
    """A shape whose every axis is a known length (so it holds no rows: :func:`_rows_lost`)."""
    return dims is not None and all(isinstance(d, int) and d > 0 for d in dims)


def _product(dims: Sequence[int]) -> int:
    product = 1
    for d in dims:
        product *= int(d)
    return product


def _row_op_keeps(node: Any, shapes: Mapping[str, Any], constants: Mapping[str, Any],
                  consumers: Mapping[str, Sequence[Any]]) -> dict[str, tuple[Any, ...]]:
    """The tensors whose rows ``node`` (one of :data:`_ROW_OPS`) keeps, with their shapes (:data:`ROWS` where the rows
    are, an int or None for the other axes): its outputs, or for an ``ArrayFeatureExtractor`` picking from a 1-D table
    the ``Reshape`` after it that gives its rows back. Empty where the definition does not keep them: a 1-D input of
    a model is one row, a ``Scaler`` of a 1-D tensor of the rows scales each by its position, a ``StringNormalizer``
    with stop words drops rows, a ``Tokenizer`` pads each row to the batch's longest (kept only when every reader
    ignores its pad value)."""
    op = node.op_type
    dims = shapes.get(node.input[0]) if node.input else None
    rows = _rows_axis(dims)

    def inferred(index: int, rank: int) -> list[Any]:  # an output's shape as inference has it, or None per axis
        out = shapes.get(node.output[index]) if len(node.output) > index else None
        return list(out) if out is not None and len(out) == rank else [None] * rank

    def answer(*outs: Sequence[Any]) -> dict[str, tuple[Any, ...]]:
        return {name: tuple(d) for name, d in zip(node.output, outs) if name}

    if op == "ArrayFeatureExtractor":
        return _picks_keep(node, shapes, constants, consumers)
    if op == "FeatureVectorizer":
        read = [shapes.get(name) for name in node.input]
        if all(d is not None and len(d) >= 2 and _rows_axis(d) == 0 for d in read):
            return answer([ROWS, inferred(0, 2)[1]])
        return {}
    if dims is None or rows is None:
        return {}
    rank = len(dims)
    if op in ROW_MODELS:
        if rank != 2 or rows != 0:
            return {}
        if op == "Normalizer":
            return answer(dims)
        if op.endswith("Classifier"):  # the labels [N], the scores [N, E]
            return answer([ROWS], [ROWS, inferred(1, 2)[1] or _row_model_width(node)])
        return answer([ROWS, inferred(0, 2)[1] or _row_model_width(node)])
    if op in _ML_ELEMENTWISE:
        return answer(dims if op != "OneHotEncoder" else [*dims, inferred(0, rank + 1)[-1]])
    if op in _ML_PER_FEATURE:
        return answer(dims) if (rows == 0 and rank >= 2) or len(_per_feature_values(node)) <= 1 else {}
    if op == "StringNormalizer":
        # [C] or [1, C] (onnxruntime fails any other); stop words are dropped, and the rows after one move up
        one_row = rank == 1 or (rank == 2 and dims[0] == 1)
        return answer(dims) if one_row and rows == rank - 1 and not _attr(node, "stopwords") else {}
    if op == "TfIdfVectorizer":
        return answer([ROWS, inferred(0, 2)[1]]) if rank == 2 and rows == 0 else {}
    if op == "Tokenizer" and rank <= 2 and _pads_unread(node, consumers) and not (
            rank == 2 and dims[1] != 1 and _grams_across_cells(node, consumers)):
        return answer([*dims, None])
    return {}


def _row_model_width(node: Any) -> int | None:
    """The width of a :data:`ROW_MODELS` node's scores, by its definition (as ONNX's shape functions of ``ai.onnx.ml``
    3 read it): a tree ensemble classifier's class labels, a regressor's targets; None where not told."""
    op = node.op_type
    if op == "TreeEnsembleClassifier":
        labels = _attr(node, "classlabels_int64s") or _attr(node, "classlabels_strings")
        return len(labels) if labels else None
    if op in ("TreeEnsembleRegressor", "TreeEnsemble"):
        targets = _attr(node, "n_targets")
        return int(targets) if targets else None
    if op == "LinearRegressor":
        return int(_attr(node, "targets") or 1)
    return 1 if op == "SVMRegressor" else None


def _picks_keep(node: Any, shapes: Mapping[str, Any], constants: Mapping[str, Any],
                consumers: Mapping[str, Sequence[Any]]) -> dict[str, tuple[Any, ...]]:
    """:func:`_row_op_keeps` of an ``ArrayFeatureExtractor``: ``Z = X[..., Y.flatten()]``, shaped
    ``X.shape[:-1] + [Y.size]`` (``[1, Y.size]`` for a 1-D ``X``, onnxruntime's and ONNX's reference). Rows of ``X``
    before its last axis are kept when ``Y`` holds no rows; the rows of ``Y`` (a KNN's neighbours' positions picking
    their labels from a 1-D table) are flattened into ``Z``'s last axis, and a ``Reshape`` of ``Z`` to
    ``[-1, *Y.shape[1:]]`` (or another split of the same size) gives them back on axis 0."""
    if len(node.input) < 2 or not node.output:
        return {}
    data, indices = shapes.get(node.input[0]), shapes.get(node.input[1])
    data_rows, index_rows = _rows_axis(data), _rows_axis(indices)
    if data is not None and data_rows is not None:
        if data_rows == len(data) - 1 or not (node.input[1] in constants or _known(indices)):
            return {}
        size = _product(indices) if indices is not None and _known(indices) else None
        return {node.output[0]: (*data[:-1], size)}
    if index_rows != 0 or indices is None or data is None or len(data) != 1 or not _known(data):
        return {}
    if not all(isinstance(d, int) and d > 0 for d in indices[1:]):
        return {}
    per_row = _product(indices[1:])
    kept: dict[str, tuple[Any, ...]] = {}
    for reader in consumers.get(node.output[0], ()):
        if (reader.op_type != "Reshape" or reader.domain not in ("", "ai.onnx") or len(reader.input) < 2
                or reader.input[0] != node.output[0] or reader.input[1] not in constants
                or _attr(reader, "allowzero") == 1):
            continue
        shape = [int(v) for v in _flat(constants[reader.input[1]])]
        if shape and shape[0] == -1 and all(v > 0 for v in shape[1:]) and _product(shape[1:]) == per_row:
            kept[reader.output[0]] = (ROWS, *shape[1:])
    return kept


def _pads_unread(node: Any, consumers: Mapping[str, Sequence[Any]]) -> bool:
    """Whether every reader of a ``Tokenizer``'s output (through ``Flatten``, ``Reshape``, ``Identity``) is a
    ``TfIdfVectorizer`` whose pool holds no ``pad_value``: the width each row is padded to is the batch's longest row,
    and a reader counting the pads would answer each row by the others."""
    pad = _attr(node, "pad_value")
    pending = list(node.output)
    seen = 0
    while pending:
        readers = consumers.get(pending.pop(), ())
        if not readers:
            return False  # an output of the graph: the padded rows as they are
        for reader in readers:
            seen += 1
            if seen > 64:
                return False
            if reader.op_type == "TfIdfVectorizer" and reader.domain in ("", "ai.onnx"):
                if pad is None or pad in (_attr(reader, "pool_strings") or ()):
                    return False
            elif reader.op_type in ("Flatten", "Reshape", "Identity") and reader.domain in ("", "ai.onnx"):
                pending.extend(reader.output)
            else:
                return False
    return True


def _per_feature_values(node: Any) -> Sequence[Any]:
    """A ``Scaler``'s scales or an ``Imputer``'s imputed values (:data:`_ML_PER_FEATURE`): one per feature, or one."""
    return next((v for v in (_attr(node, a) for a in _ML_PER_FEATURE[node.op_type]) if v), None) or ()


def _grams_across_cells(node: Any, consumers: Mapping[str, Sequence[Any]]) -> bool:
    """Whether a ``Tokenizer`` of a ``[N, C]`` tensor feeds (through ``Flatten``, ``Reshape``, ``Identity``) a
    ``TfIdfVectorizer`` counting n-grams of 2 or more: each cell's tokens are padded to the batch's longest cell, so
    whether a cell's last token and the next cell's first are adjacent (an n-gram) depends on the other rows."""
    pending = list(node.output)
    seen = 0
    while pending and seen <= 64:
        for reader in consumers.get(pending.pop(), ()):
            seen += 1
            if reader.domain not in ("", "ai.onnx"):
                continue
            if reader.op_type == "TfIdfVectorizer" and int(_attr(reader, "max_gram_length") or 1) > 1:
                return True
            if reader.op_type in ("Flatten", "Reshape", "Identity"):
                pending.extend(reader.output)
    return False


def _row_op_mixes(node: Any, shapes: Mapping[str, Any],
                  consumers: Mapping[str, Sequence[Any]] | None = None) -> tuple[str, str] | None:
    """``(input read, why)`` when ``node`` (one of :data:`_ROW_OPS`) reads the batch's rows as one sample's values:
    a model or a ``Normalizer`` of a tensor whose last axis is the rows, a ``TfIdfVectorizer`` counting n-grams
    along them, an ``ArrayFeatureExtractor`` picking rows (or applying every row's indices to each row), a
    ``FeatureVectorizer`` copying them as features, a ``StringNormalizer`` dropping stop words among them."""
    op = node.op_type
    if op == "ArrayFeatureExtractor" and len(node.input) > 1:
        data, indices = shapes.get(node.input[0]), shapes.get(node.input[1])
        data_rows = _rows_axis(data)
        if data is not None and data_rows == len(data) - 1:
            return node.input[0], f"picks positions along axis {data_rows}, the batch's rows"
        if data_rows is not None and _rows_axis(indices) is not None:
            return node.input[1], (f"applies the indices of all the batch's rows to each row of {node.input[0]!r} "
                                   "(its indices are flattened)")
        return None
    if op == "FeatureVectorizer":
        for name in node.input:
            dims = shapes.get(name)
            rows = _rows_axis(dims)
            if dims is not None and rows is not None and (rows > 0 or len(dims) == 1):
                return name, f"copies axis {rows}, the batch's rows, as the features of a row"
        return None
    read = node.input[0] if node.input else ""
    dims = shapes.get(read)
    rows = _rows_axis(dims)
    if dims is None or rows is None:
        return None
    last = rows == len(dims) - 1
    if op in ROW_MODELS and last and len(dims) <= 2:
        verb = "normalises over" if op == "Normalizer" else "reads as the features of one sample"
        return read, f"{verb} axis {rows}, the batch's rows (a [F] input is one row)"
    if op == "TfIdfVectorizer" and last:
        return read, f"counts n-grams along axis {rows}, the batch's rows, as one sequence"
    if op in _ML_PER_FEATURE and not (rows == 0 and len(dims) >= 2) and len(_per_feature_values(node)) > 1:
        # ONNX's and onnxruntime's Scaler and Imputer take value i % dims[1] (dims[0] of a 1-D tensor) at flat
        # position i: each row gets the value of its place in the batch, and of the batch's size
        return read, (f"takes one of its {len(_per_feature_values(node))} per-feature values by position along "
                      f"axis {rows}, the batch's rows: each row gets the value of its place in the batch")
    if op == "Tokenizer" and len(dims) == 2 and rows == 0 and dims[1] != 1 and _grams_across_cells(
            node, consumers or {}):  # [N, 1]: one cell a row, its pads after its last token, no n-gram across
        return read, ("pads each cell of a row to the longest cell of the batch's rows, and a TfIdfVectorizer counts "
                      "n-grams across the cells: whether a cell's last token and the next cell's first are adjacent "
                      "depends on the other rows")
    if op == "StringNormalizer" and last and _attr(node, "stopwords"):
        return read, f"drops stop words from axis {rows}, the batch's rows: the rows after one move up"
    return None

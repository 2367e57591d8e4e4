"""Tree analysis: the ``(feature, threshold)`` splits of a graph's ``TreeEnsemble*`` nodes, mapped back to
the raw input through ``Scaler`` / ``Cast`` / elementwise constant nodes when the path allows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxgate.validators.search.settings import Array

if TYPE_CHECKING:
    import onnx

__all__ = ["TreeSplit", "node_thresholds", "tree_reads", "tree_splits"]


@dataclass(frozen=True)
class TreeSplit:
    """One split of a ``TreeEnsemble*`` node, and where it sits on the raw input when known.

    Attributes
    ----------
    node : str
        The ONNX node's name (or op type when unnamed).
    tree_id, node_id : int
        The split's tree and node ids inside the ensemble.
    feature : int
        The feature index the tree reads (after any preprocessing).
    threshold : float
        The threshold as stored in the graph (float32 for ai.onnx.ml opset <= 2).
    mode : str
        ``"BRANCH_LEQ"``, ``"BRANCH_LT"``...
    input : str or None
        The graph input the feature comes from, when the path back to it is understood.
    column : int or None
        The flat column of that input.
    raw_threshold : float or None
        The threshold mapped back to the raw input (through ``Scaler`` and the like).
    transform : str
        How it was mapped, e.g. ``"Cast(float32) -> Scaler"``; empty when not mapped.
    """

    node: str
    tree_id: int
    node_id: int
    feature: int
    threshold: float
    mode: str
    input: str | None = None
    column: int | None = None
    raw_threshold: float | None = None
    transform: str = ""
    true_id: int = -1
    false_id: int = -1
    float32_before: bool = False

    def describe(self) -> str:
        where = f"feature {self.feature} {_MODE_SYMBOL.get(self.mode, self.mode)} {self.threshold:.9g}"
        if self.raw_threshold is not None:
            return f"{where} (raw {self.input}[{self.column}] at {self.raw_threshold!r} through {self.transform})"
        return where


_MODE_SYMBOL = {
    "BRANCH_LEQ": "<=",
    "BRANCH_LT": "<",
    "BRANCH_GTE": ">=",
    "BRANCH_GT": ">",
    "BRANCH_EQ": "==",
    "BRANCH_NEQ": "!=",
}
_MODE_V5 = {0: "BRANCH_LEQ", 1: "BRANCH_LT", 2: "BRANCH_GTE", 3: "BRANCH_GT", 4: "BRANCH_EQ", 5: "BRANCH_NEQ"}
_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble")


@dataclass
class _Affine:
    """raw -> tree feature as ``(x - offset) * scale`` per column (vectors broadcast)."""

    offset: Array
    scale: Array
    steps: list[str] = field(default_factory=list)
    float32: bool = False


def _attr(node: onnx.NodeProto, name: str) -> Any:
    from onnx import helper, numpy_helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            if hasattr(value, "dims"):  # TensorProto
                return numpy_helper.to_array(value)
            return value
    return None


def tree_splits(model: Any) -> list[TreeSplit]:
    """Every split of every ``TreeEnsemble*`` node in ``model``, mapped back to the raw input when possible.

    The tree's feature index counts columns after preprocessing. When the path from a graph input
    to the tree is made of ``Cast``, ``Identity``, ``Scaler`` and ``Add``/``Sub``/``Mul``/``Div`` by
    constants, the threshold is mapped back to the raw column (``raw = threshold / scale + offset``
    for a Scaler); otherwise ``raw_threshold`` stays ``None`` and the boundary search covers it.

    Parameters
    ----------
    model : onnx.ModelProto, path, bytes or Conversion

    Returns
    -------
    list of TreeSplit

    Examples
    --------
    >>> splits = tree_splits("model.onnx")  # doctest: +SKIP
    >>> splits[0].describe()  # doctest: +SKIP
    'feature 3 <= 0.531 (raw input[3] at 10800.0 through Cast(float32) -> Scaler)'
    """
    import numpy as np

    from onnxgate._graph import static_width
    from onnxgate._onnx import load_model

    proto = load_model(model)
    graph = proto.graph
    producers = {out: node for node in graph.node for out in node.output}
    consts = _constants(graph)
    input_types = {vi.name: vi.type.tensor_type.elem_type for vi in graph.input}
    widths = {vi.name: static_width(vi) for vi in graph.input}
    import onnx

    try:  # the widths of inner values too: a Concat's parts that are not graph inputs are placed by them
        inferred = onnx.shape_inference.infer_shapes(proto).graph.value_info
        widths = {**{vi.name: static_width(vi) for vi in inferred}, **widths}
    except Exception:  # a graph shape inference cannot read: only the inputs' widths are known
        pass
    found: list[TreeSplit] = []
    for node in graph.node:
        if node.op_type not in _TREE_OPS or not node.input:
            continue
        label = node.name or node.op_type
        fed, ranked = _hist_codes(node.input[0], producers, consts)
        trace = _trace_affine(fed, producers, consts, input_types)
        sources = _feature_sources(trace, producers, consts, input_types, widths)
        if node.op_type == "TreeEnsemble":
            raw = _splits_v5(node)
        else:
            raw = _splits_v1(node)
        for tree_id, node_id, feature, threshold, mode, true_id, false_id in raw:
            if feature in ranked and mode != "LEAF":  # a rank among the feature's thresholds: the threshold
                threshold = float(ranked[feature][min(int(threshold), len(ranked[feature]) - 1)])
            split = TreeSplit(label, tree_id, node_id, feature, threshold, mode, true_id=true_id, false_id=false_id)
            source = sources(feature)
            if source is not None:
                name, column, affine = source  # the map of that one column: a scalar offset and scale
                off, sc = affine.offset.item(), affine.scale.item()
                if sc != 0:
                    split = TreeSplit(
                        label, tree_id, node_id, feature, threshold, mode,
                        input=name, column=column, raw_threshold=float(np.float64(threshold) / sc + off),
                        transform=" -> ".join(affine.steps) or "identity",
                        true_id=true_id, false_id=false_id, float32_before=affine.float32,
                    )
            found.append(split)
    return found


def node_thresholds(node: onnx.NodeProto) -> dict[int, list[float]]:
    """The thresholds a ``TreeEnsemble*`` node compares each feature with, as its graph stores them (a
    ``BRANCH_MEMBER`` set's values are left out: they are no threshold)."""
    raw = _splits_v5(node) if node.op_type == "TreeEnsemble" else _splits_v1(node)
    found: dict[int, list[float]] = {}
    for _tree, _node, feature, threshold, mode, _true, _false in raw:
        if mode != "BRANCH_MEMBER":
            found.setdefault(feature, []).append(threshold)
    return found


def tree_reads(graph: onnx.GraphProto) -> list[tuple[onnx.NodeProto, str, dict[int, Any]]]:
    """Each ``TreeEnsemble*`` node of ``graph``, the value it compares with its thresholds (its input, or the value
    onnxgate's ranks of a HistGradientBoosting's features are taken from: :func:`_hist_codes`) and each feature's
    thresholds on that value (as float64)."""
    import numpy as np

    producers = {out: node for node in graph.node for out in node.output}
    consts = _constants(graph)
    found = []
    for node in graph.node:
        if node.op_type not in _TREE_OPS or not node.input:
            continue
        fed, ranked = _hist_codes(node.input[0], producers, consts)
        thresholds = ranked or node_thresholds(node)
        found.append((node, fed, {f: np.asarray(t, dtype=np.float64).reshape(-1) for f, t in thresholds.items()}))
    return found


def _hist_codes(name: str, producers: Mapping[str, Any], consts: Mapping[str, Array]) -> tuple[str, dict[int, Any]]:
    """The value a tree reads ``name`` from, and each feature's thresholds when ``name`` is the ranks onnxgate
    feeds a HistGradientBoosting ensemble (:data:`onnxgate._graph.HIST_CODES`: per feature ``Where(IsNaN(c),
    NaN, ReduceSum(Cast(Greater(c, thresholds))))`` of ``c = Gather(source, f)``); ``(name, {})`` otherwise."""
    from onnxgate._graph import HIST_CODES

    concat = producers.get(name)
    if concat is None or concat.op_type != "Concat" or not concat.name.startswith(HIST_CODES):
        return name, {}
    ranked: dict[int, Any] = {}
    source = None
    for feature, part in enumerate(concat.input):
        where = producers.get(part)
        if where is None or where.op_type != "Where":
            continue  # a feature no split reads: its plain Cast
        chain = producers.get(where.input[2])
        while chain is not None and chain.op_type in ("ReduceSum", "Cast"):
            chain = producers.get(chain.input[0])
        if chain is None or chain.op_type != "Greater" or chain.input[1] not in consts:
            return name, {}
        gather = producers.get(chain.input[0])
        if gather is None or gather.op_type != "Gather":
            return name, {}
        source = gather.input[0]
        ranked[feature] = consts[chain.input[1]].reshape(-1)
    return (source, ranked) if source is not None else (name, {})


#: What :func:`_trace_affine` returns as the "input" when the walk back ends at a Concat on the column
#: axis or a FeatureVectorizer (one input per DataFrame column, or a SQL-adapted model): its output follows.
_CONCAT = "\0concat:"


def _feature_sources(
    trace: tuple[str, _Affine] | None, producers: Mapping[str, Any], consts: Mapping[str, Array],
    input_types: Mapping[str, int], widths: Mapping[str, int | None],
) -> Any:
    """A function of a tree's feature index: the graph input, its column and the affine map from that
    raw column to the feature (one offset and scale), or None where the path back is not understood.

    Through a Concat on the column axis (or a FeatureVectorizer), the feature is found in the part
    that holds it (the parts' widths counted from their graph inputs, or the FeatureVectorizer's
    own), and the part's own path back (a Cast, say) is composed with the steps after the Concat.
    """

    if trace is None:
        return lambda feature: None
    name, after = trace
    if not name.startswith(_CONCAT):
        return lambda feature: (name, feature, _column_map(after, feature))
    parts = _concat_parts(producers[name[len(_CONCAT):]], producers, consts, input_types, widths)

    def source(feature: int) -> tuple[str, int, _Affine] | None:
        start = 0
        for graph_input, width, own in parts:
            if feature < start + width:
                if graph_input is None or own is None:
                    return None  # a part whose path back is not affine (an encoder's codes, say)
                column = feature - start
                inner = _column_map(own, column)
                combined = _compose(inner.offset, inner.scale, _column_map(after, feature))
                combined.steps = [*own.steps, "Concat", *after.steps]
                combined.float32 = own.float32 or after.float32
                return graph_input, column, combined
            start += width
        return None

    return source


def _concat_parts(
    concat: Any, producers: Mapping[str, Any], consts: Mapping[str, Array], input_types: Mapping[str, int],
    widths: Mapping[str, int | None], depth: int = 0,
) -> list[tuple[str | None, int, _Affine | None]]:
    """The parts of a column-axis Concat (or FeatureVectorizer) in order: each graph input it holds, its
    width and its path to the Concat; a Concat inside it (a ColumnTransformer's numbers beside its
    encoders) is opened into its own parts. A part whose path back is not understood but whose width is
    known (from shape inference) keeps its place, as ``(None, width, None)``; the parts after one of
    unknown width cannot be placed and are left out."""
    import numpy as np

    parts: list[tuple[str | None, int, _Affine | None]] = []
    declared = list(_attr(concat, "inputdimensions") or [])  # FeatureVectorizer says each part's width
    for i, part in enumerate(concat.input):
        traced = _trace_affine(part, producers, consts, input_types)
        if traced is not None and traced[0].startswith(_CONCAT) and depth < 8:
            inner = _concat_parts(producers[traced[0][len(_CONCAT):]], producers, consts, input_types, widths,
                                  depth + 1)
            between = traced[1]
            plain = bool(np.all(between.offset == 0) and np.all(between.scale == 1))
            total = sum(w for _, w, _ in inner)
            if total != (declared[i] if i < len(declared) else widths.get(part, total)):
                break  # the inner Concat's parts do not add up: its columns cannot be placed
            for graph_input, width, own in inner:
                if graph_input is None or own is None or not plain:
                    parts.append((None, width, None))
                    continue
                joined = _Affine(own.offset, own.scale, [*own.steps, "Concat", *between.steps],
                                 own.float32 or between.float32)
                parts.append((graph_input, width, joined))
            continue
        known = declared[i] if i < len(declared) else widths.get(traced[0] if traced is not None else part)
        if known is None:
            break  # the columns after an unknown part cannot be placed
        parts.append((traced[0], int(known), traced[1]) if traced is not None else (None, int(known), None))
    return parts


def _column_map(affine: _Affine, index: int) -> _Affine:
    """The map of column ``index`` alone (one offset, one scale) of a per-column map, whose vectors
    may be one value broadcast to every column."""
    import numpy as np

    def at(values: Array) -> Array:
        flat = values.reshape(-1)
        return np.array([flat[index] if flat.size > 1 else flat[0]], dtype=np.float64)

    return _Affine(at(affine.offset), at(affine.scale), affine.steps, affine.float32)


def _constants(graph: onnx.GraphProto) -> dict[str, Array]:
    from onnx import numpy_helper

    from onnxgate._onnx import constant_tensors

    return {name: numpy_helper.to_array(tensor) for name, tensor in constant_tensors(graph).items()}


def _trace_affine(
    name: str, producers: Mapping[str, Any], consts: Mapping[str, Array], input_types: Mapping[str, int]
) -> tuple[str, _Affine] | None:
    """Walk from a tree's input back to a graph input through affine per-column steps."""
    import numpy as np

    from onnxgate.signature import elem_type_name

    affine = _Affine(offset=np.zeros(1), scale=np.ones(1))
    steps: list[str] = []
    float32 = False
    current = name
    for _ in range(32):
        concat = producers.get(current)
        if concat is not None and (
            (concat.op_type == "Concat" and _attr(concat, "axis") in (1, -1)) or concat.op_type == "FeatureVectorizer"
        ):
            affine.steps = list(reversed(steps))
            affine.float32 = float32
            return _CONCAT + current, affine
        if current in input_types:
            if input_types[current] == 1:  # a float32 graph input: the preprocessing starts in float32
                float32 = True
            affine.steps = list(reversed(steps))
            affine.float32 = float32
            return current, affine
        node = producers.get(current)
        if node is None:
            return None
        op = node.op_type
        if op in ("Identity",):
            current = node.input[0]
        elif op in ("Clip", "Max", "Min") and all(i in consts for i in node.input[1:] if i):
            # a clip to constant bounds (MaxAbsScaler(clip=True), MinMaxScaler(clip=True); Max then Min below
            # opset 11): the identity between its bounds, where a tree's split on the clipped value lies
            # (found by helper-84: 0 of 7 splits mapped after the clip)
            if op != "Clip" and len(node.input) != 2:
                return None
            steps.append(op)
            current = node.input[0]
        elif op in ("Cast", "CastLike"):
            to = _attr(node, "to") if op == "Cast" else input_types.get(node.input[1])
            if to == 1:
                float32 = True
            steps.append(f"Cast({elem_type_name(to) if isinstance(to, int) else to})")
            current = node.input[0]
        elif op == "Scaler":
            off = np.asarray(_attr(node, "offset") or [0.0], dtype=np.float64)
            sc = np.asarray(_attr(node, "scale") or [1.0], dtype=np.float64)
            # y = (x - off) * sc, and later steps compose on the outside: y_tree = (y - o2) * s2
            affine = _compose(off, sc, affine)
            steps.append("Scaler")
            float32 = True  # ai.onnx.ml Scaler always outputs float32
            current = node.input[0]
        elif op in ("Add", "Sub", "Mul", "Div") and len(node.input) == 2:
            a, b = node.input
            const_b = consts.get(b)
            if const_b is None or a in consts:
                return None
            c = np.asarray(const_b, dtype=np.float64).reshape(-1)
            if op == "Add":
                affine = _compose(-c, np.ones(1), affine)
            elif op == "Sub":
                affine = _compose(c, np.ones(1), affine)
            elif op == "Mul":
                affine = _compose(np.zeros(1), c, affine)
            else:
                if np.any(c == 0):
                    return None
                affine = _compose(np.zeros(1), 1.0 / c, affine)
            steps.append(op)
            current = a
        else:
            return None
    return None


def _compose(off: Array, sc: Array, outer: _Affine) -> _Affine:
    """inner(x) = (x - off) * sc, then outer: ((x - off) * sc - o2) * s2 = (x - (off + o2/sc)) * (sc*s2)."""
    import numpy as np

    o2, s2 = np.broadcast_arrays(outer.offset, outer.scale)
    off_b, sc_b, o2_b, s2_b = np.broadcast_arrays(off, sc, o2, s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        new_off = off_b + np.where(sc_b != 0, o2_b / sc_b, 0.0)
    return _Affine(offset=np.asarray(new_off, dtype=np.float64), scale=np.asarray(sc_b * s2_b, dtype=np.float64))


def _splits_v1(node: onnx.NodeProto) -> list[tuple[int, int, int, float, str, int, int]]:
    import numpy as np

    modes = [m.decode() if isinstance(m, bytes) else str(m) for m in (_attr(node, "nodes_modes") or [])]
    feats = list(_attr(node, "nodes_featureids") or [])
    values = _attr(node, "nodes_values")
    if values is None or len(values) == 0:
        tensor = _attr(node, "nodes_values_as_tensor")
        values = [] if tensor is None else np.asarray(tensor).reshape(-1).tolist()
    tree_ids = list(_attr(node, "nodes_treeids") or [])
    node_ids = list(_attr(node, "nodes_nodeids") or [])
    trues = list(_attr(node, "nodes_truenodeids") or [])
    falses = list(_attr(node, "nodes_falsenodeids") or [])
    out = []
    for i, mode in enumerate(modes):
        if mode == "LEAF" or i >= len(feats) or i >= len(values):
            continue
        out.append((
            int(tree_ids[i]) if i < len(tree_ids) else 0,
            int(node_ids[i]) if i < len(node_ids) else i,
            int(feats[i]),
            float(values[i]),
            mode,
            int(trues[i]) if i < len(trues) else -1,
            int(falses[i]) if i < len(falses) else -1,
        ))
    return out


def _splits_v5(node: onnx.NodeProto) -> list[tuple[int, int, int, float, str, int, int]]:
    import numpy as np

    feats = list(_attr(node, "nodes_featureids") or [])
    splits = _attr(node, "nodes_splits")
    modes = _attr(node, "nodes_modes")
    if splits is None:
        return []
    values = np.asarray(splits).reshape(-1).tolist()
    mode_codes = [] if modes is None else np.asarray(modes).reshape(-1).tolist()
    out = []
    for i, feature in enumerate(feats):
        mode = _MODE_V5.get(int(mode_codes[i]) if i < len(mode_codes) else 0, "BRANCH_MEMBER")
        if i >= len(values):
            break
        # opset 5 has no per-node tree id; ids here are positions, used only to label the split
        out.append((0, i, int(feature), float(values[i]), mode, -1, -1))
    return out

"""Adversarial parity search: go and find the rows where the ONNX model and the reference disagree.

Parity on the user's rows, or on uniform random rows, misses divergences that live in a sliver of
the input space: a float64 value that rounds across a float32 tree threshold, a zero, a huge
magnitude, a NaN. :func:`check_search_divergences` spends a bounded budget of candidate rows (each
evaluated on both models) and a time limit, seeded, in four phases:

``tree_splits``
    Every ``(feature, threshold)`` split of the graph's ``TreeEnsemble*`` nodes, mapped back to the
    raw input through ``Scaler`` / ``Cast`` / elementwise constant nodes, bracketed and bisected from
    the data rows that reach the split.
``boundaries``
    Along each feature, from real rows, a grid over the data's range locates where the ONNX output
    jumps; bisection in the input's own floating-point type narrows each jump down to adjacent
    values, comparing both models at every step, so a reference whose jump sits elsewhere is caught
    on the rows in between.
``edges``
    One feature at a time: zeros, signed zeros, the data's min/max and beyond, large and small
    magnitudes, and NaN/infinity when the target allows them.
``hypothesis``
    A Hypothesis search (optional dependency) whose property is "the two models agree on this row",
    over the data's observed ranges; a failure shrinks to a small, readable row.

Rows are compared with the parity rule: an element fails when ``abs > atol`` and ``rel > rtol``
(labels exact). A label flip exactly on a probability tie (both models' probabilities agree within
tolerance and the reference's top two are within tolerance of each other) is counted as a tie, not a
divergence: no two floating-point implementations agree there.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from onnxgate.validators.report import CheckResult

if TYPE_CHECKING:
    import onnx

    from onnxgate.signature import Signature
    from onnxgate.targets import Target

__all__ = ["CHECK_NAME", "DEFAULT_BUDGET", "TreeSplit", "check_search_divergences", "tree_splits"]

#: Name of the check in a report.
CHECK_NAME = "search_divergences"
#: Rows tried when a caller asks for a search without a budget.
DEFAULT_BUDGET = 2000
#: Share of the budget each phase may spend before the next one starts; unspent rows roll over.
PHASE_SHARES: Mapping[str, float] = {"tree_splits": 0.35, "edges": 0.15, "boundaries": 0.6, "hypothesis": 1.0}
#: Hypothesis evaluates one row per example (milliseconds each, plus its own overhead): cap it, and
#: give the rest of the budget to the batched boundary search.
HYPOTHESIS_MAX_EXAMPLES = 200
#: Divergent rows kept in the report (all are counted).
MAX_REPORTED = 20
#: Divergent rows turned into a minimal (shortest decimal) form, each costing up to ~17 rows per feature.
MAX_MINIMISED = 5
#: Rows kept back from the search phases for that (at most a tenth of the budget).
MINIMISE_RESERVE = 60
#: Grid points per feature for the boundary phase.
GRID_POINTS = 9
#: Data rows, per split, the tree phase starts from (those that reach the split first).
SPLIT_BASE_ROWS = 3
#: Half-width of a bracket around a mapped threshold, in float32 ulps of the threshold.
SPLIT_BRACKET_ULPS = 64
#: Bisection never takes more steps than this (float64 has 52 mantissa bits, plus the exponent walk).
MAX_BISECT_STEPS = 80
#: Multipliers of the data's largest magnitude tried as "large" and "small" edge values.
LARGE_FACTORS = (1e2, 1e4)
SMALL_FACTORS = (1e-4, 1e-8)
Tolerance = float | Mapping[str, float] | None
Array = Any  # numpy arrays; kept loose so the module imports without numpy


# ------------------------------------------------------------------------------------------------
# Tree splits read from the graph


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

    from onnxgate._onnx import load_model

    proto = load_model(model)
    graph = proto.graph
    producers = {out: node for node in graph.node for out in node.output}
    consts = _constants(graph)
    input_types = {vi.name: vi.type.tensor_type.elem_type for vi in graph.input}
    found: list[TreeSplit] = []
    for node in graph.node:
        if node.op_type not in _TREE_OPS or not node.input:
            continue
        label = node.name or node.op_type
        trace = _trace_affine(node.input[0], producers, consts, input_types)
        if node.op_type == "TreeEnsemble":
            raw = _splits_v5(node)
        else:
            raw = _splits_v1(node)
        for tree_id, node_id, feature, threshold, mode, true_id, false_id in raw:
            split = TreeSplit(label, tree_id, node_id, feature, threshold, mode, true_id=true_id, false_id=false_id)
            if trace is not None:
                name, affine = trace
                off = affine.offset[feature] if affine.offset.size > 1 else affine.offset.item()
                sc = affine.scale[feature] if affine.scale.size > 1 else affine.scale.item()
                if feature < max(affine.offset.size, affine.scale.size, feature + 1) and sc != 0:
                    split = TreeSplit(
                        label, tree_id, node_id, feature, threshold, mode,
                        input=name, column=feature, raw_threshold=float(np.float64(threshold) / sc + off),
                        transform=" -> ".join(affine.steps) or "identity",
                        true_id=true_id, false_id=false_id, float32_before=affine.float32,
                    )
            found.append(split)
    return found


def _constants(graph: onnx.GraphProto) -> dict[str, Array]:
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = _attr(node, "value")
            if value is not None:
                values[node.output[0]] = value
    return values


def _trace_affine(
    name: str, producers: Mapping[str, Any], consts: Mapping[str, Array], input_types: Mapping[str, int]
) -> tuple[str, _Affine] | None:
    """Walk from a tree's input back to a graph input through affine per-column steps."""
    import numpy as np

    affine = _Affine(offset=np.zeros(1), scale=np.ones(1))
    steps: list[str] = []
    float32 = False
    current = name
    for _ in range(32):
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
        elif op == "Cast":
            to = _attr(node, "to")
            if to == 1:
                float32 = True
            steps.append(f"Cast({'float32' if to == 1 else to})")
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


# ------------------------------------------------------------------------------------------------
# The row space: candidate rows as a float64 matrix over every numeric input column


@dataclass
class _Space:
    signature: Signature
    feeds: dict[str, Array]
    n_rows: int
    features: list[tuple[str, int]]  # (input name, flat column)
    row_shapes: dict[str, tuple[int, ...]]
    X: Array  # (n_rows, d) float64
    lo: Array
    hi: Array
    integer: Array  # bool per feature
    float32: Array  # bool per feature: the input is float32 (so bisection steps in float32)

    @property
    def d(self) -> int:
        return len(self.features)

    def feature_name(self, j: int) -> str:
        name, col = self.features[j]
        if self.row_shapes[name] in ((), (1,)):
            return name
        return f"{name}[{col}]"

    def build(self, Xc: Array, base: Array) -> dict[str, Array]:
        import numpy as np

        out: dict[str, Array] = {}
        start = 0
        for spec in self.signature.inputs:
            name = spec.name
            if name not in self.row_shapes:
                out[name] = self.feeds[name][base]
                continue
            shape = self.row_shapes[name]
            width = int(np.prod(shape)) if shape else 1
            block = Xc[:, start : start + width]
            start += width
            dtype = self.feeds[name].dtype
            if dtype.kind in "iu":
                info = np.iinfo(dtype)
                block = np.clip(np.rint(np.nan_to_num(block, nan=0.0)), info.min, info.max)
            with np.errstate(over="ignore", invalid="ignore"):
                out[name] = np.ascontiguousarray(block.reshape((len(Xc), *shape)).astype(dtype))
        return out

    def representable(self, j: int, values: Array) -> Array:
        """Values as the model will see them in feature j's element type, back in float64."""
        import numpy as np

        name, _ = self.features[j]
        dtype = self.feeds[name].dtype
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            return np.clip(np.rint(values), info.min, info.max).astype(np.float64)
        with np.errstate(over="ignore"):
            return np.asarray(values, dtype=np.float64).astype(dtype).astype(np.float64)

    def row_dict(self, x: Array, base: int) -> dict[str, Any]:
        """A readable row: one entry per feature (and non-numeric inputs from the base row)."""
        row: dict[str, Any] = {}
        feeds = self.build(x.reshape(1, -1), _index([base]))
        for spec in self.signature.inputs:
            value = feeds[spec.name][0]
            if spec.name in self.row_shapes:
                flat = value.reshape(-1)
                if flat.size == 1:
                    row[spec.name] = _py(flat[0])
                else:
                    row[spec.name] = [_py(v) for v in flat.tolist()]
            else:
                flat = value.reshape(-1)
                row[spec.name] = _py(flat[0]) if flat.size == 1 else [_py(v) for v in flat.tolist()]
        return row


def _index(values: Sequence[int]) -> Array:
    import numpy as np

    return np.asarray(values, dtype=np.int64)


def _py(value: Any) -> Any:
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _make_space(signature: Signature, feeds: dict[str, Array]) -> _Space:
    import numpy as np

    n = len(next(iter(feeds.values())))
    features: list[tuple[str, int]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    blocks = []
    integer: list[bool] = []
    f32: list[bool] = []
    for spec in signature.inputs:
        array = feeds[spec.name]
        if array.dtype.kind not in "fiu" or array.ndim == 0:
            continue
        shape = tuple(int(s) for s in array.shape[1:])
        width = int(np.prod(shape)) if shape else 1
        shapes[spec.name] = shape
        features += [(spec.name, j) for j in range(width)]
        blocks.append(array.reshape(n, width).astype(np.float64))
        integer += [array.dtype.kind in "iu"] * width
        f32 += [array.dtype == np.float32 or array.dtype == np.float16] * width
    X = np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0))
    with np.errstate(all="ignore"):
        finite = np.where(np.isfinite(X), X, np.nan)
        lo = np.nan_to_num(np.nanmin(finite, axis=0), nan=0.0) if n else np.zeros(X.shape[1])
        hi = np.nan_to_num(np.nanmax(finite, axis=0), nan=1.0) if n else np.ones(X.shape[1])
    return _Space(signature, feeds, n, features, shapes, X, lo, hi, np.asarray(integer, bool), np.asarray(f32, bool))


# ------------------------------------------------------------------------------------------------
# Comparing rows


@dataclass
class _Divergence:
    strategy: str
    x: Array
    base: int
    feature: int | None
    outputs: list[dict[str, Any]]
    explanation: str = ""
    elapsed: float = 0.0
    rows_tried: int = 0


class _BudgetExhausted(Exception):
    """Raised inside a phase when the row budget or the time limit is spent."""


class _Searcher:
    def __init__(
        self,
        session: Any,
        proto: onnx.ModelProto,
        signature: Signature,
        space: _Space,
        reference_fn: Callable[[dict[str, Array]], list[Array | None]],
        *,
        budget: int,
        time_limit: float | None,
        tolerances: Mapping[str, tuple[float, float, str]],
    ) -> None:
        self.session = session
        self.proto = proto
        self.signature = signature
        self.space = space
        self.reference_fn = reference_fn
        self.budget = budget
        self.time_limit = time_limit
        self.tolerances = dict(tolerances)
        self.rows_tried = 0
        self.start = time.perf_counter()
        self.divergences: list[_Divergence] = []
        self.keys: set[tuple[Any, ...]] = set()
        self.n_divergent = 0
        self.ties = 0
        self.reference_rejected = 0
        self.onnx_errors: list[str] = []
        self.reference_errors: list[str] = []
        self.onnx_runs_ok = 0  # runs onnxruntime completed: 0 with errors means nothing was compared
        self.first_elapsed: float | None = None
        self.first_rows: int | None = None
        self.phase_rows: dict[str, int] = {}
        self.phase_found: dict[str, int] = {}
        self.phase_time: dict[str, float] = {}
        self.phase_limit = budget
        self.phase = ""
        self.output_names = [o.name for o in signature.outputs]

    # -- budget

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> int:
        return max(self.budget - self.rows_tried, 0)

    def out_of_time(self) -> bool:
        return self.time_limit is not None and self.elapsed() >= self.time_limit

    def exhausted(self) -> bool:
        return self.remaining() <= 0 or self.rows_tried >= self.phase_limit or self.out_of_time()

    # -- tolerance

    def tol(self, name: str) -> tuple[float, float, str]:
        return self.tolerances.get(name, (0.0, 0.0, "exact"))

    # -- evaluation

    def run_onnx(self, feeds: dict[str, Array]) -> list[Array]:
        import numpy as np

        outs = self.session.run(None, feeds)
        converted = [_as_array(o, np) for o in outs]
        self.onnx_runs_ok += 1
        return converted

    def note_onnx_error(self, err: BaseException) -> str:
        """Keep the first few onnxruntime errors for the report; returns the one-line form."""
        line = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
        if len(self.onnx_errors) < 5:
            self.onnx_errors.append(line)
        return line

    def note_reference_error(self, err: BaseException) -> str:
        """Keep the first few reference errors for the report; returns the one-line form."""
        line = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
        if len(self.reference_errors) < 5:
            self.reference_errors.append(line)
        return line

    def evaluate(
        self, Xc: Array, base: Array, *, feature: Array | None = None, record: bool = True
    ) -> tuple[list[Array] | None, Array]:
        """Run both models on the rows; returns ONNX outputs and a per-row divergent mask.

        Rows beyond the remaining budget are dropped (the caller sees a shorter result).
        """
        import numpy as np

        m = min(len(Xc), self.remaining(), self.phase_limit - self.rows_tried)
        if m <= 0 or self.out_of_time():
            raise _BudgetExhausted
        Xc, base = Xc[:m], base[:m]
        feeds = self.space.build(Xc, base)
        self.rows_tried += m
        self.phase_rows[self.phase] = self.phase_rows.get(self.phase, 0) + m
        try:
            ours = self.run_onnx(feeds)
        except Exception as err:  # a row onnxruntime refuses: find which, by halving
            if m == 1:
                self.note_onnx_error(err)
                mask = np.ones(1, bool)
                if record:
                    self._record(Xc[0], int(base[0]), None if feature is None else int(feature[0]),
                                 [{"output": None, "error": f"onnxruntime failed: {str(err)[:200]}"}])
                return None, mask
            self.rows_tried -= m
            self.phase_rows[self.phase] -= m
            return self._split_evaluate(Xc, base, feature, record)
        try:
            theirs = self.reference_fn(feeds)
        except Exception as err:
            if m == 1:
                self.reference_rejected += 1
                self.note_reference_error(err)
                return ours, np.zeros(1, bool)
            self.rows_tried -= m
            self.phase_rows[self.phase] -= m
            return self._split_evaluate(Xc, base, feature, record)
        bad, per_output, ties = self.compare(theirs, ours, m)
        self.ties += int(ties.sum())
        if record and bad.any():
            for i in np.flatnonzero(bad):
                evidence = [e for e in (entry[i] for entry in per_output) if e is not None]
                self._record(Xc[i], int(base[i]), None if feature is None else int(feature[i]), evidence)
        return ours, bad

    def _split_evaluate(
        self, Xc: Array, base: Array, feature: Array | None, record: bool
    ) -> tuple[list[Array] | None, Array]:
        import numpy as np

        half = len(Xc) // 2
        parts = []
        outs_parts: list[list[Array] | None] = []
        for sl in (slice(0, half), slice(half, None)):
            f = None if feature is None else feature[sl]
            outs, bad = self.evaluate(Xc[sl], base[sl], feature=f, record=record)
            outs_parts.append(outs)
            parts.append(bad)
        mask = np.concatenate(parts)
        if all(o is not None for o in outs_parts):
            done = [p for p in outs_parts if p is not None]
            merged = [np.concatenate([p[k] for p in done]) for k in range(len(done[0]))]
            return merged, mask
        return None, mask

    def compare(
        self, expected: Sequence[Array | None], actual: Sequence[Array], m: int
    ) -> tuple[Array, list[list[dict[str, Any] | None]], Array]:
        import numpy as np

        bad = np.zeros(m, bool)
        per_output: list[list[dict[str, Any] | None]] = []
        label_bad = np.zeros(m, bool)
        prob_ok = np.ones(m, bool)
        margin_tie = np.zeros(m, bool)
        for k, name in enumerate(self.output_names):
            exp = expected[k] if k < len(expected) else None
            if exp is None or k >= len(actual):
                continue
            act = actual[k]
            atol, rtol, mode = self.tol(name)
            rows, entries, is_label = _compare_rows(np.asarray(exp), np.asarray(act), m, name, atol, rtol, mode)
            if is_label:
                label_bad |= rows
            else:
                prob_ok &= ~rows
                e2 = np.asarray(exp)
                if e2.ndim == 2 and e2.shape[1] >= 2 and e2.shape[0] == m and e2.dtype.kind == "f":
                    top = np.sort(e2.astype(np.float64), axis=1)[:, -2:]
                    gap = top[:, 1] - top[:, 0]
                    margin_tie |= gap <= 2 * np.maximum(atol, rtol * np.abs(top[:, 1]))
            bad |= rows
            per_output.append(entries)
        # A label flip on a probability tie is no divergence: both sides are within tolerance there.
        only_label = label_bad & prob_ok & margin_tie
        bad &= ~only_label
        return bad, per_output, only_label

    def _record(self, x: Array, base: int, feature: int | None, outputs: list[dict[str, Any]]) -> None:
        import numpy as np

        self.n_divergent += 1
        self.phase_found[self.phase] = self.phase_found.get(self.phase, 0) + 1
        if self.first_elapsed is None:
            self.first_elapsed = self.elapsed()
            self.first_rows = self.rows_tried
        # One report entry per (feature, output, rounded value): bisection finds neighbours of one flip.
        key = (self.phase, feature, tuple(o.get("output") for o in outputs),
               None if feature is None else float(np.float32(x[feature])))
        if key in self.keys or len(self.divergences) >= MAX_REPORTED:
            return
        self.keys.add(key)
        self.divergences.append(
            _Divergence(
                self.phase, x.copy(), base, feature, outputs, elapsed=self.elapsed(), rows_tried=self.rows_tried
            )
        )


def _as_array(value: Any, np: Any) -> Array:
    if isinstance(value, list) and value and isinstance(value[0], dict):  # ZipMap output
        keys = sorted(value[0])
        return np.asarray([[row[k] for k in keys] for row in value], dtype=np.float64)
    return np.asarray(value)


def _compare_rows(
    exp: Array, act: Array, m: int, name: str, atol: float, rtol: float, mode: str = "tolerance"
) -> tuple[Array, list[dict[str, Any] | None], bool]:
    """Per-row verdict for one output with the parity rule of :mod:`onnxgate.validators.parity`.

    A value mismatches when ``abs > atol`` and ``rel > rtol`` (``rel`` is ``inf`` against a zero
    reference); NaN against NaN matches, NaN or infinity against anything else mismatches; in
    ``"exact"`` mode (labels) any difference does. Returns the row mask, one evidence entry per
    mismatching row, and whether the output is compared exactly.
    """
    import numpy as np

    entries: list[dict[str, Any] | None] = [None] * m
    if m == 0:
        return np.zeros(0, bool), entries, mode == "exact"
    if exp.size != act.size or (exp.ndim and exp.shape[0] != m) or (act.ndim and act.shape[0] != m):
        rows = np.ones(m, bool)
        for i in range(m):
            entries[i] = {"output": name, "error": f"shape {list(exp.shape)} vs {list(act.shape)}"}
        return rows, entries, mode == "exact"
    e = exp.reshape(m, -1)
    a = act.reshape(m, -1)
    numeric = e.dtype.kind in "biuf" and a.dtype.kind in "biuf"
    exact = mode == "exact" or not numeric
    if not numeric:
        diff = np.asarray(e.astype(object) != a.astype(object), dtype=bool).reshape(e.shape)
        absd = rel = None
    else:
        from onnxgate.validators.parity import _abs_rel_differences

        ef = e.astype(np.float64)
        af = a.astype(np.float64)
        finite, absd, rel = _abs_rel_differences(ef, af)
        both_nan = np.isnan(ef) & np.isnan(af)
        bad_nonfinite = ~finite & ~both_nan
        if exact:
            diff = np.asarray((np.asarray(e != a) & ~both_nan) & finite | bad_nonfinite, dtype=bool)
        else:
            diff = finite & (absd > atol) & (rel > rtol) | bad_nonfinite
    rows = np.asarray(diff.any(axis=1), dtype=bool)
    for i in (int(k) for k in np.flatnonzero(rows)):
        if absd is not None and not exact:
            both_finite = np.isfinite(e[i].astype(np.float64)) & np.isfinite(a[i].astype(np.float64))
            score = np.where(diff[i], np.where(both_finite, absd[i], np.inf), -1.0)
            j = int(np.argmax(score))
        else:
            j = int(np.flatnonzero(diff[i])[0])
        entry: dict[str, Any] = {"output": name, "label": exact, "index": j,
                                 "expected": _py(e[i, j]), "actual": _py(a[i, j])}
        if absd is not None and not exact:
            entry.update(abs_diff=_py(absd[i, j]), rel_diff=_py(rel[i, j]), atol=atol, rtol=rtol)  # type: ignore[index]
        entries[i] = entry
    return rows, entries, exact


# ------------------------------------------------------------------------------------------------
# Phases


def _signature_of(outputs: list[Array] | None, i: int) -> Any:
    return None if outputs is None else [o[i] for o in outputs]


def _same(searcher: _Searcher, a: list[Array], b: list[Array]) -> Array:
    """Per-row: are two ONNX output sets equal within tolerance (used to spot jumps)?"""
    import numpy as np

    m = len(a[0]) if a else 0
    same = np.ones(m, bool)
    for k, name in enumerate(searcher.output_names):
        if k >= len(a):
            break
        atol, rtol, mode = searcher.tol(name)
        rows, _, _ = _compare_rows(np.asarray(a[k]), np.asarray(b[k]), m, name, atol, rtol, mode)
        same &= ~rows
    return same


def _bisect(searcher: _Searcher, brackets: list[tuple[int, int, float, float]]) -> None:
    """Narrow each bracket (base row, feature, lo, hi) onto a jump of the ONNX output, comparing both models.

    Every midpoint is evaluated on both models, so if the reference jumps elsewhere than the ONNX
    model, some evaluated point falls between the two jumps and is recorded as divergent.
    """
    import numpy as np

    if not brackets:
        return
    sp = searcher.space
    base = _index([b for b, _, _, _ in brackets])
    feat = _index([f for _, f, _, _ in brackets])
    lo = np.asarray([v for _, _, v, _ in brackets], dtype=np.float64)
    hi = np.asarray([v for _, _, _, v in brackets], dtype=np.float64)
    for j in np.unique(feat):
        sel = feat == j
        lo[sel] = sp.representable(int(j), lo[sel])
        hi[sel] = sp.representable(int(j), hi[sel])
    rows = sp.X[base].copy()
    ends = np.concatenate([rows, rows])
    idx = np.arange(len(brackets))
    ends[idx, feat] = lo
    ends[len(brackets) + idx, feat] = hi
    outs, bad = searcher.evaluate(ends, np.concatenate([base, base]), feature=np.concatenate([feat, feat]))
    n = len(brackets)
    if outs is None or len(bad) < 2 * n:
        return
    lo_out = [o[:n] for o in outs]
    hi_out = [o[n:] for o in outs]
    active = ~_same(searcher, lo_out, hi_out) & ~bad[:n] & ~bad[n:]
    for _ in range(MAX_BISECT_STEPS):
        act = np.flatnonzero(active)
        if act.size == 0:
            return
        mid = np.empty(act.size)
        for j in np.unique(feat[act]):
            sel = feat[act] == j
            a, b = lo[act][sel], hi[act][sel]
            with np.errstate(over="ignore"):
                raw = a + (b - a) / 2
            mid[sel] = sp.representable(int(j), raw)
        # adjacent values: nothing left between lo and hi in the input's type
        stuck = (mid <= lo[act]) | (mid >= hi[act])
        active[act[stuck]] = False
        act, mid = act[~stuck], mid[~stuck]
        if act.size == 0:
            return
        cand = sp.X[base[act]].copy()
        cand[np.arange(act.size), feat[act]] = mid
        outs, bad = searcher.evaluate(cand, base[act], feature=feat[act])
        k = len(bad)
        act, mid, bad = act[:k], mid[:k], bad[:k]
        if outs is None:
            active[act] = False
            continue
        active[act[bad]] = False  # found a divergence in this bracket; move on
        keep = ~bad
        act, mid = act[keep], mid[keep]
        outs = [o[keep] for o in outs]
        lo_sel = [o[act] for o in lo_out]
        hi_sel = [o[act] for o in hi_out]
        like_lo = _same(searcher, outs, lo_sel)
        like_hi = _same(searcher, outs, hi_sel)
        go_hi = ~like_hi  # differs from hi: the jump is between mid and hi... keep [mid, hi] when like lo
        move_lo = like_lo & go_hi
        move_hi = ~like_lo
        # smooth stretch: mid matches both ends within tolerance -> no jump here
        flat = like_lo & like_hi
        active[act[flat]] = False
        for k2, o in enumerate(outs):
            lo_out[k2][act[move_lo]] = o[move_lo]
            hi_out[k2][act[move_hi]] = o[move_hi]
        lo[act[move_lo]] = mid[move_lo]
        hi[act[move_hi]] = mid[move_hi]
        if searcher.exhausted():
            raise _BudgetExhausted


def _reach(splits: list[TreeSplit], space: _Space, rows: Array) -> dict[tuple[str, int, int], Array]:
    """Which data rows reach each split (evaluated in float64 on the raw rows), when every split is mapped."""
    import numpy as np

    by_tree: dict[tuple[str, int], dict[int, TreeSplit]] = {}
    for s in splits:
        by_tree.setdefault((s.node, s.tree_id), {})[s.node_id] = s
    col_of = {(name, col): j for j, (name, col) in enumerate(space.features)}
    reach: dict[tuple[str, int, int], Array] = {}
    for (node, tree), nodes in by_tree.items():
        if any(s.raw_threshold is None or s.true_id < 0 for s in nodes.values()):
            continue
        children = {c for s in nodes.values() for c in (s.true_id, s.false_id)}
        roots = [i for i in nodes if i not in children]
        if not roots:
            continue
        stack = [(roots[0], np.ones(len(rows), bool))]
        while stack:
            node_id, mask = stack.pop()
            split = nodes.get(node_id)
            if split is None or not mask.any():
                continue
            s = split
            reach[(node, tree, node_id)] = mask
            j = col_of.get((s.input, s.column))  # type: ignore[arg-type]
            if j is None:
                continue
            x = space.X[rows, j]
            t = s.raw_threshold
            go = {"BRANCH_LEQ": x <= t, "BRANCH_LT": x < t, "BRANCH_GTE": x >= t, "BRANCH_GT": x > t,
                  "BRANCH_EQ": x == t, "BRANCH_NEQ": x != t}.get(s.mode, x <= t)
            stack.append((s.true_id, mask & go))
            stack.append((s.false_id, mask & ~go))
    return reach


def _phase_tree_splits(searcher: _Searcher, splits: list[TreeSplit], rng: Any) -> None:
    import numpy as np

    sp = searcher.space
    col_of = {(name, col): j for j, (name, col) in enumerate(sp.features)}
    mapped = [s for s in splits if s.raw_threshold is not None and (s.input, s.column) in col_of]
    if not mapped or sp.n_rows == 0:
        return
    pool = rng.permutation(sp.n_rows)[: min(sp.n_rows, 2000)]
    reach = _reach(mapped, sp, pool)
    brackets: list[tuple[int, int, float, float]] = []
    seen: set[tuple[int, float]] = set()
    for s in mapped:
        j = col_of[(s.input, s.column)]  # type: ignore[index]
        t = float(s.raw_threshold)  # type: ignore[arg-type]
        if (j, t) in seen:
            continue
        seen.add((j, t))
        ulp32 = float(np.spacing(np.float32(abs(t)))) if math.isfinite(t) else 1.0
        half = max(SPLIT_BRACKET_ULPS * ulp32, 1e-12)
        mask = reach.get((s.node, s.tree_id, s.node_id))
        if mask is not None and mask.any():
            rows = pool[mask]
        else:  # unknown path: start from the rows whose value is nearest the threshold
            rows = pool[np.argsort(np.abs(sp.X[pool, j] - t))]
        for k, b in enumerate(rows[:SPLIT_BASE_ROWS]):
            brackets.append((k, int(b), j, t - half, t + half))  # type: ignore[arg-type]
    # Every split once before any split twice: a forest has more splits than a budget has rows.
    brackets.sort(key=lambda item: item[0])  # type: ignore[arg-type,return-value]
    _bisect_in_chunks(searcher, [item[1:] for item in brackets], share="tree_splits")  # type: ignore[misc]


def _bisect_in_chunks(searcher: _Searcher, brackets: list[tuple[int, int, float, float]], share: str) -> None:
    # Brackets are processed a slice at a time so a large forest cannot spend the whole budget
    # before the first slice is finished.
    chunk = 16
    for i in range(0, len(brackets), chunk):
        if searcher.exhausted():
            return
        _bisect(searcher, brackets[i : i + chunk])


def _phase_boundaries(searcher: _Searcher, rng: Any) -> None:

    sp = searcher.space
    if sp.n_rows == 0 or sp.d == 0:
        return
    limit = searcher.phase_limit
    # Grids and their bisections alternate feature by feature, so every feature gets a turn; then
    # the next data row, while this phase's share of the budget lasts.
    for b in rng.permutation(sp.n_rows):
        if searcher.rows_tried >= limit or searcher.exhausted():
            return
        _boundaries_from_row(searcher, int(b), rng, limit)


def _boundaries_from_row(searcher: _Searcher, b: int, rng: Any, limit: int) -> None:
    import numpy as np

    sp = searcher.space
    for j in rng.permutation(sp.d):
        if searcher.rows_tried >= limit or searcher.exhausted():
            return
        lo, hi = float(sp.lo[j]), float(sp.hi[j])
        if not hi > lo:
            hi = lo + 1.0
        pad = (hi - lo) * 0.1
        grid = np.linspace(lo - pad, hi + pad, GRID_POINTS)
        if sp.integer[j]:
            grid = np.unique(np.rint(grid))
        block = np.repeat(sp.X[b][None, :], len(grid), axis=0)
        block[:, j] = grid
        bb = np.full(len(grid), b)
        ff = np.full(len(grid), j)
        outs, bad = searcher.evaluate(block, bb, feature=ff)
        if outs is None or len(bad) < len(block):
            continue
        n = len(block)
        same = _same(searcher, [o[:-1] for o in outs], [o[1:] for o in outs])
        j = int(ff[0])
        brackets = [
            (int(bb[i]), j, float(block[i, j]), float(block[i + 1, j]))
            for i in range(n - 1)
            if not same[i] and not bad[i] and not bad[i + 1]
        ]
        _bisect(searcher, brackets)


def _edge_values(space: _Space, j: int, allow_nan: bool) -> list[float]:
    import numpy as np

    lo, hi = float(space.lo[j]), float(space.hi[j])
    span = max(hi - lo, 1.0)
    big = max(abs(lo), abs(hi), 1.0)
    # In priority order: when the budget is short, every feature gets the first values first.
    values = [0.0, -0.0]
    if allow_nan and not space.integer[j]:
        values += [float("nan"), float("inf"), float("-inf")]
    values += [lo, hi, lo - span, hi + span]
    if space.integer[j]:
        values += [lo - 1, hi + 1, -1.0, 1.0]
    else:
        values += [s * big * f for f in LARGE_FACTORS for s in (1.0, -1.0)]
        values += [s * big * f for f in SMALL_FACTORS for s in (1.0, -1.0)]
    out = []
    seen: set[Any] = set()
    for v in values:
        key = (math.copysign(1.0, v), v) if not math.isnan(v) else "nan"
        if key not in seen:
            seen.add(key)
            out.append(v)
    return [float(v) for v in np.asarray(out)]


def _phase_edges(searcher: _Searcher, rng: Any, allow_nan: bool) -> None:
    import numpy as np

    sp = searcher.space
    if sp.n_rows == 0 or sp.d == 0:
        return
    base = int(rng.integers(sp.n_rows))
    rows, bases, feats, ranks = [], [], [], []
    for j in range(sp.d):
        for rank, v in enumerate(_edge_values(sp, j, allow_nan)):
            x = sp.X[base].copy()
            x[j] = v
            rows.append(x)
            bases.append(base)
            feats.append(j)
            ranks.append(rank)
    if not rows:
        return
    limit = max(int(searcher.budget * PHASE_SHARES["edges"]), 1)
    order = np.lexsort((_index(feats), _index(ranks)))[:limit]
    searcher.evaluate(np.asarray(rows)[order], _index(bases)[order], feature=_index(feats)[order])


def _phase_hypothesis(searcher: _Searcher, seed: int, allow_nan: bool) -> str | None:
    """Property-based search over the data's ranges; returns why it was skipped, or None."""
    try:
        import hypothesis
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import strategies as st
    except ImportError:
        return "hypothesis is not installed (pip install 'onnxgate[testing]')"
    import numpy as np

    sp = searcher.space
    if sp.n_rows == 0 or sp.d == 0:
        return "no numeric inputs to search"
    n_examples = min(searcher.remaining(), HYPOTHESIS_MAX_EXAMPLES)
    if n_examples <= 0:
        return "budget spent by earlier phases"

    elements = []
    for j in range(sp.d):
        lo, hi = float(sp.lo[j]), float(sp.hi[j])
        pad = max(hi - lo, 1.0) * 0.5
        if sp.integer[j]:
            elements.append(st.integers(math.floor(lo - pad), math.ceil(hi + pad)).map(float))
        else:
            width: Literal[32, 64] = 32 if sp.float32[j] else 64
            inner = st.floats(lo - pad, hi + pad, allow_nan=False, allow_infinity=False, width=width)
            # NaN and infinity are left to the edge phase: here they would mostly hit a reference
            # that rejects them and spend the budget on rows nobody can compare.
            elements.append(st.one_of(inner, st.sampled_from([0.0, -0.0, lo, hi])))
    strategy = st.tuples(st.integers(0, sp.n_rows - 1), st.tuples(*elements))
    state: dict[str, Any] = {"last": None}

    def prop(case: tuple[int, tuple[float, ...]]) -> None:
        if searcher.exhausted():
            return  # budget spent: stop spending rows, keep the smallest failure found so far
        b, values = case
        x = np.asarray(values, dtype=np.float64)[None, :]
        try:
            _outs, bad = searcher.evaluate(x, _index([b]), record=False)
        except _BudgetExhausted:
            return
        if len(bad) and bad[0]:
            state["last"] = (x[0], b)
            raise AssertionError("models disagree")

    test = settings(
        max_examples=max(1, n_examples),
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
    )(hypothesis.seed(seed)(given(strategy)(prop)))
    try:
        test()
    except AssertionError:
        pass
    except Exception as err:  # hypothesis wraps some errors; the search must not crash the report
        return f"hypothesis stopped: {type(err).__name__}: {err}"
    if state["last"] is not None:
        x, b = state["last"]
        # evaluate the shrunk row once more, recorded, so it lands in the report with its outputs
        # the one confirming row of a shrunk failure is always granted
        searcher.budget = max(searcher.budget, searcher.rows_tried + 1)
        searcher.phase_limit = max(searcher.phase_limit, searcher.rows_tried + 1)
        with contextlib.suppress(_BudgetExhausted):
            searcher.evaluate(x[None, :], _index([b]))
    return None


# ------------------------------------------------------------------------------------------------
# Minimal form and explanations


def _minimise(searcher: _Searcher, div: _Divergence) -> None:
    """Shortest decimal form of each changed feature that still diverges (a readable row)."""
    import numpy as np

    sp = searcher.space
    base_row = sp.X[div.base]
    changed = [j for j in range(sp.d) if not (np.isnan(div.x[j]) and np.isnan(base_row[j])) and div.x[j] != base_row[j]]
    for j in changed:
        v = float(div.x[j])
        if not math.isfinite(v):
            continue
        candidates = sorted({float(f"{v:.{digits}g}") for digits in range(1, 18)} - {v}, key=lambda c: len(repr(c)))
        candidates = [c for c in candidates if len(repr(c)) < len(repr(v))]
        if not candidates:
            continue
        block = np.repeat(div.x[None, :], len(candidates), axis=0)
        block[:, j] = candidates
        saved = searcher.phase
        searcher.phase = "minimise"
        try:
            _outs, bad = searcher.evaluate(block, _index([div.base] * len(block)), record=False)
        except _BudgetExhausted:
            return
        finally:
            searcher.phase = saved
        hits = np.flatnonzero(bad)
        if hits.size:
            x = div.x.copy()
            x[j] = candidates[int(hits[0])]
            feeds = sp.build(x[None, :], _index([div.base]))
            # Both runs are guarded as in evaluate(): a row onnxruntime refuses is itself the
            # divergence (kept with the error), a row the reference refuses is not one.
            try:
                ours = searcher.run_onnx(feeds)
            except Exception as err:
                searcher.note_onnx_error(err)
                if all(o.get("error") for o in div.outputs):
                    div.x = x
                    div.outputs = [{"output": None, "error": f"onnxruntime failed: {str(err)[:200]}"}]
                continue
            try:
                theirs = searcher.reference_fn(feeds)
            except Exception as err:
                searcher.note_reference_error(err)
                continue
            rows, per_output, _ties = searcher.compare(theirs, ours, 1)
            if rows[0]:
                div.x = x
                div.outputs = [e[0] for e in per_output if e[0] is not None]


def _near_splits(div: _Divergence, space: _Space, splits: list[TreeSplit]) -> list[TreeSplit]:
    """The mapped splits on the divergent feature whose raw threshold lies within the bracket of its value."""
    import numpy as np

    if div.feature is None:
        return []
    name, col = space.features[div.feature]
    value = float(div.x[div.feature])
    if not math.isfinite(value):
        return []
    near: list[TreeSplit] = []
    for s in splits:
        if s.input == name and s.column == col and s.raw_threshold is not None:
            ulp = float(np.spacing(np.float32(abs(value))))
            if abs(value - s.raw_threshold) <= 4 * SPLIT_BRACKET_ULPS * ulp:
                near.append(s)
    return near


def _split_position(div: _Divergence, space: _Space, splits: list[TreeSplit]) -> dict[str, Any] | None:
    """Where a divergent row sits relative to the nearest split on its feature (for the report), or None."""
    near = _near_splits(div, space, splits)
    if not near or div.feature is None:
        return None
    value = float(div.x[div.feature])
    s = min(near, key=lambda n: abs(value - float(n.raw_threshold)))  # type: ignore[arg-type]
    assert s.raw_threshold is not None
    return {"node": s.node, "tree_id": s.tree_id, "node_id": s.node_id, "mode": s.mode,
            "raw_threshold": s.raw_threshold, "value": value, "distance": value - s.raw_threshold}


def _explain(div: _Divergence, space: _Space, splits: list[TreeSplit], target: Target | None) -> str:
    if div.feature is None:
        return ""
    value = float(div.x[div.feature])
    if not math.isfinite(value):
        why = ""
        if splits:
            why = (
                " (scikit-learn trees send missing values down a learned branch; the ONNX TreeEnsemble "
                "compares NaN like a number, so it takes the 'false' branch of every split)"
            )
        return (
            f"{space.feature_name(div.feature)}={value!r}: the two models treat a non-finite value differently"
            f"{why}; reject or impute such values before scoring, or validate for a target that cannot hold "
            "them (allow_nan=False)"
        )
    near = _near_splits(div, space, splits)
    if not near:
        if splits and any(s.raw_threshold is None for s in splits):
            return (
                f"the ONNX output jumps near {space.feature_name(div.feature)}={value!r} where the reference does "
                "not: a tree split (or other threshold) is reached through preprocessing computed at a different "
                "precision; the graph's path to the tree could not be mapped back to this feature"
            )
        return ""
    s = min(near, key=lambda n: abs(value - float(n.raw_threshold)))  # type: ignore[arg-type]
    ml_cap = None if target is None or target.max_opset is None else target.max_opset.get("ai.onnx.ml")
    if ml_cap is None or ml_cap >= 3:
        double_tree = "a double TreeEnsemble (ai.onnx.ml opset 3, allowed by this target) is another way for regressors"
    else:
        double_tree = f"a double TreeEnsemble needs ai.onnx.ml opset 3, above this target's cap of {ml_cap}"
    f32 = "float32" if s.float32_before else "lower-precision"
    return (
        f"tree flip: {space.feature_name(div.feature)}={value!r} sits next to the split "
        f"'{s.describe()}' of node {s.node!r}. The graph runs {s.transform} in {f32} arithmetic before the "
        "split, so the preprocessed value lands on the other side of the threshold; the reference "
        "preprocesses in float64 and rounds to float32 only at the tree. Fix: keep the preprocessing in "
        "double up to the tree and Cast to float32 only at the tree's input, as scikit-learn does (double "
        f"Sub/Div run at every opset; {double_tree}); or cast the data to float32 before fitting the "
        "preprocessing, which narrows the window but closes it only when the preprocessing's constants are "
        "exact in float32; or remove large offsets from the features upstream"
    )


# ------------------------------------------------------------------------------------------------
# The check


def check_search_divergences(
    model: Any,
    reference: Any,
    data: Any,
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    atol: Tolerance = None,
    rtol: Tolerance = None,
    target: str | Target | None = None,
    time_limit: float | None = None,
) -> CheckResult:
    """Search for rows where the ONNX model and the reference disagree beyond tolerance.

    Parameters
    ----------
    model : onnx.ModelProto, path, bytes or Conversion
        The ONNX model.
    reference : object
        The native model (scikit-learn, PyTorch, Keras, TensorFlow). ``None`` uses
        ``model.source`` for a Conversion.
    data : array-like, DataFrame or dict
        Real rows the search starts from; their ranges bound the search.
    budget : int
        Candidate rows to try, each evaluated on both models.
    seed : int
        Seeds every random choice; the same seed repeats the same search.
    atol, rtol : float or mapping, optional
        Tolerances (per output with a ``""`` default); the reference converter's defaults otherwise.
    target : str or Target, optional
        NaN and infinity are tried only when the target allows them (``allow_nan``); the explanation
        of a tree flip checks the target's ai.onnx.ml opset cap.
    time_limit : float, optional
        Seconds; the search stops when it is reached even if budget remains.

    Returns
    -------
    CheckResult
        ``name="parity_search"``. ``details`` holds ``seed``, ``budget``, ``rows_tried``,
        ``time_s``, ``time_to_first_divergence_s``, ``rows_to_first_divergence``, per-phase counts,
        ``tree_splits`` and ``divergences`` (each: the row, the outputs that diverged and by how
        much, the phase that found it, an explanation when one applies, and ``split``: the nearest tree
        split on the divergent feature, ``{node, tree_id, node_id, mode, raw_threshold, value, distance}``,
        or null).

    Raises
    ------
    InvalidDataError
        The data does not fit the model's inputs.

    Examples
    --------
    >>> import onnxgate as og
    >>> model, X, y = og.zoo.get("sklearn-planted-scaler-tree").build()  # doctest: +SKIP
    >>> conv = og.convert(model, X)  # doctest: +SKIP
    >>> result = check_search_divergences(conv, model, X, budget=2000, seed=0)  # doctest: +SKIP
    >>> bool(result)  # doctest: +SKIP
    False
    """
    import numpy as np

    from onnxgate._data import as_feeds, load_data
    from onnxgate._onnx import load_model
    from onnxgate.signature import Signature
    from onnxgate.targets import resolve
    from onnxgate.validators.core import check_search_settings
    from onnxgate.validators.parity import resolve_tolerances
    from onnxgate.validators.reference import prepare_reference
    from onnxgate.validators.structure import _session

    check_search_settings(seed, time_limit)
    if reference is None:
        reference = getattr(model, "source", None)
    if reference is None:
        return CheckResult.skip(CHECK_NAME, "no reference model to compare with: pass reference=")
    if data is None:
        return CheckResult.skip(CHECK_NAME, "no data to start the search from: pass data=")
    tgt = resolve(target, default=None) if not hasattr(target, "allow_nan") else target  # type: ignore[arg-type]
    allow_nan = bool(getattr(tgt, "allow_nan", True)) if tgt is not None else True
    budget = int(budget)
    if budget <= 0:
        return CheckResult.skip(CHECK_NAME, f"search budget is {budget}: nothing to try")
    if isinstance(data, (str, os.PathLike)):
        data = load_data(data)
    proto = load_model(model)
    signature = Signature.from_model(proto)
    feeds = as_feeds(data, signature)
    space = _make_space(signature, feeds)
    try:
        session = _session(proto.SerializeToString(), spinning=False)  # runs alternate with the reference's
    except Exception as err:  # parity reports the same refusal; the search has nothing to run
        return CheckResult(
            CHECK_NAME, False,
            f"onnxruntime cannot load the model, so the search was not run: {type(err).__name__}: {err}",
            {"error": f"{type(err).__name__}: {err}"},
        )
    tolerances = resolve_tolerances(signature.outputs, atol, rtol)
    reference_fn = prepare_reference(reference, proto, signature)
    searcher = _Searcher(
        session, proto, signature, space, lambda feeds: list(reference_fn(feeds)),
        budget=budget, time_limit=time_limit, tolerances=tolerances,
    )
    rng = np.random.default_rng(seed)
    try:
        splits = tree_splits(proto)
    except Exception:  # an unusual tree encoding must not stop the other phases
        splits = []
    skipped: dict[str, str] = {}
    reserve = min(MINIMISE_RESERVE, budget // 10)
    # (phase, share of the budget, run); the boundary search comes back for whatever is left.
    phases: list[tuple[str, float, Callable[[], Any]]] = [
        ("tree_splits", PHASE_SHARES["tree_splits"], lambda: _phase_tree_splits(searcher, splits, rng)),
        ("edges", PHASE_SHARES["edges"], lambda: _phase_edges(searcher, rng, allow_nan)),
        ("boundaries", PHASE_SHARES["boundaries"], lambda: _phase_boundaries(searcher, rng)),
        ("hypothesis", PHASE_SHARES["hypothesis"], lambda: _phase_hypothesis(searcher, seed, allow_nan)),
        ("boundaries", 1.0, lambda: _phase_boundaries(searcher, rng)),
    ]
    with np.errstate(all="ignore"):
        for name, share, run in phases:
            searcher.phase = name
            # a reserve is kept for turning the first divergent rows into their minimal form
            searcher.phase_limit = min(searcher.rows_tried + max(int(budget * share), 1), budget - reserve)
            if searcher.exhausted():
                if name not in searcher.phase_rows:
                    skipped[name] = "budget or time limit reached"
                continue
            started = searcher.elapsed()
            try:
                why = run()
            except _BudgetExhausted:
                why = None
            searcher.phase_time[name] = searcher.phase_time.get(name, 0.0) + searcher.elapsed() - started
            if why:
                skipped[name] = why
        searcher.phase = "minimise"
        searcher.phase_limit = budget
        started = searcher.elapsed()
        for div in searcher.divergences[:MAX_MINIMISED]:
            try:
                _minimise(searcher, div)
            except _BudgetExhausted:
                break
        searcher.phase_time["minimise"] = searcher.elapsed() - started
    for div in searcher.divergences:
        div.explanation = _explain(div, space, splits, tgt)  # type: ignore[arg-type]
    return _result(
        searcher, space, splits, seed=seed, budget=budget, time_limit=time_limit, skipped=skipped, allow_nan=allow_nan
    )


def _result(
    searcher: _Searcher,
    space: _Space,
    splits: list[TreeSplit],
    *,
    seed: int,
    budget: int,
    time_limit: float | None,
    skipped: Mapping[str, str],
    allow_nan: bool,
) -> CheckResult:
    divergences = [
        {
            "row": space.row_dict(d.x, d.base),
            "feature": None if d.feature is None else space.feature_name(d.feature),
            "phase": d.strategy,
            "outputs": d.outputs,
            "explanation": d.explanation,
            "split": _split_position(d, space, splits),
            "found_after_s": round(d.elapsed, 4),
            "found_after_rows": d.rows_tried,
        }
        for d in searcher.divergences
    ]
    mapped = sum(1 for s in splits if s.raw_threshold is not None)
    details: dict[str, Any] = {
        "seed": seed,
        "budget": budget,
        "time_limit_s": time_limit,
        "rows_tried": searcher.rows_tried,
        "time_s": round(searcher.elapsed(), 4),
        "divergent_rows": searcher.n_divergent,
        "time_to_first_divergence_s": None if searcher.first_elapsed is None else round(searcher.first_elapsed, 4),
        "rows_to_first_divergence": searcher.first_rows,
        "phases": {
            name: {"rows": searcher.phase_rows.get(name, 0), "divergent": searcher.phase_found.get(name, 0),
                   "time_s": round(searcher.phase_time.get(name, 0.0), 4),
                   **({"skipped": skipped[name]} if name in skipped else {})}
            for name in ("tree_splits", "edges", "boundaries", "hypothesis", "minimise")
        },
        "tree_splits": {"total": len(splits), "mapped_to_raw_input": mapped},
        "nan_and_inf_tried": allow_nan,
        "ties_ignored": searcher.ties,
        "reference_rejected_rows": searcher.reference_rejected,
        "divergences": divergences,
    }
    if searcher.reference_errors:
        details["reference_errors"] = searcher.reference_errors
    if searcher.onnx_errors:
        details["onnx_errors"] = searcher.onnx_errors
    tried = f"{searcher.rows_tried} rows tried in {searcher.elapsed():.2f}s (seed {seed})"
    if searcher.onnx_errors and not searcher.onnx_runs_ok:
        # Nothing was compared: say why in one line instead of listing every refused row.
        return CheckResult(
            CHECK_NAME, False,
            f"onnxruntime refused every generated row, so nothing was compared: {searcher.onnx_errors[0]}; "
            f"fix the model's inputs (e.g. a fixed batch size) or the data; {tried}",
            details,
        )
    if not searcher.n_divergent:
        return CheckResult(CHECK_NAME, True, f"no divergent row found: {tried}", details)
    first: dict[str, Any] = divergences[0]
    out: dict[str, Any] = first["outputs"][0] if first["outputs"] else {}
    how = ""
    if out.get("error"):
        how = f" ({out['error']})"
    elif out.get("label"):
        how = f" label {out.get('expected')!r} -> {out.get('actual')!r}"
    elif "abs_diff" in out:
        how = f" abs={out['abs_diff']:.3g} (atol {out['atol']:g})"
    lead = searcher.divergences[0]
    if lead.feature is not None:
        where = f" at {first['feature']}={float(lead.x[lead.feature])!r} (row {first['row']})"
    else:
        where = f" at row {first['row']}"
    message = (
        f"{searcher.n_divergent} divergent row(s) found, first after {details['time_to_first_divergence_s']}s / "
        f"{searcher.first_rows} rows: output {out.get('output')!r}{how}{where}; {tried}"
    )
    if str(first["explanation"]).startswith("tree flip"):
        message += "; a float32 tree flip (see details for the fix)"
    return CheckResult(CHECK_NAME, False, message, details)

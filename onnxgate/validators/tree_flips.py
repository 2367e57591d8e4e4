"""Tree flips, measured: the rows parity finds off whose tree input, as the file computes it, sits on a split.

A tree ensemble behind arithmetic (a PCA's ``Sub`` and ``MatMul`` before a HistGradientBoosting) compares what that
arithmetic gives with its thresholds. The file's float32 kernels add in another order than numpy's BLAS, so a value
can come out one float32 step away from the reference's; on a row whose value sits right on a threshold, that step
takes the other branch and the answer jumps (19 and more on diabetes). Such rows are common in the rows the trees were
fitted on (a HistGradientBoosting's thresholds are often values of its training rows) and rare elsewhere. Parity
said nothing of why 79 of 442 training rows failed while held-out rows passed (helper-386): the rows that differ are
scored again with the trees' inputs exposed, and the distance of each to its nearest threshold is measured, in float32
steps (ulps) at the largest value of its feature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FLIP_COMBINED", "FLIP_ROWS", "FLIP_ULPS", "TreeRead", "computed_tree_inputs", "has_trees", "tree_flip_finding",
]

#: A tree input this many float32 steps (ulps at the largest value of its feature) or fewer from a threshold sits on
#: it: kernels adding the same float32 terms in another order differ by a step or two there.
FLIP_ULPS = 4
#: Up to this many values of a row on splits, every combination of them is moved across; past it, each alone and all.
FLIP_COMBINED = 4
#: At most this many of the rows that differ are scored again.
FLIP_ROWS = 200
_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble")
#: Nodes that do not change a value on its way to the tree (no rounding there).
_PASS_THROUGH = ("Identity", "Cast", "Reshape", "Flatten", "Squeeze", "Unsqueeze")


@dataclass(frozen=True)
class TreeRead:
    """What a ``TreeEnsemble*`` node compares with its thresholds: the value ``fed`` (its input, or the value
    onnxgate's ranks of a HistGradientBoosting's features are taken from), each feature's thresholds on it, and the op
    types of the nodes computing it (``ops``)."""

    label: str
    fed: str
    thresholds: Mapping[int, Any]
    ops: tuple[str, ...]


def has_trees(model: Any) -> bool:
    """Whether the main graph holds a ``TreeEnsemble*`` node: the op types alone, no constant read. Where it does not,
    :func:`computed_tree_inputs` is empty; where it does, parity keeps the rows that differ and reads the trees (every
    threshold, 50 ms for a 500-tree forest) only once it fails."""
    return any(node.op_type.startswith("TreeEnsemble") for node in model.graph.node)


def computed_tree_inputs(model: Any) -> list[TreeRead]:
    """The main graph's ``TreeEnsemble*`` nodes whose input is computed by arithmetic (not a graph input read as it
    is, through ``Cast`` and the like); empty for any other graph."""
    from onnxgate.validators.search.trees import tree_reads

    graph = model.graph
    if not has_trees(model):
        return []  # reading the graph's constants would read every weight (of a model held without them: raised)
    producers = {out: node for node in graph.node for out in node.output}
    found = []
    try:
        reads = tree_reads(graph)
    except Exception:  # the explanation is evidence, not a check: a graph it cannot read gets none
        return []
    for node, fed, thresholds in reads:
        ops: list[str] = []
        todo, seen = [fed], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in producers:
                continue
            seen.add(name)
            producer = producers[name]
            if producer.op_type not in _PASS_THROUGH and producer.op_type not in ops:
                ops.append(producer.op_type)
            todo.extend(i for i in producer.input if i)
        if ops and thresholds:
            found.append(TreeRead(node.name or node.op_type, fed, thresholds, tuple(reversed(ops))))
    return found


def _nearest(sorted_thresholds: Any, values: Any) -> Any:
    """Each value's nearest threshold (NaN for a NaN value), by bisection: a forest holds 10^5 thresholds a feature."""
    import numpy as np

    t = sorted_thresholds
    if not len(t):
        return np.full(len(values), np.nan)
    right = np.clip(np.searchsorted(t, values), 0, len(t) - 1)
    left = np.clip(right - 1, 0, len(t) - 1)
    nearest = np.where(np.abs(values - t[left]) <= np.abs(values - t[right]), t[left], t[right])
    return np.where(np.isnan(values), np.nan, nearest)


def _steps(near: Any, x: Any) -> Any:
    """One step of ``x``'s type at ``near`` or at the largest value of ``x``'s column, whichever is larger: a sum that
    cancels (a PCA component near 0) carries the rounding of its terms, many steps of its own small value."""
    import numpy as np

    finite = np.abs(x[np.isfinite(x)])
    scale = np.maximum(np.abs(near), finite.max() if finite.size else 0.0)
    return np.spacing(np.asarray(scale).astype(x.dtype)).astype(np.float64)


def tree_flip_finding(model: Any, trees: Sequence[TreeRead], feeds: Mapping[str, Any],
                      rows: Sequence[int], agree: Callable[[Sequence[Any], Sequence[int]], Any],
                      worst_of: int | None = None, first: bool = False) -> tuple[str, dict[str, Any]] | None:
    """Why the rows that differ (``feeds``: those rows, ``rows``: their numbers in the data) differ, where a value a
    tree reads sits on one of its thresholds (:data:`FLIP_ULPS`) and the file answers what the reference answers once
    that value is moved one step across the threshold; None when no row does, or they cannot be scored again.

    ``agree(outputs, positions)``: per row of ``outputs`` (the file's outputs, in order), whether it is the
    reference's answer to the row at that position of ``feeds``. Sitting on a split is not enough: most training rows
    of a HistGradientBoosting do (296 of 442 on diabetes), and a file with wrong leaves would pass for a flip.

    The sentence names the rows, the nearest split of the first one and what can be done, which depends on what the
    file records of its precision (``onnxgate.precision``): a graph computing in the reference's type adds in another
    order, which no setting reproduces bit for bit.

    ``worst_of``: ``rows`` are only the worst of this many rows that differ, those the evidence keeps with their
    inputs (Spark's driver holds no others), and the sentence says so; ``first``: ``rows`` are the first of them (local
    validate keeps the numbers of the first rows that differ). Where rows differ that are not flips, or were not scored
    again, the sentence does not advise setting the flips aside: those rows may be a wrong conversion."""
    import numpy as np
    import onnx

    from onnxgate import runtime
    from onnxgate._onnx import serialize

    if not trees or not rows:
        return None
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(dict.fromkeys(t.fed for t in trees))
    known = {o.name for o in probe.graph.output}
    for name in names:
        if name not in known:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    try:
        session = runtime.session(serialize(probe), spinning=False)
        values = dict(zip(names, (np.asarray(v) for v in session.run(names, dict(feeds)))))
    except Exception:  # a file whose inner values cannot be exposed: nothing measured, nothing said
        return None
    # per row: (steps, tree, feature, value, threshold) of its value nearest a threshold
    best: list[tuple[float, str, int, float, float]] = [(np.inf, "", -1, 0.0, 0.0)] * len(rows)
    near_ones: list[list[tuple[str, int, float]]] = [[] for _ in rows]  # (fed, feature, threshold) within reach
    for tree in trees:
        x = values[tree.fed]
        if x.ndim != 2 or x.shape[0] != len(rows) or x.dtype.kind != "f":
            continue
        for feature, thresholds in tree.thresholds.items():
            if feature >= x.shape[1] or not len(thresholds):
                continue
            col = x[:, feature]
            nearest = _nearest(np.unique(thresholds[np.isfinite(thresholds)]), col.astype(np.float64))
            steps = np.abs(col.astype(np.float64) - nearest) / _steps(nearest, col)
            for i in np.flatnonzero(steps <= FLIP_ULPS):
                near_ones[i].append((tree.fed, feature, float(nearest[i])))
                if steps[i] < best[i][0]:
                    best[i] = (float(steps[i]), tree.label, feature, float(col[i]), float(nearest[i]))
    flipped = _moved_across(model, values, feeds, near_ones, agree)
    if not flipped:
        return None
    return _sentence(model, trees, values, rows, best, flipped, sum(1 for n in near_ones if n), worst_of, first)


def _sentence(model: Any, trees: Sequence[TreeRead], values: Mapping[str, Any], rows: Sequence[int],
              best: Sequence[tuple[float, str, int, float, float]], flipped: Sequence[int],
              near: int, worst_of: int | None = None, first: bool = False) -> tuple[str, dict[str, Any]]:
    ops = list(dict.fromkeys(op for t in trees for op in t.ops))
    kinds = sorted({str(values[t.fed].dtype) for t in trees})
    kind = " or ".join(kinds)
    shown = ", ".join(str(rows[i]) for i in flipped[:10]) + (f" and {len(flipped) - 10} more" if len(flipped) > 10
                                                             else "")
    steps, label, feature, value, threshold = best[flipped[0]]
    again = " (those scored again)" if len(rows) >= FLIP_ROWS else ""
    counted = f"{len(rows)} rows that differ{again} (rows {shown})"
    unseen = worst_of is not None and worst_of > len(rows)
    if unseen and first:
        # local validate keeps the numbers of the first rows that differ (MISMATCH_INDEX_LIMIT a output), not all
        counted = (f"first {len(rows)} rows that differ (of at least {worst_of}; the others were not scored again: "
                   f"rows {shown})")
    elif unseen:
        # validate on Spark: the driver holds the worst rows with their inputs, never the others
        counted = (f"{len(rows)} rows that differ most (of the {worst_of} that differ: the rows the evidence keeps "
                   f"with their inputs; rows {shown})")
    sentence = (
        f"{len(flipped)} of the {counted} are tree flips: a value the trees "
        f"read sits within {FLIP_ULPS} {kind} steps (at the largest value of its feature among these rows) of a split "
        f"(row {rows[flipped[0]]}: node {label!r} feature {feature} = {value!r}, threshold {threshold!r}, {steps:g} "
        f"steps), and moved one step across it, the file answers what the reference answers: the {', '.join(ops)} "
        "before the trees rounds the value otherwise than the reference does, and the row takes the other branch"
    )
    if len(flipped) < len(rows):
        other = len(rows) - len(flipped)
        sentence += (f"; the other {other} row{'s are' if other > 1 else ' is'} not ({near - len(flipped)} of them "
                     "sit on a split, and moved across it do not give the reference's answer): they differ for "
                     "another reason")
    precision = next((p.value for p in model.metadata_props if p.key == "onnxgate.precision"), None)
    if precision is not None and precision.startswith("float32-from-float64"):
        sentence += (
            ". The file computes these steps in float32 where the reference computes them in float64: "
            "precision='float64' (CLI: --precision float64) computes them in double, which leaves only the order of "
            "additions to differ, and that can still flip a row right on a split"
        )
    elif precision in ("float32", "float64") and kinds == [precision]:
        sentence += (
            f". The file computes these steps in {precision}, as the reference does, only adding in another order "
            "(onnxruntime's kernels against numpy's), which no conversion reproduces bit for bit"
            + ("; precision='float64' computes them in double, which the reference does not do either (on a PCA "
               "before a HistGradientBoosting it moved more rows)" if precision == "float32" else "")
        )
    if len(flipped) < len(rows) or unseen:
        # rows that differ for another reason, or rows not looked at: advice to set the flips aside would have a user
        # dismiss them too (a leaf edited by 3 broke 33 rows behind 100 flips, and the message said only flips)
        sentence += ". The rows that are not tree flips, or were not scored again, may be a wrong conversion"
        return sentence, _evidence(rows, near, flipped, best, worst_of)
    sentence += (". Rows right on a split are mostly the trees' own training rows (a HistGradientBoosting's "
                 "thresholds are often values of them): validate on held-out rows, which rarely flip")
    return sentence, _evidence(rows, near, flipped, best, worst_of)


def _evidence(rows: Sequence[int], near: int, flipped: Sequence[int],
              best: Sequence[tuple[float, str, int, float, float]], worst_of: int | None) -> dict[str, Any]:
    """The finding's record (``details["tree_flips"]``): counts and the first ten flips' splits."""
    return {"rows": len(rows), "on_split": near, "flips": len(flipped), "max_steps": FLIP_ULPS,
            **({"of_rows": worst_of} if worst_of is not None and worst_of > len(rows) else {}),
            "examples": [{"row": rows[i], "node": best[i][1], "feature": best[i][2], "value": best[i][3],
                          "threshold": best[i][4], "steps": best[i][0]} for i in flipped[:10]]}


def _moved_across(model: Any, values: Mapping[str, Any], feeds: Mapping[str, Any],
                  near_ones: Sequence[Sequence[tuple[str, int, float]]],
                  agree: Callable[[Sequence[Any], Sequence[int]], Any]) -> list[int]:
    """The rows (positions in ``feeds``) the file answers as the reference does once values of theirs that sit on a
    split (``near_ones``: per row, each ``(value's name, feature, threshold)``) are moved one step across it: every
    combination of them up to :data:`FLIP_COMBINED` of them, else each alone and all together. The file is scored with
    each value's readers reading a new graph input instead, fed the moved values."""
    import numpy as np
    import onnx

    from onnxgate import runtime
    from onnxgate._onnx import serialize

    wired = onnx.ModelProto()
    wired.CopyFrom(model)
    taken = {v for n in wired.graph.node for v in (*n.input, *n.output)} | {i.name for i in wired.graph.input}
    renamed: dict[str, str] = {}
    for k, fed in enumerate(values):
        name = f"onnxgate_tree_input_{k}"
        while name in taken:
            name += "_"
        renamed[fed] = name
        x = values[fed]
        wired.graph.input.append(onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(x.dtype), [None, *x.shape[1:]]))
    for node in wired.graph.node:
        for j, read in enumerate(node.input):
            if read in renamed:
                node.input[j] = renamed[read]
    moved: list[tuple[int, dict[str, Any]]] = []  # (row position, the values it is scored with, moved)
    for i, across in enumerate(near_ones):
        if len(across) <= FLIP_COMBINED:
            tries = [[a for bit, a in enumerate(across) if mask >> bit & 1] for mask in range(1, 2 ** len(across))]
        else:
            tries = [[a] for a in across] + [list(across)]
        for changes in tries:
            row = {fed: np.array(x[i:i + 1]) for fed, x in values.items()}
            for fed, feature, threshold in changes:
                t = np.asarray(threshold, dtype=row[fed].dtype)
                # just above the threshold, or just below it (under it both for <= and for <)
                up = row[fed][0, feature] <= t
                row[fed][0, feature] = np.nextafter(t, np.asarray(np.inf if up else -np.inf, dtype=t.dtype))
            moved.append((i, row))
    if not moved:
        return []
    fed_rows = {name: np.concatenate([np.asarray(v)[[i]] for i, _ in moved]) for name, v in feeds.items()}
    for fed, name in renamed.items():
        fed_rows[name] = np.concatenate([row[fed] for _, row in moved])
    try:
        session = runtime.session(serialize(wired), spinning=False)
        outputs = session.run(None, fed_rows)
        ok = np.asarray(agree(outputs, [i for i, _ in moved]), dtype=bool)
    except Exception:  # the rewired file, or the reference on these rows, does not run: nothing measured
        return []
    return sorted({i for (i, _), good in zip(moved, ok) if good})

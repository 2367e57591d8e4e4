"""Explanations: each divergent row in its shortest decimal form, and why the two models disagree there."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from onnxgate.validators.search.engine import BudgetExhausted, Divergence, Searcher
from onnxgate.validators.search.settings import SPLIT_BRACKET_ULPS
from onnxgate.validators.search.space import Space, index_array
from onnxgate.validators.search.trees import TreeSplit

if TYPE_CHECKING:
    from onnxgate.targets import Target

__all__ = ["explain", "minimise", "near_splits", "split_position"]


def minimise(searcher: Searcher, div: Divergence) -> None:
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
            _outs, bad = searcher.evaluate(block, index_array([div.base] * len(block)), record=False, wide=div.wide)
        except BudgetExhausted:
            return
        finally:
            searcher.phase = saved
        hits = np.flatnonzero(bad)
        if hits.size:
            x = div.x.copy()
            x[j] = candidates[int(hits[0])]
            feeds = sp.build(x[None, :], index_array([div.base]))
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
                theirs = searcher.reference_fn(sp.build(x[None, :], index_array([div.base]), wide=True)
                                               if div.wide else feeds)
            except Exception as err:
                searcher.note_reference_error(err)
                continue
            rows, per_output, _ties = searcher.compare(theirs, ours, 1)
            if rows[0]:
                div.x = x
                div.outputs = [e[0] for e in per_output if e[0] is not None]


def near_splits(div: Divergence, space: Space, splits: list[TreeSplit]) -> list[TreeSplit]:
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


def split_position(div: Divergence, space: Space, splits: list[TreeSplit]) -> dict[str, Any] | None:
    """Where a divergent row sits relative to the nearest split on its feature (for the report), or None."""
    near = near_splits(div, space, splits)
    if not near or div.feature is None:
        return None
    value = float(div.x[div.feature])
    s = min(near, key=lambda n: abs(value - float(n.raw_threshold)))  # type: ignore[arg-type]
    assert s.raw_threshold is not None
    return {"node": s.node, "tree_id": s.tree_id, "node_id": s.node_id, "mode": s.mode,
            "raw_threshold": s.raw_threshold, "value": value, "distance": value - s.raw_threshold}


def explain(div: Divergence, space: Space, splits: list[TreeSplit], target: Target | None) -> str:
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
    near = near_splits(div, space, splits)
    if div.wide:
        return _rounded_across(div, space, near)
    if not near:
        if splits and any(s.raw_threshold is None for s in splits):
            return (
                f"the ONNX output jumps near {space.feature_name(div.feature)}={value!r} where the reference does "
                "not: a tree split (or other threshold) is reached through preprocessing computed at a different "
                "precision; the graph's path to the tree could not be mapped back to this feature"
            )
        return ""
    s = min(near, key=lambda n: abs(value - float(n.raw_threshold)))  # type: ignore[arg-type]
    if _read_exactly(s, space):
        return (
            f"split not the model's: {space.feature_name(div.feature)}={value!r} sits next to the split "
            f"'{s.describe()}' of node {s.node!r}, and the file compares the float32 input as it is (no "
            "arithmetic before the split), so no rounding moved the value across it: the reference answers "
            "as if its split were elsewhere. The file's threshold (or the tree around it) is not the model's: "
            "convert the model again, and report it if the converted file does this"
        )
    ml_cap = None if target is None or target.max_opset is None else target.max_opset.get("ai.onnx.ml")
    if ml_cap is None or ml_cap >= 3:
        double_tree = "a double TreeEnsemble (ai.onnx.ml opset 3, allowed by this target) is another way for regressors"
    else:
        double_tree = f"a double TreeEnsemble needs ai.onnx.ml opset 3, above this target's cap of {ml_cap}"
    narrow = next((t for t in ("float16", "bfloat16") if f"Cast({t})" in s.transform), None)
    f32 = narrow or ("float32" if s.float32_before else "lower-precision")
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


def _read_exactly(split: TreeSplit, space: Space) -> bool:
    """The tree reads the raw float32 input unchanged (no arithmetic, no narrowing Cast): rounding cannot flip it."""
    import numpy as np

    if split.input is None or split.input not in space.feeds:
        return False
    steps = split.transform.split(" -> ")
    return (space.feeds[split.input].dtype == np.float32
            and all(step in ("identity", "Cast(float32)") for step in steps))


def narrow_reading(div: Divergence, space: Space) -> tuple[float, Any, float]:
    """A wide divergence's float64 value on its feature, the file's input type there, and the value as that
    input rounds it."""
    import numpy as np

    assert div.feature is not None
    value = float(div.x[div.feature])
    dtype = space.feeds[space.features[div.feature][0]].dtype
    return value, dtype, float(np.asarray(value).astype(dtype))


def _rounded_across(div: Divergence, space: Space, near: list[TreeSplit]) -> str:
    """A float64 value the file's narrow input rounds across a split (the float64_splits phase)."""
    assert div.feature is not None
    value, dtype, rounded = narrow_reading(div, space)
    split = ""
    if near:
        s = min(near, key=lambda n: abs(value - float(n.raw_threshold)))  # type: ignore[arg-type]
        split = f" next to the split '{s.describe()}' of node {s.node!r}"
    return (
        f"float64 value rounded across a split: {space.feature_name(div.feature)}={value!r}{split} is read by the "
        f"file's {dtype} input as {rounded!r}, which falls on the other side of the split than the model's float64 "
        "threshold puts the value itself; the model compares the float64 value, so rows holding such values get "
        "another answer from the file. Fix: convert with a float64 sample (the rows as the model was fitted on "
        "them) so the file reads double (a SQL table's float columns hold double); or, if the rows are "
        f"{dtype} where the file runs, validate with the rows as {dtype}, which is what both then see"
    )

"""The search phases, each spending its share of the budget: tree splits, boundaries, edges, Hypothesis."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from onnxgate.validators.rule import compare_rows
from onnxgate.validators.search.engine import BudgetExhausted, Searcher
from onnxgate.validators.search.settings import (
    GRID_POINTS,
    HYPOTHESIS_MAX_EXAMPLES,
    LARGE_FACTORS,
    MAX_BISECT_STEPS,
    PHASE_SHARES,
    SMALL_FACTORS,
    SPLIT_BASE_ROWS,
    SPLIT_BRACKET_ULPS,
    Array,
)
from onnxgate.validators.search.space import Space, index_array
from onnxgate.validators.search.trees import TreeSplit

__all__ = [
    "float64_crossings",
    "phase_boundaries",
    "phase_edges",
    "phase_float64_splits",
    "phase_hypothesis",
    "phase_tree_splits",
    "same_outputs",
]


def _signature_of(outputs: list[Array] | None, i: int) -> Any:
    return None if outputs is None else [o[i] for o in outputs]


def same_outputs(searcher: Searcher, a: list[Array], b: list[Array]) -> Array:
    """Per-row: are two ONNX output sets equal within tolerance (used to spot jumps)?"""
    import numpy as np

    m = len(a[0]) if a else 0
    same = np.ones(m, bool)
    for k, name in enumerate(searcher.output_names):
        if k >= len(a):
            break
        atol, rtol, mode = searcher.tol(name)
        same &= ~compare_rows(a[k], b[k], atol=atol, rtol=rtol, exact=mode == "exact", name=name, rows=m).rows
    return same


def _bisect(searcher: Searcher, brackets: list[tuple[int, int, float, float]]) -> None:
    """Narrow each bracket (base row, feature, lo, hi) onto a jump of the ONNX output, comparing both models.

    Every midpoint is evaluated on both models, so if the reference jumps elsewhere than the ONNX
    model, some evaluated point falls between the two jumps and is recorded as divergent.
    """
    import numpy as np

    if not brackets:
        return
    sp = searcher.space
    base = index_array([b for b, _, _, _ in brackets])
    feat = index_array([f for _, f, _, _ in brackets])
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
    active = ~same_outputs(searcher, lo_out, hi_out) & ~bad[:n] & ~bad[n:]
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
        like_lo = same_outputs(searcher, outs, lo_sel)
        like_hi = same_outputs(searcher, outs, hi_sel)
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
            raise BudgetExhausted


def _reach(splits: list[TreeSplit], space: Space, rows: Array) -> dict[tuple[str, int, int], Array]:
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


def phase_tree_splits(searcher: Searcher, splits: list[TreeSplit], rng: Any) -> None:
    import numpy as np

    sp = searcher.space
    col_of = {(name, col): j for j, (name, col) in enumerate(sp.features)}
    mapped = [s for s in splits if s.raw_threshold is not None and (s.input, s.column) in col_of]
    if not mapped or sp.n_rows == 0:
        return
    brackets: list[tuple[int, int, float, float]] = []
    for _, j, t, rows in _distinct_splits(mapped, sp, col_of, rng):
        ulp32 = float(np.spacing(np.float32(abs(t)))) if math.isfinite(t) else 1.0
        half = max(SPLIT_BRACKET_ULPS * ulp32, 1e-12)
        for k, b in enumerate(rows[:SPLIT_BASE_ROWS]):
            brackets.append((k, int(b), j, t - half, t + half))  # type: ignore[arg-type]
    # Every split once before any split twice: a forest has more splits than a budget has rows.
    brackets.sort(key=lambda item: item[0])  # type: ignore[arg-type,return-value]
    _bisect_in_chunks(searcher, [item[1:] for item in brackets], share="tree_splits")  # type: ignore[misc]


def _distinct_splits(mapped: list[TreeSplit], sp: Any, col_of: dict[tuple[str, int], int], rng: Any
                     ) -> Iterator[tuple[TreeSplit, int, float, Any]]:
    """Each split of ``mapped`` on a feature and threshold not seen before, with its feature, its threshold and
    the rows of a pool of the data (up to 2,000) that reach it, else, on an unknown path, the pool's rows
    whose value is nearest the threshold first."""
    import numpy as np

    pool = rng.permutation(sp.n_rows)[: min(sp.n_rows, 2000)]
    reach = _reach(mapped, sp, pool)
    seen: set[tuple[int, float]] = set()
    for s in mapped:
        j = col_of[(s.input, s.column)]  # type: ignore[index]
        t = float(s.raw_threshold)  # type: ignore[arg-type]
        if (j, t) in seen:
            continue
        seen.add((j, t))
        mask = reach.get((s.node, s.tree_id, s.node_id))
        if mask is not None and mask.any():
            yield s, j, t, pool[mask]
        else:
            yield s, j, t, pool[np.argsort(np.abs(sp.X[pool, j] - t))]


def float64_crossings(threshold: float, mode: str, dtype: Any) -> list[list[float]]:
    """The float64 values either side of where the file's ``dtype`` input (float32, float16) rounds across
    ``threshold`` (a split compared in the graph's precision): the file answers each side as the rounded value
    does, a float64 model by the value itself, so when its own threshold lies elsewhere than that rounding
    point one of the two values diverges. In priority order: the pair at the point the split's ``mode`` jumps,
    then the pairs at the rounding points of the neighbouring narrow values."""
    import numpy as np

    narrow = np.dtype(dtype).type
    t = float(threshold)
    if not math.isfinite(t):
        return []
    with np.errstate(over="ignore"):
        near = narrow(t)
    if not np.isfinite(near):
        return []
    down, up = narrow(-np.inf), narrow(np.inf)
    # the file's branch changes between the largest narrow value that goes left and the next one up:
    # x <= t (and x > t) between the largest narrow value <= t and the next; x < t between the largest < t and the next
    last = near if float(near) <= t else np.nextafter(near, down)
    if mode in ("BRANCH_LT", "BRANCH_GTE") and float(last) >= t:
        last = np.nextafter(last, down)
    points: list[float] = []
    for lower in (last, np.nextafter(last, down), np.nextafter(last, up)):
        upper = np.nextafter(lower, up)
        if np.isfinite(lower) and np.isfinite(upper):
            points.append((float(lower) + float(upper)) / 2)  # exact: a narrow float has at most 24 bits
    return [[float(np.nextafter(m, -np.inf)), float(np.nextafter(m, np.inf))] for m in points]


def phase_float64_splits(searcher: Searcher, splits: list[TreeSplit], rng: Any) -> str | None:
    """For a native reference given the user's float64 values while the file reads float32 (a float64 model
    converted with a float32 sample, a SQL target's real columns): rows whose value on one feature is a
    float64 value next to where the file's input rounds across a split threshold (:func:`float64_crossings`),
    given to the reference as float64 and to the file rounded. The other phases try values the file's input
    holds, on which the two agree; the user's float64 rows flip the file's branch on exactly such values.
    Returns why nothing was tried, or None."""
    import numpy as np

    sp = searcher.space
    col_of = {(name, col): j for j, (name, col) in enumerate(sp.features)}
    mapped = [s for s in splits if s.raw_threshold is not None and (s.input, s.column) in col_of
              and sp.float32[col_of[(s.input, s.column)]]]  # type: ignore[index]
    if not mapped:
        return "no tree split on a float32 input was read from the graph"
    if sp.n_rows == 0:
        return None
    candidates: list[tuple[int, int, int, int, float]] = []  # (priority, order, base row, feature, value)
    for s, j, t, rows in _distinct_splits(mapped, sp, col_of, rng):
        pairs = float64_crossings(t, s.mode, sp.feeds[sp.features[j][0]].dtype)
        for k, b in enumerate(rows[:SPLIT_BASE_ROWS]):
            for tier, pair in enumerate(pairs):
                candidates += [(tier * SPLIT_BASE_ROWS + k, len(candidates), int(b), j, v) for v in pair]
    # every split's own rounding point in one row first, then more rows, then the neighbouring rounding points
    candidates.sort(key=lambda c: (c[0], c[1]))
    chunk = 256
    for i in range(0, len(candidates), chunk):
        if searcher.exhausted():
            return None
        part = candidates[i : i + chunk]
        base = index_array([c[2] for c in part])
        feat = index_array([c[3] for c in part])
        block = sp.X[base].copy()
        block[np.arange(len(part)), feat] = [c[4] for c in part]
        searcher.evaluate(block, base, feature=feat, wide=True)
    return None


def _bisect_in_chunks(searcher: Searcher, brackets: list[tuple[int, int, float, float]], share: str) -> None:
    # Brackets are processed a slice at a time so a large forest cannot spend the whole budget
    # before the first slice is finished.
    chunk = 16
    for i in range(0, len(brackets), chunk):
        if searcher.exhausted():
            return
        _bisect(searcher, brackets[i : i + chunk])


def phase_boundaries(searcher: Searcher, rng: Any) -> None:

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


def _boundaries_from_row(searcher: Searcher, b: int, rng: Any, limit: int) -> None:
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
        if sp.boolean[j]:
            grid = np.asarray([0.0, 1.0])
        elif sp.integer[j]:
            grid = np.unique(np.rint(grid))
        block = np.repeat(sp.X[b][None, :], len(grid), axis=0)
        block[:, j] = grid
        bb = np.full(len(grid), b)
        ff = np.full(len(grid), j)
        outs, bad = searcher.evaluate(block, bb, feature=ff)
        if outs is None or len(bad) < len(block):
            continue
        n = len(block)
        same = same_outputs(searcher, [o[:-1] for o in outs], [o[1:] for o in outs])
        j = int(ff[0])
        brackets = [
            (int(bb[i]), j, float(block[i, j]), float(block[i + 1, j]))
            for i in range(n - 1)
            if not same[i] and not bad[i] and not bad[i + 1]
        ]
        _bisect(searcher, brackets)


#: Edge values every feature should get before the phase stops: zero, NaN and both infinities (where
#: they are tried), the data's range, the other sign, a large magnitude, -1 (a common missing-value code) and
#: one range past each end.
EDGE_VALUES_FIRST = 11


def edge_share(budget: int, features: int) -> float:
    """The edge phase's share of the budget: its own, raised up to twice it so that each feature gets
    its first :data:`EDGE_VALUES_FIRST` values."""
    base = PHASE_SHARES["edges"]
    return max(base, min(2 * base, EDGE_VALUES_FIRST * features / max(budget, 1)))


def _edge_values(space: Space, j: int, allow_nan: bool) -> list[float]:
    import numpy as np

    if space.boolean[j]:
        return [0.0, 1.0]  # the only values of a boolean column: any other is a row the reference refuses
    lo, hi = float(space.lo[j]), float(space.hi[j])
    span = max(hi - lo, 1.0)
    big = max(abs(lo), abs(hi), 1.0)
    # In priority order: when the budget is short, every feature gets the first values first. Past the
    # data's range on both sides, the other sign and a large magnitude come before the finer points: at
    # --search 500 on wine, a model wrong for every negative input (all wine's values are positive) or
    # above 1e4 passed, the edge phase having tried only 0, -0, the range and one span past it.
    values = [0.0]
    if allow_nan and not space.integer[j]:
        values += [float("nan"), float("inf"), float("-inf")]
    values += [lo, hi, -big, big * LARGE_FACTORS[0], -1.0, lo - span, hi + span, -0.0]  # -1: a common sentinel
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


def phase_edges(searcher: Searcher, rng: Any, allow_nan: bool | Sequence[bool]) -> None:
    """Each feature at its edge values (zero, the data's range and past it, large and small magnitudes, and
    NaN and the infinities where ``allow_nan`` says: one bool, or one per feature); each text input unseen
    and empty (:data:`onnxgate.validators.search.space.TEXT_EDGES`) in a few data rows, then set to the values the
    reference or the file knows (:attr:`Space.value_rows`)."""
    import numpy as np

    sp = searcher.space
    # a quarter of the phase each (all of it for a text-only model), first the text edges: each a data row with
    # one text value unseen or empty (every input's unseen value comes first); the numbers' edges get the rest
    # (six text columns took it all)
    quarter = max(int(searcher.budget * edge_share(searcher.budget, sp.d + 1)) // 4, 1)
    if sp.text_rows:
        limit = quarter if sp.d else len(sp.text_rows)
        searcher.evaluate(sp.X[list(sp.text_rows[:limit])], index_array(list(sp.text_rows[:limit])))
    if sp.value_rows:
        # then each a data row with one text value a model knows (its categories, its vocabulary's words), the
        # values only one of the two knows first: a renamed category is scored otherwise only on rows holding it,
        # which the data may lack (helper-323)
        limit = quarter if sp.d else len(sp.value_rows)
        _, scored = searcher.evaluate(sp.X[list(sp.value_rows[:limit])], index_array(list(sp.value_rows[:limit])))
        # the values scored (the rows past the budget are dropped): a passing parity's note of the values no row
        # holds leaves out these alone (onnxgate.validators.parity.without_searched_values)
        searcher.values_scored = list(sp.value_picks[:len(scored)])
    if sp.n_rows == 0 or sp.d == 0:
        return
    base = int(rng.integers(sp.n_rows))
    rows, bases, feats, ranks = [], [], [], []
    for j in range(sp.d):
        nan_here = allow_nan if isinstance(allow_nan, bool) else bool(allow_nan[j])
        for rank, v in enumerate(_edge_values(sp, j, nan_here)):
            x = sp.X[base].copy()
            x[j] = v
            rows.append(x)
            bases.append(base)
            feats.append(j)
            ranks.append(rank)
    if not rows:
        return
    limit = max(int(searcher.budget * edge_share(searcher.budget, sp.d)), 1)
    order = np.lexsort((index_array(feats), index_array(ranks)))[:limit]
    candidates, bases_of, feats_of = np.asarray(rows)[order], index_array(bases)[order], index_array(feats)[order]
    # the finite rows in a batch of their own: a model whose answer reads the whole batch (a traced
    # `if x.max() > 2.5`) gets max NaN from a NaN row and took the same branch as its file on every row,
    # so a batch of edges holding both found nothing (found by helper-68)
    finite = np.isfinite(candidates).all(axis=1)
    for part in (finite, ~finite):
        if part.any():
            searcher.evaluate(candidates[part], bases_of[part], feature=feats_of[part])


def _outside_hypothesis_test(run: Any) -> None:
    """Call ``run`` (which runs a ``@given`` test) where Hypothesis does not see a test running.

    ``given()`` raises the ``nested_given`` health check inside another ``@given`` test, and only the
    outer test's settings can suppress it: ``assert_parity(..., search=N)`` called from a user's own
    ``@given`` test failed that way on a correct model. Hypothesis keeps its test context per thread,
    so the search's own test runs in a thread of its own there; the user's test waits for it.
    """
    from hypothesis.control import currently_in_test_context

    if not currently_in_test_context():
        run()
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="onnxgate-search") as pool:
        pool.submit(run).result()


#: The searches running now, and Hypothesis' storage as it was before the first of them
#: (:func:`_storage_in_the_cache_folder`).
_STORAGE_LOCK = threading.Lock()
_STORAGE: dict[str, Any] = {"searches": 0, "before": None, "folder": None, "temporary": False}


@contextlib.contextmanager
def _storage_in_the_cache_folder() -> Iterator[None]:
    """Point Hypothesis' storage (its ``.hypothesis`` folder) at onnxgate's cache folder while the search runs.

    ``database=None`` keeps no examples, but Hypothesis also caches the constants it reads from the source of the
    modules it sees as the user's own in ``.hypothesis/constants`` under the working directory, and no setting turns
    that off: ``onnxgate validate --search 300`` left a ``.hypothesis`` folder of 75 files in the folder it was run
    from. The storage is :func:`search_cache_folder` while the search runs (a cache of files named by their
    source's hash, written atomically, which processes share: a temporary folder made every fresh process read
    them again, the first ``validate --search 200`` on iris 2.6 s where it took 0.7 s), or a temporary folder,
    removed afterwards, where that cannot be made. It is then set back to where it was (a user's own tests keep
    their database, ``HYPOTHESIS_STORAGE_DIRECTORY`` or ``set_hypothesis_home_dir`` included).

    The storage is one setting of the process: searches running at once in several threads share one folder, and
    the last to end puts the storage back. Each setting it back to what it found left Hypothesis' storage, after
    two overlapping searches, in the first one's folder, deleted (a user's later tests kept their failing examples
    there).
    """
    import shutil
    import tempfile

    from hypothesis import configuration

    with _STORAGE_LOCK:
        if not _STORAGE["searches"]:
            # Hypothesis offers no getter: the module global set_hypothesis_home_dir writes (None when never set)
            _STORAGE["before"] = getattr(configuration, "__hypothesis_home_directory", None)
            cache = search_cache_folder()
            _STORAGE["folder"] = cache or tempfile.mkdtemp(prefix="onnxgate-search-")
            _STORAGE["temporary"] = cache is None
            configuration.set_hypothesis_home_dir(_STORAGE["folder"])
        _STORAGE["searches"] += 1
    try:
        yield
    finally:
        with _STORAGE_LOCK:
            _STORAGE["searches"] -= 1
            if not _STORAGE["searches"]:
                configuration.set_hypothesis_home_dir(_STORAGE["before"])
                if _STORAGE["temporary"]:
                    shutil.rmtree(_STORAGE["folder"], ignore_errors=True)
                _STORAGE["before"] = _STORAGE["folder"] = None


def search_cache_folder() -> str | None:
    """onnxgate's folder for the search's Hypothesis cache: ``onnxgate/hypothesis`` under ``$XDG_CACHE_HOME``
    (``~/.cache`` when unset), made if missing; None when it cannot be made or written (a read-only home)."""
    import os
    from pathlib import Path

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "onnxgate" / "hypothesis"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home folder to expand
        return None
    return str(folder) if os.access(folder, os.W_OK) else None


def phase_hypothesis(searcher: Searcher, seed: int, allow_nan: bool) -> str | None:
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
        if sp.boolean[j]:
            elements.append(st.sampled_from([0.0, 1.0]))
        elif sp.integer[j]:
            elements.append(st.integers(math.floor(lo - pad), math.ceil(hi + pad)).map(float))
        else:
            width: Literal[32, 64] = 32 if sp.float32[j] else 64
            low, high = lo - pad, hi + pad
            if width == 32:  # hypothesis takes only bounds a float32 holds exactly: 9.13 stopped the phase
                top = float(np.finfo(np.float32).max)
                low, high = (float(np.float32(min(max(v, -top), top))) for v in (low, high))
            inner = st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)
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
            _outs, bad = searcher.evaluate(x, index_array([b]), record=False)
        except BudgetExhausted:
            return
        if len(bad) and bad[0]:
            state["last"] = (x[0], b)
            raise AssertionError("models disagree")

    def run() -> None:
        test = settings(
            max_examples=max(1, n_examples),
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
            report_multiple_bugs=False,
        )(hypothesis.seed(seed)(given(strategy)(prop)))
        test()

    try:
        with _storage_in_the_cache_folder():
            _outside_hypothesis_test(run)
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
        with contextlib.suppress(BudgetExhausted):
            searcher.evaluate(x[None, :], index_array([b]))
    return None

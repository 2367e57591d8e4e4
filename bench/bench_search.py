"""Adversarial search against uniform random sampling on the planted zoo case.

``sklearn-planted-scaler-tree`` (a float64 StandardScaler over iris features in micrometres on a
1e4 baseline, feeding a decision tree; in ONNX the scaler runs in float32) hides tree flips in
windows about 1e-4 wide. For several seeds, with the same row budget:

* ``search``: :func:`onnxgate.validators.search.check_search_divergences`, its time and rows to the
  first divergent row (goal: under 2 seconds);
* ``uniform``: rows drawn uniformly over the data's per-feature range, evaluated in batches of 100
  with the same comparison rule, the time and rows to the first divergent row (if any).

Also the number of divergent rows among 100,000 uniform rows (the issue's claim: none).

Run: ``.venv/bin/python bench/bench_search.py [--quick]`` prints a table and writes
``bench/results/search.json``; ``bench/run.py`` calls :func:`main`.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import REPO, machine, row

BENCHMARK = "parity-search"
ENTRY = "sklearn-planted-scaler-tree"
BUDGET = 2000
SEEDS = 5
QUICK_SEEDS = 3
UNIFORM_BATCH = 100
UNIFORM_BIG = 100_000
GOAL_SECONDS = 2.0
TIME_LIMIT = 60.0
#: NaN and infinity are not tried (SQL float columns cannot hold them): the figures are about tree
#: flips, not about scikit-learn's trees routing NaN differently from ONNX's.
TARGET = "sql-edge-2.0"


def _uniform(conv: Any, model: Any, X: Any, budget: int, seed: int) -> dict[str, Any]:
    """Uniform rows over the data's range, in batches, until the first divergent row or the budget."""
    import numpy as np
    import onnxruntime as ort

    from onnxgate.validators.parity import resolve_tolerances
    from onnxgate.validators.reference import prepare_reference
    from onnxgate.validators.search import _compare_rows

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    reference = prepare_reference(model, conv.model, conv.signature)
    tolerances = resolve_tolerances(conv.signature.outputs)
    rng = np.random.default_rng(seed)
    lo, hi = X.min(axis=0), X.max(axis=0)
    start = time.perf_counter()
    tried = 0
    while tried < budget:
        n = min(UNIFORM_BATCH, budget - tried)
        rows = rng.uniform(lo, hi, size=(n, X.shape[1]))
        feeds = {"input": rows}
        ours = session.run(None, feeds)
        theirs = reference(feeds)
        bad = np.zeros(n, bool)
        for spec, o, t in zip(conv.signature.outputs, ours, theirs):
            if t is not None:
                bad |= _compare_rows(np.asarray(t), np.asarray(o), n, spec.name, *tolerances[spec.name])[0]
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            return {"found": True, "seconds": time.perf_counter() - start, "rows": tried + first + 1}
        tried += n
    return {"found": False, "seconds": time.perf_counter() - start, "rows": tried}


def _count_uniform_divergences(conv: Any, model: Any, X: Any, rows: int, seed: int) -> int:
    import numpy as np

    from onnxgate.validators.parity import check_prediction_parity

    rng = np.random.default_rng(seed)
    data = rng.uniform(X.min(axis=0), X.max(axis=0), size=(rows, X.shape[1]))
    result = check_prediction_parity(conv, model, data, progress=False)
    return max((o["mismatched_rows"] for o in result.details["outputs"]), default=0)


def measure(quick: bool = False) -> dict[str, Any]:
    import warnings

    import onnxgate as og
    from onnxgate.validators.parity import check_prediction_parity
    from onnxgate.validators.search import check_search_divergences

    warnings.filterwarnings("ignore")
    model, X, _y = og.zoo.get(ENTRY).build()
    conv = og.convert(model, X, precision="float32")  # the planted flip lives in the float32 graph
    seeds = list(range(QUICK_SEEDS if quick else SEEDS))
    check_search_divergences(conv, model, X, budget=50, seed=99)  # warm-up: imports, sessions
    search_runs = []
    for seed in seeds:
        start = time.perf_counter()
        result = check_search_divergences(conv, model, X, budget=BUDGET, seed=seed, time_limit=TIME_LIMIT,
                                              target=TARGET)
        total = time.perf_counter() - start
        d = result.details
        search_runs.append({
            "seed": seed,
            "found": not result.passed,
            "time_to_first_s": d["time_to_first_divergence_s"],
            "rows_to_first": d["rows_to_first_divergence"],
            "first_phase": d["divergences"][0]["phase"] if d["divergences"] else None,
            "rows_tried": d["rows_tried"],
            "divergent_rows": d["divergent_rows"],
            "total_s": round(total, 3),
        })
    uniform_runs = [{"seed": s, **_uniform(conv, model, X, BUDGET, s)} for s in seeds]
    # The same search blind to the graph's tree splits: only the boundary, edge and Hypothesis
    # phases, as for a model whose discontinuities onnxgate cannot read.
    from onnxgate.validators import search as search_module

    saved = search_module.tree_splits
    search_module.tree_splits = lambda model: []  # type: ignore[assignment]
    blind_runs = []
    try:
        for seed in seeds:
            result = check_search_divergences(conv, model, X, budget=BUDGET, seed=seed, time_limit=TIME_LIMIT,
                                              target=TARGET)
            d = result.details
            blind_runs.append({"seed": seed, "found": not result.passed,
                               "time_to_first_s": d["time_to_first_divergence_s"],
                               "rows_to_first": d["rows_to_first_divergence"],
                               "first_phase": d["divergences"][0]["phase"] if d["divergences"] else None})
    finally:
        search_module.tree_splits = saved
    return {
        "entry": ENTRY,
        "budget": BUDGET,
        "seeds": seeds,
        "training_rows_parity_passed": bool(check_prediction_parity(conv, model, X, progress=False).passed),
        "uniform_100k_divergent_rows": _count_uniform_divergences(conv, model, X, UNIFORM_BIG, 0),
        "search": search_runs,
        "uniform": uniform_runs,
        "search_without_tree_metadata": blind_runs,
    }


def _median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def main(quick: bool = False) -> list[dict[str, Any]]:
    data = measure(quick)
    s, u = data["search"], data["uniform"]
    found_s = sum(r["found"] for r in s)
    found_u = sum(r["found"] for r in u)
    t_first = _median([r["time_to_first_s"] for r in s])
    u_first = _median([r["seconds"] for r in u if r["found"]])
    rows = [
        row(BENCHMARK, "search", "time_to_first_divergence", t_first, None, None, "s",
            goal_s=GOAL_SECONDS, goal_met=t_first is not None and t_first < GOAL_SECONDS,
            found=f"{found_s}/{len(s)} seeds"),
        row(BENCHMARK, "search", "rows_to_first_divergence", _median([r["rows_to_first"] for r in s]), None, None,
            "rows", budget=BUDGET),
        row(BENCHMARK, "search", "total_time_full_budget", _median([r["total_s"] for r in s]), None, None, "s",
            rows_tried=_median([r["rows_tried"] for r in s])),
        row(BENCHMARK, "search-blind", "time_to_first_divergence",
            _median([r["time_to_first_s"] for r in data["search_without_tree_metadata"]]), None, None, "s",
            found=f"{sum(r['found'] for r in data['search_without_tree_metadata'])}/{len(s)} seeds",
            note="tree splits not read from the graph"),
        row(BENCHMARK, "search-blind", "rows_to_first_divergence",
            _median([r["rows_to_first"] for r in data["search_without_tree_metadata"]]), None, None, "rows",
            budget=BUDGET),
        row(BENCHMARK, "uniform", "time_to_first_divergence", u_first, None, None, "s",
            found=f"{found_u}/{len(u)} seeds", note="None: no divergent row within the budget"),
        row(BENCHMARK, "uniform", "rows_to_first_divergence",
            _median([r["rows"] for r in u if r["found"]]), None, None, "rows", budget=BUDGET),
        row(BENCHMARK, "uniform-100k", "divergent_rows", data["uniform_100k_divergent_rows"], None, None, "rows"),
    ]
    if not quick:
        out = REPO / "bench" / "results" / "search.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"machine": machine(), **data, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'case':<14} {'metric':<26} {'value':>10} {'unit':<5} notes"]
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:.4g}"
        notes = ", ".join(f"{k}={r[k]}" for k in ("found", "budget", "rows_tried", "goal_s", "goal_met") if k in r)
        lines.append(f"{r['case']:<14} {r['metric']:<26} {value:>10} {r['unit']:<5} {notes}")
    return "\n".join(lines)


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    print(_table(main(quick)))
    if not quick:
        print(f"\nwrote {REPO / 'bench' / 'results' / 'search.json'}")

"""Parity throughput: ``og.validate`` with a reference on 1,000,000 rows x 10 features.

For a 100-tree random forest and an MLP (scikit-learn), the time of ``validate(model, reference=...,
data=X)`` against the floor measured in the same process: the reference's own ``predict(X)`` plus one
onnxruntime ``run`` on the same X. Goal: at most 1.2x the floor. Memory: the peak resident memory
``validate`` adds above the process holding the data, against the data's size. Goal: at most 2x.

Each case runs in its own subprocess so its peak RSS (``VmHWM``, reset before each phase) is its own.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._util import REPO, current_rss_mb, median_time, peak_rss_mb, reset_peak_rss, row

BENCHMARK = "parity-throughput"
TIME_GOAL = "<= 1.2"
MEMORY_GOAL = "<= 2.0"
FULL_ROWS = 1_000_000
QUICK_ROWS = 20_000
FEATURES = 10
TRAIN_ROWS = 20_000  # the models train on a slice: the benchmark is about predicting, not fitting
QUICK_TRAIN_ROWS = 2_000
SEED = 0


def _data(rows: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    y = (X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.normal(scale=0.1, size=rows)).astype(
        np.float32
    )
    return X, y


def _models(quick: bool) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.neural_network import MLPRegressor

    return {
        # shallow enough to train in seconds, still 100 trees for the runtime to walk
        "random-forest-100": RandomForestRegressor(n_estimators=100, max_depth=8, random_state=SEED, n_jobs=1),
        "mlp-64x64": MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=30 if not quick else 5, random_state=SEED),
    }


def _child(folder: str, repeat: int) -> None:
    """Inside the case's subprocess: convert (untimed), then memory and time of validate and floor."""
    import warnings

    import numpy as np
    import onnxruntime as ort

    import onnxgate as og

    warnings.simplefilter("ignore")
    with open(Path(folder) / "model.pkl", "rb") as handle:
        model = pickle.load(handle)  # written by this benchmark a moment ago
    X = np.load(Path(folder) / "X.npy")
    conv = og.convert(model, X[:100])
    onnx_model = conv.model
    input_name = conv.signature.inputs[0].name
    serialized = onnx_model.SerializeToString()

    def run_validate() -> Any:
        report = og.validate(onnx_model, target="onnxruntime", reference=model, data=X)
        return report

    def run_floor() -> None:
        model.predict(X)
        session = ort.InferenceSession(serialized, providers=["CPUExecutionProvider"])
        session.run(None, {input_name: X})

    out: dict[str, Any] = {"data_mb": X.nbytes / 2**20, "rows": int(X.shape[0])}
    # Memory first, each phase from a reset high-water mark over the same resident baseline.
    phases: tuple[tuple[str, Callable[[], Any]], ...] = (("floor", run_floor), ("validate", run_validate))
    for name, func in phases:
        base = current_rss_mb()
        reset_peak_rss()
        result: Any = func()
        peak = peak_rss_mb()
        out[f"{name}_extra_mb"] = None if peak is None or base is None else max(0.0, peak - base)
        if name == "validate":
            out["passed"] = bool(result)
            out["summary"] = result.summary() if hasattr(result, "summary") else str(result)
    # Time: the floor is measured in parts so its components can be reported.
    session = ort.InferenceSession(serialized, providers=["CPUExecutionProvider"])
    out["predict_s"] = median_time(lambda: model.predict(X), repeat=repeat, warmup=0)
    out["ort_s"] = median_time(lambda: session.run(None, {input_name: X}), repeat=repeat, warmup=0)
    out["validate_s"] = median_time(run_validate, repeat=repeat, warmup=0)
    print("@@" + json.dumps(out))


def main(quick: bool = False) -> list[dict[str, Any]]:
    rows_n = QUICK_ROWS if quick else FULL_ROWS
    repeat = 3
    X, y = _data(rows_n)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-parity-") as tmp:
        import numpy as np

        np.save(Path(tmp) / "X.npy", X)
        for case, estimator in _models(quick).items():
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MLP convergence warnings: training is not measured
                train = QUICK_TRAIN_ROWS if quick else TRAIN_ROWS
                estimator.fit(X[:train], y[:train])
            with open(Path(tmp) / "model.pkl", "wb") as handle:
                pickle.dump(estimator, handle)
            code = f"from bench.bench_parity import _child; _child({tmp!r}, {repeat})"
            proc = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO), timeout=3600
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
            if not lines:
                raise RuntimeError(f"{case}: the measuring subprocess failed: {proc.stderr[-2000:]}")
            m = json.loads(lines[-1][2:])
            label = f"{case} {m['rows']:,}x{FEATURES}"
            floor = m["predict_s"] + m["ort_s"]
            note = f"predict {m['predict_s']:.2f}s + ort {m['ort_s']:.2f}s; {m['summary']}"[:160]
            rows.append(row(BENCHMARK, label, "validate_time", m["validate_s"], floor, TIME_GOAL, "s", note=note))
            rows.append(row(BENCHMARK, label, "validate_rows_per_s", m["rows"] / m["validate_s"],
                            m["rows"] / floor, None, "rows/s"))
            rows.append(row(BENCHMARK, label, "validate_peak_extra_mem", m["validate_extra_mb"], m["data_mb"],
                            MEMORY_GOAL, "MB", note="baseline = size of X"))
            rows.append(row(BENCHMARK, label, "floor_peak_extra_mem", m["floor_extra_mb"], m["data_mb"], None,
                            "MB", note="predict + one onnxruntime run; baseline = size of X"))
    return rows


if __name__ == "__main__":
    for r in main(quick="--quick" in sys.argv):
        print(r)

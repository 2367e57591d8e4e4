"""Validate against its floor: ``og.validate`` and ``onnxgate validate`` of a 500-tree forest and a linear model.

For a ``RandomForestClassifier(500)`` on breast_cancer and a ``LogisticRegression`` on iris, each on the shipped rows
and on 20,000 rows drawn from them with noise: the time of ``og.validate(conv, target="container", reference=model,
data=X)`` against the floor measured in the same process, what any validation of the file on those rows must do:
``onnx.checker`` once, one onnxruntime session made and run on X, and the reference's ``predict`` and
``predict_proba`` on X (the file's two outputs). The CLI, ``onnxgate validate model.onnx --reference model.skops
--data rows.npy --target container --trust-pickle``, is timed as a command against a ``python -c`` doing the same
floor after the same loading (``onnx.load``, ``skops.io.load`` of the reference, ``numpy.load`` of the rows).

No goal: validate also scores the first rows one at a time with both models (a reference answering a row alone
otherwise than in a batch), which costs four reference calls, and for a 500-tree forest each call costs as much as
the whole batch (scikit-learn's per-tree dispatch). Figures are medians of 5 runs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._util import median_time, onnxgate_command, python, row, time_command

BENCHMARK = "validate"
BIG_ROWS = 20_000
SEED = 0

#: The floor of the CLI, in a process of its own: what the command loads, then what any validation must run.
_CLI_FLOOR = """
import sys, numpy as np, onnx, onnxruntime as ort, skops.io as sio
model_path, ref_path, data_path = sys.argv[1:4]
proto = onnx.load(model_path)
ref = sio.load(ref_path, trusted=sio.get_untrusted_types(file=ref_path) or None)
X = np.load(data_path)
onnx.checker.check_model(proto)
session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
fed = session.get_inputs()[0]
session.run(None, {fed.name: X.astype(np.float64 if fed.type == "tensor(double)" else np.float32)})
ref.predict(X); ref.predict_proba(X)
"""


def _cases(quick: bool) -> dict[str, tuple[Any, Any]]:
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    Xb, yb = load_breast_cancer(return_X_y=True)
    Xi, yi = load_iris(return_X_y=True)
    trees = 100 if quick else 500
    return {
        f"random-forest-{trees} (breast_cancer)": (
            RandomForestClassifier(trees, random_state=SEED, n_jobs=1).fit(Xb, yb), Xb),
        "logistic-regression (iris)": (LogisticRegression(max_iter=1000).fit(Xi, yi), Xi),
    }


def _noisy(X: Any, n: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(SEED)
    picked = X[rng.integers(0, len(X), n)]
    return picked + rng.normal(scale=0.01, size=picked.shape) * X.std(axis=0)


def _in_process(model: Any, X: Any, repeat: int) -> tuple[float, float, str]:
    import warnings

    import numpy as np
    import onnx
    import onnxruntime as ort

    import onnxgate as og

    warnings.simplefilter("ignore")
    conv = og.convert(model, X[:50])
    proto = conv.model

    def run_validate() -> Any:
        return og.validate(conv, target="container", reference=model, data=X)

    def run_floor() -> None:
        onnx.checker.check_model(proto)
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        fed = session.get_inputs()[0]
        session.run(None, {fed.name: X.astype(np.float64 if fed.type == "tensor(double)" else np.float32)})
        model.predict(X)
        model.predict_proba(X)

    report = run_validate()
    if not report.passed:
        raise RuntimeError(f"validate failed on a right conversion: {report.summary()}")
    return (median_time(run_validate, repeat=repeat), median_time(run_floor, repeat=repeat),
            report.check("prediction_parity").message[:80])


def main(quick: bool = False) -> list[dict[str, Any]]:
    import numpy as np
    import onnx
    import skops.io as sio

    import onnxgate as og

    repeat = 3 if quick else 5
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        folder = Path(tmp)
        for name, (model, shipped) in _cases(quick).items():
            for X in ((shipped,) if quick else (shipped, _noisy(shipped, BIG_ROWS))):
                label = f"{name} {len(X):,} rows"
                value, floor, note = _in_process(model, X, repeat)
                rows.append(row(BENCHMARK, f"og.validate {label}", "validate_time", value, floor, None, "s",
                                note=f"floor: checker + ort session and run + predict, predict_proba; {note}"))
                onnx.save(og.convert(model, X[:50]).model, folder / "model.onnx")
                sio.dump(model, folder / "model.skops")
                np.save(folder / "rows.npy", X)
                if quick and not name.startswith("logistic"):
                    continue  # the CLI loads scikit-learn and skops in each run (seconds): one case when quick
                paths = [str(folder / "model.onnx"), str(folder / "model.skops"), str(folder / "rows.npy")]
                cli = time_command([*onnxgate_command(), "validate", paths[0], "--reference", paths[1], "--data",
                                    paths[2], "--target", "container", "--trust-pickle"], repeat=1 if quick else repeat,
                                   warmup=0 if quick else 1)
                base = time_command([python(), "-c", _CLI_FLOOR, *paths], repeat=1 if quick else repeat,
                                    warmup=0 if quick else 1)
                if cli["exit_codes"] != [0] or base["exit_codes"] != [0]:
                    raise RuntimeError(f"{label}: exit codes {cli['exit_codes']} (CLI), {base['exit_codes']} (floor): "
                                       f"{cli['stderr']}{base['stderr']}")
                rows.append(row(BENCHMARK, f"onnxgate validate {label}", "wall", cli["seconds"], base["seconds"],
                                None, "s", note="floor: the same loading (onnx, skops, numpy) then the same floor"))
    return rows


if __name__ == "__main__":
    for r in main(quick="--quick" in sys.argv):
        print(json.dumps(r))

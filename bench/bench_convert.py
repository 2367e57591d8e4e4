"""Conversion overhead: ``og.convert`` against the framework's converter called directly.

For every zoo entry: the median time of ``og.convert(model, sample)`` (no validation) against the same
framework converter called by hand at the same opset (``skl2onnx.to_onnx``, ``torch.onnx.export``,
``tf2onnx.convert.from_function``, onnxmltools' ``convert_xgboost``/``convert_lightgbm``, CatBoost's
``convert_to_onnx_object``), measured alternately in one process after a warm-up of each (7 calls each; 21
with ``--boosting``).
Goal: at most 1.1x. For the boosting libraries a second row compares with the direct call followed by
``onnx.checker.check_model``, which ``og.convert`` always runs on the model it returns (no goal: it
shows how much of the overhead is that check), and a third with the direct call followed by the check ``og.convert``
itself runs (``onnxgate._onnx.check_model``: cheaper than ``onnx.checker`` on large tree models, and never skipped), the
floor of any conversion, whose ratio to the direct call the note gives (no goal: where that floor is above 1.1x, the
goal cannot be met). ``--quick`` converts two scikit-learn entries only; ``--boosting`` the
XGBoost/LightGBM/CatBoost entries only (``python -m bench.bench_convert --boosting --quick``); ``--pytorch`` the
PyTorch entries only. For PyTorch a second row compares with the floor (no goal): the direct export plus the ONNX
checker, one forward() on 2 rows (on one thread for a small model, as ``og.convert`` runs its probes:
``one_thread_if_small``) and an onnxruntime session run at 2 and 3 rows, which ``og.convert`` needs to refuse a
sample that does not fit and a file whose batch axis is not dynamic.

With ``--boosting`` (not ``--quick``), each library's classifier is also measured at the library's own default size
(``XGBClassifier()``: 100 trees of depth 6, ``LGBMClassifier()``: 100 trees of 31 leaves, ``CatBoostClassifier()``:
1,000 trees of depth 6) on breast_cancer, beside the zoo's small entries (20-30 trees): what a conversion of
a model as users train it costs, where the fixed cost of ``og.convert`` weighs less and the ONNX checker more.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Callable
from typing import Any

from bench._util import row

BENCHMARK = "convert-overhead"
GOAL = "<= 1.1"
SAMPLE_ROWS = 200
QUICK_ENTRIES = ("sklearn-iris-logreg", "sklearn-diabetes-rf")
BOOSTING_FRAMEWORKS = ("xgboost", "lightgbm", "catboost")


def _direct_sklearn(model: Any, sample: Any, opset: int, ml_opset: int) -> Callable[[], Any]:
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.base import is_classifier

    from onnxgate._data import is_dataframe

    if not is_dataframe(sample):
        sample = np.asarray(sample)
        if sample.dtype.kind == "f":
            sample = sample.astype(np.float32)
    options: dict[Any, Any] = {}
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if type(final).__module__.split(".")[0] in BOOSTING_FRAMEWORKS:
        # a user registers the library's converter with skl2onnx once, before converting
        from onnxgate.converters._boosting import ML_OPSET_CAP, register_with_skl2onnx

        register_with_skl2onnx([final])
        ml_opset = min(ml_opset, ML_OPSET_CAP)
    if is_classifier(final) and hasattr(final, "predict_proba"):
        options[id(final)] = {"zipmap": False}
    return _as_shipped(lambda: to_onnx(model, sample, target_opset={"": opset, "ai.onnx.ml": ml_opset},
                                       options=options))


def _as_shipped(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` run with skl2onnx's own operator-version lookup: onnxgate shares one table per process
    (``patch_operator_version_table``, installed process-wide once onnxgate converts), which would speed up
    the baseline too."""
    from skl2onnx.common._container import ModelComponentContainer as Container

    def run() -> Any:
        build, lookup = Container._build_op_version, Container._get_op_version
        Container._build_op_version = getattr(build, "_onnxgate_original", build)
        Container._get_op_version = getattr(lookup, "_onnxgate_original", lookup)
        try:
            return call()
        finally:
            Container._build_op_version, Container._get_op_version = build, lookup

    return run


def _direct_pytorch(model: Any, sample: Any, opset: int, ml_opset: int) -> Callable[[], Any]:
    import torch

    tensor = torch.as_tensor(sample, dtype=torch.float32)

    def export() -> Any:
        buffer = io.BytesIO()
        torch.onnx.export(
            model, (tensor,), buffer,  # type: ignore[arg-type]  # a file object works too
            opset_version=opset, dynamo=opset >= 18,
            input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        )
        return buffer.getvalue()

    return export


def _pytorch_floor(model: Any, sample: Any, direct: Callable[[], Any]) -> Callable[[], Any]:
    """The direct export plus what ``og.convert`` of a PyTorch module cannot do without and not do: the ONNX checker
    on the file, one forward() on the sample's first 2 rows (the probe that tells a data error from an exporter's; on
    one intra-op thread for a small model, as og.convert runs it), and an onnxruntime session (no graph
    optimisations, one thread) run at 2 and 3 rows (the proof that the file's batch axis is dynamic)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    from onnxgate.converters._torch_common import one_thread_if_small

    head = torch.as_tensor(sample[:2], dtype=torch.float32)
    feeds = [head.numpy(), np.concatenate([head.numpy(), head.numpy()[:1]])]

    def floor() -> Any:
        data = direct()
        onnx.checker.check_model(data)
        with torch.no_grad(), one_thread_if_small(model, (head,)):
            model(head)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 4
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        for feed in feeds:
            session.run(None, {"input": feed})
        return data

    return floor


def _direct_tensorflow(model: Any, sample: Any, opset: int, ml_opset: int) -> Callable[[], Any]:
    import tf2onnx

    function = model.__call__
    signature = function.input_signature
    return lambda: tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)


def _direct_keras(model: Any, sample: Any, opset: int, ml_opset: int) -> Callable[[], Any]:
    import tensorflow as tf
    import tf2onnx

    specs = [tf.TensorSpec((None, *tuple(t.shape)[1:]), t.dtype or tf.float32, name=t.name) for t in model.inputs]

    def convert() -> Any:
        # The tf.function is built inside the timed call, as a user calling tf2onnx directly does: built
        # once outside, every repeat would reuse its cached trace, which og.convert (rightly) does not,
        # since a model changed since the last call must not be converted from a stale graph.
        if len(specs) == 1:
            function = tf.function(lambda x: model(x), input_signature=specs)
        else:
            function = tf.function(lambda *xs: model(list(xs)), input_signature=specs)
        return tf2onnx.convert.from_function(function, input_signature=specs, opset=opset)

    return convert


def _direct_onnxmltools(library: str) -> Callable[[Any, Any, int, int], Callable[[], Any]]:
    def make(model: Any, sample: Any, opset: int, ml_opset: int) -> Callable[[], Any]:
        import numpy as np
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        types = [("input", FloatTensorType([None, np.asarray(sample).shape[1]]))]
        target = min(opset, 15)  # onnxmltools' newest
        if library == "xgboost":
            return lambda: onnxmltools.convert_xgboost(model, initial_types=types, target_opset=target)
        return lambda: onnxmltools.convert_lightgbm(model, initial_types=types, target_opset=target, zipmap=False)

    return make


def _direct_catboost(model: Any, sample: Any, opset: int, ml_opset: int) -> Callable[[], Any]:
    from catboost.utils import convert_to_onnx_object

    return lambda: convert_to_onnx_object(model)


DIRECT: dict[str, Callable[[Any, Any, int, int], Callable[[], Any]]] = {
    "sklearn": _direct_sklearn,
    "pytorch": _direct_pytorch,
    "tensorflow": _direct_tensorflow,
    "keras": _direct_keras,
    "xgboost": _direct_onnxmltools("xgboost"),
    "lightgbm": _direct_onnxmltools("lightgbm"),
    "catboost": _direct_catboost,
}


def _default_size_models() -> list[tuple[str, str, Callable[[], tuple[Any, Any]]]]:
    """``(case, framework, build)`` for each boosting library's classifier at the library's default size."""
    def data() -> Any:
        import numpy as np
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        return X.astype(np.float32), y

    def xgboost_default() -> tuple[Any, Any]:
        import xgboost

        X, y = data()
        return xgboost.XGBClassifier(random_state=0, n_jobs=2).fit(X, y), X

    def lightgbm_default() -> tuple[Any, Any]:
        import lightgbm

        X, y = data()
        return lightgbm.LGBMClassifier(random_state=0, n_jobs=2, verbose=-1).fit(X, y), X

    def catboost_default() -> tuple[Any, Any]:
        import catboost

        from onnxgate.zoo.boosting import CATBOOST_QUIET

        X, y = data()
        return catboost.CatBoostClassifier(random_seed=0, thread_count=2, **CATBOOST_QUIET).fit(X, y), X

    return [
        ("xgboost XGBClassifier() defaults, breast_cancer", "xgboost", xgboost_default),
        ("lightgbm LGBMClassifier() defaults, breast_cancer", "lightgbm", lightgbm_default),
        ("catboost CatBoostClassifier() defaults, breast_cancer", "catboost", catboost_default),
    ]


def _alternating_medians(*funcs: Callable[[], Any], repeat: int) -> list[float]:
    """Median times of ``funcs`` measured in turn, so drift of the machine hits them alike."""
    import statistics
    import time

    for func in funcs:
        func()
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for func, sink in zip(funcs, times):
            start = time.perf_counter()
            func()
            sink.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _checked(direct: Callable[[], Any]) -> Callable[[], Any]:
    """The direct call followed by the ONNX checker, which ``og.convert`` always runs on what it returns."""
    import onnx

    return lambda: onnx.checker.check_model(direct())


def _gate_checked(direct: Callable[[], Any]) -> Callable[[], Any]:
    """The floor of ``og.convert``: the direct call followed by the check onnxgate runs on every model it returns
    (``onnxgate._onnx.check_model`` with the 2 GiB size limit: the ONNX checker on the whole model when its trees
    hold at most 1,000 nodes, else on the model less its tree lists, with the trees' attributes checked against
    their schema), which no conversion may skip."""
    from onnxgate import _onnx

    return lambda: _onnx.check_model(direct(), size_limit=_onnx.MODEL_BYTES_LIMIT)


def main(quick: bool = False, boosting: bool = False, pytorch: bool = False) -> list[dict[str, Any]]:
    import onnxgate as og
    from onnxgate._onnx import ml_opset_for
    from onnxgate.converters import registry

    warnings.simplefilter("ignore")
    names = list(QUICK_ENTRIES) if quick else og.zoo.names()
    if boosting:
        names = [n for n in og.zoo.names() if og.zoo.get(n).framework in BOOSTING_FRAMEWORKS or "lightgbm" in n]
    if pytorch:
        names = [n for n in og.zoo.names() if og.zoo.get(n).framework == "pytorch"]
    # the boosting conversions take 0.1-20 ms and drift by +-10% over a run: more calls steady the median
    repeat = 3 if quick else 21 if boosting else 7
    cases: list[tuple[str, str, Callable[[], tuple[Any, Any]]]] = []
    for name in names:
        entry = og.zoo.get(name)

        def build(entry: Any = entry) -> tuple[Any, Any]:
            model, X, _y = entry.build()
            return model, X

        cases.append((name, entry.framework, build))
    if boosting and not quick:
        cases += _default_size_models()
    rows: list[dict[str, Any]] = []
    for name, framework, build in cases:
        try:
            model, X = build()
            sample = X[:SAMPLE_ROWS]
            opset = registry.get(framework).DEFAULT_OPSET
            direct = DIRECT[framework](model, sample, opset, ml_opset_for(opset))
            def ours_call(model: Any = model, sample: Any = sample, opset: int = opset) -> Any:
                return og.convert(model, sample, opset=opset)

            boosting_case = framework in BOOSTING_FRAMEWORKS
            funcs: tuple[Callable[[], Any], ...] = (ours_call, direct)
            if boosting_case:
                funcs = (ours_call, direct, _checked(direct), _gate_checked(direct))
            elif framework == "pytorch":
                funcs = (ours_call, direct, _pytorch_floor(model, sample, direct))
            # a 20-50 ms conversion at the libraries' default sizes: 7 calls keep the run short
            calls = 7 if "defaults" in name else repeat
            ours, theirs, *checked = _alternating_medians(*funcs, repeat=calls)
        except Exception as err:  # one entry that cannot be measured must not hide the others
            rows.append(row(BENCHMARK, name, "convert_time", None, None, GOAL, "s",
                            note=f"not measured: {type(err).__name__}: {str(err)[:100]}"))
            continue
        rows.append(row(BENCHMARK, name, "convert_time", ours, theirs, GOAL, "s",
                        note=f"{framework} opset {opset}"))
        if checked and framework == "pytorch":  # against the floor no conversion that checks its file goes below
            rows.append(row(BENCHMARK, name, "convert_time vs direct + checker + 1 forward + onnxruntime at 2 sizes",
                            ours, checked[0], None, "s", note=f"{framework} opset {opset}; the floor, no goal"))
        elif checked:  # the same, against the direct call plus the ONNX checker (no goal: for the reading)
            rows.append(row(BENCHMARK, name, "convert_time vs direct + onnx.checker", ours, checked[0], None, "s",
                            note=f"{framework} opset {opset}"))
            # and against the floor: the direct call plus the check og.convert itself runs (no goal)
            rows.append(row(BENCHMARK, name, "convert_time vs direct + onnxgate check (floor)", ours, checked[1],
                            None, "s", note=f"{framework} opset {opset}; floor {checked[1] / theirs:.2f}x direct"))
    return rows


if __name__ == "__main__":
    for r in main(quick="--quick" in sys.argv, boosting="--boosting" in sys.argv, pytorch="--pytorch" in sys.argv):
        print(r)

"""``assert_parity`` passes quietly on a faithful model and fails with the evidence on an unfaithful one."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate.errors import InvalidDataError
from onnxgate.testing import assert_parity


@cache
def _converted(name: str) -> tuple[Any, Any, Any]:
    model, X, _y = og.zoo.get(name).build()
    # the planted case computes in float32 on purpose (precision="auto" would keep its float64 scaler)
    precision = "float32" if name == "sklearn-planted-scaler-tree" else None
    return model, X, og.convert(model, X, precision=precision)


def test_passes_and_returns_the_results() -> None:
    model, X, conv = _converted("sklearn-iris-logreg")
    results = assert_parity(model, conv, X)
    assert [r.name for r in results] == ["prediction_parity"]
    assert all(results)


def test_error_carries_stats_and_worst_rows() -> None:
    model, X, conv = _converted("sklearn-diabetes-ridge")

    def off_by_a_bit(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [model.predict(feeds["input"]) + 0.5]

    with pytest.raises(og.ParityError, match=r"(?s)prediction_parity.*max_abs=.*row \d+: inputs") as info:
        assert_parity(off_by_a_bit, conv, X)
    assert isinstance(info.value, AssertionError)
    (result,) = info.value.extra["results"]
    assert not result.passed


def test_search_finds_what_the_data_does_not() -> None:
    model, X, conv = _converted("sklearn-planted-scaler-tree")
    assert_parity(model, conv, X)  # the training rows agree
    with pytest.raises(og.ParityError, match=r"(?s)search_divergences.*divergent row.*why: tree flip") as info:
        assert_parity(model, conv, X, search=200, seed=4, search_time_limit=30)
    assert "seed 4" in str(info.value)


def test_tolerances_are_honoured() -> None:
    model, X, conv = _converted("sklearn-diabetes-ridge")

    def off_by_a_bit(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [model.predict(feeds["input"]) + 0.5]

    assert assert_parity(off_by_a_bit, conv, X, atol=1.0)


def test_a_conversion_as_reference_stands_for_its_onnx_model() -> None:
    _model, X, conv = _converted("sklearn-diabetes-ridge")
    assert all(assert_parity(conv, conv.model, X))
    other = og.convert(og.zoo.get("sklearn-diabetes-svr").build()[0], X)
    with pytest.raises(og.ParityError):
        assert_parity(other, conv, X)


def test_the_same_infinity_on_both_sides_matches_and_polygraphys_rule_says_so() -> None:
    # a correct model fed infinity failed, with a message showing identical values and suggesting a larger atol;
    # the same infinity on both sides matches by default now (a masked -inf logit failed every model; helper-101),
    # and Polygraphy's rule, asked for, names infinities as what mismatched
    from onnx import TensorProto, helper

    from onnxgate.errors import ParityError

    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "double",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    X = np.array([[1.0, np.inf], [2.0, -np.inf]], dtype=np.float32)

    def reference(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [feeds["x"] * 2]

    with pytest.raises(ParityError, match="the same infinity on both sides, which mismatches with "
                                          "infinities_compare_equal=False"):
        assert_parity(reference, model, X, infinities_compare_equal=False)
    (result,) = assert_parity(reference, model, X)
    assert result.passed and result.details["infinities_compare_equal"] is True
    with pytest.raises(ParityError):  # an infinity where the model answers a number still fails
        assert_parity(lambda feeds: [np.nan_to_num(feeds["x"] * 2)], model, X)


@pytest.mark.parametrize("search", [-5, 10.5, "100", True])
def test_a_search_budget_that_is_not_a_whole_number_is_refused(search: Any) -> None:
    model, X, conv = _converted("sklearn-iris-logreg")
    with pytest.raises(InvalidDataError, match="search must be a whole number"):
        assert_parity(model, conv, X, search=search)
    with pytest.raises(InvalidDataError, match="needs data"):
        assert_parity(model, conv, None)


def test_a_shape_mismatch_shows_the_shapes_not_zero_rows() -> None:
    from onnxgate.errors import ParityError

    model, X, conv = _converted("sklearn-iris-logreg")

    def wrong(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [model.predict(X[: len(next(iter(feeds.values())))]), model.predict_proba(X)[:, :2].T]

    with pytest.raises(ParityError) as err:
        assert_parity(wrong, conv, X)
    assert "output 'probabilities': shape [2, 150] (reference) against [150, 3] (onnx)" in str(err.value)
    assert "0/0 rows" not in str(err.value)


def test_the_search_runs_inside_a_users_own_given_test() -> None:
    # assert_parity(search=N) in a user's @given test raised Hypothesis' nested_given health check on a
    # correct model: the search's own Hypothesis phase now runs there too, and still finds what it finds
    from hypothesis import given, settings
    from hypothesis import strategies as st

    model, X, conv = _converted("sklearn-iris-logreg")
    planted, planted_X, planted_conv = _converted("sklearn-planted-scaler-tree")
    hypothesis_rows: list[int] = []

    @settings(max_examples=2, deadline=None, database=None, derandomize=True)
    @given(st.integers(0, len(X) - 10))
    def per_batch(start: int) -> None:
        _parity, search = assert_parity(model, conv, X[start:start + 10], search=400, seed=1)
        assert "skipped" not in search.details["phases"]["hypothesis"]
        hypothesis_rows.append(search.details["phases"]["hypothesis"]["rows"])
        with pytest.raises(og.ParityError, match=r"(?s)search_divergences.*divergent row"):
            assert_parity(planted, planted_conv, planted_X, search=200, seed=4, search_time_limit=30)

    per_batch()
    assert len(hypothesis_rows) == 2 and min(hypothesis_rows) > 0


def test_a_nan_against_a_number_is_not_advised_a_larger_tolerance() -> None:
    # the model answers NaN where the reference answers 3.0: the message read "max_abs=0 ... smallest passing
    # atol inf" and "Loosen atol/rtol ...", as if a tolerance could make it pass
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Log", ["x"], ["y"])], "log",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    X = np.array([[1.0], [-1.0]], dtype=np.float32)

    def reference(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.log(np.abs(feeds["x"]))]

    with pytest.raises(og.ParityError) as info:
        assert_parity(reference, model, X)
    message = str(info.value)
    assert "no atol passes a NaN or infinity against a number" in message
    assert "Loosen atol" not in message and "smallest passing atol" not in message
    assert "No tolerance makes these outputs match" in message

    def off_and_nan(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:  # a finite difference as well: advice stays
        return [np.log(np.abs(feeds["x"])) + np.float32(0.5)]

    with pytest.raises(og.ParityError, match="Loosen atol"):
        assert_parity(off_and_nan, model, X)


def test_only_nan_mismatching_in_large_outputs_is_not_advised_a_larger_tolerance() -> None:
    # outputs near 1e5 in float32 differ from the float64 reference by ~1e-3 (over atol, rel ~1e-8 within rtol: they
    # match) and one row is NaN: the advice read "Loosen atol/rtol", as the largest finite difference was over atol,
    # and "2 of them NaN ... or the same infinity on both sides, which mismatches with infinities_compare_equal=False"
    # under "1/3 rows", a flag the user never gave (helper-158)
    from onnx import TensorProto, helper

    scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [1e5])
    graph = helper.make_graph([helper.make_node("Sqrt", ["x"], ["r"]), helper.make_node("Mul", ["r", "scale"], ["y"])],
                              "sqrt", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], initializer=[scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    X = np.array([[2.0, 3.0], [-1.0, -2.0], [5.0, 7.0]], dtype=np.float32)

    def reference(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.sqrt(np.abs(feeds["x"].astype(np.float64))) * 1e5]

    with pytest.raises(og.ParityError) as info:
        assert_parity(reference, model, X)
    message = str(info.value)
    assert "No tolerance makes these outputs match" in message and "Loosen atol" not in message
    assert "2 mismatched value(s) in them NaN or infinity" in message
    assert "infinities_compare_equal=False" not in message


def _moved_split(proto: Any, by: float) -> Any:
    """The file with its first tree split moved by ``by``: a threshold that is not the model's."""
    import copy

    proto = copy.deepcopy(proto)
    (tree,) = [n for n in proto.graph.node if n.op_type.startswith("TreeEnsemble")]
    (values,) = [a for a in tree.attribute if a.name == "nodes_values"]
    values.floats[0] += by
    return proto


def _tree_on_float32_iris() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    return model, X, og.convert(model, X[:5], opset=15)


def test_a_moved_split_read_without_arithmetic_is_not_blamed_on_float32_rounding() -> None:
    # the tree reads the float32 input as it is: no rounding can move a row across its split, so a
    # divergence there is a threshold that is not the model's, whose fix is not "preprocess in double"
    model, X, conv = _tree_on_float32_iris()
    bad = _moved_split(conv.model, 0.04)  # inside the data's 0.1 steps: only the search finds it
    with pytest.raises(og.ParityError) as info:
        assert_parity(model, bad, X, search=500, seed=0)
    message = str(info.value)
    assert "search_divergences" in message
    assert "float32 tree flip" not in message and "float32 arithmetic" not in message, message
    assert "split not the model's" in message, message


def test_a_float16_cast_before_a_tree_is_named_float16() -> None:
    import copy

    import onnx

    model, X, conv = _tree_on_float32_iris()
    proto = copy.deepcopy(conv.model)
    name = proto.graph.input[0].name
    for node in proto.graph.node:
        node.input[:] = [f"{name}_f32" if i == name else i for i in node.input]
    make = onnx.helper.make_node
    proto.graph.node.insert(0, make("Cast", [f"{name}_f16"], [f"{name}_f32"], to=onnx.TensorProto.FLOAT))
    proto.graph.node.insert(0, make("Cast", [name], [f"{name}_f16"], to=onnx.TensorProto.FLOAT16))
    with pytest.raises(og.ParityError) as info:
        assert_parity(model, proto, X, search=500, seed=0)
    message = str(info.value)
    assert "Cast(float16)" in message and "Cast(10)" not in message, message
    assert "in float16 arithmetic" in message, message


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_a_lightgbm_category_the_model_never_saw_is_compared_as_missing() -> None:
    # a row drawn with a colour outside the fitted ones (model_inputs without ranges draws any text):
    # LightGBM reads it as missing; reading it so warned pandas' deprecation, an error from pandas 4
    import lightgbm
    import pandas as pd

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=300), "colour": pd.Categorical(rng.choice(["red", "blue"], 300))})
    y = ((frame.x > 0) & (frame.colour == "blue")).astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=5, verbose=-1, n_jobs=1).fit(frame, y)
    conv = og.convert(model, frame.head(), opset=15)
    feeds = {"x": np.array([[0.5], [0.5], [-0.5]]), "colour": np.array([["blue"], ["mauve"], [""]], dtype=object)}
    (result,) = assert_parity(model, conv, feeds)
    assert result.passed


@cache
def _embedding() -> tuple[Any, Any]:
    torch = pytest.importorskip("torch")

    class Lookup(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = torch.nn.Embedding(10, 3)

        def forward(self, ids: Any) -> Any:
            return self.table(ids)

    torch.manual_seed(0)
    net = Lookup().eval()
    return net, og.convert(net, np.arange(4, dtype=np.int64), opset=17)


def test_a_row_both_models_refuse_is_the_callers_input_not_a_parity_failure() -> None:
    # id 12 is past the 10-row table: PyTorch raises IndexError and onnxruntime refuses the Gather alike
    net, conv = _embedding()
    with pytest.raises(InvalidDataError, match=r"(?s)reference model failed.*row 1.*onnxruntime refused it too"):
        assert_parity(net, conv, np.array([3, 12], dtype=np.int64))


def test_a_row_only_onnxruntime_refuses_is_not_advised_a_larger_tolerance() -> None:
    import torch

    net, conv = _embedding()

    def clamped(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:  # a reference that answers every id
        (ids,) = feeds.values()
        with torch.no_grad():
            return [net(torch.from_numpy(np.clip(ids, 0, 9))).numpy()]

    with pytest.raises(og.ParityError) as info:
        assert_parity(clamped, conv, np.array([3, 12], dtype=np.int64))
    message = str(info.value)
    assert "onnxruntime failed on" in message
    assert "Loosen atol" not in message and "No tolerance makes" in message, message


@cache
def _file_without_note() -> tuple[Any, Any, Any]:
    """A pipeline reading the text column ``note`` through its ColumnTransformer, the frame it was fitted on, and a
    file converted from a pipeline fitted without ``note``: the file lacks an input the reference reads."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.normal(40, 10, 80), "income": rng.normal(5e4, 1e4, 80),
                          "note": rng.choice(["new", "returning", "vip"], 80)})
    y = ((frame["age"] > 40) ^ (frame["note"] == "vip")).astype(int)

    def pipeline(text: list[str]) -> Any:
        branches = [("num", StandardScaler(), ["age", "income"])] + [("txt", OneHotEncoder(), text)] * bool(text)
        return make_pipeline(ColumnTransformer(branches), LogisticRegression())

    model = pipeline(["note"]).fit(frame, y)
    without = pipeline([]).fit(frame[["age", "income"]], y)
    return model, frame, og.convert(without, frame[["age", "income"]].head(20))


LACKS_NOTE = "the ONNX file has no input for the column(s) ['note'], which the reference reads"


def test_a_file_lacking_a_column_the_reference_reads_fails_parity_not_the_data() -> None:
    # the data's column 'note' was refused as "not model inputs; drop them (a label or ID column...)": the reference
    # reads it, so the file lacks an input the model needs, a failed check of the file
    model, frame, conv = _file_without_note()
    with pytest.raises(og.ParityError) as info:
        assert_parity(model, conv, frame)
    text = str(info.value)
    assert LACKS_NOTE in text and "drop them" not in text, text
    assert "no tolerance helps" in text and "Loosen atol" not in text, text
    report = og.validate(conv, reference=model, data=frame, search=20)
    failed = {c.name: c.message for c in report.failures}
    assert set(failed) == {"prediction_parity", "search_divergences"}, failed
    assert all(LACKS_NOTE in message for message in failed.values()), failed


def test_a_column_the_reference_does_not_read_is_still_refused_as_data() -> None:
    # a label left in the frame is no input the file lacks: the data's refusal, with its advice, stands
    model, frame, _conv = _file_without_note()
    with pytest.raises(InvalidDataError, match=r"\['label'\] that are not model inputs.*drop them"):
        assert_parity(model, og.convert(model, frame.head(20)), frame.assign(label=1))


def test_a_boosting_model_reading_a_column_the_file_lacks_fails_parity() -> None:
    import pandas as pd
    import xgboost

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60), "c": rng.normal(size=60)})
    y = (frame["a"] + frame["c"] > 0).astype(int)
    model = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(frame, y)
    conv = og.convert(xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(frame[["a", "b"]], y), frame[["a", "b"]])
    with pytest.raises(og.ParityError, match=r"no input for the column\(s\) \['c'\], which the reference reads"):
        assert_parity(model, conv, frame)


def test_the_first_call_imports_nothing_the_comparison_needs(tmp_path: Path) -> None:
    """What a comparison imports is imported with ``assert_parity``, at a test module's collection, not by its first
    call: inside ``@given`` that call is the first example, which Hypothesis times. The imports took it past the
    default 200 ms deadline (0.25-1.4 s measured; 20-60 ms for the later ones), and a correct model failed with
    "Unreliable test timings" (helper-411). The model is a pickle against its .onnx file, as a CI job loads them (no
    conversion in that process to have imported onnx); the reference's converter module is its framework's, known
    only at the call, and stays out."""
    import json
    import pickle
    import subprocess
    import sys

    model, X, conv = _converted("sklearn-iris-logreg")
    conv.save(tmp_path / "model.onnx")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps((model, X)))
    probe = f"""
import json, pickle, sys
from onnxgate.testing import assert_parity
model, X = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
before = set(sys.modules)
assert_parity(model, {str(tmp_path / "model.onnx")!r}, X[:3])
print(json.dumps(sorted(m for m in set(sys.modules) - before
                        if m.split(".")[0] in ("onnx", "onnxruntime")
                        or (m.startswith("onnxgate.") and not m.startswith("onnxgate.converters.")))))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []

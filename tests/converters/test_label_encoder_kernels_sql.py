"""A float to float ``LabelEncoder`` for a SQL target: onnxruntime 1.5 and 1.12 (SQL Edge 1.0 and 2.0, Synapse) have no
kernel for one (nor for text to text), and scikit-learn's encoders over float columns at float32 write one (the
categories of a HistGradientBoosting model fitted with ``categorical_features`` on numbers, an OrdinalEncoder or a
TargetEncoder): validate failed ``operators_supported`` and the database refused the file. convert, adapt and
``package --adapt`` now rewrite it into a lookup of each key's position (float to int64, which both runtimes have)
and a ``Gather`` of the same values, saying so; unseen categories and NaN score as the model scores them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate._kernels import kernel_gaps

RUNTIMES = ("onnxruntime 1.12.1", "onnxruntime 1.5.3")
REWRITTEN = "LabelEncoder node(s) look up each key's position and Gather its value"


def _label_encoder(keys: dict[str, Any], values: dict[str, Any], key_type: int, value_type: int) -> Any:
    from onnx import helper

    node = helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", name="codes", **keys, **values)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", key_type, [None, 1])],
                              [helper.make_tensor_value_info("y", value_type, [None, 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("ai.onnx.ml", 2)],
                             ir_version=7)


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


@pytest.mark.parametrize("kind", ["float", "string"])
def test_a_label_encoder_the_old_runtimes_lack_is_rewritten_into_one_they_have_giving_the_same_values(
        kind: str) -> None:
    from onnx import TensorProto

    from onnxgate._kernels import label_encoders_by_position

    if kind == "float":  # a NaN key (matched by no input), repeated keys, non-integral values and default
        model = _label_encoder({"keys_floats": [0.0, 1.5, float("nan"), 3.0, 1.5, -0.0]},
                               {"values_floats": [10.25, -1.0, 7.0, float("nan"), 2.0, 5.0], "default_float": 0.125},
                               TensorProto.FLOAT, TensorProto.FLOAT)
        x = np.array([[0.0], [-0.0], [1.5], [np.nan], [3.0], [17.0], [np.inf]], dtype=np.float32)
    else:
        model = _label_encoder({"keys_strings": ["a", "b", ""]}, {"values_strings": ["x", "", "z"]},
                               TensorProto.STRING, TensorProto.STRING)
        x = np.array([["a"], ["b"], [""], ["c"]], dtype=object)
    for runtime in RUNTIMES:
        assert [g.op for g in kernel_gaps(model, runtime)] == ["LabelEncoder"]
    want = _run(model, x)
    changed = label_encoders_by_position(model, "onnxruntime 1.12.1")
    assert [g.node for g in changed] == ["codes"]
    for runtime in RUNTIMES:
        assert not kernel_gaps(model, runtime), runtime
    np.testing.assert_array_equal(_run(model, x), want)  # a copy of the same values: NaN where it was NaN
    # each key once, its first value: onnxruntime 1.5 and 1.12 keep a repeated key's last value, 1.32 its first
    from onnx import helper

    keys = [list(helper.get_attribute_value(a)) for n in model.graph.node for a in n.attribute
            if a.name.startswith("keys_")]
    assert len(keys) == 1 and len(keys[0]) == len({k for k in keys[0] if k == k}) + sum(k != k for k in keys[0])
    assert not label_encoders_by_position(model, "onnxruntime 1.12.1")


def _hist_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows of a number, a category coded 0..5 (NaN in 8% of rows) and a category of 3 float values, and
    rows to score holding categories never seen (17, 3.0), NaN and -0.0."""
    rng = np.random.default_rng(1)
    n = 600
    codes = rng.integers(0, 6, size=n).astype(float)
    codes[rng.random(n) < 0.08] = np.nan
    X = np.c_[rng.normal(size=n), codes, rng.choice([2.5, 7.25, 100.0], size=n)]
    y = (np.nan_to_num(codes, nan=9) % 2 == 0) ^ (X[:, 0] > 0)
    rows = X.copy()
    rows[:40, 1] = 17.0
    rows[40:60, 1] = np.nan
    rows[60:70, 2] = 3.0
    rows[70:75, 1] = -0.0
    return X, y.astype(int), rows


@pytest.mark.parametrize(("kind", "target"), [("classifier", "sql-edge-2.0"), ("classifier", "sql-edge-1.0"),
                                              ("regressor", "sql-edge-2.0"), ("regressor", "synapse")])
def test_hist_gradient_boosting_with_number_categories_passes_validate_for_a_sql_target(kind: str,
                                                                                        target: str) -> None:
    # before: operators_supported FAILED ("no CPU kernel for 2 node(s): 'LabelEncoder' (LabelEncoder-2, T1=float,
    # T2=float)"), and SQL Edge refused the file at PREDICT time
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    X, y, rows = _hist_rows()
    estimator = HistGradientBoostingClassifier if kind == "classifier" else HistGradientBoostingRegressor
    model = estimator(max_iter=20, categorical_features=[1, 2], random_state=0).fit(X, y)
    conv = og.convert(model, X[:5], target=target)
    assert any(REWRITTEN in w and "(float to float)" in w for w in conv.warnings), conv.warnings
    from onnxgate.targets import get

    runtime = get(target).runtime
    assert not kernel_gaps(conv.model, runtime)
    report = og.validate(conv, target=target, reference=model, data=rows)
    assert report.passed, str(report)
    assert "missing values" not in "\n".join(report.not_checked())  # the NaN rows were compared


def test_an_encoder_over_float_columns_at_float32_passes_validate_for_sql_edge() -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(0, 4, 300), rng.choice([0.5, 1.25, 9.0], 300), rng.normal(size=300)].astype(np.float32)
    y = (X[:, 0] + (X[:, 1] > 1) + X[:, 2] > 2).astype(int)
    rows = X.copy()
    rows[:10, 0] = 7.0  # unseen
    # scikit-learn's recipe for HistGradientBoosting's categories (an unknown one NaN), and a TargetEncoder
    for encoder, last in ((OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                           HistGradientBoostingClassifier(max_iter=10, categorical_features=[0, 1])),
                          (TargetEncoder(), LogisticRegression())):
        model = make_pipeline(make_column_transformer((encoder, [0, 1]), remainder="passthrough"), last).fit(X, y)
        conv = og.convert(model, X[:5], target="sql-edge-2.0")
        assert not kernel_gaps(conv.model, "onnxruntime 1.12.1")
        report = og.validate(conv, target="sql-edge-2.0", reference=model, data=rows)
        assert report.passed, f"{type(encoder).__name__}\n{report}"


def test_package_adapt_of_a_float32_file_rewrites_the_label_encoder_and_the_dry_run_matches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # a file converted without a target (precision float32) and packaged with --adapt: refused before
    # ("the model fails target 'sql-edge-2.0'", operators_supported)
    import joblib
    import onnx
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    X, y, rows = _hist_rows()
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features=[1, 2], random_state=0).fit(X, y)
    joblib.dump(model, "model.joblib")
    onnx.save(og.convert(model, X[:5], precision="float32").model, "model.onnx")
    pd.DataFrame(rows[~np.isnan(rows).any(axis=1)], columns=["f0", "f1", "f2"]).to_csv("rows.csv", index=False)
    capsys.readouterr()
    assert main(["package", "model.onnx", "--target", "sql-edge-2.0", "--adapt", "--reference", "model.joblib",
                 "--trust-pickle", "--data", "rows.csv", "-o", "pkg"]) == 0
    assert "note: --adapt rewrote nodes for target 'sql-edge-2.0'" in capsys.readouterr().err
    assert any(REWRITTEN in n for n in json.loads(Path("pkg/manifest.json").read_text())["sql"]["kernel_rewrites"])
    assert not kernel_gaps(onnx.load("pkg/model.onnx"), "onnxruntime 1.12.1")
    pytest.importorskip("duckdb")
    assert main(["sql-dryrun", "pkg", "--data", "rows.csv", "--reference", "model.joblib", "--trust-pickle"]) == 0


@pytest.mark.parametrize("kind", ["label_encoder", "double"])
def test_a_rewrite_takes_no_name_a_subgraph_already_uses(kind: str) -> None:
    # the names the rewrite adds were checked against the main graph only: an If branch defining 'codes_values'
    # (or 'x_as_float32') made the rewritten file fail to load, "Graph must be in single static assignment (SSA)
    # form, however 'codes_values' has been used as output names multiple times"
    from onnx import TensorProto, helper, numpy_helper

    from onnxgate._kernels import compute_in_float32, label_encoders_by_position

    if kind == "label_encoder":
        elem, taken = TensorProto.FLOAT, ["codes_values", "codes_position"]
        node = helper.make_node("LabelEncoder", ["x"], ["y"], domain="ai.onnx.ml", name="codes",
                                keys_floats=[1.0, 2.0], values_floats=[10.0, 20.0], default_float=7.5)
        x = np.array([[1.0], [2.0], [5.0]], dtype=np.float32)
        rewrite = label_encoders_by_position
    else:
        elem, taken = TensorProto.DOUBLE, ["x_as_float32", "y_float32"]
        node = helper.make_node("IsNaN", ["x"], ["y"], name="nan")
        x = np.array([[1.0], [np.nan]], dtype=np.float64)
        rewrite = compute_in_float32
    value = helper.make_tensor_value_info
    branch = helper.make_graph([helper.make_node("Identity", ["x"], [taken[0]]),
                                helper.make_node("Identity", [taken[0]], [taken[1]])], "then", [],
                               [value(taken[1], elem, [None, 1])])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["other"])], "else", [],
                              [value("other", elem, [None, 1])])
    flag = helper.make_node("Constant", [], ["flag"], value=numpy_helper.from_array(np.array(True)))
    branches = helper.make_node("If", ["flag"], ["z"], then_branch=branch, else_branch=other)
    out_type = TensorProto.BOOL if kind == "double" else elem
    graph = helper.make_graph([node, flag, branches], "g", [value("x", elem, [None, 1])],
                              [value("y", out_type, [None, 1]), value("z", elem, [None, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 2)],
                              ir_version=7)
    want = _run(model, x) if kind == "label_encoder" else np.isnan(x)
    assert [g.node for g in rewrite(model, "onnxruntime 1.12.1")] == [node.name]
    np.testing.assert_array_equal(_run(model, x), want)


def test_a_label_encoder_of_no_keys_is_left_for_validate_to_name_instead_of_failing_adapt() -> None:
    # every input takes the default (onnxruntime 1.32 runs it): og.adapt for SQL Edge raised onnx's "Could not infer
    # attribute `keys_floats` type from empty iterator" writing the lookup; now the node is left as it is, and
    # validate's operators_supported names it for the target as for any node the database lacks
    import onnx
    from onnx import TensorProto, helper

    model = _label_encoder({}, {"default_float": 3.0}, TensorProto.FLOAT, TensorProto.FLOAT)
    node = model.graph.node[0]
    node.attribute.extend([helper.make_attribute(name, [], attr_type=onnx.AttributeProto.FLOATS)
                           for name in ("keys_floats", "values_floats")])
    x = np.array([[1.0], [np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(_run(model, x), [[3.0], [3.0]])

    adapted = og.adapt(model, "sql-edge-2.0")

    assert [n.op_type for n in adapted.graph.node if n.domain == "ai.onnx.ml"] == ["LabelEncoder"]
    report = og.validate(adapted, target="sql-edge-2.0", data=x)
    assert not report.check("operators_supported").passed


def _store_numbers() -> tuple[Any, np.ndarray]:
    """A HistGradientBoosting model whose category column holds 16777216.0 and 16777217.0 (store numbers, ids):
    distinct in float64, one value in float32; the label is which of the two a row holds."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    n = 600
    store = rng.choice([16777216.0, 16777217.0, 5.0], n)
    X = np.c_[rng.normal(size=n), store]
    y = (store == 16777217.0).astype(int)
    return HistGradientBoostingClassifier(max_iter=10, categorical_features=[1], random_state=0).fit(X, y), X


def test_categories_one_float32_value_apart_are_named_at_convert_with_the_precision_that_keeps_them() -> None:
    # the float32 file (a SQL target's default) scored 16777217.0 as 16777216.0 with no word at convert, and parity
    # failed a third of the rows saying only 'the conversion itself may be wrong'
    model, X = _store_numbers()
    conv = og.convert(model, X[:5], target="sql-edge-2.0")
    (said,) = [w for w in conv.warnings if "one float32 value" in w]
    assert "16777216.0 and 16777217.0 (HistGradientBoostingClassifier, feature 1)" in said
    assert "precision='float64'" in said
    assert not og.validate(conv, target="sql-edge-2.0", reference=model, data=X).passed
    kept = og.convert(model, X[:5], target="sql-edge-2.0", precision="float64")
    assert not [w for w in kept.warnings if "one float32 value" in w]
    assert og.validate(kept, target="sql-edge-2.0", reference=model, data=X).passed


def test_a_float32_sample_of_categories_one_float32_value_apart_converts() -> None:
    # before: ValueError 'In column 0, the predefined categories contain duplicate elements' (a traceback)
    model, X = _store_numbers()
    rows = X.astype(np.float32)  # float32 rows hold no 16777217.0: the model reads them as 16777216.0 too
    conv = og.convert(model, rows[:5], target="sql-edge-2.0")
    assert og.validate(conv, target="sql-edge-2.0", reference=model, data=rows).passed


def test_an_ir3_file_whose_label_encoder_is_rewritten_for_sql_edge_passes_the_onnx_checker() -> None:
    # an IR 3 file (opset 8) lists every initializer as a graph input: the rewrite's table of values was not, and the
    # adapted file failed onnx.checker ('LabelEncoder_values in initializer but not in graph input'), validate
    # passing only on a copy it repaired
    import onnx
    from onnx import TensorProto

    model = _label_encoder({"keys_floats": [1.0, 2.0]}, {"values_floats": [10.0, 20.0], "default_float": -1.0},
                           TensorProto.FLOAT, TensorProto.FLOAT)
    del model.opset_import[:]
    model.opset_import.extend([onnx.helper.make_opsetid("", 8), onnx.helper.make_opsetid("ai.onnx.ml", 2)])
    model.ir_version = 3
    onnx.checker.check_model(model)
    for target in ("sql-edge-2.0", "sql-edge-1.0"):
        adapted = og.adapt(model, target)
        assert any(n.op_type == "Gather" for n in adapted.graph.node)  # rewritten
        onnx.checker.check_model(adapted)
        assert [i.name for i in og.Signature.from_model(adapted).inputs] == ["x"]  # no constant to feed
        x = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
        np.testing.assert_array_equal(_run(adapted, x).ravel(), [10.0, 20.0, -1.0])

"""Each structural and I/O check against a model built to break it; every offender is named."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
from broken_models import (
    batch_sum_model,
    doubled_rows_model,
    identity_model,
    model,
    own_symbol_model,
    reduce_mean_18,
    squeeze_rows_model,
    typed_inputs_model,
    unsupported_nodes_model,
    vi,
    wide_input_model,
)
from onnx import TensorProto, helper

import onnxgate as og
from onnxgate import targets
from onnxgate.validators import io_rules, structure

EDGE2 = targets.get("sql-edge-2.0")
EDGE1 = targets.get("sql-edge-1.0")
CONTAINER = targets.get("container")


def test_clean_sql_model_passes_every_sql_check():
    report = og.validate(identity_model(), target="sql-edge-2.0")
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == [*EDGE2.checks, "prediction_parity"]
    assert report.check("prediction_parity").skipped


@pytest.mark.parametrize(
    ("elem", "name"),
    [(TensorProto.STRING, "city"), (TensorProto.BOOL, "flag"), (TensorProto.FLOAT16, "half")],
    ids=["string", "bool", "float16"],
)
def test_input_type_not_allowed_on_sql_edge(elem, name):
    m = typed_inputs_model({"ok": TensorProto.FLOAT, name: elem})
    result = io_rules.check_inputs_element_types(m, EDGE2)
    assert not result
    assert f"{name!r}" in result.message
    assert "'ok'" not in result.message
    assert [o["name"] for o in result.details["offenders"]] == [name]
    ok = next(row for row in result.details["inputs"] if row["name"] == "ok")
    assert ok["sql_type"] == "real"


def test_every_bad_input_type_is_named_at_once():
    m = typed_inputs_model(
        {"city": TensorProto.STRING, "flag": TensorProto.BOOL, "half": TensorProto.FLOAT16, "n": TensorProto.INT64}
    )
    result = io_rules.check_inputs_element_types(m, EDGE2)
    assert sorted(o["name"] for o in result.details["offenders"]) == ["city", "flag", "half"]
    for name in ("city", "flag", "half"):
        assert repr(name) in result.message
    assert "use float32" in result.message  # the fix for float16


def test_the_count_of_inputs_agrees_with_its_noun():
    # before: "1 inputs of a type target 'sql-edge-2.0' does not take" and, passed, "1 inputs: ok float->real"
    one_bad = io_rules.check_inputs_element_types(typed_inputs_model({"ok": TensorProto.FLOAT,
                                                                     "flag": TensorProto.BOOL}), EDGE2)
    assert one_bad.message.startswith("1 input of a type target 'sql-edge-2.0' does not take: 'flag' is bool")
    two_bad = io_rules.check_inputs_element_types(typed_inputs_model({"city": TensorProto.STRING,
                                                                     "flag": TensorProto.BOOL}), EDGE2)
    assert two_bad.message.startswith("2 inputs of a type")
    one_ok = io_rules.check_inputs_element_types(typed_inputs_model({"ok": TensorProto.FLOAT}), EDGE2)
    assert one_ok.message.startswith("1 input: ok float")


def test_synapse_takes_string_inputs_and_maps_them_to_nvarchar():
    m = typed_inputs_model({"city": TensorProto.STRING, "n": TensorProto.INT64})
    result = io_rules.check_inputs_element_types(m, targets.get("synapse"))
    assert result, result.message
    assert "city string->nvarchar(max)" in result.message
    assert "n int64->bigint" in result.message


def test_wide_input_reported_with_its_width():
    result = io_rules.check_inputs_one_per_column(wide_input_model(3), EDGE2)
    assert not result
    assert "'features'" in result.message and "k=3" in result.message
    assert result.details["offenders"][0]["width"] == 3


@pytest.mark.parametrize(
    ("name", "problem"),
    [("petal length", "not a SQL identifier"), ("select", "reserved"), ("9lives", "not a SQL identifier"),
     # T-SQL's letters are Unicode 3.2's: a combining mark (decomposed "ö") or a character beyond the
     # Basic Multilingual Plane is not one
     ("gro\u0308ße", "not a SQL identifier"), ("\U0001d4b3", "not a SQL identifier")],
)
def test_input_names_must_be_sql_column_names(name, problem):
    result = io_rules.check_inputs_one_per_column(identity_model(name), EDGE2)
    assert not result
    assert repr(name) in result.message and problem in result.message


@pytest.mark.parametrize("name", ["größe", "température", "год", "名前", "_x1", "a@#$"])
def test_letters_of_any_script_are_sql_column_names(name):
    # SQL Server's regular identifiers take the letters and decimal digits of every script
    assert io_rules.check_inputs_one_per_column(identity_model(name), EDGE2)


def test_input_names_colliding_in_sql_are_reported():
    m = typed_inputs_model({"Age": TensorProto.FLOAT, "age": TensorProto.FLOAT})
    result = io_rules.check_inputs_one_per_column(m, EDGE2)
    assert not result and "same SQL column name as 'Age'" in result.message


def test_one_row_columns_are_the_documented_form_and_a_fixed_batch_is_not():
    # [1,1] for every input is what the PREDICT samples export: scored one row per run
    result = io_rules.check_inputs_one_per_column(identity_model(shape=(1, 1)), EDGE2)
    assert result and "one [1,1] column each: the model scores one row per run" in result.message
    assert io_rules.check_outputs_one_value_per_row(identity_model(shape=(1, 1)), EDGE2)
    result = io_rules.check_inputs_one_per_column(identity_model(shape=(5, 1)), EDGE2)
    assert not result
    assert "'x': shape [5,1] fixes its first axis to 5" in result.message
    assert "PREDICT scores one row per table row" in result.message and "dynamic batch axis" in result.message
    # the fix for a column problem (adapt) is not offered for a row problem it does not solve
    assert "onnxgate.adapt" not in result.message
    mixed = typed_inputs_model({"a": TensorProto.FLOAT, "b": TensorProto.FLOAT})
    mixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1  # 'a' [1,1] beside 'b' [N,1]
    result = io_rules.check_inputs_one_per_column(mixed, EDGE2)
    assert not result and "'a': shape [1,1] fixes its first axis to 1" in result.message


def test_unknown_batch_axis_input_is_a_column():
    assert io_rules.check_inputs_one_per_column(identity_model(shape=(None, 1)), EDGE2)


# Models PREDICT cannot score a table with: (model, the check that must fail, what its message must hold).
ROWS_CASES = {
    "output-[1,1]-sum-over-batch": (batch_sum_model(), "outputs_one_value_per_row",
                                    "'y': shape [1,1] fixes its first axis to 1"),
    "output-[1]-sum-over-batch": (batch_sum_model(rank1=True), "outputs_one_value_per_row",
                                  "'y': shape [1] fixes its first axis to 1"),
    "output-[M,1]-concat-2N-rows": (doubled_rows_model(), "outputs_one_value_per_row",
                                    "'y': shape [M,1] counts its rows in 'M', not in the inputs' batch axis 'N'"),
    "output-[M,1]-own-symbol": (own_symbol_model(), "outputs_one_value_per_row",
                                "'y': shape [M,1] counts its rows in 'M', not in the inputs' batch axis 'N'"),
    "input-fixed-[5,1]": (identity_model(shape=(5, 1)), "inputs_one_per_column",
                          "'x': shape [5,1] fixes its first axis to 5, so it takes 5 row(s)"),
    # shapes cannot tell: the model is run on 2 and 3 rows
    "output-[?,1]-concat-probed": (doubled_rows_model((None, 1)), "outputs_one_value_per_row",
                                   "'y': shape [?,1] does not tell its row count; run on rows of zeros it "
                                   "returned [4,1] for 2 rows, [6,1] for 3 rows, not one row per input row"),
    "input-[?,1]-concat-probed": (doubled_rows_model((None, 1), batch=None), "outputs_one_value_per_row",
                                  "returned [4,1] for 2 rows, [6,1] for 3 rows, not one row per input row"),
    # the declaration says [N,1]; run on 2 and 3 rows, the model returns one: it was trusted without data
    "output-[N,1]-declared-sum-over-batch": (batch_sum_model(declared=("N", 1)), "outputs_one_value_per_row",
                                             "'y': shape [N,1] declares one row per input row, but run on rows of "
                                             "zeros it returned [1,1] for 2 rows, [1,1] for 3 rows"),
    "fails-on-2-rows": (squeeze_rows_model(), "outputs_one_value_per_row",
                        "'y': shape [?] does not tell its row count, and onnxruntime fails on a batch of 2 rows "
                        "of zeros (and of ones): [ONNXRuntimeError]"),
}


@pytest.mark.parametrize("case", ROWS_CASES.values(), ids=ROWS_CASES.keys())
def test_sql_targets_refuse_models_without_one_row_per_input_row(case):
    m, check, expected = case
    before = hashlib.sha256(m.SerializeToString()).hexdigest()
    report = og.validate(m, target="sql-edge-2.0")
    assert hashlib.sha256(m.SerializeToString()).hexdigest() == before
    assert not report.passed
    result = report.check(check)
    assert not result.passed
    assert expected in result.message, result.message
    assert "PREDICT scores one row per table row" in result.message
    assert "export with a dynamic batch axis".lower() in result.message.lower()
    # every other structural check passes: the row rule is what catches these models
    if check == "outputs_one_value_per_row":
        assert [c.name for c in report.failures] == [check], str(report)
        assert result.details["offenders"][0]["name"] == "y"


def test_a_fixed_input_and_output_fail_both_checks_naming_each():
    m = identity_model(shape=(5, 1))
    report = og.validate(m, target="sql-edge-2.0")
    assert [c.name for c in report.failures] == ["inputs_one_per_column", "outputs_one_value_per_row"]
    assert "'y': shape [5,1] fixes its first axis to 5" in report.check("outputs_one_value_per_row").message


def test_row_count_unknown_statically_is_said_and_checked_by_running():
    result = io_rules.check_outputs_one_value_per_row(identity_model(shape=(None, 1)), EDGE2)
    assert result, result.message
    assert "the row count of 'y' could not be checked statically" in result.message
    assert "ran on 2 and 3 rows of zeros and returned one row per input row" in result.message
    assert result.details["rows"]["probed"] == {"y": [[2, 1], [3, 1]]}


def test_the_row_probe_says_it_fed_ones_where_zeros_fail():
    # Gather at index 5*x-5 of a 2-value table: out of bounds for x=0, the first value for x=1. The message said
    # "run on rows of zeros" of a run that had been fed ones
    table = helper.make_tensor("table", TensorProto.FLOAT, [2], [10.0, 20.0])
    five = helper.make_tensor("five", TensorProto.INT64, [], [5])
    nodes = [helper.make_node("Mul", ["x", "five"], ["t"], name="mul"),
             helper.make_node("Sub", ["t", "five"], ["i"], name="sub"),
             helper.make_node("Gather", ["table", "i"], ["y"], name="gather", axis=0)]
    m = model(nodes, [vi("x", TensorProto.INT64, (None, 1))], [vi("y", TensorProto.FLOAT, (None, 1))],
              initializers=[table, five])
    result = io_rules.check_outputs_one_value_per_row(m, EDGE2)
    assert result, result.message
    assert "so the model ran on 2 and 3 rows of ones and returned one row per input row" in result.message
    assert "zeros" not in result.message
    assert result.details["rows"]["fed"] == "ones"
    doubled = helper.make_node("Concat", ["y", "y"], ["z"], name="twice", axis=0)
    m2 = model([*nodes, doubled], [vi("x", TensorProto.INT64, (None, 1))], [vi("z", TensorProto.FLOAT, (None, 1))],
               initializers=[table, five])
    result = io_rules.check_outputs_one_value_per_row(m2, EDGE2)
    assert not result
    assert ("'z': shape [?,1] does not tell its row count; run on rows of ones it returned [4,1] for 2 rows, "
            "[6,1] for 3 rows, not one row per input row") in result.message


def test_output_sharing_the_input_batch_symbol_is_confirmed_by_running(monkeypatch):
    result = io_rules.check_outputs_one_value_per_row(identity_model(), EDGE2)
    assert result and result.message == "1 outputs, one value per row each"
    assert result.details["rows"] == {"batch_axes": {"x": "N"}, "probed": {}, "unverified": [],
                                      "declared_run": ["y"], "declared_unrun": None, "fed": "zeros"}

    def no_session(*args, **kwargs):
        raise RuntimeError("no onnxruntime here")

    # a model that cannot be run keeps its declaration: the check passes and says why it was not run
    monkeypatch.setattr(io_rules.runtime, "session", no_session)
    result = io_rules.check_outputs_one_value_per_row(identity_model(), EDGE2)
    assert result and result.details["rows"]["declared_run"] == []
    assert "cannot load" in result.details["rows"]["declared_unrun"]


def test_rows_unchecked_when_onnxruntime_cannot_load_the_model_are_said_not_failed():
    m = model(
        [helper.make_node("Cos", ["x"], ["y"], name="cos_int")],
        [vi("x", TensorProto.INT32, (None, 1))],
        [vi("y", TensorProto.INT32, (None, 1))],
    )
    result = io_rules.check_outputs_one_value_per_row(m, EDGE2)
    assert result
    assert "could not be checked statically, nor by running the model: onnxruntime cannot load" in result.message
    assert result.details["rows"]["unverified"][0]["name"] == "y"
    report = og.validate(m, target="sql-edge-2.0")
    assert "operators_supported" in [c.name for c in report.failures]


@pytest.mark.parametrize("target", ["container", "mlflow", "onnxruntime"])
def test_targets_without_the_sql_row_rule_do_not_run_it(target):
    checks = targets.get(target).checks
    assert "outputs_one_value_per_row" not in checks and "inputs_one_per_column" not in checks


def test_zoo_classifier_converted_for_sql_passes_the_row_rules():
    model_, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    conv = og.convert(model_, X, target="sql-edge-2.0")
    report = og.validate(conv, target="sql-edge-2.0")
    assert report.passed, str(report)
    rows = report.check("outputs_one_value_per_row")
    assert rows.details["rows"]["probed"] == {}  # decided from the shapes: every output is [N,1]


@pytest.fixture(scope="module")
def zipmap_model():
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    return to_onnx(clf, X[:2].astype(np.float32), options={id(clf): {"zipmap": True}}, target_opset=15)


def test_zipmap_output_is_named(zipmap_model):
    result = io_rules.check_outputs_tensor_only(zipmap_model, CONTAINER)
    assert not result
    assert "'output_probability'" in result.message and "seq(map(" in result.message
    assert "ZipMap" in result.message
    assert [o["name"] for o in result.details["offenders"]] == ["output_probability"]
    per_row = io_rules.check_outputs_one_value_per_row(zipmap_model, EDGE2)
    assert not per_row and "'output_probability'" in per_row.message


def test_wide_output_reported_with_its_width():
    m = model(
        [helper.make_node("Identity", ["x"], ["probabilities"], name="id")],
        [vi("x", TensorProto.FLOAT, ("N", 3))],
        [vi("probabilities", TensorProto.FLOAT, ("N", 3))],
    )
    result = io_rules.check_outputs_one_value_per_row(m, EDGE2)
    assert not result and "'probabilities'" in result.message and "k=3" in result.message
    assert result.details["offenders"][0]["width"] == 3


def test_output_element_types_for_sql():
    m = model(
        [helper.make_node("Cast", ["x"], ["flag"], to=TensorProto.BOOL, name="c")],
        [vi("x", TensorProto.FLOAT, ("N", 1))],
        [vi("flag", TensorProto.BOOL, ("N", 1))],
    )
    result = io_rules.check_outputs_element_types(m, EDGE2)
    assert not result and "'flag' is bool" in result.message


@pytest.mark.parametrize("drop", [None, "first"])
def test_a_text_column_one_hot_encoded_for_synapse_is_one_value_per_row(drop):
    # scikit-learn's default OneHotEncoder refuses a category it did not see; the row probe fed the text column
    # '' and, refused, failed a Ridge pipeline's [?,1] prediction as "does not tell its row count" although it
    # scores one row per row (parity passed), so validate failed and package refused it (helper-254)
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"size": rng.normal(size=60), "colour": rng.choice(["red", "green", "blue"], 60)})
    y = 3 * X["size"] + (X["colour"] == "red") + 10
    model = make_pipeline(ColumnTransformer([("c", OneHotEncoder(drop=drop), ["colour"])], remainder=StandardScaler()),
                          Ridge()).fit(X, y)
    conv = og.convert(model, X[:5], target="synapse")
    report = og.validate(conv, target="synapse", reference=model, data=X)
    rows = report.check("outputs_one_value_per_row")
    assert rows.passed, rows.message
    assert rows.details["rows"]["probed"] == {"variable": [[2, 1], [3, 1]]}
    # it said "rows of zeros" of the run fed a category the encoder knows
    assert "ran on 2 and 3 rows of zeros, 'blue' in 'colour' (a category its encoder knows) and" in rows.message
    assert report.passed, report.summary()


@pytest.mark.parametrize("target", ["sql-edge-2.0", "synapse"])
def test_a_text_output_is_not_sent_to_synapse_which_takes_text_inputs_only(target):
    m = model(
        [helper.make_node("Cast", ["x"], ["label"], to=TensorProto.STRING, name="c")],
        [vi("x", TensorProto.FLOAT, ("N", 1))],
        [vi("label", TensorProto.STRING, ("N", 1))],
    )
    result = io_rules.check_outputs_element_types(m, targets.get(target))
    assert not result and "'label' is string" in result.message
    assert "synapse target, which takes strings" not in result.message and "numeric output" in result.message


def test_opset_21_is_above_sql_edge_2():
    m = identity_model(opset=21, ir_version=10)
    result = structure.check_opset_within_caps(m, EDGE2)
    assert not result
    assert "ai.onnx opset 21 > 17" in result.message
    assert result.details["offenders"] == [{"domain": "ai.onnx", "opset": 21, "max_opset": 17}]


def test_ml_domain_opset_is_capped_too():
    m = model(
        [helper.make_node("Identity", ["x"], ["y"], name="id")],
        [vi("x", TensorProto.FLOAT, ("N", 1))],
        [vi("y", TensorProto.FLOAT, ("N", 1))],
        opset=12,
        ml_opset=3,
    )
    result = structure.check_opset_within_caps(m, EDGE1)
    assert not result and "ai.onnx.ml opset 3 > 2" in result.message and "ai.onnx opset" not in result.message


def test_ir_10_is_above_sql_edge_1():
    result = structure.check_ir_version_within_caps(identity_model(ir_version=10), EDGE1)
    assert not result and "IR version 10 > 7" in result.message
    assert structure.check_ir_version_within_caps(identity_model(ir_version=7), EDGE1)


def test_operator_newer_than_target_opset_is_named():
    result = structure.check_operators_exist_at_opset(reduce_mean_18(), EDGE2)
    assert not result
    assert "'mean18' (ReduceMean) needs ai.onnx opset 18 > 17" in result.message
    assert "relu" not in result.message  # Relu-14 exists at 17
    (offender,) = result.details["offenders"]
    assert offender["needs_opset"] == 18 and offender["node"] == "mean18"


def test_stamp_alone_too_new_fails_opset_but_not_operators():
    m = identity_model(opset=18, ir_version=8)
    assert not structure.check_opset_within_caps(m, EDGE2)
    assert structure.check_operators_exist_at_opset(m, EDGE2)


def test_every_node_onnxruntime_rejects_is_named():
    result = structure.check_operators_supported(unsupported_nodes_model(), targets.get("onnxruntime"))
    assert not result
    names = [o["node"] for o in result.details["offenders"]]
    assert names == ["cos_int", "sin_int", "mystery"]
    for name in names:
        assert repr(name) in result.message
    assert "fine_identity" not in result.message


def test_an_output_listed_twice_is_not_wellformed():
    # the checker and onnxruntime accept it, and 'container' passed: its JSON reply kept one of the two
    import copy

    twice = copy.deepcopy(identity_model())
    twice.graph.output.append(copy.deepcopy(twice.graph.output[0]))
    result = structure.check_model_wellformed(twice, EDGE2)
    assert not result and "listed more than once" in result.message and "'y'" in result.message
    assert not og.validate(twice, target="container").passed


def test_model_wellformed_reports_checker_errors():
    broken = model(
        [helper.make_node("Relu", ["nowhere"], ["y"], name="orphan")],
        [vi("x", TensorProto.FLOAT, ("N", 1))],
        [vi("y", TensorProto.FLOAT, ("N", 1))],
    )
    result = structure.check_model_wellformed(broken, EDGE2)
    assert not result and "nowhere" in result.message
    assert structure.check_model_wellformed(identity_model(), EDGE2)


def test_batch_axis_fixed_on_input_and_output_is_named():
    m = model(
        [helper.make_node("Identity", ["x"], ["y"], name="id")],
        [vi("x", TensorProto.FLOAT, (1, 4))],
        [vi("y", TensorProto.FLOAT, (1, 4))],
    )
    result = io_rules.check_batch_axis_dynamic(m, CONTAINER)
    assert not result
    assert "input 'x' [1,4]" in result.message and "output 'y' [1,4]" in result.message


def test_an_output_with_its_rows_on_another_axis_is_told_to_put_them_first():
    # an RNN's hidden state [layers, N, H]: the message said to export a dynamic first dimension, which
    # the model already has
    m = model(
        [helper.make_node("Unsqueeze", ["x", "zero"], ["h"], name="layers")],
        [vi("x", TensorProto.FLOAT, ("N", 4))],
        [vi("h", TensorProto.FLOAT, (1, "N", 4))],
        initializers=[helper.make_tensor("zero", TensorProto.INT64, [1], [0])],
    )
    result = io_rules.check_batch_axis_dynamic(m, CONTAINER)
    assert not result
    assert "output 'h' [1,N,4]: first axis fixed to 1; its rows run along axis 1 (N)" in result.message
    assert "h_n.transpose(0, 1)" in result.message and "Export with a dynamic first dimension" not in result.message


def test_truncated_file_raises_invalid_model_error(tmp_path):
    data = identity_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(og.InvalidModelError, match=r"cut\.onnx"):
        og.validate(path, target="sql-edge-2.0")
    with pytest.raises(og.InvalidModelError, match=r"not a valid ONNX model|not an ONNX model"):
        og.validate(data[:-7])
    (tmp_path / "text.onnx").write_text("hello, I am not a model")
    with pytest.raises(og.InvalidModelError):
        og.validate(tmp_path / "text.onnx")


def test_broken_model_collects_every_failure_and_fail_fast_stops():
    m = wide_input_model(3)
    m.opset_import[0].version = 21
    m.ir_version = 10
    report = og.validate(m, target="sql-edge-2.0")
    failed = {c.name for c in report.failures}
    assert {"opset_within_caps", "ir_version_within_caps", "inputs_one_per_column"} <= failed
    fast = og.validate(m, target="sql-edge-2.0", fail_fast=True)
    assert [c.name for c in fast.failures] == ["opset_within_caps"]
    skipped = [c for c in fast.checks if c.skipped]
    assert skipped and all("fail_fast" in c.message for c in skipped)
    assert not fast.passed


def test_target_checks_decide_what_runs():
    names = [c.name for c in og.validate(identity_model(), target="container").checks]
    assert names == [*CONTAINER.checks, "prediction_parity"]


def test_user_target_object_and_toml(tmp_path):
    mine = targets.Target(
        name="tiny",
        description="test",
        max_opset={"": 11},
        max_ir_version=6,
        checks=("opset_within_caps", "ir_version_within_caps"),
    )
    report = og.validate(identity_model(opset=13), target=mine)
    # the checks named, and operators_exist_at_opset, which max_opset implies (Identity-13 is newer than 11)
    assert report.target == "tiny" and [c.name for c in report.failures] == [
        "opset_within_caps",
        "ir_version_within_caps",
        "operators_exist_at_opset",
    ]
    toml = tmp_path / "t.toml"
    toml.write_text(
        '[target]\nbase = "sql-edge-2.0"\nname = "edge-opset-12"\nmax_opset = { "" = 12, "ai.onnx.ml" = 2 }\n'
    )
    report = og.validate(identity_model(opset=13), target=targets.from_toml(toml))
    assert "ai.onnx opset 13 > 12" in report.check("opset_within_caps").message


def test_checks_do_not_mutate_model_or_data():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    reg = Ridge().fit(X, y)
    conv = og.convert(reg, X[:5], opset=15)
    before_model = hashlib.sha256(conv.model.SerializeToString()).hexdigest()
    before_data = hashlib.sha256(X.tobytes()).hexdigest()
    before_coef = hashlib.sha256(reg.coef_.tobytes()).hexdigest()
    for target in targets.names():
        og.validate(conv.model, target=target, reference=reg, data=X, batch_size=100)
    assert hashlib.sha256(conv.model.SerializeToString()).hexdigest() == before_model
    assert hashlib.sha256(X.tobytes()).hexdigest() == before_data
    assert hashlib.sha256(reg.coef_.tobytes()).hexdigest() == before_coef
    # the hand-built broken models too (probing nodes must not touch the original graph)
    m = unsupported_nodes_model()
    h = m.SerializeToString()
    og.validate(m, target="sql-edge-2.0")
    assert m.SerializeToString() == h


def test_report_records_model_facts_and_seed():
    m = identity_model()
    report = og.validate(m, seed=1234)
    assert report.seed == 1234
    assert report.model["sha256"] == hashlib.sha256(m.SerializeToString()).hexdigest()
    assert report.model["opsets"] == {"ai.onnx": 13} and report.model["ir_version"] == 7
    assert report.model["signature"]["inputs"][0]["name"] == "x"


def test_file_hash_is_the_files(tmp_path):
    path = tmp_path / "m.onnx"
    data = identity_model().SerializeToString()
    path.write_bytes(data)
    assert og.validate(path).model["sha256"] == hashlib.sha256(data).hexdigest()


def test_search_without_its_module_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxgate.validators.search", None)
    with pytest.raises(og.OnnxGateError, match="search=5 asks for the divergence search"):
        og.validate(identity_model(), reference=lambda feeds: [feeds["x"]], data=np.ones((3, 1), np.float32), search=5)


def test_a_model_exported_as_the_predict_samples_do_validates_row_by_row():
    # one [1,1] input per column (deploy-onnx's batch_axis=False, Synapse's FloatTensorType([1, 1])):
    # parity fed it 442 rows at once and onnxruntime refused them ("Got: 442 Expected: 1")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X.iloc[:, :3]
    reference = LinearRegression().fit(X.to_numpy(), y)
    inner = convert_sklearn(reference, initial_types=[("features", DoubleTensorType([1, 3]))], target_opset=15)
    columns = list(X.columns)
    graph = helper.make_graph(
        [helper.make_node("Concat", columns, ["features"], axis=1), *inner.graph.node], "one_row",
        [helper.make_tensor_value_info(c, TensorProto.DOUBLE, [1, 1]) for c in columns], list(inner.graph.output),
        initializer=list(inner.graph.initializer))
    m = helper.make_model(graph, opset_imports=list(inner.opset_import))
    m.ir_version = 8
    report = og.validate(m, target="sql-edge-2.0", reference=reference, data=X)
    assert report.passed, str(report)
    assert "match on 442 rows" in report.check("prediction_parity").message


def test_batch_names_a_converter_made_up_are_no_batch_axis_of_their_own():
    # tf2onnx names each input's and each output's batch axis unk__N: a Keras model of [None,1] columns,
    # one row out per row in, failed "counts its rows in 'unk__10', not in the inputs' batch axis"
    m = model(
        [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
        [vi("a", TensorProto.FLOAT, ("unk__6", 1)), vi("b", TensorProto.FLOAT, ("unk__7", 1))],
        [vi("y", TensorProto.FLOAT, ("unk__10", 1))],
    )
    result = io_rules.check_outputs_one_value_per_row(m, EDGE2)
    assert result, result.message
    assert result.details["rows"]["probed"] == {"y": [[2, 1], [3, 1]]}
    # inputs naming two different batch axes say nothing either: the run decides
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "rows_a"
    m.graph.input[1].type.tensor_type.shape.dim[0].dim_param = "rows_b"
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "rows"
    assert io_rules.check_outputs_one_value_per_row(m, EDGE2)


def test_a_model_that_refuses_zeros_is_run_on_ones_before_it_fails():
    # 1 / x on integers fails on zeros and scores real rows: it failed as "not one value per row"
    m = model(
        [helper.make_node("Div", ["one", "a"], ["q"], name="div"),
         helper.make_node("Reshape", ["q", "shape"], ["y"], name="rows")],
        [vi("a", TensorProto.INT64, ("N", 1))],
        [vi("y", TensorProto.INT64, (None, 1))],
        initializers=[helper.make_tensor("one", TensorProto.INT64, [1, 1], [1]),
                      helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 1])],
    )
    result = io_rules.check_outputs_one_value_per_row(m, EDGE2)
    assert result, result.message
    assert result.details["rows"]["probed"] == {"y": [[2, 1], [3, 1]]}


def test_a_one_row_model_with_a_bad_input_name_gets_the_column_fix_not_the_rows_fix():
    # its [1,1] inputs are right: the hint said to export a dynamic batch axis, and left out the fix for the name
    m = identity_model("select", shape=(1, 1))
    result = io_rules.check_inputs_one_per_column(m, EDGE2)
    assert not result and "'select': name" in result.message
    assert "onnxgate.adapt" in result.message and "dynamic batch axis" not in result.message


def test_sql_output_names_that_meet_another_column_ignoring_case_fail():
    # outputs 'y' and 'Y' passed and were packaged into WITH ([y] real, [Y] real), one column to SQL Server;
    # an input 'P_1' beside an output 'p_1' gave SELECT d.*, p.* two columns of one name
    m = model(
        [helper.make_node("Identity", ["P_1"], ["y"], name="a"), helper.make_node("Identity", ["P_1"], ["Y"], name="b"),
         helper.make_node("Identity", ["P_1"], ["p_1"], name="c")],
        [vi("P_1", TensorProto.FLOAT, ("N", 1))],
        [vi("y", TensorProto.FLOAT, ("N", 1)), vi("Y", TensorProto.FLOAT, ("N", 1)),
         vi("p_1", TensorProto.FLOAT, ("N", 1))],
    )
    result = io_rules.check_outputs_one_value_per_row(m, EDGE2)
    assert not result
    assert "output(s) cannot be columns of PREDICT's result" in result.message
    assert "'Y': same SQL column name as output 'y' (SQL names ignore case)" in result.message
    assert "'p_1': same SQL column name as input 'P_1'" in result.message
    assert "onnxgate.adapt" not in result.message
    assert io_rules.check_outputs_one_value_per_row(m, CONTAINER).passed


def test_a_name_alone_gets_the_renaming_fix_not_a_reshaping_one():
    # a bad output name was reported as "not one value per row" with the fix "Split them into [N,1]
    # outputs", and a bad input name as needing "a DataFrame sample"
    named = model(
        [helper.make_node("Identity", ["my col"], ["my out"])],
        [vi("my col", TensorProto.FLOAT, ("N", 1))],
        [vi("my out", TensorProto.FLOAT, ("N", 1))],
    )
    outputs = io_rules.check_outputs_one_value_per_row(named, EDGE2)
    assert not outputs and "cannot be columns of PREDICT's result" in outputs.message
    assert "Rename them to SQL column names" in outputs.message and "Split them" not in outputs.message
    inputs = io_rules.check_inputs_one_per_column(named, EDGE2)
    assert not inputs and "Rename them to SQL column names" in inputs.message
    assert "DataFrame sample (one column" not in inputs.message


def test_a_sequence_output_that_is_not_a_zipmap_gets_its_own_fix():
    # MultiOutputClassifier's seq(tensor) was told to "Convert without ZipMap", which changes nothing
    seq = model(
        [helper.make_node("SequenceConstruct", ["x", "x"], ["s"])],
        [vi("x", TensorProto.FLOAT, ("N", 1))],
        [helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)],
    )
    result = io_rules.check_outputs_tensor_only(seq, targets.get("container"))
    assert not result and "Return tensors instead" in result.message and "ZipMap" not in result.message


def test_a_graph_without_outputs_is_not_wellformed():
    # the checker accepts it and validate passed it (exit 0, packaged) without a reference, while onnxruntime
    # refuses to run it (helper-98)
    import copy

    empty = copy.deepcopy(identity_model())
    del empty.graph.output[:]
    result = structure.check_model_wellformed(empty, EDGE2)
    assert not result and "no outputs" in result.message
    assert not og.validate(empty, target="container").passed


def test_a_domain_the_target_lacks_is_not_sent_to_a_lower_opset() -> None:
    # a text model's com.microsoft Tokenizer on synapse: "Convert again with opset=12 or lower", which keeps
    # the domain, so the advice looped (helper-108)
    graph = helper.make_graph([helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")], "gelu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    opsets = [helper.make_opsetid("", 11), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 6
    check = og.validate(model, target="synapse").check("opset_within_caps")
    assert not check.passed and "the model's Gelu need(s) it" in check.message, check.message
    assert "Convert again with opset" not in check.message


def _contrib_in_a_branch() -> onnx.ModelProto:
    """com.microsoft's Gelu only inside an If's then-branch; the main graph holds the If alone."""
    def branch(name: str, node: onnx.NodeProto) -> onnx.GraphProto:
        return helper.make_graph([node], name, [], [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT,
                                                                                  ["N", 1])])

    choose = helper.make_node(
        "If", ["c"], ["y"], name="choose",
        then_branch=branch("then", helper.make_node("Gelu", ["x"], ["t"], name="gelu", domain="com.microsoft")),
        else_branch=branch("else", helper.make_node("Relu", ["x"], ["e"], name="relu")))
    graph = helper.make_graph([choose], "branch", [vi("x", TensorProto.FLOAT, ("N", 1))],
                              [vi("y", TensorProto.FLOAT, ("N", 1))],
                              [helper.make_tensor("c", TensorProto.BOOL, [], [True])])
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    out.ir_version = 8
    return out


def _contrib_in_a_function() -> onnx.ModelProto:
    """com.microsoft's Gelu only inside the model's own function ``pkg.act``, which the main graph calls."""
    act = helper.make_function("pkg", "act", ["a"], ["b"], [helper.make_node("Gelu", ["a"], ["b"], name="gelu",
                                                                             domain="com.microsoft")],
                               [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    graph = helper.make_graph([helper.make_node("act", ["x"], ["y"], domain="pkg")], "function",
                              [vi("x", TensorProto.FLOAT, ("N", 1))], [vi("y", TensorProto.FLOAT, ("N", 1))])
    out = helper.make_model(graph, functions=[act], opset_imports=[helper.make_opsetid("", 17),
                                                                   helper.make_opsetid("pkg", 1)])
    out.ir_version = 8
    return out


@pytest.mark.parametrize(
    ("build", "where"),
    [(_contrib_in_a_branch, "'choose.then_branch/gelu'"), (_contrib_in_a_function, "'pkg.act/gelu'")],
    ids=["if-branch", "local-function"],
)
def test_a_contrib_operator_outside_the_main_graph_is_named_where_it_is(build, where) -> None:
    # a com.microsoft operator only in a subgraph or a local function: the SQL targets said "No node of the main
    # graph uses ['com.microsoft']: drop its opset import", naming no operator; the import cannot be dropped
    check = og.validate(build(), target="sql-edge-2.0").check("opset_within_caps")
    assert not check.passed
    assert f"No opset removes ['com.microsoft']: the model's Gelu (in {where}) need(s) it" in check.message, \
        check.message
    assert "No node of the main graph" not in check.message


@pytest.mark.parametrize(("shape", "shown", "fix"), [
    (("N", 5, 3), "[N,5,3]", "Flatten input 'x' to [N,15] in the model before export (the model takes [N,15] and "
                             "reshapes it to [N,5,3] first: x.reshape(-1, 5, 3) in a PyTorch forward())"),
    (("N", None, 3), "[N,?,3]", "Give input 'x' a fixed size on each axis after the first (pad or crop it) and "
                                "flatten them"),
], ids=["fixed-axes", "variable-axis"])
def test_an_input_of_three_axes_is_told_how_to_become_columns(shape, shown, fix):
    """No table column feeds a third axis, and adapt() refuses one: the check said "Convert with a DataFrame sample
    ... or onnxgate.adapt(model, target)", neither of which helps; it says to flatten the input in the model, or to
    deploy to the container target."""
    result = io_rules.check_inputs_one_per_column(identity_model(shape=shape), EDGE2)
    assert not result
    assert f"'x': rank 3 {shown}; expected [N,1]" in result.message
    assert fix in result.message and "or deploy to the container target, which takes" in result.message
    assert "Convert with a DataFrame sample" not in result.message

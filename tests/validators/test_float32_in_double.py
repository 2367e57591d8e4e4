"""A file with float64 inputs and outputs that computes part of its answer in float32 (audit case FP05: a double
LogisticRegression whose Softmax was edited to run in float32, 6e-8 off, under float64's atol 1e-7 / rtol 1e-6)."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
from _tampering import softmax_in_float32
from onnx import TensorProto, helper
from sklearn.datasets import load_diabetes, load_iris

import onnxgate as og

RECORD_KEY = "onnxgate.float32_nodes"  # written by convert: the narrowings of the file as converted

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_DIAB, Y_DIAB = load_diabetes(return_X_y=True)


def _parity(report: og.Report) -> og.CheckResult:
    return next(c for c in report.checks if c.name == "prediction_parity")


def _without_record(model):
    stripped = copy.deepcopy(model)
    for prop in [p for p in stripped.metadata_props if p.key == RECORD_KEY]:
        stripped.metadata_props.remove(prop)
    return stripped


@pytest.fixture(scope="module")
def logreg64():
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000).fit(X_IRIS, Y_IRIS)
    return model, og.convert(model, X_IRIS[:5], opset=15, precision="float64")


def test_softmax_edited_to_float32_fails_as_a_conversion_recording_float64(logreg64):
    model, conv = logreg64
    edited = dataclasses.replace(conv, model=softmax_in_float32(conv.model))
    result = _parity(og.validate(edited, reference=model, data=X_IRIS))
    assert not result.passed
    assert "computes node 'Softmax' in float32 between double input and output" in result.message
    assert "onnxgate.precision=float64" in result.message and "Convert the model again" in result.message
    assert [n["computes"] for n in result.details["float32_in_double"]] == [["Softmax"]]


def test_softmax_edited_to_float32_fails_as_a_file(logreg64, tmp_path):
    model, conv = logreg64
    path = tmp_path / "edited.onnx"
    path.write_bytes(softmax_in_float32(conv.model).SerializeToString())
    report = og.validate(str(path), reference=model, data=X_IRIS)
    assert not report.passed
    assert "'Softmax' in float32" in _parity(report).message


def test_softmax_in_float32_without_a_record_is_said_not_failed(logreg64):
    """A file onnxgate did not convert (no record of its narrowings): its answers are within float64's
    tolerances, so it passes, and the report says where it computes in float32."""
    model, conv = logreg64
    result = _parity(og.validate(_without_record(softmax_in_float32(conv.model)), reference=model, data=X_IRIS))
    assert result.passed
    assert "the file computes node 'Softmax' in float32 between double input and output" in result.message
    assert result.details["float32_in_double"][0]["to"] == "float32"


def _fitted(kind: str):
    from sklearn import ensemble, linear_model, naive_bayes, neighbors, pipeline, preprocessing, svm, tree
    from sklearn.compose import ColumnTransformer

    rng = np.random.default_rng(0)
    table = {
        "LogisticRegression": (linear_model.LogisticRegression(max_iter=1000), X_IRIS, Y_IRIS),
        "Ridge": (linear_model.Ridge(), X_DIAB, Y_DIAB),
        "DecisionTreeClassifier": (tree.DecisionTreeClassifier(max_depth=4, random_state=0), X_IRIS, Y_IRIS),
        "RandomForestRegressor": (ensemble.RandomForestRegressor(n_estimators=5, max_depth=6, random_state=0),
                                  X_DIAB, Y_DIAB),
        "GradientBoostingClassifier": (ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0),
                                       X_IRIS, Y_IRIS),
        "HistGradientBoostingRegressor": (ensemble.HistGradientBoostingRegressor(max_iter=10, random_state=0),
                                          X_DIAB, Y_DIAB),
        "SVC": (svm.SVC(probability=True, random_state=0), X_IRIS, Y_IRIS),
        "KNeighborsRegressor": (neighbors.KNeighborsRegressor(), X_DIAB, Y_DIAB),
        "GaussianNB": (naive_bayes.GaussianNB(), X_IRIS, Y_IRIS),
        "AdaBoostClassifier": (ensemble.AdaBoostClassifier(n_estimators=3, random_state=0), X_IRIS, Y_IRIS),
        "StandardScaler+LogisticRegression": (pipeline.make_pipeline(
            preprocessing.StandardScaler(), linear_model.LogisticRegression(max_iter=1000)), X_IRIS, Y_IRIS),
    }
    if kind == "OneHotEncoder+GradientBoostingRegressor":
        frame = pd.DataFrame({"color": rng.choice(["red", "teal", "blue"], 200), "x": rng.normal(size=200)})
        columns = ColumnTransformer([("oh", preprocessing.OneHotEncoder(handle_unknown="ignore"), ["color"]),
                                     ("x", "passthrough", ["x"])])
        model = pipeline.make_pipeline(columns, ensemble.GradientBoostingRegressor(n_estimators=10, random_state=0))
        return model.fit(frame, frame.x * 2 + (frame.color == "teal")), frame
    if kind == "GradientBoostingClassifier(init fitted on float32 rows)":  # its init answers in float32, as recorded
        model = ensemble.GradientBoostingClassifier(n_estimators=5, init=linear_model.LogisticRegression(max_iter=2000),
                                                    random_state=0)
        return model.fit(X_IRIS.astype(np.float32), Y_IRIS), X_IRIS
    model, features, target = table[kind]
    return model.fit(features, target), features


CORRECT = ["LogisticRegression", "Ridge", "DecisionTreeClassifier", "RandomForestRegressor",
           "GradientBoostingClassifier", "HistGradientBoostingRegressor", "SVC", "KNeighborsRegressor", "GaussianNB",
           "AdaBoostClassifier",
           "StandardScaler+LogisticRegression", "OneHotEncoder+GradientBoostingRegressor",
           "GradientBoostingClassifier(init fitted on float32 rows)"]


def _first_double_output_through_float32(model):
    """The first float64 output rounded to float32 and back, by a node added after conversion."""
    edited = copy.deepcopy(model)
    out = next(o.name for o in edited.graph.output if o.type.tensor_type.elem_type == TensorProto.DOUBLE)
    for node in edited.graph.node:
        node.output[:] = [f"{o}_wide" if o == out else o for o in node.output]
        node.input[:] = [f"{i}_wide" if i == out else i for i in node.input]
    edited.graph.node.extend([helper.make_node("Cast", [f"{out}_wide"], ["narrowed"], to=TensorProto.FLOAT),
                              helper.make_node("Cast", ["narrowed"], [out], to=TensorProto.DOUBLE)])
    return edited


@pytest.mark.parametrize("kind", CORRECT)
def test_onnxgate_float64_conversions_pass_without_a_finding(kind):
    """Trees compare float32(x) as scikit-learn's do, a float32-fitted init answers in float32 as scikit-learn's
    does: the narrowings a double conversion writes are recorded, and validate finds none other. The same file
    with its answer rounded through float32 after conversion fails."""
    model, features = _fitted(kind)
    conv = og.convert(model, features[:20], opset=15, precision="float64")
    assert RECORD_KEY in {p.key for p in conv.model.metadata_props}
    result = _parity(og.validate(conv, reference=model, data=features))
    assert result.passed, result.message
    assert "float32_in_double" not in result.details and "float32 between" not in result.message
    edited = _parity(og.validate(dataclasses.replace(conv, model=_first_double_output_through_float32(conv.model)),
                                 reference=model, data=features))
    assert not edited.passed and "float32 between double input and output" in edited.message



def _sigmoid_nodes(prefix: str, source: str, out: str, narrow: bool) -> list:
    """``out = Sigmoid(source)``: in float32 between two Casts where ``narrow``."""
    if not narrow:
        return [helper.make_node("Sigmoid", [source], [out], name=f"{prefix}_sigmoid")]
    return [helper.make_node("Cast", [source], [f"{prefix}_f32"], to=TensorProto.FLOAT, name=f"{prefix}_narrow"),
            helper.make_node("Sigmoid", [f"{prefix}_f32"], [f"{prefix}_s32"], name=f"{prefix}_sigmoid"),
            helper.make_node("Cast", [f"{prefix}_s32"], [out], to=TensorProto.DOUBLE, name=f"{prefix}_widen")]


def _double_model(nodes: list):
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 1])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 1])
    return helper.make_model(helper.make_graph(nodes, "sigmoid", [x], [y]), ir_version=7,
                             opset_imports=[helper.make_opsetid("", 12)])


def _sigmoid_in_if(narrow: bool):
    """y = Sigmoid(x) in the then branch of an If always taken (its else branch too, in double), the branches
    reading the main graph's x by name."""
    def branch(prefix: str, narrow: bool):
        out = helper.make_tensor_value_info(f"{prefix}_y", TensorProto.DOUBLE, None)
        return helper.make_graph(_sigmoid_nodes(prefix, "x", f"{prefix}_y", narrow), prefix, [], [out])

    taken = helper.make_tensor("taken", TensorProto.BOOL, [], [True])
    return _double_model([helper.make_node("Constant", [], ["taken"], value=taken),
                          helper.make_node("If", ["taken"], ["y"], then_branch=branch("then", narrow),
                                           else_branch=branch("else", False))])


def _sigmoid_in_loop(narrow: bool):
    """y = Sigmoid(x) in the body of a Loop of one iteration, x its carried value."""
    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Identity", ["again"], ["again_out"]),
         *_sigmoid_nodes("body", "carried", "carried_out", narrow)],
        "body",
        [vi("i", TensorProto.INT64, []), vi("again", TensorProto.BOOL, []), vi("carried", TensorProto.DOUBLE, None)],
        [vi("again_out", TensorProto.BOOL, []), vi("carried_out", TensorProto.DOUBLE, None)])
    once = helper.make_tensor("once", TensorProto.INT64, [], [1])
    go = helper.make_tensor("go", TensorProto.BOOL, [], [True])
    return _double_model([helper.make_node("Constant", [], ["once"], value=once),
                          helper.make_node("Constant", [], ["go"], value=go),
                          helper.make_node("Loop", ["once", "go", "x"], ["y"], body=body)])


def _sigmoid_in_scan(narrow: bool):
    """y = Sigmoid(x) in the body of a Scan over x's rows, one row its scanned input."""
    vi = helper.make_tensor_value_info
    body = helper.make_graph(_sigmoid_nodes("scan", "row", "row_out", narrow), "body",
                             [vi("row", TensorProto.DOUBLE, [1])], [vi("row_out", TensorProto.DOUBLE, [1])])
    return _double_model([helper.make_node("Scan", ["x"], ["y"], body=body, num_scan_inputs=1)])


def _sigmoid64(feeds):
    return [1 / (1 + np.exp(-feeds["x"]))]


def _recorded_empty(model):
    """``model`` as a conversion that wrote no narrowing records it: a narrowing it holds was put there after."""
    recorded = copy.deepcopy(model)
    recorded.metadata_props.add(key=RECORD_KEY, value="[]")
    return recorded


X_WIDE = np.linspace(-6, 6, 49).reshape(-1, 1)


@pytest.mark.parametrize("build, narrow, source, computes", [
    (_sigmoid_in_if, "then_narrow", "x", "then_sigmoid"),
    (_sigmoid_in_loop, "body_narrow", "carried", "body_sigmoid"),
    (_sigmoid_in_scan, "scan_narrow", "row", "scan_sigmoid"),
], ids=["If branch", "Loop body", "Scan body"])
def test_float32_inside_a_body_is_found_as_in_the_main_graph(build, narrow, source, computes):
    """A Cast to float32 inside an If branch or a Loop or Scan body rounds the rows as one in the main graph does
    (within float64's tolerances of the double Sigmoid, so parity alone passes it): without a record it is said,
    with a conversion's record that does not list it the file fails, naming the body's nodes; the same bodies in
    double are found clean."""
    said = _parity(og.validate(build(True), reference=_sigmoid64, data=X_WIDE))
    assert said.passed
    assert f"the file computes node '{computes}' in float32 between double input and output" in said.message
    assert said.details["float32_in_double"] == [{"node": narrow, "narrows": source, "to": "float32",
                                                  "computes": [computes]}]
    failed = _parity(og.validate(_recorded_empty(build(True)), reference=_sigmoid64, data=X_WIDE))
    assert not failed.passed and f"(node '{narrow}' narrows '{source}' to float32)" in failed.message
    clean = _parity(og.validate(_recorded_empty(build(False)), reference=_sigmoid64, data=X_WIDE))
    assert clean.passed and "float32_in_double" not in clean.details


@pytest.mark.parametrize("build", [_sigmoid_in_if, _sigmoid_in_loop, _sigmoid_in_scan],
                         ids=["If branch", "Loop body", "Scan body"])
def test_float32_written_in_a_body_for_sql_edge_1_0_is_said_and_declared(build):
    """sql-edge-1.0's onnxruntime has no double Sigmoid: adapt computes the body's Sigmoid in float32 between
    Casts. Of a file without a record validate says so, as of the main graph's; of a converted file (a record),
    adapt declares the Casts it wrote, and validate does not take them for an edit."""
    said = _parity(og.validate(og.adapt(build(False), "sql-edge-1.0"), target="sql-edge-1.0", reference=_sigmoid64,
                               data=X_WIDE))
    assert said.passed and "sigmoid' in float32 between double input and output" in said.message
    declared = _parity(og.validate(og.adapt(_recorded_empty(build(False)), "sql-edge-1.0"), target="sql-edge-1.0",
                                   reference=_sigmoid64, data=X_WIDE))
    assert declared.passed and "float32_in_double" not in declared.details, declared.message

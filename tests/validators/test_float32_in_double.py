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

"""``onnxgate.columns``: the user's own column names <-> the model's input names, recorded in the model.

Fitted on scikit-learn's own ``as_frame=True`` datasets and on hostile names; the SQL and container
targets are covered end to end in ``tests/deploy/test_column_names.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _column_frames import column_pipeline, hostile_frame, iris_frame

import onnxgate as og
from onnxgate.columns import COLUMNS_METADATA_KEY, ColumnMap
from onnxgate.errors import InvalidDataError, InvalidModelError

# -- the mapping itself -----------------------------------------------------------------------------


def test_pairs_rename_frames_dicts_and_arrow_tables_to_inputs() -> None:
    import pandas as pd
    import pyarrow as pa

    m = ColumnMap.from_pairs([("a b", "a_b"), ("a_b", "a_b1"), ("1", "_1")])
    frame = pd.DataFrame({"a b": [1.0], "a_b": [2.0], "1": [3.0]})
    assert list(m.to_inputs(frame).columns) == ["a_b", "a_b1", "_1"]
    assert m.to_inputs(frame)["a_b1"].tolist() == [2.0]  # the user's a_b, not the input a_b
    assert m.to_inputs({"a b": 1, "a_b": 2, "1": 3}) == {"a_b": 1, "a_b1": 2, "_1": 3}
    assert m.to_inputs(pa.table({"1": [3.0], "a b": [1.0], "a_b": [2.0]})).column_names == ["_1", "a_b", "a_b1"]
    # data already keyed by the input names passes through unchanged
    assert m.to_inputs({"a_b": 1, "a_b1": 2, "_1": 3}) == {"a_b": 1, "a_b1": 2, "_1": 3}
    # a key the mapping does not know (an ID) leaves the user's columns read as columns
    assert m.to_inputs({"a b": 1, "a_b": 2, "1": 3, "id": 9}) == {"a_b": 1, "a_b1": 2, "_1": 3, "id": 9}
    assert m.to_inputs({"a_b": 1, "a_b1": 2, "_1": 3, "id": 9}) == {"a_b": 1, "a_b1": 2, "_1": 3, "id": 9}
    arr = np.zeros((2, 3))
    assert m.to_inputs(arr) is arr
    assert (m.input_for("1"), m.column_for("_1"), m.column_for("unknown")) == ("_1", "1", "unknown")


def test_two_keys_for_one_input_are_refused_naming_both() -> None:
    m = ColumnMap.from_pairs([("sepal length (cm)", "sepal_length__cm_"), ("x", "x")])
    with pytest.raises(InvalidDataError, match=r"sepal length \(cm\).*sepal_length__cm_.*same model input"):
        m.to_inputs({"sepal length (cm)": [1.0], "sepal_length__cm_": [1.0], "x": [0.0]})


def test_mapping_round_trips_through_model_metadata() -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["_1"], ["y"])], "g",
                              [helper.make_tensor_value_info("_1", TensorProto.FLOAT, ["N", 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])])
    proto = helper.make_model(graph)
    ColumnMap.from_pairs([("1", "_1")]).write(proto)
    again = onnx.load_from_string(proto.SerializeToString())
    assert ColumnMap.from_model(again).pairs == (("1", "_1"),)
    assert og.Signature.from_model(again).columns.input_for("1") == "_1"
    ColumnMap.from_pairs([("y", "y")]).write(proto)  # nothing renamed: nothing recorded
    assert all(p.key != COLUMNS_METADATA_KEY for p in proto.metadata_props)
    entry = proto.metadata_props.add()
    entry.key, entry.value = COLUMNS_METADATA_KEY, '{"columns": "not pairs"}'
    with pytest.raises(InvalidModelError, match="unreadable"):
        ColumnMap.from_model(proto)


def test_a_sample_pairs_positionally_only_when_names_come_from_the_columns() -> None:
    assert ColumnMap.for_sample(["a b", "a_b", "1", "]"], ["a_b", "a_b1", "_1", "_"]).pairs == (
        ("a b", "a_b"), ("a_b", "a_b1"), ("1", "_1"), ("]", "_"))
    assert ColumnMap.for_sample(["x", "y"], ["y", "x"]).pairs == ()  # reordered by the exporter: no guess
    assert ColumnMap.for_sample(["x", "y", "z"], ["input"]).pairs == ()  # one [N,k] input


# -- the Python API, with the exact frame the model was fitted on -------------------------------------


@pytest.mark.parametrize("frame", [iris_frame, hostile_frame], ids=["iris", "hostile"])
def test_validate_takes_the_frame_the_model_was_fitted_on(frame: Any) -> None:
    X, y = frame()
    pipe = column_pipeline(X, y)
    conv = og.convert(pipe, X.head())
    columns = conv.signature.columns
    assert columns.columns == [str(c) for c in X.columns]
    assert len(set(conv.signature.input_names)) == len(X.columns)  # colliding names got unique inputs
    report = og.validate(conv, reference=pipe, data=X)
    assert report.passed, report
    # the same data as a dict keyed by the user's names, and the model saved and read back
    report = og.validate(conv.model.SerializeToString(), reference=pipe, data={c: X[c].to_numpy() for c in X})
    assert report.passed, report


def test_the_old_failure_is_gone_and_a_missing_column_is_named_as_the_user_knows_it() -> None:
    X, y = iris_frame()
    pipe = column_pipeline(X, y)
    conv = og.convert(pipe, X.head())
    assert conv.signature.input_names[0] == "sepal_length__cm_"
    report = og.validate(conv, reference=pipe, data=X)  # was: "the data lacks ['sepal_length__cm_', ...]"
    assert report.passed
    with pytest.raises(InvalidDataError) as err:
        og.validate(conv, reference=pipe, data=X.drop(columns=["petal width (cm)"]))
    assert "lacks ['petal width (cm)' (input 'petal_width__cm_')]" in str(err.value)
    assert err.value.column == "petal width (cm)"


def test_a_header_differing_only_in_case_or_spaces_is_refused_naming_the_near_match(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # both name lists were shown, and the user was left to spot ' petal width (cm) ' beside 'petal width (cm)'
    from onnxgate.cli import main

    X, y = iris_frame()
    pipe = column_pipeline(X, y)
    conv = og.convert(pipe, X.head())
    header = X.rename(columns={"sepal length (cm)": "SEPAL LENGTH (CM)", "petal width (cm)": " petal width (cm) "})
    near = ("'SEPAL LENGTH (CM)' differs from 'sepal length (cm)' only in case; ' petal width (cm) ' differs from "
            "'petal width (cm)' only in surrounding spaces: rename the column(s) to the model's names")
    with pytest.raises(InvalidDataError, match="fitted on columns") as err:
        og.convert(pipe, header.head())
    assert near in str(err.value)
    with pytest.raises(InvalidDataError, match="lacks") as err:
        og.validate(conv, reference=pipe, data=header)
    assert near in str(err.value)
    monkeypatch.chdir(tmp_path)
    conv.save("model.onnx")
    header.to_parquet("rows.parquet")
    assert main(["score", "model.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 2
    assert near in capsys.readouterr().err
    with pytest.raises(InvalidDataError, match="lacks") as err:  # a name that is no near match: no hint
        og.validate(conv, reference=pipe, data=X.rename(columns={"petal width (cm)": "petal_w"}))
    assert "differs from" not in str(err.value)


def test_breast_cancer_and_wine_frames_validate() -> None:
    from sklearn.datasets import load_breast_cancer, load_wine

    for load in (load_wine, load_breast_cancer):
        X, y = load(as_frame=True, return_X_y=True)
        pipe = column_pipeline(X, y)
        conv = og.convert(pipe, X.head())
        assert conv.signature.columns.renamed
        assert og.validate(conv, reference=pipe, data=X).passed

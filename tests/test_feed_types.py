"""Values the model would take only by reinterpreting them are refused where data becomes feeds:
nulls (but for a floating-point input, where a null is NaN), dates, numbers for booleans, and (from
Arrow, where the type is known) text for numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from onnx import TensorProto, helper

from onnxgate._arrow import batch_feeds
from onnxgate._data import as_feeds
from onnxgate.columns import ColumnMap
from onnxgate.errors import InvalidDataError
from onnxgate.signature import Signature


def _signature(inputs: list[tuple[str, int, list[object]]], columns: ColumnMap | None = None) -> Signature:
    ins = [helper.make_tensor_value_info(name, elem, shape) for name, elem, shape in inputs]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    signature = Signature.from_model(helper.make_model(helper.make_graph([], "g", ins, [out])))
    if columns is None:
        return signature
    return Signature(inputs=signature.inputs, outputs=signature.outputs, columns=columns)


WIDE = _signature([("input", TensorProto.FLOAT, ["N", 3])])
COLUMNS = _signature([("x", TensorProto.DOUBLE, ["N", 1]), ("n", TensorProto.INT64, ["N", 1]),
                      ("s", TensorProto.STRING, ["N", 1])])


def _columns(**change: Any) -> pa.RecordBatch:
    arrays = {"x": pa.array([1.5, 2.5, 3.5]), "n": pa.array([1, 2, 3]), "s": pa.array(["a", "b", "c"]), **change}
    return pa.RecordBatch.from_pydict(arrays)


def test_numerals_as_text_feed_number_inputs_as_validate_reads_them() -> None:
    text = batch_feeds(_columns(x=pa.array([" 1.5", "+2", "3e0"]), n=pa.array(["1", " 2 ", "3"])), COLUMNS)
    numbers = batch_feeds(_columns(x=pa.array([1.5, 2.0, 3.0]), n=pa.array([1, 2, 3])), COLUMNS)
    for name in ("x", "n"):
        assert text[name].dtype == numbers[name].dtype and (text[name] == numbers[name]).all()


@pytest.mark.parametrize(
    ("batch", "signature", "message"),
    [
        # in og.validate's words (the first column that holds one)
        (_columns(x=pa.array([1.0, None, 3.0]), n=pa.array([None, 2, None]), s=pa.array(["a", None, "c"])), COLUMNS,
         r"column 'n' has 2 missing or non-finite value\(s\) but input 'n' is int64; fill or drop them first"),
        (_columns(s=pa.array(["a", None, "c"])), COLUMNS,
         r"column 's' has 1 missing or non-text value\(s\) but input 's' is string; fill them first"),
        (_columns(n=pa.array([1, None, 3])), COLUMNS,
         r"column 'n' has 1 missing or non-finite value\(s\) but input 'n' is int64; fill or drop"),
        (pa.RecordBatch.from_pydict({"flag": pa.array([True, None])}),
         _signature([("flag", TensorProto.BOOL, ["N", 1])]),
         r"column 'flag' has 1 missing or non-finite value\(s\) but input 'flag' is bool"),
        (_columns(x=pa.array(pd.to_datetime(["2020-01-01"] * 3))), COLUMNS,
         r"input 'x' expects float64; column 'x' is timestamp\[.s\]: cast it"),
        (_columns(x=pa.array([1, 2, 3], pa.duration("s"))), COLUMNS, r"column 'x' is duration\[s\]"),
        # text is read as validate reads it: plain decimal numerals only (see the test below)
        (_columns(x=pa.array(["1.5", "n/a", "3"]), n=pa.array(["1", "2", "3"])), COLUMNS,
         r"holds text \('n/a'\) but input 'x' is float64"),
        (_columns(x=pa.array(["low", "high", "low"]).dictionary_encode()), COLUMNS,
         r"holds text \('(low|high)'\) but input 'x' is float64"),
        (pa.RecordBatch.from_pydict({"a b": pa.array(pd.to_datetime(["2020-01-01"]))}),
         _signature([("a_b", TensorProto.FLOAT, ["N", 1])], ColumnMap.from_pairs([("a b", "a_b")])),
         r"input 'a_b' expects float32; column 'a b' is timestamp"),
    ],
    ids=["nulls-in-int-and-text-not-float", "null-in-text", "null-in-int", "null-in-bool", "timestamp-for-float",
         "duration-for-float", "text-for-numbers", "categories-for-float", "by-the-users-name"],
)
def test_batch_feeds_refuses_what_the_model_would_misread(batch: pa.RecordBatch, signature: Signature,
                                                          message: str) -> None:
    with pytest.raises(InvalidDataError, match=message):
        batch_feeds(batch, signature)


def test_batch_feeds_takes_a_nan_as_a_value_and_text_for_a_string_input() -> None:
    feeds = batch_feeds(_columns(x=pa.array(np.array([np.nan, 1.0, 2.0]))), COLUMNS)
    assert np.isnan(feeds["x"][0, 0]) and feeds["n"].dtype == np.int64 and list(feeds["s"].ravel()) == ["a", "b", "c"]
    floats = {"a": pa.array([1, 2], pa.int32()), "b": pa.array([1.0, 2.0]), "c": pa.array([1.0, 2.0], pa.float32())}
    assert batch_feeds(pa.RecordBatch.from_pydict(floats), WIDE)["input"].dtype == np.float32


def test_batch_feeds_reads_a_null_feeding_a_float_input_as_nan() -> None:
    """As pandas reads a Parquet float null (and writes a NaN: as a null)."""
    plain = {"a": pa.array([1.0, None, None], pa.float32()), "b": pa.array([1.0] * 3, pa.float32()),
             "c": pa.array([None] * 3)}  # all null: Arrow type null
    np.testing.assert_array_equal(batch_feeds(pa.RecordBatch.from_pydict(plain), WIDE)["input"],
                                  np.array([[1, 1, np.nan], [np.nan, 1, np.nan], [np.nan, 1, np.nan]], np.float32))
    for x in (pa.array([None, 2.0, 3.0]), pa.array([None, 2, 3]), pa.array([None, None, None])):
        feeds = batch_feeds(_columns(x=x), COLUMNS)
        assert feeds["x"].dtype == np.float64 and np.isnan(feeds["x"][0, 0]), x.type
        assert np.isnan(feeds["x"]).all() or list(feeds["x"][1:, 0]) == [2.0, 3.0]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pd.to_datetime(["2020-01-01", "2021-01-01"]), r"input 'x' expects float64; column 'x' is datetime64"),
        (pd.to_timedelta([1, 2], unit="s"), r"column 'x' is timedelta64"),
    ],
    ids=["datetime", "timedelta"],
)
def test_as_feeds_refuses_dates_for_numbers(column: Any, message: str) -> None:
    frame = pd.DataFrame({"x": column, "n": [1, 2], "s": ["a", "b"]})
    with pytest.raises(InvalidDataError, match=message):
        as_feeds(frame, COLUMNS)


def test_as_feeds_takes_booleans_for_a_boolean_input() -> None:
    signature = _signature([("flag", TensorProto.BOOL, ["N", 1])])
    assert as_feeds(pd.DataFrame({"flag": [True, False]}), signature)["flag"].dtype == np.bool_


def test_as_feeds_reads_booleans_for_an_integer_input_as_0_and_1() -> None:
    # onnxgate's SQL adaptation types a boolean column as bigint: the frame the model was fitted on
    # (booleans) must still validate against that model
    frame = pd.DataFrame({"x": [0.5, 1.5], "n": [True, False], "s": ["a", "b"]})
    feeds = as_feeds(frame, COLUMNS)
    assert feeds["n"].dtype == np.int64 and feeds["n"].ravel().tolist() == [1, 0]


def test_a_sql_adapted_model_validates_on_the_boolean_frame_it_was_fitted_on() -> None:
    xgboost = pytest.importorskip("xgboost")
    import onnxgate as og

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"size": rng.normal(size=200), "is big": rng.random(200) > 0.5})
    y = (X["size"] + X["is big"] > 0.7).astype(int)
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X, y)
    sql = og.convert(model, X[:5], target="sql-edge-2.0")
    assert sql.signature.input("is_big").elem_type == "int64"
    og.validate(sql, target="sql-edge-2.0", reference=model, data=X).raise_for_failures()


def test_a_sql_adapted_boolean_column_refuses_numbers_the_file_would_read_as_true() -> None:
    # the file casts the bigint column to bool, and so was the native model given the feeds: a column of 0/2,
    # which the model reads as 0 and 2, passed parity with every row of 2 read as 1 (helper-218)
    from sklearn.linear_model import LogisticRegression

    import onnxgate as og

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"member": rng.random(100) > 0.5, "x": rng.normal(size=100)})
    model = LogisticRegression().fit(X, (X["member"] + X["x"] > 0.5).astype(int))
    sql = og.convert(model, X, target="sql-edge-2.0")
    og.validate(sql, target="sql-edge-2.0", reference=model, data=X).raise_for_failures()
    twos = X.assign(member=X["member"].astype(int) * 2)
    assert (model.predict(twos) != model.predict(X)).any()  # the model reads 2 as another value than 1
    with pytest.raises(InvalidDataError, match=r"column\(s\) \['member'\] hold \d+ value\(s\) other than 0 and 1 "
                                               r"\(e.g. 2\), but input 'member' is boolean"):
        og.validate(sql, target="sql-edge-2.0", reference=model, data=twos)


@pytest.mark.parametrize("kind", ["csr_matrix", "csc_array"])
@pytest.mark.parametrize("target", ["onnxruntime", "sql-edge-2.0"])
def test_a_scipy_sparse_sample_and_data_read_as_their_dense_rows(kind: str, target: str) -> None:
    # a sparse sample was refused as "found shape []", and parity on sparse data could not run ("sparse array
    # length is ambiguous ... please report it") though LogisticRegression.predict takes it (helper-218)
    sparse = pytest.importorskip("scipy.sparse")
    from sklearn.linear_model import LogisticRegression

    import onnxgate as og
    from onnxgate import runtime

    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, (80, 4)).astype(float)
    model = LogisticRegression().fit(X, (X[:, 0] - X[:, 1] + rng.normal(size=80) > 0).astype(int))
    matrix = getattr(sparse, kind)(X)
    conv = og.convert(model, matrix, target=target)
    og.validate(conv, target=target, reference=model, data=matrix).raise_for_failures()
    feeds = as_feeds(X, conv.signature)
    label = runtime.session(conv.model.SerializeToString()).run(["label"], feeds)[0]
    np.testing.assert_array_equal(label.ravel(), model.predict(matrix))


def test_a_refused_column_is_named_as_the_user_named_it() -> None:
    from sklearn.linear_model import LinearRegression

    import onnxgate as og

    X = pd.DataFrame({"mag nesium": np.arange(20, dtype=np.int64), "b": np.linspace(0, 1, 20)})
    conv = og.convert(LinearRegression().fit(X, np.arange(20.0)), X[:5])
    bad = X.astype({"mag nesium": float})
    bad.loc[0, "mag nesium"] = 0.5
    with pytest.raises(InvalidDataError, match=r"column 'mag nesium' \(input 'mag_nesium'\) has fractional values"):
        og.validate(conv, data=bad)


@pytest.mark.parametrize("values", [[0, 1, 2], [0.0, 1.0, -7.0]], ids=["ints", "floats"])
def test_as_feeds_refuses_numbers_for_a_boolean_input(values: list[Any]) -> None:
    # numpy read 2 and -7 as true; score and the service refuse numbers for a bool input too
    signature = _signature([("flag", TensorProto.BOOL, ["N", 1])])
    with pytest.raises(InvalidDataError, match=r"input 'flag' expects bool; column 'flag' holds numbers"):
        as_feeds(pd.DataFrame({"flag": values}), signature)


def test_float32_rows_for_a_float64_input_raise_no_numpy_warning() -> None:
    # comparing float32's largest value with float64's overflowed to inf, and numpy's RuntimeWarning
    # ("overflow encountered in cast") reached every user feeding float32 data to a float64 model
    import warnings

    signature = _signature([("x", TensorProto.DOUBLE, ["N", 2])])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feeds = as_feeds(np.ones((3, 2), np.float32), signature)
    assert feeds["x"].dtype == np.float64


def test_a_nullable_column_reads_its_missing_values_as_nan_not_as_text() -> None:
    """A nullable 'boolean' or 'Int64' column holds pd.NA, which XGBoost and LightGBM read as missing: it was
    refused as 'text values ... convert the column to numbers'."""
    frame = pd.DataFrame({"flag": pd.array([True, None, False], dtype="boolean"),
                          "n": pd.array([1, 2, None], dtype="Int64")})
    float_inputs = _signature([("flag", TensorProto.FLOAT, ["N", 1]), ("n", TensorProto.FLOAT, ["N", 1])])
    feeds = as_feeds(frame, float_inputs)
    np.testing.assert_array_equal(feeds["flag"].ravel(), np.array([1.0, np.nan, 0.0], dtype=np.float32))
    np.testing.assert_array_equal(feeds["n"].ravel(), np.array([1.0, 2.0, np.nan], dtype=np.float32))
    bool_input = _signature([("flag", TensorProto.BOOL, ["N", 1])])
    with pytest.raises(InvalidDataError, match=r"has 1 missing or non-finite value\(s\) but input 'flag' is bool"):
        as_feeds(frame[["flag"]], bool_input)


@pytest.mark.parametrize(("elem", "held", "refused"), [
    (TensorProto.FLOAT, 3.4028235e38, 2.0**128 - 2.0**103),  # how numpy writes float32's maximum; the first to overflow
    (TensorProto.FLOAT16, 65519.0, 65520.0),
])
def test_a_value_that_rounds_to_the_largest_float_is_held(elem: int, held: float, refused: float) -> None:
    # "3.4028235e+38" from a CSV was refused as "would become infinite": it rounds to float32's maximum
    signature = _signature([("x", elem, ["N", 1])])
    feeds = as_feeds(np.array([[held], [-held]]), signature)
    assert np.isfinite(feeds["x"]).all()
    with pytest.raises(InvalidDataError, match="outside the range"):
        as_feeds(np.array([[refused]]), signature)


def test_a_column_of_arrays_feeds_one_wide_input() -> None:
    # a Parquet list<double> column holding the rows of one [N,4] input (what Spark and score take): validate
    # refused it as "found text values (cannot reshape array of size 600 into shape (150,1))"
    rows = np.arange(12, dtype=np.float64).reshape(3, 4)
    frame = pd.DataFrame({"input": list(rows)})
    feeds = as_feeds(frame, _signature([("input", TensorProto.FLOAT, ["N", 4])]))
    np.testing.assert_array_equal(feeds["input"], rows.astype(np.float32))
    ragged = pd.DataFrame({"input": [rows[0], rows[1][:3], rows[2]]})
    with pytest.raises(InvalidDataError, match=r"arrays differ in length \(\[3, 4\]\)"):
        as_feeds(ragged, _signature([("input", TensorProto.FLOAT, ["N", 4])]))


def test_a_boolean_column_feeds_a_float_input_as_0_and_1_in_validate_and_score_alike() -> None:
    # scikit-learn, XGBoost and LightGBM read a boolean column for a number feature as 0/1; a model fitted
    # on a nullable boolean column has a float input. validate read pandas' nullable "boolean" as 0/1/NaN
    # while score refused the same Parquet column ("is bool: cast it"); both read it now (found by helper-69)
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.25], "c": [True, False]})
    expected = [[1.0, 0.5, 1.0], [2.0, 0.25, 0.0]]
    assert as_feeds(frame, WIDE)["input"].tolist() == expected
    assert batch_feeds(pa.RecordBatch.from_pandas(frame, preserve_index=False), WIDE)["input"].tolist() == expected
    one = _signature([("c", TensorProto.FLOAT, ["N", 1])])
    nullable = pd.DataFrame({"c": pd.array([True, None, False], dtype="boolean")})
    from_pandas = as_feeds(nullable, one)["c"].ravel()
    from_arrow = batch_feeds(pa.RecordBatch.from_pandas(nullable, preserve_index=False), one)["c"].ravel()
    np.testing.assert_array_equal(from_pandas, np.array([1.0, np.nan, 0.0], dtype=np.float32))
    np.testing.assert_array_equal(from_arrow, from_pandas)


def test_integers_held_as_objects_feed_an_integer_input_exactly() -> None:
    # an object array of integers went through float64 for an int64 input: 2**53 + 1 became 2**53 (helper-142)
    signature = _signature([("input", TensorProto.INT64, ["N", 2])])
    rows = np.array([[2**53 + 1, True], [2**62 + 1, 7]], dtype=object)
    assert as_feeds(rows, signature)["input"].tolist() == [[2**53 + 1, 1], [2**62 + 1, 7]]
    frame = pd.DataFrame({"id": [2**53 + 1, 3], "x": [0.0, 1.0]})
    assert as_feeds(frame, signature)["input"].tolist() == [[2**53 + 1, 0], [3, 1]]
    with pytest.raises(InvalidDataError, match=r"column 'x' has fractional values but input 'input' is int64"):
        as_feeds(frame.assign(x=[0.5, 1.0]), signature)
    with pytest.raises(InvalidDataError, match=r"outside the range of int64"):
        as_feeds(np.array([[2**64 - 1, 0]], dtype=object), signature)


def test_as_feeds_takes_a_frame_of_numbered_columns_for_inputs_named_by_their_numbers() -> None:
    # pd.DataFrame(array) has the column labels 0, 1: inputs named '0', '1' (as LightGBM names a frame's numbered
    # columns, and as an MLflow package names its inputs) were looked up by the number, KeyError '0'
    signature = _signature([("0", TensorProto.DOUBLE, ["N", 1]), ("1", TensorProto.DOUBLE, ["N", 1])])
    feeds = as_feeds(pd.DataFrame(np.array([[1.0, 2.0], [3.0, 4.0]])), signature)
    assert feeds["0"].ravel().tolist() == [1.0, 3.0] and feeds["1"].ravel().tolist() == [2.0, 4.0]
    with pytest.raises(InvalidDataError, match=r"the column\(s\) \['0'\] twice"):
        as_feeds(pd.DataFrame({0: [1.0], "0": [2.0], 1: [3.0]}), signature)

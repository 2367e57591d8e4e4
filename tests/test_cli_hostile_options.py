"""Hostile but plausible command lines an outside reviewer (helper-134) found handled wrongly: an empty
``--option allow_nan=`` read as 'no input takes NaN', a tolerance given twice where the last won without a
word, a per-output tolerance package refused that validate takes, ``score --out`` paths that wrote Parquet
under another format's name or a file where a folder was asked for, nested list columns named as text, and
a list column that ended the SQL dry run in 'unexpected TransactionException'."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate.cli import main


@pytest.fixture(scope="module")
def holes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A HistGradientBoosting model (it routes NaN) fitted on iris with gaps, as files the CLI reads."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    X.loc[::7, "a"] = np.nan
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    folder = tmp_path_factory.mktemp("hostile_options")
    (folder / "m.pkl").write_bytes(pickle.dumps(model))
    X.to_csv(folder / "rows.csv", index=False)
    X.to_parquet(folder / "rows.parquet")
    og.convert(model, X).save(folder / "m.onnx")
    return {"folder": folder, "X": X, "model": model}


def _package(holes: dict[str, Any], out: str, *options: str) -> list[str]:
    f = holes["folder"]
    args = ["package", str(f / "m.onnx"), "-t", "container", "-o", out, "--reference", str(f / "m.pkl"),
            "--trust-pickle", "--data", str(f / "rows.csv")]
    for option in options:
        args += ["--option", option]
    return args


@pytest.mark.parametrize("value", ["", ",", " , "])
def test_an_empty_allow_nan_is_refused_not_read_as_no_input(holes: dict[str, Any], value: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # before: exit 0 and a package whose service refused NaN in every input (allow_nan_inputs []), where the
    # default takes it in the four inputs the model routes NaN in (--option allow_nan=$COLUMNS, unset)
    monkeypatch.chdir(tmp_path)
    assert main(_package(holes, "default")) == 0
    default = json.loads(Path("default/manifest.json").read_text())["service"]["allow_nan_inputs"]
    assert default == ["a", "b", "c", "d"]
    capsys.readouterr()
    assert main(_package(holes, "p", f"allow_nan={value}")) == 2
    err = capsys.readouterr().err
    assert "allow_nan expects true, false or input names" in err and "--option allow_nan=true" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not Path("p").exists()


def test_a_per_output_tolerance_is_taken_by_package_as_validate_takes_it(holes: dict[str, Any], tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # before: --option atol=probabilities=1e-6 was refused 'atol must be a number', while validate --atol
    # probabilities=1e-6 sets the tolerance of that output
    monkeypatch.chdir(tmp_path)
    assert main(_package(holes, "p", "atol=probabilities=1e-6")) == 0
    assert Path("p/manifest.json").exists()
    capsys.readouterr()
    assert main(_package(holes, "q", "rtol=nope=1e-3")) == 2
    err = capsys.readouterr().err
    assert "output 'nope', which the model does not have" in err and not Path("q").exists()
    assert main(_package(holes, "q", "atol=tight")) == 2
    err = capsys.readouterr().err
    assert "atol expects a number or OUTPUT=NUMBER, found atol='tight'" in err and "--option atol=1e-5" in err


@pytest.mark.parametrize("tolerances", [["1e-3", "1e-9"], ["probabilities=1e-3", "probabilities=1"]])
def test_a_tolerance_given_twice_is_refused(holes: dict[str, Any], tolerances: list[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # before: the last one won without a word (exit 0), as package --option given twice did (helper-130)
    monkeypatch.chdir(tmp_path)
    f = holes["folder"]
    args = ["validate", str(f / "m.onnx"), "--reference", str(f / "m.pkl"), "--trust-pickle", "--data",
            str(f / "rows.csv")]
    for tol in tolerances:
        args += ["--atol", tol]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--atol is given twice" in err and "give it once" in err, err
    # a default and one output's own are two settings, not one given twice
    assert main([*args[:-4], "--atol", "1e-3", "--atol", "probabilities=1e-3"]) == 0


@pytest.mark.parametrize(("out", "says"), [
    ("scored.csv", "names a .csv file, and score writes one Parquet file only"),
    ("scored.json", "names a .json file"),
    ("", "--out is empty"),
    ("new/", "names a folder, and score writes one Parquet file"),
])
def test_score_refuses_an_out_it_would_not_write_as_asked(holes: dict[str, Any], out: str, says: str,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # before: --out scored.csv wrote Parquet under a .csv name, --out new/ a file named 'new' (exit 0 both),
    # and --out '' was refused as "--out '' holds --data ...: writing it would delete that"
    monkeypatch.chdir(tmp_path)
    f = holes["folder"]
    assert main(["score", str(f / "m.onnx"), "--data", str(f / "rows.parquet"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rows", [lambda v: [[v]], lambda v: [v] * (1 + int(v > 1))],
                         ids=["nested", "ragged"])
def test_a_list_column_validate_cannot_read_is_named_as_arrays(holes: dict[str, Any], rows: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # before: "column 'd' must be numeric (float64) for input 'd', found text values (setting an array
    # element with a sequence.); convert the column to numbers": the column holds no text
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.chdir(tmp_path)
    X = holes["X"]
    table = pa.table({"a": X.a, "b": X.b, "c": X.c, "d": pa.array([rows(v) for v in X.d])})
    pq.write_table(table, "lists.parquet")
    f = holes["folder"]
    assert main(["validate", str(f / "m.onnx"), "--reference", str(f / "m.pkl"), "--trust-pickle",
                 "--data", "lists.parquet"]) == 2
    err = capsys.readouterr().err
    assert "found arrays it cannot read as rows of 1 number(s)" in err and "text" not in err, err


def test_a_list_column_in_the_dry_run_is_one_message_and_the_users_table_is_kept(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch,
                                                                               capsys: pytest.CaptureFixture[str]
                                                                               ) -> None:
    # before: "unexpected TransactionException: TransactionContext Error: Current transaction is aborted
    # (please ROLLBACK) (... please report it)": unregistering the rows after the failed INSERT raised in the
    # aborted transaction and hid the load error
    pytest.importorskip("duckdb")
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    monkeypatch.chdir(tmp_path)
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    model = LogisticRegression(max_iter=500).fit(X, y)
    og.package(og.convert(model, X, target="sql-edge-2.0"), target="sql-edge-2.0", out="sql", reference=model,
               data=X)
    X.to_csv("rows.csv", index=False)
    assert main(["sql-dryrun", "sql", "--data", "rows.csv", "--database", "mine.duckdb"]) == 0
    pq.write_table(pa.table({"a": X.a, "b": X.b, "c": X.c, "d": pa.array([[v] for v in X.d])}), "lists.parquet")
    capsys.readouterr()
    assert main(["sql-dryrun", "sql", "--data", "lists.parquet", "--database", "mine.duckdb", "--force"]) == 2
    err = capsys.readouterr().err
    assert "cannot load the rows into table" in err and "column d" in err and "no lists or structs" in err, err
    assert "unexpected" not in err and "please report" not in err and len(err.strip().splitlines()) == 1
    con = duckdb.connect("mine.duckdb")
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        (table,) = tables
        assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone() == (150,)
    finally:
        con.close()


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LogisticRegression on iris as files: ``rows`` fitted on an array (one input of 4 columns, fed a whole
    frame), ``columns`` on a frame of columns a-d (one input per column); each as .onnx and .pkl."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("column_types")
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    for name, rows in (("rows", X.to_numpy()), ("columns", X)):
        model = LogisticRegression(max_iter=500).fit(rows, y)
        (folder / f"{name}.pkl").write_bytes(pickle.dumps(model))
        og.convert(model, rows).save(folder / f"{name}.onnx")
    return folder


def _typed_column(kind: str, n: int) -> Any:
    import datetime

    import pyarrow as pa

    start = datetime.datetime(2024, 1, 1)
    return {
        "timestamp": lambda: pa.array([start + datetime.timedelta(hours=i) for i in range(n)], pa.timestamp("us")),
        "timestamp-tz": lambda: pa.array([start + datetime.timedelta(hours=i) for i in range(n)],
                                         pa.timestamp("us", tz="UTC")),
        "date": lambda: pa.array([start.date()] * n, pa.date32()),
        "struct": lambda: pa.array([{"cm": 3.5, "unit": 1}] * n),
        "map": lambda: pa.array([[("cm", 3.5)]] * n, pa.map_(pa.string(), pa.float64())),
        "map-empty": lambda: pa.array([[]] * n, pa.map_(pa.string(), pa.float64())),
        "map-null": lambda: pa.array([None] * n, pa.map_(pa.string(), pa.float64())),
    }[kind]()


@pytest.mark.parametrize(("command", "kind", "model", "says"), [
    ("validate", "timestamp", "rows", "column 'b' is datetime64[us]: cast it to the input's type first"),
    ("validate", "timestamp-tz", "rows", "column 'b' is datetime64[us, UTC]: cast it to the input's type first"),
    ("validate", "timestamp-tz", "columns", "column 'b' is datetime64[us, UTC]: cast it to the input's type first"),
    ("validate", "date", "rows", "column 'b' holds datetime.date values: cast it to the input's type first"),
    ("validate", "date", "columns", "column 'b' holds datetime.date values: cast it to the input's type first"),
    ("validate", "struct", "rows", "column 'b' is a struct (dict values): flatten it first"),
    ("validate", "struct", "columns", "column 'b' is a struct (dict values): flatten it first"),
    ("score", "struct", "rows", "column 'b' is struct<cm: double, unit: int64>: flatten it first"),
    ("score", "struct", "columns", "column 'b' is struct<cm: double, unit: int64>: flatten it first"),
    # before: validate said "the data holds arrays (a list column) among other columns" (rows) and "found arrays it
    # cannot read as rows of 1 number(s) (could not convert string to float: 'cm')" (columns); score named the type
    # "map<string, double ('b')>" and gave a struct's fix, struct_field, which fails on a map
    ("validate", "map", "rows", "column 'b' is map<string, double>: take the number the model reads out of it "
                                "first, into a column of its own (a key's value: pyarrow.compute.map_lookup("),
    ("validate", "map", "columns", "input 'b' expects float64; column 'b' is map<string, double>: take the number"),
    ("score", "map", "rows", "column 'b' is map<string, double>: take the number the model reads out of it first"),
    ("score", "map", "columns", "column 'b' is map<string, double>: take the number the model reads out of it"),
    # before: a map column of empty maps was "input 'b' expects 1 values per row [?,1], column 'b' has 0 (shape
    # [150, 0])", one of null maps "the reference model failed ... b=nan": validate named no map where score did
    ("validate", "map-empty", "columns", "input 'b' expects float64; column 'b' is map<string, double>: take the"),
    ("validate", "map-empty", "rows", "column 'b' is map<string, double>: take the number the model reads out"),
    ("validate", "map-null", "columns", "input 'b' expects float64; column 'b' is map<string, double>: take the"),
    ("score", "map-empty", "columns", "column 'b' is map<string, double>: take the number the model reads out of"),
], ids=lambda v: v if v in ("validate", "score", "rows", "columns") or "column 'b'" not in v else "")
def test_a_date_or_struct_column_is_named_by_its_type(iris_files: Path, command: str, kind: str, model: str,
                                                      says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # before: validate said "the data must be numeric (float64) for input 'input', found text values (float()
    # argument must be a string or a real number, not 'Timestamp'); convert the column to numbers" (or 'dict',
    # 'datetime.date'), and score the same of a struct: the column holds no text, and score named a timestamp
    # column's type ("is timestamp[us]: cast it")
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_iris

    monkeypatch.chdir(tmp_path)
    X = load_iris().data
    pq.write_table(pa.table({"a": X[:, 0], "b": _typed_column(kind, len(X)), "c": X[:, 2], "d": X[:, 3]}),
                   "rows.parquet")
    onnx = str(iris_files / f"{model}.onnx")
    reference = str(iris_files / f"{model}.pkl")
    args = (["validate", onnx, "--reference", reference, "--trust-pickle"] if command == "validate"
            else ["score", onnx, "--out", "scored.parquet"])
    assert main([*args, "--data", "rows.parquet"]) == 2
    err = capsys.readouterr().err
    assert says in err and "text values" not in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.parquet"]


def test_a_map_column_in_the_dry_run_is_named_by_its_type(iris_files: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # before: "unexpected ArrowTypeError: Expected bytes, got a 'float' object (rerun with --debug for the traceback,
    # and please report it)": pandas' lists of (key, value) pairs reached pyarrow as the table's column
    pytest.importorskip("duckdb")
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_iris

    monkeypatch.chdir(tmp_path)
    X, _ = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["a", "b", "c", "d"]
    model = pickle.loads((iris_files / "columns.pkl").read_bytes())
    og.package(og.convert(model, X, target="sql-edge-2.0"), target="sql-edge-2.0", out="sql", reference=model,
               data=X)
    pq.write_table(pa.table({"a": X.a, "b": _typed_column("map", len(X)), "c": X.c, "d": X.d}), "rows.parquet")
    assert main(["sql-dryrun", "sql", "--data", "rows.parquet"]) == 2
    err = capsys.readouterr().err
    assert "column 'b' is map<string, double>: take the number the model reads out of it first" in err, err
    assert "unexpected" not in err and len(err.strip().splitlines()) == 1

@pytest.fixture(scope="module")
def imputed_text(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A pipeline imputing missing text (SimpleImputer, whose missing value is NaN) before a one-hot encoder, fitted
    on a frame whose text column 'color' holds NaN in 43 of 300 rows; as m.onnx and m.pkl, with the frame."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    color = pd.Series([np.nan if i % 7 == 0 else c for i, c in enumerate(rng.choice(["red", "green", "blue"], 300))],
                      dtype=object)
    frame = pd.DataFrame({"color": color, "size": rng.normal(size=300)})
    text = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    model = Pipeline([("ct", ColumnTransformer([("c", text, ["color"])], remainder="passthrough")),
                      ("clf", LogisticRegression())]).fit(frame, (frame["color"] == "red") ^ (frame["size"] > 0))
    folder = tmp_path_factory.mktemp("imputed_text")
    conv = og.convert(model, frame.head(20))
    conv.save(folder / "m.onnx")
    (folder / "m.pkl").write_bytes(pickle.dumps(model))
    return {"folder": folder, "frame": frame, "model": model, "conv": conv}


#: What validate and score say of a pandas 'string' column's 43 missing values (pd.NA) for a model reading only NaN.
PD_NA_SAYS = ("column 'color' has 43 pd.NA value(s) (the missing value of a pandas 'string' column",
              "to scikit-learn pd.NA is not NaN",
              "Make them NaN: column.astype(object).where(column.notna(), numpy.nan)")


def _as_nan(column: Any) -> Any:
    """The fix the refusal gives, applied."""
    return column.astype(object).where(column.notna(), np.nan)


@pytest.mark.parametrize("command", ["validate", "score"])
def test_a_pandas_string_columns_missing_values_are_named_pd_na_with_the_fix_that_holds(
        imputed_text: dict[str, Any], command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # before: "column 'color' has 43 None value(s) ... Write missing text as NaN (column.where(column.notna(),
    # np.nan), or pandas' str dtype)": the file holds no None, and that where() writes pd.NA again in a 'string'
    # column (pandas' metadata in the Parquet file makes pandas read it as one); the refusal's own fix now passes
    monkeypatch.chdir(tmp_path)
    folder, frame = imputed_text["folder"], imputed_text["frame"]
    frame.assign(color=frame["color"].astype("string")).to_parquet("rows.parquet")
    args = ([command, str(folder / "m.onnx"), "--reference", str(folder / "m.pkl"), "--trust-pickle"]
            if command == "validate" else [command, str(folder / "m.onnx"), "--out", "scored.parquet"])
    assert main([*args, "--data", "rows.parquet"]) == 2
    err = capsys.readouterr().err
    assert all(part in err for part in PD_NA_SAYS) and "None value" not in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.parquet"]
    import pandas as pd

    read = pd.read_parquet("rows.parquet")
    read.assign(color=_as_nan(read["color"])).to_parquet("rows.parquet")
    assert main([*args, "--data", "rows.parquet"]) == 0, capsys.readouterr().err


def test_pd_na_in_a_frame_is_named_so_and_none_beside_it_counted_apart(imputed_text: dict[str, Any]) -> None:
    conv, model, frame = imputed_text["conv"], imputed_text["model"], imputed_text["frame"]
    string = frame.assign(color=frame["color"].astype("string"))
    with pytest.raises(og.InvalidDataError) as err:
        og.validate(conv, reference=model, data=string)
    assert all(part in str(err.value) for part in PD_NA_SAYS), str(err.value)
    mixed = string.assign(color=string["color"].astype(object))  # pd.NA objects, and None in 7 of those rows
    mixed.loc[mixed.index[::49], "color"] = None
    with pytest.raises(og.InvalidDataError, match=r"'color' has 36 pd\.NA value\(s\) \(the missing value of a "
                                                 r"pandas 'string' column, [^)]*\) and 7 None value\(s\), but"):
        og.validate(conv, reference=model, data=mixed)
    assert og.validate(conv, reference=model, data=string.assign(color=_as_nan(string["color"]))).passed

"""The DuckDB dry run: the package's PREDICT query, run for real in an embedded SQL engine."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _sql_models import HOSTILE, mlp, run

import onnxgate as og
from onnxgate.api import adapt
from onnxgate.cli import main
from onnxgate.errors import InvalidDataError, PackagingError

duckdb = pytest.importorskip("duckdb", reason="the dry run needs duckdb")
dry = pytest.importorskip("onnxgate.deploy.duckdb_dryrun")

X = np.random.default_rng(3).normal(size=(300, 10)).astype(np.float32)
NAMES = [f"f{i}" for i in range(10)]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sql") / "pkg"
    og.package(adapt(mlp(12, outputs=3), "sql-edge-2.0"), target="sql-edge-2.0", out=out, model_name="demo")
    return out


def test_dry_run_mirrors_predict_and_matches_onnxruntime(package: Path) -> None:
    result = dry.dry_run(package, {n: X[:, i] for i, n in enumerate(NAMES)}, rows=5)
    assert result.passed
    assert result.rows == len(X)
    assert result.columns == [*NAMES, "label", "output_0", "output_1", "output_2"]
    assert len(result.head) == 5
    assert result.direct == {"label": 0.0, "output_0": 0.0, "output_1": 0.0, "output_2": 0.0}
    assert "CAST(d.\"label\" AS BIGINT)" in result.query and "PREDICT(DATA = \"demo_input\"" in result.query
    # the rows come back in table order with the model's predictions
    expected = run(mlp(12, outputs=3), {"input": X})
    np.testing.assert_array_equal(result.result.column("label").to_numpy(), expected[0])
    np.testing.assert_array_equal(result.result.column("output_1").to_numpy(), expected[1][:, 1])
    text = str(result)
    assert "300 rows scored" in text and text.endswith("PASSED")


def test_reference_comparison_passes_for_the_model_and_fails_for_another(package: Path) -> None:
    data = {n: X[:, i] for i, n in enumerate(NAMES)}
    good = dry.dry_run(package, data, reference=mlp(12, outputs=3))
    assert good.passed and len(good.reference) == 4 and all(line.startswith("ok") for line in good.reference)
    bad = dry.dry_run(package, data, reference=mlp(12, outputs=3, seed=9))
    assert not bad.passed
    assert any(line.startswith("FAILED") and "'output_0'" in line for line in bad.reference)


def test_a_reference_that_fails_on_the_rows_is_the_input_error_validate_gives(package: Path) -> None:
    # it was "unexpected ValueError ... please report it"
    data = {n: X[:, i] for i, n in enumerate(NAMES)}

    def refuses_row_4(feeds: Any) -> Any:
        if (np.asarray(next(iter(feeds.values()))).ravel() == X[4, 0]).any():  # the column of f0
            raise ValueError("Input X contains infinity.")
        return run(mlp(12, outputs=3), feeds)

    says = (r"the reference model failed on rows 0\.\.299 \(first at row 4\) of the data: ValueError: Input X "
            r"contains infinity; nothing was compared")
    with pytest.raises(InvalidDataError, match=says):
        dry.dry_run(package, data, reference=refuses_row_4)


def test_a_column_type_that_differs_from_the_model_fails_like_predict(package: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidDataError, match=(
            r"The type of model column 'f3' is 'real'\. Doesn't match the input column type "
            r"\('float' in table 'demo_input'\)")):
        dry.dry_run(package, X, table_types={"f3": "float"})
    # the same when the user edits the script the package ships
    edited = tmp_path / "edited"
    edited.mkdir()
    for item in package.iterdir():
        (edited / item.name).write_bytes(item.read_bytes())
    script = edited / "03_create_input_table.sql"
    script.write_text(script.read_text().replace("[f0] real", "[f0] bigint"))
    with pytest.raises(InvalidDataError, match=r"model column 'f0' is 'real'.*\('bigint' in table"):
        dry.dry_run(edited, X)


def test_a_package_whose_target_mapped_an_input_to_another_type_fails_like_predict(package: Path,
                                                                                   tmp_path: Path) -> None:
    """A target file mapping float32 to float (the type the Synapse documentation declares for a float32 output)
    wrote float input columns and the same type in manifest.json, and the dry run, comparing the table with the
    manifest, passed a package the database refuses: PREDICT reads a float32 input from a real column only."""
    import json

    old = tmp_path / "old"
    old.mkdir()
    for item in package.iterdir():
        (old / item.name).write_bytes(item.read_bytes())
    script = old / "03_create_input_table.sql"
    script.write_text(script.read_text().replace(" real NOT NULL", " float NOT NULL"))
    manifest = json.loads((old / "manifest.json").read_text())
    for spec in manifest["sql"]["inputs"]:
        spec["sql_type"] = "float"
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidDataError, match=(
            r"The type of model column 'f0' is 'real'\. Doesn't match the input column type \('float' in table")):
        dry.dry_run(old, X)


def test_data_without_a_model_column_is_refused(package: Path) -> None:
    with pytest.raises(InvalidDataError, match=r"the data lacks the columns \['f9'\]"):
        dry.dry_run(package, {n: X[:, i] for i, n in enumerate(NAMES[:9])})


def test_a_negative_row_count_to_print_is_refused(package: Path) -> None:
    with pytest.raises(InvalidDataError, match=r"rows: expected 0 or more rows to print, found -1"):
        dry.dry_run(package, X, rows=-1)


def test_an_empty_or_nan_cell_is_refused_as_the_not_null_table_would(package: Path) -> None:
    rows = X[:20].copy()
    rows[7, 3] = np.nan
    with pytest.raises(InvalidDataError, match=r"column 'f3' is empty or NaN in 1 row\(s\) \(first: row 7\)"):
        dry.dry_run(package, rows)
    # an infinity was scored (NaN probabilities) and PASSED; a scikit-learn reference crashed on it
    rows[7, 3] = 1.0
    rows[[4, 9], 1] = [np.inf, -np.inf]
    with pytest.raises(InvalidDataError, match=r"column 'f1' holds infinity in 2 row\(s\) \(first: row 4\)"):
        dry.dry_run(package, rows)


def test_a_folder_that_is_not_a_sql_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="is not a SQL package"):
        dry.dry_run(tmp_path, X)


@pytest.mark.parametrize("damage", ["manifest-not-json", "manifest-a-list", "model-swapped"])
def test_a_damaged_package_is_refused_naming_the_file(package: Path, tmp_path: Path, damage: str) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    if damage == "manifest-not-json":
        (copy / "manifest.json").write_text("{")
        match = r"manifest.json' is not readable JSON"
    elif damage == "manifest-a-list":
        (copy / "manifest.json").write_text("[]")
        match = r"manifest.json' is a JSON list: expected the manifest 'onnxgate package' writes for a SQL target"
    else:
        (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes() + b"\x00")
        match = r"model.onnx' is not the model this package was validated with"
    with pytest.raises(PackagingError, match=match):
        dry.dry_run(copy, X)


def test_a_database_file_keeps_the_table(package: Path, tmp_path: Path) -> None:
    db = tmp_path / "rows.duckdb"
    dry.dry_run(package, X, database=db)
    con = duckdb.connect(str(db))
    try:
        assert con.execute('SELECT count(*) FROM "demo_input"').fetchone() == (len(X),)
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'demo_input'").fetchall())
    finally:
        con.close()
    assert types["f0"] == "FLOAT"


def test_the_result_is_the_whole_mirrored_statement_run_by_duckdb(package: Path, tmp_path: Path) -> None:
    import onnxruntime as ort
    import pyarrow as pa

    # DuckDB casts the scored outputs and the input columns are the ones it fetched: the statement the dry
    # run shows, run whole over the table's rows beside the packaged model's outputs, gives the same table
    db = tmp_path / "rows.duckdb"
    result = dry.dry_run(package, X, database=db)
    session = ort.InferenceSession(str(package / "model.onnx"), providers=["CPUExecutionProvider"])
    con = duckdb.connect(str(db))
    try:
        rows = con.sql('SELECT * FROM "demo_input"').to_arrow_table()
        outs = session.run(None, {n: rows.column(n).to_numpy().reshape(-1, 1) for n in NAMES})
        names = [o.name for o in session.get_outputs()]
        con.register(dry.SCORED_VIEW, pa.table({**{n: rows.column(n) for n in NAMES},
                                                **{n: o.reshape(-1) for n, o in zip(names, outs)}}))
        whole = con.sql(result.query).to_arrow_table()
    finally:
        con.close()
    assert whole.equals(result.result)


def test_a_table_already_in_the_database_is_not_replaced_unless_asked(package: Path, tmp_path: Path) -> None:
    from onnxgate.errors import OutputExistsError

    db = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(db))
    con.execute('CREATE TABLE "demo_input" (note VARCHAR)')
    con.execute("INSERT INTO \"demo_input\" VALUES ('precious')")
    con.close()
    with pytest.raises(OutputExistsError, match=r"already has a table 'demo_input'.*--force"):
        dry.dry_run(package, X, database=db)
    con = duckdb.connect(str(db))
    try:
        assert con.execute('SELECT * FROM "demo_input"').fetchall() == [("precious",)]
    finally:
        con.close()
    assert dry.dry_run(package, X, database=db, replace=True).passed


def test_a_file_that_is_not_a_duckdb_database_is_an_input_error(package: Path, tmp_path: Path) -> None:
    text = tmp_path / "rows.csv"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidDataError, match=r"cannot open .* as a DuckDB database"):
        dry.dry_run(package, X, database=text)
    assert text.read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("CREATE TABLE [dbo].[t] ([a] real NOT NULL, [b] float, [c] int, [d] bigint, [e] nvarchar(max))",
         {"a": "real", "b": "float", "c": "int", "d": "bigint", "e": "nvarchar(max)"}),
        (f"-- c\nCREATE TABLE [{HOSTILE.replace(']', ']]')}] (\n  [{HOSTILE.replace(']', ']]')}] float(24) NULL,"
         " /* x, y */ [n] decimal(10, 2) NOT NULL, [p] double  precision, [q] nvarchar ( 20 ))",
         {HOSTILE: "float(24)", "n": "decimal(10,2)", "p": "double precision", "q": "nvarchar(20)"}),
    ],
    ids=["types", "hostile-and-comments"],
)
def test_table_types_are_read_as_written(script: str, expected: dict[str, str]) -> None:
    assert dry.table_types_from_script(script) == expected


@pytest.mark.parametrize(("sql", "base"), [("float(24)", "real"), ("float(53)", "float"), ("FLOAT", "float"),
                                            ("nvarchar(max)", "nvarchar"), ("integer", "int")])
def test_tsql_type_synonyms(sql: str, base: str) -> None:
    assert dry._base_type(sql) == base


def test_cli_sql_dryrun_exit_codes(package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "rows.npy"
    np.save(data, X[:20])
    assert main(["sql-dryrun", str(package), "--data", str(data), "--rows", "2"]) == 0
    out = capsys.readouterr().out
    assert "20 rows scored" in out and "PASSED" in out
    assert main(["sql-dryrun", str(tmp_path), "--data", str(data)]) == 2
    assert "is not a SQL package" in capsys.readouterr().err
    np.save(tmp_path / "narrow.npy", X[:20, :3])
    assert main(["sql-dryrun", str(package), "--data", str(tmp_path / "narrow.npy")]) == 2


def _pytorch_ok() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _keras_ok() -> bool:
    try:
        import keras  # noqa: F401
    except ImportError:
        return False
    return True


E2E = [
    pytest.param("sklearn-wine-columntransformer", id="sklearn-dataframe-int-and-float"),
    pytest.param("sklearn-iris-logreg", id="sklearn-classifier"),
    pytest.param("pytorch-diabetes-mlp", id="pytorch-mlp",
                 marks=pytest.mark.skipif(not _pytorch_ok(), reason="torch is not installed")),
    pytest.param("keras-diabetes-dense", id="keras-dense",
                 marks=pytest.mark.skipif(not _keras_ok(), reason="keras is not installed")),
]


@functools.cache
def _build(name: str) -> tuple[Any, Any, Any]:
    return og.zoo.get(name).build()  # train once for both targets


@pytest.mark.slow
@pytest.mark.parametrize("target", ["sql-edge-2.0", "sql-edge-1.0"])
@pytest.mark.parametrize("name", E2E)
def test_end_to_end_convert_validate_package_dry_run(name: str, target: str, tmp_path: Path) -> None:
    entry = og.zoo.get(name)
    model, data, _ = _build(name)
    rows: Any = data.iloc[:120] if hasattr(data, "iloc") else data[:120]
    conv = og.convert(model, rows, target=target)
    caps = og.targets.get(target).max_opset or {}
    assert conv.opsets[""] <= caps[""]
    assert all(s.shape is not None and s.shape[1:] == (1,) for s in conv.signature.inputs)
    if entry.task == "classification":
        assert conv.signature.output_names[0] == "label"
        assert all(n.startswith("p_") for n in conv.signature.output_names[1:])
    report = og.validate(conv, target, reference=model, data=rows, atol=entry.atol, rtol=entry.rtol)
    assert report.passed, str(report)
    out = og.package(conv, target=target, out=tmp_path / "pkg")
    result = dry.dry_run(out, rows, reference=model, atol=entry.atol, rtol=entry.rtol)
    assert result.passed, str(result)
    assert result.rows == len(rows)
    assert result.columns == conv.signature.input_names + conv.signature.output_names


def test_dataframe_columns_that_are_not_sql_names_are_renamed_and_still_scored(tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.DataFrame({"age (years)": X[:, 0].astype(np.float64), "bmi": X[:, 1].astype(np.float64),
                          "visits": np.arange(len(X), dtype=np.int64) % 7})
    scale = ColumnTransformer([("scale", StandardScaler(), list(frame.columns))])
    model = Pipeline([("prep", scale), ("fit", LinearRegression())]).fit(frame, X[:, 2])
    conv = og.convert(model, frame, target="sql-edge-2.0")
    assert conv.signature.input_names == ["age__years_", "bmi", "visits"]
    assert og.validate(conv, "sql-edge-2.0").passed  # the conversion's sample follows the new names
    out = og.package(conv, target="sql-edge-2.0", out=tmp_path / "pkg")
    assert "[age__years_] float NOT NULL" in (out / "03_create_input_table.sql").read_text()
    result = dry.dry_run(out, frame, reference=model)  # the original column names still load
    assert result.passed, str(result)


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A SQL package of a model with a float and a bigint input, fitted on columns that are not SQL names."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.DataFrame({"age (years)": X[:, 0].astype(np.float64),
                          "visits (count)": np.arange(len(X), dtype=np.int64) % 7})
    scale = ColumnTransformer([("scale", StandardScaler(), list(frame.columns))])
    model = Pipeline([("prep", scale), ("fit", LinearRegression())]).fit(frame, X[:, 2])
    out = tmp_path_factory.mktemp("counts") / "pkg"
    og.package(og.convert(model, frame, target="sql-edge-2.0"), target="sql-edge-2.0", out=out)
    return out, frame


#: case id -> (the bigint column as the user gives it, what the message must say)
CHANGED_BY_THE_LOAD: dict[str, tuple[Any, str]] = {
    "fractional": (lambda v: v + 0.7, r"column 'visits \(count\)' \(input 'visits__count_'\) has fractional values"
                                      r" but input 'visits__count_' is int64; round them"),
    "text": (lambda v: "n" + v.astype(str), r"column 'visits \(count\)' .*holds text \('n0'\).*a number was expected"),
    "out-of-range": (lambda v: v.astype(np.float64) * 1e19, r"'visits \(count\)' .* outside the range of int64"),
    "infinity": (lambda v: v.where(v > 0, np.inf), r"'visits \(count\)' .* holds infinity in"),
    "dates": (lambda v: pd.to_datetime(v), r"column 'visits \(count\)' is datetime64\[ns\]: cast it"),
}


@pytest.mark.parametrize("case", list(CHANGED_BY_THE_LOAD))
def test_values_the_table_would_hold_as_others_are_refused_naming_the_users_column(
        counts: tuple[Path, Any], case: str) -> None:
    """Loading casts 127.7 to a bigint column as 128: the dry run would pass on rows that are not the
    user's, so they are refused before the load, as onnxgate validate refuses them."""
    package, frame = counts
    change, says = CHANGED_BY_THE_LOAD[case]
    with pytest.raises(InvalidDataError, match=says):
        dry.dry_run(package, frame.assign(**{"visits (count)": change(frame["visits (count)"])}))


@pytest.mark.parametrize("change", [
    pytest.param(lambda v: v.astype(np.float64), id="whole-floats"),
    pytest.param(lambda v: v.astype(str), id="numeric-text"),
    # onnxgate's SQL adaptation types a boolean column as bigint: the frame a model was fitted on loads
    pytest.param(lambda v: v > 3, id="booleans-as-0-and-1"),
])
def test_values_the_table_holds_as_they_are_still_load(counts: tuple[Path, Any], change: Any) -> None:
    package, frame = counts
    given = change(frame["visits (count)"])
    result = dry.dry_run(package, frame.assign(**{"visits (count)": given}))
    assert result.passed, str(result)
    assert result.result.column("visits__count_").to_pylist() == given.astype(np.float64).astype(np.int64).tolist()


def test_cli_fractional_values_for_a_bigint_input_are_exit_2_before_the_load(
        counts: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package, frame = counts
    rows, db = tmp_path / "rows.csv", tmp_path / "rows.duckdb"
    frame.assign(**{"visits (count)": frame["visits (count)"] + 0.7}).to_csv(rows, index=False)
    assert main(["sql-dryrun", str(package), "--data", str(rows), "--database", str(db)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured
    assert "'visits (count)'" in captured.err and "fractional values" in captured.err, captured.err
    assert "round them" in captured.err and not db.exists()


def _one_column_model(x_shape: list[Any], y_shape: list[Any], *, sum_rows: bool) -> Any:
    from onnx import TensorProto, helper

    node = (helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1, axes=[0]) if sum_rows
            else helper.make_node("Identity", ["x"], ["y"]))
    graph = helper.make_graph([node], "rows", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    return model


def _package_holding(model: Any, out: Path) -> Path:
    """A package whose model.onnx is ``model``, as a package written before the SQL row rules were checked:
    ``onnxgate package`` refuses such a model now, so a good one is packaged and its model swapped."""
    import hashlib
    import json

    og.package(_one_column_model(["N", 1], ["N", 1], sum_rows=False), target="sql-edge-2.0", out=out)
    data = model.SerializeToString()
    (out / "model.onnx").write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["model"]["sha256"] = hashlib.sha256(data).hexdigest()
    insert = out / "02_insert_model.sql"  # the database's copy of the model too, as such a package held it
    text = re.sub(r"(?m)^(\s*)0x[0-9A-F]+,$", lambda m: f"{m.group(1)}0x{data.hex().upper()},", insert.read_text())
    insert.write_text(text)
    manifest["sql"]["model_scripts_sha256"]["02_insert_model.sql"] = hashlib.sha256(text.encode()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


ROWS = np.arange(5, dtype=np.float32).reshape(5, 1)


@pytest.mark.parametrize(
    ("x_shape", "y_shape", "sum_rows", "match"),
    [
        (["N", 1], [1, 1], True,
         r"for a batch of 5 rows, output\(s\) 'y' returned shape \[1, 1\], not one value per input row"),
        ([5, 1], [5, 1], False,
         r"onnxruntime fails on a batch of 3 rows: .*Got invalid dimensions for input: x .*Got: 3 Expected: 5"),
    ],
    ids=["output-sums-the-batch", "input-fixed-to-five-rows"],
)
def test_a_model_without_one_row_per_input_row_is_a_clear_error(
    tmp_path: Path, x_shape: list[Any], y_shape: list[Any], sum_rows: bool, match: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    package = _package_holding(_one_column_model(x_shape, y_shape, sum_rows=sum_rows), tmp_path / "pkg")
    rows = ROWS if sum_rows else ROWS[:3]
    with pytest.raises(PackagingError, match=match) as info:
        dry.dry_run(package, {"x": rows[:, 0]})
    assert "PREDICT returns one row per table row" in str(info.value)
    assert "outputs_one_value_per_row" in str(info.value)
    np.save(tmp_path / "rows.npy", rows)
    assert main(["sql-dryrun", str(package), "--data", str(tmp_path / "rows.npy")]) == 2
    err = capsys.readouterr().err
    assert "the packaged model cannot score the table" in err
    assert "unexpected" not in err and "please report it" not in err


def test_a_later_batch_with_the_wrong_rows_is_the_same_clear_error(tmp_path: Path, monkeypatch: Any) -> None:
    from onnx import TensorProto, helper, numpy_helper

    # always 2 rows: right for the first 2-row batch, which is scored before DuckDB runs the query, wrong
    # for the last 1-row batch, which is scored while DuckDB reads the stream
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=1, axes=[0]),
         helper.make_node("Expand", ["s", "two"], ["y"])], "two_rows",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1])],
        initializer=[numpy_helper.from_array(np.array([2, 1], dtype=np.int64), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    package = _package_holding(model, tmp_path / "pkg")
    monkeypatch.setattr(dry, "BATCH_ROWS", 2)
    with pytest.raises(PackagingError, match=r"for a batch of 1 rows, output\(s\) 'y' returned shape \[2, 1\]"):
        dry.dry_run(package, {"x": ROWS[:, 0]})


def test_a_model_of_one_row_columns_is_scored_row_by_row_as_predict_does(tmp_path: Path) -> None:
    # [1,1] per column is the form of the SQL targets' own samples: onnxruntime refused 5 rows at once
    # ("Got: 5 Expected: 1") and the dry run failed a model PREDICT scores
    model = _one_column_model([1, 1], [1, 1], sum_rows=False)
    assert og.validate(model, target="sql-edge-2.0").passed
    package = og.package(model, target="sql-edge-2.0", out=tmp_path / "pkg")
    result = dry.dry_run(package, {"x": ROWS[:, 0]})
    assert result.passed, str(result)
    assert result.result.column("y").to_pylist() == ROWS[:, 0].tolist()


def _batch_dependent() -> Any:
    """y = x - mean(x over the batch): a row's answer depends on the other rows of its batch."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[0], keepdims=1),
             helper.make_node("Sub", ["x", "m"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "batchdep", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


def test_a_model_scoring_rows_by_their_batch_fails_the_dry_run_and_validate(tmp_path: Path) -> None:
    # the query scores 16,384-row batches and the "direct" comparison scored the same batches: 100,000 rows
    # passed with y[0] = -8191 where onnxruntime over all the rows gives -49999
    model = _batch_dependent()
    og.package(model, target="sql-edge-2.0", out=tmp_path / "sql")
    rows = {"x": np.arange(40_000, dtype=np.float64)}
    result = dry.dry_run(tmp_path / "sql", rows)
    assert not result.passed
    small = dry.dry_run(tmp_path / "sql", {"x": np.arange(100, dtype=np.float64)})  # one run either way
    assert not small.passed and any("depends on the other rows of its batch" in line for line in small.reference)
    # validate needs no reference to see it, given rows
    report = og.validate(model, target="sql-edge-2.0", data=rows["x"].reshape(-1, 1).astype(np.float32))
    parity = report.check("prediction_parity")
    assert not parity and "depends on the other rows of its batch" in parity.message
    assert og.validate(model, target="sql-edge-2.0").check("prediction_parity").status == "skipped"


def test_a_whole_number_beyond_64_bits_is_an_input_error(package: Path) -> None:
    # a CSV reader keeps 1180591620717411303424 as a Python int: it was "unexpected OverflowError"
    frame = pd.DataFrame(X[:3], columns=NAMES).astype(object)
    frame.loc[0, "f3"] = 2**70
    with pytest.raises(InvalidDataError, match=r"column 'f3' holds 1180591620717411303424, a whole number beyond 64"):
        dry.dry_run(package, frame)


@pytest.mark.parametrize("table", ["__onnxgate_rows", "__ONNXGATE_SCORED"])
def test_an_input_table_named_like_the_dry_runs_own_views_works(tmp_path: Path, table: str) -> None:
    # "Catalog Error: __onnxgate_rows is not an table": the dry run's view took the table's name
    out = tmp_path / "pkg"
    og.package(adapt(mlp(12, outputs=3), "sql-edge-2.0"), target="sql-edge-2.0", out=out, input_table=table)
    assert dry.dry_run(out, {n: X[:, i] for i, n in enumerate(NAMES)}).passed


def test_a_database_the_run_created_is_removed_when_it_is_interrupted_late(package: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # interrupted after the query, while comparing with onnxruntime: the database file was left, and the
    # next run refused it ("already has a table ... Pass --force")
    real = dry.runtime_session
    calls: list[int] = []

    def second_call_interrupted(model: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(model)

    monkeypatch.setattr(dry, "runtime_session", second_call_interrupted)
    database = tmp_path / "new.duckdb"
    with pytest.raises(KeyboardInterrupt):
        dry.dry_run(package, {n: X[:, i] for i, n in enumerate(NAMES)}, database=database)
    assert len(calls) == 2 and not database.exists()


def test_validate_without_a_reference_claims_only_the_row_check_it_ran() -> None:
    # one row, or rows that do not fit: the skip message said "the data's first rows score alone as in a batch"
    model = _batch_dependent()
    one = og.validate(model, target="sql-edge-2.0", data=np.ones((1, 1), dtype=np.float32)).check("prediction_parity")
    assert one.status == "skipped" and "score alone" not in one.message
    with pytest.raises(InvalidDataError, match="expects"):
        og.validate(model, target="sql-edge-2.0", data=np.ones((5, 3), dtype=np.float32))


def test_an_edited_or_missing_predict_script_is_refused(package: Path, tmp_path: Path, capsys: Any) -> None:
    # the dry run runs the query onnxgate wrote; 04_predict.sql naming an output the model lacks, or deleted,
    # passed with exit 0 (helper-81)
    import shutil

    data = {n: X[:, i] for i, n in enumerate(NAMES)}
    edited = tmp_path / "edited"
    shutil.copytree(package, edited)
    script = edited / "04_predict.sql"
    script.write_text(script.read_text(encoding="utf-8").replace("[output_0] real", "[no_such_output] real"),
                      encoding="utf-8")
    with pytest.raises(PackagingError, match="not the query this package was written with"):
        dry.dry_run(edited, data)
    script.unlink()
    with pytest.raises(PackagingError, match=r"lacks 04_predict\.sql"):
        dry.dry_run(edited, data)
    rows = tmp_path / "rows.csv"
    pd.DataFrame(data).to_csv(rows, index=False)
    assert main(["sql-dryrun", str(edited), "--data", str(rows)]) == 2
    assert "04_predict.sql" in capsys.readouterr().err
    assert dry.dry_run(package, data).passed  # the package as written
    crlf = tmp_path / "crlf"  # as git on Windows checks it out (core.autocrlf): the same query (helper-84)
    shutil.copytree(package, crlf)
    for name in ("04_predict.sql", "02_insert_model.sql"):
        query = crlf / name
        query.write_bytes(query.read_bytes().replace(b"\n", b"\r\n"))
    assert dry.dry_run(crlf, data).passed


def test_a_package_inserting_another_model_is_refused(package: Path, tmp_path: Path, capsys: Any) -> None:
    # a 02_insert_model.sql from another package inserts another model (under another name): the dry run,
    # scoring model.onnx, passed it with exit 0 (helper-91)
    import shutil

    data = {n: X[:, i] for i, n in enumerate(NAMES)}
    mixed = tmp_path / "mixed"
    shutil.copytree(package, mixed)
    insert = mixed / "02_insert_model.sql"
    insert.write_text(insert.read_text(encoding="utf-8").replace("0x08", "0x09", 1), encoding="utf-8")
    with pytest.raises(PackagingError, match=r"holds a 02_insert_model\.sql edited since the package was written"):
        dry.dry_run(mixed, data)
    insert.unlink()
    rows = tmp_path / "rows.csv"
    pd.DataFrame(data).to_csv(rows, index=False)
    assert main(["sql-dryrun", str(mixed), "--data", str(rows)]) == 2
    assert "lacks 02_insert_model.sql" in capsys.readouterr().err


def test_a_package_whose_insert_script_and_manifest_hold_another_model_is_refused(package: Path, tmp_path: Path,
                                                                                   capsys: Any) -> None:
    # 02_insert_model.sql from another model, with manifest.json's sha256 of it rewritten to match: the dry run
    # scored model.onnx and passed with exit 0, while the database would store and run the other model (helper-320)
    import hashlib
    import shutil

    data = {n: X[:, i] for i, n in enumerate(NAMES)}
    mixed = tmp_path / "mixed"
    shutil.copytree(package, mixed)
    insert = mixed / "02_insert_model.sql"
    insert.write_text(insert.read_text(encoding="utf-8").replace("0x08", "0x09", 1), encoding="utf-8")
    manifest = json.loads((mixed / "manifest.json").read_text(encoding="utf-8"))
    manifest["sql"]["model_scripts_sha256"]["02_insert_model.sql"] = hashlib.sha256(insert.read_bytes()).hexdigest()
    (mixed / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(PackagingError, match=r"02_insert_model\.sql' holds another model than model\.onnx"):
        dry.dry_run(mixed, data)
    rows = tmp_path / "rows.csv"
    pd.DataFrame(data).to_csv(rows, index=False)
    assert main(["sql-dryrun", str(mixed), "--data", str(rows)]) == 2
    assert "holds another model than model.onnx" in capsys.readouterr().err
    assert dry.dry_run(package, data).passed  # the package as written


def test_the_dry_run_gives_the_reference_float32_rows_as_validate_does(tmp_path: Path) -> None:
    # float32 rows reach scikit-learn as float32 in validate and package, and the dry run widened them: the
    # package validate passed failed its dry run (a label on row 40, probabilities 0.28 off; helper-84)
    xgboost = pytest.importorskip("xgboost")
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)).fit(X, y)
    rows = X.astype(np.float32)
    conv = og.convert(model, rows.head(), target="sql-edge-2.0")
    assert og.validate(conv, target="sql-edge-2.0", reference=model, data=rows).passed
    folder = og.package(conv, target="sql-edge-2.0", out=tmp_path / "pkg", reference=model, data=rows)
    result = dry.dry_run(folder, rows, reference=model)
    assert result.passed, str(result)


def test_a_headerless_csv_is_read_by_position_only_for_a_model_fitted_without_names(tmp_path: Path,
                                                                                     capsys: Any) -> None:
    # a model that records its columns' names is fed by them, as validate feeds it: the dry run read a
    # headerless CSV by position, in whatever order its columns came (helper-91)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame, y = load_iris(return_X_y=True, as_frame=True)
    rows = tmp_path / "rows.csv"
    frame.to_csv(rows, header=False, index=False)
    plain = frame.set_axis(["a", "b", "c", "d"], axis=1)  # names SQL keeps: nothing renamed, nothing recorded
    for fitted, name in ((frame, "named"), (plain, "plain"), (frame.to_numpy(), "array")):
        model = LogisticRegression(max_iter=500).fit(fitted, y)
        folder = og.package(og.convert(model, fitted[:5], target="sql-edge-2.0"), target="sql-edge-2.0",
                            out=tmp_path / name)
        code = main(["sql-dryrun", str(folder), "--data", str(rows)])
        err = capsys.readouterr().err
        if name != "array":
            assert code == 2 and "the data lacks the columns [" in err, err
        else:
            assert code == 0, err


@pytest.fixture(scope="module")
def text_and_flag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A Synapse package of a model with a text input and a boolean column (a bigint input)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"kind": np.array(["a", "b", "c"])[np.arange(60) % 3], "flag": np.arange(60) % 2 == 0,
                          "size": X[:60, 0].astype(np.float64)})
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), ["kind"])], remainder="passthrough")
    model = Pipeline([("prep", prep), ("fit", LogisticRegression())]).fit(frame, np.arange(60) % 3 == 1)
    out = tmp_path_factory.mktemp("text") / "pkg"
    og.package(og.convert(model, frame, target="synapse"), target="synapse", out=out)
    return out, frame


@pytest.mark.parametrize(("column", "missing", "says"), [
    # the one-hot encoder reads a missing text as an unknown one, which the file takes (as ""); Synapse's table
    # cannot hold it
    pytest.param("kind", None, "column 'kind' has 1 missing value(s); the input table's column is NOT NULL,",
                 id="null-text"),
    pytest.param("flag", pd.NA, "column 'flag' has 1 missing or non-finite value(s)", id="na-boolean"),
])
def test_a_missing_text_or_nullable_boolean_is_the_error_validate_gives(
        text_and_flag: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        column: str, missing: Any, says: str) -> None:
    # it was "unexpected ArrowTypeError: Expected bytes, got a 'float' object ... please report it"
    package, frame = text_and_flag
    frame = frame.astype({"flag": "boolean"})
    frame.loc[3, column] = missing
    rows = tmp_path / "rows.parquet"
    frame.to_parquet(rows)
    assert main(["sql-dryrun", str(package), "--data", str(rows)]) == 2
    err = capsys.readouterr().err
    assert says in err and "unexpected" not in err and len(err.strip().splitlines()) == 1, err


def test_a_float16_parquet_file_is_scored_as_validate_reads_it(package: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # it was "unexpected NotImplementedException: ... Unsupported Internal Arrow Type e"
    rows = tmp_path / "half.parquet"
    pd.DataFrame(X[:50], columns=NAMES).astype(np.float16).to_parquet(rows)
    assert main(["sql-dryrun", str(package), "--data", str(rows), "--rows", "0"]) == 0
    out = capsys.readouterr().out
    assert "50 rows scored" in out and out.rstrip().endswith("PASSED"), out


def test_a_failed_run_leaves_a_given_database_as_it_was(package: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # the input table stayed behind (empty, or fully loaded after Ctrl-C), and the next run was refused
    # ("already has a table ... Pass --force")
    database = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE notes (note VARCHAR)")
    con.close()
    real = dry.runtime_session

    def interrupted(model: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(dry, "runtime_session", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dry.dry_run(package, X, database=database)
    con = duckdb.connect(str(database))
    try:
        assert sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()) \
            == ["notes"]
    finally:
        con.close()
    monkeypatch.setattr(dry, "runtime_session", real)
    assert dry.dry_run(package, X, database=database).passed


def test_rows_that_fail_to_load_leave_a_table_force_replaces_as_it_was(package: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # --force over the user's own table: a load interrupted (or failed) left it empty, its rows gone
    database = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE demo_input (note VARCHAR)")
    con.execute("INSERT INTO demo_input VALUES ('kept')")
    con.close()

    def interrupted(table: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(dry, "_widen_half_floats", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dry.dry_run(package, X, database=database, replace=True)
    con = duckdb.connect(str(database))
    try:
        assert con.execute("SELECT * FROM demo_input").fetchall() == [("kept",)]
    finally:
        con.close()


def test_an_input_table_extended_with_other_columns_and_constraints_still_runs(
        package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a datetime2 or decimal column beside the model's was "no DuckDB equivalent for the SQL types", and a
    # CONSTRAINT line was read as a column named CONSTRAINT of type [pk_input]
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(package, edited)
    script = edited / "03_create_input_table.sql"
    text = script.read_text(encoding="utf-8")
    extra = ("    [id] bigint IDENTITY(1,1) NOT NULL,\n    [loaded_at] datetime2 NULL,\n"
             "    [amount] decimal(10, 2) NULL,\n    CONSTRAINT [pk_input] PRIMARY KEY ([id]),\n"
             "    INDEX [ix_loaded] ([loaded_at]),\n")
    script.write_text(text.replace("(\n", "(\n" + extra, 1), encoding="utf-8")
    assert dry.table_types_from_script(script.read_text(encoding="utf-8"))["amount"] == "decimal(10,2)"
    assert "CONSTRAINT" not in dry.table_types_from_script(script.read_text(encoding="utf-8"))
    rows = tmp_path / "rows.npy"
    np.save(rows, X[:20])
    assert main(["sql-dryrun", str(edited), "--data", str(rows), "--rows", "0"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.rstrip().endswith("PASSED")


@pytest.fixture(scope="module")
def codes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    """A Synapse package whose model reads a text column of codes of different lengths ('01', '2', '10')."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"code": np.array(["01", "2", "10"])[np.arange(90) % 3],
                          "size": X[:90, 0].astype(np.float64)})
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), ["code"])], remainder="passthrough")
    model = Pipeline([("prep", prep), ("fit", LogisticRegression())]).fit(frame, np.arange(90) % 3)
    out = tmp_path_factory.mktemp("codes") / "pkg"
    og.package(og.convert(model, frame, target="synapse"), target="synapse", out=out)
    return out, model, frame


def test_char_columns_are_scored_padded_as_sql_server_stores_them(codes: tuple[Path, Any, pd.DataFrame]) -> None:
    """A char(10) text column passed the dry run with its values as given, and SQL Server stores '01' as
    '01' and 8 spaces: the model, which knows '01', answered otherwise (helper-124)."""
    package, model, frame = codes
    assert dry.dry_run(package, frame, reference=model).passed
    padded = dry.dry_run(package, frame, reference=model, table_types={"code": "char(10)"})
    assert not padded.passed
    assert padded.result.column("code")[1].as_py() == "2" + " " * 9
    assert "'code' (char(10)) right-padded with spaces" in str(padded)
    assert "FAILED  output 'label'" in str(padded)
    # a char column as long as every value stores them as they are
    two = frame.assign(code=frame["code"].str.zfill(2))
    assert dry.dry_run(package, two, reference=model, table_types={"code": "char(2)"}).passed


@pytest.mark.parametrize("sql_type", ["nchar(2)", "nchar", "ntext", "text"])
def test_a_text_column_of_a_type_predict_does_not_read_fails_like_predict(
        codes: tuple[Path, Any, pd.DataFrame], sql_type: str) -> None:
    """PREDICT reads text inputs from char, varchar and nvarchar columns (targets.md A.4); the dry run passed an
    nchar column, which the database refuses."""
    package, _model, frame = codes
    with pytest.raises(InvalidDataError, match=r"The type of model column 'code' is 'nvarchar'\. Doesn't match"):
        dry.dry_run(package, frame.assign(code=frame["code"].str.zfill(2)), table_types={"code": sql_type})


@pytest.mark.parametrize(("sql_type", "value", "says"), [
    ("varchar(1)", "01", r"row 0 holds '01', 2 characters, and the input table declares it varchar\(1\)"),
    ("char", "01", r"2 characters, and the input table declares it char:"),
    ("nvarchar(2)", "\U0001F680x", r"3 characters, and the input table declares it nvarchar\(2\)"),
    # a varchar without a length holds one character in a column definition, as a char does (it passed)
    ("varchar", "01", r"2 characters, and the input table declares it varchar:"),
    ("national char varying ( 1 )", "01", r"2 characters, and the input table declares it national char varying"),
])
def test_values_longer_than_their_text_column_are_refused_as_sql_server_refuses_the_load(
        codes: tuple[Path, Any, pd.DataFrame], sql_type: str, value: str, says: str) -> None:
    package, _model, frame = codes
    rows = frame.assign(code=[value, *list(frame["code"][1:])])
    with pytest.raises(InvalidDataError, match=says + r".*String or binary data would be truncated"):
        dry.dry_run(package, rows, table_types={"code": sql_type})


def test_string_view_text_is_measured_and_padded_as_other_text(codes: tuple[Path, Any, pd.DataFrame]) -> None:
    """An Arrow table whose text is string_view (pyarrow's view layout) passed a char(10) column unpadded and a value
    too long for varchar(1): the length and padding rules looked at string and large_string only."""
    import pyarrow as pa

    package, model, frame = codes
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(0, "code", table.column("code").cast(pa.string_view()))
    padded = dry.dry_run(package, table, reference=model, table_types={"code": "char(10)"})
    assert not padded.passed and padded.result.column("code")[1].as_py() == "2" + " " * 9
    with pytest.raises(InvalidDataError, match=r"row 0 holds '01', 2 characters, and the input table declares it "
                                               r"varchar\(1\)"):
        dry.dry_run(package, table, table_types={"code": "varchar(1)"})


def test_a_target_spelling_its_types_as_t_sql_does_packages_and_dry_runs(
        codes: tuple[Path, Any, pd.DataFrame], tmp_path: Path) -> None:
    """``nvarchar ( 2 )`` and ``double precision`` (T-SQL's float(53)) were refused as type names, though SQL Server
    creates those columns; the scripts carry them as written and the dry run reads them as SQL Server does."""
    _package, model, frame = codes
    path = tmp_path / "spaced.toml"
    path.write_text('base = "synapse"\nname = "spaced"\n'
                    'sql_types = { string = "nvarchar ( 2 )", float64 = "double precision" }\n', encoding="utf-8")
    target = og.targets.from_toml(path)
    out = tmp_path / "pkg"
    og.package(og.convert(model, frame, target=target), target=target, out=out)
    script = (out / "03_create_input_table.sql").read_text(encoding="utf-8")
    assert "[code] nvarchar ( 2 ) NOT NULL" in script and "[size] double precision NOT NULL" in script
    assert dry.dry_run(out, frame, reference=model).passed
    with pytest.raises(InvalidDataError, match=r"declares it nvarchar\(2\).*would be truncated"):
        dry.dry_run(out, frame.assign(code=["010", *list(frame["code"][1:])]), reference=model)


def test_a_pandas_category_column_of_an_xgboost_model_is_scored_as_its_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The frame an XGBoost model with a categorical feature was fitted, validated and packaged with: the dry run
    refused it ("holds the category 'z' as text ... feed ... a pandas category column", which it was), from Python
    and from the Parquet file on the command line; it loads the codes the table holds, as validate maps them."""
    xgboost = pytest.importorskip("xgboost")
    import pickle

    rng = np.random.default_rng(0)
    name = "colour; DROP TABLE t; --"  # renamed for SQL: the category column is found under the user's name
    frame = pd.DataFrame({name: pd.Categorical(rng.choice(["red", "green", "o'blue"], size=300)),
                          "b": rng.normal(size=300)})
    y = ((frame[name] == "red") ^ (frame["b"] > 0)).astype(int)
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True, tree_method="hist",
                                  n_jobs=1).fit(frame, y)
    conv = og.convert(model, frame, target="sql-edge-2.0")
    assert og.validate(conv, reference=model, data=frame, target="sql-edge-2.0").passed
    out = tmp_path / "pkg"
    og.package(conv, target="sql-edge-2.0", out=out)

    # the categories in another order than the model's, and missing values: mapped by value, not pandas' codes
    rows = frame.copy()
    rows[name] = rows[name].cat.reorder_categories(["red", "o'blue", "green"])
    rows.iloc[:5, 0] = np.nan
    result = dry.dry_run(out, rows, reference=model)
    assert result.passed, result.reference
    assert np.array_equal(result.result.column("label").to_numpy(), model.predict(rows))
    np.testing.assert_allclose(result.result.column("p_1").to_numpy(), model.predict_proba(rows)[:, 1], atol=1e-5)

    monkeypatch.chdir(tmp_path)
    rows.to_parquet("rows.parquet")  # Parquet keeps the category type
    Path("model.pkl").write_bytes(pickle.dumps(model))
    code = main(["sql-dryrun", "pkg", "--data", "rows.parquet", "--reference", "model.pkl", "--trust-pickle"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "0/300 rows differ" in captured.out


def test_month_categories_whose_codes_are_categories_too_pass_the_dry_run(tmp_path: Path) -> None:
    """An XGBoost model of the months 1..12 as a pandas category column (each code 0..11 but 0 a month too): the dry
    run mapped the frame to its codes, then read the table's codes again as the user's values and refused them
    ("holds only [1.0, 2.0, ...], which are both categories of the model and codes"), where validate passed the same
    frame; it scores them as the model does."""
    xgboost = pytest.importorskip("xgboost")

    rng = np.random.default_rng(0)
    months = rng.integers(1, 13, size=200)
    frame = pd.DataFrame({"a": rng.normal(size=200), "month": pd.Categorical(months, categories=range(1, 13))})
    y = ((months % 3 == 0) ^ (frame["a"] > 0)).astype(int)
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True, tree_method="hist",
                                  max_cat_to_onehot=1, n_jobs=1).fit(frame, y)
    conv = og.convert(model, frame.head(40), target="sql-edge-2.0")
    og.package(conv, target="sql-edge-2.0", out=tmp_path / "pkg")
    rows = frame[frame["month"].isin([2, 3, 5, 7])].reset_index(drop=True)  # codes 1, 2, 4, 6: all months too
    assert og.validate(conv, reference=model, data=rows, target="sql-edge-2.0").passed
    result = dry.dry_run(tmp_path / "pkg", rows, reference=model)
    assert result.passed, result.reference
    np.testing.assert_allclose(result.result.column("p_1").to_numpy(), model.predict_proba(rows)[:, 1], atol=1e-5)


def test_a_pyarrow_dictionary_column_of_an_xgboost_model_is_scored_as_its_codes(tmp_path: Path) -> None:
    """A pyarrow Table whose category column is a dictionary column (pyarrow's category, what
    ``pa.Table.from_pandas`` makes of a pandas one): the dry run mapped only a pandas category column to the codes
    the table holds, and read the dictionary's text as missing codes (refused: 'has 5 missing value(s)')."""
    xgboost = pytest.importorskip("xgboost")
    import pyarrow as pa

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": pd.Categorical(rng.choice(["red", "green", "o'blue"], size=300)),
                          "b": rng.normal(size=300)})
    y = ((frame["colour"] == "red") ^ (frame["b"] > 0)).astype(int)
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True, tree_method="hist",
                                  n_jobs=1).fit(frame, y)
    conv = og.convert(model, frame, target="sql-edge-2.0")
    og.package(conv, target="sql-edge-2.0", out=tmp_path / "pkg")
    rows = frame.copy()
    rows["colour"] = rows["colour"].cat.reorder_categories(["red", "o'blue", "green"])
    table = pa.Table.from_pandas(rows, preserve_index=False)
    assert pa.types.is_dictionary(table.schema.field("colour").type)
    result = dry.dry_run(tmp_path / "pkg", table, reference=model)
    assert result.passed, result.reference
    assert np.array_equal(result.result.column("label").to_numpy(), model.predict(rows))
    np.testing.assert_allclose(result.result.column("p_1").to_numpy(), model.predict_proba(rows)[:, 1], atol=1e-5)


@pytest.mark.filterwarnings("ignore")
def test_a_missing_lightgbm_integer_category_is_scored_as_validate_scores_it(tmp_path: Path) -> None:
    # validate for sql-edge-2.0 fed a missing category of LightGBM's integer categories as -1, which the file scores
    # as missing, as LightGBM does; the dry run refused the same rows ("... the input table's columns are NOT NULL
    # and SQL Server's float/real cannot hold NaN", of a bigint column), as it did not XGBoost's (helper-241)
    pytest.importorskip("lightgbm")
    from _column_frames import FIBONACCI, fibonacci_model

    model, frame = fibonacci_model("lightgbm")
    sql = og.convert(model, frame.head(60), target="sql-edge-2.0")
    og.package(sql, target="sql-edge-2.0", out=tmp_path / "pkg")
    categories = pd.Categorical([1, None, 8, None, 21], categories=FIBONACCI)
    rows = pd.DataFrame({"x": np.linspace(-1.0, 1.0, 5), "n": categories})
    want = model.predict_proba(rows)[:, 1]
    assert og.validate(sql, target="sql-edge-2.0", reference=model, data=rows).passed
    rows.to_parquet(tmp_path / "rows.parquet")
    plain = rows.assign(n=pd.array([1, None, 8, None, 21], dtype="Int64"))  # no category type: nulls
    for given in (rows, tmp_path / "rows.parquet", plain):
        result = dry.dry_run(tmp_path / "pkg", given, reference=model)
        assert result.passed, result
        np.testing.assert_allclose(result.result.column("p_1").to_numpy(), want, atol=1e-5)
        assert result.result.column("n").to_pylist() == [1, -1, 8, -1, 21]  # what the table holds


@pytest.mark.filterwarnings("ignore")
def test_a_missing_lightgbm_integer_category_in_a_dict_of_columns_is_scored_as_in_a_frame(tmp_path: Path) -> None:
    # the dry run fed a frame's missing category of LightGBM's integer categories as -1 (helper-241), but refused the
    # same rows given as a dict of columns: "column 'n' ... the input table's column is NOT NULL" (helper-252)
    pytest.importorskip("lightgbm")
    from _column_frames import FIBONACCI, fibonacci_model

    model, frame = fibonacci_model("lightgbm")
    og.package(og.convert(model, frame.head(60), target="sql-edge-2.0"), target="sql-edge-2.0", out=tmp_path / "pkg")
    x = np.linspace(-1.0, 1.0, 5)
    categories = pd.Categorical([1, None, 8, None, 21], categories=FIBONACCI)
    want = model.predict_proba(pd.DataFrame({"x": x, "n": categories}))[:, 1]
    for n in (categories, [1, None, 8, None, 21], np.array([1, np.nan, 8, np.nan, 21]),
              pd.array([1, None, 8, None, 21], dtype="Int64")):
        result = dry.dry_run(tmp_path / "pkg", {"x": x, "n": n}, reference=model)
        assert result.passed, result
        assert result.result.column("n").to_pylist() == [1, -1, 8, -1, 21]  # what the table holds, as for the frame
        np.testing.assert_allclose(result.result.column("p_1").to_numpy(), want, atol=1e-5)


@pytest.mark.filterwarnings("ignore")
def test_an_unseen_lightgbm_integer_category_of_a_category_column_is_scored_as_lightgbm_scores_it(
        tmp_path: Path) -> None:
    # a category column holding 4 and 6, which LightGBM was not fitted on: LightGBM's predict, validate and the
    # package's graph in the database score them as missing values, but the dry run refused the rows as "number(s)
    # that are none of the model's categories", for a frame, a dict and an Arrow table alike (helper-255)
    pytest.importorskip("lightgbm")
    pa = pytest.importorskip("pyarrow")
    from _column_frames import FIBONACCI, fibonacci_model

    model, frame = fibonacci_model("lightgbm")
    sql = og.convert(model, frame.head(60), target="sql-edge-2.0")
    og.package(sql, target="sql-edge-2.0", out=tmp_path / "pkg")
    x = np.linspace(-1.0, 1.0, 6)
    n = pd.Categorical([1, 4, 8, None, 21, 6])  # its own categories: 1, 4, 6, 8, 21
    rows = pd.DataFrame({"x": x, "n": n})
    want = model.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(want[[1, 5]], model.predict_proba(rows.assign(
        n=pd.Categorical([None] * 6, categories=FIBONACCI)))[[1, 5], 1])  # LightGBM reads 4 and 6 as missing
    assert og.validate(sql, target="sql-edge-2.0", reference=model, data=rows).passed
    for given in (rows, {"x": x, "n": n}, pa.table({"x": x, "n": pa.array(n)})):
        result = dry.dry_run(tmp_path / "pkg", given, reference=model)
        assert result.passed, result
        assert result.result.column("n").to_pylist() == [1, 4, 8, -1, 21, 6]  # what the table holds
        np.testing.assert_allclose(result.result.column("p_1").to_numpy(), want, atol=1e-5)
    # a plain column has no category type, and LightGBM refuses it: 4 and 6 may be codes, refused as by validate
    with pytest.raises(InvalidDataError, match=r"none of the model's categories \[1, 2, 3, 5, 8, 13, 21\] "
                                               r"\(e.g. \[4, 6\]\)"):
        dry.dry_run(tmp_path / "pkg", rows.assign(n=[1, 4, 8, 1, 21, 6]), reference=model)


@pytest.mark.parametrize("nullable", [False, True], ids=["not-null", "nullable"])
def test_a_missing_number_is_refused_for_what_its_table_column_is(nullable: bool, tmp_path: Path) -> None:
    # a NaN in a bigint column was refused because "SQL Server's float/real cannot hold NaN", and in a column the user
    # made nullable in 03_create_input_table.sql because "the input table's columns are NOT NULL" (helper-241)
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.integers(0, 10, 100), "b": rng.normal(size=100)})
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(frame, frame["a"] > 4)
    package = og.package(og.convert(model, frame.head(), target="sql-edge-2.0"), target="sql-edge-2.0",
                         out=tmp_path / "pkg")
    script = package / "03_create_input_table.sql"
    assert "[a] bigint NOT NULL" in script.read_text() and "[b] float NOT NULL" in script.read_text()
    if nullable:
        script.write_text(script.read_text().replace(" NOT NULL", " NULL"))
    for column, kind in (("a", "bigint"), ("b", "float")):
        rows = frame.head(6).astype({"a": "float64"})
        rows.loc[2, column] = np.nan
        with pytest.raises(InvalidDataError) as err:
            dry.dry_run(package, rows)
        said = str(err.value)
        assert said.startswith(f"column '{column}' is empty or NaN in 1 row(s) (first: row 2); "), said
        if nullable:
            assert "03_create_input_table.sql makes that column nullable" in said and "NOT NULL" not in said, said
        else:
            assert "the input table's column is NOT NULL" in said, said
        assert ("float/real cannot hold NaN" in said) == (kind == "float" and not nullable), said

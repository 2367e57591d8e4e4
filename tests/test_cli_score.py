"""``onnxgate score`` on one machine: typed output columns, batch by batch, nothing overwritten without --force."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import onnxgate as og
from onnxgate.cli import main
from onnxgate.signature import Signature

FEATURES = [f"f{i}" for i in range(4)]


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    model = LogisticRegression(max_iter=500).fit(X, y)
    folder = tmp_path_factory.mktemp("score")
    onnx_file = folder / "m.onnx"
    onnx_file.write_bytes(og.convert(model, X[:5]).model.SerializeToString())
    data = folder / "rows.parquet"
    pd.DataFrame(X, columns=FEATURES).to_parquet(data)
    return {"model": model, "X": X, "onnx": onnx_file, "data": data}


def test_score_writes_inputs_plus_typed_outputs_in_batches(iris: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "scored.parquet"
    assert main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(out),
                 "--batch-size", "32"]) == 0
    table = pq.read_table(out)
    assert table.column_names == [*FEATURES, "label", "probabilities"]
    assert str(table.schema.field("label").type) == "int64"
    assert table.schema.field("probabilities").type.value_type == pa.float32()
    frame = table.to_pandas()
    np.testing.assert_array_equal(frame["label"].to_numpy(), iris["model"].predict(iris["X"]))
    np.testing.assert_allclose(np.stack(frame["probabilities"]), iris["model"].predict_proba(iris["X"]), atol=1e-5)
    # floats are stored plain (a dictionary of distinct floats per row group is bigger and slower), the
    # integer labels as a dictionary
    meta = pq.ParquetFile(out).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema.split(".")[0]: meta.column(i).encodings for i in range(meta.num_columns)}
    assert not any("DICTIONARY" in e for name in [*FEATURES, "probabilities"] for e in encodings[name]), encodings
    assert any("DICTIONARY" in e for e in encodings["label"]), encodings


def test_score_writes_outputs_not_null_as_score_on_spark_does(iris: dict[str, Any], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # score --spark writes every output NOT NULL (Parquet "required"), score wrote them nullable: the two paths'
    # files had different schemas for the same model and rows (helper-335). The data's columns keep theirs
    monkeypatch.chdir(tmp_path)
    assert main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", "scored.parquet"]) == 0
    schema = pq.read_schema("scored.parquet")
    assert [(f.name, f.nullable) for f in schema] == [*((name, True) for name in FEATURES), ("label", False),
                                                      ("probabilities", False)]
    assert pq.read_table("scored.parquet").num_rows == len(iris["X"])

def test_score_picks_outputs_and_refuses_to_overwrite(iris: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "scored.parquet"
    args = ["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(out), "--outputs", "label"]
    assert main(args) == 0
    assert pq.read_table(out).column_names == [*FEATURES, "label"]
    before = out.read_bytes()
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*args, "--force"]) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--outputs": "nope"}, "not outputs of the model"),
        ({"--outputs": ","}, "--outputs names no output"),  # wrote the rows without a prediction, exit 0
        ({"--data": "missing.parquet"}, "data not found"),
        ({"--batch-size": "0"}, "positive number of rows"),
    ],
    ids=["unknown-output", "no-output", "missing-data", "zero-batch"],
)
def test_bad_input_is_one_line_and_exit_2(
    iris: dict[str, Any], tmp_path: Path, capsys: Any, change: dict[str, str], message: str
) -> None:
    options = {"--data": str(iris["data"]), "--out": str(tmp_path / "o.parquet"), **change}
    if change.get("--data") == "missing.parquet":
        options["--data"] = str(tmp_path / "missing.parquet")
    argv = ["score", str(iris["onnx"])] + [x for kv in options.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o.parquet").exists()


def test_data_that_does_not_fit_leaves_no_file(iris: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_parquet(bad)
    out = tmp_path / "o.parquet"
    assert main(["score", str(iris["onnx"]), "--data", str(bad), "--out", str(out)]) == 2
    assert "values per row" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_spark_without_java_says_how_to_install_it(
    iris: dict[str, Any], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from onnxgate.spark import _session as spark_session

    monkeypatch.setattr(spark_session, "java_version", lambda: None)
    out = tmp_path / "scored"
    code = main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(out), "--spark", "local[1]"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Java 17 or 21" in err and "apt-get install openjdk-17-jre-headless" in err
    assert not out.exists()


@pytest.mark.parametrize("where", ["the-data-file", "inside-the-data-folder"])
def test_out_in_the_data_is_refused(iris: dict[str, Any], tmp_path: Path, capsys: Any, where: str) -> None:
    # scoring a folder into itself made each --force run read the last run's output back as rows
    folder = tmp_path / "rows"
    folder.mkdir()
    data = folder / "part-0.parquet"
    data.write_bytes(iris["data"].read_bytes())
    out = data if where == "the-data-file" else folder / "scored.parquet"
    target = str(data if where == "the-data-file" else folder)
    assert main(["score", str(iris["onnx"]), "--data", target, "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]
    assert data.read_bytes() == iris["data"].read_bytes()


@pytest.mark.parametrize("case", ["file-url-of-the-data", "folder-holding-the-data", "folder-holding-the-model"])
def test_force_never_replaces_a_folder_holding_an_input(iris: dict[str, Any], tmp_path: Path, capsys: Any,
                                                        case: str) -> None:
    # with --spark --force, --out file://<the data> and --out <a folder holding the data or the model> deleted them:
    # Spark's overwrite removes the --out folder before writing (the checks run before Spark starts)
    work = tmp_path / "work"
    (work / "rows").mkdir(parents=True)
    data = work / "rows" / "part-0.parquet"
    data.write_bytes(iris["data"].read_bytes())
    model = work / "m.onnx" if case == "folder-holding-the-model" else iris["onnx"]
    if case == "folder-holding-the-model":
        model.write_bytes(iris["onnx"].read_bytes())
    out = f"file://{work / 'rows'}" if case == "file-url-of-the-data" else str(work)
    data_arg = str(work / "rows") if case != "folder-holding-the-model" else str(iris["data"])
    assert main(["score", str(model), "--data", data_arg, "--out", out, "--force", "--spark", "local[1]"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and ("--data" in err or "the model being scored" in err), err
    assert data.read_bytes() == iris["data"].read_bytes() and model.exists()


@pytest.mark.parametrize("spark", [False, True])
def test_force_never_replaces_the_other_kind_of_out(iris: dict[str, Any], tmp_path: Path, capsys: Any,
                                                    spark: bool) -> None:
    # a folder where score writes a file (a previous --spark run's output) was refused only by the rename, and a file
    # where score --spark writes a folder only after Spark's start-up (helper-125)
    if spark:
        pytest.importorskip("pyspark", reason="the spark extra is not installed")
        out = tmp_path / "scored.parquet"
        out.write_bytes(b"the user's file")
    else:
        out = tmp_path / "scored"
        out.mkdir()
        (out / "part-0.parquet").write_bytes(b"the user's rows")
    extra = ["--spark", "local[1]"] if spark else []
    assert main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(out), "--force", *extra]) == 2
    err = capsys.readouterr().err
    assert ("is a file, and score --spark writes a folder" if spark else "is a folder, and score writes a file") in err
    assert "unexpected" not in err
    assert (out.read_bytes() if spark else (out / "part-0.parquet").read_bytes()).startswith(b"the user's")


def test_force_never_replaces_a_pipe_or_device(iris: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    # the scored file is renamed into place, which would have turned a FIFO (or /dev/null) into a file
    import os
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(fifo), "--force"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_force_through_a_symlink_writes_the_file_it_points_to(iris: dict[str, Any], tmp_path: Path) -> None:
    real = tmp_path / "real.parquet"
    real.write_bytes(b"old")
    link = tmp_path / "link.parquet"
    link.symlink_to(real)
    assert main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(link), "--force"]) == 0
    assert link.is_symlink()
    assert pq.read_table(real).num_rows == len(iris["X"])


def test_force_never_writes_the_scored_rows_over_the_model(iris: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    # score m.onnx --out m.onnx --force turned the model into Parquet
    model = tmp_path / "m.onnx"
    model.write_bytes(iris["onnx"].read_bytes())
    assert main(["score", str(model), "--data", str(iris["data"]), "--out", str(model), "--force"]) == 2
    assert "never an input" in capsys.readouterr().err
    assert model.read_bytes() == iris["onnx"].read_bytes()


@pytest.fixture(scope="module")
def packages(iris: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The iris model packaged for a container, a SQL target and MLflow (when mlflow is installed)."""
    import importlib.util

    folder = tmp_path_factory.mktemp("packages")
    X = iris["X"]
    out = {"container": og.package(og.convert(iris["model"], X[:5]), target="container", out=folder / "container"),
           "sql-edge-2.0": og.package(og.convert(iris["model"], X[:5], target="sql-edge-2.0"), target="sql-edge-2.0",
                                      out=folder / "sql")}
    if importlib.util.find_spec("mlflow") is not None:
        out["mlflow"] = og.package(og.convert(iris["model"], X[:5]), target="mlflow", out=folder / "mlflow")
    return out


@pytest.mark.parametrize("target", ["container", "sql-edge-2.0", "mlflow"])
def test_a_package_whose_model_was_swapped_is_refused(packages: dict[str, Path], iris: dict[str, Any],
                                                      tmp_path: Path, capsys: Any, target: str) -> None:
    # before: exit 0, the rows scored by whatever model.onnx the folder held, where 'serve' and 'sql-dryrun'
    # refuse the package
    if target not in packages:
        pytest.skip("the extra 'mlflow' is not installed")
    import shutil

    import onnx

    swapped = Path(shutil.copytree(packages[target], tmp_path / "swapped"))
    model = onnx.load(swapped / "model.onnx")
    model.doc_string = "retrained"
    onnx.save(model, swapped / "model.onnx")
    out = tmp_path / "scored.parquet"
    assert main(["score", str(packages[target]), "--data", str(iris["data"]), "--out", str(out)]) == 0
    out.unlink()
    assert main(["score", str(swapped), "--data", str(iris["data"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{str(swapped / 'model.onnx')!r} is not the model this package was validated with" in err, err
    assert "re-run 'onnxgate package'" in err and not out.exists()


def test_a_file_with_two_columns_of_one_name_is_refused_by_name(iris: dict[str, Any], tmp_path: Path,
                                                               capsys: Any) -> None:
    # before: "unexpected KeyError ... please report it"
    X = iris["X"]
    data = tmp_path / "twice.parquet"
    pq.write_table(pa.table([*(pa.array(X[:, j]) for j in range(4)), pa.array(X[:, 3])], names=[*FEATURES, "f3"]),
                   data)
    out = tmp_path / "scored.parquet"
    assert main(["score", str(iris["onnx"]), "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{str(data)!r} has several columns named 'f3'; every column needs a name of its own" in err, err
    assert "unexpected" not in err and not out.exists()


def test_columns_named_alike_but_for_case_are_refused_before_spark_starts(iris: dict[str, Any], tmp_path: Path,
                                                                         capsys: Any) -> None:
    # one machine writes both; Spark resolves names whatever their case and failed after its start-up with
    # "unexpected AnalysisException [COLUMN_ALREADY_EXISTS]" (helper-125)
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    data = tmp_path / "cases.parquet"
    pd.DataFrame(iris["X"], columns=FEATURES).assign(ID=1, id=2).to_parquet(data)
    out = tmp_path / "scored"
    assert main(["score", str(iris["onnx"]), "--data", str(data), "--out", str(out), "--spark", "local[1]"]) == 2
    err = capsys.readouterr().err
    assert "several columns named 'ID', 'id' (Spark tells names apart whatever their case)" in err, err
    assert "unexpected" not in err and not out.exists()


def test_a_float16_column_is_refused_before_spark_starts(iris: dict[str, Any], tmp_path: Path, capsys: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Spark's Parquet reader refuses float16 ("[PARQUET_TYPE_ILLEGAL] ... FLOAT16"), and score --spark said so after
    # its start-up (28 s here) with no fix; one machine scores the file (helper-335)
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    import onnxgate.spark

    def no_spark(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Spark was started")

    monkeypatch.setattr(onnxgate.spark, "session", no_spark)
    monkeypatch.chdir(tmp_path)
    table = pa.table({name: iris["X"][:, i] for i, name in enumerate(FEATURES)})
    pq.write_table(table.set_column(1, "f1", pa.array(iris["X"][:, 1].astype(np.float16))), "half.parquet")

    assert main(["score", str(iris["onnx"]), "--data", "half.parquet", "--out", "scored", "--spark", "local[1]"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "'half.parquet' has float16 column(s) 'f1', and Spark cannot read float16 from Parquet" in err, err
    assert "cast them to float32" in err and "'onnxgate score' without --spark" in err, err
    assert not Path("scored").exists()
    assert main(["score", str(iris["onnx"]), "--data", "half.parquet", "--out", "scored.parquet"]) == 0

def test_a_folder_of_partition_folders_is_refused_on_one_machine(iris: dict[str, Any], tmp_path: Path,
                                                                capsys: Any) -> None:
    # score read the files inside site=0/ and site=1/ and wrote rows without their site, where score --spark
    # keeps it as a column: two tables from one input (helper-125)
    folder = tmp_path / "rows"
    for site in range(2):
        (folder / f"site={site}").mkdir(parents=True)
        pd.DataFrame(iris["X"][site::2], columns=FEATURES).to_parquet(folder / f"site={site}" / "part.parquet")
    out = tmp_path / "scored.parquet"
    assert main(["score", str(iris["onnx"]), "--data", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds the folder(s) ['site=0', 'site=1']" in err and "--spark" in err, err
    assert "unexpected" not in err and not out.exists()


def test_a_model_without_one_output_row_per_input_row_is_one_clear_error(tmp_path: Path, capsys: Any) -> None:
    # before: "unexpected ValueError: Arrays were not all the same length ... please report it"
    from onnx import TensorProto as T
    from onnx import helper as h

    graph = h.make_graph([h.make_node("ReduceSum", ["x"], ["total"], keepdims=1),
                          h.make_node("Identity", ["x"], ["same"])], "sum",
                         [h.make_tensor_value_info("x", T.FLOAT, ["N", 2])],
                         [h.make_tensor_value_info("total", T.FLOAT, ["N", 1]),
                          h.make_tensor_value_info("same", T.FLOAT, ["N", 2])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx_file, data, out = tmp_path / "sum.onnx", tmp_path / "rows.parquet", tmp_path / "scored.parquet"
    onnx_file.write_bytes(model.SerializeToString())
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}, dtype=np.float32).to_parquet(data)
    assert main(["score", str(onnx_file), "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert ("the model does not return one row per input row: for 3 input rows, output 'total' has 1 row; "
            "'score' writes each row's outputs beside it") in err, err
    assert "--outputs" in err and not out.exists()
    assert main(["score", str(onnx_file), "--data", str(data), "--out", str(out), "--outputs", "same"]) == 0


@pytest.mark.parametrize("spark", [[], ["--spark", "local[1]"]], ids=["one-machine", "spark"])
def test_an_output_named_twice_is_refused_before_any_work(iris: dict[str, Any], tmp_path: Path, capsys: Any,
                                                           spark: list[str]) -> None:
    assert main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(tmp_path / "o.parquet"),
                 "--outputs", "label,label", *spark]) == 2
    assert "output(s) ['label'] named more than once" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


def test_a_column_only_a_later_file_holds_is_refused_not_dropped(iris: dict[str, Any], tmp_path: Path,
                                                                 capsys: Any) -> None:
    # the scored rows took the first file's columns: b.parquet's 'id' was dropped, exit 0
    folder = tmp_path / "rows"
    folder.mkdir()
    frame = pd.DataFrame(iris["X"], columns=FEATURES)
    frame.iloc[:75].to_parquet(folder / "a.parquet")
    frame.iloc[75:].assign(id=np.arange(75)).to_parquet(folder / "b.parquet")
    assert main(["score", str(iris["onnx"]), "--data", str(folder), "--out", str(tmp_path / "o.parquet")]) == 2
    assert "'b.parquet' has column(s) ['id'] that the first file 'a.parquet' lacks" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


def test_a_bare_model_scores_nan_rows_and_says_how_many(iris: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    """An .onnx file carries no rule for missing values: its rows are scored as they are, and the command
    says which columns held NaN or infinity, in how many rows, across batches."""
    X = iris["X"].copy()
    X[[3, 40, 41], 1] = np.nan
    X[100, 2] = np.inf
    data = tmp_path / "holes.parquet"
    pd.DataFrame(X, columns=FEATURES).to_parquet(data)
    out = tmp_path / "scored.parquet"
    assert main(["score", str(iris["onnx"]), "--data", str(data), "--out", str(out), "--batch-size", "32"]) == 0
    err = capsys.readouterr().err
    assert "NaN or infinity in 'f1' (3 rows), 'f2' (1 row)" in err, err
    assert np.isnan(np.stack(pq.read_table(out).to_pandas()["probabilities"])[3]).all()
    capsys.readouterr()
    assert main(["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", str(out), "--force"]) == 0
    assert "NaN" not in capsys.readouterr().err


def test_a_row_holding_nan_and_infinity_in_one_array_column_counts_once(iris: dict[str, Any], tmp_path: Path,
                                                                         capsys: Any) -> None:
    # the count added the NaN rows to the infinity rows: a row holding both was two rows
    name = Signature.from_model(onnx.load(iris["onnx"])).inputs[0].name
    X = iris["X"].copy()
    X[7, :2] = [np.nan, np.inf]
    X[9, 3] = np.nan
    data = tmp_path / "array.parquet"
    pq.write_table(pa.table({name: pa.array(list(X), type=pa.list_(pa.float32(), 4))}), data)
    out = tmp_path / "scored.parquet"
    assert main(["score", str(iris["onnx"]), "--data", str(data), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"NaN or infinity in {name!r} (2 rows)" in err, err


def test_the_note_on_nan_rows_names_what_an_mlflow_package_does(packages: dict[str, Path], iris: dict[str, Any],
                                                                 tmp_path: Path, capsys: Any) -> None:
    # it told the user of an MLflow package that "an .onnx file" says nothing, and to score a package
    if "mlflow" not in packages:
        pytest.skip("the extra 'mlflow' is not installed")
    X = iris["X"].copy()
    X[[2, 5], 0] = np.nan
    data = tmp_path / "holes.parquet"
    pd.DataFrame(X, columns=FEATURES).to_parquet(data)
    out = tmp_path / "scored.parquet"
    assert main(["score", str(packages["mlflow"]), "--data", str(data), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "(2 rows)" in err and "this package sets no rule for them" in err, err
    assert ".onnx file" not in err and "score a container package" not in err


def test_an_output_of_rank_3_is_written_one_nested_list_per_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    # before: each row's [2,3] answer was written as one list of 6 values (list<float>), which values belonged
    # together lost; now list<list<float>>, each row onnxruntime's answer
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    monkeypatch.chdir(tmp_path)
    graph = helper.make_graph(
        [helper.make_node("Unsqueeze", ["x", "axis"], ["u"]), helper.make_node("Mul", ["u", "k"], ["out"])], "rank3",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 2, "M"])],
        [numpy_helper.from_array(np.array([2], dtype=np.int64), "axis"),
         numpy_helper.from_array(np.array([1, 10, 100], dtype=np.float32), "k")])
    model = tmp_path / "rank3.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], ir_version=8), model)
    X = np.random.default_rng(4).normal(size=(5, 2)).astype(np.float32)
    pd.DataFrame({"x": list(X)}).to_parquet("rows.parquet")
    assert main(["score", str(model), "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    scored = pq.read_table("scored.parquet")
    assert scored.schema.field("out").type == pa.list_(pa.list_(pa.float32()))
    want = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": X})[0]
    np.testing.assert_allclose(np.array(scored.column("out").to_pylist()), want, rtol=1e-6)


def test_a_model_with_a_fixed_batch_size_scores_every_row(tmp_path: Path) -> None:
    # before: "onnxgate score: error: onnxruntime failed on rows 0..39: ... Got: 40 Expected: 16" for a model whose
    # input is [16, 4]; now it scores 16 rows a run, the last run filled up, and writes one answer per row
    from onnx import TensorProto, helper, numpy_helper

    w = np.arange(8, dtype=np.float32).reshape(4, 2) / 8
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [16, 2])], [numpy_helper.from_array(w, "w")])
    model = tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), model)
    X = np.random.default_rng(3).normal(size=(40, 4)).astype(np.float32)
    pd.DataFrame(X, columns=FEATURES).to_parquet(tmp_path / "rows.parquet")
    out = tmp_path / "scored.parquet"
    assert main(["score", str(model), "--data", str(tmp_path / "rows.parquet"), "--out", str(out),
                 "--batch-size", "25"]) == 0
    scored = pq.read_table(out).to_pandas()
    assert len(scored) == 40
    np.testing.assert_allclose(np.stack(scored["y"]), X @ w, rtol=1e-5, atol=1e-6)


def test_the_last_run_of_a_fixed_batch_model_is_probed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 40 rows of a [16, 4] model: the last run of 8 rows was probed before a row was written (filled, filled again,
    # filled with the rows before it), then twice more while being scored: 8 runs of 16 rows where 6 do
    from onnx import TensorProto, helper, numpy_helper

    import onnxgate.runtime

    monkeypatch.chdir(tmp_path)
    w = np.arange(8, dtype=np.float32).reshape(4, 2) / 8
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [16, 2])], [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), "fixed.onnx")
    X = np.random.default_rng(3).normal(size=(40, 4)).astype(np.float32)
    pd.DataFrame(X, columns=FEATURES).to_parquet("rows.parquet")
    runs: list[int] = []

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def run(self, outputs: Any, feeds: dict[str, Any]) -> Any:
            runs.append(len(next(iter(feeds.values()))))
            return self.inner.run(outputs, feeds)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    real = onnxgate.runtime.session
    monkeypatch.setattr(onnxgate.runtime, "session", lambda *a, **k: Counting(real(*a, **k)))
    assert main(["score", "fixed.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    assert runs == [16] * 6  # the data's 3 runs, and the 3 of the probe of its last
    np.testing.assert_allclose(np.stack(pq.read_table("scored.parquet").to_pandas()["y"]), X @ w, rtol=1e-5, atol=1e-6)


def test_an_array_column_beside_an_id_is_refused_in_local_validate_words(tmp_path: Path, capsys: Any,
                                                                        monkeypatch: Any) -> None:
    # score said "expected the inputs ['input']; missing ['input'], unknown ['id', 'x']" (helper-310)
    from sklearn.linear_model import LogisticRegression

    monkeypatch.chdir(tmp_path)
    X = np.random.default_rng(0).normal(size=(40, 3))
    og.convert(LogisticRegression().fit(X, X[:, 0] > 0), X[:5]).save("model.onnx")
    pd.DataFrame({"id": range(40), "x": list(X)}).to_parquet("rows.parquet")
    assert main(["score", "model.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 2
    err = capsys.readouterr().err
    assert "column 'x' holds arrays (a list column) among other columns (['id'])" in err
    assert "keep only that column, named 'input'" in err and len(err.strip().splitlines()) == 1
    assert not Path("scored.parquet").exists()


def _centred_model(path: Path) -> None:
    """``y = x - x.mean(axis=0)`` for inputs of exactly 16 rows (``[16, 4]``): each row's answer depends on the other
    rows of its run, as a model exported with a fixed batch size and a batch statistic computes it."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["m"], axes=[0]), helper.make_node("Sub", ["x", "m"], ["y"])], "centred",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [16, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), path)


def test_a_fixed_batch_model_reading_the_other_rows_is_refused_a_last_run_to_fill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # before: exit 0, rows 32..39 written centred on a run filled up with 8 copies of row 39, silently
    monkeypatch.chdir(tmp_path)
    _centred_model(tmp_path / "centred.onnx")
    X = np.random.default_rng(4).normal(size=(40, 4)).astype(np.float32)
    pd.DataFrame(X, columns=FEATURES).to_parquet(tmp_path / "rows.parquet")
    assert main(["score", "centred.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "its answer for a row depends on the other rows of its run: the last run holds rows 32..39 only" in err, err
    assert "the data has 40 rows, and a multiple of 16 (32 or 48 here) would leave no run to fill" in err, err
    assert "dynamic_axes={'x': {0: 'batch'}}" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["centred.onnx", "rows.parquet"]  # nothing half-written


def test_a_fixed_batch_model_reading_the_other_rows_scores_whole_runs_whatever_the_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: --batch-size 25 cut 32 rows into 25 + 7, scored as runs of 16, 9 and 7 real rows, the last two filled
    # up: rows 16..31 were centred on filled runs. Now runs of the data's rows 0..15 and 16..31, whatever the batches
    monkeypatch.chdir(tmp_path)
    _centred_model(tmp_path / "centred.onnx")
    X = np.random.default_rng(4).normal(size=(32, 4)).astype(np.float32)
    pd.DataFrame(X, columns=FEATURES).to_parquet(tmp_path / "rows.parquet")
    args = ["score", "centred.onnx", "--data", "rows.parquet", "--out", "scored.parquet", "--batch-size", "25"]
    assert main(args) == 0
    got = np.stack(pq.read_table("scored.parquet").to_pandas()["y"])
    want = np.concatenate([X[:16] - X[:16].mean(axis=0), X[16:] - X[16:].mean(axis=0)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("command", ["score", "validate"])
def test_a_symbolic_link_to_nothing_at_the_output_path_is_kept_without_force(
        iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, command: str) -> None:
    # before: exit 0, and the user's link (out.parquet -> results/out.parquet, the folder not made yet) was replaced by
    # a file: Path.exists() is False for a link to nothing, so no --force was asked for
    monkeypatch.chdir(tmp_path)
    Path("out").symlink_to("results/out")
    args = (["score", str(iris["onnx"]), "--data", str(iris["data"]), "--out", "out"] if command == "score"
            else ["validate", str(iris["onnx"]), "--json", "out"])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "'out'" in err and "(a symbolic link to 'results/out', which does not exist)" in err, err
    assert "exist" in err and "--force" in err and err.count("\n") == 1, err
    assert Path("out").is_symlink() and not Path("results").exists()
    # with --force, written where the link points, as `> out` writes; the link stays
    assert main([*args, "--force"]) == 0
    assert Path("out").is_symlink() and Path("results/out").is_file()

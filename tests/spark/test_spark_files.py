"""Parquet paths read by the Python workers themselves: the same evidence and rows as through Spark's reader."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from _spark_parity import parity

import onnxgate as og
import onnxgate.spark as ogs
from onnxgate.cli import main
from onnxgate.errors import InvalidDataError
from onnxgate.spark._files import parquet_fragments, rows_of

FEATURES = ["f0", "f1", "f2", "f3"]


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    model = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0).fit(X, X[:, 0] + X[:, 1] ** 2)
    root = tmp_path_factory.mktemp("files")
    files, keyed = root / "rows", root / "keyed"
    files.mkdir()
    keyed.mkdir()
    for i, part in enumerate(np.array_split(X, 5)):  # five files, the middle one in two row groups
        frame = pd.DataFrame(part, columns=FEATURES)
        frame.to_parquet(files / f"part-{i}.parquet", row_group_size=300 if i == 2 else None)
        frame.assign(id=np.arange(len(part), dtype=np.int64) + 1000 * i).to_parquet(keyed / f"part-{i}.parquet")
    (files / "_SUCCESS").write_text("")  # what Spark writes beside its files; skipped by both readers
    return {"model": model, "conv": og.convert(model, X[:5]), "files": files, "keyed": keyed}


def _through_spark(spark: Any, folder: Path) -> Any:
    """The folder's rows as a DataFrame Spark's own reader feeds: with a reader option, it is not a
    plain ``spark.read.parquet`` (which the workers would read themselves), though the rows are the same."""
    return spark.read.option("pathGlobFilter", "*.parquet").parquet(str(folder))


def test_a_parquet_path_gives_the_evidence_spark_reader_gives(local_spark: Any, forest: dict[str, Any]) -> None:
    tol = {"atol": 1e-7, "rtol": 1e-7}  # float32 rounding makes rows mismatch: counts and rows compared
    conv = forest["conv"].model  # a plain model: the feature columns are named in the conversion only
    via_path = parity(ogs.validate(conv, forest["files"], reference=forest["model"], **tol, spark=local_spark))
    frame = _through_spark(local_spark, forest["files"])
    via_spark = parity(ogs.validate(conv, frame, reference=forest["model"], **tol))
    assert via_path.details["engine"]["reader"] == "pyarrow in the Python workers"
    assert via_spark.details["engine"]["reader"] == "Spark"
    (a,), (b,) = via_path.details["outputs"], via_spark.details["outputs"]
    assert a["rows"] == b["rows"] == 3000
    assert a["mismatched_rows"] == b["mismatched_rows"] > 0
    assert a["abs"]["max"] == b["abs"]["max"] and a["min_atol"] == b["min_atol"]
    assert sorted(r["error"] for r in a["worst_rows"]) == sorted(r["error"] for r in b["worst_rows"])
    # Spark packs files into partitions largest first; the workers read them in file order, so the
    # row numbers are those of local parity on the files read one after the other
    data = pd.concat([pd.read_parquet(p) for p in sorted(forest["files"].glob("*.parquet"))], ignore_index=True)
    local = parity(og.validate(conv, data=data, reference=forest["model"], **tol))
    (c,) = local.details["outputs"]
    assert a["mismatched_row_indices"] == c["mismatched_row_indices"]
    assert a["worst_rows"] == c["worst_rows"]  # row numbers, inputs and both predictions


def test_predict_on_a_path_gives_the_rows_of_predict_on_spark_read(local_spark: Any, forest: dict[str, Any]) -> None:
    model = forest["conv"]
    via_path = ogs.predict(forest["keyed"], model, columns=FEATURES, spark=local_spark)
    via_spark = ogs.predict(_through_spark(local_spark, forest["keyed"]), model, columns=FEATURES)
    assert via_path.schema == via_spark.schema
    # inputs nullable as Spark's reader makes every Parquet column; an output is never null
    assert [f.nullable for f in via_path.schema] == [True] * 5 + [False]
    ours = via_path.toPandas().sort_values("id", ignore_index=True)
    theirs = via_spark.toPandas().sort_values("id", ignore_index=True)
    pd.testing.assert_frame_equal(ours, theirs)
    assert len(ours) == 3000 and ours["variable"].notna().all()


def test_a_dataframe_that_is_a_plain_parquet_read_is_read_by_the_workers(local_spark: Any, forest: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    plain = local_spark.read.parquet(str(forest["files"]))
    rows = rows_of(plain)
    assert rows.fragments and rows.columns == FEATURES
    report = ogs.validate(forest["conv"].model, plain, reference=forest["model"])
    assert parity(report).details["engine"]["reader"] == "pyarrow in the Python workers" and report.passed
    single = next(forest["files"].glob("part-0.parquet"))
    assert rows_of(local_spark.read.parquet(str(single))).fragments
    # anything more than the plain read or a pick of its columns keeps Spark's reader: a filter, a
    # schema, an option, a cast, a renamed column, a column picked in another case (picked twice: refused by name)
    with pytest.raises(InvalidDataError, match="several columns named 'f0'"):
        rows_of(plain.select("f0", "f0"))
    changed = [
        plain.filter("f0 > 0"),
        plain.select(plain["f0"].cast("float"), "f1"),
        plain.select(plain["f0"].alias("g0"), "f1"),
        plain.select("F0", "f1"),
        local_spark.read.schema("f0 double, f1 double, f2 double, f3 double").parquet(str(forest["files"])),
        _through_spark(local_spark, forest["files"]),
        local_spark.createDataFrame(pd.read_parquet(single)),
    ]
    assert [rows_of(frame).fragments for frame in changed] == [False] * len(changed)
    # a plain read of files the workers cannot read as Spark does (a date column) stays with Spark
    dates = tmp_path / "dates.parquet"
    pd.DataFrame({"when": pd.to_datetime(["2026-12-01"]), "f0": [1.0]}).to_parquet(dates)
    assert not rows_of(local_spark.read.parquet(str(dates))).fragments
    assert not rows_of(dates, local_spark).fragments


def test_columns_picked_from_a_plain_parquet_read_are_read_by_the_workers(local_spark: Any,
                                                                          forest: dict[str, Any]) -> None:
    keyed = local_spark.read.parquet(str(forest["keyed"]))
    picked = keyed.select("id", *reversed(FEATURES))  # reordered, one column of five left out below
    rows = rows_of(picked)
    assert rows.fragments and rows.columns == ["id", *reversed(FEATURES)]
    assert rows_of(keyed.drop("id")).columns == FEATURES
    model = forest["conv"]
    ours = ogs.predict(picked, model, columns=FEATURES)
    theirs = ogs.predict(_through_spark(local_spark, forest["keyed"]).select("id", *reversed(FEATURES)), model,
                         columns=FEATURES)
    assert ours.schema == theirs.schema and ours.columns == ["id", *reversed(FEATURES), "variable"]
    pd.testing.assert_frame_equal(ours.toPandas().sort_values("id", ignore_index=True),
                                  theirs.toPandas().sort_values("id", ignore_index=True))
    report = ogs.validate(model.model, keyed.drop("id"), reference=forest["model"])
    assert parity(report).details["engine"]["reader"] == "pyarrow in the Python workers" and report.passed
    assert parity(report).details["outputs"][0]["rows"] == 3000


def test_what_spark_reads_by_its_own_rules_goes_through_spark(tmp_path: Path, forest: dict[str, Any]) -> None:
    assert parquet_fragments(forest["files"]) is not None
    partitioned = tmp_path / "partitioned"
    shutil.copytree(forest["files"], partitioned / "year=2026")  # a partition column Spark would add
    assert parquet_fragments(partitioned) is None
    other = tmp_path / "other"
    shutil.copytree(forest["files"], other)
    (other / "notes.txt").write_text("x")
    assert parquet_fragments(other) is None
    mixed = tmp_path / "mixed"
    shutil.copytree(forest["files"], mixed)
    pd.DataFrame({"f0": np.float32([1.0])}).to_parquet(mixed / "part-9.parquet")  # another schema, one type
    assert parquet_fragments(mixed) is None
    dates = tmp_path / "dates.parquet"
    pd.DataFrame({"when": pd.to_datetime(["2026-12-01"])}).to_parquet(dates)
    assert parquet_fragments(dates) is None
    assert parquet_fragments("s3://bucket/rows") is None
    # a column typed otherwise in one file: Spark failed deep in the job with a Java stack trace
    typed = tmp_path / "typed"
    shutil.copytree(forest["files"], typed)
    pd.DataFrame({"f0": ["text"], "f1": [1.0], "f2": [1.0], "f3": [1.0]}).to_parquet(typed / "part-9.parquet")
    with pytest.raises(InvalidDataError, match=r"'part-9.parquet' types column 'f0' as (large_)?string, but 'part-0"):
        parquet_fragments(typed)
    # a column of nulls only (pandas writes all-None as Arrow's null type) takes the others' type, as the docs
    # and the one-machine score say: it was refused as "types column 'f0' as null"
    nulls = tmp_path / "nulls"
    shutil.copytree(forest["files"], nulls)
    pd.DataFrame({"f0": [None], **{f: np.float32([1.0]) for f in FEATURES[1:]}}).to_parquet(nulls / "part-9.parquet")
    assert parquet_fragments(nulls) is None  # not refused: read by Spark, as a folder of two schemas is


def test_a_partitioned_folder_is_still_validated_through_spark(local_spark: Any, forest: dict[str, Any],
                                                               tmp_path: Path) -> None:
    partitioned = tmp_path / "partitioned"
    shutil.copytree(forest["files"], partitioned / "year=2026")
    report = ogs.validate(forest["conv"].model, local_spark.read.parquet(str(partitioned)).drop("year"),
                          reference=forest["model"], spark=local_spark)
    assert parity(report).details["engine"]["reader"] == "Spark" and report.passed
    with pytest.raises(InvalidDataError, match="not found"):
        ogs.validate(forest["conv"].model, tmp_path / "missing", reference=forest["model"], spark=local_spark)


def test_predict_keeps_the_nullability_of_a_dataframes_columns(local_spark: Any, forest: dict[str, Any]) -> None:
    from pyspark.sql.types import FloatType, StructField, StructType

    schema = StructType([*(StructField(c, FloatType(), c != "f0") for c in FEATURES), StructField("note", FloatType())])
    frame = local_spark.createDataFrame([(0.5, 1.0, 2.5, 3.0, None), (0.25, 1.0, 2.0, 3.0, 7.0)], schema)
    scored = ogs.predict(frame, forest["conv"], columns=FEATURES)
    assert [(f.name, f.nullable) for f in scored.schema] == [
        ("f0", False), ("f1", True), ("f2", True), ("f3", True), ("note", True), ("variable", False)]
    rows = scored.collect()
    assert rows[0]["note"] is None and [r["f0"] for r in rows] == [0.5, 0.25]
    # a null feeding a float input is read as NaN, as pandas reads a Parquet null: the row is scored
    # as local scoring scores a NaN (the forest sends it down one branch)
    holed = local_spark.createDataFrame([(0.5, 1.0, None, 3.0, 1.0), (0.25, 1.0, 2.0, 3.0, 7.0)], schema)
    import onnxruntime as ort

    from onnxgate._data import as_feeds

    scored_holes = ogs.predict(holed, forest["conv"], columns=FEATURES).collect()
    session = ort.InferenceSession(forest["conv"].model.SerializeToString(), providers=["CPUExecutionProvider"])
    row = pd.DataFrame({"f0": [0.5], "f1": [1.0], "f2": [np.nan], "f3": [3.0]})
    (local,) = session.run(None, as_feeds(row, forest["conv"].signature))
    assert scored_holes[0]["f2"] is None
    assert scored_holes[0]["variable"] == pytest.approx(float(np.ravel(local)[0]))


def test_predict_passes_through_columns_with_any_name(local_spark: Any, forest: dict[str, Any],
                                                      tmp_path: Path) -> None:
    odd = ["r`s", "p.q", "t u", "é"]
    frame = pd.read_parquet(next(forest["files"].glob("part-0.parquet")))
    for i, name in enumerate(odd):
        frame[name] = np.arange(len(frame), dtype=np.int64) * (i + 1)
    path = tmp_path / "odd.parquet"
    frame.to_parquet(path)
    for data in (path, _through_spark(local_spark, path)):  # the workers' reader, then Spark's
        scored = ogs.predict(data, forest["conv"], columns=FEATURES, spark=local_spark).toPandas()
        assert list(scored.columns) == [*FEATURES, *odd, "variable"]
        pd.testing.assert_frame_equal(scored[odd], frame[odd])
        assert scored["variable"].notna().all()


def test_predict_feeds_the_users_own_column_names(local_spark: Any, tmp_path: Path) -> None:
    """A model converted from a DataFrame records the user's names (``mean radius`` -> input
    ``mean_radius``): the Spark rows are fed under those names, as local scoring does."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["mean radius", "c.d", "é x"])
    model = LinearRegression().fit(frame, frame.sum(axis=1))
    conv = og.convert(model, frame.head())
    assert conv.signature.input_names != list(frame.columns)  # the names were sanitised
    path = tmp_path / "named.parquet"
    frame.assign(id=np.arange(200)).to_parquet(path)
    scored = ogs.predict(path, conv, spark=local_spark).toPandas().sort_values("id")
    assert list(scored.columns) == [*frame.columns, "id", "variable"]
    np.testing.assert_allclose(scored["variable"].to_numpy(), model.predict(frame), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("command", ["score", "validate"])
def test_a_csv_is_refused_before_spark_starts(forest: dict[str, Any], command: str, tmp_path: Path) -> None:
    # before: the same refusal, but after a JVM started (40 s for validate here) and with the JVM's "WARNING:
    # Using incubator modules" line before it on stderr (helper-190)
    import subprocess
    import sys

    forest["conv"].save(tmp_path / "m.onnx")
    pd.DataFrame(np.zeros((3, 4)), columns=FEATURES).to_csv(tmp_path / "rows.csv", index=False)
    args = (["score", "m.onnx", "--data", "rows.csv", "--out", "scored"] if command == "score" else
            ["validate", "m.onnx", "--reference", "m.onnx", "--data", "rows.csv"])
    proc = subprocess.run([sys.executable, "-m", "onnxgate", *args, "--spark", "local[1]"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"onnxgate {command}: error: on Spark, data is read as Parquet: expected a .parquet file or a folder of "
        "them, found 'rows.csv'"], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "rows.csv"]


def test_text_as_pandas_3_writes_it_is_read_by_the_workers_in_file_order(local_spark: Any, tmp_path: Path,
                                                                         monkeypatch: Any, capsys: Any) -> None:
    # pandas 3 writes a str column as Arrow large_string; the workers took only string, so such a folder went
    # through Spark's reader, which packs the larger files first: the scored rows came out of the file order
    import json
    import pickle

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"color": np.array(["red", "green", "blue"])[rng.integers(0, 3, 600)],
                          "x": rng.normal(size=600)})
    model = make_pipeline(ColumnTransformer([("c", OneHotEncoder(), ["color"])], remainder="passthrough"),
                          LogisticRegression()).fit(frame, (frame.x > 0).astype(int))
    monkeypatch.chdir(tmp_path)
    og.convert(model, frame[:5]).save("m.onnx")
    Path("ref.pkl").write_bytes(pickle.dumps(model))
    Path("rows").mkdir()
    for i, (start, stop) in enumerate([(0, 100), (100, 400), (400, 600)]):  # the second file the largest
        frame[start:stop].to_parquet(f"rows/part-{i}.parquet")  # as users write it
    assert str(pq.read_schema("rows/part-0.parquet").field("color").type) == "large_string"
    assert main(["validate", "m.onnx", "--reference", "ref.pkl", "--trust-pickle", "--data", "rows",
                 "--spark", "local[2]", "--json", "report.json"]) == 0, capsys.readouterr().out
    (check,) = [c for c in json.loads(Path("report.json").read_text())["checks"] if c["name"] == "prediction_parity"]
    assert check["details"]["engine"]["reader"] == "pyarrow in the Python workers"
    assert check["details"]["outputs"][0]["rows"] == 600
    assert main(["score", "m.onnx", "--data", "rows", "--out", "scored", "--spark", "local[2]"]) == 0
    scored = pq.read_table("scored")
    assert scored.column("x").to_pylist() == frame["x"].tolist()  # the files' order, row for row
    assert scored.column("color").to_pylist() == frame["color"].tolist()
    np.testing.assert_array_equal(scored.column("label").to_numpy(), model.predict(frame))


def _colors_model(tmp_path: Path) -> tuple[Any, pd.DataFrame]:
    """A one-hot pipeline over a text column, saved as m.onnx and ref.pkl in ``tmp_path``, and its rows."""
    import pickle

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"color": np.array(["red", "green", "blue"])[rng.integers(0, 3, 600)],
                          "x": rng.normal(size=600)})
    model = make_pipeline(ColumnTransformer([("c", OneHotEncoder(), ["color"])], remainder="passthrough"),
                          LogisticRegression()).fit(frame, (frame.x > 0).astype(int))
    og.convert(model, frame[:5]).save(tmp_path / "m.onnx")
    (tmp_path / "ref.pkl").write_bytes(pickle.dumps(model))
    return model, frame


def test_a_folder_of_string_and_large_string_files_is_read_in_file_order(local_spark: Any, tmp_path: Path,
                                                                         monkeypatch: Any, capsys: Any) -> None:
    # pandas 2 and Spark write text as string, pandas 3 as large_string: such a folder went through Spark's reader,
    # which reads the largest file first, so score --spark wrote the rows out of the file order, and validate --spark
    # numbered the worst rows otherwise than validate (333 there was 233)
    import json

    import pyarrow as pa

    monkeypatch.chdir(tmp_path)
    model, frame = _colors_model(tmp_path)
    Path("rows").mkdir()
    for i, (start, stop) in enumerate([(0, 100), (100, 400), (400, 600)]):  # the large_string file the largest
        text = pa.large_string() if i == 1 else pa.string()
        table = pa.Table.from_pandas(frame[start:stop], preserve_index=False)
        pq.write_table(table.cast(pa.schema([pa.field("color", text), pa.field("x", pa.float64())])),
                       f"rows/part-{i}.parquet")
    reports = {}
    for spark in ([], ["--spark", "local[2]"]):
        name = f"report{len(spark)}.json"
        assert main(["validate", "m.onnx", "--reference", "ref.pkl", "--trust-pickle", "--data", "rows", *spark,
                     "--json", name]) == 0, capsys.readouterr().out
        (check,) = [c for c in json.loads(Path(name).read_text())["checks"] if c["name"] == "prediction_parity"]
        reports[bool(spark)] = check["details"]
    assert reports[True]["engine"]["reader"] == "pyarrow in the Python workers"
    ours, theirs = reports[True]["outputs"], reports[False]["outputs"]
    assert [o["rows"] for o in ours] == [600, 600]
    assert [[r["row"] for r in o["worst_rows"]] for o in ours] == [[r["row"] for r in o["worst_rows"]] for o in theirs]
    assert main(["score", "m.onnx", "--data", "rows", "--out", "local.parquet"]) == 0
    assert main(["score", "m.onnx", "--data", "rows", "--out", "scored", "--spark", "local[2]"]) == 0
    local, scored = pq.read_table("local.parquet"), pq.read_table("scored")
    for column in ("color", "x", "label"):  # the files' order, row for row, as score without --spark
        assert scored.column(column).to_pylist() == local.column(column).to_pylist()
    np.testing.assert_array_equal(scored.column("label").to_numpy(), model.predict(frame))
    np.testing.assert_allclose(np.stack(scored.column("probabilities").to_numpy(zero_copy_only=False)),
                               model.predict_proba(frame), rtol=1e-5, atol=1e-6)


def test_score_on_spark_keeps_the_not_null_columns_of_the_files(local_spark: Any, tmp_path: Path,
                                                                 monkeypatch: Any) -> None:
    # a Parquet column declared NOT NULL: score wrote it NOT NULL, score --spark nullable (Spark's reader makes
    # every column nullable), so the two outputs' schemas differed
    import pyarrow as pa

    monkeypatch.chdir(tmp_path)
    _, frame = _colors_model(tmp_path)
    schema = pa.schema([pa.field("color", pa.string(), False), pa.field("x", pa.float64(), False),
                        pa.field("id", pa.int64(), False), pa.field("note", pa.string())])
    Path("rows").mkdir()
    for i, (start, stop) in enumerate([(0, 300), (300, 600)]):
        part = frame[start:stop]
        pq.write_table(pa.table({"color": part["color"].astype(str).tolist(), "x": part["x"].to_numpy(),
                                 "id": np.arange(start, stop), "note": ["n"] * (stop - start)}, schema=schema),
                       f"rows/part-{i}.parquet")
    assert main(["score", "m.onnx", "--data", "rows", "--out", "local.parquet"]) == 0
    assert main(["score", "m.onnx", "--data", "rows", "--out", "scored", "--spark", "local[2]"]) == 0
    local = pq.read_schema("local.parquet").remove_metadata()
    (written,) = sorted(Path("scored").glob("*.parquet"))[:1]
    assert pq.read_schema(written).remove_metadata() == local
    assert [(f.name, f.nullable) for f in local] == [("color", False), ("x", False), ("id", False), ("note", True),
                                                     ("label", False), ("probabilities", False)]
    assert pq.read_table("scored").column("id").to_pylist() == list(range(600))  # values kept


def test_validate_leaves_no_broadcast_behind(local_spark: Any, forest: dict[str, Any]) -> None:
    # the model's and the reference's bytes are broadcast once per parity job; each broadcast stayed, a file in the
    # driver's temporary folder (and blocks in its JVM) until the session stopped: 85 MB per validate of a 54.6 MB
    # forest in a long-lived session
    temp = Path(local_spark.sparkContext._temp_dir)
    before = set(temp.iterdir())
    for _ in range(2):
        report = ogs.validate(forest["conv"].model, forest["files"], reference=forest["model"], spark=local_spark)
        assert report.passed
    assert sorted(p.name for p in set(temp.iterdir()) - before) == []


def _zoned_and_nested_rows() -> None:
    """``m.onnx`` (x -> y) and ``rows.parquet``, in the working folder: time-zoned timestamps and nested NOT NULL
    fields, alone and in a struct, beside the model's input."""
    import onnx
    import pyarrow as pa
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity",
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save(model, "m.onnx")
    moments = pd.date_range("2024-03-31 00:00", periods=8, freq="h", tz="Europe/Paris")  # across a change of hour
    pair = pa.struct([pa.field("a", pa.int64(), False), pa.field("b", pa.string())])
    schema = pa.schema([
        pa.field("x", pa.float64()), pa.field("when", pa.timestamp("us", tz="Europe/Paris")),
        pa.field("stamped", pa.timestamp("ms", tz="UTC"), False), pa.field("pair", pair),
        pa.field("pair_required", pair, False), pa.field("ids", pa.list_(pa.field("element", pa.int64(), False))),
        pa.field("zoned", pa.struct([pa.field("at", pa.timestamp("us", tz="America/New_York"))]))])
    pq.write_table(pa.table({
        "x": np.arange(8.0), "when": pa.array(moments), "stamped": pa.array(moments.tz_convert("UTC")),
        "pair": [{"a": i, "b": None} for i in range(8)], "pair_required": [{"a": -i, "b": "b"} for i in range(8)],
        "ids": [[i, i + 1] for i in range(8)], "zoned": [{"at": t} for t in moments.tz_convert("America/New_York")],
    }, schema=schema), "rows.parquet")


def test_score_on_spark_keeps_time_zones_and_nested_not_null_fields(local_spark: Any, tmp_path: Path,
                                                                     monkeypatch: Any) -> None:
    # Spark keeps a timestamp as an instant with no zone of its own and writes it as INT96: score --spark wrote the
    # column 'when' (Europe/Paris) as a naive timestamp[ns], where score keeps timestamp[us, tz=Europe/Paris]; and its
    # reader makes every nested field nullable: a struct's or a list's NOT NULL fields came back nullable
    monkeypatch.chdir(tmp_path)
    _zoned_and_nested_rows()
    assert main(["score", "m.onnx", "--data", "rows.parquet", "--out", "local.parquet"]) == 0
    assert main(["score", "m.onnx", "--data", "rows.parquet", "--out", "scored", "--spark", "local[1]"]) == 0
    local = pq.read_table("local.parquet")
    spark = pq.read_table("scored")
    assert spark.schema.remove_metadata().equals(local.schema.remove_metadata(), check_metadata=False), spark.schema
    assert str(spark.schema.field("when").type) == "timestamp[us, tz=Europe/Paris]"
    assert spark.to_pylist() == local.to_pylist()  # the same instants, in the same zones
    assert local_spark.read.parquet(str(tmp_path / "scored")).count() == 8  # Spark reads back what was rewritten


def test_predicting_with_one_model_again_leaves_one_broadcast_and_every_result_usable(local_spark: Any,
                                                                                       forest: dict[str, Any]) -> None:
    # each predict broadcast the model's bytes anew and never freed them: a file in the driver's temporary folder
    # per call until the session stopped (5 calls with a 1.8 MB forest left 9.1 MB). The result is lazy, so the
    # broadcast cannot be destroyed under it: a later predict of the same model shares it
    temp = Path(local_spark.sparkContext._temp_dir)
    before = set(temp.iterdir())
    df = _through_spark(local_spark, forest["keyed"])
    results = [ogs.predict(df, forest["conv"], columns=FEATURES) for _ in range(3)]
    for scored in results:
        assert scored.count() == 3000
    assert results[0].filter("id < 5").count() == 5  # the first result, and one made from it, used again
    left = set(temp.iterdir()) - before
    assert len(left) <= 1, sorted(p.name for p in left)


def test_release_frees_a_models_broadcast_and_a_later_predict_broadcasts_it_again(local_spark: Any,
                                                                                  forest: dict[str, Any]) -> None:
    # predict keeps each model's broadcast for the session's life (its results are lazy); a session scoring many
    # models had no way to free them but stopping
    ogs.release(spark=local_spark)  # what earlier tests left
    temp = Path(local_spark.sparkContext._temp_dir)
    before = set(temp.iterdir())
    df = _through_spark(local_spark, forest["keyed"])
    assert ogs.predict(df, forest["conv"], columns=FEATURES).count() == 3000
    assert len(set(temp.iterdir()) - before) == 1  # the model's bytes, in the driver's temporary folder
    assert ogs.release(forest["conv"].model, spark=local_spark) == 1
    assert set(temp.iterdir()) - before == set()  # the file is gone
    assert ogs.release(forest["conv"], spark=local_spark) == 0  # nothing left to free
    scored = ogs.predict(df, forest["conv"], columns=FEATURES)  # broadcast anew
    assert scored.count() == 3000
    assert len(set(temp.iterdir()) - before) == 1
    assert ogs.release(spark=local_spark) == 1


def test_score_on_spark_to_a_file_url_keeps_the_types_and_a_remote_url_names_those_it_loses(
        local_spark: Any, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    # before: --out file:///x went through Spark's writer as a URL of another filesystem: the time zones and nested
    # NOT NULL fields that --out /x keeps were lost (timestamp[ns] with no zone, nullable fields), and nothing said so.
    # Now a file: URL is the local folder it names; a URL of another filesystem (hdfs://, s3a://) still loses them,
    # and a note says which columns, as it says of unsigned integers
    from onnxgate._commands import _spark

    monkeypatch.chdir(tmp_path)
    _zoned_and_nested_rows()
    assert main(["score", "m.onnx", "--data", "rows.parquet", "--out", "local.parquet"]) == 0
    capsys.readouterr()
    assert main(["score", "m.onnx", "--data", "rows.parquet", "--out", f"file://{tmp_path / 'url'}", "--spark",
                 "local[1]"]) == 0
    assert "note:" not in capsys.readouterr().err
    local = pq.read_table("local.parquet")
    assert pq.read_table("url").schema.remove_metadata().equals(local.schema.remove_metadata()), pq.read_table("url")
    assert _spark._remote("hdfs://cluster/x") and _spark._remote("s3a://bucket/x")
    assert not _spark._remote("file:///x") and not _spark._remote("file://localhost/x")
    # Spark's writer writing a URL as it is: here the file: URL stands for a remote one
    monkeypatch.setattr(_spark, "_remote", lambda out: True)
    assert main(["score", "m.onnx", "--data", "rows.parquet", "--out", f"file://{tmp_path / 'remote'}", "--spark",
                 "local[1]"]) == 0
    err = capsys.readouterr().err
    assert "note: Spark's writer keeps no time zone on a timestamp" in err, err
    named = err.split("the column(s) ")[1].split(" are written without them")[0]
    assert all(f"'{c}' (" in named for c in ("when", "stamped", "pair", "pair_required", "ids", "zoned")), named
    assert "'x' (" not in named and "'pair_required' (struct<a: int64 not null, b: string> not null)" in named, named
    assert str(pq.read_table("remote").schema.field("when").type) != "timestamp[us, tz=Europe/Paris]"  # as said


def test_a_file_gone_before_a_worker_reads_it_is_named(tmp_path: Path) -> None:
    """A data file removed (or replaced) after the driver planned the job: score --spark said 'unexpected
    PythonException' with a worker traceback, and 'please report it'."""
    import pyarrow as pa

    from onnxgate.spark import worker_input_error
    from onnxgate.spark._files import fragment_batches

    gone = str(tmp_path / "part-0.parquet")
    pairs = pa.record_batch([pa.array([gone]), pa.array([0]), pa.array([1]), pa.array([1])],
                            names=["path", "row_group", "size", "mtime_ns"])
    with pytest.raises(InvalidDataError, match=r"part-0\.parquet' is gone on an executor") as caught:
        list(fragment_batches(iter([pairs]), 1024))
    found = worker_input_error(Exception(f"Traceback ...\nonnxgate.errors.InvalidDataError: {caught.value}"))
    assert isinstance(found, InvalidDataError) and "shared filesystem" in str(found)


def test_a_file_rewritten_with_as_many_row_groups_after_planning_is_refused(local_spark: Any,
                                                                            forest: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    # the workers read row groups by number: a file replaced by another with as many row groups after predict planned
    # the job was read whole, its new rows scored as the planned ones, and nothing said so
    rows = tmp_path / "rows"
    shutil.copytree(forest["files"], rows)
    scored = ogs.predict(str(rows), forest["conv"], spark=local_spark)
    assert scored.count() == 3000
    part = rows / "part-2.parquet"
    before = pq.ParquetFile(part).metadata.num_row_groups
    rewritten = pd.read_parquet(part) * 2
    rewritten.to_parquet(part, row_group_size=300)
    assert pq.ParquetFile(part).metadata.num_row_groups == before == 2
    with pytest.raises(Exception, match=r"part-2\.parquet' changed on an executor .*call predict again") as caught:
        scored.collect()
    found = ogs.worker_input_error(caught.value)
    assert isinstance(found, InvalidDataError) and "rewritten after the driver planned" in str(found)
    again = ogs.predict(str(rows), forest["conv"], spark=local_spark).toPandas()  # what the message says to do
    assert np.allclose(again[FEATURES].to_numpy()[1200:1800], rewritten.to_numpy())

"""``onnxgate validate`` and ``onnxgate sweep``: exit codes 0/1/2 and reports parsed back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from onnx import TensorProto, helper

from onnxgate import targets
from onnxgate.cli import main


def _identity(path, shape=("N", 1), opset=13):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory):
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import onnxgate as og

    folder = tmp_path_factory.mktemp("iris")
    X, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    sio.dump(clf, folder / "iris.skops")
    np.save(folder / "iris.npy", X)
    og.convert(clf, X[:5], opset=15).save(folder / "iris.onnx")
    bent = LogisticRegression(max_iter=1000).fit(X[:120], y[:120])  # another model: parity must fail
    sio.dump(bent, folder / "other.skops")
    return folder


def test_passing_model_exits_0_and_writes_parsable_reports(tmp_path, iris_files, capsys):
    args = [
        "validate",
        str(iris_files / "iris.onnx"),
        "--target",
        "container",
        "--reference",
        str(iris_files / "iris.skops"),
        "--data",
        str(iris_files / "iris.npy"),
        "--json",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "r.xml"),
        "--markdown",
        str(tmp_path / "r.md"),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "PASSED   prediction_parity" in out and out.strip().endswith("for target 'container'")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema_version"] == 1 and data["passed"] is True
    assert data["checks"][-1]["name"] == "prediction_parity" and data["checks"][-1]["details"]["rows"] == 150
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    checks = len(targets.get("container").checks) + 1  # and parity
    assert suite is not None and suite.get("failures") == "0" and len(suite.findall("testcase")) == checks
    assert (tmp_path / "r.md").read_text().startswith("### onnxgate validate: ✅ passed")


def test_parity_failure_exits_1_with_evidence(tmp_path, iris_files, capsys):
    args = [
        "validate",
        str(iris_files / "iris.onnx"),
        "--reference",
        str(iris_files / "other.skops"),
        "--data",
        str(iris_files / "iris.npy"),
        "--atol",
        "1e-6",
        "--atol",
        "probabilities=1e-5",
        "--json",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "r.xml"),
    ]
    assert main(args) == 1
    assert "FAILED   prediction_parity" in capsys.readouterr().out
    data = json.loads((tmp_path / "r.json").read_text())
    outputs = {o["name"]: o for o in data["checks"][-1]["details"]["outputs"]}
    assert outputs["probabilities"]["atol"] == 1e-5 and outputs["probabilities"]["mismatched_rows"] > 0
    (failure,) = ET.parse(tmp_path / "r.xml").getroot().iter("failure")
    assert "output 'probabilities'  max_abs=" in failure.get("message", "")


def test_data_the_reference_refuses_is_an_input_error_not_a_failed_model(tmp_path, iris_files, capsys):
    # LogisticRegression raises on NaN where the ONNX model scores it: nothing was compared, yet this
    # exited 1, "the model failed", with a report saying prediction_parity FAILED
    X = np.load(iris_files / "iris.npy")
    X[20, 1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    argv = ["validate", str(iris_files / "iris.onnx"), "--reference", str(iris_files / "iris.skops"),
            "--data", str(tmp_path / "nan.npy"), "--json", str(tmp_path / "r.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "the reference model failed on rows 0..149 (first at row 20: input=[" in err, err
    assert "of the data: ValueError: Input X contains NaN; nothing was " \
           "compared" in err, err
    assert not (tmp_path / "r.json").exists()


def test_an_onnx_reference_with_other_inputs_is_an_input_error_not_a_failed_model(tmp_path, iris_files, capsys):
    # nothing was compared, yet this exited 1 where a native reference that cannot take the data exits 2
    # (helper-83)
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["features"], ["label"])], "other",
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("label", TensorProto.FLOAT, ["N", 4])])
    other = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    other.ir_version = 7
    onnx.save(other, tmp_path / "other.onnx")
    argv = ["validate", str(iris_files / "iris.onnx"), "--reference", str(tmp_path / "other.onnx"),
            "--data", str(iris_files / "iris.npy"), "--json", str(tmp_path / "r.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs inputs ['features']" in err and "nothing was compared" in err, err
    assert not (tmp_path / "r.json").exists()


def test_search_no_nan_keeps_the_search_to_finite_rows(tmp_path, capsys):
    # a framework that answers a NaN row with a number (the zoo's TensorFlow MLP: 0.1896) fails the search's
    # NaN rows on any target whose inputs hold NaN, and the CLI had no way to say the data never holds NaN
    # (helper-83): here a reference that reads NaN as 0 against a file that keeps it
    import onnx
    from onnx import TensorProto, helper

    def model(nodes, name):
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                                  initializer=[helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])
        built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        built.ir_version = 7
        return built

    onnx.save(model([helper.make_node("Relu", ["x"], ["y"])], "keeps"), tmp_path / "keeps.onnx")
    onnx.save(model([helper.make_node("IsNaN", ["x"], ["nan"]), helper.make_node("Relu", ["x"], ["r"]),
                     helper.make_node("Where", ["nan", "zero", "r"], ["y"])], "zeroes"), tmp_path / "zeroes.onnx")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
    argv = ["validate", str(tmp_path / "keeps.onnx"), "--reference", str(tmp_path / "zeroes.onnx"),
            "--data", str(tmp_path / "x.npy"), "--search", "100"]
    assert main(argv) == 1
    assert "search_divergences" in capsys.readouterr().out
    assert main([*argv, "--search-no-nan"]) == 0


def test_sql_rule_failure_exits_1(tmp_path, capsys):
    model = _identity(tmp_path / "wide.onnx", shape=("N", 4))
    assert main(["validate", str(model), "--target", "sql-edge-2.0", "--json", str(tmp_path / "r.json")]) == 1
    data = json.loads((tmp_path / "r.json").read_text())
    failed = [c["name"] for c in data["checks"] if c["status"] == "failed"]
    assert "inputs_one_per_column" in failed and "outputs_one_value_per_row" in failed
    assert "k=4" in capsys.readouterr().out


def test_target_file(tmp_path, capsys):
    toml = tmp_path / "t.toml"
    toml.write_text('[target]\nbase = "sql-edge-2.0"\nname = "old-edge"\nmax_opset = { "" = 11, "ai.onnx.ml" = 2 }\n')
    assert main(["validate", str(_identity(tmp_path / "m.onnx")), "--target-file", str(toml)]) == 1
    assert "ai.onnx opset 13 > 11" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "{tmp}/cut.onnx"], "not a valid ONNX model"),
        (["validate", "{tmp}/missing.onnx"], "model file not found"),
        (["validate", "{tmp}/ok.onnx", "--target", "nowhere"], "unknown target 'nowhere'"),
        (["validate", "{tmp}/ok.onnx", "--reference", "{tmp}/ok.onnx"], "--reference needs --data"),
        (["validate", "{tmp}/ok.onnx", "--data", "{tmp}/rows.npy"], "--data needs --reference"),
        (["validate", "{tmp}/ok.onnx", "--atol", "tight"], "--atol expects a number"),
        (["validate", "{tmp}/ok.onnx", "--target", "a", "--target-file", "b"], "not allowed with argument"),
        (["validate", "{tmp}/ok.onnx", "--seed", "-1"], "expected a seed of 0 or more"),
        (["validate", "{tmp}/ok.onnx", "--atol", "y=1e-3"], "parity needs --reference MODEL --data DATA"),
        (["validate", "{tmp}/ok.onnx", "--search", "500"], "--search needs --reference and --data"),
        (["validate", "{tmp}/ok.onnx", "--json", "-"], "--json takes a file name, found '-'"),
        (["validate", "{tmp}/ok.onnx", "--search-time-limit", "0"], "expected a positive number of seconds"),
        (["validate", "{tmp}/ok.onnx", "--json", "{tmp}/r.json", "--junit", "{tmp}/./r.json"],
         "two reports would go to the same file"),
        ([], "a command is required: convert, validate"),  # the whole help, 29 lines, went to stderr
        (["zoo"], "an action is required: list or export"),
    ],
    ids=["truncated", "missing", "unknown-target", "reference-without-data", "data-without-reference", "bad-atol",
         "both-targets", "negative-seed", "tolerance-without-parity", "search-without-parity", "json-dash",
         "zero-time-limit",
         "same-report-file",
         "no-command", "zoo-without-action"],
)
def test_usage_and_input_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    data = _identity(tmp_path / "ok.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    argv = [a.format(tmp=tmp_path) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_and_keeps_exit_2(tmp_path, capsys, where):
    model = str(_identity(tmp_path / "ok.onnx"))
    args = ["validate", model, "--target", "nowhere"]
    code = main(["--debug", *args] if where == "before" else [*args, "--debug"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "TargetError" in err
    assert err.strip().splitlines()[-1].startswith("onnxgate validate: error: unknown target 'nowhere'")


@pytest.mark.parametrize(("opsets", "message"), [("1-100000000", "opset 100000000 in --opsets"),
                                                  ("0-3", "opset 0 in --opsets"), ("9-x", "expected opsets like"),
                                                  ("13,,15", "expected opsets like"), ("17,", "expected opsets like")])
def test_sweep_refuses_opsets_that_do_not_exist_before_converting(iris_files, capsys, opsets, message):
    code = main(["sweep", str(iris_files / "iris.skops"), "--sample", str(iris_files / "iris.npy"),
                 "--opsets", opsets])
    assert code == 2
    assert message in capsys.readouterr().err


def test_sweep_with_a_sample_of_the_wrong_width_is_an_input_error(tmp_path, iris_files, capsys):
    narrow = tmp_path / "three.npy"
    np.save(narrow, np.load(iris_files / "iris.npy")[:, :3])
    code = main(["sweep", str(iris_files / "iris.skops"), "--sample", str(narrow), "--opsets", "15-17"])
    assert code == 2
    assert "fitted on 4 features; the sample has 3 columns" in capsys.readouterr().err


def test_sweep_does_not_overwrite_its_json_without_force(tmp_path, iris_files, capsys):
    out = tmp_path / "keep.json"
    out.write_text("keep")
    argv = ["sweep", str(iris_files / "iris.skops"), "--sample", str(iris_files / "iris.npy"), "--opsets", "17",
            "--json", str(out)]
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep"
    assert main([*argv, "--force"]) == 0
    assert json.loads(out.read_text())["best_opset"] == 17


@pytest.mark.parametrize(
    ("command", "flag", "victim"),
    [("validate", "--json", "iris.onnx"), ("validate", "--junit", "iris.skops"), ("validate", "--html", "iris.npy"),
     ("sweep", "--json", "iris.skops"), ("sweep", "--json", "iris.npy")],
)
def test_force_never_writes_a_report_over_an_input(tmp_path, iris_files, capsys, command, flag, victim):
    # validate m.onnx --json m.onnx --force turned the model being validated into its own report
    import shutil

    for name in ("iris.onnx", "iris.skops", "iris.npy"):
        shutil.copy(iris_files / name, tmp_path / name)
    before = (tmp_path / victim).read_bytes()
    if command == "validate":
        argv = ["validate", str(tmp_path / "iris.onnx"), "--reference", str(tmp_path / "iris.skops"),
                "--data", str(tmp_path / "iris.npy")]
    else:
        argv = ["sweep", str(tmp_path / "iris.skops"), "--sample", str(tmp_path / "iris.npy"), "--opsets", "17"]
    assert main([*argv, flag, str(tmp_path / victim), "--force"]) == 2
    assert "never an input" in capsys.readouterr().err
    assert (tmp_path / victim).read_bytes() == before


def test_sweep_names_the_highest_passing_opset(tmp_path, iris_files, capsys):
    out = tmp_path / "sweep.json"
    code = main(
        [
            "sweep",
            str(iris_files / "iris.skops"),
            "--sample",
            str(iris_files / "iris.npy"),
            "--opsets",
            "12,15,17-18",
            "--target",
            "container",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "highest opset that passes everything: 18" in text
    data = json.loads(out.read_text())
    assert data["best_opset"] == 18 and [r["opset"] for r in data["opsets"]] == [12, 15, 17, 18]
    assert all(r["converted"] and r["parity"] == "passed" for r in data["opsets"])


def test_sweep_above_the_target_cap_does_not_convert(tmp_path, iris_files, capsys):
    code = main(
        [
            "sweep",
            str(iris_files / "iris.skops"),
            "--sample",
            str(iris_files / "iris.npy"),
            "--opsets",
            "17-18",
            "--target",
            "sql-edge-2.0",
            "--json",
            str(tmp_path / "s.json"),
        ]
    )
    data = json.loads((tmp_path / "s.json").read_text())
    rows = {r["opset"]: r for r in data["opsets"]}
    assert rows[18]["converted"] is False and "OpsetError" in rows[18]["error"]
    assert rows[17]["converted"] is True
    assert code == (0 if rows[17]["passed"] else 1)
    assert data["best_opset"] == (17 if rows[17]["passed"] else None)


def test_validating_an_onnx_file_imports_no_framework_nor_pandas(tmp_path):
    path = _identity(tmp_path / "m.onnx")
    code = textwrap.dedent(
        f"""
        import sys
        import onnxgate as og
        report = og.validate({str(path)!r}, target="sql-edge-2.0")
        assert report.passed, str(report)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in
                       {{"pandas", "sklearn", "skl2onnx", "torch", "tensorflow", "keras", "tf2onnx"}})
        print(heavy)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_report_path_that_is_a_folder_is_refused_before_the_work(tmp_path, capsys):
    # with --force, parity and the search ran in full and printed PASSED, then the run exited 2
    import onnxgate as og

    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    conv = og.convert(model, X[:5])
    conv.save(tmp_path / "m.onnx")
    folder = tmp_path / "reports"
    folder.mkdir()
    assert main(["validate", str(tmp_path / "m.onnx"), "--junit", str(folder), "--force"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "is a folder; give a file path" in captured.err and "report.xml" in captured.err


def test_sweep_search_fails_the_opsets_the_search_fails(tmp_path, capsys):
    """sweep had no --search: it named opset 15 the best for the planted model, which validate --search 500 fails."""
    assert main(["zoo", "export", "sklearn-planted-scaler-tree", "-o", str(tmp_path / "z")]) == 0
    common = ["sweep", str(tmp_path / "z" / "model.skops"), "--sample", str(tmp_path / "z" / "sample.npy"),
              "--opsets", "15", "--precision", "float32", "--trust-pickle"]
    assert main([*common, "--json", str(tmp_path / "plain.json")]) == 0  # parity on the sample alone passes
    assert main([*common, "--search", "500", "--json", str(tmp_path / "searched.json")]) == 1
    row = json.loads((tmp_path / "searched.json").read_text())["opsets"][0]
    assert row["passed"] is False and "search_divergences" in row["failed_checks"]
    capsys.readouterr()
    assert main([*common, "--search", "-1"]) == 2
    assert "search must be an integer >= 0" in capsys.readouterr().err


def test_a_scalar_input_model_fails_parity_and_scores_nothing_without_a_traceback(tmp_path, monkeypatch, capsys):
    # Y = X * 2 with X of shape [] (made elsewhere): validate ended in "TypeError: len() of unsized object (please
    # report it)" (found by helper-195); now parity fails saying why (exit 1) and score refuses the rows (exit 2)
    monkeypatch.chdir(tmp_path)
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph([helper.make_node("Mul", ["X", "two"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [])], [two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    np.save(tmp_path / "x.npy", np.array([3.0, -1.0], np.float32))
    assert main(["validate", "m.onnx", "--reference", "m.onnx", "--data", "x.npy", "--json", "r.json"]) == 1
    (parity,) = [c for c in json.loads((tmp_path / "r.json").read_text())["checks"]
                 if c["name"] == "prediction_parity"]
    assert parity["status"] == "failed" and "input(s) 'X' are scalars (shape [])" in parity["message"]
    assert "please report it" not in capsys.readouterr().out
    import pandas as pd

    pd.DataFrame({"X": [3.0, -1.0]}).to_parquet(tmp_path / "x.parquet")
    assert main(["score", "m.onnx", "--data", "x.parquet", "--out", "o.parquet"]) == 2
    err = capsys.readouterr().err
    assert "input 'X' is a scalar (shape [])" in err and "first axis of free size" in err


def test_a_row_both_the_reference_and_onnxruntime_refuse_is_an_input_error(tmp_path, monkeypatch, capsys):
    # id 12 is past a 10-row nn.Embedding table: PyTorch raises IndexError and onnxruntime refuses the Gather alike.
    # Nothing was compared; before 532347c validate exited 1, "FAILED prediction_parity onnxruntime failed on rows
    # 0..1", blaming the file
    torch = pytest.importorskip("torch")
    import onnxgate as og

    class Lookup(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Embedding(10, 3)

        def forward(self, ids):
            return self.table(ids)

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    net = Lookup().eval()
    ids = np.arange(4, dtype=np.int64)
    exported = torch.export.export(net, (torch.from_numpy(ids),), dynamic_shapes=({0: torch.export.Dim("n")},))
    torch.export.save(exported, "lookup.pt2")
    og.convert(net, ids, opset=17).save("lookup.onnx")
    np.save("ids.npy", np.array([3, 12], np.int64))
    assert main(["validate", "lookup.onnx", "--reference", "lookup.pt2", "--data", "ids.npy", "--json", "r.json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "the reference model failed on rows 0..1 (first at row 1: input=12)" in err, err
    assert "IndexError" in err and "nothing was compared" in err and "onnxruntime refused it too" in err, err
    assert "Loosen atol" not in captured.out + err
    assert not (tmp_path / "r.json").exists()


def test_a_file_lacking_a_column_the_reference_reads_exits_1_as_a_failed_check(tmp_path, monkeypatch, capsys):
    # the CSV's column 'note' was refused (exit 2) as "not model inputs; drop them (a label or ID column...)", though
    # the reference reads it: the file lacks an input the model needs, a failed check (exit 1)
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import onnxgate as og

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.normal(40, 10, 80), "note": rng.choice(["new", "returning", "vip"], 80)})
    y = ((frame["age"] > 40) ^ (frame["note"] == "vip")).astype(int)
    branches = [("num", StandardScaler(), ["age"]), ("txt", OneHotEncoder(), ["note"])]
    sio.dump(make_pipeline(ColumnTransformer(branches), LogisticRegression()).fit(frame, y), "model.skops")
    without = make_pipeline(ColumnTransformer(branches[:1]), LogisticRegression()).fit(frame[["age"]], y)
    og.convert(without, frame[["age"]].head(20)).save("model.onnx")
    frame.to_csv("rows.csv", index=False)
    argv = ["validate", "model.onnx", "--reference", "model.skops", "--data", "rows.csv", "--json", "r.json"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "drop them" not in out, out
    (parity,) = [c for c in json.loads((tmp_path / "r.json").read_text())["checks"]
                 if c["name"] == "prediction_parity"]
    assert not parity["passed"]
    assert "the ONNX file has no input for the column(s) ['note'], which the reference reads" in parity["message"]
    # the table cut the message at 200 characters ("The file lacks an input the m..."): never what to do
    (row,) = [line for line in out.splitlines() if line.startswith("FAILED   prediction_parity")]
    assert row.endswith(parity["message"]) and "convert the reference again" in row, row


def test_the_search_leaves_no_hypothesis_folder_where_it_is_run(tmp_path, iris_files):
    # validate --search 300 left .hypothesis/constants (75 files) in the folder it was run from: Hypothesis caches
    # there the constants of the modules it sees as the user's own, database=None or not. Run in a process of its
    # own, from a script of the user's (a module Hypothesis reads), as a fresh `onnxgate validate` is: in this
    # process Hypothesis has already read every module and would write nothing either way.
    files = {name: str(iris_files / name) for name in ("iris.onnx", "iris.skops", "iris.npy")}
    (tmp_path / "gate.py").write_text(textwrap.dedent(
        f"""
        from onnxgate.cli import main

        raise SystemExit(main(["validate", {files["iris.onnx"]!r}, "--reference", {files["iris.skops"]!r},
                               "--data", {files["iris.npy"]!r}, "--search", "300", "--json", "r.json"]))
        """
    ))
    # its cache goes to onnxgate's cache folder (XDG_CACHE_HOME), which a later process reads again
    cache = tmp_path.parent / f"{tmp_path.name}-cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    result = subprocess.run([sys.executable, "gate.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = json.loads((tmp_path / "r.json").read_text())["checks"]
    (search,) = [c for c in checks if c["name"] == "search_divergences"]
    assert search["details"]["phases"]["hypothesis"]["rows"] > 0, search  # Hypothesis ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate.py", "r.json"]
    assert any((cache / "onnxgate" / "hypothesis").rglob("*")), "the constants were cached for the next process"


def _int64_add(path, add):
    """y = x + add on int64 [N,1]: two of them disagree by ``add`` on every row, exactly (labels' mode)."""
    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 1])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, ["N", 1])
    graph = helper.make_graph([helper.make_node("Add", ["x", "k"], ["y"])], "g", [x], [y],
                              [helper.make_tensor("k", TensorProto.INT64, [], [add])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    path.write_bytes(model.SerializeToString())
    return path


def test_integers_beyond_two_to_the_53_read_exactly_where_json_numbers_are_doubles(tmp_path, monkeypatch, capsys):
    # jq 1.6 and JavaScript read a JSON number as a double: the seed 2**53 + 1 read back as 2**53, and so did the
    # int64 values of the evidence; a CI step that reran with the seed it read got other inputs
    monkeypatch.chdir(tmp_path)
    big = 2**53 + 1
    np.save("rows.npy", np.array([[big], [5]], dtype=np.int64))
    args = ["validate", str(_int64_add(tmp_path / "a.onnx", 0)), "--reference", str(_int64_add(tmp_path / "b.onnx", 1)),
            "--data", "rows.npy", "--seed", str(big), "--json", "r.json"]
    assert main(args) == 1, capsys.readouterr().err
    text = (tmp_path / "r.json").read_text()
    as_doubles = json.loads(text, parse_int=float)  # as JavaScript's JSON.parse reads it
    assert int(as_doubles["seed"]) == big
    (parity,) = [c for c in as_doubles["checks"] if c["name"] == "prediction_parity"]
    first = parity["details"]["outputs"][0]["worst_rows"][0]
    assert [int(first["onnx"][0]), int(first["reference"][0]), int(first["inputs"]["x"][0])] == [big, big + 1, big]
    # what a double holds exactly stays a number
    exact = json.loads(text)
    assert exact["checks"][-1]["details"]["rows"] == 2 and exact["checks"][-1]["details"]["outputs"][0]["rows"] == 2


def test_junit_gives_every_check_its_measured_time(tmp_path, iris_files, monkeypatch, capsys):
    # the testcases and the suite had no time: CI showed every check as 0 s, and readers that require it refused
    monkeypatch.chdir(tmp_path)
    args = ["validate", str(iris_files / "iris.onnx"), "--reference", str(iris_files / "iris.skops"), "--data",
            str(iris_files / "iris.npy"), "--search", "20", "--junit", "r.xml", "--json", "r.json"]
    assert main(args) == 0, capsys.readouterr().err
    root = ET.parse(tmp_path / "r.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    times = [case.get("time") for case in cases]
    assert len(cases) == 6 and all(t is not None and re.fullmatch(r"\d+\.\d{3}", t) for t in times), times
    seconds = [float(t) for t in times]
    assert float(suite.get("time")) == pytest.approx(sum(seconds), abs=0.001 * len(cases))
    assert root.get("time") == suite.get("time") and float(suite.get("time")) > 0
    # the JSON holds the same durations, unrounded
    durations = [c["duration_seconds"] for c in json.loads((tmp_path / "r.json").read_text())["checks"]]
    assert [round(d, 3) for d in durations] == pytest.approx(seconds, abs=0.0011)
    by_name = dict(zip([case.get("name") for case in cases], seconds))
    assert by_name["prediction_parity"] > 0 and by_name["search_divergences"] > 0


@pytest.mark.parametrize("base", [None, "container"], ids=["no-base", "base"])
def test_a_target_file_with_no_checks_is_refused_not_passed(tmp_path, capsys, base):
    # checks = [] passed every model: "PASSED: 0 checks passed, 1 skipped" (with a base, the base's
    # model_wellformed and operators_supported silently dropped), exit 0
    toml = tmp_path / "t.toml"
    toml.write_text(("" if base is None else f'base = "{base}"\n') + 'name = "mine"\nchecks = []\n')
    assert main(["validate", str(_identity(tmp_path / "m.onnx")), "--target-file", str(toml)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"target file {str(toml)!r}: checks = [] names no check" in err, err
    kept = ("the checks of base 'container'" if base
            else "the default checks, ['model_wellformed', 'operators_supported']")
    assert f"leave checks out to run {kept}" in err, err

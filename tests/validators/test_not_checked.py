"""What a passing report says it did not check (``details["not_checked"]`` of prediction_parity, and a
``not checked:`` line in the terminal table, Markdown, JUnit and HTML): only what is true of the run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import onnxgate as og
from onnxgate.cli import main


@pytest.fixture(scope="module")
def hgb():
    """A HistGradientBoostingClassifier on iris: its trees give a missing value a branch of their own."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    return model, og.convert(model, X[:5]), X


def _parity(report: dict) -> dict:
    """The prediction_parity check of a report's JSON form (found by name, not by place)."""
    return next(c for c in report["checks"] if c["name"] == "prediction_parity")


def _keys(report):
    return [i["key"] for i in report.check("prediction_parity").details.get("not_checked", ())]


def test_data_without_missing_values_says_so_and_with_one_in_every_column_does_not(hgb):
    model, conv, X = hgb
    report = og.validate(conv, reference=model, data=X)
    assert report.passed
    item = next(i for i in _parity(report.to_dict())["details"]["not_checked"] if i["key"] == "missing_values")
    assert "any of the 4 columns of input" in item["why"] and "TreeEnsembleClassifier" in item["why"]
    held = X.copy()
    held[[7, 8, 9, 10], [0, 1, 2, 3]] = np.nan  # one in each column, in other rows
    with_nan = og.validate(conv, reference=model, data=held, batch_size=8)
    assert with_nan.passed and "missing_values" not in _keys(with_nan)
    assert not any(line.startswith("missing values") for line in with_nan.not_checked())


def test_a_missing_value_in_one_column_names_the_columns_holding_none(hgb):
    """A NaN in column 0 alone: the trees read a missing value in columns 1-3 too, and no row holds one there."""
    model, conv, X = hgb
    held = X.copy()
    held[7, 0] = np.nan
    report = og.validate(conv, reference=model, data=held)
    item = next(i for i in report.check("prediction_parity").details["not_checked"] if i["key"] == "missing_values")
    assert report.passed and item["what"] == "missing values in 3 of 4 columns"
    assert item["why"].startswith("the data holds none in 'input[1]', 'input[2]', 'input[3]' of input 'input', and ")
    assert any(line.startswith("missing values in 3 of 4 columns (the data holds none in 'input[1]'")
               for line in report.not_checked())


def test_the_columns_are_named_as_the_user_named_them():
    """A model fitted on a frame: its columns by the frame's names, as one input or one input per column."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = load_iris(as_frame=True).data.astype(np.float32)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(frame, load_iris().target)
    held = frame.copy()
    held.iloc[7, 0] = np.nan
    for sample, data in ((frame.head(), held), (frame.to_numpy()[:5], held.to_numpy())):
        report = og.validate(og.convert(model, sample), reference=model, data=data)
        item = next(i for i in report.check("prediction_parity").details["not_checked"]
                    if i["key"] == "missing_values")
        assert item["what"] == "missing values in 3 of 4 columns", item
        assert "'sepal width (cm)', 'petal length (cm)', 'petal width (cm)'" in item["why"], item
        assert "sepal length" not in item["why"]


def test_only_the_columns_the_file_reads_a_missing_value_in_are_named():
    """An imputer on two of six columns, the rest passed to a linear model: a NaN in 'a' leaves 'b' alone named,
    never the columns the file reads no missing value in; a tree that splits on two columns names those two."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = X[:, 0] + X[:, 1]
    df = pd.DataFrame(X, columns=list("abcdef"))
    model = make_pipeline(make_column_transformer((SimpleImputer(), ["a", "b"]), remainder="passthrough"),
                          LinearRegression()).fit(df, y)
    held = df.copy()
    held.iloc[0, 0] = np.nan
    report = og.validate(og.convert(model, df.head()), reference=model, data=held)
    item = next(i for i in report.check("prediction_parity").details["not_checked"] if i["key"] == "missing_values")
    assert item["what"] == "missing values in 1 of 2 columns" and item["why"].startswith("the data holds none in 'b', ")
    stump = HistGradientBoostingRegressor(max_iter=2, max_depth=1, random_state=0).fit(X, y)
    report = og.validate(og.convert(stump, X[:5]), reference=stump, data=X)
    item = next(i for i in report.check("prediction_parity").details["not_checked"] if i["key"] == "missing_values")
    assert item["what"] == "missing values in 2 of 2 columns", item
    assert item["why"].startswith("the data holds none in 'input[0]', 'input[1]' of input 'input', "), item


def test_no_search_is_said_and_a_search_removes_it(hgb):
    model, conv, X = hgb
    plain = og.validate(conv, reference=model, data=X)
    assert "search" in _keys(plain)
    assert any("no search was run, so only the data's 150 rows were compared" in line for line in plain.not_checked())
    searched = og.validate(conv, reference=model, data=X, search=30)
    assert searched.passed and "search" not in _keys(searched)


def test_a_model_without_missing_value_readers_checked_everywhere_says_nothing(tmp_path):
    """A LogisticRegression on every class, with a search: nothing left to say, no line anywhere."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    report = og.validate(og.convert(model, X[:5]), reference=model, data=X, search=20)
    assert report.passed and report.not_checked() == []
    assert "not_checked" not in report.check("prediction_parity").details
    assert "not checked" not in str(report).lower() and "not checked" not in report.to_markdown().lower()
    assert "not checked" not in report.to_junit()


def test_classes_never_answered_are_listed(hgb):
    model, conv, X = hgb
    report = og.validate(conv, reference=model, data=X[:40], search=10)  # iris' first 50 rows are class 0
    item = next(i for i in report.check("prediction_parity").details["not_checked"] if i["key"] == "classes")
    assert item["what"] == "2 of 3 classes as a label" and "1, 2" in item["why"]
    assert "classes" not in _keys(og.validate(conv, reference=model, data=X, search=10))


@pytest.fixture(scope="module")
def colors():
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"color": rng.choice(["red", "teal", "blue", "green"], 200), "x": rng.normal(size=200)})
    model = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["color"]),
                                                  remainder="passthrough"),
                          LogisticRegression()).fit(df, (df.x > 0).astype(int))
    return model, og.convert(model, df.head()), df


def test_categories_no_row_holds_are_named_until_the_data_or_a_search_covers_them(colors):
    model, conv, df = colors
    some = df[df.color.isin(["red", "blue"])]
    report = og.validate(conv, reference=model, data=some)
    item = next(i for i in report.check("prediction_parity").details["not_checked"] if i["key"] == "known_values")
    assert item["what"] == "2 categories no row holds" and "'color': 'green', 'teal'" in item["why"]
    assert "known_values" not in _keys(og.validate(conv, reference=model, data=df))
    assert "known_values" not in _keys(og.validate(conv, reference=model, data=some, search=40))


def test_integer_categories_the_data_holds_are_not_said_missing():
    """An encoder fitted on integer codes: the data holds every code, so no 'categories no row holds' line
    (the note is for text categories, which a search tries)."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"code": rng.choice([3, 7, 42], 200).astype(np.int64), "x": rng.normal(size=200)})
    model = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["code"]),
                                                  remainder="passthrough"),
                          LogisticRegression()).fit(df, (df.x > 0).astype(int))
    report = og.validate(og.convert(model, df.head()), reference=model, data=df)
    assert report.passed and "known_values" not in _keys(report), report.not_checked()


def test_every_form_carries_the_lines(hgb):
    model, conv, X = hgb
    report = og.validate(conv, reference=model, data=X)
    lines = report.not_checked()
    assert len(lines) == 2  # missing values, no search: every class is seen
    text = str(report).splitlines()
    assert [t for t in text if t.startswith("not checked: ")] == [f"not checked: {line}" for line in lines]
    assert text[-1].startswith("PASSED")  # the summary stays last
    markdown = report.to_markdown()
    assert "**Not checked:**" in markdown and "- missing values (the data holds none" in markdown
    case = next(c for c in ET.fromstring(report.to_junit()).iter("testcase") if c.get("name") == "prediction_parity")
    out = case.find("system-out")
    assert out is not None and out.text is not None and "not checked: rows beyond the data's" in out.text
    assert report.passed and report.to_dict()["passed"] is True  # the verdict is untouched


def test_html_lists_them(hgb):
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    model, conv, X = hgb
    page = og.validate(conv, reference=model, data=X).to_html()
    assert "<strong>Not checked</strong>" in page and "rows beyond the data&#39;s" in page


def test_cli_prints_and_writes_them_and_exits_0(tmp_path, hgb, monkeypatch, capsys):
    import skops.io as sio

    monkeypatch.chdir(tmp_path)
    model, conv, X = hgb
    sio.dump(model, "model.skops")
    conv.save("model.onnx")
    np.save("rows.npy", X)
    held = X.copy()
    held[[0, 1, 2, 3], [0, 1, 2, 3]] = np.nan  # a missing value in every column the trees read one in
    np.save("held.npy", held)
    argv = ["validate", "model.onnx", "--reference", "model.skops", "--trust-pickle"]
    assert main([*argv, "--data", "rows.npy", "--json", "r.json"]) == 0
    out = capsys.readouterr().out
    assert "not checked: missing values (the data holds none" in out
    assert "not checked: rows beyond the data's (no search was run" in out
    keys = [i["key"] for i in _parity(json.loads((tmp_path / "r.json").read_text()))["details"]["not_checked"]]
    assert keys == ["missing_values", "search"]
    assert main([*argv, "--data", "held.npy", "--search", "20", "--json", "s.json"]) == 0
    out = capsys.readouterr().out
    assert "not checked" not in out
    assert "not_checked" not in _parity(json.loads((tmp_path / "s.json").read_text()))["details"]


def test_a_large_batch_the_reference_cannot_score_is_said_not_run():
    """large_batch_disagrees records why it compared nothing (the reference refusing the batch)."""
    from onnx import TensorProto, helper

    from onnxgate import runtime
    from onnxgate.signature import Signature
    from onnxgate.validators.parity import large_batch_disagrees

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    session = runtime.session(model.SerializeToString())

    def refuses(feeds):
        raise MemoryError("no room")

    not_run: list[str] = []
    feeds = {"x": np.ones((5, 2), np.float32)}
    tolerances = {"y": (1e-5, 1e-4, "tolerance")}
    assert large_batch_disagrees(session, feeds, Signature.from_model(model), tolerances, refuses,
                                 not_run=not_run) is None
    assert not_run == ["the reference could not score a batch of 10000 rows (MemoryError)"]

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


@pytest.mark.parametrize("target", ["onnxruntime", "sql-edge-1.0"])
def test_a_multi_label_classifier_is_not_said_to_leave_classes_unanswered(target):
    # a multi-label classifier's classes_ names its 4 labels; its label is [N,4] of 0/1, which a SQL target splits
    # into label_0..label_3: read as classes, the 0s and 1s said "2 of 4 classes as a label" were never answered
    from sklearn.datasets import make_multilabel_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    X, Y = make_multilabel_classification(n_samples=300, n_features=8, n_classes=4, random_state=0)
    X = X.astype(np.float32)
    model = OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(X, Y)
    assert model.classes_.tolist() == [0, 1, 2, 3]
    parity = og.validate(og.convert(model, X, target=target), target=target, reference=model,
                         data=X).check("prediction_parity")
    assert parity.passed and "labels seen" not in parity.message, parity.message
    assert "classes_seen" not in parity.details and "classes" not in [i["key"] for i in parity.details["not_checked"]]


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


# -- the columns and readers the notes follow (helper-344) ------------------------------------------------------


def _onnx_model(nodes, inputs, outputs, initializer=(), functions=()):
    import onnx
    from onnx import helper

    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 3)]
    if functions:
        opsets.append(helper.make_opsetid("local", 1))
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializer)),
                              opset_imports=opsets, functions=list(functions))
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _imputing(picks):
    """An [N, 3] float input, one column picked out (by ``picks``) into an Imputer."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = {
        "Gather": ([helper.make_node("Gather", ["x", "at"], ["col"], axis=1)], [("at", [2])]),
        "Slice": ([helper.make_node("Slice", ["x", "s", "e", "a"], ["col"])], [("s", [2]), ("e", [3]), ("a", [1])]),
        "ArrayFeatureExtractor": ([helper.make_node("ArrayFeatureExtractor", ["x", "at"], ["col"],
                                                    domain="ai.onnx.ml")], [("at", [2])]),
    }[picks]
    nodes.append(helper.make_node("Imputer", ["col"], ["y"], domain="ai.onnx.ml", imputed_value_floats=[0.0],
                                  replaced_value_float=float("nan")))
    return _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", None])],
                       [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in inits])


def _missing_item(report):
    return next((i for i in report.check("prediction_parity").details.get("not_checked", ())
                 if i["key"] == "missing_values"), None)


@pytest.mark.parametrize("picks", ["Gather", "Slice", "ArrayFeatureExtractor"])
def test_a_column_picked_out_by_constant_indices_is_named(picks):
    """The Imputer reads column 2 alone: a NaN in column 0 leaves column 2 named; one in column 2 leaves nothing.
    Counted as one input, a NaN in any column said every one held one."""
    model = _imputing(picks)
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    elsewhere = X.copy()
    elsewhere[0, 0] = np.nan
    item = _missing_item(og.validate(model, reference=model, data=elsewhere))
    assert item is not None and item["what"] == "missing values in 1 of 1 columns", item
    assert item["why"].startswith("the data holds none in 'x[2]' of input 'x', ") and "Imputer" in item["why"]
    there = X.copy()
    there[0, 2] = np.nan
    report = og.validate(model, reference=model, data=there)
    assert report.passed and _missing_item(report) is None, report.not_checked()


def _in_if_branch():
    """The Imputer in an If's branch, reading the input by its outer name."""
    from onnx import TensorProto, helper, numpy_helper

    out = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 2])
    then = helper.make_graph([helper.make_node("Imputer", ["x"], ["z"], domain="ai.onnx.ml",
                                               imputed_value_floats=[0.0], replaced_value_float=float("nan"))],
                             "then", [], [out])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "else", [], [out])
    return _onnx_model([helper.make_node("If", ["yes"], ["y"], then_branch=then, else_branch=other)],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
                       [numpy_helper.from_array(np.array(True), "yes")])


def _in_local_function():
    """The Imputer in a local function the graph calls."""
    from onnx import TensorProto, helper

    body = helper.make_function("local", "impute", ["a"], ["b"], [
        helper.make_node("Imputer", ["a"], ["b"], domain="ai.onnx.ml", imputed_value_floats=[0.0],
                         replaced_value_float=float("nan"))], [helper.make_opsetid("ai.onnx.ml", 3)])
    return _onnx_model([helper.make_node("impute", ["x"], ["y"], domain="local")],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], functions=[body])


@pytest.mark.parametrize("build", [_in_if_branch, _in_local_function], ids=["if-branch", "local-function"])
def test_a_reader_inside_a_subgraph_or_a_local_function_is_followed(build):
    model = build()
    X = np.random.default_rng(1).normal(size=(20, 2)).astype(np.float32)
    item = _missing_item(og.validate(model, reference=model, data=X))
    assert item is not None and item["what"] == "missing values", item
    assert "any of the 2 columns of input 'x'" in item["why"] and "Imputer" in item["why"]
    one = X.copy()
    one[0, 0] = np.nan  # a NaN in column 0 alone leaves column 1 named
    item = _missing_item(og.validate(model, reference=model, data=one))
    assert item is not None and item["why"].startswith("the data holds none in 'x[1]' of input 'x', "), item
    one[1, 1] = np.nan
    report = og.validate(model, reference=model, data=one)
    assert report.passed and _missing_item(report) is None, report.not_checked()


def _two_category_columns():
    """An [N, 2] text input whose columns a Gather each picks out into a CategoryMapper of its own."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    for c, cats in enumerate((["a1", "a2", "a3"], ["b1", "b2"])):
        nodes += [helper.make_node("Gather", ["x", f"at{c}"], [f"col{c}"], axis=1),
                  helper.make_node("CategoryMapper", [f"col{c}"], [f"code{c}"], domain="ai.onnx.ml",
                                   cats_strings=cats, cats_int64s=list(range(len(cats))), default_int64=-1)]
    nodes.append(helper.make_node("Concat", ["code0", "code1"], ["y"], axis=1))
    return _onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.STRING, ["N", 2])],
                       [helper.make_tensor_value_info("y", TensorProto.INT64, ["N", 2])],
                       [numpy_helper.from_array(np.array([c], np.int64), f"at{c}") for c in (0, 1)])


def _items(report, key):
    return [i for i in report.check("prediction_parity").details.get("not_checked", ()) if i["key"] == key]


def test_each_column_is_named_by_the_categories_read_in_it():
    """Each column's categories are those of the CategoryMapper its Gather feeds: every one held says nothing
    (read per input, column 0 lacked 'b1' and 'b2'); 'b2' lacking names it in column 1 alone."""
    model = _two_category_columns()
    every = np.array([["a1", "b1"], ["a2", "b2"], ["a3", "b1"]] * 4, dtype=object)
    report = og.validate(model, reference=model, data=every)
    assert report.passed and _items(report, "known_values") == [], report.not_checked()
    lacking = np.array([["a1", "b1"], ["a2", "b1"], ["a3", "b1"]] * 4, dtype=object)
    [item] = _items(og.validate(model, reference=model, data=lacking), "known_values")
    assert item["what"] == "1 category no row holds" and item["why"].startswith("'x[1]': 'b2': "), item


def test_integer_categories_no_row_holds_are_named():
    """An encoder fitted on integer codes 3, 7, 42: data holding 3 and 7 alone names 42; a search scores a row
    holding 42 and the note goes (the search tried text values only, and the note said to add rows); data holding
    all three says nothing (the earlier test)."""
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
    conv = og.convert(model, df.head())
    some = df[df.code != 42]
    [item] = _items(og.validate(conv, reference=model, data=some), "known_values")
    assert item["what"] == "1 category no row holds", item
    assert item["why"].startswith("'code': 42: ") and "the search tries them" in item["why"], item
    searched = og.validate(conv, reference=model, data=some, search=30)
    assert searched.passed and _items(searched, "known_values") == [], searched.not_checked()
    assert ["code", 0, 42] in searched.check("search_divergences").details["known_values_tried"]


def _weather_text_model(vectorizer):
    """``vectorizer`` and a logistic regression fitted on 200 texts of 3 weather words, converted, and the texts."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    words = ["cold", "warm", "sunny", "rainy", "windy", "snowy", "foggy", "humid"]
    rng = np.random.default_rng(2)
    X = np.array([" ".join(rng.choice(words, 3)) for _ in range(200)], dtype=object)
    y = np.array([("cold" in t) or ("snowy" in t) for t in X]).astype(int)
    model = make_pipeline(vectorizer, LogisticRegression()).fit(X, y)
    return model, og.convert(model, X[:5].reshape(-1, 1)), X


@pytest.fixture(scope="module")
def texts():
    from sklearn.feature_extraction.text import CountVectorizer

    return _weather_text_model(CountVectorizer())


def test_vocabulary_words_no_row_holds_are_named(texts):
    model, conv, X = texts
    some = np.array([t for t in X if "foggy" not in t and "humid" not in t], dtype=object)
    report = og.validate(conv, reference=model, data=some.reshape(-1, 1))
    [item] = _items(report, "vocabulary")
    assert item["what"] == "2 vocabulary words no row holds", item
    assert "'foggy', 'humid'" in item["why"], item
    assert any(line.startswith("2 vocabulary words no row holds (") for line in report.not_checked())
    report = og.validate(conv, reference=model, data=X.reshape(-1, 1))
    assert report.passed and _items(report, "vocabulary") == [], report.not_checked()


def test_a_search_too_small_to_try_every_category_leaves_the_others_named():
    """12 categories, the data holding 2: a search of 40 rows scores 3 of the other 10 (a share of its edge phase)
    and the note names the rest (it was dropped whenever a search ran); a search that scores every one removes
    it (the earlier test)."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    names = [f"c{i:02d}" for i in range(12)]
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"color": rng.choice(names, 300), "x": rng.normal(size=300)})
    model = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["color"]),
                                                  remainder="passthrough"),
                          LogisticRegression()).fit(df, (df.x > 0).astype(int))
    conv = og.convert(model, df.head())
    some = df[df.color.isin(["c00", "c01"])]
    [plain] = _items(og.validate(conv, reference=model, data=some), "known_values")
    assert plain["what"] == "10 categories no row holds", plain
    searched = og.validate(conv, reference=model, data=some, search=40)
    tried = searched.check("search_divergences").details["known_values_tried"]
    assert searched.passed and 0 < len(tried) < 10, tried
    [item] = _items(searched, "known_values")
    assert item["what"] == f"{10 - len(tried)} categories no row holds", item
    assert not any(repr(value) in item["why"] for _, _, value in tried), (item, tried)
    assert "the search (budget 40) did not reach them" in item["why"]


def test_text_categories_read_as_codes_on_a_sql_target_are_named_by_their_text():
    """A OneHotEncoder over text columns converted for SQL Edge reads each column's codes (int32): the note of the
    categories no row holds named their codes ('color': 0), where the data holds texts and a container file of the
    same model says 'blue'. The search tries the code too (helper-354's integer categories), recording it as
    'blue', so the note goes after one, as on the container file."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"color": rng.choice(["red", "green", "blue"], 300), "x": rng.normal(size=300)})
    y = np.where(df.x + (df.color == "red") > 0.5, "big", "small")
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["color"]), remainder="passthrough"),
                          LogisticRegression()).fit(df, y)
    some = df[df.color != "blue"]
    for target in ("sql-edge-2.0", "container"):
        report = og.validate(og.convert(model, df.head(), target=target), target, reference=model, data=some)
        [item] = _items(report, "known_values")
        assert item["why"].startswith("'color': 'blue': "), (target, item)
        assert item["values"][0]["values"] == ["blue"], (target, item)
        assert "the search tries them" in item["why"], (target, item)
        searched = og.validate(og.convert(model, df.head(), target=target), target, reference=model, data=some,
                               search=30)
        assert searched.passed and _items(searched, "known_values") == [], (target, searched.not_checked())
        assert ["color", 0, "blue"] in searched.check("search_divergences").details["known_values_tried"], target


# -- categories inside the trees, character n-grams (helper-354) ---------------------------------------------------


@pytest.fixture(scope="module")
def lightgbm_shops():
    """LightGBM with categorical_feature on a plain integer column: its trees split on the values 7..99 themselves
    (no encoder in the file, only the trees' BRANCH_EQ splits know them)."""
    import pandas as pd

    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"shop": rng.choice([7, 11, 23, 42, 99], 600).astype(np.int64), "x": rng.normal(size=600)})
    y = (df.shop.isin([11, 42]) ^ (df.x > 0)).astype(int)
    model = lgb.LGBMClassifier(n_estimators=10, min_child_samples=5, min_data_per_group=5, cat_smooth=1,
                               verbose=-1).fit(df, y, categorical_feature=["shop"])
    return model, og.convert(model, df.head()), df


def test_categories_a_lightgbm_tree_splits_on_that_no_row_holds_are_named(lightgbm_shops):
    """Data without shops 42 and 99: the note names them (no note was written: the file has no encoder); a search
    that reaches them scores them and the note goes; data holding every shop says nothing."""
    model, conv, df = lightgbm_shops
    some = df[~df.shop.isin([42, 99])]
    [item] = _items(og.validate(conv, reference=model, data=some), "known_values")
    assert item["what"] == "2 categories no row holds", item
    assert item["why"].startswith("'shop': 42, 99: the model knows them") and "the search tries them" in item["why"]
    assert item["values"] == [{"input": "shop", "column": 0, "label": "shop", "kind": "category", "values": [42, 99],
                               "count": 2}]
    searched = og.validate(conv, reference=model, data=some, search=40)
    assert searched.passed and _items(searched, "known_values") == [], searched.not_checked()
    tried = searched.check("search_divergences").details["known_values_tried"]
    assert sorted(v for _, _, v in tried) == [42, 99], tried
    report = og.validate(conv, reference=model, data=df)
    assert report.passed and _items(report, "known_values") == [], report.not_checked()


def test_categories_an_xgboost_tree_splits_on_are_named_by_value_and_bounded():
    """XGBoost reads codes; the note names the categories no row holds by value, five of them and a count, and
    says a search too small to reach them did not."""
    import pandas as pd

    xgb = pytest.importorskip("xgboost")
    cats = [3, 8, 15, 21, 34, 40, 51, 60, 77, 80, 91, 99]
    rng = np.random.default_rng(4)
    shop = rng.choice(cats, 1200)
    x = rng.normal(size=1200)
    df = pd.DataFrame({"shop": pd.Categorical(shop, categories=cats), "x": x})
    model = xgb.XGBClassifier(n_estimators=8, max_depth=3, enable_categorical=True, tree_method="hist").fit(
        df, (np.isin(shop, cats[::2]) ^ (x > 1)).astype(int))
    conv = og.convert(model, df.head())
    some = df[df.shop.isin([3, 8])]
    [item] = _items(og.validate(conv, reference=model, data=some), "known_values")
    assert item["what"] == "10 categories no row holds", item
    shown = "'shop': 15, 21, 34, 40, 51 and 5 more: "
    assert item["why"].startswith(shown), item
    small = og.validate(conv, reference=model, data=some, search=6)
    tried = small.check("search_divergences").details["known_values_tried"]
    [item] = _items(small, "known_values")
    assert item["what"] == f"{10 - len(tried)} categories no row holds", (item, tried)
    assert "the search (budget 6) did not reach them" in item["why"], item
    report = og.validate(conv, reference=model, data=df)
    assert report.passed and _items(report, "known_values") == [], report.not_checked()


@pytest.fixture(scope="module")
def char_texts():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return _weather_text_model(TfidfVectorizer(analyzer="char", ngram_range=(2, 3)))


def test_character_ngrams_no_row_holds_are_named(char_texts):
    """Texts without 'foggy': the n-grams only texts holding it hold ('fo', 'ogg', 'd f', ...) are named (the note
    said nothing of a character vectorizer); every text: none."""
    model, conv, X = char_texts
    some = np.array([t for t in X if "foggy" not in t], dtype=object)
    report = og.validate(conv, reference=model, data=some.reshape(-1, 1))
    [item] = _items(report, "vocabulary")
    lacking = {g for g in model[0].vocabulary_ if not any(g in t for t in some)}
    assert "ogg" in lacking and all(any(g in t for t in X if "foggy" in t) for g in lacking), lacking
    assert item["what"] == f"{len(lacking)} vocabulary character n-grams no row holds", item
    assert set(item["values"][0]["values"]) == lacking and item["values"][0]["kind"] == "chars", item
    report = og.validate(conv, reference=model, data=X.reshape(-1, 1))
    assert report.passed and _items(report, "vocabulary") == [], report.not_checked()

"""LightGBM fitted on pandas ``category`` columns: each becomes an input of its categories' type,
mapped inside the graph to LightGBM's codes; parity on real rows, unseen and missing values
included; a wrong mapping is caught by validate; the refusals say what to do; the SQL and container
targets take the model or say why not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate._data import as_feeds
from onnxgate.converters import registry

lightgbm = pytest.importorskip("lightgbm")
pd = pytest.importorskip("pandas")
pytest.importorskip("onnxmltools")

BANDS = [f"band {c}" for c in "abcdef"]
#: Small leaves and groups, so that the few trees split on the category columns.
PARAMS: dict[str, Any] = {"n_estimators": 8, "min_child_samples": 3, "min_data_per_group": 2, "cat_smooth": 1,
                          "verbose": -1, "n_jobs": 1}


def _frame(dataset: str) -> tuple[Any, np.ndarray]:
    """Two measured columns, a text category (a strong column binned into named bands, named out of
    value order so the trees need categorical splits), an integer category (another column binned
    into grades 7, 14, ...) and a plain int32 column (an int64 one would have the integer category's
    type: which of the two LightGBM coded could not be told from the ONNX inputs)."""
    from sklearn import datasets

    data = getattr(datasets, f"load_{dataset}")(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    strong, other, keep = {"wine": ("flavanoids", "proline", ["alcohol", "hue"]),
                           "diabetes": ("bmi", "s5", ["age", "bp"])}[dataset]
    rng = np.random.default_rng(1)
    frame = X[keep].copy()
    named = pd.cut(X[strong], len(BANDS), labels=list(rng.permutation(BANDS))).astype(str)
    frame.insert(1, "band", pd.Categorical(named, categories=BANDS))
    grades = [int(g) for g in rng.permutation(np.arange(1, 7) * 7)]
    binned = pd.cut(X[other], len(grades), labels=False).map(dict(enumerate(grades)))
    frame["grade"] = pd.Categorical(binned, categories=sorted(grades))
    frame["visits"] = rng.integers(0, 5, len(frame)).astype(np.int32)
    return frame, y


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[Any, Any]]:
    wine, wine_y = _frame("wine")
    diabetes, diabetes_y = _frame("diabetes")
    return {
        "classifier": (lightgbm.LGBMClassifier(**PARAMS).fit(wine, wine_y), wine),
        "regressor": (lightgbm.LGBMRegressor(**PARAMS).fit(diabetes, diabetes_y), diabetes),
        # the native API: lgb.train on a Dataset built from the DataFrame
        "booster": (lightgbm.train({"objective": "multiclass", "num_class": 3, **PARAMS},
                                   lightgbm.Dataset(wine, wine_y)), wine),
    }


def _categorical_splits(model: Any) -> int:
    booster = model.booster_ if hasattr(model, "booster_") else model

    def count(node: dict[str, Any]) -> int:
        if "split_index" not in node:
            return 0
        return (node["decision_type"] == "==") + count(node["left_child"]) + count(node["right_child"])

    return sum(count(tree["tree_structure"]) for tree in booster.dump_model()["tree_info"])


def _onnx(conv: og.Conversion, frame: Any) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, as_feeds(frame, conv.signature))
    return np.asarray(outputs[-1], dtype=np.float64).reshape(len(frame), -1)  # probabilities, or the value


def _lightgbm(model: Any, frame: Any) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(frame))
    return np.asarray(model.predict(frame), dtype=np.float64).reshape(len(frame), -1)


def _with(frame: Any, **values: Any) -> Any:
    """``frame`` with whole columns replaced, kept as category columns with the training categories
    (as LightGBM re-reads them: a value outside them is missing)."""
    out = frame.copy()
    for column, value in values.items():
        out[column] = pd.Categorical([value] * len(frame), categories=frame[column].cat.categories)
    return out


@pytest.mark.parametrize("kind", ["classifier", "regressor", "booster"])
def test_each_category_column_is_an_input_of_its_categories_type_and_validates(fitted: dict[str, Any],
                                                                                 kind: str) -> None:
    model, frame = fitted[kind]
    assert _categorical_splits(model) > 0  # the model really reads the category codes
    conv = og.convert(model, frame.head())
    assert [(s.name, s.elem_type) for s in conv.signature.inputs][1:4] == [
        ("band", "string"), (frame.columns[2], "float64"), ("grade", "int64")]
    assert conv.signature.inputs[4].elem_type == "int32"  # the plain int32 column is not read as a category
    assert conv.opsets["ai.onnx.ml"] >= 2
    report = og.validate(conv, target="container", reference=model, data=frame, search=60, seed=0)
    assert report.check("prediction_parity").passed, str(report)
    np.testing.assert_allclose(_onnx(conv, frame), _lightgbm(model, frame), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_unseen_and_missing_categories_score_as_lightgbm_scores_them(fitted: dict[str, Any], kind: str) -> None:
    """LightGBM reads a value outside the training categories, and a missing one, as missing (code
    -1 made NaN); the graph's LabelEncoder maps any other value to NaN. An ONNX string or int64
    input cannot hold a missing value: filled with a value outside the categories, it scores as
    LightGBM scores the missing one."""
    model, frame = fitted[kind]
    conv = og.convert(model, frame.head())
    expected = _lightgbm(model, frame)
    for column, unseen in (("band", "band z"), ("grade", 999)):
        given = [unseen] * len(frame)
        if column == "grade":
            # a plain number none of the integer categories is refused, on every route: it may be a code a client
            # meant, which LightGBM (which refuses a plain integer column) would score as missing (helper-233); a
            # category column holding it is read as LightGBM reads it
            with pytest.raises(og.InvalidDataError, match=r"holds \d+ number\(s\) that are none of the model's"):
                as_feeds(frame.assign(grade=given), conv.signature)
            given = pd.Categorical(given)
        onnx_rows = _onnx(conv, frame.assign(**{column: given}))
        missing = _lightgbm(model, _with(frame, **{column: np.nan}))
        np.testing.assert_allclose(onnx_rows, missing, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(onnx_rows, _lightgbm(model, _with(frame, **{column: unseen})), rtol=1e-4, atol=1e-4)
        assert np.abs(missing - expected).max() > 1e-3  # the column matters: a wrong code would show
    # a missing text category is fed as a text outside the categories, recorded in the file: the training
    # frame with gaps was refused ("fill them first")
    assert conv.signature.input("band").missing == ""
    holes = frame.copy()
    holes.loc[holes.index[::5], "band"] = np.nan
    assert og.validate(conv, reference=model, data=holes).passed
    np.testing.assert_allclose(_onnx(conv, holes), _lightgbm(model, holes), rtol=1e-4, atol=1e-4)
    assert np.abs(_lightgbm(model, holes) - expected).max() > 1e-3  # the gaps matter
    # an integer category's missing value is fed as an integer outside the categories, recorded in the file:
    # the frame with gaps was refused ("input 'grade' is int64; fill or drop them first")
    assert conv.signature.input("grade").missing == "-1"
    grade_holes = frame.copy()
    grade_holes.loc[grade_holes.index[::5], "grade"] = np.nan
    assert og.validate(conv, reference=model, data=grade_holes).passed
    np.testing.assert_allclose(_onnx(conv, grade_holes), _lightgbm(model, grade_holes), rtol=1e-4, atol=1e-4)
    assert np.abs(_lightgbm(model, grade_holes) - expected).max() > 1e-3  # the gaps matter


def test_a_label_encoder_with_its_keys_out_of_order_fails_parity(fitted: dict[str, Any]) -> None:
    """The parity check is what proves the mapping: the categories in reverse order are caught."""
    import dataclasses

    import onnx

    model, frame = fitted["classifier"]
    conv = og.convert(model, frame.head())
    broken = onnx.ModelProto()
    broken.CopyFrom(conv.model)
    encoder = next(n for n in broken.graph.node if n.op_type == "LabelEncoder" and n.input[0] == "band")
    keys = next(a for a in encoder.attribute if a.name == "keys_strings")
    keys.strings[:] = list(reversed(keys.strings))
    report = og.validate(dataclasses.replace(conv, model=broken), reference=model, data=frame)
    assert not report.check("prediction_parity").passed
    assert og.validate(conv, reference=model, data=frame).passed


def test_below_ai_onnx_ml_2_the_label_encoder_is_refused_with_the_opset_that_works(fitted: dict[str, Any]) -> None:
    model, frame = fitted["regressor"]
    with pytest.raises(og.OpsetError, match=r"needs ai\.onnx\.ml opset 2; this conversion is at ai\.onnx\.ml 1 "
                                            r"\(opset 10\)\. Ask for opset 11 or higher"):
        og.convert(model, frame.head(), opset=10)
    assert og.convert(model, frame.head(), opset=11).opsets["ai.onnx.ml"] == 2


def test_the_reference_input_is_rebuilt_with_the_training_categories(fitted: dict[str, Any]) -> None:
    """What the search and the robustness checks feed LightGBM: category columns, not codes or text."""
    model, frame = fitted["booster"]
    conv = og.convert(model, frame.head())
    feeds = as_feeds(frame.head(3).assign(band=["band z", "band a", "band b"]), conv.signature)
    native = registry.get("lightgbm").native_input(feeds, conv.signature, model)
    assert list(native.columns) == list(frame.columns)
    assert list(native["band"].cat.categories) == BANDS
    assert list(native["grade"].cat.categories) == list(frame["grade"].cat.categories)
    assert native["band"].isna().tolist() == [True, False, False]
    assert native["visits"].dtype.kind == "i"


def test_a_sample_read_from_a_file_finds_the_category_columns_by_their_types(fitted: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    model, frame = fitted["classifier"]
    from_frame = og.convert(model, frame.head())
    # Parquet keeps a text category dtype and the int32 column, and drops an integer category dtype
    frame.to_parquet(tmp_path / "rows.parquet")
    rows = pd.read_parquet(tmp_path / "rows.parquet").assign(grade=lambda f: f["grade"].astype("int64"))
    conv = og.convert(model, rows.head())
    assert [s.elem_type for s in conv.signature.inputs] == [s.elem_type for s in from_frame.signature.inputs]
    assert og.validate(conv, reference=model, data=rows).passed
    # a CSV file reads the int32 column as int64, beside the integer categories: which is which cannot be told
    frame.to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(og.InvalidDataError, match=r"LightGBM coded cannot be told from their types"):
        og.convert(model, pd.read_csv(tmp_path / "rows.csv").head())


def test_a_sample_with_a_category_column_as_its_codes_is_refused(fitted: dict[str, Any]) -> None:
    model, frame = fitted["regressor"]
    with pytest.raises(og.InvalidDataError, match=r"do not hold them\. Pass a sample with the columns and dtypes"):
        og.convert(model, frame.assign(band=frame["band"].cat.codes).head())


@pytest.mark.parametrize("how", ["ordered", "declared"])
def test_category_columns_that_cannot_be_told_from_the_input_types_are_refused(how: str) -> None:
    """A plain int64 column beside an integer category: the reference's input is rebuilt from the ONNX
    input types, which cannot say which one LightGBM coded. Guessing from the features the trees split
    on as categories put the codes on the wrong column of a model given categorical_feature=["visits"]
    (99 of 569 labels flipped, and validate passed, the reference rebuilt the same wrong way)."""
    frame, y = _frame("diabetes")
    frame["visits"] = frame["visits"].astype("int64")
    if how == "ordered":  # an ordered category is split on as a number
        frame["grade"] = frame["grade"].cat.as_ordered()
        model = lightgbm.LGBMRegressor(**PARAMS).fit(frame, y)
    else:
        model = lightgbm.LGBMRegressor(**PARAMS).fit(frame, y, categorical_feature=["band", "visits"])
    rows = frame.assign(band=frame["band"].astype(str), grade=frame["grade"].astype("int64"))
    for sample in (rows.head(), frame.head()):
        with pytest.raises(og.InvalidDataError, match=r"LightGBM coded cannot be told from their types.*"
                                                      r"integer categories as text.*float64"):
            og.convert(model, sample)
    fixed = frame.assign(visits=frame["visits"].astype("float64"))
    refit = (lightgbm.LGBMRegressor(**PARAMS).fit(fixed, y) if how == "ordered"
             else lightgbm.LGBMRegressor(**PARAMS).fit(fixed, y, categorical_feature=["band", "visits"]))
    assert og.validate(og.convert(refit, fixed.head()), reference=refit, data=fixed).passed


@pytest.mark.parametrize("dtype", ["float64", "Int64"])
def test_an_integer_category_column_with_missing_values_scores_as_lightgbm_scores_it(
        dtype: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An integer column holding a missing value is float64 (or pandas' Int64) in pandas, so its category
    dtype's categories are 7.0, 14.0, ... (or Int64 ones): onnxgate refused the first model ("neither all
    text nor all integers"), and the training frame of both (an int64 input holds no missing value). The
    whole-number categories are integers (an int64 input); a missing value is fed as an integer none of
    them, which LightGBM scores as it scores a missing one, as it does a value in a gap between the
    categories (8) or outside them."""
    from onnxgate.cli import main

    frame, y = _frame("wine")
    rng = np.random.default_rng(0)
    # the class, as grades with gaps between them, often wrong, so the trees split on it among the others
    grade = pd.Series(np.where(rng.random(len(y)) < 0.7, np.array([7.0, 14.0, 42.0])[y], 21.0))
    grade[::6] = np.nan
    frame["grade"] = (grade if dtype == "float64" else grade.astype("Int64")).astype("category")
    model = lightgbm.LGBMClassifier(**PARAMS).fit(frame, y)
    assert _categorical_splits(model) > 0
    conv = og.convert(model, frame.head(20))
    assert conv.signature.input("grade").elem_type == "int64"
    expected = _lightgbm(model, frame)
    np.testing.assert_allclose(_onnx(conv, frame), expected, rtol=1e-4, atol=1e-4)
    assert og.validate(conv, reference=model, data=frame).passed
    missing = _lightgbm(model, _with(frame, grade=np.nan))
    assert np.abs(missing - expected).max() > 1e-3  # the column matters: a wrong code would show
    for value in (8, 0, 100, 2**40):  # in a gap, below, above, past int32
        # as a category column, as LightGBM reads it; a plain one is refused on every route (helper-233)
        np.testing.assert_allclose(_onnx(conv, frame.assign(grade=pd.Categorical([value] * len(frame)))), missing,
                                   rtol=1e-4, atol=1e-4)
        with pytest.raises(og.InvalidDataError, match=r"none of the model's categories \[7, 14, 21, 42\]"):
            as_feeds(frame.assign(grade=[value] * len(frame)), conv.signature)
    # -1, the integer the file reads a missing value as (recorded), is one in a plain column too
    np.testing.assert_allclose(_onnx(conv, frame.assign(grade=[-1] * len(frame))), missing, rtol=1e-4, atol=1e-4)
    # a CSV reads the column as float64 (NaN, 14.0): beside the int32 column read as int64, which of the two
    # LightGBM coded cannot be told (that int64 column was taken for it, and validate passed)
    monkeypatch.chdir(tmp_path)
    frame.to_csv("both.csv", index=False)
    with pytest.raises(og.InvalidDataError, match="cannot be told from their types"):
        og.convert(model, pd.read_csv("both.csv").head(20))
    # the command line, without that column
    frame = frame.drop(columns="visits")
    model = lightgbm.LGBMClassifier(**PARAMS).fit(frame, y)
    frame.to_csv("rows.csv", index=False)
    frame.head(20).to_csv("sample.csv", index=False)
    import joblib

    joblib.dump(model, "model.pkl")
    assert main(["convert", "model.pkl", "--trust-pickle", "--sample", "sample.csv", "-o", "model.onnx"]) == 0
    assert main(["validate", "model.onnx", "--trust-pickle", "--reference", "model.pkl", "--data", "rows.csv"]) == 0


def test_categories_that_are_neither_text_nor_integers_are_refused() -> None:
    frame, y = _frame("diabetes")
    frame["grade"] = frame["grade"].cat.rename_categories(lambda g: g / 2)
    model = lightgbm.LGBMRegressor(**PARAMS).fit(frame, y)
    with pytest.raises(og.UnsupportedModelError, match=r"neither all text nor all integers \(found \[3\.5, 7\.0"):
        og.convert(model, frame.head())


def test_category_codes_with_categorical_feature_still_convert_as_numbers() -> None:
    """The other way LightGBM takes categories: integer codes declared with categorical_feature."""
    frame, y = _frame("wine")
    codes = frame.assign(band=frame["band"].cat.codes.astype("int64"), grade=frame["grade"].cat.codes.astype("int64"))
    model = lightgbm.LGBMClassifier(**PARAMS).fit(codes, y, categorical_feature=["band", "grade"])
    conv = og.convert(model, codes.head())
    assert {s.elem_type for s in conv.signature.inputs} <= {"float64", "int64", "int32"}
    assert og.validate(conv, reference=model, data=codes).passed


@pytest.mark.parametrize("kind", ["classifier", "regressor", "booster", "pipeline"])
def test_category_codes_that_are_not_integers_score_as_lightgbm_truncates_them(kind: str) -> None:
    """LightGBM reads a categorical value as static_cast<int>: 2.5 and 2.9 are category 2, -0.5 is category 0.
    onnxmltools' splits compared the value itself, so 2.5 matched no category: probabilities 0.14 against
    LightGBM's 0.07 on such rows, and a file validated on integer codes scored fractional ones otherwise."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 6, 2000), rng.normal(size=2000)])
    y = ((X[:, 0] % 2 == 0) ^ (X[:, 1] > 0)).astype(int)
    default = {"n_estimators": 20, "verbose": -1}  # LightGBM's own settings: categorical splits on these codes
    model: Any
    if kind == "classifier":
        model = lightgbm.LGBMClassifier(**default).fit(X, y, categorical_feature=[0])
    elif kind == "regressor":
        model = lightgbm.LGBMRegressor(**default).fit(X, 3 * X[:, 0] + X[:, 1], categorical_feature=[0])
    elif kind == "booster":
        model = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, y,
                                                                                        categorical_feature=[0]), 20)
    else:
        model = make_pipeline(FunctionTransformer(), lightgbm.LGBMClassifier(**default)).fit(
            X, y, lgbmclassifier__categorical_feature=[0])
    odd = np.array([[v, 0.3] for v in (2.0, 2.5, 2.9, -0.5, -1.0, 3.0, 7.0, np.nan, 1e10)])
    for opset in (9, 17):
        conv = og.convert(model, X[:5], opset=opset)
        result = og.validate(conv, reference=model, data=np.vstack([odd, X[:100]])).check("prediction_parity")
        assert result.passed, result.message


@pytest.mark.parametrize("target", ["sql-edge-2.0", "synapse"])
def test_integer_categories_go_to_sql_and_text_ones_where_the_target_takes_text(fitted: dict[str, Any], target: str,
                                                                               tmp_path: Path) -> None:
    """SQL Edge's PREDICT takes numbers only: a text category column is its codes there, an integer one its
    values, which convert, validate, package and score in the DuckDB dry run; Synapse takes both as values."""
    model, frame = fitted["regressor"]
    numbers = frame.drop(columns=["band"])
    model_numbers = lightgbm.LGBMRegressor(**PARAMS).fit(numbers, model.predict(frame))
    conv = og.convert(model, frame.head(), target=target)
    band = dict((s.name, s.elem_type) for s in conv.signature.inputs)["band"]
    assert band == ("int32" if target == "sql-edge-2.0" else "string")  # SQL Edge takes the text's codes
    assert og.validate(conv, target=target, reference=model, data=frame).passed
    conv = og.convert(model_numbers, numbers.head(), target=target)
    assert dict((s.name, s.elem_type) for s in conv.signature.inputs)["grade"] == "int64"
    report = og.validate(conv, target=target, reference=model_numbers, data=numbers)
    assert report.passed, str(report)
    og.package(conv, target=target, out=tmp_path / "p", reference=model_numbers, data=numbers)
    if target == "sql-edge-2.0":
        from onnxgate.deploy.duckdb_dryrun import dry_run

        result = dry_run(tmp_path / "p", numbers, reference=model_numbers)
        assert result.passed, str(result)


def test_container_package_takes_text_categories(fitted: dict[str, Any], tmp_path: Path) -> None:
    model, frame = fitted["classifier"]
    conv = og.convert(model, frame.head())
    og.package(conv, target="container", out=tmp_path / "c", reference=model, data=frame)
    assert (tmp_path / "c" / "model.onnx").exists()


def test_a_pipeline_step_fitted_on_category_columns_is_refused_by_name(fitted: dict[str, Any]) -> None:
    # skl2onnx hands the step one matrix: the text went into a Concat with the numbers, and convert
    # wrote (exit 0) a file onnxruntime cannot load
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    model, frame = fitted["classifier"]
    pipeline = make_pipeline(FunctionTransformer(), lightgbm.LGBMClassifier(**PARAMS)).fit(frame, model.predict(frame))
    with pytest.raises(og.UnsupportedModelError, match=r"inside a scikit-learn pipeline was fitted on pandas "
                                                       r"category columns.*Convert the LightGBM model alone"):
        og.convert(pipeline, frame.head())


def test_a_text_category_for_a_sql_target_is_its_codes_as_lightgbm_scores_them(fitted: dict[str, Any],
                                                                                tmp_path: Path) -> None:
    """SQL Edge takes no text: the model was refused ("reads string values ... use synapse"), though its splits
    read the codes, as an XGBoost one's, which converts. The input is the codes (an integer column); validate,
    the package and the dry run map a category column to them by value, a missing and an unseen value as
    LightGBM scores them (as missing)."""
    from onnxgate.deploy.duckdb_dryrun import dry_run

    model, frame = fitted["classifier"]
    conv = og.convert(model, frame.head(), target="sql-edge-2.0")
    spec = conv.signature.inputs[1]
    assert (spec.name, spec.elem_type, spec.codes) == ("band", "int32", ((0, tuple(BANDS)),))
    rows = frame.copy()  # the categories in another order, missing and unseen values
    rows["band"] = rows["band"].cat.reorder_categories(BANDS[::-1]).cat.add_categories("band x")
    rows.iloc[:6, 1] = np.nan
    rows.iloc[6:12, 1] = "band x"
    report = og.validate(conv, target="sql-edge-2.0", reference=model, data=rows)
    assert report.passed, str(report)
    og.package(conv, target="sql-edge-2.0", out=tmp_path / "p", reference=model, data=frame)
    result = dry_run(tmp_path / "p", rows, reference=model)
    assert result.passed, str(result)
    assert np.array_equal(result.result.column("label").to_numpy(), model.predict(rows))
    np.testing.assert_allclose(np.stack([result.result.column(f"p_{k}").to_numpy() for k in range(3)], axis=1),
                               model.predict_proba(rows), atol=1e-5)


def test_a_float32_integer_category_column_reads_nan_as_a_missing_category() -> None:
    """The integer category column as float32 (a Parquet float column, a frame downcast to save memory): its
    NaN is a missing category as a float64 column's is. A float32 NaN is no Python float, and was refused
    ("1 missing or non-finite value(s) but input 'grade' is int64") where the float64 column scored."""
    frame, y = _frame("wine")
    rng = np.random.default_rng(0)
    grade = pd.Series(np.where(rng.random(len(y)) < 0.7, np.array([7.0, 14.0, 42.0])[y], 21.0))
    grade[::6] = np.nan
    frame["grade"] = grade.astype("category")
    model = lightgbm.LGBMClassifier(**PARAMS).fit(frame, y)
    conv = og.convert(model, frame.head(20))
    rows = frame.assign(grade=grade.astype("float32"))
    np.testing.assert_allclose(_onnx(conv, rows), _lightgbm(model, frame), rtol=1e-4, atol=1e-4)
    assert og.validate(conv, reference=model, data=rows).passed


@pytest.mark.parametrize("kind", ["frame", "array", "pipeline"])
def test_integer_categories_past_float32_are_refused_naming_the_column_and_the_fix(kind: str) -> None:
    """Ids 100000001..100000004 given with categorical_feature: the file's trees read features as float32,
    which holds only every 8th integer there, so the four ids were one category: 404 of 800 labels differed
    from LightGBM's and convert said nothing (helper-143). Refused, naming the column and the renumbering."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(0)
    ids = rng.choice(np.arange(100_000_001, 100_000_005), 800)
    x = rng.normal(size=800)
    y = (np.isin(ids, [100_000_001, 100_000_003]) ^ (x > 1)).astype(int)
    frame = pd.DataFrame({"x": x, "shop": ids})
    params = {"n_estimators": 10, "min_child_samples": 5, "min_data_per_group": 5, "cat_smooth": 1, "verbose": -1,
              "n_jobs": 1}
    model: Any
    if kind == "frame":
        sample, named = frame, "shop"
        model = lightgbm.LGBMClassifier(**params).fit(frame, y, categorical_feature=["shop"])
    elif kind == "array":
        sample = frame.to_numpy()
        model, named = lightgbm.LGBMClassifier(**params).fit(sample, y, categorical_feature=[1]), "feature 1"
    else:
        sample, named = frame.to_numpy(), "feature 1"
        model = make_pipeline(FunctionTransformer(), lightgbm.LGBMClassifier(**params)).fit(
            sample, y, lgbmclassifier__categorical_feature=[1])
    with pytest.raises(og.UnsupportedModelError, match=rf"\['{named}'\] on integer categories up to 100,000,00.*"
                                                        r"past 2\*\*24.*Renumber the categories"):
        og.convert(model, sample[:20] if kind != "frame" else sample.head(20))
    # the same ids renumbered 0..3 convert and score as LightGBM does
    codes = frame.assign(shop=frame["shop"] - 100_000_001)
    renumbered = lightgbm.LGBMClassifier(**params).fit(codes, y, categorical_feature=["shop"])
    assert og.validate(og.convert(renumbered, codes.head(20)), reference=renumbered, data=codes).passed


def _unseen_and_missing(frame: Any) -> Any:
    """``frame`` with its band categories in another order, rows 0-5 missing and rows 6-11 a band none of the
    model's (LightGBM scores both as missing)."""
    rows = frame.copy()
    rows["band"] = rows["band"].cat.reorder_categories(BANDS[::-1]).cat.add_categories("band x")
    rows.iloc[:6, 1] = np.nan
    rows.iloc[6:12, 1] = "band x"
    return rows


def test_a_text_category_converted_without_a_target_is_adapted_to_its_codes_for_sql_edge(
        fitted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model converted without a target (its text input read through the categories' LabelEncoder) and then
    packaged for SQL Edge with adaptation was refused ("the model reads string values ... Encode it as numbers
    before training"): refitting was never needed, as convert(..., target='sql-edge-2.0') shows. The adaptation
    now feeds the input its codes; without it, the check names the adaptation as the fix."""
    from onnxgate.cli import main
    from onnxgate.deploy.duckdb_dryrun import dry_run

    model, frame = fitted["classifier"]
    rows = _unseen_and_missing(frame)
    conv = og.convert(model, frame.head())
    with pytest.raises(og.ValidationFailedError) as refused:
        og.package(conv, target="sql-edge-2.0", out=tmp_path / "plain")
    assert "'band' is string (use its category codes: adapt the model, CLI --adapt" in str(refused.value.report)
    adapted = og.adapt(conv, "sql-edge-2.0")
    assert adapted.signature.input("band").elem_type == "int32"
    assert any("take their codes" in w for w in adapted.warnings)
    og.package(conv, target="sql-edge-2.0", out=tmp_path / "p", adapt=True, reference=model, data=rows)
    result = dry_run(tmp_path / "p", rows, reference=model)
    assert result.passed, str(result)
    np.testing.assert_allclose(np.stack([result.result.column(f"p_{k}").to_numpy() for k in range(3)], axis=1),
                               model.predict_proba(rows), atol=1e-5)
    monkeypatch.chdir(tmp_path)
    conv.save("model.onnx")
    assert main(["package", "model.onnx", "--target", "sql-edge-2.0", "--adapt", "--out", "cli"]) == 0


def test_the_codes_for_sql_edge_score_on_one_machine_as_lightgbm_does(fitted: dict[str, Any], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``onnxgate score`` on the file of codes (converted for SQL Edge) reads a Parquet category column by value:
    an unseen and a missing band score as LightGBM scores them (a regression guard: it did before)."""
    from onnxgate.cli import main

    model, frame = fitted["classifier"]
    rows = _unseen_and_missing(frame)
    monkeypatch.chdir(tmp_path)
    og.convert(model, frame.head(), target="sql-edge-2.0").save("model.onnx")
    rows.to_parquet("rows.parquet")
    assert main(["score", "model.onnx", "--data", "rows.parquet", "--out", "scored.parquet"]) == 0
    scored = pd.read_parquet("scored.parquet")
    np.testing.assert_allclose(scored[["p_0", "p_1", "p_2"]].to_numpy(), model.predict_proba(rows), atol=1e-5)

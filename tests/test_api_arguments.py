"""The public API's arguments, given as a new user gets them wrong: each is refused with onnxgate's own error and a
message that says what was expected and what was found, before anything is written; an argument of another type
that means the same thing works (helper-273's sweep of the public functions with misuses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import onnxgate as og
from onnxgate.testing import assert_parity, model_checks


@pytest.fixture(scope="module")
def iris() -> tuple[Any, np.ndarray, og.Conversion]:
    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    return model, X, og.convert(model, X[:5], opset=15)


def test_a_numpy_integer_opset_converts_at_that_opset(iris: Any) -> None:
    model, X, _ = iris
    conv = og.convert(model, X[:5], opset=np.int64(15))  # was refused: "opset must be an integer, found np.int64(15)"
    assert conv.requested_opset == 15 and type(conv.requested_opset) is int


def test_options_that_are_not_a_mapping_are_refused(iris: Any) -> None:
    model, X, _ = iris
    with pytest.raises(og.UnsupportedModelError, match=r"options: expected a mapping .* found list \['zipmap'\]"):
        og.convert(model, X[:5], options=["zipmap"])  # was ValueError: dictionary update sequence element #0


@pytest.mark.parametrize(("keyword", "value", "match"), [
    ("fail_fast", "no", r"fail_fast: expected True or False, found 'no'"),
    ("progress", 3, r"progress: expected True, False, None or a callable .* found 3"),
], ids=["fail_fast-string", "progress-int"])
def test_validate_refuses_a_flag_that_is_not_one(iris: Any, keyword: str, value: Any, match: str) -> None:
    with pytest.raises(og.InvalidDataError, match=match):  # fail_fast="no" ran with fail_fast on
        og.validate(iris[2], **{keyword: value})


def test_validate_refuses_complex_data_instead_of_dropping_the_imaginary_part(iris: Any) -> None:
    model, X, conv = iris
    with pytest.raises(og.InvalidDataError, match=r"holds complex numbers \(complex128\).*imaginary part"):
        og.validate(conv, reference=model, data=X + 1j)  # passed parity on the real parts


def test_validate_refuses_a_single_value_as_data(iris: Any) -> None:
    model, _, conv = iris
    with pytest.raises(og.InvalidDataError, match=r"the data is a single value, 3; expected rows"):
        og.validate(conv, reference=model, data=3)  # was a failed check: "TypeError: ... (please report it)"


@pytest.mark.parametrize(("keywords", "match"), [
    ({"out": None}, r"out: expected the package folder's path .* found None"),
    ({"out": 3}, r"out: expected the package folder's path .* found 3"),
    ({"out": "dist", "overwrite": "yes"}, r"overwrite: expected True or False, found 'yes'"),
], ids=["out-None", "out-int", "overwrite-string"])
def test_package_refuses_an_out_or_overwrite_of_the_wrong_type_and_writes_nothing(
        iris: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keywords: dict[str, Any], match: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(og.PackagingError, match=match):
        og.package(iris[2], target="container", **keywords)
    assert list(tmp_path.iterdir()) == []


def test_targets_get_refuses_a_target_with_its_name() -> None:
    container = og.targets.get("container")
    with pytest.raises(og.TargetError, match=r"expected a target name, one of .* pass its name, 'container'"):
        og.targets.get(container)  # was TypeError: unhashable type: 'mappingproxy'


def test_targets_from_toml_refuses_what_is_not_a_path() -> None:
    with pytest.raises(og.TargetError, match=r"expected the target file's path .* found None"):
        og.targets.from_toml(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("framework", ["SKLEARN", "sklern"])
def test_zoo_refuses_a_framework_it_has_no_entries_for(framework: str) -> None:
    with pytest.raises(og.UnknownNameError, match=rf"no zoo entries for framework '{framework}'; .*'sklearn'"):
        og.zoo.names(framework)  # was [], read as "the zoo has no such models"
    with pytest.raises(og.UnknownNameError):
        og.zoo.entries(framework)


@pytest.mark.parametrize(("keywords", "error", "match"), [
    ({"target": "contaner"}, og.TargetError, r"unknown target 'contaner'"),
    ({"infinities_compare_equal": "no"}, og.InvalidDataError, r"infinities_compare_equal: expected True or False"),
], ids=["target-misspelled", "infinities-string"])
def test_assert_parity_refuses_a_misspelled_target_or_a_flag_that_is_not_one(
        iris: Any, keywords: dict[str, Any], error: type[Exception], match: str) -> None:
    model, X, conv = iris
    with pytest.raises(error, match=match):  # both passed: the target is read only by the search
        assert_parity(model, conv, X, **keywords)


@pytest.mark.parametrize(("keywords", "match"), [
    ({"search": -1}, r"search must be an integer >= 0"),
    ({"search": "3"}, r"search must be an integer >= 0"),
    ({"atol": -1}, r"atol .* must be"),
], ids=["search-negative", "search-string", "atol-negative"])
def test_model_checks_refuses_settings_no_check_can_use(iris: Any, keywords: dict[str, Any], match: str) -> None:
    with pytest.raises(og.InvalidDataError, match=match):  # were accepted (search="3": TypeError)
        model_checks(iris[2], **keywords)


@pytest.mark.parametrize("target", [None, "sql-edge-2.0"], ids=["no-target", "sql-edge"])
def test_a_one_row_sample_converts_and_validates_as_that_row(iris: Any, target: str | None) -> None:
    model, X, _ = iris
    conv = og.convert(model, X[0], target=target)  # read as one row of 4 features
    # before: the same sample read as 4 rows of 1, "expects 4 values per row, the data has 1"
    report = og.validate(conv, target)
    parity = report.check("prediction_parity")
    assert report.passed and parity.passed and "match on 1 row " in parity.message + " "


@pytest.mark.parametrize("target", [None, "sql-edge-2.0"], ids=["no-target", "sql-edge"])
def test_a_dataframe_row_as_sample_converts_and_validates_as_that_row(iris: Any, target: str | None) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    fitted, X, _ = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    model = LogisticRegression(max_iter=500).fit(frame, fitted.predict(X))
    # df.iloc[0], a Series of the 4 features, was refused: "the model was fitted on 4 features; the sample has 1
    # columns" (X[0] converts as one row)
    conv = og.convert(model, frame.iloc[0], target=target)
    report = og.validate(conv, target)
    parity = report.check("prediction_parity")
    assert report.passed and parity.passed and "match on 1 row " in parity.message + " "


def test_a_sample_of_no_rows_converts_and_validate_and_package_ask_for_data(
        iris: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, X, _ = iris
    monkeypatch.chdir(tmp_path)
    conv = og.convert(model, X[:0])  # a schema: the input's name, type and width
    assert [(s.name, s.shape) for s in conv.signature.inputs] == [("input", (None, 4))]
    said = r"the conversion's sample has no rows \(shape \[0, 4\]\): .*parity.* needs rows\. Pass data="
    with pytest.raises(og.InvalidDataError, match=said):  # was "the parity data has no rows; pass at least one row"
        og.validate(conv)
    with pytest.raises(og.InvalidDataError, match=said):
        og.package(conv, target="container", out="dist")
    assert list(tmp_path.iterdir()) == []
    assert og.validate(conv, data=X[:10]).check("prediction_parity").passed
    # data= alone was dropped by the container package, which then compared on the sample: no rows again
    og.package(conv, target="container", out="dist", data=X[:10])
    assert (tmp_path / "dist" / "model.onnx").is_file()


@pytest.mark.parametrize("models", [None, [None]], ids=["None", "list-of-None"])
def test_model_checks_refuse_what_is_no_model_when_called(models: Any) -> None:
    from onnxgate.testing import parametrize_with_checks

    said = r"expected an ONNX model as a path, bytes, an onnx.ModelProto or a Conversion; found None"
    with pytest.raises(og.InvalidModelError, match=said):  # made checks of None, each failing when it ran
        parametrize_with_checks(models)
    if models is None:
        with pytest.raises(og.InvalidModelError, match=said):
            model_checks(models)


@pytest.mark.parametrize("flag", ["allow_nan", "allow_infinity", "extremes"])
def test_model_inputs_refuses_a_flag_that_is_not_one(iris: Any, flag: str) -> None:
    pytest.importorskip("hypothesis")
    from onnxgate.testing.strategies import model_inputs

    with pytest.raises(og.InvalidDataError, match=rf"{flag}: expected True or False, found 'x'"):
        model_inputs(iris[2], **{flag: "x"})  # a truthy string: drew NaN


@pytest.mark.parametrize(("keywords", "match"), [
    ({"path": None}, r"path: expected the ONNX file's path \(str or os.PathLike\), found None"),
    ({"path": "m.onnx", "overwrite": "no"}, r"overwrite: expected True or False, found 'no'"),
], ids=["path-None", "overwrite-string"])
def test_conversion_save_refuses_a_path_or_overwrite_of_the_wrong_type(
        iris: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keywords: dict[str, Any], match: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.onnx").write_bytes(b"the user's")
    with pytest.raises(og.PackagingError, match=match):  # TypeError from pathlib; overwrite="no" replaced the file
        iris[2].save(**keywords)
    assert (tmp_path / "m.onnx").read_bytes() == b"the user's" and len(list(tmp_path.iterdir())) == 1


def test_an_mlflow_package_of_a_conversion_compares_on_the_data_given(
        iris: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    pytest.importorskip("mlflow")
    _model, X, conv = iris
    monkeypatch.chdir(tmp_path)
    folder = og.package(conv, target="mlflow", out="dist", data=X)
    parity = next(c for c in json.loads((folder / "report.json").read_text())["checks"]
                  if c["name"] == "prediction_parity")
    assert parity["status"] == "passed" and f"on {len(X)} rows" in parity["message"]  # was skipped: no reference

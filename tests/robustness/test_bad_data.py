"""Bad data files for ``--data``/``--sample``: every one fails with a clear error naming the culprit.

The API raises :class:`InvalidDataError` (from ``load_data`` or ``as_feeds``); ``onnxgate validate
--data`` exits 2 with one stderr line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from onnxgate._data import as_feeds, load_data
from onnxgate.errors import InvalidDataError

GOOD_CSV = "age,income,city\n31,5200.5,Paris\n45,4100.0,Lyon\n"


def _column_model() -> Any:
    """Three ``[N,1]`` inputs, one per column, as a SQL-ready model has: int64, float, string."""
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info("age", TensorProto.INT64, ["N", 1]),
        helper.make_tensor_value_info("income", TensorProto.FLOAT, ["N", 1]),
        helper.make_tensor_value_info("city", TensorProto.STRING, ["N", 1]),
    ]
    nodes = [
        helper.make_node("Cast", ["age"], ["age_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["age_f", "income"], ["score"]),
        helper.make_node("Identity", ["city"], ["city_out"]),
    ]
    outputs = [
        helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1]),
        helper.make_tensor_value_info("city_out", TensorProto.STRING, ["N", 1]),
    ]
    graph = helper.make_graph(nodes, "columns", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.fixture(scope="module")
def column_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad-data") / "columns.onnx"
    path.write_bytes(_column_model().SerializeToString())
    return path


@pytest.fixture(scope="module")
def signature(column_model_path: Path) -> Any:
    from onnxgate.signature import Signature

    return Signature.from_model(column_model_path)


def test_good_csv_feeds_every_input(tmp_path: Path, signature: Any) -> None:
    """The baseline the bad files are measured against: a well-formed file works."""
    path = tmp_path / "good.csv"
    path.write_text(GOOD_CSV)
    feeds = as_feeds(load_data(path), signature)
    assert sorted(feeds) == ["age", "city", "income"]
    assert feeds["age"].dtype.name == "int64" and feeds["age"].shape == (2, 1)
    assert list(feeds["city"].ravel()) == ["Paris", "Lyon"]


def _write(content: bytes | str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "data.csv"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return make


#: case id -> (file maker, regex the message must match: it names the column or the fault)
BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing-column": (_write("age,city\n31,Paris\n"), r"income"),
    "extra-column": (_write("age,income,city,label\n31,5.0,Paris,1\n"), r"label"),
    "wrong-type-text-in-float": (_write("age,income,city\n31,lots,Paris\n"), r"income.*number|number.*income"),
    # before: read as 1065.0 (Python's float takes it; no database loads it as a number)
    "underscored-number": (_write("age,income,city\n31,1_065,Paris\n"), r"holds text \('1_065'\) but input 'income'"),
    "hex-number": (_write('age,income,city\n31,0x1F,Paris\n'), r"holds text \('0x1F'\) but input 'income'"),
    "wrong-type-text-in-int": (_write("age,income,city\nthirty,5.0,Paris\n"), r"age"),
    "fraction-in-int": (_write("age,income,city\n31.5,5.0,Paris\n"), r"age.*fractional"),
    "nan-in-int": (_write("age,income,city\n31,5.0,Paris\n,4.0,Lyon\n"), r"age.*missing"),
    "missing-string": (_write("age,income,city\n31,5.0,Paris\n45,4.0,\n"), r"city.*missing"),
    "empty-file": (_write(b""), r"empty"),
    "header-only": (_write("age,income,city\n"), r"no rows"),
    "non-utf8": (_write("age,income,city\n31,5.0,Orl\xe9ans\n".encode("latin-1")), r"not UTF-8"),
    "binary-garbage": (_write(b"\x00\xff\xfe\x00" * 64), r"UTF-8|cannot read|column"),
    "unbalanced-quotes": (_write('age,income,city\n31,5.0,"Paris\n'), r"quoted field that starts on line 2 is never"),
}


def _feeds_from_file(path: Path, signature: Any) -> Any:
    return as_feeds(load_data(path), signature)


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_csv_is_refused_naming_the_fault(case: str, tmp_path: Path, signature: Any) -> None:
    make, pattern = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(InvalidDataError, match=pattern) as info:
        _feeds_from_file(path, signature)
    assert "\n" not in str(info.value).strip(), "the message must fit on one line"


@pytest.mark.parametrize("case", ["missing-column", "nan-in-int", "non-utf8", "empty-file", "extra-column"])
def test_cli_bad_data_is_exit_2_one_line(
    case: str, tmp_path: Path, column_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from onnxgate.cli import main

    make, pattern = BAD_FILES[case]
    path = make(tmp_path)
    # The model is its own reference: --data is read only when there is something to compare with.
    model = str(column_model_path)
    code = main(["validate", model, "--target", "onnxruntime", "--reference", model, "--data", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    import re

    assert re.search(pattern, lines[0]), lines[0]


def test_npy_files(tmp_path: Path) -> None:
    """A .npy of the wrong width names the input; an object array is refused without unpickling."""
    import numpy as np
    from robustness_models import tiny_mlp_model

    from onnxgate.signature import Signature

    sig = Signature.from_model(tiny_mlp_model())
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(InvalidDataError, match=r"'X' expects 4 values per row.*has 5"):
        as_feeds(load_data(wide), sig)
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidDataError, match="object arrays are refused"):
        load_data(objects)
    text = tmp_path / "text.npy"  # np.load calls any file without the magic string "pickled (object) data"
    text.write_text("1,2,3,4\n")
    with pytest.raises(InvalidDataError, match=r"is not a \.npy file .*numpy\.save"):
        load_data(text)
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((0, 4), dtype=np.float32))
    with pytest.raises(InvalidDataError, match="no values"):
        load_data(empty)
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((2, 4), np.nan, dtype=np.float32))
    assert as_feeds(load_data(nan), sig)["X"].shape == (2, 4), "NaN is a legal float input"


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidDataError, match=r"\.csv.*\.parquet.*\.npy"):
        load_data(tmp_path / "data.xlsx")
    with pytest.raises(InvalidDataError, match="not found"):
        load_data(tmp_path / "absent.csv")


def test_corrupt_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 50)
    with pytest.raises(InvalidDataError, match="cannot read"):
        load_data(path)


@pytest.fixture(scope="module")
def skops_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regression fitted on a two-column DataFrame, saved as .skops (no pickle needed to load it)."""
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from onnxgate.converters import registry

    frame = pd.DataFrame({"age": [31.0, 45.0, 52.0, 23.0], "income": [5.2, 4.1, 6.3, 2.2]})
    model = LinearRegression().fit(frame, [1.0, 2.0, 3.0, 0.5])
    return Path(registry.get("sklearn").save_native(model, tmp_path_factory.mktemp("skops")))


@pytest.mark.parametrize(
    ("case", "content", "pattern"),
    [
        ("missing-column", "age\n31\n", r"income"),
        ("empty-file", b"", r"empty"),
        ("non-utf8", "age,income\n31,5.0\n\xe9,1\n".encode("latin-1"), r"not UTF-8"),
    ],
    ids=lambda v: v if isinstance(v, str) and "\n" not in v and len(v) < 20 else "",
)
def test_cli_convert_bad_sample_is_exit_2_one_line(
    case: str, content: str | bytes, pattern: str, skops_model: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    from onnxgate.cli import main

    path = _write(content)(tmp_path)
    out = tmp_path / "model.onnx"
    code = main(["convert", str(skops_model), "--sample", str(path), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and re.search(pattern, err), err
    assert not out.exists()


def test_a_csv_without_a_header_keeps_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("5.1,3.5,1.4,0.2\n4.9,3.0,1.4,0.2\n4.7,3.2,1.3,0.2\n")
    frame = load_data(path)
    assert frame.shape == (3, 4)
    assert list(frame.iloc[0]) == [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def array_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regression fitted on a plain array (no column names), saved as .skops."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    from onnxgate.converters import registry

    X = np.array([[31.0, 5.2], [45.0, 4.1], [52.0, 6.3], [23.0, 2.2]])
    model = LinearRegression().fit(X, [1.0, 2.0, 3.0, 0.5])
    return Path(registry.get("sklearn").save_native(model, tmp_path_factory.mktemp("skops-array")))


@pytest.mark.parametrize(("content", "code", "pattern"), [
    ("age,income\n31,5.2\n45,4.1\n", 0, r"input: float64\[\?,2\]"),
    ("31,5.2\n45,4.1\n", 0, r"input: float64\[\?,2\]"),
    ("age,city\n31,Paris\n45,Lyon\n", 2, r"column\(s\) \['city'\] hold text"),
], ids=["header", "no-header", "text-column"])
def test_a_csv_sample_for_a_model_fitted_on_an_array(
    content: str, code: int, pattern: str, array_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from onnxgate.cli import main

    sample = tmp_path / "sample.csv"
    sample.write_text(content)
    assert main(["convert", str(array_model), "--sample", str(sample), "-o", str(tmp_path / "m.onnx")]) == code
    captured = capsys.readouterr()
    assert re.search(pattern, captured.out + captured.err), captured

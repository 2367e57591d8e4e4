"""``onnxgate score`` meets data that does not fit: one message, exit 2, no output; and data that does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import onnxgate as og
from onnxgate.cli import main


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A model with one [N,1] input per column: four float64 (alcohol...) and two int64 (proline...)."""
    model, X, _ = og.zoo.get("sklearn-wine-columntransformer").build()
    folder = tmp_path_factory.mktemp("wine")
    onnx_file = folder / "wine.onnx"
    og.convert(model, X.head(50)).save(onnx_file)
    return {"model": model, "X": X, "onnx": onnx_file}


def _score(onnx_file: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["score", str(onnx_file), "--data", str(data), "--out", str(out), *extra])


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "please report" not in err, err
    return err


def _folder_missing_a_column(d: Path, X: pd.DataFrame) -> Path:
    (d / "rows").mkdir()
    X.to_parquet(d / "rows" / "a.parquet")
    X.drop(columns=["alcohol"]).to_parquet(d / "rows" / "b.parquet")
    return d / "rows"


def _folder_with_notes(d: Path, X: pd.DataFrame) -> Path:
    (d / "rows").mkdir()
    X.to_parquet(d / "rows" / "a.parquet")
    (d / "rows" / "notes.txt").write_text("hi")
    return d / "rows"


def _file(frame: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path, pd.DataFrame], Path]:
    def make(d: Path, X: pd.DataFrame) -> Path:
        frame(X).to_parquet(d / "rows.parquet")
        return d / "rows.parquet"

    return make


def _nulls(X: pd.DataFrame) -> pd.DataFrame:
    return X.assign(alcohol=X["alcohol"].where(X.index >= 3, None))  # stored as 3 Parquet nulls


#: case id -> (data maker, extra arguments, what the one line must say)
BAD: dict[str, tuple[Callable[[Path, pd.DataFrame], Path], list[str], list[str]]] = {
    "folder-file-lacks-a-column": (_folder_missing_a_column, [], ["b.parquet", "lacks", "'alcohol'"]),
    "folder-holds-a-text-file": (_folder_with_notes, [], ["notes.txt", "only Parquet files"]),
    "empty-folder": (lambda d, X: (d / "rows").mkdir() or d / "rows", [], ["no Parquet files in"]),
    "null-in-a-float-column": (_file(_nulls), [], ["'alcohol' has 3 null", "fill or drop those rows"]),
    "timestamp-for-float": (_file(lambda X: X.assign(alcohol=pd.to_datetime(X.alcohol * 1e9))), [],
                            ["input 'alcohol' expects float64", "column 'alcohol' is timestamp[ns]", "cast it"]),
    "bool-for-int": (_file(lambda X: X.assign(proline=X.proline > 700)), [],
                     ["input 'proline' expects int64", "column 'proline' is bool"]),
    "text-for-float": (_file(lambda X: X.assign(alcohol=X.alcohol.astype(str))), [],
                       ["input 'alcohol' expects float64", "string: cast it"]),
    "categories-for-float": (_file(lambda X: X.assign(alcohol=X.alcohol.astype(str).astype("category"))), [],
                             ["column 'alcohol' is dictionary<values="]),
    "an-output-named-twice": (_file(lambda X: X), ["--outputs", "label,label"], ["output(s) ['label'] named more"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_data_that_does_not_fit_is_one_line_exit_2_and_no_output(
    case: str, wine: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, extra, says = BAD[case]
    data = make(tmp_path, wine["X"])
    out = tmp_path / "out" / "scored.parquet"
    assert _score(wine["onnx"], data, out, *extra) == 2
    err = _one_line(capsys)
    assert all(s in err for s in says), err
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_a_float_nan_is_scored_as_a_value(wine: dict[str, Any], tmp_path: Path) -> None:
    import pyarrow as pa

    data, out = tmp_path / "rows.parquet", tmp_path / "scored.parquet"
    X = wine["X"]
    alcohol = X["alcohol"].to_numpy().copy()
    alcohol[:3] = np.nan
    table = pa.Table.from_pandas(X, preserve_index=False)
    table = table.set_column(0, "alcohol", pa.array(alcohol))  # NaN values, not nulls
    pq.write_table(table, data)
    assert pq.read_table(data).column("alcohol").null_count == 0
    assert _score(wine["onnx"], data, out) == 0
    assert pq.read_table(out).num_rows == len(X)


def test_a_folder_whose_files_all_fit_is_scored(wine: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "rows").mkdir()
    X = wine["X"]
    X.iloc[:100].to_parquet(tmp_path / "rows" / "a.parquet")
    X.iloc[100:].to_parquet(tmp_path / "rows" / "b.parquet")
    (tmp_path / "rows" / "_SUCCESS").write_text("")
    out = tmp_path / "scored.parquet"
    assert _score(wine["onnx"], tmp_path / "rows", out) == 0
    np.testing.assert_array_equal(pq.read_table(out).column("label").to_numpy(), wine["model"].predict(X))


def test_an_out_under_a_file_says_so(wine: dict[str, Any], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = _file(lambda X: X)(tmp_path, wine["X"])
    (tmp_path / "taken").write_text("")
    assert _score(wine["onnx"], data, tmp_path / "taken" / "scored.parquet") == 2
    err = _one_line(capsys)
    assert "'taken' is a file, not a folder" in err.replace(str(tmp_path) + "/", ""), err


def test_the_column_names_the_model_was_fitted_on_are_read(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a b", "c.d", "é x"])
    model = LogisticRegression().fit(df, (df["a b"] > 0).astype(int))
    onnx_file = tmp_path / "w.onnx"
    og.convert(model, df.head(20)).save(onnx_file)
    data, out = tmp_path / "w.parquet", tmp_path / "scored.parquet"
    df.assign(id=np.arange(300)).to_parquet(data)  # an ID column passes through
    assert _score(onnx_file, data, out) == 0, capsys.readouterr().err
    scored = pq.read_table(out)
    assert scored.column_names == ["a b", "c.d", "é x", "id", "label", "probabilities"]
    np.testing.assert_array_equal(scored.column("label").to_numpy(), model.predict(df))
    # a column missing is named as the user knows it
    df.drop(columns=["c.d"]).to_parquet(data)
    assert _score(onnx_file, data, tmp_path / "again.parquet") == 2
    assert "'c.d' (input 'c_d')" in _one_line(capsys)

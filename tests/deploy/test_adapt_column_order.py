"""Table columns given to the SQL adaptation (``columns=``, ``--columns``) that are the reference's fitted
columns in another order: parity gave the native model the same columns in the same wrong positions, so
package, validate and the dry run passed a model whose table column 'petal width (cm)' feeds the position
the model reads as 'sepal length (cm)' (helper-138)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest

import onnxgate as og
from onnxgate.cli import main
from onnxgate.deploy.duckdb_dryrun import dry_run
from onnxgate.errors import InvalidDataError
from onnxgate.signature import FITTED_COLUMNS_METADATA_KEY


@pytest.fixture(scope="module")
def iris() -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    return {"X": X, "model": model, "conv": og.convert(model, X.to_numpy()[:5])}  # one [N,4] input


def test_package_refuses_columns_out_of_training_order(iris: dict[str, Any], tmp_path: Path) -> None:
    X, model, conv = iris["X"], iris["model"], iris["conv"]
    reversed_columns = list(X.columns)[::-1]
    # what the database would answer: each table column fed to the position of the reversed list
    assert (model.predict(X[reversed_columns].to_numpy()) != model.predict(X)).sum() == 98
    with pytest.raises(InvalidDataError, match="in another order"):
        og.package(conv, target="sql-edge-2.0", out=tmp_path / "bad", reference=model, data=X, adapt=True,
                   columns=reversed_columns)
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
    og.package(conv, target="sql-edge-2.0", out=tmp_path / "good", reference=model, data=X, adapt=True,
               columns=list(X.columns))
    assert dry_run(tmp_path / "good", X, reference=model).passed


def test_dry_run_refuses_a_package_adapted_out_of_training_order(iris: dict[str, Any], tmp_path: Path) -> None:
    X, model, conv = iris["X"], iris["model"], iris["conv"]
    # a file that does not record the fitted names (written before onnxgate recorded them): adapt cannot tell
    unnamed = onnx.ModelProto()
    unnamed.CopyFrom(conv.model)
    kept = [p for p in unnamed.metadata_props if p.key != FITTED_COLUMNS_METADATA_KEY]
    del unnamed.metadata_props[:]
    unnamed.metadata_props.extend(kept)
    adapted = og.adapt(unnamed, "sql-edge-2.0", columns=list(X.columns)[::-1])
    out = og.package(adapted, target="sql-edge-2.0", out=tmp_path / "pkg")  # no reference: nothing to compare
    with pytest.raises(InvalidDataError, match="in another order"):
        dry_run(out, X, reference=model)


def test_columns_naming_the_models_own_inputs_elsewhere_are_refused_by_adapt(iris: dict[str, Any]) -> None:
    # a model of one input per column (a DataFrame sample): columns=['petal width (cm)', ...] in another order
    # renamed each input after another, so table column 'petal width (cm)' fed the model's 'sepal length (cm)';
    # validate failed only with the reference's KeyError (helper-131)
    X = iris["X"]
    conv = og.convert(iris["model"], X.head())
    with pytest.raises(InvalidDataError, match=r"give input 'sepal_length__cm_' \(your column 'sepal length \(cm\)'\)"
                                               r" the name 'petal width \(cm\)'"):
        og.adapt(conv, "sql-edge-2.0", columns=list(X.columns)[::-1])
    adapted = og.adapt(conv, "sql-edge-2.0", columns=["a", "b", "c", "d"])  # names of the user's own: renamed
    assert og.validate(adapted, reference=iris["model"], data=X.set_axis(["a", "b", "c", "d"], axis=1)).passed


def test_adapt_refuses_the_files_fitted_columns_reordered_without_a_reference(
        iris: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the file records the names its one [N,4] input takes by position, but adapt read them only from a native
    # reference: columns=reversed adapted, and the table's rows were scored 98 of 150 labels otherwise than the
    # model, validate against the file itself passing (helper-146)
    import numpy as np
    import onnxruntime as ort

    monkeypatch.chdir(tmp_path)
    X, model, conv = iris["X"], iris["model"], iris["conv"]
    reversed_columns = list(X.columns)[::-1]
    with pytest.raises(InvalidDataError, match="in another order: table column 'petal width \\(cm\\)' would feed "
                                               "position 0 of input 'input', which the model reads as 'sepal length"):
        og.adapt(conv.model, "sql-edge-2.0", columns=reversed_columns)
    with pytest.raises(InvalidDataError, match="in another order"):
        og.adapt(conv, "sql-edge-2.0", columns=reversed_columns)
    Path("model.onnx").write_bytes(conv.model.SerializeToString())
    assert main(["package", "model.onnx", "--target", "sql-edge-2.0", "--out", "pkg", "--adapt",
                 "--columns", ",".join(reversed_columns)]) == 2
    assert "in another order" in capsys.readouterr().err
    assert not Path("pkg").exists() or not any(Path("pkg").iterdir())
    # in training order (or the model's own names) it adapts, and the table scores as the model does
    adapted = og.adapt(conv.model, "sql-edge-2.0", columns=list(X.columns))
    session = ort.InferenceSession(adapted.SerializeToString())
    feeds = {i.name: X.iloc[:, [j]].to_numpy(np.float64) for j, i in enumerate(session.get_inputs())}
    assert (session.run(["label"], feeds)[0].reshape(-1) == model.predict(X)).all()

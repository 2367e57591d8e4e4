"""Text a ``varchar``/``char`` column cannot hold: outside a UTF-8 collation SQL Server stores a character its
code page lacks as ``'?'``, which PREDICT reads, and the dry run passed the value as given (helper-138)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import onnxgate as og
from onnxgate.cli import main
from onnxgate.deploy import duckdb_dryrun as dry
from onnxgate.errors import InvalidDataError


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    """A Synapse package whose model reads a text column, one of its categories outside code page 1252."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    city = rng.choice(["東京", "Paris", "Zürich"], 300)
    frame = pd.DataFrame({"city": city, "x": rng.normal(size=300)})
    prep = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough")
    model = Pipeline([("prep", prep), ("fit", LogisticRegression())]).fit(frame, (city == "東京").astype(int))
    out = tmp_path_factory.mktemp("cities") / "pkg"
    og.package(og.convert(model, frame, target="synapse"), target="synapse", out=out)
    return out, model, frame


def test_varchar_column_refuses_text_its_code_page_lacks(cities: tuple[Path, Any, pd.DataFrame]) -> None:
    package, model, frame = cities
    assert dry.dry_run(package, frame, reference=model).passed  # nvarchar(max), as written
    # what the database's varchar column would hold, and what the model then answers
    stored = frame.assign(city=frame["city"].str.replace("東京", "??"))
    assert (model.predict(stored) != model.predict(frame)).sum() == 90
    with pytest.raises(InvalidDataError, match="code page 1252") as err:
        dry.dry_run(package, frame, reference=model, table_types={"city": "varchar(max)"})
    assert "東京" in str(err.value) and "nvarchar" in str(err.value)
    # text code page 1252 holds ('Zürich') is stored as given
    latin = frame[frame["city"] != "東京"]
    assert dry.dry_run(package, latin, reference=model, table_types={"city": "varchar(10)"}).passed


def test_edited_script_with_utf8_collation_passes(cities: tuple[Path, Any, pd.DataFrame], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    package, model, frame = cities
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    script = copy / "03_create_input_table.sql"
    written = script.read_text(encoding="utf-8")
    frame.to_csv("rows.csv", index=False)
    script.write_text(written.replace("nvarchar(max)", "varchar(max)"), encoding="utf-8")
    assert main(["sql-dryrun", str(copy), "--data", "rows.csv"]) == 2
    assert "code page 1252" in capsys.readouterr().err
    script.write_text(written.replace("nvarchar(max)", "varchar(max) COLLATE Latin1_General_100_CI_AS_SC_UTF8"),
                      encoding="utf-8")
    assert dry.collations_from_script(script.read_text(encoding="utf-8")) == {
        "city": "Latin1_General_100_CI_AS_SC_UTF8"}
    assert dry.dry_run(copy, frame, reference=model).passed

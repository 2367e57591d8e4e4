"""A model above 2 GiB with its external data on Spark: no broadcast carries it, so the executors load it from its
path (local mode here: the same machine), never its weights in the driver's memory; an executor that cannot read
the path fails the job with the one requirement, a path readable from every executor. The limit is lowered to
1 MB (tests/_above_limit.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from _above_limit import LOCATION, above_limit, native, onnxruntime_answers, rows_parquet

import onnxgate as og
import onnxgate.spark as ogs
from onnxgate.cli import main
from onnxgate.errors import InvalidModelError


@pytest.fixture
def no_broadcast(local_spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model above the limit was broadcast")

    monkeypatch.setattr(local_spark.sparkContext, "broadcast", refused)


@pytest.mark.parametrize("given", ["onnx", "package"])
def test_predict_loads_a_model_above_the_limit_by_path_on_the_executors(local_spark, no_broadcast, tmp_path,
                                                                         monkeypatch, given):
    path, x = above_limit(tmp_path, monkeypatch)
    rows_parquet(tmp_path / "rows.parquet", x)
    model = path
    if given == "package":
        model = og.package(path, target="container", out=tmp_path / "pkg", reference=lambda f: [native(f["x"])], data=x)
    scored = ogs.predict(str(tmp_path / "rows.parquet"), str(model), spark=local_spark).toPandas().sort_values("id")
    assert list(scored.columns) == ["id", "x", "y"] and len(scored) == len(x)
    np.testing.assert_allclose(scored["y"].to_numpy(), onnxruntime_answers(path, x)[:, 0], rtol=1e-5, atol=1e-5)


def test_an_executor_that_cannot_read_the_model_fails_with_the_shared_path_rule(local_spark, no_broadcast, tmp_path,
                                                                                 monkeypatch):
    path, x = above_limit(tmp_path, monkeypatch)
    rows_parquet(tmp_path / "rows.parquet", x)
    scored = ogs.predict(str(tmp_path / "rows.parquet"), str(path), spark=local_spark)
    (path.parent / LOCATION).rename(tmp_path / "elsewhere.bin")  # as on an executor without the driver's files
    with pytest.raises(Exception) as caught:
        scored.collect()
    refused = ogs.worker_input_error(caught.value)
    assert isinstance(refused, InvalidModelError), str(caught.value)[-2000:]
    message = str(refused)
    assert repr(str(path.parent / LOCATION)) in message
    assert "readable, with the same files, from every executor" in message and "without --spark" in message


def test_cli_score_on_spark_of_a_model_above_the_limit(local_spark, no_broadcast, tmp_path, monkeypatch, capsys):
    path, x = above_limit(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    rows_parquet(tmp_path / "rows.parquet", x)
    assert main(["score", str(path), "--data", "rows.parquet", "--out", "scored", "--spark", "local[2]"]) == 0, \
        capsys.readouterr().err
    scored = pd.read_parquet(tmp_path / "scored").sort_values("id")
    np.testing.assert_allclose(scored["y"].to_numpy(), onnxruntime_answers(path, x)[:, 0], rtol=1e-5, atol=1e-5)
    (path.parent / LOCATION).unlink()  # refused on the driver, before a job: validate's words, exit 2
    capsys.readouterr()
    assert main(["score", str(path), "--data", "rows.parquet", "--out", "again", "--spark", "local[2]"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "found no such file" in err
    assert not (tmp_path / "again").exists()


def test_cli_score_on_spark_of_a_package_hashes_its_data_file_once(local_spark, no_broadcast, tmp_path, monkeypatch,
                                                                    capsys):
    # score --spark checked the package's data files before Spark started, then predict checked them again: every
    # byte of the weights hashed twice on the driver (200 MB: 0.71 -> 0.19 s)
    import hashlib
    from types import SimpleNamespace

    from onnxgate import _package_rules

    path, x = above_limit(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    package = og.package(path, target="container", out=tmp_path / "pkg", reference=lambda f: [native(f["x"])], data=x)
    rows_parquet(tmp_path / "rows.parquet", x)
    hashed: list[int] = []

    class Counted:
        def __init__(self, *data: bytes) -> None:
            self.digest = hashlib.sha256(*data)

        def update(self, chunk: bytes) -> None:
            hashed.append(len(chunk))
            self.digest.update(chunk)

        def hexdigest(self) -> str:
            return self.digest.hexdigest()

    monkeypatch.setattr(_package_rules, "hashlib", SimpleNamespace(sha256=Counted))
    assert main(["score", str(package), "--data", "rows.parquet", "--out", "scored", "--spark", "local[2]"]) == 0, \
        capsys.readouterr().err
    assert sum(hashed) == (package / LOCATION).stat().st_size
    scored = pd.read_parquet(tmp_path / "scored").sort_values("id")
    np.testing.assert_allclose(scored["y"].to_numpy(), onnxruntime_answers(path, x)[:, 0], rtol=1e-5, atol=1e-5)

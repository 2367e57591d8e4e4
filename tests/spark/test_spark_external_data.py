"""A model above 2 GiB with its external data on Spark: no broadcast carries it, so the executors load it from its
path (local mode here: the same machine), never its weights in the driver's memory; an executor that cannot read
the path fails the job with the one requirement, a path readable from every executor. The limit is lowered to
1 MB (tests/_above_limit.py). Scoring (predict, score --spark) and validation (validate --spark) alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from _above_limit import COLUMNS, LOCATION, WIDTH, above_limit, native, onnxruntime_answers, rows_parquet
from _above_limit import model as whole_model

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


def test_predict_again_after_the_data_file_is_rewritten_answers_with_the_new_weights(local_spark, no_broadcast,
                                                                                    tmp_path, monkeypatch):
    """A long-lived Python worker keeps its session: a data file rewritten with other weights of the same size was
    scored with the session of the weights it replaced."""
    path, x = above_limit(tmp_path, monkeypatch)
    rows_parquet(tmp_path / "rows.parquet", x)

    def scored() -> Any:
        frame = ogs.predict(str(tmp_path / "rows.parquet"), str(path), spark=local_spark).toPandas()
        return frame.sort_values("id")["y"].to_numpy()

    np.testing.assert_allclose(scored(), onnxruntime_answers(path, x)[:, 0], rtol=1e-5, atol=1e-5)
    _alter_weights(path)
    np.testing.assert_allclose(scored(), onnxruntime_answers(path, x)[:, 0], rtol=1e-5, atol=1e-5)


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


def _alter_weights(path: Any) -> None:
    """Zero the first weights of ``w_in`` in its data file: the same size, the .onnx file unchanged."""
    data = path.parent / LOCATION
    blob = bytearray(data.read_bytes())
    blob[:COLUMNS * WIDTH] = bytes(COLUMNS * WIDTH)
    data.write_bytes(bytes(blob))


@pytest.fixture
def only_the_reference_broadcast(local_spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parity on Spark broadcasts the pickled reference (here a few hundred bytes: it draws its weights again on
    the executor), never anything as large as the model."""
    from _above_limit import LIMIT

    sent = local_spark.sparkContext.broadcast

    def small_only(value: Any) -> Any:
        assert len(value) < LIMIT, f"{len(value):,} bytes were broadcast: the model?"
        return sent(value)

    monkeypatch.setattr(local_spark.sparkContext, "broadcast", small_only)


def _reference(seed: int = 0) -> Any:
    """The model's answers computed with numpy from its weights drawn again as tests/_above_limit.py draws them: sent
    to the executors by value (defined here, not imported), without the weights."""

    def reference(feeds: Any) -> Any:
        rng = np.random.default_rng(seed)
        w_in = (rng.standard_normal((COLUMNS, WIDTH)) / 50).astype(np.float32)
        w_out = rng.standard_normal((WIDTH, 1)).astype(np.float32)
        return [np.maximum(feeds["x"] @ w_in, 0) @ w_out]

    return reference


def _verdicts(report: Any) -> dict[str, bool]:
    return {c.name: c.passed for c in report.checks}


@pytest.mark.parametrize("altered", [False, True], ids=["right-weights", "other-weights"])
def test_validate_on_spark_runs_a_model_above_the_limit_from_its_path(local_spark, only_the_reference_broadcast,
                                                                      tmp_path, monkeypatch, altered):
    """The driver's checks run it by path as og.validate does, the executors open onnxruntime on its path: the same
    verdicts, check by check, as og.validate on the same rows; a data file holding other weights (its size and the
    .onnx file unchanged) fails parity on both."""
    path, x = above_limit(tmp_path, monkeypatch)
    rows_parquet(tmp_path / "rows.parquet", x, ids=False)
    if altered:
        _alter_weights(path)
    reference = _reference()
    on_spark = ogs.validate(str(path), str(tmp_path / "rows.parquet"), reference=reference, spark=local_spark)
    here = og.validate(path, reference=reference, data=pd.read_parquet(tmp_path / "rows.parquet"))
    assert _verdicts(on_spark) == _verdicts(here)
    assert on_spark.passed is here.passed is (not altered), on_spark.summary()
    parity = next(c for c in on_spark.checks if c.name == "prediction_parity")
    assert parity.details["engine"]["name"] == "spark"  # parity ran on the executors
    assert on_spark.to_dict()["model"]["external_data"][0]["file"] == LOCATION


def test_validate_on_spark_names_the_shared_path_rule_when_an_executor_cannot_read_the_model(
        local_spark, only_the_reference_broadcast, tmp_path, monkeypatch):
    """An executor that finds another data file than the driver read (here: a shorter one, after the driver's
    checks) refuses it in predict's words: exit 2's error, not a parity verdict."""
    from onnxgate.spark import _validate

    path, x = above_limit(tmp_path, monkeypatch)
    rows_parquet(tmp_path / "rows.parquet", x, ids=False)
    data_file = path.parent / LOCATION
    checked = _validate._spark_parity

    def then_truncated(*args: Any, **kwargs: Any) -> Any:  # the driver has checked the files; an executor has not
        data_file.write_bytes(data_file.read_bytes()[:1000])
        return checked(*args, **kwargs)

    monkeypatch.setattr(_validate, "_spark_parity", then_truncated)
    with pytest.raises(InvalidModelError) as caught:
        ogs.validate(str(path), str(tmp_path / "rows.parquet"), reference=_reference(), spark=local_spark)
    message = str(caught.value)
    assert repr(str(data_file)) in message and "1,000 bytes long" in message
    assert "readable, with the same files, from every executor" in message


def test_cli_validate_on_spark_of_a_model_above_the_limit(local_spark, tmp_path, monkeypatch, capsys):
    """exit 0 with the right weights, 1 with others in the data file (as validate without --spark), 2 for a missing
    data file and for a SQL target (one line, before Spark runs a job). The reference is the model in one file
    (broadcast: 3 MB); the model's weights are never read into the driver's memory (tests/_above_limit.py)."""
    import onnx

    path, x = above_limit(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    rows_parquet(tmp_path / "rows.parquet", x, ids=False)
    onnx.save_model(whole_model(), "reference.onnx")  # the weights in one file: the reference the data file must match
    args = ["validate", str(path), "--reference", "reference.onnx", "--data", "rows.parquet", "--spark", "local[2]",
            "--json", "report.json"]
    assert main(args) == 0, capsys.readouterr()
    assert "PASSED" in capsys.readouterr().out
    _alter_weights(path)
    assert main([*args, "--force"]) == 1
    out = capsys.readouterr().out
    assert "prediction_parity" in out and "FAILED" in out
    assert main(["validate", str(path), "--reference", "reference.onnx", "--data", "rows.parquet"]) == 1
    capsys.readouterr()
    assert main(["validate", str(path), "--reference", str(path), "--data", "rows.parquet", "--spark", "local[2]"]) == 2
    err = capsys.readouterr().err.strip()  # the reference is broadcast: one above the limit cannot be
    assert "\n" not in err and "the reference" in err and "broadcasts it" in err and "without --spark" in err, err
    for refused, expected in ((["--target", "sql-edge-2.0"], "above the"), ([], "found no such file")):
        if not refused:
            (path.parent / LOCATION).unlink()
        assert main([*args[:-2], *refused, "--json", "again.json"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "Traceback" not in err and expected in err, err
    assert not (tmp_path / "again.json").exists()

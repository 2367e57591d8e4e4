"""A model above 2 GiB with its external data (``model.onnx`` + its data files) is validated for the onnxruntime and
container targets and packaged for the container without its weights in memory: the checker reads the file by path,
shape inference the graph without the weights, onnxruntime the file from its path; the package copies the data files
under the names ``model.onnx`` gives them, and its service loads the model by path. SQL targets refuse it
(tests/test_model_size_limit.py). ``MODEL_BYTES_LIMIT`` is lowered to 1 MB so that a 3 MB model stands for one of
several GB."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from _above_limit import COLUMNS, LOCATION, WIDTH, above_limit, onnxruntime_answers, rows_parquet
from _above_limit import model as _model
from _above_limit import native as _native
from onnx import helper

import onnxgate as og
from onnxgate.cli import main


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, np.ndarray]:
    return above_limit(tmp_path, monkeypatch)


def _alter_weights(path: Path) -> None:
    """Zero the first weights of ``w_in`` in its data file (the .onnx file unchanged)."""
    data = path.parent / LOCATION
    blob = bytearray(data.read_bytes())
    blob[:COLUMNS * WIDTH] = bytes(COLUMNS * WIDTH)
    data.write_bytes(bytes(blob))


@pytest.mark.parametrize("target", ["onnxruntime", "container"])
def test_validate_runs_a_model_above_the_limit_from_its_files(big, target):
    path, x = big
    report = og.validate(path, target, reference=lambda feeds: [_native(feeds["x"])], data=x)
    assert report.passed, report.summary()
    names = {c.name for c in report.checks}
    assert {"model_wellformed", "operators_supported", "prediction_parity"} <= names
    assert report.to_dict()["model"]["external_data"][0]["file"] == LOCATION


def test_validate_fails_a_model_above_the_limit_whose_data_file_holds_other_weights(big):
    path, x = big
    _alter_weights(path)
    report = og.validate(path, "container", reference=lambda feeds: [_native(feeds["x"])], data=x)
    assert not report.passed
    assert [c.name for c in report.checks if not c.passed] == ["prediction_parity"]


def test_a_model_above_the_limit_that_breaks_the_spec_fails_model_wellformed(big):
    """The checker runs, on the file's path: a node attribute its operator does not have is its error."""
    path, _x = big
    graph = onnx.load_model(str(path), load_external_data=False)
    graph.graph.node[1].attribute.append(helper.make_attribute("bogus", 1))  # Relu has no attributes
    onnx.save_model(graph, str(path))
    report = og.validate(path, "onnxruntime")
    failed = {c.name: c for c in report.checks if not c.passed}
    assert "model_wellformed" in failed
    assert "bogus" in failed["model_wellformed"].message


def test_cli_validate_and_package_a_model_above_the_limit(big, tmp_path, monkeypatch, capsys):
    path, x = big
    monkeypatch.chdir(tmp_path)
    onnx.save_model(_model(), "reference.onnx")  # the weights in one file: the reference the data file must match
    np.save("rows.npy", x)
    assert main(["validate", str(path), "--target", "onnxruntime", "--reference", "reference.onnx",
                 "--data", "rows.npy"]) == 0, capsys.readouterr()
    assert main(["package", str(path), "--target", "container", "--data", "rows.npy", "-o", "pkg"]) == 0, \
        capsys.readouterr()
    assert (tmp_path / "pkg" / LOCATION).read_bytes() == (path.parent / LOCATION).read_bytes()
    _alter_weights(path)
    capsys.readouterr()
    assert main(["validate", str(path), "--target", "onnxruntime", "--reference", "reference.onnx",
                 "--data", "rows.npy"]) == 1
    assert "prediction_parity" in capsys.readouterr().out


def test_container_package_of_a_model_above_the_limit_serves_the_right_answers(big, tmp_path):
    from onnxgate.deploy.server import ServeError, load_entry_script

    path, x = big
    out = og.package(path, target="container", out=tmp_path / "pkg",
                     reference=lambda feeds: [_native(feeds["x"])], data=x)
    model_file = out / "model.onnx"
    assert model_file.stat().st_size < 1000  # the graph; its weights are in the data file, copied at its name
    assert (out / LOCATION).read_bytes() == (path.parent / LOCATION).read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["file"] for e in manifest["model"]["external_data"]] == [LOCATION]
    assert LOCATION in manifest["files"]
    assert f'COPY ["{LOCATION}", "./{LOCATION}"]' in (out / "Dockerfile").read_text()

    path.unlink()  # the package stands alone
    (path.parent / LOCATION).unlink()
    service = load_entry_script(out)  # as onnxgate serve loads it
    answer = np.asarray(service.run({"data": x[:5].tolist()})["y"])
    np.testing.assert_allclose(answer, _native(x[:5]), rtol=1e-4, atol=1e-4)

    blob = bytearray((out / LOCATION).read_bytes())  # a data file swapped after packaging is refused at start
    blob[0] ^= 1
    (out / LOCATION).write_bytes(bytes(blob))
    with pytest.raises(ServeError, match="is not the weights file this package was validated with"):
        load_entry_script(out)


def test_container_package_refuses_a_model_above_the_limit_with_other_weights(big, tmp_path):
    path, x = big
    _alter_weights(path)
    with pytest.raises(og.ValidationFailedError, match="prediction_parity"):
        og.package(path, target="container", out=tmp_path / "pkg", reference=lambda feeds: [_native(feeds["x"])],
                   data=x)
    assert not (tmp_path / "pkg").exists()


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("given", ["onnx", "package"])
def test_cli_score_runs_a_model_above_the_limit_from_its_files(big, tmp_path, monkeypatch, capsys, given):
    """``onnxgate score`` of the .onnx file (its data file beside it) or of its container package: onnxruntime's
    answers, the weights never read into memory; a truncated or missing data file is one line and exit 2, with no
    --out written."""
    import pandas as pd

    path, x = big
    monkeypatch.chdir(tmp_path)
    rows_parquet(tmp_path / "rows.parquet", x)
    expected = onnxruntime_answers(path, x)
    model = str(path)
    if given == "package":
        model = str(og.package(path, target="container", out=tmp_path / "pkg",
                               reference=lambda feeds: [_native(feeds["x"])], data=x))
    data_file = Path(model if given == "package" else path.parent) / LOCATION

    assert main(["score", model, "--data", "rows.parquet", "--out", "scored.parquet"]) == 0, capsys.readouterr().err
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert list(scored.columns) == ["id", "x", "y"]
    assert scored["id"].tolist() == list(range(len(x)))
    np.testing.assert_allclose(scored["y"].to_numpy(), expected[:, 0], rtol=1e-5, atol=1e-5)
    capsys.readouterr()

    whole = data_file.read_bytes()
    data_file.write_bytes(whole[:len(whole) // 2])  # an interrupted copy
    assert main(["score", model, "--data", "rows.parquet", "--out", "again.parquet"]) == 2
    assert "is truncated" in _one_line_error(capsys)
    data_file.unlink()
    assert main(["score", model, "--data", "rows.parquet", "--out", "again.parquet"]) == 2
    err = _one_line_error(capsys)
    assert repr(LOCATION) in err and "found no such file" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("again", ".again"))) == []


def test_cli_score_refuses_a_package_above_the_limit_whose_data_file_was_swapped(big, tmp_path, monkeypatch,
                                                                                capsys):
    """A data file of the same size holding other weights is refused as the package's service refuses it, before
    a row is scored."""
    path, x = big
    monkeypatch.chdir(tmp_path)
    rows_parquet(tmp_path / "rows.parquet", x)
    out = og.package(path, target="container", out=tmp_path / "pkg", reference=lambda feeds: [_native(feeds["x"])],
                     data=x)
    _alter_weights(out / "model.onnx")
    assert main(["score", str(out), "--data", "rows.parquet", "--out", "scored.parquet"]) == 2
    err = _one_line_error(capsys)
    assert "is not the weights file this package was validated with" in err and LOCATION in err
    assert not (tmp_path / "scored.parquet").exists()


def test_a_package_data_file_is_hashed_once_in_a_block_and_a_swap_is_still_refused(big, tmp_path, monkeypatch):
    """score --spark checks a package's data files before Spark starts and predict checks them again: within
    data_files_checked_once the file is hashed once, and a file swapped in the meantime is still refused."""
    import builtins
    import os

    from onnxgate._package_rules import check_package_data_files, data_files_checked_once

    path, x = big
    out = og.package(path, target="container", out=tmp_path / "pkg", reference=lambda feeds: [_native(feeds["x"])],
                     data=x)
    data = out / LOCATION
    with data_files_checked_once():
        check_package_data_files(out)
        reads = []
        real_open = builtins.open

        def counted_open(file, *args, **kwargs):
            if Path(file) == data:
                reads.append(file)
            return real_open(file, *args, **kwargs)

        with monkeypatch.context() as patched:
            patched.setattr(builtins, "open", counted_open)
            check_package_data_files(out)
        assert reads == []  # found unchanged: not read again
        modified = data.stat().st_mtime_ns
        _alter_weights(out / "model.onnx")
        os.utime(data, ns=(modified + 10**9, modified + 10**9))  # a copy written a second later, same size
        with pytest.raises(og.PackagingError, match="is not the weights file this package was validated with"):
            check_package_data_files(out)


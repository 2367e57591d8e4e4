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
import onnx.external_data_helper
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgate as og
from onnxgate import _onnx
from onnxgate.cli import main

LIMIT = 1_000_000
COLUMNS, WIDTH = 3000, 256  # w_in: 3000 x 256 float32, 3 MB
LOCATION = "weights/big.bin"  # a data file in a folder beside the model: the package keeps the name


def _model(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("MatMul", ["x", "w_in"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w_out"], ["y"])]
    weights = [numpy_helper.from_array((rng.standard_normal((COLUMNS, WIDTH)) / 50).astype(np.float32), "w_in"),
               numpy_helper.from_array(rng.standard_normal((WIDTH, 1)).astype(np.float32), "w_out")]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", COLUMNS])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _native(x: np.ndarray, seed: int = 0) -> np.ndarray:
    weights = {t.name: numpy_helper.to_array(t) for t in _model(seed).graph.initializer}
    return np.maximum(x @ weights["w_in"], 0) @ weights["w_out"]


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, np.ndarray]:
    """The model saved with its weights in ``weights/big.bin``, the limit lowered below it, and rows to score; the
    weights are never read into the model in memory."""
    folder = tmp_path / "model"
    (folder / "weights").mkdir(parents=True)
    path = folder / "model.onnx"
    onnx.save_model(_model(), str(path), save_as_external_data=True, location=LOCATION, size_threshold=1024)
    assert path.stat().st_size < 1000 and (folder / LOCATION).stat().st_size > 3 * LIMIT
    monkeypatch.setattr(_onnx, "MODEL_BYTES_LIMIT", LIMIT)

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the weights of a model above the limit were read into memory")

    monkeypatch.setattr(onnx.external_data_helper, "load_external_data_for_model", refused)
    return path, np.random.default_rng(1).standard_normal((40, COLUMNS)).astype(np.float32)


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

"""A model whose weights are in external data (``model.onnx`` + ``model.onnx.data``, as ``onnx.save_model(...,
save_as_external_data=True)`` and ``torch.onnx.export`` of a large model write it): the report's hash covers the
weights, a missing or truncated data file is one clear refusal, and a package reads and serializes its model once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgate as og
from onnxgate import _onnx
from onnxgate.cli import main

WIDTH = 64


def _model(seed: int = 0, output_shape: list[str | int | None] | None = None) -> onnx.ModelProto:
    """4 one-column inputs (as PREDICT feeds them), concatenated, through two MatMuls, one column out (declared
    ``[N, 1]`` unless ``output_shape`` says otherwise)."""
    rng = np.random.default_rng(seed)
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, ["N", 1]) for i in range(4)]
    nodes = [helper.make_node("Concat", [i.name for i in inputs], ["c"], axis=1),
             helper.make_node("MatMul", ["c", "w_in"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w_out"], ["y"])]
    weights = [numpy_helper.from_array(rng.standard_normal((4, WIDTH)).astype(np.float32), "w_in"),
               numpy_helper.from_array(rng.standard_normal((WIDTH, 1)).astype(np.float32), "w_out")]
    graph = helper.make_graph(nodes, "external", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape or ["N", 1])],
                              weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


def _save_external(folder: Path, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save_model(_model(seed), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    assert (folder / "model.onnx.data").stat().st_size > 0
    return path


def test_report_hashes_the_external_data_file_too(tmp_path):
    """sha256 is the .onnx file's (sha256sum model.onnx), which holds no weight: two models of other weights had the
    same hash. The data file's hash is recorded beside it."""
    first, second = _save_external(tmp_path / "a", seed=0), _save_external(tmp_path / "b", seed=1)
    one, two = og.validate(first).to_dict()["model"], og.validate(second).to_dict()["model"]
    assert one["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    data = first.with_name("model.onnx.data")
    assert one["external_data"] == [{"file": "model.onnx.data", "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
                                     "bytes": data.stat().st_size}]
    assert one["external_data"][0]["sha256"] != two["external_data"][0]["sha256"]
    assert "external_data" not in og.validate(_model()).to_dict()["model"]  # a model in one file: as before


@pytest.mark.parametrize("damage", ["missing", "truncated"])
@pytest.mark.parametrize("command", ["validate", "package"])
def test_missing_or_truncated_data_file_is_one_clear_refusal(tmp_path, monkeypatch, capsys, damage, command):
    monkeypatch.chdir(tmp_path)
    path = _save_external(tmp_path / "m")
    data = path.with_name("model.onnx.data")
    size = data.stat().st_size
    if damage == "missing":
        data.unlink()
    else:
        data.write_bytes(data.read_bytes()[: size // 2])
    argv = [command, str(path)] + (["--target", "container", "-o", "out"] if command == "package" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "'model.onnx.data'" in err  # the file expected, by the name the model gives it
    if damage == "missing":
        assert "found no such file" in err and "copy the data file" in err
        assert err.count("model.onnx.data") == 1, err  # once, however many tensors it holds
    else:
        assert f"is {size // 2:,} bytes; its tensors need {size:,}" in err and "truncated" in err
    assert not (tmp_path / "out").exists()


def test_model_with_external_data_given_as_bytes_says_to_pass_its_path(tmp_path):
    path = _save_external(tmp_path / "m")
    with pytest.raises(og.InvalidModelError, match=r"external data file\(s\) 'model.onnx.data'.* pass the model's "
                       r"path instead") as info:
        og.validate(path.read_bytes())
    assert str(info.value).count("model.onnx.data") == 1  # one sentence, not one per tensor


@pytest.mark.parametrize("target", ["container", "sql-edge-2.0"])
def test_package_reads_the_model_once(tmp_path, monkeypatch, target):
    """Packaging validated the model, then read, parsed and checked the file again and serialized it again (3-4 s of
    a 200 MB model); the package written is the same."""
    path = tmp_path / "model.onnx"
    path.write_bytes(_model().SerializeToString())
    parsed: list[str] = []
    real = _onnx._parse

    def counting(data, *, source):
        parsed.append(source)
        return real(data, source=source)

    monkeypatch.setattr(_onnx, "_parse", counting)
    out = og.package(str(path), target=target, out=tmp_path / "out")
    assert parsed == [repr(str(path))]
    manifest = json.loads((out / "manifest.json").read_text())
    written = (out / "model.onnx").read_bytes()
    assert manifest["model"]["sha256"] == hashlib.sha256(written).hexdigest()
    assert written == path.read_bytes()


def test_strict_shape_inference_runs_once_per_validation(tmp_path, monkeypatch):
    """model_wellformed and outputs_one_value_per_row (for an output whose shape is not all declared, as converters
    write ``[None, 1]``) each ran strict shape inference on the same model."""
    path = tmp_path / "model.onnx"
    path.write_bytes(_model(output_shape=["N", None]).SerializeToString())
    strict: list[bool] = []
    real = onnx.shape_inference.infer_shapes

    def counting(model, check_type=False, strict_mode=False, data_prop=False):
        if strict_mode:
            strict.append(check_type)
        return real(model, check_type=check_type, strict_mode=strict_mode, data_prop=data_prop)

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", counting)
    report = og.validate(str(path), target="sql-edge-2.0")
    assert report.passed, report
    assert {c.name for c in report.checks} >= {"model_wellformed", "outputs_one_value_per_row"}
    assert strict == [True]

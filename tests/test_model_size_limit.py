"""Models above the 2 GiB one ONNX file can hold (protobuf's limit, and a varbinary(max)'s): refused up front with
the size and what to do, not after minutes of exporting with "Failed to serialize proto (please report it)".
The limit is lowered here (``MODEL_BYTES_LIMIT``) so that small models stand for multi-GB ones."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgate as og
from onnxgate import _onnx
from onnxgate.cli import main

LIMIT = 4000  # bytes: the models below hold 1,000 float32 weights (4,000 bytes) and more


def _external_data_model(folder, n=2000):
    """y = x + sum(W), W of ``n`` float32 kept in ``w.bin`` next to the model (as onnx.save_model with
    save_as_external_data=True writes a large model), x and y [N,1] as PREDICT reads them."""
    weights = numpy_helper.from_array(np.full(n, 0.5, dtype=np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["W"], ["s"], keepdims=0), helper.make_node("Add", ["x", "s"], ["y"])],
        "user_big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "model.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="w.bin", size_threshold=0)
    return path


@pytest.mark.parametrize("command", [["validate", "--target", "sql-edge-2.0"],
                                     ["package", "--target", "sql-edge-2.0", "--out", "pkg"],
                                     ["package", "--target", "synapse", "--out", "pkg"]])
def test_cli_refuses_external_data_model_above_limit_for_sql(tmp_path, monkeypatch, capsys, command):
    """PREDICT reads a model from one varbinary(max): a SQL target refuses it (the container and onnxruntime
    targets run it from its files: tests/test_external_data_above_limit.py)."""
    monkeypatch.chdir(tmp_path)
    path = _external_data_model(tmp_path)
    assert path.stat().st_size + (tmp_path / "w.bin").stat().st_size > LIMIT
    monkeypatch.setattr(_onnx, "MODEL_BYTES_LIMIT", LIMIT)
    code = main([command[0], str(path), *command[1:]])
    err = capsys.readouterr().err
    assert code == 2
    assert "with its external data" in err and "external data files" in err and "smaller than 2 GiB" in err
    assert "please report" not in err
    assert not (tmp_path / "pkg").exists()


def test_external_data_model_below_limit_still_validates(tmp_path, monkeypatch, capsys):
    path = _external_data_model(tmp_path, n=100)
    monkeypatch.setattr(_onnx, "MODEL_BYTES_LIMIT", LIMIT)
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("opset", [17, 18])
def test_torch_module_above_limit_is_refused_before_export(monkeypatch, opset):
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Linear(40, 40))  # 1,640 float32: 6,560 bytes
    monkeypatch.setattr(_onnx, "MODEL_BYTES_LIMIT", LIMIT)
    with pytest.raises(og.UnsupportedModelError, match=r"Sequential's weights is 6,560 bytes.*smaller than 2 GiB"):
        og.convert(module, np.zeros((2, 40), dtype=np.float32), opset=opset)


def test_converted_model_above_limit_is_refused():
    """Any framework's exporter: the written model's size is checked before the ONNX checker, which said
    'Failed to serialize proto' for a file above 2 GiB."""
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).standard_normal((50, 1200)).astype(np.float32)
    model = LinearRegression().fit(x, x[:, 0])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_onnx, "MODEL_BYTES_LIMIT", LIMIT)
        with pytest.raises(og.UnsupportedModelError, match=r"the model the sklearn exporter wrote is [\d,]+ bytes"):
            og.convert(model, x)
    assert og.convert(model, x).model.ByteSize() > LIMIT  # the same model converts under the real limit


def _tied_program(torch, distinct: bool):
    """An ExportedProgram whose two Linear(60, 60) share one weight (14,400 bytes of float32), plus, if
    ``distinct``, a third Linear(60, 60) of its own weight."""

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(60, 60, bias=False)
            self.b = torch.nn.Linear(60, 60, bias=False)
            self.b.weight = self.a.weight
            self.c = torch.nn.Linear(60, 60, bias=False) if distinct else torch.nn.Identity()

        def forward(self, x):
            return self.c(self.b(self.a(x)))

    torch.manual_seed(0)
    module = Tied().eval()
    return module, torch.export.export(module, (torch.zeros(3, 60),), dynamic_shapes=({0: torch.export.Dim("N")},))


def test_an_exported_program_counts_a_tied_weight_once(monkeypatch):
    # its state_dict names the shared weight twice ('a.weight', 'b.weight', one tensor), which the file holds once:
    # 14,400 bytes of weights were refused as 28,800, and 28,800 reported as 43,200 (a 1.2 GB tied model was
    # refused as above 2 GiB)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(_onnx, "MODEL_BYTES_LIMIT", 20_000)  # the file: 17 kB
    module, program = _tied_program(torch, distinct=False)
    x = np.random.default_rng(0).standard_normal((3, 60)).astype(np.float32)
    conv = og.convert(program, x)
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, module(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    _, program = _tied_program(torch, distinct=True)
    with pytest.raises(og.UnsupportedModelError, match=r"ExportedProgram's weights is 28,800 bytes"):
        og.convert(program, x)

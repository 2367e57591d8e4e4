"""The PyTorch zoo entries: deterministic, actually trained, shaped as documented."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from onnxgate import zoo  # noqa: E402

#: (name, input shape after the batch axis, minimum training score: accuracy or R²)
EXPECTED = [
    ("pytorch-diabetes-mlp", (10,), 0.5),
    ("pytorch-digits-cnn", (1, 8, 8), 0.95),
    ("pytorch-digits-gru", (8, 8), 0.95),
]


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[Any, Any, Any]]:
    return {name: zoo.get(name).build() for name, _shape, _score in EXPECTED}


def test_pytorch_entries_are_registered_with_tolerances_and_opsets() -> None:
    assert zoo.names("pytorch") == sorted(name for name, _s, _m in EXPECTED)
    for entry in zoo.entries("pytorch"):
        assert entry.framework == "pytorch"
        assert 0 < entry.atol <= 1e-3 and 0 < entry.rtol <= 1e-4
        assert entry.opsets and entry.description


@pytest.mark.parametrize(("name", "shape", "min_score"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_entry_is_trained_and_shaped_as_documented(
    built: dict[str, tuple[Any, Any, Any]], name: str, shape: tuple[int, ...], min_score: float
) -> None:
    model, X, y = built[name]
    assert isinstance(model, torch.nn.Module) and not model.training
    assert X.dtype == np.float32 and X.shape[1:] == shape and len(X) == len(y)
    with torch.no_grad():
        pred = model(torch.from_numpy(X)).numpy()
    if zoo.get(name).task == "classification":
        score = float((pred.argmax(axis=1) == y).mean())
    else:
        pred = pred.reshape(-1)
        score = 1.0 - float(((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    assert score >= min_score, f"{name} scores {score:.3f}"


def test_build_is_deterministic_and_leaves_torch_global_state_alone(
    built: dict[str, tuple[Any, Any, Any]],
) -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(1234)
    before = torch.rand(3)
    torch.manual_seed(1234)
    again, _X, _y = zoo.get("pytorch-digits-cnn").build()
    after = torch.rand(3)
    assert torch.equal(before, after), "build() must not consume the caller's random stream"
    assert torch.get_num_threads() == threads
    first = built["pytorch-digits-cnn"][0].state_dict()
    for key, value in again.state_dict().items():
        assert torch.equal(value, first[key]), key


@pytest.mark.slow
def test_zoo_export_writes_a_pt2_that_reloads_and_predicts_the_same(tmp_path: Any) -> None:
    from onnxgate.converters import registry
    from onnxgate.signature import Signature
    from onnxgate.zoo.export import export

    written = export("pytorch-digits-cnn", tmp_path / "cnn", opset=13)
    assert sorted(p.name for p in written) == ["model.onnx", "model.pt2", "sample.npy"]
    converter = registry.get("pytorch")
    program = converter.load(tmp_path / "cnn" / "model.pt2")
    sample = np.load(tmp_path / "cnn" / "sample.npy")
    signature = Signature.from_model(str(tmp_path / "cnn" / "model.onnx"))
    model, _X, _y = zoo.get("pytorch-digits-cnn").build()
    rows = sample[:11]
    (from_file,) = converter.predict(program, {"input": rows}, signature)
    (from_build,) = converter.predict(model, {"input": rows}, signature)
    np.testing.assert_allclose(from_file, from_build, atol=1e-6)

"""The helpers every framework's converter shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from onnxgate.converters._base import _in_output_order
from onnxgate.errors import UnsupportedModelError
from onnxgate.signature import Signature, TensorSpec


def _signature(*outputs: str) -> Signature:
    spec = TensorSpec("x", "float32", ("N", 1))
    return Signature(inputs=(spec,), outputs=tuple(TensorSpec(n, "float32", ("N", 1)) for n in outputs))


A, B = np.zeros((2, 1)), np.ones((2, 1))


@pytest.mark.parametrize(
    ("names", "arrays", "outputs", "expected"),
    [
        pytest.param(["a", "b"], [A, B], ("b", "a"), [B, A], id="reordered-by-name"),
        pytest.param(["a"], [A], ("a", "extra"), [A, None], id="missing-output-is-none"),
        pytest.param(["x0", "x1"], [A, B], ("p", "q"), [A, B], id="renamed-keeps-graph-order"),
        pytest.param(["x0"], [A], ("p", "q"), [None, None], id="renamed-count-differs"),
    ],
)
def test_in_output_order(names: list[str], arrays: list[np.ndarray], outputs: tuple[str, ...], expected: list) -> None:
    got = _in_output_order(names, arrays, _signature(*outputs))
    assert [None if g is None else g.tolist() for g in got] == [None if e is None else e.tolist() for e in expected]


def test_a_model_path_in_python_is_refused_with_how_to_load_it(tmp_path: Any) -> None:
    import onnxgate as og

    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedModelError, match=r"'.*model\.keras' is a path: in Python onnxgate takes the model "
                                                    r"object.*Load it first"):
        og.convert(str(path), np.zeros((2, 3), np.float32))

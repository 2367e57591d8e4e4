"""Fixtures for the robustness tests: small real models, serialized, built once per module."""

from __future__ import annotations

import pytest
from robustness_models import tiny_mlp_model


@pytest.fixture(scope="session")
def mlp_bytes() -> bytes:
    return bytes(tiny_mlp_model().SerializeToString())


@pytest.fixture(scope="session")
def sklearn_bytes() -> bytes:
    """A scikit-learn logistic regression converted by onnxgate (ai.onnx.ml operators, ZipMap-free)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import onnxgate as og

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    conv = og.convert(model, X[:20].astype("float32"), opset=13)
    return bytes(conv.model.SerializeToString())

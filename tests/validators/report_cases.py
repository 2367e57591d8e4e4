"""Reports people look at, built once per test session: passing, failing parity, failing search, a sweep."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

import onnxgate as og


@functools.cache
def iris() -> tuple[Any, Any, Any]:
    """(fitted logistic regression, X, its conversion)."""
    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    return model, X, og.convert(model, X[:20], opset=15, precision="float32")


@functools.cache
def passing_report() -> og.Report:
    model, X, conv = iris()
    return og.validate(conv, reference=model, data=X)


def skewed_coefficients(conv: Any, factor: float = 1.5) -> onnx.ModelProto:
    """The conversion with every float initializer of the linear classifier scaled: a wrong model on purpose."""
    proto = onnx.ModelProto()
    proto.CopyFrom(conv.model)
    for node in proto.graph.node:
        if node.op_type == "LinearClassifier":
            for attr in node.attribute:
                if attr.name == "coefficients":
                    attr.floats[:] = [v * factor if i % 2 == 0 else v for i, v in enumerate(attr.floats)]
    for init in proto.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype.kind == "f":
            init.CopyFrom(numpy_helper.from_array(array * np.asarray(factor, array.dtype), init.name))
    return proto


@functools.cache
def failing_parity_report() -> og.Report:
    model, X, conv = iris()
    return og.validate(skewed_coefficients(conv), reference=model, data=X)


@functools.cache
def failing_search_report() -> og.Report:
    model, X, _ = og.zoo.get("sklearn-planted-scaler-tree").build()
    # The planted flip is float32 rounding next to a split: convert in float32 on purpose.
    conv = og.convert(model, X[:20], precision="float32")
    return og.validate(conv, reference=model, data=X, search=300, seed=0)


@functools.cache
def sweep_result() -> Any:
    from onnxgate.api import sweep

    model, X, _ = iris()
    return sweep(model, X, range(8, 18), target="sql-edge-1.0")

"""The zoo: coverage of every registered converter, determinism, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import onnxgate as og
from onnxgate.converters import registry


def test_every_registered_converter_has_a_zoo_entry() -> None:
    frameworks = {e.framework for e in og.zoo.entries()}
    missing = [name for name in registry.names() if name not in frameworks]
    assert not missing, f"converters without a zoo entry: {missing}"


def test_zoo_has_at_least_sixteen_entries() -> None:
    assert len(og.zoo.names()) >= 16


def test_every_entry_is_well_formed() -> None:
    for entry in og.zoo.entries():
        assert entry.name.startswith(entry.framework + "-"), entry.name
        assert entry.task in ("classification", "regression")
        assert entry.atol > 0 and entry.rtol >= 0
        assert entry.description


def test_unknown_entry_lists_known_names() -> None:
    # a KeyError too, as the errors page promises of every error (it was a bare OnnxGateError; helper-83)
    for caught in (og.OnnxGateError, og.UnknownNameError, KeyError, LookupError):
        with pytest.raises(caught, match=r"unknown zoo entry 'nope'.*sklearn-iris-logreg"):
            og.zoo.get("nope")


@pytest.mark.parametrize("name", og.zoo.names("sklearn"))
def test_sklearn_builds_are_deterministic(name: str) -> None:
    m1, X1, _y1 = og.zoo.get(name).build()
    m2, X2, _y2 = og.zoo.get(name).build()
    np.testing.assert_array_equal(np.asarray(X1), np.asarray(X2))
    np.testing.assert_array_equal(m1.predict(X1[:50]), m2.predict(X2[:50]))


def test_export_writes_native_sample_and_onnx(tmp_path: Path) -> None:
    from onnxgate.zoo.export import export

    out = tmp_path / "z"
    written = export("sklearn-wine-columntransformer", out, opset=13)
    assert sorted(p.name for p in written) == ["model.onnx", "model.skops", "sample.csv"]
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.skops", "sample.csv"]
    with pytest.raises(og.OutputExistsError, match="not empty"):
        export("sklearn-iris-logreg", out)
    # a package's folder, even with overwrite: its model.onnx replaced, the package no longer matched its manifest
    model, X, _y = og.zoo.get("sklearn-iris-logreg").build()
    package = og.package(og.convert(model, X[:5]), target="container", out=tmp_path / "pkg")
    before = (package / "model.onnx").read_bytes()
    with pytest.raises(og.OutputExistsError, match="holds a deployment package"):
        export("sklearn-iris-logreg", package, overwrite=True)
    assert (package / "model.onnx").read_bytes() == before

"""The zoo: reference models per framework, built from data that ships with scikit-learn.

Nothing is downloaded: every ``build()`` trains on iris, diabetes, digits, breast_cancer or wine in
about a second, deterministically.
"""

from __future__ import annotations

from onnxgate.zoo import boosting as _boosting
from onnxgate.zoo import keras as _keras
from onnxgate.zoo import pytorch as _pytorch
from onnxgate.zoo import sklearn as _sklearn
from onnxgate.zoo import tensorflow as _tensorflow
from onnxgate.zoo._base import ZooEntry, ZooRegistry

__all__ = ["ZooEntry", "entries", "get", "names", "registry"]

registry = ZooRegistry()
for _module in (_sklearn, _pytorch, _tensorflow, _keras, _boosting):
    for _entry in _module.ENTRIES:
        registry.register(_entry)


def names(framework: str | None = None) -> list[str]:
    """Names of the zoo entries, sorted (optionally only one framework's)."""
    return registry.names(framework)


def get(name: str) -> ZooEntry:
    """The zoo entry called ``name``; fails with the list of known names."""
    return registry.get(name)


def entries(framework: str | None = None) -> list[ZooEntry]:
    return registry.entries(framework)

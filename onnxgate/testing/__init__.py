"""Testing helpers for users' own test suites.

* :func:`assert_parity`: raise :class:`~onnxgate.errors.ParityError` with the evidence when an ONNX
  model does not predict what the original predicts.
* :func:`parametrize_with_checks`: one pytest test per (model, check), like scikit-learn's.
* :mod:`onnxgate.testing.strategies`: Hypothesis strategies for a model's inputs (needs the
  ``testing`` extra).
* The pytest plugin (:mod:`onnxgate.testing.plugin`, registered through ``pytest11``): the
  ``onnxgate_validate`` fixture and the ``@pytest.mark.onnxgate(...)`` marker.

Nothing here imports Hypothesis, onnx or a framework until it is used; the first use of :func:`assert_parity`
imports onnx, onnxruntime and the validators with it (not in a Hypothesis test's first, timed example), and a
framework only when a reference of it is compared.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["ModelCheck", "assert_parity", "model_checks", "parametrize_with_checks", "strategies"]

_LAZY = {
    "assert_parity": ("onnxgate.testing.parity", "assert_parity"),
    "ModelCheck": ("onnxgate.testing.checks", "ModelCheck"),
    "model_checks": ("onnxgate.testing.checks", "model_checks"),
    "parametrize_with_checks": ("onnxgate.testing.checks", "parametrize_with_checks"),
    "strategies": ("onnxgate.testing.strategies", None),
}

if TYPE_CHECKING:
    from onnxgate.testing import strategies
    from onnxgate.testing.checks import ModelCheck, model_checks, parametrize_with_checks
    from onnxgate.testing.parity import assert_parity


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'onnxgate.testing' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""One check pipeline: validate, model_checks and parametrize_with_checks skip and report identically."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from broken_models import identity_model, unsupported_nodes_model

import onnxgate as og
from onnxgate.targets import ALL_CHECKS
from onnxgate.testing import model_checks
from onnxgate.validators import pipeline
from onnxgate.validators.pipeline import CHECKS, CheckContext, named_checks


def _by_name(results: list[Any]) -> dict[str, Any]:
    return {r.name: r for r in results}


def _run_alone(model: Any, target: str, **options: Any) -> dict[str, Any]:
    return _by_name([c.run(model) for c in model_checks(model, target, **options)])


def test_parity_after_a_failed_operator_check_is_skipped_alike_everywhere() -> None:
    model = unsupported_nodes_model()
    data = np.ones((3, 1), np.int32)

    def reference(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [feeds["x"]]

    report = og.validate(model, "onnxruntime", reference=reference, data=data)
    alone = _run_alone(model, "onnxruntime", reference=reference, data=data)
    assert not report.check("operators_supported").passed
    parity = report.check("prediction_parity")
    assert parity.skipped and "cannot load" in parity.message
    assert alone["prediction_parity"].skipped
    assert alone["prediction_parity"].message == parity.message
    assert {c.name: (c.passed, c.skipped, c.message) for c in report.checks} == {
        n: (r.passed, r.skipped, r.message) for n, r in alone.items()
    }


def test_a_crashing_check_is_a_failed_result_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(proto: Any, target: Any) -> Any:
        raise ZeroDivisionError("a check broke on this model")

    monkeypatch.setitem(pipeline.CHECKS, "model_wellformed", crash)  # type: ignore[index]
    model = identity_model()
    report = og.validate(model, "container")
    result = report.check("model_wellformed")
    assert not result.passed and "ZeroDivisionError" in result.message and "could not run" in result.message
    (check,) = [c for c in model_checks(model, "container") if c.name == "model_wellformed"]
    alone = check.run(model)
    assert (alone.passed, alone.message) == (result.passed, result.message)
    with pytest.raises(og.ValidationFailedError, match="could not run"):
        check(model)


def test_target_checks_come_from_the_one_list_of_names() -> None:
    assert list(CHECKS) == list(ALL_CHECKS)
    assert all(fn.__name__ == f"check_{name}" for name, fn in CHECKS.items())


def test_the_generator_orders_target_checks_then_parity_then_search() -> None:
    target = og.targets.get("sql-edge-2.0")
    names = [c.name for c in named_checks(CheckContext(identity_model(), target, search=10))]
    assert names == [c for c in ALL_CHECKS if c in target.checks] + ["prediction_parity", "search_divergences"]
    assert [c.name for c in named_checks(CheckContext(identity_model(), target))][-1] == "prediction_parity"

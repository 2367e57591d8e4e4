"""Validation: a target's checks, prediction parity and search, collected in one :class:`Report`.

``validate`` is the entry point; each check is a function ``check_<subject>_<property>`` in
:mod:`~onnxgate.validators.structure`, :mod:`~onnxgate.validators.io_rules` or
:mod:`~onnxgate.validators.parity`. The JSON layout is documented in ``docs/report-schema.md``.

Names are imported on first use: ``onnxgate validate`` without a reference loads neither parity nor the
search (their modules are a third of what the command would compile and run before it checks anything).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxgate._lazy import lazy_members

__all__ = [
    "CHECKS",
    "SCHEMA_VERSION",
    "CheckResult",
    "Report",
    "check_batch_axis_dynamic",
    "check_inputs_element_types",
    "check_inputs_one_per_column",
    "check_ir_version_within_caps",
    "check_model_wellformed",
    "check_operators_exist_at_opset",
    "check_operators_supported",
    "check_opset_within_caps",
    "check_outputs_element_types",
    "check_outputs_one_value_per_row",
    "check_outputs_tensor_only",
    "check_prediction_parity",
    "compare_arrays",
    "validate",
]

_LAZY: dict[str, str] = {
    "CHECKS": "onnxgate.validators.core",
    "validate": "onnxgate.validators.core",
    "SCHEMA_VERSION": "onnxgate.validators.report",
    "CheckResult": "onnxgate.validators.report",
    "Report": "onnxgate.validators.report",
    "check_batch_axis_dynamic": "onnxgate.validators.io_rules",
    "check_inputs_element_types": "onnxgate.validators.io_rules",
    "check_inputs_one_per_column": "onnxgate.validators.io_rules",
    "check_outputs_element_types": "onnxgate.validators.io_rules",
    "check_outputs_one_value_per_row": "onnxgate.validators.io_rules",
    "check_outputs_tensor_only": "onnxgate.validators.io_rules",
    "check_prediction_parity": "onnxgate.validators.parity",
    "compare_arrays": "onnxgate.validators.parity",
    "check_ir_version_within_caps": "onnxgate.validators.structure",
    "check_model_wellformed": "onnxgate.validators.structure",
    "check_operators_exist_at_opset": "onnxgate.validators.structure",
    "check_operators_supported": "onnxgate.validators.structure",
    "check_opset_within_caps": "onnxgate.validators.structure",
}

if TYPE_CHECKING:
    from onnxgate.validators.core import CHECKS, validate
    from onnxgate.validators.io_rules import (
        check_batch_axis_dynamic,
        check_inputs_element_types,
        check_inputs_one_per_column,
        check_outputs_element_types,
        check_outputs_one_value_per_row,
        check_outputs_tensor_only,
    )
    from onnxgate.validators.parity import check_prediction_parity, compare_arrays
    from onnxgate.validators.report import SCHEMA_VERSION, CheckResult, Report
    from onnxgate.validators.structure import (
        check_ir_version_within_caps,
        check_model_wellformed,
        check_operators_exist_at_opset,
        check_operators_supported,
        check_opset_within_caps,
    )


__getattr__, __dir__ = lazy_members(globals(), _LAZY)

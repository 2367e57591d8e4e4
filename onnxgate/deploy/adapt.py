"""Make a model ``PREDICT``-shaped for the SQL packages.

The adaptation is core (:mod:`onnxgate.adaptation`: the graph rewrite and its recorded mapping); its
parity counterpart runs the native model (:mod:`onnxgate.validators.adapted`). This module keeps the
names the SQL packages and their users import from here. Converting a native model again at a
target's opset cap is the API's (:func:`onnxgate.adapt`, :func:`onnxgate.api.at_target_cap`).
"""

from __future__ import annotations

from onnxgate.adaptation import ADAPT_METADATA_KEY, CLASS_OUTPUT_PREFIX, adapt, adapt_conversion, adaptation_of
from onnxgate.sql_rules import sql_identifier
from onnxgate.validators.adapted import reference_outputs_for_adapted

__all__ = [
    "ADAPT_METADATA_KEY",
    "CLASS_OUTPUT_PREFIX",
    "adapt",
    "adapt_conversion",
    "adaptation_of",
    "reference_outputs_for_adapted",
    "sql_identifier",
]

"""Make a model ``PREDICT``-shaped (core): one ``[N,1]`` input per table column, one value per row per output.

T-SQL ``PREDICT`` (SQL Edge, Synapse) feeds each table column to the model input of the same name
and maps each ``WITH`` column to the model output of the same name (``targets.md`` A.4, A.5). A
model with one ``[N,k]`` input, a ZipMap output or an ``[N,k]`` probability output cannot be scored
there as it is. :func:`adapt` wraps such a graph without touching what it computes:

* inputs: ``k`` new ``[N,1]`` column inputs are Cast (when the table type differs from what the
  model reads) and Concat-ed (axis 1) into the original input; a rank-1 input is reshaped;
* outputs: a ZipMap is dropped in favour of the probability tensor it was built from; an ``[N,k]``
  output is split into ``k`` named ``[N,1]`` outputs with ``Gather`` (one per column), named after
  the classes for a classifier (``p_setosa``); a rank-1 output is reshaped to ``[N,1]``;
* text categories: on a target that takes no text (SQL Edge), a text input read only through a LabelEncoder
  to its category's position, or only by a OneHotEncoder of its categories, becomes an int32 input of those codes
  (:mod:`.categories`);
* opset: a finished file above the target's caps is only re-stamped when every node means the same
  at the lower opset, never down-converted. A conversion whose native model is known is converted
  again at the target's opset first, by the API (:func:`onnxgate.api.at_target_cap`).

The mapping from the original model to the adapted one is written into the model's
``metadata_props`` under :data:`ADAPT_METADATA_KEY`, so parity against the native model still works
(:mod:`onnxgate.adaptation.mapping`, used by :mod:`onnxgate.validators.adapted`).

One module per job: :mod:`.rewrite` (the graph rewrite), :mod:`.graph` (graph edits it is made of),
:mod:`.categories` (text categories as codes), :mod:`.opset` (re-stamping within the caps), :mod:`.mapping`
(the recorded mapping) and :mod:`.entry` (:func:`adapt`, :func:`adapt_conversion`). Names are imported on first
use: validating reads the recorded mapping, not the rewrite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxgate._lazy import lazy_members

__all__ = [
    "ADAPT_METADATA_KEY",
    "ADAPT_METADATA_VERSION",
    "CLASS_OUTPUT_PREFIX",
    "adapt",
    "adapt_conversion",
    "adapt_model",
    "adaptation_of",
    "adapted_outputs",
    "original_feeds",
    "text_categories_as_codes",
    "text_category_inputs",
]

_LAZY: dict[str, str] = {
    "ADAPT_METADATA_KEY": "onnxgate.adaptation.mapping",
    "ADAPT_METADATA_VERSION": "onnxgate.adaptation.mapping",
    "CLASS_OUTPUT_PREFIX": "onnxgate.adaptation.rewrite",
    "adapt": "onnxgate.adaptation.entry",
    "adapt_conversion": "onnxgate.adaptation.entry",
    "adapt_model": "onnxgate.adaptation.entry",
    "adaptation_of": "onnxgate.adaptation.mapping",
    "adapted_outputs": "onnxgate.adaptation.mapping",
    "original_feeds": "onnxgate.adaptation.mapping",
    "text_categories_as_codes": "onnxgate.adaptation.categories",
    "text_category_inputs": "onnxgate.adaptation.categories",
}

if TYPE_CHECKING:
    from onnxgate.adaptation.categories import text_categories_as_codes, text_category_inputs
    from onnxgate.adaptation.entry import adapt, adapt_conversion, adapt_model
    from onnxgate.adaptation.mapping import (
        ADAPT_METADATA_KEY,
        ADAPT_METADATA_VERSION,
        adaptation_of,
        adapted_outputs,
        original_feeds,
    )
    from onnxgate.adaptation.rewrite import CLASS_OUTPUT_PREFIX


__getattr__, __dir__ = lazy_members(globals(), _LAZY)

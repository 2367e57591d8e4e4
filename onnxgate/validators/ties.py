"""Rows whose reference answer is not one answer: nearest neighbours tied at the k-th distance
(:meth:`onnxgate.converters._base.Converter.tied_answers`). A row where the ONNX model and the
reference differ is compared again with each answer a tie-break gives; where the ONNX model's answer
is one of them, the reference's answer for that row becomes it, and the row is counted, so the report
says how many rows were decided this way. Any other difference stays a mismatch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

#: A batch where more than this share of the rows differ (and more than 16) is not looked at for ties: ties
#: are rare (1 and 8 of 150 iris rows), and a model that differs this much differs for another reason.
MOST_TIED_SHARE = 0.25

#: ``resolve(feeds, onnx_outputs, reference_outputs) -> rows decided by a tie``; changes the reference
#: outputs of those rows in place.
TieResolver = Callable[[Mapping[str, "np.ndarray"], list[Any], list[Any]], int]


def prepare_tie_resolver(reference: Any, onnx_model: Any, signature: Signature,
                         tolerances: Mapping[str, tuple[float, float, str]]) -> TieResolver | None:
    """A :data:`TieResolver` for a native reference whose converter knows ties, else None."""
    from onnxgate.adaptation.mapping import adaptation_of, adapted_outputs, original_feeds
    from onnxgate.columns import ColumnMap
    from onnxgate.converters import registry
    from onnxgate.errors import OnnxGateError

    try:
        converter = registry.for_model(reference)
    except OnnxGateError:
        return None
    if not converter.answers_can_tie(reference):
        return None
    mapping = adaptation_of(onnx_model)
    columns = ColumnMap.from_model(onnx_model)

    def resolve(feeds: Mapping[str, np.ndarray], onnx_out: list[Any], ref_out: list[Any]) -> int:
        import numpy as np

        ours = [_rows(value) for value in onnx_out]
        theirs = [_rows(value) for value in ref_out]
        differ = np.zeros(len(next(iter(feeds.values()))), dtype=bool)
        for spec, mine, other in zip(signature.outputs, ours, theirs):
            if mine is not None and other is not None and mine.shape == other.shape:
                differ |= _row_differs(mine, other, tolerances[spec.name])
        rows = [int(r) for r in np.flatnonzero(differ)]
        if not rows or len(rows) > max(MOST_TIED_SHARE * len(differ), 16):
            return 0  # none differ, or so many that ties are not why (a model fitted otherwise)
        if mapping is not None:
            native_feeds, native_signature = original_feeds(mapping, feeds, onnx_model)
        else:
            native_feeds, native_signature = columns.to_columns(feeds), columns.native_signature(signature)
        decided = 0
        for row, answers in converter.tied_answers(reference, native_feeds, native_signature, rows).items():
            for answer in answers:
                native = [None if value is None else np.asarray(value)[None] for value in answer]
                laid = adapted_outputs(mapping, native, signature.output_names) if mapping is not None else native
                if _matches(ours, laid, row, signature, tolerances):
                    for i, value in enumerate(laid):
                        if value is not None and ref_out[i] is not None:
                            _set_row(ref_out, i, row, value)
                    decided += 1
                    break
        return decided

    return resolve


def _rows(value: Any) -> np.ndarray | None:
    """An output as ``[rows, values]`` numbers, or None (text, ZipMap maps, no value)."""
    import numpy as np

    if value is None or isinstance(value, list):
        return None
    array = np.asarray(value)
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        return None
    return array.reshape(len(array), -1)


def _row_differs(ours: np.ndarray, theirs: np.ndarray, tolerance: tuple[float, float, str]) -> np.ndarray:
    """Per row, whether any value differs by parity's rule."""
    import numpy as np

    from onnxgate.validators.rule import element_mismatches

    atol, rtol, mode = tolerance
    found = element_mismatches(theirs, ours, atol=atol, rtol=rtol, exact=mode == "exact",
                               infinities_compare_equal=True)
    per_row = np.asarray(np.asarray(found.mismatch).reshape(len(ours), -1).any(axis=1))
    return per_row


def _matches(ours: list[Any], laid: list[Any], row: int, signature: Signature,
             tolerances: Mapping[str, tuple[float, float, str]]) -> bool:
    """Whether every output of the ONNX model's ``row`` equals one tie-break's answer (laid out as the
    model's outputs), by parity's own tolerances."""
    import numpy as np

    for spec, mine, answer in zip(signature.outputs, ours, laid):
        if mine is None or answer is None:
            continue
        expected = np.asarray(answer).reshape(1, -1)
        if expected.dtype.kind not in "biuf" or expected.shape[1] != mine.shape[1]:
            return False
        if _row_differs(mine[row:row + 1], expected.astype(mine.dtype), tolerances[spec.name]).any():
            return False
    return True


def _set_row(outputs: list[Any], index: int, row: int, value: Any) -> None:
    import numpy as np

    target = np.array(outputs[index], copy=True)
    target[row] = np.asarray(value).reshape(target[row].shape)
    outputs[index] = target

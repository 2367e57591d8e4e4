"""Rows whose reference answer is not one answer: nearest neighbours tied at the k-th distance
(:meth:`onnxgate.converters._base.Converter.tied_answers`). A row where the ONNX model and the
reference differ is compared again with each answer a tie-break gives; where the ONNX model's answer
is one of them, the reference's answer for that row becomes it, and the row is counted, so the report
says how many rows were decided this way. Any other difference stays a mismatch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

#: How many tie-break answers a batch may try, per row of the batch. A row is tried one answer at a time, the
#: file's own first (the tied training rows of lowest index, which an ONNX TopK keeps), every row before any row's
#: second, so a right file is decided in one round. A wrong file differs on most rows and no answer fits them:
#: a KNeighborsRegressor fitted on other rows, 20,000 rows of whole numbers each tied with 30 training rows, would
#: try 256 answers a row (40 s); stopped here, the rows not tried to the end are counted
#: (:attr:`TieCount.untried`) and stay mismatches.
TIE_ANSWERS_PER_ROW = 4
#: ... and at least this many answers a batch (a small batch of a right file whose float distances pick tied
#: rows in another order than their index).
LEAST_TIE_ANSWERS = 4096


@dataclass(frozen=True)
class TieCount:
    """What a :data:`TieResolver` did to a batch: ``decided``, its differing rows whose file answer is a
    tie-break's (compared with it); ``untried``, differing rows holding a tie whose answers were not all tried
    (:data:`TIE_ANSWERS_PER_ROW`), which stay mismatches although a tie-break might explain them."""

    decided: int = 0
    untried: int = 0

    def __add__(self, other: TieCount) -> TieCount:
        return TieCount(self.decided + other.decided, self.untried + other.untried)


#: ``resolve(feeds, onnx_outputs, reference_outputs) -> TieCount``; changes the reference outputs of the rows
#: decided by a tie in place.
TieResolver = Callable[[Mapping[str, "np.ndarray"], list[Any], list[Any]], TieCount]


def prepare_tie_resolver(reference: Any, onnx_model: Any, signature: Signature,
                         tolerances: Mapping[str, tuple[float, float, str]]) -> TieResolver | None:
    """A :data:`TieResolver` for a native reference whose converter knows ties, and for a model answering a
    ``TopK``'s indices (:func:`topk_tie_resolver`); None when neither applies."""
    topk = None
    if _topk_order_unspecified(reference):
        from onnxgate.validators.reference import prepare_reference

        record = record_topk_inputs(prepare_reference(reference, onnx_model, signature))
        topk = topk_tie_resolver(onnx_model, signature, tolerances, record)
    resolvers = [r for r in (_native_tie_resolver(reference, onnx_model, signature, tolerances), topk)
                 if r is not None]
    if len(resolvers) < 2:
        return resolvers[0] if resolvers else None

    def both(feeds: Mapping[str, np.ndarray], onnx_out: list[Any], ref_out: list[Any]) -> TieCount:
        return sum((resolve(feeds, onnx_out, ref_out) for resolve in resolvers), TieCount())

    return both


def _topk_order_unspecified(reference: Any) -> bool:
    """Whether ``reference`` may order a TopK's equal values otherwise than ONNX: PyTorch (``torch.topk``), Keras
    on the torch backend, and a callable (which may wrap either; helper-109). Not an ONNX model, which breaks
    ties as the file does, nor TensorFlow, whose ``top_k`` puts the lower index first as ONNX does."""
    import os

    from onnxgate.converters import registry
    from onnxgate.errors import OnnxGateError

    try:
        framework = str(registry.for_model(reference).framework)
    except OnnxGateError:
        return callable(reference) and not isinstance(reference, (bytes, str, os.PathLike)) \
            and not hasattr(reference, "graph")
    if framework == "keras":
        try:
            import keras

            return str(keras.config.backend()) == "torch"
        except Exception:
            return False
    return framework == "pytorch"


def topk_tie_resolver(onnx_model: Any, signature: Signature, tolerances: Mapping[str, tuple[float, float, str]],
                      record: Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]) -> TieResolver | None:
    """A :data:`TieResolver` for a model whose output is a ``TopK``'s indices beside its values.

    Among equal values the order of ``torch.topk`` is not specified, while ONNX's TopK puts the lower index
    first: a ReLU's zeros gave index rows that differ on 58 of 64 rows, with the values equal, and parity
    failed a file that answers as well as PyTorch does (helper-101). A row whose indices differ is the
    reference's answer when, in the reference's own input to its ``topk`` (``record(feeds)``: the inputs of
    the ``topk`` calls the reference made on those rows), the file's indices pick exactly the values the
    reference's pick, and the TopK's values output (which must be an output too, checked against the
    reference as usual) agrees on that row. Without the values among the outputs, or without a recorded
    input of the TopK's shape, indices stay compared exactly. The file's own TopK input is not what vouches:
    a file whose class-0 bias was 40 too high saturated that class's sigmoid at 1, tied with the true top
    class, and passed 188 of 296 rows (helper-110); and a right file whose sigmoid gave 0.99999994 where
    torch gave 1 failed its rows. Only for a reference that may break ties otherwise
    (:func:`_topk_order_unspecified`): an ONNX model breaks them as the file does, and TensorFlow's
    ``top_k`` puts the lower index first as ONNX does."""
    found = _topk_outputs(onnx_model, signature)
    if not found:
        return None
    names = signature.output_names

    def resolve(feeds: Mapping[str, np.ndarray], onnx_out: list[Any], ref_out: list[Any]) -> TieCount:
        import numpy as np

        decided: set[int] = set()
        for indices_at, values_at, axis in found:
            ours, theirs = onnx_out[indices_at], ref_out[indices_at]
            if not isinstance(ours, np.ndarray) or np.shape(theirs) != ours.shape or ours.ndim < 2:
                continue
            theirs = np.asarray(theirs)
            if theirs.dtype.kind not in "iu":
                continue
            differ = (ours != theirs).reshape(len(ours), -1).any(axis=1)
            mine, other = _rows(onnx_out[values_at]), _rows(ref_out[values_at])
            if mine is None or other is None or mine.shape != other.shape:
                continue  # the values are what vouch for the file's picks
            values_ok = ~_row_differs(mine, other, tolerances[names[values_at]])
            rows = np.flatnonzero(differ & values_ok)
            if not len(rows):
                continue
            x = _recorded_input(record({k: np.asarray(v)[rows] for k, v in feeds.items()}), ours[rows],
                                theirs[rows], axis, np.asarray(ref_out[values_at])[rows])
            if x is None:
                continue
            width = x.shape[axis]
            mine_i, theirs_i = ours[rows], theirs[rows]
            inside = (((theirs_i >= 0) & (theirs_i < width) & (mine_i >= 0) & (mine_i < width))
                      .reshape(len(rows), -1).all(axis=1))
            picked_ours = np.take_along_axis(x, np.clip(mine_i, 0, width - 1).astype(np.int64), axis=axis)
            picked_theirs = np.take_along_axis(x, np.clip(theirs_i, 0, width - 1).astype(np.int64), axis=axis)
            same = ((picked_ours == picked_theirs) | (np.isnan(picked_ours) & np.isnan(picked_theirs))
                    if x.dtype.kind == "f" else picked_ours == picked_theirs)
            same_rows = same.reshape(len(rows), -1).all(axis=1) & inside
            along = axis % ours.ndim - 1  # the TopK's axis within one row
            for at, row in enumerate(rows):
                lines = [np.moveaxis(side[at], along, -1).reshape(-1, side.shape[axis]) for side in (mine_i, theirs_i)]
                if same_rows[at] and all(len(np.unique(line)) == line.size for side in lines for line in side):
                    _set_row(ref_out, indices_at, int(row), ours[row])
                    decided.add(int(row))
        return TieCount(len(decided))

    return resolve


def _recorded_input(recorded: list[np.ndarray], ours: np.ndarray, theirs: np.ndarray, axis: int,
                    values: np.ndarray) -> np.ndarray | None:
    """The one recorded ``topk`` input shaped as the indices but along ``axis`` (where it is at least as wide
    and holds every index the reference answered) whose values at the reference's indices are the reference's
    values output (another topk of that shape in the same forward() is told apart so; helper-115); None when
    no call or several fit (which one answered is then not known)."""
    import numpy as np

    fits = []
    for x in recorded:
        x = np.asarray(x)
        if x.ndim != ours.ndim or x.shape[:1] != ours.shape[:1] or any(
                a != b for i, (a, b) in enumerate(zip(x.shape, ours.shape)) if i != axis % ours.ndim):
            continue
        if x.shape[axis] < ours.shape[axis] or ((theirs < 0) | (theirs >= x.shape[axis])).any():
            continue
        picked = np.take_along_axis(x, theirs.astype(np.int64), axis=axis)
        if picked.shape != values.shape:
            continue
        # close, not equal: the rows run again alone may sum in another order than in their batch
        if np.allclose(picked.astype(np.float64), values.astype(np.float64), rtol=1e-5, atol=1e-6, equal_nan=True):
            fits.append(x)
    return fits[-1] if len(fits) == 1 else None


def record_topk_inputs(run: Callable[[Mapping[str, np.ndarray]], Any]) -> Callable[[Mapping[str, np.ndarray]],
                                                                                       list[np.ndarray]]:
    """``feeds -> the inputs of every topk the reference made while answering them``, for
    :func:`topk_tie_resolver`; an empty list when torch is not loaded or the reference never called it.

    Recorded at PyTorch's dispatcher (a ``TorchDispatchMode``, active in this thread only), where every
    ``aten::topk`` passes: ``torch.topk``, ``Tensor.topk`` and those a ``torch.jit.script`` module makes,
    which patching the Python functions never saw (its ties failed a right file; helper-115)."""
    import sys

    def record(feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        torch: Any = sys.modules.get("torch")
        if torch is None:
            return []
        from torch.utils._python_dispatch import TorchDispatchMode

        seen: list[np.ndarray] = []
        topk = torch.ops.aten.topk

        class Recorder(TorchDispatchMode):  # type: ignore[misc]
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                if getattr(func, "overloadpacket", None) is topk and args:
                    seen.append(args[0].detach().cpu().numpy().copy())
                return func(*args, **(kwargs or {}))

        try:
            with Recorder():
                run(feeds)
        except Exception:
            return []
        return seen

    return record


def _topk_outputs(onnx_model: Any, signature: Signature) -> list[tuple[int, int, int]]:
    """(indices output, values output, the TopK's axis) for each TopK whose indices and values are
    both outputs of the model (through Identity or Cast)."""
    from onnx import helper

    from onnxgate._graph import traced_back
    from onnxgate._onnx import canonical_domain

    graph = onnx_model.graph
    producers = {out: node for node in graph.node for out in node.output}

    def origin(name: str) -> tuple[Any, int] | None:
        name = traced_back(producers, name, ("Identity", "Cast"))
        node = producers.get(name)
        return None if node is None else (node, list(node.output).index(name))

    tops: dict[int, dict[int, int]] = {}
    nodes: dict[int, Any] = {}
    for at, name in enumerate(signature.output_names):
        found = origin(name)
        if found is not None and found[0].op_type == "TopK" and canonical_domain(found[0].domain) == "":
            tops.setdefault(id(found[0]), {})[found[1]] = at
            nodes[id(found[0])] = found[0]
    result = []
    for key, outs in tops.items():
        if 0 in outs and 1 in outs:
            node = nodes[key]
            axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), -1)
            result.append((outs[1], outs[0], int(axis)))
    return result


def _native_tie_resolver(reference: Any, onnx_model: Any, signature: Signature,
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
    from onnxgate.signature import output_class_labels

    mapping = adaptation_of(onnx_model)
    labels = output_class_labels(onnx_model)
    columns = ColumnMap.from_model(onnx_model)

    def resolve(feeds: Mapping[str, np.ndarray], onnx_out: list[Any], ref_out: list[Any]) -> TieCount:
        import numpy as np

        ours = [_rows(value) for value in onnx_out]
        theirs = [_rows(value) for value in ref_out]
        differ = np.zeros(len(next(iter(feeds.values()))), dtype=bool)
        for spec, mine, other in zip(signature.outputs, ours, theirs):
            if mine is not None and other is not None and mine.shape == other.shape:
                differ |= _row_differs(mine, other, tolerances[spec.name])
        rows = [int(r) for r in np.flatnonzero(differ)]
        if not rows:
            return TieCount()
        if mapping is not None:
            native_feeds, native_signature = original_feeds(mapping, feeds, onnx_model)
        else:
            native_feeds, native_signature = columns.to_columns(feeds), columns.native_signature(signature)

        def lay(answer: list[Any]) -> list[Any]:
            native = [None if value is None else np.asarray(value)[None] for value in answer]
            return (adapted_outputs(mapping, native, signature.output_names, labels) if mapping is not None
                    else native)

        found = converter.tied_answers(reference, native_feeds, native_signature, rows)
        decided, untried = _first_fitting(found, lay, ours, signature, tolerances,
                                          max(LEAST_TIE_ANSWERS, TIE_ANSWERS_PER_ROW * len(differ)))
        for i in range(len(ref_out)):
            if ref_out[i] is None:
                continue
            target = None  # the reference's output copied once, its decided rows set
            for row, laid in decided.items():
                if laid[i] is not None:
                    target = np.array(ref_out[i], copy=True) if target is None else target
                    target[row] = np.asarray(laid[i]).reshape(target[row].shape)
            if target is not None:
                ref_out[i] = target
        return TieCount(len(decided), untried)

    return resolve


def _first_fitting(found: Mapping[int, Iterable[list[Any]]], lay: Callable[[list[Any]], list[Any]],
                   ours: list[Any], signature: Signature, tolerances: Mapping[str, tuple[float, float, str]],
                   budget: int) -> tuple[dict[int, list[Any]], int]:
    """``({row: the tie-break answer the file gives there, laid out as the outputs}, rows not tried to the end)``
    for the rows of ``found`` (each row's answers over its tie-breaks): the rows are tried in rounds, each row's
    next answer per round, compared all at once, until every row is decided or has no answer left, or
    ``budget`` answers were made."""
    pending: dict[int, Iterator[list[Any]]] = {row: iter(answers) for row, answers in found.items()}
    decided: dict[int, list[Any]] = {}
    while pending and budget > 0:
        batch: dict[int, list[Any]] = {}
        for row, answers in list(pending.items())[:budget]:
            answer = next(answers, None)
            budget -= 1
            if answer is None:
                del pending[row]
            else:
                batch[row] = lay(answer)
        for row, fits in zip(batch, _match_rows(ours, list(batch), list(batch.values()), signature, tolerances)):
            if fits:
                decided[row] = batch[row]
                del pending[row]
    return decided, len(pending)


def _rows(value: Any) -> np.ndarray | None:
    """An output as ``[rows, values]`` numbers, or None (text, ZipMap maps, no value). A sequence of one
    ``[rows, k_t]`` array per target (a MultiOutputClassifier's probabilities) as those arrays side by side, as the
    reference's answer lays them: a tied row of MultiOutputClassifier(KNeighborsClassifier()) was not followed, and
    parity failed the file 0.2 off on 1 of 150 iris rows."""
    import numpy as np

    if isinstance(value, list) and value and all(
            getattr(v, "ndim", 0) == 2 and np.asarray(v).dtype.kind in "biuf" for v in value) and len(
            {len(v) for v in value}) == 1:
        return np.concatenate([np.asarray(v) for v in value], axis=1)
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


def _match_rows(ours: list[Any], rows: list[int], laids: list[list[Any]], signature: Signature,
                tolerances: Mapping[str, tuple[float, float, str]]) -> list[bool]:
    """For each of ``rows``, whether every output of the ONNX model's row equals its tie-break answer in ``laids``
    (laid out as the model's outputs), by parity's own tolerances; the rows compared at once."""
    import numpy as np

    fits = np.ones(len(rows), dtype=bool)
    if not rows:
        return []
    for at, (spec, mine) in enumerate(zip(signature.outputs, ours)):
        if mine is None:
            continue
        given = [i for i, laid in enumerate(laids) if laid[at] is not None]
        if not given:
            continue
        expected = [np.asarray(laids[i][at]).reshape(-1) for i in given]
        if any(e.dtype.kind not in "biuf" or e.shape[0] != mine.shape[1] for e in expected):
            for i, e in zip(given, expected):
                if e.dtype.kind not in "biuf" or e.shape[0] != mine.shape[1]:
                    fits[i] = False
            keep = [(i, e) for i, e in zip(given, expected) if fits[i]]
            if not keep:
                continue
            given, expected = [i for i, _ in keep], [e for _, e in keep]
        picked = mine[np.asarray([rows[i] for i in given])]
        fits[given] &= ~_row_differs(picked, np.stack(expected).astype(mine.dtype), tolerances[spec.name])
    return [bool(f) for f in fits]


def _set_row(outputs: list[Any], index: int, row: int, value: Any) -> None:
    import numpy as np

    target = np.array(outputs[index], copy=True)
    target[row] = np.asarray(value).reshape(target[row].shape)
    outputs[index] = target

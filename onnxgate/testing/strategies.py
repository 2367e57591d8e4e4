"""Hypothesis strategies for a model's inputs, derived from its :class:`~onnxgate.signature.Signature`.

``model_inputs(model)`` draws feed dicts onnxruntime accepts: every input present, the element type
the graph declares, fixed dimensions respected, the batch axis (and any other symbolic dimension)
drawn once and shared by every input that names it, values finite by default and inside the data's
observed ranges when data is given, an input of category codes drawn among its codes (fed as the categories they
stand for where those are numbers, which onnxgate reads by value).

Hypothesis is an optional dependency (``pip install 'onnxgate[testing]'``); this module imports it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, UnsupportedModelError, missing_dependency

try:
    from hypothesis import strategies as st
except ImportError as _err:  # pragma: no cover - exercised only without the testing extra
    raise missing_dependency("hypothesis", "testing", "onnxgate.testing.strategies") from _err

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature, TensorSpec

__all__ = ["DEFAULT_BATCH_SIZES", "DEFAULT_FLOAT_RANGE", "DEFAULT_INT_RANGE", "model_inputs"]

#: Batch sizes drawn for a dynamic batch axis when none is given.
DEFAULT_BATCH_SIZES = (1, 5)
#: Size drawn for other symbolic dimensions (a sequence length, an image side).
DEFAULT_OTHER_DIM = (1, 4)
#: Value ranges when no data is given.
DEFAULT_FLOAT_RANGE = (-1e3, 1e3)
DEFAULT_INT_RANGE = (-1000, 1000)
#: Share of extra room drawn beyond a float column's observed range on each side (an integer column gets none: ids).
RANGE_PAD = 0.1

Range = tuple[float, float]


def _signature(model: Any) -> Signature:
    from onnxgate.signature import Signature

    if isinstance(model, Signature):
        return model
    sig = getattr(model, "signature", None)
    if isinstance(sig, Signature):
        return sig
    return Signature.from_model(model)


#: Fed in place of a text input's missing value while the data's values are observed (:func:`_observed`): no text
#: of the data is it, so a missing value is told apart from the text the model reads it as (an imputer's fill may be
#: a category of its own).
_MISSING_SEEN = "\x00onnxgate: a missing value\x00"


def _observed(signature: Signature, data: Any) -> dict[str, Any]:
    """Per input: per-column (lo, hi) arrays for numbers, the observed values for strings (without the data's
    missing values: drawn only with ``allow_nan``, as NaN is)."""
    import dataclasses

    import numpy as np

    from onnxgate._data import as_feeds

    watched = dataclasses.replace(signature, inputs=tuple(
        dataclasses.replace(s, missing=_MISSING_SEEN) if s.elem_type == "string" and s.missing is not None else s
        for s in signature.inputs))
    feeds = as_feeds(data, watched)
    out: dict[str, Any] = {}
    for name, array in feeds.items():
        n = len(array)
        if n == 0:
            continue
        if array.dtype.kind in "fiu":
            flat = array.reshape(n, -1).astype(np.float64)
            flat = np.where(np.isfinite(flat), flat, np.nan)
            with np.errstate(all="ignore"):
                lo = np.nan_to_num(np.nanmin(flat, axis=0), nan=0.0)
                hi = np.nan_to_num(np.nanmax(flat, axis=0), nan=0.0)
            out[name] = (lo, hi)
        elif array.dtype.kind in "OUS":
            out[name] = sorted({str(v) for v in array.reshape(-1).tolist()} - {_MISSING_SEEN})[:1000]
        elif array.dtype.kind == "b":
            out[name] = None
    return out


def _float_elements(
    dtype: np.dtype[Any], lo: float, hi: float, *, allow_nan: bool, allow_infinity: bool, extremes: bool
) -> st.SearchStrategy[float]:
    import numpy as np

    width = {2: 16, 4: 32, 8: 64}[dtype.itemsize]
    info = np.finfo(dtype)
    lo = max(float(lo), -float(info.max))
    hi = min(float(hi), float(info.max))
    if width < 64:  # hypothesis wants bounds exactly representable at that width
        lo_t, hi_t = dtype.type(lo), dtype.type(hi)
        lo = float(np.nextafter(lo_t, dtype.type(np.inf))) if float(lo_t) < lo else float(lo_t)
        hi = float(np.nextafter(hi_t, dtype.type(-np.inf))) if float(hi_t) > hi else float(hi_t)
        if hi < lo:
            lo = hi = float(dtype.type(lo))
    parts: list[st.SearchStrategy[float]] = [_finite(lo, hi, width, info, extremes)]
    if extremes:
        values = [0.0, -0.0, float(info.max), -float(info.max), float(info.tiny), -float(info.tiny),
                  float(info.smallest_subnormal), float(info.eps)]
        parts.append(st.sampled_from(values))
    if allow_nan:
        parts.append(st.just(math.nan))
    if allow_infinity:
        parts.append(st.sampled_from([math.inf, -math.inf]))
    return st.one_of(*parts) if len(parts) > 1 else parts[0]


def _finite(lo: float, hi: float, width: int, info: np.finfo[Any], extremes: bool) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi]; subnormals and -0.0 only with ``extremes`` (or a bound that is one).

    Plain ``st.floats`` draws both, which the documentation lists as extremes. Split at 0 rather than
    mapped: a mapped strategy stops the array strategy filling arrays with one value, and a [1, 784]
    input failed the ``large_base_example`` health check.
    """
    tiny = float(info.tiny)
    subnormal = extremes or any(v != 0 and abs(v) < tiny for v in (lo, hi))
    if extremes or not lo <= 0.0 <= hi:
        return st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False,  # type: ignore[arg-type]
                         allow_subnormal=subnormal)
    parts = [st.floats(0.0, hi + 0.0, width=width, allow_subnormal=subnormal)]  # type: ignore[arg-type]
    top = -float(info.smallest_subnormal) if subnormal else -tiny
    if lo <= top:
        parts.append(st.floats(lo, top, width=width, allow_subnormal=subnormal))  # type: ignore[arg-type]
    return st.one_of(*parts)


def _smallest_normal_as_zero(array: np.ndarray, bounds: Range) -> np.ndarray:
    """``array`` with ±tiny, the smallest normal float, as 0.0 when 0 is in ``bounds``.

    The smallest normal is one of the extremes the documentation lists, drawn only with ``extremes``. Yet
    :func:`_finite`'s negative side ends at -tiny, a bound Hypothesis draws often, and the positive side draws
    +tiny among its "nasty" floats: float32 inputs without ranges held -1.1754944e-38 108 times and +tiny 49
    times in 8601 values. Excluding them in the element strategy (a filter, or sides starting past tiny) either
    stops the array strategy filling arrays with one value or draws the next float instead, as often; so the
    drawn array is corrected, as :func:`_per_column`'s ``place`` does, and a failing example shows the feed.
    """
    import numpy as np

    lo, hi = bounds
    if not lo <= 0.0 <= hi:  # no 0 to put there: the range is the user's
        return array
    tiny = np.finfo(array.dtype).tiny
    return np.where(np.abs(array) == tiny, array.dtype.type(0.0), array)


def _int_elements(dtype: np.dtype[Any], lo: float, hi: float, *, extremes: bool) -> st.SearchStrategy[int]:
    """The whole numbers inside [lo, hi], never rounded outward (rounding outward drew -1 and 10 for bounds
    [-0.9, 9.9], out of an embedding's bounds: a false alarm on a correct model)."""
    import numpy as np

    info = np.iinfo(dtype)
    lo_i = max(math.ceil(lo), int(info.min))
    hi_i = min(math.floor(hi), int(info.max))
    if hi_i < lo_i:
        lo_i = hi_i
    base = st.integers(lo_i, hi_i)
    if extremes:
        return st.one_of(base, st.sampled_from([0, int(info.min), int(info.max)]))
    return base


def _padded(lo: Any, hi: Any) -> Any:
    """``(lo, hi)`` widened by RANGE_PAD of the largest of the span, ``|lo|``, ``|hi|`` and 1 (numbers or arrays)."""
    import numpy as np

    span = np.maximum.reduce([hi - lo, np.abs(hi), np.abs(lo), np.ones_like(lo)]) * RANGE_PAD
    if np.ndim(span) == 0:
        return float(lo - span), float(hi + span)
    return lo - span, hi + span


#: Codes of the unit strategy below beyond [-1, 1]: an extreme value, by index into the extremes list.
_EXTREME_CODE = 2.0


def _per_column(
    dtype: np.dtype[Any], shape: tuple[int, ...], lows: Any, highs: Any, *,
    allow_nan: bool, allow_infinity: bool, extremes: bool, code_columns: Sequence[int] = (),
) -> tuple[st.SearchStrategy[np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """An array whose column ``j`` (of the flattened rows) lies in ``[lows[j], highs[j]]``, drawn as one array.

    Returns the strategy of unit numbers and the function placing them: the caller applies it after the
    draw, so Hypothesis' failing example shows the feed's values (mapped, it showed
    ``place(array([[0.375, 0.375]]))``, the unit numbers).

    One strategy per column (a tuple of them per row) made a [1, 784] image a 784-value example that
    failed Hypothesis' ``large_base_example`` health check, and 100 rows of 64 columns ``data_too_large``.
    Here Hypothesis draws one array of "unit" numbers ``u`` in [-1, 1], filled mostly with one value as
    its array strategy does, and column ``j`` maps ``u`` onto its range: 0 is the column's simplest value
    (0, or the bound nearest it), 1 and -1 its bounds, so shrinking still moves towards 0 and the bounds
    are drawn often. NaN, infinities and the type's extremes are extra codes of ``u``.

    ``code_columns``: the columns holding category codes, kept to their bounds and a missing value's code (NaN, or -1
    for integers, with ``allow_nan``): the type's extremes and infinities there are no codes, and onnxgate refuses
    them (an XGBoost category input drawn the int32 max with ``extremes=True``: a false alarm on a correct model).
    """
    import numpy as np
    from hypothesis.extra import numpy as hnp

    lows = np.asarray(lows, np.float64).reshape(-1)
    highs = np.asarray(highs, np.float64).reshape(-1)
    if dtype.kind == "f":
        info = np.finfo(dtype)
        top = float(info.max)
        lows, highs = np.clip(lows, -top, top), np.clip(highs, -top, top)
        # inside the bounds at the array's precision: a float32 bound rounded outward left the range
        lo_t, hi_t = lows.astype(dtype), highs.astype(dtype)
        lo_t = np.where(lo_t.astype(np.float64) < lows, np.nextafter(lo_t, dtype.type(np.inf)), lo_t)
        hi_t = np.where(hi_t.astype(np.float64) > highs, np.nextafter(hi_t, dtype.type(-np.inf)), hi_t)
        hi_t = np.maximum(hi_t, lo_t)
        lows, highs = lo_t.astype(np.float64), hi_t.astype(np.float64)
        special = ([0.0, -0.0, top, -top, float(info.tiny), -float(info.tiny), float(info.smallest_subnormal),
                    float(info.eps)] if extremes else [])
        special += [math.nan] if allow_nan else []
        special += [math.inf, -math.inf] if allow_infinity else []
    else:
        iinfo = np.iinfo(dtype)
        lows = np.maximum(np.ceil(lows), float(iinfo.min))
        highs = np.maximum(np.minimum(np.floor(highs), float(iinfo.max)), lows)
        special = [0, int(iinfo.min), int(iinfo.max)] if extremes else []
    is_code = np.zeros(len(lows), bool)
    is_code[list(code_columns)] = True
    # per special value, the columns it may go to: NaN any; an integer code column's missing code -1 only those
    # (drawn whatever their observed range, as NaN is); the extremes and infinities every other column
    where = [np.ones(len(lows), bool) if isinstance(v, float) and math.isnan(v) else ~is_code for v in special]
    if dtype.kind != "f" and allow_nan and is_code.any():
        special, where = [*special, -1], [*where, is_code]
    centre = np.clip(0.0, lows, highs)
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
    if special:
        codes = [_EXTREME_CODE + k for k in range(len(special))]
        unit = st.one_of(unit, st.sampled_from(codes))
    per_row = len(lows)
    rows = shape[0] if shape else 1

    def place(u: np.ndarray) -> np.ndarray:
        bound = np.where(u < 0, lows, highs)
        offset = np.abs(np.clip(u, -1.0, 1.0)) * (bound - centre)  # no overflow: each side within the type
        if dtype.kind == "f":
            values = np.clip(centre + offset, lows, highs)
            if not extremes:  # a subnormal, the smallest normal or -0.0 is an extreme: 0 instead
                values = np.where(np.abs(values) <= float(info.tiny), 0.0, values)
                values = np.clip(values, lows, highs) + 0.0
            out = values.astype(dtype)
        else:
            # whole steps: |u| splits the side into equal parts, one per whole number on it
            steps = np.minimum(np.floor(np.abs(np.clip(u, -1.0, 1.0)) * (np.abs(bound - centre) + 1)),
                               np.abs(bound - centre))
            values = np.clip(centre + np.sign(bound - centre) * steps, lows, highs)
            out = _whole(values, dtype)
        for k, value in enumerate(special):
            hit = (u == _EXTREME_CODE + k) & where[k]  # elsewhere left at the bound the clipped number placed
            if hit.any():
                out[hit] = value
        return out.reshape(shape)

    return hnp.arrays(np.float64, (rows, per_row), elements=unit), place


def _whole(values: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Whole numbers held in float64 as ``dtype``; the type's limits exactly (float64 rounds 2**63 - 1 up)."""
    import numpy as np

    iinfo = np.iinfo(dtype)
    out = np.empty(values.shape, dtype=dtype)
    top, bottom = values >= float(iinfo.max), values <= float(iinfo.min)
    middle = ~(top | bottom)
    out[middle] = values[middle].astype(dtype)
    out[top], out[bottom] = iinfo.max, iinfo.min
    return out


def _elements_for(
    spec: TensorSpec,
    column_range: Range | None,
    observed_strings: list[str] | None,
    *,
    allow_nan: bool,
    allow_infinity: bool,
    extremes: bool,
) -> st.SearchStrategy[Any]:
    import numpy as np

    kind = spec.elem_type
    if kind == "string":
        return _text_elements(spec, observed_strings, allow_nan=allow_nan)
    if kind == "bool":
        return st.booleans()
    dtype = np.dtype(kind)
    if spec.categories and dtype.kind in "iu":
        return _category_values(spec, column_range, allow_nan=allow_nan)
    if dtype.kind == "f":
        lo, hi = column_range if column_range is not None else DEFAULT_FLOAT_RANGE
        return _float_elements(dtype, lo, hi, allow_nan=allow_nan, allow_infinity=allow_infinity, extremes=extremes)
    if dtype.kind in "iu":
        lo, hi = column_range if column_range is not None else DEFAULT_INT_RANGE
        return _int_elements(dtype, lo, hi, extremes=extremes)
    raise UnsupportedModelError(
        f"cannot generate values for input {spec.name!r} of element type {kind!r}; supported are float, "
        "int, uint, bool and string tensors",
        input=spec.name,
    )


def _text_elements(spec: TensorSpec, observed: list[str] | None, *, allow_nan: bool) -> st.SearchStrategy[str]:
    """The observed texts (any text without data), and with ``allow_nan`` the text ``spec`` reads a missing value
    as (:attr:`~onnxgate.signature.TensorSpec.missing`); never that text without ``allow_nan`` unless the data
    holds it as a value. An input with no such text is never drawn one: a missing value there is refused."""
    missing = spec.missing
    if observed:  # the observed values only, as documented
        texts: st.SearchStrategy[str] = st.sampled_from(observed)
    elif missing is None:
        texts = st.text(max_size=8)
    else:  # '', Hypothesis' simplest text, is the missing text of a HistGradientBoosting or LightGBM category
        texts = st.text(max_size=8).filter(lambda text: text != missing)
    if allow_nan and missing is not None:
        return st.one_of(texts, st.just(missing))
    return texts


def _category_values(spec: TensorSpec, column_range: Range | None, *, allow_nan: bool) -> st.SearchStrategy[int]:
    """An integer input that reads its categories by value (LightGBM's, :attr:`TensorSpec.categories`): those
    inside ``column_range`` (all of them when none is), and with ``allow_nan`` the integer it reads a missing
    value as. onnxgate refuses any other number there as a category the model was not fitted on."""
    categories = [int(c) for c in spec.categories or ()]
    if column_range is not None:
        categories = [c for c in categories if column_range[0] <= c <= column_range[1]] or categories
    values = st.sampled_from(categories)
    if allow_nan and spec.missing is not None:
        return st.one_of(values, st.just(int(spec.missing)))
    return values


def _check_ranges(signature: Signature, ranges: Any) -> tuple[dict[str, Any], dict[str, Range]]:
    """Split ``ranges`` into observed data (from rows) and explicit ``{input: (lo, hi)}`` bounds."""
    if ranges is None:
        return {}, {}

    def bounds(v: Any) -> bool:  # numpy scalars too: (X.min(), X.max()) of a float32 array are np.float32
        return isinstance(v, tuple) and len(v) == 2 and all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) for x in v)

    if isinstance(ranges, Mapping) and ranges and any(bounds(v) for v in ranges.values()):
        # bounds keyed by the user's own column names (recorded at conversion: 'sepal length (cm)' for the
        # input sepal_length__cm_) bound the inputs made from them, as data keyed by them feeds those inputs
        ranges = signature.columns.to_inputs(dict(ranges))
        odd = {str(k): v for k, v in ranges.items() if not bounds(v)}
        if odd:
            raise InvalidDataError(
                f"ranges gives (low, high) bounds, so every entry must be one; found {odd!r}. Give each input "
                "a (low, high) pair of numbers, or pass rows of data instead"
            )
        unknown = [k for k in ranges if k not in signature.input_names]
        if unknown:
            raise InvalidDataError(
                f"ranges names inputs {unknown} the model does not have; its inputs are {signature.input_names}"
            )
        reversed_ = {str(k): v for k, v in ranges.items() if not float(v[0]) <= float(v[1])}
        if reversed_:
            raise InvalidDataError(f"ranges {reversed_} must be (low, high) with low <= high")
        by_name = {spec.name: spec for spec in signature.inputs}
        empty = {str(k): v for k, v in ranges.items() if by_name[str(k)].elem_type.startswith(("int", "uint"))
                 and math.ceil(float(v[0])) > math.floor(float(v[1]))}
        if empty:
            raise InvalidDataError(f"ranges {empty} hold no whole number, and those inputs are integers")
        return {}, {str(k): (float(v[0]), float(v[1])) for k, v in ranges.items()}
    observed = _observed(signature, ranges)
    if not observed and any(spec.elem_type != "bool" for spec in signature.inputs):
        raise InvalidDataError("ranges holds no rows: pass rows of data (at least one), or (low, high) bounds")
    return observed, {}


def model_inputs(
    signature_or_model: Any,
    *,
    batch_size: int | tuple[int, int] | None = None,
    ranges: Any = None,
    allow_nan: bool = False,
    allow_infinity: bool = False,
    extremes: bool = False,
) -> st.SearchStrategy[dict[str, np.ndarray]]:
    """A Hypothesis strategy of feed dicts a model accepts.

    Parameters
    ----------
    signature_or_model : Signature, onnx.ModelProto, path, bytes or Conversion
        Where the inputs are read from.
    batch_size : int or (min, max), optional
        Rows per draw for inputs with a dynamic batch axis (default ``(1, 5)``). A fixed first
        dimension in the graph always wins.
    ranges : data or mapping, optional
        Rows (array, DataFrame, dict of arrays) whose per-column min and max bound the values
        (plus 10% room for floats; integers stay inside), and whose strings are drawn from; or
        ``{input_name: (lo, hi)}``, keyed by input names or by the user's column names recorded at
        conversion. Default: ``[-1000, 1000]``. An input of category codes draws only its codes (the
        categories they stand for where those are numbers, as onnxgate reads them: an XGBoost pandas category
        column of 10, 20 and 30 draws 10, 20 and 30), an integer input of categories read by value (LightGBM's)
        only its categories.
    allow_nan, allow_infinity : bool
        Also draw NaN / infinities for floating-point inputs (off by default: finite values). ``allow_nan``
        also draws a missing value where an input reads one: the text a text input reads it as
        (:attr:`~onnxgate.signature.TensorSpec.missing`), -1 for an integer input of codes (or of their number
        categories), the integer an input of integer categories reads it as; never for any other text or integer
        input.
    extremes : bool
        Also draw the element type's extremes: 0, -0.0, the largest finite value, the smallest
        normal and subnormal, integer min and max (off: none of -0.0, subnormals or the smallest normal).
        They ignore ``ranges``: an id input of an embedding is fed the int64 min and max, past its table.
        Category inputs keep to their codes or categories (and infinities stay out of them).

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Of ``dict[str, numpy.ndarray]``, one array per input, shaped and typed as the graph says.

    Raises
    ------
    UnsupportedModelError
        An input is not a tensor (a sequence or map) or has an element type with no values to draw.
    InvalidDataError
        ``ranges`` does not fit the model's inputs; ``batch_size`` is not a whole number >= 1 (or a pair); a flag
        is not True or False.

    Examples
    --------
    >>> from hypothesis import given
    >>> from onnxgate.testing.strategies import model_inputs
    >>> @given(model_inputs("model.onnx", ranges=X_train))  # doctest: +SKIP
    ... def test_model_runs(feeds):
    ...     session.run(None, feeds)
    """
    import numpy as np

    for flag, value in (("allow_nan", allow_nan), ("allow_infinity", allow_infinity), ("extremes", extremes)):
        if not isinstance(value, bool):  # allow_nan="no" is true, and drew NaN
            raise InvalidDataError(f"{flag}: expected True or False, found {value!r}")
    signature = _signature(signature_or_model)
    for spec in signature.inputs:
        if not spec.is_tensor:
            raise UnsupportedModelError(
                f"input {spec.name!r} is a {spec.type_str or spec.kind}, not a tensor; model_inputs draws tensors only",
                input=spec.name,
            )
    for spec in signature.inputs:
        if spec.elem_type in ("string", "bool"):
            continue
        try:
            kind: str = np.dtype(spec.elem_type).kind
        except TypeError:  # float8, int4...: no numpy type
            kind = ""
        if kind not in ("f", "i", "u"):
            raise UnsupportedModelError(
                f"cannot generate values for input {spec.name!r} of element type {spec.elem_type!r}; supported "
                "are float, int, uint, bool and string tensors",
                input=spec.name,
            )
    observed, bounds = _check_ranges(signature, ranges)

    def whole(v: Any) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if batch_size is None:
        batch_range: tuple[int, int] = DEFAULT_BATCH_SIZES
    elif whole(batch_size):
        batch_range = (int(batch_size), int(batch_size))  # type: ignore[arg-type]
    elif isinstance(batch_size, (tuple, list)) and len(batch_size) == 2 and all(whole(b) for b in batch_size):
        batch_range = (int(batch_size[0]), int(batch_size[1]))
    else:
        batch_range = (0, 0)
    if batch_range[0] < 1 or batch_range[1] < batch_range[0]:
        raise InvalidDataError(f"batch_size must be a whole number >= 1 or a (min, max) pair of them with "
                               f"min <= max, found {batch_size!r}")

    # a name on any input's first axis is the batch, wherever else it appears ([N,3] and [3,N])
    batch_names = frozenset(spec.shape[0] for spec in signature.inputs if spec.shape and isinstance(spec.shape[0], str))
    # an input of unknown rank is drawn as [batch, 1]: its rows are the batch too
    symbolic: list[str] = ["batch"] if any(spec.shape is None for spec in signature.inputs) else []
    for spec in signature.inputs:
        for axis, dim in enumerate(spec.shape or ()):
            key = _dim_key(spec, axis, dim, batch_names)
            if key is not None and key not in symbolic:
                symbolic.append(key)

    @st.composite
    def draw_feeds(draw: Any) -> dict[str, np.ndarray]:
        sizes: dict[str, int] = {}
        for key in symbolic:
            lo, hi = batch_range if key.startswith("batch") else DEFAULT_OTHER_DIM
            sizes[key] = draw(st.integers(lo, hi), label=f"dim {key}")
        feeds: dict[str, np.ndarray] = {}
        for spec in signature.inputs:
            shape = _concrete_shape(spec, sizes, batch_names)
            dtype = np.dtype(object) if spec.elem_type == "string" else np.dtype(spec.elem_type)
            n_values = int(np.prod(shape)) if shape else 1
            per_row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            seen = observed.get(spec.name)
            strings = seen if isinstance(seen, list) else None
            lows = highs = None
            if isinstance(seen, tuple):
                lows, highs = seen
            elif spec.name in bounds:
                lows = np.full(per_row, bounds[spec.name][0])
                highs = np.full(per_row, bounds[spec.name][1])
            if lows is not None and highs is not None and spec.name not in bounds and dtype.kind == "f":
                lows, highs = _padded(np.asarray(lows, np.float64), np.asarray(highs, np.float64))
            codes = _code_columns(spec, per_row)
            if codes:
                lows, highs = _within_codes(codes, lows, highs, per_row, spec.elem_type, allow_nan=allow_nan)
            if (lows is not None and highs is not None and len(lows) == per_row and spec.elem_type != "bool"
                    and not spec.categories):
                units, place = _per_column(dtype, shape, lows, highs, allow_nan=allow_nan,
                                           allow_infinity=allow_infinity, extremes=extremes, code_columns=list(codes))
                array = place(draw(units, label=spec.name))
                if codes:
                    columns = array.reshape(len(array), -1) if array.ndim else array.reshape(1, -1)
                    if dtype.kind == "f":  # a code is a whole number: 1.5 is no category
                        columns[:, list(codes)] = np.round(columns[:, list(codes)])
                    for position, values in _values_of_codes(spec, dtype, per_row).items():
                        columns[:, position] = _category_values_at(columns[:, position], values)
            else:
                glob = None
                if lows is not None and highs is not None:
                    glob = (float(np.min(lows)), float(np.max(highs)))
                    if dtype.kind == "f" and spec.name not in bounds:
                        glob = _padded(*glob)
                elements = _elements_for(spec, glob, strings, allow_nan=allow_nan,
                                         allow_infinity=allow_infinity, extremes=extremes)
                if spec.elem_type == "string":
                    values = draw(st.lists(elements, min_size=n_values, max_size=n_values), label=spec.name)
                    array = np.asarray(values, dtype=dtype).reshape(shape)
                else:  # an array strategy fills most values with one: a [1,784] image stays a small example
                    from hypothesis.extra import numpy as hnp

                    array = draw(hnp.arrays(dtype, shape, elements=elements), label=spec.name)
                    if dtype.kind == "f" and not extremes:
                        array = _smallest_normal_as_zero(array, glob or DEFAULT_FLOAT_RANGE)
            feeds[spec.name] = array
        return feeds

    return draw_feeds()


def _code_columns(spec: TensorSpec, per_row: int) -> dict[int, int]:
    """The columns of ``spec`` that hold category codes with known categories: ``{position: category count}``."""
    return {int(position): len(categories) for position, categories in spec.codes or ()
            if categories and 0 <= int(position) < per_row}


def _values_of_codes(spec: TensorSpec, dtype: np.dtype[Any], per_row: int) -> dict[int, np.ndarray]:
    """The code columns of ``spec`` whose categories are all numbers ``dtype`` holds: ``{position: categories}``.

    onnxgate reads a plain number there as the category of that value, never as a code (months 1..12: 3 is March,
    not code 3), and refuses one that is none of them (:func:`onnxgate._category_codes.category_codes`): drawn
    its codes 0..2, an XGBoost category column of 10, 20 and 30 had every draw refused. So those columns are
    drawn as codes (shrinking towards the first category) and fed as the categories they stand for; a column of
    text categories keeps its codes, which onnxgate reads as codes.
    """
    import numpy as np

    out: dict[int, np.ndarray] = {}
    for position, categories in spec.codes or ():
        if not categories or not 0 <= int(position) < per_row:
            continue
        if not all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in categories):
            continue
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            if not all(float(c).is_integer() and info.min <= c <= info.max for c in categories):
                continue  # a category the input cannot hold: its codes, as before
        out[int(position)] = np.asarray(categories, dtype=dtype)
    return out


def _category_values_at(codes: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """The categories the codes stand for; a missing value's code (-1, or NaN in a float input) stays as it is:
    onnxgate reads -1, where it is none of the categories, as missing, as pandas' codes do."""
    import numpy as np

    out = codes.copy()
    known = np.isfinite(codes) & (codes >= 0) & (codes < len(categories))
    out[known] = categories[codes[known].astype(np.int64)]
    return out


def _within_codes(codes: Mapping[int, int], lows: Any, highs: Any, per_row: int, elem_type: str, *,
                  allow_nan: bool) -> tuple[Any, Any]:
    """Per-column bounds with each code column kept to its codes: 0..k-1, and -1 (a missing value's code) for an
    integer input with ``allow_nan``. Drawn from the default range, an XGBoost category input was fed code 4 of 4
    categories, which onnxgate refuses as a category value rather than a code: a false alarm on a correct model."""
    import numpy as np

    default = DEFAULT_FLOAT_RANGE if elem_type.startswith("float") else DEFAULT_INT_RANGE
    lows = np.full(per_row, float(default[0])) if lows is None else np.array(lows, np.float64).reshape(-1)
    highs = np.full(per_row, float(default[1])) if highs is None else np.array(highs, np.float64).reshape(-1)
    if len(lows) != per_row:  # bounds of another width: the generic path reports nothing better
        return lows, highs
    floor = -1.0 if allow_nan and not elem_type.startswith("float") else 0.0  # a float input's missing code: NaN
    for position, count in codes.items():
        lo, hi = max(lows[position], floor), min(highs[position], count - 1.0)
        lows[position], highs[position] = (lo, hi) if math.ceil(lo) <= math.floor(hi) else (floor, count - 1.0)
    return lows, highs


def _dim_key(spec: TensorSpec, axis: int, dim: Any, batch_names: frozenset[str] = frozenset()) -> str | None:
    if isinstance(dim, int):
        return None
    if axis == 0 or dim in batch_names:  # every input's rows are the same rows: one batch size per draw
        return "batch"
    return f"dim:{dim}" if isinstance(dim, str) else f"dim:{spec.name}:{axis}"


def _concrete_shape(spec: TensorSpec, sizes: Mapping[str, int], batch_names: frozenset[str] = frozenset()
                    ) -> tuple[int, ...]:
    if spec.shape is None:  # unknown rank: one row of one value is what most graphs accept
        return (sizes.get("batch", 1), 1)
    shape = []
    for axis, dim in enumerate(spec.shape):
        if isinstance(dim, int):
            shape.append(dim)  # a fixed 0 too: the graph takes no other size there
        else:
            key = _dim_key(spec, axis, dim, batch_names)
            shape.append(sizes[key] if key is not None else 1)
    return tuple(shape)

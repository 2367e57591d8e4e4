"""QuantileTransformer, both output distributions, written as scikit-learn's ``_transform_col`` computes
each column, in place of skl2onnx's converter.

skl2onnx refused ``output_distribution="normal"`` ("Conversion of QuantileTransformer with
output_distribution='normal' is not supported"), and its uniform output set a value equal to both ends of a
constant column to 1 where scikit-learn gives 0 (digits' blank pixel columns: 5,391 values off by 1.0).

Each column, as scikit-learn does it:

* ``u = 0.5 * (interp(x, q, r) - interp(-x, -q[::-1], -r[::-1]))``, ``q`` the column's quantiles, ``r``
  the references (``numpy.interp`` both ways: a value equal to repeated quantiles gets the middle of
  their references). Each ``interp`` is numpy's: the segment is the count of quantiles at or below the
  value (a binary search over a table padded to a power of two with ``+inf``), then
  ``slope * (x - q[j]) + r[j]`` with numpy's slope, below ``q[0]`` ``r[0]``, from ``q[-1]`` on ``r[-1]``.
* The ends: uniform, a value equal to ``q[0]`` is 0 and one equal to ``q[-1]`` is 1; normal, one with
  ``x - 1e-7 < q[0]`` is 0 and one with ``x + 1e-7 > q[-1]`` is 1 (``x ± 1e-7`` in the rows' type);
  the low end wins when both hold.
* Normal: ``norm.ppf(u)`` clipped to ``norm.ppf(1e-7 - eps)`` and ``norm.ppf(1 - (1e-7 - eps))``. ONNX
  has no inverse normal CDF: it is Wichura's AS241 (PPND16), within 4e-15 of scipy's ``ndtri`` wherever
  the clip leaves it a say (``u`` in ``[5e-8, 1 - 5e-8]``, where AS241's third branch is never needed).
* A NaN stays NaN.

Everything is computed in double, as scikit-learn does (its quantiles are float64): on float32 rows
``x ± 1e-7`` is taken in float32 and ``u`` rounded to float32 before the ppf, as scikit-learn's in-place
float32 column holds them, and the answer is cast to float32 at the end.

A float32 graph places each row among the quantiles rounded to float32 (the segment, the ends, the 1e-7
bounds; :func:`float32_places`), then draws numpy's line from the float64 quantile that starts it: a row
is a user's float64 value rounded, and one equal to a quantile is that quantile. Compared with the float64
quantiles, a float64 row equal to repeated ones (diabetes' ``sex``: two values) landed beside them once
rounded, and the answer jumped from their middle to an end: 0.51 off on 111 of 111 diabetes rows (a Ridge
behind it 13.1 off). Those rows are exact now; what is left is two quantiles float32 cannot tell apart
(numpy's percentile puts one 1e-14 above a training value), whose middle is taken: half a reference step,
as in skl2onnx's float32 graph. On float32 rows of a model fitted on float64 ones scikit-learn answers
beside the repeated quantiles, so the file is that far from it there. Fitted on float32 rows, a quantile
float32 holds stays as it is, as does one rounding onto it, so float32 rows answer as in scikit-learn.

A TransformedTargetRegressor with a QuantileTransformer has its ``inverse_transform`` written after its
regressor (:func:`inverse_quantiles`): ``norm.cdf`` of the answer (normal), the same ends, and
``numpy.interp`` from the references back to the quantiles."""

from __future__ import annotations

from typing import Any

#: scikit-learn's ``BOUNDS_THRESHOLD``: how close to an end of the fitted range a value is taken as that end
#: (output_distribution="normal" only).
BOUNDS_THRESHOLD = 1e-7

#: Wichura's AS241 (PPND16) coefficients, lowest power first: ``q * A(r) / B(r)`` with ``r = 0.180625 - q^2``
#: for ``|p - 0.5| <= 0.425``; ``C(s) / D(s)`` with ``s = sqrt(-log(min(p, 1 - p))) - 1.6`` beyond (signed
#: as ``p - 0.5``). Applied Statistics 37 (1988), 477-484.
AS241_A = (3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
           1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
           3.3430575583588128105e+4, 2.5090809287301226727e+3)
AS241_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
           2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
           5.2264952788528545610e+3)
AS241_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
           3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
           2.27238449892691845833e-2, 7.74545014278341407640e-4)
AS241_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
           1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
           1.05075007164441684324e-9)


def register_quantile_transformer() -> None:
    """Register :func:`convert_quantile_transformer` in place of skl2onnx's, once."""
    from onnxgate.converters._skl2onnx_fixes import _replace, _replaceable

    original = _replaceable("SklearnQuantileTransformer", "_onnxgate_quantiles")
    if original is not None:
        _replace("SklearnQuantileTransformer", "_onnxgate_quantiles", original, convert_quantile_transformer)


def convert_quantile_transformer(scope: Any, operator: Any, container: Any) -> None:
    """QuantileTransformer's ``transform`` (module docstring), uniform or normal."""
    import numpy as np
    from onnx import TensorProto

    from onnxgate.converters._sklearn_extra import GraphWriter, graph_dtype, input_matrix

    model = operator.raw_operator
    dtype = graph_dtype(operator)
    double = dtype == np.float64
    w = GraphWriter(scope, container, np.float64)
    x = input_matrix(scope, operator, container)  # the graph's float type
    wide = x if double else w.node("Cast", x, to=TensorProto.DOUBLE)
    quantiles = np.asarray(model.quantiles_, dtype=np.float64)
    references = np.asarray(model.references_, dtype=np.float64)
    if len(references) == 1:  # fitted on one row: numpy's interp answers r[0] everywhere, as two equal points do
        quantiles, references = np.repeat(quantiles, 2, axis=0), np.repeat(references, 2)

    placed = quantiles if double else float32_places(quantiles)
    levels = np.repeat(references[:, None], quantiles.shape[1], axis=1)  # the same for each column
    upward = _interp(w, wide, quantiles, levels, None if double else placed)
    downward = _interp(w, w.node("Neg", wide), -quantiles[::-1], -levels[::-1], None if double else -placed[::-1])
    value = w.node("Mul", w.node("Sub", upward, downward), w.const(0.5))
    if not double:  # scikit-learn writes it into the float32 column
        value = w.node("Cast", w.node("Cast", value, to=TensorProto.FLOAT), to=TensorProto.DOUBLE)

    low_end, high_end = w.const(placed[:1]), w.const(placed[-1:])
    if model.output_distribution == "normal":
        native = GraphWriter(scope, container, dtype)  # x -/+ 1e-7 in the rows' own type
        threshold = native.const(BOUNDS_THRESHOLD)

        def shifted(op: str) -> str:
            moved = native.node(op, x, threshold)
            return moved if double else w.node("Cast", moved, to=TensorProto.DOUBLE)

        below, above = w.node("Less", shifted("Sub"), low_end), w.node("Greater", shifted("Add"), high_end)
    else:
        below, above = w.node("Equal", wide, low_end), w.node("Equal", wide, high_end)
    value = w.node("Where", below, w.const(0.0), w.node("Where", above, w.const(1.0), value))

    if model.output_distribution == "normal":
        from scipy import stats

        # scikit-learn clips ppf's answer (-inf at 0, inf at 1) to these
        edge = BOUNDS_THRESHOLD - np.spacing(1)
        clip_min, clip_max = (float(v) for v in stats.norm.ppf([edge, 1 - edge]))
        inside = w.node("Min", w.node("Max", value, w.const(edge / 2)), w.const(1 - edge / 2))
        value = w.node("Min", w.node("Max", normal_ppf(w, inside), w.const(clip_min)), w.const(clip_max))
    if not double:
        value = w.node("Cast", value, to=TensorProto.FLOAT)
    w.node("Where", w.node("IsNaN", x), x, value, out=operator.outputs[0].full_name)


def float32_places(quantiles: Any) -> Any:
    """Where a float32 graph places each row among the ``[n, F]`` float64 ``quantiles`` (module docstring):
    each quantile rounded to float32, unless that float32 value is itself one of its column's quantiles (a
    model fitted on float32 rows: numpy's percentile puts one quantile 1e-14 above a training value, which a
    row equal to that value stays below, as in scikit-learn)."""
    import numpy as np

    rounded = quantiles.astype(np.float32).astype(np.float64)
    held = np.stack([np.isin(rounded[:, j], quantiles[:, j]) for j in range(quantiles.shape[1])], axis=1)
    return np.where(held, quantiles, rounded)


def _interp(w: Any, x: str, xp: Any, fp: Any, placed: Any = None) -> str:
    """``numpy.interp(x[:, j], xp[:, j], fp[:, j])`` for each column ``j`` of the ``[N, F]`` double ``x``
    (``xp`` and ``fp`` ``[n, F]``, each ``xp`` column non-decreasing, ``n >= 2``), as numpy computes it:
    ``j`` the count of ``xp`` at or below the value, less one, then ``slope[j] * (x - xp[j]) + fp[j]``;
    ``fp[0]`` below ``xp[0]``, ``fp[-1]`` from ``xp[-1]`` on. A NaN gives some number (the caller puts the
    NaN back).

    ``placed`` (``xp`` rounded to float32, for float32 rows) counts the points at or below the value, and
    the ends, in place of ``xp``: a row equal to a point in float32 is taken as that point. The line is
    still ``xp``'s, from its start on (``x - xp[j]`` at least 0, so a point float32 rounded down to the
    row answers its own ``fp``)."""
    import numpy as np

    n, width = xp.shape
    placed = xp if placed is None else placed
    size = 1 << n.bit_length()  # a power of two above n: the count is read bit by bit, highest first
    table = np.full((width, size), np.inf)
    table[:, :n] = placed.T
    # one -inf first, so that the entry before a column's first (read at count 0, then discarded) exists
    flat = w.const(np.concatenate([[-np.inf], table.reshape(-1)]))
    base = (np.arange(width, dtype=np.int64) * size)[None, :]

    def at_or_below(found: str) -> str:
        return w.node("Not", w.node("Greater", found, x))

    step = size // 2
    count = w.node("Where", at_or_below(w.const(table[None, :, step - 1])), w.const(step, np.int64),
                   w.const(0, np.int64))
    while step > 1:
        step //= 2
        found = w.node("Gather", flat, w.node("Add", count, w.const(base + step, np.int64)), axis=0)
        count = w.node("Where", at_or_below(found), w.node("Add", count, w.const(step, np.int64)), count)

    # slopes[c]: the segment from xp[c - 1] to xp[c], read at count c (numpy's (fp[j+1]-fp[j])/(xp[j+1]-xp[j]))
    slopes = np.zeros((width, size))
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
    slopes[:, 1:n] = np.where(xp[1:] > xp[:-1], rising, 0.0).T  # a flat step is never the segment of a value
    starts = np.zeros((width, size))
    starts[:, 1:n] = fp[:-1].T
    index = w.node("Add", count, w.const(base, np.int64))
    slope = w.node("Gather", w.const(slopes.reshape(-1)), index, axis=0)
    if placed is xp:
        offset = w.node("Sub", x, w.node("Gather", flat, index, axis=0))  # x - xp[count - 1]
    else:
        table[:, :n] = xp.T
        start_x = w.node("Gather", w.const(np.concatenate([[-np.inf], table.reshape(-1)])), index, axis=0)
        offset = w.node("Max", w.node("Sub", x, start_x), w.const(0.0))
    start_y = w.node("Gather", w.const(starts.reshape(-1)), index, axis=0)
    line = w.node("Add", w.node("Mul", slope, offset), start_y)
    last = w.node("Where", w.node("Less", x, w.const(placed[-1:])), line, w.const(fp[-1:]))
    return w.node("Where", w.node("Less", x, w.const(placed[:1])), w.const(fp[:1]), last)


def normal_ppf(w: Any, p: str) -> str:
    """The standard normal quantile of the double ``p``, Wichura's AS241 (:data:`AS241_A`), for ``p`` in
    ``[5e-8, 1 - 5e-8]`` (beyond ``exp(-25)`` AS241 has a third branch, not written)."""
    q = w.node("Sub", p, w.const(0.5))

    def poly(coefficients: tuple[float, ...], r: str) -> str:  # Horner, highest power first
        value = w.const(coefficients[-1])
        for c in coefficients[-2::-1]:
            value = w.node("Add", w.node("Mul", value, r), w.const(c))
        return value

    r = w.node("Sub", w.const(0.180625), w.node("Mul", q, q))
    central = w.node("Div", w.node("Mul", q, poly(AS241_A, r)), poly(AS241_B, r))
    nearer = w.node("Min", p, w.node("Sub", w.const(1.0), p))
    s = w.node("Sub", w.node("Sqrt", w.node("Neg", w.node("Log", nearer))), w.const(1.6))
    tail = w.node("Div", poly(AS241_C, s), poly(AS241_D, s))
    signed = w.node("Where", w.node("Less", q, w.const(0.0)), w.node("Neg", tail), tail)
    return w.node("Where", w.node("Greater", w.node("Abs", q), w.const(0.425)), signed, central)


class _ProtoWriter:
    """:class:`~onnxgate.converters._sklearn_extra.GraphWriter`'s ``const`` and ``node``, appending to a
    finished graph (a TransformedTargetRegressor's inverse is written after skl2onnx is done)."""

    def __init__(self, graph: Any, prefix: str) -> None:
        from onnxgate._graph import model_names

        self.graph, self.prefix, self.taken = graph, prefix, model_names(graph)

    def const(self, value: Any, dtype: Any = None, name: str = "const") -> str:
        import numpy as np
        from onnx import numpy_helper

        from onnxgate._graph import unique_name

        tensor = unique_name(f"{self.prefix}_{name}", self.taken)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=dtype or np.float64), tensor))
        return tensor

    def node(self, op: str, *inputs: str, out: str | None = None, **attributes: Any) -> str:
        from onnx import helper

        from onnxgate._graph import unique_name

        result = out or unique_name(f"{self.prefix}_{op.lower()}", self.taken)
        self.graph.node.append(helper.make_node(op, list(inputs), [result],
                                                name=unique_name(f"{self.prefix}_{op}", self.taken), **attributes))
        return result


def inverse_quantiles(proto: Any, name: str, transformer: Any) -> None:
    """Graph output ``name`` (``[N, F]``, a TransformedTargetRegressor's regressor's answer) put through
    ``transformer.inverse_transform`` (a fitted QuantileTransformer), as scikit-learn's ``_transform_col``
    does it, in double: normal, ``p = norm.cdf(y)`` (``0.5 + 0.5 * erf(y / sqrt(2))``, each double ``Erf``
    then written as :func:`onnxgate._graph.double_erf`'s formula: onnxruntime has no double one), the low
    end ``q[0]`` where ``p - 1e-7 < 0``, the high one ``q[-1]`` where ``p + 1e-7 > 1``; uniform, ``p = y``,
    the ends where ``p`` is 0 or 1; between, ``numpy.interp(p, references, q)``. A NaN stays NaN."""
    import numpy as np
    from onnx import TensorProto

    from onnxgate._graph import double_erf, redirect_output, unique_name

    w = _ProtoWriter(proto.graph, f"{name}_quantiles")
    kind = next(o for o in proto.graph.output if o.name == name).type.tensor_type.elem_type
    y = unique_name(f"{name}_transformed", w.taken)  # the regressor's answer, which was the output
    redirect_output(proto.graph, name, y)
    wide = y if kind == TensorProto.DOUBLE else w.node("Cast", y, to=TensorProto.DOUBLE)
    quantiles = np.asarray(transformer.quantiles_, dtype=np.float64)
    references = np.asarray(transformer.references_, dtype=np.float64)
    if len(references) == 1:
        quantiles, references = np.repeat(quantiles, 2, axis=0), np.repeat(references, 2)
    if transformer.output_distribution == "normal":
        erf = w.node("Erf", w.node("Mul", wide, w.const(np.sqrt(0.5))))
        p = w.node("Add", w.const(0.5), w.node("Mul", w.const(0.5), erf))
        below = w.node("Less", w.node("Sub", p, w.const(BOUNDS_THRESHOLD)), w.const(0.0))
        above = w.node("Greater", w.node("Add", p, w.const(BOUNDS_THRESHOLD)), w.const(1.0))
    else:
        p = wide
        below, above = w.node("Equal", p, w.const(0.0)), w.node("Equal", p, w.const(1.0))
    levels = np.repeat(references[:, None], quantiles.shape[1], axis=1)
    value = _interp(w, p, levels, quantiles)
    value = w.node("Where", below, w.const(quantiles[:1]), w.node("Where", above, w.const(quantiles[-1:]), value))
    if kind != TensorProto.DOUBLE:
        value = w.node("Cast", value, to=kind)
    w.node("Where", w.node("IsNaN", y), y, value, out=name)
    double_erf(proto)

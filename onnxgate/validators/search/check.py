"""Adversarial parity search: go and find the rows where the ONNX model and the reference disagree.

Parity on the user's rows, or on uniform random rows, misses divergences that live in a sliver of
the input space: a float64 value that rounds across a float32 tree threshold, a zero, a huge
magnitude, a NaN. :func:`check_search_divergences` spends a bounded budget of candidate rows (each
evaluated on both models) and a time limit, seeded, in four phases (five where the reference takes float64
values the file's float32 input rounds):

``float64_splits``
    Only where the file reads float32 and a native reference is given the user's float64 values (as parity
    gives them, :func:`onnxgate.validators.parity.users_values_signature`): for every mapped split, the float64
    values either side of where the file's input rounds across its threshold, given to the reference as float64
    and to the file rounded; a float64 model's own threshold lies elsewhere, so one of the two takes the other
    branch in the file (a HistGradientBoosting model of 6-decimal GPS rows converted with a float32 sample).
``tree_splits``
    Every ``(feature, threshold)`` split of the graph's ``TreeEnsemble*`` nodes, mapped back to the
    raw input through ``Scaler`` / ``Cast`` / elementwise constant nodes, bracketed and bisected from
    the data rows that reach the split.
``boundaries``
    Along each feature, from real rows, a grid over the data's range locates where the ONNX output
    jumps; bisection in the input's own floating-point type narrows each jump down to adjacent
    values, comparing both models at every step, so a reference whose jump sits elsewhere is caught
    on the rows in between.
``edges``
    One feature at a time: zeros, signed zeros, the data's min/max and beyond, large and small
    magnitudes, and NaN/infinity when the target allows them; each text input set to a value the data
    does not hold and to the empty string, in a few data rows.
``hypothesis``
    A Hypothesis search (optional dependency) whose property is "the two models agree on this row",
    over the data's observed ranges; a failure shrinks to a small, readable row.

Rows are compared with the parity rule: an element fails when ``abs > atol`` and ``rel > rtol``
(labels exact). A label flip exactly on a probability tie (both models' probabilities agree within
tolerance and the reference's top two are within tolerance of each other) is counted as a tie, not a
divergence: no two floating-point implementations agree there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from onnxgate.conversion import Conversion
from onnxgate.validators.report import CheckResult
from onnxgate.validators.rule import describe_row_evidence
from onnxgate.validators.search.engine import BudgetExhausted, RowCountError, Searcher
from onnxgate.validators.search.explain import explain, minimise, narrow_reading, split_position
from onnxgate.validators.search.phases import (
    edge_share,
    phase_boundaries,
    phase_edges,
    phase_float64_splits,
    phase_hypothesis,
    phase_tree_splits,
)
from onnxgate.validators.search.settings import (
    CHECK_NAME,
    DEFAULT_BUDGET,
    MAX_MINIMISED,
    MINIMISE_RESERVE,
    PHASE_SHARES,
    Tolerance,
    check_search_settings,
)
from onnxgate.validators.search.space import Space, make_space
from onnxgate.validators.search.trees import TreeSplit, tree_splits

if TYPE_CHECKING:
    from onnxgate.targets import Target

__all__ = ["check_search_divergences"]


def check_search_divergences(
    model: Any,
    reference: Any,
    data: Any,
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    atol: Tolerance = None,
    rtol: Tolerance = None,
    target: str | Target | None = None,
    time_limit: float | None = None,
    allow_nan: bool | None = None,
    text_variants: bool = True,
) -> CheckResult:
    """Search for rows where the ONNX model and the reference disagree beyond tolerance.

    Parameters
    ----------
    model : onnx.ModelProto, path, bytes or Conversion
        The ONNX model.
    reference : object
        The native model (scikit-learn, PyTorch, Keras, TensorFlow). ``None`` uses
        ``model.source`` for a Conversion.
    data : array-like, DataFrame or dict
        Real rows the search starts from; their ranges bound the search.
    budget : int
        Candidate rows to try, each evaluated on both models.
    seed : int
        Seeds every random choice; the same seed repeats the same search.
    atol, rtol : float or mapping, optional
        Tolerances (per output with a ``""`` default); the reference converter's defaults otherwise.
    target : str or Target, optional
        The explanation of a tree flip checks the target's ai.onnx.ml opset cap; the target's
        ``allow_nan`` is the default of ``allow_nan``.
    time_limit : float, optional
        Seconds; the search stops when it is reached even if budget remains.
    allow_nan : bool, optional
        Try NaN and infinity as input values. Frameworks disagree on them (a TensorFlow ReLU may map
        NaN to 0 on one CPU and keep it on another, scikit-learn forests route NaN down a learned
        branch), so a search that must give the same verdict everywhere passes ``False``. Default:
        what the target's inputs can hold (``Target.allow_nan``; SQL float columns hold no NaN; the
        ``container`` target's package takes NaN only in the inputs a NaN-aware node reads or the data
        holds NaN in, and only those are tried), and ``True`` without a target.
        ``details["nan_and_inf_tried"]`` records the choice (``nan_and_inf_tried_in``: the inputs, for
        the container's rule).
    text_variants : bool
        Also try each text input with the row's own text with an 'é' after each word (the default); False for a
        model that only ever scores text like the data's (ASCII text by contract).

    Returns
    -------
    CheckResult
        ``name="search_divergences"``. ``details`` holds ``seed``, ``budget``, ``rows_tried``,
        ``time_s``, ``time_to_first_divergence_s``, ``rows_to_first_divergence``, per-phase counts,
        ``tree_splits`` and ``divergences`` (each: the row, the outputs that diverged and by how
        much, the phase that found it, an explanation when one applies, and ``split``: the nearest tree
        split on the divergent feature, ``{node, tree_id, node_id, mode, raw_threshold, value, distance}``,
        or null).

    Raises
    ------
    InvalidDataError
        The data does not fit the model's inputs.

    Examples
    --------
    >>> import onnxgate as og
    >>> model, X, y = og.zoo.get("sklearn-planted-scaler-tree").build()  # doctest: +SKIP
    >>> conv = og.convert(model, X)  # doctest: +SKIP
    >>> result = check_search_divergences(conv, model, X, budget=2000, seed=0)  # doctest: +SKIP
    >>> bool(result)  # doctest: +SKIP
    False
    """
    import numpy as np

    from onnxgate import runtime
    from onnxgate._data import as_feeds, float32_rows, read_rows, slice_feeds
    from onnxgate._onnx import load_model, runnable
    from onnxgate.errors import InvalidDataError, ParityError
    from onnxgate.signature import Signature
    from onnxgate.targets import resolve
    from onnxgate.validators.parity import scalar_inputs_finding
    from onnxgate.validators.reference import inputs_the_file_lacks, prepare_reference

    check_search_settings(seed, time_limit)
    if reference is None and isinstance(model, Conversion):
        reference = model.source
    if reference is None:
        return CheckResult.skip(CHECK_NAME, "no reference model to compare with: pass reference=")
    if data is None:
        return CheckResult.skip(CHECK_NAME, "no data to start the search from: pass data=")
    tgt = resolve(target, default=None)
    container_default = allow_nan is None and tgt is not None and tgt.name == "container" and tgt.allow_nan
    if allow_nan is None:
        allow_nan = tgt.allow_nan if tgt is not None else True
    elif not isinstance(allow_nan, bool):
        raise InvalidDataError(f"allow_nan: expected True, False or None, found {allow_nan!r}")
    if not isinstance(text_variants, bool):
        raise InvalidDataError(f"text_variants: expected True or False, found {text_variants!r}")
    budget = int(budget)
    if budget <= 0:
        return CheckResult.skip(CHECK_NAME, f"search budget is {budget}: nothing to try")
    data = read_rows(data)
    proto = load_model(model)
    signature = Signature.from_model(proto)
    scalar_inputs = scalar_inputs_finding(signature)
    if scalar_inputs is not None:  # generated rows have no batch axis to go on (parity says the same)
        return CheckResult(CHECK_NAME, False, f"the search was not run: {scalar_inputs}", {"error": scalar_inputs})
    lacking = inputs_the_file_lacks(reference, signature, data)
    if lacking is not None:  # parity says the same: the file lacks an input, no row can be compared
        return CheckResult(CHECK_NAME, False, f"the search was not run: {lacking}", {"error": lacking})
    feeds = as_feeds(data, signature)
    from onnxgate.adaptation.mapping import boolean_columns
    from onnxgate.validators.known_values import known_text_values

    space = make_space(signature, feeds, boolean_columns(proto), text_variants=text_variants,
                       known=known_text_values(reference, proto, feeds), known_limit=budget)
    nan_features: bool | list[bool] = allow_nan
    if container_default:
        # the container service takes NaN only in the inputs its package accepts it in (a NaN-aware node reads
        # them, or the data holds NaN there): NaN rows elsewhere failed correct files on answers no request can
        # reach, the service refusing them with a 400 (helper-86)
        from onnxgate._graph import reaches_nan_aware_node

        takes = {name for name, values in feeds.items()
                 if np.asarray(values).dtype.kind == "f"
                 and (reaches_nan_aware_node(proto, name) or bool(np.isnan(np.asarray(values)).any()))}
        nan_features = [name in takes for name, _ in space.features]
    try:
        session = runtime.session(runnable(proto), spinning=False)  # runs alternate with the reference's
    except Exception as err:  # parity reports the same refusal; the search has nothing to run
        return CheckResult(
            CHECK_NAME, False,
            f"onnxruntime cannot load the model, so the search was not run: {type(err).__name__}: {err}",
            {"error": f"{type(err).__name__}: {err}"},
        )
    from onnxgate.adaptation.mapping import outputs_off_record

    off_record = outputs_off_record(proto)
    if off_record is not None:  # parity fails on it too: the reference's outputs cannot be laid out
        return CheckResult(CHECK_NAME, False, f"the search was not run: {off_record}", {"error": off_record})
    scalars = [o.name for o in signature.outputs if o.kind == "tensor" and o.shape is not None and len(o.shape) == 0]
    if scalars:
        # one value for the whole batch: no row's answer to compare (the search crashed on it; helper-86)
        batchless = (f"output(s) {scalars} hold one value for the whole batch, not one per row, so generated rows "
                     "cannot be compared one by one (outputs_one_value_per_row says so)")
        return CheckResult(CHECK_NAME, False, f"the search was not run: {batchless}", {"error": batchless})
    from onnxgate.validators.tolerances import model_tolerances, reference_reads_float32

    rows_float32 = float32_rows(data)
    from onnxgate.validators.reference import float32_rounding_shows

    tolerances = model_tolerances(proto, signature.outputs, atol, rtol, reference_float32=reference_reads_float32(
        reference, signature.inputs, rows_float32,
        lambda: float32_rounding_shows(reference, proto, signature, data)))
    reference_fn = prepare_reference(reference, proto, signature, float32_rows=rows_float32)
    try:
        reference_fn(slice_feeds(feeds, 0, 1))
    except ParityError as err:  # parity fails on it too: the two models' outputs do not correspond
        return CheckResult(CHECK_NAME, False, f"the search was not run: {err}", {"error": str(err)})
    except Exception:  # a row the reference refuses: the search counts those itself
        pass
    from onnxgate.validators.parity import users_values_signature
    from onnxgate.validators.ties import prepare_tie_resolver

    searcher = Searcher(
        session, proto, signature, space, lambda feeds: list(reference_fn(feeds)),
        budget=budget, time_limit=time_limit, tolerances=tolerances,
        resolve_ties=prepare_tie_resolver(reference, proto, signature, tolerances),
        # as parity does: a native reference answers the user's float64 values, which the file's float32
        # input rounds (the float64_splits phase tries such values next to the splits)
        wide=not rows_float32 and users_values_signature(reference, signature) is not None,
    )
    rng = np.random.default_rng(seed)
    try:
        splits = tree_splits(proto)
    except Exception:  # an unusual tree encoding must not stop the other phases
        splits = []
    skipped: dict[str, str] = {}
    reserve = min(MINIMISE_RESERVE, budget // 10)
    # (phase, share of the budget, run); the boundary search comes back for whatever is left.
    phases: list[tuple[str, float, Callable[[], Any]]] = [
        *([("float64_splits", PHASE_SHARES["float64_splits"], lambda: phase_float64_splits(searcher, splits, rng))]
          if searcher.wide else []),
        ("tree_splits", PHASE_SHARES["tree_splits"], lambda: phase_tree_splits(searcher, splits, rng)),
        # without a number to vary, no other phase has a row to try: the text rows may have the whole budget
        ("edges", edge_share(budget, space.d) if space.d else 1.0, lambda: phase_edges(searcher, rng, nan_features)),
        ("boundaries", PHASE_SHARES["boundaries"], lambda: phase_boundaries(searcher, rng)),
        ("hypothesis", PHASE_SHARES["hypothesis"], lambda: phase_hypothesis(searcher, seed, allow_nan)),
        ("boundaries", 1.0, lambda: phase_boundaries(searcher, rng)),
    ]
    with np.errstate(all="ignore"):
        try:
            for name, share, run in phases:
                searcher.phase = name
                # a reserve is kept for turning the first divergent rows into their minimal form
                searcher.phase_limit = min(searcher.rows_tried + max(int(budget * share), 1), budget - reserve)
                if searcher.exhausted():
                    if name not in searcher.phase_rows:
                        skipped[name] = "budget or time limit reached"
                    continue
                started = searcher.elapsed()
                try:
                    why = run()
                except BudgetExhausted:
                    why = None
                searcher.phase_time[name] = searcher.phase_time.get(name, 0.0) + searcher.elapsed() - started
                if why:
                    skipped[name] = why
            if not searcher.divergences and reserve:
                # nothing to minimise: the reserve goes back to the boundary search, so a budget of N tries N rows
                searcher.phase, searcher.phase_limit = "boundaries", budget
                if not searcher.exhausted():
                    started = searcher.elapsed()
                    with contextlib.suppress(BudgetExhausted):
                        phase_boundaries(searcher, rng)
                    searcher.phase_time["boundaries"] = (searcher.phase_time.get("boundaries", 0.0)
                                                         + searcher.elapsed() - started)
            searcher.phase = "minimise"
            searcher.phase_limit = budget
            started = searcher.elapsed()
            for div in searcher.divergences[:MAX_MINIMISED]:
                try:
                    minimise(searcher, div)
                except BudgetExhausted:
                    break
            searcher.phase_time["minimise"] = searcher.elapsed() - started
            alone = _agrees_alone(searcher) if searcher.divergences else False
        except RowCountError as err:  # parity fails on it too, naming the rows each output answers
            return CheckResult(CHECK_NAME, False, f"the search was not run: {err}", {"error": str(err)})
    for div in searcher.divergences:
        div.explanation = explain(div, space, splits, tgt)
    result = _result(
        searcher, space, splits, seed=seed, budget=budget, time_limit=time_limit, skipped=skipped,
        allow_nan=nan_features,
    )
    if not alone:
        return result
    moves = [e for e in searcher.divergences[0].outputs if "abs_diff" in e and e.get("atol")]
    if moves and all(e["abs_diff"] <= ROUNDING_SIZED * e["atol"] for e in moves):
        # a GaussianProcessClassifier in float32: 0.904175 alone, 0.904053 in a batch, scikit-learn the same
        # both ways; "the model reads the whole batch" sent the user looking for a batch statistic (helper-89)
        why = (f"onnxruntime's answer for it moves with the batch by a rounding-sized amount (abs="
               f"{max(e['abs_diff'] for e in moves):.2g}, within {ROUNDING_SIZED} x atol): its kernels sum in "
               "another order at another batch size, enough here to cross the tolerance, so a service or PREDICT "
               "answers that row within that much of the reference, depending on its batch. If that is "
               "acceptable, pass a wider atol/rtol for this output")
    else:
        why = ("the answers depend on the other rows of the batch (the model reads the whole batch, e.g. a "
               "condition on x.max() or a batch statistic), so a service or PREDICT, batching rows otherwise, "
               "answers otherwise")
    return CheckResult(
        CHECK_NAME, False, f"{result.message}; scored alone, that row agrees: {why}",
        {**result.details, "first_row_agrees_alone": True},
    )


#: A divergence within this many times atol whose row agrees alone is put down to the kernels' arithmetic order.
ROUNDING_SIZED = 10


def _agrees_alone(searcher: Searcher) -> bool:
    """Whether the first divergent row, scored alone by both models, agrees: its divergence came from the
    rows beside it in the batch (a traced ``if x.max() > 2.5`` took the other branch for the whole batch,
    and the row reported, itself inside the data's range, did not diverge on its own). Outside the budget:
    one row, once."""
    import numpy as np

    lead = searcher.divergences[0]
    feeds = searcher.space.build(lead.x[None], np.asarray([lead.base]))
    try:
        ours = searcher.run_onnx(feeds)
        theirs = searcher.reference_fn(
            searcher.space.build(lead.x[None], np.asarray([lead.base]), wide=True) if lead.wide else feeds)
        bad, _, _ = searcher.compare(theirs, ours, 1)
    except Exception:
        return False  # alone it fails (a fixed batch size): nothing to say of the batch
    return not bool(bad[0])


def _result(
    searcher: Searcher,
    space: Space,
    splits: list[TreeSplit],
    *,
    seed: int,
    budget: int,
    time_limit: float | None,
    skipped: Mapping[str, str],
    allow_nan: bool | list[bool],
) -> CheckResult:
    divergences = [
        {
            "row": space.row_dict(d.x, d.base, wide=d.wide),
            "feature": None if d.feature is None else space.feature_name(d.feature),
            "phase": d.strategy,
            "outputs": d.outputs,
            "explanation": d.explanation,
            "split": split_position(d, space, splits),
            "found_after_s": round(d.elapsed, 4),
            "found_after_rows": d.rows_tried,
            **({"file_reads": space.row_dict(d.x, d.base)} if d.wide else {}),
        }
        for d in searcher.divergences
    ]
    mapped = sum(1 for s in splits if s.raw_threshold is not None)
    details: dict[str, Any] = {
        "seed": seed,
        "budget": budget,
        "time_limit_s": time_limit,
        "rows_tried": searcher.rows_tried,
        "time_s": round(searcher.elapsed(), 4),
        "divergent_rows": searcher.n_divergent,
        "time_to_first_divergence_s": None if searcher.first_elapsed is None else round(searcher.first_elapsed, 4),
        "rows_to_first_divergence": searcher.first_rows,
        "phases": {
            name: {"rows": searcher.phase_rows.get(name, 0), "divergent": searcher.phase_found.get(name, 0),
                   "time_s": round(searcher.phase_time.get(name, 0.0), 4),
                   **({"skipped": skipped[name]} if name in skipped else {})}
            for name in (("float64_splits",) if searcher.wide else ()) + (
                "tree_splits", "edges", "boundaries", "hypothesis", "minimise")
        },
        "tree_splits": {"total": len(splits), "mapped_to_raw_input": mapped},
        "nan_and_inf_tried": allow_nan if isinstance(allow_nan, bool) else any(allow_nan),
        **({} if isinstance(allow_nan, bool) else {
            "nan_and_inf_tried_in": sorted({space.features[j][0] for j, tried in enumerate(allow_nan) if tried})}),
        "ties_ignored": searcher.ties,
        "reference_rejected_rows": searcher.reference_rejected,
        "divergences": divergences,
    }
    if searcher.values_scored:
        details["known_values_tried"] = [[name, column, value] for name, column, value in searcher.values_scored]
    if searcher.reference_errors:
        details["reference_errors"] = searcher.reference_errors
    if searcher.onnx_errors:
        details["onnx_errors"] = searcher.onnx_errors
    tried = f"{searcher.rows_tried} rows tried in {searcher.elapsed():.2f}s (seed {seed})"
    if searcher.onnx_errors and not searcher.onnx_runs_ok:
        # Nothing was compared: say why in one line instead of listing every refused row.
        return CheckResult(
            CHECK_NAME, False,
            f"onnxruntime refused every generated row, so nothing was compared: {searcher.onnx_errors[0]}; "
            f"fix the model's inputs (e.g. a fixed batch size) or the data; {tried}",
            details,
        )
    if not searcher.n_divergent:
        refused = ""
        if searcher.reference_rejected:
            # a LogisticRegression refused all 90 rows holding NaN or infinity of 400, and the search said only
            # "no divergent row found" with nan_and_inf_tried true: the file's answer to NaN was never compared
            why = (f" ({searcher.reference_errors[0].split('. ')[0][:160].rstrip('.')})" if searcher.reference_errors
                   else "")
            refused = (f"; {searcher.reference_rejected} of them the reference model refused{why}, so the file's "
                       "answer for them was not compared")
        return CheckResult(CHECK_NAME, True, f"no divergent row found: {tried}{refused}", details)
    first: dict[str, Any] = divergences[0]
    out: dict[str, Any] = first["outputs"][0] if first["outputs"] else {}
    how = describe_row_evidence(out)
    how = f" {how}" if how else ""
    lead = searcher.divergences[0]
    if lead.feature is not None:
        feature = str(first["feature"])
        if not feature.isprintable():  # a column name from the data: no terminal escapes in logs and reports
            feature = repr(feature)
        where = f" at {feature}={float(lead.x[lead.feature])!r} (row {first['row']})"
    else:
        where = f" at row {first['row']}"
    message = (
        f"{searcher.n_divergent} divergent row(s) found, first after {details['time_to_first_divergence_s']}s / "
        f"{searcher.first_rows} rows: output {out.get('output')!r}{how}{where}; {tried}"
    )
    if lead.wide and lead.feature is not None:
        value, dtype, rounded = narrow_reading(lead, space)
        message += (f"; the file's {dtype} input rounds {value!r} to {rounded!r}, "
                    "across a split threshold, so the file takes the other branch there than the model does on the "
                    "float64 value (see details for the fix)")
    elif str(first["explanation"]).startswith("tree flip"):
        message += "; a float32 tree flip (see details for the fix)"
    elif str(first["explanation"]).startswith("split not the model's"):
        message += "; a split of the file that is not the model's (no rounding explains it; see details)"
    return CheckResult(CHECK_NAME, False, message, details)

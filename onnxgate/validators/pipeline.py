"""The check pipeline: which checks run for a target, in which order, and when one is not run.

One generator, :func:`named_checks`, lists the checks for a target and a :class:`CheckContext` (the
model, and the reference and data when there are any): the target's own checks in
:data:`onnxgate.targets.ALL_CHECKS` order, then ``prediction_parity``, then ``search_divergences``
when a search budget is given. :func:`run_check` runs one of them with the rules every caller
shares, so :func:`onnxgate.validate`, :func:`onnxgate.testing.model_checks` and
:func:`onnxgate.testing.parametrize_with_checks` skip and report identically:

* a check whose prerequisite failed is skipped with the reason (parity is not run when
  ``operators_supported`` found that onnxruntime cannot load the model);
* parity and search without a reference model are skipped with the reason;
* a check that crashes on a strange model (anything but an :class:`~onnxgate.errors.OnnxGateError`,
  which is the caller's error and propagates) is a failed result that names the cause.

A target check ``<name>`` is the function ``check_<name>`` of :mod:`onnxgate.validators.structure`
or :mod:`onnxgate.validators.io_rules`: the names live once, in :data:`onnxgate.targets.ALL_CHECKS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from onnxgate.errors import OnnxGateError
from onnxgate.validators import io_rules, structure
from onnxgate.validators.report import CheckResult

if TYPE_CHECKING:
    import onnx

    from onnxgate.targets import Target

__all__ = [
    "CHECKS",
    "PARITY",
    "SEARCH",
    "CheckContext",
    "NamedCheck",
    "named_check",
    "named_checks",
    "run_check",
    "run_checks",
]

PARITY = "prediction_parity"
SEARCH = "search_divergences"
#: Parity needs onnxruntime to load the model: when this check failed, parity is not run.
LOADS = "operators_supported"

CheckFn = Callable[["onnx.ModelProto", "Target"], CheckResult]


def _target_checks() -> dict[str, CheckFn]:
    from onnxgate.targets import ALL_CHECKS

    table: dict[str, CheckFn] = {}
    for name in ALL_CHECKS:
        fn = getattr(structure, f"check_{name}", None) or getattr(io_rules, f"check_{name}", None)
        if fn is None:  # pragma: no cover - a name added to ALL_CHECKS without its function
            raise ImportError(f"no function check_{name} in onnxgate.validators.structure or io_rules")
        table[name] = fn
    return table


#: Check name (as listed in ``Target.checks``) -> function, in :data:`onnxgate.targets.ALL_CHECKS` order.
CHECKS: Mapping[str, CheckFn] = _target_checks()


@dataclass(frozen=True)
class CheckContext:
    """What the checks run on: the model, the target, and for parity and search a reference and data."""

    model: onnx.ModelProto
    target: Target
    reference: Any = None
    data: Any = None
    atol: float | Mapping[str, float] | None = None
    rtol: float | Mapping[str, float] | None = None
    search: int = 0
    seed: int = 0
    batch_size: int | None = None
    progress: bool | Callable[[int, int], None] | None = None
    search_time_limit: float | None = None
    search_allow_nan: bool | None = None
    text_variants: bool = True


@dataclass(frozen=True)
class NamedCheck:
    """One check of the pipeline: its name, what must not have failed before it, and how it runs."""

    name: str
    fn: Callable[[CheckContext], CheckResult]
    #: Checks whose failure means this one is skipped (when they ran).
    requires: tuple[str, ...] = ()


def named_checks(context: CheckContext) -> Iterator[NamedCheck]:
    """The checks for ``context.target``, in report order.

    Yields the target's own checks, then ``prediction_parity``, then ``search_divergences`` when
    ``context.search > 0``.

    Examples
    --------
    >>> import onnxgate as og
    >>> model, X, y = og.zoo.get("sklearn-iris-logreg").build()  # doctest: +SKIP
    >>> conv = og.convert(model, X)  # doctest: +SKIP
    >>> ctx = CheckContext(conv.model, og.targets.get("container"), model, X)  # doctest: +SKIP
    >>> [c.name for c in named_checks(ctx)][-1]  # doctest: +SKIP
    'prediction_parity'
    """
    for name, fn in CHECKS.items():
        if name in context.target.checks:
            yield NamedCheck(name, _target_check(fn))
    yield NamedCheck(PARITY, _parity, requires=(LOADS,) if LOADS in context.target.checks else ())
    if context.search > 0:
        yield NamedCheck(SEARCH, _search)


def named_check(name: str, context: CheckContext) -> NamedCheck:
    """The check called ``name`` for ``context``, also when its target does not list it.

    Raises
    ------
    KeyError
        No check has this name; the message lists the known ones.
    """
    for check in named_checks(context):
        if check.name == name:
            return check
    if name in CHECKS:
        return NamedCheck(name, _target_check(CHECKS[name]))
    if name == SEARCH:
        return NamedCheck(SEARCH, _search)
    raise KeyError(f"unknown check {name!r}; known checks are {[*CHECKS, PARITY, SEARCH]}")


def run_check(
    check: NamedCheck, context: CheckContext, earlier: Mapping[str, CheckResult] | None = None
) -> CheckResult:
    """Run one check with the pipeline's rules (skips with a reason, a crash as a failed result).

    Parameters
    ----------
    check : NamedCheck
        From :func:`named_checks`.
    context : CheckContext
    earlier : mapping of str to CheckResult, optional
        Results of the checks run before it. ``None`` (a check run alone) runs the check's
        prerequisites first, so a check gives the same result alone as in :func:`run_checks`.

    Returns
    -------
    CheckResult

    Raises
    ------
    OnnxGateError
        The caller's error (data that does not fit the model, bad tolerances...), never a crash.
    """
    if earlier is None:
        by_name = {c.name: c for c in named_checks(context)}
        earlier = {name: run_check(by_name[name], context, {}) for name in check.requires if name in by_name}
    for name in check.requires:
        before = earlier.get(name)
        if before is not None and not before.passed and not before.skipped and not _runs_here(name, before):
            return CheckResult.skip(check.name, _NOT_RUN_AFTER.get(name, f"not run: {name!r} failed"))
    try:
        return check.fn(context)
    except OnnxGateError:
        raise
    except Exception as err:
        # A check that breaks on a strange model is a failed check with the cause, not a traceback.
        return CheckResult(
            check.name,
            False,
            f"the check could not run on this model: {type(err).__name__}: {err} (please report it)",
            {"error": f"{type(err).__name__}: {err}"},
        )


def run_checks(context: CheckContext, *, fail_fast: bool = False) -> list[CheckResult]:
    """Every check of :func:`named_checks`, in order; with ``fail_fast`` the ones after a failure are skipped.
    Each result carries the seconds it took (``duration``: a JUnit report's ``time``)."""
    results: dict[str, CheckResult] = {}
    stopped_by: str | None = None
    for check in named_checks(context):
        start = time.perf_counter()
        if stopped_by is not None:
            result = CheckResult.skip(check.name, f"not run: fail_fast stopped after {stopped_by!r} failed")
        else:
            result = run_check(check, context, results)
            if fail_fast and not result.passed and not result.skipped:
                stopped_by = check.name
        results[check.name] = replace(result, duration=time.perf_counter() - start)
        if check.name == SEARCH and PARITY in results:
            results[PARITY] = _searched_noted(results[PARITY], results[SEARCH], context.search)
    return list(results.values())


_NOT_RUN_AFTER = {LOADS: "not run: onnxruntime cannot load the model (see operators_supported)"}


def _runs_here(name: str, result: CheckResult) -> bool:
    """A failed ``operators_supported`` whose installed onnxruntime loads the model (only the target's older one
    lacks kernels) blocks nothing: parity still compares the file's answers here."""
    from onnxgate.validators.structure import loads_here

    return name == LOADS and loads_here(result)


def _target_check(fn: CheckFn) -> Callable[[CheckContext], CheckResult]:
    def run(context: CheckContext) -> CheckResult:
        return fn(context.model, context.target)

    return run


def _parity(context: CheckContext) -> CheckResult:
    if context.reference is None:
        skipped = "no reference model given (pass reference= and data=, CLI --reference/--data)"
        from onnxgate.validators.rows_mixed import scan_rows

        checked = False
        if context.data is not None:  # parity's module only then: `validate m.onnx` starts without it
            from onnxgate.validators.parity import rows_alone_without_reference

            alone, checked = rows_alone_without_reference(context.model, context.data)
            if alone is not None:  # no reference needed to see that rows are not scored on their own
                return CheckResult(PARITY, False, f"{alone} (no reference was given: only this was checked)",
                                   {"rows_alone": alone})
        # nor to name a node that mixes the rows of a batch (a batch mean, a count of the rows), from the graph alone
        scan = scan_rows(context.model)
        if checked:
            skipped = f"{skipped}; the data's first rows score alone as in a batch"
        unjudged = [*scan.untraced, *(m["node"] for m in scan.mixed)]  # lost rows; a sort or a batch-wide output
        if unjudged:
            skipped = (f"{skipped}; whether the graph mixes the rows of a batch was not checked at "
                       f"{', '.join(unjudged[:3])}{' and more' if len(unjudged) > 3 else ''}, where the scan lost "
                       "the rows or a node ranks them or answers the whole batch (a reference and data score a "
                       "batch of 10000 rows for it)")
        return CheckResult.skip(PARITY, skipped)
    if context.data is None:
        return CheckResult.skip(PARITY, "no data to compare on: pass data= (CLI --data)")
    from onnxgate.validators.parity import check_prediction_parity

    result = check_prediction_parity(
        context.model, context.reference, context.data, atol=context.atol, rtol=context.rtol,
        batch_size=context.batch_size, progress=context.progress, target_holds_nan=context.target.allow_nan,
        text_variants=context.text_variants,
    )
    return _search_noted(result, context.search)


def _search_noted(result: CheckResult, search: int) -> CheckResult:
    """A passing parity's ``details["not_checked"]`` with the search: without one (``search`` 0), that only the
    data's rows were compared; with one, its notes of the values no row holds stay until the search has run
    (:func:`_searched_noted`: it leaves out those the search scored)."""
    from onnxgate.validators.parity import no_search_item, with_not_checked

    if not result.passed or result.skipped or search > 0:
        return result
    return with_not_checked(result, [no_search_item(result.details.get("rows"))])


def _searched_noted(parity: CheckResult, search: CheckResult, budget: int) -> CheckResult:
    """``parity`` once the search of ``budget`` has run: its notes of the categories and vocabulary words no row
    holds leave out those the search scored (``details["known_values_tried"]``). A search tries at most one row a
    value within its budget, integer categories never: dropping the notes whenever a search ran said nothing of
    40 categories a search of 5 rows never reached."""
    from onnxgate.validators.parity import without_searched_values

    if not parity.passed or parity.skipped or search.skipped:
        return parity
    return without_searched_values(parity, search.details.get("known_values_tried") or (), budget)


def _search(context: CheckContext) -> CheckResult:
    if context.reference is None:
        return CheckResult.skip(SEARCH, "no reference model given: the search compares against one")
    try:
        from onnxgate.validators.search import check_search_divergences
    except ImportError as err:
        raise OnnxGateError(
            f"search={context.search} asks for the divergence search, but onnxgate.validators.search is not "
            f"available ({err}). Run with search=0 (CLI: --search 0) or install a complete onnxgate."
        ) from err
    return check_search_divergences(
        context.model, context.reference, context.data, budget=context.search, seed=context.seed,
        atol=context.atol, rtol=context.rtol, target=context.target, time_limit=context.search_time_limit,
        allow_nan=context.search_allow_nan, text_variants=context.text_variants,
    )

"""``parametrize_with_checks``: every check of a target as its own pytest test, like scikit-learn's."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxgate.conversion import Conversion
from onnxgate.errors import OnnxGateError, ParityError, ValidationFailedError
from onnxgate.targets import ALL_CHECKS
from onnxgate.validators.core import check_run_settings
from onnxgate.validators.pipeline import PARITY, SEARCH

if TYPE_CHECKING:
    from onnxgate.targets import Target
    from onnxgate.validators.pipeline import CheckContext
    from onnxgate.validators.report import CheckResult

__all__ = ["PARITY", "SEARCH", "ModelCheck", "model_checks", "model_id", "parametrize_with_checks", "refusal"]



def model_id(model: Any, index: int = 0) -> str:
    """A readable test id for a model: the file name, the graph name, or ``model<i>``."""
    if isinstance(model, (str, os.PathLike)):
        return os.path.basename(os.fspath(model))
    proto = model.model if isinstance(model, Conversion) else model
    graph = getattr(proto, "graph", None)
    name = getattr(graph, "name", "") if graph is not None else ""
    framework = model.framework if isinstance(model, Conversion) else None
    base = name or f"model{index}"
    return f"{framework}-{base}" if framework else base


@dataclass(frozen=True)
class ModelCheck:
    """One check of one target, callable on a model; raises with the evidence when the check fails.

    ``check(model)`` returns the :class:`~onnxgate.validators.report.CheckResult`; a failed check
    raises :class:`~onnxgate.errors.ValidationFailedError` (or :class:`~onnxgate.errors.ParityError`
    for parity and search), both ``AssertionError`` subclasses; a skipped check calls
    ``pytest.skip`` with its reason when pytest is running. What onnxgate refuses to check (data that does not fit
    the model, a file that is no ONNX model: an error of :mod:`onnxgate.errors` that is no failed check) fails the
    test with its one message (``pytest.fail``) when pytest is running, and is raised as it is otherwise.
    """

    name: str
    target: str
    reference: Any = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)
    atol: Any = None
    rtol: Any = None
    search: int = 0
    seed: int = 0
    search_time_limit: float | None = None
    search_allow_nan: bool | None = None
    text_variants: bool = True

    def __repr__(self) -> str:  # pytest shows it in failure headers
        return f"{self.name}[{self.target}]"

    def run(self, model: Any) -> CheckResult:
        """Run the check and return its result without raising.

        The check runs through the same pipeline as :func:`onnxgate.validate`
        (:mod:`onnxgate.validators.pipeline`): it is skipped, or fails on a crash, exactly as there.
        """
        from onnxgate.validators.pipeline import named_check, run_check

        context = _context(model, self)
        return run_check(named_check(self.name, context), context)

    def __call__(self, model: Any) -> CheckResult:
        __tracebackhide__ = True  # pytest shows the user's line and the evidence, not this method's body
        from onnxgate.testing.parity import format_evidence

        pytest = _pytest_running()
        refused: str | None = None
        try:
            result = self.run(model)
        except OnnxGateError as err:
            refused = refusal(err)
            if refused is None or pytest is None:
                raise
        if refused is not None and pytest is not None:
            # onnxgate's one message under the user's line, as the onnxgate_validate fixture fails: data it refuses
            # showed a traceback through the pipeline, parity and as_feeds with their bodies (the data's repr too);
            # failed outside the except, so no "During handling" chain either
            pytest.fail(refused)
        if result.skipped:
            _skip(f"{self.name}: {result.message}")
            return result
        if not result.passed:
            evidence = format_evidence(result)
            if self.name in (PARITY, SEARCH):
                raise ParityError(f"{self.name} failed for target {self.target!r}:\n{evidence}", results=(result,))
            raise ValidationFailedError(f"{self.name} failed for target {self.target!r}:\n{evidence}")
        return result


def _context(model: Any, check: ModelCheck) -> CheckContext:
    from onnxgate._onnx import load_model
    from onnxgate.targets import get
    from onnxgate.validators.pipeline import CheckContext

    reference, data = check.reference, check.data
    if isinstance(model, Conversion):
        reference = reference if reference is not None else model.source
        data = data if data is not None else model.sample
    from onnxgate._data import from_polars

    data = from_polars(data)
    return CheckContext(
        load_model(model), get(check.target), reference, data, atol=check.atol, rtol=check.rtol,
        search=check.search, seed=check.seed, progress=False, search_time_limit=check.search_time_limit,
        search_allow_nan=check.search_allow_nan, text_variants=check.text_variants,
    )


def refusal(err: BaseException) -> str | None:
    """``"ErrorType: message"`` for an error onnxgate raised on purpose about what it was given (data it refuses, a
    file that is no ONNX model): a test fails with that one line. None for anything else: a failed check (an
    ``AssertionError``, shown with its evidence) or a crash (its traceback is what to report)."""
    if not isinstance(err, OnnxGateError) or isinstance(err, AssertionError):
        return None
    return f"{type(err).__name__}: {err}"


def _pytest_running() -> Any:
    """The pytest module while pytest runs a test, else None. Imported is not running: a script or notebook that had
    imported pytest (or a library that does) got pytest's ``Failed``, which ``except Exception`` does not catch, for
    data onnxgate refused, instead of the ``InvalidDataError``."""
    import os
    import sys

    return sys.modules.get("pytest") if os.environ.get("PYTEST_CURRENT_TEST") else None


def _skip(reason: str) -> None:
    # pytest reports a skip at the last frame not hidden: the user's ``check(model)`` line, not this one
    __tracebackhide__ = True
    pytest = _pytest_running()
    if pytest is not None:
        pytest.skip(reason)


def model_checks(
    model: Any,
    target: str | Target | None = None,
    *,
    reference: Any = None,
    data: Any = None,
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    search: int = 0,
    seed: int = 0,
    search_time_limit: float | None = None,
    search_allow_nan: bool | None = None,
    text_variants: bool = True,
) -> list[ModelCheck]:
    """The checks that apply to ``model`` for ``target``: the target's own, then parity and search.

    Parity is included when a reference and data are known (given, or a Conversion's source and
    sample); the search when ``search > 0``, skipped with its reason when they are not.
    """
    from onnxgate._onnx import check_model_kind
    from onnxgate.targets import resolve_target

    check_model_kind(model)  # model_checks(None) made checks of None, each failing when it ran
    tgt = resolve_target(target)
    # refused here, when the test module is collected, not in each check it makes (search="3" raised TypeError)
    check_run_settings(atol=atol, rtol=rtol, search=search, seed=seed, search_time_limit=search_time_limit)
    names = [c for c in ALL_CHECKS if c in tgt.checks]
    conversion = model if isinstance(model, Conversion) else None
    has_reference = reference is not None or (conversion is not None and conversion.source is not None)
    has_data = data is not None or (conversion is not None and conversion.sample is not None)
    if has_reference and has_data:
        names.append(PARITY)
    if search > 0:  # without a reference and data it is skipped with its reason, not left out (helper-95)
        names.append(SEARCH)
    return [
        ModelCheck(n, tgt.name, reference, data, atol, rtol, search, seed, search_time_limit, search_allow_nan,
                   text_variants)
        for n in names
    ]


def parametrize_with_checks(
    models: Iterable[Any] | Any,
    target: str | Target | None = None,
    *,
    reference: Any = None,
    data: Any = None,
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    search: int = 0,
    seed: int = 0,
    search_time_limit: float | None = None,
    text_variants: bool = True,
) -> Any:
    """A ``pytest.mark.parametrize`` over every (model, check) pair, with readable ids.

    Parameters
    ----------
    models : path, onnx.ModelProto, Conversion, or a list of them
        The models to check. Conversions carry their own reference (``source``) and data
        (``sample``) for parity.
    target : str or Target, optional
        Whose checks to run (default ``"onnxruntime"``).
    reference, data : optional
        Reference model and rows for parity, applied to every model given.
    atol, rtol, search, seed, search_time_limit, text_variants
        As for :func:`onnxgate.validate`.

    Returns
    -------
    pytest.MarkDecorator
        Parametrizes the arguments ``model`` and ``check``; ids read ``"model.onnx-inputs_one_per_column"``.

    Examples
    --------
    >>> from onnxgate.testing import parametrize_with_checks
    >>> @parametrize_with_checks(["models/churn.onnx"], target="sql-edge-2.0")  # doctest: +SKIP
    ... def test_model(model, check):
    ...     check(model)
    """
    import pytest

    items: Sequence[Any]
    if isinstance(models, (str, os.PathLike)) or not isinstance(models, Iterable) or hasattr(models, "graph"):
        items = [models]
    else:
        items = list(models)
    params = []
    seen: dict[str, int] = {}
    for i, model in enumerate(items):
        mid = model_id(model, i)
        if mid in seen:  # two models with one name: keep ids unique and stable
            seen[mid] += 1
            mid = f"{mid}{seen[mid]}"
        else:
            seen[mid] = 0
        for check in model_checks(
            model, target, reference=reference, data=data, atol=atol, rtol=rtol, search=search, seed=seed,
            search_time_limit=search_time_limit, text_variants=text_variants,
        ):
            params.append(pytest.param(model, check, id=f"{mid}-{check.name}"))
    return pytest.mark.parametrize(("model", "check"), params)

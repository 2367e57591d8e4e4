"""``validate``: run a target's checks, parity and search on a model, and collect one Report."""

from __future__ import annotations

import hashlib
import math
import os
import platform
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, OnnxGateError
from onnxgate.validators import io_rules, structure
from onnxgate.validators.report import CheckResult, Report

if TYPE_CHECKING:
    import onnx

    from onnxgate.targets import Target

__all__ = ["CHECKS", "validate"]

CheckFn = Callable[["onnx.ModelProto", "Target"], CheckResult]

#: Check name (as listed in ``Target.checks`` and ``onnxgate.targets.ALL_CHECKS``) -> function.
CHECKS: Mapping[str, CheckFn] = {
    "model_wellformed": structure.check_model_wellformed,
    "opset_within_caps": structure.check_opset_within_caps,
    "ir_version_within_caps": structure.check_ir_version_within_caps,
    "operators_supported": structure.check_operators_supported,
    "operators_exist_at_opset": structure.check_operators_exist_at_opset,
    "inputs_element_types": io_rules.check_inputs_element_types,
    "inputs_one_per_column": io_rules.check_inputs_one_per_column,
    "outputs_tensor_only": io_rules.check_outputs_tensor_only,
    "outputs_one_value_per_row": io_rules.check_outputs_one_value_per_row,
    "outputs_element_types": io_rules.check_outputs_element_types,
    "batch_axis_dynamic": io_rules.check_batch_axis_dynamic,
}

PARITY = "prediction_parity"
SEARCH = "search_divergences"


def validate(
    model: Any,
    target: str | Target | None = None,
    *,
    reference: Any = None,
    data: Any = None,
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    search: int = 0,
    seed: int = 0,
    batch_size: int | None = None,
    fail_fast: bool = False,
    progress: bool | Callable[[int, int], None] | None = None,
    search_time_limit: float | None = None,
) -> Report:
    """Check a model against a deployment target and, with a reference and data, prove parity.

    Every check the target lists runs (in :data:`onnxgate.targets.ALL_CHECKS` order), then
    prediction parity, then the divergence search; the report holds them all and only then
    decides. Nothing is mutated: the model and the data are only read.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
        The ONNX model. For a ``Conversion``, ``reference`` and ``data`` default to the native model
        and the sample it was converted with.
    target : str or Target, optional
        Where the model will run; default ``"onnxruntime"``.
    reference : object, optional
        The native model to compare with (any registered framework), an ONNX model, or a callable.
    data : array, DataFrame, dict or path, optional
        Rows for parity (``.csv``, ``.parquet`` or ``.npy`` when a path).
    atol, rtol : float or mapping of output name to float, optional
        Parity tolerances (``{"": 1e-5, "probabilities": 1e-4}``); defaults by output type,
        labels exact (see :mod:`onnxgate.validators.parity`).
    search : int
        Budget of generated inputs for the divergence search (0: no search).
    seed : int
        Seed of generated inputs; recorded in the report.
    batch_size : int, optional
        Rows per parity batch.
    fail_fast : bool
        Stop at the first failed check; the rest are reported as skipped.
    progress : bool or callable, optional
        Parity progress bar on stderr (default: only on a terminal), or ``f(done, total)``.
    search_time_limit : float, optional
        Seconds the search may take.

    Returns
    -------
    Report

    Raises
    ------
    InvalidModelError
        The model is not ONNX, is truncated or corrupt (a model that parses but breaks the spec is a
        failed ``model_wellformed`` check instead).
    TargetError
        Unknown target name.
    InvalidDataError
        ``reference`` without ``data``, data that does not fit the inputs, bad tolerances.

    Examples
    --------
    >>> import onnxgate as og
    >>> model, X, y = og.zoo.get("sklearn-iris-logreg").build()  # doctest: +SKIP
    >>> conv = og.convert(model, X, opset=15)  # doctest: +SKIP
    >>> report = og.validate(conv, target="container")  # doctest: +SKIP
    >>> report.passed  # doctest: +SKIP
    True
    """
    from onnxgate._onnx import load_model, model_opsets
    from onnxgate.signature import Signature
    from onnxgate.targets import resolve

    tgt = resolve(target, default="onnxruntime")
    assert tgt is not None
    is_conversion = _is_conversion(model)
    if is_conversion:
        if reference is None:
            reference = model.source
        if data is None:
            data = model.sample
    proto = load_model(model)
    raw = _raw_bytes(model)
    sha = hashlib.sha256(raw if raw is not None else proto.SerializeToString()).hexdigest()
    signature = Signature.from_model(proto)
    if isinstance(search, bool) or not isinstance(search, int) or search < 0:
        raise InvalidDataError(f"search must be an integer >= 0 (a number of generated inputs), found {search!r}")
    check_search_settings(seed, search_time_limit)
    if reference is not None and data is None:
        raise InvalidDataError(
            "a reference model was given without data: parity needs rows to compare on. Pass data= "
            "(CLI: --data FILE)."
        )

    checks: list[CheckResult] = []
    stopped_by: str | None = None

    def add(result: CheckResult) -> None:
        nonlocal stopped_by
        checks.append(result)
        if fail_fast and stopped_by is None and not result.passed and not result.skipped:
            stopped_by = result.name

    for name in _ordered(tgt.checks):
        if stopped_by is not None:
            checks.append(CheckResult.skip(name, f"not run: fail_fast stopped after {stopped_by!r} failed"))
            continue
        add(_run_check(name, CHECKS[name], proto, tgt))

    loads = next((c for c in checks if c.name == "operators_supported"), None)
    if stopped_by is not None:
        checks.append(CheckResult.skip(PARITY, f"not run: fail_fast stopped after {stopped_by!r} failed"))
    elif reference is None:
        checks.append(
            CheckResult.skip(PARITY, "no reference model given (pass reference= and data=, CLI --reference/--data)")
        )
    elif loads is not None and not loads.passed and not loads.skipped:
        checks.append(CheckResult.skip(PARITY, "not run: onnxruntime cannot load the model (see operators_supported)"))
    else:
        from onnxgate.validators.parity import check_prediction_parity

        add(
            check_prediction_parity(
                proto, reference, data, atol=atol, rtol=rtol, batch_size=batch_size, progress=progress
            )
        )

    if search > 0:
        if stopped_by is not None:
            checks.append(CheckResult.skip(SEARCH, f"not run: fail_fast stopped after {stopped_by!r} failed"))
        elif reference is None:
            checks.append(CheckResult.skip(SEARCH, "no reference model given: the search compares against one"))
        else:
            add(_search(proto, reference, data, search, seed, atol, rtol, tgt, search_time_limit))

    model_info = {
        "sha256": sha,
        "ir_version": int(proto.ir_version),
        "opsets": {("ai.onnx" if d == "" else d): v for d, v in sorted(model_opsets(proto).items())},
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "signature": signature.to_dict(),
        "source": _describe_source(model),
    }
    return Report(
        checks=checks,
        target=tgt.name,
        seed=int(seed),
        model=model_info,
        target_profile=tgt.to_dict(),
        environment=_environment(),
    )


def check_search_settings(seed: Any, time_limit: Any) -> None:
    """Refuse a seed or time limit the search cannot use, before any work is done.

    Raises
    ------
    InvalidDataError
        ``seed`` is not a whole number >= 0, or ``time_limit`` is not a positive, finite number.
    """
    from numbers import Integral, Real

    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise InvalidDataError(f"seed: expected a seed of 0 or more (a whole number), found {seed!r}")
    if time_limit is not None and (
        isinstance(time_limit, bool) or not isinstance(time_limit, Real) or not 0 < float(time_limit) < math.inf
    ):
        raise InvalidDataError(f"search time limit: expected a positive number of seconds, found {time_limit!r}")


def _ordered(names: tuple[str, ...]) -> list[str]:
    from onnxgate.targets import ALL_CHECKS

    return [c for c in ALL_CHECKS if c in names]


def _run_check(name: str, fn: CheckFn, proto: onnx.ModelProto, target: Target) -> CheckResult:
    try:
        return fn(proto, target)
    except OnnxGateError:
        raise
    except Exception as err:
        # A check that breaks on a strange model is a failed check with the cause, not a traceback.
        return CheckResult(
            name,
            False,
            f"the check could not run on this model: {type(err).__name__}: {err} (please report it)",
            {"error": f"{type(err).__name__}: {err}"},
        )


def _search(
    proto: onnx.ModelProto,
    reference: Any,
    data: Any,
    budget: int,
    seed: int,
    atol: Any,
    rtol: Any,
    target: Target,
    time_limit: float | None,
) -> CheckResult:
    try:
        from onnxgate.validators.search import check_search_divergences
    except ImportError as err:
        raise OnnxGateError(
            f"search={budget} asks for the divergence search, but onnxgate.validators.search is not "
            f"available ({err}). Run with search=0 (CLI: --search 0) or install a complete onnxgate."
        ) from err
    return check_search_divergences(
        proto,
        reference,
        data,
        budget=budget,
        seed=seed,
        atol=atol,
        rtol=rtol,
        target=target,
        time_limit=time_limit,
    )


def _is_conversion(model: Any) -> bool:
    return type(model).__name__ == "Conversion" and hasattr(model, "model") and hasattr(model, "source")


def _raw_bytes(model: Any) -> bytes | None:
    """The bytes as given (a file's or a buffer's), so the hash matches ``sha256sum model.onnx``."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        try:
            with open(model, "rb") as handle:
                return handle.read()
        except OSError:
            return None
    return None


def _describe_source(model: Any) -> str:
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    if isinstance(model, (bytes, bytearray, memoryview)):
        return "bytes"
    if _is_conversion(model):
        return f"Conversion ({model.framework}, opset {model.opset})"
    return type(model).__name__


def _environment() -> dict[str, str]:
    import numpy
    import onnx
    import onnxruntime

    from onnxgate import __version__

    return {
        "onnxgate": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
    }

"""Packaging a validated model for its target: T-SQL scripts (+ a DuckDB dry run), a container context, or an
MLflow model directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onnxgate.errors import OutputExistsError, PackagingError, TargetError, ValidationFailedError

__all__ = ["PACKAGERS", "package"]

#: target kind -> "module:function" that writes the package. Looked up when a package is written.
PACKAGERS: dict[str, str] = {
    "sql": "onnxgate.deploy.sql:package_sql",
    "container": "onnxgate.deploy.container:package_container",
    "mlflow": "onnxgate.deploy.mlflow:package_mlflow",
}


def _packager_for(target: Any) -> Callable[..., Any]:
    import importlib

    if target.is_sql:
        key = "sql"
    elif target.name == "mlflow":
        key = "mlflow"
    elif target.name == "container" or target.dynamic_batch:
        key = "container"
    else:
        raise TargetError(
            f"target {target.name!r} has no package format; package for one of "
            "'sql-edge-1.0', 'sql-edge-2.0', 'synapse', 'container' or 'mlflow'"
        )
    module, func = PACKAGERS[key].split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def package(
    model: Any,
    *,
    target: str | Any,
    out: str | os.PathLike[str],
    reference: Any = None,
    data: Any = None,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Validate a model for ``target`` and write what that target needs into the folder ``out``.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
    target : str or Target
        ``"sql-edge-1.0"``, ``"sql-edge-2.0"``, ``"synapse"``, ``"container"`` or ``"mlflow"``.
    out : path
        A new or empty folder.
    reference, data : optional
        Native model and rows for the parity check that runs before packaging. A ``Conversion``
        supplies its own source model and sample when these are not given.
    overwrite : bool
        Write into a non-empty folder (files of the same name are replaced).

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    ValidationFailedError
        The model fails the target's checks; ``err.report`` holds the report.
    OutputExistsError
        ``out`` is not empty and ``overwrite`` is false.
    """
    from onnxgate.targets import resolve_target

    tgt = resolve_target(target)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"{str(folder)!r} is a file; package into a folder", path=str(folder))
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{str(folder)!r} is not empty; refusing to write into it. Pass overwrite=True (CLI: --force) "
            "or choose a new folder.",
            path=str(folder),
        )
    search, seed = options.pop("search", 0), options.pop("seed", 0)
    if search:
        _search_first(model, tgt, reference, data, search, seed, options)
    return _packager_for(tgt)(model, target=tgt, out=folder, reference=reference, data=data,
                              overwrite=overwrite, **options)


def _search_first(model: Any, target: Any, reference: Any, data: Any, search: Any, seed: Any,
                  options: dict[str, Any]) -> None:
    """Run the divergence search (``search`` generated rows) before packaging; refuse a model it fails.

    The package's own validation runs the target's checks and parity; the search, which finds rows
    where a model that matches on the data answers otherwise, runs only when asked (it costs seconds).
    """
    from onnxgate.deploy.sql import _conversion_defaults
    from onnxgate.validators import validate

    budget = int(search) if isinstance(search, str) and search.strip().isdigit() else search
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise PackagingError(f"search: expected a number of generated rows (0 or more), found {search!r}")
    if isinstance(seed, str) and seed.strip().isdigit():
        seed = int(seed)
    reference, data = _conversion_defaults(model, reference, data)
    if options.get("adapt") and target.is_sql:  # search the model as it will be packaged: adapted
        from onnxgate.adaptation import adapt

        model = adapt(model, target, columns=options.get("columns"), column_types=options.get("column_types"),
                      reference=reference)
    if reference is None or data is None:
        raise PackagingError("search needs a reference model and data to start from: pass reference= and "
                             "data= (CLI: --reference and --data)")
    tolerances: dict[str, Any] = {}
    for key in ("atol", "rtol"):
        if options.get(key) is not None:
            try:
                tolerances[key] = float(options[key])
            except (TypeError, ValueError):
                raise PackagingError(f"{key} must be a number, found {key}={options[key]!r}") from None
    report = validate(model, target, reference=reference, data=data, search=budget, seed=seed, **tolerances)
    if not report.passed:
        raise ValidationFailedError(
            f"refusing to package: the model fails {len(report.failures)} check(s) for target {target.name!r}: "
            f"{', '.join(c.name for c in report.failures)}.\n{report}",
            report=report,
        )

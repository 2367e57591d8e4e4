"""Packaging a validated model for its target: T-SQL scripts (+ a DuckDB dry run), a container context, or an
MLflow model directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onnxgate._files import link_note, refuse_dangling_folder_link, refuse_filled_folder
from onnxgate.errors import OutputExistsError, TargetError

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
        The folder written. For ``"mlflow"`` with ``registry``, its ``registration`` holds the registered
        model's ``name``, ``version`` and ``model_uri`` (:class:`onnxgate.deploy.mlflow.MlflowPackage`).

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
        raise OutputExistsError(f"{str(folder)!r}{link_note(folder, folder=True)} is a file; package into a folder: "
                                f"give -o a new or empty folder (e.g. -o {folder.stem or 'model'}_pkg)",
                                path=str(folder))
    refuse_dangling_folder_link(folder)
    refuse_filled_folder(folder, overwrite=overwrite)
    return _packager_for(tgt)(model, target=tgt, out=folder, reference=reference, data=data,
                              overwrite=overwrite, **options)

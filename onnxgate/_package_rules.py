"""What a package folder asks of the rows scored with it, wherever they are scored (``onnxgate score``
on one machine or on Spark, ``sql-dryrun``): its model file must be the one its manifest recorded, and
a container package's rows the values its service accepts."""

from __future__ import annotations

import contextvars
import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onnxgate.errors import InvalidDataError

__all__ = ["check_feeds_finite", "check_model_bytes", "check_package_data_files", "check_package_model", "counted_rows",
           "data_files_checked_once", "is_sql_package", "manifest_problem", "mismatched_package", "non_finite_rows",
           "not_finite_rows", "package_manifest", "package_nan_inputs"]


def check_model_bytes(manifest: Any, path: Any, blob: bytes) -> None:
    """Refuse ``blob``, read from ``path``, when it is not the model ``manifest`` recorded (its SHA-256).

    Raises
    ------
    PackagingError
        The hashes differ. A manifest without a recorded hash is not checked.
    """
    from onnxgate.errors import PackagingError

    info = manifest.get("model") if isinstance(manifest, dict) else None
    expected = info.get("sha256") if isinstance(info, dict) else None
    if not isinstance(expected, str):
        return
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected:
        raise PackagingError(
            f"{str(path)!r} is not the model this package was validated with: sha256 {digest} != {expected} "
            "(manifest.json); re-run 'onnxgate package' for the new model",
            path=str(path),
        )


def package_manifest(model: Any) -> Any:
    """The parsed ``manifest.json`` of a package folder, or None for anything else (an .onnx file, a
    model in memory, a folder without one, a file that is not JSON)."""
    import json
    import os

    if not isinstance(model, (str, os.PathLike)) or not (Path(model) / "manifest.json").is_file():
        return None
    try:
        return json.loads((Path(model) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_package_model(model: Any, *, manifest_required: bool = True) -> None:
    """Refuse a package whose model file is not the model it was packaged with: its SHA-256 differs from
    the one its ``manifest.json`` records, as the container's service and ``sql-dryrun`` refuse it. Does
    nothing for anything but a package folder (an .onnx file, a model in memory).

    ``manifest_required``: a folder holding model.onnx but no manifest.json is refused (``score`` and
    :func:`onnxgate.spark.predict` take an .onnx file or a folder written by ``onnxgate package``, whose
    manifest says the package's rules); False leaves it to be read as a folder holding model.onnx (an MLflow
    model directory MLflow wrote itself).

    Raises
    ------
    PackagingError
        The hashes differ, or the folder's ``manifest.json`` is missing or cannot be read as one
        (:func:`_refuse_unreadable_manifest`).
    """
    _refuse_unreadable_manifest(model, required=manifest_required)
    manifest = package_manifest(model)
    try:
        info = manifest["model"]
        expected, name = info["sha256"], info.get("file", "model.onnx")
    except (KeyError, TypeError, AttributeError):
        return  # not a manifest onnxgate wrote: the folder is read as a folder holding model.onnx
    path = Path(model) / str(name)
    if not isinstance(expected, str) or not path.is_file():
        return
    check_model_bytes(manifest, path, path.read_bytes())


#: Within :func:`data_files_checked_once`: the data files :func:`check_package_data_files` found to be their manifest's,
#: each as (absolute path, inode, size, modification time in ns, SHA-256).
_CHECKED: contextvars.ContextVar[set[tuple[str, int, int, int, str]] | None] = contextvars.ContextVar(
    "onnxgate_data_files_checked", default=None)


@contextmanager
def data_files_checked_once() -> Iterator[None]:
    """Within the block, :func:`check_package_data_files` reads each data file once: a file it found to be its
    manifest's is not hashed again while its path, inode, size and modification time are the same. ``score --spark``
    checks a package's data files before Spark starts, then :func:`onnxgate.spark.predict` checked them again: every
    byte of the weights hashed twice on the driver (a 200 MB file: 403 MB hashed in 0.71 s, now 201 MB in 0.19 s;
    medians of 3). Outside a block each call reads every file. A block within a block is the outer one."""
    if _CHECKED.get() is not None:
        yield
        return
    token = _CHECKED.set(set())
    try:
        yield
    finally:
        _CHECKED.reset(token)


def check_package_data_files(model: Any) -> None:
    """Refuse a package whose model keeps its weights in external data files (a model above 2 GiB, packaged for the
    container with its data files: ``manifest.json``'s ``model.external_data``) when a file is not the one it was
    packaged with (its SHA-256), as the package's service refuses it at start. Each file is read in chunks, never
    whole, and once within :func:`data_files_checked_once`. Call it once the model is loaded
    (:func:`onnxgate._onnx.load_model` refuses a missing or truncated data file in validate's words); does nothing
    for any other model or package.

    Raises
    ------
    PackagingError
        A data file that cannot be read, or whose SHA-256 differs from the manifest's.
    """
    from onnxgate.errors import PackagingError

    manifest = package_manifest(model)
    try:
        entries = manifest["model"]["external_data"]
    except (KeyError, TypeError):
        return
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) or "file" not in entry:
            continue
        path = Path(model) / str(entry["file"])
        checked = _CHECKED.get()
        seen = _identity(path, entry["sha256"]) if checked is not None else None
        if checked is not None and seen in checked:
            continue
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 24), b""):
                    digest.update(chunk)
        except OSError as err:
            raise PackagingError(f"{str(path)!r}, which holds the weights of {str(Path(model) / 'model.onnx')!r}, "
                                 f"cannot be read ({err.strerror}); copy it into the package again",
                                 path=str(path)) from err
        if digest.hexdigest() != entry["sha256"]:
            raise PackagingError(
                f"{str(path)!r} is not the weights file this package was validated with: sha256 {digest.hexdigest()} "
                f"!= {entry['sha256']} (manifest.json); re-run 'onnxgate package' for the new model", path=str(path),
            )
        if checked is not None and seen is not None:
            checked.add(seen)


def _identity(path: Path, sha256: str) -> tuple[str, int, int, int, str] | None:
    """What :func:`data_files_checked_once` remembers of a data file found to have ``sha256``; None when it cannot
    be read (the check says why)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return os.path.abspath(path), found.st_ino, found.st_size, found.st_mtime_ns, sha256


def _refuse_unreadable_manifest(model: Any, *, required: bool = True) -> None:
    """Refuse a package folder whose ``manifest.json`` is there but is no JSON object (not UTF-8, not JSON, a
    list, a folder) or is not the manifest 'onnxgate package' writes (:func:`manifest_problem`: a ``target``
    of 5, no ``signature``), and, when ``required``, a folder holding model.onnx without one: ``score`` read
    such a folder as a bare one holding model.onnx, and scored it with neither the check of its model's SHA-256
    nor its rule for NaN, exit 0 (helper-306, helper-358), where ``sql-dryrun`` refuses it. A folder without
    model.onnx is left to the loader, which names it. A manifest that cannot be opened (no permission) is left
    to the reader, whose OSError the CLI names."""
    import json
    import os

    from onnxgate.errors import PackagingError

    if not isinstance(model, (str, os.PathLike)) or not Path(model).is_dir():
        return
    path = Path(model) / "manifest.json"
    inner = str(Path(model) / "model.onnx")
    fix = f"Write the package again with 'onnxgate package', or score its model file itself ({inner!r})"
    if not path.exists():
        if required and Path(inner).is_file():
            raise PackagingError(
                f"{str(model)!r} holds model.onnx but no manifest.json: expected an .onnx file or a folder written "
                "by 'onnxgate package', whose manifest.json records the model's SHA-256 and the package's rule for "
                f"NaN, so scoring without it would apply neither. {fix}",
                path=str(path),
            )
        return
    found: str | None = None
    if path.is_dir():
        found = "is a folder"
    else:
        try:
            parsed = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            found = f"is not readable JSON ({err})"
        else:
            if not isinstance(parsed, dict):
                found = f"is a JSON {type(parsed).__name__}, not an object"
            else:
                problem = manifest_problem(parsed)
                if problem:
                    raise PackagingError(
                        f"{str(path)!r} is damaged: {problem} (the manifest records the model's SHA-256 and the "
                        f"package's rule for NaN, which scoring would not apply as written). {fix}",
                        path=str(path),
                    )
    if found is not None:
        raise PackagingError(
            f"{str(path)!r} {found}: expected the JSON object 'onnxgate package' writes, which records the "
            f"model's SHA-256 and the package's rule for NaN, so scoring without it would apply neither. {fix}",
            path=str(path),
        )


#: The section of ``manifest.json`` each kind of package writes: its rules (a SQL table's, a service's, MLflow's).
_KIND_SECTIONS = ("sql", "service", "mlflow")


def manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What in a parsed ``manifest.json`` (a JSON object) is not as 'onnxgate package' writes it, in words, or
    None: a ``target`` that is no target's name, a ``model`` without its ``sha256``, a ``signature`` without
    its ``inputs`` and ``outputs``, not exactly one section of a kind of package (``sql``, ``service``,
    ``mlflow``), or a section another target's (``"target": "container"`` with a ``sql`` section). Each holds
    what a reader of the package relies on: without the section, ``score`` applied no rule for NaN at all."""
    target = manifest.get("target")
    if not isinstance(target, str) or not target.strip():
        return f"its 'target' is {_shown(target)}, where the name of the package's target was expected"
    model = manifest.get("model")
    sha = model.get("sha256") if isinstance(model, dict) else None
    if not isinstance(sha, str) or len(sha) != 64:
        return (f"its 'model' is {_shown(model)}, where an object with the model file's 'sha256' (64 hexadecimal "
                "digits) was expected")
    signature = manifest.get("signature")
    if not (isinstance(signature, dict) and isinstance(signature.get("inputs"), list)
            and isinstance(signature.get("outputs"), list)):
        return (f"its 'signature' is {_shown(signature)}, where an object listing the model's 'inputs' and "
                "'outputs' was expected")
    kinds = [k for k in _KIND_SECTIONS if isinstance(manifest.get(k), dict)]
    if len(kinds) != 1:
        have = " and ".join(repr(k) for k in kinds) if kinds else "none"
        return f"it has {have} of the sections 'sql', 'service' and 'mlflow', where a package has exactly one"
    expected = _kind_of(target)
    if expected is not None and expected != kinds[0]:
        return f"its 'target' {target!r} writes a {expected!r} section, and it has a {kinds[0]!r} one"
    return None


#: What each kind of package (its manifest's section) is for, and the command that uses it, for messages.
_USE_OF_KIND = {
    "sql": ("a SQL one", "try it in DuckDB with 'onnxgate sql-dryrun {folder} --data ROWS', or score it with "
                         "'onnxgate score {folder} --data ROWS.parquet --out OUT.parquet'"),
    "service": ("a container one", "serve it with 'onnxgate serve {folder}', or score it with 'onnxgate score "
                                   "{folder} --data ROWS.parquet --out OUT.parquet'"),
    "mlflow": ("an MLflow one", "serve it with 'mlflow models serve -m {folder}', or score it with 'onnxgate score "
                                "{folder} --data ROWS.parquet --out OUT.parquet'"),
}
#: The target to package for, per kind a command reads.
_TARGET_OF_KIND = {"sql": "sql-edge-2.0 --adapt", "service": "container", "mlflow": "mlflow"}


def mismatched_package(folder: str | os.PathLike[str], wanted: str, command: str) -> str | None:
    """Why ``folder``, a package ``onnxgate package`` wrote, is not what ``command`` reads, with the fix; None when it
    is of the ``wanted`` kind (``"sql"``, ``"service"``), or no package whose kind its manifest tells.

    A container package given to ``sql-dryrun`` was "holds a 'container' package, not a SQL one", and a SQL one
    given to ``serve`` "is not a container package (missing ['score.py'])": neither said what to run instead
    (helper-364)."""
    manifest = package_manifest(folder)
    if not isinstance(manifest, dict):
        return None
    kinds = [k for k in _KIND_SECTIONS if isinstance(manifest.get(k), dict)]
    if len(kinds) != 1 or kinds[0] == wanted:
        return None
    kind, target = kinds[0], manifest.get("target")
    info = manifest.get("model")
    name = str(info["file"]) if isinstance(info, dict) and isinstance(info.get("file"), str) else "model.onnx"
    text = os.fspath(folder)
    held = f"a {target!r} package" if isinstance(target, str) and target else f"{_USE_OF_KIND[kind][0][:-4]} package"
    return (f"{text!r} holds {held}, not {_USE_OF_KIND[wanted][0]}: '{command}' reads a folder written by 'onnxgate "
            f"package MODEL --target {_TARGET_OF_KIND[wanted].split()[0]}'. Package its model for that with 'onnxgate "
            f"package {Path(text) / name!s} --target {_TARGET_OF_KIND[wanted]} -o DIR', or use this one as it is: "
            + _USE_OF_KIND[kind][1].format(folder=text))


def _kind_of(target: str) -> str | None:
    """The manifest section a built-in target's package writes; None for a target this process does not know
    (a profile from a TOML file)."""
    from onnxgate import targets

    if target not in targets.names():
        return None
    found = targets.get(target)
    if found.is_sql:
        return "sql"
    if found.name == "mlflow":
        return "mlflow"
    return "service" if found.name == "container" or found.dynamic_batch else None


def _shown(value: Any) -> str:
    """A manifest value as a message shows it: missing, or its JSON text (cut short)."""
    import json

    if value is None:
        return "missing"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def package_nan_inputs(model: Any) -> list[str] | None:
    """The inputs that take NaN in a container package (its manifest's ``service.allow_nan_inputs``), none
    in a SQL package (SQL Server's float holds neither NaN nor infinity: ``sql-dryrun`` refuses them), or
    None when ``model`` is neither (an .onnx file, an MLflow package): no rule ``score`` must follow."""
    manifest = package_manifest(model)
    if _is_sql(manifest):
        return []  # a SQL package: its table's float columns hold neither NaN nor infinity
    try:
        names = manifest["service"]["allow_nan_inputs"]
    except (KeyError, TypeError):
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


def check_feeds_finite(feeds: dict[str, Any], signature: Any, takes_nan: list[str], fed: list[str], *,
                       first_row: int | None = 0, package: Any = None, sql: bool = False) -> None:
    """Refuse the rows a container package's service refuses (score.py's ``check_finite``): NaN in a float
    input not in ``takes_nan``, and infinity in any float input. Scoring them anyway writes a class label
    argmax'ed from NaN probabilities.

    ``feeds`` are one batch's arrays, ``fed`` the data columns feeding them (in order), ``first_row`` the
    batch's first row in the data, for the message (None: unknown, as in a Spark partition). ``sql``: the
    package is a SQL one, whose table holds neither NaN nor infinity (the message says so).

    Raises
    ------
    InvalidDataError
        Naming every offending column, with its count of rows, and how to fix it.
    """
    nan, inf = non_finite_rows(feeds, signature, fed, takes_nan)
    if not nan and not inf:
        return
    rows = len(next(iter(feeds.values())))
    where = f"rows {first_row:,}..{first_row + rows - 1:,}" if first_row is not None else f"a batch of {rows:,} rows"
    what = f"package {str(package)!r}" if package is not None else "the package"

    parts = []
    if sql:
        parts.append(f"NaN or infinity in {counted_rows(nan + inf)}, which {what}'s table cannot hold (SQL Server's "
                     "float and real have neither, and sql-dryrun refuses them): PREDICT never sees such rows; "
                     "fill, replace or drop them")
    else:
        if nan:
            parts.append(f"NaN (missing) in {counted_rows(nan)}, which {what} was made to refuse, as its service "
                         "does: fill or drop those rows, or package the model again with --option allow_nan=true (or "
                         "allow_nan=COLUMN,...) if it handles missing values")
        if inf:
            parts.append(f"infinity in {counted_rows(inf)}, which the package's service refuses for every input "
                         "(scikit-learn refuses it too): replace those values or drop those rows")
    raise InvalidDataError(f"cannot score {where}: " + "; and ".join(parts), column=(nan or inf)[0][1])


def non_finite_rows(feeds: dict[str, Any], signature: Any, fed: list[str], takes_nan: Sequence[str] = ()
                    ) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """Per data column, the rows holding NaN (in inputs not in ``takes_nan``) and those holding infinity:
    two lists of ``(the column as a message names it, the column, rows)``."""
    import numpy as np

    nan: list[tuple[str, str, int]] = []
    inf: list[tuple[str, str, int]] = []
    for name, shown, column, values in _float_columns(feeds, signature, fed):
        infinite = int(np.isinf(values).any(axis=1).sum())
        if infinite:
            inf.append((shown, column, infinite))
        missing = int(np.isnan(values).any(axis=1).sum()) if name not in takes_nan else 0
        if missing:
            nan.append((shown, column, missing))
    return nan, inf


def not_finite_rows(feeds: dict[str, Any], signature: Any, fed: list[str]) -> list[tuple[str, str, int]]:
    """Per data column, the rows holding NaN or infinity, each row counted once (one holding both in an
    array column as well): ``(the column as a message names it, the column, rows)``."""
    import numpy as np

    found = []
    for _name, shown, column, values in _float_columns(feeds, signature, fed):
        n = int((~np.isfinite(values)).any(axis=1).sum())
        if n:
            found.append((shown, column, n))
    return found


def _float_columns(feeds: dict[str, Any], signature: Any, fed: list[str]) -> list[tuple[str, str, str, Any]]:
    """The floating-point values of ``feeds`` per data column: ``(input, column as a message names it,
    column, [rows, values])``; an ``[N,k]`` input fed by k columns is split into them."""
    out = []
    for name, arr in feeds.items():
        if arr.dtype.kind != "f" or not arr.size:
            continue
        per_row = arr.reshape(len(arr), -1)
        if len(feeds) == 1 and per_row.shape[1] == len(fed) > 1:  # one [N,k] input fed by k columns
            out += [(name, repr(c), c, per_row[:, [j]]) for j, c in enumerate(fed)]
        else:
            out.append((name, signature.columns.describe(name), signature.columns.column_for(name), per_row))
    return out


def counted_rows(found: list[tuple[str, str, int]]) -> str:
    """``'a' (3 rows), 'b' (1 row)`` from :func:`non_finite_rows`' lists."""
    return ", ".join(f"{shown} ({n:,} row{'s' if n != 1 else ''})" for shown, _column, n in found)


def is_sql_package(model: Any) -> bool:
    """Whether ``model`` is a folder written by ``onnxgate package`` for a SQL target."""
    return _is_sql(package_manifest(model))


def _is_sql(manifest: Any) -> bool:
    return isinstance(manifest, dict) and isinstance(manifest.get("sql"), dict)

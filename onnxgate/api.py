"""The API layer: the one place that wires the packages together.

``converters/``, ``validators/`` and ``deploy/`` each know the core and never each other's insides
(validators may run a converter's native predict; deploy may call validate). What needs more than
one of them lives here:

* :func:`convert` converts (``converters``) and, for a SQL target, adapts the model to the
  ``PREDICT`` contract (:mod:`onnxgate.adaptation`, core), with what the converter knows of it;
* :func:`adapt` and :func:`package` first convert a :class:`~onnxgate.conversion.Conversion` again at
  the target's opset cap when it is above it (the native model is at hand, so nothing is lost);
* :func:`sweep` converts at each opset and validates each conversion.

``import onnxgate`` loads this module only when one of these is first used.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.conversion import Conversion
from onnxgate.errors import InvalidDataError, OnnxGateError

if TYPE_CHECKING:
    from onnxgate.targets import Target
    from onnxgate.validators.sweep import SweepResult

__all__ = ["adapt", "at_target_cap", "convert", "package", "package_files", "refuse_package_over_inputs", "sweep"]


def convert(
    model: Any,
    sample: Any = None,
    *,
    opset: int | None = None,
    target: str | Target | None = None,
    name: str | None = None,
    options: Mapping[str, Any] | None = None,
    precision: str | None = None,
    **kwargs: Any,
) -> Conversion:
    """Convert a scikit-learn, XGBoost, LightGBM, CatBoost, PyTorch, TensorFlow or Keras model to ONNX at the
    opset asked for.

    Parameters
    ----------
    model : object
        A fitted scikit-learn estimator or pipeline, a ``torch.nn.Module`` (or ``torch.export``
        program), a ``tf.Module``/``tf.function`` with an input signature or a SavedModel folder, or
        a Keras 3 model. The framework is detected from the model's type.
    sample : array-like, DataFrame or dict, optional
        Example input: fixes input names, element types and shapes. A DataFrame gives one input per
        column (scikit-learn); a polars DataFrame is read as the pandas one of the same columns.
        Required except for TensorFlow functions with an input signature.
    opset : int, optional
        Default-domain (ai.onnx) opset. Defaults to the framework's ``DEFAULT_OPSET``, capped by the
        target's. The ai.onnx.ml opset is the one released with it (capped by the target).
    target : str or Target, optional
        Convert for a deployment target: caps the opset, and for SQL targets adapts the model to the
        ``PREDICT`` contract (one ``[N,1]`` input per column, one value per row per output).
    name : str, optional
        Graph name.
    options : mapping, optional
        Framework-specific options (``zipmap``, ``input_names``, ``output_names``, ``dynamo``...).
    precision : {"auto", "float32", "float64"}, optional
        Floating-point precision of the graph, for converters that offer the choice (scikit-learn;
        the same as ``options={"precision": ...}``). ``"auto"`` (the default) keeps float64 where
        scikit-learn computes in float64 (a float64 or integer sample, text its vectorizers weigh
        in float64) and the double graph is well-typed and runs on the installed
        onnxruntime, else float32 (with a warning saying why). For a target whose onnxruntime is
        not the installed one (the SQL targets: 1.5.3, 1.12.1) ``"auto"`` means float32; ask for
        ``"float64"`` to keep double there: the nodes that runtime has no double kernel for (onnxgate's
        kernel table, probed on onnxruntime 1.5.2 and 1.12.1) are then computed in float32 between
        Casts, with a warning naming them.
    **kwargs
        Any further keyword of :func:`onnxgate.converters.convert`, passed on as given.

    Returns
    -------
    Conversion
        ``conv.opset`` is what the file says, never above the requested opset.

    Raises
    ------
    UnsupportedModelError
        No converter for this model, or the converter cannot convert part of it.
    OpsetError
        The requested opset is out of range, above the target's cap, or the framework cannot write it;
        the message names the highest opset that can be reached.

    Examples
    --------
    >>> import onnxgate as og
    >>> model, X, y = og.zoo.get("sklearn-iris-logreg").build()  # doctest: +SKIP
    >>> conv = og.convert(model, X, opset=15)  # doctest: +SKIP
    >>> conv.opset <= 15  # doctest: +SKIP
    True
    """
    from onnxgate import converters
    from onnxgate._data import from_polars
    from onnxgate.targets import resolve

    tgt = resolve(target, default=None)
    sample = from_polars(sample)
    conversion = converters.convert(
        model, sample, opset=opset, target=tgt, name=name, options=options, precision=precision, **kwargs
    )
    if tgt is not None and tgt.is_sql:
        from onnxgate.adaptation import adapt_conversion

        sample = conversion.sample  # as the converter read it (one row of a 1-D sample, onnxgate._data.one_row)
        conversion = adapt_conversion(at_target_cap(conversion, tgt, sample), tgt, sample=sample,
                                      is_classifier=_is_classifier(conversion))
    return conversion


def at_target_cap(conversion: Conversion, target: str | Target, sample: Any = None) -> Conversion:
    """The conversion, converted again at ``target``'s opset cap when it is above the caps.

    A conversion made without a target (or for another one) may be above a SQL target's caps; its
    native model (``conversion.source``) converts again at the cap with the same options, and a
    warning says so. A conversion within the caps, or without its native model, is returned as is
    (the adaptation then re-stamps the file when that changes nothing, or refuses it).

    Parameters
    ----------
    conversion : Conversion
    target : str or Target
    sample : optional
        The conversion sample (default: ``conversion.sample``).

    Returns
    -------
    Conversion
    """
    from onnxgate import converters
    from onnxgate._onnx import model_opsets
    from onnxgate.targets import resolve_target

    tgt = resolve_target(target)
    caps = tgt.max_opset or {}
    above = any(v > caps[d] for d, v in model_opsets(conversion.model).items() if d in caps)
    ir_above = tgt.max_ir_version is not None and conversion.model.ir_version > tgt.max_ir_version
    if not (above or ir_above) or conversion.source is None:
        return conversion
    sample = sample if sample is not None else conversion.sample
    cap = caps.get("", conversion.requested_opset)
    lowest = converters.registry.get(conversion.framework).min_opset_for(conversion.source)
    if lowest > cap:  # the re-conversion's own refusal said "opset 17 was asked for", blaming the user
        from onnxgate.errors import OpsetError

        raise OpsetError(
            f"target {tgt.name!r} runs at most opset {cap}, but the {conversion.framework} converter needs opset "
            f"{lowest} or higher for {type(conversion.source).__name__} (or a step inside it, a KNNImputer): no "
            "file for this target can hold it. Replace that step, or deploy to a target whose runtime is newer",
            opset=cap, framework=conversion.framework,
        )
    fresh = converters.convert(conversion.source, sample, opset=min(cap, conversion.requested_opset), target=None,
                               name=conversion.name, options=conversion.options)
    again = f"converted again at opset {fresh.opset} for target {tgt.name!r} (its cap is {cap})"
    warnings = [*conversion.warnings, again]
    return dataclasses.replace(conversion, model=fresh.model, opset=fresh.opset, requested_opset=fresh.requested_opset,
                               warnings=tuple(warnings))


def _is_classifier(conversion: Conversion) -> bool | None:
    """What the conversion's converter says (None: judged from the graph by the adaptation)."""
    from onnxgate.converters import registry

    if conversion.source is None:
        return None
    try:
        return bool(registry.get(conversion.framework).is_classifier(conversion.source))
    except Exception:  # a framework without a converter here: judge from the graph
        return None


def adapt(
    model: Any,
    target: str | Target,
    *,
    columns: Sequence[str] | None = None,
    column_types: Mapping[str, str] | None = None,
    reference: Any = None,
) -> Any:
    """Rewrite a model so T-SQL ``PREDICT`` on ``target`` can score it.

    A :class:`~onnxgate.conversion.Conversion` above the target's caps is converted again at the cap
    first (:func:`at_target_cap`), then :func:`onnxgate.adaptation.adapt` rewrites it.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
        A finished file above the caps is re-stamped only when that changes nothing, else
        :class:`~onnxgate.errors.OpsetError`.
    target : str or Target
        A SQL target (``"sql-edge-1.0"``, ``"sql-edge-2.0"``, ``"synapse"``).
    columns : sequence of str, optional
        Table column names for the values of the ``[N,k]`` inputs, in order.
    column_types : mapping of str to str, optional
        Element type of a table column (``{"age": "int64"}``).
    reference : object, optional
        The native model, for class names (``classes_``) of per-class probability outputs.

    Returns
    -------
    Conversion or onnx.ModelProto
        The same kind as given (a path or bytes give a ModelProto).

    Raises
    ------
    OpsetError
        The model is above the target's caps and cannot be re-stamped; names the operators.
    UnsupportedModelError
        An input or output cannot be one table column.
    InvalidDataError
        ``columns`` has the wrong length or repeats names.

    Examples
    --------
    >>> import onnxgate as og
    >>> adapted = og.adapt("mlp.onnx", "sql-edge-2.0")  # doctest: +SKIP
    """
    from onnxgate import adaptation

    is_classifier = None
    if isinstance(model, Conversion):
        model = at_target_cap(model, target)
        is_classifier = _is_classifier(model)
    return adaptation.adapt(model, target, columns=columns, column_types=column_types, reference=reference,
                            is_classifier=is_classifier)


def package(
    model: Any,
    *,
    target: str | Target,
    out: str | os.PathLike[str],
    reference: Any = None,
    data: Any = None,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Validate a model for ``target`` and write what that target needs into the folder ``out``.

    A :class:`~onnxgate.conversion.Conversion` above a SQL target's caps is converted again at the
    cap first (:func:`at_target_cap`), then :func:`onnxgate.deploy.package` validates and writes.

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
    **options
        Target-specific options (see :func:`onnxgate.deploy.package`).

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
        ``out`` is not empty and ``overwrite`` is false, or the package would replace ``model``,
        ``reference`` or ``data`` given as a path inside ``out`` (:func:`refuse_package_over_inputs`), even
        with ``overwrite``.

    Examples
    --------
    >>> import onnxgate as og
    >>> og.package(conv, target="sql-edge-2.0", out="dist/")  # doctest: +SKIP
    """
    from onnxgate import deploy
    from onnxgate._data import from_polars
    from onnxgate.targets import resolve_target

    tgt = resolve_target(target)
    if not isinstance(out, (str, os.PathLike)):
        from onnxgate.errors import PackagingError

        raise PackagingError(f"out: expected the package folder's path (str or os.PathLike), found {out!r}; "
                             "pass e.g. out=\"dist/model\"")
    if not isinstance(overwrite, bool):  # overwrite="no" is true, and replaces files
        from onnxgate.errors import PackagingError

        raise PackagingError(f"overwrite: expected True or False, found {overwrite!r}")
    refuse_package_over_inputs(out, tgt, {"the model being packaged": model, "the reference model": reference,
                                          "the data": data})
    if isinstance(model, Conversion) and data is None and (reference is not None or model.source is not None):
        from onnxgate.validators.core import refuse_sample_without_rows

        refuse_sample_without_rows(model)  # the parity data, when no data is given
    if isinstance(model, Conversion) and tgt.is_sql:
        model = at_target_cap(model, tgt)
    return deploy.package(model, target=tgt, out=out, reference=reference, data=from_polars(data), overwrite=overwrite,
                          **options)


def package_files(target: Target) -> frozenset[str] | None:
    """The names of the files a package for ``target`` writes into its folder, or None when they are not
    known before it is written (MLflow names the files of an ``mlflow`` package).

    Examples
    --------
    >>> import onnxgate as og
    >>> sorted(package_files(og.targets.get("sql-edge-2.0")))[:2]  # doctest: +SKIP
    ['01_create_model_table.sql', '02_insert_model.sql']
    """
    from onnxgate.deploy import container, sql

    if target.is_sql:
        return frozenset(sql.PACKAGE_FILES)
    if target.name == "mlflow":
        return None
    return frozenset(container.PACKAGE_FILES)


def refuse_package_over_inputs(out: str | os.PathLike[str], target: Target, inputs: Mapping[str, Any]) -> None:
    """Refuse to write a package into ``out`` when it would replace one of the files it is made from.

    Writing over a folder (``overwrite=True``, CLI ``--force``) replaces every file the package writes
    (:func:`package_files`) and every file an earlier package there lists in its ``manifest.json``; the
    user's other files are kept. An input inside ``out`` under one of those names (``model.onnx`` of a
    folder exported by ``onnxgate zoo export``, packaged back into it) would be lost: refused, with or
    without ``overwrite``. For a target whose file names are not known beforehand (``mlflow``), any input
    inside ``out`` is refused.

    Parameters
    ----------
    out : path
        The package folder.
    target : Target
    inputs : mapping
        What each input is (``"the model being packaged"``, ``"--data"``) -> its path; values that are not
        paths (a Conversion, a loaded model, an array) or None are skipped.

    Raises
    ------
    OutputExistsError
        The first input the package would replace, naming it, the file and what to do.

    Examples
    --------
    >>> import onnxgate as og
    >>> refuse_package_over_inputs("dist", og.targets.get("container"),
    ...                            {"the model": "dist/model.onnx"})  # doctest: +SKIP
    Traceback (most recent call last):
    OutputExistsError: cannot package into 'dist': ...
    """
    import json

    from onnxgate.errors import OutputExistsError

    folder = Path(out)
    if not folder.is_dir():
        return  # nothing in it to replace
    root = folder.resolve()
    names = package_files(target)
    earlier: set[str] = set()
    try:
        listed = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("files", [])
        earlier = {Path(str(rel)).parts[0] for rel in listed if str(rel)}
    except (OSError, ValueError, TypeError, AttributeError, IndexError):
        pass  # no earlier package, or a manifest the writer does not read either
    for what, path in inputs.items():
        if not isinstance(path, (str, os.PathLike)) or not Path(path).exists():
            continue
        try:
            entry = Path(path).resolve().relative_to(root).parts[0]
        except (ValueError, IndexError):
            continue  # outside the folder (or the folder itself)
        if names is None:
            why = f"the {target.name} package's files are named by MLflow and may replace it"
        elif entry in names:
            why = f"the package writes its own {entry!r} there"
        elif entry in earlier:
            why = f"the earlier package there lists {entry!r}, which writing a package over it removes"
        else:
            continue
        raise OutputExistsError(
            f"cannot package into {str(folder)!r}: it holds {what}, {str(path)!r}, and {why}, even with --force "
            f"(overwrite=True); package into another folder, or move {str(path)!r} out of {str(folder)!r} first",
            path=str(path),
        )


def sweep(
    model: Any,
    sample: Any,
    opsets: Iterable[int],
    *,
    target: str | Target | None = None,
    data: Any = None,
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    search: int = 0,
    seed: int = 0,
    search_time_limit: float | None = None,
    **convert_kwargs: Any,
) -> SweepResult:
    """Convert ``model`` at each opset, validate each against ``target`` with parity, report the matrix.

    Parameters
    ----------
    model : object
        A native model of a registered framework.
    sample : array-like or DataFrame
        The conversion sample; also the parity data unless ``data`` is given.
    opsets : iterable of int
    target : str or Target, optional
        Default ``"onnxruntime"``.
    data : optional
        Rows for parity (default: ``sample``).
    atol, rtol : optional
        Parity tolerances, as in :func:`onnxgate.validate`.
    search, seed, search_time_limit : optional
        The divergence search at every opset, as in :func:`onnxgate.validate` (default: none, parity
        on the rows only). An opset whose search finds a divergent input does not pass.
    **convert_kwargs
        Passed to :func:`convert` at every opset.

    Returns
    -------
    SweepResult
        ``best_opset`` is the highest opset that converts and passes every check.

    Raises
    ------
    InvalidDataError
        The sample does not fit the model (at any opset), or ``opsets`` is empty or names an opset twice.

    Examples
    --------
    >>> from onnxgate.api import sweep
    >>> result = sweep(clf, X, range(9, 19), target="sql-edge-2.0")  # doctest: +SKIP
    >>> result.best_opset  # doctest: +SKIP
    17
    """
    from onnxgate.converters import registry
    from onnxgate.targets import resolve_target
    from onnxgate.validators.core import check_run_settings, validate
    from onnxgate.validators.sweep import SweepResult, row_of

    tgt = resolve_target(target)
    framework = registry.for_model(model).framework
    # refused before the first conversion, not after it
    check_run_settings(atol=atol, rtol=rtol, search=search, seed=seed, search_time_limit=search_time_limit)
    asked = list(opsets)
    twice = sorted({o for o in asked if asked.count(o) > 1}, key=str)
    if not asked or twice:
        # as the CLI's --opsets: [13, 13] is more likely a slip for [13, 14], and the matrix had one row fewer than
        # asked without a word
        raise InvalidDataError(
            f"opsets {asked!r} " + ("names no opset" if not asked else
                                     f"names opset(s) {', '.join(map(str, twice))} more than once")
            + "; name each opset to sweep once, e.g. range(13, 19)"
        )
    rows = []
    for opset in sorted(set(asked)):
        try:
            conv = convert(model, sample, opset=opset, target=tgt, **convert_kwargs)
        except InvalidDataError:
            raise  # the sample is wrong at every opset: an input error, not a row of the matrix
        except OnnxGateError as err:
            rows.append(row_of(opset, error=err))
            continue
        report = validate(conv, tgt, reference=model, data=sample if data is None else data, atol=atol, rtol=rtol,
                          search=search, seed=seed, search_time_limit=search_time_limit)
        rows.append(row_of(opset, conversion=conv, report=report))
    return SweepResult(target=tgt.name, rows=tuple(rows), framework=framework)

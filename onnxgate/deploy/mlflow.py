"""The MLflow package: a validated ONNX model as a standard MLflow model directory.

``package_mlflow`` (``og.package(conv, target="mlflow", out=DIR)``, ``onnxgate package --target
mlflow -o DIR``) validates the model for the ``mlflow`` target (the container's caps: tensor outputs,
a dynamic batch axis) and writes, with :func:`mlflow.onnx.save_model`:

==========================  =====================================================================
``MLmodel``                 the ``onnx`` and ``python_function`` flavors, the signature, the example
``model.onnx``              the validated model, one file (no external data)
``input_example.json``      rows of the sample (``serving_input_example.json``: the REST form)
``requirements.txt``        mlflow, onnx, onnxruntime, numpy, pandas pinned to the installed versions
``conda.yaml``              the same pins for conda; ``python_env.yaml`` for virtualenv
``report.json``             the validation report that allowed packaging (``report.html`` too when
                            the extra ``report`` is installed)
``manifest.json``           hashes, signature, validation summary, versions (as every package)
==========================  =====================================================================

The signature comes from the model's :class:`~onnxgate.signature.Signature`, shaped so that
``mlflow.pyfunc.load_model(DIR).predict(df)`` feeds a DataFrame the way the model expects:

- one ``[N]`` input per column: a column-based schema (``ColSpec`` per input), when each output holds one value
  per row and there are several; else a named ``TensorSpec`` ``(-1,)`` per input, since MLflow answers a
  column-based schema's frame with a frame of each output flattened (an ``[N,k]`` output came back as ``N*k``
  rows), and feeds a single input the whole frame (``[N,1]``: "Invalid rank");
- one ``[N,1]`` input per column (a SQL-adapted model): a named ``TensorSpec`` of shape ``(-1, 1)`` per
  input. A ``ColSpec`` would hand onnxruntime a rank-1 column and fail ("Invalid rank"); MLflow
  reshapes a DataFrame column to a named tensor's shape;
- a single ``[N,F]`` input that takes the named columns the model was fitted on by position (converted from
  an array sample, :attr:`~onnxgate.signature.TensorSpec.fitted_columns`): the package's ``model.onnx`` takes
  one ``[N,1]`` input per fitted column, named as it and joined in the fitted order, with a named
  ``TensorSpec`` ``(-1, 1)`` per column, so MLflow takes a DataFrame's columns by name, in any order. An
  unnamed tensor fed them by position: a frame with the columns reversed answered 101 of 150 iris labels
  otherwise than the model, silently. ``predict`` refuses a plain array there ("Model is missing inputs");
  give it ``pd.DataFrame(X, columns=[...])``. The names are the ones the model records: LightGBM's, with
  ``_`` for a space (``sepal_length_(cm)``), so rename a frame's columns so first. The manifest lists the
  split under ``mlflow.split_inputs``;
- any other single ``[N,F]`` input: one unnamed ``TensorSpec`` ``(-1, F)``, so a DataFrame of ``F`` columns
  (or an array) is the input;
- anything else: a named ``TensorSpec`` per input (call ``predict`` with a dict of arrays).

An input of category codes (:attr:`~onnxgate.signature.TensorSpec.codes`) takes the category values instead, mapped to
the codes in the graph (``mlflow.category_values`` in the manifest): MLflow hands the model a category column's
values, which were read as codes. A file whose record of those categories is not the reference's own is refused as
validate fails it, before that record is turned into the lookup. An output of class codes whose text labels the
file records (:attr:`~onnxgate.signature.TensorSpec.labels`: a classifier of text labels converted for SQL) returns
the labels (``mlflow.class_labels``), as the classifier and ``onnxgate score`` answer.

Inputs made from a DataFrame's columns are named after those columns again in the package's
``model.onnx`` (``sepal_length__cm_`` becomes ``sepal length (cm)``), since MLflow matches a DataFrame
to the signature by name; the manifest lists them under ``mlflow.renamed_inputs``. MLflow checks a named
column's type on its value at index label 0, so ``predict`` refuses a frame whose index lacks 0 (a
``train_test_split`` part, a filtered frame: "Failed to enforce schema ... Error: 0"); the docs say to pass
``frame.reset_index(drop=True)``.

:func:`register_mlflow_model` logs the written directory, unchanged, as a run's artifacts in an
MLflow tracking store and registers it under a name. A ``file:`` store is MLflow's filesystem
backend, which MLflow 3 keeps in maintenance mode behind ``MLFLOW_ALLOW_FILE_STORE``; onnxgate sets
that variable only for the duration of the call. When the store has no model registry the
directory stays logged as run artifacts and the result says so.
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path, PosixPath, WindowsPath
from typing import Any

from onnxgate._category_codes import missing_refused_reason
from onnxgate._files import refuse_filled_folder
from onnxgate._onnx import model_name, write_folder_atomically
from onnxgate.errors import PackagingError, missing_dependency
from onnxgate.signature import (
    BY_INPUT_METADATA_KEYS,
    CATEGORY_CODES_METADATA_KEY,
    MISSING_TEXT_METADATA_KEY,
    UNSEEN_MISSING_METADATA_KEY,
)

__all__ = ["DEFAULT_REGISTRY", "EXAMPLE_ROWS", "OPTIONS", "MlflowPackage", "package_mlflow", "register_mlflow_model",
           "require_mlflow"]

#: Rows of the sample kept as the model's input example.
EXAMPLE_ROWS = 5
#: Options package_mlflow understands (beyond model/target/out/reference/data/overwrite).
OPTIONS = ("registry", "name", "atol", "rtol", "search", "seed")
#: Tracking store used when ``registry=True`` (CLI: ``--registry`` without a URI).
DEFAULT_REGISTRY = "file:./mlruns"
#: Experiment the registering runs go to.
EXPERIMENT = "onnxgate"
#: Distributions pinned in requirements.txt, with the versions found at packaging time.
REQUIREMENTS = ("onnx", "onnxruntime", "numpy", "pandas")

# the concrete Path class of this system: pathlib.Path itself cannot be subclassed before Python 3.12
if sys.platform == "win32":
    _SystemPath = WindowsPath
else:
    _SystemPath = PosixPath


class MlflowPackage(_SystemPath):
    """The folder :func:`package_mlflow` wrote (a :class:`~pathlib.Path`, used as one), with what registering it
    in a tracking store returned.

    ``registration`` is None when no ``registry`` was given, else the dict :func:`register_mlflow_model` returns:
    ``name``, ``registered``, ``version``, ``model_uri`` (``models:/NAME/VERSION``, or ``runs:/...`` when the store
    has no model registry, which ``note`` then says), ``run_id``, ``artifact_uri``, ``tracking_uri``. A path
    derived from it (``folder / "MLmodel"``, ``folder.parent``) has ``registration`` None.
    """

    registration: dict[str, Any] | None = None


def package_mlflow(
    model: Any,
    *,
    target: Any,
    out: str | os.PathLike[str],
    reference: Any = None,
    data: Any = None,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Validate ``model`` for the ``mlflow`` target and write an MLflow model directory into ``out``.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
    target : Target
        The resolved ``mlflow`` target.
    out : path
        A new or empty folder; it appears complete or not at all.
    reference, data : optional
        Native model and rows for the parity check; a ``Conversion`` supplies its own. ``data``
        also gives the input example.
    overwrite : bool
        Replace files in a non-empty folder.
    **options
        ``registry`` (tracking URI, or True for :data:`DEFAULT_REGISTRY`): also log and register the
        package there; ``name`` (registered model name, default the graph's name); ``atol``,
        ``rtol`` (parity tolerances), ``search``, ``seed`` (the divergence search first).

    Returns
    -------
    MlflowPackage
        ``out``, a :class:`~pathlib.Path` whose ``registration`` holds what :func:`register_mlflow_model`
        returned with ``registry`` (the registered model's ``name`` and ``version``, its ``model_uri``), else None.
        When the store has no model registry the package is logged as run artifacts only: ``registration``
        says so (``registered`` false, a ``note``) and a :class:`UserWarning` is issued.

    Raises
    ------
    ValidationFailedError
        The model fails a check of the target; nothing is written.
    OutputExistsError
        ``out`` is not empty and ``overwrite`` is false.
    PackagingError
        An unknown option, or a model MLflow cannot describe.
    MissingDependencyError
        mlflow is not installed (the extra ``mlflow``).

    Examples
    --------
    >>> import onnxgate as og
    >>> og.package(conv, target="mlflow", out="dist/iris-mlflow")  # doctest: +SKIP
    MlflowPackage('dist/iris-mlflow')
    >>> og.package(conv, target="mlflow", out="dist/iris-reg", registry="file:./mlruns").registration  # doctest: +SKIP
    {'name': 'iris', 'registered': True, 'version': '1', 'model_uri': 'models:/iris/1', ...}
    >>> import mlflow.pyfunc  # doctest: +SKIP
    >>> mlflow.pyfunc.load_model("dist/iris-mlflow").predict(X[:5])  # doctest: +SKIP

    ``X[:5]`` as an array is fed by position to a model converted without column names; a model fitted on
    named columns takes a DataFrame with those names (in any order) and refuses an array.
    """
    from onnxgate._onnx import load_model, repair_layout
    from onnxgate.deploy.container import _validate
    from onnxgate.signature import Signature

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise PackagingError(f"unknown mlflow option(s) {unknown}; expected some of {list(OPTIONS)}")
    require_mlflow()
    folder = Path(out)
    refuse_filled_folder(folder, overwrite=overwrite)
    if hasattr(model, "source") and hasattr(model, "sample"):  # each of its own not given, as a SQL package
        reference = model.source if reference is None else reference
        data = model.sample if data is None else data
    # repaired first (onnxgate._onnx.repair_layout): the rewrites below read the nodes in topological order
    proto, repairs = repair_layout(load_model(model))
    _refuse_codes_off_reference(proto, target, reference, data, options)
    proto, named = _with_user_columns(proto)
    proto, split = _fitted_columns_by_name(proto)
    named = {**named, **split}
    proto, missing_text = _missing_text_in_graph(proto)
    if missing_text:
        named["missing_text"] = missing_text
    proto, missing_refused = _missing_refused_in_graph(proto)
    if missing_refused:
        named["missing_refused"] = missing_refused
    proto, integer_categories = _integer_categories_checked_in_graph(proto)
    if integer_categories:
        named["integer_categories"] = integer_categories
    proto, category_values = _category_values_in_graph(proto)
    if category_values:
        named["category_values"] = category_values
        for name, said in category_values.items():
            if not said["codes_refused"]:
                warnings.warn(f"onnxgate: the MLflow package takes {name!r} as the category values "
                              f"{said['categories'][:10]}, some of which are also codes "
                              f"(0..{len(said['categories']) - 1}): a column of codes (.cat.codes) is read as those "
                              "values, not refused; send the values", UserWarning, stacklevel=4)
    proto, class_labels = _class_labels_in_graph(proto)
    if class_labels:
        named["class_labels"] = class_labels
    # the file shipped is the one validated: report.json's sha256 and inputs are model.onnx's own
    report = _validate(proto, target, reference, data, options)
    sig = Signature.from_model(proto)
    labels = _integer_labels(sig, data)
    if labels:
        named["column_labels"] = (f"MLflow matches a DataFrame's columns to the inputs by name, as text: the inputs "
                                  f"{labels} are a frame's integer column labels, and MLflow refuses that frame "
                                  "(\"Model is missing inputs\"); give predict frame.rename(columns=str)")
        warnings.warn(f"onnxgate: {named['column_labels']}", UserWarning, stacklevel=4)
    files = _mlflow_files(proto, sig, data)
    files["report.json"] = report.to_json() + "\n"
    html_note = ""
    try:
        files["report.html"] = report.to_html()
    except ImportError as err:  # MissingDependencyError: the extra "report" is optional here
        html_note = str(err)

    from onnxgate.deploy.manifest import build_manifest, dumps

    manifest = build_manifest(
        files["model.onnx"] if isinstance(files["model.onnx"], bytes) else b"",
        model=proto, target=target, report=report, files=[*files, "manifest.json"],
        extra={"mlflow": {"flavors": ["onnx", "python_function"], "signature": _schema_kind(sig),
                          "requirements": _requirements(), **named,
                          **({"report_html": f"not written: {html_note}"} if html_note else {})}},
    )
    if repairs:
        manifest["model"]["repairs"] = repairs
    files["manifest.json"] = dumps(manifest)
    write_folder_atomically(folder, files, overwrite=overwrite)
    packaged = MlflowPackage(folder)
    registry = options.get("registry")
    if registry:
        named_as = options.get("name") or model_name(proto, model) or folder.name
        packaged.registration = register_mlflow_model(folder, DEFAULT_REGISTRY if registry is True else str(registry),
                                                      name=named_as)
        if not packaged.registration["registered"]:  # the CLI prints this note; a caller of the API is warned
            warnings.warn(f"onnxgate: {str(folder)!r} was {packaged.registration['note']}", UserWarning,
                          stacklevel=4)  # og.package -> deploy.package -> here
    return packaged


def _refuse_codes_off_reference(proto: Any, target: Any, reference: Any, data: Any, options: dict[str, Any]) -> None:
    """Fail the package as validate fails the file given, when the categories it records for an input of category codes
    are not the reference's own (:func:`onnxgate.validators.parity.codes_off_reference_result`).

    The package validates the file it ships, in which :func:`_category_values_in_graph` has made the lookup from
    values to codes out of that record and dropped it: parity saw no record to compare with the reference's, and an
    XGBoost file whose record was edited alike in both its copies (a category dropped, two swapped; validate fails it
    for every target) was packaged, its ``predict`` scoring 'red' as the category swapped with it. The file given is
    validated only when its record is off, so a sound model is validated once, as before."""
    if reference is None or data is None:
        return
    from onnxgate.deploy.container import _validate
    from onnxgate.errors import ValidationFailedError
    from onnxgate.validators.parity import codes_off_reference_result

    off_reference = codes_off_reference_result(reference, proto)
    if off_reference is None:
        return
    report = _validate(proto, target, reference, data, options)  # raises with validate's report
    raise ValidationFailedError(f"the model fails validation for target {target.name!r}, so it was not packaged: "
                                f"{off_reference.message}", report=report)


def check_registered_name(name: str) -> None:
    """Refuse a name MLflow's registry refuses ('/' and ':' are not allowed in it), before anything is
    written or logged: the registration failed after the run was logged, and was reported as a store
    without a registry, exit 0 (helper-76).

    Raises
    ------
    PackagingError
        The name holds '/' or ':', or is empty.
    """
    if not str(name).strip() or any(c in str(name) for c in "/:"):
        raise PackagingError(f"the registered model name {name!r} is not one MLflow takes: give a non-empty name "
                             "without '/' or ':' (--name NAME)")


def check_tracking_uri(uri: str) -> None:
    """Refuse a tracking URI whose scheme the installed MLflow has no store for, before anything is written:
    ``package --registry bogus://x`` wrote the package, then failed to log it (exit 2, with the store's
    exception and a note that the package was kept). MLflow's own table of schemes is asked (``file:`` or a
    bare path, ``http(s)://``, ``databricks``, a plugin's; ``sqlite:``, ``postgresql:``, ``mysql:`` and
    ``mssql:`` when SQLAlchemy is installed), without opening the store.

    Raises
    ------
    PackagingError
        MLflow has no tracking store for the URI's scheme.
    """
    require_mlflow()
    from mlflow.store.db.db_types import DATABASE_ENGINES
    from mlflow.tracking._tracking_service import utils
    from mlflow.utils.uri import get_uri_scheme

    # MLflow's table of stores by scheme; under another MLflow's layout, the store says so when the run is logged
    known = list(getattr(getattr(utils, "_tracking_store_registry", None), "_registry", None) or ())
    if not known:
        return
    if uri in known or get_uri_scheme(uri) in known:
        return
    scheme = get_uri_scheme(uri)
    database = any(scheme.startswith(engine) for engine in DATABASE_ENGINES)
    raise PackagingError(
        f"tracking URI {uri!r}: MLflow has no tracking store for scheme {scheme!r}; it takes "
        f"{', '.join(repr(k) for k in known if k)} or a folder path (e.g. file:./mlruns, http://host:5000, "
        "databricks)" + ("; a database store needs SQLAlchemy (pip install sqlalchemy, or the full mlflow "
                         "package)" if database else "") + ". Nothing was written or logged")


def register_mlflow_model(folder: str | os.PathLike[str], registry: str = DEFAULT_REGISTRY, *,
                          name: str) -> dict[str, Any]:
    """Log an MLflow model directory (as written by :func:`package_mlflow`) to a tracking store and register it.

    The directory is logged unchanged as the artifacts of a new run of the experiment ``onnxgate``
    (``artifact_path=name``), then registered as a new version of the model ``name``. A client of its
    own is used: MLflow's global tracking URI is not changed.

    Parameters
    ----------
    folder : path
        The MLflow model directory.
    registry : str
        A tracking URI: ``file:./mlruns``, ``sqlite:///mlflow.db``, ``http://host:5000``, ``databricks``...
    name : str
        The registered model's name.

    Returns
    -------
    dict
        ``name`` (the registered model's), ``tracking_uri``, ``run_id``, ``artifact_uri``, ``model_uri``
        (``models:/name/version`` when registered, else ``runs:/...``), ``registered`` (bool), ``version``, ``note``.

    Raises
    ------
    PackagingError
        ``folder`` is not an MLflow model directory, its ``model.onnx`` is not the one its ``manifest.json``
        records (the model validated), ``name`` is empty, or the store refuses the run.

    Examples
    --------
    >>> register_mlflow_model("dist/iris-mlflow", "file:./mlruns", name="iris")  # doctest: +SKIP
    {'model_uri': 'models:/iris/1', 'registered': True, ...}
    """
    require_mlflow()
    from mlflow.tracking import MlflowClient

    path = Path(folder)
    if not (path / "MLmodel").is_file():
        raise PackagingError(f"{str(path)!r} is not an MLflow model directory (no MLmodel file)")
    from onnxgate._package_rules import check_package_model

    # the registry serves what is logged: a model.onnx replaced since packaging was registered and scored
    # by mlflow.pyfunc unchecked (35 of 150 iris labels off the validated model's; helper-142)
    check_package_model(path, manifest_required=False)
    if not name or not str(name).strip():
        raise PackagingError("a registered model needs a name (CLI: --name NAME)")
    name = str(name).strip()
    check_registered_name(name)
    check_tracking_uri(registry)
    with _file_store_allowed(registry):
        try:
            # A client of its own: MLflow's global tracking URI (the user's) is left alone.
            client = MlflowClient(tracking_uri=registry, registry_uri=registry)
            experiment = client.get_experiment_by_name(EXPERIMENT)
            experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
            run = client.create_run(experiment_id, run_name=f"onnxgate package {name}",
                                    tags={"onnxgate.package": "mlflow", "onnxgate.model": name})
            client.log_artifacts(run.info.run_id, str(path), artifact_path=name)
            client.set_terminated(run.info.run_id)
        except Exception as err:
            raise PackagingError(f"the tracking store {registry!r} refused the run: {type(err).__name__}: "
                                 f"{' '.join(str(err).split())[:300]}") from err
        runs_uri = f"runs:/{run.info.run_id}/{name}"
        result: dict[str, Any] = {
            "name": name, "tracking_uri": registry, "run_id": run.info.run_id,
            "artifact_uri": f"{run.info.artifact_uri}/{name}",
            "model_uri": runs_uri, "registered": False, "version": None, "note": "",
        }
        try:
            try:
                client.create_registered_model(name)
            except Exception as err:
                if getattr(err, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise
            version = client.create_model_version(name, source=result["artifact_uri"], run_id=run.info.run_id)
        except Exception as err:  # a store without a model registry: the artifacts stay logged
            said = " ".join(str(err).split())[:200]
            if getattr(err, "error_code", "") == "INVALID_PARAMETER_VALUE":  # the registry refused what it was given
                raise PackagingError(f"the model registry of {registry!r} refused the registration ({said}); "
                                     f"the run's artifacts are logged at {runs_uri}") from err
            result["note"] = (f"logged as run artifacts only ({runs_uri}): the store has no model registry "
                              f"({type(err).__name__}: {said})")
            return result
        result.update(registered=True, version=str(version.version), model_uri=f"models:/{name}/{version.version}")
    return result


# -- the MLflow directory -----------------------------------------------------------------------------


def require_mlflow() -> None:
    """Fail with the extra's name when mlflow is not installed."""
    try:
        import mlflow.onnx  # noqa: F401
    except ImportError as err:
        # mlflow.onnx imports pandas, which mlflow-skinny does not require: with mlflow-skinny installed
        # beside a base onnxgate, 'needs mlflow-skinny' sent the user to install what they had (helper-204)
        missing = (getattr(err, "name", None) or "mlflow").split(".")[0]
        package = "mlflow-skinny" if missing == "mlflow" else missing
        raise missing_dependency(package, "mlflow", "Packaging an MLflow model") from err


#: MLflow's HTTP settings for a tracking server, where the user set none: MLflow's own defaults (7
#: retries with a doubling backoff) kept ``package --registry`` on a server that is down for about
#: four minutes before it failed.
_HTTP_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                  "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """For the block: MLflow 3 refuses its filesystem store unless ``MLFLOW_ALLOW_FILE_STORE`` is set,
    so it is set for a file store; a server gets bounded retries (:data:`_HTTP_SETTINGS`) unless the
    user set MLflow's variables."""
    settings: dict[str, str] = {}
    if uri.startswith("file:") or ("://" not in uri and ":" not in uri):  # file:... or a bare path
        settings["MLFLOW_ALLOW_FILE_STORE"] = "true"
    elif uri.startswith(("http://", "https://")):
        settings = {k: v for k, v in _HTTP_SETTINGS.items() if k not in os.environ}
    previous = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _with_user_columns(proto: Any) -> tuple[Any, dict[str, Any]]:
    """``proto`` with each per-column input named as the user's column, and what the manifest says of it.

    MLflow enforces a DataFrame against the signature's names and hands ``frame[name]`` to the input of
    that name, so a package whose inputs keep the exporter's names (``sepal_length__cm_``) refused the
    DataFrame the model was fitted on ("Failed to enforce schema"). The inputs are renamed, nothing
    else in the graph changes but an intermediate value that had a column's name (moved aside), and the
    recorded mapping becomes one name per column. When a column is named as one of the model's outputs
    (``label``), or one is the empty name, the input names stay as they were and the manifest says how to rename
    the DataFrame.
    """
    import onnx

    from onnxgate.adaptation.graph import graph_names, rename_tensor
    from onnxgate.adaptation.mapping import ADAPT_METADATA_KEY
    from onnxgate.columns import COLUMNS_METADATA_KEY, ColumnMap
    from onnxgate.signature import Signature

    sig = Signature.from_model(proto)
    if not sig.columns.renamed or _layout(sig)[0] not in ("columns", "column-tensors"):
        return proto, {}
    renames = {t.name: sig.columns.column_for(t.name) for t in sig.inputs}
    renames = {old: new for old, new in renames.items() if old != new}
    taken = graph_names(proto.graph) - set(renames)
    ends = {v.name for v in [*proto.graph.input, *proto.graph.output]}
    clashes = sorted(new for new in renames.values() if new in taken & ends)
    # an ONNX value named '' is no value: an input renamed to an empty column name made a file the checker and
    # onnxruntime refuse, and packaging failed saying to re-export the model (an XGBoost frame with a '' column)
    empty = "" in renames.values()
    if clashes or empty:  # an output (or input) of that name is the model's interface: it is not renamed away
        why = (f"the column(s) {clashes} are also names of the model's outputs or inputs" if clashes else
               "an ONNX input cannot be named '' (the empty column name)")
        return proto, {"input_names": f"kept the model's input names: {why}, so MLflow's predict takes a "
                                      "DataFrame with the input names (renamed_columns maps the data's columns "
                                      "to them)",
                       "renamed_columns": {new: old for old, new in renames.items()}}
    named = onnx.ModelProto()
    named.CopyFrom(proto)
    for inner in sorted(new for new in renames.values() if new in taken):  # an intermediate value: moved aside
        rename_tensor(named.graph, inner, _unused_name(graph_names(named.graph) | set(renames.values()), inner))
    for old, new in renames.items():
        rename_tensor(named.graph, old, new)
    same = ColumnMap.from_pairs((new, new) for new in (renames.get(t.name, t.name) for t in sig.inputs))
    for prop in list(named.metadata_props):
        if prop.key == COLUMNS_METADATA_KEY:
            named.metadata_props.remove(prop)
        elif prop.key in BY_INPUT_METADATA_KEYS:
            # recorded by input name: left under the old names, the renamed input lost what it says (a text
            # column's missing value was refused at packaging, as if the model could not read one)
            try:
                recorded = json.loads(prop.value)
            except ValueError:
                continue
            if isinstance(recorded, dict):
                prop.value = json.dumps({renames.get(k, k): v for k, v in recorded.items()}, ensure_ascii=False)
        elif prop.key == ADAPT_METADATA_KEY:
            prop.value = json.dumps(_renamed_adaptation(json.loads(prop.value), renames), sort_keys=True)
    # written even though nothing is renamed now: a SQL-adapted model's older record would otherwise be read
    named.metadata_props.add(key=COLUMNS_METADATA_KEY, value=same.to_json())
    return named, {"input_names": "the user's column names", "renamed_inputs": renames}


def _fitted_columns_by_name(proto: Any) -> tuple[Any, dict[str, Any]]:
    """``proto`` with its one ``[N,F]`` input, which takes the named columns the model was fitted on by position
    (:attr:`onnxgate.signature.TensorSpec.fitted_columns`), fed by one ``[N,1]`` input per column, named as the
    column and joined in the fitted order (a ``Concat`` before the graph); and what the manifest says of it.

    MLflow's signature for one ``[N,F]`` input is an unnamed tensor ``(-1, F)``: ``predict`` fed a DataFrame's
    columns by position, so a frame holding the fitted columns in another order was scored on the wrong ones,
    silently (101 of 150 iris labels of a RandomForest off the model's). A named tensor per column makes MLflow
    take each by name. The split is recorded as an adaptation (:mod:`onnxgate.adaptation.mapping`, kind
    ``split``), by which parity feeds the native model the columns put back together. A column named as a value
    the graph already has (an output) leaves the model as it was, and the manifest says so.
    """
    import onnx
    from onnx import helper

    from onnxgate.adaptation.graph import graph_names
    from onnxgate.adaptation.mapping import ADAPT_METADATA_KEY, ADAPT_METADATA_VERSION, set_metadata
    from onnxgate.signature import FITTED_COLUMNS_METADATA_KEY, Signature

    sig = Signature.from_model(proto)
    if _layout(sig)[0] != "tensor" or any(p.key == ADAPT_METADATA_KEY for p in proto.metadata_props):
        return proto, {}
    only = sig.inputs[0]
    fitted = list(only.fitted_columns or ())
    if len(fitted) < 2 or only.width != len(fitted):  # one column has no order to get wrong
        return proto, {}
    clashes = sorted(set(fitted) & graph_names(proto.graph))  # the input's own name too: the Concat writes it
    if clashes:
        return proto, {"fitted_columns": f"by position: MLflow's predict feeds a DataFrame's columns to the model's "
                                         f"input {only.name!r} in the order given, not by name (the column(s) "
                                         f"{clashes} are also names in the graph); give them in the order {fitted}"}
    split = onnx.ModelProto()
    split.CopyFrom(proto)
    graph = split.graph
    original = next(vi for vi in graph.input if vi.name == only.name)
    batch = onnx.TypeProto()
    batch.CopyFrom(original.type)
    del batch.tensor_type.shape.dim[1:]
    batch.tensor_type.shape.dim.add().dim_value = 1
    columns = []
    for name in fitted:
        column = onnx.ValueInfoProto(name=name)
        column.type.CopyFrom(batch)
        columns.append(column)
    others = [vi for vi in graph.input if vi.name != only.name]  # weights listed as inputs by old exporters
    del graph.input[:]
    graph.input.extend(columns + others)
    node_names = {n.name for n in graph.node}
    join = _unused_name(node_names, "onnxgate_fitted_columns") if "onnxgate_fitted_columns" in node_names \
        else "onnxgate_fitted_columns"
    graph.node.insert(0, helper.make_node("Concat", fitted, [only.name], axis=1, name=join))
    if not any(o.domain in ("", "ai.onnx") for o in split.opset_import):
        split.opset_import.add(domain="", version=13)
    for prop in list(split.metadata_props):
        if prop.key == FITTED_COLUMNS_METADATA_KEY:  # the columns are inputs of their own now, taken by name
            split.metadata_props.remove(prop)
    set_metadata(split, {
        "version": ADAPT_METADATA_VERSION, "target": "mlflow", "original": sig.to_dict(),
        "inputs": {only.name: {"kind": "split", "columns": fitted}},
        "outputs": {o.name: [[o.name, None]] for o in sig.outputs},
        "zipmap_removed": [], "classes": None, "column_sources": {},
    })
    return split, {"fitted_columns": f"the model's input {only.name!r} is fed one input per fitted column, by name "
                                     "(joined in the fitted order), so MLflow's predict takes a DataFrame's columns "
                                     "in any order",
                   "split_inputs": {only.name: fitted}}


#: What MLflow's ``mlflow.onnx`` loader hands onnxruntime for a missing value of a text column (``frame[name].values``,
#: NaN, None or pandas' NA in an object array), and the text onnxruntime reads it as (``str()`` of it).
_MISSING_AS_TEXT = {"nan": ("nan",), "none": ("None", "<NA>"), None: ("nan", "None", "<NA>")}


def _copy_to_extend(proto: Any) -> tuple[Any, Any, set[str]]:
    """A copy of ``proto`` to add nodes to, its ``ai.onnx.ml`` opset entry (added at version 2 when it has none)
    and every name its graph already uses (values and nodes)."""
    import onnx

    from onnxgate.adaptation.graph import graph_names

    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    ml = next((o for o in fixed.opset_import if o.domain == "ai.onnx.ml"), None)
    if ml is None:
        ml = fixed.opset_import.add(domain="ai.onnx.ml", version=2)
    return fixed, ml, graph_names(fixed.graph) | {n.name for n in fixed.graph.node}


def _missing_text_in_graph(proto: Any) -> tuple[Any, dict[str, Any]]:
    """``proto`` with each text input whose missing value the model reads as a text of its own
    (:attr:`onnxgate.signature.TensorSpec.missing`: an imputer's fill, or a text none of the categories) given
    that text inside the graph, where MLflow's loader feeds a missing value; and the manifest's record of it.

    onnxgate's feeds (validation, the container's service, ``score``) put that text in place of a missing value
    before onnxruntime; MLflow's loader hands onnxruntime the column as it is, where a NaN is read as the text
    ``'nan'``: an unknown category. A ``SimpleImputer(strategy="most_frequent")`` before a ``OneHotEncoder`` scored
    every such row as no category at all, silently (55 of 442 diabetes rows off the model by up to 11.7). A
    ``LabelEncoder`` marks the texts MLflow's missing values become, and a ``Where`` puts the model's text there.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from onnxgate.signature import Signature

    sig = Signature.from_model(proto)
    specs = [s for s in sig.inputs if s.elem_type == "string" and s.missing is not None]
    default = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if not specs or default < 9:  # Where takes text from opset 9
        return proto, {}
    fixed, ml, taken = _copy_to_extend(proto)
    graph = fixed.graph
    new_nodes: list[Any] = []
    record: dict[str, dict[str, Any]] = {}
    for spec in specs:
        # a text the model reads as one of its categories (Ames' MasVnrType 'None') is that category, not a missing
        # value: mapped to the missing text, a LightGBM category 'None' scored 103 of 442 rows off the model
        # ('nan' stays: a HistGradientBoosting graph keys 'nan' as its missing bin, which the missing text reaches too)
        known = _categories_read(graph, spec.name) - {"nan"}
        candidates = _MISSING_AS_TEXT.get(spec.missing_only, _MISSING_AS_TEXT[None])
        texts = [t for t in candidates if t not in known]
        if len(texts) < len(candidates):
            # MLflow's loader makes such a text of a None (or pandas' NA) too, which no graph can tell from the
            # category: the package says so (44 of 442 rows scored as the category in helper-173's run)
            record[spec.name] = {"read_as_category": [t for t in candidates if t in known]}
        if not texts:
            continue
        inner, marks, flag, fill = (_unused_name(taken, f"{spec.name}_{part}") for part in
                                    ("filled", "missing_code", "missing", "missing_text"))
        taken |= {inner, marks, flag, fill}
        for node in graph.node:
            node.input[:] = [inner if name == spec.name else name for name in node.input]
        encode = helper.make_node("LabelEncoder", [spec.name], [marks], domain="ai.onnx.ml", name=marks,
                                  **_texts_marked(ml.version, texts, 1))
        graph.initializer.append(numpy_helper.from_array(np.array(spec.missing, dtype=object), fill))
        new_nodes += [encode, helper.make_node("Cast", [marks], [flag], to=onnx.TensorProto.BOOL, name=flag),
                      helper.make_node("Where", [flag, fill, spec.name], [inner], name=inner)]
        record.setdefault(spec.name, {}).update({"read_as_missing": texts, "fed_as": spec.missing})
    if not new_nodes:  # every such text is a category the model reads: the model is left as it was
        return proto, record
    for node in reversed(new_nodes):
        graph.node.insert(0, node)
    return fixed, record


def _texts_marked(ml_version: int, texts: list[str], mark: int) -> dict[str, Any]:
    """The attributes of an ai.onnx.ml ``LabelEncoder`` from text to int64 that gives 0 for any text but ``texts``,
    and a positive number for those: ``mark`` (ai.onnx.ml 2 and later), or their place after a first class no
    column holds (ai.onnx.ml 1, whose encoder answers a class's index)."""
    if ml_version == 1:
        return {"classes_strings": ["\x00onnxgate-present", *texts], "default_int64": 0}
    return {"keys_strings": texts, "values_int64s": [mark] * len(texts), "default_int64": 0}


def _missing_refused_in_graph(proto: Any) -> tuple[Any, dict[str, Any]]:
    """``proto`` with each text input that takes no missing value (no :attr:`onnxgate.signature.TensorSpec.missing`:
    a CatBoost categorical column, an encoder that learnt no missing category) failing a row that holds the text
    MLflow's loader makes of one (``'None'``, ``'nan'``, ``'<NA>'``) where that text is none of the categories the
    graph reads; and the manifest's record of it.

    onnxgate's feeds refuse a missing value in such an input (validate, score, the service: "fill or drop them"),
    and CatBoost raises on one; MLflow's loader handed the model the text ``'None'``, which CatBoost's graph scored
    as an unseen category, answered without a word (helper-233). A ``LabelEncoder`` marks those texts with an index
    out of a one-entry table's bounds, and the ``Gather`` of it fails the request, its node named with what to do
    (onnxruntime's error names the node); a ``Where`` of its all-false result passes the text on, so the check is
    part of the graph onnxruntime runs."""
    from onnxgate.signature import Signature

    sig = Signature.from_model(proto)
    specs = [s for s in sig.inputs if s.elem_type == "string" and s.missing is None]
    default = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if not specs or default < 9:  # Where takes text from opset 9
        return proto, {}
    fixed, ml, taken = _copy_to_extend(proto)
    graph = fixed.graph
    new_nodes: list[Any] = []
    record: dict[str, dict[str, Any]] = {}
    for spec in specs:
        known = _categories_read(graph, spec.name)
        texts = [t for t in _MISSING_AS_TEXT[None] if t not in known]
        record[spec.name] = {"refused": texts, "read_as_category": [t for t in _MISSING_AS_TEXT[None] if t in known]}
        if not texts:  # every such text is a category the model reads: no graph tells a missing value from it
            continue
        lookup = _texts_marked(ml.version, texts, _UNSEEN_SLOT)  # past the one-entry table for these texts
        refuse = (f"{spec.name}: a missing value (None, NaN or pandas' NA, which MLflow hands the model as the text "
                  f"{texts}), and the model takes none there (CatBoost raises on one); fill or drop those rows, as "
                  "onnxgate validate and score ask")
        new_nodes += _failing_check(graph, spec.name, lookup, refuse, taken)
    for node in reversed(new_nodes):
        graph.node.insert(0, node)
    return fixed, record


def _integer_categories_checked_in_graph(proto: Any) -> tuple[Any, dict[str, Any]]:
    """``proto`` with each input of integer category values (:attr:`onnxgate.signature.TensorSpec.categories`:
    LightGBM fitted on a pandas integer category column) failing a row that holds a number none of its categories
    (nor the integer it reads a missing value as, nor :data:`_NAN_AS_INT64`, a missing value of a pandas category
    column), as onnxgate's feeds refuse it; and the manifest's record of it.
    MLflow's loader hands the model the column's numbers: codes a client sent (2, 3 for categories 7..23) were
    scored as missing values, without a word (helper-233)."""
    from onnxgate.signature import Signature

    sig = Signature.from_model(proto)
    specs = [s for s in sig.inputs if s.categories is not None]
    ml_version = next((o.version for o in proto.opset_import if o.domain == "ai.onnx.ml"), 0)
    if not specs or ml_version < 2:  # keys_int64s from ai.onnx.ml 2, which LightGBM's category graph needs anyway
        return proto, {}
    fixed, _ml, taken = _copy_to_extend(proto)
    new_nodes: list[Any] = []
    record: dict[str, dict[str, Any]] = {}
    for spec in specs:
        categories = list(spec.categories or ())
        # a missing value of a pandas category column reaches the graph as the smallest int64 (MLflow's loader casts
        # NaN to int64 as NumPy does on x86-64): missing to the model, as to LightGBM; it was refused (helper-241)
        allowed = categories + ([int(spec.missing)] if spec.missing is not None else []) + [_NAN_AS_INT64]
        shown = f"{categories[:10]}{'...' if len(categories) > 10 else ''}"
        # a pandas category column's value the model was not fitted on, which LightGBM scores as a missing value,
        # reaches the graph as the same number a code would: refused too, saying how to have it scored (helper-255)
        refuse = (f"{spec.name}: a number that is none of the model's categories {shown}; the package reads a number "
                  "as the category of that value, not as a code (its position among them), and takes a category "
                  "column as its numbers, so a category the model was not fitted on is refused too: send a category "
                  "by value or a missing one (NaN in a category column; .cat.set_categories(<the model's "
                  "categories>) makes an unseen one missing, as LightGBM reads it), or drop those rows")
        lookup = {"keys_int64s": allowed, "values_int64s": [0] * len(allowed), "default_int64": _UNSEEN_SLOT}
        new_nodes += _failing_check(fixed.graph, spec.name, lookup, refuse, taken)
        record[spec.name] = {"categories": categories, "read_as_missing": allowed[len(categories):],
                             "other_numbers": "refused: predict fails"}
    for node in reversed(new_nodes):
        fixed.graph.node.insert(0, node)
    return fixed, record


def _failing_check(graph: Any, name: str, lookup: dict[str, Any], refuse: str, taken: set[str]) -> list[Any]:
    """The nodes that fail a request where the input ``name`` holds a value ``lookup`` (a ``LabelEncoder``'s
    attributes) maps past a one-entry table (:data:`_UNSEEN_SLOT`): a ``Gather`` named ``refuse``, what
    onnxruntime's error names, and a ``Where`` of its all-false result that passes the input on to the nodes that
    read it, so onnxruntime runs the check. ``taken`` gains the names used."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    inner, marks, table, checked, flag = (_unused_name(taken, f"{name}_{part}") for part in
                                          ("checked", "check_mark", "check_table", "check_gather", "check_false"))
    taken |= {inner, marks, table, checked, flag}
    for node in graph.node:
        node.input[:] = [inner if value == name else value for value in node.input]
    graph.initializer.append(numpy_helper.from_array(np.zeros(1, dtype=np.int64), table))
    return [helper.make_node("LabelEncoder", [name], [marks], domain="ai.onnx.ml", name=marks, **lookup),
            helper.make_node("Gather", [table, marks], [checked], axis=0, name=refuse),
            helper.make_node("Cast", [checked], [flag], to=onnx.TensorProto.BOOL, name=flag),
            helper.make_node("Where", [flag, name, name], [inner], name=inner)]


#: What MLflow's loader hands an int64 input for a missing value of a pandas category column: NumPy's cast of NaN to
#: int64 (``np.array(frame[name], dtype=np.int64)``), the smallest int64 on x86-64.
_NAN_AS_INT64 = -(2**63)


#: The index an XGBoost graph's (or a OneHotEncoder(handle_unknown='error')'s) lookup of codes is given for a value that
#: is none of the model's categories: out of the table's bounds, so onnxruntime's Gather fails the request, as the
#: model raises, instead of scoring it.
_UNSEEN_SLOT = 2**40


def _category_values_in_graph(proto: Any) -> tuple[Any, dict[str, Any]]:
    """``proto`` with each input of category codes (:attr:`onnxgate.signature.TensorSpec.codes`: XGBoost fitted with
    ``enable_categorical``, LightGBM or HistGradientBoosting text categories for ``sql-edge-2.0``) taking the
    categories' values instead, mapped to their codes inside the graph; and the manifest's record of it.

    onnxgate's feeds map a pandas category column to the codes before onnxruntime; MLflow's loader hands the model
    ``np.array(frame[name], dtype=<the signature's>)``, the values: integer categories 7, 12, 19, 23 were read as
    codes 7, 12... (XGBoost's probabilities off by up to 0.76, answered), text ones were refused ("Failed to enforce
    schema"). The input now takes the values (text categories: a string input; number ones: a double input, where
    MLflow puts a missing value as NaN), a lookup maps them to the codes the graph read before (-1 for a missing
    value: NaN, or the text MLflow makes of NaN, None or pandas' NA when no category has it, or -1 among number
    categories none of which is -1, as onnxgate's own feeds read a plain -1), and the codes metadata
    is dropped for it. A value that is none of the categories is scored as missing where the model does so
    (LightGBM, HistGradientBoosting); for XGBoost, which raises on it, the lookup's index is out of bounds and
    onnxruntime fails the whole ``predict`` naming the node, which says what happened. Where the model refuses a
    missing value (:attr:`onnxgate.signature.TensorSpec.missing_refused`: a ``OneHotEncoder(handle_unknown='error')``
    fitted without one), a missing value fails so too, the node named in the words onnxgate's feeds refuse it
    with: its code -1 failed inside the encoder ("Unknown Category and zeros = 0"), naming neither column nor fix.

    An input of codes whose categories were not recorded, or that is not one ``[N,1]`` column with categories all
    text or all numbers, is refused: no value fed there could be told from a code.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from onnxgate.adaptation.mapping import ADAPT_METADATA_VERSION, adaptation_of, set_metadata
    from onnxgate.signature import Signature

    sig = Signature.from_model(proto)
    specs = [s for s in sig.inputs if s.codes is not None]
    if not specs:
        return proto, {}
    from onnxgate.adaptation.categories import unknown_refused_by_one_hot

    # who refuses a category it was not fitted on, named in the refusal: scikit-learn's OneHotEncoder with
    # handle_unknown='error' (converted for SQL, its input reads codes), else XGBoost's categorical split
    one_hot = set(unknown_refused_by_one_hot(proto))
    recorded: dict[str, list[Any]] = {}
    for spec in specs:
        codes_of = list(spec.codes or ())
        listed = codes_of[0][1] if len(codes_of) == 1 and codes_of[0][0] == 0 else None
        texts = listed is not None and all(isinstance(c, str) for c in listed)
        numbers = listed is not None and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                             for c in listed)
        one_column = tuple(spec.shape or ())[1:] == (1,)
        if not one_column or not listed or not (texts or numbers):
            why = ("of several columns" if not one_column else "whose categories were not recorded" if not listed
                   else "whose categories are neither all text nor all numbers")
            raise PackagingError(
                f"the model's input {spec.name!r} reads category codes {why}: MLflow's predict would hand it a "
                "category column's values, read as codes, silently. Package it for another target (container), or "
                "convert the model from a DataFrame with one pandas category column per category feature")
        recorded[spec.name] = list(listed or ())
    default = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if default < 9:  # Where and IsNaN from opset 9
        raise PackagingError(f"the model's inputs {[s.name for s in specs]} read category codes, which the MLflow "
                             f"package maps values to in the graph from opset 9; the model's opset is {default}")
    fixed, ml, taken = _copy_to_extend(proto)
    graph = fixed.graph

    def fresh(name: str) -> str:
        nonlocal taken
        chosen = _unused_name(taken, name)
        taken |= {chosen}
        return chosen

    new_nodes: list[Any] = []
    record: dict[str, dict[str, Any]] = {}
    missing_texts: dict[str, str] = {}
    for spec in specs:
        categories = recorded[spec.name]
        count = len(categories)
        vi = next(v for v in graph.input if v.name == spec.name)
        codes = fresh(f"{spec.name}_codes")
        for node in graph.node:
            node.input[:] = [codes if name == spec.name else name for name in node.input]
        # slot i < count: category i; count..: a missing value; an unseen one: count too, or out of bounds (XGBoost)
        unseen = count if spec.unseen_missing else _UNSEEN_SLOT
        slot = fresh(f"{spec.name}_slot")
        entry: dict[str, Any] = {"categories": categories, "fed_as": "text" if isinstance(categories[0], str)
                                 else "number"}
        if isinstance(categories[0], str):
            vi.type.tensor_type.elem_type = onnx.TensorProto.STRING
            # what MLflow's loader makes of NaN, None and pandas' NA in a text column (str() of each), each a missing
            # value unless a category is written so; 'nan' always is: MLflow makes it of every NaN, and a
            # HistGradientBoosting's category 'nan' (its encoder's entry for NaN) is not how the model scores NaN
            gaps = [t for t in _MISSING_AS_TEXT[None] if t == "nan" or t not in categories]
            missing_texts[spec.name] = gaps[0]
            known = [(str(c), i) for i, c in enumerate(categories) if str(c) not in gaps]
            # a client still sending the codes (.cat.codes) reaches a text input as their decimal text ('0', '-1'),
            # which LightGBM would score as missing: refused where no category is written so
            code_texts = [str(i) for i in range(-1, count) if str(i) not in categories]
            if len(code_texts) < count + 1:
                code_texts = []
            keys = [k for k, _ in known] + gaps + code_texts
            slots = [i for _, i in known] + [count] * len(gaps) + [_UNSEEN_SLOT] * len(code_texts) + [unseen]
            remap_name, index = fresh(f"{spec.name}_slot_of_key"), fresh(f"{spec.name}_key")
            graph.initializer.append(numpy_helper.from_array(np.array(slots, dtype=np.int64), remap_name))
            if ml.version == 1:  # classes' index; past the last one for any other text
                lookup = helper.make_node("LabelEncoder", [spec.name], [index], domain="ai.onnx.ml",
                                          classes_strings=keys, default_int64=len(keys), name=index)
            else:
                lookup = helper.make_node("LabelEncoder", [spec.name], [index], domain="ai.onnx.ml", keys_strings=keys,
                                          values_int64s=list(range(len(keys))), default_int64=len(keys), name=index)
            new_nodes += [lookup, helper.make_node("Gather", [remap_name, index], [slot], axis=0, name=slot)]
            table = [*range(count), -1]
            entry["codes_refused"] = bool(code_texts)
            entry["read_as_missing"] = gaps
            entry["read_as_category"] = [t for t in _MISSING_AS_TEXT[None] if t not in gaps]
        else:
            # Equal takes doubles from opset 11 only: |x - c| > 0 is false where x is c
            vi.type.tensor_type.elem_type = onnx.TensorProto.DOUBLE
            values, zero, ones, none, gap = (fresh(f"{spec.name}_{part}") for part in
                                             ("categories", "zero", "ones", "unseen", "missing_slot"))
            graph.initializer.extend([
                numpy_helper.from_array(np.array([categories], dtype=np.float64), values),
                numpy_helper.from_array(np.array(0.0), zero),
                numpy_helper.from_array(np.ones((count, 1), dtype=np.float32), ones),
                numpy_helper.from_array(np.array(unseen, dtype=np.int64), none),
                numpy_helper.from_array(np.array(count, dtype=np.int64), gap),
            ])
            diff, far, differs, same, match, hit, found, position, nan = (
                fresh(f"{spec.name}_{part}") for part in
                ("diff", "distance", "differs", "same", "match", "matches", "found", "position", "is_missing"))
            found_slot = fresh(f"{spec.name}_found_slot")
            new_nodes += [
                helper.make_node("Sub", [spec.name, values], [diff], name=diff),
                helper.make_node("Abs", [diff], [far], name=far),
                helper.make_node("Greater", [far, zero], [differs], name=differs),
                helper.make_node("Not", [differs], [same], name=same),
                helper.make_node("Cast", [same], [match], to=onnx.TensorProto.FLOAT, name=match),
                helper.make_node("ArgMax", [match], [position], axis=1, keepdims=1, name=position),
                helper.make_node("MatMul", [match, ones], [hit], name=hit),
                helper.make_node("Cast", [hit], [found], to=onnx.TensorProto.BOOL, name=found),
                helper.make_node("Where", [found, position, none], [found_slot], name=found_slot),
                helper.make_node("IsNaN", [spec.name], [nan], name=nan),
            ]
            gone = nan
            if not any(float(c) == -1 for c in categories):
                # -1, where no category has it, is pandas' code of a missing value, as every other route reads a
                # plain -1 (validate, score, the service, Spark); here XGBoost's refused it (helper-241)
                minus, off, far_off, other, coded, either = (
                    fresh(f"{spec.name}_{part}") for part in ("minus_one", "from_minus_one", "far_from_minus_one",
                                                              "not_minus_one", "is_minus_one", "missing_or_minus_one"))
                graph.initializer.append(numpy_helper.from_array(np.array(-1.0), minus))
                new_nodes += [
                    helper.make_node("Sub", [spec.name, minus], [off], name=off),
                    helper.make_node("Abs", [off], [far_off], name=far_off),
                    helper.make_node("Greater", [far_off, zero], [other], name=other),
                    helper.make_node("Not", [other], [coded], name=coded),
                    helper.make_node("Or", [nan, coded], [either], name=either),
                ]
                gone = either
            new_nodes.append(helper.make_node("Where", [gone, gap, found_slot], [slot], name=slot))
            table = [*range(count), -1]
            entry["read_as_missing"] = ["NaN"] if gone == nan else ["NaN", -1]
            # codes 0..k-1 (.cat.codes) that are also categories (1..5) cannot be told from them in the graph
            entry["codes_refused"] = not spec.unseen_missing and not any(
                float(c).is_integer() and -1 <= c < count for c in categories)
        table_name = fresh(f"{spec.name}_code_of_value")
        graph.initializer.append(numpy_helper.from_array(np.array(table, dtype=np.int32), table_name))
        # the node's name is what onnxruntime's error names when a value is none of the categories (XGBoost) or a
        # code (a text input)
        shown = f"{categories[:10]}{'...' if count > 10 else ''}"
        if spec.missing_refused:
            # a OneHotEncoder(handle_unknown='error') fitted without missing values: the missing slot's code -1 failed
            # in the encoder ("Unknown Category and zeros = 0"), naming nothing; a check before it fails the request
            # naming the column, in the words validate, score and the service refuse a missing value with
            said = (f"{spec.name}: holds a missing value (None, NaN or pandas' NA"
                    f"{', or -1' if entry['fed_as'] == 'number' and -1 not in categories else ''}), and "
                    + missing_refused_reason(shown))
            checked, slot = slot, fresh(f"{spec.name}_slot_checked")
            gap_code, far_code, near_code, table_one, is_gap, probe_at, probe, flag = (
                fresh(f"{spec.name}_{part}") for part in ("gap_slot", "refused_index", "kept_index", "check_table",
                                                          "is_missing_slot", "check_index", "checked", "refused"))
            graph.initializer.extend([
                numpy_helper.from_array(np.array(count, dtype=np.int64), gap_code),
                numpy_helper.from_array(np.array(_UNSEEN_SLOT, dtype=np.int64), far_code),
                numpy_helper.from_array(np.array(0, dtype=np.int64), near_code),
                numpy_helper.from_array(np.zeros(1, dtype=np.int64), table_one),
            ])
            # the missing slot indexes past a one-entry table: the Gather, named with what to do, fails the request;
            # the Where of its all-false result passes the slot on, so the check is part of what onnxruntime runs
            new_nodes += [
                helper.make_node("Equal", [checked, gap_code], [is_gap], name=is_gap),
                helper.make_node("Where", [is_gap, far_code, near_code], [probe_at], name=probe_at),
                helper.make_node("Gather", [table_one, probe_at], [probe], axis=0, name=said),
                helper.make_node("Cast", [probe], [flag], to=onnx.TensorProto.BOOL, name=flag),
                helper.make_node("Where", [flag, checked, checked], [slot], name=slot),
            ]
            entry["missing"] = ("refused: predict fails (onnxruntime names the check), as the model's OneHotEncoder "
                                "(handle_unknown='error') raises")
        who = "the model's OneHotEncoder (handle_unknown='error')" if spec.name in one_hot else "XGBoost"
        refuse = (f"{spec.name}: a category code (.cat.codes) where the package takes the category values {shown} "
                  "(NaN for a missing one)" if spec.unseen_missing else
                  f"{spec.name}: a value that is none of the model's categories {shown}, which {who} refuses; the "
                  "package takes the category values, not their codes (.cat.codes), and NaN for a missing one")
        new_nodes.append(helper.make_node("Gather", [table_name, slot], [codes], axis=0, name=refuse))
        entry["unseen"] = "scored as missing, as the model does" if spec.unseen_missing else \
            f"refused: predict fails (onnxruntime: indices element out of data bounds), as {who} raises"
        record[spec.name] = entry
    for node in reversed(new_nodes):
        graph.node.insert(0, node)
    # the text onnxgate's own feeds (validation) give a missing value: one the lookup reads so
    _records_without(fixed, (CATEGORY_CODES_METADATA_KEY, UNSEEN_MISSING_METADATA_KEY, MISSING_TEXT_METADATA_KEY),
                     set(record), added=(MISSING_TEXT_METADATA_KEY, missing_texts))
    # recorded as an adaptation, by which parity feeds the native model the codes of the values the file takes
    mapping = adaptation_of(proto) or {
        "version": ADAPT_METADATA_VERSION, "target": "mlflow", "original": sig.to_dict(),
        "inputs": {s.name: {"kind": "column", "columns": [s.name]} for s in sig.inputs},
        "outputs": {o.name: [[o.name, None]] for o in sig.outputs},
        "zipmap_removed": [], "classes": None, "column_sources": {},
    }
    for entry in mapping["inputs"].values():
        if "column_types" in entry:
            entry["column_types"] = [("string" if record[c]["fed_as"] == "text" else "float64") if c in record else t
                                     for c, t in zip(entry["columns"], entry["column_types"])]
    mapping["category_values"] = {
        s.name: {"categories": record[s.name]["categories"], "unseen_missing": s.unseen_missing,
                 "missing_texts": record[s.name]["read_as_missing"] if record[s.name]["fed_as"] == "text" else []}
        for s in specs}
    set_metadata(fixed, mapping)
    return fixed, record


def _class_labels_in_graph(proto: Any) -> tuple[Any, dict[str, Any]]:
    """``proto`` with each output that returns a classifier's text labels as the codes of its classes
    (:attr:`onnxgate.signature.TensorSpec.labels`: converted for a SQL target, which returns no text) returning the
    text labels, looked up in the graph; and the manifest's record of it.

    ``onnxgate score`` and Spark write such an output's text labels, and the classifier (or an MLflow package of it
    converted for another target) answers them; MLflow's ``predict`` handed back the int32 codes (``[[0], [1]]``
    for 'setosa', 'versicolor'), silently. A ``Gather`` from the recorded labels takes the codes' place under the
    output's name, and the record is dropped for it (the output holds no codes now), so the signature says
    ``string`` and parity compares the labels themselves. A code the record names no label of (an edited record)
    fails ``predict``, onnxruntime naming the node, which says so: a negative code is moved out of the table's
    bounds first, where a ``Gather`` would read it from the end."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from onnxgate.signature import CLASS_LABELS_METADATA_KEY, Signature

    sig = Signature.from_model(proto)
    produced = {out for node in proto.graph.node for out in node.output}
    specs = [s for s in sig.outputs if s.labels and s.elem_type in ("int32", "int64") and s.name in produced
             and tuple(s.shape or ())[1:] in ((), (1,))]
    if not specs:
        return proto, {}
    default = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    fixed, _ml, taken = _copy_to_extend(proto)
    graph = fixed.graph
    record: dict[str, Any] = {}
    for spec in specs:
        labels = list(spec.labels or ())
        codes, table = _unused_name(taken, f"{spec.name}_code"), _unused_name(taken, f"{spec.name}_labels")
        taken |= {codes, table}
        for node in graph.node:
            node.output[:] = [codes if name == spec.name else name for name in node.output]
            node.input[:] = [codes if name == spec.name else name for name in node.input]
        graph.initializer.append(numpy_helper.from_array(np.array(labels, dtype=object), table))
        index = codes
        if default >= 9:  # Where from opset 9
            wide, zero, far, negative, index = (_unused_name(taken, f"{spec.name}_{part}") for part in
                                                ("code64", "zero", "no_label", "negative", "label_index"))
            taken |= {wide, zero, far, negative, index}
            graph.initializer.extend([numpy_helper.from_array(np.array(0, dtype=np.int64), zero),
                                      numpy_helper.from_array(np.array(_UNSEEN_SLOT, dtype=np.int64), far)])
            graph.node.extend([
                helper.make_node("Cast", [codes], [wide], to=onnx.TensorProto.INT64, name=wide),
                helper.make_node("Less", [wide, zero], [negative], name=negative),
                helper.make_node("Where", [negative, far, wide], [index], name=index),
            ])
        said = (f"{spec.name}: a class code that the model's record of its class labels ({CLASS_LABELS_METADATA_KEY}: "
                f"codes 0 to {len(labels) - 1}) names no label of; convert the classifier again instead of editing "
                "the record")
        graph.node.append(helper.make_node("Gather", [table, index], [spec.name], axis=0, name=said))
        out = next(v for v in graph.output if v.name == spec.name)
        out.type.tensor_type.elem_type = onnx.TensorProto.STRING
        record[spec.name] = {"labels": labels, "codes": spec.elem_type,
                             "returned": "the text labels, as the classifier answers; the file's codes looked up in "
                                         "the graph"}
    _records_without(fixed, (CLASS_LABELS_METADATA_KEY,), set(record))
    return fixed, record


def _records_without(model: Any, keys: tuple[str, ...], names: set[str],
                     added: tuple[str, dict[str, Any]] | None = None) -> None:
    """Drops the entries for ``names`` from each JSON object recorded under one of ``keys`` in ``model``'s metadata
    (a record left empty goes), and merges ``added``'s entries into the record under its key (added if none is)."""
    add_key, add = added or ("", {})
    for prop in list(model.metadata_props):
        if prop.key not in keys:
            continue
        try:
            recorded = json.loads(prop.value)
        except ValueError:
            continue
        if not isinstance(recorded, dict):
            continue
        kept = {k: v for k, v in recorded.items() if k not in names}
        if prop.key == add_key:
            kept.update(add)
            add = {}
        if kept:
            prop.value = json.dumps(kept, ensure_ascii=False)
        else:
            model.metadata_props.remove(prop)
    if add:
        model.metadata_props.add(key=add_key, value=json.dumps(add, ensure_ascii=False))


def _categories_read(graph: Any, name: str) -> set[str]:
    """The texts the nodes reading the input ``name`` know as categories (a LabelEncoder's keys, a OneHotEncoder's or
    CategoryMapper's categories), following Identity and Reshape."""
    names, known = {name}, set[str]()
    for node in graph.node:  # topological: a value is read after it is written
        if not names & set(node.input):
            continue
        if node.op_type in ("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"):
            names.update(node.output)
        for attr in node.attribute:
            if attr.name in ("keys_strings", "classes_strings", "cats_strings"):
                known.update(v.decode("utf-8", "replace") for v in attr.strings)
    return known


def _unused_name(taken: set[str], name: str) -> str:
    """``name`` with the first ``_inner``, ``_inner2``... suffix no value of the graph has."""
    candidate, n = f"{name}_inner", 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_inner{n}"
    return candidate


def _renamed_adaptation(mapping: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """A SQL adaptation's recorded mapping (:mod:`onnxgate.adaptation.mapping`) after the inputs in
    ``renames`` took the user's column names: its columns under their new names, and an original input
    fed by one renamed column named after it, as the reference model reads it (the name it was fed
    under before, through the column record this rename makes plain). Without this the renamed model
    could not be validated against its reference, nor the package's report describe the file shipped."""
    inputs: dict[str, Any] = {}
    original_names: dict[str, str] = {}
    for key, entry in (mapping.get("inputs") or {}).items():
        columns = [renames.get(c, c) for c in entry.get("columns", [])]
        if entry.get("kind") != "split" and len(columns) == 1 and columns[0] != entry["columns"][0]:
            original_names[key] = columns[0]
        inputs[original_names.get(key, key)] = {**entry, "columns": columns}
    original = dict(mapping.get("original") or {})
    original["inputs"] = [{**spec, "name": original_names.get(spec["name"], spec["name"])}
                          for spec in original.get("inputs", [])]
    sources = {renames.get(new, new): raw for new, raw in (mapping.get("column_sources") or {}).items()}
    return {**mapping, "inputs": inputs, "original": original, "column_sources": sources}


def _integer_labels(sig: Any, data: Any) -> list[str]:
    """The package's input names MLflow matches a DataFrame's columns to that are the text of integer column labels
    (``pd.DataFrame(X)``'s ``0, 1, ...``, which LightGBM and XGBoost record as ``'0', '1', ...``): MLflow compares the
    labels with the names as they are, and refuses the frame the model was fitted on ("Model is missing inputs ['0',
    ...]. Note that there were extra inputs: [0, ...]"). Those of ``data``'s labels that are integers, where ``data``
    is a frame; else every such name (a file, an array or no data: the frame is not known)."""
    from onnxgate._data import is_dataframe

    if _layout(sig)[0] == "tensor":  # one unnamed tensor: MLflow takes the frame's columns by position
        return []
    names = set(sig.input_names)
    if is_dataframe(data):
        return [str(c) for c in data.columns if isinstance(c, numbers.Integral) and not isinstance(c, bool)
                and str(c) in names]
    return [n for n in sig.input_names if n.isascii() and n.isdigit() and str(int(n)) == n]


def _schema_kind(sig: Any) -> str:
    return _layout(sig)[0]


def _layout(sig: Any) -> tuple[str, list[Any]]:
    """("columns" | "column-tensors" | "tensor" | "tensors", the inputs) for the signature."""
    inputs = list(sig.inputs)
    if any(not t.is_tensor for t in inputs):
        raise PackagingError(f"MLflow signatures describe tensors; inputs {sig.input_names} include a "
                             "sequence or map")
    shapes = [tuple(t.shape or ()) for t in inputs]
    if all(len(s) == 1 for s in shapes):
        # MLflow answers a column-based schema's frame with a frame, each output flattened (reshape(-1)): an
        # output of several values per row came back as N*k rows, or failed ("All arrays must be of the same
        # length") beside a per-row one; named tensors are answered with a dict of the outputs as they are. A
        # single input is fed a column-based frame as a whole ([N,1]: "Invalid rank for input"), and an array
        # is refused there ("Model is missing inputs")
        if len(inputs) > 1 and all(_one_per_row(t) for t in sig.outputs):
            return "columns", inputs
        return "column-tensors", inputs
    if all(len(s) == 2 and s[1] == 1 for s in shapes) and len(inputs) > 1:
        return "column-tensors", inputs
    if len(inputs) == 1:
        return "tensor", inputs
    return "tensors", inputs


def _one_per_row(spec: Any) -> bool:
    """Whether the output ``spec`` holds one value per row (``[N]``, ``[N,1]``), as MLflow's frame of a column-based
    schema's answers keeps it; a map or a sequence (ZipMap) counts as one, an unknown shape does not."""
    if not spec.is_tensor:
        return True
    shape = spec.shape
    return shape is not None and len(shape) >= 1 and all(d == 1 for d in tuple(shape)[1:])


def _dims(shape: Any) -> tuple[int, ...]:
    dims = [d if isinstance(d, int) and d > 0 else -1 for d in (shape or ())]
    if dims:
        dims[0] = -1  # the batch axis
    return tuple(dims)


def _signature(sig: Any) -> Any:
    import numpy as np
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    kind, inputs = _layout(sig)
    if kind == "columns":
        inputs_schema = Schema([ColSpec(_col_type(t.elem_type), t.name) for t in inputs])
    elif kind == "tensor":
        only = inputs[0]
        inputs_schema = Schema([TensorSpec(_np_dtype(only), _dims(only.shape))])
    else:
        inputs_schema = Schema([TensorSpec(_np_dtype(t), _dims(t.shape), t.name) for t in inputs])
    outputs = [t for t in sig.outputs if t.is_tensor]
    outputs_schema = None
    if outputs and len(outputs) == len(sig.outputs):
        outputs_schema = Schema([TensorSpec(np.dtype(_np_dtype(t)), _dims(t.shape), t.name) for t in outputs])
    return ModelSignature(inputs=inputs_schema, outputs=outputs_schema)


def _np_dtype(spec: Any) -> Any:
    import numpy as np

    if spec.elem_type == "string":
        return np.dtype("O")
    return np.dtype(spec.numpy_dtype)


def _col_type(elem_type: str) -> str:
    mapping = {"float32": "float", "float64": "double", "int32": "integer", "int64": "long", "bool": "boolean",
               "string": "string"}
    if elem_type not in mapping:
        raise PackagingError(f"an MLflow column cannot hold {elem_type!r}; column types are "
                             f"{sorted(mapping)}")
    return mapping[elem_type]


def _example(sig: Any, data: Any) -> Any:
    """The first rows of the sample in the form ``predict`` takes for this signature, or None."""
    if data is None:
        return None
    from onnxgate.deploy.container import _example_rows, example_feeds

    feeds = example_feeds(data, sig)

    # complete rows only: a NaN or infinity would reach MLflow's example file as a bare NaN token, which
    # strict JSON readers refuse (the package is valid without an example)
    feeds = _example_rows(feeds, (), EXAMPLE_ROWS)
    if not feeds:
        return None
    kind, inputs = _layout(sig)
    if kind in ("columns", "column-tensors"):
        import pandas as pd

        return pd.DataFrame({t.name: feeds[t.name].reshape(len(feeds[t.name]), -1)[:, 0] for t in inputs})
    if kind == "tensor":
        return feeds[inputs[0].name]
    return dict(feeds)


def _requirements() -> list[str]:
    from importlib import metadata

    pins = []
    for dist in ("mlflow", "mlflow-skinny"):  # the one installed; a serving image may bring the full one
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
            break
        except metadata.PackageNotFoundError:
            continue
    for dist in REQUIREMENTS:
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pins.append(dist)
    return pins


def _mlflow_files(proto: Any, sig: Any, data: Any) -> dict[str, str | bytes]:
    """Everything ``mlflow.onnx.save_model`` writes, read back as relative path -> bytes."""
    import logging

    import mlflow.onnx

    stage = Path(tempfile.mkdtemp(prefix="onnxgate-mlflow-"))
    try:
        target = stage / "model"
        quiet = logging.getLogger("mlflow")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # MLflow warns about the example's integer columns and the like
        try:
            mlflow.onnx.save_model(
                proto, str(target), signature=_signature(sig), input_example=_example(sig, data),
                pip_requirements=_requirements(), onnx_execution_providers=["CPUExecutionProvider"],
                save_as_external_data=False,
            )
        finally:
            quiet.setLevel(level)
        files: dict[str, str | bytes] = {}
        for path in sorted(target.rglob("*")):
            if path.is_file():
                rel = path.relative_to(target).as_posix()
                if "/" in rel:
                    raise PackagingError(f"MLflow wrote a nested file {rel!r}; onnxgate writes flat packages")
                files[rel] = path.read_bytes()
        return files
    finally:
        shutil.rmtree(stage, ignore_errors=True)

"""The container package: an Azure ML-compatible build context for a validated ONNX model.

``package_container`` writes, into a new folder, everything ``docker build`` or Azure ML needs:

==========================  =====================================================================
``model.onnx``              the validated model
``score.py``                entry script (``init()``/``run()``); numpy + onnxruntime + stdlib only
``server.py``               the ASGI service (on uvicorn), the same file ``onnxgate serve`` runs
``swagger.json``            Swagger 2.0 (the file name azmlinfsrv serves for ``?version=2``)
``swagger3.json``           OpenAPI 3.0.3 (azmlinfsrv's file name for ``?version=3``)
``sample-request.json``     an example request built from the sample data
``requirements.txt``        numpy, onnxruntime, uvicorn (+httptools, uvloop), orjson, pysimdjson pinned to the installed
                            versions, or to the tested ones (``deploy/pins.py``) where one is not installed
``Dockerfile``              python:3.11-slim, non-root, ``EXPOSE 5001``, ``HEALTHCHECK``
``environment.yml``         Azure ML environment (conda) with azureml-inference-server-http
``inferenceconfig.json``    Azure ML v1 inference config
``deploymentconfig*.json``  local (``deploymentconfig.json``), ACI and AKS examples
``iotedge-module.json``     an IoT Edge module entry with ``createOptions`` publishing 5001
``README.md``               build, run, call
``manifest.json``           hashes, signature, validation summary, versions
==========================  =====================================================================

The Dockerfile runs the bundled ``server.py`` rather than installing onnxgate: the build context is
self-contained and the image carries four pinned packages.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from onnxgate._files import refuse_filled_folder
from onnxgate._graph import NAN_AWARE_OPS, reaches_nan_aware_node
from onnxgate._onnx import runnable, serialize, write_folder_atomically
from onnxgate.conversion import Conversion
from onnxgate.errors import PackagingError, ValidationFailedError

__all__ = [
    "DEFAULT_MAX_ROWS",
    "NAN_AWARE_OPS",
    "NAN_PROBE_ROWS",
    "NAN_PROBE_VALUES",
    "PACKAGE_FILES",
    "PORT",
    "package_container",
    "refuse_nan_the_reference_refuses",
    "swagger_documents",
]

#: Port of the Azure ML inference container (nginx in the base image, the SDK's health probe).
PORT = 5001
#: Rows per request unless ``max_rows=`` says otherwise (``onnxgate serve --max-rows`` overrides).
DEFAULT_MAX_ROWS = 10_000
#: Rows of the sample data shown as the example request in swagger and the README.
EXAMPLE_ROWS = 2
#: Packages the container installs, pinned to the versions found at packaging time. httptools and
#: uvloop are uvicorn's fast HTTP parser and event loop (measured: batch-1 p50 -0.2 ms vs h11/asyncio);
#: orjson parses and writes the JSON, pysimdjson parses rows of numbers straight into an array (score.py falls
#: back to the standard library without either).
SERVICE_REQUIREMENTS = ("numpy", "onnxruntime", "uvicorn", "httptools", "uvloop", "orjson", "pysimdjson")
#: Python of the image; keep in step with the wheels of SERVICE_REQUIREMENTS.
PYTHON_IMAGE = "python:3.11-slim"
#: Every file a container package holds (the table above): :func:`onnxgate.api.package` refuses to write
#: them over an input file (a test checks the list against the files written).
PACKAGE_FILES = (
    "model.onnx", "score.py", "server.py", "swagger.json", "swagger3.json", "sample-request.json",
    "requirements.txt", "Dockerfile", ".dockerignore", "environment.yml", "inferenceconfig.json",
    "deploymentconfig.json", "deploymentconfig.aci.json", "deploymentconfig.aks.json", "iotedge-module.json",
    "README.md", "manifest.json",
)
#: Options package_container understands (beyond model/target/out/reference/data/overwrite).
OPTIONS = ("service_name", "max_rows", "allow_nan", "atol", "rtol", "search", "seed")

_TEMPLATES = Path(__file__).with_name("templates")
_SWAGGER_TYPES: dict[str, dict[str, str]] = {
    "bool": {"type": "boolean"},
    "float16": {"type": "number", "format": "float"},
    "float32": {"type": "number", "format": "float"},
    "float64": {"type": "number", "format": "double"},
    "string": {"type": "string"},
    **{t: {"type": "integer", "format": t} for t in
       ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")},
}


def package_container(
    model: Any,
    *,
    target: Any,
    out: str | os.PathLike[str],
    reference: Any = None,
    data: Any = None,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Validate ``model`` for the container target and write its build context into ``out``.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
    target : Target
        The resolved ``container`` target (or another dynamic-batch target).
    out : path
        A new or empty folder; the package appears there complete or not at all.
    reference, data : optional
        Native model and rows for the parity check; a ``Conversion`` supplies its own.
        ``data`` also gives the example request.
    overwrite : bool
        Replace files in a non-empty folder.
    **options
        ``service_name`` (str; default the graph's name, or the model file's stem where the graph has an
        exporter's default name such as ``main_graph``), ``max_rows`` (int, default 10,000), ``allow_nan``
        (bool, or input names or the user's column names; default: the inputs an operator in :data:`NAN_AWARE_OPS`
        reads, directly or through other nodes, and those the parity data held NaN in where parity passed
        against the native model; such an input takes NaN, and JSON ``null`` as NaN, never infinity; an input
        only the option makes take NaN is refused where the native reference refuses NaN or answers it otherwise
        than the file: :func:`refuse_nan_the_reference_refuses`),
        ``atol``, ``rtol`` (parity tolerances), ``search``, ``seed`` (:func:`search_settings`).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValidationFailedError
        The model fails a container check; ``err.report`` is the report.
    OutputExistsError
        ``out`` is not empty and ``overwrite`` is false.
    PackagingError
        An unknown option or a bad option value; ``allow_nan`` for an input where the native reference refuses NaN
        or answers it otherwise than the file.

    Examples
    --------
    >>> import onnxgate as og
    >>> og.package(conv, target="container", out="dist/iris")  # doctest: +SKIP
    PosixPath('dist/iris')
    """
    from onnxgate._onnx import load_model, loaded_once, model_name, repair_layout, weights_by_path, weights_path
    from onnxgate.signature import Signature

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise PackagingError(f"unknown container option(s) {unknown}; expected some of {list(OPTIONS)}")
    folder = Path(out)
    refuse_filled_folder(folder, overwrite=overwrite)
    if isinstance(model, Conversion):  # each of its own that is not given, as a SQL package (data= alone was dropped)
        reference = model.source if reference is None else reference
        data = model.sample if data is None else data
    # the model validation loads (once) and serializes is the one packaged, not read, checked and serialized again
    # (a 200 MB model: 2-4 s after its validation)
    # a model above 2 GiB with its external data is validated and packaged without its weights in memory: the
    # package holds its graph and a copy of its data files, which the service reads by path
    with weights_by_path(), loaded_once(model):
        report = _validate(model, target, reference, data, options)
        proto = load_model(model)
        source = weights_path(proto)
        if source is None:
            proto = repair_layout(proto)[0]  # as model_wellformed judged it (its details["repairs"])
        sig = Signature.from_model(proto)
        blob = serialize(proto)  # held without its weights: its graph, whose tensors name their data files
        data_files = _data_files(report, source)

        max_rows = _positive_int(options.get("max_rows", DEFAULT_MAX_ROWS), "max_rows")
        from onnxgate.validators.reference import is_native_reference

        # parity against an ONNX file or a callable says nothing of what the native model does with NaN (the file
        # compared with itself took null where scikit-learn refuses it; helper-78)
        native = reference is not None and is_native_reference(reference)
        asked = _bool_or_names(options.get("allow_nan"))
        proven = _nan_in_parity(report, sig, data) if native else []
        allow_nan = _nan_inputs(proto, sig, asked, proven)
        if asked is not None and native and data is not None:
            # inputs only the option lets take NaN: the native model is asked what it does with it first
            default = set(_nan_inputs(proto, sig, None, proven))
            levels = {key: _tolerance(key, options[key]) if isinstance(options[key], str) else options[key]
                      for key in ("atol", "rtol") if options.get(key) is not None}
            refuse_nan_the_reference_refuses(proto, sig, [n for n in allow_nan if n not in default], reference, data,
                                             levels)
        name = _service_name(options.get("service_name") or model_name(proto, model) or "onnx-model")
        example = _example_request(sig, data, allow_nan)
        versions = _versions()

        files: dict[str, str | bytes | Path] = {"model.onnx": blob}
        for entry in data_files:  # under the names model.onnx gives them, beside it
            files[entry["file"]] = source.parent / entry["file"]  # type: ignore[union-attr]
        row_columns = _row_columns(sig, data, model.sample if isinstance(model, Conversion) else None)
        files["score.py"] = _score_py(blob, sig, max_rows, allow_nan, row_columns, data_files)
        files["server.py"] = Path(__file__).with_name("server.py").read_text(encoding="utf-8")
        v2, v3 = swagger_documents(sig, example, title=name, model_name=name)
        files["swagger.json"] = _json(v2)
        files["swagger3.json"] = _json(v3)
        files["sample-request.json"] = _json(example)
        files["requirements.txt"] = "".join(f"{pkg}=={ver}\n" if ver else f"{pkg}\n" for pkg, ver in versions.items())
        files["Dockerfile"] = _copy_data_files(_template("Dockerfile", PYTHON_IMAGE=PYTHON_IMAGE, PORT=str(PORT)),
                                               data_files)
        files[".dockerignore"] = "README.md\n*.yml\ndeploymentconfig*.json\ninferenceconfig.json\niotedge-module.json\n"
        files["environment.yml"] = _environment_yml(versions)
        files["inferenceconfig.json"] = _json(
            {"entryScript": "score.py", "runtime": "python", "condaFile": "environment.yml", "sourceDirectory": "."}
        )
        for suffix, config in _deployment_configs().items():
            files[f"deploymentconfig{suffix}.json"] = _json(config)
        files["iotedge-module.json"] = _json(_iotedge_module(name))
        from onnxgate.deploy.manifest import build_manifest, dumps, parity_sentence, repaired_readme

        files["README.md"] = _template(
            "README.md", NAME=name, PORT=str(PORT), SIGNATURE=str(sig), MAX_ROWS=str(max_rows),
            EXAMPLE=json.dumps(example, allow_nan=False), CREATE_OPTIONS=json.dumps(json.dumps(_create_options())),
            PARITY=parity_sentence(report),
        ) + repaired_readme(report)

        manifest = build_manifest(
            blob, model=proto, target=target, report=report, files=[*files, "manifest.json"],
            extra={"service": {"name": name, "port": PORT, "max_rows": max_rows, "allow_nan_inputs": allow_nan,
                               "requirements": versions}},
        )
        if data_files:  # model.onnx's weights, each file's hash as validation read it
            manifest["model"]["external_data"] = data_files
        files["manifest.json"] = dumps(manifest)
        write_folder_atomically(folder, files, overwrite=overwrite)
        return folder


def _validate(model: Any, target: Any, reference: Any, data: Any, options: dict[str, Any]) -> Any:
    from onnxgate.validators import validate

    kwargs: dict[str, Any] = {"reference": reference, "data": data}
    for key in ("atol", "rtol"):
        if options.get(key) is not None:
            kwargs[key] = options[key]
            if isinstance(kwargs[key], str):  # from the CLI's --option atol=1e-4 or atol=probabilities=1e-4
                kwargs[key] = _tolerance(key, kwargs[key])
    if reference is None or data is None:
        given = [k for k in ("atol", "rtol") if k in kwargs]
        if given:  # they were accepted and nothing used them (validate refuses --atol without --reference)
            raise PackagingError(f"{' and '.join(given)} set parity tolerances, and parity needs a reference model "
                                 "and data: pass reference= and data= (CLI: --reference and --data), or leave "
                                 f"{' and '.join(given)} out")
        kwargs = {k: v for k, v in kwargs.items() if k not in ("reference", "data")}
    kwargs["search"], kwargs["seed"] = search_settings(options, reference, data)
    report = validate(model, target, **kwargs)
    if not report.passed:
        raise ValidationFailedError(
            f"the model fails validation for target {target.name!r}, so it was not packaged: {report.summary()}",
            report=report,
        )
    return report


def _tolerance(key: str, text: str) -> float | dict[str, float]:
    """``--option atol=1e-4`` -> 1e-4, ``--option atol=probabilities=1e-4`` -> ``{"probabilities": 1e-4}``, as
    ``onnxgate validate --atol`` reads them (the second was refused as 'must be a number')."""
    name, sep, number = text.rpartition("=")
    try:
        value = float(number)
    except ValueError:
        raise PackagingError(f"{key} expects a number or OUTPUT=NUMBER, found {key}={text!r}; write it as, e.g., "
                             f"--option {key}=1e-5 or --option {key}=probabilities=1e-4") from None
    return {name.strip(): value} if sep and name.strip() else value  # 'atol==1e-4': no output named, one number


def search_settings(options: Mapping[str, Any], reference: Any, data: Any) -> tuple[int, int]:
    """The ``search`` budget (generated rows for the divergence search, 0 for none) and ``seed`` a
    package's validation runs with: a model ``validate --search`` fails is not packaged when asked.

    Raises
    ------
    PackagingError
        A budget or seed that is not a whole number of 0 or more (the CLI's ``--option`` gives text), or a
        search without the reference and data it starts from.
    """
    settings = []
    for key in ("search", "seed"):
        value = _whole_number(options.get(key, 0))
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PackagingError(f"{key}: expected a whole number of 0 or more, found {options.get(key)!r}")
        settings.append(value)
    if settings[0] and (reference is None or data is None):
        raise PackagingError("search needs a reference model and data to start from: pass reference= and "
                             "data= (CLI: --reference and --data)")
    return settings[0], settings[1]


def _whole_number(value: Any) -> Any:
    """``value`` as an int when it is the text of a whole number in ASCII digits (the CLI's ``--option
    max_rows=500``); anything else as it is. ``str.isdigit`` took '²', which int() cannot read (an unexpected
    ValueError), and Arabic-Indic digits, which it reads."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return value


def _positive_int(value: Any, name: str) -> int:
    value = _whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PackagingError(f"{name} must be a positive integer, found {name}={value!r}; give a whole number of 1 "
                             "or more")
    return value


def _bool_or_names(value: Any) -> Any:
    """``--option allow_nan=true|false|a,b`` arrives as a string."""
    if not isinstance(value, str):
        return value
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:  # it was read as no input at all: allow_nan=false, where the default takes NaN where it is handled
        raise PackagingError(f"allow_nan expects true, false or input names separated by commas, found {value!r}; "
                             "write it as, e.g., --option allow_nan=true, or leave it out for the default (the "
                             "inputs the model handles NaN in)")
    return names


def _nan_inputs(proto: Any, sig: Any, allow: bool | Sequence[str] | None, proven: Sequence[str] = ()) -> list[str]:
    floats = [t.name for t in sig.inputs if t.elem_type.startswith("float")]
    if allow is None:
        return [name for name in floats if name in proven or reaches_nan_aware_node(proto, name)]
    if isinstance(allow, bool):
        return floats if allow else []
    from onnxgate.columns import ColumnMap

    renames = ColumnMap.from_model(proto).renames(allow)  # the user's column names name their inputs
    names = [renames.get(n, n) for n in allow]
    unknown = [n for n in names if n not in sig.input_names]
    if unknown:
        raise PackagingError(f"allow_nan names unknown input(s) {unknown}; inputs are {sig.input_names}")
    not_float = [n for n in names if n not in floats]
    if not_float:  # it was dropped without a word: the package took no NaN where the user asked for it
        raise PackagingError(f"allow_nan names input(s) {not_float} that cannot hold NaN (only float inputs can: "
                             f"{floats}); name only those, or leave allow_nan out")
    return names


#: Data rows, and values of one input, that NaN is put in to ask the native model what it does with a missing value.
NAN_PROBE_ROWS = 4
NAN_PROBE_VALUES = 32


def refuse_nan_the_reference_refuses(proto: Any, sig: Any, names: Sequence[str], reference: Any, data: Any,
                                     tolerances: Mapping[str, Any]) -> None:
    """Refuse ``allow_nan`` for inputs ``names`` where the native ``reference`` refuses NaN, or answers it otherwise
    than the file: the data's first rows, each with one value of the input made NaN (up to
    :data:`NAN_PROBE_VALUES` values, spread over the input), scored by both. ``allow_nan=true`` packaged a
    LogisticRegression whose service answered a row with a NaN as label 0 with null probabilities, where
    scikit-learn refuses the row (``Input X contains NaN``): nothing had compared the file's answer to NaN with
    the model's (helper-144).

    Raises
    ------
    PackagingError
        The reference refuses NaN in one of ``names``, or the file answers it otherwise.
    """
    if not names:
        return
    import numpy as np

    from onnxgate import runtime
    from onnxgate._data import as_feeds, float32_rows, iter_batches, load_data
    from onnxgate.validators.parity import first_row_failing, users_values_signature
    from onnxgate.validators.reference import prepare_reference
    from onnxgate.validators.rule import compare_rows, describe_row_evidence
    from onnxgate.validators.tolerances import model_tolerances

    rows = load_data(data) if isinstance(data, (str, os.PathLike)) else data
    head = next(iter_batches(rows, NAN_PROBE_ROWS))
    wide32 = float32_rows(head)
    user_values = users_values_signature(reference, sig, wide32)
    feeds, theirs_feeds = as_feeds(head, sig), as_feeds(head, user_values) if user_values is not None else None
    run_reference = prepare_reference(reference, proto, sig, float32_rows=wide32)
    session = runtime.session(runnable(proto), spinning=False)  # the package's serialization, not another
    levels = model_tolerances(proto, sig.outputs, tolerances.get("atol"), tolerances.get("rtol"))
    columns = sig.columns
    for name in names:
        values = np.asarray(feeds[name])
        width = int(np.prod(values.shape[1:], dtype=np.int64)) if values.ndim > 1 else 1
        at = np.unique(np.linspace(0, width - 1, min(width, NAN_PROBE_VALUES)).round().astype(np.int64))
        count = len(values)

        def with_nan(given: Mapping[str, Any], at: Any = at, count: int = count, name: str = name) -> dict[str, Any]:
            out = {key: np.concatenate([np.asarray(value)] * len(at)) for key, value in given.items()}
            flat = out[name].reshape(len(out[name]), -1)  # a view: NaN written into it is in out[name]
            # block j of the rows (the data's rows again) holds NaN at value at[j]
            flat[np.arange(len(flat)), np.repeat(at, count)] = np.nan
            return out

        ours = with_nan(feeds)
        theirs = with_nan(theirs_feeds) if theirs_feeds is not None else ours
        shown = repr(columns.column_for(name)) + (f" (input {name!r})" if columns.column_for(name) != name else "")
        way_out = ("Leave allow_nan out (the package then takes NaN only where the model handles it), name only the "
                   "inputs the model takes NaN in, or fill missing values in the model itself (an imputer step)")
        try:
            answers = runtime.run_rows(session, None, ours)
        except Exception:
            continue  # the file refuses the row too: a request holding it fails, no answer is given
        try:
            expected = run_reference(theirs)
        except Exception as err:
            bad = first_row_failing(run_reference, theirs)
            where = "" if bad is None or width == 1 else f" (value {int(at[bad // count])} of the input)"
            answer = "; ".join(f"{spec.name}={_brief(value, bad or 0)}" for spec, value in zip(sig.outputs, answers))
            raise PackagingError(
                f"allow_nan lets {shown} take NaN (a missing value), and the reference model refuses NaN there"
                f"{where}: {type(err).__name__}: {_first(err)}. The package would answer such a request ({answer} "
                f"where the model gives no answer). {way_out}") from None
        for spec, mine, want in zip(sig.outputs, answers, expected):
            if want is None or isinstance(mine, list):
                continue
            atol, rtol, mode = levels[spec.name]
            found = compare_rows(np.asarray(want), np.asarray(mine), atol=atol, rtol=rtol, exact=mode == "exact",
                                 name=spec.name, rows=len(np.asarray(mine)) if np.ndim(mine) else 1)
            if found.mismatched_rows:
                first = next(e for e in found.evidence if e is not None)
                raise PackagingError(
                    f"allow_nan lets {shown} take NaN (a missing value), and the file answers NaN there otherwise "
                    f"than the reference model: output {spec.name!r} differs on {found.mismatched_rows} of the "
                    f"{len(found.rows)} rows tried (the data's first {count} rows, each with one of {len(at)} values "
                    f"of the input made NaN; {describe_row_evidence(first)}). {way_out}")


def _brief(value: Any, row: int) -> str:
    import numpy as np

    array = np.asarray(value)
    if not array.ndim or row >= len(array):
        return "?"
    flat = array[row].reshape(-1)
    return ("[" + ", ".join(str(v) for v in flat[:4].tolist()) + (", ...]" if flat.size > 4 else "]")
            if array.ndim > 1 else str(flat[0]))


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else "")[:200].rstrip(".")


def _nan_in_parity(report: Any, sig: Any, data: Any) -> list[str]:
    """The inputs the parity data held NaN in, when parity passed on it against the native model: the
    model takes a missing value there as the native one does (XGBoost and LightGBM route it down a
    branch; a package of them validated on rows with NaN then refused null, found by helper-73). A tree
    in the graph says nothing by itself: skl2onnx writes a missing-value branch for every scikit-learn
    tree, and a GradientBoostingClassifier, or a forest behind a PCA, that scikit-learn refuses NaN for
    answered it (helper-75)."""
    parity = next((c for c in getattr(report, "checks", ()) if c.name == "prediction_parity"), None)
    if parity is None or not parity.passed or parity.skipped or data is None:
        return []
    import numpy as np

    from onnxgate._data import as_feeds, load_data

    rows = load_data(data) if isinstance(data, (str, os.PathLike)) else data
    feeds = as_feeds(rows, sig)
    return [name for name, array in feeds.items()
            if getattr(array, "dtype", np.dtype(object)).kind == "f" and bool(np.isnan(array).any())]


def _service_name(text: str) -> str:
    # Azure ML service and IoT Edge module names: lowercase letters, digits and dashes.
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (name or "onnx-model")[:32]


def _versions() -> dict[str, str]:
    from importlib import metadata

    from onnxgate.deploy.pins import TESTED_VERSIONS

    out: dict[str, str] = {}
    for dist in SERVICE_REQUIREMENTS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            # not installed here (no ``serve`` extra): the version tested with this onnxgate, never "newest"
            if dist not in TESTED_VERSIONS:
                raise PackagingError(
                    f"the container needs {dist!r}, which is not installed and has no tested version; "
                    "install it (pip install 'onnxgate[serve]') and package again"
                ) from None
            out[dist] = TESTED_VERSIONS[dist]
    return out


def _json(obj: Any) -> str:
    # allow_nan=False: a NaN or infinity would be written as a bare NaN token, which is not JSON (RFC 8259)
    # and which JavaScript's JSON.parse (Swagger UI, Node clients) refuses
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def _template(name: str, **values: str) -> str:
    # one pass over the template: a value is never searched for placeholders (one after another, an input named
    # @PARITY@ in SIGNATURE became the parity sentence, and the README's example request named no input)
    text = (_TEMPLATES / name).read_text(encoding="utf-8")
    return re.sub("@(" + "|".join(map(re.escape, values)) + ")@", lambda found: values[found.group(1)], text)


def _row_columns(sig: Any, *candidates: Any) -> list[str] | None:
    """The column labels, as text, of the first of ``candidates`` (the parity data, the conversion's sample) that is
    a table of as many columns as the model's one ``[N,k]`` input takes values per row: the service then takes
    records keyed by them (``pd.DataFrame(X).to_dict("records")`` sends ``"0"``, ``"1"``...), each value at its
    label's position. None for any other model, for an input that records the columns it was fitted on (the
    service names those in its refusal), and when no candidate has labels (an array, no data)."""
    from onnxgate._data import is_dataframe, read_rows

    spec = sig.inputs[0] if len(sig.inputs) == 1 else None
    if (spec is None or sig.columns.renamed or spec.fitted_columns is not None or spec.rank != 2
            or not isinstance(spec.shape[1], int)):
        return None
    for data in candidates:
        data = read_rows(data)  # a file or folder the parity check read already
        if is_dataframe(data) and len(data.columns) == spec.shape[1]:
            labels = [str(c) for c in data.columns]
            return labels if len(set(labels)) == len(labels) and spec.name not in labels else None
    return None


def _data_files(report: Any, source: Path | None) -> list[dict[str, Any]]:
    """The external data files a package copies beside ``model.onnx`` (``{"file", "sha256", "bytes"}``, as the
    validation report lists them): those of a model held without its weights (``source``, its .onnx file); none
    for another model, whose weights ``model.onnx`` holds."""
    if source is None:
        return []
    return [dict(entry) for entry in report.model.get("external_data", [])]


def _copy_data_files(dockerfile: str, data_files: Sequence[Mapping[str, Any]]) -> str:
    """``dockerfile`` whose image also holds ``data_files`` beside ``model.onnx``, at their relative names."""
    if not data_files:
        return dockerfile
    line = "COPY model.onnx "
    assert dockerfile.count(line) == 1, "Dockerfile template lost its COPY of model.onnx"
    copies = "".join(f"COPY {json.dumps([e['file'], './' + e['file']])}\n" for e in data_files)
    return dockerfile.replace(line, copies + line)


def _score_py(blob: bytes, sig: Any, max_rows: int, allow_nan: list[str], row_columns: list[str] | None = None,
              data_files: Sequence[Mapping[str, Any]] = ()) -> str:
    from onnxgate import __version__
    from onnxgate._onnx import sha256_of

    config = {
        "model_file": "model.onnx",
        "model_sha256": sha256_of(blob),
        "signature": sig.to_dict(),
        "max_rows": max_rows,
        "allow_nan": allow_nan,
        "onnxgate_version": __version__,
    }
    if sig.columns.renamed:  # the user's own column names, accepted in requests (onnxgate.columns)
        config["columns"] = [list(pair) for pair in sig.columns.pairs]
    if sig.columns.unread:  # columns the model drops (a ColumnTransformer's remainder): accepted and not read
        config["unread"] = list(sig.columns.unread)
    if row_columns:  # the labels of the data's columns the one [N,k] input takes by position (_row_columns)
        config["row_columns"] = row_columns
    if data_files:  # model.onnx's weights, in files beside it: onnxruntime reads the model from its path
        config["data_files"] = [{"file": e["file"], "sha256": e["sha256"]} for e in data_files]
    text = (_TEMPLATES / "score.py").read_text(encoding="utf-8")
    codes = "# @CATEGORY_CODES@\n"
    assert text.count(codes) == 1, "score.py template lost its category codes marker"
    # the one value -> code mapping onnxgate's feeds use, its function only (score.py imports nothing from onnxgate)
    source = (Path(__file__).parents[1] / "_category_codes.py").read_text(encoding="utf-8")
    text = text.replace(codes, source[source.index("def category_codes("):])
    marker = "__ONNXGATE_CONFIG__"
    assert text.count(marker) == 1, "score.py template lost its config marker"
    # ensure_ascii keeps the raw string free of anything but printable ASCII; json escapes quotes.
    return text.replace(marker, json.dumps(config, ensure_ascii=True))


#: The most values one row of an input may hold: the package's example request (a row of zeros when there is no
#: data) writes them all as JSON, several MB per million. An input declared [N, 2**40] asked numpy for 4 TiB and
#: the CLI said "unexpected MemoryError, please report it".
EXAMPLE_ROW_VALUES_LIMIT = 2**20


def _example_request(sig: Any, data: Any, allow_nan: Sequence[str] = ()) -> dict[str, Any]:
    """The example request of the package: :data:`EXAMPLE_ROWS` rows of ``data`` that the service scores.

    The files holding it (``sample-request.json``, the swagger files, the README) must be JSON, which has no
    NaN or infinity, and the example must score. So the first complete rows are shown (every value finite,
    every text present). When no row is complete, the first rows whose only missing values are NaN in
    inputs of ``allow_nan`` are shown, the NaN written as ``null`` (score.py reads ``null`` as NaN for such an
    input); when there are none either (or no ``data``), a row of zeros (empty strings) shows the shape.
    """
    import numpy as np

    arrays: dict[str, Any] = {}
    if data is not None:
        arrays = _example_rows(example_feeds(data, sig), allow_nan)
    if not arrays:
        for spec in sig.inputs:
            shape = [1 if not isinstance(d, int) else d for d in (spec.shape or (1,))]
            shape[0] = 1
            row_values = int(np.prod(shape, dtype=object))
            if row_values > EXAMPLE_ROW_VALUES_LIMIT:
                raise PackagingError(
                    f"input {spec.name!r} is declared {spec.shape_str()}: one row holds "
                    f"{row_values:,} values, more than the {EXAMPLE_ROW_VALUES_LIMIT:,} a request "
                    "row of the service can carry. Export the model with the input's real size (a dimension that "
                    "large is a placeholder, not a width any request sends).", input=spec.name)
            if spec.elem_type == "string":
                arrays[spec.name] = np.full(shape, "", dtype=object)
            else:
                arrays[spec.name] = np.zeros(shape, dtype=spec.numpy_dtype)
    values = {k: _nan_as_null(np.asarray(v)) for k, v in arrays.items()}
    for spec in sig.inputs:
        if spec.name in values and spec.codes:
            values[spec.name] = _ambiguous_codes_as_texts(spec, values[spec.name])
    if len(sig.inputs) == 1:
        return {"data": values[sig.inputs[0].name]}
    # the example speaks the user's own column names (score.py maps them to the inputs)
    return {"data": {sig.columns.column_for(k): v for k, v in values.items()}}


def example_feeds(data: Any, sig: Any) -> dict[str, Any]:
    """``data`` as the model's feeds, for a package's example request (also the MLflow package's).

    Rows that do not fit the model are refused, not replaced by a row of zeros: with a reference the same rows
    were compared first, so only rows given for the example alone (``package --data`` without ``--reference``)
    get here not fitting, and a package whose example silently left them out (a file of 2 columns for a model
    of 4 was packaged with exit 0 and ``[[0, 0, 0, 0]]`` as its example) hides the user's mistake.

    Raises
    ------
    InvalidDataError
        The rows do not fit the model's inputs; the message says so and why.
    """
    from onnxgate._data import as_feeds
    from onnxgate.errors import InvalidDataError

    try:
        return as_feeds(data, sig)
    except InvalidDataError as err:
        raise InvalidDataError(f"the rows of the package's example request (data=, CLI: --data) do not fit the "
                               f"model: {err}") from err


def _example_rows(feeds: dict[str, Any], allow_nan: Sequence[str], limit: int = EXAMPLE_ROWS) -> dict[str, Any]:
    """The first ``limit`` complete rows of ``feeds``, else the first ones missing only NaN in inputs of
    ``allow_nan``; ``{}`` when no row is either. Also the MLflow package's example rows."""
    import numpy as np

    rows = min((len(v) for v in feeds.values()), default=0)
    complete = np.ones(rows, dtype=bool)
    acceptable = np.ones(rows, dtype=bool)
    for name, values in feeds.items():
        arr = np.asarray(values)[:rows].reshape(rows, -1)
        if arr.dtype.kind == "f":
            nan = np.isnan(arr).any(axis=1)
            other = np.isinf(arr).any(axis=1)
        elif arr.dtype.kind == "O":  # text: None or a float NaN (pandas' missing value) is no text, and
            # neither is a text that starts with NUL, the one a missing category is fed as ("\x00missing")
            nan = np.zeros(rows, dtype=bool)
            other = np.array([any(not isinstance(v, str) or v.startswith("\x00") for v in row) for row in arr],
                             dtype=bool)
        else:
            continue
        complete &= ~(nan | other)
        acceptable &= ~other if name in allow_nan else ~(nan | other)
    chosen = np.flatnonzero(complete)[:limit]
    if not chosen.size:
        chosen = np.flatnonzero(acceptable)[:limit]
    return {k: np.asarray(v)[chosen] for k, v in feeds.items()} if chosen.size else {}


def _ambiguous_codes_as_texts(spec: Any, rows: Any) -> Any:
    """``rows`` (nested lists of an input of category codes) with the codes of each column whose number categories
    are also other categories' codes (months 1..12: code 3 is 4) as their categories' texts (``"4"``), null for a
    missing one: score.py refuses such a number, which could be either, and the example must score."""
    for position, categories in spec.codes:
        if categories is None or not any(
                isinstance(c, (int, float)) and not isinstance(c, bool) and c != i and float(c).is_integer()
                and -1 <= c < len(categories) for i, c in enumerate(categories)):
            continue
        for i, row in enumerate(rows):
            cells, at = (row, position) if isinstance(row, list) else (rows, i)
            value = cells[at]
            if isinstance(value, (int, float)) and value == value:
                cells[at] = str(categories[int(value)]) if 0 <= value < len(categories) else None
    return rows


def _nan_as_null(arr: Any) -> Any:
    """Nested lists of ``arr``, with NaN as None (JSON ``null``): JSON has no NaN."""
    import numpy as np

    if arr.dtype.kind == "f" and np.isnan(arr).any():
        cells = arr.astype(object)
        cells[np.isnan(arr)] = None
        return cells.tolist()
    return arr.tolist()


def _array_schema(spec: Any) -> dict[str, Any]:
    item: dict[str, Any] = dict(_SWAGGER_TYPES.get(spec.elem_type, {"type": "object"}))
    if not spec.is_tensor:
        return {"type": "object"}
    shape = spec.shape or (None,)
    for dim in reversed(shape):
        item = {"type": "array", "items": item}
        if isinstance(dim, int):
            item["minItems"] = item["maxItems"] = dim
    # The first axis is the rows: its size is the caller's choice.
    item.pop("minItems", None)
    item.pop("maxItems", None)
    return item


def swagger_documents(sig: Any, example: dict[str, Any], *, title: str, model_name: str | None = None
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Swagger 2.0 and OpenAPI 3.0.3 documents for a model's service, derived from its Signature.

    Parameters
    ----------
    sig : Signature
    example : dict
        An example request (``{"data": ...}``).
    title : str
        ``info.title``.
    model_name : str, optional
        The model's name on the Open Inference Protocol routes (default: ``title``).

    Returns
    -------
    (dict, dict)
        The Swagger 2.0 and the OpenAPI 3 document: the Azure ML inference server's routes and the
        Open Inference Protocol (v2) routes.
    """
    if len(sig.inputs) == 1:
        data_schema = _array_schema(sig.inputs[0])
    else:
        # keyed by the user's own column names when the inputs were renamed (score.py takes either)
        named = sig.columns.column_for
        data_schema = {
            "type": "object",
            "required": [named(n) for n in sig.input_names],
            "properties": {named(t.name): _array_schema(t) for t in sig.inputs},
        }
    service_input = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": data_schema},
        "example": example,
    }
    service_output = {
        "type": "object",
        "required": sig.output_names,
        "properties": {t.name: _array_schema(t) for t in sig.outputs},
    }
    error = {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "status": {"type": "integer"},
        },
    }
    info = {"title": title, "version": "1.0", "description": f"ONNX model {sig}"}
    health = {"operationId": "ServiceHealthCheck", "description": "Simple health check endpoint"}
    v2: dict[str, Any] = {
        "swagger": "2.0",
        "info": info,
        "schemes": ["http", "https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header",
                       "description": "For example: Bearer abc123"}
        },
        "paths": {
            "/": {"get": {**health, "responses": {"200": {"description": "Healthy", "schema": {"type": "string"}}}}},
            "/score": {"post": {
                "operationId": "RunMLService",
                "description": "Run the model on rows of input",
                "security": [{"Bearer": []}],
                "parameters": [{"name": "serviceInputPayload", "in": "body", "required": True,
                                "schema": {"$ref": "#/definitions/ServiceInput"}}],
                "responses": {
                    "200": {"description": "Outputs by name", "schema": {"$ref": "#/definitions/ServiceOutput"}},
                    "default": {"description": "Error", "schema": {"$ref": "#/definitions/ErrorResponse"}},
                },
            }},
            "/swagger.json": {"get": {
                "operationId": "GetSwaggerSpec",
                "parameters": [{"name": "version", "in": "query", "required": False, "type": "string",
                                "enum": ["2", "3"]}],
                "responses": {"200": {"description": "This document", "schema": {"type": "object"}}},
            }},
        },
        "definitions": {"ServiceInput": service_input, "ServiceOutput": service_output, "ErrorResponse": error},
    }
    v2_schemas = _v2_schemas(sig)
    v2["paths"].update(_v2_paths(model_name or title, "#/definitions/", openapi3=False))
    v2["definitions"].update(v2_schemas)
    ref = "#/components/schemas/"
    v3: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": info,
        "paths": {
            "/": {"get": {**health, "responses": {"200": {
                "description": "Healthy", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/score": {"post": {
                "operationId": "RunMLService",
                "description": "Run the model on rows of input",
                "security": [{"Bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": ref + "ServiceInput"}, "example": example}}},
                "responses": {
                    "200": {"description": "Outputs by name",
                            "content": {"application/json": {"schema": {"$ref": ref + "ServiceOutput"}}}},
                    "default": {"description": "Error",
                                "content": {"application/json": {"schema": {"$ref": ref + "ErrorResponse"}}}},
                },
            }},
            "/swagger.json": {"get": {
                "operationId": "GetSwaggerSpec",
                "parameters": [{"name": "version", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["2", "3"]}}],
                "responses": {"200": {"description": "This document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "schemas": {"ServiceInput": service_input, "ServiceOutput": service_output, "ErrorResponse": error,
                        **v2_schemas},
            "securitySchemes": {"Bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    v3["paths"].update(_v2_paths(model_name or title, ref, openapi3=True))
    return v2, v3


#: Open Inference Protocol datatype of each element type (server.py's V2_DATATYPES).
_V2_DATATYPES = {
    "bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
    "float32": "FP32", "float64": "FP64", "string": "BYTES",
}


def _v2_schemas(sig: Any) -> dict[str, Any]:
    def tensor_meta(specs: Any) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}}}},
            "example": [{"name": t.name, "datatype": _V2_DATATYPES.get(t.elem_type, t.elem_type.upper()),
                         "shape": [d if isinstance(d, int) else -1 for d in (t.shape or (None,))]} for t in specs]}

    tensor = {"type": "object", "required": ["name", "shape", "datatype"], "properties": {
        "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string", "enum": sorted(set(_V2_DATATYPES.values()))},
        "parameters": {"type": "object", "properties": {"binary_data_size": {"type": "integer"}}},
        "data": {"type": "array", "items": {}, "description": "row-major values, flat or nested"}}}
    requested = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "enum": sig.output_names},
        "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}}}}
    return {
        "V2ModelMetadata": {"type": "object", "properties": {
            "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"}, "inputs": tensor_meta(sig.inputs), "outputs": tensor_meta(sig.outputs)}},
        "V2InferenceRequest": {"type": "object", "required": ["inputs"], "properties": {
            "id": {"type": "string"}, "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": tensor}, "outputs": {"type": "array", "items": requested}}},
        "V2InferenceResponse": {"type": "object", "properties": {
            "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
            "outputs": {"type": "array", "items": tensor}}},
        "V2Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    }


def _v2_paths(name: str, ref: str, *, openapi3: bool) -> dict[str, Any]:
    """The Open Inference Protocol routes that server.py serves, for the Swagger/OpenAPI files."""

    def reply(description: str, schema: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"$ref": ref + schema} if schema else {"type": "object"}
        if openapi3:
            return {"description": description, "content": {"application/json": {"schema": body}}}
        return {"description": description, "schema": body}

    def get(op: str, description: str, schema: str | None, secured: bool = True) -> dict[str, Any]:
        operation: dict[str, Any] = {"operationId": op, "description": description, "responses": {
            "200": reply("OK", schema), "default": reply("Error", "V2Error")}}
        if secured:
            operation["security"] = [{"Bearer": []}]
        return {"get": operation}

    infer: dict[str, Any] = {
        "operationId": "V2ModelInfer",
        "description": ("Open Inference Protocol inference: JSON tensors, or the binary tensor data extension "
                        "(header Inference-Header-Content-Length = length of the JSON part; binary inputs "
                        "follow it with parameters.binary_data_size)"),
        "security": [{"Bearer": []}],
        "responses": {"200": reply("Outputs", "V2InferenceResponse"), "default": reply("Error", "V2Error")},
    }
    if openapi3:
        infer["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": ref + "V2InferenceRequest"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    else:
        infer["consumes"] = ["application/json", "application/octet-stream"]
        infer["parameters"] = [{"name": "request", "in": "body", "required": True,
                                "schema": {"$ref": ref + "V2InferenceRequest"}}]
    base = f"/v2/models/{name}"
    return {
        "/v2/health/live": get("V2ServerLive", "Open Inference Protocol: the server is live", None, secured=False),
        "/v2/health/ready": get("V2ServerReady", "Open Inference Protocol: the server is ready", None, secured=False),
        base: get("V2ModelMetadata", "Open Inference Protocol: model metadata", "V2ModelMetadata"),
        f"{base}/ready": get("V2ModelReady", "Open Inference Protocol: the model is ready", None),
        f"{base}/infer": {"post": infer},
        f"{base}/versions/1/infer": {"post": {**infer, "operationId": "V2ModelVersionInfer"}},
    }


def _environment_yml(versions: dict[str, str]) -> str:
    pins = [f"{k}=={v}" if v else k for k, v in versions.items() if k in ("numpy", "onnxruntime")]
    lines = ["name: onnx-model-env", "channels:", "  - conda-forge", "dependencies:", "  - python=3.11",
             "  - pip", "  - pip:", *(f"    - {p}" for p in pins),
             "    - azureml-inference-server-http==1.5.1", ""]
    return "\n".join(lines)


def _deployment_configs() -> dict[str, dict[str, Any]]:
    # Key names from the Azure ML v1 CLI deployment config schema (research/targets.md B.5).
    return {
        "": {"computeType": "local", "port": PORT},
        ".aci": {
            "computeType": "aci",
            "containerResourceRequirements": {"cpu": 1, "memoryInGB": 1.0},
            "authEnabled": True,
            "sslEnabled": False,
            "appInsightsEnabled": False,
        },
        ".aks": {
            "computeType": "aks",
            "autoScaler": {"autoscaleEnabled": True, "minReplicas": 1, "maxReplicas": 3,
                           "refreshPeriodInSeconds": 10, "targetUtilization": 70},
            "authEnabled": True,
            "containerResourceRequirements": {"cpu": 1, "memoryInGB": 1.0},
            "scoringTimeoutMs": 60000,
            "maxConcurrentRequestsPerContainer": 4,
            "maxQueueWaitMs": 500,
            "livenessProbeRequirements": {"periodSeconds": 10, "initialDelaySeconds": 10, "timeoutSeconds": 2,
                                          "successThreshold": 1, "failureThreshold": 3},
        },
    }


def _create_options() -> dict[str, Any]:
    return {"HostConfig": {"PortBindings": {f"{PORT}/tcp": [{"HostPort": str(PORT)}]}}}


def _iotedge_module(name: str) -> dict[str, Any]:
    # In a deployment manifest createOptions must be a string; the object form is kept alongside
    # for deployment templates (research/targets.md C).
    return {
        "createOptionsObject": _create_options(),
        "modules": {
            name: {
                "version": "1.0",
                "type": "docker",
                "status": "running",
                "restartPolicy": "always",
                "settings": {
                    "image": f"<registry>.azurecr.io/{name}:1",
                    "createOptions": json.dumps(_create_options()),
                },
            }
        },
    }



"""``onnxgate package``: validate a model for a target and write what that target needs into a folder.

Dispatches through :func:`onnxgate.deploy.package`, so every target with a packager (SQL scripts,
container build context) shares this command. Exit codes: 0 written, 1 the model failed validation
(the report is printed), 2 usage or input error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from onnxgate.errors import InvalidDataError

__all__ = ["parse_options", "register", "run"]

#: Options of the SQL packager with a flag of their own (``--model-name`` -> ``model_name``).
SQL_OPTION_FLAGS = ("schema", "model_table", "input_table", "model_name", "model_version", "description")
#: What each of those names in the scripts, and its default (``SqlPackageOptions``).
SQL_OPTION_HELP = {
    "schema": "schema of the scripts' tables (default dbo)",
    "model_table": "table the model is stored in (default models)",
    "input_table": "table of the rows to score (default <model name>_input)",
    "model_name": "the model's name in the model table (default: the graph's name, else model)",
    "model_version": "the model's version in the model table (default 1)",
    "description": "the model's description in the model table (default '<model name> (ONNX, packaged by onnxgate)')",
}


def register(sub: Any) -> None:
    from onnxgate._commands._common import add_trust_pickle
    from onnxgate._commands.validate import add_target_args

    p = sub.add_parser(
        "package",
        help="validate a model for a target and write its deployment package (T-SQL scripts, container, MLflow)",
        description=(
            "Validate MODEL (an .onnx file) for the target and write the package into a new or empty folder. "
            "A model that fails the target's checks is refused and the report printed (exit 1)."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="the .onnx file")
    add_target_args(p, packaging=True)
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="folder to write (new or empty)")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder, replacing files")
    p.add_argument("--reference", metavar="MODEL", help="native model file for the parity check before packaging")
    p.add_argument("--data", metavar="DATA", help="rows for parity (with --reference): .csv, .parquet or .npy; "
                   "alone, for a container or MLflow package, the rows of its example request")
    p.add_argument("--search", type=int, default=0, metavar="N",
                   help="also run the divergence search on N generated inputs first (needs --reference, --data)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the search's generated inputs")
    add_trust_pickle(p)
    sql = p.add_argument_group("SQL targets")
    sql.add_argument("--adapt", action="store_true",
                     help="reshape the model for PREDICT first (one [N,1] input per column, one value per row)")
    sql.add_argument("--columns", metavar="A,B,...", help="table column names for an [N,k] input (with --adapt)")
    for name in SQL_OPTION_FLAGS:
        sql.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="NAME" if name != "description" else "TEXT",
                         help=SQL_OPTION_HELP[name])
    ml = p.add_argument_group("mlflow target")
    ml.add_argument("--registry", nargs="?", const=True, default=None, metavar="URI",
                    help="also log the package to an MLflow tracking store and register it "
                         "(default URI file:./mlruns; http://host:5000, databricks...; a database URI such as "
                         "sqlite:///mlflow.db needs SQLAlchemy installed beside MLflow)")
    ml.add_argument("--name", metavar="NAME", help="registered model name (default: the graph's name)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", default=[],
                   help="a packager option by name (repeatable), e.g. --option max_rows=5000 (container)")
    p.set_defaults(run=run)


def parse_options(items: list[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidDataError(f"--option expects KEY=VALUE, found {item!r}; give a name and its value, e.g. "
                                   "--option max_rows=5000 (one --option each)")
        name = key.strip().replace("-", "_")
        if name in out:  # the last one won without a word
            raise InvalidDataError(f"--option {name} is given twice ({out[name]!r} and {value!r}); give it once")
        out[name] = value
    return out


#: ``--option`` values the SQL packager takes as other than text, and what each expects.
SQL_TYPED_OPTIONS = {
    "adapt": ("true or false (also 1/0, yes/no)", "adapt=true"),
    "columns": ("table column names separated by commas", "columns=age,height"),
    "column_types": ("name:type pairs separated by commas", "column_types=age:int64,height:float32"),
    "hex_limit": ("a whole number of bytes, 0 or more", "hex_limit=1000000"),
}
#: Of those, the options that only mean something when the model is adapted.
_ADAPT_OPTIONS = ("columns", "column_types")


def sql_option_values(options: dict[str, Any]) -> dict[str, Any]:
    """``--option`` text typed as the SQL packager takes it: ``adapt`` a bool, ``columns`` a list,
    ``column_types`` a mapping, ``hex_limit`` an int. A value that does not read as its type is an input
    error saying what was expected, what was found and how to write it (``bool("false")`` adapted).

    Raises
    ------
    InvalidDataError
        A value that is not of the option's type.
    """
    out = dict(options)

    def bad(key: str, value: str) -> InvalidDataError:
        expects, example = SQL_TYPED_OPTIONS[key]
        return InvalidDataError(f"--option {key} expects {expects}, found {value!r}; write it as, e.g., "
                                f"--option {example}")

    if isinstance(out.get("adapt"), str):
        flag = out["adapt"].strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise bad("adapt", out["adapt"])
        out["adapt"] = flag in ("true", "1", "yes")
    if isinstance(out.get("columns"), str):
        out["columns"] = [c.strip() for c in out["columns"].split(",")]
    if isinstance(out.get("column_types"), str):
        pairs = {}
        for item in out["column_types"].split(","):
            name, sep, kind = item.partition(":")
            if not sep or not name.strip() or not kind.strip():
                raise bad("column_types", out["column_types"])
            pairs[name.strip()] = kind.strip()
        out["column_types"] = pairs
    if isinstance(out.get("hex_limit"), str):
        text = out["hex_limit"].strip()
        if not text.isascii() or not text.isdigit():
            raise bad("hex_limit", out["hex_limit"])
        out["hex_limit"] = int(text)
    return out


def run(args: argparse.Namespace) -> int:
    from onnxgate._commands._common import load_data_arg, load_native_model, refuse_native_model
    from onnxgate._commands.validate import resolve_target_args
    from onnxgate.cli import EXIT_FAILED, EXIT_OK
    from onnxgate.deploy import package
    from onnxgate.errors import ValidationFailedError

    target = resolve_target_args(args)
    if getattr(args, "target", None) is None and getattr(args, "target_file", None) is None:
        raise InvalidDataError("package needs --target (e.g. --target sql-edge-2.0) or --target-file")
    refuse_native_model(args.model, "package")
    from onnxgate.api import refuse_package_over_inputs

    # before anything is loaded: --force replaces an earlier package's files, never the files read
    refuse_package_over_inputs(args.out, target, {
        "the model being packaged": args.model, "the --reference model": args.reference,
        "the --data file": args.data, "the --target-file": getattr(args, "target_file", None),
    })
    from onnxgate._commands._common import refuse_unwritable

    # -o under a file was "cannot use '.../f/out': File exists", after the model was validated (helper-306)
    refuse_unwritable(args.out, "-o")
    if args.data and not args.reference and target.is_sql:  # it was ignored; it makes the others' example request
        raise InvalidDataError("--data needs --reference for a SQL package: the rows are for the parity check "
                               "(a container or MLflow package takes them alone too, for its example request); add "
                               "--reference MODEL, or leave --data out")
    reference = load_native_model(args.reference, trust_pickle=args.trust_pickle) if args.reference else None
    data = load_data_arg(args.data) if args.data else None
    if args.reference and not args.data:
        raise InvalidDataError("--reference needs --data: parity compares predictions on rows; add --data ROWS "
                               "(.csv, .parquet or .npy)")
    options: dict[str, Any] = parse_options(args.option)
    if args.search < 0 or args.seed < 0:
        raise InvalidDataError(f"--search and --seed take 0 or more, found {args.search} and {args.seed}; give 0 or "
                               "more (--search 0: no search)")
    if args.search and not args.reference:
        raise InvalidDataError("--search needs --reference and --data: it compares generated rows with the reference; "
                               "add --reference MODEL --data ROWS, or leave --search out")
    if args.search:
        options.update(search=args.search, seed=args.seed)
    if target.is_sql:
        for name in SQL_OPTION_FLAGS:
            value = getattr(args, name, None)
            if value is not None:
                options[name] = value
        options = sql_option_values(options)
        if args.adapt:
            options["adapt"] = True
        given = [f"--option {k}" for k in _ADAPT_OPTIONS if k in options]
        if given and not options.get("adapt"):
            raise InvalidDataError(f"{' and '.join(given)} apply to the columns --adapt makes; add --adapt "
                                   "(or --option adapt=true), or leave them out")
        if args.columns and not args.adapt:
            raise InvalidDataError("--columns names the table columns of the [N,k] input that --adapt splits; "
                                   "add --adapt, or leave --columns out")
        if args.columns:
            options["columns"] = [c.strip() for c in args.columns.split(",")]
        if options.get("columns") is not None:
            from onnxgate.sql_rules import check_column_names

            check_column_names(options["columns"])  # before the model is validated (and searched, with --search)
    elif args.adapt or args.columns or any(getattr(args, n, None) is not None for n in SQL_OPTION_FLAGS):
        raise InvalidDataError(f"--adapt, --columns and the SQL names apply to SQL targets, not {target.name!r}")
    if target.name == "mlflow":
        given = [k for k in ("registry", "name") if k in options]
        if given:  # as text 'registry=false' registered the model in a store named ./false
            raise InvalidDataError(f"--option {' and --option '.join(given)}: give them as --registry [URI] and "
                                   "--name NAME, which are read as what they are and checked before anything is "
                                   "written")
        if args.name is not None and not args.name.strip():
            raise InvalidDataError("--name needs a registered model name, found an empty one")
        if args.name and not args.registry:
            raise InvalidDataError("--name names the model in an MLflow registry; add --registry [URI]")
        if args.name:
            from onnxgate.deploy.mlflow import check_registered_name

            check_registered_name(args.name)  # before anything is written
        if isinstance(args.registry, str):
            from onnxgate.deploy.mlflow import check_tracking_uri

            check_tracking_uri(args.registry)  # before anything is written
    elif args.registry is not None or args.name is not None:
        raise InvalidDataError(f"--registry and --name apply to --target mlflow, not {target.name!r}")
    if target.name == "mlflow":
        from onnxgate.deploy.mlflow import require_mlflow

        require_mlflow()  # before validating: a missing extra is said first
    try:
        with _warnings_as_notes():
            folder = package(args.model, target=target, out=args.out, reference=reference, data=data,
                             overwrite=args.force, **options)
    except ValidationFailedError as err:
        report = getattr(err, "report", None)
        print(str(report) if report is not None else str(err), file=sys.stderr)
        print(f"onnxgate package: refused: the model fails target {target.name!r}; nothing was written",
              file=sys.stderr)
        return EXIT_FAILED
    from onnxgate._package_rules import package_manifest

    manifest = package_manifest(folder)
    manifest = manifest if isinstance(manifest, dict) else {}
    files = sorted(_written(folder, manifest))
    print(f"wrote {folder} ({len(files)} files: {', '.join(files)})")
    _note_unchecked_parity(manifest)
    described = manifest.get("model")
    repaired = (described.get("repairs") if isinstance(described, dict) else None) or []
    for repair in repaired:
        print(f"note: model.onnx is the file given, repaired: {repair}", file=sys.stderr)
    if repaired and isinstance(described, dict):
        validation = manifest.get("validation")
        given_sha = validation.get("model_sha256") if isinstance(validation, dict) else None
        print(f"note: so model.onnx's sha256 is {described.get('sha256')} (manifest model.sha256), not the file "
              f"given's, {given_sha} (the validation report's model.sha256)", file=sys.stderr)
    if target.is_sql:
        _note_renamed_columns(manifest)
        sql = manifest.get("sql")
        for note in (sql.get("lowered") if isinstance(sql, dict) else None) or []:
            print(f"note: --adapt lowered the file to the caps of target {target.name!r}: {note}", file=sys.stderr)
        for note in (sql.get("kernel_rewrites") if isinstance(sql, dict) else None) or []:
            print(f"note: --adapt rewrote nodes for target {target.name!r}: {note}", file=sys.stderr)
        densified = sql.get("densified_sparse_initializers") if isinstance(sql, dict) else None
        if densified:
            print(f"note: model.onnx holds the sparse initializers {', '.join(map(str, densified))} as dense tensors "
                  "(same values): the onnxruntime of SQL Edge 1.0 and Synapse (1.5.x) does not read sparse "
                  "initializers", file=sys.stderr)
    _note_kept_input_names(manifest)
    given_name = options.get("service_name")
    if given_name and not target.is_sql and target.name != "mlflow":
        from onnxgate.deploy.server import service_name

        used = service_name(folder)
        if used != given_name:
            print(f"note: service name {given_name!r} became {used!r} (Azure ML and IoT Edge take lowercase "
                  "letters, digits and dashes, at most 32): v2 clients call /v2/models/" + used, file=sys.stderr)
    if target.name == "mlflow" and args.registry:
        from onnxgate.deploy.mlflow import DEFAULT_REGISTRY, register_mlflow_model

        uri = DEFAULT_REGISTRY if args.registry is True else args.registry
        import onnx

        name = args.name or onnx.load(str(folder / "model.onnx"), load_external_data=False).graph.name or folder.name
        from onnxgate.errors import OnnxGateError, PackagingError

        try:
            result = register_mlflow_model(folder, uri, name=name)
        except OnnxGateError as err:
            raise PackagingError(f"{err}. The package in {str(folder)!r} was written and is kept; rerun with "
                                 "--force to write and register it again") from err
        if result["registered"]:
            print(f"registered {result['model_uri']} in {uri} (run {result['run_id']})")
        else:
            print(f"logged {result['model_uri']} in {uri}: {result['note']}")
    return EXIT_OK


@contextlib.contextmanager
def _warnings_as_notes() -> Iterator[None]:
    """Say onnxgate's own warnings of the package step (an MLflow package of integer column labels, category values
    that are also codes) as one ``note:`` line each on stderr: Python printed them as
    ``.../onnxgate/cli.py:148: UserWarning: onnxgate: ...`` followed by the source line ``return int(args.run(args))``.
    Any other warning is shown as Python shows it."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as recorded:
            warnings.filterwarnings("always", message="onnxgate: ", category=UserWarning)
            try:
                yield
            finally:
                caught = list(recorded or ())
    finally:  # outside the recording: a warning shown again inside it would be recorded again
        for warning in caught:
            text = str(warning.message)
            if issubclass(warning.category, UserWarning) and text.startswith("onnxgate: "):
                print(f"note: {text.removeprefix('onnxgate: ')}", file=sys.stderr)
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _note_unchecked_parity(manifest: dict[str, Any]) -> None:
    """Say on stderr when the package was written without prediction parity (no --reference)."""
    from onnxgate.deploy.manifest import parity_skipped

    if manifest and parity_skipped(manifest):
        print("note: prediction parity was not checked (no --reference): the model passed the "
              "target's checks only; the package's README and manifest say so", file=sys.stderr)


def _written(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """The entries of ``folder`` the package wrote (its manifest lists them), not the user's own files a
    ``--force`` kept beside them."""
    listed = manifest.get("files")
    names = [p.name for p in folder.iterdir()]
    if not isinstance(listed, list):
        return names
    ours = {Path(str(rel)).parts[0] for rel in listed if str(rel)} | {"manifest.json"}
    return [name for name in names if name in ours]


def _note_kept_input_names(manifest: dict[str, Any]) -> None:
    """Say on stderr when an MLflow package kept the model's input names, so the DataFrame the model was
    fitted on does not pass MLflow's schema until its columns are renamed (helper-99)."""
    mlflow = manifest.get("mlflow")
    mlflow = mlflow if isinstance(mlflow, dict) else {}
    said = mlflow.get("input_names")
    if isinstance(said, str) and said.startswith("kept"):
        columns = mlflow.get("renamed_columns") or {}
        kept = said.removesuffix(" (renamed_columns maps the data's columns to them)")
        print(f"note: the MLflow package {kept}; rename a DataFrame's columns before predict: "
              f"frame.rename(columns={columns!r})", file=sys.stderr)
    fitted = mlflow.get("fitted_columns")
    if isinstance(fitted, str) and fitted.startswith("by position"):
        print(f"note: the MLflow package takes the fitted columns {fitted}", file=sys.stderr)
    missing = mlflow.get("missing_text")
    for column, said in (missing if isinstance(missing, dict) else {}).items():
        texts = said.get("read_as_category") if isinstance(said, dict) else None
        if texts:
            print(f"note: MLflow's loader hands the model a missing value of {column!r} (None, or pandas' NA) as the "
                  f"text {' or '.join(repr(t) for t in texts)}, which the model reads as its category of that name; "
                  "give NaN for a missing value there", file=sys.stderr)


#: The names a SQL package's manifest records beside ``sql.inputs``' and ``sql.outputs``' own (the data's column, the
#: model's output, when ``--adapt`` renamed them), and the note that says so.
_RENAMED_NOTES = (
    ("inputs", "data_column", "columns renamed to SQL identifiers (the data may use either name)"),
    ("outputs", "model_output", "outputs renamed to SQL identifiers (PREDICT's WITH clause names them so)"),
)


def _note_renamed_columns(manifest: dict[str, Any]) -> None:
    """Say on stderr which of the data's columns became other table column names (as convert does), and which of the
    model's outputs other WITH column names."""
    sql = manifest.get("sql")
    if not isinstance(sql, dict):
        return
    for side, before, note in _RENAMED_NOTES:
        renamed = [f"{s[before]!r} -> {s['name']!r}" for s in sql.get(side) or []
                   if isinstance(s, dict) and s.get(before) not in (None, s.get("name"))]
        if renamed:
            print(f"note: {note}: {', '.join(renamed)}", file=sys.stderr)

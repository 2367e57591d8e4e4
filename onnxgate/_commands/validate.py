"""``onnxgate validate``: check a model against a target, prove parity, write JSON/JUnit/Markdown/HTML reports.

Exit codes: 0 every check passed, 1 a check failed, 2 usage or input error (handled by cli.main).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from onnxgate.errors import InvalidDataError

__all__ = ["add_target_args", "parse_tolerances", "register", "resolve_target_args", "run"]


def add_target_args(parser: argparse.ArgumentParser, *, packaging: bool = False) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--target", "-t", metavar="T",
                       help="sql-edge-1.0, sql-edge-2.0, synapse, container or mlflow (one is needed: onnxruntime "
                            "has no package format)" if packaging else
                       "sql-edge-1.0, sql-edge-2.0, synapse, container, mlflow or onnxruntime (the default)")
    group.add_argument("--target-file", metavar="F.toml", help="a target defined in a TOML file")


def resolve_target_args(args: argparse.Namespace) -> Any:
    from onnxgate import targets

    if getattr(args, "target_file", None):
        return targets.from_toml(args.target_file)
    return targets.resolve(getattr(args, "target", None), default="onnxruntime")


def register(sub: Any) -> None:
    from onnxgate._commands._common import add_trust_pickle

    p = sub.add_parser(
        "validate",
        help="check an ONNX model against a deployment target and prove parity with the native model",
        description=(
            "Run the target's checks on MODEL (an .onnx file) and, with --reference and --data, compare its "
            "predictions with the native model's. Prints a table; exit 0 when every check passed, 1 when "
            "one failed, 2 for usage or input errors."
        ),
    )
    p.add_argument("model", metavar="MODEL", help="the .onnx file")
    add_target_args(p)
    p.add_argument("--reference", metavar="MODEL", help="native model file (or another .onnx) to compare with")
    p.add_argument("--data", metavar="DATA", help="rows for parity: .csv, .parquet or .npy")
    add_trust_pickle(p)
    p.add_argument(
        "--atol",
        action="append",
        metavar="X|NAME=X",
        help="absolute tolerance, for all float outputs or one numeric output (repeatable; labels stay exact)",
    )
    p.add_argument("--rtol", action="append", metavar="X|NAME=X", help="relative tolerance (as --atol)")
    p.add_argument("--search", type=int, default=0, metavar="N", help="generated inputs for the divergence search")
    p.add_argument("--search-time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop the search after this long, reporting the rows tried (default: none; --search N "
                        "bounds the rows)")
    p.add_argument("--search-no-nan", action="store_true",
                   help="the search generates finite values only (default: NaN and infinity too, where the target's "
                        "inputs can hold them); for rows that never hold them")
    p.add_argument("--no-text-variants", action="store_true",
                   help="parity and the search score the data's text as it is, not also varied with letters outside "
                        "ASCII (an 'é' after each word, no-break spaces, Greek capitals, the Turkish 'İ'); for a "
                        "text model that only ever scores text like the data's (ASCII text by contract)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of generated inputs (recorded)")
    p.add_argument("--batch-size", type=int, default=None, metavar="ROWS", help="rows per parity batch")
    p.add_argument("--json", metavar="F", help="write the report as JSON (schema_version 1)")
    p.add_argument("--junit", metavar="F", help="write the report as JUnit XML")
    p.add_argument("--markdown", metavar="F", help="write the report as Markdown (a PR comment)")
    p.add_argument("--html", metavar="F",
                   help="write the report as one self-contained HTML page with plots (extra 'report')")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed check")
    p.add_argument("--spark", metavar="MASTER",
                   help="run parity on Spark (local[*], spark://host:port, sc://host, yarn, k8s://host:port); "
                        "--data is Parquet")
    p.add_argument("--force", action="store_true", help="overwrite existing --json/--junit/--markdown/--html files")
    p.set_defaults(run=run)


def parse_tolerances(values: list[str] | None, option: str) -> float | dict[str, float] | None:
    """``["1e-5"]`` -> 1e-5; ``["1e-5", "probabilities=1e-4"]`` -> ``{"": 1e-5, "probabilities": 1e-4}``."""
    if not values:
        return None
    out: dict[str, float] = {}
    for item in values:
        key, sep, number = item.rpartition("=")
        if not sep:
            key, number = "", item
        try:
            value = float(number)
        except ValueError:
            raise InvalidDataError(
                f"{option} expects a number or NAME=NUMBER (e.g. {option} 1e-5 {option} probabilities=1e-4), "
                f"found {item!r}"
            ) from None
        key = key.strip()
        if key in out:  # the last one won without a word
            what = f"for output {key!r}" if key else "for all outputs"
            raise InvalidDataError(f"{option} is given twice {what} ({out[key]:g} and {value:g}); give it once")
        out[key] = value
    if list(out) == [""]:
        return out[""]
    return out


def run(args: argparse.Namespace) -> int:
    from onnxgate._commands._common import load_native_model, refuse_native_model
    from onnxgate._onnx import atomic_write_texts

    refuse_native_model(args.model, "validate")
    target = resolve_target_args(args)
    atol = parse_tolerances(args.atol, "--atol")
    rtol = parse_tolerances(args.rtol, "--rtol")
    if args.reference and not args.data:
        raise InvalidDataError("--reference needs --data: the rows to compare predictions on; add --data ROWS "
                               "(.csv, .parquet or .npy)")
    if args.data and not args.reference:
        raise InvalidDataError(
            "--data needs --reference: the native model (or another .onnx) whose predictions the rows are "
            "compared with; add --reference MODEL (the model the .onnx was converted from), or leave --data out"
        )
    if args.search and not args.reference:  # the gate would pass without the search it was asked for
        raise InvalidDataError("--search needs --reference and --data: it compares generated rows with the reference; "
                               "add --reference MODEL --data ROWS, or leave --search out")
    if (args.atol or args.rtol) and not args.reference:
        raise InvalidDataError("--atol and --rtol set parity tolerances; parity needs --reference MODEL --data DATA")
    from onnxgate.validators.core import check_run_settings

    # before the reference is read (8-14 s for a .skops pipeline): --atol -1 was refused after it
    check_run_settings(atol=atol, rtol=rtol, search=args.search, seed=args.seed,
                       search_time_limit=args.search_time_limit, batch_size=args.batch_size)
    given = ((args.json, "--json", "to_json"), (args.junit, "--junit", "to_junit"),
             (args.markdown, "--markdown", "to_markdown"), (args.html, "--html", "to_html"))
    # an empty one is refused with every other empty path, in cli.main
    dash = [flag for path, flag, _ in given if path is not None and path.strip() == "-"]
    if dash:  # it wrote a file named '-' where a CI author expected standard output (helper-98)
        raise InvalidDataError(
            f"{', '.join(dash)} takes a file name, found '-': reports are written to files (standard output holds "
            "the summary table); give a path such as checks.json"
        )
    report_files = [(path, fmt) for path, _, fmt in given if path]
    resolved = [Path(path).resolve() for path, _ in report_files]
    if len(set(resolved)) < len(resolved):
        raise InvalidDataError(
            f"two reports would go to the same file ({[p for p, _ in report_files]}); give each its own path"
        )
    from onnxgate._commands._common import refuse_outputs_on_inputs
    from onnxgate._files import link_note, occupied

    refuse_outputs_on_inputs({flag: path for path, flag, _ in given},
                             {"the model being validated": args.model, "the reference": args.reference,
                              "the data": args.data, "the target file": getattr(args, "target_file", None)})
    from onnxgate._commands._common import refuse_unwritable

    for path, flag, _ in given:
        if path:
            refuse_unwritable(path, flag)  # all are written after the run: one that cannot be, said before it
    folders = [(path, fmt) for path, fmt in report_files if Path(path).is_dir()]
    if folders:  # --force replaces files, never a folder: said before the work, as a file that exists is
        folder, fmt = folders[0]
        kind = fmt.removeprefix("to_")
        suffix = {"junit": "xml", "markdown": "md"}.get(kind, kind)
        raise InvalidDataError(f"report path {folder!r} is a folder; give a file path (e.g. "
                               f"{str(Path(folder) / f'report.{suffix}')!r})")
    if not args.force:
        from onnxgate.errors import OutputExistsError

        existing = [path for path, _ in report_files if occupied(path)]  # a link to nothing too
        if existing:
            # Refused before any work is done, so a long parity run is not wasted.
            raise OutputExistsError(
                f"report file(s) [{', '.join(f'{p!r}{link_note(p)}' for p in existing)}] exist; pass --force to "
                "overwrite them or choose other paths",
                path=existing[0],
            )
    if args.html:
        from onnxgate.validators.html import require_dependencies

        require_dependencies()  # a missing extra is said before the work, not after
    if getattr(args, "spark", None):
        # a Spark run is long: its option conflicts are refused before anything starts
        from onnxgate._commands._spark import check_spark_validate_args

        check_spark_validate_args(args)
    reference: Any = None
    if args.reference:
        if args.reference.lower().endswith(".onnx"):
            reference = args.reference
        else:
            reference = load_native_model(args.reference, trust_pickle=args.trust_pickle)
    if getattr(args, "spark", None):
        from onnxgate._commands._spark import validate_on_spark

        report = validate_on_spark(args, reference, target, atol, rtol)
    else:
        report = _validate_here(args, reference, target, atol, rtol)
    print(report)
    # all or none: a JSON report saying "passed" was left by a run that failed writing its HTML and exited 2
    atomic_write_texts([(path, getattr(report, fmt)()) for path, fmt in report_files], overwrite=args.force)
    return 0 if report.passed else 1


def _validate_here(args: argparse.Namespace, reference: Any, target: Any, atol: Any, rtol: Any) -> Any:
    from onnxgate._commands._common import load_data_arg
    from onnxgate.validators import validate

    data = load_data_arg(args.data) if args.data and reference is not None else None
    return validate(
        args.model,
        target,
        reference=reference,
        data=data,
        atol=atol,
        rtol=rtol,
        search=args.search,
        seed=args.seed,
        batch_size=args.batch_size,
        fail_fast=args.fail_fast,
        search_time_limit=args.search_time_limit,
        search_allow_nan=False if args.search_no_nan else None,
        text_variants=not args.no_text_variants,
    )

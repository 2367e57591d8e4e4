"""``onnxgate sweep``: convert at each opset, validate each, print the matrix, name the best opset.

Exit 0 when at least one opset passes everything, 1 when none does, 2 for usage or input errors.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    from onnxgate._commands._common import add_trust_pickle
    from onnxgate._commands.convert import add_precision_arg
    from onnxgate._commands.validate import add_target_args

    p = sub.add_parser(
        "sweep",
        help="convert at each opset, validate each, and name the highest opset that passes",
        description=(
            "Convert MODEL at each opset of --opsets, validate each conversion against the target with "
            "parity on the sample (and the divergence search with --search), print a matrix (opset x converts / "
            "the target's checks passed, parity apart / parity / its max error), and name the highest opset "
            "that passes everything. Exit 0 if one does, 1 if none, 2 for input errors."
        ),
    )
    p.add_argument("model", metavar="MODEL",
                   help="native model file, as convert reads them (.skops, .pkl/.joblib, .pt2, .pt, .keras, .h5, a "
                        "SavedModel folder, XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm)")
    p.add_argument("--sample", required=True, metavar="DATA", help="sample rows (.csv, .parquet, .npy)")
    p.add_argument("--opsets", default="9-18", metavar="RANGE",
                   help="opsets to try: a range or a list, '9-18' (the default) or '11,13,17'")
    add_target_args(p)
    p.add_argument("--atol", action="append", metavar="X|NAME=X", help="parity absolute tolerance")
    p.add_argument("--rtol", action="append", metavar="X|NAME=X", help="parity relative tolerance")
    p.add_argument("--search", type=int, default=0, metavar="N",
                   help="also run the divergence search on N generated inputs at each opset (default: parity on "
                        "the sample only)")
    p.add_argument("--search-time-limit", type=float, default=None, metavar="SECONDS",
                   help="seconds the search may take at each opset")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the search's generated inputs")
    add_precision_arg(p)
    p.add_argument("--json", metavar="F", help="write the matrix as JSON")
    p.add_argument("--html", metavar="F", help="write the matrix as one self-contained HTML page with a plot")
    p.add_argument("--force", action="store_true", help="overwrite existing --json/--html files")
    add_trust_pickle(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from onnxgate._commands._common import load_data_arg, load_native_model, parse_opsets
    from onnxgate._commands.validate import parse_tolerances, resolve_target_args
    from onnxgate._files import link_note, occupied
    from onnxgate._onnx import atomic_write_texts
    from onnxgate.api import sweep
    from onnxgate.validators.core import check_run_settings

    target = resolve_target_args(args)
    opsets = parse_opsets(args.opsets)
    atol, rtol = parse_tolerances(args.atol, "--atol"), parse_tolerances(args.rtol, "--rtol")
    # before the model is read: --search -5 was refused after it
    check_run_settings(atol=atol, rtol=rtol, search=args.search, seed=args.seed,
                       search_time_limit=args.search_time_limit)
    outputs = [(path, flag, fmt) for path, flag, fmt in ((args.json, "--json", "to_json"),
                                                          (args.html, "--html", "to_html")) if path is not None]
    if outputs:
        from pathlib import Path

        from onnxgate._commands._common import refuse_outputs_on_inputs
        from onnxgate.errors import InvalidDataError, OutputExistsError

        refuse_outputs_on_inputs({flag: path for path, flag, _ in outputs},
                                 {"the model being swept": args.model, "the sample": args.sample,
                                  "the reference": getattr(args, "reference", None),
                                  "the data": getattr(args, "data", None),
                                  "the target file": getattr(args, "target_file", None)})

        from onnxgate._commands._common import refuse_unwritable

        for path, flag, _ in outputs:
            refuse_unwritable(path, flag)  # written after the sweep: a folder it cannot write, said before it
            if occupied(path) and not args.force:  # refused before the sweep's work, not after
                raise OutputExistsError(f"{path!r}{link_note(path)} exists; pass --force to overwrite it or choose "
                                        "another path",
                                        path=path)
        if len(outputs) == 2 and Path(outputs[0][0]).resolve() == Path(outputs[1][0]).resolve():
            raise InvalidDataError(f"--json and --html would both go to {outputs[0][0]!r}; give each its own path")
    if args.html:
        from onnxgate.validators.html import require_dependencies

        require_dependencies()
    model = load_native_model(args.model, trust_pickle=args.trust_pickle)
    sample = load_data_arg(args.sample)
    result = sweep(
        model,
        sample,
        opsets,
        target=target,
        atol=atol,
        rtol=rtol,
        precision=args.precision,
        search=args.search,
        seed=args.seed,
        search_time_limit=args.search_time_limit,
    )
    print(result)
    atomic_write_texts([(path, getattr(result, fmt)()) for path, _, fmt in outputs], overwrite=args.force)
    return 0 if result.passed else 1

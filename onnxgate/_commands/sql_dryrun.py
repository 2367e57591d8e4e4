"""``onnxgate sql-dryrun``: run a SQL package's PREDICT query in DuckDB against rows, and check parity.

Exit codes: 0 the results match onnxruntime (and the reference, when given), 1 they do not, 2 usage
or input error (a table column type that differs from the model input is reported like PREDICT does).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    from onnxgate._commands._common import add_trust_pickle

    p = sub.add_parser(
        "sql-dryrun",
        help="score rows with a SQL package in DuckDB (a local PREDICT dry run) and check parity",
        description=(
            "Create the package's input table in DuckDB, load DATA, score it with the packaged model on Arrow "
            "record batches fetched from DuckDB (the query mirrors 04_predict.sql), print the first rows and "
            "compare with onnxruntime and, with --reference, the native model."
        ),
    )
    p.add_argument("package", metavar="DIR", help="a folder written by onnxgate package --target sql-*")
    p.add_argument("--data", required=True, metavar="DATA", help="rows: .csv, .parquet or .npy")
    p.add_argument("--database", metavar="FILE", help="a DuckDB database file (default: in memory)")
    p.add_argument("--force", action="store_true", help="replace the input table if --database already has it")
    p.add_argument("--reference", metavar="MODEL", help="native model file to compare with")
    add_trust_pickle(p)
    p.add_argument("--rows", type=int, default=10, metavar="N", help="rows to print (default 10)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from onnxgate._commands._common import load_data_arg, load_native_model
    from onnxgate.cli import EXIT_FAILED, EXIT_OK
    from onnxgate.deploy.duckdb_dryrun import dry_run

    if args.database:
        from onnxgate._commands._common import refuse_unwritable

        refuse_unwritable(args.database, "--database")  # DuckDB writes it: said before the data is read
    reference = load_native_model(args.reference, trust_pickle=args.trust_pickle) if args.reference else None
    data = load_data_arg(args.data)
    result = dry_run(args.package, data, database=args.database, reference=reference, rows=args.rows,
                     replace=args.force)
    print(result)
    return EXIT_OK if result.passed else EXIT_FAILED

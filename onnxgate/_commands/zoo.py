"""``onnxgate zoo list`` and ``onnxgate zoo export NAME -o DIR``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("zoo", help="list or export reference models", description="Reference models.")
    zsub = p.add_subparsers(dest="zoo_command", metavar="ACTION", parser_class=type(p))
    lp = zsub.add_parser("list", help="list the zoo entries")
    lp.add_argument("--framework", help="only this framework's entries")
    lp.set_defaults(run=run_list)
    ep = zsub.add_parser(
        "export",
        help="train an entry and write its native model, sample data and ONNX file",
        description=("Writes the trained model in its native format, the sample (sample.csv for a DataFrame, "
                     "sample.npy for an array) and model.onnx (the planted case at precision float32, where its "
                     "flip lives)."),
    )
    ep.add_argument("name", help="a zoo entry's name (onnxgate zoo list shows them)")
    ep.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write (must be empty or new)")
    ep.add_argument("--opset", type=int, help="opset of the ONNX file (default: the framework's)")
    ep.add_argument("--force", action="store_true", help="write into a non-empty folder")
    ep.set_defaults(run=run_export)
    def run_nothing(_args: argparse.Namespace) -> int:  # a usage error, one line, as every other one
        print("onnxgate zoo: error: an action is required: list or export (see 'onnxgate zoo --help')",
              file=sys.stderr)
        return 2

    p.set_defaults(run=run_nothing)


def run_list(args: argparse.Namespace) -> int:
    from onnxgate import zoo

    rows = [(e.name, e.framework, e.task, e.description) for e in zoo.entries(args.framework)]
    width = max((len(r[0]) for r in rows), default=4)
    for name, framework, task, description in rows:
        print(f"{name:<{width}}  {framework:<10}  {task:<14}  {description}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from onnxgate._commands._common import refuse_unwritable
    from onnxgate.zoo.export import export

    refuse_unwritable(args.output, "-o")  # before the model is trained
    written = export(args.name, Path(args.output), opset=args.opset, overwrite=args.force)
    for path in written:
        print(f"wrote {path}")
    return 0

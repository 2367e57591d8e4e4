"""``onnxgate convert MODEL --sample DATA [--opset N] [--target T] -o OUT.onnx``."""

from __future__ import annotations

import argparse
from typing import Any

from onnxgate._commands._common import add_trust_pickle, load_data_arg, load_native_model


def register(sub: Any) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a scikit-learn, PyTorch, TensorFlow, Keras, XGBoost, LightGBM or CatBoost model to ONNX",
        description=(
            "Convert a native model file to ONNX at the opset asked for. Model files: .pkl/.joblib "
            "(needs --trust-pickle), .skops, .pt2 (torch.export), .pt (TorchScript), .keras (or a legacy Keras .h5), a "
            "TensorFlow SavedModel folder, an XGBoost .json/.ubj, a LightGBM .txt, a CatBoost .cbm. Data files: .csv, "
            ".parquet, .npy."
        ),
    )
    p.add_argument("model", help="native model file or SavedModel folder")
    p.add_argument("--sample", help="example input rows (.csv, .parquet, .npy)")
    p.add_argument("--opset", type=int, help="default-domain opset (default: the framework's, capped by --target)")
    p.add_argument("--target", "-t", help="convert for a deployment target (caps the opset, adapts SQL inputs)")
    add_precision_arg(p)
    p.add_argument("-o", "--output", required=True, help="where to write the .onnx file")
    p.add_argument("--force", action="store_true", help="overwrite the output if it exists")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", default=[],
                   help="a converter option by name (repeatable); the value is read as JSON when it is JSON, else "
                        "as text, e.g. --option 'dynamic_axes={\"input\": {\"1\": \"T\"}}' (PyTorch)")
    add_trust_pickle(p)
    p.set_defaults(run=run)


def converter_options(items: list[str]) -> dict[str, Any] | None:
    """``--option`` values as convert's ``options``: ``zipmap=false`` is False, ``input_names=["x"]`` a list,
    any value that is not JSON the text itself."""
    import json

    from onnxgate._commands.package import parse_options

    options: dict[str, Any] = {}
    for key, text in parse_options(items).items():
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return options or None


def add_precision_arg(p: Any) -> None:
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "float64"),
        help=(
            "floating-point precision of the graph (scikit-learn): auto (default) keeps float64 where "
            "scikit-learn computes in float64 (float64, integer or text samples) and the double graph runs, else "
            "float32; SQL targets default to float32"
        ),
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from onnxgate._commands._common import refuse_outputs_on_inputs
    from onnxgate._files import link_note, occupied
    from onnxgate.api import convert
    from onnxgate.errors import InvalidDataError, OutputExistsError

    out = Path(args.output)
    refuse_outputs_on_inputs({"-o": args.output}, {"the model being converted": args.model,
                                                   "the sample": args.sample})
    if out.is_dir():  # --force replaces a file, never a folder: said before "pass --force" sends the user there
        raise InvalidDataError(f"-o {str(out)!r} is a folder; give a file path (e.g. {str(out / 'model.onnx')!r})",
                               path=str(out))
    from onnxgate._commands._common import refuse_unwritable

    refuse_unwritable(args.output, "-o")
    if occupied(out) and not args.force:  # a symbolic link to nothing too: writing replaced it
        raise OutputExistsError(f"{str(out)!r}{link_note(out)} exists; pass --force to overwrite it", path=str(out))
    if args.opset is not None:
        from onnxgate._onnx import check_opset_number

        check_opset_number(args.opset)  # before the model is read: --opset 999 was refused after it
    model = load_native_model(args.model, trust_pickle=args.trust_pickle)
    sample = load_data_arg(args.sample) if args.sample else None
    conv = convert(model, sample, opset=args.opset, target=args.target, precision=args.precision,
                   options=converter_options(args.option))
    conv.save(out, overwrite=args.force)
    # "requested 17" when no --opset was given read as if the user had asked for it: say where the number came from
    asked = "requested" if args.opset is not None else "default"
    print(f"wrote {out}  framework={conv.framework}  opset={conv.opset} ({asked} {conv.requested_opset})  "
          f"IR={conv.ir_version}")
    print(f"signature: {conv.signature}")
    for warning in conv.warnings:
        print(f"note: {warning}")
    return 0

"""Helpers shared by the subcommands: loading models and data from the paths users pass."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from onnxgate.errors import InvalidDataError, UnsupportedModelError

__all__ = ["add_trust_pickle", "load_data_arg", "load_native_model", "parse_opsets", "refuse_native_model",
           "refuse_outputs_on_inputs"]

#: Frameworks as their users name them, for messages.
_FRAMEWORK_NAMES = {"sklearn": "scikit-learn", "pytorch": "PyTorch", "keras": "Keras", "tensorflow": "TensorFlow",
                    "xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}
#: Suffixes of files that are loaded as pickles, which convert reads with --trust-pickle only.
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def add_trust_pickle(parser: argparse.ArgumentParser) -> None:
    # every format whose loader asks for it (each converter's load): pickles (scikit-learn's .pkl/.pickle/.joblib,
    # a torch.save module in .pt/.pth), a .pt2 whose members are pickled, a .skops holding types skops does not
    # trust, and a .keras/.h5 holding Python code (a Lambda layer: Keras' safe mode off)
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow loading model files that run code when read: pickles (.pkl, .pickle, .joblib; a whole "
             "module saved with torch.save as .pt/.pth), a .pt2 holding pickled objects, a .skops holding types "
             "skops does not trust, and a .keras/.h5 holding Python code (a Lambda layer)",
    )


def load_native_model(path: str, *, trust_pickle: bool) -> Any:
    """Load a native model file with the converter that claims its suffix."""
    import zipfile

    from onnxgate._files import check_folder_confined, check_regular_file, check_zip_archive, describe_unreachable
    from onnxgate.converters import registry

    p = Path(path)
    if not p.exists():  # missing, a link to nothing, or a link that loops
        raise UnsupportedModelError(describe_unreachable(path, "model file"), path=path)
    if p.is_dir():
        check_folder_confined(p, what="model folder", error=UnsupportedModelError)
    else:
        # before the converter opens it: a fifo would block, a device never ends, an archive may expand
        check_regular_file(p, what="model file", error=UnsupportedModelError)
        if zipfile.is_zipfile(p):
            check_zip_archive(p, what="model file", error=UnsupportedModelError)
        elif p.suffix.lower() in (*_PICKLE_SUFFIXES, ".pt", ".pth", ".pt2"):  # where the loader would ask for trust,
            # or (.pt2) say "not a zip file" of an empty file or an ONNX one
            _refuse_empty_or_onnx(p)
    return registry.for_file(p).load(p, trust_pickle=trust_pickle)


def _refuse_empty_or_onnx(p: Path) -> None:
    """Refuse an empty file, or an ONNX file under a native model's suffix, by what it holds: ``model.pkl`` that is
    empty or an ONNX file was refused as "a pickle: pass --trust-pickle", and with it as "cannot unpickle: EOFError:"
    or "KeyError: 8" (a ``.pt``: "invalid load key '\\x08'"); the advice to trust a file was no fix (helper-276)."""
    from onnxgate._onnx import load_model
    from onnxgate.errors import InvalidModelError

    with open(p, "rb") as handle:
        head = handle.read(1)
    if not head:
        raise UnsupportedModelError(f"{str(p)!r} is empty (0 bytes): no model was written to it; save the model "
                                    "again", path=str(p))
    if head != b"\x08":  # onnx.save writes ir_version (field 1, a varint) first
        return
    try:
        load_model(p, load_external=False)
    except InvalidModelError:
        return
    raise UnsupportedModelError(
        f"{str(p)!r} is an ONNX model (named {p.suffix or 'without a suffix'}): 'convert' reads a framework's model "
        "file. Check it with 'onnxgate validate', or package it with 'onnxgate package' (naming it .onnx)",
        path=str(p),
    )


def refuse_native_model(path: str, command: str) -> None:
    """Refuse a framework's model file (``model.skops``, ``model.pt``, a SavedModel folder) given where an ONNX
    file is read, with the convert command that makes one: ``validate model.skops`` said "not a valid ONNX model
    (protobuf decode failed ...) re-export it". An ONNX file under another suffix is left to load.

    Raises
    ------
    InvalidModelError
        ``path`` is a model file a converter reads, and not an ONNX file.
    """
    from onnxgate._onnx import load_model
    from onnxgate.errors import InvalidModelError, OnnxGateError

    p = Path(path)
    if p.suffix.lower() == ".onnx" or not p.exists():
        return
    from onnxgate.converters import registry

    try:
        converter = registry.for_file(p)
    except OnnxGateError:
        return
    if p.is_file():
        try:
            load_model(p, load_external=False)
            return
        except InvalidModelError:
            pass
    pickled = p.suffix.lower() in _PICKLE_SUFFIXES
    name = "pickled" if pickled else _FRAMEWORK_NAMES.get(converter.framework, converter.framework)
    what = "a TensorFlow SavedModel folder" if p.is_dir() else f"a {name} model file ({p.suffix})"
    trust = " --trust-pickle" if pickled else ""
    raise InvalidModelError(
        f"{str(path)!r} is {what}, not an ONNX file: {command} reads the ONNX file made from it. Make one first: "
        f"onnxgate convert {path} --sample ROWS{trust} -o model.onnx, then run {command} on model.onnx",
        path=str(path),
    )


def load_data_arg(path: str) -> Any:
    from onnxgate._data import load_data

    return load_data(path)


def parse_opsets(text: str) -> list[int]:
    """``"9-18"`` -> 9..18; ``"11,13,17"`` -> [11, 13, 17]."""
    from onnxgate._onnx import newest_opset

    newest = newest_opset()
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                bounds = [lo, hi]
            else:
                lo = hi = int(part)  # an empty entry ('13,,15') raises here
                bounds = [lo]
            outside = [b for b in bounds if not 1 <= b <= newest]
            if outside:
                raise InvalidDataError(
                    f"opset {outside[0]} in --opsets {text!r} does not exist: opsets run from 1 to {newest} "
                    "(the newest the installed onnx knows)"
                )
            out.extend(range(lo, hi + 1))
    except InvalidDataError:
        raise
    except ValueError:
        raise InvalidDataError(f"expected opsets like '9-18' or '11,13,17', found {text!r}; give a range LOW-HIGH "
                               "(the lower first) or whole numbers split by commas") from None
    if not out:
        raise InvalidDataError(f"expected at least one opset, found {text!r}")
    twice = sorted({o for o in out if out.count(o) > 1})
    if twice:
        # refused, as a tolerance or an --option given twice is: '13,13' is more likely a slip for '13,14' than
        # a wish to run 13 twice, and a sweep whose matrix has fewer rows than asked said nothing of it
        raise InvalidDataError(f"--opsets {text!r} names opset(s) {', '.join(map(str, twice))} more than once; "
                               f"name each once, e.g. {_as_ranges(sorted(set(out)))!r}")
    return sorted(out)


def _as_ranges(opsets: list[int]) -> str:
    """``[9, 10, 11, 13]`` -> ``"9-11,13"``."""
    parts: list[str] = []
    start = prev = opsets[0]
    for o in [*opsets[1:], None]:
        if o is not None and o == prev + 1:
            prev = o
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if o is not None:
            start = prev = o
    return ",".join(parts)


def refuse_outputs_on_inputs(outputs: dict[str, str | None], inputs: dict[str, str | None]) -> None:
    """Refuse an output (``{"--json": path}``) that is one of the command's inputs (``{"the model": path}``):
    ``--force`` overwrites an earlier output, never the model, reference, data or target file being read.

    Raises
    ------
    OutputExistsError
        The first output that is an input, naming both.
    """
    from onnxgate.errors import OutputExistsError

    read = {Path(path).resolve(): what for what, path in inputs.items() if path and Path(path).exists()}
    for flag, path in outputs.items():
        what = read.get(Path(path).resolve()) if path and Path(path).exists() else None
        if what is not None:
            raise OutputExistsError(
                f"{flag} {path!r} is {what}; --force overwrites an earlier output, never an input: give {flag} "
                "another path",
                path=path,
            )


def refuse_unwritable(path: str, flag: str) -> None:
    """Refuse an output path that cannot be written, before any work: its nearest existing folder is a
    file, or not writable (another user's folder, a read-only filesystem). A run that fails only when writing its
    last report left the reports written before it behind, for a run that exited 2. What this cannot tell (``/sys``,
    which ``os.access`` lets root write) fails when written, and :func:`onnxgate.cli.main` names the option then.

    Raises
    ------
    InvalidDataError
        Naming ``flag``, the path and why.
    """
    import os
    from pathlib import Path

    from onnxgate.errors import InvalidDataError

    parent = next((p for p in Path(path).absolute().parents if p.exists()), None)
    if parent is None:
        return
    if not parent.is_dir():
        raise InvalidDataError(f"cannot write {flag} {path!r}: {str(parent)!r} is a file, not a folder; choose "
                               f"another {flag}", path=path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidDataError(f"cannot write {flag} {path!r}: the folder {str(parent)!r} is not writable; give {flag} "
                               "a path in a folder you may write, or make that one writable", path=path)


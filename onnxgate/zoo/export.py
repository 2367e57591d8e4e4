"""Export a zoo entry: native model, sample data and ONNX file, in a folder."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from onnxgate._files import link_note, refuse_dangling_folder_link
from onnxgate.errors import OutputExistsError

__all__ = ["export", "save_data"]

SAMPLE_ROWS = 200


def save_data(data: object, folder: Path, stem: str) -> Path:
    """Write data as ``stem.csv`` (DataFrame) or ``stem.npy`` (array)."""
    import numpy as np

    from onnxgate._data import is_dataframe

    if is_dataframe(data):
        path = folder / f"{stem}.csv"
        data.to_csv(path, index=False)  # type: ignore[attr-defined]
    else:
        path = folder / f"{stem}.npy"
        np.save(path, np.asarray(data), allow_pickle=False)
    return path


def export(name: str, out: Path, *, opset: int | None = None, overwrite: bool = False) -> list[Path]:
    """Train zoo entry ``name`` and write it to ``out`` (which must be new or empty unless ``overwrite``).

    Everything is written into a temporary folder first and moved into place at the end, so an
    interrupted export leaves nothing half-written.
    """
    from onnxgate.api import convert
    from onnxgate.converters import registry
    from onnxgate.zoo import get

    entry = get(name)
    refuse_dangling_folder_link(out)  # was "cannot use 'out': File exists"
    if out.exists() and not out.is_dir():  # was "cannot use 'out': Not a directory"
        raise OutputExistsError(f"{str(out)!r}{link_note(out, folder=True)} is a file; export into a folder: give -o "
                                "a new or empty folder", path=str(out))
    if (out / "manifest.json").is_file():
        # a deployment package: its model.onnx replaced, the package no longer matches its own manifest (helper-95)
        raise OutputExistsError(
            f"{str(out)!r}{link_note(out, folder=True)} holds a deployment package (manifest.json); export the zoo "
            "model to another folder",
            path=str(out),
        )
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{str(out)!r}{link_note(out, folder=True)} is not empty; pass --force (overwrite=True) or choose a new "
            "folder",
            path=str(out),
        )
    model, X, _y = entry.build()
    sample = X[:SAMPLE_ROWS]
    conv = convert(model, sample, opset=opset, precision=entry.precision)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as err:  # name the folder the user asked for, not the staging folder beside it
        raise type(err)(err.errno, err.strerror, str(out)) from err
    try:
        native = registry.get(entry.framework).save_native(model, staging)
        data = save_data(sample, staging, "sample")
        onnx_path = staging / "model.onnx"
        conv.save(onnx_path)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for item in (native, data, onnx_path):
            dest = out / item.name
            if dest.exists():
                if dest.is_dir():
                    shutil.rmtree(dest)
                else:
                    dest.unlink()
            item.replace(dest)
            written.append(dest)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)

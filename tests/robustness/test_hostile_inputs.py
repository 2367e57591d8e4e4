"""The hostile-input corpus of issue 13, replayed through the command line.

Each case builds its files in a folder of its own, runs ``onnxgate`` in a child process with a time
bound (``timeout``) and a memory bound (the child is killed once its RSS passes ``MAX_CHILD_RSS_MB``,
and its peak, ``VmHWM``, is asserted), and checks the documented outcome:

* exit code 2 and exactly one line on stderr, naming what is wrong (a pattern per case), with no
  traceback, no "unexpected ... please report it" and no warning printed;
* nothing written or removed in the case's folder (every file's name and hash is compared before
  and after), and nothing read outside it (files outside are only ever symlink targets, and the
  refusal happens before any link is followed for reading).

Cases that held in the issue's measurements are replayed too (``held-*`` ids), and each area keeps
a control case that must still pass, so a check cannot "fix" a case by refusing everything.

Areas: ``special`` (fifos, devices: item 5), ``size`` (unbounded reads: item 6), ``archive``
(SavedModel symlinks, .keras members: items 7 and 10), ``target`` (target files: items 2, 8, 9),
``data`` (.npy and CSV: items 8 and 10), ``held`` (what held before).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from robustness_models import tiny_mlp_model

#: Wall-time bound for one case (generous: 2 shared cores; a hang is what it catches).
CASE_TIMEOUT_S = int(os.environ.get("ONNXGATE_TEST_CASE_TIMEOUT", "120"))
#: A child whose RSS passes this is killed, and the case fails: it would have read without bound.
MAX_CHILD_RSS_MB = 1500

_CHILD = (
    "import os, sys\n"
    "from onnxgate.cli import main\n"
    "try:\n"
    "    rc = main(sys.argv[1:])\n"
    "finally:\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "    open(os.environ['OG_TEST_HWM'], 'w').write(hwm)\n"
    "sys.exit(rc)\n"
)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float
    killed_for_memory: bool = False


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Outcome:
    """Run ``onnxgate ARGS`` in ``cwd`` with a time bound and an RSS bound."""
    hwm = cwd.parent / f".{cwd.name}.hwm"
    full_env = {**os.environ, "OG_TEST_HWM": str(hwm), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args], cwd=cwd, env=full_env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    killed = False
    deadline = time.monotonic() + CASE_TIMEOUT_S
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"onnxgate {' '.join(args)} did not finish in {CASE_TIMEOUT_S} s (a hang)")
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        except (OSError, StopIteration, ValueError):
            rss = 0
        if rss > MAX_CHILD_RSS_MB * 1024:
            proc.kill()
            killed = True
        time.sleep(0.05)
    out, err = proc.communicate()
    peak = float(hwm.read_text()) / 1024 if hwm.exists() else 0.0
    hwm.unlink(missing_ok=True)
    return Outcome(proc.returncode, out, err, peak, killed)


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` -> its kind and, for a regular file, its hash (links not followed)."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = f"link:{os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "dir"
        elif path.is_file():
            with path.open("rb") as handle:
                out[rel] = hashlib.sha256(handle.read(1 << 20)).hexdigest() + f":{path.stat().st_size}"
        else:
            out[rel] = "special"
    return out


# -- the files cases are made of ---------------------------------------------------------------


def _model(folder: Path, name: str = "m.onnx") -> Path:
    path = folder / name
    path.write_bytes(tiny_mlp_model().SerializeToString())
    return path


def _npy(folder: Path, name: str, array: np.ndarray) -> Path:
    path = folder / name
    np.save(path, array)
    return path


def _toml(folder: Path, body: str, name: str = "t.toml") -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]], *, level: int = 1) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return path


def _zip_zeros(path: Path, member: str, size: int, extra: list[tuple[str, bytes]]) -> Path:
    """A deflated archive with ``size`` zero bytes in ``member``, written in chunks (bounded memory here)."""
    chunk = bytes(16 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in extra:
            archive.writestr(name, data)
        with archive.open(member, "w", force_zip64=True) as handle:
            left = size
            while left:
                handle.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
    return path


def _zip_stored_zeros(path: Path, size: int) -> Path:
    chunk = bytes(16 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in _keras_meta():
            archive.writestr(name, data)
        with archive.open("model.weights.h5", "w", force_zip64=True) as handle:
            for _ in range(size // len(chunk)):
                handle.write(chunk)
    return path


def _symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16)
    info.create_system = 3
    return info


def _keras_meta() -> list[tuple[str, bytes]]:
    return [("metadata.json", b'{"keras_version": "3.15.1"}'), ("config.json", b'{"class_name": "Sequential"}')]


def _saved_model(folder: Path, link_target: Path | None) -> Path:
    model = folder / "sm"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"\x08\x01")
    (model / "variables" / "variables.index").write_bytes(b"index")
    data = model / "variables" / "variables.data-00000-of-00001"
    if link_target is None:
        data.write_bytes(b"weights")
    else:
        data.symlink_to(link_target)
    return model


# -- the corpus -----------------------------------------------------------------------------


@dataclass
class Case:
    """One hostile input: ``build(folder, outside) -> argv``, the expected stderr pattern, env to set."""

    id: str
    build: Callable[[Path, Path], list[str]]
    expect: str
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 2


def _fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def _link(folder: Path, name: str, target: str | Path) -> Path:
    path = folder / name
    path.symlink_to(target)
    return path


SQL_INJECTION = 'real NOT NULL); DROP TABLE [dbo].[models]; --'


def _package_with_target(body: str) -> Callable[[Path, Path], list[str]]:
    def build(d: Path, _: Path) -> list[str]:
        return ["package", str(_model(d)), "--target-file", str(_toml(d, body)), "--adapt", "-o", "out"]

    return build


CASES: list[Case] = [
    # item 5: fifos hang a reader; refused before opening
    Case("special-fifo-onnx-validate", lambda d, _: ["validate", str(_fifo(d, "f.onnx"))], r"fifo"),
    Case("special-fifo-onnx-package",
         lambda d, _: ["package", str(_fifo(d, "f.onnx")), "--target", "container", "-o", "out"], r"fifo"),
    Case("special-fifo-keras-convert",
         lambda d, _: ["convert", str(_fifo(d, "f.keras")), "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))),
                       "-o", "m.onnx"], r"fifo"),
    Case("special-fifo-skops-convert",
         lambda d, _: ["convert", str(_fifo(d, "f.skops")), "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))),
                       "-o", "m.onnx"], r"fifo"),
    Case("special-fifo-data",
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")),
                       "--data", str(_fifo(d, "x.csv"))], r"data file .* fifo"),
    Case("special-fifo-target-file",
         lambda d, _: ["validate", str(_model(d)), "--target-file", str(_fifo(d, "t.toml"))], r"target file .* fifo"),
    Case("special-fifo-in-savedmodel",
         lambda d, _: ["convert", str(_fifo_saved_model(d)), "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))),
                       "-o", "m.onnx"], r"fifo"),
    Case("special-fifo-sample",
         lambda d, _: ["convert", str(_skops(d)), "--sample", str(_fifo(d, "x.npy")), "-o", "m2.onnx"],
         r"fifo"),
    Case("special-fifo-database",
         lambda d, _: ["sql-dryrun", str(_sql_package(d)), "--data", str(_npy(d, "x.npy", np.ones((3, 4), "f4"))),
                       "--database", str(_fifo(d, "db.duckdb"))], r"DuckDB database .* fifo"),
    # item 6: devices and unbounded reads
    Case("size-link-dev-zero-database",
         lambda d, _: ["sql-dryrun", str(_sql_package(d)), "--data", str(_npy(d, "x.npy", np.ones((3, 4), "f4"))),
                       "--database", str(_link(d, "db.duckdb", "/dev/zero"))], r"DuckDB database .* character device"),
    Case("size-dev-zero-validate", lambda d, _: ["validate", "/dev/zero"], r"character device"),
    Case("size-link-dev-zero-validate", lambda d, _: ["validate", str(_link(d, "z.onnx", "/dev/zero"))],
         r"character device"),
    Case("size-link-dev-zero-package",
         lambda d, _: ["package", str(_link(d, "zero.onnx", "/dev/zero")), "--target", "container", "-o", "out"],
         r"character device"),
    Case("size-link-dev-zero-target-file",
         lambda d, _: ["validate", str(_model(d)), "--target-file", str(_link(d, "t.toml", "/dev/zero"))],
         r"target file .* character device"),
    Case("size-link-dev-zero-skops",
         lambda d, _: ["convert", str(_link(d, "zero.skops", "/dev/zero")), "--sample",
                       str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"], r"character device"),
    Case("size-link-dev-zero-data",
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")),
                       "--data", str(_link(d, "x.csv", "/dev/zero"))], r"character device"),
    Case("size-model-above-cap",
         lambda d, _: ["validate", str(_sparse(d, "big.onnx", 40 << 20))],
         r"above the 10\.0 MB limit.*ONNXGATE_MAX_INPUT_MB",
         env={"ONNXGATE_MAX_INPUT_MB": "10"}),
    Case("size-data-above-cap",
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")),
                       "--data", str(_sparse(d, "x.csv", 40 << 20))], r"data file .* above .*ONNXGATE_MAX_INPUT_MB",
         env={"ONNXGATE_MAX_INPUT_MB": "10"}),
    Case("size-target-file-above-cap",
         lambda d, _: ["validate", str(_model(d)), "--target-file", str(_sparse(d, "t.toml", 20 << 20))],
         r"target file .* above .*ONNXGATE_MAX_CONFIG_MB"),
    Case("size-zero-filled-skops",  # a regular 1 GB file of zeros (sparse): refused without reading it
         lambda d, _: ["convert", str(_sparse(d, "zero.skops", 1 << 30)), "--sample",
                       str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"], r"skops"),
    Case("size-bad-limit-variable", lambda d, _: ["validate", str(_model(d))], r"ONNXGATE_MAX_INPUT_MB must be",
         env={"ONNXGATE_MAX_INPUT_MB": "lots"}),
    # items 7 and 10: folders and archives
    Case("archive-savedmodel-link-outside",
         lambda d, o: ["convert", str(_saved_model(d, o / "secret.bin")), "--sample",
                       str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"], r"symlink .* outside the folder"),
    Case("archive-savedmodel-link-dev-zero",
         lambda d, _: ["convert", str(_saved_model(d, Path("/dev/zero"))), "--sample",
                       str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"], r"outside the folder|character device"),
    Case("archive-keras-zip-slip",
         lambda d, _: ["convert", str(_zip(d / "slip.keras", [*_keras_meta(), ("../../evil.txt", b"x")])),
                       "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"],
         r"points outside the archive"),
    Case("archive-keras-absolute-member",
         lambda d, _: ["convert", str(_zip(d / "abs.keras", [*_keras_meta(), ("/tmp/evil.txt", b"x")])),
                       "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"],
         r"points outside the archive"),
    Case("archive-keras-symlink-member",
         lambda d, _: ["convert", str(_zip(d / "link.keras", [*_keras_meta(),
                                                               (_symlink_member("model.weights.h5", "/etc/passwd"),
                                                                b"/etc/passwd")])),
                       "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"], r"symlink member"),
    Case("archive-keras-2gb-zero-weights",
         lambda d, _: ["convert", str(_zip_zeros(d / "bomb.keras", "model.weights.h5", 2 << 30, _keras_meta())),
                       "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"], r"zip bomb"),
    Case("archive-keras-stored-zero-weights",  # stored, so no ratio gives it away: Keras would read it whole
         lambda d, _: ["convert", str(_zip_stored_zeros(d / "zeros.keras", 256 << 20)),
                       "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"], r"not an HDF5 file"),
    Case("archive-keras-1gb-whitespace-config",
         lambda d, _: ["convert", str(_zip_zeros_config(d / "ws.keras")),
                       "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"],
         r"config\.json.* above the 16\.0 MB limit"),
    Case("archive-skops-zip-slip",
         lambda d, _: ["convert", str(_zip(d / "slip.skops", [("schema.json", b"{}"), ("../evil", b"x")])),
                       "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))), "-o", "m.onnx"],
         r"points outside the archive"),
    # items 2, 8, 9: target files
    Case("target-sql-type-injection", _package_with_target(
        f'name = "evil"\nbase = "sql-edge-2.0"\n[sql_types]\nfloat32 = "{SQL_INJECTION}"\n'),
        r"sql_types.float32 must be one SQL type name"),
    Case("target-sql-types-string", _package_with_target('name = "t"\nsql_types = "float"\n'),
         r"sql_types must be a table"),
    Case("target-sql-types-number", _package_with_target('name = "t"\nsql_types = {float32 = 5}\n'),
         r"sql_types.float32 must be a SQL type name"),
    Case("target-sql-types-unknown-key", _package_with_target('name = "t"\nsql_types = {decimal = "real"}\n'),
         r"sql_types has the key 'decimal'"),
    Case("target-allow-nan-string", _package_with_target('name = "t"\nallow_nan = "no"\n'),
         r"allow_nan must be true or false"),
    Case("target-dynamic-batch-int", _package_with_target('name = "t"\ndynamic_batch = 7\n'),
         r"dynamic_batch must be true or false"),
    Case("target-runtime-table", _package_with_target('name = "t"\nruntime = {a = 1}\n'),
         r"runtime must be a string"),
    Case("target-input-layout", _package_with_target('name = "t"\ninput_layout = "rows"\n'),
         r"input_layout must be \"column\" or \"free\""),
    Case("target-base-not-string", _package_with_target('base = 3\n'), r"base must be a string"),
    Case("target-nested-5000", _package_with_target("x = " + "[" * 5000 + "]" * 5000 + "\n"),
         r"nests tables or arrays too deeply"),
    # items 8 and 10: data
    Case("data-npy-structured",
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")), "--data",
                       str(_npy(d, "x.npy", np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])))],
         r"structured array"),
    Case("data-npy-0d",
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")), "--data",
                       str(_npy(d, "x.npy", np.array(3.0)))], r"single value \(a 0-d array\)"),
    Case("data-npy-complex",
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")), "--data",
                       str(_npy(d, "x.npy", np.ones((3, 4), dtype=np.complex64)))], r"complex numbers"),
    Case("data-npy-datetime",
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")), "--data",
                       str(_npy(d, "x.npy", np.array([["2020-01-01"] * 4], dtype="datetime64[D]")))],
         r"datetime64"),
    Case("data-npy-shape-lie",  # the header declares 40e9 values, the file holds 8
         lambda d, _: ["validate", str(_model(d)), "--reference", str(_model(d, "r.onnx")), "--data",
                       str(_npy_lie(d))], r"cannot read .* as \.npy"),
    # held in the measurements: still held
    Case("held-pickle-without-trust",
         lambda d, _: ["convert", str(_pickle(d)), "--sample", str(_npy(d, "x.npy", np.ones((2, 4)))),
                       "-o", "m.onnx"], r"pickle.*--trust-pickle"),
    Case("held-external-data-outside",
         lambda d, o: ["validate", str(_external(d, o))], r"leaves the model's folder|absolute"),
]


def _npy_lie(d: Path) -> Path:
    from numpy.lib import format as npy_format

    path = d / "x.npy"
    with path.open("wb") as handle:
        npy_format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": (10**10, 4)})
        handle.write(bytes(64))
    return path


def _skops(d: Path) -> Path:
    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    rows = np.random.default_rng(0).normal(size=(20, 4))
    path = d / "m.skops"
    sio.dump(LinearRegression().fit(rows, rows.sum(axis=1)), path)
    return path


def _sql_package(d: Path) -> Path:
    import onnxgate as og
    from onnxgate.deploy.adapt import adapt

    out = d / "sqlpkg"
    og.package(adapt(tiny_mlp_model(), "sql-edge-2.0"), target="sql-edge-2.0", out=out)
    return out


def _fifo_saved_model(d: Path) -> Path:
    model = _saved_model(d, None)
    os.mkfifo(model / "variables" / "extra.fifo")
    return model


def _sparse(d: Path, name: str, size: int) -> Path:
    path = d / name
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def _zip_zeros_config(path: Path) -> Path:
    """A .keras whose config.json is 1 GiB of whitespace (deflated, so the file itself stays small)."""
    chunk = b" " * (16 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("metadata.json", b"{}")
        with archive.open("config.json", "w", force_zip64=True) as handle:
            for _ in range(64):
                handle.write(chunk)
    return path


def _pickle(d: Path) -> Path:
    import pickle

    path = d / "m.pkl"
    marker = d / "ran"
    payload = pickle.dumps(_Marker(str(marker)))
    path.write_bytes(payload)
    return path


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def _external(d: Path, outside: Path) -> Path:
    import onnx
    from onnx import numpy_helper

    model = tiny_mlp_model()
    init = model.graph.initializer[0]
    init.ClearField("raw_data")
    init.ClearField("float_data")
    init.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", str(outside / "secret.bin")), ("length", "128")):
        entry = init.external_data.add()
        entry.key, entry.value = key, value
    del numpy_helper
    path = d / "ext.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``(case folder, outside folder)``: the case runs in the first; the second holds a secret."""
    case, outside = tmp_path / "case", tmp_path / "outside"
    case.mkdir()
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"SECRET" * 100)
    return case, outside


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_in_one_line(case: Case, layout: tuple[Path, Path]) -> None:
    folder, outside = layout
    argv = case.build(folder, outside)
    before, outside_before = snapshot(folder), snapshot(outside)
    result = run_cli(argv, folder, case.env)
    assert not result.killed_for_memory, f"RSS passed {MAX_CHILD_RSS_MB} MB: an unbounded read"
    assert result.returncode == case.exit_code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.search(case.expect, lines[0]), lines[0]
    for bad in ("Traceback", "unexpected", "please report", "Warning"):
        assert bad not in result.stderr, result.stderr
    assert snapshot(folder) == before, "the case's folder changed: something was written or removed"
    assert snapshot(outside) == outside_before
    assert not (folder / "ran").exists(), "code from a pickle ran"
    assert result.peak_mb < MAX_CHILD_RSS_MB
    print(f"\n{case.id}: exit {result.returncode}, peak RSS {result.peak_mb:.0f} MB")  # the figures, with -s


# -- controls: what must keep working ----------------------------------------------------------


def test_control_model_data_and_target_file_still_work(layout: tuple[Path, Path]) -> None:
    folder, _ = layout
    model = _model(folder)
    _model(folder, "r.onnx")
    rows = np.random.default_rng(0).normal(size=(20, 4))
    np.save(folder / "x.npy", rows)
    (folder / "x.csv").write_text("\n".join(",".join(f"{v:.4f}" for v in r) for r in rows) + "\n")
    _toml(folder, 'name = "mine"\nbase = "sql-edge-2.0"\nallow_nan = false\nsql_types = {float32 = "float(24)"}\n')
    for argv in (
        ["validate", str(model)],
        ["validate", str(model), "--reference", "r.onnx", "--data", "x.npy"],
        ["validate", str(model), "--reference", "r.onnx", "--data", "x.csv"],
        ["package", str(model), "--target-file", "t.toml", "--adapt", "-o", "sqlpkg"],
    ):
        result = run_cli(argv, folder)
        assert result.returncode == 0, (argv, result.stderr)
    assert "[f0] float(24) NOT NULL" in (folder / "sqlpkg" / "03_create_input_table.sql").read_text()


def test_control_symlink_inside_a_savedmodel_folder_is_allowed(tmp_path: Path) -> None:
    from onnxgate._files import check_folder_confined
    from onnxgate.errors import UnsupportedModelError

    model = _saved_model(tmp_path, None)
    (model / "assets").mkdir()
    (model / "assets" / "vocab.txt").symlink_to(model / "variables" / "variables.index")
    check_folder_confined(model, what="SavedModel folder", error=UnsupportedModelError)


def test_nan_csv_prints_no_numpy_warning(layout: tuple[Path, Path]) -> None:
    folder, _ = layout
    model = _model(folder)
    _model(folder, "r.onnx")
    rows = np.random.default_rng(0).normal(size=(20, 4))
    rows[3, 1] = np.nan
    rows[5, 2] = np.inf
    (folder / "x.csv").write_text("\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    result = run_cli(["validate", str(model), "--reference", "r.onnx", "--data", "x.csv"], folder)
    assert result.returncode in (0, 1), result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(("values", "match"), [
    ([1e308, -1e308], r"2 value\(s\) outside the range of float32 \(e\.g\. 1e\+308"),
    ([3.5e38], r"outside the range of float32"),
])
def test_values_a_float32_input_cannot_hold_are_refused_without_a_warning(
    layout: tuple[Path, Path], values: list[float], match: str
) -> None:
    folder, _ = layout
    model = _model(folder)
    _model(folder, "r.onnx")
    rows = np.random.default_rng(0).normal(size=(20, 4))
    rows[3, : len(values)] = values
    (folder / "x.csv").write_text("\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n")
    result = run_cli(["validate", str(model), "--reference", "r.onnx", "--data", "x.csv"], folder)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(match, lines[0]), result.stderr


def test_corpus_covers_every_area() -> None:
    areas = {c.id.split("-", 1)[0] for c in CASES}
    assert areas == {"special", "size", "archive", "target", "data", "held"}
    counts = {a: sum(c.id.startswith(a + "-") for c in CASES) for a in sorted(areas)}
    print(json.dumps(counts))

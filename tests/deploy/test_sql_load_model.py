"""load_model.py, the insert of a model too large for a hex literal, inserted whatever model.onnx it found:
one replaced since packaging reached the database unvalidated, while the dry run refused that package
(its model's sha256 differs from manifest.json's) (helper-138)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _sql_models import mlp

import onnxgate as og
from onnxgate.api import adapt

#: A stand-in for pyodbc that writes the size of the model it was given to insert.
FAKE_PYODBC = '''
import os, pathlib
class _Cursor:
    def execute(self, sql, name, version, description, model):
        pathlib.Path(os.environ["INSERTED"]).write_text(str(len(model)))
class _Conn:
    def __enter__(self): return self
    def __exit__(self, *exc): return False
    def cursor(self): return _Cursor()
    def commit(self): pass
def connect(connection_string, autocommit=False): return _Conn()
Binary = bytes
'''


def _run(package: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "fake"
    fake.mkdir(exist_ok=True)
    (fake / "pyodbc.py").write_text(FAKE_PYODBC)
    env = {**os.environ, "PYTHONPATH": str(fake), "ONNXGATE_SQL_CONNECTION": "Driver=x",
           "INSERTED": str(tmp_path / "inserted.txt")}
    return subprocess.run([sys.executable, str(package / "load_model.py")], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_load_model_refuses_a_model_replaced_after_packaging(tmp_path: Path) -> None:
    out = og.package(adapt(mlp(17, outputs=3), "sql-edge-2.0"), target="sql-edge-2.0", out=tmp_path / "pkg",
                     hex_limit=100)  # the model goes in through load_model.py
    written = (out / "model.onnx").read_bytes()
    ran = _run(out, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "inserted.txt").read_text() == str(len(written))
    (tmp_path / "inserted.txt").unlink()
    other = og.package(adapt(mlp(17, outputs=3, seed=1), "sql-edge-2.0"), target="sql-edge-2.0",
                       out=tmp_path / "other")
    (out / "model.onnx").write_bytes((other / "model.onnx").read_bytes())
    ran = _run(out, tmp_path)
    assert ran.returncode == 1
    assert "not the model this package was validated with" in ran.stderr
    assert not (tmp_path / "inserted.txt").exists()

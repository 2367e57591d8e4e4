"""``onnxgate convert`` and ``onnxgate zoo``: exit codes and one-line errors."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onnxgate.cli import main


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zoo") / "logreg"
    assert main(["zoo", "export", "sklearn-iris-logreg", "-o", str(out)]) == 0
    return out


def test_convert_skops_at_opset(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.onnx"
    rc = main(["convert", str(exported / "model.skops"), "--sample", str(exported / "sample.npy"),
               "--opset", "12", "-o", str(out)])
    assert rc == 0
    assert "opset=12 (requested 12)" in capsys.readouterr().out
    import onnx

    assert onnx.load(out).ir_version == 7


def test_convert_without_opset_says_the_opset_is_the_default(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # no --opset given, and the line read "opset=17 (requested 17)"
    rc = main(["convert", str(exported / "model.skops"), "--sample", str(exported / "sample.npy"),
               "--target", "sql-edge-2.0", "-o", str(tmp_path / "m.onnx")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "(default 17)" in out and "requested" not in out


def test_pickle_needs_trust(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import skops.io as sio

    pkl = tmp_path / "m.pkl"
    pkl.write_bytes(pickle.dumps(sio.load(exported / "model.skops")))
    args = ["convert", str(pkl), "--sample", str(exported / "sample.npy"), "-o", str(tmp_path / "m.onnx")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "runs any code" in err and "--trust-pickle" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()
    assert main([*args, "--trust-pickle"]) == 0


def test_a_joblib_dump_named_pkl_loads(exported: Path, tmp_path: Path) -> None:
    # joblib.dump writes its own format whatever the name: read as a plain pickle it failed
    # ("invalid load key")
    import joblib
    import skops.io as sio

    pkl = tmp_path / "m.pkl"
    joblib.dump(sio.load(exported / "model.skops"), pkl)
    assert main(["convert", str(pkl), "--sample", str(exported / "sample.npy"), "-o", str(tmp_path / "m.onnx"),
                 "--trust-pickle"]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 0


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--opset", "0"], "opset must be between 1 and"),
        (["--opset", "99"], "opset must be between 1 and"),
        (["--opset", "23"], "at most opset 22"),
    ],
)
def test_bad_opsets_exit_2(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           args: list[str], match: str) -> None:
    rc = main(["convert", str(exported / "model.skops"), "--sample", str(exported / "sample.npy"), *args,
               "-o", str(tmp_path / "m.onnx")])
    assert rc == 2
    assert match in _one_error_line(capsys)


def test_unreadable_and_unknown_model_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "model.skops"
    bad.write_bytes(b"not a zip")
    assert main(["convert", str(bad), "-o", str(tmp_path / "o.onnx")]) == 2
    assert "not a readable .skops file" in _one_error_line(capsys)
    odd = tmp_path / "model.xyz"
    odd.write_text("x")
    assert main(["convert", str(odd), "-o", str(tmp_path / "o.onnx")]) == 2
    assert "cannot tell which framework" in _one_error_line(capsys)
    assert main(["convert", str(tmp_path / "missing.pkl"), "-o", str(tmp_path / "o.onnx")]) == 2
    assert "not found" in _one_error_line(capsys)
    onnx_file = tmp_path / "model.onnx"  # "cannot tell which framework", for a file already converted
    onnx_file.write_bytes(b"\x08\x07")
    assert main(["convert", str(onnx_file), "-o", str(tmp_path / "o.onnx")]) == 2
    assert "is already an ONNX model" in _one_error_line(capsys)
    # serve: a folder that does not exist was "not a container package (missing ['score.py', 'model.onnx'])"
    assert main(["serve", str(tmp_path / "nope")]) == 2
    assert "'nope' does not exist" in _one_error_line(capsys).replace(str(tmp_path) + "/", "")


def test_wrong_sample_width_exit_2(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = tmp_path / "s.npy"
    np.save(sample, np.zeros((3, 2)))
    rc = main(["convert", str(exported / "model.skops"), "--sample", str(sample), "-o", str(tmp_path / "m.onnx")])
    assert rc == 2
    assert "fitted on 4 features; the sample has 2" in _one_error_line(capsys)


def test_existing_output_is_not_overwritten(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    rc = main(["convert", str(exported / "model.skops"), "--sample", str(exported / "sample.npy"), "-o", str(out)])
    assert rc == 2
    assert "--force" in _one_error_line(capsys)
    assert out.read_bytes() == b"keep me"


def test_a_folder_as_output_is_an_input_error_even_with_force(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # without --force it said "exists; pass --force to overwrite it", which then said "it is a folder"
    folder = tmp_path / "adir"
    folder.mkdir()
    for force in (["--force"], []):
        rc = main(["convert", str(exported / "model.skops"), "--sample", str(exported / "sample.npy"),
                   "-o", str(folder), *force])
        assert rc == 2
        line = _one_error_line(capsys)
        assert f"-o {str(folder)!r} is a folder; give a file path" in line and "--force" not in line
        assert folder.is_dir() and not any(folder.iterdir())


def test_written_files_follow_the_umask_not_tempfiles_0600(exported: Path, tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "m.onnx"
        assert main(["convert", str(exported / "model.skops"), "--sample", str(exported / "sample.npy"),
                     "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # a container's non-root user can read it
    assert stat.S_IMODE((exported / "model.onnx").stat().st_mode) & 0o044 == 0o044


def test_usage_error_is_one_line_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "onnxgate", "convert"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "required" in proc.stderr and "Traceback" not in proc.stderr


def test_zoo_list_names_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    import onnxgate as og

    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    for name in og.zoo.names():
        assert name in out
    # a misspelt framework listed nothing and exited 0
    assert main(["zoo", "list", "--framework", "sklern"]) == 2
    assert "the zoo's frameworks are" in _one_error_line(capsys)
    assert main(["zoo", "list", "--framework", "xgboost"]) == 0
    assert "xgboost-breast-cancer-classifier" in capsys.readouterr().out


def test_the_output_never_replaces_the_model_or_sample_even_with_force(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    model, sample = tmp_path / "model.skops", tmp_path / "sample.npy"
    shutil.copy(exported / "model.skops", model)
    shutil.copy(exported / "sample.npy", sample)
    before = model.read_bytes(), sample.read_bytes()
    for out in (model, sample):
        capsys.readouterr()
        assert main(["convert", str(model), "--sample", str(sample), "-o", str(out), "--force"]) == 2
        assert "never an input" in capsys.readouterr().err
    assert (model.read_bytes(), sample.read_bytes()) == before


def test_convert_takes_the_short_target_flag_as_validate_does(exported: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.onnx"
    assert main(["convert", str(exported / "model.skops"), "--sample", str(exported / "sample.npy"),
                 "-t", "sql-edge-2.0", "-o", str(out)]) == 0
    assert main(["validate", str(out), "-t", "sql-edge-2.0"]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_a_text_pipeline_goes_from_a_one_column_table_through_convert_validate_and_score(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a pipeline fitted on a 1-D array of text, sampled from a Parquet file's one column: convert refused
    # it ("fitted on an array of numbers, but the sample's column(s) ['text'] hold text")
    import pandas as pd
    import pyarrow.parquet as pq
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Cat", "Mouse", "house", "River"]
    docs = np.array([" ".join(rng.choice(words, 6)) for _ in range(120)])
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(docs, [("fox" in d) for d in docs])
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    pd.DataFrame({"review": docs}).to_parquet(tmp_path / "docs.parquet")
    onnx_file, scored = tmp_path / "m.onnx", tmp_path / "scored.parquet"
    assert main(["convert", str(tmp_path / "m.pkl"), "--sample", str(tmp_path / "docs.parquet"), "--trust-pickle",
                 "-o", str(onnx_file)]) == 0, capsys.readouterr().err
    assert main(["validate", str(onnx_file), "--reference", str(tmp_path / "m.pkl"), "--data",
                 str(tmp_path / "docs.parquet"), "--trust-pickle"]) == 0
    assert main(["score", str(onnx_file), "--data", str(tmp_path / "docs.parquet"), "--out", str(scored)]) == 0
    np.testing.assert_array_equal(pq.read_table(scored).column("label").to_numpy(), model.predict(docs))

"""Reading users' files (onnxgate/_files.py) and the SQL type-name grammar (onnxgate/targets.py)."""

from __future__ import annotations

import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onnxgate._files import check_regular_file, check_zip_archive, input_limit, read_regular_file
from onnxgate._onnx import clean_stale_partials
from onnxgate.errors import InvalidDataError, InvalidModelError, TargetError
from onnxgate.targets import SQL_TYPE_NAMES, Target, check_sql_type_name, from_toml, sql_base_type


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: os.mkfifo(p), "fifo"),
        (lambda p: p.symlink_to("/dev/zero"), "character device"),
        (lambda p: p.mkdir(), "a folder"),
        (lambda p: None, "not found"),
    ],
    ids=["fifo", "link-to-dev-zero", "folder", "missing"],
)
def test_only_regular_files_are_read(tmp_path: Path, make: object, match: str) -> None:
    path = tmp_path / "x.csv"
    make(path)  # type: ignore[operator]
    for reader in (check_regular_file, read_regular_file):
        with pytest.raises(InvalidDataError, match=match):
            reader(path, what="data file", error=InvalidDataError)


def test_the_cap_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"1" * (3 << 20))
    monkeypatch.setenv("ONNXGATE_MAX_INPUT_MB", "2")
    assert input_limit() == 2 << 20
    with pytest.raises(InvalidDataError, match=r"3\.0 MB, above the 2\.0 MB limit .*ONNXGATE_MAX_INPUT_MB"):
        read_regular_file(path, what="data file", error=InvalidDataError)
    monkeypatch.setenv("ONNXGATE_MAX_INPUT_MB", "4")
    assert len(read_regular_file(path, what="data file", error=InvalidDataError)) == 3 << 20


def test_a_small_file_is_read_without_allocating_the_cap(tmp_path: Path) -> None:
    # read(cap + 1) allocated the whole 4 GiB cap for a 1 KB model: "unexpected MemoryError" under `ulimit -v`
    import tracemalloc

    path = tmp_path / "model.onnx"
    path.write_bytes(b"m" * 1024)
    tracemalloc.start()
    try:
        data = read_regular_file(path, what="model file", error=InvalidModelError)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data == b"m" * 1024
    assert input_limit() >= 1 << 30 and peak < 1 << 20, f"reading 1 KB allocated {peak:,} bytes"


@pytest.mark.parametrize(("grown", "limit", "read"), [(10, 100, 10), (10, 6, 7), (3 << 20, 4 << 20, 3 << 20)],
                         ids=["grew-below-cap", "grew-past-cap", "grew-by-megabytes"])
def test_a_file_grown_since_its_size_was_read_is_read_on_up_to_the_cap(grown: int, limit: int, read: int) -> None:
    import io

    from onnxgate._files import _read_capped

    # fstat said 4 bytes; the file holds `grown` by the time it is read: all of it, or the cap plus one byte
    assert _read_capped(io.BytesIO(b"x" * grown), 4, limit) == b"x" * read


def test_a_stored_archive_member_is_counted_against_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weights.bin", os.urandom(3 << 20))
    check_zip_archive(path, what="model file", error=InvalidDataError)
    monkeypatch.setenv("ONNXGATE_MAX_INPUT_MB", "2")
    with pytest.raises(InvalidDataError, match=r"expands to more than the 2\.0 MB limit"):
        check_zip_archive(path, what="model file", error=InvalidDataError)


def test_staging_folders_are_cleaned_only_when_their_writer_is_gone(tmp_path: Path) -> None:
    target = tmp_path / "pkg"
    dead = tmp_path / ".pkg.999999999.abcd.partial"  # no such process id
    live = tmp_path / f".pkg.{os.getpid()}.abcd.partial"
    old_style_recent = tmp_path / ".pkg.k3j2h1g0.partial"
    old_style_stale = tmp_path / ".pkg.z9y8x7w6.partial"
    other = tmp_path / ".pkgs.999999999.abcd.partial"  # beside another folder
    other_host = tmp_path / ".pkg.999999999@00000000.abcd.partial"  # its writer cannot be asked: age decides
    for folder in (dead, live, old_style_recent, old_style_stale, other, other_host):
        folder.mkdir()
    hour_ago = time.time() - 7200
    os.utime(old_style_stale, (hour_ago, hour_ago))
    removed = clean_stale_partials(target)
    assert sorted(p.name for p in removed) == sorted([dead.name, old_style_stale.name])
    assert live.exists() and old_style_recent.exists() and other.exists() and other_host.exists()


# -- SQL type names ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["real", "float", "FLOAT(53)", "nvarchar(max)", "float(24)", "char(10)",
                                  "bigint", "varchar(200)"])
def test_plain_sql_type_names_are_accepted(text: str) -> None:
    assert check_sql_type_name(text, where="sql_types.x") == text


@pytest.mark.parametrize("text", ["decimal(18,4)", "decimal(18, 4)", "NUMERIC", "money", "bit"])
def test_types_predict_does_not_take_are_refused_with_the_cast_advice(text: str, tmp_path: Path) -> None:
    """A target file mapping float64 to decimal(38,10) wrote a package whose own dry run then said "no DuckDB
    equivalent" (helper-124): PREDICT takes int, bigint, real, float and text columns only."""
    with pytest.raises(TargetError, match=r"sql_types\.x is .*PREDICT does not take.*CAST the column"):
        check_sql_type_name(text, where="sql_types.x")
    path = tmp_path / "t.toml"
    path.write_text(f'[target]\nname = "edge-dec"\nbase = "sql-edge-2.0"\nsql_types = {{ float64 = "{text}" }}\n',
                    encoding="utf-8")
    with pytest.raises(TargetError, match="PREDICT does not take"):
        from_toml(path)


@pytest.mark.parametrize("text", [
    "real NOT NULL); DROP TABLE [dbo].[models]; --", "real NOT NULL", "real -- x", "real;", "real\n",
    "float(53", "varbinary(max)", "sql_variant", "", " real", "real(1)(2)", 5, None,
])
def test_anything_else_is_refused(text: object) -> None:
    with pytest.raises(TargetError, match=r"sql_types\.x must be"):
        check_sql_type_name(text, where="sql_types.x")


@given(st.text(max_size=40))
def test_an_accepted_type_name_cannot_leave_its_place_in_a_script(text: str) -> None:
    try:
        check_sql_type_name(text, where="t")
    except TargetError:
        return
    # letters, digits, spaces, brackets and one pair of parentheses: nothing that ends a definition or a statement
    assert re.fullmatch(r"\[?[A-Za-z ]+\]?( *\([0-9A-Za-z ]*\))?", text), text
    assert sql_base_type(text) in SQL_TYPE_NAMES


@pytest.mark.parametrize(("text", "base"), [
    ("nvarchar ( 20 )", "nvarchar"), ("NVARCHAR (MAX)", "nvarchar"), ("double precision", "float"),
    ("DOUBLE  PRECISION", "float"), ("float(1)", "real"), ("float (24)", "real"), ("float(25)", "float"),
    ("integer", "int"), ("national character varying(20)", "nvarchar"), ("char varying (8000)", "varchar"),
    ("character(10)", "char"), ("[nvarchar](max)", "nvarchar"), ("[float](53)", "float"),
])
def test_t_sql_spellings_of_the_types_predict_reads_are_accepted(text: str, base: str) -> None:
    """SQL Server takes spaces between a type's tokens and the ISO synonyms (double precision is float(53)); the
    grammar refused ``nvarchar ( 20 )`` and ``double precision``."""
    assert check_sql_type_name(text, where="sql_types.x") == text
    assert sql_base_type(text) == base


@pytest.mark.parametrize(("text", "says"), [
    ("float(0)", r"float takes one size from 1 to 53 \(1 to 24 is real, 25 to 53 float\), found \(0\)"),
    ("float(54)", r"float takes one size from 1 to 53"),
    ("nvarchar(0)", r"nvarchar takes one size from 1 to 4000, or max, found \(0\)"),
    ("nvarchar(4001)", r"nvarchar takes one size from 1 to 4000, or max"),
    ("varchar(8001)", r"varchar takes one size from 1 to 8000, or max"),
    ("char(max)", r"char takes one size from 1 to 8000, found \(max\)"),
    ("nvarchar(20, 3)", r"nvarchar takes one size .*found \(20, 3\)"),
    ("float(53, 2)", r"float takes one size"),
    ("int(5)", r"int takes no size in parentheses: write int"),
    ("real (10)", r"real takes no size in parentheses: write real"),
    ("double precision(53)", r"double precision takes no size in parentheses"),
])
def test_a_size_sql_server_refuses_is_refused_saying_what_the_type_takes(text: str, says: str) -> None:
    """``float(0)`` passed as real (T-SQL takes float(1) to float(53)); ``int(5)`` and ``nvarchar(20, 3)`` passed
    too, and each wrote a script SQL Server refuses."""
    with pytest.raises(TargetError, match=rf"sql_types\.x is '.*', which SQL Server refuses: {says}"):
        check_sql_type_name(text, where="sql_types.x")
    assert sql_base_type(text) not in SQL_TYPE_NAMES


def test_a_bracketed_synonym_is_refused_as_sql_server_finds_no_such_type() -> None:
    with pytest.raises(TargetError, match=r"must be one SQL type name"):
        check_sql_type_name("[integer]", where="sql_types.x")


def test_a_target_built_in_python_is_held_to_the_same_grammar() -> None:
    with pytest.raises(TargetError, match=r"sql_types\['float32'\]"):
        Target(name="t", description="d", sql_types={"float32": "real); DROP TABLE x; --"})
    with pytest.raises(TargetError, match="not an element type"):
        Target(name="t", description="d", sql_types={"decimal": "real"})


def test_a_keras_weights_member_must_be_hdf5(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.keras", tmp_path / "bad.keras"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(100))
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("model.weights.h5", bytes(4096))
    check_zip_archive(good, what="model file", error=InvalidDataError)
    with pytest.raises(InvalidDataError, match="not an HDF5 file"):
        check_zip_archive(bad, what="model file", error=InvalidDataError)


# -- target files: any value in any field is a Target or one TargetError ---------------------------

_FIELDS = ["name", "description", "runtime", "max_opset", "max_ir_version", "input_types", "output_types",
           "input_layout", "outputs_tensor_only", "outputs_one_per_row", "dynamic_batch", "allow_nan",
           "sql_types", "checks", "sources", "base"]


def _toml_value(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


_scalars = st.one_of(st.booleans(), st.integers(-5, 40), st.text(max_size=12),
                     st.sampled_from(["float32", "real", "column", "synapse", "model_wellformed"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["", "float32", "ai.onnx.ml", "x"]), inner,
                                                 max_size=3)), max_leaves=6)


@given(st.dictionaries(st.sampled_from(_FIELDS), _values, max_size=5))
def test_any_target_file_is_a_target_or_one_target_error(tmp_path_factory: pytest.TempPathFactory,
                                                          table: dict[str, object]) -> None:
    from onnxgate.targets import from_toml

    path = tmp_path_factory.mktemp("toml") / "t.toml"
    path.write_text("\n".join(f"{k} = {_toml_value(v)}" for k, v in table.items()) + "\n", encoding="utf-8")
    try:
        target = from_toml(path)
    except TargetError as err:
        assert "\n" not in str(err).strip() or "target file" in str(err)
        return
    assert isinstance(target, Target)
    for key in ("allow_nan", "dynamic_batch", "outputs_tensor_only", "outputs_one_per_row"):
        assert isinstance(getattr(target, key), bool)
    for sql in target.sql_types.values():
        check_sql_type_name(sql, where="t")

"""T-SQL packages: golden scripts, quoting of hostile names, refusals, the CLI."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from _sql_models import HOSTILE, mlp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import onnxgate as og
from onnxgate.api import adapt
from onnxgate.cli import main
from onnxgate.deploy.sql import HEX_INSERT_LIMIT_BYTES, quote_ident, quote_string
from onnxgate.errors import OutputExistsError, PackagingError, ValidationFailedError

sqlglot = pytest.importorskip("sqlglot", reason="sqlglot parses the generated T-SQL")
from sqlglot import exp  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
#: Set to 1 to rewrite the golden files from the current output (then review the diff).
UPDATE = os.environ.get("ONNXGATE_UPDATE_GOLDEN") == "1"
SQL_TARGETS = ["sql-edge-1.0", "sql-edge-2.0", "synapse"]


def _adapted(target: str = "sql-edge-1.0", **kwargs: object) -> object:
    return adapt(mlp(12, outputs=3), target, **kwargs)  # type: ignore[arg-type]


def _normalise(text: str) -> str:
    text = re.sub(r"onnxgate \d+\.\d+\.\d+\S*", "onnxgate <version>", text)
    text = re.sub(r"\(\d+ bytes\)", "(<size> bytes)", text)  # the size moves with the onnx version
    text = re.sub(r"MODEL_SHA256 = '[0-9a-f]{64}'", "MODEL_SHA256 = '<model sha256>'", text)
    return re.sub(r"0x[0-9A-F]{64,}", "0x<model bytes>", text)


def _parse(sql: str) -> list[exp.Expression]:
    return [s for s in sqlglot.parse(sql, read="tsql") if s is not None]


def _non_predict(sql: str) -> str:
    """The statements of 04_predict.sql before the PREDICT query (sqlglot has no PREDICT grammar)."""
    return sql.split("SELECT d.*, p.*")[0]


@pytest.mark.parametrize("target", SQL_TARGETS)
def test_generated_scripts_match_the_golden_files(tmp_path: Path, target: str) -> None:
    out = og.package(_adapted(target), target=target, out=tmp_path / "pkg", model_name="demo",
                     description="Demo MLP")
    names = sorted(p.name for p in out.iterdir() if p.suffix in (".sql", ".md", ".py"))
    expected_dir = GOLDEN / target
    if UPDATE:
        expected_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            (expected_dir / name).write_text(_normalise((out / name).read_text(encoding="utf-8")), encoding="utf-8")
    assert names == sorted(p.name for p in expected_dir.iterdir())
    for name in names:
        got = _normalise((out / name).read_text(encoding="utf-8"))
        assert got == (expected_dir / name).read_text(encoding="utf-8"), f"{target}/{name} differs from golden"


@pytest.mark.parametrize("target", SQL_TARGETS)
def test_package_contents_agree_with_the_model(tmp_path: Path, target: str) -> None:
    out = og.package(_adapted(target), target=target, out=tmp_path / "pkg")
    model_bytes = (out / "model.onnx").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    import hashlib

    assert manifest["model"]["sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert manifest["target"] == target
    assert manifest["validation"]["passed"] is True
    assert [i["sql_type"] for i in manifest["sql"]["inputs"]] == ["real"] * 10
    assert [(o["name"], o["sql_type"]) for o in manifest["sql"]["outputs"]] == [
        ("label", "bigint"), ("output_0", "real"), ("output_1", "real"), ("output_2", "real")]
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir())
    insert = (out / "02_insert_model.sql").read_text()
    assert "0x" + model_bytes.hex().upper() in insert
    for name in ("01_create_model_table.sql", "02_insert_model.sql", "03_create_input_table.sql"):
        assert len(_parse((out / name).read_text())) == 1, name
    predict = (out / "04_predict.sql").read_text()
    assert [type(s).__name__ for s in _parse(_non_predict(predict))] == ["Declare"]
    assert "RUNTIME = ONNX" in predict
    assert "WITH (\n    [label] bigint,\n    [output_0] real," in predict
    if target == "synapse":
        assert "DISTRIBUTION = ROUND_ROBIN, HEAP" in (out / "01_create_model_table.sql").read_text()
        assert (out / "model.hex").read_text().strip() == model_bytes.hex().upper()
        copy = (out / "05_copy_into_model.sql").read_text()
        assert "COPY INTO [dbo].[models_staging] ([model])" in copy
    else:
        assert not (out / "model.hex").exists()


def test_a_large_model_is_not_inlined_and_points_to_load_model(tmp_path: Path) -> None:
    out = og.package(_adapted(), target="sql-edge-1.0", out=tmp_path / "pkg", hex_limit=100)
    insert = (out / "02_insert_model.sql").read_text()
    assert "above the 100 byte limit" in insert and "load_model.py" in insert
    assert _parse(insert) == []  # comments only
    assert json.loads((out / "manifest.json").read_text())["sql"]["model_in_insert_script"] is False
    assert HEX_INSERT_LIMIT_BYTES == 8 * 1024 * 1024


def _identifiers(statements: list[exp.Expression]) -> set[str]:
    return {i.name for s in statements for i in s.find_all(exp.Identifier)}


def _strings(statements: list[exp.Expression]) -> set[str]:
    found = {n.name for s in statements for n in s.find_all(exp.National)}
    return found | {lit.this for s in statements for lit in s.find_all(exp.Literal) if lit.is_string}


@pytest.mark.parametrize("target", SQL_TARGETS)
def test_hostile_names_stay_single_identifiers_and_literals(tmp_path: Path, target: str) -> None:
    model = _adapted(target, columns=[HOSTILE] + [f"f{i}" for i in range(1, 10)])
    out = og.package(model, target=target, out=tmp_path / "pkg", model_name=HOSTILE, schema=HOSTILE,
                     model_table=HOSTILE, input_table=HOSTILE, model_version=HOSTILE, description="it's")
    counts = {"01_create_model_table.sql": 1, "02_insert_model.sql": 1, "03_create_input_table.sql": 1}
    for name, count in counts.items():
        statements = _parse((out / name).read_text())
        assert len(statements) == count, name
        assert not any(isinstance(s, exp.Drop) for s in statements)
    create = _parse((out / "03_create_input_table.sql").read_text())
    assert "x___DROP_TABLE_models___" in _identifiers(create)  # a column: made a regular identifier by adapt
    table = next(create[0].find_all(exp.Table))
    assert (table.db, table.name) == (HOSTILE, HOSTILE)
    insert = _parse((out / "02_insert_model.sql").read_text())
    assert {HOSTILE, "it's"} <= _strings(insert)
    declare = _parse(_non_predict((out / "04_predict.sql").read_text()))
    assert len(declare) == 1 and HOSTILE in _strings(declare)
    predict = (out / "04_predict.sql").read_text()
    assert f"DATA = {quote_ident(HOSTILE)}.{quote_ident(HOSTILE)} AS d" in predict
    if target == "synapse":
        # sqlglot has no COPY INTO grammar: parse the other statements one by one
        parts = [p for p in (out / "05_copy_into_model.sql").read_text().split(";\n") if p.strip()]
        parsed = [_parse(p) for p in parts if not re.search(r"^COPY INTO", p, re.M)]
        assert [[type(s).__name__ for s in ss] for ss in parsed] == [["Create"], ["Insert"], ["Drop"]]
        dropped = next(parsed[2][0].find_all(exp.Table))
        assert (dropped.db, dropped.name) == (HOSTILE, f"{HOSTILE}_staging")
    # load_model.py keeps every value a Python literal and every SQL value a parameter
    tree = ast.parse((out / "load_model.py").read_text())
    consts = {t.targets[0].id: t.value.value for t in tree.body if isinstance(t, ast.Assign)  # type: ignore[attr-defined]
              and isinstance(t.value, ast.Constant)}
    assert consts["NAME"] == HOSTILE and consts["VERSION"] == HOSTILE and consts["DESCRIPTION"] == "it's"
    assert consts["SQL"].endswith("VALUES (?, ?, ?, ?, SYSUTCDATETIME())")
    assert len(_parse(consts["SQL"])) == 1


#: Text a script may hold: no control character (line breaks among them) and no '$(' (refused, below).
SCRIPT_TEXT = st.characters(blacklist_categories=("Cs", "Cc"))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=SCRIPT_TEXT, min_size=1, max_size=40))
def test_quote_ident_round_trips_through_a_tsql_parser(name: str) -> None:
    assume(not name.startswith("#"))  # [#t] is a temporary table in T-SQL, quoted or not
    assume("$(" not in name)
    statements = _parse(f"SELECT {quote_ident(name)} FROM {quote_ident(name)}.{quote_ident(name)}")
    assert len(statements) == 1
    assert {i.name for i in statements[0].find_all(exp.Identifier)} == {name}


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=SCRIPT_TEXT, max_size=40))
def test_quote_string_round_trips_through_a_tsql_parser(text: str) -> None:
    assume("$(" not in text)
    statements = _parse(f"SELECT {quote_string(text)}")
    assert len(statements) == 1
    assert _strings(statements) == {text}


@pytest.mark.parametrize("bad", ["", "a" * 129, "a\x00b"])
def test_impossible_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(PackagingError, match=r"expected a SQL identifier of 1 to 128 characters"):
        quote_ident(bad)


@pytest.mark.parametrize("bad", ["churn\nGO\nDROP TABLE [dbo].[customers]", "a\rb", "a\tb", "x$(SECRET)",
                                 "a\u2028GO\u2028DROP TABLE t", "x\u0085:r evil.sql", "a\u2029b"])
@pytest.mark.parametrize("option", ["model_name", "input_table", "schema", "description", "model_version"])
def test_names_sqlcmd_would_act_on_are_refused_and_nothing_is_written(tmp_path: Path, option: str,
                                                                      bad: str) -> None:
    """sqlcmd and SSMS end a batch at a line 'GO' and expand '$(name)' even inside [quotes] or N'...':
    a name holding them put a DROP TABLE between two GO lines of 02_insert_model.sql."""
    with pytest.raises(PackagingError, match=r"sqlcmd and SSMS end a batch at a line 'GO'"):
        og.package(_adapted("sql-edge-2.0"), target="sql-edge-2.0", out=tmp_path / "pkg", **{option: bad})
    assert list(tmp_path.iterdir()) == []


def test_a_synapse_model_table_too_long_for_its_staging_table_is_refused_before_validation(tmp_path: Path) -> None:
    # 125 characters passed the option check, and after the whole validation the package failed naming
    # 'MMM..._staging', a name the user never typed (helper-81); mlp(12) fails the target: the option is first
    with pytest.raises(PackagingError, match=r"model_table \(--model-table\): 125 characters.*at most 120"):
        og.package(mlp(12), target="synapse", out=tmp_path / "pkg", model_table="M" * 125)
    assert list(tmp_path.iterdir()) == []
    og.package(_adapted("synapse"), target="synapse", out=tmp_path / "ok", model_table="M" * 120)
    # an emoji is two of SQL Server's 128 UTF-16 code units: 61 of them skipped the check (helper-124)
    with pytest.raises(PackagingError, match=r"model_table \(--model-table\): 122 characters.*at most 120"):
        og.package(mlp(12), target="synapse", out=tmp_path / "pkg", model_table="\U0001F680" * 61)


def test_a_graph_name_with_line_breaks_is_made_one_line_for_the_default_model_name(tmp_path: Path) -> None:
    """The default model name is the file's graph name, which a third-party file sets."""
    model = _adapted("sql-edge-2.0")
    model.graph.name = "churn\nGO\nDROP TABLE [dbo].[customers]\nGO\n-- $(SECRET)"  # type: ignore[attr-defined]
    out = og.package(model, target="sql-edge-2.0", out=tmp_path / "pkg")
    for script in sorted(out.glob("*.sql")):
        text = script.read_text()
        assert "$(" not in text, script.name
        assert not any(line.strip().upper() == "GO" for line in text.splitlines()), script.name
        assert not any(isinstance(s, exp.Drop) for s in _parse(_non_predict(text))), script.name
    assert "churn GO DROP TABLE [dbo].[customers] GO -- SECRET)" in (out / "02_insert_model.sql").read_text()


def test_a_model_that_fails_the_target_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    with pytest.raises(ValidationFailedError, match=r"refusing to package.*inputs_one_per_column") as info:
        og.package(mlp(12), target="sql-edge-2.0", out=out)  # one [N,10] input: not PREDICT-shaped
    assert info.value.report is not None and not info.value.report.passed
    assert info.value.report.check("inputs_one_per_column").passed is False
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind


def test_adapt_option_packages_a_raw_model(tmp_path: Path) -> None:
    out = og.package(mlp(12), target="sql-edge-2.0", out=tmp_path / "pkg", adapt=True)
    assert "[f9] real NOT NULL" in (out / "03_create_input_table.sql").read_text()


def test_parity_failure_refuses_to_package(tmp_path: Path) -> None:
    model = _adapted()
    wrong = mlp(12, outputs=3, seed=5)  # another model as the "reference"
    X = np.random.default_rng(0).normal(size=(20, 10)).astype(np.float32)
    with pytest.raises(ValidationFailedError, match="prediction_parity"):
        og.package(model, target="sql-edge-1.0", out=tmp_path / "pkg", reference=wrong, data=X)
    assert not (tmp_path / "pkg").exists()


def test_a_non_empty_folder_is_refused_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="is not empty"):
        og.package(_adapted(), target="sql-edge-1.0", out=out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    og.package(_adapted(), target="sql-edge-1.0", out=out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine" and (out / "04_predict.sql").is_file()


def test_unknown_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"unknown SQL package options \['colour'\]"):
        og.package(_adapted(), target="sql-edge-1.0", out=tmp_path / "pkg", colour="red")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw.onnx"
    raw.write_bytes(mlp(12).SerializeToString())
    assert main(["package", str(raw), "--target", "sql-edge-2.0", "-o", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert "inputs_one_per_column" in err and "nothing was written" in err
    assert main(["package", str(raw), "--target", "sql-edge-2.0", "-o", str(tmp_path / "b"), "--adapt",
                 "--model-name", HOSTILE]) == 0
    assert f"N'{HOSTILE}'" in (tmp_path / "b" / "04_predict.sql").read_text()
    # non-empty folder: a usage error, one line
    assert main(["package", str(raw), "--target", "sql-edge-2.0", "-o", str(tmp_path / "b"), "--adapt"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert main(["package", str(raw), "--target", "sql-edge-2.0", "-o", str(tmp_path / "b"), "--adapt",
                 "--force"]) == 0
    assert main(["package", str(raw), "-o", str(tmp_path / "c")]) == 2
    assert main(["package", str(raw), "--target", "sql-edge-2.0", "-o", str(tmp_path / "d"),
                 "--option", "nonsense"]) == 2


@pytest.mark.parametrize(("base", "name", "synapse"), [
    pytest.param("synapse", "prod-dw", True, id="synapse-base-other-name"),
    pytest.param("sql-edge-2.0", "synapse-lookalike", False, id="edge-base-synapse-name"),
])
def test_a_target_files_scripts_follow_its_base_not_its_name(tmp_path: Path, base: str, name: str,
                                                             synapse: bool) -> None:
    # a target based on synapse but named prod-dw got SQL Edge's PRIMARY KEY and no COPY INTO
    profile = tmp_path / "target.toml"
    profile.write_text(f'[target]\nbase = "{base}"\nname = "{name}"\n')
    raw = tmp_path / "raw.onnx"
    raw.write_bytes(mlp(12).SerializeToString())
    assert main(["package", str(raw), "--target-file", str(profile), "-o", str(tmp_path / "out"), "--adapt"]) == 0
    models = (tmp_path / "out" / "01_create_model_table.sql").read_text()
    assert ("ROUND_ROBIN, HEAP" in models) is synapse and ("PRIMARY KEY" in models) is not synapse
    assert (tmp_path / "out" / "05_copy_into_model.sql").is_file() is synapse


#: case id -> (--option and other flags, exit code, what stderr says)
OPTION_VALUES: dict[str, tuple[list[str], int, str]] = {
    # bool("false") is True: the model was adapted and the package written
    "adapt-false": (["--option", "adapt=false"], 1, "inputs_one_per_column"),
    "adapt-word": (["--option", "adapt=maybe"], 2, "--option adapt expects true or false (also 1/0, yes/no), "
                                                   "found 'maybe'"),
    "hex-limit-text": (["--adapt", "--option", "hex_limit=abc"], 2,
                       "--option hex_limit expects a whole number of bytes, 0 or more, found 'abc'"),
    "hex-limit-negative": (["--adapt", "--option", "hex_limit=-5"], 2, "found '-5'"),
    "column-types-no-name": (["--adapt", "--option", "column_types=float32"], 2,
                             "--option column_types expects name:type pairs separated by commas"),
    "columns-without-adapt": (["--option", "columns=a,b"], 2, "--option columns apply to the columns --adapt makes"),
    "column-types-without-adapt": (["--option", "adapt=no", "--option", "column_types=f0:float32"], 2,
                                   "--option column_types apply to the columns --adapt makes"),
    "unknown-lists-all": (["--option", "colour=red"], 2, "known options are ['adapt', 'column_types', 'columns', "
                                                         "'description', 'hex_limit'"),
}


@pytest.mark.parametrize("case", list(OPTION_VALUES))
def test_cli_option_values_are_typed_or_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            case: str) -> None:
    raw = tmp_path / "raw.onnx"
    raw.write_bytes(mlp(12).SerializeToString())
    flags, code, says = OPTION_VALUES[case]
    assert main(["package", str(raw), "--target", "sql-edge-2.0", "-o", str(tmp_path / "out"), *flags]) == code
    err = capsys.readouterr().err
    assert says in err and "unexpected" not in err, err
    assert code == 1 or len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_cli_option_columns_are_split_on_commas(tmp_path: Path) -> None:
    # "abcd" was iterated one character at a time: four columns [a] [b] [c] [d]
    raw = tmp_path / "raw.onnx"
    raw.write_bytes(mlp(12).SerializeToString())
    names = ",".join(f"c{i}" for i in range(10))
    assert main(["package", str(raw), "--target", "sql-edge-2.0", "-o", str(tmp_path / "out"), "--adapt",
                 "--option", f"columns={names}", "--option", "column_types=c0:float32",
                 "--option", "hex_limit=10"]) == 0
    script = (tmp_path / "out" / "03_create_input_table.sql").read_text()
    assert "[c0] real NOT NULL" in script and "[c9] real NOT NULL" in script
    assert "load_model.py" in (tmp_path / "out" / "02_insert_model.sql").read_text()


@pytest.mark.parametrize("target", SQL_TARGETS)
def test_an_adapted_multi_input_model_passes_the_row_rules(target: str) -> None:
    model = _adapted(target)
    report = og.validate(model, target)
    assert report.passed, str(report)
    rows = report.check("outputs_one_value_per_row")
    assert set(rows.details["rows"]["batch_axes"]) == {f"f{i}" for i in range(10)}
    assert rows.details["rows"]["unverified"] == []
    # every output either shares the inputs' batch symbol or was run and returned one row per input row
    assert all(shapes[0][0] == 2 for shapes in rows.details["rows"]["probed"].values())


def test_package_refuses_an_aggregate_output_naming_it(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["total"], keepdims=1, axes=[0])], "sum",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, [1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    with pytest.raises(ValidationFailedError, match=r"outputs_one_value_per_row") as info:
        og.package(model, target="sql-edge-2.0", out=tmp_path / "pkg")
    assert "'total': shape [1,1] fixes its first axis to 1" in info.value.report.check(
        "outputs_one_value_per_row").message
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("model_name", "m" * 257, r"model_name \(--model-name\): 257 characters .*do not fit .*\[name\] nvarchar\(256\)"),
    # counted in UTF-16 code units, as checked: it said "200 characters do not fit ... give at most 256"
    ("model_name", "\U0001F680" * 200, r"model_name \(--model-name\): 400 characters \(UTF-16 code units"),
    ("model_version", "v" * 65, r"model_version \(--model-version\): 65 characters .*nvarchar\(64\)"),
    ("description", "d" * 1001, r"description \(--description\): 1001 characters .*nvarchar\(1000\)"),
    ("input_table", "\U0001F600" * 65, r"input_table \(--input-table\): expected a SQL identifier of 1 to 128 "
                                       r"characters \(UTF-16 code units\)"),
    ("model_name", "m" * 125, r"input_table \(--input-table\): .*the default, made from the model name: give one "
                              r"with --input-table"),
])
def test_names_sql_server_cannot_store_are_refused_before_anything_is_written(
        tmp_path: Path, option: str, value: str, message: str) -> None:
    """The package and its dry run passed, and the insert would have failed on SQL Server (truncation);
    an emoji is two UTF-16 code units of SQL Server's 128."""
    with pytest.raises(PackagingError, match=message):
        og.package(_adapted("sql-edge-2.0"), target="sql-edge-2.0", out=tmp_path / "pkg", **{option: value})
    assert list(tmp_path.iterdir()) == []


from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import onnxgate as og
from onnxgate.targets import Target


def test_builtin_targets_are_listed() -> None:
    assert og.targets.names() == ["container", "mlflow", "onnxruntime", "sql-edge-1.0", "sql-edge-2.0", "synapse"]


@pytest.mark.parametrize(
    ("name", "opset", "ml", "ir"),
    [("sql-edge-1.0", 12, 2, 7), ("sql-edge-2.0", 17, 3, 8), ("synapse", 12, 2, 7)],
)
def test_sql_target_caps_match_the_runtime_matrix(name: str, opset: int, ml: int, ir: int) -> None:
    t = og.targets.get(name)
    assert t.max_opset == {"": opset, "ai.onnx.ml": ml}
    assert t.max_ir_version == ir
    assert t.is_sql and t.outputs_tensor_only and t.outputs_one_per_row
    assert t.sources, "every target cites where its facts come from"


def test_synapse_allows_strings_but_sql_edge_does_not() -> None:
    assert "string" in og.targets.get("synapse").input_types
    assert "string" not in og.targets.get("sql-edge-2.0").input_types
    assert og.targets.get("synapse").sql_type("string") == "nvarchar(max)"
    assert og.targets.get("sql-edge-2.0").sql_type("float64") == "float"


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(og.TargetError, match=r"unknown target 'sql-edge-3'.*sql-edge-2\.0"):
        og.targets.get("sql-edge-3")


def test_targets_are_frozen() -> None:
    t = og.targets.get("sql-edge-2.0")
    with pytest.raises(AttributeError):
        t.max_ir_version = 10  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.max_opset[""] = 21  # type: ignore[index]


def test_registering_twice_needs_overwrite() -> None:
    mine = Target(name="test-dup-target", description="x")
    og.targets.register(mine)
    with pytest.raises(og.TargetError, match="already registered"):
        og.targets.register(mine)
    og.targets.register(mine.with_(description="y"), overwrite=True)
    assert og.targets.get("test-dup-target").description == "y"


def test_unknown_check_name_is_refused() -> None:
    with pytest.raises(og.TargetError, match="unknown checks"):
        Target(name="bad", description="x", checks=("no_such_check",))


def test_target_from_toml_with_base(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text('[target]\nbase = "synapse"\nname = "synapse-ort112"\nmax_ir_version = 8\n'
                 'max_opset = { "" = 17, "ai.onnx.ml" = 3 }\n')
    t = og.targets.from_toml(f)
    assert t.name == "synapse-ort112" and t.opset == 17 and t.max_ir_version == 8
    assert "string" in t.input_types  # inherited


def test_a_target_file_without_base_checks_the_caps_it_sets(tmp_path: Path) -> None:
    """A gate must not pass a model over the caps its own target file writes down: the checks of the
    rules a file sets are run even when it names no checks (and no base to take them from)."""
    f = tmp_path / "old-edge.toml"
    f.write_text('name = "old-edge"\nmax_opset = { "" = 9, "ai.onnx.ml" = 1 }\nmax_ir_version = 4\n'
                 'input_types = ["float32"]\n')
    t = og.targets.from_toml(f)
    assert {"opset_within_caps", "ir_version_within_caps", "operators_exist_at_opset",
            "inputs_element_types"} <= set(t.checks)
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(50, 2))
    conv = og.convert(LogisticRegression().fit(X, X[:, 0] > 0), X, opset=17)
    report = og.validate(conv, target=t)
    assert not report.passed
    assert {c.name for c in report.checks if not c.passed and not c.skipped} >= {
        "opset_within_caps", "ir_version_within_caps", "inputs_element_types"}


@pytest.mark.parametrize(
    ("text", "match"),
    [("[target]\nname = 'x'\nmax_opsett = 3\n", "unknown fields"), ("not = [toml", "not valid TOML"),
     ("[target]\ndescription = 'no name'\n", "needs a 'name'"),
     ("[target]\nbase = 'synapse'\nmax_opset = 'abc'\n", "max_opset must be a table of domain = opset"),
     ("[target]\nbase = 'synapse'\nmax_opset = { '' = 0 }\n", "max_opset must be a table"),
     ("[target]\nbase = 'synapse'\nmax_ir_version = -3\n", "max_ir_version must be a positive integer"),
     ("[target]\nbase = 'synapse'\ninput_types = 5\n", "input_types must be a list of strings"),
     ("[target]\nname = 7\n", "name must be a string"),
     # a file calling itself a built-in target: its reports said sql-edge-2.0 PASSED on the looser rules
     ("base = 'onnxruntime'\nname = 'sql-edge-2.0'\n", "name must be a name of its own, not a built-in"),
     ("base = 'onnxruntime'\nname = 'Container'\n", "name must be a name of its own"),
     # control characters made the JUnit file unreadable XML and reached the terminal
     ("base = 'synapse'\nname = \"t\\u0001\\u001b[31m\"\n", "name must be printable text on one line"),
     # look-alikes of a built-in name, and characters that are not printable text
     ("base = 'onnxruntime'\nname = 'sql-edge-2.0 '\n", "name must be a name of its own"),
     ("base = 'onnxruntime'\nname = \"sql-edge-2.0\\u200b\"\n", "name must be printable text"),
     ("base = 'onnxruntime'\nname = \"a\\ufffeb\"\n", "name must be printable text")],
)
def test_bad_target_files(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "t.toml"
    f.write_text(text)
    with pytest.raises(og.TargetError, match=match):
        og.targets.from_toml(f)


def test_a_target_file_that_is_a_folder_or_not_text_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(og.TargetError, match="is a folder"):
        og.targets.from_toml(tmp_path)
    f = tmp_path / "t.toml"
    f.write_bytes(b"name = '\xff\xfe'\n")
    with pytest.raises(og.TargetError, match="not UTF-8"):
        og.targets.from_toml(f)


def test_a_target_file_changes_only_what_it_names_and_is_not_called_its_base(tmp_path):
    # max_opset = {"" = 15} dropped sql-edge-2.0's ai.onnx.ml cap, and the report still said 'sql-edge-2.0'
    path = tmp_path / "edge-15.toml"
    path.write_text('base = "sql-edge-2.0"\nmax_opset = {"" = 15}\nsql_types = { float64 = "float(53)" }\n')
    profile = og.targets.from_toml(path)
    base = og.targets.get("sql-edge-2.0")
    assert dict(profile.max_opset) == {"": 15, "ai.onnx.ml": base.max_opset["ai.onnx.ml"]}
    assert dict(profile.sql_types) == {**base.sql_types, "float64": "float(53)"}
    assert profile.name == "sql-edge-2.0+edge-15"
    path.write_text('base = "sql-edge-2.0"\nname = "edge-at-15"\nmax_opset = {"" = 15}\n')
    assert og.targets.from_toml(path).name == "edge-at-15"


def test_a_name_made_from_the_file_name_is_checked_too(tmp_path: Path) -> None:
    # a file called x<ESC>[2Jy.toml made the target "onnxruntime+x<ESC>[2Jy": the escape reached the
    # console header and the JUnit file did not parse
    f = tmp_path / "x\x1b[2Jy.toml"
    f.write_text("base = 'onnxruntime'\n")
    with pytest.raises(og.TargetError, match="the name made from the file's name must be printable text"):
        og.targets.from_toml(f)


@pytest.mark.parametrize(("mapping", "says"), [
    # the Synapse documentation declares WITH (Score FLOAT) for a float32 output, but the same mapping types the
    # input table: PREDICT reads a float32 input from a real column only
    ('sql_types = { float32 = "float" }', r"sql_types\['float32'\] is 'float': PREDICT reads a float32 model input "
                                          r"only from a real column"),
    ('sql_types = { float64 = "real" }', r"float64 model input only from a float column"),
    ('sql_types = { string = "nchar(20)" }', r"string model input only from a char or nvarchar or varchar column"),
    ('input_types = ["bool", "float32"]\nsql_types = { bool = "int" }', r"PREDICT reads no bool model input"),
])
def test_a_sql_target_mapping_an_input_to_a_column_predict_does_not_read_is_refused(
        tmp_path: Path, mapping: str, says: str) -> None:
    # such a target wrote an input table the database refuses ("The type of model column 'a' is 'real'. Doesn't
    # match the input column type"), and the package's own dry run passed it
    path = tmp_path / "mine.toml"
    path.write_text(f'base = "synapse"\nname = "mine"\n{mapping}\n')
    with pytest.raises(og.TargetError, match=says):
        og.targets.from_toml(path)


def test_a_sql_target_may_map_a_type_it_takes_only_as_an_output_as_it_likes(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('base = "synapse"\nname = "mine"\ninput_types = ["float64"]\nsql_types = { float32 = "float" }\n')
    assert og.targets.from_toml(path).sql_type("float32") == "float"
    # float(24) is real and float(53) float in T-SQL: PREDICT reads them as such
    path.write_text('base = "synapse"\nname = "mine"\nsql_types = { float32 = "float(24)", float64 = "float(53)" }\n')
    assert og.targets.from_toml(path).sql_type("float32") == "float(24)"


def test_a_target_that_checks_nothing_is_refused() -> None:
    # validated against it, every model passed: "PASSED: 0 checks passed"
    with pytest.raises(og.TargetError, match=r"target 'none' checks nothing: .* leave checks out for the default "
                                             r"\['model_wellformed', 'operators_supported'\]"):
        Target(name="none", description="x", checks=())
    # a rule the target sets brings its check: not nothing
    assert Target(name="capped", description="x", checks=(), max_ir_version=8).checks == ("ir_version_within_caps",)

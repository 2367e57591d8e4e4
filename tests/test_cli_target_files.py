"""``--target-file`` that is not a target: each case is one line on stderr saying what was expected, what was
found and what to write instead, exit 2, no traceback. Before, a JSON file was "not valid TOML: Invalid statement",
a misspelt field listed the known ones without a fix, ``input_types = ["floaty"]`` was taken (and then failed every
model's float32 input), a ``[other]`` table beside ``[target]`` was read as nothing, and ``base = "sql-edge-2"``
was "unknown target ... Define your own with Target(...)", naming neither the file nor the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx import TensorProto, helper

from onnxgate.cli import main


def _identity(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    path.write_bytes(model.SerializeToString())
    return path


_CASES: list[tuple[str, str | bytes | None, list[str]]] = [
    ("missing.toml", None, ["target file not found: 'missing.toml'", "Check the path"]),
    ("t.json", '{"base": "sql-edge-2.0"}', ["is not valid TOML", "It looks like JSON: a target file is TOML",
                                             'base = "sql-edge-2.0"']),
    ("cut.toml", "name = [1\n", ["is not valid TOML: Unclosed array", "Fix that line"]),
    ("latin1.toml", b"name = '\xe9'\n", ["is not UTF-8 text", "save it as UTF-8 text"]),
    ("empty.toml", "", ["needs a 'name' (or a 'base' to start from), found neither",
                        'add name = "my-target"', 'or base = "sql-edge-2.0"']),
    ("typo.toml", 'name = "x"\nmax_opst = { "" = 13 }\n', ["unknown fields ['max_opst']",
                                                          "(did you mean 'max_opset'?)", "correct or remove them"]),
    ("beside.toml", '[target]\nname = "x"\n[extra]\nmax_opset = 3\n',
     ["has 'extra' beside its [target] table", "move the fields under the [target] line"]),
    ("above.toml", 'max_ir_version = 7\n[target]\nbase = "synapse"\n', ["has 'max_ir_version' beside its [target]"]),
    ("scalar.toml", "target = 3\n", ["'target' must be a table, found 3", "write the fields under a [target] line"]),
    ("int.toml", 'name = "x"\nmax_opset = 13\n', ["max_opset must be a table of domain = opset (1 or more), found 13",
                                                 'write it as, e.g., max_opset = { "" = 15']),
    ("str.toml", 'name = "x"\nmax_ir_version = "8"\n', ["max_ir_version must be a positive integer, found '8'",
                                                       "write it as, e.g., max_ir_version = 8"]),
    ("bool.toml", 'name = "x"\nallow_nan = "no"\n', ["allow_nan must be true or false", "allow_nan = true"]),
    ("types.toml", 'name = "x"\ninput_types = ["float32", "floaty"]\n',
     ["input_types names 'floaty', which is not an element type", "correct or remove it"]),
    ("checks.toml", 'name = "x"\nchecks = ["opset_within_cap"]\n',
     ["checks names 'opset_within_cap', which is not a check (did you mean 'opset_within_caps'?)"]),
    ("base.toml", 'base = "sql-edge-2"\n', ["base = 'sql-edge-2' is no known target (did you mean 'sql-edge-2.0'?)",
                                           "give base one of ['container'"]),
    ("sqlkey.toml", 'base = "synapse"\nsql_types = { float = "real" }\n',
     ["sql_types has the key 'float', which is not an element type a SQL column holds", "correct or remove it"]),
]


@pytest.mark.parametrize(("name", "body", "says"), _CASES, ids=[case[0] for case in _CASES])
def test_a_bad_target_file_is_one_line_with_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        name: str, body: str | bytes | None, says: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    if isinstance(body, bytes):
        Path(name).write_bytes(body)
    elif body is not None:
        Path(name).write_text(body)
    model = _identity(tmp_path / "m.onnx")
    for argv in (["validate", str(model)], ["package", str(model), "-o", "pkg"]):
        assert main([*argv, "--target-file", name]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        for part in says:
            assert part in err, err
    assert not Path("pkg").exists()


def test_a_target_file_as_its_message_says_to_write_it_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # the fixes the messages give, written as they say, are a target: the identity model at opset 13 fails max 11
    monkeypatch.chdir(tmp_path)
    Path("t.toml").write_text('[target]\nbase = "sql-edge-2.0"\nmax_opset = { "" = 11 }\n'
                              'input_types = ["float32", "int64"]\nchecks = ["opset_within_caps"]\nallow_nan = true\n')
    assert main(["validate", str(_identity(tmp_path / "m.onnx")), "--target-file", "t.toml"]) == 1
    assert "ai.onnx opset 13 > 11" in capsys.readouterr().out

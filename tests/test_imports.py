"""``import onnxgate`` and ``onnxgate --help`` must not pay for frameworks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "tensorflow", "keras", "sklearn", "skl2onnx", "tf2onnx", "pandas", "onnxruntime")


def _loaded_after(code: str) -> list[str]:
    probe = f"""
import sys, json
{code}
print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_onnxgate_loads_no_framework() -> None:
    assert _loaded_after("import onnxgate") == []


def test_touching_registries_loads_no_framework() -> None:
    code = "import onnxgate as og; og.zoo.names(); og.targets.names(); og.converters = None"
    assert _loaded_after(code) == []


def test_cli_help_loads_no_framework() -> None:
    code = (
        "from onnxgate.cli import build_parser\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        build_parser().parse_args(['--help'])\n"
        "    except SystemExit:\n"
        "        pass"
    )
    assert _loaded_after(code) == []


@pytest.mark.parametrize("name", ["OnnxGateError", "OpsetError", "InvalidModelError", "ParityError",
                                  "UnsupportedModelError", "InvalidDataError", "ValidationFailedError"])
def test_errors_importable_from_root(name: str) -> None:
    import onnxgate as og
    from onnxgate import errors

    assert getattr(og, name) is getattr(errors, name)
    assert issubclass(getattr(og, name), og.OnnxGateError)


def test_errors_inherit_the_builtin_a_caller_catches() -> None:
    import onnxgate as og

    assert issubclass(og.OpsetError, ValueError)
    assert issubclass(og.UnsupportedModelError, TypeError)
    assert issubclass(og.InvalidModelError, ValueError)
    assert issubclass(og.ParityError, AssertionError)
    err = og.OpsetError("too high", opset=99, framework="sklearn", max_opset=22)
    assert (err.opset, err.framework, err.max_opset) == (99, "sklearn", 22)


def test_unknown_attribute_is_an_attribute_error() -> None:
    import onnxgate as og

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        og.nope  # noqa: B018


def test_validate_without_reference_compiles_only_what_it_runs(tmp_path: Path) -> None:
    # `onnxgate validate m.onnx --target T` checks the model alone: parity, the search, the data readers, the
    # adaptation rewrite and the other commands are not run, and importing them was a third of its start-up
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), model)
    unused = ["onnxgate.validators.parity", "onnxgate.validators.search.check", "onnxgate._data",
              "onnxgate.adaptation.entry", "onnxgate._commands.score", "onnxgate._commands.package"]
    probe = f"""
import sys, json
from onnxgate.cli import main
code = main(["validate", {str(model)!r}, "--target", "sql-edge-2.0"])
print(json.dumps([code, sorted(m for m in {unused!r} if m in sys.modules)]))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, []]


@pytest.mark.parametrize(("package", "module"), [("onnxgate.validators", "parity"),
                                                 ("onnxgate.validators.search", "engine"),
                                                 ("onnxgate.adaptation", "rewrite")])
def test_a_lazy_package_reaches_its_modules_as_attributes(package: str, module: str) -> None:
    # while these packages imported their modules themselves, `import onnxgate.validators` then
    # `onnxgate.validators.parity.DEFAULT_TOLERANCES` worked (docs/report-schema.md names it so); once they named
    # their members lazily it raised AttributeError
    probe = f"""
import importlib, json
package = importlib.import_module({package!r})
print(json.dumps([getattr(package, {module!r}).__name__, hasattr(package, "no_such_module")]))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [f"{package}.{module}", False]

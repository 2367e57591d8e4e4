"""``import onnxgate`` and ``onnxgate --help`` must not pay for frameworks."""

from __future__ import annotations

import json
import subprocess
import sys

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

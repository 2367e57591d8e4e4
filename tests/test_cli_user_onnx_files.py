"""``onnxgate validate FILE`` on ONNX files onnxgate did not write: the verdict per target is what the target's
runtime does with the file (built here, in tmp_path, as the exporters users bring write them)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxgate.cli import main


def _local_function_model(*, function_opset=17, model_opset=17, ir_version=8):
    """Y = X * 3 through a model-local function ``local.Triple`` (what torch's exporters write for a module
    exported as a function), inputs and outputs [N,1] float32 as PREDICT reads them."""
    three = numpy_helper.from_array(np.array(3.0, dtype=np.float32))
    function = helper.make_function(
        "local", "Triple", ["x"], ["y"],
        [helper.make_node("Constant", [], ["c"], value=three), helper.make_node("Mul", ["x", "c"], ["y"])],
        opset_imports=[helper.make_opsetid("", function_opset)],
    )
    graph = helper.make_graph(
        [helper.make_node("Triple", ["X"], ["Y"], domain="local", name="triple")], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
    )
    model = helper.make_model(graph, functions=[function],
                              opset_imports=[helper.make_opsetid("", model_opset), helper.make_opsetid("local", 1)])
    model.ir_version = ir_version
    return model


def _validate(capsys, path, target):
    code = main(["validate", str(path), "--target", target])
    return code, capsys.readouterr().out


def test_a_model_local_function_passes_where_the_runtime_reads_them(tmp_path, capsys):
    path = tmp_path / "triple.onnx"
    path.write_bytes(_local_function_model().SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.run(None, {"X": np.ones((2, 1), np.float32)})[0].tolist() == [[3.0], [3.0]]
    # onnxruntime 1.12 (SQL Edge 2.0) reads model-local functions (IR 8, onnxruntime 1.9 on); the file's
    # own domain is no runtime's operator set: it was refused as "not available there"
    code, out = _validate(capsys, path, "sql-edge-2.0")
    assert code == 0, out
    assert "not available there" not in out
    assert "all 2 nodes exist at the target's opsets" in out  # the function's Constant and Mul, checked


def test_a_function_importing_a_newer_opset_than_the_target_has_fails(tmp_path, capsys):
    # the checker takes a function importing ai.onnx 18 in a model stamped 17; its nodes resolve at 18
    path = tmp_path / "triple18.onnx"
    path.write_bytes(_local_function_model(function_opset=18).SerializeToString())
    code, out = _validate(capsys, path, "sql-edge-2.0")
    assert code == 1, out
    assert "ai.onnx opset 18 > 17 (imported by function local.Triple)" in out


def test_model_local_functions_fail_where_the_runtime_reads_ir_7(tmp_path, capsys):
    # stamped IR 7 with functions: onnxruntime 1.32 runs it, SQL Edge 1.0's 1.5.3 ignores the functions
    path = tmp_path / "triple_ir7.onnx"
    path.write_bytes(_local_function_model(model_opset=12, function_opset=12, ir_version=7).SerializeToString())
    code, out = _validate(capsys, path, "sql-edge-1.0")
    assert code == 1, out
    assert "domain 'local' holds the model's own functions, which a runtime reads from IR version 8 on" in out
    assert "inline_local_functions" in out


@pytest.mark.parametrize("target", ["sql-edge-1.0", "sql-edge-2.0"])
def test_a_function_node_newer_than_the_target_opset_is_named(tmp_path, capsys, target):
    path = tmp_path / "triple.onnx"
    path.write_bytes(_local_function_model().SerializeToString())
    code, out = _validate(capsys, path, target)
    if target == "sql-edge-2.0":
        assert code == 0, out
    else:
        assert code == 1
        assert "'local.Triple/<unnamed>' (Mul) needs ai.onnx opset 14 > 12" in out


def _bfloat16_identity():
    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])], "g",
        [helper.make_tensor_value_info("X", TensorProto.BFLOAT16, ["N", 1])],
        [helper.make_tensor_value_info("Y", TensorProto.BFLOAT16, ["N", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


@pytest.mark.parametrize("target", ["container", "mlflow"])
def test_a_bfloat16_model_fails_the_serving_targets_their_package_refuses(tmp_path, capsys, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "half.onnx"
    path.write_bytes(_bfloat16_identity().SerializeToString())
    # onnxruntime loads it, but a JSON service holds its values in numpy, which has no bfloat16: validate
    # passed it for the container, then `onnxgate package` refused it (exit 2)
    code, out = _validate(capsys, path, target)
    assert code == 1, out
    assert "'X' is bfloat16 (use float32)" in out and "'Y' is bfloat16 (use float32)" in out
    assert main(["package", str(path), "--target", target, "-o", "pkg"]) != 0
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize("target", ["sql-edge-2.0", "synapse"])
def test_a_bfloat16_model_fails_the_sql_targets_with_a_report(tmp_path, capsys, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "half.onnx"
    path.write_bytes(_bfloat16_identity().SerializeToString())
    # the row probe could not feed bfloat16 and raised: exit 2, no report, --json not written
    code = main(["validate", str(path), "--target", target, "--json", "report.json"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "'X' is bfloat16 (use float32)" in out and "'Y' is bfloat16 (use float32)" in out
    report = json.loads((tmp_path / "report.json").read_text())
    rows = next(c for c in report["checks"] if c["name"] == "outputs_one_value_per_row")
    assert rows["details"]["rows"]["declared_unrun"] == ("input 'X' is bfloat16, which numpy cannot hold, so "
                                                         "onnxgate cannot feed it")


NUMPYLESS = {"float8e4m3fn": (TensorProto.FLOAT8E4M3FN, 19, 9), "float8e5m2": (TensorProto.FLOAT8E5M2, 19, 9),
             "int4": (TensorProto.INT4, 21, 10), "uint4": (TensorProto.UINT4, 21, 10)}


@pytest.mark.parametrize("target", ["sql-edge-2.0", "container"])
@pytest.mark.parametrize("kind", NUMPYLESS)
def test_float8_and_int4_models_fail_naming_their_type(tmp_path, capsys, monkeypatch, kind, target):
    monkeypatch.chdir(tmp_path)
    code_, opset, ir_version = NUMPYLESS[kind]
    graph = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", code_, ["N", 1])],
                              [helper.make_tensor_value_info("Y", code_, ["N", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    path = tmp_path / f"{kind}.onnx"
    path.write_bytes(model.SerializeToString())
    # for SQL the row probe raised TypeError "data type 'elem17' not understood" (exit 2, no report); every
    # report named the type 'elem17'
    code = main(["validate", str(path), "--target", target, "--json", "report.json"])
    out = capsys.readouterr().out
    assert code == 1, out
    fix = "int32" if "int" in kind else "float32"
    assert f"'X' is {kind} (use {fix})" in out and f"'Y' is {kind} (use {fix})" in out
    assert "'X' is elem" not in out
    assert (tmp_path / "report.json").exists()


def _sparse_model():
    """Y = X * w + b + z with w, b and z sparse initializers ([1,1]; w's index flat, b's a coordinate, z no
    value at all), as a pruning tool writes them."""
    def sparse(name, values, indices, index_shape):
        return helper.make_sparse_tensor(
            numpy_helper.from_array(np.array(values, dtype=np.float32), name),
            numpy_helper.from_array(np.array(indices, dtype=np.int64).reshape(index_shape), f"{name}_index"), [1, 1])

    graph = helper.make_graph(
        [helper.make_node("Mul", ["X", "w"], ["t"], name="mul"), helper.make_node("Add", ["t", "b"], ["u"], name="add"),
         helper.make_node("Add", ["u", "z"], ["Y"], name="add_z")], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
        sparse_initializer=[sparse("w", [2.0], [0], (1,)), sparse("b", [0.5], [0, 0], (1, 2)),
                            sparse("z", [], [], (0,))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    return model


def test_a_model_with_sparse_initializers_is_well_formed_and_left_as_it_is(tmp_path, capsys):
    path = tmp_path / "sparse.onnx"
    path.write_bytes(_sparse_model().SerializeToString())
    before = path.read_bytes()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.run(None, {"X": np.array([[1.0], [3.0]], np.float32)})[0].tolist() == [[2.5], [6.5]]
    # strict shape inference typed 'w' sparse_tensor(float): "the model breaks the ONNX spec", exit 1
    code, out = _validate(capsys, path, "onnxruntime")
    assert code == 0, out
    assert "ONNX checker and strict shape inference pass" in out
    assert path.read_bytes() == before


@pytest.mark.parametrize("target", ["sql-edge-1.0", "synapse", "sql-edge-2.0"])
def test_a_sql_package_holds_sparse_initializers_dense_and_says_so(tmp_path, capsys, monkeypatch, target):
    import onnx

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "sparse.onnx"
    path.write_bytes(_sparse_model().SerializeToString())
    assert main(["package", str(path), "--target", target, "-o", "pkg"]) == 0
    err = capsys.readouterr().err
    assert "note: model.onnx holds the sparse initializers w, b, z as dense tensors (same values)" in err
    packaged = onnx.load(str(tmp_path / "pkg" / "model.onnx"))
    # SQL Edge 1.0's onnxruntime 1.5.3 predates sparse initializers (onnxruntime 1.6)
    assert len(packaged.graph.sparse_initializer) == 0
    dense = {t.name: numpy_helper.to_array(t).tolist() for t in packaged.graph.initializer}
    assert dense == {"w": [[2.0]], "b": [[0.5]], "z": [[0.0]]}
    readme = (tmp_path / "pkg" / "README.md").read_text()
    assert "holds the sparse initializers `w`, `b`, `z` as dense tensors" in readme
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    assert manifest["sql"]["densified_sparse_initializers"] == ["w", "b", "z"]
    X = np.array([[1.0], [3.0], [-2.0]], np.float32)
    packaged_session = ort.InferenceSession(str(tmp_path / "pkg" / "model.onnx"), providers=["CPUExecutionProvider"])
    user_session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert packaged_session.run(None, {"X": X})[0].tolist() == user_session.run(None, {"X": X})[0].tolist()


def _huge_sparse_model():
    """Y = X + w[0, 0] with w a sparse initializer of shape [10**9, 10**9] holding one value: 4e18 bytes dense."""
    huge = helper.make_sparse_tensor(numpy_helper.from_array(np.array([1.0], np.float32), "w"),
                                     numpy_helper.from_array(np.array([[0, 0]], np.int64), "w_index"), [10**9, 10**9])
    start = numpy_helper.from_array(np.array([0, 0], np.int64), "start")
    graph = helper.make_graph(
        [helper.make_node("Slice", ["w", "start", "start_1"], ["corner"], name="corner"),
         helper.make_node("Add", ["X", "corner"], ["Y"], name="add")], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])],
        initializer=[start, numpy_helper.from_array(np.array([1, 1], np.int64), "start_1")],
        sparse_initializer=[huge],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


@pytest.mark.parametrize("target", ["sql-edge-2.0", "synapse", "container"])
def test_a_sparse_initializer_too_large_dense_is_a_failed_check_on_every_target(tmp_path, capsys, monkeypatch,
                                                                                target):
    import onnxgate as og
    from onnxgate.errors import ValidationFailedError

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "huge.onnx"
    path.write_bytes(_huge_sparse_model().SerializeToString())
    # the SQL packager densified it before validating: "onnxgate package: error: sparse initializer 'w' ... no
    # runtime holds it (...)", exit 2 and no fix, where the container target refused it with a failed check
    code = main(["package", str(path), "--target", target, "-o", "pkg"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    wellformed = next(line for line in captured.err.splitlines() if "model_wellformed" in line)
    assert wellformed.startswith("FAILED")
    assert ("sparse initializer 'w' of shape [1000000000, 1000000000] is 4,000,000,000,000,000,000 bytes dense "
            "(onnxruntime densifies sparse initializers when it loads a file), more than the 2,147,483,647 bytes "
            "(2 GiB) onnxgate can check and package") in wellformed
    assert wellformed.endswith("Re-export it with a converter that writes valid ONNX.")
    assert f"refused: the model fails target {target!r}; nothing was written" in captured.err
    assert not (tmp_path / "pkg").exists() or not any((tmp_path / "pkg").iterdir())
    with pytest.raises(ValidationFailedError, match="model_wellformed") as raised:
        og.package(str(path), target=target, out="pkg2")
    assert not raised.value.report.check("model_wellformed").passed


def test_sparse_initializers_are_densified_by_flat_and_coordinate_indices():
    from onnxgate._onnx import densify_sparse_initializers

    matrix = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 3.0]], dtype=np.float32)
    rows, cols = np.nonzero(matrix)
    values = numpy_helper.from_array(matrix[rows, cols], "m")
    for indices in (np.ravel_multi_index((rows, cols), matrix.shape), np.column_stack([rows, cols])):
        sparse = helper.make_sparse_tensor(values, numpy_helper.from_array(indices.astype(np.int64), "i"), [2, 3])
        graph = helper.make_graph([helper.make_node("MatMul", ["X", "m"], ["Y"])], "g",
                                  [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 2])],
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 3])],
                                  sparse_initializer=[sparse])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
        dense = densify_sparse_initializers(model)
        assert len(model.graph.sparse_initializer) == 1  # the model given is left alone
        assert len(dense.graph.sparse_initializer) == 0
        np.testing.assert_array_equal(numpy_helper.to_array(dense.graph.initializer[0]), matrix)


def test_adapting_a_model_with_local_functions_below_ir_8_inlines_them(tmp_path, capsys, monkeypatch):
    import onnx

    import onnxgate as og

    monkeypatch.chdir(tmp_path)
    model = _local_function_model(model_opset=12, function_opset=12, ir_version=8)
    # stamped IR 7 with its functions kept: a file no runtime reads, that validate then failed
    adapted = og.adapt(model, "sql-edge-1.0")
    assert adapted.ir_version == 7 and len(adapted.functions) == 0
    assert [n.op_type for n in adapted.graph.node] == ["Constant", "Mul"]
    assert [o.domain for o in adapted.opset_import] == [""]
    onnx.checker.check_model(adapted, full_check=True)
    assert og.validate(adapted, target="sql-edge-1.0").passed
    session = ort.InferenceSession(adapted.SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.run(None, {"X": np.array([[1.5], [2.0]], np.float32)})[0].tolist() == [[4.5], [6.0]]
    path = tmp_path / "triple.onnx"
    path.write_bytes(model.SerializeToString())
    assert main(["package", str(path), "--target", "sql-edge-1.0", "--adapt", "-o", "pkg"]) == 0
    assert "local.Triple inlined into the graph" in capsys.readouterr().err


def test_local_functions_read_at_another_opset_are_not_inlined():
    import onnxgate as og
    from onnxgate.errors import OpsetError

    function = helper.make_function("local", "Sine", ["x"], ["y"], [helper.make_node("Sin", ["x"], ["y"])],
                                    opset_imports=[helper.make_opsetid("", 13)])
    graph = helper.make_graph([helper.make_node("Sine", ["X"], ["Y"], domain="local", name="sine")], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 1])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])])
    model = helper.make_model(graph, functions=[function],
                              opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("local", 1)])
    model.ir_version = 8
    with pytest.raises(OpsetError, match=r"cannot be inlined into its graph as they are: local.Sine imports "
                                         r"ai.onnx 13, the model 12"):
        og.adapt(model, "sql-edge-1.0")


def _affine_model(*, ir_version, opset, unsorted=False, initializers_as_inputs=False):
    """y = x @ W + B, [N,1] float32, W = 2 and B = 1 as initializers; ``unsorted``: the Add written before the MatMul
    it reads (some exporters write nodes out of order); ``initializers_as_inputs``: W and B listed as graph inputs."""
    nodes = [helper.make_node("MatMul", ["x", "W"], ["t"], name="mm"), helper.make_node("Add", ["t", "B"], ["y"],
                                                                                           name="add")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])]
    if initializers_as_inputs:
        inputs += [helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1]),
                   helper.make_tensor_value_info("B", TensorProto.FLOAT, [1])]
    graph = helper.make_graph(
        nodes[::-1] if unsorted else nodes, "affine", inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(np.array([[2.0]], np.float32), "W"),
         numpy_helper.from_array(np.array([1.0], np.float32), "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


LAYOUTS = {
    "nodes-out-of-order": (dict(ir_version=7, opset=12, unsorted=True),
                           "nodes were not in topological order (node 'add' read 't' before node 'mm' wrote it); "
                           "onnxgate sorted them"),
    "ir3-initializers-not-inputs": (dict(ir_version=3, opset=8),
                                    "IR version 3 lists every initializer as a graph input and 'W', 'B' were not; "
                                    "onnxgate listed them"),
}


@pytest.mark.parametrize("target", ["container", "sql-edge-1.0", "synapse"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_layout_onnxruntime_runs_is_packaged_repaired_and_says_so(tmp_path, capsys, monkeypatch, layout, target):
    import onnx

    monkeypatch.chdir(tmp_path)
    build, repair = LAYOUTS[layout]
    path = tmp_path / "affine.onnx"
    path.write_bytes(_affine_model(**build).SerializeToString())
    x = np.array([[3.0], [-1.0]], np.float32)
    given = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    # the ONNX checker refused the file and onnxgate with it ("Re-export it"), though every runtime runs it
    code = main(["package", str(path), "--target", target, "-o", "pkg"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert f"note: model.onnx is the file given, repaired: {repair}" in captured.err
    packaged = onnx.load(str(tmp_path / "pkg" / "model.onnx"))
    onnx.checker.check_model(packaged, full_check=True)
    answers = ort.InferenceSession(packaged.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(answers[0], given, rtol=1e-6)
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    assert [i["name"] for i in manifest["signature"]["inputs"]] == ["x"]  # W and B stay weights, never columns
    assert any(repair in r for r in manifest["model"]["repairs"])
    # each hash names its file: model.sha256 the packaged (repaired) file's, validation.model_sha256 the file given's,
    # which the validation report names (the manifest held only the first, beside a report naming the second)
    given, packaged = (hashlib.sha256(f.read_bytes()).hexdigest() for f in (path, tmp_path / "pkg" / "model.onnx"))
    assert given != packaged
    assert manifest["model"]["sha256"] == packaged and manifest["validation"]["model_sha256"] == given
    assert f"model.onnx's sha256 is {packaged} (manifest model.sha256), not the file given's, {given}" in captured.err
    assert "`validation.model_sha256`" in (tmp_path / "pkg" / "README.md").read_text()
    if target != "container":
        table = (tmp_path / "pkg" / "03_create_input_table.sql").read_text()
        assert "[x] real" in table and "[W]" not in table and "[B]" not in table


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_validate_passes_a_layout_onnxruntime_runs_and_names_the_repair(tmp_path, capsys, layout):
    build, repair = LAYOUTS[layout]
    path = tmp_path / "affine.onnx"
    path.write_bytes(_affine_model(**build).SerializeToString())
    code, out = _validate(capsys, path, "onnxruntime")
    assert code == 0, out
    assert "once repaired: " + repair[:40] in out


def test_nodes_reading_each_other_in_a_cycle_still_fail_wellformed(tmp_path, capsys):
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["a"], name="one"), helper.make_node("Relu", ["a"], ["b"], name="two")],
        "cycle", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    path = tmp_path / "cycle.onnx"
    path.write_bytes(model.SerializeToString())
    code, out = _validate(capsys, path, "onnxruntime")
    assert code == 1, out
    assert "FAILED   model_wellformed" in out and "topologically sorted" in out


def test_an_input_declared_two_to_the_forty_wide_is_refused_in_one_line_for_the_container(tmp_path, capsys,
                                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="r")], "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2**40])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2**40])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    (tmp_path / "wide.onnx").write_bytes(model.SerializeToString())
    # numpy was asked for a 4 TiB row of zeros: "unexpected MemoryError ... please report it"
    code = main(["package", "wide.onnx", "--target", "container", "-o", "pkg"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "input 'x' is declared [N,1099511627776]: one row holds 1,099,511,627,776 values" in err
    assert "MemoryError" not in err and "Export the model with the input's real size" in err
    assert not (tmp_path / "pkg").exists()


def _branch(name, *, unsorted=False, initializer=False):
    """``{name}_y = |-x|`` (or ``x * 2`` from an initializer): an If branch reading the outer scope's x."""
    if initializer:
        nodes = [helper.make_node("Mul", ["x", f"{name}_k"], [f"{name}_y"], name=f"{name}_mul")]
        inits = [numpy_helper.from_array(np.array([2.0], np.float32), f"{name}_k")]
    else:
        nodes = [helper.make_node("Neg", ["x"], [f"{name}_t"], name=f"{name}_neg"),
                 helper.make_node("Abs", [f"{name}_t"], [f"{name}_y"], name=f"{name}_abs")]
        inits = []
    return helper.make_graph(nodes[::-1] if unsorted else nodes, name, [],
                             [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, ["N", 1])], inits)


@pytest.mark.parametrize(("layout", "ir_version", "opset", "said"), [
    ("subgraph-nodes-out-of-order", 7, 13, "topologically sorted"),
    ("ir3-subgraph-initializers-not-inputs", 3, 8, "in initializer but not in graph input"),
])
def test_a_layout_onnxruntime_refuses_in_a_subgraph_fails_wellformed_as_onnxruntime_does(
        tmp_path, capsys, layout, ir_version, opset, said):
    # repair_layout sorted an If branch's nodes (listed its initializers as inputs) too, and model_wellformed
    # passed "once repaired ... (a package holds the repaired file)": onnxruntime refuses the file given, and no
    # package could be made of it
    initializer = layout.startswith("ir3")
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], name="if", then_branch=_branch("then", unsorted=True,
                                                                             initializer=initializer),
                          else_branch=_branch("else", initializer=initializer))],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1]),
              helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    path = tmp_path / "branchy.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(Exception, match=said):
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    code, out = _validate(capsys, path, "onnxruntime")
    assert code == 1, out
    assert "once repaired" not in out and "FAILED   model_wellformed" in out and said in out, out
    assert "FAILED   operators_supported" in out

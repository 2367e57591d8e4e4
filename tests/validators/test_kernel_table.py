"""A SQL target's own onnxruntime (SQL Edge 1.0: 1.5.3, 2.0: 1.12.1, Synapse: assumed 1.5) lacks kernels the installed
one has: a node it has no CPU kernel for in the file's types fails the target's operators_supported check, though
onnxruntime here loads the file (the database refused it at PREDICT time)."""

from __future__ import annotations

from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

import onnxgate as og
from onnxgate.validators import structure
from onnxgate.validators.report import CheckResult


def _one_node(op: str, elem: int, *, out_elem: int | None = None) -> onnx.ModelProto:
    """``[N,1]`` column in, ``op`` on it, one ``[N,1]`` output, at opset 12: a file as a SQL target takes it."""
    node = helper.make_node(op, ["x"], ["y"], name=f"{op.lower()}_node")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, ["N", 1])],
                              [helper.make_tensor_value_info("y", out_elem or elem, ["N", 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


def _where(elem: int) -> onnx.ModelProto:
    """``Where(x > 0, x, -x)`` on a column of ``elem``."""
    x = helper.make_tensor_value_info("x", elem, ["N", 1])
    zero = helper.make_tensor("zero", elem, [], [0])
    nodes = [helper.make_node("Greater", ["x", "zero"], ["positive"], name="greater_node"),
             helper.make_node("Neg", ["x"], ["minus"], name="neg_node"),
             helper.make_node("Where", ["positive", "x", "minus"], ["y"], name="where_node")]
    graph = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", elem, ["N", 1])], [zero])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


def _supported(model: onnx.ModelProto, target: str) -> CheckResult:
    return structure.check_operators_supported(model, og.targets.get(target))


@pytest.mark.parametrize(("op", "target"), [("Log", "sql-edge-1.0"), ("Sigmoid", "sql-edge-1.0"),
                                            ("Tanh", "synapse")])
def test_a_double_operator_the_target_runtime_lacks_fails_it_naming_node_type_runtime_and_fix(op: str,
                                                                                              target: str) -> None:
    result = _supported(_one_node(op, TensorProto.DOUBLE), target)
    assert not result.passed
    assert f"'{op.lower()}_node' ({op}-6, T=double)" in result.message
    assert "onnxruntime 1.5" in result.message and "PREDICT" in result.message
    assert "--precision float32" in result.message
    assert result.details["offenders"][0]["types"] == {"T": "double"}
    # the installed onnxruntime (1.32) has the kernel: the plain target passes the same file
    assert _supported(_one_node(op, TensorProto.DOUBLE), "onnxruntime").passed
    # and the float32 twin passes every SQL target
    for sql in ("sql-edge-1.0", "sql-edge-2.0", "synapse"):
        assert _supported(_one_node(op, TensorProto.FLOAT), sql).passed, sql


def test_a_double_where_fails_sql_edge_1_0_only_and_names_only_that_node() -> None:
    result = _supported(_where(TensorProto.DOUBLE), "sql-edge-1.0")
    assert not result.passed
    assert [o["node"] for o in result.details["offenders"]] == ["where_node"]  # Greater and Neg take double there
    assert "B=bool, T=double" in result.message
    assert _supported(_where(TensorProto.DOUBLE), "sql-edge-2.0").passed  # 1.12.1 has a double Where
    assert _supported(_where(TensorProto.FLOAT), "sql-edge-1.0").passed


def test_a_double_isnan_fails_sql_edge_2_0_whose_runtime_lacks_it_too() -> None:
    model = _one_node("IsNaN", TensorProto.DOUBLE, out_elem=TensorProto.BOOL)
    result = _supported(model, "sql-edge-2.0")
    assert not result.passed
    assert "onnxruntime 1.12.1" in result.message and "IsNaN-9, T1=double, T2=bool" in result.message
    assert _supported(model, "onnxruntime").passed


def test_validate_fails_the_target_and_a_profile_naming_a_runtime_without_a_table_is_not_held_to_one() -> None:
    model = _one_node("Log", TensorProto.DOUBLE)
    assert "operators_supported" in [c.name for c in og.validate(model, target="sql-edge-1.0").failures]
    later = og.targets.get("sql-edge-1.0").with_(name="edge-ort-1-32", runtime="onnxruntime 1.32.0")
    assert structure.check_operators_supported(model, later).passed


def test_parity_still_runs_when_only_the_target_runtime_lacks_a_kernel() -> None:
    # onnxruntime here loads the file: the report says what the target refuses and whether the answers are right
    import numpy as np

    model = _one_node("Log", TensorProto.DOUBLE)
    data = np.linspace(0.5, 4.0, 20).reshape(-1, 1)
    report = og.validate(model, target="sql-edge-1.0", reference=model, data=data)
    assert [c.name for c in report.failures] == ["operators_supported"]
    assert report.check("prediction_parity").passed


def _recurrent(op: str, elem: int) -> onnx.ModelProto:
    """A one-layer ``op`` (hidden size 2) over ``[T, N, 3]`` rows of ``elem``, its weights in the file, at opset 12."""
    import numpy as np
    from onnx import numpy_helper

    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    dtype = np.float64 if elem == TensorProto.DOUBLE else np.float32
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=(1, gates * 2, k)).astype(dtype), name)
               for name, k in (("W", 3), ("R", 2))]
    node = helper.make_node(op, ["x", "W", "R"], ["y"], hidden_size=2, name=f"{op.lower()}_node")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, ["T", "N", 3])],
                              [helper.make_tensor_value_info("y", elem, ["T", 1, "N", 2])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_a_double_lstm_or_gru_fails_every_sql_target_whose_runtime_refuses_double_when_it_runs(op: str) -> None:
    # onnxruntime 1.5.2 and 1.12.1 (and the installed one) make a session of a double LSTM or GRU and refuse it when
    # it runs ("LSTM operator does not support double yet"): the table now lists it, probed by running it
    for sql in ("sql-edge-1.0", "sql-edge-2.0", "synapse"):
        result = _supported(_recurrent(op, TensorProto.DOUBLE), sql)
        assert not result.passed, sql
        assert f"'{op.lower()}_node' ({op}-7, T=double)" in result.message
        assert _supported(_recurrent(op, TensorProto.FLOAT), sql).passed, sql


def test_an_int64_split_to_sequence_fails_sql_edge_1_0_whose_runtime_lacks_it_and_passes_2_0() -> None:
    node = helper.make_node("SplitToSequence", ["x"], ["parts"], axis=1, name="split_node")
    at = helper.make_node("SequenceAt", ["parts", "zero"], ["y"], name="at_node")
    graph = helper.make_graph([node, at], "g", [helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, ["N", 1])],
                              [helper.make_tensor("zero", TensorProto.INT64, [], [0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)
    result = _supported(model, "sql-edge-1.0")
    assert not result.passed
    assert [o["node"] for o in result.details["offenders"]] == ["split_node"]
    assert "SplitToSequence-11, T=int64, S=seq(int64)" in result.message
    assert _supported(model, "sql-edge-2.0").passed  # 1.12.1 has an int64 one


@pytest.mark.parametrize(("op", "version", "domain"), [
    ("If", 11, ""), ("If", 13, ""), ("If", 16, ""), ("Loop", 11, ""), ("Loop", 16, ""), ("Scan", 8, ""),
    ("Scan", 11, ""), ("SequenceMap", 17, ""), ("Optional", 15, ""), ("OptionalGetElement", 15, ""),
    ("SequenceConstruct", 11, ""), ("SequenceEmpty", 11, ""), ("SplitToSequence", 11, ""),
    ("MeanVarianceNormalization", 13, ""), ("LSTM", 14, ""), ("ZipMap", 1, "ai.onnx.ml")])
def test_the_kernel_table_generator_probes_control_flow_sequences_and_optionals(op: str, version: int,
                                                                              domain: str) -> None:
    # the generator skipped them (no one-node model): the table said nothing of If, Loop, Scan, sequences, ZipMap...
    import importlib.util
    from pathlib import Path

    import onnxruntime as ort
    from onnx import defs

    path = Path(__file__).resolve().parents[2] / "scripts" / "gen_kernel_table.py"
    spec = importlib.util.spec_from_file_location("gen_kernel_table_probes", path)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    schema = defs.get_schema(op, version, domain)
    opsets = [("", version)] if not domain else [("", 17), (domain, version)]
    used, made = gen._probes(schema, opsets, 8)
    assert used and len(made) >= 2
    options = ort.SessionOptions()
    options.log_severity_level = 4
    made_float = [blob for combo, blob, _ in made if any("float)" in t and "float16" not in t for t in combo)]
    assert made_float, [combo for combo, _, _ in made]
    for blob in made_float[:2]:  # a valid probe: the installed onnxruntime (which has these kernels) takes it
        ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])


def test_a_double_lstm_for_a_sql_target_computes_in_float32_and_runs() -> None:
    # the rewrite for a SQL target (convert, adapt) casts a double node its runtime lacks to float32: a double LSTM
    # was left as it was, and no onnxruntime (the database's nor the installed one) ran it
    import numpy as np
    import onnxruntime as ort

    from onnxgate._kernels import compute_in_float32

    model = _recurrent("LSTM", TensorProto.DOUBLE)
    rows = np.random.default_rng(1).normal(size=(4, 5, 3))
    with pytest.raises(Exception, match="does not support double"):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": rows})
    changed = compute_in_float32(model, "onnxruntime 1.5.3")
    assert [(g.node, g.op) for g in changed] == [("lstm_node", "LSTM")]
    assert _supported(model, "sql-edge-1.0").passed
    (got,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": rows})
    float_model = _recurrent("LSTM", TensorProto.FLOAT)
    (want,) = ort.InferenceSession(float_model.SerializeToString(),
                                   providers=["CPUExecutionProvider"]).run(None, {"x": rows.astype(np.float32)})
    assert got.dtype == np.float64 and got.shape == (4, 1, 5, 2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _loop(cond: bool, trip: bool = True, *, in_branch: bool = False) -> onnx.ModelProto:
    """``v += 1`` for a trip count of 10 while ``v < 5`` (the body's cond), from the ``[1]`` input ``x``, by a Loop
    given or not its ``cond`` input and its trip count; in an If's then-branch when ``in_branch``."""
    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Add", ["v_in", "one"], ["v"]), helper.make_node("Less", ["v", "five"], ["c_out"])],
        "body", [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("v_in", TensorProto.FLOAT, [1])],
        [vi("c_out", TensorProto.BOOL, [1]), vi("v", TensorProto.FLOAT, [1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]), helper.make_tensor("five", TensorProto.FLOAT, [1],
                                                                                      [5.0])])
    loop = helper.make_node("Loop", ["trip" if trip else "", "go" if cond else "", "x"], ["y"], body=body,
                            name="loop_node")
    weights = [helper.make_tensor("trip", TensorProto.INT64, [], [10]),
               helper.make_tensor("go", TensorProto.BOOL, [], [True])]
    nodes = [loop]
    if in_branch:
        then = helper.make_graph([loop], "then", [], [vi("y", TensorProto.FLOAT, [1])])
        other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                                  [vi("e", TensorProto.FLOAT, [1])])
        nodes = [helper.make_node("If", ["go"], ["out"], then_branch=then, else_branch=other, name="if_node")]
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.FLOAT, [1])],
                              [vi("out" if in_branch else "y", TensorProto.FLOAT, [1])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


@pytest.mark.parametrize(("trip", "in_branch", "node"), [(True, False, "'loop_node' (Loop-11 without a cond input)"),
                                                          (False, False, "'loop_node' (Loop-11 without a trip count "
                                                                         "nor a cond input)"),
                                                          (True, True, "'if_node.then_branch/loop_node' (Loop-11 "
                                                                       "without a cond input)")])
def test_a_loop_without_a_cond_fails_sql_edge_1_0_and_synapse_whose_runtime_crashes_loading_it(
        trip: bool, in_branch: bool, node: str) -> None:
    # onnxruntime 1.5.2 dies (segmentation fault) making a session of it, in the main graph or a branch; 1.12.1 and
    # the installed one load it: validate passed it for sql-edge-1.0
    model = _loop(cond=False, trip=trip, in_branch=in_branch)
    for target in ("sql-edge-1.0", "synapse"):
        result = _supported(model, target)
        assert not result.passed, target
        assert node in result.message and "segmentation fault" in result.message
        assert "Give each Loop a cond input, a constant true" in result.message
        assert f"onnxgate adapt --target {target}" in result.message
        assert result.details["offenders"][0]["form"] == ("no cond" if trip else "neither")
    assert _supported(model, "sql-edge-2.0").passed
    assert _supported(_loop(cond=True, trip=trip, in_branch=in_branch), "sql-edge-1.0").passed


def test_a_float16_split_to_sequence_fails_both_sql_runtimes_with_their_own_type_error() -> None:
    # 1.5.2 and 1.12.1 refuse the valid file (the installed onnxruntime loads it) with a type error, not a missing
    # kernel: the generator counted it undecided, and validate passed it
    node = helper.make_node("SplitToSequence", ["x"], ["parts"], axis=1, name="split_node")
    at = helper.make_node("SequenceAt", ["parts", "zero"], ["y"], name="at_node")
    graph = helper.make_graph([node, at], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["N", 1])],
                              [helper.make_tensor("zero", TensorProto.INT64, [], [0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)
    assert _supported(model, "onnxruntime").passed
    for target in ("sql-edge-1.0", "sql-edge-2.0"):
        result = _supported(model, target)
        assert not result.passed, target
        assert [o["node"] for o in result.details["offenders"]] == ["split_node"]
        assert "refuses 1 node(s)" in result.message
        assert "SplitToSequence-11, T=float16, S=seq(float16)): Type Error" in result.message


def _generator() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "gen_kernel_table.py"
    spec = importlib.util.spec_from_file_location("gen_kernel_table_refusals", path)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_the_generator_counts_an_old_runtimes_type_error_on_a_valid_probe_and_nothing_else() -> None:
    gen = _generator()
    type_error = ("error:[ONNXRuntimeError] : 1 : FAIL : Load model from /tmp/x/7.onnx failed:/onnxruntime_src/"
                  "onnxruntime/core/graph/function.cc:384 onnxruntime::FunctionImpl::FunctionImpl() status.IsOK() "
                  "was false. Resolve subgraph failed:This is an invalid model. Type Error: Type 'tensor(int16)' of "
                  "input parameter (x1) of operator (Sub) in node (0x55b820c9f6d0_0) is invalid.")
    assert gen.refused_for_its_types(type_error, "ok")
    assert gen.reason(type_error) == ("Type Error: Type 'tensor(int16)' of input parameter (x1) of operator (Sub) in "
                                      "node () is invalid.")
    assert not gen.refused_for_its_types(type_error, "error:the reference refuses it too")  # an invalid probe
    # a crash, an index error, a locale: the probe's form or the machine, not its types
    assert not gen.refused_for_its_types("error:crash:-11", "ok")
    assert not gen.refused_for_its_types("error:... index < data_.size() was false.", "ok")
    assert not gen.refused_for_its_types("error:... Failed to construct locale with name:en_US.UTF-8", "ok")
    assert gen.reason("error:crash:-11") == "the process crashes making the session: exit status -11 " \
                                            "(segmentation fault)"

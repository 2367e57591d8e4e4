"""Nodes a SQL target's onnxruntime lacks inside a subgraph (an If's branch, a Loop's body): validate named them, and
convert/adapt rewrote only the main graph's, so the file for sql-edge-1.0/2.0 or synapse stayed refused. The float32
rewrite and the LabelEncoder rewrite now work in subgraphs too, their new names clashing with no scope's."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import onnxgate as og
from onnxgate._kernels import compute_in_float32, kernel_gaps, label_encoders_by_position


def _if_and_loop() -> onnx.ModelProto:
    """``y = If(sum(x) > 0, sigmoid(x), tanh(x))`` (branches reading the outer ``x``), then a Loop of 2 steps
    carrying ``v = sigmoid(v)`` from ``y``, on a double column; the main graph already holds ``x_as_float32`` and
    ``v_float32``, the names a rewrite in a subgraph would pick first. (The Loop is given its condition: onnxruntime
    1.5.2 crashes loading a Loop without one.)"""
    vi = helper.make_tensor_value_info
    then = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["t"], name="then_sigmoid")], "then", [],
                             [vi("t", TensorProto.DOUBLE, None)])
    other = helper.make_graph([helper.make_node("Tanh", ["x"], ["e"], name="else_tanh")], "else", [],
                              [vi("e", TensorProto.DOUBLE, None)])
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Sigmoid", ["v_in"], ["v"], name="step")],
        "body",
        [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("v_in", TensorProto.DOUBLE, None)],
        [vi("c_out", TensorProto.BOOL, []), vi("v", TensorProto.DOUBLE, None)])
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0, name="total_node"),
        helper.make_node("Greater", ["total", "zero"], ["positive"], name="positive_node"),
        helper.make_node("If", ["positive"], ["y"], then_branch=then, else_branch=other, name="branch"),
        helper.make_node("Loop", ["steps", "go", "y"], ["z"], body=body, name="repeat"),
        helper.make_node("Abs", ["x"], ["x_as_float32"], name="taken_1"),
        helper.make_node("Add", ["z", "x_as_float32"], ["v_float32"], name="taken_2"),
        helper.make_node("Identity", ["v_float32"], ["out"], name="out_node"),
    ]
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.DOUBLE, ["N", 1])], [vi("out", TensorProto.DOUBLE,
                                                                                       ["N", 1])],
                              [helper.make_tensor("zero", TensorProto.DOUBLE, [], [0.0]),
                               helper.make_tensor("steps", TensorProto.INT64, [], [2]),
                               helper.make_tensor("go", TensorProto.BOOL, [], [True])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


def _run(model: onnx.ModelProto, feeds: dict[str, Any]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, feeds)[0])


def _names(model: onnx.ModelProto) -> list[str]:
    from onnxgate._onnx import all_graphs

    return [name for g in all_graphs(model.graph) for n in g.node for name in n.output]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_double_nodes_in_if_branches_and_a_loop_body_compute_in_float32_for_sql_edge_1_0(sign: float) -> None:
    model = _if_and_loop()
    assert sorted(g.node for g in kernel_gaps(model, "onnxruntime 1.5.3")) == [
        "branch.else_branch/else_tanh", "branch.then_branch/then_sigmoid", "repeat.body/step"]
    x = sign * np.linspace(0.1, 3.0, 7).reshape(-1, 1)
    want = _run(model, {"x": x})
    changed = compute_in_float32(model, "onnxruntime 1.5.3")
    assert sorted(g.op for g in changed) == ["Sigmoid", "Sigmoid", "Tanh"]
    assert not kernel_gaps(model, "onnxruntime 1.5.3")
    onnx.checker.check_model(model, full_check=True)
    names = _names(model)
    assert len(names) == len(set(names))  # no new name shadows another scope's (x_as_float32, v_float32)
    got = _run(model, {"x": x})
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_adapt_for_sql_edge_1_0_rewrites_the_subgraphs_and_validate_passes_operators_supported() -> None:
    model = _if_and_loop()
    failed = og.validate(model, target="sql-edge-1.0").check("operators_supported")
    assert not failed.passed and "then_sigmoid" in failed.message
    adapted = og.adapt(model, "sql-edge-1.0")
    assert og.validate(adapted, target="sql-edge-1.0").check("operators_supported").passed


def _label_encoder_in_branch(keys: list[float], values: list[float]) -> onnx.ModelProto:
    """``If(flag, LabelEncoder(x) (float to float), x)``: the encoder in the then-branch reads the outer ``x``."""
    vi = helper.make_tensor_value_info
    encode = helper.make_node("LabelEncoder", ["x"], ["codes"], domain="ai.onnx.ml", name="codes_node",
                              keys_floats=keys, values_floats=values, default_float=-7.5)
    then = helper.make_graph([encode], "then", [], [vi("codes", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["same"])], "else", [],
                              [vi("same", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("If", ["flag"], ["y"], then_branch=then, else_branch=other, name="branch"),
             helper.make_node("Identity", ["y"], ["codes_position"], name="taken")]
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.FLOAT, ["N", 1]), vi("flag", TensorProto.BOOL, [])],
                              [vi("codes_position", TensorProto.FLOAT, ["N", 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12), helper.make_opsetid("ai.onnx.ml", 2)],
                             ir_version=7)


def test_a_float_label_encoder_in_an_if_branch_is_rewritten_there_giving_the_same_values() -> None:
    model = _label_encoder_in_branch([0.0, 1.5, 3.0], [10.25, -1.0, 2.5])
    x = np.array([[0.0], [1.5], [3.0], [17.0], [np.nan]], dtype=np.float32)
    want = _run(model, {"x": x, "flag": np.array(True)})
    for runtime in ("onnxruntime 1.12.1", "onnxruntime 1.5.3"):
        assert [g.node for g in kernel_gaps(model, runtime)] == ["branch.then_branch/codes_node"]
    changed = label_encoders_by_position(model, "onnxruntime 1.12.1")
    assert [g.node for g in changed] == ["branch.then_branch/codes_node"]
    for runtime in ("onnxruntime 1.12.1", "onnxruntime 1.5.3"):
        assert not kernel_gaps(model, runtime), runtime
    onnx.checker.check_model(model, full_check=True)
    names = _names(model)
    assert len(names) == len(set(names))  # the lookup's output is not the main graph's codes_position
    np.testing.assert_array_equal(_run(model, {"x": x, "flag": np.array(True)}), want)
    np.testing.assert_array_equal(_run(model, {"x": x, "flag": np.array(False)}), x)


def _loop_without_cond(*, trip: bool, in_branch: bool) -> onnx.ModelProto:
    """``v += 1`` while ``v < 5`` (the body's cond), trip count 10 (or none), by a Loop without a ``cond`` input, in the
    main graph or an If's then-branch; the main graph already holds ``loop_node_cond``, the name a rewrite picks
    first."""
    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Add", ["v_in", "one"], ["v"]), helper.make_node("Less", ["v", "five"], ["c_out"])],
        "body", [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("v_in", TensorProto.FLOAT, [1])],
        [vi("c_out", TensorProto.BOOL, [1]), vi("v", TensorProto.FLOAT, [1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]),
         helper.make_tensor("five", TensorProto.FLOAT, [1], [5.0])])
    loop = helper.make_node("Loop", ["trip" if trip else "", "", "start"], ["y"], body=body, name="loop_node")
    weights = [helper.make_tensor("trip", TensorProto.INT64, [], [10]),
               helper.make_tensor("flag", TensorProto.BOOL, [], [True])]
    nodes = [helper.make_node("Abs", ["x"], ["loop_node_cond"], name="taken"),
             helper.make_node("Identity", ["loop_node_cond"], ["start"], name="start_node")]
    if in_branch:
        then = helper.make_graph([loop], "then", [], [vi("y", TensorProto.FLOAT, [1])])
        other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [],
                                  [vi("e", TensorProto.FLOAT, [1])])
        nodes.append(helper.make_node("If", ["flag"], ["out"], then_branch=then, else_branch=other, name="if_node"))
    else:
        nodes.append(loop)
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.FLOAT, [1])],
                              [vi("out" if in_branch else "y", TensorProto.FLOAT, [1])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


@pytest.mark.parametrize(("trip", "in_branch"), [(True, False), (False, False), (True, True)])
def test_adapt_for_sql_edge_1_0_gives_a_loop_without_a_cond_a_constant_true_one_running_the_same_steps(
        trip: bool, in_branch: bool) -> None:
    # onnxruntime 1.5.2 crashes (segmentation fault) loading a Loop without a cond: the file was refused with no
    # way out; the Loop now gets a constant true cond, and runs the iterations it ran (the body's cond stops it at 5)
    from onnxgate._kernels import loops_given_a_cond

    model = _loop_without_cond(trip=trip, in_branch=in_branch)
    failed = og.validate(model, target="sql-edge-1.0").check("operators_supported")
    assert not failed.passed and "a cond input): the process crashes" in failed.message
    x = np.array([-1.0], dtype=np.float32)
    want = _run(model, {"x": x})
    assert want.tolist() == [5.0]
    adapted = og.adapt(model, "sql-edge-1.0")
    assert og.validate(adapted, target="sql-edge-1.0").check("operators_supported").passed
    (column,) = adapted.graph.input  # adapt makes the input a [N, 1] column
    assert _run(adapted, {column.name: x.reshape(-1, 1)}).ravel().tolist() == want.tolist()
    changed = loops_given_a_cond(model, "onnxruntime 1.5.3")
    assert [g.node for g in changed] == ["if_node.then_branch/loop_node" if in_branch else "loop_node"]
    onnx.checker.check_model(model, full_check=True)
    names = _names(model)
    assert len(names) == len(set(names)) and "loop_node_cond_1" in names  # loop_node_cond was taken
    assert _run(model, {"x": x}).tolist() == want.tolist()
    assert not loops_given_a_cond(model, "onnxruntime 1.12.1")  # 1.12.1 loads it: nothing to do there


def test_convert_warns_when_it_gives_a_loop_a_cond_for_a_sql_target() -> None:
    from onnxgate._kernels import loops_the_target_refuses

    model = _loop_without_cond(trip=True, in_branch=False)
    (warning,) = loops_the_target_refuses(model, og.targets.get("sql-edge-1.0"))
    assert warning.startswith("1 Loop node(s) without a cond input get a constant true one")
    assert "segmentation fault" in warning and "'loop_node'" in warning
    assert not loops_the_target_refuses(_loop_without_cond(trip=True, in_branch=False), og.targets.get("sql-edge-2.0"))


def _loop_holding_an_if() -> onnx.ModelProto:
    """A double Sigmoid in the main graph, then a Loop whose body has a double Sigmoid, an If whose then-branch has a
    double Tanh (reading the body's value), and a Sigmoid of the outer ``x`` as a scan output."""
    vi = helper.make_tensor_value_info
    then = helper.make_graph([helper.make_node("Tanh", ["a"], ["t"], name="in_then")], "then", [],
                             [vi("t", TensorProto.DOUBLE, None)])
    other = helper.make_graph([helper.make_node("Identity", ["a"], ["e"])], "else", [],
                              [vi("e", TensorProto.DOUBLE, None)])
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Sigmoid", ["v_in"], ["a"], name="body_sigmoid"),
         helper.make_node("If", ["flag"], ["v"], then_branch=then, else_branch=other, name="inner_if"),
         helper.make_node("Sigmoid", ["x"], ["each"], name="outer_sigmoid")],
        "body",
        [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("v_in", TensorProto.DOUBLE, None)],
        [vi("c_out", TensorProto.BOOL, []), vi("v", TensorProto.DOUBLE, None), vi("each", TensorProto.DOUBLE, None)])
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="main_sigmoid"),
             helper.make_node("Loop", ["steps", "", "s"], ["z", "zs"], body=body, name="repeat")]
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.DOUBLE, ["N", 1]), vi("flag", TensorProto.BOOL, [])],
                              [vi("z", TensorProto.DOUBLE, ["N", 1]), vi("zs", TensorProto.DOUBLE, ["K", "N", 1])],
                              [helper.make_tensor("steps", TensorProto.INT64, [], [3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


@pytest.mark.parametrize("flag", [True, False])
def test_double_nodes_in_the_main_graph_a_loop_body_and_an_if_inside_it_all_get_their_casts(flag: bool) -> None:
    # the main graph's node list was rebuilt first, copying the Loop: the body's and the branch's Casts went into
    # detached copies and the file read 's_as_float32' nothing wrote (checker: 'not output of any previous nodes')
    model = _loop_holding_an_if()
    feeds = {"x": np.linspace(-2.0, 2.0, 6).reshape(-1, 1), "flag": np.array(flag)}
    import onnxruntime as ort

    def run_all(m: onnx.ModelProto) -> list[np.ndarray]:
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return [np.asarray(v) for v in session.run(None, feeds)]

    want = run_all(model)
    changed = compute_in_float32(model, "onnxruntime 1.5.3")
    assert sorted(g.node for g in changed) == ["main_sigmoid", "repeat.body/body_sigmoid",
                                               "repeat.body/inner_if.then_branch/in_then", "repeat.body/outer_sigmoid"]
    # no double node left (the Loop, given no cond, is the Loop rewrite's: loops_given_a_cond)
    assert not [g for g in kernel_gaps(model, "onnxruntime 1.5.3") if g.form is None]
    onnx.checker.check_model(model, full_check=True)
    for got, expected in zip(run_all(model), want, strict=True):
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_float_label_encoders_in_the_main_graph_and_in_a_branch_are_both_rewritten() -> None:
    model = _label_encoder_in_branch([0.0, 1.5, 3.0], [10.25, -1.0, 2.5])
    main = helper.make_node("LabelEncoder", ["y"], ["coded"], domain="ai.onnx.ml", name="main_codes",
                            keys_floats=[10.25, -1.0], values_floats=[1.0, 2.0], default_float=0.5)
    model.graph.node[1].input[0] = "coded"
    model.graph.node.insert(1, main)
    x = np.array([[0.0], [1.5], [3.0], [17.0]], dtype=np.float32)
    want = _run(model, {"x": x, "flag": np.array(True)})
    changed = label_encoders_by_position(model, "onnxruntime 1.12.1")
    assert sorted(g.node for g in changed) == ["branch.then_branch/codes_node", "main_codes"]
    # the branch's rewrite went into a copy the main graph's rebuild had left: the encoder stayed, the warning named it
    assert not kernel_gaps(model, "onnxruntime 1.12.1")
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_array_equal(_run(model, {"x": x, "flag": np.array(True)}), want)


def _branches_sharing_a_name(double_first: bool) -> onnx.ModelProto:
    """``If(flag, ...)`` whose two branches each have a value ``w`` and ``u``: double in one (a double Sigmoid), float
    in the other (a float Sigmoid); both give a float ``o``. ONNX allows it: each branch is its own scope.
    ``double_first`` puts the double branch where the walk meets it first (else_branch: attributes sort by name)."""
    vi = helper.make_tensor_value_info
    in_double = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["w"]), helper.make_node("Sigmoid", ["w"], ["u"], name="double_sigmoid"),
         helper.make_node("Cast", ["u"], ["o"], to=TensorProto.FLOAT)],
        "in_double", [], [vi("o", TensorProto.FLOAT, None)])
    in_float = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["w"], to=TensorProto.FLOAT),
         helper.make_node("Sigmoid", ["w"], ["u"], name="float_sigmoid"), helper.make_node("Identity", ["u"], ["o"])],
        "in_float", [], [vi("o", TensorProto.FLOAT, None)])
    then, other = (in_float, in_double) if double_first else (in_double, in_float)
    node = helper.make_node("If", ["flag"], ["y"], then_branch=then, else_branch=other, name="branch")
    graph = helper.make_graph([node], "g", [vi("x", TensorProto.DOUBLE, ["N", 1]), vi("flag", TensorProto.BOOL, [])],
                              [vi("y", TensorProto.FLOAT, ["N", 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)


@pytest.mark.parametrize("double_first", [True, False])
def test_a_name_in_two_sibling_branches_is_typed_in_each_branch(double_first: bool) -> None:
    # the walk kept the first branch's types for the second: the float Sigmoid was called double and given a Cast
    # back to double (its branch then gave a double 'o': the file did not load), or the double one was called float
    # and validate passed operators_supported for a file sql-edge-1.0 refuses
    model = _branches_sharing_a_name(double_first)
    onnx.checker.check_model(model, full_check=True)
    where = "else_branch" if double_first else "then_branch"
    assert [g.node for g in kernel_gaps(model, "onnxruntime 1.5.3")] == [f"branch.{where}/double_sigmoid"]
    x = np.linspace(-2.0, 2.0, 6).reshape(-1, 1)
    wants = [_run(model, {"x": x, "flag": np.array(flag)}) for flag in (True, False)]
    assert [g.node for g in compute_in_float32(model, "onnxruntime 1.5.3")] == [f"branch.{where}/double_sigmoid"]
    onnx.checker.check_model(model, full_check=True)
    for flag, want in zip((True, False), wants, strict=True):
        got = _run(model, {"x": x, "flag": np.array(flag)})
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_loops_without_a_cond_in_the_main_graph_and_in_a_branch_both_get_one() -> None:
    # the main graph's nodes were rebuilt before the branch's: the branch Loop's new cond input named a Constant put
    # into a detached copy of the branch, and the file did not load
    from onnxgate._kernels import loops_given_a_cond

    model = _loop_without_cond(trip=True, in_branch=True)
    if_node = next(n for n in model.graph.node if n.op_type == "If")
    branch_loop = next(a.g for a in if_node.attribute if a.name == "then_branch").node[0]
    main_loop = onnx.NodeProto()
    main_loop.CopyFrom(branch_loop)
    main_loop.name, main_loop.output[0] = "main_loop", "z"
    model.graph.node.append(main_loop)
    model.graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1]))
    x = np.array([-1.0], dtype=np.float32)
    session = __import__("onnxruntime").InferenceSession
    want = session(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    changed = loops_given_a_cond(model, "onnxruntime 1.5.3")
    assert sorted(g.node for g in changed) == ["if_node.then_branch/loop_node", "main_loop"]
    onnx.checker.check_model(model, full_check=True)
    assert not kernel_gaps(model, "onnxruntime 1.5.3")
    got = session(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert [g.tolist() for g in got] == [w.tolist() for w in want] == [[5.0], [5.0]]

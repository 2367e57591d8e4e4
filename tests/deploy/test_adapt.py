"""``onnxgate.adapt``: any model made PREDICT-shaped, computing exactly what it computed before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _sql_models import HOSTILE, columns, mlp, run

import onnxgate as og
from onnxgate.api import adapt  # og.adapt: converts a Conversion again at the target's cap, then adapts
from onnxgate.deploy.adapt import (
    ADAPT_METADATA_KEY,
    adaptation_of,
    reference_outputs_for_adapted,
    sql_identifier,
)
from onnxgate.errors import InvalidDataError, OpsetError, UnsupportedModelError
from onnxgate.signature import Signature

ROWS = np.random.default_rng(1).normal(size=(16, 10)).astype(np.float32)


def _stack(outputs: list[np.ndarray]) -> np.ndarray:
    return np.hstack([np.asarray(o, dtype=np.float64).reshape(len(ROWS), -1) for o in outputs])


@pytest.mark.parametrize("opset", [9, 12, 13, 17])
@pytest.mark.parametrize(
    ("kwargs", "outputs"),
    [
        ({}, ["output"]),
        ({"outputs": 3}, ["label", "output_0", "output_1", "output_2"]),
        ({"rank1_output": True}, ["output"]),
    ],
    ids=["n-by-1", "n-by-3-plus-label", "rank-1"],
)
def test_wrapped_model_computes_the_same_at_every_opset(opset: int, kwargs: dict, outputs: list[str]) -> None:
    model = mlp(opset, **kwargs)
    before = run(model, {"input": ROWS})
    adapted = adapt(model, "sql-edge-2.0", column_types={"f3": "float64"})
    sig = Signature.from_model(adapted)
    assert sig.input_names == [f"f{i}" for i in range(10)]
    assert all(s.shape is not None and s.shape[1:] == (1,) for s in sig.inputs)
    assert sig.input("f3").elem_type == "float64" and sig.input("f0").elem_type == "float32"
    assert sig.output_names == outputs
    assert all(s.shape is not None and s.shape[1:] == (1,) for s in sig.outputs)
    feeds = columns(ROWS)
    feeds["f3"] = feeds["f3"].astype(np.float64)
    after = run(adapted, feeds)
    np.testing.assert_array_equal(_stack(before), _stack(after))
    assert og.validate(adapted, "sql-edge-2.0").passed


def test_mapping_is_written_and_reference_outputs_follow_it() -> None:
    model = mlp(12, outputs=3)
    adapted = adapt(model, "sql-edge-1.0", columns=[f"c{i}" for i in range(10)])
    mapping = adaptation_of(adapted)
    assert mapping is not None
    assert mapping["inputs"]["input"]["columns"] == [f"c{i}" for i in range(10)]
    assert mapping["outputs"]["output"] == [["output_0", 0], ["output_1", 1], ["output_2", 2]]
    assert any(p.key == ADAPT_METADATA_KEY for p in adapted.metadata_props)
    json.dumps(mapping)  # plain JSON
    sig = Signature.from_model(adapted)
    feeds = columns(ROWS, [f"c{i}" for i in range(10)])
    # the original ONNX model as the reference: its outputs are split the way adapt split them
    expected = reference_outputs_for_adapted(model, feeds, adapted, sig)
    got = run(adapted, feeds)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(np.asarray(e).reshape(g.shape), g)


def test_columns_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(InvalidDataError, match=r"columns names 3 columns; the model's inputs need 10"):
        adapt(mlp(13), "sql-edge-2.0", columns=["a", "b", "c"])


def test_repeated_column_names_are_refused() -> None:
    with pytest.raises(InvalidDataError, match=r"name 'a' more than once: expected one distinct name per table column, "
                                               r"found 1 for 10 columns; give each column its own name, e.g. "
                                               r"'a,a_1,a_2,a_3,a_4,a_5,a_6,a_7,a_8,a_9'"):
        adapt(mlp(13), "sql-edge-2.0", columns=["a"] * 10)


def test_a_column_type_the_target_cannot_hold_is_refused() -> None:
    with pytest.raises(InvalidDataError, match=r"'string' is not accepted by target 'sql-edge-2.0'"):
        adapt(mlp(13), "sql-edge-2.0", column_types={"f0": "string"})


def test_column_and_output_names_become_sql_identifiers_and_the_originals_are_recorded() -> None:
    names = [HOSTILE, "f0"] + [f"f{i}" for i in range(2, 10)]
    model = mlp(13, outputs=3)
    adapted = adapt(model, "sql-edge-2.0", columns=names)
    sig = Signature.from_model(adapted)
    assert sig.input_names[0] == "x___DROP_TABLE_models___"
    assert all(sql_identifier(n) == n for n in sig.input_names + sig.output_names)
    assert adaptation_of(adapted)["column_sources"] == {"x___DROP_TABLE_models___": HOSTILE}  # type: ignore[index]
    got = run(adapted, columns(ROWS, sig.input_names))
    np.testing.assert_array_equal(_stack(run(model, {"input": ROWS})), _stack(got))
    assert og.validate(adapted, "sql-edge-2.0").passed


def test_sanitised_names_are_deduplicated() -> None:
    adapted = adapt(mlp(13), "sql-edge-2.0", columns=["a b", "a_b"] + [f"f{i}" for i in range(2, 10)])
    # the valid name stays the user's; the one made valid takes another (helper-88: it took a kept column's name)
    assert Signature.from_model(adapted).input_names[:2] == ["a_b_1", "a_b"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("p_Iris-setosa", "p_Iris_setosa"), ("0 score", "_0_score"), ("", "_"), ("ok_1", "ok_1"), ("a" * 200, "a" * 128)],
)
def test_sql_identifier(raw: str, expected: str) -> None:
    assert sql_identifier(raw) == expected


@pytest.mark.parametrize("target", ["synapse", "sql-edge-1.0"])
def test_above_the_cap_a_file_whose_operators_only_gained_types_is_lowered_and_answers_the_same(target: str) -> None:
    # before: OpsetError "MatMul (node 'mm1': version 13 in use, opset 12 has version 9)", though MatMul 13, Add 13/14,
    # Relu 13/14 and Identity 13/14/16 only take more types than at opset 12
    model = mlp(17, outputs=3)
    adapted = adapt(model, target)
    assert {e.domain: e.version for e in adapted.opset_import}[""] == 12
    assert adapted.ir_version == 7
    np.testing.assert_allclose(_stack(run(adapted, columns(ROWS))), _stack(run(model, {"input": ROWS})),
                               rtol=1e-6, atol=1e-6)
    assert og.validate(adapted, target).passed


def _softmax_model(opset: int, *, op: str = "Softmax", rank: int = 2, axis: int | None = 1) -> Any:
    """``input[N,10] -> MatMul -> [N,6]`` (or reshaped to ``[N,2,3]``) ``-> op -> output[N,6]``."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(10, 6)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1, 2, 3], dtype=np.int64), "shape")
    kwargs = {} if axis is None else {"axis": axis}
    nodes = [helper.make_node("MatMul", ["input", "w"], ["scores"], name="mm")]
    if rank == 3:
        nodes.append(helper.make_node("Reshape", ["scores", "shape"], ["grouped"], name="group"))
    nodes.append(helper.make_node(op, [nodes[-1].output[0]], ["normalised"], name="softmax", **kwargs))
    nodes.append(helper.make_node("Flatten", ["normalised"], ["output"], axis=1, name="flatten"))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 10])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 6])], initializer=[w, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("axis", [None, 1, -1], ids=["default-axis", "axis-1", "axis-minus-1"])
def test_above_the_cap_a_softmax_over_the_columns_of_a_rank_2_input_is_rewritten_and_answers_the_same(
        op: str, axis: int | None) -> None:
    # before: OpsetError "Softmax 13 (opset 12 has Softmax 11; the default of attribute 'axis' changed at version 13)",
    # though on a rank-2 input Softmax 11 with axis=1 normalises the same columns (a scikit-learn MLP's last node)
    from onnx import helper

    from onnxgate.adaptation.opset import fix_opset
    from onnxgate.targets import resolve_target

    model = _softmax_model(17, op=op, axis=axis)
    lowered = _softmax_model(17, op=op, axis=axis)
    notes = fix_opset(lowered, resolve_target("synapse"))
    assert {e.domain: e.version for e in lowered.opset_import}[""] == 12
    node = next(n for n in lowered.graph.node if n.op_type == op)
    assert {a.name: helper.get_attribute_value(a) for a in node.attribute} == {"axis": 1}
    assert any(f"node 'softmax' rewritten for opset ai.onnx 12, {op} 13 -> 11: written with axis=1" in n for n in notes)
    np.testing.assert_allclose(run(lowered, {"input": ROWS})[0], run(model, {"input": ROWS})[0], rtol=1e-6, atol=1e-7)
    adapted = adapt(_softmax_model(17, op=op, axis=axis), "synapse")
    assert og.validate(adapted, "synapse").passed


@pytest.mark.parametrize(("rank", "axis", "why"), [(3, 1, "its input has rank 3"), (2, 0, "its axis is 0")],
                         ids=["rank-3", "axis-0"])
@pytest.mark.parametrize("target", ["synapse", "sql-edge-1.0"])
def test_above_the_cap_an_operator_whose_meaning_changed_blocks_lowering_and_says_how_to_convert_again(
        target: str, rank: int, axis: int, why: str) -> None:
    # Softmax 11 flattens every axis from `axis` on: on [N,2,3] with axis 1 it normalises each row's 6 values
    # together where Softmax 13 normalises each pair along axis 1, and axis 0 normalises down the batch in 13 only
    with pytest.raises(OpsetError) as info:
        adapt(_softmax_model(17, rank=rank, axis=axis), target)
    message = str(info.value)
    assert "the model is at opset ai.onnx 17" in message and "at most opset ai.onnx 12" in message
    assert ("Softmax 13 (opset 12 has Softmax 11; the default of attribute 'axis' changed at version 13; written as "
            f"Softmax 11 only for a rank-2 input with axis 1 or -1, and {why}) (node 'softmax')") in message
    assert "MatMul" not in message  # MatMul 13 means what MatMul 9 did
    assert f"onnxgate convert MODEL_FILE --sample ROWS --target {target} -o model.onnx (or --opset 12)" in message


def _axes_model(case: str) -> tuple[Any, dict[str, np.ndarray]]:
    """One node whose axes (or split) became an input, fed a constant: an initializer or a Constant node."""
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, values: list[int]) -> Any:
        return numpy_helper.from_array(np.array(values, dtype=np.int64), name)

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    feeds = {"x": np.random.default_rng(2).normal(size=(9, 4)).astype(np.float32)}
    opset, inits, nodes = 17, [const("axes", [1])], []
    if case == "ReduceSum":
        nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1, name="node")]
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])]
    elif case == "ReduceMean-18-Constant-node":
        opset, inits = 18, []
        nodes = [helper.make_node("Constant", [], ["axes"], value=const("v", [-1]), name="axes_value"),
                 helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0, name="node")]
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])]
    elif case == "Unsqueeze-Squeeze":
        nodes = [helper.make_node("Unsqueeze", ["x", "axes"], ["x3"], name="node"),
                 helper.make_node("Squeeze", ["x3", "axes"], ["y"], name="node2")]
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])]
    else:  # Split
        inits = [const("split", [1, 3])]
        nodes = [helper.make_node("Split", ["x", "split"], ["a", "b"], axis=1, name="node")]
        outputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 1]),
                   helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 3])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], outputs, initializer=inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, feeds


@pytest.mark.parametrize(("case", "attribute", "values"), [
    ("ReduceSum", "axes", [1]),
    ("ReduceMean-18-Constant-node", "axes", [-1]),
    ("Unsqueeze-Squeeze", "axes", [1]),
    ("Split", "split", [1, 3]),
])
def test_above_the_cap_constant_axes_given_as_an_input_are_written_as_the_attribute_and_answer_the_same(
        case: str, attribute: str, values: list[int]) -> None:
    # before: OpsetError "ReduceSum 13 (opset 12 has ReduceSum 11; its inputs changed at version 13)" (a scikit-learn
    # KNeighborsClassifier's probabilities), though constant axes are what ReduceSum 11 takes as its attribute
    from onnx import helper

    from onnxgate.adaptation.opset import fix_opset
    from onnxgate.targets import resolve_target

    model, feeds = _axes_model(case)
    lowered, _ = _axes_model(case)
    notes = fix_opset(lowered, resolve_target("synapse"))
    assert {e.domain: e.version for e in lowered.opset_import}[""] == 12
    for node in (n for n in lowered.graph.node if n.name.startswith("node")):
        assert list(node.input) == [node.input[0]]
        assert {a.name: helper.get_attribute_value(a) for a in node.attribute}[attribute] == values
    assert any(n.startswith("node 'node'") and "constant" in n for n in notes)
    for got, want in zip(run(lowered, feeds), run(model, feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("how", "why"), [
    ("graph-input", "its axes input 'axes' is no constant of the file (computed, or fed at run time)"),
    ("initializer-listed-as-input", "its axes input 'axes' is no constant of the file (computed, or fed at run time)"),
    ("noop-without-axes", "noop_with_empty_axes=1 with no axes (the older version reduces every axis)"),
])
def test_above_the_cap_axes_that_are_not_a_constant_block_lowering(how: str, why: str) -> None:
    # ReduceSum 11 takes its axes as an attribute, fixed in the file: axes fed at run time (or a default the caller
    # may replace) have no such form, and noop_with_empty_axes=1 without axes returns the input, which 11 cannot say
    from onnx import TensorProto, helper, numpy_helper

    from onnxgate.adaptation.opset import fix_opset
    from onnxgate.targets import resolve_target

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    axes = helper.make_tensor_value_info("axes", TensorProto.INT64, [1])
    inits = [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")] if how != "graph-input" else []
    inputs = [x] if how == "noop-without-axes" else [x, axes]
    node = (helper.make_node("ReduceSum", ["x"], ["y"], noop_with_empty_axes=1, name="sum")
            if how == "noop-without-axes" else helper.make_node("ReduceSum", ["x", "axes"], ["y"], name="sum"))
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[] if how == "noop-without-axes" else inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with pytest.raises(OpsetError) as info:
        fix_opset(model, resolve_target("synapse"))
    assert (f"ReduceSum 13 (opset 12 has ReduceSum 11; its inputs changed at version 13; written as ReduceSum 11 only "
            f"for axes that are a constant, not noop_with_empty_axes=1 without axes, and {why}) (node 'sum')"
            ) in str(info.value)
    assert {e.domain: e.version for e in model.opset_import}[""] == 17  # the file given is left as it was


def test_above_the_cap_an_attribute_set_to_the_default_it_was_added_with_is_dropped_from_the_lowered_node() -> None:
    # before: OpsetError "onnxruntime does not run the lowered file (... Unrecognized attribute: allowzero for operator
    # Reshape)" for a scikit-learn KNeighborsRegressor at opset 17: skl2onnx writes Reshape's allowzero=0, which
    # Reshape 5 (opset 12) does not have
    from onnx import TensorProto, helper, numpy_helper

    from onnxgate.adaptation.opset import fix_opset
    from onnxgate.targets import resolve_target

    shape = numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], allowzero=0, name="reshape")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])], initializer=[shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    notes = fix_opset(model, resolve_target("synapse"))
    assert [a.name for a in model.graph.node[0].attribute] == []
    assert ("node 'reshape' rewritten for opset ai.onnx 12, Reshape 14 -> 5: attribute 'allowzero' (set to its "
            "default) dropped") in notes
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(run(model, {"x": x})[0], x.reshape(-1, 1))


def test_above_the_cap_a_lowered_file_that_answers_otherwise_in_onnxruntime_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the last guard: were the schema reading wrong about a step (here it is told Softmax 13 -> 11 is no change), the
    # two files are run and compared. On a [N,2,5] input Softmax 11 normalises each row's 10 values together,
    # Softmax 13 each pair along axis 1
    from onnx import TensorProto, helper

    import onnxgate.adaptation.opset as opset_rules
    from onnxgate.targets import resolve_target

    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], axis=1, name="softmax")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    monkeypatch.setattr(opset_rules, "lowering_problem", lambda node, domain, have, cap, facts:
                        opset_rules.NodeLowering(None, f"{node.op_type} {have} -> {cap}", node))
    with pytest.raises(OpsetError, match=r"onnxruntime gives output 'y' otherwise for the lowered file"):
        opset_rules.fix_opset(model, resolve_target("synapse"))
    assert {e.domain: e.version for e in model.opset_import}[""] == 17  # the file given is left as it was


def test_above_the_cap_a_type_the_lower_version_does_not_take_blocks_lowering() -> None:
    import onnx
    from onnx import TensorProto, helper

    # Relu took int32 from version 14 on: at opset 12 (Relu 6) the same node is not a valid graph
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT32, ["N", 1])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, ["N", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    with pytest.raises(OpsetError, match=r"at the lower opset a node does not take the types it is given.*int32"):
        adapt(model, "sql-edge-1.0")


def test_above_the_cap_a_file_whose_nodes_mean_the_same_is_restamped_and_types_fall_back() -> None:
    import onnx
    from onnx import TensorProto, helper

    # Not has had one definition since opset 1, so an opset-17 stamp can honestly read 12
    graph = helper.make_graph(
        [helper.make_node("Not", ["flag"], ["negated"], name="not")], "g",
        [helper.make_tensor_value_info("flag", TensorProto.BOOL, ["N", 1])],
        [helper.make_tensor_value_info("negated", TensorProto.BOOL, ["N", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    adapted = adapt(model, "sql-edge-1.0")
    assert {e.domain: e.version for e in adapted.opset_import}[""] == 12
    assert adapted.ir_version == 7
    sig = Signature.from_model(adapted)
    # bool is no SQL column type: the column is int and a Cast inside the graph makes it bool
    assert (sig.input("flag").elem_type, sig.output("negated").elem_type) == ("int32", "int32")
    got = run(adapted, {"flag": np.array([[0], [1], [2]], dtype=np.int32)})[0]
    np.testing.assert_array_equal(got, [[1], [0], [0]])
    assert og.validate(adapted, "sql-edge-1.0").passed


def test_zipmap_is_replaced_by_per_class_outputs_named_after_the_classes() -> None:
    from sklearn.linear_model import LogisticRegression

    X = ROWS[:, :4].astype(np.float64)
    y = np.array([3, 5, 8, 3] * 4)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    conv = og.convert(clf, X, opset=12, options={"zipmap": True})
    assert conv.signature.outputs[1].kind == "sequence"
    adapted = adapt(conv.model, "sql-edge-1.0")  # a raw ONNX file, no sklearn object: labels from ZipMap
    sig = Signature.from_model(adapted)
    assert sig.output_names == ["output_label", "p_3", "p_5", "p_8"]
    assert "ZipMap" not in {n.op_type for n in adapted.graph.node}
    got = run(adapted, columns(X))
    np.testing.assert_allclose(np.hstack(got[1:]), clf.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(got[0].reshape(-1), clf.predict(X))
    report = og.validate(adapted, "sql-edge-1.0", reference=clf, data=X)
    assert report.passed, str(report)


def test_a_double_zipmap_file_gives_double_probability_columns() -> None:
    # a double graph casts its probabilities to float32 for ZipMap alone; the SQL columns take the double ones, as
    # without ZipMap (precision="float64" with zipmap=True was refused: ZipMap takes float32 only)
    from sklearn.linear_model import LogisticRegression

    X = ROWS[:, :4].astype(np.float64)
    clf = LogisticRegression(max_iter=500).fit(X, np.array([3, 5, 8, 3] * 4))
    conv = og.convert(clf, X, options={"zipmap": True}, precision="float64", target="sql-edge-2.0")
    sig = conv.signature
    assert sig.output_names == ["output_label", "p_3", "p_5", "p_8"]
    assert {sig.output(n).elem_type for n in sig.output_names[1:]} == {"float64"}
    got = run(conv.model, columns(X))
    np.testing.assert_allclose(np.hstack(got[1:]), clf.predict_proba(X), rtol=1e-12, atol=0)
    assert og.validate(conv, "sql-edge-2.0", reference=clf, data=X).passed


def test_an_output_whose_name_a_column_takes_keeps_its_own_name_and_is_compared() -> None:
    """Columns named label and p_0 took the outputs' names: the label output became 'label__inner', and
    parity listed it as "not compared" (the record of the adaptation keyed it by that inner name), so a
    wrong label went unchecked (helper-124). Then the outputs became label_1, p_0_1 (helper-200); now the
    columns are renamed instead."""
    from sklearn.linear_model import LogisticRegression

    X = ROWS[:, :4].astype(np.float64)
    clf = LogisticRegression(max_iter=500).fit(X, np.arange(len(X)) % 3)
    conv = og.convert(clf, X, opset=15)
    adapted = adapt(conv.model, "sql-edge-2.0", columns=["label", "p_0", "P_1", "x"], reference=clf)
    sig = Signature.from_model(adapted)
    # the outputs keep the names the docs promise; the columns named like them are renamed (T-SQL ignores case)
    assert sig.output_names == ["label", "p_0", "p_1", "p_2"]
    assert sig.input_names == ["label_1", "p_0_1", "P_1_1", "x"]
    report = og.validate(adapted, "sql-edge-2.0", reference=clf, data=X)
    assert report.passed and "not compared" not in report.check("prediction_parity").message, str(report)
    assert "4 output(s) match" in report.check("prediction_parity").message


def test_text_class_labels_on_a_numeric_target_are_their_codes_and_other_text_is_refused() -> None:
    from onnx import TensorProto, helper
    from sklearn.linear_model import LogisticRegression

    X = ROWS[:, :4].astype(np.float64)
    y = np.array(["setosa", "versicolor"] * 8)
    clf = LogisticRegression().fit(X, y)
    conv = og.convert(clf, X, opset=12)
    # the file alone names its classes (the classifier node's labels): the label is their code, as with a reference
    label = Signature.from_model(adapt(conv.model, "sql-edge-2.0")).output("label")
    assert (label.elem_type, label.labels) == ("int32", ("setosa", "versicolor"))
    # a text output that is no classifier's label has no classes to code: refused, saying why
    graph = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
                              [helper.make_tensor_value_info("y", TensorProto.STRING, ["N", 1])])
    text = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)
    with pytest.raises(UnsupportedModelError, match=r"output 'y' holds string values.*no classifier's label.*"
                                                    r"integer-coded labels"):
        adapt(text, "sql-edge-2.0")
    # a target that returns text gets the label and p_<class> outputs named after the classes
    target = og.targets.get("synapse").with_(name="synapse-text", output_types=None)
    sig = Signature.from_model(adapt(conv.model, target, reference=clf))
    assert sig.output_names == ["label", "p_setosa", "p_versicolor"]


def test_bool_class_labels_on_a_numeric_target_say_they_come_back_as_0_and_1() -> None:
    # PREDICT answered 0 and 1 where scikit-learn answers False and True, and convert said nothing of it
    import onnxruntime as ort
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    clf = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y == 2)
    conv = og.convert(clf, X[:5], target="sql-edge-2.0")
    assert [o.elem_type for o in conv.signature.outputs] == ["int32", "float32", "float32"]
    assert [w for w in conv.warnings if "output 'label'" in w] == [
        "output 'label' holds bool values, which target 'sql-edge-2.0' does not return: PREDICT returns ['label'] "
        "as int32 (False as 0, True as 1)"]
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: X[:, k:k + 1] for k, i in enumerate(session.get_inputs())}
    np.testing.assert_array_equal(session.run(["label"], feeds)[0].ravel(), clf.predict(X).astype(np.int32))
    assert og.validate(conv, "sql-edge-2.0", reference=clf, data=X).passed
    # integer labels the target returns as they are: no such warning
    ints = og.convert(DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, np.array([3, 7, 11])[y]), X[:5],
                      target="sql-edge-2.0")
    assert not [w for w in ints.warnings if "does not return" in w]


@pytest.mark.slow
def test_sklearn_classifier_conversion_for_sql_passes_checks_and_parity() -> None:
    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    conv = og.convert(model, X[:20], opset=17)
    adapted = adapt(conv, "sql-edge-1.0")
    assert isinstance(adapted, og.Conversion)
    assert adapted.target == "sql-edge-1.0"
    assert adapted.opsets[""] <= 12  # converted again at the target's opset, not down-converted
    assert any("converted again" in w for w in adapted.warnings)
    assert adapted.signature.output_names == ["label", "p_0", "p_1", "p_2"]
    report = og.validate(adapted, "sql-edge-1.0", reference=model, data=X)
    assert report.passed, str(report)


@pytest.mark.slow
def test_conversion_made_again_for_the_cap_keeps_the_users_options() -> None:
    pytest.importorskip("torch")
    model, X, _ = og.zoo.get("pytorch-diabetes-mlp").build()
    conv = og.convert(model, X[:32], opset=17, options={"output_names": ["progression"]})
    assert conv.signature.output_names == ["progression"]
    adapted = adapt(conv, "sql-edge-1.0")  # cap 12: the model is exported again
    assert any("converted again" in w for w in adapted.warnings)
    assert adapted.opsets[""] <= 12
    assert adapted.signature.output_names == ["progression"]
    assert og.validate(adapted, "sql-edge-1.0", reference=model, data=X).passed


@pytest.mark.slow
def test_dataframe_pipeline_keeps_its_columns_and_types() -> None:
    model, X, _ = og.zoo.get("sklearn-wine-columntransformer").build()
    conv = og.convert(model, X[:20], target="sql-edge-2.0")
    sig = conv.signature
    assert sig.input_names == [str(c) for c in X.columns]
    assert sig.input("proline").elem_type == "int64" and sig.input("alcohol").elem_type == "float64"
    assert sig.output_names == ["label", "p_0", "p_1", "p_2"]
    assert og.validate(conv, "sql-edge-2.0", reference=model, data=X).passed


def test_an_output_that_is_not_a_tensor_and_not_zipmap_is_refused() -> None:
    import onnx
    from onnx import TensorProto, helper

    # a sequence whose length the graph does not fix (SplitToSequence); one SequenceConstruct writes is split
    node = helper.make_node("SplitToSequence", ["x"], ["seq"], axis=0)
    out = helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    with pytest.raises(UnsupportedModelError, match=r"output 'seq' is a sequence, not a tensor"):
        adapt(model, "sql-edge-2.0")


def test_a_multi_input_model_adapted_for_sql_validates_and_packages_with_its_native_dict(tmp_path: Path) -> None:
    # {"a": [N,3], "b": [N,2]} became a_0..a_2, b_0, b_1: validate and package refused the very sample it was
    # converted from ("missing ['a_0', ...], unknown ['a', 'b']")
    torch = pytest.importorskip("torch")

    class Two(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(5, 1)

        def forward(self, a: Any, b: Any) -> Any:
            return self.linear(torch.cat([a, b], 1))

    torch.manual_seed(0)
    net = Two().eval()
    rng = np.random.default_rng(0)
    data = {"a": rng.normal(size=(40, 3)).astype(np.float32), "b": rng.normal(size=(40, 2)).astype(np.float32)}
    conv = og.convert(net, {k: v[:4] for k, v in data.items()}, target="sql-edge-2.0")
    assert conv.signature.input_names == ["a_0", "a_1", "a_2", "b_0", "b_1"]
    assert og.validate(conv, target="sql-edge-2.0").passed
    assert og.validate(conv, target="sql-edge-2.0", reference=net, data=data).passed
    import copy

    swapped = copy.deepcopy(conv.model)  # the table columns a_0 and a_2 swapped: the native dict still says which
    renames = {"a_0": "a_2", "a_2": "a_0"}
    for node in swapped.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
    for value in swapped.graph.input:
        value.name = renames.get(value.name, value.name)
    assert not og.validate(swapped, target="sql-edge-2.0", reference=net, data=data).check("prediction_parity")
    assert og.package(conv, target="sql-edge-2.0", out=tmp_path / "sql").is_dir()


def test_a_text_column_the_target_cannot_hold_is_refused_by_the_users_own_name() -> None:
    # the refusal named the exporter's input ('my_cat'; 'B1' for 'B' beside 'b'), not the column the user has; free
    # text (a TfidfVectorizer's) has no codes to take (a one-hot encoded column takes its codes on SQL Edge)
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    frame = pd.DataFrame({"b": [0.5, 1.5, 2.5, 3.5], "my cat": ["red", "blue", "red", "blue"]})
    model = make_pipeline(make_column_transformer((TfidfVectorizer(), "my cat"), remainder="passthrough"),
                          LogisticRegression()).fit(frame, [0, 1, 0, 1])
    with pytest.raises(UnsupportedModelError, match=r"^column 'my cat': the model reads string values"):
        og.convert(model, frame, target="sql-edge-2.0")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("dtype", ["Int64", "boolean"])
def test_a_nullable_column_holding_missing_values_keeps_the_models_float_input_on_sql(dtype: str) -> None:
    # pandas' Int64/boolean columns with <NA>: scikit-learn reads them as float64 NaN and the plain file takes
    # float64, but the SQL file made them int64 columns, so validate refused the training rows
    # ("column 'count' has 15 missing ... input 'count' is int64; fill or drop them first"; audit helper-328)
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    values = rng.integers(0, 9, 200) if dtype == "Int64" else rng.random(200) > 0.5
    frame = pd.DataFrame({"x": rng.normal(size=200), "n": pd.array(values, dtype=dtype)})
    frame.loc[frame.index[::10], "n"] = pd.NA
    y = (frame.x > 0).to_numpy() ^ (frame.n.astype("Float64").fillna(0) > (4 if dtype == "Int64" else 0.5)).to_numpy()
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(frame, y)
    sql = og.convert(model, frame.head(20), target="sql-edge-2.0")
    assert {i.name: i.elem_type for i in sql.signature.inputs}["n"] == "float64"
    report = og.validate(sql, target="sql-edge-2.0", reference=model, data=frame)
    assert report.passed, report.summary()


def _three_axes_sum(flattened: bool) -> Any:
    """y = the sum of each row's [5,3] values; ``flattened``: the model takes them as [N,15] and reshapes them to
    [N,5,3] first, as the refusal of the [N,5,3] input says to."""
    from onnx import TensorProto, helper

    shape = ["N", 15] if flattened else ["N", 5, 3]
    nodes = [helper.make_node("Reshape", ["x", "to_three_axes"], ["rows"])] if flattened else []
    nodes += [helper.make_node("ReduceSum", ["rows" if flattened else "x", "last"], ["per_five"], keepdims=0),
              helper.make_node("ReduceSum", ["per_five", "second"], ["y"], keepdims=1)]
    graph = helper.make_graph(
        nodes, "three_axes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor("last", TensorProto.INT64, [1], [2]), helper.make_tensor("second", TensorProto.INT64,
                                                                                      [1], [1]),
         helper.make_tensor("to_three_axes", TensorProto.INT64, [3], [-1, 5, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)


def test_an_input_of_three_axes_is_refused_saying_how_to_flatten_it_and_the_flattened_one_adapts() -> None:
    with pytest.raises(UnsupportedModelError, match=r"input 'x' has shape \['N', 5, 3\]; .*\[N,k\] with a fixed k: "
                                                    r"flatten input 'x' to \[N,15\] in the model before export.*"
                                                    r"container target, which takes \[N,5,3\]"):
        adapt(_three_axes_sum(False), "sql-edge-2.0")
    adapted = adapt(_three_axes_sum(True), "sql-edge-2.0")  # the fix said: 15 columns
    assert len(Signature.from_model(adapted).inputs) == 15
    assert og.validate(adapted, target="sql-edge-2.0").passed

"""The ONNX checker on models holding tree ensembles reads their skeleton and checks the trees'
attributes against their schema itself (``onnxgate._onnx.check_model``): it refuses what the full
checker refuses there, and passes what it passes."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxgate as og
from onnxgate._onnx import check_model, tree_skeleton


def _forest() -> Any:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    return og.convert(RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y), X[:5]).model


def _tree(model: onnx.ModelProto) -> Any:
    return next(n for n in model.graph.node if n.op_type.startswith("TreeEnsemble"))


@pytest.mark.parametrize("name", ["sklearn-breast-cancer-lightgbm-pipeline", "xgboost-breast-cancer-classifier",
                                  "catboost-iris-classifier", "lightgbm-diabetes-regressor"])
def test_converted_tree_models_pass_both_checkers(name: str) -> None:
    pytest.importorskip(name.split("-")[0] if not name.startswith("sklearn") else "lightgbm")
    model, X, _ = og.zoo.get(name).build()
    proto = og.convert(model, X[:5]).model
    onnx.checker.check_model(proto)
    check_model(proto)
    assert tree_skeleton(proto).ByteSize() < proto.ByteSize()


def test_a_tree_attribute_of_the_wrong_type_is_refused_as_the_full_checker_refuses_it() -> None:
    proto = _forest()
    tree = _tree(proto)
    values = next(a for a in tree.attribute if a.name == "nodes_values")
    wrong = helper.make_attribute("nodes_values", [int(v) for v in values.floats])  # INTS, not FLOATS
    tree.attribute.remove(values)
    tree.attribute.append(wrong)
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(proto)
    with pytest.raises(onnx.checker.ValidationError, match=r"'nodes_values' is of type 7, its schema says 6"):
        check_model(proto)


def test_an_unknown_tree_attribute_and_a_broken_edge_are_refused() -> None:
    proto = _forest()
    _tree(proto).attribute.append(helper.make_attribute("nodes_colour", [1, 2, 3]))
    with pytest.raises(onnx.checker.ValidationError, match=r"unrecognized attribute 'nodes_colour'"):
        check_model(proto)
    proto = _forest()
    _tree(proto).input[0] = "nowhere"  # the tree reads a tensor no node writes
    with pytest.raises(onnx.checker.ValidationError):
        check_model(proto)


def test_a_model_without_trees_is_checked_whole() -> None:
    from sklearn.linear_model import LinearRegression

    X = np.random.default_rng(0).normal(size=(20, 3))
    proto = og.convert(LinearRegression().fit(X, X.sum(axis=1)), X[:5]).model
    check_model(proto)
    proto.graph.node[0].input[0] = "nowhere"
    with pytest.raises(onnx.checker.ValidationError):
        check_model(proto)


def test_a_tree_attribute_holding_two_kinds_of_value_is_refused_and_a_documented_one_passes() -> None:
    proto = _forest()
    values = next(a for a in _tree(proto).attribute if a.name == "nodes_values")
    values.doc_string = "thresholds"  # a field beside the value that is no value: both checkers pass it
    onnx.checker.check_model(proto)
    check_model(proto)
    values.ints.extend([1, 2])  # FLOATS holding ints too
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(proto)
    with pytest.raises(onnx.checker.ValidationError, match=r"'nodes_values' holds more than one kind of value"):
        check_model(proto)


def test_a_tree_model_with_a_metadata_key_twice_is_refused_as_the_full_checker_refuses_it() -> None:
    """The skeleton keeps the model's metadata (and functions, docs): it left them out, and a tree model holding a
    metadata key twice passed the check the full checker fails."""
    proto = _forest()
    for _ in range(2):
        entry = proto.metadata_props.add()
        entry.key, entry.value = "owner", "x"
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(proto)
    with pytest.raises(onnx.checker.ValidationError, match="duplicate keys in metadata_props"):
        check_model(proto)


@pytest.mark.parametrize("name", ["sklearn-diabetes-rf", "sklearn-breast-cancer-lightgbm-pipeline",
                                  "xgboost-breast-cancer-classifier", "catboost-iris-classifier",
                                  "lightgbm-wine-classifier"])
def test_a_tree_model_above_the_size_limit_is_refused_by_its_size_and_one_below_it_passes(name: str) -> None:
    """check_model bounds a tree model's size without serializing its trees; the bound is never below the
    size: at the exact size the model passes, one byte less and it is refused naming its size."""
    from onnxgate._onnx import ModelTooLargeError

    pytest.importorskip(name.split("-")[0] if not name.startswith("sklearn") else "lightgbm")
    model, X, _ = og.zoo.get(name).build()
    proto = og.convert(model, X[:5]).model
    size = proto.ByteSize()
    check_model(proto, size_limit=size)
    with pytest.raises(ModelTooLargeError) as err:
        check_model(proto, size_limit=size - 1)
    assert err.value.size == size


def test_a_converted_tree_model_above_the_limit_is_refused_with_its_size(monkeypatch) -> None:
    from onnxgate import _onnx

    monkeypatch.setattr(_onnx, "MODEL_BYTES_LIMIT", 4000)
    with pytest.raises(og.UnsupportedModelError, match=r"the model the sklearn exporter wrote is [\d,]+ bytes"):
        _forest()


def _regressor_with_negative_ids(n: int) -> onnx.ModelProto:
    """A TreeEnsembleRegressor of ``n`` leaves whose integer lists hold -1 (10-byte varints: the size bound's count of
    them is exact, leaving it no slack), above the 256 kB under which check_model measures a model whole."""
    ints = [-1] * n
    node = helper.make_node("TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", n_targets=1,
                            nodes_featureids=ints, nodes_modes=["LEAF"] * n, nodes_nodeids=ints, nodes_treeids=ints,
                            nodes_values=[0.0] * n, nodes_truenodeids=ints, nodes_falsenodeids=ints,
                            target_ids=ints, target_nodeids=ints, target_treeids=ints, target_weights=[1.0] * n)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 1])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 3)],
                             ir_version=8)


@pytest.mark.parametrize("field", ["doc_string", "ref_attr_name"])
def test_a_tree_list_documented_in_non_ascii_text_is_not_counted_smaller_than_it_is(field: str) -> None:
    """The bound counted a list attribute's doc text by its characters: 300,000 '€' are 900,000 bytes, and a model
    of 1,940,393 bytes passed a size limit of 1,340,706."""
    from onnxgate._onnx import ModelTooLargeError

    proto = _regressor_with_negative_ids(10_000)
    attr = next(a for a in proto.graph.node[0].attribute if a.name == "nodes_values")
    setattr(attr, field, "\u20ac" * 300_000)
    size = proto.ByteSize()
    with pytest.raises(ModelTooLargeError) as err:
        check_model(proto, size_limit=size - 1)
    assert err.value.size == size


@pytest.mark.parametrize("where", ["model", "graph", "node", "attribute"])
def test_a_tree_model_holding_fields_this_onnx_does_not_know_is_measured_whole(where: str) -> None:
    """A file a newer onnx wrote may hold fields this one does not know: serialized again, not in the skeleton nor in
    the count: a model of 7,600,437 bytes (3 MB of them unknown) passed a size limit of 5,320,305."""
    from google.protobuf.internal.encoder import _VarintBytes

    from onnxgate._onnx import ModelTooLargeError

    proto = _regressor_with_negative_ids(10_000)
    unknown = b"\xa2\x06" + _VarintBytes(3_000_000) + b"z" * 3_000_000  # field 100, 3 MB of bytes
    message = {"model": proto, "graph": proto.graph, "node": proto.graph.node[0],
               "attribute": next(a for a in proto.graph.node[0].attribute if a.name == "nodes_values")}[where]
    message.ParseFromString(message.SerializeToString() + unknown)
    size = proto.ByteSize()
    with pytest.raises(ModelTooLargeError) as err:
        check_model(proto, size_limit=size - 1)
    assert err.value.size == size
    check_model(proto, size_limit=size)


@pytest.mark.parametrize("trees", [5, 10_000], ids=["small-checked-whole", "large-checked-as-skeleton"])
def test_a_tree_attribute_given_twice_is_refused_as_the_full_checker_refuses_it(trees: int) -> None:
    """A tree node listing ``nodes_values`` twice (which of the two does a runtime read?) passed the skeleton's check,
    whose attribute check kept the last one seen; the full checker refuses it. Refused now at both sizes: a small
    model is checked whole, a large one as its skeleton."""
    proto = _forest() if trees == 5 else _regressor_with_negative_ids(trees)
    _tree(proto).attribute.append(helper.make_attribute("nodes_values", [0.5]))
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(proto)
    with pytest.raises(onnx.checker.ValidationError, match=r"attribute 'nodes_values' appears more than once"):
        check_model(proto)


def test_small_and_large_tree_models_are_checked_whole_and_as_their_skeleton(monkeypatch) -> None:
    """A tree model of few nodes is serialized and checked whole, cheaper than building its skeleton (the forest:
    no skeleton is made); a large one is checked as its skeleton, without serializing its lists."""
    from onnxgate import _onnx

    skeletons: list[Any] = []
    monkeypatch.setattr(_onnx, "tree_skeleton", lambda proto: skeletons.append(proto) or tree_skeleton(proto))
    check_model(_forest(), size_limit=_onnx.MODEL_BYTES_LIMIT)
    assert skeletons == []
    large = _regressor_with_negative_ids(_onnx._CHECKED_WHOLE_NODES + 1)
    check_model(large, size_limit=_onnx.MODEL_BYTES_LIMIT)
    assert skeletons == [large]

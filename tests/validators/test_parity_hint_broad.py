"""The precision hint of a failed parity check does not put a broad failure down to float32 rounding."""

from __future__ import annotations

import onnxgate as og


def test_a_failure_broader_than_rounding_is_not_put_down_to_it() -> None:
    # OneVsRestClassifier(LinearSVC): every row's scores off by up to 7.8; the hint said float32 rounding
    # and "if the differences are acceptable, pass atol/rtol"
    # (skl2onnx's file, read its scores as probabilities); onnxgate's file is right, so its first member's
    # coefficients are tripled here
    from onnx import numpy_helper
    from sklearn.datasets import load_iris, load_wine
    from sklearn.impute import KNNImputer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    X, y = load_iris(return_X_y=True)
    model = OneVsRestClassifier(LinearSVC()).fit(X, y)
    conv = og.convert(model, X[:5], precision="float32")  # a float32 file, whose hint is at stake
    coef = next(t for t in conv.model.graph.initializer if list(t.dims) == [4, 1])
    coef.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(coef) * 3, coef.name))
    parity = og.validate(conv, data=X, reference=model).check("prediction_parity")
    assert not parity.passed
    assert "the conversion itself may be wrong" in parity.message and "pass atol/rtol" not in parity.message
    # rounding spread thin over every row keeps the tolerance advice: a float32 KNNImputer recorded as a model
    # skl2onnx cannot write in double, checked at tolerances below float32's (PowerTransformer, then KNNImputer,
    # were such models until each got a double form)
    from onnxgate.converters._sklearn_graph import set_metadata
    from onnxgate.converters.sklearn import PRECISION_METADATA_KEY

    wine, _ = load_wine(return_X_y=True)
    rounded = KNNImputer().fit(wine)
    conv = og.convert(rounded, wine[:5], precision="float32")
    set_metadata(conv.model, PRECISION_METADATA_KEY, "float32-from-float64:no-double")
    parity = og.validate(conv, data=wine, reference=rounded, atol=1e-9, rtol=1e-9).check("prediction_parity")
    assert "pass atol/rtol" in parity.message and "may be wrong" not in parity.message


def test_a_moved_threshold_is_not_sent_to_a_double_graph() -> None:
    # a forest's thresholds moved: 100s of rows off by up to ~20, and the hint recommended precision='float64'
    # (helper-76); the median error stayed small, the largest did not
    import numpy as np
    from onnx import helper
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    X, y = load_diabetes(return_X_y=True)
    model = RandomForestRegressor(10, random_state=0).fit(X, y)
    conv = og.convert(model, X[:5], precision="float32")
    node = next(n for n in conv.model.graph.node if n.op_type.startswith("TreeEnsemble"))
    for i, attribute in enumerate(node.attribute):
        if attribute.name == "nodes_values":
            moved = (np.asarray(attribute.floats) + 0.02).tolist()
            node.attribute[i].CopyFrom(helper.make_attribute("nodes_values", moved))
    parity = og.validate(conv.model, data=X, reference=model).check("prediction_parity")
    assert not parity.passed
    assert "the conversion itself may be wrong" in parity.message and "precision='float64'" not in parity.message

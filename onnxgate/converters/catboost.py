"""CatBoost converter, through CatBoost's own ONNX export (``convert_to_onnx_object``).

Policy:

* ``CatBoostClassifier``, ``CatBoostRegressor`` and the core ``CatBoost`` class (classification
  losses ``Logloss``/``CrossEntropy``/``MultiClass``, or a single-output regression loss; losses
  whose export does not reproduce CatBoost's predictions are refused by name). Numeric features only:
  CatBoost exports no categorical or text features to ONNX, and its refusal is passed on.
* One ``[N,k]`` float32 input named ``input``; a float64 sample keeps a float64 boundary with a Cast
  inside the graph; a model fitted on a DataFrame gets one ``[N,1]`` input per column from a
  DataFrame sample (as XGBoost).
* Outputs: classifiers ``label`` ``[N]`` and ``probabilities`` ``[N,k]`` (CatBoost's ZipMap is
  removed), regressors ``predictions`` ``[N,1]``.
* Opsets: CatBoost writes a fixed graph: TreeEnsemble nodes at ai.onnx.ml 2 and no default-domain
  node. The default domain is stamped at the requested opset (exact: no node in it); ai.onnx.ml is
  lowered to the requested (or the target's) ai.onnx.ml opset only when every node means the same
  there, otherwise the request is refused with an ``OpsetError``.
* Inside a scikit-learn pipeline CatBoost's tree-ensemble node is embedded in skl2onnx's graph
  (``onnxgate.converters._boosting``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate._graph import read_instead
from onnxgate.converters._base import RawConversion, _in_output_order
from onnxgate.converters._boosting import (
    BoostingConverter,
    catboost_onnx,
    drop_zipmap,
    import_library,
    input_type,
)
from onnxgate.converters.xgboost import finish
from onnxgate.errors import OpsetError, UnsupportedModelError

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["CatBoostConverter"]

_CLASSIFICATION_LOSSES = ("Logloss", "CrossEntropy", "MultiClass")
#: Losses whose export does not reproduce CatBoost's predict (measured), and why.
_REFUSED_LOSSES = {
    "Poisson": "CatBoost predicts exp(raw) for it, its ONNX export writes the raw value",
    "Tweedie": "CatBoost predicts exp(raw) for it, its ONNX export writes the raw value",
    "MultiClassOneVsAll": "its ONNX export writes softmax probabilities, CatBoost predicts per-class sigmoids",
    "RMSEWithUncertainty": "its ONNX export is ill-typed (two outputs through a classifier node)",
    "MultiRMSE": "its ONNX export is ill-typed (several targets through a classifier node)",
}


def loss_of(model: Any) -> str:
    """The loss function's name as CatBoost resolved it (``"MultiClass"`` for a classifier given none)."""
    try:
        # what CatBoost's own predict reads; a third of the cost of the full params dump
        name = model._object._get_loss_function_name()
    except Exception:  # another CatBoost version: the documented (slower) way
        name = model.get_all_params().get("loss_function", "")
    return str(name).split(":")[0]


class CatBoostConverter(BoostingConverter):
    framework = "catboost"
    MODULE_PREFIXES = ("catboost.",)
    FILE_SUFFIXES = (".cbm",)

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        catboost = import_library("catboost", "Loading a CatBoost model")
        model = catboost.CatBoost()
        self.read_native(path, "CatBoost", model.load_model)
        return model

    def save_native(self, model: Any, folder: Path) -> Path:
        path = folder / "model.cbm"
        model.save_model(str(path))
        return path

    def is_classifier(self, model: Any) -> bool:
        if type(model).__name__ == "CatBoostClassifier":
            return True
        if type(model).__name__ == "CatBoostRegressor":
            return False
        return loss_of(model) in _CLASSIFICATION_LOSSES

    def check_model(self, model: Any) -> None:
        if not hasattr(model, "is_fitted") or not hasattr(model, "get_all_params"):
            raise UnsupportedModelError(
                f"expected a CatBoost model (CatBoostClassifier, CatBoostRegressor or CatBoost); found "
                f"{type(model).__name__}",
                framework=self.framework,
            )
        if not model.is_fitted():
            raise UnsupportedModelError(
                f"{type(model).__name__} is not fitted: expected a fitted model. Call .fit(X, y) first.",
                framework=self.framework,
            )
        scale = _scale_of(model)
        if scale != 1.0:
            raise UnsupportedModelError(
                f"CatBoost scale {scale} (set_scale_and_bias): CatBoost's ONNX export writes unscaled trees only "
                "and refuses the model. Set the scale back with model.set_scale_and_bias(1.0, bias) and scale "
                "the predictions where they are used, or refit.",
                framework=self.framework,
            )
        classes = getattr(model, "classes_", None) if hasattr(model, "predict_proba") else None
        kind = getattr(getattr(classes, "dtype", None), "kind", "")
        if kind == "b":
            raise UnsupportedModelError(
                f"{type(model).__name__} was fitted on bool labels, which CatBoost's ONNX export refuses "
                "('Unexpected label type'). Refit on integer labels (y.astype(int)) and read 1 as True.",
                framework=self.framework,
            )
        if kind == "f":  # "ONNX format does not support floating-point labels" (helper-116)
            raise UnsupportedModelError(
                f"{type(model).__name__} was fitted on float labels "
                f"{[] if classes is None else list(classes)[:5]}, which CatBoost's ONNX export refuses. Refit on "
                "integer or text labels (the class indices, numpy.unique(y, return_inverse=True)[1], or "
                "y.astype(str)) and map them back where they are used.",
                framework=self.framework,
            )
        loss = loss_of(model)
        why = _REFUSED_LOSSES.get(loss)
        if why is None and ("Rank" in loss or "Pair" in loss or loss.startswith("Multi")) and loss != "MultiClass":
            why = "ranking and multi-output losses have no single-output ONNX form in CatBoost's export"
        if why is not None:
            raise UnsupportedModelError(
                f"CatBoost loss {loss!r} is not supported: {why}. Supported: classification losses "
                f"{list(_CLASSIFICATION_LOSSES)} and single-output regression losses (RMSE, MAE, Quantile, "
                "Huber, MAPE, Lq, LogLinQuantile...).",
                framework=self.framework,
            )

    def convert(
        self,
        model: Any,
        sample: Any,
        *,
        opset: int,
        ml_opset: int,
        name: str | None,
        options: Mapping[str, Any],
    ) -> RawConversion:
        from onnxgate._onnx import ir_version_for_opset

        self.check_options(options, ("input_name",))
        n_features = len(model.feature_names_) if getattr(model, "feature_names_", None) else None
        array = self.sample_array(model, sample, n_features)
        columns = self.frame_columns(model, sample)
        input_name = str(options.get("input_name", "input"))
        _dtype, boundary = input_type(array)
        proto = catboost_onnx(model)
        if name:
            proto.graph.name = name
        _rename_input(proto, input_name)
        if self.is_classifier(model):
            drop_zipmap(proto, "probabilities")
            _binary_bias_into_leaves(proto)
            _binary_labels_as_classes(proto, getattr(model, "classes_", None))
        else:
            _regression_output_rank_two(proto)
        _lower_ml_opset(proto, ml_opset, opset)
        proto.ir_version = max(int(proto.ir_version), ir_version_for_opset(opset))
        return finish(proto, opset, input_name, boundary, columns, "catboost")

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        import numpy as np

        X = self.native_input(feeds, signature, model)
        if self.is_classifier(model):
            if type(model).__name__ == "CatBoostClassifier":
                label = np.asarray(model.predict(X)).reshape(-1)
                proba = np.asarray(model.predict_proba(X))
            else:
                label = np.asarray(model.predict(X, prediction_type="Class")).reshape(-1)
                proba = np.asarray(model.predict(X, prediction_type="Probability"))
            return _in_output_order(["label", "probabilities"], [label, proba], signature)
        return _in_output_order(["predictions"], [np.asarray(model.predict(X)).reshape(len(X), -1)], signature)


def _binary_bias_into_leaves(proto: Any) -> None:
    """CatBoost's export writes a binary classifier's bias (``boost_from_average=True``,
    ``set_scale_and_bias(1, b)``) as the TreeEnsembleClassifier's two ``base_values``, and onnxruntime's binary
    path then scores another model: 787 of 800 labels flipped. The same scores without ``base_values``: each
    class's base value added to that class's weight on every leaf of the first tree (one leaf per row)."""
    from onnx import helper

    for node in proto.graph.node:
        if node.op_type != "TreeEnsembleClassifier":
            continue
        attrs = {a.name: a for a in node.attribute}
        base = list(attrs["base_values"].floats) if "base_values" in attrs else []
        labels = attrs.get("classlabels_int64s") or attrs.get("classlabels_strings")
        n_labels = len(labels.ints) + len(labels.strings) if labels is not None else 0
        if n_labels != 2 or len(base) != 2:
            continue
        treeids = list(attrs["class_treeids"].ints)
        nodeids = list(attrs["class_nodeids"].ints)
        classids = list(attrs["class_ids"].ints)
        weights = list(attrs["class_weights"].floats)
        first = min(attrs["nodes_treeids"].ints)
        leaves = {n for t, n, mode in zip(attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints,
                                          attrs["nodes_modes"].strings) if t == first and mode == b"LEAF"}
        seen = set()
        for i, (t, n, c) in enumerate(zip(treeids, nodeids, classids)):
            if t == first and n in leaves:
                weights[i] += base[c]
                seen.add((n, c))
        for n in sorted(leaves):
            for c in (0, 1):
                if (n, c) not in seen and base[c]:
                    treeids.append(first)
                    nodeids.append(n)
                    classids.append(c)
                    weights.append(base[c])
        keep = [a for a in node.attribute
                if a.name not in ("base_values", "class_treeids", "class_nodeids", "class_ids", "class_weights")]
        del node.attribute[:]
        node.attribute.extend(keep)
        node.attribute.extend([helper.make_attribute("class_treeids", treeids),
                               helper.make_attribute("class_nodeids", nodeids),
                               helper.make_attribute("class_ids", classids),
                               helper.make_attribute("class_weights", weights)])


def _binary_labels_as_classes(proto: Any, classes: Any) -> None:
    """CatBoost's export writes a binary classifier's label as the class's index (0 or 1), whatever the
    classes: a model fitted on -1/1 or 7/42 answered 0/1. The index picks the class (Gather)."""
    import numpy as np
    from onnx import TensorProto

    from onnxgate._graph import output_after

    values = np.asarray(classes) if classes is not None else None
    if values is None or len(values) != 2 or values.dtype.kind not in "iu" or values.tolist() == [0, 1]:
        return
    graph = proto.graph
    label = next((o for o in graph.output if o.type.tensor_type.elem_type == TensorProto.INT64), None)
    if label is None:
        return
    output_after(graph, label.name, "Gather", [values.astype(np.int64), None], was="index", node="from_index", axis=0)


def _rename_input(proto: Any, new: str) -> None:
    graph = proto.graph
    old = graph.input[0].name
    if old == new:
        return
    graph.input[0].name = new
    read_instead(graph, old, new)


def _regression_output_rank_two(proto: Any) -> None:
    """CatBoost declares the regressor's output ``[N]``; TreeEnsembleRegressor writes ``[N,1]``."""
    from onnx import TensorProto, helper

    graph = proto.graph
    out = graph.output[0]
    graph.output.remove(out)
    graph.output.insert(0, helper.make_tensor_value_info(out.name, TensorProto.FLOAT, ["N", 1]))


def _lower_ml_opset(proto: Any, ml_opset: int, opset: int) -> None:
    """Stamp ai.onnx.ml at ``ml_opset`` when CatBoost wrote a higher one and every node means the same
    there; refuse otherwise (CatBoost's export has no lower-version form)."""
    from onnx import defs

    from onnxgate._onnx import ML_DOMAIN, model_opsets

    have = model_opsets(proto).get(ML_DOMAIN)
    if have is None or have <= ml_opset:
        return
    for node in proto.graph.node:
        if node.domain != ML_DOMAIN:
            continue
        try:
            same = defs.get_schema(node.op_type, have, ML_DOMAIN).since_version == defs.get_schema(
                node.op_type, ml_opset, ML_DOMAIN
            ).since_version
        except Exception:
            same = False
        if not same:
            raise OpsetError(
                f"CatBoost writes {node.op_type} at ai.onnx.ml {have}, which has no equivalent at ai.onnx.ml "
                f"{ml_opset} (the one opset {opset} or the target allows); CatBoost's export cannot be "
                "written lower. Ask for a higher opset or a target that accepts ai.onnx.ml "
                f"{have}.",
                opset=opset,
                framework="catboost",
            )
    for entry in proto.opset_import:
        if entry.domain == ML_DOMAIN:
            entry.version = ml_opset


def _scale_of(model: Any) -> float:
    """The scale ``set_scale_and_bias`` gave ``model`` (1.0 when this CatBoost cannot say)."""
    try:
        return float(model.get_scale_and_bias()[0])
    except Exception:
        return 1.0

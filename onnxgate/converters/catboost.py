"""CatBoost converter, through CatBoost's own ONNX export (``convert_to_onnx_object``).

Policy:

* ``CatBoostClassifier``, ``CatBoostRegressor`` and the core ``CatBoost`` class (classification
  losses ``Logloss``/``CrossEntropy``/``MultiClass``/``MultiClassOneVsAll``, a regression loss, or a multi-target
  one ``MultiRMSE``/``MultiRMSEWithMissingValues``/``MultiQuantile``, or a multi-label one
  ``MultiLogloss``/``MultiCrossEntropy``), and ``CatBoostRanker`` or the core class of a ranking loss (``YetiRank``,
  ``YetiRankPairwise``, ``PairLogit``, ``PairLogitPairwise``, ``QueryRMSE``, ``QuerySoftMax``, ``StochasticFilter``,
  ``StochasticRank``, ``LambdaMart``, ``GroupQuantile``), whose export answers the raw score ``predict`` does, as a
  regressor's. Refused by name: a ``CatBoostClassifier`` holding a ranker's or regressor's model (loaded from its
  file; it has no classes and its predict fails), and a loss named ``Multi...`` other than those above. Where
  CatBoost's export writes another answer than ``predict``, the graph is completed: ``Poisson`` and ``Tweedie`` answer
  ``exp(raw)`` (an Exp after the trees: ``CatBoostRegressor.predict``, the core class's
  ``prediction_type='Exponent'``), ``MultiClassOneVsAll`` the per-class sigmoids of the raw values (rows not
  summing to 1, as ``predict_proba``) and the class of the largest, where the export wrote their softmax;
  multi-target losses and ``RMSEWithUncertainty``, which the export writes through a TreeEnsembleClassifier, a
  softmax and a ZipMap, answer from a TreeEnsembleRegressor of one target per value: ``predictions`` ``[N,k]``,
  for ``RMSEWithUncertainty`` the mean and the variance ``exp(2 * raw)`` (``CatBoostRegressor.predict``, the core
  class's ``prediction_type='RMSEWithUncertainty'``); multi-label losses answer, from the same regressor, ``label``
  int64 ``[N,k]`` (the raw value above the logit of the probability threshold: ``predict``'s probability above it)
  and ``probabilities`` ``[N,k]``, each label's sigmoid (``predict_proba``). Refused by name: a multi-label model of
  one label column (its predict answers as a binary classifier), and one whose trees split on CTRs (CatBoost's
  JSON export writes every label's CTRs under one name with one table).
* Categorical features (``cat_features``), which CatBoost's ONNX export refuses: the model is built from
  CatBoost's JSON export (see the section below), from a DataFrame sample holding every category the trees
  read (the training frame): one input per column, a categorical one of its values' type (string or int64)
  mapped by LabelEncoders to its one-hot codes and one-feature CTR values (Borders, Buckets, Counter,
  BinarizedTargetMeanValue), the oblivious trees as a TreeEnsembleRegressor of the raw values, then the
  sigmoid or softmax and the label; an unseen category gets CatBoost's value for it. Refused by name: CTRs
  over combinations of features (``max_ctr_complexity`` above 1), trees that are not symmetric
  (``grow_policy`` Depthwise or Lossguide), text and embedding features, a sample
  lacking categories. A model fitted on an array (or numbered columns) converts from an array of its columns
  in order; a boolean categorical column is read as CatBoost reads it, as the category 1 or 0.
* Refused by name for every model, before the sample is read (:meth:`CatBoostConverter.check_model`): text and
  embedding features, and trees that are not symmetric (``grow_policy`` Depthwise or Lossguide), which
  CatBoost's own export refuses too.
* One ``[N,k]`` float32 input named ``input``; a float64 sample keeps a float64 boundary with a Cast
  inside the graph; a model fitted on a DataFrame gets one ``[N,1]`` input per column from a
  DataFrame sample (as XGBoost).
* Outputs: classifiers ``label`` ``[N]`` and ``probabilities`` ``[N,k]`` (CatBoost's ZipMap is
  removed), regressors ``predictions`` ``[N,1]`` (``[N,k]`` for ``k`` targets, ``[N,2]`` for RMSEWithUncertainty).
* Opsets: CatBoost writes a fixed graph: TreeEnsemble nodes at ai.onnx.ml 2 and no default-domain
  node. The default domain is stamped at the requested opset (exact: no node in it); ai.onnx.ml is
  lowered to the requested (or the target's) ai.onnx.ml opset only when every node means the same
  there, otherwise the request is refused with an ``OpsetError``.
* Inside a scikit-learn pipeline CatBoost's tree-ensemble node is embedded in skl2onnx's graph
  (``onnxgate.converters._boosting``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate._graph import output_after, read_instead
from onnxgate.converters._base import RawConversion, _in_output_order, first_line, remembered, sanitise_names
from onnxgate.converters._boosting import (
    BoostingConverter,
    _float_rows_of,
    catboost_onnx,
    drop_zipmap,
    import_library,
    input_type,
)
from onnxgate.converters.xgboost import finish
from onnxgate.errors import InvalidDataError, OpsetError, UnsupportedModelError

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["CatBoostConverter"]

_CLASSIFICATION_LOSSES = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")
#: Regression losses CatBoost predicts ``exp(raw)`` for (``CatBoostRegressor.predict``'s default, the core class's
#: ``prediction_type='Exponent'``), where its ONNX export writes the raw value: an Exp is appended.
_EXPONENT_LOSSES = ("Poisson", "Tweedie")
#: The classification loss CatBoost scores by per-class sigmoids of the raw values (``predict_proba``'s rows do not
#: sum to 1), where its ONNX export writes their softmax: completed by :func:`one_vs_all_nodes`.
_ONE_VS_ALL = "MultiClassOneVsAll"
#: Multi-target regression losses: ``predict`` answers one raw value per target (``[N,k]``), where CatBoost's export
#: writes them through a TreeEnsembleClassifier, its softmax and a ZipMap: the node is rewritten as a
#: TreeEnsembleRegressor of ``k`` targets (:func:`regressor_attributes`).
_MULTI_TARGET_LOSSES = ("MultiRMSE", "MultiRMSEWithMissingValues", "MultiQuantile")
#: The loss whose ``predict`` answers ``[mean, variance]`` per row, the variance ``exp(2 * raw)`` of the second raw
#: value (CatBoostRegressor's default, ``prediction_type='RMSEWithUncertainty'``); exported as
#: :data:`_MULTI_TARGET_LOSSES` are, then completed by :func:`uncertainty_nodes`.
_UNCERTAINTY = "RMSEWithUncertainty"
#: Multi-label losses (``y`` an ``[N,k]`` 0/1 matrix): ``predict_proba`` answers each label's sigmoid of its raw value
#: ``[N,k]`` and ``predict`` the int64 ``[N,k]`` labels, 1 where the raw value is above the logit of the probability
#: threshold (0.5, raw > 0, unless ``set_probability_threshold``; a raw value of exactly 0 is 0); CatBoost's export
#: writes a softmax over the labels and one label per row. Rewritten as :data:`_MULTI_TARGET_LOSSES` are, then
#: completed by :func:`multi_label_nodes`.
MULTI_LABEL_LOSSES = ("MultiLogloss", "MultiCrossEntropy")


def loss_of(model: Any) -> str:
    """The loss function's name as CatBoost resolved it (``"MultiClass"`` for a classifier given none); read once
    per conversion (:func:`~onnxgate.converters._base.remembered`): each read takes 40 us (measured), as long as
    CatBoost's export of a small model takes, and the conversion asked twice."""
    return str(remembered(model, "catboost loss", lambda: _read_loss(model)))


def _read_loss(model: Any) -> str:
    try:
        # what CatBoost's own predict reads; a third of the cost of the full params dump
        name = model._object._get_loss_function_name()
    except Exception:  # another CatBoost version: the documented (slower) way
        name = model.get_all_params().get("loss_function", "")
    return str(name).split(":")[0]


#: How CatBoost writes the file this converter reads, and its first bytes.
_CBM_SAVE = "model.save_model('model.cbm')"
_CBM_HOW = f"save the model again with {_CBM_SAVE}"
_CBM_MAGIC = b"CBM1"


class CatBoostConverter(BoostingConverter):
    framework = "catboost"
    MODULE_PREFIXES = ("catboost.",)
    FILE_SUFFIXES = (".cbm",)

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        self._refuse_other_than_cbm(path)  # before CatBoost is imported
        catboost = import_library("catboost", "Loading a CatBoost model")
        model = catboost.CatBoost()
        self.read_native(path, "CatBoost", model.load_model, how=_CBM_HOW)
        return model

    def _refuse_other_than_cbm(self, path: Path) -> None:
        """Refuse a file that is not a whole CatBoost model, by its header: the magic ``CBM1``, then the size of
        the model's core as a little-endian uint32. CatBoost said "util/stream/input.cpp:77: Failed to read required
        number of bytes from stream! Expected: 16376, gained: 192!" of a truncated one, "can not load pod type(4, 0
        bytes)" of an empty one (helper-292)."""
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                head = handle.read(8)
        except OSError:
            return  # CatBoost says what it cannot read
        if not head.startswith(_CBM_MAGIC):
            self.refuse_content(path, "a CatBoost model file",
                                f"the binary file that {_CBM_SAVE} writes (it starts with {_CBM_MAGIC.decode()!r})",
                                f"Give that file, or {_CBM_HOW}")
        core = int.from_bytes(head[4:8], "little") if len(head) == 8 else None
        if core is None or size < 8 + core:
            raise UnsupportedModelError(
                f"{str(path)!r} is a truncated CatBoost model: its header announces {core or 0:,} bytes of model, the "
                f"file holds {max(size - 8, 0):,}. Copy the whole file again, or {_CBM_HOW}",
                path=str(path), framework=self.framework,
            )

    def save_native(self, model: Any, folder: Path) -> Path:
        path = folder / "model.cbm"
        model.save_model(str(path))
        return path

    def is_classifier(self, model: Any) -> bool:
        if type(model).__name__ == "CatBoostClassifier":
            return True
        if type(model).__name__ == "CatBoostRegressor":
            return False
        return loss_of(model) in _CLASSIFICATION_LOSSES + MULTI_LABEL_LOSSES

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
        text = {kind: _feature_indices(model, kind) for kind in ("text", "embedding")}
        if any(text.values()):
            # refused here, before the sample is read: a numeric model's refusal of its text column said the
            # model "reads no categorical features" and nothing of its text features (helper-187)
            names = list(getattr(model, "feature_names_", None) or [])
            found = ", ".join(f"{kind}_features={[names[i] if i < len(names) else i for i in at]}"
                              for kind, at in text.items() if at)
            raise UnsupportedModelError(
                f"{type(model).__name__} reads text or embedding features ({found}), which have no ONNX form: "
                "CatBoost's ONNX export refuses "
                "them, and onnxgate converts numeric and categorical features only. Refit with those columns as "
                "categorical features (cat_features=) or as numbers",
                framework=self.framework,
            )
        if not _symmetric(model):
            # CatBoost's export refused with "available only for models on oblivious trees", which names no
            # setting (helper-187)
            raise UnsupportedModelError(
                f"CatBoost trees that are not symmetric (grow_policy={_grow_policy(model)!r}) have no ONNX form: "
                "CatBoost's own ONNX export refuses them ('ONNX-ML export is available only for models on oblivious "
                "trees'), and onnxgate writes oblivious trees only. Refit with "
                "grow_policy='SymmetricTree' (the default)",
                framework=self.framework,
            )
        scale = _scale_of(model)
        if scale != 1.0 and not cat_feature_indices(model):  # the graph built for categories scales its leaves
            raise UnsupportedModelError(
                f"CatBoost scale {scale} (set_scale_and_bias): CatBoost's ONNX export writes unscaled trees only "
                "and refuses the model. Set the scale back with model.set_scale_and_bias(1.0, bias) and scale "
                "the predictions where they are used, or refit.",
                framework=self.framework,
            )
        loss = loss_of(model)
        classes = getattr(model, "classes_", None) if hasattr(model, "predict_proba") else None
        if classes is not None and len(classes) == 0 and loss not in _CLASSIFICATION_LOSSES + MULTI_LABEL_LOSSES:
            # CatBoostClassifier().load_model of a ranker's or regressor's file: converted, the file answered its
            # score, and validate stopped on the reference (helper-423)
            raise UnsupportedModelError(
                f"{type(model).__name__} holds a {loss!r} model, a ranker's or regressor's, which has no "
                "classes: its predict and predict_proba fail in CatBoost ('index 0 is out of bounds'), so there is "
                "no answer for a file to match. Load the file into catboost.CatBoost, CatBoostRanker or "
                "CatBoostRegressor, whose predict answers its score: that converts, as 'predictions' [N,1]",
                framework=self.framework,
            )
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
        if loss.startswith("Multi") and loss not in _CLASSIFICATION_LOSSES + _MULTI_TARGET_LOSSES + MULTI_LABEL_LOSSES:
            # a multi-output loss a later CatBoost may add: every one checked so far needed its export rewritten
            # (ZipMap, softmax) to answer as predict does
            raise UnsupportedModelError(
                f"CatBoost loss {loss!r} is not supported: onnxgate has not checked what CatBoost's export of this "
                "multi-output loss answers against its predict. Supported multi-output losses: classification "
                f"{list(_CLASSIFICATION_LOSSES)}, multi-label {list(MULTI_LABEL_LOSSES)}, multi-target "
                f"{list(_MULTI_TARGET_LOSSES)}",
                framework=self.framework,
            )
        if loss in MULTI_LABEL_LOSSES and _label_count(model) < 2:
            raise UnsupportedModelError(
                f"CatBoost loss {loss!r} fitted on one label column: its predict answers as a binary classifier "
                "([N] labels, [N,2] probabilities), which onnxgate converts from the Logloss loss only. Refit with "
                "loss_function='Logloss' on that column (y[:, 0]).",
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
        if cat_feature_indices(model):
            return self.convert_categorical(model, sample, opset=opset, ml_opset=ml_opset, name=name, options=options)
        n_features = len(model.feature_names_) if getattr(model, "feature_names_", None) else None
        array = self.sample_array(model, sample, n_features)
        columns = self.frame_columns(model, sample)
        input_name = str(options.get("input_name", "input"))
        _dtype, boundary = input_type(array)
        proto = catboost_onnx(model)
        if name:
            proto.graph.name = name
        _rename_input(proto, input_name)
        if loss_of(model) in MULTI_LABEL_LOSSES:
            _export_as_raw_values(proto, loss_of(model), probability_threshold(model))
        elif self.is_classifier(model):
            drop_zipmap(proto, "probabilities")
            _binary_bias_into_leaves(proto)
            if loss_of(model) == _ONE_VS_ALL:
                _one_vs_all_sigmoids(proto)
            else:
                _binary_labels_by_threshold(proto, probability_threshold(model))
                _binary_labels_as_classes(proto, getattr(model, "classes_", None))
        elif loss_of(model) in (*_MULTI_TARGET_LOSSES, _UNCERTAINTY):
            _export_as_raw_values(proto, loss_of(model))
        else:
            _regression_output_rank_two(proto)
            if loss_of(model) in _EXPONENT_LOSSES:
                output_after(proto.graph, proto.graph.output[0].name, "Exp", was="raw", node="exp")
        _lower_ml_opset(proto, ml_opset, opset)
        proto.ir_version = max(int(proto.ir_version), ir_version_for_opset(opset))
        return finish(proto, opset, input_name, boundary, columns, "catboost")

    def convert_categorical(self, model: Any, sample: Any, *, opset: int, ml_opset: int, name: str | None,
                            options: Mapping[str, Any]) -> RawConversion:
        """A model with categorical features, built from CatBoost's JSON export (:class:`_CategoricalModel`)."""
        from onnxgate._data import is_dataframe
        from onnxgate._onnx import ml_opset_for
        from onnxgate.converters._boosting import CATEGORY_ML_OPSET

        columns = self.frame_columns(model, sample)
        if columns is None:
            sample, columns = _by_position(model, sample)
        if not is_dataframe(sample) or columns is None:
            raise InvalidDataError(
                f"{type(model).__name__} reads categorical features "
                f"({[model.feature_names_[i] for i in cat_feature_indices(model)]}); onnxgate converts it from a "
                "DataFrame sample holding every category the model was fitted on, one input per column (or, for a "
                "model fitted on an array, an array of its columns in training order). Pass the frame or array the "
                "model was fitted on as the sample (convert(model, X_train))"
            )
        if "input_name" in options:
            raise UnsupportedModelError(
                "option 'input_name' names the one [N,k] input of a numeric model; a model with categorical features "
                "gets one input per DataFrame column, named after it. Leave the option out",
                framework=self.framework,
            )
        if ml_opset < CATEGORY_ML_OPSET:
            lowest = next((o for o in range(opset, self.MAX_OPSET + 1) if ml_opset_for(o) >= CATEGORY_ML_OPSET), None)
            raise OpsetError(
                f"categories are mapped to what CatBoost's trees read by ai.onnx.ml LabelEncoders with float values, "
                f"which need ai.onnx.ml opset {CATEGORY_ML_OPSET}; this conversion is at ai.onnx.ml {ml_opset}"
                + (f". Ask for opset {lowest} or higher" if lowest is not None else ""),
                opset=opset,
                framework=self.framework,
            )
        built = _CategoricalModel(model, sample, columns, self.framework)
        classes = None
        if self.is_classifier(model):
            classes = getattr(model, "classes_", None)
            if classes is None or len(classes) == 0:  # the core CatBoost class: the classes its JSON export names
                names = built.json.get("model_info", {}).get("class_params", {}).get("class_names") or [0, 1]
                classes = list(names)
        return built.build(opset=opset, ml_opset=ml_opset, name=name, classes=classes,
                           threshold=probability_threshold(model), loss=loss_of(model))

    def native_input(self, feeds: Mapping[str, np.ndarray], signature: Signature, model: Any = None) -> Any:
        """As the other libraries; for a model with categorical features, a DataFrame of the training
        columns, each categorical one holding its text or integers (CatBoost hashes their text)."""
        positions = cat_feature_indices(model) if model is not None else []
        names = list(getattr(model, "feature_names_", None) or [])
        if not positions or len(names) != len(signature.inputs):
            return super().native_input(feeds, signature, model)
        import numpy as np
        import pandas as pd

        data = {}
        for i, (name, column) in enumerate(zip(signature.input_names, names)):
            values = np.asarray(feeds[name]).reshape(-1)
            if i in positions and values.dtype.kind in "OSU":
                values = np.asarray([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values],
                                    dtype=object)
            data[column] = values
        return pd.DataFrame(data)

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        import numpy as np

        X = self.native_input(feeds, signature, model)
        if self.is_classifier(model):
            if type(model).__name__ == "CatBoostClassifier":
                label = np.asarray(model.predict(X))
                proba = np.asarray(model.predict_proba(X))
            else:
                label = np.asarray(model.predict(X, prediction_type="Class"))
                proba = np.asarray(model.predict(X, prediction_type="Probability"))
            # a multi-label model's [N,k] labels stay a matrix
            label = label.reshape(len(X), -1) if loss_of(model) in MULTI_LABEL_LOSSES else label.reshape(-1)
            return _in_output_order(["label", "probabilities"], [label, proba], signature)
        # the core CatBoost class predicts the raw value by default, CatBoostRegressor exp(raw) for Poisson and
        # Tweedie and [mean, variance] for RMSEWithUncertainty: the file answers the latter (the expected value,
        # the variance), whichever class read the model. Asked through the core class: CatBoostRanker.predict
        # (the raw score) takes no prediction_type
        import catboost

        loss = loss_of(model)
        kind = "Exponent" if loss in _EXPONENT_LOSSES else loss if loss == _UNCERTAINTY else "RawFormulaVal"
        answer = catboost.CatBoost.predict(model, X, prediction_type=kind)
        return _in_output_order(["predictions"], [np.asarray(answer).reshape(len(X), -1)], signature)


def _by_position(model: Any, sample: Any) -> tuple[Any, list[tuple[str, Any]] | None]:
    """A sample of a model fitted without column names (an array, or a DataFrame whose columns are numbered),
    as a DataFrame whose columns are named as CatBoost names them (``"0"``, ``"1"``...), and its
    ``(column, dtype)`` pairs; ``(sample, None)`` for a model fitted on named columns, or a sample that is no
    table of the model's width. An array's columns (objects, as an array of text and numbers holds them) take
    the type of their values."""
    import numpy as np
    import pandas as pd

    from onnxgate._data import is_dataframe
    from onnxgate.converters._boosting import _column_dtype, training_columns

    names = [str(n) for n in getattr(model, "feature_names_", None) or []]
    if not names or training_columns(model) is not None:
        return sample, None
    if is_dataframe(sample):
        if [str(c) for c in sample.columns] != names:
            return sample, None
        frame = sample.set_axis(names, axis=1).infer_objects()
    else:
        array = np.asarray(sample)
        if array.ndim != 2 or array.shape[1] != len(names):
            return sample, None
        frame = pd.DataFrame(array, columns=names).infer_objects()
    return frame, [(n, _column_dtype(frame[n])) for n in names]


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


def _one_vs_all_sigmoids(proto: Any) -> None:
    """A ``MultiClassOneVsAll`` classifier's export, as CatBoost scores it (:func:`one_vs_all_nodes`): its tree node
    now writes the raw values (no post-transform), which the Sigmoid and the ArgMax read."""
    from onnx import helper

    from onnxgate._graph import graph_names, unique_name

    graph = proto.graph
    node = next(n for n in graph.node if n.op_type == "TreeEnsembleClassifier")
    attrs = {a.name: a for a in node.attribute}
    ints, strings = attrs.get("classlabels_int64s"), attrs.get("classlabels_strings")
    classes = list(ints.ints) if ints is not None and len(ints.ints) else list(strings.strings if strings else [])
    keep = [a for a in node.attribute if a.name != "post_transform"]
    del node.attribute[:]
    node.attribute.extend([*keep, helper.make_attribute("post_transform", "NONE")])
    label, proba = node.output[0], node.output[1]
    taken = graph_names(graph)
    node.output[0], node.output[1] = unique_name("catboost_node_label", taken), unique_name("catboost_raw", taken)
    nodes, inits = one_vs_all_nodes(node.output[1], label, proba, classes, lambda base: unique_name(base, taken))
    graph.initializer.extend(inits)
    graph.node.extend(nodes)


def one_vs_all_nodes(raw: str, label: str, probabilities: str, classes: Sequence[Any],
                     name: Callable[[str], str]) -> tuple[list[Any], list[Any]]:
    """The nodes (and the initializer of the class table) turning a ``MultiClassOneVsAll`` model's raw values
    ``raw`` ``[N,k]`` into what CatBoost answers: ``probabilities`` the sigmoid of each class's raw value
    (``predict_proba``: the rows do not sum to 1), ``label`` the class of the largest (``predict``; the first
    largest, as CatBoost's and ArgMax's). CatBoost's export writes the softmax of the raw values (iris: 0.69 where
    CatBoost answers 0.68, rows summing to 1.32), and onnxruntime's label of its two-class form agreed with
    ``predict`` on 54% of breast-cancer rows. ``classes``: the tree node's class labels (int64, or text as bytes);
    ``name(base)`` gives a unique tensor or node name."""
    import numpy as np
    from onnx import helper, numpy_helper

    index, table = name("catboost_index"), name("catboost_classes")
    values = np.asarray(list(classes), dtype=object if classes and isinstance(classes[0], bytes) else np.int64)
    nodes = [helper.make_node("Sigmoid", [raw], [probabilities], name=name("catboost_sigmoid")),
             helper.make_node("ArgMax", [raw], [index], axis=1, keepdims=0, name=name("catboost_argmax")),
             helper.make_node("Gather", [table, index], [label], axis=0, name=name("catboost_label"))]
    return nodes, [numpy_helper.from_array(values, table)]


def probability_threshold(model: Any) -> float | None:
    """The probability above which a binary classifier's ``predict`` answers its second class, when
    ``set_probability_threshold`` set one (kept in the model's metadata and its .cbm); None otherwise, and for
    a ``MultiClass`` model of two classes, whose ``predict`` takes the likelier class whatever the threshold."""
    try:
        text = model.get_metadata().get("binclass_probability_threshold")
    except Exception:
        return None
    if loss_of(model) not in ("Logloss", "CrossEntropy", *MULTI_LABEL_LOSSES):
        return None
    return None if text in (None, "") else float(text)


def _class_border(threshold: float | None) -> float:
    """The raw value above which a binary classifier's ``predict`` answers the second class: the logit of
    its probability ``threshold`` (:func:`probability_threshold`; 0.5, border 0, unless set)."""
    import math

    threshold = 0.5 if threshold is None else threshold
    if threshold <= 0.0:
        return -math.inf
    if threshold >= 1.0:
        return math.inf
    return math.log(threshold / (1.0 - threshold))


def _binary_labels_by_threshold(proto: Any, threshold: float | None) -> None:
    """A binary classifier with a probability threshold (``set_probability_threshold``) labels a row by its
    probability above it, as ``predict`` does; CatBoost's export labels by 0.5 whatever the threshold (at
    0.2, 44 of 569 breast-cancer labels differed). The label: the class of ``probabilities[:, 1] > threshold``."""
    import numpy as np
    from onnx import helper, numpy_helper

    from onnxgate._graph import graph_names, unique_name

    if threshold is None or threshold == 0.5:
        return
    graph = proto.graph
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type != "TreeEnsembleClassifier" or len(node.output) < 2 or node.output[0] not in outputs:
            continue
        attrs = {a.name: a for a in node.attribute}
        ints, strings = attrs.get("classlabels_int64s"), attrs.get("classlabels_strings")
        table = (np.asarray(list(ints.ints), dtype=np.int64) if ints is not None and len(ints.ints)
                 else np.asarray(list(strings.strings) if strings is not None else [], dtype=object))
        if len(table) != 2:
            return
        label, proba = node.output[0], node.output[1]
        taken = graph_names(graph)
        names = {k: unique_name(f"{label}_{k}", taken) for k in ("at_half", "classes", "column", "p1",
                                                                           "border", "above", "index")}
        node.output[0] = names["at_half"]
        # at 0 every row is above (a float32 probability can round to 0); nothing is above 1
        border = -1.0 if threshold <= 0.0 else threshold
        graph.initializer.extend([numpy_helper.from_array(np.asarray(1, dtype=np.int64), names["column"]),
                                  numpy_helper.from_array(np.asarray(border, dtype=np.float32), names["border"])])
        # an int64 label is the class's index, whatever the classes (_binary_labels_as_classes), text the class
        index = names["index"] if table.dtype == object else label
        graph.node.extend([
            helper.make_node("Gather", [proba, names["column"]], [names["p1"]], axis=1, name=names["p1"]),
            helper.make_node("Greater", [names["p1"], names["border"]], [names["above"]], name=names["above"]),
            helper.make_node("Cast", [names["above"]], [index], to=7, name=names["index"]),  # int64
        ])
        if table.dtype == object:
            graph.initializer.append(numpy_helper.from_array(table, names["classes"]))
            graph.node.append(helper.make_node("Gather", [names["classes"], index], [label], axis=0,
                                               name=label + "_by_threshold"))
        return


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


def regressor_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of a TreeEnsembleRegressor answering the raw values of the TreeEnsembleClassifier CatBoost's
    export writes for a multi-target (or RMSEWithUncertainty) model: the same trees, each class one target (its
    ``class_*`` the ``target_*``, its ``base_values`` the targets' biases), summed with no post-transform (the
    export's SOFTMAX, then a ZipMap, answered a class label and probabilities)."""
    renamed = {"class_ids": "target_ids", "class_nodeids": "target_nodeids", "class_treeids": "target_treeids",
               "class_weights": "target_weights"}
    out = {key: value for key, value in attrs.items() if key.startswith("nodes_")}
    out.update({new: list(attrs[old]) for old, new in renamed.items()})
    base = [float(v) for v in attrs.get("base_values") or []]
    targets = max(len(base), max(out["target_ids"], default=0) + 1)
    out.update(n_targets=targets, aggregate_function="SUM", post_transform="NONE")
    if base:
        out["base_values"] = base
    return out


def uncertainty_nodes(raw: str, out: str, name: Any) -> tuple[list[Any], list[Any]]:
    """The nodes (and initializers) turning an RMSEWithUncertainty model's ``[N,2]`` raw values ``raw`` into
    what its ``predict`` answers, ``out``: the mean (the first raw value) and the variance ``exp(2 * r)`` of the
    second (the raw value is the log of the standard deviation). ``name(base)`` gives a unique tensor or node
    name."""
    import numpy as np
    from onnx import helper, numpy_helper

    first, second, two = name("catboost_first"), name("catboost_second"), name("catboost_two")
    mean, log_sd, log_var, var = (name(f"catboost_{k}") for k in ("mean", "log_sd", "log_var", "variance"))
    inits = [numpy_helper.from_array(np.asarray([0], dtype=np.int64), first),
             numpy_helper.from_array(np.asarray([1], dtype=np.int64), second),
             numpy_helper.from_array(np.asarray(2.0, dtype=np.float32), two)]
    nodes = [helper.make_node("Gather", [raw, first], [mean], axis=1, name=name("catboost_mean")),
             helper.make_node("Gather", [raw, second], [log_sd], axis=1, name=name("catboost_log_sd")),
             helper.make_node("Mul", [log_sd, two], [log_var], name=name("catboost_log_var")),
             helper.make_node("Exp", [log_var], [var], name=name("catboost_variance")),
             helper.make_node("Concat", [mean, var], [out], axis=1, name=name("catboost_mean_variance"))]
    return nodes, inits


def multi_label_nodes(raw: str, label: str, probabilities: str, threshold: float | None,
                      name: Callable[[str], str]) -> tuple[list[Any], list[Any]]:
    """The nodes (and initializer) turning a multi-label model's raw values ``raw`` ``[N,k]`` into what
    ``CatBoostClassifier`` answers: ``probabilities`` the sigmoid of each label's raw value (``predict_proba``),
    ``label`` int64 1 where the raw value is above the logit of the probability ``threshold`` (``predict``: the
    probability above it; the raw value is compared, as no float32 sigmoid rounding then moves a label).
    ``name(base)`` gives a unique tensor or node name."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    border, above = name("catboost_border"), name("catboost_above")
    inits = [numpy_helper.from_array(np.asarray(_class_border(threshold), dtype=np.float32), border)]
    nodes = [helper.make_node("Sigmoid", [raw], [probabilities], name=name("catboost_sigmoid")),
             helper.make_node("Greater", [raw, border], [above], name=name("catboost_greater")),
             helper.make_node("Cast", [above], [label], to=TensorProto.INT64, name=name("catboost_label"))]
    return nodes, inits


def _export_as_raw_values(proto: Any, loss: str, threshold: float | None = None) -> None:
    """A multi-target, RMSEWithUncertainty or multi-label model's export (a TreeEnsembleClassifier, its label and a
    ZipMap of the softmax: no answer of its predict) as :func:`regressor_attributes`'s TreeEnsembleRegressor of the
    raw values ``[N,k]``, then what ``loss``'s predict answers: ``predictions`` (the raw values;
    :func:`uncertainty_nodes` for RMSEWithUncertainty), or for a multi-label loss ``label`` and ``probabilities``
    (:func:`multi_label_nodes`, by the probability ``threshold``)."""
    from onnx import TensorProto, helper
    from onnx.helper import get_attribute_value

    from onnxgate._graph import graph_names, unique_name

    graph = proto.graph
    node = next(n for n in graph.node if n.op_type == "TreeEnsembleClassifier")
    attrs = regressor_attributes({a.name: get_attribute_value(a) for a in node.attribute})
    taken = graph_names(graph) | {"predictions", "label", "probabilities"}

    def name(base: str) -> str:
        return unique_name(base, taken)

    width = attrs["n_targets"]
    raw = name("catboost_raw") if loss == _UNCERTAINTY or loss in MULTI_LABEL_LOSSES else "predictions"
    outputs = [helper.make_tensor_value_info("predictions", TensorProto.FLOAT, ["N", width])]
    nodes: list[Any] = []
    inits: list[Any] = []
    if loss == _UNCERTAINTY:
        nodes, inits = uncertainty_nodes(raw, "predictions", name)
    elif loss in MULTI_LABEL_LOSSES:
        nodes, inits = multi_label_nodes(raw, "label", "probabilities", threshold, name)
        outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["N", width]),
                   helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", width])]
    trees = helper.make_node("TreeEnsembleRegressor", list(node.input), [raw], domain=node.domain,
                             name=node.name or "catboost_trees", **attrs)
    del graph.node[:]
    graph.node.extend([trees, *nodes])
    graph.initializer.extend(inits)
    del graph.output[:]
    graph.output.extend(outputs)


def _label_count(model: Any) -> int:
    """How many label columns a multi-label model was fitted on (one raw value each)."""
    _, bias = model.get_scale_and_bias()
    return len(bias) if isinstance(bias, (list, tuple)) else 1


def _rename_input(proto: Any, new: str) -> None:
    graph = proto.graph
    old = graph.input[0].name
    if old == new:
        return
    graph.input[0].name = new
    read_instead(graph, old, new)


def _regression_output_rank_two(proto: Any) -> None:
    """CatBoost declares the regressor's output ``[N]``; TreeEnsembleRegressor writes ``[N,1]``."""
    _float_rows_of(proto.graph.output[0], 1)  # in place: removing it and inserting another took 8 us


def _lower_ml_opset(proto: Any, ml_opset: int, opset: int) -> None:
    """Stamp ai.onnx.ml at ``ml_opset`` when CatBoost wrote a higher one and every node means the same
    there; refuse otherwise (CatBoost's export has no lower-version form)."""
    from onnxgate._onnx import ML_DOMAIN, model_opsets, since_version

    have = model_opsets(proto).get(ML_DOMAIN)
    if have is None or have <= ml_opset:
        return
    for node in proto.graph.node:
        if node.domain != ML_DOMAIN:
            continue
        try:
            same = since_version(node.op_type, have, ML_DOMAIN) == since_version(node.op_type, ml_opset, ML_DOMAIN)
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


# --- categorical features ----------------------------------------------------------------------------
#
# CatBoost's ONNX export refuses a model with categorical features ("Only numerical features are
# supported", catboost/catboost#863). Such a model is built here from CatBoost's JSON export, which holds
# what its own evaluator reads (model/static_ctr_provider.cpp, model/online_ctr.h):
#
# * a category's value becomes a 32-bit hash (CityHash of its text; an integer category as its decimal
#   text); the JSON export lists the hash of each text of the pool it is given (``cat_features_hash``).
#   The graph cannot hash, so the text of every category the model knows must be in the sample: a
#   ``LabelEncoder`` per column maps each one to what the trees read.
# * a one-hot split is ``hash == value``: the column's code (the position of the value among the
#   column's one-hot values, -1 for any other text) compared with BRANCH_EQ.
# * a CTR of one feature is a function of the category alone: the table ``ctr_data`` keyed by
#   ``CalcHash(0, hash)`` gives the category's counts, and ``TModelCtr::Calc`` (float arithmetic)
#   ``((good + prior_num) / (total + prior_denom) + shift) * scale``; a category the table does not hold
#   gets ``Calc(0, 0)`` (``Calc(0, denominator)`` for Counter and FeatureFreq). The LabelEncoder writes
#   that float, compared with the CTR's float borders as ``value > border``.
# * a float feature's split is ``float32(x) > border``; NaN takes the true side when the feature's
#   ``nan_value_treatment`` is ``AsTrue``, the false side otherwise.
# * an oblivious tree's leaf index has bit k set when its k-th split holds; it is written as a full binary
#   tree whose level k tests split k.
#
# A CTR over a combination of features (several categorical features, or one with a float or one-hot
# split) hashes the combination, which a per-column LabelEncoder cannot reproduce: refused by name.

#: ``CalcHash``'s multiplier (model/hash.h), and the hash the CTR tables write for an empty bucket.
_CTR_MAGIC = 0x4906BA494954CB65
_EMPTY_BUCKET = 2**64 - 1
#: The last ai.onnx.ml opset of TreeEnsembleRegressor (deprecated at 5 for TreeEnsemble): a higher request is
#: written at it, as CatBoost's own export writes ai.onnx.ml 2 whatever is asked.
_TREES_ML_OPSET = 3
#: CTR types whose value is computed as CatBoost's evaluator does it (static_ctr_provider.cpp).
_CTR_TYPES = ("Borders", "Buckets", "BinarizedTargetMeanValue", "FloatTargetMeanValue", "Counter", "FeatureFreq")


def cat_feature_indices(model: Any) -> list[int]:
    """The positions of the features ``model`` reads as categories ([] for a numeric model)."""
    try:
        return [int(i) for i in model.get_cat_feature_indices()]
    except Exception:
        return []


def _feature_indices(model: Any, kind: str) -> list[int]:
    """The positions of ``model``'s ``kind`` (``"text"``, ``"embedding"``) features ([] when CatBoost cannot say)."""
    try:
        return [int(i) for i in getattr(model, f"get_{kind}_feature_indices")()]
    except Exception:
        return []


def _symmetric(model: Any) -> bool:
    """Whether ``model``'s trees are oblivious (``grow_policy='SymmetricTree'``), the only ones written to ONNX."""
    try:
        return bool(model._object._is_oblivious())
    except Exception:  # another CatBoost version: the policy it was fitted with
        return _grow_policy(model) not in ("Depthwise", "Lossguide")


def _grow_policy(model: Any) -> str:
    """The ``grow_policy`` ``model`` was fitted with ("?" when CatBoost does not say)."""
    try:
        return str(model.get_all_params().get("grow_policy", "?"))
    except Exception:
        return "?"


def _ctr_hash(cat_hash: int) -> int:
    """``CalcHash(0, hash)``: the key of a one-feature CTR table (64-bit wrap-around). The 32-bit hash is
    an ``int`` there, sign-extended to 64 bits (the JSON export writes it unsigned)."""
    mask = 2**64 - 1
    cat_hash = (cat_hash - 2**32 if cat_hash >= 2**31 else cat_hash) & mask
    return (_CTR_MAGIC * ((_CTR_MAGIC * cat_hash) & mask)) & mask


def _ctr_value(ctr: Mapping[str, Any], good: float, total: float) -> float:
    """``TModelCtr::Calc`` in float32, as CatBoost computes it."""
    import numpy as np

    f = np.float32
    value = (f(good) + f(ctr["prior_numerator"])) / (f(total) + f(ctr["prior_denomerator"]))
    return float((f(value) + f(ctr["shift"])) * f(ctr["scale"]))


def _ctr_of_bucket(ctr: Mapping[str, Any], table: Mapping[str, Any], row: Sequence[float] | None) -> float:
    """One CTR's value for a category whose table row is ``row`` (None: the table does not hold it)."""
    kind, border = ctr["ctr_type"], int(ctr.get("target_border_idx", 0))
    denominator = float(table.get("counter_denominator", 0))
    if kind in ("Counter", "FeatureFreq"):
        return _ctr_value(ctr, 0.0 if row is None else row[0], denominator)
    if row is None:
        return _ctr_value(ctr, 0.0, 0.0)
    if kind in ("BinarizedTargetMeanValue", "FloatTargetMeanValue"):
        return _ctr_value(ctr, row[0], row[1])
    counts = [int(v) for v in row]
    if kind == "Buckets":
        return _ctr_value(ctr, counts[border], sum(counts))
    return _ctr_value(ctr, sum(counts[border + 1:]), sum(counts))  # Borders


def _category_text(value: Any) -> str:
    """The text CatBoost hashes for a category value (an integer as its decimal digits, a boolean as ``1``
    or ``0``: CatBoost scores True as the category 1, and the text 'True' as an unseen one)."""
    import numbers

    import numpy as np

    if isinstance(value, (numbers.Integral, np.bool_)):
        return str(int(value))
    return str(value)


class _CategoricalModel:
    """A CatBoost model with categorical features, read from its JSON export written with the sample as
    its pool (which gives the hash of each of the sample's category texts), as ONNX. ``columns``:
    ``(label, dtype)`` of the sample's columns, in order."""

    def __init__(self, model: Any, sample: Any, columns: Sequence[tuple[str, Any]], framework: str) -> None:
        import json
        import tempfile

        catboost = import_library("catboost", "Converting a CatBoost model")
        self.framework = framework
        self.columns = list(columns)
        self.cat_positions = cat_feature_indices(model)
        with tempfile.TemporaryDirectory(prefix="onnxgate-catboost-") as folder:
            path = Path(folder) / "model.json"
            try:
                model.save_model(str(path), format="json",
                                 pool=catboost.Pool(sample, cat_features=self.cat_positions))
            except Exception as err:  # e.g. a missing value in a categorical column, which CatBoost refuses
                raise InvalidDataError(f"CatBoost could not read the sample to export the model's categories: "
                                       f"{first_line(err, 300)}") from None
            self.json = json.loads(path.read_text(encoding="utf-8"))
        info = self.json["features_info"]
        self.hashes = {str(h["value"]): int(h["hash"]) & 0xFFFFFFFF for h in info.get("cat_features_hash", [])}
        self.float_features = list(info.get("float_features", []))
        self.cat_features = list(info.get("categorical_features", []))
        self.ctrs = list(info.get("ctrs", []))
        if "oblivious_trees" not in self.json:  # grow_policy Depthwise or Lossguide: JSON "trees", one per split
            policy = _grow_policy(model)
            self.refuse(f"its trees are not symmetric (grow_policy={policy!r}), and onnxgate writes CatBoost's "
                        "oblivious trees only, as CatBoost's own ONNX export does. Refit with "
                        "grow_policy='SymmetricTree' (the default)")
        if info.get("text_features") or info.get("embedding_features"):
            self.refuse_text()
        #: categorical column -> how many of the categories the trees read the sample lacks
        self.unmapped: dict[str, int] = {}
        self.values: dict[str, list[Any]] = {}  # categorical column -> the sample's distinct values, as they come
        for feature in self.cat_features:
            label, _dtype = self.columns[int(feature["flat_feature_index"])]
            column = sample[sample.columns[int(feature["flat_feature_index"])]]
            self.values[label] = list(dict.fromkeys(column.tolist()))

    def refuse_text(self) -> None:
        self.refuse("text or embedding features (text_features=, embedding_features=) have no ONNX form here. "
                    "Fit with those columns as categorical features or as numbers")

    def refuse(self, why: str) -> None:
        raise UnsupportedModelError(f"CatBoost model with categorical features: {why}.", framework=self.framework)

    def label_of(self, cat_index: int) -> str:
        feature = next(f for f in self.cat_features if int(f["feature_index"]) == cat_index)
        return self.columns[int(feature["flat_feature_index"])][0]

    def element_name(self, element: Mapping[str, Any]) -> str:
        """A CTR combination's element as the user reads it: ``'band'``, ``'mean radius > 13.5'``."""
        kind = element.get("combination_element")
        if kind == "cat_feature_value":
            return self.label_of(int(element["cat_feature_index"]))
        if kind == "float_feature":
            feature = self.float_features[int(element["float_feature_index"])]
            return f"{self.columns[int(feature['flat_feature_index'])][0]} > {element.get('border')}"
        if "cat_feature_index" in element:
            return f"{self.label_of(int(element['cat_feature_index']))} == one category"
        return str(kind)

    def check_ctr(self, ctr: Mapping[str, Any]) -> int:
        """The categorical feature a one-feature CTR reads; a combination or an unknown type is refused."""
        elements = list(ctr.get("elements", []))
        if len(elements) != 1 or elements[0].get("combination_element") != "cat_feature_value":
            names = [self.element_name(e) for e in elements]
            self.refuse(
                f"its trees split on a {ctr['ctr_type']} CTR over the combination {names}, which CatBoost computes "
                "from a hash of the combination that has no ONNX form here. Refit with max_ctr_complexity=1 (CTRs "
                "of single features, which convert), or with one_hot_max_size=255 (one-hot splits only)")
        if ctr["ctr_type"] not in _CTR_TYPES:
            self.refuse(f"CTR type {ctr['ctr_type']!r} is not one onnxgate computes ({list(_CTR_TYPES)}). Refit with "
                        "simple_ctr=['Borders', 'Counter'] (the default)")
        return int(elements[0]["cat_feature_index"])

    def category_hashes(self, label: str) -> dict[str, int]:
        """Each category text of the sample's column ``label`` -> CatBoost's hash of it."""
        found = {}
        for value in self.values[label]:
            text = _category_text(value)
            if text not in self.hashes:
                self.refuse(f"CatBoost's JSON export gave no hash for the category {text!r} of column {label!r}")
            found[text] = self.hashes[text]
        return found

    def ctr_table(self, ctr: Mapping[str, Any], label: str) -> dict[str, float]:
        """Each category text of column ``label`` -> the CTR's value; every category the table holds must
        be among the sample's (the graph cannot hash an unseen text)."""
        table = self.json.get("ctr_data", {}).get(ctr["identifier"])
        if table is None:
            self.refuse(f"CatBoost's JSON export holds no table for the CTR {ctr['identifier']}")
        stride = int(table["hash_stride"])
        flat = list(table["hash_map"])
        rows = {int(flat[i]): [float(v) for v in flat[i + 1:i + stride]] for i in range(0, len(flat), stride)}
        rows.pop(_EMPTY_BUCKET, None)
        texts = self.category_hashes(label)
        keys = {_ctr_hash(h): text for text, h in texts.items()}
        unknown = [k for k in rows if k not in keys]
        if unknown:
            self.unmapped[label] = max(self.unmapped.get(label, 0), len(unknown))
        return {text: _ctr_of_bucket(ctr, table, rows.get(key)) for key, text in keys.items()}

    def ctr_default(self, ctr: Mapping[str, Any]) -> float:
        table = self.json.get("ctr_data", {}).get(ctr["identifier"], {})
        return _ctr_of_bucket(ctr, table, None)

    def build(self, *, opset: int, ml_opset: int, name: str | None, classes: Any,
              threshold: float | None = None, loss: str = "") -> RawConversion:
        """The ONNX model: one input per column, categories mapped by LabelEncoders, the oblivious trees
        as a TreeEnsembleRegressor of the raw values, and for a classifier its probabilities and label (a
        binary one's by its probability ``threshold``, :func:`probability_threshold`)."""
        import numpy as np
        from onnx import TensorProto, helper, numpy_helper

        from onnxgate._onnx import ML_DOMAIN, ir_version_for_opset
        from onnxgate.converters._boosting import FLOAT32_NOTE, category_kind, column_type

        inputs: list[Any] = []
        nodes: list[Any] = []
        parts: list[str] = []
        inits: list[Any] = []
        given = dict(zip([label for label, _ in self.columns], sanitise_names([label for label, _ in self.columns])))
        matrix: dict[tuple[str, int], int] = {}  # ("float", flat index) / ("code", cat index) / ("ctr", i) -> column

        def add_part(key: tuple[str, int], output: str) -> None:
            matrix[key] = len(parts)
            parts.append(output)

        floats = {int(f["flat_feature_index"]) for f in self.float_features}
        kinds: dict[str, str] = {}
        reads: dict[str, str] = {}  # a boolean category column -> its int64 cast, which the LabelEncoders read
        doubles = []
        for at, (label, dtype) in enumerate(self.columns):  # the inputs in column order
            if at in floats:
                code = column_type(dtype)
                doubles += [label] if code == TensorProto.DOUBLE else []
            else:
                kind = category_kind(self.values[label])
                if kind is None and self.values[label] and all(isinstance(v, (bool, np.bool_))
                                                               for v in self.values[label]):
                    kind = "bool"  # read as its integer 0 or 1, CatBoost's text for it (_category_text)
                if kind is None:
                    self.refuse(f"the categorical column {label!r} holds values that are neither all text nor all "
                                f"integers ({self.values[label][:5]!r}); onnxgate maps text and integer categories. "
                                "Refit with the column as text (X[c].astype(str))")
                kinds[label] = str(kind)
                code = {"string": TensorProto.STRING, "bool": TensorProto.BOOL}.get(str(kind), TensorProto.INT64)
                if kind == "bool":
                    reads[label] = f"{given[label]}_int64"
                    nodes.append(helper.make_node("Cast", [given[label]], [reads[label]], to=TensorProto.INT64,
                                                  name=f"cast_{reads[label]}"))
            inputs.append(helper.make_tensor_value_info(given[label], code, ["N", 1]))
        for feature in self.float_features:
            label, dtype = self.columns[int(feature["flat_feature_index"])]
            out = given[label]
            if column_type(dtype) != TensorProto.FLOAT:
                out = f"{given[label]}_float"
                nodes.append(helper.make_node("Cast", [given[label]], [out], to=TensorProto.FLOAT, name=f"cast_{out}"))
            add_part(("float", int(feature["flat_feature_index"])), out)

        def encoder(label: str, table: Mapping[str, float], default: float, out: str) -> None:
            if self.unmapped:
                return  # refused below, once every column is looked at
            texts = list(table)
            keys: dict[str, Any] = ({"keys_strings": texts} if kinds[label] == "string"
                                    else {"keys_int64s": [int(t) for t in texts]})
            nodes.append(helper.make_node("LabelEncoder", [reads.get(label, given[label])], [out], domain=ML_DOMAIN,
                                          name=f"encode_{out}",
                                          values_floats=[float(table[t]) for t in texts], default_float=default,
                                          **keys))

        for feature in self.cat_features:
            values = [int(v) & 0xFFFFFFFF for v in feature.get("values", [])]  # written signed or unsigned
            if not values:
                continue
            label = self.columns[int(feature["flat_feature_index"])][0]
            texts = self.category_hashes(label)
            missing = [v for v in values if v not in texts.values()]
            if missing:
                self.unmapped[label] = max(self.unmapped.get(label, 0), len(missing))
            codes = {text: float(values.index(h)) for text, h in texts.items() if h in values}
            out = f"{given[label]}_onehot"
            encoder(label, codes, -1.0, out)
            add_part(("code", int(feature["feature_index"])), out)
        used_ctrs = {int(s["split_index"]) for tree in self.json["oblivious_trees"] for s in (tree.get("splits") or [])
                     if s.get("split_type") == "OnlineCtr"}
        ctr_splits = self.ctr_split_indices()
        if used_ctrs and loss in MULTI_LABEL_LOSSES:
            # 3 labels: 9 Borders CTRs (3 priors each) of one identifier, and one table of counts for them all
            self.refuse(f"its trees split on CTRs of a {loss} model, and CatBoost's JSON export writes the CTRs of "
                        "every label under one name with one table of counts, so which label's counts a split "
                        "reads is lost. Refit with one_hot_max_size=255 (one-hot splits only, which convert)")
        for i, ctr in enumerate(self.ctrs):
            if not any(ctr_splits.get(s, (-1,))[0] == i for s in used_ctrs):
                continue
            label = self.label_of(self.check_ctr(ctr))
            out = f"{given[label]}_ctr{i}"
            encoder(label, self.ctr_table(ctr, label), self.ctr_default(ctr), out)
            add_part(("ctr", i), out)
        if self.unmapped:
            found = ", ".join(f"{label!r} lacks {self.unmapped[label]}" for label, _ in self.columns
                              if label in self.unmapped)
            numbers = [label for label, _ in self.columns if label in self.unmapped and kinds.get(label) == "int64"]
            raise InvalidDataError(
                f"the sample does not hold every category the model's trees read ({found}), and the ONNX file can "
                "recognise a category only by its text. Pass a sample holding every category the model was fitted "
                "on (the training frame, with any eval_set rows: convert(model, X_train))"
                + (f". Column(s) {numbers} hold numbers: if the model was fitted on them as text, a CSV reader "
                   "turned codes such as '007' into the number 7 (another category); read the sample with "
                   f"pandas.read_csv(..., dtype={{{numbers[0]!r}: str}}, keep_default_na=False) or use Parquet"
                   if numbers else ""),
                column=next(label for label, _ in self.columns if label in self.unmapped),
            )
        for split in (s for tree in self.json["oblivious_trees"] for s in (tree.get("splits") or [])):
            if split.get("split_type") not in ("FloatFeature", "OneHotFeature", "OnlineCtr"):
                self.refuse(f"its trees split on {split.get('split_type')!r} features, which have no ONNX form here")
        features = "catboost_features"
        nodes.append(helper.make_node("Concat", parts, [features], axis=1, name="catboost_concat"))
        raw = "catboost_raw"
        width, tree_attrs = self.trees(matrix, ctr_splits)
        # CatBoost's raw value: scale * (sum of the leaves) + bias (set_scale_and_bias; boost_from_average's bias)
        scale, bias = self.json.get("scale_and_bias", [1.0, [0.0]])
        if float(scale) != 1.0:
            tree_attrs["target_weights"] = [float(scale) * w for w in tree_attrs["target_weights"]]
        nodes.append(helper.make_node("TreeEnsembleRegressor", [features], [raw], domain=ML_DOMAIN,
                                      name="catboost_trees",
                                      n_targets=width, aggregate_function="SUM", post_transform="NONE",
                                      base_values=[float(b) for b in bias], **tree_attrs))
        outputs = []
        taken = {"predictions", "label", "probabilities", *(i.name for i in inits), *(v.name for v in inputs)}
        taken.update(n for node in nodes for n in (*node.input, *node.output, node.name))

        def unique(base: str) -> str:
            from onnxgate._graph import unique_name

            return unique_name(base, taken)

        if loss in MULTI_LABEL_LOSSES:  # [N,k] labels and probabilities
            more, constants = multi_label_nodes(raw, "label", "probabilities", threshold, unique)
            nodes += more
            inits += constants
            outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["N", width]),
                       helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", width])]
        elif classes is None:
            outputs.append(helper.make_tensor_value_info("predictions", TensorProto.FLOAT, ["N", width]))
            if loss in _EXPONENT_LOSSES:  # CatBoost predicts exp(raw) for them
                nodes.append(helper.make_node("Exp", [raw], ["predictions"], name="catboost_exp"))
            elif loss == _UNCERTAINTY:  # [mean, exp(2 * raw)]
                more, constants = uncertainty_nodes(raw, "predictions", unique)
                nodes += more
                inits += constants
            else:
                nodes[-1].output[0] = "predictions"
        else:
            labels = np.asarray(classes)
            label_type = TensorProto.STRING if labels.dtype.kind in "OUS" else TensorProto.INT64
            table = labels.astype(object if label_type == TensorProto.STRING else np.int64)
            if label_type == TensorProto.STRING:
                table = np.asarray([str(c).encode("utf-8") for c in labels], dtype=object)
            inits.append(numpy_helper.from_array(np.asarray(table), "catboost_classes"))
            inits.append(numpy_helper.from_array(np.asarray([-1], dtype=np.int64), "catboost_flat"))
            if loss == _ONE_VS_ALL:  # per-class sigmoids (rows not summing to 1), the class of the largest raw value
                nodes += [
                    helper.make_node("Sigmoid", [raw], ["probabilities"], name="catboost_sigmoid"),
                    helper.make_node("ArgMax", [raw], ["catboost_index2"], axis=1, keepdims=1, name="catboost_argmax"),
                ]
            elif width == 1:
                # predict's class: probability above the model's threshold (set_probability_threshold, kept in
                # the .cbm), 0.5 unless set: the raw value above its logit (no float32 sigmoid rounding)
                inits.append(numpy_helper.from_array(np.asarray(_class_border(threshold), dtype=np.float32),
                                                     "catboost_zero"))
                inits.append(numpy_helper.from_array(np.asarray(1.0, dtype=np.float32), "catboost_one"))
                nodes += [
                    helper.make_node("Sigmoid", [raw], ["catboost_p1"], name="catboost_sigmoid"),
                    helper.make_node("Sub", ["catboost_one", "catboost_p1"], ["catboost_p0"], name="catboost_p0"),
                    helper.make_node("Concat", ["catboost_p0", "catboost_p1"], ["probabilities"], axis=1,
                                     name="catboost_probabilities"),
                    helper.make_node("Greater", [raw, "catboost_zero"], ["catboost_positive"],
                                     name="catboost_positive"),
                    helper.make_node("Cast", ["catboost_positive"], ["catboost_index2"], to=TensorProto.INT64,
                                     name="catboost_index2"),
                ]
            else:
                nodes += [
                    helper.make_node("Softmax", [raw], ["probabilities"], axis=1, name="catboost_softmax"),
                    helper.make_node("ArgMax", [raw], ["catboost_index2"], axis=1, keepdims=1, name="catboost_argmax"),
                ]
            nodes += [
                helper.make_node("Reshape", ["catboost_index2", "catboost_flat"], ["catboost_index"],
                                 name="catboost_index"),
                helper.make_node("Gather", ["catboost_classes", "catboost_index"], ["label"], axis=0,
                                 name="catboost_label"),
            ]
            outputs = [helper.make_tensor_value_info("label", label_type, ["N"]),
                       helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                                     ["N", max(2, width)])]
        graph = helper.make_graph(nodes, name or "catboost", inputs, outputs, initializer=inits)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                        helper.make_opsetid(ML_DOMAIN, min(ml_opset, _TREES_ML_OPSET))],
                                  producer_name="onnxgate")
        proto.ir_version = ir_version_for_opset(opset)
        by_text = {given[label]: True for label, kind in kinds.items() if kind == "int64"}
        if by_text:  # CatBoost hashes their text: ' 7' is not 7 (TensorSpec.category)
            import json

            from onnxgate.converters._sklearn_graph import set_metadata
            from onnxgate.signature import CATEGORY_INPUTS_METADATA_KEY

            set_metadata(proto, CATEGORY_INPUTS_METADATA_KEY, json.dumps(by_text))
        warnings = []
        if doubles:
            warnings.append(f"column(s) {doubles} are fed as float64 and cast to float32 inside the graph, where the "
                            f"trees split ({FLOAT32_NOTE['catboost']})")
        return RawConversion(model=proto, warnings=warnings)

    def ctr_split_indices(self) -> dict[int, tuple[int, float, int]]:
        """A tree split's ``split_index`` -> (CTR, border, target border) for the CTR splits: CatBoost numbers
        its binary features float borders first, then one-hot values, then CTR borders (SetupBinFeatureIndexes)."""
        at = sum(len(f.get("borders", [])) for f in self.float_features)
        at += sum(len(f.get("values", [])) for f in self.cat_features)
        found = {}
        for i, ctr in enumerate(self.ctrs):
            for border in ctr.get("borders", []):
                found[at] = (i, float(border), int(ctr.get("target_border_idx", 0)))
                at += 1
        return found

    def trees(self, matrix: Mapping[tuple[str, int], int],
              ctr_splits: Mapping[int, tuple[int, float, int]]) -> tuple[int, dict[str, Any]]:
        """TreeEnsembleRegressor attributes of the oblivious trees (each as a full binary tree), and the
        number of values each leaf holds."""
        trees = self.json["oblivious_trees"]
        dims = {len(t["leaf_values"]) // max(1, 2 ** len(t.get("splits") or [])) for t in trees}
        if len(dims) != 1:
            self.refuse(f"its trees hold {sorted(dims)} values per leaf, expected one count")
        width = dims.pop()
        one_hot_of = {int(f["feature_index"]): [int(v) & 0xFFFFFFFF for v in f.get("values", [])]
                      for f in self.cat_features}
        attrs: dict[str, list[Any]] = {k: [] for k in (
            "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
            "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
            "target_treeids", "target_nodeids", "target_ids", "target_weights")}

        def test(split: Mapping[str, Any]) -> tuple[int, str, float, int]:
            kind = split["split_type"]
            if kind == "FloatFeature":
                feature = self.float_features[int(split["float_feature_index"])]
                tracks = int(feature.get("nan_value_treatment") == "AsTrue")
                at = matrix[("float", int(feature["flat_feature_index"]))]
                return at, "BRANCH_GT", float(split["border"]), tracks
            if kind == "OneHotFeature":
                index = int(split["cat_feature_index"])
                code = one_hot_of[index].index(int(split["value"]) & 0xFFFFFFFF)
                return matrix[("code", index)], "BRANCH_EQ", float(code), 0
            ctr, border, target = ctr_splits[int(split["split_index"])]
            if abs(border - float(split["border"])) > 1e-6 * max(1.0, abs(border)) or target != int(
                    split.get("ctr_target_border_idx", 0)):
                self.refuse(f"a CTR split of its JSON export (index {split['split_index']}) does not match its CTRs")
            return matrix[("ctr", ctr)], "BRANCH_GT", float(split["border"]), 0

        for t, tree in enumerate(trees):
            splits = [test(s) for s in (tree.get("splits") or [])]
            values = [float(v) for v in tree["leaf_values"]]
            depth = len(splits)
            # node ids level by level: level k holds 2**k nodes, the node at position p of level k has its
            # children at positions 2p (false) and 2p+1 (true) of level k+1; position = the bits so far, the
            # first split's bit the highest
            for level in range(depth + 1):
                for p in range(2 ** level):
                    node = 2 ** level - 1 + p
                    attrs["nodes_treeids"].append(t)
                    attrs["nodes_nodeids"].append(node)
                    if level == depth:
                        leaf = sum(((p >> (depth - 1 - k)) & 1) << k for k in range(depth))
                        for k in range(width):
                            attrs["target_treeids"].append(t)
                            attrs["target_nodeids"].append(node)
                            attrs["target_ids"].append(k)
                            attrs["target_weights"].append(values[leaf * width + k])
                        for key, value in (("nodes_featureids", 0), ("nodes_modes", "LEAF"), ("nodes_values", 0.0),
                                           ("nodes_truenodeids", 0), ("nodes_falsenodeids", 0),
                                           ("nodes_missing_value_tracks_true", 0)):
                            attrs[key].append(value)
                        continue
                    feature, mode, threshold, tracks = splits[level]
                    child = 2 ** (level + 1) - 1 + 2 * p
                    attrs["nodes_featureids"].append(feature)
                    attrs["nodes_modes"].append(mode)
                    attrs["nodes_values"].append(threshold)
                    attrs["nodes_falsenodeids"].append(child)
                    attrs["nodes_truenodeids"].append(child + 1)
                    attrs["nodes_missing_value_tracks_true"].append(tracks)
        return width, attrs

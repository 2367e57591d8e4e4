"""scikit-learn converter, through skl2onnx.

Policy:

* Inputs follow the sample. A DataFrame gives one ``[N,1]`` input per column, typed from its dtype,
  for any estimator: skl2onnx takes the columns itself when the model starts with a
  ColumnTransformer; a plain estimator (RandomForest, LogisticRegression...) reads one matrix, so
  its columns are cast to the compute type and concatenated inside the graph. Input names follow
  skl2onnx's sanitising (``sepal length (cm)`` -> ``sepal_length__cm_``) in both layouts. An array
  gives one ``[N,k]`` input named ``input``; a 1-D array is one column (LabelEncoder, text).
* Precision (``options={"precision": ...}`` or ``convert(..., precision=...)``): ``"auto"`` (the
  default) computes in float64 when the sample has float64 columns and the double graph is
  well-typed and loads in the installed onnxruntime, else in float32 with a warning saying why;
  ``"float32"`` and ``"float64"`` force one (``float64`` refuses, with the reason, what cannot run).
  In a double graph, tree ensembles read float32 and their outputs are cast back to double: that
  is what scikit-learn's own trees compare, and ai.onnx.ml's tree operators only output float.
  float64 inputs of a float32 graph stay float64 at the boundary, with a Cast inside the graph, so
  a SQL ``float`` column feeds them; the model records ``onnxgate.precision`` so parity can name
  the setting that removes float32 flips.
* Classifiers emit plain tensors (``label``, ``probabilities``): ZipMap is switched off for every
  classifier whose skl2onnx converter takes the option, unless ``options={"zipmap": True}`` (or
  ``"columns"``). Options go only to converters that list them (RFE has none).
* The native reference is given the rows as it was fitted (float32 feeds widened to float64,
  sparse answers densified, 1-D estimators given 1-D arrays).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from onnxgate.converters._base import Converter, RawConversion, sanitise_name
from onnxgate.errors import (
    InvalidDataError,
    OnnxGateError,
    UnsupportedModelError,
    UntrustedFileError,
    missing_dependency,
)

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["PRECISIONS", "PRECISION_METADATA_KEY", "SklearnConverter"]

#: Values of the ``precision`` option: ``auto`` keeps float64 where the sample is float64 and the
#: double graph is well-typed and runs; else float32.
PRECISIONS = ("auto", "float32", "float64")
#: ``metadata_props`` key recording what the graph computes in: ``float64``, or
#: ``float32-from-float64`` (float64 inputs cast to float32 inside the graph); parity names the fix.
PRECISION_METADATA_KEY = "onnxgate.precision"

_ONNXMLTOOLS_HINT = {
    "xgboost": "install onnxmltools and register its XGBoost converter with skl2onnx.update_registered_converter",
    "lightgbm": "install onnxmltools and register its LightGBM converter with skl2onnx.update_registered_converter",
    "catboost": "export with CatBoost's own save_model(format='onnx') and validate the file with onnxgate",
}


def _skl2onnx() -> Any:
    try:
        import skl2onnx
    except ImportError as err:
        raise missing_dependency("skl2onnx", "sklearn", "Converting a scikit-learn model") from err
    _patch_hist_gradient_boosting()
    _register_simple_imputer()
    _register_one_hot_encoder()
    _register_binarizer()
    return skl2onnx


def _register_binarizer() -> None:
    """skl2onnx's Binarizer in double precision wrote ``Where(x < threshold, 0, 1)``: a value equal to
    the threshold became 1, where scikit-learn's ``x > threshold`` gives 0. Written here as
    ``Where(x > threshold, 1, 0)``; in float32 skl2onnx's ``ai.onnx.ml.Binarizer`` already compares so."""
    from onnx import TensorProto
    from skl2onnx.common._registration import _converter_pool, register_converter
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters.common import concatenate_variables

    original = _converter_pool["SklearnBinarizer"]
    if getattr(original, "_onnxgate_binarizer", False):
        return

    def convert_binarizer(scope: Any, operator: Any, container: Any) -> None:
        if not isinstance(operator.inputs[0].type, DoubleTensorType):
            original(scope, operator, container)
            return
        features = concatenate_variables(scope, operator.inputs, container)
        zero, one, threshold, above = (scope.get_unique_variable_name(n) for n in ("zero", "one", "threshold", "above"))
        container.add_initializer(zero, TensorProto.DOUBLE, [], [0.0])
        container.add_initializer(one, TensorProto.DOUBLE, [], [1.0])
        container.add_initializer(threshold, TensorProto.DOUBLE, [], [float(operator.raw_operator.threshold)])
        container.add_node("Greater", [features, threshold], above, name=scope.get_unique_operator_name("Greater"))
        container.add_node("Where", [above, one, zero], operator.output_full_names,
                           name=scope.get_unique_operator_name("Where"))

    register_converter("SklearnBinarizer", convert_binarizer, overwrite=True, options=original.get_allowed_options())
    _converter_pool["SklearnBinarizer"]._onnxgate_binarizer = True


def _register_one_hot_encoder() -> None:
    """skl2onnx's OneHotEncoder, scoring an unknown value as scikit-learn does where it can.

    skl2onnx writes ``zeros=1`` (an unknown value encodes as zeros) only for ``handle_unknown="ignore"``;
    for any other setting onnxruntime fails on the row ("Unknown Category and zeros = 0"). scikit-learn
    also encodes an unknown value as zeros for ``"warn"``, and for ``"infrequent_if_exist"`` when no
    category was infrequent: those are converted as ``"ignore"``. (``"infrequent_if_exist"`` with
    infrequent categories puts an unknown value in the infrequent column, which this converter does not
    write: :func:`unknown_value_notes` says so at convert.)
    """
    import copy

    from skl2onnx.common._registration import _converter_pool, register_converter

    original = _converter_pool["SklearnOneHotEncoder"]
    if getattr(original, "_onnxgate_unknown", False):
        return

    def convert_one_hot_encoder(scope: Any, operator: Any, container: Any) -> None:
        encoder = operator.raw_operator
        if _unknown_as_zeros(encoder) and encoder.handle_unknown != "ignore":
            operator.raw_operator = copy.copy(encoder)
            operator.raw_operator.handle_unknown = "ignore"
            try:
                original(scope, operator, container)
            finally:
                operator.raw_operator = encoder
            return
        original(scope, operator, container)

    register_converter("SklearnOneHotEncoder", convert_one_hot_encoder, overwrite=True,
                       options=original.get_allowed_options())
    _converter_pool["SklearnOneHotEncoder"]._onnxgate_unknown = True


def _infrequent(encoder: Any) -> bool:
    groups = getattr(encoder, "infrequent_categories_", None) or []
    return any(g is not None and len(g) for g in groups)


def _unknown_as_zeros(encoder: Any) -> bool:
    """True when scikit-learn encodes a value ``encoder`` did not see in training as all zeros."""
    unknown = getattr(encoder, "handle_unknown", "error")
    return unknown in ("ignore", "warn") or (unknown == "infrequent_if_exist" and not _infrequent(encoder))


def unknown_value_notes(model: Any) -> list[str]:
    """A warning per OneHotEncoder whose unknown values the ONNX model cannot score as scikit-learn does."""
    notes = []
    for est in _sub_estimators(model):
        if type(est).__name__ == "OneHotEncoder" and est.handle_unknown == "infrequent_if_exist" and _infrequent(est):
            columns = [str(c) for c in getattr(est, "feature_names_in_", [])] or "its columns"
            notes.append(
                f"OneHotEncoder(handle_unknown='infrequent_if_exist') on {columns}: scikit-learn puts a value it "
                "did not see in training in the infrequent category, and the ONNX model fails on it (onnxruntime: "
                "'Unknown Category'); validate with data holding only known values, or refit with "
                "handle_unknown='ignore' (an unknown value encodes as zeros in both)"
            )
    return notes


def _register_simple_imputer() -> None:
    """A numeric SimpleImputer written with standard operators (``IsNaN``/``Equal``, ``Where``), in the
    graph's own float type, instead of skl2onnx's ``ai.onnx.ml.Imputer``. Three faults of that one:

    * ``Imputer`` has no double kernel: a pipeline holding a SimpleImputer (then StandardScaler and a
      forest, a common shape) could only compute in float32, where scaled values round next to the
      trees' splits and labels flip (parity failed on wine), and the advice to convert in float64 led
      back to float32.
    * A feature with no statistic (all missing when fitted) is dropped by scikit-learn, not by
      skl2onnx: onnxruntime failed, or every row was off. It is dropped here by a ``Gather``.
    * ``add_indicator=True``: skl2onnx leaves the indicator columns out (402 of 442 rows off).
      They are appended here, for the features scikit-learn's ``indicator_`` lists.

    The statistics keep the graph's type (double in a double graph). Other inputs (int64, text) and a
    missing value given as a number below opset 11 (``Equal`` takes floats from 11) keep skl2onnx's.
    """
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common._registration import (
        _converter_pool,
        _shape_calculator_pool,
        register_converter,
        register_shape_calculator,
    )
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from skl2onnx.operator_converters.common import concatenate_variables

    original = _converter_pool["SklearnSimpleImputer"]
    if getattr(original, "_onnxgate_imputer", False):
        return
    original_shape = _shape_calculator_pool["SklearnSimpleImputer"]

    def written_here(operator: Any, opset: Any) -> str | None:
        """``"nan"`` or ``"number"`` (the missing value's form) for a float or double imputer written
        here, of a missing value given as NaN or as a number (from opset 11); None for skl2onnx's."""
        opset = opset.get("", 0) if isinstance(opset, dict) else opset or 0
        missing = operator.raw_operator.missing_values
        nan = isinstance(missing, float) and np.isnan(missing)
        number = isinstance(missing, (int, float, np.number)) and not isinstance(missing, bool) and not nan
        floats = (all(isinstance(i.type, DoubleTensorType) for i in operator.inputs)
                  or all(isinstance(i.type, FloatTensorType) for i in operator.inputs))
        if not floats:
            return None
        return "nan" if nan else "number" if number and opset >= 11 else None

    def layout(imputer: Any) -> tuple[Any, Any]:
        """The features scikit-learn keeps (those with a statistic), and its missing indicator or None."""
        kept = np.flatnonzero(~np.isnan(np.asarray(imputer.statistics_, dtype=np.float64)))
        return kept, getattr(imputer, "indicator_", None) if imputer.add_indicator else None

    def imputer_shape(operator: Any) -> None:
        original_shape(operator)
        if written_here(operator, operator.target_opset):
            kept, indicator = layout(operator.raw_operator)
            width = len(kept) + (0 if indicator is None else len(indicator.features_))
            output = operator.outputs[0]
            output.type.shape = [output.type.shape[0], width]

    def convert_simple_imputer(scope: Any, operator: Any, container: Any) -> None:
        imputer = operator.raw_operator
        form = written_here(operator, container.target_opset)
        if form is None:
            original(scope, operator, container)
            return
        double = all(isinstance(i.type, DoubleTensorType) for i in operator.inputs)
        code, dtype = (TensorProto.DOUBLE, np.float64) if double else (TensorProto.FLOAT, np.float32)

        def name(text: str) -> str:
            return str(scope.get_unique_variable_name(text))

        def node(op: str, inputs: list[str], output: str, **attrs: Any) -> None:
            container.add_node(op, inputs, [output], name=scope.get_unique_operator_name(op), **attrs)

        features = concatenate_variables(scope, operator.inputs, container)
        mask = name("imputer_missing")
        if form == "nan":
            node("IsNaN", [features], mask)
        else:
            value = name("imputer_missing_value")
            container.add_initializer(value, code, [], [float(imputer.missing_values)])
            node("Equal", [features, value], mask)

        def columns(source: str, indices: Any, text: str) -> str:
            chosen = name(f"{text}_columns")
            container.add_initializer(chosen, TensorProto.INT64, [len(indices)], [int(i) for i in indices])
            out = name(text)
            node("Gather", [source, chosen], out, axis=1)
            return out

        statistics = np.asarray(imputer.statistics_, dtype=np.float64)
        kept, indicator = layout(imputer)  # scikit-learn drops a feature with no statistic
        values, kept_mask = features, mask
        if len(kept) < len(statistics):
            values, kept_mask = columns(features, kept, "imputer_kept"), columns(mask, kept, "imputer_kept_missing")
        fill = name("imputer_statistics")
        container.add_initializer(fill, code, [1, len(kept)], statistics[kept].astype(dtype).tolist())
        if indicator is None:
            node("Where", [kept_mask, fill, values], operator.outputs[0].full_name)
            return
        imputed = name("imputed")
        node("Where", [kept_mask, fill, values], imputed)
        flags = name("imputer_indicator")
        node("Cast", [columns(mask, indicator.features_, "imputer_indicator_missing")], flags, to=code)
        node("Concat", [imputed, flags], operator.outputs[0].full_name, axis=1)

    register_shape_calculator("SklearnSimpleImputer", imputer_shape, overwrite=True)
    register_converter("SklearnSimpleImputer", convert_simple_imputer, overwrite=True,
                       options=original.get_allowed_options())
    _converter_pool["SklearnSimpleImputer"]._onnxgate_imputer = True


#: The scikit-learn tree skl2onnx is writing (``add_tree_to_attribute_pairs``), for ``add_node``.
_TREES: list[Any] = []
#: skl2onnx's modules that write scikit-learn trees with ``add_tree_to_attribute_pairs`` (imported by name).
_TREE_WRITERS = ("decision_tree", "random_forest", "gradient_boosting", "isolation_forest")


def _patch_hist_gradient_boosting() -> None:
    """Work around skl2onnx 1.20's handling of scikit-learn >= 1.9 trees: three faults, one patch.

    * HistGradientBoosting crashed: scikit-learn 1.9 stores ``missing_go_to_left`` in its predictor
      nodes as a numpy bool (it was uint8); ``add_tree_to_attribute_pairs_hist_gradient_boosting``
      passes it on as ``nodes_missing_value_tracks_true``, an INTS attribute, and
      ``onnx.helper.make_node`` refuses it: "AttributeProto.ints: Expected an int, got a boolean".
      ``add_node`` now turns it into an int.
    * Decision trees and forests sent every NaN to the false branch: ``add_tree_to_attribute_pairs``
      ignores ``tree_.missing_go_to_left``, the side scikit-learn (>= 1.3 for trees, 1.4 for forests)
      sends a missing value to at each split, also for a model fitted without one. ``add_node``
      now writes it as ``nodes_missing_value_tracks_true`` (``x <= t`` is the true branch, the left
      child), from the tree being written.
    * A forest fitted with NaN has splits at threshold ``inf`` (missing values apart from the rest),
      and ``sklearn_threshold``, which moves a float64 threshold to its float32 switch point, looped
      forever on it (``find_switch_point`` with a NaN bound). A threshold that is not finite is kept.

    Applied once, only to skl2onnx's modules.
    """
    import importlib

    import numpy as np
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node
    if getattr(original, "_onnxgate_bool_fix", False):
        return

    def add_node(*args: Any, **kwargs: Any) -> Any:
        value = kwargs.get("nodes_missing_value_tracks_true")
        if value is not None:
            kwargs["nodes_missing_value_tracks_true"] = int(value)
        elif _TREES and len(args) > 6 and args[6] != "LEAF":
            routes = getattr(_TREES[-1], "missing_go_to_left", None)  # args[4]: the node's id in its tree
            if routes is not None:
                kwargs["nodes_missing_value_tracks_true"] = int(routes[args[4]])
        return original(*args, **kwargs)

    add_node._onnxgate_bool_fix = True  # type: ignore[attr-defined]
    tree_ensemble.add_node = add_node

    write_tree = tree_ensemble.add_tree_to_attribute_pairs

    def add_tree_to_attribute_pairs(attr_pairs: Any, is_classifier: Any, tree: Any, *args: Any, **kwargs: Any) -> Any:
        _TREES.append(tree)
        try:
            return write_tree(attr_pairs, is_classifier, tree, *args, **kwargs)
        finally:
            _TREES.pop()

    for module in (tree_ensemble, *(importlib.import_module(f"skl2onnx.operator_converters.{m}")
                                    for m in _TREE_WRITERS)):
        if getattr(module, "add_tree_to_attribute_pairs", None) is write_tree:
            module.add_tree_to_attribute_pairs = add_tree_to_attribute_pairs

    threshold = tree_ensemble.sklearn_threshold

    def sklearn_threshold(dy: Any, dtype: Any, mode: Any) -> Any:
        if not np.isfinite(dy):
            return np.float64(dy)
        return threshold(dy, dtype, mode)

    tree_ensemble.sklearn_threshold = sklearn_threshold

    from skl2onnx.operator_converters import random_forest

    random_forest.add_tree_to_attribute_pairs_hist_gradient_boosting = _hist_tree_with_category_sets(
        tree_ensemble.add_tree_to_attribute_pairs_hist_gradient_boosting, add_node)


def _hist_tree_with_category_sets(write_tree: Any, add_node: Any) -> Any:
    """skl2onnx's writer of one HistGradientBoosting tree, writing a categorical split as what it is.

    skl2onnx 1.20 wrote a split on a category set (``left if the category is one of {a, c, f}``) as
    ``x <= num_threshold``, a threshold such splits do not have: 107 of 178 wine rows took other labels.
    Each is written as a chain of ``BRANCH_EQ`` nodes, one per category sent left, all sharing the left
    child (as onnxmltools writes LightGBM's category splits): the first equal category goes left, and a
    value equal to none goes right. The categories are the codes of the estimator's own ordinal encoder
    (:func:`_hist_category_codes` writes that encoder in front). A missing value (and an unknown category,
    which that encoder makes missing) goes where the split sends missing values. A tree without
    categorical splits is written by skl2onnx's own writer.
    """

    def write(attr_pairs: Any, is_classifier: Any, tree: Any, tree_id: Any, tree_weight: Any, weight_id_bias: Any,
              leaf_weights_are_counts: Any, adjust_threshold_for_sklearn: bool = False, dtype: Any = None) -> Any:
        nodes = tree.nodes
        if not any(n["is_categorical"] and not n["is_leaf"] for n in nodes):
            return write_tree(attr_pairs, is_classifier, tree, tree_id, tree_weight, weight_id_bias,
                              leaf_weights_are_counts, adjust_threshold_for_sklearn=adjust_threshold_for_sklearn,
                              dtype=dtype)
        bitsets = tree.raw_left_cat_bitsets
        spare = len(nodes)

        def put(node_id: int, node: Any, mode: str, value: float, true_id: int, false_id: int, missing: int) -> None:
            add_node(attr_pairs, is_classifier, tree_id, tree_weight, node_id, 0 if mode == "LEAF" else
                     int(node["feature_idx"]), mode, value, true_id, false_id, node["value"], weight_id_bias,
                     leaf_weights_are_counts, adjust_threshold_for_sklearn=adjust_threshold_for_sklearn,
                     dtype=dtype, nodes_missing_value_tracks_true=missing)

        for i, node in enumerate(nodes):
            missing = int(bool(node["missing_go_to_left"]))
            if node["is_leaf"]:
                put(i, node, "LEAF", 0.0, 0, 0, 0)
            elif not node["is_categorical"]:
                put(i, node, "BRANCH_LEQ", float(node["num_threshold"]), int(node["left"]), int(node["right"]),
                    missing)
            else:
                words = bitsets[int(node["bitset_idx"])]
                left = [c for c in range(32 * len(words)) if (int(words[c // 32]) >> (c % 32)) & 1] or [-1]
                ids = [i, *range(spare, spare + len(left) - 1)]
                spare += len(left) - 1
                for k, code in enumerate(left):
                    after = ids[k + 1] if k + 1 < len(left) else int(node["right"])
                    put(ids[k], node, "BRANCH_EQ", float(code), int(node["left"]), after, missing)

    return write


def _sub_estimators(model: Any) -> list[Any]:
    """The model and every estimator nested in it (pipeline steps, column transformers, ensembles)."""
    found: list[Any] = []
    stack = [model]
    seen: set[int] = set()
    while stack:
        est = stack.pop()
        if id(est) in seen:
            continue
        seen.add(id(est))
        found.append(est)
        if hasattr(est, "get_params"):
            try:
                params = est.get_params(deep=False)
            except Exception:  # some third-party estimators break get_params
                params = {}
            for value in params.values():
                if hasattr(value, "fit"):
                    stack.append(value)
                elif isinstance(value, (list, tuple)):
                    for item in value:
                        obj = item[1] if isinstance(item, tuple) and len(item) >= 2 else item
                        if hasattr(obj, "fit"):
                            stack.append(obj)
        for attr in ("steps", "transformers_", "estimators_"):
            value = getattr(est, attr, None)
            if isinstance(value, list):
                for item in value:
                    obj = item[1] if isinstance(item, tuple) and len(item) >= 2 else item
                    if hasattr(obj, "fit"):
                        stack.append(obj)
    return found


class SklearnConverter(Converter):
    framework = "sklearn"
    MODULE_PREFIXES = ("sklearn.",)
    DEFAULT_OPSET = 17
    MIN_OPSET = 9
    #: skl2onnx 1.20's newest tested opset (skl2onnx.get_latest_tested_opset_version()).
    MAX_OPSET = 22

    FILE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".skops")
    PRECISIONS: ClassVar[tuple[str, ...]] = PRECISIONS
    #: Estimators whose skl2onnx 1.20 converter refuses opsets below the default ("This converter no
    #: longer works for opset 17 < 18"): a model holding one is converted at that opset unless asked otherwise.
    NEWER_OPSET: ClassVar[dict[str, int]] = {"KNNImputer": 18}

    def min_opset_for(self, model: Any) -> int:
        return max([self.MIN_OPSET, *(self.NEWER_OPSET.get(type(est).__name__, 0) for est in _sub_estimators(model))])

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        suffix = path.suffix.lower()
        if suffix == ".skops":
            try:
                import skops.io as sio
            except ImportError as err:
                raise missing_dependency("skops", "sklearn", "Loading a .skops file") from err
            try:
                untrusted = sio.get_untrusted_types(file=path)
            except Exception as err:
                raise UnsupportedModelError(f"{str(path)!r} is not a readable .skops file: {err}") from err
            if untrusted and not trust_pickle:
                raise UntrustedFileError(
                    f"{str(path)!r} contains types skops does not trust by default: {untrusted}. Loading "
                    "them may run code; pass --trust-pickle (trust_pickle=True) if you trust this file.",
                    path=str(path),
                )
            return sio.load(path, trusted=untrusted or None)
        if not trust_pickle:
            raise UntrustedFileError(
                f"{str(path)!r} is a pickle: loading it runs any code it contains. Pass --trust-pickle "
                "if you trust where it came from, or save the model with skops (.skops) instead.",
                path=str(path),
            )
        try:
            # joblib reads plain pickles and its own format, whatever the file is called (joblib.dump to a
            # .pkl is common); it ships with scikit-learn
            import joblib

            return joblib.load(path)
        except FileNotFoundError:
            raise UnsupportedModelError(f"model file not found: {str(path)!r}", path=str(path)) from None
        except Exception as err:
            raise UnsupportedModelError(
                f"cannot unpickle {str(path)!r}: {type(err).__name__}: {err}", path=str(path)
            ) from err

    def save_native(self, model: Any, folder: Path) -> Path:
        import skops.io as sio

        path = folder / "model.skops"
        sio.dump(model, path)
        return path

    def check_model(self, model: Any) -> None:
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError as err:
            raise UnsupportedModelError(
                f"{type(model).__name__} is not fitted: expected a fitted estimator. Call .fit(X, y) first.",
                framework=self.framework,
            ) from err
        except TypeError:
            pass  # not an estimator check_is_fitted understands; skl2onnx will say
        from onnxgate.converters._boosting import lightgbm_categories

        for est in _sub_estimators(model):
            if est is not model and lightgbm_categories(est):
                # skl2onnx hands the step one matrix: the text of a category column went into a Concat
                # with the numbers, and convert wrote (exit 0) a file onnxruntime cannot load
                raise UnsupportedModelError(
                    f"{type(est).__name__} inside a scikit-learn pipeline was fitted on pandas category columns, "
                    "whose values onnxgate maps to LightGBM's codes only for the LightGBM model on its own "
                    "(skl2onnx hands a pipeline's step one matrix of numbers). Convert the LightGBM model alone, "
                    "with a sample of its input columns",
                    framework=self.framework,
                )
            classes: Any = getattr(est, "classes_", None)
            if (type(est).__module__.startswith(("sklearn.tree", "sklearn.ensemble")) and hasattr(classes, "__len__")
                    and not isinstance(classes, list) and len(classes) == 1):
                # skl2onnx's tree converters mishandle a single class: a forest on one text class made
                # onnxruntime abort the process (SIGABRT) in validate, one int class 7 predicted 1
                raise UnsupportedModelError(
                    f"{type(est).__name__} was fitted on a single class ({classes[0]!r}), which skl2onnx's tree "
                    "converters do not write correctly (the file answers another class, or makes onnxruntime "
                    "abort). Fit it on data holding at least two classes; a model answering one class "
                    "whatever the row needs no tree",
                    framework=self.framework,
                )
            categorical = getattr(est, "is_categorical_", None)
            if (type(est).__name__.startswith("HistGradientBoosting") and categorical is not None
                    and any(categorical) and est is not model):
                # its category splits are written as sets, and its own encoder in front of it, where it reads
                # the sample itself (:func:`_hist_category_codes`); after other steps skl2onnx cannot pick
                # the category columns out of their output ("Cannot extract a specific column ... unknown
                # dimension")
                columns = [int(i) for i in range(len(categorical)) if categorical[i]]
                raise UnsupportedModelError(
                    f"{type(est).__name__} was fitted with categorical features (feature(s) {columns}) after "
                    "other steps; onnxgate converts such a model when it reads the data itself. Let it encode "
                    "the categories (pandas category columns, categorical_features='from_dtype', or column "
                    "names) and convert it on its own, or fit it without categorical_features",
                    framework=self.framework,
                )

    def is_classifier(self, model: Any) -> bool:
        from sklearn.base import is_classifier

        return bool(is_classifier(model))

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
        _skl2onnx()
        if sample is None:
            raise InvalidDataError(
                "converting a scikit-learn model needs a sample (array or DataFrame) to fix the input "
                "names and types; pass convert(model, X[:5])"
            )
        options = dict(options)
        precision = options.pop("precision", "auto")
        if precision not in PRECISIONS:
            raise UnsupportedModelError(
                f"option precision must be one of {list(PRECISIONS)}, found {precision!r}", framework=self.framework
            )
        zipmap = options.pop("zipmap", False)
        input_name = str(options.pop("input_name", "input"))
        unknown = [k for k in options if isinstance(k, str)]
        if unknown:
            raise UnsupportedModelError(
                f"unknown scikit-learn conversion option(s) {unknown}; known options are "
                "'zipmap', 'precision', 'input_name' (or skl2onnx options keyed by estimator id/type)",
                framework=self.framework,
            )
        columns = _sample_columns(model, sample, input_name)
        float64_data = any(c.dtype.kind == "f" and c.dtype.itemsize == 8 for c in columns)
        if precision == "auto":
            attempts = ["float64", "float32"] if float64_data else ["float32"]
        else:
            attempts = [precision]
        warnings: list[str] = unknown_value_notes(model)
        model, options = _int64_classes(model, options)
        model, options = _without_unwritable_settings(model, options, warnings)
        model = _hist_category_codes(model, sample)
        conv_options = self._converter_options(model, zipmap, options)
        ml_opset = _register_boosting(model, ml_opset)
        no_double = False
        for compute in attempts:
            try:
                proto = self._convert_at(model, columns, compute, opset, ml_opset, name, conv_options, warnings)
            except _NoDouble as reason:
                if precision == "float64":
                    raise UnsupportedModelError(str(reason), framework=self.framework) from None
                warnings.append(
                    f"computed in float32 although the sample is float64: {reason.short}. Parity can differ "
                    "from the float64 estimator by float32 rounding (a label can flip near a threshold)"
                )
                no_double = True
                continue
            if compute == "float32" and float64_data:
                # ":no-double": asking for float64 is no fix (parity's hint must not send the user there)
                _set_metadata(proto, PRECISION_METADATA_KEY,
                              "float32-from-float64:no-double" if no_double else "float32-from-float64")
            elif compute == "float64":
                _set_metadata(proto, PRECISION_METADATA_KEY, "float64")
            histogram = sorted({type(e).__name__ for e in _sub_estimators(model)
                                if type(e).__name__.startswith("HistGradientBoosting")})
            if float64_data and histogram:
                # the tree ensembles run float32 in every graph (_float32_tree_ensembles), as the other
                # scikit-learn trees compare; HistGradientBoosting compares float64 with double thresholds
                warnings.append(
                    f"{histogram[0]} compares float64 features with double thresholds; the graph's trees "
                    "compare them as float32 (ai.onnx.ml's tree ensembles), whatever the precision, so a value "
                    "within a float32 step of a threshold can take the other branch: validate with the data "
                    "the model will score"
                )
            return RawConversion(model=proto, warnings=warnings)
        raise AssertionError("unreachable")  # pragma: no cover

    def _converter_options(self, model: Any, zipmap: Any, user: Mapping[Any, Any]) -> dict[Any, Any]:
        """Per-estimator skl2onnx options: ``zipmap`` for every estimator whose converter takes it.

        A converter that lists no ``zipmap`` (RFE, RFECV, a regressor...) refuses the option, so it is
        only passed where skl2onnx's registration allows it.
        """
        conv_options: dict[Any, Any] = {}
        for est in _sub_estimators(model):
            if not self.is_classifier(est):
                continue
            # a Pipeline's converter lists zipmap too, but accepts it only with a classifier at the end
            # whose own converter takes it: skl2onnx hands the pipeline's option on to that step, and
            # LinearSVC's converter refused it ("Option 'zipmap' not in [...]")
            last = est
            while hasattr(last, "steps") and last.steps:
                last = last.steps[-1][1]
            allowed_last = _allowed_options(last)
            if allowed_last and "zipmap" not in allowed_last:  # a converter that lists its options, without it
                conv_options[id(last)] = {}  # an entry of its own: skl2onnx then adds no zipmap to it
            elif "zipmap" in _allowed_options(est):
                conv_options[id(est)] = {"zipmap": zipmap}
        for key, value in user.items():
            conv_options[key] = value
        return conv_options

    def _convert_at(
        self,
        model: Any,
        columns: list[_Column],
        compute: str,
        opset: int,
        ml_opset: int,
        name: str | None,
        conv_options: Mapping[Any, Any],
        warnings: list[str],
    ) -> Any:
        """Convert with floats computed in ``compute``; float inputs keep the sample's dtype at the boundary."""
        import numpy as np

        skl2onnx = _skl2onnx()
        compute_dtype = np.dtype(compute)
        # input position -> element type fed from outside (positions: skl2onnx renames the inputs)
        wider = {i: _code(c.dtype) for i, c in enumerate(columns) if c.dtype.kind == "f" and c.dtype != compute_dtype}
        boundary: dict[str, int] = {}
        concat = False
        if len(columns) > 1:
            # the original names: a ColumnTransformer selects by them (skl2onnx sanitises them itself)
            initial = [(c.original, _tensor_type(c.dtype, 1, compute_dtype)) for c in columns]
        else:
            initial = [(columns[0].name, _tensor_type(columns[0].dtype, columns[0].width, compute_dtype))]
        target_opset = {"": opset, "ai.onnx.ml": ml_opset}
        graph_name = name or type(model).__name__
        try:
            positioned, options = _positioned(model, None, conv_options)
            proto = skl2onnx.convert_sklearn(
                positioned, name=graph_name, initial_types=initial, target_opset=target_opset, options=options or None,
            )
        except OnnxGateError:
            raise  # a step onnxgate converts (XGBoost, LightGBM, CatBoost) refused by name
        except Exception as err:
            if len(columns) > 1 and _takes_one_input(err):
                concat = True
            else:
                raise _conversion_error(model, err, compute) from err
        else:
            # Many converters read only their first input and say nothing (PowerTransformer computed all 13
            # wine features from 'alcohol', SelectKBest gathered past its width): an input no node reads
            # means the step takes one matrix. A ColumnTransformer may leave a dropped column unread.
            concat = len(columns) > 1 and not _selects_columns(model) and bool(
                _unread_inputs(proto) or _overfed_nodes(proto))
        if concat:
            # A plain estimator fitted on a DataFrame reads one [N,k] matrix: its columns are
            # concatenated (each cast to the compute type) inside the graph, one input per column.
            text = [c.original for c in columns if c.dtype.kind not in "fiub"]
            if text:
                raise InvalidDataError(
                    f"{type(model).__name__} reads one matrix of numbers, but the sample's column(s) {text} hold "
                    "text; encode them in the pipeline (a ColumnTransformer with a OneHotEncoder) or drop them",
                    column=text[0],
                )
            matrix = "__onnxgate_features"
            initial = [(matrix, _tensor_type(compute_dtype, len(columns), compute_dtype))]
            try:
                # a ColumnTransformer beside a one-matrix step (a FeatureUnion's branches) picks by position
                positioned, options = _positioned(model, [c.original for c in columns], conv_options)
                proto = skl2onnx.convert_sklearn(
                    positioned, name=graph_name, initial_types=initial, target_opset=target_opset,
                    options=options or None,
                )
            except OnnxGateError:
                raise
            except Exception as err:
                raise _conversion_error(model, err, compute) from err
        from onnxgate._graph import cast_inputs, columns_into_input, restamp

        # onnxgate's Cast and Concat below are written at the requested opset: the graph is stamped there
        # first (skl2onnx stamps the lowest its nodes need, as low as 5, before Cast-6)
        restamp(proto, {"": opset, "ai.onnx.ml": ml_opset})
        if len(columns) > 1 and not concat:
            _name_inputs(proto, [c.name for c in columns])
        if concat:
            columns_into_input(proto, matrix, [(c.name, _code(c.dtype)) for c in columns])
            boundary = {columns[i].name: code for i, code in wider.items()}  # cast by the Concat front
        elif wider:
            names = [vi.name for vi in proto.graph.input]
            boundary = {names[i]: code for i, code in wider.items()}
            cast_inputs(proto, boundary)
        if boundary:
            fed = sorted({_dtype_name(code) for code in boundary.values()})
            # the user's column names: the input names may change again (SQL adaptation renames 'select')
            labels = {c.name: c.original for c in columns}
            shown = sorted(labels.get(n, n) for n in boundary)
            what = "inputs" if all(labels.get(n, n) == n for n in boundary) else "columns"
            warnings.append(
                f"{what} {shown} are fed as {' or '.join(fed)} and cast to {compute} inside the graph, "
                f"where the model computes in {compute}"
            )
        _dedupe_opset_imports(proto)
        _declare_output_ranks(proto)
        _declare_binary_scores(proto, model)
        _declare_targets(proto, model)
        _probabilities_per_row(proto, model, opset)
        _label_per_row(proto, model)
        _portable_locale(proto, warnings)
        _labels_as_classes(proto, model)
        _lightgbm_category_codes(proto, model, opset)
        if compute == "float64":
            _double_feature_vectorizers(proto)
            _float32_tree_ensembles(proto)
            _float32_ml_outputs(proto)
            from onnxgate.converters._boosting import uses_boosting

            final = _final_step(model)
            if uses_boosting(model, [final]):
                _float32_tree_outputs(proto)
            _declare_double_outputs(proto)
            _refuse_ill_typed_double(proto, model)
        return proto

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        X = self.native_input(model, feeds, signature)
        outputs: list[Any] = []
        cache: dict[str, Any] = {}

        def call(method: str) -> Any:
            if method not in cache:
                cache[method] = _dense(_call_native(getattr(model, method), X))
            return cache[method]

        from sklearn.base import is_regressor

        for i, spec in enumerate(signature.outputs):
            lname = spec.name.lower()
            per_class = re.fullmatch(r"p_(\d+)", lname)
            if "prob" in lname and hasattr(model, "predict_proba"):
                outputs.append(call("predict_proba"))
            elif per_class and hasattr(model, "predict_proba"):
                # the SQL layout's one column per class, met without the mapping adapt records (it was
                # stripped): 'not compared', and p_0 and p_1 swapped passed
                proba = call("predict_proba")
                k = int(per_class.group(1))
                outputs.append(proba[:, [k]] if proba.ndim == 2 and k < proba.shape[1] else None)
            elif "prob" in lname and hasattr(model, "decision_function"):
                # no predict_proba: skl2onnx writes the decision scores there (SVC, SGDClassifier...)
                outputs.append(_scores_as_written(model, call("decision_function"), spec.width))
            elif "label" in lname and hasattr(model, "predict"):
                outputs.append(call("predict"))
            elif "score" in lname and hasattr(model, "decision_function"):
                outputs.append(call("decision_function"))
            elif i == 0 and hasattr(model, "predict") and (is_regressor(model) or not hasattr(model, "transform")):
                outputs.append(call("predict"))
            elif i == 1 and len(signature.outputs) == 2 and self.is_classifier(model) and (
                    hasattr(model, "predict_proba") or hasattr(model, "decision_function")):
                # a classifier's two outputs renamed: skl2onnx writes the label, then the probabilities
                # (or the decision scores); left "not compared", negated probabilities named 'out2' passed
                outputs.append(call("predict_proba") if hasattr(model, "predict_proba")
                               else _scores_as_written(model, call("decision_function"), spec.width))
            elif hasattr(model, "transform"):
                outputs.append(call("transform"))
            else:
                outputs.append(None)
        return outputs

    def native_input(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> Any:
        """Rebuild what the estimator was fitted on from ONNX feeds (a DataFrame when it has column names).

        Inputs are matched to ``feature_names_in_`` by name, else by position (the ONNX names are the
        columns sanitised: ``sepal length (cm)`` -> ``sepal_length__cm_``). An estimator that takes a
        1-D array (LabelEncoder, a text vectorizer) gets its single ``[N,1]`` input as one.
        """
        import numpy as np

        names = signature.input_names
        columns = getattr(model, "feature_names_in_", None)
        if len(names) == 1 and (columns is None or names[0] not in set(map(str, columns))):
            X = feeds[names[0]]
            # a pipeline's tags say two_d_array whatever its first step reads (TfidfVectorizer: 1-D text)
            if (_takes_1d(model) or _takes_1d(_first_step(model))) and np.ndim(X) == 2 and np.shape(X)[1] == 1:
                return np.asarray(X).reshape(-1)
            return X
        if columns is not None:
            import pandas as pd

            labels = list(columns)
            if set(names) <= set(map(str, labels)) or len(labels) != len(names):
                return pd.DataFrame({n: np.asarray(feeds[n]).reshape(-1) for n in names})
            return pd.DataFrame({c: np.asarray(feeds[n]).reshape(-1) for c, n in zip(labels, names)})
        return np.hstack([np.asarray(feeds[n]).reshape(len(feeds[n]), -1) for n in names])


def _register_boosting(model: Any, ml_opset: int) -> int:
    """XGBoost/LightGBM/CatBoost steps convert through converters registered with skl2onnx; those
    write ai.onnx.ml at most 3 (the ai.onnx.ml opset to convert at is returned)."""
    from onnxgate.converters._boosting import ML_OPSET_CAP, register_with_skl2onnx, uses_boosting

    estimators = _sub_estimators(model)
    if not uses_boosting(model, estimators):
        return ml_opset
    register_with_skl2onnx(estimators)
    return min(ml_opset, ML_OPSET_CAP)


#: How skl2onnx lays out a binary classifier's decision scores ``d`` in its ``probabilities`` output when
#: the classifier has no predict_proba (measured with skl2onnx 1.20 on breast_cancer, to 1e-6).
_BINARY_SCORES = {"SVC": "d,-d", "NuSVC": "d,-d", "LinearSVC": "d", "RidgeClassifier": "d", "RidgeClassifierCV": "d",
                  "SGDClassifier": "-d,d", "Perceptron": "-d,d", "PassiveAggressiveClassifier": "-d,d",
                  # scikit-learn's two columns sum to 1 (one vote, and the same confidence with either sign)
                  # before decision_function keeps the second
                  "OneVsOneClassifier": "1-d,d"}


def _declare_binary_scores(proto: Any, model: Any) -> None:
    """Declare ``[N,1]`` the scores of a binary classifier that writes one score per row (RidgeClassifier,
    LinearSVC: see :data:`_BINARY_SCORES`); skl2onnx declares ``[N,2]`` for RidgeClassifier, and shape
    inference agrees with it, but onnxruntime's LinearClassifier writes one column."""
    final = _final_step(model)
    if _BINARY_SCORES.get(type(final).__name__) != "d" or len(getattr(final, "classes_", ())) != 2:
        return
    for out in proto.graph.output:
        dims = out.type.tensor_type.shape.dim if out.type.HasField("tensor_type") else []
        if "prob" in out.name.lower() and len(dims) == 2 and dims[1].HasField("dim_value"):
            dims[1].dim_value = 1


def _declare_targets(proto: Any, model: Any) -> None:
    """Declare a multi-target regressor's output ``[N, n_targets]``: skl2onnx declares a forest's
    ``[N,1]`` (onnxruntime then warns at every run, and the SQL adaptation did not split the targets)."""
    from sklearn.base import is_regressor

    final = _final_step(model)
    targets = getattr(final, "n_outputs_", None)
    if not is_regressor(final) or not isinstance(targets, int) or targets < 2 or len(proto.graph.output) != 1:
        return
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    if len(dims) == 2 and dims[1].HasField("dim_value") and dims[1].dim_value == 1:
        dims[1].dim_value = targets


def _probabilities_per_row(proto: Any, model: Any, opset: int) -> None:
    """A multi-label tree, forest or KNN classifier's probabilities as one ``[N, sum k_t]`` row per sample.

    skl2onnx writes them ``[targets, N, max k]`` (a target with fewer classes padded), where scikit-learn
    returns one ``[N, k_t]`` array per target; parity compares those side by side, and failed every such
    model on shape, and no SQL target could split a rank-3 output into columns. The targets are laid out
    in order, each sliced to its own classes, as MultiOutputClassifier's sequence is compared.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    from onnxgate._graph import graph_names, redirect_output, unique_name

    final = _final_step(model)
    classes = getattr(final, "classes_", None)
    if not isinstance(classes, list) or len(classes) < 2 or len(proto.graph.output) != 2:
        return
    out = proto.graph.output[1]
    if not out.type.HasField("tensor_type"):
        return
    dims = out.type.tensor_type.shape.dim
    widths = [len(c) for c in classes]
    if len(dims) != 3 or not dims[0].HasField("dim_value") or dims[0].dim_value != len(widths):
        return
    graph = proto.graph
    taken = graph_names(graph)
    stacked = unique_name(f"{out.name}_per_target", taken)
    redirect_output(graph, out.name, stacked)

    def const(base: str, value: Any) -> str:
        name = unique_name(base, taken)
        graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=np.int64), name))
        return name

    writer = next((n for n in graph.node if stacked in n.output), None)
    if (len(set(widths)) > 1 and writer is not None and writer.op_type == "Concat"
            and len(writer.input) == len(widths) and [a.i for a in writer.attribute if a.name == "axis"] == [0]):
        # skl2onnx's KNN does not pad a target with fewer classes: it concatenates [1, N, k_t] blocks on
        # axis 0, a file the checker and onnxruntime refuse. Side by side on the class axis instead.
        del writer.attribute[:]
        writer.attribute.append(helper.make_attribute("axis", 2))
        graph.node.append(helper.make_node("Reshape", [stacked, const(f"{out.name}_rows", [-1, sum(widths)])],
                                           [out.name], name=unique_name(f"{out.name}_side_by_side", taken)))
    else:
        parts = _per_target_slices(graph, stacked, out.name, widths, opset, taken, const)
        graph.node.append(helper.make_node("Concat", parts, [out.name], axis=1,
                                           name=unique_name(f"{out.name}_side_by_side", taken)))
    batch = type(dims[1])()
    batch.CopyFrom(dims[1])
    out.type.tensor_type.shape.ClearField("dim")
    out.type.tensor_type.shape.dim.add().CopyFrom(batch)
    out.type.tensor_type.shape.dim.add().dim_value = sum(widths)


#: The locale a text model's StringNormalizer lower-cases with, where the converter names none.
TEXT_LOCALE = "C.UTF-8"


def _portable_locale(proto: Any, warnings: list[str]) -> None:
    """Name a locale every Linux onnxruntime can build in a StringNormalizer that names none.

    skl2onnx writes CountVectorizer's and TfidfVectorizer's StringNormalizer without a locale, and
    onnxruntime on Linux then builds ``en_US.UTF-8``, which most container images and this machine lack:
    every text model failed to load ("Failed to construct locale with name:en_US.UTF-8"), raw skl2onnx's
    too. ``C.UTF-8`` ships with glibc's Debian and Ubuntu images and lower-cases all of Unicode as
    ``en_US.UTF-8`` does. onnxruntime on Windows reads Windows' own locale names, so the choice is said.
    """
    from onnx import helper

    changed = 0
    for node in proto.graph.node:
        if (node.op_type == "StringNormalizer" and node.domain in ("", "ai.onnx")
                and not any(a.name == "locale" for a in node.attribute)):
            node.attribute.append(helper.make_attribute("locale", TEXT_LOCALE))
            changed += 1
    if changed:
        warnings.append(
            f"the text normalizer lower-cases in locale {TEXT_LOCALE!r}, which Linux images ship (onnxruntime's "
            "default, en_US.UTF-8, is missing from most and the model would not load); onnxruntime on Windows "
            "needs a Windows locale name there (en-US)"
        )


def _per_target_slices(graph: Any, stacked: str, out: str, widths: list[int], opset: int, taken: set[str],
                       const: Any) -> list[str]:
    """The ``[N, k_t]`` block of each target of a ``[targets, N, max k]`` tensor, sliced to its classes."""
    from onnx import helper

    from onnxgate._graph import unique_name

    parts = []
    for t, width in enumerate(widths):
        rows = unique_name(f"{out}_target{t}", taken)
        graph.node.append(helper.make_node("Gather", [stacked, const(f"{out}_t{t}", t)], [rows], axis=0,
                                           name=unique_name(f"{out}_gather{t}", taken)))
        part = unique_name(f"{out}_target{t}_classes", taken)
        if opset >= 10:
            graph.node.append(helper.make_node(
                "Slice", [rows, const(f"{out}_start", [0]), const(f"{out}_end{t}", [width]),
                          const(f"{out}_axis", [1])], [part], name=unique_name(f"{out}_slice{t}", taken)))
        else:
            graph.node.append(helper.make_node("Slice", [rows], [part], starts=[0], ends=[width], axes=[1],
                                               name=unique_name(f"{out}_slice{t}", taken)))
        parts.append(part)
    return parts


def _lightgbm_category_codes(proto: Any, model: Any, opset: int) -> None:
    """A pipeline ending in a LightGBM model fitted with ``categorical_feature``: its tree ensemble reads
    the categorical columns as LightGBM does (:func:`onnxgate.converters.lightgbm.truncate_category_codes`),
    when it is the only tree model in the pipeline (another's trees may read the same features)."""
    final = _final_step(model)
    if not type(final).__module__.startswith("lightgbm"):
        return
    trees = [e for e in _sub_estimators(model) if e is not final and (
        type(e).__module__.startswith(("sklearn.ensemble", "sklearn.tree", "xgboost", "catboost", "lightgbm")))]
    if trees:
        return
    from onnxgate.converters.lightgbm import _booster, _training_params, truncate_category_codes

    booster = _booster(final)
    codes = [int(i) for i in _training_params(booster).get("categorical_feature") or ()]
    if codes:
        truncate_category_codes(proto, codes, booster.num_feature(), opset)


def _int64_classes(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[Any, Any]]:
    """A model whose final classifier has integer class labels narrower or unsigned (int8, uint32...), with
    a copy of that classifier holding them as int64; options keyed by its id follow it.

    skl2onnx's KNN converter wrote an ArrayFeatureExtractor over int8 labels, which no ONNX schema allows
    (the checker and onnxruntime refused the file), and refused int16 and uint32 labels outright; other
    converters write int64 labels anyway. The values are unchanged, so the label output is int64, as
    for every other integer-labelled classifier. The classifier is found at the end of nested
    pipelines and inside a fitted search (``best_estimator_``, which skl2onnx converts); a multi-label
    classifier's labels (one array per target) are widened each. The user's model is never changed.
    """
    moved: dict[int, Any] = {}
    wide = _widened(model, moved)
    if not moved:
        return model, options
    options = dict(options)
    for old, new in moved.items():
        if old in options:
            options[id(new)] = options.pop(old)
    return wide, options


def _hist_category_codes(model: Any, sample: Any) -> Any:
    """A HistGradientBoosting model fitted with categorical features as a pipeline whose first step is its
    own ordinal encoding; any other model as it is.

    The estimator encodes its categorical columns itself (an ``OrdinalEncoder`` inside ``_preprocessor``:
    the categories it saw in training become 0, 1, 2..., an unknown one or a missing value NaN) and puts
    them first, before the numeric columns; its trees split on those codes. skl2onnx ignores that
    encoder: a ``ColumnTransformer`` doing the same is converted in front of the trees (text, integer or
    float categories alike), and :func:`_hist_tree_with_category_sets` writes the category splits.
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = getattr(model, "is_categorical_", None)
    if not type(model).__name__.startswith("HistGradientBoosting") or categorical is None or not any(categorical):
        return model
    encoder = model._preprocessor.named_transformers_["encoder"]
    names = getattr(model, "feature_names_in_", None)
    if names is not None and hasattr(sample, "columns"):
        picked: list[Any] = [str(n) for n in names]
    else:
        picked = list(range(len(categorical)))
    codes = OrdinalEncoder(categories=[np.asarray(c) for c in encoder.categories_], handle_unknown="use_encoded_value",
                           unknown_value=np.nan, encoded_missing_value=np.nan, dtype=np.float64)
    parts: list[Any] = [("codes", codes, [c for c, cat in zip(picked, categorical) if cat])]
    numeric = [c for c, cat in zip(picked, categorical) if not cat]
    if numeric:
        parts.append(("numbers", "passthrough", numeric))
    front = ColumnTransformer(parts, sparse_threshold=0).fit(sample)
    return Pipeline([("onnxgate_category_codes", front), (type(model).__name__.lower(), model)])


def _without_unwritable_settings(model: Any, options: dict[Any, Any], warnings: list[str]
                                 ) -> tuple[Any, dict[Any, Any]]:
    """A copy of ``model`` without the settings skl2onnx refuses but the file's outputs do not depend on
    (each said in ``warnings``); ``model`` itself where there are none. The user's model is never changed.

    * ``VotingClassifier(voting="soft", flatten_transform=True)`` (the default): skl2onnx refused it,
      though ``flatten_transform`` shapes only ``transform()``, which the file does not answer.
    * ``KBinsDiscretizer(encode="onehot")`` (the default): a sparse output skl2onnx cannot write; its
      ``onehot-dense`` form holds the same values, which parity compares densified anyway.
    """
    import copy

    def unwritable(est: Any) -> str | None:
        kind = type(est).__name__
        if kind == "VotingClassifier" and getattr(est, "voting", None) == "soft" and getattr(
                est, "flatten_transform", False) is True:
            return "flatten_transform"
        if kind == "KBinsDiscretizer" and getattr(est, "encode", None) == "onehot":
            return "encode"
        return None

    if not any(unwritable(e) for e in _sub_estimators(model)):
        return model, options
    before = _sub_estimators(model)
    copied = copy.deepcopy(model)
    after = _sub_estimators(copied)  # the same walk over a copy: the same order
    moved = {id(old): new for old, new in zip(before, after, strict=True)}
    options = {(id(moved[k]) if isinstance(k, int) and k in moved else k): v for k, v in options.items()}
    said = set()
    for est in after:
        setting = unwritable(est)
        if setting == "flatten_transform":
            est.flatten_transform = False
            note = ("VotingClassifier converted with flatten_transform=False (skl2onnx refuses True; it shapes only "
                    "transform(), which the file does not answer)")
        elif setting == "encode":
            est.encode = "onehot-dense"
            note = ("KBinsDiscretizer converted with encode='onehot-dense' (ONNX has no sparse output; the values "
                    "are the same, dense)")
        else:
            continue
        if note not in said:
            said.add(note)
            warnings.append(note)
    return copied, options


def _label_per_row(proto: Any, model: Any) -> None:
    """QuadraticDiscriminantAnalysis's label output, which skl2onnx writes ``[1, N]``, as one label per row
    (``[N]``, as ``predict`` answers): parity failed every such model on shape, and a service answered one
    list of N labels for a batch."""
    import numpy as np
    from onnx import helper, numpy_helper

    from onnxgate._graph import graph_names, redirect_output, unique_name

    if type(_final_step(model)).__name__ != "QuadraticDiscriminantAnalysis" or not proto.graph.output:
        return
    out = proto.graph.output[0]
    if not out.type.HasField("tensor_type") or len(out.type.tensor_type.shape.dim) != 2:
        return
    graph = proto.graph
    taken = graph_names(graph)
    wide = unique_name(f"{out.name}_one_row", taken)
    redirect_output(graph, out.name, wide)
    shape = unique_name(f"{out.name}_rows", taken)
    graph.initializer.append(numpy_helper.from_array(np.asarray([-1], dtype=np.int64), shape))
    graph.node.append(helper.make_node("Reshape", [wide, shape], [out.name],
                                       name=unique_name(f"{out.name}_per_row", taken)))
    batch = next((o.type.tensor_type.shape.dim[0] for o in graph.output[1:] if o.type.HasField("tensor_type")
                  and o.type.tensor_type.shape.dim), None)
    out.type.tensor_type.shape.ClearField("dim")
    if batch is not None:
        out.type.tensor_type.shape.dim.add().CopyFrom(batch)
    else:
        out.type.tensor_type.shape.dim.add().dim_param = "N"


def _widened(model: Any, moved: dict[int, Any]) -> Any:
    """``model``, or a shallow copy of it and of the path to its final classifier where that
    classifier's labels had to be widened to int64 (``moved``: id of each replaced object -> its copy)."""
    import copy

    if hasattr(model, "steps") and model.steps:
        last = _widened(model.steps[-1][1], moved)
        if last is model.steps[-1][1]:
            return model
        outer = copy.copy(model)
        outer.steps = [*model.steps[:-1], (model.steps[-1][0], last)]
        moved[id(model)] = outer
        return outer
    best = getattr(model, "best_estimator_", None)
    if best is not None:
        inner = _widened(best, moved)
        if inner is best:
            return model
        outer = copy.copy(model)
        outer.best_estimator_ = inner
        moved[id(model)] = outer
        return outer
    classes = getattr(model, "classes_", None)
    if isinstance(classes, list):
        widened = [_int64_labels(c) for c in classes]
        if all(w is c for w, c in zip(widened, classes, strict=True)):
            return model
    else:
        widened = _int64_labels(classes)
        if widened is classes:
            return model
    wide = copy.copy(model)
    try:
        wide.classes_ = widened
    except AttributeError:  # a read-only property of a wrapper not known here: left as it is
        return model
    moved[id(model)] = wide
    return wide


def _int64_labels(classes: Any) -> Any:
    """Integer labels narrower than or unsigned against int64 as int64; anything else as it is (uint64
    labels past int64 too: the converter says so)."""
    import numpy as np

    if not isinstance(classes, np.ndarray) or classes.dtype.kind not in "iu" or classes.dtype == np.int64:
        return classes
    if classes.size and classes.max() > np.iinfo(np.int64).max:
        return classes
    return classes.astype(np.int64)


def _labels_as_classes(proto: Any, model: Any) -> None:
    """A classifier fitted on ``bool`` (or float) labels predicts ``False``/``True`` (``0.0``/``1.0``);
    skl2onnx writes its label output as int64 codes: cast back in the graph
    (:func:`onnxgate._graph.label_as_classes`)."""
    from onnxgate._graph import label_as_classes

    final = _final_step(model)
    if hasattr(final, "predict_proba") or hasattr(final, "decision_function"):
        label_as_classes(proto, getattr(final, "classes_", None))


def _scores_as_written(model: Any, scores: Any, width: int | None) -> Any:
    """The reference for the ``probabilities`` output of a classifier without predict_proba: its
    decision scores as skl2onnx lays them out, or None (not compared) for a layout not known here.
    Without it that output went unchecked, and SVC's scores multiplied by -1000 passed."""
    import numpy as np

    d = np.asarray(scores, dtype=np.float64)
    if d.ndim == 2:
        return d if width in (None, d.shape[1]) else None
    final = _final_step(model)
    layout = _BINARY_SCORES.get(type(final).__name__)
    if layout == "d":  # skl2onnx may declare [N,2] for what is [N,1]
        return d.reshape(-1, 1)
    if layout in ("d,-d", "-d,d", "1-d,d") and width in (None, 2):
        return np.column_stack({"d,-d": [d, -d], "-d,d": [-d, d], "1-d,d": [1 - d, d]}[layout])
    return None


def _dtype_name(code: int) -> str:
    """The numpy name of an ONNX element type code (``11`` -> ``float64``)."""
    from onnx import helper

    return str(helper.tensor_dtype_to_np_dtype(code).name)


def _code(dtype: np.dtype[Any]) -> int:
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(dtype))


def _dedupe_opset_imports(proto: Any) -> None:
    """skl2onnx can list the default domain twice ('' and 'ai.onnx'); keep one entry per domain."""
    from onnxgate._onnx import model_opsets

    best = model_opsets(proto)  # one entry per domain, the highest version listed
    del proto.opset_import[:]
    for domain, version in best.items():
        item = proto.opset_import.add()
        item.domain = domain
        item.version = version


class _NoDouble(Exception):
    """The double-precision graph cannot be written or run; ``short`` says why in a few words."""

    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short


@dataclass(frozen=True)
class _Column:
    """One ONNX input as the sample fixes it: its name, the column it came from, dtype and width."""

    name: str
    original: str
    dtype: np.dtype[Any]
    width: int | None


def _input_readers(model: Any) -> list[Any]:
    """The estimators that read the model's input: a pipeline's first step, every branch of a
    FeatureUnion there (and of the pipelines in its branches)."""
    first = _first_step(model)
    if type(first).__name__ != "FeatureUnion":
        return [first]
    return [reader for _, branch in first.transformer_list if not isinstance(branch, str)
            for reader in _input_readers(branch)]


def _selects_columns(model: Any) -> bool:
    """True when every step that reads the input picks its columns by name (ColumnTransformers)."""
    return all(type(reader).__name__ == "ColumnTransformer" for reader in _input_readers(model))


def _by_position(model: Any, names: list[str] | None, copies: dict[int, Any] | None = None) -> Any:
    """``model`` with each ColumnTransformer that reads the input selecting its columns by position:
    a boolean mask always (skl2onnx reads True and False as the positions 1 and 0), column names too
    when ``names`` is given, for the Concat front's one matrix (skl2onnx looks a name up among the graph
    inputs, and there is one). Shallow copies along the way: the user's model is not changed; ``copies``
    gets ``id(original) -> copy`` for each (skl2onnx's per-estimator options are keyed by id)."""
    import copy

    kind = type(model).__name__
    if hasattr(model, "steps") and model.steps:
        first = _by_position(model.steps[0][1], names, copies)
        if first is model.steps[0][1]:
            return model
        clone = copy.copy(model)
        clone.steps = [(model.steps[0][0], first), *model.steps[1:]]
        return _copied(model, clone, copies)
    if kind == "FeatureUnion":
        # a 'drop' member adds no column (skl2onnx: "Parameter model must be an object not a string 'drop'")
        branches = [(name, branch if isinstance(branch, str) else _by_position(branch, names, copies))
                    for name, branch in model.transformer_list if not (isinstance(branch, str) and branch == "drop")]
        if len(branches) == len(model.transformer_list) and all(
                new is old for (_, new), (_, old) in zip(branches, model.transformer_list)):
            return model
        clone = copy.copy(model)
        clone.transformer_list = branches
        return _copied(model, clone, copies)
    if kind != "ColumnTransformer":
        return model
    import numpy as np

    def positions(columns: Any) -> Any:
        if isinstance(columns, slice) or callable(columns):
            return columns
        picked = np.atleast_1d(np.asarray(columns))
        if picked.dtype.kind == "b":
            return [int(i) for i in np.flatnonzero(picked)]
        if picked.dtype.kind in "iu":
            return [int(i) for i in picked]
        return columns if names is None else [names.index(str(c)) for c in picked]

    clone = copy.copy(model)
    clone.transformers_ = [(name, step, positions(columns)) for name, step, columns in model.transformers_]
    return _copied(model, clone, copies)


def _copied(original: Any, clone: Any, copies: dict[int, Any] | None) -> Any:
    if copies is not None:
        copies[id(original)] = clone
    return clone


def _positioned(model: Any, names: list[str] | None, options: Mapping[Any, Any]) -> tuple[Any, dict[Any, Any]]:
    """:func:`_by_position` of ``model``, and skl2onnx ``options`` keyed by the ids of the copies it made."""
    copies: dict[int, Any] = {}
    positioned = _by_position(model, names, copies)
    return positioned, {id(copies[key]) if key in copies else key: value for key, value in options.items()}


def _unread_inputs(proto: Any) -> list[str]:
    """The graph inputs no node (nor a graph output) reads."""
    from onnxgate._graph import walk_nodes

    read = {name for node in walk_nodes(proto.graph) for name in node.input}
    read.update(o.name for o in proto.graph.output)
    return [vi.name for vi in proto.graph.input if vi.name not in read]


def _final_step(model: Any) -> Any:
    """A pipeline's last step (the estimator whose outputs the graph's are), else the model."""
    return model.steps[-1][1] if hasattr(model, "steps") and model.steps else model


def _first_step(model: Any) -> Any:
    """The estimator that reads a pipeline's input (a nested pipeline's first step), else the model."""
    while hasattr(model, "steps") and model.steps:
        model = model.steps[0][1]
    return model


def _fitted_columns(model: Any) -> tuple[list[str] | None, Any]:
    """The columns ``model`` was fitted on, in order (None: fitted on an array), and the estimator that
    names them: ``feature_names_in_``, or the training names of an XGBoost, LightGBM or CatBoost
    model that reads the pipeline's input (CatBoost keeps them as ``feature_names_`` only)."""
    from onnxgate.converters._boosting import training_columns

    first = _first_step(model)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return training_columns(first), first
    return [str(n) for n in names], first


def _text_categories(model: Any) -> dict[str, list[str]]:
    """The columns an encoder in the model (OneHotEncoder, OrdinalEncoder...) was fitted on as text,
    by name, with their categories.

    Raises
    ------
    UnsupportedModelError
        An encoder learnt a missing value (NaN, None) as a category of a text column: skl2onnx writes it
        as the text ``'nan'``, so the model cannot tell a missing value from that text, and filling the
        missing values with anything else scores them as unknown, not as scikit-learn does.
    """
    found: dict[str, list[str]] = {}
    for est in _sub_estimators(model):
        names = getattr(est, "feature_names_in_", None)
        categories = getattr(est, "categories_", None)
        if names is None or not isinstance(categories, list) or len(categories) != len(names):
            continue
        for name, values in zip(names, categories):
            values = list(values)
            text = [v for v in values if isinstance(v, str)]
            if text and len(text) < len(values) and all(v is None or v != v for v in values if not isinstance(v, str)):
                raise UnsupportedModelError(
                    f"{type(est).__name__} learnt missing values of text column {str(name)!r} as a category of "
                    "their own; an ONNX text input has no missing value (skl2onnx writes that category as the "
                    "text 'nan'), so the model could not score those rows as scikit-learn does. Fill the "
                    f"missing values before fitting (X[{str(name)!r}].fillna('missing')), and the same way "
                    "before scoring",
                    framework="sklearn",
                )
            if values and len(text) == len(values):
                found[str(name)] = values
    return found


def _name_inputs(proto: Any, names: list[str]) -> None:
    """Give the graph's inputs ``names`` (:func:`sanitise_name`'s, in input order). skl2onnx names a
    ColumnTransformer's inputs by the same rule but compares names with their case, and kept ``A_B``
    beside ``a_b``: two inputs no SQL table can hold. A name some other tensor has (an output called
    ``probabilities``) gets a number, compared ignoring case with the other inputs and the outputs."""
    from onnxgate._graph import graph_names, read_instead

    inputs = list(proto.graph.input)
    own = {vi.name for vi in inputs}
    used = graph_names(proto.graph) - own  # every other tensor: an input may not take its name
    folded = {o.name.lower() for o in proto.graph.output}
    final = []
    for want in names[: len(inputs)]:
        name, i = want, 0
        while name in used or name.lower() in folded:
            i += 1
            name = f"{want}{i}"
        folded.add(name.lower())
        final.append(name)
    # through names no tensor has, so a name one input gives up and another takes is never read twice
    moves = [(vi, name) for vi, name in zip(inputs, final) if vi.name != name]
    for k, (vi, _name) in enumerate(moves):
        read_instead(proto.graph, vi.name, f"__onnxgate_input_{k}")
        vi.name = f"__onnxgate_input_{k}"
    for vi, name in moves:
        read_instead(proto.graph, vi.name, name)
        vi.name = name


def _no_onnx_type(dtype: Any) -> str | None:
    """What a DataFrame column of ``dtype`` holds when no ONNX input type can carry it (dates,
    durations, periods, intervals, category columns of anything but text or integers), else None."""

    categories = getattr(dtype, "categories", None)
    if categories is not None:
        inner = categories.dtype
        if getattr(inner, "kind", "O") in "iu" or all(isinstance(v, str) for v in categories):
            return None
        what = "Interval (pandas.cut bins)" if type(inner).__name__ == "IntervalDtype" else str(inner)
        return f"category values of type {what}"
    kind = getattr(dtype, "kind", "O")
    if kind in "Mm" or type(dtype).__name__ in ("PeriodDtype", "IntervalDtype"):
        return f"{dtype} values"
    return None


def _sample_columns(model: Any, sample: Any, input_name: str) -> list[_Column]:
    """The inputs the sample asks for: one per DataFrame column, or one ``[N,k]`` matrix."""
    import numpy as np

    from onnxgate._data import is_dataframe
    from onnxgate.converters._boosting import same_columns

    expected, namer = _fitted_columns(model)
    if (is_dataframe(sample) and expected is None and len(sample.columns) == 1
            and (_takes_1d(model) or _takes_1d(_first_step(model)))):
        # fitted on a 1-D array (a text vectorizer, LabelEncoder): a table's one column is that array
        sample = sample.iloc[:, 0].to_numpy()
    if is_dataframe(sample) and expected is None:
        # fitted on an array: the table's columns are its features in order, one [N,k] input
        text = [str(c) for c in sample.columns if getattr(sample[c].dtype, "kind", "O") not in "fiub"]
        if text:
            raise InvalidDataError(
                f"the model was fitted on an array of numbers, but the sample's column(s) {text} hold "
                "text; pass only the numeric feature columns, in training order",
                column=text[0],
            )
        sample = sample.to_numpy()
    if is_dataframe(sample):
        labels = [str(c) for c in sample.columns]
        if expected is not None and not same_columns(namer, expected, labels):
            missing = [c for c in expected if not any(same_columns(namer, [c], [label]) for label in labels)]
            reordered = not missing and len(labels) == len(expected)
            raise InvalidDataError(
                f"the model was fitted on columns {expected}; the sample has {labels}"
                + (f" (missing {missing})" if missing else "")
                + ("; the same columns in another order: pass them in training order "
                   "(sample[model.feature_names_in_])" if reordered else ""),
                column=missing[0] if missing else None,
            )
        taken: set[str] = set()
        columns = []
        text_categories = _text_categories(model)
        for label, col in zip(labels, sample.columns):
            dtype = sample[col].dtype
            kept = _no_onnx_type(dtype)
            if kept is not None:
                raise InvalidDataError(
                    f"column {label!r} holds {kept}; an ONNX input holds numbers or text, and no ONNX type "
                    "keeps these values as the model compares them. Convert the column before fitting, to text "
                    f"(X[{label!r}].astype(str)) or to numbers (for pandas.cut bins, labels=False gives their "
                    "codes), fit the model again and convert it with that frame",
                    column=label,
                )
            if not isinstance(dtype, np.dtype):
                categories = getattr(dtype, "categories", None)
                if categories is not None:
                    # a category column holds its categories' values: integer ones are integers (typed
                    # as text, the frame the model was fitted on was refused: "non-text values")
                    dtype = categories.dtype if categories.dtype.kind in "iu" else np.dtype(object)
                else:
                    # pandas' nullable numbers and booleans (Int64, Float64, boolean) hold numpy values (a
                    # missing Float64 reads as NaN); its other dtypes (string...) hold objects
                    numpy = getattr(dtype, "numpy_dtype", None)
                    dtype = numpy if isinstance(numpy, np.dtype) and numpy.kind in "fiub" else np.dtype(object)
                if dtype.kind in "iu" and bool(sample[col].isna().any()):
                    # scikit-learn reads integers holding <NA> (Int64, integer categories) as float64 with
                    # NaN, for an imputer: typed int64, the very sample was refused ("1 missing value")
                    dtype = np.dtype(np.float64)
            elif dtype.kind not in "fiubOUS":
                dtype = np.dtype(object)
            fitted = text_categories.get(label)
            if fitted is not None and np.dtype(dtype).kind in "iufb":
                # typed as numbers, skl2onnx writes the text categories as numbers too: '007', '070' and
                # '7' became 7, 70 and 7, two categories merged, and the conversion raised no error
                raise InvalidDataError(
                    f"column {label!r} was fitted as text (categories {fitted[:4]}{'...' if len(fitted) > 4 else ''}) "
                    f"but the sample holds numbers ({dtype}); a CSV reader reads codes such as '007' as the number 7. "
                    "Pass a sample with the column as text: a Parquet file, or pandas.read_csv(..., "
                    f"dtype={{{label!r}: str}}, keep_default_na=False)",
                    column=label,
                )
            columns.append(_Column(sanitise_name(label, taken), label, np.dtype(dtype), 1))
        return columns
    array = np.asarray(sample)
    n_in = getattr(model, "n_features_in_", None)
    if array.ndim == 1:
        # One column of values (LabelEncoder, a text vectorizer, a one-feature model), unless it is
        # exactly one row of a wider model's features.
        array = array.reshape(1, -1) if n_in not in (None, 1) and len(array) == n_in else array.reshape(-1, 1)
    if array.ndim != 2:
        raise InvalidDataError(f"expected a 2-D sample (rows x features), found shape {list(array.shape)}")
    if n_in is not None and array.shape[1] != n_in:
        raise InvalidDataError(
            f"the model was fitted on {n_in} features; the sample has {array.shape[1]} columns. "
            "Pass a sample with the training columns.",
        )
    return [_Column(input_name, input_name, array.dtype, array.shape[1])]


def _tensor_type(dtype: np.dtype[Any], width: int | None, compute: np.dtype[Any]) -> Any:
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        Int32TensorType,
        Int64TensorType,
        StringTensorType,
    )

    shape = [None, width]
    kind = dtype.kind
    if kind == "f":
        return DoubleTensorType(shape) if compute.itemsize == 8 else FloatTensorType(shape)
    if kind in "iu":
        return Int32TensorType(shape) if dtype.itemsize <= 4 and kind == "i" else Int64TensorType(shape)
    if kind == "b":
        return BooleanTensorType(shape)
    if kind in "OUS":
        return StringTensorType(shape)
    raise InvalidDataError(f"cannot map a column of dtype {dtype} to an ONNX input type")


def _allowed_options(est: Any) -> Mapping[str, Any]:
    """The options skl2onnx's converter for ``est`` accepts ({} when none is registered)."""
    try:
        from skl2onnx._supported_operators import sklearn_operator_name_map
        from skl2onnx.common._registration import get_converter

        return get_converter(sklearn_operator_name_map[type(est)]).get_allowed_options() or {}
    except Exception:  # no converter registered: skl2onnx will say so when it meets the estimator
        return {}


def _takes_one_input(err: Exception) -> bool:
    """skl2onnx refused the estimator's inputs one per column: it reads one input, or several of one type
    (a SimpleImputer first in a pipeline over float and int columns); the Cast + Concat front serves both."""
    text = str(err)
    return any(said in text for said in ("at most 1 input", "Inputs and outputs should have the same type",
                                         "Only one input vector is allowed",  # KMeans, GaussianProcess
                                         "with a wrong type"))  # a bool column into StandardScaler, KMeans


def _overfed_nodes(proto: Any) -> list[str]:
    """Nodes given more inputs than their operator takes: skl2onnx's SVM converters wire every input
    of one per column into a single SVM node, a model the ONNX checker then refuses."""
    import onnx

    from onnxgate._onnx import model_opsets

    opsets = model_opsets(proto)
    found = []
    for node in proto.graph.node:
        try:
            schema = onnx.defs.get_schema(node.op_type, opsets.get(node.domain, 1), node.domain)
        except Exception:  # an operator onnx does not know: the checker says so later
            continue
        if len(node.input) > schema.max_input:
            found.append(node.op_type)
    return found


def _takes_1d(model: Any) -> bool:
    """True for an estimator that reads a 1-D array (LabelEncoder, LabelBinarizer, text vectorizers)."""
    try:
        return not model.__sklearn_tags__().input_tags.two_d_array
    except Exception:
        return False


def _dense(value: Any) -> Any:
    """A scikit-learn answer as a dense array (sparse matrices from OneHotEncoder, TfidfTransformer...)."""
    import numpy as np

    if hasattr(value, "toarray"):
        value = value.toarray()
    if isinstance(value, list) and value and all(getattr(v, "ndim", 0) == 2 for v in value):
        # one [N, k_t] array per target (a multi-label forest's or MultiOutputClassifier's probabilities),
        # side by side as onnxgate lays them out: the SQL adaptation's p_0, p_1... columns index that row
        if len({len(v) for v in value}) == 1:
            return np.concatenate([np.asarray(v) for v in value], axis=1)
        return value
    return np.asarray(value)


def _call_native(method: Any, X: Any) -> Any:
    """Call the estimator on ``X`` as it was fitted: float32 rows are given as float64 first.

    Most estimators are fitted on float64 (scikit-learn converts to it), and some refuse float32
    rows after a float64 fit (``KMeans.predict`` in scikit-learn 1.9: "Buffer dtype mismatch");
    widening float32 to float64 is exact. An estimator fitted on float32 that refuses float64 gets
    the rows as they came.
    """
    wide = _widen(X)
    if wide is X:
        return method(X)
    try:
        return method(wide)
    except (ValueError, TypeError):
        return method(X)


def _widen(X: Any) -> Any:
    import numpy as np

    from onnxgate._data import is_dataframe

    if is_dataframe(X):
        narrow = [c for c in X.columns if X[c].dtype == np.float32]
        return X.astype({c: np.float64 for c in narrow}) if narrow else X
    if isinstance(X, np.ndarray) and X.dtype == np.float32:
        return X.astype(np.float64)
    return X


def _set_metadata(proto: Any, key: str, value: str) -> None:
    for prop in proto.metadata_props:
        if prop.key == key:
            prop.value = value
            return
    entry = proto.metadata_props.add()
    entry.key = key
    entry.value = value


def _double_feature_vectorizers(proto: Any) -> None:
    """In a double graph, join the columns in double, not through a float32 FeatureVectorizer.

    skl2onnx joins one input per DataFrame column with ai.onnx.ml's FeatureVectorizer, whose output is
    float32 whatever it reads, then casts the result to double: float64 columns lose their precision
    before a double scaler, and a tree splitting exactly at a training value flips rows that the
    array sample's graph (one double input) scores right. Where every input of the FeatureVectorizer
    is an ``[N,k]`` graph input (or a Cast of one) of the width it declares, and every node reading its output casts it
    to double, it becomes a Cast of each input to double and a Concat on axis 1 (the same values, in
    the same order, in double).
    """
    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, static_width, unique_name

    graph = proto.graph
    widths = {vi.name: static_width(vi) for vi in graph.input}
    types = {vi.name: vi.type.tensor_type.elem_type for vi in graph.input}
    for node in graph.node:  # an integer column is cast (to double, in a double graph) before joining
        if node.op_type == "Cast" and node.input[0] in widths and node.output[0] not in widths:
            widths[node.output[0]] = widths[node.input[0]]
            types[node.output[0]] = next(a.i for a in node.attribute if a.name == "to")
    taken = graph_names(graph)
    for node in list(graph.node):
        if node.op_type != "FeatureVectorizer":
            continue
        declared = [int(d) for a in node.attribute if a.name == "inputdimensions" for d in a.ints]
        if len(declared) != len(node.input) or any(widths.get(i) != d for i, d in zip(node.input, declared)):
            continue
        out = node.output[0]
        readers = [n for n in graph.node if out in n.input]
        to_double = all(
            (n.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.DOUBLE for a in n.attribute))
            or (n.op_type == "CastLike" and n.input[0] == out and types.get(n.input[1]) == TensorProto.DOUBLE)
            for n in readers
        )
        if not readers or not to_double or any(vi.name == out for vi in graph.output):
            continue
        parts, casts = [], []
        for name in node.input:
            if types[name] == TensorProto.DOUBLE:
                parts.append(name)
                continue
            cast = unique_name(f"{name}_as_double", taken)
            casts.append(helper.make_node("Cast", [name], [cast], to=TensorProto.DOUBLE,
                                          name=unique_name(f"Cast_{name}_double", taken)))
            parts.append(cast)
        position = list(graph.node).index(node)
        del graph.node[position]
        for offset, new in enumerate([*casts, helper.make_node("Concat", parts, [out], axis=1, name=node.name)]):
            graph.node.insert(position + offset, new)
        for vi in list(graph.value_info):
            if vi.name == out:
                graph.value_info.remove(vi)


_TREE_ENSEMBLES = {"TreeEnsembleClassifier": 1, "TreeEnsembleRegressor": 0}  # op -> index of its float output


#: ai.onnx.ml operators whose scores are float32 whatever their input (the spec types them float only).
_FLOAT_SCORES = frozenset({"SVMClassifier", "SVMRegressor", "LinearClassifier", "LinearRegressor"})


def _float32_ml_outputs(proto: Any) -> None:
    """Record that a double graph computes in float32 where an SVM or linear ai.onnx.ml operator scores.

    Those operators write float32 scores by definition, which skl2onnx casts to double: ``SVC(probability=
    True)`` answered probabilities with float32's rounding (4e-7 off) under float64's tolerance (1e-7), and
    a correct model failed. Recorded like the trees (``onnxgate.float32_inside``), its outputs get float32's
    default tolerances.
    """
    from onnxgate._onnx import FLOAT32_INSIDE_KEY

    ops = sorted({n.op_type for n in proto.graph.node if n.domain == "ai.onnx.ml" and n.op_type in _FLOAT_SCORES})
    if ops and not any(p.key == FLOAT32_INSIDE_KEY for p in proto.metadata_props):
        _set_metadata(proto, FLOAT32_INSIDE_KEY, ", ".join(ops))


def _float32_tree_ensembles(proto: Any) -> None:
    """Let tree ensembles sit in a double graph: float32 in, float32 out, Cast on both sides.

    skl2onnx 1.20 declares double outputs on ``TreeEnsembleClassifier``/``Regressor`` when the graph
    is double; ai.onnx.ml 1-3 define those outputs as float only, so the file is ill-typed and
    onnxruntime refuses it. Casting the tree's input to float32 is what scikit-learn's own trees do
    (``DecisionTree*``, forests and gradient boosting compare ``float32(x)`` with thresholds chosen
    for float32), so the comparisons are the estimator's; everything before the trees (a scaler)
    and after them stays in double. Applied only when the result type-checks.
    """
    import onnx
    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, unique_name

    trees = [n for n in proto.graph.node if n.domain == "ai.onnx.ml" and n.op_type in _TREE_ENSEMBLES]
    if not trees:
        return
    for widen_outputs in (True, False):  # skl2onnx declares some tree outputs double, some float
        candidate = onnx.ModelProto()
        candidate.CopyFrom(proto)
        graph = candidate.graph
        taken = graph_names(graph)
        positions = [
            i for i, n in enumerate(graph.node) if n.domain == "ai.onnx.ml" and n.op_type in _TREE_ENSEMBLES
        ]
        for index in reversed(positions):
            node = graph.node[index]
            source = node.input[0]
            narrow = unique_name(f"{source}_float32", taken)
            node.input[0] = narrow
            if widen_outputs:
                out_index = _TREE_ENSEMBLES[node.op_type]
                wide = node.output[out_index]
                inner = unique_name(f"{wide}_float32", taken)
                node.output[out_index] = inner
                graph.node.insert(index + 1, helper.make_node(
                    "Cast", [inner], [wide], to=TensorProto.DOUBLE, name=unique_name("Cast_tree_out", taken)
                ))
            graph.node.insert(index, helper.make_node(
                "Cast", [source], [narrow], to=TensorProto.FLOAT, name=unique_name("Cast_tree_in", taken)
            ))
        try:
            onnx.shape_inference.infer_shapes(candidate, check_type=True, strict_mode=True)
        except Exception:
            continue
        proto.CopyFrom(candidate)
        from onnxgate._onnx import FLOAT32_INSIDE_KEY

        _set_metadata(proto, FLOAT32_INSIDE_KEY, "tree ensembles")
        return  # else leave it: _refuse_ill_typed_double says why


def _float32_tree_outputs(proto: Any) -> None:
    """Graph outputs that are a float32 tree ensemble's output cast to double stay float32.

    For a pipeline ending in XGBoost, LightGBM or CatBoost: the trees compute in float32 (the
    library's own ONNX form, and XGBoost's predictions), so a double output would only claim a
    precision the values do not have, and parity would hold them to double's tolerance. The same
    model converted on its own declares these outputs float32.
    """
    from onnx import TensorProto

    from onnxgate.adaptation.graph import rename_tensor

    graph = proto.graph
    producers = {out: node for node in graph.node for out in node.output}
    for output in graph.output:
        cast = producers.get(output.name)
        if cast is None or cast.op_type != "Cast" or output.type.tensor_type.elem_type != TensorProto.DOUBLE:
            continue
        tree = producers.get(cast.input[0])
        if tree is None or tree.domain != "ai.onnx.ml" or tree.op_type not in _TREE_ENSEMBLES:
            continue
        inner = cast.input[0]
        graph.node.remove(cast)
        rename_tensor(graph, inner, output.name)
        output.type.tensor_type.elem_type = TensorProto.FLOAT


def _declare_output_ranks(proto: Any) -> None:
    """Declare each graph output with the rank its node really writes.

    skl2onnx 1.20 declares some outputs with a rank their node does not produce (OneVsOneClassifier's
    ``label``: ``[N]`` declared, ``ArgMax`` with ``keepdims=1`` writes ``[N,1]``): onnxruntime warns and
    returns ``[N,1]``, and the ONNX checker's strict inference rejects the file. Where inference finds
    another rank, the declaration takes the inferred shape (the batch axis stays dynamic); where it finds
    the same rank, the inferred widths, and a dynamic batch for a fixed one. Targets and the SQL adaptation
    read these declarations: a width declared wider than written was split into a column that does not exist.
    """
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    for out in probe.graph.output:
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(probe)
    except Exception:
        return
    shapes = {o.name: o.type.tensor_type for o in inferred.graph.output if o.type.HasField("tensor_type")}
    rows_dynamic = all(i.type.tensor_type.shape.dim and not i.type.tensor_type.shape.dim[0].HasField("dim_value")
                       for i in proto.graph.input if i.type.HasField("tensor_type"))
    for out in proto.graph.output:
        found = shapes.get(out.name)
        if out.type.HasField("tensor_type") and (found is None or not found.HasField("shape")):
            # nothing inferred (an ai.onnx.ml Normalizer has no shape inference): scikit-learn returns a
            # row per input row, so a batch axis fixed to 1 (TfidfTransformer in float32: [1,k]) is
            # skl2onnx's declaration, not the model's, and made every SQL target refuse the model
            dims = out.type.tensor_type.shape.dim
            if rows_dynamic and dims and dims[0].HasField("dim_value") and dims[0].dim_value == 1:
                dims[0].Clear()
            continue
        if found is None or not out.type.tensor_type.HasField("shape"):
            continue
        declared = out.type.tensor_type.shape
        if not found.shape.dim:
            continue
        if len(found.shape.dim) == len(declared.dim):
            # the same rank, another width (PLSRegression: [N,n_features] declared for [N,n_targets]) or a
            # fixed batch (TfidfTransformer: [1,k]); a binary RidgeClassifier's [N,2] inference repeats, so
            # _declare_binary_scores declares it
            for i, (dim, said) in enumerate(zip(found.shape.dim, declared.dim)):
                known = dim.HasField("dim_value") and said.HasField("dim_value")
                if i > 0 and known and dim.dim_value != said.dim_value:
                    said.dim_value = dim.dim_value
                elif i == 0 and said.HasField("dim_value") and not dim.HasField("dim_value"):
                    said.Clear()  # the rows: dynamic
            continue
        declared.ClearField("dim")
        for i, dim in enumerate(found.shape.dim):
            new = declared.dim.add()
            if i > 0 and dim.HasField("dim_value"):
                new.dim_value = dim.dim_value


def _declare_double_outputs(proto: Any) -> None:
    """Declare double the float outputs a double graph writes in double.

    skl2onnx 1.20 declares a multi-label forest's probabilities float in a double graph while its
    ``ReduceMean`` writes double: the file was ill-typed, and the model fell back to float32 (a label flipped
    on iris). Only float -> double is changed, and only where type inference says the node writes double.
    """
    import onnx
    from onnx import TensorProto

    floats = [o for o in proto.graph.output
              if o.type.HasField("tensor_type") and o.type.tensor_type.elem_type == TensorProto.FLOAT]
    if not floats:
        return
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    wanted = {o.name for o in floats}
    for out in probe.graph.output:
        if out.name in wanted:
            out.type.tensor_type.elem_type = TensorProto.UNDEFINED
    try:
        inferred = onnx.shape_inference.infer_shapes(probe)
    except Exception:
        return  # _refuse_ill_typed_double says why
    found = {o.name: o.type.tensor_type.elem_type for o in inferred.graph.output if o.type.HasField("tensor_type")}
    for out in floats:
        if found.get(out.name) == TensorProto.DOUBLE:
            out.type.tensor_type.elem_type = TensorProto.DOUBLE


def _refuse_ill_typed_double(proto: Any, model: Any) -> None:
    """skl2onnx accepts double precision for models whose ONNX operators have no double form at the
    ai.onnx.ml opset it writes, or that onnxruntime has no double kernel for; such a file would fail
    type inference or be refused at load. Say so at conversion instead of handing it back."""
    import onnx
    import onnxruntime as ort

    try:
        onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except Exception as err:
        ops = sorted({n.op_type for n in proto.graph.node if n.domain == "ai.onnx.ml"})
        first = _root_line(err)
        raise _NoDouble(
            f"skl2onnx cannot write {type(model).__name__} in double precision at this opset: the file it "
            f"writes is ill-typed ({first}); operators involved: {ops}. Convert with precision='float32' "
            "(onnxgate casts float64 inputs inside the graph), or ask for a higher "
            "opset if your skl2onnx writes the double form of these operators there.",
            f"skl2onnx writes an ill-typed double graph ({first})",
        ) from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(proto.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:
        first = _root_line(err)
        raise _NoDouble(
            f"{type(model).__name__} in double precision uses operators onnxruntime has no double kernel for "
            f"({first}). Convert with precision='float32' (onnxgate casts float64 inputs inside "
            "the graph).",
            f"onnxruntime has no double kernel for part of it ({first})",
        ) from None


def _root_line(err: BaseException, limit: int = 200) -> str:
    """The first line of the innermost cause of ``err`` (the reason, not the wrapper's context)."""
    root = err
    seen = {id(root)}
    while root.__cause__ is not None and id(root.__cause__) not in seen:
        root = root.__cause__
        seen.add(id(root))
    text = str(root).strip()
    line = text.splitlines()[0] if text else type(root).__name__
    if root is not err and type(root).__name__ not in line:
        line = f"{type(root).__name__}: {line}"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _conversion_error(model: Any, err: Exception, compute: str) -> Exception:
    """One-line error for a failed skl2onnx conversion, carrying the root cause.

    skl2onnx wraps a failure to build a node as "Unable to create node ... attributes={...}" with
    the real reason (e.g. ``AttributeProto.ints: Expected an int, got a boolean``) as its cause.
    """
    text = str(err)
    if type(err).__name__ in ("MissingShapeCalculator", "MissingConverter") or "shape calculator" in text:
        culprit = type(model).__name__
        for est in _sub_estimators(model):
            if type(est).__name__ in text:
                culprit = type(est).__name__
                break
        module = next(
            (type(e).__module__.split(".")[0] for e in _sub_estimators(model) if type(e).__name__ == culprit), ""
        )
        hint = _ONNXMLTOOLS_HINT.get(
            module,
            "register a converter for it with skl2onnx.update_registered_converter, or replace the step",
        )
        return UnsupportedModelError(
            f"skl2onnx has no converter for {culprit}: {hint}.", framework="sklearn"
        )
    reason = _root_line(err)
    if compute == "float64":
        return _NoDouble(
            f"skl2onnx cannot convert {type(model).__name__} in double precision: {reason}. Convert with "
            "precision='float32'.",
            f"skl2onnx cannot convert it in double ({reason})",
        )
    context = ""
    head = text.strip().splitlines()[0] if text.strip() else ""
    match = re.match(r"Unable to create node '?([\w.]+)'?", head)
    if match and reason != head:
        context = f" (while creating node {match.group(1)})"
    return UnsupportedModelError(
        f"skl2onnx could not convert {type(model).__name__}: {reason}{context}", framework="sklearn"
    )

"""XGBoost converter, through onnxmltools' ``convert_xgboost``.

Policy:

* ``xgboost.Booster`` (native API) and ``XGBClassifier``/``XGBRegressor``/``XGBRF*`` (scikit-learn
  API). One ``[N,k]`` float32 input named ``input`` (XGBoost itself splits on float32 thresholds, so
  parity is tight); a float64 sample keeps a float64 boundary with a Cast inside the graph. A model
  fitted on a DataFrame, converted with a DataFrame sample of its training columns in order, gets
  one ``[N,1]`` input per column instead (:func:`~onnxgate.converters._boosting.feed_from_columns`).
* Outputs: classifiers ``label`` ``[N]`` and ``probabilities`` ``[N,k]`` (binary models have two
  columns), regressors ``variable`` ``[N,1]``. No ZipMap.
* Opsets: onnxmltools writes at most opset 15 and only the operator versions it needs (a graph of
  ai.onnx.ml TreeEnsemble nodes, ai.onnx.ml 1); the default domain is stamped at the requested
  opset, which is exact because no default-domain node is in the graph.
* Objectives: the ones onnxmltools translates and whose predictions match XGBoost's (listed in
  :data:`SUPPORTED_OBJECTIVES`); any other objective is refused with its name.
  ``multi:softmax``: onnxmltools writes the margins as probabilities; the file answers their softmax, which
  ``XGBClassifier.predict_proba`` answers (a Booster's reference is that softmax, its label Booster.predict's).
  ``multi:*`` on two classes (a tree per class and round): onnxruntime reads a two-class ensemble as binary, so
  the file holds one margin m1 - m0 through a sigmoid, softmax's class-1 column (:func:`two_classes_as_one_margin`).
  ``XGBClassifier(objective='multi:softprob')`` on two classes is refused: its predict answers a multi-label matrix.
* Pandas category columns (``enable_categorical=True``): the file reads each one's codes (``.cat.codes``,
  -1 for a missing value, which the trees read as missing, as XGBoost reads it from the frame); a sample of
  the category frame itself or of its codes converts, and a category column fed later is mapped to its codes.
* ``missing=v`` other than NaN (scikit-learn API): every feature equal to v (in float32, as XGBoost compares)
  is mapped to NaN in front of the trees, alone and in a pipeline; XGBoost reads NaN as missing too. A Booster
  does not record its DMatrix's ``missing`` (nor a model file the estimator's): the ``missing`` option gives it
  (recorded in the file, :data:`MISSING_VALUE_METADATA_KEY`, for validate's reference), else converting one warns.
* Inside a scikit-learn pipeline the scikit-learn converter handles the model (registered with skl2onnx).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.converters._base import RawConversion, _in_output_order, first_line
from onnxgate.converters._boosting import (
    FLOAT32_NOTE,
    ONNXMLTOOLS_MAX_OPSET,
    BoostingConverter,
    add_default_domain,
    dynamic_batch,
    feed_from_columns,
    import_library,
    import_onnxmltools,
    input_type,
    set_post_transform,
    without_names,
)
from onnxgate.errors import UnsupportedModelError

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["SUPPORTED_OBJECTIVES", "XGBoostConverter", "classes_of_parallel_trees", "parallel_trees",
           "recorded_missing", "softmax_probabilities", "two_classes_as_one_margin"]

#: Objectives whose onnxmltools translation matches XGBoost's own predictions (tested).
SUPPORTED_OBJECTIVES = frozenset(
    {
        "binary:logistic",
        "multi:softprob",
        "multi:softmax",  # the same trees; onnxmltools writes its margins, made probabilities (softmax_probabilities)
        "reg:squarederror",
        "reg:squaredlogerror",
        "reg:absoluteerror",
        "reg:pseudohubererror",
        "count:poisson",
        "reg:gamma",
        "reg:tweedie",
        "reg:quantileerror",  # one quantile_alpha (several are several targets, refused as such; helper-94)
    }
)


def walk_category_chains_once() -> None:
    """Make onnxmltools' XGBoost tree walk visit each node once (module-wide, once).

    onnxmltools writes a categorical split over k categories as a chain of k ``BRANCH_EQ`` nodes that all
    share the split's "yes" subtree, so a tree becomes a DAG. Its ``_remap_nodeid`` walks every path of
    that DAG: a model with many categories (300 here, XGBoost's defaults) took more than 300 s, or
    stopped at Python's recursion limit after a second. The numbering is the same preorder when a node
    met again is skipped (its subtree was numbered the first time), and the node writer, which already
    skips written nodes, recurses once per node on a path: the limit is raised by the tree's size
    while it runs.
    """
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import XGBConverter

    if getattr(XGBConverter, "_onnxgate_walks_once", False):
        return
    fill = XGBConverter._fill_node_attributes

    def remap_once(jsnode: Any, remap: dict[int, int] | None = None) -> dict[int, int]:
        remap = {} if remap is None else remap
        stack = [jsnode]
        while stack:  # preorder, children in order, each node once
            node = stack.pop()
            if node["nodeid"] in remap:
                continue
            remap[node["nodeid"]] = len(remap)
            stack.extend(reversed(node.get("children", [])))
        return remap

    def fill_tree_attributes(js_xgb_node: Any, attr_pairs: Any, tree_weights: Any, is_classifier: Any) -> None:
        import sys

        if not isinstance(js_xgb_node, list):
            raise TypeError("js_xgb_node must be a list")
        for treeid, (jstree, weight) in enumerate(zip(js_xgb_node, tree_weights)):
            remap = remap_once(jstree)
            limit = sys.getrecursionlimit()
            sys.setrecursionlimit(limit + len(remap))
            try:
                fill(treeid, weight, jstree, attr_pairs, is_classifier, remap, set())
            finally:
                sys.setrecursionlimit(limit)

    XGBConverter._remap_nodeid = staticmethod(remap_once)
    XGBConverter.fill_tree_attributes = staticmethod(fill_tree_attributes)
    XGBConverter._onnxgate_walks_once = True


@contextmanager
def read_once(booster: Any) -> Iterator[None]:
    """While onnxmltools converts ``booster``, it answers a repeated ``get_dump`` or ``save_config`` from its
    first answer. onnxmltools dumps the trees twice per conversion (its shape calculator, then its converter:
    0.8 ms each for the zoo's 100-tree classifier, a quarter of the conversion) and reads the configuration
    six times; the booster does not change meanwhile. Only this booster object is affected (its two methods
    shadowed by instance attributes, removed afterwards)."""
    answers: dict[Any, Any] = {}

    def remembered(name: str) -> Any:
        method = getattr(booster, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                key = (name, args, tuple(sorted(kwargs.items())))
                hash(key)
            except TypeError:  # an argument that cannot be a key: asked again
                return method(*args, **kwargs)
            if key not in answers:
                answers[key] = method(*args, **kwargs)
            found = answers[key]
            return list(found) if isinstance(found, list) else found  # a caller may edit its list

        return call

    names = [n for n in ("get_dump", "save_config") if hasattr(booster, n) and hasattr(booster, "__dict__")]
    for name in names:
        setattr(booster, name, remembered(name))
    try:
        yield
    finally:
        for name in names:
            booster.__dict__.pop(name, None)


def _booster(model: Any) -> Any:
    return model.get_booster() if hasattr(model, "get_booster") else model


def _learner(model: Any) -> dict[str, Any]:
    import json

    return dict(json.loads(_booster(model).save_config())["learner"])


def _vector_leaves(model: Any, learner: Mapping[str, Any]) -> bool:
    """Whether the model's trees hold a vector per leaf (``multi_strategy='multi_output_tree'``), read from its
    first round's first tree: a model file read back records ``one_output_per_tree`` in its configuration
    whatever it was trained with. Only a model of several classes or targets can hold them."""
    import json

    params = learner.get("learner_model_param", {})
    if int(str(params.get("num_class", "0")) or 0) < 2 and int(str(params.get("num_target", "1")) or 1) < 2:
        return False
    booster = _booster(model)
    if booster.num_boosted_rounds() == 0:
        return False
    trees = json.loads(booster[:1].save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    return any(int(str(t.get("tree_param", {}).get("size_leaf_vector", "1")) or 1) > 1 for t in trees)


def objective_of(model: Any, learner: Mapping[str, Any] | None = None) -> str:
    """The objective's name as XGBoost saved it (``"binary:logistic"``...); ``learner``: the saved
    configuration's, when it is already read."""
    return str((learner if learner is not None else _learner(model))["objective"]["name"])


#: How XGBoost writes the files this converter reads.
_XGB_SAVE_UBJ = "model.save_model('model.ubj')"
_XGB_SAVE_JSON = "model.save_model('model.json')"
_XGB_HOW = f"save the model again with {_XGB_SAVE_UBJ}"


class XGBoostConverter(BoostingConverter):
    framework = "xgboost"
    MODULE_PREFIXES = ("xgboost.",)
    FILE_SUFFIXES = (".ubj", ".json")
    FILE_CONTENT = ("XGBoost's JSON model (an object whose first key is \"learner\", as "
                    "booster.save_model('model.json') writes it)")

    def claims_file(self, path: Path) -> bool:
        """``.ubj`` (XGBoost's binary format), or a ``.json`` file that is XGBoost's JSON model format
        (an object whose first key is ``learner``, as ``save_model("m.json")`` writes it)."""
        if path.is_dir():
            return False
        suffix = path.suffix.lower()
        if suffix == ".ubj":
            return True
        if suffix != ".json":
            return False
        try:
            with open(path, "rb") as handle:
                head = handle.read(64).lstrip()
        except OSError:
            return False
        return head.startswith(b"{") and head[1:].lstrip().startswith(b'"learner"')

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        """The model in ``path``: the scikit-learn estimator a file saved by ``XGBClassifier`` or
        ``XGBRegressor`` holds (which predicts with the rounds up to its ``best_iteration``, as it did
        when saved), else a Booster (which predicts with every round)."""
        import json

        self._refuse_other_than_xgboost(path)  # before XGBoost is imported
        xgboost = import_library("xgboost", "Loading an XGBoost model")
        booster = xgboost.Booster()
        self.read_native(path, "XGBoost", booster.load_model, how=_XGB_HOW)
        try:
            kind = json.loads(booster.attr("scikit_learn") or "{}").get("_estimator_type")
        except (ValueError, AttributeError):
            kind = None
        estimator = {"classifier": xgboost.XGBClassifier, "regressor": xgboost.XGBRegressor}.get(kind)
        if estimator is None:
            return booster
        model = estimator()
        self.read_native(path, "XGBoost", model.load_model, how=_XGB_HOW)
        model._onnxgate_from_file = True  # its missing was not saved: convert warns as for a Booster
        return model

    def _refuse_other_than_xgboost(self, path: Path) -> None:
        """Refuse a file that is not a whole XGBoost model, by its first and last bytes: a model is one object
        (UBJSON's or JSON's ``{``, its first key ``learner``) that ends with ``}``. XGBoost said "std::bad_alloc" of a
        truncated ``.ubj``, "Check failed: str.size() >= 2 (0 vs. 2) : Invalid model format" of an empty one, with
        the source line of its own code (helper-292)."""
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                head = handle.read(32)
                handle.seek(max(size - 64, 0))
                tail = handle.read()
        except OSError:
            return  # XGBoost says what it cannot read
        binary = path.suffix.lower() == ".ubj"
        written = _XGB_SAVE_UBJ if binary else _XGB_SAVE_JSON
        if not (head.lstrip().startswith(b"{") and b"learner" in head):
            self.refuse_content(
                path, "an XGBoost model file",
                f"the {'UBJSON' if binary else 'JSON'} file that {written} writes (an object whose first key is "
                "'learner')", f"Give that file, or {_XGB_HOW}")
        if binary and head.lstrip().startswith(b'{"'):
            # JSON text: XGBoost reads a file by its suffix, and of this one said 'Expecting: "L", got: "34 "', which
            # onnxgate told as a file "cut short or damaged, or written by another XGBoost version"
            raise UnsupportedModelError(
                f"{str(path)!r} is XGBoost's JSON model (the file that {_XGB_SAVE_JSON} writes) under the suffix "
                f".ubj, and XGBoost reads a .ubj file as UBJSON: rename it {path.with_suffix('.json').name}. Or "
                f"{_XGB_HOW}",
                path=str(path), framework=self.framework,
            )
        if not (tail if binary else tail.rstrip()).endswith(b"}"):
            raise UnsupportedModelError(
                f"{str(path)!r} is a truncated XGBoost model: it begins as the file that {written} writes, but stops "
                f"after {size:,} bytes, before the '}}' that closes the model. Copy the whole file again, or "
                f"{_XGB_HOW}",
                path=str(path), framework=self.framework,
            )

    def save_native(self, model: Any, folder: Path) -> Path:
        path = folder / "model.ubj"
        _booster(model).save_model(str(path))
        return path

    def is_classifier(self, model: Any) -> bool:
        if hasattr(model, "get_booster"):
            from sklearn.base import is_classifier

            return bool(is_classifier(model))
        return objective_of(model).startswith(("binary:", "multi:"))

    def check_model(self, model: Any) -> None:
        if hasattr(model, "get_booster"):
            try:
                model.get_booster()
            except Exception:
                raise UnsupportedModelError(
                    f"{type(model).__name__} is not fitted: expected a fitted model. Call .fit(X, y) first.",
                    framework=self.framework,
                ) from None
        elif type(model).__name__ != "Booster":
            raise UnsupportedModelError(
                f"expected an xgboost.Booster or a fitted XGBClassifier/XGBRegressor; found {type(model).__name__}",
                framework=self.framework,
            )
        learner = _learner(model)  # its booster and objective, from one read of the saved configuration
        kind = str(learner.get("gradient_booster", {}).get("name", "gbtree"))
        if kind != "gbtree":
            # onnxmltools reads gbtree's parameters only: it failed on these with a bare KeyError
            raise UnsupportedModelError(
                f"XGBoost booster {kind!r} is not supported: onnxmltools converts booster='gbtree' models only "
                "(dart weighs its trees by its dropout, gblinear has no trees). Train with booster='gbtree'.",
                framework=self.framework,
            )
        strategy = str(learner.get("learner_train_param", {}).get("multi_strategy", "one_output_per_tree"))
        if strategy == "one_output_per_tree" and _vector_leaves(model, learner):
            strategy = "multi_output_tree"  # a model file read back says the default: its trees tell
        if strategy != "one_output_per_tree":
            # vector-leaf trees: onnxmltools reads the trees' dump, which XGBoost refuses for them ("Check failed:
            # !with_stats: Tree dump with statistic support for multi-target tree is not yet implemented")
            raise UnsupportedModelError(
                f"XGBoost multi_strategy={strategy!r} is not supported: its trees hold a vector of values per "
                "leaf, one per class or target, which onnxmltools cannot read (XGBoost has no dump of them). "
                "Train with multi_strategy='one_output_per_tree' (the default).",
                framework=self.framework,
            )
        targets = int(str(learner.get("learner_model_param", {}).get("num_target", "1")) or 1)
        if targets > 1:
            # onnxmltools wrote an output declared [N, 1] whose rows held 2 values, up to 7.6 off XGBoost's
            # on every row (found by helper-69)
            classifier = str(learner["objective"]["name"]).startswith(("binary:", "multi:"))
            what, wrapper = (("classifier of", "MultiOutputClassifier") if classifier
                             else ("regressor of", "MultiOutputRegressor"))
            if str(learner["objective"]["name"]) == "reg:quantileerror":
                # one target per quantile_alpha: a MultiOutputRegressor fits one model per target column,
                # not per quantile (helper-116)
                raise UnsupportedModelError(
                    f"an XGBoost quantile regressor of {targets} quantile_alpha values is not supported: "
                    "onnxmltools declares one value per row and writes values that are not XGBoost's. Train one "
                    "XGBRegressor(objective='reg:quantileerror', quantile_alpha=a) per quantile and convert each",
                    framework=self.framework,
                )
            raise UnsupportedModelError(
                f"an XGBoost {what} {targets} targets is not supported: onnxmltools declares one value per row "
                f"and writes values that are not XGBoost's. Train one model per target (or wrap it in "
                f"sklearn.multioutput.{wrapper}, which converts)",
                framework=self.framework,
            )
        objective = objective_of(model, learner)
        if objective == "multi:softprob" and hasattr(model, "get_booster") and getattr(model, "n_classes_", 0) == 2:
            # XGBClassifier.predict reads two softprob columns as two labels of a multi-label model (a [N, 2]
            # matrix of 0/1); the file answers one label per row, the argmax (helper-170)
            raise UnsupportedModelError(
                f"{type(model).__name__}(objective='multi:softprob') fitted on 2 classes is not supported: its "
                "predict answers a [N, 2] matrix of 0/1 (XGBoost reads the two columns as multi-label), not one "
                "label per row as the file would. Train with objective='multi:softmax' (the same trees and "
                "predict_proba, and predict answers labels) or 'binary:logistic'",
                framework=self.framework,
            )
        if objective not in SUPPORTED_OBJECTIVES:
            raise UnsupportedModelError(
                f"XGBoost objective {objective!r} is not supported: its onnxmltools translation is not "
                "among those onnxgate has verified against XGBoost's own predictions (for binary:hinge onnxmltools "
                "declares [N,1] probabilities and writes [N,2], and a Booster's file answers margins, not hinge's "
                "0/1; binary:logitraw has no probabilities, reg:logistic "
                f"diverges). Supported objectives: {sorted(SUPPORTED_OBJECTIVES)}.",
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
        onnxmltools = import_onnxmltools("xgboost")
        from onnxmltools.convert.common.data_types import FloatTensorType

        self.check_options(options, ("input_name", "missing"))
        missing = missing_value(model, options)
        booster = _booster(model)
        n_features = booster.num_features()
        sample = _categories_as_codes(sample, booster)
        array = self.sample_array(model, sample, n_features)
        columns = self.frame_columns(model, sample)
        input_name = str(options.get("input_name", "input"))
        _dtype, boundary = input_type(array)
        learner = _learner(model)
        parallel = parallel_trees(learner)
        subject = model
        best = getattr(model, "best_iteration", None) if hasattr(model, "get_booster") else None
        trailing = _rounds_after_best(booster) if best is None else 0
        if booster.feature_names is not None or (parallel > 1 and best is not None):
            # fitted on a DataFrame: onnxmltools reads features as f<index> only ("Unable to interpret
            # 'mean_area'"); the same trees without the names convert (the ONNX input is positional).
            # The scikit-learn API predicts with the rounds up to best_iteration (early stopping), which
            # onnxmltools counts as trees: with num_parallel_tree it kept a fraction of those rounds' trees.
            subject = without_names(booster[: best + 1] if best is not None else booster.copy())
        if missing is not None and subject is model and hasattr(model, "get_booster"):
            import copy

            subject = copy.copy(model)  # onnxmltools refuses a missing other than NaN: it is mapped to NaN below
            subject.missing = float("nan")
        walk_category_chains_once()
        try:
            with read_once(_booster(subject)):
                proto = onnxmltools.convert_xgboost(
                    subject,
                    name=name or type(model).__name__,
                    initial_types=[(input_name, FloatTensorType([None, n_features]))],
                    target_opset=min(opset, ONNXMLTOOLS_MAX_OPSET),
                )
        except Exception as err:
            raise UnsupportedModelError(
                f"onnxmltools could not convert {type(model).__name__}: {first_line(err)}", framework=self.framework
            ) from None
        if parallel > 1 and int(learner["learner_model_param"].get("num_class", 0)) > 1:
            classes_of_parallel_trees(proto.graph.node, booster)
        if objective_of(model, learner) == "multi:softmax":
            softmax_probabilities(proto.graph.node)
        two_classes_as_one_margin(proto.graph.node)
        raw = finish(proto, opset, input_name, boundary, columns)
        if missing is not None:
            from onnxgate.converters._boosting import read_value_as_missing

            read_value_as_missing(raw.model, missing)
            import json

            from onnxgate.converters._sklearn_graph import set_metadata

            set_metadata(raw.model, MISSING_VALUE_METADATA_KEY, json.dumps(missing))
        categorical = [i for i, kind in enumerate(booster.feature_types or []) if kind == "c"]
        if categorical:
            from onnxgate.converters._boosting import truncate_category_codes

            truncate_category_codes(raw.model, categorical, n_features, opset, library="XGBoost", negative_kept=True,
                                    minus_one_missing=reads_pandas_codes(booster))
            record_codes(raw.model, booster, categorical, bool(columns))
        told = "missing" in options  # the user said which value is missing (NaN too): nothing left to warn about
        if not told and not hasattr(model, "get_booster"):
            raw.warnings.append(
                "a Booster does not record the `missing` value of the DMatrix it was trained on, and the ONNX "
                "trees take only NaN as missing: if it was trained with DMatrix(..., missing=v) for a v other "
                "than NaN, rows holding v take other branches here (and parity, which scores NaN as missing, "
                "cannot tell). Give it: options={'missing': v} (convert --option missing=v), or write missing "
                "values as NaN"
            )
        elif not told and getattr(model, "_onnxgate_from_file", False):
            raw.warnings.append(
                "an XGBoost model file does not record the `missing` value the model was trained with, and the "
                "ONNX trees take only NaN as missing: if it was trained with missing=v for a v other than NaN, "
                "rows holding v take other branches here (and parity cannot tell). Give it: "
                "options={'missing': v} (convert --option missing=v), or convert the model in memory (og.convert), "
                "where its missing is read"
            )
        if trailing:
            rounds = booster.num_boosted_rounds()
            raw.warnings.append(
                f"this Booster records best_iteration={rounds - trailing - 1} (early stopping) but holds "
                f"{rounds} rounds: it is converted with all {rounds}, as Booster.predict scores by default. "
                "If you deploy the early-stopped model, convert booster[: booster.best_iteration + 1] (or the "
                "XGBClassifier/XGBRegressor it came from) instead"
            )
        return raw

    def category_columns(self, model: Any) -> dict[str, list[Any]]:
        """The pandas category columns the booster was fitted on, each with the categories XGBoost 3.1+ recorded
        in it (:func:`recorded_categories`), by the booster's feature names; empty where it recorded none."""
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        names, kinds = list(booster.feature_names or ()), list(booster.feature_types or ())
        features = [i for i, kind in enumerate(kinds) if kind == "c" and i < len(names)]
        recorded = recorded_categories(booster, features) if features else {}
        return {str(names[i]): list(values) for i, values in recorded.items() if values is not None}

    def reference_for(self, model: Any, onnx_model: Any) -> Any:
        """``model`` predicting with the missing value the file records (:data:`MISSING_VALUE_METADATA_KEY`)
        where the model does not hold it: a copy of a Booster (whose DMatrix's ``missing`` is not recorded) or
        of a model read from a file (whose ``missing`` is not saved). A scikit-learn API model in memory holds
        its own and is returned as it is."""
        import copy

        value = recorded_missing(onnx_model)
        if value is None:
            return model
        if hasattr(model, "get_booster"):
            if not getattr(model, "_onnxgate_from_file", False):
                return model  # what it holds is what it predicts with, whatever the file says
            model = copy.copy(model)  # the caller's estimator keeps its missing
            model.missing = value
            return model
        if getattr(model, "_onnxgate_missing", None) == value:
            return model
        model = model.copy()  # the caller's Booster is left as it is
        model._onnxgate_missing = value
        return model

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        import numpy as np

        X = self.native_input(feeds, signature, model)
        if hasattr(model, "get_booster") and "c" in (model.get_booster().feature_types or ()):
            return self._predict_codes(model, X, signature)
        if hasattr(model, "get_booster"):
            if self.is_classifier(model):
                return _in_output_order(
                    ["label", "probabilities"], [model.predict(X), model.predict_proba(X)], signature
                )
            return _in_output_order(["variable"], [np.asarray(model.predict(X)).reshape(len(X), -1)], signature)
        import xgboost

        # a Booster's missing value, when the file records one (reference_for): XGBoost's DMatrix(missing=v)
        matrix = xgboost.DMatrix(_missing_codes(model, X), feature_names=model.feature_names,
                                 missing=getattr(model, "_onnxgate_missing", None))
        objective = objective_of(model)
        if objective == "binary:logistic":
            p1 = model.predict(matrix).reshape(-1)
            proba = np.stack([1 - p1, p1], axis=1)
        elif objective == "multi:softmax":  # Booster.predict answers labels: the probabilities are its margins' softmax
            from scipy.special import softmax

            margins = model.predict(matrix, output_margin=True)
            proba = softmax(margins.astype(np.float64), axis=1).astype(np.float32)
            return _in_output_order(["label", "probabilities"],
                                    [model.predict(matrix).astype(np.int64), proba], signature)
        elif objective.startswith("multi:"):
            proba = model.predict(matrix)
        else:
            return _in_output_order(["variable"], [model.predict(matrix).reshape(len(X), -1)], signature)
        return _in_output_order(["label", "probabilities"], [proba.argmax(axis=1), proba], signature)


    def _predict_codes(self, model: Any, X: Any, signature: Signature) -> list[np.ndarray]:
        """A scikit-learn model fitted on pandas category columns, on rows holding their codes (what the
        file reads): its booster on a matrix typed as it was trained, up to ``best_iteration`` as its
        ``predict`` takes; its own ``predict`` refuses codes for a category column (helper-116)."""
        import numpy as np
        import xgboost

        booster = model.get_booster()
        matrix = xgboost.DMatrix(_missing_codes(booster, X), feature_names=booster.feature_names,
                                 feature_types=booster.feature_types, enable_categorical=True,
                                 missing=getattr(model, "missing", None))
        best = getattr(model, "best_iteration", None)
        scores = booster.predict(matrix, iteration_range=(0, best + 1) if best is not None else (0, 0))
        if not self.is_classifier(model):
            return _in_output_order(["variable"], [scores.reshape(len(scores), -1)], signature)
        proba = scores.reshape(len(scores), -1)
        proba = np.hstack([1 - proba, proba]) if proba.shape[1] == 1 else proba
        return _in_output_order(["label", "probabilities"], [np.asarray(model.classes_)[proba.argmax(axis=1)], proba],
                                signature)


#: ``metadata_props`` key: the value (JSON number) the file reads as missing besides NaN, XGBoost's ``missing``.
#: A Booster or a model file does not record it; the reference validate builds from one predicts with it
#: (:meth:`XGBoostConverter.reference_for`).
MISSING_VALUE_METADATA_KEY = "onnxgate.xgboost.missing"


def recorded_missing(onnx_model: Any) -> float | None:
    """The value ``onnx_model`` records it reads as missing (:data:`MISSING_VALUE_METADATA_KEY`), else None."""
    import json

    recorded = next((p.value for p in getattr(onnx_model, "metadata_props", ())
                     if p.key == MISSING_VALUE_METADATA_KEY), None)
    return None if recorded is None else float(json.loads(recorded))


def missing_value(model: Any, options: Mapping[str, Any] | None = None) -> float | None:
    """The value ``model`` reads as missing besides NaN, None for NaN. A scikit-learn API model in memory
    records it (its ``missing``); for a Booster (whose DMatrix's ``missing`` is not recorded) or a model read
    from a file (whose ``missing`` is not saved) the ``missing`` conversion option gives it. XGBoost sends a
    feature equal to it (in float32) down each split's missing branch, and a NaN too (measured: the same
    probabilities on breast_cancer rows holding -999 or NaN under missing=-999); the file maps it to NaN
    before the trees.

    Raises
    ------
    UnsupportedModelError
        The option is not a number, or contradicts the ``missing`` an in-memory scikit-learn API model holds.
    """
    given = _missing_option(options or {})
    if not hasattr(model, "get_booster") or getattr(model, "_onnxgate_from_file", False):
        return given
    missing = float("nan") if getattr(model, "missing", None) is None else float(model.missing)
    held = None if missing != missing else missing
    if options and "missing" in options and not _same_missing(given, held):
        raise UnsupportedModelError(
            f"options missing={options['missing']!r} contradicts {type(model).__name__}(missing={missing!r}), "
            "which the model was fitted with and predicts with: leave the option out (the model's own missing "
            "is read), or set model.missing",
            framework="xgboost",
        )
    return held


def _same_missing(a: float | None, b: float | None) -> bool:
    """Whether two ``missing`` values (None for NaN) are one to XGBoost, which compares them in float32."""
    import numpy as np

    return a is b is None or (a is not None and b is not None and np.float32(a) == np.float32(b))


def _missing_option(options: Mapping[str, Any]) -> float | None:
    """The ``missing`` conversion option as a float (None when not given or NaN): a number, or its text."""
    if "missing" not in options:
        return None
    value = options["missing"]
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise UnsupportedModelError(
            f"the xgboost option missing expects a number, the value the model was trained to read as missing "
            f"(DMatrix(..., missing=v)); found {value!r}. E.g. options={{'missing': -999.0}} or --option missing=-999",
            framework="xgboost",
        ) from None
    return None if number != number else number


def reads_pandas_codes(booster: Any) -> bool:
    """True when ``booster`` was fitted on a DataFrame of pandas category columns (it has feature names and
    category features): its file reads those columns' codes (``.cat.codes``), where -1 is a missing value,
    which XGBoost reads as missing from such a frame."""
    return booster.feature_names is not None and "c" in (booster.feature_types or ())


def _missing_codes(booster: Any, X: Any) -> np.ndarray:
    """``X`` (rows of codes) as float32, a code of -1 in a category column as NaN when ``booster`` reads pandas
    codes (:func:`reads_pandas_codes`): XGBoost scores a -1 it is given as a number as no category, and the
    model's own ``predict`` on the frame the codes came from scores it as missing."""
    import numpy as np

    array = np.array(X, dtype=np.float32)
    if reads_pandas_codes(booster):
        for i, kind in enumerate(booster.feature_types):
            if kind == "c" and i < array.shape[1]:
                array[array[:, i] == -1, i] = np.nan
    return array


def _categories_as_codes(sample: Any, booster: Any) -> Any:
    """A DataFrame sample with each pandas category column the model reads as a category replaced by its codes
    (what the file reads; a category column fed to the file later is mapped to them, -1 for a missing value);
    any other sample as it is."""
    from onnxgate._data import is_dataframe

    if not is_dataframe(sample) or not reads_pandas_codes(booster) or len(sample.columns) != len(booster.feature_types):
        return sample
    found = {c: sample[c].cat.codes for c, kind in zip(sample.columns, booster.feature_types)
             if kind == "c" and type(sample[c].dtype).__name__ == "CategoricalDtype"}
    if not found:
        return sample
    sample = sample.copy(deep=False)  # the caller's frame keeps its columns
    for c, codes in found.items():
        sample[c] = codes
    return sample


def recorded_categories(booster: Any, features: Sequence[int]) -> dict[int, list[Any] | None]:
    """The categories XGBoost 3.1+ recorded for each category feature (by index), in code order: the
    pandas categories it was fitted on, whose position is the code its trees read. None for a feature
    whose categories it did not record (an older XGBoost, a sliced booster) or whose text holds other than
    ASCII: XGBoost 3.2 writes those with offsets counted in characters over UTF-8 bytes (helper-126), a
    list that reads shifted or not at all."""
    try:
        found = list(booster.get_categories(export_to_arrow=True).to_arrow() or [])
    except Exception:  # no categories recorded (before 3.1) or none kept
        found = []
    out: dict[int, list[Any] | None] = {}
    for i in features:
        array = found[i][1] if i < len(found) else None
        try:
            values = None if array is None else array.to_pylist()
        except Exception:  # the broken offsets can cut a UTF-8 character
            values = None
        if values is not None and (len(set(values)) != len(values) or not all(
                isinstance(v, (int, float)) or (isinstance(v, str) and v.isascii()) for v in values)):
            values = None
        out[i] = values
    return out


def record_codes(proto: Any, booster: Any, features: Sequence[int], by_column: bool) -> None:
    """Record in the file which inputs read the codes of pandas category columns, with the categories
    in code order (:attr:`onnxgate.signature.TensorSpec.codes`): a category column fed to the file is
    then mapped to its codes, not read as its values (helper-126: the category values 10..40 of a
    model fitted on integer categories were fed as codes, and validate's reference read them as codes
    too: 304 of 600 labels off, validate passed)."""
    import json

    from onnxgate.converters._sklearn_graph import set_metadata
    from onnxgate.signature import CATEGORY_CODES_METADATA_KEY

    recorded = recorded_categories(booster, features)
    names = [vi.name for vi in proto.graph.input]
    if by_column:
        codes = {names[i]: [[0, recorded[i]]] for i in features if i < len(names)}
    else:
        codes = {names[0]: [[i, recorded[i]] for i in features]}
    set_metadata(proto, CATEGORY_CODES_METADATA_KEY, json.dumps(codes))


def _rounds_after_best(booster: Any) -> int:
    """How many rounds a Booster holds after the ``best_iteration`` early stopping recorded (0 when it
    recorded none)."""
    best = booster.attr("best_iteration")
    if best is None or not str(best).isdigit():
        return 0
    return max(booster.num_boosted_rounds() - int(best) - 1, 0)


def softmax_probabilities(nodes: Any) -> None:
    """Make each ``TreeEnsembleClassifier`` of a ``multi:softmax`` model answer probabilities, the softmax of
    its margins: onnxmltools writes the margins themselves (post_transform NONE), where XGBClassifier's
    predict_proba answers their softmax (the same trees as multi:softprob; its predict and a Booster's answer
    the class of the largest margin, which the label is either way)."""
    set_post_transform(nodes, "SOFTMAX")


def two_classes_as_one_margin(nodes: Any) -> None:
    """Make each ``TreeEnsembleClassifier`` of a two-class ``multi:softprob``/``multi:softmax`` model (a tree per
    class and round) answer the softmax of its two margins, as XGBoost does, in the one-margin form onnxruntime
    reads as binary: one score m1 - m0 (the class-1 trees' leaves, the class-0 trees' negated, the base values'
    difference) through a sigmoid, sigmoid(m1 - m0) being softmax(m0, m1)[1]; the label is class 1 when it is
    positive, the argmax. onnxruntime reads a two-class ensemble whose leaves vote for both classes as
    ``scores[1] = base[1] + scores[0]`` and ``scores[0] = -scores[1]``: the file onnxmltools writes answered other
    probabilities and 565 of breast_cancer's 569 labels differed from the Booster's (helper-170)."""
    from onnx import helper

    for node in nodes:
        if node.op_type != "TreeEnsembleClassifier":
            continue
        attrs = {a.name: a for a in node.attribute}
        labels = attrs.get("classlabels_int64s") or attrs.get("classlabels_strings")
        ids = list(attrs["class_ids"].ints) if "class_ids" in attrs else []
        if labels is None or len(labels.ints or labels.strings) != 2 or set(ids) != {0, 1}:
            continue
        weights = [w if c == 1 else -w for c, w in zip(ids, attrs["class_weights"].floats)]
        base = list(attrs["base_values"].floats) if "base_values" in attrs else []
        for name in ("class_ids", "class_weights", "base_values", "post_transform"):
            if name in attrs:
                node.attribute.remove(attrs[name])
        node.attribute.extend([
            helper.make_attribute("class_ids", [0] * len(ids)),
            helper.make_attribute("class_weights", weights),
            helper.make_attribute("base_values", [base[1] - base[0] if len(base) == 2 else 0.0]),
            helper.make_attribute("post_transform", "LOGISTIC"),
        ])


def parallel_trees(learner: Mapping[str, Any]) -> int:
    """``num_parallel_tree`` from a booster's saved configuration (:func:`_learner`)."""
    return int(learner["gradient_booster"].get("gbtree_model_param", {}).get("num_parallel_tree", 1))


def classes_of_parallel_trees(nodes: Any, booster: Any) -> None:
    """Give each tree of a multi-class model grown with ``num_parallel_tree`` > 1 (``XGBRFClassifier``
    among them) the class XGBoost grew it for. onnxmltools takes tree i for class i % n_classes, which
    holds only for one tree per class and round: with parallel trees 107 of wine's 178 labels moved."""
    import json

    info = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["tree_info"]
    for node in nodes:
        if node.op_type != "TreeEnsembleClassifier":
            continue
        attrs = {a.name: a for a in node.attribute}
        classes = [int(info[tree]) for tree in attrs["class_treeids"].ints]
        del attrs["class_ids"].ints[:]
        attrs["class_ids"].ints.extend(classes)


def finish(
    proto: Any, opset: int, input_name: str, boundary: int | None, columns: Sequence[tuple[str, Any]] | None = None,
    library: str = "xgboost",
) -> RawConversion:
    """Stamp the default domain, and feed ``input_name`` from one input per DataFrame column when
    ``columns`` (:meth:`~onnxgate.converters._boosting.BoostingConverter.frame_columns`) are given, else
    cast a float64 boundary; the warnings the user should read."""
    warnings: list[str] = []
    add_default_domain(proto, opset)
    dynamic_batch(proto)
    if columns:
        raw = RawConversion(model=proto, warnings=warnings)
        feed_from_columns(raw, input_name, columns, library)
        return raw
    if boundary is not None:
        from onnx import TensorProto

        from onnxgate._graph import cast_inputs

        cast_inputs(proto, {input_name: boundary})
        kind = "float64" if boundary == TensorProto.DOUBLE else "numbers"
        warnings.append(
            f"input {input_name!r} is fed as {kind} and cast to float32 inside the graph, where the trees "
            f"split ({FLOAT32_NOTE[library]})"
        )
    return RawConversion(model=proto, warnings=warnings)

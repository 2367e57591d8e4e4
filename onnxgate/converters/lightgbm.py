"""LightGBM converter, through onnxmltools' ``convert_lightgbm``.

Policy:

* ``lightgbm.Booster`` (native API) and ``LGBMClassifier``/``LGBMRegressor``/``LGBMRanker`` (scikit-learn API).
  One ``[N,k]`` float32 input named ``input``; a float64 sample keeps a float64 boundary with a Cast
  inside the graph; a model fitted on a DataFrame gets one ``[N,1]`` input per column from a
  DataFrame sample (as XGBoost). A pandas ``category`` column (LightGBM's default way to give it
  categorical features) becomes an input of its categories' type, string or int64, mapped inside the
  graph to the code LightGBM's splits read (:func:`~onnxgate.converters._boosting.feed_from_columns`,
  from ``booster.pandas_categorical``; needs ai.onnx.ml 2); for a target that takes no input of that
  type (text on SQL Edge) the input is the int32 codes instead, as XGBoost's, with the categories recorded
  so a category column is mapped to them by value, an unseen value to a missing one's. onnxmltools'
  categorical splits on those codes are tested against LightGBM, missing and unseen values included.
  Integer codes given with
  ``categorical_feature`` are truncated toward zero in front of the trees, as LightGBM reads them
  (:func:`~onnxgate.converters._boosting.truncate_category_codes`); a category at or past 2**24, which the
  trees' float32 cannot tell from its neighbours, is refused (:func:`refuse_float32_categories`). LightGBM
  splits on double thresholds that onnxmltools writes as float32. A feature fed as float32 gets the largest float32 not
  above LightGBM's (:func:`exact_float32_thresholds`), so every float32 value takes LightGBM's branch;
  a feature fed as float64 (cast to float32 in the graph) keeps the nearest float32, which a value at
  or below the threshold never passes (LightGBM's thresholds lie just above a training value: rounded
  down, diabetes' ``bmi <= 30.700000000000006`` sent the rows with 30.7 right). A float64 value
  within half a float32 step above a threshold can still take the other branch: validate with the
  data the model will score (``--search`` goes looking for such rows).
* Outputs: classifiers ``label`` ``[N]`` and ``probabilities`` ``[N,k]``, regressors ``variable``
  ``[N,1]``. No ZipMap.
* Opsets: onnxmltools writes at most opset 15 and stamps the lowest opset its nodes need (often 8
  or 9); ``conv.opset`` says what the file holds.
* Objectives: :data:`SUPPORTED_OBJECTIVES` (tested against LightGBM's own predictions); any other, custom
  objectives among them, is refused with its name. Rankers (``LGBMRanker``, ``lambdarank``/``rank_xendcg``)
  are regressors of one ``variable``, the score LightGBM's predict answers. ``multiclassova`` answers each
  class's sigmoid, unnormalised, as LightGBM's predict_proba does (onnxmltools wrote a softmax).
* ``boosting_type='rf'``: LightGBM predicts with the mean of the trees; onnxmltools is given them as boosted
  trees (which it adds up) and each leaf is divided by the number of iterations (:func:`average_trees`).
* Inside a scikit-learn pipeline the scikit-learn converter handles the model (registered with skl2onnx).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.converters._base import RawConversion, _in_output_order, first_line
from onnxgate.converters._boosting import (
    CATEGORY_ML_OPSET,
    FLOAT32_NOTE,
    ONNXMLTOOLS_MAX_OPSET,
    BoostingConverter,
    category_assignments,
    category_kind,
    column_type,
    feed_from_columns,
    import_library,
    import_onnxmltools,
    input_type,
    lightgbm_categories,
    set_post_transform,
    truncate_category_codes,
)
from onnxgate.converters.xgboost import finish
from onnxgate.errors import InvalidDataError, OpsetError, UnsupportedModelError

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["SUPPORTED_OBJECTIVES", "LightGBMConverter", "as_boosted", "average_trees", "is_random_forest",
           "one_vs_all_probabilities"]

#: Objective names (as LightGBM saves them, before any parameter) that convert faithfully (tested).
SUPPORTED_OBJECTIVES = frozenset(
    {
        "binary",
        "multiclass",
        "multiclassova",  # one-vs-all: a sigmoid per class, unnormalised (one_vs_all_probabilities)
        "regression",
        "regression_l1",
        "huber",
        "quantile",
        "poisson",
        "gamma",
        "tweedie",
        "lambdarank",  # rankers answer the trees' raw score, which onnxmltools writes as a regression
        "rank_xendcg",
    }
)


def _refuse_truncated(path: Path) -> None:
    """Refuse a text model whose trees are shorter than its header's ``tree_sizes`` say: LightGBM 4.7 reads the
    trees by those sizes, past the end of a truncated file, and the process aborted (exit 134, nothing printed:
    found by helper-276). A file without ``tree_sizes`` is left to LightGBM.

    Raises
    ------
    UnsupportedModelError
        Naming how many bytes of trees the header promises and how many the file holds.
    """
    import re

    try:
        text = path.read_bytes()  # the CLI bounded its size before the converter opened it
    except OSError:
        return  # LightGBM says what it cannot read
    header = re.search(rb"\ntree_sizes=([0-9 ]*)\r?\n", text)
    if header is None:
        return
    promised = sum(int(size) for size in header.group(1).split())
    start = text.find(b"\nTree=", header.end() - 1)
    held = 0 if start < 0 else len(text) - start - 1
    if held < promised:
        raise UnsupportedModelError(
            f"{str(path)!r} is a truncated LightGBM model: its header's tree_sizes add up to {promised} bytes of "
            f"trees and the file holds {held}. Write it again with booster.save_model('model.txt')",
            path=str(path),
        )


def _booster(model: Any) -> Any:
    return model.booster_ if hasattr(model, "booster_") else model


_DUMP_LOCK = threading.Lock()


#: Past this magnitude float32 does not hold every integer: an integer feature cast to float32 in the graph
#: is rounded (epoch seconds, about 1.7e9, to a multiple of 128) while LightGBM splits it as a double.
FLOAT32_EXACT_INTEGERS = 2**24


@dataclass
class ThresholdNotes:
    """What :func:`exact_float32_thresholds` saw: how many thresholds moved, and each feature's largest
    numeric threshold in magnitude."""

    moved: int = 0
    largest: dict[int, float] = field(default_factory=dict)
    #: Each float64-fed feature's double thresholds (of ``<=`` splits), for :func:`_rank_double_features`.
    doubles: dict[int, set[float]] = field(default_factory=dict)
    #: Each feature's largest category of a categorical split (``==``, threshold ``"1||3"``), for
    #: :func:`refuse_float32_categories`.
    categories: dict[int, int] = field(default_factory=dict)


@contextmanager
def exact_float32_thresholds(doubles: frozenset[int] = frozenset()) -> Iterator[ThresholdNotes]:
    """While onnxmltools converts a LightGBM model, make ``x <= t`` (LightGBM, double ``t``) and the
    float32 graph's ``x <= v`` agree for every float32 x of the features not in ``doubles``; yields
    :class:`ThresholdNotes`: how many moved, and each feature's largest threshold. The features in
    ``doubles`` are fed as float64 and rounded to float32 in the graph: the nearest float32 ``v`` keeps
    every double ``x <= t`` at ``float32(x) <= v``.

    onnxmltools writes ``v = float32(t)`` rounded to nearest; when that rounds up, the float32 value
    ``v`` itself goes left in ONNX and right in LightGBM. The exact float32 threshold is the largest
    float32 not above ``t``. onnxmltools parses LightGBM's dump once (``dump_booster_model``, which
    also lists every decision node); this wraps that function so the parsed thresholds are made exact
    before any node is written: nothing is read twice and nothing is matched afterwards. The wrap is
    module-wide, so conversions take a lock while it is in place.
    """
    from onnxmltools.convert.lightgbm.operator_converters import LightGbm

    original = LightGbm.dump_booster_model
    notes = ThresholdNotes()

    def dump(*args: Any, **kwargs: Any) -> Any:
        text, info = original(*args, **kwargs)
        nodes = [n for tree in (info or {}).get("decision_nodes", []) for n in tree]
        for node in nodes:
            if node.get("decision_type") == "<=" and isinstance(node.get("threshold"), (int, float)):
                feature = node.get("split_feature")
                if abs(float(node["threshold"])) < _LIGHTGBM_INFINITY:  # 1e300 splits NaN from every number
                    notes.largest[feature] = max(notes.largest.get(feature, 0.0), abs(float(node["threshold"])))
                if feature in doubles:
                    notes.doubles.setdefault(feature, set()).add(float(node["threshold"]))
            elif node.get("decision_type") == "==":
                found = [int(v) for v in str(node.get("threshold", "")).split("||") if v.strip().isdigit()]
                if found:
                    feature = node.get("split_feature")
                    notes.categories[feature] = max(notes.categories.get(feature, 0), *found)
        notes.moved += _exact_in_place([n for n in nodes if n.get("split_feature") not in doubles])
        return text, info

    with _DUMP_LOCK:
        LightGbm.dump_booster_model = dump
        LightGbm.copy = _FlatCopies
        try:
            yield notes
        finally:
            LightGbm.dump_booster_model = original
            LightGbm.copy = copy


class _FlatCopies:
    """Stands in for the ``copy`` module inside onnxmltools' LightGBM converter while onnxgate converts.

    That converter deep-copies a flat list of numbers once per node attribute (``nodes_*``: the nodes'
    global indexes, then each ``class_*`` list), with ``copy.deepcopy`` walking every element: about a
    third of its time on the zoo's 100-tree models. For a list of numbers and strings a list copy is the
    same copy; anything else still goes to ``copy.deepcopy``."""

    _FLAT = frozenset({int, float, str, bool})

    @staticmethod
    def deepcopy(value: Any) -> Any:
        if type(value) is list and set(map(type, value)) <= _FlatCopies._FLAT:
            return list(value)
        return copy.deepcopy(value)


#: The magnitude LightGBM reads an infinite input as (its ``AvoidInf``), and its threshold splitting NaN from
#: every number.
_LIGHTGBM_INFINITY = 1e300


def _exact_in_place(nodes: list[dict[str, Any]]) -> int:
    """Set each numeric ``<=`` split's threshold that float32 rounding would raise to the largest
    float32 below it (categorical splits, ``==`` with a ``"1||3"`` text threshold, are left alone)."""
    import numpy as np

    numeric = [n for n in nodes if n.get("decision_type") == "<=" and isinstance(n.get("threshold"), (int, float))]
    if not numeric:
        return 0
    doubles = np.fromiter((n["threshold"] for n in numeric), np.float64, len(numeric))
    with np.errstate(over="ignore"):  # a threshold beyond float32's range rounds to inf: max float32 then
        nearest = doubles.astype(np.float32)
    # but LightGBM's own split of NaN from every number (threshold 1e300) stays inf: LightGBM reads an
    # input of +inf as 1e300, which goes left there; at max float32 +inf went right, the NaN branch
    # (0.01 off on 310 of 569 rows with one feature +inf; helper-116)
    raised = (nearest.astype(np.float64) > doubles) & (doubles < _LIGHTGBM_INFINITY)
    exact = np.nextafter(nearest[raised], np.float32(-np.inf))
    for node, value in zip((n for n, up in zip(numeric, raised.tolist()) if up), exact.tolist()):
        node["threshold"] = value
    return int(raised.sum())


def _rank_double_features(proto: Any, doubles: Mapping[int, set[float]], width: int) -> bool:
    """Split float64-fed features exactly as LightGBM does: it compares them with double thresholds, and the
    file's float32 trees sent a value within a float32 step of one the other way (up to 0.165 off, 54 of 600
    labels flipped on epoch-second features; helper-116). Each such feature is fed as the number of its
    thresholds below the value, counted in double, and each threshold as its rank
    (:func:`onnxgate.converters._sklearn_graph.feed_ranks`), from the array's float64 input or the DataFrame's
    columns cast to double. A threshold of 1e300 or more (LightGBM's split of
    NaN from every number) counts as +inf, since LightGBM reads +inf as 1e300. Done only when every split the
    file holds on those features maps back to one double threshold; False, and the file as it was, otherwise."""
    import numpy as np
    from onnx import TensorProto, helper

    from onnxgate._graph import graph_names, unique_name
    from onnxgate.converters._sklearn_graph import feed_ranks

    trees = [n for n in proto.graph.node if n.domain == "ai.onnx.ml" and n.op_type.startswith("TreeEnsemble")]
    made = {out: n for n in proto.graph.node for out in n.output}
    feeder = made.get(trees[0].input[0]) if len(trees) == 1 else None
    before: list[Any] = []
    if feeder is not None and feeder.op_type == "Cast":
        source = feeder.input[0]  # an array's float64 input
    elif feeder is not None and feeder.op_type == "Concat" and all(
            made.get(part) is None or made[part].op_type == "Cast" for part in feeder.input):
        # a DataFrame's columns, each an input cast to float32: the same columns cast to double instead
        taken = graph_names(proto.graph)
        parts = []
        for part in feeder.input:
            column = made[part].input[0] if part in made else part
            parts.append(unique_name(f"{column}_double", taken))
            before.append(helper.make_node("Cast", [column], [parts[-1]], to=TensorProto.DOUBLE,
                                           name=unique_name(f"{column}_as_double", taken)))
        source = unique_name("columns_double", taken)
        before.append(helper.make_node("Concat", parts, [source], axis=1, name=source))
    else:
        return False
    tree = trees[0]
    attrs = {a.name: a for a in tree.attribute}
    if "nodes_values" not in attrs:
        return False
    ranked = {f: np.array(sorted(t if t < _LIGHTGBM_INFINITY else np.inf for t in ts), dtype=np.float64)
              for f, ts in doubles.items()}
    by_float32: dict[int, dict[float, list[float]]] = {}
    for f, ts in doubles.items():
        for t in ts:
            with np.errstate(over="ignore"):
                by_float32.setdefault(f, {}).setdefault(float(np.float32(t)), []).append(t)
    ranks = []
    for mode, f, value in zip(attrs["nodes_modes"].strings, attrs["nodes_featureids"].ints,
                              attrs["nodes_values"].floats):
        if mode == b"LEAF" or f not in doubles:
            ranks.append(value)
            continue
        found = by_float32[f].get(float(np.float32(value)), [])
        if mode != b"BRANCH_LEQ" or len(found) != 1:
            return False  # two thresholds one float32 apart, or a split not read here: left as written
        t = found[0] if found[0] < _LIGHTGBM_INFINITY else np.inf
        ranks.append(float(np.searchsorted(ranked[f], t)))
    feed_ranks(proto, tree, source, ranked, width, ranks, before)
    return True


def _integers_past_float32(sample: Any, columns: Any, largest: Mapping[int, float]) -> str | None:
    """A warning when the trees split an integer feature (or a float64 one of whole numbers) at or past
    :data:`FLOAT32_EXACT_INTEGERS`, where the file's float32 cast rounds the integers LightGBM compares as
    doubles (helper-94: epoch seconds in a
    breast_cancer model, 101 of 569 labels flipped with convert silent); else None."""
    import numpy as np

    values = np.asarray(sample) if getattr(sample, "ndim", 0) == 2 else None

    def whole(i: int, dtype: Any) -> bool:
        """Integers, or float64 holding whole numbers in the sample (epoch seconds read as float64): a
        float32 column reaches the trees exactly, and other float64 columns get convert's float64 warning."""
        kind = np.dtype(dtype)
        if kind.kind in "iu":
            return True
        if kind != np.float64 or values is None or i >= values.shape[1]:
            return False
        column = values[:, i].astype(np.float64)
        column = column[np.isfinite(column)]
        return bool(column.size) and bool(np.all(column == np.floor(column)))

    if columns:
        integer = [(i, label) for i, (label, dtype) in enumerate(columns) if whole(i, dtype)]
    else:
        dtype = getattr(sample, "dtype", None)
        integer = [(i, f"feature {i}") for i in largest if dtype is not None and whole(i, dtype)]
    past = [(label, largest[i]) for i, label in integer if largest.get(i, 0.0) >= FLOAT32_EXACT_INTEGERS]
    if not past:
        return None
    names = [label for label, _ in past]
    size = max(value for _, value in past)
    step = int(np.spacing(np.float32(size)))
    return (f"column(s) {names} hold integers the trees split at up to {size:.6g}, past 2**24 = 16,777,216, where "
            f"the file's float32 cast keeps only every {step}th integer while LightGBM compares them exactly: rows "
            "near those splits can take the other branch. Subtract an offset before training (a base date from "
            "a timestamp) so the values stay below 2**24, and validate with the data the model will score")


def refuse_float32_categories(notes: ThresholdNotes, names: Any = None) -> None:
    """Refuse a model whose categorical splits (``categorical_feature`` on integer columns) read a category at
    or past :data:`FLOAT32_EXACT_INTEGERS`: the file's trees read every feature as float32, which holds only
    every 8th integer near 1e8, so neighbouring ids became one category (ids 100000001..100000004: 404 of 800
    labels differed, convert silent). ``names``: the columns' names, in order (else ``feature i``)."""
    past = {f: c for f, c in sorted(notes.categories.items()) if c >= FLOAT32_EXACT_INTEGERS}
    if not past:
        return
    import numpy as np

    labels = [str(names[f][0]) if names is not None and f < len(names) else f"feature {f}" for f in past]
    size = max(past.values())
    raise UnsupportedModelError(
        f"LightGBM splits {labels} on integer categories up to {size:,}, past 2**24 = 16,777,216: the ONNX trees read "
        f"features as float32, which keeps only every {int(np.spacing(np.float32(size)))}th integer there, so "
        "different categories (and values next to one) would be read as one and score otherwise. Renumber the "
        "categories 0..k-1 before training (or give the column as a pandas category column, whose codes LightGBM "
        "reads) and refit",
        framework="lightgbm",
    )


_STDERR_LOCK = threading.Lock()


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """LightGBM's C++ side writes a failed load to file descriptor 2 as well as raising it: the CLI's one line
    of error became two. The raised error keeps the text. One thread at a time: two overlapping redirections
    would leave descriptor 2 on the null device for good."""
    import os
    import sys

    with _STDERR_LOCK:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def _training_params(booster: Any) -> dict[str, Any]:
    """The parameters ``booster`` was trained with, resolved by LightGBM (aliases such as
    ``boosting_type`` read as ``boosting``), or as given when this LightGBM cannot say; read from LightGBM's
    JSON once per conversion."""
    from onnxgate.converters._base import remembered

    return dict(remembered(booster, "training_params", lambda: _read_params(booster)))


def _read_params(booster: Any) -> dict[str, Any]:
    try:
        return dict(booster._get_loaded_param())
    except Exception:  # another LightGBM version: the parameters as the user gave them
        params = dict(getattr(booster, "params", None) or {})
        if "boosting_type" in params:
            params.setdefault("boosting", params["boosting_type"])
        return params


#: How LightGBM's parameters read true (as given, or as its model text holds them).
_TRUE = (True, 1, "1", "true")


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")  # not a number LightGBM would have trained with: refused as not the default


def objective_of(model: Any) -> str:
    """The objective's name as LightGBM saved it (``"binary"``, ``"multiclass"``...)."""
    given = getattr(model, "objective_", None)  # scikit-learn API: the name as given (or its default)
    if isinstance(given, str) and given in SUPPORTED_OBJECTIVES:
        return given
    booster = _booster(model)
    text = booster.dump_model(num_iteration=1).get("objective", "") or ""
    return str(text).split(" ")[0]


def one_vs_all_probabilities(nodes: Any) -> None:
    """Make each ``TreeEnsembleClassifier`` of a ``multiclassova`` model answer each class's sigmoid of its score,
    as LightGBM's predict_proba does (unnormalised: a row's probabilities need not sum to 1; measured on wine,
    equal to expit(raw_score)); onnxmltools writes a softmax (post_transform SOFTMAX) for every objective named
    multiclass*. ONNX's LOGISTIC applies the sigmoid to each class's score."""
    set_post_transform(nodes, "LOGISTIC")


def is_random_forest(model: Any) -> bool:
    """True for a model trained with ``boosting_type='rf'`` (LightGBM averages its trees)."""
    return str(_training_params(_booster(model)).get("boosting", "gbdt")) == "rf"


def as_boosted(model: Any) -> Any:
    """A shallow copy of a scikit-learn API random forest that onnxmltools reads as boosted trees (it adds them
    up; :func:`average_trees` then averages them): onnxmltools' own ``rf`` form divides the trees' sum by 100
    whatever their number, and for a classifier rescales the probabilities by 100 too."""
    subject = copy.copy(model)
    subject.boosting_type = "gbdt"
    return subject


def average_trees(nodes: Any, per_iteration: int) -> None:
    """Make each tree ensemble of a ``boosting_type='rf'`` model answer its trees' mean, as LightGBM predicts:
    the average of each class's (or the target's) trees over the iterations, before the objective's
    transform (sigmoid, softmax, exp), which onnxmltools writes as for boosted trees. Each leaf's weight is
    divided by the number of iterations the node holds (its trees / ``per_iteration``); LightGBM's trees hold
    the init score (no base value). Measured: predict_proba is expit(mean of the trees) on breast_cancer
    (LightGBM's raw_score=True answers their sum)."""
    from onnx import helper

    for node in nodes:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: a for a in node.attribute}
        prefix = "class" if node.op_type == "TreeEnsembleClassifier" else "target"
        base = attrs.get("base_values")
        if f"{prefix}_weights" not in attrs or f"{prefix}_treeids" not in attrs or (
                base is not None and any(v != 0 for v in helper.get_attribute_value(base))):
            raise UnsupportedModelError(
                "LightGBM boosting_type='rf': onnxgate averages the trees onnxmltools writes, and this node holds "
                "other attributes than it reads. Train with boosting_type='gbdt'", framework="lightgbm")
        trees = len(set(attrs[f"{prefix}_treeids"].ints))
        iterations = max(trees // max(per_iteration, 1), 1)
        weights = [w / iterations for w in attrs[f"{prefix}_weights"].floats]
        del attrs[f"{prefix}_weights"].floats[:]
        attrs[f"{prefix}_weights"].floats.extend(weights)


def _integer_column(column: Any, float_categories: bool) -> bool:
    """True for a float column that may hold integer categories: whole numbers, with a NaN among them or
    for a model whose categories are whole floats (pandas' for an integer column with a missing value)."""
    import numpy as np

    values = np.asarray(column, dtype=np.float64)
    known = values[~np.isnan(values)]
    return (known.size > 0 and (float_categories or len(known) < len(values))
            and bool(np.all(np.floor(known) == known)))  # an all-NaN column holds no category


def _coded_categories(categories: Mapping[str, list[Any]]) -> set[str]:
    """The category columns whose input is their codes, not their values: those whose categories' type the
    target of the conversion takes no input of (text on SQL Edge, where the codes are an integer column)."""
    from onnxgate.converters._base import CONVERSION_TARGET

    target = CONVERSION_TARGET.get()
    if target is None or target.input_types is None:
        return set()
    return {label for label, values in categories.items() if category_kind(values) not in target.input_types}


def _category_kinds(model: Any) -> list[str]:
    """Each training category list's ONNX type (:func:`category_kind`); a list that has none is refused."""
    categories = lightgbm_categories(model)
    kinds = [category_kind(values) for values in categories]
    odd = [values for values, kind in zip(categories, kinds) if kind is None]
    if odd:
        raise UnsupportedModelError(
            "the model was fitted on a pandas category column whose categories are neither all text nor all "
            f"integers (found {odd[0][:5]!r}); onnxgate maps text and integer categories only. Refit with those "
            "categories as text: df[c] = df[c].astype(str).astype('category')",
            framework="lightgbm",
        )
    return [str(kind) for kind in kinds]


class LightGBMConverter(BoostingConverter):
    framework = "lightgbm"
    MODULE_PREFIXES = ("lightgbm.",)
    FILE_SUFFIXES = (".txt",)
    FILE_CONTENT = "LightGBM's text model (it starts with 'tree', as booster.save_model('model.txt') writes it)"

    def claims_file(self, path: Path) -> bool:
        """A ``.txt`` file is LightGBM's text model format when it starts with ``tree``."""
        if path.is_dir() or path.suffix.lower() != ".txt":
            return False
        try:
            with open(path, "rb") as handle:
                return handle.read(5) == b"tree\n"
        except OSError:
            return False

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        lightgbm = import_library("lightgbm", "Loading a LightGBM model")
        _refuse_truncated(path)

        def read(file: Any) -> Any:
            with _native_stderr_silenced():  # its "[LightGBM] [Fatal] ..." line beside onnxgate's (helper-95)
                return lightgbm.Booster(model_file=file)

        return self.read_native(path, "LightGBM", read)

    def save_native(self, model: Any, folder: Path) -> Path:
        path = folder / "model.txt"
        _booster(model).save_model(str(path))
        return path

    def is_classifier(self, model: Any) -> bool:
        return objective_of(model) in ("binary", "multiclass", "multiclassova")

    def check_model(self, model: Any) -> None:
        if hasattr(model, "fit"):
            if getattr(model, "_Booster", None) is None:
                raise UnsupportedModelError(
                    f"{type(model).__name__} is not fitted: expected a fitted model. Call .fit(X, y) first.",
                    framework=self.framework,
                )
        elif type(model).__name__ != "Booster":
            raise UnsupportedModelError(
                "expected a lightgbm.Booster or a fitted LGBMClassifier/LGBMRegressor/LGBMRanker; found "
                f"{type(model).__name__}",
                framework=self.framework,
            )
        objective = objective_of(model)
        if objective not in SUPPORTED_OBJECTIVES:
            raise UnsupportedModelError(
                f"LightGBM objective {objective!r} is not supported: onnxmltools cannot convert it "
                "(cross_entropy, fair, mape, custom objectives) or its output is not verified against "
                f"LightGBM's. Supported objectives: {sorted(SUPPORTED_OBJECTIVES)}.",
                framework=self.framework,
            )
        params = _training_params(_booster(model))
        # each converted without a word, and predicted otherwise (measured on diabetes, wine, breast_cancer)
        why = None
        if params.get("linear_tree") in _TRUE:
            why = ("linear_tree=True: its leaves hold linear models of the features, and onnxmltools writes only "
                   "each leaf's constant (predictions off by 42 on diabetes). Train with linear_tree=False")
        elif params.get("zero_as_missing") in _TRUE and params.get("use_missing", True) in _TRUE:
            # use_missing=False overrides it: every split then reads NaN as 0 and no value as missing (LightGBM's
            # missing_type None, which the file follows: tested with zeros and NaN), and the model was refused
            why = ("zero_as_missing=True: LightGBM sends every 0 down a split's missing-value branch, and the ONNX "
                   "tree ensemble treats only NaN as missing, so rows holding 0 would take other branches. Train "
                   "with zero_as_missing=False, writing missing values as NaN")
        elif objective in ("binary", "multiclassova") and _number(params.get("sigmoid", 1.0)) != 1.0:
            why = (f"sigmoid={params['sigmoid']}: LightGBM's probability is 1 / (1 + exp(-sigmoid * score)), and "
                   "onnxmltools writes the default sigmoid's (probabilities off by 0.15 on breast_cancer). Train "
                   "with sigmoid=1.0")
        elif params.get("reg_sqrt") in _TRUE:
            why = ("reg_sqrt=True: LightGBM fits the square root of the label and squares its predictions, and "
                   "onnxmltools writes the unsquared ones (off by 250 on diabetes). Train with reg_sqrt=False")
        if why is not None:
            raise UnsupportedModelError(f"LightGBM {why}.", framework=self.framework)

    def frame_categories(self, model: Any, sample: Any) -> dict[str, list[Any]]:
        """The sample's columns that hold the model's pandas category columns, with the training
        categories (``booster.pandas_categorical``) in code order.

        Text columns (and integer ones, in order) are matched to the training category lists by
        their types (:func:`category_assignments`), the one rule that also rebuilds the reference
        model's DataFrame from ONNX feeds (:meth:`native_input`); a sample's category dtypes must
        agree with it. A sample read from a file has none, and Parquet keeps only text ones.

        Raises
        ------
        InvalidDataError
            The sample's category columns are not the model's, or which columns they are cannot be
            told from the input types.
        """
        import numpy as np

        from onnxgate._data import is_dataframe

        categories = lightgbm_categories(model)
        if not categories or not is_dataframe(sample):
            return {}
        import pandas as pd
        from onnx import helper

        kinds = _category_kinds(model)
        labels = [str(c) for c in sample.columns]
        given = [i for i, c in enumerate(sample.columns) if isinstance(sample[c].dtype, pd.CategoricalDtype)]
        floats = any(isinstance(v, (float, np.floating)) for values in categories for v in values)
        types = []
        for i, c in enumerate(sample.columns):
            dtype = np.asarray(sample[c]).dtype
            if i in given:
                types.append(category_kind(list(sample[c].dtype.categories)) or "string")
            elif dtype.kind not in "fiub":
                types.append("string")
            elif dtype.kind == "f" and _integer_column(sample[c], floats):
                # an integer category column with a missing value, read from a file: float64 (0.0, 1.0, NaN),
                # which must stay a candidate, or a plain int64 column beside it was taken for it (validate
                # passed: the reference is rebuilt the same way)
                types.append("int64")
            else:
                types.append(helper.tensor_dtype_to_np_dtype(column_type(dtype)).name)
        # a file can keep some category dtypes and not others (Parquet drops an integer one): the
        # sample's category columns must be among the ones its types point to
        assignments = category_assignments(kinds, types)
        found = assignments[0] if len(assignments) == 1 else None
        wanted = ", ".join(f"{len(v)} {k} categories" for v, k in zip(categories, kinds))
        if len(assignments) > 1:
            # the model's input types are all the reference's input is rebuilt from (validate, score)
            raise InvalidDataError(
                f"the model was fitted on pandas category columns holding {wanted}, in column order; which of the "
                f"columns {labels} (types {types}) LightGBM coded cannot be told from their types, and onnxgate "
                "rebuilds the reference's input from the ONNX model's input types. Refit with the integer "
                "categories as text (df[c] = df[c].astype(str).astype('category')), or the plain integer columns "
                "as float64",
                column=labels[given[0]] if given else None,
            )
        if found is None or not set(given) <= set(found):
            raise InvalidDataError(
                f"the model was fitted on pandas category columns holding {wanted}, in column order; the sample's "
                f"columns {labels} (types {types}) do not hold them. Pass a sample with the columns and dtypes the "
                "model was fitted on: X.head(), or a Parquet file of it (a CSV file reads text codes such as "
                "'007' as numbers and 'NA' as missing)",
                column=labels[given[0]] if given else None,
            )
        return {labels[i]: list(values) for i, values in zip(found, categories)}

    def category_columns(self, model: Any) -> dict[str, list[Any]]:
        """The pandas category columns the booster was fitted on (``booster.pandas_categorical``, in the order of
        its ``categorical_feature`` columns, as saved in its model file), each with its categories in code order;
        empty when those columns and the lists do not pair up (integer columns also named categorical)."""
        categories = lightgbm_categories(model)
        booster = _booster(model) if categories else None
        if booster is None:
            return {}
        features = _training_params(booster).get("categorical_feature")
        if isinstance(features, (int, str)):
            features = [features]
        names = getattr(model, "feature_names_in_", None)
        names = [str(n) for n in (names if names is not None else booster.feature_name())]
        try:
            picked = [int(i) for i in features or ()]
        except (TypeError, ValueError):  # named, as a user gave them to an older LightGBM: cannot be told here
            return {}
        if len(picked) != len(categories) or not all(0 <= i < len(names) for i in picked):
            return {}
        return {names[i]: list(values) for i, values in zip(picked, categories)}

    def native_input(self, feeds: Mapping[str, np.ndarray], signature: Signature, model: Any = None) -> Any:
        """As the other libraries; for a model fitted on pandas category columns, a DataFrame whose
        category columns carry the training categories (LightGBM maps a value to its code by them,
        and any other value to missing), found from the input types as :meth:`frame_categories`
        checked at conversion."""
        categories = lightgbm_categories(model)
        booster = _booster(model) if categories else None
        if booster is None or len(signature.inputs) != booster.num_feature():
            return super().native_input(feeds, signature, model)
        import numpy as np
        import pandas as pd

        kinds = _category_kinds(model)
        # an input of codes (:func:`_coded_categories`) holds a category column of its categories' kind
        types = [category_kind(list(s.codes[0][1] or ())) or "string" if s.codes else s.elem_type
                 for s in signature.inputs]
        assignments = category_assignments(kinds, types)
        if len(assignments) != 1:
            return super().native_input(feeds, signature, model)
        found = assignments[0]
        columns = getattr(model, "feature_names_in_", None)
        if columns is None or len(columns) != len(signature.inputs):
            columns = booster.feature_name()
        data: dict[Any, Any] = {}
        for i, (name, column) in enumerate(zip(signature.input_names, columns)):
            values = np.asarray(feeds[name]).reshape(-1)
            if i in found:  # a value outside the categories is missing to LightGBM: given as one, which pandas 4
                known = list(categories[found.index(i)])  # requires (pandas 3 warned, then read it as one)
                if signature.inputs[i].codes:  # the codes: any that is none of the categories' is missing
                    whole = np.nan_to_num(values.astype(np.float64), nan=-1.0)
                    inside = (whole >= 0) & (whole < len(known)) & (whole == np.floor(whole))
                    values = np.where(inside, whole, -1).astype(np.int64)
                    data[column] = pd.Categorical.from_codes(values, categories=known)
                    continue
                given = pd.Series(values, dtype=object)
                values = pd.Categorical(given.where(given.isin(known), None), categories=known)
            data[column] = values
        return pd.DataFrame(data)

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
        import numpy as np

        onnxmltools = import_onnxmltools("lightgbm")
        from onnxmltools.convert.common.data_types import FloatTensorType

        self.check_options(options, ("input_name",))
        n_features = _booster(model).num_feature()
        categories = self.frame_categories(model, sample)
        array = self.sample_array(model, sample, n_features, categories)
        columns = self.frame_columns(model, sample)
        input_name = str(options.get("input_name", "input"))
        _dtype, boundary = input_type(array)
        coded = _coded_categories(categories)
        valued = set(categories) - coded  # fed as their values, mapped to codes by a LabelEncoder in the graph
        if valued:
            self.check_category_opset(opset, ml_opset)
        subject = model
        classes = getattr(model, "classes_", None) if hasattr(model, "fit") else None
        kind = getattr(getattr(classes, "dtype", None), "kind", "")
        if kind in ("b", "u"):
            # onnxmltools reads neither bool nor unsigned class labels ("'numpy.bool' object has no attribute
            # 'encode'", the same for uint8): it converts a copy with the labels as int64 (bool: 0 and 1), and
            # a bool label output is cast back below
            subject = copy.copy(model)
            subject._classes = np.asarray(model.classes_).astype(np.int64)
        best = getattr(model, "best_iteration", 0) if not hasattr(model, "fit") else 0
        given = getattr(model, "params", {}).get("objective") if not hasattr(model, "fit") else None
        if (best and best < model.current_iteration()) or (isinstance(given, str) and given != objective_of(model)):
            # a Booster kept training past its best iteration (keep_training_booster=True) predicts with
            # the trees up to it, and onnxmltools failed ("Unexpected number of trees 3 (expecting 8)"); one
            # trained with an objective's alias ('l1', 'mse', 'softmax') keeps the alias in its params, which
            # onnxmltools reads and refused ("Unsupported LightGbm objective: 'l1'"; helper-116): the Booster
            # reloaded from its own text holds its trees up to that iteration and the objective's name
            lightgbm = import_library("lightgbm", "Converting a LightGBM model")
            subject = lightgbm.Booster(model_str=model.model_to_string(num_iteration=best or None))
        if is_random_forest(model) and hasattr(subject, "fit"):
            subject = as_boosted(subject)
        try:
            if columns:
                doubles = frozenset(i for i, (_, dtype) in enumerate(columns) if np.dtype(dtype) == np.float64)
            else:
                doubles = frozenset(range(n_features)) if array.dtype == np.float64 else frozenset()
            with exact_float32_thresholds(doubles) as notes:
                proto = onnxmltools.convert_lightgbm(
                    subject,
                    name=name or type(model).__name__,
                    initial_types=[(input_name, FloatTensorType([None, n_features]))],
                    target_opset=min(opset, ONNXMLTOOLS_MAX_OPSET),
                    zipmap=False,
                )
        except Exception as err:
            raise UnsupportedModelError(
                f"onnxmltools could not convert {type(model).__name__}: {first_line(err)}", framework=self.framework
            ) from None
        refuse_float32_categories(notes, columns)
        moved = notes.moved
        if categories and columns:
            from onnxgate._onnx import ML_DOMAIN, canonical_domain

            raw = finish(proto, opset, input_name, None, None, "lightgbm")
            feed_from_columns(raw, input_name, columns, "lightgbm", categories, coded)
            if valued:
                for entry in proto.opset_import:
                    if canonical_domain(entry.domain) == ML_DOMAIN:
                        entry.version = max(entry.version, CATEGORY_ML_OPSET)
        else:
            raw = finish(proto, opset, input_name, boundary, columns, "lightgbm")
            if notes.doubles and opset >= 9 and _rank_double_features(raw.model, notes.doubles, n_features):
                raw.warnings[:] = [w for w in raw.warnings if FLOAT32_NOTE["lightgbm"] not in w]
        if objective_of(model) == "multiclassova":
            one_vs_all_probabilities(raw.model.graph.node)
        if is_random_forest(model):
            average_trees(raw.model.graph.node, _booster(model).num_model_per_iteration())
        if classes is not None:  # bool or float classes: the label output of their kind, not int64 codes
            from onnxgate._graph import label_as_classes

            label_as_classes(raw.model, classes)
        codes = [int(i) for i in _training_params(_booster(model)).get("categorical_feature") or ()]
        if codes:
            truncate_category_codes(raw.model, codes, n_features, opset)
        rounded = _integers_past_float32(array, columns, notes.largest)
        if rounded:
            raw.warnings.append(rounded)
        if moved:
            raw.warnings.append(
                f"{moved} split threshold(s) on features fed as float32 set to the largest float32 at or below "
                "LightGBM's double threshold (onnxmltools rounds to nearest, which sends a float32 feature equal "
                "to the rounded value down the other branch)"
            )
        return raw

    def check_category_opset(self, opset: int, ml_opset: int) -> None:
        """A category column's ``LabelEncoder`` writes float codes, which ai.onnx.ml has from opset 2."""
        if ml_opset >= CATEGORY_ML_OPSET:
            return
        from onnxgate._onnx import ml_opset_for

        lowest = next((o for o in range(opset, self.MAX_OPSET + 1) if ml_opset_for(o) >= CATEGORY_ML_OPSET), None)
        raise OpsetError(
            f"a pandas category column is mapped to LightGBM's category codes by an ai.onnx.ml LabelEncoder with "
            f"float values, which needs ai.onnx.ml opset {CATEGORY_ML_OPSET}; this conversion is at ai.onnx.ml "
            f"{ml_opset} (opset {opset}"
            + (f"). Ask for opset {lowest} or higher" if lowest is not None and ml_opset == ml_opset_for(opset)
               else ", capped by the target). Convert for a target that takes ai.onnx.ml 2")
            + ", or convert an array of the category codes instead of the DataFrame",
            opset=opset,
            framework=self.framework,
        )

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        import numpy as np

        X = self.native_input(feeds, signature, model)
        if hasattr(model, "fit"):
            if self.is_classifier(model):
                return _in_output_order(
                    ["label", "probabilities"], [model.predict(X), model.predict_proba(X)], signature
                )
            return _in_output_order(["variable"], [np.asarray(model.predict(X)).reshape(len(X), -1)], signature)
        raw = np.asarray(model.predict(X))
        objective = objective_of(model)
        if objective == "binary":
            proba = np.stack([1 - raw.reshape(-1), raw.reshape(-1)], axis=1)
        elif objective in ("multiclass", "multiclassova"):  # one-vs-all: each class's sigmoid, unnormalised
            proba = raw
        else:
            return _in_output_order(["variable"], [raw.reshape(len(X), -1)], signature)
        return _in_output_order(["label", "probabilities"], [proba.argmax(axis=1), proba], signature)

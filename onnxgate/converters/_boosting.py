"""What the XGBoost, LightGBM and CatBoost converters share.

* The sample: an array or an all-numeric DataFrame, read as one ``[N,k]`` float32 input named
  ``input`` (the three libraries split on float32 thresholds, so float32 is exact, not a loss); a
  float64 sample keeps a float64 boundary with a Cast inside the graph, like scikit-learn models.
* A library that reads a pandas ``category`` column through its codes (LightGBM) says which
  columns those are (:meth:`BoostingConverter.frame_categories`); each becomes an input of the
  categories' own type (string or int64) whose values a ``LabelEncoder`` maps to the code the
  trees split on: the position in the training categories, as a float, and NaN for a value the
  training categories do not hold (pandas gives it code -1, which LightGBM reads as missing).
* Classifiers emit plain tensors: ``label`` ``[N]`` and ``probabilities`` ``[N,k]`` (no ZipMap).
* :func:`register_with_skl2onnx` teaches skl2onnx the scikit-learn API classes of the three
  libraries, so a ``Pipeline(StandardScaler(), XGBClassifier())`` converts through the scikit-learn
  converter. XGBoost and LightGBM use onnxmltools' converters; CatBoost embeds CatBoost's own ONNX
  export (its single tree-ensemble node) into skl2onnx's graph.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from onnxgate.converters._base import Converter, RawConversion, first_line, sanitise_names
from onnxgate.errors import InvalidDataError, UnsupportedModelError, missing_dependency

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.signature import Signature

__all__ = ["BoostingConverter", "category_assignments", "category_kind", "drop_zipmap", "dynamic_batch",
           "register_with_skl2onnx", "same_columns", "set_post_transform", "training_columns",
           "truncate_category_codes", "uses_boosting"]

#: Library -> the extra that installs it.
_EXTRAS = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost"}
#: onnxmltools 1.16 refuses a target_opset above this (``get_maximum_opset_supported``).
ONNXMLTOOLS_MAX_OPSET = 15
#: skl2onnx refuses to run onnxmltools' converters above ai.onnx.ml 3 ("version 5 of domain
#: 'ai.onnx.ml' not supported yet"): a pipeline holding them is converted at ai.onnx.ml <= 3.
ML_OPSET_CAP = 3
#: ``LabelEncoder`` writes float values (a category's code) from ai.onnx.ml 2 on.
CATEGORY_ML_OPSET = 2


#: Where a native library's message says it came from: XGBoost's "[00:06:52] /workspace/src/c_api/c_api.cc:1527: "
#: and CatBoost's "util/stream/input.cpp:77: " name a source line of the library, nothing of the user's file.
_SOURCE_PREFIX = re.compile(r"^(\[[0-9:]+\]\s*)?([\w./-]+\.(?:cpp|cc|cxx|h|hpp):\d+:\s*)?")


def _library_words(err: BaseException) -> str:
    """The first line of a native library's error, without the source file and line it names."""
    text = _SOURCE_PREFIX.sub("", first_line(err, None)).strip()
    return (text or type(err).__name__)[:200]


def import_library(name: str, what: str) -> Any:
    """Import ``xgboost``/``lightgbm``/``catboost`` or raise the missing-dependency error naming its extra."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise missing_dependency(name, _EXTRAS[name], what) from err


def import_onnxmltools(extra: str) -> Any:
    try:
        import onnxmltools
    except ImportError as err:
        raise missing_dependency("onnxmltools", extra, f"Converting a {extra} model") from err
    return onnxmltools


class BoostingConverter(Converter):
    """Base for the gradient-boosting libraries' converters (one ``[N,k]`` numeric input)."""

    DEFAULT_OPSET = 17
    MIN_OPSET = 9
    MAX_OPSET = 21
    #: Above scikit-learn's converter: the libraries' scikit-learn API classes are also
    #: scikit-learn estimators by their base classes.
    PRIORITY = 5
    ATOL: ClassVar[float] = 1e-4
    RTOL: ClassVar[float] = 1e-4

    @staticmethod
    def read_native(path: Path, library: str, read: Callable[[str], Any], *, how: str = "") -> Any:
        """``read(str(path))``, for a file that begins as ``library`` writes one (each caller checked it); a file
        the library cannot read all the same is an :class:`UnsupportedModelError` naming it, what it is, and
        ``how`` to write a readable one."""
        try:
            return read(str(path))
        except Exception as err:
            raise UnsupportedModelError(
                f"{str(path)!r} is not a readable {library} model: it begins as one, but {library} cannot read "
                f"it ({_library_words(err)}); the file was cut short or damaged, or written by another {library} "
                f"version. Copy the whole file again{f', or {how}' if how else ''}",
                path=str(path),
            ) from None

    @staticmethod
    def refuse_content(path: Path, what: str, expected: str, how: str) -> NoReturn:
        """Refuse a file that is not the model its suffix names, before the library reads it: the library's own
        words ("util/ysaveload.cpp:17: can not load pod type(4, 0 bytes)", "std::bad_alloc") named neither what
        was expected nor how to fix it (helper-292).

        Raises
        ------
        UnsupportedModelError
            Always: what was expected, what the file holds (:func:`onnxgate._files.describe_content`), ``how``.
        """
        from onnxgate._files import describe_content

        raise UnsupportedModelError(f"{str(path)!r} is not {what}: expected {expected}, found "
                                    f"{describe_content(path)}. {how}", path=str(path))

    def frame_categories(self, model: Any, sample: Any) -> dict[str, list[Any]]:
        """The DataFrame sample's columns that the model reads as category codes, each with its
        training categories in code order; empty for a library whose categories onnxgate does not
        map (its text columns are refused by :meth:`sample_array`)."""
        return {}

    def sample_array(self, model: Any, sample: Any, n_features: int | None,
                     categories: Mapping[str, Sequence[Any]] | None = None) -> np.ndarray:
        """The sample as a 2-D numeric array, checked against the model's feature count; the
        ``categories`` columns (:meth:`frame_categories`) read as their codes."""
        import numpy as np

        from onnxgate._data import is_dataframe

        if sample is None:
            raise InvalidDataError(
                f"converting a {self.framework} model needs a sample (array or DataFrame of the feature "
                "columns) to fix the input's width and type; pass convert(model, X[:5]) (CLI: --sample FILE)"
            )
        if is_dataframe(sample):
            categories = categories or {}
            text = [str(c) for c in sample.columns
                    if getattr(sample[c].dtype, "kind", "O") not in "fiub" and str(c) not in categories]
            if text:
                why = {
                    # a category column the model was fitted on is in `categories`: what is left is a
                    # column LightGBM itself would refuse at predict time
                    "lightgbm": "LightGBM reads text only as a pandas category column, and the model was "
                                f"fitted on {len(lightgbm_categories(model))} of them (booster.pandas_categorical). "
                                "Pass a sample with the columns and dtypes the model was fitted on (X.head())",
                    "catboost": "the model reads no categorical features (cat_features), and CatBoost reads text "
                                "only as categorical or text features. Pass a sample with the columns and dtypes "
                                "the model was fitted on (X.head())",
                    # XGBoost's own category route (enable_categorical on pandas categories): its trees split on
                    # the category codes, which the file takes (helper-116)
                    "xgboost": "the file reads a category feature as its code (the column's .cat.codes, a float). "
                               "Pass a sample with each category column replaced by its codes "
                               "(X.assign(c=X['c'].cat.codes)), and score and validate such rows; or encode the "
                               "categories as numbers before training",
                }.get(self.framework, "onnxmltools converts no categorical or text features of this library. "
                                      "Encode them as numbers before training")
                raise InvalidDataError(
                    f"the {self.framework} conversion reads numeric features only, but the sample's column(s) "
                    f"{text} are not numeric: {why}",
                    column=text[0],
                )
            if categories:
                import pandas as pd

                sample = sample.copy(deep=False)  # the caller's frame keeps its columns
                for c in list(sample.columns):
                    if str(c) in categories:
                        values = list(categories[str(c)])
                        sample[c] = pd.Categorical(np.asarray(sample[c], dtype=object), categories=values).codes
            frame = sample
            sample = frame.to_numpy()
            if sample.dtype == object:  # booleans or nullable columns (Int64, Float64) beside floats
                sample = frame.astype("float64").to_numpy()
        array = np.asarray(sample)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2:
            raise InvalidDataError(f"expected a 2-D sample (rows x features), found shape {list(array.shape)}; "
                                   "give rows of the model's features (X[:5], a CSV or Parquet table)")
        if array.dtype.kind not in "fiub":
            raise InvalidDataError(f"expected a numeric sample, found dtype {array.dtype}")
        if n_features is not None and array.shape[1] != n_features:
            raise InvalidDataError(
                f"the model was trained on {n_features} features; the sample has {array.shape[1]} columns. "
                "Pass a sample with the training columns, in training order."
            )
        return array

    def frame_columns(self, model: Any, sample: Any) -> list[tuple[str, Any]] | None:
        """``(column, dtype)`` of each column of a DataFrame sample of a model fitted on a DataFrame,
        in order: the model then gets one input per column (:func:`feed_from_columns`). None for an
        array sample, or a model fitted on an array (one ``[N,k]`` input, fed by position).

        Raises
        ------
        InvalidDataError
            The sample's columns are not the ones the model was fitted on, in the same order: fed by
            name, its columns would reach the wrong features.
        """

        from onnxgate._data import is_dataframe

        if not is_dataframe(sample):
            return None
        trained = training_columns(model)
        if trained is None:
            return None
        labels = [str(c) for c in sample.columns]
        if not same_columns(model, trained, labels):
            missing = [t for t in trained if not any(same_columns(model, [t], [c]) for c in labels)]
            raise InvalidDataError(
                f"the model was fitted on the columns {trained}, in that order; the sample has {labels}"
                + (f" (missing {missing})" if missing else "")
                + ". Pass a sample with the training columns, in training order (X[columns].head()).",
                column=missing[0] if missing else None,
            )
        return [(label, _column_dtype(sample[c])) for label, c in zip(labels, sample.columns)]

    def native_input(self, feeds: Mapping[str, np.ndarray], signature: Signature, model: Any = None) -> Any:
        """The feature matrix from ONNX-style feeds (one ``[N,k]`` input, or ``[N,1]`` columns in order);
        a DataFrame with the training columns when the model was fitted on one (scikit-learn API)."""
        import numpy as np

        arrays = [np.asarray(feeds[n]) for n in signature.input_names]
        if len(arrays) == 1:
            X = arrays[0].reshape(len(arrays[0]), -1)
        else:
            X = np.hstack([a.reshape(len(a), -1) for a in arrays])
        columns = getattr(model, "feature_names_in_", None)
        if columns is not None and len(columns) == X.shape[1]:
            import pandas as pd

            return pd.DataFrame(X, columns=list(columns))
        return X

    def check_options(self, options: Mapping[str, Any], known: Sequence[str]) -> None:
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise UnsupportedModelError(
                f"unknown {self.framework} conversion option(s) {unknown}; known options are {list(known)}",
                framework=self.framework,
            )


def lightgbm_categories(model: Any) -> list[list[Any]]:
    """The categories of each pandas category column a LightGBM model was fitted on, in column
    order (``booster.pandas_categorical``, saved in its model file too); [] for any other model."""
    if type(model).__module__.split(".")[0] != "lightgbm":
        return []
    booster = model.booster_ if hasattr(model, "booster_") else model
    return [list(values) for values in getattr(booster, "pandas_categorical", None) or []]


def category_kind(values: Sequence[Any]) -> str | None:
    """The ONNX element type that holds ``values`` (a column's categories) exactly: ``"string"``
    when all are text, ``"int64"`` when all are integers, or whole floats (pandas makes the categories
    of an integer column holding a missing value floats: 0.0, 1.0, 2.0, 5.0); None otherwise (other
    floats, booleans, dates, a mix), which a ``LabelEncoder`` key cannot hold without rounding or a
    format choice."""
    import math
    import numbers

    import numpy as np

    if values and all(isinstance(v, str) for v in values):
        return "string"
    if values and all((isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_)))
                      or (isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer())
                      for v in values):
        return "int64" if all(-(2**63) <= int(v) < 2**63 for v in values) else None
    return None


def integer_outside(categories: Sequence[Any]) -> int:
    """An integer that is none of ``categories``, to feed a missing value as
    (:attr:`onnxgate.signature.TensorSpec.missing`): -1, or the one below the smallest category."""
    known = {int(v) for v in categories}
    return -1 if -1 not in known else min(known) - 1


def category_assignments(kinds: Sequence[str], types: Sequence[str]) -> list[list[int]]:
    """Up to two assignments of the category lists to columns, given each list's kind
    (:func:`category_kind`, in column order) and each column's ONNX element type name: in column
    order, every ``string`` column a category column (a library reads text only as categories) and
    each category column of its list's type. Two mean it cannot be told (an ``int64`` column beside an
    integer category column): guessing from the features LightGBM's trees split on as categories was
    wrong for a model given ``categorical_feature=[...]`` and for an ordered category."""
    from functools import cache

    typed = tuple(types)

    @cache
    def fit(i: int, j: int) -> tuple[tuple[int, ...], ...]:
        if j == len(kinds):
            return ((),) if "string" not in typed[i:] else ()
        if len(typed) - i < len(kinds) - j:
            return ()
        found: list[tuple[int, ...]] = []
        if typed[i] == kinds[j]:
            found += [(i, *rest) for rest in fit(i + 1, j + 1)]
        if typed[i] != "string":
            found += fit(i + 1, j)
        return tuple(found[:2])  # two are enough to know it is ambiguous

    return [list(f) for f in fit(0, 0)]


def training_columns(model: Any) -> list[str] | None:
    """The column names an XGBoost, LightGBM or CatBoost model was fitted on, in order; None when it
    was fitted on an array (no names, or the names the library makes up for an array's columns:
    LightGBM's ``Column_0``..., CatBoost's ``0``...) or is not one of theirs."""
    library = type(model).__module__.split(".")[0]
    if library == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        names = getattr(booster, "feature_names", None)
        return None if names is None else [str(n) for n in names]
    if library == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        names = [str(n) for n in booster.feature_name()]
        return None if names == [f"Column_{i}" for i in range(len(names))] else names
    if library == "catboost":
        names = [str(n) for n in getattr(model, "feature_names_", None) or []]
        return None if names == [str(i) for i in range(len(names))] else names
    return None


def same_columns(model: Any, trained: Sequence[str], columns: Sequence[str]) -> bool:
    """True when ``columns`` are the ``trained`` columns in order, as the model's library names them
    (LightGBM stores a space in a name as ``_``)."""
    if len(trained) != len(columns):
        return False
    if type(model).__module__.split(".")[0] == "lightgbm":
        return all(t in (c, c.replace(" ", "_")) for t, c in zip(trained, columns))
    return list(trained) == list(columns)


def without_names(booster: Any) -> Any:
    """``booster`` (an XGBoost Booster, changed in place) without its feature names and types:
    onnxmltools reads features as ``f<index>`` only ("Unable to interpret 'mean radius'"), and the
    same trees without the names convert (the ONNX input is positional). A booster with category
    features (type ``"c"``, XGBoost's own route from a DataFrame of pandas categories) keeps its types
    under the names ``f<index>``: without them onnxmltools refused its category splits ("f1 in feature map
    is categorical but tree node is numerical"; helper-116). Its other features are typed ``"float"``, as they
    read when no type is kept: XGBoost dumps a split on a bool column (type ``"i"``, an indicator) with no
    threshold, and onnxmltools failed on it ("'split_condition'"; a frame of a bool and a category column,
    helper-187)."""
    types = booster.feature_types
    if types and "c" in types:
        booster.feature_names = [f"f{i}" for i in range(booster.num_features())]
        booster.feature_types = ["c" if kind == "c" else "float" for kind in types]
        return booster
    booster.feature_names = None
    booster.feature_types = None
    return booster


#: Why casting float64 features to float32 is (or is not) lossless, per library, for the warnings.
FLOAT32_NOTE = {
    "xgboost": "the library itself compares float32 features",
    "catboost": "the library itself compares float32 features",
    "lightgbm": "LightGBM compares float64 features with double thresholds, so a value within a float32 step of "
                "a threshold can take the other branch: validate with the data the model will score",
}


def _column_dtype(column: Any) -> Any:
    """The dtype a column's input is made from: a pandas nullable integer or boolean column (Int64,
    boolean) as float64, whose NaN the libraries read as missing, whether or not the sample holds a
    missing value (typed by the sample, a file converted from rows without one refused the training
    frame's <NA>); any other column as numpy holds it."""
    import numpy as np

    numpy = getattr(column.dtype, "numpy_dtype", None)
    if not isinstance(column.dtype, np.dtype) and isinstance(numpy, np.dtype) and numpy.kind in "iub":
        return np.dtype(np.float64)
    return np.asarray(column).dtype


def column_type(dtype: Any) -> int:
    """The ONNX element type of a numeric DataFrame column's input (its dtype's; objects, a nullable
    pandas column, as the trees' float32)."""
    import numpy as np
    from onnx import TensorProto

    kind, size = np.dtype(dtype).kind, np.dtype(dtype).itemsize
    if kind == "b":
        return int(TensorProto.BOOL)
    if kind in "iu":
        return int(TensorProto.INT32 if kind == "i" and size <= 4 else TensorProto.INT64)
    return int(TensorProto.DOUBLE if kind == "f" and size == 8 else TensorProto.FLOAT)


def feed_from_columns(raw: RawConversion, input_name: str, columns: Sequence[tuple[str, Any]],
                      library: str = "xgboost", categories: Mapping[str, Sequence[Any]] | None = None,
                      coded: Collection[str] = ()) -> None:
    """One ``[N,1]`` input per DataFrame column (named as skl2onnx names a column's input, typed by its
    dtype), Cast to float32 and concatenated into the ``[N,k]`` input the trees read; the user's own
    names are recorded by ``convert`` (:class:`onnxgate.columns.ColumnMap`), so data is fed by name.

    A ``categories`` column is typed by its categories (:func:`category_kind`) and read through a
    ``LabelEncoder`` from each training category to its code (a float), NaN for any other value. Each
    records the value a missing one is fed as, one that is none of its categories (text: ``""`` unless it is
    one; integers: :func:`integer_outside`; :attr:`onnxgate.signature.TensorSpec.missing`): LightGBM scores
    a missing category as it scores an unknown one (both are no code), and the file's text and int64 inputs
    cannot hold None or NaN (a category column with gaps, the training frame itself, was refused).

    A ``coded`` category column (for a target that takes no input of its categories' type: text on SQL Edge)
    is instead an int32 input of its codes, as an XGBoost one (pandas' ``.cat.codes``, -1 for a missing value,
    read as LightGBM reads any code that is none of its categories), with its categories recorded
    (:attr:`onnxgate.signature.TensorSpec.codes`): a category column fed to it is mapped to the codes by value,
    an unseen value to the missing one's (:attr:`~onnxgate.signature.TensorSpec.unseen_missing`)."""
    import json

    from onnx import TensorProto, helper

    from onnxgate._graph import columns_into_input, graph_names, read_instead, unique_name
    from onnxgate.converters._sklearn_graph import set_metadata
    from onnxgate.signature import (
        CATEGORY_CODES_METADATA_KEY,
        INTEGER_CATEGORIES_METADATA_KEY,
        MISSING_TEXT_METADATA_KEY,
        UNSEEN_MISSING_METADATA_KEY,
        text_outside,
    )

    categories = categories or {}
    graph = raw.model.graph
    trees = next(vi for vi in graph.input if vi.name == input_name).type.tensor_type.elem_type
    typed = []
    for (label, dtype), given in zip(columns, sanitise_names([label for label, _ in columns])):
        # a category column joins the Concat as its codes, already of the trees' type
        code = (int(TensorProto.INT32) if label in coded else trees) if label in categories else column_type(dtype)
        typed.append((given, code))
    names = columns_into_input(raw.model, input_name, typed)
    taken = graph_names(graph)
    encoders = []
    missing: dict[str, str] = {}
    integers: dict[str, list[int]] = {}
    codes_of: dict[str, list[list[Any]]] = {}
    for (label, _dtype), name in zip(columns, names):
        if label not in categories:
            continue
        if label in coded:
            codes_of[name] = [[0, list(categories[label])]]
            continue
        values = list(categories[label])
        kind = category_kind(values)
        missing[name] = text_outside(values) if kind == "string" else str(integer_outside(values))
        if kind != "string":
            integers[name] = [int(v) for v in values]
        codes = unique_name(f"{name}_codes", taken)
        read_instead(graph, name, codes)
        keys: dict[str, Any] = ({"keys_strings": [str(v) for v in values]} if kind == "string"
                                else {"keys_int64s": [int(v) for v in values]})
        encoders.append(helper.make_node(
            "LabelEncoder", [name], [codes], domain="ai.onnx.ml", name=unique_name(f"codes_{name}", taken),
            values_floats=[float(i) for i in range(len(values))], default_float=float("nan"), **keys,
        ))
        declared = next(vi for vi in graph.input if vi.name == name).type.tensor_type
        declared.elem_type = TensorProto.STRING if kind == "string" else TensorProto.INT64
    for node in reversed(encoders):
        graph.node.insert(0, node)
    if missing:
        set_metadata(raw.model, MISSING_TEXT_METADATA_KEY, json.dumps(missing, ensure_ascii=False))
    if integers:  # a plain column holding a number none of them is refused, not scored as missing (helper-233)
        set_metadata(raw.model, INTEGER_CATEGORIES_METADATA_KEY, json.dumps(integers))
    if codes_of:
        set_metadata(raw.model, CATEGORY_CODES_METADATA_KEY, json.dumps(codes_of, ensure_ascii=False))
        set_metadata(raw.model, UNSEEN_MISSING_METADATA_KEY, json.dumps(dict.fromkeys(codes_of, True)))
    doubles = [label for (label, _), (_, code) in zip(columns, typed) if code == TensorProto.DOUBLE]
    if doubles:
        raw.warnings.append(
            f"column(s) {doubles} are fed as float64 and cast to float32 inside the graph, where the trees "
            f"split ({FLOAT32_NOTE[library]})"
        )


def input_type(array: np.ndarray) -> tuple[Any, int | None]:
    """The tensor type the model is converted with (float32), and the element type fed from outside
    when the sample's differs (float64 stays float64 at the boundary, cast inside the graph)."""
    import numpy as np
    from onnx import helper

    if array.dtype == np.float64:
        return np.float32, int(helper.np_dtype_to_tensor_dtype(array.dtype))
    return np.float32, None  # float32, or integers a caller feeds as float32


def add_default_domain(proto: onnx.ModelProto, opset: int) -> None:
    """A graph of ai.onnx.ml operators only lists no default domain; stamp the requested opset (any
    opset is exact when no default-domain node is in the graph), so runtimes and later rewrites
    (SQL adaptation adds Concat/Gather) see one."""
    from onnxgate._onnx import canonical_domain

    if any(canonical_domain(e.domain) == "" for e in proto.opset_import):
        return
    entry = proto.opset_import.add()
    entry.domain = ""
    entry.version = opset


def dynamic_batch(proto: onnx.ModelProto) -> None:
    """Every output holds one row per input row: declare its first axis ``N`` (onnxmltools declares
    LightGBM's ``label`` ``[1]``, which runtimes warn about and the batch-axis check rightly fails)."""
    for out in proto.graph.output:
        tensor = out.type.tensor_type
        if tensor.HasField("shape") and len(tensor.shape.dim) >= 1:
            first = tensor.shape.dim[0]
            first.Clear()
            first.dim_param = "N"


def _float_rows_of(value_info: Any, width: int | None) -> None:
    """``value_info`` declared as ``helper.make_tensor_value_info(its name, FLOAT, ["N", width])`` declares it (the
    same bytes), in place."""
    from onnx import TensorProto

    name = value_info.name
    value_info.Clear()
    value_info.name = name
    tensor = value_info.type.tensor_type
    tensor.elem_type = TensorProto.FLOAT
    tensor.shape.dim.add().dim_param = "N"
    second = tensor.shape.dim.add()
    if width is not None:
        second.dim_value = width


def drop_zipmap(proto: onnx.ModelProto, output: str = "probabilities") -> bool:
    """Replace a final ZipMap by the probability tensor it reads; the graph output keeps its name."""
    graph = proto.graph
    for i, node in enumerate(graph.node):
        if node.op_type != "ZipMap":
            continue
        source = node.input[0]
        produced = node.output[0]
        del graph.node[i]
        width: int | None = None
        for other in graph.node:
            if source in other.output:
                for attr in other.attribute:
                    if attr.name in ("classlabels_int64s", "classlabels_strings"):
                        width = len(attr.ints) or len(attr.strings)
                other.output[:] = [produced if name == source else name for name in other.output]
            if source in other.input:
                other.input[:] = [produced if name == source else name for name in other.input]
        for out in graph.output:
            if out.name == produced:
                # rewritten in place as make_tensor_value_info(produced, FLOAT, ["N", width]) writes it: removing
                # the output and inserting a new one compared it with every output (a fifth of the work here)
                _float_rows_of(out, width)
                break
        return True
    return False


# --- scikit-learn pipelines ------------------------------------------------------------------------

_REGISTERED: set[str] = set()


def uses_boosting(model: Any, estimators: Sequence[Any]) -> bool:
    """True when one of ``estimators`` comes from XGBoost, LightGBM or CatBoost."""
    return any(type(e).__module__.split(".")[0] in _EXTRAS for e in estimators)


def register_with_skl2onnx(estimators: Sequence[Any] = ()) -> list[str]:
    """Register the boosting libraries' scikit-learn API classes with skl2onnx (idempotent).

    Only libraries that ``estimators`` use are imported (all installed ones when empty). Returns the
    libraries registered by this call.

    Examples
    --------
    >>> from onnxgate.converters._boosting import register_with_skl2onnx
    >>> register_with_skl2onnx()  # doctest: +SKIP
    ['catboost', 'lightgbm', 'xgboost']
    """
    wanted = {type(e).__module__.split(".")[0] for e in estimators} & set(_EXTRAS) or set(_EXTRAS)
    done = []
    for lib in sorted(wanted - _REGISTERED):
        try:
            import_library(lib, "Converting a scikit-learn pipeline")
        except Exception:
            if estimators:
                raise
            continue
        {"xgboost": _register_xgboost, "lightgbm": _register_lightgbm, "catboost": _register_catboost}[lib]()
        _REGISTERED.add(lib)
        done.append(lib)
    return done


_CLASSIFIER_OPTIONS = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
#: Whether the scikit-learn sample being converted has float64 columns (set by the scikit-learn converter
#: around skl2onnx's run): a LightGBM step's thresholds follow the rows' type, not the graph's compute type.
SAMPLE_FLOAT64: ContextVar[bool | None] = ContextVar("onnxgate_sample_float64", default=None)


def _register_xgboost() -> None:
    import xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    import_onnxmltools("xgboost")
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost as onnxmltools_xgboost

    from onnxgate.converters.xgboost import walk_category_chains_once

    walk_category_chains_once()

    def convert_xgboost(scope: Any, operator: Any, container: Any) -> None:
        # a model fitted on a DataFrame converts as the same trees without the names (without_names)
        model = operator.raw_operator
        from onnxgate.converters.xgboost import (
            XGBoostConverter,
            _learner,
            classes_of_parallel_trees,
            missing_value,
            parallel_trees,
            softmax_probabilities,
            two_classes_as_one_margin,
        )

        XGBoostConverter().check_model(model)  # a dart or gblinear booster, an unverified objective: by name
        booster = model.get_booster()
        learner = _learner(model)
        parallel = parallel_trees(learner)
        best = getattr(model, "best_iteration", None)
        added = len(container.nodes)
        missing = missing_value(model)
        if booster.feature_names is None and not (parallel > 1 and best is not None) and missing is None:
            onnxmltools_xgboost(scope, operator, container)
        else:
            import copy

            # as XGBoostConverter.convert: the rounds up to best_iteration, which onnxmltools counts as
            # trees (wrong with num_parallel_tree); a sliced booster has no best_iteration left to apply.
            # onnxmltools refuses a missing other than NaN: it is mapped to NaN below
            nameless = copy.copy(model)
            nameless.missing = float("nan")
            if booster.feature_names is not None or (parallel > 1 and best is not None):
                nameless._Booster = without_names(booster[: best + 1] if best is not None else booster.copy())
            operator.raw_operator = nameless
            try:
                onnxmltools_xgboost(scope, operator, container)
            finally:
                operator.raw_operator = model
        if parallel > 1 and int(learner["learner_model_param"].get("num_class", 0)) > 1:
            classes_of_parallel_trees(container.nodes[added:], booster)
        if str(learner["objective"]["name"]) == "multi:softmax":
            softmax_probabilities(container.nodes[added:])
        two_classes_as_one_margin(container.nodes[added:])
        if missing is not None:
            _read_value_as_missing_in_pipeline(scope, operator, container, container.nodes[added:], missing)

    for klass in (xgboost.XGBClassifier, xgboost.XGBRFClassifier):
        update_registered_converter(
            klass,
            f"XGBoost{klass.__name__}",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=_CLASSIFIER_OPTIONS,
        )
    for klass in (xgboost.XGBRegressor, xgboost.XGBRFRegressor):
        update_registered_converter(
            klass, f"XGBoost{klass.__name__}", calculate_linear_regressor_output_shapes, convert_xgboost
        )


def _read_value_as_missing_in_pipeline(scope: Any, operator: Any, container: Any, added: Sequence[Any],
                                       value: float) -> None:
    """XGBoost's ``missing=value`` inside a scikit-learn pipeline: the tree ensembles onnxmltools just added
    (``added``) read a feature equal to ``value`` as NaN (:func:`missing_value_nodes`)."""
    from onnx import helper, numpy_helper

    from onnxgate._onnx import canonical_domain

    trees = [n for n in added if canonical_domain(n.domain) == "ai.onnx.ml" and n.op_type.startswith("TreeEnsemble")]
    features = trees[0].input[0] if trees else ""
    if not trees or any(t.input[0] != features for t in trees):
        raise UnsupportedModelError(
            f"XGBoost missing={value!r}: onnxgate maps it to NaN in front of one tree ensemble's features, and "
            "onnxmltools wrote none or several. Train with missing=numpy.nan, writing missing values as NaN",
            framework="xgboost")
    from skl2onnx.common.data_types import DoubleTensorType

    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    initializers, nodes, read = missing_value_nodes(features, value, scope.get_unique_variable_name, double)
    for init in initializers:
        array = numpy_helper.to_array(init)
        container.add_initializer(init.name, init.data_type, list(array.shape), array.reshape(-1).tolist())
    for node in nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(node.op_type, list(node.input), list(node.output), name=node.name, **attrs)
    for tree in trees:
        tree.input[0] = read


def _register_lightgbm() -> None:
    import lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    import_onnxmltools("lightgbm")
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm as onnxmltools_lightgbm

    from onnxgate.converters.lightgbm import (
        as_boosted,
        average_trees,
        exact_float32_thresholds,
        is_random_forest,
        objective_of,
        one_vs_all_probabilities,
        refuse_float32_categories,
    )

    def convert_lightgbm(scope: Any, operator: Any, container: Any) -> None:
        # onnxmltools' converter, with LightGBM's double thresholds made exact in float32
        from onnxgate.converters.lightgbm import LightGBMConverter

        LightGBMConverter().check_model(operator.raw_operator)  # what it cannot convert faithfully, by name
        from skl2onnx.common.data_types import DoubleTensorType

        # features computed from float64 rows reach the trees rounded to float32: the nearest thresholds suit
        # them; float32 rows keep their values through an imputer, exact against the thresholds rounded down
        # (a double graph of float32 rows, judged by its type, flipped a row; helper-75)
        width = operator.raw_operator.n_features_in_
        rows64 = SAMPLE_FLOAT64.get()
        if rows64 is None:
            rows64 = isinstance(operator.inputs[0].type, DoubleTensorType)
        doubles = frozenset(range(width)) if rows64 else frozenset()
        added = len(container.nodes)
        model = operator.raw_operator
        forest = is_random_forest(model)
        if forest:
            operator.raw_operator = as_boosted(model)  # summed by onnxmltools, averaged below
        try:
            with exact_float32_thresholds(doubles) as notes:
                onnxmltools_lightgbm(scope, operator, container)
        finally:
            operator.raw_operator = model
        refuse_float32_categories(notes)
        if objective_of(model) == "multiclassova":
            one_vs_all_probabilities(container.nodes[added:])
        if forest:
            average_trees(container.nodes[added:], model.booster_.num_model_per_iteration())

    update_registered_converter(
        lightgbm.LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        lightgbm.LGBMRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
        options={"split": None},
    )
    update_registered_converter(  # a ranker's score is a regression's value (onnxmltools' LgbmRanker)
        lightgbm.LGBMRanker,
        "LightGbmLGBMRanker",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
        options={"split": None},
    )


def _register_catboost() -> None:
    import catboost
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx._supported_operators import sklearn_classifier_list
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    def parse_classifier(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
        # CatBoostClassifier is no ClassifierMixin: skl2onnx would neither give it two outputs nor
        # see that onnxgate asked for no ZipMap; the classifier parser, with no ZipMap by default.
        if scope.options is None or (id(model) not in scope.options and type(model) not in scope.options):
            scope.add_options(id(model), {"zipmap": False})
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)

    def classifier_shapes(operator: Any) -> None:
        # a multi-label classifier answers [N,k] int64 labels (0/1, whatever its class_names): skl2onnx's
        # calculator declares [N] labels of the classes' type
        from skl2onnx.common.data_types import Int64TensorType

        from onnxgate.converters.catboost import MULTI_LABEL_LOSSES, loss_of

        calculate_linear_classifier_output_shapes(operator)
        if loss_of(operator.raw_operator) in MULTI_LABEL_LOSSES:
            operator.outputs[0].type = Int64TensorType(list(operator.outputs[1].type.shape))

    if catboost.CatBoostClassifier not in sklearn_classifier_list:
        sklearn_classifier_list.append(catboost.CatBoostClassifier)
    update_registered_converter(
        catboost.CatBoostClassifier,
        "CatBoostCatBoostClassifier",
        classifier_shapes,
        _convert_catboost_in_skl2onnx,
        options=_CLASSIFIER_OPTIONS,
        parser=parse_classifier,
    )
    def regressor_shapes(operator: Any) -> None:
        # a multi-target (or RMSEWithUncertainty) regressor answers [N,k]: skl2onnx's calculator declares [N,1]
        calculate_linear_regressor_output_shapes(operator)
        _, bias = operator.raw_operator.get_scale_and_bias()
        if isinstance(bias, (list, tuple)) and len(bias) > 1:
            operator.outputs[0].type.shape = [operator.outputs[0].type.shape[0], len(bias)]

    update_registered_converter(
        catboost.CatBoostRegressor,
        "CatBoostCatBoostRegressor",
        regressor_shapes,
        _convert_catboost_in_skl2onnx,
    )


def catboost_onnx(model: Any) -> onnx.ModelProto:
    """CatBoost's own ONNX export of ``model`` (raises UnsupportedModelError with CatBoost's reason)."""
    try:
        from catboost.utils import convert_to_onnx_object
    except ImportError as err:
        raise missing_dependency("catboost", "catboost", "Converting a CatBoost model") from err
    try:
        return convert_to_onnx_object(model)
    except Exception as err:
        reason = first_line(err)
        hint = (" CatBoost exports models without categorical or text features only: onnxgate converts categorical "
                "ones itself from a DataFrame sample of the training columns (convert(model, X_train)); encode text "
                "features as numbers before training."
                if any(word in reason.lower() for word in ("categ", "text", "feature")) else "")
        raise UnsupportedModelError(f"CatBoost's ONNX export refused {type(model).__name__}: {reason}.{hint}",
                                    framework="catboost") from None


def _convert_catboost_in_skl2onnx(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter for CatBoost models: CatBoost's own export is one TreeEnsemble node (plus a
    ZipMap for classifiers, which skl2onnx adds back only when asked); that node is copied into
    skl2onnx's graph, reading the pipeline's float32 features."""
    from onnx.helper import get_attribute_value

    from onnxgate.converters.catboost import MULTI_LABEL_LOSSES, CatBoostConverter, loss_of

    CatBoostConverter().check_model(operator.raw_operator)  # losses its export does not reproduce, by name
    onx = catboost_onnx(operator.raw_operator)
    nodes = [n for n in onx.graph.node if n.op_type != "ZipMap"]
    if len(nodes) != 1 or not nodes[0].op_type.startswith("TreeEnsemble") or len(onx.graph.initializer):
        found = [n.op_type for n in onx.graph.node]
        raise UnsupportedModelError(
            f"CatBoost's ONNX export of {type(operator.raw_operator).__name__} holds {found}; onnxgate embeds "
            "it in a scikit-learn pipeline only when it is a single TreeEnsemble node. Convert the CatBoost "
            "model on its own (onnxgate.convert(catboost_model, X)) instead.",
            framework="catboost",
        )
    node = nodes[0]
    attrs = {a.name: get_attribute_value(a) for a in node.attribute}
    outputs = [o.full_name for o in operator.outputs]
    wanted = outputs[:1] if node.op_type == "TreeEnsembleRegressor" else outputs[:2]
    loss = loss_of(operator.raw_operator)
    if node.op_type == "TreeEnsembleClassifier" and (len(wanted) == 1 or loss in MULTI_LABEL_LOSSES):
        _catboost_targets(scope, container, operator, attrs, wanted, loss)  # multi-target, -label, uncertainty
        return
    if loss in ("Poisson", "Tweedie") or (loss == "MultiClassOneVsAll" and node.op_type == "TreeEnsembleClassifier"):
        _catboost_link(scope, container, operator, node.op_type, attrs, wanted, loss)
        return
    # a binary classifier's label is rewritten when the node's is not what predict answers
    relabel = node.op_type == "TreeEnsembleClassifier" and len(
        attrs.get("classlabels_int64s") or attrs.get("classlabels_strings") or []) == 2
    threshold, ints = None, [int(v) for v in attrs.get("classlabels_int64s") or []]
    if relabel:
        from onnxgate.converters.catboost import probability_threshold

        threshold = probability_threshold(operator.raw_operator)
        relabel = (threshold is not None and threshold != 0.5) or ints not in ([], [0, 1])
    label = wanted[0]
    if relabel:
        wanted = [scope.get_unique_variable_name("catboost_label"), wanted[1]]
    # TreeEnsemble* are version 1 up to ai.onnx.ml 3; CatBoost writes their version-1 attributes.
    container.add_node(
        node.op_type,
        [operator.inputs[0].full_name],
        wanted,
        op_domain="ai.onnx.ml",
        op_version=1,
        name=scope.get_unique_operator_name("CatBoost"),
        **attrs,
    )
    if relabel:
        _catboost_binary_label(scope, container, attrs, wanted, label, threshold, ints)


def _catboost_link(scope: Any, container: Any, operator: Any, op_type: str, attrs: Mapping[str, Any],
                   wanted: Sequence[str], loss: str) -> None:
    """A CatBoost model whose ``predict`` is not what its export's node writes, inside a pipeline (as
    ``onnxgate.converters.catboost`` rewrites it alone): Poisson and Tweedie predict ``exp(raw)`` (an Exp after the
    node's raw value); MultiClassOneVsAll the sigmoid of each class's raw value and the class of the largest
    (the node then writes the raw values: no softmax), by the nodes the conversion alone writes
    (:func:`~onnxgate.converters.catboost.one_vs_all_nodes`)."""

    def name(base: str) -> str:
        return str(scope.get_unique_variable_name(base))

    def op(base: str) -> str:
        return str(scope.get_unique_operator_name(base))

    if op_type == "TreeEnsembleRegressor":
        raw = name("catboost_raw")
        container.add_node(op_type, [operator.inputs[0].full_name], [raw], op_domain="ai.onnx.ml", op_version=1,
                           name=op("CatBoost"), **attrs)
        container.add_node("Exp", [raw], [wanted[0]], name=op("Exp"))
        return
    from onnxgate.converters.catboost import one_vs_all_nodes

    raw, node_label = name("catboost_raw"), name("catboost_node_label")
    container.add_node(op_type, [operator.inputs[0].full_name], [node_label, raw], op_domain="ai.onnx.ml",
                       op_version=1, name=op("CatBoost"), **{**attrs, "post_transform": "NONE"})
    classes = [int(v) for v in attrs.get("classlabels_int64s") or []] or list(attrs["classlabels_strings"])
    _add_to_container(container, *one_vs_all_nodes(raw, wanted[0], wanted[1], classes, name))


def _catboost_targets(scope: Any, container: Any, operator: Any, attrs: Mapping[str, Any], wanted: Sequence[str],
                      loss: str) -> None:
    """A multi-target, RMSEWithUncertainty or multi-label CatBoost model inside a pipeline (as
    ``onnxgate.converters.catboost`` rewrites it alone): its export's TreeEnsembleClassifier as a
    TreeEnsembleRegressor of one target per class, writing ``[N,k]`` raw values to ``wanted[0]``; for
    RMSEWithUncertainty they become ``[mean, exp(2 * raw)]``, for a multi-label loss the labels ``wanted[0]`` and
    probabilities ``wanted[1]``, as predict and predict_proba answer."""
    from onnxgate.converters.catboost import (
        MULTI_LABEL_LOSSES,
        multi_label_nodes,
        probability_threshold,
        regressor_attributes,
        uncertainty_nodes,
    )

    trees = regressor_attributes(attrs)
    if loss != "RMSEWithUncertainty" and loss not in MULTI_LABEL_LOSSES:
        container.add_node("TreeEnsembleRegressor", [operator.inputs[0].full_name], [wanted[0]],
                           op_domain="ai.onnx.ml", op_version=1, name=scope.get_unique_operator_name("CatBoost"),
                           **trees)
        return
    raw = scope.get_unique_variable_name("catboost_raw")
    container.add_node("TreeEnsembleRegressor", [operator.inputs[0].full_name], [raw], op_domain="ai.onnx.ml",
                       op_version=1, name=scope.get_unique_operator_name("CatBoost"), **trees)
    name = scope.get_unique_variable_name
    if loss in MULTI_LABEL_LOSSES:
        threshold = probability_threshold(operator.raw_operator)
        _add_to_container(container, *multi_label_nodes(raw, wanted[0], wanted[1], threshold, name))
    else:
        _add_to_container(container, *uncertainty_nodes(raw, wanted[0], name))


def _add_to_container(container: Any, nodes: Sequence[Any], inits: Sequence[Any]) -> None:
    """Add ``nodes`` and ``inits`` (ONNX protos of the default domain, built by a node builder that the converter
    of a CatBoost model alone shares) to skl2onnx's ``container``."""
    from onnx import numpy_helper
    from onnx.helper import get_attribute_value

    for init in inits:
        container.add_initializer(init.name, init.data_type, list(init.dims),
                                  numpy_helper.to_array(init).reshape(-1).tolist())
    for node in nodes:
        container.add_node(node.op_type, list(node.input), list(node.output), name=node.name,
                           **{a.name: get_attribute_value(a) for a in node.attribute})


def _catboost_binary_label(scope: Any, container: Any, attrs: Mapping[str, Any], wanted: Sequence[str],
                           label: str, threshold: float | None, ints: Sequence[int]) -> None:
    """A binary CatBoost classifier's label inside a pipeline, as its ``predict`` answers: the node's int64
    label is the class's index whatever the classes ``ints`` (fitted on 7/42 the pipeline answered 0/1 on every
    row), and a probability ``threshold`` (``set_probability_threshold``) moves the class (the node labels by
    0.5)."""
    from onnx import TensorProto

    if threshold is None or threshold == 0.5:
        index = wanted[0]
    else:
        column, border, p1, above = (scope.get_unique_variable_name(n) for n in ("column", "border", "p1", "above"))
        index = scope.get_unique_variable_name("catboost_index")
        container.add_initializer(column, TensorProto.INT64, [], [1])
        # at 0 every row is above (a float32 probability can round to 0); nothing is above 1
        container.add_initializer(border, TensorProto.FLOAT, [], [-1.0 if threshold <= 0.0 else threshold])
        container.add_node("Gather", [wanted[1], column], p1, axis=1, name=scope.get_unique_operator_name("Gather"))
        container.add_node("Greater", [p1, border], above, name=scope.get_unique_operator_name("Greater"))
        container.add_node("Cast", [above], index, to=TensorProto.INT64, name=scope.get_unique_operator_name("Cast"))
    classes = scope.get_unique_variable_name("catboost_classes")
    if ints:
        container.add_initializer(classes, TensorProto.INT64, [len(ints)], ints)
    else:
        texts = [t if isinstance(t, bytes) else str(t).encode("utf-8") for t in attrs["classlabels_strings"]]
        container.add_initializer(classes, TensorProto.STRING, [len(texts)], texts)
    container.add_node("Gather", [classes, index], [label], axis=0, name=scope.get_unique_operator_name("Gather"))


def truncate_category_codes(proto: Any, indices: list[int], n_features: int, opset: int,
                            library: str = "LightGBM", negative_kept: bool = False,
                            minus_one_missing: bool = False) -> None:
    """Read the categorical features' values as LightGBM (and XGBoost) does, in front of the trees.

    LightGBM takes a categorical feature's value as ``static_cast<int>`` (2.5 and 2.9 are category 2,
    -0.5 is category 0; NaN and negative codes are no category), where onnxmltools' splits compare the
    value itself with each category: 2.5 matched none, and the row took another branch (probabilities
    0.14 against LightGBM's 0.07). Each categorical column is truncated toward zero (Cast to int64 and
    back), NaN kept, before every tree ensemble reads the features. XGBoost reads a categorical feature
    the same way (``AsCat``: a cast to int32): a native Booster with ``feature_types`` "c" scored codes 2.5
    and 1.9 otherwise on 712 of 712 rows (helper-80); but any value below 0 is no category there, -0.5
    included (``negative_kept``: such values are left as they are, which no category equals).

    ``minus_one_missing``: a value of exactly -1 is missing (NaN) to the trees. It is pandas' code for a
    missing value (``.cat.codes``), which XGBoost reads as missing from a DataFrame of category columns;
    left as -1 it is no category, and onnxmltools' chain of ``BRANCH_EQ`` nodes sends it where no category
    goes, not where XGBoost sends a missing value (98 of 500 labels differed; helper-145).
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from onnxgate._graph import graph_names, unique_name
    from onnxgate._onnx import canonical_domain

    graph = proto.graph
    trees = [n for n in graph.node
             if canonical_domain(n.domain) == "ai.onnx.ml" and n.op_type.startswith("TreeEnsemble")]
    if not trees or not indices:
        return
    taken = graph_names(graph)
    features = trees[0].input[0]
    if any(t.input[0] != features for t in trees):
        return  # not the one feature matrix onnxmltools writes: leave the graph as it is
    mask = np.zeros(n_features, dtype=bool)
    mask[[i for i in indices if 0 <= i < n_features]] = True
    names = {k: unique_name(f"{features}_{k}", taken)
             for k in ("isnan", "int", "back", "trunc", "mask", "codes", "zero", "below", "keep", "minus_one",
                       "under", "over", "not_under", "not_over", "is_minus_one", "nan", "missing", "read")}
    graph.initializer.append(numpy_helper.from_array(mask, names["mask"]))
    keep = "isnan"
    nodes = [helper.make_node("IsNaN", [features], [names["isnan"]])]
    if negative_kept:
        graph.initializer.append(numpy_helper.from_array(np.zeros((), dtype=np.float32), names["zero"]))
        nodes += [helper.make_node("Less", [features, names["zero"]], [names["below"]]),
                  helper.make_node("Or", [names["isnan"], names["below"]], [names["keep"]])]
        keep = "keep"
    nodes += [
        helper.make_node("Cast", [features], [names["int"]], to=TensorProto.INT64),
        helper.make_node("Cast", [names["int"]], [names["back"]], to=TensorProto.FLOAT),
        helper.make_node("Where", [names[keep], features, names["back"]], [names["trunc"]]),
        helper.make_node("Where", [names["mask"], names["trunc"], features], [names["codes"]]),
    ]
    read = names["codes"]
    if minus_one_missing:
        # x == -1 without Equal (float from opset 11 only): neither below nor above -1 (NaN too, kept NaN)
        graph.initializer.extend([numpy_helper.from_array(np.asarray(-1.0, dtype=np.float32), names["minus_one"]),
                                  numpy_helper.from_array(np.asarray(np.nan, dtype=np.float32), names["nan"])])
        nodes += [
            helper.make_node("Less", [features, names["minus_one"]], [names["under"]]),
            helper.make_node("Greater", [features, names["minus_one"]], [names["over"]]),
            helper.make_node("Not", [names["under"]], [names["not_under"]]),
            helper.make_node("Not", [names["over"]], [names["not_over"]]),
            helper.make_node("And", [names["not_under"], names["not_over"]], [names["is_minus_one"]]),
            helper.make_node("And", [names["is_minus_one"], names["mask"]], [names["missing"]]),
            helper.make_node("Where", [names["missing"], names["nan"], names["codes"]], [names["read"]]),
        ]
        read = names["read"]
    for tree in trees:
        tree.input[0] = read
    at = min(list(graph.node).index(t) for t in trees)
    for k, node in enumerate(nodes):
        node.name = unique_name(f"{library.lower()}_category_{node.op_type.lower()}", taken)
        graph.node.insert(at + k, node)
    at_least_opset_9(proto, library)


def missing_value_nodes(features: str, value: float, name: Callable[[str], str],
                        double: bool = False) -> tuple[list[Any], list[Any], str]:
    """Nodes that read every feature equal to ``value`` (compared in float32) as NaN, the tree ensembles'
    missing value: XGBoost's ``missing=v`` sends a feature equal to v (cast to float32, as XGBoost casts the
    rows and ``missing``) down each split's missing branch, and a NaN too. ``name(base)``: a unique name;
    ``double``: ``features`` are float64 (compared after a Cast to float32, passed on as they are).
    Returns the initializers, the nodes and the name of what the trees should read; x == v without Equal
    (float from opset 11 only): neither below nor above v (NaN too, which stays NaN)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    names = {k: name(f"{features}_{k}") for k in ("missing_value", "nan", "float", "under", "over", "kept", "read")}
    initializers = [numpy_helper.from_array(np.asarray(value, dtype=np.float32), names["missing_value"]),
                    numpy_helper.from_array(np.asarray(np.nan, dtype=np.float64 if double else np.float32),
                                            names["nan"])]
    compared = features
    nodes = []
    if double:
        compared = names["float"]
        nodes.append(helper.make_node("Cast", [features], [compared], to=TensorProto.FLOAT, name=name("missing_cast")))
    nodes += [
        helper.make_node("Less", [compared, names["missing_value"]], [names["under"]], name=name("missing_less")),
        helper.make_node("Greater", [compared, names["missing_value"]], [names["over"]], name=name("missing_greater")),
        helper.make_node("Or", [names["under"], names["over"]], [names["kept"]], name=name("missing_or")),
        helper.make_node("Where", [names["kept"], features, names["nan"]], [names["read"]], name=name("missing_where")),
    ]
    return initializers, nodes, names["read"]


def read_value_as_missing(proto: Any, value: float, library: str = "XGBoost") -> None:
    """Make every tree ensemble of ``proto`` read a feature equal to ``value`` as missing (NaN), as the
    library's ``missing=value`` does (:func:`missing_value_nodes`)."""
    from onnxgate._graph import graph_names, unique_name
    from onnxgate._onnx import canonical_domain

    graph = proto.graph
    trees = [n for n in graph.node
             if canonical_domain(n.domain) == "ai.onnx.ml" and n.op_type.startswith("TreeEnsemble")]
    features = trees[0].input[0] if trees else ""
    if not trees or any(t.input[0] != features for t in trees):
        raise UnsupportedModelError(
            f"{library} missing={value!r}: onnxgate maps it to NaN in front of one tree ensemble's features, and "
            "this graph has none or several inputs. Train with missing=numpy.nan, writing missing values as NaN",
            framework=library.lower())
    taken = graph_names(graph)
    initializers, nodes, read = missing_value_nodes(features, value, lambda base: unique_name(base, taken))
    graph.initializer.extend(initializers)
    for tree in trees:
        tree.input[0] = read
    at = min(list(graph.node).index(t) for t in trees)
    for k, node in enumerate(nodes):
        graph.node.insert(at + k, node)
    at_least_opset_9(proto, library)


def at_least_opset_9(proto: Any, library: str = "LightGBM") -> None:
    """Stamp the default domain at opset 9 (Where, IsNaN) when every node there means the same at 9.

    onnxmltools stamps the lowest opset its nodes need (8 for a regressor's Identity). From 8 to 9 only
    Cast's schema changes among the nodes these graphs hold, and only by taking strings, and Less's and
    Greater's, only by taking integers: on floats they are the same operations, so they do not stop the stamp.
    """
    from onnx import defs

    from onnxgate._onnx import canonical_domain, model_opsets

    have = model_opsets(proto).get("", 0)
    if have >= 9:
        return
    for node in proto.graph.node:
        if canonical_domain(node.domain) != "" or node.op_type in ("Cast", "IsNaN", "Where", "Less", "Or",
                                                                    "Greater", "Not", "And"):
            continue
        if defs.get_schema(node.op_type, have).since_version != defs.get_schema(node.op_type, 9).since_version:
            raise UnsupportedModelError(
                f"a {library} categorical feature needs opset 9 (Where, IsNaN), and node {node.op_type} changes "
                f"meaning between the opset onnxmltools wrote ({have}) and 9", framework=library.lower())
    for entry in proto.opset_import:
        if canonical_domain(entry.domain) == "":
            entry.version = 9


def set_post_transform(nodes: Any, transform: str) -> None:
    """Make each ``TreeEnsembleClassifier`` among ``nodes`` turn its scores into probabilities with ``transform``
    (``SOFTMAX``, ``LOGISTIC``: a sigmoid per class), in place of what onnxmltools wrote."""
    from onnx import helper

    for node in nodes:
        if node.op_type != "TreeEnsembleClassifier":
            continue
        for attr in list(node.attribute):
            if attr.name == "post_transform":
                node.attribute.remove(attr)
        node.attribute.append(helper.make_attribute("post_transform", transform))

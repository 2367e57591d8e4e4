"""scikit-learn models as the converter reads them: the estimators nested in a model, its first and
last steps, and the copies it converts in place of settings skl2onnx cannot write (narrow class labels,
soft voting's flatten_transform, sparse KBinsDiscretizer, HistGradientBoosting's own category encoding).
The user's model is never changed."""

from __future__ import annotations

from typing import Any

from onnxgate.signature import text_outside


def sub_estimators(model: Any) -> list[Any]:
    """The model and every estimator nested in it (pipeline steps, column transformers, ensembles, a
    fitted search's ``best_estimator_``, a TransformedTargetRegressor's ``regressor_``); walked once per
    conversion (:func:`onnxgate.converters._base.remembered`)."""
    from onnxgate.converters._base import remembered

    return list(remembered(model, "sub_estimators", lambda: _walk(model)))


def _walk(model: Any) -> list[Any]:
    found: list[Any] = []
    stack = [model]
    seen: set[int] = set()
    while stack:
        est = stack.pop()
        if id(est) in seen:
            continue
        seen.add(id(est))
        found.append(est)
        if type(est).__module__.startswith("sklearn.tree."):
            continue  # scikit-learn's own trees nest no estimator: get_params (inspect.signature) of a 500-tree
            # forest's trees took 60 ms of each validate
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
        for attr in ("best_estimator_", "regressor_"):
            fitted = getattr(est, attr, None)
            if hasattr(fitted, "fit"):
                stack.append(fitted)
        for attr in ("steps", "transformers_", "estimators_"):
            value = getattr(est, attr, None)
            if isinstance(value, list):
                for item in value:
                    obj = item[1] if isinstance(item, tuple) and len(item) >= 2 else item
                    if hasattr(obj, "fit"):
                        stack.append(obj)
    return found


def float64_attributes(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[Any, Any]]:
    """For a float64 graph: a model fitted on float32 rows as a copy whose float32 fitted arrays are
    float64 (exact), with options keyed by its estimators' ids following them; any other model as it is.

    skl2onnx computes a graph's constants from the fitted arrays in their own type: a KMeans fitted on
    float32 wine summed its centres' squares in float32, and its float64 file was 5.5e-3 off the exact
    distances scikit-learn gives for float64 rows (it widens the centres first). The user's model is
    never changed.
    """
    import copy

    import numpy as np

    def narrow(est: Any) -> list[str]:
        # class labels are answers, not arithmetic: float32 labels stay float32 (predict answers them so)
        return [key for key, value in getattr(est, "__dict__", {}).items()
                if key.endswith("_") and key != "classes_" and isinstance(value, np.ndarray)
                and value.dtype == np.float32]

    if not any(narrow(est) for est in sub_estimators(model)):
        return model, options
    memo: dict[int, Any] = {}
    clone = copy.deepcopy(model, memo)
    for est in sub_estimators(clone):
        for key in narrow(est):
            setattr(est, key, getattr(est, key).astype(np.float64))
    moved = {id(memo[key]) if isinstance(key, int) and key in memo else key: value for key, value in options.items()}
    return clone, moved


def int64_classes(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[Any, Any]]:
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


def hist_category_codes(model: Any, sample: Any) -> Any:
    """A HistGradientBoosting model fitted with categorical features as a pipeline whose first step is its
    own ordinal encoding; a pipeline ending in one with that encoding in front of it
    (:func:`_hist_codes_before_last_step`); any other model as it is.

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

    if not _hist_with_categories(model):
        return _hist_codes_before_last_step(model)
    categorical = model.is_categorical_
    encoder = model._preprocessor.named_transformers_["encoder"]
    names = getattr(model, "feature_names_in_", None)
    if names is not None and hasattr(sample, "columns"):
        picked: list[Any] = [str(n) for n in names]
    else:
        picked = list(range(len(categorical)))
    # a None the encoder learnt (a text column with None, a polars Categorical with nulls) is a category of its
    # own, not missing: it stands as the text fed for it (hist_missing_text)
    categories = [np.asarray([_hist_none_text(c) if v is None else v for v in c], dtype=object)
                  if any(v is None for v in c) else np.asarray(c) for c in encoder.categories_]
    codes = OrdinalEncoder(categories=categories, handle_unknown="use_encoded_value",
                           unknown_value=np.nan, encoded_missing_value=np.nan, dtype=np.float64)
    parts: list[Any] = [("codes", codes, [c for c, cat in zip(picked, categorical) if cat])]
    numeric = [c for c, cat in zip(picked, categorical) if not cat]
    if numeric:
        parts.append(("numbers", "passthrough", numeric))
    if hasattr(sample, "columns"):
        # fitted on the sample only to be fitted (the codes' categories are given): pandas' nullable numbers
        # (Int64, Float64, boolean) as float64, NaN for <NA>, as scikit-learn reads them; passed through as
        # they are, the ColumnTransformer refused <NA> ("uses pandas.NA to represent null values")
        nullable = [c for c in sample.columns if not isinstance(sample[c].dtype, np.dtype)
                    and getattr(getattr(sample[c].dtype, "numpy_dtype", None), "kind", "?") in tuple("iufb")]
        if nullable:
            sample = sample.astype(dict.fromkeys(nullable, "float64"))
    # float32 rows are fitted on as float64: the codes' categories are float64, and two a float32 column cannot
    # tell apart (16777216.0, 16777217.0) were refused as 'the predefined categories contain duplicate elements'
    if hasattr(sample, "columns"):
        narrow = [c for c in sample.columns if getattr(sample[c].dtype, "kind", "?") == "f"
                  and sample[c].dtype.itemsize < 8]
        if narrow:
            sample = sample.astype(dict.fromkeys(narrow, "float64"))
    elif getattr(getattr(sample, "dtype", None), "kind", "?") == "f" and sample.dtype.itemsize < 8:
        sample = np.asarray(sample, dtype=np.float64)
    front = ColumnTransformer(parts, sparse_threshold=0).fit(sample)
    return Pipeline([("onnxgate_category_codes", front), (type(model).__name__.lower(), model)])


def _hist_none_text(categories: Any) -> str:
    """The text a HistGradientBoosting text category column's learnt None category is written and fed as."""
    return text_outside([v for v in categories if isinstance(v, str)], MISSING_CATEGORY_TEXT)


def hist_missing_text(model: Any) -> dict[str, Any]:
    """For a HistGradientBoosting model fitted with text category columns: column -> the text a missing value
    is fed as, one that is none of the column's categories ("" unless it is one). scikit-learn scores a
    missing category as missing; the file reads any unknown text so, and refused a NaN or None outright
    (a pandas category column holding NaN at predict time; found by helper-74).

    A None among the column's categories (fitted on text holding None, or on a polars Categorical or Enum
    column with nulls, which scikit-learn reads as None) is a category of its own to the model, not missing,
    and NaN is then unknown: ``{"text": the text written in None's place, "only": "none"}``. Fed as missing,
    the file scored those rows otherwise than the model, 7 of 300 labels, and validate passed (helper-150)."""
    if not _hist_with_categories(model):
        return {}
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return {}
    encoder = model._preprocessor.named_transformers_["encoder"]
    found: dict[str, Any] = {}
    for name, categories in zip([n for n, c in zip(names, model.is_categorical_) if c], encoder.categories_):
        known = [v for v in categories if isinstance(v, str)]
        if not known:
            continue  # numeric categories: a missing value is a float NaN already
        found[str(name)] = ({"text": _hist_none_text(categories), "only": "none"}
                            if any(v is None for v in categories) else text_outside(known))
    return found


def hist_category_columns(model: Any) -> dict[str, list[Any]]:
    """For a HistGradientBoosting model fitted with categorical columns, read by name (``feature_names_in_``): each
    such column with the categories of its own encoder (``_preprocessor``'s ``categories_``, in code order), as a
    file's record of the codes writes them: a learnt NaN as ``'nan'`` and a learnt None as the text written in its
    place (:func:`hist_missing_text`) in a text column. Empty for any other model."""
    names = getattr(model, "feature_names_in_", None)
    if not _hist_with_categories(model) or names is None:
        return {}
    encoder = model._preprocessor.named_transformers_["encoder"]
    found: dict[str, list[Any]] = {}
    for name, categories in zip([n for n, c in zip(names, model.is_categorical_) if c], encoder.categories_):
        values = list(categories)
        if any(isinstance(v, str) for v in values):
            none = _hist_none_text(values) if any(v is None for v in values) else None
            values = [none if v is None else "nan" if isinstance(v, float) and v != v else v for v in values]
        else:
            values = [v.item() if hasattr(v, "item") else v for v in values]
        found[str(name)] = values
    return found


def column_readers(model: Any) -> list[tuple[Any, list[Any]]]:
    """The estimators that read the model's input columns as they are, each with the columns it reads: the
    model (or its pipeline's first step) itself, or each branch of a first ``ColumnTransformer`` (a branch
    that is a pipeline by its first step)."""
    first = model
    while hasattr(first, "steps") and first.steps:
        first = first.steps[0][1]
    if type(first).__name__ == "ColumnTransformer":
        parts = [(step, picked) for name, step, columns in getattr(first, "transformers_", ())
                 if not isinstance(step, str) and (picked := branch_columns(first, name, columns)) is not None]
    else:
        parts = [(first, list(getattr(first, "feature_names_in_", ())))]
    for k, (step, columns) in enumerate(parts):
        while hasattr(step, "steps") and step.steps:
            step = step.steps[0][1]
        parts[k] = (step, columns)
    return parts


def branch_columns(transformer: Any, name: str, columns: Any) -> list[Any] | None:
    """The columns branch ``name`` of a fitted ColumnTransformer reads, by name where it was fitted on a
    DataFrame, as scikit-learn resolved its selection (``_transformer_to_input_indices``): a boolean mask
    or a slice, of positions or of names (``slice("age", "fare")``), picks the same columns as their list.
    Read as given (positions) for one fitted on an array; None for a selection of neither kind. A mask or
    slice was read as its own values, so a SimpleImputer's fill text was not fed for a missing value and
    the training frame itself was refused, and a slice of names raised a bare TypeError (helper-159)."""
    import numpy as np

    names = getattr(transformer, "feature_names_in_", None)
    indices = getattr(transformer, "_transformer_to_input_indices", None) or {}
    if names is not None and name in indices:
        return [str(names[int(i)]) for i in indices[name]]
    return list(columns) if isinstance(columns, (list, tuple, np.ndarray)) else None


#: The integer a missing value of an encoded object column of booleans is fed as (False 0, True 1).
BOOLEAN_MISSING_CODE = -1

#: The text a missing category is fed as to an encoder that learnt it (NUL characters: no real text).
MISSING_CATEGORY_TEXT = "\x00missing"


def _boolean_categories(values: Any) -> str | None:
    """For an encoder's categories of an object column of booleans (True, False, at most one missing value):
    ``"none"`` or ``"nan"``, the missing value among them, or ``""`` where there is none; else None."""
    import numpy as np

    if getattr(values, "dtype", None) != np.dtype(object):
        return None
    other = [v for v in values if not isinstance(v, (bool, np.bool_))]
    if len(other) == len(values) or len(other) > 1:
        return None
    if not other:
        return ""
    return "none" if other[0] is None else "nan" if isinstance(other[0], float) and other[0] != other[0] else None


#: Estimators of scikit-learn that may read a column as text (or whose reading only their fitted state tells:
#: an encoder's ``categories_``, a SimpleImputer's strategy, HistGradientBoosting's ``is_categorical_``).
_MAY_READ_TEXT = ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder", "FeatureHasher", "DictVectorizer",
                  "CountVectorizer", "TfidfVectorizer", "HashingVectorizer", "LabelEncoder", "LabelBinarizer",
                  "MultiLabelBinarizer", "FunctionTransformer", "MissingIndicator", "SimpleImputer")


def _is_number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Number) and not isinstance(value, bool) and value == value


def number_columns(model: Any) -> dict[str, str]:
    """The columns of the model's input it was fitted on as numbers, by what its fitted state says
    (:func:`column_readers`): column -> why (the step that reads it). A step computing with its columns
    (StandardScaler, a SimpleImputer of the mean or median, an estimator of scikit-learn's own) or an encoder
    whose categories of that column are numbers. A step that may read text (an encoder's text categories,
    an imputer of the most frequent value fitted on text, a FunctionTransformer), one holding other
    estimators, or one of another library (XGBoost and LightGBM read category columns) says nothing: a text
    column that holds digit-like codes must stay text."""
    import numpy as np

    found: dict[str, str] = {}
    for step, columns in column_readers(first_step(model)):
        kind = type(step).__name__
        names = [str(c) for c in columns]
        if not type(step).__module__.startswith("sklearn.") or len(sub_estimators(step)) > 1:
            continue
        categories = getattr(step, "categories_", None)
        if isinstance(categories, list) and len(categories) == len(names):
            for name, values in zip(names, categories):
                learnt = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
                if learnt and all(_is_number(v) for v in learnt):
                    shown = ", ".join(str(v) for v in learnt[:4]) + (", ..." if len(learnt) > 4 else "")
                    found.setdefault(name, f"{kind} learnt its categories as numbers ({shown})")
            continue
        if kind == "SimpleImputer":
            filled = getattr(step, "statistics_", None)
            if step.strategy in ("mean", "median") or getattr(filled, "dtype", np.dtype(object)).kind in "fiu":
                found.update({n: f"SimpleImputer(strategy={step.strategy!r}) reads it as numbers"
                              for n in names if n not in found})
            continue
        if kind in _MAY_READ_TEXT:
            continue
        categorical = getattr(step, "is_categorical_", None)
        for k, name in enumerate(names):
            if categorical is None or not categorical[k]:
                found.setdefault(name, f"{kind} reads it as numbers")
    return found


def boolean_category_columns(model: Any) -> set[str]:
    """The columns of the model's input an encoder reads as an object column of booleans, which the file takes
    as int64 (:func:`encoded_missing_categories`)."""
    found: set[str] = set()
    parts = column_readers(model)
    read = [c for _, columns in parts for c in columns]
    for step, columns in parts:
        categories = getattr(step, "categories_", None)
        kind_of = type(step).__name__
        if kind_of not in ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder") or not isinstance(categories, list) \
                or len(categories) != len(columns):
            continue
        found.update(c for c, values in zip(columns, categories)
                     if isinstance(c, str) and read.count(c) == 1 and _boolean_categories(values) is not None)
    return found


def encoded_missing_categories(model: Any, options: dict[Any, Any]
                               ) -> tuple[Any, dict[Any, Any], dict[str, dict[str, str]]]:
    """For a model whose ``OneHotEncoder``, ``OrdinalEncoder`` or ``TargetEncoder`` reads text columns of its input
    (:func:`column_readers`) and learnt a missing value, None or NaN, as a category of its own: a copy of the
    model whose encoder holds, in that category's place, a text that is none of the column's categories
    (:data:`MISSING_CATEGORY_TEXT`), the options keyed by the copy's estimators, and column -> ``{"text": that
    text, "only": "none" or "nan"}``, the missing value it is fed for (``"integers": "bool"`` added for an object
    column of booleans, fed as int64: False 0, True 1 and the missing value :data:`BOOLEAN_MISSING_CODE`).
    scikit-learn tells None from NaN: the
    other is an unknown category. An ONNX text input holds no missing value, so such a model was refused (a
    text column with gaps, one-hot or ordinal encoded, is how most tabular pipelines start). An
    OrdinalEncoder's NaN category stays in its ``_missing_indices``: it encodes as ``encoded_missing_value``
    (:func:`~onnxgate.converters._skl2onnx_fixes.register_ordinal_encoder`), None as its position, as in
    scikit-learn. The user's model is never changed; anything else is returned as it is."""

    import numpy as np

    parts = column_readers(model)
    read = [c for _, columns in parts for c in columns]
    todo = []
    flags = []
    for step, columns in parts:
        categories = getattr(step, "categories_", None)
        # an OrdinalEncoder's infrequent group: its codes are the encoder's own (_text_ordinal), as a learnt NaN's
        kind_of = type(step).__name__
        if kind_of not in ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder") or not isinstance(categories, list) \
                or len(categories) != len(columns):
            continue
        for i, (column, values) in enumerate(zip(columns, categories)):
            text = {v for v in values if isinstance(v, str)}
            gone = [j for j, v in enumerate(values) if not isinstance(v, str)]
            value = values[gone[0]] if len(gone) == 1 else 0
            kind = "none" if value is None else "nan" if isinstance(value, float) and value != value else None
            if text and kind is not None and isinstance(column, str) and read.count(column) == 1:
                todo.append((step, i, gone[0], column, kind, text))
            flag = _boolean_categories(values) if kind_of != "TargetEncoder" else None
            if flag is not None and isinstance(column, str) and read.count(column) == 1:
                flags.append((step, i, column, flag))
    if not todo and not flags:
        return model, options, {}
    copied, moved, options = _copied_with_options(model, options)
    found: dict[str, dict[str, str]] = {}
    for step, i, column, kind in flags:
        # an object column of True/False (a Parquet or polars boolean with nulls: None among them): fed as
        # int64, False 0 and True 1 as scikit-learn matches them (0 == False), a missing value as -1, written in
        # its category's place; fed as text, every row was refused as "missing or non-text" (helper-164)
        encoder = moved[id(step)]
        codes = np.array([-1 if not isinstance(v, (bool, np.bool_)) else int(v) for v in encoder.categories_[i]],
                         dtype=np.int64)
        encoder.categories_ = [codes if k == i else c for k, c in enumerate(encoder.categories_)]
        encoder._onnxgate_missing_text = True
        found[column] = ({"text": str(BOOLEAN_MISSING_CODE), "only": kind, "integers": "bool"} if kind
                         else {"integers": "bool"})
    for step, i, j, column, kind, text in todo:
        encoder = moved[id(step)]
        sentinel = text_outside(text, MISSING_CATEGORY_TEXT)
        values = np.array(encoder.categories_[i], dtype=object)
        values[j] = sentinel
        encoder.categories_ = [values if k == i else c for k, c in enumerate(encoder.categories_)]
        encoder._onnxgate_missing_text = True  # written by _text_ordinal, an OrdinalEncoder's codes its own
        found[column] = {"text": sentinel, "only": kind}
    return copied, options, found


def unknown_missing_text(model: Any) -> dict[str, str]:
    """For a model whose ``OneHotEncoder``, ``OrdinalEncoder`` or ``TargetEncoder`` reads text columns of its input
    (:func:`column_readers`), learnt no missing value among their categories and reads an unknown category
    without refusing it (``handle_unknown="ignore"`` or ``"infrequent_if_exist"``, ``"use_encoded_value"``; a
    TargetEncoder always): column -> a text that is none of the column's categories, which a missing value is
    fed as. scikit-learn reads None and NaN there as one more unknown category (all zeros or the infrequent
    group, ``unknown_value``, the target mean); the file's text input holds no missing value, so a row with
    one was refused ("fill them first") at validate, score and Spark, while the model scored it (helper-232).
    An encoder that refuses an unknown category (``handle_unknown="error"``) refuses a missing one too."""
    parts = column_readers(model)
    read = [c for _, columns in parts for c in columns]
    # column -> the text categories each lenient encoder reading it learnt (None: a reader that is not one)
    learnt: dict[str, list[Any]] = {}
    for step, columns in parts:
        categories = getattr(step, "categories_", None)
        kind = type(step).__name__
        lenient = (kind == "TargetEncoder"
                   or (kind == "OneHotEncoder" and step.handle_unknown in ("ignore", "infrequent_if_exist"))
                   or (kind == "OrdinalEncoder" and step.handle_unknown == "use_encoded_value"))
        fitted: list[Any] = (categories if lenient and isinstance(categories, list)
                             and len(categories) == len(columns) else [None] * len(columns))
        for column, values in zip(columns, fitted):
            text = values is not None and len(values) and all(isinstance(v, str) for v in values)
            learnt.setdefault(column, []).append(frozenset(values) if text else None)
    found: dict[str, str] = {}
    for column, sets in learnt.items():
        # a column several steps read (a OneHotEncoder and a TargetEncoder of it): each must read a missing value
        # as one more unknown category of the same categories, so that one text fed for it reads so in each
        if isinstance(column, str) and len(sets) == read.count(column) and sets[0] is not None \
                and all(s == sets[0] for s in sets):
            found[column] = text_outside(sorted(sets[0]))
    return found


def imputed_missing_text(model: Any) -> dict[str, str]:
    """For a model whose text columns go first into a SimpleImputer that fills the most frequent text or a
    constant: column -> that text, which a missing value is fed as (the imputer would put it there; the file's
    text input cannot hold NaN or None, and the training frame itself was refused: helper-112). Only for a
    column read by that imputer alone, which adds no missing-value indicator, and whose missing value is NaN
    (only a float NaN is then fed so: None is a category the imputer leaves as it is; helper-115)."""
    parts = column_readers(model)
    read = [str(c) for _, columns in parts for c in columns]
    found: dict[str, str] = {}
    for step, columns in parts:
        missing = getattr(step, "missing_values", 0)
        if (type(step).__name__ != "SimpleImputer" or step.strategy not in ("most_frequent", "constant")
                or step.add_indicator or not (isinstance(missing, float) and missing != missing)):
            continue
        filled = getattr(step, "statistics_", ())
        if len(filled) != len(columns):
            continue
        for column, value in zip(columns, filled):
            if isinstance(column, str) and isinstance(value, str) and read.count(column) == 1:
                found[column] = value
    return found


#: How many groups of colliding categories :func:`float32_category_collisions` names.
COLLISIONS_SHOWN = 3


def float32_category_collisions(model: Any) -> list[str]:
    """Each group of a fitted encoder's number categories that are distinct float64 values and one float32 value
    (``"16777216.0 and 16777217.0 (HistGradientBoostingClassifier, feature 1)"``), the first
    :data:`COLLISIONS_SHOWN`: a float32 file reads the rows and the categories in float32, and scores those
    categories as one (scikit-learn's OrdinalEncoder, OneHotEncoder, TargetEncoder, a HistGradientBoosting
    model's own categories)."""
    import numpy as np

    found: list[str] = []
    for est in sub_estimators(model):
        name = type(est).__name__
        owned: list[tuple[Any, Any]] = []  # (feature, categories)
        if _hist_with_categories(est):
            encoder = getattr(getattr(est, "_preprocessor", None), "named_transformers_", {}).get("encoder")
            columns = np.flatnonzero(est.is_categorical_)
            owned = list(zip(columns.tolist(), getattr(encoder, "categories_", []), strict=False))
        elif isinstance(getattr(est, "categories_", None), list) and hasattr(est, "transform"):
            owned = list(enumerate(est.categories_))
        names = getattr(est, "feature_names_in_", None)
        for feature, categories in owned:
            values = np.asarray(categories)
            if values.dtype.kind not in "fiu":
                continue
            values = np.unique(values[~np.isnan(values)] if values.dtype.kind == "f" else values).astype(np.float64)
            narrowed = values.astype(np.float32)
            for one in np.unique(narrowed[np.flatnonzero(np.diff(narrowed) == 0)]):
                group = values[narrowed == one]
                label = names[feature] if names is not None and feature < len(names) else feature
                shown = " and ".join(repr(float(v)) for v in group[:3]) + (" ..." if len(group) > 3 else "")
                found.append(f"{shown} ({name}, feature {label!r})" if isinstance(label, str)
                             else f"{shown} ({name}, feature {label})")
    return found[:COLLISIONS_SHOWN]


def _hist_with_categories(model: Any) -> bool:
    categorical = getattr(model, "is_categorical_", None)
    return type(model).__name__.startswith("HistGradientBoosting") and categorical is not None and any(categorical)


def _hist_codes_before_last_step(model: Any) -> Any:
    """A pipeline ending (through nested pipelines) in a HistGradientBoosting model with categorical
    features, as a shallow copy with that model's encoding in front of it
    (:class:`~onnxgate.converters._hist_codes.HistCategoryCodes`); anything else as it is. After other
    steps the model reads one matrix, so its encoding is written on that matrix."""
    if not (hasattr(model, "steps") and model.steps):
        return model

    def encoded(last: Any) -> Any:
        if not _hist_with_categories(last):
            return last
        from sklearn.pipeline import Pipeline

        from onnxgate.converters._hist_codes import HistCategoryCodes

        encoder = last._preprocessor.named_transformers_["encoder"]
        codes = HistCategoryCodes(last.is_categorical_, list(encoder.categories_))
        return Pipeline([("onnxgate_category_codes", codes), (type(last).__name__.lower(), last)])

    return with_last_step(model, encoded)


def with_last_step(model: Any, change: Any) -> Any:
    """``model`` with ``change`` applied to the estimator at the end of its pipeline (through nested
    pipelines; the model itself when it is none): shallow copies along the way, so the user's model is
    not changed; ``model`` itself where ``change`` returns its argument."""
    import copy

    if not (hasattr(model, "steps") and model.steps):
        return change(model)
    name, last = model.steps[-1]
    inner = with_last_step(last, change)
    if inner is last:
        return model
    outer = copy.copy(model)
    outer.steps = [*model.steps[:-1], (name, inner)]
    return outer


def _copied_with_options(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[int, Any], dict[Any, Any]]:
    """A deep copy of ``model`` to change, each of its estimators by the id of the one it copies, and
    ``options`` keyed by the copies (skl2onnx options are keyed by estimator id)."""
    import copy

    before = sub_estimators(model)
    copied = copy.deepcopy(model)
    moved = {id(old): new for old, new in zip(before, sub_estimators(copied), strict=True)}  # the same walk
    options = {(id(moved[k]) if isinstance(k, int) and k in moved else k): v for k, v in options.items()}
    return copied, moved, options


def without_unwritable_settings(model: Any, options: dict[Any, Any], warnings: list[str]
                                 ) -> tuple[Any, dict[Any, Any]]:
    """A copy of ``model`` without the settings skl2onnx refuses but the file's outputs do not depend on
    (each said in ``warnings``); ``model`` itself where there are none. The user's model is never changed.

    * ``VotingClassifier(flatten_transform=True)`` (the default): skl2onnx refused it, though
      ``flatten_transform`` shapes only ``transform()``, which the file does not answer.
    * ``VotingClassifier``/``VotingRegressor`` with ``weights`` as a list, as most people write them:
      skl2onnx failed on it ("'list' object has no attribute 'sum'"); the same numbers as an array, those
      of the members not ``'drop'`` (skl2onnx pairs them with the fitted members by position).
    * ``KBinsDiscretizer(encode="onehot")`` (the default): a sparse output skl2onnx cannot write; its
      ``onehot-dense`` form holds the same values, which parity compares densified anyway.
    * ``RandomTreesEmbedding(sparse_output=True)`` (the default): likewise, dense with
      ``sparse_output=False``.
    """

    import numpy as np

    def unwritable(est: Any) -> list[str]:
        kind = type(est).__name__
        found = []
        if kind == "VotingClassifier" and getattr(est, "flatten_transform", False) is True:
            found.append("flatten_transform")
        if kind in ("VotingClassifier", "VotingRegressor") and getattr(est, "weights", None) is not None and (
                isinstance(est.weights, (list, tuple)) or len(est.weights) != len(est.estimators_)):
            found.append("weights")
        if kind == "KBinsDiscretizer" and getattr(est, "encode", None) == "onehot":
            found.append("encode")
        if kind == "RandomTreesEmbedding" and getattr(est, "sparse_output", False) is True:
            found.append("sparse_output")
        return found

    if not any(unwritable(e) for e in sub_estimators(model)):
        return model, options
    copied, moved, options = _copied_with_options(model, options)
    notes = {
        "flatten_transform": ("VotingClassifier converted with flatten_transform=False (skl2onnx refuses True; it "
                              "shapes only transform(), which the file does not answer)"),
        "encode": ("KBinsDiscretizer converted with encode='onehot-dense' (ONNX has no sparse output; the values "
                   "are the same, dense)"),
        "sparse_output": ("RandomTreesEmbedding converted with sparse_output=False (ONNX has no sparse output; the "
                          "values are the same, dense)"),
    }
    for est in moved.values():
        for setting in unwritable(est):
            if setting == "weights":  # the same numbers: nothing to say
                # those of the members not 'drop': skl2onnx pairs the i-th weight with the i-th fitted member
                # (with a dropped one before it, 54 of 178 labels were wrong; helper-75)
                est.weights = np.asarray(est._weights_not_none, dtype=np.float64)
                continue
            setattr(est, setting, {"flatten_transform": False, "encode": "onehot-dense",
                                   "sparse_output": False}[setting])
            if notes[setting] not in warnings:
                warnings.append(notes[setting])
    return copied, options


#: The largest integer class label every converter carries exactly: skl2onnx writes integer classes as an int32
#: initializer (``_finalize_converter_classes`` and most classifiers' converters), then casts the label to float32 in
#: a float graph. 2**24 is float32's last integer of an unbroken run.
EXACT_CLASS_LABEL = 2**24


def positional_classes(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[Any, Any], Any]:
    """A model whose final classifier has an integer class label past :data:`EXACT_CLASS_LABEL` (an id, a
    timestamp), with a copy of that classifier holding the positions ``0..k-1`` as its classes; the true classes
    (int64), for :func:`onnxgate.converters._sklearn_graph.classes_at_positions` to write after the label; options
    keyed by its id follow it. Any other model as it is, and None.

    skl2onnx writes most classifiers' integer labels as int32 (and casts them to float32 in a float graph): labels
    1000000000000/3/5 answered -727379968 for 1000000000000 (LogisticRegression on float64 rows, MLPClassifier,
    GaussianNB, SGDClassifier, LinearSVC, Bagging, AdaBoost, soft Voting, Stacking, CalibratedClassifierCV), and
    16777217 answered 16777216 (GaussianNB and soft Voting on float32 rows), convert silent. Positions are exact in
    every type; the user's model is never changed."""
    import numpy as np

    def positions(classes: Any) -> Any:
        # float labels holding integers (ids read from a CSV column with gaps) are written through int32 alike:
        # 1e12/3.0/5.0 answered -727379968.0 for 1e12
        if (not isinstance(classes, np.ndarray) or classes.dtype.kind not in "iuf" or not classes.size
                or not np.isfinite(classes.astype(np.float64)).all()
                or np.abs(classes.astype(np.float64)).max() <= EXACT_CLASS_LABEL):
            return classes
        return np.arange(classes.size, dtype=np.int64)

    moved: dict[int, Any] = {}
    final = final_step(model)
    classes = getattr(final, "classes_", None)
    placed = _widened(model, moved, positions)
    if not moved:
        return model, options, None
    options = dict(options)
    for old, new in moved.items():
        if old in options:
            options[id(new)] = options.pop(old)
    if isinstance(classes, list):  # a MultiOutputClassifier: every member answers its positions
        # float labels (1.0/3.0/5.0) as float64, as its predict answers them; uint64 past int64 as uint64
        return placed, options, [np.asarray(c).astype(_label_type(np.asarray(c))) for c in classes]
    kept = np.asarray(classes)  # float classes answered as float64, as predict does; uint64 past int64 as uint64
    return placed, options, kept if kept.dtype.kind in "fu" else kept.astype(np.int64)


def _label_type(classes: Any) -> Any:
    """The type a classifier's labels are answered in, as its ``predict`` answers them: float64 for float classes,
    uint64 for unsigned ones past int64's largest (2**63 + 5), int64 for any other integers."""
    import numpy as np

    if classes.dtype.kind == "f":
        return np.float64
    if classes.dtype.kind == "u" and classes.size and int(classes.max()) > np.iinfo(np.int64).max:
        return np.uint64
    return np.int64


def _widened(model: Any, moved: dict[int, Any], relabel: Any = None) -> Any:
    """``model``, or a shallow copy of it and of the path to its final classifier where that
    classifier's labels had to be widened to int64 (``moved``: id of each replaced object -> its copy), or
    given another form by ``relabel`` (classes -> the classes written, the same object where unchanged; a
    classifier of several outputs, whose classes are a list, is left as it is then)."""
    import copy

    import numpy as np

    if hasattr(model, "steps") and model.steps:
        last = _widened(model.steps[-1][1], moved, relabel)
        if last is model.steps[-1][1]:
            return model
        outer = copy.copy(model)
        outer.steps = [*model.steps[:-1], (model.steps[-1][0], last)]
        moved[id(model)] = outer
        return outer
    best = getattr(model, "best_estimator_", None)
    if best is not None:
        inner = _widened(best, moved, relabel)
        if inner is best:
            return model
        outer = copy.copy(model)
        outer.best_estimator_ = inner
        moved[id(model)] = outer
        return outer
    classes = getattr(model, "classes_", None)
    if relabel is not None and type(model).__name__ == "MultiOutputClassifier" and isinstance(classes, list):
        # integer and float members: skl2onnx declares a MultiOutputClassifier's label of float classes (even
        # 1.0/3.0/5.0) a string, and onnxruntime refused the file ("Co_Concat ... tensor(string)"); text stays
        kinds = {getattr(c, "dtype", np.dtype("O")).kind for c in classes}
        if "f" not in kinds and all(relabel(c) is c or getattr(c, "dtype", np.dtype("O")).kind not in "iu"
                                    for c in classes):
            return model
        many = copy.copy(model)
        # each member's positions, where one needs them: the label columns are mapped back alike
        many.estimators_ = [_widened(member, {}, _every_position) for member in model.estimators_]
        if "classes_" in getattr(model, "__dict__", {}):  # fit's list, which skl2onnx types the label by
            many.classes_ = [getattr(member, "classes_", c) for member, c in zip(many.estimators_, classes,
                                                                                   strict=True)]
        moved[id(model)] = many
        return many
    if relabel is not None:
        widened = classes if isinstance(classes, list) else relabel(classes)
        if widened is classes:
            return model
    elif isinstance(classes, list):
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
    if relabel is not None and type(model).__name__ == "AdaBoostClassifier":
        # its members are fitted on the labels themselves, and its converter finds each member's label among the
        # classes (patch_adaboost_member_labels): they answer the positions too
        wide.estimators_ = [_widened(member, {}, relabel) for member in model.estimators_]
    moved[id(model)] = wide
    return wide


def _every_position(classes: Any) -> Any:
    """The positions ``0..k-1`` for integer and float classes; any other as they are."""
    import numpy as np

    if not isinstance(classes, np.ndarray) or classes.dtype.kind not in "iuf":
        return classes
    return np.arange(classes.size, dtype=np.int64)


def _int64_labels(classes: Any) -> Any:
    """Integer labels narrower than or unsigned against int64 as int64; anything else as it is (uint64
    labels past int64 too: the converter says so)."""
    import numpy as np

    if not isinstance(classes, np.ndarray) or classes.dtype.kind not in "iu" or classes.dtype == np.int64:
        return classes
    if classes.size and classes.max() > np.iinfo(np.int64).max:
        return classes
    return classes.astype(np.int64)


def final_step(model: Any) -> Any:
    """The estimator whose outputs the graph's are: a pipeline's last step, through nested pipelines, a
    fitted search's ``best_estimator_`` and the wrappers of :data:`DELEGATING`; else the model."""
    while True:
        if hasattr(model, "steps") and model.steps:
            model = model.steps[-1][1]
        elif hasattr(getattr(model, "best_estimator_", None), "fit"):
            model = model.best_estimator_
        elif hasattr(held := getattr(model, DELEGATING.get(type(model).__name__, ""), None), "fit"):
            model = held
        else:
            return model


def transform_steps(model: Any) -> list[Any]:
    """The estimators ``model`` asks for ``transform`` (a pipeline's steps before its last, a fitted column
    transformer's or a feature union's members), not ``'drop'`` or ``'passthrough'``."""
    held: list[Any] = []
    if hasattr(model, "steps") and type(model).__name__ not in DELEGATING:  # a FrozenEstimator lends its pipeline's
        held.extend(step for _, step in model.steps[:-1])
    for attr in ("transformers_", "transformer_list"):
        held.extend(item[1] for item in getattr(model, "__dict__", {}).get(attr) or () if isinstance(item, tuple))
    return [step for step in held if hasattr(step, "fit")]


def regressor_of(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[Any, Any], Any]:
    """A fitted TransformedTargetRegressor as its fitted ``regressor_``, options keyed by its id moved
    to that regressor, and its fitted ``transformer_``, whose inverse the graph applies after it
    (:func:`onnxgate.converters._sklearn_graph.inverse_target`); a pipeline ending in one as a shallow
    copy ending in its regressor, with that transformer; any other model as it is, with None. A search
    around either, or inside, is unwrapped too (:func:`searched`)."""
    model, options = searched(model, options)
    inner = getattr(model, "regressor_", None)
    if type(model).__name__ == "TransformedTargetRegressor" and inner is not None:
        options = {(id(inner) if k == id(model) else k): v for k, v in options.items()}
        inner, options = searched(inner, options)
        return inner, options, model.transformer_
    if hasattr(model, "steps") and model.steps:  # one at the end of a pipeline: the steps before stay
        import copy

        name, last = model.steps[-1]
        regressor, options, transformer = regressor_of(last, options)
        if transformer is not None:
            outer = copy.copy(model)
            outer.steps = [*model.steps[:-1], (name, regressor)]
            return outer, options, transformer
    return model, options, None


def selector_then_estimator(model: Any) -> Any:
    """An RFE or RFECV that answers as a model (on its own, or a pipeline's last step) as a pipeline of
    its feature selection then its fitted ``estimator_``, as its ``predict`` computes; anything else as
    it is (shallow copies along a pipeline; the user's model is not changed).

    skl2onnx converts an RFE by its ``transform`` only: the file answered the selected features where
    ``RFE(LogisticRegression())`` predicts labels and probabilities. Before other steps of a pipeline
    its ``transform`` is what is used, and skl2onnx writes that.
    """

    def predicting(last: Any) -> Any:
        if type(last).__name__ not in ("RFE", "RFECV") or not hasattr(last, "estimator_"):
            return last
        from sklearn.pipeline import Pipeline

        return Pipeline([("selected_features", last), ("estimator", last.estimator_)])

    return with_last_step(model, predicting)


def searched(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[Any, Any]]:
    """A fitted search (GridSearchCV, RandomizedSearchCV...) as its ``best_estimator_``, the model it
    predicts with, and options keyed by the search's id moved to it; any other model as it is.

    skl2onnx converts a search as its best estimator anyway; converted as itself, the search hid that
    estimator from every fix made by the estimator's type (ZipMap kept on a classifier whose converter
    takes the option, QuadraticDiscriminantAnalysis's ``[1, N]`` label, HistGradientBoosting's category
    encoder left out, so its category splits read the raw values).
    """
    while hasattr(getattr(model, "best_estimator_", None), "fit") and hasattr(model, "cv_results_"):
        best = model.best_estimator_
        options = {(id(best) if k == id(model) else k): v for k, v in options.items()}
        model = best
    return model, options


def first_step(model: Any) -> Any:
    """The estimator that reads a pipeline's input (through nested pipelines, a fitted search's
    ``best_estimator_`` and the wrappers of :data:`DELEGATING`), else the model."""
    while True:
        if hasattr(model, "steps") and model.steps:
            model = model.steps[0][1]
        elif hasattr(getattr(model, "best_estimator_", None), "fit"):
            model = model.best_estimator_
        elif hasattr(held := getattr(model, DELEGATING.get(type(model).__name__, ""), None), "fit"):
            model = held
        else:
            return model


def takes_1d(model: Any) -> bool:
    """True for an estimator that reads a 1-D array (LabelEncoder, LabelBinarizer, text vectorizers)."""
    try:
        return not model.__sklearn_tags__().input_tags.two_d_array
    except Exception:
        return False


#: Wrappers that answer exactly as one fitted estimator they hold, by the attribute holding it:
#: scikit-learn's FrozenEstimator (how a fitted model is calibrated or stacked without refitting since
#: ``cv="prefit"`` was removed in 1.8) and SelfTrainingClassifier (its ``predict``, ``predict_proba``
#: and ``decision_function`` are its ``estimator_``'s).
DELEGATING = {"FrozenEstimator": "estimator", "SelfTrainingClassifier": "estimator_"}

#: Fitted attributes holding the estimators a model answers with, which :func:`delegates_unwrapped` walks.
_HOLDERS = ("steps", "transformers_", "transformer_list", "estimators_", "calibrated_classifiers_",
            "best_estimator_", "regressor_", "estimator_", "final_estimator_", "estimator")


def delegates_unwrapped(model: Any, options: dict[Any, Any]) -> tuple[Any, dict[Any, Any]]:
    """``model`` with every delegating wrapper in it (:data:`DELEGATING`) replaced by the estimator it
    answers with, a pipeline's ``"passthrough"`` (or None) steps left out, and a CalibratedClassifierCV
    of one fitted pipeline as that pipeline calibrated at its last step (:func:`_calibrated_pipeline_split`), one
    of a pipeline per fold as a soft vote of those (:func:`_calibrated_folds_vote`),
    as shallow copies of the path to them; options keyed by a replaced object's id follow it. The user's
    model is never changed.

    skl2onnx has no converter for these wrappers: ``CalibratedClassifierCV(FrozenEstimator(model))``,
    scikit-learn's way to calibrate a fitted model, and ``SelfTrainingClassifier(LogisticRegression())``
    were refused although the estimator inside converts; skl2onnx failed on a pipeline's ``"passthrough"``
    step ("'str' object has no attribute '__sklearn_tags__'"), also as its last one (a pipeline of transformers
    ending in ``"passthrough"`` transforms as the steps before it).
    """
    moved: dict[int, Any] = {}
    plain = _unwrapped(model, moved, depth=0)
    if plain is model:
        return model, options
    options = dict(options)
    for old, new in moved.items():
        if old in options:
            options[id(new)] = options.pop(old)
    return plain, options


def _unwrapped(est: Any, moved: dict[int, Any], depth: int) -> Any:
    import copy

    start = est
    while type(est).__name__ in DELEGATING and hasattr(est, "fit"):
        inner = getattr(est, DELEGATING[type(est).__name__], None)
        if not hasattr(inner, "fit"):
            break
        est = inner
    if depth > 20:  # a cycle no fitted scikit-learn model has: left to skl2onnx as it is
        return est
    replaced: dict[str, Any] = {}
    for attr in _HOLDERS:
        value = getattr(est, "__dict__", {}).get(attr)
        if hasattr(value, "fit"):
            inner = _unwrapped(value, moved, depth + 1)
            if inner is not value:
                replaced[attr] = inner
        elif isinstance(value, list):
            items = [_unwrapped_item(item, moved, depth + 1) for item in value]
            if attr == "steps":  # a "passthrough" (or None) step answers its rows as they are, the last too
                items = [item for item in items if _estimator_step(item)] or items[-1:]
            if len(items) != len(value) or any(new is not old for new, old in zip(items, value, strict=True)):
                replaced[attr] = items
    if replaced:
        outer = copy.copy(est)
        for attr, value in replaced.items():
            setattr(outer, attr, value)
        moved[id(est)] = outer
        est = outer
    split = _calibrated_pipeline_split(est)
    if split is not None:
        moved[id(est)] = moved[id(start)] = split.steps[-1][1]  # options keyed by the calibration follow it
        return split
    vote = _calibrated_folds_vote(est)
    if vote is not None:
        moved[id(est)] = moved[id(start)] = vote
        return vote
    if est is not start:
        moved[id(start)] = est
    return est


def _estimator_step(step: Any) -> bool:
    """False for a pipeline step ``(name, "passthrough")`` or ``(name, None)``, which skl2onnx cannot read."""
    return not (isinstance(step, tuple) and len(step) == 2 and (step[1] is None or step[1] == "passthrough"))


def _calibrated_pipeline_split(est: Any) -> Any:
    """A CalibratedClassifierCV whose calibrated classifiers all hold one fitted Pipeline (what
    ``CalibratedClassifierCV(FrozenEstimator(pipeline))`` or ``ensemble=False`` fits) as that pipeline's steps
    before its classifier, then the classifier calibrated as before; else None. It answers the same: the
    calibrators read the pipeline's scores, which are its last step's on the rows the steps before make.
    skl2onnx converts a calibrated estimator only as one classifier."""
    import copy

    calibrations = getattr(est, "calibrated_classifiers_", None)
    if type(est).__name__ != "CalibratedClassifierCV" or not calibrations:
        return None
    pipeline: Any = getattr(calibrations[0], "estimator", None)
    if not getattr(pipeline, "steps", None) or any(getattr(c, "estimator", None) is not pipeline for c in calibrations):
        return None
    name, last = pipeline.steps[-1]
    calibrated = copy.copy(est)
    calibrated.estimator = last
    calibrated.calibrated_classifiers_ = [copy.copy(c) for c in calibrations]
    for one in calibrated.calibrated_classifiers_:
        one.estimator = last
    split = copy.copy(pipeline)
    split.steps = [*pipeline.steps[:-1], (name, calibrated)]
    return split


def _calibrated_folds_vote(est: Any) -> Any:
    """A CalibratedClassifierCV whose folds each hold their own fitted Pipeline (a pipeline calibrated with
    ``cv=3``, ``ensemble=True``) as a soft VotingClassifier of its folds, each fold's pipeline calibrated at its
    last step (:func:`_calibrated_pipeline_split`); else None. It answers the same: ``predict_proba`` is the mean
    of the folds' calibrated probabilities and the label the class of the highest, which is what a soft vote
    without weights computes. skl2onnx converts a calibrated estimator only as one classifier, the folds' steps
    before it left out."""
    import copy

    from sklearn.ensemble import VotingClassifier
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    calibrations = getattr(est, "calibrated_classifiers_", None)
    if (type(est).__name__ != "CalibratedClassifierCV" or not calibrations
            or not all(getattr(getattr(c, "estimator", None), "steps", None) for c in calibrations)):
        return None
    folds = []
    for calibration in calibrations:
        fold = copy.copy(est)
        fold.estimator, fold.calibrated_classifiers_ = calibration.estimator, [calibration]
        folds.append(_calibrated_pipeline_split(fold))
    vote = VotingClassifier([(f"fold{i}", fold) for i, fold in enumerate(folds)], voting="soft")
    vote.estimators_, vote.named_estimators_ = folds, Bunch(**dict(vote.estimators))
    vote.le_, vote.classes_ = LabelEncoder().fit(est.classes_), est.classes_
    return vote


def _unwrapped_item(item: Any, moved: dict[int, Any], depth: int) -> Any:
    """One entry of a holder list: an estimator, a ``(name, estimator, ...)`` tuple, or an object holding
    one as ``estimator`` (CalibratedClassifierCV's per-fold calibrated classifiers)."""
    import copy

    if hasattr(item, "fit"):
        return _unwrapped(item, moved, depth)
    if isinstance(item, tuple) and len(item) >= 2 and hasattr(item[1], "fit"):
        inner = _unwrapped(item[1], moved, depth)
        return item if inner is item[1] else (item[0], inner, *item[2:])
    held = getattr(item, "__dict__", {}).get("estimator")
    if hasattr(held, "fit"):
        inner = _unwrapped(held, moved, depth)
        if inner is not held:
            item = copy.copy(item)
            item.estimator = inner
    return item

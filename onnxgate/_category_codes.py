"""Category values to the codes an input of category codes reads (:attr:`onnxgate.signature.TensorSpec.codes`),
and the check of the numbers an input of integer category values reads (:func:`check_known_numbers`).

Every route reads a plain number (no category type) as the category of that value, and refuses one that is none
of the model's categories. Both functions are used by onnxgate's own feeds (a pandas category column, read by
value) and written as they are into a container package's ``score.py`` (a JSON request, which has no category
type), which imports nothing from onnxgate: this module needs only the standard library and numpy, and defines
nothing else at its top level but :func:`missing_refused_reason`, the wording of a refused missing value, which the
MLflow package's graph shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def category_codes(values: Any, categories: Any, unseen_missing: bool, plain: bool,
                   missing_refused: bool = False, missing_learnt: bool = False) -> Any:
    """The codes (int64, -1 for a missing value) of ``values`` (a flat sequence of Python objects) among
    ``categories``, the model's categories in code order.

    A missing value (None, NaN) is -1, the code pandas gives it and the file reads as missing. A category is read
    by value: a number equal to a number category, a text equal to a text category. ``plain`` (values with no
    category type: JSON, a Spark or CSV column, a plain integer column of a frame): a text also names a number
    category by its decimal text (``"7"`` for 7). Where the categories are numbers, a plain number is always the
    category of that value, never a code (months 1..12: 3 is March, not code 3, April), on every route and
    whatever the rest of the values hold (-1, where it is no category, is missing, as in pandas' codes), and a
    plain number that is none of the categories is refused, even
    where the model scores an unseen category as missing: a number no category is could be a code a client
    meant (2 and 3 among categories 7..23), and scoring it as missing would answer another row without a word.
    Where the categories are text, a plain whole number 0..k-1 (or -1) is that code, so a client that sends the
    codes keeps getting them read as codes, but not beside category values (one request must not mix them).
    Any other value that is none of the categories is missing where ``unseen_missing`` (LightGBM reads it so),
    else refused (XGBoost refuses it). ``missing_refused`` (a OneHotEncoder with ``handle_unknown='error'``
    fitted without missing values, :attr:`onnxgate.signature.TensorSpec.missing_refused`): a missing value, and a
    plain -1 read as one, is refused, as onnxruntime would fail on its code. ``missing_learnt`` (the code -1 is the
    missing category an encoder learnt, :attr:`onnxgate.signature.TensorSpec.missing_learnt`): a value none of the
    categories is refused saying that no code stands for it, though the model scores it. Raises ValueError whose
    message says what to send, to be prefixed with the column's name.
    """
    cats = list(categories)
    count = len(cats)
    numbers: dict[float, int] = {}
    texts: dict[str, int] = {}
    for position, category in enumerate(cats):
        if isinstance(category, (int, float)) and not isinstance(category, bool):
            numbers.setdefault(float(category), position)
            if plain:
                texts.setdefault(str(category), position)
                if float(category).is_integer():
                    texts.setdefault(str(int(category)), position)
        elif isinstance(category, str):
            texts.setdefault(category, position)
    out = np.empty(len(values), dtype=np.int64)
    unseen: list[Any] = []
    unseen_numbers: list[Any] = []  # plain numbers among number categories: never read as missing
    # the plain values read each way (text categories): one request must not mix the two
    read_as: dict[str, list[Any]] = {"code": [], "category": []}
    for i, value in enumerate(values):
        if isinstance(value, np.generic):
            value = value.item()
        code: int | None = None
        if value is None or (isinstance(value, float) and value != value):
            code = -1
        elif isinstance(value, str):
            code = texts.get(value)
            if plain and code is not None:
                read_as["category"].append(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            code = numbers.get(float(value))
            if plain and numbers:
                if code is None and value != -1:  # -1, no category: pandas' code of a missing value
                    unseen_numbers.append(value)
                code = -1 if code is None else code
            elif plain and float(value).is_integer() and -1 <= value < count:
                code = int(value)
                if value != -1:
                    read_as["code"].append(value)
            elif plain and code is not None:
                read_as["category"].append(value)
        if code is None:
            unseen.append(value)
            code = -1
        out[i] = code
    shown = f"{cats[:10]}{'...' if count > 10 else ''}"
    if unseen_numbers:
        found = list(dict.fromkeys(unseen_numbers))
        as_codes = [cats[int(v)] for v in found if float(v).is_integer() and 0 <= v < count]
        looks = (f"; if these are codes, they stand for {as_codes[:5]}"
                 if len(as_codes) == len(found) else "")
        raise ValueError(
            f"holds {len(unseen_numbers)} number(s) that are none of the model's categories {shown} (e.g. "
            f"{found[:5]}), and a number is read as the category of that value, not as a code (its position among "
            f"them){looks}: send a category by value, null for a missing value, or drop those rows")
    if read_as["code"] and read_as["category"]:
        # categories 'red'.. and codes 0..3: a 2 beside a 'red' is refused, one request reads one way
        raise ValueError(
            f"mixes codes {read_as['code'][:5]} and category values {read_as['category'][:5]} of the model's "
            f"categories {shown}: send every value the same way, each category by value (null for a missing "
            f"one) or each by its code (0..{count - 1}, -1 for a missing one)")
    if unseen and not unseen_missing and missing_learnt:
        # scikit-learn scores it (a TargetEncoder's target mean): the file could too, were there a code for it
        raise ValueError(
            f"holds {len(unseen)} value(s) that are none of the model's categories {shown} (e.g. "
            f"{list(dict.fromkeys(unseen))[:5]}). The model scores a category it was not fitted on, but this input "
            "takes codes, and its code -1 is the missing category the encoder learnt from missing values in the "
            "training data, so no code stands for an unknown category (sent as -1 it would be scored as a missing "
            f"value): send a category{', its code (0..' + str(count - 1) + ')' if plain and not numbers else ''}, "
            "null for a missing value, or drop those rows. To score unknown categories, use a target that takes "
            "text (synapse, container), or refit with the missing values filled with a category of their own "
            "(e.g. 'missing'), so that -1 reads as an unknown category")
    if unseen and not unseen_missing:
        raise ValueError(
            f"holds {len(unseen)} value(s) that are none of the model's categories {shown} (e.g. "
            f"{list(dict.fromkeys(unseen))[:5]}), and the model refuses a category it was not fitted on: send "
            f"a category{', its code (0..' + str(count - 1) + ')' if plain and not numbers else ''}, or drop those "
            "rows (a null is read as a missing value, which a OneHotEncoder with handle_unknown='error' fitted without "
            "missing values refuses too)")
    gaps = int(np.count_nonzero(out == -1)) if missing_refused else 0
    if gaps:
        raise ValueError(f"holds {gaps} missing value(s) (null, NaN{', or the code -1' if plain else ''}), and "
                         + missing_refused_reason(shown))
    return out


def missing_refused_reason(shown: str) -> str:
    """Why a missing value is refused where the model refuses one (``missing_refused`` of :func:`category_codes`)
    and what to do, ``shown`` the model's categories as the message lists them: the one wording of every route
    (the MLflow package's graph names its check so)."""
    return (f"the model refuses a missing value there: its OneHotEncoder has handle_unknown='error' and was fitted "
            f"without missing values, so scikit-learn raises on one and the ONNX model fails on it. Fill each with "
            f"one of the model's categories {shown} or drop those rows; to score missing values, refit with "
            "OneHotEncoder(handle_unknown='ignore') or on data that holds them")


def check_known_numbers(values: Any, categories: Any, missing: Any = None) -> None:
    """Refuse a number in ``values`` (a flat sequence of a column with no category type: JSON, a file's or a
    Spark column, a plain integer column) that is none of ``categories``, the integer categories an input reads by
    value (LightGBM's, :attr:`onnxgate.signature.TensorSpec.categories`), nor ``missing``, the integer that input
    reads a missing value as. The model would score such a number as a missing value, and it may be a code a
    client meant (2 and 3 among categories 7..23): every route reads a number by value, and refuses one it cannot
    read so, as :func:`category_codes` does. A missing value (None, NaN) passes. Raises ValueError whose message
    says what to send, to be prefixed with the column's name."""
    cats = list(categories)
    known = {float(c) for c in cats}
    if missing is not None:
        known.add(float(missing))
    found: list[Any] = []
    for value in values:
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
                and float(value) not in known:
            found.append(value)
    if not found:
        return
    count = len(cats)
    shown = f"{cats[:10]}{'...' if count > 10 else ''}"
    unseen = list(dict.fromkeys(found))
    as_codes = [cats[int(v)] for v in unseen if float(v).is_integer() and 0 <= v < count]
    looks = f"; if these are codes, they stand for {as_codes[:5]}" if len(as_codes) == len(unseen) else ""
    raise ValueError(
        f"holds {len(found)} number(s) that are none of the model's categories {shown} (e.g. {unseen[:5]}), and a "
        f"number is read as the category of that value, not as a code (its position among them){looks}: send a "
        "category by value, null for a missing value (the model scores a category it was not fitted on as one), or "
        "drop those rows")

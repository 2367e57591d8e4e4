"""Category values to the codes an input of category codes reads (:attr:`onnxgate.signature.TensorSpec.codes`).

One function, :func:`category_codes`, used by onnxgate's own feeds (a pandas category column, read by value) and
written as it is into a container package's ``score.py`` (a JSON request, which has no category type), which
imports nothing from onnxgate: this module needs only the standard library and numpy, and defines nothing else
at its top level.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def category_codes(values: Any, categories: Any, unseen_missing: bool, plain: bool, *,
                   numbers_are_values: bool = False) -> Any:
    """The codes (int64, -1 for a missing value) of ``values`` (a flat sequence of Python objects) among
    ``categories``, the model's categories in code order.

    A missing value (None, NaN) is -1, the code pandas gives it and the file reads as missing. A category is read
    by value: a number equal to a number category, a text equal to a text category. ``plain`` (values with no
    category type, such as JSON): a text also names a number category by its decimal text (``"7"`` for 7), and a
    whole number that is a code (0..k-1, or -1) is read as that code, so a client that sends the codes keeps
    getting them read as codes; a number that is both a code and another category's value (3 among categories
    1..12, months: code 3 is 4) is read as the rest of the values say (a code that is no category, 0; a category
    that is no code, 12), else refused, its text (``"3"``) asked for instead, since either reading answers another
    category for some client (read as codes, the months 1..11 a client sent scored as 2..12). A value that
    is none of the categories is missing where ``unseen_missing`` (LightGBM reads it so), else refused (XGBoost
    refuses it). ``numbers_are_values`` (Spark, whose table holds the values the model was fitted on, read batch
    by batch): where number categories overlap the codes (months 1..12), every number is read as a category
    value, whatever the rest of the batch holds; read by the batch's other values, a job failed or not by how
    Spark split the rows (helper-232). Raises ValueError whose message says what to send, to be prefixed with
    the column's name.
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
    # where a number is both a code and another category (months 1..12: code 3 is 4), the request's other values
    # tell which it is: a code that is no category (0), or a category that is no code (12, a text "3")
    by_code = by_value = False
    values_only = numbers_are_values and any(number.is_integer() and 0 <= number < count and position != number
                                             for number, position in numbers.items())
    if plain:
        for value in values:
            value = value.item() if isinstance(value, np.generic) else value
            if isinstance(value, str):
                by_value = by_value or value in texts
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                if float(value).is_integer() and 0 <= value < count:
                    by_code = by_code or float(value) not in numbers
                else:
                    by_value = by_value or float(value) in numbers
    out = np.empty(len(values), dtype=np.int64)
    unseen: list[Any] = []
    ambiguous: list[Any] = []
    # the plain values read each way: one request must not mix the two
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
            whole = float(value).is_integer()
            category = numbers.get(float(value))
            if plain and whole and -1 <= value < count and not values_only:
                code = int(value)
                if category is not None and category != code:  # code 3, and category 3 of another code
                    if by_value and not by_code:
                        code = category
                    elif not by_code:
                        ambiguous.append(value)
                        code = -1
                elif value != -1 and category is None:
                    read_as["code"].append(value)
            else:
                code = category
                if plain and code is not None:
                    read_as["category"].append(value)
        if code is None:
            unseen.append(value)
            code = -1
        out[i] = code
    shown = f"{cats[:10]}{'...' if count > 10 else ''}"
    if ambiguous:
        raise ValueError(
            f"holds {ambiguous[:5]}, each both a category of the model {shown} and the code (the position among "
            f"the categories, 0..{count - 1}) of another one, so it cannot be told which is meant: send each "
            f"category as its text (\"{int(ambiguous[0])}\" for {int(ambiguous[0])}), and null for a missing value")
    if read_as["code"] and read_as["category"]:
        # categories 7..42 and codes 0..5: a 5 beside a 12 is a category the model never saw, not code 5
        raise ValueError(
            f"mixes codes {read_as['code'][:5]} and category values {read_as['category'][:5]} of the model's "
            f"categories {shown}: send every value the same way, each category by value (null for a missing "
            f"one) or each by its code (0..{count - 1}, -1 for a missing one)")
    if unseen and not unseen_missing:
        kinds = "a category, its text" if plain and numbers else "a category"
        raise ValueError(
            f"holds {len(unseen)} value(s) that are none of the model's categories {shown} (e.g. "
            f"{list(dict.fromkeys(unseen))[:5]}), and the model refuses a category it was not fitted on: send "
            f"{kinds}{', its code (0..' + str(count - 1) + ')' if plain else ''} or null for a missing value, or "
            "drop those rows")
    return out

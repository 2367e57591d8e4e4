"""A HistGradientBoosting model's own category encoding as a pipeline step, for conversion only."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class HistCategoryCodes(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The ordinal encoding a HistGradientBoosting model fitted with categorical features makes of its
    input matrix, as a pipeline step (for conversion only): each categorical column's value becomes the
    position of that value among the categories the model saw (an unknown or missing value NaN), those
    columns first, then the numeric ones, as the model's trees read them. skl2onnx converts it through
    :func:`onnxgate.converters._skl2onnx_fixes.register_hist_category_codes`."""

    def __init__(self, categorical: Any, categories: list[Any]) -> None:
        self.categorical = [bool(c) for c in categorical]
        # NaN is a category of the encoder when it was seen in training; it still encodes as NaN
        self.categories = [np.asarray([v for v in c if v == v], dtype=np.float64) for c in categories]

    def fit(self, X: Any, y: Any = None) -> HistCategoryCodes:
        return self

    def transform(self, X: Any) -> Any:
        X = np.asarray(X, dtype=np.float64)
        codes = []
        for column, values in zip(np.flatnonzero(self.categorical), self.categories, strict=True):
            hits = X[:, [column]] == values[None, :]
            codes.append(np.where(hits.any(axis=1), hits.argmax(axis=1), np.nan))
        numeric = X[:, [i for i, c in enumerate(self.categorical) if not c]]
        return np.column_stack([*codes, numeric])

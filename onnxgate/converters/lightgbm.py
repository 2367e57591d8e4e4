"""LightGBM converter, through onnxmltools' ``convert_lightgbm``.

Policy:

* ``lightgbm.Booster`` (native API) and ``LGBMClassifier``/``LGBMRegressor`` (scikit-learn API).
  One ``[N,k]`` float32 input named ``input``; a float64 sample keeps a float64 boundary with a Cast
  inside the graph; a model fitted on a DataFrame gets one ``[N,1]`` input per column from a
  DataFrame sample (as XGBoost). LightGBM splits on double thresholds that onnxmltools writes as float32: each is
  written as the largest float32 not above LightGBM's (:func:`exact_float32_thresholds`), so every
  float32 feature value takes LightGBM's branch; a float64 value lying between two float32 neighbours
  of a threshold can still take the other one: validate with the data the model will score
  (``--search`` goes looking for such rows).
* Outputs: classifiers ``label`` ``[N]`` and ``probabilities`` ``[N,k]``, regressors ``variable``
  ``[N,1]``. No ZipMap.
* Opsets: onnxmltools writes at most opset 15 and stamps the lowest opset its nodes need (often 8
  or 9); ``conv.opset`` says what the file holds.
* Objectives: :data:`SUPPORTED_OBJECTIVES` (tested against LightGBM's own predictions); rankers and
  custom objectives are refused with their name.
* Inside a scikit-learn pipeline the scikit-learn converter handles the model (registered with skl2onnx).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.converters._base import RawConversion, _in_output_order, first_line
from onnxgate.converters._boosting import (
    ONNXMLTOOLS_MAX_OPSET,
    BoostingConverter,
    import_library,
    import_onnxmltools,
    input_type,
)
from onnxgate.converters.xgboost import finish
from onnxgate.errors import UnsupportedModelError

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["SUPPORTED_OBJECTIVES", "LightGBMConverter"]

#: Objective names (as LightGBM saves them, before any parameter) that convert faithfully (tested).
SUPPORTED_OBJECTIVES = frozenset(
    {
        "binary",
        "multiclass",
        "regression",
        "regression_l1",
        "huber",
        "quantile",
        "poisson",
        "gamma",
        "tweedie",
    }
)


def _booster(model: Any) -> Any:
    return model.booster_ if hasattr(model, "booster_") else model


_DUMP_LOCK = threading.Lock()


@contextmanager
def exact_float32_thresholds() -> Iterator[list[int]]:
    """While onnxmltools converts a LightGBM model, make ``x <= t`` (LightGBM, double ``t``) and the
    float32 graph's ``x <= v`` agree for every float32 x; yields a one-item list: how many moved.

    onnxmltools writes ``v = float32(t)`` rounded to nearest; when that rounds up, the float32 value
    ``v`` itself goes left in ONNX and right in LightGBM. The exact float32 threshold is the largest
    float32 not above ``t``. onnxmltools parses LightGBM's dump once (``dump_booster_model``, which
    also lists every decision node); this wraps that function so the parsed thresholds are made exact
    before any node is written: nothing is read twice and nothing is matched afterwards. The wrap is
    module-wide, so conversions take a lock while it is in place.
    """
    from onnxmltools.convert.lightgbm.operator_converters import LightGbm

    original = LightGbm.dump_booster_model
    moved = [0]

    def dump(*args: Any, **kwargs: Any) -> Any:
        text, info = original(*args, **kwargs)
        moved[0] += _exact_in_place([n for tree in (info or {}).get("decision_nodes", []) for n in tree])
        return text, info

    with _DUMP_LOCK:
        LightGbm.dump_booster_model = dump
        try:
            yield moved
        finally:
            LightGbm.dump_booster_model = original


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
    raised = nearest.astype(np.float64) > doubles
    exact = np.nextafter(nearest[raised], np.float32(-np.inf))
    for node, value in zip((n for n, up in zip(numeric, raised.tolist()) if up), exact.tolist()):
        node["threshold"] = value
    return int(raised.sum())


def objective_of(model: Any) -> str:
    """The objective's name as LightGBM saved it (``"binary"``, ``"multiclass"``...)."""
    given = getattr(model, "objective_", None)  # scikit-learn API: the name as given (or its default)
    if isinstance(given, str) and given in SUPPORTED_OBJECTIVES:
        return given
    booster = _booster(model)
    text = booster.dump_model(num_iteration=1).get("objective", "") or ""
    return str(text).split(" ")[0]


class LightGBMConverter(BoostingConverter):
    framework = "lightgbm"
    MODULE_PREFIXES = ("lightgbm.",)
    FILE_SUFFIXES = (".txt",)

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
        return self.read_native(path, "LightGBM", lambda file: lightgbm.Booster(model_file=file))

    def save_native(self, model: Any, folder: Path) -> Path:
        path = folder / "model.txt"
        _booster(model).save_model(str(path))
        return path

    def is_classifier(self, model: Any) -> bool:
        return objective_of(model) in ("binary", "multiclass")

    def check_model(self, model: Any) -> None:
        if hasattr(model, "fit"):
            if getattr(model, "_Booster", None) is None:
                raise UnsupportedModelError(
                    f"{type(model).__name__} is not fitted: expected a fitted model. Call .fit(X, y) first.",
                    framework=self.framework,
                )
            if type(model).__name__ == "LGBMRanker":
                raise UnsupportedModelError(
                    "LGBMRanker is not supported: onnxmltools writes no faithful ONNX form for ranking objectives",
                    framework=self.framework,
                )
        elif type(model).__name__ != "Booster":
            raise UnsupportedModelError(
                f"expected a lightgbm.Booster or a fitted LGBMClassifier/LGBMRegressor; found {type(model).__name__}",
                framework=self.framework,
            )
        objective = objective_of(model)
        if objective not in SUPPORTED_OBJECTIVES:
            raise UnsupportedModelError(
                f"LightGBM objective {objective!r} is not supported: onnxmltools cannot convert it "
                "(cross_entropy, fair, mape, custom objectives) or its output is not verified against "
                f"LightGBM's (multiclassova, rankers). Supported objectives: {sorted(SUPPORTED_OBJECTIVES)}.",
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
        onnxmltools = import_onnxmltools("lightgbm")
        from onnxmltools.convert.common.data_types import FloatTensorType

        self.check_options(options, ("input_name",))
        n_features = _booster(model).num_feature()
        array = self.sample_array(model, sample, n_features)
        columns = self.frame_columns(model, sample)
        input_name = str(options.get("input_name", "input"))
        _dtype, boundary = input_type(array)
        try:
            with exact_float32_thresholds() as moved_count:
                proto = onnxmltools.convert_lightgbm(
                    model,
                    name=name or type(model).__name__,
                    initial_types=[(input_name, FloatTensorType([None, n_features]))],
                    target_opset=min(opset, ONNXMLTOOLS_MAX_OPSET),
                    zipmap=False,
                )
        except Exception as err:
            raise UnsupportedModelError(
                f"onnxmltools could not convert {type(model).__name__}: {first_line(err)}", framework=self.framework
            ) from None
        moved = moved_count[0]
        raw = finish(proto, opset, input_name, boundary, columns, "lightgbm")
        if moved:
            raw.warnings.append(
                f"{moved} split threshold(s) set to the largest float32 at or below LightGBM's double "
                "threshold (onnxmltools rounds to nearest, which sends a float32 feature equal to the rounded "
                "value down the other branch)"
            )
        return raw

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
        elif objective == "multiclass":
            proba = raw
        else:
            return _in_output_order(["variable"], [raw.reshape(len(X), -1)], signature)
        return _in_output_order(["label", "probabilities"], [proba.argmax(axis=1), proba], signature)

"""scikit-learn converter, through skl2onnx.

Policy:

* Inputs follow the sample. A DataFrame gives one ``[N,1]`` input per column, named after the
  column and typed from its dtype; an array gives one ``[N,k]`` input named ``input``.
* Floating-point columns are computed in float32 inside the graph (skl2onnx's tree and most
  other converters only run in float32; onnxruntime refuses a double TreeEnsemble). An input whose
  sample is float64 stays float64 at the boundary, with a Cast inside the graph, so a SQL ``float``
  column feeds it without a CAST. ``options={"precision": "float64"}`` converts in double instead
  where skl2onnx can.
* Classifiers emit plain tensors (``label``, ``probabilities``): ZipMap is switched off unless
  ``options={"zipmap": True}`` (or ``"columns"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from onnxgate.converters._base import Converter, RawConversion
from onnxgate.errors import InvalidDataError, UnsupportedModelError, UntrustedFileError, missing_dependency

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["SklearnConverter"]

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
    return skl2onnx


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
    ATOL: ClassVar[float] = 1e-4
    RTOL: ClassVar[float] = 1e-4

    FILE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".skops")

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
            if suffix == ".joblib":
                import joblib

                return joblib.load(path)
            import pickle

            with open(path, "rb") as handle:
                return pickle.load(handle)
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
        import numpy as np

        skl2onnx = _skl2onnx()
        from skl2onnx.common.data_types import (
            BooleanTensorType,
            DoubleTensorType,
            FloatTensorType,
            Int32TensorType,
            Int64TensorType,
            StringTensorType,
        )

        from onnxgate._data import is_dataframe

        if sample is None:
            raise InvalidDataError(
                "converting a scikit-learn model needs a sample (array or DataFrame) to fix the input "
                "names and types; pass convert(model, X[:5])"
            )
        options = dict(options)
        precision = options.pop("precision", "float32")
        if precision not in ("float32", "float64"):
            raise UnsupportedModelError(f"option precision must be 'float32' or 'float64', found {precision!r}")
        zipmap = options.pop("zipmap", False)
        warnings: list[str] = []
        float_type = DoubleTensorType if precision == "float64" else FloatTensorType
        boundary: dict[str, int] = {}  # input name -> element type code fed from outside

        def tensor_type(dtype: np.dtype[Any], width: int | None) -> Any:
            shape = [None, width]
            kind = dtype.kind
            if kind == "f":
                return float_type(shape)
            if kind in "iu":
                return Int32TensorType(shape) if dtype.itemsize <= 4 and kind == "i" else Int64TensorType(shape)
            if kind == "b":
                return BooleanTensorType(shape)
            if kind in "OUS":
                return StringTensorType(shape)
            raise InvalidDataError(f"cannot map a column of dtype {dtype} to an ONNX input type")

        if is_dataframe(sample) and getattr(model, "feature_names_in_", None) is None:
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
            expected = getattr(model, "feature_names_in_", None)
            columns = [str(c) for c in sample.columns]
            if expected is not None and list(map(str, expected)) != columns:
                missing = [c for c in expected if c not in columns]
                raise InvalidDataError(
                    f"the model was fitted on columns {list(map(str, expected))}; the sample has {columns}"
                    + (f" (missing {missing})" if missing else ""),
                    column=missing[0] if missing else None,
                )
            initial_types = []
            for col in columns:
                dtype = sample[col].dtype
                if not isinstance(dtype, np.dtype) or dtype.kind not in "fiubOUS":
                    dtype = np.dtype(object)  # pandas' own dtypes (string, category...) hold objects
                initial_types.append((col, tensor_type(np.dtype(dtype), 1)))
                if np.dtype(dtype).kind == "f" and np.dtype(dtype) != np.dtype(precision):
                    boundary[col] = _code(np.dtype(dtype))
        else:
            array = np.asarray(sample)
            if array.ndim == 1:
                array = array.reshape(1, -1)
            if array.ndim != 2:
                raise InvalidDataError(f"expected a 2-D sample (rows x features), found shape {list(array.shape)}")
            n_in = getattr(model, "n_features_in_", None)
            if n_in is not None and array.shape[1] != n_in:
                raise InvalidDataError(
                    f"the model was fitted on {n_in} features; the sample has {array.shape[1]} columns. "
                    "Pass a sample with the training columns.",
                )
            input_name = str(options.pop("input_name", "input"))
            initial_types = [(input_name, tensor_type(array.dtype, array.shape[1]))]
            if array.dtype.kind == "f" and array.dtype != np.dtype(precision):
                boundary[input_name] = _code(array.dtype)

        conv_options: dict[Any, Any] = {}
        for est in _sub_estimators(model):
            if self.is_classifier(est) and hasattr(est, "predict_proba"):
                conv_options[id(est)] = {"zipmap": zipmap}
        for key, value in options.items():
            if not isinstance(key, str):
                conv_options[key] = value
            else:
                raise UnsupportedModelError(
                    f"unknown scikit-learn conversion option {key!r}; known options are "
                    "'zipmap', 'precision', 'input_name' (or skl2onnx options keyed by estimator id/type)"
                )
        ml_opset = _register_boosting(model, ml_opset)
        try:
            proto = skl2onnx.convert_sklearn(
                model,
                name=name or type(model).__name__,
                initial_types=initial_types,
                target_opset={"": opset, "ai.onnx.ml": ml_opset},
                options=conv_options or None,
            )
        except Exception as err:
            raise _unsupported(model, err) from err
        if boundary:
            from onnxgate._graph import cast_inputs

            cast_inputs(proto, boundary)
            warnings.append(
                f"inputs {sorted(boundary)} are fed as float64 and cast to {precision} inside the graph, "
                f"where the model computes in {precision}"
            )
        _dedupe_opset_imports(proto)
        if precision == "float64":
            _refuse_ill_typed_double(proto, model)
        return RawConversion(model=proto, warnings=warnings)

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        import numpy as np

        X = self.native_input(model, feeds, signature)
        outputs: list[Any] = []
        cache: dict[str, Any] = {}

        def call(method: str) -> Any:
            if method not in cache:
                cache[method] = np.asarray(getattr(model, method)(X))
            return cache[method]

        for i, spec in enumerate(signature.outputs):
            lname = spec.name.lower()
            if "prob" in lname and hasattr(model, "predict_proba"):
                outputs.append(call("predict_proba"))
            elif ("label" in lname or i == 0) and hasattr(model, "predict"):
                outputs.append(call("predict"))
            elif hasattr(model, "transform"):
                outputs.append(call("transform"))
            else:
                outputs.append(None)
        return outputs

    def native_input(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> Any:
        """Rebuild what the estimator was fitted on from ONNX feeds (a DataFrame when it has column names)."""
        import numpy as np

        names = signature.input_names
        columns = getattr(model, "feature_names_in_", None)
        if len(names) == 1 and (columns is None or names[0] not in set(map(str, columns))):
            return feeds[names[0]]
        if columns is not None:
            import pandas as pd

            return pd.DataFrame({n: np.asarray(feeds[n]).reshape(-1) for n in names})
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


def _code(dtype: np.dtype[Any]) -> int:
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(dtype))


def _refuse_ill_typed_double(proto: Any, model: Any) -> None:
    """skl2onnx accepts ``precision="float64"`` for models whose ONNX operators have no double form
    at the ai.onnx.ml opset it writes (tree ensembles at ai.onnx.ml 1: the node declares double
    outputs the operator cannot produce); such a file fails type inference and onnxruntime refuses
    it. Say so at conversion instead of handing it back."""
    import onnx

    try:
        onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except Exception as err:
        ops = sorted({n.op_type for n in proto.graph.node if n.domain == "ai.onnx.ml"})
        first = str(err).strip().splitlines()[0][:200]
        raise UnsupportedModelError(
            f"skl2onnx cannot write {type(model).__name__} in double precision at this opset: the file it "
            f"writes is ill-typed ({first}); operators involved: {ops}. Convert with the default "
            "precision='float32' (onnxgate casts float64 inputs inside the graph), or ask for a higher "
            "opset if your skl2onnx writes the double form of these operators there.",
            framework="sklearn",
        ) from None
    from onnxgate.validators.structure import _session

    try:
        _session(proto.SerializeToString())
    except Exception as err:
        first = str(err).strip().splitlines()[0][:200]
        raise UnsupportedModelError(
            f"{type(model).__name__} in double precision uses operators onnxruntime has no double kernel for "
            f"({first}). Convert with the default precision='float32' (onnxgate casts float64 inputs inside "
            "the graph).",
            framework="sklearn",
        ) from None


def _dedupe_opset_imports(proto: Any) -> None:
    """skl2onnx can list the default domain twice ('' and 'ai.onnx'); keep one entry per domain."""
    from onnxgate._onnx import model_opsets

    best = model_opsets(proto)  # one entry per domain, the highest version listed
    del proto.opset_import[:]
    for domain, version in best.items():
        item = proto.opset_import.add()
        item.domain = domain
        item.version = version


def _unsupported(model: Any, err: Exception) -> Exception:
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
    return UnsupportedModelError(
        f"skl2onnx could not convert {type(model).__name__}: {text.splitlines()[0] if text else type(err).__name__}",
        framework="sklearn",
    )

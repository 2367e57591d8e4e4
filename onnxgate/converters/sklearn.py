"""scikit-learn converter, through skl2onnx.

Policy:

* Inputs follow the sample. A DataFrame gives one ``[N,1]`` input per column, typed from its dtype,
  for any estimator: skl2onnx takes the columns itself when the model starts with a
  ColumnTransformer; a plain estimator (RandomForest, LogisticRegression...) reads one matrix, so
  its columns are cast to the compute type and concatenated inside the graph. Input names follow
  skl2onnx's sanitising (``sepal length (cm)`` -> ``sepal_length__cm_``) in both layouts. An array
  gives one ``[N,k]`` input named ``input``; a 1-D array is one column (LabelEncoder, text).
* Precision (``options={"precision": ...}`` or ``convert(..., precision=...)``): ``"auto"`` (the
  default) computes in float64 when the sample has float64 columns, or integer columns and no
  float32 one (scikit-learn reads integers as float64; a one-matrix integer sample enters the
  graph as its integers, cast to double inside, unless an encoder reads it), or text its vectorizers
  weigh in float64 and no float32 column (their default ``dtype``), and the double graph
  is well-typed and loads in the installed onnxruntime, else in float32 with a warning saying why;
  ``"float32"`` and ``"float64"`` force one (``float64`` refuses, with the reason, what cannot run).
  In a double graph, tree ensembles read float32 and their outputs are cast back to double: that
  is what scikit-learn's own trees compare, and ai.onnx.ml's tree operators only output float.
  Their leaves are added in double: the trees write leaf numbers that pick the float64 leaves, added
  as scikit-learn adds them (decision trees, forests of one output, gradient boosting, about 8 splits
  deep or deeper, or every depth when ``"float64"`` is asked for); shallower regressors and boosting
  models, whose trees are cheap, add each leaf's float64 value as a few whole numbers, which float32
  adds exactly, scaled back in double (within about 1e-13 of scikit-learn, at 1.04x-1.4x the float32
  file's time). SVC and NuSVC are written in double as libsvm computes them (decisions, votes, Platt's coupled
  probabilities; their scores for a CalibratedClassifierCV around them), fitted on sparse rows too; given skl2onnx's
  ``nocl`` or ``output_class_labels`` option they keep ai.onnx.ml's SVMClassifier, float32 only in onnxruntime:
  convert warns that part of the answer is float32, and the file records it (``onnxgate.float32_inside``).
  A tree or forest classifier does at any depth, so its label is ``predict``'s on tied votes (the first class); a
  forest of pure leaves (RandomForest's and ExtraTrees' default growth) adds its class proportions,
  exact in float32, and divides them in double, at about the float32 file's cost.
  HistGradientBoosting compares float64 too: its features are fed as ranks counted in double.
  float64 inputs of a float32 graph stay float64 at the boundary, with a Cast inside the graph, so
  a SQL ``float`` column feeds them; the model records ``onnxgate.precision`` so parity can name
  the setting that removes float32 flips.
* Classifiers emit plain tensors (``label``, ``probabilities``): ZipMap is switched off for every
  classifier whose skl2onnx converter takes the option, unless ``options={"zipmap": True}`` (or
  ``"columns"``). Options go only to converters that list them (RFE has none). ZipMap takes float32
  scores only: a double graph keeps its double answer, the probabilities cast to float32 right before it.
* The native reference is given the rows as it was fitted (float32 feeds widened to float64,
  sparse answers densified, 1-D estimators given 1-D arrays).
* skl2onnx's own faults are fixed where they are (:mod:`onnxgate.converters._skl2onnx_fixes`): on the
  first conversion, its tree writers are patched and its Binarizer, OneHotEncoder and SimpleImputer
  converters replaced, in this process. skl2onnx called directly afterwards in the same process
  writes the fixed files too (``scripts/coverage.py`` runs the raw converters in a fresh process).
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from onnxgate.converters._base import Converter, RawConversion, sanitise_names
from onnxgate.converters._skl2onnx_fixes import (
    GRAPH_FLOAT64,
    ROWS_FLOAT32,
    allowed_options,
    parsed_pattern,
    patch_adaboost_member_labels,
    patch_bagging_votes,
    patch_binary_stacking_decisions,
    patch_column_transformer_selection,
    patch_hard_voting_labels,
    patch_hist_gradient_boosting,
    patch_isotonic_calibration,
    patch_knn_distance_weights,
    patch_multi_output_member_options,
    patch_one_vs_one_scores,
    patch_operator_verification,
    patch_operator_version_table,
    patch_per_tree_predictions,
    patch_per_tree_thresholds,
    patch_pipeline_step_options,
    patch_qda_sum_of_logs,
    patch_radius_neighbors,
    patch_stacking_final_labels,
    register_binarizer,
    register_binary_discriminant,
    register_double_isolation_forest,
    register_double_kernel_svm,
    register_double_linear_scores,
    register_double_polynomial_features,
    register_double_power_transformer,
    register_exact_float32_scalers,
    register_exact_kbins,
    register_feature_selection,
    register_function_transformer,
    register_gradient_boosting_init,
    register_hist_category_codes,
    register_knn_imputer,
    register_label_binarizer,
    register_modified_huber_labels,
    register_multiclass_gaussian_process,
    register_normalizer,
    register_one_hot_encoder,
    register_one_vs_rest_decisions,
    register_ordinal_encoder,
    register_simple_imputer,
    register_target_encoder,
    register_text_vectorizer,
    register_tfidf_transformer,
    register_tree_of_unequal_targets,
    register_tuned_threshold,
    unicode_classes,
    unknown_value_notes,
)
from onnxgate.converters._sklearn_extra import register_missing_converters
from onnxgate.converters._sklearn_geometry import register_geometry_converters
from onnxgate.converters._sklearn_graph import (
    BINARY_SCORES,
    DOUBLE_LEAVES_MIN_SPLITS,
    NoDouble,
    binary_scores_by_class,
    classes_at_positions,
    declare_binary_scores,
    declare_double_outputs,
    declare_output_ranks,
    declare_target_widths,
    declare_targets,
    dedupe_opset_imports,
    double_feature_vectorizers,
    double_tree_leaves,
    exact_hist_thresholds,
    exp_link,
    exponential_link_in_double,
    float32_as_scikit_learn,
    float32_ml_outputs,
    float32_tree_ensembles,
    float32_tree_outputs,
    inverse_steps,
    inverse_target,
    label_per_row,
    labels_as_classes,
    lightgbm_category_codes,
    mlp_targets,
    portable_locale,
    probabilities_per_row,
    radius_outliers,
    record_row_width,
    refuse_ill_typed_double,
    root_line,
    set_metadata,
    unanswered_scores,
    unzipped,
    zero_init_base_values,
    zipmap_column_names,
    zipped_in_float32,
)
from onnxgate.converters._sklearn_models import (
    boolean_category_columns,
    branch_columns,
    delegates_unwrapped,
    encoded_missing_categories,
    final_step,
    first_step,
    float32_category_collisions,
    float64_attributes,
    hist_category_codes,
    hist_category_columns,
    hist_missing_text,
    imputed_missing_text,
    int64_classes,
    number_columns,
    positional_classes,
    regressor_of,
    selector_then_estimator,
    sub_estimators,
    takes_1d,
    transform_steps,
    unknown_missing_text,
    without_unwritable_settings,
)
from onnxgate.converters._sklearn_quantiles import register_quantile_transformer
from onnxgate.converters._sklearn_text import register_hashing_vectorizer
from onnxgate.errors import (
    InvalidDataError,
    OnnxGateError,
    ParityError,
    UnsupportedModelError,
    UntrustedFileError,
    missing_dependency,
)

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["PRECISIONS", "PRECISION_METADATA_KEY", "RAW_SCORES_METADATA_KEY", "SklearnConverter"]

#: Values of the ``precision`` option: ``auto`` keeps float64 where scikit-learn computes in float64 (float64 or
#: integer rows, text vectorized in float64) and the double graph is well-typed and runs; else float32.
PRECISIONS = ("auto", "float32", "float64")
#: ``metadata_props`` key recording what the graph computes in: ``float64``, or
#: ``float32-from-float64`` (float64 inputs cast to float32 inside the graph); parity names the fix.
PRECISION_METADATA_KEY = "onnxgate.precision"
#: ``metadata_props`` key recording that the user asked skl2onnx's ``raw_scores`` option of the classifier whose
#: answer the file gives: its ``probabilities`` output holds the decision scores (``decision_function``; two
#: classes as ``[-d, d]``), which parity compares with the estimator's ``decision_function`` laid out so
#: (:meth:`SklearnConverter.reference_for`). It compared them with ``predict_proba``, and every such file failed.
RAW_SCORES_METADATA_KEY = "onnxgate.raw_scores"
#: The attribute :meth:`SklearnConverter.reference_for` sets on its copy of a reference whose file holds raw scores.
_RAW_SCORES_MARK = "_onnxgate_raw_scores"

_ONNXMLTOOLS_HINT = {
    "xgboost": "install onnxmltools and register its XGBoost converter with skl2onnx.update_registered_converter",
    "lightgbm": "install onnxmltools and register its LightGBM converter with skl2onnx.update_registered_converter",
    "catboost": "export with CatBoost's own save_model(format='onnx') and validate the file with onnxgate",
}


#: What to do with an estimator that answers nothing for new rows, where more can be said.
NO_ANSWER_HINTS = {
    "LocalOutlierFactor": "Refit it with novelty=True, which gives it predict and decision_function for new rows",
    "KernelDensity": "Its score_samples (the log density) is not converted",
    **{search: "A search fitted with refit=False keeps no model; fit it with refit=True (the default)"
       for search in ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV")},
}


def _skl2onnx() -> Any:
    try:
        import skl2onnx
    except ImportError as err:
        raise missing_dependency("skl2onnx", "sklearn", "Converting a scikit-learn model") from err
    patch_hist_gradient_boosting()
    patch_per_tree_thresholds()
    patch_per_tree_predictions()
    register_tree_of_unequal_targets()
    patch_radius_neighbors()
    patch_qda_sum_of_logs()
    patch_knn_distance_weights()
    patch_isotonic_calibration()
    patch_operator_verification()
    patch_operator_version_table()
    register_simple_imputer()
    register_one_hot_encoder()
    register_ordinal_encoder()
    register_target_encoder()
    register_multiclass_gaussian_process()
    register_one_vs_rest_decisions()
    patch_binary_stacking_decisions()
    patch_bagging_votes()
    patch_hard_voting_labels()
    patch_adaboost_member_labels()
    patch_one_vs_one_scores()
    patch_multi_output_member_options()
    patch_pipeline_step_options()
    patch_column_transformer_selection()
    patch_stacking_final_labels()
    register_binarizer()
    register_label_binarizer()
    register_double_polynomial_features()
    register_double_power_transformer()
    register_knn_imputer()
    register_normalizer()
    register_tfidf_transformer()
    register_quantile_transformer()
    register_text_vectorizer()
    register_exact_kbins()
    register_feature_selection()
    register_tuned_threshold()
    register_function_transformer()
    register_gradient_boosting_init()
    register_exact_float32_scalers()
    register_binary_discriminant()
    register_double_isolation_forest()
    register_double_kernel_svm()
    register_double_linear_scores()
    register_hist_category_codes()
    register_modified_huber_labels()
    register_missing_converters()
    register_geometry_converters()
    register_hashing_vectorizer()
    return skl2onnx


class SklearnConverter(Converter):
    framework = "sklearn"
    MODULE_PREFIXES = ("sklearn.",)
    DEFAULT_OPSET = 17
    MIN_OPSET = 9
    #: skl2onnx 1.20's newest tested opset (skl2onnx.get_latest_tested_opset_version()).
    MAX_OPSET = 22

    FILE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".skops")
    PRECISIONS: ClassVar[tuple[str, ...]] = PRECISIONS
    #: Estimators whose graph needs an opset above the default (a KNNImputer's, onnxgate's own, reduces with its
    #: axes as an input, opset 18; skl2onnx 1.20's refused opsets below 18): a model holding one is converted at
    #: that opset unless asked otherwise.
    NEWER_OPSET: ClassVar[dict[str, int]] = {"KNNImputer": 18}

    def fitted_columns(self, model: Any) -> list[str] | None:
        return _fitted_columns(model)[0]

    def read_columns(self, model: Any) -> list[str] | None:
        fitted = _fitted_columns(model)[0]
        if fitted is None:
            return None
        dropped = set(unread_columns(model))
        return [c for c in fitted if c not in dropped]

    def min_opset_for(self, model: Any) -> int:
        return max([self.MIN_OPSET, *(self.NEWER_OPSET.get(type(est).__name__, 0) for est in sub_estimators(model))])

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        suffix = path.suffix.lower()
        if suffix == ".skops":
            # before skops is imported (6-19 s): its "File is not a zip file" said no fix
            _refuse_other_than_skops(path)
            try:
                import skops.io as sio
            except ImportError as err:
                raise missing_dependency("skops", "sklearn", "Loading a .skops file") from err
            return _skops_load(sio, path, trust_pickle)
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
        import numpy as np
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
        _refuse_unfitted_steps(model)
        from onnxgate.converters._boosting import lightgbm_categories

        # checked as converted: a FrozenEstimator's model or a SelfTrainingClassifier's fitted estimator_ is where
        # it sits (a frozen hard-voting classifier was refused as one inside another model, and a self-trained
        # forest of one class was not refused at all: 150 of 150 iris labels differed)
        model, _ = delegates_unwrapped(model, {})
        alone, _, _ = regressor_of(model, {})  # a search converts as its best estimator, likewise a target transform
        if not any(hasattr(alone, m) for m in ("predict", "transform", "predict_proba", "decision_function")):
            # a clusterer of its training rows only (DBSCAN, SpectralClustering...), an embedding of them
            # (TSNE, MDS), a covariance estimate: skl2onnx has no converter, and none could be written
            raise UnsupportedModelError(
                f"{type(alone).__name__} answers nothing for new rows: it has no predict, transform, predict_proba "
                "or decision_function (only fit_predict or fit_transform on its training data, or statistics of "
                "it), so there is no model to convert. "
                + NO_ANSWER_HINTS.get(type(alone).__name__, "Use an estimator that predicts or transforms new rows"),
                framework=self.framework,
            )
        from sklearn.base import is_regressor

        from onnxgate.converters.catboost import cat_feature_indices

        for est in sub_estimators(model):
            for step in transform_steps(est):
                if is_regressor(step):
                    # skl2onnx writes a regressor's predict wherever it sits; a fitted CCA frozen before a
                    # LogisticRegression, read there for its transform, made 365 of 569 labels differ, convert silent
                    raise UnsupportedModelError(
                        f"{type(step).__name__} inside {type(est).__name__} answers transform there, which onnxgate "
                        "does not write for a regressor: its converter writes the regressor's predict. Convert "
                        f"{type(step).__name__} on its own or as a pipeline's last step (its predict), or, for a "
                        "projection of the rows (CCA, PLS), use a transformer in that place (PCA, PLSSVD)",
                        framework=self.framework,
                    )
            if est is not alone and type(est).__module__.split(".")[0] == "catboost" and cat_feature_indices(est):
                # skl2onnx hands the step one matrix, and CatBoost's export refuses categories: the pipeline was
                # refused by skl2onnx's type check or by "reads one matrix of numbers", naming neither (helper-145)
                names = list(getattr(est, "feature_names_", None) or [])
                cats = [names[i] if i < len(names) else i for i in cat_feature_indices(est)]
                raise UnsupportedModelError(
                    f"{type(est).__name__} inside a scikit-learn pipeline reads categorical features (cat_features "
                    f"{cats}), which onnxgate converts only for the CatBoost model on its own (skl2onnx hands a "
                    "pipeline's step one matrix of numbers). Fit the CatBoost model on the DataFrame itself (it reads "
                    "the categories, and its trees need no scaling) and convert it alone: og.convert(model, X_train)",
                    framework=self.framework,
                )
            if est is not alone and lightgbm_categories(est):
                # skl2onnx hands the step one matrix: the text of a category column went into a Concat
                # with the numbers, and convert wrote (exit 0) a file onnxruntime cannot load
                raise UnsupportedModelError(
                    f"{type(est).__name__} inside a scikit-learn pipeline was fitted on pandas category columns, "
                    "whose values onnxgate maps to LightGBM's codes only for the LightGBM model on its own "
                    "(skl2onnx hands a pipeline's step one matrix of numbers). Convert the LightGBM model alone, "
                    "with a sample of its input columns",
                    framework=self.framework,
                )
            if (type(est).__name__ == "VotingClassifier" and getattr(est, "voting", None) == "hard"
                    and est is not final_step(alone)):
                # its vote shares stand in for probabilities, which an ensemble around it reads as such: a
                # StackingClassifier holding one wrote a file onnxruntime cannot run (helper-75)
                raise UnsupportedModelError(
                    f"a hard-voting VotingClassifier inside {type(alone).__name__} is not converted: it has no "
                    "probabilities, and skl2onnx writes its vote shares where the ensemble around it reads them. "
                    "Use voting='soft' there, or convert the hard-voting classifier as the model's last step",
                    framework=self.framework,
                )
            if type(est).__name__ in ("TunedThresholdClassifierCV", "FixedThresholdClassifier") and (
                    est.response_method == "decision_function" or not hasattr(est.estimator_, "predict_proba")):
                # its label is written from the estimator's probability (convert_threshold_classifier); its
                # decision_function is not one of skl2onnx's outputs for every classifier
                raise UnsupportedModelError(
                    f"{type(est).__name__} thresholds its estimator's decision_function, which onnxgate does not "
                    f"write ({type(final_step(est.estimator_)).__name__}'s probabilities only). Fit it with "
                    "response_method='predict_proba' (the default 'auto' uses it) around a classifier that has "
                    "predict_proba, e.g. CalibratedClassifierCV(LinearSVC()) or LogisticRegression",
                    framework=self.framework,
                )
            binarizer = getattr(est, "_label_binarizer", None)
            if type(est).__name__ == "MLPClassifier" and getattr(binarizer, "y_type_", "") == "multilabel-indicator":
                # skl2onnx writes [N, 2k] probabilities in no order scikit-learn's [N, k] has (row 0: [1, 0, 0, 1]
                # against [3.8e-11, 1]); parity failed it, convert had said nothing (helper-77)
                raise UnsupportedModelError(
                    "MLPClassifier fitted on several labels at once (multi-label) is not converted: skl2onnx writes "
                    "its probabilities in another layout than predict_proba's. Fit one MLPClassifier per label, or "
                    "wrap it in MultiOutputClassifier",
                    framework=self.framework,
                )
            leaf = _saturated_init_leaf(est)
            if leaf is not None:
                # the init's probabilities were 0 or 1 to float32's precision on the training rows: their logit is
                # clipped (±36) and each Newton step divides by p(1 - p) ~ 0, so the answer is a difference of
                # leaves 1e13 apart (GaussianNB on breast_cancer), which no float32 tree and no other summing order
                # reproduces: 8 of 569 labels flipped, probabilities 1.0 off, on a file convert had handed back
                raise UnsupportedModelError(
                    f"{type(est).__name__}(init={type(est.init_).__name__}(...)) is not converted: expected tree "
                    f"leaves of a log-odds scale (|leaf x learning_rate| up to {MAX_BOOSTING_LEAF:g}), found "
                    f"{leaf:.3g}. Its init estimator's probabilities are 0 or 1 to float32's precision on the "
                    "training rows, so boosting divided by p(1 - p) ~ 0 and its answer is a difference of huge "
                    "leaves that float32 rounding or another summing order turns over. Refit it with init=None (the "
                    "prior), a LogisticRegression or a CalibratedClassifierCV around the init estimator",
                    framework=self.framework,
                )
            kernel = getattr(est, "kernel", None)
            if hasattr(est, "support_vectors_") and (kernel == "precomputed" or callable(kernel)):
                # its support vectors are empty: it was refused as having none, which told to refit with C larger
                why = ("it scores a row by its kernel values against the training rows, which a graph fed feature "
                       "rows cannot compute" if kernel == "precomputed"
                       else "its kernel is a Python function, which cannot be read into a graph")
                raise UnsupportedModelError(
                    f"{type(est).__name__}(kernel={'precomputed' if kernel == 'precomputed' else 'a callable'!r}) "
                    f"is not converted: {why}. Refit it with kernel 'linear', 'poly', 'rbf' or 'sigmoid' (for a "
                    "Gram matrix X @ X.T, kernel='linear'), or put the kernel map before it (Nystroem)",
                    framework=self.framework,
                )
            support = getattr(est, "support_vectors_", None)
            if support is not None and getattr(support, "shape", (1,))[0] == 0:
                # skl2onnx: "Could not infer attribute `coefficients` type from empty iterator" (helper-74)
                raise UnsupportedModelError(
                    f"{type(est).__name__} has no support vectors (every training row lies within its margin, "
                    f"epsilon={getattr(est, 'epsilon', '?')}, or the target is constant), so it answers the same "
                    f"value for every row ({np.ravel(getattr(est, 'intercept_', [np.nan])).tolist()}); skl2onnx "
                    "writes no SVM without them. Refit it with a smaller epsilon or C larger, or on a scaled "
                    "target, if the constant is not what it should answer",
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
            if type(est).__name__ == "MultiOutputClassifier" and any(
                    hasattr(member, "steps") for member in getattr(est, "estimators_", ())):
                # skl2onnx's converter builds each member as one sub-estimator, which a pipeline is not
                # ("Empty inputs outputs=[] var=OnnxSubEstimator"; raw skl2onnx too)
                raise UnsupportedModelError(
                    "MultiOutputClassifier over a Pipeline is not converted (skl2onnx writes each of its members "
                    "as one classifier). Put the shared steps before it instead: make_pipeline(StandardScaler(), "
                    "MultiOutputClassifier(LogisticRegression())) converts",
                    framework=self.framework,
                )
            if type(est).__name__ == "RandomTreesEmbedding" and est is not alone:
                # skl2onnx's parser of it ends the graph there: the file answered the embedding, not the
                # steps after it
                raise UnsupportedModelError(
                    f"RandomTreesEmbedding inside {type(alone).__name__} is not converted: skl2onnx writes the "
                    "embedding as the model's output and loses the steps after it. Convert it on its own",
                    framework=self.framework,
                )
            categorical = getattr(est, "is_categorical_", None)
            if (type(est).__name__.startswith("HistGradientBoosting") and categorical is not None
                    and any(categorical) and est is not alone and est is not final_step(alone)):
                # its category splits are written as sets, with its own encoder in front of it: on the data
                # where it reads them itself, on the matrix of the steps before where it ends a pipeline
                # (:func:`hist_category_codes`); inside an ensemble or a column transformer skl2onnx hands
                # it a matrix no such step is written in front of
                columns = [int(i) for i in range(len(categorical)) if categorical[i]]
                raise UnsupportedModelError(
                    f"{type(est).__name__} was fitted with categorical features (feature(s) {columns}) inside "
                    f"{type(alone).__name__}; onnxgate converts such a model on its own or as a pipeline's last "
                    "step. Convert it that way, or fit it without categorical_features",
                    framework=self.framework,
                )
            if (type(est).__name__.startswith("HistGradientBoosting") and categorical is not None
                    and any(categorical) and est is not alone):
                encoder = est._preprocessor.named_transformers_["encoder"]
                text = [str(v) for c in encoder.categories_ for v in c if not isinstance(v, (int, float, np.number))]
                if text:
                    # after other steps the model reads one matrix of numbers (skl2onnx concatenates)
                    raise UnsupportedModelError(
                        f"{type(est).__name__} at the end of a pipeline was fitted on text categories ({text[:3]}) "
                        "that the steps before hand it as they are; in the ONNX graph those steps make one matrix "
                        "of numbers. Encode the categories before it (an OrdinalEncoder in a ColumnTransformer), "
                        "or convert the model on its own",
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
                "names and types; pass convert(model, X[:5]) (CLI: --sample FILE)"
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
        options = _options_by_id(model, options)
        model, options = delegates_unwrapped(model, options)
        model, options, target_transformer = regressor_of(model, options)
        model = selector_then_estimator(model)
        if target_transformer is not None:
            inverse_steps(target_transformer)  # refused before converting anything, when not written here
        model, options, encoded_missing = encoded_missing_categories(model, options)
        flagged = {c for c, v in encoded_missing.items() if v.pop("integers", None) == "bool"}
        encoded_missing = {c: v for c, v in encoded_missing.items() if v}
        columns = _sample_columns(model, sample, input_name, flagged)
        float64_data = any(c.dtype.kind == "f" and c.dtype.itemsize == 8 for c in columns)
        # scikit-learn reads integer rows as float64: a GaussianNB on digits' int64 pixels computed in float32
        # flipped 2 of 597 labels, convert silent (helper-105). Rows with a float32 column stay float32
        integers = bool(columns) and any(c.dtype.kind in "iu" for c in columns) and not any(
            c.dtype.kind == "f" and c.dtype.itemsize < 8 for c in columns)
        # scikit-learn weighs text in float64 (the vectorizers' default dtype; a CountVectorizer's int64 counts are
        # read as float64): a TfidfVectorizer + LogisticRegression fitted on a list of text answered float32
        # probabilities 1.5e-7 off. A vectorizer asked for float32, or a float32 column beside, keeps float32
        text = _text_in_float64(model) and not any(c.dtype.kind == "f" and c.dtype.itemsize < 8 for c in columns)
        if precision == "auto":
            attempts = ["float64", "float32"] if float64_data or integers or text else ["float32"]
        else:
            attempts = [precision]
        warnings: list[str] = unknown_value_notes(model)
        warnings.extend(_tokenizer_notes(model))
        row_width, wide_note = _widest_row(model)
        warnings.extend(wide_note)
        model, options = int64_classes(model, options)
        model, options, true_classes = positional_classes(model, options)
        model, options = without_unwritable_settings(model, options, warnings)
        missing_text: dict[str, Any] = {}
        if hasattr(sample, "columns"):  # text fed for a missing value: an unknown category's, an imputer's fill
            # (NaN only), or trees'
            missing_text = {**unknown_missing_text(model),
                            **{c: {"text": t, "only": "nan"} for c, t in imputed_missing_text(model).items()},
                            **hist_missing_text(model), **encoded_missing}
        # the user's encoders, not the one hist_category_codes puts in front of a HistGradientBoosting model
        collisions = float32_category_collisions(model)
        model = hist_category_codes(model, sample)
        conv_options = self._converter_options(model, zipmap, options)
        raw_scores = _raw_scores_asked(model, options)
        ml_opset = _register_boosting(model, ml_opset)
        no_double = False
        from onnxgate.converters._boosting import SAMPLE_FLOAT64

        rows_type = SAMPLE_FLOAT64.set(float64_data)  # a LightGBM step's thresholds follow the rows' type
        numbers = [c.dtype for c in columns if c.dtype.kind in "fiu"]
        rows32 = ROWS_FLOAT32.set(bool(numbers) and all(d.kind == "f" and d.itemsize <= 4 for d in numbers))
        try:
            for compute in attempts:
                fitted, fitted_options = (float64_attributes(model, conv_options) if compute == "float64"
                                          else (model, conv_options))
                said = len(warnings)
                double_graph = GRAPH_FLOAT64.set(compute == "float64")
                try:
                    proto = self._convert_at(fitted, columns, compute, opset, ml_opset, name, fitted_options, warnings,
                                             every_leaf=precision == "float64", raw_scores=raw_scores)
                except NoDouble as reason:
                    if precision == "float64":
                        raise UnsupportedModelError(str(reason), framework=self.framework) from None
                    del warnings[said:]  # what the double attempt said of its graph ("cast to float64") is gone
                    why = ("the sample is float64" if float64_data
                           else "scikit-learn reads the integer rows as float64" if integers
                           else "scikit-learn weighs the text in float64")
                    warnings.append(
                        f"computed in float32 although {why}: {reason.short}. Parity can differ from the float64 "
                        "estimator by float32 rounding (a label can flip near a threshold)"
                    )
                    no_double = True
                    continue
                finally:
                    GRAPH_FLOAT64.reset(double_graph)
                if true_classes is not None:
                    classes_at_positions(proto, true_classes)
                if compute == "float32" and float64_data:
                    # ":no-double": asking for float64 is no fix (parity's hint must not send the user there)
                    set_metadata(proto, PRECISION_METADATA_KEY,
                                  "float32-from-float64:no-double" if no_double else "float32-from-float64")
                elif compute == "float64":
                    set_metadata(proto, PRECISION_METADATA_KEY, "float64")
                elif precision == "auto":
                    # float32 rows: a double graph was not tried, and parity's hint may name it
                    set_metadata(proto, PRECISION_METADATA_KEY, "float32")
                if raw_scores:
                    set_metadata(proto, RAW_SCORES_METADATA_KEY, type(final_step(model)).__name__)
                from onnxgate._graph import HIST_CODES

                hists = {id(e) for e in sub_estimators(model)  # the fitted ones, not an ensemble's templates
                         if type(e).__name__.startswith("HistGradientBoosting") and hasattr(e, "_predictors")}
                exact = sum(n.op_type == "Concat" and n.name.startswith(HIST_CODES) for n in proto.graph.node)
                histogram = sorted({type(e).__name__ for e in sub_estimators(model)
                                    if (type(e).__name__.startswith("HistGradientBoosting") and exact < len(hists))
                                    or type(e).__module__.split(".")[0] == "lightgbm"})
                if float64_data and histogram:
                    # the tree ensembles run float32 in every graph (float32_tree_ensembles), as the other
                    # scikit-learn trees compare; HistGradientBoosting and LightGBM (a pipeline's step: on its
                    # own LightGBM says so itself; helper-116) compare float64 with double thresholds.
                    # HistGradientBoosting's numeric splits are fed as ranks counted in double
                    # (exact_hist_thresholds): warned of where an ensemble of its could not be
                    warnings.append(
                        f"{histogram[0]} compares float64 features with double thresholds; the graph's trees "
                        "compare them as float32 (ai.onnx.ml's tree ensembles), whatever the precision, so a value "
                        "within a float32 step of a threshold can take the other branch: validate with the data "
                        "the model will score"
                    )
                collided = collisions if compute == "float32" and float64_data else []
                if collided:
                    # 16777216.0 and 16777217.0 (store numbers, ids) read as one category by every float32 route:
                    # parity failed 159 of 900 rows and said only 'the conversion itself may be wrong'
                    fix = ("" if no_double else
                           "; convert with precision='float64' (CLI: --precision float64) to tell them apart")
                    warnings.append(
                        f"categories {'; '.join(collided)} are one float32 value: this float32 file reads "
                        f"them as one category and scores their rows alike, where the model tells them apart{fix}"
                    )
                if target_transformer is not None:
                    inverse_target(proto, target_transformer)
                from onnxgate._data import is_dataframe

                unread = unread_columns(model) if is_dataframe(sample) else []
                if unread:
                    import json

                    from onnxgate.columns import UNREAD_METADATA_KEY

                    set_metadata(proto, UNREAD_METADATA_KEY, json.dumps(unread, ensure_ascii=False))
                    warnings.append(f"column(s) {unread} are dropped by the model's ColumnTransformer: they are no "
                                    "input, and data holding them is fed without them")
                if integers:
                    _integers_as_answered(proto, model, sample)
                record_row_width(proto, row_width)  # double_tree_leaves may have recorded a wider one
                texts = {c.name: missing_text[c.original] for c in columns
                         if c.original in missing_text and (c.dtype.kind in "OUS" or c.original in flagged)}
                if texts:  # a missing category is fed as an unknown one (trees) or as the imputer's fill
                    import json

                    from onnxgate.signature import MISSING_TEXT_METADATA_KEY

                    set_metadata(proto, MISSING_TEXT_METADATA_KEY, json.dumps(texts, ensure_ascii=False))
                return RawConversion(model=proto, warnings=warnings)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            SAMPLE_FLOAT64.reset(rows_type)
            ROWS_FLOAT32.reset(rows32)

    def _converter_options(self, model: Any, zipmap: Any, user: Mapping[Any, Any]) -> dict[Any, Any]:
        """Per-estimator skl2onnx options: ``zipmap`` for every estimator whose converter takes it.

        A converter that lists no ``zipmap`` (RFE, RFECV, a regressor...) refuses the option, so it is
        only passed where skl2onnx's registration allows it.
        """
        conv_options: dict[Any, Any] = {}
        for est in sub_estimators(model):
            if not self.is_classifier(est):
                continue
            # a Pipeline's converter lists zipmap too, but accepts it only with a classifier at the end
            # whose own converter takes it: skl2onnx hands the pipeline's option on to that step, and
            # LinearSVC's converter refused it ("Option 'zipmap' not in [...]")
            last = est
            while hasattr(last, "steps") and last.steps:
                last = last.steps[-1][1]
            allowed_last = allowed_options(last)
            if allowed_last and "zipmap" not in allowed_last:  # a converter that lists its options, without it
                conv_options[id(last)] = {}  # an entry of its own: skl2onnx then adds no zipmap to it
            elif "zipmap" in allowed_options(est):
                conv_options[id(est)] = {"zipmap": zipmap}
        for key, value in user.items():
            # merged: the user's raw_scores for a classifier replaced its zipmap=False, and the file answered a
            # ZipMap nobody asked for
            mine = conv_options.get(key)
            conv_options[key] = ({**mine, **value} if isinstance(mine, Mapping) and isinstance(value, Mapping)
                                 else value)
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
        *,
        every_leaf: bool = False,
        raw_scores: bool = False,
    ) -> Any:
        """Convert with floats computed in ``compute``; float inputs keep the sample's dtype at the boundary.
        ``every_leaf``: trees of any depth add their leaves in double (float64 asked for), not only deep ones.
        ``raw_scores``: the user asked skl2onnx's ``raw_scores`` of the final classifier (:func:`_raw_scores_asked`)."""
        import numpy as np
        import skl2onnx  # patched by convert's _skl2onnx() (0.3-0.7 ms a call: once a conversion)

        compute_dtype = np.dtype(compute)
        # input position -> element type fed from outside (positions: skl2onnx renames the inputs)
        wider = {i: _code(c.dtype) for i, c in enumerate(columns) if c.dtype.kind == "f" and c.dtype != compute_dtype}
        boundary: dict[str, int] = {}
        concat, refused = False, None
        # a bool column an encoder may read enters skl2onnx as int64 (0 and 1), cast from the bool input inside
        # the graph: skl2onnx wrote an OrdinalEncoder's bool categories as text keys on the bool input (a file
        # onnxruntime refuses) and refused a OneHotEncoder's ("BooleanTensorType input datatype not yet supported")
        flags = ({i: _code(c.dtype) for i, c in enumerate(columns) if c.dtype.kind == "b"}
                 if _selects_columns(model) or not _reads_numbers(model) else {})
        seen = [np.dtype(np.int64) if i in flags else c.dtype for i, c in enumerate(columns)]
        if len(columns) > 1:
            if compute_dtype.itemsize == 8 and _members_select_columns(model):
                # scikit-learn reads integer columns as float64; given to skl2onnx as int64 and int32, a
                # ColumnTransformer's StandardScaler over them became ai.onnx.ml's Scaler, float32 whatever
                # its input (an int64 'age' and int32 'count' gave a LogisticRegression float32
                # probabilities, 3.9e-7 off in a graph recorded as float64). They enter as double, cast
                # inside from the sample's integers; an encoder's integer categories stay integers (IDs). A
                # plain estimator's columns are concatenated as double already (below). The ColumnTransformers
                # of a Stacking or Voting model's members too (a soft vote's probabilities were 5.2e-7 off).
                encoded = _encoded_columns(model)
                numbers = {i: _code(c.dtype) for i, c in enumerate(columns)
                           if c.dtype.kind in "iu" and c.original not in encoded}
                seen = [np.dtype(np.float64) if i in numbers else kind for i, kind in enumerate(seen)]
                wider.update(numbers)
            # the original names: a ColumnTransformer selects by them (skl2onnx sanitises them itself)
            initial = [(c.original, _tensor_type(seen[i], 1, compute_dtype)) for i, c in enumerate(columns)]
        elif columns[0].dtype.kind in "iu" and _reads_numbers(model):
            # scikit-learn computes on integer rows in float64; skl2onnx's converters cast an integer input to
            # float32 (a GaussianNB flipped 2 of 597 digits; helper-105): the matrix enters as double, the input
            # stays the sample's integers, cast inside the graph. In float32 (the fallback where the double graph
            # cannot be written) it enters as float32: skl2onnx's PowerTransformer and KNNImputer refused int64
            # ("Conflicted constraint 'T'"), so the fallback failed where float64 rows converted
            initial = [(columns[0].name, _tensor_type(np.dtype(np.float64), columns[0].width, compute_dtype))]
            wider[0] = _code(columns[0].dtype)
        else:
            # a ColumnTransformer left with one column read (the others dropped) selects it by its own name too:
            # 'plan type' as 'plan_type' was "Unable to find column name 'plan type'" (helper-112's leftover)
            selected = columns[0].original != columns[0].name and _selects_columns(model)
            initial = [(columns[0].original if selected else columns[0].name,
                        _tensor_type(seen[0], columns[0].width, compute_dtype))]
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
            imputed = _imputed_columns(model)
            integers = {i: _code(c.dtype) for i, c in enumerate(columns)
                        if c.dtype.kind in "iu" and c.original in imputed}
            proto = None
            if len(columns) > 1 and integers and _refuses_integers(err):
                # a SimpleImputer over an int64 column in a ColumnTransformer: that column (only: an int64 ID
                # beside it, one-hot encoded, would merge its categories above 2**24 in float32; found by
                # helper-70) enters as the compute float; the input stays int64, cast inside the graph
                floats = [(name, _tensor_type(compute_dtype, 1, compute_dtype) if i in integers else kind)
                          for i, (name, kind) in enumerate(initial)]
                try:
                    proto = skl2onnx.convert_sklearn(positioned, name=graph_name, initial_types=floats,
                                                     target_opset=target_opset, options=options or None)
                    wider.update(integers)
                except Exception:
                    proto = None
            if proto is None and len(columns) > 1 and _takes_one_input(err):
                concat, refused = True, err
            elif proto is None:
                if len(columns) == 1 and columns[0].dtype.kind in "US" and "StringTensorType" in str(err):
                    # a .npy sample saved as text ('5.1'): skl2onnx's "got an input ... with a wrong type
                    # StringTensorType" said nothing of the sample (helper-373)
                    raise InvalidDataError(
                        f"the sample holds text ({columns[0].dtype}) where {type(model).__name__} reads numbers; "
                        "save it as numbers (numpy.save(PATH, X.astype(float))), or give the rows as a CSV file",
                    ) from err
                raise _conversion_error(model, err, compute) from err
        else:
            # Many converters read only their first input and say nothing (PowerTransformer computed all 13
            # wine features from 'alcohol', SelectKBest gathered past its width): an input no node reads
            # means the step takes one matrix. A ColumnTransformer may leave a dropped column unread.
            # skl2onnx concatenates several inputs in the first one's type: an int64 'age' first cast every
            # float column to int64 before a StandardScaler (wrong on every row, and passed by data whose
            # floats were whole; helper-73). Those columns are one matrix of the compute float instead; integer
            # columns read as integers (an encoder's IDs above 2**24) stay as they are (helper-75).
            concat = len(columns) > 1 and not _selects_columns(model) and bool(
                _unread_inputs(proto) or _overfed_nodes(proto) or _floats_cast_to_integers(proto))
        if concat:
            # A plain estimator fitted on a DataFrame reads one [N,k] matrix: its columns are
            # concatenated (each cast to the compute type) inside the graph, one input per column.
            text = [c.original for c in columns if c.dtype.kind not in "fiub"]
            if text and refused is not None and _selects_columns(model):
                # the columns were picked by a ColumnTransformer, and a step of it refused them: its reason,
                # not "encode the text" (a KNNImputer beside a OneHotEncoder; helper-102)
                raise _conversion_error(model, refused, compute) from refused
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
        if (len(columns) > 1 or initial[0][0] != columns[0].name) and not concat:
            _name_inputs(proto, [c.name for c in columns])
        if concat:
            columns_into_input(proto, matrix, [(c.name, _code(c.dtype)) for c in columns])
            boundary = {columns[i].name: code for i, code in wider.items()}  # cast by the Concat front
        elif wider or flags:
            names = [vi.name for vi in proto.graph.input]
            boundary = {names[i]: code for i, code in wider.items()}
            # the bool columns fed as bool again (no warning, unlike the wider floats: 0 and 1 are exact)
            cast_inputs(proto, {**boundary, **{names[i]: code for i, code in flags.items()}})
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
        # a ZipMap reads float32 only: taken off a double graph while it is settled, then put back after a Cast
        zipmap_end = unzipped(proto) if compute == "float64" else None
        dedupe_opset_imports(proto)
        declare_output_ranks(proto)
        declare_binary_scores(proto, model, raw_scores=raw_scores)
        binary_scores_by_class(proto, model, raw_scores=raw_scores)
        mlp_targets(proto, model)
        declare_targets(proto, model)
        zero_init_base_values(proto, model)
        probabilities_per_row(proto, model, opset)
        label_per_row(proto, model)
        exp_link(proto, model)
        portable_locale(proto, warnings)
        labels_as_classes(proto, model)
        radius_outliers(proto, model)
        unanswered_scores(proto, model, warnings)
        lightgbm_category_codes(proto, model, opset)
        if compute == "float64":
            double_feature_vectorizers(proto)
            float32_tree_ensembles(proto)
            exact_hist_thresholds(proto, model)
            double_tree_leaves(proto, model, 0.0 if every_leaf else DOUBLE_LEAVES_MIN_SPLITS)
            exponential_link_in_double(proto)
            float32_as_scikit_learn(proto)
            scored = float32_ml_outputs(proto)
            if scored:
                # an SVC or NuSVC onnxgate does not write in double (fitted on sparse rows, skl2onnx's nocl option):
                # a NuSVC on wine answered decision_function 2e-4 off in SVMClassifier, and nothing said so
                warnings.append(
                    f"the float64 graph computes part of the answer in float32: ai.onnx.ml's {', '.join(scored)} "
                    "holds its coefficients and writes its scores as float32 only (onnxruntime has no double "
                    "kernel), so its outputs carry float32 rounding and validate holds them to float32's tolerances"
                )
            from onnxgate.converters._boosting import uses_boosting

            final = final_step(model)
            if uses_boosting(model, [final]):
                float32_tree_outputs(proto)
            declare_double_outputs(proto)
            from onnxgate._graph import double_erf

            double_erf(proto)  # onnxruntime has no double Erf kernel (GaussianProcessClassifier's probabilities)
            if zipmap_end is not None:
                zipped_in_float32(proto, zipmap_end)
            refuse_ill_typed_double(proto, model)
        declare_target_widths(proto, model)
        return proto

    def category_columns(self, model: Any) -> dict[str, list[Any]]:
        """A HistGradientBoosting model's columns it encodes itself (:func:`hist_category_columns`)."""
        return hist_category_columns(model)

    def reference_for(self, model: Any, onnx_model: Any) -> Any:
        """``model``, or, where the file holds its classifier's raw scores in place of the probabilities (skl2onnx's
        ``raw_scores`` asked at conversion, :data:`RAW_SCORES_METADATA_KEY`), a copy of it whose :meth:`predict`
        answers ``decision_function`` there, laid out as skl2onnx writes the scores (two classes: ``[-d, d]``, as
        for LogisticRegression, SVC, SGDClassifier, LinearDiscriminantAnalysis and the boosting classifiers).
        Parity compared them with ``predict_proba``: every such file failed, a right one as a wrong one."""
        import copy

        asked = any(p.key == RAW_SCORES_METADATA_KEY for p in getattr(onnx_model, "metadata_props", ()))
        if not asked or not hasattr(model, "decision_function") or getattr(model, _RAW_SCORES_MARK, False):
            return model
        marked = copy.copy(model)  # the caller's estimator is left as it is
        setattr(marked, _RAW_SCORES_MARK, True)
        return marked

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        X = self.native_input(model, feeds, signature)
        _check_binary_labels_known(model, X)
        outputs: list[Any] = []
        answers: dict[str, Any] = {}

        def answer(method: str) -> Any:
            if method not in answers:
                if method == "predict" and _predict_is_argmax_of_proba(model):
                    # a forest's predict is its predict_proba's argmax: asked for both (a label and probabilities),
                    # it walked every tree twice (half of a 500-tree forest's validate)
                    import numpy as np

                    answers[method] = model.classes_.take(np.argmax(answer("predict_proba"), axis=1), axis=0)
                else:
                    answers[method] = _call_native(getattr(model, method), X)
            return answers[method]

        def call(method: str) -> Any:
            return _dense(answer(method))

        raw_scores = getattr(model, _RAW_SCORES_MARK, False)

        def probabilities() -> Any:
            """``predict_proba``, or the raw scores the file holds in its place (:meth:`reference_for`)."""
            import numpy as np

            if not raw_scores:
                return call("predict_proba")
            scores = np.asarray(call("decision_function"), dtype=np.float64)
            return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores

        from sklearn.base import is_regressor

        class_columns = _zipmap_columns(model, signature)
        for i, spec in enumerate(signature.outputs):
            lname = spec.name.lower()
            per_class = re.fullmatch(r"p_(\d+)", lname)
            per_target = re.fullmatch(r".*prob.*_(\d+)", lname)
            if spec.name in class_columns:
                # skl2onnx's zipmap="columns": one output per class, named 'i<class>' or 's<class>', holding that
                # class's column of the probabilities (or decision scores); matched none of the answers before
                k = class_columns[spec.name]
                table = (probabilities() if hasattr(model, "predict_proba")
                         else _scores_as_written(model, call("decision_function"), len(class_columns)))
                outputs.append(table[:, k] if table is not None and table.ndim == 2 and k < table.shape[1]
                               else None)
            elif per_target and hasattr(model, "predict_proba") and isinstance(answer("predict_proba"), list):
                # a MultiOutputClassifier's probabilities, one output per target for a target that returns tensors
                # only (onnxgate._graph.split_tensor_sequences): predict_proba's array of that target
                proba = answer("predict_proba")
                t = int(per_target.group(1))
                outputs.append(_dense(proba[t]) if t < len(proba) else None)
            elif "prob" in lname and _hard_voting(final_step(model)):
                outputs.append(_vote_shares(*_final_votes(model, X)))
            elif "prob" in lname and hasattr(model, "predict_proba"):
                outputs.append(probabilities())
            elif per_class and hasattr(model, "predict_proba"):
                # the SQL layout's one column per class, met without the mapping adapt records (it was
                # stripped): 'not compared', and p_0 and p_1 swapped passed
                proba = probabilities()
                k = int(per_class.group(1))
                outputs.append(proba[:, [k]] if proba.ndim == 2 and k < proba.shape[1] else None)
            elif "prob" in lname and hasattr(model, "decision_function"):
                # no predict_proba: skl2onnx writes the decision scores there (SVC, SGDClassifier...), with its
                # raw_scores as [-d, d] for two classes (a LinearSVC's one column became two)
                outputs.append(probabilities() if raw_scores
                               else _scores_as_written(model, call("decision_function"), spec.width))
            elif "label" in lname and hasattr(model, "predict"):
                outputs.append(call("predict"))
            elif "score_samples" in lname and hasattr(model, "score_samples"):  # skl2onnx's score_samples option
                outputs.append(call("score_samples"))
            elif "leaf" in lname and hasattr(final_step(model), "apply"):  # its decision_leaf option: apply()
                final, rows = _through_steps(model, X)
                outputs.append(_dense(_call_native(final.apply, rows)))
            elif "score" in lname and hasattr(model, "decision_function"):
                outputs.append(call("decision_function"))
            elif i == 0 and hasattr(model, "predict") and (is_regressor(model) or not hasattr(model, "transform")):
                outputs.append(call("predict"))
            elif i == 1 and len(signature.outputs) == 2 and self.is_classifier(model) and (
                    hasattr(model, "predict_proba") or hasattr(model, "decision_function")):
                # a classifier's two outputs renamed: skl2onnx writes the label, then the probabilities
                # (or the decision scores); left "not compared", negated probabilities named 'out2' passed
                outputs.append(probabilities() if hasattr(model, "predict_proba")
                               else _scores_as_written(model, call("decision_function"), spec.width))
            elif hasattr(model, "transform"):
                outputs.append(call("transform"))
            elif "std" in lname and type(final_step(model)).__name__ == "GaussianProcessRegressor":
                # skl2onnx's return_std output (GPcovstd): not compared, a std off by 10x passed (helper-77)
                outputs.append(_dense(_call_native(lambda rows: model.predict(rows, return_std=True)[1], X)))
            else:
                # an output of the file that none of the estimator's answers gives: unchecked, it would pass
                # whatever it holds
                raise ParityError(
                    f"output {spec.name!r} matches none of {type(model).__name__}'s answers (predict, predict_proba, "
                    "decision_function, transform), so it cannot be checked against it; validate with a reference "
                    "callable that returns it (reference=lambda feeds: [...]), or leave the output out of the file"
                )
        lacking = _classifier_answers_lacking(model, signature, answers, self.is_classifier(model))
        if lacking:
            # an output removed from the file after conversion was never missed: only the outputs the file has
            # were asked of the estimator, and a classifier without its label (or its probabilities) passed
            raise ParityError(
                f"the ONNX model, with outputs {signature.output_names}, lacks {' and '.join(lacking)}, which "
                f"{type(model).__name__} answers and skl2onnx writes for every classifier: a client reading it "
                "from the file finds none (an output dropped after conversion?). Validate the file as converted "
                "(onnxgate convert), with its label and probabilities outputs"
            )
        return outputs

    def answers_can_tie(self, model: Any) -> bool:
        from onnxgate.converters._sklearn_ties import imputer_step, neighbour_step, nested_tie_estimators, vote_step

        return (neighbour_step(model) is not None or vote_step(model) is not None
                or imputer_step(model) is not None or bool(nested_tie_estimators(model)))

    def tied_answers(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature,
                     rows: Sequence[int]) -> dict[int, Iterable[list[Any]]]:
        """A k-nearest-neighbour model's answers over the ways each row's tie can be broken, a KNNImputer's over
        the ways its donors tied at the n-th distance can be, or a support vector classifier's over the ways its
        tied pairwise votes can go (:mod:`onnxgate.converters._sklearn_ties`);
        only where its outputs are skl2onnx's own (label and probabilities or scores, or one output)."""
        import numpy as np

        from onnxgate.converters._sklearn_ties import (
            TIE_RTOL,
            TIE_RTOL_FLOAT32,
            VOTE_TIE_RTOL,
            VOTE_TIE_RTOL_FLOAT32,
            imputed_answers,
            imputer_step,
            neighbour_step,
            tied_answers,
            tied_votes,
            vote_step,
        )

        float32 = any(spec.elem_type == "float32" for spec in signature.inputs)  # the file computes in float32

        def read(before: Any) -> Any:  # the rows as the last step reads them
            X = self.native_input(model, feeds, signature)
            picked = X.iloc[list(rows)] if hasattr(X, "iloc") else np.asarray(X)[list(rows)]
            return picked if before is None else before.transform(picked)

        voting = vote_step(model)
        if voting is not None and rows and len(signature.outputs) == 2:
            before, svc = voting
            votes = tied_votes(svc, read(before), VOTE_TIE_RTOL_FLOAT32 if float32 else VOTE_TIE_RTOL)
            return {row: found for row, found in zip(rows, votes) if found is not None}
        imputing = imputer_step(model)
        if imputing is not None and rows and len(signature.outputs) == 1:
            before, imputer = imputing
            imputed = imputed_answers(imputer, np.asarray(_dense(read(before)), dtype=np.float64),
                                      TIE_RTOL_FLOAT32 if float32 else TIE_RTOL)
            return {row: found for row, found in zip(rows, imputed) if found is not None}
        found = neighbour_step(model)
        if found is None and rows:
            return self._nested_tied_answers(model, feeds, signature, rows, float32)
        if found is None or not rows:
            return {}
        before, search = found
        expected = 2 if type(search).__name__ == "KNeighborsClassifier" else 1
        if len(signature.outputs) != expected:
            return {}
        picked = np.asarray(_dense(read(before)), dtype=np.float64)
        rtol = TIE_RTOL_FLOAT32 if float32 else TIE_RTOL
        return {row: found for row, found in zip(rows, tied_answers(search, picked, rtol)) if found is not None}

    def _nested_tied_answers(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature,
                             rows: Sequence[int], float32: bool) -> dict[int, Iterable[list[Any]]]:
        """The answers of a model with nearest-neighbour or voting estimators nested in it (a stacking or
        voting ensemble's, a one-against-rest's), over the ways their ties can be broken together: the model's
        outputs, worked out by the model itself on a copy whose nested estimators answer each tie-break
        (:func:`onnxgate.converters._sklearn_ties.tie_switches`). The user's model is not changed."""
        import copy

        import numpy as np

        from onnxgate.converters._sklearn_ties import MOST_NESTED_TIE_ROWS, each_tie_break, tie_switches

        if len(rows) > MOST_NESTED_TIE_ROWS:  # so many differ that ties are not why
            return {}
        switched = copy.deepcopy(model)
        switches = tie_switches(switched, float32)
        if not switches:
            return {}
        found: dict[int, Iterable[list[Any]]] = {}
        for row in rows:
            one = {name: np.asarray(value)[row:row + 1] for name, value in feeds.items()}
            answers = each_tie_break(switches, lambda one=one: self.predict(switched, one, signature))
            if answers is not None:
                found[row] = [[None if value is None else np.asarray(value)[0] for value in answer]
                              for answer in answers]
        return found

    def native_input(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> Any:
        """Rebuild what the estimator was fitted on from ONNX feeds (a DataFrame when it has column names).

        Inputs are matched to ``feature_names_in_`` by name, else by position (the ONNX names are the
        columns sanitised: ``sepal length (cm)`` -> ``sepal_length__cm_``). An estimator that takes a
        1-D array (LabelEncoder, a text vectorizer) gets its single ``[N,1]`` input as one.
        """
        import numpy as np

        names = signature.input_names
        columns = getattr(model, "feature_names_in_", None)
        # a missing text fed to the file as the text it reads as missing is the missing value again here: an
        # encoder that learnt NaN as a category finds the text written in its place an unknown category
        back = {s.name: (None if s.missing_only == "none" else np.nan, s.missing) for s in signature.inputs
                if s.missing is not None and s.missing_only is not None}
        if back:
            feeds = dict(feeds)
            for name, (value, text) in back.items():
                column = np.array(feeds[name], dtype=object)
                # an int64 input (an encoded column of booleans) holds the missing value's code as a number
                column[column == (int(text) if np.asarray(feeds[name]).dtype.kind in "iu" else text)] = value
                feeds[name] = column
        if len(names) == 1 and (columns is None or names[0] not in set(map(str, columns))):
            X = feeds[names[0]]
            # a pipeline's tags say two_d_array whatever its first step reads (TfidfVectorizer: 1-D text)
            if _reads_1d(model) and np.ndim(X) == 2 and np.shape(X)[1] == 1:
                return np.asarray(X).reshape(-1)
            fitted = signature.inputs[0].fitted_columns
            if (columns is not None and fitted is not None and list(fitted) == [str(c) for c in columns]
                    and np.ndim(X) == 2 and np.shape(X)[1] == len(fitted)):
                # the file takes the named columns the model was fitted on by position, in that order (checked
                # before any feed): given an array, scikit-learn warned "X does not have valid feature names"
                # once per batch, ten times in one 'onnxgate package' (helper-157)
                import pandas as pd

                return pd.DataFrame(np.asarray(X), columns=list(columns))
            return X
        if columns is not None:
            import pandas as pd

            labels = list(columns)
            if set(names) <= set(map(str, labels)) or len(labels) != len(names):
                labels = names
            flags = boolean_category_columns(model)
            # an input of a text category column's codes (a HistGradientBoosting model's, for a target without text)
            coded = {s.name: list(s.codes[0][1]) for s in signature.inputs
                     if s.codes and len(s.codes) == 1 and s.codes[0][1] is not None}

            def fed(label: Any, name: str) -> Any:
                values = np.asarray(feeds[name]).reshape(-1)
                if str(label) in flags and values.dtype.kind in "iuO":
                    # an encoder's object column of booleans, fed as 0, 1 and a missing value's code: its
                    # booleans again (scikit-learn's check compared an int64 column with them: "ufunc 'isnan'")
                    return pd.Series([bool(v) if isinstance(v, (int, np.integer)) and v in (0, 1) else v
                                      for v in values], dtype=object)
                if name in coded:
                    return _category_column(values, coded[name])
                # a column holding None stays object: pandas 3 reads text with None as its str type, whose None
                # is NaN
                return pd.Series(values, dtype=object) if name in back else values

            return pd.DataFrame({c: fed(c, n) for c, n in zip(labels, names)})
        return np.hstack([np.asarray(feeds[n]).reshape(len(feeds[n]), -1) for n in names])


def _category_column(codes: Any, categories: list[Any]) -> Any:
    """The pandas category column whose codes among ``categories`` are ``codes`` (the input of a text category
    column's codes, for a target without text), any code outside them (pandas' -1 for a missing value) missing,
    as the file reads it: the model was fitted on the category column, and read the codes as its values (an int
    column), it refused them ("ufunc 'isnan' not supported") and validate compared nothing."""
    import numpy as np
    import pandas as pd

    whole = np.nan_to_num(np.asarray(codes, dtype=np.float64), nan=-1.0)
    inside = (whole >= 0) & (whole < len(categories)) & (whole == np.floor(whole))
    return pd.Categorical.from_codes(np.where(inside, whole, -1).astype(np.int64), categories=categories)


#: How a .skops file is written, for the messages refusing a file that is not one.
_SKOPS_HOW = "a .skops file is a zip archive written by skops.io.dump(model, 'model.skops')"


def _skops_load(sio: Any, path: Path, trust_pickle: bool) -> Any:
    """The model a .skops file holds, refused where it holds types skops does not trust by default and
    ``trust_pickle`` is not set. The file's tree is built once and audited as ``skops.io.load`` audits it, where
    ``get_untrusted_types`` then ``load`` built it twice (0.43 s of the 1.56 s a 500-tree forest took); through those
    two where skops's module lacks the functions ``load`` is made of."""
    from zipfile import ZipFile

    def refuse_untrusted(untrusted: list[str]) -> None:
        if untrusted and not trust_pickle:
            raise UntrustedFileError(
                f"{str(path)!r} contains types skops does not trust by default: {untrusted}. Loading "
                "them may run code; pass --trust-pickle (trust_pickle=True) if you trust this file.",
                path=str(path),
            )

    try:
        from skops.io._persist import audit_tree, get_tree, read_schema
    except ImportError:
        audit_tree = None
    if audit_tree is None:
        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as err:
            raise UnsupportedModelError(f"{str(path)!r} is not a readable .skops file: {err}") from err
        refuse_untrusted(untrusted)
        return sio.load(path, trusted=untrusted or None)
    try:
        archive = ZipFile(path, "r")
    except Exception as err:
        raise UnsupportedModelError(f"{str(path)!r} is not a readable .skops file: {err}") from err
    with archive:  # open until the model is built: the tree reads its arrays from it
        try:
            schema, context = read_schema(archive)
            tree = get_tree(schema, context, trusted=None)
            untrusted = sorted(tree.get_unsafe_set())
        except Exception as err:
            raise UnsupportedModelError(f"{str(path)!r} is not a readable .skops file: {err}") from err
        refuse_untrusted(untrusted)
        audit_tree(tree, trusted=untrusted or None)
        return tree.construct()


def _refuse_other_than_skops(path: Path) -> None:
    """Refuse a file named .skops that is not a zip archive (empty, a pickle, anything else), saying what a
    .skops file is and how to write one; a pickle, how the CLI loads one. An unreadable file is left to skops."""
    import zipfile

    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return
    if zipfile.is_zipfile(path):
        return
    if not head:
        raise UnsupportedModelError(f"{str(path)!r} is empty (0 bytes), not a .skops file: {_SKOPS_HOW}. Write "
                                    "it again", path=str(path))
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocols 2-5 (joblib.dump, pickle.dump)
        raise UnsupportedModelError(
            f"{str(path)!r} is a pickle, not a .skops file ({_SKOPS_HOW}). Write it with skops, or, if you trust "
            "where it came from (loading a pickle runs any code it holds), name it .pkl and pass --trust-pickle "
            "(trust_pickle=True)",
            path=str(path),
        )
    what = "a truncated or damaged zip archive" if head == b"PK\x03\x04" else "not a zip archive"
    raise UnsupportedModelError(f"{str(path)!r} is {what}, so not a readable .skops file: {_SKOPS_HOW}. Write it "
                                "again", path=str(path))


def _register_boosting(model: Any, ml_opset: int) -> int:
    """XGBoost/LightGBM/CatBoost steps convert through converters registered with skl2onnx; those
    write ai.onnx.ml at most 3 (the ai.onnx.ml opset to convert at is returned)."""
    from onnxgate.converters._boosting import ML_OPSET_CAP, register_with_skl2onnx, uses_boosting

    estimators = sub_estimators(model)
    if not uses_boosting(model, estimators):
        return ml_opset
    register_with_skl2onnx(estimators)
    return min(ml_opset, ML_OPSET_CAP)


def _refuse_unfitted_steps(model: Any) -> None:
    """Refuse a pipeline with a step that is not fitted. A pipeline counts as fitted when its last step is,
    so ``make_pipeline(StandardScaler(), fitted_model)`` got past :meth:`SklearnConverter.check_model` and
    skl2onnx then said "'StandardScaler' object has no attribute 'mean_'"."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    for step_name, step in getattr(model, "steps", None) or []:
        if step is None or isinstance(step, str):
            continue  # "passthrough"
        _refuse_unfitted_steps(step)
        try:
            check_is_fitted(step)
        except NotFittedError as err:
            raise UnsupportedModelError(
                f"step {step_name!r} ({type(step).__name__}) of the pipeline is not fitted, though its last step "
                "is: expected every step fitted. Fit the whole pipeline (pipeline.fit(X, y)); a model fitted on "
                "its own stays as it is when wrapped: make_pipeline(StandardScaler(), FrozenEstimator(model))",
                framework="sklearn",
            ) from err
        except TypeError:
            pass  # not an estimator check_is_fitted understands; skl2onnx will say


def _hard_voting(model: Any) -> bool:
    return type(model).__name__ == "VotingClassifier" and getattr(model, "voting", None) == "hard"


def _through_steps(model: Any, X: Any) -> tuple[Any, Any]:
    """The estimator ending ``model`` (itself, or the last step of nested pipelines) and ``X`` carried
    through the steps before it."""
    while hasattr(model, "steps") and model.steps:
        for _, step in model.steps[:-1]:
            if step is not None and not (isinstance(step, str) and step == "passthrough"):
                X = step.transform(X)
        model = model.steps[-1][1]
    return model, X


def _final_votes(model: Any, X: Any) -> tuple[Any, Any]:
    """The hard-voting classifier ending ``model`` and its members' votes (``transform()``) on ``X``."""
    final, rows = _through_steps(model, X)
    return final, _dense(_call_native(final.transform, rows))


def _vote_shares(model: Any, votes: Any) -> Any:
    """What skl2onnx writes as a hard-voting classifier's probabilities, which scikit-learn has not: each
    class's share of the (weighted) votes, from ``transform()``'s class index per estimator and row. Its
    label is the class with the largest share, as scikit-learn's."""
    import numpy as np

    votes = np.asarray(votes, dtype=np.int64).reshape(len(votes), -1)
    kept = model._weights_not_none  # a member set to 'drop' has no vote, and no weight
    weights = np.ones(votes.shape[1]) if kept is None else np.asarray(kept, dtype=np.float64)
    shares = np.zeros((len(votes), len(model.classes_)))
    for j in range(votes.shape[1]):
        shares[np.arange(len(votes)), votes[:, j]] += weights[j]
    return shares / weights.sum()


def _classifier_answers_lacking(model: Any, signature: Signature, answers: Mapping[str, Any],
                                classifier: bool) -> list[str]:
    """What a classifier answers that none of the file's outputs was compared with: its label (``predict``)
    and, when it has ``predict_proba``, its probabilities (or the scores skl2onnx writes in their place).
    ``answers`` are the methods :meth:`SklearnConverter.predict` called for the file's outputs."""
    if not classifier or not signature.outputs:
        return []
    lacking = []
    if hasattr(model, "predict") and "predict" not in answers:
        lacking.append("the label output (predict)")
    scores_given = bool({"predict_proba", "decision_function"} & set(answers)) or any(
        "prob" in spec.name.lower() for spec in signature.outputs)
    if hasattr(model, "predict_proba") and not scores_given:
        lacking.append("the probabilities output (predict_proba)")
    return lacking


def _zipmap_columns(model: Any, signature: Signature) -> dict[str, int]:
    """Output name -> class index, when the file holds one output per class as skl2onnx's ``zipmap="columns"``
    writes them (:func:`~onnxgate.converters._sklearn_graph.zipmap_column_names`), every class having its
    output; else empty."""
    if not (hasattr(model, "predict_proba") or hasattr(model, "decision_function")):
        return {}
    names = zipmap_column_names(model)
    outputs = {spec.name for spec in signature.outputs}
    if len(names) < 2 or len(set(names)) != len(names) or not outputs.issuperset(names):
        return {}
    return {name: k for k, name in enumerate(names)}


def _scores_as_written(model: Any, scores: Any, width: int | None) -> Any:
    """The reference for the ``probabilities`` output of a classifier without predict_proba: its
    decision scores as skl2onnx lays them out, or None (not compared) for a layout not known here.
    Without it that output went unchecked, and SVC's scores multiplied by -1000 passed."""
    import numpy as np

    d = np.asarray(scores, dtype=np.float64)
    if d.ndim == 2:
        return d if width in (None, d.shape[1]) else None
    final = final_step(model)
    layout = BINARY_SCORES.get(type(final).__name__)
    if layout == "d":  # skl2onnx may declare [N,2] for what is [N,1]
        return d.reshape(-1, 1)
    if layout in ("d,-d", "-d,d", "1-d,d") and width in (None, 2):
        return np.column_stack({"d,-d": [d, -d], "-d,d": [-d, d], "1-d,d": [1 - d, d]}[layout])
    return None


#: The largest ``|leaf x learning_rate|`` of a GradientBoostingClassifier with an init estimator that convert writes.
#: Its leaves are Newton steps in log-odds, a few units (at most 9.5 on the zoo's data, LogisticRegression's init
#: included); from 1e6 on float32's step there is 0.06 of log-odds, and they come of an init that divided by
#: p(1 - p) ~ 0 (GaussianNB: 1.4e13 on breast_cancer, 4e137 on digits, past float32's range).
MAX_BOOSTING_LEAF = 1e6


def _saturated_init_leaf(est: Any) -> float | None:
    """The largest ``|leaf x learning_rate|`` of a GradientBoostingClassifier fitted with an init estimator, where
    it exceeds :data:`MAX_BOOSTING_LEAF`; else None."""
    import numpy as np
    from sklearn.ensemble import GradientBoostingClassifier

    if not isinstance(est, GradientBoostingClassifier) or getattr(est, "init", None) in (None, "zero") \
            or not hasattr(est, "estimators_"):
        return None
    largest = max(float(np.abs(tree.tree_.value).max()) for tree in est.estimators_.ravel()) * est.learning_rate
    return largest if largest > MAX_BOOSTING_LEAF else None


def _binarizer_of_two(model: Any) -> bool:
    """Whether ``model`` is a LabelBinarizer fitted on one label per row of two classes (one column)."""
    from sklearn.preprocessing import LabelBinarizer

    return (isinstance(model, LabelBinarizer) and getattr(model, "y_type_", "") == "binary"
            and len(getattr(model, "classes_", ())) == 2)


def _check_binary_labels_known(model: Any, X: Any) -> None:
    """Refuse rows a two-class LabelBinarizer answers with a width of their own. scikit-learn's ``transform``
    (``label_binarize``) decides the layout by the batch: a batch of the two classes is one column (the second's), a
    batch holding any other value two columns, that row all ``neg_label``. The file answers one column whatever the
    rows, and validate said only "shape [5, 2] (reference) vs [5, 1] (onnx)"."""
    import numpy as np

    if not _binarizer_of_two(model):
        return
    values = np.asarray(X, dtype=object).reshape(-1)
    classes = np.asarray(model.classes_).tolist()
    known = np.isin(values, np.asarray(classes, dtype=object))
    if known.all():
        return
    unknown = list(dict.fromkeys(values[~known].tolist()))
    raise InvalidDataError(
        f"LabelBinarizer was fitted on two classes {classes}: expected rows holding those only, found "
        f"{int((~known).sum())} of {len(values)} holding other values ({unknown[:5]}). scikit-learn answers a batch "
        "holding one with two columns (a column per class; that row all neg_label), a batch of the two classes "
        "with one column (the second's), and the file answers one column whatever the rows (neg_label for "
        "another value). Validate with rows of the two classes, or refit the LabelBinarizer on every value it "
        "will see (a column per value, in the file too)")


def _options_by_id(model: Any, options: Mapping[Any, Any]) -> dict[Any, Any]:
    """The user's skl2onnx ``options`` keyed as skl2onnx reads them, by ``id`` or class: one keyed by one of the
    model's estimators itself by its ``id`` (skl2onnx ignored it, and onnxgate recorded a ``raw_scores`` the file
    did not hold: every row failed parity), and a Pipeline's ``raw_scores`` (keyed by the pipeline, its ``id`` or
    its class) given to its last step too, which answers (skl2onnx's parser of a pipeline drops the pipeline's
    options: the file held probabilities, and nothing said the option went unused)."""
    from sklearn.pipeline import Pipeline

    estimators = {id(e): e for e in sub_estimators(model)}
    keyed: dict[Any, Any] = {}
    for key, value in options.items():
        key = id(key) if id(key) in estimators and not isinstance(key, (str, int, type)) else key
        keyed[key] = {**keyed.get(key, {}), **value} if isinstance(value, Mapping) else value
    for pipeline in [e for e in estimators.values() if isinstance(e, Pipeline) and e.steps]:
        raw = [v["raw_scores"] for k, v in keyed.items() if isinstance(v, Mapping) and "raw_scores" in v
               and (k == id(pipeline) or (isinstance(k, type) and isinstance(pipeline, k)))]
        last = final_step(pipeline)
        if raw and last is not pipeline and hasattr(last, "classes_"):
            keyed[id(last)] = {**keyed.get(id(last), {}), "raw_scores": raw[-1]}
    return keyed


def _raw_scores_asked(model: Any, options: Mapping[Any, Any]) -> bool:
    """Whether the user's skl2onnx ``options`` ask ``raw_scores`` of the model's last step, a classifier with
    ``predict_proba`` or one with ``decision_function`` (keyed, as skl2onnx reads them, by its class or its ``id``;
    :func:`_options_by_id`), which then writes its decision scores where its probabilities are (two classes:
    ``[-d, d]``, where a binary SVC wrote ``[d, -d]`` and a LinearSVC or RidgeClassifier one column ``d`` without
    the option). The SVC's went unrecorded, and a file that failed parity on every row said nothing of the option;
    so did a LinearSVC's and a RidgeClassifier's, two columns against one."""
    final = final_step(model)
    return (hasattr(final, "predict_proba") or hasattr(final, "decision_function")) and any(
        isinstance(value, Mapping) and value.get("raw_scores")
        and (key is final or key == id(final) or (isinstance(key, type) and isinstance(final, key)))
        for key, value in options.items())


def _dtype_name(code: int) -> str:
    """The numpy name of an ONNX element type code (``11`` -> ``float64``)."""
    from onnx import helper

    return str(helper.tensor_dtype_to_np_dtype(code).name)


def _code(dtype: np.dtype[Any]) -> int:
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(dtype))


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
    first = first_step(model)
    if type(first).__name__ != "FeatureUnion":
        return [first]
    return [reader for _, branch in first.transformer_list if not isinstance(branch, str)
            for reader in _input_readers(branch)]


def _reads_1d(model: Any) -> bool:
    """True for a model that reads a 1-D array: by its own tags (LabelEncoder, a text vectorizer), or
    because every estimator reading its input does (a pipeline's tags say two_d_array whatever its first
    step reads, and a FeatureUnion of text vectorizers reads the text in each branch)."""
    readers = _input_readers(model)
    return takes_1d(model) or (bool(readers) and all(takes_1d(reader) for reader in readers))


#: The scikit-learn text vectorizers converted through onnxruntime's tokenizer.
TEXT_VECTORIZERS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")


def _text_in_float64(model: Any) -> bool:
    """Whether ``model`` vectorizes text and scikit-learn weighs all of it in float64: no vectorizer was asked
    for a float narrower (``dtype=np.float32``), in which its weights are computed and handed on."""
    import numpy as np

    dtypes = [np.dtype(getattr(est, "dtype", np.float64)) for est in sub_estimators(model)
              if type(est).__name__ in TEXT_VECTORIZERS]
    return bool(dtypes) and not any(d.kind == "f" and d.itemsize < 8 for d in dtypes)


def _tokenizer_notes(model: Any) -> list[str]:
    """The warning for a word-analyzing text vectorizer whose pattern reads letters, digits or spaces by class in a
    way the graph cannot write for re2, onnxruntime's tokenizer, which reads them as ASCII (a label flipped on
    'naive good' with a diaeresis; helper-108; ``\\S+`` kept 'a\\xa0b' one token, where Python splits it:
    helper-135): a pattern :func:`unicode_classes` refuses, with the count of the vocabulary's entries outside ASCII.
    For a vectorizer without it that lower-cases, the warning of :data:`LOWERCASE_NOTE` with the vocabulary's words it
    concerns."""
    notes: list[str] = []
    lowercase = ""
    for est in sub_estimators(model):
        if type(est).__name__ not in TEXT_VECTORIZERS:
            continue
        pattern = str(getattr(est, "token_pattern", "") or "")
        by_class = getattr(est, "analyzer", "") == "word" and any(f"\\{c}" in pattern for c in "wWbBdDsS")
        if by_class and not _written_for_re2(pattern):
            # the ONNX tokenizer (re2) reads \w and \b as ASCII: 'café' is the token 'caf', 'filmé' is 'film'
            # (a label flipped on 'naïve good'; helper-108); the graph writes Python's classes out where it can
            # (unicode_classes), and this warning says non-ASCII text scores otherwise where it cannot
            if not notes:
                non_ascii = sum(not str(entry).isascii() for entry in getattr(est, "vocabulary_", None) or ())
                held = (f"; its vocabulary holds {non_ascii:,} entries outside ASCII, which the file may not count "
                        "as scikit-learn does" if non_ascii else "")
                notes.append(f"{type(est).__name__}(token_pattern={pattern!r}): the ONNX tokenizer reads this "
                             "pattern's \\w, \\d, \\s and \\b as ASCII only (onnxgate writes Python's classes "
                             "out, but not in a pattern with a \\b other than around a run of \\w, or with \\W or "
                             "\\S inside a class), where scikit-learn's token pattern takes any letter, digit or "
                             "space: a word with another letter ('café', 'naïve', any non-Latin script) is split "
                             "otherwise "
                             f"('caf'), and such text scores differently{held}. Fine for ASCII text; else refit "
                             "with a pattern of runs of \\w (r'(?u)\\b\\w\\w+\\b', scikit-learn's default) or "
                             "of explicit characters, which the file reads as scikit-learn does")
        elif getattr(est, "lowercase", False) is True and not lowercase:
            lowercase = f"{type(est).__name__}(lowercase=True): {LOWERCASE_NOTE.format(words=_cased_words(est))}"
    return notes + ([lowercase] if lowercase else [])


def _cased_words(est: Any) -> str:
    """The clause of :data:`LOWERCASE_NOTE` naming the entries of ``est``'s vocabulary the file reads otherwise in
    capitals: those ending a word in a sigma (scikit-learn counts 'οδος' for 'ΟΔΟΣ', the file looks up 'οδοσ') and
    those holding an 'i' with a combining dot (scikit-learn's 'İ'), or "" for none (a HashingVectorizer has no
    vocabulary)."""
    vocabulary = [str(entry) for entry in getattr(est, "vocabulary_", None) or ()]
    sigma = sorted(w for w in vocabulary if re.search(r"[σς](?![^\W\d_])", w))
    dotted = sorted(w for w in vocabulary if "i\u0307" in w)
    parts = [f"{len(found):,} {what} ({', '.join(repr(w) for w in found[:4])}{', ...' if len(found) > 4 else ''})"
             for found, what in ((sigma, "ending a word in a sigma"), (dotted, "holding 'i' and a combining dot"))
             if found]
    return f"; its vocabulary's entries the file reads otherwise in capitals: {' and '.join(parts)}" if parts else ""


def _written_for_re2(pattern: str) -> bool:
    """Whether the graph's tokenizer reads ``pattern``'s ``\\w``, ``\\d``, ``\\s`` and ``\\b`` as Python does
    (:func:`unicode_classes`; Python's own ``(?a)`` reads them as ASCII, as re2 does)."""
    try:
        ascii_only = bool(parsed_pattern(pattern).state.flags & re.ASCII)
    except re.error:
        return False
    stripped = pattern[4:] if pattern.startswith(("(?u)", "(?a)")) else pattern
    return ascii_only or unicode_classes(stripped) is not None


#: What onnx's StringNormalizer lower-cases otherwise than Python's ``str.lower``, measured over every code point
#: (onnxruntime 1.32, locale C.UTF-8): it maps each letter alone, and Python's full mapping differs on
#: two. With a token pattern of explicit characters (``[^ ]+``) convert said nothing, and a HashingVectorizer
#: hashed 'ΟΔΟΣ' as 'οδοσ' where scikit-learn hashes 'οδος' (helper-143).
#: validate's parity scores the data's text in capitals and with 'İ' (``TEXT_VARIANTS``) and fails such a file.
LOWERCASE_NOTE = ("the ONNX model lower-cases each letter alone, where Python's str.lower() writes a capital 'Σ' "
                  "ending a word as 'ς' (the file: 'σ') and 'İ' (capital I with a dot) as 'i' and a combining dot "
                  "(the file: 'i'): Greek or Turkish text holding them is read as other words and scores "
                  "differently{words}. Other text is lower-cased as scikit-learn does it. validate scores the data's "
                  "text in capitals and with 'İ' too, and fails a file that answers it otherwise; for such text, "
                  "lower-case it yourself and refit with lowercase=False")


#: Columns a text vectorizer makes per row from which the graph's width is recorded (:data:`ROW_WIDTH_METADATA_KEY`)
#: and, 4 MiB and wider, convert warns: scikit-learn keeps them sparse, the graph computes them dense.
WIDE_ROW, WIDE_ROW_NOTE = 2**16, 2**20


def _widest_row(model: Any) -> tuple[int, list[str]]:
    """The most columns a text vectorizer in ``model`` makes per row (``n_features``, or the vocabulary), when
    there are :data:`WIDE_ROW` or more (else 0), with the warning for one of :data:`WIDE_ROW_NOTE` or more."""
    widest, name = 0, ""
    for est in sub_estimators(model):
        kind = type(est).__name__
        if kind in TEXT_VECTORIZERS:
            width = int(getattr(est, "n_features", 0) if kind == "HashingVectorizer"
                        else len(getattr(est, "vocabulary_", None) or ()))
            if width > widest:
                widest, name = width, kind
    if widest < WIDE_ROW:
        return 0, []
    if widest < WIDE_ROW_NOTE:
        return widest, []
    return widest, [f"{name}: the file computes its {widest:,} columns per row dense (scikit-learn keeps them "
                    f"sparse): {widest * 4 / 2**20:,.0f} MiB a row, so a batch of 1,000 rows (a service request, a "
                    f"PREDICT batch) takes about {widest * 4 * 1000 / 2**30:,.0f} GB in onnxruntime. validate "
                    "and score size their batches to it; fit it with fewer columns (n_features=2**14) to serve "
                    "large requests"]


def _floats_cast_to_integers(proto: Any) -> bool:
    """Whether the graph casts a floating-point input to an integer or boolean type, which drops its
    fractions (skl2onnx's concatenation of inputs in the first input's type), or concatenates inputs of
    several types as they are."""
    types = {vi.name: vi.type.tensor_type.elem_type for vi in proto.graph.input}
    floats = {name for name, code in types.items() if code in (1, 10, 11, 16)}
    whole = {2, 3, 4, 5, 6, 7, 9, 12, 13}  # the integer types and bool
    for node in proto.graph.node:
        if node.op_type == "Cast" and node.input[0] in floats and any(
                a.name == "to" and a.i in whole for a in node.attribute):
            return True
        if node.op_type == "Concat" and len({types[i] for i in node.input if i in types}) > 1:
            return True  # inputs of several types joined as they are: no runtime takes it (an identity step)
    return False


def _selects_columns(model: Any) -> bool:
    """True when every step that reads the input picks its columns by name (ColumnTransformers)."""
    return all(type(reader).__name__ == "ColumnTransformer" for reader in _input_readers(model))


def _members_select_columns(model: Any) -> bool:
    """:func:`_selects_columns`, or a Stacking or Voting model whose members each read the input through
    ColumnTransformers (a stacking passthrough reads it as one matrix besides)."""
    if _selects_columns(model):
        return True
    if type(model).__name__ not in _VOTING_OR_STACKING or getattr(model, "passthrough", False):
        return False
    members = list(getattr(model, "estimators_", []))  # a boosting model's estimators_ is an array of trees
    return bool(members) and all(_selects_columns(member) for member in members)


#: Ensembles whose fitted members (``estimators_``) each read the whole input.
_VOTING_OR_STACKING = ("StackingClassifier", "StackingRegressor", "VotingClassifier", "VotingRegressor")


def _by_position(model: Any, names: list[str] | None, copies: dict[int, Any] | None = None) -> Any:
    """``model`` with each ColumnTransformer that reads the input selecting its columns by position:
    a boolean mask always (skl2onnx reads True and False as the positions 1 and 0), column names too
    when ``names`` is given, for the Concat front's one matrix (skl2onnx looks a name up among the graph
    inputs, and there is one). Shallow copies along the way: the user's model is not changed; ``copies``
    gets ``id(original) -> copy`` for each (skl2onnx's per-estimator options are keyed by id)."""
    import copy

    kind = type(model).__name__
    if hasattr(model, "steps") and model.steps:
        steps = [(model.steps[0][0], _by_position(model.steps[0][1], names, copies))]
        for k, (name, step) in enumerate(model.steps[1:], start=1):
            # a later step reads the step before it, never the graph inputs: a ColumnTransformer in it picking
            # by name picks among that step's output names (set_output(transform="pandas")), each one position
            # of the matrix it gives; skl2onnx looked the names up among the inputs ("Unable to find column name")
            before = _names_before(model, k) if _picks_by_name(step) else None
            steps.append((name, step if before is None else _by_position(step, before, copies)))
        if all(new is old for (_, new), (_, old) in zip(steps, model.steps)):
            return model
        clone = copy.copy(model)
        clone.steps = steps
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
    if kind.startswith(("Stacking", "Voting")) and getattr(model, "estimators_", None):
        return _members_by_position(model, names, copies)
    if kind != "ColumnTransformer":
        return model
    import numpy as np

    def positions(branch: str, columns: Any) -> Any:
        if isinstance(columns, slice) and any(isinstance(end, str) for end in (columns.start, columns.stop)):
            # skl2onnx reads a slice's ends as positions ("'str' object cannot be interpreted as an integer")
            columns = branch_columns(model, branch, columns) or columns
        if isinstance(columns, slice) or callable(columns):
            return columns
        picked = np.atleast_1d(np.asarray(columns))
        if picked.dtype.kind == "b":
            return [int(i) for i in np.flatnonzero(picked)]
        if picked.dtype.kind in "iu":
            return [int(i) for i in picked]
        if names is None:
            return columns
        absent = [str(c) for c in picked if str(c) not in names]
        if absent:
            raise UnsupportedModelError(
                f"a ColumnTransformer's branch {branch!r} picks the column(s) {absent}, which the step before it "
                f"does not give: it gives {names}. Refit the pipeline (pipeline.fit(X, y)) so that each step is "
                "fitted on what the step before it gives", framework="sklearn")
        return [names.index(str(c)) for c in picked]

    clone = copy.copy(model)
    clone.transformers_ = [(name, step, positions(name, columns)) for name, step, columns in model.transformers_]
    return _copied(model, clone, copies)


def _members_by_position(ensemble: Any, names: list[str] | None, copies: dict[int, Any] | None) -> Any:
    """A Stacking or Voting ensemble with its members :func:`_by_position`: each member reads the ensemble's
    input, so a ColumnTransformer first in it picks among ``names`` and a later one among the names the steps
    before it give (skl2onnx looked both up among the model's inputs: "Unable to find column name 'alcohol'").
    A stacking's final estimator reads the members' stacked predictions (and the input as one array with
    ``passthrough=True``), never ``names``: only its own later steps pick by name."""
    import copy

    members = [m if isinstance(m, str) else _by_position(m, names, copies) for m in ensemble.estimators_]
    final = getattr(ensemble, "final_estimator_", None)
    last = None if final is None else _by_position(final, None, copies)
    if all(new is old for new, old in zip(members, ensemble.estimators_)) and last is final:
        return ensemble
    clone = copy.copy(ensemble)
    clone.estimators_ = members
    named = getattr(ensemble, "named_estimators_", None)
    if named is not None:
        swapped = {id(old): new for old, new in zip(ensemble.estimators_, members)}
        clone.named_estimators_ = type(named)(**{key: swapped.get(id(m), m) for key, m in named.items()})
    if final is not None:
        clone.final_estimator_ = last
    return _copied(ensemble, clone, copies)


def _picks_by_name(step: Any) -> bool:
    """Whether ``step`` holds a ColumnTransformer fitted on named columns that reads what the steps before
    ``step`` give (``step`` itself, the first step of a nested pipeline, a FeatureUnion's branch, a Stacking
    or Voting ensemble's member)."""
    if type(step).__name__ == "ColumnTransformer":
        return getattr(step, "feature_names_in_", None) is not None
    if type(step).__name__.startswith(("Stacking", "Voting")):
        return any(_picks_by_name(m) for m in getattr(step, "estimators_", None) or [] if not isinstance(m, str))
    if hasattr(step, "steps") and step.steps:
        return _picks_by_name(step.steps[0][1])
    return any(_picks_by_name(branch) for _, branch in getattr(step, "transformer_list", None) or []
               if not isinstance(branch, str))


def _names_before(pipeline: Any, k: int) -> list[str] | None:
    """The names of the columns pipeline step ``k`` reads, in the order the steps before it give them: their
    ``get_feature_names_out()``, the names scikit-learn gives a pandas output, else the names step ``k`` was
    fitted on (a step before it that cannot name its output, a FunctionTransformer returning a DataFrame)."""
    try:
        return [str(c) for c in pipeline[:k].get_feature_names_out()]
    except (AttributeError, TypeError, ValueError):
        fitted = getattr(first_step(pipeline.steps[k][1]), "feature_names_in_", None)
        return None if fitted is None else [str(c) for c in fitted]


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


def unread_columns(model: Any) -> list[str]:
    """The columns a model fitted on a DataFrame never reads: those its first step, a ColumnTransformer,
    drops (``remainder="drop"``, a ``"drop"`` transformer), in training order; decided as scikit-learn's
    ColumnTransformer decides which columns its ``transform`` needs."""
    first = first_step(model)
    indices = getattr(first, "_transformer_to_input_indices", None)
    names = getattr(first, "feature_names_in_", None)
    transformers = getattr(first, "named_transformers_", None)
    if type(first).__name__ != "ColumnTransformer" or indices is None or names is None or transformers is None:
        return []
    if not all(_by_name(columns) for name, _, columns in first.transformers_ if name != "remainder"):
        # a branch picking by position counts the training columns: left out, a column would move the
        # positions after it (skl2onnx: "Input 2 (i=2, end=2) is not available"; found by helper-70)
        return []
    read = {int(i) for name, found in indices.items()
            if name in transformers and not (isinstance(transformers[name], str) and transformers[name] == "drop")
            for i in found}
    return [str(c) for i, c in enumerate(names) if i not in read]


def _imputed_columns(model: Any) -> set[str]:
    """The columns a SimpleImputer reads first in a branch of the model's ColumnTransformer (its first
    step), by name (a branch picking by position or mask included)."""
    import numpy as np

    first = first_step(model)
    names = getattr(first, "feature_names_in_", None)
    if type(first).__name__ != "ColumnTransformer" or names is None:
        return set()
    found: set[str] = set()
    for name, branch, columns in first.transformers_:
        head = branch.steps[0][1] if hasattr(branch, "steps") and branch.steps else branch
        if type(head).__name__ != "SimpleImputer":
            continue
        picked = branch_columns(first, name, columns)
        if picked is None:
            picked = np.atleast_1d(np.asarray(columns, dtype=object if isinstance(columns, str) else None)).tolist()
        found.update(c if isinstance(c, str) else str(names[int(c)]) for c in picked)
    return found


def _picked_by_name(model: Any) -> list[str]:
    """The columns the ColumnTransformers reading the model's input select by name, in their order."""
    picked: list[str] = []
    for reader in _input_readers(model):
        if type(reader).__name__ != "ColumnTransformer":
            continue
        for _, _, columns in getattr(reader, "transformers_", []):
            if _by_name(columns):
                named = [columns] if isinstance(columns, str) else list(columns)
                picked.extend(str(c) for c in named if str(c) not in picked)
    return picked


def _by_name(columns: Any) -> bool:
    """Whether a ColumnTransformer branch's fitted column selection names its columns (not positions
    or a mask)."""
    if isinstance(columns, str):
        return True
    try:
        picked = list(columns)
    except TypeError:
        return False
    return all(isinstance(c, str) for c in picked)


def _fitted_columns(model: Any) -> tuple[list[str] | None, Any]:
    """The columns ``model`` was fitted on, in order (None: fitted on an array), and the estimator that
    names them: ``feature_names_in_``, or the training names of an XGBoost, LightGBM or CatBoost
    model that reads the pipeline's input (CatBoost keeps them as ``feature_names_`` only)."""
    from onnxgate.converters._boosting import training_columns

    first = first_step(model)
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
    for est, name, learnt in _encoder_categories(model):
        values = list(learnt)
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


def _date_categories(model: Any) -> dict[str, Any]:
    """The columns an encoder in the model learnt dates or durations of as categories, by name, with their dtype."""
    import numpy as np

    found: dict[str, Any] = {}
    for _est, name, values in _encoder_categories(model):
        dtype = getattr(values, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind in "Mm":
            found[str(name)] = dtype
    return found


def _encoder_categories(model: Any) -> Iterator[tuple[Any, Any, Any]]:
    """``(encoder, column name, categories)`` for each column an encoder in the model (OneHotEncoder,
    OrdinalEncoder...) fitted on named columns learnt categories of."""
    for est in sub_estimators(model):
        names = getattr(est, "feature_names_in_", None)
        categories = getattr(est, "categories_", None)
        if names is None or not isinstance(categories, list) or len(categories) != len(names):
            continue
        for name, values in zip(names, categories):
            yield est, name, values


def _encoded_columns(model: Any) -> set[str]:
    """The columns an encoder in the model (OneHotEncoder, OrdinalEncoder...) learnt categories of, by name."""
    found: set[str] = set()
    for est in sub_estimators(model):
        names = getattr(est, "feature_names_in_", None)
        if names is not None and isinstance(getattr(est, "categories_", None), list):
            found.update(str(n) for n in names)
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
    durations, periods, intervals, category columns of anything but text, integers or floats), else None."""

    categories = getattr(dtype, "categories", None)
    if categories is not None:
        inner = categories.dtype
        if getattr(inner, "kind", "O") in "iuf" or all(isinstance(v, str) for v in categories):
            return None
        what = "Interval (pandas.cut bins)" if type(inner).__name__ == "IntervalDtype" else str(inner)
        return f"category values of type {what}"
    kind = getattr(dtype, "kind", "O")
    if kind in "Mm" or type(dtype).__name__ in ("PeriodDtype", "IntervalDtype"):
        return f"{dtype} values"
    return None


def _as_numbers_or_text(dtype: Any, label: str) -> str:
    """How a column of ``dtype`` (one :func:`_no_onnx_type` refuses) becomes numbers or text a model is fitted on."""
    as_text = f"to text (X[{label!r}].astype(str))"
    kind = getattr(dtype, "kind", "O") if getattr(dtype, "categories", None) is None else "O"
    if kind == "M":
        return (f"to numbers: its parts (X[{label!r}].dt.year, .dt.month, .dt.dayofweek) or seconds since 1970 "
                f"((X[{label!r}] - pd.Timestamp('1970-01-01')) // pd.Timedelta('1s'), the Timestamp in the "
                f"column's time zone for a tz-aware one); or, for a column an encoder reads as categories, {as_text}")
    if kind == "m":
        return (f"to numbers (X[{label!r}].dt.total_seconds()); or, for a column an encoder reads as categories, "
                f"{as_text}")
    return f"{as_text} or to numbers (for pandas.cut bins, labels=False gives their codes)"


def _sample_columns(model: Any, sample: Any, input_name: str, flagged: Container[str] = ()) -> list[_Column]:
    """The inputs the sample asks for: one per DataFrame column, or one ``[N,k]`` matrix. ``flagged``: the
    columns of booleans an encoder reads, fed as int64 (:func:`encoded_missing_categories`)."""
    import numpy as np

    from onnxgate._data import is_dataframe, near_names_hint, numbers_as_objects, one_row
    from onnxgate.converters._boosting import same_columns

    expected, namer = _fitted_columns(model)
    unread = unread_columns(model) if expected is not None and is_dataframe(sample) else []
    if unread and expected is not None:
        # columns the model's ColumnTransformer drops (a date, an ID): no input is made of them, and a sample
        # may hold them or not (a datetime column was refused, and a sample without it was "missing" it)
        sample = sample.drop(columns=[c for c in sample.columns if str(c) in unread])
        expected = [c for c in expected if c not in unread]
    if (is_dataframe(sample) and expected is None and len(sample.columns) == 1
            and _reads_1d(model)):
        # fitted on a 1-D array (a text vectorizer, LabelEncoder): a table's one column is that array
        sample = sample.iloc[:, 0].to_numpy()
    if is_dataframe(sample) and expected is None:
        # fitted on an array: the table's columns are its features in order, one [N,k] input
        from onnxgate._data import as_float64, nullable_as_numpy

        # Int64, Float64, boolean, float64[pyarrow]: an object matrix, refused by skl2onnx as a StringTensorType
        sample = nullable_as_numpy(sample)
        objects = [c for c in sample.columns if getattr(sample[c].dtype, "kind", "") == "O"
                   and numbers_as_objects(sample[c])]
        if objects:
            # booleans with None, Decimal: numbers scikit-learn reads as float64 (None as NaN; helper-154)
            sample = sample.copy()
            for c in objects:
                sample[c] = as_float64(np.asarray(sample[c], dtype=object))
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
        blank = [label for label in labels if not label.strip()]
        if blank:  # skl2onnx failed on them with "Name seed must be a non-empty string" (helper-88)
            raise InvalidDataError(
                f"column names must not be empty or blank; the sample has {labels}. Rename them before fitting "
                "(df.columns = [...]) or convert with an array sample, one [N,k] input", column=blank[0])
        if expected is not None and not same_columns(namer, expected, labels):
            missing = [c for c in expected if not any(same_columns(namer, [c], [label]) for label in labels)]
            reordered = not missing and len(labels) == len(expected)
            extra = [label for label in labels if not any(same_columns(namer, [c], [label]) for c in expected)]
            raise InvalidDataError(
                f"the model was fitted on columns {expected}; the sample has {labels}"
                + (f" (missing {missing})" if missing else "")
                + near_names_hint(missing, labels)
                + (f"; drop the columns it was not fitted on, {extra} (a label or ID column, for instance): "
                   "sample[model.feature_names_in_]" if extra and not missing else "")
                + ("; the same columns in another order: pass them in training order "
                   "(sample[model.feature_names_in_])" if reordered else ""),
                column=missing[0] if missing else None,
            )
        input_names = sanitise_names(labels)
        columns = []
        text_categories = _text_categories(model)
        encoded = _encoded_columns(model)
        dates = _date_categories(model)
        numbers = number_columns(model)
        for label, col, input_name in zip(labels, sample.columns, input_names):
            dtype = sample[col].dtype
            if isinstance(dtype, np.dtype) and dtype.kind == "O" and (
                    label not in encoded or label in numbers) and numbers_as_objects(sample[col]):
                # an object column of numbers (True/False/None from a polars Boolean with nulls, Decimal from
                # polars or a Parquet decimal128) read as float64, None as NaN, as scikit-learn reads it: it was
                # refused as text ("column(s) ['c'] hold text"; helper-154). An encoder's column keeps its values
                dtype = np.dtype(np.float64)
            kept = _no_onnx_type(dtype)
            if kept is not None:
                raise InvalidDataError(
                    f"column {label!r} holds {kept}; an ONNX input holds numbers or text, and no ONNX type "
                    "keeps these values as the model compares them. Convert the column before fitting, "
                    f"{_as_numbers_or_text(dtype, label)}, fit the model again and convert it with that frame",
                    column=label,
                )
            if label in dates:
                # a CSV of the frame keeps no date type: its text ('2020-01-01') is none of the encoder's categories
                # on either side, so parity passed while every row scored as an unknown date (0.105 off; helper-200)
                raise InvalidDataError(
                    f"column {label!r}: the model's encoder was fitted on {dates[label]} values (dates or durations "
                    f"as categories), and the sample holds {dtype} values (a CSV keeps no date type); no ONNX type "
                    "keeps these values as the model compares them. Convert the column before fitting, "
                    f"{_as_numbers_or_text(dates[label], label)}, fit the model again and convert it with that frame",
                    column=label,
                )
            if not isinstance(dtype, np.dtype):
                categories = getattr(dtype, "categories", None)
                if categories is not None:
                    # a category column holds its categories' values: integer ones are integers (typed
                    # as text, the frame the model was fitted on was refused: "non-text values"), float
                    # ones doubles, compared with the categories in double; pandas' nullable Int64 and
                    # Float64 categories as their numpy type (np.dtype refused them: "Cannot interpret")
                    inner = getattr(categories.dtype, "numpy_dtype", categories.dtype)
                    dtype = inner if isinstance(inner, np.dtype) and inner.kind in "iuf" else np.dtype(object)
                else:
                    # pandas' nullable numbers and booleans (Int64, Float64, boolean) hold numpy values (a
                    # missing Float64 reads as NaN); its other dtypes (string...) hold objects
                    numpy = getattr(dtype, "numpy_dtype", None)
                    dtype = numpy if isinstance(numpy, np.dtype) and numpy.kind in "fiub" else np.dtype(object)
                if (dtype.kind in "iub" and categories is None) or (
                        dtype.kind in "iu" and bool(sample[col].isna().any())):
                    # scikit-learn reads a nullable integer or boolean column (Int64, boolean) as float64
                    # with NaN for <NA>, for an imputer: typed int64, a sample holding <NA> was refused ("1
                    # missing value"), and typed by whether the sample held one, the file refused the
                    # training frame's <NA>
                    dtype = np.dtype(np.float64)
            elif dtype.kind not in "fiubOUS":
                dtype = np.dtype(object)
            if label in flagged:
                dtype = np.dtype(np.int64)
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
            if np.dtype(dtype).kind in "OUS" and label in numbers:
                _refuse_text_in_numbers(label, sample[col], numbers[label])
            columns.append(_Column(input_name, label, np.dtype(dtype), 1))
        return columns
    picked = _picked_by_name(model)
    if picked and expected is not None and not is_dataframe(sample):
        # skl2onnx said "Unable to find column name 'alpha' among names ['input']" (scikit-learn itself
        # refuses an array: "Specifying the columns using strings is only supported for dataframes")
        raise InvalidDataError(
            "the model's ColumnTransformer selects its columns by name, and an array sample has no column names: "
            f"pass a DataFrame sample with the columns {expected} (the frame the model was fitted on, X.head(20); "
            "CLI: a CSV or Parquet sample with that header, not .npy)",
            column=picked[0],
        )
    n_in = getattr(model, "n_features_in_", None)
    array = np.asarray(one_row(sample, n_in))
    if array.ndim == 1:  # one column of values (LabelEncoder, a text vectorizer, a one-feature model)
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise InvalidDataError(f"expected a 2-D sample (rows x features), found shape {list(array.shape)}; "
                                   "give rows of the model's features (X[:5], a CSV or Parquet table)")
    if n_in is not None and array.shape[1] != n_in:
        raise InvalidDataError(
            f"the model was fitted on {n_in} features; the sample has {array.shape[1]} columns. "
            "Pass a sample with the training columns.",
        )
    return [_Column(input_name, input_name, array.dtype, array.shape[1])]


def _refuse_text_in_numbers(label: str, values: Any, why: str) -> None:
    """Refuse a sample whose column ``label`` holds text (a typo such as ``'six'``, a CSV's ``'n/a'``) where
    the fitted model reads numbers (``why``, :func:`number_columns`): typed from that sample, the input became
    text, the conversion passed, and validate then refused the rows the model was fitted on as "numbers
    where the model was fitted on text". A column of text the model reads as text (codes like '007' an
    encoder learnt as text) is not one of these."""
    text = [(row, value) for row, value in enumerate(values) if isinstance(value, (str, bytes))]
    cells = [(row, value) for row, value in text if not _reads_as_number(value)]
    shown = ", ".join(f"{value!r} in row {row}" for row, value in (cells or text)[:5]) + (
        f" and {len(cells or text) - 5} more" if len(cells or text) > 5 else "")
    if not cells:  # every text cell spells a number ('6'): the column was given as text, not mistyped
        what, fix = "numbers as text", f"Give the column as numbers (X[{label!r}].astype(float))"
    elif len(cells) < len(values):  # text among numbers: a typo, a CSV's 'n/a'
        what, fix = "text", ("Correct the cell(s), or give the sample as numbers (the frame the model was fitted "
                             "on, or a Parquet file of it)")
    else:
        what, fix = "text", ("Give the column as the numbers the model was fitted on, or encode the text in the "
                             "pipeline (a ColumnTransformer with a OneHotEncoder) and fit the model again")
    raise InvalidDataError(
        f"column {label!r} holds {what} where the model reads numbers ({why}): {shown} (rows count from 0, the "
        "first row after a CSV's header). From this sample the input would take text and refuse the numbers "
        f"the model was fitted on. {fix}",
        column=label,
    )


def _reads_as_number(value: str | bytes) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


#: Steps that read an integer matrix as categories or counts to look up, not as numbers to compute with.
_CATEGORY_READERS = ("Encoder", "Hasher", "Vectorizer", "LabelBinarizer")


def _reads_numbers(model: Any) -> bool:
    """Whether the step reading ``model``'s input computes with its values as numbers (not an encoder, a
    hasher, a SimpleImputer filling the most frequent value or a constant: scikit-learn keeps integers there).

    A SimpleImputer of the mean or median (or a callable), a KNNImputer or IterativeImputer reads integers as
    float64, as a Binarizer compares them with its float threshold: given to skl2onnx as int64 each was
    refused ("takes integer as input but nan values are replaced by float", "should have the same type")."""
    first = first_step(model)
    if type(first).__name__ == "SimpleImputer":
        return getattr(first, "strategy", "mean") not in ("most_frequent", "constant")
    return not any(word in type(first).__name__ for word in _CATEGORY_READERS)


def _integers_as_answered(proto: Any, model: Any, sample: Any) -> None:
    """Cast the one output of a transformer that scikit-learn answers in integers on integer rows (a
    ``Binarizer``, a feature selector, a pipeline ending in one) to scikit-learn's integer type, in place.

    Such a step reads the rows as numbers, so they enter the graph as double (:func:`_reads_numbers`) and its
    output was double where ``transform`` answers the sample's integers: a ``Binarizer`` on int64 rows answered
    float64 0.0 and 1.0 where scikit-learn answers int64 0 and 1. The type is what the model's own
    ``transform`` answers on the sample's first rows; a model that predicts, or answers floats, is left alone."""
    import numpy as np
    from onnx import TensorProto, helper

    from onnxgate._graph import output_after

    outputs = proto.graph.output
    if not hasattr(model, "transform") or hasattr(model, "predict") or len(outputs) != 1:
        return
    declared = outputs[0].type.tensor_type
    if declared.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE):
        return
    try:
        rows = sample.iloc[:5] if hasattr(sample, "iloc") else sample[:5]
        answered = model.transform(rows)
    except Exception:  # the file stays as written: parity compares values whatever their type
        return
    if not isinstance(answered, np.ndarray) or answered.dtype.kind not in "iu":
        return
    to = helper.np_dtype_to_tensor_dtype(answered.dtype)
    output_after(proto.graph, outputs[0].name, "Cast", was="float", node=f"as_{answered.dtype.name}", to=to)
    declared.elem_type = to


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


def _refuses_integers(err: Exception) -> bool:
    """skl2onnx refused an integer input a step could read as floats: a SimpleImputer over an int64
    column (its missing values are floats), or over int64 and float64 columns together ("Inputs and
    outputs should have the same type ... Int64TensorType")."""
    text = str(err)
    return "takes integer as input" in text or ("should have the same type" in text and "Int" in text)


def _takes_one_input(err: Exception) -> bool:
    """skl2onnx refused the estimator's inputs one per column: it reads one input, or several of one type
    (a SimpleImputer first in a pipeline over float and int columns); the Cast + Concat front serves both."""
    text = str(err)
    return any(said in text for said in ("at most 1 input", "Inputs and outputs should have the same type",
                                         "Only one input vector is allowed",  # KMeans, GaussianProcess
                                         "with a wrong type",  # a bool column into StandardScaler, KMeans
                                         "!= number of given features"))  # IsolationForest (helper-77)


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


def _predict_is_argmax_of_proba(model: Any) -> bool:
    """Whether ``model.predict(X)`` is ``classes_.take(argmax(model.predict_proba(X), axis=1))``, as scikit-learn's
    forest classifiers (random forest, extra trees) answer one target: their own ``predict`` does that and no more."""
    from sklearn.ensemble._forest import ForestClassifier

    predict = getattr(getattr(model, "predict", None), "__func__", None)  # not the instance's own, nor a subclass's
    return isinstance(model, ForestClassifier) and predict is ForestClassifier.predict and getattr(
        model, "n_outputs_", None) == 1


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
    """Call the estimator on ``X`` as the user would: float32 rows as they are where the user's rows are
    float32 (:data:`~onnxgate.converters._base.ROWS_GIVEN_FLOAT32`), else given as float64 first.

    Rows the user gave as float64 reach here as float32 when the model takes float32: widening them is
    exact and computes as the user's float64 call does. Some estimators refuse float32 rows after a float64
    fit (``KMeans.predict`` in scikit-learn 1.9: "Buffer dtype mismatch"), and one fitted on float32 may
    refuse float64: each gets the other form then. Rows the user gave as float32 stay float32: a float32
    StandardScaler computes in float32 there, and a tree after it answered otherwise on widened rows
    (``make_pipeline(StandardScaler(), XGBClassifier())`` on float32 breast_cancer: 7 of 398 rows; helper-80).
    """
    from onnxgate.converters._base import ROWS_GIVEN_FLOAT32

    if ROWS_GIVEN_FLOAT32.get():
        # rows the user gave as float32 reach here widened where the model takes double: given back as the
        # float32 they were (narrowing is exact then), a float64-fitted MinMaxScaler computes in float32 as the
        # user's own call does (6 of 178 wine rows off by 0.03 after it through a forest had passed; helper-85).
        # Rows that are not all float32 values (the search's) stay double, as the file reads them
        narrow = _narrow_exactly(X)
        first, second = (narrow, X) if narrow is not X else (X, _widen(X))
    else:
        first, second = _widen(X), X
    if first is second:
        return method(X)
    try:
        return method(first)
    except (ValueError, TypeError):
        return method(second)


def _narrow_exactly(X: Any) -> Any:
    """``X`` with its float64 columns as float32 where every value is a float32 value, else ``X`` itself."""
    import numpy as np

    from onnxgate._data import is_dataframe

    def exact(values: Any) -> bool:
        values = np.asarray(values)
        with np.errstate(over="ignore"):
            return bool(np.array_equal(values.astype(np.float32).astype(np.float64), values, equal_nan=True))

    if is_dataframe(X):
        wide = [c for c in X.columns if X[c].dtype == np.float64]
        return X.astype({c: np.float32 for c in wide}) if wide and all(exact(X[c]) for c in wide) else X
    if isinstance(X, np.ndarray) and X.dtype == np.float64 and exact(X):
        return X.astype(np.float32)
    return X


def _widen(X: Any) -> Any:
    import numpy as np

    from onnxgate._data import is_dataframe

    if is_dataframe(X):
        narrow = [c for c in X.columns if X[c].dtype == np.float32]
        return X.astype({c: np.float64 for c in narrow}) if narrow else X
    if isinstance(X, np.ndarray) and X.dtype == np.float32:
        return X.astype(np.float64)
    return X


def _later_name_pickers(model: Any) -> list[str]:
    """The pipeline steps after the first (at any depth of nested pipelines) that are ColumnTransformers
    fitted on named columns: each picks among the columns the steps before it give."""
    found: list[str] = []
    for k, (name, step) in enumerate(getattr(model, "steps", None) or []):
        if k and type(step).__name__ == "ColumnTransformer" and getattr(step, "feature_names_in_", None) is not None:
            found.append(name)
        elif hasattr(step, "steps"):
            found.extend(_later_name_pickers(step))
    return found


def _conversion_error(model: Any, err: Exception, compute: str) -> Exception:
    """One-line error for a failed skl2onnx conversion, carrying the root cause.

    skl2onnx wraps a failure to build a node as "Unable to create node ... attributes={...}" with
    the real reason (e.g. ``AttributeProto.ints: Expected an int, got a boolean``) as its cause.
    """
    text = str(err)
    if type(err).__name__ in ("MissingShapeCalculator", "MissingConverter") or "shape calculator" in text:
        culprit = type(model).__name__
        for est in sub_estimators(model):
            if type(est).__name__ in text:
                culprit = type(est).__name__
                break
        module = next(
            (type(e).__module__.split(".")[0] for e in sub_estimators(model) if type(e).__name__ == culprit), ""
        )
        hint = _ONNXMLTOOLS_HINT.get(
            module,
            "register a converter for it with skl2onnx.update_registered_converter, or replace the step",
        )
        return UnsupportedModelError(
            f"skl2onnx has no converter for {culprit}: {hint}.", framework="sklearn"
        )
    reason = root_line(err)
    head = text.strip().splitlines()[0] if text.strip() else ""
    later = _later_name_pickers(model)
    if later and "Unable to find column name" in text:
        # skl2onnx looks a later ColumnTransformer's names up among the graph inputs, and the matrix the steps
        # before it give has none of its names (the names set_output(transform="pandas") gave it)
        return UnsupportedModelError(
            f"the ColumnTransformer step(s) {later} pick columns by the names the step before them gives "
            "(set_output(transform='pandas')); skl2onnx looks a name up only among the model's inputs and "
            f"cannot convert it ({head.split('. Make sure')[0]}). Do that step's work in the first "
            "ColumnTransformer: a branch that is a Pipeline of both steps' transformers, on the raw columns",
            framework="sklearn")
    if compute == "float64":
        return NoDouble(
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

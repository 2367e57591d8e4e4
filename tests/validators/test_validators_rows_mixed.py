"""Files whose answer for a row reads the other rows of its batch, with no Shape, Size or control flow, and class
tables reordered: validate passed them on data below the threshold or of one class (helper-345)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from _tampering import counted_above_rows, large_batch_failure
from onnx import TensorProto, helper, numpy_helper

import onnxgate as og
from onnxgate.validators.rows_mixed import RowsScan, scan_rows


@pytest.fixture(scope="module")
def iris():
    model, X, _ = og.zoo.get("sklearn-iris-logreg").build()
    return model, X


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize(("how", "node"), [("reduce_rows", "ReduceSum"), ("reduce_all", "ReduceSum"),
                                           ("matmul", "MatMul")])
def test_a_file_counting_its_rows_without_shape_fails_on_data_below_the_count(iris, how, node, opset):
    # x * 0 + 1 summed over the rows (or every axis, or ones.T @ ones), Greater 100, Where: the probabilities halve
    # in batches above 100 rows, and 5 rows of data passed (the large batch ran for Shape/Size/If/Loop/Scan only)
    model, X = iris
    converted = og.convert(model, X[:5], opset=opset).model
    parity_check = large_batch_failure(counted_above_rows(converted, 100, how), model, X)

    assert f"its graph mixes the rows of a batch: node '{node} -> tamper_" in parity_check.message
    (found,) = [f for f in parity_check.details["rows_mixed"] if f["op_type"] == node]
    assert "rows" in found["reads"] and "the batch's rows" in found["why"]
    assert og.validate(converted, reference=model, data=X[:5]).passed


def test_a_file_mixing_rows_where_the_scan_loses_them_fails_on_the_large_batch(iris):
    # reshaped to [-1] first, the rows are lost to shape inference: the large batch still runs for the ReduceSum
    model, X = iris
    edited = counted_above_rows(og.convert(model, X[:5], opset=15).model, 100, "flattened")
    assert scan_rows(edited).untraced and not scan_rows(edited).mixed

    parity_check = og.validate(edited, reference=model, data=X[:5]).check("prediction_parity")

    assert not parity_check.passed
    assert "in one batch of 10000 rows" in parity_check.message
    assert "its graph computes across the rows of a batch, at 'ReduceSum -> tamper_count' (ReduceSum)" in \
        parity_check.message


def test_a_file_switching_on_the_batchs_largest_value_is_named_in_what_was_not_checked(iris):
    # halved where the batch's largest sepal length exceeds 7: the data's rows all lie below, so every batch scored
    # (alone, together, 10,000 repeated) agrees, and a batch holding one row above 7 halves every row's answer. The
    # graph alone cannot tell it from a correct file whose node computes over the rows (a sort of the rows undone
    # after, a batch mean beside the per-row outputs, Keras' bincount): the pass names the node as not checked
    model, X = iris
    edited = counted_above_rows(og.convert(model, X[:5], opset=15).model, 7, "row_max")
    data = X[X[:, 0] < 7]
    session = ort.InferenceSession(edited.SerializeToString(), providers=["CPUExecutionProvider"])
    assert not np.allclose(session.run(["probabilities"], {"input": X})[0], model.predict_proba(X))

    parity_check = og.validate(edited, reference=model, data=data).check("prediction_parity")

    assert parity_check.passed
    assert [f["op_type"] for f in parity_check.details["rows_mixed"]] == ["ReduceMax"]
    note = next(n for n in parity_check.details["not_checked"] if n["key"] == "rows_mixed")
    assert note["what"] == "1 node computing over the batch's rows"
    assert note["why"].startswith("node 'ReduceMax -> tamper_count' (ReduceMax) in the main graph, reading "
                                  "'tamper_first' [rows, 1], takes the largest value over axis 0, the batch's rows")
    assert "rows_mixed" not in {n["key"] for n in og.validate(
        og.convert(model, X[:5], opset=15).model, reference=model, data=data).check(
        "prediction_parity").details.get("not_checked", [])}
    assert all(o["passed"] for o in parity_check.details["outputs"])  # the batches themselves matched


def _feature_model(op: str, opset: int) -> tuple[onnx.ModelProto, object]:
    """A model normalising each row over its own features, and its numpy reference."""
    rng = np.random.default_rng(0)
    width = 6
    scale, bias = rng.normal(size=width).astype(np.float32), rng.normal(size=width).astype(np.float32)
    mean, var = rng.normal(size=width).astype(np.float32), rng.uniform(0.5, 2, size=width).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in ((scale, "scale"), (bias, "bias"), (mean, "mean"), (var, "var"))]
    if op == "LayerNormalization":
        nodes = [helper.make_node(op, ["x", "scale", "bias"], ["y"], axis=-1, epsilon=1e-5)]

        def reference(feeds):
            x = feeds["x"]
            return [(x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5) * scale + bias]
    elif op == "BatchNormalization":
        nodes = [helper.make_node(op, ["x", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-5)]

        def reference(feeds):
            return [(feeds["x"] - mean) / np.sqrt(var + 1e-5) * scale + bias]
    else:
        # softmax over the features, then divided by its own sum over them (axis 1): rows stay apart
        nodes = [helper.make_node("Softmax", ["x"], ["p"], axis=-1),
                 helper.make_node("ReduceSum", ["p", "axes"], ["s"], keepdims=1),
                 helper.make_node("Div", ["p", "s"], ["y"])]
        inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"))

        def reference(feeds):
            e = np.exp(feeds["x"] - feeds["x"].max(1, keepdims=True))
            return [e / e.sum(1, keepdims=True)]
    graph = helper.make_graph(nodes, op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", width])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, reference


@pytest.mark.parametrize(("op", "opset"), [("LayerNormalization", 17), ("LayerNormalization", 18),
                                           ("BatchNormalization", 13), ("BatchNormalization", 18), ("Softmax", 13),
                                           ("Softmax", 18)])
def test_a_model_normalising_each_row_over_its_features_is_not_said_to_mix_rows(op, opset):
    model, reference = _feature_model(op, opset)
    X = np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)

    parity_check = og.validate(model, reference=reference, data=X).check("prediction_parity")

    assert parity_check.passed, parity_check.message
    assert "rows_mixed" not in parity_check.details and scan_rows(model).mixed == ()


@pytest.mark.parametrize("name", ["sklearn-iris-logreg", "sklearn-wine-knn", "sklearn-breast-cancer-gbc-pipeline",
                                  "sklearn-wine-columntransformer", "pytorch-digits-gru", "keras-digits-conv"])
def test_zoo_files_mix_no_rows(name):
    model, X, _ = og.zoo.get(name).build()
    sample = X.head(5) if hasattr(X, "head") else X[:5]
    for opset in (13, 18):
        assert scan_rows(og.convert(model, sample, opset=opset).model).mixed == ()


@pytest.mark.parametrize("labels", ["int", "str"])
def test_a_class_table_reordered_fails_on_data_of_one_class(labels):
    # versicolor and virginica swapped in the file's class table: rows of setosa alone are labelled and scored alike
    # by both models, and validate passed (helper-318's audit said only "labels seen: 1 of 3 classes")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    named = np.array(["setosa", "versicolor", "virginica"])[y] if labels == "str" else y
    model = LogisticRegression(max_iter=1000).fit(X, named)
    converted = og.convert(model, X[:5], opset=15).model
    edited = onnx.ModelProto()
    edited.CopyFrom(converted)
    (table,) = [t for t in edited.graph.initializer if t.name == "classes"]
    values = numpy_helper.to_array(table)
    table.CopyFrom(numpy_helper.from_array(values[[0, 2, 1]], "classes"))

    parity_check = og.validate(edited, reference=model, data=X[:40]).check("prediction_parity")

    assert not parity_check.passed
    shown = ["setosa", "virginica", "versicolor"] if labels == "str" else [0, 2, 1]
    assert f"lists the classes as {shown} (its constant 'classes')" in parity_check.message
    assert parity_check.details["class_order"]["reference"] == sorted(shown)
    assert og.validate(converted, reference=model, data=X[:40]).passed


@pytest.mark.parametrize("reference", ["module", "callable"])
def test_a_boolean_mask_updating_its_own_rows_is_not_said_to_mix_rows(reference):
    # out[m] = x[m] * 2 exports as NonZero over the batch's mask, then GatherND/ScatterND of those rows: each row's
    # answer reads its own values only, and validate failed the file as "2 nodes ... mix the rows of a batch"
    torch = pytest.importorskip("torch")

    class DoublePositive(torch.nn.Module):
        def forward(self, x):
            out = x.clone()
            mask = x[:, 0] > 0
            out[mask] = x[mask] * 2
            return out

    module = DoublePositive().eval()
    X = np.random.default_rng(2).normal(size=(40, 3)).astype(np.float32)
    converted = og.convert(module, torch.from_numpy(X[:8])).model
    assert any(n.op_type == "NonZero" for n in converted.graph.node)

    def doubled(feeds):
        x = feeds["input"]
        return [np.where(x[:, :1] > 0, x * 2, x)]

    parity_check = og.validate(converted, reference=module if reference == "module" else doubled,
                               data=X).check("prediction_parity")

    assert parity_check.passed, parity_check.message
    assert "rows_mixed" not in parity_check.details
    assert "'/NonZero' (NonZero)" in scan_rows(converted).untraced  # the large batch is the check of what follows


@pytest.mark.parametrize("opset", [12, 15])
def test_a_masked_assignment_is_no_mixing_but_a_count_of_rows_by_nonzero_still_fails(iris, opset):
    # out[mask] = out[mask] * 1, as PyTorch exports it (NonZero, GatherND, ScatterND): each row answered from its
    # own row, and validate failed the file, naming NonZero as mixing the rows. A NonZero that counts the rows
    # (its largest position against 100) is still found, by the large batch
    from _tampering import masked_assignment

    model, X = iris
    converted = og.convert(model, X[:5], opset=opset).model
    masked = masked_assignment(converted)
    session = ort.InferenceSession(masked.SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.allclose(session.run(["probabilities"], {"input": X})[0], model.predict_proba(X), atol=1e-5)

    report = og.validate(masked, reference=model, data=X)

    assert report.passed, str(report)
    assert "rows_mixed" not in report.check("prediction_parity").details
    large_batch_failure(counted_above_rows(converted, 100, "nonzero"), model, X)


def _reshaped_model(shape: list[int], axis: int) -> onnx.ModelProto:
    """x [N, 3, 4] reshaped by a constant ``shape``, then summed over ``axis`` (keepdims)."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("ReduceSum", ["flat", "axes"], ["y"], keepdims=1)]
    inits = [numpy_helper.from_array(np.array(shape, dtype=np.int64), "shape"),
             numpy_helper.from_array(np.array([axis], dtype=np.int64), "axes")]
    graph = helper.make_graph(nodes, "reshaped", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    return model


def test_a_reshape_to_minus_one_and_the_features_keeps_the_rows():
    # [N, 3, 4] to [-1, 12]: -1 is the rows, and the scan follows them (it lost them, and a mixing node after such
    # a Reshape went unnamed, scored in a large batch at best); [-1, 1] and [-1] merge the rows with the features
    summed_rows = scan_rows(_reshaped_model([-1, 12], 0))
    assert [f["node"] for f in summed_rows.mixed] == ["'ReduceSum -> y' (ReduceSum)"]
    assert summed_rows.mixed[0]["reads"] == "'flat' [rows, 12]"
    assert scan_rows(_reshaped_model([-1, 12], 1)) == scan_rows(_reshaped_model([-1, 0, 4], 1)) == \
        scan_rows(_reshaped_model([-1, 6, 2], 2))
    assert scan_rows(_reshaped_model([-1, 12], 1)).untraced == ()
    for lost in ([-1, 1], [-1], [-1, 4]):
        assert scan_rows(_reshaped_model(lost, 1 if len(lost) > 1 else 0)).untraced == ("'ReduceSum -> y' (ReduceSum)",)


@pytest.mark.parametrize("name", ["gaussiannb", "stacking", "keras-digits-conv"])
def test_files_reshaping_their_rows_to_minus_one_are_traced(name):
    # GaussianNB's [-1, 1] of a [N] column, Keras's Reshape to [-1, 1600] before Dense: each file's reductions and
    # products counted as "untraced" and parity scored a batch of 10,000 rows more for it
    if name == "keras-digits-conv":
        model, X, _ = og.zoo.get(name).build()
    else:
        from sklearn.datasets import load_iris
        from sklearn.ensemble import StackingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.naive_bayes import GaussianNB

        X, y = load_iris(return_X_y=True)
        X = X.astype(np.float32)
        model = GaussianNB() if name == "gaussiannb" else StackingClassifier(
            [("a", LogisticRegression(max_iter=500)), ("b", GaussianNB())])
        model.fit(X, y)
    for opset in (13, 18):
        assert scan_rows(og.convert(model, X[:5], opset=opset).model) == RowsScan()


@pytest.mark.parametrize(("how", "node"), [("reduce_rows", "ReduceSum"), ("matmul", "MatMul"),
                                           ("row_max", "ReduceMax")])
@pytest.mark.parametrize("data", [False, True])
def test_validate_without_a_reference_names_a_file_mixing_its_rows(iris, how, node, data):
    # no reference, so no batch compared: the skipped check names the node the graph computes over the rows with
    # (it said nothing of these files)
    model, X = iris
    converted = og.convert(model, X[:5], opset=15).model
    edited = counted_above_rows(converted, 100 if how != "row_max" else 7, how)

    parity_check = og.validate(edited, data=X[:5] if data else None).check("prediction_parity")

    assert parity_check.skipped
    assert f"whether the graph mixes the rows of a batch was not checked at '{node} -> tamper_" in parity_check.message
    clean = og.validate(converted, data=X[:5] if data else None).check("prediction_parity")
    assert clean.skipped and "mixes the rows" not in clean.message


def test_validate_without_a_reference_says_where_the_rows_were_not_followed(iris):
    # the rows reshaped to [-1] before the ReduceSum: the scan cannot tell, and says so rather than pass in silence
    model, X = iris
    edited = counted_above_rows(og.convert(model, X[:5], opset=15).model, 100, "flattened")

    parity_check = og.validate(edited).check("prediction_parity")

    assert parity_check.skipped
    assert ("whether the graph mixes the rows of a batch was not checked at 'ReduceSum -> tamper_count' (ReduceSum)"
            in parity_check.message)


def _graph(nodes: list, inputs: list, inits: dict | None = None, output: str = "y") -> onnx.ModelProto:
    """A model of ``nodes`` reading ``inputs`` (value_infos), with integer/float/string constants ``inits``."""
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    graph = helper.make_graph(nodes, "hand_made", inputs, [helper.make_empty_tensor_value_info(output)],
                              initializer=tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


_ROWS_F = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
_ROWS_1D = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])
_TEXT_1D = helper.make_tensor_value_info("x", TensorProto.STRING, ["N"])
_ONE = {"one": np.array([1], dtype=np.int64), "zero": np.array([0], dtype=np.int64)}
_TREE = {"nodes_modes": ["LEAF"], "nodes_nodeids": [0], "nodes_treeids": [0], "nodes_featureids": [0],
         "nodes_values": [0.0], "nodes_truenodeids": [0], "nodes_falsenodeids": [0], "target_ids": [0],
         "target_nodeids": [0], "target_treeids": [0], "target_weights": [1.0], "n_targets": 1}
_TFIDF = {"mode": "TF", "min_gram_length": 1, "max_gram_length": 1, "max_skip_count": 0, "ngram_counts": [0],
          "ngram_indexes": [0, 1], "pool_strings": ["cat", "dog"]}


def _mixing_cases() -> dict[str, tuple[onnx.ModelProto, str]]:
    """Hand-made files where an operator of ai.onnx.ml (or a text one) reads across the batch's rows: each with the
    operator the scan must name."""
    ml = "ai.onnx.ml"
    return {
        # x * x[0]: ArrayFeatureExtractor's indices pick along the last axis, and a 1-D tensor's last axis is the rows
        "array_feature_extractor_of_1d": (_graph([
            helper.make_node("ArrayFeatureExtractor", ["x", "zero"], ["first"], domain=ml),
            helper.make_node("Reshape", ["first", "one"], ["flat"]),
            helper.make_node("Mul", ["x", "flat"], ["y"])], [_ROWS_1D], _ONE), "ArrayFeatureExtractor"),
        # every row's column index applied to each row ([N, 4] picked by [N]: an [N, N] answer)
        "array_feature_extractor_rows_by_rows": (_graph([
            helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
            helper.make_node("ArrayFeatureExtractor", ["x", "col"], ["y"], domain=ml),
            helper.make_node("Gather", ["xi", "zero_s"], ["col"], axis=1)], [_ROWS_F],
            {"zero_s": np.array(0, dtype=np.int64)}), "ArrayFeatureExtractor"),
        # a 1-D input is one sample: the rows are its features
        "tree_ensemble_of_1d": (_graph([helper.make_node("TreeEnsembleRegressor", ["x"], ["y"], domain=ml, **_TREE)],
                                       [_ROWS_1D]), "TreeEnsembleRegressor"),
        "normalizer_of_1d": (_graph([helper.make_node("Normalizer", ["x"], ["y"], domain=ml, norm="L1")],
                                    [_ROWS_1D]), "Normalizer"),
        "feature_vectorizer_of_1d": (_graph([
            helper.make_node("FeatureVectorizer", ["x"], ["y"], domain=ml, inputdimensions=[4])], [_ROWS_1D]),
            "FeatureVectorizer"),
        # the n-grams of every row counted as one text
        "tfidf_of_1d": (_graph([helper.make_node("TfIdfVectorizer", ["x"], ["y"], **_TFIDF)], [_TEXT_1D]),
                        "TfIdfVectorizer"),
        # a row equal to a stop word is dropped and the rows after it move up
        "string_normalizer_with_stopwords": (_graph([
            helper.make_node("StringNormalizer", ["x"], ["y"], case_change_action="LOWER", stopwords=["the"])],
            [_TEXT_1D]), "StringNormalizer"),
        # the neighbours' labels from a 1-D table, given back their rows by Reshape [-1, 3], then summed over them
        "picked_labels_summed_over_rows": (_graph([
            helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
            helper.make_node("Slice", ["xi", "zero", "three", "one"], ["picks"]),
            helper.make_node("ArrayFeatureExtractor", ["table", "picks"], ["labels"], domain=ml),
            helper.make_node("Reshape", ["labels", "shape"], ["per_row"]),
            helper.make_node("ReduceSum", ["per_row", "zero"], ["y"])], [_ROWS_F],
            {**_ONE, "three": np.array([3], dtype=np.int64), "shape": np.array([-1, 3], dtype=np.int64),
             "table": np.arange(5, dtype=np.float32)}), "ReduceSum"),
        # an Imputer (or Scaler) of a 1-D tensor takes its value i % N for row i: each row's by its place in the batch
        "imputer_of_1d": (_graph([
            helper.make_node("Imputer", ["x"], ["y"], domain=ml, imputed_value_floats=[1.0, 2.0, 3.0],
                             replaced_value_float=float("nan"))], [_ROWS_1D]), "Imputer"),
        # each cell of a [N, 2] text padded to the batch's longest: the bigram 'a b' of ['x a', 'b y'] is counted
        # alone (1) and not beside a row of a 3-token cell (0)
        "tokenizer_of_cells_counting_bigrams": (_graph([
            helper.make_node("Tokenizer", ["x"], ["tokens"], domain="com.microsoft", mark=0, pad_value="#",
                             mincharnum=1, separators=[" "]),
            helper.make_node("Flatten", ["tokens"], ["flat"], axis=1),
            helper.make_node("TfIdfVectorizer", ["flat"], ["y"], mode="TF", min_gram_length=2, max_gram_length=2,
                             max_skip_count=0, ngram_counts=[0, 0], ngram_indexes=[0], pool_strings=["a", "b"])],
            [helper.make_tensor_value_info("x", TensorProto.STRING, ["N", 2])]), "Tokenizer"),
    }


@pytest.mark.parametrize("case", list(_mixing_cases()))
def test_an_ml_or_text_operator_reading_across_the_rows_is_named(case):
    # a false "per row" would skip the large batch for these: each reads the batch's rows as one sample's values
    model, op = _mixing_cases()[case]

    found = scan_rows(model).mixed

    assert [f["op_type"] for f in found] == [op], found
    assert "the batch's rows" in found[0]["why"]


def _untraced_cases() -> dict[str, tuple[onnx.ModelProto, onnx.ModelProto]]:
    """Pairs of hand-made files: the first keeps the rows apart through an ai.onnx.ml or text operator and is traced
    to the end; the second, the same operator on other shapes or attributes, does not, and the reduction after it is
    left to the large batch."""
    ml = "ai.onnx.ml"
    rows_last = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0])]  # [4, N]: the rows on the last axis

    def scaled(scale):
        return _graph([*rows_last, helper.make_node("Scaler", ["t"], ["s"], domain=ml, scale=scale,
                                                    offset=[0.0] * len(scale)),
                       helper.make_node("ReduceMax", ["s"], ["y"], axes=[0])], [_ROWS_F], _ONE)

    def stacked(shape, axis):
        return _graph([helper.make_node("Reshape", ["x", "shape"], ["s"]),
                       helper.make_node("ReduceMean", ["s"], ["y"], axes=[axis])], [_ROWS_F],
                      {"shape": np.array(shape, dtype=np.int64)})

    def picked(shape):
        return _graph([helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
                       helper.make_node("ArrayFeatureExtractor", ["table", "xi"], ["labels"], domain=ml),
                       helper.make_node("Reshape", ["labels", "shape"], ["per_row"]),
                       helper.make_node("ReduceSum", ["per_row", "one"], ["y"])], [_ROWS_F],
                      {**_ONE, "shape": np.array(shape, dtype=np.int64), "table": np.arange(5, dtype=np.float32)})

    def tokenized(counted):
        read = ([helper.make_node("Equal", ["tokens", "pad"], ["is_pad"]),
                 helper.make_node("Cast", ["is_pad"], ["pads"], to=TensorProto.FLOAT),
                 helper.make_node("ReduceSum", ["pads", "one"], ["y"])] if counted else
                [helper.make_node("TfIdfVectorizer", ["tokens"], ["counts"], **_TFIDF),
                 helper.make_node("ReduceSum", ["counts", "one"], ["y"])])
        return _graph([helper.make_node("Tokenizer", ["x"], ["tokens"], domain="com.microsoft", mark=0,
                                        pad_value="#", mincharnum=1, separators=[" "]), *read], [_TEXT_1D],
                      {**_ONE, "pad": np.array(["#"], dtype=object)})

    def tree(rows_first):
        return _graph([*(() if rows_first else rows_last),
                       helper.make_node("TreeEnsembleRegressor", ["x" if rows_first else "t"], ["p"], domain=ml,
                                        **_TREE),
                       helper.make_node("Softmax", ["p"], ["y"], axis=-1)], [_ROWS_F])

    return {
        # one scale for every value keeps the rows; one per position of a [4, N] tensor scales each row by its place
        "scaler": (scaled([2.0]), scaled([1.0, 2.0, 3.0])),
        # [N, 4] to [1, -1, 4] stacks the rows on axis 1 (bagging's estimators); [1, -1, 2] splits each row in two
        "stacked_reshape": (stacked([1, -1, 4], 0), stacked([1, -1, 2], 0)),
        # a KNN's labels picked from a table: Reshape [-1, 4] gives each row its own; [-1, 2] splits them
        "picked_labels": (picked([-1, 4]), picked([-1, 2])),
        # the Tokenizer pads each row to the batch's longest: a TfIdfVectorizer without the pad ignores it, a count of
        # the pads reads the other rows
        "tokenizer": (tokenized(False), tokenized(True)),
        # a [N, F] model keeps the rows on axis 0; on [F, N] ([4, N] here) the output's rows are unknown
        "tree_ensemble": (tree(True), _graph([
            helper.make_node("Reshape", ["x", "flat"], ["t"]),
            helper.make_node("TreeEnsembleRegressor", ["t"], ["p"], domain=ml, **_TREE),
            helper.make_node("Softmax", ["p"], ["y"], axis=-1)], [_ROWS_F], {"flat": np.array([4, -1])})),
    }


@pytest.mark.parametrize("case", list(_untraced_cases()))
def test_rows_kept_by_an_ml_or_text_operator_are_followed_and_lost_ones_are_not(case):
    kept, lost = _untraced_cases()[case]

    assert scan_rows(kept) == RowsScan()
    lost_scan = scan_rows(lost)
    assert lost_scan.untraced or lost_scan.mixed, lost_scan


def test_a_file_picking_rows_from_a_1d_tensor_is_named_where_validate_passed_it():
    # y = x * x[0] on a 1-D input: the data's batches agree with a reference doing the same, and validate passed
    # the file in silence (the rows were lost at ArrayFeatureExtractor, nothing after it was judged)
    model, _ = _mixing_cases()["array_feature_extractor_of_1d"]
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"]))
    X = np.random.default_rng(3).uniform(1, 2, size=20).astype(np.float32)

    parity_check = og.validate(model, reference=lambda feeds: [feeds["x"] * feeds["x"][0]], data=X,
                               batch_size=20).check("prediction_parity")

    named = parity_check.details.get("rows_mixed") or []
    assert [f["op_type"] for f in named] == ["ArrayFeatureExtractor"], parity_check.message
    assert "picks positions along axis 0, the batch's rows" in named[0]["why"]


def test_an_imputer_taking_its_value_by_the_rows_place_fails_in_the_large_batch():
    # imputed value 0 for every batch but one of 10,000 rows, where row i takes value i: the data's batches agreed
    # with the reference and validate passed the file (the scan said nothing of the Imputer)
    values = np.full(10_000, 99.0, dtype=np.float32)
    values[0] = 1.5
    model = _graph([helper.make_node("Imputer", ["x"], ["y"], domain="ai.onnx.ml", replaced_value_float=float("nan"),
                                     imputed_value_floats=values.tolist())], [_ROWS_1D])
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"]))
    X = np.random.default_rng(3).uniform(1, 2, size=40).astype(np.float32)
    X[::3] = np.nan

    report = og.validate(model, reference=lambda feeds: [np.where(np.isnan(feeds["x"]), np.float32(1.5), feeds["x"])],
                         data=X)

    parity_check = report.check("prediction_parity")
    assert not parity_check.passed
    assert "in one batch of 10000 rows" in parity_check.message
    assert "node 'Imputer -> y' (Imputer)" in parity_check.message


def _sliced(starts, ends, axes=None, steps=None, opset=17):
    """y = x - Slice(x): the slice broadcast over the batch's rows when it keeps some of them."""
    inits = {"s": np.array(starts, dtype=np.int64), "e": np.array(ends, dtype=np.int64)}
    names = ["x", "s", "e"]
    for key, value in (("a", axes), ("st", steps)):
        if value is not None:
            inits[key] = np.array(value, dtype=np.int64)
            names.append(key)
    nodes = [helper.make_node("Slice", names, ["picked"]), helper.make_node("Sub", ["x", "picked"], ["y"])]
    if opset < 10:
        nodes[0] = helper.make_node("Slice", ["x"], ["picked"], starts=starts, ends=ends,
                                    **({"axes": axes} if axes is not None else {}))
    model = _graph(nodes, [_ROWS_F], inits)
    model.opset_import[0].version = opset
    return model


@pytest.mark.parametrize("starts, ends, axes, steps, opset, mixes", [
    ([0], [1], None, None, 17, True),  # x - x[0:1]: the batch's first row is every row's
    ([100], [101], [0], None, 17, True),  # x[100]: a batch above 100 rows answers otherwise
    ([-1], [-2**63], [0], [-1], 17, True),  # the rows reversed
    ([0], [1], None, None, 9, True),  # before opset 10: attributes
    ([0, 0], [2**63 - 1, 1], [0, 1], None, 17, False),  # every row, the first column: x[:, :1]
    ([0], [1], [-1], None, 17, False),  # the first column only
    ([0], [2**31 - 1], [0], [1], 17, False),  # every row
    ([0], [1], [-2], None, 17, True),  # axis -2 of [N, 4]: the rows
    ([10**9], [-10**9], [0], [-1], 17, True),  # the rows reversed as tf2onnx writes it (x[::-1])
    # every row, every other column: tf2onnx's x[:, ::2] (an open end is 1e9 in its strided slices with steps)
    ([0, 0], [10**9, 10**9], [0, 1], [1, 2], 17, False),
])
def test_a_slice_keeping_some_of_the_batchs_rows_is_named(starts, ends, axes, steps, opset, mixes):
    # a Slice of the rows by constant bounds is a constant Gather of them: 'x - x[0:1]' was not named (a Gather of
    # row 0 was), and a file switching on its batch's first row passed with no word of it
    found = scan_rows(_sliced(starts, ends, axes, steps, opset)).mixed

    assert [f["op_type"] for f in found] == (["Slice"] if mixes else []), found
    if mixes:
        assert "of the batch by position along axis 0, the batch's rows" in found[0]["why"]


def test_a_tokenizer_of_one_text_cell_a_row_counting_bigrams_is_not_said_to_mix_rows():
    # a [N, 1] text has one cell a row: its pads come after its last token, and no bigram reads across cells, so the
    # row's counts are its own (the scan named it as [N, 2]'s, and validate said a row's answer may depend on others)
    def bigrams(cells):
        return _graph([
            helper.make_node("Tokenizer", ["x"], ["tokens"], domain="com.microsoft", mark=0, pad_value="#",
                             mincharnum=1, separators=[" "]),
            helper.make_node("Flatten", ["tokens"], ["flat"], axis=1),
            helper.make_node("TfIdfVectorizer", ["flat"], ["y"], mode="TF", min_gram_length=2, max_gram_length=2,
                             max_skip_count=0, ngram_counts=[0, 0], ngram_indexes=[0], pool_strings=["a", "b"])],
            [helper.make_tensor_value_info("x", TensorProto.STRING, ["N", cells])])

    assert scan_rows(bigrams(1)) == RowsScan()
    assert [f["op_type"] for f in scan_rows(bigrams(2)).mixed] == ["Tokenizer"]


@pytest.fixture(scope="module")
def skl2onnx_ensembles():
    # bagging, soft voting, AdaBoost regression and a TfidfVectorizer text pipeline: skl2onnx's ai.onnx.ml trees,
    # linear models, Normalizer, ArrayFeatureExtractor, StringNormalizer and Tokenizer lost the rows to the scan
    from sklearn.datasets import load_iris
    from sklearn.ensemble import AdaBoostRegressor, BaggingClassifier, VotingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    texts = np.array(["the cat sat", "a dog ran fast", "the dog sat", "cats and dogs", "a fast cat", "the end",
                      "dog days", "cat naps here"] * 5)
    labels = np.array([0, 1, 0, 1, 0, 1, 1, 0] * 5)
    return {
        "bagging": (BaggingClassifier(DecisionTreeClassifier(max_depth=3), n_estimators=4,
                                      random_state=0).fit(X, y), X),
        "voting": (VotingClassifier([("a", LogisticRegression(max_iter=500)),
                                     ("b", DecisionTreeClassifier(max_depth=3))], voting="soft").fit(X, y), X),
        "adaboost": (AdaBoostRegressor(n_estimators=4, random_state=0).fit(X, X[:, 0]), X),
        "text": (make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=500)).fit(texts, labels), texts),
    }


@pytest.mark.parametrize("name", ["bagging", "voting", "adaboost", "text"])
def test_skl2onnx_ensembles_and_text_pipelines_are_not_scored_in_a_large_batch(skl2onnx_ensembles, name, monkeypatch):
    # each file's rows were lost at an ai.onnx.ml or text operator: parity scored it again in a batch of 10,000 rows,
    # and validate without a reference said the rows were not followed at its reductions
    from onnxgate.validators import parity

    model, X = skl2onnx_ensembles[name]
    converted = og.convert(model, X[:5]).model
    large = []
    real = parity.large_batch_disagrees
    monkeypatch.setattr(parity, "large_batch_disagrees", lambda *a, **k: large.append(1) or real(*a, **k))

    report = og.validate(converted, reference=model, data=X[:60])

    assert report.passed, str(report)
    assert large == []
    assert "rows_mixed" not in {n["key"] for n in report.check("prediction_parity").details.get("not_checked", [])}
    skipped = og.validate(converted).check("prediction_parity")
    assert "whether the graph mixes the rows of a batch was not checked" not in skipped.message

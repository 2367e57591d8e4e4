"""HashingVectorizer, which skl2onnx 1.20 has no converter for, written as scikit-learn computes it.

scikit-learn's ``transform`` of a document, for ``analyzer='word'``:

1. lower-case it (``lowercase=True``; onnx ``StringNormalizer``);
2. its tokens are the matches of ``token_pattern`` (com.microsoft ``Tokenizer``, re2, which reads ``\\w``
   and ``\\b`` as ASCII: convert warns of it, as for CountVectorizer);
3. drop the stop words; the features are the tokens (``ngram_range`` starting at 1) and each run of ``n``
   consecutive kept tokens joined by one space, for ``n`` in ``ngram_range`` (onnx ``StringConcat``,
   opset 20);
4. each feature ``f`` is hashed, ``h = murmurhash3_32(f.encode('utf-8'), seed=0)`` as a signed 32-bit
   integer (com.microsoft ``MurmurHash3`` with ``positive=0``, which gives the same integers for any UTF-8
   text), and adds ``sign(h)`` (``alternate_sign=True``, the sign of 0 being +) or 1 to column
   ``|h| mod n_features`` (``abs(-2**31)`` computed in 64 bits, which is scikit-learn's special case);
5. ``binary=True`` sets each column any feature fell in to 1, also a column whose signs cancelled to 0 (an
   explicit zero of the sparse matrix, which ``X.data.fill(1)`` sets too);
6. each row is divided by its ``norm`` ('l2', 'l1'), an all-zero row left as it is.

The tokenizer pads each row to the batch's longest with a pad value; two tokenizers with different pad
values tell a pad from a token equal to it (a pad differs between them, a token does not). The output is
the dense ``[N, n_features]`` matrix in float32 (the counts are whole numbers, exact in float32).

What the graph cannot compute as scikit-learn does is refused by name, never written otherwise: a
character analyzer, a callable analyzer, preprocessor or tokenizer, ``strip_accents``, ``input`` other
than 'content', a token pattern with a capture group (scikit-learn keeps the group, the tokenizer the
whole match) or one that can match an empty token (scikit-learn counts it, the tokenizer drops it)."""

from __future__ import annotations

from typing import Any

from onnxgate.converters._sklearn_extra import width_shape

#: The opset of ScatterElements with ``reduction='add'``, which sums each row's hashed features.
SCATTER_ADD_OPSET = 16

#: The opset of StringConcat, which joins an n-gram's words.
STRING_CONCAT_OPSET = 20

#: The pad values of the two tokenizers (any two different strings).
PADS = ("#", "##")


def register_hashing_vectorizer() -> None:
    """Register the HashingVectorizer converter below with skl2onnx, once."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common._registration import _converter_pool
    from sklearn.feature_extraction.text import HashingVectorizer

    if "OnnxgateHashingVectorizer" in _converter_pool:
        return
    update_registered_converter(HashingVectorizer, "OnnxgateHashingVectorizer", _shape, _convert_hashing_vectorizer)


def _shape(operator: Any) -> None:
    """``[N, n_features]``, double where scikit-learn's float64 rows are handed on in a float64 graph (the counts'
    norm is divided in double: in float32 a LogisticRegression behind it answered 1.3e-7 off)."""
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.converters._skl2onnx_fixes import counts_in_double

    width_shape(lambda op: op.n_features)(operator)
    if counts_in_double(operator.raw_operator):
        operator.outputs[0].type = DoubleTensorType(operator.outputs[0].type.shape)


def hashing_refusal(est: Any, opset: int) -> str | None:
    """Why the HashingVectorizer ``est`` cannot be written at ``opset`` as scikit-learn computes it, or None."""
    import re

    from onnxgate.converters._base import opset_asked, opset_fix
    from onnxgate.converters._skl2onnx_fixes import is_group, parsed_pattern, re2_token_pattern

    name = type(est).__name__
    if est.analyzer == "char":
        return (f"{name}(analyzer={est.analyzer!r}) hashes character n-grams, which onnxruntime's tokenizer does "
                "not make as scikit-learn does; only analyzer='word' is converted")
    refusal = text_setting_refusal(est)
    if refusal:
        return refusal
    if opset < SCATTER_ADD_OPSET:
        return (f"{name} needs opset {SCATTER_ADD_OPSET} or higher: each row's hashed features are summed with "
                f"ScatterElements(reduction='add') (opset {SCATTER_ADD_OPSET}); {opset_asked(opset)}")
    if est.ngram_range[1] > 1 and opset < STRING_CONCAT_OPSET:
        return (f"{name}(ngram_range={tuple(est.ngram_range)}) needs opset {STRING_CONCAT_OPSET} or higher: "
                "scikit-learn hashes each n-gram's words joined by a space, which the graph writes with "
                f"StringConcat (opset {STRING_CONCAT_OPSET}); {opset_asked(opset)}. "
                + opset_fix(STRING_CONCAT_OPSET, "refit with ngram_range=(1, 1), or hash with a vectorizer the "
                            "target runs (CountVectorizer/TfidfVectorizer)"))
    pattern = est.token_pattern
    if not isinstance(pattern, str):
        return f"{name}(token_pattern={pattern!r}): the graph's tokenizer needs a pattern"
    parsed = parsed_pattern(pattern)
    re2_token_pattern(est, parsed)  # refuses what re2 cannot read
    whole = len(parsed) == 1 and is_group(parsed[0])
    if re.compile(pattern).groups and not whole:
        return (f"{name}(token_pattern={pattern!r}) has a capture group: scikit-learn's token is the group, "
                "onnxruntime's tokenizer takes the whole match. Refit with a non-capturing group (?:...)")
    if parsed.getwidth()[0] == 0:
        return (f"{name}(token_pattern={pattern!r}) can match an empty token, which scikit-learn hashes and "
                "onnxruntime's tokenizer drops. Refit with a pattern that matches at least one character")
    for word in est.get_stop_words() or ():
        if not isinstance(word, str):
            return f"{name}(stop_words=...) holds {word!r}, not a string"
    return None


def text_setting_refusal(est: Any) -> str | None:
    """Why the text vectorizer ``est`` (``CountVectorizer``, ``TfidfVectorizer`` or ``HashingVectorizer``) cannot be
    written as scikit-learn computes it for a setting they share, or None: Python code (a callable analyzer,
    preprocessor or tokenizer), ``analyzer='char_wb'``, ``strip_accents``, ``input`` other than 'content'.

    skl2onnx refused most of them in its own words ("CountVectorizer cannot be converted, only tokenizer='word' is
    fully supported. You may raise an issue at ..."), naming CountVectorizer for a TfidfVectorizer and no way out,
    and wrote a callable analyzer as characters and ``input='filename'`` as a file onnxruntime cannot load."""
    name = type(est).__name__
    if callable(est.analyzer):
        return f"{name}(analyzer=<callable>) runs Python code the graph cannot hold; use analyzer='word'"
    if est.analyzer == "char_wb":
        # each word padded with spaces, its n-grams cut at the word's ends, a word shorter than n counted whole
        # (also below min_n): onnx's n-gram counter takes n-grams of one sequence per row, with no such cut
        return (f"{name}(analyzer='char_wb') makes the character n-grams of each word padded with a space, which "
                "onnxgate cannot write as scikit-learn makes them; refit with analyzer='char' (the n-grams of the "
                "whole text, which convert as scikit-learn makes them) or analyzer='word'")
    for setting in ("preprocessor", "tokenizer"):
        if getattr(est, setting) is not None:
            return f"{name}({setting}=<callable>) runs Python code the graph cannot hold; leave {setting}=None"
    if est.strip_accents is not None:
        shown = "<callable>" if callable(est.strip_accents) else repr(est.strip_accents)
        function = "strip_accents_ascii" if est.strip_accents == "ascii" else "strip_accents_unicode"
        return (f"{name}(strip_accents={shown}): the graph has no accent stripping (Unicode decomposition, NFKD, "
                "which onnx does not have); strip the accents from the text before the vectorizer, when fitting and "
                f"when scoring (sklearn.feature_extraction.text.{function}), and refit with strip_accents=None")
    if est.input != "content":
        return f"{name}(input={est.input!r}) reads files; the graph reads the text itself (input='content')"
    return None


def _convert_hashing_vectorizer(scope: Any, operator: Any, container: Any) -> None:
    """The graph of the module docstring, from the ``[N]`` or ``[N, 1]`` text to the ``[N, n_features]``
    matrix."""

    import numpy as np
    from onnx import TensorProto, helper
    from skl2onnx.common.data_types import DoubleTensorType

    from onnxgate.converters._skl2onnx_fixes import parsed_pattern, re2_token_pattern
    from onnxgate.converters._sklearn_extra import GraphWriter
    from onnxgate.errors import UnsupportedModelError

    est = operator.raw_operator
    refusal = hashing_refusal(est, container.target_opset)
    if refusal:
        raise UnsupportedModelError(refusal, framework="sklearn")
    pattern = re2_token_pattern(est, parsed_pattern(est.token_pattern))
    w = GraphWriter(scope, container, np.float32)

    def ints(value: Any, name: str = "const") -> str:
        return w.const(value, dtype=np.int64, name=name)

    text = w.node("Reshape", operator.inputs[0].full_name, ints([-1], "rows"))
    if est.lowercase:
        # no locale: onnxgate names a portable one in every StringNormalizer (portable_locale)
        text = w.node("StringNormalizer", text, case_change_action="LOWER")
    tokens, other = (w.node("Tokenizer", text, op_domain="com.microsoft", pad_value=pad, tokenexp=pattern, mark=0,
                            mincharnum=1) for pad in PADS)
    # com.microsoft's ops have no schema in onnx, so their outputs have no type, and onnx's shape inference of
    # a LabelEncoder reading an untyped tensor crashes the process (a segmentation fault)
    container.value_info.extend(helper.make_tensor_value_info(name, TensorProto.STRING, None)
                                for name in (tokens, other))

    def equals(strings: str, keys: list[str]) -> str:
        """1 where ``strings`` is one of ``keys``, else 0 (int64; LabelEncoder reads strings at any opset)."""
        return w.node("LabelEncoder", strings, op_domain="ai.onnx.ml", op_version=2, keys_strings=keys,
                      values_int64s=[1] * len(keys), default_int64=0)

    # a pad is the first pad value in one output and the second in the other, a token the same in both
    dropped = w.node("Mul", equals(tokens, [PADS[0]]), equals(other, [PADS[1]]))
    stop = sorted(str(word) for word in est.get_stop_words() or ())
    if stop:
        dropped = w.node("Max", dropped, equals(tokens, stop))
    kept = w.node("Cast", w.node("Sub", ints(1), dropped), to=TensorProto.FLOAT)
    min_n, max_n = int(est.ngram_range[0]), int(est.ngram_range[1])
    features, weights = [], []
    if min_n == 1:
        features.append(tokens)
        weights.append(kept)
    if max_n > 1:
        width = w.node("Gather", w.node("Shape", tokens), ints(1))
        # the kept tokens first, in their order (a stable sort on dropped * width + position): n-grams run over
        # them, as scikit-learn makes them after removing the stop words
        position = w.node("Range", ints(0), width, ints(1))
        key = w.node("Add", w.node("Mul", dropped, width), position)
        _, order = scope.get_unique_variable_name("key_sorted"), scope.get_unique_variable_name("token_order")
        container.add_node("TopK", [key, w.node("Reshape", width, ints([1]))], [_, order],
                           name=scope.get_unique_operator_name("TopK"), axis=-1, largest=0, sorted=1)
        compact = w.node("GatherElements", tokens, order, axis=-1)
        count = w.node("Sub", width, w.node("ReduceSum", dropped, ints([1]), keepdims=1))
        space = scope.get_unique_variable_name("space")
        container.add_initializer(space, TensorProto.STRING, [], [b" "])
        for n in range(max(min_n, 2), max_n + 1):
            gram = ""
            for k in range(n):
                end = ints([k - (n - 1) if k < n - 1 else np.iinfo(np.int64).max])
                word = w.node("Slice", compact, ints([k]), end, ints([1]))
                gram = word if not gram else w.node("StringConcat", w.node("StringConcat", gram, space), word)
            starts = w.node("Range", ints(0), w.node("Sub", width, ints(n - 1)), ints(1))
            whole = w.node("Less", w.node("Unsqueeze", starts, ints([0])), w.node("Sub", count, ints(n - 1)))
            features.append(gram)
            weights.append(w.node("Cast", whole, to=TensorProto.FLOAT))
    feature = features[0] if len(features) == 1 else w.node("Concat", *features, axis=1)
    weight = weights[0] if len(weights) == 1 else w.node("Concat", *weights, axis=1)
    hashed = w.node("MurmurHash3", feature, op_domain="com.microsoft", positive=0, seed=0)
    container.value_info.append(helper.make_tensor_value_info(hashed, TensorProto.INT32, None))
    # |h| in 64 bits: abs(-2**31) % n is scikit-learn's own special case of that hash
    column = w.node("Mod", w.node("Abs", w.node("Cast", hashed, to=TensorProto.INT64)), ints(int(est.n_features)))
    if est.alternate_sign and not est.binary:
        sign = w.node("Where", w.node("Less", hashed, w.const(0, dtype=np.int32)), w.const(-1.0), w.const(1.0))
        weight = w.node("Mul", weight, sign)
    rows = w.node("Slice", w.node("Shape", text), ints([0]), ints([1]))
    zeros = w.node("ConstantOfShape", w.node("Concat", rows, ints([int(est.n_features)]), axis=0),
                   value=_float_scalar(0.0))
    matrix = w.node("ScatterElements", zeros, column, weight, axis=1, reduction="add")
    if est.binary:
        # X.data.fill(1): every column a feature fell in, also one whose signs summed to 0
        matrix = w.node("Cast", w.node("Greater", matrix, w.const(0.0)), to=TensorProto.FLOAT)
    real: Any = np.float32
    if isinstance(operator.outputs[0].type, DoubleTensorType):  # the whole numbers cast, the norm divided in double
        real = np.float64
        matrix = w.node("Cast", matrix, to=TensorProto.DOUBLE)
    if est.norm is not None:
        size = w.node("Abs", matrix) if est.norm == "l1" else w.node("Mul", matrix, matrix)
        norm = w.node("ReduceSum", size, ints([1]), keepdims=1)
        if est.norm == "l2":
            norm = w.node("Sqrt", norm)
        # a row of whole numbers that is not all zero has a norm of at least 1; an all-zero row stays 0
        matrix = w.node("Div", matrix, w.node("Max", norm, w.const(1.0, dtype=real)))
    w.node("Identity", matrix, out=operator.outputs[0].full_name)


def _float_scalar(value: float) -> Any:
    import numpy as np
    from onnx import numpy_helper

    return numpy_helper.from_array(np.array([value], dtype=np.float32))

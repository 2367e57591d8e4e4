"""HashingVectorizer, which skl2onnx has no converter for, converted by onnxgate's own (``_sklearn_text``): its
transform matches scikit-learn's on text, in text pipelines the labels match, and what the graph cannot compute
as scikit-learn does is refused by the setting's name."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import onnxgate as og

warnings.filterwarnings("ignore", category=UserWarning)

#: Words the sentences are drawn from: capitals (lower-cased or not), one-letter words (dropped by the default
#: pattern), English stop words, punctuation, digits.
WORDS = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", ".", "A", "cat", "sat", "on", "a",
         "mat", ",", "and", "I", "saw", "it", "!", "Good", "film", ",", "bad", "plot", ";", "actors", "were",
         "boring", "42", "times", "x_1", "is", "NOT", "a", "copy", "of", "it"]

#: Words with letters outside ASCII, hashed as their UTF-8 bytes; onnxruntime's tokenizer reads \w as ASCII
#: (convert warns of it), so they are read with a pattern of their own.
NON_ASCII = ["café", "CAFÉ", "naïve", "Über", "straße", "日本語", "ПРИВЕТ", "emoji😀"]


def _texts(n: int = 300, seed: int = 0, words: tuple[str, ...] = ()) -> Any:
    rng = np.random.RandomState(seed)
    docs = [" ".join(rng.choice([*WORDS, *words], rng.randint(0, 16))) for _ in range(n)]
    return np.array([*docs, "", "   ", "a", "the the the", "IT IS A COPY"], dtype=object)


def _transform(conv: og.Conversion, texts: Any) -> Any:
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: texts.reshape(-1, 1)})[0]


@pytest.mark.parametrize("settings", [
    {"n_features": 2**10},
    {},  # 2**20 columns
    {"n_features": 2**10, "norm": "l1"},
    {"n_features": 64, "norm": None},  # collisions: signs add up, some to 0
    {"n_features": 16, "norm": None, "binary": True},  # a column whose signs cancelled is still 1
    {"n_features": 16, "alternate_sign": False, "norm": None},
    {"n_features": 2**10, "stop_words": "english"},
    {"n_features": 2**10, "stop_words": ["the", "a", "The"], "lowercase": False},
    {"n_features": 2**10, "ngram_range": (1, 3), "stop_words": "english", "opset": 20},
    {"n_features": 2**10, "ngram_range": (2, 2), "opset": 20},
    {"n_features": 7, "ngram_range": (1, 2), "norm": None, "opset": 20},
    {"n_features": 2**10, "token_pattern": r"(?u)\b\w+\b", "ngram_range": (1, 2), "opset": 20},
    {"n_features": 2**10, "token_pattern": r"[^ ,.;!]+", "ngram_range": (1, 2), "opset": 20},  # non-ASCII tokens
], ids=["l2", "default-width", "l1", "no-norm-collisions", "binary", "no-alternate-sign", "stop-words",
        "stop-list-case-kept", "trigrams-stop-words", "bigrams-only", "bigrams-collisions", "one-letter-words",
        "non-ascii-tokens"])
def test_hashing_vectorizer_transforms_text_as_scikit_learn(settings: dict[str, Any]) -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    settings = dict(settings)
    opset = settings.pop("opset", None)
    non_ascii = "\\w" not in str(settings.get("token_pattern", "\\w"))
    texts = _texts(40 if not settings else 300, words=tuple(NON_ASCII) if non_ascii else ())
    model = HashingVectorizer(**settings).fit(texts)
    conv = og.convert(model, texts[:3].reshape(-1, 1), **({"opset": opset} if opset else {}))
    unseen = np.array(["", "zebra", "The zebra sat on the mat , NOT the dog"] + ["café CAFÉ café"] * non_ascii,
                      dtype=object)
    for rows in (texts, unseen, texts[3:4]):
        np.testing.assert_allclose(_transform(conv, rows), model.transform(rows).toarray(), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("steps", "opset"), [
    ("hashing", None),
    ("hashing tfidf", None),
    ("bigrams tfidf", 20),
])
def test_a_hashing_text_pipeline_validates_and_answers_its_labels(steps: str, opset: int | None) -> None:
    import onnxruntime as ort
    from sklearn.base import clone
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = _texts(400, seed=1)
    y = np.array([("good" in d.lower().split()) + ("fox" in d.split()) for d in texts])
    hashing = HashingVectorizer(n_features=2**12, ngram_range=(1, 2) if "bigrams" in steps else (1, 1),
                                alternate_sign="tfidf" not in steps, norm=None if "tfidf" in steps else "l2")
    parts = [hashing, TfidfTransformer()] if "tfidf" in steps else [hashing]
    model = make_pipeline(*parts, LogisticRegression(C=10, max_iter=2000)).fit(texts, y)
    kwargs = {"opset": opset} if opset else {}
    conv = og.convert(model, texts[:5], **kwargs)
    report = og.validate(conv, reference=model, data=texts)
    assert report.passed, str(report)
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.array_equal(session.run(None, {session.get_inputs()[0].name: texts.reshape(-1, 1)})[0],
                          model.predict(texts))
    # hashed into 16 columns, words collide and the pipeline scores otherwise: validate says so
    other = clone(model).set_params(hashingvectorizer__n_features=16).fit(texts, y)
    assert not og.validate(conv, reference=other, data=texts).passed


@pytest.mark.parametrize(("settings", "opset", "message"), [
    ({"analyzer": "char"}, None, r"analyzer='char'\) hashes character n-grams"),
    ({"analyzer": "char_wb", "ngram_range": (2, 4)}, None, r"analyzer='char_wb'\)"),
    ({"analyzer": str.split}, None, r"analyzer=<callable>\)"),
    ({"preprocessor": str.lower}, None, r"preprocessor=<callable>\)"),
    ({"tokenizer": str.split}, None, r"tokenizer=<callable>\)"),
    ({"strip_accents": "unicode"}, None, r"strip_accents='unicode'\).*no accent stripping"),
    ({"input": "filename"}, None, r"input='filename'\) reads files"),
    ({"token_pattern": r"(\w+)="}, None, "capture group"),
    ({"token_pattern": r"\w*"}, None, "can match an empty token"),
    ({"token_pattern": r"\b\w+(?=s\b)"}, None, "re2"),
    # no opset given: the message said "asked for 17", an opset the user never named
    ({"ngram_range": (1, 2)}, None,
     r"ngram_range=\(1, 2\)\) needs opset 20 or higher.*; at the default opset 17 \(no opset was given\)\. "),
    ({"ngram_range": (1, 2)}, 17, r"ngram_range=\(1, 2\)\) needs opset 20 or higher.*; asked for 17\. "),
    ({}, 15, "needs opset 16 or higher.*asked for 15"),
], ids=["char", "char-wb", "callable-analyzer", "preprocessor", "tokenizer", "strip-accents", "input-filename",
        "capture-group", "empty-token", "lookahead", "ngrams-default-opset", "ngrams-opset-17", "opset-15"])
def test_what_the_graph_cannot_compute_is_refused_by_its_setting(settings: dict[str, Any], opset: int | None,
                                                                 message: str) -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    model = HashingVectorizer(n_features=64, **settings)
    with pytest.raises(og.UnsupportedModelError, match=message):
        og.convert(model, _texts(5).reshape(-1, 1), **({"opset": opset} if opset else {}))


def test_a_refusal_at_a_targets_opset_names_the_target_not_the_user() -> None:
    # convert(..., target="sql-edge-2.0") without an opset said "asked for 17" too
    from sklearn.feature_extraction.text import HashingVectorizer

    model = HashingVectorizer(n_features=64, ngram_range=(1, 2))
    with pytest.raises(og.UnsupportedModelError, match=r"; at opset 17, the highest target 'sql-edge-2\.0' runs "
                                                       r"\(no opset was given\)") as err:
        og.convert(model, _texts(5).reshape(-1, 1), target="sql-edge-2.0")
    assert "asked for" not in str(err.value)
    # and no fix the target cannot take: sql-edge-2.0 runs opset 17 at most, so "opset=20" would fail again
    assert "Convert with opset=20" not in str(err.value)
    assert "Target 'sql-edge-2.0' runs opset 17 at most" in str(err.value)
    assert "refit with ngram_range=(1, 1)" in str(err.value)
    with pytest.raises(og.UnsupportedModelError, match=r"asked for 17\. Convert with opset=20"):
        og.convert(model, _texts(5).reshape(-1, 1), opset=17)  # no target: opset 20 is the fix


def test_a_capture_group_around_the_whole_pattern_is_the_whole_match() -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = _texts(100)
    model = HashingVectorizer(n_features=256, token_pattern=r"(\w\w+)")
    conv = og.convert(model, texts[:3].reshape(-1, 1))
    np.testing.assert_allclose(_transform(conv, texts), model.transform(texts).toarray(), atol=1e-6, rtol=0)
    words = np.array(["café naïve Привет 日本語 x_1"], dtype=object)  # \w as Python reads it, group and all
    np.testing.assert_allclose(_transform(conv, words), model.transform(words).toarray(), atol=1e-6, rtol=0)
    assert not any("ASCII only" in note for note in conv.warnings)


@pytest.mark.parametrize("pattern", [".", "(?u).", r"\S"])
def test_a_one_character_pattern_hashes_no_newline(pattern: str) -> None:
    # onnxruntime's tokenizer reads the pattern "." as its character mode, which splits off newlines too, where
    # Python's "." matches no newline: each '\n' was hashed, 2.0 off
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = np.array(["a\nb c", "line one\nline two\r\nthree\ttab", "x", ""], dtype=object)
    model = HashingVectorizer(n_features=64, norm=None, token_pattern=pattern)
    conv = og.convert(model, texts.reshape(-1, 1))
    np.testing.assert_allclose(_transform(conv, texts), model.transform(texts).toarray(), atol=1e-6, rtol=0)


def test_a_default_width_pipeline_is_validated_and_scored_in_batches_its_rows_fit(tmp_path: Any) -> None:
    # the file computes 2**20 columns per row dense (4 MiB), where scikit-learn keeps them sparse: 400 rows in
    # validate's one batch took 3.7 GB, and its 16,384-row batches would have asked onnxruntime for 64 GB
    import pandas as pd
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from onnxgate.cli import main

    texts = _texts(200, seed=2)
    y = np.array(["fox" in d.split() for d in texts])
    model = make_pipeline(HashingVectorizer(), LogisticRegression(max_iter=2000)).fit(texts, y)
    conv = og.convert(model, texts[:5])
    assert any("1,048,576 columns per row dense" in w and "4 GB" in w for w in conv.warnings)
    report = og.validate(conv, reference=model, data=texts)
    assert report.passed, str(report)
    assert report.check("prediction_parity").details["batch_size"] == 64  # 256 MiB of 4 MiB rows
    rows = tmp_path / "rows.parquet"
    pd.DataFrame({conv.signature.inputs[0].name: texts}).to_parquet(rows)
    conv.save(tmp_path / "m.onnx")
    out = tmp_path / "scored.parquet"
    assert main(["score", str(tmp_path / "m.onnx"), "--data", str(rows), "--out", str(out)]) == 0
    assert np.array_equal(pd.read_parquet(out)["label"].to_numpy(), model.predict(texts))
    from onnxgate.runtime import _rows_that_fit, session

    assert _rows_that_fit(session(conv.model.SerializeToString()), 16_384) == 64  # score's and Spark's runs
    # a narrow one keeps the default batches
    narrow = make_pipeline(HashingVectorizer(n_features=2**12), LogisticRegression(max_iter=2000)).fit(texts, y)
    conv = og.convert(narrow, texts[:5])
    assert not any("dense" in w for w in conv.warnings)
    assert og.validate(conv, reference=narrow, data=texts).check("prediction_parity").details["batch_size"] == 16_384


def test_a_pattern_reading_spaces_by_class_splits_unicode_spaces_as_scikit_learn() -> None:
    # re2 reads \s as ASCII: with token_pattern \S+ the file kept 'good\xa0film' one token where scikit-learn
    # splits it at the non-breaking space (helper-135); the file now reads Python's spaces
    from sklearn.feature_extraction.text import CountVectorizer

    texts = np.array(["good film", "bad plot", "good plot", "bad film"], dtype=object)
    model = CountVectorizer(token_pattern=r"\S+").fit(texts)
    conv = og.convert(model, texts[:2].reshape(-1, 1))
    rows = np.array(["good\xa0film", "bad\u3000plot", "good\u2003film\x0bbad"], dtype=object)
    np.testing.assert_allclose(_transform(conv, rows), model.transform(rows).toarray(), atol=1e-6, rtol=0)
    assert not any("ASCII only" in w for w in conv.warnings), conv.warnings


def test_a_pattern_re2_cannot_read_as_python_warns_with_its_vocabulary() -> None:
    # re2 has no Unicode \b and no class intersection: these patterns keep reading \w as ASCII, and convert says
    # so, naming the pattern and the vocabulary entries the file never counts
    from sklearn.feature_extraction.text import CountVectorizer

    texts = np.array(["café good", "naïve film", "good plot", "Привет film"], dtype=object)
    for pattern in (r"[^\W\d_]+", r"\b\w{2,6}\b"):
        model = CountVectorizer(token_pattern=pattern).fit(texts)
        conv = og.convert(model, texts[:2].reshape(-1, 1))
        assert any(f"token_pattern={pattern!r}" in w and "ASCII only" in w and "holds 3 entries outside ASCII" in w
                   for w in conv.warnings), conv.warnings
        row = np.array(["café"], dtype=object)
        assert not np.array_equal(_transform(conv, row), model.transform(row).toarray())  # what it warns of


@pytest.mark.parametrize("kind", ["HashingVectorizer", "CountVectorizer"])
def test_a_lowercasing_vectorizer_warns_of_the_two_letters_onnx_lowercases_otherwise(kind: str) -> None:
    # onnx's StringNormalizer lower-cases each letter alone: a word-final 'Σ' becomes 'σ' where Python writes 'ς',
    # 'İ' becomes 'i' where Python writes 'i' and a combining dot. With a pattern of explicit characters convert
    # said nothing, and 'ΟΔΟΣ' was hashed (or looked up) as another word (helper-143)
    from sklearn.feature_extraction import text

    texts = np.array(["οδος και νομος", "İzmir είναι", "good film", "νομος"], dtype=object)
    model = getattr(text, kind)(token_pattern="[^ ]+", **({"n_features": 64} if kind == "HashingVectorizer" else {}))
    model.fit(texts)
    conv = og.convert(model, texts[:2].reshape(-1, 1), **({"opset": 20} if kind == "HashingVectorizer" else {}))
    assert any("lowercase=True" in w and "'ς'" in w and "'İ'" in w for w in conv.warnings), conv.warnings
    if kind == "CountVectorizer":  # the words it concerns, by name (helper-250)
        assert any("reads otherwise in capitals: 2 ending a word in a sigma ('νομος', 'οδος')" in w
                   for w in conv.warnings), conv.warnings
    rows = np.array(["ΟΔΟΣ ΚΑΙ ΝΟΜΟΣ", "İzmir"], dtype=object)
    got, expected = _transform(conv, rows), model.transform(rows).toarray()
    assert all(not np.array_equal(g, e) for g, e in zip(got, expected))  # what the warning is about
    # text other than those two letters is lower-cased as scikit-learn does it, non-ASCII capitals included
    other = np.array(["ΝΟΜΟΙ ΚΑΙ ΣΟΦΙΑ", "CAFÉ ÜBER ПРИВЕТ good"], dtype=object)
    np.testing.assert_allclose(_transform(conv, other), model.transform(other).toarray(), atol=1e-6)
    kept = getattr(text, kind)(token_pattern="[^ ]+", lowercase=False).fit(texts)
    assert not any("lowercase=True" in w for w in og.convert(kept, texts[:2].reshape(-1, 1), opset=20).warnings)


@pytest.mark.parametrize("norm", ["l2", "l1", None])
def test_sublinear_term_frequencies_are_one_plus_their_log_as_in_scikit_learn(norm: str | None) -> None:
    # skl2onnx wrote sublinear_tf=True as log(tf + 1), where scikit-learn computes 1 + log(tf) on each count above
    # 0: every document with a word was off (1.9 without a norm, 0.025 after l2), and validate failed 93 of 240
    # rows of a logistic regression's probabilities (helper 213's sweep)
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = _texts()
    vectorizer = TfidfVectorizer(sublinear_tf=True, norm=norm).fit(texts)
    conv = og.convert(vectorizer, texts[:20].reshape(-1, 1))
    np.testing.assert_allclose(_transform(conv, texts), vectorizer.transform(texts).toarray(), rtol=1e-5, atol=1e-6)
    frame = pd.DataFrame({"review": texts})
    y = np.array(["bad" in t or "boring" in t for t in texts], dtype=np.int64)
    model = make_pipeline(make_column_transformer((TfidfVectorizer(sublinear_tf=True, norm=norm), "review")),
                          LogisticRegression(max_iter=2000)).fit(frame, y)
    report = og.validate(og.convert(model, frame.head(20)), reference=model, data=frame)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_tf_idf_beside_float64_columns_is_weighted_in_double_and_validates() -> None:
    # skl2onnx declared TF-IDF float32 in a double graph: the text column was weighted in float32 and cast to
    # double after, 2.7e-6 off a Ridge on diabetes, and validate failed 1 of 242 rows against float64's tolerance
    # (atol 1e-7), a false alarm only precision='float32' silenced
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    frame, y = load_diabetes(return_X_y=True, as_frame=True)
    numbers = list(frame.columns[:5])
    frame = frame[numbers].copy()
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    frame["text"] = [" ".join(rng.choice(words, rng.integers(1, 9))) for _ in range(len(frame))]
    y = y - y.mean() + 3.0 * frame["text"].str.count("beta") + 2.0 * frame["text"].str.count("gamma")
    train, test = frame.iloc[:200], frame.iloc[200:]
    model = Pipeline([("columns", ColumnTransformer([("t", TfidfVectorizer(), "text"), ("n", "passthrough", numbers)])),
                      ("ridge", Ridge(alpha=0.01))]).fit(train, y[:200])
    conv = og.convert(model, train.head(20))
    report = og.validate(conv, reference=model, data=test)
    assert report.passed, [c.message for c in report.checks if not c.passed]
    (out,) = report.check("prediction_parity").details["outputs"]
    assert out["abs"]["max"] < 1e-9


@pytest.mark.parametrize("steps", ["tfidf-vectorizer", "count-then-tfidf-transformer"])
def test_text_weights_follow_the_precision_asked_for(steps: str) -> None:
    # precision='float64' gave a text pipeline float32 probabilities (TF-IDF weighted in float32, 1e-7 off
    # scikit-learn's): they are double now, as scikit-learn's, and float32 stays float32
    import onnxruntime as ort
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = _texts()
    y = np.array([("bad" in t) ^ (i % 5 == 0) for i, t in enumerate(texts)], dtype=np.int64)
    vectorizer = ([TfidfVectorizer(sublinear_tf=True)] if steps == "tfidf-vectorizer"
                  else [CountVectorizer(), TfidfTransformer(sublinear_tf=True, norm="l1")])
    model = make_pipeline(*vectorizer, LogisticRegression(C=100.0, max_iter=5000)).fit(texts[:200], y[:200])
    expected = model.predict_proba(texts[200:])
    for precision, dtype, tolerance in (("float64", np.float64, 1e-12), ("float32", np.float32, 1e-5)):
        conv = og.convert(model, texts[:20].reshape(-1, 1), precision=precision)
        session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
        probabilities = session.run(None, {session.get_inputs()[0].name: texts[200:].reshape(-1, 1)})[1]
        assert probabilities.dtype == dtype, precision
        np.testing.assert_allclose(probabilities, expected, rtol=0, atol=tolerance, err_msg=precision)


@pytest.mark.parametrize("steps", ["tfidf-logistic-list", "count-naive-bayes-series", "tfidf-ridge-column",
                                   "hashing-logistic-list"])
def test_a_text_only_pipeline_computes_in_double_as_scikit_learn(steps: str) -> None:
    # scikit-learn weighs text in float64 (the vectorizers' default dtype; a CountVectorizer's int64 counts are read
    # as float64), but a pipeline fed text alone was converted in float32: a TfidfVectorizer + LogisticRegression's
    # probabilities were 1.5e-7 off, a MultinomialNB's 1.5e-6 (its counts stayed float32 in a double graph too)
    import onnxruntime as ort
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    texts = _texts(600)
    y = np.array([("bad" in t) ^ (i % 5 == 0) for i, t in enumerate(texts)], dtype=np.int64)
    rows: Any = texts
    if steps == "tfidf-logistic-list":
        model, rows = make_pipeline(TfidfVectorizer(), LogisticRegression(C=100.0, max_iter=5000)), list(texts)
    elif steps == "count-naive-bayes-series":
        model, rows = make_pipeline(CountVectorizer(ngram_range=(1, 2)), MultinomialNB()), pd.Series(texts)
    elif steps == "tfidf-ridge-column":
        model = make_pipeline(make_column_transformer((TfidfVectorizer(sublinear_tf=True), "text")), Ridge(0.1))
        rows = pd.DataFrame({"text": texts})
    else:
        model = make_pipeline(HashingVectorizer(n_features=2**8), LogisticRegression(C=100.0, max_iter=5000))
    model.fit(rows[:300], y[:300])
    test = rows[300:]
    conv = og.convert(model, rows[:20])
    session = ort.InferenceSession(conv.model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: np.asarray(test, dtype=object).reshape(-1, 1)})
    expected = model.predict(test) if steps == "tfidf-ridge-column" else model.predict_proba(test)
    answer = got[0].ravel() if steps == "tfidf-ridge-column" else got[1]
    assert answer.dtype == np.float64
    np.testing.assert_allclose(answer, expected, rtol=0, atol=1e-12)
    report = og.validate(conv, reference=model, data=test)
    assert report.passed, [c.message for c in report.checks if not c.passed]


def test_a_float32_text_vectorizer_keeps_a_float32_graph() -> None:
    # scikit-learn weighs the text of a dtype=np.float32 vectorizer in float32: the graph does too
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = _texts()
    y = np.array(["bad" in t for t in texts], dtype=np.int64)
    model = make_pipeline(TfidfVectorizer(dtype=np.float32), LogisticRegression()).fit(texts, y)
    conv = og.convert(model, texts[:20].reshape(-1, 1))
    assert conv.signature.outputs[1].elem_type == "float32"


@pytest.mark.parametrize("kind", ["CountVectorizer", "TfidfVectorizer"])
@pytest.mark.parametrize(("settings", "message"), [
    ({"analyzer": "char_wb", "ngram_range": (2, 4)}, r"\(analyzer='char_wb'\) makes .* refit with analyzer='char'"),
    ({"analyzer": str.split}, r"\(analyzer=<callable>\) runs Python code"),
    ({"preprocessor": str.lower}, r"\(preprocessor=<callable>\) runs Python code"),
    ({"tokenizer": str.split}, r"\(tokenizer=<callable>\) runs Python code"),
    ({"strip_accents": "unicode"}, r"\(strip_accents='unicode'\): .*text\.strip_accents_unicode\), and refit with "
                                   r"strip_accents=None"),
    ({"strip_accents": "ascii"}, r"\(strip_accents='ascii'\): .*text\.strip_accents_ascii\)"),
], ids=["char-wb", "callable-analyzer", "preprocessor", "tokenizer", "strip-accents-unicode", "strip-accents-ascii"])
def test_a_setting_the_graph_cannot_compute_is_refused_in_onnxgates_words(kind: str, settings: dict[str, Any],
                                                                          message: str) -> None:
    # skl2onnx's words were "CountVectorizer cannot be converted, only tokenizer='word' is fully supported. You may
    # raise an issue at ...", naming CountVectorizer for a TfidfVectorizer and no way out; a callable analyzer was
    # converted as characters, a file onnxruntime cannot load
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction import text
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = _texts(20)
    model = getattr(text, kind)(**settings).fit(texts)
    with pytest.raises(og.UnsupportedModelError, match=f"^{kind}{message}") as raised:
        og.convert(model, texts[:2])
    assert "skl2onnx" not in str(raised.value) and "raise an issue" not in str(raised.value)
    frame = pd.DataFrame({"text": texts, "x": np.arange(len(texts), dtype=np.float64)})
    labels = np.arange(len(texts)) % 2
    piped = make_pipeline(ColumnTransformer([("t", getattr(text, kind)(**settings), "text")],
                                            remainder="passthrough"), LogisticRegression()).fit(frame, labels)
    with pytest.raises(og.UnsupportedModelError, match=f"^{kind}{message}"):
        og.convert(piped, frame.head(2))


def test_a_text_vectorizer_column_refused_for_sql_edge_does_not_send_the_user_to_synapse() -> None:
    # the refusal said "or use a target that takes text (synapse)", and convert(..., target="synapse") then gave a
    # file its own check opset_within_caps failed: the vectorizer's Tokenizer is com.microsoft's (helper-378)
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    frame = pd.DataFrame({"notes": _texts(40)[:40], "x": np.arange(40, dtype=np.float64)})
    model = Pipeline([("ct", ColumnTransformer([("t", TfidfVectorizer(), "notes"), ("n", "passthrough", ["x"])])),
                      ("lr", LogisticRegression())]).fit(frame, np.arange(40) % 2)
    with pytest.raises(og.UnsupportedModelError) as err:
        og.convert(model, frame.head(), target="sql-edge-2.0")
    message = str(err.value)
    assert "column 'notes'" in message and "com.microsoft" in message, message
    assert "(synapse)" not in message and "container" in message, message
    # synapse takes text columns: convert for it handed back, without a word, a file synapse's checks refused
    with pytest.raises(og.UnsupportedModelError, match=r"com\.microsoft") as err:
        og.convert(model, frame.head(), target="synapse")
    assert "column 'notes'" in str(err.value) and "container" in str(err.value)
    assert "the runtime of target 'synapse' does not have" in str(err.value), str(err.value)  # not "'synapse''s"

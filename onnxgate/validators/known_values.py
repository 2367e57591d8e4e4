"""The text (and integer category) values a model knows, on both sides: the reference's and the file's.

A OneHotEncoder or OrdinalEncoder knows its ``categories_``, a CountVectorizer or TfidfVectorizer its
``vocabulary_`` words; the file holds them as the strings of the nodes that read the text input (``cats_strings``
of a ``OneHotEncoder`` or ``CategoryMapper``, ``keys_strings`` of a ``LabelEncoder``, ``pool_strings`` of a
``TfIdfVectorizer``). A category renamed in the file ('teal' -> 'purple') or a vocabulary word renamed
('cold' -> 'colder') changes the answer only for rows holding one of those values, which the user's data may
lack: the reference scores 'teal' as teal, the file as unknown. An integer category is read alike (an encoder
fitted on int64 codes: ``categories_`` against ``cats_int64s`` or ``keys_int64s``), for integer inputs only.
:func:`known_text_values` lists, for each text or integer input column, the values either side knows, those only
one side knows (``disputed``) first; the search tries a text input's (:mod:`onnxgate.validators.search`), and
parity scores a data row with each disputed value
(:func:`onnxgate.validators.parity.check_prediction_parity`).

The sides are read, not trusted: a value is tried on both models and only a different answer fails a file, so a
value the converter writes otherwise (an OrdinalEncoder's NaN category written as a text no data holds) is
tried and passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["KnownValues", "category_codes_off_reference", "known_text_values"]

#: Values kept per input column (the disputed ones first): a vocabulary of 100,000 words is not all tried.
MAX_VALUES_PER_COLUMN = 2000
#: Steps a Pipeline may hold before its encoder that keep their columns as they are (their names).
COLUMN_KEEPING_STEPS = frozenset({"SimpleImputer", "FunctionTransformer"})
#: The file's nodes that read whole text values, and the attributes holding the values they know.
VALUE_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "OneHotEncoder": ("cats_strings", "cats_int64s"),
    "CategoryMapper": ("cats_strings", "cats_int64s"),
    "LabelEncoder": ("keys_strings", "keys_int64s", "keys_tensor"),
}
#: numpy kinds of the inputs whose values are read: text, and signed or unsigned integers (category codes).
VALUE_KINDS = "OUSiu"

#: A value a model knows: a text, or an integer category.
Value = str | int


@dataclass(frozen=True)
class KnownValues:
    """The values one text or integer column of an input is known by: ``reference`` (the reference's categories, or
    its vocabulary's entries), ``file`` (the file's node strings, or its integer categories for an integer input);
    ``kind`` says how they compare: ``"category"`` whole values (the only kind of an integer column), ``"words"`` a
    vectorizer's words (an n-gram entry is its words, space-joined), ``"chars"`` a character vectorizer's characters
    (an entry is a character n-gram)."""

    input: str
    column: int
    kind: Literal["category", "words", "chars"]
    reference: tuple[Value, ...]
    file: tuple[Value, ...]
    #: values of the column in the data (a category there is scored by parity already)
    data: frozenset[Value] = frozenset()
    #: every value the reference knows, in any column: the file's nodes may read several columns at once (one
    #: [N, 2] input, or columns concatenated before an imputer), so a file value is disputed only when the
    #: reference knows it nowhere
    reference_anywhere: frozenset[Value] = frozenset()
    #: texts standing for a missing value, not a category: the text the file is fed a missing value as
    #: (:attr:`onnxgate.signature.TensorSpec.missing`, "\x00missing") and the text forms of the reference's None
    #: or NaN categories ('None', 'nan', as the converter writes them); neither side is compared on them
    missing: frozenset[str] = frozenset()
    #: for a column of category codes (:attr:`onnxgate.signature.TensorSpec.codes`: a SQL target's text categories,
    #: XGBoost's categories), the category of each code, code ``i`` being ``categories[i]``; the values above are the
    #: codes, the data's rows hold the categories (:meth:`shown`)
    categories: tuple[Any, ...] | None = None

    def shown(self, value: Value) -> Any:
        """``value`` as the data's rows hold it: a code's category for a column of codes, else itself."""
        if self.categories is not None and isinstance(value, int) and 0 <= value < len(self.categories):
            return self.categories[value]
        return value

    def disputed(self) -> list[Value]:
        """The values one side knows and the other does not, the reference's first (sorted, so a search is
        repeatable): where a renamed category or word shows. Empty when either side is unknown."""
        if not self.reference or not self.file:
            return []
        ours, own = set(self.file) - self.missing, set(self.reference) - self.missing
        anywhere = self.reference_anywhere | own
        if self.kind != "category":
            joined = ("" if self.kind == "chars" else " ").join(map(str, anywhere))
            theirs = set(joined) if self.kind == "chars" else set(joined.split(" ")) - {""}
            only_ref = sorted(e for e in own if e not in ours and any(t not in ours for t in self._tokens(str(e))))
            only_file = sorted(ours - theirs, key=_order)
        else:
            only_ref, only_file = sorted(own - ours, key=_order), sorted(ours - anywhere, key=_order)
        return only_ref + only_file

    def agreed(self) -> list[Value]:
        """The values both sides know alike (the reference's, else the file's, once each in order), neither a
        missing value's text nor disputed: those a passing parity's ``not_checked`` note names when no row holds
        them (:func:`onnxgate.validators.parity.parity_not_checked`, on Spark too)."""
        disputed = set(self.disputed())
        return [v for v in dict.fromkeys(self.reference or self.file) if v not in self.missing and v not in disputed]

    def to_try(self) -> list[Value]:
        """The values to score a row with, in priority order: the disputed ones, then the others the data does
        not hold (at most :data:`MAX_VALUES_PER_COLUMN`)."""
        first = self.disputed()
        seen = set(first)
        rest: list[Value] = []
        entries = (*self.reference, *self.file)
        tokens = _data_tokens(self.data, self.kind, {len(str(v)) for v in entries})
        for value in entries:
            if value in seen or value in self.data or value in self.missing:
                continue
            seen.add(value)
            if self.kind == "chars" and str(value) in tokens:
                continue  # a text of the data holds this n-gram already
            if self.kind == "words" and value and all(t in tokens for t in self._tokens(str(value).lower())):
                continue  # each of its words is in the data already
            rest.append(value)
        return (first + rest)[:MAX_VALUES_PER_COLUMN]

    def _tokens(self, entry: str) -> list[str]:
        return list(entry) if self.kind == "chars" else [w for w in entry.split(" ") if w]


def _order(value: Value) -> tuple[bool, Any]:
    """Sorts integers, then texts (a column holds one or the other)."""
    return isinstance(value, str), value


def _data_tokens(values: Iterable[Value], kind: str, sizes: Iterable[int] = ()) -> frozenset[str]:
    """The words of ``values`` (``kind`` "words"), or their character n-grams of ``sizes`` as a character
    vectorizer reads them (lower-case, white space runs as one space): an n-gram whose every character the data
    holds may still be in no text ('xq'), and was never tried."""
    import re

    if kind == "chars":
        texts = [re.sub(r"\s\s+", " ", str(v).lower()) for v in values]
        return frozenset(t[i:i + n] for t in texts for n in set(sizes) if n > 0 for i in range(len(t) - n + 1))
    if kind == "words":
        return frozenset(w for v in values for w in re.findall(r"\w+", str(v).lower()))
    return frozenset()


def known_text_values(reference: Any, model: Any, feeds: Mapping[str, Any]) -> list[KnownValues]:
    """For each text or integer input column of ``model`` (an onnx.ModelProto) that the reference's encoders or
    vectorizers read, or a node of the file reads whole, the values each side knows (:class:`KnownValues`). An
    integer column's are its categories (an encoder fitted on int64 codes, the file's ``cats_int64s`` or
    ``keys_int64s``).

    Parameters
    ----------
    reference : object
        The native model: a scikit-learn Pipeline, ColumnTransformer, FeatureUnion, OneHotEncoder,
        OrdinalEncoder, CountVectorizer or TfidfVectorizer is read (anything else knows no values here).
    model : onnx.ModelProto
        The file.
    feeds : mapping of str to array
        The data as the file's inputs (:func:`onnxgate._data.as_feeds`): which inputs hold text, their widths,
        and the values the data holds.

    Returns
    -------
    list of KnownValues
        One per (input, column) known by either side, in the file's input order.

    Examples
    --------
    >>> [k.disputed() for k in known_text_values(pipe, conv.model, as_feeds(df, sig))]  # doctest: +SKIP
    [['teal', 'purple']]
    """
    import numpy as np

    text = {name: values for name, values in feeds.items()
            if np.asarray(values).dtype.kind in VALUE_KINDS and np.ndim(values) >= 1}
    if not text:
        return []
    widths = {name: int(np.prod(np.shape(values)[1:])) if np.ndim(values) > 1 else 1 for name, values in text.items()}
    from onnxgate.signature import Signature

    ours: dict[tuple[str, int], tuple[str, list[Value]]] = {}
    missing: dict[tuple[str, int], set[str]] = {}
    try:
        _walk(reference, _columns_of(reference, feeds), ours, missing, 0)
    except Exception:  # an estimator read otherwise than expected: nothing known on its side
        ours, missing = {}, {}
    specs = Signature.from_model(model).inputs
    fed = {spec.name: spec.missing for spec in specs if spec.missing is not None}
    coded = {spec.name: dict(spec.codes) for spec in specs if spec.codes}
    by_column: dict[str, dict[int, list[Value]] | None] = {}
    try:
        file_values = _file_values(model, set(text), widths, by_column)
    except Exception:  # a node read otherwise than expected: nothing known on the file's side
        file_values, by_column = {}, {}
    try:
        trees = _tree_categories(model, widths)
    except Exception:  # a tree read otherwise than expected: its splits add nothing
        trees = {}
    recorded = _recorded_categories(model, file_values)
    # an input whose categories the record gives is known by them alone, not by its nodes' columns
    by_column.update({name: None for name in recorded if recorded[name] is not file_values.get(name)})
    file_values = recorded
    anywhere = frozenset(v for _, values in ours.values() for v in values)
    out: list[KnownValues] = []
    for name in text:
        flat = np.asarray(text[name], dtype=object).reshape(len(text[name]), -1)
        integers = np.asarray(text[name]).dtype.kind in "iu"
        words, cats = file_values.get(name, ([], []))
        # an integer input's values are its integer categories; a text input's, its text ones and words
        cats = [v for v in cats if isinstance(v, int) == integers]
        words = [] if integers else words
        for col in range(widths[name]):
            # a column the reference's side says nothing of: the file's vocabulary, else its categories
            kind, ref = ours.get((name, col), ("words" if words else "category", []))
            ref = [v for v in ref if isinstance(v, int) == integers]
            per_column = by_column.get(name)
            # the file's categories read in this column, where its nodes' columns are told (a Gather of it)
            own = cats if per_column is None else [v for v in per_column.get(col, []) if isinstance(v, int) == integers]
            if integers:  # and the integer categories its trees split on (a LightGBM or XGBoost column)
                own = [*own, *trees.get((name, col), ())]
            file = own if kind == "category" else words
            if not ref and not file:
                continue
            held = flat[:, col].tolist() if col < flat.shape[1] else []
            data = frozenset(v for v in held if isinstance(v, (str, int)) and not isinstance(v, bool))
            # the text a missing value is fed as, unless it is a category too (an imputer's fill value)
            gaps = frozenset(missing.get((name, col), set()) | ({fed[name]} - set(ref) if name in fed else set()))
            named = coded.get(name, {}).get(col) if integers else None
            out.append(KnownValues(name, col, kind, tuple(_unique(ref)),  # type: ignore[arg-type]
                                   tuple(_unique(file)), data, anywhere, gaps, named))
    return out


def category_codes_off_reference(reference: Any, model: Any) -> tuple[str, dict[str, Any]] | None:
    """Why the categories an input of category codes records (:attr:`onnxgate.signature.TensorSpec.codes`, the file's
    ``onnxgate.category_codes``: category ``i`` is code ``i``) are not the reference's own, or None when they are or
    cannot be told: the categories of the reference's ``OneHotEncoder`` or ``OrdinalEncoder`` for that column
    (``categories_``, a missing category left out, as the record leaves it), else those the booster encodes itself
    (LightGBM's ``pandas_categorical``, a HistGradientBoosting model's own encoder), else those the adaptation wrote
    when it made the input (in the adaptation's record of the original model). The booster's own come first: that
    copy is in the file itself, so a file whose two records were edited alike was compared with itself and passed.

    validate, score and the dry run write a table's codes by the file's record, and parity gives the reference the
    categories of those codes back: a record with category 'd' dropped made every 'd' row unknown (all zeros with
    ``handle_unknown='ignore'``), the reference was given a missing value, which it scores as zeros too, and parity
    passed (helper-342). Returns the message and, per input, the categories on each side."""
    from onnxgate.adaptation.mapping import adaptation_of
    from onnxgate.columns import ColumnMap
    from onnxgate.signature import Signature

    coded = [s for s in Signature.from_model(model).inputs if s.codes]
    if not coded:
        return None
    columns = ColumnMap.from_model(model)
    ours: dict[tuple[str, int], tuple[str, list[Value]]] = {}
    fitted = getattr(reference, "feature_names_in_", None)
    names = [str(n) for n in fitted] if fitted is not None else []
    if names:
        try:
            _walk(reference, [(n, 0) for n in names], ours, {}, 0)
        except Exception:  # an estimator read otherwise than expected: the adaptation's record stands
            ours = {}
    own = _booster_categories(reference)
    mapping = adaptation_of(model) or {}
    written: dict[str, Any] = {}
    if isinstance(mapping.get("original"), Mapping):
        for spec in Signature.from_dict(mapping["original"]).inputs:
            entry = (mapping.get("inputs") or {}).get(spec.name) or {}
            for column in entry.get("columns") or []:
                written[str(column)] = dict(spec.codes or ())
    differ: dict[str, Any] = {}
    for spec in coded:
        user = columns.column_for(spec.name)
        for position, recorded in spec.codes or ():
            if recorded is None:
                continue
            kind, known = ours.get((user, 0), ("", [])) if position == 0 else ("", [])
            # a column two encoders read (a OneHotEncoder and a TargetEncoder of it) holds their categories twice
            theirs: list[Any] | None = _unique(known) if kind == "category" and known else None
            booster = own.get(user, own.get(spec.name)) if position == 0 else None
            if theirs is None and booster is not None:  # the reference's own, not the copy the file carries
                theirs = list(booster)
            if theirs is None and written.get(spec.name, {}).get(position) is not None:
                theirs = list(written[spec.name][position])
            if theirs is None or list(recorded) == theirs:
                continue
            differ[spec.name] = {"recorded": list(recorded), "reference": theirs,
                                 "recorded only": [c for c in recorded if c not in theirs],
                                 "reference only": [c for c in theirs if c not in recorded]}
    if not differ:
        return None
    parts = []
    for name, d in differ.items():
        said = [f"{k} {d[k]}" for k in ("recorded only", "reference only") if d[k]]
        parts.append(f"{columns.describe(name)}: the file records {d['recorded']}, the reference's are "
                     f"{d['reference']} ({'; '.join(said) if said else 'in another order'})")
    return (f"the categories the file records for its input(s) of category codes (onnxgate.category_codes, by "
            f"which a table's codes are written) are not the reference's: {'; '.join(parts)}. A table written by "
            "these codes would be scored as other categories, or as unknown ones. Convert the model again "
            "(or onnxgate.adapt the original file) instead of editing the record", differ)


def _booster_categories(reference: Any) -> dict[str, list[Any]]:
    """The columns ``reference`` encodes as categories itself, by name, with its own categories in code order
    (:meth:`onnxgate.converters.Converter.category_columns`: LightGBM's ``pandas_categorical``, a
    HistGradientBoosting model's encoder); empty for any other reference (an ONNX file, a callable)."""
    from onnxgate.converters import registry

    try:
        return registry.for_model(reference).category_columns(reference)
    except Exception:  # no converter claims it, or a model read otherwise than expected: the record's copy stands
        return {}


def _recorded_categories(model: Any, file_values: dict[str, tuple[list[str], list[Value]]],
                         ) -> dict[str, tuple[list[str], list[Value]]]:
    """``file_values`` with each input that the file maps from category values to the codes of a model of codes
    (an MLflow package of a conversion for SQL Edge: the adaptation's ``category_values``) known by its recorded
    categories alone. That map's lookup also holds texts it refuses on purpose, the codes' decimal texts ('-1',
    '0', ...: a client still sending ``.cat.codes``) and the texts of a missing value; read as categories the file
    knows, parity scored a row holding '-1', the file refused it as a code, the reference answered it as an unknown
    category, and a sound package failed with "the file is not this model's conversion"."""
    from onnxgate.adaptation.mapping import adaptation_of

    try:
        recorded = (adaptation_of(model) or {}).get("category_values") or {}
    except Exception:  # a record read otherwise than expected: the nodes' values stand
        return file_values
    out = dict(file_values)
    for name, record in recorded.items():
        if name in out and isinstance(record, Mapping):
            words, cats = out[name]
            categories = [c for c in (_category(v) for v in record.get("categories") or ()) if c is not None]
            out[name] = (words, [v for v in cats if isinstance(v, int)] + [c for c in categories if isinstance(c, str)])
    return out


def _unique(values: Iterable[Value]) -> list[Value]:
    return list(dict.fromkeys(values))


def _columns_of(reference: Any, feeds: Mapping[str, Any]) -> list[tuple[str, int]] | None:
    """The (input, column) of each column the reference reads, in its order; None when it cannot be told."""
    import numpy as np

    names = getattr(reference, "feature_names_in_", None)
    if names is not None and all(str(n) in feeds for n in names):
        return [(str(n), 0) for n in names]
    if len(feeds) == 1:
        name, values = next(iter(feeds.items()))
        width = int(np.prod(np.shape(values)[1:])) if np.ndim(values) > 1 else 1
        return [(name, j) for j in range(width)]
    return None


def _walk(est: Any, columns: list[tuple[str, int]] | None, out: dict[tuple[str, int], tuple[str, list[Value]]],
          missing: dict[tuple[str, int], set[str]], depth: int) -> None:
    """Record the values ``est`` knows for each of ``columns`` (what it reads), through Pipelines,
    ColumnTransformers and FeatureUnions, and in ``missing`` the text forms of its None and NaN categories."""
    if columns is None or depth > 20 or est is None or isinstance(est, str):
        return
    steps = getattr(est, "steps", None)
    if isinstance(steps, list):  # a Pipeline: its first step reads the columns (past column-keeping steps)
        for _, step in steps:
            if step is None or isinstance(step, str):
                continue
            _walk(step, columns, out, missing, depth + 1)
            if type(step).__name__ not in COLUMN_KEEPING_STEPS or getattr(step, "add_indicator", False):
                return
        return
    transformers = getattr(est, "transformers_", None)
    if isinstance(transformers, list):  # a fitted ColumnTransformer
        names = [str(n) for n in getattr(est, "feature_names_in_", [])]
        for _, transformer, selection in transformers:
            picked = _selected(selection, names, len(columns))
            if picked is not None:
                _walk(transformer, [columns[i] for i in picked], out, missing, depth + 1)
        return
    union = getattr(est, "transformer_list", None)
    if isinstance(union, list):  # a FeatureUnion: each part reads every column
        for _, part in union:
            _walk(part, columns, out, missing, depth + 1)
        return
    vocabulary = getattr(est, "vocabulary_", None)
    if isinstance(vocabulary, dict) and hasattr(est, "build_analyzer"):
        kind = {"word": "words", "char": "chars"}.get(str(getattr(est, "analyzer", "")))
        if kind and columns:  # a callable analyzer is refused at convert; 'char_wb' too
            out.setdefault(columns[0], (kind, []))[1].extend(k for k in vocabulary if isinstance(k, str))
        return
    categories = getattr(est, "categories_", None)
    if isinstance(categories, list) and hasattr(est, "transform"):
        for col, cats in zip(columns, categories):
            known = [_category(c) for c in list(cats)]
            out.setdefault(col, ("category", []))[1].extend(c for c in known if c is not None)
            missing.setdefault(col, set()).update(str(c) for c in list(cats) if _is_missing(c))


def _category(value: Any) -> Value | None:
    """A category as compared: a text, or an integer (numpy's as Python's); None for anything else (a float, a
    boolean, a missing value)."""
    import numpy as np

    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return None


def _is_missing(value: Any) -> bool:
    """None, a float NaN, or pandas' NA or NaT: a category standing for a missing value."""
    return value is None or (isinstance(value, float) and value != value) or type(value).__name__ in ("NAType",
                                                                                                        "NaTType")


def _selected(selection: Any, names: Sequence[str], width: int) -> list[int] | None:
    """The column positions a ColumnTransformer's ``selection`` picks, or None (a callable, an unknown name)."""
    import numpy as np

    if isinstance(selection, str):
        selection = [selection]
    if isinstance(selection, slice):
        return list(range(width))[selection]
    if isinstance(selection, (int, np.integer)) and not isinstance(selection, bool):
        selection = [int(selection)]
    try:
        items = list(selection)
    except TypeError:
        return None
    if items and all(isinstance(i, (bool, np.bool_)) for i in items):
        return [i for i, keep in enumerate(items) if keep]
    picked: list[int] = []
    for item in items:
        if isinstance(item, str):
            if item not in names:
                return None
            picked.append(names.index(item))
        elif isinstance(item, (int, np.integer)):
            picked.append(int(item) % width if width else int(item))
        else:
            return None
    return [i for i in picked if 0 <= i < width]


def _file_values(model: Any, inputs: set[str], widths: Mapping[str, int] | None = None,
                 by_column: dict[str, dict[int, list[Value]] | None] | None = None,
                 ) -> dict[str, tuple[list[str], list[Value]]]:
    """For each text or integer input, the words of the ``TfIdfVectorizer`` nodes it reaches (through a
    ``Tokenizer``) and the strings and integers of the nodes that read its whole values (:data:`VALUE_ATTRIBUTES`,
    before any tokenizer), in the main graph, an If's branches, a Loop's or Scan's body or a local function
    (:func:`onnxgate._graph.flat_nodes`). With ``widths`` (input -> columns per row), ``by_column`` gets, for each
    input, the values of the nodes reading each column (a Gather, Slice or ArrayFeatureExtractor of the column
    before a CategoryMapper: :func:`onnxgate._graph.value_columns`), or None where a node reads it otherwise."""
    from onnxgate._graph import flat_nodes, value_columns

    nodes = flat_nodes(model)
    consumers: dict[str, list[Any]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out: dict[str, tuple[list[str], list[Value]]] = {}
    for start in inputs:
        words: list[str] = []
        cats: list[Value] = []
        width = (widths or {}).get(start)
        where = value_columns(model, start, width) if width is not None and by_column is not None else {}
        columns: dict[int, list[Value]] | None = {} if where else None
        seen: set[tuple[str, bool]] = set()
        stack = [(start, False)]
        while stack:
            tensor, tokenized = stack.pop()
            if (tensor, tokenized) in seen:
                continue
            seen.add((tensor, tokenized))
            for node in consumers.get(tensor, []):
                if node.op_type == "TfIdfVectorizer":
                    words += [v for v in _values(node, "pool_strings") if isinstance(v, str)]
                    continue
                if not tokenized and node.op_type in VALUE_ATTRIBUTES:
                    values = [v for attribute in VALUE_ATTRIBUTES[node.op_type] for v in _values(node, attribute)]
                    cats += values
                    read = where.get(tensor) if node.input and node.input[0] == tensor else None
                    if columns is not None and read is None:
                        columns = None
                    elif columns is not None and read is not None:
                        for c in read:
                            if c >= 0:
                                columns.setdefault(c, []).extend(values)
                now = tokenized or node.op_type == "Tokenizer"
                stack += [(name, now) for name in node.output if name]
        if words or cats:
            out[start] = (words, cats)
            if by_column is not None:
                by_column[start] = columns
    return out


#: The tree ensembles whose splits :func:`_tree_categories` reads.
TREE_OPS = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"})
#: Split modes that read a feature as a category: equal (or not) to the split's value (v1 and v5), or one of a set
#: of values (v5's BRANCH_MEMBER, code 6).
_CATEGORY_MODES = frozenset({"BRANCH_EQ", "BRANCH_NEQ"})
_CATEGORY_MODES_V5 = {4: "BRANCH_EQ", 5: "BRANCH_NEQ", 6: "BRANCH_MEMBER"}


def _tree_categories(model: Any, widths: Mapping[str, int]) -> dict[tuple[str, int], list[int]]:
    """The integer categories a tree ensemble splits on (``BRANCH_EQ``, ``BRANCH_NEQ``, ``BRANCH_MEMBER``), per
    column of the integer inputs ``widths`` names (input -> columns per row) that reach its feature as they are:
    through Identity, Cast, Concat, a Gather, Slice or ArrayFeatureExtractor by constant indices, and a Where with a
    constant (:func:`onnxgate._graph.value_columns`). LightGBM's splits on an integer column read its values, an
    XGBoost model's its codes; a category held by no row is scored by no row (an encoder in between, a
    LabelEncoder, is read by :func:`_file_values` instead)."""
    import numpy as np

    from onnxgate._graph import flat_nodes, value_columns

    nodes = flat_nodes(model)
    trees = [node for node in nodes if node.op_type in TREE_OPS and node.input]
    if not trees:
        return {}
    import onnx

    try:  # the widths of inner values: a Concat of one input per column is placed by its parts' widths
        shaped = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a graph shape inference cannot read: the declared widths alone
        shaped = model
    splits = [(node.input[0], _category_splits(node)) for node in trees]
    out: dict[tuple[str, int], list[int]] = {}
    for name, width in widths.items():
        where = value_columns(shaped, name, width)
        for fed, found in splits:
            columns = where.get(fed)
            if columns is None:
                continue
            for feature, value in found:
                if 0 <= feature < len(columns) and columns[feature] >= 0 and np.isfinite(value) \
                        and float(value).is_integer():
                    out.setdefault((name, columns[feature]), []).append(int(value))
    return {key: sorted(set(values)) for key, values in out.items()}


def _category_splits(node: Any) -> list[tuple[int, float]]:
    """The ``(feature, value)`` of each split of the tree ensemble ``node`` reading its feature as a category."""
    import numpy as np
    from onnx import helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: numpy_helper.to_array(v) if hasattr(v, "dims") else v for k, v in attrs.items()}
    features = [int(f) for f in attrs.get("nodes_featureids", [])]
    if node.op_type != "TreeEnsemble":
        modes = [m.decode() if isinstance(m, bytes) else str(m) for m in attrs.get("nodes_modes", [])]
        values = attrs.get("nodes_values")
        if values is None or not len(values):
            values = attrs.get("nodes_values_as_tensor", [])
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        return [(features[i], float(values[i])) for i, mode in enumerate(modes)
                if mode in _CATEGORY_MODES and i < len(features) and i < len(values)]
    codes = np.asarray(attrs.get("nodes_modes", []), dtype=np.int64).reshape(-1)
    values = np.asarray(attrs.get("nodes_splits", []), dtype=np.float64).reshape(-1)
    members = np.asarray(attrs.get("membership_values", []), dtype=np.float64).reshape(-1)
    # membership_values: each BRANCH_MEMBER node's set in node order, a NaN after each
    sets = np.split(members, np.flatnonzero(np.isnan(members)) + 1) if len(members) else []
    out: list[tuple[int, float]] = []
    member = 0
    for i, code in enumerate(codes.tolist()):
        mode = _CATEGORY_MODES_V5.get(code)
        if mode is None or i >= len(features):
            continue
        if mode == "BRANCH_MEMBER":
            held = sets[member] if member < len(sets) else np.empty(0)
            member += 1
            out += [(features[i], float(v)) for v in held if v == v]
        elif i < len(values):
            out.append((features[i], float(values[i])))
    return out


def _values(node: Any, attribute: str) -> list[Value]:
    """The strings or integers of ``node``'s ``attribute`` (a list, or a string or int64 tensor)."""
    for a in node.attribute:
        if a.name != attribute:
            continue
        if a.type == a.STRINGS:
            return [s.decode("utf-8", errors="replace") for s in a.strings]
        if a.type == a.INTS:
            return [int(i) for i in a.ints]
        if a.type == a.TENSOR and a.t.data_type == 8:  # a string tensor (LabelEncoder keys_tensor, opset 4)
            return [s.decode("utf-8", errors="replace") for s in a.t.string_data]
        if a.type == a.TENSOR and a.t.data_type == 7:  # an int64 tensor (LabelEncoder keys_tensor, opset 4)
            from onnx import numpy_helper

            return [int(i) for i in numpy_helper.to_array(a.t).reshape(-1)]
    return []

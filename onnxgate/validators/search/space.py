"""The row space: candidate rows as one float64 matrix over every numeric input column, and back to feeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onnxgate.validators.search.settings import Array

if TYPE_CHECKING:
    from onnxgate.signature import Signature
    from onnxgate.validators.known_values import KnownValues

__all__ = ["Space", "index_array", "make_space", "to_python"]


@dataclass
class Space:
    signature: Signature
    feeds: dict[str, Array]
    n_rows: int
    features: list[tuple[str, int]]  # (input name, flat column)
    row_shapes: dict[str, tuple[int, ...]]
    X: Array  # (n_rows, d) float64
    lo: Array
    hi: Array
    integer: Array  # bool per feature
    float32: Array  # bool per feature: the input is float32 (so bisection steps in float32)
    #: bool per feature: only 0 and 1 are values (a SQL-adapted boolean input: an integer column cast to bool)
    boolean: Array
    #: rows past ``n_rows``: a data row with one text value replaced by :data:`TEXT_EDGES` (their bases)
    text_rows: tuple[int, ...] = ()
    #: rows past those: a data row with one text value replaced by a value the reference or the file knows
    #: (:mod:`onnxgate.validators.known_values`), the disputed ones first
    value_rows: tuple[int, ...] = ()
    #: the value each of ``value_rows`` holds, as ``(input, column, value)``, in the same order
    value_picks: tuple[tuple[str, int, Any], ...] = ()

    @property
    def d(self) -> int:
        return len(self.features)

    def feature_name(self, j: int) -> str:
        name, col = self.features[j]
        if self.row_shapes[name] in ((), (1,)):
            return name
        return f"{name}[{col}]"

    def build(self, Xc: Array, base: Array, *, wide: bool = False) -> dict[str, Array]:
        """Feeds of the rows in the file's input types; ``wide``: float32 and float16 inputs kept float64, as a
        native reference is given the user's float64 values
        (:func:`onnxgate.validators.parity.users_values_signature`)."""
        import numpy as np

        out: dict[str, Array] = {}
        start = 0
        for spec in self.signature.inputs:
            name = spec.name
            if name not in self.row_shapes:
                out[name] = self.feeds[name][base]
                continue
            shape = self.row_shapes[name]
            width = int(np.prod(shape)) if shape else 1
            block = Xc[:, start : start + width]
            start += width
            dtype = self.feeds[name].dtype
            if dtype.kind in "iu":
                info = np.iinfo(dtype)
                block = np.clip(np.rint(np.nan_to_num(block, nan=0.0)), info.min, info.max)
                flags = self.boolean[start - width : start]
                if flags.any():
                    block = block.copy()
                    block[:, flags] = np.clip(block[:, flags], 0, 1)
            elif wide and dtype.kind == "f":
                dtype = np.dtype(np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                out[name] = np.ascontiguousarray(block.reshape((len(Xc), *shape)).astype(dtype))
        return out

    def representable(self, j: int, values: Array) -> Array:
        """Values as the model will see them in feature j's element type, back in float64."""
        import numpy as np

        name, _ = self.features[j]
        dtype = self.feeds[name].dtype
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            low, high = (0, 1) if self.boolean[j] else (info.min, info.max)
            return np.clip(np.rint(values), low, high).astype(np.float64)
        with np.errstate(over="ignore"):
            return np.asarray(values, dtype=np.float64).astype(dtype).astype(np.float64)

    def row_dict(self, x: Array, base: int, *, wide: bool = False) -> dict[str, Any]:
        """A readable row: one entry per feature (and non-numeric inputs from the base row); ``wide``: float
        inputs as float64 (the values the reference was given)."""
        row: dict[str, Any] = {}
        feeds = self.build(x.reshape(1, -1), index_array([base]), wide=wide)
        for spec in self.signature.inputs:
            value = feeds[spec.name][0]
            if spec.name in self.row_shapes:
                flat = value.reshape(-1)
                if flat.size == 1:
                    row[spec.name] = to_python(flat[0])
                else:
                    row[spec.name] = [to_python(v) for v in flat.tolist()]
            else:
                flat = value.reshape(-1)
                row[spec.name] = to_python(flat[0]) if flat.size == 1 else [to_python(v) for v in flat.tolist()]
        return row


def index_array(values: Sequence[int]) -> Array:
    import numpy as np

    return np.asarray(values, dtype=np.int64)


def to_python(value: Any) -> Any:
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


#: What a text input is tried with besides the data's values: a value no training set holds (a category
#: scikit-learn files as unknown or infrequent), the empty string, and the row's own text with a non-ASCII
#: letter after each word (:data:`ACCENTED`: 'good film' -> 'goodé filmé', which a tokenizer matching \w
#: as ASCII splits back into 'good' and 'film'; helper-108).
ACCENTED = "<the row's words, accented>"
TEXT_EDGES = ("onnxgate-unseen-value", "", ACCENTED)
#: Data rows each text value of :data:`TEXT_EDGES` is tried in.
TEXT_EDGE_ROWS = 3


def _with_text_edges(signature: Signature, feeds: dict[str, Array], n: int,
                     edges: tuple[str, ...] = TEXT_EDGES) -> tuple[dict[str, Array], int]:
    """``feeds`` followed by copies of a few rows, each with one text element set to a value of ``edges``
    (:data:`TEXT_EDGES`), and how many were added. The numeric phases vary numbers only; an unseen category,
    which a OneHotEncoder(handle_unknown='infrequent_if_exist') file fails on while scikit-learn answers,
    passed the search (helper-102)."""
    import re

    import numpy as np

    text = [s.name for s in signature.inputs
            if feeds[s.name].dtype.kind in "OU" and feeds[s.name].ndim >= 1 and n]
    if not text:
        return feeds, 0
    bases = sorted({0, n // 2, n - 1})[:TEXT_EDGE_ROWS]
    picks: list[tuple[int, str, int, str]] = []
    for name in text:
        width = int(np.prod(feeds[name].shape[1:])) if feeds[name].ndim > 1 else 1
        picks += [(b, name, col, value) for value in edges for col in range(width) for b in bases]
    # in priority order: each input's unseen value in one row first, then the empty string, then other rows
    picks.sort(key=lambda pick: (bases.index(pick[0]), edges.index(pick[3])))
    rows = index_array([b for b, _, _, _ in picks])
    grown = {name: np.concatenate([values, values[rows]]) if values.ndim else values for name, values in feeds.items()}
    for name in text:
        grown[name] = grown[name].astype(object)
    for i, (_, name, col, value) in enumerate(picks):
        flat = grown[name][n + i].reshape(-1) if grown[name].ndim > 1 else None
        if value is ACCENTED:
            was = flat[col] if flat is not None else grown[name][n + i]
            value = re.sub(r"([A-Za-z]+)", r"\1é", was) if isinstance(was, str) and was else "é"
        if flat is None:
            grown[name][n + i] = value
        else:
            flat[col] = value
            grown[name][n + i] = flat.reshape(grown[name].shape[1:])
    return grown, len(picks)


def _with_known_values(feeds: dict[str, Array], n: int, known: Sequence[KnownValues], limit: int,
                       chosen: list[tuple[str, int, Any]] | None = None) -> tuple[dict[str, Array], int]:
    """``feeds`` followed by copies of data rows, each with one text or integer element set to a value the
    reference or the file knows (:meth:`KnownValues.to_try`), at most ``limit``, and how many were added: every
    column's disputed values first, then one value of each column in turn. A category the file renamed ('teal' ->
    'purple') is scored otherwise only on rows holding it, which the data may lack: the reference scores 'teal' as
    teal, the file as unknown (the OH03s audit case)."""
    import numpy as np

    if not n or limit <= 0:
        return feeds, 0
    bases = sorted({0, n // 2, n - 1})
    picks: list[tuple[int, int, int, str, int, Any]] = []  # (tier, rank, column order, input, column, value)
    for order, k in enumerate(known):
        # text values, and integer categories (an encoder's, or those a LightGBM or XGBoost tree splits on)
        if k.input not in feeds or feeds[k.input].dtype.kind not in "OUiu":
            continue
        disputed = set(k.disputed())
        picks += [(0 if value in disputed else 1, rank, order, k.input, k.column, value)
                  for rank, value in enumerate(k.to_try())]
    picks = sorted(picks)[:limit]
    if not picks:
        return feeds, 0
    if chosen is not None:  # a code named by its category, as the data's rows and the notes name it
        chosen += [(name, col, known[order].shown(value)) for _, _, order, name, col, value in picks]
    rows = index_array([bases[rank % len(bases)] for _, rank, _, _, _, _ in picks])
    grown = {name: np.concatenate([values, values[rows]]) if values.ndim else values for name, values in feeds.items()}
    start = len(next(iter(feeds.values())))
    for name in {pick[3] for pick in picks}:
        if grown[name].dtype.kind in "OU":
            grown[name] = grown[name].astype(object)
    for i, (_, _, _, name, col, value) in enumerate(picks):
        if grown[name].ndim > 1:
            flat = grown[name][start + i].reshape(-1)
            flat[col] = value
            grown[name][start + i] = flat.reshape(grown[name].shape[1:])
        else:
            grown[name][start + i] = value
    return grown, len(picks)


def make_space(signature: Signature, feeds: dict[str, Array], boolean: frozenset[str] = frozenset(), *,
               text_variants: bool = True, known: Sequence[KnownValues] = (), known_limit: int = 0) -> Space:
    """The row space of ``feeds``; ``boolean``: the integer inputs whose only values are 0 and 1 (a SQL-adapted
    boolean input, :func:`onnxgate.adaptation.mapping.boolean_columns`), searched only at those: a 2 or a -1
    there is a row the reference refuses, counted as refused, not compared (helper-226); ``text_variants``: False
    leaves the row's text varied with non-ASCII letters (:data:`ACCENTED`) out of the text edges, for a model that
    only ever scores text like the data's; ``known``: the text values the reference or the file knows, tried in
    up to ``known_limit`` rows (:func:`_with_known_values`)."""
    import numpy as np

    n = len(next(iter(feeds.values())))
    edges = TEXT_EDGES if text_variants else tuple(edge for edge in TEXT_EDGES if edge is not ACCENTED)
    feeds, added = _with_text_edges(signature, feeds, n, edges)
    chosen: list[tuple[str, int, Any]] = []
    feeds, valued = _with_known_values(feeds, n, known, known_limit, chosen)
    everything = n + added + valued
    features: list[tuple[str, int]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    blocks = []
    integer: list[bool] = []
    f32: list[bool] = []
    flags: list[bool] = []
    for spec in signature.inputs:
        array = feeds[spec.name]
        if array.dtype.kind not in "fiu" or array.ndim == 0:
            continue
        shape = tuple(int(s) for s in array.shape[1:])
        width = int(np.prod(shape)) if shape else 1
        shapes[spec.name] = shape
        features += [(spec.name, j) for j in range(width)]
        blocks.append(array.reshape(everything, width).astype(np.float64))
        integer += [array.dtype.kind in "iu"] * width
        f32 += [array.dtype == np.float32 or array.dtype == np.float16] * width
        flags += [array.dtype.kind in "iu" and spec.name in boolean] * width
    X = np.concatenate(blocks, axis=1) if blocks else np.zeros((everything, 0))
    with np.errstate(all="ignore"):
        finite = np.where(np.isfinite(X[:n]), X[:n], np.nan)
        lo = np.nan_to_num(np.nanmin(finite, axis=0), nan=0.0) if n else np.zeros(X.shape[1])
        hi = np.nan_to_num(np.nanmax(finite, axis=0), nan=1.0) if n else np.ones(X.shape[1])
    only = np.asarray(flags, bool)
    lo[only], hi[only] = 0.0, 1.0
    return Space(signature, feeds, n, features, shapes, X, lo, hi, np.asarray(integer, bool), np.asarray(f32, bool),
                 only, tuple(range(n, n + added)), tuple(range(n + added, everything)), tuple(chosen))

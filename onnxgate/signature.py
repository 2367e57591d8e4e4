"""``Signature``: the one description of a model's inputs and outputs, read from the ONNX graph.

SQL column types, the OpenAPI schema, request validation in the server, generated test inputs and
Hypothesis strategies are all derived from it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from onnxgate.columns import ColumnMap

if TYPE_CHECKING:
    import numpy as np
    import onnx

__all__ = ["NUMPYLESS_TYPES", "Dim", "Signature", "TensorSpec", "elem_type_name", "numpy_dtype_for",
           "output_class_labels"]

Dim = int | str | None
"""A dimension: a fixed size, a symbolic name (``"N"``), or ``None`` when unknown."""

Kind = Literal["tensor", "sequence", "map", "optional", "sparse_tensor", "unknown"]

# ONNX TensorProto element type -> short name used everywhere in onnxgate (numpy-like).
_ELEM_NAMES: dict[int, str] = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8e4m3fn",
    18: "float8e4m3fnuz",
    19: "float8e5m2",
    20: "float8e5m2fnuz",
    21: "uint4",
    22: "int4",
    23: "float4e2m1",
    24: "float8e8m0",
    25: "uint2",
    26: "int2",
}
#: Element types numpy has no dtype for (ONNX's low-precision floats and sub-byte integers): onnxgate's data,
#: parity, services and packages hold values in numpy arrays, so none of them can feed or read these.
NUMPYLESS_TYPES = frozenset({"bfloat16", *(name for code, name in _ELEM_NAMES.items() if code >= 17)})
_ELEM_CODES = {v: k for k, v in _ELEM_NAMES.items()}


def elem_type_name(code: int) -> str:
    """Name of an ONNX element type code (``1 -> "float32"``); unknown codes read ``"elem<N>"``."""
    return _ELEM_NAMES.get(code, f"elem{code}")


def elem_type_code(name: str) -> int:
    """ONNX element type code for a name used by onnxgate (``"float32" -> 1``)."""
    try:
        return _ELEM_CODES[name]
    except KeyError:
        raise ValueError(f"unknown element type {name!r}; expected one of {sorted(_ELEM_CODES)}") from None


def numpy_dtype_for(name: str) -> np.dtype[Any]:
    """The numpy dtype that carries values of an onnxgate element type (``"string"`` -> object)."""
    import numpy as np

    if name == "string":
        return np.dtype(object)
    if name in NUMPYLESS_TYPES:
        from onnxgate.errors import UnsupportedModelError

        # the package, the service and parity all hold values in numpy arrays (helper-72: "unexpected
        # ValueError"); a model that computes in bfloat16 with float32 at its edges is fed and read as usual
        raise UnsupportedModelError(
            f"the model has a {name} input or output, which numpy (and so onnxgate's data, parity, service and "
            f"packages) cannot hold. Export it with float32 inputs and outputs, casting to {name} inside the graph"
        )
    return np.dtype(name)


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model.

    Attributes
    ----------
    name : str
        The graph's name for it.
    elem_type : str
        ``"float32"``, ``"int64"``, ``"string"``, ... For a sequence or map, the innermost element type
        where one exists.
    shape : tuple of Dim, or None
        ``None`` when the rank is unknown. A ``str`` dim is symbolic, ``None`` unknown.
    kind : str
        ``"tensor"`` for plain tensors; ``"sequence"``, ``"map"``, ... otherwise (ZipMap gives
        ``"sequence"``).
    type_str : str
        A readable form of the full type, e.g. ``"tensor(float32)[N,1]"`` or ``"seq(map(int64,tensor(float)))"``.
    missing : str or None
        For a text input the model reads a missing value in (a HistGradientBoosting category column): the
        text a missing value (None, NaN, null) is fed as, one that is none of the model's categories; for a
        text column a SimpleImputer fills first, the text it fills in; for a text column a OneHotEncoder learnt
        a missing category in, the text written in that category's place; for an int64 input that reads a
        LightGBM category column, the decimal text of an integer that is none of its categories, fed for a
        missing value (:data:`MISSING_TEXT_METADATA_KEY`). None for every other input: there a missing text
        (or, for an integer input, any missing value) is refused.
    missing_only : str or None
        ``"nan"``: only a float NaN is such a missing value in data (a SimpleImputer's ``missing_values=np.nan``
        leaves None as it is, a category it did not see); ``"none"``: only None (an encoder that learnt None,
        to which NaN is an unknown category). A service's null is one either way. None: any of them.
    codes : tuple of (int, tuple or None) pairs, or None
        For an input that reads the codes of pandas category columns (an XGBoost model converted from a
        sample of codes): each such column's position in the input with its categories in code order, or
        None where the model did not record them (:data:`CATEGORY_CODES_METADATA_KEY`). A pandas category
        column fed to it is mapped to those codes; None for every other input.
    unseen_missing : bool
        True for an input of codes that the model scores a value outside its categories in as a missing one
        (LightGBM, which reads both as no code; :data:`UNSEEN_MISSING_METADATA_KEY`): such a value in a pandas
        category column is fed as the code of a missing value. False: it is refused (XGBoost scores it as a
        neighbouring category or refuses it).
    missing_refused : bool
        True for an input of codes that the model refuses a missing value in (code -1): a scikit-learn
        ``OneHotEncoder`` with ``handle_unknown='error'`` fitted without missing values, whose graph makes
        onnxruntime fail on it, as scikit-learn raises on the NaN. Read from the graph
        (:func:`onnxgate.adaptation.categories.missing_refused_inputs`); a missing value fed to it is refused
        before scoring, naming the column.
    missing_learnt : bool
        True for an input of codes whose code -1 reads as the missing category an encoder learnt (a scikit-learn
        ``TargetEncoder``, ``OrdinalEncoder`` or ``OneHotEncoder(handle_unknown='ignore')`` fitted on missing
        values, taking codes for SQL Edge): scikit-learn scores a category the encoder was not fitted on, but no code
        stands for one there, so such a value is refused saying so. Read from the graph
        (:func:`onnxgate.adaptation.categories.missing_learnt_inputs`).
    category : bool
        True for an int64 input that reads its values as categories by their decimal text (a CatBoost
        categorical column, :data:`CATEGORY_INPUTS_METADATA_KEY`): text fed to it is read only in an
        integer's plain form, ``'7'`` but not ``' 7'``, which CatBoost hashes as another category.
    categories : tuple, or None
        For an int64 input that reads the values of a pandas integer category column (LightGBM): its categories
        (:data:`INTEGER_CATEGORIES_METADATA_KEY`). A column with no category type (JSON, a Parquet or CSV file, a
        plain integer column, Spark) holding a number none of them is refused, as a category XGBoost was not
        fitted on is: it may be a code a client meant (2 among categories 7..23), which the model would score
        as a missing value without a word. A pandas category column is read as LightGBM reads it (an unseen
        value as missing). None for every other input.
    fitted_columns : tuple of str, or None
        For a one ``[N,k]`` input converted from an array sample of a model fitted on named columns: those
        names, in the order the input takes them by position (:data:`FITTED_COLUMNS_METADATA_KEY`). A frame
        holding them in another order is refused where it would be fed, not scored on the wrong columns.
    labels : tuple of str, or None
        For an integer output of class codes (a classifier with text labels adapted for a target that returns no
        text, SQL Edge): the text label of each code, code ``i`` being ``labels[i]``, the class of probability
        column ``i`` (:data:`CLASS_LABELS_METADATA_KEY`). None for every other output.
    """

    name: str
    elem_type: str
    shape: tuple[Dim, ...] | None
    kind: Kind = "tensor"
    type_str: str = ""
    missing: str | None = None
    missing_only: str | None = None
    codes: tuple[tuple[int, tuple[Any, ...] | None], ...] | None = None
    unseen_missing: bool = False
    missing_refused: bool = False
    missing_learnt: bool = False
    category: bool = False
    fitted_columns: tuple[str, ...] | None = None
    categories: tuple[Any, ...] | None = None
    labels: tuple[str, ...] | None = None

    @property
    def is_tensor(self) -> bool:
        return self.kind == "tensor"

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def has_batch_axis(self) -> bool:
        """True when the first axis exists and is not a fixed size (symbolic or unknown)."""
        return bool(self.shape) and not isinstance(self.shape[0], int)  # type: ignore[index]

    @property
    def width(self) -> int | None:
        """Values per row for a rank-2 tensor with a fixed second axis; 1 for rank 1; else None."""
        if self.shape is None:
            return None
        if len(self.shape) == 1:
            return 1
        if len(self.shape) == 2 and isinstance(self.shape[1], int):
            return self.shape[1]
        return None

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        return numpy_dtype_for(self.elem_type)

    def shape_str(self) -> str:
        if self.shape is None:
            return "?"
        return "[" + ",".join("?" if d is None else str(d) for d in self.shape) + "]"

    def describe(self) -> str:
        if self.kind == "tensor":
            return f"{self.name}: {self.elem_type}{self.shape_str()}"
        return f"{self.name}: {self.type_str or self.kind}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "elem_type": self.elem_type,
            "shape": None if self.shape is None else list(self.shape),
            "kind": self.kind,
            **({"missing": self.missing} if self.missing is not None else {}),
            **({"missing_only": self.missing_only} if self.missing_only is not None else {}),
            **({"codes": [[i, None if c is None else list(c)] for i, c in self.codes]}
               if self.codes is not None else {}),
            **({"unseen_missing": True} if self.unseen_missing else {}),
            **({"missing_refused": True} if self.missing_refused else {}),
            **({"missing_learnt": True} if self.missing_learnt else {}),
            **({"category": True} if self.category else {}),
            **({"fitted_columns": list(self.fitted_columns)} if self.fitted_columns is not None else {}),
            **({"categories": list(self.categories)} if self.categories is not None else {}),
            **({"labels": list(self.labels)} if self.labels is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorSpec:
        shape = data.get("shape")
        missing = data.get("missing")
        return cls(
            name=str(data["name"]),
            elem_type=str(data["elem_type"]),
            shape=None if shape is None else tuple(shape),
            kind=data.get("kind", "tensor"),
            missing=None if missing is None else str(missing),
            missing_only=None if data.get("missing_only") is None else str(data["missing_only"]),
            codes=_codes(data.get("codes")),
            unseen_missing=data.get("unseen_missing") is True,
            missing_refused=data.get("missing_refused") is True,
            missing_learnt=data.get("missing_learnt") is True,
            category=data.get("category") is True,
            fitted_columns=_names(data.get("fitted_columns")),
            categories=_integers(data.get("categories")),
            labels=_names(data.get("labels")),
        )


@dataclass(frozen=True)
class Signature:
    """A model's inputs and outputs, in graph order.

    Examples
    --------
    >>> sig = Signature.from_model("model.onnx")  # doctest: +SKIP
    >>> [i.name for i in sig.inputs]  # doctest: +SKIP
    ['input']
    """

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    #: The user's column names for the inputs, as recorded in the model (see :mod:`onnxgate.columns`).
    columns: ColumnMap = field(default_factory=ColumnMap, repr=False, compare=False)
    _by_name: dict[str, TensorSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({t.name: t for t in self.outputs})
        self._by_name.update({t.name: t for t in self.inputs})

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def input(self, name: str) -> TensorSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(f"no input named {name!r}; inputs are {self.input_names}")

    def output(self, name: str) -> TensorSpec:
        for spec in self.outputs:
            if spec.name == name:
                return spec
        raise KeyError(f"no output named {name!r}; outputs are {self.output_names}")

    def row_axis(self, name: str) -> int:
        """The axis of output ``name`` that holds the rows: 0, unless another axis carries the symbol of the
        inputs' first axis and the first does not (a PyTorch RNN's final state, ``[layers, N, hidden]``)."""
        symbols = {s.shape[0] for s in self.inputs if s.shape and isinstance(s.shape[0], str)}
        shape = self.output(name).shape or ()
        if not shape or (isinstance(shape[0], str) and shape[0] in symbols):
            return 0
        return next((axis for axis, dim in enumerate(shape) if isinstance(dim, str) and dim in symbols), 0)

    def __iter__(self) -> Iterator[TensorSpec]:
        yield from self.inputs
        yield from self.outputs

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        return cls(
            inputs=tuple(TensorSpec.from_dict(d) for d in data["inputs"]),
            outputs=tuple(TensorSpec.from_dict(d) for d in data["outputs"]),
        )

    def __str__(self) -> str:
        ins = ", ".join(t.describe() for t in self.inputs)
        outs = ", ".join(t.describe() for t in self.outputs)
        return f"({ins}) -> ({outs})"

    @classmethod
    def from_model(cls, model: onnx.ModelProto | str | os.PathLike[str] | bytes) -> Signature:
        """Read the signature of an ONNX model (a ModelProto, a path or serialized bytes).

        Initializers that also appear as graph inputs (old exporters do that) are left out: they are
        weights with a default, not data a caller feeds.
        """
        from onnxgate._onnx import load_model

        proto = load_model(model)
        graph = proto.graph
        weights = {init.name for init in graph.initializer}
        inputs = tuple(_spec(vi) for vi in graph.input if vi.name not in weights)
        # the metadata read once (the first entry of each key), not once per key
        props: dict[str, str] = {}
        for prop in proto.metadata_props:
            props.setdefault(prop.key, prop.value)
        missing = _missing_text(props)
        if missing:
            inputs = tuple(dataclasses.replace(s, missing=missing[s.name][0], missing_only=missing[s.name][1])
                           if s.name in missing
                           and s.elem_type in ("string", "int64") else s for s in inputs)
        codes = _category_codes(props)
        if codes:
            inputs = tuple(dataclasses.replace(s, codes=codes[s.name]) if s.name in codes else s for s in inputs)
        if any(s.codes for s in inputs):
            from onnxgate.adaptation.categories import missing_learnt_inputs, missing_refused_inputs

            refused = set(missing_refused_inputs(proto))
            learnt = set(missing_learnt_inputs(proto))
            inputs = tuple(dataclasses.replace(s, missing_refused=s.name in refused, missing_learnt=s.name in learnt)
                           if s.codes else s for s in inputs)
        unseen = _metadata_by_input(props, UNSEEN_MISSING_METADATA_KEY)
        if unseen:
            inputs = tuple(dataclasses.replace(s, unseen_missing=True) if unseen.get(s.name) is True and s.codes
                           else s for s in inputs)
        category = _metadata_by_input(props, CATEGORY_INPUTS_METADATA_KEY)
        if category:
            inputs = tuple(dataclasses.replace(s, category=True) if category.get(s.name) is True else s
                           for s in inputs)
        integer = {k: _integers(v) for k, v in _metadata_by_input(props, INTEGER_CATEGORIES_METADATA_KEY).items()}
        if any(v is not None for v in integer.values()):
            inputs = tuple(dataclasses.replace(s, categories=integer[s.name]) if integer.get(s.name) is not None
                           and s.elem_type == "int64" else s for s in inputs)
        fitted = {k: _names(v) for k, v in _metadata_by_input(props, FITTED_COLUMNS_METADATA_KEY).items()}
        if any(v is not None for v in fitted.values()):
            inputs = tuple(dataclasses.replace(s, fitted_columns=fitted[s.name]) if fitted.get(s.name) is not None
                           and s.rank == 2 and s.width == len(fitted[s.name] or ()) else s for s in inputs)
        outputs = tuple(_spec(vi) for vi in graph.output)
        labels = _class_labels(props)
        if labels:
            outputs = tuple(dataclasses.replace(s, labels=labels[s.name]) if s.name in labels
                            and s.elem_type in ("int32", "int64") else s for s in outputs)
        return cls(inputs=inputs, outputs=outputs, columns=ColumnMap.from_model(proto))


def text_outside(categories: Iterable[Any], start: str = "") -> str:
    """A text that is none of ``categories``, to feed a missing value as (:attr:`TensorSpec.missing`):
    ``start``, with NUL characters added while it is one of them."""
    known = {str(v) for v in categories}
    text = start
    while text in known:
        text += "\x00"
    return text


#: ``metadata_props`` key: JSON ``{input: text}``, the text each such text input reads a missing value as, or
#: ``{input: {"text": text, "only": "nan"}}`` where only a float NaN is one (``"none"``: only None;
#: :attr:`TensorSpec.missing_only`).
MISSING_TEXT_METADATA_KEY = "onnxgate.missing_text"


def _metadata_by_input(props: Mapping[str, str], key: str) -> dict[str, Any]:
    """The JSON object recorded under ``key`` in the model's metadata (``props``: the first value of each key of
    its ``metadata_props``), by input name; empty when there is none or it is not a JSON object."""
    import json

    text = props.get(key)
    if text is None:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return {str(k): v for k, v in found.items()} if isinstance(found, dict) else {}


def _missing_text(props: Mapping[str, str]) -> dict[str, tuple[str, str | None]]:
    return {k: ((str(v["text"]), None if v.get("only") is None else str(v["only"]))
                if isinstance(v, dict) and "text" in v else (str(v), None))
            for k, v in _metadata_by_input(props, MISSING_TEXT_METADATA_KEY).items()}


#: ``metadata_props`` key: JSON ``{input: [[position, categories or null], ...]}``, the inputs that read
#: the codes of pandas category columns (:attr:`TensorSpec.codes`).
CATEGORY_CODES_METADATA_KEY = "onnxgate.category_codes"


#: ``metadata_props`` key: JSON ``{input: true}``, the inputs of codes that score a value outside their categories
#: as a missing one (:attr:`TensorSpec.unseen_missing`).
UNSEEN_MISSING_METADATA_KEY = "onnxgate.unseen_categories_missing"


#: ``metadata_props`` key: JSON ``{input: true}``, the integer inputs that read their values as categories by
#: their decimal text (:attr:`TensorSpec.category`).
CATEGORY_INPUTS_METADATA_KEY = "onnxgate.category_inputs"


#: ``metadata_props`` key: JSON ``{input: [category, ...]}``, the integer categories each int64 input reads by value
#: (:attr:`TensorSpec.categories`).
INTEGER_CATEGORIES_METADATA_KEY = "onnxgate.integer_categories"


#: ``metadata_props`` key: JSON ``{input: [column, ...]}``, the named columns a one ``[N,k]`` input takes by
#: position, in that order (:attr:`TensorSpec.fitted_columns`).
FITTED_COLUMNS_METADATA_KEY = "onnxgate.fitted_columns"

#: ``metadata_props`` key: JSON ``{output: [text, ...]}``, the text label of each class code an integer output holds,
#: in code order (:attr:`TensorSpec.labels`).
CLASS_LABELS_METADATA_KEY = "onnxgate.class_labels"


def _class_labels(props: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """:attr:`TensorSpec.labels` by output, from ``props`` (the first value of each metadata key): lists of distinct
    texts only, any other record read as none."""
    return {k: labels for k, v in _metadata_by_input(props, CLASS_LABELS_METADATA_KEY).items()
            if (labels := _names(v)) is not None and len(set(labels)) == len(labels)}


def output_class_labels(model: Any) -> dict[str, tuple[str, ...]]:
    """The text label of each class code, by output, that ``model`` (a ModelProto, a path or bytes) records
    (:data:`CLASS_LABELS_METADATA_KEY`); empty where it records none. Read from the file each time: the codes a
    file's own record gives are what its package's label table holds."""
    from onnxgate._onnx import load_model

    props: dict[str, str] = {}
    for prop in load_model(model).metadata_props:
        props.setdefault(prop.key, prop.value)
    return _class_labels(props)


#: The ``metadata_props`` keys whose JSON object is keyed by input name and says how that one input reads its
#: values: a step that renames an input (the SQL adaptation, an MLflow package) moves its entry under each, or the
#: renamed input loses what it records (a number none of LightGBM's categories was scored as missing).
BY_INPUT_METADATA_KEYS = (MISSING_TEXT_METADATA_KEY, CATEGORY_CODES_METADATA_KEY, UNSEEN_MISSING_METADATA_KEY,
                          CATEGORY_INPUTS_METADATA_KEY, INTEGER_CATEGORIES_METADATA_KEY)

#: How convert's warning that such an input takes its named columns by position begins.
BY_POSITION_WARNING = "the model was fitted on named columns"


def _integers(found: Any) -> tuple[int, ...] | None:
    """:attr:`TensorSpec.categories` from its JSON form; None for anything but a list of integers."""
    if not isinstance(found, list) or not all(type(v) is int for v in found):
        return None
    return tuple(found)


def _names(found: Any) -> tuple[str, ...] | None:
    """:attr:`TensorSpec.fitted_columns` from its JSON form; None for anything but a list of texts."""
    if not isinstance(found, list) or not all(isinstance(n, str) for n in found):
        return None
    return tuple(found)


def _codes(found: Any) -> tuple[tuple[int, tuple[Any, ...] | None], ...] | None:
    """:attr:`TensorSpec.codes` from its JSON form; None for anything else."""
    if not isinstance(found, list):
        return None
    try:
        return tuple((int(i), None if c is None else tuple(c)) for i, c in found)
    except (TypeError, ValueError):
        return None


def _category_codes(props: Mapping[str, str]) -> dict[str, tuple[tuple[int, tuple[Any, ...] | None], ...]]:
    return {k: codes for k, v in _metadata_by_input(props, CATEGORY_CODES_METADATA_KEY).items()
            if (codes := _codes(v)) is not None}


def _dims(tensor_type: Any) -> tuple[Dim, ...] | None:
    if not tensor_type.HasField("shape"):
        return None
    dims: list[Dim] = []
    for d in tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def _type_str(tp: Any) -> str:
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        return f"tensor({elem_type_name(tp.tensor_type.elem_type)})"
    if which == "sequence_type":
        return f"seq({_type_str(tp.sequence_type.elem_type)})"
    if which == "map_type":
        return f"map({elem_type_name(tp.map_type.key_type)},{_type_str(tp.map_type.value_type)})"
    if which == "optional_type":
        return f"optional({_type_str(tp.optional_type.elem_type)})"
    if which == "sparse_tensor_type":
        return f"sparse_tensor({elem_type_name(tp.sparse_tensor_type.elem_type)})"
    return "unknown"


def _innermost_elem(tp: Any) -> str:
    which = tp.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        return elem_type_name(getattr(tp, which).elem_type)
    if which == "sequence_type":
        return _innermost_elem(tp.sequence_type.elem_type)
    if which == "map_type":
        return _innermost_elem(tp.map_type.value_type)
    if which == "optional_type":
        return _innermost_elem(tp.optional_type.elem_type)
    return "unknown"


_KINDS: dict[str | None, Kind] = {
    "tensor_type": "tensor",
    "sequence_type": "sequence",
    "map_type": "map",
    "optional_type": "optional",
    "sparse_tensor_type": "sparse_tensor",
}


def _spec(value_info: Any) -> TensorSpec:
    tp = value_info.type
    which = tp.WhichOneof("value")
    if which == "tensor_type":  # the common case, read in one pass (a third of reading a CatBoost model's signature)
        tensor = tp.tensor_type
        elem = elem_type_name(tensor.elem_type)
        return TensorSpec(name=value_info.name, elem_type=elem, shape=_dims(tensor), kind="tensor",
                          type_str=f"tensor({elem})")
    kind = _KINDS.get(which, "unknown")
    shape = _dims(tp.tensor_type) if which == "tensor_type" else None
    return TensorSpec(
        name=value_info.name,
        elem_type=_innermost_elem(tp),
        shape=shape,
        kind=kind,
        type_str=_type_str(tp),
    )


def matched_outputs(names: Sequence[str], arrays: Sequence[Any], signature: Signature, who: str, *,
                    positional: bool = False) -> list[Any]:
    """Native outputs named ``names`` in the ONNX model's output order, each ONNX output matched to one.

    As :func:`_in_output_order` (in order when the counts agree and no name is at another place on the
    other side, else by name), for
    a framework whose every output the ONNX model should have (PyTorch, Keras, TensorFlow): an ONNX
    output without a counterpart, or a native output the ONNX model lacks, is a
    :class:`~onnxgate.errors.ParityError`, not an output left "not compared" (an output renamed and
    negated passed so). With ``positional``, ``names`` stand for a tuple's positions, and the ONNX model
    listing them in another order is a ParityError too.
    """
    from onnxgate.errors import ParityError

    onnx_names = [spec.name for spec in signature.outputs]
    names = [str(n) for n in names]
    shared = set(names) & set(onnx_names)
    in_place = all(names.index(n) == onnx_names.index(n) for n in shared)
    if positional and not in_place and set(names) == set(onnx_names):
        # ``names`` are the positions of a tuple (output_0, output_1...): the file lists them in another order,
        # and a client reading its outputs by position gets them swapped (matched by name, it passed; helper-76)
        raise ParityError(
            f"the ONNX model lists its outputs as {onnx_names}, but {who} returns them in the order {names}: a "
            "client reading the outputs by position gets them in another order. Keep the graph's outputs in the "
            "order the model returns them"
        )
    if len(arrays) == len(onnx_names) and (in_place or len(set(names)) < len(names)):
        # renamed at conversion, all or some (options output_names), or leaves without names of their own:
        # in order; a name the other side has at another place goes by name below (two outputs swapped)
        return list(arrays)
    by_name = dict(zip(names, arrays))
    unmatched = [n for n in onnx_names if n not in by_name]
    lacking = [n for n in names if n not in set(onnx_names)]
    if unmatched or lacking:
        parts = []
        if unmatched:
            parts.append(f"the ONNX output(s) {unmatched} match none of the outputs of {who}, {names}")
        if lacking:
            parts.append(f"{who} returns output(s) {lacking} that the ONNX model, with outputs {onnx_names}, lacks")
        raise ParityError(
            "; ".join(parts) + ": the two models do not have the same outputs (renamed, added or dropped after "
            "conversion?). Validate an ONNX model converted from this reference: one output per reference "
            "output, under its name"
        )
    return [by_name[n] for n in onnx_names]

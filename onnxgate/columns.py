"""The user's own column names and the model's input names: one mapping, recorded in the model.

An exporter makes input names out of a DataFrame's columns (skl2onnx turns ``sepal length (cm)``
into ``sepal_length__cm_``, ``1`` into ``_1``), and :func:`onnxgate.adapt` makes them SQL
identifiers for ``PREDICT`` (ASCII only, at most 128 characters, unique). Names that collide after
either step get unique input names (``a b`` and ``a_b`` become ``a_b`` and ``a_b1``). The pairs
(original column, input name) are written into the model's ``metadata_props`` under
:data:`COLUMNS_METADATA_KEY` when the model is converted from a DataFrame, and kept up to date when
it is adapted, so every place where user data meets the model can take the user's own names:

* :meth:`ColumnMap.to_inputs` renames a DataFrame, a dict or an Arrow table keyed by the original
  columns to the input names (data already keyed by input names passes through);
* :meth:`ColumnMap.feeds` splits user data into the model's feeds;
* :meth:`ColumnMap.to_columns` and :meth:`ColumnMap.native_signature` map feeds back to the names
  the native model was fitted on (a reference prediction of a pipeline that selects columns by name).

This module knows no framework, no target and no onnxgate package other than the core: it reads
the metadata of a ``ModelProto`` and renames keys.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, InvalidModelError

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.signature import Signature

__all__ = ["COLUMNS_METADATA_KEY", "UNREAD_METADATA_KEY", "ColumnMap", "columns_of"]

#: ``metadata_props`` key holding the JSON list of ``[original column, input name]`` pairs.
COLUMNS_METADATA_KEY = "onnxgate.columns"
#: Version of that JSON layout.
COLUMNS_METADATA_VERSION = 1
#: ``metadata_props`` key holding the JSON list of columns the model was fitted on but never reads (a
#: ColumnTransformer's dropped columns: a date or an ID beside the features). Data may hold them; they
#: are left out of the feeds.
UNREAD_METADATA_KEY = "onnxgate.unread_columns"
#: ``metadata_props`` key of a SQL-adapted model (``onnxgate.deploy.adapt``); its ``column_sources``
#: (input name -> name it was made from) is read when a model predates :data:`COLUMNS_METADATA_KEY`.
_ADAPT_METADATA_KEY = "onnxgate.adapt"


@dataclass(frozen=True)
class ColumnMap:
    """Pairs ``(original column, input name)``, in input order; an input without a pair keeps its name.

    Examples
    --------
    >>> m = ColumnMap.from_pairs([("sepal length (cm)", "sepal_length__cm_"), ("1", "_1")])
    >>> m.input_for("sepal length (cm)"), m.column_for("_1")
    ('sepal_length__cm_', '1')
    >>> sorted(m.to_inputs({"sepal length (cm)": [5.1], "1": [2.0]}))
    ['_1', 'sepal_length__cm_']
    """

    pairs: tuple[tuple[str, str], ...] = ()
    #: Columns the model was fitted on and never reads (:data:`UNREAD_METADATA_KEY`): left out of feeds.
    unread: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, names in (("column", self.columns), ("input", self.inputs)):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise InvalidModelError(
                    f"the column mapping names the {what}(s) {repeated} more than once; every original "
                    "column needs its own input. Convert the model again."
                )

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_pairs(cls, pairs: Iterable[Sequence[str]]) -> ColumnMap:
        """A mapping from ``(column, input)`` pairs; pairs where both names agree are kept too."""
        return cls(tuple((str(c), str(i)) for c, i in pairs))

    @classmethod
    def from_model(cls, model: onnx.ModelProto | Any) -> ColumnMap:
        """The mapping recorded in a model (a ModelProto, a path or bytes); empty when none is recorded.

        Raises
        ------
        InvalidModelError
            The metadata is there but unreadable (a hand-edited or corrupt file).
        """
        from onnxgate._onnx import load_model

        proto = model if type(model).__name__ == "ModelProto" else load_model(model)
        props = {p.key: p.value for p in proto.metadata_props}
        found = cls._recorded(props)
        unread = props.get(UNREAD_METADATA_KEY)
        if unread is None:
            return found
        try:
            names = json.loads(unread)
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise TypeError("expected a list of column names")
        except (ValueError, TypeError) as err:
            raise InvalidModelError(
                f"the model's {UNREAD_METADATA_KEY!r} metadata is unreadable ({err}); convert the model again or "
                "remove that metadata entry"
            ) from None
        return dataclasses.replace(found, unread=tuple(names))

    @classmethod
    def _recorded(cls, props: Mapping[str, str]) -> ColumnMap:
        text = props.get(COLUMNS_METADATA_KEY)
        if text is not None:
            try:
                data = json.loads(text)
                pairs = data["columns"]
                if not isinstance(pairs, list) or not all(
                    isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
                ):
                    raise TypeError("expected a list of [column, input] pairs")
            except (ValueError, KeyError, TypeError) as err:
                raise InvalidModelError(
                    f"the model's {COLUMNS_METADATA_KEY!r} metadata is unreadable ({err}); convert the model "
                    "again or remove that metadata entry"
                ) from None
            return cls.from_pairs(pairs)
        adapted = props.get(_ADAPT_METADATA_KEY)
        if adapted is not None:  # adapted before the mapping was recorded: the SQL renames only
            try:
                sources = json.loads(adapted).get("column_sources") or {}
            except (ValueError, AttributeError):
                sources = {}
            if isinstance(sources, Mapping):
                try:
                    return cls.from_pairs((str(src), str(new)) for new, src in sources.items())
                except InvalidModelError:
                    return cls()
        return cls()

    @classmethod
    def for_sample(cls, columns: Sequence[Any], input_names: Sequence[str]) -> ColumnMap:
        """The mapping for a model converted from a DataFrame with one input per column, in order.

        Returns an empty mapping when the inputs are not one per column (an array-fitted model with
        one ``[N,k]`` input), or when an input name is not made from the column at its position
        (letters and digits kept in order, as every exporter's sanitiser does: ``a b`` -> ``a_b1``,
        ``1`` -> ``_1``); the exporter then did not keep the columns' order and a positional pairing
        would be wrong.
        """
        cols = [str(c) for c in columns]
        if len(cols) != len(input_names) or len(set(cols)) != len(cols):
            return cls()
        for column, name in zip(cols, input_names):
            a, b = _letters(column), _letters(name)
            if not (a.startswith(b) or b.startswith(a)):
                return cls()
        return cls.from_pairs(zip(cols, input_names))

    # -- reading -----------------------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The original column names, in input order."""
        return [c for c, _ in self.pairs]

    @property
    def inputs(self) -> list[str]:
        """The input names, in the same order as :attr:`columns`."""
        return [i for _, i in self.pairs]

    @property
    def renamed(self) -> bool:
        """True when at least one column reaches the model under another name."""
        return any(c != i for c, i in self.pairs)

    def input_for(self, column: str) -> str:
        """The input fed by ``column`` (``column`` itself when it is not mapped)."""
        for c, i in self.pairs:
            if c == column:
                return i
        return column

    def column_for(self, input_name: str) -> str:
        """The original column of ``input_name`` (``input_name`` itself when it is not mapped)."""
        for c, i in self.pairs:
            if i == input_name:
                return c
        return input_name

    def describe(self, input_name: str) -> str:
        """``'sepal length (cm)' (input 'sepal_length__cm_')`` for a renamed input, else its repr."""
        column = self.column_for(input_name)
        return repr(input_name) if column == input_name else f"{column!r} (input {input_name!r})"

    def renames(self, keys: Iterable[Any]) -> dict[str, str]:
        """How the keys of user data map to input names (only the keys that change).

        Data keyed by the original columns is renamed to the inputs; a key that is an input name and
        not an original column stays. Every key that is an original column is read as one when no two
        keys then feed the same input (``a_b`` is the user's ``a_b``, even when ``a b`` became the
        input ``a_b``, and other keys, an ID, change nothing); else only the original columns that are
        not also input names are renamed (data keyed by the input names).
        """
        names = [str(k) for k in keys]
        if not self.renamed:
            return {}
        by_column = dict(self.pairs)
        inputs = set(self.inputs)
        as_columns = {n: by_column[n] for n in names if n in by_column and by_column[n] != n}
        after = [as_columns.get(n, n) for n in names]
        if len(set(after)) == len(after):
            # every key the mapping knows read as the user's column: no two keys feed one input (an
            # extra key, an ID, leaves the others as they are)
            return as_columns
        return {n: by_column[n] for n in names if n in by_column and n not in inputs and by_column[n] != n}

    # -- renaming data -----------------------------------------------------------------------------

    def to_inputs(self, data: Any) -> Any:
        """``data`` (DataFrame, dict, pyarrow Table) with the original columns renamed to input names.

        Anything else (an array, a path) is returned as it is.

        Raises
        ------
        InvalidDataError
            Two of the data's columns would feed the same input (the user's ``a b`` and the input
            name ``a_b`` both given).
        """
        from onnxgate._data import is_dataframe

        if not self.renamed:
            return data
        if is_dataframe(data):
            keys = [str(c) for c in data.columns]
        elif isinstance(data, Mapping):
            keys = [str(k) for k in data]
        elif type(data).__name__ == "Table" and hasattr(data, "column_names"):
            keys = list(data.column_names)
        else:
            return data
        renames = self.renames(keys)
        if not renames:
            return data
        after = [renames.get(k, k) for k in keys]
        clash = sorted({n for n in after if after.count(n) > 1})
        if clash:
            sources = {n: [k for k in keys if renames.get(k, k) == n] for n in clash}
            raise InvalidDataError(
                f"the data's columns {sources} would feed the same model input; give each column once, under "
                f"its original name (the model was fitted on {self.columns})",
                column=clash[0],
            )
        if is_dataframe(data):
            return data.set_axis(after, axis=1)
        if isinstance(data, Mapping):
            return {renames.get(str(k), str(k)): v for k, v in data.items()}
        return data.rename_columns(after)

    def without_unread(self, data: Any) -> Any:
        """``data`` (DataFrame, dict) without the columns the model never reads (:attr:`unread`)."""
        from onnxgate._data import is_dataframe

        if not self.unread:
            return data
        if is_dataframe(data):
            dropped = [c for c in data.columns if str(c) in self.unread]
            return data.drop(columns=dropped) if dropped else data
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if str(k) not in self.unread}
        return data

    def feeds(self, data: Any, signature: Signature) -> dict[str, np.ndarray]:
        """Split user data (DataFrame, CSV path, dict, array) into the model's feeds.

        Raises
        ------
        InvalidDataError
            As :func:`onnxgate._data.as_feeds`.
        """
        from onnxgate._data import as_feeds, load_data

        if isinstance(data, str) or hasattr(data, "__fspath__"):
            data = load_data(data)
        return as_feeds(self.to_inputs(data), signature)

    def to_columns(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Feeds (or outputs) keyed by input name, keyed by the original columns instead."""
        return {self.column_for(k): v for k, v in feeds.items()}

    def native_signature(self, signature: Signature) -> Signature:
        """``signature`` with each input named after its original column (what the native model reads)."""
        if not self.renamed:
            return signature
        inputs = tuple(dataclasses.replace(s, name=self.column_for(s.name)) for s in signature.inputs)
        return type(signature)(inputs=inputs, outputs=signature.outputs)

    # -- writing -----------------------------------------------------------------------------------

    def then(self, new_names: Mapping[str, str]) -> ColumnMap:
        """This mapping after inputs were renamed (``old input -> new input``); unmapped inputs join."""
        pairs = [(c, new_names.get(i, i)) for c, i in self.pairs]
        known = set(self.inputs)
        pairs += [(old, new) for old, new in new_names.items() if old not in known and old != new]
        return dataclasses.replace(ColumnMap.from_pairs(pairs), unread=self.unread)

    def to_json(self) -> str:
        return json.dumps({"version": COLUMNS_METADATA_VERSION, "columns": [list(p) for p in self.pairs]},
                          ensure_ascii=False)

    def write(self, proto: onnx.ModelProto) -> None:
        """Record this mapping in ``proto``'s metadata (replacing any; removing it when nothing is renamed)."""
        for prop in list(proto.metadata_props):
            if prop.key == COLUMNS_METADATA_KEY:
                proto.metadata_props.remove(prop)
        if not self.renamed:
            return
        entry = proto.metadata_props.add()
        entry.key = COLUMNS_METADATA_KEY
        entry.value = self.to_json()


def _letters(name: str) -> str:
    """The letters and digits of a name, in order (what survives any exporter's sanitising)."""
    return "".join(ch for ch in name if ch.isalnum())


def columns_of(model: Any) -> dict[str, str]:
    """``{original column: input name}`` recorded in a model, for a manifest or a score script."""
    return dict(ColumnMap.from_model(model).pairs)

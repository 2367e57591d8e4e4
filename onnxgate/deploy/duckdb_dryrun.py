"""A local ``PREDICT`` dry run of a SQL package in DuckDB.

No SQL Server runs on a laptop or in CI, so the package is proven in DuckDB, a real embedded SQL
engine: the input table is created from ``03_create_input_table.sql`` with DuckDB's equivalent
types and the rows are loaded through Arrow. Scoring then runs the way ``PREDICT`` does, on the
table's rows as DuckDB reads them: the input relation is fetched as Arrow record batches of up to
:data:`BATCH_ROWS` rows, each batch is scored in one onnxruntime call, and the scored outputs are
handed back to DuckDB as a stream, where the statement that mirrors ``04_predict.sql`` casts them to
the types its ``WITH`` clause declares; its input columns are the fetched ones. A Python scalar
function, the previous design, was called once per 2,048-row vector and cost several times
onnxruntime's own time on a cheap model. The results are compared with onnxruntime called directly,
and with the native reference model when one is given.

Like ``PREDICT`` (``targets.md`` A.4, A.8), a table column whose type differs from the model input
fails the run: ``The type of model column 'x' is 'real'. Doesn't match the input column type.``
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate._arrow import is_text_type
from onnxgate._package_rules import check_model_bytes, manifest_problem
from onnxgate.errors import InvalidDataError, PackagingError, missing_dependency
from onnxgate.runtime import run_rows
from onnxgate.runtime import session as runtime_session
from onnxgate.targets import PREDICT_INPUT_SQL, sql_base_type, sql_type_length

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.columns import ColumnMap
    from onnxgate.signature import Signature

__all__ = ["DUCKDB_TYPES", "DryRunResult", "dry_run", "duckdb_statements", "table_types_from_script"]

#: SQL Server column type (base name) -> DuckDB type.
DUCKDB_TYPES: Mapping[str, str] = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "real": "FLOAT",
    "float": "DOUBLE",
    "nvarchar": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "smallint": "SMALLINT",
    "tinyint": "UTINYINT",
}
#: The text column types PREDICT reads a string input from (an nchar column it refuses: targets.md A.4).
_STRING_SQL = PREDICT_INPUT_SQL["string"]
#: Text types SQL Server stores right-padded with spaces to their declared length.
_FIXED_TEXT_SQL = frozenset({"char"})
_PADDED = "fixed-length text columns: "
#: Rows per Arrow record batch fetched from DuckDB and scored in one onnxruntime call (DuckDB hands
#: out at most a row group, 122,880 rows, per batch); bounds the memory of one scoring call.
BATCH_ROWS = 1 << 20
#: Name under which the scored batches are handed back to DuckDB.
SCORED_VIEW = "__onnxgate_scored"
#: Rows per run of the direct comparison: not the query's 16,384 (a prime, so no batch of the query lines up).
DIRECT_RUN_ROWS = 12_289
#: Tolerance of DuckDB-vs-direct-onnxruntime: the same runtime on the same values, so bit-equal
#: except for batch-size dependent kernels.
DIRECT_ATOL = 1e-6
DIRECT_RTOL = 1e-6


def _dq(name: str) -> str:
    """A DuckDB identifier: double quotes with every ``"`` doubled."""
    return '"' + str(name).replace('"', '""') + '"'


def _base_type(sql_type: str) -> str:
    """``"nvarchar(max)"`` -> ``"nvarchar"``; ``float(24)`` is ``real`` and ``float(53)`` ``float`` in T-SQL."""
    return sql_base_type(sql_type)


_CLOSERS = {"[": "]", '"': '"'}


def _arrow_column(name: str, values: Any) -> Any:
    """``values`` as an Arrow array; a whole number Arrow cannot hold (beyond 64 bits: a CSV reader keeps
    it as a Python int) is an input error naming the column, as a Parquet decimal of that size is."""
    import numpy as np
    import pyarrow as pa

    try:
        return pa.array(np.asarray(values))
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError) as err:
        big = next((v for v in np.asarray(values, dtype=object).ravel()
                    if isinstance(v, int) and not -(2**63) <= v < 2**64), None)
        if big is None:
            # a missing value (NaN in a text column, <NA> in a nullable boolean one) is an Arrow null here,
            # so the checks that follow refuse it with validate's message naming the column
            try:
                return pa.array(np.asarray(values), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                pass
            raise
        raise InvalidDataError(
            f"column {name!r} holds {big}, a whole number beyond 64 bits: no SQL column type (bigint, float) "
            "holds it exactly. Fix the value, or read it as a float if that is what it means",
            column=name,
        ) from err


def _widen_half_floats(table: Any) -> Any:
    """``table`` with its float16 columns as float32 (the same values)."""
    import pyarrow as pa

    schema = pa.schema([f.with_type(pa.float32()) if pa.types.is_float16(f.type) else f for f in table.schema])
    return table if schema.equals(table.schema) else table.cast(schema)


def _shown(columns: ColumnMap | None, name: str) -> str:
    """Input table column ``name`` as the user named it, for a message (quoted)."""
    return columns.describe(name) if columns is not None else repr(name)


def _user_column(columns: ColumnMap | None, name: str) -> str:
    """Input table column ``name`` as the user named it, for an error's ``column``."""
    return columns.column_for(name) if columns is not None else name


def _refuse_nulls(table: Any, columns: ColumnMap | None = None, *, types: Mapping[str, str] | None = None,
                  nullable: frozenset[str] = frozenset()) -> None:
    """The input table's columns are NOT NULL: a null the checks by type let through (an Arrow table's
    null in an integer column) is refused here, the column named as the user named it, saying why as
    :func:`_not_scored` does for the column's type and nullability."""
    for name in table.column_names:
        count = table.column(name).null_count
        if count:
            shown = _shown(columns, name)
            raise InvalidDataError(
                f"column {shown} has {count} missing value(s); {_not_scored(name, types, nullable)}. Fill or drop "
                "them before scoring.",
                column=name,
            )


def _not_scored(name: str, types: Mapping[str, str] | None, nullable: frozenset[str]) -> str:
    """Why the dry run does not score a row whose table column ``name`` would hold a missing value (NULL): true for
    the column as ``03_create_input_table.sql`` defines it. A NOT NULL column refuses it, and a float or real one
    holds no NaN either (a bigint column was refused as "float/real", helper-241). A column the user made nullable
    holds it as NULL, and how PREDICT feeds a NULL to an ONNX model is not documented (SQL Edge 1.0.4 notes only
    "improvements in handling of null data"), so the dry run cannot score it as SQL Server would: it was refused
    with "the input table's columns are NOT NULL", which that table's are not."""
    if name in nullable:
        return ("03_create_input_table.sql makes that column nullable, so the table holds NULL there, and how "
                "PREDICT feeds a NULL to the model is not documented, so the dry run cannot score these rows as "
                "SQL Server would")
    kind = sql_base_type(types[name]) if types is not None and name in types else None
    floats = " and SQL Server's float/real cannot hold NaN" if kind in ("float", "real") else ""
    return f"the input table's column is NOT NULL{floats}, so PREDICT would never see these rows"


def _nullable_columns(script: str) -> frozenset[str]:
    """The columns of ``script``'s CREATE TABLE that may hold NULL: those whose definition says neither ``NOT NULL``
    nor ``PRIMARY KEY`` (a column's default in SQL Server is nullable), as a user may write the input table.

    Examples
    --------
    >>> sorted(_nullable_columns("CREATE TABLE t ([a] real NOT NULL, [b] bigint NULL, [c] int, [d] int PRIMARY KEY);"))
    ['b', 'c']
    """
    return frozenset(name for name, (_kind, rest) in _column_definitions(script).items()
                     if not re.search(r"\bNOT\s+NULL\b|\bPRIMARY\s+KEY\b", rest, re.I))


def _as_sql_server_stores(table: Any, types: Mapping[str, str], columns: ColumnMap | None = None,
                          collations: Mapping[str, str] | None = None) -> tuple[Any, list[str]]:
    """``table``'s text columns as SQL Server stores them in the input table's declared types: a value longer
    than a ``char(n)``/``varchar(n)``/``nvarchar(n)`` column is refused (SQL Server's insert fails,
    "String or binary data would be truncated"), and ``char(n)`` values are right-padded with spaces
    to n, which is what PREDICT then reads (the dry run passed ``char(10)`` codes as they were, and a model
    fed '01' padded to 10 answered otherwise). Lengths are counted as SQL Server counts ``nvarchar``
    (UTF-16 code units, an emoji is two); ``char``/``varchar`` lengths are bytes in the column's collation,
    counted here as characters, which a single-byte code page holds one byte each. A ``char``/``varchar``
    value holding a character its code page lacks is refused (:func:`_refuse_outside_code_page`). Returns the
    table and the names of the columns padded."""
    import pyarrow as pa
    import pyarrow.compute as pc

    padded_names = []
    for name in table.column_names:
        size = sql_type_length(types.get(name, ""))
        column = table.column(name)
        if not is_text_type(column.type):
            continue
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = column.cast(pa.large_string())  # string_view: pyarrow's text functions have no kernel for it
        base = _base_type(types.get(name, ""))
        if base in ("char", "varchar"):  # varchar(max) too
            _refuse_outside_code_page(column, name, types[name], (collations or {}).get(name), columns)
        if size is None:
            continue
        astral = pc.count_substring_regex(column, r"[\x{10000}-\x{10FFFF}]") if base.startswith("n") else None
        lengths = pc.utf8_length(column) if astral is None else pc.add(pc.utf8_length(column), astral)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > size:
            row = pc.index(pc.greater(lengths, size), True).as_py()
            shown = _shown(columns, name)
            raise InvalidDataError(
                f"column {shown}: row {row} holds {column[row].as_py()!r}, {lengths[row].as_py()} characters, "
                f"and the input table declares it {types[name]}: SQL Server refuses the load (String "
                "or binary data would be truncated). Declare a longer column in 03_create_input_table.sql or "
                "shorten the values.",
                column=_user_column(columns, name),
            )
        if base not in _FIXED_TEXT_SQL:
            continue
        if astral is not None and pc.max(astral).as_py():  # pad by UTF-16 units, which utf8_rpad does not count
            padded = pa.array([None if v is None else v + " " * (size - n)
                               for v, n in zip(column.to_pylist(), lengths.to_pylist())], type=column.type)
        else:
            padded = pc.utf8_rpad(column, width=size, padding=" ")
        table = table.set_column(table.column_names.index(name), name, padded)
        padded_names.append(name)
    return table, padded_names


#: The code page of the collations SQL Edge and Synapse databases have by default (SQL_Latin1_General_CP1_CI_AS)
#: and of every Latin1_General one: what a ``char``/``varchar`` column of them holds.
_LATIN1_CODE_PAGE = "cp1252"


def _refuse_outside_code_page(column: Any, name: str, sql_type: str, collation: str | None,
                              columns: ColumnMap | None) -> None:
    """Refuse text a ``char``/``varchar`` column would store as other characters: outside a UTF-8 collation such
    a column holds the characters of its collation's code page only, and SQL Server stores any other as ``'?'``
    (or a look-alike), which PREDICT then reads. The dry run passed ``'東京'`` into a ``varchar(max)`` column as it
    was, and the model, fed ``'??'`` in the database, answered 90 of 300 rows otherwise (helper-138). A column
    without a COLLATE takes the database's, taken as SQL Edge's and Synapse's default (code page 1252); one whose
    collation is neither Latin1 nor UTF-8 is not checked (its code page is not known here)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    folded = (collation or "").lower()
    if "utf8" in folded or (collation and not folded.startswith(("latin1_general", "sql_latin1_general_cp1_"))):
        return
    outside = pc.filter(column, pc.invert(pc.string_is_ascii(column)))
    if len(outside) == 0:
        return
    for value in pc.unique(outside).to_pylist():
        if value is None:
            continue
        try:
            value.encode(_LATIN1_CODE_PAGE)
        except UnicodeEncodeError as err:
            row = pc.index(column, pa.scalar(value, type=column.type)).as_py()
            shown = _shown(columns, name)
            where = (f"collation {collation}" if collation
                     else "the database's default collation, SQL_Latin1_General_CP1_CI_AS on SQL Edge and Synapse")
            lacking = value[err.start:err.end]
            raise InvalidDataError(
                f"column {shown}: row {row} holds {value!r}, whose character(s) {lacking!r} the {sql_type} column "
                f"cannot hold in code page 1252 ({where}): SQL Server stores such characters as others ('?'), and "
                "PREDICT reads that, not the value given. Declare the column nvarchar in 03_create_input_table.sql, "
                "or give it a UTF-8 collation (COLLATE Latin1_General_100_CI_AS_SC_UTF8)",
                column=_user_column(columns, name),
            ) from None


def _read_identifier(text: str, i: int) -> tuple[str, int]:
    """A T-SQL identifier at ``text[i:]`` (``[a]]b]``, ``"a""b"`` or bare); returns it and the end index."""
    opener = text[i]
    if opener in _CLOSERS:  # [a]]b] or "a""b": the closing character doubled stands for itself
        close = _CLOSERS[opener]
        out, i = [], i + 1
        while i < len(text):
            if text[i] == close:
                if text.startswith(close * 2, i):
                    out.append(close)
                    i += 2
                    continue
                return "".join(out), i + 1
            out.append(text[i])
            i += 1
        raise PackagingError(f"unterminated {opener}identifier{close} in the input table script")
    m = re.match(r"(?:[^\W\d]|[@#])[\w@#$]*", text[i:])  # \w: letters and digits of any script, and _
    if not m:
        raise PackagingError(f"expected a column name in the input table script at {text[i:i + 30]!r}")
    return m.group(0), i + m.end()


def _closing(text: str, start: int, close: str) -> int:
    """The index of the ``close`` quote ending the quoted name or literal opened at ``start`` (a doubled ``close``
    is part of it, as T-SQL writes ``]]`` and ``''``); ``len(text)`` when it is never closed."""
    j = start + 1
    while j < len(text):
        if text[j] == close:
            if text.startswith(close * 2, j):
                j += 2
                continue
            break
        j += 1
    return j


def _strip_comments(script: str) -> str:
    out, i = [], 0
    while i < len(script):
        ch = script[i]
        if ch == "[" or ch == '"' or ch == "'":
            j = _closing(script, i, {"[": "]", '"': '"', "'": "'"}[ch])
            out.append(script[i : j + 1])
            i = j + 1
        elif script.startswith("--", i):
            j = script.find("\n", i)
            i = len(script) if j < 0 else j
        elif script.startswith("/*", i):
            j = script.find("*/", i + 2)
            i = len(script) if j < 0 else j + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_TYPE_END = re.compile(r"\s*(NOT\b|NULL\b|CONSTRAINT\b|DEFAULT\b|PRIMARY\b|IDENTITY\b|COLLATE\b|UNIQUE\b|,|\)|$)", re.I)


#: The words that open a table-level item of a CREATE TABLE (not a column); a column so named is bracketed.
_TABLE_ITEM = re.compile(r"(CONSTRAINT|PRIMARY|UNIQUE|INDEX|FOREIGN|CHECK|PERIOD)\b", re.I)


def _item_end(text: str, j: int) -> int:
    """The index of the ``,`` or ``)`` that ends the CREATE TABLE item holding ``text[j]`` (parentheses
    inside it, ``decimal(10,2)`` or ``PRIMARY KEY (a, b)``, are skipped)."""
    depth = 0
    while j < len(text):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            if depth == 0:
                break
            depth -= 1
        elif text[j] == "," and depth == 0:
            break
        j += 1
    return j


def table_types_from_script(script: str) -> dict[str, str]:
    """Column name -> SQL type from a ``CREATE TABLE`` script (``03_create_input_table.sql``).

    The types are read as written (``real`` and ``float`` are different types to ``PREDICT``, which
    general SQL parsers fold together).

    Parameters
    ----------
    script : str
        T-SQL text with one ``CREATE TABLE``.

    Returns
    -------
    dict of str to str
        Types in lower case, a space only between two words (``"float"``, ``"nvarchar(max)"``,
        ``"double precision"``).

    Raises
    ------
    PackagingError
        The script holds no readable CREATE TABLE.

    Examples
    --------
    >>> table_types_from_script("CREATE TABLE [dbo].[t] ([a]]b] real NOT NULL, [c] bigint);")
    {'a]b': 'real', 'c': 'bigint'}
    """
    return {name: kind for name, (kind, _rest) in _column_definitions(script).items()}


def collations_from_script(script: str) -> dict[str, str]:
    """Column name -> the collation its definition names (``COLLATE Latin1_General_100_CI_AS_SC_UTF8``);
    a column without one (the database's default collation) is left out.

    Examples
    --------
    >>> collations_from_script("CREATE TABLE t ([a] varchar(9) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, b int)")
    {'a': 'Latin1_General_100_BIN2_UTF8'}
    """
    found = {}
    for name, (_kind, rest) in _column_definitions(script).items():
        m = re.search(r"\bCOLLATE\s+(\w+)", rest, re.I)
        if m:
            found[name] = m.group(1)
    return found


def _column_definitions(script: str) -> dict[str, tuple[str, str]]:
    """Column name -> (its type as :func:`table_types_from_script` gives it, the rest of its definition)."""
    text = _strip_comments(script)
    m = re.search(r"CREATE\s+TABLE\s+", text, re.I)
    if not m:
        raise PackagingError("the input table script holds no CREATE TABLE")
    i = m.end()
    while True:  # the (possibly schema-qualified) table name
        _name, i = _read_identifier(text, i)
        if text.startswith(".", i):
            i += 1
            continue
        break
    i = text.index("(", i) + 1
    out: dict[str, tuple[str, str]] = {}
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == ")":
            break
        if _TABLE_ITEM.match(text, i):  # CONSTRAINT [pk] PRIMARY KEY (...), INDEX ...: not a column
            i = _item_end(text, i)
            if i < len(text) and text[i] == ")":
                break
            continue
        name, i = _read_identifier(text, i)
        end = _TYPE_END.search(text, i)
        assert end is not None
        kind = text[i : end.start()]
        if "(" in kind and ")" not in kind:  # nvarchar(max): the type's own parenthesis
            close = text.index(")", i)
            kind = text[i : close + 1]
            end = _TYPE_END.search(text, close + 1)
            assert end is not None
        rest_at = end.start()
        i = _item_end(text, rest_at)  # skip the rest of this column definition
        # one space between a type's words only (double precision, national char varying: T-SQL's synonyms)
        out[name] = (re.sub(r" ?([(),]) ?", r"\1", " ".join(kind.split())).lower(), text[rest_at:i])
        if i < len(text) and text[i] == ")":
            break
    if not out:
        raise PackagingError("the input table script's CREATE TABLE has no columns")
    return out


@dataclass
class DryRunResult:
    """What a dry run found.

    Attributes
    ----------
    rows : int
        Rows scored.
    columns : list of str
        Result columns: the input columns, then the ``WITH`` outputs.
    head : list of tuple
        The first rows of the result.
    query : str
        The DuckDB query that mirrors ``04_predict.sql``.
    seconds : float
        Time of the scoring query (not the load); the median when it ran several times.
    direct : dict
        Output name -> max abs difference against onnxruntime called directly on the same rows.
    reference : list of str
        One line per output comparing with the reference model (empty without a reference), after a
        line ``rows scored alone: ...`` when a row's answer depends on the other rows of its batch.
    passed : bool
        Every comparison passed.
    result : pyarrow.Table
        The whole result.
    joined : list of str
        The inputs whose codes came from the rows' texts through the package's code tables and text query.
    """

    rows: int
    columns: list[str]
    head: list[tuple[Any, ...]]
    query: str
    seconds: float
    direct: dict[str, float]
    reference: list[str] = field(default_factory=list)
    passed: bool = True
    result: Any = field(default=None, repr=False)
    #: the inputs whose codes the table was loaded with from the texts of the rows, through the package's lookup
    #: tables (``06_create_category_codes.sql``) and the join of ``07_predict_from_text.sql``, run in DuckDB
    joined: list[str] = field(default_factory=list)
    #: the text labels ``09_predict_labels.sql`` gives the scored rows, by output (``08_create_class_labels.sql``'s
    #: table joined to each code), for a model that returns a classifier's text labels as codes
    labels: dict[str, list[Any]] = field(default_factory=dict)
    #: one line per such output: whether each text is the label the model's record gives its code
    label_lines: list[str] = field(default_factory=list)
    #: the text labels ``10_predict_labels_from_text.sql`` gives the rows' texts (07's join of each text to its code,
    #: then 09's of each code to its label), by output, for a model doing both; empty where the rows held codes
    text_labels: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        widths = [max(len(c), 10) for c in self.columns]
        lines = ["  ".join(c.ljust(w) for c, w in zip(self.columns, widths))]
        for row in self.head:
            lines.append("  ".join(_fmt(v).ljust(w) for v, w in zip(row, widths)))
        lines.append(f"... {self.rows} rows scored in {self.seconds:.3f} s ({self.rows_per_second:,.0f} rows/s)")
        worst = max(self.direct.values(), default=0.0)
        lines.append(f"parity vs onnxruntime direct: max_abs={worst:.1e} over {len(self.direct)} outputs")
        if self.joined:
            lines.append(f"codes of {self.joined} from the rows' texts by 06_create_category_codes.sql and "
                         "07_predict_from_text.sql's join")
        for line in self.reference:  # the rows-alone and padding lines stand on their own; the rest compares
            alone = line.startswith(("rows scored alone: ", _PADDED))
            lines.append(line if alone else f"parity vs reference: {line}")
        lines.extend(self.label_lines)
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _read_package(folder: Path) -> tuple[dict[str, Any], bytes, str | None]:
    from onnxgate._files import describe_unreachable
    from onnxgate._package_rules import mismatched_package

    manifest_path = folder / "manifest.json"
    model_path = folder / "model.onnx"
    if not folder.exists():  # missing, a link to nothing, or a link that loops
        raise PackagingError(f"{describe_unreachable(folder, 'package folder')}; expected a folder written by "
                             "onnxgate package model.onnx --target sql-edge-2.0 -o DIR", path=str(folder))
    mismatch = mismatched_package(folder, "sql", "sql-dryrun")
    if mismatch is not None:
        raise PackagingError(mismatch, path=str(folder))
    if not manifest_path.is_file() or not model_path.is_file():
        raise PackagingError(
            f"{str(folder)!r} is not a SQL package: expected manifest.json and model.onnx in it "
            "(write one with onnxgate package model.onnx --target sql-edge-2.0 -o DIR)",
            path=str(folder),
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PackagingError(
            f"{str(manifest_path)!r} is not readable JSON ({err}); write the package again with onnxgate package",
            path=str(manifest_path),
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sql"), dict):
        kind = manifest.get("target") if isinstance(manifest, dict) else None
        if isinstance(kind, str) and kind:
            raise PackagingError(f"{str(folder)!r} holds a {kind!r} package, not a SQL one: sql-dryrun reads a folder "
                                 "written by onnxgate package model.onnx --target sql-edge-2.0 -o DIR; write one",
                                 path=str(folder))
        # a list, or an object naming no target, was "holds a None package, not a SQL one" (helper-306)
        found = ("an object without a 'sql' section" if isinstance(manifest, dict)
                 else f"a JSON {type(manifest).__name__}")
        raise PackagingError(
            f"{str(manifest_path)!r} is {found}: expected the manifest 'onnxgate package' writes for a SQL target. "
            "Write the package again with onnxgate package model.onnx --target sql-edge-2.0 -o DIR",
            path=str(manifest_path),
        )
    problem = manifest_problem(manifest)
    if problem:  # a "target" of 5, no "signature": was dry-run with exit 0, as a package onnxgate wrote (helper-358)
        raise PackagingError(
            f"{str(manifest_path)!r} is damaged: {problem}. Write the package again with onnxgate package model.onnx "
            "--target sql-edge-2.0 -o DIR",
            path=str(manifest_path),
        )
    model_bytes = model_path.read_bytes()
    check_model_bytes(manifest, model_path, model_bytes)
    _check_predict_script(folder, manifest["sql"])
    _check_model_copies(folder, manifest["sql"], model_bytes)
    script_path = folder / "03_create_input_table.sql"
    try:
        script = script_path.read_text(encoding="utf-8") if script_path.is_file() else None
    except UnicodeDecodeError as err:  # was "unexpected UnicodeDecodeError ... please report it" (helper-306)
        raise PackagingError(
            f"{str(script_path)!r} is not UTF-8 text ({err.reason} at byte {err.start}): expected the script "
            "'onnxgate package' writes. Write the package again with onnxgate package",
            path=str(script_path),
        ) from None
    return manifest, model_bytes, script


def _check_predict_script(folder: Path, sql: Mapping[str, Any]) -> None:
    """Refuse a package whose ``04_predict.sql`` is missing or is not the query it was written with (its
    sha256 in ``manifest.json``): the dry run runs that query as onnxgate wrote it, and passed a package
    whose query named an output the model lacks, or whose scripts were all deleted (found by helper-81).
    The same for the scripts that put the model in the database (:data:`onnxgate.deploy.sql.MODEL_SCRIPTS`).
    A package written before the hash was recorded is read as before."""

    scripts = sql.get("model_scripts_sha256")
    if isinstance(scripts, Mapping):
        for name, digest in scripts.items():
            script = folder / str(name)
            if not script.is_file() or _text_sha256(script) != digest:
                what = ("lacks " + str(name) if not script.is_file()
                        else f"holds a {name} edited since the package was written (its sha256 differs from the one in "
                             "manifest.json)")
                raise PackagingError(
                    f"{str(folder)!r} {what}: the database runs the package's scripts, and the dry run, scoring "
                    "model.onnx with the query as written, cannot check others (a 02_insert_model.sql from another "
                    "package inserts another model). Write the package again with onnxgate package",
                    path=str(script),
                )
    recorded = sql.get("predict_sql_sha256")
    if recorded is None:
        return
    path = folder / "04_predict.sql"
    if not path.is_file():
        raise PackagingError(
            f"{str(folder)!r} lacks 04_predict.sql, the query the dry run mirrors: write the package again with "
            "onnxgate package",
            path=str(path),
        )
    if _text_sha256(path) != recorded:
        raise PackagingError(
            f"{str(path)!r} is not the query this package was written with (its sha256 differs from the one in "
            "manifest.json): the dry run runs the query as onnxgate wrote it, so it cannot check an edited one. "
            "Write the package again with onnxgate package (a --model-name, --schema or table name option changes "
            "the query), or run your edited query in the database itself",
            path=str(path),
        )


_HEX_LITERAL = re.compile(r"^\s*0x([0-9A-Fa-f]*),\s*$", re.MULTILINE)


def _check_model_copies(folder: Path, sql: Mapping[str, Any], model_bytes: bytes) -> None:
    """Refuse a package whose ``02_insert_model.sql`` hex literal (or Synapse's ``model.hex``) is not
    ``model.onnx``: the database stores that copy, the dry run scores ``model.onnx``. The scripts' sha256 in
    ``manifest.json`` catches an edited script, but a manifest rewritten with the script (or a script and
    manifest from another package) passed with exit 0 while the database would run another model (helper-320)."""

    import hashlib

    scripts = sql.get("model_scripts_sha256")
    listed = set(scripts) if isinstance(scripts, Mapping) else {"02_insert_model.sql", "model.hex"}
    copies: list[tuple[Path, str | None]] = []
    insert = folder / "02_insert_model.sql"
    if "02_insert_model.sql" in listed and insert.is_file():
        found = _HEX_LITERAL.search(insert.read_text(encoding="utf-8", errors="replace"))
        if found is not None:
            copies.append((insert, found.group(1)))
    hex_file = folder / "model.hex"
    if "model.hex" in listed and hex_file.is_file():
        copies.append((hex_file, hex_file.read_text(encoding="ascii", errors="replace").strip()))
    for path, text in copies:
        try:
            held = bytes.fromhex(text or "")
        except ValueError:
            held = b""
        if held != model_bytes:
            raise PackagingError(
                f"{str(path)!r} holds another model than model.onnx (sha256 {hashlib.sha256(held).hexdigest()[:12]} "
                f"of its hex, {hashlib.sha256(model_bytes).hexdigest()[:12]} of model.onnx): the database would store "
                "that one, and the dry run scores model.onnx. Write the package again with onnxgate package",
                path=str(path),
            )


def _text_sha256(path: Path) -> str:
    """A script's sha256, line endings aside: git on Windows (core.autocrlf) checks scripts out with CRLF."""
    import hashlib

    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def _check_types(model_inputs: Sequence[Mapping[str, Any]], table: Mapping[str, str], table_name: str) -> None:
    errors: list[str] = []
    for spec in model_inputs:
        name = spec["name"]
        model_sql = str(spec["sql_type"])
        if name not in table:
            errors.append(
                f"The model input {name!r} has no column in table {table_name!r} (columns: {list(table)})."
            )
            continue
        # the types PREDICT reads the input's element type from (targets.md A.4), not the target's mapping: a
        # package of a target file mapping float32 to float declared float columns, which the database refuses
        elem_type = str(spec["elem_type"])
        takes = PREDICT_INPUT_SQL.get(elem_type)
        if takes is None:
            pairs = ", ".join(f"{e} from {'/'.join(sorted(t))}" for e, t in PREDICT_INPUT_SQL.items())
            errors.append(
                f"The model input {name!r} is {elem_type}, which PREDICT reads from no table column (it reads "
                f"{pairs}); package the model again with --adapt."
            )
            continue
        have, want = _base_type(table[name]), _base_type(model_sql)
        if want not in takes:
            want = sorted(takes)[-1]
        if have not in takes:
            errors.append(
                f"The type of model column {name!r} is {want!r}. Doesn't match the input column type "
                f"({table[name]!r} in table {table_name!r}); declare the column as {want} or CAST it."
            )
    if errors:
        raise InvalidDataError(" ".join(errors), column=model_inputs[0]["name"] if model_inputs else None)


def _column_names(data: Any) -> list[str] | None:
    """The names of a table's, a DataFrame's or a mapping's columns; None for an array."""
    from onnxgate._data import is_dataframe

    if hasattr(data, "column_names"):
        return [str(c) for c in data.column_names]
    if is_dataframe(data):
        return [str(c) for c in data.columns]
    if isinstance(data, Mapping):
        return [str(k) for k in data]
    return None


def _arrow_input(data: Any, names: Sequence[str], mapping: ColumnMap | None = None, *,
                 signature: Signature | None = None) -> Any:
    """The rows as an Arrow table of the input columns ``names``; data keyed by the user's own column
    names is renamed by ``mapping`` (the model's, SQL renames included), and a missing column is named
    as the user knows it. Given the model's ``signature``, a column no input takes (other than one the model
    records as never read) is refused, as validate and package refuse it: the dry run passed such rows with
    exit 0 where ``validate`` refused them (helper-358)."""
    import numpy as np
    import pyarrow as pa

    from onnxgate._data import extra_columns_error, is_dataframe, is_positional, lacking_fix, read_rows

    data = read_rows(data)
    given = _column_names(data)  # as the user named them, for the messages

    def lacks(missing: list[str]) -> InvalidDataError:
        shown = ", ".join(mapping.describe(n) if mapping is not None else repr(n) for n in missing)
        columns = [mapping.column_for(n) if mapping is not None else n for n in missing]
        wanted = [mapping.column_for(n) if mapping is not None else n for n in names]
        fix = lacking_fix(missing, columns, given or [], wanted)
        return InvalidDataError(f"the data lacks the columns [{shown}] (it has {given}){fix}", column=columns[0])

    def refuse_extra(columns: Sequence[str]) -> None:
        extra = [c for c in columns if c not in names]
        if extra and signature is not None:
            raise extra_columns_error(extra, signature)

    if mapping is not None:
        data = mapping.to_inputs(mapping.without_unread(data))
    if isinstance(data, pa.Table):
        missing = [n for n in names if n not in data.column_names]
        if missing:
            raise lacks(missing)
        refuse_extra([c for c in data.column_names if mapping is None or c not in mapping.unread])
        return data.select(list(names))
    if is_dataframe(data):
        columns = [str(c) for c in data.columns]
        missing = [n for n in names if n not in columns]
        # the names the SQL adaptation gives the columns of a model fitted without names: f0, f1...
        generated = list(names) == [f"f{i}" for i in range(len(names))]
        if missing and len(columns) == len(names) and is_positional(columns) and generated:
            # a CSV without a header for a model fitted without names: columns in input order. A model fitted
            # on named columns is fed by them, as validate feeds it (a headerless CSV of a DataFrame-fitted
            # model, its columns in another order, passed the dry run; helper-91, helper-92)
            data = data.set_axis(list(names), axis=1)
        elif missing:
            raise lacks(missing)
        else:
            refuse_extra(columns)
        return pa.table({n: _arrow_column(n, data[n].to_numpy()) for n in names})
    if isinstance(data, Mapping):
        missing = [n for n in names if n not in data]
        if missing:
            raise lacks(missing)
        refuse_extra([str(k) for k in data])
        return pa.table({n: pa.array(np.asarray(data[n]).reshape(-1)) for n in names})
    array = np.asarray(data)
    if array.ndim != 2 or array.shape[1] != len(names):
        raise InvalidDataError(
            f"expected rows with {len(names)} columns {list(names)}, found an array of shape {list(array.shape)}; "
            "give a table (CSV or Parquet) holding those columns, or a 2-D array of as many columns"
        )
    return pa.table({n: pa.array(np.ascontiguousarray(array[:, i])) for i, n in enumerate(names)})


def _categories_as_codes(data: Any, signature: Signature) -> tuple[Any, set[str]]:
    """The rows with each category column that feeds an input reading category codes (an XGBoost categorical
    feature, a LightGBM text category for a target without text) as those codes, mapped as ``onnxgate validate``
    maps them: the input table holds the codes. A category column is a pandas one (a DataFrame, Parquet rows) or
    a pyarrow dictionary column of a Table (pyarrow's category). Given as text, the categories were refused, with
    a message asking for a pandas category column (rows that passed validate and package); a text column (object
    or string, a CSV's) is mapped by value too, as validate maps it (helper-226), and a number column of number
    categories (months 1..12), which validate reads by value (helper-233). A column of LightGBM's integer
    categories (:attr:`onnxgate.signature.TensorSpec.categories`: the table holds the values) that holds a missing
    value is mapped the same way, the missing value to the integer the model reads as one (-1, as validate feeds it,
    as XGBoost's code -1 for one): refused as a NULL for the NOT NULL table, though validate for the same target
    scored it (helper-241). Such a column of a category type (a pandas or pyarrow one) is mapped too, its values read
    as LightGBM reads them: one the model was not fitted on is loaded as it is, which the package's graph, as the
    file and LightGBM's predict, scores as a missing value; it was refused as a number that may be a code (the rule
    for a plain column, which LightGBM itself refuses), though validate scored the same rows (helper-255). A dict of
    columns is mapped as the frame of them is (its missing value was refused as a NULL; helper-252). Returns the rows
    and the inputs whose column it mapped."""
    import pyarrow as pa

    from onnxgate._data import as_feeds, holds_category_values, is_dataframe, read_rows

    data = read_rows(data)
    coded = {s.name for s in signature.inputs if s.codes}
    integers = {s.name for s in signature.inputs if s.categories is not None and s.missing is not None}
    if isinstance(data, pa.Table):
        specs = {s.name: s for s in signature.inputs}
        dictionaries = [c for c in data.column_names if (signature.columns.input_for(c) in coded
                        and (pa.types.is_dictionary(kind := data.schema.field(c).type) or is_text_type(kind)
                             or ((pa.types.is_integer(kind) or pa.types.is_floating(kind)) and holds_category_values(
                                 data.column(c).slice(0, 0).to_numpy(), specs[signature.columns.input_for(c)]))))
                        or (signature.columns.input_for(c) in integers and (pa.types.is_dictionary(
                            data.schema.field(c).type) or _holds_missing(data.column(c))))]
        if not dictionaries:
            return data, set()
        # pandas reads a dictionary column as a category column, mapped to the codes as validate maps it
        frame = data.select(dictionaries).to_pandas()
        wanted = {signature.columns.input_for(c) for c in dictionaries}
        feeds = as_feeds(frame, dataclasses.replace(signature, inputs=tuple(s for s in signature.inputs
                                                                            if s.name in wanted)))
        for column in dictionaries:
            codes = feeds[signature.columns.input_for(column)].reshape(-1)
            data = data.set_column(data.column_names.index(column), column, pa.array(codes))
        return data, wanted
    if isinstance(data, Mapping):
        # a dict of columns is mapped as the frame of them is: a missing LightGBM integer category was refused as a
        # NULL for the NOT NULL table, where the frame's was fed as -1 and scored (helper-252)
        frame = _columns_frame(data)
        if frame is None:
            return data, set()
        mapped, wanted = _categories_as_codes(frame, signature)
        return ({k: mapped[k].to_numpy() if signature.columns.input_for(str(k)) in wanted else v
                 for k, v in data.items()}, wanted)
    if not is_dataframe(data):
        return data, set()
    specs = {s.name: s for s in signature.inputs}
    columns = [c for c in data.columns if (signature.columns.input_for(str(c)) in coded
               and (type(data[c].dtype).__name__ == "CategoricalDtype"
                    or holds_category_values(data[c], specs[signature.columns.input_for(str(c))])))
               or (signature.columns.input_for(str(c)) in integers
                   and (type(data[c].dtype).__name__ == "CategoricalDtype" or bool(data[c].isna().any())))]
    if not columns:
        return data, set()
    feeds = as_feeds(data, signature)
    data = data.copy()
    for column in columns:
        data[column] = feeds[signature.columns.input_for(str(column))].reshape(-1)
    return data, {signature.columns.input_for(str(c)) for c in columns}


def _refuse_unnumbered(rows: Any, signature: Signature) -> None:
    """Refuse a DataFrame's columns that feed a number input and hold dates, structs or maps, in validate's words
    (:func:`onnxgate._data.refuse_unnumbered_columns`): a Parquet map column failed to load into the table with
    "unexpected ArrowTypeError: Expected bytes, got a 'float' object (... please report it)"."""
    from onnxgate._data import is_dataframe, refuse_unnumbered_columns

    if not is_dataframe(rows):
        return
    specs = {s.name: s for s in signature.inputs}
    refuse_unnumbered_columns([(str(c), rows[c], specs[fed]) for c in rows.columns
                               if (fed := signature.columns.input_for(str(c))) in specs])


def _columns_frame(data: Mapping[Any, Any]) -> Any:
    """``data``, a dict of columns (lists, arrays, ``[N,1]`` arrays, pandas columns), as the DataFrame of them; None
    when its values are not columns of one length (the table built from them then refuses them)."""
    import numpy as np
    import pandas as pd

    def column(values: Any) -> Any:
        if isinstance(values, (pd.Series, pd.Categorical, pd.api.extensions.ExtensionArray)):
            return pd.Series(values).reset_index(drop=True)  # keyed by position, as the other columns
        array = np.asarray(values)
        return array.reshape(-1) if array.ndim == 2 and array.shape[1] == 1 else array

    try:
        return pd.DataFrame({k: column(v) for k, v in data.items()})
    except (TypeError, ValueError):
        return None


def _holds_missing(column: Any) -> bool:
    """Whether an Arrow column holds a null, or a NaN where it holds floats."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return bool(column.null_count) or (pa.types.is_floating(column.type) and bool(pc.any(pc.is_nan(column)).as_py()))


def internal_name(base: str, table_name: str) -> str:
    """``base``, the name of a view the dry run registers, made unlike the input table's (DuckDB names
    ignore case): an input table called ``__onnxgate_rows`` collided with it."""
    name = base
    while name.casefold() == table_name.casefold():
        name += "_"
    return name


def predict_query(table_name: str, names: Sequence[str], out_types: Mapping[str, str]) -> str:
    """The DuckDB statement that mirrors ``04_predict.sql`` around the scored batches.

    ``PREDICT(MODEL = @model, DATA = d) WITH (<outputs and their types>) AS p`` becomes a scan of
    :data:`SCORED_VIEW` (the input rows of ``table_name`` with the model's outputs appended, batch by
    batch) with every output cast to the type its ``WITH`` clause declares. With no ``names`` it is the
    part of that statement the dry run runs (:func:`_run_predict`): the outputs' casts.
    """
    outs = ", ".join(f"CAST(d.{_dq(n)} AS {t}) AS {_dq(n)}" for n, t in out_types.items())
    ins = "".join(f"d.{_dq(n)}, " for n in names)
    # the comment holds the table's name on one line: a line break in it ended the comment, and the
    # rest of the name was read as SQL ('in\nLIMIT 0 --' scored no row)
    shown = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", table_name).split())
    scored = _dq(internal_name(SCORED_VIEW, table_name))
    return f"SELECT {ins}{outs} FROM {scored} AS d  -- PREDICT(DATA = {_dq(shown)} AS d) WITH (...)"


def _run_predict(con: Any, session: Any, table_name: str, inputs: Sequence[Mapping[str, Any]],
                 outputs: Sequence[Mapping[str, Any]], casts: str) -> Any:
    """Fetch the input relation as Arrow record batches, score each in one onnxruntime call, and let
    DuckDB cast the scored outputs to the types the ``WITH`` clause declares (``casts``, the outputs' part of
    the statement that mirrors ``04_predict.sql``); returns that statement's result as Arrow: the input
    columns as DuckDB fetched them, then the cast outputs.

    The statement's input columns (``d.<column>``) only pass the fetched values through: running the whole
    statement over the scored batches gave the same table, and moving the input columns through DuckDB a
    second time took as long as fetching them (1,000,000 rows of 10 columns, a linear model: the fetch
    75 ms, onnxruntime 96 ms, the whole statement 95 ms, the casts alone 7.5 ms; bench/README.md).

    Raises
    ------
    PackagingError
        The model fails on a batch, or an output does not hold one row per input row (a model
        ``onnxgate validate`` refuses on the SQL targets: a fixed ``[1,1]`` input, an aggregate output).
    """
    import duckdb
    import numpy as np
    import pyarrow as pa

    from onnxgate.signature import numpy_dtype_for

    names = [str(s["name"]) for s in inputs]
    dtypes = [numpy_dtype_for(str(s["elem_type"])) for s in inputs]
    out_names = [str(s["name"]) for s in outputs]
    reader_con = con.cursor()  # a second connection: the casts run on ``con`` meanwhile
    try:
        source = reader_con.sql(f"SELECT {', '.join(_dq(n) for n in names)} FROM {_dq(table_name)}")
        reader = source.to_arrow_reader(BATCH_ROWS)
        out_dtypes = [numpy_dtype_for(str(s["elem_type"])) for s in outputs]
        # the input batches, in the order DuckDB reads their outputs and, a plain scan keeping its rows' order
        # (preserve_insertion_order, on by default), returns them cast: row i of the casts is row i here, as the
        # comparison with onnxruntime on the table's rows (in the table's order) checks
        fetched: list[Any] = []

        def score(batch: Any) -> Any:
            fetched.append(batch)
            if batch.num_rows == 0:  # an empty table: PREDICT returns no rows, and runs nothing
                results = [np.empty(0, dtype=d) for d in out_dtypes]
                return pa.RecordBatch.from_arrays(list(map(pa.array, results)), names=out_names)
            feeds = {}
            for name, dtype, column in zip(names, dtypes, batch.columns):
                values = column.to_numpy(zero_copy_only=False)
                feeds[name] = (values if values.dtype == dtype else values.astype(dtype)).reshape(-1, 1)
            try:
                results = run_rows(session, out_names, feeds)  # row by row for [1,1] inputs
            except Exception as err:
                failed.append(_unfit_model(f"onnxruntime fails on a batch of {batch.num_rows} rows: "
                                           f"{' '.join(str(err).split())}"))
                raise failed[-1] from err
            wrong = [f"{n!r} returned shape {list(np.shape(r))}" for n, r in zip(out_names, results)
                     if np.ndim(r) == 0 or np.shape(r)[0] != batch.num_rows or np.size(r) != batch.num_rows]
            if wrong:
                failed.append(_unfit_model(f"for a batch of {batch.num_rows} rows, output(s) {'; '.join(wrong)}, "
                                           "not one value per input row", output=out_names[0]))
                raise failed[-1]
            return pa.RecordBatch.from_arrays([pa.array(r.reshape(-1)) for r in results], names=out_names)

        first = next(iter(reader), None)
        if first is None:
            first = pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in reader.schema],
                                               schema=reader.schema)
        failed: list[PackagingError] = []  # a later batch's error, raised inside DuckDB's read of the stream
        head = score(first)
        batches = _chain(head, (score(b) for b in reader))
        scored = internal_name(SCORED_VIEW, table_name)
        con.register(scored, pa.RecordBatchReader.from_batches(head.schema, batches))
        try:
            cast = con.sql(casts).to_arrow_table()
        except (duckdb.Error, pa.ArrowException) as err:
            if failed:
                raise failed[-1] from err
            raise
        finally:
            con.unregister(scored)
    finally:
        reader_con.close()
    given = pa.Table.from_batches(fetched, schema=reader.schema)
    return pa.Table.from_arrays([*given.columns, *cast.columns], names=[*names, *cast.column_names])


def _unfit_model(problem: str, *, output: str | None = None) -> PackagingError:
    """The error of a packaged model that cannot score a table the way PREDICT does."""
    return PackagingError(
        f"the packaged model cannot score the table: {problem}. PREDICT returns one row per table row, so the "
        "model must take a batch of any size and return one row per input row; `onnxgate validate MODEL -t "
        "<sql target>` names what to change (inputs_one_per_column, outputs_one_value_per_row). Package the "
        "model again once it passes.",
        output=output,
    )


def _chain(first: Any, rest: Any) -> Any:
    yield first
    yield from rest


def _refuse_nan(table: Any, columns: ColumnMap | None = None, *, types: Mapping[str, str] | None = None,
                nullable: frozenset[str] = frozenset()) -> None:
    """SQL Server's float and real hold no NaN and no infinity: an empty CSV cell would be NULL in the
    table, whose input columns are NOT NULL, and an infinity fails the insert. Refuse such rows here as
    the real load would; the column is named as the user named it (``columns``: the model's mapping), and the
    reason is the one true of its table column (``types``, ``nullable``: :func:`_not_scored`)."""
    import numpy as np
    import pyarrow as pa

    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_floating(column.type):
            continue
        values = column.to_numpy(zero_copy_only=False)
        shown = _shown(columns, name)
        for found, holds, why, fix in (
            (np.isnan, "is empty or NaN", _not_scored(name, types, nullable), "Fill or drop them"),
            (np.isinf, "holds infinity", "SQL Server's float/real cannot hold it (inserting it fails), so PREDICT "
             "would never see these rows", "Replace those values or drop the rows"),
        ):
            bad = np.flatnonzero(found(values))
            if bad.size:
                raise InvalidDataError(
                    f"column {shown} {holds} in {bad.size} row(s) (first: row {int(bad[0])}); {why}. {fix} before "
                    "scoring.",
                    column=name,
                )


def _refuse_values_the_load_would_change(source: Any, signature: Signature, coded: set[str]) -> None:
    """Refuse rows the input table would hold only as other values: loading casts 127.7 to a bigint
    column as 128 (and 1e20 or infinity fail deep in DuckDB), and the dry run would then pass on
    rows that are not the user's. The rule is ``onnxgate validate``'s (:func:`onnxgate._data.as_feeds`),
    which checked the rows the package was made with: a value is taken only when the input's type
    holds it as it is (3.0 or "3" as 3, and a boolean as 0/1 for an integer input, which is how the
    SQL adaptation types a boolean column), and a refused column is named as the user named it. The
    ``coded`` inputs' columns already hold the codes the dry run mapped the user's categories to: they are
    checked as plain numbers, not read again as a user's codes (codes 1..7 of categories 1..12 were
    refused as "both categories and codes"), and a column of LightGBM's integer categories mapped from a category
    column holds its values, unseen ones too, read as missing by the graph as by LightGBM (helper-255).

    Raises
    ------
    InvalidDataError
        Fractional values for an integer input, values outside the input type's range or not finite,
        dates for a number, text that is not a number (or a number for text).
    """
    from onnxgate._data import as_feeds

    plain = dataclasses.replace(signature, inputs=tuple(dataclasses.replace(s, codes=None, categories=None)
                                                         if s.name in coded else s for s in signature.inputs))
    for batch in source.to_batches(max_chunksize=BATCH_ROWS):
        as_feeds(batch.to_pandas(), plain)


def _check_database_file(path: Path) -> None:
    """Refuse a folder, or an existing file that is not a DuckDB database (DuckDB would attach a
    CSV or Parquet file as a read-only catalog rather than fail)."""
    if path.is_dir():
        raise InvalidDataError(f"--database {str(path)!r} is a folder; give a DuckDB database file")
    if not path.parent.is_dir():
        raise InvalidDataError(f"--database {str(path)!r} is in a folder that does not exist "
                               f"({str(path.parent)!r}): create the folder first, or give a path in one")
    if os.path.lexists(path):
        from onnxgate._files import check_regular_file

        # a fifo would block DuckDB's open forever, a device never ends: a regular file or a new path only
        check_regular_file(path, what="DuckDB database", error=InvalidDataError)
    if path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            head = handle.read(12)
        if head[8:12] != b"DUCK":
            raise InvalidDataError(
                f"cannot open {str(path)!r} as a DuckDB database: it is not a DuckDB file. Give a DuckDB file "
                "(or a new path), or leave --database out to work in memory."
            )


def _remove_database_files(path: str) -> None:
    """Remove a database file (and its write-ahead log) that a failed run created."""
    for name in (path, f"{path}.wal"):
        with contextlib.suppress(OSError):
            os.unlink(name)


def dry_run(
    package_dir: str | os.PathLike[str],
    data: Any,
    *,
    database: str | os.PathLike[str] | None = None,
    reference: Any = None,
    rows: int = 10,
    table_types: Mapping[str, str] | None = None,
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    threads: int | None = None,
    repeat: int = 1,
    replace: bool = False,
) -> DryRunResult:
    """Score ``data`` with a SQL package in DuckDB the way ``04_predict.sql`` would in SQL Server.

    Parameters
    ----------
    package_dir : path
        A folder written by ``onnxgate package --target sql-*``.
    data : path, DataFrame, dict, pyarrow.Table or array
        Rows for the input table, with a column per model input (an array: in input order).
    database : path, optional
        A DuckDB database file to create the table in (default: in memory). A table of that name
        already in the file is kept and the dry run refused, unless ``replace``.
    reference : object, optional
        The native model to compare with (as for ``onnxgate.validate``).
    rows : int
        Rows kept in ``result.head`` for display.
    table_types : mapping of str to str, optional
        Column SQL types that override ``03_create_input_table.sql`` (to try a table as it exists).
    atol, rtol : float or mapping, optional
        Tolerances for the reference comparison (defaults by output type).
    threads : int, optional
        DuckDB worker threads (default: DuckDB's).
    repeat : int
        Run the scoring query this many times; ``seconds`` is the median (for benchmarks).
    replace : bool
        Replace the input table when ``database`` already holds one of that name.

    Returns
    -------
    DryRunResult

    Raises
    ------
    InvalidDataError
        A table column's type differs from the model input's (the PREDICT message), the data
        lacks a column, or a column holds values the table would hold only as others (127.7 for a
        bigint input; refused as ``onnxgate validate`` refuses them).
    PackagingError
        The folder is not a SQL package.
    MissingDependencyError
        duckdb or pyarrow is not installed (``pip install 'onnxgate[sql]'``).

    Examples
    --------
    >>> result = dry_run("dist/sql", "rows.csv")  # doctest: +SKIP
    >>> result.passed  # doctest: +SKIP
    True
    """
    # a database file this run creates is removed again if the run fails or is interrupted, at any point
    where = os.fspath(database) if database is not None else None
    created = where is not None and not os.path.lexists(where)
    try:
        return _dry_run(package_dir, data, database=database, reference=reference, rows=rows,
                        table_types=table_types, atol=atol, rtol=rtol, threads=threads, repeat=repeat,
                        replace=replace)
    except BaseException:
        if created and where is not None:
            _remove_database_files(where)
        raise


def _dry_run(
    package_dir: str | os.PathLike[str],
    data: Any,
    *,
    database: str | os.PathLike[str] | None,
    reference: Any,
    rows: int,
    table_types: Mapping[str, str] | None,
    atol: float | Mapping[str, float] | None,
    rtol: float | Mapping[str, float] | None,
    threads: int | None,
    repeat: int,
    replace: bool,
) -> DryRunResult:
    try:
        import duckdb
        import pyarrow  # noqa: F401 - the UDF exchanges Arrow arrays
    except ImportError as err:
        raise missing_dependency("duckdb", "sql", "The DuckDB dry run") from err
    import numpy as np

    from onnxgate.validators.rule import compare_rows

    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise InvalidDataError(f"rows: expected 0 or more rows to print, found {rows!r}; give 0 or more")
    rows = min(rows, 2**31 - 1)  # more than any table here holds ("Python int too large to convert to C long")
    folder = Path(package_dir)
    manifest, model_bytes, script = _read_package(folder)
    sql = manifest["sql"]
    inputs: list[dict[str, Any]] = list(sql["inputs"])
    outputs: list[dict[str, Any]] = list(sql["outputs"])
    table_name = str(sql["input_table"])
    types = table_types_from_script(script) if script is not None else {s["name"]: s["sql_type"] for s in inputs}
    collations = collations_from_script(script) if script is not None else {}
    types.update(table_types or {})
    _check_types(inputs, types, table_name)
    names = [str(s["name"]) for s in inputs]
    # only the model's columns are created: a column the user added beside them (a key, a load date) never
    # reaches PREDICT, whatever its type
    unknown = sorted({_base_type(types[n]) for n in names} - set(DUCKDB_TYPES))
    if unknown:
        raise InvalidDataError(f"no DuckDB equivalent for the SQL types {unknown}; known: {sorted(DUCKDB_TYPES)}")

    from onnxgate._onnx import load_model
    from onnxgate.signature import Signature

    signature = Signature.from_model(load_model(model_bytes))
    # a path is read by _arrow_input; rows keyed by the user's own column names (the CSV the model was
    # fitted on) load into the input table, whose columns are the model's input names (the mapping
    # recorded in the model, SQL renames too)
    given_rows, coded = _categories_as_codes(data, signature)
    _refuse_unnumbered(given_rows, signature)
    source = _arrow_input(given_rows, names, signature.columns, signature=signature)
    nullable = _nullable_columns(script) if script is not None else frozenset()
    _refuse_nan(source, signature.columns, types=types, nullable=nullable)
    _refuse_values_the_load_would_change(source, signature, coded)
    _refuse_nulls(source, signature.columns, types=types, nullable=nullable)
    given = source  # what the reference is given: the rows as the user has them, before SQL Server pads them
    joined: list[str] = []
    codes_info = sql.get("category_codes")
    if isinstance(codes_info, Mapping):
        texts = _texts_of_coded(data, signature, codes_info, coded)
        if texts:
            source = _codes_by_join(folder, sql, codes_info, source, texts, signature)
            joined = list(texts)
            both = sql.get("class_labels")
            if isinstance(both, Mapping) and both.get("from_text"):  # 10's [coded] rows are 07's
                source = _codes_by_join(folder, sql, {**codes_info, "scripts_sha256": {
                    **(codes_info.get("scripts_sha256") or {}), **(both.get("scripts_sha256") or {})}}, source,
                    texts, signature, str(both["from_text"]))
    source, padded = _as_sql_server_stores(source, types, signature.columns, collations)
    if database is not None:
        _check_database_file(Path(database))
    where = os.fspath(database) if database is not None else ":memory:"
    # a database file this run creates is removed again if the run fails (a full disk, bad rows)
    created = database is not None and not os.path.lexists(where)
    try:
        con = duckdb.connect(where)
    except duckdb.Error as err:
        if created:
            _remove_database_files(where)
        raise InvalidDataError(
            f"cannot open {where!r} as a DuckDB database: {str(err).splitlines()[0]}. Give a "
            "DuckDB file (or a new path), or leave --database out to work in memory."
        ) from err
    loading = False  # inside the transaction that makes and loads the input table
    made_table = False  # the input table this run created, dropped again if the run fails
    try:
        # DuckDB compares names case-insensitively: "PIPELINE_INPUT" is the table "Pipeline_input" would replace
        existing = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE lower(table_name) = lower(?) AND table_schema = current_schema()",
            [table_name],
        ).fetchone()
        if existing and not replace:
            from onnxgate.errors import OutputExistsError

            same = "" if existing[0] == table_name else f" (as {existing[0]!r}: DuckDB names ignore case)"
            raise OutputExistsError(
                f"the database {where!r} already has a table {table_name!r}{same}; the dry run would "
                "replace it. Pass --force (replace=True) to replace it, or use another database file.",
                path=where,
            )
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        columns_sql = ", ".join(
            f"{_dq(n)} {DUCKDB_TYPES[_base_type(types[n])]} NOT NULL" for n in names
        )
        # rows that fail to load leave a table --force replaces as it was (it was left empty or half-loaded);
        # committed before scoring, which reads the table on a second connection
        con.begin()
        loading = True
        con.execute(f"CREATE OR REPLACE TABLE {_dq(table_name)} ({columns_sql})")
        rows_view = internal_name("__onnxgate_rows", table_name)
        # DuckDB reads no half float from Arrow: float32 holds every float16 value, as validate widens them
        con.register(rows_view, _widen_half_floats(source))
        try:
            con.execute(
                f"INSERT INTO {_dq(table_name)} SELECT {', '.join(_dq(n) for n in names)} FROM {_dq(rows_view)}"
            )
        except duckdb.Error as err:
            raise InvalidDataError(
                f"cannot load the rows into table {table_name!r}: {str(err).splitlines()[0]}; the table holds "
                "one value of its column's type per row: give each input column plain values (no lists or "
                "structs), or cast it to the table's type"
            ) from err
        finally:
            # after a failed INSERT the transaction is aborted and unregister raises TransactionException, which
            # hid the message above behind "unexpected TransactionException ... please report it"
            with contextlib.suppress(duckdb.Error):
                con.unregister(rows_view)
        con.commit()
        loading, made_table = False, not existing

        session = runtime_session(model_bytes)
        out_types = {str(s["name"]): DUCKDB_TYPES[_base_type(str(s["sql_type"]))] for s in outputs}
        query = predict_query(table_name, names, out_types)
        casts = predict_query(table_name, [], out_types)
        times = []
        for _ in range(max(1, int(repeat))):
            start = time.perf_counter()
            result = _run_predict(con, session, table_name, inputs, outputs, casts)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        table_rows = con.sql(f"SELECT * FROM {_dq(table_name)}").to_arrow_table()
    except BaseException:
        if created:
            con.close()
            _remove_database_files(where)
        elif loading:
            with contextlib.suppress(duckdb.Error):
                con.rollback()
        elif made_table:  # a database the user gave is left as it was: the next run is not refused over it
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DROP TABLE IF EXISTS {_dq(table_name)}")
        raise
    finally:
        con.close()

    out_names = [str(s["name"]) for s in outputs]
    feeds = {
        n: np.asarray(table_rows.column(n).to_numpy()).astype(_np_dtype(s["elem_type"])).reshape(-1, 1)
        for n, s in zip(names, inputs)
    }
    direct_session = runtime_session(model_bytes)
    # runs of another size than the query's: a model whose answer for a row depends on the other rows of
    # its batch (x - mean(x)) answers otherwise, and the comparison says so (one run over every row found
    # it too, but a KNN over 300,000 rows then took 3.1 GB)
    direct_outs = run_rows(direct_session, out_names, feeds, rows=DIRECT_RUN_ROWS)
    direct: dict[str, float] = {}
    passed = True
    for name, expected in zip(out_names, direct_outs):
        got = np.asarray(result.column(name).to_numpy()).reshape(-1, 1)
        diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        direct[name] = float(np.max(diff)) if diff.size else 0.0
        # the parity rule (abs > atol and rel > rtol), equal NaNs and equal infinities matching
        verdict = compare_rows(expected, got, atol=DIRECT_ATOL, rtol=DIRECT_RTOL, name=name,
                               infinities_compare_equal=True)
        if verdict.mismatched_rows:
            passed = False
    ref_lines: list[str] = []
    from onnxgate.validators.parity import rows_alone_without_reference

    alone, _checked = rows_alone_without_reference(model_bytes, feeds, direct_session, fed=True)
    if padded:
        ref_lines.append(_PADDED + ", ".join(f"{n!r} ({types[n]})" for n in padded) + " right-padded with spaces "
                         "to their length, as SQL Server stores them: PREDICT reads the padded values"
                         + (" and the reference the values as given" if reference is not None else ""))
    if alone is not None:  # a table smaller than a run is one batch both ways: score its first rows alone
        passed = False
        ref_lines.append(f"rows scored alone: {alone}")
    if reference is not None:
        from onnxgate._data import as_feeds, float32_rows
        from onnxgate.validators.parity import users_values_signature

        # the rows as the user gave them decide how the reference is given them, as in validate (a float32
        # Parquet file passed validate and package, and the dry run widened it and failed; helper-84)
        rows_float32 = float32_rows(source)
        user_values = users_values_signature(reference, signature, rows_float32)
        if user_values is not None:
            # the columns the dry run mapped to codes hold codes now, not the user's values, as in
            # _refuse_values_the_load_would_change: read again, codes of categories '1', '01', '2' were refused as
            # numbers that could be either
            user_values = dataclasses.replace(user_values, inputs=tuple(
                dataclasses.replace(s, codes=None) if s.name in coded and s.codes else s for s in user_values.inputs))
            # a native reference answers the user's own values, as in validate, not the real column's rounding
            # of them: given the table's float32 rows, it passed a file flipping 50 of 3,000 labels (helper-133)
            ref_feeds = as_feeds(given.to_pandas(), user_values)
        else:
            ref_feeds = {**feeds, **{n: np.asarray(given.column(n).to_pylist(), dtype=object).reshape(-1, 1)
                                     for n in padded}}
        ok, lines = _compare_reference(reference, model_bytes, ref_feeds, result, out_names, atol, rtol,
                                       rows_float32)
        ref_lines.extend(lines)
        passed = passed and ok
    labels: dict[str, list[Any]] = {}
    label_lines: list[str] = []
    labels_info = sql.get("class_labels")
    text_labels: dict[str, list[Any]] = {}
    if isinstance(labels_info, Mapping):
        labels, label_lines, ok = _labels_by_join(folder, sql, labels_info, result, signature)
        passed = passed and ok
        if joined and labels_info.get("from_text"):  # the rows' texts in, the text labels out
            text_labels, lines, ok = _labels_by_join(folder, sql, labels_info, result, signature,
                                                     str(labels_info["from_text"]))
            label_lines.extend(lines)
            passed = passed and ok
    head = [tuple(r.values()) for r in result.slice(0, rows).to_pylist()]
    return DryRunResult(
        rows=result.num_rows,
        columns=list(result.column_names),
        head=head,
        query=query,
        seconds=seconds,
        direct=direct,
        reference=ref_lines,
        passed=passed,
        result=result,
        joined=joined,
        labels=labels,
        label_lines=label_lines,
        text_labels=text_labels,
    )


#: What a T-SQL type word reads as in DuckDB, with its optional ``(n)`` or ``(max)``.
_TSQL_TYPE = re.compile(r"\s*\(\s*(?:\d+|max)\s*\)", re.I)


def duckdb_statements(script: str) -> list[str]:
    """The statements of a T-SQL script onnxgate wrote (``06_create_category_codes.sql``) as DuckDB runs them:
    ``[name]`` as ``"name"``, ``N'text'`` as ``'text'`` (each literal's characters kept as written), a value's
    ``NCHAR(n)`` as ``chr(n)`` (``CONCAT`` is DuckDB's too: :func:`onnxgate.deploy.sql.text_value`), a type by
    :data:`DUCKDB_TYPES`, ``COLLATE <name>`` and Synapse's ``WITH (DISTRIBUTION = ...)`` left out (DuckDB compares
    text by its code points, as the binary collation the script names does).

    Examples
    --------
    >>> duckdb_statements("INSERT INTO [a]]b] ([c]) VALUES (N'it''s');")
    ['INSERT INTO "a]b" ("c") VALUES (\'it\'\'s\')']
    """
    text = _strip_comments(script)
    out: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        word = re.match(r"[A-Za-z_@#][\w@#$]*", text[i:]) if not (i and (text[i - 1].isalnum() or text[i - 1] == "_")) \
            else None
        if ch == "[":
            name, i = _read_identifier(text, i)
            current.append(_dq(name))
        elif ch == "'" or (ch in "Nn" and text.startswith("'", i + 1) and word is not None and word.group() in "Nn"):
            start = i + (ch != "'")
            j = _closing(text, start, "'")
            current.append(text[start:j + 1])
            i = j + 1
        elif word is not None:
            token = word.group()
            i += len(token)
            if token.lower() in DUCKDB_TYPES:
                typed = _TSQL_TYPE.match(text, i)
                i = typed.end() if typed else i
                current.append(DUCKDB_TYPES[token.lower()])
            elif token.upper() == "NCHAR" and re.match(r"\s*\(\s*\d+\s*\)", text[i:]) \
                    and "".join(current).rstrip()[-1:] in ("(", ","):
                current.append("chr")  # NCHAR(10) in a value (sql.text_value), not the type nchar(10)
            elif token.upper() == "COLLATE":
                skipped = re.match(r"\s*\w+", text[i:])
                i += skipped.end() if skipped else 0
            elif token.upper() == "WITH" and re.match(r"\s*\(\s*DISTRIBUTION\b", text[i:], re.I):
                i = text.index(")", i) + 1
            else:
                current.append(token)
        elif ch == ";":
            out.append("".join(current).strip())
            current, i = [], i + 1
        else:
            current.append(ch)
            i += 1
    rest = "".join(current).strip()
    return [statement for statement in (*out, rest) if statement]


def _texts_of_coded(data: Any, signature: Signature, codes_info: Mapping[str, Any], coded: set[str],
                    ) -> dict[str, list[Any]]:
    """The texts (None for a missing value) of each column of ``data`` that a package's code table is for and that
    the dry run mapped to the codes from its values (``coded``: a category or text column, not codes)."""
    import numpy as np

    from onnxgate._data import is_dataframe, read_rows

    tables = {str(c.get("input")) for c in codes_info.get("inputs") or () if isinstance(c, Mapping)}
    wanted = [name for name in signature.input_names if name in tables and name in coded]
    if not wanted:
        return {}
    rows = read_rows(data)
    if isinstance(rows, Mapping):
        rows = _columns_frame(rows)
    out: dict[str, list[Any]] = {}
    for name in wanted:
        column = signature.columns.column_for(name)
        if is_dataframe(rows):
            key = next((c for c in rows.columns if str(c) == column), None)
            values = [] if key is None else rows[key].astype(object).tolist()
        elif rows is not None and hasattr(rows, "column_names") and column in rows.column_names:
            values = rows.column(column).to_pylist()
        else:
            continue
        numbers = any(isinstance(c, (int, float)) and not isinstance(c, bool)
                      for c in dict(signature.input(name).codes or ()).get(0) or ())
        # number categories (XGBoost's 7, 11, 23) are joined to their codes by value: the text table holds numbers
        out[name] = [None if v is None or (isinstance(v, float) and np.isnan(v)) or type(v).__name__ == "NAType"
                     else (v.item() if isinstance(v, np.generic) else v) if numbers and not isinstance(v, str)
                     else str(v) for v in values]
    return out


def _codes_by_join(folder: Path, sql: Mapping[str, Any], codes_info: Mapping[str, Any], source: Any,
                   texts: Mapping[str, list[Any]], signature: Signature,
                   script: str = "07_predict_from_text.sql") -> Any:
    """``source`` (the rows as the input table is loaded) with the codes of ``texts`` as ``script`` (07, or 10
    where the model returns text labels too) gives them: ``06_create_category_codes.sql`` run in a DuckDB of its
    own (the lookup tables, filled, and the text table), the rows loaded into the text table with their texts, and
    the query's ``[coded]`` rows read back in the text table's order. Refuses, naming the column, codes that are
    not the ones the model's categories give (the codes ``source`` holds): the query would score other rows than the
    model."""
    import numpy as np
    import pyarrow as pa

    scripts = _scripts_as_written(folder, ("06_create_category_codes.sql", script), codes_info,
                                  "code tables and text query")
    query = duckdb_statements(scripts[script])
    found = next((q for q in query if re.match(r'WITH\s+"coded"\s+AS\s*\(', q)), None)
    if found is None:
        raise PackagingError(f"{str(folder / script)!r} holds no [coded] rows to score; write "
                             "the package again with onnxgate package")
    start = found.index("(") + 1
    body = found[start:_parenthesis_end(found, start - 1, script) - 1]  # the CTE's body
    body = re.sub(r"^\s*SELECT\s", 'SELECT t.rowid AS "__onnxgate_row", ', body, count=1)
    names = signature.input_names
    text_table = f"{_dq(str(sql['schema']))}.{_dq(str(codes_info['text_input_table']))}"
    with _scripts_database(sql, "code tables and text query") as con:
        con.execute("CREATE MACRO datalength(x) AS strlen(x)")  # bytes: equal for equal texts, as in SQL Server
        for statement in duckdb_statements(scripts["06_create_category_codes.sql"]):
            con.execute(statement)
        rows = pa.table({n: (pa.array(texts[n], type=None if any(isinstance(v, (int, float)) for v in texts[n])
                                      else pa.string()) if n in texts else source.column(n)) for n in names})
        con.register("__onnxgate_text_rows", rows)
        con.execute(f"INSERT INTO {text_table} ({', '.join(_dq(n) for n in names)}) "
                    f"SELECT {', '.join(_dq(n) for n in names)} FROM __onnxgate_text_rows")
        coded = con.sql(f'SELECT * FROM ({body}) ORDER BY "__onnxgate_row"').to_arrow_table()
    for name in texts:
        got = np.asarray(coded.column(name).to_pylist(), dtype=object)
        want = np.asarray(source.column(name).to_pylist(), dtype=object)
        bad = np.flatnonzero(got != want)
        if bad.size:
            row = int(bad[0])
            raise PackagingError(
                f"{script} gives {bad.size} row(s) of column {signature.columns.column_for(name)!r} "
                f"other codes than the model's categories do: row {row}'s {texts[name][row]!r} is "
                f"{got[row]!r}, not {want[row]!r}. Write the package again with onnxgate package")
        source = source.set_column(source.column_names.index(name), name,
                                   pa.array(got.astype(np.int64)).cast(source.schema.field(name).type))
    return source


def _scripts_as_written(folder: Path, names: Sequence[str], info: Mapping[str, Any], what: str) -> dict[str, str]:
    """The text of the package's scripts ``names``, each refused unless it is the one onnxgate wrote (its sha256 is
    ``info["scripts_sha256"]``'s): the dry run runs them as written and cannot check others."""
    scripts = {}
    for name in names:
        path = folder / name
        recorded = (info.get("scripts_sha256") or {}).get(name)
        if not path.is_file() or _text_sha256(path) != recorded:
            problem = (f"lacks {name}" if not path.is_file() else
                       f"holds a {name} edited since the package was written (its sha256 differs from "
                       "manifest.json's)")
            raise PackagingError(
                f"{str(folder)!r} {problem}: the dry run runs the package's {what} as onnxgate wrote them, and "
                "cannot check others. Write the package again with onnxgate package",
                path=str(path),
            )
        scripts[name] = path.read_text(encoding="utf-8")
    return scripts


@contextlib.contextmanager
def _scripts_database(sql: Mapping[str, Any], what: str) -> Iterator[Any]:
    """A DuckDB of its own, in memory, holding the package's schema, to run the package's ``what`` (its code or label
    scripts) in; closed after. A script DuckDB cannot run is refused: the package is not the one onnxgate wrote."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_dq(str(sql['schema']))}")
        yield con
    except duckdb.Error as err:
        raise PackagingError(f"the package's {what} do not run: {str(err).splitlines()[0]}. Write the package "
                             "again with onnxgate package") from err
    finally:
        con.close()


def _parenthesis_end(text: str, start: int, script: str = "09_predict_labels.sql") -> int:
    """The index just after the ``)`` closing the ``(`` at ``text[start]`` of the query of ``script``, quoted names
    and literals skipped."""
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _closing(text, i, ch) + 1
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        i += 1
        if depth == 0:
            return i
    raise PackagingError(f"{script} holds an unbalanced parenthesis; write the package again with onnxgate package")


def _labels_by_join(folder: Path, sql: Mapping[str, Any], labels_info: Mapping[str, Any], result: Any,
                    signature: Signature, script: str = "09_predict_labels.sql",
                    ) -> tuple[dict[str, list[Any]], list[str], bool]:
    """The text labels ``09_predict_labels.sql`` gives the scored rows (``result``: the input columns, then the
    outputs as ``PREDICT`` returns them): ``08_create_class_labels.sql`` run in a DuckDB of its own, and 09's query
    run with its ``PREDICT(...) WITH (...) AS p`` read from the scored rows. Each text is checked against the label
    the model's record gives its code (:attr:`onnxgate.signature.TensorSpec.labels`), which parity compared with
    the reference's. ``script``: 09, or 10, whose ``[coded]`` rows (07's, which :func:`_codes_by_join` checked
    give the codes scored) are left out: ``d`` is the rows scored. Returns the texts by output, the report's lines
    and whether every row matched."""
    import pyarrow as pa

    scripts = _scripts_as_written(folder, ("08_create_class_labels.sql", script), labels_info,
                                  "label tables and label query")
    statement = next((q for q in duckdb_statements(scripts[script])
                      if re.match(r"(?:SELECT|WITH)\s", q, re.I) and "PREDICT(" in q), None)
    cte = None if statement is None else re.match(r'WITH\s+"coded"\s+AS\s*\(', statement)
    if statement is not None and cte is not None:
        statement = statement[_parenthesis_end(statement, cte.end() - 1, script):].lstrip()
    if statement is None or not re.match(r"SELECT\s", statement, re.I):
        raise PackagingError(f"{str(folder / script)!r} holds no PREDICT query; write the package "
                             "again with onnxgate package")
    start = statement.index("PREDICT(")
    end = _parenthesis_end(statement, start + len("PREDICT"), script)
    with_clause = re.match(r"\s*WITH\s*(?=\()", statement[end:], re.I)
    alias = None
    if with_clause is not None:
        end = _parenthesis_end(statement, end + with_clause.end(), script)
        alias = re.match(r"\s*AS\s+p\b", statement[end:], re.I)
    if alias is None:
        raise PackagingError(f"{str(folder / script)!r} holds no PREDICT(...) WITH (...) AS p; write "
                             "the package again with onnxgate package")
    names = signature.input_names
    outputs = signature.output_names
    row = "__onnxgate_row"
    query = (re.sub(r"^SELECT\s", f'SELECT p."{row}", ', statement[:start], count=1, flags=re.I)
             + '"__onnxgate_inputs" AS d POSITIONAL JOIN "__onnxgate_outputs" AS p'
             + statement[end + alias.end():])
    with _scripts_database(sql, "label tables and label query") as con:
        for part in duckdb_statements(scripts["08_create_class_labels.sql"]):
            con.execute(part)
        con.register("__onnxgate_inputs", result.select(names))
        con.register("__onnxgate_outputs", result.select(outputs).append_column(
            row, pa.array(range(result.num_rows), type=pa.int64())))
        labelled = con.sql(f'SELECT * FROM ({query}) ORDER BY "{row}"').to_arrow_table()
    texts: dict[str, list[Any]] = {}
    lines: list[str] = []
    passed = True
    for item in labels_info.get("outputs") or ():
        name = str(item.get("output")) if isinstance(item, Mapping) else ""
        if name not in outputs or name not in labelled.column_names:
            continue
        recorded = signature.output(name).labels or ()
        codes = result.column(name).to_pylist()
        got = labelled.column(name).to_pylist()
        want = [recorded[c] if isinstance(c, int) and 0 <= c < len(recorded) else None for c in codes]
        wrong = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
        texts[name] = got
        if wrong:
            passed = False
            first = wrong[0]
            lines.append(f"FAILED  text labels of {name!r} by {script}: {len(wrong)}/{len(got)} rows are "
                         f"not the label their code stands for (row {first}: code {codes[first]!r} gives "
                         f"{got[first]!r}, not {want[first]!r})")
        else:
            lines.append(f"ok      text labels of {name!r} by 08_create_class_labels.sql and {script}'s "
                         f"join{' (texts in, labels out)' if cte is not None else ''}: {len(got)} rows, each the "
                         "label its code stands for")
    return texts, lines, passed


def _np_dtype(elem_type: str) -> np.dtype[Any]:
    from onnxgate.signature import numpy_dtype_for

    return numpy_dtype_for(str(elem_type))


def _compare_reference(
    reference: Any,
    model_bytes: bytes,
    feeds: Mapping[str, np.ndarray],
    result: Any,
    out_names: Sequence[str],
    atol: float | Mapping[str, float] | None,
    rtol: float | Mapping[str, float] | None,
    float32_rows: bool = False,
) -> tuple[bool, list[str]]:
    import numpy as np

    from onnxgate._onnx import load_model
    from onnxgate.errors import InvalidDataError, OnnxGateError
    from onnxgate.signature import Signature
    from onnxgate.validators.parity import compare_arrays, first_row_failing, reference_failed
    from onnxgate.validators.reference import reference_outputs

    proto = load_model(model_bytes)
    signature = Signature.from_model(proto)
    try:
        expected = reference_outputs(reference, feeds, proto, signature, float32_rows=float32_rows)
    except OnnxGateError:
        raise
    except Exception as err:  # the rows are not what the reference takes: as validate says it, exit 2
        rows = len(next(iter(feeds.values()))) if feeds else 0
        where = f"rows 0..{rows - 1}"
        bad = first_row_failing(lambda part: reference_outputs(reference, part, proto, signature,
                                                               float32_rows=float32_rows), feeds)
        if bad is not None:
            where += f" (first at row {bad})"
        raise InvalidDataError(reference_failed(where, err)) from err
    from onnxgate.validators.reference import float32_rounding_shows
    from onnxgate.validators.tolerances import model_tolerances, reference_reads_float32

    tolerances = model_tolerances(proto, signature.outputs, atol, rtol, reference_float32=reference_reads_float32(
        reference, signature.inputs, float32_rows,
        lambda: float32_rounding_shows(reference, proto, signature, dict(feeds))))
    ok = True
    lines: list[str] = []
    for name, exp_values in zip(signature.output_names, expected):
        if exp_values is None:
            lines.append(f"output {name!r}  not compared: the reference has no counterpart")
            continue
        a, r, mode = tolerances[name]
        got = np.asarray(result.column(name).to_numpy()).reshape(-1, 1)
        comparison = compare_arrays(np.asarray(exp_values).reshape(len(got), -1), got, atol=a, rtol=r, name=name,
                                    exact=mode == "exact")
        ok = ok and comparison.passed
        lines.append(("ok      " if comparison.passed else "FAILED  ") + comparison.line())
    return ok, lines

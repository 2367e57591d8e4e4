"""The SQL rules beside the targets (core): T-SQL identifiers and the element types a SQL column takes.

The SQL targets' checks (:mod:`onnxgate.validators.io_rules`), the adaptation of a model to one input
per column and the generated T-SQL scripts (:mod:`onnxgate.deploy`) all read these.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from typing import Any

from onnxgate.errors import InvalidDataError

__all__ = [
    "SQL_IDENTIFIER_MAX",
    "SQL_RESERVED",
    "TYPE_FIXES",
    "check_column_names",
    "flatten_fix",
    "sql_identifier",
    "sql_name_problem",
    "unique_identifier",
]

#: How to fix an element type a SQL target does not take: the nearest type it does.
TYPE_FIXES: dict[str, str] = {
    "bool": "int32",
    "int8": "int32",
    "int16": "int32",
    "uint8": "int32",
    "uint16": "int32",
    "uint32": "int64",
    "uint64": "int64",
    "float16": "float32",
    "bfloat16": "float32",
    "float8e4m3fn": "float32",
    "float8e4m3fnuz": "float32",
    "float8e5m2": "float32",
    "float8e5m2fnuz": "float32",
    "float8e8m0": "float32",
    "float4e2m1": "float32",
    "int4": "int32",
    "uint4": "int32",
    "int2": "int32",
    "uint2": "int32",
    "string": "a numeric encoding (or the synapse target, which takes strings)",
}

#: T-SQL regular identifiers: a letter or underscore, then letters, decimal digits, ``_ @ # $``; at most 128.
#: A letter and a decimal digit are those of Unicode 3.2 (any script: ``größe``, ``température``), which
#: SQL Server's documentation names; a character outside the Basic Multilingual Plane is never one.
SQL_IDENTIFIER_MAX = 128
_UNICODE_3_2 = unicodedata.ucd_3_2_0


def _letter(ch: str) -> bool:
    return ord(ch) < 0x10000 and _UNICODE_3_2.category(ch)[0] == "L"


def _letter_or_digit(ch: str) -> bool:
    return ord(ch) < 0x10000 and (_UNICODE_3_2.category(ch)[0] == "L" or _UNICODE_3_2.category(ch) == "Nd")


def _regular_identifier(name: str) -> bool:
    return (_letter(name[0]) or name[0] == "_") and all(_letter_or_digit(c) or c in "_@#$" for c in name[1:])

#: T-SQL reserved keywords that are also plausible feature or output names (a column named so
#: must be bracket-quoted in every query, which the generated scripts and users easily forget).
SQL_RESERVED = frozenset(
    """
    add all alter and any as asc authorization backup begin between break browse bulk by cascade
    case check checkpoint close clustered coalesce collate column commit compute constraint contains
    continue convert create cross current cursor database dbcc deallocate declare default delete
    deny desc disk distinct distributed double drop dump else end errlvl escape except exec execute
    exists exit external fetch file fillfactor for foreign freetext from full function goto grant
    group having holdlock identity if in index inner insert intersect into is join key kill left
    like lineno load merge national nocheck nonclustered not null nullif of off offsets on open
    option or order outer over percent pivot plan precision primary print proc procedure public
    raiserror read readtext reconfigure references replication restore restrict return revert revoke
    right rollback rowcount rowguidcol rule save schema select session_user set setuser shutdown
    some statistics system_user table tablesample textsize then to top tran transaction trigger
    truncate union unique unpivot update updatetext use user values varying view waitfor when where
    while with writetext
    """.split()  # noqa: SIM905 - a word list reads better than 180 quoted strings
)


def sql_name_problem(name: str) -> str | None:
    """Why ``name`` is not usable as a plain T-SQL column name, or None when it is.

    Examples
    --------
    >>> sql_name_problem("petal_length") is None
    True
    >>> sql_name_problem("größe") is None
    True
    >>> sql_name_problem("petal length")
    'not a SQL identifier (letters, digits, _ @ # $; starting with a letter or _)'
    """
    if not name:
        return "empty name"
    if len(name) > SQL_IDENTIFIER_MAX:
        return f"longer than {SQL_IDENTIFIER_MAX} characters"
    if not _regular_identifier(name):
        return "not a SQL identifier (letters, digits, _ @ # $; starting with a letter or _)"
    if name.lower() in SQL_RESERVED:
        return "a T-SQL reserved keyword"
    return None


def flatten_fix(name: str, shape: Sequence[Any]) -> str:
    """How to give a SQL target an input of more than two axes (``shape``, ``[N,5,3]``), which no table column
    feeds: PREDICT feeds an input one value per row from each column (an ``[N,k]`` input from k columns, as
    :func:`onnxgate.adapt` splits it), never a further axis.

    Examples
    --------
    >>> flatten_fix("x", ("N", 5, 3))[:67]
    "flatten input 'x' to [N,15] in the model before export (the model t"
    """
    rest = shape[1:]
    axes = ",".join("?" if d is None else str(d) for d in rest)
    container = f"; or deploy to the container target, which takes [N,{axes}] as it is"
    if not all(isinstance(d, int) for d in rest):
        return (f"give input {name!r} a fixed size on each axis after the first (pad or crop it) and flatten them "
                "to one, [N,k], in the model before export; onnxgate.adapt(model, target) makes each of its k values "
                f"a column{container}")
    flat = f"[N,{math.prod(rest)}]"
    return (f"flatten input {name!r} to {flat} in the model before export (the model takes {flat} and reshapes it "
            f"to [N,{axes}] first: x.reshape(-1, {axes.replace(',', ', ')}) in a PyTorch forward()); "
            f"onnxgate.adapt(model, target) makes each of its {math.prod(rest)} values a column{container}")


def sql_identifier(text: str) -> str:
    """A plain SQL identifier made from ``text``: letters, digits, ``_``; starting with a letter or ``_``.

    Examples
    --------
    >>> sql_identifier("p_Iris-setosa")
    'p_Iris_setosa'
    >>> sql_identifier("0 score")
    '_0_score'
    >>> sql_identifier("größe °C")
    'größe__C'
    >>> sql_identifier("Order")
    'Order_'
    """
    name = "".join(c if _letter_or_digit(c) or c == "_" else "_" for c in str(text)) or "_"
    if not (_letter(name[0]) or name[0] == "_"):
        name = "_" + name
    name = name[:SQL_IDENTIFIER_MAX]
    if name.lower() in SQL_RESERVED:  # a keyword must be bracket-quoted in every query: "select" -> "select_"
        name = name[: SQL_IDENTIFIER_MAX - 1] + "_"
    return name


def unique_identifier(base: str, taken: set[str], *, ignore_case: bool = False) -> str:
    """``base``, or ``base_1``, ``base_2``... (cut to :data:`SQL_IDENTIFIER_MAX`) not in ``taken``; added to it.
    ``ignore_case``: not in it ignoring case either, as SQL column names are compared.

    Examples
    --------
    >>> taken = {"x"}
    >>> unique_identifier("x", taken), sorted(taken)
    ('x_1', ['x', 'x_1'])
    >>> unique_identifier("Age", {"age"}, ignore_case=True)
    'Age_1'
    """
    folded = {t.casefold() for t in taken} if ignore_case else set()
    name = base
    i = 1
    while name in taken or name.casefold() in folded:
        suffix = f"_{i}"
        name = base[: SQL_IDENTIFIER_MAX - len(suffix)] + suffix
        i += 1
    taken.add(name)
    return name


def check_column_names(columns: list[str] | tuple[str, ...]) -> None:
    """Refuse table column names given for an adapted model (``columns=``, CLI ``--columns``) that a table cannot
    hold: an empty (or blank) name, or a name given twice, ignoring case as SQL compares them. Before, ``--columns
    a,a,b`` said "column names must be unique (SQL names ignore case); ['a'] repeat", without the fix.

    Raises
    ------
    InvalidDataError
        Naming every empty or repeated name, the list given, and a list that would do.
    """
    names = [str(c) for c in columns]
    fix = "or leave --columns (columns=) out for the model's own names"
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        where = ", ".join(map(str, blank))
        raise InvalidDataError(
            f"columns {names} hold an empty name (position{'s' if len(blank) > 1 else ''}"
            f" {where}): expected one name per table column, found {names[blank[0] - 1]!r}; give every column a name, "
            f"{fix}",
            column="",
        )
    groups: dict[str, list[str]] = {}  # each name, ignoring case, -> its spellings in the order given
    for n in names:
        spellings = groups.setdefault(n.casefold(), [])
        if n not in spellings:
            spellings.append(n)
    repeated = [key for key in groups if [n.casefold() for n in names].count(key) > 1]
    if repeated:
        said = [repr(groups[k][0]) + (f" (as {' and '.join(map(repr, groups[k]))})" if len(groups[k]) > 1 else "")
                for k in repeated]
        case = "; SQL names ignore case" if any(len(groups[k]) > 1 for k in repeated) else ""
        taken: set[str] = set()
        distinct = [unique_identifier(n, taken, ignore_case=True) for n in names]
        raise InvalidDataError(
            f"columns {names} name {' and '.join(said)} more than once{case}: expected one distinct name per table "
            f"column, found {len(groups)} for {len(names)} columns; give each column its own name, e.g. "
            f"{','.join(distinct)!r}, {fix}",
            column=groups[repeated[0]][0],
        )

"""Deployment targets: named profiles of a place a model will run.

A :class:`Target` holds the facts of one place (opset and IR caps, allowed element types, the
input layout, the output rules) and the checks that apply there. The facts come from the public
sources listed in each profile's ``sources`` (see ``shared/research/targets.md``): SQL Edge release
notes, the onnxruntime compatibility matrix, the Synapse PREDICT documentation, and the Azure ML
entry-script contract.

Users can define their own target as a Python object (``Target(...)`` then :func:`register`) or
as a TOML file (:func:`from_toml`, CLI ``--target-file``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from onnxgate.errors import TargetError
from onnxgate.signature import elem_type_name

__all__ = [
    "PREDICT_INPUT_SQL",
    "SQL_ELEMENT_TYPES",
    "SQL_TYPES",
    "SQL_TYPE_NAMES",
    "Target",
    "check_sql_type_name",
    "from_toml",
    "get",
    "names",
    "register",
    "resolve",
    "sql_base_type",
    "sql_type_length",
]

InputLayout = Literal["column", "free"]

#: Values of :attr:`Target.sql_dialect`: which database's scripts a SQL package holds (None: SQL Edge's).
SQL_DIALECTS: tuple[str | None, ...] = (None, "sql-edge", "synapse")

#: ONNX element type -> SQL Server / Synapse column type (Azure Data Studio's type map, targets.md A.4).
SQL_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "int32": "int",
        "int64": "bigint",
        "float32": "real",
        "float64": "float",
        "string": "nvarchar(max)",
    }
)

#: Element types a ``sql_types`` table may map (the ones a SQL column can hold).
SQL_ELEMENT_TYPES: frozenset[str] = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "float16",
                                               "float32", "float64", "string"})

#: SQL Server / Synapse type names a target may map an element type to (or a T-SQL synonym of one). Anything
#: else, or any text beyond the name and the one size it takes, is refused before it reaches a script.
SQL_TYPE_NAMES: frozenset[str] = frozenset({
    "tinyint", "smallint", "int", "bigint", "real", "float", "char", "varchar", "nchar", "nvarchar",
})
#: SQL Server types PREDICT does not take as model columns (the documentation says CAST them to one it
#: takes); a package declaring them was written and then could not run, not even its own dry run.
_NOT_PREDICT_TYPES = frozenset({"bit", "decimal", "dec", "numeric", "money", "smallmoney"})

#: The SQL column types ``PREDICT`` reads each model input element type from (targets.md A.4: int, bigint, real,
#: float; char, varchar, nvarchar; "others: not supported"). The types must match: there is no implicit conversion
#: ("The type of model column 'f00' is 'real'. Doesn't match the input column type"), so a float32 input is read from
#: a ``real`` column only, never a ``float`` one. smallint/int16 and tinyint/uint8 are Azure Data Studio's pairing,
#: unconfirmed in the engines' documentation.
PREDICT_INPUT_SQL: Mapping[str, frozenset[str]] = MappingProxyType({
    "int32": frozenset({"int"}),
    "int64": frozenset({"bigint"}),
    "float32": frozenset({"real"}),
    "float64": frozenset({"float"}),
    "string": frozenset({"char", "varchar", "nvarchar"}),
    "int16": frozenset({"smallint"}),
    "uint8": frozenset({"tinyint"}),
})


#: T-SQL's ISO synonyms of the types above (sql-docs "Data type synonyms", "float and real", "char and varchar",
#: "nchar and nvarchar"): SQL Server creates the column as the base type, so PREDICT sees that.
_SQL_TYPE_SYNONYMS: Mapping[str, str] = MappingProxyType({
    "integer": "int",
    "double precision": "float",
    "character": "char",
    "char varying": "varchar",
    "character varying": "varchar",
    "national char": "nchar",
    "national character": "nchar",
    "national char varying": "nvarchar",
    "national character varying": "nvarchar",
})
#: What the parentheses after each T-SQL type may hold: (least, most, whether ``max`` is allowed); None for a type
#: that takes none (``int(5)`` is refused: "Cannot specify a column width on data type int"). float's n is the
#: mantissa's bits: 1 to 24 make a real, 25 to 53 a float; char/varchar hold 1 to 8000 bytes and nchar/nvarchar 1
#: to 4000 byte-pairs, varchar and nvarchar also ``max``.
_SQL_TYPE_SIZES: Mapping[str, tuple[int, int, bool] | None] = MappingProxyType({
    "tinyint": None, "smallint": None, "int": None, "bigint": None, "real": None,
    "float": (1, 53, False),
    "char": (1, 8000, False), "varchar": (1, 8000, True),
    "nchar": (1, 4000, False), "nvarchar": (1, 4000, True),
})

#: One type as T-SQL reads it: a name of one or more words (or one bracketed word, as SQL Server scripts it:
#: ``[nvarchar](max)``), then optionally one size in parentheses; spaces between the tokens, none around them.
_SQL_TYPE_GRAMMAR = re.compile(
    r"(?P<name>[A-Za-z]+(?: +[A-Za-z]+)*|\[[A-Za-z]+\])(?: *\( *(?P<size>[^()]*?) *\))?",
)


def _read_sql_type(text: str) -> tuple[str, str | None, str | None] | None:
    """``text`` as (its type name in lower case with synonyms resolved, the size it declares, why SQL Server
    refuses that size or None); None when ``text`` is not one type name and an optional size at all."""
    match = _SQL_TYPE_GRAMMAR.fullmatch(text)
    if match is None:
        return None
    written = " ".join(match.group("name").strip("[]").lower().split())
    # a synonym is a keyword, not a type's name: SQL Server finds no type [integer]
    name = written if match.group("name").startswith("[") else _SQL_TYPE_SYNONYMS.get(written, written)
    size = match.group("size")
    if size is None or name not in _SQL_TYPE_SIZES:
        return name, size, None
    rule = _SQL_TYPE_SIZES[name]
    if rule is None or written == "double precision":  # float(53) already: no precision after it
        return name, size, f"{written} takes no size in parentheses: write {written}"
    least, most, takes_max = rule
    if size.lower() == "max" and takes_max:
        return name, "max", None
    span = f"from {least} to {most}" + (", or max" if takes_max else "")
    if name == "float":
        span += " (1 to 24 is real, 25 to 53 float)"
    if not size.isdigit() or not least <= int(size) <= most:
        return name, size, f"{written} takes one size {span}, found ({size})"
    return name, size, None


def sql_base_type(sql_type: str) -> str:
    """A T-SQL column type's name without its length, as ``PREDICT`` compares types: ``nvarchar(max)`` is
    ``nvarchar``, ``float(24)`` (1 to 24) is ``real`` and ``float(53)`` ``float``, ``integer`` is ``int`` and
    ``double precision`` ``float`` (T-SQL's synonyms). A type SQL Server refuses (``float(0)``) comes back
    whole, lower case without spaces: no type PREDICT reads.

    Examples
    --------
    >>> sql_base_type("float(24)"), sql_base_type("NVARCHAR ( 20 )"), sql_base_type("double precision")
    ('real', 'nvarchar', 'float')
    """
    read = _read_sql_type(sql_type.strip())
    if read is None or read[2] is not None:
        return "".join(sql_type.lower().split())
    name, size, _ = read
    if name == "float" and size is not None:
        return "real" if int(size) <= 24 else "float"
    return name


def sql_type_length(sql_type: str) -> int | None:
    """The length a text column of ``sql_type`` holds: ``nvarchar(20)`` 20, ``char`` or ``varchar`` 1 (T-SQL's
    default in a column definition); None for ``max``, a number type or a type SQL Server refuses.

    Examples
    --------
    >>> sql_type_length("national character varying (20)"), sql_type_length("varchar"), sql_type_length("real")
    (20, 1, None)
    """
    read = _read_sql_type(sql_type.strip())
    if read is None or read[2] is not None or read[0] not in ("char", "varchar", "nchar", "nvarchar"):
        return None
    size = read[1]
    return 1 if size is None else None if size == "max" else int(size)


def _predict_input_problem(elem_type: str, sql: str) -> str | None:
    """Why ``PREDICT`` would not read a ``elem_type`` model input from a ``sql`` column, or None when it would."""
    takes = PREDICT_INPUT_SQL.get(elem_type)
    if takes is None:
        pairs = ", ".join(f"{e} {'/'.join(sorted(t))}" for e, t in PREDICT_INPUT_SQL.items())
        return (f"PREDICT reads no {elem_type} model input from a table column (its inputs and their columns: "
                f"{pairs}); leave {elem_type} out of input_types: adapting the model casts such an input to one "
                "of those")
    if sql_base_type(sql) in takes:
        return None
    return (f"PREDICT reads a {elem_type} model input only from a {' or '.join(sorted(takes))} column and converts "
            f"nothing, so the input table's {sql} column would fail in the database (\"The type of model column ... "
            f"Doesn't match the input column type\"); map {elem_type} to {sorted(takes)[-1]}, or leave it out of "
            "input_types if the mapping is for outputs only")


def check_sql_type_name(text: object, *, where: str) -> str:
    """Return ``text`` if it is a plain SQL column type (``real``, ``float(53)``, ``nvarchar ( 20 )``).

    Type names are written into generated scripts as they are (a type cannot be quoted), so they
    are held to a closed grammar, T-SQL's for these types: one name from :data:`SQL_TYPE_NAMES` or one of
    its ISO synonyms (``double precision``, ``national character varying``), optionally followed by the
    one size that type takes in parentheses (``float(1)`` to ``float(53)``, ``varchar(1)`` to
    ``varchar(8000)`` or ``varchar(max)``). Nothing else, not even ``NOT NULL``.

    Raises
    ------
    TargetError
        ``text`` is not a string, does not match the grammar, names a type PREDICT does not take, or
        declares a size SQL Server refuses (``float(0)``, ``nvarchar(5000)``, ``int(5)``).

    Examples
    --------
    >>> check_sql_type_name("nvarchar(max)", where="sql_types.string")
    'nvarchar(max)'
    """
    if not isinstance(text, str):
        raise TargetError(
            f"{where} must be a SQL type name (a string such as \"real\"), found {text!r}"
        )
    read = _read_sql_type(text)
    if read is not None and read[0] in _NOT_PREDICT_TYPES:
        raise TargetError(
            f"{where} is {text!r}, which PREDICT does not take as a model column: its ONNX inputs and outputs are "
            "int, bigint, real, float, char, varchar and nvarchar (smallint and tinyint too); CAST the column in "
            "the query instead, e.g. CAST([amount] AS float)"
        )
    if read is None or read[0] not in SQL_TYPE_NAMES:
        raise TargetError(
            f"{where} must be one SQL type name such as \"real\", \"float(53)\" or \"nvarchar(max)\", "
            f"found {text!r}; known names are {sorted(SQL_TYPE_NAMES)} and their ISO synonyms "
            f"{sorted(_SQL_TYPE_SYNONYMS)}"
        )
    if read[2] is not None:
        raise TargetError(f"{where} is {text!r}, which SQL Server refuses: {read[2]}")
    return text


#: Every check a target can ask for, in the order a report lists them.
ALL_CHECKS: tuple[str, ...] = (
    "model_wellformed",
    "opset_within_caps",
    "ir_version_within_caps",
    "operators_supported",
    "operators_exist_at_opset",
    "inputs_element_types",
    "inputs_one_per_column",
    "outputs_tensor_only",
    "outputs_one_value_per_row",
    "outputs_element_types",
    "batch_axis_dynamic",
)


#: A target's checks when it names none: the file is ONNX as the spec says, and onnxruntime loads it.
_DEFAULT_CHECKS = ("model_wellformed", "operators_supported")


def _implied_checks(target: Target) -> tuple[str, ...]:
    """The checks of the rules ``target``'s fields set (a cap, allowed types, a layout...)."""
    implied = []
    if target.max_opset is not None:
        implied += ["opset_within_caps", "operators_exist_at_opset"]
    if target.max_ir_version is not None:
        implied.append("ir_version_within_caps")
    if target.input_types is not None:
        implied.append("inputs_element_types")
    if target.input_layout == "column":
        implied.append("inputs_one_per_column")
    if target.outputs_tensor_only:
        implied.append("outputs_tensor_only")
    if target.outputs_one_per_row:
        implied.append("outputs_one_value_per_row")
    if target.output_types is not None:
        implied.append("outputs_element_types")
    if target.dynamic_batch:
        implied.append("batch_axis_dynamic")
    return tuple(implied)


def _frozen_map(value: Mapping[str, int] | None) -> Mapping[str, int] | None:
    return None if value is None else MappingProxyType(dict(value))


@dataclass(frozen=True)
class Target:
    """A deployment target profile.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"sql-edge-2.0"``.
    description : str
        One line for listings.
    runtime : str
        The onnxruntime the place embeds (``"onnxruntime 1.12.1"``), or ``"installed"``.
    max_opset : mapping of str to int, or None
        Highest opset per domain (``""`` is ai.onnx). ``None``: the installed onnxruntime's limits.
    max_ir_version : int or None
        Highest IR version; ``None``: the installed onnxruntime's limit.
    input_types, output_types : frozenset of str, or None
        Allowed element types (``"float32"``, ``"int64"``, ``"string"``...); ``None`` allows any.
    input_layout : {"column", "free"}
        ``"column"``: every input is one table column, shaped ``[N,1]`` with a dynamic ``N`` (or ``[1,1]``
        for every input: one row per run).
    outputs_tensor_only : bool
        Reject sequence/map outputs (ZipMap).
    outputs_one_per_row : bool
        Every output holds one value per input row (``[N]``, ``[N,1]``, ``N`` the inputs' batch axis).
    dynamic_batch : bool
        Every input and output must have a dynamic first axis.
    allow_nan : bool
        Whether NaN/inf are valid input values there (SQL ``float`` columns cannot hold NaN).
    sql_types : mapping of str to str
        Element type -> SQL type name, for SQL targets.
    sql_dialect : {"sql-edge", "synapse"} or None
        Which database's scripts a SQL package holds (Synapse dedicated pools take no enforced
        PRIMARY KEY and load the model with COPY INTO). A target file's ``base`` passes it on, so
        the dialect follows the target's lineage, never its name; None (a SQL target without a
        base) writes SQL Edge's scripts.
    checks : tuple of str
        The checks that apply, from :data:`ALL_CHECKS`. The check of every rule a field sets
        (``max_opset``, ``input_types``, ``input_layout="column"``...) is added when not named.
    sources : tuple of str
        Where the facts come from.
    """

    name: str
    description: str
    runtime: str = "installed"
    max_opset: Mapping[str, int] | None = None
    max_ir_version: int | None = None
    input_types: frozenset[str] | None = None
    output_types: frozenset[str] | None = None
    input_layout: InputLayout = "free"
    outputs_tensor_only: bool = False
    outputs_one_per_row: bool = False
    dynamic_batch: bool = False
    allow_nan: bool = True
    sql_types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    sql_dialect: Literal["sql-edge", "synapse"] | None = None
    checks: tuple[str, ...] = _DEFAULT_CHECKS
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_opset", _frozen_map(self.max_opset))
        object.__setattr__(self, "sql_types", MappingProxyType(dict(self.sql_types)))
        for attr in ("input_types", "output_types"):
            value = getattr(self, attr)
            if value is not None and not isinstance(value, frozenset):
                object.__setattr__(self, attr, frozenset(value))
        unknown = [c for c in self.checks if c not in ALL_CHECKS]
        if unknown:
            raise TargetError(
                f"target {self.name!r} names unknown checks {unknown}; known checks are {list(ALL_CHECKS)}"
            )
        # a rule the profile states is checked, whether or not ``checks`` names its check: a target file
        # with max_opset and no checks passed every opset before
        wanted = set(self.checks) | set(_implied_checks(self))
        if wanted != set(self.checks):
            object.__setattr__(self, "checks", tuple(c for c in ALL_CHECKS if c in wanted))
        if not self.checks:
            # validated against it, every model passed ("PASSED: 0 checks passed"): a gate that checked nothing
            raise TargetError(
                f"target {self.name!r} checks nothing: its checks are empty and it sets no rule (max_opset, "
                "input_types...) that brings one, so every model would pass it. Name the checks to run from "
                f"{list(ALL_CHECKS)}, or leave checks out for the default {list(_DEFAULT_CHECKS)}"
            )
        for elem_type, sql in self.sql_types.items():
            where = f"target {self.name!r}: sql_types[{elem_type!r}]"
            if elem_type not in SQL_ELEMENT_TYPES:
                raise TargetError(
                    f"{where}: {elem_type!r} is not an element type a SQL column holds; "
                    f"expected one of {sorted(SQL_ELEMENT_TYPES)}"
                )
            check_sql_type_name(sql, where=where)
            # the input table declares this type for an input of elem_type: PREDICT must read it (a target file
            # mapping float32 to float wrote float columns the database refuses, and the dry run passed them)
            is_input = self.input_types is None or elem_type in self.input_types
            problem = _predict_input_problem(elem_type, sql) if self.is_sql and is_input else None
            if problem is not None:
                raise TargetError(f"{where} is {sql!r}: {problem}")
        if self.sql_dialect not in SQL_DIALECTS:
            raise TargetError(
                f"target {self.name!r}: sql_dialect must be one of {list(SQL_DIALECTS)}, found {self.sql_dialect!r}"
            )
        if self.input_layout not in ("column", "free"):
            raise TargetError(
                f"target {self.name!r}: input_layout must be 'column' or 'free', found {self.input_layout!r}"
            )

    @property
    def is_sql(self) -> bool:
        return self.input_layout == "column"

    @property
    def opset(self) -> int | None:
        """The default-domain (ai.onnx) opset cap, or None for the installed runtime's."""
        return None if self.max_opset is None else self.max_opset.get("")

    def effective_max_opset(self) -> dict[str, int]:
        """Caps per domain, with the installed onnxruntime's limits filled in where the target has none."""
        if self.max_opset is not None:
            return dict(self.max_opset)
        return installed_runtime_caps()[0]

    def effective_max_ir(self) -> int:
        return self.max_ir_version if self.max_ir_version is not None else installed_runtime_caps()[1]

    def sql_type(self, elem_type: str) -> str | None:
        return self.sql_types.get(elem_type)

    def with_(self, **changes: Any) -> Target:
        """A copy with some fields changed (``synapse.with_(max_opset={"": 15})``)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def installed_runtime_caps() -> tuple[dict[str, int], int]:
    """(max opset per domain, max IR version) of the installed onnx/onnxruntime pair."""
    import onnx
    import onnxruntime as ort

    ir = int(onnx.IR_VERSION)
    opset = int(onnx.defs.onnx_opset_version())
    ml = max(int(row[3] or 0) for row in onnx.helper.VERSION_TABLE)
    del ort  # imported to fail early if missing; its own caps match the onnx it was built with
    return {"": opset, "ai.onnx.ml": ml}, ir


_SQL_CHECKS = (
    "model_wellformed",
    "opset_within_caps",
    "ir_version_within_caps",
    "operators_supported",
    "operators_exist_at_opset",
    "inputs_element_types",
    "inputs_one_per_column",
    "outputs_tensor_only",
    "outputs_one_value_per_row",
    "outputs_element_types",
)
_SQL_NUMERIC = frozenset({"int32", "int64", "float32", "float64"})
_SQL_SOURCES_EDGE = (
    "Azure SQL Edge release notes (azure-docs articles/azure-sql-edge/release-notes.md): ORT per release",
    "onnxruntime docs/reference/compatibility.md: opset, ai.onnx.ml and IR caps per ORT release",
    "Azure SQL Edge onnx-overview (Limitations): numeric types; one input per table column",
    "predict-transact-sql.md: WITH columns map by name to model outputs",
)

SQL_EDGE_1_0 = Target(
    name="sql-edge-1.0",
    description="Azure SQL Edge 1.0.x T-SQL PREDICT (embedded onnxruntime 1.5.3)",
    runtime="onnxruntime 1.5.3",
    max_opset={"": 12, "ai.onnx.ml": 2},
    max_ir_version=7,
    input_types=_SQL_NUMERIC,
    output_types=_SQL_NUMERIC,
    input_layout="column",
    outputs_tensor_only=True,
    outputs_one_per_row=True,
    allow_nan=False,
    sql_types={k: v for k, v in SQL_TYPES.items() if k in _SQL_NUMERIC},
    checks=_SQL_CHECKS,
    sources=_SQL_SOURCES_EDGE,
    sql_dialect="sql-edge",
)

SQL_EDGE_2_0 = SQL_EDGE_1_0.with_(
    name="sql-edge-2.0",
    description="Azure SQL Edge 2.0 T-SQL PREDICT (embedded onnxruntime 1.12.1)",
    runtime="onnxruntime 1.12.1",
    max_opset={"": 17, "ai.onnx.ml": 3},
    max_ir_version=8,
)

SYNAPSE = SQL_EDGE_1_0.with_(
    name="synapse",
    description=(
        "Azure Synapse dedicated SQL pool T-SQL PREDICT; its onnxruntime is undocumented, so the "
        "SQL Edge 1.0 caps are assumed (override with a target file)"
    ),
    runtime="undocumented (assumed onnxruntime 1.5.x)",
    input_types=_SQL_NUMERIC | {"string"},
    sql_types=dict(SQL_TYPES),
    sql_dialect="synapse",
    sources=(
        "azure-docs synapse-analytics/sql-data-warehouse/sql-data-warehouse-predict.md: input types "
        "int, bigint, real, float, char, varchar, nvarchar; one column per input; RUNTIME = ONNX",
        "The Synapse runtime version is not documented: caps default to SQL Edge 1.0 (opset 12, ml 2, IR 7)",
    ),
)

#: Element types a JSON service carries: the ones numpy holds and JSON writes. Not bfloat16 nor the float8 and
#: int4 types (numpy has none: the service, its package and parity cannot hold them), nor complex (no JSON number).
_SERVED_TYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                           "float16", "float32", "float64", "string"})

CONTAINER = Target(
    name="container",
    description="A container serving the model over HTTP (Azure ML entry-script contract) with the pinned onnxruntime",
    runtime="installed",
    input_types=_SERVED_TYPES,
    output_types=_SERVED_TYPES,
    input_layout="free",
    outputs_tensor_only=True,
    dynamic_batch=True,
    checks=(
        "model_wellformed",
        "opset_within_caps",
        "ir_version_within_caps",
        "operators_supported",
        "outputs_tensor_only",
        "batch_axis_dynamic",
    ),
    sources=(
        "Azure ML entry script contract: init()/run(), JSON request {'data': ...}, JSON-serialisable results",
    ),
)

MLFLOW = CONTAINER.with_(
    name="mlflow",
    description="An MLflow model (onnx flavor + python_function) scored by mlflow.pyfunc with the pinned onnxruntime",
    sources=(
        "MLflow onnx flavor (mlflow.onnx.save_model): the pyfunc wrapper runs onnxruntime on the model's "
        "inputs; a DataFrame maps to inputs by name, or to a single tensor input from all its columns",
        "MLflow model signatures (mlflow.models.ModelSignature): ColSpec columns or TensorSpec tensors",
        "Azure ML entry script contract: the same serving rules as the container target (tensor outputs, "
        "dynamic batch axis)",
    ),
)

ONNXRUNTIME = Target(
    name="onnxruntime",
    description="Any process with the installed onnxruntime",
    runtime="installed",
    checks=("model_wellformed", "opset_within_caps", "ir_version_within_caps", "operators_supported"),
    sources=("the installed onnx and onnxruntime packages",),
)


class _Registry:
    """Targets by name. ``register`` refuses a second registration of a name unless ``overwrite``."""

    def __init__(self) -> None:
        self._targets: dict[str, Target] = {}

    def register(self, target: Target, *, overwrite: bool = False) -> Target:
        if not isinstance(target, Target):
            raise TargetError(f"expected a Target, found {type(target).__name__}")
        if target.name in self._targets and not overwrite:
            raise TargetError(
                f"a target named {target.name!r} is already registered; pass overwrite=True to replace it"
            )
        self._targets[target.name] = target
        return target

    def get(self, name: str) -> Target:
        if not isinstance(name, str):  # a Target is not hashable: get(target) raised TypeError
            raise TargetError(
                f"expected a target name, one of {sorted(self._targets)}, found {type(name).__name__} {name!r}"
                + (f"; pass its name, {name.name!r}" if isinstance(name, Target) else "")
            )
        try:
            return self._targets[name]
        except KeyError:
            raise TargetError(
                f"unknown target {name!r}; known targets are {sorted(self._targets)}. "
                "Define your own with Target(...) or a TOML file (--target-file)."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._targets)


_REGISTRY = _Registry()
for _t in (SQL_EDGE_1_0, SQL_EDGE_2_0, SYNAPSE, CONTAINER, MLFLOW, ONNXRUNTIME):
    _REGISTRY.register(_t)


def names() -> list[str]:
    """Names of the registered targets, sorted."""
    return _REGISTRY.names()


def get(name: str) -> Target:
    """The target registered under ``name``.

    Raises
    ------
    TargetError
        No such target; the message lists the known ones.
    """
    return _REGISTRY.get(name)


def register(target: Target, *, overwrite: bool = False) -> Target:
    """Register a user-defined target so it can be named in ``validate``/``package`` and the CLI."""
    return _REGISTRY.register(target, overwrite=overwrite)


def resolve(target: str | Target | None, default: str | None = "onnxruntime") -> Target | None:
    """A Target from a name, a Target, or None (``default``'s profile, or None when default is None)."""
    if target is None:
        return None if default is None else get(default)
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        return get(target)
    raise TargetError(f"expected a target name or a Target, found {type(target).__name__}")


def resolve_target(target: str | Target | None, default: str = "onnxruntime") -> Target:
    """:func:`resolve` for callers that always need a Target (None stands for ``default``'s)."""
    tgt = resolve(target, default)
    assert tgt is not None  # default is a name: resolve returned its Target or raised
    return tgt


def check_profile_name(name: str, where: str, key: str = "name") -> None:
    """Refuse a target file's profile name that would read as a built-in target's in its reports (the
    same letters in another case, with spaces around or invisible characters), or that is not printable
    text on one line (it names the JUnit test suite and the console header).

    Raises
    ------
    TargetError
    """
    if not name.strip() or not name.isprintable():  # control, format (zero-width) and unassigned characters
        raise TargetError(f"target file {where!r}: {key} must be printable text on one line (it names the JUnit "
                          f"test suite and the console header), found {name!r}")
    if name.strip().casefold() in {n.casefold() for n in names()}:
        # its reports would say the built-in target passed: the file's rules are not the built-in's
        raise TargetError(f"target file {where!r}: {key} must be a name of its own, not a built-in target's "
                          f"(leave it out to be called <base>+<file name>), found {name!r}")


#: Each target file field as a line of TOML, for messages refusing a value of the wrong type.
_TOML_EXAMPLES: Mapping[str, str] = MappingProxyType({
    "name": 'name = "edge-at-15"',
    "description": 'description = "SQL Edge with onnxruntime 1.12"',
    "runtime": 'runtime = "onnxruntime 1.12.1"',
    "base": 'base = "sql-edge-2.0"',
    "max_opset": 'max_opset = { "" = 15, "ai.onnx.ml" = 3 }',
    "max_ir_version": "max_ir_version = 8",
    "input_types": 'input_types = ["float32", "int64"]',
    "output_types": 'output_types = ["float32", "int64"]',
    "checks": 'checks = ["model_wellformed", "opset_within_caps"]',
    "sources": 'sources = ["https://learn.microsoft.com/..."]',
    "input_layout": 'input_layout = "column"',
    "sql_dialect": 'sql_dialect = "synapse"',
    "sql_types": 'sql_types = { float64 = "float" }',
    **{key: f"{key} = true" for key in ("outputs_tensor_only", "outputs_one_per_row", "dynamic_batch", "allow_nan")},
})
#: What each list field of a target file holds, for messages.
_LIST_ITEMS: Mapping[str, str] = MappingProxyType({"input_types": "an element type", "output_types": "an element type",
                                                   "checks": "a check"})
#: The element type names a target's input_types and output_types may hold (onnxgate's names of ONNX's types).
_ELEMENT_TYPE_NAMES: frozenset[str] = frozenset(
    name for name in map(elem_type_name, range(1, 64)) if not name.startswith("elem"))
#: What a target file looks like, for messages about a file that is none.
_TOML_SHAPE = 'one field = value per line, e.g. base = "sql-edge-2.0" then max_opset = { "" = 15 }'


def _did_you_mean(word: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to a misspelt ``word``, else ``""``."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_toml_types(table: Mapping[str, Any], where: str) -> None:
    """Name the field and the expected TOML type instead of failing deep inside :class:`Target`."""

    def bad(key: str, expected: str) -> TargetError:
        return TargetError(f"target file {where!r}: {key} must be {expected}, found {table[key]!r}; write it as, "
                           f"e.g., {_TOML_EXAMPLES.get(key, key + ' = ...')} (or leave {key} out)")

    def positive_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    if "max_opset" in table and not (
        isinstance(table["max_opset"], dict)
        and all(isinstance(k, str) and positive_int(v) for k, v in table["max_opset"].items())
    ):
        raise bad("max_opset", "a table of domain = opset (1 or more)")
    if "max_ir_version" in table and not positive_int(table["max_ir_version"]):
        raise bad("max_ir_version", "a positive integer")
    for key in ("input_types", "output_types", "checks", "sources"):
        if key in table and not (isinstance(table[key], list) and all(isinstance(v, str) for v in table[key])):
            raise bad(key, "a list of strings")
    for key, known in (("input_types", _ELEMENT_TYPE_NAMES), ("output_types", _ELEMENT_TYPE_NAMES),
                       ("checks", ALL_CHECKS)):
        unknown = [v for v in table.get(key, ()) if v not in known]
        if unknown:  # input_types = ["floaty"] was taken, and then refused every model's float32 input
            raise TargetError(
                f"target file {where!r}: {key} names {', '.join(map(repr, unknown))}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not {_LIST_ITEMS[key]}{_did_you_mean(unknown[0], known)}; "
                f"expected names from {sorted(known) if key != 'checks' else list(known)}: correct or remove "
                f"{'it' if len(unknown) == 1 else 'them'}"
            )
    for key in ("name", "description", "runtime", "base"):
        if key in table and not isinstance(table[key], str):
            raise bad(key, "a string")
    name = table.get("name")
    if isinstance(name, str):
        check_profile_name(name, where, "name")
    for key in ("outputs_tensor_only", "outputs_one_per_row", "dynamic_batch", "allow_nan"):
        if key in table and not isinstance(table[key], bool):
            raise bad(key, "true or false (a TOML boolean, without quotes)")
    if "input_layout" in table and table["input_layout"] not in ("column", "free"):
        raise bad("input_layout", '"column" or "free"')
    if "sql_dialect" in table and table["sql_dialect"] not in SQL_DIALECTS[1:]:
        raise bad("sql_dialect", '"sql-edge" or "synapse"')
    if "sql_types" in table:
        sql_types = table["sql_types"]
        if not isinstance(sql_types, dict):
            raise bad("sql_types", "a table of element type = SQL type")
        for elem_type, sql in sql_types.items():
            if elem_type not in SQL_ELEMENT_TYPES:
                raise TargetError(
                    f"target file {where!r}: sql_types has the key {elem_type!r}, which is not an element "
                    f"type a SQL column holds{_did_you_mean(elem_type, SQL_ELEMENT_TYPES)}; expected keys from "
                    f"{sorted(SQL_ELEMENT_TYPES)}: correct or remove it"
                )
            check_sql_type_name(sql, where=f"target file {where!r}: sql_types.{elem_type}")


def from_toml(path: str | os.PathLike[str]) -> Target:
    """Read a target from a TOML file.

    The file holds a ``[target]`` table (or top-level keys) with the :class:`Target` fields. It may
    name a registered target in ``base`` and change only some fields (``max_opset`` and ``sql_types``
    change the domains and types they name and keep the base's others; without a ``name`` the profile
    is called ``<base>+<file stem>``, so its reports never read as the built-in target's)::

        [target]
        base = "synapse"
        name = "synapse-ort-1.12"
        max_opset = { "" = 17, "ai.onnx.ml" = 3 }
        max_ir_version = 8

    Raises
    ------
    TargetError
        The file is missing, not TOML, or has unknown fields or wrong values.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    from onnxgate._files import read_regular_file

    if not isinstance(path, (str, os.PathLike)):
        raise TargetError(f"expected the target file's path (str or os.PathLike), found {path!r}")
    if os.path.isdir(path):
        raise TargetError(f"target file {os.fspath(path)!r} is a folder; give a .toml file")
    raw = read_regular_file(path, what="target file", error=TargetError, config=True)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise TargetError(f"target file {os.fspath(path)!r} is not UTF-8 text: {err.reason}; a target file is TOML: "
                          "save it as UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        json = str(path).lower().endswith(".json") or (raw.lstrip()[:1] in (b"{", b"[") and b'":' in raw)
        raise TargetError(
            f"target file {os.fspath(path)!r} is not valid TOML: {err}. "
            + ("It looks like JSON: a target file is TOML, " if json else "Fix that line; a target file is TOML, ")
            + f"{_TOML_SHAPE} (see docs/concepts/targets.md)"
        ) from err
    except RecursionError:
        raise TargetError(
            f"target file {os.fspath(path)!r} nests tables or arrays too deeply to read; a target file "
            "needs two levels at most"
        ) from None
    table = data.get("target", data)
    beside = sorted(set(data) - {"target"}) if "target" in data else []
    if beside:  # read as nothing: a second table, or a field above the [target] line
        raise TargetError(
            f"target file {os.fspath(path)!r} has {', '.join(map(repr, beside))} beside its [target] table, which "
            "onnxgate does not read; move the fields under the [target] line (before any other [table] line), or "
            "remove them"
        )
    if not isinstance(table, dict):
        raise TargetError(f"target file {os.fspath(path)!r}: 'target' must be a table, found {table!r}; write the "
                          f"fields under a [target] line, {_TOML_SHAPE}")
    table = dict(table)
    _check_toml_types(table, os.fspath(path))
    base_name = table.pop("base", None)
    known = {f.name for f in fields(Target)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise TargetError(
            f"target file {os.fspath(path)!r} has unknown fields {unknown}"
            f"{_did_you_mean(unknown[0], known | {'base'})}; known fields are {sorted(known | {'base'})}: correct "
            "or remove them"
        )
    for key in ("input_types", "output_types"):
        if key in table and table[key] is not None:
            table[key] = frozenset(table[key])
    if "checks" in table:
        if not table["checks"]:
            # the base's checks (or the default ones) silently dropped: with no rule of the file's own left, every
            # model passed ("PASSED: 0 checks passed, 1 skipped", exit 0)
            kept = (f"the checks of base {base_name!r}, {list(get(str(base_name)).checks)}" if base_name is not None
                    else f"the default checks, {list(_DEFAULT_CHECKS)}")
            raise TargetError(
                f"target file {os.fspath(path)!r}: checks = [] names no check, so the target would leave the model "
                f"unchecked. List the checks to run (from {list(ALL_CHECKS)}), or leave checks out to run {kept}"
            )
        table["checks"] = tuple(table["checks"])
    if "sources" in table:
        table["sources"] = tuple(table["sources"])
    else:
        table["sources"] = (f"user target file {os.fspath(path)}",)
    try:
        if base_name is not None:
            if base_name not in names():
                raise TargetError(
                    f"target file {os.fspath(path)!r}: base = {base_name!r} is no known target"
                    f"{_did_you_mean(base_name, names())}; give base one of {names()}, or leave base out and "
                    "give name and the fields yourself"
                )
            base = get(str(base_name))
            for key in ("max_opset", "sql_types"):  # a table names what changes; the base's other keys stay
                if key in table and getattr(base, key) is not None:
                    table[key] = {**getattr(base, key), **table[key]}
            # a report of this profile must not read as the built-in target's
            table.setdefault("name", f"{base.name}+{Path(path).stem}")
            check_profile_name(table["name"], os.fspath(path), "the name made from the file's name")
            return base.with_(**table)
        if "name" not in table:
            raise TargetError(
                f"target file {os.fspath(path)!r} needs a 'name' (or a 'base' to start from), found neither; add "
                f'name = "my-target" for a target of its own, or base = "sql-edge-2.0" (one of {names()}) to change '
                "a built-in one"
            )
        table.setdefault("description", f"user target from {os.fspath(path)}")
        return Target(**table)
    except TypeError as err:
        raise TargetError(f"target file {os.fspath(path)!r}: {err}") from err

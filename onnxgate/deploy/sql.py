"""T-SQL packages for ``PREDICT`` on Azure SQL Edge and Azure Synapse.

A package is a folder with the model, a manifest and numbered scripts run in order (see the README
it contains). Everything user-controlled that reaches SQL goes through :func:`quote_ident`
(``[name]`` with ``]`` doubled) or :func:`quote_string` (``N'text'`` with ``'`` doubled), so a
model or column called ``x]; DROP TABLE models;--`` stays one identifier.

Facts behind the scripts (``shared/research/targets.md``): ``RUNTIME = ONNX`` is required on SQL Edge
and Synapse (A.1); models live in ``varbinary(max)`` (A.2); Synapse loads the model as a hex string
with ``COPY INTO`` into a ``ROUND_ROBIN, HEAP`` table (A.2, A.7); input column types must equal the
model input types, there is no implicit conversion (A.4); ``WITH`` columns map to outputs by name
(A.5).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate._onnx import sha256_of, write_folder_atomically
from onnxgate.conversion import Conversion
from onnxgate.errors import InvalidModelError, PackagingError, ValidationFailedError
from onnxgate.sql_rules import SQL_IDENTIFIER_MAX, sql_name_problem
from onnxgate.targets import check_sql_type_name

if TYPE_CHECKING:
    import onnx

    from onnxgate.signature import Signature
    from onnxgate.targets import Target

__all__ = [
    "CODES_FILES",
    "HEX_INSERT_LIMIT_BYTES",
    "LABELS_FILES",
    "PACKAGE_FILES",
    "SCRIPT_FILES",
    "TEXT_LABELS_FILE",
    "CodedColumn",
    "LabelledOutput",
    "SqlPackageOptions",
    "coded_text_inputs",
    "labelled_outputs",
    "package_sql",
    "quote_ident",
    "quote_string",
    "render_scripts",
    "text_value",
]

#: Largest model written as a hex literal into ``02_insert_model.sql``. Above it the script is 2x the
#: model size in text and SSMS/sqlcmd become slow or fail on the batch; ``load_model.py`` inserts it
#: as a parameter instead.
HEX_INSERT_LIMIT_BYTES = 8 * 1024 * 1024
#: Environment variable ``load_model.py`` reads the ODBC connection string from.
CONNECTION_ENV_VAR = "ONNXGATE_SQL_CONNECTION"
#: Longest identifier SQL Server accepts (sysname is nvarchar(128)).
MAX_IDENTIFIER_LENGTH = SQL_IDENTIFIER_MAX

SCRIPT_FILES = (
    "01_create_model_table.sql",
    "02_insert_model.sql",
    "03_create_input_table.sql",
    "04_predict.sql",
)
SYNAPSE_FILES = ("05_copy_into_model.sql", "model.hex")
#: The scripts of a model that reads text categories as their codes (:func:`coded_text_inputs`): the code of each
#: category, and the query that scores rows holding the texts through them.
CODES_FILES = ("06_create_category_codes.sql", "07_predict_from_text.sql")
#: The scripts of a model that returns a classifier's text labels as the codes of its classes
#: (:func:`labelled_outputs`): the text label of each code, and the query that returns the text labels.
LABELS_FILES = ("08_create_class_labels.sql", "09_predict_labels.sql")
#: The script of a model that does both (:data:`CODES_FILES` and :data:`LABELS_FILES`): the rows' texts in, each joined
#: to its code as 07 does, and the text labels out, each code joined to its label as 09 does.
TEXT_LABELS_FILE = "10_predict_labels_from_text.sql"
#: Every file a SQL package may hold (Synapse's two only for that target): :func:`onnxgate.api.package`
#: refuses to write them over an input file (a test checks the list against the files written).
PACKAGE_FILES = ("model.onnx", "manifest.json", "load_model.py", "README.md", *SCRIPT_FILES, *SYNAPSE_FILES,
                 *CODES_FILES, *LABELS_FILES, TEXT_LABELS_FILE)


#: What sqlcmd and SSMS act on even inside a quoted name or string: a line holding only ``GO`` ends
#: the batch, and ``$(name)`` is a scripting variable. No line break or other control character, and
#: no ``$(``, may reach a script.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]|\\$\\(")

#: The package's files that put the model in the database; the dry run refuses a package where one was edited.
MODEL_SCRIPTS = ("02_insert_model.sql", "05_copy_into_model.sql", "model.hex")


def _sql_length(text: str) -> int:
    """``text``'s length as SQL Server counts it, in UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _refuse_unsafe(text: str, what: str) -> None:
    found = _UNSAFE.search(text)
    if found is None:
        return
    hit = found.group()
    shown = "'$('" if hit == "$(" else f"a control character ({hit!r})"
    raise PackagingError(
        f"{what} {text!r} holds {shown}: sqlcmd and SSMS end a batch at a line 'GO' and read '$(name)' as a "
        "variable even inside a quoted name or string, so the script could run other statements. Give a name "
        "without line breaks, control characters or '$('"
    )


def quote_ident(name: str) -> str:
    """A T-SQL delimited identifier: ``[name]`` with every ``]`` doubled.

    Raises
    ------
    PackagingError
        Empty, longer than 128 characters, or containing a NUL character, a line break or another
        control character, or ``$(`` (see :data:`_UNSAFE`).

    Examples
    --------
    >>> quote_ident("x]; DROP TABLE models;--")
    '[x]]; DROP TABLE models;--]'
    """
    text = str(name)
    if not text or _sql_length(text) > MAX_IDENTIFIER_LENGTH or "\x00" in text:
        raise PackagingError(
            f"expected a SQL identifier of 1 to {MAX_IDENTIFIER_LENGTH} characters (UTF-16 code units) without "
            f"NUL, found {text!r}"
        )
    _refuse_unsafe(text, "the SQL identifier")
    return "[" + text.replace("]", "]]") + "]"


def quote_string(text: str) -> str:
    """A T-SQL Unicode string literal: ``N'text'`` with every ``'`` doubled.

    Examples
    --------
    >>> quote_string("it's")
    "N'it''s'"
    """
    value = str(text)
    if "\x00" in value:
        raise PackagingError(f"expected text without NUL characters, found {value!r}")
    _refuse_unsafe(value, "the SQL string")
    return "N'" + value.replace("'", "''") + "'"


#: The characters :func:`text_value` writes as ``NCHAR(n)`` outside any literal: those :data:`_UNSAFE` refuses.
_UNSAFE_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Most arguments T-SQL's ``CONCAT`` takes; :func:`text_value` nests calls beyond it.
CONCAT_MAX_ARGS = 254


def text_value(text: str) -> str:
    """A T-SQL expression of the ``nvarchar`` value ``text``, whatever it holds: :func:`quote_string`'s ``N'text'``
    where that is safe, else ``CONCAT`` of such literals and ``NCHAR(n)`` for each line break, NUL or other control
    character, with ``$(`` split between two literals, so no script line holds what sqlcmd or SSMS act on (a line
    ``GO``, ``$(name)``). A value over 4,000 UTF-16 units starts each ``CONCAT`` with an ``nvarchar(max)``: CONCAT
    of shorter pieces would cut it at 4,000 without a word. For data values (a classifier's labels, categories);
    a name the user gives is refused by :func:`quote_string` instead.

    Examples
    --------
    >>> text_value("it's")
    "N'it''s'"
    >>> text_value("two\\nlines $(x)")
    "CONCAT(N'two', NCHAR(10), N'lines $', N'(x)')"
    """
    value = str(text)
    if _UNSAFE.search(value) is None:
        return "N'" + value.replace("'", "''") + "'"
    pieces: list[str] = []
    for part in re.split("(" + _UNSAFE_CHAR.pattern + ")", value):
        if not part:
            continue
        if _UNSAFE_CHAR.fullmatch(part):
            pieces.append(f"NCHAR({ord(part)})")
        else:
            pieces.extend("N'" + chunk.replace("'", "''") + "'" for chunk in re.split(r"(?<=\$)(?=\()", part))
    first = ["CAST(N'' AS nvarchar(max))"] if _sql_length(value) > NVARCHAR_MAX_LENGTH else []
    while len(pieces) > 1:
        size = CONCAT_MAX_ARGS - len(first)
        pieces = [f"CONCAT({', '.join(first + pieces[i:i + size])})" if len(pieces[i:i + size]) > 1 or first
                  else pieces[i] for i in range(0, len(pieces), size)]
    return pieces[0] if len(first) == 0 or pieces[0].startswith("CONCAT(") else f"CONCAT({first[0]}, {pieces[0]})"


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


#: Options :func:`package_sql` takes itself, beside the names of :class:`SqlPackageOptions`.
PACKAGE_SQL_OPTIONS = ("adapt", "columns", "column_types", "hex_limit", "search", "seed")


@dataclass(frozen=True)
class SqlPackageOptions:
    """Names used by the scripts. Every one is quoted where it is used, so any text is safe."""

    schema: str = "dbo"
    model_table: str = "models"
    input_table: str = ""
    model_name: str = "model"
    model_version: str = "1"
    description: str = ""

    @classmethod
    def from_options(cls, model: Any, options: Mapping[str, Any], *, synapse: bool = False) -> SqlPackageOptions:
        """The options, each checked as the scripts will use it (``synapse``: the model table's staging
        table, ``<model_table>_staging``, must be a name too)."""
        known = {"schema", "model_table", "input_table", "model_name", "model_version", "description"}
        unknown = sorted(set(options) - known)
        if unknown:
            # package_sql took its own options out first: the message lists them too
            raise PackagingError(f"unknown SQL package options {unknown}; known options are "
                                 f"{sorted(known | set(PACKAGE_SQL_OPTIONS))}")
        # the file's graph name is only a default: what a script cannot hold is dropped from it
        default = " ".join(_UNSAFE.sub(" ", model.graph.name or "").split()) or "model"
        name = options.get("model_name") or default
        values = {k: str(v) for k, v in options.items() if v is not None}
        values_given = set(values)
        values["model_name"] = str(name)
        values.setdefault("input_table", f"{name}_input")
        values.setdefault("description", f"{name} (ONNX, packaged by onnxgate)")
        opts = cls(**values)
        for flag, text, column, size in (("model_name (--model-name)", opts.model_name, "name", 256),
                                         ("model_version (--model-version)", opts.model_version, "version", 64),
                                         ("description (--description)", opts.description, "description", 1000)):
            quote_string(text)
            if _sql_length(text) > size:
                raise PackagingError(
                    f"{flag}: {_sql_length(text)} characters (UTF-16 code units, as SQL Server counts them) do not "
                    f"fit the models table's [{column}] nvarchar({size}) column (SQL Server would refuse the insert "
                    f"as truncated); give at most {size}"
                )
        for flag, ident in (("schema (--schema)", opts.schema), ("model_table (--model-table)", opts.model_table),
                            ("input_table (--input-table)", opts.input_table)):
            try:
                quote_ident(ident)  # fail early on an impossible identifier
            except PackagingError as err:
                raise PackagingError(f"{flag}: {err}" + (
                    " (the default, made from the model name: give one with --input-table)"
                    if flag.startswith("input_table") and "input_table" not in values_given else "")) from None
        length = _sql_length(opts.model_table)
        if synapse and length + len("_staging") > MAX_IDENTIFIER_LENGTH:
            # refused before validation, naming the option (it failed after, naming a table the user never typed)
            raise PackagingError(
                f"model_table (--model-table): {length} characters (UTF-16 code units); on "
                f"synapse the scripts also create {opts.model_table[:20]}..._staging for COPY INTO, and a SQL "
                f"identifier holds at most {MAX_IDENTIFIER_LENGTH} characters: give at most "
                f"{MAX_IDENTIFIER_LENGTH - len('_staging')}"
            )
        return opts


#: The collation the text query compares a text with the categories in: binary, so 'Red' is not 'red', as the model
#: reads them (the database's default, ``SQL_Latin1_General_CP1_CI_AS``, ignores case and accents).
CODES_COLLATION = "Latin1_General_100_BIN2"
#: Longest ``nvarchar(n)`` a category column is declared as; a longer category makes it ``nvarchar(max)``.
NVARCHAR_MAX_LENGTH = 4000


@dataclass(frozen=True)
class CodedColumn:
    """An input that reads a text category column as its codes (:attr:`onnxgate.signature.TensorSpec.codes`), as
    a SQL package gives it a table of them: ``input`` the input (a table column), ``categories`` the model's, in code
    order (category ``i`` is code ``i``), ``table`` the lookup table's name, ``unknown`` the code a text none of the
    categories is fed as: -1 where the model reads an unknown category as a missing one (-1 is pandas' code of a
    missing value), else None (the query gives NULL: the model does not read it as missing); ``missing_refused``
    where the model refuses a missing value too (:attr:`onnxgate.signature.TensorSpec.missing_refused`): a NULL
    text's -1 makes PREDICT fail, so the scripts and README say to keep such rows out."""

    input: str
    categories: tuple[Any, ...]
    table: str
    unknown: int | None
    missing_refused: bool = False

    @property
    def sql_type(self) -> str | None:
        """The SQL type of the categories where they are numbers (``bigint`` for whole ones, else ``float``): the
        table of codes holds them, joined to the rows' values; None for text categories."""
        if all(isinstance(c, str) for c in self.categories):
            return None
        return "bigint" if all(float(c).is_integer() for c in self.categories) else "float"

    def literal(self, category: Any) -> str:
        """``category`` as a T-SQL literal of its type."""
        if self.sql_type is None:
            return text_value(category)
        return str(int(category)) if self.sql_type == "bigint" else repr(float(category))


def coded_text_inputs(signature: Signature, opts: SqlPackageOptions) -> list[CodedColumn]:
    """The inputs of ``signature`` that read one text category column as its codes, each with the lookup table a
    SQL package writes for it (``<model_name>_<input>_codes``; ``<model_name>_<position>_codes`` where that is longer
    than an identifier may be)."""
    out = []
    for position, spec in enumerate(signature.inputs):
        codes = list(spec.codes or ())
        if len(codes) != 1 or codes[0][0] != 0 or not codes[0][1] or tuple(spec.shape or ())[1:] not in ((), (1,)):
            continue
        categories = tuple(codes[0][1])
        numbers = all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in categories)
        if not numbers and not all(isinstance(c, str) for c in categories):
            continue
        # number categories (XGBoost's pandas category column of 7, 11, 23): the input reads their codes (0, 1, 2),
        # not the values a table holds, so they get a table of codes too
        table = f"{opts.model_name}_{spec.name}_codes"
        if _sql_length(table) > MAX_IDENTIFIER_LENGTH:
            table = f"{opts.model_name[:MAX_IDENTIFIER_LENGTH // 2]}_{position}_codes"
        out.append(CodedColumn(spec.name, categories, table, -1 if spec.unseen_missing else None,
                               spec.missing_refused))
    return out


def _null_refused(what: str) -> str:
    """What the scripts say of a NULL ``what`` (text, value) in a column whose model refuses a missing value."""
    return (f"a NULL {what} is -1, which the model refuses (a OneHotEncoder with handle_unknown='error' fitted "
            "without missing values): PREDICT fails on it, so keep rows with a NULL out or fill them with a category")


def _codes_scripts(signature: Signature, target: Target, opts: SqlPackageOptions, coded: list[CodedColumn],
                   model_select: str, with_cols: str) -> tuple[dict[str, str], str]:
    """``06_create_category_codes.sql`` (a table of the codes of each coded input's categories, and the table of rows
    holding the texts) and ``07_predict_from_text.sql`` (PREDICT over those rows, each text joined to its code); and
    07's head, up to its ``[coded]`` rows, which ``10_predict_labels_from_text.sql`` scores too."""
    synapse = target.sql_dialect == "synapse"
    layout = "\nWITH (DISTRIBUTION = REPLICATE, HEAP)" if synapse else ""  # Synapse: no enforced PRIMARY KEY
    text_table = qualified(opts.schema, f"{opts.input_table}_text")
    by_input = {c.input: c for c in coded}
    parts = []
    for column in coded:
        table = qualified(opts.schema, column.table)
        if column.sql_type is None:
            longest = max(1, *(_sql_length(c) for c in column.categories))
            width = str(longest) if longest <= NVARCHAR_MAX_LENGTH else "max"
            category_type = f"nvarchar({width}) COLLATE {CODES_COLLATION}"
        else:
            category_type = column.sql_type
        what = "text" if column.sql_type is None else "value"
        said = (f"a {what} none of them: -1 too (the model reads a category it was not fitted on as it reads a "
                "missing value)" if column.unknown is not None else
                f"a {what} none of them: NULL, since the model does not read an unknown category as a missing "
                "value; keep such rows out")
        null = (_null_refused(what) if column.missing_refused else f"a NULL {what} is -1")
        parts.append(
            f"-- {_comment(column.input)}: code i is category i (the model's order); {null}; {said}.\n"
            f"CREATE TABLE {table} (\n"
            f"    [code] int NOT NULL{'' if synapse else ' PRIMARY KEY'},\n"
            f"    [category] {category_type} NOT NULL\n)" + layout + ";\n"
            + "".join(f"INSERT INTO {table} ([code], [category]) VALUES ({i}, {column.literal(c)});\n"
                      for i, c in enumerate(column.categories)))
    text_columns = ",\n".join(
        f"    {quote_ident(spec.name)} "
        + (f"{by_input[spec.name].sql_type or 'nvarchar(max)'} NULL" if spec.name in by_input
           else f"{_sql_type(target, spec.elem_type, f'input {spec.name!r}')} NOT NULL")
        for spec in signature.inputs)
    parts.append(
        "-- The rows to score with their categories as text (03's table with each coded column as nvarchar): load "
        "them here,\n-- or point 07_predict_from_text.sql at your own table.\n"
        f"CREATE TABLE {text_table} (\n{text_columns}\n)" + ("\nWITH (DISTRIBUTION = ROUND_ROBIN, HEAP)"
                                                             if synapse else "") + ";\n")
    files = {"06_create_category_codes.sql": _header(
        target, "Creates the code of each category of the columns the model reads as codes, and a table for rows "
        "holding the texts.") + "\n".join(parts)}

    selects, joins = [], []
    for position, spec in enumerate(signature.inputs):
        name = quote_ident(spec.name)
        found = by_input.get(spec.name)
        if found is None:
            selects.append(f"t.{name}")
            continue
        column = found
        alias = f"c{position}"
        text = f"CAST(t.{name} AS nvarchar(max))"
        if column.sql_type is not None:  # number categories: joined by value
            joins.append(f"LEFT JOIN {qualified(opts.schema, column.table)} AS {alias}\n"
                         f"    ON {alias}.[category] = t.{name}")
        else:
            joins.append(f"LEFT JOIN {qualified(opts.schema, column.table)} AS {alias}\n"
                         f"    ON {alias}.[category] = {text} COLLATE {CODES_COLLATION}\n"
                         f"    AND DATALENGTH({alias}.[category]) = DATALENGTH({text})")  # 'red ' is not 'red'
        code = (f"COALESCE({alias}.[code], -1)" if column.unknown is not None
                else f"CASE WHEN t.{name} IS NULL THEN -1 ELSE {alias}.[code] END")
        selects.append(f"{code} AS {name}")
    notes = "".join(
        f"-- {_comment(c.input)}: "
        + (f"a NULL and a {'text' if c.sql_type is None else 'value'} none of the categories are -1: the model "
           "reads a category it was not fitted on as it reads a missing value.\n" if c.unknown is not None else
           ("a NULL is -1; " if not c.missing_refused
            else _null_refused("text" if c.sql_type is None else "value") + "; ")
           + f"a {'text' if c.sql_type is None else 'value'} none of the categories is NULL: the model does not read "
           "an unknown category as a "
           "missing value (its encoder learnt a missing category, or refuses an unknown one), so keep such rows out.\n")
        for c in coded)
    coded_rows = (
        f"{model_select}\n"
        f"{notes}"
        "WITH [coded] AS (\n"
        "    SELECT " + ",\n        ".join(selects) + "\n"
        f"    FROM {text_table} AS t\n"
        + "".join(f"    {j.replace(chr(10), chr(10) + '    ')}\n" for j in joins)
        + ")\n")
    query = (coded_rows
             + "SELECT d.*, p.*\n"
             "FROM PREDICT(MODEL = @model, DATA = [coded] AS d, RUNTIME = ONNX)\n"
             f"WITH (\n    {with_cols}\n) AS p;\n")
    files["07_predict_from_text.sql"] = _header(
        target, "Scores the rows of the text table, each category text joined to its code.") + query
    return files, coded_rows


@dataclass(frozen=True)
class LabelledOutput:
    """An output that returns a classifier's text labels as the codes of its classes
    (:attr:`onnxgate.signature.TensorSpec.labels`), as a SQL package gives it a table of them: ``output`` the output
    (a ``WITH`` column), ``labels`` the text of each code (code ``i`` is ``labels[i]``), ``table`` the table's name."""

    output: str
    labels: tuple[str, ...]
    table: str


def labelled_outputs(signature: Signature, opts: SqlPackageOptions) -> list[LabelledOutput]:
    """The outputs of ``signature`` that return text labels as codes, each with the table of its labels a SQL
    package writes (``<model_name>_<output>_classes``; ``<model_name>_<position>_classes`` where that is longer
    than an identifier may be)."""
    out = []
    for position, spec in enumerate(signature.outputs):
        if not spec.labels:
            continue
        table = f"{opts.model_name}_{spec.name}_classes"
        if _sql_length(table) > MAX_IDENTIFIER_LENGTH:
            table = f"{opts.model_name[:MAX_IDENTIFIER_LENGTH // 2]}_{position}_classes"
        out.append(LabelledOutput(spec.name, tuple(spec.labels), table))
    return out


def _labels_scripts(signature: Signature, target: Target, opts: SqlPackageOptions, labelled: list[LabelledOutput],
                    model_select: str, with_cols: str) -> dict[str, str]:
    """``08_create_class_labels.sql`` (a table of the text label of each code of each labelled output) and
    ``09_predict_labels.sql`` (``04_predict.sql``'s query with each such output's code joined to its text label)."""
    synapse = target.sql_dialect == "synapse"
    layout = "\nWITH (DISTRIBUTION = REPLICATE, HEAP)" if synapse else ""  # Synapse: no enforced PRIMARY KEY
    parts = []
    for item in labelled:
        longest = max(1, *(_sql_length(c) for c in item.labels))
        width = str(longest) if longest <= NVARCHAR_MAX_LENGTH else "max"
        table = qualified(opts.schema, item.table)
        parts.append(
            f"-- {_comment(item.output)}: code i is class i (the classifier's classes_, the order of its probability "
            "columns).\n"
            f"CREATE TABLE {table} (\n"
            f"    [code] int NOT NULL{'' if synapse else ' PRIMARY KEY'},\n"
            f"    [class] nvarchar({width}) COLLATE {CODES_COLLATION} NOT NULL\n)" + layout + ";\n"
            + "".join(f"INSERT INTO {table} ([code], [class]) VALUES ({i}, {text_value(c)});\n"
                      for i, c in enumerate(item.labels)))
    files = {"08_create_class_labels.sql": _header(
        target, "Creates the text label of each class code the model returns.") + "\n".join(parts)}
    inputs = qualified(opts.schema, opts.input_table)
    files["09_predict_labels.sql"] = _header(
        target, "Scores every row of the input table, each class code joined to its text label.") + (
        f"{model_select}\n" + _labels_query(signature, opts, labelled, f"{inputs} AS d", with_cols))
    return files


def _labels_query(signature: Signature, opts: SqlPackageOptions, labelled: list[LabelledOutput], data: str,
                  with_cols: str) -> str:
    """``SELECT`` of PREDICT over ``data`` (``<table> AS d``) with each labelled output's code joined to its text
    label, under the output's name: the query of ``09_predict_labels.sql`` and ``10_predict_labels_from_text.sql``."""
    by_output = {item.output: (f"c{k}", item) for k, item in enumerate(labelled)}
    selects = ["d.*"]
    joins = []
    for spec in signature.outputs:
        name = quote_ident(spec.name)
        found = by_output.get(spec.name)
        if found is None:
            selects.append(f"p.{name}")
            continue
        alias, item = found
        selects.append(f"{alias}.[class] AS {name}")
        joins.append(f"LEFT JOIN {qualified(opts.schema, item.table)} AS {alias} ON {alias}.[code] = p.{name}\n")
    return ("SELECT " + ",\n    ".join(selects) + "\n"
            f"FROM PREDICT(MODEL = @model, DATA = {data}, RUNTIME = ONNX)\n"
            f"WITH (\n    {with_cols}\n) AS p\n" + "".join(joins).rstrip("\n") + ";\n")


def _comment(text: str) -> str:
    """``text`` as it may stand in a one-line comment."""
    return " ".join(str(text).split())


def _sql_type(target: Target, elem_type: str, what: str) -> str:
    sql = target.sql_type(elem_type)
    if sql is None:
        raise PackagingError(
            f"{what} is {elem_type}, which has no SQL type on target {target.name!r}; "
            f"types with one: {sorted(target.sql_types)}"
        )
    # A type name cannot be quoted: hold it to the grammar here too, whatever built the target.
    return check_sql_type_name(sql, where=f"target {target.name!r}: sql_types[{elem_type!r}]")


def _header(target: Target, purpose: str) -> str:
    from onnxgate import __version__

    # A user target's name could hold a line break; a comment must stay one line.
    about = " ".join(f"{target.name} ({target.runtime})".split())
    return f"-- {purpose}\n-- Generated by onnxgate {__version__} for target {about}.\n"


def render_scripts(
    model_bytes: bytes,
    signature: Signature,
    target: Target,
    opts: SqlPackageOptions,
    *,
    hex_limit: int = HEX_INSERT_LIMIT_BYTES,
    parity: str = "",
) -> dict[str, str]:
    """The text of every script and helper file of a SQL package (file name -> content).

    Parameters
    ----------
    model_bytes : bytes
        The serialized model, written into the insert script when it is at most ``hex_limit`` bytes.
    signature : Signature
        The model's inputs and outputs (already one column each).
    target : Target
        A SQL target; ``synapse`` adds the ``COPY INTO`` files.
    opts : SqlPackageOptions
    hex_limit : int
        Largest model inlined as a hex literal.
    parity : str
        What the README says about prediction parity (:func:`onnxgate.deploy.manifest.parity_sentence`).

    Returns
    -------
    dict of str to str

    Raises
    ------
    PackagingError
        An input or output type has no SQL type on the target, or a name cannot be an identifier.

    Examples
    --------
    >>> files = render_scripts(data, sig, og.targets.get("sql-edge-2.0"), SqlPackageOptions())  # doctest: +SKIP
    """
    synapse = target.sql_dialect == "synapse"  # the target's lineage (a target file's base), not its name
    models = qualified(opts.schema, opts.model_table)
    inputs = qualified(opts.schema, opts.input_table)
    files: dict[str, str] = {}

    # 01: models table. Synapse dedicated pools reject PRIMARY KEY without NOT ENFORCED and
    # varbinary(max) in a columnstore index, hence the documented ROUND_ROBIN, HEAP layout.
    columns = [
        "    [id] int IDENTITY(1,1) NOT NULL" + ("" if synapse else " PRIMARY KEY"),
        "    [name] nvarchar(256) NOT NULL",
        "    [version] nvarchar(64) NOT NULL",
        "    [description] nvarchar(1000) NULL",
        "    [model] varbinary(max) NOT NULL",
        "    [created] datetime2 NOT NULL" + ("" if synapse else " DEFAULT SYSUTCDATETIME()"),
    ]
    create = f"CREATE TABLE {models} (\n" + ",\n".join(columns) + "\n)"
    if synapse:
        create += "\nWITH (DISTRIBUTION = ROUND_ROBIN, HEAP)"
    files["01_create_model_table.sql"] = (
        _header(target, "Creates the table that stores ONNX models. Run once per database.") + create + ";\n"
    )

    # 02: the model as a hex literal, or a pointer to load_model.py.
    size = len(model_bytes)
    meta = f"{quote_string(opts.model_name)}, {quote_string(opts.model_version)}, {quote_string(opts.description)}"
    if size <= hex_limit:
        insert = (
            f"INSERT INTO {models} ([name], [version], [description], [model], [created])\n"
            f"SELECT {meta},\n    0x{model_bytes.hex().upper()},\n    SYSUTCDATETIME();\n"
        )
        files["02_insert_model.sql"] = (
            _header(target, f"Inserts the model ({size} bytes) as a hex literal.") + insert
        )
    else:
        files["02_insert_model.sql"] = _header(target, "Inserting the model.") + (
            f"-- The model is {size} bytes, above the {hex_limit} byte limit for a hex literal in a script.\n"
            f"-- Insert it with load_model.py (a parameterised pyodbc insert)"
            + (" or 05_copy_into_model.sql" if synapse else "")
            + " instead.\n"
        )

    # 03: one column per model input, typed exactly (PREDICT does no implicit conversion).
    col_lines = [
        f"    {quote_ident(spec.name)} {_sql_type(target, spec.elem_type, f'input {spec.name!r}')} NOT NULL"
        for spec in signature.inputs
    ]
    create_inputs = f"CREATE TABLE {inputs} (\n" + ",\n".join(col_lines) + "\n)"
    if synapse:
        create_inputs += "\nWITH (DISTRIBUTION = ROUND_ROBIN, HEAP)"
    files["03_create_input_table.sql"] = (
        _header(
            target,
            "Creates the table PREDICT reads. Column names and types must equal the model inputs.",
        )
        + create_inputs
        + ";\n"
    )

    # 04: the scoring query.
    with_cols = ",\n    ".join(
        f"{quote_ident(spec.name)} {_sql_type(target, spec.elem_type, f'output {spec.name!r}')}"
        for spec in signature.outputs
    )
    model_select = (
        "DECLARE @model varbinary(max) = (\n"
        f"    SELECT TOP (1) [model] FROM {models}\n"
        f"    WHERE [name] = {quote_string(opts.model_name)} AND [version] = {quote_string(opts.model_version)}\n"
        "    ORDER BY [id] DESC\n"
        ");\n"
    )
    predict = (
        f"{model_select}\n"
        "SELECT d.*, p.*\n"
        f"FROM PREDICT(MODEL = @model, DATA = {inputs} AS d, RUNTIME = ONNX)\n"
        f"WITH (\n    {with_cols}\n) AS p;\n"
    )
    files["04_predict.sql"] = _header(target, "Scores every row of the input table with the model.") + predict
    coded = coded_text_inputs(signature, opts)
    if coded:
        codes_files, coded_rows = _codes_scripts(signature, target, opts, coded, model_select, with_cols)
        files.update(codes_files)
    labelled = labelled_outputs(signature, opts)
    if labelled:
        files.update(_labels_scripts(signature, target, opts, labelled, model_select, with_cols))
    if coded and labelled:
        # texts in, text labels out: 07's [coded] rows scored as 09 scores the input table
        files[TEXT_LABELS_FILE] = _header(
            target, "Scores the rows of the text table, each category text joined to its code and each class code to "
            "its text label.") + coded_rows + _labels_query(signature, opts, labelled, "[coded] AS d", with_cols)

    if synapse:
        staging = qualified(opts.schema, f"{opts.model_table}_staging")
        files["05_copy_into_model.sql"] = _header(
            target, "Loads model.hex (uploaded to your storage account) with COPY INTO."
        ) + (
            "-- Upload model.hex next to your data, then replace the two <...> placeholders.\n"
            f"CREATE TABLE {staging} ([model] varbinary(max) NULL)\n"
            "WITH (DISTRIBUTION = ROUND_ROBIN, HEAP);\n\n"
            f"COPY INTO {staging} ([model])\n"
            "FROM '<https://account.blob.core.windows.net/container/model.hex>'\n"
            "WITH (\n"
            "    FILE_TYPE = 'CSV',\n"
            "    CREDENTIAL = (IDENTITY = 'Shared Access Signature', SECRET = '<sas-token>')\n"
            ");\n\n"
            f"INSERT INTO {models} ([name], [version], [description], [model], [created])\n"
            f"SELECT {meta}, [model], SYSUTCDATETIME()\nFROM {staging};\n\n"
            f"DROP TABLE {staging};\n"
        )
        files["model.hex"] = model_bytes.hex().upper() + "\n"

    files["load_model.py"] = _load_model_py(models, opts, sha256_of(model_bytes))
    files["README.md"] = (_readme(signature, target, opts, size, hex_limit, synapse, parity)
                          + _codes_readme(coded, opts)
                          + _labels_readme(labelled, opts, from_text=bool(coded)))
    return files


def _load_model_py(models: str, opts: SqlPackageOptions, model_sha256: str) -> str:
    # Every value is a Python literal made with repr() and every SQL value a '?' parameter: nothing
    # user-controlled is formatted into SQL text at run time. The model's sha256 is checked before the insert:
    # a model.onnx replaced since packaging was inserted as it was, unvalidated, while the dry run, which checks
    # it against manifest.json, refused that package (helper-138).
    sql = (
        f"INSERT INTO {models} ([name], [version], [description], [model], [created]) "
        "VALUES (?, ?, ?, ?, SYSUTCDATETIME())"
    )
    return f'''"""Insert model.onnx into the models table (SQL below) with a parameterised pyodbc query.

Usage:
    export {CONNECTION_ENV_VAR}="Driver={{ODBC Driver 18 for SQL Server}};Server=...;Database=...;UID=...;PWD=..."
    python load_model.py

Generated by onnxgate. Needs: pip install pyodbc
"""

import hashlib
import os
import pathlib
import sys

SQL = {sql!r}
NAME = {opts.model_name!r}
VERSION = {opts.model_version!r}
DESCRIPTION = {opts.description!r}
CONNECTION_ENV_VAR = {CONNECTION_ENV_VAR!r}
#: sha256 of the model.onnx this package was validated with
MODEL_SHA256 = {model_sha256!r}


def main() -> int:
    connection_string = os.environ.get(CONNECTION_ENV_VAR)
    if not connection_string:
        print(f"set {{CONNECTION_ENV_VAR}} to an ODBC connection string", file=sys.stderr)
        return 2
    model = (pathlib.Path(__file__).parent / "model.onnx").read_bytes()
    digest = hashlib.sha256(model).hexdigest()
    if digest != MODEL_SHA256:
        print(f"model.onnx is not the model this package was validated with (sha256 {{digest}} != {{MODEL_SHA256}}); "
              "write the package again with onnxgate package", file=sys.stderr)
        return 1
    import pyodbc

    with pyodbc.connect(connection_string, autocommit=False) as conn:
        conn.cursor().execute(SQL, NAME, VERSION, DESCRIPTION, pyodbc.Binary(model))
        conn.commit()
    print(f"inserted {{NAME}} version {{VERSION}} ({{len(model)}} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
'''


def _readme(signature: Signature, target: Target, opts: SqlPackageOptions, size: int, limit: int, synapse: bool,
            parity: str = "") -> str:
    ins = "\n".join(f"| `{s.name}` | {s.elem_type} | `{target.sql_type(s.elem_type)}` |" for s in signature.inputs)
    outs = "\n".join(f"| `{s.name}` | {s.elem_type} | `{target.sql_type(s.elem_type)}` |" for s in signature.outputs)
    load = (
        f"2. `02_insert_model.sql` inserts the model as a hex literal (models up to {limit} bytes are inlined)"
        if size <= limit
        else f"2. The model is {size} bytes, above the {limit} byte hex-literal limit: run `load_model.py`"
    )
    synapse_step = (
        "\n   On Synapse you can instead upload `model.hex` to storage and run `05_copy_into_model.sql` "
        "(COPY INTO a staging table, then INSERT).\n"
        if synapse
        else "\n"
    )
    return f"""# {opts.model_name} {opts.model_version} for {target.name}

Generated by onnxgate. Target: {target.description}.{" " + parity if parity else ""}

Run the scripts in order against your database. They are UTF-8 text: with sqlcmd, pass `-f 65001`
(`sqlcmd -f 65001 -i 01_create_model_table.sql`), or a name or string outside ASCII reaches the server in
the client's code page instead.

1. `01_create_model_table.sql` creates the models table `{opts.schema}.{opts.model_table}` (once per database).
{load}
   (or `python load_model.py` with `{CONNECTION_ENV_VAR}` set to an ODBC connection string: a
   parameterised insert, for models of any size).{synapse_step}3. `03_create_input_table.sql` creates \
`{opts.schema}.{opts.input_table}`; load your rows into it.
   PREDICT does no implicit conversion: the column names and types must stay exactly as below
   (CAST other columns in a view or CTE).
4. `04_predict.sql` scores every row: `SELECT d.*, p.* FROM PREDICT(...) WITH (...) AS p`.

Check it locally first, without a SQL Server: `onnxgate sql-dryrun <this folder> --data rows.csv`
runs the same query in DuckDB with the model in onnxruntime.

## Inputs (one table column each)

| column | model type | SQL type |
|---|---|---|
{ins}
{_renamed_columns(signature)}
## Outputs (the WITH clause)

| column | model type | SQL type |
|---|---|---|
{outs}

`manifest.json` records the model's sha256, opsets, IR version and the validation it passed.
"""


def _codes_readme(coded: list[CodedColumn], opts: SqlPackageOptions) -> str:
    """The README's section on the columns the model reads as codes ("" where it reads none)."""
    if not coded:
        return ""
    def cell(text: str) -> str:
        return _comment(text).replace("|", "\\|")

    rows = "\n".join(
        f"| `{cell(c.input)}` | `{cell(opts.schema)}.{cell(c.table)}` | {len(c.categories)} | "
        + ("-1, as a NULL (the model reads an unknown category as a missing value)" if c.unknown is not None
           else "NULL: the model does not read it as missing; keep such rows out") + " |"
        for c in coded)
    refusing = [f"`{cell(c.input)}`" for c in coded if c.missing_refused]
    refused = ("; the model refuses a missing value in " + ", ".join(refusing) + " (a OneHotEncoder with "
               "handle_unknown='error' fitted without missing values): PREDICT fails on a -1 there, so keep rows "
               "with a NULL in those columns out, or fill them with one of the categories") if refusing else ""
    numbered = [c for c in coded if c.sql_type is not None]
    numbers = "".join(
        f"\n`{cell(c.input)}` holds numbers, but the model reads their **codes**, not the values: "
        + ", ".join(f"{c.literal(v)} is code {i}" for i, v in enumerate(c.categories[:5]))
        + f"{', ...' if len(c.categories) > 5 else ''} (`{cell(opts.schema)}.{cell(c.table)}` lists them all). Load "
        f"the values into the text table's `{c.sql_type}` column and `07_predict_from_text.sql` joins each to its "
        f"code; a value loaded into `{cell(opts.input_table)}` as it is would be read as a code, another category.\n"
        for c in numbered)
    # the words follow the categories: text (colours), numbers (XGBoost's pandas category column of 7, 11, 23), or both
    kind, values, held = (("Text", "text", "as text") if not numbered else
                          ("Number", "value", "holding their values (numbers)") if len(numbered) == len(coded) else
                          ("Text and number", "value", "holding their values (text, or numbers where the categories "
                                                       "are numbers)"))
    compared = ("" if len(numbered) == len(coded) else
                f" ({'a text ' if numbered else ''}compared exactly: case, accents and trailing spaces count, as in "
                "the model)")
    return f"""
## {kind} category columns: their codes

PREDICT reads numbers, so the model reads these columns as the **code** of each category (its position among the
model's categories, -1 for a missing value), not as their values. `06_create_category_codes.sql` creates a table of
the codes of each column's categories, and `{opts.schema}.{opts.input_table}_text`, the input table with these
columns {held}: `07_predict_from_text.sql` scores its rows, each {values} joined to its code{compared}. Load
codes into `{opts.input_table}` yourself with the same join.

| column | codes table | categories | a {values} none of them |
|---|---|---|---|
{rows}

A NULL {values} is -1 in every column{refused}.
{numbers}"""


def _labels_readme(labelled: list[LabelledOutput], opts: SqlPackageOptions, from_text: bool = False) -> str:
    """The README's section on the outputs that return text labels as codes ("" where there is none)."""
    if not labelled:
        return ""

    def cell(text: str) -> str:
        return _comment(text).replace("|", "\\|").replace("`", "'")

    def label(text: str) -> str:  # a line break or NUL as its escape, '\\n': the table's text holds it as it is
        return _UNSAFE_CHAR.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text).replace(
            "|", "\\|").replace("`", "'")

    rows = "\n".join(
        f"| `{cell(item.output)}` | `{cell(opts.schema)}.{cell(item.table)}` | "
        + ", ".join(f"{i} `{label(text)}`" for i, text in enumerate(item.labels[:10]))
        + (f", ... ({len(item.labels)} in all)" if len(item.labels) > 10 else "") + " |"
        for item in labelled)
    both = (f"\n\n`{TEXT_LABELS_FILE}` does both at once: it scores the rows of `{opts.input_table}_text` as\n"
            "`07_predict_from_text.sql` does (category texts in), and returns the text labels as\n"
            "`09_predict_labels.sql` does (the category columns as their codes)." if from_text else "")
    return f"""
## Text class labels: their codes

PREDICT returns numbers, so the model returns the classifier's text label as the **code** of its class (its
position among the classifier's classes, `classes_`, the order of the `p_<class>` columns). `04_predict.sql`
returns the codes. `08_create_class_labels.sql` creates a table of the text label of each code, and
`09_predict_labels.sql` scores the rows of `{opts.input_table}` as `04_predict.sql` does, with each code joined to
its text label (under the output's name). onnxgate's validation compared these labels with the classifier's own.{both}

| output | labels table | code and label |
|---|---|---|
{rows}
"""


def _readme_code(name: str) -> str:
    """``name`` as a README table cell's code: a name may hold backticks, pipes or line breaks."""
    return "`` " + name.replace("\n", " ").replace("\r", " ").replace("|", "\\|") + " ``"


def _renamed_columns(signature: Any) -> str:
    """README lines pairing the data's own column names with the table columns, when any changed."""
    pairs = [(c, i) for c, i in signature.columns.pairs if c != i]
    if not pairs:
        return ""

    def why(column: str, table_column: str) -> str:
        # 'age' beside 'Age', or 'label' beside the output 'label', is an identifier: the README said every renamed
        # name was no SQL identifier (helper-157)
        problem = sql_name_problem(column)
        if problem is not None:
            return problem
        folded = column.casefold()
        if any(s.name.casefold() == folded for s in signature.inputs if s.name != table_column):
            return "another table column has this name ignoring case, as SQL Server compares names"
        if any(s.name.casefold() == folded for s in signature.outputs):
            return "an output (a WITH column) has this name: SELECT d.*, p.* would return it twice"
        return "kept apart from another name"

    rows = "\n".join(f"| {_readme_code(c)} | {_readme_code(i)} | {why(c, i)} |" for c, i in pairs)
    return (
        "\nSome columns the model was fitted on were renamed for SQL; load each into its table "
        "column (`onnxgate sql-dryrun` takes rows under either name):\n\n| your data's column | table column | "
        f"renamed as it is |\n|---|---|---|\n{rows}\n"
    )


def renamed_outputs(proto: onnx.ModelProto) -> dict[str, str]:
    """Each output ``--adapt`` renamed for SQL, one column for one of the model's outputs -> the model's own name
    (``from_`` -> ``from``, ``o_ut`` -> ``o]ut``): PREDICT's WITH clause names it so. An output split into columns (a
    classifier's probabilities, one per class) is not a rename."""
    from onnxgate.adaptation import adaptation_of

    outputs = (adaptation_of(proto) or {}).get("outputs") or {}
    return {columns[0][0]: own for own, columns in outputs.items()
            if len(columns) == 1 and columns[0][1] is None and columns[0][0] != own}


def _renamed_outputs_readme(renamed: Mapping[str, str]) -> str:
    """README lines pairing the model's own output names with the WITH columns they became, when any changed."""
    if not renamed:
        return ""

    rows = "\n".join(f"| {_readme_code(own)} | {_readme_code(column)} | "
                     f"{sql_name_problem(own) or 'kept apart from another name'} |"
                     for column, own in renamed.items())
    return ("\nSome of the model's outputs were renamed for SQL; PREDICT's WITH clause and its result name them "
            f"so:\n\n| model output | WITH column | renamed as it is |\n|---|---|---|\n{rows}\n")


#: What a SQL package's README says of the sparse initializers it wrote dense. SQL Edge 1.0's onnxruntime 1.5.3
#: (and Synapse's, assumed 1.5.x) predates sparse initializers (onnxruntime 1.6, microsoft/onnxruntime#5540;
#: float only until 1.8), and a target file may name any runtime: every SQL package holds them dense, as
#: onnxruntime does once it has loaded a file, so the answers are the ones validated.
DENSIFIED_NOTE = (
    "`model.onnx` holds the sparse initializers {names} as dense tensors (same values): the onnxruntime of SQL "
    "Edge 1.0 and Synapse (1.5.x) does not read sparse initializers."
)


def _conversion_defaults(model: Any, reference: Any, data: Any) -> tuple[Any, Any]:
    if isinstance(model, Conversion):
        reference = model.source if reference is None else reference
        data = model.sample if data is None else data
        if reference is None or data is None:
            return None, None
    return reference, data


def package_sql(
    model: Any,
    *,
    target: Target,
    out: str | os.PathLike[str],
    reference: Any = None,
    data: Any = None,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Validate ``model`` for a SQL target and write its T-SQL package into ``out``.

    Called through :func:`onnxgate.deploy.package`. Files are written into a temporary folder
    beside ``out`` and moved into place only when every one is complete.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
        A PREDICT-shaped model (see :func:`onnxgate.adapt`); pass ``adapt=True`` to adapt it here.
    target : Target
        ``sql-edge-1.0``, ``sql-edge-2.0``, ``synapse`` or a user SQL target.
    out : path
    reference, data : optional
        Native model and rows for parity (a Conversion supplies its own).
    overwrite : bool
        Replace files in a non-empty ``out``.
    **options
        ``schema`` (``"dbo"``), ``model_table`` (``"models"``), ``input_table``
        (``"<model_name>_input"``), ``model_name`` (the graph name), ``model_version`` (``"1"``),
        ``description``, ``adapt`` (bool), ``columns``, ``column_types``,
        ``hex_limit`` (bytes, default :data:`HEX_INSERT_LIMIT_BYTES`), ``search``, ``seed`` (the divergence
        search in the validation, on the adapted model: :func:`~onnxgate.deploy.container.search_settings`).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValidationFailedError
        The model fails the target's checks or parity; ``err.report`` holds the report.
    PackagingError
        Bad options or names.
    OutputExistsError
        ``out`` is not empty and ``overwrite`` is false (checked by the dispatcher).

    Examples
    --------
    >>> import onnxgate as og
    >>> conv = og.convert(model, X, target="sql-edge-2.0")  # doctest: +SKIP
    >>> og.package(conv, target="sql-edge-2.0", out="dist/sql")  # doctest: +SKIP
    PosixPath('dist/sql')
    """
    import json

    from onnxgate._onnx import (
        densify_sparse_initializers,
        load_model,
        loaded_once,
        repair_layout,
        serialize,
        sparse_initializer_names,
    )
    from onnxgate.deploy.manifest import build_manifest, dumps
    from onnxgate.signature import Signature
    from onnxgate.validators import validate

    options = dict(options)
    do_adapt = bool(options.pop("adapt", False))
    columns = options.pop("columns", None)
    column_types = options.pop("column_types", None)
    hex_limit = int(options.pop("hex_limit", HEX_INSERT_LIMIT_BYTES))
    if not target.is_sql:
        raise PackagingError(f"package_sql needs a SQL target; {target.name!r} is not one")
    reference, data = _conversion_defaults(model, reference, data)
    from onnxgate.deploy.container import search_settings

    search, seed = search_settings({k: options.pop(k) for k in ("search", "seed") if k in options}, reference, data)
    if do_adapt:
        from onnxgate.adaptation import adapt

        model = adapt(model, target, columns=columns, column_types=column_types, reference=reference, data=data)
    # what validation loads and serializes is what is packaged: the file read, parsed and checked once, serialized
    # once (a 200 MB model: 2-4 s of reading, parsing, serializing and hashing it again after its validation)
    with loaded_once(model):
        proto: onnx.ModelProto = load_model(model)
        densified = sparse_initializer_names(proto)
        unheld: InvalidModelError | None = None
        if densified:  # validated as it is shipped: dense (DENSIFIED_NOTE)
            try:
                model = proto = densify_sparse_initializers(proto)
            except InvalidModelError as err:
                # one no runtime holds dense, or whose indices do not fit: validated as given, so model_wellformed
                # refuses it as it does for the container target (raised here, it named no fix and exited 2)
                unheld, densified = err, []
        opts = SqlPackageOptions.from_options(proto, options, synapse=target.sql_dialect == "synapse")
        report = validate(model, target, reference=reference, data=data, search=search, seed=seed)
        if not report.passed:
            raise ValidationFailedError(
                f"refusing to package: the model fails {len(report.failures)} check(s) for target "
                f"{target.name!r}: {', '.join(c.name for c in report.failures)}.\n{report}",
                report=report,
            )
        if unheld is not None:  # a target without model_wellformed passed it: no package holds it all the same
            raise unheld
        proto = repair_layout(proto)[0]  # as model_wellformed judged it (its details["repairs"])
        model_bytes = serialize(proto)
        signature = Signature.from_model(proto)
        from onnxgate.deploy.manifest import parity_sentence, repaired_readme

        files = render_scripts(model_bytes, signature, target, opts, hex_limit=hex_limit,
                               parity=parity_sentence(report))
        renamed = renamed_outputs(proto)
        files["README.md"] += _renamed_outputs_readme(renamed) + repaired_readme(report)
        if densified:
            files["README.md"] += f"\n{DENSIFIED_NOTE.format(names=', '.join(f'`{n}`' for n in densified))}\n"
        sql_info = {
            "sql": {
                "schema": opts.schema,
                "model_table": opts.model_table,
                "input_table": opts.input_table,
                "model_name": opts.model_name,
                "model_version": opts.model_version,
                "hex_insert_limit_bytes": hex_limit,
                "model_in_insert_script": len(model_bytes) <= hex_limit,
                "inputs": [
                    {"name": s.name, "elem_type": s.elem_type, "sql_type": target.sql_type(s.elem_type)}
                    # the column of the user's data it was made from, when the name changed (onnxgate.columns)
                    | ({"data_column": signature.columns.column_for(s.name)} if signature.columns.column_for(s.name)
                       != s.name else {})
                    for s in signature.inputs
                ],
                "outputs": [
                    {"name": s.name, "elem_type": s.elem_type, "sql_type": target.sql_type(s.elem_type)}
                    # the model's own output it was made from, when --adapt renamed it for SQL
                    | ({"model_output": renamed[s.name]} if s.name in renamed else {})
                    for s in signature.outputs
                ],
                # the query the dry run mirrors, as written: an edited one is not what it checks
                "predict_sql_sha256": hashlib.sha256(files["04_predict.sql"].encode("utf-8")).hexdigest(),
                # the files that put the model in the database, as written: a 02_insert_model.sql from another package
                # inserted another model under another name, and the dry run, scoring model.onnx, passed it
                # (helper-91). 03_create_input_table.sql is the user's to adapt: the dry run reads it as PREDICT would
                "model_scripts_sha256": {name: hashlib.sha256(files[name].encode("utf-8")).hexdigest()
                                         for name in MODEL_SCRIPTS if name in files},
            }
        }
        coded = coded_text_inputs(signature, opts)
        if coded:  # the dry run runs 06 and 07 as written, against the codes the model reads (duckdb_dryrun)
            sql_info["sql"]["category_codes"] = {
                "text_input_table": f"{opts.input_table}_text",
                "inputs": [{"input": c.input, "table": c.table, "unknown": c.unknown} for c in coded],
                "scripts_sha256": {name: hashlib.sha256(files[name].encode("utf-8")).hexdigest()
                                   for name in CODES_FILES},
            }
        labelled = labelled_outputs(signature, opts)
        if labelled:  # the dry run runs 08 and 09 as written, against the codes the model returns (duckdb_dryrun)
            sql_info["sql"]["class_labels"] = {
                "outputs": [{"output": item.output, "table": item.table} for item in labelled],
                "scripts_sha256": {name: hashlib.sha256(files[name].encode("utf-8")).hexdigest()
                                   for name in (*LABELS_FILES, TEXT_LABELS_FILE) if name in files},
                # and 10 (where 07 is written too), its [coded] rows as 07's, its labels as 09's
                **({"from_text": TEXT_LABELS_FILE} if TEXT_LABELS_FILE in files else {}),
            }
        from onnxgate.adaptation import adaptation_of

        lowered = (adaptation_of(proto) or {}).get("lowered")
        if lowered:  # --adapt lowered the file to the target's caps: the package says so (onnxgate.adaptation.opset)
            sql_info["sql"]["lowered"] = list(lowered)
        kernel_rewrites = (adaptation_of(proto) or {}).get("kernel_rewrites")
        if kernel_rewrites:  # --adapt rewrote nodes the target's onnxruntime has no kernel for (onnxgate._kernels)
            sql_info["sql"]["kernel_rewrites"] = list(kernel_rewrites)
        if densified:
            sql_info["sql"]["densified_sparse_initializers"] = densified
        names = ["model.onnx", "manifest.json", *files]
        manifest = build_manifest(model_bytes, model=proto, target=target, report=report, files=names, extra=sql_info)
        manifest_text = dumps(manifest)
        json.loads(manifest_text)  # never ship a manifest we cannot read
        folder = Path(out)
        write_folder_atomically(folder, {"model.onnx": model_bytes, **files, "manifest.json": manifest_text},
                                overwrite=overwrite)
        return folder



"""Input and output rules of a target: element types, one input per column, tensor-only outputs,
one value per row, a dynamic batch axis.

The checks read the model's :class:`~onnxgate.signature.Signature` and name every offending input
or output in the message and in ``details["offenders"]``.

Rows on the SQL targets. ``PREDICT`` scores a table: each input is a column of any number of rows,
and each output must hold one value for each of those rows. So an input's first axis must be
dynamic (a symbol or unknown), or ``[1,1]`` for every input: the form the targets' own samples
export, a model that scores one row per run (``PREDICT``, and onnxgate's parity, dry run and
``score``, run it row by row); its outputs then have one row. Otherwise an output's first axis must be
the inputs' batch axis: the same symbol, where the inputs name theirs. An output whose first axis is
fixed (``[1,1]``, ``[1]``: one value for the whole batch) or a symbol of its own (``[M,1]``: rows
unrelated to the input's, as ``Concat`` on axis 0 or ``NonZero`` give) fails. The declared shape is
read first; where it is missing or unknown, ONNX shape inference (strict mode, then lenient) fills
it in. When the shapes cannot decide (an unknown dimension, a symbol inference made up, inputs
whose batch axis is unnamed), the model is run in onnxruntime on :data:`ROW_PROBE_SIZES` rows of
zeros (empty text; ones, and then a category its encoder knows, where the model refuses those) and
each such output must return as many rows as it was given; the message says which outputs were
checked that way. Two sizes, so an output that always has 2 rows, or twice the input's, cannot
match by chance. An output whose declared shape gives it the inputs' batch axis is run the same way
(a declaration is the file's word, and a model summing over the batch may still declare ``[N,1]``):
returning another row count fails; a model that cannot be run on zeros or ones keeps its declaration,
and ``details["rows"]["declared_unrun"]`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from onnxgate import runtime
from onnxgate._onnx import infer_shapes_strict, runnable, serialize
from onnxgate.sql_rules import SQL_IDENTIFIER_MAX, SQL_RESERVED, TYPE_FIXES, flatten_fix, sql_name_problem
from onnxgate.validators.report import CheckResult
from onnxgate.validators.structure import _verdict

if TYPE_CHECKING:
    import onnx

    from onnxgate.signature import Dim, Signature, TensorSpec
    from onnxgate.targets import Target

__all__ = [
    "SQL_IDENTIFIER_MAX",
    "SQL_RESERVED",
    "TYPE_FIXES",
    "check_batch_axis_dynamic",
    "check_inputs_element_types",
    "check_inputs_one_per_column",
    "check_outputs_element_types",
    "check_outputs_one_value_per_row",
    "check_outputs_tensor_only",
    "sql_name_problem",
]

#: Batch sizes the row rule runs the model on when shapes cannot tell an output's row count.
ROW_PROBE_SIZES = (2, 3)
#: What the fix of a row problem says (inputs and outputs alike).
_ROWS_FIX = (
    "PREDICT scores one row per table row: the model must take any number of rows and return one row per "
    "input row. Export with a dynamic batch axis shared by every input and output (skl2onnx "
    "FloatTensorType([None, 1]), torch dynamic_shapes or dynamic_axes with one name, tf.TensorSpec([None, 1])), "
    "and compute nothing across rows"
)

def _signature(model: onnx.ModelProto) -> Signature:
    from onnxgate.signature import Signature

    return Signature.from_model(model)


#: The fix for a text category input (:func:`onnxgate.adaptation.text_category_inputs`) on a target without text.
CODES_FIX = ("its category codes: adapt the model, CLI --adapt or package(..., adapt=True), which feeds them as "
             "convert(..., target=...) does")


def _types_check(
    name: str, specs: tuple[TensorSpec, ...], allowed: frozenset[str] | None, target: Target, what: str,
    coded: Sequence[str] = (),
) -> CheckResult:
    rows: list[dict[str, Any]] = []
    offenders: list[dict[str, Any]] = []
    for spec in specs:
        row = {
            "name": spec.name,
            "elem_type": spec.elem_type if spec.is_tensor else spec.type_str,
            "sql_type": target.sql_type(spec.elem_type) if spec.is_tensor else None,
        }
        rows.append(row)
        if allowed is None:
            continue
        if not spec.is_tensor:
            offenders.append({**row, "reason": f"{spec.type_str} is not a tensor"})
        elif spec.elem_type not in allowed:
            fix = TYPE_FIXES.get(spec.elem_type, "one of " + ", ".join(sorted(allowed)))
            if spec.elem_type == "string" and what == "outputs":
                # the synapse target takes text inputs only: no SQL target returns text
                fix = ("a numeric output: for a classifier with text labels, convert it for this target "
                       f"(onnxgate convert --target {target.name}, or onnxgate.adapt), which returns the code of its "
                       "class and writes the table that maps it back to its label in SQL")
            elif spec.name in coded:
                fix = CODES_FIX
            offenders.append({**row, "reason": f"{spec.elem_type} not allowed", "fix": fix})
    details = {what: rows, "allowed": sorted(allowed) if allowed is not None else None, "offenders": offenders}
    if target.sql_types:
        mapped = ", ".join(f"{r['name']} {r['elem_type']}->{r['sql_type']}" for r in rows)
    else:
        mapped = ", ".join(f"{r['name']} {r['elem_type']}" for r in rows)
    return _verdict(
        name,
        [f"{o['name']!r} is {o['elem_type']}" + (f" (use {o['fix']})" if o.get("fix") else "") for o in offenders],
        details,
        problem=f"{_counted(len(offenders), what)} of a type target {target.name!r} does not take",
        fix=f"; allowed: {', '.join(sorted(allowed or ()))}",
        passed=f"{len(rows)} {_counted(len(rows), what)}: {mapped}" if rows else f"no {what}",
    )


def _counted(count: int, what: str) -> str:
    """``"inputs"`` or ``"outputs"`` as it reads after ``count``: singular for one (was "1 inputs of a type")."""
    return what[:-1] if count == 1 else what


def check_inputs_element_types(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every input's element type is one the target takes; reports the SQL type each maps to.

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult
        ``details["inputs"]``: name, elem_type, sql_type per input; ``details["offenders"]``.

    Examples
    --------
    >>> str(check_inputs_element_types(bool_model, targets.get("sql-edge-2.0")))  # doctest: +SKIP
    "FAILED inputs_element_types  1 input of a type target 'sql-edge-2.0' does not take: 'flag' is bool ..."
    """
    from onnxgate.adaptation import text_category_inputs

    return _types_check("inputs_element_types", _signature(model).inputs, target.input_types, target, "inputs",
                        coded=list(text_category_inputs(model)))


def check_outputs_element_types(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every output's element type is one the target can return (SQL: int, bigint, real, float).

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> check_outputs_element_types(model, targets.get("sql-edge-2.0")).passed  # doctest: +SKIP
    True
    """
    return _types_check("outputs_element_types", _signature(model).outputs, target.output_types, target, "outputs")


_NAME_FIX = ("Rename them to SQL column names (letters, digits and _, starting with a letter or _; not a reserved "
             "word): onnxgate.adapt(model, target) renames them, or name the DataFrame columns so.")


def check_inputs_one_per_column(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every input is one table column: shaped ``[N,1]`` with a dynamic ``N`` (or ``[1,1]``, every input
    alike: one row per run), named like a SQL column.

    A ``[N,k]`` input is reported with its ``k`` (PREDICT refuses it: "Input column 1 (1-based) has
    shape [1,2] which is not supported"). Another first axis fixed to a size (``[5,1]``, or ``[1,1]``
    beside ``[N,1]`` inputs) takes that many rows, not a table's (see the module docstring). Names that
    differ only in case collide in SQL.

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> r = check_inputs_one_per_column(wide_model, targets.get("sql-edge-2.0"))  # doctest: +SKIP
    >>> r.details["offenders"][0]["width"]  # doctest: +SKIP
    3
    """
    offenders: list[dict[str, Any]] = []
    wrong_rows = False  # an input takes a fixed number of rows
    wrong_other = False  # an input has another problem (type, width, rank): adapt() fixes those
    flattened: list[str] = []  # how to fix each input of more than two axes, which adapt() does not take
    misnamed = False  # an input's name is not a SQL column name
    clashed = False  # two inputs' names are one SQL column name
    seen: dict[str, str] = {}
    inputs = _signature(model).inputs
    one_row = _takes_one_row(inputs)
    for spec in inputs:
        problems: list[str] = []
        width: int | str | None = None
        fixed_rows = False  # the input takes a fixed number of rows
        if not spec.is_tensor:
            problems.append(f"{spec.type_str} is not a tensor")
        elif spec.shape is None:
            problems.append("its shape is unknown; expected [N,1]")
        elif len(spec.shape) > 2:
            flattened.append(flatten_fix(spec.name, spec.shape))
            problems.append(f"rank {spec.rank} {spec.shape_str()}; expected [N,1]")
        elif spec.rank != 2:
            problems.append(f"rank {spec.rank} {spec.shape_str()}; expected [N,1]")
        else:
            width = spec.shape[1]
            if width != 1:
                problems.append(f"{_values_per_row(spec.shape_str(), width)}; expected [N,1]")
            rows = spec.shape[0]
            if isinstance(rows, int) and not one_row:
                fixed_rows = True
                problems.append(f"shape {spec.shape_str()} fixes its first axis to {rows}, so it takes {rows} "
                                "row(s), not a table's rows; expected [N,1] (or [1,1] for every input: one "
                                "row per run)")
        naming = sql_name_problem(spec.name)
        if naming:
            problems.append(f"name {naming}")
        folded = spec.name.lower()
        clash = folded in seen
        if clash:
            problems.append(f"same SQL column name as {seen[folded]!r} (SQL names ignore case)")
        seen.setdefault(folded, spec.name)
        if problems:
            offenders.append({"name": spec.name, "shape": spec.shape_str(), "width": width, "problems": problems})
            misnamed = misnamed or bool(naming)
            clashed = clashed or clash
            wrong_rows = wrong_rows or fixed_rows
            axes = spec.is_tensor and spec.shape is not None and len(spec.shape) > 2
            wrong_other = wrong_other or len(problems) > int(fixed_rows) + int(bool(naming)) + int(clash) + int(axes)
    details = {"inputs": [s.describe() for s in inputs], "offenders": offenders}
    fixes = []
    if wrong_other:
        fixes.append("Convert with a DataFrame sample (one column per feature) or onnxgate.adapt(model, target).")
    fixes.extend(f"{fix[0].upper()}{fix[1:]}." for fix in flattened)
    if misnamed:
        fixes.append(_NAME_FIX)
    if clashed:
        fixes.append("Give every input a name no other has, ignoring case (rename the DataFrame column).")
    if wrong_rows:
        fixes.append(f"{_ROWS_FIX}.")
    return _verdict(
        "inputs_one_per_column",
        [f"{o['name']!r}: {', '.join(o['problems'])}" for o in offenders],
        details,
        problem="input(s) are not one SQL column each",
        fix=". " + " ".join(fixes),
        passed=(f"{len(inputs)} inputs, one [1,1] column each: the model scores one row per run (the form of "
                "the targets' own samples; onnxgate runs it row by row)" if one_row
                else f"{len(inputs)} inputs, one [N,1] column each"),
    )


def _takes_one_row(inputs: Sequence[TensorSpec]) -> bool:
    """Every input is a ``[1,1]`` column: the model scores one row per run. The form the SQL targets'
    own samples export (deploy-onnx's ``batch_axis=False``, Synapse's ``FloatTensorType([1, 1])``);
    ``PREDICT`` scores such a model row by row, and so do onnxgate's parity, dry run and ``score``."""
    return bool(inputs) and all(s.is_tensor and s.shape is not None and len(s.shape) == 2 and s.shape[0] == 1
                                for s in inputs)


def _values_per_row(shape: str, width: int | str | None) -> str:
    """The problem of a rank-2 tensor (``shape``) whose second axis (``width``) is not 1, naming its ``k``."""
    what = f"k={width}" if isinstance(width, int) else f"a variable width {width!r}"
    return f"shape {shape} holds {what} values per row"


def check_outputs_tensor_only(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every output is a tensor: no sequence or map (skl2onnx's ZipMap gives ``seq(map(...))``).

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> str(check_outputs_tensor_only(zipmap_model, targets.get("container")))  # doctest: +SKIP
    "FAILED outputs_tensor_only  1 output(s) are not tensors: 'output_probability' is seq(map(int64,tensor(float)))..."
    """
    outputs = _signature(model).outputs
    offenders = [
        {"name": s.name, "type": s.type_str or s.kind, "zipmap": _is_zipmap(model, s.name)}
        for s in outputs
        if not s.is_tensor
    ]
    details = {"outputs": [s.describe() for s in outputs], "offenders": offenders}
    return _verdict(
        "outputs_tensor_only",
        [f"{o['name']!r} is {o['type']}" + (" (from ZipMap)" if o["zipmap"] else "") for o in offenders],
        details,
        problem="output(s) are not tensors",
        fix=("." + (" Convert without ZipMap (onnxgate's default; skl2onnx options={id(clf): {'zipmap': False}})."
                    if any(o["zipmap"] for o in offenders) else "")
             + (" Return tensors instead of the sequences or maps (MultiOutputClassifier writes a sequence of "
                f"probability tensors: convert it for this target, target={target.name!r}, and each target's "
                "probabilities are an output of their own)."
                if not all(o["zipmap"] for o in offenders) else "")),
        passed=f"{len(outputs)} outputs, all tensors",
    )


def _is_zipmap(model: onnx.ModelProto, output: str) -> bool:
    return any(n.op_type == "ZipMap" and output in n.output for n in model.graph.node)


def check_outputs_one_value_per_row(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every output holds one value per input row: ``[N]`` or ``[N,1]``, ``N`` the inputs' batch axis.

    ``PREDICT ... WITH (col type)`` maps each output to one column, so ``[N,k]`` (e.g. class
    probabilities) is reported with its ``k``. And it returns one row per table row, so an output
    whose first axis is fixed (``[1,1]``: one value for the whole batch) or a symbol unrelated to the
    inputs' batch axis (``[M,1]``) is reported with its shape. Where shapes cannot decide the row
    count, the model is run on :data:`ROW_PROBE_SIZES` rows of zeros (see the module docstring).

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult
        ``details["offenders"]``: name, shape, width, row_axis (the offending first axis or None) and
        problem per output; ``details["rows"]``: each input's first axis (``batch_axes``), the outputs
        run to count their rows (``probed``: name -> the shapes returned) and those left unchecked
        (``unverified``: name and reason).

    Examples
    --------
    >>> r = check_outputs_one_value_per_row(clf_model, targets.get("sql-edge-2.0"))  # doctest: +SKIP
    >>> r.details["offenders"][0]["width"]  # doctest: +SKIP
    3
    >>> str(check_outputs_one_value_per_row(sum_model, targets.get("sql-edge-2.0")))  # doctest: +SKIP
    "FAILED outputs_one_value_per_row  1 output(s) are not one value per row: 'y': shape [1,1] fixes ..."
    """
    sig = _signature(model)
    # inference only fills what a declared shape leaves unknown: not run when every output declares all
    inferred = (_inferred_output_shapes(model)
                if any(s.is_tensor and (s.shape is None or None in s.shape) for s in sig.outputs) else {})
    tensors = [s for s in sig.inputs if s.is_tensor]
    batch = [s.shape[0] if s.shape else None for s in tensors]
    symbols = {d for d in batch if isinstance(d, str)}
    # an output's own symbol is unrelated to the inputs' rows only when every input names the one batch
    # axis they share; a name a converter made up is no name (tf2onnx gives each input and output its
    # own unk__N: a Keras model of [None,1] columns failed, its output 'unk__10' "not the inputs' axis")
    named = bool(batch) and all(_named(d) for d in batch) and len(symbols) == 1
    one_row = _takes_one_row(tensors)  # [1,1] columns: one row per run, so an output has 1 row
    fixed_inputs = any(isinstance(d, int) for d in batch) and not one_row
    sizes = (1,) if one_row else ROW_PROBE_SIZES  # the rows an undecided output is run on
    offenders: list[dict[str, Any]] = []
    wrong_rows = False  # an offender returns the wrong number of rows
    wrong_other = False  # an offender has another problem (type, width, rank): adapt() fixes those
    misnamed = False  # an output's name is not a SQL column name
    clashes = False  # an output's name is another output's or an input's, ignoring case
    seen_outputs: dict[str, str] = {}
    input_names = {s.name.lower(): s.name for s in sig.inputs}
    undecided: list[TensorSpec] = []
    declared_rows: list[TensorSpec] = []  # the shapes give them the inputs' rows: run to confirm
    shapes: dict[str, tuple[Dim, ...] | None] = {}
    for spec in sig.outputs:
        problem: str | None = None
        width: int | str | None = None
        row_axis: Dim = None
        shape = _merged_shape(spec.shape, inferred.get(spec.name), symbols)
        shapes[spec.name] = shape
        shown = _shape_str(shape)
        if not spec.is_tensor:
            problem = f"{spec.type_str} is not a tensor"
        elif shape is None:
            undecided.append(spec)
        elif len(shape) in (1, 2):
            width = 1 if len(shape) == 1 else shape[1]
            if width != 1:
                problem = _values_per_row(shown, width)
            rows = shape[0]
            declared = spec.shape[0] if spec.shape else None
            if one_row and rows == 1:
                pass
            elif isinstance(rows, int):
                row_axis = rows
                problem = _and(problem, f"shape {shown} fixes its first axis to {rows}, so it returns {rows} "
                                        "row(s) whatever the number of input rows")
            elif rows in symbols:
                declared_rows.append(spec)
            elif named and _named(declared):
                row_axis = rows
                axes = " or ".join(repr(b) for b in sorted(symbols))
                problem = _and(problem, f"shape {shown} counts its rows in {rows!r}, not in the inputs' batch "
                                        f"axis {axes}")
            elif problem is None:
                undecided.append(spec)
        else:
            problem = f"rank {len(shape)} {shown}; expected [N] or [N,1]"
        shape_problem = problem  # before the name's: a name alone is fixed by renaming
        naming = sql_name_problem(spec.name) if target.is_sql else None
        if naming:
            problem = _and(problem, f"name {naming}")
        folded = spec.name.lower()
        if target.is_sql and (folded in seen_outputs or folded in input_names):
            # PREDICT's WITH clause is one table (two columns [y] and [Y] are one), and SELECT d.*, p.*
            # returns an input's and an output's columns side by side
            clash = (f"output {seen_outputs[folded]!r}" if folded in seen_outputs
                     else f"input {input_names[folded]!r}")
            problem = _and(problem, f"same SQL column name as {clash} (SQL names ignore case)")
            clashes = True
        seen_outputs.setdefault(folded, spec.name)
        if problem:
            offenders.append({"name": spec.name, "shape": shown, "width": width, "row_axis": row_axis,
                              "problem": problem})
            misnamed = misnamed or bool(naming)
            if shape_problem:
                wrong_rows = wrong_rows or row_axis is not None
                wrong_other = wrong_other or row_axis is None or shape_problem.count("; ") > 0
    probed: dict[str, list[list[int]]] = {}
    unverified: list[dict[str, str]] = []
    declared_unrun: str | None = None
    offending = {o["name"] for o in offenders}
    declared_rows = [s for s in declared_rows if s.name not in offending] if not (fixed_inputs or one_row) else []
    found: dict[str, list[tuple[int, ...]]] = {}
    failure: str | None = None
    fed: str | None = None  # what the runs that answered were fed ("zeros", "ones", a category's text)
    if (undecided and not fixed_inputs) or declared_rows:
        found, failure, fed = _probe_rows(model, sig, sizes)
    declared_run: list[str] = []
    if declared_rows:
        if failure is not None:
            declared_unrun = str(failure)
        else:
            declared_run = [s.name for s in declared_rows]
        for spec in declared_rows:
            got = found.get(spec.name, [])
            if failure is None and any(not g or g[0] != n for g, n in zip(got, sizes)):
                shown = _shape_str(shapes[spec.name])
                runs = ", ".join(f"[{','.join(map(str, g))}] for {n} rows" for g, n in zip(got, sizes))
                offenders.append({"name": spec.name, "shape": shown, "width": None, "row_axis": None,
                                  "problem": f"shape {shown} declares one row per input row, but run on rows of "
                                             f"{fed} it returned {runs}"})
                wrong_rows = True
    if undecided:
        if fixed_inputs:
            # feeding 2 rows would only repeat what inputs_one_per_column reports
            reason = "the inputs take a fixed number of rows"
            unverified = [{"name": s.name, "reason": reason} for s in undecided]
        elif isinstance(failure, _LoadFailure):
            unverified = [{"name": s.name, "reason": str(failure)} for s in undecided]
        else:
            for spec in undecided:
                got = found.get(spec.name, [])
                shown = _shape_str(shapes[spec.name])
                if failure is None:
                    probed[spec.name] = [list(g) for g in got]
                    problem = _probed_problem(shown, got, sizes, fed=fed or "zeros")
                else:
                    problem = f"shape {shown} does not tell its row count, and {failure}"
                if problem:
                    offenders.append({"name": spec.name, "shape": shown, "width": None, "row_axis": None,
                                      "problem": problem})
                    wrong_rows = True
    details = {
        "outputs": [s.describe() for s in sig.outputs],
        "offenders": offenders,
        "rows": {"batch_axes": {s.name: d for s, d in zip(tensors, batch)}, "probed": probed,
                 "unverified": unverified, "declared_run": declared_run, "declared_unrun": declared_unrun,
                 "fed": fed},
    }
    fixes = []
    if wrong_other:  # a name or a clash alone sets neither: renaming fixes those
        fixes.append("Split them into [N,1] outputs with onnxgate.adapt(model, target).")
    if misnamed:
        fixes.append(_NAME_FIX)
    if clashes:
        fixes.append("Give every output and input column a name no other has, ignoring case (rename the "
                     "DataFrame column or the model's output).")
    if wrong_rows:
        fixes.append(f"{_ROWS_FIX}.")
    passed = f"{len(sig.outputs)} outputs, one value per row each"
    if probed:
        tried = " and ".join(map(str, sizes)) + (" row" if sizes == (1,) else " rows")
        passed += (f"; the row count of {', '.join(map(repr, probed))} could not be checked statically, so the "
                   f"model ran on {tried} of {fed} and returned one row per input row")
    if unverified:
        passed += (f"; the row count of {', '.join(repr(u['name']) for u in unverified)} could not be checked "
                   f"statically, nor by running the model: {unverified[0]['reason']}")
    return _verdict(
        "outputs_one_value_per_row",
        [f"{o['name']!r}: {o['problem']}" for o in offenders],
        details,
        problem=("output(s) cannot be columns of PREDICT's result" if offenders and not (wrong_other or wrong_rows)
                 else "output(s) are not one value per row"),
        fix=". " + " ".join(fixes),
        passed=passed,
    )


#: Batch-axis names converters make up for a size they cannot name (tf2onnx and shape inference: unk__N).
_MADE_UP = re.compile(r"^unk__\d+$")


def _named(dim: Any) -> bool:
    """A symbolic dimension with a name of its own (not one a converter made up)."""
    return isinstance(dim, str) and not _MADE_UP.match(dim)


def _and(problem: str | None, more: str) -> str:
    return more if problem is None else f"{problem}; {more}"


def _shape_str(shape: tuple[Dim, ...] | None) -> str:
    if shape is None:
        return "?"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _merged_shape(
    declared: tuple[Dim, ...] | None, inferred: tuple[Dim, ...] | None, symbols: set[str]
) -> tuple[Dim, ...] | None:
    """The declared shape, its unknown dimensions (or all of it) filled in from shape inference.

    A declared size or symbol wins: it is what the model promises the runtime and PREDICT. Of the
    inferred symbols only the inputs' (``symbols``) mean something; the others are the ones inference
    makes up for a size it cannot tell (``unk__0``), so they stay unknown.
    """
    if inferred is not None:
        inferred = tuple(None if isinstance(i, str) and i not in symbols else i for i in inferred)
    if declared is None:
        return inferred
    if inferred is None or len(inferred) != len(declared):
        return declared
    return tuple(i if d is None else d for d, i in zip(declared, inferred))


def _inferred_output_shapes(model: onnx.ModelProto) -> dict[str, tuple[Dim, ...] | None]:
    """Output name -> shape from ONNX shape inference (strict mode, else lenient; ``{}`` if both fail).

    Inference runs on a copy of the serialized model, so ``model`` is untouched.
    """
    import onnx

    from onnxgate.signature import Signature

    for strict in (True, False):
        try:
            # strict: without copying the weights (infer_shapes_strict); lenient, only for a model strict
            # inference refuses, on the whole model
            inferred = (infer_shapes_strict(model) if strict
                        else onnx.shape_inference.infer_shapes(serialize(model), strict_mode=False))
        except Exception:  # a model inference cannot read fails model_wellformed, not this check
            continue
        return {s.name: s.shape for s in Signature.from_model(inferred).outputs if s.is_tensor}
    return {}


class _LoadFailure(str):
    """Why the model could not be run to count rows (not the model's fault here: operators_supported reports it)."""


def _probe_rows(model: onnx.ModelProto, sig: Signature, sizes: Sequence[int] = ROW_PROBE_SIZES
                ) -> tuple[dict[str, list[tuple[int, ...]]], str | None, str | None]:
    """Run the model on ``sizes`` rows of zeros (or ones, or a category's text); (output name -> shape per size,
    failure, what the runs that answered were fed: ``"zeros"``, ``"ones"``, ``"zeros, 'red' in 'color' (...)"``).

    The failure is a :class:`_LoadFailure` when the model cannot be run at all (an input type without
    zeros, a model onnxruntime cannot load), else the error of the run that failed, naming the batch size and
    every feed tried. What was fed is None when nothing ran.
    """
    import numpy as np

    from onnxgate.signature import numpy_dtype_for

    try:
        sess = runtime.session(runnable(model), spinning=False)  # operators_supported's, within a validation
    except Exception:
        return {}, _LoadFailure("onnxruntime cannot load the model (operators_supported says why)"), None
    found: dict[str, list[tuple[int, ...]]] = {s.name: [] for s in sig.outputs}
    names = [s.name for s in sig.outputs]
    fed: list[str] = []
    for n in sizes:
        feeds: dict[str, Any] = {}
        for spec in sig.inputs:
            if not spec.is_tensor:
                return {}, _LoadFailure(f"input {spec.name!r} is {spec.type_str}, which has no zeros to feed"), None
            dims = (n, *(d if isinstance(d, int) else 1 for d in (spec.shape or (None, None))[1:]))
            try:
                dtype = numpy_dtype_for(spec.elem_type)
            except (ValueError, TypeError):  # bfloat16 (UnsupportedModelError), float8, int4: numpy has none
                return {}, _LoadFailure(f"input {spec.name!r} is {spec.elem_type}, which numpy cannot hold, so "
                                        "onnxgate cannot feed it"), None
            feeds[spec.name] = np.full(dims, "", dtype=object) if spec.elem_type == "string" else np.zeros(dims, dtype)
        # a model may refuse zeros (an integer division by an input) and score real rows: ones too, and text its
        # encoders know (a OneHotEncoder(handle_unknown='error') refuses '': a regressor's [?,1] output behind one
        # failed as "does not tell its row count", though it scores one row per row; helper-254), before the
        # model is said to fail on a batch
        ones = {k: v if v.dtype == object else np.ones_like(v) for k, v in feeds.items()}
        known = {spec.name: _category_read(model.graph, spec.name) for spec in sig.inputs
                 if spec.elem_type == "string"}
        texts = {k: np.full(v.shape, known[k], dtype=object) if known.get(k) is not None else v
                 for k, v in feeds.items()}
        tries = [feeds, ones] + ([texts] if any(v is not None for v in known.values()) else [])
        said = _feeds_said(sig, known)[:len(tries)]
        results, err, which = _first_run(sess, names, tries)
        if results is None:
            text = " ".join(str(err).split())
            tried, *more = dict.fromkeys(said)  # a model of text inputs only has no ones to feed
            tried += f" (and of {', and of '.join(more)})" if more else ""
            return {}, f"onnxruntime fails on a batch of {n} rows of {tried}: {text[:300]}", None
        if said[which] not in fed:
            fed.append(said[which])
        for name, value in zip(names, results):
            found[name].append(tuple(int(d) for d in np.shape(value)))
    return found, None, " or ".join(fed)


def _feeds_said(sig: Signature, known: dict[str, str | None]) -> list[str]:
    """What each feed :func:`_probe_rows` tries holds, in the order it tries them: zeros (empty text in a text
    input), ones, then a text its encoder knows in each text input an encoder reads."""
    texts = [s.name for s in sig.inputs if s.elem_type == "string"]
    numeric = len(texts) < len(sig.inputs)

    def holding(number: str) -> str:
        if not texts:
            return number
        return f"{number} and empty text" if numeric else "empty text"

    categories = ", ".join(f"{known[name]!r} in {name!r}" for name in texts if known.get(name) is not None)
    return [holding("zeros"), holding("ones"),
            f"{'zeros, ' if numeric else ''}{categories} (a category its encoder knows)"]


def _first_run(sess: Any, names: list[str], tries: Sequence[dict[str, Any]]
               ) -> tuple[Any, Exception | None, int]:
    """The outputs of the first of ``tries`` (feeds) the session runs and its index, and None with the first
    one's error when none runs."""
    first: Exception | None = None
    for which, feeds in enumerate(tries):
        try:
            return sess.run(names, feeds), None, which
        except Exception as err:
            first = first or err
    return None, first, -1


#: Operators that pass an input's text on unchanged in value, followed to the encoder reading it.
_TEXT_PASSING = ("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Gather", "Slice", "Concat", "Transpose")


def _category_read(graph: Any, name: str) -> str | None:
    """A text the first encoder reading the input ``name`` knows as a category (a OneHotEncoder's or
    CategoryMapper's categories, a LabelEncoder's keys), following the operators that pass text on; None when
    no encoder reads it."""
    names = {name}
    for node in graph.node:  # topological: a value is read after it is written
        if not names & set(node.input):
            continue
        for attr in node.attribute:
            if attr.name in ("cats_strings", "keys_strings", "classes_strings") and attr.strings:
                return str(attr.strings[0].decode("utf-8", "replace"))
        if node.op_type in _TEXT_PASSING:
            names.update(node.output)
    return None


def _probed_problem(shown: str, shapes: list[tuple[int, ...]], sizes: Sequence[int] = ROW_PROBE_SIZES,
                    *, fed: str = "zeros") -> str | None:
    """The problem of an output (declared ``shown``) that returned ``shapes`` for ``sizes`` rows of ``fed``."""
    got = ", ".join(f"[{','.join(map(str, s))}] for {n} rows" for s, n in zip(shapes, sizes))
    where = f"shape {shown} does not tell its row count; run on rows of {fed} it returned {got}"
    if any(not s or s[0] != n for s, n in zip(shapes, sizes)):
        return f"{where}, not one row per input row"
    if any(len(s) > 2 or (len(s) == 2 and s[1] != 1) for s in shapes):
        return f"{where}, not one value per row"
    return None


def check_batch_axis_dynamic(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every input and output has a dynamic first axis, so a request can carry any number of rows.

    Outputs whose rank is unknown are listed in ``details["unverified"]`` and do not fail: nothing
    fixes their batch size.

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> check_batch_axis_dynamic(fixed_batch_model, targets.get("container")).passed  # doctest: +SKIP
    False
    """
    sig = _signature(model)
    offenders: list[dict[str, Any]] = []
    unverified: list[str] = []
    batch_symbols = {s.shape[0] for s in sig.inputs if s.is_tensor and s.shape and isinstance(s.shape[0], str)}
    elsewhere = 0  # outputs whose rows run along another axis (an RNN's hidden state, [layers, N, H])
    for role, specs in (("input", sig.inputs), ("output", sig.outputs)):
        for spec in specs:
            if not spec.is_tensor:
                continue
            if spec.shape is None:
                if role == "input":
                    offenders.append({"role": role, "name": spec.name, "shape": "?", "problem": "rank unknown"})
                else:
                    unverified.append(spec.name)
            elif not spec.shape:
                offenders.append(
                    {"role": role, "name": spec.name, "shape": "[]", "problem": "a scalar has no batch axis"}
                )
            elif isinstance(spec.shape[0], int):
                problem = f"first axis fixed to {spec.shape[0]}"
                axis = next((i for i, d in enumerate(spec.shape) if d in batch_symbols), None)
                if role == "output" and axis is not None:
                    elsewhere += 1
                    problem += (f"; its rows run along axis {axis} ({spec.shape[axis]}), and a service returns "
                                "an output's rows on its first axis")
                offenders.append({"role": role, "name": spec.name, "shape": spec.shape_str(), "problem": problem})
    fix = ". Export with a dynamic first dimension (torch dynamic_shapes, tf.TensorSpec([None, ...]))."
    if offenders and elsewhere == len(offenders):
        fix = (". Return such an output with its rows first (PyTorch: h_n.transpose(0, 1)) or leave it out of the "
               "model's outputs.")
    return _verdict(
        "batch_axis_dynamic",
        [f"{o['role']} {o['name']!r} {o['shape']}: {o['problem']}" for o in offenders],
        {"offenders": offenders, "unverified": unverified},
        problem="input(s)/output(s) have no dynamic batch axis",
        fix=fix,
        passed="every input and output has a dynamic batch axis",
    )

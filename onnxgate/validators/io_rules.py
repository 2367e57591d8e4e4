"""Input and output rules of a target: element types, one input per column, tensor-only outputs,
one value per row, a dynamic batch axis.

The checks read the model's :class:`~onnxgate.signature.Signature` and name every offending input
or output in the message and in ``details["offenders"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxgate.sql_rules import SQL_IDENTIFIER_MAX, SQL_RESERVED, TYPE_FIXES, sql_name_problem
from onnxgate.validators.report import CheckResult
from onnxgate.validators.structure import _verdict

if TYPE_CHECKING:
    import onnx

    from onnxgate.signature import Signature, TensorSpec
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

def _signature(model: onnx.ModelProto) -> Signature:
    from onnxgate.signature import Signature

    return Signature.from_model(model)


def _types_check(
    name: str, specs: tuple[TensorSpec, ...], allowed: frozenset[str] | None, target: Target, what: str
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
        problem=f"{what} of a type target {target.name!r} does not take",
        fix=f"; allowed: {', '.join(sorted(allowed or ()))}",
        passed=f"{len(rows)} {what}: {mapped}" if rows else f"no {what}",
    )


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
    "FAILED inputs_element_types  1 inputs of a type target 'sql-edge-2.0' does not take: 'flag' is bool ..."
    """
    return _types_check("inputs_element_types", _signature(model).inputs, target.input_types, target, "inputs")


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


def check_inputs_one_per_column(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every input is one table column: shaped ``[N,1]`` or ``[1,1]``, named like a SQL column.

    A ``[N,k]`` input is reported with its ``k`` (PREDICT refuses it: "Input column 1 (1-based) has
    shape [1,2] which is not supported"). Names that differ only in case collide in SQL.

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
    seen: dict[str, str] = {}
    inputs = _signature(model).inputs
    for spec in inputs:
        problems: list[str] = []
        width: int | str | None = None
        if not spec.is_tensor:
            problems.append(f"{spec.type_str} is not a tensor")
        elif spec.shape is None:
            problems.append("its shape is unknown; expected [N,1]")
        elif spec.rank != 2:
            problems.append(f"rank {spec.rank} {spec.shape_str()}; expected [N,1]")
        else:
            width = spec.shape[1]
            if width != 1:
                problems.append(f"{_values_per_row(spec, width)}; expected [N,1]")
        naming = sql_name_problem(spec.name)
        if naming:
            problems.append(f"name {naming}")
        folded = spec.name.lower()
        if folded in seen:
            problems.append(f"same SQL column name as {seen[folded]!r} (SQL names ignore case)")
        seen.setdefault(folded, spec.name)
        if problems:
            offenders.append({"name": spec.name, "shape": spec.shape_str(), "width": width, "problems": problems})
    details = {"inputs": [s.describe() for s in inputs], "offenders": offenders}
    return _verdict(
        "inputs_one_per_column",
        [f"{o['name']!r}: {', '.join(o['problems'])}" for o in offenders],
        details,
        problem="input(s) are not one SQL column each",
        fix=". Convert with a DataFrame sample (one column per feature) or onnxgate.adapt(model, target).",
        passed=f"{len(inputs)} inputs, one [N,1] column each",
    )


def _values_per_row(spec: TensorSpec, width: int | str | None) -> str:
    """The problem of a rank-2 tensor whose second axis (``width``) is not 1, naming its ``k``."""
    what = f"k={width}" if isinstance(width, int) else f"a variable width {width!r}"
    return f"shape {spec.shape_str()} holds {what} values per row"


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
        fix=". Convert without ZipMap (onnxgate's default; skl2onnx options={id(clf): {'zipmap': False}}).",
        passed=f"{len(outputs)} outputs, all tensors",
    )


def _is_zipmap(model: onnx.ModelProto, output: str) -> bool:
    return any(n.op_type == "ZipMap" and output in n.output for n in model.graph.node)


def check_outputs_one_value_per_row(model: onnx.ModelProto, target: Target) -> CheckResult:
    """Every output holds one value per row: ``[N]``, ``[N,1]`` or ``[1,1]``.

    ``PREDICT ... WITH (col type)`` maps each output to one column, so ``[N,k]`` (e.g. class
    probabilities) is reported with its ``k``.

    Parameters
    ----------
    model : onnx.ModelProto
    target : Target

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> r = check_outputs_one_value_per_row(clf_model, targets.get("sql-edge-2.0"))  # doctest: +SKIP
    >>> r.details["offenders"][0]["width"]  # doctest: +SKIP
    3
    """
    outputs = _signature(model).outputs
    offenders: list[dict[str, Any]] = []
    for spec in outputs:
        problem: str | None = None
        width: int | str | None = None
        if not spec.is_tensor:
            problem = f"{spec.type_str} is not a tensor"
        elif spec.shape is None:
            problem = "its shape is unknown; expected [N] or [N,1]"
        elif spec.rank == 1:
            width = 1
        elif spec.rank == 2:
            width = spec.shape[1]
            if width != 1:
                problem = _values_per_row(spec, width)
        else:
            problem = f"rank {spec.rank} {spec.shape_str()}; expected [N] or [N,1]"
        naming = sql_name_problem(spec.name) if target.is_sql else None
        if naming:
            problem = (problem + "; " if problem else "") + f"name {naming}"
        if problem:
            offenders.append({"name": spec.name, "shape": spec.shape_str(), "width": width, "problem": problem})
    details = {"outputs": [s.describe() for s in outputs], "offenders": offenders}
    return _verdict(
        "outputs_one_value_per_row",
        [f"{o['name']!r}: {o['problem']}" for o in offenders],
        details,
        problem="output(s) are not one value per row",
        fix=". Split them into [N,1] outputs with onnxgate.adapt(model, target).",
        passed=f"{len(outputs)} outputs, one value per row each",
    )


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
                offenders.append(
                    {
                        "role": role,
                        "name": spec.name,
                        "shape": spec.shape_str(),
                        "problem": f"first axis fixed to {spec.shape[0]}",
                    }
                )
    return _verdict(
        "batch_axis_dynamic",
        [f"{o['role']} {o['name']!r} {o['shape']}: {o['problem']}" for o in offenders],
        {"offenders": offenders, "unverified": unverified},
        problem="input(s)/output(s) have no dynamic batch axis",
        fix=". Export with a dynamic first dimension (torch dynamic_shapes, tf.TensorSpec([None, ...])).",
        passed="every input and output has a dynamic batch axis",
    )

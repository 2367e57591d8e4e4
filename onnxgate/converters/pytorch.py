"""PyTorch converter, through ``torch.onnx.export``.

Policy:

* Opsets 18 and newer go through the dynamo exporter (``torch.export`` + onnxscript), below 18
  through the TorchScript exporter. The dynamo exporter asked for an opset below 18 runs
  ``onnx.version_converter`` down and, when that fails, only logs and keeps opset 18, so it is never
  used there; ``options={"dynamo": True}`` below 18 raises :class:`OpsetError`.
* Measured with torch 2.13 / onnxscript 0.7 / onnx 1.23: the TorchScript exporter writes opsets
  7-23 (24+ raises "Unsupported onnx_opset_version"); the dynamo exporter honours 18-28.
* A ``torch.export.ExportedProgram`` can only go through the dynamo exporter (18+), a TorchScript
  ``ScriptModule`` only through the TorchScript exporter (up to 23).
* Every input and output gets a dynamic batch axis named ``N``; inputs are called ``input``
  (``input_0``, ``input_1``... for several, or the keys of a dict sample), outputs ``output``
  (``output_0``...), unless ``options={"input_names": [...], "output_names": [...]}``.
* The model is put in eval mode for the export and put back in the mode it was in.
* The file is one self-contained model (no ``.onnx.data`` side file).
* Before exporting, the model runs on the sample's first ``PROBE_ROWS`` rows, then (TorchScript
  exporter) on one more: a sample that does not fit is an :class:`InvalidDataError`, a forward()
  that hard-codes the batch size an :class:`UnsupportedModelError`, and the TorchScript exporter is
  told which axis of each output grows with the batch. The export traces the whole sample; when it
  fails, the whole sample is run to tell a data error from an exporter error. A TorchScript export
  is then run in onnxruntime at ``PROBE_ROWS`` rows and one more, which proves its batch axis
  dynamic. Only a failing probe runs the whole sample, to say which of the two is wrong.
* Options: ``input_names``, ``output_names``, ``dynamo`` (force an exporter), ``optimize`` (run
  onnxscript's optimizer after a dynamo export; default True).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import threading
import warnings
import weakref
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.converters._base import Converter, RawConversion
from onnxgate.errors import (
    InvalidDataError,
    OpsetError,
    UnsupportedModelError,
    UntrustedFileError,
    missing_dependency,
)

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.signature import Signature

__all__ = ["PyTorchConverter", "export_torch_module"]

#: What the TorchScript exporter (``dynamo=False``) of torch 2.13 writes; 24+ raises.
TORCHSCRIPT_MIN_OPSET = 7
TORCHSCRIPT_MAX_OPSET = 23
#: What the dynamo exporter honours. Below 18 it silently keeps 18 when onnx's down-converter fails.
DYNAMO_MIN_OPSET = 18
DYNAMO_MAX_OPSET = 28
#: Name of the dynamic batch axis written on every input and output.
BATCH_DIM = "N"
#: Conversion options this converter understands.
OPTIONS = ("input_names", "output_names", "dynamo", "optimize")
#: Rows of the sample the pre- and post-export probes run on (plus one for the batch-axis probe).
#: Two, not one: a batch of 1 hides a batch axis that a squeeze or a broadcast would drop.
PROBE_ROWS = 2

#: Example inputs seen by ``convert`` per module, so ``save_native`` can run ``torch.export`` later.
_EXAMPLES: weakref.WeakKeyDictionary[Any, tuple[Any, ...]] = weakref.WeakKeyDictionary()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: How deep this thread is in :func:`_quiet`: only the outermost level does the (costly) work.
_QUIET_DEPTH = threading.local()


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise missing_dependency("torch", "torch", "Converting a PyTorch model") from err
    return torch


def _kind(model: Any) -> str:
    """``"program"`` (ExportedProgram), ``"script"`` (TorchScript) or ``"module"`` (nn.Module)."""
    torch = _torch()
    if isinstance(model, torch.export.ExportedProgram):
        return "program"
    if isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        return "script"
    if isinstance(model, torch.nn.Module):
        return "module"
    raise UnsupportedModelError(
        f"expected a torch.nn.Module, a torch.export.ExportedProgram or a TorchScript module; found "
        f"{type(model).__module__}.{type(model).__qualname__}",
        framework="pytorch",
    )


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """Eval mode for the duration, then every submodule's ``training`` flag as it was."""
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        yield
        return
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
    except NotImplementedError:  # modules frozen in one mode (torch.export's) refuse eval()
        yield
        return
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress prints, deprecation warnings and registry logs.

    Re-entrant: inside an outer ``_quiet`` it does nothing. Each ``Logger.setLevel`` clears every
    logger's cache, so one conversion silences once (about 0.12 ms per level, measured), not once
    per probe.
    """
    depth = getattr(_QUIET_DEPTH, "value", 0)
    if depth:
        yield
        return
    _QUIET_DEPTH.value = 1
    try:
        with _silenced():
            yield
    finally:
        _QUIET_DEPTH.value = 0


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    # torch 2.13's TorchScript exporter tests `_C._jit_is_onnx_log_enabled` without calling it
    # (torch/onnx/_internal/torchscript_exporter/utils.py, setup_onnx_logging), so ONNX logging is
    # always on and a failed export dumps the whole TorchScript graph on stderr from C++. Our
    # error message says what failed; keep stderr to one line.
    utils = _torchscript_utils()
    original = getattr(utils, "setup_onnx_logging", None) if utils is not None else None
    if original is not None:
        utils.setup_onnx_logging = _no_onnx_logging
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        if original is not None:
            utils.setup_onnx_logging = original
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _torchscript_utils() -> Any:
    try:
        from torch.onnx._internal.torchscript_exporter import utils
    except ImportError:  # another torch layout: nothing to patch
        return None
    return utils


@contextlib.contextmanager
def _no_onnx_logging(verbose: bool) -> Iterator[None]:
    yield


def _float_dtype(model: Any) -> Any:
    """The floating dtype the model computes in (its first floating parameter/buffer), or None."""
    torch = _torch()
    if isinstance(model, torch.export.ExportedProgram):
        tensors: Iterator[Any] = iter(model.state_dict.values())
    elif isinstance(model, torch.nn.Module):
        tensors = iter([*model.parameters(), *model.buffers()])
    else:
        return None
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
            return tensor.dtype
    return None


def _program_inputs(program: Any) -> list[Any]:
    """The ``meta["val"]`` fake tensors of an ExportedProgram's user inputs, in order."""
    user = set(program.graph_signature.user_inputs)
    return [node.meta.get("val") for node in program.graph.nodes if node.op == "placeholder" and node.name in user]


def _as_tensor(value: Any, what: str) -> Any:
    import numpy as np

    torch = _torch()
    if isinstance(value, torch.Tensor):
        return value.detach()
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise InvalidDataError(
            f"{what} must be numeric (float, int or bool) for a PyTorch model, found dtype {array.dtype}",
        )
    return torch.from_numpy(np.ascontiguousarray(array))


def _sample_tensors(model: Any, sample: Any) -> tuple[tuple[Any, ...], list[str] | None, list[str]]:
    """Turn a sample into positional example tensors, names implied by a dict, and warnings.

    A dict is bound to ``forward``'s parameters so the tensors are in the order the exporter sees.
    Floating tensors are cast to the dtype the model computes in (float64 data into a float32 net).
    """
    import inspect

    from onnxgate._data import is_dataframe

    warns: list[str] = []
    if sample is None:
        raise InvalidDataError(
            "converting a PyTorch model needs a sample input (array, tensor, tuple of them or dict) "
            "to trace it; pass convert(model, X[:5])"
        )
    names: list[str] | None = None
    if is_dataframe(sample):
        sample = sample.to_numpy()
    if isinstance(sample, Mapping):
        names = [str(k) for k in sample]
        values: list[Any] = list(sample.values())
        forward = getattr(model, "forward", None)
        if _kind(model) == "module" and forward is not None:
            try:
                bound = inspect.signature(forward).bind(**{str(k): v for k, v in sample.items()})
            except TypeError as err:
                raise InvalidDataError(
                    f"the sample's keys {names} do not match {type(model).__name__}.forward's parameters "
                    f"({err}); name the dict's keys after forward's arguments",
                ) from err
            names = list(bound.arguments)
            values = list(bound.arguments.values())
    elif isinstance(sample, (tuple, list)) and not _is_numeric_nested_list(sample):
        values = list(sample)
    else:
        values = [sample]
    tensors = [_as_tensor(v, f"sample input {i}") for i, v in enumerate(values)]

    if _kind(model) == "program":
        expected = _program_inputs(model)
        if len(expected) != len(tensors):
            raise InvalidDataError(
                f"the exported program takes {len(expected)} input(s); the sample has {len(tensors)}",
            )
        for i, (want, got) in enumerate(zip(expected, tensors)):
            if want is None:
                continue
            if got.dtype != want.dtype and got.is_floating_point() and want.is_floating_point():
                warns.append(f"sample input {i} cast from {got.dtype} to {want.dtype}, the program's input type")
                tensors[i] = got.to(want.dtype)
            wshape = [d if isinstance(d, int) else None for d in want.shape]
            if len(wshape) != got.dim() or any(
                w is not None and w != g for ax, (w, g) in enumerate(zip(wshape, got.shape)) if ax > 0
            ):
                raise InvalidDataError(
                    f"the exported program's input {i} has shape {wshape}; the sample has {list(got.shape)}. "
                    "Pass a sample with the shape the program was exported with.",
                )
    else:
        dtype = _float_dtype(model)
        for i, tensor in enumerate(tensors):
            if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
                warns.append(f"sample input {i} cast from {tensor.dtype} to {dtype}, the dtype the model computes in")
                tensors[i] = tensor.to(dtype)
    return tuple(tensors), names, warns


def _is_numeric_nested_list(sample: Sequence[Any]) -> bool:
    """A list of numbers (or of lists of numbers) is one array, not several inputs."""
    first = sample[0] if len(sample) else None
    return isinstance(sample, list) and (
        isinstance(first, (int, float)) or (isinstance(first, list) and not hasattr(first, "shape"))
    )


def _leaves(outputs: Any) -> list[Any]:
    """Tensor leaves of a model's output, in the order the exporters flatten them (pytree order)."""
    torch = _torch()
    from torch.utils._pytree import tree_leaves

    return [leaf for leaf in tree_leaves(outputs) if isinstance(leaf, torch.Tensor)]


def _call(model: Any, args: tuple[Any, ...]) -> Any:
    torch = _torch()
    if isinstance(model, torch.export.ExportedProgram):
        # The program's module is frozen in the mode it was exported in; it refuses eval()/train().
        with torch.no_grad():
            return model.module()(*args)
    with torch.no_grad(), _eval_mode(model):
        return model(*args)


def _head(args: tuple[Any, ...], rows: int = PROBE_ROWS) -> tuple[Any, ...]:
    """The first ``rows`` rows of every batched tensor (0-d tensors as they are)."""
    return tuple(a[:rows] if a.dim() else a for a in args)


def _rows(args: tuple[Any, ...]) -> int:
    return next((len(a) for a in args if a.dim()), 0)


def _grown(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The same tensors with their first row repeated once more."""
    torch = _torch()
    return tuple(torch.cat([a, a[:1]]) if a.dim() else a for a in args)


def _dry_run(model: Any, args: tuple[Any, ...], *, whole: bool = False) -> tuple[tuple[Any, ...], list[Any]]:
    """Run the model on the sample's first rows: a clear data error here beats a traceback from the tracer.

    Returns the probe tensors (``PROBE_ROWS`` rows) and the output leaves on them. When the probe
    fails, the whole sample is run: if that fails too the sample is wrong (:class:`InvalidDataError`),
    otherwise forward() only runs at the sample's batch size (:class:`UnsupportedModelError`).
    ``whole`` runs the whole sample instead (an ExportedProgram: a program with a fixed batch must
    reach the export, whose error says how to export it with a dynamic one).
    """
    probe = args if whole else _head(args)
    if _rows(probe) == _rows(args):
        return probe, _run_sample(model, args)
    try:
        with _quiet():
            outputs = _call(model, probe)
    except Exception as err:
        _run_sample(model, args)  # raises InvalidDataError when the sample itself does not fit
        raise _fixed_batch_error(model, args, err) from err
    return probe, _check_leaves(model, outputs)


def _fixed_batch_error(model: Any, args: tuple[Any, ...], err: BaseException) -> UnsupportedModelError:
    """The model runs on the whole sample but failed (``err``) on another batch size: say which."""
    rows = _rows(args)
    failed = _rows(_head(args))
    try:
        with _quiet():
            _call(model, _grown(args))
    except Exception as grown_err:  # the usual case: report the sample's size and one more
        failed, err = rows + 1, grown_err
    return UnsupportedModelError(
        f"{type(model).__name__} fixes the batch size: it runs on the sample's {rows} row(s) but "
        f"not on {failed} ({type(err).__name__}: {_summary(err)[:200]}). Write forward() without a "
        "hard-coded batch size (x.view(x.shape[0], -1) or torch.flatten(x, 1) instead of "
        "x.view(4, -1)).",
        framework="pytorch",
    )


def _run_sample(model: Any, args: tuple[Any, ...]) -> list[Any]:
    """Run the model on ``args``; :class:`InvalidDataError` when it cannot, the output leaves otherwise."""
    try:
        with _quiet():
            outputs = _call(model, args)
    except Exception as err:
        shapes = [list(a.shape) for a in args]
        first = _ANSI.sub("", str(err)).strip().splitlines()
        raise InvalidDataError(
            f"{type(model).__name__} could not run on the sample (input shapes {shapes}): "
            f"{type(err).__name__}: {first[0] if first else ''}. Pass a sample with the shape and "
            "dtype forward() expects (for example the right number of features).",
        ) from err
    return _check_leaves(model, outputs)


def _check_leaves(model: Any, outputs: Any) -> list[Any]:
    leaves = _leaves(outputs)
    if not leaves:
        raise UnsupportedModelError(
            f"{type(model).__name__} returned no tensor on the sample (found {type(outputs).__name__}); "
            "an ONNX model needs at least one tensor output",
            framework="pytorch",
        )
    return leaves


def _output_batch_axes(model: Any, args: tuple[Any, ...], leaves: list[Any]) -> list[int | None]:
    """Which axis of each output grows with the batch: run again with one more row and compare.

    The TorchScript exporter needs the dynamic axes spelled out, and axis 0 is not always the one
    (a GRU's hidden state is ``[layers, N, hidden]``).
    """
    try:
        with _quiet():
            more = _leaves(_call(model, _grown(args)))
    except Exception as err:
        rows = _rows(args)
        raise UnsupportedModelError(
            f"{type(model).__name__} fixes the batch size: it runs on {rows} row(s) but "
            f"not on {rows + 1} ({type(err).__name__}: {_summary(err)[:200]}). Write forward() without a "
            "hard-coded batch size (x.view(x.shape[0], -1) or torch.flatten(x, 1) instead of "
            "x.view(4, -1)).",
            framework="pytorch",
        ) from err
    if len(more) != len(leaves):
        return [0] * len(leaves)
    axes: list[int | None] = []
    for before, after in zip(leaves, more):
        changed = [ax for ax, (b, a) in enumerate(zip(before.shape, after.shape)) if b != a]
        axes.append(changed[0] if changed else None)
    return axes


def _names(given: Any, default_single: str, count: int, what: str) -> list[str]:
    if given is None:
        return [default_single] if count == 1 else [f"{default_single}_{i}" for i in range(count)]
    if isinstance(given, str):
        given = [given]
    names = [str(n) for n in given]
    if len(names) != count or len(set(names)) != len(names):
        raise InvalidDataError(
            f"expected {count} distinct {what} names, found {names!r}; the model has {count} {what}(s)",
        )
    return names


def _summary(err: BaseException) -> str:
    """The useful line of an exporter error (the dynamo exporter buries it under advice)."""
    text = _ANSI.sub("", str(err))
    for line in text.splitlines():
        if "No ONNX function found" in line or "is not supported" in line:
            return line.split(">: ", 1)[-1].strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if "## Exception summary" in text:
        tail = text.split("## Exception summary", 1)[1]
        for line in tail.splitlines():
            if line.strip().startswith("<class"):
                return line.split(">: ", 1)[-1].strip()[:400]
    return (lines[0] if lines else type(err).__name__)[:400]


def _export_error(model: Any, err: BaseException, *, opset: int, dynamo: bool) -> Exception:
    text = _ANSI.sub("", str(err))
    exporter = "dynamo" if dynamo else "TorchScript"
    if "Unsupported onnx_opset_version" in text:
        return OpsetError(
            f"the TorchScript exporter cannot write opset {opset}: it writes opsets "
            f"{TORCHSCRIPT_MIN_OPSET}-{TORCHSCRIPT_MAX_OPSET}. Ask for opset {TORCHSCRIPT_MAX_OPSET} or lower.",
            opset=opset,
            framework="pytorch",
            max_opset=TORCHSCRIPT_MAX_OPSET,
        )
    if dynamo and ("Constraints violated" in text or "specialized" in text):
        return UnsupportedModelError(
            f"{type(model).__name__} fixes the batch size (torch.export could not keep axis 0 dynamic: "
            f"{_summary(err)}). Write forward() without a hard-coded batch size "
            "(x.view(x.shape[0], -1) or torch.flatten(x, 1) instead of x.view(4, -1)).",
            framework="pytorch",
        )
    other = (
        "the TorchScript exporter (opsets below 18, or options={'dynamo': False})"
        if dynamo
        else "the dynamo exporter (opset 18 or higher)"
    )
    return UnsupportedModelError(
        f"the PyTorch {exporter} exporter could not convert {type(model).__name__} at opset {opset}: "
        f"{_summary(err)}. Replace the operator with ones ONNX supports, register a custom "
        f"translation, or try {other}.",
        framework="pytorch",
        opset=opset,
    )


def _choose_dynamo(kind: str, opset: int, dynamo: bool | None) -> bool:
    """Which exporter to use; raises when the one forced cannot honour ``opset``."""
    if dynamo is not None and not isinstance(dynamo, bool):
        raise UnsupportedModelError(f"option dynamo must be True, False or None, found {dynamo!r}")
    if kind == "program":
        if dynamo is False:
            raise UnsupportedModelError(
                "a torch.export.ExportedProgram can only go through the dynamo exporter; drop "
                "options={'dynamo': False}",
                framework="pytorch",
            )
        dynamo = True
    elif kind == "script":
        if dynamo is True:
            raise UnsupportedModelError(
                "a TorchScript module can only go through the TorchScript exporter; drop "
                "options={'dynamo': True} or pass the original nn.Module",
                framework="pytorch",
            )
        dynamo = False
    elif dynamo is None:
        dynamo = opset >= DYNAMO_MIN_OPSET
    low, high = (DYNAMO_MIN_OPSET, DYNAMO_MAX_OPSET) if dynamo else (TORCHSCRIPT_MIN_OPSET, TORCHSCRIPT_MAX_OPSET)
    if not low <= opset <= high:
        name = "dynamo" if dynamo else "TorchScript"
        if kind == "module":
            alt = (
                f"; use options={{'dynamo': False}} (TorchScript, opsets {TORCHSCRIPT_MIN_OPSET}-"
                f"{TORCHSCRIPT_MAX_OPSET}) for opset {opset}"
                if dynamo and opset <= TORCHSCRIPT_MAX_OPSET
                else f"; drop the dynamo option (dynamo, opsets {DYNAMO_MIN_OPSET}-{DYNAMO_MAX_OPSET})"
                if not dynamo and opset >= DYNAMO_MIN_OPSET
                else ""
            )
        else:
            alt = ""
        raise OpsetError(
            f"the PyTorch {name} exporter writes opsets {low}-{high}, but opset {opset} was asked for "
            f"(highest it can reach: {high}){alt}",
            opset=opset,
            framework="pytorch",
            max_opset=high,
        )
    return dynamo


def _export(
    model: Any,
    args: tuple[Any, ...],
    *,
    opset: int,
    input_names: list[str],
    output_names: list[str],
    dynamo: bool,
    optimize: bool = True,
    output_axes: Sequence[int | None] = (),
) -> onnx.ModelProto:
    torch = _torch()
    import onnx

    try:
        with _quiet(), _eval_mode(model):
            if dynamo:
                kwargs: dict[str, Any] = {}
                if not isinstance(model, torch.export.ExportedProgram):
                    batch = torch.export.Dim(BATCH_DIM)
                    kwargs["dynamic_shapes"] = tuple({0: batch} if a.dim() else None for a in args)
                program = torch.onnx.export(
                    model,
                    args,
                    None,
                    dynamo=True,
                    opset_version=opset,
                    input_names=input_names,
                    output_names=output_names,
                    external_data=False,
                    optimize=optimize,
                    verbose=False,
                    **kwargs,
                )
                proto = program.model_proto
            else:
                buffer = io.BytesIO()
                axes = {n: {0: BATCH_DIM} for n, a in zip(input_names, args) if a.dim()}
                axes.update({n: {ax: BATCH_DIM} for n, ax in zip(output_names, output_axes) if ax is not None})
                torch.onnx.export(
                    model,
                    args,
                    buffer,
                    dynamo=False,
                    opset_version=opset,
                    input_names=input_names,
                    output_names=output_names,
                    dynamic_axes=axes,
                    verbose=False,
                )
                proto = onnx.load_from_string(buffer.getvalue())
    except (OpsetError, UnsupportedModelError):
        raise
    except Exception as err:
        # The probes ran on a few rows only: a row of the sample that forward() cannot take is a
        # data error, not an exporter one (raises InvalidDataError).
        _run_sample(model, args)
        raise _export_error(model, err, opset=opset, dynamo=dynamo) from err
    return proto


def _is_standard_op(op_type: str) -> bool:
    from onnx import defs

    return bool(defs.has(op_type))


def _stamped_opset(proto: onnx.ModelProto) -> int:
    from onnxgate._onnx import model_opsets

    return model_opsets(proto).get("", 0)


def _name_batch_axes(proto: onnx.ModelProto) -> tuple[list[str], list[str]]:
    """Call the symbolic batch axis ``N`` everywhere; list inputs with a fixed first axis and outputs
    with no symbolic axis at all.

    An ExportedProgram names its dynamic batch ``s0``/``batch``..., and a symbol is only a label, so
    the symbol on the inputs' first axis is renamed everywhere it appears in the graph (a GRU's
    hidden state carries it on axis 1).
    """
    symbols: set[str] = set()
    fixed_inputs: list[str] = []
    weights = {init.name for init in proto.graph.initializer}  # below opset 9 (IR 3) weights are inputs too
    for value in proto.graph.input:
        if value.name in weights:
            continue
        dims = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        if not dims:
            continue
        if dims[0].HasField("dim_param"):
            symbols.add(dims[0].dim_param)
        elif dims[0].HasField("dim_value"):
            fixed_inputs.append(f"{value.name!r} (batch {dims[0].dim_value})")
    symbols.discard(BATCH_DIM)
    if symbols:
        for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
            if value.type.HasField("tensor_type"):
                for dim in value.type.tensor_type.shape.dim:
                    if dim.HasField("dim_param") and dim.dim_param in symbols:
                        dim.dim_param = BATCH_DIM
    static_outputs = [
        repr(value.name)
        for value in proto.graph.output
        if value.type.HasField("tensor_type")
        and value.type.tensor_type.HasField("shape")
        and not any(d.HasField("dim_param") for d in value.type.tensor_type.shape.dim)
    ]
    return fixed_inputs, static_outputs


def _check_batch_dynamic(model: Any, proto: onnx.ModelProto, args: tuple[Any, ...], names: list[str]) -> None:
    """Run the file on ``PROBE_ROWS`` rows and on one more; fail if it only runs on the sample's size.

    The TorchScript exporter marks axis 0 dynamic whatever the graph does, so a forward() that
    hard-codes the batch (``x.view(4, -1)``) exports "fine" and breaks on the first other batch.
    Two batch sizes that run, at least one of them not the traced one, prove the axis dynamic.
    The dynamo exporter does not need this: torch.export refuses such a model. When onnxruntime
    cannot run the file at all, not even on the whole sample (missing, or an opset it does not
    implement), the check is left to validation.
    """
    import numpy as np

    try:
        import onnxruntime as ort

        # Graph optimisations and thread pools make up most of a session's start-up (~4 ms against
        # ~0.4 ms for a small net, measured); whether the graph runs at a batch size does not need them.
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception:
        return
    probe = {n: a.numpy() for n, a in zip(names, _head(args))}
    grown = {n: np.concatenate([v, v[:1]]) if v.ndim else v for n, v in probe.items()}
    try:
        session.run(None, probe)
        session.run(None, grown)
        return
    except Exception as err:
        failure = err
    full = {n: a.numpy() for n, a in zip(names, args)}
    batch = _rows(args)
    try:
        session.run(None, full)
    except Exception:
        return
    # Runs on the sample's size only: name the sample's size and one more, as the user sees it.
    failed = batch + 1
    try:
        session.run(None, {n: np.concatenate([v, v[:1]]) if v.ndim else v for n, v in full.items()})
        failed = _rows(_head(args))
    except Exception as err:
        failure = err
    raise UnsupportedModelError(
        f"{type(model).__name__} fixes the batch size: the exported model runs on the sample's "
        f"{batch} row(s) but not on {failed} ({_summary(failure)[:200]}). Write forward() without a "
        "hard-coded batch size (x.view(x.shape[0], -1) or torch.flatten(x, 1) instead of "
        "x.view(4, -1)).",
        framework="pytorch",
    ) from failure


def export_torch_module(
    module: Any,
    example_args: Any,
    *,
    opset: int,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamo: bool | None = None,
) -> onnx.ModelProto:
    """Export a PyTorch module to ONNX at exactly ``opset``, with a dynamic batch axis.

    The policy of :class:`PyTorchConverter` in one call, for other converters built on torch (Keras
    with the torch backend): dynamo exporter from opset 18, TorchScript below; eval mode during the
    export; one self-contained model; the stamped opset checked.

    Parameters
    ----------
    module : torch.nn.Module, torch.export.ExportedProgram or torch.jit.ScriptModule
        The model to export.
    example_args : tensor, array, tuple of them, or dict
        Example inputs (the first axis of each is the batch).
    opset : int
        Default-domain opset to write.
    input_names, output_names : sequence of str, optional
        Graph input/output names; ``input``/``output`` (``input_0``... for several) by default.
    dynamo : bool, optional
        Force the dynamo (18+) or the TorchScript (up to 23) exporter.

    Returns
    -------
    onnx.ModelProto
        The exported model, stamped with ``opset``.

    Raises
    ------
    OpsetError
        The exporter cannot write ``opset`` (the message and ``max_opset`` name the highest it can).
    UnsupportedModelError
        The exporter cannot convert an operator of the module, or the module fixes the batch size.
    InvalidDataError
        The module does not run on ``example_args``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 1)
    >>> proto = export_torch_module(net, torch.zeros(2, 3), opset=17)  # doctest: +SKIP
    >>> [i.name for i in proto.graph.input]  # doctest: +SKIP
    ['input']
    """
    proto, _warnings = _convert(
        module,
        example_args,
        opset=opset,
        input_names=input_names,
        output_names=output_names,
        dynamo=dynamo,
        optimize=True,
    )
    return proto


def _convert(
    model: Any,
    sample: Any,
    *,
    opset: int,
    input_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
    dynamo: bool | None,
    optimize: bool,
) -> tuple[onnx.ModelProto, list[str]]:
    # One _quiet for the probes and the export together (the inner ones then cost nothing).
    with _quiet():
        return _convert_quietly(
            model, sample, opset=opset, input_names=input_names, output_names=output_names,
            dynamo=dynamo, optimize=optimize,
        )


def _convert_quietly(
    model: Any,
    sample: Any,
    *,
    opset: int,
    input_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
    dynamo: bool | None,
    optimize: bool,
) -> tuple[onnx.ModelProto, list[str]]:
    kind = _kind(model)
    use_dynamo = _choose_dynamo(kind, opset, dynamo)
    args, implied, warns = _sample_tensors(model, sample)
    probe, leaves = _dry_run(model, args, whole=kind == "program")
    in_names = _names(input_names if input_names is not None else implied, "input", len(args), "input")
    out_names = _names(output_names, "output", len(leaves), "output")
    proto = _export(
        model,
        args,
        opset=opset,
        input_names=in_names,
        output_names=out_names,
        dynamo=use_dynamo,
        optimize=optimize,
        output_axes=() if use_dynamo else _output_batch_axes(model, probe, leaves),
    )
    stamped = _stamped_opset(proto)
    if stamped != opset:
        exporter = "dynamo" if use_dynamo else "TorchScript"
        high = DYNAMO_MAX_OPSET if use_dynamo else TORCHSCRIPT_MAX_OPSET
        raise OpsetError(
            f"the PyTorch {exporter} exporter wrote opset {stamped} when opset {opset} was asked for; "
            f"onnxgate does not hand back a model at another opset. It writes opsets up to {high}"
            + ("; use options={'dynamo': False} below 18" if use_dynamo and kind == "module" else ""),
            opset=opset,
            framework="pytorch",
            max_opset=high,
        )
    unknown = sorted(
        {n.op_type for n in proto.graph.node if n.domain in ("", "ai.onnx") and not _is_standard_op(n.op_type)}
    )
    if unknown:
        # e.g. GRU/LSTM at opsets 7-8: the TorchScript exporter writes the experimental ConstantFill,
        # which the onnx checker lets through and no runtime implements.
        raise OpsetError(
            f"at opset {opset} the PyTorch {'dynamo' if use_dynamo else 'TorchScript'} exporter writes "
            f"operator(s) {unknown} that are not in the ONNX standard, so no runtime can load the file. "
            "Ask for a higher opset (9 or more for recurrent layers).",
            opset=opset,
            framework="pytorch",
            max_opset=TORCHSCRIPT_MAX_OPSET if kind == "script" else DYNAMO_MAX_OPSET,
        )
    # The dynamo exporter always writes IR 10; from opset 23 on, the opset implies a newer IR, which
    # every runtime that implements that opset reads. (convert() lowers it for opsets below 21.)
    from onnxgate._onnx import ir_version_for_opset

    proto.ir_version = max(int(proto.ir_version), ir_version_for_opset(opset))
    fixed_inputs, static_outputs = _name_batch_axes(proto)
    if fixed_inputs:
        raise UnsupportedModelError(
            f"the exported model has a fixed batch size on input(s) {', '.join(fixed_inputs)}; onnxgate "
            "writes a dynamic batch axis. Export the program with a dynamic first axis: "
            "torch.export.export(model, args, dynamic_shapes=({0: torch.export.Dim('N')},)).",
            framework="pytorch",
        )
    if static_outputs:
        warns.append(f"output(s) {', '.join(static_outputs)} have a fixed shape: they do not grow with the batch")
    if not use_dynamo:
        _check_batch_dynamic(model, proto, args, in_names)
    if kind == "module":
        # A module that cannot be weakly referenced is not remembered; save_native then asks for args.
        with contextlib.suppress(TypeError):
            _EXAMPLES[model] = args
    return proto, warns


class PyTorchConverter(Converter):
    """``torch.nn.Module``, ``torch.export.ExportedProgram`` and TorchScript modules to ONNX."""

    framework = "pytorch"
    PRIORITY = 10
    MODULE_PREFIXES = ("torch.",)
    DEFAULT_OPSET = 17
    MIN_OPSET = TORCHSCRIPT_MIN_OPSET
    MAX_OPSET = DYNAMO_MAX_OPSET
    FILE_SUFFIXES = (".pt2", ".pt", ".pth")

    def check_model(self, model: Any) -> None:
        _kind(model)

    def max_opset_for(self, model: Any) -> int:
        try:
            kind = _kind(model)
        except UnsupportedModelError:
            return self.MAX_OPSET
        return TORCHSCRIPT_MAX_OPSET if kind == "script" else DYNAMO_MAX_OPSET

    def min_opset_for(self, model: Any) -> int:
        try:
            kind = _kind(model)
        except UnsupportedModelError:
            return self.MIN_OPSET
        return DYNAMO_MIN_OPSET if kind == "program" else TORCHSCRIPT_MIN_OPSET

    def convert(
        self,
        model: Any,
        sample: Any,
        *,
        opset: int,
        ml_opset: int,
        name: str | None,
        options: Mapping[str, Any],
    ) -> RawConversion:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise UnsupportedModelError(
                f"unknown PyTorch conversion option(s) {unknown}; known options are {list(OPTIONS)}",
                framework=self.framework,
            )
        proto, warns = _convert(
            model,
            sample,
            opset=opset,
            input_names=options.get("input_names"),
            output_names=options.get("output_names"),
            dynamo=options.get("dynamo"),
            optimize=bool(options.get("optimize", True)),
        )
        if name:
            proto.graph.name = name
        return RawConversion(model=proto, warnings=warns)

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        """Run the model under ``torch.no_grad`` in eval mode; outputs in the ONNX model's order."""
        import numpy as np

        torch = _torch()
        args = []
        for spec in signature.inputs:
            if spec.name not in feeds:
                raise InvalidDataError(f"missing feed for input {spec.name!r}", input=spec.name)
            args.append(torch.from_numpy(np.ascontiguousarray(feeds[spec.name])))
        leaves = _leaves(_call(model, tuple(args)))
        outputs: list[Any] = [leaf.detach().cpu().numpy() for leaf in leaves]
        width = len(signature.outputs)
        return (outputs + [None] * width)[:width]

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        """Load ``.pt2`` (torch.export), ``.pt``/``.pth`` (TorchScript; a pickled module with ``trust_pickle``)."""
        torch = _torch()
        if not path.is_file():
            raise UnsupportedModelError(f"model file not found: {str(path)!r}", path=str(path))
        if path.suffix.lower() == ".pt2":
            _check_pt2(path, trust_pickle=trust_pickle)
            try:
                with _quiet():
                    return torch.export.load(path)
            except Exception as err:
                raise UnsupportedModelError(
                    f"{str(path)!r} is not a readable torch.export archive: {_summary(err)}", path=str(path)
                ) from err
        try:
            return torch.jit.load(path, map_location="cpu")
        except Exception as jit_err:
            script_error = jit_err
        if not zipfile.is_zipfile(path) and not trust_pickle:
            raise UntrustedFileError(
                f"{str(path)!r} is neither TorchScript nor a torch zip archive; if it is a legacy "
                "torch.save pickle, loading it runs code: pass --trust-pickle if you trust it.",
                path=str(path),
            )
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            if not trust_pickle:
                raise UntrustedFileError(
                    f"{str(path)!r} is a pickled Python object (torch.save of a whole module), not "
                    "TorchScript: loading it runs any code it contains. Pass --trust-pickle "
                    "(trust_pickle=True) if you trust where it came from, or save the model with "
                    "torch.export.save (.pt2) or torch.jit.save (.pt) instead.",
                    path=str(path),
                ) from err
            try:
                content = torch.load(path, map_location="cpu", weights_only=False)  # the user asked: trust_pickle
            except Exception as err2:
                raise UnsupportedModelError(
                    f"cannot load {str(path)!r}: TorchScript said {_summary(script_error)}; torch.load said "
                    f"{_summary(err2)}",
                    path=str(path),
                ) from err2
        if isinstance(content, (torch.nn.Module, torch.export.ExportedProgram)):
            return content
        kind = "a state_dict" if isinstance(content, Mapping) else f"a {type(content).__name__}"
        raise UnsupportedModelError(
            f"{str(path)!r} holds {kind}, not a model: build the nn.Module in Python, load the weights "
            "with load_state_dict and call onnxgate.convert(module, sample)",
            path=str(path),
        )

    def save_native(self, model: Any, folder: Path) -> Path:
        """``model.pt2`` (torch.export, batch axis dynamic), or TorchScript ``model.pt`` if export fails."""
        torch = _torch()
        kind = _kind(model)
        if kind == "program":
            path = folder / "model.pt2"
            torch.export.save(model, path)
            return path
        if kind == "script":
            path = folder / "model.pt"
            torch.jit.save(model, str(path))
            return path
        args = _EXAMPLES.get(model)
        if args is None:
            raise UnsupportedModelError(
                f"saving {type(model).__name__} needs example inputs: convert it first "
                "(onnxgate.convert(model, sample)) or save it yourself with torch.export.save",
                framework=self.framework,
            )
        try:
            with _quiet(), _eval_mode(model):
                batch = torch.export.Dim(BATCH_DIM)
                program = torch.export.export(
                    model, args, dynamic_shapes=tuple({0: batch} if a.dim() else None for a in args)
                )
            path = folder / "model.pt2"
            torch.export.save(program, path)
            return path
        except Exception:  # torch.export refuses some modules the tracer handles
            with _quiet(), _eval_mode(model), torch.no_grad():
                traced = torch.jit.trace(model, args)
            path = folder / "model.pt"
            torch.jit.save(traced, str(path))
            return path


def _check_pt2(path: Path, *, trust_pickle: bool) -> None:
    """Refuse a ``.pt2`` whose loading would unpickle arbitrary objects, unless trusted.

    ``torch.export.load`` unpickles weights/constants flagged ``use_pickle``, custom and opaque
    objects, and falls back to ``torch.load(weights_only=False)`` for sample inputs it cannot read
    safely; a plain exported ``nn.Module`` needs none of that.
    """
    if trust_pickle:
        return
    torch = _torch()
    reasons: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(("_weights_config.json", "_constants_config.json")):
                    config = json.loads(archive.read(member)).get("config", {})
                    for key, meta in config.items():
                        if meta.get("use_pickle") or str(meta.get("path_name", "")).startswith(
                            ("custom_obj", "opaque_obj")
                        ):
                            reasons.append(f"{key!r} is pickled")
                elif "/sample_inputs/" in member:
                    try:
                        torch.load(io.BytesIO(archive.read(member)), weights_only=True)
                    except Exception:
                        reasons.append(f"{member!r} is not plain tensors")
    except zipfile.BadZipFile as err:
        raise UnsupportedModelError(
            f"{str(path)!r} is not a torch.export archive (not a zip file)", path=str(path)
        ) from err
    if reasons:
        raise UntrustedFileError(
            f"{str(path)!r} needs unpickling to load ({'; '.join(reasons[:3])}), which runs any code it "
            "contains. Pass --trust-pickle (trust_pickle=True) if you trust where it came from.",
            path=str(path),
        )

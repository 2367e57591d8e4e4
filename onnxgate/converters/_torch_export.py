"""PyTorch converter: probe the sample, export with the right exporter, and prove the batch axis dynamic.

The policy is described in :mod:`onnxgate.converters.pytorch`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import itertools
import os
import re
import threading
import types
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from onnxgate.converters._torch_axes import (
    Axes,
    apply_axis_names,
    attention_length_cause,
    check_lengths,
    dynamo_spec,
    fixed_axes,
    output_axes,
    parse_dynamic_axes,
)
from onnxgate.converters._torch_common import (
    ANSI_ESCAPE,
    AXES,
    BATCH_DIM,
    DYNAMO_MAX_OPSET,
    DYNAMO_MIN_OPSET,
    EXAMPLES,
    PROBE_ROWS,
    TORCHSCRIPT_MAX_OPSET,
    TORCHSCRIPT_MIN_OPSET,
    data_writes,
    eval_mode,
    model_kind,
    one_thread_if_small,
    quiet_exporters,
    storage_pointer,
    torch_module,
)
from onnxgate.converters._torch_nested import fast_path_zeros
from onnxgate.errors import (
    InvalidDataError,
    OpsetError,
    UnsupportedModelError,
)

if TYPE_CHECKING:
    import onnx

__all__ = ["convert_module", "export_summary", "export_torch_module", "forward_order", "io_names", "key_names",
           "torch_call", "torch_leaves"]


def _float_dtype(model: Any) -> Any:
    """The floating dtype the model computes in (its first floating parameter/buffer), or None."""
    torch = torch_module()
    if isinstance(model, torch.export.ExportedProgram):
        tensors: Iterator[Any] = iter(model.state_dict.values())
    elif isinstance(model, torch.nn.Module):
        tensors = itertools.chain(model.parameters(), model.buffers())  # up to the first floating one only
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


def _split_widths(expected: Sequence[Any], tensors: Sequence[Any]) -> list[int] | None:
    """The widths to split one ``[N, k]`` sample tensor over a program's several ``[N, k_i]`` inputs, or None
    when the sample is not one such tensor or the widths are not all fixed and summing to its ``k``."""
    if len(tensors) != 1 or len(expected) < 2 or tensors[0].dim() != 2:
        return None
    widths = [v.shape[1] if v is not None and v.dim() == 2 else None for v in expected]
    if not all(isinstance(w, int) for w in widths) or sum(widths) != tensors[0].shape[1]:  # type: ignore[arg-type]
        return None
    return [int(w) for w in widths if w is not None]


def _as_tensor(value: Any, what: str) -> Any:
    import numpy as np

    torch = torch_module()
    if isinstance(value, torch.Tensor):
        return value.detach()
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise InvalidDataError(
            f"{what} must be numeric (float, int or bool) for a PyTorch model, found dtype {array.dtype}",
        )
    return torch.from_numpy(np.ascontiguousarray(array))


#: How a model that packs its sequences converts: what the TorchScript exporter writes of packing (helper-148).
PACKED_ADVICE = ("Pass the padded batch [rows, steps, features] and the lengths as two inputs; in forward() pack "
                 "them (pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)), unpack the RNN's "
                 "output (pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])) and take each row's "
                 "last step as out[torch.arange(len(x)), lengths - 1] rather than the final hidden state; the "
                 "TorchScript exporter writes that (options={'dynamo': False} from opset 18)")


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
            "to trace it; pass convert(model, X[:5]) (CLI: --sample FILE)"
        )
    names: list[str] | None = None
    if is_dataframe(sample):
        sample = sample.to_numpy()
    if isinstance(sample, Mapping):
        names = [str(k) for k in sample]
        values: list[Any] = list(sample.values())
        forward = getattr(model, "forward", None)
        if model_kind(model) == "module" and forward is not None:
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
    from torch.nn.utils.rnn import PackedSequence

    if isinstance(sample, PackedSequence) or any(isinstance(v, PackedSequence) for v in values):
        # a PackedSequence is a tuple of four tensors: they were fed as four inputs, and the refusal said that
        # forward() "takes 2 positional arguments but 5 were given" and to fix the number of features (helper-148)
        raise InvalidDataError(
            f"the sample is a PackedSequence: it has no ONNX input, being four tensors whose rows are interleaved "
            f"by time step. {PACKED_ADVICE}",
        )
    for i, value in enumerate(values):
        if isinstance(value, (tuple, list)) and value and all(hasattr(v, "shape") for v in value):
            # stacked into one tensor, a list argument's arrays read as extra rows: the model then
            # "did not grow with the batch" (found by helper-68)
            raise InvalidDataError(
                f"sample input {i} is a {type(value).__name__} of {len(value)} arrays: onnxgate feeds one "
                "tensor per forward() argument, so a list of tensors has no ONNX input. Give each tensor its "
                "own argument (forward(self, a, b)), or wrap the model in a module that takes them so, and "
                "pass the sample as a tuple (a, b)",
            )
    tensors = [_as_tensor(v, f"sample input {i}") for i, v in enumerate(values)]

    if model_kind(model) == "program":
        expected = _program_inputs(model)
        widths = _split_widths(expected, tensors)
        if widths is not None:
            # one array for several [N, k] inputs (the only form a .npy or .csv --sample takes): split by the
            # widths the program records, in its input order, as validate splits its --data for the ONNX inputs
            warns.append(f"the sample's {sum(widths)} columns were split over the program's {len(widths)} inputs by "
                         f"their widths {widths}, in order")
            tensors = list(torch_module().split(tensors[0], widths, dim=1))
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
        kept = _narrowing_kept(model, tensors, dtype)
        for i, tensor in enumerate(tensors):
            if i in kept:
                continue
            if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
                warns.append(f"sample input {i} cast from {tensor.dtype} to {dtype}, the dtype the model computes in")
                tensors[i] = tensor.to(dtype)
    return tuple(tensors), names, warns


def _narrowing_kept(model: Any, tensors: Sequence[Any], dtype: Any) -> set[int]:
    """The sample tensors a cast to ``dtype``, a half type, would narrow, when forward() runs on the sample as given
    (its first rows): a model whose first parameter is half (an ``nn.Embedding(...).half()``) may compute in float32
    on its other inputs, and casting them to float16 put float16's rounding into the file's inputs: 0.49 off torch on
    float32 features, while validate, fed the narrowed sample, passed (helper-261)."""
    torch = torch_module()
    if dtype not in (torch.float16, torch.bfloat16):
        return set()
    narrowed = {i for i, t in enumerate(tensors)
                if t.is_floating_point() and t.dtype not in (torch.float16, torch.bfloat16)}
    if not narrowed:
        return set()
    try:
        torch_call(model, _head(tuple(tensors)))
    except Exception:
        return set()  # a half model needs its inputs half (module.half() given float32 rows)
    return narrowed


def _is_numeric_nested_list(sample: Sequence[Any]) -> bool:
    """A list of numbers (or of lists of numbers) is one array, not several inputs."""
    first = sample[0] if len(sample) else None
    return isinstance(sample, list) and (
        isinstance(first, (int, float)) or (isinstance(first, list) and not hasattr(first, "shape"))
    )


def torch_leaves(outputs: Any) -> list[Any]:
    """Tensor leaves of a model's output, in the order the exporters flatten them (pytree order)."""
    torch = torch_module()
    from torch.utils._pytree import tree_leaves

    return [leaf for leaf in tree_leaves(outputs) if isinstance(leaf, torch.Tensor)]


def torch_call(model: Any, args: tuple[Any, ...], updated: list[str] | None = None) -> Any:
    """forward() in eval mode without gradients; the module's buffers are put back after it (the names of those
    it changed are appended to ``updated``)."""
    torch = torch_module()
    if isinstance(model, torch.export.ExportedProgram):
        # The program's module is frozen in the mode it was exported in; it refuses eval()/train().
        with torch.no_grad():
            return model.module()(*args)
    with torch.no_grad(), eval_mode(model, updated, calls_forward=True) as kept:
        result = model(*args)
        # an output that is a buffer or a parameter (or a view of one) keeps what forward() answered once it is put back
        # (a sparse buffer or output has no storage of its own to share)
        if kept is None:
            held = {t.untyped_storage().data_ptr() for t in (*model.buffers(), *model.parameters())
                    if t.layout == torch.strided}
        else:
            # the memory restore() writes into or moves: each kept tensor's, as it was and as forward() left it (a
            # tensor forward() bound in a kept one's place is let go, not written); no second walk of the module
            held = {item.storage for item in kept.kept} | {storage_pointer(item.tensor) for item in kept.kept}
            held.discard(None)
        from torch.utils._pytree import tree_map_only

        return tree_map_only(torch.Tensor, lambda t: t.clone() if t.layout == torch.strided
                             and t.untyped_storage().data_ptr() in held else t, result)


def _head(args: tuple[Any, ...], rows: int = PROBE_ROWS) -> tuple[Any, ...]:
    """The first ``rows`` rows of every batched tensor (0-d tensors as they are)."""
    return tuple(a[:rows] if a.dim() else a for a in args)


def _rows(args: tuple[Any, ...]) -> int:
    return next((len(a) for a in args if a.dim()), 0)


def _grown(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The same tensors with their first row repeated once more."""
    torch = torch_module()
    return tuple(torch.cat([a, a[:1]]) if a.dim() else a for a in args)


def _dry_run(model: Any, args: tuple[Any, ...], *, whole: bool = False) -> tuple[tuple[Any, ...], Any]:
    """Run the model on the sample's first rows: a clear data error here beats a traceback from the tracer.

    Returns the probe tensors (``PROBE_ROWS`` rows) and the model's output on them (as forward()
    returned it, holding at least one tensor). When the probe
    fails, the whole sample is run: if that fails too the sample is wrong (:class:`InvalidDataError`),
    otherwise forward() only runs at the sample's batch size (:class:`UnsupportedModelError`).
    ``whole`` runs the whole sample instead (an ExportedProgram: a program with a fixed batch must
    reach the export, whose error says how to export it with a dynamic one).
    """
    probe = args if whole else _head(args)
    if _rows(probe) == _rows(args):
        try:
            return probe, _run_sample(model, args)
        except InvalidDataError:
            if whole:
                _refuse_fixed_program_batch(model, args)
            raise
    try:
        with quiet_exporters():
            outputs = torch_call(model, probe)
    except Exception as err:
        _run_sample(model, args)  # raises InvalidDataError when the sample itself does not fit
        raise _fixed_batch_error(model, args, err) from err
    _check_leaves(model, outputs)
    return probe, outputs


#: Torch operators whose result depends on training mode, and the position of their ``train``
#: argument (the same in TorchScript graphs and torch.export programs).
_TRAINING_ARGUMENT = {
    "dropout": 2,
    "feature_dropout": 2,
    "alpha_dropout": 2,
    "feature_alpha_dropout": 2,
    "native_dropout": 2,
    "batch_norm": 5,
    "native_batch_norm": 5,
    "_native_batch_norm_legit": 5,
    "_native_batch_norm_legit_functional": 5,
}


def _buffer_update_notes(model: Any, probe: tuple[Any, ...], grown: list[Any] | None = None) -> list[str]:
    """A warning when forward() updates the module's buffers or parameters: an ONNX model holds no state between
    calls.

    This second call of forward() (a module may write its state from its second call on) runs on the probe grown
    by a row, and its outputs, or its error, are appended to ``grown`` for :func:`_output_batch_axes`, which needs
    that run too: one forward() less per conversion (0.4-0.7 ms of the zoo's 8-30 ms, measured). If it fails, the
    probe itself is run for this check."""
    if model_kind(model) == "program":
        return []
    updated: list[str] = []
    if grown is not None:
        try:
            with quiet_exporters():
                grown.append(torch_leaves(torch_call(model, _grown(probe), updated)))
        except Exception as err:  # the batch-size error is _output_batch_axes', in its turn
            grown.append(err)
            updated = []
    if grown is None or isinstance(grown[-1], Exception):
        with contextlib.suppress(Exception), quiet_exporters():  # the probe ran: a failure here is not this check's
            torch_call(model, probe, updated)
    if not updated:
        return []
    parameters = {name for name, _ in model.named_parameters()}
    said = []
    for what, names in (("buffer(s)", [n for n in updated if n not in parameters]),
                        ("parameter(s)", [n for n in updated if n in parameters])):
        if names:
            said.append(f"its {what} " + ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else ""))
    return [f"{type(model).__name__}.forward() updates {' and '.join(said)}; an ONNX model keeps no state between "
            "calls: the file holds them as they were before the conversion, and validation compares it with what "
            "forward() answers from them (onnxgate puts them back after each of its calls, so the module is left as "
            "it was)"]


def _avoid_dynamo_on_data_writes(model: Any, opset: int, dynamo: bool | None, use_dynamo: bool,
                                 notes: list[str]) -> bool:
    """Whether to use the dynamo exporter on ``model``, whose forward() onnxgate's calls saw writing a buffer or a
    parameter through ``.data``: torch's dynamo exporter crashed the process on it (a segmentation fault in
    run_decompositions, torch 2.13), or failed. The TorchScript exporter writes it where the user left the choice
    to onnxgate; where they asked for dynamo (or an opset only it writes), the conversion is refused."""
    names = data_writes(model) if use_dynamo else []
    if not names:
        return use_dynamo
    torch = torch_module()
    said = (f"{type(model).__name__}.forward() writes {', '.join(repr(n) for n in names[:5])} through .data, which "
            f"torch {torch.__version__.split('+')[0]}'s dynamo exporter cannot export (it crashes the Python process)")
    if dynamo is None and opset <= TORCHSCRIPT_MAX_OPSET:
        notes.append(f"{said}: it was written with the TorchScript exporter at opset {opset}")
        return False
    raise UnsupportedModelError(
        f"{said}. Convert with options={{'dynamo': False}} (the TorchScript exporter, opsets {TORCHSCRIPT_MIN_OPSET}-"
        f"{TORCHSCRIPT_MAX_OPSET}), or write the update in place without .data (under torch.no_grad())",
        framework="pytorch",
    )


def _training_mode_notes(model: Any) -> list[str]:
    """A warning when layers that compute differently in training mode are in it.

    The export (and the reference in validation) runs in eval mode, so the ONNX model computes what
    ``model.eval()`` computes; a user who forgot ``eval()`` should hear that it differs from what
    the module computes as it is. Layers whose training mode changes nothing (dropout with p=0,
    batch norm without running statistics) are not named, nor is a module with only such layers:
    ``nn.Module`` starts in training mode, and most small nets are never switched.
    """
    torch = torch_module()
    if not isinstance(model, torch.nn.Module):
        return []
    nn = torch.nn
    dropout = getattr(nn.modules.dropout, "_DropoutNd", nn.Dropout)
    norms = tuple(c for c in (getattr(nn.modules.batchnorm, "_BatchNorm", None),
                              getattr(nn.modules.instancenorm, "_InstanceNorm", None)) if c is not None)
    script_names = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"}
    found = []
    for path, module in model.named_modules():
        if not module.training:
            continue
        if isinstance(module, torch.jit.ScriptModule):
            # a scripted module's submodules are RecursiveScriptModules that keep the class's name
            kind = str(getattr(module, "original_name", ""))
            if kind not in script_names:
                continue
        else:
            kind = type(module).__name__
            if isinstance(module, dropout):
                if not module.p:
                    continue
            elif isinstance(module, norms):
                if not module.track_running_stats:
                    continue
            elif isinstance(module, (nn.MultiheadAttention, nn.RNNBase)):
                if not module.dropout or (isinstance(module, nn.RNNBase) and module.num_layers < 2):
                    continue
            else:
                continue
        found.append(f"{kind} {path!r}" if path else kind)
    if not found:
        return []
    listed = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
    return [
        f"{type(model).__name__} was in training mode ({listed}); it was exported, and is compared in "
        "validation, in eval mode: dropout off, batch norm on its running statistics. The ONNX model "
        "computes what model.eval() computes, not what the module computes as it is; call model.eval() "
        "before converting to silence this."
    ]


def _refuse_baked_training(model: Any, kind: str) -> None:
    """Refuse a TorchScript trace or an ExportedProgram that fixed dropout or batch norm in training mode.

    ``torch.jit.trace`` and ``torch.export.export`` of a module in training mode write
    ``dropout(x, p, train=True)`` into the graph as a constant, which ``eval()`` cannot undo: the ONNX
    model would drop activations at random (a Dropout with ``training_mode`` true) and normalise
    with each batch's statistics. (A scripted module reads ``self.training`` instead, and converts
    in eval mode like an ``nn.Module``.)
    """
    found = sorted(set(_baked_training_ops(model, kind)))
    if not found:
        return
    if kind == "script":
        what, how = "The TorchScript module was traced", "torch.jit.trace(model.eval(), example), then torch.jit.save"
    else:
        what, how = ("The ExportedProgram was exported",
                     "torch.export.export(model.eval(), args, dynamic_shapes=...), then torch.export.save")
    effects = [e for op, e in (("dropout", "drop activations at random"),
                               ("norm", "normalise each batch by its own statistics")) if any(op in f for f in found)]
    raise UnsupportedModelError(
        f"{what} in training mode: its graph runs {', '.join(found)} with training on, fixed when it was "
        f"made (eval() cannot undo it), so the ONNX model would {' and '.join(effects)}. Make it again "
        f"from the module in eval mode: {how}.",
        framework="pytorch",
    )


def _baked_training_ops(model: Any, kind: str) -> Iterator[str]:
    """Operators of a TorchScript graph or an ExportedProgram whose ``train`` argument is a true constant."""
    if kind == "script":
        graph = getattr(model, "inlined_graph", None) or getattr(model, "graph", None)
        if graph is None:
            return
        pending = [graph.block()] if hasattr(graph, "block") else []
        while pending:
            for node in pending.pop().nodes():
                pending.extend(node.blocks())
                op = node.kind().split("::")[-1].rstrip("_")
                position = _TRAINING_ARGUMENT.get(op)
                inputs = list(node.inputs())
                if position is None or position >= len(inputs) or inputs[position].node().kind() != "prim::Constant":
                    continue
                if inputs[position].toIValue() is True:
                    yield op
    elif kind == "program":
        for module in model.graph_module.modules():
            graph = getattr(module, "graph", None)
            for node in getattr(graph, "nodes", ()):
                if node.op != "call_function":
                    continue
                parts = str(node.target).split(".")
                op = parts[1] if len(parts) >= 2 else ""
                position = _TRAINING_ARGUMENT.get(op)
                if position is None or (len(parts) > 2 and parts[2] == "no_stats"):
                    continue
                value = node.args[position] if position < len(node.args) else node.kwargs.get("training",
                                                                                               node.kwargs.get("train"))
                if value is True:
                    yield op


def _training_mode_nodes(proto: onnx.ModelProto) -> list[str]:
    """ONNX nodes told to run in training mode by a constant: Dropout (opset 12+, its third input)
    and BatchNormalization (opset 14+, its ``training_mode`` attribute)."""
    from onnx import numpy_helper

    constants = {init.name: init for init in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value":
                    constants[node.output[0]] = attr.t
    found: dict[str, int] = {}
    for node in proto.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        on = False
        if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2] in constants:
            on = bool(numpy_helper.to_array(constants[node.input[2]]).all())
        elif node.op_type == "BatchNormalization":
            on = any(a.name == "training_mode" and a.i for a in node.attribute)
        if on:
            found[node.op_type] = found.get(node.op_type, 0) + 1
    return [f"{op} (x{count})" for op, count in sorted(found.items())]


def _refuse_fixed_program_batch(program: Any, args: tuple[Any, ...]) -> None:
    """An ExportedProgram whose inputs fix a batch size other than the sample's: say so (its guard's
    own error, "input.size()[0] == 2", read as a sample of the wrong shape)."""
    fixed = [(i, int(val.shape[0])) for i, val in enumerate(_program_inputs(program))
             if val is not None and len(getattr(val, "shape", ())) and isinstance(val.shape[0], int)]
    wrong = [f"input {i} ({size} rows)" for i, size in fixed
             if i < len(args) and args[i].dim() and int(args[i].shape[0]) != size]
    if wrong:
        raise UnsupportedModelError(
            f"the exported program fixes the batch size of {', '.join(wrong)}, and the sample has "
            f"{_rows(args)} rows; onnxgate writes a dynamic batch axis. Export the program with a dynamic first "
            "axis: torch.export.export(model, args, dynamic_shapes=({0: torch.export.Dim('N')},)).",
            framework="pytorch",
        )


def _fixed_batch_error(model: Any, args: tuple[Any, ...], err: BaseException) -> UnsupportedModelError:
    """The model runs on the whole sample but failed (``err``) on another batch size: say which."""
    rows = _rows(args)
    failed = _rows(_head(args))
    try:
        with quiet_exporters():
            torch_call(model, _grown(args))
    except Exception as grown_err:  # the usual case: report the sample's size and one more
        failed, err = rows + 1, grown_err
    advice = ("Write forward() without a hard-coded batch size (x.view(x.shape[0], -1) or torch.flatten(x, 1) "
              "instead of x.view(4, -1))")
    if len(args) == 1 and getattr(args[0], "dim", lambda: 2)() == 1:
        # one row passed as X[0]: its features read as rows (found by helper-68)
        advice = (f"The sample is 1-D (shape [{rows}]): its first axis is read as rows. For one row of {rows} "
                  f"features pass X[:1] (shape [1, {rows}])")
    firsts = [(i, int(a.shape[0])) for i, a in enumerate(args) if getattr(a, "dim", lambda: 0)()]
    if len({size for _, size in firsts}) > 1:
        # an nn.EmbeddingBag's flat ids beside its offsets: axis 0 is no rows, and one more "row" of each breaks
        # it; the refusal told to drop a hard-coded x.view(4, -1) (found by helper-171)
        listed = ", ".join(f"input {i}: {size}" for i, size in firsts)
        return UnsupportedModelError(
            f"the sample's inputs differ in length on axis 0 ({listed}), which onnxgate reads as the rows: every "
            f"input takes one entry per row there, and {type(model).__name__} does not run with one more "
            f"({_error_line(err)[:200]}). Pass inputs with one entry per row on axis 0: for an nn.EmbeddingBag "
            "fed flat ids and offsets, the ids padded to [rows, longest] with its padding_idx (no offsets).",
            framework="pytorch",
        )
    return UnsupportedModelError(
        f"{type(model).__name__} fixes the batch size: it runs on the sample's {rows} row(s) but "
        f"not on {failed} ({_error_line(err)[:200]}). {advice}.",
        framework="pytorch",
    )


def _run_sample(model: Any, args: tuple[Any, ...]) -> Any:
    """Run the model on ``args``; :class:`InvalidDataError` when it cannot, its output otherwise."""
    try:
        with quiet_exporters():
            outputs = torch_call(model, args)
    except Exception as err:
        shapes = [list(a.shape) for a in args]
        advice = "Pass a sample with the shape and dtype forward() expects (for example the right number of features)."
        if len(args) == 1 and re.search(r"missing (value for argument|\d+ required positional argument)", str(err)):
            # one .npy or .csv is the command line's only sample: nothing records how to split it for this model
            advice = ("forward() takes several inputs and the sample is one array, which only an ExportedProgram "
                      "(.pt2, torch.export.save) is split over, by the widths it records. Save the model with "
                      "torch.export.save, or in Python pass a tuple of arrays, one per forward() argument.")
        raise InvalidDataError(
            f"{type(model).__name__} could not run on the sample (input shapes {shapes}): "
            f"{_error_line(err)}. {advice}",
        ) from err
    _check_leaves(model, outputs)
    return outputs


def _error_line(err: BaseException) -> str:
    """``Type: message`` of a failed forward(), from the line that says what went wrong.

    The TorchScript interpreter's first line is only "The following operation failed in the
    TorchScript interpreter."; the error itself ("RuntimeError: mat1 and mat2 shapes cannot be
    multiplied (200x7 and 10x16)") is its last line, after two tracebacks.
    """
    lines = [ln.strip() for ln in ANSI_ESCAPE.sub("", str(err)).strip().splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith(_TORCHSCRIPT_FAILED):
        return lines[-1]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


#: "Failed to export a node '%22 : Long() = onnx::Gather[axis=0](%19), scope: ... # file.py:3154:0' ...
#: because it is not constant." from the TorchScript exporter, in parts.
_FAILED_NODE = re.compile(
    r"Failed to export a node '%\S+ : [^']*? = (?P<op>[\w:.]+)[^#']*(?:# (?P<where>[^\s']+?)(?::\d+)?)?\s*'"
    r"(?:.{0,400}?\) (?P<because>because [^.\[]*))?",
    re.S,
)
#: First line of every error the TorchScript interpreter raises; the cause is on its last line.
_TORCHSCRIPT_FAILED = "The following operation failed in the TorchScript interpreter"


def _check_leaves(model: Any, outputs: Any) -> list[Any]:
    torch = torch_module()
    from torch.utils._pytree import tree_leaves

    leaves = torch_leaves(outputs)
    if not leaves:
        raise UnsupportedModelError(
            f"{type(model).__name__} returned no tensor on the sample (found {type(outputs).__name__}); "
            "an ONNX model needs at least one tensor output",
            framework="pytorch",
        )
    # a number or a string beside the tensors: the exporters refused it in words of their own ("output 1 (3",
    # "'int' object has no attribute 'name'") and onnxgate advised replacing an operator (helper-236)
    others = [(i, leaf) for i, leaf in enumerate(tree_leaves(outputs))
              if leaf is not None and not isinstance(leaf, torch.Tensor)]
    if others:
        found = ", ".join(f"{type(leaf).__name__} {repr(leaf)[:40]} (leaf {i})" for i, leaf in others[:3])
        raise UnsupportedModelError(
            f"{type(model).__name__}.forward() returns {found} beside its tensors; an ONNX model's outputs are "
            "tensors only. Return tensors alone (leave the value out of forward()'s result, or make it a "
            "tensor with one value per row: torch.full((x.shape[0],), value))",
            framework="pytorch",
        )
    return leaves


def _output_batch_axes(model: Any, args: tuple[Any, ...], leaves: list[Any], *,
                       check_only: bool = False, grown: Sequence[Any] = ()) -> list[int | None]:
    """Which axis of each output grows with the batch: run again with one more row and compare.

    The TorchScript exporter needs the dynamic axes spelled out, and axis 0 is not always the one
    (a GRU's hidden state is ``[layers, N, hidden]``). ``check_only`` (the dynamo exporter, which finds
    the axes itself): only refuse outputs none of which grows with the batch, and return none. ``grown``: that
    run's output leaves, or its error, already had (:func:`_buffer_update_notes`).
    """
    try:
        if grown:
            if isinstance(grown[0], Exception):
                raise grown[0]
            more = grown[0]
        else:
            with quiet_exporters():
                more = torch_leaves(torch_call(model, _grown(args)))
    except Exception as err:
        rows = _rows(args)
        raise UnsupportedModelError(
            f"{type(model).__name__} fixes the batch size: it runs on {rows} row(s) but "
            f"not on {rows + 1} ({_error_line(err)[:200]}). Write forward() without a "
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
    if _rows(args) and leaves and all(axis is None for axis in axes):
        # x.view(4, -1).sum(1) returns 4 rows for any batch: the exporters would still call the axis
        # dynamic, and the container's batch-axis check would pass it (an output beside per-row ones
        # that does not grow, a batch mean, is the target checks' to judge)
        rows = _rows(args)
        shapes = ", ".join(f"{list(b.shape)} -> {list(a.shape)}" for b, a in zip(leaves, more))
        raise UnsupportedModelError(
            f"{type(model).__name__}'s outputs do not grow with the batch ({shapes} from {rows} to {rows + 1} "
            "input rows): forward() fixes the batch size (x.view(4, -1) instead of x.view(x.shape[0], -1) "
            "or torch.flatten(x, 1)), or reads its rows on another axis than the first. Write it so that "
            "axis 0 of the input is the rows, and outputs hold one entry per row.",
            framework="pytorch",
        )
    return [] if check_only else axes


def key_names(outputs: Any, *, taken: Sequence[str]) -> list[str] | None:
    """Output names after the keys of a dict forward() returns (``{"logits": ..., "proba": ...}``), as the
    Keras and TensorFlow converters name them; ``None`` (numbered names) for any other output.

    The names follow the pytree order both exporters flatten outputs in (a dict's insertion order);
    a value nested under a key is named by its path (``scores_0``). Keys that sanitise to the same
    name, or to an input's name, give numbered names.
    """
    if not isinstance(outputs, Mapping):
        return None
    torch = torch_module()
    from torch.utils._pytree import GetAttrKey, MappingKey, SequenceKey, tree_flatten_with_path

    from onnxgate.converters.tensorflow import sanitize_name

    names = []
    paths = [path for path, leaf in tree_flatten_with_path(outputs)[0] if isinstance(leaf, torch.Tensor)]
    for i, path in enumerate(paths):
        parts = [
            str(k.key) if isinstance(k, MappingKey) else str(k.idx) if isinstance(k, SequenceKey)
            else k.name if isinstance(k, GetAttrKey) else "" for k in path
        ]
        names.append(sanitize_name("_".join(parts), f"output_{i}"))
    if len(set(names)) != len(names) or set(names) & set(taken):
        return None
    return names


def forward_order(model: Any, names: Sequence[str]) -> list[str]:
    """``names`` in the order ``forward()`` takes them, when they are its first parameters' names (a
    dict sample names the inputs so), else as given: an ONNX model whose input names were swapped
    is then fed as its names say, and fails, where feeding it by position passed."""
    import inspect

    names = list(names)
    forward = getattr(model, "forward", None)
    if model_kind(model) != "module" or forward is None:
        return names
    # read once per forward() function (inspect.signature: 2.6 of 37 ms validating a small MLP, its reference called
    # 70 times)
    parameters = _named_parameters_of(forward)
    if parameters is None:  # a compiled forward without a Python signature
        return names
    positional = [p.name for p in parameters
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    first = positional[: len(names)]
    return first if len(first) == len(names) and set(first) == set(names) else names


def io_names(given: Any, default_single: str, count: int, what: str) -> list[str]:
    """``given``, or ``default_single`` / ``default_single_0``, ``_1``... for ``count`` inputs or outputs."""
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


def export_summary(err: BaseException) -> str:
    """The useful line of an exporter error (the dynamo exporter buries it under advice)."""
    text = ANSI_ESCAPE.sub("", str(err))
    for line in text.splitlines():
        if "No ONNX function found" in line or "is not supported" in line:
            return line.split(">: ", 1)[-1].strip()
    node = _FAILED_NODE.search(text)
    if node:
        # the TorchScript exporter dumps the node, its scope and its inputs' definitions
        where = f" ({node['where'].split('site-packages/')[-1]})" if node["where"] else ""
        because = f" {node['because'].strip()}" if node["because"] else ""
        return f"failed to export the node {node['op']}{where}{because}"[:400]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith(_TORCHSCRIPT_FAILED):
        return lines[-1][:400]
    if "## Exception summary" in text:
        tail = text.split("## Exception summary", 1)[1]
        for line in tail.splitlines():
            if line.strip().startswith("<class"):
                return line.split(">: ", 1)[-1].strip()[:400]
    return (lines[0] if lines else type(err).__name__)[:400]


def _export_error(model: Any, err: BaseException, *, opset: int, dynamo: bool,
                  args: tuple[Any, ...] | None = None) -> Exception:
    text = ANSI_ESCAPE.sub("", str(err))
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
            f"{export_summary(err)}). Write forward() without a hard-coded batch size "
            "(x.view(x.shape[0], -1) or torch.flatten(x, 1) instead of x.view(4, -1)).",
            framework="pytorch",
        )
    if not dynamo and "batch_size and channel_size must be non-None" in text:
        # a batch norm without running statistics: "try opset 18" led to a file validation fails as batch-dependent
        return UnsupportedModelError(
            f"{type(model).__name__} normalises with its batch's own statistics (a BatchNorm with "
            "track_running_stats=False, or F.batch_norm(x, None, None, training=True)): its answer for a row depends "
            "on the other rows of its batch, so a service batching rows otherwise answers otherwise (and the "
            "TorchScript exporter cannot write it with a dynamic batch). Normalise with running statistics "
            "(track_running_stats=True, trained) or per row (nn.LayerNorm)",
            framework="pytorch",
            opset=opset,
        )

    def names_operator(said: str) -> bool:  # an operator without a translation: that refusal's advice stands
        return "is not supported" in said or "No ONNX function found" in said

    if not names_operator(text) and _packs_sequences(model, args):
        # the TorchScript exporter failed with "vector::_M_range_check: __n (which is 0) >= this->size()" on the
        # hidden state of a packed LSTM, and the dynamo exporter cannot pack at all (helper-148)
        said = export_summary(err) if not dynamo else _torchscript_refusal(model, args) if args is not None else None
        if said is not None and not names_operator(said):
            return UnsupportedModelError(
                f"{type(model).__name__} packs its sequences (pack_padded_sequence), and the PyTorch exporters cannot "
                f"write what it does with the packed batch (the TorchScript exporter said: {said[:200]}). "
                f"{PACKED_ADVICE}",
                framework="pytorch",
                opset=opset,
            )
    added = re.search(r"added in version (\d+)", text)
    if dynamo:
        other = "the TorchScript exporter (opsets below 18, or options={'dynamo': False})"
        refused = _torchscript_refusal(model, args) if args is not None else None
        if refused is not None:  # "try the TorchScript exporter" sent users to a refusal too (cumprod; helper-111)
            return UnsupportedModelError(
                f"neither PyTorch exporter converts {type(model).__name__}: at opset {opset} the dynamo exporter "
                f"said: {export_summary(err)[:240]}; at opset {TORCHSCRIPT_MAX_OPSET} the TorchScript exporter "
                f"said: {refused[:240]}. Replace the operator with ones ONNX supports, or register a custom "
                "translation",
                framework="pytorch",
                opset=opset,
            )
    elif added and int(added.group(1)) > opset:
        # the TorchScript exporter names the opset its translation of the operator needs
        other = f"opset {added.group(1)} or higher, where the TorchScript exporter translates it"
    else:
        unwritten = _dynamo_refusal(model, args) if args is not None else None
        if unwritten is None:
            other = "opset 18 or higher (the dynamo exporter)"
        elif isinstance(unwritten, _NoKernel):  # float64 torch.sinh with a Conv1d: "try opset 18", refused there
            where, fix = unwritten.words or ("the types it computes in (float64 as a rule)",
                                             "Convert the model in float32 (model.float() and a float32 sample)")
            return UnsupportedModelError(
                f"the PyTorch TorchScript exporter could not convert {type(model).__name__} at opset {opset} (it "
                f"said: {export_summary(err)[:200]}), and at opset 18 the dynamo exporter writes it, but "
                f"onnxruntime has no kernel for {unwritten.listed} in {where}, so no target could load the file. "
                f"{fix}, or replace the layer{'s' if len(unwritten.ops) > 1 else ''}",
                framework="pytorch",
                opset=opset,
                operator=unwritten.ops[0],
                operators=list(unwritten.ops),
            )
        else:  # "try opset 18" sent users to a refusal too (torch.sort(stable=True), cummax; helper-101)
            return UnsupportedModelError(
                f"neither PyTorch exporter converts {type(model).__name__}: at opset {opset} the TorchScript "
                f"exporter said: {export_summary(err)[:240]}; at opset 18 the dynamo exporter said: "
                f"{unwritten[:240]}. Replace the operator with ones ONNX supports, or register a custom translation",
                framework="pytorch",
                opset=opset,
            )
    # The fix first: the exporter's own words (a node dump) are only the evidence.
    return UnsupportedModelError(
        f"the PyTorch {exporter} exporter could not convert {type(model).__name__} at opset {opset}; "
        f"try {other}, or replace the operator with ones ONNX supports or register a custom translation. "
        f"The exporter said: {export_summary(err)[:300]}",
        framework="pytorch",
        opset=opset,
    )


def _packs_sequences(model: Any, args: tuple[Any, ...] | None) -> bool:
    """Whether ``model`` (an nn.Module) packs its sequences (``pack_padded_sequence``) on ``args``: its trace
    (milliseconds for an RNN) holds the operator."""
    import torch

    if args is None or not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return False
    try:
        with quiet_exporters(), eval_mode(model), torch.no_grad():
            traced = torch.jit.trace(model, args, check_trace=False)
    except Exception:
        return False
    return "aten::_pack_padded_sequence" in str(traced.inlined_graph)


def _torchscript_refusal(model: Any, args: tuple[Any, ...]) -> str | None:
    """Why the TorchScript exporter cannot write ``model`` at its highest opset, or None when it can (or when
    ``model`` is not a module it takes): said before a user is sent there."""
    import torch

    if not isinstance(model, torch.nn.Module):
        return None
    try:
        with quiet_exporters(), eval_mode(model), torch.enable_grad(), _exact_symbolics():
            torch.onnx.export(_sample_args_only(model, args), args, io.BytesIO(), dynamo=False,  # type: ignore[arg-type]
                              opset_version=TORCHSCRIPT_MAX_OPSET, verbose=False)
    except Exception as err:
        return export_summary(err)
    return None


@dataclasses.dataclass(frozen=True)
class _NoKernel:
    """:func:`_dynamo_refusal`'s answer for a file onnxruntime has no kernel for: the operators, and them with the
    modules computing them, as :func:`_kernel_gaps` words them."""

    ops: tuple[str, ...]
    listed: str
    #: the type onnxruntime has no kernel in and what to do, when it is not float64 (:func:`_kernel_type_words`)
    words: tuple[str, str] | None = None


def _dynamo_refusal(model: Any, args: tuple[Any, ...]) -> str | _NoKernel | None:
    """Why the dynamo exporter cannot write ``model`` at opset 18 (the batch left as the sample's), or the
    operator onnxruntime has no kernel for in the file it writes (after :func:`onnxgate._graph.double_formulas`),
    or None when it can: said before a user is sent there."""
    import torch

    from onnxgate._graph import double_formulas, log_sigmoid_as_softplus

    if isinstance(model, torch.jit.ScriptModule):
        return "it takes an nn.Module or a torch.export program, not TorchScript"
    try:
        with quiet_exporters(), eval_mode(model):
            program = torch.onnx.export(model, args, None, dynamo=True, opset_version=18, external_data=False,
                                        verbose=False, custom_translation_table=_dynamo_translations())
    except Exception as err:
        return export_summary(err)
    proto = getattr(program, "model_proto", None)
    if proto is None:
        return None
    log_sigmoid_as_softplus(proto)
    double_formulas(proto)
    try:
        _probe_session(proto)
    except Exception as err:
        found = re.search(r"Could not find an implementation for (\w+)\(\d+\)", str(err))
        if found is None:
            return None
        return _NoKernel(*_kernel_gaps(model, found.group(1), proto), _kernel_type_words(found.group(1), err, proto))
    return None


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


def _dilated_same_pads_written_out(proto: Any) -> int:
    """Write a dilated ``Conv``'s ``auto_pad='SAME_UPPER'`` as its explicit pads; how many.

    The TorchScript exporter writes ``nn.Conv2d(padding='same', dilation=3)`` so, and onnxruntime refuses to
    run it ("Dilation not supported for AutoPadType::SAME_UPPER"): convert handed back a file that loads but
    cannot score (helper-101). torch's 'same' has stride 1, where the padding of an axis is ``(k - 1) * d``,
    its lesser half before, whatever the input's size; SAME_UPPER pads the same way."""
    from onnx import helper

    # a Conv with auto_pad SAME first: reading every node's attributes and every weight's shape (as an array) took
    # 0.05-0.13 ms of a conversion whose graph holds none
    same = [node for node in proto.graph.node if node.op_type == "Conv"
            and any(a.name == "auto_pad" and a.s in (b"SAME_UPPER", b"SAME_LOWER") for a in node.attribute)]
    if not same:
        return 0
    weights = {init.name: tuple(init.dims) for init in proto.graph.initializer}
    written = 0
    for node in same:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kernel = list(attrs.get("kernel_shape") or weights.get(node.input[1], ())[2:])
        dilations = list(attrs.get("dilations") or [1] * len(kernel))
        if not kernel or any(s != 1 for s in attrs.get("strides") or ()) or all(d == 1 for d in dilations):
            continue
        totals = [(k - 1) * d for k, d in zip(kernel, dilations)]
        lower = attrs["auto_pad"] == b"SAME_LOWER"
        begins = [(t + 1) // 2 if lower else t // 2 for t in totals]
        for attr in [a for a in node.attribute if a.name in ("auto_pad", "pads")]:
            node.attribute.remove(attr)
        node.attribute.append(helper.make_attribute("pads", begins + [t - b for t, b in zip(totals, begins)]))
        written += 1
    return written


def _shaped_as_forward(model: Any, specs: list[Any]) -> tuple[Any, ...]:
    """``specs`` (one per argument) laid out as ``forward``'s parameters: torch.export matches dynamic shapes
    to the signature, so a ``forward(self, *args)`` takes its arguments' specs as one tuple, and the flat
    tuple was refused ("inputs[0] is a tuple ..."; helper-101)."""
    import inspect

    try:
        parameters = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError, AttributeError):
        return tuple(specs)
    rest = next((i for i, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    if rest is None or rest > len(specs):
        return tuple(specs)
    return (*specs[:rest], tuple(specs[rest:]))


_SYMBOLICS_LOCK = threading.Lock()


@contextlib.contextmanager
def _exact_symbolics() -> Iterator[None]:
    """The TorchScript exporter with the operators it writes otherwise than torch computes them written as
    torch does: ``aten::floor_divide`` (:func:`_floor_divide_symbolic`), ``aten::atan2``
    (:func:`_atan2_symbolic`), ``aten::cdist`` (:func:`_cdist_symbolic`), ``aten::softplus``
    (:func:`_softplus_symbolic`), ``aten::log1p`` and ``aten::expm1`` (:func:`_log1p_symbolic`; the exporter has
    no expm1), ``aten::rms_norm`` (:func:`_rms_norm_symbolic`; the exporter has none), ``aten::cummax`` and
    ``aten::cummin`` (:func:`_running_extreme_symbolic`; the exporter has neither), ``aten::cumsum``
    (:func:`_cumsum_symbolic`; it summed a bool tensor in a CumSum, which no opset allows). Registered for the
    export only, one thread at a time: the registry is torch's, shared with the user's own exports, and a user's own
    translation of one of them stays theirs."""
    import torch

    symbolics: dict[str, Callable[..., Any]] = {
        "aten::floor_divide": _floor_divide_symbolic, "aten::div": _div_symbolic, "aten::atan2": _atan2_symbolic,
        "aten::cdist": _cdist_symbolic, "aten::repeat_interleave": _repeat_interleave_symbolic,
        "aten::softplus": _softplus_symbolic, "aten::log1p": _log1p_symbolic, "aten::expm1": _expm1_symbolic,
        "aten::rms_norm": _rms_norm_symbolic,
        "aten::cummax": functools.partial(_running_extreme_symbolic, largest=True),
        "aten::cummin": functools.partial(_running_extreme_symbolic, largest=False),
        "aten::cumsum": _cumsum_symbolic}
    registry = _symbolic_registry()
    with _SYMBOLICS_LOCK:
        # each at 9 and at every opset torch has its own version for: an override at 9 lost to torch's
        # aten::div of opset 10 (torch.div(rounding_mode="floor") kept Floor(a / b))
        mine = [(name, at) for name in symbolics if not _custom_symbolic(name) for at in _builtin_opsets(name)]
        for name, at in mine:
            if registry is None:
                torch.onnx.register_custom_op_symbolic(name, symbolics[name], at)
            else:  # what torch.onnx.register_custom_op_symbolic does once it has checked the name (ours, valid)
                registry.register(name, at, symbolics[name], custom=True)
        try:
            yield
        finally:
            for name, at in mine:
                if registry is None:
                    torch.onnx.unregister_custom_op_symbolic(name, at)
                else:
                    registry.unregister(name, at)


def _symbolic_registry() -> Any:
    """torch's TorchScript-exporter symbolic registry, or None on a torch without it. Registering onnxgate's ~25
    symbolics through it, not through ``torch.onnx.register_custom_op_symbolic`` (which matches each name against a
    regular expression first), took 0.03 ms per conversion instead of 0.12 (measured, one thread)."""
    try:
        from torch.onnx._internal.torchscript_exporter import registration
    except ImportError:
        return None
    registry = getattr(registration, "registry", None)
    return registry if callable(getattr(registry, "register", None)) and callable(
        getattr(registry, "unregister", None)) else None


def _softplus_symbolic(g: Any, x: Any, beta: Any, threshold: Any) -> Any:
    """``nn.Softplus(beta, threshold)`` as torch computes it: ``x`` itself where ``beta * x > threshold``, else
    ``log(1 + exp(beta * x)) / beta``. The exporter wrote the second everywhere: with ``threshold=5, beta=2``
    the file was 3.4e-3 off at ``x = 2.5`` (a layer further, validate failed parity at 5.9e-4; helper-186).
    torch's default threshold (20) kept nothing visible, being past where the two agree in float32."""
    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper

    kind = _type_utils.JitScalarType.from_value(x, _type_utils.JitScalarType.FLOAT)
    beta_value = float(symbolic_helper._maybe_get_const(beta, "f"))
    limit = float(symbolic_helper._maybe_get_const(threshold, "f"))

    def const(value: float) -> Any:
        return g.op("Constant", value_t=torch.tensor(value, dtype=kind.dtype()))

    scaled = g.op("Mul", x, const(beta_value)) if beta_value != 1 else x
    smooth = g.op("Softplus", scaled)
    if beta_value != 1:
        smooth = g.op("Div", smooth, const(beta_value))
    return g.op("Where", g.op("Greater", scaled, const(limit)), x, smooth)


def _log1p_symbolic(g: Any, x: Any) -> Any:
    """``torch.log1p`` as precise near 0 as torch's (:func:`onnxgate._graph.exact_log1p`): the exporter wrote
    ``Log(x + 1)``, which answered 0 for ``log1p(1e-10)`` in float32 and ``log1p(1e-300)`` in float64."""
    from torch.onnx._internal.torchscript_exporter import symbolic_opset9

    from onnxgate._graph import exact_log1p

    if _opset_being_written() < 9:  # no Where: torch's own, as before
        return symbolic_opset9.log1p(g, x)
    return _elementwise_symbolic(g, x, exact_log1p)


def _expm1_symbolic(g: Any, x: Any) -> Any:
    """``torch.expm1`` (:func:`onnxgate._graph.exact_expm1`): the exporter had no translation of it, and a model
    computing it was refused below opset 18, whose exporter wrote ``Exp(x) - 1`` (0 for ``expm1(1e-10)``)."""
    import torch

    from onnxgate._graph import exact_expm1

    if _opset_being_written() < 9:  # no Where; the refusal names 9 (:func:`_export_error`)
        raise torch.onnx.errors.UnsupportedOperatorError("aten::expm1", _opset_being_written(), 9)
    return _elementwise_symbolic(g, x, exact_expm1)


def _cumsum_symbolic(g: Any, x: Any, dim: Any, dtype: Any = None) -> Any:
    """``torch.cumsum(x, dim, dtype)`` summed in the type torch sums in: ``dtype`` when given, else int64 for a
    bool or integer ``x``, else ``x``'s own. The exporter cast only to a ``dtype`` it could not read as a constant
    and summed every other ``x`` as it came: ``(x > 0).cumsum(1)`` (a count of positives, int64 in torch) was a
    CumSum of a bool, which no opset of CumSum takes (validate failed model_wellformed and operators_supported at
    opsets 11-17, with convert silent; int8 and uint8 alike), and an int32 cumsum answered int32 where torch
    answers int64. Below opset 11 (no CumSum) refused naming 11 (torch's own refusal said "try opset 18"). An
    explicit int8/int16/uint8 ``dtype`` (and float16 below opset 14) was a CumSum of that type, invalid at every
    opset (float16 at 14+ was summed in float16, 0.25 off torch's float32-accumulated 395.5, failing parity):
    summed wider, then cast back."""
    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper

    if _opset_being_written() < 11:
        raise torch.onnx.errors.UnsupportedOperatorError("aten::cumsum", _opset_being_written(), 11)
    axis = symbolic_helper._get_const(dim, "i", "dim")
    kind = _type_utils.JitScalarType.from_value(x, _type_utils.JitScalarType.UNDEFINED)
    if dtype is not None and not symbolic_helper._is_none(dtype):
        want: Any = _type_utils.JitScalarType(symbolic_helper._get_const(dtype, "i", "dtype"))
    elif kind != _type_utils.JitScalarType.UNDEFINED and not (kind.dtype().is_floating_point
                                                              or kind.dtype().is_complex):  # bool too
        want = _type_utils.JitScalarType.INT64
    else:
        want = kind
    if want != kind and want != _type_utils.JitScalarType.UNDEFINED:
        x = g.op("Cast", x, to_i=want.onnx_type())
    wider = CUMSUM_WIDER.get(int(want.onnx_type())) if want != _type_utils.JitScalarType.UNDEFINED else None
    if wider is not None:
        x = g.op("Cast", x, to_i=wider)
    summed = g.op("CumSum", x, g.op("Constant", value_t=torch.tensor(axis, dtype=torch.int64)))
    return summed if wider is None else g.op("Cast", summed, to_i=want.onnx_type())


#: The ONNX type a cumsum answering the key's ONNX type sums in, then Cast back (ONNX's type codes). CumSum takes no
#: 8- or 16-bit integer at any opset, nor float16/bfloat16 below 14: torch sums an int8/int16/uint8 ``dtype``
#: wrapping around (int8 100, 100, 100 -> 100, -56, 44), which an int64 sum cast back answers alike, and accumulates
#: float16/bfloat16 in float32 on the CPU, rounding each running sum once (onnxruntime's float16 CumSum did not).
CUMSUM_WIDER = {3: 7, 5: 7, 2: 7, 4: 7, 10: 1, 16: 1}  # int8, int16, uint8, uint16 -> int64; (b)float16 -> float


def _rms_norm_symbolic(g: Any, x: Any, normalized_shape: Any, weight: Any, eps: Any) -> Any:
    """``nn.RMSNorm`` / ``F.rms_norm``: ``x / sqrt(mean(x**2 over the normalized axes) + eps) * weight``, ``eps``
    torch's default (the machine epsilon of ``x``'s type) when not given. The TorchScript exporter has no
    translation of ``aten::rms_norm``, and a model with one was refused below opset 18 (helper-329), though every
    operator it needs is in opset 9."""
    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper

    axes = [-k for k in range(len(symbolic_helper._get_const(normalized_shape, "is", "normalized_shape")), 0, -1)]
    dtype = _type_utils.JitScalarType.from_value(x, _type_utils.JitScalarType.FLOAT).dtype()
    value = torch.finfo(dtype).eps if symbolic_helper._is_none(eps) else symbolic_helper._get_const(eps, "f", "eps")
    squares = g.op("Mul", x, x)
    if _opset_being_written() >= 18:  # ReduceMean's axes became an input
        mean = g.op("ReduceMean", squares, g.op("Constant", value_t=torch.tensor(axes, dtype=torch.int64)),
                    keepdims_i=1)
    else:
        mean = g.op("ReduceMean", squares, axes_i=axes, keepdims_i=1)
    normed = g.op("Div", x, g.op("Sqrt", g.op("Add", mean, g.op("Constant", value_t=torch.tensor(value, dtype=dtype)))))
    return normed if symbolic_helper._is_none(weight) else g.op("Mul", normed, weight)


#: The types :func:`_running_extreme` compares in for x of a type onnxruntime's CPU has no ``Pad`` or ``Where``
#: kernel for: each holds every value of x exactly, so the order, and the indices, are x's own. An int16 cummax was
#: refused with "Convert the model in float32 (model.float() ...)", advice for float64 that an int16 tensor does not
#: take (onnxruntime has no int16 Pad).
RUNNING_EXTREME_WIDER = {"int16": "int32", "uint16": "int32"}


def _running_extreme(x: Any, length: int, axis: int, rank: int, *, largest: bool, floating: bool,
                     op: Callable[..., Any], const: Callable[[Any], Any], fill: Any,
                     source: Any = None) -> tuple[Any, Any]:
    """``torch.cummax(x, axis)`` (``largest``) or ``torch.cummin``: the running extreme and the index it was
    taken from, as torch's loop computes them, along an axis of ``length`` known at export; ``fill`` is a scalar
    of x's type no element loses to (-inf, or the lowest integer, for the maximum).

    torch walks the axis keeping ``(value, index)`` and takes each element that is NaN, or at least (at most) the
    kept value when that is not NaN: a tie moves the index to the later element (``cummax([1, 1])`` answers
    indices 0, 1), a NaN stays once met and moves the index to each later NaN. That is a maximum in one total
    order of (NaN, value, index), so its running value is a prefix scan, written here as Hillis and Steele's:
    ``ceil(log2(length))`` steps, each combining every element with the one ``2**k`` before it (shifted in by a
    ``Pad`` of ``fill``), instead of a ``Scan`` subgraph. Every operator is in onnxruntime for float, double,
    int32 and int64 from opset 11 (``Pad``'s pads as an input). The values answered are ``source`` (the tensor ``x``
    was widened from, :data:`RUNNING_EXTREME_WIDER`; else ``x``) at the indices (``-0.0`` taken after ``0.0`` stays
    ``-0.0``, as in torch)."""
    import numpy as np

    arange = np.arange(length, dtype=np.int64).reshape([length if i == axis else 1 for i in range(rank)])
    values, indices = x, op("Expand", const(arange), op("Shape", x))
    step = 1
    while step < length:
        pads = np.zeros(2 * rank, dtype=np.int64)
        pads[axis] = step
        kept = (const(np.array([0], np.int64)), const(np.array([length - step], np.int64)),
                const(np.array([axis], np.int64)))
        earlier = op("Pad", op("Slice", values, *kept), const(pads), fill)
        earlier_at = op("Pad", op("Slice", indices, *kept), const(pads), const(np.array(0, np.int64)))
        beyond = op("Less" if largest else "Greater", values, earlier)  # the later element loses
        if floating:
            take = op("Or", op("IsNaN", values), op("Not", op("Or", op("IsNaN", earlier), beyond)))
        else:
            take = op("Not", beyond)
        values, indices = op("Where", take, values, earlier), op("Where", take, indices, earlier_at)
        step *= 2
    # onnxruntime's Where answers 0.0 for a -0.0 it selects as its first input: the values are read back at their
    # indices, bit for bit
    return op("GatherElements", x if source is None else source, indices, axis=axis), indices


def _running_extreme_symbolic(g: Any, x: Any, dim: Any, *, largest: bool) -> Any:
    """``aten::cummax`` / ``aten::cummin`` for the TorchScript exporter, which has no translation of either (a
    model computing one was refused at every opset by both exporters): :func:`_running_extreme` along an axis
    whose length the trace fixes. Along the batch axis (its length is not fixed) or below opset 11 it stays
    refused, saying so."""
    import numpy as np
    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper

    name = "cummax" if largest else "cummin"
    if _opset_being_written() < 11:
        raise torch.onnx.errors.UnsupportedOperatorError(f"aten::{name}", _opset_being_written(), 11)
    axis = int(symbolic_helper._get_const(dim, "i", "dim"))
    rank = symbolic_helper._get_tensor_rank(x)
    sizes = symbolic_helper._get_tensor_sizes(x) if rank is not None else None
    axis = axis + rank if rank is not None and axis < 0 else axis
    length = sizes[axis] if sizes is not None and 0 <= axis < len(sizes) else None
    if rank is None or not isinstance(length, int):
        _refuse_running_extreme_along(name, axis, largest)
    kind = _type_utils.JitScalarType.from_value(x, _type_utils.JitScalarType.FLOAT)
    dtype = kind.dtype()
    source = None
    wider = RUNNING_EXTREME_WIDER.get(str(dtype).removeprefix("torch."))
    if wider is not None:
        dtype = getattr(torch, wider)
        source, x = x, g.op("Cast", x, to_i=_type_utils.JitScalarType.from_dtype(dtype).onnx_type())
    floating = dtype.is_floating_point
    limits = torch.finfo(dtype) if floating else torch.iinfo(dtype)
    edge = (-np.inf if largest else np.inf) if floating else (limits.min if largest else limits.max)

    def const(value: Any) -> Any:
        return g.op("Constant", value_t=torch.as_tensor(value))

    return _running_extreme(x, length, axis, rank, largest=largest, floating=floating,
                            op=lambda kind, *inputs, axis=None: g.op(kind, *inputs, **(
                                {} if axis is None else {"axis_i": axis})), const=const,
                            fill=g.op("Constant", value_t=torch.tensor(edge, dtype=dtype)), source=source)


def _opset_being_written() -> int:
    """The opset the TorchScript exporter is writing (a symbolic registered at 9 is called below 9 too)."""
    from torch.onnx._internal.torchscript_exporter._globals import GLOBALS

    return int(GLOBALS.export_onnx_opset_version)


def _elementwise_symbolic(g: Any, x: Any, formula: Callable[..., Any]) -> Any:
    """``formula(x, op, const)`` in the TorchScript exporter's graph, on ``x`` in its own floating type (an integer
    ``x`` cast to float32, torch's default, as torch's result is)."""
    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper

    kind = _type_utils.JitScalarType.from_value(x, _type_utils.JitScalarType.FLOAT)
    if not symbolic_helper._is_fp(x):
        kind = _type_utils.JitScalarType.FLOAT
        x = g.op("Cast", x, to_i=kind.onnx_type())
    return formula(x, lambda op, *inputs: g.op(op, *inputs),
                   lambda value: g.op("Constant", value_t=torch.tensor(value, dtype=kind.dtype())))


def _atan2_symbolic(g: Any, y: Any, x: Any) -> Any:
    """``atan2(y, x)`` with IEEE's quadrants, as torch: the exporter's form answered -pi for y = 0, x < 0 (torch:
    pi) and NaN for atan2(0, 0) (torch: 0) (helper-111). The angle is ``atan(y / x)``, moved by pi toward
    y's sign where x's sign bit is set, and where y is zero it is y itself (x positive) or pi with y's sign."""
    import math

    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper

    kind = _type_utils.JitScalarType.from_value(y, _type_utils.JitScalarType.FLOAT)
    if not symbolic_helper._is_fp(y):
        kind = _type_utils.JitScalarType.from_value(x, _type_utils.JitScalarType.FLOAT)
    if not symbolic_helper._is_fp(x) and not symbolic_helper._is_fp(y):
        kind = _type_utils.JitScalarType.FLOAT
    y, x = (g.op("Cast", v, to_i=kind.onnx_type()) for v in (y, x))
    both = g.op("And", g.op("IsInf", y), g.op("IsInf", x))  # atan2(inf, -inf) is 3 pi / 4, as of (1, -1)
    y, x = (g.op("Where", both, g.op("Sign", v), v) for v in (y, x))

    def const(value: float) -> Any:
        return g.op("Constant", value_t=torch.tensor(value, dtype=kind.dtype()))

    def sign_bit(v: Any) -> Any:  # v < 0, or v is -0.0 (1 / -0.0 is -inf)
        zero = const(0.0)
        return g.op("Or", g.op("Less", v, zero),
                    g.op("And", g.op("Equal", v, zero), g.op("Less", g.op("Div", const(1.0), v), zero)))

    # Where of two constants took torch's default type, float32: pi was 4.6e-8 off in a double graph
    sign = g.op("Cast", g.op("Where", sign_bit(y), const(-1.0), const(1.0)), to_i=kind.onnx_type())
    pi = g.op("Mul", sign, const(math.pi))
    left = sign_bit(x)
    angle = g.op("Atan", g.op("Div", y, x))
    moved = g.op("Where", left, g.op("Add", angle, pi), angle)
    on_axis = g.op("Where", g.op("IsNaN", x), x, g.op("Where", left, pi, y))  # atan2(0, NaN) is NaN
    return g.op("Where", g.op("Equal", y, const(0.0)), on_axis, moved)


def _cdist_symbolic(g: Any, x1: Any, x2: Any, p: Any, compute_mode: Any) -> Any:
    """``torch.cdist`` for any ``p``: the exporter wrote the Euclidean distance whatever ``p`` was (p=1 answered
    2.52 where torch answers 3.37; helper-111). p=2 stays the exporter's own; others are the p-norm of the
    broadcast differences (p=0 their count of non-zeros, p=inf their largest magnitude)."""
    import math

    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper, symbolic_opset9

    power = symbolic_helper._parse_arg(p, "f")
    if power == 2.0:
        return symbolic_opset9.cdist(g, x1, x2, p, compute_mode)
    kind = _type_utils.JitScalarType.from_value(x1, _type_utils.JitScalarType.FLOAT)
    rank = symbolic_helper._get_tensor_rank(x1)
    if rank is None:
        return symbolic_opset9.cdist(g, x1, x2, p, compute_mode)
    difference = g.op("Sub", symbolic_helper._unsqueeze_helper(g, x1, [rank - 1]),
                      symbolic_helper._unsqueeze_helper(g, x2, [rank - 2]))
    magnitude = g.op("Abs", difference)

    def const(value: float) -> Any:
        return g.op("Constant", value_t=torch.tensor(value, dtype=kind.dtype()))

    if math.isinf(power):  # axes is an input of ReduceMax from opset 18 (the TorchScript exporter writes up to 23)
        if _opset_being_written() >= 18:
            axes = g.op("Constant", value_t=torch.tensor([-1], dtype=torch.int64))
            return g.op("ReduceMax", magnitude, axes, keepdims_i=0)
        return g.op("ReduceMax", magnitude, axes_i=[-1], keepdims_i=0)
    if power == 0.0:
        nonzero = g.op("Cast", g.op("Not", g.op("Equal", magnitude, const(0.0))), to_i=kind.onnx_type())
        return symbolic_helper._reducesum_helper(g, nonzero, axes_i=[-1], keepdims_i=0)
    total = symbolic_helper._reducesum_helper(g, g.op("Pow", magnitude, const(power)), axes_i=[-1], keepdims_i=0)
    return total if power == 1.0 else g.op("Pow", total, const(1.0 / power))


def _dynamo_translations() -> dict[Any, Any]:
    """The dynamo exporter's translations of the operators it writes otherwise than torch computes them:
    ``aten::atan2`` (-pi for y = 0, x < 0 and NaN at (0, 0), as under the TorchScript exporter; helper-111) and
    ``aten::floor_divide`` (:func:`_floor_divide_onnxscript`), ``aten::log1p`` and ``aten::expm1``
    (:func:`_log1p_onnxscript`), ``aten::cummax`` and ``aten::cummin`` (:func:`_running_extreme_onnxscript`; it has
    neither), ``aten::cumsum`` (:func:`_cumsum_onnxscript`)."""
    import torch

    return {torch.ops.aten.atan2.default: _atan2_onnxscript,
            torch.ops.aten.log1p.default: _log1p_onnxscript,
            torch.ops.aten.expm1.default: _expm1_onnxscript,
            torch.ops.aten.floor_divide.default: _floor_divide_onnxscript,
            torch.ops.aten.div.Tensor_mode: _div_mode_onnxscript,
            torch.ops.aten.scalar_tensor.default: _scalar_tensor_onnxscript,
            torch.ops.aten.cummax.default: functools.partial(_running_extreme_onnxscript, largest=True),
            torch.ops.aten.cummin.default: functools.partial(_running_extreme_onnxscript, largest=False),
            torch.ops.aten.cumsum.default: _cumsum_onnxscript}


def _cumsum_onnxscript(x: Any, dim: int, dtype: int = -1) -> Any:
    """:func:`_cumsum_symbolic` for the dynamo exporter. Its translation summed ``x.cumsum(1, dtype=torch.float16)``
    in float16 (3.9e-3 off torch's) and wrote a CumSum of int8 for ``dtype=torch.int8`` that onnxruntime refused to
    load (the TorchScript exporter wrote the file instead). ``dtype`` is ONNX's type code, -1 when not given. Of a
    float16 ``x`` without ``dtype`` the exporter hands over ``x`` already cast to float32 and casts the sum back
    itself, except where it is a graph output (:func:`_half_outputs_cast_back` mends that)."""
    import numpy as np
    from onnx import TensorProto, numpy_helper
    from onnxscript import opset18 as op

    kind = int(x.dtype)
    if dtype != -1:
        want = int(dtype)
    elif x.dtype.is_integer() or kind == TensorProto.BOOL:  # torch sums a bool or any integer in int64
        want = TensorProto.INT64
    else:
        want = kind
    scalar = x.shape is not None and len(x.shape) == 0
    if want != kind:
        x = op.Cast(x, to=want)
    if scalar:
        return op.Identity(x)
    wider = CUMSUM_WIDER.get(want)
    if wider is not None:
        x = op.Cast(x, to=wider)
    axis = op.Constant(value=numpy_helper.from_array(np.array(dim, dtype=np.int64)))
    summed = op.CumSum(x, axis)  # type: ignore[type-var]
    return summed if wider is None else op.Cast(summed, to=want)


def _half_outputs_cast_back(proto: onnx.ModelProto, leaves: Sequence[Any]) -> None:
    """Cast back to float16 (bfloat16) each float32 output of a dynamo export that torch answers in float16
    (bfloat16), in place. The dynamo exporter computes a half ``sum`` or ``cumsum`` in float32
    and casts the result back (its type promotion pass, "op math"), but where that result is a graph output the
    cast back is left out of the file (torch 2.13: the pass replaces the node's uses, not the program's output
    name): ``x.cumsum(1)`` of a float16 ``x`` answered float32 at opset 18 where torch answers float16, and at 17
    (the TorchScript exporter) float16. ``leaves``: torch's outputs on the sample, in the file's output order."""
    from onnx import TensorProto

    from onnxgate._graph import output_after

    torch = torch_module()
    halves = {torch.float16: TensorProto.FLOAT16, torch.bfloat16: TensorProto.BFLOAT16}
    graph = proto.graph
    if len(leaves) != len(graph.output):
        return
    for leaf, out in zip(leaves, graph.output):
        half = halves.get(leaf.dtype)
        if half is None or out.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        inner = output_after(graph, out.name, "Cast", was="float32", node="as_torch_answers", to=half)
        for info in graph.value_info:  # the float32 value the exporter typed under the output's name
            if info.name == out.name:
                info.name = inner
        out.type.tensor_type.elem_type = half


def _scalar_tensor_onnxscript(s: Any, dtype: int = 1, layout: str = "", device: str = "",
                              pin_memory: bool = False) -> Any:
    """``aten::scalar_tensor`` (a Python number the exporter made a tensor of, ``x * 0.577`` in
    ``nn.MultiheadAttention`` with ``need_weights``) as a constant of its own type: onnxscript's wrote the
    number as float32 then cast it, so a double graph scaled by ``1 / sqrt(3)`` was 5.4e-9 off torch's."""
    import numpy as np
    from onnx import helper, numpy_helper
    from onnxscript import opset18 as op

    kind = 1 if dtype == -1 else int(dtype)
    if isinstance(s, (bool, int, float)) and kind not in (14, 15):  # complex: torchlib's, as pairs of reals
        value = np.array(s, dtype=helper.tensor_dtype_to_np_dtype(kind))
        return op.Constant(value=numpy_helper.from_array(value))
    return op.Cast(s, to=kind)


def _log1p_onnxscript(x: Any) -> Any:
    """:func:`_log1p_symbolic` for the dynamo exporter, whose ``Log(x + 1)`` answered 0 for ``log1p(1e-10)``."""
    from onnxgate._graph import exact_log1p

    return _elementwise_onnxscript(x, exact_log1p)


def _expm1_onnxscript(x: Any) -> Any:
    """:func:`_expm1_symbolic` for the dynamo exporter, whose ``Exp(x) - 1`` answered 0 for ``expm1(1e-10)``."""
    from onnxgate._graph import exact_expm1

    return _elementwise_onnxscript(x, exact_expm1)


def _elementwise_onnxscript(x: Any, formula: Callable[..., Any]) -> Any:
    """``formula(x, op, const)`` in onnxscript's operators, as :func:`_elementwise_symbolic`."""
    import numpy as np
    from onnx import TensorProto, numpy_helper
    from onnxscript import opset18 as op

    if not x.dtype.is_floating_point():
        x = op.Cast(x, to=TensorProto.FLOAT)

    def const(value: float) -> Any:  # a Python float is float32 to onnxscript: made in double, then x's type
        return op.CastLike(op.Constant(value=numpy_helper.from_array(np.array(value))), x)  # type: ignore[type-var]

    return formula(x, lambda kind, *inputs: getattr(op, kind)(*inputs), const)


def _running_extreme_onnxscript(x: Any, dim: int, *, largest: bool) -> Any:
    """:func:`_running_extreme_symbolic` for the dynamo exporter, in onnxscript's operators."""
    import numpy as np
    from onnx import numpy_helper
    from onnxscript import opset18 as op

    name = "cummax" if largest else "cummin"
    rank = len(x.shape)
    axis = dim + rank if dim < 0 else dim
    length = x.shape[axis]
    if not isinstance(length, int):
        _refuse_running_extreme_along(name, axis, largest)
    floating = x.dtype.is_floating_point()
    source = None
    wider = RUNNING_EXTREME_WIDER.get(str(x.dtype.name).lower())
    if wider is not None:
        from onnx import helper

        kind = np.dtype(wider)
        source, x = x, op.Cast(x, to=helper.np_dtype_to_tensor_dtype(kind))
    else:
        kind = x.dtype.numpy()
    limits = np.finfo(kind) if floating else np.iinfo(kind)
    edge = (-np.inf if largest else np.inf) if floating else (limits.min if largest else limits.max)

    def const(value: Any) -> Any:
        return op.Constant(value=numpy_helper.from_array(np.asarray(value)))

    return _running_extreme(x, length, axis, rank, largest=largest, floating=floating,
                            op=lambda kind, *inputs, **attrs: getattr(op, kind)(*inputs, **attrs), const=const,
                            fill=const(np.array(edge, dtype=kind)), source=source)


def _refuse_running_extreme_along(name: str, axis: int, largest: bool) -> NoReturn:
    """Refuse ``torch.cummax``/``cummin`` along an axis of no fixed length (:func:`_running_extreme`)."""
    raise UnsupportedModelError(
        f"torch.{name} is written to ONNX along an axis of fixed length only, but dim {axis} is dynamic (the batch "
        f"axis, or one named in dynamic_axes): take the running {'maximum' if largest else 'minimum'} along a "
        "fixed axis, or compute it outside the model",
        framework="pytorch", operator=f"aten::{name}")


def _div_mode_onnxscript(a: Any, b: Any, rounding_mode: str | None = None) -> Any:
    """``torch.div(a, b, rounding_mode=...)`` for the dynamo exporter: ``"floor"`` as ``a // b``
    (:func:`_floor_divide_onnxscript`), ``"trunc"`` toward zero, None the true quotient."""
    from onnxscript import opset18 as op

    if rounding_mode == "floor":
        return _floor_divide_onnxscript(a, b)
    a, b = _both_tensors(a, b)
    quotient = op.Div(a, b)
    if rounding_mode != "trunc" or not a.dtype.is_floating_point():
        return quotient  # integers: ONNX's Div truncates, as torch's trunc mode does
    return op.Where(op.Less(quotient, op.CastLike(0, a)), op.Ceil(quotient), op.Floor(quotient))  # type: ignore[type-var]


def _both_tensors(a: Any, b: Any) -> tuple[Any, Any]:
    """A division's operands as tensors: a Python number takes the other operand's type."""
    from onnxscript import opset18 as op

    if not hasattr(a, "dtype"):
        a = op.CastLike(a, b)
    if not hasattr(b, "dtype"):
        b = op.CastLike(b, a)
    return a, b


def _floor_divide_onnxscript(a: Any, b: Any) -> Any:
    """:func:`_floor_divide_symbolic` for the dynamo exporter, which writes ``Floor(a / b)`` for floats: ``1.0 //
    0.1`` answered 10 where torch answers 9. Floats as torch computes them (from ``fmod``, less one where the
    remainder's sign is not the divisor's, floored and rounded up past one half; ``a / b`` for a zero divisor);
    integers as the truncated quotient less one where the remainder is non-zero and its sign differs."""
    from onnxscript import opset18 as op

    a, b = _both_tensors(a, b)
    zero = op.CastLike(0, a)  # type: ignore[type-var]
    remainder = op.Mod(a, b, fmod=1)
    short = op.And(op.Not(op.Equal(remainder, zero)), op.Xor(op.Less(remainder, zero), op.Less(b, zero)))
    if not a.dtype.is_floating_point():
        return op.Sub(op.Div(a, b), op.CastLike(short, a))
    div = op.Sub(op.Div(op.Sub(a, remainder), b), op.CastLike(short, a))
    floored = op.Floor(div)
    floored = op.Add(floored, op.CastLike(op.Greater(op.Sub(div, floored), op.CastLike(0.5, a)), a))  # type: ignore[type-var]
    return op.Where(op.Equal(b, zero), op.Div(a, b), floored)


def _atan2_onnxscript(y: Any, x: Any) -> Any:
    """:func:`_atan2_symbolic` for the dynamo exporter, in onnxscript's operators."""
    import math

    import numpy as np
    from onnx import numpy_helper
    from onnxscript import opset18 as op

    zero, one = op.CastLike(0.0, y), op.CastLike(1.0, y)  # type: ignore[type-var]
    # a Python float is float32 to onnxscript: pi was 4.6e-8 off in a double graph
    pi = op.CastLike(op.Constant(value=numpy_helper.from_array(np.array(math.pi))), y)  # type: ignore[type-var]
    both = op.And(op.IsInf(y), op.IsInf(x))
    y, x = op.Where(both, op.Sign(y), y), op.Where(both, op.Sign(x), x)

    def sign_bit(v: Any) -> Any:
        return op.Or(op.Less(v, zero), op.And(op.Equal(v, zero), op.Less(op.Div(one, v), zero)))

    signed_pi = op.Where(sign_bit(y), op.Neg(pi), pi)
    left = sign_bit(x)
    angle = op.Atan(op.Div(y, x))
    moved = op.Where(left, op.Add(angle, signed_pi), angle)
    on_axis = op.Where(op.IsNaN(x), x, op.Where(left, signed_pi, y))  # atan2(0, NaN) is NaN
    return op.Where(op.Equal(y, zero), on_axis, moved)


def _symbolic_group(name: str) -> Any:
    """torch's TorchScript-exporter registry entry for ``name`` (None when it has none), with every opset's
    symbolics imported first: torch fills that registry as each opset's module is imported, at export, and its
    opset-13 ``repeat_interleave`` had won over onnxgate's registered at 9."""
    from torch.onnx._internal.torchscript_exporter import registration

    _import_every_opset()
    return registration.registry.get_function_group(name)


@functools.cache
def _import_every_opset() -> None:
    """Import torch's symbolics of every opset once (:func:`_symbolic_group`)."""
    import importlib

    for version in range(7, 24):
        try:
            importlib.import_module(f"torch.onnx._internal.torchscript_exporter.symbolic_opset{version}")
        except ImportError:
            continue


@functools.cache
def _builtin_opsets(name: str) -> list[int]:
    """9 and each later opset torch's TorchScript exporter has its own symbolic of ``name`` for (torch's own set,
    complete once every opset is imported: looked up once per process)."""
    try:
        group = _symbolic_group(name)
        return sorted({9, *(int(v) for v in (group._functions._base if group is not None else ()) if int(v) > 9)})
    except Exception:
        return [9]


def _custom_symbolic(name: str) -> bool:
    """Whether a custom TorchScript symbolic is registered for ``name`` (at any opset); True when this torch
    cannot say, so that nothing of the user's is replaced."""
    try:
        group = _symbolic_group(name)
        return group is not None and bool(group._functions._overrides)
    except Exception:
        return True


def _less_one_where_signs_differ(g: Any, quotient: Any, remainder: Any, divisor: Any, zero: Any, kind: Any) -> Any:
    """``quotient`` less one where ``remainder`` is not zero and its sign differs from ``divisor``'s: a quotient
    rounded toward zero (or, in floats, from ``fmod``) made to round down, as torch's floor division does."""
    short = g.op("And", g.op("Not", g.op("Equal", remainder, zero)),
                 g.op("Xor", g.op("Less", remainder, zero), g.op("Less", divisor, zero)))
    return g.op("Sub", quotient, g.op("Cast", short, to_i=kind.onnx_type()))


def _float_floor_divide(g: Any, a: Any, b: Any) -> Any:
    """Float ``a // b`` as torch computes it (``div_floor_floating``): from ``fmod``, ``(a - fmod(a, b)) / b``,
    less one where the remainder's sign is not the divisor's, then floored and rounded up past one half; ``a /
    b`` for a zero divisor. ``Floor(a / b)`` answered 10 for ``1.0 // 0.1``, where torch answers 9 (helper-110).
    The operands take the type the exporter's own division gives them (its type promotion); without a known
    type, the exporter's ``Floor(a / b)`` stays."""
    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_opset9

    quotient = symbolic_opset9.true_divide(g, a, b)
    kind = _type_utils.JitScalarType.from_value(quotient, _type_utils.JitScalarType.UNDEFINED)
    if kind not in (_type_utils.JitScalarType.FLOAT, _type_utils.JitScalarType.DOUBLE):
        return symbolic_opset9._floor_divide(g, a, b)
    a, b = (g.op("Cast", v, to_i=kind.onnx_type()) for v in (a, b))

    def const(value: float) -> Any:
        return g.op("Constant", value_t=torch.tensor(value, dtype=kind.dtype()))

    zero = const(0.0)
    remainder = g.op("Mod", a, b, fmod_i=1)
    div = _less_one_where_signs_differ(g, g.op("Div", g.op("Sub", a, remainder), b), remainder, b, zero, kind)
    floored = g.op("Floor", div)
    floored = g.op("Add", floored, g.op("Cast", g.op("Greater", g.op("Sub", div, floored), const(0.5)),
                                        to_i=kind.onnx_type()))
    return g.op("Where", g.op("Equal", b, zero), g.op("Div", a, b), floored)


def _repeat_interleave_symbolic(g: Any, self: Any, repeats: Any, dim: Any = None, output_size: Any = None) -> Any:
    """``torch.repeat_interleave(x, repeats, dim)`` with a constant tensor of repeats as one ``Gather`` of the
    positions ``numpy.repeat`` gives: the exporter's own form kept a position repeated 0 times (repeats [2, 0, 1]
    answered 4 columns where torch answers 3, at opsets 13 and 17). Anything else (a scalar or computed
    repeats, no ``dim``) as the exporter writes it."""
    import numpy as np
    import torch
    from torch.onnx._internal.torchscript_exporter import symbolic_helper

    counts = symbolic_helper._maybe_get_const(repeats, "t")
    axis = symbolic_helper._maybe_get_const(dim, "i") if dim is not None else None
    if (isinstance(counts, torch.Tensor) and counts.dim() == 1 and isinstance(axis, int)
            and not symbolic_helper._is_none(dim) and bool((counts >= 0).all())):
        positions = np.repeat(np.arange(len(counts)), counts.numpy())
        index = g.op("Constant", value_t=torch.tensor(positions, dtype=torch.int64))
        return g.op("Gather", self, index, axis_i=axis)
    # torch's own symbolics, by opset: the newest at or below this export's
    base = _symbolic_group("aten::repeat_interleave")._functions._base
    own = base[max(v for v in base if v <= g.opset)]
    return own(g, self, repeats, dim, output_size)


def _div_symbolic(g: Any, self: Any, other: Any, *args: Any) -> Any:
    """``torch.div(a, b, rounding_mode="floor")`` as ``a // b`` (:func:`_floor_divide_symbolic`); ``"trunc"`` on
    floats toward zero in floats (the exporter cast the quotient to int64 and back: an infinity became
    -9.2e18, a quotient past 2**63 wrapped); every other division as the exporter writes it."""
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper, symbolic_opset9

    mode = symbolic_helper._maybe_get_const(args[0], "s") if args else None
    if mode == "floor":
        return _floor_divide_symbolic(g, self, other)
    if mode == "trunc" and (symbolic_helper._is_fp(self) or symbolic_helper._is_fp(other)):
        quotient = symbolic_opset9.true_divide(g, self, other)
        kind = _type_utils.JitScalarType.from_value(quotient, _type_utils.JitScalarType.UNDEFINED)
        if kind in (_type_utils.JitScalarType.FLOAT, _type_utils.JitScalarType.DOUBLE):
            import torch

            negative = g.op("Less", quotient, g.op("Constant", value_t=torch.tensor(0.0, dtype=kind.dtype())))
            return g.op("Where", negative, g.op("Ceil", quotient), g.op("Floor", quotient))
    return symbolic_opset9.div(g, self, other, *args)


def _floor_divide_symbolic(g: Any, self: Any, other: Any) -> Any:
    """``self // other`` rounding down, where torch 2.13's exporter still writes the truncating division
    torch.floor_divide had before 1.13: ``x // 4`` on -7 answered -1 where torch answers -2 (and ``x // 2.0``
    on -0.2 answered 0 for -1), with convert silent and validate passing data without negatives (helper-101).
    Floats as torch computes them (:func:`_float_floor_divide`); integers as the truncated quotient less one
    where the remainder is non-zero and its sign differs from the divisor's, exactly as torch."""
    import torch
    from torch.onnx._internal.torchscript_exporter import _type_utils, symbolic_helper

    if symbolic_helper._is_fp(self) or symbolic_helper._is_fp(other):
        return _float_floor_divide(g, self, other)
    # torch promotes int32 // int64 tensors to int64, while a 0-d operand (x // 4's 4) takes the other's type
    kinds = [_type_utils.JitScalarType.from_value(v, _type_utils.JitScalarType.INT64) for v in (self, other)]
    ranks = [symbolic_helper._get_tensor_rank(v) for v in (self, other)]
    if ranks[1] == 0 and ranks[0] != 0:
        kind = kinds[0]
    elif ranks[0] == 0 and ranks[1] != 0:
        kind = kinds[1]
    else:
        kind = max(kinds, key=lambda k: torch.iinfo(k.dtype()).bits)
    # Mul and Sub take 8- and 16-bit integers from opset 14 only: those are computed in int32 (exact for
    # them) and cast back (int16 // int16 at opset 13 wrote a file onnxruntime refused; helper-110)
    wide = kind if torch.iinfo(kind.dtype()).bits >= 32 else _type_utils.JitScalarType.INT
    self, other = (g.op("Cast", v, to_i=wide.onnx_type()) for v in (self, other))
    # the lowest integer over -1 overflows: torch answers the lowest integer, onnxruntime's Div traps (SIGFPE,
    # the process dies; helper-114): it is divided by 1 instead
    lowest = g.op("Constant", value_t=torch.tensor(torch.iinfo(wide.dtype()).min, dtype=wide.dtype()))
    minus_one, one = (g.op("Constant", value_t=torch.tensor(v, dtype=wide.dtype())) for v in (-1, 1))
    overflow = g.op("And", g.op("Equal", self, lowest), g.op("Equal", other, minus_one))
    quotient = g.op("Div", self, g.op("Where", overflow, one, other))
    zero = g.op("Constant", value_t=torch.tensor(0, dtype=wide.dtype()))
    remainder = g.op("Sub", self, g.op("Mul", quotient, other))
    result = _less_one_where_signs_differ(g, quotient, remainder, other, zero, wide)
    return result if wide is kind else g.op("Cast", result, to_i=kind.onnx_type())


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
    notes: list[str] | None = None,
    axes: Axes | None = None,
    named_outputs: Sequence[dict[int, str]] = (),
) -> onnx.ModelProto:
    """Export ``model``; the TorchScript tracer's warnings (a Python branch on a tensor's value, which
    the trace fixes to the branch the sample took) are appended to ``notes``."""
    torch = torch_module()
    import warnings

    import onnx

    try:
        with (quiet_exporters(), eval_mode(model) as kept, fast_path_zeros(model),
              warnings.catch_warnings(record=True) as caught):
            warnings.simplefilter("always", torch.jit.TracerWarning)
            if dynamo:
                kwargs: dict[str, Any] = {}
                if not isinstance(model, torch.export.ExportedProgram):
                    batch = torch.export.Dim(BATCH_DIM)
                    kwargs["dynamic_shapes"] = _shaped_as_forward(
                        model, dynamo_spec(args, axes) if axes else [{0: batch} if a.dim() else None for a in args])
                kwargs["custom_translation_table"] = _dynamo_translations()
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
                _refuse_lazy_renorm(model)
                buffer = io.BytesIO()
                named_inputs = axes or {}
                spelled = {n: {0: BATCH_DIM, **named_inputs.get(i, {})}
                           for i, (n, a) in enumerate(zip(input_names, args)) if a.dim()}
                for i, (n, ax) in enumerate(zip(output_names, output_axes)):
                    named = dict(named_outputs[i]) if i < len(named_outputs) else {}
                    if ax is not None:
                        named[ax] = BATCH_DIM
                    if named:
                        spelled[n] = named
                # traced as a caller with gradients on: under the user's torch.no_grad() a TransformerEncoderLayer
                # takes its fused inference path (aten::_transformer_encoder_layer_fwd), which this exporter
                # cannot write, and the refusal sent the user to opset 18 (helper-93)
                with (torch.enable_grad(), _exact_symbolics(),
                      kept.restored_after_forward() if kept is not None else contextlib.nullcontext()):
                    torch.onnx.export(
                        _sample_args_only(model, args),
                        args,
                        buffer,
                        dynamo=False,
                        opset_version=opset,
                        input_names=input_names,
                        output_names=output_names,
                        dynamic_axes=spelled,
                        verbose=False,
                    )
                proto = onnx.load_from_string(buffer.getvalue())
                _dilated_same_pads_written_out(proto)
    except (OpsetError, UnsupportedModelError):
        raise
    except Exception as err:
        own = _own_refusal(err)
        if own is not None:  # an onnxgate translation's refusal, wrapped by the dynamo exporter
            raise own from None
        # The probes ran on a few rows only: a row of the sample that forward() cannot take is a
        # data error, not an exporter one (raises InvalidDataError).
        _run_sample(model, args)
        raise _export_error(model, err, opset=opset, dynamo=dynamo, args=args) from err
    if notes is not None:
        # torch's own modules warn too (nn.GRU checks its input's shape in Python): only the user's code
        torch_dir = os.path.dirname(torch.__file__) + os.sep
        told = sorted({str(w.message).split("\n")[0] for w in caught
                       if issubclass(w.category, torch.jit.TracerWarning) and not w.filename.startswith(torch_dir)})
        notes.extend(f"the TorchScript tracer warned: {text} The exported graph keeps what the sample's rows did: "
                     "validate with data that takes every branch (search finds rows that do not)" for text in told)
    return proto


def _own_refusal(err: BaseException) -> UnsupportedModelError | None:
    """The :class:`UnsupportedModelError` one of onnxgate's translations raised under ``err`` (the dynamo exporter
    wraps it in its own error, and the refusal said "try the TorchScript exporter" of a cummax along the batch
    axis, which refuses it too), or None."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, UnsupportedModelError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _sample_args_only(model: Any, args: tuple[Any, ...]) -> Any:
    """``model`` as the TorchScript exporter should see it: taking the sample's tensors and nothing more.

    That exporter appends the value of every ``forward()`` parameter past the sample's that has a default
    (``_decide_input_format``) and traces it as a tensor: ``forward(self, x, scale: float = 2.0)`` was written
    with a second graph input ``onnx::Cast_1``, refused as a graph "the exporter wrote wrongly", and a bare
    ``nn.TransformerEncoderLayer`` (whose ``is_causal=False`` reached ``scaled_dot_product_attention`` as a
    tensor) was refused below opset 18 (helper-186). A module whose ``forward(*args)`` calls the model with the
    sample alone leaves those parameters at their defaults, as ``forward()`` runs them. Other models as given.
    """

    import torch

    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return model
    named = _named_parameters_of(model.forward)
    if named is None:
        return model
    if not any(p.default is not p.empty and p.default is not None for p in named[len(args):]):
        return model

    class SampleArgs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            return self.model(*tensors)

    wrapper = SampleArgs()
    wrapper.training = model.training  # its own flag only: eval_mode() set the model's modules
    return wrapper


#: Per forward() function, its named parameters (past ``self``) and the defaults they were read with.
_FORWARD_PARAMETERS: weakref.WeakKeyDictionary[Any, tuple[Any, ...]] = weakref.WeakKeyDictionary()


def _named_parameters_of(forward: Any) -> list[Any] | None:
    """The positional and keyword parameters of ``forward`` (a bound method), or None when it has no signature.
    A plain method's are read once per function, and again only when its code or defaults are replaced:
    inspect.signature took 0.05-0.07 ms of each conversion."""
    import inspect

    function: Any = getattr(forward, "__func__", None)
    plain = (isinstance(forward, types.MethodType) and isinstance(function, types.FunctionType)
             and not hasattr(function, "__wrapped__") and not hasattr(function, "__signature__"))
    if plain:
        cached = _FORWARD_PARAMETERS.get(function)
        now = (function.__code__, function.__defaults__, function.__kwdefaults__)
        if cached is not None and all(a is b for a, b in zip(cached, now)):  # by identity: a default may be a tensor
            return list(cached[3])
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return None
    named = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if plain:
        _FORWARD_PARAMETERS[function] = (function.__code__, function.__defaults__, function.__kwdefaults__, named)
    return named


def _refuse_lazy_renorm(model: Any) -> None:
    """Refuse an ``nn.Embedding``/``nn.EmbeddingBag`` with ``max_norm`` for the TorchScript exporter.

    Such a layer renormalises a row when forward() looks it up, in place. The TorchScript exporter writes the
    weights as they are then: the rows the sample looked up renormalised, the others not. The file answered
    otherwise than the model for every other id, and validate passed on data holding the sample's ids only
    (helper-171). The dynamo exporter writes the renormalisation.
    """
    torch = torch_module()
    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return
    for name, layer in model.named_modules():
        if isinstance(layer, (torch.nn.Embedding, torch.nn.EmbeddingBag)) and layer.max_norm is not None:
            raise UnsupportedModelError(
                f"{type(model).__name__}'s {type(layer).__name__} {name!r} renormalises its rows as forward() looks "
                f"them up (max_norm={layer.max_norm:g}); the TorchScript exporter (opsets below {DYNAMO_MIN_OPSET}) "
                "writes the weights as they are, so ids the sample did not look up would answer with longer rows "
                f"than the model's. Convert at opset {DYNAMO_MIN_OPSET} or more (the dynamo exporter writes the "
                "renormalisation), or renormalise every row once and drop max_norm: torch.embedding_renorm_("
                "layer.weight.data, torch.arange(layer.num_embeddings), layer.max_norm, layer.norm_type); "
                "layer.max_norm = None",
                framework="pytorch",
            )


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


#: What a recurrent layer built with batch_first=False may do to the rows (the first axis onnxgate batches on),
#: said only where the batch came out fixed: a forward() that transposes before it is right (helper-70).
TIME_MAJOR_ADVICE = ("if its {layer} (batch_first=False) reads the sample's first axis as its time steps, the "
                     "rows are not the first axis")


def _time_major_layers(model: Any) -> list[str]:
    """The layers of ``model`` built with ``batch_first=False`` (torch's default for recurrent and attention
    layers, which then read their input's axis 0 as the sequence and axis 1 as the rows), outermost first."""
    torch = torch_module()
    nn = torch.nn
    kinds = (nn.RNNBase, nn.MultiheadAttention, nn.Transformer, nn.TransformerEncoderLayer,
             nn.TransformerDecoderLayer)
    modules = model.modules() if isinstance(model, nn.Module) else []
    # a Transformer*Layer keeps the flag on its attention only
    return [type(m).__name__ for m in modules if isinstance(m, kinds)
            and not getattr(m, "batch_first", getattr(getattr(m, "self_attn", None), "batch_first", True))]


def _refuse_rows_on_axis_one(model: Any, args: tuple[Any, ...], probe: tuple[Any, ...], outputs: Any) -> None:
    """Refuse a model whose ``batch_first=False`` layer reads the sample's axis 0 as its sequence: each of the
    probe's rows is scored alone and compared with its answer among them, in PyTorch.

    onnxgate batches on axis 0 (the file's dynamic axis, validate's and every service's rows). Exported as it is,
    an ``nn.LSTM(batch_first=False)`` fed ``[steps, rows, features]`` became a file whose axis 0 named ``N`` was
    the 5 time steps and whose real batch was fixed at the sample's 4, handed back without a word at opsets
    13-17; an ``nn.MultiheadAttention`` or ``nn.TransformerEncoderLayer`` (``batch_first=False`` by default) was
    refused at 14-17 with advice about ``x.view(4, -1)`` and handed back so at 18 (helper-148). A forward() that
    transposes the rows to axis 1 before such a layer answers each row alone as among the others, and passes.
    """
    torch = torch_module()
    layers = _time_major_layers(model)
    rows = _rows(probe)
    if not layers or rows < 2:
        return
    together = torch_leaves(outputs)
    compared = False
    for row in range(rows):
        try:
            with quiet_exporters():
                alone = torch_leaves(torch_call(model, tuple(a[row:row + 1] if a.dim() else a for a in probe)))
        except Exception:
            return  # a row alone does not run: the batch-size checks that follow say why
        for batch, single in zip(together, alone):
            # a row alone may come back with its rows axis squeezed away (h_n.squeeze() of [1, 1, hidden]): the
            # file squeezes it too, and the row's values are still the ones to compare
            squeezed = single.dim() == batch.dim() - 1
            axes = [ax for ax in range(batch.dim()) if batch.shape[ax] == rows
                    and batch.shape[:ax] + batch.shape[ax + 1:] == (
                        single.shape if squeezed else single.shape[:ax] + single.shape[ax + 1:])
                    and (squeezed or (batch.dim() == single.dim() and single.shape[ax] == 1))]
            if not axes:
                continue
            compared = True
            expected = batch.select(axes[0], row) if squeezed else batch.narrow(axes[0], row, 1)
            same = (torch.allclose(expected, single, rtol=1e-3, atol=1e-4, equal_nan=True)
                    if expected.is_floating_point() else torch.equal(expected, single))
            if not same:
                _raise_rows_on_axis_one(model, layers[0], args, f"row {row} scored alone answers otherwise than "
                                        f"among the sample's first {rows}")
    if not compared:
        _raise_rows_on_axis_one(model, layers[0], args, "no output holds a value per row of axis 0")


def _raise_rows_on_axis_one(model: Any, layer: str, args: tuple[Any, ...], found: str) -> None:
    shape = next((list(a.shape) for a in args if a.dim()), [])
    raise UnsupportedModelError(
        f"{type(model).__name__}'s {layer} is built with batch_first=False, so it reads axis 0 of the sample "
        f"(shape {shape}) as the sequence and axis 1 as the rows ({found}), while the ONNX file, validate and "
        f"every service take the rows on axis 0. Build the {layer} with batch_first=True (the weights are the "
        "same: load_state_dict(old.state_dict())) and pass the sample as [rows, sequence, features], or swap "
        "axes 0 and 1 (x.transpose(0, 1)) inside forward() before it",
        framework="pytorch",
    )


def _refuse_unrunnable(model: Any, err: Exception, proto: onnx.ModelProto | None = None,
                       feeds: Mapping[str, Any] | None = None) -> None:
    """Refuse a file onnxruntime loads but cannot run on the sample the model was exported from (``feeds``)."""
    found = re.search(r"(\w+) operator does not support double", str(err))
    if found:  # nn.LSTM and nn.GRU in float64: "LSTM operator does not support double yet", at run time
        _refuse_without_double_kernel(model, found.group(1), err, proto, feeds)
    raise UnsupportedModelError(
        f"the exported model of {type(model).__name__} loads in onnxruntime but cannot run on the sample it was "
        f"exported from ({export_summary(err)[:300]}): the exporter wrote the graph wrongly. Try the other "
        "exporter (options={'dynamo': False} up to opset 17, or opset 18 and higher), or replace the layer",
        framework="pytorch",
    ) from err


def _probe_session(proto: onnx.ModelProto) -> Any:
    """An onnxruntime session to run the exported file on the sample. Graph optimisations and thread pools make
    up most of a session's start-up (~4 ms against ~0.4 ms for a small net, measured); whether the graph runs
    does not need them. A run that fails is said once, in onnxgate's message, not logged."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _check_runs(model: Any, proto: onnx.ModelProto, args: tuple[Any, ...], names: list[str]) -> str | None:
    """Refuse a dynamo export onnxruntime cannot run on the sample itself (an LSTM with ``proj_size`` at opset
    18: "Input initial_c must have shape {1,1,3}. Actual:{1,1,6}", handed back without a word; helper-111).
    A file onnxruntime has no kernel for is refused (:func:`_unloadable_note`), another it cannot load left to
    validation."""
    try:
        session = _probe_session(proto)
    except Exception as err:
        return _unloadable_note(model, err, proto)
    takes = {i.name for i in session.get_inputs()}  # an input forward() never reads is no input of the file
    feeds = {n: a.numpy() for n, a in zip(names, args) if n in takes}
    try:
        session.run(None, feeds)
    except Exception as err:
        _refuse_unrunnable(model, err, proto, feeds)
    return None


def _unloadable_note(model: Any, err: Exception, proto: onnx.ModelProto | None = None) -> str | None:
    """Refuse a file onnxruntime cannot load because it has no kernel for an operator in the file's types
    (``Atan`` or ``Conv`` on float64: the file came back with a warning, and no target could load it); None for
    another failure to load, left to validation (an opset the installed onnxruntime does not implement)."""
    found = re.search(r"Could not find an implementation for (\w+)\((\d+)\)", str(err))
    if found is None:
        return None
    _refuse_without_double_kernel(model, found.group(1), err, proto)
    return None


def _refuse_without_double_kernel(model: Any, op: str, err: Exception, proto: onnx.ModelProto | None = None,
                                  feeds: Mapping[str, Any] | None = None) -> None:
    """Refuse a model whose file needs a kernel onnxruntime does not have for ``op`` in its types (float64 as a
    rule: onnxgate writes the activations among them as formulas, :func:`onnxgate._graph.double_formulas`; or
    bfloat16, for which onnxruntime's CPU has few kernels: no Gemm, MatMul or Conv). In float64, every operator
    without a double kernel is named with the modules computing it (:func:`_kernel_gaps`), not only ``op``, the
    first one onnxruntime stopped at."""
    from onnxgate._onnx import holds_type

    if proto is not None and holds_type(proto, 16):  # TensorProto.BFLOAT16
        # model.to(torch.bfloat16) and a bfloat16 autocast were told "float64 as a rule" and "model.float()", which an
        # autocast in forward() does not undo (helper-261)
        raise UnsupportedModelError(
            f"onnxruntime has no kernel for {op} in bfloat16, which {type(model).__name__} computes in "
            "(model.to(torch.bfloat16), a bfloat16 sample or torch.autocast(dtype=torch.bfloat16) in forward(); it "
            f"said: {export_summary(err)[:200]}), so no target could load the file. Convert the model in float32 "
            "(model.float(), a float32 sample, no bfloat16 autocast in forward()), or in float16 (model.half(), "
            "autocast with dtype=torch.float16), which onnxruntime has kernels for",
            framework="pytorch",
            operator=op,
        ) from err
    words = _kernel_type_words(op, err, proto)
    if words is not None:
        raise UnsupportedModelError(
            f"onnxruntime has no kernel for {op} in {words[0]}, which {type(model).__name__} computes in (it said: "
            f"{export_summary(err)[:200]}), so no target could load the file. {words[1]}, or replace the layer",
            framework="pytorch",
            operator=op,
        ) from err
    ops, listed = _kernel_gaps(model, op, proto, feeds)
    raise UnsupportedModelError(
        f"onnxruntime has no kernel for {listed} in the types {type(model).__name__} computes in (float64 as a "
        f"rule; it said: {export_summary(err)[:200]}), so no target could load the file. Convert the model in "
        f"float32 (model.float() and a float32 sample), or replace the layer{'s' if len(ops) > 1 else ''}",
        framework="pytorch",
        operator=ops[0],
        operators=list(ops),
    ) from err


#: onnxruntime's names of element types, as torch names them.
_TORCH_TYPE_NAMES = {"float": "float32", "double": "float64"}


def _kernel_type_words(op: str, err: Exception, proto: onnx.ModelProto | None) -> tuple[str, str] | None:
    """The type of the node onnxruntime found no ``op`` kernel for and what to convert with instead, when that type is
    not float64 (whose advice, float32, is the rule's): an int16 ``Pad`` was told "float64 as a rule" and "Convert the
    model in float32 (model.float() and a float32 sample)", which neither names its type nor changes an int16
    tensor. None when the node or its type is not known, or is float64."""
    from onnxgate._onnx import cpu_kernel_types, model_opsets, onnx_type_name, value_types

    named = re.search(r"node with name '([^']*)'", str(err))
    if proto is None or named is None:
        return None
    node = next((n for n in proto.graph.node if n.name == named.group(1)), None)
    if node is None:
        return None
    types = value_types(proto)
    found = next((types[name] for name in node.input if types.get(name)), None)
    if found is None or found == 11:  # TensorProto.DOUBLE
        return None
    name = onnx_type_name(found).removeprefix("tensor(").removesuffix(")")
    name = _TORCH_TYPE_NAMES.get(name, name)
    takes = [_TORCH_TYPE_NAMES.get(t, t) for t in cpu_kernel_types(op, model_opsets(proto).get("", 0), node.domain)]
    wider = ("int32", "int64", "float32") if "int" in name else ("float32", "float64")  # each holds every value
    usual = [t for t in wider if t in takes]
    if not usual:
        return None
    return name, (f"onnxruntime's {op} takes {', '.join(takes)}: convert with the sample, and the tensors forward() "
                  f"computes {op} on, in one of those (x.to(torch.{usual[0]}) where x is {name})")


def _kernel_gaps(model: Any, op: str, proto: onnx.ModelProto | None,
                 feeds: Mapping[str, Any] | None = None) -> tuple[tuple[str, ...], str]:
    """The operators of ``proto`` onnxruntime has no double kernel for (:func:`onnxgate._onnx.missing_kernels`:
    onnxruntime stops at the first, ``op``, so a float64 model with a ``Conv2d``, an ``AvgPool2d`` and an ``LSTM``
    was refused for the ``Conv``, then, once that was fixed, for the next), and them in words with the modules
    computing them: ``Conv (module 'edges': Conv2d), AveragePool (module 'pool': AvgPool2d) and LSTM (module 'seq':
    LSTM)``. ``op`` alone when the file is not at hand or no double node is among them (another type)."""
    from onnxgate._onnx import missing_kernels

    gaps = missing_kernels(proto, feeds) if proto is not None else []
    if not gaps:
        return (op,), op
    nodes = {node.name: node for node in proto.graph.node} if proto is not None else {}
    modules = dict(model.named_modules()) if hasattr(model, "named_modules") else {}
    by_op: dict[str, list[str]] = {}
    for gap in gaps:
        path = _module_of(nodes[gap.node], modules) if gap.node in nodes else None
        paths = by_op.setdefault(gap.op, [])
        if path and path not in paths:
            paths.append(path)
    clauses = []
    for name, paths in by_op.items():
        shown = ", ".join(f"'{path}': {type(modules[path]).__name__}" for path in paths[:4])
        more = f" and {len(paths) - 4} more" if len(paths) > 4 else ""
        clauses.append(f"{name} (module{'s' if len(paths) > 1 else ''} {shown}{more})" if paths else name)
    listed = ", ".join(clauses[:-1]) + (" and " if len(clauses) > 1 else "") + clauses[-1]
    return tuple(by_op), listed


def _module_of(node: onnx.NodeProto, modules: Mapping[str, Any]) -> str | None:
    """The dotted path of the submodule of the converted model that computes ``node`` (``"0.body.0"``), or None when
    the file does not say or it is the model itself. The dynamo exporter writes the scopes in the node's
    ``pkg.torch.onnx.name_scopes`` (``['', '0', '0.body', '0.body.0', 'conv1d']``); the TorchScript exporter in
    its name, each relative to a module above it (``/0/body/body.0/Conv``)."""
    import ast

    scopes: list[str] = []
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            with contextlib.suppress(ValueError, SyntaxError):
                scopes = [str(scope) for scope in ast.literal_eval(prop.value)]
    if not scopes and node.name.startswith("/"):
        scopes = node.name.split("/")[1:-1]
    current = ""
    for scope in scopes:
        above = current.split(".") if current else []
        for depth in range(len(above), -1, -1):
            candidate = ".".join([*above[:depth], scope]) if scope else ""
            if candidate in modules:
                current = candidate
                break
    return current or None


def _check_batch_dynamic(model: Any, proto: onnx.ModelProto, args: tuple[Any, ...], names: list[str]) -> str | None:
    """Run the file on ``PROBE_ROWS`` rows and on one more; fail if it only runs on the sample's size.

    The TorchScript exporter marks axis 0 dynamic whatever the graph does, so a forward() that
    hard-codes the batch (``x.view(4, -1)``) exports "fine" and breaks on the first other batch.
    Two batch sizes that run, at least one of them not the traced one, prove the axis dynamic.
    The dynamo exporter does not need this: torch.export refuses such a model. When onnxruntime
    cannot load the file (missing, or an opset it does not implement), the check is left to validation;
    a file it loads but cannot run on the whole sample is refused (:func:`_refuse_unrunnable`).
    """
    import numpy as np

    try:
        session = _probe_session(proto)
    except Exception as err:
        return _unloadable_note(model, err, proto)
    takes = {i.name for i in session.get_inputs()}  # an input forward() never reads is no input of the file
    probe = {n: a.numpy() for n, a in zip(names, _head(args)) if n in takes}
    grown = {n: np.concatenate([v, v[:1]]) if v.ndim else v for n, v in probe.items()}
    try:
        session.run(None, probe)
        session.run(None, grown)
        return None
    except Exception as err:
        failure = err
    full = {n: a.numpy() for n, a in zip(names, args) if n in takes}
    batch = _rows(args)
    try:
        session.run(None, full)
    except Exception as err:
        _refuse_unrunnable(model, err, proto, full)
    # Runs on the sample's size only: name the sample's size and one more, as the user sees it.
    failed = batch + 1
    try:
        session.run(None, {n: np.concatenate([v, v[:1]]) if v.ndim else v for n, v in full.items()})
        failed = _rows(_head(args))
    except Exception as err:
        failure = err
    time_major = _time_major_layers(model)
    advice = "Write forward() without a hard-coded batch size (x.view(x.shape[0], -1) or torch.flatten(x, 1) " \
        "instead of x.view(4, -1))"
    if time_major:
        advice = (f"{TIME_MAJOR_ADVICE.format(layer=time_major[0])}: build it with batch_first=True and pass the "
                  "sample as [rows, steps, features]")
    raise UnsupportedModelError(
        f"{type(model).__name__} fixes the batch size: the exported model runs on the sample's "
        f"{batch} row(s) but not on {failed} ({export_summary(failure)[:200]}). {advice}.",
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
    proto, _warnings = convert_module(
        module,
        example_args,
        opset=opset,
        input_names=input_names,
        output_names=output_names,
        dynamo=dynamo,
        optimize=True,
    )
    return proto


#: The operators torch writes for a layer ``torch.ao.quantization.quantize_dynamic`` made, by its class name.
_DYNAMIC_QUANTIZED_OPS = {"Linear": "quantized::linear_dynamic", "LSTM": "aten::quantized_lstm",
                          "GRU": "aten::quantized_gru", "LSTMCell": "quantized::quantized_lstm_cell_dynamic",
                          "GRUCell": "quantized::quantized_gru_cell_dynamic",
                          "RNNCell": "quantized::quantized_rnn_cell"}


def _refuse_eager_quantized(model: Any) -> None:
    """Refuse, naming the layer and what to do, a module holding a layer no PyTorch exporter writes: one made by
    ``quantize_dynamic`` (qint8 or float16 weights), or a fused fake quantizer of ``prepare_qat`` (its observer runs
    in eval mode too). Both exporters were tried first, and the refusal quoted them at opsets 17 and 18
    ("Exporting the operator 'quantized::linear_dynamic' ... is not supported"; "LinearPackedParamsBase ... does
    not have a field with name '__obj_flatten__'"), an LSTM's "Only tuples, lists and Variables are supported as JIT
    inputs/outputs", and sent the user to "replace the operator" (helper-261). Static quantization
    (``torch.ao.quantization.convert``) converts: the TorchScript exporter writes QuantizeLinear and
    DequantizeLinear."""
    torch = torch_module()
    if not isinstance(model, torch.nn.Module):
        return
    fused = getattr(torch.ao.quantization, "FusedMovingAvgObsFakeQuantize", None)
    for path, layer in model.named_modules():
        where = f"{type(model).__name__}'s layer {path!r}" if path else type(model).__name__
        origin = type(layer).__module__
        if origin.startswith(("torch.ao.nn.quantized.dynamic", "torch.nn.quantized.dynamic")):
            name = type(layer).__name__
            weights = getattr(layer, "_packed_params", None)
            half = getattr(weights, "dtype", getattr(layer, "dtype", None)) == torch.float16
            op = "quantized::linear_dynamic_fp16" if half and name == "Linear" else _DYNAMIC_QUANTIZED_OPS.get(name)
            raise UnsupportedModelError(
                f"{where} ({name}) is quantized by torch.ao.quantization.quantize_dynamic "
                f"({'float16' if half else 'int8'} weights{f', operator {op}' if op else ''}): neither PyTorch "
                "exporter writes it. Convert the float model from before quantize_dynamic"
                + (" (or model.half() for float16 weights throughout)" if half else
                   ", then quantize the ONNX file with onnxruntime's tools: onnxruntime.quantization.quantize_dynamic"
                   "('model.onnx', 'model.int8.onnx', weight_type=QuantType.QInt8)"),
                framework="pytorch",
                operator=op or name,
            )
        if fused is not None and isinstance(layer, fused):
            raise UnsupportedModelError(
                f"{where} is a fake quantizer of torch.ao.quantization.prepare_qat (operator "
                "aten::fused_moving_avg_obs_fake_quant), which no PyTorch exporter writes and whose observer changes "
                "its scale on every batch. Finish the quantization first, torch.ao.quantization.convert(model.eval()) "
                "(written as QuantizeLinear and DequantizeLinear at opsets up to 17, or options={'dynamo': False}), "
                "or convert the float model",
                framework="pytorch",
                operator="aten::fused_moving_avg_obs_fake_quant",
            )


def convert_module(
    model: Any,
    sample: Any,
    *,
    opset: int,
    input_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
    dynamo: bool | None,
    optimize: bool,
    dynamic_axes: Any = None,
) -> tuple[onnx.ModelProto, list[str]]:
    # One quiet_exporters for the probes and the export together (the inner ones then cost nothing).
    with quiet_exporters():
        return _convert_quietly(
            model, sample, opset=opset, input_names=input_names, output_names=output_names,
            dynamo=dynamo, optimize=optimize, dynamic_axes=dynamic_axes,
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
    dynamic_axes: Any = None,
) -> tuple[onnx.ModelProto, list[str]]:
    kind = model_kind(model)
    _refuse_eager_quantized(model)
    use_dynamo = _choose_dynamo(kind, opset, dynamo)
    args, implied, warns = _sample_tensors(model, sample)
    _refuse_baked_training(model, kind)
    warns.extend(_training_mode_notes(model))
    grown: list[Any] = []  # forward() on the probe and one row more: its outputs or its error
    # the probes (the sample is run whole only when they fail) on the probe's rows and one more, or the whole
    # sample of an ExportedProgram
    with one_thread_if_small(model, args if kind == "program" else _head(args, PROBE_ROWS + 1)):
        probe, outputs = _dry_run(model, args, whole=kind == "program")
        warns.extend(_buffer_update_notes(model, probe, grown))
        use_dynamo = _avoid_dynamo_on_data_writes(model, opset, dynamo, use_dynamo, warns)
        _refuse_rows_on_axis_one(model, args, probe, outputs)
    leaves = torch_leaves(outputs)
    in_names = io_names(input_names if input_names is not None else implied, "input", len(args), "input")
    if output_names is None:
        output_names = key_names(outputs, taken=in_names)
    out_names = io_names(output_names, "output", len(leaves), "output")
    axes = parse_dynamic_axes(dynamic_axes, in_names, args)
    if axes and kind == "program":
        raise UnsupportedModelError(
            "options['dynamic_axes'] cannot change an ExportedProgram: its axes are those torch.export gave it. "
            "Export it with them: torch.export.export(model, args, dynamic_shapes=({0: Dim('N'), 1: Dim('T')},))",
            framework="pytorch",
        )
    named_outputs = output_axes(model, probe, leaves, axes, out_names, in_names) if axes else []
    fallback = use_dynamo and dynamo is None and kind == "module" and opset <= TORCHSCRIPT_MAX_OPSET
    try:
        proto = _export(
            model,
            args,
            opset=opset,
            input_names=in_names,
            output_names=out_names,
            dynamo=use_dynamo,
            optimize=optimize,
            # an ExportedProgram's batch is its export's (whose error says how to make it dynamic)
            output_axes=(() if use_dynamo and kind != "module"
                         else _output_batch_axes(model, probe, leaves, check_only=use_dynamo, grown=grown)),
            notes=warns,
            axes=axes,
            named_outputs=named_outputs,
        )
    except UnsupportedModelError as err:
        # only an operator without a translation (torch.export's refusal of a branch on data stands), and only
        # where _export_error found the TorchScript exporter writes the model ("neither" said it does not)
        if not fallback or "No ONNX function found" not in str(err) or str(err).startswith("neither"):
            raise
        # an operator the dynamo exporter has no translation for and the TorchScript exporter writes
        # (torch.cdist at opset 18: refused where torch.onnx.export(dynamo=False) was right; helper-111)
        try:
            proto = _export(model, args, opset=opset, input_names=in_names, output_names=out_names, dynamo=False,
                            optimize=optimize, output_axes=_output_batch_axes(model, probe, leaves, grown=grown),
                            notes=warns, axes=axes, named_outputs=named_outputs)
        except Exception:
            raise err from None
        use_dynamo = fallback = False
        said = str(err).split("said: ")[-1][:200]
        warns.append(f"the dynamo exporter could not convert {type(model).__name__} ({said}); it was written with "
                     f"the TorchScript exporter at opset {opset}")
    if fallback:
        from onnxgate._onnx import load_error

        refused = load_error(proto)
        if refused is not None:
            # an nn.EmbeddingBag on int32 indices with a dynamic batch: the dynamo file's Concat mixes int32
            # and int64, which onnxruntime refuses; the TorchScript exporter writes it right (helper-68)
            with contextlib.suppress(Exception):
                proto = _export(model, args, opset=opset, input_names=in_names, output_names=out_names,
                                dynamo=False, optimize=optimize,
                                output_axes=_output_batch_axes(model, probe, leaves, grown=grown), notes=warns,
                                axes=axes, named_outputs=named_outputs)
                use_dynamo = False
                warns.append(f"the dynamo exporter's file does not load in onnxruntime ({refused}); it was "
                             f"written with the TorchScript exporter at opset {opset}")
    if fallback and axes and fixed_axes(proto, in_names, axes):
        # torch.export fixes an nn.LSTM's steps to the sample's (in torch 2.13, after the first export in the
        # process); the TorchScript exporter writes them dynamic, and check_lengths proves it
        index, axis, name = fixed_axes(proto, in_names, axes)[0]
        with contextlib.suppress(UnsupportedModelError):
            proto = _export(model, args, opset=opset, input_names=in_names, output_names=out_names, dynamo=False,
                            optimize=optimize, output_axes=_output_batch_axes(model, probe, leaves, grown=grown),
                            notes=warns, axes=axes, named_outputs=named_outputs)
            use_dynamo = False
            warns.append(f"the dynamo exporter fixed axis {axis} of input {in_names[index]!r} ({name!r}) to the "
                         f"sample's length; it was written with the TorchScript exporter at opset {opset}")
    if use_dynamo:
        _half_outputs_cast_back(proto, leaves)
    stamped = _stamped_opset(proto)
    if stamped != opset:
        exporter = "dynamo" if use_dynamo else "TorchScript"
        high = DYNAMO_MAX_OPSET if use_dynamo else TORCHSCRIPT_MAX_OPSET
        if stamped < opset:  # asked within the exporter's range, but this graph did not reach it
            raise OpsetError(
                f"the PyTorch {exporter} exporter wrote opset {stamped} when opset {opset} was asked for: it "
                f"could not bring this model's graph to opset {opset} (it reaches {high} for others). onnxgate "
                "does not hand back a model at another opset: ask for a lower one",
                opset=opset,
                framework="pytorch",
                max_opset=opset - 1,
            )
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
    from onnxgate._graph import double_formulas, log_sigmoid_as_softplus

    log_sigmoid_as_softplus(proto)  # nn.LogSigmoid: onnxruntime's Sigmoid then Log lost it below about x = -10
    double_formulas(proto)  # onnxruntime has no double Softplus, Elu, Erf...: a float64 model's file did not load
    from onnxgate.converters._base import CONVERSION_TARGET

    target = CONVERSION_TARGET.get()
    if target is not None:
        # no onnxruntime runs a double LSTM, GRU or RNN: the file is refused below (convert it in float32), but for
        # a target whose onnxruntime's kernels convert rewrites (a SQL target's) it is computed in float32 as the
        # rewrite does; it was refused, and convert(..., target="sql-edge-2.0") never reached the rewrite
        from onnxgate._kernels import NO_DOUBLE_ANYWHERE, float32_where_the_target_lacks_double

        warns.extend(float32_where_the_target_lacks_double(proto, target, NO_DOUBLE_ANYWHERE))
    # The dynamo exporter always writes IR 10; from opset 23 on, the opset implies a newer IR, which
    # every runtime that implements that opset reads. (convert() lowers it for opsets below 21.)
    from onnxgate._onnx import ir_version_for_opset

    proto.ir_version = max(int(proto.ir_version), ir_version_for_opset(opset))
    fixed_inputs, static_outputs = _name_batch_axes(proto)
    if axes:
        apply_axis_names(proto, in_names, out_names, axes, named_outputs, model, args)
    if fixed_inputs:
        if kind == "module" and _rows(args) == 1:
            # torch.export specialises a dimension of size 1 to that size: the sample's one row fixed the batch
            # (the advice about torch.export.export was for a program the user had not made; helper-101)
            raise UnsupportedModelError(
                f"the exported model has a fixed batch size on input(s) {', '.join(fixed_inputs)}: torch.export "
                "fixes a dimension of size 1 to that size, and the sample has one row. Give a sample of at least "
                "2 rows, or convert with options={'dynamo': False} (the TorchScript exporter, up to opset "
                f"{TORCHSCRIPT_MAX_OPSET})",
                framework="pytorch",
            )
        raise UnsupportedModelError(
            f"the exported model has a fixed batch size on input(s) {', '.join(fixed_inputs)}; onnxgate "
            "writes a dynamic batch axis. Export the program with a dynamic first axis: "
            "torch.export.export(model, args, dynamic_shapes=({0: torch.export.Dim('N')},)).",
            framework="pytorch",
        )
    if static_outputs:
        warns.append(f"output(s) {', '.join(static_outputs)} have a fixed shape: they do not grow with the batch")
    random_nodes = _training_mode_nodes(proto)
    if random_nodes:
        warns.append(
            f"the exported graph runs {', '.join(random_nodes)} in training mode (forward() asks for it, "
            "e.g. F.dropout(x, training=True)): the ONNX model's outputs are random or depend on the batch"
        )
    if not use_dynamo or static_outputs:
        # a dynamo export with a fixed output shape may run only at the sample's batch (a time-major LSTM:
        # input [N, 4, 6], output reshaped to [7, 4, 8]; found by helper-68)
        note = _check_batch_dynamic(model, proto, args, in_names)
    else:
        note = _check_runs(model, proto, args, in_names)
    if note:
        warns.append(note)
    if axes and note is None:
        try:
            session = _probe_session(proto)
        except Exception:  # a file onnxruntime cannot load is left to validation (_unloadable_note)
            session = None
        if session is not None:
            check_lengths(model, session, probe, in_names, axes,
                          cause=None if use_dynamo else attention_length_cause(model))
    if kind == "module":
        # A module that cannot be weakly referenced is not remembered; save_native then asks for args.
        with contextlib.suppress(TypeError):
            EXAMPLES[model] = args
            AXES[model] = axes
    return proto, warns


"""Axes beyond the batch that the PyTorch converter leaves dynamic: ``options={"dynamic_axes": ...}``.

A recurrent or attention model takes sequences of any length, but an export fixes every axis but the
batch to the sample's size, and ``validate`` then refuses data of any other length. The option names
the axes that vary, in ``torch.onnx.export``'s own form::

    {"input": [1]}                      # axis 1 of input "input", called input_axis1
    {"tokens": {1: "T"}, "mask": {1: "T"}}   # one length T shared by two inputs

The batch (axis 0) is always dynamic and may not be named. An axis is only left dynamic where the
exported file is proved to answer as the model at other lengths: the file runs in onnxruntime at one
step more, (when the sample has more than two) one step fewer and about twice as long (2T + 1), and its
outputs are compared with forward()'s at those lengths (a length forward() itself does not run at is
skipped). A Python loop over the steps (``for t in range(x.shape[1])``), which the TorchScript tracer
unrolls to the sample's length, a branch on the length (``if x.shape[1] > 8``), which it fixes to the
sample's side, or a shape written as a number (``x.reshape(n, 15)``), which torch.export specialises, is
refused rather than handed back with a dynamic axis it does not have. These are samples of lengths, not
a proof for every length: validate's parity on data of the lengths served is the gate. Outputs whose size
is a named axis get the same name (found by running forward() with that axis one step longer); an output
axis of a length of its own (a Conv1d's T - 2, a concatenation's 2T - 1) gets a name of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onnxgate.converters import _axes as shared
from onnxgate.converters._axes import Axes
from onnxgate.converters._torch_common import BATCH_DIM, torch_module
from onnxgate.errors import UnsupportedModelError

__all__ = [
    "Axes", "apply_axis_names", "attention_length_cause", "check_lengths", "dynamo_spec", "fixed_axes", "output_axes",
    "parse_dynamic_axes",
]


def parse_dynamic_axes(given: Any, in_names: Sequence[str], args: Sequence[Any]) -> Axes:
    """The option as ``{input index: {axis: name}}``, checked against the inputs and the sample's ranks."""
    return shared.parse_dynamic_axes(given, in_names, [tuple(a.shape) for a in args], "pytorch")


def _resized(args: Sequence[Any], axes: Axes, name: str, step: int) -> tuple[Any, ...]:
    """The tensors with every axis called ``name`` ``step`` entries longer or shorter (:func:`_axes.resized`)."""
    torch = torch_module()
    named = {index for index, axis_names in axes.items() if name in axis_names.values()}
    arrays = shared.resized([a.detach().cpu().numpy() if i in named else a for i, a in enumerate(args)], axes, name,
                            step)
    return tuple(torch.from_numpy(a) if i in named else a for i, a in enumerate(arrays))


def output_axes(model: Any, probe: Sequence[Any], leaves: Sequence[Any], axes: Axes, out_names: Sequence[str],
                in_names: Sequence[str]) -> list[dict[int, str]]:
    """For each output, ``{axis: name}`` of the axes whose size follows a named input axis."""
    from onnxgate.converters._torch_export import torch_call, torch_leaves

    found: list[dict[int, str]] = [{} for _ in leaves]
    for name in shared.names_of(axes):
        size = next(int(probe[i].shape[ax]) for i, named in axes.items() for ax, n in named.items() if n == name)
        try:
            longer = torch_leaves(torch_call(model, _resized(probe, axes, name, 1)))
        except Exception as err:
            raise shared.not_varying(type(model).__name__, name, err, in_names, [tuple(p.shape) for p in probe], axes,
                                     "pytorch") from err
        if len(longer) != len(leaves):
            continue
        for out, (before, after) in enumerate(zip(leaves, longer)):
            for axis, (b, a) in enumerate(zip(before.shape, after.shape)):
                if axis and b != a:
                    # an axis that follows two names (a concatenation of two sequences) or is not the named
                    # length itself (a Conv1d without padding: T - 2; a stride: T // 2) has a length of its own
                    follows = b == size and a == size + 1 and axis not in found[out]
                    found[out][axis] = name if follows else f"{out_names[out]}_axis{axis}"
    return found


def dynamo_spec(args: Sequence[Any], axes: Axes) -> list[dict[int, Any] | None]:
    """torch.export's ``dynamic_shapes`` per input: the batch and the named axes, one ``Dim`` per name."""
    torch = torch_module()
    dims = {name: torch.export.Dim(name) for name in shared.names_of(axes)}
    batch = torch.export.Dim(BATCH_DIM)
    spec: list[dict[int, Any] | None] = []
    for index, a in enumerate(args):
        if not a.dim():
            spec.append(None)
            continue
        spec.append({0: batch, **{axis: dims[name] for axis, name in axes.get(index, {}).items()}})
    return spec


def fixed_axes(proto: Any, in_names: Sequence[str], axes: Axes) -> list[tuple[int, int, str]]:
    """``(input index, axis, name)`` of the named axes the file writes as a number.

    torch.export specialises an axis forward() treats as a number (``x.reshape(n, 15)``), and in torch 2.13
    an ``nn.LSTM``'s steps after a first export in the process, to the sample's size; the exporter hands back
    a file with that size written, without a word.
    """
    graph_inputs = {v.name: v for v in proto.graph.input}
    fixed: list[tuple[int, int, str]] = []
    for index, named in axes.items():
        value = graph_inputs.get(in_names[index])
        if value is None:  # forward() never reads it: the file has no such input
            continue
        dims = value.type.tensor_type.shape.dim
        fixed.extend((index, axis, name) for axis, name in named.items()
                     if not (dims[axis].HasField("dim_param") and dims[axis].dim_param))
    return fixed


def apply_axis_names(proto: Any, in_names: Sequence[str], out_names: Sequence[str], axes: Axes,
                     outputs: Sequence[dict[int, str]], model: Any, args: Sequence[Any]) -> None:
    """Write the names on the file's inputs and outputs; refuse an input axis the export fixed."""
    for index, axis, name in fixed_axes(proto, in_names, axes)[:1]:
        raise UnsupportedModelError(
            f"the export fixed axis {axis} of input {in_names[index]!r} ({name!r}) of {type(model).__name__} to the "
            f"sample's {int(args[index].shape[axis])}: torch.export found that length used as a number (a shape "
            "written out, x.reshape(n, 15), a Python loop over the steps, or a layer torch.export specialises). "
            f"Write forward() with x.shape[{axis}] or x.flatten(1), convert with options={{'dynamo': False}} below "
            "opset 24, or leave the axis out of dynamic_axes",
            framework="pytorch",
        )
    symbols: dict[str, str] = {}
    graph_inputs = {v.name: v for v in proto.graph.input}
    for index, named in axes.items():
        value = graph_inputs.get(in_names[index])
        if value is not None:
            dims = value.type.tensor_type.shape.dim
            symbols.update({dims[axis].dim_param: name for axis, name in named.items()})
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        if value.type.HasField("tensor_type"):
            for dim in value.type.tensor_type.shape.dim:
                if dim.HasField("dim_param") and dim.dim_param in symbols:
                    dim.dim_param = symbols[dim.dim_param]
    graph_outputs = {v.name: v for v in proto.graph.output}
    lengths = set(shared.names_of(axes))
    for name, named in zip(out_names, outputs):
        value = graph_outputs.get(name)
        if value is None or not value.type.HasField("tensor_type"):
            continue
        dims = value.type.tensor_type.shape.dim
        for axis, called in named.items():
            if axis >= len(dims) or (called not in lengths and dims[axis].dim_param):
                continue  # a length of its own the exporter wrote as an expression: (((T - 3)//2)) + 1
            dims[axis].dim_param = called  # the dynamo exporter may write the sample's size where the length follows
    # The shapes of the values inside the graph may carry the sample's length (the dynamo exporter's nn.GRU
    # writes [N, 5, 4]); onnxruntime then warns on every run at another length that the output should be 5
    # long. They are hints only: onnxruntime infers them again.
    del proto.graph.value_info[:]


def check_lengths(model: Any, session: Any, probe: Sequence[Any], in_names: Sequence[str], axes: Axes, *,
                  cause: str | None = None) -> None:
    """Run the file and forward() with each named axis one step longer and shorter; refuse a file that answers
    otherwise (the tracer unrolled a loop over the sample's steps) or not at all (a length written as a number).
    ``cause``, when the caller knows why the export keeps the length, replaces the usual list of causes."""
    from onnxgate.converters._torch_export import torch_call, torch_leaves

    takes = {i.name for i in session.get_inputs()}
    for name in shared.names_of(axes):
        sizes = {int(probe[i].shape[ax]) for i, named in axes.items() for ax, n in named.items() if n == name}
        size = sizes.pop()
        for other in shared.lengths_to_check(size):
            args = _resized(probe, axes, name, other - size)
            try:
                want = [leaf.detach().cpu().numpy() for leaf in torch_leaves(torch_call(model, args))]
            except Exception:  # forward() itself does not run there (x[:, 4] one step shorter than 5)
                continue  # nothing to compare with: validation's reference fails at that length too
            try:
                got = session.run(None, {n: a.numpy() for n, a in zip(in_names, args) if n in takes})
            except Exception as err:
                reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
                raise _refusal(model, name, size, other, f"onnxruntime failed: {reason}", cause) from err
            if len(got) != len(want) or not all(shared.close(g, w) for g, w in zip(got, want)):
                raise _refusal(model, name, size, other, f"the file's outputs differ from forward()'s "
                               f"({'; '.join(shared.difference(g, w) for g, w in zip(got, want))})", cause)


def _refusal(model: Any, name: str, size: int, other: int, found: str, cause: str | None) -> UnsupportedModelError:
    said = cause or (
        "The export kept the sample's length (a Python loop over the steps, which the TorchScript tracer unrolls, "
        "a branch on the length, which it fixes to the sample's side, or a length written as a number): write "
        "the loop with a layer (nn.LSTM, nn.GRU) or tensor operations, try the other exporter "
        "(options={'dynamo': True} at opset 18 or more, or False), or leave the axis out of dynamic_axes")
    return UnsupportedModelError(
        f"{type(model).__name__}'s exported file answers for {name!r} = {size} (the sample's) but not for "
        f"{other}: {found}. {said}",
        framework="pytorch",
    )


def attention_length_cause(model: Any) -> str | None:
    """Why the TorchScript exporter's file of ``model`` keeps the sample's length, when it holds an
    ``nn.MultiheadAttention`` (``nn.TransformerEncoderLayer``'s and ``nn.Transformer``'s too), else None.

    torch 2.13's ``F.multi_head_attention_forward`` reshapes the queries to ``(tgt_len, bsz * heads, head_dim)``
    and the TorchScript tracer writes ``tgt_len`` as the sample's length (the batch stays dynamic): the file
    refuses every other length in a Reshape (pytorch/pytorch#117209, #122321; measured with and without a key
    padding mask, batch_first True and False). The dynamo exporter (opset 18 and more) keeps it dynamic."""
    torch = torch_module()
    try:
        layers = [path for path, module in model.named_modules() if isinstance(module, torch.nn.MultiheadAttention)]
    except AttributeError:  # a ScriptModule's or an ExportedProgram's modules are not torch.nn's
        return None
    if not layers:
        return None
    more = f" and {len(layers) - 1} more" if len(layers) > 1 else ""
    return (f"The TorchScript exporter, used below opset 18, writes the query length of nn.MultiheadAttention "
            f"({layers[0]!r}{more}) as the sample's (pytorch/pytorch#117209): convert at opset 18 or higher (the "
            "dynamo exporter, which keeps it dynamic), or leave the axis out of dynamic_axes")

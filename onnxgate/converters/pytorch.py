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
  (``output_0``..., or the keys of a dict forward() returns, sanitised), unless
  ``options={"input_names": [...], "output_names": [...]}``.
* The model is put in eval mode for the export and put back in the mode it was in; a module left in
  training mode with layers that depend on it (dropout, batch norm) gets a warning saying so. A
  TorchScript trace or an ExportedProgram made in training mode (dropout or batch norm fixed in
  training mode in its graph, which eval() cannot undo) is refused, with the fix.
* Every buffer is put back after each call onnxgate makes (probes, export, the validation reference): a
  forward() that updates one (a counter, a running mean) leaves the module as it was, with a warning that
  the file keeps no state. A forward() returning a number or a string beside its tensors is refused.
* The file is one self-contained model (no ``.onnx.data`` side file).
* Before exporting, the model runs on the sample's first ``PROBE_ROWS`` rows, then (TorchScript
  exporter) on one more: a sample that does not fit is an :class:`InvalidDataError`, a forward()
  that hard-codes the batch size an :class:`UnsupportedModelError`, and the TorchScript exporter is
  told which axis of each output grows with the batch. The export traces the whole sample; when it
  fails, the whole sample is run to tell a data error from an exporter error. A TorchScript export
  is then run in onnxruntime at ``PROBE_ROWS`` rows and one more, which proves its batch axis
  dynamic. Only a failing probe runs the whole sample, to say which of the two is wrong.
* A recurrent or attention layer built with ``batch_first=False`` (torch's default) that reads the
  sample's axis 0 as its sequence (a row scored alone answers otherwise than among the sample's) is
  refused: the file, validate and every service take the rows on axis 0.
* Every axis but the batch is fixed to the sample's size, unless ``options={"dynamic_axes": {"input":
  [1]}}`` (or ``{"input": {1: "T"}}``, one name per length) leaves it dynamic: a sequence of any length.
  Such an axis is proved: the file is run at one step more and fewer and at 2T + 1 and compared with
  forward(), and a loop the tracer unrolled to the sample's length, or a branch on the length it fixed, is
  refused (:mod:`onnxgate.converters._torch_axes`).
* An ``nn.TransformerEncoder`` given a ``src_key_padding_mask`` answers 0 at the padded steps where torch's
  nested-tensor fast path does (eval mode under ``torch.no_grad()``, a batch padded at the end of every row...),
  and real values elsewhere, as forward() does (:mod:`onnxgate.converters._torch_nested`). The TorchScript
  exporter writes ``nn.MultiheadAttention``'s query length as the sample's: a dynamic length through attention
  needs opset 18 or more.
* A model that computes in float64 (``model.double()`` and a float64 sample) gives a double file. onnxruntime
  has no double kernel for Softplus, Mish, ELU, SELU, CELU, LeakyReLU/RReLU, PReLU, Hardsigmoid, Hardswish,
  Softsign, exact GELU's Erf, Sinh, Cosh, Tan, Asinh, Acosh, Atanh, Atan, Asin or Acos: they are written as
  their formulas (:func:`onnxgate._graph.double_formulas`). A layer it has no double kernel for and no formula
  is written for (``Conv``, ``LSTM``...) is refused, naming every such operator and the modules computing it in
  one message (not only the first, where onnxruntime stops), with the fix (convert in float32): the file would
  load nowhere.
* A module computing in bfloat16 (``model.to(torch.bfloat16)``, a bfloat16 ``torch.autocast``) is refused: onnxruntime
  has no bfloat16 Gemm, MatMul or Conv. A layer of ``quantize_dynamic`` or a fused fake quantizer of ``prepare_qat`` is
  refused naming the layer, with the fix (the float model, onnxruntime's quantization tools, or
  ``torch.ao.quantization.convert``); a statically quantized module is written as QuantizeLinear/DequantizeLinear.
  A float32 input is cast to a half model's dtype only when forward() cannot take it as it is.
* A module made by ``torch.compile(module)`` is converted as its original module (``._orig_mod``), which
  computes the same function (the TorchScript exporter refuses the compiled one), with a warning saying so;
  the reference validation runs is the compiled module. ``torch.compile`` of a plain function is refused.
* Options: ``input_names``, ``output_names``, ``dynamo`` (force an exporter), ``optimize`` (run
  onnxscript's optimizer after a dynamo export; default True), ``dynamic_axes``.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate._onnx import EXPORTER_GRAPH_NAMES
from onnxgate.converters._base import Converter, RawConversion
from onnxgate.converters._torch_axes import dynamo_spec
from onnxgate.converters._torch_common import (
    AXES,
    BATCH_DIM,
    DYNAMO_MAX_OPSET,
    DYNAMO_MIN_OPSET,
    EXAMPLES,
    OPTIONS,
    PROBE_ROWS,
    TORCHSCRIPT_MAX_OPSET,
    TORCHSCRIPT_MIN_OPSET,
    compiled_function,
    compiled_original,
    eval_mode,
    model_kind,
    quiet_exporters,
    torch_module,
)
from onnxgate.converters._torch_export import (
    convert_module,
    export_summary,
    export_torch_module,
    forward_order,
    io_names,
    key_names,
    torch_call,
    torch_leaves,
)
from onnxgate.errors import (
    InvalidDataError,
    UnsupportedModelError,
    UntrustedFileError,
)
from onnxgate.signature import matched_outputs

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = [
    "BATCH_DIM",
    "DYNAMO_MAX_OPSET",
    "DYNAMO_MIN_OPSET",
    "OPTIONS",
    "PROBE_ROWS",
    "TORCHSCRIPT_MAX_OPSET",
    "TORCHSCRIPT_MIN_OPSET",
    "PyTorchConverter",
    "export_torch_module",
]

def _scatter_without_reduction(proto: Any) -> str | None:
    """A warning for a ``scatter_add`` (``index_add``, ``index_put(accumulate=True)``) written without a sum,
    else None; from opset 16 the accumulating ``index_put`` is made a sum in place.

    ScatterElements and ScatterND have no ``reduction`` before opset 16, and the exporter writes these as a
    scatter into zeros followed by an Add: where one row sends two values to the same place, the file keeps one
    of them instead of their sum (scatter_add: 39 of 50 rows off by up to 2.5 at opset 13, while 17 was exact;
    found by helper-86). ``index_put(accumulate=True)`` is written so at opset 17 too (100 of 100 rows off by
    up to 3.07; helper-111): there the zeros' ScatterND is given ``reduction='add'``, which sums what lands on
    one place into zeros, as torch does."""
    from onnx import helper, numpy_helper

    from onnxgate._onnx import canonical_domain, model_opsets

    if not any(node.op_type in ("ScatterElements", "ScatterND") for node in proto.graph.node):
        return None  # none: no maps of the graph to build
    opset = model_opsets(proto).get("", 0)
    readers: dict[str, list[str]] = {}
    for node in proto.graph.node:
        for used in node.input:
            readers.setdefault(used, []).append(node.op_type)
    producers = {out: node for node in proto.graph.node for out in node.output}

    def zeros(name: str) -> bool:
        made = producers.get(name)
        if made is None or made.op_type != "ConstantOfShape":
            return False
        value = next((a.t for a in made.attribute if a.name == "value"), None)
        return value is None or not numpy_helper.to_array(value).any()

    said = None
    for node in proto.graph.node:
        if canonical_domain(node.domain) != "" or node.op_type not in ("ScatterElements", "ScatterND"):
            continue
        if any(a.name == "reduction" for a in node.attribute) or "Add" not in readers.get(node.output[0], []):
            continue
        if node.op_type == "ScatterND" and not zeros(node.input[0]):
            continue  # an index_put into the tensor itself: no sum asked
        if node.op_type == "ScatterND" and opset >= 16:
            node.attribute.append(helper.make_attribute("reduction", "add"))
            continue
        if opset >= 16:
            continue
        said = ("the graph adds the result of a ScatterElements or ScatterND, the exporter's form of scatter_add, "
                "index_add and index_put(accumulate=True) below opset 16, where they have no reduction: where one "
                "row sends two values to the same index, the file keeps one of them instead of their sum. Convert "
                "at opset 16 or higher, where the sum is a reduction='add'")
    return said


def _log_of_cumulative_exp(proto: Any) -> str | None:
    """A warning for ``Log(CumSum(Exp(...)))``, the dynamo exporter's ``logcumsumexp`` (shifted by the row's
    largest value), else None: a prefix whose values lie far below the row's largest underflows to 0 before
    its Log, where torch's own computation is exact (values spread by 200: 134 of 200 rows off, the first
    element 24.81 for 25.15; helper-111)."""
    from onnxgate._onnx import canonical_domain

    if not any(node.op_type == "CumSum" for node in proto.graph.node):
        return None
    made = {out: node for node in proto.graph.node for out in node.output}
    for node in proto.graph.node:
        if canonical_domain(node.domain) != "" or node.op_type != "Log" or not node.input:
            continue
        cumulative = made.get(node.input[0])
        if cumulative is None or cumulative.op_type != "CumSum":
            continue
        inner = made.get(cumulative.input[0])
        if inner is not None and inner.op_type == "Exp":
            return ("the graph computes log(cumsum(exp(x))) (logcumsumexp, shifted by the row's largest value): "
                    "where a prefix's values lie more than about 87 (float32) below the row's largest, they "
                    "underflow and the file answers otherwise than torch; validate with data of the range the "
                    "model meets")
    return None


def _refuse_over_size_limit(model: Any) -> None:
    """Refuse a module whose weights alone are above :data:`onnxgate._onnx.MODEL_BYTES_LIMIT` before exporting it:
    the export of 2.3 GB of weights took 90 s (opset 17) to 140 s (opset 18) and 7 to 9 GB of memory, then failed
    with "try opset 18 ... or replace the operator" or "fails the ONNX checker: Failed to serialize proto"."""
    import torch

    from onnxgate import _onnx

    if isinstance(model, torch.export.ExportedProgram):
        tensors = [*model.state_dict.values(), *model.constants.values()]
    elif isinstance(model, torch.nn.Module):
        tensors = [*model.parameters(), *model.buffers()]
    else:
        return
    lazy = (torch.nn.parameter.UninitializedParameter, torch.nn.parameter.UninitializedBuffer)
    # each tensor once: an ExportedProgram's state_dict names a tied weight (an embedding shared with the output
    # layer) under each of its names, one tensor, which the file holds once (counted twice, 1.2 GB was refused)
    held = {id(t): t for t in tensors if isinstance(t, torch.Tensor) and not isinstance(t, lazy)}
    size = sum(t.numel() * t.element_size() for t in held.values())
    if size > _onnx.MODEL_BYTES_LIMIT:
        raise UnsupportedModelError(_onnx.too_large_message(f"{type(model).__name__}'s weights", size),
                                    framework="pytorch")


_LOG_LOCK = threading.RLock()


@contextmanager
def _kept_log(name: str, into: list[str]) -> Iterator[None]:
    """The warnings logger ``name`` writes meanwhile, kept in ``into`` and not shown."""
    import logging

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                into.append(f"{type(error).__name__}: {error}")

    logger = logging.getLogger(name)
    with _LOG_LOCK:  # two threads swapping the handlers would leave the logger silenced for good
        level, propagate, handlers = logger.level, logger.propagate, logger.handlers[:]
        logger.setLevel(logging.WARNING)
        logger.propagate = False
        logger.handlers = [Keep()]
        try:
            yield
        finally:
            logger.handlers = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def _embedding_weights(model: Any) -> tuple[dict[str, str], set[str]]:
    """The model's ``nn.Embedding`` and ``nn.EmbeddingBag`` tables: each weight's parameter name (the
    initializer the exporters name so) -> the module's path; and the names of the bags' weights."""
    import torch

    try:
        modules = list(model.named_modules())
    except Exception:  # an ExportedProgram or a ScriptModule without them: nothing to guard
        return {}, set()
    kinds = (torch.nn.Embedding, torch.nn.EmbeddingBag)
    tables = {f"{name}.weight" if name else "weight": name for name, module in modules if isinstance(module, kinds)}
    bags = {f"{name}.weight" if name else "weight" for name, module in modules
            if isinstance(module, torch.nn.EmbeddingBag)}
    return tables, bags


def _embedding_lookup(node: Any, tables: Mapping[str, str], bags: set[str]) -> bool:
    """Whether ``node``, a Gather of one of ``tables``, is the embedding module's own lookup: the TorchScript
    exporter names it in the module's scope (``/block/block.0/embed/Gather``; ``/embed_1/Gather`` for a second
    call; an ``nn.EmbeddingBag``'s in the body of a Loop over its bags), the dynamo exporter after the op
    (``node_embedding``; an ``nn.EmbeddingBag``'s inside the inlined ``embedding_bag`` function, ``n2``, where an
    op on the table itself, ``torch.index_select``, is ``node_index_select``). ``self.embed.weight[ids]`` in
    another module's forward is tensor indexing, which counts from the end in PyTorch too (helper-92)."""
    if node.name.startswith("node_embedding"):  # F.embedding(ids, weight) too: aten.embedding either way
        return True
    path = tables.get(node.input[0])
    if path is None:
        return False
    if node.input[0] in bags and not node.name.startswith(("/", "node_")):
        return True
    if node.name.startswith("/"):
        scope = node.name.rsplit("/", 1)[0].rsplit("/", 1)[-1]  # the innermost module's name ("e", "block.0")
        return any(path == name or path.endswith("." + name) for name in {scope, re.sub(r"_\d+$", "", scope)})
    return False


def _refuse_negative_embedding_ids(proto: Any, tables: Mapping[str, str], bags: set[str]) -> int:
    """Make onnxruntime refuse a negative id into an ``nn.Embedding`` or ``nn.EmbeddingBag`` (and, under the
    dynamo exporter, which names each lookup after ``aten.embedding``, into ``F.embedding`` or a tied table),
    as PyTorch does; the number guarded.

    PyTorch raises on an id below 0 ("index out of range"), but ONNX's Gather counts a negative index from the
    end: id -1 scored as id 9 of a 10-row table, a 200 from the service where PyTorch refuses (helper-87; a
    -1 is a common "unknown" code). Tensor indexing (``table[ids]``), where PyTorch does count from the end,
    is not an embedding and is left alone (:func:`onnxgate._graph.refuse_negative_gather_ids`).
    """
    from onnxgate._graph import refuse_negative_gather_ids

    return refuse_negative_gather_ids(proto, lambda node: _embedding_lookup(node, tables, bags), subgraphs=True)


class PyTorchConverter(Converter):
    """``torch.nn.Module``, ``torch.export.ExportedProgram`` and TorchScript modules to ONNX."""

    framework = "pytorch"
    PRIORITY = 10
    MODULE_PREFIXES = ("torch.",)
    DEFAULT_OPSET = 17
    MIN_OPSET = TORCHSCRIPT_MIN_OPSET
    MAX_OPSET = DYNAMO_MAX_OPSET
    FILE_SUFFIXES = (".pt2", ".pt", ".pth")

    def matches(self, model: Any) -> bool:
        # torch.compile(f) is a plain function: claimed, so that check_model refuses it saying what it is
        return super().matches(model) or compiled_function(model)

    def check_model(self, model: Any) -> None:
        model_kind(model)

    def max_opset_for(self, model: Any) -> int:
        try:
            kind = model_kind(model)
        except UnsupportedModelError:
            return self.MAX_OPSET
        return TORCHSCRIPT_MAX_OPSET if kind == "script" else DYNAMO_MAX_OPSET

    def min_opset_for(self, model: Any) -> int:
        try:
            kind = model_kind(model)
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
        compiled = model
        original = compiled_original(model)
        if original is not None:
            model = original
        _refuse_over_size_limit(model)
        proto, warns = convert_module(
            model,
            sample,
            opset=opset,
            input_names=options.get("input_names"),
            output_names=options.get("output_names"),
            dynamo=options.get("dynamo"),
            optimize=bool(options.get("optimize", True)),
            dynamic_axes=options.get("dynamic_axes"),
        )
        if name:
            proto.graph.name = name
        elif proto.graph.name in EXPORTER_GRAPH_NAMES:
            import torch

            if isinstance(model, torch.nn.Module):
                # both torch exporters name every graph "main_graph", which a packaged service took for its
                # name; a TorchScript module keeps its class's in ``original_name``
                proto.graph.name = str(getattr(model, "original_name", "") or type(model).__name__)
        for added in (_scatter_without_reduction(proto), _log_of_cumulative_exp(proto)):
            if added:
                warns = [*warns, added]
        _refuse_negative_embedding_ids(proto, *_embedding_weights(model))
        if original is not None:
            warns = [*warns, f"{type(compiled).__name__} (torch.compile of {type(original).__name__}): its original "
                     "module (._orig_mod), which computes the same function, was converted; validation compares the "
                     "file with the compiled module's outputs"]
        return RawConversion(model=proto, warnings=warns)

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        """Run the model under ``torch.no_grad`` in eval mode; outputs in the ONNX model's order."""
        import numpy as np

        torch = torch_module()
        for spec in signature.inputs:
            if spec.name not in feeds:
                raise InvalidDataError(f"missing feed for input {spec.name!r}", input=spec.name)
        order = forward_order(model, signature.input_names)
        args = tuple(torch.from_numpy(np.ascontiguousarray(feeds[name])) for name in order)
        result = torch_call(model, args)
        leaves = torch_leaves(result)
        outputs: list[Any] = [leaf.detach().cpu().numpy() for leaf in leaves]
        # named as the conversion names them: a dict's keys, else output / output_0, output_1...
        keys = key_names(result, taken=order)
        names = keys or io_names(None, "output", len(outputs), "output")
        return matched_outputs(names, outputs, signature, f"the PyTorch reference ({type(model).__name__})",
                               positional=keys is None and len(outputs) > 1)

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        """Load ``.pt2`` (torch.export), ``.pt``/``.pth`` (TorchScript; a pickled module with ``trust_pickle``).

        The archive's members, not its suffix, tell a torch.export archive from TorchScript.
        """
        torch = torch_module()
        if not path.is_file():
            raise UnsupportedModelError(f"model file not found: {str(path)!r}", path=str(path))
        kind = _archive_kind(path)
        if kind == "export" or (kind is None and path.suffix.lower() == ".pt2"):
            _check_pt2(path, trust_pickle=trust_pickle)
            logged: list[str] = []
            try:
                with quiet_exporters(), _kept_log("torch.export", logged):
                    return torch.export.load(path)
            except Exception as err:
                why = export_summary(err)
                if "warnings above" in why:  # torch logged the cause as a warning, silenced here (helper-95)
                    causes = [ln.strip() for text in logged for ln in text.splitlines() if "Error: " in ln]
                    why = causes[-1][:300] if causes else why
                raise UnsupportedModelError(
                    f"{str(path)!r} is not a readable torch.export archive: {why}. {_PT2_FIX}", path=str(path)
                ) from err
        try:
            with quiet_exporters():  # torch 2.13 warns that torch.jit.load is deprecated
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
            with quiet_exporters():  # the weights-only unpickler warns about the pickle protocol on stderr
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
                missing = re.match(r"Can't get attribute '([\w.]+)' on <module '([\w.]+)'", str(err2))
                if isinstance(err2, (AttributeError, ModuleNotFoundError)):
                    # the pickle names its classes by module: one defined in the saving script is __main__'s,
                    # looked up in onnxgate's own __main__ here ("Can't get attribute 'Net' on onnxgate.__main__")
                    what = (f"class {missing.group(1)!r} of the script that saved it (__main__)"
                            if missing and missing.group(2).endswith("__main__") else
                            f"code of a module this process cannot import ({export_summary(err2)})")
                    raise UnsupportedModelError(
                        f"{str(path)!r} is a torch.save pickle of a whole module that needs the {what}. Save the "
                        "model with torch.export.save (.pt2) or torch.jit.save (.pt), which hold its code, or put "
                        "its class in a module on PYTHONPATH (saved from there, not from a script)",
                        path=str(path),
                    ) from err2
                script = "it is not a zip archive" if not zipfile.is_zipfile(path) else export_summary(script_error)
                raise UnsupportedModelError(
                    f"cannot load {str(path)!r} as TorchScript ({script}) nor with torch.load "
                    f"({export_summary(err2)}): save the model with torch.export.save (.pt2) or torch.jit.save (.pt)",
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
        torch = torch_module()
        model = compiled_original(model) or model  # what convert exported, and remembered the inputs of
        kind = model_kind(model)
        if kind == "program":
            path = folder / "model.pt2"
            torch.export.save(model, path)
            return path
        if kind == "script":
            path = folder / "model.pt"
            torch.jit.save(model, str(path))
            return path
        args = EXAMPLES.get(model)
        if args is None:
            raise UnsupportedModelError(
                f"saving {type(model).__name__} needs example inputs: convert it first "
                "(onnxgate.convert(model, sample)) or save it yourself with torch.export.save",
                framework=self.framework,
            )
        try:
            with quiet_exporters(), eval_mode(model):
                program = torch.export.export(model, args, dynamic_shapes=tuple(dynamo_spec(args, AXES.get(model, {}))))
            path = folder / "model.pt2"
            torch.export.save(program, path)
            return path
        except Exception:  # torch.export refuses some modules the tracer handles
            with quiet_exporters(), eval_mode(model), torch.no_grad():
                traced = torch.jit.trace(model, args)
            path = folder / "model.pt"
            torch.jit.save(traced, str(path))
            return path


def _archive_kind(path: Path) -> str | None:
    """``"export"`` for a torch.export archive, ``"script"`` for TorchScript, by the members they hold, whatever
    the file is called: torch.export.save and torch.jit.save write any name (``model.pt`` from torch.export was
    read as a whole-module pickle, refused as needing --trust-pickle and then as unreadable)."""
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(name.count("/") == 1 and name.endswith("/archive_format") for name in names):
        return "export"
    if any(name.endswith("/constants.pkl") for name in names) and any("/code/" in name for name in names):
        return "script"
    return None


#: The legacy weights and constants members torch.export.load reads with torch.load, falling back to
#: weights_only=False: ``<archive>/data/weights/<model>.pt``, ``<archive>/data/constants/<model>.pt``.
_LEGACY_PAYLOAD = re.compile(r"(^|/)data/(weights|constants)/[^/]+\.pt$")


#: How to fix a damaged or foreign ``.pt2``: TorchScript's or zip's own words ("PytorchStreamReader failed locating
#: file", "not a zip file") said no fix (helper-364).
_PT2_FIX = ("A .pt2 is the zip archive torch.export.save writes; this one is damaged, cut short (as by an interrupted "
            "copy), or another format: save the model again with torch.export.save(torch.export.export(model, "
            "(example,)), 'model.pt2')")


def _check_pt2(path: Path, *, trust_pickle: bool) -> None:
    """Refuse a ``.pt2`` whose loading would unpickle arbitrary objects, unless trusted.

    ``torch.export.load`` unpickles weights/constants flagged ``use_pickle``, custom and opaque
    objects, and falls back to ``torch.load(weights_only=False)`` for sample inputs it cannot read
    safely, and for the legacy (torch < 2.6) ``data/weights/<model>.pt`` and ``data/constants/<model>.pt``
    members (a .pt2 holding those ran the code of their pickle without --trust-pickle, found by helper-276);
    a plain exported ``nn.Module`` needs none of that.
    """
    if trust_pickle:
        return
    torch = torch_module()
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
                elif "/sample_inputs/" in member or _LEGACY_PAYLOAD.search(member):
                    try:
                        torch.load(io.BytesIO(archive.read(member)), weights_only=True)
                    except Exception:
                        reasons.append(f"{member!r} is not plain tensors")
    except zipfile.BadZipFile as err:
        raise UnsupportedModelError(
            f"{str(path)!r} is not a torch.export archive (not a zip file). {_PT2_FIX}", path=str(path)
        ) from err
    except (ValueError, UnicodeDecodeError, AttributeError) as err:  # a config member cut short, or not an object
        raise UnsupportedModelError(
            f"{str(path)!r} is not a readable torch.export archive: a *_config.json member is not the JSON "
            f"torch.export.save writes ({type(err).__name__}: {err}). {_PT2_FIX}", path=str(path)
        ) from err
    if reasons:
        raise UntrustedFileError(
            f"{str(path)!r} needs unpickling to load ({'; '.join(reasons[:3])}), which runs any code it "
            "contains. Pass --trust-pickle (trust_pickle=True) if you trust where it came from.",
            path=str(path),
        )

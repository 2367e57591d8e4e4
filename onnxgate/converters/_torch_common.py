"""PyTorch converter: its limits and the helpers every step shares (lazy torch, eval mode, quiet exporters)."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

from onnxgate import frameworks
from onnxgate.converters._axes import BATCH_DIM  # the dynamic batch axis' name on every input and output
from onnxgate.errors import UnsupportedModelError

__all__ = [
    "ANSI_ESCAPE",
    "AXES",
    "BATCH_DIM",
    "DYNAMO_MAX_OPSET",
    "DYNAMO_MIN_OPSET",
    "EXAMPLES",
    "OPTIONS",
    "PROBE_ROWS",
    "TORCHSCRIPT_MAX_OPSET",
    "TORCHSCRIPT_MIN_OPSET",
    "eval_mode",
    "model_kind",
    "quiet_exporters",
    "torch_module",
]


#: What the TorchScript exporter (``dynamo=False``) of torch 2.13 writes; 24+ raises.
TORCHSCRIPT_MIN_OPSET = 7
TORCHSCRIPT_MAX_OPSET = 23
#: What the dynamo exporter honours. Below 18 it silently keeps 18 when onnx's down-converter fails.
DYNAMO_MIN_OPSET = 18
DYNAMO_MAX_OPSET = 28
#: Conversion options this converter understands.
OPTIONS = ("input_names", "output_names", "dynamo", "optimize", "dynamic_axes")
#: Rows of the sample the pre- and post-export probes run on (plus one for the batch-axis probe).
#: Two, not one: a batch of 1 hides a batch axis that a squeeze or a broadcast would drop.
PROBE_ROWS = 2

#: Example inputs seen by ``convert`` per module, so ``save_native`` can run ``torch.export`` later.
EXAMPLES: weakref.WeakKeyDictionary[Any, tuple[Any, ...]] = weakref.WeakKeyDictionary()
#: The axes beyond the batch ``convert`` left dynamic per module (``{input index: {axis: name}}``), for ``save_native``.
AXES: weakref.WeakKeyDictionary[Any, dict[int, dict[int, str]]] = weakref.WeakKeyDictionary()
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
#: How deep this thread is in :func:`quiet_exporters`: only the outermost level does the (costly) work.
_QUIET_DEPTH = threading.local()
_QUIET_LOCK = threading.Lock()


def torch_module() -> Any:
    return frameworks.torch("Converting a PyTorch model")


def model_kind(model: Any) -> str:
    """``"program"`` (ExportedProgram), ``"script"`` (TorchScript) or ``"module"`` (nn.Module)."""
    torch = torch_module()
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
def eval_mode(model: Any, updated: list[str] | None = None, *, calls_forward: bool = False) -> Iterator[None]:
    """Eval mode for the duration, then every submodule's ``training`` flag and every buffer as they were.

    A forward() that updates a buffer (``self.calls += 1``, a running mean of its inputs) changed the user's
    module on each of onnxgate's calls: convert moved a counter 0 -> 3 and validate on to 5, and each call of the
    reference answered from another state than the file's. The buffers' names that changed are appended to
    ``updated``. ``calls_forward``: the body runs forward() on real tensors (:func:`torch_call`), so the buffers
    it leaves as they were are remembered (:data:`_QUIET_BUFFERS`) and not copied again.
    """
    torch = torch_module()
    if not isinstance(model, torch.nn.Module):
        yield
        return
    flags = [(m, m.training) for m in model.modules()]
    kept = _kept_buffers(model)
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
        changed = _restore_buffers(model, kept, remember=calls_forward)
        if updated is not None:
            updated.extend(name for name in changed if name not in updated)


#: Per module, the buffers one of :func:`torch_call`'s forward() calls left as they were (dotted names). Later
#: calls keep no copy of them, and only look whether forward() wrote one (its version counter) or bound another
#: tensor to its name: copying and comparing every buffer on each call made validating a module with a 50 MB
#: buffer take 18 s instead of 0.4 (70 reference calls; helper-242).
_QUIET_BUFFERS: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _version(tensor: Any) -> int | None:
    """``tensor``'s version counter (each in-place write moves it), or None for a tensor that has none (made
    under ``torch.inference_mode``)."""
    try:
        return int(tensor._version)
    except Exception:
        return None


def _kept_buffers(model: Any) -> list[tuple[Any, str, str, Any, Any, int | None]]:
    """(owner, attribute, dotted name, tensor, copy of its values or None, its version counter) for every dense
    buffer of ``model``; no copy of a buffer known to be left as it was (:data:`_QUIET_BUFFERS`). A sparse or
    meta buffer is not followed (comparing one raised "Could not run 'aten::eq.Tensor' ... 'SparseCPU'", which
    refused the model)."""
    torch = torch_module()
    quiet = _QUIET_BUFFERS.get(model, set())
    kept = []
    with torch.no_grad():
        for dotted, module in model.named_modules():
            for attr, buffer in list(module.named_buffers(recurse=False)):
                if not isinstance(buffer, torch.Tensor) or buffer.layout != torch.strided or buffer.is_meta:
                    continue
                name = f"{dotted}.{attr}" if dotted else attr
                version = _version(buffer)
                values = None if name in quiet and version is not None else buffer.clone()
                kept.append((module, attr, name, buffer, values, version))
    return kept


def _restore_buffers(model: Any, kept: list[tuple[Any, str, str, Any, Any, int | None]], *,
                     remember: bool = False) -> list[str]:
    """Put every buffer back (the same tensor, its values as kept); the names of those that had changed.
    ``remember``: the buffers found as they were are added to :data:`_QUIET_BUFFERS` for ``model``."""
    torch = torch_module()
    changed, unchanged = [], []
    with torch.no_grad():
        for module, attr, dotted, buffer, values, version in kept:
            current = getattr(module, attr, None)
            # a ScriptModule hands out a new Python object for the same tensor on each getattr
            same = current is buffer or (isinstance(current, torch.Tensor) and current.dtype == buffer.dtype
                                         and current.data_ptr() == buffer.data_ptr() and current.shape == buffer.shape)
            written = _version(buffer) != version
            if same and (not written if values is None else _equal(buffer, values)):
                unchanged.append(dotted)
                continue
            changed.append(dotted)
            with contextlib.suppress(Exception):  # a buffer torch will not let go back is left as forward() left it
                if not same:  # self.calls = self.calls + 1 binds a new tensor
                    module._buffers[attr] = buffer
                if values is not None:
                    if buffer.shape != values.shape:
                        buffer.resize_(values.shape)
                    buffer.copy_(values)
    with contextlib.suppress(TypeError):  # a module that cannot be weakly referenced is checked in full each time
        quiet = _QUIET_BUFFERS.setdefault(model, set())
        quiet.difference_update(changed)  # written once: copied and compared on every call from now on
        if remember:
            quiet.update(unchanged)
    return changed


def _equal(a: Any, b: Any) -> bool:
    """Same shape and values, NaN equal to NaN (a buffer holding NaN is unchanged when it still does)."""
    torch = torch_module()
    if a.shape != b.shape:
        return False
    if torch.equal(a, b):
        return True
    if a.is_floating_point() or a.is_complex():  # NaN: slower, only where the plain comparison says unequal
        return bool(torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
    return False


@contextlib.contextmanager
def quiet_exporters() -> Iterator[None]:
    """Silence the exporters' progress prints, deprecation warnings and registry logs.

    Re-entrant: inside an outer ``quiet_exporters`` it does nothing. Each ``Logger.setLevel`` clears every
    logger's cache, so one conversion silences once (about 0.12 ms per level, measured), not once
    per probe.
    """
    depth = getattr(_QUIET_DEPTH, "value", 0)
    if depth:
        yield
        return
    _QUIET_DEPTH.value = 1
    try:
        # one thread at a time: two overlapping sections swap sys.stderr and the loggers' levels, and the
        # second to finish restored the first's StringIO for good (helper-104)
        with _QUIET_LOCK, _silenced():
            yield
    finally:
        _QUIET_DEPTH.value = 0


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    # torch.export's tracing logs through torch.fx and torch._dynamo too: a failed dynamo export
    # dumped the FX graphs it traced on stderr before onnxgate's one-line error
    names = ("torch.onnx", "torch.export", "torch._export", "onnxscript", "torch.fx",
             "torch.fx.experimental.symbolic_shapes", "torch._dynamo", "torch._functorch", "torch._subclasses",
             "torch._guards")
    loggers = [logging.getLogger(n) for n in names]
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
        # torch.export prints the graph of a failed trace to sys.stderr itself (export/_trace.py)
        with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
              contextlib.redirect_stderr(io.StringIO())):
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

"""PyTorch converter: its limits and the helpers every step shares (lazy torch, eval mode, quiet exporters)."""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import re
import sys
import threading
import types
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
    "KeptState",
    "compiled_function",
    "compiled_original",
    "data_writes",
    "eval_mode",
    "model_kind",
    "one_thread_if_small",
    "quiet_exporters",
    "storage_pointer",
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


def compiled_original(model: Any) -> Any | None:
    """The module ``torch.compile(module)`` wraps (its ``_orig_mod``), or None for a model that is not compiled.

    The compiled module computes its original's function (torch.compile's mode and backend change the numerics,
    not the maths), and the TorchScript exporter refuses it ("Detected that you are using FX to torch.jit.trace
    a dynamo-optimized function"): every compiled MLP, CNN or LSTM was refused below opset 18 with "try opset 18
    or higher", which torch.compile(model.half()) users met at the default opset 17 (helper-271).
    """
    # torch.compile imported torch._dynamo: a module it made is an instance of a class already loaded, and a model
    # that is not compiled does not pay for the import (about 2 s)
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")
    if eval_frame is None:
        return None
    return model._orig_mod if isinstance(model, eval_frame.OptimizedModule) else None


def compiled_function(model: Any) -> bool:
    """Whether ``model`` is a plain function torch.compile wrapped (``torch.compile(f)``), which torch leaves a
    Python function (no class to recognise it by) holding the function it compiles."""
    # a compiled module answers the attribute too, from its forward()
    return (isinstance(model, types.FunctionType) and "torch._dynamo" in sys.modules
            and callable(getattr(model, "_torchdynamo_orig_callable", None)))


def model_kind(model: Any) -> str:
    """``"program"`` (ExportedProgram), ``"script"`` (TorchScript) or ``"module"`` (nn.Module)."""
    if compiled_function(model):
        name = getattr(model._torchdynamo_orig_callable, "__qualname__", "the function")
        raise UnsupportedModelError(
            f"{name!r} is a function compiled with torch.compile, not a torch.nn.Module: onnxgate converts modules. "
            "Wrap it in an nn.Module whose forward() calls the function, and convert that module (compiled or not). "
            "torch.compile of a module's forward, or of a module compiled already, makes such a function too: "
            "convert the module itself",
            framework="pytorch",
        )
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


#: A probe (forward() on the sample's first rows) of at most this much work runs on one intra-op thread
#: (:func:`one_thread_if_small`): about 2-20 ms on one core for the largest, where a second thread cannot save more
#: than its start-up costs on a busy machine.
ONE_THREAD_PROBE_WORK = 20_000_000


@contextlib.contextmanager
def one_thread_if_small(model: Any, tensors: tuple[Any, ...]) -> Iterator[None]:
    """Meanwhile, torch computes on one intra-op thread, when ``model`` on ``tensors`` is small work: its weights'
    elements times the tensors' elements, which bounds the multiply-adds of a dense, convolutional or recurrent
    layer, is at most :data:`ONE_THREAD_PROBE_WORK`. Then the number of threads is put back.

    Each operator of a forward() on torch's default threads starts them and waits for them: on a machine whose
    cores are busy with other work, the wait is the scheduler's (a forward() of the zoo's MLP on 2 rows took a
    median 16.8 ms of wall time on 2 threads, 0.37 ms on one, on 2 cores at load 8), and on an idle one, a
    probe this small gains nothing from a second thread (0.35 ms of CPU time either way). A larger model keeps
    every thread: its probe is work they share. Process-wide like ``torch.set_num_threads``, which only the calling
    thread's OpenMP reads: another thread that makes its first torch call meanwhile keeps one thread.
    """
    torch = torch_module()
    threads = torch.get_num_threads()
    if threads == 1 or not _small_work(model, tensors):
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _small_work(model: Any, tensors: tuple[Any, ...]) -> bool:
    """Whether ``model``'s weights' elements times ``tensors``' elements are at most :data:`ONE_THREAD_PROBE_WORK`;
    the weights are counted only up to that bound (a large model's are not all walked)."""
    torch = torch_module()
    elements = sum(t.numel() for t in tensors if isinstance(t, torch.Tensor))
    budget = ONE_THREAD_PROBE_WORK // max(elements, 1)
    if isinstance(model, torch.export.ExportedProgram):
        weights: Any = [*model.state_dict.values(), *model.constants.values()]
    elif isinstance(model, torch.nn.Module):
        weights = (*model.parameters(), *model.buffers())
    else:
        return False
    total = 0
    for weight in weights:
        if not isinstance(weight, torch.Tensor):
            continue
        try:
            total += weight.numel()
        except Exception:  # an uninitialised lazy parameter: its size is not known
            return False
        if total > budget:
            return False
    return True


#: ``torch.nn.Module.train`` and ``.eval``, once torch is imported (:func:`eval_mode`).
_MODULE_MODES: tuple[Any, ...] = ()


@contextlib.contextmanager
def eval_mode(model: Any, updated: list[str] | None = None, *, calls_forward: bool = False) -> Iterator[Any]:
    """Eval mode for the duration, then every submodule's ``training`` flag, every buffer and every parameter
    as they were.

    A forward() that updates a buffer (``self.calls += 1``, a running mean of its inputs) changed the user's
    module on each of onnxgate's calls: convert moved a counter 0 -> 3 and validate on to 5, and each call of the
    reference answered from another state than the file's. The names of the buffers and parameters that changed
    are appended to ``updated``. ``calls_forward``: the body runs forward() on real tensors, untraced
    (:func:`torch_call`), so the buffers it leaves as they were are remembered (:data:`_QUIET_BUFFERS`) and not
    copied again; meanwhile each buffer or parameter an operator writes into is copied just before the first write
    (a write through ``.data`` moves no version counter, and one on a later call found no copy to put back).
    Elsewhere (an exporter's trace, which a dispatch mode disturbs) the buffers not known quiet and the parameters
    known written are copied. Yields the :class:`KeptState` (None for a model that is not a module).
    """
    torch = torch_module()
    if not isinstance(model, torch.nn.Module):
        yield None
        return
    global _MODULE_MODES
    if not _MODULE_MODES:
        _MODULE_MODES = (torch.nn.Module.train, torch.nn.Module.eval)
    named = list(model.named_modules())
    flags = [(m, m.training) for _, m in named]
    kept = KeptState(model, named)
    # every module in eval mode already and switched by torch's own train(): eval() would change nothing (it
    # sets each flag through nn.Module.__setattr__, 0.02 ms of each of a conversion's three calls). An eval() or
    # train() set on the instance (model.eval = ...) is the module's own as much as its class's: it is called
    switch = (any(flag for _, flag in flags) or type(model).eval is not _MODULE_MODES[1]
              or "eval" in getattr(model, "__dict__", {})
              or any(type(m).train is not _MODULE_MODES[0] or "train" in getattr(m, "__dict__", {}) for m, _ in flags))
    try:
        if switch:
            model.eval()
    except NotImplementedError:  # modules frozen in one mode (torch.export's) refuse eval()
        yield None
        return
    try:
        with kept.copy_before_writes() if calls_forward else contextlib.nullcontext():
            yield kept
    finally:
        for module, flag in flags:
            if module.training != flag:  # only those changed: the same flags, set for less
                module.training = flag
        changed = kept.restore(remember=calls_forward)
        if updated is not None:
            updated.extend(name for name in changed if name not in updated)


#: Per module, the buffers one of :func:`torch_call`'s forward() calls left as they were (dotted names). Later
#: calls keep no copy of them, and only look whether forward() wrote one (its version counter, an operator writing
#: into its memory) or bound another tensor to its name: copying and comparing every buffer on each call made
#: validating a module with a 50 MB buffer take 18 s instead of 0.4 (70 reference calls; helper-242).
_QUIET_BUFFERS: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
#: Per module, the parameters forward() was seen writing: copied whenever forward() is run on them.
_WRITTEN_PARAMETERS: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
#: Per module, the buffers and parameters forward() was seen writing without moving their version counter
#: (through ``.data``): torch's dynamo exporter crashes the process on such a forward (:func:`data_writes`).
_DATA_WRITES: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def data_writes(model: Any) -> list[str]:
    """The buffers and parameters of ``model`` one of onnxgate's forward() calls wrote through ``.data`` (or any
    other alias that moves no version counter), sorted."""
    try:
        return sorted(_DATA_WRITES.get(model, ()))
    except TypeError:
        return []


def _version(tensor: Any) -> int | None:
    """``tensor``'s version counter (each in-place write moves it), or None for a tensor that has none (made
    under ``torch.inference_mode``)."""
    try:
        return int(tensor._version)
    except Exception:
        return None


def storage_pointer(tensor: Any) -> int | None:
    """Where ``tensor``'s memory starts (shared by its views and its ``.data``), or None for one without."""
    try:
        return int(tensor.untyped_storage().data_ptr())
    except Exception:
        return None


@contextlib.contextmanager
def _not_traced() -> Iterator[None]:
    """Meanwhile the TorchScript tracer records nothing: copying a buffer back is not part of forward()."""
    torch = torch_module()
    state = torch._C._get_tracing_state()
    if state is None:
        yield
        return
    torch._C._set_tracing_state(None)
    try:
        yield
    finally:
        torch._C._set_tracing_state(state)


class _Kept:
    """One dense buffer or parameter as it was: the tensor, its values (a copy, or None while none is needed),
    its version counter, where its memory was and a view of that memory (``.data = other`` moves the tensor)."""

    __slots__ = ("alias", "attr", "copied", "module", "name", "parameter", "pointer", "storage", "tensor", "values",
                 "version")

    def __init__(self, module: Any, attr: str, name: str, tensor: Any, *, parameter: bool, copy: bool) -> None:
        self.module, self.attr, self.name, self.tensor, self.parameter = module, attr, name, tensor, parameter
        self.version = _version(tensor)
        self.values = tensor.clone() if copy or self.version is None else None
        self.copied = False  # copied on a write during the call
        self.pointer = tensor.data_ptr()
        self.storage = storage_pointer(tensor)
        self.alias = tensor.detach()


class KeptState:
    """The dense buffers and parameters of a module as they were when made; :meth:`restore` puts them back.

    A buffer is copied unless an earlier call left it as it was (:data:`_QUIET_BUFFERS`); a parameter when an
    earlier call wrote it (:data:`_WRITTEN_PARAMETERS`) or an operator is about to (:meth:`copy_before_writes`).
    A sparse or meta tensor is not followed (comparing one raised "Could not run 'aten::eq.Tensor' ...
    'SparseCPU'", which refused the model).
    """

    def __init__(self, model: Any, named_modules: list[tuple[str, Any]] | None = None) -> None:
        torch = torch_module()
        self.model = model
        quiet = _QUIET_BUFFERS.get(model, set())
        written = _WRITTEN_PARAMETERS.get(model, set())
        self.kept: list[_Kept] = []
        with torch.no_grad():
            for dotted, module in model.named_modules() if named_modules is None else named_modules:
                for parameter, tensors in ((False, _own_tensors(module, parameters=False)),
                                           (True, _own_tensors(module, parameters=True))):
                    for attr, tensor in tensors:
                        if not isinstance(tensor, torch.Tensor) or tensor.layout != torch.strided or tensor.is_meta:
                            continue
                        name = f"{dotted}.{attr}" if dotted else attr
                        self.kept.append(_Kept(module, attr, name, tensor, parameter=parameter,
                                               copy=name in written if parameter else name not in quiet))

    @contextlib.contextmanager
    def copy_before_writes(self) -> Iterator[None]:
        """Meanwhile, an operator about to write into a kept tensor's memory (through the tensor, a view or
        ``.data``) first copies that tensor, once; tensors small together are copied before instead
        (:data:`COPY_UP_FRONT_BYTES`)."""
        torch = torch_module()
        if isinstance(self.model, torch.jit.ScriptModule):
            # the TorchScript interpreter under a dispatch mode lost its errors' text ("RuntimeError:" alone where
            # torch said "mat1 and mat2 shapes cannot be multiplied"); a scripted forward() is followed as before
            yield
            return
        if compiled_original(self.model) is not None:
            # torch.compile does not compile a forward() first called under a dispatch mode, and runs that forward()
            # uncompiled from then on, in this module and every other of its class: validate's reference was not
            # the compiled code, and the user's compiled module ran eagerly for the rest of the process (helper-271)
            yield
            return
        watched = [item for item in self.kept if item.values is None and item.storage is not None]
        if _copied_up_front(watched):
            yield
            return
        by_storage: dict[int | None, list[_Kept]] = {}
        for item in watched:
            by_storage.setdefault(item.storage, []).append(item)
        with _copy_before_write_mode()(by_storage):
            yield

    @contextlib.contextmanager
    def restored_after_forward(self) -> Iterator[None]:
        """Meanwhile, each forward() of the model puts the kept tensors back as it returns, out of the trace: the
        TorchScript exporter reads the module's state after its own run of forward(), and wrote a counter
        forward() moves 0 -> 1 as 1 (the file answered twice what the module does)."""
        torch = torch_module()
        if isinstance(self.model, torch.jit.ScriptModule):  # scripted, not run: and it takes no Python hooks
            yield
            return

        def put_back(*_: Any) -> None:  # a hook's answer would replace forward()'s
            self.restore()

        handle = self.model.register_forward_hook(put_back)
        try:
            yield
        finally:
            handle.remove()

    def restore(self, *, remember: bool = False) -> list[str]:
        """Put every kept tensor back (the same tensor, its memory and values as kept); the names of those that had
        changed. ``remember``: the buffers found as they were are added to :data:`_QUIET_BUFFERS` for the model."""
        torch = torch_module()
        changed, unchanged, through_data = [], [], []
        with torch.no_grad(), _not_traced():
            for item in self.kept:
                table = item.module._parameters if item.parameter else item.module._buffers
                current = table.get(item.attr) if isinstance(table, dict) else getattr(item.module, item.attr, None)
                tensor = item.tensor
                # a ScriptModule hands out a new Python object for the same tensor on each getattr
                same = current is tensor or (isinstance(current, torch.Tensor) and current.dtype == tensor.dtype
                                             and current.data_ptr() == tensor.data_ptr()
                                             and current.shape == tensor.shape)
                moved = tensor.data_ptr() != item.pointer
                written = _version(tensor) != item.version
                if same and not moved and (not written if item.values is None else _equal(tensor, item.values)):
                    if not item.parameter:
                        unchanged.append(item.name)
                    continue
                changed.append(item.name)
                if same and not written and not moved:  # values changed, version counter not: through .data
                    through_data.append(item.name)
                with contextlib.suppress(Exception):  # a tensor torch will not let go back is left as forward() left it
                    if not same:  # self.calls = self.calls + 1 binds a new tensor
                        table[item.attr] = tensor
                    if moved:  # self.w.data = other
                        tensor.data = item.alias
                    if item.values is not None:
                        if tensor.shape != item.values.shape:
                            tensor.resize_(item.values.shape)
                        tensor.copy_(item.values)
        with contextlib.suppress(TypeError):  # a module that cannot be weakly referenced is checked in full each time
            quiet = _QUIET_BUFFERS.setdefault(self.model, set())
            quiet.difference_update(changed)  # written once: copied and compared on every call from now on
            if remember:
                quiet.update(unchanged)
            parameters = [item.name for item in self.kept if item.parameter and item.name in changed]
            if parameters:
                _WRITTEN_PARAMETERS.setdefault(self.model, set()).update(parameters)
            if through_data:
                _DATA_WRITES.setdefault(self.model, set()).update(through_data)
        return changed


def _own_tensors(module: Any, *, parameters: bool) -> list[tuple[str, Any]]:
    """``module.named_parameters(recurse=False)`` (or ``named_buffers``) as a list: read from the module's own table
    when its class does not redefine them, as torch's do (each generator cost about 2 us a module, on each of a
    conversion's calls of forward())."""
    torch = torch_module()
    base = torch.nn.Module.named_parameters if parameters else torch.nn.Module.named_buffers
    table = module.__dict__.get("_parameters" if parameters else "_buffers")
    if getattr(type(module), base.__name__) is not base or type(table) not in (dict, collections.OrderedDict):
        return list(module.named_parameters(recurse=False) if parameters else module.named_buffers(recurse=False))
    seen: set[int] = set()
    found = []
    for name, tensor in table.items():
        if tensor is None or id(tensor) in seen:  # as torch's: None skipped, a tensor held twice once
            continue
        seen.add(id(tensor))
        found.append((name, tensor))
    return found


#: Up to this many bytes of buffers and parameters not copied already, :meth:`KeptState.copy_before_writes` copies
#: them before forward() and compares them after it, instead of watching every operator through a dispatch mode.
#: The mode cost about 10 us per operator and ran an nn.GRU as its ~130 decomposed operators: a probe call of the
#: zoo's GRU took 2.3 ms instead of 0.4, of its MLP 0.5 instead of 0.1; copying and comparing 256 KiB takes about
#: 0.07 ms (measured, one thread). A copy also sees a write no operator makes (through ``.numpy()``).
COPY_UP_FRONT_BYTES = 256 * 1024


def _copied_up_front(watched: list[_Kept]) -> bool:
    """Copy every tensor of ``watched`` now if together they are small (:data:`COPY_UP_FRONT_BYTES`); whether they
    were."""
    torch = torch_module()
    try:
        if any(item.tensor.is_quantized for item in watched):
            return False
        size = sum(item.tensor.nelement() * item.tensor.element_size() for item in watched)
    except Exception:  # a tensor that will not say its size (an uninitialised lazy parameter) is watched instead
        return False
    if size > COPY_UP_FRONT_BYTES:
        return False
    with torch.no_grad():
        for item in watched:
            item.values = item.tensor.clone()
    return True


#: The dispatch mode class of :meth:`KeptState.copy_before_writes`, made once per process for each answer of
#: :func:`_skip_dynamo`: torch wraps a mode's ``__torch_dispatch__`` when the class is made, and a class made on each
#: call built that wrapper again each time.
_COPY_MODES: dict[bool, Any] = {}


def _skip_dynamo() -> bool:
    # torch wraps a mode's __torch_dispatch__ in torch._dynamo.disable, which imports torch._dynamo on the first
    # operator: the first convert of an MLP in a process took 2.7 s instead of 0.9. Only code torch.compile made
    # needs that wrapper, and compiling imported torch._dynamo already
    return "torch._dynamo" in sys.modules


def _copy_before_write_mode() -> Any:
    """The dispatch mode class that copies a kept tensor before an operator writes into its memory."""
    skip = _skip_dynamo()
    mode = _COPY_MODES.get(skip)
    if mode is not None:
        return mode
    from torch.utils._python_dispatch import TorchDispatchMode

    class CopyBeforeWrite(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            return skip

        def __init__(self, by_storage: dict[int | None, list[_Kept]]) -> None:
            super().__init__()
            self.by_storage = by_storage

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            for index, name, keyword in _written_arguments(func):
                value = kwargs.get(name) if keyword or index >= len(args) else args[index]
                for tensor in value if isinstance(value, (list, tuple)) else (value,):
                    for item in self.by_storage.pop(storage_pointer(tensor), ()):
                        item.values = item.tensor.clone()  # below the tracer: not recorded
                        item.copied = True
            return func(*args, **kwargs)

    _COPY_MODES[skip] = CopyBeforeWrite
    return CopyBeforeWrite


#: Per operator, the arguments it writes into (index, name, keyword-only), read from its schema once.
_WRITTEN_ARGUMENTS: dict[Any, tuple[tuple[int, str, bool], ...]] = {}


def _written_arguments(func: Any) -> tuple[tuple[int, str, bool], ...]:
    found = _WRITTEN_ARGUMENTS.get(func)
    if found is None:
        try:
            found = tuple((i, a.name, a.kwarg_only) for i, a in enumerate(func._schema.arguments)
                          if a.alias_info is not None and a.alias_info.is_write)
        except Exception:
            found = ()
        _WRITTEN_ARGUMENTS[func] = found
    return found


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
    _set_levels(loggers, [logging.ERROR] * len(loggers))
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
        _set_levels(loggers, levels)


def _set_levels(loggers: list[logging.Logger], levels: list[int]) -> None:
    """Each logger at its level. ``Logger.setLevel`` empties the level cache of every logger in the process (some
    thousand once torch is imported): the ten loggers' levels are set as attributes, and the last by ``setLevel``,
    which empties the caches once for all of them, not twenty times per conversion (0.15 ms of a 10 ms one)."""
    for lg, level in zip(loggers[:-1], levels[:-1]):
        lg.level = level
    loggers[-1].setLevel(levels[-1])


def _torchscript_utils() -> Any:
    try:
        from torch.onnx._internal.torchscript_exporter import utils
    except ImportError:  # another torch layout: nothing to patch
        return None
    return utils


@contextlib.contextmanager
def _no_onnx_logging(verbose: bool) -> Iterator[None]:
    # The same bug leaves ONNX logging switched on for good after one direct `torch.onnx.export` call in the
    # process (it never switches it back off): turn it off for onnxgate's export, then restore it
    import torch

    enabled = bool(torch._C._jit_is_onnx_log_enabled())
    torch._C._jit_set_onnx_log_enabled(False)
    try:
        yield
    finally:
        torch._C._jit_set_onnx_log_enabled(enabled)

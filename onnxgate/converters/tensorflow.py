"""TensorFlow converter, through tf2onnx's function path.

Policy:

* Accepted models: a ``tf.Module`` whose ``__call__`` is a ``tf.function`` with an input signature,
  a ``tf.function`` (with an input signature, or traced from the sample), a concrete function, an
  object restored by ``tf.saved_model.load``, and a SavedModel folder (a path, or the
  :class:`SavedModelFolder` that :meth:`TensorFlowConverter.load` returns). A SavedModel is
  converted through its ``serving_default`` signature.
* Every model becomes one concrete function, which tf2onnx freezes and converts. tf2onnx 1.17
  writes opsets 9 to 18; a request above 18 fails with :class:`~onnxgate.errors.OpsetError`
  before anything runs.
* Every input's first axis must be free (``None``): a signature that fixes the batch is refused, as
  the PyTorch converter refuses a program exported with a fixed batch.
* Input names are the signature's (``x``, or the SavedModel signature's keyword names), else
  ``input`` (also for the names Keras invents, ``keras_tensor``, in a ``model.export()``
  SavedModel); output names are the signature's keys for a SavedModel, else ``output``
  (``output_i`` for several). The dynamic batch axis is named ``N`` on every input and output (tf2onnx writes
  ``unk__<n>``, a different name on each).
* An axis beyond the batch that the signature leaves free (``tf.TensorSpec([None, None, 3])``) stays dynamic,
  named ``<input>_axis<k>`` on the inputs and on the outputs whose size follows it, and is proved on the sample
  one step longer and shorter against the function (:mod:`onnxgate.converters._tf_axes`); a file that answers
  otherwise is refused. A ``tf.function`` without an input signature is traced at the sample's shape unless
  ``options={"dynamic_axes": {"x": {1: "T"}}}`` (the PyTorch converter's form) leaves axes free.
* tf2onnx converts with ``continue_on_error``: a TensorFlow op it cannot map is left in the graph
  and only logged. Such a graph is refused with :class:`~onnxgate.errors.UnsupportedModelError`
  naming the ops, instead of being handed back broken.
* A function computing in float64 gives a double file. onnxruntime has no double kernel for Softplus, Erf, ELU,
  SELU...: they are written as their double formulas (:func:`onnxgate._graph.double_formulas`). An operator it
  has no double kernel for and no formula exists for (``Conv``, ``AveragePool``, ``LSTM``) is refused, naming the
  operation (the Keras layer) and the float32 way out, as the PyTorch converter refuses it: onnxruntime is asked,
  on the sample when there is one (``LSTM`` loads on double and refuses it when it runs), and every such operation
  is named in one message (:func:`onnxgate._onnx.missing_kernels`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate import frameworks
from onnxgate.converters._axes import BATCH_DIM, parse_dynamic_axes
from onnxgate.converters._base import Converter, RawConversion
from onnxgate.converters._tf_axes import declared_axes, fixed_by_signature, prove_axes
from onnxgate.errors import InvalidDataError, OpsetError, UnsupportedModelError, missing_dependency
from onnxgate.signature import matched_outputs

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.signature import Signature

__all__ = [
    "KERAS_GENERIC_INPUTS",
    "SAVED_MODEL_FILE",
    "UNCONVERTED_OP_ORIGINS",
    "SavedModelFolder",
    "TensorFlowConverter",
    "TracedFunction",
    "computes_in_double",
    "convert_traced",
    "refuse_without_double_kernels",
    "sanitize_name",
    "split_sample",
    "trace",
]

#: The file that marks a folder as a TensorFlow SavedModel.
SAVED_MODEL_FILE = "saved_model.pb"
#: The SavedModel signature converted when a restored object carries several.
SERVING_SIGNATURE = "serving_default"
#: Highest opset tf2onnx 1.17 writes ("Opset 19 is not supported yet" above it).
TF2ONNX_MAX_OPSET = 18
#: Domains whose operators onnxruntime implements without custom-op libraries.
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")
#: Input names Keras invents for unnamed inputs (``keras_tensor_3``, ``input_layer_1``); replaced by
#: "input" / "input_i" by the Keras converter, and here in a SavedModel that ``model.export()`` wrote.
KERAS_GENERIC_INPUTS = ("keras_tensor", "input_layer")
#: Input names tf.function and Keras invent for unnamed arguments; replaced by "input".
_GENERIC_INPUT = re.compile(r"^((args|inputs?|x)_\d+|(" + "|".join(KERAS_GENERIC_INPUTS) + r")(_\d+)?)$")


def _tensorflow() -> Any:
    return frameworks.tensorflow("Converting a TensorFlow model")


def _tf2onnx() -> Any:
    _tensorflow()
    try:
        import tf2onnx
        import tf2onnx.convert
        import tf2onnx.tf_loader
    except ImportError as err:
        raise missing_dependency("tf2onnx", "tensorflow", "Converting a TensorFlow or Keras model") from err
    return tf2onnx


def sanitize_name(name: str, default: str) -> str:
    """An ONNX-friendly tensor name: ``"dense_input:0"`` -> ``"dense_input"``; empty -> ``default``.

    Examples
    --------
    >>> sanitize_name("serving_default_x:0", "input")
    'serving_default_x'
    >>> sanitize_name("", "input")
    'input'
    """
    text = name.split(":")[0] if name else ""
    text = re.sub(r"[^0-9A-Za-z_.\-]", "_", text).strip("_")
    return text or default


class RefusedOutright(UnsupportedModelError):
    """A refusal of what the model computes, not of a conversion path: no other path (Keras' ``from_keras``
    fallback) may be tried, as its file would compute the same wrong thing."""


class HandlerRefusal(ValueError):
    """Raised by an op handler of :func:`rewrite_handlers` that cannot write ``op`` for a reason the user can act
    on. tf2onnx (``continue_on_error``) logs it as "Failed to convert node", with the reason only in the
    traceback, and leaves the op in the graph: :func:`_refuse_unknown_ops` says the reason instead."""

    def __init__(self, message: str, *, op: str) -> None:
        super().__init__(message)
        self.op = op


@dataclass(frozen=True)
class SavedModelFolder:
    """A TensorFlow SavedModel folder, as :meth:`TensorFlowConverter.load` returns it.

    The folder is read (``tf.saved_model.load``) once, when first needed, and kept.
    """

    path: Path
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def restore(self) -> Any:
        """The object ``tf.saved_model.load`` restores from the folder (loaded once)."""
        if "loaded" not in self._cache:
            from onnxgate._files import check_folder_confined

            # TensorFlow follows symlinks: one leaving the folder would make another file the weights
            check_folder_confined(self.path, what="SavedModel folder", error=UnsupportedModelError)
            tf = _tensorflow()
            try:
                self._cache["loaded"] = tf.saved_model.load(str(self.path))
            except Exception as err:
                # a truncated saved_model.pb, a variables/ folder lost or cut short in a copy: TensorFlow's own
                # words ("Wire format was corrupt", "Read less bytes than requested") said no fix (helper-364)
                detail = str(err).splitlines()[0].rstrip(".") if str(err) else ""
                raise UnsupportedModelError(
                    f"cannot load the SavedModel in {str(self.path)!r}: {type(err).__name__}: {detail}. The folder is "
                    "damaged or incomplete (a "
                    "saved_model.pb or a variables/ file missing or cut short, as by an interrupted copy): save the "
                    "model again with tf.saved_model.save(model, 'DIR'), and copy the whole folder",
                    framework="tensorflow",
                    path=str(self.path),
                ) from err
        return self._cache["loaded"]


@dataclass
class TracedFunction:
    """One concrete TensorFlow function and the names its ONNX inputs and outputs take.

    ``input_names`` follow ``tf.nest.flatten(concrete.structured_input_signature)``;
    ``output_names`` follow ``tf.nest.flatten(concrete.structured_outputs)``, which is also the
    order of ``concrete.outputs`` and of the ONNX graph's outputs.
    """

    concrete: Any
    input_names: list[str]
    input_specs: list[Any]
    output_names: list[str]
    #: The object the function's variables belong to (a restored SavedModel), kept alive with it:
    #: a concrete function holds its variables only weakly.
    owner: Any = field(default=None, repr=False)

    def call(self, tensors: Sequence[Any]) -> list[Any]:
        """Run the function on tensors given in ``input_names`` order; outputs in ``output_names`` order."""
        tf = _tensorflow()
        structure = self.concrete.structured_input_signature
        # non-tensor arguments bound at tracing (tf.math.erfc's name=None) stay as they were traced
        given = iter(tensors)
        flat = [next(given) if isinstance(s, tf.TensorSpec) else s for s in tf.nest.flatten(structure)]
        args, kwargs = tf.nest.pack_sequence_as(structure, flat)
        result = self.concrete(*args, **kwargs)
        return list(tf.nest.flatten(result))

    def check_sample(self, sample: Any, framework: str) -> None:
        """Raise :class:`InvalidDataError` when a sample does not fit the traced input shapes."""
        if sample is None:
            return
        arrays = split_sample(sample, self.input_names, self.input_specs, framework)
        for name, spec, array in zip(self.input_names, self.input_specs, arrays):
            want = [d for d in spec.shape.as_list()] if spec.shape.rank is not None else None
            if want is None:
                continue
            got = list(array.shape)
            if len(got) == len(want) - 1 and len(want) >= 1:
                got = [1, *got]  # a single row given without its batch axis
            if len(got) != len(want):
                raise InvalidDataError(
                    f"input {name!r} expects rank {len(want)} (shape {_shape_str(want)}); the sample has "
                    f"shape {list(array.shape)}. Pass rows shaped like the model's input.",
                    input=name,
                    framework=framework,
                )
            for axis, (w, g) in enumerate(zip(want, got)):
                if axis and w is not None and w != g:
                    what = "values per row" if len(want) == 2 else f"entries on axis {axis}"
                    raise InvalidDataError(
                        f"input {name!r} expects {w} {what} (shape {_shape_str(want)}); the sample has "
                        f"{g} (shape {list(array.shape)}). Pass a sample with the model's features.",
                        input=name,
                        framework=framework,
                    )


def _shape_str(dims: Sequence[int | None]) -> str:
    return "[" + ",".join("N" if d is None else str(d) for d in dims) + "]"


def split_sample(sample: Any, names: Sequence[str], specs: Sequence[Any], framework: str) -> list[np.ndarray]:
    """The sample as one array per input, in ``names`` order.

    A mapping is read by input name; a tuple or list gives the inputs in order; one array feeds a
    single input, or is split column-wise over several rank-2 inputs by their widths.

    Parameters
    ----------
    sample : array-like, mapping or tuple
    names : sequence of str
        The inputs' ONNX names.
    specs : sequence of tf.TensorSpec-like
        Their shapes (``.shape.rank``, ``.shape.as_list()``), used to split one array.
    framework : str
        Named in errors.

    Returns
    -------
    list of numpy.ndarray

    Raises
    ------
    InvalidDataError
        The sample does not provide every input.

    Examples
    --------
    >>> import numpy as np, tensorflow as tf  # doctest: +SKIP
    >>> specs = [tf.TensorSpec([None, 2]), tf.TensorSpec([None, 3])]  # doctest: +SKIP
    >>> [a.shape for a in split_sample(np.zeros((4, 5)), ["a", "b"], specs, "keras")]  # doctest: +SKIP
    [(4, 2), (4, 3)]
    """
    import numpy as np

    if isinstance(sample, Mapping):
        missing = [n for n in names if n not in sample]
        if missing:
            raise InvalidDataError(
                f"the sample is a mapping but lacks the inputs {missing}; expected keys {list(names)}",
                input=missing[0],
                framework=framework,
            )
        return [np.asarray(sample[n]) for n in names]
    if isinstance(sample, (tuple, list)) and len(names) > 1:
        if len(sample) != len(names):
            raise InvalidDataError(
                f"the model has {len(names)} inputs {list(names)}; the sample holds {len(sample)} arrays",
                framework=framework,
            )
        return [np.asarray(s) for s in sample]
    if hasattr(sample, "to_numpy"):
        sample = sample.to_numpy()
    array = np.asarray(sample)
    if len(names) == 1:
        return [array]
    widths: list[int | None] = [spec.shape.as_list()[1] if spec.shape.rank == 2 else None for spec in specs]
    fixed = [w for w in widths if isinstance(w, int)]
    if array.ndim == 2 and len(fixed) == len(names) and sum(fixed) == array.shape[1]:
        out, start = [], 0
        for w in fixed:
            out.append(array[:, start : start + w])
            start += w
        return out
    raise InvalidDataError(
        f"the model has {len(names)} inputs {list(names)} with widths {widths}; pass a dict keyed by "
        f"input name, a tuple of arrays, or one array of {sum(w or 0 for w in widths)} columns "
        f"(found shape {list(array.shape)})",
        framework=framework,
    )


def trace(concrete: Any, *, input_names: Sequence[str] | None = None,
          output_names: Sequence[str] | None = None) -> TracedFunction:
    """Wrap a concrete function, choosing the ONNX names of its inputs and outputs.

    Parameters
    ----------
    concrete : tf ConcreteFunction
    input_names, output_names : sequence of str, optional
        Names to use instead of the ones read from the function's signature.

    Returns
    -------
    TracedFunction

    Raises
    ------
    UnsupportedModelError
        The names given do not match the function's inputs or outputs, or collide.

    Examples
    --------
    >>> fn = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([None, 3], name="x")])  # doctest: +SKIP
    >>> trace(fn.get_concrete_function()).input_names  # doctest: +SKIP
    ['x']
    """
    tf = _tensorflow()
    specs = [s for s in tf.nest.flatten(concrete.structured_input_signature) if isinstance(s, tf.TensorSpec)]
    if input_names is None:
        raw = [sanitize_name(s.name or "", "") for s in specs]
        if len(raw) == 1 and (not raw[0] or _GENERIC_INPUT.match(raw[0])):
            raw = ["input"]
        names = [n if n and not _GENERIC_INPUT.match(n) else f"input_{i}" for i, n in enumerate(raw)]
    else:
        names = [str(n) for n in input_names]
    if len(names) != len(specs):
        raise UnsupportedModelError(
            f"expected {len(specs)} input names for the function's inputs, found {len(names)}: {names}"
        )
    outputs = concrete.structured_outputs
    flat = tf.nest.flatten(outputs)
    if output_names is not None:
        outs = [str(n) for n in output_names]
    elif isinstance(outputs, Mapping):
        # tf.nest flattens a dict in sorted key order, the order of the graph's outputs.
        outs = [sanitize_name(str(k), f"output_{i}") for i, k in enumerate(sorted(outputs))]
    elif len(flat) == 1:
        outs = ["output"]
    else:
        outs = [f"output_{i}" for i in range(len(flat))]
    if len(outs) != len(flat):
        raise UnsupportedModelError(
            f"expected {len(flat)} output names for the function's outputs, found {len(outs)}: {outs}"
        )
    if len(set(names + outs)) != len(names) + len(outs):
        raise UnsupportedModelError(f"input and output names must be distinct, found {names} and {outs}")
    return TracedFunction(concrete=concrete, input_names=names, input_specs=specs, output_names=outs)


def convert_traced(traced: TracedFunction, *, opset: int, name: str | None, framework: str, sample: Any = None,
                   layers: Sequence[tuple[str, str]] = ()) -> RawConversion:
    """Convert a traced function with tf2onnx at ``opset`` and tidy the result.

    The graph's inputs and outputs get ``traced``'s names, the batch axis is named ``N``, and a
    graph holding operators tf2onnx could not convert is refused.

    Parameters
    ----------
    traced : TracedFunction
        The function and its ONNX names (see :func:`trace`).
    opset : int
        Default-domain opset, 9 to 18.
    name : str or None
        Graph name.
    framework : str
        ``"tensorflow"`` or ``"keras"``: named in errors.
    sample : optional
        The sample (checked by :meth:`TracedFunction.check_sample`): a float64 file is run on it to find the
        operators onnxruntime has no double kernel for (zeros when None).
    layers : sequence of (str, str)
        ``(name, class name)`` of the Keras model's layers, to name the layer computing a refused operation.

    Returns
    -------
    RawConversion
        The model, and tf2onnx's warnings.

    Raises
    ------
    OpsetError
        ``opset`` is above what tf2onnx writes.
    UnsupportedModelError
        tf2onnx failed, or left TensorFlow operators it could not map in the graph, or the function computes in
        float64 an operator onnxruntime has no double kernel for (:class:`RefusedOutright`).

    Examples
    --------
    >>> fn = tf.function(tf.nn.relu, input_signature=[tf.TensorSpec([None, 3])])  # doctest: +SKIP
    >>> raw = convert_traced(trace(fn.get_concrete_function()), opset=15, name=None,
    ...                      framework="tensorflow")  # doctest: +SKIP
    >>> [i.name for i in raw.model.graph.input]  # tf.nn.relu's argument is called features  # doctest: +SKIP
    ['features']
    """
    if opset > TF2ONNX_MAX_OPSET:
        raise OpsetError(
            f"tf2onnx 1.17 writes at most opset {TF2ONNX_MAX_OPSET}, but opset {opset} was asked for. "
            f"Ask for opset {TF2ONNX_MAX_OPSET} or lower.",
            opset=opset,
            framework=framework,
            max_opset=TF2ONNX_MAX_OPSET,
        )
    _refuse_fixed_batch(traced, framework)
    tf = _tensorflow()
    tf2onnx = _tf2onnx()
    concrete = traced.concrete
    _refuse_empty_segment_means(concrete, framework)
    _refuse_bfloat16(tf, concrete, framework)
    _refuse_resizes_tf2onnx_writes_wrong(concrete, framework)
    _refuse_asserted_lookups(concrete, framework)
    _refuse_inexact_top_k(tf, concrete, opset, framework)
    in_tensors = _argument_tensors(tf, concrete)
    out_tensors = [t.name for t in concrete.outputs if t.dtype != tf.dtypes.resource]
    if len(in_tensors) != len(traced.input_names) or len(out_tensors) != len(traced.output_names):
        raise UnsupportedModelError(
            f"the function has {len(in_tensors)} tensor inputs and {len(out_tensors)} outputs, but its "
            f"signature names {traced.input_names} and {traced.output_names}; nested or non-tensor "
            "arguments are not supported",
            framework=framework,
        )
    renames = dict(zip(in_tensors, traced.input_names)) | dict(zip(out_tensors, traced.output_names))
    with _captured_tf2onnx_log() as log:
        proto = _run_tf2onnx(tf, tf2onnx, concrete, in_tensors, out_tensors, renames, opset, name, framework)
    unfused = _halves_as_division(proto)
    if name:
        proto.graph.name = name
    _refuse_unknown_ops(proto, framework, _first_errors(log), _handler_refusals(log))
    # onnxruntime has no double kernel for Softplus, Erf, Elu, Selu...: a float64 function computing one gave a
    # file no target loads (validate's operators_supported failed it, convert said nothing)
    from onnxgate._graph import double_formulas

    double_formulas(proto)
    for_target = double_recurrences_for_target(proto)
    if computes_in_double(proto):
        refuse_without_double_kernels(proto, _probe_feeds(traced, sample, framework), framework, layers)
    _output_shapes_from_tensorflow(proto, {renames[t.name]: t.shape for t in concrete.outputs if t.name in renames})
    _resize_scales_reaching_their_sizes(proto)
    _refuse_negative_gather_ids(proto)
    _name_batch_axis(proto)
    # the lookups tf2onnx says it cannot shape are the ones _shape_lookups gave their keys' shape after them
    shaped = tuple(f"Cannot infer shape for {op.name}{_FIND_SUFFIX}:" for op in concrete.graph.get_operations()
                   if op.type == "LookupTableFindV2")
    warnings = [
        f"tf2onnx: {r.getMessage().strip().splitlines()[0][:200]}"
        for r in log.records
        if r.levelno == logging.WARNING and r.getMessage().strip() and not r.getMessage().startswith(shaped)
    ]
    warnings.extend(for_target)
    if unfused is not None:
        proto, note = unfused
        warnings.append(note)
    return RawConversion(model=proto, warnings=warnings)


def double_recurrences_for_target(proto: onnx.ModelProto) -> list[str]:
    """For a conversion with a target whose onnxruntime's kernels convert rewrites (a SQL target's), the double
    ``LSTM``, ``GRU`` and ``RNN`` nodes computed in float32 between Casts, in place, as that rewrite does; the warning
    naming them. No onnxruntime runs them in double, so :func:`refuse_without_double_kernels` refused the file before
    the rewrite was reached (a float64 Keras LSTM or a tf.function's float64 LSTM cell for sql-edge-2.0: 'no target
    could load the file'). Without a target: nothing (the file is refused, as a float64 LSTM no runtime runs)."""
    from onnxgate.converters._base import CONVERSION_TARGET

    target = CONVERSION_TARGET.get()
    if target is None:
        return []
    from onnxgate._kernels import NO_DOUBLE_ANYWHERE, float32_where_the_target_lacks_double

    return float32_where_the_target_lacks_double(proto, target, NO_DOUBLE_ANYWHERE)


def computes_in_double(proto: onnx.ModelProto) -> bool:
    """Whether the file holds a double tensor: an input, output, weight or typed value, or a Cast to double."""
    from onnxgate._onnx import holds_type

    return holds_type(proto, 11)  # TensorProto.DOUBLE


def _probe_feeds(traced: TracedFunction, sample: Any, framework: str) -> dict[str, Any]:
    """Rows to run a float64 file on (:func:`refuse_without_double_kernels`): the sample's first two, else one row
    of zeros with each free axis of length 1 (empty text for a text input)."""
    import numpy as np

    tf = _tensorflow()
    if sample is not None:
        arrays = split_sample(sample, traced.input_names, traced.input_specs, framework)
        feeds = {}
        for name, spec, array in zip(traced.input_names, traced.input_specs, arrays):
            array = np.asarray(array, dtype=object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype)
            if spec.shape.rank is not None and array.ndim == spec.shape.rank - 1:
                array = array[None]  # one row given without its batch axis
            feeds[name] = array[:2]
        return feeds
    return {name: (np.full(shape, "", dtype=object) if spec.dtype == tf.string else
                   np.zeros(shape, dtype=spec.dtype.as_numpy_dtype))
            for name, spec in zip(traced.input_names, traced.input_specs)
            for shape in [[d or 1 for d in spec.shape.as_list()] if spec.shape.rank is not None else [1]]}


def refuse_without_double_kernels(proto: onnx.ModelProto, feeds: Mapping[str, Any], framework: str,
                                  layers: Sequence[tuple[str, str]] = ()) -> None:
    """Refuse a float64 file (:func:`computes_in_double`) holding operators onnxruntime has no double kernel for and
    :func:`onnxgate._graph.double_formulas` no formula for (``Conv``, ``LSTM``): convert handed the file back, and
    only validate's ``operators_supported`` said no target could load it. onnxruntime is asked
    (:func:`onnxgate._onnx.missing_kernels`: a session, then a run on ``feeds``, since ``LSTM`` and ``GRU`` load on
    double and refuse it only when they run): 2 to 15 ms measured on float64 MLPs and a GRU, for float64 files only.
    Every such operator is named, not the first one onnxruntime stops at (a model with a ``Conv2D`` and an ``LSTM``
    was refused for the ``Conv2D``, then, converted again, for the ``LSTM``). A node onnxruntime names whose inputs
    are not double is left to validation.

    ``layers`` (``(name, class name)`` of a Keras model's) name the layer: the one whose name is a scope of the
    node's (tf2onnx keeps TensorFlow's op names, ``sequential/conv2d/convolution``), else those whose class names
    the operator (tf2onnx names its recurrent nodes ``LSTM__63``)."""
    from onnxgate._onnx import missing_kernels

    missing = missing_kernels(proto, feeds)
    if not missing:
        return
    by_op: dict[str, list[str]] = {}
    for gap in missing:
        by_op.setdefault(gap.op, []).append(gap.node)
    clauses = []
    for op, nodes in by_op.items():
        scopes = {part for node in nodes for part in node.split("/")}
        found = [(n, c) for n, c in layers if n in scopes] or [(n, c) for n, c in layers if op in c]
        named = ", ".join(f"{n!r} ({c})" for n, c in found)
        clauses.append(f"layers {named} compute {op}" if len(found) > 1 else
                       f"layer {named} computes {op}" if found else
                       f"{op} (in a layer not named by it)" if layers else op)
    listed = ", ".join(clauses[:-1]) + (" and " if len(clauses) > 1 else "") + clauses[-1]
    if framework == "keras":
        who = f"the Keras model's {listed}" if clauses[0].startswith("layer") else f"the Keras model computes {listed}"
        fix = ("Build the model in float32: float32 inputs and layers (keras.Input(..., dtype='float32'), each "
               "layer's dtype='float32', keras.config.set_floatx('float32') if it was changed) and a float32 "
               "sample, or replace the layer" + ("s" if len(clauses) > 1 else ""))
    else:
        who = f"the TensorFlow function computes {listed}"
        fix = ("Compute the operation in float32: a float32 input_signature (tf.TensorSpec(..., tf.float32)) and "
               "float32 weights, or tf.cast(x, tf.float32) before it and tf.cast(..., tf.float64) after it")
    nodes = [gap.node for gap in missing]
    raise RefusedOutright(
        f"{who} in float64 (node(s) {nodes[:8]}), which onnxruntime has no double kernel "
        f"for (it said: {missing[0].said}), so no target could load the file. {fix}",
        framework=framework,
        operator=missing[0].op,
        operators=list(by_op),
        nodes=nodes,
    )


def _spec_shapes(specs: Sequence[Any]) -> list[list[int | None] | None]:
    return [s.shape.as_list() if s.shape.rank is not None else None for s in specs]


def prove_traced(proto: Any, traced: TracedFunction, sample: Any, axes: Mapping[int, dict[int, str]],
                 framework: str, reference: Any = None, subject: str | None = None) -> None:
    """Name the function's free axes beyond the batch on the file and prove them on the sample against the function
    (or ``reference``: flat input arrays to flat output arrays) (:mod:`onnxgate.converters._tf_axes`)."""
    import numpy as np

    lengths = declared_axes(traced.input_names, _spec_shapes(traced.input_specs), dict(axes))
    if not lengths:
        return
    arrays = None
    if sample is not None:
        arrays = [np.asarray(a, dtype=s.dtype.as_numpy_dtype if s.dtype != _tensorflow().string else object)
                  for a, s in zip(split_sample(sample, traced.input_names, traced.input_specs, framework),
                                  traced.input_specs)]
    if reference is None:
        tf = _tensorflow()

        def reference(feeds: list[Any]) -> list[Any]:
            tensors = [tf.convert_to_tensor(a, dtype=s.dtype) for a, s in zip(feeds, traced.input_specs)]
            return [np.asarray(t) for t in traced.call(tensors)]

    what = subject or f"the {framework} function"
    prove_axes(proto, traced.input_names, arrays, lengths, reference, what, framework)


def _halves_as_division(proto: Any) -> tuple[Any, str] | None:
    """The model with every ``Mul`` by the constant 0.5 written as ``Div`` by 2 (the same value, bit for
    bit), when onnxruntime loads the file only with its graph optimisations off and this one with them on;
    else None.

    A function with both an exact and a tanh GELU: onnxruntime's FastGeluFusion took the exact GELU's
    ``0.5 * x`` for the tanh GELU's and removed it, and the file failed to load ("Node input 'Gelu/mul:0'
    is not a graph input ..."; found by helper-68)."""
    import copy

    import numpy as np
    from onnx import numpy_helper

    from onnxgate._graph import unique_name
    from onnxgate._onnx import load_error

    halves = {init.name: init for init in proto.graph.initializer
              if init.data_type in (1, 11) and not init.dims and float(numpy_helper.to_array(init)) == 0.5}
    if not any(n.op_type == "Mul" and halves.keys() & set(n.input) for n in proto.graph.node):
        return None  # nothing to rewrite: no onnxruntime session is made for the question
    refused = load_error(proto, optimized=True)
    if refused is None or load_error(proto) is not None:
        return None  # loads, or is ill-typed whatever the optimisations (validation says why)
    again = copy.deepcopy(proto)
    taken = {i.name for i in again.graph.initializer} | {o for n in again.graph.node for o in n.output}
    twos: dict[int, str] = {}
    for node in again.graph.node:
        if node.op_type != "Mul" or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
            continue
        half = [i for i in node.input if i in halves]
        if len(half) != 1:
            continue
        other = next(i for i in node.input if i != half[0])
        kind = halves[half[0]].data_type
        if kind not in twos:
            twos[kind] = unique_name("two", taken)
            again.graph.initializer.append(numpy_helper.from_array(
                np.array(2.0, dtype=np.float32 if kind == 1 else np.float64), twos[kind]))
        node.op_type = "Div"
        node.input[:] = [other, twos[kind]]
    if not twos or load_error(again, optimized=True) is not None:
        return None
    return again, (f"onnxruntime's graph optimisations refused tf2onnx's file ({refused}); its multiplications "
                   "by 0.5 are written as divisions by 2 (the same values), and it loads")

def _run_tf2onnx(tf: Any, tf2onnx: Any, concrete: Any, in_tensors: list[str], out_tensors: list[str],
                 renames: dict[str, str], opset: int, name: str | None, framework: str) -> Any:
    try:
        # This is tf2onnx.convert.from_function without its get_concrete_function call, so a
        # concrete function (a SavedModel's serving signature) converts as well as a tf.function.
        # large_model stays False: tf2onnx 1.17's external-data path calls np.product (gone in numpy 2).
        with tf.device("/cpu:0"):
            frozen = tf2onnx.tf_loader.from_function(concrete, in_tensors, out_tensors, large_model=False)
            _shape_lookups(frozen, concrete)
            proto, _ = tf2onnx.convert._convert_common(
                frozen,
                name=name or getattr(concrete, "name", "tensorflow"),
                continue_on_error=True,
                custom_op_handlers=rewrite_handlers(_lookup_tables(tf, concrete)),
                opset=opset,
                input_names=in_tensors,
                output_names=out_tensors,
                large_model=False,
                tensors_to_rename=renames,
            )
    except Exception as err:
        text = str(err).strip().splitlines()
        if "is not supported yet" in str(err) and "Opset" in str(err):
            raise OpsetError(
                f"tf2onnx refused opset {opset}: {text[0]}", opset=opset, framework=framework,
                max_opset=TF2ONNX_MAX_OPSET,
            ) from err
        raise UnsupportedModelError(
            f"tf2onnx could not convert the {framework} model: {type(err).__name__}: {text[0] if text else ''}",
            framework=framework,
        ) from err
    return proto


#: TensorFlow ops tf2onnx writes as a sum over a count, NaN (0 / 0) for a segment no row belongs to, where
#: TensorFlow answers 0: validate passed such a file on rows that filled every segment (helper-93).
EMPTY_SEGMENT_NAN_OPS = frozenset({"SegmentMean"})


def _refuse_empty_segment_means(concrete: Any, framework: str) -> None:
    found = sorted({op.type for op in concrete.graph.get_operations() if op.type in EMPTY_SEGMENT_NAN_OPS})
    if found:
        raise RefusedOutright(
            f"the function uses {found} (tf.math.segment_mean): tf2onnx writes it as a sum over a count, which is NaN "
            "for a segment no row belongs to where TensorFlow answers 0, so a batch that skips a segment id scores "
            "NaN rows. Compute the mean so that an empty segment is 0: tf.math.segment_sum(x, ids) / "
            "tf.maximum(tf.math.segment_sum(tf.ones_like(x), ids), 1)",
            framework=framework,
        )


def _refuse_bfloat16(tf: Any, concrete: Any, framework: str) -> None:
    """Refuse a function that computes in bfloat16 (a Keras ``mixed_bfloat16`` policy, a ``tf.bfloat16`` input or
    variable), in its graph or in a function it calls: tf2onnx 1.17 writes bfloat16 tensors as float16 and keeps
    the weights bfloat16, so the file's MatMul mixes the two and no runtime loads it (measured: "Type parameter
    (T) of Optype (MatMul) bound to different types (tensor(float16) and tensor(bfloat16))", its input typed float16
    where the model takes bfloat16; helper-261)."""
    bfloat16 = tf.bfloat16.as_datatype_enum
    graph = concrete.graph.as_graph_def()
    nodes = [*graph.node, *(n for function in graph.library.function for n in function.node_def)]
    for node in nodes:
        if any(a.type == bfloat16 or bfloat16 in a.list.type for a in node.attr.values()):
            keras = (" For a Keras model under the 'mixed_bfloat16' policy: build it again under "
                     "keras.config.set_dtype_policy('float32') (or 'mixed_float16') and copy the weights in "
                     "(new.set_weights(model.get_weights())), then restore the policy." if framework == "keras" else "")
            raise RefusedOutright(
                f"the model computes in bfloat16 (operation {node.name!r}, {node.op}): tf2onnx writes bfloat16 "
                "tensors as float16 but keeps the weights bfloat16, a file onnxruntime cannot load. Convert it in "
                f"float32, or in float16 (onnxruntime has float16 kernels), casting to bfloat16 nowhere.{keras}",
                framework=framework,
            )


def _refuse_asserted_lookups(concrete: Any, framework: str) -> None:
    """Refuse a table lookup whose result an ``Assert`` checks: ``IntegerLookup``/``StringLookup`` with
    ``num_oov_indices=0`` raise on a value outside the vocabulary, and freezing drops the ``Assert``, so the file
    would answer -1 for it where Keras refuses the batch (measured: [[3, 5]] gave [[0, -1]]; helper-181)."""
    lookups = [op for op in concrete.graph.get_operations() if op.type == "LookupTableFindV2"]
    seen: set[str] = set()
    todo = [t for op in lookups for t in op.outputs]
    while todo:
        for reader in todo.pop().consumers():
            if reader.type == "Assert":
                raise RefusedOutright(
                    "the function checks a table lookup with an Assert (a Keras IntegerLookup or StringLookup with "
                    "num_oov_indices=0, which raises on a value outside its vocabulary); ONNX has no assertion, so "
                    "the file would answer -1 where the model raises. Use num_oov_indices=1 (an unknown value gets "
                    "index 0, or 1 after a mask token), or check the values in the input pipeline",
                    framework=framework,
                )
            if reader.name not in seen:
                seen.add(reader.name)
                todo.extend(reader.outputs)


def _refuse_resizes_tf2onnx_writes_wrong(concrete: Any, framework: str) -> None:
    """Refuse the image resizes whose tf2onnx files answer otherwise than TensorFlow (helper-96, measured on
    N(0, 1) images): ``method="area"`` except an upsampling by whole factors (8x8 to 4x4 was 2.3 off, 5x7 to
    3x4 2.4, 5x5 to 8x8 2.8; 4x4 to 8x8 exact), and ``method="bicubic"`` to a smaller size, whose file
    onnxruntime cannot load ("'Cubic' mode only supports ...")."""
    for op in concrete.graph.get_operations():
        if op.type not in ("ResizeArea", "ResizeBicubic"):
            continue
        source = op.inputs[0].shape.as_list() if op.inputs[0].shape.rank == 4 else None
        result = op.outputs[0].shape.as_list() if op.outputs[0].shape.rank == 4 else None
        sizes = None if source is None or result is None else list(zip(source[1:3], result[1:3]))
        known = sizes is not None and all(a is not None and b is not None for a, b in sizes)
        shown = (f" from {source[1]}x{source[2]} to {result[1]}x{result[2]}"
                 if known and source is not None and result is not None else "")
        if op.type == "ResizeArea" and not (known and all(b % a == 0 for a, b in sizes or ())):
            raise RefusedOutright(
                f"the function resizes images with method='area'{shown}: tf2onnx writes it as another "
                "interpolation, whose values differ from TensorFlow's (2.3 off on 8x8 to 4x4 images of N(0, 1) "
                "values); only an enlargement by whole factors matches. To shrink by a whole factor use "
                "AveragePooling2D (or tf.nn.avg_pool2d) with that factor, which is what 'area' computes there; "
                "else use method='bilinear'",
                framework=framework,
            )
        if op.type == "ResizeBicubic" and (not known or any(b < a for a, b in sizes or ())):
            raise RefusedOutright(
                f"the function resizes images with method='bicubic'{shown}: tf2onnx writes a cubic resize "
                "onnxruntime cannot load when it shrinks an image (or when the sizes are not known when traced). "
                "Use method='bilinear' to shrink, or give the images a fixed size in the input signature",
                framework=framework,
            )


def _resize_scales_reaching_their_sizes(proto: onnx.ModelProto) -> int:
    """Raise each constant Resize scale by the few float32 steps that make ``floor(size * scale)`` the size
    TensorFlow resized to; how many scales moved.

    tf2onnx writes TensorFlow's ``out / in`` as a float32 scale, which can fall just below it: 11/7 became
    1.5714285 (7 x that = 10.99999976), and ONNX shape inference floors the product to 10 where the declared
    output is 11 (onnxruntime, computing in float32, gets 11). validate's model_wellformed then failed
    ``Resizing(8, 11)`` files that score right (helper-96). The scale moves by ulps: the sampled positions by
    about 1e-7 of a pixel."""
    import math

    import numpy as np
    import onnx
    from onnx import numpy_helper

    from onnxgate._onnx import canonical_domain, model_opsets

    resizes = [n for n in proto.graph.node if canonical_domain(n.domain) == "" and n.op_type == "Resize"]
    if not resizes:
        return 0
    at = 2 if model_opsets(proto).get("", 0) >= 11 else 1
    initializers = {init.name: init for init in proto.graph.initializer}
    readers: dict[str, int] = {}
    for node in proto.graph.node:
        for used in node.input:
            readers[used] = readers.get(used, 0) + 1
    try:
        inferred = onnx.shape_inference.infer_shapes(proto).graph.value_info
    except Exception:
        return 0
    shapes = {vi.name: [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
              for vi in [*proto.graph.input, *inferred]}
    moved = 0
    for node in resizes:
        name = node.input[at] if len(node.input) > at else ""
        init = initializers.get(name)
        dims = shapes.get(node.input[0])
        if init is None or readers.get(name, 0) != 1 or dims is None:
            continue
        scales = numpy_helper.to_array(init)
        if scales.dtype != np.float32 or scales.shape != (len(dims),):
            continue
        raised = scales.copy()
        for axis, (size, scale) in enumerate(zip(dims, scales.tolist())):
            if not size or scale == 1.0:
                continue
            wanted = round(size * scale)
            step = raised[axis]
            for _ in range(8):  # a few ulps at most; a scale still short after them is left as written
                if math.floor(size * float(step)) >= wanted:
                    raised[axis] = step
                    break
                step = np.nextafter(step, np.float32(np.inf))
        if (raised != scales).any():
            init.CopyFrom(numpy_helper.from_array(raised, name))
            moved += int((raised != scales).sum())
    return moved


def _refuse_negative_gather_ids(proto: onnx.ModelProto) -> int:
    """Make onnxruntime refuse a negative index into a constant table, as TensorFlow does: its gather raises
    on one ("indices[0,0] = -1 is not in [0, 10)"), where ONNX's Gather counts it from the end, so the service
    answered a request TensorFlow refuses (row 9 for -1; helper-96). A Keras ``Embedding`` first adds the
    table's size to a negative id, as Keras does, and still answers -1 as the last row; -11 into 10 rows is
    refused, as Keras refuses it. The number guarded (:func:`onnxgate._graph.refuse_negative_gather_ids`)."""
    from onnxgate._graph import refuse_negative_gather_ids

    return refuse_negative_gather_ids(proto, lambda node: True)


def _refuse_fixed_batch(traced: TracedFunction, framework: str) -> None:
    """Refuse inputs whose first axis has a fixed size, as the PyTorch converter does.

    onnxgate's models take any number of rows, and validation feeds batches of other sizes: a
    ``tf.TensorSpec([4, 10])`` converted as it is would only run on 4 rows. The signature is the
    user's, so it is not loosened behind their back; the message says how to loosen it. A scalar input
    (``tf.TensorSpec([])``) has no batch axis at all: the file would take one value, and validation's batches of
    rows are refused by it, so it is refused here as well.
    """
    scalars = [(n, s.dtype.name) for n, s in zip(traced.input_names, traced.input_specs) if s.shape.rank == 0]
    if scalars:
        listed = ", ".join(repr(n) for n, _ in scalars)
        specs = ", ".join(f"tf.TensorSpec([None], tf.{dtype})" for _, dtype in scalars)
        raise UnsupportedModelError(
            f"input(s) {listed} are scalars (shape []); onnxgate writes a batch axis first on every input, so the "
            "model would take one value, not rows. Give the function a free first axis, "
            f"input_signature=[{specs}], computing one answer per value.",
            framework=framework,
        )
    fixed = [(n, s.shape.as_list(), s.dtype.name) for n, s in zip(traced.input_names, traced.input_specs)
             if s.shape.rank and s.shape.as_list()[0] is not None]
    if not fixed:
        return
    listed = ", ".join(f"{n!r} (shape {list(shape)})" for n, shape, _ in fixed)
    specs = ", ".join(f"tf.TensorSpec({[None, *shape[1:]]}, tf.{dtype})" for _, shape, dtype in fixed)
    raise UnsupportedModelError(
        f"input(s) {listed} fix the batch size; onnxgate writes a dynamic batch axis, so the model would "
        f"only run on that many rows. Give the function a free first axis, input_signature=[{specs}] "
        "(for a SavedModel, save it again with that signature).",
        framework=framework,
    )


def _tf_function_attributes(tf: Any, model: Any) -> list[str]:
    """Names of a ``tf.Module``'s public tf.functions: its ``@tf.function`` methods and the ones set on it."""
    if not isinstance(model, tf.Module):
        return []
    found: dict[str, None] = {}
    for owner in (*reversed(type(model).__mro__), model):
        for name, value in vars(owner).items():
            if not name.startswith("_") and isinstance(value, tf.types.experimental.GenericFunction):
                found[name] = None
    return list(found)


def _argument_tensors(tf: Any, concrete: Any) -> list[str]:
    """Names of the function's own tensor arguments, without the tensors it captured.

    A concrete function lists captured values after its arguments (``concrete.captured_inputs``):
    variables (resources) and constant tensors a layer closed over (Keras' Normalization layer keeps
    its mean and variance that way, as in EfficientNet). Freezing folds both into the graph as
    constants, so neither is a model input.
    """
    captured = {id(t) for t in getattr(concrete.graph, "internal_captures", ())}
    n_captured = len(getattr(concrete, "captured_inputs", ()) or ())
    args = list(concrete.inputs)
    if n_captured:
        args = args[: len(args) - n_captured]
    return [t.name for t in args if t.dtype != tf.dtypes.resource and id(t) not in captured]


def rewrite_handlers(tables: Mapping[str, Any] | None = None) -> dict[str, tuple[Any, list[Any]]]:
    """tf2onnx custom-op handlers for TensorFlow operations it has no mapping for, but which ONNX
    expresses exactly with standard operators at every opset tf2onnx writes (9-18).

    * ``Erfc(x) = 1 - Erf(x)`` (ONNX ``Erf`` since opset 9): exact GELU (``tf.nn.gelu(approximate=False)``,
      Keras ``activation="gelu"``) and ``tf.math.erfc``. In float32 ``1 - erf(x)`` loses the relative
      precision of erfc's tail (x > ~4, erfc < 2e-8) but not its absolute value: GELU multiplies it by x.
      onnxruntime has Erf for float32 only, so a float64 Erfc computes Erf in float32 between Casts.
    * ``FloorDiv`` and ``FloorMod`` on signed integers (tf2onnx maps them, but rounding toward zero): see
      :func:`_floor_division`.
    * ``Select``/``SelectV2`` (``tf.where(c, a, b)``) on floats as ONNX ``Where``: see :func:`_select_as_where`.
    * ``Atan2`` with IEEE's signed zeros and infinities: see :func:`_atan2_as_tensorflow`.
    * ``Equal``, ``NotEqual``, ``Greater``, ``Less``, ``GreaterEqual``, ``LessEqual`` on floats with NaN and on
      integers past float32's 2**24: see :func:`_comparison_as_tensorflow`.
    * ``Maximum``/``Minimum`` of integers below opset 12: see :func:`_integer_extremum`.
    * ``TopKV2`` (``tf.math.top_k``, ``keras.ops.top_k``) on integers and float64 without a float32 round trip:
      see :func:`_top_k_exact`.
    * ``Bitcast`` of float32 to int32 masked to its sign bit and read only at zero (Keras 3's ``keras.ops.argmax``
      and ``argmin`` on floats telling -0.0 from 0.0): see :func:`_zero_sign_bit`.
    * ``SegmentMax``/``SegmentMin`` and their unsorted forms answering TensorFlow's value for a segment no
      row belongs to: see :func:`_empty_segments_as_tensorflow`.
    * ``Log`` of float64 in float64 (for a target whose onnxruntime has no double ``Log``, SQL Edge 1.0's 1.5.3,
      ``convert`` then computes it in float32 between Casts, as every node that runtime lacks): see
      :func:`_log_in_its_own_type`.
    * ``Log1p`` and ``Expm1`` (``tf.math.log1p``, ``tf.math.expm1``: a log-transformed target undone in a
      Lambda layer) with their precision near 0: see :func:`_log1p_expm1`.
    * ``Xlogy``, ``Xlog1py``, ``Xdivy`` (0 where x is 0) and ``TruncateMod`` (ONNX ``Mod`` with ``fmod=1``): see
      :func:`_x_times_or_over_y` and :func:`_truncate_mod`.
    * ``CumulativeLogsumexp`` (every ``exclusive``/``reverse`` flag) as a ``Scan`` of TensorFlow's step: see
      :func:`_cumulative_logsumexp`.
    * ``Bucketize`` (Keras ``Discretization``, ``tf.raw_ops.Bucketize``) as a count of the boundaries at or
      below x: see :func:`_bucketize_as_count`.
    * ``FakeQuantWithMinMaxArgs``/``FakeQuantWithMinMaxVars`` with TensorFlow's zero point: see
      :func:`_fake_quant_as_tensorflow`.
    * ``LookupTableFindV2`` (Keras ``IntegerLookup``, ``StringLookup``, a ``tf.lookup.StaticHashTable``) as an
      ``ai.onnx.ml`` ``LabelEncoder`` holding the table, when ``tables`` maps the placeholder freezing leaves for
      the table's handle to its keys and values (:func:`_lookup_tables`): see :func:`_table_lookup`.
    """
    lookups: dict[str, tuple[Any, list[Any]]] = {"LookupTableFindV2": (_table_lookup(tables), [])} if tables else {}
    return {**lookups, "Erfc": (_erfc_as_one_minus_erf, []),
            "Log": (_log_in_its_own_type, []),
            "Log1p": (_log1p_expm1, []),
            "Expm1": (_log1p_expm1, []),
            "Xlogy": (_x_times_or_over_y, []),
            "Xlog1py": (_x_times_or_over_y, []),
            "Xdivy": (_x_times_or_over_y, []),
            "TruncateMod": (_truncate_mod, []),
            "CumulativeLogsumexp": (_cumulative_logsumexp, []),
            "Bucketize": (_bucketize_as_count, []),
            "FloorDiv": (lambda ctx, node, name, args: _floor_division(ctx, node, "div"), []),
            "FloorMod": (lambda ctx, node, name, args: _floor_division(ctx, node, "mod"), []),
            "Select": (_select_as_where, []),
            "SelectV2": (_select_as_where, []),
            "OneHot": (_one_hot_of_negative_ids_off, []),
            "Atan2": (_atan2_as_tensorflow, []),
            "Bitcast": (_zero_sign_bit, []),
            **{op: (_comparison_as_tensorflow, []) for op in COMPARISONS},
            "Maximum": (_integer_extremum, []),
            "Minimum": (_integer_extremum, []),
            "TopKV2": (_top_k_exact, []),
            "FakeQuantWithMinMaxArgs": (_fake_quant_as_tensorflow, []),
            "FakeQuantWithMinMaxVars": (_fake_quant_as_tensorflow, []),
            **{op: (_empty_segments_as_tensorflow, []) for op in EMPTY_SEGMENT_VALUES}}


#: What TensorFlow answers for a segment no row belongs to: 0 for the sorted ops; the unsorted ones start from
#: the type's lowest (max) or highest (min) finite value, so they answer it for an empty segment, or one of -inf
#: only. tf2onnx starts from the reduction's identity: -inf or +inf for floats (the lowest integer for a sorted
#: integer max).
EMPTY_SEGMENT_VALUES = {"SegmentMax": "zero", "SegmentMin": "zero", "UnsortedSegmentSum": "", "UnsortedSegmentProd": "",
                        "UnsortedSegmentMax": "lowest", "UnsortedSegmentMin": "highest"}


def _empty_segments_as_tensorflow(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.math.segment_max``/``segment_min`` and ``unsorted_segment_max``/``unsorted_segment_min`` with
    TensorFlow's answer for an empty segment: 0 (sorted), the lowest or highest finite value (unsorted); every
    ``unsorted_segment_*`` dropping the rows of a negative id, as TensorFlow does.

    tf2onnx's file answered -inf/+inf for an empty segment: a per-row group maximum (``unsorted_segment_max``
    over ids ``group + 3 * row``) validated on rows holding every group and differed on 117 of 200 rows whose
    groups were drawn at random (helper-153). It also wrote a negative id's row into the last segment's slots
    (ONNX counts a negative index from the end): ``unsorted_segment_sum`` of 1..6 over ids [-1, -1, 0, 0, 1, 2]
    answered 8 for segment 2, TensorFlow 6. A negative id is sent to one segment past the last, sliced off after;
    tf2onnx's own handler writes the reduction; then an unsorted result is clamped to the finite range
    TensorFlow starts from, and a sorted one takes 0 where no id names the segment (a segment whose members are
    all -inf keeps -inf, as in TensorFlow)."""
    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils
    from tf2onnx.onnx_opset.reduction import SegmentSum

    kind = EMPTY_SEGMENT_VALUES[node.type]
    data, ids = node.input[0], node.input[1]
    dtype = ctx.get_dtype(data)
    np_type = helper.tensor_dtype_to_np_dtype(dtype)
    limits = np.finfo(np_type) if np.dtype(np_type).kind == "f" else np.iinfo(np_type)
    scope = node.name
    int64 = TensorProto.INT64

    def make(op: str, inputs: list[str], out_type: int = int64, **attr: Any) -> str:
        return str(ctx.make_node(op, inputs, attr=attr, op_name_scope=scope, dtypes=[out_type]).output[0])

    def const(value: Any, of: Any = np.int64) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_const"), np.array(value, dtype=of)).output[0])

    # every reader of the op's output reads this node, which becomes the fix once tf2onnx wrote the reduction
    answer = ctx.make_node("Identity", [node.output[0]], op_name_scope=scope, dtypes=[dtype],
                           shapes=[ctx.get_shape(node.output[0])])
    ctx.replace_all_inputs(node.output[0], answer.output[0], ops=[n for n in ctx.get_nodes() if n is not answer])
    segments = None
    if node.type.startswith("Unsorted"):
        segments = make("Reshape", [make("Cast", [node.input[2]], to=int64), const([1])])
        ids = make("Cast", [ids], to=int64)
        ctx.replace_inputs(node, [data, make("Where", [make("Less", [ids, const(0)], TensorProto.BOOL), segments, ids]),
                                  make("Add", [make("Cast", [node.input[2]], to=int64), const(1)])])
    SegmentSum.any_version(13 if ctx.opset >= 13 else 11, ctx, node)
    reduced = answer.input[0]
    if segments is not None:
        reduced = make("Slice", [reduced, const([0]), segments, const([0])], dtype)
    answer.domain = ""
    if not kind:
        ctx.replace_inputs(answer, [reduced])
        return
    if kind != "zero":
        answer.type = "Max" if kind == "lowest" else "Min"
        ctx.replace_inputs(answer, [reduced, const(limits.min if kind == "lowest" else limits.max, np_type)])
        return
    # the sorted ops have max(ids) + 1 segments: one is empty where no id names it
    shape = make("Shape", [reduced])
    count = make("Slice", [shape, const([0]), const([1]), const([0])])
    ids = make("Cast", [ids], to=int64)
    slots = make("ConstantOfShape", [count], value=helper.make_tensor("value", int64, [1], [0]))
    hits = make("ScatterElements", [slots, ids, make("Add", [make("Mul", [ids, const(0)]), const(1)])], axis=0)
    rest = make("ConstantOfShape", [make("Sub", [make("Shape", [shape]), const([1])])],
                value=helper.make_tensor("value", int64, [1], [1]))
    named = make("Greater", [hits, const(0)], TensorProto.BOOL)
    filled = make("Reshape", [named, make("Concat", [count, rest], axis=0)], TensorProto.BOOL)
    answer.type = "Where"
    ctx.replace_inputs(answer, [filled, reduced, const(0, np_type)])


def _atan2_as_tensorflow(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.math.atan2(y, x)`` with IEEE's quadrants, as TensorFlow: tf2onnx's form answered pi for y = -0.0,
    x < 0 (TensorFlow: -pi), 0 for y = 0, x = -0.0 (pi) and otherwise than TensorFlow for two infinities (9 of 64
    pairs of 0, -0, +-1, +-inf; convert silent). The angle is ``atan(y / x)``, moved by pi toward y's sign where
    x's sign bit is set; where y is zero it is y itself (x's sign bit clear) or pi with y's sign; two
    infinities are read as their signs."""
    import math

    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils

    y, x = node.input[0], node.input[1]
    dtype = ctx.get_dtype(y)
    shape = ctx.get_shape(node.output[0])
    scope = node.name
    kind = helper.tensor_dtype_to_np_dtype(dtype)

    def make(op: str, inputs: list[str], out_type: int = dtype) -> str:
        return str(ctx.make_node(op, inputs, op_name_scope=scope, dtypes=[out_type], shapes=[shape]).output[0])

    def const(value: float) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_const"), np.array(value, dtype=kind)).output[0])

    boolean = TensorProto.BOOL
    zero, pi = const(0.0), const(math.pi)
    both = make("And", [make("IsInf", [y], boolean), make("IsInf", [x], boolean)], boolean)
    y, x = make("Where", [both, make("Sign", [y]), y]), make("Where", [both, make("Sign", [x]), x])

    signed_pi = make("Where", [_sign_bit(ctx, y, dtype, shape, scope), make("Neg", [pi]), pi])
    left = _sign_bit(ctx, x, dtype, shape, scope)
    angle = make("Atan", [make("Div", [y, x])])
    moved = make("Where", [left, make("Add", [angle, signed_pi]), angle])
    on_axis = make("Where", [left, signed_pi, y])
    node.type, node.domain = "Where", ""
    ctx.replace_inputs(node, [make("Equal", [y, zero], boolean), on_axis, moved])


def _sign_bit(ctx: Any, v: str, dtype: int, shape: Any, scope: str) -> str:
    """A bool that is true where ``v`` is negative or -0.0: IEEE's sign bit for every value but NaN, whose sign no
    comparison reads (false here). ``v < 0 or 1 / v < 0``: ``1 / -0.0`` is -inf, and ``v < 0`` holds where
    ``1 / v`` is -0.0 (v = -inf). No ``Equal``, which takes floats from opset 11 only."""
    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils

    kind = helper.tensor_dtype_to_np_dtype(dtype)
    boolean = TensorProto.BOOL

    def make(op: str, inputs: list[str], out_type: int = boolean) -> str:
        return str(ctx.make_node(op, inputs, op_name_scope=scope, dtypes=[out_type], shapes=[shape]).output[0])

    def const(value: float) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_const"), np.array(value, dtype=kind)).output[0])

    zero, one = const(0.0), const(1.0)
    return make("Or", [make("Less", [v, zero]), make("Less", [make("Div", [one, v], dtype), zero])])


#: The sign bit of an int32: what ``tf.bitcast(x, tf.int32) & INT32_SIGN`` keeps of a float32.
INT32_SIGN = -(2**31)


def _sign_bit_read_at_zero_only(ctx: Any, node: Any) -> list[Any] | None:
    """The ``BitwiseAnd`` readers of a float32-to-int32 ``Bitcast`` when the graph is Keras 3's negative-zero test
    (``keras.ops.argmax``/``argmin`` on floats, ``keras.src.backend.tensorflow.numpy.signbit``)::

        is_negative_zero = (x == 0) & ((bitcast(x, int32) & INT32_MIN) < 0)

    None for any other use of the bits. Only this form is rewritten: its sign bit is read where ``x == 0``, so a
    NaN's sign (which no ONNX operator before opset 18's bitwise ones reads, and an x86 0/0 sets) never reaches
    the answer. A bare ``keras.ops.signbit`` of NaN would: it stays refused. So does the test below opset 11, where
    tf2onnx writes ``x == 0`` on floats as an Equal of their int32 casts (its own FIXME: -0.5 "equals" 0, and the
    argmax would see -tiny for it): the Equal then reads casts, not x."""
    from onnx import TensorProto

    def const_equal(name: str, value: float) -> bool:
        producer = ctx.get_node_by_output(name)
        if producer is None or not producer.is_const():
            return False
        import numpy as np

        values = np.asarray(producer.get_tensor_value(as_list=False))
        return values.size > 0 and bool((values == value).all())

    def other(reader: Any, name: str) -> str | None:
        inputs = list(reader.input)
        return inputs[1 - inputs.index(name)] if len(inputs) == 2 and name in inputs else None

    x = node.input[0]
    if ctx.get_dtype(x) != TensorProto.FLOAT or ctx.get_dtype(node.output[0]) != TensorProto.INT32:
        return None
    # x's own value where the argmax casts a float64 or float16 x to float32 first: x == 0 reads either
    source = ctx.get_node_by_output(x)
    zeros_of = {x} | ({source.input[0]} if source is not None and source.type == "Cast" else set())
    masks = ctx.find_output_consumers(node.output[0])
    for mask in masks:
        bits = other(mask, node.output[0])
        if mask.type != "BitwiseAnd" or bits is None or not const_equal(bits, INT32_SIGN):
            return None
        for less in ctx.find_output_consumers(mask.output[0]):
            if less.type != "Less" or list(less.input[:1]) != [mask.output[0]] or not const_equal(less.input[1], 0):
                return None
            for both in ctx.find_output_consumers(less.output[0]):
                test = other(both, less.output[0])
                equal = None if test is None else ctx.get_node_by_output(test)
                if both.type not in ("LogicalAnd", "And") or equal is None or equal.type != "Equal":
                    return None
                compared = set(equal.input)
                if not compared & zeros_of or not any(const_equal(v, 0.0) for v in compared - zeros_of):
                    return None
    return masks or None


def _zero_sign_bit(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``bitcast(x, int32) & INT32_MIN`` for Keras 3's ``keras.ops.argmax``/``argmin`` on floats, which reads the
    sign bit of x's zeros so that -0.0 ranks below 0.0: tf2onnx has no ``Bitcast`` (and ``BitwiseAnd`` only at
    opset 18), so such a model was refused ("Bitcast (x1)"; helper-195). The masked bits are written as
    ``Where(sign_bit(x), INT32_MIN, 0)``, the ``BitwiseAnd`` becoming an Identity of them: the same int32 for every
    x but NaN, whose sign the graph then never reads (:func:`_sign_bit_read_at_zero_only` proves it, else the
    node is left unconverted and refused as before)."""
    import numpy as np
    from onnx import TensorProto
    from tf2onnx import utils

    masks = _sign_bit_read_at_zero_only(ctx, node)
    if masks is None:
        raise ValueError("a Bitcast is converted only as the sign bit of float32 zeros (Keras' argmax/argmin); this "
                         "one reads the bits otherwise")
    x, scope = node.input[0], node.name
    shape = ctx.get_shape(node.output[0])

    def const(value: int) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_const"), np.array(value, dtype=np.int32)).output[0])

    negative = _sign_bit(ctx, x, TensorProto.FLOAT, shape, scope)
    node.type, node.domain = "Where", ""
    for attr in ("T", "type"):
        node.attr.pop(attr, None)
    ctx.replace_inputs(node, [negative, const(INT32_SIGN), const(0)])
    for mask in masks:  # the bits are already masked: tf2onnx maps the Identity when it reaches it
        mask.type = "Identity"
        ctx.replace_inputs(mask, [node.output[0]])


def _one_hot_of_negative_ids_off(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.one_hot`` answering a row of off values for a negative id, as TensorFlow does.

    ONNX's ``OneHot`` counts a negative index from the end: ``tf.one_hot(-1, 4)``, all zeros in TensorFlow,
    came out ``[0, 0, 0, 1]`` (2 of 4 rows wrong, helper-96). A negative id is moved to ``depth``, past the
    end, where ``OneHot`` answers off values too; then tf2onnx's own handler writes the node."""
    from onnx import TensorProto
    from tf2onnx import utils
    from tf2onnx.onnx_opset.tensor import OneHot

    ids = node.input[0]
    dtype = ctx.get_dtype(ids)
    if dtype in _SIGNED_INTEGERS:
        import numpy as np
        from onnx import helper

        shape = ctx.get_shape(ids)
        zero = ctx.make_const(utils.make_name(f"{node.name}_zero"),
                              np.array(0, dtype=helper.tensor_dtype_to_np_dtype(dtype)))
        negative = ctx.make_node("Less", [ids, zero.output[0]], op_name_scope=node.name,
                                 dtypes=[TensorProto.BOOL], shapes=[shape])
        depth = ctx.make_node("Cast", [node.input[1]], attr={"to": dtype}, op_name_scope=node.name,
                              dtypes=[dtype], shapes=[[]])
        past = ctx.make_node("Where", [negative.output[0], depth.output[0], ids], op_name_scope=node.name,
                             dtypes=[dtype], shapes=[shape])
        ctx.replace_input(node, ids, past.output[0], 0)
    version = max(int(n.split("_")[1]) for n in dir(OneHot) if n.startswith("version_")
                  and int(n.split("_")[1]) <= ctx.opset)
    getattr(OneHot, f"version_{version}")(ctx, node)
    node.domain = ""


#: TensorFlow's comparisons: what each one asks of its operands' order (``Equal`` and ``NotEqual`` ask none).
COMPARISONS = {"Equal": "", "NotEqual": "", "Greater": "Greater", "Less": "Less", "GreaterEqual": "Less",
               "LessEqual": "Greater"}


def _comparison_as_tensorflow(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``==``, ``!=``, ``>``, ``<``, ``>=`` and ``<=`` answering as TensorFlow on floats and integers at every opset.

    tf2onnx wrote three of them wrong, and convert handed the file back (helper-198, helper-202):

    * a float ``Equal``/``NotEqual`` below opset 11 as an ``Equal`` of both sides cast to int32 (ONNX ``Equal``
      takes floats from opset 11 only; tf2onnx's own FIXME): ``x == 0`` answered true for 0.5 and -0.5 and for
      NaN == NaN. It is written ``not (a < b or a > b or isnan(a) or isnan(b))``, which holds for +0 == -0 and
      inf == inf; smaller integer types are compared as int64, which holds them all.
    * ``GreaterEqual``/``LessEqual`` below opset 12 as ``not (a < b)``: true for NaN >= 1. A NaN on either side
      now makes it false.
    * ``Greater``/``Less`` (and ``GreaterEqual``/``LessEqual`` below opset 12) on integers at every opset, by
      casting both sides to float32: 16777217 > 16777216 was false, and so was any pair of int64 ids or
      timestamps apart by less than float32's step there. ONNX compares every numeric type from opset 9; the
      integers are compared as they are.

    bfloat16 is compared as float32 (which holds it); a bool or string ``Equal`` keeps tf2onnx's form."""
    from onnx import TensorProto
    from tf2onnx.onnx_opset import logical

    a, b = node.input[0], node.input[1]
    dtype = ctx.get_dtype(a)
    floats = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16)
    kind, order = node.type, COMPARISONS[node.type]
    if dtype not in (*floats, *_INTEGERS, TensorProto.BFLOAT16) or (not order and ctx.opset >= 11):
        handler = logical.Equal if not order else logical.GreaterLess if order == kind else logical.GreaterLessEqual
        _tf2onnx_handler(handler, ctx, node)
        return
    shape = ctx.get_shape(node.output[0])
    scope = node.name
    boolean = TensorProto.BOOL

    def make(op: str, inputs: list[str], out_type: int = boolean, **attr: Any) -> str:
        made = ctx.make_node(op, inputs, attr=attr or None, op_name_scope=scope, dtypes=[out_type], shapes=[shape])
        return str(made.output[0])

    if dtype == TensorProto.BFLOAT16:
        dtype = TensorProto.FLOAT
        a, b = (make("Cast", [v], dtype, to=dtype) for v in (a, b))
    elif dtype in _INTEGERS and dtype != TensorProto.UINT64:
        # both sides cast to int64, which holds every value of these: tf2onnx retypes some integers after this
        # handler has run (a while loop's counter becomes int64 beside its int32 bound), and onnxruntime refused
        # Less(int32, int64) in every Keras GRU; tf2onnx's own form had cast both sides (to float32)
        dtype = TensorProto.INT64
        a, b = (make("Cast", [v], dtype, to=dtype) for v in (a, b))
    node.domain = ""
    if order == kind:  # Greater, Less
        ctx.replace_inputs(node, [a, b])
        return
    if order and ctx.opset >= 12:
        node.type = "GreaterOrEqual" if kind == "GreaterEqual" else "LessOrEqual"
        ctx.replace_inputs(node, [a, b])
        return
    if not order and dtype not in floats:  # Equal below opset 11 takes bool, int32 and int64
        if dtype not in (TensorProto.INT32, TensorProto.INT64):
            a, b = (make("Cast", [v], TensorProto.INT64, to=TensorProto.INT64) for v in (a, b))
        node.type = "Equal" if kind == "Equal" else "Not"
        ctx.replace_inputs(node, [a, b] if kind == "Equal" else [make("Equal", [a, b])])
        return
    # unequal, or failing >= (<=): ordered the other way, or a NaN on either side (no NaN in an integer)
    against = [make(op, [a, b]) for op in ((order,) if order else ("Less", "Greater"))]
    if dtype in floats:
        against += [make("IsNaN", [a]), make("IsNaN", [b])]
    failed = against[0]
    for more in against[1:]:
        failed = make("Or", [failed, more])
    node.type = "Identity" if kind == "NotEqual" else "Not"
    ctx.replace_inputs(node, [failed])


def _integer_extremum(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.maximum``/``tf.minimum`` (and ``tf.clip_by_value``, written with them) of integers below opset 12, where
    ONNX ``Max``/``Min`` take floats only: tf2onnx cast both sides to float32 and back, so
    ``tf.minimum(x, 16777217)`` answered 16777216 and int64 values past 2**24 came back rounded (helper-202). They are
    written ``Where(a > b, a, b)`` (``<`` for the minimum); floats, and every type from opset 12, keep tf2onnx's
    ``Max``/``Min``."""
    from onnx import TensorProto
    from tf2onnx.onnx_opset import math

    a, b = node.input[0], node.input[1]
    if ctx.opset >= 12 or ctx.get_dtype(a) not in _INTEGERS:
        node.type = "Max" if node.type == "Maximum" else "Min"
        _tf2onnx_handler(math.MinMaxOp, ctx, node)
        return
    chosen = ctx.make_node("Greater" if node.type == "Maximum" else "Less", [a, b], op_name_scope=node.name,
                           dtypes=[TensorProto.BOOL], shapes=[ctx.get_shape(node.output[0])])
    node.type, node.domain = "Where", ""
    ctx.replace_inputs(node, [chosen.output[0], a, b])


def _top_k_order_type(dtype: int, opset: int) -> int | None:
    """The type onnxruntime's ``TopK`` orders a ``dtype`` in at ``opset`` that holds every value of it, or None.

    Measured on onnxruntime 1.32 (CPU): ``TopK``-1 and -10 take float, float16 and double; from opset 11 also
    int8, int16, int32, int64 and uint8, but no uint16, uint32 or uint64."""
    from onnx import TensorProto as T

    if dtype in (T.FLOAT, T.DOUBLE):
        return dtype
    if dtype in (T.FLOAT16, T.BFLOAT16):
        return T.FLOAT
    if opset >= 11:
        return dtype if dtype in (T.INT8, T.INT16, T.INT32, T.INT64, T.UINT8) else T.INT64 if dtype in (
            T.UINT16, T.UINT32) else None
    return T.DOUBLE if dtype in (T.INT8, T.INT16, T.INT32, T.UINT8, T.UINT16, T.UINT32) else None


def _top_k_refusal(dtype: int, opset: int) -> str:
    """Why ``tf.math.top_k`` on ``dtype`` at ``opset`` is refused, when :func:`_top_k_order_type` has no type."""
    from onnx import TensorProto, helper

    name = helper.tensor_dtype_to_np_dtype(dtype).name
    ask = ("Cast the input to int64 before top_k if its values stay below 2**63" if dtype == TensorProto.UINT64
           else "Ask for opset 11 or higher, or cast the input to float64 before top_k if its values stay within 2**53")
    return (f"the function calls tf.math.top_k on {name} at opset {opset}: onnxruntime's TopK takes no type there "
            f"that holds every {name} value, and tf2onnx's float32 cast rounds them past 2**24. {ask}")


def _refuse_inexact_top_k(tf: Any, concrete: Any, opset: int, framework: str) -> None:
    """Refuse ``tf.math.top_k`` on a type :func:`_top_k_exact` cannot order exactly at ``opset``, in the graph or in
    a function it calls (a ``tf.while_loop`` or ``tf.cond`` body)."""
    from tf2onnx.tf_utils import map_tf_dtype

    graph = concrete.graph.as_graph_def()
    nodes = [*graph.node, *(n for function in graph.library.function for n in function.node_def)]
    for node in nodes:
        if node.op == "TopKV2":
            dtype = map_tf_dtype(tf.dtypes.as_dtype(node.attr["T"].type))
            if _top_k_order_type(dtype, opset) is None:
                raise RefusedOutright(_top_k_refusal(dtype, opset), framework=framework)


def _top_k_exact(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.math.top_k`` (and ``keras.ops.top_k``) ordering the values as they are.

    tf2onnx cast every input but float32 to float32 and the values back (helper-202, helper-205): on int32
    2147483647 came back -2147483648, int64 ids and float64 values past float32's 2**24 came back rounded, and
    values float32 could not tell apart came out in index order. The input is ordered in its own type where
    onnxruntime's ``TopK`` takes it, else in one holding every value (int64 for uint16/uint32; float64 for
    integers of 32 bits or fewer below opset 11); int64 below opset 11 and uint64 have none, and are refused.
    ``TopK`` answers the largest first, ties in index order, as TensorFlow; the indices are int32, as TensorFlow
    gives them. Opset 9's ``TopK`` holds ``k`` as an attribute: a ``k`` computed in the graph asks for opset 10."""
    from onnx import TensorProto

    x, k = node.input[0], node.input[1]
    dtype = ctx.get_dtype(x)
    order = _top_k_order_type(dtype, ctx.opset)
    shapes = [ctx.get_shape(node.output[0]), ctx.get_shape(node.output[1])]
    if order is None:
        raise HandlerRefusal(_top_k_refusal(dtype, ctx.opset), op="TopKV2")
    if ctx.opset < 10 and not node.inputs[1].is_const():
        raise HandlerRefusal(f"the function calls tf.math.top_k with k computed in the graph at opset {ctx.opset}: "
                             f"ONNX TopK at opset {ctx.opset} needs k as a fixed attribute (it takes k as an input "
                             "from opset 10). Ask for opset 10 or higher, or give top_k a constant k", op="TopKV2")
    scope = node.name
    if order != dtype:
        x = ctx.make_node("Cast", [x], attr={"to": order}, op_name_scope=scope, dtypes=[order],
                          shapes=[ctx.get_shape(x)]).output[0]
    if ctx.opset < 10:
        inputs, attr = [x], {"k": int(node.inputs[1].get_tensor_value())}
    else:
        from tf2onnx.graph_builder import GraphBuilder

        wide = ctx.make_node("Cast", [k], attr={"to": TensorProto.INT64}, op_name_scope=scope,
                             dtypes=[TensorProto.INT64], shapes=[[]]).output[0]
        inputs, attr = [x, GraphBuilder(ctx).make_unsqueeze({"data": wide, "axes": [0]})], {}
    ctx.remove_node(node.name)
    top = ctx.make_node("TopK", inputs, attr=attr, output_count=2, op_name_scope=scope,
                        dtypes=[order, TensorProto.INT64], shapes=shapes)
    values, indices = top.output
    if order == dtype:
        ctx.make_node("Identity", [values], outputs=[node.output[0]], op_name_scope=scope, dtypes=[dtype],
                      shapes=shapes[:1])
    else:
        ctx.make_node("Cast", [values], attr={"to": dtype}, outputs=[node.output[0]], op_name_scope=scope,
                      dtypes=[dtype], shapes=shapes[:1])
    ctx.make_node("Cast", [indices], attr={"to": TensorProto.INT32}, outputs=[node.output[1]], op_name_scope=scope,
                  dtypes=[TensorProto.INT32], shapes=shapes[1:])


def _tf2onnx_handler(handler: Any, ctx: Any, node: Any) -> None:
    """Convert ``node`` with tf2onnx's own ``handler`` class, at its highest version up to the graph's opset."""
    version = max(int(n.split("_")[1]) for n in dir(handler) if n.startswith("version_")
                  and int(n.split("_")[1]) <= ctx.opset)
    getattr(handler, f"version_{version}")(ctx, node)
    node.domain = ""


def _tensorflow_nudge(low: float, high: float, bits: int, narrow: bool) -> tuple[Any, int, int, int]:
    """TensorFlow's fake quantization range, in float32 as its kernel computes it (``Nudge`` in
    fake_quant_ops_functor.h): the scale, the zero point (rounded half away from zero) and the lowest and highest
    quantized levels."""
    import numpy as np

    lowest, highest = (1 if narrow else 0), 2 ** bits - 1
    scale = (np.float32(high) - np.float32(low)) / np.float32(highest - lowest)
    from_min = np.float32(lowest) - np.float32(low) / scale
    zero = lowest if from_min < lowest else highest if from_min > highest else int(np.floor(abs(from_min) + 0.5))
    return scale, zero, lowest, highest


def _fake_quant_as_tensorflow(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.quantization.fake_quant_with_min_max_args`` and ``..._vars`` (constant range) as ONNX ``QuantizeLinear``
    and ``DequantizeLinear`` with TensorFlow's zero point and range.

    tf2onnx rounds ``-min / scale`` in double, half to even: for [-2, 2] it took 128 where TensorFlow, in float32,
    takes 127, so the file's range was one step lower and every value at or past its ends was a step off (0.0157
    on 716 of 16000 values; 20 of 64 rows off after a MatMul; helper-261). A narrow range or fewer than 8 bits, which
    tf2onnx refused, clamps to TensorFlow's range before quantizing."""
    import numpy as np
    from onnx import TensorProto
    from tf2onnx import utils

    if node.type == "FakeQuantWithMinMaxVars":
        if not (node.inputs[1].is_const() and node.inputs[2].is_const()):
            raise HandlerRefusal("the function calls tf.quantization.fake_quant_with_min_max_vars with a range "
                                 "computed in the graph: ONNX's QuantizeLinear takes a constant one. Pass min and "
                                 "max as constants or variables", op=node.type)
        low = float(node.inputs[1].get_tensor_value())
        high = float(node.inputs[2].get_tensor_value())
    else:
        low, high = node.get_attr("min").f, node.get_attr("max").f
    bits, narrow = node.get_attr("num_bits").i, bool(node.get_attr("narrow_range").i)
    if not 2 <= bits <= 8:
        raise HandlerRefusal(f"the function fake-quantizes to {bits} bits: ONNX's QuantizeLinear holds 8 (uint8) at "
                             "the opsets tf2onnx writes. Quantize to 8 bits or fewer", op=node.type)
    scale, zero, lowest, highest = _tensorflow_nudge(low, high, bits, narrow)
    scope = node.name
    source = node.input[0]
    dtype = ctx.get_dtype(source)
    shape = ctx.get_shape(source)
    if narrow or bits < 8:
        ends = [np.array((level - zero) * scale, dtype=np.float32) for level in (lowest, highest)]
        raised = ctx.make_node("Max", [source, ctx.make_const(utils.make_name(f"{scope}_lowest"), ends[0]).output[0]],
                               op_name_scope=scope, shapes=[shape], dtypes=[dtype])
        source = ctx.make_node("Min", [raised.output[0],
                                       ctx.make_const(utils.make_name(f"{scope}_highest"), ends[1]).output[0]],
                               op_name_scope=scope, shapes=[shape], dtypes=[dtype]).output[0]
    step = ctx.make_const(utils.make_name(f"{scope}_scale"), np.array(scale, dtype=np.float32)).output[0]
    point = ctx.make_const(utils.make_name(f"{scope}_zero_point"), np.array(zero, dtype=np.uint8)).output[0]
    quantized = ctx.make_node("QuantizeLinear", [source, step, point], op_name_scope=scope, shapes=[shape],
                              dtypes=[TensorProto.UINT8])
    output = node.output[0]
    ctx.remove_node(node.name)
    ctx.make_node("DequantizeLinear", [quantized.output[0], step, point], outputs=[output], op_name_scope=scope,
                  shapes=[shape], dtypes=[dtype])


def _select_as_where(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.where(c, a, b)`` on floats as ONNX ``Where``, which takes the chosen value only.

    For speed tf2onnx writes it as ``c * a + (1 - c) * b`` unless it sees a NaN coming: an infinity or NaN
    in the branch not taken then poisons the answer. ``tf.where(x != 0, 1 / x, 0)`` answered NaN at 0 where
    TensorFlow answers 0, and an ELU-style ``where(y > 0, y, exp(y) - 1)`` NaN at 100 (helper-96). Integers
    keep tf2onnx's form, which is exact for them."""
    from onnx import TensorProto
    from tf2onnx.onnx_opset.controlflow import Select

    if ctx.get_dtype(node.output[0]) in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16,
                                          TensorProto.BFLOAT16):
        node.set_attr("handles_nan", True)
    Select.version_9(ctx, node)
    node.domain = ""


_SIGNED_INTEGERS = (3, 5, 6, 7)  # TensorProto's INT8, INT16, INT32, INT64
_INTEGERS = (*_SIGNED_INTEGERS, 2, 4, 12, 13)  # and UINT8, UINT16, UINT32, UINT64


def _floor_division(ctx: Any, node: Any, kind: str) -> None:
    """``FloorDiv`` and ``FloorMod`` rounding the quotient down, as TensorFlow does, for integers too.

    tf2onnx writes an integer FloorDiv as ONNX ``Div``, which rounds toward zero: ``floordiv(-7, 3)`` gave -2
    where TensorFlow gives -3, and FloorMod (``x - div(x, y) * y``) -1 where TensorFlow gives 2 (160 to 170 of
    200 rows of integers in [-100, 100] wrong; found by helper-82). Here
    the truncated quotient is moved down by one where the remainder is not zero and its sign differs from
    the divisor's. Floats keep tf2onnx's ``Floor(Div)`` and ``x - Floor(Div) * y``."""
    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils

    x, y = node.input[0], node.input[1]
    dtype = ctx.get_dtype(x)
    shape = ctx.get_shape(node.output[0])
    scope = node.name

    def make(op: str, inputs: list[str], out_type: int = dtype, **attr: Any) -> str:
        made = ctx.make_node(op, inputs, attr=attr or None, op_name_scope=scope, dtypes=[out_type], shapes=[shape])
        return str(made.output[0])

    numbers = helper.tensor_dtype_to_np_dtype(dtype)

    def const(value: int) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_int"), np.array(value, dtype=numbers)).output[0])

    divisor = y
    if dtype in _SIGNED_INTEGERS:
        # the lowest integer over -1 overflows: TensorFlow answers the lowest integer, onnxruntime's Div traps
        # (SIGFPE: validate's process died on one such row; helper-114). It is divided by 1 instead
        overflow = make("And", [make("Equal", [x, const(int(np.iinfo(numbers).min))], TensorProto.BOOL),
                                make("Equal", [y, const(-1)], TensorProto.BOOL)], TensorProto.BOOL)
        divisor = make("Where", [overflow, const(1), y])
    quotient = make("Div", [x, divisor])
    if dtype in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16):
        floored = make("Floor", [quotient])
        if kind == "div":
            node.type, node.domain = "Identity", ""
            ctx.replace_inputs(node, [floored])
            return
        node.type, node.domain = "Sub", ""
        ctx.replace_inputs(node, [x, make("Mul", [floored, y])])
        return
    remainder = make("Sub", [x, make("Mul", [quotient, y])])
    if dtype not in _SIGNED_INTEGERS:  # unsigned: truncating is rounding down
        node.type, node.domain = "Identity", ""
        ctx.replace_inputs(node, [quotient if kind == "div" else remainder])
        return
    zero = const(0)
    boolean = TensorProto.BOOL
    inexact = make("Not", [make("Equal", [remainder, zero], boolean)], boolean)
    signs_differ = make("Xor", [make("Less", [remainder, zero], boolean), make("Less", [y, zero], boolean)], boolean)
    down = make("And", [inexact, signs_differ], boolean)
    if kind == "div":
        node.type, node.domain = "Sub", ""
        ctx.replace_inputs(node, [quotient, make("Cast", [down], to=dtype)])
        return
    node.type, node.domain = "Where", ""
    ctx.replace_inputs(node, [down, make("Add", [remainder, y]), remainder])


def _erfc_as_one_minus_erf(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils

    x = node.input[0]
    dtype = ctx.get_dtype(x)
    shape = ctx.get_shape(x)
    if dtype in (TensorProto.FLOAT, TensorProto.DOUBLE):
        # onnxruntime implements Erf for float32 only: a double Erf is written as its double formula after the
        # conversion (onnxgate._graph.double_erf, run by convert_traced), where a Cast to float32 and back held a
        # float64 model's erfc to float32's precision (5.5e-8 off TensorFlow at x = -0.6)
        erf = ctx.make_node("Erf", [x], op_name_scope=node.name, dtypes=[dtype], shapes=[shape])
    else:
        # float16: compute it in float32 and cast back
        down = ctx.make_node("Cast", [x], attr={"to": TensorProto.FLOAT}, op_name_scope=node.name,
                             dtypes=[TensorProto.FLOAT], shapes=[shape])
        inner = ctx.make_node("Erf", [down.output[0]], op_name_scope=node.name, dtypes=[TensorProto.FLOAT],
                              shapes=[shape])
        erf = ctx.make_node("Cast", [inner.output[0]], attr={"to": dtype}, op_name_scope=node.name,
                            dtypes=[dtype], shapes=[shape])
    one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=helper.tensor_dtype_to_np_dtype(dtype)))
    node.type = "Sub"
    node.domain = ""
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])


def _log_in_its_own_type(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.math.log`` as ONNX's ``Log`` of the tensor's own type. tf2onnx 1.17 casts a float64 Log's input to
    float32 and the result back (its ``DirectOp.version_6``: "ORT doesn't implement Log on doubles"; onnxruntime
    1.32 does, at every opset tf2onnx writes), so a float64 model's ``log`` and ``reduce_logsumexp`` were
    float32's: 3.3e-8 relative off TensorFlow, which float64's parity tolerance (rtol 1e-6) let pass, and ``-inf``
    for ``log(1e-300)`` (TensorFlow: -690.8), which it did not."""
    node.domain = ""


def _log1p_expm1(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``log1p(x)`` and ``expm1(x)`` in Log, Exp and arithmetic, as precise near 0 as TensorFlow's.

    tf2onnx has no mapping for either, so a model holding one was refused (helper-171). ``log(1 + x)`` and
    ``exp(x) - 1`` would lose every digit for |x| below float32's epsilon, and most of them near it: Kahan's
    forms keep them (:func:`onnxgate._graph.exact_log1p`, :func:`onnxgate._graph.exact_expm1`; the PyTorch
    exporters' log1p and expm1 are written with the same). A NaN makes every branch NaN, as in TensorFlow."""
    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils

    from onnxgate._graph import exact_expm1, exact_log1p

    x = node.input[0]
    dtype = ctx.get_dtype(x)
    shape = ctx.get_shape(x)
    scope = node.name

    def make(op: str, *inputs: str) -> str:
        out_type = TensorProto.BOOL if op in ("Less", "Greater", "Or", "Not") else dtype
        return str(ctx.make_node(op, list(inputs), op_name_scope=scope, dtypes=[out_type],
                                 shapes=[shape]).output[0])

    def const(value: float) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_constant"),
                                  np.array(value, dtype=helper.tensor_dtype_to_np_dtype(dtype))).output[0])

    result = (exact_log1p if node.type == "Log1p" else exact_expm1)(x, make, const)
    node.type = "Identity"
    node.domain = ""
    ctx.replace_inputs(node, [result])


def _x_times_or_over_y(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.math.xlogy``, ``tf.math.xlog1py`` and ``tf.math.xdivy``: 0 where x is 0 (whatever y is: ``xlogy(0, 0)``
    and ``xdivy(0, 0)`` are 0, as ``xlogy(0, nan)``), else ``x * log(y)``, ``x * log1p(y)`` (Kahan's form,
    :func:`onnxgate._graph.exact_log1p`) or ``x / y``; a NaN x gives NaN. tf2onnx has no mapping for any of them,
    so a model holding one was refused. "x is 0" is written ``not (x < 0 or x > 0 or isnan(x))``: ONNX's ``Equal``
    takes floats from opset 11 only, and every operator here has float and double kernels in onnxruntime."""
    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils

    from onnxgate._graph import exact_log1p

    x, y = node.input[0], node.input[1]
    dtype = ctx.get_dtype(node.output[0])
    shape = ctx.get_shape(node.output[0])
    scope = node.name
    boolean = TensorProto.BOOL

    def make(op: str, *inputs: str) -> str:
        out_type = boolean if op in ("Less", "Greater", "Or", "Not", "IsNaN") else dtype
        return str(ctx.make_node(op, list(inputs), op_name_scope=scope, dtypes=[out_type],
                                 shapes=[shape]).output[0])

    def const(value: float) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_constant"),
                                  np.array(value, dtype=helper.tensor_dtype_to_np_dtype(dtype))).output[0])

    zero = const(0.0)
    if node.type == "Xdivy":
        formula = make("Div", x, y)
    else:
        formula = make("Mul", x, make("Log", y) if node.type == "Xlogy" else exact_log1p(y, make, const))
    kept = make("Or", make("Or", make("Less", x, zero), make("Greater", x, zero)), make("IsNaN", x))
    node.type, node.domain = "Where", ""
    ctx.replace_inputs(node, [kept, formula, zero])


def _truncate_mod(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.truncatemod(x, y)`` (``tf.raw_ops.TruncateMod``): the remainder with x's sign, as C's ``%`` and
    ``fmod`` (``truncatemod(-7, 3)`` is -1, where ``floormod`` answers 2). tf2onnx has no mapping for it, so a
    model holding one was refused. It is ONNX's ``Mod`` with ``fmod=1`` (opset 10): onnxruntime computes floats
    with ``std::fmod``, the function TensorFlow's kernel calls (a zero divisor gives NaN), and integers exactly (past
    2**53 in int64; the lowest integer mod -1 is 0); an integer zero divisor is an error in both, as in
    TensorFlow ("Integer modulo by zero")."""
    if ctx.opset < 10:
        raise HandlerRefusal(f"tf.truncatemod ({node.name}) is written as ONNX's Mod, from opset 10 on, but opset "
                             f"{ctx.opset} was asked for: ask for opset 10 or above", op=node.type)
    node.type, node.domain = "Mod", ""
    node.set_attr("fmod", 1)


def _cumulative_logsumexp(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``tf.math.cumulative_logsumexp(x, axis, exclusive, reverse)``: an ONNX ``Scan`` along the axis (every
    flag), whose step is TensorFlow's own reduction of a running value ``s`` and the next element ``v``:
    ``max + log1p(exp(min - max))``, or ``max`` where it is -inf. tf2onnx has no mapping for it, so a model
    holding one was refused.

    Not ``m + log(cumsum(exp(x - m)))`` with m the maximum along the axis (ONNX's ``CumSum``): a prefix more than
    ~87 (float32) or ~708 (float64) below the axis' maximum underflows to -inf there, where TensorFlow answers it
    (``cumulative_logsumexp([-1000, 0, 1000])`` starts at -1000). An exclusive scan starts from -inf. The axis
    must be a constant and the input's rank known.

    A NaN is taken as TensorFlow's installed kernel takes it (:func:`_logsumexp_scan_skips_nan`): TensorFlow 2.21's
    max and min are C++'s ``a < b ? b : a``, which keep the running value against a NaN, so the step adds log 2
    to it (``[1, nan, 2]`` answers 1, 1.69, 2.55; a leading NaN answers -inf), and the file's ``Max``/``Min``, which
    onnxruntime makes NaN, had answered NaN for the rest of the row (parity failed a file TensorFlow answered
    finite values for). Those comparisons are written as ``Where(Less)``; a TensorFlow whose kernel answers NaN
    (newer sources do) keeps ``Max``/``Min``."""
    import numpy as np
    from onnx import TensorProto, helper
    from tf2onnx import utils

    from onnxgate._graph import exact_log1p

    x = node.input[0]
    dtype = ctx.get_dtype(x)
    rank = ctx.get_rank(x)
    axis_node = node.inputs[1]
    # tf2onnx declares an input of unknown rank (tf.TensorSpec(None)) as a scalar: rank 0
    if not rank or not axis_node.is_const() or not -rank <= int(axis_node.get_tensor_value()) < rank:
        raise HandlerRefusal(f"tf.math.cumulative_logsumexp ({node.name}) is written for an input of known rank "
                             "along a constant axis: give the input a shape of known rank (an input_signature) and "
                             "a Python int axis", op=node.type)
    if ctx.opset < 10:
        raise HandlerRefusal(f"tf.math.cumulative_logsumexp ({node.name}) is written with ONNX's Slice on inputs, "
                             f"from opset 10 on, but opset {ctx.opset} was asked for: ask for opset 10 or above",
                             op=node.type)
    axis = int(axis_node.get_tensor_value())
    axis = axis + rank if axis < 0 else axis
    reverse = 1 if node.get_attr_value("reverse") else 0
    exclusive = bool(node.get_attr_value("exclusive"))
    kind = helper.tensor_dtype_to_np_dtype(dtype)
    shape = ctx.get_shape(x)
    rest = None if shape is None else [d for i, d in enumerate(shape) if i != axis]
    scope = node.name
    int64 = TensorProto.INT64

    def const_in(graph: Any, value: Any, of: Any = kind) -> str:
        return str(graph.make_const(utils.make_name(f"{scope}_constant"), np.array(value, dtype=of)).output[0])

    # the running value starts at -inf, shaped as x without the axis
    full = ctx.make_node("Shape", [x], op_name_scope=scope, dtypes=[int64]).output[0]
    ends = np.iinfo(np.int64).max
    before = ctx.make_node("Slice", [full, const_in(ctx, [0], np.int64), const_in(ctx, [axis], np.int64)],
                           op_name_scope=scope, dtypes=[int64]).output[0]
    after = ctx.make_node("Slice", [full, const_in(ctx, [axis + 1], np.int64), const_in(ctx, [ends], np.int64)],
                          op_name_scope=scope, dtypes=[int64]).output[0]
    rest_shape = ctx.make_node("Concat", [before, after], attr={"axis": 0}, op_name_scope=scope,
                               dtypes=[int64]).output[0]
    start = ctx.make_node("ConstantOfShape", [rest_shape], attr={"value": helper.make_tensor(
        "value", dtype, [1], [-np.inf])}, op_name_scope=scope, dtypes=[dtype], shapes=[rest]).output[0]

    body = ctx.create_new_graph_with_same_config()
    body.parent_graph = ctx
    running, element = utils.make_name(f"{scope}_running"), utils.make_name(f"{scope}_element")
    body.add_graph_input(running, dtype, rest)
    body.add_graph_input(element, dtype, rest)

    def make(op: str, *inputs: str) -> str:
        out_type = TensorProto.BOOL if op in ("Less", "Greater", "Or", "Not") else dtype
        return str(body.make_node(op, list(inputs), op_name_scope=scope, dtypes=[out_type],
                                  shapes=[rest]).output[0])

    def const(value: float) -> str:
        return const_in(body, value)

    if _logsumexp_scan_skips_nan():
        high = make("Where", make("Less", running, element), element, running)
        low = make("Where", make("Less", element, running), element, running)
    else:
        high, low = make("Max", running, element), make("Min", running, element)
    summed = make("Add", high, exact_log1p(make("Exp", make("Sub", low, high)), make, const))
    updated = make("Where", make("Less", high, const(float(np.finfo(kind).min))), high, summed)
    emitted = make("Identity", running if exclusive else updated)
    body.add_graph_output(updated, dtype, rest)
    body.add_graph_output(emitted, dtype, rest)

    scan = ctx.make_node("Scan", [start, x], attr={
        "num_scan_inputs": 1, "scan_input_axes": [axis], "scan_input_directions": [reverse],
        "scan_output_axes": [axis], "scan_output_directions": [reverse]}, output_count=2, op_name_scope=scope,
        dtypes=[dtype, dtype], shapes=[rest, shape])
    scan.set_body_graph_as_attr("body", body)
    node.type, node.domain = "Identity", ""
    ctx.replace_inputs(node, [scan.output[1]])


@functools.cache
def _logsumexp_scan_skips_nan() -> bool:
    """Whether the installed TensorFlow's ``cumulative_logsumexp`` keeps a running value finite past a NaN
    (:func:`_cumulative_logsumexp`): asked of its kernel once, in a graph of its own (the handler runs while
    tf2onnx holds a graph as the default, where nothing runs eagerly)."""
    import numpy as np
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        scanned = tf.math.cumulative_logsumexp(tf.constant([1.0, np.nan], dtype=tf.float64))
        with tf.compat.v1.Session(graph=graph) as session:
            answer = session.run(scanned)
    return not bool(np.isnan(answer[1]))


def _bucketize_as_count(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
    """``Bucketize(x, boundaries)``: the number of boundaries at or below x, as TensorFlow's int32.

    tf2onnx has no mapping, so a Keras ``Discretization`` layer was refused (helper-174). TensorFlow takes
    ``std::upper_bound`` over the sorted float32 boundaries: x equal to a boundary is in the bucket above it,
    NaN and +inf in the last (``len(boundaries)``), -inf in the first. Written as
    ``ReduceSum(Not(x < boundaries))`` over x flattened to a column, reshaped to x's shape (``not <`` counts a
    NaN as at or above every boundary, as upper_bound does). The comparison is C++'s: a float64 x against
    the float32 boundaries widened, an int32/int64 x converted to float32 (33554435 is then 33554436, at or
    above a boundary of 33554436, as in TensorFlow)."""
    import numpy as np
    from onnx import TensorProto, numpy_helper
    from tf2onnx import utils
    from tf2onnx.graph_builder import GraphBuilder

    x = node.input[0]
    dtype = ctx.get_dtype(x)
    scope = node.name
    boundaries = np.array(node.get_attr_value("boundaries", []), dtype=np.float32)
    int32 = TensorProto.INT32

    def make(op: str, inputs: list[str], out_type: int, shape: Any = None, **attr: Any) -> str:
        made = ctx.make_node(op, inputs, attr=attr or None, op_name_scope=scope, dtypes=[out_type], shapes=[shape])
        return str(made.output[0])

    def const(value: Any) -> str:
        return str(ctx.make_const(utils.make_name(f"{scope}_const"), value).output[0])

    shape_of_x = make("Shape", [x], TensorProto.INT64, [-1])
    if boundaries.size == 0:  # every x is in bucket 0
        node.type, node.domain = "ConstantOfShape", ""
        node.set_attr("value", numpy_helper.from_array(np.array([0], dtype=np.int32)))
        ctx.replace_inputs(node, [shape_of_x])
        return
    bounds: Any = boundaries.astype(np.float64) if dtype == TensorProto.DOUBLE else boundaries
    compared = x
    if dtype not in (TensorProto.FLOAT, TensorProto.DOUBLE):  # integers: C++ compares int < float in float
        compared = make("Cast", [x], TensorProto.FLOAT, ctx.get_shape(x), to=TensorProto.FLOAT)
    column = make("Reshape", [compared, const(np.array([-1, 1], dtype=np.int64))], ctx.get_dtype(compared), [-1, 1])
    below = make("Less", [column, const(bounds)], TensorProto.BOOL, [-1, boundaries.size])
    at_or_above = make("Not", [below], TensorProto.BOOL, [-1, boundaries.size])
    ones = make("Cast", [at_or_above], int32, [-1, boundaries.size], to=int32)
    count = GraphBuilder(ctx).make_reduce_sum({"data": ones, "axes": [1], "keepdims": 0}, op_name_scope=scope,
                                              dtypes=[int32], shapes=[[-1]])
    node.type, node.domain = "Reshape", ""
    ctx.replace_inputs(node, [count, shape_of_x])


def _lookup_tables(tf: Any, concrete: Any) -> dict[str, tuple[Any, Any]]:
    """``{placeholder name: (keys, values)}`` of the tables the function captured and looks up in (a Keras lookup
    layer's table), read now.

    Freezing leaves each captured resource as a ``Placeholder`` named as the capture, without its contents; the
    handle outside the function still reads them (``LookupTableExportV2``, here, eagerly: tf2onnx converts inside
    a graph). tf2onnx's own mapping reads tables by their ``shared_name`` from ``tf2onnx.convert.from_keras``'s
    tracking only, and maps text keys only: an ``IntegerLookup`` was refused, a ``StringLookup`` converted through
    the fallback alone. The key and value types are the lookups' (a resource handle does not say them)."""
    import numpy as np

    graph = concrete.graph
    graph_def = graph.as_graph_def()  # serialises the whole graph: once
    ops = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    types = {(n.attr["Tin"].type, n.attr["Tout"].type) for n in ops if n.op == "LookupTableFindV2"}
    if not types:
        return {}
    tables: dict[str, tuple[Any, Any]] = {}
    for external, internal in getattr(graph, "captures", ()) or ():
        if getattr(external, "dtype", None) != tf.dtypes.resource:
            continue
        for key_type, value_type in sorted(types):
            try:
                with tf.device("/cpu:0"):
                    keys, values = tf.raw_ops.LookupTableExportV2(table_handle=external, Tkeys=tf.as_dtype(key_type),
                                                                  Tvalues=tf.as_dtype(value_type))
            except Exception:  # a variable, or a table of other types
                continue
            tables[internal.op.name] = (np.asarray(keys.numpy()), np.asarray(values.numpy()))
            break
    return tables


#: Where :func:`_shape_lookups` moves a table lookup, under its own name.
_FIND_SUFFIX = "/find"


def _shape_lookups(frozen: Any, concrete: Any) -> int:
    """Give each table lookup of the frozen graph its keys' shape, which TensorFlow loses once freezing turned the
    table into a placeholder: an ``EnsureShape`` (an ``Identity`` in ONNX) takes the lookup's name and
    shape, and the lookup moves to ``<name>`` + :data:`_FIND_SUFFIX`. How many were shaped.

    tf2onnx's own inference filled the gap wrongly: ``tf.where(mask, 0, lookup)`` (``IntegerLookup(mask_token=...)``)
    gave the lookup the scalar's shape, so the file declared a scalar output that validate's model_wellformed
    failed, or the model was refused ("Shapes must be equal rank, but are 0 and 2") when another ``tf.where``
    followed (``num_oov_indices`` > 1)."""
    keys = {op.name: op.inputs[1].shape for op in concrete.graph.get_operations()
            if op.type == "LookupTableFindV2" and op.inputs[1].shape.rank is not None}
    shaped = 0
    for node in list(frozen.node):
        if node.op != "LookupTableFindV2" or node.name not in keys:
            continue
        name = node.name
        node.name = f"{name}{_FIND_SUFFIX}"
        ensure = frozen.node.add()
        ensure.op, ensure.name = "EnsureShape", name
        ensure.input.append(node.name)
        ensure.attr["T"].type = node.attr["Tout"].type
        ensure.attr["shape"].shape.CopyFrom(keys[name].as_proto())
        shaped += 1
    return shaped


#: ONNX element types of a table lookup's keys and values written, with LabelEncoder's attribute suffix for each
#: (an int32 is looked up as int64: exact both ways). Text values are left to tf2onnx's from_keras path (Keras
#: models), whose file is checked against Keras with bytes read as text, as parity compares them.
_TABLE_KEYS = {8: "strings", 7: "int64s", 6: "int64s"}
_TABLE_VALUES = {7: "int64s", 6: "int64s", 1: "floats"}


def _table_lookup(tables: Mapping[str, Any] | None) -> Any:
    """A handler writing ``LookupTableFindV2(table, keys, default)`` as ``ai.onnx.ml`` ``LabelEncoder`` (opset 2,
    which tf2onnx stamps): each key found in the table answers its value, any other key the default, as the
    table's ``find`` does (``IntegerLookup``'s out-of-vocabulary index; its mask token and several OOV buckets are
    ordinary ``Equal``/``Select``/``FloorMod`` nodes around the lookup), for the key and value types of
    :data:`_TABLE_KEYS` and :data:`_TABLE_VALUES`. A table it cannot read, with keys repeated (a dense hash
    table's empty slots) or vector values raises, and the node is left for :func:`_refuse_unknown_ops` to name."""
    import numpy as np
    from onnx import TensorProto
    from tf2onnx import constants

    def handle(ctx: Any, node: Any, name: str, args: Sequence[Any]) -> None:
        table_node = node.inputs[0]
        while table_node.type == "Identity":
            table_node = table_node.inputs[0]
        table = (tables or {}).get(table_node.name)
        if table is None:
            raise ValueError(f"the table {table_node.name!r} is not one the function captured")
        key_type, value_type = ctx.get_dtype(node.input[1]), ctx.get_dtype(node.output[0])
        if key_type not in _TABLE_KEYS or value_type not in _TABLE_VALUES:
            raise ValueError(f"a lookup from ONNX type {key_type} to {value_type} is not written")
        default_node = node.inputs[2]
        if not default_node.is_const():
            raise ValueError("the lookup's default value is not a constant")
        keys, values = table
        if keys.ndim != 1 or values.shape != keys.shape or not keys.size or len(np.unique(keys)) != keys.size:
            raise ValueError(f"the table holds {keys.shape} keys and {values.shape} values, not one value per key")
        default = np.asarray(default_node.get_tensor_value(as_list=False))
        if default.size != 1:
            raise ValueError("the lookup's default is not one value")
        key_kind, value_kind = _TABLE_KEYS[key_type], _TABLE_VALUES[value_type]

        def listed(array: Any, kind: str) -> list[Any]:
            if kind == "strings":
                return [v if isinstance(v, bytes) else str(v).encode() for v in array.tolist()]
            return [int(v) for v in array.tolist()] if kind == "int64s" else [float(v) for v in array.tolist()]

        attr = {f"keys_{key_kind}": listed(keys, key_kind), f"values_{value_kind}": listed(values, value_kind),
                f"default_{value_kind[:-1]}": listed(default.reshape(1), value_kind)[0]}
        shape = ctx.get_shape(node.input[1])
        scope, outputs, source = node.name, list(node.output), node.input[1]
        ctx.remove_node(node.name)
        if key_type == TensorProto.INT32:
            source = ctx.make_node("Cast", [source], attr={"to": TensorProto.INT64}, op_name_scope=scope,
                                   dtypes=[TensorProto.INT64], shapes=[shape]).output[0]
        encoded_type = TensorProto.INT64 if value_type == TensorProto.INT32 else value_type
        encoder = ctx.make_node("LabelEncoder", [source], attr=attr, domain=constants.AI_ONNX_ML_DOMAIN,
                                op_name_scope=scope, outputs=None if encoded_type != value_type else outputs,
                                dtypes=[encoded_type], shapes=[shape])
        if encoded_type != value_type:
            ctx.make_node("Cast", [encoder.output[0]], attr={"to": value_type}, op_name_scope=scope,
                          outputs=outputs, dtypes=[value_type], shapes=[shape])
        if not ctx.find_output_consumers(table_node.output[0]):
            ctx.remove_node(table_node.name)

    return handle


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _captured_tf2onnx_log() -> Iterator[_Collect]:
    """Keep tf2onnx's log (tracebacks of ops it failed to convert) off the terminal; hand it back.

    onnxgate raises one clear error for what tf2onnx could not do, so its log lines are evidence
    for the message, not output for the user.
    """
    logger = logging.getLogger("tf2onnx")
    handler = _Collect()
    old_propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate


def _handler_refusals(handler: _Collect) -> dict[str, str]:
    """``{op: reason}`` of the :class:`HandlerRefusal` errors tf2onnx logged: why onnxgate's handler left each op."""
    refused: dict[str, str] = {}
    for record in handler.records:
        err = record.exc_info[1] if record.exc_info else None
        if isinstance(err, HandlerRefusal):
            refused.setdefault(err.op, str(err))
    return refused


def _first_errors(handler: _Collect, limit: int = 3) -> list[str]:
    lines = []
    for record in handler.records:
        if record.levelno >= logging.ERROR:
            text = record.getMessage().strip().splitlines()
            if text and text[0] not in lines:
                lines.append(text[0][:200])
        if len(lines) >= limit:
            break
    return lines


_HASH_ADVICE = ("ONNX has no such string hash: hash in the input pipeline (tf.data, or the code calling the model) and "
                "feed the bucket ids as an integer input")
_TABLE_ADVICE = ("onnxgate writes a lookup in a table the model holds, from text, int32 or int64 keys to int32, int64 "
                 "or float32 values (IntegerLookup and StringLookup convert; a Keras table answering text, "
                 "StringLookup(invert=True), through tf2onnx's from_keras); do any other lookup in the input "
                 "pipeline and feed its result as an input")
_TEXT_ADVICE = ("ONNX cannot split or standardize text as TensorFlow does: run TextVectorization in the input "
                "pipeline (tf.data, or the code calling the model) and convert the model from its tokens, "
                "keras.Input(shape=(output_sequence_length,), dtype='int64')")
_RESIZE_ADVICE = ("ONNX's Resize has no antialiasing or lanczos, gaussian or mitchellcubic kernel: use "
                  "interpolation='bilinear', 'nearest' or 'bicubic' with antialias=False")
#: TensorFlow operations tf2onnx cannot write that Keras layers and ``tf`` functions users bring compute:
#: ``{op: (Keras layer classes that compute it, what computes it and what converts instead)}``. The refusal
#: named only the op and "a tf2onnx custom op handler", neither the layer nor a way out (helper-179).
UNCONVERTED_OP_ORIGINS: dict[str, tuple[tuple[str, ...], str]] = {
    "StringToHashBucketFast": (("Hashing",), f"a Keras Hashing layer (tf.strings.to_hash_bucket_fast): {_HASH_ADVICE}"),
    "StringToHashBucketStrong": (("Hashing",), f"a Keras Hashing layer with a salt: {_HASH_ADVICE}"),
    "StringToHashBucket": (("Hashing",), f"tf.strings.to_hash_bucket: {_HASH_ADVICE}"),
    "LookupTableFindV2": (("IntegerLookup", "StringLookup", "TextVectorization"),
                          f"a Keras IntegerLookup, StringLookup or TextVectorization layer (a tf.lookup table): "
                          f"{_TABLE_ADVICE}"),
    "StaticRegexReplace": (("TextVectorization",), f"a Keras TextVectorization layer (tf.strings.regex_replace): "
                                                   f"{_TEXT_ADVICE}"),
    "RegexReplace": (("TextVectorization",), f"tf.strings.regex_replace: {_TEXT_ADVICE}"),
    "StringSplitV2": (("TextVectorization",), f"a Keras TextVectorization layer (tf.strings.split): {_TEXT_ADVICE}"),
    "StringLower": (("TextVectorization",), f"tf.strings.lower: {_TEXT_ADVICE}"),
    "StringNGrams": (("TextVectorization",), f"a Keras TextVectorization layer with ngrams: {_TEXT_ADVICE}"),
    "ScaleAndTranslate": (("Resizing",), "a Keras Resizing layer or tf.image.resize with antialias=True or "
                                         f"interpolation 'lanczos3', 'lanczos5', 'gaussian' or 'mitchellcubic': "
                                         f"{_RESIZE_ADVICE}"),
}


def _refuse_unknown_ops(proto: onnx.ModelProto, framework: str, reasons: Sequence[str] = (),
                        refused: Mapping[str, str] | None = None) -> None:
    """tf2onnx keeps ops it cannot map (continue_on_error); list them all instead of returning the graph, and say
    what computes the ones users meet (:data:`UNCONVERTED_OP_ORIGINS`) and what converts instead. An op
    onnxgate's own handler refused (``refused``, from :func:`_handler_refusals`) is refused with its reason: at
    opset 9 a ``tf.math.top_k`` with k computed in the graph was "tf2onnx could not convert ... TopKV2 ... register
    a tf2onnx custom op handler", where the fix is an opset."""
    from onnx import defs

    from onnxgate._onnx import node_subgraphs

    custom = {entry.domain for entry in proto.functions} if proto.functions else set()
    bad: dict[str, int] = {}

    def visit(graph: Any) -> None:
        for node in graph.node:
            domain = node.domain or ""
            known = domain in custom or (
                domain in STANDARD_DOMAINS and (domain == "com.microsoft" or defs.has(node.op_type, domain))
            )
            if not known:
                label = node.op_type if domain in ("", "ai.onnx") else f"{domain}:{node.op_type}"
                bad[label] = bad.get(label, 0) + 1
            for _, sub in node_subgraphs(node):
                visit(sub)

    visit(proto.graph)
    own = [reason for op, reason in sorted((refused or {}).items()) if op in bad]
    if own:  # the handler is onnxgate's on every path (from_keras too): no other path writes the op
        raise RefusedOutright(". ".join(own), framework=framework,
                              unconverted=", ".join(f"{op} (x{count})" for op, count in sorted(bad.items())))
    if bad:
        listing = ", ".join(f"{op} (x{count})" for op, count in sorted(bad.items()))
        said = [f"{op} comes from {UNCONVERTED_OP_ORIGINS[op][1]}." for op in sorted(bad)
                if op in UNCONVERTED_OP_ORIGINS]
        if len(said) < len(bad):
            said.append("Rewrite that part of the model with supported operations, or register a tf2onnx custom op "
                        "handler.")
        if reasons:
            said.append(f"tf2onnx said: {' | '.join(reasons)}")
        raise UnsupportedModelError(
            f"tf2onnx could not convert these TensorFlow operations and left them in the graph: {listing}. "
            + " ".join(said),
            framework=framework,
            unconverted=listing,
        )


def _output_shapes_from_tensorflow(proto: onnx.ModelProto, shapes: Mapping[str, Any]) -> None:
    """Give a graph output tf2onnx left without a shape the one TensorFlow traced (unknown axes free; the ONNX
    checker refuses an output without a shape). ``tf.einsum("bi,ij,bj->b", ...)`` at opset 13: tf2onnx's
    reshapes hid the rank from shape inference, the raw file ran and was right, and onnxgate refused it
    (found by helper-82). Where TensorFlow traced no rank either (a Keras ``StringLookup``'s table lookup),
    the shape ONNX shape inference gives it, when it gives one (helper-96)."""
    unshaped = []
    for output in proto.graph.output:
        shape = shapes.get(output.name)
        if not output.type.HasField("tensor_type") or output.type.tensor_type.HasField("shape"):
            continue
        if shape is None or shape.rank is None:
            unshaped.append(output)
            continue
        target = output.type.tensor_type.shape
        target.SetInParent()  # an empty shape is a scalar's
        for size in shape.as_list():
            dim = target.dim.add()
            if size is not None:
                dim.dim_value = int(size)
    if unshaped:
        import onnx

        try:
            inferred = {o.name: o for o in onnx.shape_inference.infer_shapes(proto).graph.output}
        except Exception:
            return
        for output in unshaped:
            found = inferred.get(output.name)
            if found is not None and found.type.tensor_type.HasField("shape"):
                output.type.tensor_type.shape.CopyFrom(found.type.tensor_type.shape)


def _name_batch_axis(proto: onnx.ModelProto) -> None:
    """Give every input's and output's leading unknown axis the one name ``N`` (tf2onnx writes unk__<n>)."""
    inputs = {i.name for i in proto.graph.initializer}
    for value in [*(v for v in proto.graph.input if v.name not in inputs), *proto.graph.output]:
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if not dims:
            continue
        first = dims[0]
        if first.HasField("dim_value"):
            continue
        if not first.dim_param or first.dim_param.startswith("unk__"):
            first.dim_param = BATCH_DIM


def _is_saved_model_dir(obj: Any) -> bool:
    if isinstance(obj, SavedModelFolder):
        return True
    if isinstance(obj, (str, os.PathLike)):
        try:
            return (Path(obj) / SAVED_MODEL_FILE).is_file()
        except (OSError, ValueError):
            return False
    return False


class TensorFlowConverter(Converter):
    framework = "tensorflow"
    MODULE_PREFIXES = ("tensorflow.",)
    DEFAULT_OPSET = 17
    MIN_OPSET = 9
    MAX_OPSET = TF2ONNX_MAX_OPSET
    FILE_SUFFIXES = ("/",)

    def claims_folder(self, path: Path) -> bool:
        return (path / SAVED_MODEL_FILE).is_file()

    def matches(self, model: Any) -> bool:
        return _is_saved_model_dir(model) or super().matches(model)

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        """A SavedModel folder, read lazily. SavedModels hold graphs, not Python code: no pickle."""
        path = Path(path)
        if not (path / SAVED_MODEL_FILE).is_file():
            raise UnsupportedModelError(
                f"expected a TensorFlow SavedModel folder (one holding {SAVED_MODEL_FILE}), found {str(path)!r}",
                framework=self.framework,
                path=str(path),
            )
        return SavedModelFolder(path)

    def save_native(self, model: Any, folder: Path) -> Path:
        """``tf.saved_model.save`` into ``folder/"saved_model"``, with a serving signature named as in ONNX."""
        tf = _tensorflow()
        traced = self.traced(model, None)
        target = Path(folder) / "saved_model"
        obj = self._restorable(model)
        specs = [
            tf.TensorSpec(s.shape, s.dtype, name=n) for n, s in zip(traced.input_names, traced.input_specs)
        ]
        outs = list(traced.output_names)

        # A serving function keyed by the ONNX names, so the folder converts back to the same names.
        @tf.function(input_signature=specs, autograph=False)
        def serve(*args: Any) -> dict[str, Any]:
            return dict(zip(outs, traced.call(list(args))))

        tf.saved_model.save(obj, str(target), signatures={SERVING_SIGNATURE: serve})
        return target

    def _restorable(self, model: Any) -> Any:
        tf = _tensorflow()
        if _is_saved_model_dir(model):
            folder = model if isinstance(model, SavedModelFolder) else SavedModelFolder(Path(model))
            return folder.restore()
        if isinstance(model, tf.Module):
            return model
        holder = tf.Module()
        holder.fn = model  # keeps the function's variables reachable from the saved object
        return holder

    def check_model(self, model: Any) -> None:
        if _is_saved_model_dir(model):
            return
        if not callable(model):
            methods = _tf_function_attributes(_tensorflow(), model)
            hint = ""
            if methods:
                listed = ", ".join(repr(n) for n in methods)
                hint = (f"; it is a tf.Module without __call__ whose tf.function(s) {listed} convert on their own: "
                        f"pass one, e.g. og.convert(model.{methods[0]}, sample)")
            raise UnsupportedModelError(
                f"expected a callable TensorFlow model, found {type(model).__name__}{hint}", framework=self.framework
            )

    def traced(self, model: Any, sample: Any, options: Mapping[str, Any] | None = None,
               loose: Mapping[int, Mapping[int, str]] | None = None) -> TracedFunction:
        """The model as one concrete function with its ONNX names (see the module docstring); ``loose``:
        ``{input index: {axis: name}}`` left free when a tf.function without input signature is traced."""
        options = dict(options or {})
        owner, concrete = self._concrete(model, sample, loose or {})
        traced = trace(concrete, input_names=options.get("input_names"), output_names=options.get("output_names"))
        traced.owner = owner
        return traced

    def _concrete(self, model: Any, sample: Any, loose: Mapping[int, Mapping[int, str]]) -> tuple[Any, Any]:
        """``(owner, concrete function)``: the object holding the variables, and the function to convert."""
        tf = _tensorflow()
        if _is_saved_model_dir(model):
            folder = model if isinstance(model, SavedModelFolder) else SavedModelFolder(Path(model))
            model = folder.restore()
        signatures = getattr(model, "signatures", None)
        if signatures is not None and len(signatures):
            if SERVING_SIGNATURE in signatures:
                return model, signatures[SERVING_SIGNATURE]
            if len(signatures) == 1:
                return model, next(iter(signatures.values()))
            raise UnsupportedModelError(
                f"the SavedModel has several signatures {sorted(signatures)} and none named "
                f"{SERVING_SIGNATURE!r}; save it with signatures={{'{SERVING_SIGNATURE}': fn}}",
                framework=self.framework,
            )
        fn = model
        if not hasattr(fn, "get_concrete_function") and not hasattr(fn, "structured_input_signature"):
            fn = model.__call__ if callable(model) else None
        if hasattr(fn, "structured_input_signature") and not hasattr(fn, "get_concrete_function"):
            return model, fn  # already a concrete function
        if fn is None or not hasattr(fn, "get_concrete_function"):
            raise UnsupportedModelError(
                f"expected a tf.Module whose __call__ is a tf.function, a tf.function or a concrete function; "
                f"found {type(model).__name__} whose __call__ is not a tf.function. Decorate it with "
                "@tf.function(input_signature=[tf.TensorSpec([None, n_features], tf.float32)]).",
                framework=self.framework,
            )
        if getattr(fn, "input_signature", None) is not None:
            return model, fn.get_concrete_function()
        if sample is None:
            raise InvalidDataError(
                "the tf.function has no input_signature, so a sample is needed to fix the input shapes; "
                "pass convert(model, X[:5]) (CLI: --sample FILE) or give the function an input_signature",
                framework=self.framework,
            )
        import numpy as np

        arrays = sample if isinstance(sample, (tuple, list)) else [sample]
        specs = []
        for index, array in enumerate(arrays):
            a = np.asarray(array)
            dtype = tf.float32 if a.dtype == np.float64 else tf.as_dtype(a.dtype)
            free = loose.get(index, {})
            specs.append(tf.TensorSpec([None, *(None if k in free else d for k, d in enumerate(a.shape) if k)], dtype))
        if not loose:
            return model, fn.get_concrete_function(*specs)
        try:
            return model, fn.get_concrete_function(*specs)
        except Exception as err:
            text = str(err).strip().splitlines()
            named = ", ".join(f"axis {k} ({n!r}) of input {i}" for i, free in loose.items() for k, n in free.items())
            raise UnsupportedModelError(
                f"options['dynamic_axes']: the tf.function cannot be traced with {named} of unknown size: "
                f"{type(err).__name__}: {text[0][:200] if text else ''}. The function reads that length as a Python "
                "number (x.shape[1], a Python loop over the steps): use tf.shape(x)[1] and tf.range, or leave the "
                "axis out of dynamic_axes",
                framework=self.framework,
            ) from err

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
        options = dict(options)
        unknown = sorted(set(options) - {"input_names", "output_names", "dynamic_axes"})
        if unknown:
            raise UnsupportedModelError(
                f"unknown TensorFlow conversion options {unknown}; known options are 'input_names', "
                "'output_names', 'dynamic_axes'",
                framework=self.framework,
            )
        traced = self.traced(model, sample, options)
        axes = {}
        if options.get("dynamic_axes") is not None:
            if sample is None:
                raise InvalidDataError(
                    "options['dynamic_axes'] is proved on the sample: pass convert(model, X[:5]) (CLI: --sample FILE)",
                    framework=self.framework,
                )
            arrays = split_sample(sample, traced.input_names, traced.input_specs, self.framework)
            axes = parse_dynamic_axes(options["dynamic_axes"], traced.input_names, [a.shape for a in arrays],
                                      self.framework)
            if axes:
                traced = self.traced(model, sample, options, loose=axes)
                fixed_by_signature(traced.input_names, _spec_shapes(traced.input_specs), axes, self.framework,
                                   "the input signature")
        traced.check_sample(sample, self.framework)
        raw = convert_traced(traced, opset=opset, name=name, framework=self.framework, sample=sample)
        prove_traced(raw.model, traced, sample, axes, self.framework,
                     subject=str(getattr(model, '__name__', None) or type(model).__name__))
        return raw

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        import numpy as np

        tf = _tensorflow()
        traced = self._predict_cache(model, feeds)
        tensors = []
        for i, (name, spec) in enumerate(zip(traced.input_names, traced.input_specs)):
            value = feeds[name] if name in feeds else list(feeds.values())[i]
            tensors.append(tf.convert_to_tensor(np.asarray(value), dtype=spec.dtype))
        outputs = [np.asarray(r) for r in traced.call(tensors)]
        # a tuple or list of outputs is read by position: the file listing output_1 before output_0 passed,
        # matched by name (helper-136)
        positional = not isinstance(traced.concrete.structured_outputs, Mapping) and len(outputs) > 1
        return matched_outputs(traced.output_names, outputs, signature, "the TensorFlow reference",
                               positional=positional)

    def _predict_cache(self, model: Any, feeds: Mapping[str, np.ndarray]) -> TracedFunction:
        # Tracing is cheap but not free; parity calls predict once per batch.
        # a function traced from the feeds takes their shapes: another length is another trace
        key = (id(model), tuple(tuple(getattr(v, "shape", ())[1:]) for v in feeds.values()))
        cached = _TRACE_CACHE.get(key)
        if cached is not None and cached[0] is model:
            return cached[1]
        # The feeds stand in for a sample when the function has no input signature to trace from.
        values = list(feeds.values())
        traced = self.traced(model, values[0] if len(values) == 1 else values)
        _TRACE_CACHE.clear()
        _TRACE_CACHE[key] = (model, traced)
        return traced


_TRACE_CACHE: dict[tuple[int, Any], tuple[Any, TracedFunction]] = {}

"""Keras 3 converter: through a traced ``tf.function`` (TensorFlow backend) or the torch exporter.

Policy:

* The model is wrapped in ``tf.function(lambda *x: model(x, training=False), input_signature=...)``
  and that function is converted like any TensorFlow function
  (:func:`onnxgate.converters.tensorflow.convert_traced`): opsets 9 to 18. Constants the model
  captured (a Normalization layer's mean and variance) are folded into the graph; TensorFlow
  operations tf2onnx lacks but ONNX expresses (``Erfc``: exact GELU; the table lookup of an ``IntegerLookup`` or
  ``StringLookup``, read from the captured table) are rewritten.
* When that path fails, ``tf2onnx.convert.from_keras`` (which works on Keras 3 for most models) is
  tried, and its file is kept only when onnxruntime reproduces Keras on the sample; a warning says
  which path wrote the file and, briefly, why the first was not used (the operations tf2onnx left, without the
  advice a refusal gives). (``model.export(format="onnx")`` is not used: it patches tf2onnx for
  the whole process.)
* The input signature is built from ``model.inputs`` with a free batch axis. Input names are the
  Keras input names, sanitised (``keras_tensor_3`` becomes ``input``); a model without defined
  inputs (a Sequential built without ``keras.Input``) takes its shape from the sample.
* An axis beyond the batch the model's inputs leave free (``keras.Input(shape=(None, 3))``) stays dynamic,
  named ``<input>_axis<k>`` (or by ``options={"dynamic_axes": ...}``, which also frees axes of a model whose
  shape comes from the sample), and is proved on the sample one step longer and shorter against the model
  (:mod:`onnxgate.converters._tf_axes`).
* One output is called ``output``; several take the model's output names (``output_i`` where it
  has none).
* A multi-input model's sample may be a dict keyed by input name, a tuple of arrays in input order,
  or one 2-D array whose columns are split over the inputs by their widths, in input order (the
  zoo's ``keras-wine-two-input`` uses the last form, so its ``X`` slices and saves like any array).
* With the torch backend (``keras.config.backend() == "torch"``) the model is a ``torch.nn.Module``
  and goes through :func:`onnxgate.converters.pytorch.export_torch_module`, at that exporter's opsets.
* ``.keras`` files, and the legacy HDF5 ``.h5``/``.hdf5`` files ``model.save("model.h5")`` writes, load
  with ``safe_mode=True``: a file holding Python code (a ``Lambda`` layer) is refused with
  :class:`~onnxgate.errors.UntrustedFileError` unless ``trust_pickle``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate import frameworks
from onnxgate.converters._axes import parse_dynamic_axes
from onnxgate.converters._base import Converter, RawConversion, first_line
from onnxgate.converters._tf_axes import declared_axes, fixed_by_signature, prove_axes
from onnxgate.converters.tensorflow import (
    KERAS_GENERIC_INPUTS,
    TF2ONNX_MAX_OPSET,
    UNCONVERTED_OP_ORIGINS,
    RefusedOutright,
    computes_in_double,
    convert_traced,
    double_recurrences_for_target,
    refuse_without_double_kernels,
    sanitize_name,
    split_sample,
    trace,
)
from onnxgate.errors import (
    InvalidDataError,
    OpsetError,
    UnsupportedModelError,
    UntrustedFileError,
)
from onnxgate.signature import matched_outputs

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.signature import Signature

__all__ = ["KerasConverter"]

#: Words in the error Keras raises when safe_mode refuses to deserialize code.
_SAFE_MODE_MARKERS = ("safe_mode", "unsafe", "lambda")
#: Opsets with the torch backend when the PyTorch converter cannot be asked (the torch exporters' range).
TORCH_BACKEND_OPSETS = (9, 21)


def _keras() -> Any:
    return frameworks.keras("Converting a Keras model")


def _backend() -> str:
    """The Keras backend of the loaded keras (the model's), without importing keras anew."""
    keras = sys.modules.get("keras")
    if keras is None:
        return "tensorflow"
    return str(keras.config.backend())


def _model_inputs(model: Any) -> list[Any] | None:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    return list(inputs) if inputs else None


def _input_names(raw: Sequence[str]) -> list[str]:
    names = []
    for i, name in enumerate(raw):
        clean = sanitize_name(name, "")
        if not clean or clean.startswith(KERAS_GENERIC_INPUTS):
            clean = "input" if len(raw) == 1 else f"input_{i}"
        names.append(clean)
    # Two Keras inputs can sanitise to the same name ("a b" and "a_b").
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            names[i] = f"{name}_{i}"
        seen[names[i]] = i
    return names


def _key_of(model: Any, tensor: Any) -> str | None:
    """The key a model built on a dict of inputs (``keras.Model({"x1": Input(name="zz")}, ...)``) gives
    ``tensor``: what ``model.predict`` is fed by, and so the ONNX input's name (Keras refuses data keyed by
    the Input's own name there; helper-82 found a sample keyed as predict takes it refused)."""
    struct = getattr(model, "_inputs_struct", None)
    if not isinstance(struct, Mapping):
        return None
    return next((str(key) for key, value in struct.items() if value is tensor), None)


def _all_layers(model: Any) -> list[Any]:
    """The model's layers, nested models' included."""
    try:
        return list(model._flatten_layers(include_self=False)) if hasattr(model, "_flatten_layers") else []
    except Exception:
        return list(getattr(model, "layers", []) or [])


def _layer_names(model: Any) -> list[tuple[str, str]]:
    """``(name, class name)`` of the model's layers, nested models' included, not a layer's own parts (an
    ``LSTM``'s ``LSTMCell``)."""
    keras = _keras()
    layers = _all_layers(model)
    inner = {id(sub) for layer in layers if not isinstance(layer, keras.Model) for sub in _all_layers(layer)}
    return [(str(layer.name), type(layer).__name__) for layer in layers if id(layer) not in inner]


def _grouped_convolutions(model: Any) -> list[str]:
    """Names of the model's convolution layers with ``groups`` > 1, nested models included."""
    found: list[str] = []
    for layer in _all_layers(model):
        groups = getattr(layer, "groups", 1)
        if isinstance(groups, int) and groups > 1:
            found.append(str(layer.name))
    return found


def _layers_computing(model: Any, refusal: str) -> list[str]:
    """``"name (Class)"`` of the model's layers of the kinds that compute the operations a tf2onnx refusal lists
    (:data:`~onnxgate.converters.tensorflow.UNCONVERTED_OP_ORIGINS`): the refusal named TensorFlow ops only."""
    kinds = {kind for op, (classes, _) in UNCONVERTED_OP_ORIGINS.items()
             if re.search(rf"\b{op} \(x\d+\)", refusal) for kind in classes}
    found = [layer for layer in _all_layers(model) if type(layer).__name__ in kinds]
    # a TextVectorization holds a StringLookup of its own: the user's layer is the one around it
    inner = {id(sub) for layer in found for sub in _all_layers(layer)}
    return [f"{layer.name!r} ({type(layer).__name__})" for layer in found if id(layer) not in inner]


def _output_names(model: Any, count: int) -> list[str]:
    if count == 1:
        return ["output"]
    raw = list(getattr(model, "output_names", None) or [])
    if len(raw) != count:
        return [f"output_{i}" for i in range(count)]
    names = [sanitize_name(str(n), f"output_{i}") for i, n in enumerate(raw)]
    return names if len(set(names)) == len(names) else [f"output_{i}" for i in range(count)]


def _flat_outputs(model: Any, result: Any) -> tuple[list[str], list[Any]]:
    """``(names, tensors)`` of a model's call result, flattened in tf.nest/keras.tree order.

    A dict result is flattened in sorted key order and named by its keys; otherwise see
    :func:`_output_names`.
    """
    keras = _keras()
    flat = list(keras.tree.flatten(result))
    if isinstance(result, Mapping) and len(result) == len(flat):
        keys = sorted(str(k) for k in result)
        names = [sanitize_name(k, f"output_{i}") for i, k in enumerate(keys)]
        if len(set(names)) == len(names):
            return names, flat
    return _output_names(model, len(flat)), flat


def _pack(model: Any, tensors: Sequence[Any]) -> Any:
    """Arrange flat input tensors the way the model takes them (one tensor, a list, or a dict)."""
    if len(tensors) == 1:
        return tensors[0]
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, Mapping):
        keras = _keras()
        return keras.tree.pack_sequence_as(struct, list(tensors))
    return list(tensors)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Where a message's first sentence ends (``"... (x1). Hashing comes from ..."``).
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\. (?=[A-Z])")


def _call_error(err: BaseException) -> str:
    """What went wrong in a layer's call: Keras says "Exception encountered when calling Lambda.call()." on
    its first line (inside tf.function's "in user code:" too) and the cause, in bold, on a later one."""
    lines = [line.strip() for line in _ANSI.sub("", str(err)).splitlines() if line.strip()]
    for i, line in enumerate(lines):
        where = re.search(r"Exception encountered when calling (\S+?)\.?$", line)
        if where and i + 1 < len(lines):
            what = f"{lines[i + 1]} (in {where.group(1)})"
            if re.match(r"name '\w+' is not defined", lines[i + 1]) and "Lambda" in where.group(1):
                what += (". A Lambda's function loaded from a file runs without the globals of the script that "
                         "saved it: pass such values with Lambda(f, arguments={...}) or write a layer")
            return what
    return lines[0] if lines else ""


#: What a .keras archive holds (Keras 3's and tf.keras 2.13+'s model.save): Keras reads config.json first.
_KERAS_MEMBER = "config.json"


def _refuse_other_than_keras(path: Path) -> None:
    """Refuse a file whose content is not what its suffix says, before Keras reads it: a ``.keras`` that is no
    zip archive, or one without ``config.json`` (Keras said "KeyError: There is no item named 'config.json' in
    the archive"), and a ``.h5``/``.hdf5`` that is not an HDF5 file (an empty one: "OSError: Unable to
    synchronously open file (file signature not found)"; helper-292)."""
    import zipfile

    from onnxgate._files import describe_content, is_hdf5_file

    how = "Save the model again with model.save('model.keras')"
    if path.suffix.lower() in (".h5", ".hdf5"):
        # a legacy .h5/.hdf5 (model.save("model.h5")) is no zip: Keras 3 reads it, in safe mode too
        if not is_hdf5_file(path):
            raise UnsupportedModelError(
                f"{str(path)!r} is not a Keras model file: expected the HDF5 file model.save('model.h5') writes, "
                f"found {describe_content(path)}. {how}",
                path=str(path), framework="keras",
            )
        return
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                held = _KERAS_MEMBER in archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            held = False
        if held:
            return
    raise UnsupportedModelError(
        f"{str(path)!r} is not a .keras file: expected the zip archive model.save('model.keras') writes (holding "
        f"{_KERAS_MEMBER}), found {describe_content(path)}. {how}",
        path=str(path), framework="keras",
    )


def _load_failure(path: Path, err: BaseException) -> str:
    """Why ``keras.saving.load_model`` failed, from the innermost cause: a custom layer Keras cannot find
    surfaces as its parent's 'Sequential could not be deserialized properly', naming no class."""
    cause = err
    while "could not be deserialized" in str(cause) and (cause.__cause__ or cause.__context__) is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause)
    line = text.splitlines()[0].split(" Full object config:")[0] if text else ""
    message = f"cannot load {str(path)!r} as a Keras model: {type(cause).__name__}: {line}"
    if "Could not locate" in line:
        message += (
            " The command line imports no module of yours: in Python, import the module that registers it, "
            "load the model with keras.saving.load_model and call onnxgate.convert(model, sample)"
        )
    return message


class KerasConverter(Converter):
    framework = "keras"
    PRIORITY = 20
    MODULE_PREFIXES = ("keras.",)
    DEFAULT_OPSET = 17
    MIN_OPSET = 9
    MAX_OPSET = TF2ONNX_MAX_OPSET
    FILE_SUFFIXES = (".keras", ".h5", ".hdf5")

    # -- opsets -------------------------------------------------------------------------------

    def max_opset_for(self, model: Any) -> int:
        if _backend() == "torch":
            return self._torch_opsets()[1]
        return TF2ONNX_MAX_OPSET

    def min_opset_for(self, model: Any) -> int:
        if _backend() == "torch":
            return self._torch_opsets()[0]
        return self.MIN_OPSET

    @staticmethod
    def _torch_opsets() -> tuple[int, int]:
        try:
            from onnxgate.converters.pytorch import PyTorchConverter
        except ImportError:
            return TORCH_BACKEND_OPSETS
        return PyTorchConverter.MIN_OPSET, PyTorchConverter.MAX_OPSET

    # -- files --------------------------------------------------------------------------------

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        """Load a ``.keras`` file or a legacy ``.h5``/``.hdf5`` one; ``safe_mode`` stays on unless ``trust_pickle``.

        Raises
        ------
        UntrustedFileError
            The file holds Python code (a ``Lambda`` layer) and ``trust_pickle`` is false.
        UnsupportedModelError
            The file is missing or not a readable ``.keras`` archive or HDF5 file.
        """
        path = Path(path)
        if not path.is_file():
            raise UnsupportedModelError(f"model file not found: {str(path)!r}", path=str(path))
        _refuse_other_than_keras(path)  # before Keras is imported (seconds)
        keras = _keras()
        try:
            # compile=False: converting and validating need the layers, never the optimizer, loss or metrics (a
            # custom loss the file names but this process cannot import refused a model of built-in layers)
            return keras.saving.load_model(path, compile=False, safe_mode=not trust_pickle)
        except Exception as err:
            text = str(err)
            if not trust_pickle and any(m in text.lower() for m in _SAFE_MODE_MARKERS):
                raise UntrustedFileError(
                    f"{str(path)!r} holds Python code (a Lambda layer or a custom function), which runs "
                    "when the file is loaded; Keras' safe mode refused it. Pass --trust-pickle "
                    "(trust_pickle=True) if you trust where it came from.",
                    path=str(path),
                    framework=self.framework,
                ) from err
            raise UnsupportedModelError(_load_failure(path, err), path=str(path), framework=self.framework) from err

    def save_native(self, model: Any, folder: Path) -> Path:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path

    # -- conversion ---------------------------------------------------------------------------

    def check_model(self, model: Any) -> None:
        if not callable(model):
            raise UnsupportedModelError(
                f"expected a Keras model, found {type(model).__name__}", framework=self.framework
            )

    def is_classifier(self, model: Any) -> bool:
        return False

    def input_specs(self, model: Any, sample: Any) -> tuple[list[str], list[tuple[tuple[int | None, ...], str]]]:
        """``(names, [(shape with batch None, dtype name)])`` of the model's inputs, from the model or the sample."""
        import numpy as np

        inputs = _model_inputs(model)
        if inputs is not None:
            names = _input_names([_key_of(model, t) or str(getattr(t, "name", "") or "") for t in inputs])
            return names, [((None, *tuple(t.shape)[1:]), str(t.dtype)) for t in inputs]
        if sample is None:
            raise InvalidDataError(
                f"the Keras model {getattr(model, 'name', type(model).__name__)!r} has no defined inputs "
                "(built without keras.Input), so a sample is needed to fix the input shape; pass "
                "convert(model, X[:5]) or start the model with keras.Input(shape=...)",
                framework=self.framework,
            )
        array = np.asarray(sample)
        dtype = "float32" if array.dtype.kind == "f" else str(array.dtype)
        return ["input"], [((None, *array.shape[1:]), dtype)]

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
        unknown = sorted(set(options) - {"input_names", "output_names", "dynamo", "dynamic_axes"})
        if unknown:
            raise UnsupportedModelError(
                f"unknown Keras conversion options {unknown}; known options are 'input_names', "
                "'output_names', 'dynamic_axes', 'dynamo' (torch backend)",
                framework=self.framework,
            )
        names, shapes = self.input_specs(model, sample)
        if options.get("input_names") is not None:
            names = [str(n) for n in options["input_names"]]
            if len(names) != len(shapes):
                raise UnsupportedModelError(
                    f"the model has {len(shapes)} inputs; input_names gives {len(names)}: {names}",
                    framework=self.framework,
                )
        axes: dict[int, dict[int, str]] = {}
        if options.get("dynamic_axes") is not None:
            if _backend() == "torch":
                raise UnsupportedModelError(
                    "options['dynamic_axes'] is not supported with Keras' torch backend; declare the axis None in "
                    "keras.Input with the TensorFlow backend", framework=self.framework)
            if sample is None:
                raise InvalidDataError(
                    "options['dynamic_axes'] is proved on the sample: pass convert(model, X[:5]) (CLI: --sample FILE)",
                    framework=self.framework,
                )
            arrays = split_sample(sample, names, [_Spec(s) for s, _ in shapes], self.framework)
            axes = parse_dynamic_axes(options["dynamic_axes"], names, [a.shape for a in arrays], self.framework)
            if _model_inputs(model) is None:  # shapes from the sample: the named axes are left free
                shapes = [(tuple(None if k in axes.get(i, {}) else d for k, d in enumerate(s)), dt)
                          for i, (s, dt) in enumerate(shapes)]
            fixed_by_signature(names, [s for s, _ in shapes], axes, self.framework,
                               "the model's input (keras.Input, or the shape a Sequential was built with)")
        if _backend() == "torch":
            return self._convert_torch(model, sample, names, shapes, opset=opset, options=options)
        if opset > TF2ONNX_MAX_OPSET:
            raise OpsetError(
                f"tf2onnx 1.17 writes at most opset {TF2ONNX_MAX_OPSET}, but opset {opset} was asked for. "
                f"Ask for opset {TF2ONNX_MAX_OPSET} or lower, or use Keras' torch backend.",
                opset=opset,
                framework=self.framework,
                max_opset=TF2ONNX_MAX_OPSET,
            )
        graph_name = name or getattr(model, "name", None)
        try:
            try:
                traced = self._trace(model, names, shapes, options.get("output_names"))
                traced.check_sample(sample, self.framework)
                raw = convert_traced(traced, opset=opset, name=graph_name, framework=self.framework, sample=sample,
                                     layers=_layer_names(model))
            except UnsupportedModelError as first:
                if sample is None or isinstance(first, RefusedOutright):
                    raise
                raw = self._convert_from_keras(model, sample, names, shapes, options.get("output_names"),
                                               opset=opset, name=graph_name, first=first)
        except UnsupportedModelError as err:
            grouped = _grouped_convolutions(model)
            if not grouped or "PartitionedCall" not in str(err):
                behind = _layers_computing(model, str(err))
                if not behind:
                    raise
                which = f"layers {', '.join(behind)} compute" if len(behind) > 1 else f"layer {behind[0]} computes"
                raise UnsupportedModelError(
                    f"the model's {which} TensorFlow operations tf2onnx cannot write in ONNX: {err}",
                    framework=self.framework) from None
            # the message named only StatefulPartitionedCall and a custom op handler (helper-82)
            raise UnsupportedModelError(
                f"convolution layer(s) {grouped} have groups > 1, which tf2onnx cannot convert: Keras computes a "
                "grouped convolution in a nested TensorFlow function, left in the graph as a call. Use groups=1 "
                "(one Conv per group on a slice of the channels, joined by Concatenate), or DepthwiseConv2D where "
                f"each group is one channel. ({err})",
                framework=self.framework,
            ) from None
        self._prove_lengths(raw.model, model, names, shapes, sample, axes)
        return raw

    def _prove_lengths(self, proto: Any, model: Any, names: list[str],
                       shapes: list[tuple[tuple[int | None, ...], str]], sample: Any, axes: dict[int, dict[int, str]],
                       ) -> None:
        """Name the free axes beyond the batch (``keras.Input(shape=(None, 3))``'s steps) on the file and prove them
        against the model one step longer and shorter than the sample (:mod:`onnxgate.converters._tf_axes`)."""
        import numpy as np

        lengths = declared_axes(names, [s for s, _ in shapes], axes)
        if not lengths:
            return
        arrays = None
        if sample is not None:
            arrays = [np.asarray(a, dtype=_np_dtype(dt)) for a, (_, dt) in
                      zip(split_sample(sample, names, [_Spec(s) for s, _ in shapes], self.framework), shapes)]
        keras = _keras()

        def reference(feeds: list[Any]) -> list[Any]:
            result = model(_pack(model, feeds), training=False)
            return [np.asarray(keras.ops.convert_to_numpy(t)) for t in _flat_outputs(model, result)[1]]

        subject = f"the Keras model {getattr(model, 'name', type(model).__name__)!r}"
        prove_axes(proto, names, arrays, lengths, reference, subject, self.framework)

    def _convert_from_keras(self, model: Any, sample: Any, names: list[str],
                            shapes: list[tuple[tuple[int | None, ...], str]], output_names: Sequence[str] | None,
                            *, opset: int, name: str | None, first: UnsupportedModelError) -> RawConversion:
        """The other path: ``tf2onnx.convert.from_keras`` (works on Keras 3 for most models), kept only
        when onnxruntime reproduces the Keras model on the sample; otherwise the first error stands."""
        import numpy as np

        from onnxgate.converters.tensorflow import (
            _captured_tf2onnx_log,
            _first_errors,
            _handler_refusals,
            _name_batch_axis,
            _output_shapes_from_tensorflow,
            _refuse_negative_gather_ids,
            _refuse_unknown_ops,
            _resize_scales_reaching_their_sizes,
            _tensorflow,
            _tf2onnx,
            rewrite_handlers,
        )

        tf = _tensorflow()
        tf2onnx = _tf2onnx()
        specs = tuple(tf.TensorSpec(shape, _tf_dtype(tf, dtype), name=n) for n, (shape, dtype) in zip(names, shapes))
        reason = str(first).splitlines()[0]
        keras = _keras()
        subject = model
        if isinstance(model, keras.Sequential) and _model_inputs(model) is not None:
            # from_keras looks up Keras 3 Sequential output names (keras_tensor_N) that its traced
            # function does not have (KeyError); the same layers as a functional model convert.
            subject = keras.Model(model.inputs, model.outputs)
        try:
            with _captured_tf2onnx_log() as log, tf.device("/cpu:0"):
                proto, _ = tf2onnx.convert.from_keras(
                    subject, input_signature=specs, opset=opset, custom_op_handlers=rewrite_handlers()
                )
            _refuse_unknown_ops(proto, self.framework, _first_errors(log), _handler_refusals(log))
        except Exception as err:
            why = _call_error(err)
            again = "the same error" if why and why in reason else (why[:200] if why else first_line(err, 200))
            raise UnsupportedModelError(
                f"{reason}; tf2onnx.convert.from_keras failed as well: {again}", framework=self.framework
            ) from err
        arrays = split_sample(sample, names, specs, self.framework)
        feeds = {n: np.asarray(a, dtype=_np_dtype(dt)) for n, a, (_, dt) in zip(names, arrays, shapes)}
        out_names, tensors = _flat_outputs(model, model(_pack(model, list(feeds.values())), training=False))
        outs = list(output_names) if output_names is not None else out_names
        checks = [(feeds, [np.asarray(_keras().ops.convert_to_numpy(t)) for t in tensors])]
        moved = _perturbed(feeds)
        if moved is not None:  # a sample of zeros matched an 'area' resize written as another one
            import contextlib

            with contextlib.suppress(Exception):  # the model refuses such rows: the sample alone decides
                checks.append((moved, [np.asarray(_keras().ops.convert_to_numpy(t)) for t in _flat_outputs(
                    model, model(_pack(model, list(moved.values())), training=False))[1]]))
        _rename_io(proto, names, outs)
        # a double LSTM/GRU/RNN for a SQL target computed in float32 between Casts, as on the traced path: refused
        # below though the traced path's file of the same layer converts ('no target could load the file')
        for_target = double_recurrences_for_target(proto)
        if computes_in_double(proto):  # onnxruntime has no double Elu, Erf...: as on the traced path
            from onnxgate._graph import double_formulas

            double_formulas(proto)
            refuse_without_double_kernels(proto, feeds, self.framework, _layer_names(model))
        _output_shapes_from_tensorflow(proto, {})
        _resize_scales_reaching_their_sizes(proto)
        _refuse_negative_gather_ids(proto)
        _name_batch_axis(proto)
        if name:
            proto.graph.name = name
        atol, rtol = self.ATOL * 10, self.RTOL * 10
        for rows, want in checks:
            try:
                got = _run_onnx(proto, rows)
            except Exception as err:
                raise UnsupportedModelError(
                    f"{reason}; tf2onnx.convert.from_keras wrote a file onnxruntime cannot run on the sample: "
                    f"{first_line(err, 200)}",
                    framework=self.framework,
                ) from None
            if len(got) != len(want) or not all(_same_answer(g, w, atol, rtol) for g, w in zip(got, want)):
                raise UnsupportedModelError(
                    f"{reason}; tf2onnx.convert.from_keras wrote a model whose outputs differ from Keras' on the "
                    "sample" + ("" if rows is feeds else " moved by random noise") + ", so it is not handed back",
                    framework=self.framework,
                )
        return RawConversion(
            model=proto,
            warnings=[f"converted with tf2onnx.convert.from_keras (checked against Keras on the sample, and on it "
                      f"moved by noise): {_why_not_traced(first)}", *for_target],
        )

    def _trace(self, model: Any, names: list[str], shapes: list[tuple[tuple[int | None, ...], str]],
               output_names: Sequence[str] | None) -> Any:
        from onnxgate.converters.tensorflow import _tensorflow

        tf = _tensorflow()
        specs = [tf.TensorSpec(shape, _tf_dtype(tf, dtype), name=n) for n, (shape, dtype) in zip(names, shapes)]

        # autograph off: the body is one Keras call, and autograph would try to read this source.
        traced_names: list[str] = []

        @tf.function(input_signature=specs, autograph=False)
        def forward(*args: Any) -> Any:
            result = model(_pack(model, args), training=False)
            out_names, flat = _flat_outputs(model, result)
            traced_names[:] = out_names
            return flat[0] if len(flat) == 1 else tuple(flat)

        try:
            concrete = forward.get_concrete_function()
        except Exception as err:
            raise UnsupportedModelError(
                f"could not trace the Keras model with inputs {names} shaped "
                f"{[list(s) for s, _ in shapes]}: {type(err).__name__}: {_call_error(err)}",
                framework=self.framework,
            ) from err
        outs = list(output_names) if output_names is not None else list(traced_names)
        traced = trace(concrete, input_names=names, output_names=outs)
        traced.owner = model
        return traced

    def _convert_torch(self, model: Any, sample: Any, names: list[str],
                       shapes: list[tuple[tuple[int | None, ...], str]], *, opset: int,
                       options: Mapping[str, Any]) -> RawConversion:
        import numpy as np

        try:
            from onnxgate.converters.pytorch import export_torch_module
        except ImportError as err:
            raise UnsupportedModelError(
                "converting a Keras model with the torch backend needs "
                "onnxgate.converters.pytorch.export_torch_module, which this onnxgate does not provide; "
                "use the TensorFlow backend (KERAS_BACKEND=tensorflow)",
                framework=self.framework,
            ) from err
        import torch

        if sample is not None:
            arrays = [np.asarray(a) for a in split_sample(sample, names, [_Spec(s) for s, _ in shapes], self.framework)]
            arrays = [a[:2] if a.ndim == len(s) else a.reshape(1, *a.shape) for a, (s, _) in zip(arrays, shapes)]
        else:
            arrays = [np.zeros((2, *(d or 1 for d in s[1:])), dtype=dt) for s, dt in shapes]
        for name_, array, (shape, _) in zip(names, arrays, shapes):
            for axis, (want, got) in enumerate(zip(shape, array.shape)):
                if axis and want is not None and want != got:
                    raise InvalidDataError(
                        f"input {name_!r} expects {want} values on axis {axis}; the sample has {got} "
                        f"(shape {list(array.shape)})",
                        input=name_,
                        framework=self.framework,
                    )
        example = tuple(torch.as_tensor(a.astype(dt, copy=False)) for a, (_, dt) in zip(arrays, shapes))

        wrapper = _torch_forward(model, len(names)).eval()
        with torch.no_grad():  # also proves the model runs on the example before exporting it
            default_names = _flat_outputs(model, model(_pack(model, example), training=False))[0]
        outs = list(options.get("output_names") or default_names)
        proto = export_torch_module(
            wrapper, example, opset=opset, input_names=names, output_names=outs, dynamo=options.get("dynamo")
        )
        return RawConversion(model=proto)

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        import numpy as np

        keras = _keras()
        names, shapes = self.input_specs(model, next(iter(feeds.values())) if len(feeds) == 1 else None)
        values = []
        for i, (name, (_, dtype)) in enumerate(zip(names, shapes)):
            value = feeds[name] if name in feeds else list(feeds.values())[i]
            values.append(np.asarray(value, dtype=_np_dtype(dtype)))
        result = model(_pack(model, values), training=False)
        out_names, tensors = _flat_outputs(model, result)
        flat = [np.asarray(keras.ops.convert_to_numpy(r)) for r in tensors]
        who = f"the Keras reference ({getattr(model, 'name', type(model).__name__)!r})"
        # a list of outputs is read by position (model.predict(X)[0]): the file listing them in another order,
        # matched by name, passed while a client's first output was the model's second (helper-136)
        return matched_outputs(out_names, flat, signature, who,
                               positional=not isinstance(result, Mapping) and len(flat) > 1)


def _why_not_traced(first: UnsupportedModelError) -> str:
    """Why the traced path was not used, briefly: the operations tf2onnx left, else the first sentence of its error.
    The whole refusal carries advice for a model that does not convert ("do the lookup in the input pipeline"),
    which read as the reverse of what happened once the fallback converted it (helper-181)."""
    unconverted = first.extra.get("unconverted")
    if unconverted:
        return f"tf2onnx could not write {unconverted} of the traced function"
    line = str(first).splitlines()[0] if str(first) else ""
    return f"the traced function failed: {_SENTENCE_END.split(line, maxsplit=1)[0][:200]}"


def _tf_dtype(tf: Any, dtype: Any) -> Any:
    """TensorFlow's dtype for a Keras input's: ``tf.as_dtype`` does not know Keras' ``"string"``."""
    return tf.string if str(dtype) in ("string", "str", "object") else tf.as_dtype(dtype)


def _np_dtype(dtype: Any) -> Any:
    """numpy's dtype for a Keras input's: text is held as objects (numpy does not know ``"string"``)."""
    return object if str(dtype) == "string" else dtype


def _same_answer(got: Any, want: Any, atol: float, rtol: float) -> bool:
    """Whether onnxruntime's output ``got`` is Keras' ``want``: numbers within the tolerances, text exactly
    (Keras answers bytes where onnxruntime answers str: both read as UTF-8 text; ``np.allclose`` raised a
    bare TypeError on them, found by helper-181 with ``StringLookup(invert=True)``)."""
    import numpy as np

    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False
    if got.dtype.kind in "OSU" or want.dtype.kind in "OSU":
        def text(a: Any) -> list[str]:
            return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in a.ravel().tolist()]

        return text(got) == text(want)
    return bool(np.allclose(got, want, atol=atol, rtol=rtol))


def _rename_io(proto: Any, inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """Name the graph's inputs and outputs (in order) as the traced path would."""
    initializers = {i.name for i in proto.graph.initializer}
    graph_inputs = [v for v in proto.graph.input if v.name not in initializers]
    mapping = {v.name: n for v, n in zip(graph_inputs, inputs)}
    mapping |= {v.name: n for v, n in zip(proto.graph.output, outputs)}
    mapping = {k: v for k, v in mapping.items() if k != v}
    if not mapping:
        return
    for node in proto.graph.node:
        node.input[:] = [mapping.get(x, x) for x in node.input]
        node.output[:] = [mapping.get(x, x) for x in node.output]
    for value in [*graph_inputs, *proto.graph.output]:
        value.name = mapping.get(value.name, value.name)


def _perturbed(feeds: Mapping[str, Any]) -> dict[str, Any] | None:
    """The sample's float inputs moved by seeded noise of their spread (at least 1), the others as they are;
    None when no input is float. A check on the sample alone passes a file that is wrong elsewhere when the
    sample is degenerate (all zeros)."""
    import numpy as np

    rng = np.random.default_rng(0)
    moved: dict[str, Any] = {}
    for name, value in feeds.items():
        if value.dtype.kind == "f" and value.size:
            spread = max(float(np.std(value)), 1.0)
            moved[name] = (value + rng.normal(size=value.shape) * spread).astype(value.dtype)
        else:
            moved[name] = value
    return moved if any(moved[n] is not feeds[n] for n in feeds) else None


def _run_onnx(proto: Any, feeds: Mapping[str, Any]) -> list[Any]:
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return list(session.run(None, dict(feeds)))


def _torch_forward(model: Any, count: int) -> Any:
    """A ``torch.nn.Module`` calling the Keras model the way it takes its inputs, in inference mode.

    ``forward`` takes ``*args`` but advertises ``count`` named parameters: torch.export matches
    ``dynamic_shapes`` against the signature, and a bare ``*args`` counts as one input.
    """
    import inspect

    import torch

    def forward(self: Any, *args: Any) -> Any:
        result = self.inner(_pack(self.inner, args), training=False)
        flat = _flat_outputs(self.inner, result)[1]
        return flat[0] if len(flat) == 1 else tuple(flat)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("self", kind)] + [inspect.Parameter(f"x{i}", kind) for i in range(count)]
    forward.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]

    def init(self: Any, inner: Any) -> None:
        torch.nn.Module.__init__(self)
        self.inner = inner

    cls = type("KerasForward", (torch.nn.Module,), {"forward": forward, "__init__": init})
    return cls(model)


class _Spec:
    """The part of a ``tf.TensorSpec`` that :func:`split_sample` reads, without TensorFlow."""

    def __init__(self, shape: tuple[int | None, ...]) -> None:
        self.shape = _Shape(shape)


class _Shape:
    def __init__(self, dims: tuple[int | None, ...]) -> None:
        self._dims = list(dims)
        self.rank = len(dims)

    def as_list(self) -> list[int | None]:
        return list(self._dims)

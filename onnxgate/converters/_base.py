"""The converter interface, the registry, and ``Conversion``."""

from __future__ import annotations

import contextlib
import os
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from onnxgate.conversion import Conversion
from onnxgate.errors import OnnxGateError, UnsupportedModelError, first_line

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxgate.signature import Signature
    from onnxgate.targets import Target

__all__ = ["Conversion", "Converter", "ConverterRegistry", "RawConversion", "first_line", "registry", "sanitise_name",
           "sanitise_names"]

#: What one conversion worked out about an object, by (id, what); the object is kept beside its answer, so its
#: id is not reused while the answer is (:func:`one_conversion`, :func:`remembered`).
_MEMO: ContextVar[dict[tuple[int, str], tuple[Any, Any]] | None] = ContextVar("onnxgate_conversion_memo", default=None)


@contextlib.contextmanager
def one_conversion() -> Iterator[None]:
    """Within it, :func:`remembered` answers work out once: a LightGBM pipeline's conversion asked about its
    estimators nine times, each walk calling ``get_params`` (3 ms of 12 ms), and a LightGBM model's training
    parameters were read twice from JSON (bench_convert)."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def remembered(obj: Any, what: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, worked out once for ``obj`` within :func:`one_conversion` (every time outside it)."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    hit = memo.get((id(obj), what))
    if hit is not None and hit[0] is obj:
        return hit[1]
    value = compute()
    memo[(id(obj), what)] = (obj, value)
    return value


#: How the opset of the conversion under way was chosen when the user gave none ("the default opset 17"); None
#: when the user asked for it (set by :func:`onnxgate.converters.convert`, read by :func:`opset_asked`).
OPSET_CHOSEN: ContextVar[str | None] = ContextVar("onnxgate_opset_chosen", default=None)


def opset_asked(opset: int) -> str:
    """How a refusal names the opset it was to write: ``asked for 15`` when the user asked for it, else what chose
    it, ``at the default opset 17 (no opset was given)``: HashingVectorizer(ngram_range=(1, 2)) converted without
    an opset was refused with "asked for 17", an opset the user never named."""
    chosen = OPSET_CHOSEN.get()
    return f"asked for {opset}" if chosen is None else f"at {chosen} (no opset was given)"


#: The target of the conversion under way, None for none (set by :func:`onnxgate.converters.convert`): read by
#: :func:`opset_fix` (the highest opset it runs) and by a converter with a choice of input (LightGBM's text
#: category column, as its text or its codes), which writes the one the target takes (``input_types``).
CONVERSION_TARGET: ContextVar[Target | None] = ContextVar("onnxgate_conversion_target", default=None)


def opset_fix(needed: int, otherwise: str) -> str:
    """The fix a refusal gives for a model that needs opset ``needed``: ``Convert with opset=20``, or, when the
    target of the conversion runs no opset that high, ``otherwise`` (a change to the model) with the reason:
    advising opset 20 for sql-edge-2.0, which runs 17 at most, sent the user to an option that fails too."""
    target = CONVERSION_TARGET.get()
    if target is None or target.opset is None or target.opset >= needed:
        return f"Convert with opset={needed}"
    return f"Target {target.name!r} runs opset {target.opset} at most, so it cannot hold this: {otherwise}"


#: True while a reference is called on rows the user gave as float32 (set by validation, read by a
#: converter's ``predict``): scikit-learn then gets them as float32, as the user's own call does, not
#: widened to float64 (a float32 StandardScaler computes in float32, a float64 one in float64).
ROWS_GIVEN_FLOAT32: ContextVar[bool] = ContextVar("onnxgate_rows_given_float32", default=False)


@dataclass
class RawConversion:
    """What a framework module hands back: the model as its converter wrote it, and what it noticed."""

    model: onnx.ModelProto
    warnings: list[str] = field(default_factory=list)


class Converter:
    """One framework's converter. Subclasses set the class constants and implement the methods.

    Policy lives in the constants: ``DEFAULT_OPSET`` (used when none is asked for), ``MIN_OPSET`` and
    ``MAX_OPSET`` (what the underlying exporter can write), ``MODULE_PREFIXES`` (how a model of this
    framework is recognised from its class's module, without importing the framework), and
    ``PRIORITY`` (higher is tried first: a Keras model is also a ``tf.Module``).
    """

    framework: ClassVar[str]
    DEFAULT_OPSET: ClassVar[int] = 17
    MIN_OPSET: ClassVar[int] = 9
    MAX_OPSET: ClassVar[int] = 21
    MODULE_PREFIXES: ClassVar[tuple[str, ...]] = ()
    PRIORITY: ClassVar[int] = 0
    #: Tolerances of the converter's own check of an export against the native model on the sample
    #: (Keras' ``from_keras`` fallback reads them); parity's tolerances are by output type instead.
    ATOL: ClassVar[float] = 1e-5
    RTOL: ClassVar[float] = 1e-4
    #: Values of the ``precision`` option this converter understands (empty: no choice).
    PRECISIONS: ClassVar[tuple[str, ...]] = ()
    #: Suffixes of native model files this converter can load (``".keras"``); ``"/"`` for a folder.
    FILE_SUFFIXES: ClassVar[tuple[str, ...]] = ()
    #: For a suffix other files also use (``.json``, ``.txt``), what the file's content must be for this
    #: converter to claim it, and how it is written: said when a file of that suffix is claimed by none.
    FILE_CONTENT: ClassVar[str] = ""

    def claims_file(self, path: Path) -> bool:
        """True when ``path`` is a native model file (or folder) of this framework."""
        if path.is_dir():
            return "/" in self.FILE_SUFFIXES and self.claims_folder(path)
        return path.suffix.lower() in self.FILE_SUFFIXES

    def claims_folder(self, path: Path) -> bool:
        return False

    def load(self, path: Path, *, trust_pickle: bool = False) -> Any:
        """Load a native model file. Formats that run code when loaded need ``trust_pickle``."""
        raise NotImplementedError

    def save_native(self, model: Any, folder: Path) -> Path:
        """Save the model in this framework's own format inside ``folder``; return the path written."""
        raise NotImplementedError

    def matches(self, model: Any) -> bool:
        """True when ``model`` belongs to this framework (judged by class modules; imports nothing)."""
        return _type_matches(type(model), self.MODULE_PREFIXES)

    def fitted_columns(self, model: Any) -> list[str] | None:
        """The column names ``model`` was fitted on, in order (``feature_names_in_``, or the names an XGBoost,
        LightGBM or CatBoost model keeps); None when it records none (fitted on an array, or a framework
        without column names)."""
        from onnxgate.converters._boosting import training_columns

        names = getattr(model, "feature_names_in_", None)
        return [str(n) for n in names] if names is not None else training_columns(model)

    def read_columns(self, model: Any) -> list[str] | None:
        """The columns ``model`` reads when it predicts, in order: :meth:`fitted_columns` less those it drops (a
        ColumnTransformer's ``remainder="drop"``); None when it records no column names."""
        return self.fitted_columns(model)

    def category_columns(self, model: Any) -> dict[str, list[Any]]:
        """The columns ``model`` itself encodes as categories (a booster's own encoding, not an encoder step in
        front of it), each by its fitted name with its categories in code order, as the model holds them and as a
        file's record of its codes writes them (:attr:`onnxgate.signature.TensorSpec.codes`); empty for a model
        that encodes none, or whose columns cannot be told. validate compares a file's record with these, not with
        the copy the file carries (:func:`onnxgate.validators.known_values.category_codes_off_reference`)."""
        return {}

    def reference_for(self, model: Any, onnx_model: onnx.ModelProto) -> Any:
        """The native model to call as ``onnx_model``'s reference: ``model``, unless the file records a setting
        given at conversion that the native model does not hold (XGBoost's ``missing`` for a Booster), which
        the model returned predicts with. ``model`` itself is left as it is."""
        return model

    def max_opset_for(self, model: Any) -> int:
        """Highest default-domain opset this converter can write for this model."""
        return self.MAX_OPSET

    def min_opset_for(self, model: Any) -> int:
        return self.MIN_OPSET

    def check_model(self, model: Any) -> None:
        """Raise a specific error for a model that cannot be converted (unfitted, unsupported), cheaply."""

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
        raise NotImplementedError

    def predict(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature) -> list[np.ndarray]:
        """Run the native model on ONNX-style feeds and return outputs in the ONNX model's output order.

        Outputs the native model has no counterpart for are returned as ``None`` and skipped by parity.
        """
        raise NotImplementedError

    def is_classifier(self, model: Any) -> bool:
        return False

    def answers_can_tie(self, model: Any) -> bool:
        """Whether some rows of ``model`` may have more than one right answer (:meth:`tied_answers`)."""
        return False

    def tied_answers(self, model: Any, feeds: Mapping[str, np.ndarray], signature: Signature,
                     rows: Sequence[int]) -> dict[int, Iterable[list[Any]]]:
        """For each of ``rows`` whose answer is not one answer (nearest neighbours tied at the k-th
        distance), every answer the native model gives when the tie is broken each possible way, as
        outputs in the native order of :meth:`predict`. Rows with one answer are left out; by default
        every row has one."""
        return {}


def _in_output_order(names: Sequence[str], arrays: Sequence[Any], signature: Signature) -> list[Any]:
    """Native outputs named ``names`` in the ONNX model's output order (``None`` where none matches).

    When no name matches and the counts agree, the outputs were renamed at conversion (options
    ``output_names``) and keep the graph's order, so they are returned as they come.
    """
    by_name = dict(zip(names, arrays))
    ordered = [by_name.get(spec.name) for spec in signature.outputs]
    if all(r is None for r in ordered) and len(by_name) == len(ordered):
        return list(by_name.values())
    lacking = [n for n in names if n not in signature.output_names]
    if lacking and any(r is not None for r in ordered):
        from onnxgate.errors import ParityError

        # only the outputs the file has were compared: a classifier whose label (or probabilities) was dropped
        # from the graph after conversion passed
        raise ParityError(
            f"the ONNX model, with outputs {signature.output_names}, lacks {lacking}, which the model answers and "
            "its conversion writes: a client reading them from the file finds none (an output dropped after "
            "conversion?). Validate the file as converted (onnxgate convert), with every output"
        )
    return ordered


def _type_matches(kind: type, prefixes: tuple[str, ...]) -> bool:
    """Whether a class of ``kind``'s MRO is in a module starting with one of ``prefixes``, remembered per class: a
    validation asks which framework its reference belongs to some 60 times, each time walking the MRO for each of
    the registered converters (0.15 ms of 11 ms validating an iris model). A class's MRO and modules do not change;
    held weakly, so a class made at run time (a ``torch.fx.GraphModule``'s) is not kept alive by it."""
    try:
        known = _MATCHED_TYPES.get(kind)
    except TypeError:  # a class that cannot be referenced weakly: walked each time
        known = None
    if known is not None and prefixes in known:
        return known[prefixes]
    found = any((getattr(klass, "__module__", "") or "").startswith(prefixes) for klass in kind.__mro__)
    if known is None:
        with contextlib.suppress(TypeError):
            _MATCHED_TYPES[kind] = known = {}
    if known is not None:
        known[prefixes] = found
    return found


#: :func:`_type_matches`'s answers: class -> {module prefixes: whether it matches}.
_MATCHED_TYPES: weakref.WeakKeyDictionary[type, dict[tuple[str, ...], bool]] = weakref.WeakKeyDictionary()


class ConverterRegistry:
    """Converters by framework name. ``register`` refuses a second registration unless ``overwrite``."""

    def __init__(self) -> None:
        self._converters: dict[str, Converter] = {}

    def register(self, converter: Converter | type[Converter], *, overwrite: bool = False) -> Any:
        instance = converter() if isinstance(converter, type) else converter
        key = instance.framework
        if key in self._converters and not overwrite:
            raise OnnxGateError(
                f"a converter for framework {key!r} is already registered; pass overwrite=True to replace it"
            )
        self._converters[key] = instance
        return converter

    def get(self, framework: str) -> Converter:
        try:
            return self._converters[framework]
        except KeyError:
            raise UnsupportedModelError(
                f"no converter registered for framework {framework!r}; known frameworks are {self.names()}",
                framework=framework,
            ) from None

    def names(self) -> list[str]:
        return sorted(self._converters)

    def for_file(self, path: str | os.PathLike[str]) -> Converter:
        p = Path(path)
        for converter in sorted(self._converters.values(), key=lambda c: -c.PRIORITY):
            if converter.claims_file(p):
                return converter
        known = sorted({s for c in self._converters.values() for s in c.FILE_SUFFIXES if s != "/"})
        if p.suffix.lower() == ".onnx":
            raise UnsupportedModelError(
                f"{str(p)!r} is already an ONNX model: 'convert' reads a framework's model file ({', '.join(known)}, "
                "or a TensorFlow SavedModel folder). Check it with 'onnxgate validate', or package it with "
                "'onnxgate package'"
            )
        suffix = p.suffix.lower()
        owners = [c for c in self._converters.values() if suffix in c.FILE_SUFFIXES and c.FILE_CONTENT]
        if owners and p.is_file():  # the suffix is known: its content is what was not recognised
            try:
                with open(p, "rb") as handle:
                    found = handle.read(24)
            except OSError as err:
                raise UnsupportedModelError(f"cannot read model file {str(p)!r}: {err.strerror or err}; check that you "
                                            "may read it", path=str(p)) from err
            expected = "; or ".join(c.FILE_CONTENT for c in owners)
            raise UnsupportedModelError(
                f"{str(p)!r} is not a model file onnxgate reads: a {suffix} file is read as {expected}; this one "
                f"starts with {found!r}. Write it with save_model as shown, or give the model in another format "
                f"onnxgate reads ({', '.join(s for s in known if s != suffix)})", path=str(p)
            )
        if p.is_dir() and (p / "MLmodel").is_file():
            # an MLflow model folder (mlflow.sklearn.save_model) was "cannot tell which framework": name the file in
            # it that onnxgate reads (helper-276)
            inside = sorted(str(f) for f in p.glob("**/*")
                            if f.is_file() and any(c.claims_file(f) for c in self._converters.values()))[:3]
            give = (f"give that file instead: {', '.join(repr(f) for f in inside)}" if inside else
                    f"none of its files ends in one of {known}; give the model file itself")
            raise UnsupportedModelError(
                f"{str(p)!r} is an MLflow model folder: onnxgate reads the model file it holds, not the folder; {give}",
                path=str(p),
            )
        raise UnsupportedModelError(
            f"cannot tell which framework {str(p)!r} belongs to: expected a file ending in one of {known} "
            f"or a TensorFlow SavedModel folder. {_unclaimed_fix(p)}",
            path=str(p),
        )

    def for_model(self, model: Any) -> Converter:
        ordered: Sequence[Converter] = sorted(self._converters.values(), key=lambda c: -c.PRIORITY)
        for converter in ordered:
            if converter.matches(model):
                return converter
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        if isinstance(model, (str, os.PathLike)):
            # a .keras or .pt path was "found builtins.str. Register a converter for it" (helper-236)
            raise UnsupportedModelError(
                f"{os.fspath(model)!r} is a path: in Python onnxgate takes the model object (a TensorFlow SavedModel "
                "folder excepted). Load it first (keras.saving.load_model, torch.jit.load, skops.io.load...), or "
                "give the path on the command line (onnxgate convert PATH, onnxgate validate --reference PATH)",
                path=os.fspath(model),
            )
        raise UnsupportedModelError(
            f"expected a scikit-learn, XGBoost, LightGBM, CatBoost, PyTorch, TensorFlow or Keras model; found {kind}. "
            "Register a converter for it with onnxgate.converters.registry.register(...).",
        )


registry = ConverterRegistry()


def sanitise_names(names: Sequence[str]) -> list[str]:
    """:func:`sanitise_name` for each of a frame's columns, where a column whose name is already an input
    name keeps it: columns ``a b`` and ``a_b`` became inputs (and SQL table columns) ``a_b`` and ``a_b1``, so a
    user loading the table by name put ``a_b``'s values in ``a b``'s column (found by helper-81); now ``a_b``
    stays ``a_b`` and ``a b`` is ``a_b1``."""
    taken: set[str] = set()
    chosen: list[str | None] = [None] * len(names)
    for i, name in enumerate(names):
        if sanitise_name(name, set()) == name and name.lower() not in taken:
            chosen[i] = name
            taken.add(name.lower())
    return [given if given is not None else sanitise_name(name, taken) for given, name in zip(chosen, names)]


def sanitise_name(name: str, taken: set[str]) -> str:
    """skl2onnx's rule for input names (``Topology._generate_unique_name``), so every layout and
    framework names a DataFrame column's input the same way: non-word characters become ``_``, a
    leading digit gets a ``_``, a name already given gets a number. Names are compared ignoring case,
    as SQL compares column names (``Total`` beside ``total`` gave two inputs no SQL table can hold):
    ``taken`` holds the lower-cased names given so far, and the one returned is added to it."""
    seed = re.sub(r"[^\w+]", "_", name) or "_"
    if re.match("^[0-9]", seed):
        seed = "_" + seed
    chosen, i = seed, 0
    while chosen.lower() in taken:
        i += 1
        chosen = seed + str(i)
    taken.add(chosen.lower())
    return chosen


#: Suffixes of the data files onnxgate reads, which a user may give where the model goes.
_DATA_SUFFIXES = (".csv", ".parquet", ".npy")


def _unclaimed_fix(p: Path) -> str:
    """How to fix a model path no converter claims, by what it is: a package folder, a SavedModel folder that lost
    its ``saved_model.pb``, a data file, or a file under an unknown suffix. The message listed the suffixes only, with
    no fix (helper-364: a package folder and a damaged SavedModel folder were the likely cases)."""
    if p.is_dir():
        if (p / "manifest.json").is_file() and (p / "model.onnx").is_file():
            return (f"It is a package 'onnxgate package' wrote, holding the ONNX model {str(p / 'model.onnx')!r}: "
                    "convert reads the framework's model file it was made from; check or package the ONNX model with "
                    "'onnxgate validate' or 'onnxgate package'")
        if (p / "variables").is_dir() or (p / "saved_model.pbtxt").is_file() or (p / "fingerprint.pb").is_file():
            return ("It looks like a TensorFlow SavedModel folder without its saved_model.pb (damaged, or copied in "
                    "part): save the model again with tf.saved_model.save(model, 'DIR') and copy the whole folder")
        if not any(p.iterdir()):
            return "It is an empty folder: give the model file, or a folder tf.saved_model.save wrote"
        return "Give the model file inside the folder, or a folder tf.saved_model.save wrote"
    if p.suffix.lower() in _DATA_SUFFIXES:
        return (f"{p.suffix} is a data file: give the model file first, and the rows with --sample (convert, sweep) "
                "or --data (validate)")
    return ("Save the model in one of those formats (skops.io.dump(model, 'model.skops'), torch.export.save(..., "
            "'model.pt2'), model.save('model.keras'), tf.saved_model.save(model, 'DIR')...), or rename the file if its "
            "suffix is wrong")

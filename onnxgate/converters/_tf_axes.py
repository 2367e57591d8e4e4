"""Axes beyond the batch that a TensorFlow or Keras model takes at any length, named and proved.

A model declares such an axis with ``None`` (``keras.Input(shape=(None, 3))``, an input signature
``tf.TensorSpec([None, None, 3])``); a ``tf.function`` traced from the sample, or a Keras model built
without ``keras.Input``, gets them from ``options={"dynamic_axes": ...}`` in the PyTorch converter's form
(:mod:`onnxgate.converters._axes`). tf2onnx writes such an axis ``unk__<n>``, another name on each input
and output; here it is called by the option's name, else ``<input>_axis<k>``, on the inputs and on the
outputs whose size follows it. Each is proved with the sample: the file runs in onnxruntime with the axis
one step longer, (when the sample has more than two) one step shorter and about twice as long
(:func:`~onnxgate.converters._axes.lengths_to_check`), against the framework; a file that answers otherwise
is refused. These are samples of lengths: validate's parity on data of the lengths served is the gate. An
axis the framework itself does not run at another length alone is tried together with the other declared
axes of the sample's size (token ids and their mask), and left unproved when it does not run then either;
one named in ``dynamic_axes`` is refused, naming the other inputs' axes of its size in the sample (a mask
left out of the option) with the option that shares the name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from onnxgate.converters import _axes as shared
from onnxgate.converters._axes import Axes
from onnxgate.errors import InvalidDataError, UnsupportedModelError

__all__ = ["Length", "declared_axes", "prove_axes"]

#: Rows of the sample the proof runs (enough for a batch, few for speed).
PROBE_ROWS = 8


@dataclass
class Length:
    """One named length: the (input index, axis) pairs it covers, and whether the user named it."""

    name: str
    members: list[tuple[int, int]] = field(default_factory=list)
    given: bool = False


def declared_axes(names: Sequence[str], shapes: Sequence[Sequence[int | None] | None], given: Axes) -> list[Length]:
    """Every free axis beyond the batch in ``shapes`` (``None``), named by ``given`` or ``<input>_axis<k>``."""
    lengths: dict[str, Length] = {}
    for index, (name, shape) in enumerate(zip(names, shapes)):
        for axis, size in enumerate(shape or ()):
            if axis == 0 or size is not None:
                continue
            called = given.get(index, {}).get(axis)
            length = lengths.setdefault(called or f"{name}_axis{axis}", Length(called or f"{name}_axis{axis}"))
            length.members.append((index, axis))
            length.given = length.given or called is not None
    return list(lengths.values())


def fixed_by_signature(names: Sequence[str], shapes: Sequence[Sequence[int | None] | None], given: Axes,
                       framework: str, where: str) -> None:
    """Refuse a named axis the model's own signature gives a size: the user fixed it, not the sample."""
    for index, named in given.items():
        shape = list(shapes[index] or ())
        for axis, called in named.items():
            if axis < len(shape) and shape[axis] is not None:
                raise UnsupportedModelError(
                    f"options['dynamic_axes']: {where} fixes axis {axis} of input {names[index]!r} to "
                    f"{shape[axis]} (shape {['N' if d is None else d for d in shape]}), so {called!r} cannot vary; "
                    f"declare that axis None there (e.g. keras.Input(shape=(None, ...)) or "
                    "tf.TensorSpec([None, None, ...])) and convert again",
                    framework=framework,
                )


def prove_axes(proto: Any, names: Sequence[str], arrays: Sequence[Any] | None, lengths: list[Length],
               reference: Callable[[list[Any]], list[Any]], subject: str, framework: str) -> None:
    """Name the file's free axes and prove them against ``reference`` (see the module docstring)."""
    import numpy as np

    if not lengths:
        return
    probe = None
    if arrays is not None and len(arrays) == len(names):
        probe = [np.asarray(a)[:PROBE_ROWS] for a in arrays]
        ranks = {i: len(s) for i, s in _input_shapes(proto, names).items()}
        if any(ranks.get(i, a.ndim) != a.ndim for i, a in enumerate(probe)):
            probe = None
    if probe is None:
        if any(length.given for length in lengths):
            raise InvalidDataError(
                "options['dynamic_axes'] is proved on the sample: pass convert(model, X[:5]) with rows shaped like "
                "the model's input", framework=framework)
        _write_names(proto, names, lengths, {})
        return
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    takes = {i.name for i in session.get_inputs()}
    base = [np.asarray(o) for o in reference(list(probe))]
    follows: dict[int, dict[int, str]] = {}
    for length in _runnable(lengths, names, probe, reference, subject, framework):
        axes: Axes = {}
        for index, axis in length.members:
            axes.setdefault(index, {})[axis] = length.name
        size = int(probe[length.members[0][0]].shape[length.members[0][1]])
        for step in (other - size for other in shared.lengths_to_check(size)):
            feeds = shared.resized(probe, axes, length.name, step)
            try:
                want = [np.asarray(o) for o in reference(list(feeds))]
            except Exception:
                if step == 1:
                    raise
                continue  # the model takes no shorter length (a convolution wider than it): nothing to compare
            if step == 1:
                for out, (before, after) in enumerate(zip(base, want)):
                    for axis, (b, a) in enumerate(zip(before.shape, after.shape)):
                        if axis and (b, a) == (size, size + 1):  # a Conv1D's T - 2 is a length of its own
                            follows.setdefault(out, {})[axis] = length.name
            try:
                got = session.run(None, {n: a for n, a in zip(names, feeds) if n in takes})
            except Exception as err:
                reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
                raise _refusal(subject, length.name, size, size + step, f"onnxruntime failed: {reason}",
                               framework) from None
            if len(got) != len(want) or not all(shared.close(g, w) for g, w in zip(got, want)):
                raise _refusal(subject, length.name, size, size + step, "the file's outputs differ from the "
                               f"model's ({'; '.join(shared.difference(g, w) for g, w in zip(got, want))})",
                               framework)
    _write_names(proto, names, lengths, follows)


def _runnable(lengths: list[Length], names: Sequence[str], probe: list[Any],
              reference: Callable[[list[Any]], list[Any]], subject: str, framework: str) -> list[Length]:
    """The lengths the model runs at one step longer; declared ones that do only together are merged."""

    def runs(members: Sequence[tuple[int, int]]) -> BaseException | None:
        axes: Axes = {}
        for index, axis in members:
            axes.setdefault(index, {})[axis] = "_"
        try:
            reference(shared.resized(probe, axes, "_", 1))
        except Exception as err:
            return err
        return None

    kept: list[Length] = []
    pending = list(lengths)
    while pending:
        length = pending.pop(0)
        if any(int(probe[i].shape[a]) < 1 for i, a in length.members):
            continue  # no entry to repeat: nothing to prove with
        failure = runs(length.members)
        if failure is None:
            kept.append(length)
            continue
        if length.given:
            named: Axes = {}
            for declared in lengths:
                for index, axis in declared.members if declared.given else ():
                    named.setdefault(index, {})[axis] = declared.name
            raise shared.not_varying(subject, length.name, failure, names, [tuple(p.shape) for p in probe], named,
                                     framework) from failure
        size = int(probe[length.members[0][0]].shape[length.members[0][1]])
        same = [other for other in pending if not other.given
                and all(int(probe[i].shape[a]) == size for i, a in other.members)]
        if same and runs([m for other in [length, *same] for m in other.members]) is None:
            for other in same:
                pending.remove(other)
                length.members.extend(other.members)
            kept.append(length)
        # else the model itself takes no other length there: nothing to prove, the axis is left as declared
    return kept


def _input_shapes(proto: Any, names: Sequence[str]) -> dict[int, list[Any]]:
    graph = {v.name: v for v in proto.graph.input}
    found = {}
    for index, name in enumerate(names):
        value = graph.get(name)
        if value is not None and value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape"):
            found[index] = list(value.type.tensor_type.shape.dim)
    return found


def _write_names(proto: Any, names: Sequence[str], lengths: list[Length],
                 follows: Mapping[int, dict[int, str]]) -> None:
    dims = _input_shapes(proto, names)
    for length in lengths:
        for index, axis in length.members:
            if index in dims and axis < len(dims[index]) and not dims[index][axis].HasField("dim_value"):
                dims[index][axis].dim_param = length.name
    for out, value in enumerate(proto.graph.output):
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            continue
        shape = value.type.tensor_type.shape.dim
        for axis, called in follows.get(out, {}).items():
            if axis < len(shape) and not shape[axis].HasField("dim_value"):
                shape[axis].dim_param = called


def _refusal(subject: str, name: str, size: int, other: int, found: str, framework: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"{subject}'s converted file answers for {name!r} = {size} (the sample's) but not for {other}: {found}. "
        "tf2onnx kept something of the sample's length in the graph, so the file would score sequences of other "
        "lengths wrongly: fix that axis to the sample's length (keras.Input(shape=(5, ...)), "
        "tf.TensorSpec([None, 5, ...]), or leave it out of dynamic_axes)",
        framework=framework,
    )

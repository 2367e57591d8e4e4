"""Axes beyond the batch left dynamic, shared by the PyTorch and the TensorFlow/Keras converters.

``options={"dynamic_axes": ...}`` names the axes of a sample that vary, in ``torch.onnx.export``'s form::

    {"input": [1]}                           # axis 1 of input "input", called input_axis1
    {"tokens": {1: "T"}, "mask": {1: "T"}}   # one length T shared by two inputs

Nothing here imports a framework: the sample's shapes are read as tuples, the arrays as numpy arrays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from onnxgate.errors import UnsupportedModelError

__all__ = [
    "BATCH_DIM", "Axes", "close", "difference", "lengths_to_check", "names_of", "not_varying", "parse_dynamic_axes",
    "resized",
]

#: input index -> {axis: name}
Axes = dict[int, dict[int, str]]
#: The batch axis' name on every input and output.
BATCH_DIM = "N"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: How far the file's outputs may be from the framework's at another length: float32 noise, far from a step missed.
_RTOL = 1e-3
_ATOL = 1e-4


def _bad(message: str, framework: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"options['dynamic_axes']: {message}", framework=framework)


def parse_dynamic_axes(given: Any, in_names: Sequence[str], shapes: Sequence[Sequence[int]],
                       framework: str) -> Axes:
    """The option as ``{input index: {axis: name}}``, checked against the inputs and the sample's shapes."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise _bad(f"expected a dict from input name to a list of axes or to {{axis: name}}, found "
                   f"{type(given).__name__}; e.g. {{'{in_names[0]}': [1]}}", framework)
    axes: Axes = {}
    for key, spec in given.items():
        if key not in in_names:
            raise _bad(f"no input is called {key!r}; the inputs are {list(in_names)}", framework)
        index = list(in_names).index(key)
        rank = len(shapes[index])
        if isinstance(spec, Mapping):
            pairs = list(spec.items())
        elif isinstance(spec, (list, tuple)):
            pairs = [(axis, f"{key}_axis{axis}") for axis in spec]
        else:
            raise _bad(f"input {key!r}: expected a list of axes or {{axis: name}}, found {spec!r}", framework)
        named: dict[int, str] = {}
        for axis, name in pairs:
            axis = int(axis) if isinstance(axis, str) and axis.lstrip("-").isdigit() else axis
            if not isinstance(axis, int) or isinstance(axis, bool):
                raise _bad(f"input {key!r}: axes are whole numbers, found {axis!r}", framework)
            if axis < 0:
                axis += rank
            if axis == 0:
                raise _bad(f"input {key!r}: axis 0 is the batch, which is always dynamic (named {BATCH_DIM!r}); "
                           "name the other axes that vary, e.g. 1 for a sequence's steps", framework)
            if not 0 < axis < rank:
                raise _bad(f"input {key!r} has rank {rank} in the sample (shape {list(shapes[index])}): it "
                           f"has no axis {axis}", framework)
            if not isinstance(name, str) or not _NAME.match(name) or name == BATCH_DIM:
                raise _bad(f"input {key!r}: an axis name is a Python identifier other than {BATCH_DIM!r} (the "
                           f"batch), found {name!r}", framework)
            named[axis] = name
        if named:
            axes[index] = named
    lengths: dict[str, tuple[int, str]] = {}
    for index, named in axes.items():
        for axis, name in named.items():
            size = int(shapes[index][axis])
            seen = lengths.setdefault(name, (size, f"axis {axis} of {in_names[index]!r}"))
            if seen[0] != size:
                raise _bad(f"{name!r} names {seen[1]} ({seen[0]} in the sample) and axis {axis} of "
                           f"{in_names[index]!r} ({size}): one name is one length; give them different names",
                           framework)
            if size < 2:
                raise _bad(f"{name!r} is {size} in the sample ({in_names[index]!r}, axis {axis}): an exporter "
                           "fixes an axis of size 0 or 1 to that size; give a sample at least 2 long there",
                           framework)
    return axes


def names_of(axes: Axes) -> list[str]:
    """The axis names, sorted."""
    return sorted({name for named in axes.values() for name in named.values()})


def not_varying(subject: str, name: str, failure: BaseException, in_names: Sequence[str],
                shapes: Sequence[Sequence[int]], axes: Axes, framework: str) -> UnsupportedModelError:
    """The refusal for a model that does not run with the axis ``name`` one step longer than the sample's.

    Most often another input has the same length and was left out of the option (a mask beside its tokens, named
    on the tokens only) or given a name of its own: the probe lengthens one and not the other, and the model
    fails on the mismatch. Those axes are named, with the option that shares the name; else the axis does not
    vary in the model."""
    text = str(failure).strip().splitlines()
    said = text[0][:200] if text and text[0].strip(": ") and not text[0].endswith("error:") else type(failure).__name__
    head = f"options['dynamic_axes']: {subject} does not run with {name!r} one step longer than the sample's ({said})"
    members = [(index, axis) for index, named in axes.items() for axis, called in named.items() if called == name]
    size = int(shapes[members[0][0]][members[0][1]]) if members else -1
    others = [(index, axis) for index, shape in enumerate(shapes) for axis in range(1, len(shape))
              if (index, axis) not in members and int(shape[axis]) == size]
    if not others:
        return UnsupportedModelError(f"{head}: that axis does not vary in the model", framework=framework)
    spec: dict[str, dict[int, str]] = {}
    for index, named in sorted(axes.items()):
        spec[in_names[index]] = dict(named)
    for index, axis in others:
        spec.setdefault(in_names[index], {})[axis] = name
    listed = ", ".join(
        f"axis {axis} of {in_names[index]!r}"
        + (f" (named {axes[index][axis]!r})" if axis in axes.get(index, {}) else "")
        for index, axis in others
    )
    one = len(others) == 1
    return UnsupportedModelError(
        f"{head}. {listed[0].upper()}{listed[1:]} {'is' if one else 'are'} {size} long in the sample too and "
        f"{'was' if one else 'were'} not lengthened with it: inputs of one length share one name, "
        f"e.g. options={{'dynamic_axes': {spec!r}}}",
        framework=framework,
    )


def lengths_to_check(size: int) -> list[int]:
    """The lengths a named axis of the sample's ``size`` is proved at: one step longer and shorter, and about
    twice as long (a branch on the length, ``if x.shape[1] > 8``, that a tracer fixed answers as the model
    one step either side of a 5-step sample)."""
    far = min(2 * size + 1, size + 257)  # an attention over the steps costs the square of the length
    return [size + 1, *([size - 1] if size > 2 else []), far]


def resized(arrays: Sequence[Any], axes: Axes, name: str, step: int) -> list[Any]:
    """numpy arrays with every axis called ``name`` ``step`` entries longer (the entries repeated from the first,
    in a cycle) or shorter."""
    import numpy as np

    out = list(arrays)
    for index, named in axes.items():
        for axis, called in named.items():
            if called != name:
                continue
            a = out[index]
            size = a.shape[axis]
            out[index] = np.take(a, np.arange(size + step) % size, axis=axis)
    return out


def close(got: Any, want: Any) -> bool:
    """Whether a file's output is the framework's, to float32 noise (exactly for integers and text)."""
    import numpy as np

    if got.shape != want.shape:
        return False
    if want.dtype.kind not in "fc":
        return bool(np.array_equal(got, want))
    scale = float(np.nanmax(np.abs(want))) if want.size else 0.0
    return bool(np.allclose(got, want, rtol=_RTOL, atol=_ATOL * max(1.0, scale), equal_nan=True))


def difference(got: Any, want: Any) -> str:
    """How a file's output differs from the framework's, in words."""
    import numpy as np

    if got.shape != want.shape:
        return f"shape {list(got.shape)} against {list(want.shape)}"
    if want.dtype.kind not in "fc":
        return f"{int(np.sum(got != want))} of {want.size} values differ"
    return f"up to {float(np.nanmax(np.abs(got.astype(np.float64) - want))):.3g} apart"

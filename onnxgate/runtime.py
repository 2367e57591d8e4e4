"""The onnxruntime session factory (core): every part of onnxgate that runs a model gets its session here."""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ORT_QUIET", "RUN_ROWS", "check_outputs_one_row_per_input", "dynamic_axis_fix", "fill_changes_answers",
           "fill_fix", "fixed_rows", "fixed_rows_said", "run_rows", "session", "sessions_shared", "takes_one_row"]

#: onnxruntime's log level (4 = fatal only): probing a model is expected to fail, and at 3 a rejected
#: model still prints onnxruntime's "[E:onnxruntime...]" lines on the user's stderr.
ORT_QUIET = 4
#: Rows per onnxruntime call when scoring many rows at once. A network's activations for this many
#: rows stay in the CPU's cache: the 64x64 MLP of bench/bench_spark.py, float64 inside, one thread,
#: took 1.32 s per 10,000,000 rows in runs of 16,384 rows and 2.24 s in runs of 65,536 (2-core AMD
#: EPYC, 1 MB L2 per core); a tree ensemble is as fast either way.
RUN_ROWS = 16_384


def session(model: bytes | str | os.PathLike[str], *, spinning: bool = True) -> Any:
    """An onnxruntime CPU session, quiet; ``spinning=False`` for runs interleaved with other work.

    After each run, onnxruntime's intra-op threads spin for a while waiting for the next one. When
    the next thing to run is the reference framework (parity, the search), those spinning threads
    take the cores its own threads need: measured on 1,000,000 rows of a 64x64 MLP in 16,384-row
    batches, turning spinning off halves the loop's time (bench/bench_parity.py).

    Parameters
    ----------
    model : bytes or path
        The serialized ONNX model, or its file's path: a model whose weights are in external data files beside it
        is read with them (``onnxgate._onnx.runnable``: a model above 2 GiB, which has no one serialization).
    spinning : bool
        Let the intra-op threads spin between runs (fastest when runs follow each other).

    Returns
    -------
    onnxruntime.InferenceSession

    Raises
    ------
    Exception
        Whatever onnxruntime raises for a model it cannot load (callers turn it into a check result
        or an error that names the cause).

    Examples
    --------
    >>> from onnxgate.runtime import session
    >>> sess = session(open("model.onnx", "rb").read(), spinning=False)  # doctest: +SKIP
    """
    import onnxruntime as ort

    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    shared = _SHARED.get()
    # bytes by identity (the one serialization of a validation), a path by its text
    key: tuple[int | str, bool] = (model if isinstance(model, str) else id(model), spinning)
    if shared is not None and key in shared and (isinstance(model, str) or shared[key][0] is model):
        return shared[key][1]
    options = ort.SessionOptions()
    options.log_severity_level = ORT_QUIET
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    made = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    if shared is not None:
        shared[key] = (model, made)
    return made


#: The sessions :func:`sessions_shared` holds: ``(id(model bytes) or the model's path, spinning) -> (those bytes or
#: that path, session)``.
_SHARED: contextvars.ContextVar[dict[tuple[int | str, bool], tuple[bytes | str, Any]] | None] = contextvars.ContextVar(
    "onnxgate_sessions", default=None)


@contextlib.contextmanager
def sessions_shared() -> Iterator[None]:
    """Within the block, :func:`session` given the same bytes object (``onnxgate._onnx.serialize`` of the model
    in ``serialized_once``) and ``spinning`` hands back the session it made for them: the checks of one
    validation (``operators_supported``, the row probes, parity) load the model once. A session only runs, so
    sharing it changes no answer; a 500 MB model took 2-4 s and another 1 GB at its peak to load each time."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def takes_one_row(session: Any) -> bool:
    """True when every input of ``session``'s model has a first axis fixed to 1 (``[1,1]`` columns):
    it scores one row per run, as the ``PREDICT`` samples of SQL Edge and Synapse export their models."""
    get_inputs = getattr(session, "get_inputs", None)  # a wrapper of a session may not expose them
    inputs = get_inputs() if get_inputs is not None else []
    return bool(inputs) and all(len(i.shape) >= 1 and i.shape[0] == 1 for i in inputs)


def fixed_rows(session: Any) -> int | None:
    """The rows every input of ``session``'s model fixes on its first axis when it is more than one and the same
    for all (16 for an ``[16, 10]`` input, as a model exported with a fixed batch size declares it); else None."""
    get_inputs = getattr(session, "get_inputs", None)
    inputs = get_inputs() if get_inputs is not None else []
    first = {i.shape[0] if len(i.shape) >= 1 and isinstance(i.shape[0], int) else None for i in inputs}
    size = first.pop() if len(first) == 1 else None
    return size if size is not None and size > 1 else None


def fixed_rows_said(session: Any, size: int) -> str:
    """How a message says that ``session``'s model takes runs of exactly ``size`` rows (:func:`fixed_rows`)."""
    shapes = ", ".join(f"{i.name!r} is {list(i.shape)}" for i in session.get_inputs())
    return f"the model takes runs of exactly {size:,} rows (input {shapes})"


def dynamic_axis_fix(session: Any) -> str:
    """The advice to export ``session``'s model with a dynamic batch axis on each of its inputs, first.

    An input that fixes its first axis and leaves a later one free (``[16, 'N', 4]``) most likely holds its rows
    there, as a sequence model exported time-first does (a PyTorch RNN without ``batch_first=True``): making the
    first axis dynamic alone would make it take any number of time steps, each row still on the second axis."""
    inputs = session.get_inputs()
    axes = ", ".join(f"{i.name!r}: {{0: 'batch'}}" for i in inputs)
    export = f"torch.onnx.export(..., dynamic_axes={{{axes}}})"
    later = next(((i.name, at) for i in inputs for at, d in enumerate(i.shape) if at > 0 and not isinstance(d, int)),
                 None)
    if later is None:
        return f"export the model with a dynamic batch axis (PyTorch: {export})"
    return (f"export the model with its rows on a dynamic first axis: input {later[0]!r} leaves its axis {later[1]} "
            "free, where a sequence model exported time-first holds its rows (PyTorch: an RNN with batch_first=True, "
            f"then {export})")


def _run_fixed(session: Any, outputs: list[str] | None, feeds: dict[str, Any], total: int, size: int,
               fill_advice: Callable[[int, int], str] | None = None, fill_checked: bool = False) -> list[Any]:
    """The ``total`` rows of ``feeds`` in runs of exactly ``size`` rows, the last one filled up with copies of its
    last row (values the model takes, where zeros may not be: an index, a category code), those rows' outputs
    dropped; an output without ``size`` rows per run is joined as it is (the caller refuses it). ``fill_advice``,
    ``fill_checked``: see :func:`run_rows`.

    Raises
    ------
    UnsupportedModelError
        The last run's answers for its own rows change with what fills it up (:func:`fill_changes_answers`).
    """
    import numpy as np

    parts = []
    for start in range(0, total, size):
        rows = min(size, total - start)
        run = {name: arr[start:start + size] for name, arr in feeds.items()}
        if rows < size:
            run = {name: _filled(part, size) for name, part in run.items()}
        out = session.run(outputs, run)
        if rows < size and not fill_checked:
            before = {name: arr[max(start - (size - rows), 0):start + rows] for name, arr in feeds.items()}
            found = fill_changes_answers(session, outputs, before, size, rows, answers=out, first=start,
                                         numbered=fill_advice is None)
            if found is not None:
                from onnxgate.errors import UnsupportedModelError

                advice = (fill_fix(session, total, size, "this batch") if fill_advice is None
                          else fill_advice(total, size))
                raise UnsupportedModelError(f"{found}; {advice}", input=next(iter(feeds)))
        parts.append([o[:rows] if isinstance(o, np.ndarray) and o.ndim and o.shape[0] == size else o for o in out])
    return [np.concatenate(column) for column in zip(*parts)]


def _filled(part: Any, size: int, filling: Any = None) -> Any:
    """``part`` (rows on its first axis) followed by ``filling``'s rows, or copies of its last row, up to ``size``."""
    import numpy as np

    missing = size - len(part)
    if missing <= 0:
        return part
    if filling is None:
        filling = np.repeat(part[-1:], missing, axis=0)
    return np.concatenate([part, filling[-missing:]])


def fill_changes_answers(
    session: Any, outputs: list[str] | None, feeds: dict[str, Any], size: int, rows: int, *,
    answers: list[Any] | None = None, first: int = 0, numbered: bool = True,
) -> str | None:
    """Whether a run of a fixed-batch model (:func:`fixed_rows`, ``size`` rows) filled up answers otherwise for its
    ``rows`` real rows, the last ``rows`` of ``feeds``, with another filling: a sentence saying how, else None.

    A model whose answer for a row depends on the other rows of its run (``x - x.mean(axis=0)``, a BatchNorm
    exported in training mode, a Softmax or a sort over the rows) answers otherwise for the real rows of a run
    filled up with copies of its last row than the same rows would among others; a model scoring each row on its own
    answers alike. The run filled with copies of its last row (as :func:`run_rows` fills it; ``answers``, when it
    was run already) is compared with the run filled with the rows of ``feeds`` before the real ones (the rows of
    the data before them), else with copies of its first row, else (a single row) with zeros; floating-point
    answers within (1e-5, 1e-4), others exactly. A model answering otherwise for the very same run twice (random
    numbers) or that cannot run the other filling gives None: it shows nothing of the filling. ``first``: the
    number the sentence gives the first real row; with ``numbered=False`` the rows are counted within the run only
    (a Spark batch's row numbers are not the data's).
    """
    import numpy as np

    real = {name: arr[len(arr) - rows:] for name, arr in feeds.items()}
    copied = {name: _filled(arr, size) for name, arr in real.items()}
    if answers is None:
        answers = session.run(outputs, copied)
    before = len(next(iter(feeds.values()))) - rows
    if before > 0:  # the nearest rows before them, repeated when there are too few
        how = f"with the {min(size - rows, before):,} row{'s' if min(size - rows, before) != 1 else ''} before them"
        picks = np.arange(rows - size, 0) % before
        other = {name: _filled(part, size, feeds[name][:before][picks]) for name, part in real.items()}
    elif rows > 1:
        how = "with copies of their first row"
        other = {name: _filled(part, size, np.repeat(part[:1], size - rows, axis=0)) for name, part in real.items()}
    else:
        how = "with zeros"
        other = {name: _filled(part, size, np.zeros_like(np.repeat(part, size - rows, axis=0)))
                 for name, part in real.items()}
    try:
        again, theirs = session.run(outputs, copied), session.run(outputs, other)
    except Exception:
        return None
    if _first_difference(answers, again, rows) is not None:
        return None  # the same run answers otherwise each time: nothing to say of the filling
    found = _first_difference(answers, theirs, rows)
    if found is None:
        return None
    index, row, ours, other_answer = found
    names = outputs or [o.name for o in session.get_outputs()]
    if numbered:
        real_rows = f"row {first}" if rows == 1 else f"rows {first:,}..{first + rows - 1:,}"
        which = f"row {first + row:,}"
    else:
        real_rows = f"{rows:,} row{'s' if rows != 1 else ''}"
        which = f"its real row {row + 1:,} of {rows:,}"
    return (f"{fixed_rows_said(session, size)}, and its answer for a row depends on "
            f"the other rows of its run: the last run holds {real_rows} only, and filled up to {size:,} rows it "
            f"answers {ours} for output {names[index]!r} of {which} when filled with copies of its last "
            f"row, {other_answer} when filled {how}; a filled run would write answers those rows do not have")


def fill_fix(session: Any, total: int, size: int, rows_are: str) -> str:
    """How to score ``total`` rows (``rows_are``: "this batch", "the data") with a model that takes runs of exactly
    ``size`` rows and whose answer for a row depends on the others of its run: the counts that fill whole runs,
    or a dynamic batch axis."""
    low = total // size * size
    counts = f"{low:,} or {low + size:,}" if low else f"{size:,}"
    return (f"{rows_are} has {total:,} row{'s' if total != 1 else ''}, and a multiple of {size:,} ({counts} here) "
            f"would leave no run to fill. Score a multiple of {size:,} rows, or {dynamic_axis_fix(session)}")


def _first_difference(a: list[Any], b: list[Any], rows: int) -> tuple[int, int, str, str] | None:
    """The first output and row among the first ``rows`` rows where answers ``a`` and ``b`` differ (floating-point
    ones beyond (1e-5, 1e-4)), with both answers shown; None when they agree. An output without a row per row
    (an aggregate) is not compared."""
    import numpy as np

    for index, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, list) and isinstance(y, list):
            for row in range(min(rows, len(x), len(y))):
                if x[row] != y[row]:
                    return index, row, repr(x[row])[:80], repr(y[row])[:80]
            continue
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or not x.ndim or x.shape[0] < rows:
            continue
        x, y = x[:rows], y[:rows]
        if np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.complexfloating):
            close = np.isclose(x, y, rtol=1e-4, atol=1e-5, equal_nan=True)
        else:
            close = x == y
        bad = np.flatnonzero(~np.asarray(close).reshape(rows, -1).all(axis=1))
        if bad.size:
            row = int(bad[0])
            show = {"precision": 4, "threshold": 6, "edgeitems": 3}
            return (index, row, np.array2string(np.asarray(x[row]), **show),  # type: ignore[arg-type]
                    np.array2string(np.asarray(y[row]), **show))  # type: ignore[arg-type]
    return None


def _rows_that_fit(session: Any, rows: int) -> int:
    """``rows``, or fewer for a model recorded as computing wide rows (:func:`onnxgate._onnx.rows_for_width`:
    a HashingVectorizer's 2**20 columns are 4 MiB a row dense), read from the session's metadata once."""
    limit = getattr(session, "_onnxgate_rows_that_fit", None)
    if limit is None:
        from onnxgate._onnx import ROW_WIDTH_METADATA_KEY, rows_for_width

        meta = getattr(session, "get_modelmeta", None)
        limit = rows_for_width(meta().custom_metadata_map.get(ROW_WIDTH_METADATA_KEY) if meta else None, 2**62)
        with contextlib.suppress(AttributeError):  # a wrapper that takes no attribute: read again next time
            session._onnxgate_rows_that_fit = limit
    return min(rows, limit)


def run_rows(session: Any, outputs: list[str] | None, feeds: dict[str, Any], rows: int = RUN_ROWS, *,
             fill_fixed: bool = False, fill_advice: Callable[[int, int], str] | None = None,
             fill_checked: bool = False) -> list[Any]:
    """``session.run(outputs, feeds)`` in runs of at most ``rows`` rows, the outputs joined row-wise.

    For scoring batches larger than :data:`RUN_ROWS` (a Parquet read, a Spark batch) at the speed of
    cache-sized runs (fewer rows per run for a model recorded as computing wide rows). Each row is scored on
    its own either way; a model whose outputs do not have one entry per row (an aggregate, a sequence) is
    run once on the whole batch instead. A model that
    takes one row per run (:func:`takes_one_row`) is run row by row. With ``fill_fixed``, a model whose inputs fix
    the batch size (:func:`fixed_rows`) is run on batches of exactly that many rows, the last one filled up and
    the filling's outputs dropped (scoring), once :func:`fill_changes_answers` finds the last run's answers for its
    real rows unchanged by another filling; without it, the batch is run as it is and onnxruntime's error is the
    caller's (validation reports the fixed batch size).

    Parameters
    ----------
    session : onnxruntime.InferenceSession
        The model.
    outputs : list of str or None
        Output names, or None for all, as ``session.run`` takes them.
    feeds : dict of str to numpy.ndarray
        The inputs, each with the rows on its first axis.
    rows : int
        Rows per run.
    fill_fixed : bool
        Score a model with a fixed batch size in runs of that size.
    fill_advice : callable, optional
        With ``fill_fixed``: ``fill_advice(rows, size)`` says how to leave no run to fill in the refusal of a batch of
        ``rows`` rows that fill_fixed may not fill (default: score a multiple of ``size`` rows, or export a dynamic
        batch axis), whose rows are then counted within the run, not numbered as the data's (a Spark batch).
    fill_checked : bool
        With ``fill_fixed``: the caller ran :func:`fill_changes_answers` on the run this batch ends with already
        (``onnxgate score``, on the data's last rows before a row is written), so it is filled without probing
        it again (two runs of the fixed batch size fewer).

    Returns
    -------
    list
        What ``session.run(outputs, feeds)`` returns.

    Raises
    ------
    UnsupportedModelError
        With ``fill_fixed``: a model whose answer for a row depends on the other rows of its run, given a batch that
        is not a multiple of its fixed batch size (the filling would change the last rows' answers).

    Examples
    --------
    >>> from onnxgate.runtime import run_rows, session
    >>> outs = run_rows(session(model_bytes), None, {"input": X})  # doctest: +SKIP
    """
    sizes = {arr.shape[0] if getattr(arr, "ndim", 0) else -1 for arr in feeds.values()}
    fixed = fixed_rows(session) if fill_fixed and len(sizes) == 1 else None
    if fixed is not None and (total := next(iter(sizes))) > 0 and total != fixed:
        return _run_fixed(session, outputs, feeds, total, fixed, fill_advice, fill_checked)
    rows = _rows_that_fit(session, rows)
    if len(sizes) == 1 and next(iter(sizes)) > 1 and takes_one_row(session):
        rows = 1  # a [1,1] input per column (the form of the SQL targets' own samples): one row per run
    if len(sizes) != 1 or (total := sizes.pop()) <= rows:
        return list(session.run(outputs, feeds))
    import numpy as np

    parts = []
    for start in range(0, total, rows):
        out = session.run(outputs, {name: arr[start:start + rows] for name, arr in feeds.items()})
        size = min(rows, total - start)
        if not all(isinstance(o, np.ndarray) and o.ndim and o.shape[0] == size for o in out):
            return list(session.run(outputs, feeds))  # outputs not one per row: the whole batch at once
        parts.append(out)
    return [np.concatenate(column) for column in zip(*parts)]


def check_outputs_one_row_per_input(outs: list[Any], names: list[str], rows: int) -> None:
    """Refuse outputs without one row per input row (an aggregate over the rows): they cannot be written
    beside the rows they were computed from.

    Raises
    ------
    UnsupportedModelError
        Naming every such output and its row count.
    """
    from onnxgate.errors import UnsupportedModelError

    found = {name: (out.shape[0] if getattr(out, "ndim", 0) else 1) for name, out in zip(names, outs)}
    wrong = {name: n for name, n in found.items() if n != rows}
    if wrong:
        counted = ", ".join(f"{name!r} has {n:,} row{'s' if n != 1 else ''}" for name, n in wrong.items())
        others = [name for name in names if name not in wrong]
        fix = (f"score only the others with --outputs {','.join(others)}" if others
               else "run this model with onnxruntime directly")
        raise UnsupportedModelError(
            f"the model does not return one row per input row: for {rows:,} input rows, output {counted}; "
            f"'score' writes each row's outputs beside it, so it scores only outputs with one row per input row: "
            f"{fix}",
            output=next(iter(wrong)),
        )

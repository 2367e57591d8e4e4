"""``validate``: run a target's checks, parity and search on a model, and collect one Report."""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate import runtime
from onnxgate.conversion import Conversion
from onnxgate.errors import InvalidDataError
from onnxgate.validators.pipeline import CHECKS, PARITY, SEARCH, CheckContext, run_checks
from onnxgate.validators.report import Report
from onnxgate.validators.search.settings import check_search_count, check_search_settings

if TYPE_CHECKING:
    from onnxgate.targets import Target

__all__ = ["CHECKS", "PARITY", "SEARCH", "check_run_settings", "check_search_settings", "refuse_sample_without_rows",
           "validate"]

#: Bytes of a model file read at a time for its hash (:func:`_given_sha256`).
HASH_CHUNK_BYTES = 2**20


def check_run_settings(*, atol: Any = None, rtol: Any = None, search: Any = 0, seed: Any = 0,
                       search_time_limit: Any = None, batch_size: Any = None) -> None:
    """Refuse the numbers a validation run cannot use (a negative tolerance or count, a batch of 0 rows)
    before anything is read: the CLI loaded the reference model first and refused ``--atol -1`` 8-14 s later
    (helper-190). The messages are those of the checks that use the numbers.

    Raises
    ------
    InvalidDataError
        A tolerance is not a finite number >= 0, ``search`` or ``seed`` not a whole number >= 0,
        ``search_time_limit`` not a positive number, or ``batch_size`` not a whole number >= 1.
    """
    if atol is not None or rtol is not None:
        from onnxgate.validators.tolerances import check_tolerance_numbers

        check_tolerance_numbers(atol, rtol)
    check_search_count(search)
    check_search_settings(seed, search_time_limit)
    if batch_size is not None:
        from onnxgate.validators.parity import check_batch_size  # parity's module: only when it is needed

        check_batch_size(batch_size)


def validate(
    model: Any,
    target: str | Target | None = None,
    *,
    reference: Any = None,
    data: Any = None,
    atol: float | Mapping[str, float] | None = None,
    rtol: float | Mapping[str, float] | None = None,
    search: int = 0,
    seed: int = 0,
    batch_size: int | None = None,
    fail_fast: bool = False,
    progress: bool | Callable[[int, int], None] | None = None,
    search_time_limit: float | None = None,
    search_allow_nan: bool | None = None,
    text_variants: bool = True,
) -> Report:
    """Check a model against a deployment target and, with a reference and data, prove parity.

    Every check the target lists runs (in :data:`onnxgate.targets.ALL_CHECKS` order), then
    prediction parity, then the divergence search; the report holds them all and only then
    decides. Nothing is mutated: the model and the data are only read.

    Parameters
    ----------
    model : Conversion, onnx.ModelProto, path or bytes
        The ONNX model. For a ``Conversion``, ``reference`` and ``data`` default to the native model
        and the sample it was converted with.
    target : str or Target, optional
        Where the model will run; default ``"onnxruntime"``.
    reference : object, optional
        The native model to compare with (any registered framework), an ONNX model, or a callable.
    data : array, DataFrame, dict or path, optional
        Rows for parity (``.csv``, ``.parquet`` or ``.npy`` when a path); a polars DataFrame is read as the
        pandas one of the same columns.
    atol, rtol : float or mapping of output name to float, optional
        Parity tolerances (``{"": 1e-5, "probabilities": 1e-4}``); defaults by output type,
        labels exact (see :mod:`onnxgate.validators.parity`).
    search : int
        Budget of generated inputs for the divergence search (0: no search).
    seed : int
        Seed of generated inputs; recorded in the report.
    batch_size : int, optional
        Rows per parity batch.
    fail_fast : bool
        Stop at the first failed check; the rest are reported as skipped.
    progress : bool or callable, optional
        Parity progress bar on stderr (default: only on a terminal), or ``f(done, total)``.
    search_time_limit : float, optional
        Seconds the search may take.
    search_allow_nan : bool, optional
        Whether the search tries NaN and infinity (default: what the target's inputs can hold; see
        :func:`onnxgate.validators.search.check_search_divergences`).
    text_variants : bool
        For a text model (a text vectorizer's tokenizer reads the input), parity and the search also score the
        data's text varied with letters outside ASCII: an 'é' after each word, no-break spaces, Greek capitals,
        the Turkish 'İ' (the default). False for a model that only ever scores text like the data's (ASCII text
        by contract): only the data's own text is scored, and the report says so.

    Returns
    -------
    Report

    Raises
    ------
    InvalidModelError
        The model is not ONNX, is truncated or corrupt (a model that parses but breaks the spec is a
        failed ``model_wellformed`` check instead).
    TargetError
        Unknown target name.
    InvalidDataError
        ``reference`` without ``data``, data that does not fit the inputs, data the reference model
        itself raises on (nothing is compared), bad tolerances.

    Examples
    --------
    >>> import onnxgate as og
    >>> model, X, y = og.zoo.get("sklearn-iris-logreg").build()  # doctest: +SKIP
    >>> conv = og.convert(model, X, opset=15)  # doctest: +SKIP
    >>> report = og.validate(conv, target="container")  # doctest: +SKIP
    >>> report.passed  # doctest: +SKIP
    True
    """
    from onnxgate._onnx import weights_by_path
    from onnxgate.targets import resolve_target

    tgt = resolve_target(target)
    check_run_settings(atol=atol, rtol=rtol, search=search, seed=seed, search_time_limit=search_time_limit,
                       batch_size=batch_size)  # before the model is read
    for flag, value in (("text_variants", text_variants), ("fail_fast", fail_fast)):
        if not isinstance(value, bool):  # fail_fast="no" is true
            raise InvalidDataError(f"{flag}: expected True or False, found {value!r}")
    if progress is not None and not isinstance(progress, bool) and not callable(progress):
        raise InvalidDataError(f"progress: expected True, False, None or a callable f(done, total), found {progress!r}")
    if isinstance(model, Conversion):
        if reference is None:
            reference = model.source
        if data is None:
            data = model.sample
            if reference is not None:
                refuse_sample_without_rows(model)
    if data is not None:  # the data module only when there are rows
        from onnxgate._data import from_polars

        data = from_polars(data)
    # a model above 2 GiB with its external data is checked and run from its files, where one serialization is not
    # needed: not for a SQL target, whose PREDICT reads the model from one varbinary(max) (refused as too large)
    with weights_by_path(enabled=not tgt.is_sql):
        return _validate_loaded(model, tgt, reference, data, atol=atol, rtol=rtol, search=search, seed=seed,
                                batch_size=batch_size, progress=progress, search_time_limit=search_time_limit,
                                search_allow_nan=search_allow_nan, text_variants=text_variants, fail_fast=fail_fast)


def _validate_loaded(model: Any, tgt: Target, reference: Any, data: Any, *, atol: Any, rtol: Any, search: Any,
                     seed: Any, batch_size: Any, progress: Any, search_time_limit: Any, search_allow_nan: Any,
                     text_variants: bool, fail_fast: bool) -> Report:
    """:func:`validate` once its arguments are checked: load the model, run the checks, make the report."""
    from onnxgate._onnx import load_model_and_data_files, model_opsets, serialize, serialized_once, sha256_of
    from onnxgate.signature import Signature

    proto, data_files = load_model_and_data_files(model)
    if data is not None:
        from onnxgate.adaptation.mapping import columns_of_native

        data = columns_of_native(proto, data)  # the layout it was converted from, for an adapted model
    sha = _given_sha256(model)
    signature = Signature.from_model(proto)
    if reference is not None and data is None:
        raise InvalidDataError(
            "a reference model was given without data: parity needs rows to compare on. Pass data= "
            "(CLI: --data FILE)."
        )

    context = CheckContext(
        proto, tgt, reference, data, atol=atol, rtol=rtol, search=search, seed=seed, batch_size=batch_size,
        progress=progress, search_time_limit=search_time_limit, search_allow_nan=search_allow_nan,
        text_variants=text_variants,
    )
    # the checks read one serialization of the model and load it in onnxruntime once, not once each
    with serialized_once(proto), runtime.sessions_shared():
        if sha is None:
            sha = sha256_of(serialize(proto))
        checks = run_checks(context, fail_fast=fail_fast)

    model_info = {
        "sha256": sha,
        "ir_version": int(proto.ir_version),
        "opsets": {("ai.onnx" if d == "" else d): v for d, v in sorted(model_opsets(proto).items())},
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "signature": signature.to_dict(),
        "source": _describe_source(model),
    }
    if data_files:  # the weights are in files beside it: sha256 covers the .onnx file only, these the rest
        model_info["external_data"] = [
            {"file": path.relative_to(Path(model).parent).as_posix(),
             "sha256": _given_sha256(path), "bytes": path.stat().st_size}
            for path in data_files
        ]
    return Report(
        checks=checks,
        target=tgt.name,
        seed=int(seed),
        model=model_info,
        target_profile=tgt.to_dict(),
        environment=_environment(),
    )


def refuse_sample_without_rows(conversion: Conversion) -> None:
    """Refuse a conversion's sample of no rows as the parity data (``og.convert(model, X[:0])``): it was enough to
    convert with, as it fixes the inputs' names and types, but parity needs rows, and said only "the parity data
    has no rows", not that they were the sample's. Called where the sample stands in for data not given
    (:func:`validate`, :func:`onnxgate.package`).

    Raises
    ------
    InvalidDataError
        The sample has no rows; the message says to pass ``data=``.

    Examples
    --------
    >>> refuse_sample_without_rows(og.convert(model, X[:0]))  # doctest: +SKIP
    Traceback (most recent call last):
    InvalidDataError: the conversion's sample has no rows (shape [0, 4]): ...
    """
    from onnxgate._data import num_rows

    sample = conversion.sample
    try:
        rows = num_rows(sample)
    except (TypeError, StopIteration):  # no sample (a TensorFlow signature), or one whose rows are not counted
        return
    if rows == 0:
        shape = getattr(sample, "shape", None)
        found = f" (shape {list(shape)})" if shape is not None else ""
        raise InvalidDataError(
            f"the conversion's sample has no rows{found}: it fixed the model's inputs, but parity, which compares "
            "the ONNX model with the native one on the conversion's sample unless data is given, needs rows. "
            "Pass data= (rows of the features, e.g. data=X[:100])"
        )


def _given_sha256(model: Any) -> str | None:
    """The SHA-256 of the bytes as given (a file's or a buffer's), so it matches ``sha256sum model.onnx``; None for
    a model given otherwise (or a file that can no longer be read). The file is hashed as it is read, not held: a
    500 MB model read whole for its hash was held as a second copy through every check."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return hashlib.sha256(model if isinstance(model, (bytes, bytearray)) else bytes(model)).hexdigest()
    if isinstance(model, (str, os.PathLike)):
        digest = hashlib.sha256()
        try:
            with open(model, "rb") as handle:
                for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
                    digest.update(chunk)
        except OSError:
            return None
        return digest.hexdigest()
    return None


def _describe_source(model: Any) -> str:
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    if isinstance(model, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(model, Conversion):
        return f"Conversion ({model.framework}, opset {model.opset})"
    return type(model).__name__


def _environment() -> dict[str, str]:
    import numpy
    import onnx
    import onnxruntime

    from onnxgate import __version__

    return {
        "onnxgate": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
    }

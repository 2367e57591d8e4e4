"""The onnxruntime session factory (core): every part of onnxgate that runs a model gets its session here."""

from __future__ import annotations

from typing import Any

__all__ = ["ORT_QUIET", "session"]

#: onnxruntime's log level (4 = fatal only): probing a model is expected to fail, and at 3 a rejected
#: model still prints onnxruntime's "[E:onnxruntime...]" lines on the user's stderr.
ORT_QUIET = 4


def session(model: bytes, *, spinning: bool = True) -> Any:
    """An onnxruntime CPU session, quiet; ``spinning=False`` for runs interleaved with other work.

    After each run, onnxruntime's intra-op threads spin for a while waiting for the next one. When
    the next thing to run is the reference framework (parity, the search), those spinning threads
    take the cores its own threads need: measured on 1,000,000 rows of a 64x64 MLP in 16,384-row
    batches, turning spinning off halves the loop's time (bench/bench_parity.py).

    Parameters
    ----------
    model : bytes
        The serialized ONNX model.
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

    options = ort.SessionOptions()
    options.log_severity_level = ORT_QUIET
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])

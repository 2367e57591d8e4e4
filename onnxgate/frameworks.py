"""Lazy framework imports (core), in one place: ``import onnxgate`` imports none of them.

Each function imports its framework when first called and turns a missing package into a
:class:`~onnxgate.errors.MissingDependencyError` that names the extra to install.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

from onnxgate.errors import missing_dependency

__all__ = ["keras", "quiet_tensorflow", "tensorflow", "torch"]

#: A line of TensorFlow's C++ log (absl/glog format): ``I0000 00:00:1796200450.689006   17680 port.cc:153] ...``.
_NATIVE_LOG_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+\s+\d+ [^\s\]]+:\d+\] ")
#: The notice absl prints before its first log line when nothing initialised it.
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ info lines off the terminal; call before TensorFlow is imported.

    TensorFlow prints them on import; only warnings and errors matter to a user. A value the user
    set in ``TF_CPP_MIN_LOG_LEVEL`` is kept.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tensorflow(purpose: str = "Converting a TensorFlow model") -> Any:
    """The ``tensorflow`` module, imported quietly.

    Raises
    ------
    MissingDependencyError
        TensorFlow is not installed; ``purpose`` says what needed it.
    """
    return _quiet_import("tensorflow", "tensorflow-cpu", purpose)


def keras(purpose: str = "Converting a Keras model") -> Any:
    """The ``keras`` module (which imports TensorFlow), imported quietly.

    Raises
    ------
    MissingDependencyError
        Keras is not installed; ``purpose`` says what needed it.
    """
    return _quiet_import("keras", "keras", purpose)


def _quiet_import(module: str, package: str, purpose: str) -> Any:
    """``module`` (TensorFlow or Keras) imported with TensorFlow's C++ log filtered; a missing one is the
    missing-dependency error naming ``package`` and the extra ``tensorflow``."""
    import importlib

    quiet_tensorflow()
    try:
        with _native_log_filtered(module):
            return importlib.import_module(module)
    except ImportError as err:
        raise missing_dependency(package, "tensorflow", purpose) from err


@contextlib.contextmanager
def _native_log_filtered(module: str) -> Iterator[None]:
    """While ``module`` is first imported, drop the C++ log lines ``TF_CPP_MIN_LOG_LEVEL`` asks to hide.

    TensorFlow 2.21 logs through absl before anything reads ``TF_CPP_MIN_LOG_LEVEL``: every import
    wrote "WARNING: All log messages before absl::InitializeLog()..." and "I0000 ... oneDNN custom
    operations are on" twice on file descriptor 2, so every TensorFlow or Keras command of the CLI
    printed four lines before its one. File descriptor 2 goes through a pipe for the import, and a
    thread forwards every line except log records below that level (and absl's notice, which only
    announces them): warnings, errors and anything else the import prints still reach the terminal,
    and a failed import still raises its ``ImportError``.
    """
    level = _min_log_level()
    if module in sys.modules or level < 1:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2: nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward_log, args=(read_end, saved, level), daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the forwarder reads to the end and stops
        forwarder.join(timeout=5)
        os.close(saved)


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _forward_log(read_end: int, target: int, level: int) -> None:
    """Copy lines from ``read_end`` to ``target``, without C++ log records below severity ``level``.

    A record's continuation lines (cpu_feature_guard's "To enable the following instructions...")
    arrive in the same write as the record and go with it.
    """
    pending = b""
    try:
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            dropping = False
            kept = []
            for line in lines:
                record = _NATIVE_LOG_LINE.match(line)
                if record:
                    dropping = "IWEF".index(record.group(1).decode()) < min(level, 3)
                elif line.startswith(_ABSL_PREAMBLE):
                    continue
                if not dropping:
                    kept.append(line + b"\n")
            if kept:
                os.write(target, b"".join(kept))
        if pending:
            os.write(target, pending)
    except OSError:
        pass
    finally:
        os.close(read_end)


def torch(purpose: str = "Converting a PyTorch model") -> Any:
    """The ``torch`` module.

    Raises
    ------
    MissingDependencyError
        PyTorch is not installed; ``purpose`` says what needed it.
    """
    try:
        import torch as module
    except ImportError as err:
        raise missing_dependency("torch", "torch", purpose) from err
    return module

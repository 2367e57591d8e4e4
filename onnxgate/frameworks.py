"""Lazy framework imports (core), in one place: ``import onnxgate`` imports none of them.

Each function imports its framework when first called and turns a missing package into a
:class:`~onnxgate.errors.MissingDependencyError` that names the extra to install.
"""

from __future__ import annotations

import os
from typing import Any

from onnxgate.errors import missing_dependency

__all__ = ["quiet_tensorflow", "tensorflow", "torch"]


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
    quiet_tensorflow()
    try:
        import tensorflow as tf
    except ImportError as err:
        raise missing_dependency("tensorflow-cpu", "tensorflow", purpose) from err
    return tf


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

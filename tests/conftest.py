"""Shared fixtures. Frameworks are imported inside the tests that need them."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _hypothesis_without_timing() -> None:
    """No Hypothesis check that times the machine: a test's outcome must not depend on its speed.

    A garbage collection in a worker that has loaded TensorFlow or PyTorch can stall one draw for a
    second, which Hypothesis's default profile reports as ``FailedHealthCheck: Input generation is
    slow`` (seen on the docs' own example under load). Settings a test gives itself still apply on top.
    """
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return
    settings.register_profile("onnxgate-tests", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("onnxgate-tests")


_hypothesis_without_timing()

"""The onnxgate pytest plugin, loaded through the ``pytest11`` entry point (:mod:`onnxgate.testing._entry_point`),
or by this module's name where onnxgate is not installed (``-p onnxgate.testing.plugin``).

* ``@pytest.mark.onnxgate(target="sql-edge-2.0", search=500, ...)``: defaults for the fixture below.
* ``onnxgate_validate``: a fixture returning ``validate(model, **options) -> Report`` that fails the
  test with every failed check's evidence (``ValidationFailedError``); pass ``raise_on_failure=False``
  to get the report and assert on it yourself. What onnxgate refuses to check (data: ``InvalidDataError``; a file
  that is no ONNX model: ``InvalidModelError``...) fails the test with its message (``pytest.fail``), whatever
  ``raise_on_failure``, as ``parametrize_with_checks``' checks do. The report's summary is attached to the test's
  ``user_properties`` (so it lands in ``--junitxml``).
* ``--onnxgate-seed`` changes the search seed for a whole run (to replay a failure from CI).

This module imports only pytest at load time: every pytest run in an environment with onnxgate
installed loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["OnnxgateSkippedCheck", "onnxgate_validate"]

MARKER = "onnxgate"


def _seed(text: str) -> int:
    """A seed of 0 or more, refused at start-up as a usage error (a negative one failed every test; helper-98)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed of 0 or more, found {text!r}")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("onnxgate")
    group.addoption(
        "--onnxgate-seed",
        type=_seed,
        default=None,
        help="seed for onnxgate's parity search in onnxgate_validate where the test's marker and call give "
             "none (default 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(target=None, reference=None, data=None, atol=None, rtol=None, search=0, seed=0): "
        "defaults for the onnxgate_validate fixture",
    )


@pytest.fixture
def onnxgate_validate(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Validate a model inside a test; fails the test with the evidence when a check fails.

    Examples
    --------
    >>> @pytest.mark.onnxgate(target="sql-edge-2.0")  # doctest: +SKIP
    ... def test_model(onnxgate_validate):
    ...     onnxgate_validate("model.onnx")
    """
    # every marker on the way (module, class, function), the closest winning option by option: a class's
    # target= was dropped when its method had a marker of its own (seed=3)
    defaults: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        if marker.args:
            defaults["target"] = marker.args[0]
        defaults.update(marker.kwargs)
    seed = request.config.getoption("--onnxgate-seed", default=None)
    if seed is not None:
        defaults.setdefault("seed", seed)  # a seed the test writes (marker or call) replays itself

    def validate(model: Any, *, raise_on_failure: bool = True, **options: Any) -> Any:
        # pytest shows the user's line and the evidence, not this body with the fixture's locals (the data)
        __tracebackhide__ = True
        import inspect

        from onnxgate.validators import validate as og_validate

        known = set(inspect.signature(og_validate).parameters) - {"model"}
        for where, given in ((f"@pytest.mark.{MARKER}", defaults), ("onnxgate_validate()", options)):
            unknown = sorted(set(given) - known)
            if unknown:
                pytest.fail(f"{where} got unknown option(s) {unknown}; it takes {sorted(known)}", pytrace=False)
        kwargs = {**defaults, **options}
        target = kwargs.pop("target", None)
        from onnxgate.errors import OnnxGateError
        from onnxgate.testing.checks import refusal

        refused: str | None = None
        try:
            report = og_validate(model, target, **kwargs)
        except OnnxGateError as err:
            refused = refusal(err)
            if refused is None:
                raise
        if refused is not None:
            # a failed test with onnxgate's one message under the user's line, as a failed check shows, not a
            # traceback through onnxgate's frames (failed outside the except: no "during handling" chain)
            pytest.fail(refused)
        request.node.user_properties.append(("onnxgate", report.summary()))
        _warn_skipped_requests(report, kwargs)
        if raise_on_failure and not report.passed:
            from onnxgate.errors import ValidationFailedError
            from onnxgate.testing.parity import format_evidence

            # parity and the search with their worst rows, as assert_parity shows them
            body = "\n".join(format_evidence(c) if c.name in ("prediction_parity", "search_divergences")
                             else f"  {c}" for c in report.failures)
            raise ValidationFailedError(f"{report.summary()}\n{body}", report=report)
        return report

    return validate


def _warn_skipped_requests(report: Any, options: dict[str, Any]) -> None:
    """Warn when parity or the search was asked for (``data=``, ``search=N``) and skipped: the test passed
    with no comparison, and pytest showed it as passed with nothing more (a marker's ``search=300`` with a
    call giving data but no reference: "1 passed", the search skipped; helper-158)."""
    # with -W error the warning is raised here: pytest shows the user's line, not this function's body
    __tracebackhide__ = True
    import warnings

    asked = {"prediction_parity": options.get("data") is not None,
             "search_divergences": bool(options.get("search"))}
    for check in report.checks:
        if check.skipped and asked.get(check.name):
            warnings.warn(f"onnxgate: {check.name} was asked for and skipped: {check.message}",
                          OnnxgateSkippedCheck, stacklevel=3)


class OnnxgateSkippedCheck(UserWarning):
    """A check the test asked ``onnxgate_validate`` for (parity with ``data=``, the search with ``search=N``)
    was skipped, so the test passed without it. Make it an error with
    ``-W error::onnxgate.testing.plugin.OnnxgateSkippedCheck``."""

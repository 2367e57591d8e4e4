"""Opset sweep results: every opset tried, the highest that passes (the sweep: :func:`onnxgate.api.sweep`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxgate.validators.report import SCHEMA_VERSION, jsonable

if TYPE_CHECKING:
    from onnxgate.conversion import Conversion
    from onnxgate.validators.report import Report

__all__ = ["SweepResult", "SweepRow", "row_of"]


@dataclass(frozen=True)
class SweepRow:
    """One opset of a sweep."""

    opset: int
    converted: bool
    stamped_opset: int | None = None
    error: str | None = None
    checks_passed: int = 0
    checks_total: int = 0
    failed_checks: tuple[str, ...] = ()
    parity: str = "not run"  # "passed" | "failed" | "skipped" | "not run"
    parity_max_abs: float | None = None
    passed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SweepResult:
    """Every opset tried, and the highest one whose conversion passed every check."""

    target: str
    rows: tuple[SweepRow, ...]
    framework: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def best_opset(self) -> int | None:
        passing = [r.opset for r in self.rows if r.passed]
        return max(passing) if passing else None

    @property
    def passed(self) -> bool:
        return self.best_opset is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "sweep",
            "target": self.target,
            "framework": self.framework,
            "best_opset": self.best_opset,
            "opsets": [r.to_dict() for r in self.rows],
            **jsonable(dict(self.extra)),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_html(self) -> str:
        """One self-contained HTML page: parity max error and pass/fail per opset, as a plot and a table.

        Raises
        ------
        MissingDependencyError
            matplotlib or Jinja2 is missing: ``pip install 'onnxgate[report]'``.
        """
        from onnxgate.validators.html import render_sweep

        return render_sweep(self)

    def __str__(self) -> str:
        lines = [f"onnxgate sweep  target={self.target}  framework={self.framework}", ""]
        lines.append(f"{'OPSET':>5}  {'CONVERTS':<9} {'TARGET':<8} {'PARITY':<8} {'MAX_ABS':>9}  NOTES")
        for r in self.rows:
            converts = f"yes ({r.stamped_opset})" if r.converted else "no"
            checks = f"{r.checks_passed}/{r.checks_total}" if r.converted else "-"
            max_abs = f"{r.parity_max_abs:.1e}" if r.parity_max_abs is not None else "-"
            notes = r.error or (("failed: " + ", ".join(r.failed_checks)) if r.failed_checks else "")
            mark = "PASS" if r.passed else "FAIL"
            lines.append(f"{r.opset:>5}  {converts:<9} {checks:<8} {r.parity:<8} {max_abs:>9}  {mark} {notes}".rstrip())
        lines.append("")
        if self.best_opset is not None:
            lines.append(f"highest opset that passes everything: {self.best_opset}")
        else:
            lines.append("no opset passes everything")
        return "\n".join(lines)


def row_of(
    opset: int,
    *,
    conversion: Conversion | None = None,
    report: Report | None = None,
    error: BaseException | None = None,
) -> SweepRow:
    """One row of a sweep: the opset's conversion error, or its conversion and validation report.

    :func:`onnxgate.api.sweep` converts and validates; this reads the outcome.
    """
    if conversion is None or report is None:
        return SweepRow(opset=opset, converted=False, error=f"{type(error).__name__}: {error}"[:300])
    target_checks = [c for c in report.checks if c.name != "prediction_parity"]
    parity = next((c for c in report.checks if c.name == "prediction_parity"), None)
    max_abs: float | None = None
    if parity is not None and not parity.skipped:
        values = [
            o["abs"]["max"]
            for o in parity.details.get("outputs", [])
            if o.get("abs") and isinstance(o["abs"].get("max"), (int, float))
        ]
        max_abs = max(values) if values else None
    return SweepRow(
        opset=opset,
        converted=True,
        stamped_opset=conversion.opset,
        checks_passed=sum(1 for c in target_checks if c.passed and not c.skipped),
        checks_total=sum(1 for c in target_checks if not c.skipped),
        failed_checks=tuple(c.name for c in report.failures),
        parity="not run" if parity is None else parity.status,
        parity_max_abs=max_abs,
        passed=report.passed and parity is not None and parity.status == "passed",
    )

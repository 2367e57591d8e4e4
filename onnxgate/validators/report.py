"""``CheckResult`` and ``Report``: every check's verdict with its evidence, in five forms.

The JSON form is versioned (``"schema_version": 1``) and documented in ``docs/report-schema.md``.
JUnit XML gives one ``<testcase>`` per check so a CI system lists them; Markdown is written to be
pasted as a pull-request comment; ``str(report)`` is a table for a terminal; :meth:`Report.to_html`
is one self-contained page with plots (:mod:`onnxgate.validators.html`, the extra ``report``).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from onnxgate.errors import ValidationFailedError

__all__ = ["MAX_EXACT_JSON_INT", "SCHEMA_VERSION", "CheckResult", "Report", "jsonable"]

#: Version of the JSON report layout; bumped on any change a reader would notice.
SCHEMA_VERSION = 1

Status = Literal["passed", "failed", "skipped"]

#: Longest message of a passed or skipped check the terminal table prints before eliding (the JSON keeps the whole
#: message). A failed check's message is printed whole: its cause and how to fix it often come last (a file lacking
#: an input the reference reads said "The file lacks an input the m..." and never what to do).
_TABLE_MESSAGE_WIDTH = 200


#: The largest integer every JSON reader holds exactly: JavaScript and jq (1.6) read a JSON number as a double,
#: so 2**53 + 1 read back as 2**53 (a seed or an int64 value of the evidence, silently another number).
MAX_EXACT_JSON_INT = 2**53 - 1


def jsonable(value: Any) -> Any:
    """``value`` made JSON-safe: numpy scalars and arrays to Python, non-finite floats to strings, and
    integers beyond :data:`MAX_EXACT_JSON_INT` to the strings of their digits.

    JSON has no NaN or infinity, so they are written as the strings ``"nan"``, ``"inf"`` and
    ``"-inf"``; an integer a double cannot hold (``2**53 + 1``) as ``"9007199254740993"``, which every
    reader reads exactly (docs/report-schema.md).
    """
    # the types a report holds most, by their exact type first (a parity's details: thousands of floats, 0.34 ms of
    # 11 ms validating an iris model); their subclasses (bool, numpy's float64) take the general way below
    kind = type(value)
    if kind is float:
        return value if value - value == 0.0 else _nonfinite(value)  # inf - inf and nan - nan are nan
    if kind is int:
        return value if -MAX_EXACT_JSON_INT <= value <= MAX_EXACT_JSON_INT else str(value)
    if kind is str:
        return value if value.isascii() else _utf8(value)
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    if kind is dict:
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, str):
        return _utf8(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if abs(value) <= MAX_EXACT_JSON_INT else str(int(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else _nonfinite(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


def _nonfinite(value: float) -> str:
    """A float that is not finite as :func:`jsonable` writes it: ``"nan"``, ``"inf"`` or ``"-inf"``."""
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def _utf8(text: str) -> str:
    """``text`` without lone surrogates (a file name that is not UTF-8, ``'bad\\udcff.onnx'``): strict JSON
    parsers (jq) refuse their escapes and UTF-8 cannot encode them, so they are written as escaped bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape" if _escaped_bytes(text) else "surrogatepass").decode(
            "utf-8", "backslashreplace")
    return text


def _escaped_bytes(text: str) -> bool:
    """Whether ``text``'s surrogates all stand for bytes (Python's surrogateescape: U+DC80..U+DCFF)."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check.

    Attributes
    ----------
    name : str
        The check's name (``"inputs_element_types"``, ``"prediction_parity"``...).
    passed : bool
        True when the check passed. A skipped check has ``passed=True`` and does not fail a report.
    message : str
        One line naming every offender (input, output or node) when the check failed.
    details : mapping
        Evidence, JSON-safe (see docs/report-schema.md), e.g. ``{"offenders": [...]}``.
    skipped : bool
        The check did not run; ``message`` says why.
    duration : float or None
        Seconds the check took, measured by the pipeline that ran it (:func:`onnxgate.validate`); None for a
        result made by hand. Not part of a result's equality.

    Examples
    --------
    >>> r = CheckResult("opset_within_caps", False, "domain '' opset 18 > 17")
    >>> bool(r)
    False
    >>> str(r)
    "FAILED opset_within_caps  domain '' opset 18 > 17"
    """

    name: str
    passed: bool
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    skipped: bool = False
    duration: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @classmethod
    def skip(cls, name: str, reason: str, **details: Any) -> CheckResult:
        """A skipped check; ``reason`` is mandatory so a reader knows why it did not run."""
        return cls(name, True, reason, details, skipped=True)

    @property
    def status(self) -> Status:
        if self.skipped:
            return "skipped"
        return "passed" if self.passed else "failed"

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __str__(self) -> str:
        return f"{self.status.upper()} {self.name}  {self.message}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": _utf8(self.name),
            "status": self.status,
            "passed": bool(self.passed),
            "skipped": bool(self.skipped),
            "message": _utf8(self.message),
            "details": jsonable(dict(self.details)),
            "duration_seconds": None if self.duration is None else round(float(self.duration), 6),
        }

    # ``dataclass(frozen=True)`` would hash ``details``, a mapping proxy; results are values, not keys.
    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (and deep-copied) with ``details`` as a dict: a mapping proxy pickles not, and a report failed
        to cross a process pool or ``copy.deepcopy`` ("cannot pickle 'mappingproxy' object")."""
        return (CheckResult, (self.name, self.passed, self.message, dict(self.details), self.skipped, self.duration))


@dataclass(frozen=True)
class Report:
    """Every check run on one model for one target, and the overall verdict.

    Attributes
    ----------
    checks : list of CheckResult
        In the order they ran (target checks in :data:`onnxgate.targets.ALL_CHECKS` order, then
        parity, then search).
    target : str
        The target's name.
    seed : int
        The seed used for generated inputs (search); recorded so a run can be repeated.
    model : mapping
        ``sha256``, ``ir_version``, ``opsets``, ``producer``, ``signature``.
    target_profile : mapping
        The target's facts as used (``Target.to_dict()``).
    environment : mapping
        Versions of python, onnx, onnxruntime, numpy and onnxgate.

    Examples
    --------
    >>> import onnxgate as og
    >>> report = og.validate("model.onnx", target="sql-edge-2.0")  # doctest: +SKIP
    >>> report.passed, report.summary()  # doctest: +SKIP
    (True, "PASSED: 10 checks passed for target 'sql-edge-2.0'")
    """

    checks: Sequence[CheckResult]
    target: str
    seed: int = 0
    model: Mapping[str, Any] = field(default_factory=dict)
    target_profile: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", list(self.checks))

    __hash__ = None  # type: ignore[assignment]

    @property
    def passed(self) -> bool:
        """True when no check failed (skipped checks do not fail a report)."""
        return all(c.passed or c.skipped for c in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed and not c.skipped]

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name``.

        Raises
        ------
        KeyError
            No check of that name ran; the message lists those that did.
        """
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r} in this report; checks are {[c.name for c in self.checks]}")

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "skipped": 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def not_checked(self) -> list[str]:
        """What the passing checks say they did not check, one ``what (why)`` each, in check order: their
        ``details["not_checked"]`` (docs/report-schema.md). Empty when there is nothing to say.

        Examples
        --------
        >>> report.not_checked()  # doctest: +SKIP
        ["rows beyond the data's (no search was run, so only the data's 150 rows were compared; ...)"]
        """
        out: list[str] = []
        for c in self.checks:
            if c.passed and not c.skipped:
                out += _not_checked_lines(c)
        return out

    def summary(self) -> str:
        """One line: the verdict, the counts, and the names of the failed checks."""
        counts = self.counts()
        skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
        if self.passed:
            return f"PASSED: {counts['passed']} checks passed{skipped} for target {self.target!r}"
        names = ", ".join(c.name for c in self.failures)
        total = counts["passed"] + counts["failed"]
        return (
            f"FAILED: {counts['failed']} of {total} checks failed ({names}){skipped} "
            f"for target {self.target!r}"
        )

    def raise_for_failures(self) -> Report:
        """Raise :class:`~onnxgate.errors.ValidationFailedError` if a check failed; else return self.

        Raises
        ------
        ValidationFailedError
            With ``.report`` set to this report; the message lists each failed check's line.
        """
        if not self.passed:
            lines = "\n".join(f"  {c}" for c in self.failures)
            raise ValidationFailedError(f"{self.summary()}\n{lines}", report=self)
        return self

    # -- serialised forms -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-safe data, in the schema of docs/report-schema.md."""
        from onnxgate import __version__

        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "onnxgate", "version": __version__},
            "passed": self.passed,
            "summary": _utf8(self.summary()),
            "counts": self.counts(),
            "target": {"name": _utf8(self.target), "profile": jsonable(dict(self.target_profile))},
            "seed": jsonable(int(self.seed)),
            "model": jsonable(dict(self.model)),
            "environment": jsonable(dict(self.environment)),
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON text (``schema_version`` 1; NaN and infinity written as strings)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, allow_nan=False)

    def to_junit(self, *, suite_name: str = "onnxgate") -> str:
        """JUnit XML: one ``<testcase>`` per check, a ``<failure>`` or ``<skipped>`` element as needed.

        The failure's ``message`` attribute is the check's message; its text is the details as JSON. A check's
        measured duration is its testcase's ``time`` (seconds), and their sum the suite's.
        """
        import xml.etree.ElementTree as ET

        counts = self.counts()
        classname = _xml_text(f"{suite_name}.{self.target}")
        timed = [c.duration for c in self.checks if c.duration is not None]
        total = {"time": _junit_time(sum(timed))} if timed else {}
        tally = {"tests": str(len(self.checks)), "failures": str(counts["failed"]), "errors": "0"}
        # <testsuites> takes no 'skipped' in the Jenkins/Surefire schema; <testsuite> does
        root = ET.Element("testsuites", {"name": _xml_text(suite_name), **tally, **total})
        suite = ET.SubElement(root, "testsuite",
                              {"name": classname, **tally, "skipped": str(counts["skipped"]), **total})
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("target", self.target),
            ("seed", str(self.seed)),
            ("model.sha256", str(self.model.get("sha256", ""))),
            ("schema_version", str(SCHEMA_VERSION)),
        ):
            ET.SubElement(props, "property", name=key, value=_xml_text(value))
        for c in self.checks:
            time = {} if c.duration is None else {"time": _junit_time(c.duration)}
            case = ET.SubElement(suite, "testcase", {"classname": classname, "name": _xml_text(c.name), **time})
            message = _xml_text(c.message)
            if c.skipped:
                ET.SubElement(case, "skipped", message=message)
            elif not c.passed:
                failure = ET.SubElement(case, "failure", message=message, type="ValidationFailed")
                failure.text = json.dumps(jsonable(dict(c.details)), indent=2, allow_nan=False)
            else:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join([message, *(f"not checked: {_xml_text(line)}" for line in _not_checked_lines(c))])
        ET.indent(root)
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    def to_markdown(self) -> str:
        """A pull-request comment: a verdict line, a table of checks, and the evidence of each failure."""
        icon = {"passed": "✅", "failed": "❌", "skipped": "⏭️"}
        head = "✅ passed" if self.passed else "❌ failed"
        sha = str(self.model.get("sha256", ""))[:12]
        lines = [
            f"### onnxgate validate: {head}",
            "",
            f"{self.summary()}. Model `sha256:{sha}`, seed {self.seed}.",
            "",
            "| | check | result |",
            "|---|---|---|",
        ]
        for c in self.checks:
            lines.append(f"| {icon[c.status]} | `{c.name}` | {_md_cell(c.message)} |")
        unchecked = self.not_checked()
        if unchecked:
            lines += ["", "**Not checked:**", ""] + [f"- {_md_inline(line)}" for line in unchecked]
        for c in self.failures:
            lines += [
                "",
                f"<details><summary><b>{c.name}</b>: {_md_inline(c.message)}</summary>",
                "",
                "```json",
                json.dumps(jsonable(dict(c.details)), indent=2, allow_nan=False),
                "```",
                "",
                "</details>",
            ]
        return _utf8("\n".join(lines) + "\n")  # the target's and the checks' names, as given

    def to_html(self) -> str:
        """One self-contained HTML page: the verdict, every check, plots of the parity evidence, the
        search's divergences, the target's caps, the model's hash and the environment's versions.

        The page loads nothing from the network and runs no script (a Content-Security-Policy
        forbids both), so it can be archived as a CI artefact and opened from disk.

        Returns
        -------
        str
            The page, to be written as UTF-8 (``onnxgate validate --html F`` does).

        Raises
        ------
        MissingDependencyError
            matplotlib or Jinja2 is missing: ``pip install 'onnxgate[report]'``.

        Examples
        --------
        >>> report = og.validate(conv, reference=model, data=X)  # doctest: +SKIP
        >>> Path("report.html").write_text(report.to_html(), encoding="utf-8")  # doctest: +SKIP
        """
        from onnxgate.validators.html import render_report

        return render_report(self)

    def __str__(self) -> str:
        width = max([len(c.name) for c in self.checks] + [5])
        sha = str(self.model.get("sha256", ""))[:12]
        lines = [f"onnxgate validate  target={self.target}  model sha256:{sha}  seed={self.seed}", ""]
        lines.append(f"{'STATUS':<8} {'CHECK':<{width}}  MESSAGE")
        for c in self.checks:
            message = _one_line(c.message)
            if len(message) > _TABLE_MESSAGE_WIDTH and c.status != "failed":
                message = message[: _TABLE_MESSAGE_WIDTH - 3] + "..."
            lines.append(f"{c.status.upper():<8} {c.name:<{width}}  {message}")
        unchecked = self.not_checked()
        if unchecked:
            lines += [""] + [f"not checked: {_one_line(line)}" for line in unchecked]
        lines += ["", self.summary()]
        return "\n".join(lines)


def _not_checked_lines(check: CheckResult) -> list[str]:
    """``check``'s ``details["not_checked"]`` entries as ``what (why)``."""
    items = check.details.get("not_checked") or ()
    return [f"{i.get('what', '')} ({i.get('why', '')})" for i in items if isinstance(i, Mapping)]


def _junit_time(seconds: float) -> str:
    """Seconds as JUnit readers parse them: a plain decimal, no exponent (Jenkins' schema takes
    ``[0-9]*(.[0-9]*)?``; ``repr`` wrote ``1e-05``)."""
    return f"{max(seconds, 0.0):.3f}"


def _md_inline(text: str) -> str:
    """``text`` on one line of HTML (a ``<summary>``): a carriage return or newline in a model's input name
    ended the line, and with it the table row or the HTML block; ``&``, ``<`` and ``>`` as entities."""
    return html.escape(_one_line(text), quote=False)


def _md_cell(text: str) -> str:
    """``text`` as one table cell that renders as it reads: the pipe and Markdown's inline marks escaped (an
    input named ``__index_level_0__`` rendered in bold as 'index_level_0', ``a\\|b`` as 'a|b')."""
    return _MD_MARKS.sub(r"\\\g<0>", _md_inline(text))


_LINE_BREAKS = re.compile(r"\r\n?|[\n\t]")

#: Characters that start or end Markdown's inline syntax (emphasis, code, links, images, GitHub's
#: strikethrough and math) or a table cell, escaped with a backslash.
_MD_MARKS = re.compile(r"[\\`*_\[\]~$|]")


def _one_line(text: str) -> str:
    """``text`` on one line, without terminal control codes. A model's input named ``'x\\n::error::...'``, listed
    by a passing check, started a line of the console table with ``::``, which GitHub Actions runs as a workflow
    command (an error annotation, ``::add-mask::``, ``::stop-commands::``)."""
    return _LINE_BREAKS.sub(" ", _xml_text(text))


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: Characters XML 1.0 cannot hold, even escaped (C0 controls but tab, newline and carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` as XML 1.0 can hold it: terminal colour codes (a framework's error message quoted in a
    check) dropped, other control characters as U+FFFD; ElementTree would write them as they are and
    the file would not parse. Lone surrogates as :func:`jsonable` writes them: UTF-8 cannot encode them."""
    return _NOT_XML.sub("\ufffd", _ANSI.sub("", _utf8(text)))

"""Report forms: JSON (versioned schema), JUnit parsed with a real XML parser, Markdown, terminal table."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from broken_models import identity_model, wide_input_model

import onnxgate as og
from onnxgate.validators import SCHEMA_VERSION, CheckResult, Report


def _report() -> Report:
    return Report(
        checks=[
            CheckResult("opset_within_caps", True, "opsets ai.onnx 13 within the target's caps"),
            CheckResult(
                "prediction_parity",
                False,
                "output 'variable'  max_abs=3.1e-02 (atol 1e-05)  3/1000 rows",
                {"outputs": [{"name": "variable", "min_rtol": float("inf"), "mean": float("nan")}]},
            ),
            CheckResult.skip("search_divergences", "no reference model given"),
        ],
        target="sql-edge-2.0",
        seed=7,
        model={"sha256": "ab" * 32},
    )


def test_check_result_is_frozen_boolean_and_one_line():
    r = CheckResult("prediction_parity", False, "output 'variable'  max_abs=3.1e-02 (atol 1e-05)  3/1000 rows")
    assert not r and str(r) == "FAILED prediction_parity  output 'variable'  max_abs=3.1e-02 (atol 1e-05)  3/1000 rows"
    with pytest.raises(AttributeError):
        r.passed = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.details["x"] = 1  # type: ignore[index]
    skipped = CheckResult.skip("x", "why")
    assert skipped and skipped.status == "skipped" and str(skipped) == "SKIPPED x  why"


def test_verdict_summary_and_raise_for_failures():
    report = _report()
    assert not report and not report.passed
    assert report.summary() == ("FAILED: 1 of 2 checks failed (prediction_parity), 1 skipped for target 'sql-edge-2.0'")
    with pytest.raises(og.ValidationFailedError, match=r"max_abs=3\.1e-02") as info:
        report.raise_for_failures()
    assert info.value.report is report
    ok = Report(checks=[CheckResult("a", True, "fine")], target="onnxruntime")
    assert ok.raise_for_failures() is ok


def test_json_is_versioned_and_strict():
    data = json.loads(_report().to_json())  # strict JSON: NaN/inf became strings
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["passed"] is False and data["seed"] == 7
    assert data["counts"] == {"passed": 1, "failed": 1, "skipped": 1}
    parity = data["checks"][1]
    assert parity["status"] == "failed" and parity["details"]["outputs"][0]["min_rtol"] == "inf"
    assert parity["details"]["outputs"][0]["mean"] == "nan"
    assert set(data) >= {"tool", "target", "model", "environment", "checks", "summary"}


def test_junit_parses_with_one_testcase_per_check():
    root = ET.fromstring(_report().to_junit())
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["opset_within_caps", "prediction_parity", "search_divergences"]
    failure = cases["prediction_parity"].find("failure")
    assert failure is not None and "3/1000 rows" in failure.get("message", "")
    assert json.loads(failure.text or "")["outputs"][0]["name"] == "variable"
    assert cases["search_divergences"].find("skipped") is not None
    assert cases["opset_within_caps"].find("failure") is None


def test_junit_parses_when_a_message_quotes_terminal_colours_and_control_characters():
    # Keras colours its error messages; a reference failure quoted them into the message attribute raw,
    # and the XML did not parse
    report = Report(checks=[CheckResult("prediction_parity", False, "the reference failed: \x1b[1mValueError\x1b[0m "
                                        "at \x07 here", {"error": "\x1b[1mx\x1b[0m"}),
                            CheckResult("opset_within_caps", True, "ok \x1b[32mgreen\x1b[0m")], target="onnxruntime")
    root = ET.fromstring(report.to_junit())
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "the reference failed: ValueError at \ufffd here"
    assert root.find("testsuite/testcase/system-out") is not None


def test_markdown_has_a_table_and_the_failures_evidence():
    md = _report().to_markdown()
    assert md.startswith("### onnxgate validate: ❌ failed")
    assert "| ❌ | `prediction_parity` |" in md and "| ✅ | `opset_within_caps` |" in md
    assert "<details><summary><b>prediction_parity</b>" in md and '"min_rtol": "inf"' in md


def test_terminal_table_lists_every_check_and_the_summary():
    text = str(og.validate(wide_input_model(3), target="sql-edge-2.0"))
    lines = text.splitlines()
    assert lines[0].startswith("onnxgate validate  target=sql-edge-2.0")
    assert any(line.startswith("FAILED   inputs_one_per_column") for line in lines)
    assert lines[-1].startswith("FAILED: 1 of 10 checks failed (inputs_one_per_column)")


def test_real_report_round_trips_through_json():
    report = og.validate(identity_model(), target="container", seed=3)
    data = json.loads(report.to_json())
    assert [c["name"] for c in data["checks"]] == [c.name for c in report.checks]
    assert data["target"]["profile"]["name"] == "container"
    assert data["environment"]["onnxruntime"]


def test_a_file_name_that_is_not_utf8_leaves_no_lone_surrogate_in_the_json(tmp_path):
    # the report held "bad\udcff.onnx", which parsers that refuse lone surrogates (and UTF-8 itself) reject
    import os

    from onnxgate.cli import main

    folder = os.fsencode(tmp_path)
    model = folder + b"/bad\xff.onnx"
    with open(model, "wb") as handle:
        handle.write(identity_model().SerializeToString())
    report = tmp_path / "r.json"
    assert main(["validate", os.fsdecode(model), "--json", str(report)]) == 0
    text = report.read_bytes().decode("utf-8")
    assert "\\udcff" not in text and "bad\\\\xff.onnx" in text
    json.loads(text)


def test_markdown_table_keeps_one_row_per_check_and_names_as_written():
    # an input name ending in a carriage return (a CSV header written with CRLF) ended the table row: the rest of
    # the message, and the checks after it, fell out of the table; '__index_level_0__' rendered in bold, 'a\|b' lost
    # its backslash
    markdown_it = pytest.importorskip("markdown_it", reason="renders the comment as a Markdown reader does")
    from broken_models import model, vi
    from onnx import TensorProto, helper

    names = ["total\r", "__index_level_0__", "a\\|b", "[x](y)"]
    proto = model([helper.make_node("Identity", [n], [f"out{i}"]) for i, n in enumerate(names)],
                  [vi(n, TensorProto.DOUBLE, ("N", 1)) for n in names],
                  [vi(f"out{i}", TensorProto.DOUBLE, ("N", 1)) for i in range(len(names))])
    report = og.validate(proto, target="sql-edge-2.0")
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(report.to_markdown())
    assert page.count("<tr>") == 1 + len(report.checks)
    assert ("<td>4 inputs: total  float64-&gt;float, __index_level_0__ float64-&gt;float, a\\|b float64-&gt;float, "
            "[x](y) float64-&gt;float</td>") in page


def test_a_check_quoting_a_file_name_that_is_not_utf8_writes_every_form():
    # a check of the user's own naming os.fsdecode(b"bad\xff.csv"): to_junit() and to_markdown() returned text
    # UTF-8 cannot encode (writing the file raised UnicodeEncodeError) and the JSON held '\udcff', which jq refuses
    import os

    message = f"no rows in {os.fsdecode(b'bad' + bytes([0xFF]) + b'.csv')!s}"
    report = Report(checks=[CheckResult("rows_present", False, message)], target="onnxruntime")
    failure = ET.fromstring(report.to_junit().encode("utf-8")).find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "no rows in bad\\xff.csv"
    assert "no rows in bad\\\\xff.csv" in report.to_markdown().encode("utf-8").decode("utf-8")
    text = report.to_json()
    assert "\\udcff" not in text and json.loads(text)["checks"][0]["message"] == "no rows in bad\\xff.csv"


def test_console_table_gives_each_check_one_line_whatever_the_models_names(tmp_path, monkeypatch, capsys):
    # the passing type check lists the inputs' names as they are: a name holding a newline started a line of the
    # CI log with '::error::', which GitHub Actions reads as a workflow command (an annotation failing nothing)
    import onnx
    from broken_models import identity_model

    from onnxgate.cli import main

    monkeypatch.chdir(tmp_path)
    onnx.save(identity_model(name="x\r\n::error title=onnxgate::all checks passed\x1b[2J"), "m.onnx")
    assert main(["validate", "m.onnx", "--target", "sql-edge-2.0"]) == 1  # the name is no SQL identifier
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("::") or "\x1b" in line]
    table = lines[lines.index(next(line for line in lines if line.startswith("STATUS"))) + 1:-2]
    assert len(table) == len(og.validate("m.onnx", target="sql-edge-2.0").checks)
    assert all(line.split()[0] in {"PASSED", "FAILED", "SKIPPED"} for line in table)


def test_junit_leaves_time_out_where_no_duration_was_measured():
    # a report built by hand has no durations: its testcases carry no time rather than a made-up 0
    report = Report(checks=[CheckResult("a", True, "fine"), CheckResult("b", True, "fine", duration=0.25)],
                    target="onnxruntime")
    suite = ET.fromstring(report.to_junit()).find("testsuite")
    assert suite is not None and suite.get("time") == "0.250"
    assert [c.get("time") for c in suite.iter("testcase")] == [None, "0.250"]
    assert [c["duration_seconds"] for c in json.loads(report.to_json())["checks"]] == [None, 0.25]
    assert CheckResult("b", True, "fine", duration=0.25) == CheckResult("b", True, "fine")  # a value, not a timing


def test_a_report_pickles_and_deep_copies_whole():
    # a report failed to cross a process pool or copy.deepcopy: "cannot pickle 'mappingproxy' object" (the details)
    import copy
    import pickle

    report = og.validate(identity_model(), target="sql-edge-1.0")
    assert not report.passed and any(c.details for c in report.checks)
    for copied in (pickle.loads(pickle.dumps(report)), copy.deepcopy(report)):
        assert copied == report and copied.to_json() == report.to_json()
        assert [c.duration for c in copied.checks] == [c.duration for c in report.checks]
        with pytest.raises(TypeError):
            copied.checks[0].details["x"] = 1  # still read-only
    with pytest.raises(og.ValidationFailedError) as info:
        report.raise_for_failures()
    assert pickle.loads(pickle.dumps(info.value)).report == report


def test_jsonable_writes_every_kind_of_value_a_report_holds_as_json_reads_it():
    import numpy as np

    from onnxgate.validators.report import jsonable

    value = {
        "floats": [1.5, float("nan"), float("inf"), -float("inf"), -0.0],
        "numpy": np.array([[1.0, np.nan], [np.inf, -np.inf]]), "scalar": np.float32(0.5), "count": np.int64(2**53 + 1),
        "ints": (2**53 - 1, 2**53 + 1, -(2**53) - 5), "flags": [True, False, None, np.bool_(True)],
        "text": ["plain", "café", "bad\udcff.onnx"], 3: {"nested": ({"deep": float("nan")},)}, "set": {"b", "a"},
        "bytes": b"r\xc3\xa9sum\xc3\xa9",
    }
    assert jsonable(value) == {
        "floats": [1.5, "nan", "inf", "-inf", -0.0],
        "numpy": [[1.0, "nan"], ["inf", "-inf"]], "scalar": 0.5, "count": "9007199254740993",
        "ints": [2**53 - 1, "9007199254740993", "-9007199254740997"], "flags": [True, False, None, True],
        "text": ["plain", "café", "bad\\xff.onnx"], "3": {"nested": [{"deep": "nan"}]}, "set": ["a", "b"],
        "bytes": "résumé",
    }
    assert type(jsonable(True)) is bool and type(jsonable(np.float64(2.0))) in (float, np.float64)

"""The HTML report read as a person would: the verdict, every check, the plots and tables that carry
the evidence, escaping, the parity evidence the plots are drawn from, and the CLI's --html."""

from __future__ import annotations

import html as htmllib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
import report_cases as cases
from broken_models import identity_model

import onnxgate as og
from onnxgate.cli import main
from onnxgate.validators import CheckResult, Report
from onnxgate.validators.html import CONTENT_SECURITY_POLICY
from onnxgate.validators.parity import check_prediction_parity, compare_arrays


class _Page(HTMLParser):
    """Headings, table headers, svgs (with their titles) and any element that would fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[str] = []
        self.th_scopes: list[str | None] = []
        self.svgs: list[dict[str, str | None]] = []
        self.svg_titles: list[str] = []
        self.fetching: list[str] = []
        self._in: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self._in.append(tag)
        self._text = []
        if tag == "th":
            self.th_scopes.append(a.get("scope"))
        if tag == "svg":
            self.svgs.append(a)
        for key in ("src", "href", "action", "data"):
            value = a.get(key) or ""
            if value and not value.startswith(("#", "data:")):
                self.fetching.append(f"{tag} {key}={value}")

    def handle_endtag(self, tag):
        text = "".join(self._text).strip()
        if tag in ("h1", "h2", "h3"):
            self.headings.append(text)
        if tag == "title" and "svg" in self._in:
            self.svg_titles.append(text)
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data):
        self._text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _text(page: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_passing_report_shows_verdict_every_check_and_the_plots():
    report = cases.passing_report()
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert f'http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}"' in htmllib.unescape(page)
    text = _text(page)
    assert "PASSED" in text and report.summary() in text
    for check in report.checks:
        assert check.name in text and check.message in text
    parsed = _parse(page)
    assert parsed.headings[0] == "onnxgate validation report"
    assert {"Checks", "Prediction parity", "Model", "Environment"} <= set(parsed.headings)
    assert all(scope in ("col", "row") for scope in parsed.th_scopes)  # every table header says what it heads
    # probabilities: one histogram figure and the reference/ONNX scatter; labels: a confusion table
    assert len(parsed.svgs) == 2
    assert all(s.get("role") == "img" and s.get("aria-labelledby") for s in parsed.svgs)
    assert parsed.svg_titles == ["Error histograms of output probabilities",
                                 "Reference against ONNX for output probabilities"]
    assert parsed.fetching == [] and "<script" not in page
    assert report.model["sha256"] in page
    for version in report.environment.values():
        assert str(version) in text
    # shapes as the terminal writes them: a symbolic dimension is "?" (it was an empty cell, and a [N]
    # label output read "[]", a scalar)
    for spec in report.model["signature"]["outputs"]:
        shape = "[" + ", ".join("?" if d is None else str(d) for d in spec["shape"]) + "]"
        assert f"<code>{spec['name']}</code></th><td>{spec['elem_type']}</td><td class=\"mono\">{shape}</td>" in page


def test_failing_parity_report_has_the_flips_and_the_worst_rows():
    report = cases.failing_parity_report()
    page = report.to_html()
    text = _text(page)
    assert "FAILED" in text and "prediction_parity" in text
    outputs = {o["name"]: o for o in report.check("prediction_parity").details["outputs"]}
    label = outputs["label"]
    flips = label["mismatched_rows"]
    assert flips > 0 and f"{flips} of {label['rows']} rows flip their label" in text
    counts = np.array(label["confusion"]["counts"])
    assert counts.sum() == label["rows"] and counts.sum() - np.trace(counts) == flips
    # the confusion table shows each count, flips marked
    assert page.count('class="num flip"') == int((counts - np.diag(np.diag(counts)) > 0).sum())
    worst = outputs["probabilities"]["worst_rows"][0]
    assert f">{worst['row']}</th>" in page
    assert "Reference against ONNX for output probabilities" in page


def test_search_report_places_divergences_relative_to_the_splits():
    report = cases.failing_search_report()
    search = report.check("search_divergences")
    assert not search.passed
    placed = [d for d in search.details["divergences"] if d["split"]]
    assert placed, "the planted float32 tree flip must sit next to a split"
    for d in placed:
        assert d["split"]["distance"] == pytest.approx(d["split"]["value"] - d["split"]["raw_threshold"])
        assert abs(d["split"]["distance"]) < 1e-2  # the planted flips hug the thresholds (~1e4)
    page = report.to_html()
    parsed = _parse(page)
    assert "Divergent rows relative to the tree splits" in parsed.svg_titles
    assert "Divergence search" in parsed.headings
    text = _text(page)
    assert repr(placed[0]["split"]["raw_threshold"]) in text  # every digit of the threshold
    assert "input[3]" in text


def test_sweep_page_has_max_error_and_verdict_per_opset():
    result = cases.sweep_result()
    page = result.to_html()
    text = _text(page)
    assert f"highest opset that passes everything for target sql-edge-1.0 is {result.best_opset}" in " ".join(
        text.split())
    rows = re.findall(r'<th scope="row" class="num">(\d+)</th>\s*<td class="status (passed|failed)">', page)
    assert [(int(o), s == "passed") for o, s in rows] == [(r.opset, r.passed) for r in result.rows]
    assert _parse(page).svg_titles == ["Parity max error per opset"]


def test_text_from_the_model_is_escaped():
    hostile = "<script>alert(1)</script>"
    report = Report(
        checks=[CheckResult("opset_within_caps", False, f"node {hostile} & <b>bold</b>",
                            {"offenders": [{"node": hostile}]})],
        target="onnxruntime",
        model={"sha256": "ab" * 32, "source": hostile},
    )
    page = report.to_html()
    assert "<script" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_report_read_back_from_json_renders_the_same_page():
    report = cases.failing_parity_report()
    data = json.loads(report.to_json())
    again = Report(
        checks=[CheckResult(c["name"], c["passed"], c["message"], c["details"], skipped=c["skipped"])
                for c in data["checks"]],
        target=data["target"]["name"], seed=data["seed"], model=data["model"],
        target_profile=data["target"]["profile"], environment=data["environment"],
    )
    assert again.to_html() == report.to_html()


def test_missing_extra_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(og.MissingDependencyError, match=r"matplotlib.*pip install 'onnxgate\[report\]'"):
        cases.passing_report().to_html()


def test_plotting_libraries_load_only_when_a_page_is_rendered():
    code = (
        "import sys, onnx\n"
        "sys.path.insert(0, 'tests/validators')\n"
        "from broken_models import identity_model\n"
        "import onnxgate as og\n"
        "r = og.validate(identity_model())\n"
        "print(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules))\n"
        "r.to_html()\n"
        "print(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    # no parity evidence, nothing to draw: matplotlib stays unloaded even then
    assert out.stdout.split("\n")[:2] == ["[]", "['jinja2']"]


# -- the evidence the plots are drawn from ----------------------------------------------------------


def test_histograms_count_every_value_and_agree_with_the_rule():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(500, 3))
    onnx = ref + rng.normal(scale=1e-5, size=ref.shape)
    onnx[:7, 0] = ref[:7, 0]  # exact matches: the zero bin
    out = compare_arrays(ref, onnx, atol=1e-4, rtol=1e-3).to_dict()
    for kind in ("abs", "rel"):
        h = out["histogram"][kind]
        assert h["bins_per_decade"] == 5
        assert sum(h["counts"]) + h["zero"] + h["inf"] == ref.size
        assert h["zero"] == 7
        # the largest value lies in the last bin
        b, first = h["bins_per_decade"], h["first_edge_log10"]
        top = 10 ** (first + len(h["counts"]) / b)
        assert 10 ** (first + (len(h["counts"]) - 1) / b) <= out[kind]["max"] * (1 + 1e-9) and out[kind]["max"] < top


def test_confusion_counts_match_a_crosstab():
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 4, 300)
    ours = ref.copy()
    flip = rng.random(300) < 0.1
    ours[flip] = (ours[flip] + 1) % 4
    out = compare_arrays(ref, ours, atol=0, rtol=0, exact=True).to_dict()
    expected = np.zeros((4, 4), dtype=int)
    np.add.at(expected, (ref, ours), 1)
    assert out["confusion"]["labels"] == [0, 1, 2, 3]
    assert np.array_equal(np.array(out["confusion"]["counts"]), expected)
    strings = compare_arrays(np.array(["a", "b", "a"], dtype=object), np.array(["a", "a", "a"], dtype=object),
                             atol=0, rtol=0, exact=True).to_dict()
    assert strings["confusion"]["labels"] == ["a", "b"] and strings["confusion"]["counts"] == [[2, 0], [1, 0]]


def test_evidence_does_not_depend_on_batching():
    model, X, conv = cases.iris()
    small = check_prediction_parity(conv.model, model, X, batch_size=7)
    large = check_prediction_parity(conv.model, model, X, batch_size=1000)
    for a, b in zip(small.details["outputs"], large.details["outputs"]):
        for key in ("histogram", "sample", "confusion"):
            assert a.get(key) == b.get(key), key
    probabilities = large.details["outputs"][1]
    assert len(probabilities["sample"]["rows"]) == 100
    assert probabilities["sample"]["rows"] == sorted(set(probabilities["sample"]["rows"]))


# -- the command line --------------------------------------------------------------------------------


def test_validate_html_is_written_and_not_overwritten_without_force(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    model.write_bytes(identity_model().SerializeToString())
    out = tmp_path / "r.html"
    assert main(["validate", str(model), "--html", str(out)]) == 0
    first = out.read_text(encoding="utf-8")
    assert "onnxgate validation report" in first and "PASSED" in first
    out.write_text("mine", encoding="utf-8")
    assert main(["validate", str(model), "--html", str(out)]) == 2
    assert "exist" in capsys.readouterr().err and out.read_text(encoding="utf-8") == "mine"
    assert main(["validate", str(model), "--html", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["validate", str(model), "--html", str(out), "--json", str(out), "--force"]) == 2


def test_sweep_html_is_written_and_refused_when_it_exists(tmp_path, capsys):
    import skops.io as sio

    model, X, _ = cases.iris()
    sio.dump(model, tmp_path / "m.skops")
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "s.html"
    args = ["sweep", str(tmp_path / "m.skops"), "--sample", str(tmp_path / "x.npy"), "--opsets", "12-13",
            "--html", str(out)]
    assert main(args) == 0
    assert "Parity max error per opset" in out.read_text(encoding="utf-8")
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_cli_html_without_the_extra_says_so_before_any_work(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jinja2" else real(name, *a))
    model = tmp_path / "m.onnx"
    model.write_bytes(identity_model().SerializeToString())
    assert main(["validate", str(model), "--html", str(tmp_path / "r.html")]) == 2
    assert "pip install 'onnxgate[report]'" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_many_outputs_draw_only_the_worst_histograms():
    from onnxgate.validators.html import MAX_OUTPUT_FIGURES

    rng = np.random.default_rng(3)
    outputs = []
    for k in range(MAX_OUTPUT_FIGURES + 3):
        ref = rng.normal(size=50)
        scale = 1e-2 if k == MAX_OUTPUT_FIGURES + 2 else 1e-7
        outputs.append(compare_arrays(ref, ref + rng.normal(scale=scale, size=50), atol=1e-4, rtol=1e-3,
                                      name=f"out{k}").to_dict())
    report = Report(checks=[CheckResult("prediction_parity", False, "out14 differs", {"rows": 50, "outputs": outputs})],
                    target="onnxruntime")
    titles = _parse(report.to_html()).svg_titles
    histograms = [t for t in titles if t.startswith("Error histograms")]
    assert len(histograms) == MAX_OUTPUT_FIGURES
    assert f"Error histograms of output out{MAX_OUTPUT_FIGURES + 2}" in histograms  # the failing one is drawn
    assert titles[-1] == f"Reference against ONNX for output out{MAX_OUTPUT_FIGURES + 2}"


def test_a_sparse_hand_built_report_still_renders():
    report = Report(
        checks=[
            CheckResult("prediction_parity", False, "output 'variable'  max_abs=3.1e-02",
                        {"outputs": [{"name": "variable", "min_rtol": float("inf"), "mean": float("nan")}]}),
            CheckResult("search_divergences", False, "2 divergent rows", {"divergences": [{"feature": "x[0]"}]}),
            CheckResult.skip("operators_supported", "no onnxruntime"),
        ],
        target="sql-edge-2.0",
    )
    text = _text(report.to_html())
    assert "FAILED" in text and "variable" in text and "x[0]" in text and "no onnxruntime" in text

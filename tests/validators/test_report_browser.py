"""The HTML report opened in a real browser: headless Chromium, driven over the DevTools protocol.

Each page must load with no console error, no uncaught exception, no CSP violation and no network
request, and draw its plots (every SVG laid out with a size). A full-page screenshot of each is
saved to ``tests/_artifacts/report-html/`` (git-ignored) for a person to look at. The browser is
started by the test and stopped by process id; where Chromium is not installed the module skips
and says how to install it (``scripts/setup-browser.sh``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import report_cases as cases
from _chromium import Browser, find_chromium

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts" / "report-html"

PAGE_CHECKS = {
    "title": "document.title",
    "svgs": "document.querySelectorAll('svg').length",
    "drawn": "[...document.querySelectorAll('svg')].filter(s => {const r = s.getBoundingClientRect();"
             " return r.width > 300 && r.height > 100;}).length",
    "titled": "[...document.querySelectorAll('svg')].filter(s => s.querySelector('title') &&"
              " s.getAttribute('role') === 'img').length",
    "h1": "document.querySelector('h1') && document.querySelector('h1').textContent",
    "images_without_alt": "[...document.querySelectorAll('img:not([alt])')].length",
}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed: run scripts/setup-browser.sh (apt-get install -y chromium) "
                    "to run the browser test")
    chromium = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


CASES = {
    "passing": (lambda: cases.passing_report().to_html(), 2),
    "failing-parity": (lambda: cases.failing_parity_report().to_html(), 2),
    "failing-search": (lambda: cases.failing_search_report().to_html(), 3),
    "sweep": (lambda: cases.sweep_result().to_html(), 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_report_opens_offline_without_errors_and_draws_its_plots(case, browser, tmp_path):
    render, figures = CASES[case]
    page = tmp_path / f"{case}.html"
    page.write_text(render(), encoding="utf-8")
    result = browser.open(page.as_uri(), checks=PAGE_CHECKS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{case}.png").write_bytes(result.screenshot)
    assert result.errors == []
    assert result.network_requests == []
    assert result.checks["svgs"] == result.checks["drawn"] == result.checks["titled"] == figures
    assert result.checks["title"].startswith("onnxgate")
    assert result.checks["h1"].startswith("onnxgate")
    assert result.checks["images_without_alt"] == 0
    assert result.screenshot.startswith(b"\x89PNG") and len(result.screenshot) > 20_000


def test_the_harness_sees_errors_and_requests(browser, tmp_path):
    """A page that logs an error and fetches an image: both must be caught, or the test above proves nothing."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><title>bad</title></head><body>'
        '<img src="http://127.0.0.1:9/pixel.png" alt="x"><script>console.error("boom")</script></body></html>',
        encoding="utf-8",
    )
    result = browser.open(page.as_uri())
    assert "boom" in result.errors
    assert result.network_requests == ["http://127.0.0.1:9/pixel.png"]


def test_the_report_policy_blocks_a_request_and_says_so(browser, tmp_path):
    """The report's Content-Security-Policy turns a would-be request into a reported violation."""
    html = cases.passing_report().to_html().replace("</main>", '<img src="http://127.0.0.1:9/p.png" alt="x"></main>')
    page = tmp_path / "blocked.html"
    page.write_text(html, encoding="utf-8")
    result = browser.open(page.as_uri())
    assert any("Content Security Policy" in e for e in result.errors), result.errors

"""The HTML report: one self-contained file a person reads before deciding to deploy.

:func:`render_report` (``Report.to_html()``, ``onnxgate validate --html F``) and :func:`render_sweep`
(``SweepResult.to_html()``, ``onnxgate sweep --html F``) fill the Jinja2 templates shipped in
``onnxgate/validators/templates`` (autoescaped: every string from a model, a path or a message is
escaped, no HTML is built by string concatenation). Plots are drawn with matplotlib on ``Figure``
objects (no pyplot, no global backend state) and embedded as inline SVG, each with a ``<title>`` and
``<desc>`` read by screen readers. The page carries a Content-Security-Policy that forbids every
network request and every script, so it opens from disk, offline, and shows the same thing anywhere.

What is drawn comes from the report's evidence only (``docs/report-schema.md``): the parity check's
per-output ``histogram`` (absolute and relative error on a log scale, with the atol/rtol lines),
``sample`` (reference against ONNX, and the error against the tolerance boundary), ``confusion``
(label flips) and ``worst_rows``; the divergence search's ``divergences`` with their nearest
``split``; the target profile; the model's hash and the environment's versions. A report read back
from JSON renders the same page.

matplotlib and Jinja2 are the extra ``report``; they are imported when a page is rendered, never
when onnxgate is imported.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.errors import missing_dependency

if TYPE_CHECKING:
    from onnxgate.validators.report import Report
    from onnxgate.validators.sweep import SweepResult

__all__ = ["CONTENT_SECURITY_POLICY", "TEMPLATES", "render_report", "render_sweep", "require_dependencies"]

#: Folder of the Jinja2 templates (package data).
TEMPLATES = Path(__file__).with_name("templates")
#: The page may load nothing and run nothing: inline styles and inline SVG only.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"
#: Outputs whose error histograms are drawn (failing first, then by error over atol); the table lists all.
MAX_OUTPUT_FIGURES = 12
#: Divergences listed in the search table (the report keeps at most 20).
DIVERGENCES_SHOWN = 20
#: Colours (Okabe-Ito, distinguishable with the common colour-vision deficiencies).
_BLUE, _ORANGE, _RED, _GREEN, _GREY = "#0072B2", "#E69F00", "#D55E00", "#009E73", "#666666"


# -- entry points ------------------------------------------------------------------------------------


def render_report(report: Report) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    report : Report

    Returns
    -------
    str
        The page; write it with UTF-8.

    Raises
    ------
    MissingDependencyError
        matplotlib or Jinja2 is not installed (the extra ``report``).

    Examples
    --------
    >>> html = render_report(og.validate("model.onnx"))  # doctest: +SKIP
    >>> html.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    env = _jinja()
    data = report.to_dict()
    checks = data["checks"]
    parity = next((c for c in checks if c["name"] == "prediction_parity" and not c["skipped"]), None)
    search = next((c for c in checks if c["name"] == "search_divergences" and not c["skipped"]), None)
    figures = _Figures()
    view = {
        "title": f"onnxgate report: {'PASSED' if data['passed'] else 'FAILED'} for target {data['target']['name']}",
        "csp": CONTENT_SECURITY_POLICY,
        "report": data,
        "checks": [dict(c, details_json=_pretty(c["details"])) for c in checks],
        "not_checked": report.not_checked(),
        "caps": _caps(data["target"]["profile"]),
        "model": data["model"],
        "signature": data["model"].get("signature") or {},
        "environment": data["environment"],
        "parity": _parity_view(parity, figures) if parity else None,
        "search": _search_view(search, figures) if search else None,
        "max_figures": MAX_OUTPUT_FIGURES,
    }
    return str(env.get_template("report.html.j2").render(**view))


def render_sweep(result: SweepResult) -> str:
    """A sweep's matrix as one self-contained HTML page: max error and pass/fail per opset.

    Raises
    ------
    MissingDependencyError
        matplotlib or Jinja2 is not installed (the extra ``report``).
    """
    env = _jinja()
    data = result.to_dict()
    figures = _Figures()
    rows = data["opsets"]
    view = {
        "title": f"onnxgate sweep: target {data['target']}, "
        + (f"highest passing opset {data['best_opset']}" if data["best_opset"] is not None else "no opset passes"),
        "csp": CONTENT_SECURITY_POLICY,
        "sweep": data,
        "rows": rows,
        "figure": figures.sweep(rows, data["target"]),
        "environment": _environment(),
    }
    return str(env.get_template("sweep.html.j2").render(**view))


# -- dependencies and helpers -----------------------------------------------------------------------


def require_dependencies() -> None:
    """Fail early, naming the extra, when matplotlib or Jinja2 is missing.

    Raises
    ------
    MissingDependencyError
        ``pip install 'onnxgate[report]'`` installs both.
    """
    import importlib.util

    for module, purpose in (("jinja2", "The HTML report"), ("matplotlib", "The HTML report's plots")):
        if importlib.util.find_spec(module) is None:
            raise missing_dependency(module, "report", purpose)


def _jinja() -> Any:
    require_dependencies()
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a hand-built or older report lacks fields: render what is there
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _num
    env.filters["values"] = _values
    env.filters["shape"] = _shape
    env.filters["exact_values"] = _exact_values
    return env


def _pretty(details: Any) -> str:
    return json.dumps(details, indent=2, allow_nan=False)


def _num(value: Any, digits: int = 3) -> str:
    """A number for a table cell: ``1.2e-05``, ``0.25``, ``inf``; anything else as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        if 1e-3 <= abs(value) < 1e5:
            return f"{value:.{digits + 1}g}"
        return f"{value:.{digits - 1}e}"
    return str(value)


def _values(items: Any, limit: int = 12) -> str:
    """A list of values for a table cell, cut after ``limit``."""
    if isinstance(items, Mapping):
        return "; ".join(f"{k}: {_values(v, limit)}" for k, v in items.items())
    if not isinstance(items, (list, tuple)):
        return _num(items)
    shown = ", ".join(_num(v) for v in items[:limit])
    more = f", … {len(items) - limit} more" if len(items) > limit else ""
    return f"[{shown}{more}]"


def _shape(dims: Any) -> str:
    """A tensor shape as the terminal view writes it: ``[?, 4]`` (a symbolic dimension, None in the JSON,
    was an empty cell, and ``[]`` read as a scalar); ``?`` for an unknown rank."""
    if dims is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _exact_values(items: Any, limit: int = 32) -> str:
    """Values as Python writes them (the shortest text that reads back to the same float): inputs and
    thresholds where the seventh digit is the point."""
    if isinstance(items, Mapping):
        return "; ".join(f"{k}: {_exact_values(v, limit)}" for k, v in items.items())
    if isinstance(items, (list, tuple)):
        shown = ", ".join(_exact_values(v, limit) for v in items[:limit])
        more = f", … {len(items) - limit} more" if len(items) > limit else ""
        return f"[{shown}{more}]"
    return repr(items) if isinstance(items, float) else str(items)


def _environment() -> dict[str, str]:
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("onnxgate", "onnx", "onnxruntime", "numpy", "matplotlib", "jinja2"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _caps(profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The target's facts as (label, value) rows, in the order a reader checks them."""

    def show(value: Any, none: str) -> str:
        if value is None:
            return none
        if isinstance(value, Mapping):
            return ", ".join(f"{k or 'ai.onnx'} ≤ {v}" for k, v in value.items()) or none
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value) or "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    rows = [
        ("description", show(profile.get("description"), "")),
        ("runtime", show(profile.get("runtime"), "installed")),
        ("max opset", show(profile.get("max_opset"), "the installed onnxruntime's")),
        ("max IR version", show(profile.get("max_ir_version"), "the installed onnxruntime's")),
        ("input element types", show(profile.get("input_types"), "any")),
        ("output element types", show(profile.get("output_types"), "any")),
        ("input layout", "one [N,1] input per column" if profile.get("input_layout") == "column" else "free"),
        ("tensor outputs only", show(profile.get("outputs_tensor_only"), "no")),
        ("one value per row", show(profile.get("outputs_one_per_row"), "no")),
        ("dynamic batch axis", show(profile.get("dynamic_batch"), "no")),
        ("NaN/inf inputs allowed", show(profile.get("allow_nan"), "yes")),
        ("checks", show(profile.get("checks"), "none")),
    ]
    return [(k, v) for k, v in rows if v] + [("source", s) for s in profile.get("sources") or ()]


def _float(value: Any) -> float:
    """A number from the JSON form (where infinities are the strings ``"inf"``)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


# -- parity -----------------------------------------------------------------------------------------


def _parity_view(check: Mapping[str, Any], figures: _Figures) -> dict[str, Any]:
    details = check["details"]
    every = list(details.get("outputs") or [])
    drawn = {id(o) for o in sorted(every, key=_severity, reverse=True)[:MAX_OUTPUT_FIGURES]}
    outputs = []
    for out in every:
        hist = out.get("histogram") if id(out) in drawn else None
        outputs.append(
            {
                **out,
                "histogram_figure": figures.histograms(out) if hist else None,
                "not_drawn": bool(out.get("histogram")) and id(out) not in drawn,
                "zero_abs": hist["abs"]["zero"] if hist else None,
                "confusion": _confusion_view(out.get("confusion")),
            }
        )
    worst = _worst_output(outputs)
    return {
        "check": check,
        "rows": details.get("rows"),
        "data_sha256": details.get("data_sha256", ""),
        "outputs": outputs,
        "worst": worst["name"] if worst else None,
        "scatter_figure": figures.scatter(worst) if worst else None,
    }


def _severity(o: Mapping[str, Any]) -> tuple[bool, int, float]:
    """Failing first, then more mismatching rows, then the largest error relative to atol."""
    ratio = _float((o.get("abs") or {}).get("max")) / max(_float(o.get("atol")), 1e-300)
    return (not o.get("passed"), int(o.get("mismatched_rows") or 0), ratio if math.isfinite(ratio) else 1e300)


def _worst_output(outputs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The numeric output to draw against the reference: failing first, then the largest error over atol."""
    candidates = [o for o in outputs if o.get("mode") == "tolerance" and o.get("sample")]
    return max(candidates, key=_severity) if candidates else None


def _confusion_view(confusion: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not confusion:
        return None
    labels = list(confusion.get("labels") or [])
    counts = [list(r) for r in confusion.get("counts") or []]
    flips = sum(counts[i][j] for i in range(len(labels)) for j in range(len(labels)) if i != j)
    return {"labels": labels, "counts": counts, "flips": flips, "note": confusion.get("note", "")}


# -- search -----------------------------------------------------------------------------------------


def _search_view(check: Mapping[str, Any], figures: _Figures) -> dict[str, Any]:
    details = check["details"]
    divergences = list(details.get("divergences") or [])
    per_feature: dict[str, int] = {}
    for d in divergences:
        per_feature[str(d.get("feature") or "(several)")] = per_feature.get(str(d.get("feature") or "(several)"), 0) + 1
    rows = []
    for d in divergences[:DIVERGENCES_SHOWN]:
        outs = d.get("outputs") or []
        rows.append({
            "feature": d.get("feature") or "",
            "phase": d.get("phase", ""),
            "row": d.get("row") or {},
            "split": d.get("split"),
            "outputs": [
                f"{o.get('output')}[{o.get('index')}]: {_num(o.get('expected'))} → {_num(o.get('actual'))}"
                + (f" ({o['error']})" if o.get("error") else "")
                for o in outs
            ],
            "explanation": d.get("explanation") or "",
        })
    return {
        "check": check,
        "details": details,
        "phases": details.get("phases") or {},
        "per_feature": sorted(per_feature.items(), key=lambda kv: (-kv[1], kv[0])),
        "divergences": rows,
        "more": max(0, int(details.get("divergent_rows") or 0) - len(rows)),
        "figure": figures.splits(divergences) if any(d.get("split") for d in divergences) else None,
    }


# -- figures ----------------------------------------------------------------------------------------


class _Figures:
    """Draws the report's plots as inline SVG; numbers the figures so their SVG ids never collide."""

    def __init__(self) -> None:
        self.count = 0

    def _svg(self, fig: Any, title: str, desc: str) -> Any:
        """``fig`` as an accessible inline ``<svg>`` (role img, labelled by its ``<title>``)."""
        import matplotlib
        from markupsafe import Markup, escape

        self.count += 1
        prefix = f"og{self.count}-"
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"onnxgate-{self.count}"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        text = buffer.getvalue()
        text = text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG in HTML
        text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
        text = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}{m.group(1)})", text)
        text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
        head_end = text.index(">") + 1
        opening = text[:head_end]
        opening = opening.replace(
            "<svg", f'<svg role="img" aria-labelledby="{prefix}title {prefix}desc" focusable="false"', 1
        )
        # width/height from matplotlib are in pt; let CSS size the figure to the page instead.
        opening = re.sub(r'\s(width|height)="[^"]*"', "", opening)
        labels = Markup('<title id="{0}title">{1}</title><desc id="{0}desc">{2}</desc>').format(
            prefix, escape(title), escape(desc)
        )
        return Markup(opening) + labels + Markup(text[head_end:])

    @staticmethod
    def _figure(width: float, height: float, *, left: float = 0.8, bottom: float = 0.6, top: float = 0.45) -> Any:
        """A figure with fixed margins in inches (a layout engine measured 3x slower for the same page)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height), dpi=100)
        fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=bottom / height, top=1 - top / height,
                            wspace=0.28)
        return fig

    def histograms(self, out: Mapping[str, Any]) -> Any:
        """Absolute and relative error histograms on a log scale with the atol and rtol lines."""
        fig = self._figure(9.0, 3.0)
        axes = fig.subplots(1, 2)
        hist = out["histogram"]
        described = []
        for ax, kind, tol_name in ((axes[0], "abs", "atol"), (axes[1], "rel", "rtol")):
            h = hist[kind]
            tol = _float(out.get(tol_name))
            label = "absolute error |onnx − reference|" if kind == "abs" else "relative error abs / |reference|"
            counts = h.get("counts") or []
            extra = []
            if h.get("zero"):
                extra.append(f"{h['zero']} exactly 0")
            if h.get("inf"):
                extra.append(f"{h['inf']} infinite")
            if counts:
                b = h["bins_per_decade"]
                first = float(h["first_edge_log10"])
                edges = [10 ** (first + i / b) for i in range(len(counts) + 1)]
                ax.stairs(counts, edges, fill=True, color=_BLUE, alpha=0.85, label="values per bin")
                ax.set_xscale("log")
                lo, hi = edges[0], edges[-1]
                if tol > 0:
                    lo, hi = min(lo, tol / 3), max(hi, tol * 3)
                ax.set_xlim(lo, hi)
                described.append(
                    f"{label}: {sum(counts)} nonzero values from {edges[0]:.1e} to {edges[-1]:.1e}"
                )
            else:
                ax.text(0.5, 0.5, "every error is exactly 0" if h.get("zero") else "no values",
                        ha="center", va="center", transform=ax.transAxes, color=_GREY)
                ax.set_xscale("log")
                ax.set_xlim(max(tol, 1e-12) / 100 if tol > 0 else 1e-12, max(tol, 1e-12) * 100 if tol > 0 else 1)
                described.append(f"{label}: every error is exactly 0")
            if tol > 0:
                ax.axvline(tol, color=_RED, linestyle="--", linewidth=1.5, label=f"{tol_name} {tol:g}")
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8, frameon=False)
            ax.set_xlabel(label + (f"  ({', '.join(extra)})" if extra else ""), fontsize=9)
            ax.set_ylabel("values", fontsize=9)
            ax.tick_params(labelsize=8)
        title = f"Error histograms of output {out['name']}"
        desc = (
            "; ".join(described)
            + f". A value fails when its absolute error exceeds atol {out.get('atol')} and its relative error "
            f"exceeds rtol {out.get('rtol')}."
        )
        return self._svg(fig, title, desc)

    def scatter(self, out: Mapping[str, Any]) -> Any:
        """Reference against ONNX on the sampled rows, and the error against the tolerance boundary."""
        sample = out["sample"]
        ref: list[float] = []
        onnx: list[float] = []
        for r_row, o_row in zip(sample["reference"], sample["onnx"]):
            for r, o in zip(r_row, o_row):
                rf, of = _float(r), _float(o)
                if math.isfinite(rf) and math.isfinite(of):
                    ref.append(rf)
                    onnx.append(of)
        worst_ref: list[float] = []
        worst_onnx: list[float] = []
        for row in out.get("worst_rows") or []:
            for r, o in zip(row.get("reference") or [], row.get("onnx") or []):
                rf, of = _float(r), _float(o)
                if math.isfinite(rf) and math.isfinite(of):
                    worst_ref.append(rf)
                    worst_onnx.append(of)
        atol, rtol = _float(out.get("atol")), _float(out.get("rtol"))
        fig = self._figure(9.0, 3.6, top=0.6)
        left, right = fig.subplots(1, 2)
        left.scatter(ref, onnx, s=10, color=_BLUE, alpha=0.7, label=f"sampled rows ({len(sample['rows'])})")
        if worst_ref:
            left.scatter(worst_ref, worst_onnx, s=28, marker="x", color=_RED, label="worst rows")
        every = ref + worst_ref + onnx + worst_onnx
        if every:
            lo, hi = min(every), max(every)
            pad = (hi - lo) * 0.05 or 1.0
            left.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color=_GREY, linewidth=1, label="onnx = reference")
        left.set_xlabel("reference", fontsize=9)
        left.set_ylabel("onnx", fontsize=9)
        left.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8, frameon=False)
        left.tick_params(labelsize=8)

        err = [abs(o - r) for r, o in zip(ref, onnx)]
        werr = [abs(o - r) for r, o in zip(worst_ref, worst_onnx)]
        positive = [e for e in err + werr if e > 0]
        # Exact matches have no place on a log axis: they sit on a floor line below the smallest error.
        floor = min([*positive, atol if atol > 0 else 1.0]) / 10
        zeros = sum(1 for e in err if e == 0)
        right.scatter(ref, [max(e, floor) for e in err], s=10, color=_BLUE, alpha=0.7,
                      label="sampled rows" + (f" ({zeros} exactly equal, drawn at the floor)" if zeros else ""))
        if worst_ref:
            right.scatter(worst_ref, [max(e, floor) for e in werr], s=28, marker="x", color=_RED, label="worst rows")
        right.axhline(floor, color=_GREY, linewidth=0.5, linestyle=":")
        right.set_yscale("log")
        xs = sorted(ref + worst_ref)
        if xs:
            import numpy as np

            grid = np.linspace(xs[0], xs[-1], 200)
            bound = np.maximum(atol, rtol * np.abs(grid))
            if bound.max() > 0:
                right.plot(grid, bound, color=_RED, linestyle="--", linewidth=1.5,
                           label="tolerance: max(atol, rtol·|reference|)")
        right.set_xlabel("reference", fontsize=9)
        right.set_ylabel("|onnx − reference|", fontsize=9)
        right.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=1, fontsize=8, frameon=False)
        right.tick_params(labelsize=8)
        title = f"Reference against ONNX for output {out['name']}"
        desc = (
            f"Left: onnx value against reference value for {len(ref)} sampled values; points on the grey line agree. "
            f"Right: absolute error against the reference value; points above the dashed line fail "
            f"(atol {atol:g}, rtol {rtol:g}). Crosses mark the worst rows."
        )
        return self._svg(fig, title, desc)

    def splits(self, divergences: Sequence[Mapping[str, Any]]) -> Any:
        """Each divergent row's distance to its nearest tree split, in float32 steps at the threshold."""
        import numpy as np

        points = []
        for d in divergences:
            split = d.get("split")
            if not split:
                continue
            threshold = _float(split["raw_threshold"])
            step = float(np.spacing(np.float32(abs(threshold)))) if math.isfinite(threshold) else math.nan
            points.append((str(d.get("feature")), _float(split["distance"]) / step if step > 0 else math.nan))
        points = [(f, x) for f, x in points if math.isfinite(x)]
        features = sorted({f for f, _ in points})
        fig = self._figure(9.0, 1.3 + 0.45 * len(features), left=0.9)
        ax = fig.subplots()
        for i, feature in enumerate(features):
            xs = [x for f, x in points if f == feature]
            ax.scatter(xs, [i] * len(xs), s=36, color=_ORANGE, edgecolor="black", linewidth=0.5, zorder=3,
                       label="divergent row" if i == 0 else None)
        ax.axvline(0.0, color=_RED, linestyle="--", linewidth=1.5, label="the split's threshold")
        span = max([abs(x) for _, x in points] + [1.0]) * 1.15
        ax.set_xlim(-span, span)
        ax.set_yticks(range(len(features)), features, fontsize=8)
        ax.set_ylim(-0.6, len(features) - 0.4)
        ax.set_xlabel("divergent value − nearest split threshold, in float32 steps at the threshold", fontsize=9)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8, frameon=False)
        ax.tick_params(axis="x", labelsize=8)
        title = "Divergent rows relative to the tree splits"
        desc = (
            f"{len(points)} divergent rows on {len(features)} feature(s), each placed by its distance to the "
            "nearest split threshold on that feature, counted in float32 steps (0 is the threshold; within one "
            "step a float32 rounding can land on either side)."
        )
        return self._svg(fig, title, desc)

    def sweep(self, rows: Sequence[Mapping[str, Any]], target: str) -> Any:
        """Parity max error per opset, passing opsets in green, failing ones in red."""
        from matplotlib.ticker import LogLocator, NullFormatter

        fig = self._figure(9.0, 3.4, left=1.0, top=0.5)
        ax = fig.subplots()
        plotted = [(r["opset"], _float(r.get("parity_max_abs")), bool(r.get("passed"))) for r in rows]
        finite = [(o, v, p) for o, v, p in plotted if math.isfinite(v)]
        positive = [v for _, v, _ in finite if v > 0]
        # Whole decades around the data, one more below for exact matches and opsets without parity.
        top = 10 ** (math.ceil(math.log10(max(positive))) + 1) if positive else 1.0
        low = 10 ** (math.floor(math.log10(min(positive))) - 1) if positive else 1e-12
        floor = low * 2
        line = [(o, max(v, floor)) for o, v, _ in finite]
        if line:
            ax.plot([o for o, _ in line], [v for _, v in line], color=_GREY, linewidth=1, zorder=1)
        for passed, color, marker, label in ((True, _GREEN, "o", "passes every check"),
                                             (False, _RED, "X", "fails a check")):
            pts = [(o, max(v, floor)) for o, v, p in finite if p is passed]
            if pts:
                ax.scatter([o for o, _ in pts], [v for _, v in pts], s=60, color=color, marker=marker,
                           label=label, zorder=3, edgecolor="black", linewidth=0.5)
        missing = [o for o, v, _ in plotted if not math.isfinite(v)]
        if missing:
            ax.scatter(missing, [floor] * len(missing), s=60, color="white", edgecolor=_RED, marker="s",
                       label="no parity (did not convert or run)", zorder=3)
        ax.set_yscale("log")
        ax.set_ylim(low, top)
        ax.yaxis.set_major_locator(LogLocator(base=10))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, fontsize=8, frameon=False)
        ax.set_xticks([r["opset"] for r in rows])
        ax.set_xlabel("opset", fontsize=9)
        ax.set_ylabel("parity max |onnx − reference|", fontsize=9)
        ax.tick_params(labelsize=8)
        passing = [str(o) for o, _, p in plotted if p]
        desc = (
            f"Parity maximum absolute error for each of {len(rows)} opsets against target {target}; "
            + (f"opsets passing every check: {', '.join(passing)}." if passing else "no opset passes every check.")
        )
        return self._svg(fig, "Parity max error per opset", desc)


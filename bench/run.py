"""Run every ``bench/bench_*.py``, print one table and write ``bench/results/latest.json``.

Usage::

    .venv/bin/python bench/run.py            # the full suite (several minutes)
    .venv/bin/python bench/run.py --quick    # a smoke run with small sizes
    .venv/bin/python bench/run.py --only cli,convert --quick

Each module runs in its own subprocess (so one benchmark's imports, memory or crash cannot skew or
stop another) and exposes ``main(quick: bool = False) -> list[dict]``; see ``bench/README.md``.
A module that fails is reported in the table and the JSON, and the exit code is 1; goals that are
not met are marked but change the exit code only with ``--strict``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR.parent) not in sys.path:  # so "python bench/run.py" can import bench._util
    sys.path.insert(0, str(BENCH_DIR.parent))

from bench._util import ROW_KEYS, goal_met, machine  # noqa: E402

DEFAULT_OUT = BENCH_DIR / "results" / "latest.json"
DEFAULT_TIMEOUT = 3600.0


def discover(only: list[str] | None = None, skip: list[str] | None = None) -> list[str]:
    """Module names ``bench_*`` in this folder, sorted; ``only``/``skip`` accept ``cli`` or ``bench_cli``."""

    def norm(names: list[str] | None) -> set[str]:
        return {n if n.startswith("bench_") else f"bench_{n}" for n in names or []}

    wanted, unwanted = norm(only), norm(skip)
    found = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    unknown = sorted(wanted - set(found))
    if unknown:
        raise SystemExit(f"run.py: unknown benchmark(s) {unknown}; known: {found}")
    return [m for m in found if (not wanted or m in wanted) and m not in unwanted]


def _check_rows(module: str, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"{module}.main() must return a list of dicts, returned {type(rows).__name__}")
    for r in rows:
        missing = [k for k in ROW_KEYS if k not in r]
        if missing:
            raise TypeError(f"{module}.main() returned a row without {missing}: {r}")
    return rows


def run_child(module: str, quick: bool, out: Path) -> int:
    """Inside the subprocess: import the module, call main, write rows (or the error) as JSON."""
    result: dict[str, Any]
    try:
        mod = importlib.import_module(f"bench.{module}")
        rows = _check_rows(module, mod.main(quick=quick))
        result = {"rows": rows}
    except BaseException as err:  # report anything, including SystemExit and KeyboardInterrupt
        result = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
    out.write_text(json.dumps(result, default=_jsonable))
    return 0 if "rows" in result else 1


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def run_module(module: str, quick: bool, timeout: float) -> dict[str, Any]:
    """Run one module in a subprocess; returns ``{"rows": [...]}`` or ``{"error": ..., ...}``."""
    with tempfile.TemporaryDirectory(prefix="onnxgate-bench-") as tmp:
        out = Path(tmp) / "result.json"
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", module, "--child-out", str(out)]
        if quick:
            argv.append("--quick")
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, cwd=str(BENCH_DIR.parent), timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f}s", "seconds": time.perf_counter() - start}
        elapsed = time.perf_counter() - start
        if out.exists():
            result: dict[str, Any] = json.loads(out.read_text())
        else:
            result = {"error": f"the benchmark process died (exit {proc.returncode}) before reporting"}
        if "error" in result:
            result["stderr"] = proc.stderr[-3000:]
        result["seconds"] = elapsed
        return result


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(rows: list[dict[str, Any]], errors: list[dict[str, Any]]) -> str:
    """The results as an aligned text table (also valid Markdown)."""
    header = ["benchmark", "case", "metric", "value", "unit", "baseline", "ratio", "goal", "ok", "note"]
    lines = []
    for r in rows:
        met = goal_met(r.get("ratio"), r.get("goal"))
        ok = "-" if met is None else ("yes" if met else "NO")
        lines.append([
            str(r["benchmark"]), str(r["case"]), str(r["metric"]), _fmt(r["value"]), str(r["unit"]),
            _fmt(r["baseline"]), "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x",
            str(r.get("goal") or "-"), ok, str(r.get("note") or ""),
        ])
    for e in errors:
        lines.append([e["module"], "-", "FAILED", "-", "-", "-", "-", "-", "ERROR", str(e["error"])[:80]])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats: a smoke run")
    parser.add_argument("--only", help="comma-separated benchmarks to run (cli, bench_parity, ...)")
    parser.add_argument("--skip", help="comma-separated benchmarks to leave out")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per benchmark module")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.quick, args.child_out)

    modules = discover(
        args.only.split(",") if args.only else None, args.skip.split(",") if args.skip else None
    )
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    durations: dict[str, float] = {}
    for module in modules:
        print(f"running {module}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        result = run_module(module, args.quick, args.timeout)
        durations[module] = round(float(result.get("seconds", 0.0)), 2)
        if "error" in result:
            errors.append({"module": module, **{k: v for k, v in result.items() if k != "rows"}})
            print(f"  {module} FAILED: {result['error']}", file=sys.stderr, flush=True)
        else:
            rows.extend(result["rows"])
            print(f"  {module}: {len(result['rows'])} rows in {durations[module]:.1f}s", file=sys.stderr)
    print(table(rows, errors))
    for e in errors:
        print(f"\n{e['module']} failed: {e['error']}\n{e.get('traceback', '')}{e.get('stderr', '')}",
              file=sys.stderr)
    command = " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    document = {
        "started": started,
        "command": command,
        "quick": args.quick,
        "machine": machine(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS",) if k in os.environ},
        "durations_s": durations,
        "rows": rows,
        "errors": errors,
    }
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
        os.replace(tmp, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    missed = [r for r in rows if goal_met(r.get("ratio"), r.get("goal")) is False]
    if errors:
        return 1
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())

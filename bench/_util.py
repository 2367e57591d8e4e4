"""Shared helpers for the benchmarks: median timing, peak memory from /proc, subprocess timing, rows.

Memory is read from ``/proc/self/status`` (``VmRSS``, ``VmHWM``) and the high-water mark is reset
through ``/proc/self/clear_refs``; on a system without them the memory figures are ``None``.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "REPO",
    "ROW_KEYS",
    "current_rss_mb",
    "goal_met",
    "machine",
    "median_time",
    "peak_rss_mb",
    "reset_peak_rss",
    "row",
    "time_command",
]

REPO = Path(__file__).resolve().parent.parent
ROW_KEYS = ("benchmark", "case", "metric", "value", "baseline", "ratio", "goal", "unit")


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_mb() -> float | None:
    """Resident memory of this process now, in MB (``VmRSS``)."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024.0


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process since start or the last :func:`reset_peak_rss`, in MB."""
    kb = _status_kb("VmHWM")
    return None if kb is None else kb / 1024.0


def reset_peak_rss() -> bool:
    """Reset the peak-RSS mark to the current RSS (Linux ``clear_refs`` 5); False when unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def median_time(func: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``func()`` in seconds over ``repeat`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_command(
    argv: Sequence[str], *, repeat: int = 5, warmup: int = 1, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run a command ``repeat`` times; median wall time, median child peak RSS and the exit codes.

    Peak RSS comes from ``wait4``'s rusage for exactly that child.
    """
    times: list[float] = []
    rss: list[float] = []
    codes: list[int] = []
    stderr_tail = ""
    full_env = {**os.environ, **(env or {})}
    for i in range(warmup + max(1, repeat)):
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env, cwd=str(REPO)
        )
        assert proc.stderr is not None
        err = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        proc.stderr.close()
        if i < warmup:
            continue
        times.append(elapsed)
        rss.append(usage.ru_maxrss / 1024.0)
        codes.append(proc.returncode)
        stderr_tail = err.decode(errors="replace")[-500:]
    return {
        "seconds": statistics.median(times),
        "peak_rss_mb": statistics.median(rss),
        "exit_codes": sorted(set(codes)),
        "stderr": stderr_tail,
    }


def row(
    benchmark: str,
    case: str,
    metric: str,
    value: float | None,
    baseline: float | None,
    goal: str | None,
    unit: str,
    **extra: Any,
) -> dict[str, Any]:
    """One result row; ``ratio`` is ``value / baseline`` (None when either is missing or zero).

    ``goal`` reads like ``"<= 1.5"`` and applies to the ratio. Extra keys (``note``...) are kept.
    """
    ratio = None
    if value is not None and baseline:
        ratio = value / baseline
    return {
        "benchmark": benchmark,
        "case": case,
        "metric": metric,
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "goal": goal,
        "unit": unit,
        **extra,
    }


def goal_met(ratio: float | None, goal: str | None) -> bool | None:
    """Whether ``ratio`` satisfies ``goal`` (``"<= 1.5"``, ``">= 0.8"``); None if either is missing."""
    if ratio is None or not goal:
        return None
    op, _, number = goal.strip().partition(" ")
    limit = float(number)
    if op == "<=":
        return ratio <= limit
    if op == ">=":
        return ratio >= limit
    if op == "<":
        return ratio < limit
    if op == ">":
        return ratio > limit
    raise ValueError(f"goal must look like '<= 1.5' or '>= 0.8', found {goal!r}")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            mem_gb = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": sys.version.split()[0],
    }


def python() -> str:
    """The interpreter running the benchmarks (the project's virtualenv when run from it)."""
    return sys.executable


def onnxgate_command() -> list[str]:
    """The installed ``onnxgate`` console script next to this interpreter, else ``python -m onnxgate``."""
    script = Path(sys.executable).with_name("onnxgate")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "onnxgate"]

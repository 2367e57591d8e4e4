"""The search's settings: budgets, phase shares, limits (named constants, read by every phase)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CHECK_NAME",
    "DEFAULT_BUDGET",
    "GRID_POINTS",
    "HYPOTHESIS_MAX_EXAMPLES",
    "LARGE_FACTORS",
    "MAX_BISECT_STEPS",
    "MAX_MINIMISED",
    "MAX_REPORTED",
    "MINIMISE_RESERVE",
    "PHASE_SHARES",
    "SMALL_FACTORS",
    "SPLIT_BASE_ROWS",
    "SPLIT_BRACKET_ULPS",
    "Array",
    "Tolerance",
    "check_search_count",
    "check_search_settings",
]

#: Name of the check in a report.
CHECK_NAME = "search_divergences"
#: Rows tried when a caller asks for a search without a budget.
DEFAULT_BUDGET = 2000
#: Share of the budget each phase may spend before the next one starts; unspent rows roll over.
PHASE_SHARES: Mapping[str, float] = {"float64_splits": 0.15, "tree_splits": 0.35, "edges": 0.15, "boundaries": 0.6,
                                     "hypothesis": 1.0}
#: Hypothesis evaluates one row per example (milliseconds each, plus its own overhead): cap it, and
#: give the rest of the budget to the batched boundary search.
HYPOTHESIS_MAX_EXAMPLES = 200
#: Divergent rows kept in the report (all are counted).
MAX_REPORTED = 20
#: Divergent rows turned into a minimal (shortest decimal) form, each costing up to ~17 rows per feature.
MAX_MINIMISED = 5
#: Rows kept back from the search phases for that (at most a tenth of the budget); the boundary search
#: gets them back when no row diverged.
MINIMISE_RESERVE = 60
#: Grid points per feature for the boundary phase.
GRID_POINTS = 9
#: Data rows, per split, the tree phase starts from (those that reach the split first).
SPLIT_BASE_ROWS = 3
#: Half-width of a bracket around a mapped threshold, in float32 ulps of the threshold.
SPLIT_BRACKET_ULPS = 64
#: Bisection never takes more steps than this (float64 has 52 mantissa bits, plus the exponent walk).
MAX_BISECT_STEPS = 80
#: Multipliers of the data's largest magnitude tried as "large" and "small" edge values.
LARGE_FACTORS = (1e2, 1e4)
SMALL_FACTORS = (1e-4, 1e-8)
Tolerance = float | Mapping[str, float] | None
Array = Any  # numpy arrays; kept loose so the module imports without numpy


def check_search_count(search: Any) -> None:
    """Refuse a number of generated inputs that is not a whole number >= 0.

    Raises
    ------
    InvalidDataError
        ``search`` is negative, or not an integer.
    """
    from onnxgate.errors import InvalidDataError

    if isinstance(search, bool) or not isinstance(search, int) or search < 0:
        raise InvalidDataError(f"search must be an integer >= 0 (a number of generated inputs), found {search!r}; "
                               "give 0 for no search, or a count such as 1000")


def check_search_settings(seed: Any, time_limit: Any) -> None:
    """Refuse a seed or time limit the search cannot use, before any work is done.

    Raises
    ------
    InvalidDataError
        ``seed`` is not a whole number >= 0, or ``time_limit`` is not a positive, finite number.
    """
    from numbers import Integral, Real

    from onnxgate.errors import InvalidDataError

    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise InvalidDataError(f"seed: expected a seed of 0 or more (a whole number), found {seed!r}; give one "
                               "such as 0")
    if time_limit is not None and (
        isinstance(time_limit, bool) or not isinstance(time_limit, Real) or not 0 < float(time_limit) < math.inf
    ):
        raise InvalidDataError(f"search time limit: expected a positive number of seconds, found {time_limit!r}; "
                               "give one such as 60, or leave it out for none")

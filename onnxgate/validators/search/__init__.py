"""Adversarial parity search: go and find the rows where the ONNX model and the reference disagree.

One module per job: :mod:`.settings` (budgets and limits), :mod:`.trees` (tree splits read from the
graph), :mod:`.space` (the row space), :mod:`.engine` (running and comparing rows within the budget),
:mod:`.phases` (the four phases), :mod:`.explain` (minimal rows and explanations) and :mod:`.check`
(:func:`check_search_divergences`, whose docstring describes the search).

Names are imported on first use: :func:`onnxgate.validate` reads :mod:`.settings` on every run, the rest
only when it searches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxgate._lazy import lazy_members

__all__ = ["CHECK_NAME", "DEFAULT_BUDGET", "TreeSplit", "check_search_divergences", "tree_splits"]

_LAZY: dict[str, str] = {
    "CHECK_NAME": "onnxgate.validators.search.settings",
    "DEFAULT_BUDGET": "onnxgate.validators.search.settings",
    "TreeSplit": "onnxgate.validators.search.trees",
    "check_search_divergences": "onnxgate.validators.search.check",
    "tree_splits": "onnxgate.validators.search.trees",
}

if TYPE_CHECKING:
    from onnxgate.validators.search.check import check_search_divergences
    from onnxgate.validators.search.settings import CHECK_NAME, DEFAULT_BUDGET
    from onnxgate.validators.search.trees import TreeSplit, tree_splits


__getattr__, __dir__ = lazy_members(globals(), _LAZY)

"""The examples in the runtime's docstrings run (informers, rules, reconciler, planner)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "meshmirror.effects.backends.informer",
    "meshmirror.decisions.decide",
    "meshmirror.decisions.incremental",
    "meshmirror.effects.reconcile",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

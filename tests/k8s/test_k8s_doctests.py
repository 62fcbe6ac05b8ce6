"""The examples in meshmirror_k8s's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["resources", "credentials", "rbac", "logs"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"meshmirror_k8s.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

"""Hypothesis strategies for label keys, values, requirements and selectors.

One copy only: they live in :mod:`meshmirror.testing` (public, for users' own property
tests); this module re-exports them under the names the label tests use.
"""

from __future__ import annotations

from hypothesis import strategies as st

from meshmirror import testing
from meshmirror.testing import (
    COMMON_KEYS,
    COMMON_VALUES,
    INT64_MAX,
    dns_subdomains,
    int_operands,
    json_like,
    label_keys,
    label_names,
    label_values,
    representable_selectors,
    requirements,
    selector_texts,
    selectors,
)

__all__ = [
    "COMMON_KEYS",
    "COMMON_VALUES",
    "INT64_MAX",
    "dns_subdomains",
    "int_operands",
    "json_like",
    "label_keys",
    "label_names",
    "label_sets",
    "label_values",
    "representable_selectors",
    "requirements",
    "selector_texts",
    "selectors",
]


def label_sets() -> st.SearchStrategy[dict[str, str]]:
    """Label sets over keys that selectors use, with values that exercise ``>``/``<``
    (including values Kubernetes would refuse, which ``matches`` must still judge)."""
    return testing.label_sets(valid=False)

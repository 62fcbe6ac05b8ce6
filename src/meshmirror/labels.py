"""Re-exports :mod:`meshmirror.values.labels`: its stable import path."""

from meshmirror.values.labels import (
    LabelError,
    Operator,
    Requirement,
    Selector,
    SelectorError,
    SelectorTypeError,
    is_valid_key,
    is_valid_value,
    parse_selector,
    validate_key,
    validate_value,
)

__all__ = [
    "LabelError",
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "SelectorTypeError",
    "is_valid_key",
    "is_valid_value",
    "parse_selector",
    "validate_key",
    "validate_value",
]

"""Re-exports :mod:`meshmirror.values.display`: its stable import path."""

from meshmirror.values.display import (
    html_table,
    text_table,
)

__all__ = ["html_table", "text_table"]

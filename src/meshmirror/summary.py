"""Re-exports :mod:`meshmirror.views.summary`: its stable import path."""

from meshmirror.views.summary import (
    LinkSummary,
    Summary,
    summarize,
)

__all__ = ["LinkSummary", "Summary", "summarize"]

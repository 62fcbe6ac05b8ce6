"""Re-exports :mod:`meshmirror.decisions.diff`: its stable import path."""

from meshmirror.decisions.diff import (
    IGNORED_ANNOTATIONS,
    Changes,
    Update,
    diff,
    same,
)

__all__ = ["IGNORED_ANNOTATIONS", "Changes", "Update", "diff", "same"]

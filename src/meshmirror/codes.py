"""Re-exports :mod:`meshmirror.values.codes`: its stable import path."""

from meshmirror.values.codes import (
    Conflict,
    ConflictCode,
    NoticeCode,
    Skip,
    SkipCode,
)

__all__ = ["Conflict", "ConflictCode", "NoticeCode", "Skip", "SkipCode"]

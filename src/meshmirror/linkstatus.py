"""Re-exports :mod:`meshmirror.effects.linkstatus`: its stable import path."""

from meshmirror.effects.linkstatus import (
    LinkStatusWriter,
)

__all__ = ["LinkStatusWriter"]

"""Re-exports :mod:`meshmirror.values.scheme`: its stable import path."""

from meshmirror.values.scheme import (
    LINKERD,
    Scheme,
)

__all__ = ["LINKERD", "Scheme"]

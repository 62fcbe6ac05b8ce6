"""Re-exports :mod:`meshmirror.values.scheme`: its stable import path."""

from meshmirror.values.scheme import *  # noqa: F403
from meshmirror.values.scheme import __all__ as __all__

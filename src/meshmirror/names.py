"""Re-exports :mod:`meshmirror.values.names`: its stable import path."""

from meshmirror.values.names import *  # noqa: F403
from meshmirror.values.names import __all__ as __all__

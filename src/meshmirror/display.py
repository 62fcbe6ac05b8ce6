"""Re-exports :mod:`meshmirror.values.display`: its stable import path."""

from meshmirror.values.display import *  # noqa: F403
from meshmirror.values.display import __all__ as __all__

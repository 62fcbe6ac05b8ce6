"""Re-exports :mod:`meshmirror.values.labels`: its stable import path."""

from meshmirror.values.labels import *  # noqa: F403
from meshmirror.values.labels import __all__ as __all__

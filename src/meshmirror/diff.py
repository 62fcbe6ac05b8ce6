"""Re-exports :mod:`meshmirror.decisions.diff`: its stable import path."""

from meshmirror.decisions.diff import *  # noqa: F403
from meshmirror.decisions.diff import __all__ as __all__

"""Re-exports :mod:`meshmirror.decisions.incremental`: its stable import path."""

from meshmirror.decisions.incremental import *  # noqa: F403
from meshmirror.decisions.incremental import __all__ as __all__

"""Re-exports :mod:`meshmirror.decisions.liveness`: its stable import path."""

from meshmirror.decisions.liveness import *  # noqa: F403
from meshmirror.decisions.liveness import __all__ as __all__

"""Re-exports :mod:`meshmirror.decisions.decide`: its stable import path."""

from meshmirror.decisions.decide import *  # noqa: F403
from meshmirror.decisions.decide import __all__ as __all__

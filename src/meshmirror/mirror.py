"""Re-exports :mod:`meshmirror.decisions.mirror`: its stable import path."""

from meshmirror.decisions.mirror import *  # noqa: F403
from meshmirror.decisions.mirror import __all__ as __all__

"""Re-exports :mod:`meshmirror.decisions.plan`: its stable import path."""

from meshmirror.decisions.plan import *  # noqa: F403
from meshmirror.decisions.plan import __all__ as __all__

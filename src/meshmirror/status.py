"""Re-exports :mod:`meshmirror.decisions.status`: its stable import path."""

from meshmirror.decisions.status import *  # noqa: F403
from meshmirror.decisions.status import __all__ as __all__

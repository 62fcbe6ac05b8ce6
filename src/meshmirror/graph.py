"""Re-exports :mod:`meshmirror.views.graph`: its stable import path."""

from meshmirror.views.graph import *  # noqa: F403
from meshmirror.views.graph import __all__ as __all__

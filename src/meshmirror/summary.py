"""Re-exports :mod:`meshmirror.views.summary`: its stable import path."""

from meshmirror.views.summary import *  # noqa: F403
from meshmirror.views.summary import __all__ as __all__

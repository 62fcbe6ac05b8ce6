"""Re-exports :mod:`meshmirror.views.resolve`: its stable import path."""

from meshmirror.views.resolve import *  # noqa: F403
from meshmirror.views.resolve import __all__ as __all__

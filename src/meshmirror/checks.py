"""Re-exports :mod:`meshmirror.views.checks`: its stable import path."""

from meshmirror.views.checks import *  # noqa: F403
from meshmirror.views.checks import __all__ as __all__

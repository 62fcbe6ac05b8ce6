"""Re-exports :mod:`meshmirror.views.topology`: its stable import path."""

from meshmirror.views.topology import *  # noqa: F403
from meshmirror.views.topology import __all__ as __all__

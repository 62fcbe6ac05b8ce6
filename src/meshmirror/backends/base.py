"""Re-exports :mod:`meshmirror.effects.backends.base`: its stable import path."""

from meshmirror.effects.backends.base import *  # noqa: F403
from meshmirror.effects.backends.base import __all__ as __all__

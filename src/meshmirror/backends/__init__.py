"""Re-exports :mod:`meshmirror.effects.backends`: its stable import path."""

from meshmirror.effects.backends import *  # noqa: F403
from meshmirror.effects.backends import __all__ as __all__

"""Re-exports :mod:`meshmirror.effects.backends.memory`: its stable import path."""

from meshmirror.effects.backends.memory import *  # noqa: F403
from meshmirror.effects.backends.memory import __all__ as __all__

"""Re-exports :mod:`meshmirror.effects.backends.informer`: its stable import path."""

from meshmirror.effects.backends.informer import *  # noqa: F403
from meshmirror.effects.backends.informer import __all__ as __all__

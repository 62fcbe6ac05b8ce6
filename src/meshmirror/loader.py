"""Re-exports :mod:`meshmirror.effects.loader`: its stable import path."""

from meshmirror.effects.loader import *  # noqa: F403
from meshmirror.effects.loader import __all__ as __all__

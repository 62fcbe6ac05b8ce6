"""Re-exports :mod:`meshmirror.effects.render`: its stable import path."""

from meshmirror.effects.render import *  # noqa: F403
from meshmirror.effects.render import __all__ as __all__

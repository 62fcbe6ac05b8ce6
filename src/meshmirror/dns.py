"""Re-exports :mod:`meshmirror.effects.dns`: its stable import path."""

from meshmirror.effects.dns import *  # noqa: F403
from meshmirror.effects.dns import __all__ as __all__

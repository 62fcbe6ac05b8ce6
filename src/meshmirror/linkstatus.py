"""Re-exports :mod:`meshmirror.effects.linkstatus`: its stable import path."""

from meshmirror.effects.linkstatus import *  # noqa: F403
from meshmirror.effects.linkstatus import __all__ as __all__

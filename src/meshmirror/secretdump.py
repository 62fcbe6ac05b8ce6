"""Re-exports :mod:`meshmirror.effects.secretdump`: its stable import path."""

from meshmirror.effects.secretdump import *  # noqa: F403
from meshmirror.effects.secretdump import __all__ as __all__

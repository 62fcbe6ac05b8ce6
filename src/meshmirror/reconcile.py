"""Re-exports :mod:`meshmirror.effects.reconcile`: its stable import path."""

from meshmirror.effects.reconcile import *  # noqa: F403
from meshmirror.effects.reconcile import __all__ as __all__

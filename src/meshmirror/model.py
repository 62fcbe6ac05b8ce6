"""Re-exports :mod:`meshmirror.values.model`: its stable import path."""

from meshmirror.values.model import *  # noqa: F403
from meshmirror.values.model import __all__ as __all__

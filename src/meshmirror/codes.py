"""Re-exports :mod:`meshmirror.values.codes`: its stable import path."""

from meshmirror.values.codes import *  # noqa: F403
from meshmirror.values.codes import __all__ as __all__

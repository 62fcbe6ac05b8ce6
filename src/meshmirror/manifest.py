"""Re-exports :mod:`meshmirror.formats.manifest`: its stable import path."""

from meshmirror.formats.manifest import *  # noqa: F403
from meshmirror.formats.manifest import __all__ as __all__

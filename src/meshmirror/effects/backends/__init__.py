"""Backends: how the reconciler reads and writes clusters (see :mod:`.base`).

The package offers :mod:`.base`'s names (the protocol, its values and its errors).
"""

from meshmirror.effects.backends.base import *  # noqa: F403
from meshmirror.effects.backends.base import __all__ as __all__

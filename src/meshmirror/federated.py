"""Re-exports :mod:`meshmirror.decisions.federated`: its stable import path."""

from meshmirror.decisions.federated import *  # noqa: F403
from meshmirror.decisions.federated import __all__ as __all__

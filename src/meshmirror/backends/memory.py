"""Re-exports :mod:`meshmirror.effects.backends.memory`: its stable import path."""

from meshmirror.effects.backends.memory import (
    DEFAULT_FAULTS,
    FakeCluster,
    Faults,
    Invalid,
)

__all__ = ["DEFAULT_FAULTS", "FakeCluster", "Faults", "Invalid"]

"""Re-exports :mod:`meshmirror.decisions.federated`: its stable import path."""

from meshmirror.decisions.federated import (
    Federation,
    Member,
    federate,
)

__all__ = ["Federation", "Member", "federate"]

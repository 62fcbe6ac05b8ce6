"""Re-exports :mod:`meshmirror.views.resolve`: its stable import path."""

from meshmirror.views.resolve import (
    REASONS,
    Destination,
    Failure,
    Path,
    PeerIdentity,
    Resolution,
    TargetError,
    parse_target,
    resolve,
)

__all__ = [
    "REASONS",
    "Destination",
    "Failure",
    "Path",
    "PeerIdentity",
    "Resolution",
    "TargetError",
    "parse_target",
    "resolve",
]

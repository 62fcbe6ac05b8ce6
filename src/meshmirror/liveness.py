"""Re-exports :mod:`meshmirror.decisions.liveness`: its stable import path."""

from meshmirror.decisions.liveness import (
    DEFAULT_FAILURE_THRESHOLD,
    DEFAULT_TIMEOUT,
    DurationError,
    Liveness,
    ProbeConfig,
    ProbeSpecError,
    go_duration,
    observe,
    parse_duration,
    probe_config,
)

__all__ = [
    "DEFAULT_FAILURE_THRESHOLD",
    "DEFAULT_TIMEOUT",
    "DurationError",
    "Liveness",
    "ProbeConfig",
    "ProbeSpecError",
    "go_duration",
    "observe",
    "parse_duration",
    "probe_config",
]

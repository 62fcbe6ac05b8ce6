"""Re-exports :mod:`meshmirror.decisions.status`: its stable import path."""

from meshmirror.decisions.status import (
    CONDITION_TYPE,
    CONTROLLER_NAME,
    CORE_GROUP,
    REASONS,
    Reason,
    StatusIndex,
    link_status,
    reason_for,
    rfc3339,
    same_status,
)

__all__ = [
    "CONDITION_TYPE",
    "CONTROLLER_NAME",
    "CORE_GROUP",
    "REASONS",
    "Reason",
    "StatusIndex",
    "link_status",
    "reason_for",
    "rfc3339",
    "same_status",
]

"""Re-exports :mod:`meshmirror.decisions.incremental`: its stable import path."""

from meshmirror.decisions.incremental import (
    Name,
    PlanIndex,
    RemoteChange,
    replan,
    replan_names,
)

__all__ = ["Name", "PlanIndex", "RemoteChange", "replan", "replan_names"]

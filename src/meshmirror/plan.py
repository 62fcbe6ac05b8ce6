"""Re-exports :mod:`meshmirror.decisions.plan`: its stable import path."""

from meshmirror.decisions.plan import (
    Plan,
    PlannedObject,
    PlanOptions,
    plan,
)

__all__ = ["Plan", "PlanOptions", "PlannedObject", "plan"]

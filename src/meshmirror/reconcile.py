"""Re-exports :mod:`meshmirror.effects.reconcile`: its stable import path."""

from meshmirror.effects.reconcile import (
    Clock,
    IdleReport,
    LinkStatus,
    ManualClock,
    Outcome,
    Reconciler,
    RunReport,
    WriteRunner,
    run_chain,
    run_sequentially,
)

__all__ = [
    "Clock",
    "IdleReport",
    "LinkStatus",
    "ManualClock",
    "Outcome",
    "Reconciler",
    "RunReport",
    "WriteRunner",
    "run_chain",
    "run_sequentially",
]

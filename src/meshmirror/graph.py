"""Re-exports :mod:`meshmirror.views.graph`: its stable import path."""

from meshmirror.views.graph import (
    MODE_STYLES,
    MODES,
    GraphOptions,
    ModeStyle,
    plan_html,
    to_dot,
    to_mermaid,
)

__all__ = ["MODES", "MODE_STYLES", "GraphOptions", "ModeStyle", "plan_html", "to_dot", "to_mermaid"]

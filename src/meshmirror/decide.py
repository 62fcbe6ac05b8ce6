"""Re-exports :mod:`meshmirror.decisions.decide`: its stable import path."""

from meshmirror.decisions.decide import (
    LinkStatus,
    RemoteView,
    Write,
    held,
    kept_mirrors,
    link_statuses,
    not_ready,
    update_manifest,
    writes,
)

__all__ = [
    "LinkStatus",
    "RemoteView",
    "Write",
    "held",
    "kept_mirrors",
    "link_statuses",
    "not_ready",
    "update_manifest",
    "writes",
]

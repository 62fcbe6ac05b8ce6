"""Re-exports :mod:`meshmirror.decisions.mirror`: its stable import path."""

from meshmirror.decisions.mirror import (
    Gateway,
    Mirror,
    MirrorMode,
    Resolver,
    filter_annotations,
    filter_labels,
    gateway_drop_skips,
    mirror_link,
    resolve_gateway,
    unknown_target_skip,
)

__all__ = [
    "Gateway",
    "Mirror",
    "MirrorMode",
    "Resolver",
    "filter_annotations",
    "filter_labels",
    "gateway_drop_skips",
    "mirror_link",
    "resolve_gateway",
    "unknown_target_skip",
]

"""Re-exports :mod:`meshmirror.effects.render`: its stable import path."""

from meshmirror.effects.render import (
    Drawing,
    GraphvizError,
    dot_render,
    dot_to_svg,
    draw,
    picture,
    svg_size,
    to_svg,
)

__all__ = [
    "Drawing",
    "GraphvizError",
    "dot_render",
    "dot_to_svg",
    "draw",
    "picture",
    "svg_size",
    "to_svg",
]

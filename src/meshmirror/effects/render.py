"""SVG and PNG pictures through Graphviz's ``dot`` binary (runs a subprocess: not pure).

:func:`to_svg` and :func:`picture` raise :class:`GraphvizError` with a clear message when
``dot`` is not installed; :func:`draw` gives notebooks an object that shows the SVG when
it can, and says so (with the Mermaid text) when it cannot.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping

import attrs

from meshmirror.decisions.plan import Plan
from meshmirror.values.model import ClusterState
from meshmirror.views.checks import CheckResult
from meshmirror.views.graph import GraphOptions, to_dot, to_mermaid

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

_FORMATS = ("svg", "png")


class GraphvizError(RuntimeError):
    """``dot`` is missing or failed; the message says what to do instead."""


def dot_render(
    dot_text: str, fmt: str = "svg", *, dot: str = "dot", timeout: float = 60.0
) -> bytes:
    """Render Graphviz text as ``svg`` or ``png`` bytes with the ``dot`` binary."""
    if fmt not in _FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(_FORMATS)}")
    exe = shutil.which(dot)
    if exe is None:
        raise GraphvizError(
            f"{fmt} output needs Graphviz's `{dot}` program, which is not installed or not on "
            "PATH; install Graphviz (apt-get install graphviz, brew install graphviz) or use "
            "-o dot or -o mermaid"
        )
    try:
        proc = subprocess.run(
            [exe, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GraphvizError(f"could not run {exe}: {err}") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip() or "no message"
        raise GraphvizError(f"{exe} failed (exit {proc.returncode}): {message}")
    return proc.stdout


def dot_to_svg(dot_text: str, *, dot: str = "dot", timeout: float = 60.0) -> str:
    """Render Graphviz text to SVG with the ``dot`` binary."""
    return dot_render(dot_text, "svg", dot=dot, timeout=timeout).decode("utf-8")


_SVG_SIZE = re.compile(r'<svg[^>]*?\bwidth="([\d.]+)pt"[^>]*?\bheight="([\d.]+)pt"', re.S)


def svg_size(svg: str) -> tuple[int, int]:
    """The (width, height) in pixels (at 96 dpi, as ``dot -Tpng`` draws it) of an SVG
    that Graphviz made (its size is in points)."""
    found = _SVG_SIZE.search(svg)
    if found is None:
        raise ValueError("not an SVG with width and height in points (Graphviz's)")
    return round(float(found.group(1)) * 96 / 72), round(float(found.group(2)) * 96 / 72)


def picture(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
    *,
    fmt: str = "svg",
    options: GraphOptions | None = None,
    dot: str = "dot",
) -> bytes:
    """The picture of :func:`meshmirror.views.graph.to_dot` as ``svg`` or ``png`` bytes."""
    text = to_dot(plan, source, remotes, checks, options or GraphOptions())
    return dot_render(text, fmt, dot=dot)


def to_svg(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
    *,
    options: GraphOptions | None = None,
    dot: str = "dot",
) -> str:
    """The picture of :func:`meshmirror.views.graph.to_dot` as SVG text."""
    return picture(plan, source, remotes, checks, options=options, dot=dot).decode("utf-8")


@attrs.frozen
class Drawing:
    """A plan's picture for notebooks: SVG when Graphviz is installed, else a message
    saying so and the Mermaid text (``dot`` and ``mermaid`` hold both sources)."""

    dot: str
    mermaid: str

    def svg(self) -> str:
        """The SVG; raises :class:`GraphvizError` without Graphviz."""
        return dot_to_svg(self.dot)

    def _repr_html_(self) -> str:
        try:
            svg = self.svg()
        except GraphvizError as err:
            return (
                f"<p><strong>No picture:</strong> <em>{html.escape(str(err))}</em>. "
                "The same picture as Mermaid text:</p>"
                f'<pre class="mermaid">{html.escape(self.mermaid)}</pre>'
            )
        # Inline in HTML: the <svg> element itself, without the XML prolog and doctype.
        start = svg.find("<svg")
        return svg[start:] if start >= 0 else svg

    def __repr__(self) -> str:
        nodes = sum(1 for line in self.dot.splitlines() if re.match(r"\s+n\d+ \[", line))
        edges = sum(1 for line in self.dot.splitlines() if re.match(r"\s+n\d+ -> ", line))
        return f"<Drawing: {nodes} nodes, {edges} edges (.dot, .mermaid, .svg())>"


def draw(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
    options: GraphOptions | None = None,
) -> Drawing:
    """Both pictures of a plan, checks marked."""
    results = tuple(checks or ())
    opts = options or GraphOptions()
    return Drawing(
        dot=to_dot(plan, source, remotes, results, opts),
        mermaid=to_mermaid(plan, source, remotes, results, opts),
    )

"""SVG pictures through Graphviz's ``dot`` binary (runs a subprocess: not pure).

:func:`to_svg` raises :class:`GraphvizError` with a clear message when ``dot`` is not
installed; :func:`draw` gives notebooks an object that shows the SVG when it can and the
Mermaid text otherwise.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Iterable, Mapping

import attrs

from meshmirror.checks import CheckResult
from meshmirror.graph import to_dot, to_mermaid
from meshmirror.model import ClusterState
from meshmirror.plan import Plan

__all__ = ["Drawing", "GraphvizError", "dot_to_svg", "draw", "to_svg"]


class GraphvizError(RuntimeError):
    """``dot`` is missing or failed; the message says what to do instead."""


def dot_to_svg(dot_text: str, *, dot: str = "dot", timeout: float = 60.0) -> str:
    """Render Graphviz text to SVG with the ``dot`` binary."""
    exe = shutil.which(dot)
    if exe is None:
        raise GraphvizError(
            f"svg output needs Graphviz's `{dot}` program, which is not installed or not on "
            "PATH; install Graphviz (apt-get install graphviz, brew install graphviz) or use "
            "-o dot or -o mermaid"
        )
    try:
        proc = subprocess.run(
            [exe, "-Tsvg"],
            input=dot_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GraphvizError(f"could not run {exe}: {err}") from None
    if proc.returncode != 0:
        raise GraphvizError(
            f"{exe} failed (exit {proc.returncode}): {proc.stderr.strip() or 'no message'}"
        )
    return proc.stdout


def to_svg(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
    *,
    dot: str = "dot",
) -> str:
    """The picture of :func:`meshmirror.graph.to_dot` as SVG."""
    return dot_to_svg(to_dot(plan, source, remotes, checks), dot=dot)


@attrs.frozen
class Drawing:
    """A plan's picture for notebooks: SVG when Graphviz is installed, else the Mermaid
    text (``dot`` and ``mermaid`` hold both sources)."""

    dot: str
    mermaid: str

    def svg(self) -> str:
        """The SVG; raises :class:`GraphvizError` without Graphviz."""
        return dot_to_svg(self.dot)

    def _repr_html_(self) -> str:
        try:
            return self.svg()
        except GraphvizError as err:
            return (
                f"<p><em>{html.escape(str(err))}</em></p>"
                f'<pre class="mermaid">{html.escape(self.mermaid)}</pre>'
            )

    def __repr__(self) -> str:
        return self.mermaid


def draw(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
) -> Drawing:
    """Both pictures of a plan, checks marked."""
    results = tuple(checks or ())
    return Drawing(
        dot=to_dot(plan, source, remotes, results),
        mermaid=to_mermaid(plan, source, remotes, results),
    )

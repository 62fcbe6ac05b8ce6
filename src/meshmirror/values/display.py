"""Tables for terminals and notebooks: aligned text and escaped HTML (pure).

Every result type's text and ``_repr_html_`` views build their tables here, so they all
look alike: a one-line summary first, then a header row and data rows.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["html_table", "text_table"]


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, three spaces apart, one line per row
    (trailing spaces stripped), ending in a newline.

    >>> print(text_table([["A", "BB"], ["ccc", "d"]]), end="")
    A     BB
    ccc   d
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return (
        "\n".join(
            "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )
        + "\n"
    )


def html_table(
    rows: Sequence[Sequence[str]], *, footer: bool = False, classes: Sequence[str] = ()
) -> str:
    """The first row as the header, the rest as data (the last one as a footer when
    ``footer``), every cell escaped. ``classes`` gives the data rows, in order, a CSS
    class each (``""``: none), for a status colour.

    >>> html_table([["kind", "name"], ["Service", "a<b"]])
    '<table><tr><th>kind</th><th>name</th></tr><tr><td>Service</td><td>a&lt;b</td></tr></table>'
    >>> html_table([["status"], ["ok"]], classes=["ok"])
    '<table><tr><th>status</th></tr><tr class="ok"><td>ok</td></tr></table>'
    """

    def row(cells: Sequence[str], tag: str, css: str = "") -> str:
        start = f'<tr class="{html.escape(css)}">' if css else "<tr>"
        return start + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    body = rows[1:-1] if footer and len(rows) > 1 else rows[1:]
    css = [*classes, *[""] * (len(body) - len(classes))]
    out = row(rows[0], "th") + "".join(row(r, "td", c) for r, c in zip(body, css, strict=False))
    if footer and len(rows) > 1:
        out += row(rows[-1], "th")
    return f"<table>{out}</table>"

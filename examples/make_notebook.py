"""Make examples/explore.ipynb from examples/explore.py (the one source), and run it.

The percent-format script is split at its ``# %%`` markers: ``# %% [markdown]`` cells
become Markdown (their ``# `` prefixes removed), the others code; the jupytext header
becomes the notebook's kernelspec. ``--execute`` runs the notebook in a real kernel
(nbclient) and keeps its outputs, as ``nox -s pictures`` does; ``--check`` exits 1 when
the committed notebook's cells differ from the script's.

    python examples/make_notebook.py --execute
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import nbformat

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "explore.py"
NOTEBOOK = HERE / "explore.ipynb"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def cells(script: str) -> list[tuple[str, str]]:
    """(cell type, source) for each ``# %%`` cell of a percent-format script."""
    out: list[tuple[str, list[str]]] = []
    for line in script.splitlines():
        if line.startswith("# %%"):
            out.append(("markdown" if "[markdown]" in line else "code", []))
        elif out:
            out[-1][1].append(line)
    result = []
    for kind, lines in out:
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        result.append((kind, "\n".join(lines).strip("\n")))
    return result


def notebook(script: str) -> Any:
    """The notebook the script stands for, without outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells(script):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source))
    # Stable cell ids: a fresh notebook would get random ones.
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


def execute(nb: Any, *, cwd: Path = HERE, env: dict[str, str] | None = None) -> Any:
    """Run every cell in a fresh kernel; outputs are kept in ``nb``."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name=KERNELSPEC["name"],
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    if env is None:
        client.execute()
    else:
        client.execute(env=env)
    return nb


def same_cells(a: Any, b: Any) -> bool:
    """Whether two notebooks have the same cells (type and source), outputs aside."""
    return [(c.cell_type, c.source) for c in a.cells] == [(c.cell_type, c.source) for c in b.cells]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="run it and keep outputs")
    parser.add_argument("--check", action="store_true", help="compare cells, write nothing")
    args = parser.parse_args(argv)
    nb = notebook(SCRIPT.read_text(encoding="utf-8"))
    if args.check:
        committed = nbformat.read(NOTEBOOK, as_version=4)
        if not same_cells(nb, committed):
            print(f"{NOTEBOOK.name} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    if args.execute:
        execute(nb)
    nbformat.write(nb, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""examples/explore.ipynb is a real notebook, made from examples/explore.py (the one
source) and run here by a real kernel (nbclient + ipykernel): it loads the example,
plans, checks, resolves with a what-if and draws, and its outputs are checked. The script
runs on its own too, and the committed notebook's cells and text outputs match a fresh
run, so neither can rot."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import runpy
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPT = EXAMPLES / "explore.py"
NOTEBOOK = EXAMPLES / "explore.ipynb"

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


@functools.cache
def maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_notebook", EXAMPLES / "make_notebook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outputs(nb: Any) -> list[dict[str, str]]:
    """Every code cell's outputs, each as {mime type: text} (streams as text/plain)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for o in cell.outputs:
            assert o.output_type != "error", "".join(o.get("traceback", []))
            if o.output_type == "stream":
                out.append({"text/plain": o.text})
            else:
                out.append({k: v if isinstance(v, str) else str(v) for k, v in o.data.items()})
    return out


def fresh(env: dict[str, str] | None = None) -> Any:
    m = maker()
    return m.execute(m.notebook(SCRIPT.read_text(encoding="utf-8")), cwd=EXAMPLES, env=env)


@functools.cache
def executed() -> Any:
    return fresh()


def test_notebook_is_made_from_the_script() -> None:
    m = maker()
    made = m.notebook(SCRIPT.read_text(encoding="utf-8"))
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert m.same_cells(made, committed), "run `python examples/make_notebook.py --execute`"
    assert committed.metadata["kernelspec"]["name"] == "python3"
    kinds = [c.cell_type for c in committed.cells]
    assert kinds.count("markdown") >= 8 and kinds.count("code") >= 8
    nbformat.validate(committed)


def test_notebook_runs_in_a_real_kernel() -> None:
    views = outputs(executed())
    plain = [v.get("text/plain", "") for v in views]
    pages = [v.get("text/html", "") for v in views]

    # Every result type shows a one-line summary first, then tables.
    firsts = [text.splitlines()[0] for text in plain]
    for prefix in (
        "<ClusterState west: 2 namespaces",
        "<Topology ",
        "<Summary plan for west: 2 links",
        "<Plan for west: 4 mirrors",
        "<Changes: 8 to create",
        "<CheckReport for west: ",
        "<Resolution shop/web-east in west is a gateway-mode mirror",
        "<Resolution shop/cart-federated in west is a federated Service",
        "<Drawing: ",
    ):
        assert any(f.startswith(prefix) for f in firsts), prefix
    for text in plain:
        assert len(text.splitlines()[0]) < 200, text.splitlines()[0]
    for page in pages[:-1]:
        assert "<table>" in page, page[:200]

    summary = next(p for p in pages if "plan for west" in p and "TOTAL" in p)
    assert "<td>linkerd-multicluster/east</td>" in summary
    assert "NamespaceMissing=1,NotOwned=1" in summary
    report = next(p for p in pages if "meshmirror check" in p)
    assert "flat-network" in report and "×" in report

    # The what-if: with east down, the federated Service still reaches west and north.
    what_if = [p for p in pages if "shop/cart-federated in west is a federated Service" in p][-1]
    assert re.findall(r"<tr><td>(\w+)</td>", what_if) == ["west"]
    assert "<code>NoEndpoints</code> east: east is marked unreachable" in what_if
    assert "<code>NotFlat</code> north" in what_if

    # The picture, inline as SVG when Graphviz is installed.
    picture = pages[-1]
    if shutil.which("dot") is not None:
        assert picture.startswith("<svg"), picture[:200]
        assert "<svg" in picture and "cluster west (source)" in picture
    else:
        assert "No picture" in picture and "Graphviz" in picture
        assert '<pre class="mermaid">flowchart LR' in picture


@pytest.mark.skipif(shutil.which("dot") is None, reason="the run above was without Graphviz")
def test_notebook_says_so_without_graphviz(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # the kernel finds no `dot`
    picture = outputs(fresh(env))[-1]["text/html"]
    assert "No picture" in picture and "Graphviz" in picture
    assert "apt-get install graphviz" in picture
    assert '<pre class="mermaid">flowchart LR' in picture


def test_committed_outputs_match_a_fresh_run() -> None:
    committed = outputs(nbformat.read(NOTEBOOK, as_version=4))
    now = outputs(executed())
    assert [o.get("text/plain") for o in committed] == [o.get("text/plain") for o in now], (
        "run `python examples/make_notebook.py --execute`"
    )
    # Tables are the same too; the picture's SVG depends on the Graphviz version.
    assert [o.get("text/html") for o in committed[:-1]] == [o.get("text/html") for o in now[:-1]]


def test_explore_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out
    p = namespace["p"]
    assert p.source == "west" and p.objects
    assert "Status check results are" in out
    assert "TOTAL" in out and "linkerd-multicluster/east" in out
    for target, resolution in namespace["resolutions"].items():
        assert resolution.target == target
        assert f"{target} in west is" in out
    assert namespace["what_if"].kind == "federated"
    assert "east" not in {d.cluster for d in namespace["what_if"].destinations}
    assert namespace["picture"].mermaid.startswith("flowchart")
    assert "<Drawing: " in out
    assert sys.modules.get("IPython") is None or namespace["_display"] is None

"""examples/explore.py (a percent-format notebook) runs from top to bottom, so it never
rots: it loads the example topology, plans, checks, resolves and draws."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "explore.py"
TOPOLOGY = ROOT / "examples" / "topology"


@pytest.mark.skipif(
    not all((TOPOLOGY / f).exists() for f in ("west.yaml", "east.yaml", "north.yaml")),
    reason="the example topology is not there",
)
def test_explore_notebook_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out

    p = namespace["p"]
    assert p.source == "west"
    assert p.objects
    report = namespace["report"]
    assert len(report) > 0
    assert "Status check results are" in out
    resolutions = namespace["resolutions"]
    assert set(resolutions) == {
        "shop/web-east",
        "shop/api-east",
        "shop/cart-federated",
        "shop/cart",
    }
    for target, resolution in resolutions.items():
        assert resolution.target == target
        assert f"{target} in west is" in out
    assert namespace["what_if"].kind == "federated"
    assert "east" not in {d.cluster for d in namespace["what_if"].destinations}
    mermaid = namespace["mermaid"]
    assert mermaid.startswith("flowchart")
    assert mermaid in out
    assert namespace["picture"].mermaid == mermaid


def test_explore_is_a_percent_notebook() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    assert "format_name: percent" in text
    assert text.count("# %%") >= 8
    assert "# %% [markdown]" in text

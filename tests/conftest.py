"""Shared test set-up: hypothesis profiles.

`ci` (what `nox -s tests` uses) bounds the slow property and stateful tests so the whole
suite stays well under CI's budget on 2 cores; `soak` (`nox -s soak`) runs far more.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "soak",
    max_examples=5000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

E2E = Path(__file__).parent / "e2e"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The end-to-end suite (real apiservers, minutes) runs only when asked for by path
    (``nox -s e2e``, ``pytest tests/e2e``), never in the default run."""
    if collection_path != E2E:
        return None
    here = config.invocation_params.dir
    asked = [(here / str(arg).split("::")[0]).resolve() for arg in config.args]
    return not any(p == E2E or E2E in p.parents for p in asked)


@pytest.fixture
def graphviz_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A `dot` on PATH: Graphviz's when installed, else a stand-in that checks the input
    with pydot (an independent DOT parser) and prints a minimal SVG, so the rendering
    path is always exercised rather than skipped."""
    real = shutil.which("dot")
    if real is not None:
        return real
    shim = tmp_path / "bin" / "dot"
    shim.parent.mkdir()
    shim.write_text(
        f"#!{sys.executable}\n"
        "import sys, pydot\n"
        "text = sys.stdin.read()\n"
        "try:\n"
        "    graphs = pydot.graph_from_dot_data(text)\n"
        "except Exception as exc:\n"
        "    graphs = None\n"
        "if not graphs:\n"
        "    sys.stderr.write('Error: syntax error in DOT input\\n')\n"
        "    sys.exit(1)\n"
        "sys.stdout.write('<svg xmlns=\"http://www.w3.org/2000/svg\"><title>%s</title></svg>\\n'"
        " % graphs[0].get_name())\n"
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return str(shim)

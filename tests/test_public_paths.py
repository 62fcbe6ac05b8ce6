"""The public import paths and names the layer move and the renames kept: old names are
the same objects as the new ones, and the loader's functions do what the CLI's did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from meshmirror.effects import loader
from meshmirror.values.model import ArgumentError

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples" / "topology"


def test_importing_a_module_path_never_hides_the_root_functions() -> None:
    """``import meshmirror.plan`` must not replace the function ``meshmirror.plan``."""
    code = (
        "import meshmirror.plan, meshmirror.diff\n"
        "from meshmirror.plan import Plan\n"
        "import meshmirror\n"
        "print(callable(meshmirror.plan), callable(meshmirror.diff),"
        " meshmirror.plan.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
    ).stdout.split()
    assert out == ["True", "True", "meshmirror.decisions.plan"]


def test_renamed_names_are_the_same_objects() -> None:
    from meshmirror.backends import Conflict, WriteConflict
    from meshmirror.codes import Conflict as FederatedConflict
    from meshmirror.testing import PlanInputs, Topology

    assert Conflict is WriteConflict and WriteConflict is not FederatedConflict
    assert Topology is PlanInputs
    from meshmirror.diff import Changes
    from meshmirror.views.checks import CheckReport

    assert Changes.describe is Changes.text
    assert CheckReport.summary is CheckReport.headline


def test_load_clusters_reads_the_source_and_its_remotes() -> None:
    west, remotes = loader.load_clusters(
        {"west": EX / "west.yaml", "east": EX / "east.yaml", "north": EX / "north.yaml"},
        source="west",
    )
    assert west.name == "west" and sorted(remotes) == ["east", "north"]
    assert remotes["east"] == loader.load_cluster("east", EX / "east.yaml")


def test_load_clusters_refuses_a_missing_source_and_an_empty_dump(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="source"):
        loader.load_clusters({"east": EX / "east.yaml"}, source="west")
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    with pytest.raises(loader.EmptyDumpError) as caught:
        loader.load_clusters({"west": EX / "west.yaml", "east": empty}, source="west")
    assert caught.value.cluster == "east" and caught.value.path == str(empty)
    _, remotes = loader.load_clusters(
        {"west": EX / "west.yaml", "east": empty}, source="west", allow_empty=True
    )
    assert not remotes["east"].services


def test_load_topology_and_its_errors(tmp_path: Path) -> None:
    topo = loader.load_topology(EX / "topology.yaml")
    assert topo.same_pod_network("west", "east")
    assert loader.load_topology(None) == type(topo)()
    bad = tmp_path / "t.yaml"
    bad.write_text("clusters: {west: {podNetwork: 3}}\n")
    with pytest.raises(loader.LoadError, match=r"t\.yaml: topology key clusters\.west\.podNetwork"):
        loader.load_topology(bad)


def test_dumps_round_trip() -> None:
    import json

    import yaml

    doc = {"b": 1, "a": ["ü", {"c": None}]}
    assert yaml.safe_load(loader.dump_yaml(doc)) == doc
    assert loader.dump_yaml(doc).startswith("b: 1\n")  # key order kept
    assert json.loads(loader.dump_json(doc)) == doc and loader.dump_json(doc).endswith("}\n")

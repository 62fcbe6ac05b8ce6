"""`meshmirror check`, `resolve` and `graph` as docs/design.md, section 4.2 specifies them: output
shapes, exit codes, ``error:`` and exit 2 for bad input, never a traceback."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from builders import DISCOVERED, EXPORTED, MEMBER, endpoints, link, namespace, ports, service
from meshmirror.cli import main

MESHED = {"linkerd.io/inject": "enabled"}
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "topology"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def write(path: Path, docs: list[Any]) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


@pytest.fixture
def clusters(tmp_path: Path) -> list[str]:
    """``west`` (meshed ``shop``; ``plain`` not meshed) links ``east`` (gateway ``web``,
    remote-discovery ``api``, member ``cart``, empty ``idle``) and ``north`` (member)."""
    member = service("cart", "shop", labels=MEMBER, port_list=ports(("http", 8080)))
    http = [{"name": "http", "port": 8080, "protocol": "TCP"}]
    west = [
        namespace("shop", **MESHED),
        namespace("plain"),
        link("east", gateway="192.0.2.10", port="4143"),
        link("north", gateway="", created="2024-02-01T00:00:00Z"),
        member,
        endpoints("cart", "shop", ["10.1.0.5"], port_list=http),
    ]
    east = [
        namespace("shop"),
        service("web", "shop", labels=EXPORTED, port_list=ports(("http", 80))),
        endpoints("web", "shop", ["10.2.0.1"], port_list=http),
        service("api", "shop", labels=DISCOVERED, port_list=ports(("grpc", 9090))),
        endpoints(
            "api",
            "shop",
            ["10.2.1.1"],
            port_list=[{"name": "grpc", "port": 9090, "protocol": "TCP"}],
        ),
        member,
        endpoints("cart", "shop", ["10.2.2.1"], port_list=http),
        service("idle", "shop", labels=EXPORTED, port_list=ports(("http", 80))),
    ]
    north = [namespace("shop"), member, endpoints("cart", "shop", ["10.3.0.1"], port_list=http)]
    return [
        "--source",
        "west",
        f"west={write(tmp_path / 'west.yaml', west)}",
        f"east={write(tmp_path / 'east.yaml', east)}",
        f"north={write(tmp_path / 'north.yaml', north)}",
    ]


@pytest.fixture
def flat(tmp_path: Path) -> str:
    """Everything flat, one trust root: every check passes."""
    doc = {
        "clusters": {
            name: {"podNetwork": "net", "trustRoot": "root-1"} for name in ("west", "east", "north")
        }
    }
    return write(tmp_path / "flat.yaml", [doc])


@pytest.fixture
def mixed(tmp_path: Path) -> str:
    """west+east flat, north on its own network with another trust root, east's gateway
    reachable only from north."""
    doc = {
        "clusters": {
            "west": {"podNetwork": "a", "trustRoot": "r1"},
            "east": {"podNetwork": "a", "trustRoot": "r1", "gatewayReachableFrom": ["north"]},
            "north": {"podNetwork": "b", "trustRoot": "r2"},
        }
    }
    return write(tmp_path / "mixed.yaml", [doc])


# -- check -------------------------------------------------------------------------------


def test_check_passes_on_a_flat_shared_topology(clusters: list[str], flat: str) -> None:
    code, out, err = run("check", *clusters, "--topology", flat)
    assert code == 0, out
    assert "×" not in out
    # The one warning: a mirror of a remote Service without a ready pod (as Linkerd's
    # "all mirror services have endpoints" would say).
    warned = [line for line in out.splitlines() if "‼" in line and "[" in line]
    assert len(warned) == 1 and "[mirror-endpoints] Service shop/idle-east" in warned[0]
    assert out.rstrip().endswith("failures)")
    assert "Status check results are ‼" in out
    assert "note: gatewayReachableFrom not given" in err


def test_check_text_groups_like_linkerd(clusters: list[str], mixed: str) -> None:
    code, out, _ = run("check", *clusters, "--topology", mixed)
    assert code == 1
    assert out.startswith("links\n-----\n")
    for header in ("trust roots", "gateways", "pod networks", "names", "meshed clients"):
        assert f"\n{header}\n{'-' * len(header)}\n" in out
    assert "× [gateway-reachable] Link linkerd-multicluster/east:" in out
    assert "× [trust-root] Link linkerd-multicluster/north:" in out
    assert "× [flat-network] Service shop/cart-federated member cart@north:" in out
    assert "✔ [flat-network] Service shop/api-east:" in out
    assert "Status check results are ×" in out


def test_check_json_shape_and_exit(clusters: list[str], mixed: str) -> None:
    code, out, err = run("check", *clusters, "--topology", mixed, "-o", "json")
    assert code == 1
    doc = json.loads(out)
    assert list(doc) == ["checks"]
    assert all(list(c) == ["id", "subject", "status", "message"] for c in doc["checks"])
    verdict = {(c["id"], c["subject"]): c["status"] for c in doc["checks"]}
    assert verdict[("gateway-reachable", "Link linkerd-multicluster/east")] == "fail"
    assert verdict[("trust-root", "Link linkerd-multicluster/east")] == "ok"
    assert verdict[("trust-root", "Link linkerd-multicluster/north")] == "fail"
    assert verdict[("flat-network", "Service shop/api-east")] == "ok"
    # north's Link has no gateway: never a gateway check for it (linkerd2 #11428)
    assert not any(
        c["id"].startswith("gateway-") and "north" in c["subject"] for c in doc["checks"]
    )
    # defaults go to stderr, never into the JSON document
    assert err == (
        "note: gatewayReachableFrom not given for north, west: their gateways are assumed "
        "reachable from every cluster\n"
    )


def test_check_without_topology_states_the_defaults(clusters: list[str]) -> None:
    code, out, err = run("check", *clusters)
    assert code == 1  # remote discovery and federated members fail flat-network by default
    assert "‼ [trust-root]" in out
    assert "note: podNetwork not given for east, north, west" in err
    assert "note: trustRoot not known" in err


def test_check_warns_about_skips_on_stderr(clusters: list[str], flat: str) -> None:
    code, _, err = run("check", *clusters, "--topology", flat)
    assert code == 0
    assert "warning:" not in err
    _, _, err = run("check", "--no-resolve", *clusters[:3], "--topology", flat)
    assert "warning: UnknownCluster:" in err


# -- resolve -------------------------------------------------------------------------------


def test_resolve_text_and_json(clusters: list[str], flat: str) -> None:
    code, out, _ = run("resolve", *clusters, "--topology", flat, "shop/web-east")
    assert code == 0
    assert "192.0.2.10" in out and "gateway" in out
    code, out, _ = run("resolve", *clusters, "--topology", flat, "shop/web-east", "-o", "json")
    assert code == 0
    assert json.loads(out) == {
        "target": "shop/web-east",
        "destinations": [
            {
                "cluster": "east",
                "namespace": "shop",
                "service": "web",
                "address": "192.0.2.10",
                "port": 4143,
                "path": "gateway",
                "gateway": "linkerd-multicluster/east",
                "peerIdentity": "gateway",
            }
        ],
        "failures": [],
    }


def test_resolve_options_between_positionals(clusters: list[str], flat: str) -> None:
    # The synopsis: CLUSTER=PATH ... [--topology FILE] [--from NAMESPACE] NAMESPACE/SERVICE
    code, out, _ = run(
        "resolve", *clusters, "--topology", flat, "--from", "shop", "shop/api-east", "-o", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert [
        (d["cluster"], d["address"], d["port"], d["path"], d["peerIdentity"])
        for d in doc["destinations"]
    ] == [("east", "10.2.1.1", 9090, "direct", "client")]
    code, _, _ = run("resolve", "--topology", flat, "--from", "shop", *clusters, "shop/api-east")
    assert code == 0


def test_resolve_federated_local_and_remote_members(clusters: list[str], mixed: str) -> None:
    code, out, _ = run(
        "resolve", *clusters, "--topology", mixed, "shop/cart-federated", "-o", "json"
    )
    assert code == 1
    doc = json.loads(out)
    assert [(d["cluster"], d["path"]) for d in doc["destinations"]] == [
        ("west", "local"),
        ("east", "direct"),
    ]
    assert [(f["cluster"], f["reason"]) for f in doc["failures"]] == [
        ("north", "NotFlat"),
        ("north", "TrustRootMismatch"),
    ]


def test_resolve_local_service(clusters: list[str], flat: str) -> None:
    code, out, _ = run("resolve", *clusters, "--topology", flat, "--from", "plain", "shop/cart")
    assert code == 0
    assert "local" in out and "10.1.0.5" in out


@pytest.mark.parametrize(
    ("args", "target", "failure"),
    [
        ((), "shop/idle-east", ("east", "NoEndpoints")),
        (("--unreachable", "east"), "shop/web-east", ("east", "GatewayUnreachable")),
        ((), "shop/web-east", None),
        (("--from", "plain"), "shop/web-east", ("east", "ClientNotMeshed")),
        ((), "shop/nothing", ("west", "UnknownService")),
    ],
)
def test_resolve_failures_exit_1(
    clusters: list[str], flat: str, args: tuple[str, ...], target: str, failure: Any
) -> None:
    code, out, _ = run("resolve", *clusters, "--topology", flat, *args, target, "-o", "json")
    doc = json.loads(out)
    if failure is None:
        assert code == 0 and doc["failures"] == []
    else:
        assert code == 1
        assert (doc["failures"][0]["cluster"], doc["failures"][0]["reason"]) == failure


def test_resolve_not_flat_and_trust_root_mismatch(clusters: list[str], mixed: str) -> None:
    code, out, _ = run("resolve", *clusters, "--topology", mixed, "shop/web-east", "-o", "json")
    assert code == 1
    assert json.loads(out)["failures"][0]["reason"] == "GatewayUnreachable"
    code, out, err = run("resolve", *clusters, "shop/api-east")
    assert code == 1
    assert "× east: NotFlat:" in out
    assert "note: no client namespace given" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("web-east",), "has no '/'"),
        (("shop/",), "NAMESPACE/SERVICE"),
        (("a/b/c",), "NAMESPACE/SERVICE"),
        ((), "last argument must be the target"),
        (("--unreachable", "mars", "shop/web-east"), "--unreachable 'mars'"),
    ],
)
def test_resolve_bad_input_is_error_exit_2(
    clusters: list[str], argv: tuple[str, ...], words: str
) -> None:
    code, out, err = run("resolve", *clusters, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert words in err


def test_resolve_needs_a_cluster_and_a_target(clusters: list[str]) -> None:
    code, _, err = run("resolve", "--source", "west", "shop/web-east")
    assert code == 2
    assert "error: " in err


# -- graph -------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "start"), [("dot", "digraph"), ("mermaid", "flowchart")])
def test_graph_text_formats(clusters: list[str], mixed: str, fmt: str, start: str) -> None:
    code, out, _ = run("graph", *clusters, "--topology", mixed, "-o", fmt)
    assert code == 0
    assert out.startswith(start)
    for word in ("cluster west", "cluster east", "cluster north", "shop/web-east", "gateway"):
        assert word in out
    for mode in ("gateway", "remote-discovery", "federated"):
        assert mode in out
    assert "× gateway-reachable" in out


def test_graph_defaults_to_dot(clusters: list[str]) -> None:
    code, out, _ = run("graph", *clusters)
    assert code == 0
    assert out.startswith("digraph meshmirror {")


def test_graph_svg_without_graphviz_is_an_error(
    clusters: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    code, out, err = run("graph", *clusters, "-o", "svg")
    assert code == 2
    assert out == ""
    assert "error: svg output needs Graphviz" in err


def test_graph_svg_with_graphviz(clusters: list[str], graphviz_dot: str) -> None:
    code, out, _ = run("graph", *clusters, "-o", "svg")
    assert code == 0
    assert "<svg" in out


# -- malformed topology files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("clusters: [west\n", "invalid YAML"),
        ("- west\n- east\n", "must be a mapping"),
        ("just text\n", "must be a mapping"),
        ("clusters: [west]\n", "topology key clusters"),
        ("clusters:\n  west: net-a\n", "topology key clusters.west"),
        ("clusters:\n  west: {podNetwork: [a]}\n", "clusters.west.podNetwork"),
        ("clusters:\n  west: {gatewayReachableFrom: east}\n", "gatewayReachableFrom"),
        ("clusters: {}\n---\nclusters: {}\n", "one document"),
        ('{"clusters": 3}', "topology key clusters"),
    ],
)
@pytest.mark.parametrize("command", ["check", "resolve", "graph"])
def test_malformed_topology_is_error_exit_2(
    clusters: list[str], tmp_path: Path, text: str, words: str, command: str
) -> None:
    bad = tmp_path / ("topology.json" if text.startswith("{") else "topology.yaml")
    bad.write_text(text)
    extra = ["shop/web-east"] if command == "resolve" else []
    code, out, err = run(command, *clusters, "--topology", str(bad), *extra)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert words in err
    assert str(bad) in err


def test_missing_topology_file(clusters: list[str], tmp_path: Path) -> None:
    code, _, err = run("check", *clusters, "--topology", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "error: " in err and "no such file" in err


def test_empty_topology_file_means_defaults(clusters: list[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    code, _, err = run("check", *clusters, "--topology", str(empty))
    assert code == 1
    assert "note: podNetwork not given" in err


# -- the example ---------------------------------------------------------------------------


def test_example_topology_runs() -> None:
    dumps = [f"{c}={EXAMPLES / (c + '.yaml')}" for c in ("west", "east", "north")]
    topo = str(EXAMPLES / "topology.yaml")
    code, out, _ = run("check", "--source", "west", *dumps, "--topology", topo, "-o", "json")
    assert code in (0, 1)
    assert json.loads(out)["checks"]
    code, out, _ = run("graph", "--source", "west", *dumps, "--topology", topo, "-o", "mermaid")
    assert code == 0 and out.startswith("flowchart")


def test_resolve_warns_only_about_its_target(tmp_path: Path) -> None:
    west = [
        namespace("shop", **MESHED),
        link("east"),
        service("web-east", "shop"),  # the team's own Service blocks east's web
    ]
    east = [
        namespace("shop"),
        namespace("pay"),
        service("web", "shop", labels=EXPORTED),
        endpoints("web", "shop", ["10.2.0.1"]),
        service("bill", "pay", labels=EXPORTED),  # namespace pay is missing in west
    ]
    argv = [
        "--source",
        "west",
        f"west={write(tmp_path / 'west.yaml', west)}",
        f"east={write(tmp_path / 'east.yaml', east)}",
    ]
    code, out, err = run("resolve", *argv, "shop/web-east")
    assert code == 1
    assert "is a local Service" in out
    assert "warning: NotOwned: mirror shop/web-east" in err
    assert "NamespaceMissing" not in err
    _, _, err = run("check", *argv)
    assert "warning: NamespaceMissing" in err and "warning: NotOwned" in err

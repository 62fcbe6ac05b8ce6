"""`meshmirror.views.resolve`: where a request goes, by which path, with which identity, and
why a cluster contributes nothing (docs/design.md, sections 4.3 and 4.4)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import DISCOVERED, EXPORTED, MEMBER, endpoints, link, namespace, ports, service
from meshmirror import ClusterState, ObjectRef, PlanOptions, plan
from meshmirror.decisions.plan import Plan
from meshmirror.testing import topologies
from meshmirror.views.resolve import (
    REASONS,
    Destination,
    Failure,
    Resolution,
    TargetError,
    parse_target,
    resolve,
)
from meshmirror.views.topology import Topology
from test_checks import MESHED, shuffled, topology_files, world

Parts = tuple[Plan, ClusterState, dict[str, ClusterState]]


def http(port: int = 8080) -> list[dict[str, Any]]:
    return ports(("http", port))


def eps(name: str, ips: list[str], *, not_ready: list[str] | None = None, port: int = 8080) -> Any:
    return endpoints(
        name,
        "shop",
        ips,
        not_ready=not_ready,
        port_list=[{"name": "http", "port": port, "protocol": "TCP"}],
    )


def shop(
    *,
    meshed: bool = True,
    east_links: dict[str, Any] | None = None,
    options: PlanOptions | None = None,
) -> Parts:
    """west (meshed ``shop``, local ``cart`` member and ``front``) links east and north.

    east: ``web`` (gateway, two ready + one not ready), ``api`` (remote discovery),
    ``cart`` (member), ``idle`` (gateway, no ready address), ``lost`` (remote discovery,
    no Endpoints). north: ``cart`` (member).
    """
    member = service("cart", "shop", labels=MEMBER, port_list=http())
    src = [
        namespace("shop", **MESHED),
        namespace("plain"),
        link("east", gateway="192.0.2.20,192.0.2.3", port="4143", **(east_links or {})),
        link("north", created="2024-02-01T00:00:00Z"),
        member,
        eps("cart", ["10.1.0.5"]),
        service("front", "shop", port_list=http(80)),
        eps("front", ["10.1.0.7", "10.1.0.6"], not_ready=["10.1.0.8"], port=8080),
    ]
    east = [
        namespace("shop"),
        service("web", "shop", labels=EXPORTED, port_list=http(80)),
        eps("web", ["10.2.0.1", "10.2.0.2"], not_ready=["10.2.0.3"]),
        service("api", "shop", labels=DISCOVERED, port_list=http(9090)),
        eps("api", ["10.2.1.2", "10.2.1.10"], not_ready=["10.2.1.3"], port=9090),
        member,
        eps("cart", ["10.2.2.1"]),
        service("idle", "shop", labels=EXPORTED, port_list=http()),
        eps("idle", [], not_ready=["10.2.3.1"]),
        service("lost", "shop", labels=DISCOVERED, port_list=http()),
    ]
    north = [namespace("shop"), member, eps("cart", ["10.3.0.1"])]
    return world(src, {"east": east, "north": north}, options=options)


ALL_FLAT = {
    "clusters": {
        name: {"podNetwork": "net", "trustRoot": "root"} for name in ("west", "east", "north")
    }
}


def go(
    parts: Parts,
    target: str,
    topology: dict[str, Any] | None = None,
    *,
    client: str | None = "shop",
    unreachable: tuple[str, ...] = (),
) -> Resolution:
    p, src, rem = parts
    return resolve(
        p,
        src,
        rem,
        Topology.from_dict(topology if topology is not None else ALL_FLAT),
        target,
        client_namespace=client,
        unreachable=unreachable,
    )


def reasons(r: Resolution) -> list[tuple[str, str]]:
    return [(f.cluster, f.reason) for f in r.failures]


# -- destinations --------------------------------------------------------------------------


def test_gateway_mirror_goes_to_every_gateway_address_at_the_gateway_port() -> None:
    r = go(shop(), "shop/web-east")
    assert r.kind == "gateway"
    assert r.ok
    assert r.destinations == (
        Destination(
            "east",
            "shop",
            "web",
            "192.0.2.3",
            4143,
            "gateway",
            "linkerd-multicluster/east",
            "gateway",
        ),
        Destination(
            "east",
            "shop",
            "web",
            "192.0.2.20",
            4143,
            "gateway",
            "linkerd-multicluster/east",
            "gateway",
        ),
    )


def test_remote_discovery_goes_to_ready_remote_pods_directly() -> None:
    r = go(shop(), "shop/api-east")
    assert r.kind == "remote-discovery"
    assert [(d.address, d.port, d.path, d.peer_identity, d.gateway) for d in r.destinations] == [
        ("10.2.1.2", 9090, "direct", "client", None),
        ("10.2.1.10", 9090, "direct", "client", None),
    ]
    assert all(isinstance(d.port, int) for d in r.destinations)
    assert "10.2.1.3" not in {d.address for d in r.destinations}  # not ready


def test_local_service_goes_to_its_ready_addresses() -> None:
    r = go(shop(), "shop/front", client="plain")
    assert r.kind == "local"
    assert r.ok  # ClientNotMeshed never applies to a plain local Service
    assert [(d.cluster, d.address, d.port, d.path, d.peer_identity) for d in r.destinations] == [
        ("west", "10.1.0.6", 8080, "local", "client"),
        ("west", "10.1.0.7", 8080, "local", "client"),
    ]


def test_federated_is_the_union_of_local_and_remote_members_in_precedence_order() -> None:
    r = go(shop(), "shop/cart-federated")
    assert r.kind == "federated"
    assert r.ok
    assert [(d.cluster, d.address, d.path, d.peer_identity) for d in r.destinations] == [
        ("west", "10.1.0.5", "local", "client"),
        ("east", "10.2.2.1", "direct", "client"),
        ("north", "10.3.0.1", "direct", "client"),
    ]


def test_headless_mirror_and_its_per_pod_services_go_through_the_gateway() -> None:
    parts = world(
        [namespace("shop", **MESHED), link("east")],
        {
            "east": [
                namespace("shop"),
                service("db", "shop", labels=EXPORTED, headless=True),
                endpoints(
                    "db",
                    "shop",
                    hosts={"db-0": "10.2.0.30", "db-1": "10.2.0.31"},
                    labels={"service.kubernetes.io/headless": ""},
                ),
            ]
        },
        options=PlanOptions(enable_headless_services=True),
    )
    for target in ("shop/db-east", "shop/db-0-east"):
        r = go(parts, target, {"clusters": {}})
        assert r.kind == "headless"
        assert [(d.address, d.port, d.path, d.peer_identity) for d in r.destinations] == [
            ("192.0.2.127", 888, "gateway", "gateway")
        ]


# -- failures ----------------------------------------------------------------------------


def test_no_endpoints_for_each_path() -> None:
    parts = shop()
    gw = go(parts, "shop/idle-east")
    assert reasons(gw) == [("east", "NoEndpoints")]
    assert "1 not ready" in gw.failures[0].message
    direct = go(parts, "shop/lost-east")
    assert reasons(direct) == [("east", "NoEndpoints")]
    assert "no Endpoints" in direct.failures[0].message
    assert direct.destinations == ()
    local = go(parts, "shop/cart", unreachable=("west",))
    assert reasons(local) == [("west", "NoEndpoints")]


def test_gateway_unreachable_from_the_topology_or_unreachable_or_a_dead_gateway() -> None:
    closed = {"clusters": {**ALL_FLAT["clusters"], "east": {"gatewayReachableFrom": ["north"]}}}
    r = go(shop(), "shop/web-east", closed)
    assert reasons(r) == [("east", "GatewayUnreachable")]
    assert r.destinations == ()
    assert "north" in r.failures[0].message
    down = go(shop(), "shop/web-east", unreachable=("east",))
    assert reasons(down) == [("east", "GatewayUnreachable")]
    dead = go(shop(options=PlanOptions(dead_gateways=frozenset({"east"}))), "shop/web-east")
    assert reasons(dead) == [("east", "GatewayUnreachable")]


def test_not_flat_for_remote_discovery_and_remote_members() -> None:
    rd = go(shop(), "shop/api-east", {"clusters": {}})  # default: each its own network
    assert reasons(rd) == [("east", "NotFlat")]
    split = {
        "clusters": {
            "west": {"podNetwork": "a"},
            "east": {"podNetwork": "a"},
            "north": {"podNetwork": "b"},
        }
    }
    fed = go(shop(), "shop/cart-federated", split)
    assert reasons(fed) == [("north", "NotFlat")]
    assert [d.cluster for d in fed.destinations] == ["west", "east"]  # others still do
    assert go(shop(), "shop/web-east", {"clusters": {}}).ok  # a gateway needs no flat net


def test_trust_root_mismatch_in_every_remote_mode() -> None:
    topo = {
        "clusters": {
            "west": {"podNetwork": "n", "trustRoot": "r1"},
            "east": {"podNetwork": "n", "trustRoot": "r2"},
            "north": {"podNetwork": "n", "trustRoot": "r1"},
        }
    }
    for target in ("shop/web-east", "shop/api-east"):
        assert reasons(go(shop(), target, topo)) == [("east", "TrustRootMismatch")]
    fed = go(shop(), "shop/cart-federated", topo)
    assert reasons(fed) == [("east", "TrustRootMismatch")]
    assert {d.cluster for d in fed.destinations} == {"west", "north"}
    unknown = {"clusters": {n: {"podNetwork": "n"} for n in ("west", "east")}}
    assert go(shop(), "shop/api-east", unknown).ok  # unknown roots are not a failure


def test_client_not_meshed_per_cluster_a_mirror_or_federated_target_uses() -> None:
    for target, clusters in [
        ("shop/web-east", ["east"]),
        ("shop/api-east", ["east"]),
        ("shop/cart-federated", ["west", "east", "north"]),
    ]:
        r = go(shop(), target, client="plain")
        assert reasons(r) == [(c, "ClientNotMeshed") for c in clusters]
        assert r.destinations == ()
        assert "plain" in r.failures[0].message
    missing = go(shop(), "shop/web-east", client="nowhere")
    assert "does not exist" in missing.failures[0].message


def test_unknown_service_names_the_source() -> None:
    r = go(shop(), "shop/nothing")
    assert r.kind == "unknown"
    assert reasons(r) == [("west", "UnknownService")]
    assert "west" in r.failures[0].message
    assert "shop/web-east" in r.failures[0].message  # what could be meant


def test_a_stale_owned_mirror_is_unknown() -> None:
    stale = service(
        "old-gone",
        "shop",
        labels={
            "mirror.linkerd.io/mirrored-service": "true",
            "mirror.linkerd.io/cluster-name": "gone",
        },
    )
    parts = world([namespace("shop", **MESHED), stale], {})
    r = go(parts, "shop/old-gone", {"clusters": {}})
    assert reasons(r) == [("west", "UnknownService")]
    assert "no longer keeps" in r.failures[0].message


def test_every_reason_is_listed_for_a_cluster_and_removes_it() -> None:
    topo = {"clusters": {"west": {"trustRoot": "a"}, "east": {"trustRoot": "b"}}}
    r = go(shop(), "shop/lost-east", topo, client="plain", unreachable=("east",))
    assert reasons(r) == [
        ("east", "NoEndpoints"),
        ("east", "NotFlat"),
        ("east", "TrustRootMismatch"),
        ("east", "ClientNotMeshed"),
    ]
    assert [f.reason for f in r.failures] == sorted(
        (f.reason for f in r.failures), key=REASONS.index
    )


def test_unreachable_removes_only_that_member() -> None:
    r = go(shop(), "shop/cart-federated", unreachable=("north",))
    assert reasons(r) == [("north", "NoEndpoints")]
    assert "--unreachable" in r.failures[0].message
    assert [d.cluster for d in r.destinations] == ["west", "east"]


# -- targets and output --------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["web", "", "/web", "shop/", "a/b/c"])
def test_malformed_targets(bad: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(bad)
    assert "NAMESPACE/SERVICE" in str(info.value)
    with pytest.raises(TargetError):
        go(shop(), bad)
    with pytest.raises(TargetError):
        parse_target(ObjectRef("Namespace", "", "shop"))


def test_target_as_a_ref_and_default_client_namespace() -> None:
    p, src, rem = shop()
    r = resolve(p, src, rem, None, ObjectRef("Service", "shop", "web-east"), client_namespace=None)
    assert r.client_namespace == "shop"
    assert any("client" in n for n in r.notes)
    assert any("podNetwork" in n for n in r.notes)  # defaults said


def test_json_shape() -> None:
    r = go(shop(), "shop/cart-federated", {"clusters": {}})
    doc = r.to_dict()
    assert list(doc) == ["target", "destinations", "failures"]
    assert doc["target"] == "shop/cart-federated"
    for d in doc["destinations"]:
        assert list(d) == [
            "cluster",
            "namespace",
            "service",
            "address",
            "port",
            "path",
            "gateway",
            "peerIdentity",
        ]
        assert type(d["port"]) is int
    for f in doc["failures"]:
        assert list(f) == ["cluster", "reason", "message"]
        assert f["reason"] in REASONS
    assert json.loads(json.dumps(doc)) == doc


def test_text_repr_and_html() -> None:
    r = go(shop(), "shop/cart-federated", {"clusters": {}})
    text = r.text()
    assert text.splitlines()[0].startswith("shop/cart-federated in west is a federated Service")
    assert "CLUSTER" in text and "× east: NotFlat:" in text
    assert repr(r).startswith("<Resolution ")
    page = r._repr_html_()
    assert "<table>" in page and "NotFlat" in page
    assert str(Failure("east", "NotFlat", "m")) == "east: NotFlat: m"


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(topologies(), topology_files, st.randoms(use_true_random=False), st.data())
def test_resolve_is_independent_of_input_order(
    world_: tuple[ClusterState, dict[str, ClusterState]],
    topo_file: dict[str, Any],
    rng: random.Random,
    data: st.DataObject,
) -> None:
    src, remotes = world_
    p = plan(src, remotes)
    names = sorted(
        {f"{m.service.namespace}/{m.service.name}" for m in p.mirrors}
        | {f"{f.service.namespace}/{f.service.name}" for f in p.federated}
        | {f"{ns}/{name}" for ns, name in src.services}
        | {"shop/nothing"}
    )
    target = data.draw(st.sampled_from(names))
    client = data.draw(st.sampled_from([None, *sorted(src.namespaces), "nowhere"]))
    down = data.draw(st.lists(st.sampled_from([src.name, *sorted(remotes)]), unique=True))
    topo = Topology.from_dict(topo_file)
    first = resolve(p, src, remotes, topo, target, client_namespace=client, unreachable=down)
    order = list(remotes)
    rng.shuffle(order)
    src2 = shuffled(src, rng)
    remotes2 = {n: shuffled(remotes[n], rng) for n in order}
    second = resolve(
        plan(src2, remotes2),
        src2,
        remotes2,
        topo,
        target,
        client_namespace=client,
        unreachable=list(reversed(down)),
    )
    assert second == first
    # A failing cluster contributes nothing; every destination port is an integer.
    failing = {f.cluster for f in first.failures}
    assert not failing & {d.cluster for d in first.destinations}
    assert all(type(d.port) is int for d in first.destinations)
    assert {f.reason for f in first.failures} <= set(REASONS)

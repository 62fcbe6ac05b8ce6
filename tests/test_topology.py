"""The topology file (docs/design.md, section 4.2): reading, defaults, trust roots from dumps."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builders import namespace
from meshmirror import cluster_state
from meshmirror.views.topology import (
    ClusterTopology,
    Topology,
    TopologyError,
    is_meshed,
    meshed_namespaces,
    trust_root_fingerprint,
)

# Two made-up certificates: the fingerprint only reads the base64 bodies.
CERT_A = "-----BEGIN CERTIFICATE-----\nMIIBAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n"
CERT_B = "-----BEGIN CERTIFICATE-----\nMIICAAECAwQFBgcICg==\n-----END CERTIFICATE-----\n"


def trust_roots(pem: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "linkerd-identity-trust-roots", "namespace": "linkerd"},
        "data": {"ca-bundle.crt": pem},
    }


# -- reading ---------------------------------------------------------------------------


def test_full_file_is_read() -> None:
    topo = Topology.from_dict(
        {
            "clusters": {
                "west": {"podNetwork": "net-a", "trustRoot": "root-1"},
                "east": {
                    "podNetwork": "net-a",
                    "trustRoot": "root-1",
                    "gatewayReachableFrom": ["west", "north"],
                },
            }
        }
    )
    assert topo.cluster("west") == ClusterTopology("net-a", "root-1", None, "topology file")
    assert topo.cluster("east").gateway_reachable_from == frozenset({"west", "north"})
    assert topo.cluster("nowhere") == ClusterTopology()


@pytest.mark.parametrize(
    "data",
    [None, {}, {"clusters": None}, {"clusters": {}}, {"clusters": {"west": None}}],
)
def test_empty_files_mean_every_default(data: Any) -> None:
    topo = Topology.from_dict(data)
    assert topo.pod_network("west") is None
    assert topo.trust_root("west") is None
    assert topo.gateway_reachable("west", from_cluster="east")


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ([1, 2], "", "must be a mapping"),
        ("clusters", "", "must be a mapping"),
        ({"clusters": ["west"]}, "clusters", "must be a mapping"),
        ({"clusters": "west"}, "clusters", "must be a mapping"),
        ({"clusters": {"west": "net-a"}}, "clusters.west", "must be a mapping"),
        ({"clusters": {"west": ["net-a"]}}, "clusters.west", "must be a mapping"),
        ({"clusters": {"west": {"podNetwork": 1}}}, "clusters.west.podNetwork", "string"),
        ({"clusters": {"west": {"podNetwork": ""}}}, "clusters.west.podNetwork", "empty"),
        ({"clusters": {"west": {"trustRoot": True}}}, "clusters.west.trustRoot", "string"),
        (
            {"clusters": {"west": {"gatewayReachableFrom": "east"}}},
            "clusters.west.gatewayReachableFrom",
            "list",
        ),
        (
            {"clusters": {"west": {"gatewayReachableFrom": ["east", 3]}}},
            "clusters.west.gatewayReachableFrom[1]",
            "string",
        ),
        ({"clusters": {"west": {"podnetwork": "x"}}}, "clusters.west.podnetwork", "unknown"),
        ({"cluster": {}}, "cluster", "unknown"),
        ({"clusters": {1: {}}}, "clusters", "cluster name"),
    ],
)
def test_malformed_files_name_the_key(data: Any, key: str, words: str) -> None:
    with pytest.raises(TopologyError) as info:
        Topology.from_dict(data)
    assert info.value.key == key
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)
    if key:
        assert key in str(info.value)


def test_to_dict_round_trips_and_keeps_only_given_keys() -> None:
    data = {
        "clusters": {
            "east": {"podNetwork": "n", "gatewayReachableFrom": ["b", "a"]},
            "west": {"trustRoot": "r"},
        }
    }
    topo = Topology.from_dict(data)
    assert topo.to_dict() == {
        "clusters": {
            "east": {"podNetwork": "n", "gatewayReachableFrom": ["a", "b"]},
            "west": {"trustRoot": "r"},
        }
    }
    assert Topology.from_dict(topo.to_dict()) == topo


names = st.sampled_from(["west", "east", "north", "south"])
entries = st.fixed_dictionaries(
    {},
    optional={
        "podNetwork": st.sampled_from(["net-a", "net-b"]),
        "trustRoot": st.sampled_from(["root-1", "root-2", "sha256:ab"]),
        "gatewayReachableFrom": st.lists(names, unique=True),
    },
)


@given(st.dictionaries(names, entries))
def test_round_trip_property(clusters: dict[str, dict[str, Any]]) -> None:
    topo = Topology.from_dict({"clusters": clusters})
    again = Topology.from_dict(topo.to_dict())
    assert again == topo
    for name in clusters:
        assert again.same_pod_network(name, name)


# -- questions ---------------------------------------------------------------------------


def test_pod_networks_default_to_each_cluster_its_own() -> None:
    topo = Topology.from_dict({"clusters": {"a": {"podNetwork": "n"}, "b": {"podNetwork": "n"}}})
    assert topo.same_pod_network("a", "b")
    assert not topo.same_pod_network("a", "c")
    assert not topo.same_pod_network("c", "d")  # both default: two different networks
    assert topo.same_pod_network("c", "c")
    assert topo.describe_pod_network("a") == "pod network n"
    assert "own" in topo.describe_pod_network("c")


def test_trust_roots_compare_same_different_unknown() -> None:
    topo = Topology.from_dict(
        {
            "clusters": {
                "a": {"trustRoot": "r1"},
                "b": {"trustRoot": "r1"},
                "c": {"trustRoot": "r2"},
                "d": {"trustRoot": "sha256:00"},
            }
        }
    )
    assert topo.compare_trust_roots("a", "b") == "same"
    assert topo.compare_trust_roots("a", "c") == "different"
    assert topo.compare_trust_roots("a", "x") == "unknown"
    assert topo.compare_trust_roots("x", "y") == "unknown"
    # A name cannot be compared with a fingerprint: never a false mismatch.
    assert topo.compare_trust_roots("a", "d") == "unknown"


def test_gateway_reachability() -> None:
    topo = Topology.from_dict(
        {"clusters": {"east": {"gatewayReachableFrom": ["west"]}, "north": {}}}
    )
    assert topo.gateway_reachable("east", from_cluster="west")
    assert not topo.gateway_reachable("east", from_cluster="south")
    assert topo.gateway_reachable("north", from_cluster="south")
    none = Topology.from_dict({"clusters": {"east": {"gatewayReachableFrom": []}}})
    assert not none.gateway_reachable("east", from_cluster="west")


def test_defaults_are_said() -> None:
    topo = Topology.from_dict(
        {"clusters": {"west": {"podNetwork": "n", "trustRoot": "r", "gatewayReachableFrom": []}}}
    )
    notes = topo.defaults_used(["west", "east"])
    assert len(notes) == 3
    assert notes[0].startswith("podNetwork not given for east")
    assert notes[1].startswith("trustRoot not known for east")
    assert notes[2].startswith("gatewayReachableFrom not given for east")
    assert (
        Topology.from_dict(
            {"clusters": {"a": {"podNetwork": "n", "trustRoot": "r", "gatewayReachableFrom": []}}}
        ).defaults_used(["a"])
        == ()
    )


# -- dumps --------------------------------------------------------------------------------


def test_fingerprint_ignores_order_whitespace_and_comments() -> None:
    one = trust_root_fingerprint(CERT_A + CERT_B)
    assert one.startswith("sha256:")
    assert one == trust_root_fingerprint("# bundle\n" + CERT_B.replace("\n", "\r\n") + CERT_A)
    assert one != trust_root_fingerprint(CERT_A)
    assert trust_root_fingerprint("not pem") == trust_root_fingerprint("  not \n pem ")


def test_trust_roots_come_from_config_maps_and_the_file_wins() -> None:
    west = cluster_state("west", [trust_roots(CERT_A)])
    east = cluster_state("east", [trust_roots(CERT_A)])
    north = cluster_state("north", [trust_roots(CERT_B)])
    south = cluster_state("south", [])
    topo = Topology().with_dumps([west, east, north, south])
    assert topo.compare_trust_roots("west", "east") == "same"
    assert topo.compare_trust_roots("west", "north") == "different"
    assert topo.compare_trust_roots("west", "south") == "unknown"
    assert "ConfigMap linkerd/linkerd-identity-trust-roots" in topo.describe_trust_root("west")
    given_topo = Topology.from_dict({"clusters": {"north": {"trustRoot": "named"}}})
    merged = given_topo.with_dumps([north])
    assert merged.trust_root("north") == "named"
    assert merged.describe_trust_root("north") == "named (topology file)"


def test_meshed_namespaces_come_from_the_inject_annotation() -> None:
    state = cluster_state(
        "west",
        [
            namespace("shop", **{"linkerd.io/inject": "enabled"}),
            namespace("tools", **{"linkerd.io/inject": "disabled"}),
            namespace("plain"),
        ],
    )
    assert meshed_namespaces(state) == frozenset({"shop"})
    assert is_meshed(state, "shop")
    assert not is_meshed(state, "tools")
    assert not is_meshed(state, "plain")
    assert not is_meshed(state, "absent")


def test_repr_and_html() -> None:
    topo = Topology.from_dict(
        {"clusters": {"west": {"podNetwork": "n<1>"}, "east": {"gatewayReachableFrom": []}}}
    )
    text = repr(topo)
    assert "west" in text and "podNetwork=n<1>" in text
    assert repr(Topology()) == "<Topology: every default>"
    page = topo._repr_html_()
    assert page.startswith("<p><strong>topology file: 2 clusters</strong></p><table>")
    assert "n&lt;1&gt;" in page
    assert "no cluster" in page
    assert "every default" in Topology()._repr_html_()
    fleet = Topology.from_dict({"clusters": {f"c{i:03d}": {"podNetwork": "n"} for i in range(100)}})
    assert repr(fleet).endswith("; +97 more clusters>") and len(repr(fleet)) < 300

"""Linkerd's own service-mirror scenarios (cluster_watcher_mirroring_test.go), as plans.

Each test states the remote and source objects and checks the steady state Linkerd's
service mirror converges to: names, labels, annotations, ports and endpoints.
"""

from __future__ import annotations

from typing import Any

import pytest

from builders import (
    DISCOVERED,
    EXPORTED,
    applied,
    endpoints,
    link,
    manifests,
    namespace,
    plan_docs,
    ports,
    service,
)
from meshmirror import PlanOptions, SkipCode, cluster_state, diff, plan

FQ = "mirror.linkerd.io/remote-svc-fq-name"
RV = "mirror.linkerd.io/remote-resource-version"
GWID = "mirror.linkerd.io/remote-gateway-identity"
OWNED = {"mirror.linkerd.io/mirrored-service": "true", "mirror.linkerd.io/cluster-name": "remote"}
GW_PORTS = [
    {"name": "port1", "port": 888, "protocol": "TCP"},
    {"name": "port2", "port": 888, "protocol": "TCP"},
]
SVC_PORTS = [
    {"name": "port1", "protocol": "TCP", "port": 555, "targetPort": 555},
    {"name": "port2", "protocol": "TCP", "port": 666, "targetPort": 666},
]


def gateway_world(**svc_kwargs: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    labels = {**EXPORTED, "lk": "lv"}
    remote = [
        namespace("ns1"),
        service("service-one", "ns1", labels=labels, **svc_kwargs),
        endpoints("service-one", "ns1", ["10.0.0.1"]),
    ]
    return [namespace("ns1"), link()], remote


def test_gateway_mirror_is_linkerds_object() -> None:
    source, remote = gateway_world()
    got = manifests(plan_docs(source, {"remote": remote}))
    assert got == {
        ("Service", "ns1", "service-one-remote"): {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "service-one-remote",
                "namespace": "ns1",
                "labels": {"lk": "lv", **OWNED},
                "annotations": {RV: "111", FQ: "service-one.ns1.svc.cluster.local"},
            },
            "spec": {"ports": SVC_PORTS},
        },
        ("Endpoints", "ns1", "service-one-remote"): {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": "service-one-remote",
                "namespace": "ns1",
                "labels": {"lk": "lv", **OWNED},
                "annotations": {FQ: "service-one.ns1.svc.cluster.local", GWID: "gateway-identity"},
            },
            "subsets": [{"addresses": [{"ip": "192.0.2.127"}], "ports": GW_PORTS}],
        },
    }


def test_remote_discovery_mirror_has_no_endpoints() -> None:
    source = [namespace("ns1"), link()]
    remote = [
        namespace("ns1"),
        service("service-one", "ns1", labels=DISCOVERED),
        endpoints("service-one", "ns1", ["10.0.0.1"]),
    ]
    got = manifests(plan_docs(source, {"remote": remote}))
    assert list(got) == [("Service", "ns1", "service-one-remote")]
    meta = got[("Service", "ns1", "service-one-remote")]["metadata"]
    assert meta["labels"] == {
        **OWNED,
        "multicluster.linkerd.io/remote-discovery": "remote",
        "multicluster.linkerd.io/remote-service": "service-one",
    }
    assert meta["annotations"] == {RV: "111", FQ: "service-one.ns1.svc.cluster.local"}


def test_link_without_gateway_mirrors_only_remote_discovery() -> None:
    source = [namespace("ns1"), link(gateway="")]
    remote = [
        namespace("ns1"),
        service("service-one", "ns1", labels=DISCOVERED),
        service("service-two", "ns1", labels=EXPORTED),
    ]
    p = plan_docs(source, {"remote": remote})
    assert [str(o.ref) for o in p.objects] == ["Service ns1/service-one-remote"]
    assert [(s.code, s.ref.name) for s in p.skipped] == [(SkipCode.NO_GATEWAY, "service-two")]
    assert "gatewayAddress" in p.skipped[0].message


def test_both_selectors_match_remote_discovery_wins() -> None:
    both = {"selector": {"matchLabels": {"app": "x"}}, "rd_selector": {"matchLabels": {"app": "x"}}}
    source = [namespace("ns1"), link(**both)]
    remote = [namespace("ns1"), service("svc", "ns1", labels={"app": "x"})]
    p = plan_docs(source, {"remote": remote})
    assert [m.mode for m in p.mirrors] == ["remote-discovery"]


@pytest.mark.parametrize(
    "selectors",
    [
        {"selector": {}, "rd_selector": {}, "fed_selector": {}},
        {
            "selector": {"matchLabels": {}, "matchExpressions": []},
            "rd_selector": {},
            "fed_selector": {},
        },
    ],
)
def test_empty_selectors_select_nothing(selectors: dict[str, Any]) -> None:
    # TestEmptyRemoteSelectors; linkerd2 #11309.
    source = [namespace("ns1"), link(**selectors)]
    remote = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]
    p = plan_docs(source, {"remote": remote})
    assert p.objects == () and p.skipped == ()


def test_absent_selectors_select_nothing() -> None:
    doc = link()
    for key in ("selector", "remoteDiscoverySelector", "federatedServiceSelector"):
        del doc["spec"][key]
    p = plan_docs(
        [namespace("ns1"), doc],
        {"remote": [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]},
    )
    assert p.objects == ()


def test_remote_without_ready_endpoints_gets_no_subsets() -> None:
    for eps in (
        None,
        endpoints("service-one", "ns1"),
        endpoints("service-one", "ns1", not_ready=["10.0.0.1"]),
    ):
        remote = [namespace("ns1"), service("service-one", "ns1", labels=EXPORTED)]
        if eps is not None:
            remote.append(eps)
        got = manifests(plan_docs([namespace("ns1"), link()], {"remote": remote}))
        assert "subsets" not in got[("Endpoints", "ns1", "service-one-remote")]


def test_remote_endpoints_becoming_ready_fills_subsets() -> None:
    source, remote = gateway_world()
    remote[-1] = endpoints("service-one", "ns1", not_ready=["10.0.0.1"])
    empty = plan_docs(source, {"remote": remote})
    remote[-1] = endpoints("service-one", "ns1", ["10.0.0.1"])
    ready = plan_docs(source, {"remote": remote})
    state = applied(cluster_state("local", source), empty)
    changes = diff(ready, state)
    assert [u.ref.name for u in changes.updates] == ["service-one-remote"]
    assert changes.updates[0].ref.kind == "Endpoints"
    assert not changes.creates and not changes.deletes


def test_gateway_down_moves_addresses_to_not_ready() -> None:
    source, remote = gateway_world()
    p = plan_docs(source, {"remote": remote}, options=PlanOptions(dead_gateways={"remote"}))
    eps = manifests(p)[("Endpoints", "ns1", "service-one-remote")]
    assert eps["subsets"] == [{"notReadyAddresses": [{"ip": "192.0.2.127"}], "ports": GW_PORTS}]


def test_update_of_ports_and_labels_updates_the_mirror() -> None:
    source, remote = gateway_world()
    first = plan_docs(source, {"remote": remote})
    state = applied(cluster_state("local", source), first)
    remote[1] = service(
        "service-one",
        "ns1",
        labels={**EXPORTED, "lk": "changed", "new": "label"},
        rv="112",
        port_list=ports(("port1", 555), ("port3", 777)),
    )
    second = plan_docs(source, {"remote": remote})
    changes = diff(second, state)
    assert {(u.ref.kind, u.ref.name) for u in changes.updates} == {
        ("Service", "service-one-remote"),
        ("Endpoints", "service-one-remote"),
    }
    svc = manifests(second)[("Service", "ns1", "service-one-remote")]
    assert svc["metadata"]["labels"] == {"lk": "changed", "new": "label", **OWNED}
    assert svc["metadata"]["annotations"][RV] == "112"
    assert [p["name"] for p in svc["spec"]["ports"]] == ["port1", "port3"]
    eps = manifests(second)[("Endpoints", "ns1", "service-one-remote")]
    assert eps["subsets"][0]["ports"] == [
        {"name": "port1", "port": 888, "protocol": "TCP"},
        {"name": "port3", "port": 888, "protocol": "TCP"},
    ]


@pytest.mark.parametrize("how", ["unexport", "delete"])
def test_unexport_or_delete_removes_the_mirror(how: str) -> None:
    source, remote = gateway_world()
    state = applied(cluster_state("local", source), plan_docs(source, {"remote": remote}))
    if how == "unexport":
        remote[1]["metadata"]["labels"] = {"lk": "lv"}
    else:
        del remote[1]
    changes = diff(plan_docs(source, {"remote": remote}), state)
    assert sorted((o.kind, o.name) for o in changes.deletes) == [
        ("Endpoints", "service-one-remote"),
        ("Service", "service-one-remote"),
    ]


@pytest.mark.parametrize("direction", ["to-remote-discovery", "to-gateway"])
def test_switching_modes_both_ways(direction: str) -> None:
    gw, rd = EXPORTED, DISCOVERED
    before, after = (gw, rd) if direction == "to-remote-discovery" else (rd, gw)
    source = [namespace("ns1"), link()]
    remote = [
        namespace("ns1"),
        service("svc", "ns1", labels=before),
        endpoints("svc", "ns1", ["10.0.0.1"]),
    ]
    state = applied(cluster_state("local", source), plan_docs(source, {"remote": remote}))
    remote[1] = service("svc", "ns1", labels=after, rv="222")
    changes = diff(plan_docs(source, {"remote": remote}), state)
    if direction == "to-remote-discovery":
        assert [(o.kind, o.name) for o in changes.deletes] == [("Endpoints", "svc-remote")]
        assert [u.ref.kind for u in changes.updates] == ["Service"]
        labels = changes.updates[0].after.labels
        assert labels["multicluster.linkerd.io/remote-discovery"] == "remote"
    else:
        assert [(o.kind, o.name) for o in changes.creates] == [("Endpoints", "svc-remote")]
        labels = changes.updates[0].after.labels
        assert "multicluster.linkerd.io/remote-discovery" not in labels


def test_namespace_missing_is_skipped_then_mirrored_when_created() -> None:
    # TestLocalNamespaceCreatedAfterServiceExport
    remote = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]
    p = plan_docs([link()], {"remote": remote})
    assert p.objects == ()
    assert [s.code for s in p.skipped] == [SkipCode.NAMESPACE_MISSING]
    assert "ns1" in p.skipped[0].message and "svc" in p.skipped[0].message
    later = plan_docs([link(), namespace("ns1")], {"remote": remote})
    assert [str(o.ref) for o in later.objects] == [
        "Endpoints ns1/svc-remote",
        "Service ns1/svc-remote",
    ]


def test_namespace_creation_plans_linkerds_namespace() -> None:
    remote = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]
    p = plan_docs([link()], {"remote": remote}, options=PlanOptions(enable_namespace_creation=True))
    got = manifests(p)
    assert got[("Namespace", "", "ns1")]["metadata"]["labels"] == OWNED
    assert ("Service", "ns1", "svc-remote") in got


def test_gateway_change_rewrites_every_endpoints() -> None:
    source, remote = gateway_world()
    state = applied(cluster_state("local", source), plan_docs(source, {"remote": remote}))
    source[1] = link(gateway="192.0.2.200", port="999", identity="new-identity")
    p = plan_docs(source, {"remote": remote})
    changes = diff(p, state)
    assert [(u.ref.kind, u.ref.name) for u in changes.updates] == [
        ("Endpoints", "service-one-remote")
    ]
    eps = manifests(p)[("Endpoints", "ns1", "service-one-remote")]
    assert eps["subsets"][0]["addresses"] == [{"ip": "192.0.2.200"}]
    assert {x["port"] for x in eps["subsets"][0]["ports"]} == {999}
    assert eps["metadata"]["annotations"][GWID] == "new-identity"


def test_gateway_addresses_sorted_as_strings_duplicates_kept() -> None:
    source = [namespace("ns1"), link(gateway="10.0.0.9,10.0.0.10,10.0.0.9")]
    remote = [
        namespace("ns1"),
        service("svc", "ns1", labels=EXPORTED),
        endpoints("svc", "ns1", ["10.1.1.1"]),
    ]
    eps = manifests(plan_docs(source, {"remote": remote}))[("Endpoints", "ns1", "svc-remote")]
    assert [a["ip"] for a in eps["subsets"][0]["addresses"]] == [
        "10.0.0.10",
        "10.0.0.9",
        "10.0.0.9",
    ]


def test_hostname_gateway_resolved_or_skipped() -> None:
    source = [namespace("ns1"), link(gateway="gw.example.com")]
    remote = [
        namespace("ns1"),
        service("svc", "ns1", labels=EXPORTED),
        endpoints("svc", "ns1", ["10.1.1.1"]),
    ]
    unresolved = plan_docs(source, {"remote": remote})
    assert [s.code for s in unresolved.skipped] == [SkipCode.GATEWAY_UNRESOLVED]
    resolved = plan_docs(
        source, {"remote": remote}, resolve={"gw.example.com": ["203.0.113.9", "203.0.113.10"]}
    )
    eps = manifests(resolved)[("Endpoints", "ns1", "svc-remote")]
    assert [a["ip"] for a in eps["subsets"][0]["addresses"]] == ["203.0.113.10", "203.0.113.9"]

    def failing(host: str) -> list[str]:
        raise OSError("no such host")

    assert [s.code for s in plan_docs(source, {"remote": remote}, resolve=failing).skipped] == [
        SkipCode.GATEWAY_UNRESOLVED
    ]


def test_non_numeric_gateway_port_is_no_gateway() -> None:
    source = [namespace("ns1"), link(port="gateway")]
    remote = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]
    p = plan_docs(source, {"remote": remote})
    assert [s.code for s in p.skipped] == [SkipCode.NO_GATEWAY]


def test_two_links_and_link_removal() -> None:
    source = [namespace("ns1"), link("east"), link("north", gateway="192.0.2.50")]
    east = [namespace("ns1"), service("web", "ns1", labels=EXPORTED)]
    north = [namespace("ns1"), service("web", "ns1", labels=EXPORTED)]
    p = plan_docs(source, {"east": east, "north": north})
    assert sorted({o.name for o in p.objects}) == ["web-east", "web-north"]
    state = applied(cluster_state("local", source), p)
    # Linkerd leaves a removed Link's mirrors behind; meshmirror deletes exactly them.
    without_north = [namespace("ns1"), link("east")]
    changes = diff(plan_docs(without_north, {"east": east, "north": north}), state)
    assert sorted((o.kind, o.name) for o in changes.deletes) == [
        ("Endpoints", "web-north"),
        ("Service", "web-north"),
    ]
    assert not changes.creates and not changes.updates


def test_link_target_not_given_is_unknown_cluster() -> None:
    p = plan_docs([namespace("ns1"), link("east")], {})
    assert [(s.code, s.ref.kind, s.ref.name) for s in p.skipped] == [
        (SkipCode.UNKNOWN_CLUSTER, "Link", "east")
    ]


def test_suffix_is_target_cluster_name_not_link_name() -> None:
    source = [namespace("ns1"), link("east", name="link-to-east")]
    remote = [namespace("ns1"), service("web", "ns1", labels=EXPORTED)]
    assert {o.name for o in plan_docs(source, {"east": remote}).objects} == {"web-east"}


def test_label_and_annotation_filtering() -> None:
    labels = {
        **EXPORTED,
        "app": "web",
        "mirror.linkerd.io.x/y": "dropped",  # plain-string prefix
        "sub.mirror.linkerd.io/y": "kept",
        "multicluster.linkerd.io/remote-discovery": "forged",  # meshmirror drops it
        "example.com/team": "dropped",
        "example.community/x": "dropped too",  # `example.com/*` is a string prefix
        "exact": "dropped",
    }
    annotations = {
        "service.kubernetes.io/topology-aware-hints": "auto",
        "service.kubernetes.io/topology-mode": "Auto",
        "config.linkerd.io/opaque-ports": "3306",
        "mirror.linkerd.io/remote-gateway-identity": "forged",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "note": "kept",
    }
    source = [
        namespace("ns1"),
        link(
            excluded_labels=["example.com/*", "exact"],
            excluded_annotations=[
                "config.linkerd.io/opaque-ports",
                "kubectl.kubernetes.io/last-applied-configuration",
            ],
        ),
    ]
    remote = [
        namespace("ns1"),
        service("web", "ns1", labels=labels, annotations=annotations),
        endpoints("web", "ns1", ["10.0.0.1"]),
    ]
    got = manifests(plan_docs(source, {"remote": remote}))
    svc_meta = got[("Service", "ns1", "web-remote")]["metadata"]
    assert svc_meta["labels"] == {"app": "web", "sub.mirror.linkerd.io/y": "kept", **OWNED}
    assert svc_meta["annotations"] == {
        "config.linkerd.io/opaque-ports": "3306",  # re-added even when excluded
        "note": "kept",
        RV: "111",
        FQ: "web.ns1.svc.cluster.local",
    }
    eps_meta = got[("Endpoints", "ns1", "web-remote")]["metadata"]
    assert eps_meta["labels"] == svc_meta["labels"]
    assert set(eps_meta["annotations"]) == {FQ, GWID}


def test_remote_mirror_is_never_mirrored() -> None:
    selector = {"matchLabels": {"app": "web"}}
    source = [namespace("ns1"), link(selector=selector)]
    remote = [
        namespace("ns1"),
        service(
            "web-other", "ns1", labels={"app": "web", "mirror.linkerd.io/mirrored-service": "true"}
        ),
    ]
    p = plan_docs(source, {"remote": remote})
    assert p.objects == ()
    assert [s.code for s in p.skipped] == [SkipCode.REMOTE_IS_MIRROR]


def test_unowned_local_name_blocks_and_is_never_touched() -> None:
    mine = service("svc-remote", "ns1", labels={"app": "mine"})
    source = [namespace("ns1"), link(), mine]
    remote = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]
    p = plan_docs(source, {"remote": remote})
    assert p.objects == ()
    assert [s.code for s in p.skipped] == [SkipCode.NOT_OWNED]
    assert "svc-remote" in p.skipped[0].message
    changes = diff(p, cluster_state("local", source))
    assert not changes


def test_unowned_endpoints_of_the_mirror_name_also_block() -> None:
    source = [namespace("ns1"), link(), endpoints("svc-remote", "ns1", ["10.9.9.9"])]
    remote = [namespace("ns1"), service("svc", "ns1", labels=DISCOVERED)]
    p = plan_docs(source, {"remote": remote})
    assert [s.code for s in p.skipped] == [SkipCode.NOT_OWNED]


@pytest.mark.parametrize(
    ("svc_name", "target", "code"),
    [
        ("s" * 55, "remote", SkipCode.NAME_TOO_LONG),  # 55 + 1 + 6 = 62: fine
        ("s" * 57, "remote", SkipCode.NAME_TOO_LONG),  # 64
        ("svc", "Remote", SkipCode.INVALID_NAME),
        ("svc", "re.mote", SkipCode.INVALID_NAME),
    ],
)
def test_names_validated_never_truncated(svc_name: str, target: str, code: SkipCode) -> None:
    source = [namespace("ns1"), link(target)]
    remote = [namespace("ns1"), service(svc_name, "ns1", labels=EXPORTED)]
    p = plan_docs(source, {target: remote})
    name = f"{svc_name}-{target}"
    if len(name) <= 63 and target == "remote":
        assert {o.name for o in p.objects} == {name}
        return
    assert p.objects == ()
    assert [s.code for s in p.skipped] == [code]
    assert name in p.skipped[0].message


def test_no_ports_is_skipped() -> None:
    source = [namespace("ns1"), link()]
    remote = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED, port_list=[])]
    assert [s.code for s in plan_docs(source, {"remote": remote}).skipped] == [SkipCode.NO_PORTS]


def test_name_collision_across_links_is_reported() -> None:
    # `a-b` + `-c` equals `a` + `-b-c`: Linkerd lets one overwrite the other.
    source = [namespace("ns1"), link("c"), link("b-c", gateway="192.0.2.9")]
    p = plan_docs(
        source,
        {
            "c": [namespace("ns1"), service("a-b", "ns1", labels=EXPORTED)],
            "b-c": [namespace("ns1"), service("a", "ns1", labels=EXPORTED)],
        },
    )
    assert {o.name for o in p.objects} == {"a-b-c"}
    assert [s.code for s in p.skipped] == [SkipCode.NAME_COLLISION]


def test_headless_off_mirrors_like_any_other() -> None:
    source = [namespace("ns2"), link()]
    remote = [
        namespace("ns2"),
        service("service-one", "ns2", labels=EXPORTED, headless=True),
        endpoints(
            "service-one",
            "ns2",
            hosts={"pod-0": "10.0.0.1"},
            labels={"service.kubernetes.io/headless": ""},
        ),
    ]
    got = manifests(plan_docs(source, {"remote": remote}))
    assert "clusterIP" not in got[("Service", "ns2", "service-one-remote")]["spec"]
    assert ("Service", "ns2", "pod-0-remote") not in got


def headless_world(
    hosts: dict[str, str], rv: str = "112"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    source = [namespace("ns2"), link(gateway="192.0.2.129", port="889")]
    remote = [
        namespace("ns2"),
        service("service-one", "ns2", labels={**EXPORTED, "lk": "lv"}, headless=True),
        endpoints(
            "service-one",
            "ns2",
            hosts=hosts,
            rv=rv,
            labels={**EXPORTED, "lk": "lv", "service.kubernetes.io/headless": ""},
        ),
    ]
    return source, remote


HEADLESS = PlanOptions(enable_headless_services=True)


def test_headless_mirror_is_linkerds_objects() -> None:
    source, remote = headless_world({"pod-0": "10.0.0.1"})
    got = manifests(plan_docs(source, {"remote": remote}, options=HEADLESS))
    assert sorted(got) == [
        ("Endpoints", "ns2", "pod-0-remote"),
        ("Endpoints", "ns2", "service-one-remote"),
        ("Service", "ns2", "pod-0-remote"),
        ("Service", "ns2", "service-one-remote"),
    ]
    headless = got[("Service", "ns2", "service-one-remote")]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["metadata"]["labels"] == {"lk": "lv", **OWNED}
    assert headless["metadata"]["annotations"] == {
        RV: "111",
        FQ: "service-one.ns2.svc.cluster.local",
    }
    pod = got[("Service", "ns2", "pod-0-remote")]
    assert pod["metadata"]["labels"] == {
        "lk": "lv",
        **OWNED,
        "mirror.linkerd.io/headless-mirror-svc-name": "service-one-remote",
    }
    assert pod["metadata"]["annotations"] == {
        RV: "112",
        FQ: "pod-0.service-one.ns2.svc.cluster.local",
    }
    assert "clusterIP" not in pod["spec"]
    heps = got[("Endpoints", "ns2", "service-one-remote")]
    assert heps["metadata"]["annotations"] == {
        FQ: "service-one.ns2.svc.cluster.local",
        GWID: "gateway-identity",
    }
    # pod-0-remote has no cluster IP yet: its address waits for it (never ip: "").
    assert "subsets" not in heps
    peps = got[("Endpoints", "ns2", "pod-0-remote")]
    assert peps["metadata"]["labels"] == pod["metadata"]["labels"]
    assert peps["metadata"]["annotations"] == {
        FQ: "pod-0.service-one.ns2.svc.cluster.local",
        GWID: "gateway-identity",
    }
    assert peps["subsets"] == [
        {
            "addresses": [{"ip": "192.0.2.129"}],
            "ports": [
                {"name": "port1", "port": 889, "protocol": "TCP"},
                {"name": "port2", "port": 889, "protocol": "TCP"},
            ],
        }
    ]


def test_headless_endpoints_use_per_pod_cluster_ips_once_assigned() -> None:
    source, remote = headless_world({"pod-0": "10.0.0.1"})
    first = plan_docs(source, {"remote": remote}, options=HEADLESS)
    pod_svc = next(o for o in first.objects if o.name == "pod-0-remote" and o.kind == "Service")
    import attrs

    state = applied(cluster_state("local", source), first).replace(
        attrs.evolve(pod_svc, cluster_ip="10.96.5.5")
    )
    second = plan(state, {"remote": cluster_state("remote", remote)}, options=HEADLESS)
    heps = manifests(second)[("Endpoints", "ns2", "service-one-remote")]
    assert heps["subsets"][0]["addresses"] == [{"ip": "10.96.5.5", "hostname": "pod-0"}]
    changes = diff(second, state)
    assert [(u.ref.kind, u.ref.name) for u in changes.updates] == [
        ("Endpoints", "service-one-remote")
    ]


def test_headless_mirror_never_plans_an_empty_or_loopback_address() -> None:
    """Until its per-pod Services have cluster IPs, a headless mirror's Endpoints leave
    their addresses out and the plan says why; an unusable cluster IP waits too."""
    source, remote = headless_world({"pod-0": "10.0.0.1", "pod-1": "10.0.0.2"})
    first = plan_docs(source, {"remote": remote}, options=HEADLESS)
    waiting = [s for s in first.skipped if s.code is SkipCode.HEADLESS_AWAITING_CLUSTER_IP]
    assert len(waiting) == 1
    assert "pod-0-remote, pod-1-remote have no cluster IP yet" in waiting[0].message
    assert "service-one" in waiting[0].message
    import attrs

    pods = {o.name: o for o in first.objects if o.kind == "Service" and o.name.startswith("pod")}
    state = applied(cluster_state("local", source), first).replace(
        attrs.evolve(pods["pod-0-remote"], cluster_ip="10.96.5.5"),
        attrs.evolve(pods["pod-1-remote"], cluster_ip="127.0.0.1"),
    )
    second = plan(state, {"remote": cluster_state("remote", remote)}, options=HEADLESS)
    for o in second.objects:
        if o.kind == "Endpoints":
            for sub in o.subsets:
                assert all(a.ip not in ("", "127.0.0.1") for a in sub.addresses)
    heps = manifests(second)[("Endpoints", "ns2", "service-one-remote")]
    assert heps["subsets"][0]["addresses"] == [{"ip": "10.96.5.5", "hostname": "pod-0"}]
    [still] = [s for s in second.skipped if s.code is SkipCode.HEADLESS_AWAITING_CLUSTER_IP]
    assert "pod-1-remote has no cluster IP yet" in still.message


def test_headless_hosts_added_and_removed() -> None:
    source, remote = headless_world({"pod-0": "10.0.0.1"})
    state = applied(
        cluster_state("local", source), plan_docs(source, {"remote": remote}, options=HEADLESS)
    )
    _, grown = headless_world({"pod-0": "10.0.0.1", "pod-1": "10.0.0.2"})
    changes = diff(plan_docs(source, {"remote": grown}, options=HEADLESS), state)
    assert sorted((o.kind, o.name) for o in changes.creates) == [
        ("Endpoints", "pod-1-remote"),
        ("Service", "pod-1-remote"),
    ]
    state = applied(state, plan_docs(source, {"remote": grown}, options=HEADLESS))
    _, shrunk = headless_world({"pod-1": "10.0.0.2"})
    changes = diff(plan_docs(source, {"remote": shrunk}, options=HEADLESS), state)
    assert sorted((o.kind, o.name) for o in changes.deletes) == [
        ("Endpoints", "pod-0-remote"),
        ("Service", "pod-0-remote"),
    ]


def test_headless_scale_up_keeps_existing_pod_mirrors_versions() -> None:
    """Linkerd writes a per-pod mirror's remote-resource-version (the remote Endpoints'
    version) when it creates it and never updates it: a scale-up, which changes that
    version, creates the new pod's mirror and leaves the existing ones alone (a real
    apiserver showed every per-pod mirror rewritten)."""
    source, remote = headless_world({"pod-0": "10.0.0.1"}, rv="112")
    state = applied(
        cluster_state("local", source), plan_docs(source, {"remote": remote}, options=HEADLESS)
    )
    _, grown = headless_world({"pod-0": "10.0.0.1", "pod-1": "10.0.0.2"}, rv="113")
    grown_plan = plan(state, {"remote": cluster_state("remote", grown)}, options=HEADLESS)
    got = manifests(grown_plan)
    assert got[("Service", "ns2", "pod-0-remote")]["metadata"]["annotations"][RV] == "112"
    assert got[("Service", "ns2", "pod-1-remote")]["metadata"]["annotations"][RV] == "113"
    changes = diff(grown_plan, state)
    # No update at all: pod-0's mirror keeps its version, and the headless Endpoints
    # wait for pod-1's mirror to get its cluster IP (HeadlessAwaitingClusterIP).
    assert [(u.ref.kind, u.ref.name) for u in changes.updates] == []
    assert sorted((o.kind, o.name) for o in changes.creates) == [
        ("Endpoints", "pod-1-remote"),
        ("Service", "pod-1-remote"),
    ]
    # A same-named Service that is not this headless mirror's per-pod mirror keeps
    # nothing: the plan's version is the remote's (and the NotOwned rules apply).
    pod0 = next(o for o in state.services.values() if o.name == "pod-0-remote")
    import attrs

    other = state.replace(
        attrs.evolve(
            pod0, labels={**pod0.labels, "mirror.linkerd.io/headless-mirror-svc-name": "x"}
        )
    )
    regrown = manifests(plan(other, {"remote": cluster_state("remote", grown)}, options=HEADLESS))
    assert regrown[("Service", "ns2", "pod-0-remote")]["metadata"]["annotations"][RV] == "113"


def test_headless_without_hostnames_is_an_ordinary_mirror() -> None:
    source, remote = headless_world({})
    remote[2] = endpoints(
        "service-one",
        "ns2",
        ["10.0.0.1"],
        labels={**EXPORTED, "service.kubernetes.io/headless": ""},
    )
    got = manifests(plan_docs(source, {"remote": remote}, options=HEADLESS))
    assert "clusterIP" not in got[("Service", "ns2", "service-one-remote")]["spec"]
    assert got[("Endpoints", "ns2", "service-one-remote")]["subsets"][0]["addresses"] == [
        {"ip": "192.0.2.129"}
    ]


def test_headless_and_remote_discovery_mirrored_in_remote_discovery_mode() -> None:
    source, remote = headless_world({"pod-0": "10.0.0.1"})
    remote[1]["metadata"]["labels"] = dict(DISCOVERED)
    p = plan_docs(source, {"remote": remote}, options=HEADLESS)
    assert [m.mode for m in p.mirrors] == ["remote-discovery"]


def test_skip_messages_name_the_service() -> None:
    p = plan_docs([link()], {"remote": [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]})
    for s in p.skipped:
        assert "svc" in s.message
        assert s.cluster == "remote"

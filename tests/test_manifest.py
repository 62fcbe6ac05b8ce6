"""kubectl-style dicts <-> model values (``meshmirror.formats.manifest``), both ways, every kind."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmirror.formats import manifest as manifest_module
from meshmirror.formats.manifest import (
    LinkSelectorError,
    ManifestError,
    cluster_state,
    from_manifest,
    iter_documents,
    to_manifest,
)
from meshmirror.testing import (
    NAMESPACES,
    endpoints_for,
    label_selector_dicts,
    links,
    services,
)
from meshmirror.values.labels import Selector, SelectorError
from meshmirror.values.model import (
    ClusterState,
    ConfigMap,
    DuplicateObjectError,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    Link,
    Namespace,
    ObjectRef,
    ProbeSpec,
    Service,
    ServicePort,
)

# --------------------------------------------------------------------------- fixtures


def service_doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"ports": [{"port": 80}], **spec},
    }


def link_doc(version: str = "v1alpha3", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"multicluster.linkerd.io/{version}",
        "kind": "Link",
        "metadata": {"name": "east", "namespace": "linkerd-multicluster"},
        "spec": {"targetClusterName": "east", **spec},
    }


FULL_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "labels": {"app": "web", "mirror.linkerd.io/exported": "true"},
        "annotations": {"config.linkerd.io/opaque-ports": "5432"},
        "resourceVersion": "4242",
        "uid": "0a1b2c3d-0000-4000-8000-000000000001",
        "creationTimestamp": "2024-01-02T09:00:00Z",
        "managedFields": [{"manager": "kubectl"}],
    },
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "ipFamilies": ["IPv4"],
        "sessionAffinity": "ClientIP",
        "selector": {"app": "web"},
        "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080},
            {"name": "grpc", "protocol": "TCP", "port": 9090, "targetPort": "grpc-port"},
            {"name": "dns", "protocol": "UDP", "port": 53, "appProtocol": "dns"},
        ],
    },
    "status": {"loadBalancer": {}},
}

FULL_ENDPOINTS = {
    "apiVersion": "v1",
    "kind": "Endpoints",
    "metadata": {
        "name": "db",
        "namespace": "shop",
        "labels": {"service.kubernetes.io/headless": ""},
        "resourceVersion": "77",
    },
    "subsets": [
        {
            "addresses": [
                {
                    "ip": "10.1.0.5",
                    "hostname": "db-0",
                    "nodeName": "node-a",
                    "targetRef": {"kind": "Pod", "namespace": "shop", "name": "db-0"},
                }
            ],
            "notReadyAddresses": [{"ip": "10.1.0.6", "hostname": "db-1"}],
            "ports": [
                {"name": "pg", "port": 5432, "protocol": "TCP"},
                {"name": "metrics", "port": 9187, "protocol": "TCP", "appProtocol": "http"},
            ],
        },
        {"addresses": [{"ip": "10.1.0.7"}], "ports": [{"port": 5432}]},
    ],
}

FULL_LINK_SPEC = {
    "targetClusterName": "east",
    "targetClusterDomain": "cluster.local",
    "targetClusterLinkerdNamespace": "linkerd",
    "clusterCredentialsSecret": "cluster-credentials-east",
    "gatewayAddress": "192.0.2.10,192.0.2.11",
    "gatewayPort": "4143",
    "gatewayIdentity": "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd",
    "probeSpec": {
        "path": "/ready",
        "port": "4191",
        "period": "3s",
        "timeout": "30s",
        "failureThreshold": "3",
    },
    "selector": {
        "matchLabels": {"mirror.linkerd.io/exported": "true"},
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["test"]}],
    },
    "remoteDiscoverySelector": {"matchLabels": {"mirror.linkerd.io/exported": "remote-discovery"}},
    "federatedServiceSelector": {
        "matchExpressions": [
            {"key": "mirror.linkerd.io/federated", "operator": "In", "values": ["member"]},
            {"key": "skip", "operator": "DoesNotExist"},
        ]
    },
    "excludedAnnotations": ["evil.io/*", "note"],
    "excludedLabels": ["team"],
}


# --------------------------------------------------------------------------- Namespace


def test_namespace_read_and_written() -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "shop",
            "labels": {"kubernetes.io/metadata.name": "shop"},
            "annotations": {"linkerd.io/inject": "enabled"},
            "resourceVersion": 101,
            "uid": "u-1",
            "creationTimestamp": "2024-01-02T09:00:00Z",
        },
        "status": {"phase": "Active"},
    }
    ns = from_manifest(doc)
    assert ns == Namespace(
        "shop",
        labels={"kubernetes.io/metadata.name": "shop"},
        annotations={"linkerd.io/inject": "enabled"},
        resource_version="101",  # an integer resourceVersion is read as its text
        uid="u-1",
        creation_timestamp="2024-01-02T09:00:00Z",
    )
    out = to_manifest(ns)
    assert out == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "shop",
            "labels": {"kubernetes.io/metadata.name": "shop"},
            "annotations": {"linkerd.io/inject": "enabled"},
            "resourceVersion": "101",
            "uid": "u-1",
            "creationTimestamp": "2024-01-02T09:00:00Z",
        },
    }
    assert "namespace" not in out["metadata"]
    assert from_manifest(out) == ns


# --------------------------------------------------------------------------- Service


def test_service_every_field_read() -> None:
    svc = from_manifest(FULL_SERVICE)
    assert svc == Service(
        "shop",
        "web",
        labels={"app": "web", "mirror.linkerd.io/exported": "true"},
        annotations={"config.linkerd.io/opaque-ports": "5432"},
        ports=(
            ServicePort(80, name="http", protocol="TCP", target_port=8080, node_port=30080),
            ServicePort(9090, name="grpc", protocol="TCP", target_port="grpc-port"),
            ServicePort(53, name="dns", protocol="UDP", app_protocol="dns"),
        ),
        type="NodePort",
        cluster_ip="10.96.0.10",
        session_affinity="ClientIP",
        selector={"app": "web"},
        resource_version="4242",
        uid="0a1b2c3d-0000-4000-8000-000000000001",
        creation_timestamp="2024-01-02T09:00:00Z",
    )
    assert not svc.headless


def test_service_every_field_written() -> None:
    svc = from_manifest(FULL_SERVICE)
    assert svc is not None
    out = to_manifest(svc)
    assert out["spec"] == {
        "type": "NodePort",
        "clusterIP": "10.96.0.10",
        "selector": {"app": "web"},
        "sessionAffinity": "ClientIP",
        "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080},
            {"name": "grpc", "protocol": "TCP", "port": 9090, "targetPort": "grpc-port"},
            # targetPort defaults to the port, as the API server does.
            {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53, "appProtocol": "dns"},
        ],
    }
    assert out["metadata"]["resourceVersion"] == "4242"
    assert "managedFields" not in out["metadata"] and "status" not in out
    assert from_manifest(out) == attrs.evolve(
        svc, ports=[attrs.evolve(p, target_port=p.effective_target_port) for p in svc.ports]
    )


def test_headless_service() -> None:
    svc = from_manifest(service_doc(clusterIP="None"))
    assert isinstance(svc, Service)
    assert svc.headless and svc.cluster_ip == "None"
    assert to_manifest(svc)["spec"]["clusterIP"] == "None"


def test_minimal_service_defaults() -> None:
    doc = {"kind": "Service", "metadata": {"name": "web"}}  # no apiVersion, namespace, spec
    svc = from_manifest(doc)
    assert svc == Service("default", "web")
    assert svc.type == "ClusterIP" and svc.ports == () and svc.selector is None
    assert to_manifest(svc) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "labels": {}, "annotations": {}},
        "spec": {"ports": []},
    }


@pytest.mark.parametrize(
    ("raw", "target", "written"),
    [
        ({"port": 80}, None, 80),
        ({"port": 80, "targetPort": 8080}, 8080, 8080),
        ({"port": 80, "targetPort": "http"}, "http", "http"),
        ({"port": 80, "targetPort": "8080"}, "8080", "8080"),
    ],
)
def test_target_port_name_or_number(raw: dict[str, Any], target: Any, written: Any) -> None:
    svc = from_manifest(service_doc(ports=[{"name": "http", **raw}]))
    assert isinstance(svc, Service)
    assert svc.ports[0].target_port == target
    assert svc.ports[0].effective_target_port == written
    assert to_manifest(svc)["spec"]["ports"][0]["targetPort"] == written


def test_port_protocol_defaults_to_tcp() -> None:
    svc = from_manifest(
        service_doc(ports=[{"port": 80}, {"name": "b", "port": 53, "protocol": "UDP"}])
    )
    assert isinstance(svc, Service)
    assert [p.protocol for p in svc.ports] == ["TCP", "UDP"]
    assert [p.name for p in svc.ports] == ["", "b"]
    assert "name" not in to_manifest(svc)["spec"]["ports"][0]


# --------------------------------------------------------------------------- Endpoints


def test_endpoints_every_field() -> None:
    eps = from_manifest(FULL_ENDPOINTS)
    assert eps == Endpoints(
        "shop",
        "db",
        labels={"service.kubernetes.io/headless": ""},
        subsets=(
            EndpointSubset(
                addresses=(
                    EndpointAddress(
                        "10.1.0.5",
                        hostname="db-0",
                        node_name="node-a",
                        target_ref=ObjectRef("Pod", "shop", "db-0"),
                    ),
                ),
                not_ready_addresses=(EndpointAddress("10.1.0.6", hostname="db-1"),),
                ports=(
                    EndpointPort(5432, name="pg"),
                    EndpointPort(9187, name="metrics", app_protocol="http"),
                ),
            ),
            EndpointSubset(addresses=(EndpointAddress("10.1.0.7"),), ports=(EndpointPort(5432),)),
        ),
        resource_version="77",
    )
    assert isinstance(eps, Endpoints)
    assert [a.ip for a in eps.ready_addresses()] == ["10.1.0.5", "10.1.0.7"]
    assert not eps.empty
    out = to_manifest(eps)
    assert out["subsets"][0] == FULL_ENDPOINTS["subsets"][0]
    assert out["subsets"][1] == {
        "addresses": [{"ip": "10.1.0.7"}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    }
    assert from_manifest(out) == eps


def test_endpoints_with_only_not_ready_addresses_are_empty() -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "db", "namespace": "shop"},
        "subsets": [{"notReadyAddresses": [{"ip": "10.1.0.6"}], "ports": [{"port": 1}]}],
    }
    eps = from_manifest(doc)
    assert isinstance(eps, Endpoints)
    assert eps.empty and list(eps.ready_addresses()) == []
    assert to_manifest(eps)["subsets"] == [
        {"notReadyAddresses": [{"ip": "10.1.0.6"}], "ports": [{"port": 1, "protocol": "TCP"}]}
    ]


def test_endpoints_without_subsets() -> None:
    doc = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db", "namespace": "shop"}}
    eps = from_manifest(doc)
    assert eps == Endpoints("shop", "db")
    assert isinstance(eps, Endpoints) and eps.empty
    assert "subsets" not in to_manifest(eps)


# --------------------------------------------------------------------------- Link


@pytest.mark.parametrize("version", ["v1alpha2", "v1alpha3"])
def test_link_every_spec_field(version: str) -> None:
    doc = link_doc(version, **FULL_LINK_SPEC)
    doc["metadata"].update(
        {"resourceVersion": "9", "uid": "u-9", "creationTimestamp": "2024-01-01T00:00:00Z"}
    )
    link = from_manifest(doc)
    assert isinstance(link, Link)
    assert link == Link(
        "linkerd-multicluster",
        "east",
        "east",
        target_cluster_domain="cluster.local",
        target_cluster_linkerd_namespace="linkerd",
        cluster_credentials_secret="cluster-credentials-east",
        gateway_address="192.0.2.10,192.0.2.11",
        gateway_port="4143",
        gateway_identity="linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd",
        probe_spec=ProbeSpec("/ready", "4191", "3s", "30s", "3"),
        selector=Selector.parse("mirror.linkerd.io/exported=true,tier notin (test)"),
        remote_discovery_selector=Selector.parse("mirror.linkerd.io/exported=remote-discovery"),
        federated_service_selector=Selector.parse("mirror.linkerd.io/federated in (member),!skip"),
        excluded_annotations=("evil.io/*", "note"),
        excluded_labels=("team",),
        api_version=f"multicluster.linkerd.io/{version}",
        resource_version="9",
        uid="u-9",
        creation_timestamp="2024-01-01T00:00:00Z",
    )
    assert link.target == "east"
    assert link.gateway_addresses == ("192.0.2.10", "192.0.2.11")
    assert link.exports({"mirror.linkerd.io/exported": "true"})
    assert not link.exports({"mirror.linkerd.io/exported": "true", "tier": "test"})
    assert link.discovers({"mirror.linkerd.io/exported": "remote-discovery"})
    assert link.federates({"mirror.linkerd.io/federated": "member"})
    assert not link.federates({"mirror.linkerd.io/federated": "member", "skip": ""})
    out = to_manifest(link)
    assert out["apiVersion"] == f"multicluster.linkerd.io/{version}"
    assert out["spec"]["probeSpec"] == FULL_LINK_SPEC["probeSpec"]
    assert out["spec"]["excludedAnnotations"] == ["evil.io/*", "note"]
    assert from_manifest(out) == link


def test_link_target_name_is_the_suffix_not_the_link_name() -> None:
    doc = link_doc(targetClusterName="east-prod")
    doc["metadata"]["name"] = "to-east"
    link = from_manifest(doc)
    assert isinstance(link, Link)
    assert (link.name, link.target) == ("to-east", "east-prod")


def test_link_integers_are_tolerated_where_the_crd_has_strings() -> None:
    link = from_manifest(
        link_doc(gatewayPort=4143, probeSpec={"port": 4191, "failureThreshold": 3})
    )
    assert isinstance(link, Link)
    assert link.gateway_port == "4143"
    assert link.probe_spec == ProbeSpec(port="4191", failure_threshold="3")


def test_link_selectors_absent_or_empty_select_nothing() -> None:
    """Linkerd (linkerd2 #11309): an absent or empty selector selects nothing."""
    absent = from_manifest(link_doc())
    assert isinstance(absent, Link)
    assert absent.selector is None and absent.remote_discovery_selector is None
    empty = from_manifest(
        link_doc(
            selector={}, remoteDiscoverySelector={"matchLabels": {}}, federatedServiceSelector={}
        )
    )
    assert isinstance(empty, Link)
    assert empty.selector == Selector.everything()
    for link in (absent, empty):
        assert not link.exports({})
        assert not link.exports({"mirror.linkerd.io/exported": "true"})
        assert not link.discovers({"a": "b"})
        assert not link.federates({"mirror.linkerd.io/federated": "member"})
    assert "selector" not in to_manifest(absent)["spec"]
    assert to_manifest(empty)["spec"]["selector"] == {}


@pytest.mark.parametrize(
    "field", ["selector", "remoteDiscoverySelector", "federatedServiceSelector"]
)
def test_invalid_link_selector_is_both_a_manifest_and_a_selector_error(field: str) -> None:
    doc = link_doc(
        **{field: {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}}
    )
    with pytest.raises(LinkSelectorError) as info:
        from_manifest(doc)
    err = info.value
    assert isinstance(err, ManifestError) and isinstance(err, SelectorError)
    assert err.field == f"spec.{field}"
    assert err.ref == "Link linkerd-multicluster/east"
    assert "Gt" in str(err) and f"spec.{field}" in str(err)


def test_link_of_other_versions_or_groups_is_ignored() -> None:
    for api_version in ("multicluster.linkerd.io/v1beta9", "example.com/v1", None):
        doc = link_doc()
        doc["apiVersion"] = api_version
        assert from_manifest(doc) is None


@given(links())
def test_link_round_trip(link: Link) -> None:
    assert from_manifest(to_manifest(link)) == link
    json.dumps(to_manifest(link))


@given(label_selector_dicts())
def test_link_selector_dict_round_trip(selector: dict[str, Any]) -> None:
    link = from_manifest(link_doc(selector=selector))
    assert isinstance(link, Link)
    again = from_manifest(to_manifest(link))
    assert isinstance(again, Link)
    assert again.selector == link.selector == Selector.from_label_selector(selector)


# --------------------------------------------------------------------------- ConfigMap


def test_config_map() -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "linkerd-identity-trust-roots",
            "namespace": "linkerd",
            "labels": {"a": "b"},
            "resourceVersion": "5",
        },
        "data": {"ca-bundle.crt": "-----BEGIN CERTIFICATE-----\n..."},
    }
    cm = from_manifest(doc)
    assert cm == ConfigMap(
        "linkerd",
        "linkerd-identity-trust-roots",
        data={"ca-bundle.crt": "-----BEGIN CERTIFICATE-----\n..."},
        labels={"a": "b"},
        resource_version="5",
    )
    assert isinstance(cm, ConfigMap)
    assert to_manifest(cm)["data"] == doc["data"]
    assert from_manifest(to_manifest(cm)) == cm


# --------------------------------------------------------------------------- EndpointSlices


def endpoint_slice(
    name: str, endpoints: list[dict[str, Any]], service: str | None = "db", **extra: Any
) -> dict[str, Any]:
    labels = {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    if service is not None:
        labels["kubernetes.io/service-name"] = service
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "shop", "labels": {**labels, "app": "db"}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        **extra,
    }


def test_endpoint_slices_fold_into_endpoints() -> None:
    docs = [
        # Out of name order on purpose: slices are folded in name order.
        endpoint_slice(
            "db-zzz",
            [{"addresses": ["10.1.0.9"], "conditions": {"ready": False}, "hostname": "db-2"}],
        ),
        endpoint_slice(
            "db-aaa",
            [
                {"addresses": ["10.1.0.5"], "conditions": {"ready": True}, "hostname": "db-0"},
                {"addresses": ["10.1.0.6"], "nodeName": "node-b"},  # no condition: ready
                {
                    "addresses": ["10.1.0.7"],
                    "targetRef": {"kind": "Pod", "namespace": "shop", "name": "db-1"},
                    "conditions": {"ready": None},
                },
            ],
        ),
    ]
    state = cluster_state("east", docs)
    eps = state.endpoints_of("shop", "db")
    assert eps is not None
    assert eps.labels == {"app": "db"}  # the slice machinery's own labels dropped
    pg = (EndpointPort(5432, name="pg"),)
    assert eps.subsets == (
        EndpointSubset(
            addresses=(
                EndpointAddress("10.1.0.5", hostname="db-0"),
                EndpointAddress("10.1.0.6", node_name="node-b"),
                EndpointAddress("10.1.0.7", target_ref=ObjectRef("Pod", "shop", "db-1")),
            ),
            ports=pg,
        ),
        EndpointSubset(
            not_ready_addresses=(EndpointAddress("10.1.0.9", hostname="db-2"),), ports=pg
        ),
    )
    assert from_manifest(docs[0]) is None  # slices are read only by cluster_state


def test_endpoints_object_wins_over_slices() -> None:
    own = copy.deepcopy(FULL_ENDPOINTS)
    docs = [endpoint_slice("db-aaa", [{"addresses": ["10.9.9.9"]}]), own]
    eps = cluster_state("east", docs).endpoints_of("shop", "db")
    assert eps == from_manifest(own)


def test_slices_without_a_service_or_of_another_version_are_ignored() -> None:
    docs = [
        endpoint_slice("orphan", [{"addresses": ["10.1.0.5"]}], service=None),
        {**endpoint_slice("db-x", [{"addresses": ["10.1.0.6"]}]), "apiVersion": "example.com/v1"},
    ]
    assert cluster_state("east", docs).endpoints == {}


def test_v1beta1_slices_are_read() -> None:
    doc = {
        **endpoint_slice("db-a", [{"addresses": ["10.1.0.5"]}]),
        "apiVersion": "discovery.k8s.io/v1beta1",
    }
    eps = cluster_state("east", [doc]).endpoints_of("shop", "db")
    assert eps is not None and [a.ip for a in eps.ready_addresses()] == ["10.1.0.5"]


def test_a_slice_given_twice_is_read_once() -> None:
    """Identical repeats are fine everywhere else (two files of one dump that overlap);
    a repeated EndpointSlice must not double its addresses."""
    doc = endpoint_slice("db-a", [{"addresses": ["10.1.0.5"]}])
    once = cluster_state("east", [doc]).endpoints_of("shop", "db")
    twice = cluster_state("east", [doc, copy.deepcopy(doc)]).endpoints_of("shop", "db")
    assert twice == once


# --------------------------------------------------------------------------- lists and kinds


def test_unknown_kinds_are_ignored() -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": 1}},
        {"apiVersion": "apps/v1", "kind": "Service", "metadata": {}},  # not core v1
        {"apiVersion": "v2", "kind": "Endpoints", "spec": 5},
        {"kind": "CustomThing", "metadata": "not even a mapping"},
    ]
    for doc in docs:
        assert from_manifest(doc) is None
    state = cluster_state("east", docs)
    assert state.objects() == []


def test_kind_list_and_typed_lists_are_expanded() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    docs = [
        {"apiVersion": "v1", "kind": "List", "items": [ns]},
        {"apiVersion": "v1", "kind": "ServiceList", "metadata": {}, "items": [service_doc()]},
        {"apiVersion": "v1", "kind": "EndpointsList", "items": None},
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [{"kind": "List", "items": [FULL_ENDPOINTS]}],
        },
        None,  # an empty YAML document
    ]
    assert [d["kind"] for d in iter_documents(docs)] == ["Namespace", "Service", "Endpoints"]
    state = cluster_state("east", docs)
    assert [str(o.ref) for o in state.objects()] == [
        "Endpoints shop/db",
        "Namespace shop",
        "Service shop/web",
    ]


def test_identical_repeats_are_fine_different_ones_are_not() -> None:
    assert len(cluster_state("east", [service_doc(), service_doc()]).services) == 1
    with pytest.raises(ManifestError) as info:
        cluster_state("east", [service_doc(), service_doc(type="NodePort")])
    assert "Service shop/web" in str(info.value) and "east" in str(info.value)


def test_the_clash_raised_is_the_first_of_the_first_kind() -> None:
    """``cluster_state`` and ``ClusterState.build`` share one duplicate check: every
    object is read first; then the first clash of the first kind in the order Namespace,
    Service, Endpoints, Link, ConfigMap is raised. A clash of EndpointSlices comes first."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    odd_ns = {**ns, "metadata": {"name": "shop", "labels": {"a": "b"}}}
    other = service_doc()
    other["metadata"] = {"name": "api", "namespace": "shop"}
    docs = [
        service_doc(),
        service_doc(type="NodePort"),  # the first clash read, but of a later kind
        other,
        {**other, "spec": {"ports": [{"port": 81}]}},
        ns,
        odd_ns,
        ns,  # an identical repeat of the first: a clash with the second all the same
    ]
    message = (
        "Namespace shop: cluster 'east' holds two different versions of Namespace shop; "
        "give each object once"
    )
    with pytest.raises(ManifestError) as info:
        cluster_state("east", docs)
    assert str(info.value) == message
    assert info.value.ref == "Namespace shop"
    objects = [from_manifest(d) for d in docs]
    with pytest.raises(DuplicateObjectError) as dup:
        ClusterState.build("east", [o for o in objects if o is not None])
    assert f"{info.value.ref}: {dup.value}" == message
    services_only = [d for d in docs if d["kind"] == "Service"]
    with pytest.raises(ManifestError, match="of Service shop/web;"):
        cluster_state("east", services_only)
    slice_a = endpoint_slice("db-a", [{"addresses": ["10.1.0.5"]}])
    slice_b = endpoint_slice("db-a", [{"addresses": ["10.1.0.6"]}])
    with pytest.raises(ManifestError) as info:
        cluster_state("east", [*docs, slice_a, slice_b])
    assert str(info.value) == (
        "EndpointSlice shop/db-a: is given twice with different content; give each object once"
    )


def test_cluster_state_outputs_are_plain_data() -> None:
    state = cluster_state("east", [FULL_SERVICE, FULL_ENDPOINTS, link_doc(**FULL_LINK_SPEC)])
    for obj in state.objects():
        doc = to_manifest(obj)
        assert json.loads(json.dumps(doc)) == doc
        assert yaml.safe_load(yaml.safe_dump(doc)) == doc


# --------------------------------------------------------------------------- round trips


@given(services(), st.data())
def test_service_and_endpoints_round_trip(svc: Service, data: st.DataObject) -> None:
    eps = data.draw(endpoints_for(svc))
    normal = attrs.evolve(
        svc, ports=[attrs.evolve(p, target_port=p.effective_target_port) for p in svc.ports]
    )
    assert from_manifest(to_manifest(svc)) == normal
    assert from_manifest(to_manifest(eps)) == eps
    # Reading is idempotent on what meshmirror writes.
    assert to_manifest(normal) == to_manifest(svc)


# --------------------------------------------------------------------------- fast readers
# manifest._read is the one place choosing between the fast readers (plain dicts of v1
# Services, Endpoints and Namespaces) and the careful ones (manifest._careful). Here the
# fast readers are called directly, so a fast reader that gave up on the common case, or
# read it differently, fails; test_fuzz checks broken documents the same way.

FAST_READERS: dict[str, Callable[[dict[str, Any], dict[Any, Any], set[str]], Any]] = {
    "Service": manifest_module._fast_service,
    "Endpoints": manifest_module._fast_endpoints,
    "Namespace": lambda doc, _cache, stamps: manifest_module._fast_namespace(doc, stamps),
}
STAMPS = ("2024-01-01T00:00:00Z", "2024-02-01T12:30:00+01:00")


@st.composite
def common_objects(draw: st.DrawFn) -> list[Any]:
    """Services, their Endpoints and Namespaces as kubectl prints them, every field the
    fast readers read set now and then (node names, target refs, server fields)."""
    out: list[Any] = []
    for ns in draw(st.lists(st.sampled_from(NAMESPACES), unique=True, max_size=2)):
        out.append(
            Namespace(
                ns,
                labels=draw(st.sampled_from(({}, {"b": "1", "a": "2"}))),
                resource_version=draw(st.sampled_from(("", "7"))),
                uid=draw(st.sampled_from(("", "u-1"))),
                creation_timestamp=draw(st.sampled_from((None, *STAMPS))),
            )
        )
    for svc in draw(st.lists(services(), max_size=4, unique_by=lambda s: (s.namespace, s.name))):
        eps = draw(endpoints_for(svc))
        subsets = tuple(
            attrs.evolve(
                sub,
                addresses=tuple(
                    attrs.evolve(
                        a,
                        node_name=draw(st.sampled_from((None, "node-1"))),
                        target_ref=draw(
                            st.sampled_from((None, ObjectRef("Pod", svc.namespace, "p-0")))
                        ),
                    )
                    for a in sub.addresses
                ),
            )
            for sub in eps.subsets
        )
        eps = attrs.evolve(
            eps, subsets=subsets, uid=svc.uid, creation_timestamp=svc.creation_timestamp
        )
        out += [svc, eps]
    return out


@given(common_objects(), st.booleans())
def test_fast_readers_read_the_common_case_as_the_careful_ones_do(
    objects: list[Any], as_json: bool
) -> None:
    # One cache and one set of timestamps for all: the loader shares them in a cluster.
    cache: dict[Any, Any] = {}
    stamps: set[str] = set()
    read = []
    for obj in objects:
        doc = to_manifest(obj)
        if as_json:  # what the benchmarks and the Kubernetes client hand over
            doc = json.loads(json.dumps(doc))
        careful = manifest_module._careful(doc)
        # No _Unusual: the common case never leaves the fast path.
        fast = FAST_READERS[obj.kind](doc, cache, stamps)
        assert fast == careful
        assert repr(fast) == repr(careful)  # the same types inside, not only equal
        assert from_manifest(doc) == careful
        read.append(careful)
    state = cluster_state("east", [to_manifest(o) for o in objects])
    assert state.objects() == sorted(read, key=lambda o: (o.kind, o.ref.namespace, o.name))


class _Text(str):
    """A str subclass: the careful reader keeps it, the fast one must not take it."""


#: Values a field of a common object is set to, one at a time: wrong types, values out of
#: range, types a cache could confuse (True and 1, 80.0 and 80), malformed text.
ODD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 65536, 80.0, "", "x", _Text("x"), "10.0.0.256", "::1",
    "2024-13-01T00:00:00Z", "2024-01-01T00:00:00", [], ["x"], {}, {"a": 1}, {"a": "b"},
)  # fmt: skip


def _slots(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value inside ``node`` (dict keys and list indexes)."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield (*path, key)
        yield from _slots(value, (*path, key))


def _set_at(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = copy.deepcopy(value)
    return out


def _outcome(read: Callable[[Any], Any], doc: Any) -> Any:
    try:
        return read(doc)
    except ManifestError as err:
        return err


@settings(max_examples=20)
@given(common_objects())
def test_fast_readers_hand_over_what_they_do_not_expect(objects: list[Any]) -> None:
    """Every field of a common object set to each odd value in turn, or removed: a fast
    reader reads the document as the careful reader does or gives up on it (never does
    it take what the careful reader rejects), and through the seam the value, or the
    error message, is the careful reader's."""
    cache: dict[Any, Any] = {}  # shared, as in a load: no confusion across documents
    stamps: set[str] = set()
    for obj in objects:
        original = to_manifest(obj)
        for path in list(_slots(original)):
            for value in (*ODD_VALUES, DELETE):
                doc = _set_at(original, path, value)
                careful = _outcome(manifest_module._careful, doc)
                seam = _outcome(lambda d: manifest_module._read(d, cache, stamps), doc)
                assert repr(seam) == repr(careful), (path, value)
                assert str(seam) == str(careful)
                if doc.get("kind") != obj.kind or doc.get("apiVersion") != "v1":
                    continue  # the seam does not send it to this fast reader
                try:
                    fast = FAST_READERS[obj.kind](doc, cache, stamps)
                except manifest_module._Unusual:
                    continue
                assert not isinstance(careful, ManifestError), (path, value, careful)
                assert repr(fast) == repr(careful), (path, value)


def test_fast_readers_give_up_on_what_they_do_not_expect() -> None:
    """A document the fast path hands over gets the careful reader's error."""
    doc = service_doc(ports=[{"port": 80, "targetPort": 0}])
    with pytest.raises(manifest_module._Unusual):
        manifest_module._fast_service(doc, {}, set())
    with pytest.raises(ManifestError) as careful:
        manifest_module._careful(doc)
    with pytest.raises(ManifestError) as seam:
        from_manifest(doc)
    assert str(seam.value) == str(careful.value)
    assert "field spec.ports[0].targetPort: must be between 1 and 65535" in str(seam.value)


# --------------------------------------------------------------------------- malformed input

SVC = "Service shop/web"
EPS = "Endpoints shop/db"
LINK = "Link linkerd-multicluster/east"


def _with(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with the dotted ``path`` (list indexes as numbers) set to
    ``value`` (or removed when ``value`` is ``DELETE``)."""
    out = copy.deepcopy(doc)
    node: Any = out
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return out


DELETE = object()
SVC_DOC = service_doc(ports=[{"name": "http", "port": 80}])
EPS_DOC = copy.deepcopy(FULL_ENDPOINTS)
LINK_DOC = link_doc(**copy.deepcopy(FULL_LINK_SPEC))
NS_DOC = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
CM_DOC = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}}

MALFORMED = [
    # (document, path, bad value, expected ref, expected field)
    (SVC_DOC, "kind", 5, "object", "kind"),
    (SVC_DOC, "metadata", DELETE, "Service", "metadata"),
    (SVC_DOC, "metadata", ["web"], "Service", "metadata"),
    (SVC_DOC, "metadata.name", DELETE, "Service", "metadata.name"),
    (SVC_DOC, "metadata.name", "", "Service", "metadata.name"),
    (SVC_DOC, "metadata.name", 7, "Service", "metadata.name"),
    (SVC_DOC, "metadata.namespace", 7, "Service web", "metadata.namespace"),
    (SVC_DOC, "metadata.namespace", "", "Service web", "metadata.namespace"),
    (SVC_DOC, "metadata.labels", ["a"], SVC, "metadata.labels"),
    (SVC_DOC, "metadata.labels", {"app": 1}, SVC, "metadata.labels.app"),
    (SVC_DOC, "metadata.labels", {"app": None}, SVC, "metadata.labels.app"),
    (SVC_DOC, "metadata.labels", {1: "a"}, SVC, "metadata.labels"),
    (SVC_DOC, "metadata.annotations", {"a": ["x"]}, SVC, "metadata.annotations.a"),
    (SVC_DOC, "metadata.resourceVersion", 1.5, SVC, "metadata.resourceVersion"),
    (SVC_DOC, "metadata.uid", 5, SVC, "metadata.uid"),
    (SVC_DOC, "metadata.creationTimestamp", "yesterday", SVC, "metadata.creationTimestamp"),
    (
        SVC_DOC,
        "metadata.creationTimestamp",
        "2024-01-01T00:00:00",
        SVC,
        "metadata.creationTimestamp",
    ),
    (SVC_DOC, "metadata.creationTimestamp", 5, SVC, "metadata.creationTimestamp"),
    # Unhashable values broke the fast path's timestamp cache (TypeError).
    (SVC_DOC, "metadata.creationTimestamp", [], SVC, "metadata.creationTimestamp"),
    (EPS_DOC, "metadata.creationTimestamp", {"a": 1}, EPS, "metadata.creationTimestamp"),
    (SVC_DOC, "spec", "ports", SVC, "spec"),
    (SVC_DOC, "spec.ports", {"port": 80}, SVC, "spec.ports"),
    (SVC_DOC, "spec.ports.0", 80, SVC, "spec.ports[0]"),
    (SVC_DOC, "spec.ports.0.port", DELETE, SVC, "spec.ports[0].port"),
    (SVC_DOC, "spec.ports.0.port", "80", SVC, "spec.ports[0].port"),
    (SVC_DOC, "spec.ports.0.port", 0, SVC, "spec.ports[0].port"),
    (SVC_DOC, "spec.ports.0.port", 65536, SVC, "spec.ports[0].port"),
    (SVC_DOC, "spec.ports.0.port", True, SVC, "spec.ports[0].port"),
    (SVC_DOC, "spec.ports.0.port", 80.0, SVC, "spec.ports[0].port"),
    (SVC_DOC, "spec.ports.0.name", 1, SVC, "spec.ports[0].name"),
    (SVC_DOC, "spec.ports.0.protocol", ["TCP"], SVC, "spec.ports[0].protocol"),
    (SVC_DOC, "spec.ports.0.targetPort", 0, SVC, "spec.ports[0].targetPort"),
    (SVC_DOC, "spec.ports.0.targetPort", 70000, SVC, "spec.ports[0].targetPort"),
    (SVC_DOC, "spec.ports.0.targetPort", True, SVC, "spec.ports[0].targetPort"),
    (SVC_DOC, "spec.ports.0.targetPort", 1.5, SVC, "spec.ports[0].targetPort"),
    (SVC_DOC, "spec.ports.0.nodePort", "x", SVC, "spec.ports[0].nodePort"),
    (SVC_DOC, "spec.ports.0.appProtocol", 5, SVC, "spec.ports[0].appProtocol"),
    (SVC_DOC, "spec.type", 5, SVC, "spec.type"),
    (SVC_DOC, "spec.clusterIP", 5, SVC, "spec.clusterIP"),
    (SVC_DOC, "spec.sessionAffinity", {}, SVC, "spec.sessionAffinity"),
    (SVC_DOC, "spec.selector", ["app"], SVC, "spec.selector"),
    (SVC_DOC, "spec.selector", {"app": 5}, SVC, "spec.selector.app"),
    (SVC_DOC, "spec.externalName", 5, SVC, "spec.externalName"),
    (EPS_DOC, "subsets", {"a": 1}, EPS, "subsets"),
    (EPS_DOC, "subsets.0", "x", EPS, "subsets[0]"),
    (EPS_DOC, "subsets.0.addresses", "10.0.0.1", EPS, "subsets[0].addresses"),
    (EPS_DOC, "subsets.0.addresses.0", "10.0.0.1", EPS, "subsets[0].addresses[0]"),
    (EPS_DOC, "subsets.0.addresses.0.ip", DELETE, EPS, "subsets[0].addresses[0].ip"),
    (EPS_DOC, "subsets.0.addresses.0.hostname", 5, EPS, "subsets[0].addresses[0].hostname"),
    (EPS_DOC, "subsets.0.addresses.0.nodeName", 5, EPS, "subsets[0].addresses[0].nodeName"),
    (EPS_DOC, "subsets.0.addresses.0.targetRef", "Pod", EPS, "subsets[0].addresses[0].targetRef"),
    (
        EPS_DOC,
        "subsets.0.addresses.0.targetRef.kind",
        5,
        EPS,
        "subsets[0].addresses[0].targetRef.kind",
    ),
    (EPS_DOC, "subsets.0.notReadyAddresses.0.ip", 5, EPS, "subsets[0].notReadyAddresses[0].ip"),
    (EPS_DOC, "subsets.1.ports.0.port", "x", EPS, "subsets[1].ports[0].port"),
    (EPS_DOC, "subsets.0.ports.1.name", 5, EPS, "subsets[0].ports[1].name"),
    (EPS_DOC, "subsets.0.ports.1.appProtocol", 5, EPS, "subsets[0].ports[1].appProtocol"),
    (LINK_DOC, "spec", [], LINK, "spec"),
    (LINK_DOC, "spec.targetClusterName", DELETE, LINK, "spec.targetClusterName"),
    (LINK_DOC, "spec.targetClusterName", "", LINK, "spec.targetClusterName"),
    (LINK_DOC, "spec.targetClusterDomain", 5, LINK, "spec.targetClusterDomain"),
    (LINK_DOC, "spec.clusterCredentialsSecret", [], LINK, "spec.clusterCredentialsSecret"),
    (LINK_DOC, "spec.gatewayAddress", 5, LINK, "spec.gatewayAddress"),
    (LINK_DOC, "spec.gatewayPort", [4143], LINK, "spec.gatewayPort"),
    (LINK_DOC, "spec.gatewayIdentity", 5, LINK, "spec.gatewayIdentity"),
    (LINK_DOC, "spec.probeSpec", "3s", LINK, "spec.probeSpec"),
    (LINK_DOC, "spec.probeSpec.period", ["3s"], LINK, "spec.probeSpec.period"),
    (LINK_DOC, "spec.selector", "a=b", LINK, "spec.selector"),
    (LINK_DOC, "spec.selector.matchLabels", {"a/b/c": "x"}, LINK, "spec.selector"),
    (
        LINK_DOC,
        "spec.remoteDiscoverySelector.matchLabels",
        [],
        LINK,
        "spec.remoteDiscoverySelector",
    ),
    (
        LINK_DOC,
        "spec.federatedServiceSelector.matchExpressions.0.operator",
        "Gt",
        LINK,
        "spec.federatedServiceSelector",
    ),
    (LINK_DOC, "spec.excludedLabels", "team", LINK, "spec.excludedLabels"),
    (LINK_DOC, "spec.excludedAnnotations", ["a", 5], LINK, "spec.excludedAnnotations[1]"),
    (LINK_DOC, "metadata.labels", {"a": 5}, LINK, "metadata.labels.a"),
    (NS_DOC, "metadata.name", None, "Namespace", "metadata.name"),
    (NS_DOC, "metadata.annotations", "x", "Namespace shop", "metadata.annotations"),
    (CM_DOC, "data", {"k": 5}, "ConfigMap x/c", "data.k"),
    (CM_DOC, "data", "text", "ConfigMap x/c", "data"),
]


@pytest.mark.parametrize(
    ("doc", "path", "value", "ref", "field"),
    MALFORMED,
    ids=[f"{d['kind']}-{p}-{v!r}"[:60] for d, p, v, _, _ in MALFORMED],
)
def test_malformed_field_names_the_object_and_field(
    doc: dict[str, Any], path: str, value: Any, ref: str, field: str
) -> None:
    bad = _with(doc, path, value)
    for read in (from_manifest, lambda d: cluster_state("east", [d])):
        with pytest.raises(ManifestError) as info:
            read(bad)
        err = info.value
        assert (err.ref, err.field) == (ref, field)
        assert ref in str(err) and f"field {field}: " in str(err)
        assert err.problem and err.problem in str(err)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1"}, "metadata"),
        (endpoint_slice("s", "10.0.0.1"), "endpoints"),  # type: ignore[arg-type]
        (endpoint_slice("s", ["10.0.0.1"]), "endpoints[0]"),
        (endpoint_slice("s", [{"addresses": "10.0.0.1"}]), "endpoints[0].addresses"),
        (endpoint_slice("s", [{"addresses": [5]}]), "endpoints[0].addresses[0]"),
        (endpoint_slice("s", [{"addresses": [], "conditions": 1}]), "endpoints[0].conditions"),
        (endpoint_slice("s", [{"addresses": [], "hostname": 1}]), "endpoints[0].hostname"),
        (endpoint_slice("s", [], ports=[{"port": "x"}]), "ports[0].port"),
    ],
)
def test_malformed_endpoint_slice(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ManifestError) as info:
        cluster_state("east", [doc])
    assert info.value.field == field
    assert "EndpointSlice" in info.value.ref


@pytest.mark.parametrize("doc", ["Service", 5, ["a"], b"x"])
def test_a_document_that_is_not_a_mapping(doc: Any) -> None:
    with pytest.raises(ManifestError, match="must be a mapping"):
        from_manifest(doc)
    with pytest.raises(ManifestError, match="must be a mapping"):
        cluster_state("east", [doc])


def test_list_items_must_be_a_list() -> None:
    with pytest.raises(ManifestError) as info:
        cluster_state("east", [{"apiVersion": "v1", "kind": "List", "items": {"a": 1}}])
    assert (info.value.ref, info.value.field) == ("List", "items")
    with pytest.raises(ManifestError):
        cluster_state("east", [{"kind": "List", "items": [5]}])


def test_error_message_layout() -> None:
    err = ManifestError("must be an integer", ref=SVC, field="spec.ports[0].port")
    assert str(err) == "Service shop/web: field spec.ports[0].port: must be an integer"
    located = err.located("west.yaml, document 3")
    assert located is err
    assert str(err) == (
        "west.yaml, document 3, Service shop/web: field spec.ports[0].port: must be an integer"
    )
    assert isinstance(err, ValueError)


def test_reading_never_mutates_the_documents() -> None:
    import copy
    from pathlib import Path

    import yaml

    from meshmirror.formats.manifest import cluster_state as read

    root = Path(__file__).resolve().parent.parent / "examples" / "topology"
    for name in ("west", "east", "north"):
        docs = [d for d in yaml.safe_load_all((root / f"{name}.yaml").read_text()) if d]
        before = copy.deepcopy(docs)
        read(name, docs)
        assert docs == before

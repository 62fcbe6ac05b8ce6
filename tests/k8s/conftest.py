"""Fixtures for the Kubernetes adapter tests: a west/east/north topology of FakeClusters,
each served over real HTTP on 127.0.0.1 by :class:`kube_server.KubeServer`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from k8s_helpers import (
    LINKS_NS,
    TOKENS,
    Topology,
    eps,
    link_documents,
    ns,
    svc,
)
from kube_server import KubeServer

from meshmirror.effects.backends.memory import FakeCluster


def west_docs() -> list[dict]:
    return [
        ns(LINKS_NS),
        ns("linkerd"),  # Linkerd's control plane: the destination controller's credentials
        ns("shop"),
        ns("pay"),
        # Not ours: a user Service, and one squatting a planned mirror's name.
        svc("legacy", export=None),
        svc("api-north", export=None, labels={"team": "payments"}),
        svc("cache", member=True, export=None),  # a local federated member
    ]


def east_docs() -> list[dict]:
    return [
        ns("shop"),
        ns("pay"),
        svc("web"),
        eps("web", "shop", "10.2.0.1", "10.2.0.2"),
        svc("db", export="remote-discovery", port=5432),
        eps("db", "shop", "10.2.0.9"),
        svc("cache", export=None, member=True),
        eps("cache", "shop", "10.2.0.5"),
        svc("internal", export=None),
        svc("billing", "pay"),
        eps("billing", "pay", "10.2.1.1"),
    ]


def north_docs() -> list[dict]:
    return [
        ns("shop"),
        svc("api", export="remote-discovery", port=8443),
        svc("cache", export=None, member=True),
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "cache-abc",
                "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "cache"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.3.0.7"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080}],
        },
        svc("web", export="true"),  # north's Link is gatewayless: never mirrored
    ]


@pytest.fixture
def topology() -> Iterator[Topology]:
    clusters = {
        "west": FakeCluster.from_manifests("west", west_docs()),
        "east": FakeCluster.from_manifests("east", east_docs()),
        "north": FakeCluster.from_manifests("north", north_docs()),
    }
    servers = {
        name: KubeServer(
            cluster, token=TOKENS[name], max_watch_seconds=2.0, bookmark_interval=0.5
        ).start()
        for name, cluster in clusters.items()
    }
    topo = Topology(clusters, servers)
    clusters["west"].apply(link_documents("east", servers["east"]))
    clusters["west"].apply(link_documents("north", servers["north"], "--gateway=false"))
    try:
        yield topo
    finally:
        topo.stop()

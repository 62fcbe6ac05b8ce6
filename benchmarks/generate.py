"""Deterministic, realistic multi-cluster topologies as kubectl JSON.

Each cluster is what ``kubectl get namespaces,services,endpoints,links -A -o json`` prints
for it: one ``kind: List`` holding Namespaces, Services (1-5 ports), Endpoints (1-3
addresses), and in the source cluster a Link for every other cluster. Objects carry the
fields the API server fills in and kubectl prints (uid, resourceVersion,
creationTimestamp, clusterIP(s), ipFamilies, status, ...; no managedFields), label noise
(Helm and app.kubernetes.io labels, team/version labels, random extra keys) and
annotation noise (``kubectl.kubernetes.io/last-applied-configuration`` on objects made by
``kubectl apply``, Prometheus scrape hints, opaque ports).

Services are exported in a mix of modes: gateway (``mirror.linkerd.io/exported: "true"``),
remote-discovery, federated members (the same namespace/name in many clusters) and
headless gateway exports; the rest are not exported.

Everything comes from ``random.Random(seed)``: the same arguments give byte-identical
output.

    python benchmarks/generate.py --clusters 3 --services 20 --out /tmp/topo
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import uuid
from pathlib import Path
from typing import Any

__all__ = ["SOURCE", "Topology", "cluster_name", "generate", "to_json"]

#: The source cluster of every generated topology (the one holding the Links).
SOURCE = "c000"

_WORDS = [
    "api",
    "accounts",
    "audit",
    "auth",
    "billing",
    "cache",
    "cart",
    "catalog",
    "checkout",
    "config",
    "db",
    "emails",
    "events",
    "feed",
    "frontend",
    "gateway",
    "inventory",
    "ledger",
    "login",
    "media",
    "metrics",
    "notify",
    "orders",
    "payments",
    "pricing",
    "profile",
    "queue",
    "rating",
    "recommend",
    "search",
    "session",
    "shipping",
    "stock",
    "users",
    "web",
]
_TEAMS = ("core", "growth", "payments", "platform", "search", "storefront")
_ENVS = ("prod", "staging")
_PORTS = (
    ("http", 80, 8080, None),
    ("grpc", 9090, 9090, "grpc"),
    ("metrics", 9102, 9102, None),
    ("admin", 9990, 9990, None),
    ("https", 443, 8443, None),
    ("redis", 6379, 6379, None),
    ("tcp-db", 5432, 5432, None),
)
_EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def cluster_name(index: int) -> str:
    """The name of cluster ``index``: ``c000`` (the source), ``c001``, ..."""
    return f"c{index:03d}"


def _stamp(rng: random.Random) -> str:
    when = _EPOCH + datetime.timedelta(seconds=rng.randrange(0, 300 * 86400))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Server:
    """Server-assigned fields for one cluster: uids, resourceVersions, cluster IPs."""

    def __init__(self, rng: random.Random, index: int) -> None:
        self.rng = rng
        self.rv = 1000 + index * 7
        self.ip = 0
        self.index = index

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def resource_version(self) -> str:
        self.rv += self.rng.randrange(1, 40)
        return str(self.rv)

    def cluster_ip(self) -> str:
        self.ip += 1
        return f"10.{96 + self.index % 32}.{self.ip // 250}.{self.ip % 250 + 1}"

    def pod_ip(self) -> str:
        return f"10.{128 + self.index % 64}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"

    def metadata(self, name: str, namespace: str | None, labels: dict[str, str]) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if labels:
            meta["labels"] = labels
        meta["creationTimestamp"] = _stamp(self.rng)
        meta["name"] = name
        if namespace is not None:
            meta["namespace"] = namespace
        meta["resourceVersion"] = self.resource_version()
        meta["uid"] = self.uid()
        return meta


def _namespace(server: _Server, name: str) -> dict[str, Any]:
    labels = {"kubernetes.io/metadata.name": name}
    if server.rng.random() < 0.7:
        labels["linkerd.io/is-control-plane"] = "false"
    meta = server.metadata(name, None, labels)
    if server.rng.random() < 0.8:
        meta["annotations"] = {"linkerd.io/inject": "enabled"}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _mode(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.40:
        return "gateway"
    if r < 0.55:
        return "remote-discovery"
    if r < 0.65:
        return "federated"
    if r < 0.70:
        return "headless"
    return "none"


def _labels(rng: random.Random, app: str, mode: str) -> dict[str, str]:
    labels: dict[str, str] = {"app": app}
    if rng.random() < 0.6:
        labels["app.kubernetes.io/name"] = app
        labels["app.kubernetes.io/part-of"] = rng.choice(_WORDS)
        labels["app.kubernetes.io/managed-by"] = "Helm"
        labels["helm.sh/chart"] = f"{app}-{rng.randrange(1, 9)}.{rng.randrange(20)}.0"
    if rng.random() < 0.5:
        labels["team"] = rng.choice(_TEAMS)
    if rng.random() < 0.3:
        labels["version"] = f"v{rng.randrange(1, 4)}"
    if rng.random() < 0.3:
        labels["env"] = rng.choice(_ENVS)
    for _ in range(rng.randrange(0, 3)):
        labels[f"example.com/{rng.choice(_WORDS)}"] = str(rng.randrange(100))
    if mode in ("gateway", "headless"):
        labels["mirror.linkerd.io/exported"] = "true"
    elif mode == "remote-discovery":
        labels["mirror.linkerd.io/exported"] = "remote-discovery"
    elif mode == "federated":
        labels["mirror.linkerd.io/federated"] = "member"
    return labels


def _ports(rng: random.Random) -> list[tuple[str, int, int, str | None]]:
    count = rng.choice((1, 1, 1, 2, 2, 3, 4, 5))
    return sorted(rng.sample(_PORTS, count), key=lambda p: p[1])


def _service(
    server: _Server, namespace: str, name: str, mode: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = server.rng
    labels = _labels(rng, name, mode)
    ports = _ports(rng)
    headless = mode == "headless"
    spec_ports = []
    for pname, port, target, app_protocol in ports:
        p: dict[str, Any] = {"name": pname, "port": port, "protocol": "TCP"}
        if app_protocol:
            p["appProtocol"] = app_protocol
        p["targetPort"] = target if rng.random() < 0.8 else pname
        spec_ports.append(p)
    meta = server.metadata(name, namespace, labels)
    annotations: dict[str, str] = {}
    if rng.random() < 0.4:
        applied = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"annotations": {}, "labels": labels, "name": name, "namespace": namespace},
            "spec": {
                "ports": [{k: v for k, v in p.items() if k != "protocol"} for p in spec_ports],
                "selector": {"app": name},
            },
        }
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = (
            json.dumps(applied, separators=(",", ":"), sort_keys=True) + "\n"
        )
    if rng.random() < 0.3:
        annotations["prometheus.io/scrape"] = "true"
        annotations["prometheus.io/port"] = "9102"
    if rng.random() < 0.1:
        annotations["config.linkerd.io/opaque-ports"] = str(ports[0][2])
    if annotations:
        meta["annotations"] = annotations
    cluster_ip = "None" if headless else server.cluster_ip()
    spec: dict[str, Any] = {
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": spec_ports,
        "selector": {"app": name},
        "sessionAffinity": "None",
        "type": "ClusterIP",
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": spec,
        "status": {"loadBalancer": {}},
    }
    created = meta["creationTimestamp"]
    return service, _endpoints(server, namespace, name, labels, ports, headless, created)


def _endpoints(
    server: _Server,
    namespace: str,
    name: str,
    labels: dict[str, str],
    ports: list[tuple[str, int, int, str | None]],
    headless: bool,
    created: str,
) -> dict[str, Any]:
    rng = server.rng
    ep_labels = dict(labels)  # the endpoints controller copies the Service's labels
    if headless:
        ep_labels["service.kubernetes.io/headless"] = ""
    meta = server.metadata(name, namespace, ep_labels)
    meta["creationTimestamp"] = created  # made with its Service, in the same second
    meta["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": _stamp(rng)}
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    if rng.random() < 0.05:
        return doc  # scaled to zero: no subsets at all
    addresses = []
    not_ready = []
    for i in range(rng.choice((1, 2, 2, 3))):
        pod = f"{name}-{i}" if headless else f"{name}-{rng.getrandbits(32):08x}-{i}"
        address: dict[str, Any] = {"ip": server.pod_ip()}
        if headless:
            address["hostname"] = pod
        address["nodeName"] = f"node-{rng.randrange(40):02d}"
        address["targetRef"] = {
            "kind": "Pod",
            "name": pod,
            "namespace": namespace,
            "uid": server.uid(),
        }
        (not_ready if rng.random() < 0.05 else addresses).append(address)
    subset: dict[str, Any] = {}
    if addresses:
        subset["addresses"] = addresses
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    eports = []
    for pname, _port, target, app_protocol in ports:
        ep: dict[str, Any] = {"name": pname, "port": target, "protocol": "TCP"}
        if app_protocol:
            ep["appProtocol"] = app_protocol
        eports.append(ep)
    subset["ports"] = eports
    doc["subsets"] = [subset]
    return doc


def _link(server: _Server, target: str, index: int) -> dict[str, Any]:
    rng = server.rng
    spec: dict[str, Any] = {
        "clusterCredentialsSecret": f"cluster-credentials-{target}",
        "gatewayAddress": f"192.0.{2 + index // 250}.{index % 250 + 1}",
        "gatewayIdentity": f"linkerd-gateway.linkerd-multicluster.serviceaccount.identity."
        f"linkerd.{target}.example.com",
        "gatewayPort": "4143",
        "probeSpec": {
            "failureThreshold": "3",
            "path": "/ready",
            "period": "3s",
            "port": "4191",
            "timeout": "30s",
        },
        "remoteDiscoverySelector": {
            "matchLabels": {"mirror.linkerd.io/exported": "remote-discovery"}
        },
        "federatedServiceSelector": {"matchLabels": {"mirror.linkerd.io/federated": "member"}},
        "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}},
        "targetClusterDomain": "cluster.local",
        "targetClusterLinkerdNamespace": "linkerd",
        "targetClusterName": target,
    }
    if rng.random() < 0.5:
        spec["gatewayAddress"] += f",192.0.{100 + index // 250}.{index % 250 + 1}"
    if rng.random() < 0.3:
        spec["excludedLabels"] = ["team", "example.com/*"]
    if rng.random() < 0.3:
        spec["excludedAnnotations"] = ["prometheus.io/*"]
    return {
        "apiVersion": "multicluster.linkerd.io/v1alpha3",
        "kind": "Link",
        "metadata": server.metadata(target, "linkerd-multicluster", {}),
        "spec": spec,
    }


class Topology:
    """A generated topology: ``clusters`` maps a cluster name to its ``kind: List``."""

    def __init__(self, clusters: dict[str, dict[str, Any]], services: int) -> None:
        self.clusters = clusters
        self.services = services

    @property
    def source(self) -> str:
        return SOURCE

    def remotes(self) -> list[str]:
        return [name for name in self.clusters if name != SOURCE]


def generate(
    clusters: int,
    services_per_cluster: int,
    *,
    seed: int = 0,
    namespaces_per_cluster: int | None = None,
) -> Topology:
    """``clusters`` clusters of ``services_per_cluster`` Services (and their Endpoints).

    Namespaces are shared by name across clusters (namespace sameness), and so are the
    names of federated members; ``c000`` holds a Link to every other cluster.
    """
    if clusters < 1 or services_per_cluster < 0:
        raise ValueError("need at least one cluster and a non-negative service count")
    rng = random.Random(seed)
    n_ns = namespaces_per_cluster or max(1, min(50, services_per_cluster // 20))
    namespaces = [f"ns-{rng.choice(_WORDS)}-{i:02d}" for i in range(n_ns)]
    # Federated members share names across clusters: a fixed pool per namespace.
    pool = [f"{rng.choice(_WORDS)}-fed-{i:04d}" for i in range(max(1, services_per_cluster // 10))]
    out: dict[str, dict[str, Any]] = {}
    for index in range(clusters):
        name = cluster_name(index)
        server = _Server(random.Random(rng.getrandbits(64)), index)
        items: list[dict[str, Any]] = [_namespace(server, ns) for ns in namespaces]
        items.append(_namespace(server, "linkerd-multicluster"))
        endpoints: list[dict[str, Any]] = []
        used: set[tuple[str, str]] = set()
        for i in range(services_per_cluster):
            mode = _mode(server.rng)
            if mode == "federated":
                svc_name = server.rng.choice(pool)
                ns = namespaces[hash_index(svc_name, n_ns)]
            else:
                svc_name = f"{server.rng.choice(_WORDS)}-{server.rng.choice(_WORDS)}-{i:05d}"
                ns = namespaces[i % n_ns]
            if (ns, svc_name) in used:
                svc_name = f"{svc_name}-{i:05d}"
            used.add((ns, svc_name))
            service, eps = _service(server, ns, svc_name, mode)
            items.append(service)
            endpoints.append(eps)
        items.extend(endpoints)
        if index == 0:
            items.extend(_link(server, cluster_name(t), t) for t in range(1, clusters))
        out[name] = {
            "apiVersion": "v1",
            "kind": "List",
            "items": items,
            "metadata": {"resourceVersion": ""},
        }
    return Topology(out, clusters * services_per_cluster)


def hash_index(text: str, modulo: int) -> int:
    """A stable (not salted) small hash: which namespace a federated name lives in."""
    return sum(text.encode()) % modulo


def to_json(doc: dict[str, Any]) -> bytes:
    """What ``kubectl get -o json`` prints: 4-space indentation, keys sorted (kubectl
    prints every object through a map), a final newline."""
    return (json.dumps(doc, indent=4, sort_keys=True) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--services", type=int, default=20, help="Services per cluster")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="directory for <cluster>.json")
    args = parser.parse_args(argv)
    topo = generate(args.clusters, args.services, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, doc in topo.clusters.items():
        (args.out / f"{name}.json").write_bytes(to_json(doc))
    print(f"{topo.services} services in {len(topo.clusters)} clusters -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

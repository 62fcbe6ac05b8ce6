"""Small builders of kubectl-style dicts for scenario tests (Linkerd's fixtures' shapes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshmirror import LINKERD, ClusterState, PlanOptions, cluster_state, plan, to_manifest
from meshmirror.decisions.plan import Plan

EXPORTED = {"mirror.linkerd.io/exported": "true"}
DISCOVERED = {"mirror.linkerd.io/exported": "remote-discovery"}
MEMBER = {"mirror.linkerd.io/federated": "member"}
EXPORT = "mirror.linkerd.io/exported"
FEDERATED = "mirror.linkerd.io/federated"


def namespace(
    name: str, *, labels: Mapping[str, str] | None = None, **annotations: str
) -> dict[str, Any]:
    """A Namespace; ``labels`` are set when given (``{}`` included)."""
    meta: dict[str, Any] = {"name": name}
    if labels is not None:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def ports(*specs: tuple[str, int] | tuple[str, int, Any]) -> list[dict[str, Any]]:
    out = []
    for spec in specs:
        p: dict[str, Any] = {"name": spec[0], "protocol": "TCP", "port": spec[1]}
        if len(spec) > 2:
            p["targetPort"] = spec[2]
        out.append(p)
    return out


def service(
    name: str,
    ns: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    rv: str = "111",
    port_list: list[dict[str, Any]] | None = None,
    headless: bool = False,
    type: str | None = None,
    session_affinity: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "ports": ports(("port1", 555), ("port2", 666)) if port_list is None else port_list
    }
    if headless:
        spec["clusterIP"] = "None"
    if type:
        spec["type"] = type
    if session_affinity:
        spec["sessionAffinity"] = session_affinity
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": ns,
            "resourceVersion": rv,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
        },
        "spec": spec,
    }


def endpoints(
    name: str,
    ns: str,
    ips: list[str] | None = None,
    *,
    not_ready: list[str] | None = None,
    hosts: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    rv: str = "112",
    port_list: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Endpoints with ready ``ips`` (or ``hosts``: hostname -> ip) and ``not_ready``."""
    addresses: list[dict[str, Any]] = [{"ip": ip} for ip in ips or []]
    for host, ip in (hosts or {}).items():
        addresses.append({"ip": ip, "hostname": host, "targetRef": {"kind": "Pod", "name": host}})
    subset: dict[str, Any] = {
        "ports": port_list
        or [
            {"name": "port1", "port": 555, "protocol": "TCP"},
            {"name": "port2", "port": 666, "protocol": "TCP"},
        ]
    }
    if addresses:
        subset["addresses"] = addresses
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": name,
            "namespace": ns,
            "resourceVersion": rv,
            "labels": dict(labels or {}),
        },
    }
    if addresses or not_ready:
        doc["subsets"] = [subset]
    return doc


def link(
    target: str = "remote",
    *,
    name: str | None = None,
    gateway: str = "192.0.2.127",
    port: str = "888",
    identity: str = "gateway-identity",
    selector: dict[str, Any] | None = None,
    rd_selector: dict[str, Any] | None = None,
    fed_selector: dict[str, Any] | None = None,
    created: str = "2024-01-01T00:00:00Z",
    excluded_labels: list[str] | None = None,
    excluded_annotations: list[str] | None = None,
    api_version: str = "multicluster.linkerd.io/v1alpha3",
    domain: str = "cluster.local",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "targetClusterName": target,
        "targetClusterDomain": domain,
        "targetClusterLinkerdNamespace": "linkerd",
        "clusterCredentialsSecret": f"cluster-credentials-{target}",
        "selector": {"matchLabels": dict(EXPORTED)} if selector is None else selector,
        "remoteDiscoverySelector": (
            {"matchLabels": dict(DISCOVERED)} if rd_selector is None else rd_selector
        ),
        "federatedServiceSelector": (
            {"matchLabels": dict(MEMBER)} if fed_selector is None else fed_selector
        ),
    }
    if gateway:
        spec["gatewayAddress"] = gateway
        spec["gatewayPort"] = port
        spec["gatewayIdentity"] = identity
    if excluded_labels is not None:
        spec["excludedLabels"] = excluded_labels
    if excluded_annotations is not None:
        spec["excludedAnnotations"] = excluded_annotations
    return {
        "apiVersion": api_version,
        "kind": "Link",
        "metadata": {
            "name": name or target,
            "namespace": "linkerd-multicluster",
            "creationTimestamp": created,
        },
        "spec": spec,
    }


def plan_docs(
    source_docs: list[dict[str, Any]],
    remotes: dict[str, list[dict[str, Any]]],
    *,
    source: str = "local",
    options: PlanOptions | None = None,
    resolve: Any = None,
) -> Plan:
    src = cluster_state(source, source_docs)
    rem = {name: cluster_state(name, docs) for name, docs in remotes.items()}
    return plan(src, rem, scheme=LINKERD, resolve=resolve, options=options)


def manifests(p: Plan) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(o.kind, o.namespace, o.name): to_manifest(o) for o in p.objects}


def applied(state: ClusterState, p: Plan) -> ClusterState:
    """``state`` with the plan's objects written, as a settled cluster would hold them."""
    from meshmirror.decisions.diff import diff

    changes = diff(p, state)
    return state.replace(
        *changes.creates,
        *(u.after for u in changes.updates),
        remove=[o.ref for o in changes.deletes],
    )


# -- for the reconciler and adapter tests: one port, export mode by keyword --------


def svc(
    name: str,
    namespace: str = "shop",
    *,
    export: str | None = "true",
    member: bool = False,
    port: int = 80,
    labels: Mapping[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    all_labels = dict(labels or {})
    if export is not None:
        all_labels[EXPORT] = export
    if member:
        all_labels[FEDERATED] = "member"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": all_labels},
        "spec": {"ports": [{"name": "http", "port": port}], **spec},
    }


def gateway_link(target: str, gateway: str, **spec: Any) -> dict[str, Any]:
    """A v1alpha3 Link to ``target`` through ``gateway``:4143, selecting by the export
    and federated labels (``spec`` adds or replaces fields)."""
    return {
        "apiVersion": "multicluster.linkerd.io/v1alpha3",
        "kind": "Link",
        "metadata": {"name": target, "namespace": "linkerd-multicluster"},
        "spec": {
            "targetClusterName": target,
            "targetClusterDomain": "cluster.local",
            "gatewayAddress": gateway,
            "gatewayPort": "4143",
            "gatewayIdentity": f"linkerd-gateway.{target}",
            "selector": {"matchLabels": {EXPORT: "true"}},
            "remoteDiscoverySelector": {"matchLabels": {EXPORT: "remote-discovery"}},
            "federatedServiceSelector": {"matchLabels": {FEDERATED: "member"}},
            **spec,
        },
    }


def eps(name: str, namespace: str = "shop", *ips: str, ready: bool = True) -> dict[str, Any]:
    """Endpoints with ``ips`` (10.1.0.1 when none) on port http/8080, ready or not."""
    addresses = [{"ip": ip} for ip in ips or ("10.1.0.1",)]
    subset: dict[str, Any] = {"ports": [{"name": "http", "port": 8080}]}
    subset["addresses" if ready else "notReadyAddresses"] = addresses
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": namespace},
        "subsets": [subset],
    }


def plain(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored object without what the API server assigns or defaults."""
    meta = doc["metadata"]
    for key in ("resourceVersion", "uid", "creationTimestamp"):
        meta.pop(key, None)
    spec = doc.get("spec")
    if doc["kind"] == "Service" and spec is not None:
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP", None)
        if spec.get("sessionAffinity") == "None":
            del spec["sessionAffinity"]
    return doc


def assert_implements_backend(obj: object) -> None:
    """``obj`` has every method of the ``Backend`` Protocol, each taking the Protocol's
    parameters by the same names and kinds (``isinstance`` on a runtime-checkable
    Protocol only checks that the names exist)."""
    import inspect

    from meshmirror.effects.backends import Backend

    for name in ("list", "watch", "create", "update", "delete"):
        want = inspect.signature(getattr(Backend, name))
        got = inspect.signature(getattr(obj, name))
        expected = [(p.name, p.kind) for p in list(want.parameters.values())[1:]]
        actual = [(p.name, p.kind) for p in got.parameters.values()]
        assert actual[: len(expected)] == expected, f"{type(obj).__name__}.{name}{got}"
        assert all(p.default is not p.empty for p in list(got.parameters.values())[len(expected) :])
    assert isinstance(obj.name, str) and obj.name  # type: ignore[attr-defined]

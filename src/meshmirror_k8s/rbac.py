"""The RBAC meshmirror needs, as data: one table per side, printed as manifests.

:data:`REMOTE_ACCESS_RULES` is everything the controller asks of a linked cluster (the
reconciler lists Services, Endpoints and EndpointSlices; the controller watches the same
to react between resyncs). Read-only, no Secrets, no wildcards, no Namespaces or Links.
A test records every request the adapter makes and checks it against these rules, both
ways. :data:`SOURCE_RULES` and :data:`SOURCE_NAMESPACED_RULES` are what it needs in the
source cluster (cluster-wide: mirrors; in its own namespace: Links and their status, the
named credentials Secrets, its Lease).

>>> sorted(rule_triples(REMOTE_ACCESS_RULES))  # doctest: +NORMALIZE_WHITESPACE
[('', 'endpoints', 'list'), ('', 'endpoints', 'watch'), ('', 'services', 'list'),
 ('', 'services', 'watch'), ('discovery.k8s.io', 'endpointslices', 'list'),
 ('discovery.k8s.io', 'endpointslices', 'watch')]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from meshmirror import LINKERD

__all__ = [
    "LINKERD_DESTINATION_RULES",
    "REMOTE_ACCESS_RULES",
    "SOURCE_NAMESPACED_RULES",
    "SOURCE_NAMESPACE_CREATION_RULE",
    "SOURCE_RULES",
    "Rule",
    "allowed",
    "linkerd_destination_manifests",
    "remote_access_manifests",
    "rule_triples",
    "rules_from_manifest",
    "source_manifests",
]


@dataclass(frozen=True)
class Rule:
    """One RBAC PolicyRule."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
        }
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        out["verbs"] = list(self.verbs)
        return out


#: Everything asked of a linked cluster.
REMOTE_ACCESS_RULES: tuple[Rule, ...] = (
    Rule(("",), ("endpoints", "services"), ("list", "watch")),
    Rule(("discovery.k8s.io",), ("endpointslices",), ("list", "watch")),
)

#: What Linkerd's destination controller reads in a linked cluster for remote discovery
#: and federated Services (Linkerd's remote-access ClusterRole, less the service mirror's
#: Events, which meshmirror never writes). Granted only with
#: ``meshmirror link --linkerd-destination-access``, in a ClusterRole of its own.
LINKERD_DESTINATION_RULES: tuple[Rule, ...] = (
    Rule(("apps",), ("replicasets",), ("list", "get", "watch")),
    Rule(("batch",), ("jobs",), ("list", "get", "watch")),
    Rule(("",), ("pods", "endpoints", "services"), ("list", "get", "watch")),
    Rule(("discovery.k8s.io",), ("endpointslices",), ("list", "get", "watch")),
    Rule(("policy.linkerd.io",), ("servers",), ("list", "get", "watch")),
    Rule(("",), ("configmaps",), ("get",), ("linkerd-config",)),
)

#: Cluster-wide in the source: read namespaces, write owned mirrors.
SOURCE_RULES: tuple[Rule, ...] = (
    Rule(("",), ("namespaces",), ("list", "watch")),
    Rule(("",), ("endpoints", "services"), ("create", "delete", "list", "update", "watch")),
)

#: Only with ``--enable-namespace-creation``.
SOURCE_NAMESPACE_CREATION_RULE = Rule(("",), ("namespaces",), ("create",))

#: In the controller's namespace: Links, the credentials Secrets (by name), the Lease.
SOURCE_NAMESPACED_RULES: tuple[Rule, ...] = (
    Rule((LINKERD.link_group,), (LINKERD.link_plural,), ("list", "watch")),
    Rule((LINKERD.link_group,), (f"{LINKERD.link_plural}/status",), ("update",)),
    Rule(("",), ("secrets",), ("get",)),
    Rule(("coordination.k8s.io",), ("leases",), ("create", "get", "update")),
)


def rule_triples(rules: Iterable[Rule]) -> set[tuple[str, str, str]]:
    """Every (apiGroup, resource, verb) the rules grant (resourceNames ignored)."""
    return {
        (g, r, v)
        for rule in rules
        for g in rule.api_groups
        for r in rule.resources
        for v in rule.verbs
    }


def allowed(rules: Iterable[Rule], group: str, resource: str, verb: str, name: str | None) -> bool:
    """Whether ``rules`` allow one request, as the RBAC authorizer decides (no wildcards
    here: meshmirror prints none)."""
    for rule in rules:
        if (
            group in rule.api_groups
            and resource in rule.resources
            and verb in rule.verbs
            and (not rule.resource_names or (name is not None and name in rule.resource_names))
        ):
            return True
    return False


def _rules(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in rules]


def _role_and_binding(
    kind: str,
    metadata: dict[str, Any],
    rules: Iterable[Rule],
    service_account: str,
    namespace: str,
) -> Iterator[dict[str, Any]]:
    """A ``kind`` (Role or ClusterRole) of ``rules`` and its binding to the
    ServiceAccount, both with ``metadata``."""
    yield {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": dict(metadata),
        "rules": _rules(rules),
    }
    yield {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": f"{kind}Binding",
        "metadata": dict(metadata),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": kind,
            "name": metadata["name"],
        },
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def remote_access_manifests(
    service_account: str, namespace: str, *, labels: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """For the linked (target) cluster: the ServiceAccount, a token Secret for it, the
    ClusterRole of :data:`REMOTE_ACCESS_RULES` and the ClusterRoleBinding."""

    def meta(name: str, ns: str | None = None, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name}
        if ns:
            out["namespace"] = ns
        if labels:
            out["labels"] = dict(labels)
        out.update(extra)
        return out

    yield {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(service_account, namespace),
    }
    yield {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": meta(
            f"{service_account}-token",
            namespace,
            annotations={"kubernetes.io/service-account.name": service_account},
        ),
    }
    yield from _role_and_binding(
        "ClusterRole", meta(service_account), REMOTE_ACCESS_RULES, service_account, namespace
    )


def linkerd_destination_manifests(service_account: str, namespace: str) -> Iterator[dict[str, Any]]:
    """For the linked cluster, apart from meshmirror's own access: a ClusterRole
    ``<service_account>-linkerd-destination`` of :data:`LINKERD_DESTINATION_RULES` and its
    binding to the same ServiceAccount, whose token Linkerd's destination controller
    uses through the credentials Secret copy in the control-plane namespace."""
    yield from _role_and_binding(
        "ClusterRole",
        {"name": f"{service_account}-linkerd-destination"},
        LINKERD_DESTINATION_RULES,
        service_account,
        namespace,
    )


def source_manifests(
    service_account: str,
    namespace: str,
    *,
    namespace_creation: bool = False,
    credentials_secrets: Iterable[str] = (),
) -> Iterator[dict[str, Any]]:
    """For the source cluster: the controller's ServiceAccount, ClusterRole (+binding)
    and Role (+binding) in ``namespace``. ``credentials_secrets`` narrows Secret access
    to those names (recommended; empty: every Secret in the namespace, read by name)."""
    cluster_rules = list(SOURCE_RULES)
    if namespace_creation:
        cluster_rules.append(SOURCE_NAMESPACE_CREATION_RULE)
    names = tuple(sorted(credentials_secrets))
    ns_rules = [
        Rule(r.api_groups, r.resources, r.verbs, names) if r.resources == ("secrets",) else r
        for r in SOURCE_NAMESPACED_RULES
    ]
    yield {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": service_account, "namespace": namespace},
    }
    yield from _role_and_binding(
        "ClusterRole", {"name": service_account}, cluster_rules, service_account, namespace
    )
    yield from _role_and_binding(
        "Role",
        {"name": service_account, "namespace": namespace},
        ns_rules,
        service_account,
        namespace,
    )


def rules_from_manifest(doc: dict[str, Any]) -> list[Rule]:
    """The rules of a printed (Cluster)Role, read back."""
    return [
        Rule(
            tuple(r.get("apiGroups") or ()),
            tuple(r.get("resources") or ()),
            tuple(r.get("verbs") or ()),
            tuple(r.get("resourceNames") or ()),
        )
        for r in doc.get("rules") or []
    ]

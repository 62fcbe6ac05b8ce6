"""Where each kind lives in the Kubernetes REST API, and the RBAC verbs each request needs.

One table (:data:`RESOURCES`) drives the backend's URLs, the test servers' routing and the
RBAC that ``meshmirror link`` prints, so the three cannot drift apart.

>>> RESOURCES["Service"].path("shop", "web")
'/api/v1/namespaces/shop/services/web'
>>> RESOURCES["EndpointSlice"].path(None)
'/apis/discovery.k8s.io/v1/endpointslices'
>>> RESOURCES["Link"].api_version
'multicluster.linkerd.io/v1alpha3'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from meshmirror import LINKERD

__all__ = ["RESOURCES", "Resource", "link_resource", "resource_for_path"]


@dataclass(frozen=True)
class Resource:
    """One served resource: ``group``/``version``/``plural``, namespaced or not."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(
        self, namespace: str | None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path of the collection (``name`` None) or of one object."""
        parts = [self.prefix]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


def link_resource(version: str) -> Resource:
    """The Link custom resource at ``version`` (one of ``LINKERD.link_versions``)."""
    return Resource(LINKERD.link_kind, LINKERD.link_group, version, LINKERD.link_plural)


#: Every kind the adapter speaks. Links at the storage version; see :func:`link_resource`.
RESOURCES: Mapping[str, Resource] = {
    r.kind: r
    for r in (
        Resource("Namespace", "", "v1", "namespaces", namespaced=False),
        Resource("Service", "", "v1", "services"),
        Resource("Endpoints", "", "v1", "endpoints"),
        Resource("Secret", "", "v1", "secrets"),
        Resource("ConfigMap", "", "v1", "configmaps"),
        Resource("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices"),
        Resource("Lease", "coordination.k8s.io", "v1", "leases"),
        link_resource(LINKERD.link_versions[0]),
    )
}


@dataclass(frozen=True)
class ParsedPath:
    """A Kubernetes API path taken apart (what an authorizer sees)."""

    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None


def resource_for_path(path: str) -> ParsedPath | None:
    """Parse ``/api/v1/namespaces/ns/services/x`` and friends; None for other paths."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces":  # GET /api/v1/namespaces/<name>
        return ParsedPath(group, version, "namespaces", None, rest[1], None)
    if not rest:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    subresource = "/".join(rest[2:]) or None
    return ParsedPath(group, version, plural, namespace, name, subresource)

"""Every label, annotation, Secret type and key the service mirror speaks.

Nothing else in meshmirror spells these strings: a :class:`Scheme` is passed to the
planner, and :data:`LINKERD` is the one Linkerd's service mirror uses
(``pkg/k8s/labels.go`` in linkerd2).

>>> LINKERD.mirrored_service_label
'mirror.linkerd.io/mirrored-service'
>>> LINKERD.is_owned({"mirror.linkerd.io/mirrored-service": "true"})
True
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["LINKERD", "Scheme"]


@attrs.frozen
class Scheme:
    """The vocabulary of one service-mirror implementation."""

    # Selectors a Link made by `linkerd multicluster link` carries.
    export_label: str = "mirror.linkerd.io/exported"
    export_gateway_value: str = "true"
    export_remote_discovery_value: str = "remote-discovery"
    federated_label: str = "mirror.linkerd.io/federated"
    federated_member_value: str = "member"

    # Ownership and provenance on what the mirror writes.
    mirrored_service_label: str = "mirror.linkerd.io/mirrored-service"
    cluster_name_label: str = "mirror.linkerd.io/cluster-name"
    headless_mirror_label: str = "mirror.linkerd.io/headless-mirror-svc-name"
    mirrored_gateway_label: str = "mirror.linkerd.io/mirrored-gateway"
    remote_discovery_label: str = "multicluster.linkerd.io/remote-discovery"
    remote_service_label: str = "multicluster.linkerd.io/remote-service"

    remote_discovery_annotation: str = "multicluster.linkerd.io/remote-discovery"
    local_discovery_annotation: str = "multicluster.linkerd.io/local-discovery"
    remote_resource_version_annotation: str = "mirror.linkerd.io/remote-resource-version"
    remote_svc_fq_name_annotation: str = "mirror.linkerd.io/remote-svc-fq-name"
    remote_gateway_identity_annotation: str = "mirror.linkerd.io/remote-gateway-identity"
    gateway_identity_annotation: str = "mirror.linkerd.io/gateway-identity"
    multicluster_gateway_annotation: str = "mirror.linkerd.io/multicluster-gateway"
    probe_period_annotation: str = "mirror.linkerd.io/probe-period"
    probe_path_annotation: str = "mirror.linkerd.io/probe-path"
    probe_timeout_annotation: str = "mirror.linkerd.io/probe-timeout"
    probe_failure_threshold_annotation: str = "mirror.linkerd.io/probe-failure-threshold"
    opaque_ports_annotation: str = "config.linkerd.io/opaque-ports"
    created_by_annotation: str = "linkerd.io/created-by"
    topology_annotations: tuple[str, ...] = (
        "service.kubernetes.io/topology-aware-hints",
        "service.kubernetes.io/topology-mode",
    )
    # Kubernetes' marker on the Endpoints of a headless Service.
    headless_endpoints_label: str = "service.kubernetes.io/headless"
    # EndpointSlices name their Service with this label.
    endpoint_slice_service_label: str = "kubernetes.io/service-name"

    # Label keys that start with this plain string are never copied from a remote.
    reserved_label_prefix: str = "mirror.linkerd.io"
    # meshmirror is stricter than Linkerd: these prefixes are reserved on both labels
    # and annotations, so a remote cluster cannot forge discovery or ownership.
    reserved_prefixes: tuple[str, ...] = ("mirror.linkerd.io", "multicluster.linkerd.io")

    # Link credentials.
    credentials_secret_type: str = "mirror.linkerd.io/remote-kubeconfig"
    credentials_kubeconfig_key: str = "kubeconfig"
    credentials_cluster_name_label: str = "multicluster.linkerd.io/cluster-name"
    credentials_trust_domain_annotation: str = "multicluster.linkerd.io/trust-domain"
    credentials_cluster_domain_annotation: str = "multicluster.linkerd.io/cluster-domain"
    # `linkerd multicluster link` names the credentials Secret this plus the cluster name.
    credentials_secret_prefix: str = "cluster-credentials-"
    gateway_port_name: str = "mc-gateway"
    probe_port_name: str = "mc-probe"

    # The Link custom resource.
    link_group: str = "multicluster.linkerd.io"
    link_kind: str = "Link"
    link_plural: str = "links"
    link_versions: tuple[str, ...] = ("v1alpha3", "v1alpha2")
    link_namespace: str = "linkerd-multicluster"

    # Meshed namespaces and the identity trust roots.
    inject_annotation: str = "linkerd.io/inject"
    inject_enabled_value: str = "enabled"
    trust_roots_config_map: str = "linkerd-identity-trust-roots"
    trust_roots_key: str = "ca-bundle.crt"
    linkerd_namespace: str = "linkerd"

    # Names of what the mirror plans.
    federated_suffix: str = "federated"
    # Linkerd's local service mirror selects local federated members with this.
    local_federated_selector: str = "mirror.linkerd.io/federated=member"
    true_value: str = "true"

    def is_owned(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with these labels was written by this service mirror."""
        return labels.get(self.mirrored_service_label) == self.true_value

    def is_reserved(self, key: str) -> bool:
        """Whether a remote label or annotation key is reserved (never copied)."""
        return key.startswith(self.reserved_prefixes)

    @property
    def link_api_version(self) -> str:
        return f"{self.link_group}/{self.link_versions[0]}"


#: The scheme of Linkerd's service mirror.
LINKERD = Scheme()

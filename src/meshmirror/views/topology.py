"""What kubectl dumps cannot say: pod networks, trust roots, who reaches which gateway. Pure.

A topology file (``meshmirror check --topology FILE``, docs/design.md, section 4.2) says, per
cluster, which pod network it is on (clusters on the same ``podNetwork`` reach each
other's pods: a flat network), which trust root its Linkerd uses, and whose pods reach its
multicluster gateway. Every key is optional; the defaults are stated, never silent:

- every cluster is its own pod network (no pod-to-pod reachability between clusters);
- trust roots are unknown (the ``trust-root`` check warns);
- every gateway is reachable from every cluster.

Trust roots may also come from the dumps: Linkerd's ``linkerd-identity-trust-roots``
ConfigMap (namespace ``linkerd``, key ``ca-bundle.crt``) gives a fingerprint of the
certificates (see :func:`trust_root_fingerprint`). Meshed namespaces come from the dumps
alone: a Namespace annotated ``linkerd.io/inject: enabled``.

>>> topo = Topology.from_dict({"clusters": {
...     "west": {"podNetwork": "net-a", "trustRoot": "root-1"},
...     "east": {"podNetwork": "net-a", "trustRoot": "root-1",
...              "gatewayReachableFrom": ["west"]},
... }})
>>> topo.same_pod_network("west", "east"), topo.same_pod_network("west", "north")
(True, False)
>>> topo.compare_trust_roots("west", "east"), topo.compare_trust_roots("west", "north")
('same', 'unknown')
>>> topo.gateway_reachable("east", from_cluster="north")
False
>>> topo.defaults_used(["west", "east", "north"])[0]
'podNetwork not given for north: each is assumed to be its own pod network'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from meshmirror.values.display import html_table
from meshmirror.values.model import ClusterState, FrozenMap
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = [
    "ClusterTopology",
    "RootComparison",
    "Topology",
    "TopologyError",
    "is_meshed",
    "meshed_namespaces",
    "trust_root_fingerprint",
]

#: How two clusters' trust roots compare: ``unknown`` when either is not known, or when
#: one is a name and the other a certificate fingerprint (they cannot be compared).
RootComparison: TypeAlias = Literal["same", "different", "unknown"]

#: The prefix of a trust root computed from certificates (a name never needs it).
FINGERPRINT_PREFIX = "sha256:"

_CLUSTER_KEYS = ("podNetwork", "trustRoot", "gatewayReachableFrom")


class TopologyError(ValueError):
    """A malformed topology file; ``key`` is the path of the offending key
    (``clusters.west.podNetwork``), empty for the whole document."""

    def __init__(self, problem: str, key: str = "") -> None:
        where = f"topology key {key}: " if key else "topology: "
        super().__init__(where + problem)
        self.key = key
        self.problem = problem


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _optional_names(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@attrs.frozen
class ClusterTopology:
    """One cluster's entry of the topology file.

    ``pod_network`` None means the cluster's own network; ``trust_root`` None means
    unknown; ``gateway_reachable_from`` None means every cluster reaches its gateway.
    ``trust_root_source`` says where the trust root came from (``topology file`` or the
    ConfigMap), empty when unknown.
    """

    pod_network: str | None = None
    trust_root: str | None = None
    gateway_reachable_from: frozenset[str] | None = attrs.field(
        default=None, converter=_optional_names
    )
    trust_root_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The entry as the file spells it (only the keys given)."""
        out: dict[str, Any] = {}
        if self.pod_network is not None:
            out["podNetwork"] = self.pod_network
        if self.trust_root is not None:
            out["trustRoot"] = self.trust_root
        if self.gateway_reachable_from is not None:
            out["gatewayReachableFrom"] = sorted(self.gateway_reachable_from)
        return out


_DEFAULT = ClusterTopology()


def _clusters(value: Mapping[str, ClusterTopology]) -> FrozenMap[ClusterTopology]:
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def _string(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise TopologyError(f"must be a string, not {_kind(value)}", key)
    if not value:
        raise TopologyError("must not be empty (leave the key out for the default)", key)
    return value


def _cluster_entry(name: str, value: object) -> ClusterTopology:
    where = f"clusters.{name}"
    if value is None:
        return _DEFAULT
    if not isinstance(value, Mapping):
        raise TopologyError(
            f"must be a mapping (podNetwork, trustRoot, gatewayReachableFrom), not {_kind(value)}",
            where,
        )
    for key in value:
        if key not in _CLUSTER_KEYS:
            raise TopologyError(
                f"unknown key; a cluster entry has only {', '.join(_CLUSTER_KEYS)}",
                f"{where}.{key}",
            )
    pod_network = value.get("podNetwork")
    trust_root = value.get("trustRoot")
    reachable = value.get("gatewayReachableFrom")
    names: list[str] | None = None
    if reachable is not None:
        if not isinstance(reachable, list | tuple):
            raise TopologyError(
                f"must be a list of cluster names, not {_kind(reachable)}",
                f"{where}.gatewayReachableFrom",
            )
        names = [
            _string(item, f"{where}.gatewayReachableFrom[{i}]") for i, item in enumerate(reachable)
        ]
    root = None if trust_root is None else _string(trust_root, f"{where}.trustRoot")
    return ClusterTopology(
        pod_network=None if pod_network is None else _string(pod_network, f"{where}.podNetwork"),
        trust_root=root,
        gateway_reachable_from=names,
        trust_root_source="topology file" if root is not None else "",
    )


_PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----(?P<body>[A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----"
)


def trust_root_fingerprint(pem: str) -> str:
    """A fingerprint of a PEM trust bundle: ``sha256:`` and the hex SHA-256 of its
    certificates (DER), sorted, so order, line breaks and comments do not matter.

    Two bundles with the same certificates have the same fingerprint (Linkerd's
    ``clusters share trust anchors`` check compares the certificate sets). Text without
    a PEM certificate is hashed with its whitespace collapsed.

    >>> a = "-----BEGIN CERTIFICATE-----\\nAAEC\\nAw==\\n-----END CERTIFICATE-----\\n"
    >>> b = "# anchor\\n-----BEGIN CERTIFICATE-----\\nAAECAw==\\n-----END CERTIFICATE-----"
    >>> trust_root_fingerprint(a) == trust_root_fingerprint(b)
    True
    >>> trust_root_fingerprint(a)[:15]
    'sha256:f7a355c0'
    """
    ders: list[bytes] = []
    for match in _PEM_BLOCK.finditer(pem):
        body = "".join(match.group("body").split())
        try:
            ders.append(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            ders.append(body.encode())
    if not ders:
        ders = [" ".join(pem.split()).encode()]
    digest = hashlib.sha256()
    for der in sorted(set(ders)):
        digest.update(hashlib.sha256(der).digest())
    return FINGERPRINT_PREFIX + digest.hexdigest()


def meshed_namespaces(state: ClusterState, scheme: Scheme = LINKERD) -> frozenset[str]:
    """The namespaces of ``state`` annotated ``linkerd.io/inject: enabled``."""
    return frozenset(
        name
        for name, ns in state.namespaces.items()
        if ns.annotations.get(scheme.inject_annotation) == scheme.inject_enabled_value
    )


def is_meshed(state: ClusterState, namespace: str, scheme: Scheme = LINKERD) -> bool:
    """Whether ``namespace`` of ``state`` is annotated ``linkerd.io/inject: enabled``."""
    ns = state.namespaces.get(namespace)
    return (
        ns is not None
        and ns.annotations.get(scheme.inject_annotation) == scheme.inject_enabled_value
    )


def _is_fingerprint(value: str) -> bool:
    return value.startswith(FINGERPRINT_PREFIX)


_REPR_CLUSTERS = 3


@attrs.frozen
class Topology:
    """The topology file as a value; clusters it does not name get the defaults."""

    clusters: FrozenMap[ClusterTopology] = attrs.field(factory=FrozenMap, converter=_clusters)

    @classmethod
    def from_dict(cls, data: object) -> Topology:
        """Read the file format (docs/design.md, section 4.2); None (an empty file) is every
        default. Raises :class:`TopologyError` naming the key of anything malformed.

        >>> Topology.from_dict({"clusters": {"west": {"podNetwork": 1}}})
        Traceback (most recent call last):
        ...
        meshmirror.views.topology.TopologyError: topology key clusters.west.podNetwork: must be a string, not a number
        """  # noqa: E501
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise TopologyError(f"must be a mapping with a `clusters` key, not {_kind(data)}")
        for key in data:
            if key != "clusters":
                raise TopologyError("unknown key; the topology file has only `clusters`", str(key))
        clusters = data.get("clusters")
        if clusters is None:
            return cls()
        if not isinstance(clusters, Mapping):
            raise TopologyError(
                f"must be a mapping of cluster names to entries, not {_kind(clusters)}",
                "clusters",
            )
        entries: dict[str, ClusterTopology] = {}
        for name, value in clusters.items():
            if not isinstance(name, str) or not name:
                raise TopologyError(
                    f"a cluster name must be a non-empty string, not {_kind(name)} {name!r}",
                    "clusters",
                )
            entries[name] = _cluster_entry(name, value)
        return cls(entries)

    def to_dict(self) -> dict[str, Any]:
        """The file format; ``Topology.from_dict(t.to_dict()) == t`` for a file's topology."""
        return {"clusters": {name: entry.to_dict() for name, entry in self.clusters.items()}}

    def cluster(self, name: str) -> ClusterTopology:
        """``name``'s entry, or every default."""
        entry: ClusterTopology = self.clusters.get(name, _DEFAULT)
        return entry

    # -- questions ---------------------------------------------------------------------

    def pod_network(self, cluster: str) -> str | None:
        """The cluster's ``podNetwork``; None when it is its own (the default)."""
        return self.cluster(cluster).pod_network

    def same_pod_network(self, a: str, b: str) -> bool:
        """Whether pods of ``a`` reach pods of ``b`` (a flat network)."""
        if a == b:
            return True
        net_a, net_b = self.pod_network(a), self.pod_network(b)
        return net_a is not None and net_a == net_b

    def describe_pod_network(self, cluster: str) -> str:
        """``pod network net-a`` or ``its own pod network (default)``."""
        net = self.pod_network(cluster)
        return f"pod network {net}" if net is not None else "its own pod network, by default"

    def trust_root(self, cluster: str) -> str | None:
        """The cluster's trust root (a name or a ``sha256:`` fingerprint), or None."""
        return self.cluster(cluster).trust_root

    def compare_trust_roots(self, a: str, b: str) -> RootComparison:
        """``same``, ``different``, or ``unknown`` (either unknown, or a name compared
        with a fingerprint)."""
        root_a, root_b = self.trust_root(a), self.trust_root(b)
        if root_a is None or root_b is None:
            return "unknown"
        if root_a == root_b:
            return "same"
        if _is_fingerprint(root_a) != _is_fingerprint(root_b):
            return "unknown"
        return "different"

    def describe_trust_root(self, cluster: str) -> str:
        """``root-1 (topology file)`` or ``unknown``."""
        entry = self.cluster(cluster)
        if entry.trust_root is None:
            return "unknown"
        return f"{entry.trust_root} ({entry.trust_root_source or 'given'})"

    def gateway_reachable(self, target: str, *, from_cluster: str) -> bool:
        """Whether pods of ``from_cluster`` reach ``target``'s gateway."""
        allowed = self.cluster(target).gateway_reachable_from
        return allowed is None or from_cluster in allowed

    # -- dumps ---------------------------------------------------------------------------

    def with_dumps(self, states: Iterable[ClusterState], scheme: Scheme = LINKERD) -> Topology:
        """This topology, with trust roots the file does not give read from each dump's
        ``linkerd-identity-trust-roots`` ConfigMap (the file wins where it gives one)."""
        entries = dict(self.clusters)
        for state in sorted(states, key=lambda s: s.name):
            entry = entries.get(state.name, _DEFAULT)
            if entry.trust_root is not None:
                continue
            cm = state.config_map(scheme.linkerd_namespace, scheme.trust_roots_config_map)
            pem = None if cm is None else cm.data.get(scheme.trust_roots_key)
            if not pem:
                continue
            entries[state.name] = attrs.evolve(
                entry,
                trust_root=trust_root_fingerprint(pem),
                trust_root_source=(
                    f"ConfigMap {scheme.linkerd_namespace}/{scheme.trust_roots_config_map}"
                ),
            )
        return Topology(entries)

    def defaults_used(self, clusters: Iterable[str], scheme: Scheme = LINKERD) -> tuple[str, ...]:
        """One sentence per default that applies to ``clusters``, in a fixed order."""
        names = sorted(set(clusters))
        own = [n for n in names if self.pod_network(n) is None]
        unknown = [n for n in names if self.trust_root(n) is None]
        everyone = [n for n in names if self.cluster(n).gateway_reachable_from is None]
        out = []
        if own:
            out.append(
                f"podNetwork not given for {', '.join(own)}: each is assumed to be its own "
                "pod network"
            )
        if unknown:
            out.append(
                f"trustRoot not known for {', '.join(unknown)}: trust roots are not compared "
                f"(give trustRoot in the topology file or the {scheme.trust_roots_config_map} "
                "ConfigMap in the dump)"
            )
        if everyone:
            out.append(
                f"gatewayReachableFrom not given for {', '.join(everyone)}: their gateways "
                "are assumed reachable from every cluster"
            )
        return tuple(out)

    # -- display -------------------------------------------------------------------------

    def __repr__(self) -> str:
        if not self.clusters:
            return "<Topology: every default>"
        parts = []
        # A fleet's file would make a line of kilobytes: the first few clusters, counted.
        shown = list(self.clusters.items())[:_REPR_CLUSTERS]
        for name, entry in shown:
            bits = [
                f"podNetwork={entry.pod_network or '(own)'}",
                f"trustRoot={entry.trust_root or '(unknown)'}",
            ]
            if entry.gateway_reachable_from is not None:
                bits.append(f"gatewayReachableFrom={sorted(entry.gateway_reachable_from)}")
            parts.append(f"{name}: {', '.join(bits)}")
        more = len(self.clusters) - len(shown)
        tail = f"; +{more} more clusters" if more else ""
        return "<Topology " + "; ".join(parts) + tail + ">"

    def _repr_html_(self) -> str:
        rows = [("cluster", "podNetwork", "trustRoot", "gatewayReachableFrom")]
        for name, entry in self.clusters.items():
            reach = (
                "every cluster"
                if entry.gateway_reachable_from is None
                else ", ".join(sorted(entry.gateway_reachable_from)) or "no cluster"
            )
            cells = (
                name,
                entry.pod_network or "its own (default)",
                self.describe_trust_root(name),
                reach,
            )
            rows.append(cells)
        if len(rows) == 1:
            rows.append(("every default", "", "", ""))
        count = len(self.clusters)
        summary = f"topology file: {count} cluster{'' if count == 1 else 's'}"
        return f"<p><strong>{html.escape(summary)}</strong></p>{html_table(rows)}"

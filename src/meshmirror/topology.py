"""Re-exports :mod:`meshmirror.views.topology`: its stable import path."""

from meshmirror.views.topology import (
    ClusterTopology,
    RootComparison,
    Topology,
    TopologyError,
    is_meshed,
    meshed_namespaces,
    trust_root_fingerprint,
)

__all__ = [
    "ClusterTopology",
    "RootComparison",
    "Topology",
    "TopologyError",
    "is_meshed",
    "meshed_namespaces",
    "trust_root_fingerprint",
]

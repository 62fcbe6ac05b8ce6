"""meshmirror: Linkerd-style multi-cluster service mirroring as pure, typed functions.

>>> from meshmirror import plan, diff, PlanOptions, LINKERD
"""

from meshmirror.codes import Conflict, ConflictCode, Skip, SkipCode
from meshmirror.diff import Changes, Update, diff
from meshmirror.federated import Federation, Member
from meshmirror.labels import LabelError, Selector, SelectorError, parse_selector
from meshmirror.manifest import ManifestError, cluster_state, to_manifest
from meshmirror.mirror import Mirror
from meshmirror.model import (
    ClusterState,
    ConfigMap,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    FrozenMap,
    Link,
    Namespace,
    ObjectRef,
    ProbeSpec,
    Service,
    ServicePort,
)
from meshmirror.names import InvalidNameError
from meshmirror.plan import Plan, PlanOptions, plan
from meshmirror.scheme import LINKERD, Scheme

__version__ = "0.1.0"

__all__ = [
    "LINKERD",
    "Changes",
    "ClusterState",
    "ConfigMap",
    "Conflict",
    "ConflictCode",
    "EndpointAddress",
    "EndpointPort",
    "EndpointSubset",
    "Endpoints",
    "Federation",
    "FrozenMap",
    "InvalidNameError",
    "LabelError",
    "Link",
    "ManifestError",
    "Member",
    "Mirror",
    "Namespace",
    "ObjectRef",
    "Plan",
    "PlanOptions",
    "ProbeSpec",
    "Scheme",
    "Selector",
    "SelectorError",
    "Service",
    "ServicePort",
    "Skip",
    "SkipCode",
    "Update",
    "__version__",
    "cluster_state",
    "diff",
    "parse_selector",
    "plan",
    "to_manifest",
]

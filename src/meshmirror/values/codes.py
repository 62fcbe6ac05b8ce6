"""Why something was not mirrored, and where federated members disagree.

Codes are stable (docs/design.md, section 4.4): tools match on them. New codes may be added;
existing ones keep their meaning.
"""

from __future__ import annotations

import enum

import attrs

from meshmirror.values.model import ObjectRef

__all__ = ["Conflict", "ConflictCode", "NoticeCode", "Skip", "SkipCode"]


class SkipCode(str, enum.Enum):
    """Why a remote Service (or a Link) that could be mirrored is not."""

    NAMESPACE_MISSING = "NamespaceMissing"
    NAME_TOO_LONG = "NameTooLong"
    INVALID_NAME = "InvalidName"
    NOT_OWNED = "NotOwned"
    REMOTE_IS_MIRROR = "RemoteIsMirror"
    UNKNOWN_CLUSTER = "UnknownCluster"
    NO_GATEWAY = "NoGateway"
    GATEWAY_UNRESOLVED = "GatewayUnresolved"
    HEADLESS_MEMBER = "HeadlessMember"
    NO_PORTS = "NoPorts"
    # Added after the first contract:
    NAME_COLLISION = "NameCollision"
    HEADLESS_NOT_LABELLED = "HeadlessNotLabelled"
    HEADLESS_NO_ENDPOINTS = "HeadlessNoEndpoints"
    #: One entry of a Link's ``gatewayAddress`` not used (the others are); ref the Link.
    GATEWAY_ADDRESS_DROPPED = "GatewayAddressDropped"
    #: A remote Service with a value the API server would refuse on the mirror (a label
    #: key or value, a port protocol or name, a Service type).
    INVALID_REMOTE_VALUE = "InvalidRemoteValue"
    #: A headless mirror's per-pod Services have no cluster IP yet; their addresses join
    #: the headless Endpoints once the API server assigns them.
    HEADLESS_AWAITING_CLUSTER_IP = "HeadlessAwaitingClusterIP"
    #: A Link whose target is the source cluster itself.
    LINK_TARGETS_SOURCE = "LinkTargetsSource"

    def __str__(self) -> str:
        return self.value


class NoticeCode(str, enum.Enum):
    """What the CLI says about its input as a whole (``warning: <code>: ...``): nothing
    is wrong with one object, but the answer may not be what was meant."""

    #: The source dump holds no Link, so nothing is mirrored.
    NO_LINKS = "NoLinks"
    #: A cluster given on the command line that no Link of the source targets.
    CLUSTER_NOT_LINKED = "ClusterNotLinked"
    #: The topology file names a cluster that is not among those given.
    TOPOLOGY_UNKNOWN_CLUSTER = "TopologyUnknownCluster"

    def __str__(self) -> str:
        return self.value


class ConflictCode(str, enum.Enum):
    """How a federated member disagrees with the member whose spec wins."""

    PORT_CONFLICT = "PortConflict"
    TYPE_CONFLICT = "TypeConflict"
    HEADLESS_CONFLICT = "HeadlessConflict"
    SESSION_AFFINITY_CONFLICT = "SessionAffinityConflict"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(order=True)
class Skip:
    """Something deliberately not mirrored.

    ``ref`` is the object it is about (a remote Service, or a Link) and ``cluster`` the
    cluster that object lives in.
    """

    code: SkipCode
    ref: ObjectRef
    message: str
    cluster: str = ""

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"


@attrs.frozen(order=True)
class Conflict:
    """Federated members that disagree; the winner's spec is used all the same.

    ``ref`` is the federated Service; ``members`` the disagreeing members as
    ``svc@cluster`` (``svc`` alone for the source's own member); ``winner`` likewise.
    """

    code: ConflictCode
    ref: ObjectRef
    members: tuple[str, ...]
    winner: str
    message: str

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"

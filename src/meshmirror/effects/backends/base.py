"""The contract between the reconciler and a cluster: the ``Backend`` Protocol.

A backend speaks kubectl-style dicts (what ``kubectl get -o json`` prints), so the same
reconciler drives the in-memory :class:`~meshmirror.effects.backends.memory.FakeCluster` and the
real API server (:mod:`meshmirror_k8s`). Errors are the API server's status codes as
exception types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

import attrs

__all__ = [
    "KINDS",
    "AlreadyExists",
    "Backend",
    "BackendError",
    "Conflict",
    "Gone",
    "ListResult",
    "Manifest",
    "NotFound",
    "ServerError",
    "Timeout",
    "TooManyRequests",
    "Unreachable",
    "WatchEvent",
    "WriteConflict",
]

Manifest: TypeAlias = dict[str, Any]

#: The kinds a backend serves. Cluster-scoped: Namespace.
KINDS: tuple[str, ...] = (
    "Namespace",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "Link",
    "Secret",
    "ConfigMap",
)


class BackendError(Exception):
    """A request to a cluster failed. ``retryable`` says whether trying again can help."""

    status: int | None = None
    retryable: bool = True

    def __init__(self, cluster: str, message: str) -> None:
        super().__init__(f"cluster {cluster!r}: {message}")
        self.cluster = cluster
        self.message = message


class NotFound(BackendError):
    status = 404
    retryable = False


class WriteConflict(BackendError):
    """409: a stale ``resourceVersion`` or a failed delete precondition (not to be
    confused with :class:`meshmirror.codes.Conflict`, members of a federated Service
    that disagree)."""

    status = 409


# The name this exception had first; kept so that existing imports work.
Conflict = WriteConflict


class AlreadyExists(WriteConflict):
    """409 on create: an object of that name exists."""


class Gone(BackendError):
    """410: the watch's resourceVersion is too old; list again."""

    status = 410


class TooManyRequests(BackendError):
    status = 429


class ServerError(BackendError):
    status = 500


class Timeout(BackendError):
    """The request took longer than its timeout."""


class Unreachable(BackendError):
    """No connection to the cluster at all (as a network error would)."""


@attrs.frozen
class ListResult:
    """What a list returns: the items and the collection's resourceVersion."""

    items: tuple[Manifest, ...]
    resource_version: str


@attrs.frozen
class WatchEvent:
    """One watch event; ``object`` is the object after (or, for DELETED, at) the change."""

    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
    object: Manifest


@runtime_checkable
class Backend(Protocol):
    """One cluster, as the reconciler sees it.

    ``kind`` is one of :data:`KINDS`; ``namespace`` None means every namespace.
    """

    @property
    def name(self) -> str:
        """The cluster's name (the Link's ``targetClusterName`` for a remote)."""
        ...

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        """Every object of ``kind``, and the resourceVersion to watch from."""
        ...

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        """Changes after ``resource_version``; raises :class:`Gone` when it is too old.

        The iterator ends when the backend has nothing more to say for now (a fake
        cluster: at the newest change; a real one: at its request timeout)."""
        ...

    def create(self, manifest: Manifest) -> Manifest:
        """Create; :class:`AlreadyExists` when the name is taken. Returns the stored object."""
        ...

    def update(self, manifest: Manifest) -> Manifest:
        """Replace; ``metadata.resourceVersion`` must be current, else :class:`WriteConflict`."""
        ...

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        """Delete, only if the object still has ``resource_version``/``uid`` when given
        (else :class:`WriteConflict`); :class:`NotFound` when absent."""
        ...

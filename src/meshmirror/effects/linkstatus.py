"""Writing Link status: :func:`meshmirror.decisions.status.link_status` through the ``links/status``
subresource, only when it differs from what the Link already says.

A write goes through the backend's ``update_status`` (the whole Link with its current
``resourceVersion``: the status subresource never touches the spec, and the API server
refuses a stale write with a 409, which the next sync redoes from fresh state). A
backend without ``update_status`` gets no status at all. A status write changes only the
Link's status and resourceVersion: it never restarts a watch, and :meth:`~LinkStatusWriter.is_own`
tells a watcher that the Link event it causes needs no sync (a sync would compute the
same status and write nothing). A Link whose target was not read in a run keeps its
status as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from meshmirror.decisions.plan import Plan, PlanOptions
from meshmirror.decisions.status import StatusIndex, rfc3339, same_status
from meshmirror.effects.backends.base import (
    Backend,
    BackendError,
    Manifest,
    NotFound,
    WriteConflict,
)
from meshmirror.values.model import ClusterState, Link, ObjectRef
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = ["LinkStatusWriter"]


class LinkStatusWriter:
    """Keeps each Link's ``status`` equal to :func:`~meshmirror.decisions.status.link_status`.

    ``wall_clock`` returns seconds since the epoch (conditions' ``lastTransitionTime``).
    :attr:`writes` lists every status write sent, as (namespace, name); :attr:`errors`
    the failures of the last :meth:`sync`.
    """

    def __init__(
        self,
        wall_clock: Callable[[], float],
        *,
        scheme: Scheme = LINKERD,
        options: PlanOptions | None = None,
        on_write: Callable[[str], None] | None = None,
    ) -> None:
        self._wall = wall_clock
        self._scheme = scheme
        self._options = options
        self._on_write = on_write
        self.writes: list[tuple[str, str]] = []
        self.errors: list[str] = []
        # (namespace, name) -> the resourceVersion our last status write gave the Link.
        self._own: dict[tuple[str, str], str] = {}
        # What the last sync computed from, and the Links (by the resourceVersion seen)
        # whose status was then found current: with the same plan and no failed write,
        # an unchanged Link needs no new computation (a quiet cluster costs a comparison
        # of plans, not a status per Link).
        self._basis: tuple[Plan, dict[ObjectRef, str]] | None = None
        self._current: dict[ObjectRef, str] = {}

    def sync(
        self,
        backend: Backend,
        links: Iterable[Link],
        docs: Mapping[ObjectRef, Manifest],
        planned: Plan,
        source: ClusterState,
        remotes: Mapping[str, ClusterState],
        *,
        read: Collection[str],
        errors: Iterable[tuple[ObjectRef, str]] = (),
    ) -> int:
        """Write the status of each of ``links`` (their documents as listed in ``docs``)
        whose target is in ``read`` and whose status changed; the number written.

        ``planned`` is the plan of ``source`` and ``remotes`` (every known state);
        ``errors`` the failed object writes of the run."""
        update = getattr(backend, "update_status", None)
        self.errors = []
        if update is None:
            return 0
        failures: dict[ObjectRef, str] = {}
        for ref, message in errors:
            failures.setdefault(ref, message)
        now = rfc3339(self._wall())
        written = 0
        basis = self._basis
        if basis is None or basis[1] != failures or basis[0] != planned:
            self._current = {}
        self._basis = (planned, failures)
        index: StatusIndex | None = None  # built on the first Link that needs one
        for link in links:
            doc = docs.get(link.ref)
            if doc is None or link.target_cluster_name not in read:
                continue
            seen = str((doc.get("metadata") or {}).get("resourceVersion") or "")
            if seen and self._current.get(link.ref) == seen:
                continue  # the same plan, and the Link unchanged since found current
            current = doc.get("status")
            if index is None:
                index = StatusIndex(
                    planned, source, remotes, scheme=self._scheme, options=self._options
                )
            desired = index.status(
                link,
                now=now,
                previous=current if isinstance(current, Mapping) else None,
                errors=failures,
            )
            if desired is None or same_status(current, desired):
                if desired is not None and seen:
                    self._current[link.ref] = seen
                continue
            body: dict[str, Any] = copy.deepcopy(doc)
            body["status"] = desired
            result = "ok"
            try:
                stored = update(body)
            except (WriteConflict, NotFound):
                result = "conflict"  # changed or gone meanwhile: the next sync decides
            except BackendError as err:
                result = "error"
                self.errors.append(
                    f"Link {link.namespace}/{link.name}: status update failed: {err.message}"
                )
            if self._on_write is not None:
                self._on_write(result)
            if result == "ok":
                self.writes.append((link.namespace, link.name))
                rv = (stored.get("metadata") or {}).get("resourceVersion")
                if rv:
                    self._own[(link.namespace, link.name)] = str(rv)
                    self._current[link.ref] = str(rv)
                written += 1
        return written

    def is_own(self, doc: Manifest) -> bool:
        """Whether ``doc`` (a Link, as a watch reports it) is exactly what our last status
        write of it made: a change that needs no sync."""
        meta = doc.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        rv = meta.get("resourceVersion")
        return doc.get("kind", "Link") == "Link" and rv is not None and self._own.get(key) == rv

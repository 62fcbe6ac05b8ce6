"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection``.

A candidate takes the Lease when it is absent, released (no holder) or expired; the
holder renews it every ``retry_period``; expiry is judged on the *local* monotonic clock
from when this candidate last saw the Lease record change (so clock skew between replicas
does not matter). Writes carry the Lease's resourceVersion: two candidates never both
win. :attr:`LeaderElector.is_leader` is False once a renewal has not succeeded for
``renew_deadline`` seconds, so a partitioned leader stops writing before another can
take over (``renew_deadline < lease_duration``).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from meshmirror.backends import BackendError, Manifest, NotFound

__all__ = ["LeaderElector", "LeaseBackend"]

log = logging.getLogger("meshmirror_k8s.leader")


class LeaseBackend(Protocol):
    """What the elector needs of a backend (a :class:`KubernetesBackend` has it)."""

    def get(self, kind: str, namespace: str | None, name: str) -> Manifest: ...

    def create(self, manifest: Manifest) -> Manifest: ...

    def update(self, manifest: Manifest) -> Manifest: ...


def _micro_time(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate for the Lease ``namespace/name``."""

    def __init__(
        self,
        backend: LeaseBackend,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError("need 0 < retry_period < renew_deadline < lease_duration")
        self.backend = backend
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._wall = wall_clock
        self._mono = monotonic
        self._observed: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._renewed_at: float | None = None  # monotonic time of our last successful write
        self._lock = threading.Lock()  # one attempt or release at a time
        #: Why the last attempt could not talk to the API server (None: it could).
        self.last_error: str | None = None

    @property
    def is_leader(self) -> bool:
        return (
            self._renewed_at is not None and self._mono() - self._renewed_at < self.renew_deadline
        )

    def _spec(self, transitions: int, acquired: str | None) -> dict[str, Any]:
        now = _micro_time(self._wall())
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_duration),
            "acquireTime": acquired or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this candidate holds the Lease afterwards."""
        try:
            with self._lock:
                held = self._attempt()
            self.last_error = None
            return held
        except BackendError as err:
            self.last_error = err.message
            log.warning(
                "lease attempt failed",
                extra={"lease": f"{self.namespace}/{self.name}", "error": err.message},
            )
            return self.is_leader

    def _attempt(self) -> bool:
        now = self._mono()
        try:
            lease = self.backend.get("Lease", self.namespace, self.name)
        except NotFound:
            self.backend.create(
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(0, None),
                }
            )
            self._won(now, None)
            return True
        spec: dict[str, Any] = dict(lease.get("spec") or {})
        if spec != self._observed:
            self._observed = spec
            self._observed_at = now
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and now < self._observed_at + duration:
            self._renewed_at = None
            return False  # held by another candidate and not expired
        mine = holder == self.identity
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        updated = dict(lease)
        updated["spec"] = {
            **spec,
            **self._spec(transitions, spec.get("acquireTime") if mine else None),
        }
        try:
            stored = self.backend.update(updated)
        except BackendError as err:
            if err.status == 409:
                return False  # another candidate wrote first
            raise
        if not mine:
            log.info("acquired the lease", extra={"lease": f"{self.namespace}/{self.name}"})
        self._won(now, stored)
        return True

    def _won(self, now: float, stored: Manifest | None) -> None:
        self._renewed_at = now
        if stored is not None:
            self._observed = dict(stored.get("spec") or {})
            self._observed_at = now

    def release(self) -> None:
        """Give the Lease up (holder cleared) so another replica takes over at once."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        if not self.is_leader:
            return
        self._renewed_at = None
        try:
            lease = self.backend.get("Lease", self.namespace, self.name)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec["holderIdentity"] = ""
            spec["leaseDurationSeconds"] = 1
            spec["renewTime"] = _micro_time(self._wall())
            self.backend.update({**lease, "spec": spec})
            log.info("released the lease", extra={"lease": f"{self.namespace}/{self.name}"})
        except BackendError as err:
            log.warning("could not release the lease", extra={"error": err.message})

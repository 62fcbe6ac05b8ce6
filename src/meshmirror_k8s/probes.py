"""Gateway probes: each Link's ``probeSpec`` drives an HTTP GET to its gateway, and
``failureThreshold`` consecutive failures make that gateway dead.

One daemon thread per Link probes ``http://<gateway address>:<port><path>`` every
``period`` (each request waits at most ``timeout``); a probe succeeds when any of the
Link's gateway addresses answers 200. Redirects are never followed (a 3xx is a failure)
and nothing but the Link's own gateway addresses (resolved as the plan resolves them) is
ever contacted. The state machine is :func:`meshmirror.liveness.observe`. A flip calls
``on_change`` (the controller wakes a sync, which plans the dead gateway's mirrors with
their addresses in ``notReadyAddresses``, the existing dead-gateway planning, and
restores them when it is alive again). Probes never run on the event-handling path.

A Link whose gateway has no usable address, or whose ``probeSpec`` cannot be used
(:class:`~meshmirror.liveness.ProbeSpecError`), is not probed and counts as alive, as
Linkerd's probe worker does not start without a valid spec.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterable

import attrs

from meshmirror.liveness import Liveness, ProbeConfig, ProbeSpecError, observe, probe_config
from meshmirror.mirror import Resolver, resolve_gateway
from meshmirror.model import Link
from meshmirror_k8s.metrics import ControllerMetrics

__all__ = ["GatewayProber", "ProbeResult", "probe_gateway"]

log = logging.getLogger("meshmirror_k8s.probes")


@attrs.frozen
class ProbeResult:
    """One probe: ``ok`` when an address answered 200; ``latency_ms`` of the answering
    request (of the last attempt when none did); ``error`` why it failed."""

    ok: bool
    latency_ms: float
    error: str = ""


def probe_gateway(
    addresses: Iterable[str],
    config: ProbeConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ProbeResult:
    """``GET http://<address>:<port><path>`` for each address until one answers 200."""
    latency = 0.0
    errors: list[str] = []
    for address in addresses:
        start = clock()
        conn = http.client.HTTPConnection(address, config.port, timeout=config.timeout)
        try:
            conn.request("GET", config.path, headers={"User-Agent": "meshmirror-probe"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as err:
            latency = (clock() - start) * 1000.0
            errors.append(f"{address}: {type(err).__name__}: {err}")
            continue
        finally:
            conn.close()
        latency = (clock() - start) * 1000.0
        if status == 200:
            return ProbeResult(True, latency)
        errors.append(f"{address}: HTTP {status}")
    return ProbeResult(False, latency, "; ".join(errors) or "no gateway address")


@attrs.frozen
class _Plan:
    """What one Link's worker probes (a new one replaces the worker)."""

    target: str
    addresses: tuple[str, ...]
    config: ProbeConfig


class _Worker:
    def __init__(self, plan: _Plan, owner: GatewayProber) -> None:
        self.plan = plan
        self.state = Liveness()
        self.stop = threading.Event()
        self._owner = owner
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"probe-{plan.target}")

    def _run(self) -> None:
        plan = self.plan
        cfg = plan.config
        while not self.stop.wait(cfg.period):
            result = self._owner.probe(plan.addresses, cfg)
            if self.stop.is_set():
                return
            self._owner._observed(self, result)


class GatewayProber:
    """Probes the gateways of the Links given to :meth:`set_links` (see the module
    docstring). :meth:`dead` is what the planner needs; :meth:`stop` ends every worker.
    ``probe`` replaces the HTTP probe (tests: the API server refuses loopback endpoint
    addresses, so a stand-in gateway on 127.0.0.1 is reached through a ``probe`` that
    dials it for the Link's documentation-range address)."""

    def __init__(
        self,
        *,
        resolve: Resolver = None,
        metrics: ControllerMetrics | None = None,
        on_change: Callable[[], None] | None = None,
        probe: Callable[[Iterable[str], ProbeConfig], ProbeResult] = probe_gateway,
    ) -> None:
        self._resolve = resolve
        self._metrics = metrics
        self.on_change = on_change
        self.probe = probe
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}
        self.problems: dict[str, str] = {}
        # Off until enabled: a one-pass run (--once, --dry-run) never probes.
        self.enabled = False
        self._links: list[Link] = []

    def _plan(self, link: Link) -> _Plan | None:
        if not link.gateway_address:
            return None
        try:
            config = probe_config(link)
        except ProbeSpecError as err:
            self.problems[link.target_cluster_name] = str(err)
            return None
        gateway = resolve_gateway(link, self._resolve)
        if not gateway.addresses:
            self.problems[link.target_cluster_name] = gateway.problem
            return None
        return _Plan(link.target_cluster_name, gateway.addresses, config)

    def set_links(self, links: Iterable[Link]) -> None:
        """Probe exactly these Links' gateways: new or changed ones get a new worker
        (alive until probed otherwise), removed ones stop. Until :meth:`enable`, only
        remembered."""
        self._links = list(links)
        if not self.enabled:
            return
        self.problems = {}
        plans: dict[str, _Plan] = {}
        for link in self._links:
            plan = self._plan(link)
            if plan is not None and plan.target not in plans:
                plans[plan.target] = plan
        changed = False
        with self._lock:
            for target, worker in list(self._workers.items()):
                if plans.get(target) != worker.plan:
                    worker.stop.set()
                    del self._workers[target]
                    changed = changed or not worker.state.alive
                    if target not in plans and self._metrics is not None:
                        self._metrics.forget_gateway(target)
            for target, plan in plans.items():
                if target in self._workers:
                    continue
                worker = _Worker(plan, self)
                self._workers[target] = worker
                if self._metrics is not None:
                    self._metrics.gateway(target, enabled=True)
                    self._metrics.gateway_alive.labels(target).set(1)
                worker.thread.start()
        if changed and self.on_change is not None:
            self.on_change()

    def _observed(self, worker: _Worker, result: ProbeResult) -> None:
        with self._lock:
            if self._workers.get(worker.plan.target) is not worker:
                return  # replaced meanwhile
            before = worker.state
            after = observe(before, result.ok, worker.plan.config.failure_threshold)
            worker.state = after
        target = worker.plan.target
        if self._metrics is not None:
            self._metrics.probe(
                target, ok=result.ok, latency_ms=result.latency_ms, alive=after.alive
            )
        if after.alive != before.alive:
            log.warning(
                "gateway is %s",
                "alive" if after.alive else "dead",
                extra={"cluster": target, "error": result.error},
            )
            if self.on_change is not None:
                self.on_change()

    def enable(self) -> None:
        """Start probing (the Links given so far, then every :meth:`set_links`)."""
        self.enabled = True
        self.set_links(self._links)

    def dead(self) -> frozenset[str]:
        """Target clusters whose gateway is dead now."""
        with self._lock:
            return frozenset(t for t, w in self._workers.items() if not w.state.alive)

    def alive(self, target: str) -> bool | None:
        """Whether ``target``'s gateway is alive (None: not probed)."""
        with self._lock:
            worker = self._workers.get(target)
            return None if worker is None else worker.state.alive

    def stop(self) -> None:
        """End every worker (each ends at its next wake-up)."""
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            worker.stop.set()

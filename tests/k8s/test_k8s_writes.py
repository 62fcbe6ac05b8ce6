"""The controller's write runner: chains of writes side by side, same result as in order."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from meshmirror.effects.backends.memory import FakeCluster
from meshmirror.effects.reconcile import ManualClock, Reconciler
from meshmirror_k8s.controller import thread_pool_runner

EXPORT = "mirror.linkerd.io/exported"


def world(n: int) -> tuple[FakeCluster, FakeCluster, ManualClock]:
    clock = ManualClock(0.0)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    link = {
        "apiVersion": "multicluster.linkerd.io/v1alpha3",
        "kind": "Link",
        "metadata": {"name": "east", "namespace": "shop"},
        "spec": {
            "targetClusterName": "east",
            "gatewayAddress": "192.0.2.10",
            "gatewayPort": "4143",
            "selector": {"matchLabels": {EXPORT: "true"}},
        },
    }
    services: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"s{i}", "namespace": "shop", "labels": {EXPORT: "true"}},
            "spec": {"ports": [{"port": 80}]},
        }
        for i in range(n)
    ]
    west = FakeCluster.from_manifests("west", [ns, link], clock=clock)
    east = FakeCluster.from_manifests("east", [ns, *services], clock=clock)
    return west, east, clock


def test_a_thread_pool_writes_what_one_at_a_time_writes() -> None:
    results = []
    for runner in (thread_pool_runner(1), thread_pool_runner(4)):
        west, east, clock = world(30)
        r = Reconciler(west, {"east": east}, clock, write_runner=runner)
        assert r.run_until_idle().idle
        results.append(sorted(west.writes))
        # A mirror's Service is written before its Endpoints, whatever the interleaving.
        order = [(k, n) for verb, k, _, n in west.writes if verb == "create"]
        for i in range(30):
            assert order.index(("Service", f"s{i}-east")) < order.index(("Endpoints", f"s{i}-east"))
    assert results[0] == results[1]
    assert len(results[0]) == 60


def test_the_pool_really_runs_side_by_side() -> None:
    west, east, clock = world(8)
    seen: set[int] = set()
    create = west.create

    def slow_create(manifest: dict[str, Any]) -> dict[str, Any]:
        seen.add(threading.get_ident())
        time.sleep(0.02)  # long enough for the other workers to take chains
        return create(manifest)

    west.create = slow_create  # type: ignore[method-assign]
    Reconciler(west, {"east": east}, clock, write_runner=thread_pool_runner(4)).run_once()
    assert len(seen) > 1


def test_concurrency_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        thread_pool_runner(0)

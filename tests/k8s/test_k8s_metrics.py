"""Prometheus metrics on the health port (``/metrics``): Linkerd's gateway metric names and
labels, and meshmirror's own, from a controller over HTTP."""

from __future__ import annotations

import re
import urllib.request

from k8s_helpers import Topology, eps, running, svc, wait_for
from kube_server import Fault

from meshmirror_k8s.health import HealthServer
from meshmirror_k8s.metrics import LINKERD_LATENCY_BUCKETS, ControllerMetrics


def scrape(port: int) -> tuple[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.headers["Content-Type"], r.read().decode()


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (labels sorted, as exposed); 0 when absent."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{inner}}}" if labels else name) + r" (\S+)"
    match = re.search(r"^" + pattern + "$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_registries_are_per_controller() -> None:
    a, b = ControllerMetrics(), ControllerMetrics()
    a.writes.labels("create", "ok").inc()
    assert value(a.render().decode(), "meshmirror_writes_total", result="ok", verb="create") == 1
    assert value(b.render().decode(), "meshmirror_writes_total", result="ok", verb="create") == 0


def test_linkerd_gateway_metrics_keep_linkerds_names_and_labels() -> None:
    m = ControllerMetrics()
    m.gateway("east", enabled=True)
    m.probe("east", ok=True, latency_ms=7.0, alive=True)
    m.probe("east", ok=False, latency_ms=0.0, alive=True)  # under the threshold: not counted
    m.probe("east", ok=False, latency_ms=0.0, alive=False)
    text = m.render().decode()
    assert "# TYPE gateway_alive gauge" in text
    assert value(text, "gateway_alive", target_cluster_name="east") == 0
    assert value(text, "gateway_enabled", target_cluster_name="east") == 1
    assert value(text, "gateway_latency", target_cluster_name="east") == 7
    assert "# TYPE gateway_probe_latency_ms histogram" in text
    assert value(text, "gateway_probe_latency_ms_count", target_cluster_name="east") == 1
    buckets = re.findall(r'gateway_probe_latency_ms_bucket\{le="([^"]+)"', text)
    assert [float(b) for b in buckets if b != "+Inf"] == [float(b) for b in LINKERD_LATENCY_BUCKETS]
    # Linkerd's counter name exactly (no _total), labels probe_successful and target.
    assert value(text, "gateway_probes", probe_successful="true", target_cluster_name="east") == 1
    assert value(text, "gateway_probes", probe_successful="false", target_cluster_name="east") == 1


def exercise(topology: Topology, port: int) -> tuple[str, str]:
    """Changes in east while the controller runs (one update's first try gets a 409);
    the scrape once an event has led to a write."""
    west, east = topology.west, topology.clusters["east"]
    wait_for(lambda: west.get("Service", "shop", "web-east"))
    wait_for(lambda: len(topology.servers["east"].recorded(verb="watch")) >= 2)
    east.apply([svc("fresh"), eps("fresh", "shop", "10.2.3.4")])
    wait_for(lambda: west.get("Endpoints", "shop", "fresh-east"))
    topology.servers["west"].add_fault(
        Fault(status=409, verb="update", path="/services/fresh-east", times=1)
    )
    east.apply([svc("fresh", port=81)])

    def updated() -> bool:
        fresh = west.get("Service", "shop", "fresh-east") or {}
        return bool(fresh["spec"]["ports"][0]["port"] == 81)

    wait_for(updated)

    def scraped() -> tuple[str, str] | None:
        got = scrape(port)
        return got if value(got[1], "meshmirror_event_to_write_seconds_count") >= 1 else None

    result: tuple[str, str] = wait_for(scraped)
    return result


def test_metrics_endpoint_of_a_running_controller(topology: Topology) -> None:
    east = topology.clusters["east"]
    east.apply([{**svc("bare"), "spec": {"ports": []}}])  # a NoPorts skip
    controller = topology.controller(resync_period=3600.0, debounce=0.05)
    health = HealthServer(
        alive=controller.alive, ready=lambda: controller.ready, metrics=controller.metrics.render
    ).start()
    try:
        with running(controller):
            content_type, text = exercise(topology, health.port)
    finally:
        health.stop()
    assert content_type.startswith("text/plain; version=0.0.4")
    assert value(text, "meshmirror_events_total", cluster="east", kind="Service") >= 2
    assert value(text, "meshmirror_writes_total", result="ok", verb="create") >= 4
    assert value(text, "meshmirror_writes_total", result="conflict", verb="update") == 1
    assert value(text, "meshmirror_link_status_writes_total", result="ok") >= 2
    assert value(text, "meshmirror_skipped_objects", code="NoPorts") == 1
    assert value(text, "meshmirror_cache_objects", cluster="east", kind="Service") == len(
        [d for d in east.dump() if d["kind"] == "Service"]
    )
    assert value(text, "meshmirror_sync_duration_seconds_count") >= 2
    assert "meshmirror_watch_restarts_total" in text and "meshmirror_relists_total" in text
    assert "secret" not in text.lower() and "token" not in text.lower()


def test_watch_restarts_and_relists_are_counted(topology: Topology) -> None:
    topology.servers["east"].add_fault(Fault(verb="watch", path="/services", gone=True, times=1))
    controller = topology.controller(resync_period=3600.0, debounce=0.05)

    def counted() -> bool:
        text = controller.metrics.render().decode()
        where = {"cluster": "east", "kind": "Service"}
        return (
            value(text, "meshmirror_relists_total", **where) >= 1
            and value(text, "meshmirror_watch_restarts_total", **where) >= 1
        )

    with running(controller):
        wait_for(counted)

"""Gateway probes against a local HTTP server standing in for the gateway (alive, 500,
hanging, closed port, a redirect), and through the controller over HTTP: a dead gateway's
mirror Endpoints list their addresses as not ready, alive restores them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from k8s_helpers import LINKS_NS, Topology, wait_for

from meshmirror.decisions.liveness import ProbeConfig
from meshmirror.values.model import Link, ProbeSpec
from meshmirror_k8s.metrics import ControllerMetrics
from meshmirror_k8s.probes import GatewayProber, ProbeResult, probe_gateway


class Gateway:
    """A stand-in gateway on 127.0.0.1: ``mode`` is ``alive``, ``500``, ``hang`` or
    ``redirect``; ``requests`` records (path) of every request it got."""

    def __init__(self) -> None:
        self.mode = "alive"
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append(self.path)
                if owner.mode == "hang":
                    time.sleep(1.0)
                    return
                if owner.mode == "redirect" and self.path == "/ready":
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                code = 500 if owner.mode == "500" else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    try:
        yield gw
    finally:
        gw.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cfg(port: int, timeout: float = 5.0) -> ProbeConfig:
    # Generous by default: a loaded CI machine must not turn an alive gateway into a timeout.
    return ProbeConfig("/ready", port, 0.05, timeout, 2)


def test_alive_gateway(gateway: Gateway) -> None:
    result = probe_gateway(["127.0.0.1"], cfg(gateway.port))
    assert result.ok and result.latency_ms >= 0
    assert gateway.requests == ["/ready"]


@pytest.mark.parametrize(("mode", "error"), [("500", "HTTP 500"), ("redirect", "HTTP 302")])
def test_failing_answers(gateway: Gateway, mode: str, error: str) -> None:
    gateway.mode = mode
    result = probe_gateway(["127.0.0.1"], cfg(gateway.port))
    assert not result.ok and error in result.error
    assert gateway.requests == ["/ready"]  # a redirect is never followed


def test_hanging_gateway_times_out(gateway: Gateway) -> None:
    gateway.mode = "hang"
    start = time.monotonic()
    result = probe_gateway(["127.0.0.1"], cfg(gateway.port, timeout=0.2))
    assert not result.ok and "timed out" in result.error
    assert time.monotonic() - start < 0.9


def test_closed_port() -> None:
    result = probe_gateway(["127.0.0.1"], cfg(closed_port()))
    assert not result.ok and "Connection" in result.error


def test_any_address_answering_is_alive(gateway: Gateway) -> None:
    # 127.0.0.2 is loopback too, but nothing listens there on this port.
    result = probe_gateway(["127.0.0.2", "127.0.0.1"], cfg(gateway.port))
    assert result.ok


#: The Links' gateway: an address the planner accepts (it drops loopback ones, which the
#: API server refuses in Endpoints); probes for it are dialled to the stand-in on loopback.
GATEWAY_IP = "192.0.2.10"


def via_loopback(addresses: Iterable[str], config: ProbeConfig) -> ProbeResult:
    """The real HTTP probe, sent to the stand-in gateway instead of the Link's address."""
    assert tuple(addresses) == (GATEWAY_IP,)  # only ever the Link's own gateway
    return probe_gateway(["127.0.0.1"], config)


def probed_link(port: int, address: str = GATEWAY_IP, **spec: str) -> Link:
    probe = {"path": "/ready", "port": str(port), "period": "50ms", "timeout": "200ms",
             "failure_threshold": "2", **spec}  # fmt: skip
    return Link(
        LINKS_NS,
        "east",
        "east",
        gateway_address=address,
        gateway_port="4143",
        probe_spec=ProbeSpec(**probe),
    )


def test_prober_flips_dead_and_alive_without_blocking(gateway: Gateway) -> None:
    metrics = ControllerMetrics()
    flips: list[frozenset[str]] = []
    prober = GatewayProber(metrics=metrics, probe=via_loopback)
    prober.enable()
    prober.on_change = lambda: flips.append(prober.dead())
    try:
        start = time.monotonic()
        prober.set_links([probed_link(gateway.port)])
        assert time.monotonic() - start < 0.1  # starting a worker never waits for a probe
        wait_for(lambda: len(gateway.requests) >= 2)
        assert prober.dead() == frozenset() and prober.alive("east") is True
        gateway.mode = "500"
        wait_for(lambda: prober.dead() == {"east"})
        assert flips == [frozenset({"east"})]
        gateway.mode = "alive"
        wait_for(lambda: prober.dead() == frozenset())
        assert flips == [frozenset({"east"}), frozenset()]
        assert set(gateway.requests) == {"/ready"}
        text = metrics.render().decode()
        assert 'gateway_alive{target_cluster_name="east"} 1.0' in text
        assert 'gateway_enabled{target_cluster_name="east"} 1.0' in text
        assert 'gateway_probes{probe_successful="false",target_cluster_name="east"}' in text
        assert metrics.gateway_probes.value("east", "true") >= 2
        assert 'gateway_probe_latency_ms_bucket{le="1.0",target_cluster_name="east"}' in text
        # Removing the Link stops its worker and its gateway series.
        prober.set_links([])
        assert prober.alive("east") is None
        assert 'target_cluster_name="east"' not in metrics.render().decode()
    finally:
        prober.stop()


def test_nothing_is_probed_until_enabled(gateway: Gateway, topology: Topology) -> None:
    prober = GatewayProber(probe=via_loopback)
    prober.set_links([probed_link(gateway.port)])
    time.sleep(0.2)
    assert gateway.requests == [] and prober.alive("east") is None
    controller = topology.controller()
    assert controller.sync_until_idle().ok  # --once: no probe worker
    assert controller.prober.alive("east") is None


def test_unusable_probe_specs_are_not_probed(gateway: Gateway) -> None:
    prober = GatewayProber(probe=via_loopback)
    prober.enable()
    try:
        prober.set_links(
            [
                probed_link(gateway.port, period="soon"),
                Link(LINKS_NS, "north", "north"),  # gatewayless
            ]
        )
        assert prober.alive("east") is None and prober.alive("north") is None
        assert "probeSpec.period" in prober.problems["east"]
        time.sleep(0.2)
        assert gateway.requests == []
    finally:
        prober.stop()


def test_controller_marks_a_dead_gateways_endpoints_not_ready(
    topology: Topology, gateway: Gateway
) -> None:
    west = topology.west
    doc = west.get("Link", LINKS_NS, "east")
    assert doc is not None
    # The stand-in gateway is the Link's gateway (its address and probe port).
    doc["spec"]["gatewayAddress"] = GATEWAY_IP
    doc["spec"]["probeSpec"] = {
        "path": "/ready",
        "port": str(gateway.port),
        "period": "50ms",
        "timeout": "200ms",
        "failureThreshold": "2",
    }
    west.apply([doc])
    controller = topology.controller()
    controller.prober.probe = via_loopback
    controller.prober.enable()  # as run() does; a one-pass run never probes
    try:
        assert controller.sync_until_idle().ok

        def web() -> dict[str, Any]:
            eps = west.get("Endpoints", "shop", "web-east")
            assert eps is not None
            return dict(eps["subsets"][0])

        assert [a["ip"] for a in web()["addresses"]] == [GATEWAY_IP]
        gateway.mode = "hang"
        wait_for(lambda: controller.prober.dead() == {"east"})
        assert controller.sync_once().ok
        assert "addresses" not in web() and [a["ip"] for a in web()["notReadyAddresses"]] == [
            GATEWAY_IP
        ]
        gateway.mode = "alive"
        wait_for(lambda: controller.prober.dead() == frozenset())
        assert controller.sync_once().ok
        assert [a["ip"] for a in web()["addresses"]] == [GATEWAY_IP]
        assert set(gateway.requests) == {"/ready"}
    finally:
        controller.prober.stop()
        controller.close()

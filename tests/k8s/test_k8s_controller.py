"""The controller's command line: --dry-run, refused credentials, bad input, leader
election, health endpoints and a graceful SIGTERM, the example manifests."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from k8s_helpers import (
    LINKS_NS,
    TOKENS,
    Topology,
    credentials_secret,
    kubeconfig,
    svc,
)

from meshmirror.cli import main as meshmirror_main
from meshmirror.effects.backends import Conflict, NotFound
from meshmirror_k8s.__main__ import main
from meshmirror_k8s.leader import LeaderElector
from meshmirror_k8s.rbac import source_manifests

ROOT = Path(__file__).resolve().parents[2]


def kubeconfig_file(topology: Topology, tmp_path: Path) -> Path:
    path = tmp_path / "west.kubeconfig"
    path.write_text(kubeconfig(topology.servers["west"].url, TOKENS["west"]))
    return path


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_dry_run_prints_every_change_and_persists_nothing(
    topology: Topology, tmp_path: Path
) -> None:
    west, east = topology.west, topology.clusters["east"]
    path = kubeconfig_file(topology, tmp_path)
    assert run(["--kubeconfig", str(path), "--once", "--no-resolve"])[0] == 0
    east.apply([svc("web", port=1234), svc("new")])
    east.remove("Service", "shop", "db")
    snapshot = west.dump()
    topology.servers["west"].clear()
    code, out, err = run(["--kubeconfig", str(path), "--dry-run", "--no-resolve"])
    assert code == 0, err
    assert sorted(out.splitlines()) == [
        "create Endpoints shop/new-east",
        "create Service shop/new-east",
        "delete Service shop/db-east",
        "update Service shop/web-east",  # the gateway Endpoints do not use the port
    ]
    assert west.dump() == snapshot
    assert topology.servers["west"].writes() == []
    assert topology.servers["west"].leases == {}


def test_refused_credentials_leave_that_links_mirrors_alone(
    topology: Topology, tmp_path: Path
) -> None:
    west, east, north = (topology.clusters[n] for n in ("west", "east", "north"))
    path = kubeconfig_file(topology, tmp_path)
    assert run(["--kubeconfig", str(path), "--once", "--no-resolve"])[0] == 0
    north_owned = [d for d in west.dump() if "@north" in str(d["metadata"].get("annotations", {}))]
    assert north_owned  # cache-federated lists north
    # north's credentials now use an exec plugin, which prints north's token.
    link = west.get("Link", LINKS_NS, "north")
    assert link is not None
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": TOKENS["north"]},
    }
    plugin = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": ["-c", f"print({json.dumps(json.dumps(credential))})"],
        "interactiveMode": "Never",
    }
    exec_config = kubeconfig(topology.servers["north"].url, "", user={"exec": plugin})
    west.apply([credentials_secret(link["spec"]["clusterCredentialsSecret"], exec_config)])
    north.apply([svc("cache", export=None, member=True, port=9999)])  # would change the federation
    east.apply([svc("web", port=4321)])
    topology.servers["north"].clear()
    code, out, err = run(["--kubeconfig", str(path), "--once", "--no-resolve"])
    assert code == 1
    assert topology.servers["north"].recorded() == []  # never contacted
    kept = [d for d in west.dump() if "@north" in str(d["metadata"].get("annotations", {}))]
    assert kept == north_owned
    assert west.get("Service", "shop", "web-east")["spec"]["ports"][0]["port"] == 4321
    errors = [json.loads(line) for line in err.splitlines()]
    refused = [e for e in errors if e.get("mechanism")]
    assert (
        refused and refused[0]["mechanism"] == "exec" and refused[0]["link"] == f"{LINKS_NS}/north"
    )
    assert any(e.get("message") == "link failed" and "exec" in e["error"] for e in errors)
    assert TOKENS["north"] not in out + err
    # Explicitly allowed, the plugin runs and its token is used (and never shown).
    code, out, err = run(["--kubeconfig", str(path), "--once", "--no-resolve", "--allow-exec"])
    assert code == 0, err
    assert {r.token for r in topology.servers["north"].recorded()} == {TOKENS["north"]}
    assert TOKENS["north"] not in out + err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--kubeconfig", "/nonexistent/kubeconfig", "--once"], "/nonexistent/kubeconfig"),
        (["--bogus"], "--bogus"),
        (["--resync-period", "0"], "--resync-period"),
        (["--once", "--unreachable-grace", "-1"], "--unreachable-grace"),
    ],
)
def test_bad_input(argv: list[str], problem: str) -> None:
    code, out, err = run(argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and problem in err


def test_kubeconfig_means_exactly_that_file(
    topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "9")
    path = kubeconfig_file(topology, tmp_path)
    assert run(["--kubeconfig", str(path), "--once", "--no-resolve"])[0] == 0
    assert {r.token for r in topology.servers["west"].recorded()} == {TOKENS["west"]}


def test_once_fails_when_the_source_is_down(topology: Topology, tmp_path: Path) -> None:
    path = kubeconfig_file(topology, tmp_path)
    topology.servers["west"].stop()
    code, _, err = run(["--kubeconfig", str(path), "--once", "--no-resolve"])
    assert code == 1
    assert "cannot read" in err


def test_meshmirror_controller_delegates(topology: Topology, tmp_path: Path) -> None:
    path = kubeconfig_file(topology, tmp_path)
    code = meshmirror_main(["controller", "--kubeconfig", str(path), "--once", "--no-resolve",
                            "--log-level", "error"])  # fmt: skip
    assert code == 0
    topology.assert_converged()


class FakeLeases:
    """A Lease store with resourceVersion preconditions, for the elector alone."""

    def __init__(self) -> None:
        self.lease: dict | None = None
        self.rv = 0

    def get(self, kind: str, namespace: str | None, name: str) -> dict:
        if self.lease is None:
            raise NotFound("west", "lease not found")
        return json.loads(json.dumps(self.lease))

    def create(self, manifest: dict) -> dict:
        assert self.lease is None
        self.rv += 1
        self.lease = {
            **manifest,
            "metadata": {**manifest["metadata"], "resourceVersion": str(self.rv)},
        }
        return self.lease

    def update(self, manifest: dict) -> dict:
        assert self.lease is not None
        if manifest["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
            raise Conflict("west", "stale")
        self.rv += 1
        self.lease = {
            **manifest,
            "metadata": {**manifest["metadata"], "resourceVersion": str(self.rv)},
        }
        return self.lease


def test_leader_election_hands_over_on_expiry_and_release() -> None:
    now = [1000.0]
    store = FakeLeases()

    def elector(identity: str) -> LeaderElector:
        return LeaderElector(
            store, LINKS_NS, "meshmirror", identity,
            lease_duration=15, renew_deadline=10, retry_period=2,
            wall_clock=lambda: now[0], monotonic=lambda: now[0],
        )  # fmt: skip

    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew() and a.is_leader
    assert not b.try_acquire_or_renew() and not b.is_leader
    for _ in range(5):  # a renews: b keeps standing by
        now[0] += 2
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    now[0] += 11  # a stops renewing (partitioned): it steps down before b may take over
    assert not a.is_leader
    assert not b.try_acquire_or_renew()
    now[0] += 5  # 16 s since b last saw the record change: expired
    assert b.try_acquire_or_renew() and b.is_leader
    assert store.lease["spec"]["holderIdentity"] == "b"
    assert store.lease["spec"]["leaseTransitions"] == 1
    b.release()
    assert store.lease["spec"]["holderIdentity"] == ""
    assert a.try_acquire_or_renew()  # released: taken at once


def test_sigterm_health_and_lease(topology: Topology, tmp_path: Path) -> None:
    """The real process: health endpoints on localhost, the Lease, a graceful SIGTERM."""
    path = kubeconfig_file(topology, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshmirror_k8s", "--kubeconfig", str(path), "--no-resolve",
         "--health-port", "0", "--lease-duration", "3", "--renew-deadline", "2",
         "--retry-period", "0.5", "--identity", "replica-1", "--watch-timeout", "2",
         "--resync-period", "30", "--no-gateway-probes"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        port = None
        deadline = time.monotonic() + 20
        assert proc.stderr is not None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            record = json.loads(line)
            if record["message"] == "health endpoints up":
                port = record["port"]
        assert port, "no health endpoint"

        def probe(name: str) -> tuple[int, dict]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/{name}", timeout=2) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        assert probe("healthz")[0] == 200
        while time.monotonic() < deadline and probe("readyz")[0] != 200:
            time.sleep(0.1)
        assert probe("readyz") == (200, {"ok": True, "ready": True, "leader": True, "links": {}})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            metrics = r.read().decode()
        assert "# TYPE meshmirror_sync_duration_seconds histogram" in metrics
        assert "# TYPE gateway_probes untyped" in metrics
        lease = topology.servers["west"].leases[(LINKS_NS, "meshmirror-controller")]
        assert lease["spec"]["holderIdentity"] == "replica-1"
        # Ready means leading; the first sync may still be under way.
        while True:
            try:
                topology.assert_converged()
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rest = proc.stderr.read() if proc.stderr else ""
    assert '"controller stopped"' in rest
    assert lease_holder(topology) == ""
    for token in TOKENS.values():
        assert token not in rest


def lease_holder(topology: Topology) -> str:
    return topology.servers["west"].leases[(LINKS_NS, "meshmirror-controller")]["spec"][
        "holderIdentity"
    ]


def test_example_rbac_is_the_generated_one() -> None:
    generated = list(source_manifests("meshmirror", LINKS_NS))
    example = [
        d for d in yaml.safe_load_all((ROOT / "examples/controller/rbac.yaml").read_text()) if d
    ]
    assert example == generated
    deployment = [
        d
        for d in yaml.safe_load_all((ROOT / "examples/controller/deployment.yaml").read_text())
        if d
    ]
    pod = deployment[0]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "meshmirror"
    assert "--kubeconfig" not in pod["containers"][0]["args"]  # in-cluster

"""What real kube-apiservers showed (tests/e2e), kept in the fast suite over the in-repo
server: Warning headers, per-object refusals, ``--once`` summaries over every round,
skips reported when they change, and a remote that denies while it restarts."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from k8s_helpers import OWNED, TOKENS, Topology, kubeconfig, svc
from kube_server import Fault

from meshmirror_k8s import backend as backend_module
from meshmirror_k8s.__main__ import main
from meshmirror_k8s.backend import ServerWarnings

DEPRECATED = "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def once(topology: Topology, tmp_path: Path, *flags: str) -> tuple[int, list[dict[str, Any]]]:
    path = tmp_path / "west.kubeconfig"
    path.write_text(kubeconfig(topology.servers["west"].url, TOKENS["west"]))
    err = io.StringIO()
    argv = ["--kubeconfig", str(path), "--once", "--no-resolve", "--request-timeout", "5", *flags]
    code = main(argv, out=io.StringIO(), err=err)
    return code, [json.loads(line) for line in err.getvalue().splitlines()]


def owned_count(topology: Topology) -> int:
    return sum(
        1
        for d in topology.west.dump()
        if d["kind"] in ("Service", "Endpoints")
        and (d["metadata"].get("labels") or {}).get(OWNED) == "true"
    )


def test_server_warnings_are_logged_once_per_kind(
    topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend_module, "SERVER_WARNINGS", ServerWarnings())
    for server in topology.servers.values():
        server.warnings = {"endpoints": DEPRECATED}
    code, logs = once(topology, tmp_path)
    assert code == 0
    endpoint_requests = [
        r for s in topology.servers.values() for r in s.recorded() if r.resource == "endpoints"
    ]
    assert len(endpoint_requests) > 3  # every one of them carried the header
    warned = [r for r in logs if r["message"] == "API server warning"]
    assert [(r["kind"], r["warning"]) for r in warned] == [("Endpoints", DEPRECATED)]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (f'299 - "{DEPRECATED}"', DEPRECATED),
        ('299 kube-apiserver "quoted \\"x\\""', 'quoted "x"'),
        ("not the RFC form", "not the RFC form"),
    ],
)
def test_warning_text(value: str, text: str) -> None:
    warnings = ServerWarnings()
    warnings.note("east", "Service", {"Warning": value})
    warnings.note("west", "Service", {"Warning": value})
    assert warnings.seen == {("Service", text): "east"}


def test_once_reports_what_every_round_did(topology: Topology, tmp_path: Path) -> None:
    # The first creates fail (no retries inside the request): a second round writes them.
    topology.servers["west"].add_fault(Fault(status=500, verb="create", times=2))
    code, logs = once(topology, tmp_path, "--max-retries", "0")
    assert code == 0
    summary = [r for r in logs if r["message"] == "sync"][-1]
    assert summary["rounds"] >= 2
    assert summary["creates"] == owned_count(topology) > 2


def test_a_refused_write_is_reported_per_object(topology: Topology, tmp_path: Path) -> None:
    topology.servers["west"].add_fault(Fault(status=422, verb="create", path="/endpoints"))
    code, logs = once(topology, tmp_path)
    # A rejection is not retried in a tight loop (the same object would be refused
    # again): that run did not do all its work, and says so.
    assert code == 1
    refused = [r for r in logs if r["message"] == "write refused"]
    assert len(refused) == 1
    assert refused[0]["object"].startswith("create Endpoints ")
    assert "HTTP 422" in refused[0]["error"]
    # Every other object was written; the next run writes the refused one.
    assert once(topology, tmp_path)[0] == 0
    topology.assert_converged()


def test_skips_are_logged_when_they_appear_change_or_go(
    topology: Topology, caplog: pytest.LogCaptureFixture
) -> None:
    # The same remote name blocked in two clusters: two skips, each logged.
    topology.clusters["east"].apply([svc("api")])
    topology.west.apply([svc("api-east", export=None)])
    controller = topology.controller()
    caplog.set_level(logging.INFO, logger="meshmirror_k8s.controller")

    def findings() -> list[tuple[str, str, str, str]]:
        out = [
            (
                r.getMessage(),
                getattr(r, "code", ""),
                getattr(r, "object", ""),
                getattr(r, "cluster", ""),
            )
            for r in caplog.records
            if r.getMessage() in ("skip", "skip resolved", "conflict", "conflict resolved")
        ]
        caplog.clear()
        return out

    assert controller.sync_until_idle().ok
    first = findings()
    # api-north and api-east squat the mirrors of north's and east's api.
    assert first.count(("skip", "NotOwned", "Service shop/api", "east")) == 1
    assert first.count(("skip", "NotOwned", "Service shop/api", "north")) == 1
    assert controller.sync_once().ok
    assert findings() == []  # unchanged: not logged again
    # A sync that cannot read the source plans nothing: nothing is "resolved".
    topology.servers["west"].add_fault(Fault(status=500, verb="list", times=100))
    controller.reconciler.invalidate()  # list again (a re-list after a 410, say)
    assert not controller.sync_once().ok
    assert findings() == []
    topology.servers["west"].faults.clear()
    topology.west.remove("Service", "shop", "api-north")
    assert controller.sync_until_idle().ok
    assert findings() == [("skip resolved", "NotOwned", "Service shop/api", "north")]


def test_a_remote_denying_while_it_restarts_keeps_its_mirrors(
    topology: Topology, tmp_path: Path
) -> None:
    """A restarted apiserver answers 403 until its RBAC caches are filled: the Link fails
    for that run, its mirrors stay exactly as they are, and the next run is clean."""
    assert once(topology, tmp_path)[0] == 0
    before = [d for d in topology.west.dump() if "east" in d["metadata"]["name"]]
    topology.servers["east"].add_fault(Fault(status=403, verb="list", times=10))
    code, logs = once(topology, tmp_path)
    assert code == 1
    failed = [r for r in logs if r["message"] == "link failed"]
    assert [r["cluster"] for r in failed] == ["east"]
    assert "403" in failed[0]["error"]
    assert [d for d in topology.west.dump() if "east" in d["metadata"]["name"]] == before
    topology.servers["east"].faults.clear()
    assert once(topology, tmp_path)[0] == 0
    topology.assert_converged()

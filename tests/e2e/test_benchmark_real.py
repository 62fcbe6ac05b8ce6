"""``benchmarks/controller.py --server real`` and the harness pieces it uses, each with
servers of its own (apart from the session's world)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshmirror_k8s.testing import HarnessError, KubeEnvironment

REPO = Path(__file__).resolve().parents[2]
EVERY_STAGE = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"


def test_the_harness_installs_a_crd_watches_and_follows_the_audit_log(
    kube_assets_dir: str,
) -> None:
    with KubeEnvironment(
        ["solo"], assets=kube_assets_dir, users=["nobody"], audit_policy=EVERY_STAGE
    ) as env:
        solo = env["solo"]
        solo.apply_crd(yaml.safe_load((REPO / "tests/e2e/link-crd.yaml").read_text()))
        links = "/apis/multicluster.linkerd.io/v1alpha3/namespaces/default/links"
        assert solo.request("GET", links).status == 200  # served at once
        events, offset = solo.audit_from()
        assert {"RequestReceived", "ResponseComplete"} <= {e["stage"] for e in events}

        path = "/api/v1/namespaces/default/services"
        version = solo.request("GET", path).body["metadata"]["resourceVersion"]
        seen: list[dict[str, Any]] = []

        def follow() -> None:
            for event in solo.watch(path, resource_version=version, timeout_seconds=30):
                seen.append(event)
                if len(seen) == 2:
                    return

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        web = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]},
        }
        solo.apply([web])
        assert solo.delete(web).status == 200
        thread.join(30)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [
            ("ADDED", "web"),
            ("DELETED", "web"),
        ]
        later, end = solo.audit_from(offset)
        assert end > offset
        assert any(e["verb"] == "watch" and e["stage"] == "ResponseStarted" for e in later)
        assert solo.audit_from(end)[1] >= end
        with pytest.raises(HarnessError, match="HTTP 403"):
            next(solo.watch(path, user="nobody"))


def test_the_controller_benchmark_runs_against_real_apiservers(kube_assets_dir: str) -> None:
    """2 linked clusters x 5 Services, one edit of each kind: every contract key, and the
    requests read from the audit logs add up."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import controller

    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/controller.py"), "--server", "real",
         "--clusters", "2", "--services", "5", "--edits", "1", "--burst", "2",
         "--resync-period", "4", "--idle-periods", "1", "--quiet", "0.5", "--timeout", "60"],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
        env={**os.environ, "KUBEBUILDER_ASSETS": kube_assets_dir},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert [k for k in controller.CONTRACT_KEYS if k not in figures] == []
    assert figures["server"].startswith("real:")
    assert figures["clusters"] == 2 and figures["services"] == 10
    assert figures["events_not_visible"] == 0 and figures["burst_not_visible"] == 0
    assert set(figures["event_visible_by_kind"]) == set(controller.EDIT_KINDS)
    assert 0 < figures["event_visible_p50_s"] <= figures["event_visible_p99_s"]
    assert figures["cold_start_s"] > 0 and figures["bare_client_create_s"] > 0
    # One create per planned object, the first sync's lists of the source and remotes.
    assert figures["cold_start_requests"]["create"] == figures["planned_objects"]
    assert figures["cold_start_requests"]["list"] > 0 and figures["cold_start_listed_bytes"] > 0
    assert set(figures["requests_per_event"]) == set(controller.VERBS)
    assert figures["requests_per_event"]["update"] > 0  # the edits were written
    assert figures["requests_per_event"]["delete"] > 0  # the unexport
    assert figures["lease_requests_per_s"] > 0
    assert figures["max_rss_bytes"] > figures["rss_start_bytes"] > 0

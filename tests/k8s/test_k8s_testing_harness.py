"""``meshmirror_k8s.testing`` without real binaries: finding them, the paths and token
file it writes, and that a failed start stops what it started and removes its files
(stand-in ``etcd`` and ``kube-apiserver`` scripts). tests/e2e runs the real ones."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from meshmirror_k8s.testing import (
    ADMIN,
    Binaries,
    Cluster,
    HarnessError,
    KubeEnvironment,
    _Process,
    _token_line,
    object_path,
)

FAKE_ETCD = f"""#!{sys.executable}
import http.server, json, sys
url = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--listen-client-urls="))
port = int(url.rsplit(":", 1)[1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"health": "true"}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""

FAKE_APISERVER = """#!/bin/sh
echo "boom: cannot start" >&2
exit 3
"""


def assets(tmp_path: Path) -> Path:
    where = tmp_path / "bin"
    where.mkdir()
    for name, text in (("etcd", FAKE_ETCD), ("kube-apiserver", FAKE_APISERVER)):
        (where / name).write_text(text)
        (where / name).chmod(0o755)
    return where


def running_from(directory: Path) -> list[int]:
    """Processes whose command line names a file under ``directory``."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline and (proc / "status").read_text().find("State:\tZ") < 0:
            out.append(int(proc.name))
    return out


def test_binaries_come_from_assets_or_kubebuilder_assets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    with pytest.raises(HarnessError, match="KUBEBUILDER_ASSETS"):
        Binaries.find()
    with pytest.raises(HarnessError, match="kube-apiserver: not an executable"):
        Binaries.find(tmp_path)
    where = assets(tmp_path)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(where))
    assert Binaries.find() == Binaries(where / "kube-apiserver", where / "etcd")


def test_object_paths() -> None:
    assert object_path({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}) == (
        "/api/v1/namespaces"
    )
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "w", "namespace": "s"}}
    assert object_path(svc, name=True) == "/api/v1/namespaces/s/services/w"
    eps = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "w", "namespace": "s"}}
    assert object_path(eps) == "/api/v1/namespaces/s/endpoints"
    policy = {"apiVersion": "x.io/v1", "kind": "Policy", "metadata": {"namespace": "s"}}
    assert object_path(policy) == "/apis/x.io/v1/namespaces/s/policies"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {}}
    assert object_path(role) == "/apis/rbac.authorization.k8s.io/v1/clusterroles"


def test_token_lines_give_groups() -> None:
    assert _token_line("t", ADMIN, "u0") == 't,admin,u0,"system:masters,system:authenticated"'
    assert _token_line("t", "alice", "u1") == 't,alice,u1,"system:authenticated"'
    sa = _token_line("t", "system:serviceaccount:ns:mirror", "u2")
    assert sa.endswith('"system:authenticated,system:serviceaccounts,system:serviceaccounts:ns"')


def test_a_failed_start_stops_everything_and_removes_its_files(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")  # nox installs it (the e2e extra); certificates
    env = KubeEnvironment(["west", "east"], assets=assets(tmp_path), timeout=20)
    with pytest.raises(HarnessError, match="exited with 3") as info:
        env.start()
    assert "boom: cannot start" in str(info.value)  # the log's tail is in the message
    assert env.directory is not None and not env.directory.exists()
    assert running_from(tmp_path) == []  # the stand-in etcd was stopped
    for cluster in env.clusters.values():
        assert not cluster.running


def test_a_with_block_cleans_up_on_an_exception(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    env = KubeEnvironment(["west"], assets=assets(tmp_path), timeout=20)
    with pytest.raises(HarnessError), env:
        pass
    assert env.directory is not None and not env.directory.exists()
    assert running_from(tmp_path) == []
    assert sorted(os.listdir(tmp_path / "bin")) == ["etcd", "kube-apiserver"]  # left alone


def test_the_audit_log_is_followed_by_offset(tmp_path: Path) -> None:
    cluster = Cluster(
        name="west",
        directory=tmp_path,
        url="https://127.0.0.1:1",
        port=1,
        ca_pem=b"",
        tokens={},
        _process=_Process("kube-apiserver west", [], tmp_path / "apiserver.log"),
    )
    assert cluster.audit_from() == ([], 0)  # no log yet
    first = json.dumps({"auditID": "a", "stage": "ResponseComplete"}) + "\n"
    cluster.audit_path.write_text(first + '{"auditID": "b", "sta')  # the second half-written
    events, offset = cluster.audit_from()
    assert [e["auditID"] for e in events] == ["a"]
    assert offset == len(first)
    with cluster.audit_path.open("a") as log:
        log.write('ge": "RequestReceived"}\n')
    events, offset = cluster.audit_from(offset)
    assert events == [{"auditID": "b", "stage": "RequestReceived"}]
    assert offset == cluster.audit_path.stat().st_size
    assert cluster.audit_from(offset) == ([], offset)
    assert [e["auditID"] for e in cluster.audit()] == ["a", "b"]


def test_the_audit_policy_can_be_replaced(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    policy = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"
    default = KubeEnvironment(["west"], assets=assets(tmp_path), timeout=20, keep=True)
    env = KubeEnvironment(
        ["west"], assets=tmp_path / "bin", timeout=20, keep=True, audit_policy=policy
    )
    try:
        for e in (default, env):
            with pytest.raises(HarnessError):
                e.start()  # the stand-in apiserver exits; keep leaves the files
        assert (env["west"].directory / "audit-policy.yaml").read_text() == policy
        written = (default["west"].directory / "audit-policy.yaml").read_text()
        assert "omitStages: [RequestReceived]" in written
    finally:
        for e in (default, env):
            if e.directory is not None:
                shutil.rmtree(e.directory, ignore_errors=True)

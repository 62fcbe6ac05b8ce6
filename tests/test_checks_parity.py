"""The checks that match ``linkerd multicluster check`` offline: link-valid,
link-credentials-secret, mirror-endpoints, orphaned-mirror (library and CLI)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from builders import EXPORTED, endpoints, link, namespace, service
from meshmirror import PlanOptions, cluster_state, plan
from meshmirror.cli import main
from meshmirror.effects.secretdump import credentials_secrets
from meshmirror.views.checks import CHECK_IDS, CheckReport, check

TOKEN = "parity-secret-token-987"


def report(
    source: list[dict[str, Any]],
    remote: list[dict[str, Any]],
    *,
    options: PlanOptions | None = None,
    secrets: list[dict[str, Any]] | None = None,
) -> CheckReport:
    src = cluster_state("west", source)
    remotes = {"remote": cluster_state("remote", remote)}
    p = plan(src, remotes, options=options)
    found = credentials_secrets(secrets) if secrets is not None else None
    return check(p, src, remotes, secrets=found)


def statuses(r: CheckReport, check_id: str) -> dict[str, tuple[str, str]]:
    return {x.subject: (x.status, x.message) for x in r.by_id(check_id)}


REMOTE = [
    namespace("ns1"),
    service("svc", "ns1", labels=EXPORTED),
    endpoints("svc", "ns1", ["10.0.0.1"]),
]
PROBE = {"path": "/ready", "port": "4191", "period": "3s"}


def with_probe(**spec: Any) -> dict[str, Any]:
    doc = link()
    doc["spec"]["probeSpec"] = {**PROBE, **spec}
    return doc


def test_new_ids_are_listed() -> None:
    for cid in ("link-valid", "link-credentials-secret", "mirror-endpoints", "orphaned-mirror"):
        assert cid in CHECK_IDS


def test_link_valid_ok() -> None:
    r = report([namespace("ns1"), with_probe()], REMOTE)
    status, message = statuses(r, "link-valid")["Link linkerd-multicluster/remote"]
    assert status == "ok"
    assert "gateway port 888" in message and "probe GET /ready on port 4191 every 3s" in message


def test_link_valid_without_probe_spec_is_ok() -> None:
    status, message = statuses(report([namespace("ns1"), link()], REMOTE), "link-valid")[
        "Link linkerd-multicluster/remote"
    ]
    assert status == "ok" and "not probed" in message


@pytest.mark.parametrize(
    ("doc", "status", "words"),
    [
        (link(port="http"), "fail", "spec.gatewayPort 'http' is not a port number"),
        (with_probe(period="3"), "warn", "probeSpec.period"),
        (with_probe(port="x"), "warn", "probeSpec.port"),
        (with_probe(failureThreshold="0"), "warn", "probeSpec.failureThreshold"),
        (link(selector={}, rd_selector={}, fed_selector={}), "warn", "mirrors nothing"),
    ],
)
def test_link_valid_problems(doc: dict[str, Any], status: str, words: str) -> None:
    got, message = statuses(report([namespace("ns1"), doc], REMOTE), "link-valid")[
        "Link linkerd-multicluster/remote"
    ]
    assert got == status and words in message


def kubeconfig(**user: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://remote:6443"}}],
            "users": [{"name": "u", "user": user or {"token": TOKEN}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )


def secret(data: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in (data or {}).items()}
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "mirror.linkerd.io/remote-kubeconfig",
        "metadata": {"name": "cluster-credentials-remote", "namespace": "linkerd-multicluster"},
        "data": encoded,
    }
    doc.update(extra)
    return doc


@pytest.mark.parametrize(
    ("secrets", "status", "words"),
    [
        ([secret({"kubeconfig": kubeconfig()})], "ok", "holds a kubeconfig for https://remote:6443"),
        ([], "fail", "is not in the source dump"),
        ([secret({"config": kubeconfig()})], "fail", "has no 'kubeconfig' key (it has config)"),
        ([secret() | {"data": {"kubeconfig": "%%%"}}], "fail", "not base64"),
        ([secret({"kubeconfig": "a: [b"})], "fail", "is not YAML"),
        ([secret({"kubeconfig": "[1, 2]"})], "fail", "is not a mapping"),
        ([secret({"kubeconfig": kubeconfig().replace("https://remote:6443", "''")})], "fail",
         "has no server"),
        ([secret({"kubeconfig": kubeconfig(exec={"command": "x"})})], "warn", "exec"),
        ([secret({"kubeconfig": kubeconfig()}, type="Opaque")], "warn", "its type is 'Opaque'"),
    ],
)  # fmt: skip
def test_credentials_secret(secrets: list[dict[str, Any]], status: str, words: str) -> None:
    r = report([namespace("ns1"), link()], REMOTE, secrets=secrets)
    got, message = statuses(r, "link-credentials-secret")["Link linkerd-multicluster/remote"]
    assert got == status and words in message
    assert TOKEN not in message


def test_credentials_secret_not_checked_without_secrets() -> None:
    assert report([namespace("ns1"), link()], REMOTE).by_id("link-credentials-secret") == ()


def test_mirror_endpoints() -> None:
    ok = report([namespace("ns1"), link()], REMOTE)
    assert statuses(ok, "mirror-endpoints")["Service ns1/svc-remote"][0] == "ok"
    empty = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED), endpoints("svc", "ns1", [])]
    assert (
        statuses(report([namespace("ns1"), link()], empty), "mirror-endpoints")[
            "Service ns1/svc-remote"
        ][0]
        == "warn"
    )
    dead = report([namespace("ns1"), link()], REMOTE, options=PlanOptions(dead_gateways={"remote"}))
    assert statuses(dead, "mirror-endpoints")["Service ns1/svc-remote"][0] == "warn"


def test_orphaned_mirror() -> None:
    orphan = service(
        "old-gone",
        "ns1",
        labels={
            "mirror.linkerd.io/mirrored-service": "true",
            "mirror.linkerd.io/cluster-name": "gone",
        },
    )
    r = report([namespace("ns1"), link(), orphan], REMOTE)
    assert statuses(r, "orphaned-mirror") == {
        "Service ns1/old-gone": (
            "warn",
            "is a mirror from cluster 'gone', which no Link targets any more; the meshmirror "
            "controller deletes it (and its Endpoints), Linkerd's leaves it behind",
        )
    }


def test_cli_reads_secrets_from_the_source_dump(tmp_path: Path) -> None:
    west = tmp_path / "west"
    west.mkdir()
    (west / "a.yaml").write_text(
        yaml.safe_dump_all([namespace("ns1"), namespace("linkerd-multicluster"), link()])
    )
    (west / "b.yaml").write_text(yaml.safe_dump(secret({"kubeconfig": kubeconfig()})))
    remote = tmp_path / "remote.yaml"
    remote.write_text(yaml.safe_dump_all(REMOTE))
    out, err = io.StringIO(), io.StringIO()
    main(["check", "--source", "west", f"west={west}", f"remote={remote}", "-o", "json"],
         out=out, err=err)  # fmt: skip
    doc = json.loads(out.getvalue())
    found = {(c["id"], c["status"]) for c in doc["checks"]}
    assert ("link-credentials-secret", "ok") in found and ("link-valid", "ok") in found
    assert TOKEN not in out.getvalue() + err.getvalue()

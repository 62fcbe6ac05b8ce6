"""``meshmirror link`` prints what ``linkerd multicluster link-gen`` prints, field for field
(the expected objects are written from linkerd2's link-gen.go and the Link types), and
``meshmirror unlink`` what to delete."""

from __future__ import annotations

import base64
import io
from typing import Any

import yaml

from meshmirror import __version__
from meshmirror.cli import main as meshmirror_main
from meshmirror_k8s.cli import link_main, unlink_main
from meshmirror_k8s.rbac import (
    LINKERD_DESTINATION_RULES,
    REMOTE_ACCESS_RULES,
    rule_triples,
    rules_from_manifest,
)

TOKEN = "link-gen-shape-token-42"
BASE = ["--cluster-name", "east", "--api-server", "https://east.example:6443", "--token", TOKEN]
IDENTITY = "linkerd-gateway.linkerd-multicluster.serviceaccount.identity.linkerd.cluster.local"
GATEWAY = ["--gateway-addresses", "192.0.2.10", "--gateway-port", "4143",
           "--gateway-identity", IDENTITY]  # fmt: skip


def run(main: Any, *argv: str) -> tuple[int, list[dict[str, Any]], str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    docs = [d for d in yaml.safe_load_all(out.getvalue()) if d] if code == 0 else []
    return code, docs, out.getvalue(), err.getvalue()


def without_data(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "data"}


def test_source_documents_match_link_gen() -> None:
    code, docs, _, err = run(link_main, *BASE, *GATEWAY, "--print", "source")
    assert code == 0, err
    creds, destination, link = docs
    # getCreds(kubeconfig, name, namespace, nil, nil): no labels, no annotations.
    assert without_data(creds) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "creationTimestamp": None,
            "name": "cluster-credentials-east",
            "namespace": "linkerd-multicluster",
        },
        "type": "mirror.linkerd.io/remote-kubeconfig",
    }
    # The destination controller's copy, in the control-plane namespace.
    assert without_data(destination) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "annotations": {
                "multicluster.linkerd.io/cluster-domain": "cluster.local",
                "multicluster.linkerd.io/trust-domain": "cluster.local",
            },
            "creationTimestamp": None,
            "labels": {"multicluster.linkerd.io/cluster-name": "east"},
            "name": "cluster-credentials-east",
            "namespace": "linkerd",
        },
        "type": "mirror.linkerd.io/remote-kubeconfig",
    }
    assert set(creds["data"]) == set(destination["data"]) == {"kubeconfig"}
    assert creds["data"] == destination["data"]
    inner = yaml.safe_load(base64.b64decode(creds["data"]["kubeconfig"]))
    assert inner["users"][0]["user"] == {"token": TOKEN}
    # getLink against a default gateway (probe annotations: /ready, mc-probe 4191, "3").
    assert link == {
        "apiVersion": "multicluster.linkerd.io/v1alpha3",
        "kind": "Link",
        "metadata": {
            "annotations": {"linkerd.io/created-by": f"meshmirror {__version__}"},
            "creationTimestamp": None,
            "name": "east",
            "namespace": "linkerd-multicluster",
        },
        "spec": {
            "targetClusterName": "east",
            "targetClusterDomain": "cluster.local",
            "targetClusterLinkerdNamespace": "linkerd",
            "clusterCredentialsSecret": "cluster-credentials-east",
            "gatewayAddress": "192.0.2.10",
            "gatewayPort": "4143",
            "gatewayIdentity": GATEWAY[-1],
            "probeSpec": {"path": "/ready", "port": "4191", "period": "3s"},
            "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}},
            "remoteDiscoverySelector": {
                "matchLabels": {"mirror.linkerd.io/exported": "remote-discovery"}
            },
            "federatedServiceSelector": {"matchLabels": {"mirror.linkerd.io/federated": "member"}},
        },
        "status": {},
    }


def test_gatewayless_link_matches_link_gen() -> None:
    code, docs, _, err = run(link_main, *BASE, "--gateway=false", "--print", "source")
    assert code == 0, err
    spec = docs[2]["spec"]
    # No gateway fields, no selector, and the empty probeSpec struct Go prints.
    assert spec == {
        "targetClusterName": "east",
        "targetClusterDomain": "cluster.local",
        "targetClusterLinkerdNamespace": "linkerd",
        "clusterCredentialsSecret": "cluster-credentials-east",
        "probeSpec": {},
        "remoteDiscoverySelector": {
            "matchLabels": {"mirror.linkerd.io/exported": "remote-discovery"}
        },
        "federatedServiceSelector": {"matchLabels": {"mirror.linkerd.io/federated": "member"}},
    }


def test_domains_namespaces_and_probe_flags() -> None:
    code, docs, _, err = run(
        link_main, *BASE, *GATEWAY, "--print", "source", "--linkerd-namespace", "l5d",
        "--trust-domain", "example.org", "--cluster-domain", "east.local",
        "--probe-period", "90", "--probe-timeout", "5s", "--probe-failure-threshold", "4",
    )  # fmt: skip
    assert code == 0, err
    destination, link = docs[1], docs[2]
    assert destination["metadata"]["namespace"] == "l5d"
    assert destination["metadata"]["annotations"] == {
        "multicluster.linkerd.io/cluster-domain": "east.local",
        "multicluster.linkerd.io/trust-domain": "example.org",
    }
    assert link["spec"]["targetClusterDomain"] == "east.local"
    assert link["spec"]["probeSpec"] == {
        "path": "/ready",
        "port": "4191",
        "period": "1m30s",  # an integer period, as link-gen converts it
        "timeout": "5s",
        "failureThreshold": "4",
    }


def test_bad_probe_flags_are_errors() -> None:
    for flag, value in (
        ("--probe-period", "soon"),
        ("--probe-port", "x"),
        ("--probe-failure-threshold", "0"),
        ("--probe-path", "ready"),
    ):
        code, _, out, err = run(link_main, *BASE, *GATEWAY, flag, value)
        assert code == 2 and out == "" and err.startswith("error: ") and flag in err


def test_destination_access_is_separate_and_behind_a_flag() -> None:
    code, docs, _, _ = run(link_main, *BASE, "--gateway=false", "--print", "target")
    assert code == 0
    roles = [d for d in docs if d["kind"] == "ClusterRole"]
    assert len(roles) == 1
    assert rule_triples(rules_from_manifest(roles[0])) == rule_triples(REMOTE_ACCESS_RULES)
    code, docs, _, _ = run(
        link_main, *BASE, "--gateway=false", "--print", "target", "--linkerd-destination-access"
    )
    assert code == 0
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    dest = roles["meshmirror-remote-access-linkerd-destination"]
    # Linkerd's remote-access ClusterRole, less the service mirror's Events.
    assert dest["rules"] == [
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list", "get", "watch"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "get", "watch"]},
        {
            "apiGroups": [""],
            "resources": ["pods", "endpoints", "services"],
            "verbs": ["list", "get", "watch"],
        },
        {
            "apiGroups": ["discovery.k8s.io"],
            "resources": ["endpointslices"],
            "verbs": ["list", "get", "watch"],
        },
        {
            "apiGroups": ["policy.linkerd.io"],
            "resources": ["servers"],
            "verbs": ["list", "get", "watch"],
        },
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["linkerd-config"],
            "verbs": ["get"],
        },
    ]
    assert rules_from_manifest(dest) == list(LINKERD_DESTINATION_RULES)
    binding = next(
        d
        for d in docs
        if d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"] == dest["metadata"]["name"]
    )
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "meshmirror-remote-access",
            "namespace": "linkerd-multicluster",
        }
    ]


def test_unlink_prints_what_to_delete() -> None:
    code, docs, text, err = run(
        unlink_main, "--cluster-name", "east", "--linkerd-destination-access"
    )
    assert code == 0, err
    refs = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert refs == [
        ("Link", "linkerd-multicluster", "east"),
        ("Secret", "linkerd-multicluster", "cluster-credentials-east"),
        ("Secret", "linkerd", "cluster-credentials-east"),
        ("ServiceAccount", "linkerd-multicluster", "meshmirror-remote-access"),
        ("Secret", "linkerd-multicluster", "meshmirror-remote-access-token"),
        ("ClusterRole", None, "meshmirror-remote-access"),
        ("ClusterRoleBinding", None, "meshmirror-remote-access"),
        ("ClusterRole", None, "meshmirror-remote-access-linkerd-destination"),
        ("ClusterRoleBinding", None, "meshmirror-remote-access-linkerd-destination"),
    ]
    assert "controller deletes that Link's mirrors itself" in text
    assert all(set(d) == {"apiVersion", "kind", "metadata"} for d in docs)


def test_unlink_deletes_what_link_made() -> None:
    """Every object `link` prints (both sides) is named by `unlink` with the same flags."""
    flags = ["--linkerd-namespace", "l5d", "--linkerd-destination-access"]
    _, made, _, _ = run(link_main, *BASE, *GATEWAY, *flags)
    _, gone, _, _ = run(unlink_main, "--cluster-name", "east", *flags)

    def key(d: dict[str, Any]) -> tuple[str, str, str | None, str]:
        return (d["apiVersion"], d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])

    assert sorted(map(key, made)) == sorted(map(key, gone))


def test_unlink_bad_input_and_delegation() -> None:
    code, _, out, err = run(unlink_main, "--cluster-name", "East_1")
    assert code == 2 and out == "" and err.startswith("error: ")
    code, _, _, err = run(unlink_main)
    assert code == 2 and "--cluster-name" in err
    import contextlib

    out_io = io.StringIO()
    with contextlib.redirect_stdout(out_io):
        assert meshmirror_main(["unlink", "--cluster-name", "east", "--print", "source"]) == 0
    assert "kind: Link" in out_io.getvalue()

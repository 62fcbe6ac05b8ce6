"""``meshmirror link``: the Link, its credentials Secret and the remote-access RBAC."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_helpers import kubeconfig

from meshmirror import LINKERD
from meshmirror.cli import main as meshmirror_main
from meshmirror.formats.manifest import from_manifest
from meshmirror.values.model import Link
from meshmirror_k8s.cli import link_main
from meshmirror_k8s.credentials import credentials_from_secret
from meshmirror_k8s.rbac import REMOTE_ACCESS_RULES, rule_triples, rules_from_manifest

TOKEN = "link-cli-token-0123456789"
GATEWAY = ["--gateway-addresses", "192.0.2.10,192.0.2.11", "--gateway-port", "4143",
           "--gateway-identity", "gateway.east.example"]  # fmt: skip


def run(*argv: str) -> tuple[int, list[dict[str, Any]], str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = link_main(list(argv), out=out, err=err)
    docs = [d for d in yaml.safe_load_all(out.getvalue()) if d] if code == 0 else []
    return code, docs, out.getvalue(), err.getvalue()


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {(d["kind"] if d["kind"] != "Secret" else f"Secret/{d['type']}"): d for d in docs}


def test_defaults_like_linkerd_multicluster_link() -> None:
    code, docs, _, err = run(
        "--cluster-name",
        "east",
        "--api-server",
        "https://east.example:6443",
        "--token",
        TOKEN,
        *GATEWAY,
    )
    assert code == 0, err
    kinds = by_kind(docs)
    link = kinds["Link"]
    assert link["apiVersion"] == "multicluster.linkerd.io/v1alpha3"
    assert link["metadata"]["namespace"] == LINKERD.link_namespace
    spec = link["spec"]
    assert spec["targetClusterName"] == "east"
    assert spec["selector"] == {"matchLabels": {LINKERD.export_label: "true"}}
    assert spec["remoteDiscoverySelector"] == {
        "matchLabels": {LINKERD.export_label: "remote-discovery"}
    }
    assert spec["federatedServiceSelector"] == {"matchLabels": {LINKERD.federated_label: "member"}}
    assert (spec["gatewayAddress"], spec["gatewayPort"], spec["gatewayIdentity"]) == (
        "192.0.2.10,192.0.2.11",
        "4143",
        "gateway.east.example",
    )
    assert isinstance(from_manifest(link), Link)  # the core reads it back
    secret = kinds[f"Secret/{LINKERD.credentials_secret_type}"]
    assert secret["metadata"]["name"] == spec["clusterCredentialsSecret"]
    creds = credentials_from_secret(secret, link="east")
    assert creds.server == "https://east.example:6443" and creds.token == TOKEN
    # For the target cluster: read-only access, exactly the adapter's rules.
    role = kinds["ClusterRole"]
    assert rule_triples(rules_from_manifest(role)) == rule_triples(REMOTE_ACCESS_RULES)
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert set(rule["verbs"]) <= {"get", "list", "watch"}
        assert "secrets" not in rule["resources"]
    binding = kinds["ClusterRoleBinding"]
    sa = kinds["ServiceAccount"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": sa["metadata"]["name"],
            "namespace": sa["metadata"]["namespace"],
        }
    ]
    assert TOKEN not in err


def test_gateway_false_leaves_the_selector_unset() -> None:
    code, docs, _, err = run(
        "--cluster-name", "north", "--gateway=false", "--api-server", "http://n:1", "--token", TOKEN
    )
    assert code == 0, err
    spec = by_kind(docs)["Link"]["spec"]
    assert "selector" not in spec and "gatewayAddress" not in spec
    assert "remoteDiscoverySelector" in spec


def test_custom_selectors_and_exclusions() -> None:
    code, docs, _, _ = run(
        "--cluster-name", "east", "--api-server", "http://e:1", "--token", TOKEN, *GATEWAY,
        "--selector", "tier in (web, api), !internal", "--excluded-labels", "a, b",
    )  # fmt: skip
    assert code == 0
    spec = by_kind(docs)["Link"]["spec"]
    assert spec["selector"]["matchExpressions"]
    assert spec["excludedLabels"] == ["a", "b"]


def test_kubeconfig_of_the_target(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    )
    path = tmp_path / "east.kubeconfig"
    path.write_text(
        kubeconfig("https://east:6443", TOKEN).replace(
            "server: https://east:6443",
            "server: https://east:6443\n    certificate-authority: ca.pem",
        )
    )
    code, docs, _, err = run(
        "--cluster-name", "east", "--kubeconfig", str(path), *GATEWAY, "--print", "source"
    )
    assert code == 0, err
    assert {d["kind"] for d in docs} == {"Secret", "Link"}
    secret = by_kind(docs)[f"Secret/{LINKERD.credentials_secret_type}"]
    inner = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    cluster = inner["clusters"][0]["cluster"]
    assert cluster["server"] == "https://east:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]).startswith(b"-----BEGIN")
    assert inner["users"][0]["user"] == {"token": TOKEN}  # nothing else: no files, no exec


def test_print_target_only() -> None:
    code, docs, text, _ = run("--cluster-name", "east", "--gateway=false", "--print", "target")
    assert code == 0
    assert {d["kind"] for d in docs} == {
        "ServiceAccount",
        "Secret",
        "ClusterRole",
        "ClusterRoleBinding",
    }
    assert "kubeconfig" not in text


NO_GW = ("--cluster-name", "east", "--gateway=false")
CREDS = ("--api-server", "http://e", "--token", "t")


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        ((), "--cluster-name"),
        (("--cluster-name", "East_1", "--gateway=false", *CREDS), "East_1"),
        ((*NO_GW, "--token", "t"), "--api-server"),
        ((*NO_GW, "--api-server", "http://e"), "token"),
        (("--cluster-name", "east", *CREDS), "--gateway-addresses"),
        (("--cluster-name", "east", "--gateway=maybe"), "true or false"),
        ((*NO_GW, *CREDS, "--remote-discovery-selector", "a in ("), "--remote-discovery-selector"),
        ((*NO_GW, "--kubeconfig", "/nonexistent/kc"), "/nonexistent/kc"),
    ],
)
def test_bad_input_is_an_error_and_exit_2(argv: tuple[str, ...], problem: str) -> None:
    code, _, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and problem in err
    assert "Traceback" not in err


def test_exec_kubeconfig_is_refused_without_leaking(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text(
        kubeconfig("https://e:1", TOKEN, user={"exec": {"command": "get-token"}, "token": TOKEN})
    )
    code, _, _, err = run("--cluster-name", "east", "--kubeconfig", str(path), "--gateway=false")
    assert code == 2 and "exec" in err and TOKEN not in err


def test_meshmirror_link_delegates() -> None:
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = meshmirror_main(
            ["link", "--cluster-name", "east", "--gateway=false", "--print", "target"]
        )
    assert code == 0
    assert "ClusterRole" in out.getvalue()

"""Credentials: built from the Secret alone, refusals named, secrets never shown."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from k8s_helpers import credentials_secret, kubeconfig, ns, svc
from kube_server import KubeServer

from meshmirror.effects.backends.memory import FakeCluster
from meshmirror_k8s import credentials as creds_module
from meshmirror_k8s.backend import KubernetesBackend, Unauthorized
from meshmirror_k8s.credentials import (
    CredentialPolicy,
    CredentialsError,
    api_client,
    credentials_from_secret,
    parse_kubeconfig,
    source_api_client,
)
from meshmirror_k8s.logs import configure

TOKEN = "sekrit-token-0123456789abcdef"
SERVER = "http://127.0.0.1:6443"


@pytest.mark.parametrize(
    ("user", "cluster", "mechanism"),
    [
        ({"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}}, {}, "exec"),
        ({"auth-provider": {"name": "gcp"}}, {}, "auth-provider"),
        ({"tokenFile": "/var/run/token"}, {}, "tokenFile"),
        ({"client-certificate": "c.pem", "client-key-data": "eA=="}, {}, "client-certificate"),
        ({"client-certificate-data": "eA==", "client-key": "k.pem"}, {}, "client-key"),
        ({"token": TOKEN}, {"certificate-authority": "/etc/ca.pem"}, "certificate-authority"),
        ({"username": "admin", "password": "hunter2hunter2"}, {}, "basic-auth"),
        ({"token": TOKEN, "as": "system:admin"}, {}, "impersonation"),
    ],
)
def test_refused_mechanisms_are_named_with_the_link(
    user: dict, cluster: dict, mechanism: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = kubeconfig(SERVER, TOKEN, user=user)
    if cluster:
        doc = doc.replace(
            f"server: {SERVER}",
            f"server: {SERVER}\n    " + "\n    ".join(f"{k}: {v}" for k, v in cluster.items()),
        )
    built: list[object] = []
    monkeypatch.setattr(creds_module, "ApiClient", lambda *a, **k: built.append(a))
    monkeypatch.setattr(creds_module, "Configuration", lambda *a, **k: built.append(a))
    secret = credentials_secret("cluster-credentials-east", doc)
    with pytest.raises(CredentialsError) as err:
        credentials_from_secret(secret, link="linkerd-multicluster/east")
    assert err.value.mechanism == mechanism
    assert err.value.link == "linkerd-multicluster/east"
    assert mechanism in str(err.value) and "linkerd-multicluster/east" in str(err.value)
    assert built == []  # refused before any client existed
    assert TOKEN not in str(err.value) and "hunter2" not in str(err.value)


def test_explicitly_allowed_file_references(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    doc = kubeconfig(SERVER, TOKEN, user={"tokenFile": "token"})
    creds = parse_kubeconfig(
        doc, link="east", policy=CredentialPolicy(allow_files=True), base_dir=str(tmp_path)
    )
    client = api_client(creds)
    assert client.configuration.api_key == {"BearerToken": TOKEN}


def test_inline_data_and_http_servers_are_accepted() -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    doc = kubeconfig(SERVER, TOKEN).replace(
        f"server: {SERVER}", f"server: {SERVER}\n    certificate-authority-data: {ca.decode()}"
    )
    creds = parse_kubeconfig(doc, link="east")
    assert creds.server == SERVER and creds.ca_data and creds.ca_data.startswith(b"-----BEGIN")
    cfg = api_client(creds).configuration
    assert cfg.host == SERVER
    assert cfg.get_api_key_with_prefix("BearerToken") == f"Bearer {TOKEN}"
    assert TOKEN not in repr(creds) and TOKEN not in str(creds)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid YAML"),
        ("[]", "not a mapping"),
        ("contexts: []", "no current-context"),
        (kubeconfig("ftp://x", TOKEN), r"http\(s\) URL"),
        (kubeconfig(SERVER, TOKEN).replace("current-context: x", "current-context: y"), "'y'"),
    ],
    ids=["yaml", "mapping", "context", "scheme", "missing-context"],
)
def test_malformed_kubeconfigs(text: str, problem: str) -> None:
    with pytest.raises(CredentialsError, match=problem) as err:
        parse_kubeconfig(text, link="east")
    assert err.value.mechanism == "malformed"


def test_a_secret_without_the_key() -> None:
    secret = credentials_secret("creds", "x")
    secret["data"] = {"config": secret["data"]["kubeconfig"]}
    with pytest.raises(CredentialsError, match="no data key 'kubeconfig'"):
        credentials_from_secret(secret, link="ns/east")


def test_clients_ignore_kubeconfig_env_home_and_proxies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$KUBECONFIG, ~/.kube/config and *_proxy all point somewhere wrong: unused."""
    cluster = FakeCluster.from_manifests("east", [ns("shop"), svc("web")])
    decoy = tmp_path / "decoy"
    (decoy / ".kube").mkdir(parents=True)
    (decoy / ".kube" / "config").write_text(kubeconfig("http://127.0.0.1:9", "decoy-token-xxxxx"))
    monkeypatch.setenv("HOME", str(decoy))
    monkeypatch.setenv("KUBECONFIG", str(decoy / ".kube" / "config"))
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with KubeServer(cluster, token=TOKEN) as server:
        secret = credentials_secret("creds", kubeconfig(server.url, TOKEN))
        client = api_client(credentials_from_secret(secret, link="ns/east"))
        assert client.configuration.proxy in ("", None)
        names = [
            s["metadata"]["name"] for s in KubernetesBackend("east", client).list("Service").items
        ]
        assert names == ["web"]
        path = tmp_path / "west.kubeconfig"
        path.write_text(kubeconfig(server.url, TOKEN))
        source = KubernetesBackend("west", source_api_client(path))
        assert [s["metadata"]["name"] for s in source.list("Service").items] == ["web"]
        assert {r.token for r in server.recorded()} == {TOKEN}


def test_secrets_never_reach_logs_or_output(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every credentials path, logged at DEBUG: no token, no kubeconfig blob anywhere."""
    cluster = FakeCluster.from_manifests("east", [ns("shop"), svc("web")])
    with caplog.at_level(logging.DEBUG), KubeServer(cluster, token=TOKEN) as server:
        secret = credentials_secret("creds", kubeconfig(server.url, TOKEN))
        blob = secret["data"]["kubeconfig"]
        creds = credentials_from_secret(secret, link="ns/east")
        backend = KubernetesBackend("east", api_client(creds))
        backend.list("Service")
        with pytest.raises(Unauthorized) as unauthorized:
            KubernetesBackend(
                "east",
                api_client(parse_kubeconfig(kubeconfig(server.url, "wrong-token-zzzz"), link="x")),
            ).list("Service")
        with pytest.raises(CredentialsError) as refused:
            credentials_from_secret(
                credentials_secret(
                    "creds", kubeconfig(SERVER, TOKEN, user={"exec": {"command": TOKEN}})
                ),
                link="ns/east",
            )
        logging.getLogger("meshmirror_k8s").info("credentials %r", creds)
    out = capsys.readouterr()
    written = caplog.text + out.out + out.err + str(refused.value) + str(unauthorized.value)
    assert TOKEN not in written and blob not in written


def test_the_json_log_handler_redacts_registered_secrets() -> None:
    """Defence in depth: even a careless log call through our handler is scrubbed."""
    import io

    stream = io.StringIO()
    log = configure(level="DEBUG", stream=stream, fmt="json", logger_name="meshmirror_k8s.t1")
    credentials_from_secret(credentials_secret("creds", kubeconfig(SERVER, TOKEN)), link="ns/e")
    log.warning("careless %s", TOKEN, extra={"peek": TOKEN})
    assert TOKEN not in stream.getvalue()
    assert stream.getvalue().count("[redacted]") == 2

"""Clients for linked clusters, built only from a Link's credentials Secret.

A credentials Secret (Linkerd's ``cluster-credentials-<target>``, type
``mirror.linkerd.io/remote-kubeconfig``) holds a kubeconfig under the data key
``kubeconfig``. :func:`credentials_from_secret` reads it into
:class:`ClusterCredentials`, checking every mechanism against a
:class:`CredentialPolicy` *before* any client exists; :func:`api_client` then builds an
``ApiClient`` from those values alone. Nothing here reads ``~/.kube/config``,
``$KUBECONFIG``, in-cluster files or proxy variables.

Refused unless the policy allows them: ``exec`` (runs a command), ``auth-provider``
(vendor plugins), and local file references (``tokenFile``, ``client-certificate``,
``client-key``, ``certificate-authority``). Always refused: basic auth and impersonation
(the official client cannot send them). The error names the mechanism and the Link, never
a token or a key; :class:`ClusterCredentials` hides them from ``repr``.

>>> kubeconfig = '''
... apiVersion: v1
... kind: Config
... clusters: [{name: east, cluster: {server: "http://127.0.0.1:6443"}}]
... users: [{name: mirror, user: {token: s3cret}}]
... contexts: [{name: east, context: {cluster: east, user: mirror}}]
... current-context: east
... '''
>>> creds = parse_kubeconfig(kubeconfig, link="east")
>>> creds.server, "s3cret" in repr(creds)
('http://127.0.0.1:6443', False)
>>> try:
...     parse_kubeconfig(kubeconfig.replace("{token: s3cret}", "{exec: {command: aws}}"),
...                      link="east")
... except CredentialsError as err:
...     print(err.mechanism, "|", err)  # doctest: +NORMALIZE_WHITESPACE
exec | link 'east': kubeconfig user 'mirror' uses exec (runs a local command);
       refused (allow it explicitly: --allow-exec)
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from kubernetes.client import ApiClient, Configuration

from meshmirror import LINKERD
from meshmirror.backends import Manifest
from meshmirror_k8s.logs import redact

__all__ = [
    "ClusterCredentials",
    "CredentialPolicy",
    "CredentialsError",
    "api_client",
    "credentials_from_secret",
    "parse_kubeconfig",
    "source_api_client",
]


class CredentialsError(ValueError):
    """A kubeconfig that is refused or unreadable. ``mechanism`` names what was refused
    (``exec``, ``auth-provider``, ``tokenFile``, ...) or ``malformed``; ``link`` the Link."""

    def __init__(self, link: str, mechanism: str, message: str) -> None:
        self.link = link
        self.mechanism = mechanism
        super().__init__(f"link {link!r}: {message}")


@dataclass(frozen=True)
class CredentialPolicy:
    """What a credentials kubeconfig may use beyond inline tokens and certificates."""

    allow_exec: bool = False
    allow_auth_provider: bool = False
    allow_files: bool = False


@dataclass(frozen=True, repr=False)
class ClusterCredentials:
    """How to reach one cluster. Secrets are kept out of ``repr`` and ``str``."""

    server: str
    token: str | None = None
    ca_data: bytes | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    # When exec or auth-provider was allowed: the raw kubeconfig, loaded by the official
    # loader (never printed).
    delegated: Mapping[str, Any] | None = field(default=None, compare=False)
    base_dir: str | None = None
    context: str | None = None

    def __repr__(self) -> str:
        auth = (
            "delegated"
            if self.delegated is not None
            else "token"
            if self.token or self.token_file
            else "client-certificate"
            if self.cert_data or self.cert_file
            else "none"
        )
        return f"ClusterCredentials(server={self.server!r}, auth={auth})"

    __str__ = __repr__


_REFUSED_HINT = {
    "exec": "--allow-exec",
    "auth-provider": "--allow-auth-provider",
    "files": "--allow-file-references",
}


def _refuse(link: str, mechanism: str, what: str, hint: str) -> CredentialsError:
    return CredentialsError(
        link,
        mechanism,
        f"{what} uses {mechanism}"
        + {
            "exec": " (runs a local command)",
            "auth-provider": " (a client-side auth plugin)",
        }.get(mechanism, " (a local file reference)")
        + f"; refused (allow it explicitly: {_REFUSED_HINT[hint]})",
    )


def _malformed(link: str, message: str) -> CredentialsError:
    return CredentialsError(link, "malformed", f"kubeconfig: {message}")


def _named(doc: Mapping[str, Any], key: str, name: str, inner: str, link: str) -> dict[str, Any]:
    entries = doc.get(key)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise _malformed(link, f"{key} must be a list")
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get(inner)
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise _malformed(link, f"{key} entry {name!r}: {inner} must be a mapping")
            return dict(value)
    raise _malformed(link, f"no {key[:-1]} named {name!r}")


def _decode(value: Any, link: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise _malformed(link, f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise _malformed(link, f"{what} is not valid base64") from None


def parse_kubeconfig(
    text: str | bytes,
    *,
    link: str,
    policy: CredentialPolicy = CredentialPolicy(),
    context: str | None = None,
    base_dir: str | None = None,
) -> ClusterCredentials:
    """Read a kubeconfig's current (or named) context, refusing what ``policy`` forbids.

    Raises :class:`CredentialsError` naming the mechanism and ``link``. No file is read
    and no client is built here.
    """
    redact(text if isinstance(text, str) else text.decode("utf-8", "replace"))
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        # The parser's message quotes the text: never show it (it may hold a token).
        raise _malformed(link, "not valid YAML") from None
    if not isinstance(doc, Mapping):
        raise _malformed(link, "not a mapping")
    ctx_name = context or doc.get("current-context")
    contexts = doc.get("contexts") or []
    if not ctx_name:
        if isinstance(contexts, list) and len(contexts) == 1 and isinstance(contexts[0], Mapping):
            ctx_name = contexts[0].get("name")
        if not ctx_name:
            raise _malformed(link, "no current-context (and not exactly one context)")
    if not isinstance(ctx_name, str):
        raise _malformed(link, "current-context must be a string")
    ctx = _named(doc, "contexts", ctx_name, "context", link)
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if not isinstance(cluster_name, str) or not cluster_name:
        raise _malformed(link, f"context {ctx_name!r} names no cluster")
    cluster = _named(doc, "clusters", cluster_name, "cluster", link)
    user: dict[str, Any] = {}
    if user_name:
        if not isinstance(user_name, str):
            raise _malformed(link, f"context {ctx_name!r}: user must be a string")
        user = _named(doc, "users", user_name, "user", link)
    who = f"kubeconfig user {user_name!r}"
    where = f"kubeconfig cluster {cluster_name!r}"

    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise _malformed(link, f"cluster {cluster_name!r} has no server")
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _malformed(link, f"cluster {cluster_name!r}: server must be an http(s) URL")

    delegated = False
    if user.get("exec") is not None:
        if not policy.allow_exec:
            raise _refuse(link, "exec", who, "exec")
        delegated = True
    if user.get("auth-provider") is not None:
        if not policy.allow_auth_provider:
            raise _refuse(link, "auth-provider", who, "auth-provider")
        delegated = True
    for key in ("username", "password"):
        if user.get(key):
            raise CredentialsError(
                link, "basic-auth", f"{who} uses basic-auth ({key}); not supported, use a token"
            )
    for key in ("as", "as-groups", "as-uid", "as-user-extra"):
        if user.get(key):
            raise CredentialsError(
                link, "impersonation", f"{who} uses impersonation ({key}); not supported"
            )
    for what, section, key in (
        (who, user, "tokenFile"),
        (who, user, "client-certificate"),
        (who, user, "client-key"),
        (where, cluster, "certificate-authority"),
    ):
        if section.get(key) and not policy.allow_files:
            raise _refuse(link, key, what, "files")

    def path(value: Any, what: str) -> str | None:
        if not value:
            return None
        if not isinstance(value, str):
            raise _malformed(link, f"{what} must be a path")
        p = Path(value)
        if not p.is_absolute() and base_dir is not None:
            p = Path(base_dir) / p
        return str(p)

    token = user.get("token")
    if token is not None and not isinstance(token, str):
        raise _malformed(link, f"{who}: token must be a string")
    redact(token)
    redact(user.get("client-key-data"))
    redact(user.get("password"))
    insecure = cluster.get("insecure-skip-tls-verify", False)
    if not isinstance(insecure, bool):
        raise _malformed(link, f"{where}: insecure-skip-tls-verify must be true or false")
    proxy = cluster.get("proxy-url")
    if proxy is not None and not isinstance(proxy, str):
        raise _malformed(link, f"{where}: proxy-url must be a string")
    tls_name = cluster.get("tls-server-name")
    if tls_name is not None and not isinstance(tls_name, str):
        raise _malformed(link, f"{where}: tls-server-name must be a string")
    return ClusterCredentials(
        server=server.rstrip("/"),
        token=token or None,
        ca_data=_decode(cluster["certificate-authority-data"], link, "certificate-authority-data")
        if cluster.get("certificate-authority-data")
        else None,
        cert_data=_decode(user["client-certificate-data"], link, "client-certificate-data")
        if user.get("client-certificate-data")
        else None,
        key_data=_decode(user["client-key-data"], link, "client-key-data")
        if user.get("client-key-data")
        else None,
        ca_file=path(cluster.get("certificate-authority"), "certificate-authority"),
        cert_file=path(user.get("client-certificate"), "client-certificate"),
        key_file=path(user.get("client-key"), "client-key"),
        token_file=path(user.get("tokenFile"), "tokenFile"),
        insecure_skip_tls_verify=insecure,
        tls_server_name=tls_name or None,
        proxy_url=proxy or None,
        delegated=dict(doc) if delegated else None,
        base_dir=base_dir,
        context=ctx_name,
    )


def credentials_from_secret(
    secret: Manifest, *, link: str, policy: CredentialPolicy = CredentialPolicy()
) -> ClusterCredentials:
    """The credentials in a Link's Secret (data key ``kubeconfig``, base64 as served)."""
    meta = secret.get("metadata") or {}
    name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    secret_type = secret.get("type")
    if secret_type not in (None, "", LINKERD.credentials_secret_type, "Opaque"):
        raise CredentialsError(
            link,
            "malformed",
            f"Secret {name} has type {secret_type!r}, not {LINKERD.credentials_secret_type!r}",
        )
    data = secret.get("data") or {}
    raw = data.get(LINKERD.credentials_kubeconfig_key) if isinstance(data, Mapping) else None
    if not isinstance(raw, str) or not raw:
        raise CredentialsError(
            link,
            "malformed",
            f"Secret {name} has no data key {LINKERD.credentials_kubeconfig_key!r}",
        )
    redact(raw)
    try:
        text = base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError):
        raise CredentialsError(
            link, "malformed", f"Secret {name}: data.kubeconfig is not base64"
        ) from None
    return parse_kubeconfig(text, link=link, policy=policy)


# -- building clients -------------------------------------------------------------------

_TEMP_FILES: list[str] = []


def _cleanup_temp_files() -> None:  # pragma: no cover - at interpreter exit
    for path in _TEMP_FILES:
        with contextlib.suppress(OSError):
            os.unlink(path)


atexit.register(_cleanup_temp_files)


def _private_file(data: bytes) -> str:
    """Inline certificate or key data as a 0600 file (urllib3 loads client certs from
    files only); removed at exit."""
    fd, path = tempfile.mkstemp(prefix="meshmirror-", suffix=".pem")
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    _TEMP_FILES.append(path)
    return path


def _configuration(server: str, proxy: str | None) -> Configuration:
    # proxy and no_proxy given explicitly: Configuration would otherwise read the
    # environment's *_proxy variables.
    cfg = Configuration(host=server, proxy=proxy or "", no_proxy="")
    # No urllib3-level retries: the backend maps and retries failures itself.
    cfg.retries = False
    return cfg


def api_client(creds: ClusterCredentials) -> ApiClient:
    """An ``ApiClient`` built from ``creds`` only (plus, when the policy allowed exec or
    an auth-provider, the official loader over that same kubeconfig)."""
    cfg = _configuration(creds.server, creds.proxy_url)
    if creds.delegated is not None:
        from kubernetes.config.kube_config import KubeConfigLoader

        loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=dict(creds.delegated),
            active_context=creds.context,
            config_base_path=creds.base_dir or "",
        )
        loader.load_and_set(cfg)  # type: ignore[no-untyped-call]
        cfg.retries = False
        return ApiClient(configuration=cfg)
    token = creds.token
    if creds.token_file:
        token = Path(creds.token_file).read_text().strip()
        redact(token)
    if token:
        cfg.api_key = {"BearerToken": token}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
    if creds.ca_data:
        cfg.ca_cert_data = creds.ca_data.decode("ascii", "replace")
    elif creds.ca_file:
        cfg.ssl_ca_cert = creds.ca_file
    if creds.cert_data:
        cfg.cert_file = _private_file(creds.cert_data)
    elif creds.cert_file:
        cfg.cert_file = creds.cert_file
    if creds.key_data:
        cfg.key_file = _private_file(creds.key_data)
    elif creds.key_file:
        cfg.key_file = creds.key_file
    if creds.insecure_skip_tls_verify:
        cfg.verify_ssl = False
    if creds.tls_server_name:
        cfg.tls_server_name = creds.tls_server_name
    return ApiClient(configuration=cfg)


def source_api_client(
    kubeconfig: str | os.PathLike[str] | None, *, context: str | None = None
) -> ApiClient:
    """The source cluster's client: exactly the file ``kubeconfig`` (every mechanism the
    official loader supports, file references relative to it), or in-cluster settings
    when ``kubeconfig`` is None. Never ``$KUBECONFIG`` or ``~/.kube/config``."""
    if kubeconfig is None:
        from kubernetes.config.incluster_config import load_incluster_config

        cfg = _configuration("https://kubernetes.default.svc", None)
        load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        cfg.retries = False
        return ApiClient(configuration=cfg)
    path = Path(kubeconfig)
    text = path.read_bytes()
    creds = parse_kubeconfig(
        text,
        link=f"--kubeconfig {path}",
        policy=CredentialPolicy(allow_exec=True, allow_auth_provider=True, allow_files=True),
        context=context,
        base_dir=str(path.resolve().parent),
    )
    return api_client(creds)

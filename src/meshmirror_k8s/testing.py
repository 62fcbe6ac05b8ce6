"""Real Kubernetes API servers for tests: one etcd and N kube-apiservers on 127.0.0.1.

    from meshmirror_k8s.testing import KubeEnvironment

    with KubeEnvironment(["west", "east"], users=["alice"]) as env:
        west = env["west"]
        west.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}])
        text = west.kubeconfig("alice")  # a user with no rights until a binding names it

Each cluster is its own kube-apiserver on a free port, all sharing one etcd under a
different ``--etcd-prefix``. Each gets generated TLS serving certificates (its own CA),
static bearer tokens (``--token-auth-file``): ``admin`` (group ``system:masters``) and
every name in ``users`` (only ``system:authenticated``; a name of the form
``system:serviceaccount:<ns>:<name>`` also gets the service-account groups, so
bindings to that ServiceAccount apply), RBAC authorization, service-account signing
keys (the TokenRequest API works: :meth:`Cluster.service_account_token`) and an audit
log of every request (:meth:`Cluster.audit`, or read on as it grows:
:meth:`Cluster.audit_from`). :meth:`Cluster.watch` streams a watch;
:meth:`Cluster.apply_crd` installs a CustomResourceDefinition and waits until it is
served. Only the API server runs: no
controller-manager, so deleted Namespaces stay ``Terminating``, nothing is garbage
collected, Services get no Endpoints and no ``default`` ServiceAccount appears.

Binaries: ``kube-apiserver`` and ``etcd`` from the ``assets`` directory, else from
``$KUBEBUILDER_ASSETS`` (the envtest convention). The repository's
``tests/e2e/kube/build.sh`` builds both from the official Go modules once per machine
and prints the directory to pass.

Everything started is stopped, and every temporary directory removed, when the ``with``
block ends (also on an exception), on :meth:`KubeEnvironment.stop`, and at interpreter
exit as a last resort. :func:`fixture` makes a pytest fixture of it.

Needs the ``cryptography`` package (``pip install 'meshmirror[e2e]'``).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime
import http.client
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ADMIN",
    "Binaries",
    "Cluster",
    "Etcd",
    "HarnessError",
    "KubeEnvironment",
    "Response",
    "fixture",
    "rss_bytes",
]

#: The user every cluster has, in ``system:masters``.
ADMIN = "admin"

_AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Request          # deletes with their DeleteOptions (preconditions)
  verbs: [delete, deletecollection]
- level: Metadata
"""


class HarnessError(RuntimeError):
    """A binary is missing, a process did not start, or a request failed; the message
    says which and where its log is."""


@dataclass(frozen=True)
class Binaries:
    """Paths of ``kube-apiserver`` and ``etcd``."""

    apiserver: Path
    etcd: Path

    @classmethod
    def find(cls, assets: str | os.PathLike[str] | None = None) -> Binaries:
        """From ``assets``, else ``$KUBEBUILDER_ASSETS``; :class:`HarnessError` naming
        what is missing otherwise."""
        where = assets if assets is not None else os.environ.get("KUBEBUILDER_ASSETS")
        if not where:
            raise HarnessError(
                "no kube-apiserver/etcd: pass assets= or set KUBEBUILDER_ASSETS to a directory "
                "holding both (tests/e2e/kube/build.sh builds them from the Go modules)"
            )
        found = cls(Path(where) / "kube-apiserver", Path(where) / "etcd")
        for path in (found.apiserver, found.etcd):
            if not os.access(path, os.X_OK):
                raise HarnessError(f"{path}: not an executable file")
        return found


@dataclass(frozen=True)
class Response:
    """One HTTP response: status, the JSON body (``{}`` when empty or not JSON),
    the raw text, and the headers (``warnings``: the ``Warning`` header values)."""

    status: int
    body: dict[str, Any]
    text: str
    headers: Mapping[str, str]
    warnings: tuple[str, ...] = ()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux ``/proc``; 0 where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _Process:
    """A child process in its own session, its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.popen: subprocess.Popen[bytes] | None = None
        self._asked = False  # SIGTERM sent, not yet waited for

    def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen is not None else 0

    def check(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise HarnessError(
                f"{self.name} exited with {self.popen.returncode}; log: {self.log_path}\n"
                + self.tail()
            )

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM) without waiting: :meth:`stop` then waits."""
        if self.popen is not None and self.popen.poll() is None and not self._asked:
            self.popen.send_signal(signal.SIGTERM)
            self._asked = True

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.popen = self.popen, None
        asked, self._asked = self._asked, False
        if proc is None or proc.poll() is not None:
            return
        if not asked:  # a second SIGTERM would make kube-apiserver exit at once
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


# -- certificates -------------------------------------------------------------------------


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write_certificates(directory: Path, name: str) -> dict[str, Path]:
    """A CA, a serving certificate for 127.0.0.1/localhost signed by it, and a
    service-account signing key pair; returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"meshmirror-test-ca-{name}")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kube-apiserver-{name}")])
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = ec.generate_private_key(ec.SECP256R1())
    files = {
        "ca": (directory / "ca.crt", ca.public_bytes(serialization.Encoding.PEM)),
        "cert": (directory / "apiserver.crt", cert.public_bytes(serialization.Encoding.PEM)),
        "key": (directory / "apiserver.key", _pem_key(key)),
        "sa_key": (directory / "sa.key", _pem_key(sa_key)),
        "sa_pub": (
            directory / "sa.pub",
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        ),
    }
    for path, data in files.values():
        path.write_bytes(data)
        path.chmod(0o600)
    return {k: path for k, (path, _) in files.items()}


# -- etcd ---------------------------------------------------------------------------------


class Etcd:
    """One etcd member on free loopback ports, data in ``directory``."""

    def __init__(self, binary: Path, directory: Path) -> None:
        self.directory = directory
        self.client_port = _free_port()
        self.peer_port = _free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        self._process = _Process(
            "etcd",
            [
                str(binary),
                "--name=meshmirror-test",
                f"--data-dir={directory / 'data'}",
                f"--listen-client-urls={self.url}",
                f"--advertise-client-urls={self.url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=meshmirror-test={peer}",
                "--unsafe-no-fsync",  # test data: durability is not needed, speed is
                "--log-level=warn",
            ],
            directory / "etcd.log",
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def start(self) -> None:
        self._process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._process.check()
            with contextlib.suppress(OSError, ValueError, HarnessError):
                if self._call("GET", "/health").get("health") == "true":
                    return
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"etcd not healthy after {timeout}s; log: {self._process.log_path}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        self._process.stop()

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.client_port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            text = response.read().decode()
            if response.status != 200:
                raise HarnessError(f"etcd {method} {path}: HTTP {response.status}: {text[:200]}")
            doc = json.loads(text)
            return doc if isinstance(doc, dict) else {}
        finally:
            conn.close()

    def revision(self) -> int:
        """etcd's current revision (every cluster's writes advance it)."""
        key = base64.b64encode(b"/").decode()
        doc = self._call("POST", "/v3/kv/range", {"key": key, "limit": 1, "keys_only": True})
        return int(doc["header"]["revision"])

    def compact(self, revision: int | None = None) -> int:
        """Compact history up to ``revision`` (default: the current one); watches from
        an older resourceVersion then get 410 Gone. Returns the revision compacted."""
        rev = self.revision() if revision is None else revision
        self._call("POST", "/v3/kv/compaction", {"revision": str(rev), "physical": True})
        return rev


# -- one API server -----------------------------------------------------------------------


def _plural(kind: str) -> str:
    low = kind.lower()
    if low.endswith("s"):
        return low
    if low.endswith("y"):
        return low[:-1] + "ies"
    return low + "s"


_CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
    }
)


def object_path(doc: Mapping[str, Any], *, name: bool = False) -> str:
    """The REST path of ``doc``'s collection (or of ``doc`` itself with ``name``)."""
    api_version = str(doc.get("apiVersion") or "")
    kind = str(doc.get("kind") or "")
    meta = doc.get("metadata") or {}
    prefix = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    parts = [prefix]
    if kind not in _CLUSTER_SCOPED:
        parts.append(f"namespaces/{urllib.parse.quote(str(meta.get('namespace') or 'default'))}")
    parts.append(_plural(kind))
    if name:
        parts.append(urllib.parse.quote(str(meta["name"])))
    return "/".join(parts)


@dataclass
class Cluster:
    """One kube-apiserver. ``url`` is ``https://127.0.0.1:<port>``; ``tokens`` maps each
    user to its bearer token; ``ca_pem`` is the CA the serving certificate chains to."""

    name: str
    directory: Path
    url: str
    port: int
    ca_pem: bytes
    tokens: dict[str, str]
    _process: _Process = field(repr=False)
    #: Seconds from the last start to ready.
    started_s: float = 0.0
    _t0: float = field(default=0.0, repr=False)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    @property
    def log_path(self) -> Path:
        return self._process.log_path

    @property
    def audit_path(self) -> Path:
        return self.directory / "audit.log"

    def rss_bytes(self) -> int:
        """The apiserver's resident memory now."""
        return rss_bytes(self.pid)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start (or restart, on the same port and with the same certificates)."""
        self._t0 = time.monotonic()
        self._process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._process.check()
            with contextlib.suppress(OSError, ssl.SSLError, http.client.HTTPException):
                if self.request("GET", "/readyz").status == 200:
                    self.started_s = time.monotonic() - self._t0
                    return
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"kube-apiserver {self.name} not ready after {timeout}s; "
                    f"log: {self.log_path}\n{self._process.tail()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the apiserver (its data stays in etcd: :meth:`start` brings it back)."""
        self._process.stop()

    # -- clients -----------------------------------------------------------------------

    def kubeconfig(self, user: str = ADMIN, *, token: str | None = None) -> str:
        """A kubeconfig (text) for ``user`` (or any bearer ``token``), the CA embedded."""
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": self.name,
                        "cluster": {
                            "server": self.url,
                            "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                        },
                    }
                ],
                "users": [{"name": user, "user": {"token": token or self.tokens[user]}}],
                "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": user}}],
                "current-context": self.name,
            },
            sort_keys=False,
        )

    def write_kubeconfig(self, path: str | os.PathLike[str], user: str = ADMIN) -> Path:
        out = Path(path)
        out.write_text(self.kubeconfig(user))
        out.chmod(0o600)
        return out

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str = ADMIN,
        query: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Response:
        """One HTTPS request as ``user`` (stdlib only); never raises for a status."""
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self._ssl(), timeout=timeout
        )
        try:
            headers = {"Accept": "application/json", "Authorization": f"Bearer {self.tokens[user]}"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            try:
                doc = json.loads(text) if text else {}
            except ValueError:
                doc = {}
            return Response(
                status=response.status,
                body=doc if isinstance(doc, dict) else {},
                text=text,
                headers=dict(response.getheaders()),
                warnings=tuple(v for k, v in response.getheaders() if k.lower() == "warning"),
            )
        finally:
            conn.close()

    def _ok(self, response: Response, what: str) -> dict[str, Any]:
        if not 200 <= response.status <= 299:
            raise HarnessError(
                f"{self.name}: {what}: HTTP {response.status}: {response.text[:500]}"
            )
        return response.body

    def create(
        self, doc: Mapping[str, Any], *, user: str = ADMIN, dry_run: bool = False
    ) -> Response:
        """POST ``doc`` (``dryRun=All`` with ``dry_run``); the response, whatever its status."""
        query = {"dryRun": "All"} if dry_run else None
        return self.request("POST", object_path(doc), dict(doc), user=user, query=query)

    def apply(
        self, docs: Iterable[Mapping[str, Any]], *, user: str = ADMIN
    ) -> list[dict[str, Any]]:
        """Create each document, or replace it when it exists (as ``kubectl replace``:
        a document carrying ``metadata.resourceVersion`` is a conditional replace, one
        without takes the current version and a Service's allocated cluster IPs);
        raises :class:`HarnessError` on any other failure."""
        out = []
        for doc in docs:
            if (doc.get("metadata") or {}).get("resourceVersion"):
                response = self.request("PUT", object_path(doc, name=True), dict(doc), user=user)
            else:
                response = self.create(doc, user=user)
            if response.status == 409 and not doc["metadata"].get("resourceVersion"):
                current = self.get(doc, user=user)
                body = dict(doc)
                meta = dict(body.get("metadata") or {})
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
                body["metadata"] = meta
                if doc.get("kind") == "Service":  # immutable once allocated
                    spec = dict(body.get("spec") or {})
                    for key in ("clusterIP", "clusterIPs"):
                        if key in current.get("spec", {}) and key not in spec:
                            spec[key] = current["spec"][key]
                    body["spec"] = spec
                response = self.request("PUT", object_path(doc, name=True), body, user=user)
            kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
            out.append(self._ok(response, f"apply {kind} {name}"))
        return out

    def get(self, doc: Mapping[str, Any], *, user: str = ADMIN) -> dict[str, Any]:
        """The current object named like ``doc`` (apiVersion, kind, metadata.name/namespace)."""
        return self._ok(self.request("GET", object_path(doc, name=True), user=user), "get")

    def get_or_none(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        doc = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
        }
        response = self.request("GET", object_path(doc, name=True))
        if response.status == 404:
            return None
        return self._ok(response, f"get {kind} {namespace}/{name}")

    def items(
        self, api_version: str, kind: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of a kind (in ``namespace``, or in all of them)."""
        doc: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {}}
        path = object_path(doc)
        if namespace is None and kind not in _CLUSTER_SCOPED:
            path = path.replace("/namespaces/default", "")
        else:
            path = path.replace("/namespaces/default", f"/namespaces/{namespace}")
        return list(self._ok(self.request("GET", path), f"list {kind}").get("items") or [])

    def delete(self, doc: Mapping[str, Any], *, user: str = ADMIN) -> Response:
        return self.request("DELETE", object_path(doc, name=True), user=user)

    def service_account_token(self, namespace: str, name: str, *, seconds: int = 3600) -> str:
        """A token for an existing ServiceAccount from the TokenRequest API (signed with
        this cluster's service-account key)."""
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        }
        doc = self._ok(self.request("POST", path, body), f"token for {namespace}/{name}")
        return str(doc["status"]["token"])

    def apply_crd(self, doc: Mapping[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
        """Apply a CustomResourceDefinition and wait until it is served: Established, in
        discovery, and a list of it answered (not 429 while its storage initializes)."""
        (stored,) = self.apply([doc])
        group = doc["spec"]["group"]
        plural = doc["spec"]["names"]["plural"]
        versions = [v["name"] for v in doc["spec"]["versions"] if v.get("served", True)]

        def served(version: str) -> bool:
            found = self.request("GET", f"/apis/{group}/{version}").body.get("resources") or []
            if not any(r.get("name") == plural for r in found):
                return False
            return self.request("GET", f"/apis/{group}/{version}/{plural}").status == 200

        deadline = time.monotonic() + timeout
        while True:
            conditions = (self.get(doc).get("status") or {}).get("conditions") or []
            established = any(
                c.get("type") == "Established" and c.get("status") == "True" for c in conditions
            )
            if established and all(served(v) for v in versions):
                return stored
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.name}: CRD {plural}.{group} not served after {timeout}s")
            time.sleep(0.1)

    def watch(
        self,
        path: str,
        *,
        resource_version: str = "",
        user: str = ADMIN,
        timeout_seconds: int = 3600,
    ) -> Iterator[dict[str, Any]]:
        """Watch the collection at ``path`` (as ``/api/v1/services``) from
        ``resource_version``: each event (``{"type": ..., "object": ...}``) as it arrives,
        until the server ends the watch (after ``timeout_seconds``, or when it stops) or
        the iterator is closed. :class:`HarnessError` if the server refuses the watch; a
        watch too old to resume arrives as an ``ERROR`` event (410), as from any client."""
        query = {"watch": "1", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            query["resourceVersion"] = resource_version
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self._ssl(), timeout=timeout_seconds + 30
        )
        try:
            headers = {"Accept": "application/json", "Authorization": f"Bearer {self.tokens[user]}"}
            conn.request("GET", f"{path}?{urllib.parse.urlencode(query)}", headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                text = response.read().decode("utf-8", "replace")
                raise HarnessError(
                    f"{self.name}: watch {path}: HTTP {response.status}: {text[:500]}"
                )
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException):
                    return  # the server went away: the watch ended
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    def audit_from(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The audit events written after byte ``offset`` of the log (complete lines
        only), and the offset to read on from: to follow a growing log cheaply."""
        try:
            with self.audit_path.open("rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        events = []
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return events, offset + end

    def audit(self) -> list[dict[str, Any]]:
        """Every audit event so far: user, verb, URI, response code (level Metadata),
        and for deletes the request body too (their ``DeleteOptions``)."""
        events = []
        with contextlib.suppress(FileNotFoundError):
            for line in self.audit_path.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    events.append(json.loads(line))
        return events


def _token_line(token: str, user: str, uid: str) -> str:
    groups = ["system:authenticated"]
    if user == ADMIN:
        groups.insert(0, "system:masters")
    parts = user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{parts[2]}"]
    return f'{token},{user},{uid},"{",".join(groups)}"'


# -- the environment ----------------------------------------------------------------------

_LIVE: set[KubeEnvironment] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_leftovers() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for env in live:
        env.stop()


class KubeEnvironment:
    """One etcd and one kube-apiserver per name; see the module docstring.

    ``users``: extra users on every cluster (no rights until bound). ``apiserver_args``:
    extra flags for every apiserver, or per cluster name (a mapping). ``keep``: leave
    the temporary directory (logs, audit logs) in place after :meth:`stop`.
    ``audit_policy``: the audit policy (YAML text) instead of the default (every
    request at level Metadata, deletes with their body, no ``RequestReceived`` stage).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        assets: str | os.PathLike[str] | None = None,
        users: Iterable[str] = (),
        apiserver_args: Sequence[str] | Mapping[str, Sequence[str]] = (),
        keep: bool = False,
        timeout: float = 90.0,
        audit_policy: str | None = None,
    ) -> None:
        if not names or len(set(names)) != len(names):
            raise HarnessError(f"cluster names must be given and distinct: {list(names)}")
        self.names = list(names)
        self.binaries = Binaries.find(assets)
        self.users = [u for u in users if u != ADMIN]
        self._args = apiserver_args
        self.keep = keep
        self.timeout = timeout
        self.audit_policy = _AUDIT_POLICY if audit_policy is None else audit_policy
        self.directory: Path | None = None
        self.etcd: Etcd | None = None
        self.clusters: dict[str, Cluster] = {}
        self.started_s = 0.0

    def __getitem__(self, name: str) -> Cluster:
        return self.clusters[name]

    def __enter__(self) -> KubeEnvironment:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _extra_args(self, name: str) -> list[str]:
        if isinstance(self._args, Mapping):
            return list(self._args.get(name, ()))
        return list(self._args)

    def start(self) -> KubeEnvironment:
        """Start etcd, then every apiserver at once; returns when all are ready."""
        t0 = time.monotonic()
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self.directory = Path(tempfile.mkdtemp(prefix="meshmirror-kube-"))
            self.etcd = Etcd(self.binaries.etcd, self.directory / "etcd")
            (self.directory / "etcd").mkdir()
            self.etcd.start()
            for index, name in enumerate(self.names):
                self.clusters[name] = self._cluster(name, index)
            self.etcd.wait_ready(self.timeout)
            for cluster in self.clusters.values():
                cluster.start()
            for cluster in self.clusters.values():
                cluster.wait_ready(self.timeout)
        except BaseException:
            self.stop()
            raise
        self.started_s = time.monotonic() - t0
        return self

    def _cluster(self, name: str, index: int) -> Cluster:
        assert self.directory is not None
        assert self.etcd is not None
        directory = self.directory / name
        directory.mkdir()
        files = _write_certificates(directory, name)
        (directory / "audit-policy.yaml").write_text(self.audit_policy)
        tokens = {user: secrets.token_hex(16) for user in [ADMIN, *self.users]}
        (directory / "tokens.csv").write_text(
            "".join(
                _token_line(token, user, f"uid-{i}") + "\n"
                for i, (user, token) in enumerate(tokens.items())
            )
        )
        (directory / "tokens.csv").chmod(0o600)
        port = _free_port()
        argv = [
            str(self.binaries.apiserver),
            f"--etcd-servers={self.etcd.url}",
            f"--etcd-prefix=/{name}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={directory / 'certs'}",
            f"--tls-cert-file={files['cert']}",
            f"--tls-private-key-file={files['key']}",
            f"--token-auth-file={directory / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={files['sa_pub']}",
            f"--service-account-signing-key-file={files['sa_key']}",
            # Distinct ranges per cluster, as separate clusters would have.
            f"--service-cluster-ip-range=10.{96 + index}.0.0/16",
            f"--audit-policy-file={directory / 'audit-policy.yaml'}",
            f"--audit-log-path={directory / 'audit.log'}",
            "--audit-log-mode=blocking",
            "--audit-log-format=json",
            "--profiling=false",
            "--enable-priority-and-fairness=false",
            *self._extra_args(name),
        ]
        return Cluster(
            name=name,
            directory=directory,
            url=f"https://127.0.0.1:{port}",
            port=port,
            ca_pem=files["ca"].read_bytes(),
            tokens=tokens,
            _process=_Process(f"kube-apiserver {name}", argv, directory / "apiserver.log"),
        )

    def stop(self) -> None:
        """Stop every process started and remove the temporary directory."""
        for cluster in self.clusters.values():  # all at once, then wait for each
            with contextlib.suppress(Exception):
                cluster._process.terminate()
        for cluster in self.clusters.values():
            with contextlib.suppress(Exception):
                cluster.stop()
        if self.etcd is not None:
            with contextlib.suppress(Exception):
                self.etcd.stop()
        if self.directory is not None and not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def rss_bytes(self) -> dict[str, int]:
        """Resident memory per process: ``etcd`` and each cluster name."""
        out = {"etcd": rss_bytes(self.etcd.pid) if self.etcd else 0}
        out.update({name: c.rss_bytes() for name, c in self.clusters.items()})
        return out


def fixture(
    *names: str, scope: str = "session", **options: Any
) -> Callable[..., Iterator[KubeEnvironment]]:
    """A pytest fixture of a :class:`KubeEnvironment` (``scope`` as pytest's)::

    kube = meshmirror_k8s.testing.fixture("west", "east", users=["alice"])
    """
    import pytest

    def environment() -> Iterator[KubeEnvironment]:
        with KubeEnvironment(list(names), **options) as env:
            yield env

    return pytest.fixture(scope=scope)(environment)  # type: ignore[call-overload, no-any-return]

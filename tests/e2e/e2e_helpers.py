"""The end-to-end world (see conftest.py): set-up, the controller as a process, plan and
audit checks."""

from __future__ import annotations

import datetime
import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from builders import svc
from meshmirror import PlanOptions, diff, plan
from meshmirror.formats.manifest import cluster_state
from meshmirror_k8s.cli import link_main
from meshmirror_k8s.testing import Cluster, KubeEnvironment

REPO = Path(__file__).resolve().parents[2]
LINKS_NS = "linkerd-multicluster"
OWNED = "mirror.linkerd.io/mirrored-service"
CONTROLLER_USER = f"system:serviceaccount:{LINKS_NS}:meshmirror"
REMOTE_USER = f"system:serviceaccount:{LINKS_NS}:meshmirror-remote-access"
#: A user with no bindings: denied, as it should be (its 403s are the expected ones).
PROBE_USER = "nobody"
GATEWAY = "192.0.2.10"
TARGETS = ("east", "north")
HEADLESS = PlanOptions(enable_headless_services=True)

T = TypeVar("T")

__all__ = [
    "HEADLESS",
    "PROBE_USER",
    "World",
    "build_world",
    "eps",
    "headless_eps",
    "ns",
    "svc",
    "wait_for",
]


def ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def eps(name: str, namespace: str, *ips: str, port: int = 8080) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": namespace},
        "subsets": [
            {"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "http", "port": port}]}
        ],
    }


def headless_eps(name: str, namespace: str, *hostnames: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"service.kubernetes.io/headless": ""},
        },
        "subsets": [
            {
                "addresses": [
                    {
                        "ip": f"10.2.5.{i}",
                        "hostname": h,
                        "targetRef": {"kind": "Pod", "name": h, "namespace": namespace},
                    }
                    for i, h in enumerate(hostnames, 1)
                ],
                "ports": [{"name": "http", "port": 9092}],
            }
        ],
    }


def wait_for(check: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.1)


def _now() -> str:
    """Now as the audit log writes it (RFC 3339, microseconds, UTC): comparable as text."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _link(*args: str) -> list[dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    code = link_main(list(args), out=out, err=err)
    assert code == 0, err.getvalue()
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


@dataclass
class Run:
    """One ``--once`` process: exit code and its JSON log lines."""

    code: int
    logs: list[dict[str, Any]]
    stderr: str
    stdout: str

    def messages(self, text: str) -> list[dict[str, Any]]:
        return [r for r in self.logs if r.get("message") == text]


class ControllerProcess:
    """``python -m meshmirror_k8s`` running until stopped; its logs in a file."""

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"message": "<not json>", "line": line})
        return out

    def logged(self, message: str) -> list[dict[str, Any]]:
        return [r for r in self.logs() if r.get("message") == message]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode


@dataclass
class World:
    kube: KubeEnvironment
    directory: Path
    controller_kubeconfig: Path
    controllers: list[ControllerProcess] = field(default_factory=list)
    # (cluster, from, to): an apiserver restarting. Until its RBAC caches have synced a
    # real apiserver denies requests it will allow a moment later; those are excused.
    restarts: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def west(self) -> Cluster:
        return self.kube["west"]

    # -- the controller --------------------------------------------------------------

    def _argv(self, *flags: str, kubeconfig: Path | None = None) -> list[str]:
        return [
            sys.executable, "-m", "meshmirror_k8s",
            "--kubeconfig", str(kubeconfig or self.controller_kubeconfig),
            "--namespace", LINKS_NS, "--no-resolve", "--request-timeout", "10",
            # The Links' gateways are documentation addresses: never probed.
            "--no-gateway-probes",
            *flags,
        ]  # fmt: skip

    def once(self, *flags: str, headless: bool = True) -> Run:
        """``--once`` as a process (headless support on unless told otherwise)."""
        extra = ["--enable-headless-services"] if headless else []
        proc = subprocess.run(
            self._argv("--once", *extra, *flags),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        logs = []
        for line in proc.stderr.splitlines():
            logs.append(json.loads(line))  # structured logs only
        return Run(proc.returncode, logs, proc.stderr, proc.stdout)

    def start(self, name: str, *flags: str, kubeconfig: Path | None = None) -> ControllerProcess:
        process = ControllerProcess(
            self._argv(*flags, kubeconfig=kubeconfig), self.directory / f"{name}.log"
        )
        self.controllers.append(process)
        return process

    def stop_controllers(self) -> None:
        for process in self.controllers:
            process.stop()

    def kubeconfig_with_token(self, name: str, token: str) -> Path:
        path = self.directory / f"{name}.kubeconfig"
        path.write_text(self.west.kubeconfig(token=token, user=CONTROLLER_USER))
        path.chmod(0o600)
        return path

    # -- state and plans -------------------------------------------------------------

    def dump(self, name: str) -> list[dict[str, Any]]:
        """What ``kubectl get namespaces,services,endpoints,links -A -o yaml`` prints."""
        c = self.kube[name]
        out = []
        for kind in ("Namespace", "Service", "Endpoints"):
            for d in c.items("v1", kind):
                out.append({"apiVersion": "v1", "kind": kind, **d})
        if name == "west":
            for d in c.items("multicluster.linkerd.io/v1alpha3", "Link", LINKS_NS):
                out.append({"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link", **d})
        return out

    def planned(self, options: PlanOptions = HEADLESS) -> Any:
        source = cluster_state("west", self.dump("west"))
        remotes = {t: cluster_state(t, self.dump(t)) for t in TARGETS}
        return plan(source, remotes, options=options, resolve=None)

    def assert_converged(self, options: PlanOptions = HEADLESS) -> None:
        p = self.planned(options)
        actual = cluster_state("west", self.dump("west"))
        changes = diff(p, actual)
        assert not changes, changes.describe()
        planned = {(o.kind, o.namespace, o.name) for o in p.objects if o.kind != "Namespace"}
        assert set(self.owned()) == planned

    def owned(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        out = {}
        for kind in ("Service", "Endpoints"):
            for d in self.west.items("v1", kind):
                if (d["metadata"].get("labels") or {}).get(OWNED) == "true":
                    out[(kind, d["metadata"]["namespace"], d["metadata"]["name"])] = d
        return out

    def versions(self) -> dict[tuple[str, str, str], str]:
        """resourceVersion of every Service and Endpoints in west."""
        out = {}
        for kind in ("Service", "Endpoints"):
            for d in self.west.items("v1", kind):
                meta = d["metadata"]
                out[(kind, meta["namespace"], meta["name"])] = meta["resourceVersion"]
        return out

    def get(self, cluster: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.kube[cluster].get_or_none("v1", kind, namespace, name)

    def apply(self, cluster: str, docs: Iterable[Mapping[str, Any]]) -> None:
        self.kube[cluster].apply(docs)

    def remove(self, cluster: str, kind: str, namespace: str, name: str) -> None:
        doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}
        response = self.kube[cluster].delete(doc)
        assert response.status in (200, 202), response.text

    def restart(self, cluster: str) -> None:
        """Start a stopped apiserver again (same port, same data) and wait until ready."""
        began = _now()
        self.kube[cluster].start()
        self.kube[cluster].wait_ready()
        self.restarts.append((cluster, began, _now()))

    # -- audit -----------------------------------------------------------------------

    def audit(self, cluster: str, since: int = 0) -> list[dict[str, Any]]:
        """Completed requests (one event per request), from event number ``since``."""
        events = [e for e in self.kube[cluster].audit() if e.get("stage") == "ResponseComplete"]
        return events[since:]

    def marks(self) -> dict[str, int]:
        return {name: len(self.audit(name)) for name in self.kube.names}

    def writes(self, cluster: str, since: int = 0, user: str = CONTROLLER_USER) -> list[str]:
        """``verb resource namespace/name`` of each write ``user`` made."""
        out = []
        for e in self.audit(cluster, since):
            if e["user"]["username"] != user or e["verb"] in ("get", "list", "watch"):
                continue
            ref = e.get("objectRef") or {}
            resource = ref.get("resource", "") + (
                f"/{ref['subresource']}" if ref.get("subresource") else ""
            )
            out.append(f"{e['verb']} {resource} {ref.get('namespace', '')}/{ref.get('name', '')}")
        return out

    def _restarting(self, cluster: str, when: str) -> bool:
        return any(c == cluster and a <= when <= b for c, a, b in self.restarts)

    def assert_audit_clean(self) -> None:
        problems = []
        for name in self.kube.names:
            for e in self.audit(name):
                user = e["user"]["username"]
                code = (e.get("responseStatus") or {}).get("code")
                ref = e.get("objectRef") or {}
                what = f"{name}: {user} {e['verb']} {e['requestURI']} -> {code}"
                denied = code == 403 and user != PROBE_USER
                if denied and not self._restarting(name, e["requestReceivedTimestamp"]):
                    problems.append(f"denied: {what}")
                if name != "west":
                    if user == CONTROLLER_USER:
                        problems.append(f"the source's identity in a remote: {what}")
                    if user == REMOTE_USER and (
                        e["verb"] not in ("get", "list", "watch")
                        or ref.get("resource") not in ("services", "endpoints", "endpointslices")
                    ):
                        problems.append(f"remote request outside mirroring's needs: {what}")
                    continue
                if user == REMOTE_USER:
                    problems.append(f"a remote identity in the source: {what}")
                if user != CONTROLLER_USER or e["verb"] in ("get", "list", "watch"):
                    continue
                resource = ref.get("resource")
                if e["verb"] == "deletecollection":
                    problems.append(f"deletecollection: {what}")
                if e["verb"] == "delete":
                    pre = (e.get("requestObject") or {}).get("preconditions") or {}
                    if not (pre.get("resourceVersion") and pre.get("uid")):
                        problems.append(f"delete without preconditions: {what}")
                if resource in ("services", "endpoints"):
                    if (
                        e["verb"] in ("create", "update")
                        and "fieldManager=meshmirror" not in e["requestURI"]
                    ):
                        problems.append(f"write without fieldManager=meshmirror: {what}")
                elif resource == "links":
                    # Link status, only through its subresource and only by update.
                    if ref.get("subresource") != "status" or e["verb"] != "update":
                        problems.append(f"a Link written other than its status: {what}")
                elif not (resource == "leases" and ref.get("namespace") == LINKS_NS):
                    problems.append(f"unexpected write: {what}")
        assert problems == [], "\n".join(problems)


def build_world(kube: KubeEnvironment, directory: Path) -> World:
    west = kube["west"]
    west.apply([yaml.safe_load((Path(__file__).parent / "link-crd.yaml").read_text())])
    # The CRD is served once Established (and discovery has caught up).
    wait_for(
        lambda: (
            west.request(
                "GET", f"/apis/multicluster.linkerd.io/v1alpha3/namespaces/{LINKS_NS}/links"
            ).status
            in (200, 404)
            and west.request("GET", "/apis/multicluster.linkerd.io/v1alpha3").status == 200
        ),
        what="the Link CRD to be served",
    )
    for name in kube.names:
        # linkerd: where `meshmirror link` puts the destination controller's Secret copy.
        kube[name].apply([ns(LINKS_NS), ns("linkerd"), ns("shop"), ns("pay")])

    # Each target: exactly the RBAC `meshmirror link --print target` prints; a token for
    # its ServiceAccount from the TokenRequest API; the source gets the Link and Secret.
    for target in TARGETS:
        remote = kube[target]
        remote.apply(_link("--cluster-name", target, "--gateway=false", "--print", "target"))
        token = remote.service_account_token(LINKS_NS, "meshmirror-remote-access")
        ca = directory / f"{target}-ca.crt"
        ca.write_bytes(remote.ca_pem)
        gateway = (
            ["--gateway-addresses", GATEWAY, "--gateway-port", "4143",
             "--gateway-identity", f"gateway.{target}.example"]
            if target == "east" else ["--gateway=false"]
        )  # fmt: skip
        docs = _link(
            "--cluster-name", target, "--api-server", remote.url, "--token", token,
            "--certificate-authority", str(ca), "--print", "source", *gateway,
        )  # fmt: skip
        west.apply(docs)
        link = next(d for d in docs if d["kind"] == "Link")
        stored = west.get(link)
        assert stored["spec"] == {**link["spec"], **stored["spec"]}, "the CRD pruned a field"
        for key, value in link["spec"].items():
            got = stored["spec"][key]
            if isinstance(value, dict):  # the CRD defaults fields inside (probeSpec)
                assert {k: got.get(k) for k in value} == value, key
            else:
                assert got == value, key

    # The controller: the source's ServiceAccount bound only to the example RBAC.
    rbac = [
        d for d in yaml.safe_load_all((REPO / "examples/controller/rbac.yaml").read_text()) if d
    ]
    west.apply(rbac)
    token = west.service_account_token(LINKS_NS, "meshmirror")
    world = World(kube, directory, directory / "controller.kubeconfig")
    world.kubeconfig_with_token("controller", token)

    # The workloads.
    west.apply(
        [
            svc("legacy", export=None),
            svc("api-north", export=None, labels={"team": "payments"}),  # squats a mirror name
            svc("cache", member=True, export=None),  # a local federated member
            eps("cache", "shop", "10.1.0.5"),
        ]
    )
    kube["east"].apply(
        [
            svc("web"),
            eps("web", "shop", "10.2.0.1", "10.2.0.2"),
            svc("db", export="remote-discovery", port=5432),
            eps("db", "shop", "10.2.0.9", port=5432),
            svc("cache", export=None, member=True),
            eps("cache", "shop", "10.2.0.5"),
            svc("internal", export=None),
            svc("billing", "pay"),
            eps("billing", "pay", "10.2.1.1"),
            svc("kafka", clusterIP="None"),
            headless_eps("kafka", "shop", "broker-0", "broker-1"),
        ]
    )
    kube["north"].apply(
        [
            svc("api", export="remote-discovery", port=8443),
            eps("api", "shop", "10.3.0.1", port=8443),
            svc("cache", export=None, member=True),
            eps("cache", "shop", "10.3.0.7"),
            svc("web", export="true"),  # north's Link is gatewayless: never mirrored
        ]
    )
    return world

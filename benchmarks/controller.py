"""The controller benchmark: the real controller process against Kubernetes API servers.

    python benchmarks/controller.py --quick        # 10 linked clusters x 200 Services
    python benchmarks/controller.py --full         # 100 x 1,000
    python benchmarks/controller.py --clusters 20 --services 1000

What runs: ``python -m meshmirror_k8s --kubeconfig ...`` (leader election on, as
deployed) in its own process, and the servers in another (``--server inrepo``: one
``tests/k8s/kube_server.py`` per cluster over a ``FakeCluster``, all in one process, so the
controller's CPU and memory are read apart from the servers'). The topology is
``benchmarks/generate.py``'s: a source ``c000`` holding a Link and a credentials Secret
for each linked cluster, every cluster with ``--services`` Services and their Endpoints.

Measured, in order:

1. ``bare_client_create_s``: a minimal client (the official client's request path, raw
   JSON bodies, ``--concurrency`` threads, the controller's write concurrency) creates
   every planned object in a copy of the source on the same server process: the floor
   for any Python writer.
2. ``cold_start_s``: from the controller's start until every planned object exists in
   the source.
3. Single remote edits, ``--edits`` of each kind (a label, a port number, an unexport, the
   Endpoints of a remote Service going not-ready), one at a time, each after the
   controller went quiet (:func:`settle`): edit -> the mirror written as planned (seen by
   the server as the write lands) gives ``event_visible_*``; the requests of that phase,
   by verb, per edit give ``requests_per_event`` (Lease renewals left out: they are
   counted in ``lease_requests_per_s``); list bytes per edit give
   ``bytes_listed_per_event``; the controller's CPU (``/proc/<pid>/stat``) per edit gives
   ``event_cpu_s``.
4. A burst of ``--burst`` label edits at once: until the last is visible.
5. Idle: ``--idle-periods`` resync periods without a change (and any sync then under way,
   whole); requests per period.

``max_rss_bytes`` is the controller's peak (``VmHWM``); ``rss_per_service_bytes`` is
(peak - resident size at its first request) / mirrored Services.

The last line of stdout is one JSON object (docs/design.md, section 4.5: the controller
benchmark); progress goes to stderr. ``--server real``: real kube-apiservers over one
etcd instead (:class:`RealServers`, over ``meshmirror_k8s.testing``; binaries from
``$KUBEBUILDER_ASSETS``, which ``tests/e2e/kube/build.sh`` prints).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

LINKS_NS = "linkerd-multicluster"
OWNED = "mirror.linkerd.io/mirrored-service"
EXPORTED = "mirror.linkerd.io/exported"
EDIT_LABEL = "bench.meshmirror.io/edit"
EDIT_KINDS = ("label", "port", "unready", "unexport")
VERBS = ("list", "watch", "get", "create", "update", "delete")

CONTRACT_KEYS = (
    "clusters",
    "services",
    "cold_start_s",
    "bare_client_create_s",
    "event_visible_p50_s",
    "event_visible_p99_s",
    "event_cpu_s",
    "requests_per_event",
    "bytes_listed_per_event",
    "idle_requests_per_resync",
    "max_rss_bytes",
    "rss_per_service_bytes",
    "server",
    "python_version",
    "k8s_client_version",
)


def _log(message: str) -> None:
    print(f"[controller-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def kubeconfig(server: str, token: str) -> str:
    """A kubeconfig (JSON is YAML) for one server and bearer token."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )


def token_for(cluster: str) -> str:
    return f"bench-token-{cluster}-0123456789"


# -- what is edited, and what makes it visible ---------------------------------------------


def edit_expectation(edit: Mapping[str, Any]) -> tuple[str, str, str, str, Any]:
    """(verb, kind, namespace, mirror name, check) of the source write that shows ``edit``."""
    ns, mirror, kind = edit["namespace"], edit["mirror"], edit["kind"]
    if kind == "label":
        return ("write", "Service", ns, mirror, ("label", EDIT_LABEL, edit["value"]))
    if kind == "port":
        return ("write", "Service", ns, mirror, ("port", edit["value"]))
    if kind == "unready":
        return ("write", "Endpoints", ns, mirror, ("unready",))
    if kind == "unexport":
        return ("delete", "Service", ns, mirror, None)
    raise ValueError(f"unknown edit kind {kind!r}")


def satisfies(body: Any, check: Any) -> bool:
    """Whether a written object ``body`` shows ``check`` (see :func:`edit_expectation`)."""
    if check is None:
        return True
    if not isinstance(body, dict):
        return False
    if check[0] == "label":
        return bool(((body.get("metadata") or {}).get("labels") or {}).get(check[1]) == check[2])
    if check[0] == "port":
        return any(p.get("port") == check[1] for p in (body.get("spec") or {}).get("ports") or [])
    if check[0] == "unready":
        return not any(s.get("addresses") for s in body.get("subsets") or [])
    raise ValueError(f"unknown check {check!r}")


def apply_edit(doc: dict[str, Any], edit: Mapping[str, Any]) -> dict[str, Any]:
    """The remote object ``doc`` (a Service, or Endpoints for ``unready``) after ``edit``."""
    kind = edit["kind"]
    meta = doc["metadata"]
    if kind == "label":
        meta.setdefault("labels", {})[EDIT_LABEL] = edit["value"]
    elif kind == "port":
        doc["spec"]["ports"][0]["port"] = edit["value"]
    elif kind == "unexport":
        (meta.get("labels") or {}).pop(EXPORTED, None)
    elif kind == "unready":
        for subset in doc.get("subsets") or []:
            moved = subset.pop("addresses", None) or []
            if moved:
                subset["notReadyAddresses"] = [*subset.get("notReadyAddresses", []), *moved]
    return doc


# -- the servers ------------------------------------------------------------------------


def credentials_secret(cluster: str, text: str) -> dict[str, Any]:
    """The credentials Secret of the Link to ``cluster`` (``kubeconfig`` in its data)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "mirror.linkerd.io/remote-kubeconfig",
        "metadata": {"name": f"cluster-credentials-{cluster}", "namespace": LINKS_NS},
        "data": {"kubeconfig": base64.b64encode(text.encode()).decode()},
    }


class Visibility:
    """When the planned objects (handle 0) and each edit become visible in the source,
    and when the controller went quiet: what both kinds of :class:`Servers` keep.
    ``in_flight`` and ``last_activity`` are set by the server side, under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        # handle -> [edit time, visible time or None, (verb, kind, ns, name, check)]
        self.waits: dict[int, list[Any]] = {}
        self.by_target: dict[tuple[str, str, str], list[int]] = {}
        self.pending_cold: set[tuple[str, str, str]] = set()
        self.handles = 0
        self.in_flight = 0
        self.last_activity = time.monotonic()

    def cold(self, planned: Sequence[Sequence[str]]) -> None:
        """Handle 0: visible once every planned object was created."""
        with self.lock:
            self.pending_cold = {(k, ns, n) for k, ns, n in planned}
            self.waits[0] = [time.monotonic(), None, ("cold",)]
            if not self.pending_cold:
                self.waits[0][1] = time.monotonic()

    def expect(self, edit: Mapping[str, Any]) -> int:
        """A handle for ``edit``, visible when the source shows what it should cause."""
        expectation = edit_expectation(edit)
        with self.lock:
            self.handles += 1
            self.by_target.setdefault(expectation[1:4], []).append(self.handles)
            self.waits[self.handles] = [time.monotonic(), None, expectation]
            return self.handles

    def seen(
        self, key: tuple[str, str, str], verb: str, body: Mapping[str, Any], now: float
    ) -> None:
        """The source's ``key`` was created, written or deleted (``verb``) as ``body``
        at ``now``; call with :attr:`lock` held."""
        if verb == "create" and self.pending_cold:
            self.pending_cold.discard(key)
            if not self.pending_cold:
                self.waits[0][1] = now
        for handle in self.by_target.get(key, ()):
            entry = self.waits[handle]
            if entry[1] is not None:
                continue
            expected, _, _, _, check = entry[2]
            if verb == "delete":
                shown = expected == "delete"
            else:
                shown = expected == "write" and satisfies(body, check)
            if shown:
                entry[1] = now

    def wait(self, handle: int, timeout: float) -> tuple[float, float | None]:
        deadline = time.monotonic() + timeout
        with self.lock:
            entry = self.waits[handle]
            while entry[1] is None and time.monotonic() < deadline:
                self.changed.wait(max(0.0, min(1.0, deadline - time.monotonic())))
            key = entry[2][1:4]
            if handle and handle in self.by_target.get(key, []):
                self.by_target[key].remove(handle)
            return entry[0], entry[1]

    def quiet(self, seconds: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                now = time.monotonic()
                idle = now - self.last_activity
                if not self.in_flight and idle >= seconds:
                    return True
                if now >= deadline:
                    return False
                wait = max(0.01, seconds - idle) if not self.in_flight else 0.5
                self.changed.wait(min(wait, deadline - now))


class Servers(Protocol):
    """The API servers the controller runs against (``--server``)."""

    name: str

    def start(self, topology_dir: Path, planned: Sequence[tuple[str, str, str]]) -> None:
        """Serve every cluster of the topology, plus ``bare`` (a copy of the source
        without Links, for the bare client); watch for ``planned`` objects appearing in
        the source (see :meth:`wait`, handle 0)."""
        ...

    def kubeconfig(self, cluster: str) -> str: ...

    def edit(self, edits: Sequence[Mapping[str, Any]]) -> list[int]:
        """Apply each edit to its remote cluster; a handle per edit for :meth:`wait`."""
        ...

    def wait(self, handle: int, timeout: float) -> tuple[float, float | None]:
        """(monotonic time of the edit or of :meth:`start`, time it became visible in the
        source, or None after ``timeout``)."""
        ...

    def quiet(self, seconds: float, timeout: float) -> bool:
        """Wait until no request (watches and Leases aside) ran for ``seconds``."""
        ...

    def drain(self) -> dict[str, Any]:
        """The requests recorded since the last drain, aggregated; then forgotten."""
        ...

    def first_request(self) -> float | None:
        """When the source got its first request (the controller's, once started)."""
        ...

    def stop(self) -> None: ...


class InRepoServers:
    """``tests/k8s/kube_server.py`` servers in a child process, driven over its stdin/stdout
    (one JSON line per command and per answer)."""

    name = "inrepo: tests/k8s/kube_server.py over FakeCluster (one process, stdlib http.server)"

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self.pid: int | None = None

    def _call(self, *command: Any) -> Any:
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        with self._lock:
            self._proc.stdin.write(json.dumps(command) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the server process ended")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"server process: {answer['error']}")
        return answer["ok"]

    def start(self, topology_dir: Path, planned: Sequence[tuple[str, str, str]]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.pid = self._proc.pid
        self._call("start", str(topology_dir), [list(r) for r in planned], self.poll_interval)

    def kubeconfig(self, cluster: str) -> str:
        return str(self._call("kubeconfig", cluster))

    def edit(self, edits: Sequence[Mapping[str, Any]]) -> list[int]:
        return list(self._call("edit", list(edits)))

    def wait(self, handle: int, timeout: float) -> tuple[float, float | None]:
        t0, t1 = self._call("wait", handle, timeout)
        return t0, t1

    def quiet(self, seconds: float, timeout: float) -> bool:
        return bool(self._call("quiet", seconds, timeout))

    def drain(self) -> dict[str, Any]:
        return dict(self._call("drain"))

    def first_request(self) -> float | None:
        value = self._call("first_request")
        return None if value is None else float(value)

    def stop(self) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(RuntimeError, OSError, ValueError):
            self._call("stop")
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


CONTROLLER_SA = "meshmirror"
REMOTE_SA = "meshmirror-remote-access"
# Every stage, RequestReceived too: a request in flight keeps the servers from being quiet.
# The controller's lists with their answers: what it listed, in bytes and objects (the
# apiservers' /metrics would count their own periodic lists of every Service too).
REAL_AUDIT_POLICY = f"""\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: RequestResponse
  verbs: [list]
  users: ["system:serviceaccount:{LINKS_NS}:{CONTROLLER_SA}",
          "system:serviceaccount:{LINKS_NS}:{REMOTE_SA}"]
- level: Metadata
"""


def _user(service_account: str) -> str:
    return f"system:serviceaccount:{LINKS_NS}:{service_account}"


def _as_new(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` as one creates it: without the fields the generator filled in as a server
    would (uid, resourceVersion, creationTimestamp, allocated cluster IPs)."""
    out = dict(doc)
    meta = dict(out.get("metadata") or {})
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        meta.pop(key, None)
    out["metadata"] = meta
    spec = out.get("spec")
    if out.get("kind") == "Service" and isinstance(spec, dict) and spec.get("clusterIP") != "None":
        out["spec"] = {k: v for k, v in spec.items() if k not in ("clusterIP", "clusterIPs")}
    return out


class RealServers:
    """Real kube-apiservers over one etcd (``meshmirror_k8s.testing.KubeEnvironment``):
    one per cluster plus ``bare``, the topology created through the API.

    Identities as deployed: the controller is the source's ServiceAccount bound to
    ``rbac.source_manifests`` (``examples/controller/rbac.yaml``); each credentials Secret
    holds a kubeconfig for the remote's ServiceAccount bound to
    ``rbac.remote_access_manifests`` (what ``meshmirror link`` prints); both are static
    tokens of the harness. Everything else here (loading, edits, the watch that sees the
    mirrors land) is the harness's admin.

    What the controller did is read from the audit logs (followed as they grow, every
    stage, the controller's users only): requests by verb, in flight and last finished
    (for :meth:`quiet`), the first, and its list answers (their size as compact JSON, what
    the apiserver sends a JSON client, and their items)."""

    name = "real: kube-apiserver + etcd (meshmirror_k8s.testing)"

    def __init__(self, keep: bool = False, audit_poll: float = 0.02) -> None:
        try:
            from meshmirror_k8s import testing
        except ImportError as exc:
            raise SystemExit(
                f"error: --server real needs meshmirror_k8s.testing and its extras "
                f"(pip install 'meshmirror[e2e]'): {exc}"
            ) from None
        try:
            testing.Binaries.find()
        except testing.HarnessError as exc:
            raise SystemExit(f"error: --server real: {exc}") from None
        self._testing = testing
        self.keep = keep
        self.audit_poll = audit_poll
        self.env: Any = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._vis = Visibility()
        self._lock = self._vis.lock
        # From the audit logs: the controller's requests.
        self._offsets: dict[str, int] = {}
        self._in_flight: set[str] = set()
        self._first_source_request: float | None = None
        self._verbs: Counter[str] = Counter()
        self._remote_verbs: Counter[str] = Counter()
        self._leases = 0
        self._listed_bytes = self._listed_items = 0

    # -- start ----------------------------------------------------------------------

    def start(self, topology_dir: Path, planned: Sequence[tuple[str, str, str]]) -> None:
        import yaml

        from meshmirror_k8s import rbac

        docs = {p.stem: json.loads(p.read_text()) for p in sorted(topology_dir.glob("*.json"))}
        names = [generate.SOURCE, *sorted(n for n in docs if n != generate.SOURCE)]
        self.env = self._testing.KubeEnvironment(
            [*names, "bare"],
            users=[_user(CONTROLLER_SA), _user(REMOTE_SA)],
            audit_policy=REAL_AUDIT_POLICY,
            keep=self.keep,
        )
        self.env.start()
        _log(f"  {len(names) + 1} apiservers + etcd ready in {self.env.started_s:.1f} s")
        source = self.env[generate.SOURCE]
        crd = ROOT / "tests" / "e2e" / "link-crd.yaml"
        source.apply_crd(yaml.safe_load(crd.read_text()))
        for name in names:
            self._load(name, [d for d in docs[name]["items"] if d["kind"] != "Link"])
            access = rbac.source_manifests(CONTROLLER_SA, LINKS_NS)
            if name != generate.SOURCE:
                access = rbac.remote_access_manifests(REMOTE_SA, LINKS_NS)
            self.env[name].apply(access)
        self._load("bare", [d for d in docs[generate.SOURCE]["items"] if d["kind"] != "Link"])
        secrets = [
            credentials_secret(name, self.env[name].kubeconfig(_user(REMOTE_SA)))
            for name in names[1:]
        ]
        links = [_as_new(d) for d in docs[generate.SOURCE]["items"] if d["kind"] == "Link"]
        source.apply([*secrets, *links])
        del docs

        self._vis.cold(planned)
        for kind, path in (("Service", "/api/v1/services"), ("Endpoints", "/api/v1/endpoints")):
            listed = source.request("GET", path, query={"limit": "1"}).body
            version = listed["metadata"]["resourceVersion"]
            self._thread(self._watch, kind, path, version)
        self._offsets = dict.fromkeys(names, 0)
        self._poll_audit()  # the set-up's requests: none are the controller's
        self._thread(self._follow_audit)

    def _thread(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _load(self, name: str, items: Sequence[Mapping[str, Any]]) -> None:
        """Create ``items`` in cluster ``name``: Namespaces first, the rest 8 at a time."""
        cluster = self.env[name]
        first = [_as_new(d) for d in items if d["kind"] == "Namespace"]
        rest = [_as_new(d) for d in items if d["kind"] != "Namespace"]
        cluster.apply(first)

        def create(doc: dict[str, Any]) -> None:
            response = cluster.create(doc)
            if response.status != 201:
                what = f"{doc['kind']} {doc['metadata'].get('name')}"
                raise RuntimeError(
                    f"{name}: create {what}: HTTP {response.status}: {response.text[:300]}"
                )

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(create, rest))
        _log(f"  {name}: {len(first) + len(rest)} objects created in {time.monotonic() - t0:.1f} s")

    # -- the watch on the source: when planned objects and edits land ----------------

    def _watch(self, kind: str, path: str, version: str) -> None:
        source = self.env[generate.SOURCE]
        while not self._stopping.is_set():
            try:
                for event in source.watch(path, resource_version=version):
                    if event.get("type") == "ERROR":  # 410: too old to resume
                        raise RuntimeError(f"watch {path}: {event.get('object')}")
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    self._landed(kind, str(event.get("type")), obj, time.monotonic())
            except Exception as exc:
                if self._stopping.is_set():
                    return
                _log(f"  watch {path} failed, once more: {exc}")
                time.sleep(0.5)

    def _landed(self, kind: str, event_type: str, obj: dict[str, Any], now: float) -> None:
        meta = obj.get("metadata") or {}
        key = (kind, meta.get("namespace") or "", meta.get("name") or "")
        verb = {"ADDED": "create", "DELETED": "delete"}.get(event_type, "update")
        with self._lock:
            self._vis.seen(key, verb, obj, now)
            self._vis.changed.notify_all()

    # -- the audit logs: what the controller asked ----------------------------------

    def _follow_audit(self) -> None:
        while not self._stopping.wait(self.audit_poll):
            with contextlib.suppress(OSError):
                self._poll_audit()

    def _poll_audit(self) -> None:
        source_user, remote_user = _user(CONTROLLER_SA), _user(REMOTE_SA)
        with self._lock:
            for name, offset in self._offsets.items():
                events, self._offsets[name] = self.env[name].audit_from(offset)
                user = source_user if name == generate.SOURCE else remote_user
                for event in events:
                    if (event.get("user") or {}).get("username") == user:
                        self._audited(name, event)
            self._vis.in_flight = len(self._in_flight)
            self._vis.changed.notify_all()

    def _audited(self, cluster: str, event: dict[str, Any]) -> None:
        now = time.monotonic()
        stage, verb = event.get("stage"), str(event.get("verb"))
        lease = (event.get("objectRef") or {}).get("resource") == "leases"
        watched = verb == "watch" or lease
        if stage == "RequestReceived":  # each request once, as it arrives
            if cluster == generate.SOURCE and self._first_source_request is None:
                received = datetime.datetime.fromisoformat(event["requestReceivedTimestamp"])
                self._first_source_request = now - (time.time() - received.timestamp())
            if lease:
                self._leases += 1
            else:
                self._verbs[verb] += 1
                if cluster != generate.SOURCE:
                    self._remote_verbs[verb] += 1
            if not watched:
                self._in_flight.add(event["auditID"])
        elif stage in ("ResponseComplete", "Panic") and not watched:
            self._in_flight.discard(event["auditID"])
            self._vis.last_activity = now
            answer = event.get("responseObject")
            if verb == "list" and isinstance(answer, dict):
                self._listed_bytes += len(json.dumps(answer, separators=(",", ":")))
                self._listed_items += len(answer.get("items") or ())

    # -- the Servers protocol -------------------------------------------------------

    def kubeconfig(self, cluster: str) -> str:
        if cluster == generate.SOURCE:
            return str(self.env[cluster].kubeconfig(_user(CONTROLLER_SA)))
        return str(self.env[cluster].kubeconfig())  # bare: the admin

    def edit(self, edits: Sequence[Mapping[str, Any]]) -> list[int]:
        handles = []
        for edit in edits:
            cluster = self.env[edit["cluster"]]
            kind = "Endpoints" if edit["kind"] == "unready" else "Service"
            doc = cluster.get_or_none("v1", kind, edit["namespace"], edit["name"])
            if doc is None:
                raise ValueError(f"no {kind} {edit['namespace']}/{edit['name']}")
            doc = {"apiVersion": "v1", "kind": kind, **doc}
            handles.append(self._vis.expect(edit))
            cluster.apply([apply_edit(doc, edit)])  # a replace at the version read
        return handles

    def wait(self, handle: int, timeout: float) -> tuple[float, float | None]:
        return self._vis.wait(handle, timeout)

    def quiet(self, seconds: float, timeout: float) -> bool:
        return self._vis.quiet(seconds, timeout)

    def drain(self) -> dict[str, Any]:
        self._poll_audit()
        with self._lock:
            out = {
                "verbs": dict(self._verbs),
                "remote_verbs": dict(self._remote_verbs),
                "leases": self._leases,
                "listed_bytes": self._listed_bytes,
                "listed_items": self._listed_items,
            }
            self._verbs, self._remote_verbs, self._leases = Counter(), Counter(), 0
            self._listed_bytes = self._listed_items = 0
        return out

    def first_request(self) -> float | None:
        with self._lock:
            return self._first_source_request

    def stop(self) -> None:
        self._stopping.set()
        if self.env is not None:
            self.env.stop()  # the watches end with their servers
            if self.keep:
                _log(f"kept {self.env.directory} (apiserver logs, audit logs)")
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []


# -- the server process (``--serve``) ------------------------------------------------------


def serve() -> int:
    """The child process: commands on stdin, answers on stdout (one JSON line each)."""
    sys.path.insert(0, str(ROOT / "tests" / "k8s"))
    from kube_server import KubeServer, Recorded

    from meshmirror.effects.backends.memory import FakeCluster

    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write on the protocol stream

    class Bench:
        def __init__(self) -> None:
            self.clusters: dict[str, FakeCluster] = {}
            self.servers: dict[str, KubeServer] = {}
            self.vis = Visibility()
            self.lock = self.vis.lock
            self.records: list[tuple[str, Recorded]] = []
            self.first_source_request: float | None = None

        # called from the servers' handler threads
        def started(self, cluster: str, rec: Recorded) -> None:
            if cluster == generate.SOURCE and self.first_source_request is None:
                self.first_source_request = time.monotonic()
            if rec.verb != "watch" and rec.resource != "leases":
                with self.lock:
                    self.vis.in_flight += 1

        def finished(self, cluster: str, rec: Recorded) -> None:
            now = time.monotonic()
            with self.lock:
                self.records.append((cluster, rec))
                if rec.verb != "watch" and rec.resource != "leases":
                    self.vis.in_flight -= 1
                    self.vis.last_activity = now
                written = rec.verb in ("create", "update", "delete") and 200 <= rec.status < 300
                if cluster == generate.SOURCE and written:
                    self._written(rec, now)
                self.vis.changed.notify_all()

        def _written(self, rec: Recorded, now: float) -> None:
            kind = {"services": "Service", "endpoints": "Endpoints"}.get(rec.resource or "")
            if kind is None:
                return
            body = rec.body if isinstance(rec.body, dict) else {}
            name = rec.name or (body.get("metadata") or {}).get("name") or ""
            self.vis.seen((kind, rec.namespace or "", name), rec.verb, body, now)

        # commands
        def start(self, topo: str, planned: list[list[str]], poll: float) -> None:
            bench = self

            class Server(KubeServer):
                def _record(self, rec: Recorded) -> None:
                    super()._record(rec)
                    bench.started(self.cluster.name, rec)

            docs = {p.stem: json.loads(p.read_text()) for p in sorted(Path(topo).glob("*.json"))}
            source = generate.SOURCE
            expected = len(planned)
            for name, doc in docs.items():
                history = max(10_000, 3 * expected) if name == source else 2_000
                self.clusters[name] = FakeCluster.from_manifests(name, [doc], history=history)
            items = docs[source]["items"]
            self.clusters["bare"] = FakeCluster.from_manifests(
                "bare", [d for d in items if d["kind"] != "Link"], history=100
            )
            for name, cluster in self.clusters.items():
                server = Server(
                    cluster,
                    token=token_for(name),
                    poll_interval=poll,
                    bookmark_interval=60.0,  # a real server: seldom, only when asked
                    max_watch_seconds=3600.0,
                )
                server.listeners.append(lambda rec, n=name: self.finished(n, rec))
                self.servers[name] = server.start()
            secrets = [
                credentials_secret(name, kubeconfig(self.servers[name].url, token_for(name)))
                for name in docs
                if name != source
            ]
            self.clusters[source].apply(secrets)
            self.vis.cold(planned)

        def kubeconfig(self, cluster: str) -> str:
            return kubeconfig(self.servers[cluster].url, token_for(cluster))

        def first_request(self) -> float | None:
            return self.first_source_request

        def edit(self, edits: list[dict[str, Any]]) -> list[int]:
            handles = []
            for edit in edits:
                cluster = self.clusters[edit["cluster"]]
                kind = "Endpoints" if edit["kind"] == "unready" else "Service"
                doc = cluster.get(kind, edit["namespace"], edit["name"])
                if doc is None:
                    raise ValueError(f"no {kind} {edit['namespace']}/{edit['name']}")
                handles.append(self.vis.expect(edit))
                cluster.apply([apply_edit(doc, edit)])
            return handles

        def wait(self, handle: int, timeout: float) -> tuple[float, float | None]:
            return self.vis.wait(handle, timeout)

        def quiet(self, seconds: float, timeout: float) -> bool:
            return self.vis.quiet(seconds, timeout)

        def drain(self) -> dict[str, Any]:
            with self.lock:
                records, self.records = self.records, []
            for server in self.servers.values():
                server.clear()
            verbs: Counter[str] = Counter()
            remote: Counter[str] = Counter()
            leases = 0
            listed_bytes = listed_items = 0
            for cluster, rec in records:
                if cluster == "bare":
                    continue
                if rec.resource == "leases":
                    leases += 1
                    continue
                verbs[rec.verb] += 1
                if cluster != generate.SOURCE:
                    remote[rec.verb] += 1
                if rec.verb == "list":
                    listed_bytes += rec.bytes
                    listed_items += rec.items
            return {
                "verbs": dict(verbs),
                "remote_verbs": dict(remote),
                "leases": leases,
                "listed_bytes": listed_bytes,
                "listed_items": listed_items,
            }

        def stop(self) -> None:
            for server in self.servers.values():
                server.stop()

    bench = Bench()
    for line in sys.stdin:
        command, *args = json.loads(line)
        try:
            result = getattr(bench, command)(*args)
            answer: dict[str, Any] = {"ok": result}
        except Exception as exc:  # reported to the driver, which stops
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
        if command == "stop":
            break
    return 0


# -- the controller process -----------------------------------------------------------------


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


class ControllerProcess:
    """``python -m meshmirror_k8s`` with a kubeconfig for the source; RSS sampled."""

    def __init__(self, kubeconfig_path: Path, args: Sequence[str], log_path: Path) -> None:
        self._log = log_path.open("w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meshmirror_k8s",
                "--kubeconfig",
                str(kubeconfig_path),
                "--namespace",
                LINKS_NS,
                "--no-resolve",
                "--no-gateway-probes",  # the generated gateways are documentation addresses
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            cwd=ROOT,
        )
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            try:
                self.samples.append((time.monotonic(), _proc_status(self.proc.pid, "VmRSS")))
            except OSError:
                return
            self._stop.wait(0.05)

    def cpu_s(self) -> float:
        return _proc_cpu_s(self.proc.pid)

    def max_rss(self) -> int:
        return _proc_status(self.proc.pid, "VmHWM")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def controller_flags() -> str:
    """The controller's --help text (to find optional flags such as write concurrency)."""
    return subprocess.run(
        [sys.executable, "-m", "meshmirror_k8s", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout


def concurrency_flag(help_text: str) -> str | None:
    found = re.search(r"--(write-)?concurrency\b", help_text)
    return found.group(0) if found else None


# -- the bare client ----------------------------------------------------------------------


def bare_create(config_text: str, manifests: Sequence[dict[str, Any]], threads: int) -> float:
    """Seconds for a minimal client (the official client's request path, raw JSON) to
    create ``manifests`` with ``threads`` requests in flight; Services before Endpoints."""
    from kubernetes.client import ApiClient

    from meshmirror_k8s.credentials import api_client, parse_kubeconfig
    from meshmirror_k8s.resources import RESOURCES

    client: ApiClient = api_client(parse_kubeconfig(config_text, link="bare"))
    client.rest_client.pool_manager.connection_pool_kw["maxsize"] = max(threads, 1)

    def create(doc: dict[str, Any]) -> None:
        resource = RESOURCES[doc["kind"]]
        request = client.param_serialize(
            "POST",
            resource.path(doc["metadata"]["namespace"]),
            query_params=[("fieldManager", "bare")],
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=doc,
            auth_settings=["BearerToken"],
        )
        response = client.call_api(*request, _request_timeout=(5.0, 30.0))
        raw = response.response
        raw.read()
        raw.release_conn()
        if raw.status != 201:
            raise RuntimeError(f"bare create {doc['kind']}: HTTP {raw.status}")

    services = [d for d in manifests if d["kind"] == "Service"]
    others = [d for d in manifests if d["kind"] != "Service"]
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        for batch in (services, others):
            list(pool.map(create, batch))
    elapsed = time.monotonic() - start
    client.close()  # type: ignore[no-untyped-call]
    return elapsed


# -- the run ------------------------------------------------------------------------------


def _planned(topo: generate.Topology) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(planned manifests but Namespaces, gateway mirrors one can edit, mirrored Services)."""
    from meshmirror import plan, to_manifest
    from meshmirror.formats.manifest import cluster_state

    states = {n: cluster_state(n, [d]) for n, d in topo.clusters.items()}
    source = states.pop(generate.SOURCE)
    p = plan(source, states)
    manifests = [to_manifest(o) for o in p.objects if o.kind != "Namespace"]
    ready = {
        (m["metadata"]["namespace"], m["metadata"]["name"])
        for m in manifests
        if m["kind"] == "Endpoints" and any(s.get("addresses") for s in m.get("subsets") or [])
    }
    headless = {
        (m["metadata"]["namespace"], m["metadata"]["name"])
        for m in manifests
        if m["kind"] == "Service" and m.get("spec", {}).get("clusterIP") == "None"
    }
    editable = [
        {"cluster": m.target, "namespace": m.namespace, "name": m.remote_name, "mirror": m.name}
        for m in p.mirrors
        if m.mode == "gateway"
        and (m.namespace, m.name) in ready
        and (m.namespace, m.name) not in headless
    ]
    # Spread over clusters, deterministically: round-robin by cluster.
    by_cluster: dict[str, list[dict[str, Any]]] = {}
    for e in editable:
        by_cluster.setdefault(e["cluster"], []).append(e)
    spread: list[dict[str, Any]] = []
    queues = [by_cluster[c] for c in sorted(by_cluster)]
    while any(queues):
        for q in queues:
            if q:
                spread.append(q.pop(0))
    return manifests, spread, len(p.mirrors) + len(p.federated)


def settle(servers: Servers, controller: ControllerProcess, seconds: float, timeout: float) -> bool:
    """Wait until the controller is quiet: no request (watches and Leases aside) for
    ``seconds``, then under a tenth of a core of CPU for another ``seconds`` with still
    no request. (Requests alone are not enough: a sync can compute for seconds between
    its writes and the next sync's lists.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not servers.quiet(seconds, max(0.0, deadline - time.monotonic())):
            return False
        cpu = controller.cpu_s()
        time.sleep(seconds)
        busy = controller.cpu_s() - cpu
        if busy < 0.1 * seconds and servers.quiet(2 * seconds, 0.0):
            return True
    return False


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _figures(latencies: Sequence[float]) -> dict[str, Any]:
    return {
        "p50_s": _round(_percentile(latencies, 0.5)),
        "p99_s": _round(_percentile(latencies, 0.99)),
        "max_s": _round(max(latencies) if latencies else None),
        "mean_s": _round(statistics.fmean(latencies) if latencies else None),
        "count": len(latencies),
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _per(counts: Mapping[str, int], n: float) -> dict[str, float]:
    return {v: round(counts.get(v, 0) / n, 3) for v in VERBS} if n else dict.fromkeys(VERBS, 0.0)


def _edits(
    kind: str, pool: Iterator[dict[str, Any]], count: int, round_: int
) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        target = next(pool)
        value: Any = f"r{round_}-{i}"
        if kind == "port":
            value = 20000 + round_ * 1000 + i
        out.append({**target, "kind": kind, "value": value})
    return out


def _cycle(items: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    while True:
        yield from items


def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n_remotes, per_cluster = args.clusters, args.services
    _log(f"generating {n_remotes} linked clusters x {per_cluster} Services (+ the source)")
    topo = generate.generate(n_remotes + 1, per_cluster, seed=args.seed)
    manifests, editable, mirrored = _planned(topo)
    planned = [(m["kind"], m["metadata"]["namespace"], m["metadata"]["name"]) for m in manifests]
    # Unexports and readiness edits need Services of their own (each can happen once);
    # label and port edits may reuse any other.
    own = args.edits
    if len(editable) < 2 * own + 1:
        raise SystemExit(
            f"error: only {len(editable)} gateway mirrors with ready Endpoints; "
            f"need more than {2 * own} (more --services, or fewer --edits)"
        )
    pools = {"unexport": iter(editable[:own]), "unready": iter(editable[own : 2 * own])}
    other_pool = editable[2 * own :]
    out["clusters"] = n_remotes
    out["services"] = n_remotes * per_cluster
    out["source_services"] = per_cluster
    out["mirrored_services"] = mirrored
    out["planned_objects"] = len(planned)

    work = Path(tempfile.mkdtemp(prefix="meshmirror-bench-"))
    servers: Servers = (
        RealServers(keep=args.keep) if args.server == "real" else InRepoServers(args.poll)
    )
    controller: ControllerProcess | None = None
    try:
        for name, doc in topo.clusters.items():
            (work / f"{name}.json").write_text(json.dumps(doc))
        del topo
        _log("starting the servers")
        servers.start(work, planned)
        help_text = controller_flags()
        flag = concurrency_flag(help_text)
        threads = args.concurrency if args.concurrency else (8 if flag else 1)
        out["write_concurrency"] = threads

        _log(f"bare client: {len(manifests)} creates, {threads} at a time")
        out["bare_client_create_s"] = _round(
            bare_create(servers.kubeconfig("bare"), manifests, threads), 3
        )
        del manifests
        servers.drain()

        path = work / "source.kubeconfig"
        path.write_text(servers.kubeconfig(generate.SOURCE))
        flags = ["--resync-period", str(args.resync_period), "--log-level", "warning"]
        if flag:
            flags += [flag, str(threads)]
        _log("starting the controller")
        start_handle = 0
        controller = ControllerProcess(path, flags, work / "controller.log")
        t_start = controller.started
        _, t_cold = servers.wait(start_handle, args.timeout)
        if t_cold is None:
            raise SystemExit(f"error: not every planned object appeared in {args.timeout} s")
        out["cold_start_s"] = _round(t_cold - t_start, 3)
        out["over_bare_client"] = _round(out["cold_start_s"] / out["bare_client_create_s"], 2)
        settle(servers, controller, args.quiet, args.timeout)
        cold = servers.drain()
        out["cold_start_requests"] = cold["verbs"]
        out["cold_start_listed_bytes"] = cold["listed_bytes"]
        # Resident size once the process has imported everything and starts its work.
        first = servers.first_request() or t_start
        rss_start = next((rss for t, rss in controller.samples if t >= first and rss), 0)

        _log(f"single edits: {args.edits} of each of {', '.join(EDIT_KINDS)}")
        cpu0 = controller.cpu_s()
        phase_start = time.monotonic()
        per_kind: dict[str, list[float]] = {}
        pool = _cycle(other_pool)
        verbs: Counter[str] = Counter()
        remote_verbs: Counter[str] = Counter()
        listed_bytes = listed_items = leases = 0
        missed = 0
        for round_, kind in enumerate(EDIT_KINDS, 1):
            _log(f"  {args.edits} {kind} edits")
            latencies: list[float] = []
            for edit in _edits(kind, pools.get(kind, pool), args.edits, round_):
                (handle,) = servers.edit([edit])
                t0, t1 = servers.wait(handle, args.timeout)
                if t1 is None:
                    missed += 1
                else:
                    latencies.append(t1 - t0)
                settle(servers, controller, args.quiet, args.timeout)
            per_kind[kind] = latencies
            stats = servers.drain()
            verbs.update(stats["verbs"])
            remote_verbs.update(stats["remote_verbs"])
            listed_bytes += stats["listed_bytes"]
            listed_items += stats["listed_items"]
            leases += stats["leases"]
        cpu1 = controller.cpu_s()
        phase_s = time.monotonic() - phase_start
        events = args.edits * len(EDIT_KINDS)
        every = [x for v in per_kind.values() for x in v]
        out["event_visible_p50_s"] = _round(_percentile(every, 0.5))
        out["event_visible_p99_s"] = _round(_percentile(every, 0.99))
        out["event_visible_by_kind"] = {k: _figures(v) for k, v in per_kind.items()}
        out["events"] = events
        out["events_not_visible"] = missed
        out["event_cpu_s"] = _round((cpu1 - cpu0) / events, 5)
        out["requests_per_event"] = _per(verbs, events)
        out["remote_requests_per_event"] = _per(remote_verbs, events)
        out["bytes_listed_per_event"] = round(listed_bytes / events)
        out["objects_listed_per_event"] = round(listed_items / events, 1)
        out["lease_requests_per_s"] = round(leases / phase_s, 3) if phase_s else None

        _log(f"a burst of {args.burst} label edits")
        burst = _edits("label", pool, args.burst, 99)
        t_burst = time.monotonic()
        handles = servers.edit(burst)
        seen = [servers.wait(h, args.timeout) for h in handles]
        done = [t1 for _, t1 in seen if t1 is not None]
        out["burst_edits"] = args.burst
        out["burst_visible_s"] = _round(max(done) - t_burst if done else None, 3)
        out["burst_visible_p50_s"] = _round(_percentile([t1 - t0 for t0, t1 in seen if t1], 0.5))
        out["burst_not_visible"] = len(seen) - len(done)
        settle(servers, controller, args.quiet, args.timeout)
        burst_stats = servers.drain()
        out["burst_requests"] = burst_stats["verbs"]

        periods = args.idle_periods
        _log(f"idle: {periods} resync period(s) of {args.resync_period} s")
        # Settled first (the burst's own writes may wake one more sync), then watched.
        settle(servers, controller, args.quiet, args.timeout)
        servers.drain()
        t_idle = time.monotonic()
        time.sleep(periods * args.resync_period)
        settle(servers, controller, args.quiet, args.timeout)  # a sync under way: whole
        idle = servers.drain()
        window = time.monotonic() - t_idle
        # Per resync period watched (the window's end waits for a sync under way).
        out["idle_requests_per_resync"] = _per(idle["verbs"], periods)
        out["idle_requests"] = idle["verbs"]
        out["idle_window_s"] = round(window, 2)
        out["idle_bytes_listed_per_resync"] = round(idle["listed_bytes"] / periods)
        out["resync_period_s"] = args.resync_period

        out["max_rss_bytes"] = controller.max_rss()
        out["rss_start_bytes"] = rss_start
        out["rss_per_service_bytes"] = (
            round((out["max_rss_bytes"] - rss_start) / mirrored) if mirrored else None
        )
        if not controller.alive():
            raise SystemExit("error: the controller exited during the run")
    finally:
        if controller is not None:
            controller.stop()
            log_tail = (work / "controller.log").read_text().splitlines()[-5:]
            out["controller_log_tail"] = [line[:300] for line in log_tail]
        servers.stop()
        if args.keep:
            _log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    import kubernetes

    out["server"] = servers.name
    out["server_poll_interval_s"] = args.poll if args.server == "inrepo" else None
    out["python_version"] = platform.python_version()
    out["k8s_client_version"] = kubernetes.__version__
    out["quiet_s"] = args.quiet
    out["nproc"] = os.cpu_count()
    out["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return out


SIZES = {"quick": (10, 200), "full": (100, 1000)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="the controller benchmark (docs/design.md, section 4.5)"
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="10 linked clusters x 200 (default)")
    size.add_argument("--full", action="store_true", help="100 linked clusters x 1,000")
    p.add_argument("--clusters", type=int, help="linked clusters (overrides the size)")
    p.add_argument("--services", type=int, help="Services per cluster (overrides the size)")
    p.add_argument("--edits", type=int, default=20, help="single edits of each kind")
    p.add_argument("--burst", type=int, default=100, help="edits at once")
    p.add_argument("--idle-periods", type=int, default=2, help="resync periods watched idle")
    p.add_argument("--resync-period", type=float, default=10.0, help="the controller's")
    p.add_argument("--quiet", type=float, default=0.6, help="seconds without requests = quiet")
    p.add_argument("--timeout", type=float, default=600.0, help="for each wait")
    p.add_argument("--poll", type=float, default=0.005, help="the in-repo server's watch poll")
    p.add_argument("--concurrency", type=int, help="write concurrency (default: the controller's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--server", choices=("inrepo", "real"), default="inrepo")
    p.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs; real servers': theirs)"
    )
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve:
        return serve()
    default = SIZES["full" if args.full else "quick"]
    args.clusters = args.clusters or default[0]
    args.services = args.services or default[1]
    started = time.monotonic()
    figures = run(args)
    figures["total_s"] = round(time.monotonic() - started, 1)
    missing = [k for k in CONTRACT_KEYS if k not in figures]
    if missing:
        raise SystemExit(f"error: missing keys: {missing}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

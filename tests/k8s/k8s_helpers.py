"""Shared builders for the Kubernetes adapter tests: manifests, kubeconfigs, a topology
of FakeClusters each served over HTTP by :class:`KubeServer`, and plan checks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from kube_server import KubeServer

from builders import eps as eps  # re-exported for the adapter tests
from builders import namespace as ns  # noqa: F401 (re-exported for the adapter tests)
from builders import plain
from builders import svc as svc  # re-exported for the adapter tests
from meshmirror import PlanOptions, diff, plan, to_manifest
from meshmirror.effects.backends import Manifest
from meshmirror.effects.backends.memory import FakeCluster
from meshmirror.formats.manifest import cluster_state
from meshmirror.values.model import ObjectRef
from meshmirror_k8s.backend import Backoff, KubernetesBackend, Timeouts
from meshmirror_k8s.cli import link_main
from meshmirror_k8s.controller import Controller, ControllerConfig
from meshmirror_k8s.credentials import api_client, parse_kubeconfig

LINKS_NS = "linkerd-multicluster"
OWNED = "mirror.linkerd.io/mirrored-service"
GATEWAY = {"east": "192.0.2.10", "north": "192.0.2.20"}
TOKENS = {
    "west": "token-west-0123456789",
    "east": "token-east-abcdefghij",
    "north": "token-north-klmnopq",
}
FAST = Timeouts(connect=2.0, read=5.0, watch=2)


def kubeconfig(server: str, token: str, *, user: dict[str, Any] | None = None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": server}}],
            "users": [{"name": "u", "user": user if user is not None else {"token": token}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )


def credentials_secret(name: str, text: str, namespace: str = LINKS_NS) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "mirror.linkerd.io/remote-kubeconfig",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"kubeconfig": base64.b64encode(text.encode()).decode()},
    }


def link_documents(target: str, server: KubeServer, *extra: str) -> list[Manifest]:
    """What ``meshmirror link`` prints for the source (Secret + Link), parsed."""
    out, err = io.StringIO(), io.StringIO()
    args = [
        "--cluster-name",
        target,
        "--api-server",
        server.url,
        "--token",
        server.token or "",
        "--print",
        "source",
    ]
    if "--gateway=false" not in extra:
        args += [
            "--gateway-addresses",
            GATEWAY[target],
            "--gateway-port",
            "4143",
            "--gateway-identity",
            f"gateway.{target}.example",
        ]
    code = link_main([*args, *extra], out=out, err=err)
    assert code == 0, err.getvalue()
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


def remote_rbac_documents() -> list[Manifest]:
    out, err = io.StringIO(), io.StringIO()
    code = link_main(
        ["--cluster-name", "east", "--gateway=false", "--print", "target"], out=out, err=err
    )
    assert code == 0, err.getvalue()
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


@dataclass
class Topology:
    """west (source) linked to east and north; each cluster behind its own KubeServer
    with its own token."""

    clusters: dict[str, FakeCluster]
    servers: dict[str, KubeServer]
    options: PlanOptions = field(default_factory=PlanOptions)
    sleeps: list[float] = field(default_factory=list)

    @property
    def west(self) -> FakeCluster:
        return self.clusters["west"]

    def source_backend(self, **kwargs: Any) -> KubernetesBackend:
        server = self.servers["west"]
        client = api_client(parse_kubeconfig(kubeconfig(server.url, TOKENS["west"]), link="west"))
        kwargs.setdefault("timeouts", FAST)
        kwargs.setdefault("backoff", Backoff(retries=4, base=0.01))
        kwargs.setdefault("sleep", self.sleeps.append)
        return KubernetesBackend(
            "west",
            client,
            namespaces={"Link": LINKS_NS, "Secret": LINKS_NS, "Lease": LINKS_NS},
            **kwargs,
        )

    def controller(self, **config: Any) -> Controller:
        config.setdefault("options", self.options)
        config.setdefault("timeouts", FAST)
        config.setdefault("backoff", Backoff(retries=4, base=0.01))
        config.setdefault("resolve", None)
        # The topology's gateways (192.0.2.x) are not on loopback: never probed here.
        config.setdefault("probe_gateways", False)
        out = config.pop("out", None) or io.StringIO()
        return Controller(
            self.source_backend(), ControllerConfig(namespace=LINKS_NS, **config), out=out
        )

    def planned(self) -> Any:
        source = cluster_state("west", self.west.dump())
        remotes = {n: cluster_state(n, c.dump()) for n, c in self.clusters.items() if n != "west"}
        return plan(source, remotes, options=self.options)

    def owned(self) -> dict[ObjectRef, Manifest]:
        docs = [d for d in self.west.dump() if d["kind"] in ("Service", "Endpoints")]
        state = cluster_state("west", docs)
        out = {}
        for obj in [*state.services.values(), *state.endpoints.values()]:
            if obj.labels.get(OWNED) == "true":
                out[obj.ref] = plain(to_manifest(obj))
        return dict(sorted(out.items()))

    def assert_converged(self) -> None:
        p = self.planned()
        changes = diff(p, cluster_state("west", self.west.dump()))
        assert not changes, changes.describe()
        want = {o.ref: to_manifest(o) for o in p.objects if o.kind != "Namespace"}
        assert self.owned() == dict(sorted(want.items()))

    def remote_requests(self) -> Iterator[tuple[str, Any]]:
        for name, server in self.servers.items():
            if name != "west":
                for rec in server.recorded():
                    yield name, rec

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``check()``'s first truthy value, polled until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {check}")


@contextlib.contextmanager
def running(controller: Controller, **kwargs: Any) -> Iterator[None]:
    """``controller.run()`` in a thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(controller.run(stop, **kwargs),), daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
    assert not thread.is_alive()

"""The same ``--once`` scenario against kmock's KubernetesEmulator: a Kubernetes-protocol
server we did not write, to catch assumptions our own KubeServer shares with the adapter.

kmock 0.8 stores objects as sent (no resourceVersion, uid, defaults or clusterIP), lists
with ``resourceVersion: "..."``, ignores delete preconditions, and routes PATCH (not PUT)
as an update; so this scenario is what a first sync against it can show: creates of
every mode's mirrors, a stale owned mirror deleted, non-owned objects untouched, nothing
written to the remotes, each remote asked with its own token, and a second pass that
writes nothing.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from k8s_helpers import GATEWAY, LINKS_NS, OWNED, TOKENS, eps, kubeconfig, ns, svc
from kmock import KubernetesEmulator, ResourceInfo, Server

from meshmirror import diff, plan
from meshmirror.formats.manifest import cluster_state
from meshmirror_k8s.__main__ import main
from meshmirror_k8s.cli import link_main

RESOURCES = {
    "Namespace": "v1/namespaces",
    "Service": "v1/services",
    "Endpoints": "v1/endpoints",
    "Secret": "v1/secrets",
    "EndpointSlice": "discovery.k8s.io/v1/endpointslices",
    "Link": "multicluster.linkerd.io/v1alpha3/links",
}


class Emulator(KubernetesEmulator):
    """kmock's emulator, except for one path its 0.8 parser cannot take apart:
    ``GET /api/v1/namespaces`` (a ValueError, answered as HTTP 500). That one collection
    is served from the emulator's own objects; every other request is kmock's."""

    async def __call__(self, raw_request: web.BaseRequest) -> web.StreamResponse:
        if raw_request.method == "GET" and raw_request.path == "/api/v1/namespaces":
            self.namespace_lists += 1
            items = [
                dict(obj.raw)
                for (resource, _, _), obj in self.objects.items()
                if resource == RESOURCES["Namespace"] and not obj.deleted
            ]
            return web.json_response(
                {"apiVersion": "v1", "kind": "NamespaceList", "metadata": {}, "items": items}
            )
        return await super().__call__(raw_request)


class Emulated:
    """One cluster in a KubernetesEmulator."""

    def __init__(self, name: str, emulator: KubernetesEmulator, server: Server) -> None:
        self.name = name
        self.kmock = emulator
        self.url = str(server.url).rstrip("/")
        for resource in RESOURCES.values():
            emulator.resources[resource] = ResourceInfo()

    def put(self, *docs: dict[str, Any]) -> None:
        for doc in docs:
            meta = doc["metadata"]
            self.kmock.objects[RESOURCES[doc["kind"]], meta.get("namespace"), meta["name"]] = doc

    def dump(self) -> list[dict[str, Any]]:
        out = []
        for (resource, _, _), obj in self.kmock.objects.items():
            if obj.deleted:
                continue
            kind = next(k for k, r in RESOURCES.items() if resource == r)
            out.append({"kind": kind, **dict(obj.raw)})
        return out

    def requests(self) -> list[tuple[str, str, str]]:
        """(method, path, bearer token) of every request served."""
        out = []
        for request in self.kmock:
            headers = {k.lower(): v for k, v in request.headers.items()}
            auth = headers.get("authorization", "")
            out.append(
                (str(request.method.value), str(request.url.path), auth.removeprefix("Bearer "))
            )
        return out


@pytest_asyncio.fixture
async def clusters() -> AsyncIterator[dict[str, Emulated]]:
    async with AsyncExitStack() as stack:
        out = {}
        for name in ("west", "east", "north"):
            emulator = await stack.enter_async_context(Emulator())
            emulator.namespace_lists = 0
            server = await stack.enter_async_context(Server(emulator))
            out[name] = Emulated(name, emulator, server)
        yield out


def link_docs(target: str, url: str, *extra: str) -> list[dict[str, Any]]:
    import yaml

    out, err = io.StringIO(), io.StringIO()
    args = [
        "--cluster-name",
        target,
        "--api-server",
        url,
        "--token",
        TOKENS[target],
        "--print",
        "source",
    ]
    if "--gateway=false" not in extra:
        args += ["--gateway-addresses", GATEWAY[target], "--gateway-port", "4143",
                 "--gateway-identity", f"gateway.{target}.example"]  # fmt: skip
    assert link_main([*args, *extra], out=out, err=err) == 0, err.getvalue()
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


@pytest.mark.asyncio
async def test_once_against_kmock(clusters: dict[str, Emulated], tmp_path: Path) -> None:
    west, east, north = clusters["west"], clusters["east"], clusters["north"]
    stale = svc(
        "gone-east", export=None, labels={OWNED: "true", "mirror.linkerd.io/cluster-name": "east"}
    )
    west.put(
        ns(LINKS_NS), ns("shop"),
        svc("legacy", export=None), svc("api-north", export=None),  # not ours
        stale,  # an owned mirror whose remote Service no longer exists
        *link_docs("east", east.url), *link_docs("north", north.url, "--gateway=false"),
    )  # fmt: skip
    east.put(
        ns("shop"), svc("web"), eps("web", "shop", "10.2.0.1"),
        svc("db", export="remote-discovery"), svc("cache", export=None, member=True),
        svc("internal", export=None),
    )  # fmt: skip
    north.put(
        ns("shop"), svc("api", export="remote-discovery"), svc("cache", export=None, member=True)
    )
    untouched = {
        (d["kind"], d["metadata"]["name"]): d
        for d in west.dump()
        if (d["metadata"].get("labels") or {}).get(OWNED) != "true"
    }
    path = tmp_path / "west.kubeconfig"
    path.write_text(kubeconfig(west.url, TOKENS["west"]))
    argv = ["--kubeconfig", str(path), "--once", "--no-resolve", "--request-timeout", "5"]

    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(main, argv, out=out, err=err)
    assert code == 0, err.getvalue()

    # The source holds exactly the plan of what the emulators hold.
    states = {name: cluster_state(name, c.dump()) for name, c in clusters.items()}
    planned = plan(states["west"], {"east": states["east"], "north": states["north"]})
    assert not diff(planned, states["west"]), diff(planned, states["west"]).describe()
    names = {d["metadata"]["name"] for d in west.dump() if d["kind"] in ("Service", "Endpoints")}
    assert {"web-east", "db-east", "cache-federated"} <= names
    assert "gone-east" not in names and "api-north" in names
    after = {
        (d["kind"], d["metadata"]["name"]): d
        for d in west.dump()
        if (d["metadata"].get("labels") or {}).get(OWNED) != "true"
    }
    assert after == untouched
    for remote in (east, north):
        requests = remote.requests()
        assert requests and {m for m, _, _ in requests} == {"GET"}, requests
        assert {t for _, _, t in requests} == {TOKENS[remote.name]}
    assert west.kmock.namespace_lists >= 1  # the source's Namespaces were read
    assert east.kmock.namespace_lists == north.kmock.namespace_lists == 0  # never a remote's
    writes = [(m, p) for m, p, _ in west.requests() if m != "GET"]
    assert {m for m, _ in writes} == {"POST", "DELETE"}
    assert all(p.endswith(("/services", "/endpoints", "/services/gone-east")) for _, p in writes)

    # A second pass: nothing to do.
    before = len(west.requests())
    code = await asyncio.to_thread(main, argv, out=io.StringIO(), err=io.StringIO())
    assert code == 0
    assert all(m == "GET" for m, _, _ in west.requests()[before:])

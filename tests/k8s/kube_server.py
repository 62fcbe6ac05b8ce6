"""A small Kubernetes-protocol HTTP server over a :class:`FakeCluster`, for tests.

Stdlib only (``http.server`` in a thread, 127.0.0.1, an ephemeral port). It deliberately
does not import ``meshmirror_k8s``: its URL parsing and wire format are written from the
Kubernetes API conventions, not from the client code under test.

What it emulates (also listed in docs/kubernetes.md):

- core/v1 ``namespaces`` (cluster-scoped), ``services``, ``endpoints``, ``secrets``,
  ``configmaps``; discovery.k8s.io/v1 ``endpointslices`` (it and ``endpoints`` can be
  switched off: 404 "the server could not find the requested resource");
  multicluster.linkerd.io ``links`` at v1alpha2 and v1alpha3 (no conversion: only
  ``apiVersion`` differs) with a ``status`` subresource; coordination.k8s.io/v1
  ``leases`` (kept in the server, not in FakeCluster).
- get, list (``metadata.resourceVersion`` of the collection; items of built-in kinds
  without ``apiVersion``/``kind``, as the real server; ``limit``/``continue`` pagination
  over one snapshot, ``metadata.continue`` and ``remainingItemCount`` as the real server
  sends them, a continue token that expired (``continue_ttl``, or
  :meth:`KubeServer.expire_continue_tokens`) -> 410 ``Expired``, an unknown one -> 400),
  watch (chunked JSON lines, ``resourceVersion`` ""/"0" first replays ADDED for every
  object, ``timeoutSeconds``, ``allowWatchBookmarks`` -> periodic BOOKMARK events
  carrying the newest version, none unless asked; a too old version -> an ``ERROR``
  event with a 410 ``Status``, or HTTP 410 with ``gone_as_http``), create (POST; 409
  AlreadyExists; 404 for a missing namespace; 400 when ``resourceVersion`` is set),
  update (PUT; 409 on a stale ``resourceVersion``; the main resource of a Link keeps its
  status, ``/status`` changes only the status), delete (``DeleteOptions.preconditions``
  resourceVersion/uid -> 409).
- Bearer-token authentication when ``token`` is set (401 otherwise).
- Faults: any status for the next N matching requests (with ``Retry-After``), dropped
  connections, watches cut after N events, forced 410 on watch; ``stop()``/``start()``
  take the cluster away and back on the same port; ``FakeCluster.set_reachable(False)``
  makes the server drop every connection.
- A recorder: every request's method, path, query, Kubernetes verb, API group, resource
  (``links/status`` for a subresource), namespace, name, status, bearer token and the bytes
  of the answer (a watch: of every event sent); ``listeners`` are called with each
  finished request (benchmarks use them to see writes as they land).

Not emulated: label/field selectors, PATCH of any
kind, server-side apply, dry-run, admission, finalizers and graceful deletion, RBAC
evaluation, discovery documents (``/api``, ``/apis``), Events.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from meshmirror.effects.backends import (
    AlreadyExists,
    BackendError,
    Gone,
    NotFound,
    ServerError,
    Timeout,
    Unreachable,
    WriteConflict,
)
from meshmirror.effects.backends.memory import FakeCluster, Invalid

NOT_SERVED = "the server could not find the requested resource"

# (group, plural) -> (FakeCluster kind, served versions, cluster-scoped)
ROUTES: dict[tuple[str, str], tuple[str, tuple[str, ...], bool]] = {
    ("", "namespaces"): ("Namespace", ("v1",), True),
    ("", "services"): ("Service", ("v1",), False),
    ("", "endpoints"): ("Endpoints", ("v1",), False),
    ("", "secrets"): ("Secret", ("v1",), False),
    ("", "configmaps"): ("ConfigMap", ("v1",), False),
    ("discovery.k8s.io", "endpointslices"): ("EndpointSlice", ("v1",), False),
    ("multicluster.linkerd.io", "links"): ("Link", ("v1alpha3", "v1alpha2"), False),
    ("coordination.k8s.io", "leases"): ("Lease", ("v1",), False),
}
CUSTOM_KINDS = frozenset({"Link"})  # list items keep apiVersion/kind (unstructured)


@dataclass
class Recorded:
    """One request as an authorizer would see it, plus what the server answered."""

    method: str
    path: str
    query: dict[str, str]
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection
    group: str | None
    resource: str | None  # plural, or plural/subresource
    namespace: str | None
    name: str | None
    token: str | None
    status: int = 0
    body: Any = None
    bytes: int = 0  # of the answer's body (a watch: every event sent)
    items: int = 0  # objects in a list's page


@dataclass
class Fault:
    """Applies to the next ``times`` requests matching every given filter.

    ``status``: answer with this HTTP status and a ``Status`` body (0: drop the connection
    without an answer). ``drop_after``: a watch is cut (no final chunk) after that many
    events. ``gone``: a watch answers 410 (as an ERROR event).
    """

    status: int = 500
    method: str | None = None
    path: str | None = None  # substring of the URL path
    verb: str | None = None
    times: int = 1
    retry_after: int | None = None
    drop_after: int | None = None
    gone: bool = False
    hits: int = 0


@dataclass
class _Parsed:
    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_path(path: str) -> _Parsed | None:
    parts = [unquote(p) for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace: str | None = rest[1]
        rest = rest[2:]
    else:
        namespace = None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = "/".join(rest[2:]) or None
    return _Parsed(group, version, plural, namespace, name, sub)


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


class _Abort(Exception):
    """Drop the connection without an answer."""


class _HttpError(Exception):
    def __init__(self, code: int, reason: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.headers = headers or {}


class KubeServer:
    """Serve ``cluster`` over HTTP on 127.0.0.1. Use as a context manager or call
    :meth:`start`/:meth:`stop` (which may be repeated: same port)."""

    def __init__(
        self,
        cluster: FakeCluster,
        *,
        token: str | None = None,
        serve_endpoint_slices: bool = True,
        serve_endpoints: bool = True,
        link_versions: tuple[str, ...] = ("v1alpha3", "v1alpha2"),
        bookmark_interval: float = 0.1,
        poll_interval: float = 0.02,
        max_watch_seconds: float = 5.0,
        gone_as_http: bool = False,
        warnings: dict[str, str] | None = None,
        continue_ttl: float | None = None,
    ) -> None:
        self.cluster = cluster
        # plural -> the text of a ``Warning: 299 - "..."`` header on each of its responses.
        self.warnings = dict(warnings or {})
        self.token = token
        self.serve_endpoint_slices = serve_endpoint_slices
        self.serve_endpoints = serve_endpoints
        self.link_versions = link_versions
        self.bookmark_interval = bookmark_interval
        self.poll_interval = poll_interval
        self.max_watch_seconds = max_watch_seconds
        self.gone_as_http = gone_as_http
        self.continue_ttl = continue_ttl
        self.listeners: list[Callable[[Recorded], None]] = []
        # continue token id -> (when made, the snapshot's items, its resourceVersion)
        self._pages: dict[int, tuple[float, list[dict[str, Any]], str]] = {}
        self._page_ids = 0
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self._lease_rv = 0
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> KubeServer:
        handler = _handler_class(self)
        self._stopping.clear()
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port and every open connection (the cluster is gone)."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> KubeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test helpers ---------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()

    def recorded(self, **where: Any) -> list[Recorded]:
        with self._lock:
            items = list(self.requests)
        return [r for r in items if all(getattr(r, k) == v for k, v in where.items())]

    def writes(self) -> list[Recorded]:
        return [r for r in self.recorded() if r.verb not in ("get", "list", "watch")]

    def expire_continue_tokens(self) -> int:
        """Forget every continue token handed out (as compaction would): their next use
        answers 410. Returns how many there were."""
        with self._lock:
            count = len(self._pages)
            self._pages.clear()
        return count

    def _page(
        self, token: str, limit: int, snapshot: Callable[[], tuple[list[dict[str, Any]], str]]
    ) -> tuple[list[dict[str, Any]], str, str, int]:
        """One page: (items, resourceVersion, next token or "", items remaining)."""
        now = time.monotonic()
        if token:
            try:
                ident, offset = (int(x) for x in token.split(":", 1))
            except ValueError:
                raise _HttpError(400, "BadRequest", "continue key is not valid") from None
            with self._lock:
                entry = self._pages.get(ident)
                ttl = self.continue_ttl
                if entry is not None and ttl is not None and now - entry[0] > ttl:
                    self._pages.pop(ident, None)
                    entry = None
            if entry is None:
                raise _HttpError(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                )
            made, items, rv = entry
        else:
            items, rv = snapshot()
            offset, made = 0, now
            with self._lock:
                self._page_ids += 1
                ident = self._page_ids
        end = offset + limit if limit > 0 else len(items)
        remaining = max(0, len(items) - end)
        with self._lock:
            if remaining:
                self._pages[ident] = (made, items, rv)
            else:
                self._pages.pop(ident, None)
        return items[offset:end], rv, f"{ident}:{end}" if remaining else "", remaining

    # -- request handling (called from handler threads) ---------------------------------

    def _fault_for(self, rec: Recorded) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.hits >= fault.times:
                    continue
                if fault.method and fault.method.upper() != rec.method:
                    continue
                if fault.path and fault.path not in rec.path:
                    continue
                if fault.verb and fault.verb != rec.verb:
                    continue
                fault.hits += 1
                return fault
        return None

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)


def _verb(method: str, parsed: _Parsed | None, query: dict[str, str]) -> str:
    named = parsed is not None and parsed.name is not None
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if named else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }.get(method, method.lower())


def _handler_class(server: KubeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each small write waits ~40 ms for an ACK

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_PATCH(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        # -- plumbing -------------------------------------------------------------------

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            parsed = parse_path(url.path)
            auth = self.headers.get("Authorization") or ""
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            rec = Recorded(
                method=self.command,
                path=url.path,
                query=query,
                verb=_verb(self.command, parsed, query),
                group=parsed.group if parsed else None,
                resource=(
                    f"{parsed.plural}/{parsed.subresource}"
                    if parsed and parsed.subresource
                    else parsed.plural
                    if parsed
                    else None
                ),
                namespace=parsed.namespace if parsed else None,
                name=parsed.name if parsed else None,
                token=token,
            )
            server._record(rec)
            self._warning = server.warnings.get(parsed.plural) if parsed else None
            self._rec = rec
            try:
                body = json.loads(raw) if raw else None
                rec.body = body
                if server.token is not None and token != server.token:
                    raise _HttpError(401, "Unauthorized", "Unauthorized")
                fault = server._fault_for(rec)
                if fault is not None and not (fault.drop_after is not None or fault.gone):
                    if fault.status == 0:
                        raise _Abort()
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(fault.retry_after)
                    raise _HttpError(
                        fault.status, "InternalError", f"injected HTTP {fault.status}", headers
                    )
                if not server.cluster.reachable or server._stopping.is_set():
                    raise _Abort()
                if parsed is None:
                    raise _HttpError(404, "NotFound", NOT_SERVED)
                self._serve(rec, parsed, query, body, fault)
            except _Abort:
                rec.status = -1
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            except _HttpError as err:
                rec.status = err.code
                self._send_json(err.code, _status(err.code, err.reason, err.message), err.headers)
            except ValueError as err:
                rec.status = 400
                self._send_json(400, _status(400, "BadRequest", f"bad request: {err}"))
            finally:
                for listener in list(server.listeners):
                    listener(rec)

        def end_headers(self) -> None:
            # As a real apiserver does for a deprecated resource: on every response.
            if getattr(self, "_warning", None):
                self.send_header("Warning", f'299 - "{self._warning}"')
            super().end_headers()

        def _send_json(self, code: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(doc).encode()
            self._rec.bytes += len(data)
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _ok(self, rec: Recorded, doc: Any, code: int = 200) -> None:
            rec.status = code
            self._send_json(code, doc)

        # -- the API ----------------------------------------------------------------------

        def _serve(
            self,
            rec: Recorded,
            p: _Parsed,
            query: dict[str, str],
            body: Any,
            fault: Fault | None,
        ) -> None:
            route = ROUTES.get((p.group, p.plural))
            if route is None:
                raise _HttpError(404, "NotFound", NOT_SERVED)
            kind, versions, cluster_scoped = route
            if kind == "Link":
                versions = server.link_versions
            if kind == "EndpointSlice" and not server.serve_endpoint_slices:
                raise _HttpError(404, "NotFound", NOT_SERVED)
            if kind == "Endpoints" and not server.serve_endpoints:  # a future Kubernetes
                raise _HttpError(404, "NotFound", NOT_SERVED)
            if p.version not in versions:
                raise _HttpError(404, "NotFound", NOT_SERVED)
            if cluster_scoped and p.namespace is not None:
                raise _HttpError(404, "NotFound", NOT_SERVED)
            if p.subresource and not (kind == "Link" and p.subresource == "status"):
                raise _HttpError(404, "NotFound", NOT_SERVED)
            api_version = f"{p.group}/{p.version}" if p.group else p.version
            if kind == "Lease":
                self._lease(rec, p, body, api_version)
                return
            if rec.verb == "watch":
                self._watch(rec, kind, p, query, api_version, fault)
            elif rec.verb == "list":
                self._list(rec, kind, p, query, api_version)
            elif rec.verb == "get":
                obj = server.cluster.get(kind, p.namespace, p.name or "")
                if obj is None:
                    raise self._not_found(p)
                self._ok(rec, self._out(obj, api_version))
            elif rec.verb == "create":
                self._create(rec, kind, p, body, api_version)
            elif rec.verb == "update":
                self._update(rec, kind, p, body, api_version)
            elif rec.verb == "delete":
                self._delete(rec, kind, p, body)
            else:
                raise _HttpError(405, "MethodNotAllowed", f"{rec.verb} is not supported here")

        @staticmethod
        def _not_found(p: _Parsed) -> _HttpError:
            return _HttpError(404, "NotFound", f'{p.plural} "{p.name}" not found')

        @staticmethod
        def _out(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
            out = dict(obj)
            if out.get("kind") == "Link":
                out["apiVersion"] = api_version
            return out

        def _backend_call(self, p: _Parsed, call: Any) -> Any:
            try:
                return call()
            except Unreachable:
                raise _Abort() from None
            except AlreadyExists as err:
                raise _HttpError(409, "AlreadyExists", err.message) from None
            except WriteConflict as err:
                raise _HttpError(409, "Conflict", err.message) from None
            except NotFound as err:
                raise _HttpError(404, "NotFound", err.message) from None
            except Invalid as err:
                raise _HttpError(422, "Invalid", err.message) from None
            except Gone as err:
                raise _HttpError(410, "Expired", err.message) from None
            except Timeout as err:
                raise _HttpError(504, "Timeout", err.message) from None
            except (ServerError, BackendError) as err:
                raise _HttpError(500, "InternalError", err.message) from None

        def _list(
            self, rec: Recorded, kind: str, p: _Parsed, query: dict[str, str], api_version: str
        ) -> None:
            def snapshot() -> tuple[list[dict[str, Any]], str]:
                result = self._backend_call(p, lambda: server.cluster.list(kind, p.namespace))
                items = []
                for item in result.items:
                    item = self._out(item, api_version)
                    if kind not in CUSTOM_KINDS:  # the real server omits them in lists
                        item.pop("apiVersion", None)
                        item.pop("kind", None)
                    items.append(item)
                return items, result.resource_version

            try:
                limit = int(query.get("limit") or 0)
            except ValueError:
                raise _HttpError(400, "BadRequest", f"invalid limit {query['limit']!r}") from None
            items, rv, token, remaining = server._page(query.get("continue", ""), limit, snapshot)
            meta: dict[str, Any] = {"resourceVersion": rv}
            if token:
                meta["continue"] = token
                meta["remainingItemCount"] = remaining
            rec.items = len(items)
            self._ok(
                rec,
                {
                    "apiVersion": api_version,
                    "kind": f"{kind}List",
                    "metadata": meta,
                    "items": items,
                },
            )

        def _check_body(self, kind: str, p: _Parsed, body: Any, api_version: str) -> dict[str, Any]:
            if not isinstance(body, dict):
                raise _HttpError(400, "BadRequest", "the body must be a JSON object")
            body = dict(body)
            if body.get("kind", kind) != kind:
                raise _HttpError(400, "BadRequest", f"kind {body.get('kind')!r} != {kind}")
            body["kind"] = kind
            if kind == "Link":
                body["apiVersion"] = "multicluster.linkerd.io/" + server.link_versions[0]
            else:
                body.setdefault("apiVersion", api_version)
            meta = dict(body.get("metadata") or {})
            body["metadata"] = meta
            if p.namespace is not None:
                if meta.get("namespace") not in (None, "", p.namespace):
                    raise _HttpError(
                        400,
                        "BadRequest",
                        "the namespace of the provided object does not match the namespace "
                        "sent on the request",
                    )
                meta["namespace"] = p.namespace
            return body

        def _create(
            self, rec: Recorded, kind: str, p: _Parsed, body: Any, api_version: str
        ) -> None:
            if p.name is not None:
                raise _HttpError(405, "MethodNotAllowed", "POST to a named object")
            body = self._check_body(kind, p, body, api_version)
            if body["metadata"].get("resourceVersion"):
                raise _HttpError(
                    400, "BadRequest", "resourceVersion should not be set on objects to be created"
                )
            body.pop("status", None) if kind == "Link" else None
            stored = self._backend_call(p, lambda: server.cluster.create(body))
            self._ok(rec, self._out(stored, api_version), 201)

        def _update(
            self, rec: Recorded, kind: str, p: _Parsed, body: Any, api_version: str
        ) -> None:
            body = self._check_body(kind, p, body, api_version)
            if body["metadata"].get("name") != p.name:
                raise _HttpError(400, "BadRequest", "the name of the object does not match the URL")
            current = server.cluster.get(kind, p.namespace, p.name or "")
            if current is None:
                raise self._not_found(p)
            if kind == "Link":
                if p.subresource == "status":  # only the status changes
                    given = body["metadata"].get("resourceVersion")
                    body = {
                        **current,
                        "status": body.get("status"),
                        "metadata": {**current["metadata"], "resourceVersion": given},
                    }
                    status = self._backend_call(p, lambda: server.cluster.update_status(body))
                    self._ok(rec, self._out(status, api_version))
                    return
                if "status" in current:  # the main resource ignores status
                    body["status"] = current["status"]
                else:
                    body.pop("status", None)
            stored = self._backend_call(p, lambda: server.cluster.update(body))
            self._ok(rec, self._out(stored, api_version))

        def _delete(self, rec: Recorded, kind: str, p: _Parsed, body: Any) -> None:
            pre = (body or {}).get("preconditions") or {}
            current = server.cluster.get(kind, p.namespace, p.name or "")
            if current is None:
                raise self._not_found(p)
            rv, uid = pre.get("resourceVersion"), pre.get("uid")
            meta = current["metadata"]
            if (rv and rv != meta.get("resourceVersion")) or (uid and uid != meta.get("uid")):
                raise _HttpError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {p.plural} "{p.name}": Precondition '
                    f"failed: resourceVersion {rv!r} uid {uid!r} do not match the object",
                )
            self._backend_call(
                p,
                # Always the gated Backend delete: an HTTP DELETE without preconditions
                # is still a write that faults and the write log must see.
                lambda: server.cluster.delete(
                    kind,
                    p.namespace or "",
                    p.name or "",
                    resource_version=rv or meta.get("resourceVersion") or "",
                    uid=uid,
                ),
            )
            self._ok(
                rec,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": p.name, "kind": p.plural, "uid": meta.get("uid")},
                },
            )

        # -- watch ------------------------------------------------------------------------

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, etype: str, obj: dict[str, Any]) -> None:
            data = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
            self._rec.bytes += len(data)
            self._chunk(data)

        def _watch(
            self,
            rec: Recorded,
            kind: str,
            p: _Parsed,
            query: dict[str, str],
            api_version: str,
            fault: Fault | None,
        ) -> None:
            rv = query.get("resourceVersion", "")
            bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
            timeout = float(query.get("timeoutSeconds") or server.max_watch_seconds)
            timeout = min(timeout, server.max_watch_seconds)
            cluster = server.cluster
            gone = bool(fault and fault.gone)
            initial: list[dict[str, Any]] = []
            if not gone:
                if rv in ("", "0"):
                    result = self._backend_call(p, lambda: cluster.list(kind, p.namespace))
                    initial = list(result.items)
                    since = int(result.resource_version or 0)
                else:
                    try:
                        since = int(rv)
                    except ValueError:
                        raise _HttpError(
                            400, "BadRequest", f"invalid resourceVersion {rv!r}"
                        ) from None
                    try:
                        pending = list(cluster.watch(kind, str(since), p.namespace))
                    except Gone:
                        gone = True
                    except Unreachable:
                        raise _Abort() from None
                    else:
                        initial = []
                        del pending  # re-read below, in the loop
            if gone and server.gone_as_http:
                raise _HttpError(410, "Expired", f"too old resource version: {rv}")
            rec.status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if gone:
                self._event("ERROR", _status(410, "Expired", f"too old resource version: {rv}"))
                self._chunk(b"")
                return
            sent = 0
            drop_after = fault.drop_after if fault else None

            def emit(etype: str, obj: dict[str, Any]) -> bool:
                nonlocal sent
                if drop_after is not None and sent >= drop_after:
                    raise _Abort()
                self._event(etype, self._out(obj, api_version))
                sent += 1
                return True

            for obj in initial:
                emit("ADDED", obj)
            deadline = time.monotonic() + timeout
            last_bookmark = 0.0
            while time.monotonic() < deadline:
                if server._stopping.is_set() or not cluster.reachable:
                    raise _Abort()
                before = int(cluster.resource_version)
                try:
                    # Nothing written since: no need to scan the cluster's history.
                    events = (
                        list(cluster.watch(kind, str(since), p.namespace)) if before > since else []
                    )
                except Gone:
                    self._event(
                        "ERROR", _status(410, "Expired", f"too old resource version: {since}")
                    )
                    break
                except Unreachable:
                    raise _Abort() from None
                for event in events:
                    emit(event.type, event.object)
                    since = max(since, int(event.object["metadata"]["resourceVersion"]))
                since = max(since, before)
                now = time.monotonic()
                if bookmarks and now - last_bookmark >= server.bookmark_interval:
                    last_bookmark = now
                    self._event(
                        "BOOKMARK",
                        {
                            "apiVersion": api_version,
                            "kind": kind,
                            "metadata": {"resourceVersion": str(since)},
                        },
                    )
                time.sleep(server.poll_interval)
            self._chunk(b"")

        # -- leases (kept here: FakeCluster does not know the kind) ----------------------

        def _lease(self, rec: Recorded, p: _Parsed, body: Any, api_version: str) -> None:
            key = (p.namespace or "", p.name or "")
            with server._lock:
                if rec.verb == "get":
                    obj = server.leases.get(key)
                    if obj is None:
                        raise self._not_found(p)
                    doc, code = obj, 200
                elif rec.verb == "list":
                    items = [v for (ns, _), v in sorted(server.leases.items()) if ns == key[0]]
                    doc = {
                        "apiVersion": api_version,
                        "kind": "LeaseList",
                        "metadata": {"resourceVersion": str(server._lease_rv)},
                        "items": items,
                    }
                    code = 200
                elif rec.verb in ("create", "update"):
                    body = self._check_body("Lease", p, body, api_version)
                    name = body["metadata"].get("name")
                    key = (p.namespace or "", name or "")
                    current = server.leases.get(key)
                    if rec.verb == "create":
                        if current is not None:
                            raise _HttpError(
                                409, "AlreadyExists", f'leases "{name}" already exists'
                            )
                        code = 201
                        body["metadata"]["uid"] = f"lease-{name}"
                    else:
                        if current is None:
                            raise self._not_found(p)
                        given = body["metadata"].get("resourceVersion")
                        if given and given != current["metadata"]["resourceVersion"]:
                            raise _HttpError(
                                409,
                                "Conflict",
                                f'Operation cannot be fulfilled on leases "{name}": the object '
                                "has been modified; please apply your changes to the latest "
                                "version and try again",
                            )
                        body["metadata"]["uid"] = current["metadata"]["uid"]
                        code = 200
                    server._lease_rv += 1
                    body["metadata"]["resourceVersion"] = f"L{server._lease_rv}"
                    server.leases[key] = body
                    doc = body
                elif rec.verb == "delete":
                    if server.leases.pop(key, None) is None:
                        raise self._not_found(p)
                    doc, code = {"kind": "Status", "apiVersion": "v1", "status": "Success"}, 200
                else:
                    raise _HttpError(405, "MethodNotAllowed", rec.verb)
            self._ok(rec, doc, code)

    return Handler


@contextlib.contextmanager
def serving(cluster: FakeCluster, **options: Any) -> Iterator[KubeServer]:
    server = KubeServer(cluster, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()

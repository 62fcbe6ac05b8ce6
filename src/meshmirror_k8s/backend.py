"""The :class:`~meshmirror.backends.Backend` Protocol over the official ``kubernetes`` client.

Each :class:`KubernetesBackend` owns one ``ApiClient`` (one cluster, one set of
credentials). Requests go through the client's own request path (its URL and query
encoding, auth, TLS and timeouts); Links through ``CustomObjectsApi``. Responses are read
as raw JSON (``_preload_content=False`` + :func:`json.loads`), which returns the
kubectl-style dicts the Protocol wants without building and re-serialising model objects
(see ``docs/kubernetes.md`` for the measured difference).

- Every list is paginated (``limit``, default 500 per page, then ``continue`` until the
  server gives no token): all items and the resourceVersion of the first page (a
  paginated list is one consistent snapshot). A continue token that expires mid-list
  (410) restarts the list once; a second expiry raises :class:`~meshmirror.backends.Gone`.
- Watches carry ``resourceVersion``, ``allowWatchBookmarks=true`` and a server-side
  ``timeoutSeconds``, yield BOOKMARK events (the object holds only
  ``metadata.resourceVersion``) and end at the timeout (or when the stream is dropped);
  a 410, as an HTTP status or as an ``ERROR`` event, raises
  :class:`~meshmirror.backends.Gone`.
- EndpointSlices are read only where they are needed: a cluster that serves v1 Endpoints
  is read through Endpoints alone (the manifest reader uses a Service's Endpoints over
  its slices, so the slices would change nothing), and its EndpointSlice list is empty
  without a request; see :meth:`KubernetesBackend.reads`.
- create/update carry ``fieldManager=meshmirror``; an update without
  ``metadata.resourceVersion`` is refused (never an unconditional overwrite); deletes send
  ``DeleteOptions.preconditions`` (resourceVersion and uid).
- Every request has a timeout; 429 and 5xx are retried with bounded exponential backoff
  (``Retry-After`` honoured, capped); the sleep function is injectable.
- Errors are the base exception types, carrying the cluster name. A ``read_only``
  backend (every linked cluster) refuses writes before sending anything, and ``kinds``
  bounds what it may read.
"""

from __future__ import annotations

import builtins
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import urllib3
from kubernetes.client import ApiClient, CustomObjectsApi, V1DeleteOptions, V1Preconditions
from kubernetes.client.exceptions import ApiException

from meshmirror import LINKERD
from meshmirror.backends import (
    AlreadyExists,
    BackendError,
    Gone,
    ListResult,
    Manifest,
    NotFound,
    ServerError,
    Timeout,
    TooManyRequests,
    Unreachable,
    WatchEvent,
    WriteConflict,
)
from meshmirror_k8s.resources import RESOURCES, Resource, link_resource, resource_for_path

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "FIELD_MANAGER",
    "Backoff",
    "Forbidden",
    "InvalidRequest",
    "KubernetesBackend",
    "ReadOnly",
    "ServerWarnings",
    "Timeouts",
    "Unauthorized",
]

FIELD_MANAGER = "meshmirror"
#: Items per page of a list (``limit``); what client-go's reflector asks for.
DEFAULT_PAGE_SIZE = 500
log = logging.getLogger("meshmirror_k8s.backend")

_SERVER_FIELDS = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


class Unauthorized(BackendError):
    """401: the cluster did not accept the credentials."""

    status = 401
    retryable = False


class Forbidden(BackendError):
    """403: RBAC does not allow the request."""

    status = 403
    retryable = False


class InvalidRequest(BackendError):
    """400/422, or a request this backend refuses to send (malformed, unconditional)."""

    status = 422
    retryable = False


class ReadOnly(BackendError):
    """A write (or a kind outside ``kinds``) asked of a read-only backend; nothing sent."""

    retryable = False


@dataclass(frozen=True)
class Timeouts:
    """Seconds: ``connect`` and ``read`` for every request; ``watch`` is the server-side
    ``timeoutSeconds`` of a watch (the client waits ``watch + read`` at most)."""

    connect: float = 5.0
    read: float = 30.0
    watch: int = 30


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff for 429 and 5xx: at most ``retries`` more attempts,
    waiting ``base * factor**n`` (at most ``cap``; a longer ``Retry-After`` is honoured up
    to ``max_retry_after``)."""

    retries: int = 4
    base: float = 0.2
    factor: float = 2.0
    cap: float = 5.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        wait = min(self.cap, self.base * self.factor**attempt)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def _status_message(body: bytes | str | None) -> tuple[str, str]:
    """(reason, message) from a Kubernetes ``Status`` body, tolerating anything."""
    if not body:
        return "", ""
    try:
        doc = json.loads(body)
    except (ValueError, TypeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return "", text[:200]
    if not isinstance(doc, dict):
        return "", ""
    return str(doc.get("reason") or ""), str(doc.get("message") or "")


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class ServerWarnings:
    """The API server's ``Warning`` response headers (RFC 7234 form, ``299 - "text"``),
    logged once per (kind, text) however many requests carry them; :attr:`seen` keeps
    each with the cluster that first sent it."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def note(self, cluster: str, kind: str, headers: Any) -> None:
        values = _header_values(headers, "Warning")
        for value in values:
            text = _warning_text(value)
            with self._lock:
                if (kind, text) in self.seen:
                    continue
                self.seen[(kind, text)] = cluster
            log.warning(
                "API server warning", extra={"cluster": cluster, "kind": kind, "warning": text}
            )


#: Shared by every backend of the process (once per kind, not once per cluster).
SERVER_WARNINGS = ServerWarnings()


def _header_values(headers: Any, name: str) -> list[str]:
    if headers is None:
        return []
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return [str(v) for v in getlist(name)]
    value = headers.get(name) if hasattr(headers, "get") else None
    return [str(value)] if value else []


def _warning_text(value: str) -> str:
    """``299 - "v1 Endpoints is deprecated..."`` -> the quoted text (else the value)."""
    code, _, rest = value.strip().partition(" ")
    agent, _, text = rest.partition(" ")
    if code.isdigit() and agent and len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"')
    return value.strip()


def _kind_of(path: str) -> str:
    parsed = resource_for_path(path)
    if parsed is None:
        return ""
    for kind, resource in RESOURCES.items():
        if resource.plural == parsed.plural and resource.group == parsed.group:
            return kind
    return parsed.plural


#: What the API server says for a resource (group/version/plural) it does not serve.
_NOT_SERVED = "the server could not find the requested resource"


class _NotServed(NotFound):
    """404 for a resource that is not served at all (not for one missing object)."""


class _HttpError(Exception):
    """A non-2xx response, before mapping."""

    def __init__(self, status: int, body: bytes | str | None, headers: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


class KubernetesBackend:
    """One cluster over the official client; see the module docstring.

    ``namespaces`` pins a kind to one namespace when the caller asks for all of them
    (the controller lists Links only where its Role allows). ``kinds`` limits what may be
    requested at all; ``read_only`` refuses every write before sending it.
    """

    def __init__(
        self,
        name: str,
        client: ApiClient,
        *,
        timeouts: Timeouts = Timeouts(),
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
        read_only: bool = False,
        kinds: frozenset[str] | None = None,
        namespaces: Mapping[str, str] | None = None,
        field_manager: str = FIELD_MANAGER,
        bookmarks: bool = True,
        warnings: ServerWarnings | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        read_endpoint_slices: bool | None = None,
    ) -> None:
        if page_size < 0:
            raise ValueError(f"page_size must be >= 0 (0: unpaginated), not {page_size}")
        self._name = name
        self._client = client
        self._custom = CustomObjectsApi(client)
        self.timeouts = timeouts
        self.backoff = backoff
        self._sleep = sleep
        self.read_only = read_only
        self.kinds = kinds
        self._namespaces = dict(namespaces or {})
        self.field_manager = field_manager
        self.bookmarks = bookmarks
        self._warnings = warnings if warnings is not None else SERVER_WARNINGS
        self.page_size = page_size
        self.read_endpoint_slices = read_endpoint_slices
        self._link_version: str | None = None
        # None: not known yet; False: the cluster does not serve discovery.k8s.io/v1.
        self.endpoint_slices_served: bool | None = None
        # None: not known yet; False: the cluster does not serve v1 Endpoints.
        self.endpoints_served: bool | None = None

    # -- Protocol ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def client(self) -> ApiClient:
        return self._client

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    def reads(self, kind: str) -> bool:
        """Whether :meth:`list`/:meth:`watch` of ``kind`` send anything.

        False for EndpointSlices unless they are needed: ``read_endpoint_slices`` True
        reads them wherever served, False never; None (the default) reads them only where
        the cluster does not serve v1 Endpoints (asked once, with a one-item list, if no
        Endpoints request has told yet), and never where they are not served.
        """
        if kind != "EndpointSlice":
            return True
        if self.endpoint_slices_served is False or self.read_endpoint_slices is False:
            return False
        if self.read_endpoint_slices or (self.kinds is not None and "Endpoints" not in self.kinds):
            return True
        if self.endpoints_served is None:
            try:
                self._send(
                    "GET",
                    self._resource("Endpoints").path(self._scope("Endpoints", None)),
                    query={"limit": 1},
                    verb="list",
                ).release_conn()
                self.endpoints_served = True
            except _NotServed:
                self.endpoints_served = False
        return self.endpoints_served is False

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        namespace = self._scope(kind, namespace)
        self._allowed(kind, write=False)
        if not self.reads(kind):
            return ListResult(items=(), resource_version="")
        try:
            items, rv = self._list_all(kind, namespace)
        except _NotServed:
            if kind == "EndpointSlice":  # not served (an old cluster): read Endpoints only
                self.endpoint_slices_served = False
                log.info(
                    "cluster does not serve EndpointSlices; reading Endpoints only",
                    extra={"cluster": self._name},
                )
                return ListResult(items=(), resource_version="")
            if kind == "Endpoints":
                self.endpoints_served = False
            raise
        if kind == "EndpointSlice":
            self.endpoint_slices_served = True
        elif kind == "Endpoints":
            self.endpoints_served = True
        resource = self._resource(kind)
        for item in items:
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", kind)
        return ListResult(items=tuple(items), resource_version=rv)

    def _list_all(self, kind: str, namespace: str | None) -> tuple[builtins.list[Manifest], str]:
        """Every page of one list: (items, the first page's resourceVersion). An expired
        continue token (410) restarts the list once; a second expiry raises Gone."""
        for attempt in (0, 1):
            items: builtins.list[Manifest] = []
            rv = ""
            token = ""
            while True:
                query: dict[str, Any] = {}
                if self.page_size:
                    query["limit"] = self.page_size
                if token:
                    query["continue"] = token
                try:
                    doc = self._json(self._collection(kind, namespace, query=query))
                except Gone:
                    if not token or attempt:
                        raise
                    log.info(
                        "a list's continue token expired; listing again from the start",
                        extra={"cluster": self._name, "kind": kind},
                    )
                    break
                meta = doc.get("metadata") or {}
                if not token:
                    rv = str(meta.get("resourceVersion") or "")
                items.extend(doc.get("items") or [])
                previous, token = token, str(meta.get("continue") or "")
                if not token:
                    return items, rv
                if token == previous:  # a server handing back the same page forever
                    self._fail(ServerError, f"list {kind}: the same continue token twice")
        raise AssertionError("unreachable")  # pragma: no cover

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        """Open the watch now (errors such as 410 raise here); the iterator yields its
        events and ends at the server's timeout or when the stream is dropped."""
        namespace = self._scope(kind, namespace)
        self._allowed(kind, write=False)
        if not self.reads(kind):
            return iter(())
        query: dict[str, Any] = {
            "watch": True,
            "timeoutSeconds": self.timeouts.watch,
        }
        if resource_version:
            query["resourceVersion"] = resource_version
        if self.bookmarks:
            query["allowWatchBookmarks"] = True
        response = self._collection(kind, namespace, query=query, stream=True)
        return self._events(kind, response)

    def get(self, kind: str, namespace: str | None, name: str) -> Manifest:
        """One object (not part of the Protocol); :class:`NotFound` when absent."""
        self._allowed(kind, write=False)
        resource = self._resource(kind)
        if kind == "Link":
            obj = self._json(
                self._link_call(
                    "get",
                    lambda v: self._custom.get_namespaced_custom_object(
                        resource.group,
                        v,
                        namespace or "",
                        resource.plural,
                        name,
                        _preload_content=False,
                        _request_timeout=self._timeout(),
                    ),
                )
            )
        else:
            obj = self._json(self._send("GET", resource.path(namespace, name), verb="get"))
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", kind)
        return obj

    def create(self, manifest: Manifest) -> Manifest:
        kind, namespace, _ = self._identity(manifest)
        self._allowed(kind, write=True)
        resource = self._resource(kind)
        body = _without_server_fields(manifest)
        body.setdefault("apiVersion", resource.api_version)
        if kind == "Link":
            return self._json(
                self._link_call(
                    "create",
                    lambda v: self._custom.create_namespaced_custom_object(
                        resource.group,
                        v,
                        namespace,
                        resource.plural,
                        _with_version(body, v),
                        field_manager=self.field_manager,
                        _preload_content=False,
                        _request_timeout=self._timeout(),
                    ),
                )
            )
        return self._json(
            self._send(
                "POST",
                resource.path(namespace),
                verb="create",
                query={"fieldManager": self.field_manager},
                body=body,
            )
        )

    def update(self, manifest: Manifest) -> Manifest:
        return self._replace(manifest, subresource=None)

    def update_status(self, manifest: Manifest) -> Manifest:
        """Replace the ``status`` subresource (Links); same preconditions as update."""
        return self._replace(manifest, subresource="status")

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        self._allowed(kind, write=True)
        resource = self._resource(kind)
        options = V1DeleteOptions(
            api_version="v1",
            kind="DeleteOptions",
            preconditions=V1Preconditions(resource_version=resource_version, uid=uid)
            if resource_version or uid
            else None,
        )
        if kind == "Link":
            self._json(
                self._link_call(
                    "delete",
                    lambda v: self._custom.delete_namespaced_custom_object(
                        resource.group,
                        v,
                        namespace,
                        resource.plural,
                        name,
                        body=options,
                        _preload_content=False,
                        _request_timeout=self._timeout(),
                    ),
                )
            )
            return
        ns = namespace if resource.namespaced else None
        body = self._client.sanitize_for_serialization(options)  # type: ignore[no-untyped-call]
        self._json(self._send("DELETE", resource.path(ns, name), body=body, verb="delete"))

    # -- internals --------------------------------------------------------------------

    def _fail(self, error: type[BackendError], message: str) -> NoReturn:
        raise error(self._name, message)

    def _scope(self, kind: str, namespace: str | None) -> str | None:
        if namespace is None:
            return self._namespaces.get(kind)
        return namespace

    def _allowed(self, kind: str, *, write: bool) -> None:
        if kind not in RESOURCES:
            self._fail(NotFound, f"kind {kind!r} is not served by this backend")
        if self.kinds is not None and kind not in self.kinds:
            self._fail(ReadOnly, f"{kind} is not readable through this backend (not sent)")
        if write and self.read_only:
            self._fail(ReadOnly, f"refusing to write {kind}: the cluster is read-only (not sent)")

    def _resource(self, kind: str) -> Resource:
        if kind == "Link":
            return link_resource(self._link_version or LINKERD.link_versions[0])
        return RESOURCES[kind]

    def _identity(self, manifest: Manifest) -> tuple[str, str, str]:
        kind = manifest.get("kind")
        meta = manifest.get("metadata")
        if not isinstance(kind, str) or not isinstance(meta, dict):
            self._fail(InvalidRequest, "a manifest needs kind and metadata")
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            self._fail(InvalidRequest, f"{kind}: metadata.name is required")
        namespace = meta.get("namespace") or ""
        if kind in RESOURCES and RESOURCES[kind].namespaced and not namespace:
            self._fail(InvalidRequest, f"{kind} {name}: metadata.namespace is required")
        return kind, namespace, name

    def _replace(self, manifest: Manifest, *, subresource: str | None) -> Manifest:
        kind, namespace, name = self._identity(manifest)
        self._allowed(kind, write=True)
        resource = self._resource(kind)
        if not manifest["metadata"].get("resourceVersion"):
            self._fail(
                InvalidRequest,
                f"refusing to update {kind} {namespace}/{name} without "
                "metadata.resourceVersion (an unconditional overwrite)",
            )
        body = dict(manifest)
        body.setdefault("apiVersion", resource.api_version)
        if kind == "Link":
            replace = (
                self._custom.replace_namespaced_custom_object_status
                if subresource == "status"
                else self._custom.replace_namespaced_custom_object
            )
            return self._json(
                self._link_call(
                    "update",
                    lambda v: replace(
                        resource.group,
                        v,
                        namespace,
                        resource.plural,
                        name,
                        _with_version(body, v),
                        field_manager=self.field_manager,
                        _preload_content=False,
                        _request_timeout=self._timeout(),
                    ),
                )
            )
        ns = namespace if resource.namespaced else None
        return self._json(
            self._send(
                "PUT",
                resource.path(ns, name, subresource),
                verb="update",
                query={"fieldManager": self.field_manager},
                body=body,
            )
        )

    def _timeout(self, *, stream: bool = False) -> tuple[float, float]:
        read = self.timeouts.read + (self.timeouts.watch if stream else 0)
        return (self.timeouts.connect, read)

    def _collection(
        self, kind: str, namespace: str | None, *, query: dict[str, Any], stream: bool = False
    ) -> urllib3.BaseHTTPResponse:
        resource = self._resource(kind)
        if kind != "Link":
            ns = namespace if resource.namespaced else None
            return self._send(
                "GET",
                resource.path(ns),
                query=query,
                stream=stream,
                verb="watch" if stream else "list",
            )

        watch = bool(query.get("watch"))
        rv: str | None = query.get("resourceVersion")
        bookmarks: bool | None = query.get("allowWatchBookmarks")
        seconds: int | None = query.get("timeoutSeconds")
        limit: int | None = query.get("limit")
        token: str | None = query.get("continue")
        timeout = self._timeout(stream=stream)

        query = {
            "watch": watch or None,
            "resource_version": rv,
            "allow_watch_bookmarks": bookmarks,
            "timeout_seconds": seconds,
            "limit": limit,
            "_continue": token,
            "_preload_content": False,
            "_request_timeout": timeout,
        }

        def call(version: str) -> object:
            if namespace:
                return self._custom.list_namespaced_custom_object(
                    resource.group, version, namespace, resource.plural, **query
                )
            return self._custom.list_custom_object_for_all_namespaces(
                resource.group, version, resource.plural, **query
            )

        return self._link_call("watch" if stream else "list", call)

    def _link_call(self, verb: str, call: Callable[[str], object]) -> urllib3.BaseHTTPResponse:
        """Links at v1alpha3, falling back to v1alpha2 when v1alpha3 is not served
        (remembered). A 404 for a missing object is told apart by the Status details."""
        versions = [self._link_version] if self._link_version else list(LINKERD.link_versions)
        for i, version in enumerate(versions):
            try:
                response = self._with_retries(verb, functools.partial(_raw, call, version))
                self._warnings.note(self._name, LINKERD.link_kind, response.headers)
            except NotFound as err:
                last = i == len(versions) - 1
                if last or not (verb in ("list", "watch") or _resource_missing(err)):
                    raise
                continue
            if self._link_version is None:
                self._link_version = version
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        path: str,
        *,
        verb: str | None = None,
        query: dict[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """One request through the official client (auth, TLS, encoding), retried."""

        def call() -> urllib3.BaseHTTPResponse:
            params = [(k, _query_value(v)) for k, v in (query or {}).items()]
            headers = {"Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            request = self._client.param_serialize(
                method,
                path,
                query_params=params or None,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(
                *request, _request_timeout=self._timeout(stream=stream)
            )
            raw: urllib3.BaseHTTPResponse = response.response
            self._warnings.note(self._name, _kind_of(path), raw.headers)
            if not 200 <= raw.status <= 299:
                data = raw.read()
                raw.release_conn()
                raise _HttpError(raw.status, data, raw.headers)
            return raw

        return self._with_retries(verb or method.lower(), call)

    def _with_retries(
        self, verb: str, call: Callable[[], urllib3.BaseHTTPResponse]
    ) -> urllib3.BaseHTTPResponse:
        attempt = 0
        while True:
            try:
                return call()
            except ApiException as exc:
                error: BaseException = _HttpError(exc.status or 0, exc.body, exc.headers)
            except _HttpError as exc:
                error = exc
            except urllib3.exceptions.HTTPError as exc:
                self._network_error(verb, exc)
            assert isinstance(error, _HttpError)
            status = error.status
            if (status == 429 or status >= 500) and attempt < self.backoff.retries:
                wait = self.backoff.delay(attempt, _retry_after(error.headers))
                log.warning(
                    "retrying after HTTP %s",
                    status,
                    extra={"cluster": self._name, "verb": verb, "wait_s": round(wait, 3)},
                )
                self._sleep(wait)
                attempt += 1
                continue
            self._raise_for(verb, error)

    def _network_error(self, verb: str, exc: urllib3.exceptions.HTTPError) -> NoReturn:
        reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
        # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first.
        if isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
            reason, urllib3.exceptions.NewConnectionError
        ):
            self._fail(Timeout, f"{verb}: request timed out")
        self._fail(Unreachable, f"{verb}: {type(reason).__name__}: no connection to the API server")

    def _raise_for(self, verb: str, error: _HttpError) -> NoReturn:
        status = error.status
        reason, message = _status_message(error.body)
        text = f"{verb}: HTTP {status}" + (f" {reason}" if reason else "")
        text += f": {message}" if message else ""
        exc_type: type[BackendError]
        if status == 404:
            raise (
                _NotServed(self._name, text)
                if _NOT_SERVED in message
                else NotFound(self._name, text)
            )
        if status == 409:
            exc_type = AlreadyExists if reason == "AlreadyExists" else WriteConflict
        elif status == 410:
            exc_type = Gone
        elif status == 429:
            exc_type = TooManyRequests
        elif status == 401:
            exc_type = Unauthorized
        elif status == 403:
            exc_type = Forbidden
        elif status in (400, 422):
            exc_type = InvalidRequest
        elif status == 504:
            exc_type = Timeout
        elif status >= 500:
            exc_type = ServerError
        else:
            exc_type = BackendError
        self._fail(exc_type, text)

    def _json(self, response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
        try:
            data = response.read()
        except urllib3.exceptions.HTTPError as exc:
            self._network_error("read", exc)
        finally:
            response.release_conn()
        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            self._fail(ServerError, "the response is not JSON")
        if not isinstance(doc, dict):
            self._fail(ServerError, "the response is not a JSON object")
        return doc

    def _events(self, kind: str, response: urllib3.BaseHTTPResponse) -> Iterator[WatchEvent]:
        resource = self._resource(kind)
        try:
            for line in _lines(response):
                try:
                    event = json.loads(line)
                except ValueError:
                    log.warning("dropping a watch: malformed line", extra={"cluster": self._name})
                    return
                etype = event.get("type") if isinstance(event, dict) else None
                obj = event.get("object") if isinstance(event, dict) else None
                if not isinstance(obj, dict):
                    continue
                if etype == "ERROR":
                    code = obj.get("code")
                    self._raise_for(
                        "watch",
                        _HttpError(code if isinstance(code, int) else 500, json.dumps(obj), None),
                    )
                if etype not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
                    continue
                obj.setdefault("apiVersion", resource.api_version)
                obj.setdefault("kind", kind)
                yield WatchEvent(type=etype, object=obj)
        except urllib3.exceptions.HTTPError as exc:
            # The server's timeout, a read timeout or a dropped connection: the watch is
            # over for now; the caller lists again (a watch is only an optimisation).
            log.debug(
                "watch ended: %s", type(exc).__name__, extra={"cluster": self._name, "kind": kind}
            )
        finally:
            response.release_conn()
            response.close()


def _raw(call: Callable[[str], object], version: str) -> urllib3.BaseHTTPResponse:
    """A CustomObjectsApi call made with ``_preload_content=False``: the raw response."""
    response = call(version)
    assert isinstance(response, urllib3.BaseHTTPResponse)
    return response


def _lines(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    pending = b""
    for chunk in response.stream(16 * 1024, decode_content=True):
        pending += chunk
        while True:
            line, sep, rest = pending.partition(b"\n")
            if not sep:
                break
            pending = rest
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _resource_missing(err: NotFound) -> bool:
    """A 404 for the resource itself (its version not served), not for one object."""
    return isinstance(err, _NotServed)


def _with_version(body: Manifest, version: str) -> Manifest:
    out = dict(body)
    out["apiVersion"] = f"{LINKERD.link_group}/{version}"
    return out


def _without_server_fields(manifest: Manifest) -> Manifest:
    out = dict(manifest)
    meta = dict(out.get("metadata") or {})
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    out["metadata"] = meta
    out.pop("status", None)
    return out

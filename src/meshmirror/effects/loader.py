"""Files and directories of kubectl output to dicts and cluster states (does I/O).

A path is a file (multi-document YAML, JSON, or a ``kind: List``) or a directory (every
``*.yaml``, ``*.yml`` and ``*.json`` in it, in name order). A file that cannot be read is
a :class:`LoadError`, an object that cannot be converted a
:class:`~meshmirror.formats.manifest.ManifestError`; both name the file, the document number and
what is wrong.

YAML is read with libyaml's C parser when PyYAML has it (:data:`YAML_LOADER`), else with
PyYAML's pure-Python one; both give the same documents. JSON (``kubectl get ... -o json``)
is the fast path: ``json.loads`` reads a dump many times faster than either YAML parser.
Aliases (``*name``) may repeat no more than a document holds: kubectl never writes them,
and a few hundred bytes of nested aliases would otherwise stand for millions of objects.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TextIO, TypeAlias

import yaml

from meshmirror.formats.manifest import (
    ManifestError,
    cluster_state,
    cluster_state_sharing,
    iter_documents,
)
from meshmirror.values.model import ArgumentError, ClusterState
from meshmirror.views.topology import Topology, TopologyError

__all__ = [
    "DUMP_COMMAND",
    "YAML_LOADER",
    "EmptyDumpError",
    "GcMode",
    "LoadError",
    "cluster_states",
    "dump_files",
    "dump_json",
    "dump_yaml",
    "load_cluster",
    "load_clusters",
    "load_documents",
    "load_topology",
    "load_yaml_file",
    "paused_gc",
]

_SUFFIXES = (".yaml", ".yml", ".json")


class LoadError(ValueError):
    """A file that cannot be read as kubectl output; ``path`` and ``document`` (1-based,
    0 when unknown) say where."""

    def __init__(self, path: str, problem: str, document: int = 0) -> None:
        where = f"{path}, document {document}" if document else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.document = document
        self.problem = problem


#: Nodes a document's aliases may repeat beyond its own count of nodes.
_ALIAS_ALLOWANCE = 1000


def _children(node: Any) -> list[Any]:
    value = node.value
    if isinstance(value, list):
        return (
            [n for pair in value for n in pair] if value and isinstance(value[0], tuple) else value
        )
    return []


class _BoundedAliases:
    """Bounds what aliases (``*name``) and merge keys (``<<``) expand to.

    kubectl never writes them, but ``yaml.safe_dump`` of shared Python objects does, so
    they are accepted as long as they repeat no more nodes than the document holds (plus
    a small allowance). A few hundred bytes of nested aliases would otherwise stand for
    millions of objects. The count is made in the constructor, where an alias is a node
    met a second time: the same for the C and the pure-Python parser.
    """

    constructed_objects: dict[Any, Any]
    _root: Any = None
    _budget: int | None = None
    _sizes: dict[int, int]

    def construct_document(self, node: Any) -> Any:
        self._root, self._budget, self._sizes = node, None, {}
        return super().construct_document(node)  # type: ignore[misc]

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            self._repeat(node)
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
            # PyYAML's constructors for explicit tags (!!int "", !!timestamp "x", a
            # 5000-digit integer) fail with plain Python errors: bad input all the same.
            shown = repr(node.value) if isinstance(node.value, str) else "this value"
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{shown[:60]} cannot be read as {node.tag} ({type(err).__name__}: {err})",
                node.start_mark,
            ) from None

    def _repeat(self, node: Any) -> None:
        if self._budget is None:
            seen: set[int] = set()
            stack = [self._root]
            while stack:
                n = stack.pop()
                if id(n) not in seen:
                    seen.add(id(n))
                    stack.extend(_children(n))
            self._budget = len(seen) + _ALIAS_ALLOWANCE
        self._budget -= self._size(node)
        if self._budget < 0:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "aliases (*name) or merge keys (<<) repeat this value until the document "
                "stands for more than twice the objects it holds (kubectl never writes "
                "aliases); write the objects out in full, e.g. with kubectl get ... -o json",
                node.start_mark,
            )

    def _size(self, node: Any) -> int:
        """How many nodes ``node`` stands for, aliases expanded (iterative: documents
        may nest deeply; a node inside itself counts once)."""
        sizes = self._sizes
        open_: set[int] = set()
        stack: list[tuple[Any, bool]] = [(node, False)]
        while stack:
            n, done = stack.pop()
            if id(n) in sizes:
                continue
            kids = _children(n)
            if done:
                sizes[id(n)] = 1 + sum(sizes.get(id(k), 0) for k in kids)
            elif id(n) not in open_:
                open_.add(id(n))
                stack.append((n, True))
                stack.extend((k, False) for k in kids if id(k) not in sizes)
        return sizes[id(node)]


class _PyLoader(_BoundedAliases, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, timestamps kept as text, aliases bounded."""


_CSafeLoader: type[Any] | None = getattr(yaml, "CSafeLoader", None)
_Loaders: list[type[Any]] = [_PyLoader]
if _CSafeLoader is not None:

    class _CLoader(_BoundedAliases, _CSafeLoader):  # type: ignore[valid-type,misc]
        """libyaml's C parser with the same constructor rules as :class:`_PyLoader`."""

    _Loaders.append(_CLoader)

# Kubernetes timestamps are strings; YAML would otherwise make them datetimes.
for _cls in _Loaders:
    _cls.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

#: The YAML loader class the loader uses: libyaml's C parser when PyYAML was built with
#: it, else the pure-Python one (tests set it to either to compare them).
YAML_LOADER: type[Any] = _Loaders[-1]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError(str(path), "no such file") from None
    except IsADirectoryError:
        raise LoadError(str(path), "is a directory") from None
    except UnicodeDecodeError as err:
        raise LoadError(str(path), f"not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise LoadError(str(path), err.strerror or str(err)) from None


def load_yaml_file(path: str | os.PathLike[str]) -> list[Any]:
    """The documents of one YAML or JSON file (JSON is YAML, but parsed as JSON when
    the file ends in ``.json`` for speed and exact errors)."""
    p = Path(path)
    text = _read_text(p)
    if p.suffix == ".json":
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as err:
            raise LoadError(
                str(p), f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
            ) from None
        except RecursionError:
            raise LoadError(str(p), _TOO_DEEP) from None
        except ValueError as err:  # e.g. an integer of more digits than Python converts
            raise LoadError(str(p), f"invalid JSON: {err}") from None
    docs: list[Any] = []
    try:
        for doc in yaml.load_all(text, Loader=YAML_LOADER):
            docs.append(doc)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None)
        if problem is None:
            # e.g. ReaderError (a control character): str() spans several lines.
            problem = "; ".join(line.strip() for line in str(err).splitlines())
        raise LoadError(str(p), f"invalid YAML{at}: {problem}", len(docs) + 1) from None
    except RecursionError:
        raise LoadError(str(p), _TOO_DEEP, len(docs) + 1) from None
    return docs


_TOO_DEEP = "nested too deeply to be a Kubernetes object"


def _missing(path: Path) -> LoadError:
    """Why ``path`` cannot be opened, in the system's words where it has them (a
    symbolic link loop is not a missing file)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return LoadError(
                str(path), f"is a symbolic link to {os.readlink(path)!r}, which does not exist"
            )
        return LoadError(str(path), "no such file or directory")
    except OSError as err:
        return LoadError(str(path), err.strerror or str(err))
    return LoadError(str(path), "cannot be read")


def dump_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files a path stands for: itself, or a directory's ``*.yaml``, ``*.yml`` and
    ``*.json`` in name order."""
    p = Path(path)
    try:
        is_dir = p.is_dir()
        exists = is_dir or p.exists()
    except OSError:
        exists = False
    if not exists:
        raise _missing(p)
    if is_dir:
        try:
            return sorted(
                (f for f in p.iterdir() if f.suffix in _SUFFIXES and f.is_file()),
                key=lambda f: f.name,
            )
        except OSError as err:
            raise LoadError(str(p), err.strerror or str(err)) from None
    return [p]


#: Bytes a second each parser reads a kubectl dump at, roughly (benchmarks/load.py):
#: what decides whether a load is long enough to say so.
_READ_RATES = {"json": 25e6, "yaml": 1e6, "python-yaml": 0.15e6}
_PROGRESS_AFTER_S = 3.0


def _expected_seconds(f: Path) -> float:
    try:
        size = f.stat().st_size
    except OSError:
        return 0.0
    if f.suffix == ".json":
        return size / _READ_RATES["json"]
    return size / _READ_RATES["yaml" if YAML_LOADER is not _PyLoader else "python-yaml"]


def load_documents(
    path: str | os.PathLike[str], *, progress: TextIO | None = None
) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every object under ``path`` as (file, document number, dict), ``kind: List``
    expanded.

    With ``progress`` (a stream), a file expected to take more than a few seconds to
    read is announced on it, and its time said when read."""
    for f in dump_files(path):
        started = 0.0
        if progress is not None and _expected_seconds(f) > _PROGRESS_AFTER_S:
            mb = f.stat().st_size / 1e6
            hint = "" if f.suffix == ".json" else " (a dump made with -o json reads much faster)"
            print(f"reading {f} ({mb:,.0f} MB){hint} ...", file=progress, flush=True)
            started = time.monotonic()
        docs = load_yaml_file(f)
        if started:
            print(f"read {f} in {time.monotonic() - started:.1f} s", file=progress, flush=True)
        for number, doc in enumerate(docs, start=1):
            if doc is None:
                continue
            try:
                items = list(iter_documents([doc]))
            except ManifestError as err:
                raise LoadError(
                    str(f), err.problem if not err.field else str(err), number
                ) from None
            except RecursionError:  # a kind: List nested in itself thousands deep
                raise LoadError(str(f), _TOO_DEEP, number) from None
            for item in items:
                yield str(f), number, dict(item)


def load_cluster(
    name: str, path: str | os.PathLike[str], *, progress: TextIO | None = None
) -> ClusterState:
    """A cluster's state from a file or directory of kubectl output (``progress`` as
    :func:`load_documents` takes it)."""
    located: list[dict[str, Any]] = []
    places: list[str] = []
    try:
        with paused_gc():
            for f, number, doc in load_documents(path, progress=progress):
                located.append(doc)
                places.append(f"{f}, document {number}")
            return cluster_state(name, located)
    except ManifestError as err:
        # Find which document failed, to say where.
        for doc, place in zip(located, places, strict=True):
            try:
                cluster_state(name, [doc])
            except ManifestError as single:
                raise single.located(place) from None
        raise err.located(str(path)) from None


#: How a bulk load treats Python's cyclic garbage collector: ``"pause"`` (off while
#: loading, then back as it was), ``"freeze"`` (the same, then :func:`gc.freeze` so the
#: loaded, long-lived states are never scanned again), ``"default"`` (left alone).
GcMode: TypeAlias = Literal["pause", "freeze", "default"]


@contextlib.contextmanager
def paused_gc(mode: GcMode = "pause") -> Iterator[None]:
    """Run a bulk load without cyclic garbage collection, then restore the collector.

    Loading allocates millions of long-lived, acyclic objects (model values, and the
    parsed documents they come from); under the default thresholds the collector would
    scan the growing heap again and again (most of the time ``json.loads`` takes on a
    large dump is such scans). Nothing a load makes is cyclic, so pausing loses nothing.
    ``"freeze"`` moves every object alive at the end into the permanent generation
    (:func:`gc.freeze`): later collections skip them. It also freezes every other object
    alive at that moment, so reference cycles among those are then only freed after
    :func:`gc.unfreeze`; use it in a controller or a notebook that loads once and keeps
    the states. This is the loader's business: the pure layers never touch the collector.
    """
    if mode == "default":
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if mode == "freeze":
            gc.freeze()
        if enabled:
            gc.enable()


def cluster_states(
    docs: Mapping[str, Iterable[Any]], *, gc_mode: GcMode = "pause"
) -> dict[str, ClusterState]:
    """A :class:`ClusterState` per cluster from kubectl-style dicts (each value as
    :func:`meshmirror.formats.manifest.cluster_state` takes it), built under ``gc_mode``.

    >>> states = cluster_states({"east": [{"apiVersion": "v1", "kind": "Namespace",
    ...                                    "metadata": {"name": "shop"}}]})
    >>> states["east"].has_namespace("shop")
    True
    """
    cache: dict[Any, Any] = {}  # equal ports and port tuples, shared by all
    with paused_gc(gc_mode):
        return {name: cluster_state_sharing(name, d, cache) for name, d in docs.items()}


#: The ``kubectl get`` that makes a dump meshmirror reads (JSON: the fast path).
DUMP_COMMAND = "kubectl get namespaces,services,endpoints,links.multicluster.linkerd.io -A -o json"


class EmptyDumpError(LoadError):
    """A path that holds no object the planner reads (no Namespace, Service, Endpoints,
    EndpointSlice or Link): usually a wrong path or a dump of the wrong kinds. ``cluster``
    names the cluster it was given for."""

    def __init__(self, path: str, problem: str, cluster: str) -> None:
        super().__init__(path, problem)
        self.cluster = cluster


def _empty(state: ClusterState) -> bool:
    return not (
        state.namespaces or state.services or state.endpoints or state.links or state.config_maps
    )


def load_clusters(
    paths: Mapping[str, str | os.PathLike[str]],
    *,
    source: str,
    allow_empty: bool = False,
    progress: TextIO | None = None,
) -> tuple[ClusterState, dict[str, ClusterState]]:
    """The source's state and every other cluster's, each from its dump (a file or a
    directory, as :func:`load_cluster` reads it): what :func:`meshmirror.plan` takes.

    A dump holding no object is an :class:`EmptyDumpError` unless ``allow_empty``;
    ``source`` missing from ``paths`` is an
    :class:`~meshmirror.values.model.ArgumentError`.

    >>> west, remotes = load_clusters(
    ...     {"west": "examples/topology/west.yaml", "east": "examples/topology/east.yaml"},
    ...     source="west")
    >>> west.name, sorted(remotes)
    ('west', ['east'])
    """
    if source not in paths:
        raise ArgumentError(
            "source", source, f"one of the clusters given ({', '.join(sorted(paths))})"
        )
    states: dict[str, ClusterState] = {}
    for name, path in paths.items():
        state = load_cluster(name, path, progress=progress)
        if _empty(state) and not allow_empty:
            if Path(path).is_dir() and not dump_files(path):
                what = "is a directory without any *.yaml, *.yml or *.json file"
            else:
                what = (
                    "holds no Namespace, Service, Endpoints, EndpointSlice or Link (an empty "
                    "file, `items: []` or `items: null`, or only other kinds)"
                )
            raise EmptyDumpError(os.fspath(path), what, name)
        states[name] = state
    src = states.pop(source)
    return src, states


def load_topology(path: str | os.PathLike[str] | None) -> Topology:
    """The topology file at ``path`` (one YAML or JSON document, see
    :class:`~meshmirror.views.topology.Topology`); every default when ``path`` is None.
    A malformed file is a :class:`LoadError` naming the file and the key.

    >>> load_topology("examples/topology/topology.yaml").same_pod_network("west", "east")
    True
    """
    if path is None:
        return Topology()
    docs = [d for d in load_yaml_file(path) if d is not None]
    try:
        if len(docs) > 1:
            raise TopologyError(f"must be one document, not {len(docs)}")
        return Topology.from_dict(docs[0] if docs else None)
    except TopologyError as exc:
        raise LoadError(os.fspath(path), str(exc)) from None


def dump_yaml(doc: Any) -> str:
    """``doc`` as block-style YAML, keys in their order (what ``plan -o yaml`` prints)."""
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)


def dump_json(doc: Any) -> str:
    """``doc`` as indented JSON with a final newline (what ``-o json`` prints)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

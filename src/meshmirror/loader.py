"""Files and directories of kubectl output to dicts and cluster states (does I/O).

A path is a file (multi-document YAML, JSON, or a ``kind: List``) or a directory (every
``*.yaml``, ``*.yml`` and ``*.json`` in it, in name order). A file that cannot be read is
a :class:`LoadError`, an object that cannot be converted a
:class:`~meshmirror.manifest.ManifestError`; both name the file, the document number and
what is wrong.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

import yaml

from meshmirror.manifest import ManifestError, _cluster_state, cluster_state, iter_documents
from meshmirror.model import ClusterState

__all__ = [
    "GcMode",
    "LoadError",
    "cluster_states",
    "load_cluster",
    "load_documents",
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


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as text (as kubectl prints them)."""


# Kubernetes timestamps are strings; YAML would otherwise make them datetimes.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
    docs: list[Any] = []
    try:
        for doc in yaml.load_all(text, Loader=_Loader):
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


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            (f for f in path.iterdir() if f.suffix in _SUFFIXES and f.is_file()),
            key=lambda f: f.name,
        )
    return [path]


def load_documents(path: str | os.PathLike[str]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every object under ``path`` as (file, document number, dict), ``kind: List``
    expanded."""
    p = Path(path)
    if not p.exists():
        raise LoadError(str(p), "no such file or directory")
    for f in _files(p):
        for number, doc in enumerate(load_yaml_file(f), start=1):
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


def load_cluster(name: str, path: str | os.PathLike[str]) -> ClusterState:
    """A cluster's state from a file or directory of kubectl output."""
    located: list[dict[str, Any]] = []
    places: list[str] = []
    try:
        with paused_gc():
            for f, number, doc in load_documents(path):
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
    :func:`meshmirror.manifest.cluster_state` takes it), built under ``gc_mode``.

    >>> states = cluster_states({"east": [{"apiVersion": "v1", "kind": "Namespace",
    ...                                    "metadata": {"name": "shop"}}]})
    >>> states["east"].has_namespace("shop")
    True
    """
    cache: dict[Any, Any] = {}  # equal ports and port tuples, shared by all
    with paused_gc(gc_mode):
        return {name: _cluster_state(name, d, cache) for name, d in docs.items()}

"""Files and directories of kubectl output to dicts and cluster states (does I/O).

A path is a file (multi-document YAML, JSON, or a ``kind: List``) or a directory (every
``*.yaml``, ``*.yml`` and ``*.json`` in it, in name order). Every error is a
:class:`LoadError` naming the file, the document number and what is wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from meshmirror.manifest import ManifestError, cluster_state, iter_documents
from meshmirror.model import ClusterState

__all__ = ["LoadError", "load_cluster", "load_documents", "load_yaml_file"]

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
    docs: list[Any] = []
    try:
        for doc in yaml.load_all(text, Loader=_Loader):
            docs.append(doc)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise LoadError(str(p), f"invalid YAML{at}: {problem}", len(docs) + 1) from None
    return docs


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
            for item in items:
                yield str(f), number, dict(item)


def load_cluster(name: str, path: str | os.PathLike[str]) -> ClusterState:
    """A cluster's state from a file or directory of kubectl output."""
    located: list[dict[str, Any]] = []
    places: list[str] = []
    for f, number, doc in load_documents(path):
        located.append(doc)
        places.append(f"{f}, document {number}")
    try:
        return cluster_state(name, located)
    except ManifestError as err:
        # Find which document failed, to say where.
        for doc, place in zip(located, places, strict=True):
            try:
                cluster_state(name, [doc])
            except ManifestError as single:
                raise single.located(place) from None
        raise err.located(str(path)) from None

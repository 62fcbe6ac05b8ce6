"""The Secrets of a source dump, as :class:`meshmirror.views.checks.CredentialsSecret`
summaries: which keys each has and whether its kubeconfig parses. Effects (base64 and
YAML); no token, certificate or key is kept, so none can be printed.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from meshmirror.effects.loader import load_documents
from meshmirror.values.scheme import LINKERD, Scheme
from meshmirror.views.checks import CredentialsSecret

__all__ = ["credentials_secrets", "secrets_in"]

# Credentials a kubeconfig user can name that meshmirror refuses unless allowed.
_MECHANISMS = (
    ("exec", "exec"),
    ("auth-provider", "auth-provider"),
    ("tokenFile", "a token file"),
    ("client-certificate", "a client certificate file"),
    ("client-key", "a client key file"),
)


def _kubeconfig(text: bytes) -> tuple[str | None, str, str | None]:
    """(problem, server, mechanism) of a kubeconfig."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return "is not YAML", "", None
    if not isinstance(doc, Mapping):
        return "is not a mapping", "", None

    def named(section: str, name: Any) -> Mapping[str, Any] | None:
        for entry in doc.get(section) or []:
            if isinstance(entry, Mapping) and entry.get("name") == name:
                inner = entry.get(section[:-1])
                return inner if isinstance(inner, Mapping) else None
        return None

    current = doc.get("current-context")
    contexts = [c for c in doc.get("contexts") or [] if isinstance(c, Mapping)]
    if not current and len(contexts) == 1:
        current = contexts[0].get("name")
    context = named("contexts", current)
    if context is None:
        return f"has no context {current!r} (current-context)", "", None
    cluster = named("clusters", context.get("cluster"))
    server = cluster.get("server") if cluster is not None else None
    if not isinstance(server, str) or not server:
        return f"has no server for cluster {context.get('cluster')!r}", "", None
    user = named("users", context.get("user")) or {}
    mechanism = next((what for key, what in _MECHANISMS if user.get(key)), None)
    return None, server, mechanism


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def credentials_secrets(
    docs: Iterable[Mapping[str, Any]], scheme: Scheme = LINKERD
) -> dict[tuple[str, str], CredentialsSecret]:
    """Every ``kind: Secret`` among ``docs``, by (namespace, name)."""
    out: dict[tuple[str, str], CredentialsSecret] = {}
    for doc in docs:
        if doc.get("kind") != "Secret":
            continue
        meta = doc.get("metadata")
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
            continue
        namespace, name = str(meta.get("namespace") or "default"), str(meta["name"])
        data = _mapping(doc.get("data"))
        strings = _mapping(doc.get("stringData"))
        keys = tuple(sorted({str(k) for k in (*data, *strings)}))
        problem: str | None = None
        server = ""
        mechanism = None
        key = scheme.credentials_kubeconfig_key
        if key in strings:
            raw: bytes | None = str(strings[key]).encode()
        elif key in data:
            try:
                raw = base64.b64decode(str(data[key]), validate=True)
            except (binascii.Error, ValueError):
                raw, problem = None, "is not base64 (data values are base64-encoded)"
        else:
            raw = None
        if raw is not None:
            problem, server, mechanism = _kubeconfig(raw)
        out[(namespace, name)] = CredentialsSecret(
            namespace,
            name,
            type=str(doc.get("type") or "Opaque"),
            keys=keys,
            problem=problem,
            server=server,
            mechanism=mechanism,
        )
    return out


def secrets_in(
    path: str | os.PathLike[str], scheme: Scheme = LINKERD
) -> dict[tuple[str, str], CredentialsSecret] | None:
    """The Secrets of the dump at ``path``; None when it holds none (then the credentials
    Secrets are not checked: ``kubectl get`` of the usual kinds leaves them out)."""
    found = credentials_secrets((doc for _, _, doc in load_documents(path)), scheme)
    return found or None

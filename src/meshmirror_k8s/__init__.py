"""meshmirror on real clusters (``pip install 'meshmirror[k8s]'``).

- :class:`KubernetesBackend`: the :class:`meshmirror.backends.Backend` Protocol over the
  official ``kubernetes`` client (list/watch with resourceVersion and bookmarks, 410 ->
  ``Gone``, conditional writes as field manager ``meshmirror``, timeouts, backoff).
- :func:`credentials_from_secret` / :func:`api_client`: a linked cluster's client from a
  Link's credentials Secret only; ``exec``, ``auth-provider`` and file references are
  refused unless a :class:`CredentialPolicy` allows them.
- :mod:`meshmirror_k8s.rbac`: the least-privilege rules, printed by ``meshmirror link``
  (:func:`meshmirror_k8s.cli.link_main`).
- :class:`Controller`: Links and Secrets in, the reconciler driven over HTTP, with
  :class:`LeaderElector` and :class:`HealthServer`; ``python -m meshmirror_k8s``.

The core (:mod:`meshmirror`) never imports this package.
"""

from meshmirror_k8s.backend import (
    FIELD_MANAGER,
    Backoff,
    Forbidden,
    InvalidRequest,
    KubernetesBackend,
    ReadOnly,
    Timeouts,
    Unauthorized,
)
from meshmirror_k8s.controller import (
    REMOTE_KINDS,
    Controller,
    ControllerConfig,
    DryRunBackend,
    LinkProblem,
    SyncOutcome,
)
from meshmirror_k8s.credentials import (
    ClusterCredentials,
    CredentialPolicy,
    CredentialsError,
    api_client,
    credentials_from_secret,
    parse_kubeconfig,
    source_api_client,
)
from meshmirror_k8s.health import HealthServer
from meshmirror_k8s.leader import LeaderElector
from meshmirror_k8s.rbac import (
    REMOTE_ACCESS_RULES,
    SOURCE_NAMESPACED_RULES,
    SOURCE_RULES,
    Rule,
    remote_access_manifests,
    source_manifests,
)
from meshmirror_k8s.resources import RESOURCES, Resource

__all__ = [
    "FIELD_MANAGER",
    "REMOTE_ACCESS_RULES",
    "REMOTE_KINDS",
    "RESOURCES",
    "SOURCE_NAMESPACED_RULES",
    "SOURCE_RULES",
    "Backoff",
    "ClusterCredentials",
    "Controller",
    "ControllerConfig",
    "CredentialPolicy",
    "CredentialsError",
    "DryRunBackend",
    "Forbidden",
    "HealthServer",
    "InvalidRequest",
    "KubernetesBackend",
    "LeaderElector",
    "LinkProblem",
    "ReadOnly",
    "Resource",
    "Rule",
    "SyncOutcome",
    "Timeouts",
    "Unauthorized",
    "api_client",
    "credentials_from_secret",
    "parse_kubeconfig",
    "remote_access_manifests",
    "source_api_client",
    "source_manifests",
]

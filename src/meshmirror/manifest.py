"""Re-exports :mod:`meshmirror.formats.manifest`: its stable import path."""

from meshmirror.formats.manifest import (
    LINK_API_VERSIONS,
    LinkSelectorError,
    ManifestError,
    cluster_state,
    from_manifest,
    iter_documents,
    to_manifest,
)

__all__ = [
    "LINK_API_VERSIONS",
    "LinkSelectorError",
    "ManifestError",
    "cluster_state",
    "from_manifest",
    "iter_documents",
    "to_manifest",
]

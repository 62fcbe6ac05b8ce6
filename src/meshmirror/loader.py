"""Re-exports :mod:`meshmirror.effects.loader`: its stable import path."""

from meshmirror.effects.loader import (
    YAML_LOADER,
    GcMode,
    LoadError,
    cluster_states,
    dump_files,
    load_cluster,
    load_documents,
    load_yaml_file,
    paused_gc,
)

__all__ = [
    "YAML_LOADER",
    "GcMode",
    "LoadError",
    "cluster_states",
    "dump_files",
    "load_cluster",
    "load_documents",
    "load_yaml_file",
    "paused_gc",
]

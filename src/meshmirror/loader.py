"""Re-exports :mod:`meshmirror.effects.loader`: its stable import path."""

from meshmirror.effects.loader import (
    DUMP_COMMAND,
    YAML_LOADER,
    EmptyDumpError,
    GcMode,
    LoadError,
    cluster_states,
    dump_files,
    dump_json,
    dump_yaml,
    load_cluster,
    load_clusters,
    load_documents,
    load_topology,
    load_yaml_file,
    paused_gc,
)

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

"""Effects: files, subprocesses, clusters and clocks. Loading dumps, rendering pictures,
the backends, the reconciler and the Link status writer.

May import every layer; no pure module imports it.
"""

__all__: list[str] = []

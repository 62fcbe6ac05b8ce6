"""Views: what a plan means for the network and for its readers: the topology, checks,
resolve, pictures and summaries.

Pure; imports values, formats, decisions and other views.
"""

__all__: list[str] = []

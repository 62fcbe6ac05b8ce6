"""Formats: kubectl-style documents read into model values and written back.

Pure; imports only values.
"""

__all__: list[str] = []

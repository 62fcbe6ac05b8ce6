"""Decisions: what to mirror and federate, what to create, update, delete or hold, and
what each Link's status says.

Pure; imports values, formats and other decisions.
"""

__all__: list[str] = []

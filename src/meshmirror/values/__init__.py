"""Values: labels and selectors, names, the scheme's strings, codes, the model's frozen
objects, and small table helpers.

Pure: the standard library, ``attrs`` and ``typing_extensions`` only. A value module
imports only other values.
"""

__all__: list[str] = []

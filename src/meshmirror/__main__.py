"""``python -m meshmirror``: the same as the ``meshmirror`` command."""

from meshmirror.cli import run

run()

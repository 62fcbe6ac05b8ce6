"""Every example in README.md and docs/*.md is executed, so the docs never rot.

- ``pycon`` blocks (``>>>``) run as doctests.
- ``console`` blocks: each ``$ meshmirror ...`` line runs through the CLI, and the lines
  after it (up to the next ``$``) must be exactly what it prints. Redirections say which
  stream is shown: none = stdout, ``2>&1 >/dev/null`` = stderr only, ``2>&1`` = stderr
  then stdout (as a terminal shows it: warnings come first), ``2>/dev/null`` = stdout.
"""

from __future__ import annotations

import doctest
import io
import re
import shlex
from pathlib import Path

import pytest

from meshmirror.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)


def console_examples() -> list[tuple[str, str, str]]:
    out = []
    for doc in DOCS:
        for block in FENCE.findall(doc.read_text()):
            command, expected = None, []
            for line in block.splitlines():
                if line.startswith("$ "):
                    if command is not None:
                        out.append((doc.name, command, "\n".join(expected)))
                    command, expected = line[2:], []
                else:
                    expected.append(line)
            if command is not None:
                out.append((doc.name, command, "\n".join(expected)))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_doctests(doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(
        str(doc), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0


EXAMPLES = console_examples()


@pytest.mark.parametrize(
    ("doc", "command", "expected"), EXAMPLES, ids=[f"{d}:{c[:60]}" for d, c, _ in EXAMPLES]
)
def test_console_examples(
    doc: str, command: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    words = shlex.split(command)
    assert words[0] == "meshmirror", f"{doc}: only meshmirror commands are executed"
    show = "stdout"
    for suffix, mode in (
        (["2>&1", ">/dev/null"], "stderr"),
        (["2>&1"], "both"),
        (["2>/dev/null"], "stdout"),
    ):
        if words[-len(suffix) :] == suffix:
            words, show = words[: -len(suffix)], mode
            break
    out, err = io.StringIO(), io.StringIO()
    main(words[1:], out=out, err=err)
    shown = {
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "both": err.getvalue() + out.getvalue(),
    }[show]
    assert shown.rstrip("\n") == expected.rstrip("\n")


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2

"""Every workflow of the project: `nox -s tests`, `nox -s demo`, ... (see README.md)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "typecheck", "lint"]

TEST_DEPS = ["pytest>=7", "pytest-asyncio>=0.23", "hypothesis>=6.100", "kmock>=0.8", "pydot>=2"]


@nox.session
def tests(session: nox.Session) -> None:
    """Every test: unit, property-based, stateful, CLI, docs, adapter over HTTP."""
    session.install("-e", ".[k8s,testing]", *TEST_DEPS)
    env = {"HYPOTHESIS_PROFILE": "ci"}
    session.run("pytest", *session.posargs, env=env)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on both packages."""
    session.install("-e", ".[k8s,testing]", "mypy>=1.8", "types-PyYAML")
    session.run("mypy", "--strict", "src/meshmirror", "src/meshmirror_k8s")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: plan the example topology and print it."""
    session.install("-e", ".")
    session.run(
        "meshmirror",
        "plan",
        "--source",
        "west",
        "west=examples/topology/west.yaml",
        "east=examples/topology/east.yaml",
        "north=examples/topology/north.yaml",
        "-o",
        "yaml",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; figures printed as JSON on the last line (pass --full for the big run)."""
    session.install("-e", ".[k8s]")
    args = session.posargs or ["--quick"]
    session.run("python", "benchmarks/run.py", *args)


@nox.session
def bench_controller(session: nox.Session) -> None:
    """The controller benchmark: the real controller process against the in-repo API
    servers; figures as JSON on the last line (--quick by default; --full, or
    --clusters N --services M)."""
    session.install("-e", ".[k8s]")
    args = session.posargs or ["--quick"]
    session.run("python", "benchmarks/controller.py", *args)


@nox.session
def soak(session: nox.Session) -> None:
    """The stateful reconciler tests, far longer than CI runs them."""
    session.install("-e", ".[k8s,testing]", *TEST_DEPS)
    session.run(
        "pytest", "tests", "-k", "stateful", *session.posargs, env={"HYPOTHESIS_PROFILE": "soak"}
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Execute every example in docs/ and README.md."""
    session.install("-e", ".[testing]", *TEST_DEPS)
    session.run("pytest", "tests/test_docs.py", *session.posargs)

"""The ``meshmirror`` command (kubectl-like). Bad input is ``error: ...`` and exit 2.

meshmirror plan    --source west west=west.yaml east=east.yaml [-o yaml|json|table|summary]
meshmirror diff    --source west west=west.yaml east=east.yaml
meshmirror check   --source west west=west.yaml east=east.yaml [--topology FILE] [-o text|json]
meshmirror resolve --source west west=west.yaml east=east.yaml [--topology FILE]
                   [--from NAMESPACE] [--unreachable CLUSTER]... NAMESPACE/SERVICE [-o text|json]
meshmirror graph   --source west west=west.yaml east=east.yaml [--topology FILE]
                   [--namespace NS]... [--cluster NAME]... [--service NAME]...
                   [--bundle-above N | --no-bundle] [-o dot|mermaid|svg|png]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TextIO

from meshmirror import __version__
from meshmirror.decisions.diff import diff
from meshmirror.decisions.mirror import Resolver
from meshmirror.decisions.plan import Plan, PlanOptions, plan
from meshmirror.effects import loader
from meshmirror.effects.dns import dns_resolver
from meshmirror.effects.loader import (
    DUMP_COMMAND,
    EmptyDumpError,
    LoadError,
    dump_json,
    dump_yaml,
)
from meshmirror.effects.render import GraphvizError, picture, to_svg
from meshmirror.effects.secretdump import secrets_in
from meshmirror.formats.manifest import ManifestError, to_manifest
from meshmirror.values.codes import Conflict, NoticeCode, Skip
from meshmirror.values.labels import LabelError, SelectorError
from meshmirror.values.model import ClusterState
from meshmirror.values.names import InvalidNameError
from meshmirror.views.checks import check
from meshmirror.views.graph import GraphOptions, to_dot, to_mermaid
from meshmirror.views.resolve import TargetError, parse_target, resolve
from meshmirror.views.summary import summarize
from meshmirror.views.topology import Topology, TopologyError

__all__ = ["CliError", "main"]


class CliError(Exception):
    """Bad input on the command line: printed as ``error: ...``, exit 2."""


#: What the CLI turns into ``error: ...`` and exit 2.
BAD_INPUT: tuple[type[BaseException], ...] = (
    CliError,
    LoadError,
    ManifestError,
    SelectorError,
    LabelError,
    InvalidNameError,
    TopologyError,
    TargetError,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(message)


class _IntermixedParser(_Parser):
    """Options may come between positionals (``CLUSTER=PATH ... --from ns TARGET``)."""

    _mixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._mixing:
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


# -- shared options -------------------------------------------------------------------


def add_cluster_arguments(p: argparse.ArgumentParser, *, target: bool = False) -> None:
    """``--source NAME CLUSTER=PATH ...`` and the planner's flags."""
    p.add_argument("--source", required=True, metavar="NAME", help="the source cluster")
    p.add_argument(
        "clusters",
        nargs="+",
        metavar="CLUSTER=PATH" + (" ... NAMESPACE/SERVICE" if target else ""),
        help="each cluster's kubectl dump: a file or a directory",
    )
    p.add_argument(
        "--enable-headless-services",
        action="store_true",
        help="mirror headless services as headless, with per-pod services (Linkerd's flag)",
    )
    p.add_argument(
        "--enable-namespace-creation",
        action="store_true",
        help="plan missing namespaces instead of skipping (Linkerd's flag)",
    )
    p.add_argument(
        "--no-resolve",
        action="store_true",
        help="do not resolve gateway hostnames: a hostname gateway becomes a skip",
    )
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept a CLUSTER=PATH that holds no object (by default an error: a "
        "mistyped path or a failed kubectl get would otherwise read as an empty cluster)",
    )


def parse_clusters(specs: Sequence[str]) -> dict[str, str]:
    """``CLUSTER=PATH`` arguments as a mapping, refusing malformed or repeated names."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise CliError(f"{spec!r} is not CLUSTER=PATH (for example east=east.yaml)")
        if name in out:
            raise CliError(f"cluster {name!r} is given twice")
        out[name] = path
    return out


def load_clusters(
    source: str,
    specs: Sequence[str],
    *,
    allow_empty: bool = False,
    progress: TextIO | None = None,
) -> tuple[ClusterState, dict[str, ClusterState]]:
    """The source's state and every other cluster's, from ``CLUSTER=PATH`` arguments
    (:func:`meshmirror.loader.load_clusters`, with the command line's messages).

    A path that holds no object is a :class:`CliError` unless ``allow_empty``; a file
    expected to take a while is announced on ``progress``."""
    paths = parse_clusters(specs)
    if source not in paths:
        raise CliError(
            f"--source {source!r} is not among the clusters given "
            f"({', '.join(sorted(paths))}); add {source}=PATH"
        )
    try:
        return loader.load_clusters(
            paths, source=source, allow_empty=allow_empty, progress=progress
        )
    except EmptyDumpError as exc:
        raise CliError(
            f"{exc.cluster}={exc.path} {exc.problem}; make the dump with `{DUMP_COMMAND}`, or pass "
            "--allow-empty if the cluster is meant to be empty"
        ) from None
    except LoadError as exc:
        named = [name for name, path in paths.items() if path == exc.path]
        if named and exc.path.count("=") and exc.document == 0:
            # `ea=st=path`: the name ends at the first '=', which may not be what was meant.
            name, path = named[0], exc.path
            raise CliError(
                f"{name}={path}: {path}: {exc.problem} (the cluster name is {name!r}, the "
                "path everything after the first '='"
                ")"
            ) from None
        raise


def input_notices(source: ClusterState, remotes: Mapping[str, ClusterState], err: TextIO) -> None:
    """What the input as a whole means, when it may not be what was meant: a source
    without Links, a cluster no Link targets (``warning: <code>: ...``)."""
    targets = {link.target_cluster_name for link in source.links.values()}
    if not source.links:
        print(
            f"warning: {NoticeCode.NO_LINKS}: the dump of source cluster {source.name} holds "
            "no Link (multicluster.linkerd.io), so nothing is mirrored; include "
            "links.multicluster.linkerd.io in the kubectl get that made it",
            file=err,
        )
    for name in sorted(set(remotes) - targets):
        print(
            f"warning: {NoticeCode.CLUSTER_NOT_LINKED}: cluster {name} is given, but no Link "
            f"of {source.name} targets it, so it contributes nothing"
            + (f" (the Links target {', '.join(sorted(targets))})" if targets else ""),
            file=err,
        )


def options_from(args: argparse.Namespace) -> PlanOptions:
    return PlanOptions(
        enable_headless_services=args.enable_headless_services,
        enable_namespace_creation=args.enable_namespace_creation,
    )


def resolver_from(args: argparse.Namespace) -> Resolver:
    return None if args.no_resolve else dns_resolver


def plan_from(
    args: argparse.Namespace, specs: Sequence[str] | None = None, *, err: TextIO | None = None
) -> tuple[Plan, ClusterState, dict[str, ClusterState]]:
    """Load the clusters and plan; with ``err``, say how long loads go (on a terminal)
    and what the input as a whole means (:func:`input_notices`)."""
    progress = err if err is not None and err.isatty() else None
    source, remotes = load_clusters(
        args.source,
        args.clusters if specs is None else specs,
        allow_empty=args.allow_empty,
        progress=progress,
    )
    if err is not None:
        input_notices(source, remotes, err)
    p = plan(source, remotes, resolve=resolver_from(args), options=options_from(args))
    return p, source, remotes


def warn(findings: Iterable[Skip | Conflict], err: TextIO) -> None:
    """Skips and conflicts on stderr, one per line: ``warning: <code>: <message>``."""
    for f in findings:
        print(f"warning: {f.code.value}: {one_line(f.message)}", file=err)


def one_line(message: str) -> str:
    """A message on one line: names from a dump may hold line breaks."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


# -- plan -----------------------------------------------------------------------------


def plan_document(p: Plan) -> dict[str, Any]:
    """The plan as one ``kind: List``."""
    return {"apiVersion": "v1", "kind": "List", "items": [to_manifest(o) for o in p.objects]}


def plan_table(p: Plan) -> str:
    """A kubectl-like table: every planned object with its mode and origin, then each
    federated Service with its members and winner (:meth:`Plan.text`)."""
    return p.text()


def cmd_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    p, source, _ = plan_from(args, err=err)
    warn((*p.skipped, *p.conflicts), err)
    if args.output == "yaml":
        out.write(dump_yaml(plan_document(p)))
    elif args.output == "json":
        out.write(dump_json(plan_document(p)))
    elif args.output == "summary":
        out.write(summarize(p, source).text())
    else:
        out.write(plan_table(p))
    return 0


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    p, source, _ = plan_from(args, err=err)
    warn((*p.skipped, *p.conflicts), err)
    changes = diff(p, source)
    if args.output == "json":
        out.write(
            dump_json(
                {
                    "creates": [to_manifest(o) for o in changes.creates],
                    "updates": [
                        {"before": to_manifest(u.before), "after": to_manifest(u.after)}
                        for u in changes.updates
                    ],
                    "deletes": [to_manifest(o) for o in changes.deletes],
                }
            )
        )
    elif changes:
        out.write(changes.describe() + "\n")
    return 1 if changes else 0


# -- check, resolve, graph --------------------------------------------------------------


def add_topology_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--topology",
        metavar="FILE",
        help="what the dumps cannot say: pod networks, trust roots, gateway reachability",
    )


def load_topology(path: str | None) -> Topology:
    """The ``--topology`` file (one YAML or JSON document); every default without one
    (:func:`meshmirror.loader.load_topology`)."""
    return loader.load_topology(path)


def topology_notices(
    topology: Topology,
    path: str | None,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    err: TextIO,
) -> None:
    """A warning for each cluster the topology file names that is not given (nor a
    Link's target): most often a typo, whose settings would silently not apply."""
    known = {source.name, *remotes} | {link.target_cluster_name for link in source.links.values()}
    shown = ", ".join(sorted(known))
    for name, entry in topology.clusters.items():
        found = [(f"clusters.{name}", name)] if name not in known else []
        found += [
            (f"clusters.{name}.gatewayReachableFrom", other)
            for other in sorted(entry.gateway_reachable_from or ())
            if other not in known
        ]
        for key, unknown in found:
            print(
                f"warning: {NoticeCode.TOPOLOGY_UNKNOWN_CLUSTER}: topology file {path} names "
                f"cluster {unknown!r} ({key}), which is not among the clusters given "
                f"({shown}); its settings are not used",
                file=err,
            )


def note(notes: Iterable[str], err: TextIO) -> None:
    """Assumed defaults on stderr, one per line: ``note: <sentence>``."""
    for text in notes:
        print(f"note: {text}", file=err)


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    topology = load_topology(args.topology)
    p, source, remotes = plan_from(args, err=err)
    topology_notices(topology, args.topology, source, remotes, err)
    warn((*p.skipped, *p.conflicts), err)
    # The source dump's Secrets: each Link's credentials Secret is checked.
    secrets = secrets_in(parse_clusters(args.clusters)[args.source])
    report = check(p, source, remotes, topology, secrets=secrets)
    note(report.notes, err)
    if args.output == "json":
        out.write(dump_json(report.to_dict()))
    else:
        out.write(report.text())
    return 1 if report.failed else 0


def cmd_resolve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    *specs, target = args.clusters
    targets = [a for a in args.clusters if "=" not in a]
    if len(targets) > 1:
        raise CliError(
            f"resolve takes one target NAMESPACE/SERVICE, not {len(targets)} "
            f"({', '.join(targets)}); run it once per target"
        )
    if not specs or "=" in target:
        raise CliError(
            "the last argument must be the target NAMESPACE/SERVICE, after the "
            "CLUSTER=PATH arguments"
        )
    ref = parse_target(target)
    topology = load_topology(args.topology)
    p, source, remotes = plan_from(args, specs, err=err)
    topology_notices(topology, args.topology, source, remotes, err)
    known = {source.name, *remotes}
    for name in args.unreachable or ():
        if name not in known:
            raise CliError(
                f"--unreachable {name!r} is not among the clusters given "
                f"({', '.join(sorted(known))})"
            )
    # Only the skips and conflicts about the target (messages name their object).
    named = re.compile(rf"(?<![\w.-]){re.escape(f'{ref.namespace}/{ref.name}')}(?![\w.-])")
    findings: list[Skip | Conflict] = [*p.skipped, *p.conflicts]
    warn((f for f in findings if named.search(f.message)), err)
    result = resolve(
        p,
        source,
        remotes,
        topology,
        ref,
        client_namespace=args.client_namespace,
        unreachable=args.unreachable or (),
    )
    note(result.notes, err)
    if args.output == "json":
        out.write(dump_json(result.to_dict()))
    else:
        out.write(result.text())
    return 1 if result.failures else 0


def graph_options(args: argparse.Namespace, clusters: Iterable[str]) -> GraphOptions:
    """The graph command's filters and bundling; an unknown ``--cluster`` is bad input."""
    if args.bundle_above < 0:
        raise CliError(f"--bundle-above must be 0 or more, not {args.bundle_above}")
    known = set(clusters)
    for name in args.cluster or ():
        if name not in known:
            raise CliError(
                f"--cluster {name!r} is not among the clusters given or linked "
                f"({', '.join(sorted(known))})"
            )
    return GraphOptions(
        namespaces=args.namespace or (),
        clusters=args.cluster or (),
        services=args.service or (),
        bundle_above=None if args.no_bundle else args.bundle_above,
    )


def cmd_graph(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    topology = load_topology(args.topology)
    p, source, remotes = plan_from(args, err=err)
    topology_notices(topology, args.topology, source, remotes, err)
    linked = {link.target_cluster_name for link in source.links.values()}
    options = graph_options(args, {source.name, *remotes, *linked})
    warn((*p.skipped, *p.conflicts), err)
    report = check(p, source, remotes, topology)
    note(report.notes, err)
    try:
        if args.output == "mermaid":
            out.write(to_mermaid(p, source, remotes, report, options))
        elif args.output == "svg":
            out.write(to_svg(p, source, remotes, report, options=options))
        elif args.output == "png":
            binary = getattr(out, "buffer", None)
            if binary is None:
                raise CliError("-o png writes binary data, and this output takes only text")
            png = picture(p, source, remotes, report, fmt="png", options=options)
            out.flush()
            binary.write(png)
            binary.flush()
        else:
            out.write(to_dot(p, source, remotes, report, options))
    except GraphvizError as exc:
        print(f"error: {exc}", file=err)
        return 2
    return 0


def _register_check_resolve_graph(sub: Any) -> None:
    # These take options between positionals, as their synopsis shows.
    saved, sub._parser_class = sub._parser_class, _IntermixedParser
    try:
        _add_check_resolve_graph(sub)
    finally:
        sub._parser_class = saved


def _add_check_resolve_graph(sub: Any) -> None:
    c = sub.add_parser("check", help="will it work? each mode's requirements (exit 1 on a fail)")
    add_cluster_arguments(c)
    add_topology_argument(c)
    c.add_argument("-o", "--output", choices=("text", "json"), default="text")
    c.set_defaults(func=cmd_check)

    r = sub.add_parser(
        "resolve",
        help="where a request goes, by which path, with which identity (exit 1 on a failure)",
    )
    add_cluster_arguments(r, target=True)
    add_topology_argument(r)
    r.add_argument(
        "--from",
        dest="client_namespace",
        metavar="NAMESPACE",
        help="the client's namespace in the source (default: the target's)",
    )
    r.add_argument(
        "--unreachable",
        action="append",
        metavar="CLUSTER",
        help="resolve as if this cluster (and its gateway) were down; repeatable",
    )
    r.add_argument("-o", "--output", choices=("text", "json"), default="text")
    r.set_defaults(func=cmd_resolve)

    g = sub.add_parser("graph", help="draw clusters, links, mirrors and federated Services")
    add_cluster_arguments(g)
    add_topology_argument(g)
    g.add_argument(
        "--namespace",
        action="append",
        metavar="NAMESPACE",
        help="draw only what is in this namespace; repeatable",
    )
    g.add_argument(
        "--cluster",
        action="append",
        metavar="CLUSTER",
        help="draw the source and only this linked cluster; repeatable",
    )
    g.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="draw only Services of this name or NAMESPACE/NAME (a mirror also under its "
        "remote's name); repeatable",
    )
    bundling = g.add_mutually_exclusive_group()
    bundling.add_argument(
        "--bundle-above",
        type=int,
        default=3,
        metavar="N",
        help="draw a Link's mirrors of one mode in one namespace as one counted node when "
        "there are more than N (default 3; 0 bundles every group)",
    )
    bundling.add_argument("--no-bundle", action="store_true", help="draw every mirror on its own")
    g.add_argument("-o", "--output", choices=("dot", "mermaid", "svg", "png"), default="dot")
    g.set_defaults(func=cmd_graph)


# -- entry point ----------------------------------------------------------------------

Command = Callable[[argparse.Namespace, TextIO, TextIO], int]

#: Commands another package provides; argv after the name is handed over whole.
DELEGATED: Mapping[str, str] = {
    "link": "meshmirror_k8s.cli:link_main",
    "unlink": "meshmirror_k8s.cli:unlink_main",
    "controller": "meshmirror_k8s.__main__:main",
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="meshmirror",
        description="Plan Linkerd multi-cluster mirrors from kubectl dumps, without a cluster.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("plan", help="print every object the service mirror keeps")
    add_cluster_arguments(p)
    p.add_argument(
        "-o",
        "--output",
        choices=("yaml", "json", "table", "summary"),
        default="yaml",
        help="summary: one row per Link (mirrors by mode, federated, conflicts, skips)",
    )
    p.set_defaults(func=cmd_plan)

    d = sub.add_parser("diff", help="what it takes to reach the plan (exit 1 on changes)")
    add_cluster_arguments(d)
    d.add_argument("-o", "--output", choices=("text", "json"), default="text")
    d.set_defaults(func=cmd_diff)

    for name in DELEGATED:
        sub.add_parser(
            name, help=f"see `meshmirror {name} --help` (needs meshmirror[k8s])", add_help=False
        )

    _register_check_resolve_graph(sub)
    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


#: Functions that add subcommands (check, resolve, graph) to the subparsers.
EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def _delegate(name: str, argv: list[str], out: TextIO, err: TextIO) -> int:
    import contextlib
    import importlib

    module_name, _, func_name = DELEGATED[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(
            f"`meshmirror {name}` needs the Kubernetes extra: pip install 'meshmirror[k8s]' ({exc})"
        ) from None
    func: Callable[[list[str]], int] = getattr(module, func_name)
    # The delegated commands print to sys.stdout/sys.stderr; send those where main() was
    # told to (tests and docs pass StringIO).
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            return func(argv)
        except SystemExit as exc:  # argparse's --help and usage errors
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in DELEGATED:
            return _delegate(args_list[0], args_list[1:], out, err)
        if args_list and args_list[0] == "--version":
            print(f"meshmirror {__version__}", file=out)
            return 0
        args = build_parser().parse_args(args_list)
        code: int = args.func(args, out, err)
        return code
    except BAD_INPUT as exc:
        print(f"error: {one_line(str(exc))}", file=err)
        return 2
    except BrokenPipeError:
        return 0


def run() -> None:  # pragma: no cover - the console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()

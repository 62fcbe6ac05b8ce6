"""``python -m meshmirror_k8s`` (also ``meshmirror controller``): the service-mirror controller.

    python -m meshmirror_k8s [--kubeconfig PATH] [--namespace linkerd-multicluster]
        [--once] [--dry-run] [--enable-headless-services] [--enable-namespace-creation]
        [--health-port N] [--no-leader-elect] ...

Exit codes: 0 (``--once``/``--dry-run``: every Link synced; otherwise a clean shutdown),
1 (``--once``/``--dry-run``: a Link failed or the source could not be read), 2 (bad
input: ``error: ...`` on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from kubernetes.client import ApiClient

from meshmirror import LINKERD, PlanOptions
from meshmirror_k8s.backend import Backoff, KubernetesBackend, Timeouts
from meshmirror_k8s.controller import Controller, ControllerConfig, dns_resolver
from meshmirror_k8s.credentials import CredentialPolicy, CredentialsError, source_api_client
from meshmirror_k8s.health import HealthServer
from meshmirror_k8s.leader import LeaderElector
from meshmirror_k8s.logs import configure, unconfigure

__all__ = ["build_parser", "main"]


class UsageError(Exception):
    """Bad input: ``error: ...`` and exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {text}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="meshmirror controller",
        description="Mirror Services from linked clusters into this one (Linkerd's Links).",
    )
    p.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="the source cluster's kubeconfig: exactly this file (default: in-cluster; "
        "never $KUBECONFIG or ~/.kube/config)",
    )
    p.add_argument("--context", help="the context of --kubeconfig (default: current)")
    p.add_argument(
        "--namespace",
        default=LINKERD.link_namespace,
        help="where Links, credentials Secrets and the Lease live (default %(default)s)",
    )
    p.add_argument(
        "--once", action="store_true", help="one full sync, then exit (1: a link failed)"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print every planned create/update/delete, write nothing (one pass, like --once)",
    )
    p.add_argument("--enable-headless-services", action="store_true")
    p.add_argument("--enable-namespace-creation", action="store_true")
    p.add_argument(
        "--no-resolve", action="store_true", help="do not resolve gateway hostnames (a skip)"
    )
    p.add_argument("--cluster-name", default="source", help="the source's name in logs")
    p.add_argument(
        "--resync-period",
        type=_positive,
        default=60.0,
        metavar="SECONDS",
        help="a full comparison from the caches this often (no list; default 60)",
    )
    p.add_argument(
        "--status-delay",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="after events changed mirrors, a full comparison within this long (or four "
        "times a quiet one's duration, if longer) brings skips, conflicts and Link status "
        "up to date (default 5)",
    )
    p.add_argument(
        "--relist-period",
        type=_positive,
        default=3600.0,
        metavar="SECONDS",
        help="list every cluster again this often, watches or not (default 3600)",
    )
    p.add_argument(
        "--write-concurrency",
        type=_at_least_one,
        default=8,
        metavar="N",
        help="writes in flight at once (a mirror's Service before its Endpoints; default 8)",
    )
    p.add_argument("--unreachable-grace", type=float, default=300.0, metavar="SECONDS")
    p.add_argument("--request-timeout", type=_positive, default=30.0, metavar="SECONDS")
    p.add_argument("--watch-timeout", type=int, default=300, metavar="SECONDS")
    p.add_argument("--no-watch", action="store_true", help="resync only, never watch")
    p.add_argument(
        "--no-gateway-probes",
        action="store_true",
        help="never probe gateways (every gateway counts as alive)",
    )
    p.add_argument("--max-retries", type=int, default=4, help="for 429 and 5xx (default 4)")
    le = p.add_argument_group("leader election")
    le.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="hold a coordination.k8s.io Lease while syncing (default on; never with "
        "--once or --dry-run)",
    )
    le.add_argument("--lease-name", default="meshmirror-controller")
    le.add_argument("--lease-duration", type=_positive, default=15.0, metavar="SECONDS")
    le.add_argument("--renew-deadline", type=_positive, default=10.0, metavar="SECONDS")
    le.add_argument("--retry-period", type=_positive, default=2.0, metavar="SECONDS")
    le.add_argument("--identity", help="this replica's name (default: host name and pid)")
    h = p.add_argument_group("health")
    h.add_argument(
        "--health-port",
        type=int,
        metavar="PORT",
        help="serve /healthz, /readyz and /metrics on this port (0: any free port; default: off)",
    )
    h.add_argument("--health-address", default="127.0.0.1")
    c = p.add_argument_group("linked clusters' credentials (refused unless allowed)")
    c.add_argument("--allow-exec", action="store_true", help="allow exec credential plugins")
    c.add_argument("--allow-auth-provider", action="store_true", help="allow auth-provider plugins")
    c.add_argument(
        "--allow-file-references",
        action="store_true",
        help="allow tokenFile, client-certificate/-key and certificate-authority paths",
    )
    o = p.add_argument_group("logging")
    o.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    o.add_argument("--log-format", default="json", choices=("json", "text"))
    return p


def _config(args: argparse.Namespace) -> ControllerConfig:
    timeouts = Timeouts(
        connect=min(10.0, args.request_timeout), read=args.request_timeout, watch=args.watch_timeout
    )
    return ControllerConfig(
        namespace=args.namespace,
        options=PlanOptions(
            enable_headless_services=args.enable_headless_services,
            enable_namespace_creation=args.enable_namespace_creation,
        ),
        policy=CredentialPolicy(
            allow_exec=args.allow_exec,
            allow_auth_provider=args.allow_auth_provider,
            allow_files=args.allow_file_references,
        ),
        unreachable_grace=args.unreachable_grace,
        resync_period=args.resync_period,
        status_delay=args.status_delay,
        relist_period=args.relist_period,
        write_concurrency=args.write_concurrency,
        dry_run=args.dry_run,
        watch=not args.no_watch,
        probe_gateways=not args.no_gateway_probes,
        timeouts=timeouts,
        backoff=Backoff(retries=max(0, args.max_retries)),
        resolve=None if args.no_resolve else dns_resolver,
    )


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the controller; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        if args.unreachable_grace < 0:
            raise UsageError("--unreachable-grace must be >= 0")
        if args.watch_timeout < 1:
            raise UsageError("--watch-timeout must be >= 1")
        if not args.retry_period < args.renew_deadline < args.lease_duration:
            raise UsageError("need --retry-period < --renew-deadline < --lease-duration")
        config = _config(args)
        try:
            client = source_api_client(args.kubeconfig, context=args.context)
        except CredentialsError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"--kubeconfig {args.kubeconfig}: {exc.strerror or exc}") from None
        except Exception as exc:  # the official in-cluster loader's ConfigException
            raise UsageError(f"cannot configure the source cluster's client: {exc}") from None
    except UsageError as exc:
        print(f"error: {exc}", file=err)
        return 2
    log = configure(level=args.log_level, stream=err, fmt=args.log_format)
    try:
        return _run(args, config, client, log, out)
    finally:
        unconfigure(log)


def _run(
    args: argparse.Namespace,
    config: ControllerConfig,
    client: ApiClient,
    log: logging.Logger,
    out: TextIO,
) -> int:
    ns = args.namespace
    source = KubernetesBackend(
        args.cluster_name,
        client,
        timeouts=config.timeouts,
        backoff=config.backoff,
        namespaces={"Link": ns, "Secret": ns, "Lease": ns},
    )
    one_pass = args.once or args.dry_run
    elector: LeaderElector | None = None
    if args.leader_elect and not one_pass:
        elector = LeaderElector(
            source,
            ns,
            args.lease_name,
            args.identity or f"{socket.gethostname()}_{os.getpid()}",
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
        )
    controller = Controller(
        source, config, out=out, leader=(lambda: elector.is_leader) if elector else None
    )
    if one_pass:
        try:
            outcome = controller.sync_until_idle()
        finally:
            controller.close()
            source.close()
        return 0 if outcome.ok else 1

    health: HealthServer | None = None
    if args.health_port is not None:
        health = HealthServer(
            alive=controller.alive,
            ready=lambda: controller.ready,
            state=controller.health_state,
            metrics=controller.metrics.render,
            host=args.health_address,
            port=args.health_port,
        ).start()
        log.info("health endpoints up", extra={"address": args.health_address, "port": health.port})

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, stop.set)
        log.info("controller started", extra={"namespace": ns, "leader_election": bool(elector)})
        await controller.run(stop, elector=elector)
        log.info("controller stopped")

    try:
        asyncio.run(run())
    finally:
        if health is not None:
            health.stop()
        source.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

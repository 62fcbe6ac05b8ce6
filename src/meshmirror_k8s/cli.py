"""``meshmirror link`` and ``meshmirror unlink``: print what to apply, or to delete.

Like ``linkerd multicluster link-gen``, ``link`` prints what to apply, in link-gen's shape,
and reads no cluster::

    meshmirror link --cluster-name east --kubeconfig east-sa.kubeconfig \\
        --gateway-addresses 192.0.2.10 --gateway-port 4143 \\
        --gateway-identity gateway.east.example

prints, as multi-document YAML, for the **source** cluster the credentials Secret, its
copy for Linkerd's destination controller in the control-plane namespace
(``--linkerd-namespace``; labelled with the cluster name, annotated with its trust and
cluster domains) and the Link (v1alpha3); for the **target** cluster the ServiceAccount
(with a token Secret), the ClusterRole (the fewest read-only rules mirroring needs: see
:mod:`meshmirror_k8s.rbac`) and its ClusterRoleBinding, and with
``--linkerd-destination-access`` a separate ClusterRole of what Linkerd's destination
controller reads there. ``--print source|target`` prints one side only. The kubeconfig
put into the Secrets holds only the server, its CA and a bearer token: from
``--kubeconfig`` (a kubeconfig of the target whose user has a token), or from
``--api-server`` and ``--token``/``--token-file``. ``unlink`` prints, by name, what
``link`` made with the same flags. Bad input is ``error: ...`` on stderr and exit 2; a
token never appears on stderr.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import yaml

from meshmirror import LINKERD, SelectorError, __version__, parse_selector
from meshmirror.liveness import DurationError, go_duration, parse_duration
from meshmirror.names import dns1123_label_problem, dns1123_subdomain_problem
from meshmirror_k8s.credentials import CredentialPolicy, CredentialsError, parse_kubeconfig
from meshmirror_k8s.rbac import linkerd_destination_manifests, remote_access_manifests

__all__ = [
    "DEFAULT_SERVICE_ACCOUNT",
    "LinkError",
    "build_link_documents",
    "build_unlink_documents",
    "link_main",
    "unlink_main",
]

DEFAULT_SERVICE_ACCOUNT = "meshmirror-remote-access"


class LinkError(Exception):
    """Bad input: printed as ``error: ...``, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise LinkError(message)


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="meshmirror link",
        description="Print a Link, its credentials Secret and the remote-access RBAC.",
    )
    p.add_argument("--cluster-name", required=True, help="the target cluster's name")
    p.add_argument(
        "--namespace",
        default=LINKERD.link_namespace,
        help="where the Link and its Secret go in the source (default %(default)s)",
    )
    p.add_argument(
        "--credentials-secret",
        help="the Secret's name (default cluster-credentials-<cluster>, as Linkerd names it)",
    )
    src = p.add_argument_group("credentials (one of)")
    src.add_argument("--kubeconfig", help="a kubeconfig of the target whose user has a token")
    src.add_argument("--context", help="the context of --kubeconfig (default: current)")
    src.add_argument("--api-server", help="the target's API server URL (overrides --kubeconfig)")
    src.add_argument("--token", help="a bearer token for the target (prefer --token-file)")
    src.add_argument("--token-file", help="a file holding the bearer token")
    src.add_argument("--certificate-authority", help="a PEM file with the target's CA")
    src.add_argument(
        "--insecure-skip-tls-verify", action="store_true", help="do not verify the target's TLS"
    )
    gw = p.add_argument_group("gateway")
    gw.add_argument(
        "--gateway",
        type=_bool,
        default=True,
        metavar="true|false",
        help="gateway mode (default true); false leaves spec.selector unset",
    )
    gw.add_argument("--gateway-addresses", help="comma-separated gateway addresses")
    gw.add_argument("--gateway-port", help="the gateway's port (mc-gateway)")
    gw.add_argument("--gateway-identity", help="the gateway's mTLS identity")
    gw.add_argument("--probe-path", help="the gateway's probe path (default /ready)")
    gw.add_argument("--probe-port", help="the gateway's probe port, mc-probe (default 4191)")
    gw.add_argument("--probe-period", help="seconds or a duration between probes (default 3s)")
    gw.add_argument("--probe-timeout", help="a duration; omitted: the CRD's default, 30s")
    gw.add_argument(
        "--probe-failure-threshold", help="failed probes before the gateway is dead (CRD: 3)"
    )
    sel = p.add_argument_group("selectors (Kubernetes selector syntax)")
    sel.add_argument(
        "--selector",
        default=f"{LINKERD.export_label}={LINKERD.export_gateway_value}",
        help="gateway-mode exports (default %(default)s)",
    )
    sel.add_argument(
        "--remote-discovery-selector",
        default=f"{LINKERD.export_label}={LINKERD.export_remote_discovery_value}",
        help="remote-discovery exports (default %(default)s)",
    )
    sel.add_argument(
        "--federated-service-selector",
        default=f"{LINKERD.federated_label}={LINKERD.federated_member_value}",
        help="federated members (default %(default)s)",
    )
    p.add_argument("--excluded-labels", default="", help="comma-separated label keys")
    p.add_argument("--excluded-annotations", default="", help="comma-separated annotation keys")
    p.add_argument("--cluster-domain", default="cluster.local", help="the target's DNS domain")
    p.add_argument(
        "--trust-domain",
        default="cluster.local",
        help="the target's identity trust domain (linkerd-config; default %(default)s)",
    )
    p.add_argument(
        "--linkerd-namespace",
        default=LINKERD.linkerd_namespace,
        help="the source's Linkerd control-plane namespace, where the destination "
        "controller's copy of the credentials goes (default %(default)s)",
    )
    p.add_argument(
        "--linkerd-destination-access",
        action="store_true",
        help="also grant, in its own ClusterRole, what Linkerd's destination controller "
        "reads in the target for remote discovery and federated Services",
    )
    p.add_argument(
        "--target-linkerd-namespace",
        default=LINKERD.linkerd_namespace,
        help="Linkerd's namespace in the target (default %(default)s)",
    )
    p.add_argument(
        "--service-account",
        default=DEFAULT_SERVICE_ACCOUNT,
        help="the target's remote-access ServiceAccount (default %(default)s)",
    )
    p.add_argument(
        "--remote-namespace",
        default=LINKERD.link_namespace,
        help="the ServiceAccount's namespace in the target (default %(default)s)",
    )
    p.add_argument(
        "--print",
        dest="print_side",
        choices=("all", "source", "target"),
        default="all",
        help="which cluster's documents to print (default all)",
    )
    return p


def _selector(text: str, flag: str) -> dict[str, Any] | None:
    try:
        sel = parse_selector(text)
    except SelectorError as err:
        raise LinkError(f"{flag}: {err}") from None
    if not text.strip():
        return None
    return sel.to_label_selector()


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _target_kubeconfig(args: argparse.Namespace) -> tuple[str, str]:
    """(the kubeconfig YAML for the Secret, the server): server, CA and token only."""
    server: str | None = args.api_server
    ca: bytes | None = None
    insecure = bool(args.insecure_skip_tls_verify)
    token: str | None = None
    if args.kubeconfig:
        path = Path(args.kubeconfig)
        try:
            text = path.read_bytes()
        except OSError as err:
            raise LinkError(f"--kubeconfig {path}: {err.strerror or err}") from None
        try:
            creds = parse_kubeconfig(
                text,
                link=args.cluster_name,
                policy=CredentialPolicy(allow_files=True),
                context=args.context,
                base_dir=str(path.resolve().parent),
            )
        except CredentialsError as err:
            raise LinkError(f"--kubeconfig {path}: {err}") from None
        server = server or creds.server
        insecure = insecure or creds.insecure_skip_tls_verify
        try:
            if creds.ca_data:
                ca = creds.ca_data
            elif creds.ca_file:
                ca = Path(creds.ca_file).read_bytes()
            token = creds.token
            if not token and creds.token_file:
                token = Path(creds.token_file).read_text().strip()
        except OSError as err:
            raise LinkError(f"--kubeconfig {path}: {err.filename}: {err.strerror}") from None
    if args.token_file:
        try:
            token = Path(args.token_file).read_text().strip()
        except OSError as err:
            raise LinkError(f"--token-file: {err.filename}: {err.strerror}") from None
    elif args.token:
        token = args.token
    if args.certificate_authority:
        try:
            ca = Path(args.certificate_authority).read_bytes()
        except OSError as err:
            raise LinkError(f"--certificate-authority: {err.filename}: {err.strerror}") from None
    if not server:
        raise LinkError("give the target's API server: --api-server URL or --kubeconfig PATH")
    if not server.startswith(("http://", "https://")):
        raise LinkError(f"--api-server must be an http(s) URL, not {server!r}")
    if not token:
        raise LinkError(
            "no bearer token for the target: give --token-file, --token, or a --kubeconfig "
            "whose user has a token (a ServiceAccount's); certificates and exec plugins "
            "cannot be put into the credentials Secret"
        )
    cluster: dict[str, Any] = {"server": server}
    if ca:
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    name = args.cluster_name
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": args.service_account, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": args.service_account}}],
        "current-context": name,
    }
    return yaml.safe_dump(doc, sort_keys=False), server


def build_link_documents(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """(documents for the source cluster, documents for the target cluster)."""
    name = args.cluster_name
    for flag, value, check in (
        ("--cluster-name", name, dns1123_label_problem),
        ("--namespace", args.namespace, dns1123_label_problem),
        ("--remote-namespace", args.remote_namespace, dns1123_label_problem),
        ("--linkerd-namespace", args.linkerd_namespace, dns1123_label_problem),
        ("--service-account", args.service_account, dns1123_subdomain_problem),
    ):
        problem = check(value)
        if problem:
            raise LinkError(f"{flag} {value!r}: {problem}")
    secret_name = args.credentials_secret or f"{LINKERD.credentials_secret_prefix}{name}"
    problem = dns1123_subdomain_problem(secret_name)
    if problem:
        raise LinkError(f"--credentials-secret {secret_name!r}: {problem}")

    source: list[Any] = []
    target: list[Any] = []
    if args.print_side in ("all", "target"):
        target.extend(remote_access_manifests(args.service_account, args.remote_namespace))
        if args.linkerd_destination_access:
            target.extend(
                linkerd_destination_manifests(args.service_account, args.remote_namespace)
            )
    if args.print_side == "target":
        return source, target

    spec: dict[str, Any] = {
        "targetClusterName": name,
        "targetClusterDomain": args.cluster_domain,
        "targetClusterLinkerdNamespace": args.target_linkerd_namespace,
        "clusterCredentialsSecret": secret_name,
    }
    selector = _selector(args.selector, "--selector")  # checked even when left out
    if args.gateway:
        missing = [
            flag
            for flag, value in (
                ("--gateway-addresses", args.gateway_addresses),
                ("--gateway-port", args.gateway_port),
                ("--gateway-identity", args.gateway_identity),
            )
            if not value
        ]
        if missing:
            raise LinkError(
                f"gateway mode needs {', '.join(missing)} (or --gateway=false for a "
                "gatewayless Link)"
            )
        if not str(args.gateway_port).isdigit() or not 1 <= int(args.gateway_port) <= 65535:
            raise LinkError(f"--gateway-port must be a port number, not {args.gateway_port!r}")
        spec["gatewayAddress"] = ",".join(_csv(args.gateway_addresses))
        spec["gatewayPort"] = str(int(args.gateway_port))
        spec["gatewayIdentity"] = args.gateway_identity
        spec["probeSpec"] = _probe_spec(args)
        if selector is not None:
            spec["selector"] = selector
    else:
        spec["probeSpec"] = {}  # link-gen prints the empty struct
    for key, flag, text in (
        ("remoteDiscoverySelector", "--remote-discovery-selector", args.remote_discovery_selector),
        (
            "federatedServiceSelector",
            "--federated-service-selector",
            args.federated_service_selector,
        ),
    ):
        value = _selector(text, flag)
        if value is not None:
            spec[key] = value
    if _csv(args.excluded_labels):
        spec["excludedLabels"] = _csv(args.excluded_labels)
    if _csv(args.excluded_annotations):
        spec["excludedAnnotations"] = _csv(args.excluded_annotations)

    kubeconfig, _ = _target_kubeconfig(args)
    data = {LINKERD.credentials_kubeconfig_key: base64.b64encode(kubeconfig.encode()).decode()}
    # As link-gen: the controller's Secret, then the destination controller's copy in the
    # control-plane namespace (labelled with the cluster, annotated with its domains),
    # then the Link. Go prints an unset creationTimestamp as null and the status {}.
    source.append(_secret(secret_name, args.namespace, data))
    source.append(
        _secret(
            secret_name,
            args.linkerd_namespace,
            data,
            labels={LINKERD.credentials_cluster_name_label: name},
            annotations={
                LINKERD.credentials_trust_domain_annotation: args.trust_domain,
                LINKERD.credentials_cluster_domain_annotation: args.cluster_domain,
            },
        )
    )
    source.append(
        {
            "apiVersion": LINKERD.link_api_version,
            "kind": LINKERD.link_kind,
            "metadata": {
                "annotations": {LINKERD.created_by_annotation: f"meshmirror {__version__}"},
                "creationTimestamp": None,
                "name": name,
                "namespace": args.namespace,
            },
            "spec": spec,
            "status": {},
        }
    )
    return source, target


def _secret(
    name: str,
    namespace: str,
    data: dict[str, str],
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if annotations:
        meta["annotations"] = annotations
    meta["creationTimestamp"] = None
    if labels:
        meta["labels"] = labels
    meta.update(name=name, namespace=namespace)
    return {
        "apiVersion": "v1",
        "data": dict(data),
        "kind": "Secret",
        "metadata": meta,
        "type": LINKERD.credentials_secret_type,
    }


def _probe_spec(args: argparse.Namespace) -> dict[str, str]:
    """``probeSpec`` as link-gen reads it off a default gateway (path, port, period;
    an integer period in seconds becomes a duration), plus timeout and failure
    threshold when given."""
    period = args.probe_period or "3s"
    if period.isascii() and period.isdigit():
        period = go_duration(int(period))
    port = args.probe_port or "4191"
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise LinkError(f"--probe-port must be a port number, not {port!r}")
    probe = {"path": args.probe_path or "/ready", "port": str(int(port)), "period": period}
    if args.probe_timeout:
        probe["timeout"] = args.probe_timeout
    if args.probe_failure_threshold:
        probe["failureThreshold"] = args.probe_failure_threshold
    for field in ("period", "timeout"):
        if field in probe:
            try:
                parse_duration(probe[field])
            except DurationError as err:
                raise LinkError(f"--probe-{field}: {err}") from None
    threshold = probe.get("failureThreshold", "1")
    if not (threshold.isascii() and threshold.isdigit() and int(threshold) >= 1):
        raise LinkError(f"--probe-failure-threshold must be a positive integer, not {threshold!r}")
    if not probe["path"].startswith("/"):
        raise LinkError(f"--probe-path must start with /, not {probe['path']!r}")
    return probe


_LINK_NOTES = (
    "# Apply to the source cluster (where meshmirror runs).\n",
    "# Apply to the target cluster: read-only access for the mirror.\n",
)


def _render(source: list[Any], target: list[Any], notes: tuple[str, str]) -> str:
    parts: list[str] = []
    for docs, note in ((source, notes[0]), (target, notes[1])):
        if docs:
            parts.append(note)
            parts.append(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True))
    return "".join(parts)


def _main(
    argv: Sequence[str] | None,
    out: TextIO | None,
    err: TextIO | None,
    parser: Callable[[], argparse.ArgumentParser],
    build: Callable[[argparse.Namespace], tuple[list[Any], list[Any]]],
    notes: Callable[[argparse.Namespace], tuple[str, str]],
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        source, target = build(args)
    except LinkError as exc:
        print(f"error: {exc}", file=err)
        return 2
    out.write(_render(source, target, notes(args)))
    return 0


def link_main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``meshmirror link ...``: 0 after printing, 2 for bad input."""
    return _main(argv, out, err, build_parser, build_link_documents, lambda _: _LINK_NOTES)


def build_unlink_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="meshmirror unlink",
        description="Print what `meshmirror link` made, to delete (kubectl delete -f -).",
    )
    p.add_argument("--cluster-name", required=True, help="the target cluster's name")
    p.add_argument("--namespace", default=LINKERD.link_namespace)
    p.add_argument("--credentials-secret")
    p.add_argument("--linkerd-namespace", default=LINKERD.linkerd_namespace)
    p.add_argument("--service-account", default=DEFAULT_SERVICE_ACCOUNT)
    p.add_argument("--remote-namespace", default=LINKERD.link_namespace)
    p.add_argument("--linkerd-destination-access", action="store_true")
    p.add_argument("--print", dest="print_side", choices=("all", "source", "target"), default="all")
    return p


def _ref(api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def build_unlink_documents(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """(what to delete from the source, what to delete from the target): the objects
    ``meshmirror link`` prints with the same flags, by name."""
    name = args.cluster_name
    for flag, value in (
        ("--cluster-name", name),
        ("--namespace", args.namespace),
        ("--linkerd-namespace", args.linkerd_namespace),
        ("--remote-namespace", args.remote_namespace),
    ):
        problem = dns1123_label_problem(value)
        if problem:
            raise LinkError(f"{flag} {value!r}: {problem}")
    secret = args.credentials_secret or f"{LINKERD.credentials_secret_prefix}{name}"
    source: list[Any] = []
    target: list[Any] = []
    if args.print_side in ("all", "source"):
        source = [
            _ref(LINKERD.link_api_version, LINKERD.link_kind, name, args.namespace),
            _ref("v1", "Secret", secret, args.namespace),
            _ref("v1", "Secret", secret, args.linkerd_namespace),
        ]
    if args.print_side in ("all", "target"):
        made = list(remote_access_manifests(args.service_account, args.remote_namespace))
        if args.linkerd_destination_access:
            made.extend(linkerd_destination_manifests(args.service_account, args.remote_namespace))
        target = [
            _ref(d["apiVersion"], d["kind"], d["metadata"]["name"], d["metadata"].get("namespace"))
            for d in made
        ]
    return source, target


def _unlink_notes(args: argparse.Namespace) -> tuple[str, str]:
    return (
        f"# Delete from the source cluster: the Link {args.namespace}/{args.cluster_name} "
        "and both credentials Secrets.\n"
        "# The running meshmirror controller deletes that Link's mirrors itself once the "
        "Link is gone\n# (nothing to delete by hand); it needs no credentials for that.\n",
        "# Delete from the target cluster, unless another cluster's Link uses the same "
        "ServiceAccount.\n",
    )


def unlink_main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """``meshmirror unlink ...``: print what to delete; 0, or 2 for bad input."""
    return _main(argv, out, err, build_unlink_parser, build_unlink_documents, _unlink_notes)

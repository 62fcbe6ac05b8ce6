"""Hypothesis strategies for meshmirror values, for your own property tests.

Install the ``testing`` extra (``pip install 'meshmirror[testing]'``), then::

    from hypothesis import given
    from meshmirror import Selector, plan
    from meshmirror.testing import selectors, topologies

    @given(selectors())
    def test_selector_text_round_trips(sel):
        assert Selector.parse(str(sel)) == sel

    @given(topologies())
    def test_every_planned_object_is_owned(topology):
        source, remotes = topology
        for obj in plan(source, remotes).objects:
            assert obj.labels["mirror.linkerd.io/mirrored-service"] == "true"

Strategies come in three groups:

- labels: :func:`label_keys`, :func:`label_values`, :func:`label_sets`,
  :func:`requirements`, :func:`selectors`, :func:`representable_selectors`,
  :func:`label_selector_dicts`, and fuzzing aids :func:`selector_texts`, :func:`json_like`;
- objects: :func:`service_ports`, :func:`services`, :func:`endpoints_for`, :func:`links`,
  :func:`cluster_states`;
- whole set-ups: :func:`topologies`, a source cluster and the clusters its Links target,
  with services exported in every mode, federated members, missing namespaces, clashing
  local names and stale mirrors.

Everything drawn is valid as Kubernetes would accept it, unless a parameter says otherwise
(``label_sets(valid=False)``), so what meshmirror reports about it is meshmirror's doing.
Names come from small pools so that drawn objects meet: mirrors collide with local names,
members of one federated service turn up in several clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, TypeVar

from hypothesis import strategies as st

from meshmirror.values.labels import Operator, Requirement, Selector
from meshmirror.values.model import (
    ClusterState,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    Link,
    Namespace,
    ProbeSpec,
    Service,
    ServicePort,
)
from meshmirror.values.names import federated_name, mirror_name
from meshmirror.values.scheme import LINKERD

__all__ = [
    "CLUSTER_NAMES",
    "COMMON_KEYS",
    "COMMON_VALUES",
    "HOSTNAMES",
    "INT64_MAX",
    "LINK_NAMESPACE",
    "NAMESPACES",
    "SERVICE_NAMES",
    "ExportMode",
    "PlanInputs",
    "Topology",
    "cluster_states",
    "dns_subdomains",
    "endpoints_for",
    "int_operands",
    "json_like",
    "label_keys",
    "label_names",
    "label_selector_dicts",
    "label_sets",
    "label_values",
    "links",
    "representable_selectors",
    "requirements",
    "selector_texts",
    "selectors",
    "service_ports",
    "services",
    "topologies",
]

# --------------------------------------------------------------------------- labels

#: The largest operand of ``>``/``<`` (Go's int64).
INT64_MAX = 2**63 - 1

#: A few fixed keys so that drawn selectors and label sets meet often; ``in`` and
#: ``notin`` are keywords only in operator position and must still work as keys/values.
COMMON_KEYS = ("a", "b", "in", "notin", "example.com/app", "x.y-z_0")
#: Values drawn often (``01`` and ``1`` differ as strings but not as integers).
COMMON_VALUES = ("", "a", "b", "in", "notin", "1", "2", "01", "A_b.c-0")

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?"


def label_names() -> st.SearchStrategy[str]:
    """The name part of a label key (also any non-empty value): 1-63 ASCII characters.

    >>> from meshmirror.values.labels import is_valid_key
    >>> is_valid_key(label_names().example())
    True
    """
    return st.from_regex(_NAME, fullmatch=True)


def dns_subdomains() -> st.SearchStrategy[str]:
    """Lowercase RFC 1123 subdomains of at most 253 characters (label key prefixes)."""
    labels = st.lists(st.from_regex(_DNS_LABEL, fullmatch=True), min_size=1, max_size=4)
    return labels.map(".".join).filter(lambda s: len(s) <= 253)


def label_keys() -> st.SearchStrategy[str]:
    """Valid label keys, with or without a prefix, often one of :data:`COMMON_KEYS`.

    >>> from meshmirror.values.labels import validate_key
    >>> validate_key(label_keys().example())
    """
    prefixed = st.builds(lambda p, n: f"{p}/{n}", dns_subdomains(), label_names())
    return st.one_of(st.sampled_from(COMMON_KEYS), label_names(), prefixed)


def label_values() -> st.SearchStrategy[str]:
    """Valid label values (the empty one included), often one of :data:`COMMON_VALUES`.

    >>> from meshmirror.values.labels import validate_value
    >>> validate_value(label_values().example())
    """
    return st.one_of(st.sampled_from(COMMON_VALUES), st.just(""), label_names())


def int_operands() -> st.SearchStrategy[str]:
    """Operands of ``>``/``<``: ASCII digits, maybe with leading zeros, <= 2**63-1."""
    return st.builds(
        lambda n, zeros: "0" * zeros + str(n),
        st.integers(min_value=0, max_value=INT64_MAX),
        st.integers(min_value=0, max_value=3),
    )


def label_sets(*, valid: bool = True, max_size: int = 6) -> st.SearchStrategy[dict[str, str]]:
    """Label sets over the keys selectors use.

    With ``valid=False`` values also include what Kubernetes would refuse but
    ``Selector.matches`` must still judge (``-5``, ``+5``, ``" 2"``, full-width digits,
    numbers beyond int64), which exercises ``>`` and ``<``.

    >>> sorted(label_sets(max_size=0).example().items())
    []
    """
    values: st.SearchStrategy[str] = label_values()
    if not valid:
        values = st.one_of(
            values,
            st.integers(min_value=-(2**64), max_value=2**64).map(str),
            st.sampled_from(["+5", " 2", "2_0", "\uff12", "9223372036854775808", "0x1", "1e3"]),
        )
    return st.dictionaries(label_keys(), values, max_size=max_size)


_ALL_OPS = tuple(Operator)
_DICT_OPS = (
    Operator.EQUALS,
    Operator.IN,
    Operator.NOT_IN,
    Operator.EXISTS,
    Operator.DOES_NOT_EXIST,
)


@st.composite
def requirements(
    draw: st.DrawFn,
    keys: st.SearchStrategy[str] | None = None,
    operators: Sequence[Operator] = _ALL_OPS,
) -> Requirement:
    """A valid :class:`~meshmirror.values.labels.Requirement`; set values are distinct, as the
    string form de-duplicates them.

    >>> r = requirements(operators=[Operator.EXISTS]).example()
    >>> r.values
    ()
    """
    key = draw(keys if keys is not None else label_keys())
    op = draw(st.sampled_from(tuple(operators)))
    values: list[str] = []
    if op in (Operator.IN, Operator.NOT_IN):
        values = draw(st.lists(label_values(), min_size=1, max_size=4, unique=True))
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        values = [draw(int_operands())]
    elif op not in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        values = [draw(label_values())]
    return Requirement(key, op, values)


def selectors(max_size: int = 6) -> st.SearchStrategy[Selector]:
    """Valid selectors (any operator) whose ``str()`` parses back to an equal selector.

    >>> sel = selectors().example()
    >>> Selector.parse(str(sel)) == sel
    True
    """
    return st.lists(requirements(), max_size=max_size).map(Selector)


@st.composite
def representable_selectors(draw: st.DrawFn, max_size: int = 6) -> Selector:
    """Selectors that survive ``to_label_selector`` and back unchanged: one requirement
    per key, and only ``=``, ``in``, ``notin``, exists and not-exists.

    >>> sel = representable_selectors().example()
    >>> Selector.from_label_selector(sel.to_label_selector()) == sel
    True
    """
    keys = draw(st.lists(label_keys(), max_size=max_size, unique=True))
    return Selector([draw(requirements(st.just(k), _DICT_OPS)) for k in keys])


_DICT_OPERATOR_NAMES = ("In", "NotIn", "Exists", "DoesNotExist")


@st.composite
def label_selector_dicts(draw: st.DrawFn, max_size: int = 4) -> dict[str, Any]:
    """Valid ``LabelSelector`` dicts (``matchLabels``/``matchExpressions``), as a Link's
    ``spec.selector`` or a Deployment's ``spec.selector`` holds them.

    Expression values are distinct, so the dict survives a trip through
    :class:`~meshmirror.values.labels.Selector` up to ordering. ``{}`` (everything) is drawn too.

    >>> d = label_selector_dicts().example()
    >>> Selector.from_label_selector(d).is_nothing()
    False
    """
    out: dict[str, Any] = {}
    match_labels = draw(st.dictionaries(label_keys(), label_values(), max_size=max_size))
    keep_empty = draw(st.booleans())
    if match_labels or keep_empty:
        out["matchLabels"] = match_labels
    expressions: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(min_value=0, max_value=max_size))):
        op = draw(st.sampled_from(_DICT_OPERATOR_NAMES))
        expr: dict[str, Any] = {"key": draw(label_keys()), "operator": op}
        if op in ("In", "NotIn"):
            expr["values"] = draw(st.lists(label_values(), min_size=1, max_size=3, unique=True))
        expressions.append(expr)
    keep_empty = draw(st.booleans())
    if expressions or keep_empty:
        out["matchExpressions"] = expressions
    return out


def selector_texts() -> st.SearchStrategy[str]:
    """Arbitrary text biased towards selector syntax (for fuzzing ``parse_selector``):
    special characters, the whitespace the lexer knows, whitespace it does not know,
    keywords and unicode."""
    pieces = st.one_of(
        st.sampled_from(
            [*"=!(),<> \t\r\n", "==", "!=", "in", "notin", "\v", "\f", "\u00a0"],
        ),
        st.sampled_from(["a", "x", "b/c", "a.b-c", "01", "9223372036854775808", "-1", "A_b", ""]),
        st.text(max_size=4),
    )
    return st.lists(pieces, max_size=20).map("".join)


def json_like(
    names: Sequence[str] = (
        "matchLabels",
        "matchExpressions",
        "key",
        "operator",
        "values",
        "a",
        "b",
        "matchlabels",
    ),
    max_leaves: int = 20,
) -> st.SearchStrategy[Any]:
    """Arbitrary JSON-like values (what ``json.loads`` or a YAML loader may return), with
    mapping keys often taken from ``names`` (by default: a LabelSelector's fields)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=5),
        st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "a", "-a", "", "x/y/z"]),
    )
    keys = st.one_of(st.sampled_from(tuple(names)), st.text(max_size=3))

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=4),
        )

    return st.recursive(scalars, extend, max_leaves=max_leaves)


# --------------------------------------------------------------------------- objects

#: Names drawn for remote clusters (the source is ``west`` unless told otherwise).
CLUSTER_NAMES = ("east", "north", "south", "eu-2")
#: Namespaces services live in; a cluster may lack some of them.
NAMESPACES = ("shop", "pay", "ops")
#: Service names: few, so that members meet across clusters and names clash.
SERVICE_NAMES = ("web", "api", "db", "cart", "search")
#: Where Links live.
LINK_NAMESPACE = LINKERD.link_namespace
#: Pod hostnames of headless Services (StatefulSet-like; never a Service's own name).
HOSTNAMES = ("web-0", "web-1", "db-0", "pod-a")

#: How a remote Service is exported: the value of ``mirror.linkerd.io/exported`` that the
#: Links :func:`links` draws select on (``"none"``: the label is absent).
ExportMode: TypeAlias = Literal["gateway", "remote-discovery", "none"]

_T = TypeVar("_T")
_PORT_NAMES = ("http", "grpc", "metrics", "admin", "tcp-1")
_PORT_POOL = (80, 443, 8080, 9090, 5432, 53)
_TIMESTAMPS = ("2024-01-01T00:00:00Z", "2024-02-01T12:30:00Z")
_PLAIN_KEYS = ("app", "tier", "team", "example.com/owner")
_PLAIN_ANNOTATIONS = ("example.com/note", "prometheus.io/scrape", "config.linkerd.io/opaque-ports")
# Keys a remote must never pass on to a mirror (meshmirror's reserved-key rule), and
# annotations Linkerd never copies.
_RESERVED_LABELS = ("mirror.linkerd.io/probe-path", "multicluster.linkerd.io/remote-discovery")
_RESERVED_ANNOTATIONS = (
    "mirror.linkerd.io/remote-svc-fq-name",
    "multicluster.linkerd.io/local-discovery",
    *LINKERD.topology_annotations,
)
# One draw of raw bytes feeds many small choices: far fewer draws than one per field
# (fast to generate), and it shrinks to all-zero bytes, i.e. the first option everywhere.
_CHOICES = st.binary(min_size=48, max_size=48)


class _Bits:
    """Small choices read from a drawn byte string (mixed radix)."""

    __slots__ = ("value",)

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")

    def below(self, n: int) -> int:
        """A number in ``range(n)``."""
        v = self.value % n
        self.value //= n
        return v

    def pick(self, options: Sequence[_T]) -> _T:
        return options[self.below(len(options))]

    def one_in(self, n: int) -> bool:
        """True with probability ``1/n`` (False when shrunk)."""
        return self.below(n) == n - 1

    def ipv4(self, prefix: str) -> str:
        return f"{prefix}.{self.below(4)}.{1 + self.below(254)}"


def _name_strategy(value: str | st.SearchStrategy[str] | None, pool: Sequence[str]) -> Any:
    if value is None:
        return st.sampled_from(tuple(pool))
    if isinstance(value, str):
        return st.just(value)
    return value


def _ports(b: _Bits, min_size: int, max_size: int) -> tuple[ServicePort, ...]:
    counts = [c for c in (1, 1, 2, 1, 3, 0, 2, 1) if min_size <= c <= max_size]
    count = b.pick(counts) if counts else min_size
    names = list(_PORT_NAMES)
    used: set[int] = set()
    ports = []
    for _ in range(count):
        name = names.pop(b.below(len(names)))
        number = b.pick(_PORT_POOL) if b.below(4) else 1 + b.below(65535)
        while number in used:
            number = number % 65535 + 1
        used.add(number)
        target: int | str | None = (None, number, 1 + b.below(65535), b.pick(_PORT_NAMES))[
            b.below(4)
        ]
        ports.append(
            ServicePort(
                number,
                name="" if count == 1 and b.below(2) else name,
                protocol=b.pick(("TCP", "TCP", "TCP", "UDP", "SCTP")),
                target_port=target,
            )
        )
    return tuple(ports)


@st.composite
def service_ports(draw: st.DrawFn, min_size: int = 0, max_size: int = 3) -> tuple[ServicePort, ...]:
    """A valid ``spec.ports`` list: distinct numbers and names, every port named when
    there are several; protocols TCP, UDP or SCTP; ``targetPort`` absent, a number or a
    port name.

    >>> all(1 <= p.port <= 65535 for p in service_ports().example())
    True
    """
    return _ports(_Bits(draw(_CHOICES)), min_size, max_size)


def _choose_labels(
    b: _Bits, keys: Sequence[str], values: Sequence[str], one_in: int
) -> dict[str, str]:
    return {k: b.pick(values) for k in keys if b.one_in(one_in)}


@st.composite
def services(
    draw: st.DrawFn,
    namespace: str | st.SearchStrategy[str] | None = None,
    exported: ExportMode | bool | None = None,
    *,
    name: str | st.SearchStrategy[str] | None = None,
    federated: bool | None = None,
    headless: bool | None = None,
    owned: bool | None = False,
    ports: st.SearchStrategy[tuple[ServicePort, ...]] | None = None,
) -> Service:
    """A valid Service as ``kubectl get -o yaml`` shows it (server fields included).

    ``exported``: ``"gateway"``, ``"remote-discovery"`` or ``"none"`` (the
    ``mirror.linkerd.io/exported`` label), True for either mode, False for none, None
    for any. ``federated``: whether it carries ``mirror.linkerd.io/federated: member``
    (None: either). ``headless``: ``clusterIP: None`` (None: now and then). ``owned`` adds
    ``mirror.linkerd.io/mirrored-service: "true"``, making it look like a mirror (None:
    now and then). Names
    come from :data:`SERVICE_NAMES` and :data:`NAMESPACES` unless given. Labels and
    annotations sometimes include keys a mirror must not copy.

    >>> svc = services(namespace="shop", exported="gateway").example()
    >>> svc.namespace, svc.labels["mirror.linkerd.io/exported"]
    ('shop', 'true')
    """
    svc_namespace = draw(_name_strategy(namespace, NAMESPACES))
    svc_name = draw(_name_strategy(name, SERVICE_NAMES))
    svc_ports = draw(ports) if ports is not None else None
    b = _Bits(draw(_CHOICES))
    mode: ExportMode
    if exported is None:
        mode = b.pick(("gateway", "gateway", "remote-discovery", "none"))
    elif exported is True:
        mode = b.pick(("gateway", "remote-discovery"))
    elif exported is False:
        mode = "none"
    else:
        mode = exported
    labels = _choose_labels(b, _PLAIN_KEYS, ("a", "b", ""), 3)
    labels.update(_choose_labels(b, _RESERVED_LABELS, ("true", "x"), 8))
    if mode == "gateway":
        labels[LINKERD.export_label] = LINKERD.export_gateway_value
    elif mode == "remote-discovery":
        labels[LINKERD.export_label] = LINKERD.export_remote_discovery_value
    if federated if federated is not None else b.one_in(3):
        labels[LINKERD.federated_label] = LINKERD.federated_member_value
    if owned if owned is not None else b.one_in(16):
        labels[LINKERD.mirrored_service_label] = LINKERD.true_value
    annotations = _choose_labels(b, _PLAIN_ANNOTATIONS, ("x", "8080", ""), 4)
    annotations.update(_choose_labels(b, _RESERVED_ANNOTATIONS, ("x", "auto"), 8))
    is_headless = headless if headless is not None else b.one_in(5)
    return Service(
        namespace=svc_namespace,
        name=svc_name,
        labels=labels,
        annotations=annotations,
        ports=svc_ports if svc_ports is not None else _ports(b, 0, 3),
        type="ClusterIP" if is_headless or b.below(6) else "NodePort",
        cluster_ip="None" if is_headless else (None if b.below(2) else b.ipv4("10.96")),
        session_affinity=b.pick((None, "None", "None", None, "ClientIP")),
        selector={"app": svc_name} if b.below(2) else None,
        resource_version=str(1 + b.below(99999)),
        uid=b.pick(("", "0a1b2c3d-0000-4000-8000-000000000001")),
        creation_timestamp=b.pick((None, *_TIMESTAMPS)),
    )


def _addresses(
    b: _Bits, count: int, hostnames: Sequence[str] | None
) -> tuple[EndpointAddress, ...]:
    out: dict[str, EndpointAddress] = {}
    for _ in range(count):
        ip = b.ipv4("10.20")
        out[ip] = EndpointAddress(ip, hostname=b.pick(hostnames) if hostnames else None)
    return tuple(out.values())


@st.composite
def endpoints_for(
    draw: st.DrawFn, service: Service, hostnames: Sequence[str] = HOSTNAMES
) -> Endpoints:
    """Endpoints the endpoints controller could have written for ``service``: ready and
    not-ready addresses (with ``hostnames`` for a headless Service, which also gets the
    ``service.kubernetes.io/headless`` label), ports named after the Service's, and
    sometimes no subset at all.

    >>> svc = Service("shop", "web", ports=[ServicePort(80, name="http")])
    >>> endpoints_for(svc).example().ref
    ObjectRef(kind='Endpoints', namespace='shop', name='web')
    """
    b = _Bits(draw(_CHOICES))
    labels = dict(service.labels)
    if service.headless:
        labels[LINKERD.headless_endpoints_label] = ""
    eports = tuple(
        EndpointPort(
            p.effective_target_port if isinstance(p.effective_target_port, int) else p.port,
            name=p.name,
            protocol=p.protocol,
        )
        for p in service.ports
    )
    hosts = hostnames if service.headless else None
    subsets = []
    for _ in range(b.pick((1, 1, 2, 0))):
        ready = _addresses(b, b.pick((1, 2, 0, 3)), hosts)
        not_ready = _addresses(b, b.pick((0, 0, 1, 2)), hosts)
        if ready or not_ready:
            subsets.append(EndpointSubset(ready, not_ready, eports))
    return Endpoints(
        namespace=service.namespace,
        name=service.name,
        labels=labels,
        subsets=tuple(subsets),
        resource_version=str(1 + b.below(99999)),
    )


_SELECTOR_KEYS = (
    LINKERD.export_label,
    LINKERD.federated_label,
    LINKERD.mirrored_service_label,
    *_PLAIN_KEYS,
)
_SELECTOR_VALUES = ("true", "remote-discovery", "member", "a", "b", "")


def _custom_selector(b: _Bits) -> dict[str, Any]:
    """A LabelSelector dict over the labels drawn Services carry (so it often matches):
    ``{}`` (which a Link treats as selecting nothing), matchLabels, expressions."""
    out: dict[str, Any] = {}
    match_labels = {k: b.pick(_SELECTOR_VALUES) for k in _SELECTOR_KEYS if b.one_in(6)}
    if match_labels:
        out["matchLabels"] = match_labels
    expressions = []
    for _ in range(b.below(3)):
        op = b.pick(_DICT_OPERATOR_NAMES)
        expr: dict[str, Any] = {"key": b.pick(_SELECTOR_KEYS), "operator": op}
        if op in ("In", "NotIn"):
            expr["values"] = sorted({b.pick(_SELECTOR_VALUES) for _ in range(1 + b.below(3))})
        expressions.append(expr)
    if expressions:
        out["matchExpressions"] = expressions
    return out


def _default_selector(key: str, value: str) -> Selector:
    return Selector.from_label_selector({"matchLabels": {key: value}})


_EXPORT_SELECTOR = _default_selector(LINKERD.export_label, LINKERD.export_gateway_value)
_DISCOVERY_SELECTOR = _default_selector(LINKERD.export_label, LINKERD.export_remote_discovery_value)
_FEDERATED_SELECTOR = _default_selector(LINKERD.federated_label, LINKERD.federated_member_value)


@st.composite
def links(
    draw: st.DrawFn,
    target: str | st.SearchStrategy[str] | None = None,
    *,
    name: str | st.SearchStrategy[str] | None = None,
    namespace: str = LINK_NAMESPACE,
) -> Link:
    """A Link as ``linkerd multicluster link`` makes it, with every spec field drawn.

    Mostly Linkerd's default selectors (``mirror.linkerd.io/exported=true``,
    ``...=remote-discovery``, ``mirror.linkerd.io/federated=member``), sometimes none
    (which selects nothing) or a custom one over the same labels; the gateway
    is IP literals, a hostname (unresolved without a resolver), both, or absent. The
    Link's name is its target's unless ``name`` says otherwise: the mirror suffix is
    ``targetClusterName``, never the Link's name.

    >>> links(target="east").example().target_cluster_name
    'east'
    """
    tgt = draw(_name_strategy(target, CLUSTER_NAMES))
    link_name = draw(_name_strategy(name, ())) if name is not None else tgt
    b = _Bits(draw(_CHOICES))

    def selector(default: Selector) -> Selector | None:
        roll = b.below(10)
        if roll < 8:
            return default
        if roll == 8:
            return None
        return Selector.from_label_selector(_custom_selector(b))

    ips = ",".join(b.ipv4("192.0") for _ in range(1 + b.below(2)))
    gateway = b.pick((ips, ips, ips, ips, ips, "", "gateway.example.com", f"gw.invalid,{ips}"))
    return Link(
        namespace=namespace,
        name=link_name,
        target_cluster_name=tgt,
        target_cluster_domain="cluster.local",
        target_cluster_linkerd_namespace="linkerd",
        cluster_credentials_secret=f"cluster-credentials-{tgt}",
        gateway_address=gateway,
        gateway_port=b.pick(("4143", "4143", "443")),
        gateway_identity=b.pick(
            (f"linkerd-gateway.linkerd-multicluster.serviceaccount.identity.{tgt}", "")
        ),
        probe_spec=b.pick(
            (
                ProbeSpec(),
                ProbeSpec(path="/ready", port="4191", period="3s"),
                ProbeSpec("/ready", "4191", "3s", "30s", "3"),
            )
        ),
        selector=selector(_EXPORT_SELECTOR),
        remote_discovery_selector=selector(_DISCOVERY_SELECTOR),
        federated_service_selector=selector(_FEDERATED_SELECTOR),
        excluded_labels=b.pick(((), (), ("tier",), ("example.com/*",))),
        excluded_annotations=b.pick(((), (), ("prometheus.io/scrape",))),
        api_version=b.pick(
            ("multicluster.linkerd.io/v1alpha3", "multicluster.linkerd.io/v1alpha2")
        ),
        resource_version=str(1 + b.below(99999)),
        creation_timestamp=b.pick((None, *_TIMESTAMPS, _TIMESTAMPS[0])),
    )


def _unique_services(
    draw: st.DrawFn, strategy: st.SearchStrategy[Service], max_size: int
) -> list[Service]:
    found: list[Service] = draw(
        st.lists(strategy, max_size=max_size, unique_by=lambda s: (s.namespace, s.name))
    )
    return found


@st.composite
def cluster_states(
    draw: st.DrawFn,
    name: str | st.SearchStrategy[str],
    *,
    services_strategy: st.SearchStrategy[Service] | None = None,
    links_strategy: st.SearchStrategy[Link] | None = None,
    max_services: int = 6,
    max_links: int = 2,
    missing_namespaces: bool = True,
) -> ClusterState:
    """One cluster's state: Services (default :func:`services`), most with
    :func:`endpoints_for` Endpoints, the namespaces they live in (now and then one left
    out when ``missing_namespaces``) and Links from ``links_strategy`` (none by default).

    >>> cluster_states("east").example().name
    'east'
    """
    cluster = draw(name) if isinstance(name, st.SearchStrategy) else name
    strategy = services() if services_strategy is None else services_strategy
    svcs = _unique_services(draw, strategy, max_services)
    b = _Bits(draw(_CHOICES))
    objects: list[Any] = list(svcs)
    objects.extend(draw(endpoints_for(svc)) for svc in svcs if b.below(4))
    for ns in sorted({s.namespace for s in svcs} | {n for n in NAMESPACES if b.one_in(3)}):
        if not (missing_namespaces and b.one_in(5)):
            objects.append(Namespace(ns, labels={"kubernetes.io/metadata.name": ns}))
    if links_strategy is not None:
        found = draw(
            st.lists(
                links_strategy, max_size=max_links, unique_by=lambda lk: (lk.namespace, lk.name)
            )
        )
        objects.extend(found)
        if found:
            objects.append(Namespace(LINK_NAMESPACE))
    return ClusterState.build(cluster, objects)


#: A source cluster and the states of the clusters its Links may target, by name.
PlanInputs: TypeAlias = tuple[ClusterState, dict[str, ClusterState]]
"""What :func:`topologies` draws: a source's state and its remotes' states by name."""
# Its first name, kept for existing imports (not :class:`meshmirror.topology.Topology`).
Topology = PlanInputs


def _owned_mirror(namespace: str, name: str, target: str, b: _Bits) -> list[Any]:
    labels = {
        LINKERD.mirrored_service_label: LINKERD.true_value,
        LINKERD.cluster_name_label: target,
    }
    ports = _ports(b, 1, 2)
    return [
        Service(namespace, name, labels=labels, ports=ports, cluster_ip="10.96.9.9"),
        Endpoints(namespace, name, labels=labels),
    ]


@st.composite
def topologies(
    draw: st.DrawFn,
    *,
    source: str = "west",
    clusters: Sequence[str] = CLUSTER_NAMES,
    min_remotes: int = 1,
    max_remotes: int = 3,
    max_services: int = 5,
    namespaces: Sequence[str] = NAMESPACES,
    service_names: Sequence[str] = SERVICE_NAMES,
    many_members: bool = False,
    unknown_targets: bool = False,
    stale_mirrors: bool = True,
) -> PlanInputs:
    """``(source, remotes)``: a source cluster with Links, and the states of the clusters
    those Links target, by name.

    Every Link targets a cluster in ``remotes`` (unless ``unknown_targets``); a remote may
    be linked by no Link, or now and then by two. Remote Services are exported in every
    mode (gateway, remote-discovery, headless, federated member, not at all, and now and
    then one that is itself a mirror); the source has local federated members, unowned
    local Services or Endpoints holding the name a mirror or a federated Service wants,
    some namespaces missing, and (``stale_mirrors``) owned mirrors an earlier plan left,
    some of them of a Link that is gone. Services are named from ``service_names`` in
    ``namespaces``: the fewer, the more they meet; ``many_members`` makes about two in
    three of them federated members (one in three otherwise).

    >>> from meshmirror import plan
    >>> src, remotes = topologies().example()
    >>> plan(src, remotes).source
    'west'
    """
    names = draw(
        st.lists(
            st.sampled_from(tuple(clusters)),
            min_size=min_remotes,
            max_size=max_remotes,
            unique=True,
        )
    )
    in_namespaces = st.sampled_from(tuple(namespaces))
    named = st.sampled_from(tuple(service_names))
    remote_services = services(namespace=in_namespaces, name=named, owned=None)
    if many_members:
        remote_services |= services(namespace=in_namespaces, name=named, federated=True)
    remotes: dict[str, ClusterState] = {}
    for remote in names:
        remotes[remote] = draw(
            cluster_states(
                remote,
                services_strategy=remote_services,
                max_services=max_services,
                missing_namespaces=False,
            )
        )
    b = _Bits(draw(_CHOICES))
    objects: list[Any] = [Namespace(LINK_NAMESPACE)]
    targets = [t for t in names if b.below(6)]
    if unknown_targets and b.below(2):
        targets.append("gone")
    objects.extend(draw(links(target=t)) for t in targets)
    if targets and b.one_in(10):  # a second Link to the same target
        t = b.pick(targets)
        objects.append(draw(links(target=t, name=f"{t}-second")))

    present = [ns for ns in namespaces if not b.one_in(4)] or [namespaces[0]]
    objects.extend(Namespace(ns) for ns in present)

    local_services = services(namespace=st.sampled_from(tuple(present)), name=named)
    if many_members:
        local_services |= services(
            namespace=st.sampled_from(tuple(present)), name=named, federated=True
        )
    local = _unique_services(draw, local_services, 3)
    taken = {(s.namespace, s.name) for s in local}
    objects.extend(local)
    objects.extend(draw(endpoints_for(s)) for s in local if b.below(2))

    # Names a plan wants, held by objects we do not own; owned mirrors of an earlier plan.
    for remote, state in sorted(remotes.items()):
        for (namespace, svc_name), _svc in sorted(state.services.items()):
            if namespace not in present:
                continue  # nothing lives in a namespace the source lacks
            roll = b.below(12)
            if roll == 0:
                wanted = mirror_name(svc_name, remote)
            elif roll == 1:
                wanted = federated_name(svc_name)
            elif roll in (2, 3) and stale_mirrors:
                wanted = mirror_name(svc_name, remote)
                if (namespace, wanted) not in taken:
                    taken.add((namespace, wanted))
                    objects.extend(_owned_mirror(namespace, wanted, remote, b))
                continue
            else:
                continue
            if (namespace, wanted) in taken:
                continue
            taken.add((namespace, wanted))
            kind = Service if b.below(2) else Endpoints
            objects.append(kind(namespace, wanted, labels={"app": wanted}))
    if stale_mirrors and b.below(2):  # an owned mirror of a Link that is gone
        namespace = b.pick(present)
        wanted = mirror_name("old", "gone")
        if (namespace, wanted) not in taken:
            objects.extend(_owned_mirror(namespace, wanted, "gone", b))
    return ClusterState.build(source, objects), remotes

"""The `dsx-bus:eventBus` stack config: typed models, with the upstream chart's value names as keys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, field_validator, model_validator
from pydantic.alias_generators import to_camel

from dsxbus import naming, versions
from dsxbus.crosslayer import CrossLayer as CrossLayer
from dsxbus.domains import (
    AbsolutePath,
    Bytes,
    ChartVersion,
    Count,
    DnsLabel,
    EnvName,
    ImageReference,
    LabelName,
    LabelValue,
    ObjectName,
    Port,
    PositiveBytes,
    ReleaseName,
    ServiceName,
    Size,
    StackReference,
    StreamMaxAge,
    WebUrl,
)
from dsxbus.model import GrantRisk
from dsxbus.model import Model as _Model
from dsxbus.model import Permissions as Permissions
from dsxbus.model import ResponsePermission as ResponsePermission
from dsxbus.model import SubjectRule as SubjectRule
from dsxbus.sizing import WorkloadResources
from dsxbus.sveltos.config import Sveltos

ClusterType = Literal["csc", "cpc"]
SigningAlgorithm = Literal["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"]
# What the Gateway API CRDs serve (v1.6, experimental channel; the standard channel serves only v1). Any other
# apiVersion is refused by the API server ("no matches for kind"), so it is refused here first.
TcpRouteApiVersion = Literal["gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1"]
TlsRouteApiVersion = Literal[
    "gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1alpha3", "gateway.networking.k8s.io/v1"
]


def _reject_numbers(value: object, example: str) -> object:
    # YAML reads `clusterId: 1` as a number; the upstream chart then renders `cpc-%!s(float64=1)`.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    shown = int(value) if isinstance(value, float) and value.is_integer() else value
    raise ValueError(f"is a number, not an ID; quote it: {example.format(shown)}")


class CertificateIssuer(_Model):
    """A cert-manager issuer; dsx-bus creates the mTLS server Certificate from `mtls.hostnames`."""

    name: ObjectName
    kind: Literal["Issuer", "ClusterIssuer"] = "ClusterIssuer"
    group: ObjectName = "cert-manager.io"


class Mtls(_Model):
    """MQTT over mutual TLS (the `nats-mtls` server behind a TLSRoute in passthrough mode)."""

    enabled: bool = False
    hostnames: tuple[str, ...] = ()
    """DNS names clients use in their broker URL: the TLSRoute's hostnames (SNI) and the certificate's SANs."""
    server_cert_sans: tuple[str, ...] | None = None
    """SANs of an operator-provided Secret `nats-mtls-server-tls` (ca.crt, tls.crt, tls.key)."""
    certificate_issuer: CertificateIssuer | None = None
    """Instead of `serverCertSans`: let dsx-bus request the server certificate from cert-manager."""
    client_urls: tuple[str, ...] = ()
    """Broker URLs clients are given (e.g. ssl://mqtt.example.com:8883); checked against hostnames and SANs."""


class ExtraAccount(_Model):
    """An application account that exists on the CSC and every CPC, leaf-connected between them."""

    enabled: bool = True
    jetstream: bool = False
    """JetStream in this account on the CSC (CPCs always use the CSC's through a mapping)."""


class Jwks(_Model):
    """OAuth2 token validation for the auth-callout; url, issuer and audience go together."""

    url: WebUrl | None = None
    issuer: str | None = None
    audience: str | None = None
    signing_algorithms: tuple[SigningAlgorithm, ...] = ("RS256",)

    @model_validator(mode="after")
    def _complete(self) -> Jwks:
        given = {"url": self.url, "issuer": self.issuer, "audience": self.audience}
        missing = [name for name, value in given.items() if not value]
        if missing and len(missing) < 3:
            raise ValueError(
                f"sets {', '.join(n for n in given if n not in missing)} but not {', '.join(missing)}: the "
                "auth-callout exits at start (Fatal) when url is set without issuer and audience. Set all "
                "three, or remove the jwks block."
            )
        return self

    @property
    def complete(self) -> bool:
        return bool(self.url and self.issuer and self.audience)


class _Identity(_Model):
    account: str
    permissions: Permissions | None = None
    acknowledge: tuple[GrantRisk, ...] = Field(default=(), exclude=True)
    """Risks this entry's permissions take on purpose, which dsx-bus otherwise refuses (dsxbus.grants):
    `crossClusterCommands` (publishing acts on another cluster), `serverApis` ($JS., $KV., $OBJ., $SYS., $MQTT.),
    and for noauth also `broadcasts` (cscExports, to every CPC) and `wholeAccount` (no pub or sub allow list).
    Config only: never rendered into permissions.json (the auth-callout has no such field) nor any other dump."""


class OAuth2Client(_Identity):
    subject: str | None = None
    azp: str | None = None
    required_scope: str | None = Field(default=None, alias="required_scope")

    @model_validator(mode="after")
    def _names_a_client(self) -> OAuth2Client:
        if not self.subject and not self.azp:
            raise ValueError("needs subject or azp (or both): the auth-callout looks clients up by them")
        return self


class MtlsIdentity(_Identity):
    identity: str
    """The certificate identity as auth-callout sees it: `CN=<common name>` (then email, DNS SAN, O=, OU=)."""


class NkeyIdentity(_Identity):
    public_key: str = Field(alias="public_key")


class NoAuth(_Identity):
    pass


class AuthPermissions(_Model):
    """The auth-callout's permissions.json: who lands in which account with which permissions."""

    oauth2: dict[str, OAuth2Client] = {}
    mtls: dict[str, MtlsIdentity] = {}
    nkey: dict[str, NkeyIdentity] = {}
    noauth: NoAuth | None = None
    """Credential-less clients (anonymous MQTT). Convenient, and a production risk."""


class Auth(_Model):
    jwks: Jwks | None = None
    permissions: AuthPermissions = AuthPermissions()


class Route(_Model):
    enabled: bool = True
    name: ObjectName
    kind: Literal["TCPRoute", "TLSRoute"]
    section_name: ObjectName
    """The Gateway listener name; it must exist on the Gateway."""
    backend: ServiceName
    port: Port


_ROUTE_DEFAULTS: dict[str, dict[str, object]] = {
    "mqtt": {"name": "nats-mqtt", "kind": "TCPRoute", "sectionName": "mqtt", "backend": "nats", "port": 1883},
    "natsClient": {
        "name": "nats-client",
        "kind": "TCPRoute",
        "sectionName": "nats-client",
        "backend": "nats",
        "port": 4222,
    },
    "natsLeafnode": {
        "name": "nats-leafnode",
        "kind": "TCPRoute",
        "sectionName": "nats-leafnode",
        "backend": "nats",
        "port": 7422,
    },
    "mqttMtls": {
        "name": "nats-mqtt-mtls",
        "kind": "TLSRoute",
        "sectionName": "mqtt-mtls",
        "backend": "nats-mtls",
        "port": 1883,
    },
}


def _camel_keys(data: object) -> dict[object, object]:
    return {to_camel(k) if isinstance(k, str) else k: v for k, v in (data if isinstance(data, dict) else {}).items()}


class GatewayRoutes(_Model):
    mqtt: Route
    nats_client: Route
    nats_leafnode: Route
    mqtt_mtls: Route
    """Created only with mtls.enabled; its hostnames are `mtls.hostnames`."""

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: object) -> object:
        # Keys may come camelCase (stack files) or snake_case (validate_by_name): merge in camelCase.
        given = _camel_keys(data)
        merged: dict[object, object] = {}
        for key, defaults in _ROUTE_DEFAULTS.items():
            value = given.get(key, {})
            value = _camel_keys(value) if isinstance(value, dict) else value
            if isinstance(value, dict) and "hostnames" in value:
                raise ValueError(
                    f"{key}.hostnames: set mtls.hostnames instead; the TLSRoute and the server certificate both "
                    "take their names from it, so they always agree"
                )
            merged[key] = {**defaults, **value} if isinstance(value, dict) else value
        merged.update({k: v for k, v in given.items() if k not in _ROUTE_DEFAULTS})
        return merged


class Gateway(_Model):
    """Gateway API routes that expose the bus outside the cluster."""

    enabled: bool = True
    gateway_name: ObjectName = "shared-gateway"
    gateway_namespace: DnsLabel = "envoy-gateway-system"
    tcp_route_api_version: TcpRouteApiVersion = "gateway.networking.k8s.io/v1alpha2"
    """Gateway API 1.6 added TCPRoute gateway.networking.k8s.io/v1; match the installed CRDs."""
    tls_route_api_version: TlsRouteApiVersion = "gateway.networking.k8s.io/v1alpha2"
    """Gateway API 1.5 moved TLSRoute to gateway.networking.k8s.io/v1 (which requires mtls.hostnames); match the
    installed CRDs."""
    routes: GatewayRoutes = Field(default_factory=lambda: GatewayRoutes.model_validate({}))


class MqttStreams(_Model):
    """The JetStream streams MQTT persistence lives in (created through NACK)."""

    storage: Literal["memory", "file"] = "memory"
    """`file`: the streams (and MQTT's consumers) live on the servers' file store, a PVC of nats.maxFileStore per
    server, and survive a restart: retained messages, persistent sessions and stored QoS 1 messages. `memory`
    (upstream's choice): a restarted server starts empty."""
    replicas: Annotated[int, Strict(), Field(ge=1, le=5)] = 3
    max_bytes: Bytes = 67108864
    max_age: StreamMaxAge = "3h"
    per_cpc_max_bytes: PositiveBytes = 8388608
    """CSC only: the size of each of a CPC's streams there, two (what it sources of msgs and rmsgs) or, with `uplinks`,
    four (and the two the CSC sources of it: dsxbus.streams.streams_per_cpc). JetStream reserves every stream's
    maxBytes in its store, so the CSC needs 5 x maxBytes + 2 (4 with uplinks) x CPCs x perCpcMaxBytes of
    nats.maxMemoryStore (nats.maxFileStore with `storage: file`)."""
    uplinks: bool | None = None
    """CSC only: per CPC, two uplink streams (in that CPC's account on the CSC) that source its
    `$MQTT_msgs`/`$MQTT_rmsgs` into the CSC's, so that a CPC's QoS 1 (and retained) MQTT publishes reach the CSC's QoS 1
    subscribers. On unless set to `false`, which is upstream's behaviour: only the CSC's QoS 0 subscribers get them,
    and a CPC's retained messages stay on the CPC (docs/local-federation.md)."""

    @property
    def uplinks_enabled(self) -> bool:
        return self.uplinks is not False


class Nats(_Model):
    replicas: Annotated[int, Strict(), Field(ge=1, le=9)] = 3
    max_memory_store: Size = "2Gi"
    max_file_store: Size = "10Gi"
    """With mqttStreams.storage `file`: each server's JetStream file store, the size of its PVC (the nats chart's
    `config.jetstream.fileStore.pvc.size`). Unused with memory storage: then the servers have no file store."""
    storage_class_name: ObjectName | None = None
    """With mqttStreams.storage `file`: the PVCs' StorageClass (None: the cluster's default)."""


class LeafTls(_Model):
    """TLS on the leaf connection; dsx-bus mounts the Secret into the nats pods (upstream leaves that to you)."""

    secret_name: ObjectName
    """A Secret with ca.crt and, for mutual TLS, tls.crt and tls.key."""
    verify: bool = False
    """Server side: require and verify client certificates from CPC leafs."""
    client_certificate: bool = True
    """Client side: present tls.crt/tls.key to the CSC."""
    mount_path: AbsolutePath = "/etc/nats-leaf-tls"


class AuthCallout(_Model):
    image: ImageReference
    """The auth-callout image; upstream publishes none, so it must be built and named here."""
    replicas: Count | None = None
    """Default: 2 where nats runs 3 or more servers, else 1 (dsxbus.sizing.auth_callout_replicas)."""
    extra_envs: dict[EnvName, str] = {}


class Images(_Model):
    nats: ImageReference = versions.default_image()
    """The nats-server image of `nats` and `nats-mtls`; its tag must name a supported version."""
    accept_untested_nats_version: bool = False
    """Run an `images.nats` whose version dsx-bus is not tested on (the leaf permissions then take the
    shape that works on every version)."""
    config_reloader: ImageReference = "natsio/nats-server-config-reloader:0.21.1"
    nack: ImageReference = "natsio/jetstream-controller:0.22.2"
    surveyor: ImageReference = "natsio/nats-surveyor:0.9.7"


class Charts(_Model):
    repository: WebUrl = "https://nats-io.github.io/k8s/helm/charts/"
    """Override for a mirror."""
    nats: ChartVersion = "2.12.6"
    nack: ChartVersion = "0.33.2"
    surveyor: ChartVersion = "0.20.7"


class Alerts(_Model):
    enabled: bool = False
    team: LabelValue = "dsx"


class GrafanaDashboard(_Model):
    enabled: bool = False
    labels: dict[LabelName, LabelValue] = {"grafana_dashboard": "1"}
    annotations: dict[LabelName, str] = {}


class Monitoring(_Model):
    service_monitors: bool = True
    """ServiceMonitors/PodMonitor for Prometheus Operator."""
    alerts: Alerts = Alerts()
    grafana_dashboard: GrafanaDashboard = GrafanaDashboard()
    monitor_urls: tuple[str, ...] = ()
    """The nats servers' monitoring endpoints (http://HOST:8222, one per server) `dsx-bus doctor` reads, e.g.
    through `kubectl port-forward`; never deployed."""


Generation = Annotated[int, Field(ge=0)]


class KeyGenerations(_Model):
    """Rotation: raise a family's generation and the next `pulumi up` draws new entropy for every key of it (its
    RandomBytes are replaced through their keepers). 0 = the keys a stack got on its first `up`."""

    leaf: Generation = 0
    """CPC: its leaf users' keys (the CSC account's and each extra account's)."""
    auth_callout: Generation = 0
    """The auth-callout's issuer (signing) key, xkey and AUTHX user: nats, nats-mtls and the auth-callout roll."""
    nack: Generation = 0
    """NACK's users (and on the CSC its SOURCES user)."""
    surveyor: Generation = 0
    """Surveyor's user."""
    mtls_leaf: Generation = 0
    """nats-mtls's three leaf users (mtls)."""
    mtls_server: Generation = 0
    """nats-mtls's server certificate from cert-manager (`mtls.certificateIssuer`): re-issued with a new private key;
    nats-mtls reloads it, nothing rolls."""


class EventBus(_Model):
    """`dsx-bus:eventBus`: one cluster's event bus, CSC or CPC."""

    cluster_type: ClusterType
    cluster_id: str | None = None
    """CPC only: names the CPC in prefixed subjects (`cpc.<clusterId>.>`) and in key names."""
    cpcs: dict[str, StackReference] = {}
    """CSC only: CPC id -> the CPC's stack reference (`organization/dsx-bus/cpc-a`)."""
    leaf_endpoint: str | None = None
    """CSC only: the leaf URL CPCs dial (`nats://leaf.csc.example.com:7422`), exported to them."""
    csc_stack: StackReference | None = None
    """CPC only: the CSC's stack reference, where the leaf endpoint and fleet defaults come from."""
    csc_endpoint: str | None = None
    """CPC only: dial this leaf URL instead of the one the CSC stack exports."""
    namespace: DnsLabel = "dsx"
    create_namespace: bool = True
    release_name: ReleaseName = "dsx"
    """Prefix of the objects upstream names after the Helm release (`<release>-auth-callout`)."""
    cross_layer: CrossLayer | None = None
    """On the CSC: fleet defaults every CPC inherits. On a CPC: its own lists (override)."""
    mtls: Mtls = Mtls()
    extra_accounts: dict[str, ExtraAccount] = {}
    auth: Auth = Auth()
    gateway: Gateway = Gateway()
    mqtt_streams: MqttStreams = MqttStreams()
    nats: Nats = Nats()
    csc_leaf_server_tls: LeafTls | None = Field(default=None, alias="cscLeafServerTLS")
    cpc_leaf_client_tls: LeafTls | None = Field(default=None, alias="cpcLeafClientTLS")
    auth_callout: AuthCallout
    images: Images = Images()
    charts: Charts = Charts()
    monitoring: Monitoring = Monitoring()
    sveltos: Sveltos = Sveltos()
    resources: WorkloadResources = Field(default_factory=lambda: WorkloadResources.model_validate({}))
    """CPU and memory per workload (`resources.<nats|natsMtls|nack|surveyor|authCallout>`), upstream's by default."""
    key_generations: KeyGenerations = KeyGenerations()
    """Rotate generated keys (dsxbus.rotation, docs/operations.md)."""

    @field_validator("cluster_id", mode="before")
    @classmethod
    def _cluster_id_is_text(cls, value: object) -> object:
        return _reject_numbers(value, 'clusterId: "{}"')

    @field_validator("cpcs", mode="before")
    @classmethod
    def _cpc_ids_are_text(cls, value: object) -> object:
        if isinstance(value, dict):
            for key in value:
                _reject_numbers(key, 'cpcs: {{"{}": ...}}')
        return value

    @model_validator(mode="before")
    @classmethod
    def _cpc_ids_come_from_cpcs(cls, data: object) -> object:
        if isinstance(data, dict) and "cpcIds" in data:
            raise ValueError(
                "cpcIds is derived from cpcs here: write `cpcs: {<id>: <CPC stack reference>}` so the CSC can read "
                "each CPC's leaf public keys"
            )
        return data

    @property
    def cpc_ids(self) -> tuple[str, ...]:
        return tuple(self.cpcs)

    @property
    def domain_account(self) -> str:
        return naming.domain_account(self.cluster_type)

    @property
    def enabled_extra_accounts(self) -> tuple[str, ...]:
        return tuple(name for name, account in self.extra_accounts.items() if account.enabled)

    @property
    def effective_cross_layer(self) -> CrossLayer:
        return self.cross_layer or CrossLayer()

    @property
    def jwks(self) -> Jwks | None:
        jwks = self.auth.jwks
        return jwks if jwks is not None and jwks.complete else None

    @property
    def nats_server_version(self) -> str | None:
        """The nats-server version `images.nats` names by its tag (None: it names none)."""
        return versions.of_image(self.images.nats)

    @property
    def cluster_name(self) -> str:
        """`csc` or `cpc-<id>`: the NATS cluster name and the server name stem."""
        return "csc" if self.cluster_type == "csc" else naming.cpc_stack_cluster_name(self.cluster_id or "")


class FleetDefaults(_Model):
    """What the CSC exports for CPCs to inherit unless they set their own."""

    cross_layer: CrossLayer | None = None
    jwks: Jwks | None = None


def fleet_defaults(csc: EventBus) -> FleetDefaults:
    return FleetDefaults(cross_layer=csc.cross_layer, jwks=csc.jwks)


def inherit(cpc: EventBus, fleet: FleetDefaults) -> EventBus:
    """The CPC's config with the CSC's fleet defaults filled in where the CPC sets nothing."""
    update: dict[str, object] = {}
    if cpc.cross_layer is None and fleet.cross_layer is not None:
        update["cross_layer"] = fleet.cross_layer
    if cpc.auth.jwks is None and fleet.jwks is not None:
        update["auth"] = cpc.auth.model_copy(update={"jwks": fleet.jwks})
    return cpc.model_copy(update=update)

"""kubeadm CONTRACT FAKE for sealkit's tests (sealkit-contract-fake): never ship this.

Implements, against the real kubeadm's documented behaviour:
  init --config | flags, join ENDPOINT --token --discovery-token-ca-cert-hash [--control-plane
  --certificate-key] | join --config, reset [-f], upgrade apply VERSION [-y]
  [--certificate-renewal=false], upgrade node, token create [--print-join-command] | list |
  delete | generate, version [-o short|json|yaml], certs check-expiration | renew,
  config images list, config validate.
Contract points enforced (each a way sealkit can get kubeadm wrong):
  * cobra/pflag parsing ("unknown flag: --x"), "can not mix '--config' with arguments [...]",
  * config API kubeadm.k8s.io/v1beta3 and v1beta4 (v1beta4 only from kubeadm 1.31; v1beta2 and
    older refused), extraArgs as a string map (v1beta3) vs a name/value list (v1beta4), unknown
    fields warned, foreign kinds ignored with a warning, multi-document YAML,
  * version skew: the control plane may be kubeadm's minor or one below; upgrades one minor at a
    time and never above kubeadm's own version,
  * pre-placed /etc/kubernetes/pki is used ("Using existing ..."); an existing leaf must chain to
    its CA and the apiserver/etcd certs must carry every SAN kubeadm needs,
  * preflight: root, ports, leftover files (a worker join refuses an existing pki/ca.crt),
  * token discovery: cluster-info JWS signature (kube-controller-manager's bootstrapsigner) and
    CA public-key pinning (sha256 of the SubjectPublicKeyInfo),
  * control-plane join needs controlPlaneEndpoint and the shared CA/SA/front-proxy/etcd-CA files
    (pre-placed or --certificate-key from `init --upload-certs`),
  * `upgrade apply` renews every certificate unless --certificate-renewal=false (sealos #4113),
  * `token create` refuses a token id that exists (from --config, the argument or generated), as
    CreateNewTokens (failIfExists=true) does; `init` upserts its bootstrapTokens with their own ttl,
  * for the releases sealkit supports, flags, the --config allow-list, API versions and config
    field names come from tests/fakes/upstream/kubernetes/<release>.yaml (embedded in fakelib when
    bundled): an unknown field is a warning for init/join (strictErrors=false) and an error for
    `config validate`; other releases use the built-in tables below.
The control plane itself runs as static pods executed by the kubelet fake (fake_kubelet.py):
real etcd, fake apiserver/controller-manager/scheduler.
Deviations: the kubeadm-certs Secret is sealed with an HMAC-SHA256 stream construction instead
of AES-GCM (no AES in the stdlib); addons are stored API objects that nothing runs; preflight
checks ports on the advertise address only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
from dataclasses import dataclass, field
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fake_components, fakelib
except ImportError:
    import fake_components  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

F = fakelib.Flag
FAKE_MARK = fakelib.FAKE_MARK
Fail = fakelib.FakeError

GLOBAL_FLAGS = [
    F("add-dir-header", "bool"),
    F("log-file"),
    F("log-file-max-size", "int"),
    F("one-output", "bool"),
    F("rootfs"),
    F("skip-headers", "bool"),
    F("skip-log-headers", "bool"),
    F("v", "int", 0, aliases=()),
    F("help", "bool", aliases=("h",)),
]

CMD_FLAGS: dict[str, list[fakelib.Flag]] = {
    "init": [
        F("apiserver-advertise-address"),
        F("apiserver-bind-port", "int", 6443),
        F("apiserver-cert-extra-sans", "slice", split_commas=True),
        F("cert-dir", default="/etc/kubernetes/pki"),
        F("certificate-key"),
        F("config"),
        F("control-plane-endpoint"),
        F("cri-socket"),
        F("dry-run", "bool"),
        F("feature-gates"),
        F("ignore-preflight-errors", "slice", split_commas=True),
        F("image-repository", default="registry.k8s.io"),
        F("kubernetes-version"),
        F("node-name"),
        F("patches"),
        F("pod-network-cidr"),
        F("service-cidr", default="10.96.0.0/12"),
        F("service-dns-domain", default="cluster.local"),
        F("skip-certificate-key-print", "bool"),
        F("skip-phases", "slice", split_commas=True),
        F("skip-token-print", "bool"),
        F("token"),
        F("token-ttl", "duration", "24h0m0s"),
        F("upload-certs", "bool"),
    ],
    "join": [
        F("apiserver-advertise-address"),
        F("apiserver-bind-port", "int", 6443),
        F("certificate-key"),
        F("config"),
        F("control-plane", "bool"),
        F("cri-socket"),
        F("discovery-file"),
        F("discovery-token"),
        F("discovery-token-ca-cert-hash", "slice", split_commas=True),
        F("discovery-token-unsafe-skip-ca-verification", "bool"),
        F("dry-run", "bool"),
        F("ignore-preflight-errors", "slice", split_commas=True),
        F("node-name"),
        F("patches"),
        F("skip-phases", "slice", split_commas=True),
        F("tls-bootstrap-token"),
        F("token"),
    ],
    "reset": [
        F("cert-dir", default="/etc/kubernetes/pki"),
        F("cleanup-tmp-dir", "bool"),
        F("config"),
        F("cri-socket"),
        F("dry-run", "bool"),
        F("force", "bool", aliases=("f",)),
        F("ignore-preflight-errors", "slice", split_commas=True),
        F("kubeconfig", default="/etc/kubernetes/admin.conf"),
        F("skip-phases", "slice", split_commas=True),
    ],
    "upgrade apply": [
        F("allow-experimental-upgrades", "bool"),
        F("allow-release-candidate-upgrades", "bool"),
        F("certificate-renewal", "bool", True),
        F("config"),
        F("dry-run", "bool"),
        F("etcd-upgrade", "bool", True),
        F("feature-gates"),
        F("force", "bool", aliases=("f",)),
        F("ignore-preflight-errors", "slice", split_commas=True),
        F("kubeconfig", default="/etc/kubernetes/admin.conf"),
        F("patches"),
        F("print-config", "bool"),
        F("skip-phases", "slice", split_commas=True),
        F("yes", "bool", aliases=("y",)),
    ],
    "upgrade node": [
        F("certificate-renewal", "bool", True),
        F("config"),
        F("dry-run", "bool"),
        F("etcd-upgrade", "bool", True),
        F("ignore-preflight-errors", "slice", split_commas=True),
        F("kubeconfig", default="/etc/kubernetes/admin.conf"),
        F("patches"),
        F("skip-phases", "slice", split_commas=True),
    ],
    "upgrade plan": [
        F("allow-experimental-upgrades", "bool"),
        F("allow-release-candidate-upgrades", "bool"),
        F("config"),
        F("feature-gates"),
        F("ignore-preflight-errors", "slice"),
        F("kubeconfig", default="/etc/kubernetes/admin.conf"),
        F("output", aliases=("o",)),
        F("print-config", "bool"),
        F("show-managed-fields", "bool"),
    ],
    "token create": [
        F("certificate-key"),
        F("config"),
        F("description"),
        F("dry-run", "bool"),
        F("groups", "slice", ["system:bootstrappers:kubeadm:default-node-token"], split_commas=True),
        F("kubeconfig", default="/etc/kubernetes/admin.conf"),
        F("print-join-command", "bool"),
        F("ttl", "duration", "24h0m0s"),
        F("usages", "slice", ["signing", "authentication"], split_commas=True),
    ],
    "token list": [
        F("kubeconfig", default="/etc/kubernetes/admin.conf"),
        F("dry-run", "bool"),
        F("output", aliases=("o",)),
        F("allow-missing-template-keys", "bool", True),
        F("show-managed-fields", "bool"),
    ],
    "token delete": [F("kubeconfig", default="/etc/kubernetes/admin.conf"), F("dry-run", "bool")],
    "token generate": [F("kubeconfig", default="/etc/kubernetes/admin.conf"), F("dry-run", "bool")],
    "version": [F("output", aliases=("o",))],
    "certs check-expiration": [
        F("cert-dir", default="/etc/kubernetes/pki"),
        F("config"),
        F("kubeconfig-dir", default="/etc/kubernetes"),
        F("output", aliases=("o",)),
    ],
    "certs renew": [
        F("cert-dir", default="/etc/kubernetes/pki"),
        F("config"),
        F("kubeconfig-dir", default="/etc/kubernetes"),
    ],
    "certs certificate-key": [],
    "config validate": [
        F("allow-experimental-api", "bool"),
        F("config"),
        F("kubeconfig", default="/etc/kubernetes/admin.conf"),
    ],
    "config images list": [
        F("config"),
        F("feature-gates"),
        F("image-repository", default="registry.k8s.io"),
        F("kubernetes-version"),
        F("output", aliases=("o",)),
    ],
}

# ValidateMixedArguments' allow-list: flags that may accompany --config
MIX_ALLOWED = {
    "config",
    "ignore-preflight-errors",
    "dry-run",
    "kubeconfig",
    "node-name",
    "kubeconfig-dir",
    "upload-certs",
    "print-manifest",
    "allow-missing-template-keys",
    "output",
    "show-managed-fields",
    "print-join-command",
    "rootfs",
    "v",
    "log-file",
    "yes",
}


def facts_for(version: str) -> dict[str, Any] | None:
    """kubeadm's facts at this fake's release (tests/fakes/upstream/kubernetes/v1.MINOR.yaml), or None
    for a release outside sealkit's support range (the built-in tables below then apply)."""
    major, minor, _ = parse_version(version)
    data = fakelib.upstream("kubernetes", f"v{major}.{minor}")
    return data.get("kubeadm") if data else None


def command_flags(cmd: str, version: str) -> list[fakelib.Flag]:
    """The flags of ``kubeadm CMD`` at ``version``: from the release's data where it lists the command."""
    facts = facts_for(version)
    specs = (facts or {}).get("commands", {}).get(cmd)
    if specs is None:
        return CMD_FLAGS[cmd]
    return [fakelib.flag_from_spec(str(s)) for s in specs]


TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
ETC = "/etc/kubernetes"
MANIFESTS = f"{ETC}/manifests"
KUBELET_DIR = "/var/lib/kubelet"
DEFAULT_CRI = "unix:///var/run/containerd/containerd.sock"
DEFAULT_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"


def hp(path: str) -> str:
    return fakelib.host_path(path)


def say(msg: str) -> None:
    print(msg, flush=True)


# ---- versions -------------------------------------------------------------------------------


def parse_version(v: str) -> tuple[int, int, int]:
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", v)
    if not m:
        raise Fail(f'could not parse "{v}" as version')
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def images(version: str, repo: str = "registry.k8s.io") -> dict[str, str]:
    return {
        "kube-apiserver": f"{repo}/kube-apiserver:{version}",
        "kube-controller-manager": f"{repo}/kube-controller-manager:{version}",
        "kube-scheduler": f"{repo}/kube-scheduler:{version}",
        "kube-proxy": f"{repo}/kube-proxy:{version}",
        "coredns": f"{repo}/coredns/coredns:v1.11.3",
        "pause": f"{repo}/pause:3.9",
        "etcd": f"{repo}/etcd:3.5.15-0",
    }


# ---- configuration --------------------------------------------------------------------------

KNOWN_FIELDS = {
    "InitConfiguration": {
        "bootstrapTokens",
        "nodeRegistration",
        "localAPIEndpoint",
        "certificateKey",
        "skipPhases",
        "patches",
        "dryRun",
        "timeouts",
    },
    "ClusterConfiguration": {
        "etcd",
        "networking",
        "kubernetesVersion",
        "controlPlaneEndpoint",
        "apiServer",
        "controllerManager",
        "scheduler",
        "dns",
        "proxy",
        "certificatesDir",
        "imageRepository",
        "featureGates",
        "clusterName",
        "encryptionAlgorithm",
        "certificateValidityPeriod",
        "caCertificateValidityPeriod",
    },
    "JoinConfiguration": {
        "nodeRegistration",
        "caCertPath",
        "discovery",
        "controlPlane",
        "skipPhases",
        "patches",
        "dryRun",
        "timeouts",
    },
    "ResetConfiguration": {
        "certificatesDir",
        "cleanupTmpDir",
        "criSocket",
        "dryRun",
        "force",
        "ignorePreflightErrors",
        "skipPhases",
        "unmountFlags",
    },
    "UpgradeConfiguration": {"apply", "node", "plan", "diff", "timeouts"},
}
V1BETA4_ONLY = {
    "dryRun",
    "timeouts",
    "proxy",
    "encryptionAlgorithm",
    "certificateValidityPeriod",
    "caCertificateValidityPeriod",
}


@dataclass
class Config:
    """The parsed documents of a kubeadm --config file, by kind."""

    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def get(self, kind: str) -> dict[str, Any]:
        return self.docs.get(kind, {})

    def version_of(self, kind: str) -> str:
        return self.versions.get(kind, "v1beta3")


def check_extra_args(value: Any, version: str, where: str) -> dict[str, str]:
    """v1beta3: map[string]string; v1beta4: []{name, value}. Anything else fails like Go's json."""
    if value is None:
        return {}
    if version == "v1beta4":
        if not isinstance(value, list):
            raise Fail(
                f"error unmarshaling JSON: json: cannot unmarshal object into Go struct "
                f"field {where} of type []v1beta4.Arg"
            )
        out: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("value", ""), str):
                raise Fail(
                    f"error unmarshaling JSON: json: cannot unmarshal into Go struct "
                    f"field {where} of type v1beta4.Arg (name/value strings)"
                )
            out[str(item.get("name"))] = item.get("value", "")
        return out
    if not isinstance(value, dict):
        raise Fail(
            f"error unmarshaling JSON: json: cannot unmarshal array into Go struct field "
            f"{where} of type map[string]string"
        )
    for k, v in value.items():
        if not isinstance(v, str):
            raise Fail(
                f"error unmarshaling JSON: json: cannot unmarshal "
                f"{'number' if isinstance(v, int | float) else 'bool'} into Go struct "
                f"field {where} of type string (quote the value of {k!r})"
            )
    return dict(value)


def load_config(path: str, kubeadm_version: str, *, strict: bool = False) -> Config:
    """The --config file. With release data, field names come from the release's schema and an unknown
    field is a warning (init/join/…: strictErrors=false) or, with ``strict`` (``kubeadm config
    validate``), an error — kubernetes/kubernetes cmd/kubeadm/app/util/config/initconfiguration.go."""
    facts = facts_for(kubeadm_version)
    if facts is not None:
        return load_config_from_facts(path, kubeadm_version, facts, strict)
    try:
        text = fakelib.read_text(hp(path))
    except OSError as exc:
        raise Fail(f"unable to read config from {path!r} : {exc}") from exc
    try:
        docs = fakelib.yaml_load_all(text)
    except fakelib.YamlError as exc:
        raise Fail(f"error converting YAML to JSON: {exc}") from exc
    minor = parse_version(kubeadm_version)[1]
    cfg = Config()
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise Fail(f"{path}: every YAML document must be a mapping")
        api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        group, _, version = api.rpartition("/")
        if group == "kubeadm.k8s.io":
            if version in ("v1alpha1", "v1alpha2", "v1alpha3", "v1beta1", "v1beta2"):
                raise Fail(
                    f'your configuration file uses an old API spec: "{api}". Please use '
                    f"kubeadm v1.{minor - 1} instead and run 'kubeadm config migrate "
                    f"--old-config old.yaml --new-config new.yaml', which will write the "
                    f"new, similar spec using a newer API version."
                )
            if version not in ("v1beta3", "v1beta4") or (version == "v1beta4" and minor < 31):
                raise Fail(
                    f'no kind "{kind}" is registered for version "{api}" in scheme '
                    f'"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"'
                )
            if kind not in KNOWN_FIELDS or (
                kind in ("ResetConfiguration", "UpgradeConfiguration") and version != "v1beta4"
            ):
                raise Fail(f'no kind "{kind}" is registered for version "{api}"')
            if kind in cfg.docs:
                raise Fail(f'invalid configuration: kind "{kind}" is specified twice in YAML file')
            for key in doc:
                if key in ("apiVersion", "kind", "metadata"):
                    continue
                if key not in KNOWN_FIELDS[kind] or (key in V1BETA4_ONLY and version != "v1beta4"):
                    fakelib.klog("warning", f'strict decoding error: unknown field "{key}" ({kind} {api})')
            cfg.docs[kind] = doc
            cfg.versions[kind] = version
        elif (api, kind) in (
            ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
            ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
        ):
            cfg.docs[kind] = doc
        else:
            say(f"[config] WARNING: Ignored configuration document with GroupVersionKind {api}, Kind={kind}")
    return cfg


def load_config_from_facts(path: str, version: str, facts: dict[str, Any], strict: bool) -> Config:
    try:
        text = fakelib.read_text(hp(path))
    except OSError as exc:
        raise Fail(f"unable to read config from {path!r} : {exc}") from exc
    try:
        docs = fakelib.yaml_load_all(text)
    except fakelib.YamlError as exc:
        raise Fail(f"error converting YAML to JSON: {exc}") from exc
    minor = parse_version(version)[1]
    cfg = Config()
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise Fail(f"{path}: every YAML document must be a mapping")
        api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        group, _, short = api.rpartition("/")
        if group != "kubeadm.k8s.io":
            if (api, kind) in (
                ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"),
                ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"),
            ):
                cfg.docs[kind] = doc
            else:
                gvk = f"{api}, Kind={kind}"
                say(f"[config] WARNING: Ignored configuration document with GroupVersionKind {gvk}")
            continue
        if api in facts.get("old_api_versions", []):
            raise Fail(
                f'your configuration file uses an old API spec: "{api}". Please use kubeadm v1.{minor - 1} '
                "instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', "
                "which will write the new, similar spec using a newer API version."
            )
        schema = facts.get("schemas", {}).get(api)
        if api not in facts.get("api_versions", []) or schema is None or kind not in schema["kinds"]:
            raise Fail(f'no kind "{kind}" is registered for version "{api}" in scheme')
        if kind in cfg.docs:
            raise Fail(f'invalid configuration: kind "{kind}" is specified twice in YAML file')
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
        for field_path in fakelib.unknown_fields(body, schema["kinds"][kind], schema["types"]):
            msg = f'strict decoding error: unknown field "{field_path}"'
            if strict:
                raise Fail(f"{kind} {api}: {msg}")
            fakelib.klog("warning", f"{msg} ({kind} {api})")
        cfg.docs[kind] = doc
        cfg.versions[kind] = short
    return cfg


def cmd_validate(args: fakelib.ParsedArgs, version: str) -> int:
    """``kubeadm config validate --config``: strict decoding (unknown fields are errors)."""
    if not args.get("config"):
        raise Fail("the --config flag is mandatory")
    load_config(args.get("config"), version, strict=True)
    say("ok")
    return 0


def check_mixed(args: fakelib.ParsedArgs, version: str) -> None:
    """ValidateMixedArguments: --config goes only with the allow-list (and skip-* flags)."""
    if not args.get("config"):
        return
    allowed = set((facts_for(version) or {}).get("mix_with_config") or MIX_ALLOWED)
    bad = sorted(n for n in args.given if n not in allowed and not n.startswith("skip-"))
    if bad:
        raise Fail(f"can not mix '--config' with arguments [{' '.join(bad)}]")


@dataclass
class Cluster:
    """ClusterConfiguration with kubeadm's defaults applied."""

    version: str
    endpoint: str = ""
    pod_subnet: str = ""
    service_subnet: str = "10.96.0.0/12"
    dns_domain: str = "cluster.local"
    cert_sans: list[str] = field(default_factory=list)
    api_args: dict[str, str] = field(default_factory=dict)
    cm_args: dict[str, str] = field(default_factory=dict)
    sched_args: dict[str, str] = field(default_factory=dict)
    etcd_args: dict[str, str] = field(default_factory=dict)
    etcd_data: str = "/var/lib/etcd"
    etcd_server_sans: list[str] = field(default_factory=list)
    etcd_peer_sans: list[str] = field(default_factory=list)
    external_etcd: dict[str, Any] = field(default_factory=dict)
    cert_dir: str = "/etc/kubernetes/pki"
    repo: str = "registry.k8s.io"
    name: str = "kubernetes"
    leaf_days: int = 365
    ca_days: int = 3650
    dns_disabled: bool = False
    proxy_disabled: bool = False
    api_version: str = "v1beta3"
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def service_ip(self) -> str:
        net = ipaddress.ip_network(self.service_subnet.split(",")[0], strict=False)
        return str(net.network_address + 1)

    @property
    def dns_ip(self) -> str:
        net = ipaddress.ip_network(self.service_subnet.split(",")[0], strict=False)
        return str(net.network_address + 10)


def cluster_from(doc: dict[str, Any], version: str, api_version: str, kubeadm_version: str) -> Cluster:
    c = Cluster(version=str(doc.get("kubernetesVersion") or version or ""), api_version=api_version)
    if not c.version or c.version.startswith(("stable", "latest")):
        say(
            f"W: could not fetch a Kubernetes version from the internet: offline "
            f"({FAKE_MARK}); falling back to the local client version: {kubeadm_version}"
        )
        c.version = kubeadm_version
    if not c.version.startswith("v"):
        c.version = "v" + c.version
    c.endpoint = str(doc.get("controlPlaneEndpoint") or "")
    net = doc.get("networking") or {}
    c.pod_subnet = str(net.get("podSubnet") or "")
    c.service_subnet = str(net.get("serviceSubnet") or c.service_subnet)
    c.dns_domain = str(net.get("dnsDomain") or c.dns_domain)
    api = doc.get("apiServer") or {}
    c.cert_sans = [str(s) for s in api.get("certSANs") or []]
    c.api_args = check_extra_args(api.get("extraArgs"), api_version, "apiServer.extraArgs")
    c.cm_args = check_extra_args(
        (doc.get("controllerManager") or {}).get("extraArgs"), api_version, "controllerManager.extraArgs"
    )
    c.sched_args = check_extra_args(
        (doc.get("scheduler") or {}).get("extraArgs"), api_version, "scheduler.extraArgs"
    )
    etcd = doc.get("etcd") or {}
    if etcd.get("external"):
        c.external_etcd = etcd["external"]
        if not c.external_etcd.get("endpoints"):
            raise Fail("etcd.external.endpoints: Required value: must be specified")
    local = etcd.get("local") or {}
    c.etcd_args = check_extra_args(local.get("extraArgs"), api_version, "etcd.local.extraArgs")
    c.etcd_data = str(local.get("dataDir") or c.etcd_data)
    c.etcd_server_sans = [str(s) for s in local.get("serverCertSANs") or []]
    c.etcd_peer_sans = [str(s) for s in local.get("peerCertSANs") or []]
    c.cert_dir = str(doc.get("certificatesDir") or c.cert_dir)
    c.repo = str(doc.get("imageRepository") or c.repo)
    c.name = str(doc.get("clusterName") or c.name)
    if doc.get("certificateValidityPeriod"):
        c.leaf_days = max(1, int(fakelib.parse_duration(doc["certificateValidityPeriod"]) // 86400))
    if doc.get("caCertificateValidityPeriod"):
        c.ca_days = max(1, int(fakelib.parse_duration(doc["caCertificateValidityPeriod"]) // 86400))
    c.dns_disabled = bool((doc.get("dns") or {}).get("disabled"))
    c.proxy_disabled = bool((doc.get("proxy") or {}).get("disabled"))
    c.raw = doc
    check_version_skew(c.version, kubeadm_version)
    return c


def check_version_skew(target: str, kubeadm_version: str) -> None:
    t, k = parse_version(target), parse_version(kubeadm_version)
    if t[:2] > k[:2]:
        raise Fail(
            f"this version of kubeadm only supports deploying clusters with the control "
            f"plane version <= v{k[0]}.{k[1]}.x. Current version: {target}"
        )
    if t[1] < k[1] - 1:
        raise Fail(
            f"this version of kubeadm only supports deploying clusters with the control "
            f"plane version >= {k[0]}.{k[1] - 1}.0. Current version: {target}"
        )


def cluster_config_yaml(c: Cluster) -> str:
    """What kubeadm stores in kube-system/kubeadm-config (ClusterConfiguration)."""
    doc = dict(c.raw)
    doc.update(
        {
            "apiVersion": f"kubeadm.k8s.io/{c.api_version}",
            "kind": "ClusterConfiguration",
            "kubernetesVersion": c.version,
            "certificatesDir": c.cert_dir,
            "clusterName": c.name,
            "imageRepository": c.repo,
        }
    )
    doc.setdefault("networking", {})
    doc["networking"] = dict(doc["networking"], serviceSubnet=c.service_subnet, dnsDomain=c.dns_domain)
    if c.endpoint:
        doc["controlPlaneEndpoint"] = c.endpoint
    return fakelib.yaml_dump(doc)


@dataclass
class NodeReg:
    name: str
    cri_socket: str = DEFAULT_CRI
    taints: list[dict[str, str]] | None = None
    kubelet_args: dict[str, str] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)


def node_reg_from(doc: dict[str, Any], version: str, flag_name: str) -> NodeReg:
    nr = doc or {}
    reg = NodeReg(name=str(nr.get("name") or flag_name or fakelib.hostname()).lower())
    reg.cri_socket = str(nr.get("criSocket") or DEFAULT_CRI)
    if "taints" in nr:
        reg.taints = [dict(t) for t in nr.get("taints") or []]
    reg.kubelet_args = check_extra_args(
        nr.get("kubeletExtraArgs"), version, "nodeRegistration.kubeletExtraArgs"
    )
    reg.ignore = [str(i) for i in nr.get("ignorePreflightErrors") or []]
    return reg


# ---- preflight ------------------------------------------------------------------------------


def preflight(checks: list[tuple[str, str]], ignored: list[str]) -> None:
    """checks: (name, error-or-empty). Ignored ones become warnings, as with kubeadm."""
    ign = {i.lower() for i in ignored}
    errors = []
    for name, problem in checks:
        if not problem:
            continue
        if "all" in ign or name.lower() in ign:
            say(f"\t[WARNING {name}]: {problem}")
        else:
            errors.append(f"\t[ERROR {name}]: {problem}")
    if errors:
        raise Fail(
            "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
            + "\n".join(errors)
            + "\n[preflight] If you know what you are doing, you can "
            "make a check non-fatal with `--ignore-preflight-errors=...`"
        )


def port_check(ip: str, port: int) -> str:
    with contextlib.closing(socket.socket()) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return f"Port {port} is in use"
    return ""


def file_check(path: str) -> tuple[str, str]:
    name = "FileAvailable-" + path.replace("/", "-")
    return name, f"{path} already exists" if os.path.exists(hp(path)) else ""


def root_check() -> tuple[str, str]:
    return "IsPrivilegedUser", "" if os.geteuid() == 0 else "user is not running as root"


# ---- PKI ------------------------------------------------------------------------------------


class Pki:
    """The files under certificatesDir, kubeadm's names and subjects."""

    def __init__(self, cert_dir: str, c: Cluster) -> None:
        self.dir = hp(cert_dir)
        self.shown = cert_dir
        self.c = c

    def p(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def ca(self, base: str, cn: str) -> None:
        crt, key = self.p(base + ".crt"), self.p(base + ".key")
        if os.path.exists(crt):
            if not os.path.exists(key):
                raise Fail(
                    f"failure loading {base} certificate authority: couldn't load the "
                    f"private key file {self.shown}/{base}.key: open: no such file "
                    "(external CA mode is not supported by the " + FAKE_MARK + ")"
                )
            say(f"[certs] Using existing {base.replace('/', '-')} certificate authority")
            return
        say(f'[certs] Generating "{base.replace("/", "-")}" certificate and key')
        os.makedirs(os.path.dirname(crt), exist_ok=True)
        fakelib.make_ca(crt, key, cn, self.c.ca_days)

    def leaf(self, base: str, ca: str, spec: fakelib.CertSpec) -> None:
        crt, key = self.p(base + ".crt"), self.p(base + ".key")
        label = base.replace("/", "-")
        if os.path.exists(crt):
            if not fakelib.verify_chain(self.p(ca + ".crt"), crt):
                raise Fail(f"certificate {label} is not signed by corresponding CA")
            info = fakelib.cert_info(fakelib.read_text(crt))
            missing = [d for d in spec.dns if d not in info.dns] + [
                i
                for i in spec.ips
                if str(ipaddress.ip_address(i)) not in {str(ipaddress.ip_address(x)) for x in info.ips}
            ]
            if missing:
                raise Fail(
                    f"certificate {label} is invalid: x509: certificate is valid for "
                    f"{', '.join(info.dns + info.ips)}, not {', '.join(missing)}"
                )
            say(f"[certs] Using existing {label} certificate and key on disk")
            return
        say(f'[certs] Generating "{label}" certificate and key')
        if spec.dns or spec.ips:
            say(
                f"[certs] {label} serving cert is signed for DNS names [{' '.join(spec.dns)}] "
                f"and IPs [{' '.join(spec.ips)}]"
            )
        spec.days = self.c.leaf_days
        fakelib.issue_cert(self.p(ca + ".crt"), self.p(ca + ".key"), crt, key, spec)

    def sa(self) -> None:
        key, pub = self.p("sa.key"), self.p("sa.pub")
        if os.path.exists(key):
            say('[certs] Using the existing "sa" key')
            return
        say('[certs] Generating "sa" key and public key')
        fakelib.write_file(key, fakelib.gen_key_pem(), 0o600)
        fakelib.write_file(pub, fakelib.run(["openssl", "pkey", "-in", key, "-pubout"]), 0o644)

    def admin_orgs(self) -> tuple[str, ...]:
        return ("kubeadm:cluster-admins",) if parse_version(self.c.version)[1] >= 29 else ("system:masters",)

    def all_certs(self, node: str, advertise: str) -> None:
        c = self.c
        say(f'[certs] Using certificateDir folder "{self.shown}"')
        self.ca("ca", "kubernetes")
        host = c.endpoint.rsplit(":", 1)[0] if c.endpoint else ""
        sans = [*c.cert_sans, *([host] if host else [])]
        dns = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{c.dns_domain}",
            node,
        ]
        ips = [c.service_ip, advertise]
        for s in sans:
            try:
                ips.append(str(ipaddress.ip_address(s)))
            except ValueError:
                dns.append(s)
        self.leaf(
            "apiserver", "ca", fakelib.CertSpec("kube-apiserver", dns=tuple(dns), ips=tuple(ips), server=True)
        )
        self.leaf(
            "apiserver-kubelet-client",
            "ca",
            fakelib.CertSpec("kube-apiserver-kubelet-client", self.admin_orgs(), client=True),
        )
        self.ca("front-proxy-ca", "front-proxy-ca")
        self.leaf("front-proxy-client", "front-proxy-ca", fakelib.CertSpec("front-proxy-client", client=True))
        if not c.external_etcd:
            self.ca("etcd/ca", "etcd-ca")
            edns = [node, "localhost", *[s for s in c.etcd_server_sans if not _is_ip(s)]]
            eips = [advertise, "127.0.0.1", *[s for s in c.etcd_server_sans if _is_ip(s)]]
            self.leaf(
                "etcd/server",
                "etcd/ca",
                fakelib.CertSpec(node, dns=tuple(edns), ips=tuple(eips), server=True, client=True),
            )
            pdns = [node, "localhost", *[s for s in c.etcd_peer_sans if not _is_ip(s)]]
            pips = [advertise, "127.0.0.1", *[s for s in c.etcd_peer_sans if _is_ip(s)]]
            self.leaf(
                "etcd/peer",
                "etcd/ca",
                fakelib.CertSpec(node, dns=tuple(pdns), ips=tuple(pips), server=True, client=True),
            )
            self.leaf(
                "etcd/healthcheck-client",
                "etcd/ca",
                fakelib.CertSpec("kube-etcd-healthcheck-client", client=True),
            )
            self.leaf(
                "apiserver-etcd-client",
                "etcd/ca",
                fakelib.CertSpec("kube-apiserver-etcd-client", client=True),
            )
        self.sa()

    SHARED = (
        "ca.crt",
        "ca.key",
        "sa.key",
        "sa.pub",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "etcd/ca.crt",
        "etcd/ca.key",
    )


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def renew_cert(crt: str, ca_crt: str, ca_key: str, days: int) -> None:
    """Re-sign an existing certificate with the same key and subject, new validity (renewal)."""
    info = fakelib.cert_info(fakelib.read_text(crt))
    key = crt[:-4] + ".key"
    text = fakelib.run(
        ["openssl", "x509", "-in", crt, "-noout", "-ext", "extendedKeyUsage"], what="openssl x509 -ext"
    ).decode()
    spec = fakelib.CertSpec(
        info.subject_cn,
        tuple(info.orgs),
        tuple(info.dns),
        tuple(info.ips),
        server="Server Authentication" in text,
        client="Client Authentication" in text,
        days=days,
    )
    csr = fakelib.make_csr(key, spec.cn, spec.orgs)
    fakelib.write_file(crt, fakelib.sign_csr(ca_crt, ca_key, csr, spec), 0o644)


# ---- kubeconfigs ----------------------------------------------------------------------------


def write_kubeconfig_file(
    path: str, server: str, pki: Pki, cn: str, orgs: tuple[str, ...], cluster_name: str
) -> None:
    real = hp(path)
    ca = fakelib.read_text(pki.p("ca.crt"))
    base = os.path.basename(path)
    if os.path.exists(real):
        existing = fakelib.load_kubeconfig(real)
        if existing.ca_pem.strip() != ca.strip():
            raise Fail(f'a kubeconfig file "{path}" exists already but has got the wrong CA cert')
        say(f'[kubeconfig] Using existing kubeconfig file: "{path}"')
        return
    say(f'[kubeconfig] Writing "{base}" kubeconfig file')
    with fakelib_tmpdir() as tmp:
        crt, key = os.path.join(tmp, "c.crt"), os.path.join(tmp, "c.key")
        fakelib.issue_cert(
            pki.p("ca.crt"),
            pki.p("ca.key"),
            crt,
            key,
            fakelib.CertSpec(cn, orgs, client=True, days=pki.c.leaf_days),
        )
        user = cn
        text = fakelib.kubeconfig(
            server,
            ca,
            cert_pem=fakelib.read_text(crt),
            key_pem=fakelib.read_text(key),
            cluster=cluster_name,
            user=user,
            context=f"{user}@{cluster_name}",
        )
    fakelib.write_file(real, text, 0o600)


@contextlib.contextmanager
def fakelib_tmpdir() -> Any:
    with tempfile.TemporaryDirectory(prefix="fakekubeadm-") as tmp:
        yield tmp


def admin_client(kubeconfig: str) -> fakelib.KubeClient:
    try:
        return fakelib.KubeClient(fakelib.load_kubeconfig(hp(kubeconfig)))
    except OSError as exc:
        raise Fail(f"failed to load admin kubeconfig: open {kubeconfig}: {exc.strerror}") from exc


# ---- static pod manifests -------------------------------------------------------------------


def args_list(defaults: dict[str, str], extra: dict[str, str]) -> list[str]:
    merged = {**defaults, **extra}
    return [f"--{k}={v}" for k, v in sorted(merged.items())]


def pod_manifest(
    name: str, image: str, command: list[str], annotations: dict[str, str], port: int = 0
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "kube-system",
            "annotations": annotations,
            "labels": {"component": name, "tier": "control-plane"},
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [
                {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "command": command}
            ],
        },
        "status": {},
    }


def write_manifest(name: str, pod: dict[str, Any]) -> None:
    fakelib.write_file(hp(f"{MANIFESTS}/{name}.yaml"), fakelib.yaml_dump(pod), 0o600)


def control_plane_manifests(c: Cluster, advertise: str, port: int, etcd_servers: str) -> None:
    img = images(c.version, c.repo)
    pki = c.cert_dir
    etcd_tls = {
        "etcd-cafile": f"{pki}/etcd/ca.crt",
        "etcd-certfile": f"{pki}/apiserver-etcd-client.crt",
        "etcd-keyfile": f"{pki}/apiserver-etcd-client.key",
    }
    if c.external_etcd:
        ext = c.external_etcd
        etcd_tls = {
            k: v
            for k, v in (
                ("etcd-cafile", ext.get("caFile")),
                ("etcd-certfile", ext.get("certFile")),
                ("etcd-keyfile", ext.get("keyFile")),
            )
            if v
        }
    api_defaults = {
        "advertise-address": advertise,
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": f"{pki}/ca.crt",
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        **etcd_tls,
        "etcd-servers": etcd_servers,
        "kubelet-client-certificate": f"{pki}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{pki}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{pki}/front-proxy-client.crt",
        "proxy-client-key-file": f"{pki}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(port),
        "service-account-issuer": f"https://kubernetes.default.svc.{c.dns_domain}",
        "service-account-key-file": f"{pki}/sa.pub",
        "service-account-signing-key-file": f"{pki}/sa.key",
        "service-cluster-ip-range": c.service_subnet,
        "tls-cert-file": f"{pki}/apiserver.crt",
        "tls-private-key-file": f"{pki}/apiserver.key",
    }
    say('[control-plane] Creating static Pod manifest for "kube-apiserver"')
    write_manifest(
        "kube-apiserver",
        pod_manifest(
            "kube-apiserver",
            img["kube-apiserver"],
            ["kube-apiserver", *args_list(api_defaults, c.api_args)],
            {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": f"{advertise}:{port}"},
        ),
    )
    cm_defaults = {
        "authentication-kubeconfig": f"{ETC}/controller-manager.conf",
        "authorization-kubeconfig": f"{ETC}/controller-manager.conf",
        "bind-address": "127.0.0.1",
        "client-ca-file": f"{pki}/ca.crt",
        "cluster-name": c.name,
        "cluster-signing-cert-file": f"{pki}/ca.crt",
        "cluster-signing-key-file": f"{pki}/ca.key",
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": f"{ETC}/controller-manager.conf",
        "leader-elect": "true",
        "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
        "root-ca-file": f"{pki}/ca.crt",
        "service-account-private-key-file": f"{pki}/sa.key",
        "use-service-account-credentials": "true",
    }
    if c.pod_subnet:
        cm_defaults.update({"allocate-node-cidrs": "true", "cluster-cidr": c.pod_subnet})
    say('[control-plane] Creating static Pod manifest for "kube-controller-manager"')
    write_manifest(
        "kube-controller-manager",
        pod_manifest(
            "kube-controller-manager",
            img["kube-controller-manager"],
            ["kube-controller-manager", *args_list(cm_defaults, c.cm_args)],
            {},
        ),
    )
    sched_defaults = {
        "authentication-kubeconfig": f"{ETC}/scheduler.conf",
        "authorization-kubeconfig": f"{ETC}/scheduler.conf",
        "bind-address": "127.0.0.1",
        "kubeconfig": f"{ETC}/scheduler.conf",
        "leader-elect": "true",
    }
    say('[control-plane] Creating static Pod manifest for "kube-scheduler"')
    write_manifest(
        "kube-scheduler",
        pod_manifest(
            "kube-scheduler",
            img["kube-scheduler"],
            ["kube-scheduler", *args_list(sched_defaults, c.sched_args)],
            {},
        ),
    )


def etcd_manifest(c: Cluster, node: str, advertise: str, initial: str, state: str) -> None:
    pki = c.cert_dir
    defaults = {
        "advertise-client-urls": f"https://{advertise}:2379",
        "cert-file": f"{pki}/etcd/server.crt",
        "client-cert-auth": "true",
        "data-dir": c.etcd_data,
        "experimental-initial-corrupt-check": "true",
        "experimental-watch-progress-notify-interval": "5s",
        "initial-advertise-peer-urls": f"https://{advertise}:2380",
        "initial-cluster": initial,
        "key-file": f"{pki}/etcd/server.key",
        "listen-client-urls": f"https://127.0.0.1:2379,https://{advertise}:2379",
        "listen-metrics-urls": "http://127.0.0.1:2381",
        "listen-peer-urls": f"https://{advertise}:2380",
        "name": node,
        "peer-cert-file": f"{pki}/etcd/peer.crt",
        "peer-client-cert-auth": "true",
        "peer-key-file": f"{pki}/etcd/peer.key",
        "peer-trusted-ca-file": f"{pki}/etcd/ca.crt",
        "snapshot-count": "10000",
        "trusted-ca-file": f"{pki}/etcd/ca.crt",
    }
    if state == "existing":
        defaults["initial-cluster-state"] = "existing"
    say(f'[etcd] Creating static Pod manifest for local etcd in "{MANIFESTS}"')
    write_manifest(
        "etcd",
        pod_manifest(
            "etcd",
            images(c.version, c.repo)["etcd"],
            ["etcd", *args_list(defaults, c.etcd_args)],
            {"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{advertise}:2379"},
        ),
    )


def local_etcd_url(c: Cluster, advertise: str) -> str:
    listen = c.etcd_args.get("advertise-client-urls", f"https://{advertise}:2379")
    return listen.split(",")[0]


def etcd_admin(c: Cluster, url: str) -> fakelib.EtcdClient:
    pki = hp(c.cert_dir)
    return fakelib.EtcdClient(
        [url], f"{pki}/etcd/ca.crt", f"{pki}/apiserver-etcd-client.crt", f"{pki}/apiserver-etcd-client.key"
    )


# ---- kubelet files --------------------------------------------------------------------------


def kubelet_files(c: Cluster, reg: NodeReg, cfg: Config, advertise: str) -> dict[str, Any]:
    kcfg: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": f"{c.cert_dir}/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "systemd",
        "clusterDNS": [c.dns_ip],
        "clusterDomain": c.dns_domain,
        "rotateCertificates": True,
        "staticPodPath": MANIFESTS,
    }
    kcfg.update({k: v for k, v in cfg.get("KubeletConfiguration").items() if k not in ("apiVersion", "kind")})
    write_kubelet_files(kcfg, reg, c)
    return kcfg


def write_kubelet_files(kcfg: dict[str, Any], reg: NodeReg, c: Cluster) -> None:
    flags = {
        "container-runtime-endpoint": reg.cri_socket,
        "pod-infra-container-image": images(c.version, c.repo)["pause"],
    }
    if reg.name != fakelib.hostname():
        flags["hostname-override"] = reg.name
    flags.update(reg.kubelet_args)
    env = 'KUBELET_KUBEADM_ARGS="' + " ".join(f"--{k}={v}" for k, v in flags.items()) + '"\n'
    say(
        f"[kubelet-start] Writing kubelet environment file with flags to file "
        f'"{KUBELET_DIR}/kubeadm-flags.env"'
    )
    fakelib.write_file(hp(f"{KUBELET_DIR}/kubeadm-flags.env"), env, 0o644)
    say(f'[kubelet-start] Writing kubelet configuration to file "{KUBELET_DIR}/config.yaml"')
    fakelib.write_file(hp(f"{KUBELET_DIR}/config.yaml"), fakelib.yaml_dump(kcfg), 0o644)


def systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system") and not os.environ.get("SEALKIT_FAKE_ROOT")


def start_kubelet() -> None:
    say("[kubelet-start] Starting the kubelet")
    if not systemd_running():
        say(
            "[kubelet-start] WARNING: no systemd found; the kubelet must be started by "
            f"whoever installed it ({FAKE_MARK})"
        )
        return
    proc = subprocess.run(["systemctl", "restart", "kubelet"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        say(f"[kubelet-start] WARNING: unable to start the kubelet service: {proc.stderr.strip()}")


def stop_kubelet() -> None:
    if systemd_running():
        say("[reset] Stopping the kubelet service")
        subprocess.run(["systemctl", "stop", "kubelet"], capture_output=True, check=False)
    else:
        say("[reset] WARNING: no systemd found; stop the kubelet yourself")


def wait_for(what: str, pred: Any, timeout: float) -> None:
    start = time.monotonic()
    if not fakelib.wait_until(pred, timeout, 0.5):
        raise Fail(f"{what}: timed out waiting for the condition after {timeout:.0f}s")
    say(f"[{what}] done after {time.monotonic() - start:.1f} seconds")


def timeout_of(cfg: Config, kind: str, key: str, legacy: Any, default: str) -> float:
    timeouts = cfg.get(kind).get("timeouts") or {}
    value = timeouts.get(key) or legacy or default
    return fakelib.parse_duration(str(value))


def api_healthy(server: str, kubeconfig: str) -> bool:
    try:
        creds = fakelib.load_kubeconfig(hp(kubeconfig))
        creds.server = server
        ctx = fakelib.client_ssl_context(
            creds.ca_pem, creds.cert_file, creds.key_file, cert_pem=creds.cert_pem, key_pem=creds.key_pem
        )
        status, body, _ = fakelib.http_request(server + "/healthz", context=ctx, timeout=3)
        return status == 200 and body == b"ok"
    except (OSError, urllib.error.URLError, fakelib.FakeError, KeyError, StopIteration):
        return False


# ---- bootstrap tokens, cluster-info, certificate upload --------------------------------------


def new_token() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return (
        "".join(secrets.choice(alphabet) for _ in range(6))
        + "."
        + "".join(secrets.choice(alphabet) for _ in range(16))
    )


def create_token(
    client: fakelib.KubeClient,
    token: str,
    ttl: float,
    usages: list[str],
    groups: list[str],
    description: str = "",
    *,
    fail_if_exists: bool = False,
) -> None:
    """One bootstrap-token Secret. ``kubeadm init`` upserts (UpdateOrCreateTokens failIfExists=false);
    ``kubeadm token create`` refuses an existing id (CreateNewTokens → failIfExists=true), whether the
    token came from --config, the argument or was generated (kubernetes/kubernetes
    cmd/kubeadm/app/phases/bootstraptoken/node/token.go)."""
    m = TOKEN_RE.match(token)
    if not m:
        raise Fail(
            f'the bootstrap token "{token}" was not of the form '
            r'"\A([a-z0-9]{6})\.([a-z0-9]{16})\z"'
        )
    data = {"token-id": m.group(1), "token-secret": m.group(2), "auth-extra-groups": ",".join(groups)}
    for u in usages:
        data[f"usage-bootstrap-{u}"] = "true"
    if ttl > 0:
        data["expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ttl))
    if description:
        data["description"] = description
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": f"bootstrap-token-{m.group(1)}", "namespace": "kube-system"},
        "stringData": data,
    }
    path = f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{m.group(1)}"
    if fail_if_exists:
        try:
            client.request("GET", path)
        except fakelib.HTTPStatusError as exc:
            if exc.status != 404:
                raise
        else:
            raise Fail(f'a token with id "{m.group(1)}" already exists')
    try:
        client.request("POST", "/api/v1/namespaces/kube-system/secrets", secret)
    except fakelib.HTTPStatusError as exc:
        if exc.status != 409:
            raise
        client.request("PUT", path, secret)


def ensure(client: fakelib.KubeClient, path: str, obj: dict[str, Any]) -> None:
    try:
        client.request("POST", path, obj)
    except fakelib.HTTPStatusError as exc:
        if exc.status != 409:
            raise
        name = obj["metadata"]["name"]
        current = client.request("GET", f"{path}/{name}")
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        client.request("PUT", f"{path}/{name}", obj)


def configmap(name: str, ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }


def seal(key_hex: str, plaintext: bytes) -> str:
    key = cert_key_bytes(key_hex)
    nonce = secrets.token_bytes(16)
    stream = b"".join(
        hashlib.sha256(key + nonce + i.to_bytes(8, "big")).digest() for i in range(len(plaintext) // 32 + 1)
    )
    ct = bytes(a ^ b for a, b in zip(plaintext, stream, strict=False))
    tag = hmac.new(key, nonce + ct, hashlib.sha256).digest()[:16]
    return base64.b64encode(nonce + ct + tag).decode()


def unseal(key_hex: str, sealed: str) -> bytes:
    key = cert_key_bytes(key_hex)
    raw = base64.b64decode(sealed)
    nonce, ct, tag = raw[:16], raw[16:-16], raw[-16:]
    if not hmac.compare_digest(tag, hmac.new(key, nonce + ct, hashlib.sha256).digest()[:16]):
        raise Fail(
            "error downloading certs: error decoding secret data with provided key: "
            "cipher: message authentication failed"
        )
    stream = b"".join(
        hashlib.sha256(key + nonce + i.to_bytes(8, "big")).digest() for i in range(len(ct) // 32 + 1)
    )
    return bytes(a ^ b for a, b in zip(ct, stream, strict=False))


def cert_key_bytes(key_hex: str) -> bytes:
    try:
        key = bytes.fromhex(key_hex)
    except ValueError as exc:
        raise Fail(f"error decoding certificate key: encoding/hex: invalid byte in {key_hex[:8]}...") from exc
    if len(key) != 32:
        raise Fail("error decoding certificate key: the certificate key must be 32 bytes (64 hex characters)")
    return key


def upload_certs(client: fakelib.KubeClient, pki: Pki, key_hex: str) -> None:
    data = {}
    for rel in Pki.SHARED:
        path = pki.p(rel)
        if os.path.exists(path):
            data[rel.replace("/", "-")] = fakelib.b64(seal(key_hex, fakelib.read_bytes(path)))
    ensure(
        client,
        "/api/v1/namespaces/kube-system/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "kubeadm-certs", "namespace": "kube-system"},
            "data": data,
        },
    )


def download_certs(client: fakelib.KubeClient, pki: Pki, key_hex: str) -> None:
    try:
        secret = client.request("GET", "/api/v1/namespaces/kube-system/secrets/kubeadm-certs")
    except fakelib.HTTPStatusError as exc:
        raise Fail(
            "error downloading certs: error downloading the secret: secret "
            '"kubeadm-certs" was not found. It may have expired (run `kubeadm init phase '
            "upload-certs --upload-certs` on a control plane node)"
        ) from exc
    for name, value in (secret.get("data") or {}).items():
        rel = name.replace("etcd-", "etcd/", 1)
        plain = unseal(key_hex, base64.b64decode(value).decode())
        fakelib.write_file(pki.p(rel), plain, 0o600 if rel.endswith(".key") else 0o644)
    say(
        '[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the '
        '"kube-system" Namespace'
    )


# ---- commands -------------------------------------------------------------------------------


def endpoint_of(c: Cluster, advertise: str, port: int) -> str:
    if c.endpoint:
        return c.endpoint if re.search(r":\d+$", c.endpoint) else f"{c.endpoint}:{port}"
    return f"{advertise}:{port}"


def cmd_init(args: fakelib.ParsedArgs, version: str) -> int:
    check_mixed(args, version)
    cfg = load_config(args.get("config"), version) if args.get("config") else Config()
    init = cfg.get("InitConfiguration")
    cl_doc = dict(cfg.get("ClusterConfiguration"))
    if not args.get("config"):
        cl_doc = {
            "kubernetesVersion": args.get("kubernetes-version"),
            "controlPlaneEndpoint": args.get("control-plane-endpoint"),
            "networking": {
                "podSubnet": args.get("pod-network-cidr"),
                "serviceSubnet": args.get("service-cidr"),
                "dnsDomain": args.get("service-dns-domain"),
            },
            "apiServer": {"certSANs": args.get("apiserver-cert-extra-sans")},
            "certificatesDir": args.get("cert-dir"),
            "imageRepository": args.get("image-repository"),
        }
    c = cluster_from(cl_doc, "", cfg.version_of("ClusterConfiguration"), version)
    say(f"[init] Using Kubernetes version: {c.version}")
    reg = node_reg_from(
        init.get("nodeRegistration") or {}, cfg.version_of("InitConfiguration"), args.get("node-name") or ""
    )
    if args.get("cri-socket"):
        reg.cri_socket = args.get("cri-socket")
    lae = init.get("localAPIEndpoint") or {}
    advertise = str(
        lae.get("advertiseAddress") or args.get("apiserver-advertise-address") or fakelib.default_ip()
    )
    port = int(lae.get("bindPort") or args.get("apiserver-bind-port") or 6443)
    skip = set(init.get("skipPhases") or []) | set(args.get("skip-phases") or [])
    ignored = [*reg.ignore, *(args.get("ignore-preflight-errors") or [])]

    say("[preflight] Running pre-flight checks")
    checks = [root_check(), (f"Port-{port}", port_check(advertise, port))]
    checks += [
        file_check(f"{MANIFESTS}/{n}.yaml")
        for n in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
    ]
    if not c.external_etcd:
        for p in (2379, 2380):
            checks.append((f"Port-{p}", port_check(advertise, p)))
        data = hp(c.etcd_data)
        checks.append(
            (
                "DirAvailable-" + c.etcd_data.replace("/", "-"),
                f"{c.etcd_data} is not empty" if os.path.isdir(data) and os.listdir(data) else "",
            )
        )
    preflight(checks, ignored)

    pki = Pki(c.cert_dir, c)
    pki.all_certs(reg.name, advertise)
    endpoint = endpoint_of(c, advertise, port)
    server = f"https://{endpoint}"
    say(f'[kubeconfig] Using kubeconfig folder "{ETC}"')
    minor = parse_version(c.version)[1]
    write_kubeconfig_file(f"{ETC}/admin.conf", server, pki, "kubernetes-admin", pki.admin_orgs(), c.name)
    if minor >= 29:
        write_kubeconfig_file(
            f"{ETC}/super-admin.conf", server, pki, "kubernetes-super-admin", ("system:masters",), c.name
        )
    local = f"https://{advertise}:{port}"
    write_kubeconfig_file(
        f"{ETC}/kubelet.conf", server, pki, f"system:node:{reg.name}", ("system:nodes",), c.name
    )
    write_kubeconfig_file(
        f"{ETC}/controller-manager.conf", local, pki, "system:kube-controller-manager", (), c.name
    )
    write_kubeconfig_file(f"{ETC}/scheduler.conf", local, pki, "system:kube-scheduler", (), c.name)
    if c.external_etcd:
        etcd_servers = ",".join(c.external_etcd["endpoints"])
    else:
        etcd_manifest(c, reg.name, advertise, f"{reg.name}=https://{advertise}:2380", "new")
        etcd_servers = c.api_args.get("etcd-servers", "https://127.0.0.1:2379")
    control_plane_manifests(c, advertise, port, etcd_servers)
    kcfg = kubelet_files(c, reg, cfg, advertise)
    start_kubelet()
    legacy = (cl_doc.get("apiServer") or {}).get("timeoutForControlPlane")
    timeout = timeout_of(cfg, "InitConfiguration", "controlPlaneComponentHealthCheck", legacy, "4m")
    say(
        f"[wait-control-plane] Waiting for the kubelet to boot up the control plane as static "
        f'Pods from directory "{MANIFESTS}". This can take up to {timeout:.0f}s'
    )
    try:
        wait_for("api-check", lambda: api_healthy(local, f"{ETC}/admin.conf"), timeout)
    except Fail as exc:
        raise Fail(
            "error execution phase wait-control-plane: could not initialize a "
            f"Kubernetes cluster: {exc}\nThis error is likely caused by:\n\t- The kubelet "
            "is not running\n\t- The kubelet is unhealthy due to a misconfiguration of "
            "the node in some way"
        ) from exc
    client = admin_client(f"{ETC}/admin.conf")
    client.servers = [local, *client.servers]
    say(
        '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the '
        '"kube-system" Namespace'
    )
    ensure(
        client,
        "/api/v1/namespaces/kube-system/configmaps",
        configmap("kubeadm-config", "kube-system", {"ClusterConfiguration": cluster_config_yaml(c)}),
    )
    ensure(
        client,
        "/api/v1/namespaces/kube-system/configmaps",
        configmap("kubelet-config", "kube-system", {"kubelet": fakelib.yaml_dump(kcfg)}),
    )
    key = ""
    if args.get("upload-certs") and "upload-certs" not in skip:
        key = str(init.get("certificateKey") or args.get("certificate-key") or secrets.token_hex(32))
        upload_certs(client, pki, key)
        say(
            '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace'
        )
        if not args.get("skip-certificate-key-print"):
            say(f"[upload-certs] Using certificate key:\n{key}")
    else:
        say("[upload-certs] Skipping phase. Please see --upload-certs")
    if "mark-control-plane" not in skip:
        mark_control_plane(client, reg, timeout)
    specs = bootstrap_tokens(init, args.get("token") or "", args.get("token-ttl") or "24h0m0s")
    for spec in specs:
        create_token(client, **spec)
    tokens = [str(spec["token"]) for spec in specs]
    if not args.get("skip-token-print"):
        say(f"[bootstrap-token] Using token: {tokens[0]}")
    ca_pem = fakelib.read_text(pki.p("ca.crt"))
    ensure(
        client,
        "/api/v1/namespaces/kube-public/configmaps",
        configmap("cluster-info", "kube-public", {"kubeconfig": cluster_info_kubeconfig(server, ca_pem)}),
    )
    say('[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace')
    addons(client, c, skip)
    ca_hash = fakelib.spki_sha256(ca_pem)
    say(
        "\nYour Kubernetes control-plane has initialized successfully!\n\nTo start using your "
        f"cluster, you need to run the following as a regular user:\n\n  mkdir -p $HOME/.kube\n"
        f"  sudo cp -i {ETC}/admin.conf $HOME/.kube/config\n"
    )
    if c.endpoint:
        say(
            "You can now join any number of control-plane nodes running the following command "
            "on each as root:\n"
        )
        say(
            f"  kubeadm join {endpoint} --token {tokens[0]} \\\n\t--discovery-token-ca-cert-hash "
            f"sha256:{ca_hash} \\\n\t--control-plane" + (f" --certificate-key {key}" if key else "") + "\n"
        )
    say("Then you can join any number of worker nodes by running the following on each as root:\n")
    say(f"kubeadm join {endpoint} --token {tokens[0]} \\\n\t--discovery-token-ca-cert-hash sha256:{ca_hash} ")
    return 0


def cluster_info_kubeconfig(server: str, ca_pem: str) -> str:
    return fakelib.yaml_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "", "cluster": {"certificate-authority-data": fakelib.b64(ca_pem), "server": server}}
            ],
            "contexts": None,
            "current-context": "",
            "preferences": {},
            "users": None,
        }
    )


def mark_control_plane(client: fakelib.KubeClient, reg: NodeReg, timeout: float) -> None:
    node = reg.name

    def registered() -> bool:
        try:
            client.request("GET", f"/api/v1/nodes/{node}")
            return True
        except fakelib.FakeError:
            return False

    wait_for("mark-control-plane", registered, timeout)
    taints = (
        reg.taints
        if reg.taints is not None
        else [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    )
    say(
        f"[mark-control-plane] Marking the node {node} as control-plane by adding the labels: "
        "[node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-"
        "balancers]"
    )
    client.request(
        "PATCH",
        f"/api/v1/nodes/{node}",
        {
            "metadata": {
                "labels": {
                    "node-role.kubernetes.io/control-plane": "",
                    "node.kubernetes.io/exclude-from-external-load-balancers": "",
                }
            },
            "spec": {"taints": taints},
        },
        content_type="application/merge-patch+json",
    )
    if taints:
        say(
            f"[mark-control-plane] Marking the node {node} as control-plane by adding the taints "
            f"[{' '.join(t['key'] + ':' + t['effect'] for t in taints)}]"
        )


def addons(client: fakelib.KubeClient, c: Cluster, skip: set[str]) -> None:
    img = images(c.version, c.repo)
    if not ({"addon/coredns", "addon/all", "addon"} & skip) and not c.dns_disabled:
        ensure(
            client,
            "/apis/apps/v1/namespaces/kube-system/deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "coredns",
                    "namespace": "kube-system",
                    "labels": {"k8s-app": "kube-dns"},
                },
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    "template": {
                        "metadata": {"labels": {"k8s-app": "kube-dns"}},
                        "spec": {"containers": [{"name": "coredns", "image": img["coredns"]}]},
                    },
                },
            },
        )
        ensure(
            client,
            "/api/v1/namespaces/kube-system/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kube-dns", "namespace": "kube-system"},
                "spec": {"clusterIP": c.dns_ip, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
            },
        )
        say("[addons] Applied essential addon: CoreDNS")
    if not ({"addon/kube-proxy", "addon/all", "addon"} & skip) and not c.proxy_disabled:
        ensure(
            client,
            "/apis/apps/v1/namespaces/kube-system/daemonsets",
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {
                    "name": "kube-proxy",
                    "namespace": "kube-system",
                    "labels": {"k8s-app": "kube-proxy"},
                },
                "spec": {
                    "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                    "template": {
                        "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                        # kubernetes/kubernetes cmd/kubeadm/app/phases/addons/proxy/manifests.go
                        # (KubeProxyDaemonSet19): host network, every taint tolerated, linux nodes
                        "spec": {
                            "containers": [{"name": "kube-proxy", "image": img["kube-proxy"]}],
                            "hostNetwork": True,
                            "tolerations": [
                                {"key": "CriticalAddonsOnly", "operator": "Exists"},
                                {"operator": "Exists"},
                            ],
                            "nodeSelector": {"kubernetes.io/os": "linux"},
                        },
                    },
                },
            },
        )
        say("[addons] Applied essential addon: kube-proxy")


def discover(endpoint: str, token: str, hashes: list[str], unsafe: bool, timeout: float) -> tuple[str, str]:
    """Token discovery: cluster-info over insecure TLS, JWS check, CA pinning; → (server, CA)."""
    m = TOKEN_RE.match(token)
    if not m:
        raise Fail(
            f'the bootstrap token "{token}" was not of the form '
            r'"\A([a-z0-9]{6})\.([a-z0-9]{16})\z"'
        )
    token_id, token_secret = m.groups()
    if not hashes and not unsafe:
        raise Fail(
            'discovery.bootstrapToken: Invalid value: "": using token-based discovery '
            "without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in "
            "your kubeadm config file or pass --discovery-token-unsafe-skip-ca-"
            "verification flag to continue"
        )
    url = f"https://{endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info"
    insecure = fakelib.client_ssl_context(insecure=True)
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            status, body, _ = fakelib.http_request(url, context=insecure, timeout=10)
            if status == 200:
                data = json.loads(body).get("data") or {}
                sig = data.get(f"jws-kubeconfig-{token_id}")
                if sig is None:
                    last = (
                        f"could not find a JWS signature in the cluster-info ConfigMap for "
                        f'token ID "{token_id}"'
                    )
                elif not hmac.compare_digest(
                    sig, fake_components.jws_detached(data.get("kubeconfig", ""), token_id, token_secret)
                ):
                    last = (
                        "failed to verify JWS signature of received cluster info object, "
                        "can't trust this API Server"
                    )
                else:
                    break
            else:
                last = f"cluster-info: HTTP {status}"
        except (OSError, urllib.error.URLError) as exc:
            last = f'Get "{url}": {exc}'
        say(f"[discovery] Failed to request cluster-info, will try again: {last}")
        if time.monotonic() > deadline:
            raise Fail(f"couldn't validate the identity of the API Server: {last}")
        time.sleep(2)
    kc = fakelib.yaml_load(data["kubeconfig"])
    cluster = kc["clusters"][0]["cluster"]
    ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
    if hashes and not unsafe:
        got = "sha256:" + fakelib.spki_sha256(fakelib.pem_certs(ca_pem)[0])
        want = [h if h.startswith("sha256:") else f"sha256:{h}" for h in hashes]
        if got not in want:
            raise Fail(
                f"cluster CA found in cluster-info ConfigMap is invalid: none of the "
                f'public keys "{got}" are pinned'
            )
    secure = fakelib.client_ssl_context(ca_pem=ca_pem)
    secure.check_hostname = False
    try:
        fakelib.http_request(url, context=secure, timeout=10)
    except (OSError, urllib.error.URLError) as exc:
        raise Fail(
            f"the API Server at {endpoint} does not present a certificate of the discovered CA: {exc}"
        ) from exc
    say(
        "[discovery] Cluster info signature and contents are valid and TLS certificate "
        'validates against pinned roots, will use API Server "' + endpoint + '"'
    )
    return cluster["server"], ca_pem


def cmd_join(args: fakelib.ParsedArgs, version: str) -> int:
    check_mixed(args, version)
    cfg = load_config(args.get("config"), version) if args.get("config") else Config()
    jc = cfg.get("JoinConfiguration")
    if args.get("config") and not jc:
        raise Fail(f"no JoinConfiguration found in {args.get('config')}")
    disc = (jc.get("discovery") or {}).get("bootstrapToken") or {}
    if args.get("config"):
        endpoint = str(disc.get("apiServerEndpoint") or "")
        token = str(disc.get("token") or (jc.get("discovery") or {}).get("tlsBootstrapToken") or "")
        hashes = [str(h) for h in disc.get("caCertHashes") or []]
        unsafe = bool(disc.get("unsafeSkipCAVerification"))
        cp = jc.get("controlPlane")
        control_plane = cp is not None
        cert_key = str((cp or {}).get("certificateKey") or "")
        lae = (cp or {}).get("localAPIEndpoint") or {}
    else:
        if len(args.positional) != 1:
            raise Fail(
                "[discovery] Please provide exactly one API server endpoint (e.g. 192.168.1.1:6443)"
                if not args.positional
                else f"accepts at most 1 arg(s), received {len(args.positional)}"
            )
        endpoint = args.positional[0]
        token = args.get("discovery-token") or args.get("token") or ""
        hashes = args.get("discovery-token-ca-cert-hash") or []
        unsafe = args.get("discovery-token-unsafe-skip-ca-verification")
        control_plane = args.get("control-plane")
        cert_key = args.get("certificate-key") or ""
        lae = {}
    if not endpoint or not token:
        raise Fail('discovery: Invalid value: "": bootstrapToken or file must be set')
    reg = node_reg_from(
        jc.get("nodeRegistration") or {}, cfg.version_of("JoinConfiguration"), args.get("node-name") or ""
    )
    if args.get("cri-socket"):
        reg.cri_socket = args.get("cri-socket")
    advertise = str(
        lae.get("advertiseAddress") or args.get("apiserver-advertise-address") or fakelib.default_ip()
    )
    port = int(lae.get("bindPort") or args.get("apiserver-bind-port") or 6443)
    ignored = [*reg.ignore, *(args.get("ignore-preflight-errors") or [])]
    say("[preflight] Running pre-flight checks")
    checks = [root_check(), file_check(f"{ETC}/kubelet.conf"), file_check(f"{ETC}/bootstrap-kubelet.conf")]
    if not control_plane:
        checks.append(file_check(f"{ETC}/pki/ca.crt"))
    else:
        checks.append((f"Port-{port}", port_check(advertise, port)))
    preflight(checks, ignored)
    timeout = timeout_of(
        cfg, "JoinConfiguration", "discovery", (jc.get("discovery") or {}).get("timeout"), "5m"
    )
    server, ca_pem = discover(endpoint, token, hashes, unsafe, timeout)
    boot = fakelib.KubeClient(fakelib.KubeCreds(server=server, ca_pem=ca_pem, token=token))
    boot.ctx.check_hostname = False
    say("[preflight] Reading configuration from the cluster...")
    kcm = boot.request("GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    cl_doc = fakelib.yaml_load(kcm["data"]["ClusterConfiguration"])
    c = cluster_from(cl_doc, "", str(cl_doc.get("apiVersion", "v1beta3")).rsplit("/", 1)[-1], version)
    try:
        existing = boot.request("GET", f"/api/v1/nodes/{reg.name}")
        ready = any(
            x.get("type") == "Ready" and x.get("status") == "True"
            for x in existing.get("status", {}).get("conditions", [])
        )
        if ready:
            raise Fail(
                f'a Node with name "{reg.name}" and status "Ready" already exists in the '
                "cluster. You must delete the existing Node or change the name of this "
                "new joining Node"
            )
    except fakelib.HTTPStatusError as exc:
        if exc.status != 404:
            raise
    pki = Pki(c.cert_dir, c)
    if control_plane:
        join_control_plane_certs(c, pki, boot, cert_key, reg, advertise, port)
    else:
        os.makedirs(pki.dir, exist_ok=True)
        fakelib.write_file(pki.p("ca.crt"), ca_pem, 0o644)
    boot_kc = fakelib.kubeconfig(
        server,
        ca_pem,
        token=token,
        cluster=c.name,
        user="tls-bootstrap-token-user",
        context=f"tls-bootstrap-token-user@{c.name}",
    )
    fakelib.write_file(hp(f"{ETC}/bootstrap-kubelet.conf"), boot_kc, 0o600)
    kcfg_cm = boot.request("GET", "/api/v1/namespaces/kube-system/configmaps/kubelet-config")
    kcfg = fakelib.yaml_load(kcfg_cm["data"]["kubelet"])
    write_kubelet_files(kcfg, reg, c)
    start_kubelet()
    say("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
    tls_timeout = timeout_of(cfg, "JoinConfiguration", "tlsBootstrap", None, "5m")
    wait_for("kubelet-start", lambda: os.path.exists(hp(f"{ETC}/kubelet.conf")), tls_timeout)
    with contextlib.suppress(FileNotFoundError):
        os.remove(hp(f"{ETC}/bootstrap-kubelet.conf"))
    if control_plane:
        if not c.external_etcd:
            join_etcd_member(c, reg, advertise)
        local = f"https://{advertise}:{port}"
        wait_for("control-plane-join", lambda: api_healthy(local, f"{ETC}/admin.conf"), tls_timeout)
        admin = admin_client(f"{ETC}/admin.conf")
        admin.servers = [local, *admin.servers]
        mark_control_plane(admin, reg, tls_timeout)
        say("\nThis node has joined the cluster and a new control plane instance was created")
    else:
        say(
            "\nThis node has joined the cluster:\n* Certificate signing request was sent to "
            "apiserver and a response was received.\n* The Kubelet was informed of the new "
            "secure connection details."
        )
    return 0


def join_control_plane_certs(
    c: Cluster, pki: Pki, boot: fakelib.KubeClient, cert_key: str, reg: NodeReg, advertise: str, port: int
) -> None:
    if not c.endpoint:
        raise Fail(
            "error execution phase preflight: \nOne or more conditions for hosting a new "
            "control plane instance is not satisfied.\n\nunable to add a new control "
            "plane instance to a cluster that doesn't have a stable controlPlaneEndpoint "
            "address\n\nPlease ensure that:\n* The cluster has a stable "
            "controlPlaneEndpoint address."
        )
    if cert_key:
        download_certs(boot, pki, cert_key)
    needed = [r for r in Pki.SHARED if not (c.external_etcd and r.startswith("etcd/"))]
    missing = [r for r in needed if not os.path.exists(pki.p(r))]
    if missing:
        raise Fail(
            "error execution phase preflight: \nOne or more conditions for hosting a new "
            "control plane instance is not satisfied.\n\n["
            + ", ".join(
                f"failure loading {r}: open {c.cert_dir}/{r}: no such file or directory" for r in missing
            )
            + "]\n\nPlease ensure that:\n* The cluster has a stable "
            "controlPlaneEndpoint address.\n* The certificates that must be shared among "
            "control plane instances are provided."
        )
    pki.all_certs(reg.name, advertise)
    server = f"https://{endpoint_of(c, advertise, port)}"
    local = f"https://{advertise}:{port}"
    write_kubeconfig_file(f"{ETC}/admin.conf", server, pki, "kubernetes-admin", pki.admin_orgs(), c.name)
    write_kubeconfig_file(
        f"{ETC}/controller-manager.conf", local, pki, "system:kube-controller-manager", (), c.name
    )
    write_kubeconfig_file(f"{ETC}/scheduler.conf", local, pki, "system:kube-scheduler", (), c.name)
    if c.external_etcd:
        etcd_servers = ",".join(c.external_etcd["endpoints"])
    else:
        etcd_servers = c.api_args.get("etcd-servers", "https://127.0.0.1:2379")
    control_plane_manifests(c, advertise, port, etcd_servers)


def join_etcd_member(c: Cluster, reg: NodeReg, advertise: str) -> None:
    """kubeadm's control-plane-join phase, etcd part: add this member, write its static pod.

    Like the real kubeadm, this runs after kubelet-start: adding a voting member costs the cluster its
    quorum until the new member runs, so nothing may need the API in between.
    """
    admin = admin_client(f"{ETC}/admin.conf")
    pods = admin.request("GET", "/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd")["items"]
    urls = [
        p["metadata"].get("annotations", {}).get("kubeadm.kubernetes.io/etcd.advertise-client-urls")
        for p in pods
    ]
    urls = [u for u in urls if u]
    if not urls:
        raise Fail(
            "etcd cluster is not healthy: no etcd static pods found in kube-system "
            "(is the first control plane's kubelet running?)"
        )
    etcd = etcd_admin(c, urls[0])
    etcd.endpoints = urls
    # EtcdLearnerMode (beta and on by default since v1.29): join as a learner, promote once in sync
    # kubeadm retries the add with backoff: etcd refuses it ("unhealthy cluster") until every member
    # has been connected for a few seconds, e.g. right after the previous control plane joined
    deadline = time.monotonic() + 60
    while True:
        try:
            added = etcd.member_add([f"https://{advertise}:2380"], learner=True)
            break
        except fakelib.FakeError as exc:
            if "unhealthy cluster" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(1)
    members = added.get("members", [])
    initial = ",".join(f"{m.get('name') or reg.name}={m['peerURLs'][0]}" for m in members)
    say(f"[etcd] Announced new etcd member joining to the existing etcd cluster: {initial}")
    etcd_manifest(c, reg.name, advertise, initial, "existing")
    member_id = str(added["member"]["ID"])

    def promoted() -> bool:
        try:
            etcd.member_promote(member_id)
        except fakelib.FakeError:
            return False
        return True

    say("[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s")
    wait_for("etcd-join", promoted, 40)


def cmd_reset(args: fakelib.ParsedArgs, version: str) -> int:
    check_mixed(args, version)
    if not args.get("force"):
        sys.stdout.write("[reset] Are you sure you want to proceed? [y/N]: ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Fail("aborted reset operation")
    cert_dir = args.get("cert-dir")
    etcd_yaml = hp(f"{MANIFESTS}/etcd.yaml")
    if os.path.exists(etcd_yaml):
        pod = fakelib.yaml_load(fakelib.read_text(etcd_yaml))
        cmd = pod["spec"]["containers"][0]["command"]
        opts = dict(a[2:].split("=", 1) for a in cmd[1:] if a.startswith("--") and "=" in a)
        name = opts.get("name", "")
        url = opts.get("advertise-client-urls", "").split(",")[0]
        try:
            cli = fakelib.EtcdClient(
                [url],
                hp(f"{cert_dir}/etcd/ca.crt"),
                hp(f"{cert_dir}/apiserver-etcd-client.crt"),
                hp(f"{cert_dir}/apiserver-etcd-client.key"),
            )
            members = cli.member_list()
            me = [m for m in members if m.get("name") == name]
            if me and len(members) > 1:
                cli.member_remove(me[0]["ID"])
                say(f"[reset] Removed etcd member {name}")
            elif me:
                say("[reset] Skipping removal of the last etcd member")
        except fakelib.FakeError as exc:
            say(
                f"[reset] WARNING: failed to remove etcd member: {exc}\n"
                "Please manually remove this etcd member using etcdctl"
            )
        data = opts.get("data-dir", "/var/lib/etcd")
        # like kubeadm's CleanDir: the contents go, the directory stays
        real_data = hp(data)
        for entry in os.listdir(real_data) if os.path.isdir(real_data) else []:
            path = os.path.join(real_data, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        say(f"[reset] Deleted contents of the etcd data directory: {data}")
    stop_kubelet()
    dirs = [MANIFESTS, KUBELET_DIR, cert_dir]
    say(f"[reset] Deleting contents of directories: [{' '.join(dirs)}]")
    for d in dirs:
        real = hp(d)
        if os.path.isdir(real):
            for entry in os.listdir(real):
                path = os.path.join(real, entry)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)
    files = [
        f"{ETC}/{n}"
        for n in (
            "admin.conf",
            "super-admin.conf",
            "kubelet.conf",
            "bootstrap-kubelet.conf",
            "controller-manager.conf",
            "scheduler.conf",
        )
    ]
    say(f"[reset] Deleting files: [{' '.join(files)}]")
    for f in files:
        with contextlib.suppress(FileNotFoundError):
            os.remove(hp(f))
    say(
        "\nThe reset process does not clean CNI configuration. To do so, you must remove "
        "/etc/cni/net.d\n\nThe reset process does not reset or clean up iptables rules or IPVS "
        "tables.\n\nThe reset process does not clean your kubeconfig files and you must remove "
        "them manually.\nPlease, check the contents of the $HOME/.kube/config file."
    )
    return 0


def renew_all(cert_dir: str, days: int) -> list[str]:
    """Renew every leaf certificate and the kubeconfigs' client certs (kubeadm certs renew all)."""
    pki = hp(cert_dir)
    done = []
    pairs = [
        ("apiserver", "ca"),
        ("apiserver-kubelet-client", "ca"),
        ("front-proxy-client", "front-proxy-ca"),
        ("apiserver-etcd-client", "etcd/ca"),
        ("etcd/server", "etcd/ca"),
        ("etcd/peer", "etcd/ca"),
        ("etcd/healthcheck-client", "etcd/ca"),
    ]
    for leaf, ca in pairs:
        crt = os.path.join(pki, leaf + ".crt")
        if os.path.exists(crt) and os.path.exists(os.path.join(pki, ca + ".key")):
            renew_cert(crt, os.path.join(pki, ca + ".crt"), os.path.join(pki, ca + ".key"), days)
            done.append(leaf.replace("/", "-"))
    for conf in ("admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"):
        path = hp(f"{ETC}/{conf}")
        if not os.path.exists(path):
            continue
        creds = fakelib.load_kubeconfig(path)
        if not creds.client_cert_pem():
            continue
        doc = fakelib.yaml_load(fakelib.read_text(path))
        with fakelib_tmpdir() as tmp:
            crt = os.path.join(tmp, "c.crt")
            fakelib.write_file(crt, creds.client_cert_pem(), 0o600)
            fakelib.write_file(os.path.join(tmp, "c.key"), creds.client_key_pem(), 0o600)
            renew_cert(crt, os.path.join(pki, "ca.crt"), os.path.join(pki, "ca.key"), days)
            doc["users"][0]["user"]["client-certificate-data"] = fakelib.b64(fakelib.read_bytes(crt))
        fakelib.write_file(path, fakelib.yaml_dump(doc), 0o600)
        done.append(conf)
    return done


def set_manifest_version(name: str, version: str) -> bool:
    path = hp(f"{MANIFESTS}/{name}.yaml")
    if not os.path.exists(path):
        return False
    pod = fakelib.yaml_load(fakelib.read_text(path))
    c = pod["spec"]["containers"][0]
    c["image"] = c["image"].rsplit(":", 1)[0] + ":" + version
    write_manifest(name, pod)
    return True


def cmd_upgrade_apply(args: fakelib.ParsedArgs, version: str) -> int:
    check_mixed(args, version)
    if not args.positional and not args.get("config"):
        raise Fail("missing one or more required arguments. Required arguments: [version]")
    target = args.positional[0] if args.positional else ""
    cfg = load_config(args.get("config"), version) if args.get("config") else Config()
    upc = cfg.get("UpgradeConfiguration").get("apply") or {}
    target = target or str(upc.get("kubernetesVersion") or "")
    if not target.startswith("v"):
        target = "v" + target
    renewal = args.get("certificate-renewal")
    if "certificateRenewal" in upc:
        renewal = bool(upc["certificateRenewal"])
    client = admin_client(args.get("kubeconfig"))
    say("[upgrade] Reading configuration from the cluster...")
    kcm = client.request("GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    cl_doc = fakelib.yaml_load(kcm["data"]["ClusterConfiguration"])
    current = str(cl_doc.get("kubernetesVersion"))
    t, k, cur = parse_version(target), parse_version(version), parse_version(current)
    if t > k:
        raise Fail(
            f'Specified version to upgrade to "{target}" is higher than the kubeadm '
            f'version "{version}". Upgrade kubeadm first using the tool you used to '
            f"install kubeadm"
        )
    if t[1] > cur[1] + 1:
        raise Fail(
            f'Specified version to upgrade to "{target}" is too high; kubeadm can upgrade '
            f"only 1 minor version at a time"
        )
    if t < cur:
        raise Fail(
            f'Specified version to upgrade to "{target}" is equal to or lower than the '
            f'cluster version "{current}". Downgrades are not supported yet'
        )
    if not (args.get("yes") or args.get("force") or args.get("dry-run")):
        sys.stdout.write(
            f"[upgrade/confirm] Are you sure you want to proceed with the upgrade to {target}? [y/N]: "
        )
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise Fail("won't proceed; the user didn't answer (Y|y) in order to continue")
    if args.get("dry-run"):
        say(f"[dryrun] Would upgrade the control plane to {target}")
        return 0
    c = cluster_from(cl_doc, "", str(cl_doc.get("apiVersion", "v1beta3")).rsplit("/", 1)[-1], version)
    upgrade_local_node(c, target, renewal)
    cl_doc["kubernetesVersion"] = target
    kcm["data"]["ClusterConfiguration"] = fakelib.yaml_dump(cl_doc)
    client.request("PUT", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", kcm)
    wait_new_version(client, target)
    say(f'[upgrade/successful] SUCCESS! Your cluster was upgraded to "{target}". Enjoy!')
    return 0


def wait_new_version(client: fakelib.KubeClient, target: str) -> None:
    def upgraded() -> bool:
        try:
            return client.request("GET", "/version").get("gitVersion") == target
        except fakelib.FakeError:
            return False

    wait_for("upgrade/apply", upgraded, 300)


def upgrade_local_node(c: Cluster, target: str, renewal: bool) -> None:
    if renewal:
        renewed = renew_all(c.cert_dir, c.leaf_days)
        say(f"[upgrade/staticpods] Renewing certificates: {', '.join(renewed)}")
    else:
        say("[upgrade/staticpods] Not renewing certificates (--certificate-renewal=false)")
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        if set_manifest_version(name, target):
            say(f'[upgrade/staticpods] Component "{name}" upgraded to {target}')


def cmd_upgrade_node(args: fakelib.ParsedArgs, version: str) -> int:
    check_mixed(args, version)
    kubeconfig = args.get("kubeconfig")
    if not os.path.exists(hp(kubeconfig)):
        kubeconfig = f"{ETC}/kubelet.conf"
    client = fakelib.KubeClient(fakelib.load_kubeconfig(hp(kubeconfig)))
    kcm = client.request("GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    cl_doc = fakelib.yaml_load(kcm["data"]["ClusterConfiguration"])
    target = str(cl_doc.get("kubernetesVersion"))
    if parse_version(target) > parse_version(version):
        raise Fail(
            f'the cluster version "{target}" is higher than the kubeadm version '
            f'"{version}". Upgrade kubeadm first'
        )
    c = cluster_from(cl_doc, "", str(cl_doc.get("apiVersion", "v1beta3")).rsplit("/", 1)[-1], version)
    if os.path.exists(hp(f"{MANIFESTS}/kube-apiserver.yaml")):
        upgrade_local_node(c, target, args.get("certificate-renewal"))
    else:
        say("[upgrade] Skipping phase. Not a control plane node.")
    say("[upgrade] The configuration for this node was successfully updated!")
    say("[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager.")
    return 0


def cmd_upgrade_plan(args: fakelib.ParsedArgs, version: str) -> int:
    client = admin_client(args.get("kubeconfig"))
    kcm = client.request("GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    current = fakelib.yaml_load(kcm["data"]["ClusterConfiguration"]).get("kubernetesVersion")
    say(
        f"[upgrade/versions] Cluster version: {current}\n[upgrade/versions] kubeadm version: "
        f"{version}\n\nYou can now apply the upgrade by executing the following command:\n\n"
        f"\tkubeadm upgrade apply {version}\n"
    )
    return 0


def join_command(kubeconfig: str, token: str, cert_key: str) -> str:
    creds = fakelib.load_kubeconfig(hp(kubeconfig))
    server = creds.server.split("://", 1)[-1]
    ca_hash = fakelib.spki_sha256(fakelib.pem_certs(creds.ca_pem)[0])
    cmd = f"kubeadm join {server} --token {token} --discovery-token-ca-cert-hash sha256:{ca_hash} "
    if cert_key:
        cmd += f"--control-plane --certificate-key {cert_key}"
    return cmd


def bootstrap_tokens(init: dict[str, Any], flag_token: str, flag_ttl: str) -> list[dict[str, Any]]:
    """InitConfiguration.bootstrapTokens with kubeadm's defaults (SetDefaults_BootstrapToken: ttl 24h,
    usages signing+authentication, the default-node-token group; a token generated when none is given);
    without a config the flags make the one token (kubernetes/kubernetes cmd/kubeadm/app/apis/
    bootstraptoken/v1 and cmd/kubeadm/app/cmd/options/token.go)."""
    given = init.get("bootstrapTokens")
    docs = [dict(t) for t in given] if isinstance(given, list) and given else [{}]
    if flag_token:
        docs = [{"token": flag_token, "ttl": flag_ttl}]
    out = []
    for doc in docs:
        ttl = str(doc.get("ttl") or flag_ttl)
        out.append(
            {
                "token": str(doc.get("token") or new_token()),
                "ttl": fakelib.parse_duration(ttl),
                "usages": [str(u) for u in doc.get("usages") or ["signing", "authentication"]],
                "groups": [str(g) for g in doc.get("groups") or [DEFAULT_TOKEN_GROUP]],
                "description": str(doc.get("description") or ""),
            }
        )
    return out


def cmd_token(sub: str, args: fakelib.ParsedArgs, version: str) -> int:
    if sub == "generate":
        say(new_token())
        return 0
    if sub == "create":
        check_mixed(args, version)
    client = admin_client(args.get("kubeconfig"))
    if sub == "create":
        if args.get("config"):
            init = load_config(args.get("config"), version).get("InitConfiguration")
            specs = bootstrap_tokens(init, "", "24h0m0s")
        else:
            token = args.positional[0] if args.positional else new_token()
            specs = [
                {
                    "token": token,
                    "ttl": fakelib.parse_duration(args.get("ttl")),
                    "usages": args.get("usages"),
                    "groups": args.get("groups"),
                    "description": args.get("description") or "",
                }
            ]
        for spec in specs:
            create_token(client, **spec, fail_if_exists=True)
        token = str(specs[0]["token"])
        if args.get("print-join-command"):
            say(join_command(args.get("kubeconfig"), token, args.get("certificate-key") or ""))
        else:
            say(token)
        return 0
    if sub == "list":
        secrets_ = client.request("GET", "/api/v1/namespaces/kube-system/secrets")["items"]
        say(
            "TOKEN                     TTL         EXPIRES                USAGES                   "
            "DESCRIPTION   EXTRA GROUPS"
        )
        for s in secrets_:
            if s.get("type") != "bootstrap.kubernetes.io/token":
                continue
            d = {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}
            usages = ",".join(
                k[len("usage-bootstrap-") :]
                for k, v in d.items()
                if k.startswith("usage-bootstrap-") and v == "true"
            )
            exp = d.get("expiration", "<forever>")
            ttl = "<forever>"
            if "expiration" in d:
                ttl = fake_duration(fakelib.parse_rfc3339(d["expiration"]) - time.time())
            say(
                f"{d.get('token-id')}.{d.get('token-secret')}   {ttl:<10}  {exp:<22} "
                f"{usages:<24} {d.get('description', '<none>')}   "
                f"{d.get('auth-extra-groups', '')}"
            )
        return 0
    if sub == "delete":
        if not args.positional:
            raise Fail(
                "missing subcommand; 'token delete' is missing token of form "
                '"[a-z0-9]{6}" or "[a-z0-9]{6}\\.[a-z0-9]{16}"'
            )
        for t in args.positional:
            tid = t.split(".", 1)[0]
            try:
                client.request("DELETE", f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{tid}")
            except fakelib.HTTPStatusError as exc:
                raise Fail(f'bootstrap token "{tid}" not found') from exc
            say(f'bootstrap token "{tid}" deleted')
        return 0
    raise Fail(f'unknown command "{sub}" for "kubeadm token"')


def fake_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    if s < 730 * 86400:
        return f"{s // 86400}d"
    return f"{s // (365 * 86400)}y"


def cmd_certs(sub: str, args: fakelib.ParsedArgs, version: str) -> int:
    cert_dir = hp(args.get("cert-dir"))
    if sub == "certificate-key":
        say(secrets.token_hex(32))
        return 0
    if sub == "renew":
        what = args.positional[0] if args.positional else ""
        if what != "all":
            raise Fail(f"the fake supports only `kubeadm certs renew all` ({FAKE_MARK}); got {what!r}")
        for name in renew_all(args.get("cert-dir"), 365):
            say(f"certificate {name} renewed")
        say(
            "\nDone renewing certificates. You must restart the kube-apiserver, "
            "kube-controller-manager, kube-scheduler and etcd, so that they can use the new "
            "certificates."
        )
        return 0
    if sub != "check-expiration":
        raise Fail(f'unknown command "{sub}" for "kubeadm certs"')
    rows = []
    kdir = hp(args.get("kubeconfig-dir"))
    for conf in ("admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"):
        path = os.path.join(kdir, conf)
        if os.path.exists(path):
            creds = fakelib.load_kubeconfig(path)
            if creds.client_cert_pem():
                rows.append((conf, creds.client_cert_pem(), "ca"))
    for leaf, ca in (
        ("apiserver", "ca"),
        ("apiserver-etcd-client", "etcd-ca"),
        ("apiserver-kubelet-client", "ca"),
        ("etcd/healthcheck-client", "etcd-ca"),
        ("etcd/peer", "etcd-ca"),
        ("etcd/server", "etcd-ca"),
        ("front-proxy-client", "front-proxy-ca"),
    ):
        path = os.path.join(cert_dir, leaf + ".crt")
        if os.path.exists(path):
            rows.append((leaf.replace("/", "-"), fakelib.read_text(path), ca))
    say(
        "CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE "
        "AUTHORITY   EXTERNALLY MANAGED"
    )
    for name, pem, ca in rows:
        end = fakelib.cert_info(pem).not_after
        say(
            f"{name:<26} {time.strftime('%b %d, %Y %H:%M UTC', time.gmtime(end)):<24} "
            f"{fake_duration(end - time.time()):<15} {ca:<23} no"
        )
    say("\nCERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED")
    for ca in ("ca", "etcd/ca", "front-proxy-ca"):
        path = os.path.join(cert_dir, ca + ".crt")
        if os.path.exists(path):
            end = fakelib.cert_info(fakelib.read_text(path)).not_after
            say(
                f"{ca.replace('/', '-'):<23} {time.strftime('%b %d, %Y %H:%M UTC', time.gmtime(end)):<24} "
                f"{fake_duration(end - time.time()):<15} no"
            )
    return 0


def cmd_version(args: fakelib.ParsedArgs, version: str) -> int:
    major, minor, _ = parse_version(version)
    info = {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": version,
        "gitCommit": FAKE_MARK,
        "gitTreeState": "clean",
        "buildDate": "2024-01-01T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
    out = args.get("output") or ""
    if out == "short":
        say(version)
    elif out == "json":
        say(json.dumps({"clientVersion": info}, indent=2))
    elif out == "yaml":
        say(fakelib.yaml_dump({"clientVersion": info}).rstrip())
    elif out == "":
        say(
            f'kubeadm version: &version.Info{{Major:"{major}", Minor:"{minor}", '
            f'GitVersion:"{version}", GitCommit:"{FAKE_MARK}", GitTreeState:"clean", '
            'BuildDate:"2024-01-01T00:00:00Z", GoVersion:"go1.22.5", Compiler:"gc", '
            'Platform:"linux/amd64"}'
        )
    else:
        raise Fail(f"invalid output format: {out}")
    return 0


def cmd_images(args: fakelib.ParsedArgs, version: str) -> int:
    check_mixed(args, version)
    cfg = load_config(args.get("config"), version) if args.get("config") else Config()
    doc = cfg.get("ClusterConfiguration") or {
        "kubernetesVersion": args.get("kubernetes-version"),
        "imageRepository": args.get("image-repository"),
    }
    c = cluster_from(doc, "", cfg.version_of("ClusterConfiguration"), version)
    for name, image in images(c.version, c.repo).items():
        if name == "kube-proxy" and c.proxy_disabled:
            continue
        say(image)
    return 0


# ---- command line ---------------------------------------------------------------------------

COMMANDS = (
    "init",
    "join",
    "reset",
    "upgrade apply",
    "upgrade node",
    "upgrade plan",
    "token create",
    "token list",
    "token delete",
    "token generate",
    "version",
    "certs check-expiration",
    "certs renew",
    "certs certificate-key",
    "config validate",
    "config images list",
)
GROUPS = {"upgrade", "token", "certs", "config", "config images"}


def split_command(argv: list[str]) -> tuple[str, list[str]]:
    """Find the (sub)command words among the arguments, as cobra does."""
    words: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        candidate = " ".join([*words, a])
        if (
            not a.startswith("-")
            and (candidate in COMMANDS or candidate in GROUPS)
            and " ".join(words) not in COMMANDS
        ):
            words.append(a)
        else:
            rest.append(a)
            if a in ("-v", "--v") and i + 1 < len(argv):
                rest.append(argv[i + 1])
                i += 1
        i += 1
    return " ".join(words), rest


def main(argv: list[str], version: str) -> int:
    """kubeadm entry point; returns the exit code the real kubeadm would."""
    cmd, rest = split_command(argv)
    if cmd in GROUPS or not cmd:
        try:
            args = fakelib.FlagSet(GLOBAL_FLAGS).parse_pflag(rest)
        except fakelib.FlagError as exc:
            sys.stderr.write(f"{exc}\nTo see the stack trace of this error execute with --v=5 or higher\n")
            return 1
        if args.positional:
            where = f"kubeadm {cmd}".strip()
            sys.stderr.write(f'unknown command "{args.positional[0]}" for "{where}"\n')
            return 1
        say(f"kubeadm ({FAKE_MARK}): available commands: {', '.join(COMMANDS)}")
        return 0
    flags = command_flags(cmd, version)
    fs = fakelib.FlagSet([*GLOBAL_FLAGS, *flags])
    try:
        args = fs.parse_pflag(rest)
        if args.get("help"):
            say(f"kubeadm {cmd} ({FAKE_MARK}) flags: " + " ".join("--" + f.name for f in flags))
            return 0
        if cmd == "init":
            return cmd_init(args, version)
        if cmd == "join":
            return cmd_join(args, version)
        if cmd == "reset":
            return cmd_reset(args, version)
        if cmd == "upgrade apply":
            return cmd_upgrade_apply(args, version)
        if cmd == "upgrade node":
            return cmd_upgrade_node(args, version)
        if cmd == "upgrade plan":
            return cmd_upgrade_plan(args, version)
        if cmd.startswith("token "):
            return cmd_token(cmd.split()[1], args, version)
        if cmd.startswith("certs "):
            return cmd_certs(cmd.split()[1], args, version)
        if cmd == "config images list":
            return cmd_images(args, version)
        if cmd == "config validate":
            return cmd_validate(args, version)
        return cmd_version(args, version)
    except fakelib.FlagError as exc:
        sys.stderr.write(f"{exc}\nTo see the stack trace of this error execute with --v=5 or higher\n")
        return 1
    except (fakelib.FakeError, OSError, KeyError, ValueError) as exc:
        sys.stderr.write(f"{exc}\nTo see the stack trace of this error execute with --v=5 or higher\n")
        return 1

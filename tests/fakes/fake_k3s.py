"""k3s CONTRACT FAKE for sealkit's tests (sealkit-contract-fake): never ship this.

Behaves like the real `k3s` binary as far as sealkit can observe: the same subcommands and flag
set (urfave/cli v1 parsing: unknown flags fail with "flag provided but not defined: -x"), the same
config file (/etc/rancher/k3s/config.yaml + config.yaml.d, keys = flag names, unknown keys warned
and skipped), the same environment variables, the same files written (k3s.yaml, server/token,
node-token, TLS under server/tls, /etc/rancher/node/password), pre-placed CA files honoured, the
same join protocol (GET /cacerts, token CA-hash check, basic-auth supervisor endpoints
/v1-k3s/server-bootstrap and /v1-k3s/client-kubelet.crt, node-password secrets), and for
--cluster-init a REAL etcd (Debian's /usr/bin/etcd, TLS + client-cert auth, like k3s' embedded
one) that joining servers become members of. Instead of kube-apiserver it serves `fakeapi`.
Every leaf it signs (server/tls, etcd, supervisor-issued agent certs) lives for
$CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS days (default 365), as dynamiclistener's leaves do.

`k3s certificate rotate [--data-dir|-d DIR] [--config|-c FILE] [--service|-s NAME[,NAME]...]
[--debug]` works like the real one (docs.k3s.io/cli/certificate; data-dir also from config.yaml):
services admin, api-server, controller-manager, scheduler, k3s-controller, k3s-server,
cloud-controller, etcd, auth-proxy, kubelet, kube-proxy (any other name → exit 1); none given →
all of them on a server (`<data-dir>/server` exists), kubelet/kube-proxy/k3s-controller on an
agent. It copies server/tls to server/tls-<unix time> and the selected agent files into it by base
name (agent-only node: into agent/tls-<unix time>), then deletes the selected services' leaf
certs+keys (client-*, serving-kube-apiserver.*, etcd/{client,server-client,peer-server-client}.*,
dynamic-cert.json for api-server/k3s-server,
agent/{client-kubelet,serving-kubelet,client-kube-proxy,client-k3s-controller}.*) and NEVER a CA
(*-ca.*, etcd/*-ca.*), service.key or request-header-ca; the next `server`/`agent` start issues
the missing leaves again (new keys, current $CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS, same CAs).
Stricter than real k3s (whose docs only say "stop K3s first"): it refuses (exit 1) while a `k3s
server|agent` of the same data dir runs. The fake detects that by the one file it writes that real
k3s does not: `<data-dir>/.fake-k3s.lock`, flock'ed shared by every running server/agent (held
until the process exits, even when killed) and exclusively by `certificate rotate`.

Air-gap archives in <data-dir>/agent/images are logged at agent start as the images k3s would import
(not imported: the test images' archives are stand-ins).

Workloads run as in real k3s, which embeds them: a server runs the controller-manager and scheduler
(fake_controllers, fake_scheduler) under their kube-system leader Leases; every node (a server too,
unless --disable-agent) runs its own containerd (the host's binary, k3s' config, root, socket and
registry mirrors; see "the node" below), the kubelet's pod workers through it (fake_pods) with the
logs port, and kube-proxy's NodePorts (fake_proxy). Deviations: pods are stopped when k3s stops
(real k3s leaves them to their shims; the fake's `ctr run` clients would otherwise stay behind), the
CRI plugin is off (the fake drives containerd through `ctr`), and an overlay-backed containerd root
falls back to the native snapshotter with a warning where real k3s exits.
Side effect modelled: every server/agent start leaves one pod shim stand-in (program
<data-dir>/data/<hash>/bin/containerd-shim-runc-v2, own session) that survives `systemctl stop` under
KillMode=process, as real shims do; only k3s-killall.sh-style cleanup removes it (not under
$SEALKIT_FAKE_ROOT).
Not faked: flannel/CNI (pods share the node's network namespace), ClusterIPs. `k3s crictl|ctr|etcd-snapshot|
secrets-encrypt|check-config` and `k3s certificate check|rotate-ca` exit 1 saying so.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import glob
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fake_controllers, fake_cri, fake_pods, fake_proxy, fakeapi, fakelib
except ImportError:
    import fake_controllers  # type: ignore[no-redef]
    import fake_cri  # type: ignore[no-redef]
    import fake_pods  # type: ignore[no-redef]
    import fake_proxy  # type: ignore[no-redef]
    import fakeapi  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

F = fakelib.Flag
FAKE_MARK = fakelib.FAKE_MARK
PROGRAM = "k3s"

# ---- the real flag tables (k3s pkg/cli/cmds/server.go, agent.go, log.go, config.go) ----------

_LOG_FLAGS = [
    F("config", aliases=("c",), default="/etc/rancher/k3s/config.yaml", env=("K3S_CONFIG_FILE",)),
    F("debug", "bool", env=("K3S_DEBUG",)),
    F("v", "int", 0),
    F("vmodule"),
    F("log", aliases=("l",)),
    F("alsologtostderr", "bool"),
]

_AGENT_SHARED = [
    F("node-name", env=("K3S_NODE_NAME",)),
    F("with-node-id", "bool"),
    F("node-label", "slice"),
    F("node-taint", "slice"),
    F("image-credential-provider-bin-dir", default="/var/lib/rancher/credentialprovider/bin"),
    F(
        "image-credential-provider-config",
        default="/var/lib/rancher/credentialprovider/config.yaml",
    ),
    F("selinux", "bool", env=("K3S_SELINUX",)),
    F("lb-server-port", "int", 6444, env=("K3S_LB_SERVER_PORT",)),
    F("protect-kernel-defaults", "bool"),
    F("docker", "bool"),
    F("container-runtime-endpoint"),
    F("default-runtime"),
    F("image-service-endpoint"),
    F("disable-default-registry-endpoint", "bool"),
    F("pause-image", default="rancher/mirrored-pause:3.6"),
    F("snapshotter", default="overlayfs"),
    F("private-registry", default="/etc/rancher/k3s/registries.yaml"),
    F("airgap-extra-registry", "slice", hidden=True),
    F("node-ip", "slice", aliases=("i",), split_commas=True),
    F("node-external-ip", "slice", split_commas=True),
    F("node-internal-dns", "slice", split_commas=True),
    F("node-external-dns", "slice", split_commas=True),
    F("nonroot-devices", "bool"),
    F("resolv-conf", env=("K3S_RESOLV_CONF",)),
    F("flannel-iface"),
    F("flannel-conf"),
    F("flannel-cni-conf"),
    F("vpn-auth", env=("K3S_VPN_AUTH",)),
    F("vpn-auth-file", env=("K3S_VPN_AUTH_FILE",)),
    F("kubelet-arg", "slice"),
    F("kube-proxy-arg", "slice"),
    F("rootless", "bool"),
    F("prefer-bundled-bin", "bool"),
]

SERVER_FLAGS = [
    *_LOG_FLAGS,
    F("bind-address"),
    F("https-listen-port", "int", 6443),
    F("advertise-address"),
    F("advertise-port", "int", 0),
    F("tls-san", "slice", split_commas=True),
    F("tls-san-security", "bool", True),
    F("data-dir", aliases=("d",)),
    F("cluster-cidr", "slice", split_commas=True),
    F("service-cidr", "slice", split_commas=True),
    F("service-node-port-range", default="30000-32767"),
    F("cluster-dns", "slice", split_commas=True),
    F("cluster-domain", default="cluster.local"),
    F("flannel-backend", default="vxlan"),
    F("flannel-ipv6-masq", "bool"),
    F("flannel-external-ip", "bool"),
    F("egress-selector-mode", default="agent"),
    F("servicelb-namespace", default="kube-system"),
    F("write-kubeconfig", aliases=("o",), env=("K3S_KUBECONFIG_OUTPUT",)),
    F("write-kubeconfig-mode", env=("K3S_KUBECONFIG_MODE",)),
    F("write-kubeconfig-group", env=("K3S_KUBECONFIG_GROUP",)),
    F("helm-job-image"),
    F("token", aliases=("t",), env=("K3S_TOKEN",)),
    F("token-file", env=("K3S_TOKEN_FILE",)),
    F("agent-token", env=("K3S_AGENT_TOKEN",)),
    F("agent-token-file", env=("K3S_AGENT_TOKEN_FILE",)),
    F("server", aliases=("s",), env=("K3S_URL",)),
    F("cluster-init", "bool", env=("K3S_CLUSTER_INIT",)),
    F("cluster-reset", "bool", env=("K3S_CLUSTER_RESET",)),
    F("cluster-reset-restore-path"),
    F("kube-apiserver-arg", "slice"),
    F("etcd-arg", "slice"),
    F("kube-controller-manager-arg", "slice"),
    F("kube-scheduler-arg", "slice"),
    F("kube-cloud-controller-manager-arg", "slice"),
    F("datastore-endpoint", env=("K3S_DATASTORE_ENDPOINT",)),
    F("datastore-cafile", env=("K3S_DATASTORE_CAFILE",)),
    F("datastore-certfile", env=("K3S_DATASTORE_CERTFILE",)),
    F("datastore-keyfile", env=("K3S_DATASTORE_KEYFILE",)),
    F("etcd-expose-metrics", "bool"),
    F("etcd-disable-snapshots", "bool"),
    F("etcd-snapshot-name", default="etcd-snapshot"),
    F("etcd-snapshot-schedule-cron", default="0 */12 * * *"),
    F("etcd-snapshot-retention", "int", 5),
    F("etcd-snapshot-dir"),
    F("etcd-snapshot-compress", "bool"),
    F("etcd-s3", "bool"),
    F("etcd-s3-endpoint", default="s3.amazonaws.com"),
    F("etcd-s3-endpoint-ca"),
    F("etcd-s3-skip-ssl-verify", "bool"),
    F("etcd-s3-access-key", env=("AWS_ACCESS_KEY_ID",)),
    F("etcd-s3-secret-key", env=("AWS_SECRET_ACCESS_KEY",)),
    F("etcd-s3-bucket"),
    F("etcd-s3-region", default="us-east-1"),
    F("etcd-s3-folder"),
    F("etcd-s3-insecure", "bool"),
    F("etcd-s3-timeout", "duration", "5m0s"),
    F("default-local-storage-path"),
    F("disable", "slice", split_commas=True),
    F("disable-scheduler", "bool"),
    F("disable-cloud-controller", "bool"),
    F("disable-kube-proxy", "bool"),
    F("disable-network-policy", "bool"),
    F("disable-helm-controller", "bool"),
    F("disable-apiserver", "bool", hidden=True),
    F("disable-controller-manager", "bool", hidden=True),
    F("disable-etcd", "bool", hidden=True),
    F("embedded-registry", "bool"),
    F("supervisor-metrics", "bool"),
    F("supervisor-port", "int", 0, env=("K3S_SUPERVISOR_PORT",), hidden=True),
    F("apiserver-port", "int", 0, env=("K3S_APISERVER_PORT",), hidden=True),
    F("apiserver-bind-address", env=("K3S_APISERVER_BIND_ADDRESS",), hidden=True),
    F("kine-tls", "bool"),
    F("etcd-snapshot-reconcile-interval", "duration", "10m0s"),
    F("etcd-s3-retention", "int", 5),
    F("etcd-s3-session-token", env=("AWS_SESSION_TOKEN",)),
    F("etcd-s3-config-secret"),
    F("etcd-s3-proxy"),
    F("etcd-s3-bucket-lookup-type"),
    F("secrets-encryption-provider"),
    *_AGENT_SHARED,
    F("system-default-registry", env=("K3S_SYSTEM_DEFAULT_REGISTRY",)),
    F("secrets-encryption", "bool"),
    F("enable-pprof", "bool"),
    F("disable-agent", "bool", hidden=True),
    F("kube-controller-arg", "slice", hidden=True),
    F("kube-cloud-controller-arg", "slice", hidden=True),
]

AGENT_FLAGS = [
    *_LOG_FLAGS,
    F("token", aliases=("t",), env=("K3S_TOKEN",)),
    F("token-file", env=("K3S_TOKEN_FILE",)),
    F("server", aliases=("s",), env=("K3S_URL",)),
    F("data-dir", aliases=("d",), default="/var/lib/rancher/k3s"),
    *_AGENT_SHARED,
    # agent.go NewAgentCommand: the agent's own flags (disable-selinux, no-flannel and cluster-secret are
    # not among them at any supported line: tests/fakes/upstream/k3s/v1.3*.yaml)
    F("bind-address"),
    F("disable-apiserver-lb", "bool", env=("K3S_DISABLE_APISERVER_LB",)),
    F("enable-pprof", "bool"),
]

# k3s pkg/cli/cmds/certs.go: `certificate rotate` (ServicesFlag is a comma-splitting slice)
CERT_ROTATE_FLAGS = [
    F("debug", "bool", env=("K3S_DEBUG",)),
    F("config", aliases=("c",), default="/etc/rancher/k3s/config.yaml", env=("K3S_CONFIG_FILE",)),
    F("log", aliases=("l",)),
    F("alsologtostderr", "bool"),
    F("data-dir", aliases=("d",)),
    F("service", "slice", aliases=("s",), split_commas=True),
]

DISABLE_ITEMS = ("coredns", "servicelb", "traefik", "local-storage", "metrics-server", "runtimes")
SUBCOMMANDS = (
    "server",
    "agent",
    "kubectl",
    "crictl",
    "ctr",
    "check-config",
    "token",
    "etcd-snapshot",
    "secrets-encrypt",
    "certificate",
    "completion",
    "help",
    "h",
)

USAGE = f"""NAME:
   k3s - Kubernetes, but small and simple ({FAKE_MARK})

USAGE:
   k3s [global options] command [command options] [arguments...]

COMMANDS:
   server           Run management server
   agent            Run node agent
   kubectl          Run kubectl
   token            Manage bootstrap tokens
   certificate      Manage K3s certificates

GLOBAL OPTIONS:
   --debug        (logging) Turn on debug logs [$K3S_DEBUG]
   --help, -h     show help
   --version, -v  print the version
"""


def log(level: str, msg: str) -> None:
    fakelib.logrus(level, msg)


class Fatal(fakelib.FakeError):
    """k3s' `level=fatal` exit."""


CERT_DAYS_ENV = "CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS"


def leaf_days() -> int:
    """Days until NotAfter of every leaf k3s signs (rancher/dynamiclistener cert.NewSignedCert).

    The server process' environment decides (the unit loads /etc/default/k3s), also for the agent
    certs its supervisor signs. Unset/empty → 365. Stricter than real k3s (which logs and falls
    back): anything but a positive whole number is fatal (openssl cannot sign a 0-day leaf).
    """
    raw = os.environ.get(CERT_DAYS_ENV, "")
    if raw == "":
        return 365
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < 1:
        raise Fatal(f"invalid {CERT_DAYS_ENV}={raw!r}: want a positive whole number of days (e.g. 365)")
    return int(raw)


# ---- tokens ---------------------------------------------------------------------------------


@dataclass
class Token:
    """A k3s token: secure `K10<ca-hash>::<user>:<password>` or short `<password>`."""

    ca_hash: str
    username: str
    password: str

    @classmethod
    def parse(cls, text: str) -> Token:
        text = text.strip()
        if text.startswith("K10") and "::" in text:
            ca_hash, _, creds = text[3:].partition("::")
            user, sep, pw = creds.partition(":")
            if not sep:
                return cls(ca_hash, "", creds)
            return cls(ca_hash, user, pw)
        return cls("", "", text)


def ca_hash_of_file_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ca_hash_matches(cacerts: bytes, want: str) -> bool:
    """Self-signed CA: sha256 of the PEM bundle; custom CA: sha256 of the root's DER."""
    if ca_hash_of_file_bytes(cacerts) == want:
        return True
    certs = fakelib.pem_certs(cacerts)
    return bool(certs) and fakelib.cert_der_sha256(certs[-1]) == want


# ---- config file (k3s pkg/configfilearg) ----------------------------------------------------


def _config_value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


#: commands whose config.yaml keys that are no flag of theirs are dropped with a warning; for the others
#: (agent) they stay and the flag parser refuses them (pkg/configfilearg/defaultparser.go ValidFlags,
#: recorded as ``unknown_keys_dropped_for`` in tests/fakes/upstream/k3s/v1.3*.yaml)
UNKNOWN_KEYS_DROPPED_FOR = ("server", "etcd-snapshot")


def config_file_args(args: list[str], fs: fakelib.FlagSet, command: str = "server") -> list[str]:
    """Read config.yaml (+ config.yaml.d/*.yaml) into `--key=value` args placed before `args`."""
    path, explicit = "", False
    env = os.environ.get("K3S_CONFIG_FILE", "")
    if env:
        path, explicit = env, True
    for i, arg in enumerate(args):
        for name in ("--config", "-c"):
            if arg == name and i + 1 < len(args):
                path, explicit = args[i + 1], True
            elif arg.startswith(name + "="):
                path, explicit = arg[len(name) + 1 :], True
    if not path:
        path = "/etc/rancher/k3s/config.yaml"
    real = fakelib.host_path(path)
    files = []
    if os.path.exists(real):
        files.append(real)
    elif explicit:
        raise Fatal(f"open {path}: no such file or directory")
    files += sorted(glob.glob(real + ".d/*.yaml")) + sorted(glob.glob(real + ".d/*.yml"))
    merged: dict[str, Any] = {}
    for f in sorted(set(files), key=files.index):
        try:
            data = fakelib.yaml_load(fakelib.read_text(f))
        except fakelib.YamlError as exc:
            raise Fatal(f"failed to parse {f}: {exc}") from exc
        if data is None:
            continue
        if not isinstance(data, dict):
            raise Fatal(f"failed to parse {f}: config must be a YAML mapping of flag: value")
        for key, value in data.items():
            append = key.endswith("+")
            base = key.rstrip("+")
            if append and isinstance(merged.get(base), list):
                merged[base] = merged[base] + (value if isinstance(value, list) else [value])
            else:
                merged[base] = value
    out: list[str] = []
    for key, value in merged.items():
        if key in ("config", "c"):
            continue
        if key not in fs.by_name and command in UNKNOWN_KEYS_DROPPED_FOR:
            log("warning", f"Unknown flag --{key} found in config.yaml, skipping")
            continue
        prefix = "-" if len(key) == 1 else "--"
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            out.append(f"{prefix}{key}={_config_value(item)}")
    return out


def parse_command(fs: fakelib.FlagSet, argv: list[str], command: str = "server") -> fakelib.ParsedArgs:
    args = fs.parse_go([*config_file_args(argv, fs, command), *argv])
    fs.apply_env(args)
    if args.positional:
        raise fakelib.FlagError(f"unexpected argument {args.positional[0]!r}")
    for item in args.get("disable") or []:
        if item not in DISABLE_ITEMS:
            log("warning", f"Unknown component {item!r} in --disable")
    return args


# ---- paths ----------------------------------------------------------------------------------


RUNNING_LOCK = ".fake-k3s.lock"  # fake-only: marks a running server/agent of this data dir
CONTAINERD_STATE = "/run/k3s/containerd"


class Paths:
    """Where real k3s keeps things (all absolute paths redirected under $SEALKIT_FAKE_ROOT)."""

    def __init__(self, data_dir: str) -> None:
        self.data = fakelib.host_path(data_dir or "/var/lib/rancher/k3s")
        self.server = os.path.join(self.data, "server")
        self.tls = os.path.join(self.server, "tls")
        self.etcd_tls = os.path.join(self.tls, "etcd")
        self.db = os.path.join(self.server, "db")
        self.etcd_data = os.path.join(self.db, "etcd")
        self.agent = os.path.join(self.data, "agent")
        self.cred = os.path.join(self.server, "cred")
        self.lock = os.path.join(self.data, RUNNING_LOCK)
        # k3s' own containerd (pkg/agent/config initTLSCredPath / applyContainerdStateAndAddress)
        self.containerd_config = os.path.join(self.agent, "etc", "containerd", "config.toml")
        self.certs_d = os.path.join(self.agent, "etc", "containerd", "certs.d")
        self.containerd_root = os.path.join(self.agent, "containerd")
        self.containerd_state = fakelib.host_path(CONTAINERD_STATE)
        self.containerd_sock = os.path.join(self.containerd_state, "containerd.sock")

    def t(self, name: str) -> str:
        return os.path.join(self.tls, name)

    def e(self, name: str) -> str:
        return os.path.join(self.etcd_tls, name)


# ---- "is k3s running on this data dir?" (fake-only marker, see the module docstring) --------

_RUNNING_LOCKS: list[Any] = []  # open lock files of this process: kept until it exits


def hold_running_lock(p: Paths, role: str) -> None:
    """Hold <data-dir>/.fake-k3s.lock shared for the life of this server/agent process.

    flock dies with the process (also on SIGKILL), so a crashed k3s leaves no stale marker; the
    descriptor is not inherited by etcd (Python opens it close-on-exec). Blocks while a
    `certificate rotate` holds it exclusively, as starting k3s mid-rotation must not race it.
    """
    os.makedirs(p.data, mode=0o700, exist_ok=True)
    fh = open(p.lock, "a+")  # noqa: SIM115 - held open until the process exits
    fcntl.flock(fh, fcntl.LOCK_SH)
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()} {role}\n")
    fh.flush()
    _RUNNING_LOCKS.append(fh)


@contextlib.contextmanager
def stopped_lock(p: Paths) -> Iterator[None]:
    """Hold the data dir's lock exclusively; Fatal while a k3s server/agent holds it."""
    if not os.path.isdir(p.data):
        yield
        return
    with open(p.lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = (fh.read().strip().splitlines() or ["?"])[-1]
            raise Fatal(
                f"{PROGRAM} is running on data dir {p.data} (pid/role {holder}): stop it first "
                f"(systemctl stop {PROGRAM} / {PROGRAM}-agent), then rotate certificates"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# Files a joining server receives (k3s' bootstrap data, by field name → path under server/).
BOOTSTRAP_FILES = {
    "ServerCA": "tls/server-ca.crt",
    "ServerCAKey": "tls/server-ca.key",
    "ClientCA": "tls/client-ca.crt",
    "ClientCAKey": "tls/client-ca.key",
    "RequestHeaderCA": "tls/request-header-ca.crt",
    "RequestHeaderCAKey": "tls/request-header-ca.key",
    "ServiceKey": "tls/service.key",
    "ETCDServerCA": "tls/etcd/server-ca.crt",
    "ETCDServerCAKey": "tls/etcd/server-ca.key",
    "ETCDPeerCA": "tls/etcd/peer-ca.crt",
    "ETCDPeerCAKey": "tls/etcd/peer-ca.key",
}

CA_NAMES = {
    "server-ca": "k3s-server-ca",
    "client-ca": "k3s-client-ca",
    "request-header-ca": "k3s-request-header-ca",
}


def ensure_cas(p: Paths, with_etcd: bool) -> None:
    """Use pre-placed CA files (custom CA); generate the missing ones like k3s does."""
    for base, cn in CA_NAMES.items():
        crt, key = p.t(base + ".crt"), p.t(base + ".key")
        if os.path.exists(crt) != os.path.exists(key):
            raise Fatal(f"{crt} and {key} must both exist (custom CA) or both be absent")
        if not os.path.exists(crt):
            fakelib.make_ca(crt, key, f"{cn}@{int(time.time())}")
    if not os.path.exists(p.t("service.key")):
        fakelib.write_file(p.t("service.key"), fakelib.gen_key_pem(), 0o600)
    if with_etcd:
        for base, cn in (("server-ca", "etcd-server-ca"), ("peer-ca", "etcd-peer-ca")):
            crt, key = p.e(base + ".crt"), p.e(base + ".key")
            if not os.path.exists(crt):
                fakelib.make_ca(crt, key, f"{cn}@{int(time.time())}")


def first_service_ip(cidrs: list[str]) -> str:
    net = ipaddress.ip_network((cidrs or ["10.43.0.0/16"])[0], strict=False)
    return str(net.network_address + 1)


def split_sans(values: list[str]) -> tuple[list[str], list[str]]:
    dns, ips = [], []
    for v in values:
        try:
            ips.append(str(ipaddress.ip_address(v)))
        except ValueError:
            dns.append(v)
    return dns, ips


# ---- the supervisor endpoints served beside the apiserver on :6443 ---------------------------


class Supervisor:
    """k3s' own HTTP endpoints: /cacerts, /ping, /v1-k3s/*, /db/info."""

    def __init__(
        self,
        p: Paths,
        server_pw: str,
        agent_pw: str,
        version: str,
        etcd: fakelib.EtcdClient | None,
        cfg: dict[str, Any],
    ) -> None:
        self.p = p
        self.server_pw = server_pw
        self.agent_pw = agent_pw
        self.version = version
        self.etcd = etcd
        self.cfg = cfg
        self.api: fakeapi.FakeAPIServer | None = None

    def roles(self, ctx: fakeapi.RequestContext) -> set[str]:
        roles: set[str] = set()
        auth = ctx.handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return roles
            if user == "server" and secrets.compare_digest(pw, self.server_pw):
                roles |= {"server", "agent"}
            elif user == "node" and (
                secrets.compare_digest(pw, self.agent_pw) or secrets.compare_digest(pw, self.server_pw)
            ):
                roles.add("agent")
        elif ctx.user is not None:
            if "system:masters" in ctx.user.groups:
                roles |= {"server", "agent"}
            if "system:nodes" in ctx.user.groups:
                roles.add("agent")
        return roles

    def __call__(self, ctx: fakeapi.RequestContext) -> bool:
        h = ctx.handler
        if ctx.path == "/cacerts":
            h.send_bytes(200, fakelib.read_bytes(self.p.t("server-ca.crt")), "text/plain")
            return True
        if ctx.path == "/ping":
            h.send_bytes(200, b"pong", "text/plain")
            return True
        prefix = f"/v1-{PROGRAM}/"
        if not (ctx.path.startswith(prefix) or ctx.path == "/db/info"):
            return False
        roles = self.roles(ctx)
        sub = ctx.path[len(prefix) :] if ctx.path.startswith(prefix) else "db/info"
        need = "server" if sub in ("server-bootstrap", "db/info", "token") else "agent"
        if need not in roles:
            raise fakeapi.ApiError(401, "Unauthorized", "Unauthorized")
        if sub == "server-bootstrap":
            self.bootstrap(h)
        elif sub == "db/info":
            if self.etcd is None:
                h.send_bytes(400, b"etcd disabled\n", "text/plain")
            else:
                h.send_json(200, {"members": self.etcd.member_list()})
        elif sub == "readyz":
            h.send_bytes(200, b"ok", "text/plain")
        elif sub == "apiservers":
            assert self.api is not None
            h.send_json(200, self.api.apiserver_addresses())
        elif sub == "config":
            h.send_json(200, dict(self.cfg, Version=self.version))
        elif sub in ("client-ca.crt", "server-ca.crt"):
            h.send_bytes(200, fakelib.read_bytes(self.p.t(sub)), "text/plain")
        elif sub in ("client-kubelet.crt", "serving-kubelet.crt", "client-kube-proxy.crt"):
            self.sign(ctx, sub)
        else:
            h.send_bytes(404, b"404 page not found\n", "text/plain")
        return True

    def bootstrap(self, h: Any) -> None:
        out = {}
        for field_name, rel in BOOTSTRAP_FILES.items():
            path = os.path.join(self.p.server, rel)
            if os.path.exists(path):
                out[field_name] = {
                    "Timestamp": fakelib.now_rfc3339(),
                    "Content": fakelib.b64(fakelib.read_bytes(path)),
                }
        h.send_json(200, out)

    def check_node_password(self, node: str, password: str) -> None:
        """k3s' node-password secret: the first registration wins, later ones must match."""
        assert self.api is not None
        digest = hashlib.sha256(password.encode()).hexdigest()
        name = f"{node}.node-password.k3s"
        got = self.api.get_obj(fakeapi.SECRETS, "kube-system", name)
        if got is None:
            self.api.ensure(
                fakeapi.SECRETS,
                "kube-system",
                {
                    "metadata": {"name": name},
                    "type": "k3s.cattle.io/node-password",
                    "data": {"hash": fakelib.b64(digest)},
                },
            )
            got = self.api.get_obj(fakeapi.SECRETS, "kube-system", name)
        stored = base64.b64decode((got[0].get("data") or {}).get("hash", "")).decode() if got else ""
        if stored != digest:
            raise fakeapi.ApiError(
                403,
                "Forbidden",
                f"Node password rejected, duplicate hostname or contents of "
                f"'/etc/rancher/node/password' may not match server node-passwd entry, try "
                f"enabling a unique node name with the --with-node-id flag (node {node})",
            )

    def sign(self, ctx: fakeapi.RequestContext, what: str) -> None:
        h = ctx.handler
        if ctx.method != "POST" or not ctx.body:
            h.send_bytes(
                400,
                b"POST a certificate signing request (the legacy shared-key GET "
                b"is not implemented by the " + FAKE_MARK.encode() + b")\n",
                "text/plain",
            )
            return
        node = h.headers.get(f"{PROGRAM}-Node-Name", "")
        if what != "client-kube-proxy.crt":
            if not node:
                raise fakeapi.ApiError(400, "BadRequest", "missing node name header")
            self.check_node_password(node, h.headers.get(f"{PROGRAM}-Node-Password", ""))
        csr = fakelib.csr_to_pem(ctx.body)
        if what == "serving-kubelet.crt":
            ips = [
                "127.0.0.1",
                *[i for i in h.headers.get(f"{PROGRAM}-Node-IP", "").split(",") if i],
            ]
            spec = fakelib.CertSpec(
                node, dns=(node, "localhost"), ips=tuple(ips), server=True, days=leaf_days()
            )
            ca, key = self.p.t("server-ca.crt"), self.p.t("server-ca.key")
        elif what == "client-kubelet.crt":
            spec = fakelib.CertSpec(f"system:node:{node}", ("system:nodes",), client=True, days=leaf_days())
            ca, key = self.p.t("client-ca.crt"), self.p.t("client-ca.key")
        else:
            spec = fakelib.CertSpec("system:kube-proxy", client=True, days=leaf_days())
            ca, key = self.p.t("client-ca.crt"), self.p.t("client-ca.key")
        cert = fakelib.sign_csr(ca, key, csr, spec)
        h.send_bytes(200, cert + fakelib.read_bytes(ca), "text/plain")


# ---- joining: /cacerts, CA hash, basic auth --------------------------------------------------


def join_timeout() -> float:
    return float(os.environ.get("SEALKIT_FAKE_JOIN_TIMEOUT", "60"))


def fetch_cacerts(servers: list[str], token: Token) -> tuple[str, bytes]:
    """TLS bootstrap as k3s does it: insecure /cacerts, compare hashes, then verify the chain.

    ``servers`` are tried in turn on every attempt, as the agent's load balancer dials each of its
    servers until one connects (k3s pkg/agent/loadbalancer/servers.go dialContext); returns the
    server that answered and its CA bundle."""
    insecure = fakelib.client_ssl_context(insecure=True)
    deadline = time.monotonic() + join_timeout()
    answered: tuple[str, int, bytes] | None = None
    while answered is None:
        errors: list[str] = []
        for server in servers:
            url = server.rstrip("/") + "/cacerts"
            try:
                status, body, _ = fakelib.http_request(url, context=insecure, timeout=10)
            except (OSError, urllib.error.URLError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            answered = (server, status, body)
            break
        if answered is not None:
            break
        if time.monotonic() > deadline:
            raise Fatal(
                f"failed to get CA certs: {'; '.join(errors)} (all servers unreachable; gave up "
                f"after {join_timeout():.0f}s)"
            )
        log("info", f"Waiting to retrieve agent configuration; server is not ready: {'; '.join(errors)}")
        time.sleep(2)
    server, status, body = answered
    url = server.rstrip("/") + "/cacerts"
    if status != 200:
        raise Fatal(f"failed to get CA certs: {url}: {status}")
    if token.ca_hash and not ca_hash_matches(body, token.ca_hash):
        raise Fatal(
            f"token CA hash does not match the Cluster CA certificate hash: "
            f"{token.ca_hash} != {ca_hash_of_file_bytes(body)}"
        )
    verify = fakelib.client_ssl_context(ca_pem=body.decode())
    verify.check_hostname = False
    try:
        fakelib.http_request(server.rstrip("/") + "/ping", context=verify, timeout=10)
    except (OSError, urllib.error.URLError) as exc:
        raise Fatal(
            f"{server}: the server certificate is not signed by the CA it serves at /cacerts: {exc}"
        ) from exc
    return server, body


def supervisor_get(
    server: str,
    path: str,
    cacerts: bytes,
    user: str,
    password: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    ctx = fakelib.client_ssl_context(ca_pem=cacerts.decode())
    ctx.check_hostname = False
    hdrs = {"Authorization": "Basic " + fakelib.b64(f"{user}:{password}"), **(headers or {})}
    url = server.rstrip("/") + path
    try:
        status, data, _ = fakelib.http_request(
            url, method=method, body=body, headers=hdrs, context=ctx, timeout=30
        )
    except (OSError, urllib.error.URLError) as exc:
        raise Fatal(f"{url}: {exc}") from exc
    if status == 401:
        raise Fatal(f"{url}: 401 Unauthorized (wrong token password?)")
    if status != 200:
        raise Fatal(f"{url}: {status} {data.decode(errors='replace').strip()}")
    return data


# ---- etcd (Debian's /usr/bin/etcd as k3s' embedded datastore) --------------------------------


def etcd_binary() -> str:
    return os.environ.get("SEALKIT_FAKE_ETCD", "") or shutil.which("etcd") or "/usr/bin/etcd"


def ensure_etcd_certs(p: Paths, ip: str, name: str) -> None:
    ips = tuple(dict.fromkeys(["127.0.0.1", ip]))
    dns = ("localhost", name)
    days = leaf_days()
    wanted = {
        "server-client": (
            "server-ca",
            fakelib.CertSpec("etcd-server", dns=dns, ips=ips, server=True, client=True, days=days),
        ),
        "peer-server-client": (
            "peer-ca",
            fakelib.CertSpec("etcd-peer", dns=dns, ips=ips, server=True, client=True, days=days),
        ),
        "client": ("server-ca", fakelib.CertSpec("etcd-client", client=True, days=days)),
    }
    for base, (ca, spec) in wanted.items():
        crt = p.e(base + ".crt")
        if (
            os.path.exists(crt)
            and fakelib.verify_chain(p.e(ca + ".crt"), crt)
            and (base == "client" or ip in fakelib.cert_info(fakelib.read_text(crt)).ips)
        ):
            continue
        fakelib.issue_cert(p.e(ca + ".crt"), p.e(ca + ".key"), crt, p.e(base + ".key"), spec)


def etcd_client(p: Paths, endpoints: list[str]) -> fakelib.EtcdClient:
    return fakelib.EtcdClient(endpoints, p.e("server-ca.crt"), p.e("client.crt"), p.e("client.key"))


class EmbeddedEtcd:
    """Runs etcd as a child that dies with us, the way k3s runs it in-process."""

    def __init__(self, p: Paths, ip: str, node_name: str, extra_args: list[str]) -> None:
        self.p = p
        self.ip = ip
        self.extra = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        name_file = os.path.join(p.db, "etcd-name")
        if os.path.exists(name_file):
            self.name = fakelib.read_text(name_file).strip()
        else:
            self.name = f"{node_name}-{secrets.token_hex(4)}"
        self.name_file = name_file

    @property
    def peer_url(self) -> str:
        return f"https://{self.ip}:2380"

    @property
    def client_urls(self) -> list[str]:
        urls = [f"https://{self.ip}:2379"]
        if not self.ip.startswith("127."):
            urls.insert(0, "https://127.0.0.1:2379")
        return urls

    def has_data(self) -> bool:
        return os.path.isdir(os.path.join(self.p.etcd_data, "member"))

    def start(self, initial_cluster: str, state: str) -> fakelib.EtcdClient:
        fakelib.write_file(self.name_file, self.name + "\n", 0o600)
        os.makedirs(self.p.etcd_data, mode=0o700, exist_ok=True)
        cmd = [
            etcd_binary(),
            "--name",
            self.name,
            "--data-dir",
            self.p.etcd_data,
            "--listen-client-urls",
            ",".join(self.client_urls),
            "--advertise-client-urls",
            f"https://{self.ip}:2379",
            "--listen-peer-urls",
            self.peer_url,
            "--initial-advertise-peer-urls",
            self.peer_url,
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            state,
            "--cert-file",
            self.p.e("server-client.crt"),
            "--key-file",
            self.p.e("server-client.key"),
            "--trusted-ca-file",
            self.p.e("server-ca.crt"),
            "--client-cert-auth",
            "--peer-cert-file",
            self.p.e("peer-server-client.crt"),
            "--peer-key-file",
            self.p.e("peer-server-client.key"),
            "--peer-trusted-ca-file",
            self.p.e("peer-ca.crt"),
            "--peer-client-cert-auth",
            "--heartbeat-interval",
            "500",
            "--election-timeout",
            "5000",
            "--logger",
            "zap",
            "--log-outputs",
            "stderr",
            *[a if a.startswith("-") else f"--{a}" for a in self.extra],
        ]
        log(
            "info",
            f"Starting etcd member {self.name} ({FAKE_MARK}: Debian etcd as a child "
            f"process) peer {self.peer_url}",
        )
        self.proc = fakelib.spawn_child(cmd, os.path.join(self.p.db, "etcd.log"))
        client = etcd_client(self.p, [f"https://{self.ip}:2379"])
        if (
            not fakelib.wait_until(lambda: client.health() or self.proc.poll() is not None, 60, 0.3)
            or self.proc.poll() is not None
        ):
            tail = ""
            with contextlib.suppress(OSError):
                tail = fakelib.read_text(os.path.join(self.p.db, "etcd.log"))[-1500:]
            raise Fatal(f"etcd did not become healthy (exit code {self.proc.poll()}): {tail}")
        return client

    def stop(self) -> None:
        fakelib.stop_child(self.proc)


def remove_etcd_member(
    client: fakelib.EtcdClient, gone: str, node: str, me: str, stop: threading.Event
) -> None:
    """Retry like a controller: etcd refuses removals until a new member is settled."""
    deadline = time.monotonic() + 120
    while not stop.is_set():
        try:
            found = [m for m in client.member_list() if m.get("name") == gone]
            if not found:
                return
            client.member_remove(found[0]["ID"])
            log("info", f"Removed etcd member {gone} of deleted node {node} (by {me})")
            return
        except fakelib.FakeError as exc:
            if time.monotonic() > deadline:
                log("error", f"Failed to remove etcd member {gone} of node {node}: {exc}")
                return
            log("info", f"Waiting to remove etcd member {gone}: {exc}")
            stop.wait(2)


# ---- node registration (the agent half) ------------------------------------------------------


def kubelet_arg_map(values: list[str]) -> dict[str, str]:
    return fakelib.split_kv_list(v.lstrip("-") for v in values)


def redacted_args(argv: list[str]) -> list[str]:
    """k3s.io/node-args: argv with secret values hidden, as k3s does."""
    out, hide = [], False
    secret = {"--token", "-t", "--agent-token", "--datastore-endpoint", "--etcd-s3-secret-key"}
    for arg in argv:
        if hide:
            out.append("********")
            hide = False
            continue
        name, eq, _ = arg.partition("=")
        if name in secret:
            if eq:
                out.append(f"{name}=********")
            else:
                out.append(name)
                hide = True
            continue
        out.append(arg)
    return out


def node_identity(args: fakelib.ParsedArgs, p: Paths) -> tuple[str, str]:
    name = (args.get("node-name") or fakelib.hostname()).lower()
    if args.get("with-node-id"):
        id_file = fakelib.host_path("/etc/rancher/node/node-id")
        if not os.path.exists(id_file):
            fakelib.write_file(id_file, secrets.token_hex(4) + "\n", 0o600)
        name = f"{name}-{fakelib.read_text(id_file).strip()}"
    pw_file = fakelib.host_path("/etc/rancher/node/password")
    if not os.path.exists(pw_file):
        fakelib.write_file(pw_file, secrets.token_hex(16) + "\n", 0o600)
    return name, fakelib.read_text(pw_file).strip()


# ---- registries.yaml → containerd hosts.toml -------------------------------------------------
# As k3s renders them: k3s-io/k3s pkg/agent/containerd/config.go (getHostConfigs,
# normalizeEndpointAddress, defaultHostConfig, configForHost, endpointHasConfig) and
# pkg/agent/templates/templates.go (HostsTomlTemplate, trimEmpty); identical at commits 127f0ae5a723
# (v1.34.0-k3s1), 5e426d561340 (v1.34.8), 394332793345 (v1.35.0), 372c8adc5892 (v1.35.5),
# 4cdb882eb97a (v1.36.0), 9da548c2bc48 (v1.36.1) and 706aea607d0f (bp_jun_1.36), read from fork
# dereknola/k3s (see tests/fakes/upstream/k3s/README.md). Not modelled: --embedded-registry (spegel),
# which sets the mirror address to loopback:supervisor port (pkg/agent/config/config.go) and adds that
# endpoint; without it the address is empty host:port (":"), matching no endpoint.
SPEGEL_MIRROR_ADDR = ":"


@dataclass
class _Endpoint:
    """templates.RegistryEndpoint: url None = no `server` line; "" = an empty one (the wildcard)."""

    url: str | None
    config: dict[str, Any]
    override_path: bool = False
    rewrites: dict[str, str] | None = None


def _is_localhost(hostname: str) -> bool:
    """containerd remotes/docker IsLocalhost: localhost or a loopback IP."""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _normalize_endpoint(endpoint: str) -> tuple[str, str, bool]:
    """normalizeEndpointAddress: (registry name, URL, override_path)."""
    parsed = urllib.parse.urlsplit(endpoint if "://" in endpoint else "//" + endpoint)
    port = str(parsed.port or "")
    scheme = parsed.scheme
    if not scheme:
        local = _is_localhost(parsed.hostname or "") and port not in ("", "443")
        scheme = "http" if local and parsed.netloc != SPEGEL_MIRROR_ADDR else "https"
    registry = parsed.netloc
    host = "registry-1.docker.io" if registry == "docker.io" else registry
    if host == "registry-1.docker.io":
        registry = "docker.io"
    if parsed.path in ("", "/", "/v2"):
        return registry, f"{scheme}://{host}/v2", False
    return registry, f"{scheme}://{host}{parsed.path}", True


def _config_for(configs: dict[str, Any], host: str) -> dict[str, Any]:
    """configForHost: the config under containerd's default host name first (docker.io's API host)."""
    if host == "docker.io" and isinstance(configs.get("registry-1.docker.io"), dict):
        return configs["registry-1.docker.io"]
    return configs.get(host) or {}


def _default_endpoint(host: str, config: dict[str, Any]) -> _Endpoint:
    return _Endpoint(None if host == "*" else _normalize_endpoint(host)[1], config)


def _has_config(ep: _Endpoint | None) -> bool:
    """endpointHasConfig"""
    if ep is None:
        return False
    return ep.override_path or bool(ep.config.get("auth") or ep.config.get("tls") or ep.rewrites)


def host_configs(
    mirrors: dict[str, Any], configs: dict[str, Any], no_default: bool
) -> dict[str, tuple[_Endpoint | None, list[_Endpoint]]]:
    """getHostConfigs: per certs.d directory (`*` → `_default`), the default endpoint and mirrors."""
    hosts: dict[str, tuple[_Endpoint | None, list[_Endpoint]]] = {}
    for host, config in configs.items():
        hosts["_default" if host == "*" else host] = (_default_endpoint(host, config or {}), [])
    for host, mirror in mirrors.items():
        # upstream looks the raw key up: configs."*" is stored under _default and not found here
        if host in hosts:
            default, eps = hosts[host][0], list(hosts[host][1])
        else:
            default, eps = _default_endpoint(host, _config_for(configs, host)), []
            if no_default:
                default = None
            elif host == "*":
                default = _Endpoint("", {})
        seen: set[str] = set()
        endpoints = (mirror or {}).get("endpoint") or []
        for i, endpoint in enumerate(endpoints):
            registry, url, override = _normalize_endpoint(endpoint)
            if url in seen:
                log("warning", f"Skipping duplicate endpoint URL {i}={endpoint} for {host}")
                continue
            seen.add(url)
            rewrites = (mirror or {}).get("rewrite") or None
            ep = _Endpoint(url, _config_for(configs, registry), override, rewrites)
            if i + 1 == len(endpoints) and (default.url if default else None) == url:
                default = ep
            else:
                eps.append(ep)
        hosts["_default" if host == "*" else host] = (default, eps)
    return {h: (d, e) for h, (d, e) in hosts.items() if e or _has_config(d)}


def _tls_lines(config: dict[str, Any], indent: str) -> list[str]:
    tls = config.get("tls") or {}
    if not tls:
        return []
    out = []
    if tls.get("ca_file"):
        out.append(f"{indent}ca = [{json.dumps(tls['ca_file'])}]")
    if tls.get("cert_file") or tls.get("key_file"):
        pair = f"{json.dumps(tls.get('cert_file') or '')}, {json.dumps(tls.get('key_file') or '')}"
        out.append(f"{indent}client = [[{pair}]]")
    if tls.get("insecure_skip_verify"):
        out.append(f"{indent}skip_verify = true")
    return out


def render_hosts_toml(default: _Endpoint | None, endpoints: list[_Endpoint]) -> str:
    """HostsTomlTemplate after trimEmpty: no blank lines but one before each top-level table."""
    lines = [f"# File generated by {PROGRAM}. DO NOT EDIT."]
    if default is not None:
        if default.url is not None:
            lines += [f'server = "{default.url}"', 'capabilities = ["pull", "resolve", "push"]']
        lines += _tls_lines(default.config, "")
    lines.append("[host]")
    for ep in endpoints:
        lines += [f'[host."{ep.url}"]', '  capabilities = ["pull", "resolve"]']
        if ep.override_path:
            lines.append("  override_path = true")
        lines += _tls_lines(ep.config, "  ")
        if ep.rewrites:
            lines.append(f'  [host."{ep.url}".rewrite]')
            lines += [f'    "{k}" = "{ep.rewrites[k]}"' for k in sorted(ep.rewrites)]
    return "".join(("\n" if line.startswith("[") else "") + line + "\n" for line in lines)


def check_registries(path: str, p: Paths, no_default: bool = False) -> dict[str, Any]:
    """Read registries.yaml like k3s: fail on bad YAML, render containerd hosts.toml per mirror
    and per configured host (`*` → certs.d/_default); returns its `configs` (per registry host:
    auth, tls) for containerd's config.toml."""
    real = fakelib.host_path(path)
    shutil.rmtree(p.certs_d, ignore_errors=True)
    if not os.path.exists(real):
        return {}
    try:
        data = fakelib.yaml_load(fakelib.read_text(real)) or {}
    except fakelib.YamlError as exc:
        raise Fatal(f"failed to parse {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise Fatal(f"{path}: must be a mapping with 'mirrors' and/or 'configs'")
    for key in data:
        if key not in ("mirrors", "configs"):
            log("warning", f"{path}: unknown key {key!r} ignored")
    mirrors = data.get("mirrors") or {}
    configs = data.get("configs") or {}
    if not isinstance(mirrors, dict) or not isinstance(configs, dict):
        raise Fatal(f"{path}: 'mirrors' and 'configs' must be mappings keyed by registry host")
    for host, mirror in mirrors.items():
        if mirror is not None and not isinstance(mirror, dict):
            raise Fatal(f"{path}: mirrors.{host} must be a mapping")
        endpoints = (mirror or {}).get("endpoint") or []
        if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
            raise Fatal(f"{path}: mirrors.{host}.endpoint must be a list of URLs")
    for host, (default, endpoints) in host_configs(mirrors, configs, no_default).items():
        text = render_hosts_toml(default, endpoints)
        fakelib.write_file(os.path.join(p.certs_d, host, "hosts.toml"), text)
    log("info", f"Using private registry config file at {path} ({len(mirrors)} mirrors)")
    return configs


def agent_certs(
    server: str,
    cacerts: bytes,
    password: str,
    name: str,
    password_node: str,
    ips: list[str],
    p: Paths,
) -> fakelib.KubeCreds:
    """Get this node's kubelet client/serving certs from the supervisor (CSR, basic auth)."""
    os.makedirs(p.agent, exist_ok=True)
    fakelib.write_file(os.path.join(p.agent, "server-ca.crt"), cacerts)
    headers = {
        f"{PROGRAM}-Node-Name": name,
        f"{PROGRAM}-Node-Password": password_node,
        f"{PROGRAM}-Node-IP": ",".join(ips),
    }
    for base in ("client-kubelet", "serving-kubelet"):
        key = os.path.join(p.agent, base + ".key")
        if not os.path.exists(key):
            fakelib.write_file(key, fakelib.gen_key_pem(), 0o600)
        csr = fakelib.make_csr(key, name, der=True)
        chain = supervisor_get(
            server,
            f"/v1-{PROGRAM}/{base}.crt",
            cacerts,
            "node",
            password,
            method="POST",
            body=csr,
            headers=headers,
        )
        certs = fakelib.pem_certs(chain)
        fakelib.write_file(os.path.join(p.agent, base + ".crt"), certs[0] + "\n")
        if base == "client-kubelet" and len(certs) > 1:
            fakelib.write_file(os.path.join(p.agent, "client-ca.crt"), "\n".join(certs[1:]) + "\n")
    crt = os.path.join(p.agent, "client-kubelet.crt")
    key = os.path.join(p.agent, "client-kubelet.key")
    fakelib.write_file(
        os.path.join(p.agent, "kubelet.kubeconfig"),
        fakelib.kubeconfig(
            server,
            cacerts.decode(),
            cert_pem=fakelib.read_text(crt),
            key_pem=fakelib.read_text(key),
        ),
        0o600,
    )
    return fakelib.KubeCreds(server=server, ca_pem=cacerts.decode(), cert_file=crt, key_file=key)


def apiserver_endpoints(server: str, cacerts: bytes, password: str) -> list[str]:
    """The other servers (k3s agents load-balance across them locally)."""
    try:
        data = supervisor_get(server, f"/v1-{PROGRAM}/apiservers", cacerts, "node", password)
    except Fatal as exc:
        log("warning", f"Failed to get apiserver addresses: {exc}")
        return []
    return [f"https://{a}" for a in json.loads(data)]


# ---- the agent's load balancer state (k3s pkg/agent/loadbalancer, pkg/agent/tunnel) ----------
# Facts from k3s-io/k3s at the release-line commits in tests/fakes/upstream/k3s/README.md (identical at
# all three): loadbalancer.go New (file <data-dir>/agent/etc/<service>.json, --server's port made
# explicit), config.go updateConfig/writeConfig, servers.go setAddresses/getAddresses/dialContext,
# tunnel.go (list updated from the apiservers the supervisor names, then from the `kubernetes`
# endpoints). The fake runs no local proxy: its clients dial the listed servers themselves.

SUPERVISOR_LB = f"{PROGRAM}-agent-load-balancer"
# how often the fake re-reads the `kubernetes` endpoints (upstream watches, debounced by 3s)
LB_SYNC_PERIOD = 5.0


def lb_default_address(server: str) -> str:
    """host:port of a server URL, the port made explicit from the scheme as loadbalancer.New does."""
    u = urllib.parse.urlsplit(server)
    if not u.hostname:
        raise Fatal(f"--server {server!r} has no host")
    port = u.port or (443 if u.scheme.lower() == "https" else 80)
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    return f"{host}:{port}"


@dataclass
class AgentLoadBalancer:
    """The server list k3s' agent keeps on disk, so a restart reaches a server even when --server is down.

    ``addresses`` is upstream's getAddresses: the servers learnt from the cluster (the --server default
    is dialled last when it is not one of them)."""

    path: str
    scheme: str
    default: str
    addresses: list[str]

    @property
    def server_url(self) -> str:
        return f"{self.scheme}://{self.default}"

    @classmethod
    def load(cls, p: Paths, server: str, service: str = SUPERVISOR_LB) -> AgentLoadBalancer:
        """updateConfig: restore the file's list when its ServerURL is this --server, else rewrite it."""
        lb = cls(
            os.path.join(p.agent, "etc", service + ".json"),
            urllib.parse.urlsplit(server).scheme,
            lb_default_address(server),
            [],
        )
        saved = lb._read()
        if saved is not None and saved.get("ServerURL") == lb.server_url:
            lb.addresses = [a for a in saved.get("ServerAddresses") or [] if isinstance(a, str)]
        else:
            lb.write()
        log("info", f"Running load balancer {service} -> {lb.addresses} [default: {lb.default}]")
        return lb

    def _read(self) -> dict[str, Any] | None:
        """The saved config; None when missing or not a JSON object (upstream then rewrites it)."""
        try:
            saved = json.loads(fakelib.read_text(self.path))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log("warning", f"{FAKE_MARK}: {self.path} unreadable ({exc}); rewriting it from --server")
            return None
        return saved if isinstance(saved, dict) else None

    def write(self) -> None:
        """writeConfig: two-space indented JSON, no trailing newline, mode 0644."""
        config = {"ServerURL": self.server_url, "ServerAddresses": self.addresses}
        fakelib.write_file(self.path, json.dumps(config, indent=2), 0o644)

    def urls(self) -> list[str]:
        """The servers in the order the fake dials them: the list, then the default."""
        ordered = [*self.addresses, *([] if self.default in self.addresses else [self.default])]
        return [f"{self.scheme}://{a}" for a in ordered]

    def update(self, addresses: list[str]) -> bool:
        """setAddresses: replace the list when its set of servers changed, and save it; True if so."""
        if set(addresses) == set(self.addresses):
            return False
        keep = [a for a in self.addresses if a in addresses]
        self.addresses = keep + [a for a in dict.fromkeys(addresses) if a not in keep]
        log("info", f"Updated load balancer server addresses -> {self.addresses} [default: {self.default}]")
        self.write()
        return True


def endpoints_addresses(endpoints: dict[str, Any]) -> list[str]:
    """host:port of the ready apiservers in the `kubernetes` Endpoints (upstream reads the EndpointSlice
    the same way, pkg/util/api.go GetAddressesFromSlices: first port, 443 without one)."""
    out = []
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or []
        port = ports[0].get("port") if ports else None
        for addr in subset.get("addresses") or []:
            ip = str(addr.get("ip", ""))
            if ip:
                out.append(f"[{ip}]:{port or 443}" if ":" in ip else f"{ip}:{port or 443}")
    return out


def sync_lb_once(client: fakelib.KubeClient, lb: AgentLoadBalancer) -> bool:
    """One pass of the tunnel's endpoints watch: adopt the `kubernetes` endpoints (an empty list is
    skipped, as upstream's syncer does). The client only gains servers (it may be mid-request)."""
    got = client.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
    addresses = endpoints_addresses(got or {})
    if not addresses or not lb.update(addresses):
        return False
    for url in lb.urls():
        if url not in client.servers:
            client.servers.append(url)
    return True


def lb_sync_loop(client: fakelib.KubeClient, lb: AgentLoadBalancer, stop: threading.Event) -> None:
    while not stop.wait(LB_SYNC_PERIOD):
        try:
            sync_lb_once(client, lb)
        except (fakelib.FakeError, OSError, ValueError) as exc:
            log("warning", f"Failed to sync apiserver addresses from the kubernetes endpoints: {exc}")


# archives k3s imports from <data-dir>/agent/images at start (pkg/agent/containerd preloadImages; the
# watcher in pkg/agent/containerd/watcher.go imports later changes): rancher/wharfie tarfile extensions,
# plus .txt image lists (pulled, not imported; the fake only logs them)
AIRGAP_EXTENSIONS = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.lz4", ".tar.zst", ".tzst", ".txt")


def preload_images(p: Paths) -> list[str]:
    """The air-gap archives a real k3s would import at start, logged as k3s logs them; returns their paths.

    Not imported: the fake records what would have been imported, so tests (and the footprint)
    see which release's archive was there when the agent started."""
    images = os.path.join(p.agent, "images")
    if not os.path.isdir(images):
        return []
    found = []
    for name in sorted(os.listdir(images)):
        path = os.path.join(images, name)
        if os.path.isfile(path) and name.endswith(AIRGAP_EXTENSIONS):
            log("info", f"Imported images from {path} ({FAKE_MARK}: not imported)")
            found.append(path)
    return found


# k3s unpacks its bundled binaries to <data-dir>/data/<hash>/bin; containerd starts one
# containerd-shim-runc-v2 per pod from there. The shims are not children k3s kills: under the unit's
# KillMode=process (install.sh) they outlive `systemctl stop k3s`, which is why k3s ships
# k3s-killall.sh (it kills every process whose program lives under k3s/data/*/bin/containerd-shim*).
SHIM_HASH = "sealkit-contract-fake"
SHIM_SLEEP = "import time\nwhile True:\n    time.sleep(3600)\n"


def shim_program(p: Paths) -> str:
    return os.path.join(p.data, "data", SHIM_HASH, "bin", "containerd-shim-runc-v2")


def shim_running(program: str) -> bool:
    """Whether a process whose program (argv[0]) is ``program`` runs (a restarted k3s keeps its shims)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
            if fh.read().split(b"\0", 1)[0].decode(errors="replace") == program:
                return True
    return False


def start_pod_shim(p: Paths) -> int | None:
    """Leave a stand-in for a pod's containerd-shim: its own session, no parent-death signal, program
    path under <data-dir>/data/*/bin as the real ones, so it survives `systemctl stop` as they do.
    Not under $SEALKIT_FAKE_ROOT (loopback tests), which must leave no process behind; returns its pid."""
    if os.environ.get("SEALKIT_FAKE_ROOT"):
        return None
    program = shim_program(p)
    if shim_running(program):
        return None
    proc = subprocess.Popen(
        [program, "-c", SHIM_SLEEP],
        executable=sys.executable,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log("info", f"{FAKE_MARK}: pod shim {program} (pid {proc.pid}) runs until killed, as a real one does")
    return proc.pid


# ---- the node: k3s' own containerd, its kubelet's pod workers and its kube-proxy ---------------
#
# A k3s agent (and a server, unless --disable-agent) runs containerd as a child with its config in
# <data-dir>/agent/etc/containerd/config.toml, root <data-dir>/agent/containerd, state and socket in
# /run/k3s/containerd (k3s pkg/agent/config: initTLSCredPath/applyContainerdStateAndAddress;
# pkg/agent/containerd/containerd.go Run: `containerd -c CONFIG -a SOCKET --state STATE --root ROOT`,
# NOTIFY_SOCKET removed from its environment, PR_SET_PDEATHSIG=SIGKILL (command.go), and k3s exits
# when containerd does). The config is rendered from registries.yaml (pkg/agent/templates
# ContainerdConfigTemplate): the CRI registry's `config_path` = agent/etc/containerd/certs.d (the
# hosts.toml files check_registries writes) and `registry.configs."<host>".auth` for credentials.
# The fake runs the host's containerd (Debian's) with that config and drives it through fake_cri's
# `ctr` (the fake kubelet's runtime), so the CRI plugin is disabled: only its registry settings are
# read, by fake_cri, exactly where the CRI plugin reads them. k3s puts its bundled binaries first in
# PATH (<data-dir>/data/<hash>/bin), so containerd starts the shims from there: the fake copies the
# host's containerd-shim-runc-v2 to that directory, which is what k3s-killall.sh looks for.

SHIM_BINARY = "containerd-shim-runc-v2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONTAINERD_START_TIMEOUT = 60.0
KUBELET_PORT = 10250  # the kubelet's --port default (k3s does not change it)


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)


def containerd_config_toml(p: Paths, configs: dict[str, Any], snapshotter: str) -> str:
    """k3s' containerd config.toml (registry part of pkg/agent/templates ContainerdConfigTemplate)."""
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    lines = [
        f"# File generated by {PROGRAM} ({FAKE_MARK}). DO NOT EDIT.",
        "version = 2",
        f"# {FAKE_MARK}: pods run through ctr, not CRI; the CRI plugin's registry settings are read by it",
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "",
        '[plugins."io.containerd.internal.v1.opt"]',
        f"  path = {_toml_str(p.containerd_root)}",
        "",
        f"{cri}.containerd]",
        f"  snapshotter = {_toml_str(snapshotter)}",
        "  disable_snapshot_annotations = true",
        "",
        f"{cri}.containerd.runtimes.runc]",
        '  runtime_type = "io.containerd.runc.v2"',
        "",
        f"{cri}.registry]",
        f"  config_path = {_toml_str(p.certs_d)}",
    ]
    for host in sorted(configs):
        conf = configs[host] if isinstance(configs[host], dict) else {}
        auth = conf.get("auth") if isinstance(conf.get("auth"), dict) else {}
        # registries.yaml keys → containerd's (wharfie AuthConfig → CRI AuthConfig)
        keys = {
            "username": "username",
            "password": "password",
            "auth": "auth",
            "identity_token": "identitytoken",
        }
        fields = [(keys[k], str(v)) for k, v in auth.items() if k in keys and v]
        if not fields:
            continue
        lines += ["", f"{cri}.registry.configs.{_toml_str(str(host))}.auth]"]
        lines += [f"  {k} = {_toml_str(v)}" for k, v in fields]
    return "\n".join(lines) + "\n"


def choose_snapshotter(requested: str, root: str) -> str:
    """--snapshotter, as k3s validates it (pkg/agent/config/config_linux.go
    applyContainerdOSSpecificConfig): overlayfs needs a root that can hold an overlay upper dir.

    Real k3s refuses to start there ("overlayfs" snapshotter cannot be enabled for ROOT, try using
    "fuse-overlayfs" or "native"); the fake falls back to native with that message as a warning, because
    the test lab's hosts have an overlay root where real machines do not (see tests/fakes/README.md)."""
    if requested == "native":
        return requested
    if requested not in ("overlayfs", ""):
        raise Fatal(f'{FAKE_MARK}: snapshotter "{requested}" is not supported (only overlayfs and native)')
    if fake_cri.filesystem_type(root) != "overlay":  # the mount that holds it, whether it exists yet or not
        return "overlayfs"
    log(
        "warning",
        f'"overlayfs" snapshotter cannot be enabled for "{root}", try using "fuse-overlayfs" or "native" '
        f"({FAKE_MARK}: real k3s exits here; the fake uses native)",
    )
    return "native"


def _kill_with_parent() -> None:
    """preexec: containerd gets SIGKILL when k3s dies (k3s pkg/agent/containerd/command.go)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def install_shim(p: Paths) -> str:
    """Put the host's containerd-shim-runc-v2 where k3s unpacks its own (<data-dir>/data/<hash>/bin);
    returns that directory, which goes first in containerd's PATH."""
    src = shutil.which(SHIM_BINARY) or f"/usr/bin/{SHIM_BINARY}"
    dst = shim_program(p)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.exists(dst) or os.path.getsize(dst) != os.path.getsize(src):
        tmp = dst + ".tmp"
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dst)
    return os.path.dirname(dst)


class K3sContainerd:
    """k3s' embedded containerd, played by the host's containerd binary (see the section comment)."""

    def __init__(self, p: Paths, snapshotter: str, binary: str) -> None:
        self.p = p
        self.snapshotter = snapshotter
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, configs: dict[str, Any]) -> fake_cri.Ctr:
        p = self.p
        os.makedirs(p.containerd_root, mode=0o700, exist_ok=True)
        os.makedirs(p.containerd_state, mode=0o711, exist_ok=True)
        fakelib.write_file(p.containerd_config, containerd_config_toml(p, configs, self.snapshotter), 0o600)
        bin_dir = install_shim(p)
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        env["PATH"] = f"{bin_dir}:{os.environ.get('PATH') or DEFAULT_PATH}"
        args = [
            self.binary,
            "-c",
            p.containerd_config,
            "-a",
            p.containerd_sock,
            "--state",
            p.containerd_state,
            "--root",
            p.containerd_root,
        ]
        log("info", f"Running containerd {' '.join(args[1:])}")
        log_path = os.path.join(p.containerd_root, "containerd.log")
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_kill_with_parent,
            )
        ctr = fake_cri.Ctr(p.containerd_sock, p.containerd_config)
        deadline = time.monotonic() + CONTAINERD_START_TIMEOUT
        while not self._answers(ctr):
            self.check(log_path)
            if time.monotonic() > deadline:
                raise Fatal(f"containerd did not answer on {p.containerd_sock}; see {log_path}")
            log("info", f"Waiting for containerd startup on {p.containerd_sock}")
            time.sleep(1)
        log("info", f"Containerd is now running (snapshotter {self.snapshotter})")
        return ctr

    @staticmethod
    def _answers(ctr: fake_cri.Ctr) -> bool:
        if not ctr.available():
            return False
        try:
            ctr.run_ctr("version", timeout=10)
        except (fakelib.FakeError, subprocess.TimeoutExpired):
            return False
        return True

    def check(self, log_path: str = "") -> None:
        """k3s exits when its containerd does."""
        if self.proc is not None and self.proc.poll() is not None:
            where = log_path or os.path.join(self.p.containerd_root, "containerd.log")
            raise Fatal(f"containerd exited with code {self.proc.returncode}; see {where}")

    def stop(self) -> None:
        fakelib.stop_child(self.proc, timeout=20)


class NodeWorkloads:
    """The embedded kubelet's pod workers (fake_pods.PodRunner through containerd), its HTTPS port
    (logs; serving-kubelet cert, as k3s passes --tls-cert-file) and the embedded kube-proxy
    (fake_proxy.NodePortProxy), synced once a second on their own thread."""

    def __init__(
        self,
        client: fakelib.KubeClient,
        runner: fake_pods.PodRunner | None,
        proxy: fake_proxy.NodePortProxy | None,
        stop: threading.Event,
    ) -> None:
        self.client = client
        self.runner = runner
        self.proxy = proxy
        self.stop = stop
        self.server: fake_pods.KubeletServer | None = None
        self.thread = threading.Thread(target=self.loop, name="k3s-node", daemon=True)

    def serve_logs(self, ip: str, p: Paths) -> None:
        if self.runner is None:
            return
        crt, key = os.path.join(p.agent, "serving-kubelet.crt"), os.path.join(p.agent, "serving-kubelet.key")
        try:
            self.server = fake_pods.KubeletServer((ip, KUBELET_PORT), self.runner, crt, key)
        except OSError as exc:
            log("warning", f"kubelet server on {ip}:{KUBELET_PORT}: {exc}; no logs served")
            return
        threading.Thread(target=self.server.serve_forever, name="kubelet-server", daemon=True).start()

    def loop(self) -> None:
        while not self.stop.wait(1):
            for name, part in (("pod sync", self.runner), ("kube-proxy sync", self.proxy)):
                if part is None:
                    continue
                try:
                    part.sync()
                except (fakelib.FakeError, OSError) as exc:
                    log("warning", f"{name} failed (will retry): {exc}")

    def close(self) -> None:
        """Stop the pods (the fake's reset relies on it, see the module docstring), then the ports."""
        self.thread.join(10)
        if self.runner is not None:
            self.runner.stop_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.proxy is not None:
            self.proxy.close()


@dataclass
class NodeAgent:
    """What run_agent_part started; `close` stops it in k3s' order (pods, then containerd)."""

    heartbeat: threading.Thread
    containerd: K3sContainerd | None
    workloads: NodeWorkloads | None

    def check(self) -> None:
        if self.containerd is not None:
            self.containerd.check()

    def close(self) -> None:
        if self.workloads is not None:
            self.workloads.close()
        if self.containerd is not None:
            self.containerd.stop()


def container_runtime(
    args: fakelib.ParsedArgs, p: Paths, configs: dict[str, Any]
) -> tuple[K3sContainerd | None, fake_cri.Ctr | None]:
    """The node's runtime: --container-runtime-endpoint if given (k3s then starts no containerd), else
    k3s' own containerd. None on loopback test roots, without root or without a containerd binary:
    pods then stay Pending, with a warning (as the fake kubelet does without a CRI socket)."""
    endpoint = args.get("container-runtime-endpoint") or ""
    if endpoint:
        sock = fakelib.host_path(endpoint.removeprefix("unix://"))
        return None, fake_cri.Ctr(sock, fakelib.host_path("/etc/containerd/config.toml"))
    binary = fake_cri.containerd_binary(log)
    if not binary:
        return None, None
    snapshotter = choose_snapshotter(args.get("snapshotter") or "overlayfs", p.containerd_root)
    # `ctr` (fake_cri) reads the snapshotter from its environment, as k3s' `k3s ctr` is set up
    os.environ["CONTAINERD_SNAPSHOTTER"] = snapshotter
    containerd = K3sContainerd(p, snapshotter, binary)
    return containerd, containerd.start(configs)


def run_agent_part(
    args: fakelib.ParsedArgs,
    argv: list[str],
    version: str,
    server: str,
    cacerts: bytes,
    password: str,
    p: Paths,
    is_server: bool,
    etcd_member: str,
    stop: threading.Event,
    lb: AgentLoadBalancer | None = None,
) -> NodeAgent:
    name, node_pw = node_identity(args, p)
    ips = args.get("node-ip") or [fakelib.default_ip()]
    ext = args.get("node-external-ip") or []
    configs = check_registries(
        args.get("private-registry"), p, bool(args.get("disable-default-registry-endpoint"))
    )
    preload_images(p)
    start_pod_shim(p)
    containerd, ctr = container_runtime(args, p, configs)
    try:
        creds = agent_certs(server, cacerts, password, name, node_pw, ips, p)
        extra = apiserver_endpoints(server, cacerts, password)
        if lb is not None and extra:
            lb.update([urllib.parse.urlsplit(u).netloc for u in extra])
        client = fakelib.KubeClient(creds, [*extra, *(lb.urls() if lb is not None else [])])
        register_agent_node(args, argv, version, client, name, ips, ext, is_server, etcd_member)
    except BaseException:
        if containerd is not None:
            containerd.stop()
        raise
    freq = kubelet_arg_map(args.get("kubelet-arg") or []).get("node-status-update-frequency", "10s")
    t = threading.Thread(
        target=fakelib.heartbeat_loop,
        args=(client, name, fakelib.parse_duration(freq), stop, log),
        daemon=True,
    )
    t.start()
    if lb is not None:
        threading.Thread(target=lb_sync_loop, args=(client, lb, stop), daemon=True).start()
    root_dir = fakelib.host_path(
        kubelet_arg_map(args.get("kubelet-arg") or []).get("root-dir", "/var/lib/kubelet")
    )
    runner = fake_pods.PodRunner(client, name, ips[0], root_dir, ctr) if ctr is not None else None
    with_proxy = ctr is not None and not args.get("disable-kube-proxy")
    proxy = fake_proxy.NodePortProxy(client, cluster_ips=True) if with_proxy else None
    workloads = NodeWorkloads(client, runner, proxy, stop)
    workloads.serve_logs(ips[0], p)
    workloads.thread.start()
    return NodeAgent(t, containerd, workloads)


def register_agent_node(
    args: fakelib.ParsedArgs,
    argv: list[str],
    version: str,
    client: fakelib.KubeClient,
    name: str,
    ips: list[str],
    ext: list[str],
    is_server: bool,
    etcd_member: str,
) -> None:
    """Register the Node as k3s' kubelet does, with k3s' labels and annotations; retried until the
    join timeout."""
    labels = fakelib.split_kv_list(args.get("node-label") or [])
    if is_server:
        labels.update(
            {
                "node-role.kubernetes.io/control-plane": "true",
                "node-role.kubernetes.io/master": "true",
            }
        )
        if etcd_member:
            labels["node-role.kubernetes.io/etcd"] = "true"
    taints = [fakelib.parse_taint(t) for t in args.get("node-taint") or []]
    annotations = {
        f"{PROGRAM}.io/node-args": json.dumps(redacted_args(argv)),
        f"{PROGRAM}.io/hostname": fakelib.hostname(),
        f"{PROGRAM}.io/internal-ip": ",".join(ips),
        f"{PROGRAM}.io/node-config-hash": hashlib.sha256(" ".join(argv).encode()).hexdigest()[:52],
        "sealkit.io/fake": FAKE_MARK,
    }
    if etcd_member:
        annotations["etcd.k3s.cattle.io/node-name"] = etcd_member
        annotations["etcd.k3s.cattle.io/node-address"] = ips[0]
    node = fakelib.node_object(name, ips, ext, version, labels, taints, annotations, instance_type=PROGRAM)
    deadline = time.monotonic() + join_timeout()
    while True:
        try:
            fakelib.register_node(client, node, log)
            return
        except fakelib.FakeError as exc:
            if time.monotonic() > deadline:
                raise Fatal(f"failed to register node {name}: {exc}") from exc
            log("info", f"Waiting to register node {name}: {exc}")
            time.sleep(1)


# ---- the embedded controller-manager and scheduler -------------------------------------------


# ---- server ---------------------------------------------------------------------------------


def read_token_arg(args: fakelib.ParsedArgs, flag: str, file_flag: str) -> str:
    if args.get(flag):
        return args.get(flag)
    if args.get(file_flag):
        path = fakelib.host_path(args.get(file_flag))
        try:
            return fakelib.read_text(path).strip()
        except OSError as exc:
            raise Fatal(f"failed to read token file {args.get(file_flag)}: {exc}") from exc
    return ""


def write_kubeconfig(args: fakelib.ParsedArgs, p: Paths, port: int) -> str:
    path = fakelib.host_path(args.get("write-kubeconfig") or "/etc/rancher/k3s/k3s.yaml")
    mode_text = args.get("write-kubeconfig-mode") or ""
    try:
        mode = int(mode_text, 8) if mode_text else 0o600
    except ValueError as exc:
        raise Fatal(f"failed to parse --write-kubeconfig-mode {mode_text!r}: {exc}") from exc
    bind = args.get("bind-address") or ""
    host = "127.0.0.1" if bind in ("", "0.0.0.0") else bind
    text = fakelib.kubeconfig(
        f"https://{host}:{port}",
        fakelib.read_text(p.t("server-ca.crt")),
        cert_pem=fakelib.read_text(p.t("client-admin.crt")),
        key_pem=fakelib.read_text(p.t("client-admin.key")),
    )
    fakelib.write_file(path, text, mode)
    if args.get("write-kubeconfig-group"):
        shutil.chown(path, group=args.get("write-kubeconfig-group"))
    log("info", f"Wrote kubeconfig {args.get('write-kubeconfig') or '/etc/rancher/k3s/k3s.yaml'}")
    return path


def issue_server_certs(args: fakelib.ParsedArgs, p: Paths, ips: list[str], name: str) -> None:
    sans_dns, sans_ip = split_sans(args.get("tls-san") or [])
    domain = args.get("cluster-domain")
    dns = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{domain}",
        "localhost",
        name,
        fakelib.hostname(),
        *sans_dns,
    ]
    ip_list = [
        "127.0.0.1",
        first_service_ip(args.get("service-cidr")),
        *ips,
        *(args.get("node-external-ip") or []),
        *sans_ip,
    ]
    for extra in (args.get("advertise-address"), args.get("bind-address")):
        if extra and extra != "0.0.0.0":
            ip_list.append(extra)
    days = leaf_days()
    fakelib.issue_cert(
        p.t("server-ca.crt"),
        p.t("server-ca.key"),
        p.t("serving-kube-apiserver.crt"),
        p.t("serving-kube-apiserver.key"),
        fakelib.CertSpec(PROGRAM, (PROGRAM,), tuple(dns), tuple(ip_list), server=True, days=days),
    )
    admin = p.t("client-admin.crt")
    if not (os.path.exists(admin) and fakelib.verify_chain(p.t("client-ca.crt"), admin)):
        fakelib.issue_cert(
            p.t("client-ca.crt"),
            p.t("client-ca.key"),
            admin,
            p.t("client-admin.key"),
            fakelib.CertSpec("system:admin", ("system:masters",), client=True, days=days),
        )
    ctrl = p.t(f"client-{PROGRAM}-controller.crt")
    if not (os.path.exists(ctrl) and fakelib.verify_chain(p.t("client-ca.crt"), ctrl)):
        fakelib.issue_cert(
            p.t("client-ca.crt"),
            p.t("client-ca.key"),
            ctrl,
            p.t(f"client-{PROGRAM}-controller.key"),
            fakelib.CertSpec(f"system:{PROGRAM}-controller", client=True, days=days),
        )


def join_bootstrap(server: str, token: Token, p: Paths) -> bytes:
    """A joining server takes the cluster's CAs; a different pre-placed CA is an error."""
    if not token.password:
        raise Fatal("--token is required when joining a server with --server")
    _, cacerts = fetch_cacerts([server], token)
    data = json.loads(
        supervisor_get(server, f"/v1-{PROGRAM}/server-bootstrap", cacerts, "server", token.password)
    )
    for field_name, rel in BOOTSTRAP_FILES.items():
        if field_name not in data:
            continue
        content = base64.b64decode(data[field_name]["Content"])
        path = os.path.join(p.server, rel)
        if os.path.exists(path) and fakelib.read_bytes(path) != content:
            raise Fatal(
                f"{path} differs from the cluster's {field_name}: place the same CA "
                f"files on every server (or none) before joining"
            )
        fakelib.write_file(path, content, 0o600 if path.endswith(".key") else 0o644)
    return cacerts


def write_tokens(p: Paths, server_pw: str, agent_token: str) -> None:
    ca_hash = ca_hash_of_file_bytes(fakelib.read_bytes(p.t("server-ca.crt")))
    fakelib.write_file(os.path.join(p.server, "token"), f"K10{ca_hash}::server:{server_pw}\n", 0o600)
    node_token = os.path.join(p.server, "node-token")
    with contextlib.suppress(FileNotFoundError):
        os.remove(node_token)
    os.symlink("token", node_token)
    if agent_token:
        fakelib.write_file(
            os.path.join(p.server, "agent-token"), f"K10{ca_hash}::node:{agent_token}\n", 0o600
        )
    fakelib.write_file(
        os.path.join(p.cred, "passwd"),
        f"{server_pw},server,server,{PROGRAM}:server\n{agent_token or server_pw},node,node,{PROGRAM}:agent\n",
        0o600,
    )


def server_password(token: Token, p: Paths) -> str:
    stored_file = os.path.join(p.server, "token")
    stored = Token.parse(fakelib.read_text(stored_file)).password if os.path.exists(stored_file) else ""
    if token.password and stored and token.password != stored:
        raise Fatal("bootstrap data already found and encrypted with different token")
    return token.password or stored or secrets.token_hex(16)


def controller_arg(args: fakelib.ParsedArgs, key: str, default: str) -> float:
    values = kubelet_arg_map(args.get("kube-controller-manager-arg") or [])
    return fakelib.parse_duration(values.get(key, default))


def run_server(argv: list[str], version: str) -> int:
    fs = fakelib.FlagSet(SERVER_FLAGS)
    args = parse_command(fs, argv)
    p = Paths(args.get("data-dir") or "/var/lib/rancher/k3s")
    log("info", f"Starting {PROGRAM} {version} ({FAKE_MARK})")
    leaf_days()  # a bad CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS is fatal before anything is written
    token = Token.parse(read_token_arg(args, "token", "token-file"))
    agent_token = Token.parse(read_token_arg(args, "agent-token", "agent-token-file")).password
    join = args.get("server") or ""
    ips = args.get("node-ip") or [fakelib.default_ip()]
    name = (args.get("node-name") or fakelib.hostname()).lower()
    os.makedirs(p.server, mode=0o700, exist_ok=True)
    hold_running_lock(p, "server")
    stop = threading.Event()
    fakelib.install_term_handler(stop)
    etcd: EmbeddedEtcd | None = None
    etcd_cli: fakelib.EtcdClient | None = None
    use_etcd = bool(args.get("cluster-init") or join or os.path.isdir(p.etcd_data))
    if args.get("datastore-endpoint"):
        use_etcd = False

    if join and not os.path.isdir(os.path.join(p.etcd_data, "member")):
        join_bootstrap(join, token, p)
    else:
        ensure_cas(p, use_etcd)
    ca_bytes = fakelib.read_bytes(p.t("server-ca.crt"))
    if token.ca_hash and not ca_hash_matches(ca_bytes, token.ca_hash):
        raise Fatal(
            f"token CA hash does not match the Cluster CA certificate hash: "
            f"{token.ca_hash} != {ca_hash_of_file_bytes(ca_bytes)}"
        )
    password = server_password(token, p)
    write_tokens(p, password, agent_token)
    issue_server_certs(args, p, ips, name)

    if args.get("datastore-endpoint"):
        ep = args.get("datastore-endpoint")
        if not ep.startswith(("http://", "https://")):
            raise Fatal(
                f"{FAKE_MARK}: only etcd datastore endpoints (http[s]://...) are "
                f"supported, got {ep.split('://')[0]}"
            )
        store: fakeapi.Store = fakeapi.EtcdStore(
            fakelib.EtcdClient(
                ep.split(","),
                fakelib.host_path(args.get("datastore-cafile") or ""),
                fakelib.host_path(args.get("datastore-certfile") or ""),
                fakelib.host_path(args.get("datastore-keyfile") or ""),
            )
        )
    elif use_etcd:
        etcd = EmbeddedEtcd(p, ips[0], name, args.get("etcd-arg") or [])
        ensure_etcd_certs(p, ips[0], name)
        if etcd.has_data():
            etcd_cli = etcd.start(f"{etcd.name}={etcd.peer_url}", "existing")
        elif join:
            info = json.loads(supervisor_get(join, "/db/info", ca_bytes, "server", password))
            urls = [u for m in info.get("members", []) for u in m.get("clientURLs", [])]
            remote = etcd_client(p, urls)
            added = remote.member_add([etcd.peer_url])
            members = added.get("members", [])
            cluster = ",".join(
                f"{m.get('name') or etcd.name}={m['peerURLs'][0]}" for m in members if m.get("peerURLs")
            )
            log("info", f"Joined etcd cluster as {etcd.name}: {cluster}")
            etcd_cli = etcd.start(cluster, "existing")
        else:
            etcd_cli = etcd.start(f"{etcd.name}={etcd.peer_url}", "new")
        store = fakeapi.EtcdStore(etcd_cli)
    else:
        store = fakeapi.JsonFileStore(os.path.join(p.db, "state.db.json"))
        log("info", f"Database: {store.describe()} ({FAKE_MARK} stand-in for kine/sqlite)")
    fakeapi.wait_for_store(store, 60)

    port = args.get("https-listen-port")
    sup = Supervisor(
        p,
        password,
        agent_token or password,
        version,
        etcd_cli,
        {
            "ClusterDomain": args.get("cluster-domain"),
            "ClusterDNS": (args.get("cluster-dns") or ["10.43.0.10"])[0],
            "ServiceCIDR": (args.get("service-cidr") or ["10.43.0.0/16"])[0],
            "ClusterIPRange": (args.get("cluster-cidr") or ["10.42.0.0/16"])[0],
            "FlannelBackend": args.get("flannel-backend"),
            "SystemDefaultRegistry": args.get("system-default-registry") or "",
            "Disables": args.get("disable") or [],
        },
    )
    cfg = fakeapi.APIServerConfig(
        cert_file=p.t("serving-kube-apiserver.crt"),
        key_file=p.t("serving-kube-apiserver.key"),
        client_ca_file=p.t("client-ca.crt"),
        bind_address=args.get("bind-address") or "0.0.0.0",
        secure_port=port,
        advertise_address=args.get("advertise-address") or ips[0],
        version=version,
        store=store,
        anonymous_auth=False,
        node_password_secrets=True,
        service_cluster_ip_range=(args.get("service-cidr") or ["10.43.0.0/16"])[0],
        node_monitor_grace_period=controller_arg(args, "node-monitor-grace-period", "40s"),
        node_monitor_period=controller_arg(args, "node-monitor-period", "5s"),
        extra_routes=[sup],
        verbose=bool(args.get("debug")),
    )
    api = fakeapi.FakeAPIServer(cfg)
    sup.api = api
    if etcd is not None:
        member = etcd.name
        remover = etcd_cli

        def forget_member(r: fakeapi.ResourceType, obj: dict[str, Any]) -> None:
            """k3s' etcd member controller: deleting a server's Node removes its member."""
            ann = obj.get("metadata", {}).get("annotations") or {}
            gone = ann.get("etcd.k3s.cattle.io/node-name", "")
            if r.plural != "nodes" or not gone or remover is None:
                return
            threading.Thread(
                target=remove_etcd_member,
                args=(remover, gone, obj["metadata"]["name"], member, stop),
                daemon=True,
            ).start()

        cfg.on_delete.append(forget_member)
    try:
        api.start()
    except OSError as exc:
        raise Fatal(f"failed to listen on {cfg.bind_address}:{port}: {exc}") from exc
    log(
        "info",
        f"Running kube-apiserver ({FAKE_MARK}) on {cfg.bind_address}:{port}, datastore {store.describe()}",
    )
    write_kubeconfig(args, p, port)
    local = (
        f"https://127.0.0.1:{port}"
        if cfg.bind_address in ("0.0.0.0", "")
        else f"https://{cfg.bind_address}:{port}"
    )
    admin = fakelib.KubeCreds(
        server=local,
        ca_pem=ca_bytes.decode(),
        cert_file=p.t("client-admin.crt"),
        key_file=p.t("client-admin.key"),
    )
    # k3s servers run kube-controller-manager and kube-scheduler in-process, each electing a leader through
    # its kube-system Lease (--leader-elect, true by default in both); --disable-controller-manager /
    # --disable-scheduler leave one out
    control = fake_controllers.LeasedLoops(
        fakelib.KubeClient(admin),
        stop,
        controllers=not args.get("disable-controller-manager"),
        scheduler=not args.get("disable-scheduler"),
    )
    control.thread.start()
    node: NodeAgent | None = None
    if not args.get("disable-agent"):
        node = run_agent_part(
            args,
            ["server", *argv],
            version,
            local,
            ca_bytes,
            agent_token or password,
            p,
            True,
            etcd.name if etcd else "",
            stop,
        )
    log("info", f"{PROGRAM} is up and running")
    fakelib.sd_notify("READY=1")
    try:
        while not stop.wait(1):
            if etcd is not None and etcd.proc is not None and etcd.proc.poll() is not None:
                raise Fatal(
                    f"etcd exited with code {etcd.proc.returncode}; see {os.path.join(p.db, 'etcd.log')}"
                )
            if node is not None:
                node.check()
    finally:
        stop.set()
        if node is not None:
            node.close()
        control.thread.join(10)
        api.stop()
        if etcd is not None:
            etcd.stop()
    log("info", "Shutting down (signal)")
    return 0


def run_agent(argv: list[str], version: str) -> int:
    fs = fakelib.FlagSet(AGENT_FLAGS)
    args = parse_command(fs, argv, "agent")
    p = Paths(args.get("data-dir"))
    log("info", f"Starting {PROGRAM} agent {version} ({FAKE_MARK})")
    server = args.get("server") or ""
    if not server:
        raise Fatal("--server is required")
    if not server.startswith("https://"):
        raise Fatal(f"--server must be an https:// URL, got {server!r}")
    token = Token.parse(read_token_arg(args, "token", "token-file") or args.get("cluster-secret") or "")
    if not token.password:
        raise Fatal("--token is required")
    stop = threading.Event()
    fakelib.install_term_handler(stop)
    hold_running_lock(p, "agent")
    # --disable-apiserver-lb: no load balancer (and no state file), only --server (pkg/agent/run.go)
    lb = None if args.get("disable-apiserver-lb") else AgentLoadBalancer.load(p, server)
    server, cacerts = fetch_cacerts(lb.urls() if lb is not None else [server], token)
    node = run_agent_part(
        args, ["agent", *argv], version, server, cacerts, token.password, p, False, "", stop, lb
    )
    log("info", f"{PROGRAM} agent is up and running")
    fakelib.sd_notify("READY=1")
    try:
        while not stop.wait(1):
            node.check()
    finally:
        stop.set()
        node.close()
    log("info", "Shutting down (signal)")
    return 0


def run_kubectl(argv: list[str]) -> int:
    """`k3s kubectl`: the real kubectl with KUBECONFIG defaulting to k3s.yaml."""
    env = dict(os.environ)
    if not env.get("KUBECONFIG"):
        env["KUBECONFIG"] = fakelib.host_path("/etc/rancher/k3s/k3s.yaml")
    kubectl = os.environ.get("SEALKIT_FAKE_KUBECTL", "") or "/usr/bin/kubectl"
    if not os.path.exists(kubectl):
        sys.stderr.write(f"k3s kubectl ({FAKE_MARK}): {kubectl} not found (apt install kubernetes-client)\n")
        return 1
    os.execve(kubectl, [kubectl, *argv], env)
    return 1  # not reached


def run_token(argv: list[str]) -> int:
    if argv[:1] == ["generate"]:
        print(f"{secrets.token_hex(3)}.{secrets.token_hex(8)}")
        return 0
    sys.stderr.write(f"k3s token {' '.join(argv[:1])}: not implemented by the {FAKE_MARK}\n")
    return 1


# ---- k3s certificate (pkg/cli/cert, pkg/util/services) -------------------------------------

CERT_USAGE = f"""NAME:
   k3s certificate - Manage K3s certificates ({FAKE_MARK})

USAGE:
   k3s certificate command [command options] [arguments...]

COMMANDS:
   rotate     Rotate K3s component certificates on disk
"""

AGENT_SERVICES = ("kube-proxy", "kubelet", f"{PROGRAM}-controller")
SERVER_SERVICES = (
    "admin",
    "api-server",
    "controller-manager",
    "scheduler",
    f"{PROGRAM}-controller",
    f"{PROGRAM}-server",
    "cloud-controller",
    "etcd",
    "auth-proxy",
)
ALL_SERVICES = (*SERVER_SERVICES, "kubelet", "kube-proxy")


def _pair(base: str) -> list[str]:
    return [base + ".crt", base + ".key"]


# service → its leaf files, relative to the data dir (never a CA, service.key, request-header-ca)
SERVICE_FILES: dict[str, list[str]] = {
    "admin": _pair("server/tls/client-admin"),
    "api-server": [
        *_pair("server/tls/client-kube-apiserver"),
        *_pair("server/tls/serving-kube-apiserver"),
        "server/tls/dynamic-cert.json",
    ],
    "controller-manager": _pair("server/tls/client-controller"),
    "scheduler": _pair("server/tls/client-scheduler"),
    "etcd": [
        *_pair("server/tls/etcd/client"),
        *_pair("server/tls/etcd/server-client"),
        *_pair("server/tls/etcd/peer-server-client"),
    ],
    "cloud-controller": _pair(f"server/tls/client-{PROGRAM}-cloud-controller"),
    f"{PROGRAM}-controller": [
        *_pair(f"server/tls/client-{PROGRAM}-controller"),
        *_pair(f"agent/client-{PROGRAM}-controller"),
    ],
    f"{PROGRAM}-server": ["server/tls/dynamic-cert.json"],
    "auth-proxy": _pair("server/tls/client-auth-proxy"),
    "kubelet": [
        "server/tls/client-kubelet.key",
        "server/tls/serving-kubelet.key",
        *_pair("agent/client-kubelet"),
        *_pair("agent/serving-kubelet"),
    ],
    "kube-proxy": [*_pair("server/tls/client-kube-proxy"), *_pair("agent/client-kube-proxy")],
}


def rotate_certificates(p: Paths, services: list[str], debug: bool = False) -> str:
    """Back up, then delete the services' leaves; returns the backup dir (k3s cert.rotate).

    Like k3s, the selected agent files are copied into the backup dir by their base name.
    """
    if not services:
        if os.path.isdir(p.server):
            log("info", "Server detected, rotating agent and server certificates")
            services = list(ALL_SERVICES)
        else:
            log("info", "Agent detected, rotating agent certificates")
            services = list(AGENT_SERVICES)
    services = list(dict.fromkeys(services))
    stamp = f"tls-{int(time.time())}"
    if os.path.isdir(p.tls):
        backup = os.path.join(p.server, stamp)
        shutil.copytree(p.tls, backup, symlinks=True, dirs_exist_ok=True)
    else:
        backup = os.path.join(p.agent, stamp)
    for svc in services:
        for rel in SERVICE_FILES[svc]:
            path = os.path.join(p.data, rel)
            if rel.startswith("agent/") and os.path.isfile(path):
                os.makedirs(backup, mode=0o700, exist_ok=True)
                shutil.copy2(path, os.path.join(backup, os.path.basename(rel)))
    for svc in services:
        log("info", f"Rotating certificates for {svc} service")
        for rel in SERVICE_FILES[svc]:
            path = os.path.join(p.data, rel)
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                if debug:
                    log("debug", f"file {path} is deleted")
    return backup


def run_certificate_rotate(argv: list[str]) -> int:
    fs = fakelib.FlagSet(CERT_ROTATE_FLAGS)
    # config.yaml is read only after `server`, `agent` and `etcd-snapshot` (pkg/configfilearg/defaultparser.go
    # DefaultParser.After; parser.go Parse returns the args unchanged otherwise): not for `certificate`
    args = fs.parse_go(argv)
    fs.apply_env(args)
    if args.positional:
        raise fakelib.FlagError(f"unexpected argument {args.positional[0]!r}")
    services = args.get("service") or []
    for svc in services:
        if svc not in ALL_SERVICES:
            raise Fatal(f"service {svc} is not recognized")
    p = Paths(args.get("data-dir") or "/var/lib/rancher/k3s")
    with stopped_lock(p):
        backup = rotate_certificates(p, services, bool(args.get("debug")))
    log(
        "info",
        f"Successfully backed up certificates to {backup}, please restart {PROGRAM} server or "
        f"agent to rotate certificates",
    )
    return 0


def run_certificate(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help", "h"):
        print(CERT_USAGE)
        return 0
    if argv[0] == "rotate":
        return run_certificate_rotate(argv[1:])
    if argv[0] in ("check", "rotate-ca"):
        sys.stderr.write(f"k3s certificate {argv[0]}: not implemented by the {FAKE_MARK}\n")
        return 1
    if argv[0].startswith("-"):
        raise fakelib.FlagError(f"flag provided but not defined: -{argv[0].lstrip('-').split('=')[0]}")
    sys.stderr.write(f"No help topic for '{argv[0]}'\n")
    return 3


def main(argv: list[str], version: str) -> int:
    """Entry point; returns the exit code the real k3s would."""
    global_fs = fakelib.FlagSet(
        [
            F("debug", "bool"),
            F("version", "bool", aliases=("v",)),
            F("help", "bool", aliases=("h",)),
        ]
    )
    i = 0
    global_args: list[str] = []
    while i < len(argv) and argv[i].startswith("-"):
        global_args.append(argv[i])
        i += 1
    try:
        g = global_fs.parse_go(global_args)
    except fakelib.FlagError as exc:
        sys.stderr.write(f"Incorrect Usage. {exc}\n\n{USAGE}")
        log("fatal", str(exc))
        return 1
    if g.get("version"):
        print(f"{PROGRAM} version {version} ({FAKE_MARK})")
        print("go version go1.22.5")
        return 0
    rest = argv[i:]
    if g.get("help") or not rest:
        print(USAGE)
        return 0
    cmd, sub = rest[0], rest[1:]
    if cmd not in SUBCOMMANDS:
        sys.stderr.write(f"No help topic for '{cmd}'\n")
        return 3
    try:
        if cmd == "server":
            return run_server(sub, version)
        if cmd == "agent":
            return run_agent(sub, version)
        if cmd == "kubectl":
            return run_kubectl(sub)
        if cmd == "token":
            return run_token(sub)
        if cmd == "certificate":
            return run_certificate(sub)
        if cmd in ("help", "h"):
            print(USAGE)
            return 0
        sys.stderr.write(f"k3s {cmd}: not implemented by the {FAKE_MARK}\n")
        return 1
    except fakelib.FlagError as exc:
        sys.stderr.write(f"Incorrect Usage: {exc}\n\n")
        log("fatal", str(exc))
        return 1
    except (Fatal, fakelib.FakeError, ssl.SSLError, OSError) as exc:
        log("fatal", str(exc))
        return 1

"""k0s CONTRACT FAKE for sealkit's tests (sealkit-contract-fake): never ship this.

Commands (cobra/pflag; unknown flags: "Error: unknown flag: --x"): version, install controller|
worker, start, stop, status, reset, controller [join-token], worker [join-token], token create
--role=worker|controller [--expiry], kubeconfig admin, kubectl, etcd member-list | leave.
Contract points:
  * per release, from tests/fakes/upstream/k0s/<release>.yaml (extracted at the k0s tags; a bundled
    fake reads the copies embedded in fakelib.EMBEDDED_UPSTREAM): the flags of
    `install controller|worker`, `token create`, `etcd leave` (unknown → pflag's
    "unknown flag: --x"), and the ClusterConfig fields, decoded as k0s does (unknown key under a
    strict type → "failed to load node config: error unmarshaling JSON: while decoding JSON:
    json: unknown field", dropped silently under APISpec/StorageSpec/...);
  * <data-dir>/images: every file is logged as the OCI bundle a worker would import at start,
  * /etc/k0s/k0s.yaml (k0s.k0sproject.io/v1beta1 ClusterConfig; -c to pick another, missing
    explicit file is an error), spec.api.{address,externalAddress,sans,port,k0sApiPort},
    spec.storage.{type etcd|kine, etcd.peerAddress, etcd.extraArgs}, spec.network.serviceCIDR,
  * leaf lifetimes: spec.api.ca / spec.storage.etcd.ca .certificatesExpireAfter (default 8760h;
    releases before v1.33.1 have no such field: one year),
  * PKI under <data-dir>/pki (default /var/lib/k0s/pki); a pre-placed ca.crt+ca.key is used,
  * join tokens are base64(gzip(kubeconfig)) holding a bootstrap token: worker tokens point at
    the API (6443), controller tokens at the k0s API (9443) which hands out the CA and adds the
    new controller to etcd (a real etcd, /usr/bin/etcd as a child),
  * workers TLS-bootstrap through a CSR the controller approves and signs (csr-approver),
  * `install` writes /etc/systemd/system/k0s{controller,worker}.service (refuses to overwrite
    without --force); `start`/`stop` use systemctl when systemd runs, else start the daemon
    detached with a pid file (like a SysV script); `reset` refuses while k0s runs,
  * --single uses kine (here: a JSON file) and runs a worker; --enable-worker taints the node
    node-role.kubernetes.io/control-plane:NoSchedule unless --no-taints.
Workers run k0s' containerd, pods and kube-proxy; controllers the controller-manager and scheduler
(see "the worker's node" below and tests/fakes/README.md).
Not faked: konnectivity, autopilot, helm extensions, node-local load balancing.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.server
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import (
        fake_components,
        fake_controllers,
        fake_cri,
        fake_kubelet,
        fake_pods,
        fake_proxy,
        fakeapi,
        fakelib,
    )
except ImportError:
    import fake_components  # type: ignore[no-redef]
    import fake_controllers  # type: ignore[no-redef]
    import fake_cri  # type: ignore[no-redef]
    import fake_kubelet  # type: ignore[no-redef]
    import fake_pods  # type: ignore[no-redef]
    import fake_proxy  # type: ignore[no-redef]
    import fakeapi  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

F = fakelib.Flag
FAKE_MARK = fakelib.FAKE_MARK
Fail = fakelib.FakeError

_PARENT = [
    F("data-dir", default="/var/lib/k0s"),
    F("debug", "bool", aliases=("d",)),
    F("verbose", "bool", aliases=("v",)),
    F("log-flush-frequency", "duration"),
    F("version", "opt"),
    F("help", "bool", aliases=("h",)),
    F("debugListenOn", default=":6060"),
    F("status-socket"),
]
_NODE = [
    F("cri-socket"),
    F("enable-cloud-provider", "bool"),
    F("iptables-mode"),
    F("kubelet-extra-args"),
    F("labels", "slice", split_commas=True),
    F("taints", "slice", split_commas=True),
    F("logging", "slice", aliases=("l",), split_commas=True),
    F("profile", default="default"),
    F("token-file"),
    F("ignore-pre-flight-checks", "bool"),
]
CONTROLLER_FLAGS = [
    *_PARENT,
    *_NODE,
    F("config", aliases=("c",), default="/etc/k0s/k0s.yaml"),
    F("disable-components", "slice", split_commas=True),
    F("enable-dynamic-config", "bool"),
    F("enable-k0s-cloud-provider", "bool"),
    F("enable-metrics-scraper", "bool"),
    F("enable-worker", "bool"),
    F("init-only", "bool"),
    F("k0s-cloud-provider-port", "int", 10258),
    F("k0s-cloud-provider-update-frequency", "duration"),
    F("kube-controller-manager-extra-args"),
    F("no-taints", "bool"),
    F("single", "bool"),
]
WORKER_FLAGS = [*_PARENT, *_NODE]
INSTALL_FLAGS = {
    "controller": [*CONTROLLER_FLAGS, F("force", "bool"), F("env", "slice", aliases=("e",))],
    "worker": [*WORKER_FLAGS, F("force", "bool"), F("env", "slice", aliases=("e",))],
}
TOKEN_FLAGS = [
    *_PARENT,
    F("config", aliases=("c",), default="/etc/k0s/k0s.yaml"),
    F("expiry", default="0s"),
    F("role", default="worker"),
    F("wait", "bool"),
]
SIMPLE_FLAGS = [
    *_PARENT,
    F("config", aliases=("c",), default="/etc/k0s/k0s.yaml"),
    F("cri-socket"),
    F("peer-address"),
    F("output", aliases=("o",)),
]


def hp(path: str) -> str:
    return fakelib.host_path(path)


def log(level: str, msg: str) -> None:
    fakelib.logrus(level, msg)


def kube_version(version: str) -> str:
    """k0s v1.30.4+k0s.0 runs Kubernetes components that report v1.30.4+k0s."""
    return version.split("+")[0] + "+k0s"


# ---- configuration --------------------------------------------------------------------------


DEFAULT_CERT_EXPIRY = "8760h"
_CERT_EXPIRY = re.compile(r"(?:[0-9]+[hms])+")


def expire_after_days(ca: Any, where: str) -> int:
    """`<where>.certificatesExpireAfter` (a Go duration; h/m/s units here) → whole days, ≥ 1."""
    if not isinstance(ca, dict):
        raise Fail(f"failed to load config: {where} must be a mapping, got {ca!r}")
    value = ca.get("certificatesExpireAfter", DEFAULT_CERT_EXPIRY)
    if not isinstance(value, str) or not _CERT_EXPIRY.fullmatch(value):
        raise Fail(
            f"failed to load config: {where}.certificatesExpireAfter: invalid duration {value!r} "
            f'(want a Go duration in h/m/s units, e.g. "8760h")'
        )
    return max(int(fakelib.parse_duration(value) // 86400), 1)


# ---- upstream data: ClusterConfig fields per release (tests/fakes/upstream/k0s/<release>.yaml) --------

UPSTREAM_TOOL = "k0s"
_RELEASE_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:\+k0s\.(\d+))?")


def release_key(version: str) -> tuple[int, int, int, int]:
    """``v1.33.1+k0s.0`` → (1, 33, 1, 0), the order k0s releases come in."""
    m = _RELEASE_RE.match(version.strip())
    if not m:
        raise Fail(f"{FAKE_MARK}: {version!r} is not a k0s release like v1.33.1+k0s.0")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4) or 0))


def upstream_texts() -> dict[str, str]:
    """Release → text of its data file: from ``upstream/k0s`` beside this module (tests, launcher), else
    the copies embedded in fakelib (``EMBEDDED_UPSTREAM``, keys ``k0s/<release>``), which a bundled fake
    (one file on a host) carries."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream", UPSTREAM_TOOL)
    if os.path.isdir(folder):
        return {
            name[: -len(".yaml")]: fakelib.read_text(os.path.join(folder, name))
            for name in sorted(os.listdir(folder))
            if name.endswith(".yaml")
        }
    prefix = UPSTREAM_TOOL + "/"
    embedded: dict[str, str] = getattr(fakelib, "EMBEDDED_UPSTREAM", {})
    return {k[len(prefix) :]: v for k, v in embedded.items() if k.startswith(prefix)}


def upstream_release(version: str) -> dict[str, Any] | None:
    """The data of the newest extracted release not newer than ``version`` (None: no data shipped).

    A version older than every extracted release is refused: the fake does not guess a schema."""
    texts = upstream_texts()
    if not texts:
        return None
    want = release_key(version)
    older = sorted((release_key(r), r) for r in texts if release_key(r) <= want)
    if not older:
        raise Fail(
            f"{FAKE_MARK}: no upstream data for k0s {version} (oldest extracted: "
            f"{min(texts, key=release_key)}); extract it with tests/fakes/upstream/k0s/extract.py"
        )
    data = fakelib.yaml_load(texts[older[-1][1]])
    if not isinstance(data, dict) or not isinstance(data.get("clusterconfig"), dict):
        raise Fail(f"{FAKE_MARK}: upstream data of k0s {older[-1][1]} has no clusterconfig section")
    return data


def check_flags(command: str, argv: list[str], version: str) -> None:
    """Refuse a flag ``command`` (e.g. ``install controller``) of k0s ``version`` does not define, with
    pflag's message (spf13/pflag flag.go: "unknown flag: --x", "unknown shorthand flag: 'x' in -x");
    cobra adds --help/-h to every command. Runs before the fake's own, looser flag table."""
    texts = upstream_texts()
    data = upstream_release(version) if texts else None
    if data is None:
        log("warning", f"{FAKE_MARK}: no upstream data shipped; flags of k0s {command} not checked")
        return
    flags: dict[str, Any] = (data.get("commands") or {}).get(command, {}).get("flags") or {}
    flags = {**flags, "help": {"short": "h", "value": False}}
    shorts = {str(v.get("short")): k for k, v in flags.items() if v.get("short")}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            return
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if name not in flags:
                raise fakelib.FlagError(f"unknown flag: --{name}")
            if "=" not in arg and flags[name].get("value"):
                i += 1
        elif arg.startswith("-") and len(arg) > 1:
            for pos, ch in enumerate(arg[1:]):
                if ch not in shorts:
                    raise fakelib.FlagError(f"unknown shorthand flag: {ch!r} in {arg}")
                if flags[shorts[ch]].get("value"):
                    i += 0 if arg[pos + 2 :] else 1
                    break


class UnknownField(Fail):
    """encoding/json's error for a key no field matches, under DisallowUnknownFields."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f'json: unknown field "{key}"')


def decode_clusterconfig(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Decode ``doc`` as the release's k0s does; returns it without the keys k0s drops.

    ClusterConfig's decoder refuses unknown keys (DisallowUnknownFields), but a type with its own
    UnmarshalJSON (``decoder: own``: APISpec, StorageSpec, Network, ...) re-decodes with plain
    json.Unmarshal, which drops unknown keys silently for itself and everything below it. Keys match
    fields exactly, else case-insensitively (encoding/json). Keys in ``ignored_unknown`` are
    forgiven (k0s internal/pkg/strictyaml).
    """
    types: dict[str, Any] = schema.get("types") or {}
    ignored = set(schema.get("ignored_unknown") or [])

    def walk(value: Any, kind: str, strict: bool) -> Any:
        if kind.startswith("[]"):
            return [walk(item, kind[2:], strict) for item in value] if isinstance(value, list) else value
        info = types.get(kind)
        if info is None or not isinstance(value, dict):
            return value
        fields: dict[str, str] = info.get("fields") or {}
        strict = strict and info.get("decoder") != "own"
        out: dict[str, Any] = {}
        for key, sub in value.items():
            name = key if key in fields else next((f for f in fields if f.lower() == str(key).lower()), None)
            if name is None:
                if strict and key not in ignored:
                    raise UnknownField(str(key))
                continue
            out[name] = walk(sub, fields[name], strict)
        return out

    return walk(doc, schema.get("root", "ClusterConfig"), True)


def load_config(path: str, explicit: bool, version: str = "") -> dict[str, Any]:
    """ClusterConfig with k0s' defaults for the fields the fake uses, decoded by the rules of the
    release ``version`` (k0s pkg/config CfgVars.NodeConfig → v1beta1 ConfigFromBytes); without a
    version, by the newest extracted release."""
    spec: dict[str, Any] = {}
    real = hp(path)
    if os.path.exists(real):
        try:
            doc = fakelib.yaml_load(fakelib.read_text(real)) or {}
        except fakelib.YamlError as exc:
            raise Fail(f"failed to load config: {exc}") from exc
        if doc.get("apiVersion") != "k0s.k0sproject.io/v1beta1" or doc.get("kind") not in (
            "ClusterConfig",
            "Cluster",
        ):
            raise Fail(
                f'failed to load config: no kind "{doc.get("kind")}" is registered for '
                f'version "{doc.get("apiVersion")}"'
            )
        texts = upstream_texts()
        data = upstream_release(version or max(texts, key=release_key)) if texts else None
        if data is None:
            log("warning", f"{FAKE_MARK}: no upstream data shipped with this fake; k0s.yaml is not checked")
        else:
            try:
                doc = decode_clusterconfig(doc, data["clusterconfig"])
            except UnknownField as exc:
                raise Fail(
                    f"failed to load node config: error unmarshaling JSON: while decoding JSON: {exc}"
                ) from exc
        spec = doc.get("spec") or {}
    elif explicit:
        raise Fail(f"failed to load config: open {path}: no such file or directory")
    api = dict(spec.get("api") or {})
    api.setdefault("address", fakelib.default_ip())
    api.setdefault("port", 6443)
    api.setdefault("k0sApiPort", 9443)
    api.setdefault("sans", [])
    storage = dict(spec.get("storage") or {})
    storage.setdefault("type", "etcd")
    etcd = dict(storage.get("etcd") or {})
    etcd.setdefault("peerAddress", api["address"])
    storage["etcd"] = etcd
    net = dict(spec.get("network") or {})
    net.setdefault("serviceCIDR", "10.96.0.0/12")
    net.setdefault("podCIDR", "10.244.0.0/16")
    net.setdefault("clusterDomain", "cluster.local")
    leaf_days = {
        "kubernetes": expire_after_days(api.get("ca") or {}, "spec.api.ca"),
        "etcd": expire_after_days(etcd.get("ca") or {}, "spec.storage.etcd.ca"),
    }
    return {"api": api, "storage": storage, "network": net, "leafDays": leaf_days, "raw": spec}


def extra_args_dict(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {}


def kubelet_extra(text: str) -> dict[str, str]:
    return fakelib.split_kv_list(a.lstrip("-") for a in (text or "").split())


# ---- tokens ---------------------------------------------------------------------------------


def encode_token(server: str, ca_pem: str, user: str, token: str) -> str:
    kc = fakelib.kubeconfig(server, ca_pem, token=token, cluster="k0s", user=user, context="k0s")
    return base64.b64encode(gzip.compress(kc.encode(), 9)).decode()


def decode_token(text: str) -> fakelib.KubeCreds:
    try:
        raw = gzip.decompress(base64.b64decode(text.strip()))
        cfg = fakelib.yaml_load(raw.decode())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
    except (ValueError, OSError, KeyError, IndexError, TypeError, fakelib.YamlError) as exc:
        raise Fail(f"failed to decode join token: {exc}") from exc
    return fakelib.KubeCreds(
        server=cluster["server"],
        ca_pem=base64.b64decode(cluster["certificate-authority-data"]).decode(),
        token=user.get("token", ""),
    )


def read_join_token(args: fakelib.ParsedArgs) -> str:
    if args.get("token-file"):
        try:
            return fakelib.read_text(hp(args.get("token-file"))).strip()
        except OSError as exc:
            raise Fail(f"failed to read token file: {exc}") from exc
    return args.positional[0] if args.positional else ""


# ---- PKI ------------------------------------------------------------------------------------


class Pki:
    def __init__(self, data_dir: str) -> None:
        self.dir = os.path.join(hp(data_dir), "pki")

    def p(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def ensure_cas(self) -> None:
        for base, cn in (
            ("ca", "kubernetes-ca"),
            ("front-proxy-ca", "kubernetes-front-proxy-ca"),
            ("etcd/ca", "etcd-ca"),
        ):
            crt, key = self.p(base + ".crt"), self.p(base + ".key")
            if os.path.exists(crt) != os.path.exists(key):
                raise Fail(f"{crt} and {key} must both exist (custom CA) or both be absent")
            if not os.path.exists(crt):
                os.makedirs(os.path.dirname(crt), exist_ok=True)
                fakelib.make_ca(crt, key, cn)
        if not os.path.exists(self.p("sa.key")):
            fakelib.write_file(self.p("sa.key"), fakelib.gen_key_pem(), 0o600)
            fakelib.write_file(
                self.p("sa.pub"), fakelib.run(["openssl", "pkey", "-in", self.p("sa.key"), "-pubout"]), 0o644
            )

    def leafs(self, cfg: dict[str, Any], node: str) -> None:
        api = cfg["api"]
        net = ipaddress.ip_network(cfg["network"]["serviceCIDR"].split(",")[0], strict=False)
        dns = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{cfg['network']['clusterDomain']}",
            "localhost",
            node,
        ]
        ips = ["127.0.0.1", str(net.network_address + 1), api["address"]]
        for s in [*api.get("sans", []), api.get("externalAddress", "")]:
            if not s:
                continue
            try:
                ips.append(str(ipaddress.ip_address(s)))
            except ValueError:
                dns.append(s)
        issue = fakelib.issue_cert
        kdays, edays = cfg["leafDays"]["kubernetes"], cfg["leafDays"]["etcd"]
        issue(
            self.p("ca.crt"),
            self.p("ca.key"),
            self.p("server.crt"),
            self.p("server.key"),
            fakelib.CertSpec("kube-apiserver", dns=tuple(dns), ips=tuple(ips), server=True, days=kdays),
        )
        issue(
            self.p("ca.crt"),
            self.p("ca.key"),
            self.p("k0s-api.crt"),
            self.p("k0s-api.key"),
            fakelib.CertSpec("k0s-api", dns=tuple(dns), ips=tuple(ips), server=True, days=kdays),
        )
        if not os.path.exists(self.p("admin.crt")) or not fakelib.verify_chain(
            self.p("ca.crt"), self.p("admin.crt")
        ):
            issue(
                self.p("ca.crt"),
                self.p("ca.key"),
                self.p("admin.crt"),
                self.p("admin.key"),
                fakelib.CertSpec("kubernetes-admin", ("system:masters",), client=True, days=kdays),
            )
        peer = cfg["storage"]["etcd"]["peerAddress"]
        eips = tuple(dict.fromkeys(["127.0.0.1", peer]))
        for base in ("server", "peer"):
            issue(
                self.p("etcd/ca.crt"),
                self.p("etcd/ca.key"),
                self.p(f"etcd/{base}.crt"),
                self.p(f"etcd/{base}.key"),
                fakelib.CertSpec(
                    node, dns=("localhost", node), ips=eips, server=True, client=True, days=edays
                ),
            )
        if not os.path.exists(self.p("apiserver-etcd-client.crt")):
            issue(
                self.p("etcd/ca.crt"),
                self.p("etcd/ca.key"),
                self.p("apiserver-etcd-client.crt"),
                self.p("apiserver-etcd-client.key"),
                fakelib.CertSpec("apiserver-etcd-client", client=True, days=edays),
            )
        host = api["address"] if api.get("onlyBindToAddress") else "localhost"
        fakelib.write_file(
            self.p("admin.conf"),
            fakelib.kubeconfig(
                f"https://{host}:{api['port']}",
                fakelib.read_text(self.p("ca.crt")),
                cert_pem=fakelib.read_text(self.p("admin.crt")),
                key_pem=fakelib.read_text(self.p("admin.key")),
                cluster="local",
                user="user",
                context="Default",
            ),
            0o600,
        )

    SHARED = (
        "ca.crt",
        "ca.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "sa.key",
        "sa.pub",
        "etcd/ca.crt",
        "etcd/ca.key",
    )


# ---- the k0s API (port 9443): CA hand-out and etcd membership for joining controllers --------


class K0sApi:
    """HTTPS on k0sApiPort: /v1beta1/ca and /v1beta1/etcd/members, bearer = controller token."""

    def __init__(
        self, pki: Pki, api: fakeapi.FakeAPIServer, etcd: fakelib.EtcdClient | None, bind: str, port: int
    ) -> None:
        self.pki, self.api, self.etcd = pki, api, etcd
        handler = self._handler()
        self.httpd = http.server.ThreadingHTTPServer((bind, port), handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.p("k0s-api.crt"), pki.p("k0s-api.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def authorized(self, token: str) -> bool:
        user = self.api.bootstrap_token_user(token)
        if user is None:
            return False
        tid = token.split(".", 1)[0]
        got = self.api.get_obj(fakeapi.SECRETS, "kube-system", f"bootstrap-token-{tid}")
        data = (got[0].get("data") or {}) if got else {}
        return base64.b64decode(data.get("usage-controller-join", "")).decode() == "true"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def reply(self, code: int, obj: Any) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self) -> None:
                auth = self.headers.get("Authorization", "")
                if not (auth.startswith("Bearer ") and outer.authorized(auth[7:].strip())):
                    self.reply(401, {"message": "unauthorized"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                if self.path == "/v1beta1/ca":
                    files = {}
                    for rel in Pki.SHARED:
                        path = outer.pki.p(rel)
                        if os.path.exists(path):
                            files[rel] = fakelib.b64(fakelib.read_bytes(path))
                    self.reply(200, files)
                elif self.path == "/v1beta1/etcd/members" and self.command == "POST":
                    if outer.etcd is None:
                        self.reply(400, {"message": "etcd is not the storage of this cluster"})
                        return
                    peer = f"https://{body['peerAddress']}:2380"
                    members = outer.etcd.member_add([peer]).get("members", [])
                    cluster = [
                        f"{m.get('name') or body['node']}={m['peerURLs'][0]}"
                        for m in members
                        if m.get("peerURLs")
                    ]
                    self.reply(200, {"initialCluster": cluster})
                else:
                    self.reply(404, {"message": "not found"})

            do_GET = handle_any
            do_POST = handle_any

        return Handler


# ---- run state (status / stop / reset) ------------------------------------------------------


def run_dir() -> str:
    return hp("/run/k0s")


def write_status(role: str, version: str, workloads: bool, single: bool) -> None:
    fakelib.write_file(
        os.path.join(run_dir(), "status.json"),
        json.dumps(
            {
                "Version": version,
                "Pid": os.getpid(),
                "Role": role,
                "Workloads": workloads,
                "SingleNode": single,
            }
        ),
        0o644,
    )


def running_status() -> dict[str, Any] | None:
    path = os.path.join(run_dir(), "status.json")
    try:
        st = json.loads(fakelib.read_text(path))
        os.kill(int(st["Pid"]), 0)
        return st
    except (OSError, ValueError, KeyError):
        return None


# ---- controller -----------------------------------------------------------------------------


def etcd_child(
    pki: Pki, data_dir: str, cfg: dict[str, Any], name: str, initial: str, state: str
) -> tuple[subprocess.Popen[bytes], fakelib.EtcdClient]:
    peer = cfg["storage"]["etcd"]["peerAddress"]
    extra = extra_args_dict(cfg["storage"]["etcd"].get("extraArgs"))
    args = {
        "name": name,
        "data-dir": os.path.join(hp(data_dir), "etcd"),
        "listen-client-urls": "https://127.0.0.1:2379",
        "advertise-client-urls": "https://127.0.0.1:2379",
        "listen-peer-urls": f"https://{peer}:2380",
        "initial-advertise-peer-urls": f"https://{peer}:2380",
        "initial-cluster": initial,
        "initial-cluster-state": state,
        "cert-file": pki.p("etcd/server.crt"),
        "key-file": pki.p("etcd/server.key"),
        "trusted-ca-file": pki.p("etcd/ca.crt"),
        "client-cert-auth": "true",
        "peer-cert-file": pki.p("etcd/peer.crt"),
        "peer-key-file": pki.p("etcd/peer.key"),
        "peer-trusted-ca-file": pki.p("etcd/ca.crt"),
        "peer-client-cert-auth": "true",
        "logger": "zap",
        "log-outputs": "stderr",
        **extra,
    }
    etcd = os.environ.get("SEALKIT_FAKE_ETCD", "") or shutil.which("etcd") or "/usr/bin/etcd"
    proc = fakelib.spawn_child(
        [etcd, *[f"--{k}={v}" for k, v in args.items()]], os.path.join(hp(data_dir), "etcd.log")
    )
    client_url = args["advertise-client-urls"].split(",")[0]
    client = fakelib.EtcdClient(
        [client_url],
        pki.p("etcd/ca.crt"),
        pki.p("apiserver-etcd-client.crt"),
        pki.p("apiserver-etcd-client.key"),
    )
    if (
        not fakelib.wait_until(lambda: client.health() or proc.poll() is not None, 60, 0.3)
        or proc.poll() is not None
    ):
        raise Fail(
            f"etcd did not become healthy (exit {proc.poll()}); see {os.path.join(data_dir, 'etcd.log')}"
        )
    return proc, client


def run_controller(argv: list[str], version: str) -> int:
    args = fakelib.FlagSet(CONTROLLER_FLAGS).parse_pflag(argv)
    if len(args.positional) > 1:
        raise Fail(f"accepts at most 1 arg(s), received {len(args.positional)}")
    cfg = load_config(args.get("config"), args.is_set("config"), version)
    data_dir = args.get("data-dir")
    pki = Pki(data_dir)
    single = args.get("single")
    worker = single or args.get("enable-worker")
    node = (
        kubelet_extra(args.get("kubelet-extra-args") or "").get("hostname-override") or fakelib.hostname()
    ).lower()
    token = read_join_token(args)
    log("info", f"k0s {version} ({FAKE_MARK}) starting controller on {node}")
    os.makedirs(pki.dir, mode=0o700, exist_ok=True)
    stop = threading.Event()
    fakelib.install_term_handler(stop)
    initial = ""
    if token and not os.path.isdir(os.path.join(hp(data_dir), "etcd", "member")):
        creds = decode_token(token)
        ctx = fakelib.client_ssl_context(ca_pem=creds.ca_pem)
        ctx.check_hostname = False
        hdr = {"Authorization": f"Bearer {creds.token}", "Content-Type": "application/json"}
        status, body, _ = fakelib.http_request(creds.server + "/v1beta1/ca", headers=hdr, context=ctx)
        if status != 200:
            raise Fail(
                f"failed to fetch the cluster CA from {creds.server}: HTTP {status} "
                "(invalid or expired controller token?)"
            )
        for rel, content in json.loads(body).items():
            path = pki.p(rel)
            data = base64.b64decode(content)
            if os.path.exists(path) and fakelib.read_bytes(path) != data:
                raise Fail(
                    f"{path} differs from the cluster's; place the same CA on every controller or none"
                )
            fakelib.write_file(path, data, 0o600 if rel.endswith(".key") else 0o644)
        if cfg["storage"]["type"] == "etcd":
            status, body, _ = fakelib.http_request(
                creds.server + "/v1beta1/etcd/members",
                method="POST",
                headers=hdr,
                context=ctx,
                body=json.dumps(
                    {"node": node, "peerAddress": cfg["storage"]["etcd"]["peerAddress"]}
                ).encode(),
            )
            if status != 200:
                raise Fail(f"failed to join etcd: HTTP {status}: {body[:200]!r}")
            initial = ",".join(json.loads(body)["initialCluster"])
    pki.ensure_cas()
    pki.leafs(cfg, node)
    etcd_proc = None
    etcd_cli = None
    if cfg["storage"]["type"] == "kine" or (single and not cfg["raw"].get("storage")):
        store: fakeapi.Store = fakeapi.JsonFileStore(os.path.join(hp(data_dir), "db", "state.db.json"))
    elif cfg["storage"]["type"] == "etcd":
        peer = cfg["storage"]["etcd"]["peerAddress"]
        has_data = os.path.isdir(os.path.join(hp(data_dir), "etcd", "member"))
        state = "existing" if (initial or has_data) else "new"
        etcd_proc, etcd_cli = etcd_child(
            pki, data_dir, cfg, node, initial or f"{node}=https://{peer}:2380", state
        )
        store = fakeapi.EtcdStore(etcd_cli)
    else:
        raise Fail(f"unsupported storage type {cfg['storage']['type']!r}")
    fakeapi.wait_for_store(store, 60)
    api_cfg = cfg["api"]
    apiserver = fakeapi.FakeAPIServer(
        fakeapi.APIServerConfig(
            cert_file=pki.p("server.crt"),
            key_file=pki.p("server.key"),
            client_ca_file=pki.p("ca.crt"),
            bind_address=api_cfg["address"] if api_cfg.get("onlyBindToAddress") else "0.0.0.0",
            secure_port=int(api_cfg["port"]),
            advertise_address=api_cfg["address"],
            version=kube_version(version),
            store=store,
            anonymous_auth=False,
            service_cluster_ip_range=cfg["network"]["serviceCIDR"],
        )
    )
    apiserver.start()
    k0s_api = K0sApi(pki, apiserver, etcd_cli, apiserver.cfg.bind_address, int(api_cfg["k0sApiPort"]))
    k0s_api.start()
    admin = fakelib.KubeClient(
        fakelib.KubeCreds(
            server=f"https://{api_cfg['address']}:{api_cfg['port']}",
            ca_pem=fakelib.read_text(pki.p("ca.crt")),
            cert_file=pki.p("admin.crt"),
            key_file=pki.p("admin.key"),
        )
    )
    approver = threading.Thread(target=csr_approver, args=(admin, pki, stop), daemon=True)
    approver.start()
    disabled = set(args.get("disable-components") or [])
    fake_controllers.LeasedLoops(
        admin, stop, "kube-controller-manager" not in disabled, "kube-scheduler" not in disabled
    ).thread.start()
    node_parts: WorkerNode | None = None
    if worker:
        labels = {
            "node-role.kubernetes.io/control-plane": "true",
            **fakelib.split_kv_list(args.get("labels") or []),
        }
        taints = (
            []
            if args.get("no-taints") or single
            else [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
        )
        taints += [fakelib.parse_taint(t) for t in args.get("taints") or []]
        ip = register_local(admin, node, args, version, labels, taints, stop)
        node_parts = start_worker_node(data_dir, version, admin, node, ip, stop, "kube-proxy" not in disabled)
    write_status("controller+worker" if worker else "controller", version, bool(worker), bool(single))
    log("info", f"k0s controller is running ({FAKE_MARK})")
    fakelib.sd_notify("READY=1")
    try:
        while not stop.wait(1):
            if etcd_proc is not None and etcd_proc.poll() is not None:
                raise Fail(f"etcd exited with code {etcd_proc.returncode}")
            if node_parts is not None:
                node_parts.check()
    finally:
        stop.set()
        if node_parts is not None:
            node_parts.close()
        k0s_api.stop()
        apiserver.stop()
        fakelib.stop_child(etcd_proc)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(run_dir(), "status.json"))
    return 0


def csr_approver(client: fakelib.KubeClient, pki: Pki, stop: threading.Event) -> None:
    while not stop.wait(1):
        try:
            fake_components.csr_pass(client, pki.p("ca.crt"), pki.p("ca.key"), 365)
        except fakelib.FakeError as exc:
            log("warning", f"csr-approver: {exc}")


def oci_bundles(data_dir: str) -> list[str]:
    """The files a real k0s worker imports from <data-dir>/images at start: every regular file
    (k0s v1.33.9 pkg/component/worker/ocibundle.go loadAll, which also watches the directory)."""
    images = os.path.join(hp(data_dir), "images")
    if not os.path.isdir(images):
        return []
    return [
        os.path.join(images, n) for n in sorted(os.listdir(images)) if os.path.isfile(os.path.join(images, n))
    ]


def load_oci_bundles(data_dir: str, ctr: fake_cri.Ctr | None = None) -> list[str]:
    """Import each bundle into containerd's k8s.io namespace as k0s does at worker start; a bundle that
    fails is logged and skipped ("Failed to load OCI bundle", ocibundle.go). Without a container
    runtime (loopback roots) each is only logged. Returns the bundles not failed."""
    found = oci_bundles(data_dir)
    if not found:
        return []
    log("info", "Loading OCI bundles directory")
    done = []
    for path in found:
        log("info", f"Loading OCI bundle {path}")
        if ctr is None:
            log("info", f"OCI bundle {path} loaded ({FAKE_MARK}: not imported, no container runtime)")
            done.append(path)
            continue
        try:
            ctr.run_ctr("images", "import", path, timeout=600)
        except (fakelib.FakeError, subprocess.TimeoutExpired) as exc:
            log("error", f"Failed to load OCI bundle {path}: {exc}")
            continue
        log("info", f"OCI bundle {path} loaded")
        done.append(path)
    return done


def register_local(
    client: fakelib.KubeClient,
    node: str,
    args: fakelib.ParsedArgs,
    version: str,
    labels: dict[str, str],
    taints: list[dict[str, str]],
    stop: threading.Event,
) -> str:
    """Register and heartbeat the Node as k0s' kubelet does; returns the node's IP."""
    extra = kubelet_extra(args.get("kubelet-extra-args") or "")
    ips = [i for i in extra.get("node-ip", "").split(",") if i] or [fakelib.default_ip()]
    obj = fakelib.node_object(
        node, ips, [], kube_version(version), labels, taints, {"sealkit.io/fake": FAKE_MARK}, instance_type=""
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            fakelib.register_node(client, obj, log)
            break
        except fakelib.FakeError as exc:
            if time.monotonic() > deadline:
                raise Fail(f"failed to register node {node}: {exc}") from exc
            time.sleep(1)
    freq = fakelib.parse_duration(extra.get("node-status-update-frequency", "10s"))
    threading.Thread(target=fakelib.heartbeat_loop, args=(client, node, freq, stop, log), daemon=True).start()
    return ips[0]


# ---- the worker's node: k0s' containerd, the kubelet's pod workers, kube-proxy -------------------
#
# Upstream (k0s v1.33.9+k0s.0 and v1.36.3+k0s.0, pkg/component/worker/containerd/component.go and
# configurer.go): a worker stages containerd, its shims and runc into <data-dir>/bin (first in the
# supervised process's PATH, pkg/supervisor/supervisor.go) and runs
# `containerd --root=<data-dir>/containerd --state=<run-dir>/containerd --address=<run-dir>/containerd.sock
# --log-level=… --config=/etc/k0s/containerd.toml` (run-dir /run/k0s). It writes that config itself while
# its first line is `# k0s_managed=true` (or the file is missing); before v1.36: `version = 2`,
# `imports` = the drop-ins of /etc/k0s/containerd.d/*.toml WITHOUT a CRI section, plus
# <run-dir>/containerd-cri.toml = the default CRI config merged with every drop-in that HAS a
# `plugins."io.containerd.grpc.v1.cri"` section; from v1.36 (containerd 2): `version = 3`,
# `imports = ["/etc/k0s/containerd.d/*.toml"]` and the CRI images/runtime plugins inline. Drop-in
# changes restart containerd (watchDropinConfigs). The kubelet's root dir is <data-dir>/kubelet.
# kube-proxy is a DaemonSet the controller applies (pkg/component/controller/kubeproxy.go), so it runs
# on every worker, controller+worker included.
# The fake: the host's containerd (Debian's 1.6) plays k0s' with those paths, staged shim and runc;
# /etc/k0s/containerd.toml (+ containerd-cri.toml) are written as above and are what the fake kubelet's
# pulls read (fake_cri follows `imports`), but the host binary itself runs with an equivalent
# <run-dir>/containerd-sealkit-fake.toml (CRI plugin off, opt dir under the containerd root): 1.6 cannot
# read `version = 3`, and the fake drives containerd through `ctr` (fake_cri), not CRI. On an overlay
# root (the lab's hosts) the native snapshotter replaces overlayfs, as in the fake k3s.

CONTAINERD_CONF = "/etc/k0s/containerd.toml"
CONTAINERD_DROPINS = "/etc/k0s/containerd.d"
MANAGED_MARK = "# k0s_managed=true"
CRI_V1 = "io.containerd.grpc.v1.cri"
CONTAINERD_V3_SINCE = (1, 36)
#: pkg/constant/constant.go KubePauseContainerImage:KubePauseContainerImageVersion (3.10.1 at v1.33.1,
#: v1.34.1, v1.35.1; 3.10.2-0 at v1.36.1 and v1.36.3)
PAUSE_IMAGE = "quay.io/k0sproject/pause:3.10.1"
PAUSE_IMAGE_V3 = "quay.io/k0sproject/pause:3.10.2-0"
STAGED_BINARIES = ("containerd-shim-runc-v2", "runc")
KUBELET_PORT = 10250


def toml_dumps(doc: dict[str, Any], prefix: str = "") -> str:
    """A small TOML emitter (strings, numbers, booleans, lists of those, nested tables): enough for
    the containerd configs k0s writes."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)

    scalars = [(k, v) for k, v in doc.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in doc.items() if isinstance(v, dict)]
    out = [f"[{prefix}]"] if prefix and (scalars or not tables) else []
    out += [f"{key(k)} = {value(v)}" for k, v in scalars]
    for k, v in tables:
        sub = toml_dumps(v, f"{prefix}.{key(k)}" if prefix else key(k)).rstrip("\n")
        out += ["", sub] if out else [sub]
    return "\n".join(out) + "\n" if out else ""


def merge_patch(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key, anything else is replaced (mesosphere/toml-merge, as k0s uses it)."""
    out = dict(base)
    for k, v in patch.items():
        out[k] = merge_patch(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def containerd_managed(path: str) -> bool:
    """isK0sManagedConfig: a missing file, or one whose first non-empty line is the marker."""
    if not os.path.exists(path):
        return True
    for line in fakelib.read_text(path).splitlines():
        if line.strip():
            return line.strip() == MANAGED_MARK
    return True


def write_containerd_config(version: str) -> str:
    """k0s' /etc/k0s/containerd.toml (and before v1.36 <run-dir>/containerd-cri.toml) from the drop-ins;
    returns the config the CRI plugin would read (the fake kubelet's pulls follow its imports)."""
    conf = hp(CONTAINERD_CONF)
    if not containerd_managed(conf):
        log(
            "info", f"containerd config file {CONTAINERD_CONF} is not k0s managed, skipping config generation"
        )
        return conf
    dropins = hp(CONTAINERD_DROPINS)
    os.makedirs(dropins, mode=0o755, exist_ok=True)
    header = (
        f"{MANAGED_MARK}\n# This is a placeholder configuration for k0s managed containerd.\n"
        f"# ({FAKE_MARK}: written as k0s writes it)\n"
    )
    if release_key(version)[:2] >= CONTAINERD_V3_SINCE:
        doc: dict[str, Any] = {
            "version": 3,
            "imports": [os.path.join(CONTAINERD_DROPINS, "*.toml")],
            "plugins": {
                "io.containerd.cri.v1.images": {"pinned_images": {"sandbox": PAUSE_IMAGE_V3}},
                "io.containerd.cri.v1.runtime": {},
            },
        }
        fakelib.write_file(conf, header + toml_dumps(doc), 0o644)
        return conf
    cri: dict[str, Any] = {"version": 2, "plugins": {CRI_V1: {"sandbox_image": PAUSE_IMAGE}}}
    imports = []
    for path in glob_toml(dropins):
        try:
            with open(path, "rb") as fh:
                part = fake_cri.tomllib.load(fh)
        except (OSError, ValueError) as exc:
            raise Fail(f"failed to check for CRI plugin configuration in {path}: {exc}") from exc
        if CRI_V1 in (part.get("plugins") or {}):
            log("info", f"Found CRI plugin configuration in {path}, treating as merge patch")
            cri = merge_patch(cri, part)
        else:
            imports.append(os.path.join(CONTAINERD_DROPINS, os.path.basename(path)))
    fakelib.write_file(os.path.join(run_dir(), "containerd-cri.toml"), toml_dumps(cri), 0o644)
    cri_ref = "/run/k0s/containerd-cri.toml"  # as the host sees it (fake_cri maps it under a fake root)
    fakelib.write_file(conf, header + toml_dumps({"version": 2, "imports": [*imports, cri_ref]}), 0o644)
    return conf


def glob_toml(directory: str) -> list[str]:
    """`<directory>/*.toml` in Go's filepath.Glob order (lexical), as k0s reads its drop-ins."""
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".toml"))


def stage_binaries(data_dir: str) -> str:
    """Copy the host's shim and runc to <data-dir>/bin as k0s stages its own (assets.Stage); returns it."""
    bin_dir = os.path.join(hp(data_dir), "bin")
    os.makedirs(bin_dir, mode=0o755, exist_ok=True)
    for name in STAGED_BINARIES:
        src = shutil.which(name) or f"/usr/bin/{name}"
        dst = os.path.join(bin_dir, name)
        if not os.path.exists(dst) or os.path.getsize(dst) != os.path.getsize(src):
            shutil.copyfile(src, dst + ".tmp")
            os.chmod(dst + ".tmp", 0o755)
            os.replace(dst + ".tmp", dst)
    return bin_dir


def snapshotter_for(root: str) -> str:
    if fake_cri.filesystem_type(os.path.dirname(root)) != "overlay":
        return "overlayfs"
    log("warning", f'{FAKE_MARK}: "{root}" is on overlay; containerd uses the native snapshotter')
    return "native"


def k0s_containerd(data_dir: str, version: str) -> fake_cri.ManagedContainerd | None:
    """The worker's containerd (see the section comment); None where the fake cannot run one (loopback
    roots, not root, no containerd binary): pods then stay Pending, with a warning."""
    binary = fake_cri.containerd_binary(log)
    if not binary:
        return None
    registry_config = write_containerd_config(version)
    data, run = hp(data_dir), run_dir()
    root = os.path.join(data, "containerd")
    os.makedirs(root, mode=0o700, exist_ok=True)
    snapshotter = snapshotter_for(root)
    os.environ["CONTAINERD_SNAPSHOTTER"] = snapshotter  # what `ctr` (fake_cri) and `k0s ctr` use
    own = os.path.join(run, "containerd-sealkit-fake.toml")
    fakelib.write_file(
        own,
        f"# {FAKE_MARK}: the host's containerd runs with this instead of {CONTAINERD_CONF} "
        "(see fake_k0s)\nversion = 2\n"
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n\n'
        '[plugins."io.containerd.internal.v1.opt"]\n'
        f"  path = {json.dumps(os.path.join(root, 'opt'))}\n",
        0o644,
    )
    sock = os.path.join(run, "containerd.sock")
    args = [
        f"--root={root}",
        f"--state={os.path.join(run, 'containerd')}",
        f"--address={sock}",
        "--log-level=info",
        f"--config={own}",
    ]
    return fake_cri.ManagedContainerd(
        binary, args, sock, registry_config, os.path.join(data, "containerd.log"), stage_binaries(data_dir)
    )


@dataclass
class WorkerNode:
    """What a worker runs besides its Node heartbeat; `close` stops pods, ports, then containerd."""

    containerd: fake_cri.ManagedContainerd | None
    runner: fake_pods.PodRunner | None
    proxy: fake_proxy.NodePortProxy | None
    server: fake_pods.KubeletServer | None
    stop: threading.Event

    def loop(self) -> None:
        while not self.stop.wait(1):
            for name, part in (("pod sync", self.runner), ("kube-proxy sync", self.proxy)):
                if part is None:
                    continue
                try:
                    part.sync()
                except (fakelib.FakeError, OSError) as exc:
                    log("warning", f"{name} failed (will retry): {exc}")

    def check(self) -> None:
        if self.containerd is not None:
            self.containerd.check()

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.proxy is not None:
            self.proxy.close()
        if self.containerd is not None:
            self.containerd.stop()


def start_worker_node(
    data_dir: str,
    version: str,
    client: fakelib.KubeClient,
    node: str,
    ip: str,
    stop: threading.Event,
    with_proxy: bool,
) -> WorkerNode:
    """containerd, bundles imported, then the pod workers, the kubelet's port and kube-proxy's
    forwarder (unless `--disable-components kube-proxy`), synced once a second."""
    containerd = k0s_containerd(data_dir, version)
    ctr = containerd.start() if containerd is not None else None
    load_oci_bundles(data_dir, ctr)
    if ctr is None:
        return WorkerNode(None, None, None, None, stop)
    runner = fake_pods.PodRunner(client, node, ip, os.path.join(hp(data_dir), "kubelet"), ctr)
    try:
        server = fake_pods.KubeletServer.serve(
            (ip, KUBELET_PORT), runner, os.path.join(hp(data_dir), "kubelet", "pki"), node
        )
    except OSError as exc:
        log("warning", f"kubelet server on {ip}:{KUBELET_PORT}: {exc}; no logs served")
        server = None
    proxy = fake_proxy.NodePortProxy(client, cluster_ips=True) if with_proxy else None
    wn = WorkerNode(containerd, runner, proxy, server, stop)
    threading.Thread(target=wn.loop, name="k0s-worker", daemon=True).start()
    return wn


# ---- worker ---------------------------------------------------------------------------------


def run_worker(argv: list[str], version: str) -> int:
    args = fakelib.FlagSet(WORKER_FLAGS).parse_pflag(argv)
    token = read_join_token(args)
    data_dir = hp(args.get("data-dir"))
    kubeconfig = os.path.join(data_dir, "kubelet.conf")
    node = (
        kubelet_extra(args.get("kubelet-extra-args") or "").get("hostname-override") or fakelib.hostname()
    ).lower()
    stop = threading.Event()
    fakelib.install_term_handler(stop)
    log("info", f"k0s {version} ({FAKE_MARK}) starting worker {node}")
    if not os.path.exists(kubeconfig):
        if not token:
            raise Fail(
                "normal kubelet kubeconfig does not exist and no join-token given. "
                "dunno how to make kubelet auth to api"
            )
        creds = decode_token(token)
        boot_path = os.path.join(data_dir, "kubelet-bootstrap.conf")
        fakelib.write_file(
            boot_path, fakelib.kubeconfig(creds.server, creds.ca_pem, token=creds.token), 0o600
        )
        fake_kubelet.tls_bootstrap(
            boot_path, kubeconfig, os.path.join(data_dir, "kubelet", "pki"), node, stop
        )
    client = fakelib.KubeClient(fakelib.load_kubeconfig(kubeconfig))
    labels = fakelib.split_kv_list(args.get("labels") or [])
    taints = [fakelib.parse_taint(t) for t in args.get("taints") or []]
    ip = register_local(client, node, args, version, labels, taints, stop)
    node_parts = start_worker_node(args.get("data-dir"), version, client, node, ip, stop, True)
    write_status("worker", version, True, False)
    log("info", f"k0s worker is running ({FAKE_MARK})")
    fakelib.sd_notify("READY=1")
    try:
        while not stop.wait(1):
            node_parts.check()
    finally:
        stop.set()
        node_parts.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(run_dir(), "status.json"))
    return 0


# ---- service management ---------------------------------------------------------------------


def systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system") and not os.environ.get("SEALKIT_FAKE_ROOT")


def unit_path(role: str) -> str:
    return hp(f"/etc/systemd/system/k0s{role}.service")


def installed_role() -> str:
    for role in ("controller", "worker"):
        if os.path.exists(unit_path(role)):
            return role
    return ""


def cmd_install(role: str, argv: list[str], version: str) -> int:
    check_flags(f"install {role}", argv, version)
    args = fakelib.FlagSet(INSTALL_FLAGS[role]).parse_pflag(argv)
    if os.geteuid() != 0:
        raise Fail("this command must be run as root!")
    if installed_role() and not args.get("force"):
        raise Fail(
            f"failed to install k0s service: Init already exists: "
            f"/etc/systemd/system/k0s{installed_role()}.service"
        )
    if args.get("token-file") and not os.path.exists(hp(args.get("token-file"))):
        raise Fail(f"failed to read token file: open {args.get('token-file')}: no such file")
    if args.is_set("config"):
        load_config(args.get("config"), True, version)
    exe = os.path.realpath(sys.argv[0])
    passed = [a for a in argv if a not in ("--force",) and not a.startswith("--env")]
    env = [f'Environment="{e}"' for e in args.get("env") or []]
    unit = "\n".join(
        [
            "[Unit]",
            f"Description=k0s - Zero Friction Kubernetes ({FAKE_MARK})",
            "Documentation=https://docs.k0sproject.io",
            "ConditionFileIsExecutable=" + exe,
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "StartLimitInterval=5",
            "StartLimitBurst=10",
            f"ExecStart={shlex.join([exe, role, *passed])}",
            *env,
            "RestartSec=10",
            "Delegate=yes",
            "KillMode=process",
            "LimitCORE=infinity",
            "TasksMax=infinity",
            "TimeoutStartSec=0",
            "LimitNOFILE=999999",
            "Restart=always",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
    fakelib.write_file(unit_path(role), unit, 0o644)
    if systemd_running():
        subprocess.run(["systemctl", "daemon-reload"], check=False, capture_output=True)
        subprocess.run(["systemctl", "enable", f"k0s{role}.service"], check=False, capture_output=True)
    log("info", f"Installed k0s {role} service ({FAKE_MARK})")
    return 0


def pid_file(role: str) -> str:
    return hp(f"/var/run/k0s{role}.pid")


def cmd_start(version: str) -> int:
    role = installed_role()
    if not role:
        raise Fail("k0s has not been installed as a service")
    if systemd_running():
        proc = subprocess.run(
            ["systemctl", "start", f"k0s{role}.service"], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise Fail(proc.stderr.strip())
        return 0
    if running_status() is not None:
        return 0
    unit = fakelib.read_text(unit_path(role))
    line = next(ln for ln in unit.splitlines() if ln.startswith("ExecStart="))
    cmd = shlex.split(line[len("ExecStart=") :])
    env = dict(os.environ)
    for ln in unit.splitlines():
        if ln.startswith("Environment="):
            key, _, value = ln[len("Environment=") :].strip('"').partition("=")
            env[key] = value
    log_path = hp(f"/var/log/k0s{role}.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, *cmd],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    fakelib.write_file(pid_file(role), f"{proc.pid}\n", 0o644)
    log("info", f"started k0s{role} (pid {proc.pid}) without systemd ({FAKE_MARK})")
    return 0


def cmd_stop() -> int:
    role = installed_role()
    if not role:
        raise Fail("k0s has not been installed as a service")
    if systemd_running():
        subprocess.run(["systemctl", "stop", f"k0s{role}.service"], check=False)
        return 0
    try:
        pid = int(fakelib.read_text(pid_file(role)).strip())
    except (OSError, ValueError):
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    fakelib.wait_until(lambda: not _alive(pid), 30)
    os.remove(pid_file(role))
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        stat = fakelib.read_text(f"/proc/{pid}/stat")
        return stat.split(")")[-1].split()[0] != "Z"
    return True


def cleanup_containers(data_dir: str, version: str) -> None:
    """k0s' reset "containers" step (v1.33.9 pkg/cleanup/containers.go): start the managed containerd,
    stop and remove every container it has, stop it again; a containerd that does not start is
    logged and the step skipped, as upstream does."""
    if not os.path.isdir(os.path.join(hp(data_dir), "containerd")):
        return
    containerd = k0s_containerd(data_dir, version)
    if containerd is None:
        return
    try:
        ctr = containerd.start()
    except (fakelib.FakeError, OSError) as exc:
        log("warning", f"Failed to start containerd, skipping container cleanup: {exc}")
        containerd.stop()
        return
    try:
        for cid in ctr.run_ctr("containers", "ls", "-q").split():
            ctr.remove(cid)
        if not ctr.run_ctr("containers", "ls", "-q").split():
            log("info", "successfully removed k0s containers!")
    except fakelib.FakeError as exc:
        log("warning", f"error stopping containers: {exc}")
    finally:
        containerd.stop()


def unmount_under(bases: list[str]) -> None:
    """k0s' reset "directories" step (pkg/cleanup/directories.go): every mount under the data and run
    dirs, newest first, lazily when a plain unmount fails; an unmountable path is an error."""
    mounts = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4:
                mounts.append(fields[4].replace("\\040", " "))
    for path in reversed(mounts):
        if not any(path.startswith(b.rstrip("/") + "/") for b in bases):
            continue
        log("info", f"{path} is mounted! attempting to unmount...")
        if subprocess.run(["umount", path], capture_output=True, check=False).returncode == 0:
            continue
        log("warning", f"lazy unmounting {path}")
        if subprocess.run(["umount", "-l", path], capture_output=True, check=False).returncode != 0:
            raise Fail(f"failed unmount {path}")


def cmd_reset(argv: list[str], version: str) -> int:
    args = fakelib.FlagSet(SIMPLE_FLAGS).parse_pflag(argv)
    if os.geteuid() != 0:
        raise Fail("this command must be run as root!")
    if running_status() is not None:
        raise Fail("k0s seems to be running! please stop k0s before reset.")
    for role in ("controller", "worker"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(unit_path(role))
    cleanup_containers(args.get("data-dir"), version)
    unmount_under([hp(args.get("data-dir")), run_dir()])
    shutil.rmtree(hp(args.get("data-dir")), ignore_errors=True)
    shutil.rmtree(run_dir(), ignore_errors=True)
    log("info", "k0s cleanup operations done.")
    log("warning", "To ensure a full reset, a node reboot is recommended.")
    return 0


def cmd_status() -> int:
    st = running_status()
    if st is None:
        sys.stderr.write(
            'Error: status: can\'t get "status" via "/run/k0s/status.sock": k0s is not running\n'
        )
        return 1
    print(
        f"Version: {st['Version']}\nProcess ID: {st['Pid']}\nRole: {st['Role']}\n"
        f"Workloads: {str(st['Workloads']).lower()}\nSingleNode: "
        f"{str(st['SingleNode']).lower()}"
    )
    return 0


def cmd_token_create(argv: list[str], version: str) -> int:
    check_flags("token create", argv, version)
    args = fakelib.FlagSet(TOKEN_FLAGS).parse_pflag(argv)
    role = args.get("role")
    if role not in ("worker", "controller"):
        raise Fail(f'unsupported role "{role}"; supported roles are "worker" and "controller"')
    cfg = load_config(args.get("config"), args.is_set("config"), version)
    pki = Pki(args.get("data-dir"))
    if not os.path.exists(pki.p("admin.conf")):
        raise Fail(
            f"failed to create join token: k0s controller is not running here ({pki.p('admin.conf')} missing)"
        )
    creds = fakelib.load_kubeconfig(pki.p("admin.conf"))
    creds.server = f"https://{cfg['api']['address']}:{cfg['api']['port']}"
    client = fakelib.KubeClient(creds)
    tid, secret = secrets.token_hex(3), secrets.token_hex(8)
    data = {
        "token-id": tid,
        "token-secret": secret,
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": "system:bootstrappers:" + ("worker" if role == "worker" else "controller"),
    }
    if role == "controller":
        data["usage-controller-join"] = "true"
    expiry = fakelib.parse_duration(args.get("expiry"))
    if expiry > 0:
        data["expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expiry))
    client.request(
        "POST",
        "/api/v1/namespaces/kube-system/secrets",
        {
            "metadata": {"name": f"bootstrap-token-{tid}"},
            "type": "bootstrap.kubernetes.io/token",
            "stringData": data,
        },
    )
    host = cfg["api"].get("externalAddress") or cfg["api"]["address"]
    port = cfg["api"]["port"] if role == "worker" else cfg["api"]["k0sApiPort"]
    user = "kubelet-bootstrap" if role == "worker" else "controller-bootstrap"
    print(encode_token(f"https://{host}:{port}", fakelib.read_text(pki.p("ca.crt")), user, f"{tid}.{secret}"))
    return 0


def cmd_etcd(sub: str, argv: list[str], version: str) -> int:
    if sub == "leave":
        check_flags("etcd leave", argv, version)
    args = fakelib.FlagSet(SIMPLE_FLAGS).parse_pflag(argv)
    pki = Pki(args.get("data-dir"))
    cfg = load_config(args.get("config"), args.is_set("config"), version)
    extra = extra_args_dict(cfg["storage"]["etcd"].get("extraArgs"))
    url = extra.get("advertise-client-urls", "https://127.0.0.1:2379").split(",")[0]
    cli = fakelib.EtcdClient(
        [url],
        pki.p("etcd/ca.crt"),
        pki.p("apiserver-etcd-client.crt"),
        pki.p("apiserver-etcd-client.key"),
    )
    members = cli.member_list()
    if sub == "member-list":
        print(json.dumps({"members": {m.get("name", ""): m["peerURLs"][0] for m in members}}))
        return 0
    peer = args.get("peer-address") or cfg["storage"]["etcd"]["peerAddress"]
    target = [m for m in members if f"https://{peer}:2380" in m.get("peerURLs", [])]
    if not target:
        raise Fail(f"peer {peer} is not a member of the etcd cluster")
    cli.member_remove(target[0]["ID"])
    log("info", f"Successfully removed etcd member {target[0].get('name')} ({peer})")
    return 0


def cmd_kubectl(argv: list[str], data_dir: str) -> int:
    env = dict(os.environ)
    env.setdefault("KUBECONFIG", os.path.join(hp(data_dir), "pki", "admin.conf"))
    kubectl = os.environ.get("SEALKIT_FAKE_KUBECTL", "") or "/usr/bin/kubectl"
    os.execve(kubectl, [kubectl, *argv], env)
    return 1


def main(argv: list[str], version: str) -> int:
    """k0s entry point; returns the exit code the real k0s would."""
    words = [a for a in argv if not a.startswith("-")]
    cmd = words[0] if words else ""
    rest = list(argv)
    if cmd:
        rest.remove(cmd)
    try:
        if cmd == "version" or (not cmd and any(a.startswith("--version") for a in argv)):
            print(version)
            return 0
        if not cmd:
            fakelib.FlagSet(_PARENT).parse_pflag(rest)
            print(
                f"k0s ({FAKE_MARK}) commands: version install start stop status reset "
                "controller worker token kubeconfig kubectl etcd"
            )
            return 0
        if cmd == "install":
            role = next((a for a in rest if not a.startswith("-")), "")
            if role not in INSTALL_FLAGS:
                raise Fail(f'unknown command "{role}" for "k0s install"')
            rest.remove(role)
            return cmd_install(role, rest, version)
        if cmd == "start":
            fakelib.FlagSet(_PARENT).parse_pflag(rest)
            return cmd_start(version)
        if cmd == "stop":
            fakelib.FlagSet(_PARENT).parse_pflag(rest)
            return cmd_stop()
        if cmd == "status":
            fakelib.FlagSet(SIMPLE_FLAGS).parse_pflag(rest)
            return cmd_status()
        if cmd == "reset":
            return cmd_reset(rest, version)
        if cmd == "controller":
            return run_controller(rest, version)
        if cmd == "worker":
            return run_worker(rest, version)
        if cmd == "token":
            sub = next((a for a in rest if not a.startswith("-")), "")
            if sub != "create":
                raise Fail(f"k0s token {sub}: not implemented by the {FAKE_MARK}")
            rest.remove(sub)
            return cmd_token_create(rest, version)
        if cmd == "kubeconfig":
            sub = next((a for a in rest if not a.startswith("-")), "")
            if sub != "admin":
                raise Fail(f"k0s kubeconfig {sub}: not implemented by the {FAKE_MARK}")
            rest.remove(sub)
            args = fakelib.FlagSet(SIMPLE_FLAGS).parse_pflag(rest)
            print(fakelib.read_text(Pki(args.get("data-dir")).p("admin.conf")), end="")
            return 0
        if cmd == "kubectl":
            return cmd_kubectl(rest, "/var/lib/k0s")
        if cmd == "etcd":
            sub = next((a for a in rest if not a.startswith("-")), "")
            if sub not in ("member-list", "leave"):
                raise Fail(f'unknown command "{sub}" for "k0s etcd"')
            rest.remove(sub)
            return cmd_etcd(sub, rest, version)
        sys.stderr.write(f'Error: unknown command "{cmd}" for "k0s"\nRun \'k0s --help\' for usage.\n')
        return 1
    except fakelib.FlagError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except (fakelib.FakeError, OSError, ssl.SSLError) as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1

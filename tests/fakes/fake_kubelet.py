"""kubelet CONTRACT FAKE for sealkit's tests (sealkit-contract-fake): never ship this.

Does what sealkit can observe of a real kubelet, nothing more:
  * pflag command line with the real flag names (unknown flags: "Error: unknown flag: --x",
    flags removed upstream such as --network-plugin or --logtostderr are rejected too), the
    KubeletConfiguration file (--config, kubelet.config.k8s.io/v1beta1),
  * refuses --node-labels in the kubernetes.io/k8s.io namespaces that real kubelets refuse
    (node-role.kubernetes.io/* must be set through the API),
  * TLS bootstrap: with no --kubeconfig file but a --bootstrap-kubeconfig, it creates a
    CertificateSigningRequest (signer kubernetes.io/kube-apiserver-client-kubelet), waits for the
    controller manager to sign it, writes /var/lib/kubelet/pki/kubelet-client-current.pem and the
    kubeconfig; with neither file it exits 1 (systemd restarts it, as kubeadm's flow expects),
  * registers its Node (kubeletVersion = this fake's version) and heartbeats node status,
  * runs STATIC PODS from staticPodPath: `etcd` manifests run the real /usr/bin/etcd with the
    manifest's command line, `kube-apiserver`, `kube-controller-manager`, `kube-scheduler` and
    `kube-proxy` run the fakes of those (this same file re-executed), versioned by the image tag;
    changed manifests restart the pod, removed ones stop it; mirror Pods appear in the API.
  * runs the Pods the scheduler bound to its node through the host's real containerd (see
    fake_pods.py and fake_cri.py), pulling through containerd's registry mirror config, and
    serves their logs on its HTTPS port (10250) for `kubectl logs`; pods whose image is a
    Kubernetes component the fakes implement (kube-proxy, e.g. kubeadm's DaemonSet) run that fake
    with the kubelet's own credentials.
Relaxed on purpose: a missing CRI socket is only warned about (pods then stay Pending); static
pods are processes, not containers; every container (static or not) is stopped when the kubelet
stops, because the fake kubeadm/k3s/k0s resets do not remove containers as the real ones do
(crictl) and a reset must leave none.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fake_components, fake_cri, fake_pods, fakeapi, fakelib
except ImportError:
    import fake_components  # type: ignore[no-redef]
    import fake_cri  # type: ignore[no-redef]
    import fake_pods  # type: ignore[no-redef]
    import fakeapi  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

F = fakelib.Flag
FAKE_MARK = fakelib.FAKE_MARK
COMPONENT_ENV = "SEALKIT_FAKE_COMPONENT"
COMPONENT_VERSION_ENV = "SEALKIT_FAKE_COMPONENT_VERSION"

KUBELET_FLAGS = [
    F("config"),
    F("kubeconfig"),
    F("bootstrap-kubeconfig"),
    F("cert-dir", default="/var/lib/kubelet/pki"),
    F("root-dir", default="/var/lib/kubelet"),
    F("container-runtime-endpoint", default="unix:///run/containerd/containerd.sock"),
    F("image-service-endpoint"),
    F("pod-infra-container-image"),
    F("hostname-override"),
    F("node-ip"),
    F("node-labels", "slice", split_commas=True),
    F("register-with-taints", "slice", split_commas=True),
    F("register-node", "bool", True),
    F("provider-id"),
    F("cloud-provider"),
    F("cloud-config"),
    F("cgroup-driver"),
    F("cgroup-root"),
    F("cgroups-per-qos", "bool", True),
    F("fail-swap-on", "bool", True),
    F("max-pods", "int"),
    F("pod-cidr"),
    F("cluster-dns", "slice", split_commas=True),
    F("cluster-domain"),
    F("resolv-conf"),
    F("runtime-request-timeout", "duration"),
    F("rotate-certificates", "bool"),
    F("rotate-server-certificates", "bool"),
    F("tls-cert-file"),
    F("tls-private-key-file"),
    F("client-ca-file"),
    F("anonymous-auth", "bool", True),
    F("authentication-token-webhook", "bool"),
    F("authorization-mode"),
    F("address"),
    F("port", "int"),
    F("read-only-port", "int"),
    F("healthz-port", "int"),
    F("healthz-bind-address"),
    F("node-status-update-frequency", "duration"),
    F("eviction-hard", "slice", split_commas=True),
    F("eviction-soft", "slice", split_commas=True),
    F("kube-reserved", "slice", split_commas=True),
    F("system-reserved", "slice", split_commas=True),
    F("feature-gates", "slice", split_commas=True),
    F("serialize-image-pulls", "bool", True),
    F("protect-kernel-defaults", "bool"),
    F("seccomp-default", "bool"),
    F("volume-plugin-dir"),
    F("pod-manifest-path"),
    F("manifest-url"),
    F("allowed-unsafe-sysctls", "slice", split_commas=True),
    F("image-gc-high-threshold", "int"),
    F("image-gc-low-threshold", "int"),
    F("containerd"),
    F("runtime-cgroups"),
    F("kubelet-cgroups"),
    F("system-cgroups"),
    F("v", "int", 0),
    F("vmodule"),
    F("log-file"),
    F("version", "opt"),
    F("help", "bool", aliases=("h",)),
]

_ALLOWED_K8S_LABELS = {
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/instance-type",
    "beta.kubernetes.io/os",
    "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "kubernetes.io/arch",
    "kubernetes.io/hostname",
    "kubernetes.io/os",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
}


def check_node_labels(labels: dict[str, str]) -> None:
    """The kubelet refuses kubernetes.io/k8s.io labels outside an allowed set (NodeRestriction)."""
    bad = []
    for key in labels:
        prefix = key.split("/", 1)[0] if "/" in key else ""
        in_ns = prefix in ("kubernetes.io", "k8s.io") or prefix.endswith((".kubernetes.io", ".k8s.io"))
        if not in_ns or key in _ALLOWED_K8S_LABELS:
            continue
        if prefix.endswith(("kubelet.kubernetes.io", "node.kubernetes.io")):
            continue
        bad.append(key)
    if bad:
        raise fakelib.FakeError(
            "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: "
            f"[{' '.join(sorted(bad))}]\n--node-labels in the 'kubernetes.io' namespace must "
            "begin with an allowed prefix (kubelet.kubernetes.io, node.kubernetes.io) or be in "
            "the specifically allowed set (" + ", ".join(sorted(_ALLOWED_K8S_LABELS)) + ")"
        )


def load_kubelet_config(path: str) -> dict[str, Any]:
    try:
        cfg = fakelib.yaml_load(fakelib.read_text(fakelib.host_path(path))) or {}
    except OSError as exc:
        raise fakelib.FakeError(f"failed to load kubelet config file, path: {path}, error: {exc}") from exc
    if cfg.get("kind") != "KubeletConfiguration" or cfg.get("apiVersion") != "kubelet.config.k8s.io/v1beta1":
        raise fakelib.FakeError(
            f"failed to load kubelet config file, path: {path}, error: no kind "
            f'"{cfg.get("kind")}" is registered for version "{cfg.get("apiVersion")}"'
        )
    return cfg


# ---- TLS bootstrap -------------------------------------------------------------------------


def tls_bootstrap(
    bootstrap_kc: str, kubeconfig: str, cert_dir: str, node: str, stop: threading.Event
) -> None:
    """CSR → signed by kube-controller-manager → kubelet-client-current.pem + kubeconfig."""
    creds = fakelib.load_kubeconfig(bootstrap_kc)
    client = fakelib.KubeClient(creds)
    os.makedirs(cert_dir, mode=0o700, exist_ok=True)
    key_path = os.path.join(cert_dir, "kubelet-client.key.tmp")
    if not os.path.exists(key_path):
        fakelib.write_file(key_path, fakelib.gen_key_pem(), 0o600)
    csr_pem = fakelib.make_csr(key_path, f"system:node:{node}", ("system:nodes",))
    obj = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {
            "request": base64.b64encode(csr_pem).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["digital signature", "client auth"],
        },
    }
    while True:
        try:
            created = client.request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", obj)
            break
        except fakelib.FakeError as exc:
            fakelib.klog("error", f"failed to create CSR (will retry): {exc}")
            if stop.wait(2):
                raise fakelib.FakeError("stopped during TLS bootstrap") from exc
    name = created["metadata"]["name"]
    fakelib.klog("info", f"waiting for client certificate: CSR {name}")
    cert = ""
    while not cert:
        if stop.wait(1):
            raise fakelib.FakeError("stopped during TLS bootstrap")
        try:
            got = client.request("GET", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")
        except fakelib.FakeError as exc:
            fakelib.klog("warning", f"polling CSR {name}: {exc}")
            continue
        cert = (got.get("status") or {}).get("certificate", "")
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    pem_path = os.path.join(cert_dir, f"kubelet-client-{stamp}.pem")
    fakelib.write_file(pem_path, base64.b64decode(cert).decode() + fakelib.read_text(key_path), 0o600)
    current = os.path.join(cert_dir, "kubelet-client-current.pem")
    with contextlib.suppress(FileNotFoundError):
        os.remove(current)
    os.symlink(pem_path, current)
    os.remove(key_path)
    ca = creds.ca_pem
    real_current = (
        current.replace(fakelib.host_path("/"), "/", 1) if os.environ.get("SEALKIT_FAKE_ROOT") else current
    )
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default-cluster",
                "cluster": {"certificate-authority-data": fakelib.b64(ca), "server": creds.server},
            }
        ],
        "contexts": [
            {
                "name": "default-context",
                "context": {
                    "cluster": "default-cluster",
                    "namespace": "default",
                    "user": "default-auth",
                },
            }
        ],
        "current-context": "default-context",
        "preferences": {},
        "users": [
            {
                "name": "default-auth",
                "user": {"client-certificate": real_current, "client-key": real_current},
            }
        ],
    }
    fakelib.write_file(kubeconfig, fakelib.yaml_dump(doc), 0o600)
    fakelib.klog("info", f"TLS bootstrap complete: wrote {kubeconfig}")


def load_node_client(kubeconfig: str) -> fakelib.KubeClient:
    return fakelib.KubeClient(fakelib.load_kubeconfig(kubeconfig))


# ---- static pods ----------------------------------------------------------------------------


@dataclass
class StaticPod:
    path: str
    digest: str
    pod: dict[str, Any]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = 0.0

    @property
    def name(self) -> str:
        return self.pod.get("metadata", {}).get("name", os.path.basename(self.path))

    @property
    def namespace(self) -> str:
        return self.pod.get("metadata", {}).get("namespace") or "default"


def container_command(pod: dict[str, Any]) -> tuple[list[str], str]:
    containers = (pod.get("spec") or {}).get("containers") or []
    if not containers:
        raise fakelib.FakeError("static pod has no containers")
    c = containers[0]
    cmd = [*(c.get("command") or []), *(c.get("args") or [])]
    image = c.get("image", "")
    if not cmd:
        cmd = [image.rsplit("/", 1)[-1].split(":", 1)[0]]
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    return cmd, tag


def map_paths(args: list[str]) -> list[str]:
    """Under $SEALKIT_FAKE_ROOT (unit tests), point real binaries' path arguments into it."""
    if not os.environ.get("SEALKIT_FAKE_ROOT"):
        return args
    out = []
    for a in args:
        m = re.match(r"^(--?[^=]+=)(/.*)$", a)
        if m:
            out.append(m.group(1) + fakelib.host_path(m.group(2)))
        elif a.startswith("/"):
            out.append(fakelib.host_path(a))
        else:
            out.append(a)
    return out


class StaticPods:
    """Watches staticPodPath and keeps one process per manifest, as the kubelet keeps pods."""

    def __init__(self, directory: str, self_exe: str, version: str, log_dir: str) -> None:
        self.dir = directory
        self.self_exe = self_exe
        self.version = version
        self.log_dir = log_dir
        self.pods: dict[str, StaticPod] = {}

    def command_for(self, pod: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
        cmd, tag = container_command(pod)
        base = os.path.basename(cmd[0])
        env = dict(os.environ)
        if base == "etcd":
            etcd = os.environ.get("SEALKIT_FAKE_ETCD", "") or shutil.which("etcd") or "/usr/bin/etcd"
            return [etcd, *map_paths(cmd[1:])], env
        if base in ("kube-apiserver", *fake_components.COMPONENT_FLAGS):
            env[COMPONENT_ENV] = base
            env[COMPONENT_VERSION_ENV] = tag or self.version
            return [sys.executable, self.self_exe, *cmd[1:]], env
        raise fakelib.FakeError(
            f"static pod command {base!r} is not runnable by the "
            f"{FAKE_MARK} (only etcd and Kubernetes components)"
        )

    def start(self, sp: StaticPod) -> None:
        try:
            cmd, env = self.command_for(sp.pod)
        except fakelib.FakeError as exc:
            fakelib.klog("error", f"static pod {sp.path}: {exc}")
            return
        log = os.path.join(self.log_dir, f"{sp.name}.log")
        os.makedirs(self.log_dir, exist_ok=True)
        with open(log, "ab") as fh:
            sp.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=fakelib.die_with_parent,
            )
        sp.started = time.monotonic()
        fakelib.klog("info", f"started static pod {sp.namespace}/{sp.name} pid {sp.proc.pid}")

    def sync(self) -> None:
        """Start new manifests, restart changed or dead ones, stop removed ones."""
        seen = set()
        if os.path.isdir(self.dir):
            for entry in sorted(os.listdir(self.dir)):
                if entry.startswith(".") or not entry.endswith((".yaml", ".yml", ".json")):
                    continue
                path = os.path.join(self.dir, entry)
                try:
                    raw = fakelib.read_text(path)
                    pod = json.loads(raw) if entry.endswith(".json") else fakelib.yaml_load(raw)
                except (OSError, ValueError, fakelib.YamlError) as exc:
                    fakelib.klog("error", f"could not read static pod {path}: {exc}")
                    continue
                if not isinstance(pod, dict) or pod.get("kind") != "Pod":
                    continue
                seen.add(path)
                digest = hashlib.sha256(raw.encode()).hexdigest()
                cur = self.pods.get(path)
                if cur is not None and cur.digest != digest:
                    fakelib.klog("info", f"static pod {path} changed; restarting")
                    fakelib.stop_child(cur.proc)
                    cur = None
                if cur is None:
                    cur = StaticPod(path, digest, pod)
                    self.pods[path] = cur
                    self.start(cur)
                elif cur.proc is not None and cur.proc.poll() is not None:
                    backoff = min(2 ** min(cur.restarts, 5), 30)
                    if time.monotonic() - cur.started > backoff:
                        cur.restarts += 1
                        fakelib.klog(
                            "warning",
                            f"static pod {cur.name} exited ({cur.proc.returncode}); restart {cur.restarts}",
                        )
                        self.start(cur)
        for path in list(self.pods):
            if path not in seen:
                fakelib.stop_child(self.pods[path].proc)
                fakelib.klog("info", f"static pod {path} removed; stopped")
                del self.pods[path]

    def stop_all(self) -> None:
        for sp in self.pods.values():
            fakelib.stop_child(sp.proc)

    def mirror_pods(self, client: fakelib.KubeClient, node: str) -> None:
        """Create/refresh the mirror Pod of each static pod (kube-system/etcd-<node>, ...)."""
        for sp in list(self.pods.values()):
            running = sp.proc is not None and sp.proc.poll() is None
            meta = sp.pod.get("metadata", {})
            name = f"{sp.name}-{node}"
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": sp.namespace,
                    "labels": meta.get("labels") or {},
                    "annotations": {
                        **(meta.get("annotations") or {}),
                        "kubernetes.io/config.mirror": sp.digest[:32],
                        "kubernetes.io/config.source": "file",
                    },
                },
                "spec": {**(sp.pod.get("spec") or {}), "nodeName": node},
                "status": {
                    "phase": "Running" if running else "Failed",
                    "containerStatuses": [
                        {
                            "name": c.get("name", "c"),
                            "ready": running,
                            "restartCount": sp.restarts,
                            "image": c.get("image", ""),
                        }
                        for c in (sp.pod.get("spec") or {}).get("containers", [])
                    ],
                },
            }
            base = f"/api/v1/namespaces/{sp.namespace}/pods"
            try:
                try:
                    current = client.request("GET", f"{base}/{name}")
                except fakelib.HTTPStatusError as exc:
                    if exc.status != 404:
                        raise
                    client.request("POST", base, body)
                    continue
                ann = (current.get("metadata") or {}).get("annotations") or {}
                if ann.get("kubernetes.io/config.mirror") != sp.digest[:32]:
                    client.request("DELETE", f"{base}/{name}")
                    client.request("POST", base, body)
                elif current.get("status", {}).get("phase") != body["status"]["phase"]:
                    current["status"] = body["status"]
                    client.request("PUT", f"{base}/{name}/status", current)
            except fakelib.FakeError as exc:
                fakelib.klog("warning", f"mirror pod {name}: {exc}")


# ---- main -----------------------------------------------------------------------------------


def run_kubelet(argv: list[str], version: str) -> int:
    fs = fakelib.FlagSet(KUBELET_FLAGS)
    try:
        args = fs.parse_pflag(argv)
    except fakelib.FlagError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    if args.is_set("version"):
        print(f"Kubernetes {version}")
        return 0
    if args.get("help"):
        print(f"kubelet ({FAKE_MARK}): " + " ".join("--" + f.name for f in KUBELET_FLAGS))
        return 0
    if args.positional:
        sys.stderr.write(f'Error: unknown command "{args.positional[0]}" for "kubelet"\n')
        return 1
    hp = fakelib.host_path
    try:
        cfg = load_kubelet_config(args.get("config")) if args.get("config") else {}
        labels = fakelib.split_kv_list(args.get("node-labels") or [])
        check_node_labels(labels)
        taints = [fakelib.parse_taint(t) for t in args.get("register-with-taints") or []]
        for t in cfg.get("registerWithTaints") or []:
            taints.append({k: v for k, v in t.items() if k in ("key", "value", "effect")})
    except fakelib.FakeError as exc:
        fakelib.klog("error", f"command failed: {exc}")
        return 1
    cri = args.get("container-runtime-endpoint") or cfg.get("containerRuntimeEndpoint", "")
    cri_socket = hp(cri[len("unix://") :]) if cri.startswith("unix://") else hp(cri)
    if cri.startswith("unix://") and not os.path.exists(hp(cri[len("unix://") :])):
        fakelib.klog(
            "warning",
            f"CRI endpoint {cri} not found; the {FAKE_MARK} continues without a container runtime",
        )
    node = (args.get("hostname-override") or fakelib.hostname()).lower()
    ips = [i for i in (args.get("node-ip") or "").split(",") if i] or [fakelib.default_ip()]
    static_dir = cfg.get("staticPodPath") or args.get("pod-manifest-path") or ""
    freq = args.get("node-status-update-frequency") or cfg.get("nodeStatusUpdateFrequency") or "10s"
    kubeconfig = hp(args.get("kubeconfig") or "")
    bootstrap = hp(args.get("bootstrap-kubeconfig") or "")
    standalone = not kubeconfig or (not os.path.exists(kubeconfig) and not bootstrap)
    if kubeconfig and not os.path.exists(kubeconfig):
        if not bootstrap:
            standalone = True
        elif not os.path.exists(bootstrap):
            fakelib.klog(
                "error",
                f"failed to run Kubelet: unable to load bootstrap kubeconfig: "
                f"stat {args.get('bootstrap-kubeconfig')}: no such file or directory",
            )
            return 1
    stop = threading.Event()
    fakelib.install_term_handler(stop)
    self_exe = os.path.realpath(sys.argv[0])
    pods = (
        StaticPods(
            hp(static_dir),
            self_exe,
            version,
            os.path.join(hp(args.get("root-dir")), "fake-static-pod-logs"),
        )
        if static_dir
        else None
    )
    fakelib.klog("info", f"kubelet {version} ({FAKE_MARK}) starting, node {node}")
    fakelib.sd_notify("READY=1")
    registered = False
    client: fakelib.KubeClient | None = None
    last_beat = 0.0
    interval = fakelib.parse_duration(freq)
    bootstrap_thread: threading.Thread | None = None
    runner: fake_pods.PodRunner | None = None
    server: fake_pods.KubeletServer | None = None
    root_dir = hp(args.get("root-dir"))
    try:
        while True:
            if pods is not None:
                pods.sync()
            if registered and client is not None and cri_socket and os.path.exists(cri_socket):
                if runner is None:
                    runner = fake_pods.PodRunner(
                        client,
                        node,
                        ips[0],
                        root_dir,
                        fake_cri.Ctr(cri_socket, hp("/etc/containerd/config.toml")),
                        component_command(self_exe, version, kubeconfig, node),
                    )
                    port = int(args.get("port") or cfg.get("port") or 10250)
                    try:
                        server = fake_pods.KubeletServer.serve(
                            (ips[0], port), runner, hp(args.get("cert-dir")), node
                        )
                    except OSError as exc:
                        fakelib.klog("warning", f"kubelet server on {ips[0]}:{port}: {exc}; no logs served")
                try:
                    runner.sync()
                except (fakelib.FakeError, OSError) as exc:
                    fakelib.klog("warning", f"pod sync failed (will retry): {exc}")
            if not standalone and client is None:
                if os.path.exists(kubeconfig):
                    client = load_node_client(kubeconfig)
                elif bootstrap_thread is None:
                    bootstrap_thread = threading.Thread(
                        target=tls_bootstrap,
                        args=(bootstrap, kubeconfig, hp(args.get("cert-dir")), node, stop),
                        daemon=True,
                    )
                    bootstrap_thread.start()
            if client is not None and not registered and args.get("register-node"):
                annotations = {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "sealkit.io/fake": FAKE_MARK,
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                }
                obj = fakelib.node_object(node, ips, [], version, labels, taints, annotations)
                if args.get("provider-id"):
                    obj["spec"]["providerID"] = args.get("provider-id")
                try:
                    fakelib.register_node(client, obj)
                    registered = True
                    last_beat = time.monotonic()
                    if pods is not None:
                        pods.mirror_pods(client, node)
                except fakelib.FakeError as exc:
                    fakelib.klog(
                        "info",
                        f"unable to register node {node} with API server (will retry): {exc}",
                    )
            if registered and client is not None and time.monotonic() - last_beat >= interval:
                last_beat = time.monotonic()
                if not fakelib.heartbeat_once(client, node):
                    fakelib.klog("error", f"node {node} not found; not re-registering")
                if pods is not None:
                    pods.mirror_pods(client, node)
            if stop.wait(1):
                break
    finally:
        if runner is not None:
            runner.stop_all()
        if server is not None:
            server.shutdown()
        if pods is not None:
            pods.stop_all()
    return 0


def component_command(self_exe: str, version: str, kubeconfig: str, node: str) -> fake_pods.LocalCommand:
    """Pods of Kubernetes component images the fakes implement run the fake, not a container
    (kubeadm's kube-proxy DaemonSet): its in-cluster credentials are replaced by the kubelet's."""

    def local(container: dict[str, Any]) -> tuple[list[str], dict[str, str]] | None:
        repo, _, tag = str(container.get("image", "")).rpartition(":")
        if repo.rsplit("/", 1)[-1] != "kube-proxy":
            return None
        env = dict(os.environ, **{COMPONENT_ENV: "kube-proxy", COMPONENT_VERSION_ENV: tag or version})
        argv = [sys.executable, self_exe, f"--kubeconfig={kubeconfig}", f"--hostname-override={node}"]
        return argv, env

    return local


def main(argv: list[str], version: str) -> int:
    """kubelet entry point; also runs static-pod components when re-executed by itself."""
    component = os.environ.get(COMPONENT_ENV, "")
    if component:
        comp_version = os.environ.get(COMPONENT_VERSION_ENV, "") or version
        if component == "kube-apiserver":
            return fakeapi.main(argv, comp_version)
        return fake_components.run_component(component, argv, comp_version)
    return run_kubelet(argv, version)

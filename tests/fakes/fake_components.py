"""Control-plane component CONTRACT FAKES for sealkit's tests (sealkit-contract-fake): never ship.

kube-controller-manager, kube-scheduler and kube-proxy as cobra/pflag programs: they accept the
real flag names they are given (unknown flags fail with "Error: unknown flag: --x"), read their
--kubeconfig and, for the controller manager, do the two jobs joins depend on:
  * csrsigning/csrapproving: approve and sign kubelet client CSRs with --cluster-signing-cert-file
    and --cluster-signing-key-file (kubelet TLS bootstrap, as kubeadm join relies on),
  * bootstrapsigner: keep a `jws-kubeconfig-<token-id>` signature per valid bootstrap token in
    kube-public/cluster-info (kubeadm's token discovery verifies it).
and the workload controllers and garbage collector of fake_controllers.py. kube-scheduler binds
pending pods (fake_scheduler.py); both elect a leader through their kube-system Lease
(`kube-controller-manager`, `kube-scheduler`, as upstream) when --leader-elect is on, so several
masters do not race. kube-proxy forwards NodePorts and ClusterIPs in user space (fake_proxy.py).
The kubelet fake runs these from static-pod manifests (see fake_kubelet.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
import threading
import time

try:  # package import in sealkit's tests; sibling import when copied onto a host
    from . import fake_controllers, fake_proxy, fake_scheduler, fakelib
except ImportError:
    import fake_controllers  # type: ignore[no-redef]
    import fake_proxy  # type: ignore[no-redef]
    import fake_scheduler  # type: ignore[no-redef]
    import fakelib  # type: ignore[no-redef]

F = fakelib.Flag
FAKE_MARK = fakelib.FAKE_MARK

_COMMON = [
    F("kubeconfig"),
    F("authentication-kubeconfig"),
    F("authorization-kubeconfig"),
    F("bind-address"),
    F("secure-port", "int"),
    F("leader-elect", "bool", True),
    F("leader-elect-lease-duration", "duration"),
    F("leader-elect-renew-deadline", "duration"),
    F("leader-elect-retry-period", "duration"),
    F("feature-gates", "slice", split_commas=True),
    F("profiling", "bool", True),
    F("requestheader-client-ca-file"),
    F("requestheader-allowed-names", "slice", split_commas=True),
    F("client-ca-file"),
    F("tls-cert-file"),
    F("tls-private-key-file"),
    F("master"),
    F("v", "int", 0),
    F("vmodule"),
    F("log-file"),
    F("version", "opt"),
    F("help", "bool", aliases=("h",)),
]

KUBE_CONTROLLER_MANAGER_FLAGS = [
    *_COMMON,
    F("allocate-node-cidrs", "bool"),
    F("cluster-cidr"),
    F("cluster-name", default="kubernetes"),
    F("cluster-signing-cert-file"),
    F("cluster-signing-key-file"),
    F("cluster-signing-duration", "duration", "8760h0m0s"),
    F("controllers", "slice", split_commas=True),
    F("node-cidr-mask-size", "int"),
    F("node-cidr-mask-size-ipv4", "int"),
    F("node-monitor-grace-period", "duration"),
    F("node-monitor-period", "duration"),
    F("pod-eviction-timeout", "duration"),
    F("root-ca-file"),
    F("service-account-private-key-file"),
    F("service-cluster-ip-range"),
    F("use-service-account-credentials", "bool"),
    F("terminated-pod-gc-threshold", "int"),
    F("horizontal-pod-autoscaler-sync-period", "duration"),
    F("concurrent-deployment-syncs", "int"),
    F("kube-api-qps", "int"),
    F("kube-api-burst", "int"),
]

KUBE_SCHEDULER_FLAGS = [*_COMMON, F("config"), F("kube-api-qps", "int"), F("kube-api-burst", "int")]

KUBE_PROXY_FLAGS = [
    F("config"),
    F("kubeconfig"),
    F("hostname-override"),
    F("bind-address"),
    F("cluster-cidr"),
    F("proxy-mode"),
    F("masquerade-all", "bool"),
    F("metrics-bind-address"),
    F("healthz-bind-address"),
    F("ipvs-scheduler"),
    F("ipvs-strict-arp", "bool"),
    F("conntrack-max-per-core", "int"),
    F("feature-gates", "slice", split_commas=True),
    F("v", "int", 0),
    F("log-file"),
    F("version", "opt"),
    F("help", "bool", aliases=("h",)),
]

COMPONENT_FLAGS = {
    "kube-controller-manager": KUBE_CONTROLLER_MANAGER_FLAGS,
    "kube-scheduler": KUBE_SCHEDULER_FLAGS,
    "kube-proxy": KUBE_PROXY_FLAGS,
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws_detached(content: str, token_id: str, token_secret: str) -> str:
    """A detached HS256 JWS over `content`, keyed by the token secret (bootstrapsigner)."""
    header = b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    payload = b64url(content.encode())
    sig = hmac.new(token_secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}..{b64url(sig)}"


def valid_bootstrap_tokens(client: fakelib.KubeClient) -> dict[str, str]:
    """token-id → token-secret for unexpired signing-usage bootstrap tokens."""
    out: dict[str, str] = {}
    secrets = client.request("GET", "/api/v1/namespaces/kube-system/secrets")["items"]
    for s in secrets:
        if s.get("type") != "bootstrap.kubernetes.io/token":
            continue
        data = {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}
        if data.get("usage-bootstrap-signing") != "true":
            continue
        exp = data.get("expiration")
        if exp and fakelib.parse_rfc3339(exp) < time.time():
            continue
        if data.get("token-id") and data.get("token-secret"):
            out[data["token-id"]] = data["token-secret"]
    return out


def bootstrap_signer_pass(client: fakelib.KubeClient) -> None:
    try:
        cm = client.request("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    except fakelib.HTTPStatusError as exc:
        if exc.status == 404:
            return
        raise
    data = cm.get("data") or {}
    content = data.get("kubeconfig", "")
    want = {
        f"jws-kubeconfig-{tid}": jws_detached(content, tid, sec)
        for tid, sec in valid_bootstrap_tokens(client).items()
    }
    have = {k: v for k, v in data.items() if k.startswith("jws-kubeconfig-")}
    if want == have:
        return
    new = {k: v for k, v in data.items() if not k.startswith("jws-kubeconfig-")}
    new.update(want)
    cm["data"] = new
    client.request("PUT", "/api/v1/namespaces/kube-public/configmaps/cluster-info", cm)


def csr_pass(client: fakelib.KubeClient, ca_cert: str, ca_key: str, days: int) -> None:
    """Approve and sign kubelet client CSRs (csrapproving + csrsigning controllers)."""
    csrs = client.request("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests")
    for csr in csrs["items"]:
        spec, status = csr.get("spec", {}), csr.get("status", {})
        if status.get("certificate"):
            continue
        if spec.get("signerName") != "kubernetes.io/kube-apiserver-client-kubelet":
            continue
        pem = base64.b64decode(spec.get("request", ""))
        subject = fakelib.run(
            ["openssl", "req", "-noout", "-subject", "-nameopt", "RFC2253"], input_data=pem
        ).decode()
        m = re.search(r"CN=(system:node:[^,\s]+)", subject)
        if not m or "O=system:nodes" not in subject:
            continue  # the real approver only auto-approves well-formed node client CSRs
        name = csr["metadata"]["name"]
        stamp = fakelib.now_rfc3339()
        csr.setdefault("status", {})["conditions"] = [
            {
                "type": "Approved",
                "status": "True",
                "reason": "AutoApproved",
                "message": f"Auto approving kubelet client certificate after SubjectAccessReview "
                f"({FAKE_MARK})",
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            }
        ]
        csr = client.request(
            "PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval", csr
        )
        cert = fakelib.sign_csr(
            ca_cert,
            ca_key,
            pem,
            fakelib.CertSpec(m.group(1), ("system:nodes",), client=True, days=days),
        )
        csr["status"]["certificate"] = base64.b64encode(cert).decode()
        client.request("PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status", csr)
        fakelib.klog("info", f"certificate signed for {m.group(1)} ({name})")


def run_component(name: str, argv: list[str], version: str) -> int:
    """Entry point for kube-controller-manager / kube-scheduler / kube-proxy."""
    fs = fakelib.FlagSet(COMPONENT_FLAGS[name])
    try:
        args = fs.parse_pflag(argv)
    except fakelib.FlagError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    if args.is_set("version"):
        print(f"Kubernetes {version} ({FAKE_MARK})")
        return 0
    if args.positional:
        sys.stderr.write(f'Error: unknown command "{args.positional[0]}" for "{name}"\n')
        return 1
    kubeconfig = args.get("kubeconfig") or ""
    if name == "kube-proxy" and args.get("config"):
        cfg = fakelib.yaml_load(fakelib.read_text(fakelib.host_path(args.get("config"))))
        kubeconfig = kubeconfig or ((cfg or {}).get("clientConnection") or {}).get("kubeconfig", "")
    if not kubeconfig:
        fakelib.klog("error", f"{name}: --kubeconfig is required by the {FAKE_MARK}")
        return 1
    try:
        client = fakelib.KubeClient(fakelib.load_kubeconfig(fakelib.host_path(kubeconfig)))
    except (OSError, fakelib.FakeError, KeyError, StopIteration) as exc:
        fakelib.klog("error", f"{name}: invalid kubeconfig {kubeconfig}: {exc}")
        return 1
    stop = threading.Event()
    fakelib.install_term_handler(stop)
    fakelib.klog("info", f"{name} {version} ({FAKE_MARK}) starting")
    fakelib.sd_notify("READY=1")
    signing = (
        (args.get("cluster-signing-cert-file"), args.get("cluster-signing-key-file"))
        if name == "kube-controller-manager"
        else (None, None)
    )
    days = (
        int(fakelib.parse_duration(args.get("cluster-signing-duration") or "8760h") // 86400)
        if name == "kube-controller-manager"
        else 365
    )
    lease = (
        fake_controllers.LeaderLease(client, name)
        if name != "kube-proxy" and args.get("leader-elect")
        else None
    )
    workloads = fake_controllers.ControllerManager(client)
    scheduler = fake_scheduler.Scheduler(client)
    proxy = fake_proxy.NodePortProxy(client, cluster_ips=True) if name == "kube-proxy" else None
    try:
        while not stop.wait(1):
            try:
                leading = lease is None or lease.held()
                if name == "kube-controller-manager":
                    if signing[0] and signing[1]:
                        csr_pass(
                            client,
                            fakelib.host_path(signing[0]),
                            fakelib.host_path(signing[1]),
                            max(days, 1),
                        )
                    bootstrap_signer_pass(client)
                    if leading:
                        workloads.run_pass()
                elif name == "kube-scheduler":
                    if leading:
                        scheduler.run_pass()
                elif proxy is not None:
                    proxy.sync()
            except fakelib.FakeError as exc:
                fakelib.klog("warning", f"{name}: {exc}")
    finally:
        if proxy is not None:
            proxy.close()
    return 0


def main_kube_controller_manager(argv: list[str], version: str) -> int:
    return run_component("kube-controller-manager", argv, version)


def main_kube_scheduler(argv: list[str], version: str) -> int:
    return run_component("kube-scheduler", argv, version)


def main_kube_proxy(argv: list[str], version: str) -> int:
    return run_component("kube-proxy", argv, version)

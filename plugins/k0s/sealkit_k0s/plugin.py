"""The k0s runtime: ``k0s install controller`` on masters, ``k0s install worker`` on workers.

Written against k0s's documented interface (docs.k0sproject.io): the single binary from the cluster
image's ``bin/k0s`` in ``/usr/local/bin``; the cluster configuration ``/etc/k0s/k0s.yaml``
(``k0s.k0sproject.io/v1beta1`` ``ClusterConfig``) on controllers; ``k0s install`` writes the
systemd units ``k0scontroller.service`` / ``k0sworker.service``; joins use tokens from
``k0s token create`` on the first controller; ``k0s reset`` undoes an install.

Choices, and why:

* **Masters run workloads' plumbing too** (``--enable-worker``): like sealos masters they are
  Kubernetes nodes (visible in ``kubectl get nodes``, drained like any node) and carry k0s's
  ``node-role.kubernetes.io/control-plane:NoSchedule`` taint (cmd/controller/controller.go, kubeadm
  constants.ControlPlaneTaint). ``--no-taints`` is added when the host also
  has the ``node`` role, or when the cluster has no workers at all (a masters-only cluster must
  schedule CoreDNS somewhere). Taints apply at a node's first registration only.
* **HA is k0s-native**: node-local load balancing (Envoy on each worker's loopback, fed with every
  controller's address by k0s) with ``spec.api.externalAddress`` unset, as k0s requires. Workers
  join through the first controller; sealkit's haproxy/ipvs LB cannot be combined with it (the
  VIP is not reachable from controllers, yet k0s would put it in every join token), so preflight
  refuses those strategies.
* **Custom CA**: the engine pre-places our CAs in ``/var/lib/k0s/pki`` (``certs.py``). k0s treats
  a controller that already has ``pki/ca.crt`` + ``pki/ca.key`` as *already joined* and would
  start a second, separate etcd cluster, so joining controllers get every file *except* the
  cluster CA pair, which k0s's join API copies from the first controller (same bytes).
* **Long-lived leaves**: k0s mints its own leaves from those CAs for
  ``spec.api.ca.certificatesExpireAfter`` / ``spec.storage.etcd.ca.certificatesExpireAfter``
  (default 1 year); both are set to the Clusterfile's ``validityDays``. k0s re-mints its leaves
  at every start, so a restart also applies changed SANs. Those fields exist since k0s v1.33.1
  (pkg/apis/k0s/v1beta1/cert.go); for an older release they are not rendered (k0s would drop them
  silently: APISpec/StorageSpec decode leniently) and its leaves keep k0s's fixed one year.
* **Support matrix**: k0s v1.33.1 (the first 1.33 release) to the newest 1.36 patch, the minors
  k0s still patched in the k0s repository snapshot read for issue 13 (see LEDGER.md).
* **Offline**: telemetry off; a ``k0s-airgap-bundle-*`` shipped in the image's ``images/`` is
  copied to ``/var/lib/k0s/images`` (k0s imports it before starting the kubelet), at prepare and
  again at every upgrade (the new release's system images); every other pull
  goes to the embedded registry through the containerd drop-in (``/etc/k0s/containerd.d``) and
  hosts files kept under ``/etc/k0s/certs.d`` so reset removes them with ``/etc/k0s``.
* **Tokens are secrets**: read from ``k0s token create`` stdout, written to the joining host as a
  0600 file passed with ``--token-file`` (never argv, never logged), created with a short
  ``--expiry`` so the file left behind (the unit keeps referencing it) is soon useless.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sealkit.api import Endpoint, RuntimeInfo, StepFailed, hookimpl, hostops, versions
from sealkit_k0s import certs

if TYPE_CHECKING:
    from sealkit.api import ClusterContext, FileSpec, HostRef, Layout, LayoutInput, RegistryInfo

BIN = "/usr/local/bin/k0s"
CONFIG_DIR = "/etc/k0s"
CONFIG = f"{CONFIG_DIR}/k0s.yaml"
#: containerd hosts files for the mirror drop-in; under /etc/k0s so reset removes them with it
CERTS_D = f"{CONFIG_DIR}/certs.d"
DATA_DIR = "/var/lib/k0s"
RUN_DIR = "/run/k0s"
PKI_DIR = certs.PKI
AIRGAP_DIR = f"{DATA_DIR}/images"
#: k0s's "already joined" markers: a controller with a CA pair, a worker with a kubelet kubeconfig
CONTROLLER_JOINED = f"{PKI_DIR}/ca.key"
WORKER_JOINED = f"{DATA_DIR}/kubelet.conf"
#: sealkit's own files on the host (0700): join token and the install arguments last used
STATE_DIR = "/var/lib/sealkit/k0s"
TOKEN_FILE = f"{STATE_DIR}/join-token"
ARGS_FILE = f"{STATE_DIR}/install-args"
UNIT_DIR = hostops.UNIT_DIR
CONTROLLER_UNIT = "k0scontroller.service"
WORKER_UNIT = "k0sworker.service"
#: join tokens only need to live until the joining node has bootstrapped
TOKEN_EXPIRY = "1h"
ETCD_PEER_PORT = 2380
READY_TIMEOUT = 300
#: first Kubernetes minor whose k0s bundles containerd 2.x (config ``version = 3``)
CONTAINERD2_MINOR = 36
#: the support matrix (RuntimeInfo): k0s releases, as Kubernetes versions
OLDEST_VERSION = "v1.33.1"
NEWEST_VERSION = "v1.36.99"
#: first k0s release with ``spec.api.ca`` / ``spec.storage.etcd.ca`` (k0s pkg/apis/k0s/v1beta1/cert.go)
CERT_LIFETIME_SINCE = (1, 33, 1)
#: the air-gap bundle k0s imports from AIRGAP_DIR at worker start (docs/airgap-install.md)
AIRGAP_GLOB = "k0s-airgap-bundle-*"

_TOKEN_RE = re.compile(r"^[A-Za-z0-9+/=_-]+$")
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)")


# ------------------------------------------------------------------------------ pure renderers
def hours(days: int) -> str:
    """A Go duration for ``days`` days, the unit k0s's ``*ExpireAfter`` fields use."""
    return f"{days * 24}h"


def containerd_major(kube_version: str) -> int:
    """containerd major version bundled by the k0s release of ``kube_version`` (1 when unknown)."""
    m = _VERSION_RE.match(kube_version.strip())
    if m and int(m.group(1)) == 1 and int(m.group(2)) >= CONTAINERD2_MINOR:
        return 2
    return 1


def api_sans(ctx: ClusterContext, host: HostRef) -> list[str]:
    """SANs of a controller's apiserver certificate beyond the ones k0s always adds."""
    ep = ctx.endpoint()
    return sorted({host.ip, host.name, ep.host, *ctx.cluster.certs.extra_sans})


def leaf_lifetime_configurable(version: str) -> bool:
    """Whether k0s ``version`` reads ``certificatesExpireAfter``; an unknown version is taken as a
    supported one (every release in the support matrix has the field)."""
    return not version or versions.parse(version) >= CERT_LIFETIME_SINCE


def cluster_config(ctx: ClusterContext, host: HostRef, version: str | None = None) -> dict[str, object]:
    """``/etc/k0s/k0s.yaml`` of a controller for k0s ``version`` (default: the image's); pure, so unit
    tests check it field by field against each release's fields (tests/fakes/upstream/k0s)."""
    c = ctx.cluster.certs
    api: dict[str, object] = {
        "address": host.ip,
        "port": ctx.runtime.apiserver_port,
        "k0sApiPort": 9443,
        "sans": api_sans(ctx, host),
    }
    etcd: dict[str, object] = {"peerAddress": host.ip}
    if leaf_lifetime_configurable(ctx.image_version if version is None else version):
        ca = {"expiresAfter": hours(c.ca_validity_days), "certificatesExpireAfter": hours(c.validity_days)}
        api["ca"], etcd["ca"] = dict(ca), dict(ca)
    return {
        "apiVersion": "k0s.k0sproject.io/v1beta1",
        "kind": "ClusterConfig",
        "metadata": {"name": "k0s"},
        "spec": {
            "api": api,
            "storage": {"type": "etcd", "etcd": etcd},
            "network": {
                "podCIDR": ctx.cluster.network.pod_cidr,
                "serviceCIDR": ctx.cluster.network.service_cidr,
                "clusterDomain": ctx.cluster.network.dns_domain,
                "nodeLocalLoadBalancing": {"enabled": True, "type": "EnvoyProxy"},
            },
            "images": {"default_pull_policy": "IfNotPresent"},
            "telemetry": {"enabled": False},
        },
    }


def render_config(cfg: dict[str, object]) -> str:
    return "# written by sealkit (runtime k0s)\n" + yaml.safe_dump(cfg, sort_keys=False)


def schedulable_master(ctx: ClusterContext, host: HostRef) -> bool:
    """A master runs pods untainted when it also has the node role or the cluster has no workers."""
    return "node" in host.roles or not ctx.cluster.nodes


def install_command(ctx: ClusterContext, host: HostRef, *, role: str, join: bool) -> str:
    """The ``k0s install controller|worker`` line for ``host``; the token only as a file path."""
    args = [BIN, "install", role, "--force"]
    if role == "controller":
        args += [f"--config={CONFIG}", "--enable-worker"]
        if schedulable_master(ctx, host):
            args.append("--no-taints")
    if join:
        args.append(f"--token-file={TOKEN_FILE}")
    args.append(f"--kubelet-extra-args=--node-ip={host.ip}")
    return " ".join(shlex.quote(a) for a in args)


def airgap_script(rootfs: str, dest: str = AIRGAP_DIR, data_dir: str = DATA_DIR) -> str:
    """Copy the image's air-gap bundles into AIRGAP_DIR where their content differs; prints one
    ``copied NAME`` line per file copied.

    Compared by content, not mtime (``cp -u`` would keep an older release's file of the same name).
    k0s imports every file in that directory and watches it (pkg/component/worker/ocibundle.go), so
    a file is written beside it first (same file system) and renamed in: k0s never sees half a file.
    """
    src = shlex.quote(f"{rootfs}/images")
    dst = shlex.quote(dest)
    tmp = shlex.quote(f"{data_dir}/.sealkit-airgap.tmp")
    return (
        f'for f in {src}/{AIRGAP_GLOB}; do [ -f "$f" ] || continue; n=$(basename "$f"); '
        f'if ! cmp -s "$f" {dst}/"$n"; then mkdir -p {dst} && '
        f'cp "$f" {tmp} && mv -f {tmp} {dst}/"$n" && echo "copied $n"; fi; done'
    )


def token_command(role: str) -> str:
    return f"{BIN} token create --role={role} --expiry={TOKEN_EXPIRY}"


def peer_url(ip: str) -> str:
    return Endpoint(ip, ETCD_PEER_PORT).url()


def drain_script(node: str) -> str:
    """Drain and delete a node (both tolerate a node that is already gone)."""
    n = shlex.quote(node)
    return (
        f"if {BIN} kubectl get node {n} -o name >/dev/null 2>&1; then "
        f"{BIN} kubectl drain {n} --ignore-daemonsets --delete-emptydir-data --force "
        f"--timeout=120s; fi && {BIN} kubectl delete node {n} --ignore-not-found"
    )


def leave_script(node: str, ip: str) -> str:
    """Forget a controller: its autopilot ControlNode, then its etcd member (only if still one)."""
    n = shlex.quote(node)
    url = shlex.quote(f'"{peer_url(ip)}"')
    return (
        f"if {BIN} kubectl get crd controlnodes.autopilot.k0sproject.io >/dev/null 2>&1; then "
        f"{BIN} kubectl delete controlnode.autopilot.k0sproject.io {n} --ignore-not-found; fi && "
        f"if {BIN} etcd member-list | grep -qF {url}; then "
        f"{BIN} etcd leave --peer-address={shlex.quote(ip)}; fi"
    )


def reset_script() -> str:
    """``k0s stop`` (when running) then ``k0s reset``, only where k0s was installed at all."""
    units = f"{UNIT_DIR}/{CONTROLLER_UNIT} {UNIT_DIR}/{WORKER_UNIT}"
    return (
        f"if [ -x {BIN} ]; then found=; for f in {units} {DATA_DIR}; do "
        '[ -e "$f" ] && found=1; done; '
        'if [ -n "$found" ]; then '
        f"if systemctl is-active -q {CONTROLLER_UNIT} || systemctl is-active -q {WORKER_UNIT}; "
        f"then {BIN} stop; fi && {BIN} reset; fi; fi"
    )


def rewrite_kubeconfig(text: str, server: str, *, host: str) -> str:
    """Point every cluster of an admin kubeconfig at ``server`` (k0s may print localhost)."""
    try:
        doc = yaml.safe_load(text)
        for entry in doc["clusters"]:
            entry["cluster"]["server"] = server
    except (yaml.YAMLError, KeyError, TypeError) as err:
        raise StepFailed(
            f"k0s kubeconfig admin printed no usable kubeconfig ({type(err).__name__})",
            host=host,
            step="kubeconfig",
            hint="check that the controller runs: k0s status",
        ) from None
    return yaml.safe_dump(doc, sort_keys=False)


def parse_version(stdout: str) -> str | None:
    """``k0s version`` prints e.g. ``v1.30.4+k0s.0``."""
    words = stdout.split()
    return words[0] if words and _VERSION_RE.match(words[0]) else None


def cert_layout(li: LayoutInput) -> Layout:
    """certs.py's layout minus the cluster CA pair on joining controllers (see the module doc)."""
    layout = certs.cert_layout(li)
    if not li.is_master or li.first_master:
        return layout
    cas = tuple(
        replace(ca, cert_path=None, key_path=None) if ca.name == certs.CA.name else ca for ca in layout.cas
    )
    return replace(layout, cas=cas)


# ------------------------------------------------------------------------------------- the plugin
class Runtime:
    """Hook implementations of the k0s runtime."""

    @hookimpl
    def sealkit_runtime_info(self) -> RuntimeInfo:
        return RuntimeInfo(
            name="k0s",
            default_ha="native",
            binaries=("k0s",),
            # kube-apiserver, k0s join API, konnectivity, etcd peer/client, kubelet
            master_ports=(6443, 9443, 8132, 2380, 2379, 10250),
            # kubelet, and the node-local load balancer (Envoy) on loopback
            node_ports=(10250, 7443, 7132),
            description="k0s controllers (+worker, tainted) and workers; custom CA pre-placed; "
            "node-local load balancing",
            oldest_version=OLDEST_VERSION,
            newest_version=NEWEST_VERSION,
        )

    @hookimpl
    def sealkit_preflight(self, ctx: ClusterContext, host: HostRef) -> list[str]:
        from sealkit.api import strategy

        chosen = strategy(ctx)
        if chosen == "native":
            return []
        return [
            f"spec.ha.strategy {chosen!r} does not work with k0s: its workers balance across "
            "controllers themselves (node-local load balancing); set spec.ha.strategy to auto "
            "or native"
        ]

    @hookimpl
    def sealkit_cert_specs(self, ctx: ClusterContext, host: HostRef) -> Layout:
        return cert_layout(ctx.layout_input(host))

    @hookimpl
    def sealkit_registry_mirror_config(
        self, ctx: ClusterContext, host: HostRef, registry: RegistryInfo
    ) -> list[FileSpec]:
        from sealkit.api import REGISTRY_CA_PATH, mirrors

        return mirrors.k0s_files(
            registry,
            mirrors.upstreams_for(ctx.cluster.images),
            REGISTRY_CA_PATH,
            containerd_major=containerd_major(ctx.image_version),
            certs_dir=CERTS_D,
        )

    @hookimpl
    def sealkit_prepare_host(self, ctx: ClusterContext, host: HostRef) -> None:
        hostops.install_binary(host, ctx.remote_rootfs, "k0s")
        host.conn.run(f"install -d -m 0700 {STATE_DIR}", timeout=30)
        self._copy_airgap(ctx, host)

    def _copy_airgap(self, ctx: ClusterContext, host: HostRef) -> bool:
        """The image's air-gap bundles into AIRGAP_DIR; True when one changed (k0s imports at start)."""
        out = host.conn.run(airgap_script(ctx.remote_rootfs), timeout=600).stdout
        return any(line.startswith("copied ") for line in out.splitlines())

    # ---------------------------------------------------------------------------- boot helpers
    def _install(self, ctx: ClusterContext, host: HostRef, *, role: str, join: bool) -> bool:
        """Run ``k0s install`` when its arguments changed or its unit is missing; True if run."""
        unit = CONTROLLER_UNIT if role == "controller" else WORKER_UNIT
        line = install_command(ctx, host, role=role, join=join)
        changed = hostops.write_file(host, ARGS_FILE, line + "\n", 0o600)
        missing = host.conn.run(f"test -e {UNIT_DIR}/{unit}", check=False, timeout=30).rc != 0
        if not (changed or missing):
            return False
        try:
            host.conn.run(line, timeout=120)
        except StepFailed:
            # forget the arguments, so that a re-run installs again instead of trusting them
            host.conn.run(f"rm -f {ARGS_FILE}", timeout=30)
            raise
        hostops.systemctl(host, "daemon-reload", timeout=60)
        return True

    def _write_config(self, ctx: ClusterContext, host: HostRef, version: str | None = None) -> bool:
        text = render_config(cluster_config(ctx, host, version))
        return hostops.write_file(host, CONFIG, text, 0o600)

    def _token(self, ctx: ClusterContext, role: str) -> str:
        """A fresh join token from the first controller (a secret: never logged, never in argv)."""
        first = ctx.first_master
        self._wait_api(first)
        out = first.conn.run(token_command(role), timeout=120).stdout.strip()
        if not _TOKEN_RE.match(out):
            raise StepFailed(
                f"k0s token create --role={role} printed no token",
                host=first.ip,
                step="join",
                hint="look at: journalctl -u k0scontroller -n 50",
            )
        return out

    def _join(self, ctx: ClusterContext, host: HostRef, role: str) -> None:
        marker = CONTROLLER_JOINED if role == "controller" else WORKER_JOINED
        changed = self._write_config(ctx, host) if role == "controller" else False
        joined = host.conn.run(f"test -s {marker} && test -s {TOKEN_FILE}", check=False, timeout=30).rc == 0
        if not joined:
            changed = hostops.write_file(host, TOKEN_FILE, self._token(ctx, role), 0o600) or changed
        changed = self._install(ctx, host, role=role, join=True) or changed
        unit = CONTROLLER_UNIT if role == "controller" else WORKER_UNIT
        hostops.start_or_restart(host, unit, changed=changed, timeout=READY_TIMEOUT)
        if role == "controller":
            self._wait_api(host)
        self._wait_node(ctx.first_master, host)

    def _wait_api(self, host: HostRef) -> None:
        hostops.wait_until(
            host, f"{BIN} kubectl get --raw=/readyz", what="k0s apiserver", timeout=READY_TIMEOUT
        )

    def _wait_node(self, server: HostRef, node: HostRef) -> None:
        hostops.wait_until(
            server,
            f"{BIN} kubectl get node {shlex.quote(node.name)} -o name",
            what=f"node {node.name} registered",
            timeout=READY_TIMEOUT,
        )

    def _stays(self, ctx: ClusterContext, host: HostRef) -> HostRef:
        for m in ctx.masters:
            if m.ip != host.ip and not m.facts.get("removed"):
                return m
        raise StepFailed(
            f"no master left to remove {host.ip} from the cluster",
            host=host.ip,
            step="drain",
            hint="keep at least one master; sealkit reset removes all",
        )

    # ------------------------------------------------------------------------------------ boot
    @hookimpl
    def sealkit_init_cluster(self, ctx: ClusterContext, host: HostRef) -> bool:
        changed = self._write_config(ctx, host)
        changed = self._install(ctx, host, role="controller", join=False) or changed
        hostops.start_or_restart(host, CONTROLLER_UNIT, changed=changed, timeout=READY_TIMEOUT)
        self._wait_api(host)
        self._wait_node(host, host)
        return True

    @hookimpl
    def sealkit_join_master(self, ctx: ClusterContext, host: HostRef) -> bool:
        self._join(ctx, host, "controller")
        return True

    @hookimpl
    def sealkit_join_node(self, ctx: ClusterContext, host: HostRef) -> bool:
        self._join(ctx, host, "worker")
        return True

    @hookimpl
    def sealkit_drain_host(self, ctx: ClusterContext, host: HostRef) -> bool:
        """Drain and delete the node from a master that stays; a controller also leaves etcd."""
        stays = self._stays(ctx, host)
        stays.conn.run(drain_script(host.name), timeout=300)
        if host.is_master:
            stays.conn.run(leave_script(host.name, host.ip), timeout=120)
        return True

    @hookimpl
    def sealkit_reset_host(self, ctx: ClusterContext, host: HostRef) -> None:
        """``k0s stop`` + ``k0s reset``, then everything sealkit put there for k0s."""
        res = host.conn.run(reset_script(), check=False, timeout=600)
        if res.rc != 0:
            last = (res.stderr or res.stdout).strip().splitlines()[-1:] or [f"exit {res.rc}"]
            raise StepFailed(
                f"k0s reset failed: {last[0]}",
                host=host.ip,
                step="reset",
                hint="k0s and its data were left in place so a re-run retries; see the output of "
                "`k0s reset` on the host (busy mounts: stop what uses them or reboot)",
            )
        for unit in (CONTROLLER_UNIT, WORKER_UNIT):
            hostops.remove_unit(host, unit)
        hostops.remove_paths(host, DATA_DIR, RUN_DIR, CONFIG_DIR, STATE_DIR)
        host.conn.run(f"rm -f {BIN} {BIN}.sealkit-new", timeout=60)

    @hookimpl
    def sealkit_upgrade_host(
        self, ctx: ClusterContext, host: HostRef, from_version: str, to_version: str
    ) -> bool:
        """Replace the binary, bring the new release's air-gap bundle (k0s imports it only at start)
        and, on controllers, the config of the new release; restart when any changed. Controllers
        first (the engine orders)."""
        if containerd_major(from_version) != containerd_major(to_version):
            from sealkit.api import registry_info

            for f in self.sealkit_registry_mirror_config(ctx=ctx, host=host, registry=registry_info(ctx)):
                host.conn.put(f.content, f.path, mode=f.mode)
        changed = hostops.install_binary(host, ctx.remote_rootfs, "k0s")
        changed = self._copy_airgap(ctx, host) or changed
        if host.is_master:
            changed = self._write_config(ctx, host, to_version) or changed
        unit = CONTROLLER_UNIT if host.is_master else WORKER_UNIT
        if changed:
            hostops.systemctl(host, "restart", unit, timeout=READY_TIMEOUT)
        if host.is_master:
            self._wait_api(host)
        server = host if host.is_master else ctx.first_master
        hostops.wait_node_version(server, f"{BIN} kubectl", host.name, to_version, timeout=READY_TIMEOUT)
        return True

    @hookimpl
    def sealkit_get_kubeconfig(self, ctx: ClusterContext) -> str:
        first = ctx.first_master
        text = first.conn.run(f"{BIN} kubeconfig admin", timeout=60).stdout
        return rewrite_kubeconfig(text, Endpoint(first.ip, ctx.runtime.apiserver_port).url(), host=first.ip)

    @hookimpl
    def sealkit_host_expectations(self, ctx: ClusterContext, host: HostRef) -> hostops.Expectations:
        """The controller or worker unit running; on controllers ``k0s.yaml`` as init/join write it. The
        unit file itself is written by ``k0s install`` and the token comes from the cluster: neither is
        declared."""
        if not host.is_master:
            return hostops.Expectations(units=(WORKER_UNIT,))
        config = render_config(cluster_config(ctx, host)).encode()
        return hostops.Expectations(
            units=(CONTROLLER_UNIT,),
            files=(hostops.ExpectedFile(CONFIG, config, 0o600, (CONTROLLER_UNIT,)),),
        )

    @hookimpl
    def sealkit_runtime_version(self, ctx: ClusterContext, host: HostRef) -> str | None:
        res = host.conn.run(f"{BIN} version", check=False, timeout=30)
        return parse_version(res.stdout) if res.rc == 0 else None

    @hookimpl
    def sealkit_update_cert_config(self, ctx: ClusterContext, host: HostRef) -> bool:
        """Controllers where k0s is installed: re-render k0s.yaml, whose ``spec.api.sans`` and
        ``certificatesExpireAfter`` k0s mints its leaves from."""
        if not host.is_master:
            return False
        if host.conn.run(f"test -s {CONFIG}", check=False, timeout=30).rc != 0:
            return False
        return self._write_config(ctx, host)

    @hookimpl
    def sealkit_renew_minted_certs(self, ctx: ClusterContext, host: HostRef) -> bool | None:
        """Controllers: stop k0s, remove the leaves it minted (certificate and key), start it again; k0s
        signs what is missing with the cluster CA at start, with new keys and the configured lifetime."""
        if not host.is_master:
            return None
        hostops.systemctl(host, "stop", CONTROLLER_UNIT, timeout=READY_TIMEOUT)
        try:
            files = [p for crt in certs.MINTED for p in (crt, crt[: -len(".crt")] + ".key")]
            host.conn.run("rm -f " + " ".join(shlex.quote(f) for f in files), timeout=60)
        finally:
            hostops.systemctl(host, "start", CONTROLLER_UNIT, timeout=READY_TIMEOUT)
        self._wait_api(host)
        return True

    @hookimpl
    def sealkit_restart_after_certs(self, ctx: ClusterContext, host: HostRef) -> None:
        """Controllers: restart, which makes k0s re-mint its leaves from the CA and k0s.yaml.
        Workers hold nothing sealkit signs: left alone."""
        if not host.is_master:
            return
        hostops.systemctl(host, "restart", CONTROLLER_UNIT, timeout=READY_TIMEOUT)
        self._wait_api(host)

    @hookimpl
    def sealkit_host_checks(self, ctx: ClusterContext) -> list[str]:
        return [str(Path(__file__).with_name("checks") / "k0s_host_checks.py")]

"""The k3s runtime: ``k3s server`` on masters (embedded etcd), ``k3s agent`` on workers.

Written against k3s's documented interface (docs.k3s.io): the binary from the cluster image's ``bin/k3s``,
configuration in ``/etc/rancher/k3s/config.yaml`` (keys are the CLI flag names), the systemd units the
official install script writes (``k3s.service``, ``k3s-agent.service``, ``Type=notify``), mirrors in
``/etc/rancher/k3s/registries.yaml``, custom CA files pre-placed in ``/var/lib/rancher/k3s/server/tls``
before the first start, and the admin kubeconfig in ``/etc/rancher/k3s/k3s.yaml``.

The join token is made by sealkit in the secure form ``K10<sha256(server-ca.crt)>::server:<secret>``, so
every joining node pins our CA, and it reaches hosts only as a 0600 file (``token-file``), never in argv.

Air-gap images (``k3s-airgap-images-*`` in the cluster image's ``images/``) go to ``agent/images`` under the
data dir at prepare and again at every upgrade: k3s imports that directory at start (and watches it), and an
offline cluster needs the new release's system images. Support matrix: Kubernetes v1.34 to v1.36, the minors
k3s patched in its 2026-06 releases (v1.34.9+k3s1, v1.35.6+k3s1, v1.36.2+k3s1; see LEDGER.md).
"""

from __future__ import annotations

import hashlib
import secrets
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sealkit.api import Endpoint, Layout, RuntimeInfo, StepFailed, hookimpl, hostops
from sealkit_k3s import certs, verify_impl

if TYPE_CHECKING:
    from sealkit.api import ClusterContext, FileSpec, HostRef, RegistryInfo

BIN = "/usr/local/bin/k3s"
CONFIG = "/etc/rancher/k3s/config.yaml"
KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
DATA_DIR = "/var/lib/rancher/k3s"
TOKEN_FILE = "/var/lib/sealkit/k3s/token"
SERVER_UNIT = "k3s.service"
AGENT_UNIT = "k3s-agent.service"
AIRGAP_DIR = f"{DATA_DIR}/agent/images"
AIRGAP_GLOB = "k3s-airgap-images-*"
#: the support matrix (RuntimeInfo), as Kubernetes versions
OLDEST_VERSION = "v1.34.0"
NEWEST_VERSION = "v1.36.99"
# the installer's own environment file, read last by the unit (as the k3s install script does), so the
# operator's /etc/default/k3s stays theirs
ENV_FILES = {unit: f"/etc/systemd/system/{unit}.env" for unit in (SERVER_UNIT, AGENT_UNIT)}
READY_TIMEOUT = 300

_UNIT = """\
# written by sealkit (runtime k3s); the same unit the k3s install script writes
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-/etc/systemd/system/%n.env
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart={bin} {mode}
"""


def airgap_script(rootfs: str, dest: str = AIRGAP_DIR, stage: str = f"{DATA_DIR}/agent") -> str:
    """Copy the image's air-gap archives into ``dest`` where their content differs; prints one
    ``copied NAME`` line per file copied.

    Compared by content, not mtime: every k3s release names its archive alike
    (``k3s-airgap-images-amd64.tar.zst``), so ``cp -u`` would keep the old release's. k3s watches the
    directory and imports a changed file, so it is written beside the directory first (same file system,
    a path k3s's watcher ignores) and renamed in.
    """
    src = shlex.quote(f"{rootfs}/images")
    dst = shlex.quote(dest)
    tmp = shlex.quote(f"{stage}/.sealkit-airgap.tmp")
    return (
        f'for f in {src}/{AIRGAP_GLOB}; do [ -f "$f" ] || continue; n=$(basename "$f"); '
        f'if ! cmp -s "$f" {dst}/"$n"; then mkdir -p {dst} && '
        f'cp "$f" {tmp} && mv -f {tmp} {dst}/"$n" && echo "copied $n"; fi; done'
    )


def drain_script(node: str) -> str:
    """Drain and delete a node; both tolerate a node that is already gone."""
    n = shlex.quote(node)
    return (
        f"if {BIN} kubectl get node {n} -o name >/dev/null 2>&1; then "
        f"{BIN} kubectl drain {n} --ignore-daemonsets --delete-emptydir-data --force --timeout=120s; fi && "
        f"{BIN} kubectl delete node {n} --ignore-not-found"
    )


#: besides the data dir, where k3s-killall.sh unmounts before removing (its do_unmount_and_remove calls)
KILLALL_MOUNT_ROOTS = ("/run/k3s", "/var/lib/kubelet/pods", "/var/lib/kubelet/plugins", "/run/netns/cni-")


def killall_script(data_dir: str = DATA_DIR) -> str:
    """What k3s-killall.sh does that a stopped unit leaves behind: kill every process tree whose program
    lives under ``<data-dir>/data/*/bin/containerd-shim*`` (pod shims survive ``systemctl stop`` under
    ``KillMode=process``), then unmount what is mounted under k3s's paths, deepest first."""
    shim = shlex.quote(data_dir) + "/data/*/bin/containerd-shim*"
    roots = " ".join(shlex.quote(r) for r in (data_dir, *KILLALL_MOUNT_ROOTS))
    return (
        'killtree() { for c in $(pgrep -P "$1"); do killtree "$c"; done; kill -9 "$1" 2>/dev/null; }; '
        "for p in /proc/[0-9]*; do "
        'a=$(tr "\\0" "\\n" < "$p/cmdline" 2>/dev/null | head -n 1); '
        f'case "$a" in {shim}) killtree "${{p#/proc/}}";; esac; done; '
        f"for r in {roots}; do "
        "awk -v r=\"$r\" 'index($2, r) == 1 {print $2}' /proc/self/mounts; done | sort -r -u | "
        'while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done'
    )


def unit_text(mode: str) -> str:
    return _UNIT.format(bin=BIN, mode=mode)


def server_sans(ctx: ClusterContext, host: HostRef) -> list[str]:
    """``tls-san`` of a server: k3s adds these to the serving certificate of its listener on 6443."""
    ep = ctx.endpoint()
    return sorted(
        {
            ep.host,
            host.ip,
            host.name,
            *ctx.cluster.certs.extra_sans,
            *(m.ip for m in ctx.cluster.masters),
        }
    )


def server_config(ctx: ClusterContext, host: HostRef, *, first: bool) -> dict[str, object]:
    """``config.yaml`` of a server; pure, so it is checked by unit tests against k3s's flag names."""
    sans = server_sans(ctx, host)
    cfg: dict[str, object] = {
        "node-ip": host.ip,
        "node-name": host.name,
        "token-file": TOKEN_FILE,
        "tls-san": sans,
        "cluster-cidr": ctx.cluster.network.pod_cidr,
        "service-cidr": ctx.cluster.network.service_cidr,
        "cluster-domain": ctx.cluster.network.dns_domain,
        "write-kubeconfig-mode": "0600",
    }
    if first:
        cfg["cluster-init"] = True
    else:
        cfg["server"] = f"https://{ctx.first_master.ip}:{ctx.runtime.apiserver_port}"
    return cfg


def agent_config(ctx: ClusterContext, host: HostRef) -> dict[str, object]:
    """``config.yaml`` of an agent: it joins through the HA endpoint (k3s balances to all servers)."""
    return {
        "server": ctx.endpoint().url(),
        "token-file": TOKEN_FILE,
        "node-ip": host.ip,
        "node-name": host.name,
    }


def unit_env(ctx: ClusterContext) -> str:
    """The units' environment: the lifetime of every leaf k3s signs (rancher/dynamiclistener reads
    ``CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS``; unset, k3s leaves last 365 days)."""
    return (
        "# written by sealkit (runtime k3s)\n"
        f"CATTLE_NEW_SIGNED_CERT_EXPIRATION_DAYS={ctx.cluster.certs.validity_days}\n"
    )


def join_token(ctx: ClusterContext) -> str:
    """The cluster's secure token; the secret is made once and kept in the cluster state (0600)."""
    secret = ctx.state.secret("k3s-token", lambda: secrets.token_hex(24))
    ca_pem = ctx.pki.get_ca(certs.SERVER_CA.name).cert_pem
    return f"K10{hashlib.sha256(ca_pem).hexdigest()}::server:{secret}"


def _dump(cfg: dict[str, object]) -> str:
    return "# written by sealkit (runtime k3s)\n" + yaml.safe_dump(cfg, sort_keys=True)


class Runtime(verify_impl.Expectations):
    """Hook implementations of the k3s runtime."""

    @hookimpl
    def sealkit_runtime_info(self) -> RuntimeInfo:
        return RuntimeInfo(
            name="k3s",
            default_ha="native",
            binaries=("k3s",),
            master_ports=(6443, 2379, 2380, 10250),
            node_ports=(10250,),
            description="k3s server/agent with embedded etcd; custom CA pre-placed",
            oldest_version=OLDEST_VERSION,
            newest_version=NEWEST_VERSION,
        )

    @hookimpl
    def sealkit_cert_specs(self, ctx: ClusterContext, host: HostRef) -> Layout:
        return certs.cert_layout(ctx.layout_input(host))

    @hookimpl
    def sealkit_registry_mirror_config(
        self, ctx: ClusterContext, host: HostRef, registry: RegistryInfo
    ) -> list[FileSpec]:
        from sealkit.api import REGISTRY_CA_PATH, mirrors

        upstreams = mirrors.upstreams_for(ctx.cluster.images)
        return mirrors.k3s_files(registry, upstreams, REGISTRY_CA_PATH)

    @hookimpl
    def sealkit_prepare_host(self, ctx: ClusterContext, host: HostRef) -> None:
        hostops.install_binary(host, ctx.remote_rootfs, "k3s")
        self._copy_airgap(ctx, host)
        hostops.write_file(host, TOKEN_FILE, join_token(ctx) + "\n", 0o600)

    def _copy_airgap(self, ctx: ClusterContext, host: HostRef) -> bool:
        """The image's air-gap archives into agent/images; True when one changed."""
        out = host.conn.run(airgap_script(ctx.remote_rootfs), timeout=600).stdout
        return any(line.startswith("copied ") for line in out.splitlines())

    def _start(self, ctx: ClusterContext, host: HostRef, cfg: dict[str, object], mode: str) -> None:
        unit = SERVER_UNIT if mode == "server" else AGENT_UNIT
        changed = hostops.write_file(host, CONFIG, _dump(cfg), 0o600)
        changed = hostops.write_file(host, ENV_FILES[unit], unit_env(ctx), 0o644) or changed
        changed = hostops.write_unit(host, unit, unit_text(mode)) or changed
        hostops.start_or_restart(host, unit, changed=changed, timeout=READY_TIMEOUT, wait_out_restarts=True)

    def _wait_api(self, server: HostRef) -> None:
        hostops.wait_until(
            server, f"{BIN} kubectl get --raw=/readyz", what="k3s apiserver", timeout=READY_TIMEOUT
        )

    def _wait_node(self, ctx: ClusterContext, server: HostRef, node: HostRef) -> None:
        hostops.wait_until(
            server,
            f"{BIN} kubectl get node {shlex.quote(node.name)} -o name",
            what=f"node {node.name} registered",
            timeout=READY_TIMEOUT,
        )

    @hookimpl
    def sealkit_init_cluster(self, ctx: ClusterContext, host: HostRef) -> bool:
        self._start(ctx, host, server_config(ctx, host, first=True), "server")
        self._wait_api(host)
        self._wait_node(ctx, host, host)
        return True

    @hookimpl
    def sealkit_join_master(self, ctx: ClusterContext, host: HostRef) -> bool:
        self._start(ctx, host, server_config(ctx, host, first=False), "server")
        self._wait_node(ctx, ctx.first_master, host)
        return True

    @hookimpl
    def sealkit_join_node(self, ctx: ClusterContext, host: HostRef) -> bool:
        self._start(ctx, host, agent_config(ctx, host), "agent")
        self._wait_node(ctx, ctx.first_master, host)
        return True

    @hookimpl
    def sealkit_drain_host(self, ctx: ClusterContext, host: HostRef) -> bool:
        """Drain and delete the node from a master that stays; k3s then drops its etcd member.
        A node that is already gone is not drained (kubectl drain would fail on it)."""
        stays = next((m for m in ctx.masters if m.ip != host.ip and not m.facts.get("removed")), None)
        if stays is None:
            raise StepFailed(
                f"no master left to remove {host.ip} from the cluster",
                host=host.ip,
                step="drain",
                hint="keep at least one master; sealkit reset removes all",
            )
        stays.conn.run(drain_script(host.name), timeout=300)
        return True

    @hookimpl
    def sealkit_reset_host(self, ctx: ClusterContext, host: HostRef) -> None:
        """What k3s-killall.sh and k3s-uninstall.sh do, limited to what sealkit installed."""
        for unit in (SERVER_UNIT, AGENT_UNIT):
            hostops.remove_unit(host, unit)
        host.conn.run(killall_script(), timeout=120)
        hostops.remove_paths(
            host,
            "/run/k3s",
            "/var/lib/kubelet",
            DATA_DIR,
            "/etc/rancher/k3s",
            "/etc/rancher/node",
            "/var/lib/sealkit/k3s",
            "/run/flannel",
            "/var/lib/cni",
            *ENV_FILES.values(),
        )
        host.conn.run(
            f"rm -f {BIN} /usr/local/bin/k3s.sealkit-new; "
            # the parents k3s created, when nothing else lives in them
            "for d in /etc/rancher /var/lib/rancher; do "
            '[ ! -d "$d" ] || rmdir --ignore-fail-on-non-empty "$d"; done',
            timeout=60,
        )

    @hookimpl
    def sealkit_upgrade_host(
        self, ctx: ClusterContext, host: HostRef, from_version: str, to_version: str
    ) -> bool:
        """k3s upgrade = replace the binary, bring the new release's air-gap images and restart; servers
        first (the engine orders hosts)."""
        changed = hostops.install_binary(host, ctx.remote_rootfs, "k3s")
        changed = self._copy_airgap(ctx, host) or changed
        unit = SERVER_UNIT if host.is_master else AGENT_UNIT
        if changed:
            hostops.systemctl(host, "restart", unit, timeout=READY_TIMEOUT)
        where = host if host.is_master else ctx.first_master
        hostops.wait_node_version(where, f"{BIN} kubectl", host.name, to_version, timeout=READY_TIMEOUT)
        return True

    @hookimpl
    def sealkit_get_kubeconfig(self, ctx: ClusterContext) -> str:
        first = ctx.first_master
        text = first.conn.run(f"cat {KUBECONFIG}", timeout=30).stdout
        return text.replace("https://127.0.0.1:6443", Endpoint(first.ip, ctx.runtime.apiserver_port).url())

    @hookimpl
    def sealkit_runtime_version(self, ctx: ClusterContext, host: HostRef) -> str | None:
        res = host.conn.run(f"{BIN} --version", check=False, timeout=30)
        if res.rc != 0:
            return None
        words = res.stdout.split()
        return words[2] if len(words) > 2 and words[1] == "version" else res.stdout.strip()

    @hookimpl
    def sealkit_update_cert_config(self, ctx: ClusterContext, host: HostRef) -> bool:
        """Installed hosts: the leaf lifetime in the unit's environment; servers also get the current
        SANs in ``tls-san`` of their ``config.yaml``.

        Only that key is rewritten: the rest (``cluster-init`` or ``server``) describes how the server
        joined, which a SAN change must not alter. k3s adds configured SANs to its listener certificate
        when it starts, so the restart that follows a change serves the new names.
        """
        res = host.conn.run(f"cat {CONFIG}", check=False, timeout=30)
        if res.rc != 0 or not res.stdout.strip():
            return False  # k3s is not installed here (yet): its install writes both files
        unit = SERVER_UNIT if host.is_master else AGENT_UNIT
        changed = hostops.write_file(host, ENV_FILES[unit], unit_env(ctx), 0o644)
        if not host.is_master:
            return changed
        cfg = yaml.safe_load(res.stdout)
        if not isinstance(cfg, dict):
            raise StepFailed(
                f"{CONFIG} is not a YAML mapping",
                host=host.ip,
                step="cert config",
                hint=f"fix or remove {CONFIG}, then re-run",
            )
        cfg["tls-san"] = server_sans(ctx, host)
        return hostops.write_file(host, CONFIG, _dump(cfg), 0o600) or changed

    @hookimpl
    def sealkit_renew_minted_certs(self, ctx: ClusterContext, host: HostRef) -> bool | None:
        """``k3s certificate rotate`` while k3s is stopped, as k3s documents it, then start: k3s signs its
        leaves anew (new keys) for the lifetime in the unit's environment. k3s is started again even when
        the rotation failed, so the node is never left down."""
        unit = SERVER_UNIT if host.is_master else AGENT_UNIT
        hostops.systemctl(host, "stop", unit, timeout=READY_TIMEOUT)
        try:
            host.conn.run(f"{BIN} certificate rotate", timeout=300)
        finally:
            hostops.start_or_restart(host, unit, changed=False, timeout=READY_TIMEOUT, wait_out_restarts=True)
        if host.is_master:
            self._wait_api(host)
        return True

    @hookimpl
    def sealkit_restart_after_certs(self, ctx: ClusterContext, host: HostRef) -> None:
        unit = SERVER_UNIT if host.is_master else AGENT_UNIT
        hostops.systemctl(host, "restart", unit, timeout=READY_TIMEOUT)
        if host.is_master:
            self._wait_api(host)

    @hookimpl
    def sealkit_host_checks(self, ctx: ClusterContext) -> list[str]:
        return [str(Path(__file__).with_name("checks") / "k3s_host_checks.py")]

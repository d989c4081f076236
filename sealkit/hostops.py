"""Small, idempotent host operations that every runtime plugin needs (files, units, waiting).

Part of the plugin-facing API: third-party runtimes use these too, so that "write only what changed, reload
only when a unit changed, restart only what changed" is one mechanism, not four.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sealkit.errors import StepFailed

if TYPE_CHECKING:
    from sealkit.context import HostRef

UNIT_DIR = "/etc/systemd/system"


@dataclass(frozen=True)
class ExpectedFile:
    """A file sealkit rendered on a host, as ``sealkit_host_expectations`` declares it.

    ``content`` is what sealkit would write there now (None when the plugin cannot render it again
    without the host's own context: the drift is then reported with ``fix`` instead of guessed at);
    ``repair``, when given, is the plugin's own write path that puts it back (e.g. the LB re-sync) and
    wins over writing ``content``; ``restarts`` are the units that must restart once it is repaired.
    """

    path: str
    content: bytes | None = None
    mode: int = 0o644
    restarts: tuple[str, ...] = ()
    fix: str = ""
    repair: Callable[[], object] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Expectations:
    """What must hold on a joined host for this plugin's part of the cluster to work: ``units`` active
    and enabled, ``files`` with the content sealkit wrote. A re-run reads all of it in one round trip
    (:mod:`sealkit.engine.verify`) and repairs what drifted."""

    units: tuple[str, ...] = ()
    files: tuple[ExpectedFile, ...] = ()


def install_binary(host: HostRef, rootfs: str, name: str, dest_dir: str = "/usr/local/bin") -> bool:
    """Copy ``<rootfs>/bin/<name>`` (already on the host) to ``dest_dir``; True when it changed."""
    src = shlex.quote(f"{rootfs}/bin/{name}")
    dst = shlex.quote(f"{dest_dir}/{name}")
    res = host.conn.run(
        f"test -f {src} || {{ echo 'missing in cluster image: bin/{name}' >&2; exit 3; }}; "
        f"if cmp -s {src} {dst}; then echo same; else "
        f"install -D -m 0755 {src} {dst}.sealkit-new && mv -f {dst}.sealkit-new {dst} && echo new; fi",
        timeout=120,
    )
    return res.stdout.strip().endswith("new")


def write_file(host: HostRef, path: str, content: str | bytes, mode: int = 0o644) -> bool:
    """Content-addressed write; True when the file changed."""
    data = content.encode() if isinstance(content, str) else content
    return bool(host.conn.put(data, path, mode=mode))


def write_unit(host: HostRef, name: str, text: str) -> bool:
    """Write a systemd unit; ``daemon-reload`` only when it changed. True when it changed."""
    changed = write_file(host, f"{UNIT_DIR}/{name}", text, 0o644)
    if changed:
        host.conn.run("systemctl daemon-reload", timeout=60)
    return changed


def systemctl(host: HostRef, *args: str, timeout: float = 300, check: bool = True):
    return host.conn.run("systemctl " + " ".join(shlex.quote(a) for a in args), timeout=timeout, check=check)


def start_or_restart(
    host: HostRef, unit: str, *, changed: bool, timeout: float = 600, wait_out_restarts: bool = False
) -> None:
    """Enable and start ``unit``; restart it only when its config or binary ``changed``.

    ``wait_out_restarts``: for services that may exit on a transient condition and are restarted by
    systemd (``Restart=always``), a failed start is waited out until the unit is active. Why: joining an
    etcd member right after another is refused by etcd ("unhealthy cluster") until every member has been
    connected for a few seconds; k3s then exits and systemd starts it again.
    """
    systemctl(host, "enable", unit, timeout=60)
    res = systemctl(
        host, "restart" if changed else "start", unit, timeout=timeout, check=not wait_out_restarts
    )
    if res.rc == 0:
        return
    q = shlex.quote(unit)
    try:
        wait_until(host, f"systemctl is-active -q {q}", what=unit, timeout=timeout, interval=3)
    except StepFailed as err:
        logs = host.conn.run(f"journalctl -u {q} -n 5 --no-pager -o cat", check=False, timeout=30)
        raise StepFailed(
            f"{unit} did not start within {timeout:.0f}s; its last log lines:\n{logs.stdout.strip()}",
            host=host.ip,
            step=f"start {unit}",
            hint=f"journalctl -u {unit} on the host shows why",
        ) from err


def remove_unit(host: HostRef, name: str) -> None:
    """Stop, disable and delete a unit; nothing left for systemd to restart."""
    path = shlex.quote(f"{UNIT_DIR}/{name}")
    q = shlex.quote(name)
    host.conn.run(
        f"if [ -e {path} ] || systemctl is-active -q {q}; then "
        f"systemctl disable --now {q} >/dev/null 2>&1 || true; "
        f"systemctl stop {q} >/dev/null 2>&1 || true; fi; "
        # the unit file may already be gone (a tool's own uninstall): its enablement links are not
        f"rm -f {path} {UNIT_DIR}/*.wants/{q}; systemctl daemon-reload; "
        f"systemctl reset-failed {q} 2>/dev/null || true",
        timeout=180,
    )


def wait_until(host: HostRef, command: str, *, what: str, timeout: float = 180, interval: float = 2.0) -> str:
    """Poll ``command`` on the host until it exits 0; StepFailed naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        res = host.conn.run(command, check=False, timeout=max(10.0, interval * 5))
        if res.rc == 0:
            return res.stdout
        last = (res.stderr or res.stdout).strip().splitlines()[-1:] or [f"exit {res.rc}"]
        last = last[0]
        if time.monotonic() > deadline:
            raise StepFailed(
                f"{what} not ready after {timeout:.0f}s (last: {last})",
                host=host.ip,
                hint="look at the service logs: journalctl -u <unit> -n 50",
            )
        time.sleep(interval)


def remove_etcd_member(host: HostRef, etcdctl: str, member_id: str, *, timeout: float = 120) -> None:
    """``etcdctl member remove``, retried until the member is gone.

    Why: with strict reconfig checks (etcd's default) a removal is refused ("unhealthy cluster") while the
    local member has been connected to its peers for less than 5 s, e.g. right after a member joined.
    ``etcdctl`` is the command prefix (binary and TLS flags) that reaches an etcd member that stays.
    """
    q = shlex.quote(member_id)
    wait_until(
        host,
        f"{etcdctl} member remove {q} >/dev/null 2>&1 || "
        f"{{ out=$({etcdctl} member list -w simple) && ! printf '%s\\n' \"$out\" | grep -q ^{q},; }}",
        what=f"etcd member {member_id} removed",
        timeout=timeout,
    )


def wait_node_version(where: HostRef, kubectl: str, node: str, version: str, *, timeout: float = 300) -> None:
    """Wait until the Node ``node`` reports ``version`` as its kubelet version (an upgrade's last step).

    ``kubectl`` is the command prefix that works on ``where`` (``k3s kubectl``, ``kubectl
    --kubeconfig …``). The distribution suffix is ignored: ``v1.31.2`` matches ``v1.31.2+k3s1`` but not
    ``v1.31.20``.
    """
    base = version.split("+")[0]
    pattern = shlex.quote("^" + base.replace(".", "\\.") + "([+-]|$)")
    wait_until(
        where,
        f"{kubectl} get node {shlex.quote(node)} -o jsonpath='{{.status.nodeInfo.kubeletVersion}}' "
        f"--request-timeout=8s | grep -qE {pattern}",
        what=f"node {node} at {version}",
        timeout=timeout,
    )


def remove_paths(host: HostRef, *paths: str) -> None:
    """Unmount anything below each path, then delete it."""
    quoted = " ".join(shlex.quote(p) for p in paths)
    each = _unmount_and_remove('"$p"')
    host.conn.run(f"for p in {quoted}; do {each}; done", timeout=300)


def _unmount_and_remove(quoted_path: str) -> str:
    """Shell: lazily unmount everything at or below the (already quoted) path, then delete it."""
    return (
        f"awk -v p={quoted_path} '$2==p || index($2, p\"/\")==1 {{print $2}}' /proc/self/mounts | sort -r | "
        f'while read -r m; do umount -l "$m" 2>/dev/null || true; done; rm -rf {quoted_path}'
    )


#: what containerd creates when it starts under its defaults: its root, its state dir and the
#: managed opt dir of its ``io.containerd.internal.v1.opt`` plugin (containerd/containerd
#: docs/managed-opt.md: default path /opt/containerd, with bin/ and lib/ made at plugin init)
CONTAINERD_RUNTIME_PATHS = ("/opt/containerd", "/var/lib/containerd", "/run/containerd")


PRIOR_DIR = "/var/lib/sealkit/prior"


def remember_unit_state(host: HostRef, unit: str, runtime_paths: tuple[str, ...] = ()) -> None:
    """Note whether the host's own ``unit`` was enabled and running before sealkit first touched it, and
    which of ``runtime_paths`` (what the service creates when it starts, e.g. containerd's
    ``/opt/containerd``) did not exist yet.

    Only the first call writes (a re-run must not record sealkit's own doing as the host's state);
    :func:`restore_unit_state` gives the state back on reset and removes the runtime paths that the
    service created only because sealkit started it.
    """
    q = shlex.quote(unit)
    marker = shlex.quote(f"{PRIOR_DIR}/{unit}")
    absent = "".join(
        f"[ -e {shlex.quote(p)} ] || [ -L {shlex.quote(p)} ] || echo absent={shlex.quote(p)}; "
        for p in runtime_paths
    )
    host.conn.run(
        f"[ -e {marker} ] || {{ mkdir -p {PRIOR_DIR} && {{ "
        f'printf "enabled=%s\\nactive=%s\\n" "$(systemctl is-enabled {q} 2>/dev/null)" '
        f'"$(systemctl is-active {q} 2>/dev/null)"; {absent}}} > {marker}.tmp && '
        f"mv -f {marker}.tmp {marker}; }}",
        timeout=60,
    )


def restore_unit_state(host: HostRef, unit: str, runtime_paths: tuple[str, ...] = ()) -> None:
    """Stop and/or disable ``unit`` again when it was not running/enabled before sealkit (reset).

    Of ``runtime_paths``, those recorded as absent by :func:`remember_unit_state` are removed once the
    unit is stopped: the service made them while sealkit ran it. A path the host had before is kept,
    and so is everything while the host's own service still runs.
    """
    q = shlex.quote(unit)
    marker = shlex.quote(f"{PRIOR_DIR}/{unit}")
    created = "".join(
        f"if grep -qxF {shlex.quote('absent=' + p)} {marker}; then "
        f"{_unmount_and_remove(shlex.quote(p))}; fi; "
        for p in runtime_paths
    )
    host.conn.run(
        f"if [ -e {marker} ]; then if systemctl cat {q} >/dev/null 2>&1; then "
        f"grep -qx 'active=active' {marker} || systemctl stop {q}; "
        f"grep -qx 'enabled=enabled' {marker} || systemctl disable -q {q}; fi; "
        f"if ! systemctl is-active -q {q}; then {created}true; fi; "
        f"rm -f {marker}; rmdir --ignore-fail-on-non-empty {PRIOR_DIR}; fi",
        timeout=180,
    )


def clear_dir(host: HostRef, path: str) -> None:
    """Delete what is inside ``path`` but keep the directory: for data dirs a distribution package may
    own (``/var/lib/etcd``), so a reset does not remove a directory the host had before."""
    q = shlex.quote(path)
    host.conn.run(f"if [ -d {q} ]; then find {q} -mindepth 1 -delete; fi", timeout=300)

"""The issue's acceptance, on real hosts: an offline cluster pulls ORIGINAL image names from its own
registry (sealos #4245 "offline install reaches for the internet", #4117 "image not found").

Two systemd lab hosts (no route out of the lab: no other registry is reachable). The built-in
RegistryPlugin runs Debian's Distribution registry (standing in for the image's ``bin/registry``) as
``sealkit-registry.service`` on the master, writes the stable name and the cluster CA on both hosts,
and syncs a locally built busybox image from the controller. A real containerd + runc on the worker
then pulls ``docker.io/library/busybox:1.36`` through ``certs.d`` mirror config and runs it.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sealkit.cluster import Cluster, Host
from sealkit.context import ClusterContext, HostRef, RegistryInfo, RuntimeInfo
from sealkit.errors import ImageError
from sealkit.image.layout import OciLayout
from sealkit.pki.store import PKIStore
from sealkit.registry import REGISTRY_CA_PATH, mirrors, service, sync
from sealkit.registry import hosts as hostsfile
from sealkit.registry.plugin import RegistryPlugin
from sealkit.ssh import Connection, HostKeyPolicy, Target
from sealkit.state import ClusterState
from tests.lab_registry.local_registry import registry_binary
from tests.lab_registry.oci_fixture import BUSYBOX, busybox_image, layer_digest

pytestmark = pytest.mark.lab

IMAGE = "docker.io/library/busybox:1.36"
MARKER = "offline pull served by sealkit.hub"
CTR = "ctr --address /run/containerd/containerd.sock"
PTY_HELPER = "/root/sealkit-pty-answer.py"
#: run a command that asks "Password:" on a terminal (ctr --user NAME), answering with the first
#: line of stdin: the password never appears in any argv (``ps``)
PTY_SCRIPT = b"""import os, pty, select, sys
pw = sys.stdin.readline().rstrip("\\n").encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out, sent = b"", False
while True:
    ready, _, _ = select.select([fd], [], [], 300)
    if not ready:
        break
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and b"Password:" in out:
        os.write(fd, pw + b"\\n")
        sent = True
status = os.waitpid(pid, 0)[1]
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"""

needs_tools = pytest.mark.skipif(
    registry_binary() is None or not BUSYBOX.exists(),
    reason="needs Debian's docker-registry, containerd, runc and busybox-static",
)


@dataclass
class Env:
    lab: object
    ctx: ClusterContext
    plugin: RegistryPlugin
    #: what hosts get: the read-only instance (:5000) and the pull account
    info: RegistryInfo
    #: what only the controller holds: the read-write instance (:5001) and the push account
    push: RegistryInfo
    master: HostRef
    node: HostRef
    oci: Path
    entry: dict


def _conn(lab_host, known_hosts: Path) -> Connection:
    target = Target(address=lab_host.ip, port=lab_host.port, user="root", key_path=str(lab_host.root_key))
    policy = HostKeyPolicy(known_hosts, mode="accept-new", user_known_hosts=None)
    return Connection(target, hostkeys=policy, ssh_config=str(lab_host.ssh_config))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Lab up, registry prepared on both hosts, the busybox image synced — once for the module."""
    from tests.lab import Lab
    from tests.lab.core import SYSTEMD

    if not SYSTEMD.exists():
        pytest.skip("systemd hosts need /lib/systemd/systemd")
    tmp = tmp_path_factory.mktemp("registry-lab")
    lab = Lab.up(2, systemd=True, name=f"reg-{os.getpid()}-{secrets.token_hex(2)}")
    conns: list[Connection] = []
    try:
        m, n = lab.hosts[0], lab.hosts[1]
        hosts = [Host(ip=m.ip, roles=["master"]), Host(ip=n.ip, roles=["node"])]
        state = ClusterState("regtest", home=tmp / "home")
        state.ensure()
        ctx = ClusterContext(
            cluster=Cluster(name="regtest", hosts=hosts),
            state=state,
            fleet=None,  # type: ignore[arg-type]
            pm=None,  # type: ignore[arg-type]
            runtime=RuntimeInfo("lab"),
            pki=PKIStore(state.pki_dir),
        )
        for spec, lh in zip(hosts, (m, n), strict=True):
            conn = _conn(lh, state.known_hosts)
            conns.append(conn)
            ctx.hosts[spec.ip] = HostRef(spec=spec, conn=conn)
        oci = tmp / "oci"
        entry = busybox_image(oci, IMAGE, marker=MARKER)
        plugin = RegistryPlugin(binary=registry_binary(), images_dir=oci)
        master, node = ctx.hosts[m.ip], ctx.hosts[n.ip]
        for h in (master, node):
            plugin.sealkit_prepare_host(ctx=ctx, host=h)
        info, push = service.registry_info(ctx), service.push_registry_info(ctx)
        plugin.sealkit_sync_images(ctx=ctx, registry=push)  # waits for the fresh unit itself
        yield Env(lab, ctx, plugin, info, push, master, node, oci, entry)
    finally:
        for c in conns:
            c.close()
        lab.down()


def _sh(host: HostRef, cmd: str, **kw):
    return host.conn.run(cmd, check=False, timeout=kw.pop("timeout", 120), **kw)


def _wait_registry(host: HostRef) -> None:
    """Bounded wait for the unit to answer on :5000 (it starts asynchronously)."""
    deadline = time.monotonic() + 30
    cmd = f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {REGISTRY_CA_PATH} https://sealkit.hub:5000/v2/"
    while time.monotonic() < deadline:
        if _sh(host, cmd).stdout.strip() == "401":
            return
        time.sleep(0.3)
    journal = _sh(host, "journalctl -u sealkit-registry.service --no-pager -n 30").stdout
    raise AssertionError(f"registry did not come up:\n{journal}")


# ------------------------------------------------------------------------------------- service
@needs_tools
def test_registry_runs_as_a_systemd_unit_with_private_files(env: Env, testinfra_host) -> None:
    lab_master = env.lab.hosts[0]
    ti = testinfra_host(lab_master)
    for name in ("sealkit-registry.service", "sealkit-registry-push.service"):
        svc = ti.service(name)
        assert svc.is_running and svc.is_enabled, name
    for path in ("config.yml", "htpasswd", "config-push.yml", "htpasswd-push", "tls.key"):
        f = ti.file(f"/etc/sealkit/registry/{path}")
        assert f.mode == 0o600 and f.user == "root", path
    assert ti.file("/var/lib/sealkit/registry/docker/registry/v2/repositories/library/busybox").is_directory
    unit = ti.file("/etc/systemd/system/sealkit-registry.service").content_string
    assert "Restart=always" in unit and f"ExecStart={registry_binary()} serve" in unit
    # the passwords are nowhere in the units, the configs or any process's argv
    for password in (env.info.password, env.push.password):
        assert password not in unit
        assert password not in ti.file("/etc/sealkit/registry/config.yml").content_string
        assert password not in ti.file("/etc/sealkit/registry/config-push.yml").content_string
        assert password not in _sh(env.master, "ps -eo args").stdout


@needs_tools
def test_restart_always_brings_a_killed_registry_back(env: Env) -> None:
    pid = _sh(env.master, "systemctl show -p MainPID --value sealkit-registry.service").stdout
    assert pid.strip() not in ("", "0")
    _sh(env.master, f"kill -9 {int(pid)}")
    deadline = time.monotonic() + 30
    new = pid
    while time.monotonic() < deadline:
        new = _sh(env.master, "systemctl show -p MainPID --value sealkit-registry.service").stdout
        if new.strip() not in ("", "0", pid.strip()):
            break
        time.sleep(0.5)
    assert new.strip() not in ("", "0", pid.strip())
    _wait_registry(env.master)


@needs_tools
def test_second_prepare_changes_nothing(env: Env) -> None:
    before = _sh(
        env.master, "systemctl show -p ExecMainStartTimestampMonotonic sealkit-registry.service"
    ).stdout
    assert service.ensure_service(env.ctx, env.master, binary=registry_binary()) is False
    for h in (env.master, env.node):
        assert hostsfile.ensure_hosts_entry(h, [(env.info.hosts[0], "sealkit.hub")]) is False
        assert hostsfile.install_ca(h, env.info.ca_pem) is False
    after = _sh(
        env.master, "systemctl show -p ExecMainStartTimestampMonotonic sealkit-registry.service"
    ).stdout
    assert before == after  # not restarted


# -------------------------------------------------------------------------- name, TLS, auth
@needs_tools
def test_every_host_resolves_the_stable_name(env: Env) -> None:
    for h in (env.master, env.node):
        out = _sh(h, "getent hosts sealkit.hub").stdout.split()
        assert out[:2] == [env.info.hosts[0], "sealkit.hub"]
        assert "# sealkit begin" in _sh(h, "cat /etc/hosts").stdout


@needs_tools
def test_tls_verifies_against_the_cluster_ca_only(env: Env) -> None:
    url = "https://sealkit.hub:5000/v2/"
    ok = _sh(env.node, f"curl -sS -o /dev/null -w '%{{http_code}}' --cacert {REGISTRY_CA_PATH} {url}")
    assert ok.rc == 0 and ok.stdout.strip() == "401"  # TLS verified; credentials required
    untrusted = _sh(env.node, f"curl -sS -o /dev/null {url}")
    assert untrusted.rc == 60, untrusted.stderr  # curl: peer certificate cannot be authenticated
    by_ip = _sh(
        env.node,
        f"curl -sS -o /dev/null -w '%{{http_code}}' --cacert {REGISTRY_CA_PATH} "
        f"https://{env.info.hosts[0]}:5000/v2/",
    )
    assert by_ip.stdout.strip() == "401"  # the host IP is a SAN too


@needs_tools
def test_unauthenticated_and_wrong_password_pushes_are_refused(env: Env) -> None:
    base = f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {REGISTRY_CA_PATH} -X POST"
    url = "https://sealkit.hub:5000/v2/library/evil/blobs/uploads/"
    assert _sh(env.node, f"{base} {url}").stdout.strip() == "401"
    # wrong credentials go through a curl config file on stdin, not argv
    wrong = _sh(env.node, f"{base} -K - {url}", stdin=b'user = "sealkit:not-the-password"\n')
    assert wrong.stdout.strip() == "401"
    # issue 14, item 7: the account every node holds cannot push — not on the read-only instance every
    # host uses (405: no write method is routed there), not on the push instance (401: unknown account)
    pull_creds = f'user = "{env.info.username}:{env.info.password}"\n'.encode()
    assert _sh(env.node, f"{base} -K - {url}", stdin=pull_creds).stdout.strip() == "405"
    push_url = f"https://sealkit.hub:{env.push.port}/v2/library/evil/blobs/uploads/"
    assert _sh(env.node, f"{base} -K - {push_url}", stdin=pull_creds).stdout.strip() == "401"
    # the controller's push account is accepted by the push instance only
    push_creds = f'user = "{env.push.username}:{env.push.password}"\n'.encode()
    assert _sh(env.node, f"{base} -K - {push_url}", stdin=push_creds).stdout.strip() == "202"
    assert _sh(env.node, f"{base} -K - {url}", stdin=push_creds).stdout.strip() == "401"
    # and no host holds the push password: prepare put only the pull account's bcrypt hash in htpasswd
    node_files = _sh(env.node, "grep -rl -F -f - /etc 2>/dev/null", stdin=env.push.password.encode()).stdout
    assert node_files.strip() == ""


# --------------------------------------------------------------------- containerd: the acceptance
def _start_containerd(node: HostRef, info: RegistryInfo) -> None:
    """containerd with the CRI registry section sealkit renders (config_path + pull auth)."""
    config = (
        "version = 2\n"
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n\n' + mirrors.containerd_cri_registry_toml(info)
    )
    node.conn.put(config.encode(), "/etc/containerd/config.toml", mode=0o600)
    for f in mirrors.containerd_files(info, ["docker.io"], REGISTRY_CA_PATH):
        node.conn.put(f.content, f.path, mode=f.mode)
    res = _sh(node, "systemctl start containerd.service && systemctl is-active containerd.service")
    assert res.rc == 0, res.stderr + _sh(node, "journalctl -u containerd --no-pager -n 30").stdout


def _ctr_pull(node: HostRef, info: RegistryInfo, hosts_dir: str, *, auth: bool = True):
    if not auth:
        return _sh(node, f"{CTR} images pull --hosts-dir {hosts_dir} {IMAGE}", timeout=180)
    return _sh(
        node,
        f"python3 {PTY_HELPER} {CTR} images pull --hosts-dir {hosts_dir} --user {info.username} {IMAGE}",
        stdin=(info.password + "\n").encode(),
        timeout=180,
    )


@needs_tools
def test_containerd_pulls_the_original_name_from_the_embedded_registry_and_runs_it(env: Env):
    node, info = env.node, env.info
    _start_containerd(node, info)
    node.conn.put(PTY_SCRIPT, PTY_HELPER, mode=0o700)

    # no mirror config: the pull would have to reach docker.io — the lab has no way out
    empty = _ctr_pull(node, info, "/nonexistent-hosts-dir")
    assert empty.rc != 0
    assert _sh(node, f"{CTR} images ls -q").stdout.strip() == ""

    # mirror config but no credentials: the registry refuses anonymous pulls
    anon = _ctr_pull(node, info, "/etc/containerd/certs.d", auth=False)
    assert anon.rc != 0 and "401" in (anon.stderr + anon.stdout)

    pulled = _ctr_pull(node, info, "/etc/containerd/certs.d")
    assert pulled.rc == 0, pulled.stdout[-2000:] + pulled.stderr[-2000:]
    listed = _sh(node, f"{CTR} images ls").stdout
    assert IMAGE in listed and env.entry["digest"] in listed  # original name, our exact bytes

    ran = _sh(node, f"{CTR} run --rm {IMAGE} sealkit-lab-t1", timeout=120)
    assert ran.rc == 0, ran.stderr
    assert ran.stdout.strip() == MARKER


# ---------------------------------------------------------------------------- sync integrity
@needs_tools
def test_resync_sends_nothing(env: Env) -> None:
    report = sync.sync_layout_dir(env.oci, env.push)
    assert report.images_skipped == [IMAGE]
    assert report.blobs_pushed == 0 and report.manifests_pushed == 0


@needs_tools
def test_corrupted_blob_is_refused_with_a_clear_error(env: Env, tmp_path: Path) -> None:
    oci = tmp_path / "oci"
    entry = busybox_image(oci, "docker.io/library/busybox:corrupt", extra_file=b"x" * 4096)
    layer = layer_digest(oci, entry)
    blob = OciLayout(oci).blob_path(layer)
    data = bytearray(blob.read_bytes())
    data[-100] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(ImageError) as err:
        sync.sync_layout_dir(oci, env.push)
    text = str(err.value)
    assert "busybox:corrupt" in text and layer in text and "corrupted" in text
    head = _sh(
        env.master,
        f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {REGISTRY_CA_PATH} -K - -I "
        f"https://sealkit.hub:5000/v2/library/busybox/blobs/{layer}",
        stdin=f'user = "{env.info.username}:{env.info.password}"\n'.encode(),
    )
    assert head.stdout.strip() == "404"  # never stored


# ------------------------------------------------------------------------------------- reset
@needs_tools
def test_reset_removes_everything_it_added(env: Env) -> None:
    _sh(env.node, "systemctl stop containerd.service")
    for h in (env.master, env.node):
        env.plugin.sealkit_reset_host(ctx=env.ctx, host=h)
    gone = (
        "test ! -e /etc/systemd/system/sealkit-registry.service && "
        "test ! -e /etc/systemd/system/sealkit-registry-push.service && "
        "test ! -e /etc/sealkit/registry && test ! -e /var/lib/sealkit/registry && "
        f"test ! -e {REGISTRY_CA_PATH} && ! grep -q 'sealkit' /etc/hosts && "
        "test ! -e /etc/containerd/certs.d/docker.io && test ! -e /etc/containerd/certs.d/_default"
    )
    for h in (env.master, env.node):
        res = _sh(h, gone)
        assert res.rc == 0, _sh(h, "cat /etc/hosts; ls -la /etc/sealkit").stdout
    assert _sh(env.master, "systemctl is-active sealkit-registry.service").rc != 0
    assert _sh(env.master, "systemctl is-active sealkit-registry-push.service").rc != 0
    assert _sh(env.master, "ss -Hltn 'sport = :5000'").stdout.strip() == ""
    assert _sh(env.master, "ss -Hltn 'sport = :5001'").stdout.strip() == ""
    # and a second reset finds nothing to do (no error)
    env.plugin.sealkit_reset_host(ctx=env.ctx, host=env.master)

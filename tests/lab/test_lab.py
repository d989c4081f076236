"""The lab itself: isolation, identity, users, topology, faults and a clean tear-down.

Run: ``pytest -m lab tests/lab`` as root (the non-``lab`` tests at the bottom run anywhere).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest

from tests.lab import Lab, LabHost
from tests.lab.cgroups import Layout
from tests.lab.core import SYSTEMD
from tests.lab.inventory import known_hosts, ssh_config
from tests.lab.model import LAB_ROUTE_PROTO, REGISTRY, inner_prefix, lab_netns, root_veth
from tests.lab.net import parse_rate

lab_test = pytest.mark.lab


def ssh(
    h: LabHost, cmd: str, *, user: str = "root", input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The plain OpenSSH client with the lab's ssh_config (strict host key checking)."""
    return subprocess.run(
        ["ssh", "-F", str(h.ssh_config), "-o", "BatchMode=yes", f"{user}@{h.hostname}", cmd],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def server_key(h: LabHost) -> str:
    """The host key sshd presents, as "type base64"."""
    with socket.create_connection((h.ip, h.port), timeout=10) as sock:
        t = paramiko.Transport(sock)
        try:
            t.start_client(timeout=10)
            key = t.get_remote_server_key()
            return f"{key.get_name()} {key.get_base64()}"
        finally:
            t.close()


def refused_or_unreachable(ip: str, port: int = 22, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return False
    except OSError:  # refused, unreachable or timed out
        return True


# ------------------------------------------------------------------------------------------------
@lab_test
def test_hosts_are_separate_machines(lab: Lab) -> None:
    seen_ids = set()
    for h in lab.all_hosts:
        res = lab.exec_on(h, "hostname; cat /etc/machine-id; cat /proc/1/comm; ps -e --no-headers | wc -l")
        hostname, machine_id, pid1, nprocs = res.stdout.split()
        assert hostname == h.hostname
        assert pid1 == "sshd"
        assert int(nprocs) < 10  # its own PID namespace: none of the other hosts' processes
        seen_ids.add(machine_id)
    assert len(seen_ids) == len(lab.all_hosts)
    res = ssh(lab.visible[0], "cat /etc/hostname")
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{lab.visible[0].hostname}\n"


@lab_test
def test_a_write_under_etc_stays_on_its_host(lab: Lab) -> None:
    probe = f"/etc/sealkit-lab-probe-{os.getpid()}"
    writer, *others = lab.visible
    assert ssh(writer, f"echo written-on-{writer.name} > {probe}").returncode == 0
    try:
        assert lab.exec_on(writer, ["cat", probe]).stdout == f"written-on-{writer.name}\n"
        for h in [*others, *lab.hidden]:
            assert lab.exec_on(h, ["test", "-e", probe], check=False).returncode == 1, h.name
        assert not Path(probe).exists()  # the machine
    finally:
        lab.exec_on(writer, ["rm", "-f", probe])


@lab_test
def test_every_host_has_its_own_host_key(lab: Lab) -> None:
    machine_keys = {" ".join(p.read_text().split()[:2]) for p in Path("/etc/ssh").glob("ssh_host_*_key.pub")}
    presented = {h.name: server_key(h) for h in [*lab.visible, *([lab.jump] if lab.jump else [])]}
    for h in lab.hidden:  # not reachable from here: read it inside
        presented[h.name] = " ".join(lab.exec_on(h, "cat /etc/ssh/ssh_host_*_key.pub").stdout.split()[:2])
    assert len(set(presented.values())) == len(presented) == len(lab.all_hosts)
    assert not machine_keys & set(presented.values())
    for h in lab.all_hosts:
        assert presented[h.name] == " ".join(h.host_key.split()[:2])
    assert lab.exec_on(lab.hosts[0], "ls /etc/ssh | grep -c '^ssh_host_'").stdout.strip() == "2"


@lab_test
def test_the_sudo_user_needs_its_password(lab: Lab) -> None:
    h = lab.visible[1]
    res = ssh(h, "id -un; sudo -n true", user=h.user)
    assert res.stdout.strip() == h.user
    assert res.returncode != 0 and "password is required" in res.stderr
    res = ssh(h, "sudo -S -p '' id -u", user=h.user, input="not-the-password\n")
    assert res.returncode != 0
    res = ssh(h, "sudo -S -p '' id -u", user=h.user, input=h.user_password + "\n")
    assert (res.returncode, res.stdout) == (0, "0\n"), res.stderr


@lab_test
def test_password_login_works_for_the_user_not_for_root(lab: Lab) -> None:
    h = lab.visible[2]
    client = paramiko.SSHClient()
    client.load_host_keys(str(lab.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            h.ip, h.port, username=h.user, password=h.user_password, look_for_keys=False, allow_agent=False
        )
        _, out, _ = client.exec_command("id -un")
        assert out.read() == f"{h.user}\n".encode()
    finally:
        client.close()
    with pytest.raises(paramiko.AuthenticationException):
        root = paramiko.SSHClient()
        root.load_host_keys(str(lab.known_hosts))
        try:
            root.connect(
                h.ip,
                h.port,
                username="root",
                password=h.user_password,
                look_for_keys=False,
                allow_agent=False,
            )
        finally:
            root.close()


@lab_test
def test_hidden_hosts_only_through_the_jump_host(lab: Lab) -> None:
    assert lab.jump is not None and lab.hidden
    probe = f"timeout 1 bash -c 'echo > /dev/tcp/{lab.hidden[0].ip}/22'"
    assert lab.exec_on(lab.visible[0], probe, check=False).returncode != 0  # not from a regular host
    assert lab.exec_on(lab.jump, probe, check=False).returncode == 0
    for h in lab.hidden:
        assert refused_or_unreachable(h.ip)  # not from the controller
        res = ssh(h, "cat /etc/hostname")  # ProxyJump in the inventory's ssh_config
        assert (res.returncode, res.stdout) == (0, f"{h.hostname}\n"), res.stderr


@lab_test
def test_nothing_routes_out_of_the_lab(lab: Lab) -> None:
    for h in [lab.visible[0], *lab.hidden]:
        route = lab.exec_on(h, ["ip", "route", "get", "192.0.2.1"]).stdout
        assert " via " in route and ".254 " in route  # the dead end on the bridge
    forwarding = subprocess.run(
        ["nsenter", f"--net=/run/netns/{lab_netns(lab.name)}", "cat", "/proc/sys/net/ipv4/ip_forward"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert forwarding == "0\n"


@lab_test
def test_testinfra_sees_the_host(lab: Lab, testinfra_host) -> None:  # type: ignore[no-untyped-def]
    for h in (lab.visible[0], lab.hidden[0]):
        host = testinfra_host(h)
        assert host.file("/etc/hostname").content_string == f"{h.hostname}\n"
        assert host.socket("tcp://0.0.0.0:22").is_listening
    user = testinfra_host(lab.visible[0], user=lab.visible[0].user)
    assert user.user().name == lab.visible[0].user


@lab_test
def test_containerd_gets_a_real_directory(lab: Lab) -> None:
    a, b = lab.visible[:2]
    assert lab.exec_on(a, ["stat", "-f", "-c", "%T", "/"]).stdout.strip() == "overlayfs"
    assert lab.exec_on(a, ["stat", "-f", "-c", "%T", "/var/lib/containerd"]).stdout.strip() != "overlayfs"
    lab.exec_on(a, "echo a > /var/lib/containerd/probe")
    try:
        assert lab.exec_on(b, ["test", "-e", "/var/lib/containerd/probe"], check=False).returncode == 1
    finally:
        lab.exec_on(a, "rm -f /var/lib/containerd/probe")


@lab_test
def test_shape_puts_a_token_bucket_on_the_uplink(lab: Lab) -> None:
    def qdiscs() -> str:
        return subprocess.run(
            ["tc", "qdisc", "show", "dev", lab.controller_iface], capture_output=True, text=True, check=True
        ).stdout

    lab.shape("100mbit")
    try:
        assert "tbf" in qdiscs() and "rate 100Mbit" in qdiscs()
    finally:
        lab.unshape()
    assert "tbf" not in qdiscs()


@lab_test
def test_killing_one_host_leaves_the_others_up(fresh_hosts) -> None:  # type: ignore[no-untyped-def]
    hosts = fresh_hosts(3)
    lab = hosts.lab
    victim, *others = hosts
    pid1s = {h.name: lab.pid1(h) for h in others}
    # from inside: kill(-1) reaches every process of its PID namespace, and nothing beyond
    lab.exec_on(victim, "kill -KILL -1", check=False)
    for h in others:
        assert lab.pid1(h) == pid1s[h.name]
    lab.stop_host(victim)  # from outside: every process of the host
    assert not lab.is_running(victim)
    assert refused_or_unreachable(victim.ip)
    for h in others:
        res = ssh(h, "hostname")
        assert (res.returncode, res.stdout) == (0, f"{h.hostname}\n"), res.stderr


@lab_test
def test_reboot_keeps_disk_address_and_host_key(fresh_hosts) -> None:  # type: ignore[no-untyped-def]
    hosts = fresh_hosts(1)
    (h,) = hosts
    lab = hosts.lab
    key = server_key(h)
    res = ssh(h, "echo kept > /root/on-disk; echo lost > /tmp/in-ram; cat /etc/machine-id")
    assert res.returncode == 0, res.stderr
    machine_id = res.stdout
    lab.stop_host(h)
    assert not lab.is_running(h)
    assert refused_or_unreachable(h.ip)
    lab.start_host(h)
    assert server_key(h) == key
    res = ssh(h, "cat /root/on-disk /etc/machine-id; test -e /tmp/in-ram || echo tmp-is-fresh")
    assert (res.returncode, res.stdout) == (0, f"kept\n{machine_id}tmp-is-fresh\n"), res.stderr


@lab_test
def test_cut_drops_packets_until_restore(fresh_hosts) -> None:  # type: ignore[no-untyped-def]
    hosts = fresh_hosts(1)
    (h,) = hosts
    hosts.lab.cut(h)
    try:
        assert refused_or_unreachable(h.ip, timeout=2)
        assert hosts.lab.is_running(h)
    finally:
        hosts.lab.restore(h)
    # the link is back at once; a busy machine may take a few seconds to answer the new handshake
    for _ in range(10):
        res = ssh(h, "true")
        if res.returncode == 0:
            break
        time.sleep(1)
    assert res.returncode == 0, res.stderr


@lab_test
def test_systemd_host_runs_units(fresh_hosts) -> None:  # type: ignore[no-untyped-def]
    if not SYSTEMD.exists():
        pytest.skip(f"no {SYSTEMD}: apt-get install systemd")
    hosts = fresh_hosts(1, systemd=True)
    (h,) = hosts
    lab = hosts.lab
    assert lab.exec_on(h, ["cat", "/proc/1/comm"]).stdout == "systemd\n"
    state = lab.exec_on(h, ["systemctl", "is-system-running", "--wait"], check=False).stdout.strip()
    failed = lab.exec_on(h, ["systemctl", "--failed", "--no-legend"], check=False).stdout
    # booted; on a machine busy with other labs an optional unit may time out ("degraded"), never one the
    # lab needs
    assert state in ("running", "degraded"), (state, failed)
    assert not any(u in failed for u in ("ssh.service", "systemd-journald.service", "dbus.service")), failed
    assert lab.exec_on(h, ["systemctl", "is-enabled", "containerd"], check=False).stdout.strip() != "enabled"
    unit = "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n"
    lab.exec_on(h, "cat > /etc/systemd/system/lab-probe.service", input=unit)
    lab.exec_on(h, ["systemctl", "enable", "--now", "lab-probe.service"])
    assert lab.exec_on(h, ["systemctl", "is-active", "lab-probe"]).stdout == "active\n"
    res = ssh(h, "systemctl is-active ssh")
    assert (res.returncode, res.stdout) == (0, "active\n"), res.stderr


@lab_test
def test_down_leaves_nothing_behind() -> None:
    lab = Lab.up(2, hidden=1, name=f"downcheck-{os.getpid()}", replace=True)
    layout = Layout.detect()
    pids = [p for h in lab.all_hosts for p in _cgroup_pids(layout, lab, h)]
    assert len(pids) >= 2 * len(lab.all_hosts)  # supervisor + sshd per host, at least
    lab_dir, veth, k = lab.dir, lab.controller_iface, lab.k
    lab.down()

    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"sklab-{lab.name}." not in netns
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert f" {veth}@" not in links and f" {veth}:" not in links
    routes = subprocess.run(
        ["ip", "route", "show", "proto", str(LAB_ROUTE_PROTO)], capture_output=True, text=True, check=True
    ).stdout
    assert inner_prefix(k) + "." not in routes
    assert layout.lab_dirs(lab.name) == []
    assert not [p for p in pids if Path(f"/proc/{p}").exists()]
    assert str(lab_dir) not in Path("/proc/self/mountinfo").read_text()
    assert not lab_dir.exists()
    assert not (REGISTRY / lab.name).is_symlink()


@lab_test
def test_cli_up_status_down() -> None:
    name = f"cli-{os.getpid()}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["python", "-m", "tests.lab", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PATH": os.path.dirname(sys.executable) + ":" + os.environ["PATH"]},
        )

    up = cli("up", "--hosts", "1", "--jump", "1", "--name", name)
    try:
        assert up.returncode == 0, up.stderr
        inventory = json.loads(Path(up.stdout.split()[1]).read_text())
        assert [h["name"] for h in inventory["hosts"]] == ["h1", "hidden1"]
        assert inventory["jump"]["ips"][1].startswith(inventory["inner_subnet"].rsplit(".", 1)[0])
        status = cli("status", "--name", name, "--json")
        (doc,) = json.loads(status.stdout)
        assert {h["name"]: h["sshd"] for h in doc["hosts"]} == {"jump": True, "h1": True, "hidden1": True}
        again = cli("up", "--hosts", "1", "--name", name)
        assert again.returncode == 1 and "exists" in again.stderr
    finally:
        down = cli("down", "--name", name)
    assert down.returncode == 0, down.stderr
    assert name not in cli("status").stdout


def _cgroup_pids(layout: Layout, lab: Lab, h: LabHost) -> list[int]:
    from tests.lab.cgroups import procs

    return procs(layout.host_v2(lab.name, h.name))


# ----------------------------------------------------------------------- no lab needed
def test_parse_rate() -> None:
    assert parse_rate("1gbit") == 10**9
    assert parse_rate("100mbit") == 10**8
    assert parse_rate("10MBps") == 8 * 10**7
    assert parse_rate(12345) == 12345


def _host(name: str, ip: str, *, hidden: bool = False, jump: bool = False) -> LabHost:
    d = Path("/tmp/lab-x")
    return LabHost(
        name=name,
        hostname=f"lab-{name}",
        ip=ip,
        port=22,
        role="node",
        root_key=d / "keys/root_ed25519",
        user="sealer",
        user_key=d / "keys/sealer_ed25519",
        user_password="pw",
        hidden=hidden,
        jump=jump,
        ips=(ip,),
        host_key=f"ssh-ed25519 AAAA{name} root@lab-{name}",
        systemd=False,
        lab="x",
        lab_dir=d,
    )


def test_ssh_config_sends_hidden_hosts_through_the_jump_host() -> None:
    jump, h1, hid = (
        _host("jump", "10.213.0.10", jump=True),
        _host("h1", "10.213.0.11"),
        _host("hidden1", "10.213.1.11", hidden=True),
    )
    text = ssh_config([h1, hid], jump, Path("/tmp/lab-x"), proxy_command=False)
    blocks = {b.split()[0]: b for b in text.split("\nHost ")[1:]}
    assert "ProxyJump root@10.213.0.10:22" in blocks["lab-hidden1"]
    assert "ProxyJump" not in blocks["lab-h1"] and "ProxyJump" not in blocks["lab-jump"]
    assert "StrictHostKeyChecking yes" in blocks["lab-h1"]
    alt = ssh_config([h1, hid], jump, Path("/tmp/lab-x"), proxy_command=True)
    assert "ProxyCommand ssh -F /tmp/lab-x/ssh_config -W %h:%p root@10.213.0.10" in alt
    kh = known_hosts([jump, h1])
    assert "10.213.0.11 ssh-ed25519 AAAAh1\n" in kh and "lab-h1 ssh-ed25519 AAAAh1\n" in kh


def test_lab_host_json_round_trip_hides_the_password_from_repr() -> None:
    h = _host("h1", "10.213.0.11")
    assert LabHost.from_json(json.loads(json.dumps(h.to_json()))) == h
    assert "pw" not in repr(h)


def test_controller_veth_name_fits_the_kernel_limit() -> None:
    assert len(root_veth(126)) <= 15


def test_a_cgroup_being_removed_counts_as_empty(tmp_path, monkeypatch):
    """The kernel answers ENODEV for cgroup.procs of a cgroup that is being removed: no process, no crash."""
    import builtins
    import errno as _errno

    from tests.lab import cgroups

    (tmp_path / "a" / "dying").mkdir(parents=True)
    (tmp_path / "a" / "cgroup.procs").write_text("41\n")
    (tmp_path / "a" / "dying" / "cgroup.procs").write_text("42\n")
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if str(path).endswith("dying/cgroup.procs"):
            raise OSError(_errno.ENODEV, "No such device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert cgroups.procs(tmp_path / "a") == [41]

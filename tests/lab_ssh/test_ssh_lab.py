"""sealkit.ssh against the multi-host lab: many real sshd hosts, a sudo user, a jump host.

Needs root and the lab (tests/lab); run with ``pytest -m lab tests/lab_ssh``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Any

import paramiko
import pytest

from sealkit.errors import ConnectError, HostKeyChanged, SealkitError
from sealkit.ssh import (
    Connection,
    Fleet,
    HostKeyPolicy,
    Result,
    Target,
    UnknownHostKey,
    known_hosts_name,
)

pytestmark = pytest.mark.lab

WAIT = 60.0  # deadlock guard only


def _visible(lab: Any) -> list[Any]:
    hosts = [h for h in lab.hosts if not h.hidden]
    if len(hosts) < 5:
        pytest.skip(f"the lab has only {len(hosts)} directly reachable hosts")
    return hosts


def _hidden(lab: Any) -> list[Any]:
    hosts = [h for h in lab.hosts if h.hidden]
    if not hosts:
        pytest.skip("the lab has no hosts behind the jump host")
    return hosts


def _root(h: Any) -> Target:
    return Target(h.ip, port=h.port, key_path=str(h.root_key), label=h.name)


def _sudo_user(h: Any, **kw: Any) -> Target:
    return Target(
        h.ip,
        port=h.port,
        user=h.user,
        key_path=str(h.user_key),
        password=h.user_password,
        label=h.name,
        **kw,
    )


def _policy(tmp_path: Path, mode: str = "accept-new") -> HostKeyPolicy:
    return HostKeyPolicy(tmp_path / "known_hosts", mode=mode, user_known_hosts=None)  # type: ignore[arg-type]


def _ok(results: dict[str, Any]) -> dict[str, Any]:
    failed = {a: r for a, r in results.items() if isinstance(r, BaseException)}
    assert not failed, failed
    return results


def test_exec_as_root_on_every_host_one_connection_each(lab: Any, tmp_path: Path) -> None:
    hosts = _visible(lab)
    with Fleet([_root(h) for h in hosts], hostkeys=_policy(tmp_path), ssh_config=os.devnull) as f:
        first = _ok(f.run("cat /etc/hostname; id -u"))
        for h in hosts:
            res = first[h.ip]
            assert isinstance(res, Result) and res.host == h.name
            assert res.stdout.split() == [res.stdout.split()[0], "0"]
        names = {r.stdout.split()[0] for r in first.values()}
        assert len(names) == len(hosts)  # really different machines
        # One SSH connection per host, reused: the sshd of each host sees the same client port.
        again = _ok(f.run("echo $SSH_CLIENT"))
        again2 = _ok(f.run("echo $SSH_CLIENT"))
        for a in again:
            assert again[a].stdout == again2[a].stdout
    # Pinned on first contact, and exactly the keys the lab generated for its hosts.
    pinned = sorted((tmp_path / "known_hosts").read_text().splitlines())
    assert pinned == sorted(
        f"{known_hosts_name(h.ip, h.port)} {' '.join(h.host_key.split()[:2])}" for h in hosts
    )


def test_exec_as_sudo_user_never_shows_the_password(lab: Any, tmp_path: Path) -> None:
    hosts = _visible(lab)
    policy = _policy(tmp_path)
    with Fleet([_sudo_user(h) for h in hosts], hostkeys=policy, ssh_config=os.devnull) as f:
        ids = _ok(f.run("id -u"))
        assert all(r.stdout.strip() == "0" for r in ids.values())  # ran under sudo
        plain = _ok(f.run("id -un", sudo=False))
        assert all(r.stdout.strip() == hosts[0].user for r in plain.values())
        # stdin after the password line reaches the command byte for byte
        data = os.urandom(256 * 1024)
        sums = _ok(f.run("sha256sum | cut -c1-64", stdin=data))
        assert {r.stdout.strip() for r in sums.values()} == {hashlib.sha256(data).hexdigest()}

    # While a sudo'ed command runs, nothing on the host shows the password: not argv (ps), not
    # the environment of any process.
    h = hosts[0]
    secret = h.user_password
    user = Connection(_sudo_user(h), hostkeys=policy, ssh_config=os.devnull)
    root = Connection(_root(h), hostkeys=policy, ssh_config=os.devnull)
    marker = "sleep 3.25"
    done = threading.Event()
    errors: list[BaseException] = []

    def long_sudo() -> None:
        try:
            user.run(marker, timeout=WAIT)
        except SealkitError as e:  # reported by the assertion below
            errors.append(e)
        finally:
            done.set()

    with user, root:
        t = threading.Thread(target=long_sudo)
        t.start()
        seen = root.run(
            f"for i in $(seq 100); do pgrep -f '^{marker}$' >/dev/null && break; sleep 0.1; done; "
            "ps -eo user,args; echo @@END$((1+1))@@; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'",
            sudo=False,
        ).stdout
        t.join(WAIT)
        assert done.is_set() and not errors, errors
    ps_out = seen.split("@@END2@@")[0]  # the separator's own command line reads differently
    assert marker in ps_out, "the sudo'ed command was not running when ps looked"
    assert "sudo -k -S -p" in ps_out  # the sudo process itself was there too
    assert secret not in seen


def test_put_to_every_host_then_nothing_is_sent_again(lab: Any, tmp_path: Path) -> None:
    hosts = _visible(lab)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
    policy = _policy(tmp_path)
    targets = [_root(h) for h in hosts]
    with Fleet(targets, hostkeys=policy, ssh_config=os.devnull) as f:
        first = _ok(f.put(blob, "/opt/sealkit-lab-ssh/blob.bin", mode=0o600))
        assert set(first.values()) == {True}
        assert f.bytes_sent == len(hosts) * blob.stat().st_size
        second = _ok(f.put(blob, "/opt/sealkit-lab-ssh/blob.bin", mode=0o600))
        assert set(second.values()) == {False}
        assert f.bytes_sent == len(hosts) * blob.stat().st_size  # the re-run sent 0 bytes
        check = _ok(
            f.run(
                "sha256sum /opt/sealkit-lab-ssh/blob.bin | cut -c1-64; stat -c %a "
                "/opt/sealkit-lab-ssh/blob.bin"
            )
        )
        assert {r.stdout for r in check.values()} == {f"{digest}\n600\n"}

    # A sudo user writes root-owned places through sudo (streamed via cat, not SFTP).
    with Fleet([_sudo_user(h) for h in hosts], hostkeys=policy, ssh_config=os.devnull) as f:
        res = _ok(f.put(b"root only\n", "/root/sealkit-lab-ssh/secret.conf", mode=0o600))
        assert set(res.values()) == {True}
        res = _ok(f.put(b"root only\n", "/root/sealkit-lab-ssh/secret.conf", mode=0o600))
        assert set(res.values()) == {False} and f.bytes_sent == len(hosts) * len(b"root only\n")
        owner = _ok(f.run("stat -c '%U %a' /root/sealkit-lab-ssh/secret.conf"))
        assert {r.stdout.strip() for r in owner.values()} == {"root 600"}
        assert f.conn(hosts[0].ip).get("/root/sealkit-lab-ssh/secret.conf") == b"root only\n"


def test_hidden_hosts_through_the_jump_host_with_ssh_config(lab: Any, tmp_path: Path) -> None:
    hidden = _hidden(lab)
    ssh_config = lab.ssh_config  # ProxyJump root@jump for the hidden hosts
    policy = _policy(tmp_path)
    direct = Connection(
        _root(hidden[0]), hostkeys=policy, ssh_config=os.devnull, retries=0, connect_timeout=2
    )
    with pytest.raises(ConnectError):  # not routable from the controller
        direct.connect()
    direct.close()
    logins_before = _jump_logins(lab)
    with Fleet([_root(h) for h in hidden], hostkeys=policy, ssh_config=ssh_config) as f:
        res = _ok(f.run("cat /etc/hostname"))
        assert len({r.stdout for r in res.values()}) == len(hidden)
        assert set(_ok(f.put(b"via jump\n", "/tmp/sealkit-jump.txt")).values()) == {True}
    # every hidden host rode ONE connection to the jump host
    assert _jump_logins(lab) - logins_before == 1
    pinned = (tmp_path / "known_hosts").read_text()
    assert known_hosts_name(lab.jump.ip, lab.jump.port) + " " in pinned
    for h in hidden:
        assert known_hosts_name(h.ip, h.port) + " " in pinned


def _jump_logins(lab: Any) -> int:
    """Logins the jump host's sshd (PID 1, logging to the console) has accepted so far."""
    return lab.console(lab.jump, lines=1_000_000).count("Accepted publickey for root")


def test_changed_host_key_is_refused_with_the_fix(fresh_hosts: Any, tmp_path: Path) -> None:
    hosts = fresh_hosts(1)
    (h,) = hosts
    pinned = tmp_path / "known_hosts"
    policy = HostKeyPolicy(pinned, user_known_hosts=None)
    with Connection(_root(h), hostkeys=policy, ssh_config=os.devnull) as c:
        assert c.run("echo first").stdout == "first\n"  # pins the original key
    # The host is "reinstalled": a new host key, which sshd (PID 1) loads when it re-execs on HUP.
    key = "/etc/ssh/ssh_host_ed25519_key"
    new_pub = hosts.lab.exec_on(
        h, f"rm -f {key} {key}.pub && ssh-keygen -q -t ed25519 -N '' -f {key} && cat {key}.pub"
    ).stdout.split()
    hosts.lab.exec_on(h, "kill -HUP 1")
    name = known_hosts_name(h.ip, h.port)
    err = _refused_once_sshd_is_back(h, policy)
    text = str(err)
    assert name in text
    old_fp = paramiko.Ed25519Key(data=base64.b64decode(h.host_key.split()[1])).fingerprint
    new_fp = paramiko.Ed25519Key(data=base64.b64decode(new_pub[1])).fingerprint
    assert old_fp in text and new_fp in text
    fix = f"ssh-keygen -f {pinned} -R '{name}'"
    assert fix in text
    # Following the printed fix lets the new key be pinned.
    subprocess.run(shlex.split(fix), check=True, capture_output=True)
    with Connection(_root(h), hostkeys=policy, ssh_config=os.devnull) as c:
        assert c.run("echo again").stdout == "again\n"
    assert new_pub[1] in pinned.read_text()


def _refused_once_sshd_is_back(h: Any, policy: HostKeyPolicy) -> HostKeyChanged:
    """sshd re-execs after SIGHUP; until it has, connects may be refused or see the old key."""
    for _ in range(100):
        c = Connection(_root(h), hostkeys=policy, ssh_config=os.devnull, backoff_base=0.05)
        try:
            c.connect()
        except HostKeyChanged as e:
            return e
        finally:
            c.close()
    pytest.fail("the changed host key was accepted")


def test_strict_mode_refuses_unknown_hosts(lab: Any, tmp_path: Path) -> None:
    h = _visible(lab)[0]
    strict = _policy(tmp_path, mode="strict")
    with pytest.raises(UnknownHostKey) as info:
        Connection(_root(h), hostkeys=strict, ssh_config=os.devnull).connect()
    assert "ssh-keyscan" in str(info.value)
    assert not (tmp_path / "known_hosts").exists()
    # once pinned (accept-new, same file), strict mode lets it in
    with Connection(_root(h), hostkeys=_policy(tmp_path), ssh_config=os.devnull) as c:
        c.connect()
    with Connection(_root(h), hostkeys=strict, ssh_config=os.devnull) as c:
        assert c.run("echo ok").stdout == "ok\n"
    # keys the user already trusts (their known_hosts) satisfy strict mode too
    other = HostKeyPolicy(tmp_path / "other", mode="strict", user_known_hosts=lab.known_hosts)
    for h2 in _visible(lab):
        with Connection(_root(h2), hostkeys=other, ssh_config=os.devnull) as c:
            c.connect()
    assert not (tmp_path / "other").exists()

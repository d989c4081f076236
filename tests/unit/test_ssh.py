"""Unit tests of sealkit.ssh: quoting, sudo wrapping, host key policy, ssh config, the sliding
window, and (with a throw-away local sshd on 127.0.0.1) exec, put, get, timeouts and ProxyJump."""

from __future__ import annotations

import hashlib
import io
import os
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from sealkit.errors import ConnectError, HostKeyChanged, StepFailed, UsageError
from sealkit.ssh import (
    CommandFailed,
    Connection,
    Fleet,
    HostKeyPolicy,
    Result,
    Target,
    UnknownHostKey,
    fingerprint,
    known_hosts_name,
    load_ssh_config,
    quote,
    resolve_route,
    sudo_wrap,
    with_env,
)
from sealkit.ssh.config import parse_jump_spec
from sealkit.ssh.quoting import env_on_stdin

SSHD = "/usr/sbin/sshd"
WAIT = 20.0  # deadlock guard for event waits; never asserted on


def _ed25519() -> paramiko.PKey:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        .decode()
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def _pub_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


# --------------------------------------------------------------------------------------- quoting


@pytest.mark.parametrize(
    "word", ["plain", "two words", "it's", '"dq"', "$HOME", "`id`", "a\nb", "", "*", "; rm -rf /"]
)
def test_quote_round_trips_through_a_real_shell(word: str) -> None:
    out = subprocess.run(["sh", "-c", f"printf %s {quote(word)}"], capture_output=True, check=True).stdout
    assert out.decode() == word


def test_with_env_exports_quoted_values_and_rejects_bad_names() -> None:
    cmd = with_env('printf %s "$A|$B"', {"A": "x y", "B": "it's $HOME"})
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, check=True).stdout
    assert out.decode() == "x y|it's $HOME"
    with pytest.raises(UsageError):
        with_env("true", {"BAD NAME": "x"})


def test_env_on_stdin_keeps_values_off_the_command_line() -> None:
    secret = "pa ss'$HOME\nword"
    cmd, data = env_on_stdin(
        'printf %s "$TOKEN|$B"; sh -c \'printf "|%s" "$TOKEN"\'', {"TOKEN": secret, "B": "b"}
    )
    assert "pa ss" not in cmd and "TOKEN=" not in cmd
    out = subprocess.run(["sh", "-c", cmd], input=data, capture_output=True, check=True).stdout
    assert out.decode() == f"{secret}|b|{secret}"  # exported: child processes see it too
    with pytest.raises(UsageError):
        env_on_stdin("true", {"BAD NAME": "x"})


def test_sudo_wrap_quotes_once_and_reads_password_from_stdin() -> None:
    line = sudo_wrap("echo 'a b' && id", password=True)
    assert shlex.split(line) == ["sudo", "-k", "-S", "-p", "", "--", "sh", "-c", "echo 'a b' && id"]
    assert shlex.split(sudo_wrap("true", password=False)) == [
        "sudo",
        "-n",
        "--",
        "sh",
        "-c",
        "true",
    ]


FAKE_SUDO = r"""#!/bin/sh
# Stand-in for sudo: log argv, check the first stdin line is the password, run the command.
for a in "$@"; do printf '%s\n' "$a"; done > "$ARGV_LOG"
while [ "$1" != "--" ]; do shift; done
shift
IFS= read -r pw
[ "$pw" = "$WANT_PASSWORD" ] || { echo "wrong password" >&2; exit 1; }
exec "$@"
"""


def test_sudo_password_goes_on_stdin_never_in_argv(tmp_path: Path) -> None:
    secret = "s3cr3t 'pw'"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sudo").write_text(FAKE_SUDO)
    (bindir / "sudo").chmod(0o755)
    conn = Connection(
        Target("10.0.0.9", user="ops", password=secret),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
    )
    conn._sudo_mode = "password"  # what the per-connection probe would find on such a host
    line, prefix = conn._wrap("printf '%s|' \"it's\"; cat", None, None)
    assert secret not in line
    assert prefix == secret.encode() + b"\n"
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "ARGV_LOG": str(tmp_path / "argv"),
        "WANT_PASSWORD": secret,
    }
    out = subprocess.run(["sh", "-c", line], input=prefix + b"payload\nmore", env=env, capture_output=True)
    assert out.returncode == 0, out.stderr
    # The data after the password line reaches the command intact.
    assert out.stdout == b"it's|payload\nmore"
    assert secret not in (tmp_path / "argv").read_text()
    # A root target never uses sudo, whatever the caller asks.
    root = Connection(
        Target("10.0.0.9", password=secret),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
    )
    assert root._wrap("id", True, None) == ("id", b"")


# ---------------------------------------------------------------------------------------- Target


def test_target_repr_and_str_hide_secrets() -> None:
    t = Target(
        "10.1.2.3",
        port=2222,
        user="ops",
        password="pw-SECRET",
        key_path="/k/id",
        key_passphrase="pp-SECRET",
    )
    assert t.sudo_password == "pw-SECRET"  # defaults to the login password for non-root
    for text in (repr(t), str(t), f"{t}", repr([t])):
        assert "SECRET" not in text
    assert "password=***" in repr(t)
    assert str(t) == "10.1.2.3:2222"
    assert Target("10.1.2.3", password="x").sudo_password is None  # root needs no sudo
    assert Target("h", label="node-1").label == "node-1"


@pytest.mark.parametrize("kw", [{"address": ""}, {"address": "a b"}, {"address": "h", "port": 0}])
def test_target_rejects_bad_input(kw: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        Target(**kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- host keys


def test_known_hosts_name_and_fingerprint_match_ssh_keygen(tmp_path: Path) -> None:
    assert known_hosts_name("10.0.0.1", 22) == "10.0.0.1"
    assert known_hosts_name("10.0.0.1", 2222) == "[10.0.0.1]:2222"
    key = _ed25519()
    pub = tmp_path / "k.pub"
    pub.write_text(_pub_line(key) + "\n")
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[1] == fingerprint(key.asbytes()) == key.fingerprint


def test_accept_new_pins_first_key_and_accepts_it_again(tmp_path: Path) -> None:
    pinned = tmp_path / "state" / "known_hosts"
    policy = HostKeyPolicy(pinned, user_known_hosts=None)
    key = _ed25519()
    policy.verify("[10.0.0.1]:2222", key)
    assert pinned.read_text() == f"[10.0.0.1]:2222 {_pub_line(key)}\n"
    policy.verify("[10.0.0.1]:2222", key)
    assert pinned.read_text().count("\n") == 1
    # The file is what OpenSSH reads: ssh-keygen finds the host in it.
    out = subprocess.run(
        ["ssh-keygen", "-f", str(pinned), "-F", "[10.0.0.1]:2222"], capture_output=True, text=True
    )
    assert out.returncode == 0 and key.get_base64() in out.stdout


def test_changed_key_is_refused_with_both_fingerprints_and_the_fix_command(tmp_path: Path) -> None:
    pinned = tmp_path / "known_hosts"
    policy = HostKeyPolicy(pinned, user_known_hosts=None)
    old, new = _ed25519(), _ed25519()
    policy.verify("[10.0.0.1]:2222", old)
    with pytest.raises(HostKeyChanged) as info:
        policy.verify("[10.0.0.1]:2222", new, host="node-1")
    err = info.value
    text = str(err)
    assert old.fingerprint in text and new.fingerprint in text
    assert "[10.0.0.1]:2222" in text and "node-1" in text
    fix = f"ssh-keygen -f {pinned} -R '[10.0.0.1]:2222'"
    assert err.hint is not None and err.hint.endswith(fix)
    assert isinstance(err, ConnectError) and err.exit_code == 4
    # Running the printed command really fixes it: the new key is then pinned on next contact.
    subprocess.run(shlex.split(fix), check=True, capture_output=True)
    policy.verify("[10.0.0.1]:2222", new)
    assert new.get_base64() in pinned.read_text()
    assert old.get_base64() not in pinned.read_text()


def test_key_differing_from_the_users_known_hosts_is_refused_even_if_hashed(tmp_path: Path) -> None:
    user_kh = tmp_path / "user_known_hosts"
    known = _ed25519()
    user_kh.write_text(f"10.0.0.7 {_pub_line(known)}\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(user_kh)], check=True, capture_output=True)
    assert "10.0.0.7" not in user_kh.read_text()  # really hashed now
    policy = HostKeyPolicy(tmp_path / "pinned", user_known_hosts=user_kh)
    policy.verify("10.0.0.7", known)  # known through the hashed entry: accepted, nothing pinned
    assert not (tmp_path / "pinned").exists()
    with pytest.raises(HostKeyChanged) as info:
        policy.verify("10.0.0.7", _ed25519())
    assert f"ssh-keygen -f {user_kh} -R '10.0.0.7'" in str(info.value)


def test_known_host_offering_another_key_type_is_refused(tmp_path: Path) -> None:
    policy = HostKeyPolicy(tmp_path / "kh", user_known_hosts=None)
    policy.verify("10.0.0.2", _ed25519())
    with pytest.raises(HostKeyChanged):
        policy.verify("10.0.0.2", paramiko.ECDSAKey.generate())


def test_revoked_key_is_refused(tmp_path: Path) -> None:
    key = _ed25519()
    pinned = tmp_path / "kh"
    pinned.write_text(f"@revoked * {_pub_line(key)}\n")
    with pytest.raises(HostKeyChanged, match="revoked"):
        HostKeyPolicy(pinned, user_known_hosts=None).verify("10.0.0.3", key)


def test_strict_refuses_unknown_host_and_accepts_known(tmp_path: Path) -> None:
    pinned = tmp_path / "kh"
    policy = HostKeyPolicy(pinned, mode="strict", user_known_hosts=None)
    key = _ed25519()
    with pytest.raises(UnknownHostKey) as info:
        policy.verify("[10.0.0.4]:2200", key)
    assert info.value.exit_code == 4
    assert "ssh-keyscan -p 2200 10.0.0.4" in str(info.value)
    assert not pinned.exists()  # strict never pins
    pinned.write_text(f"[10.0.0.4]:2200 {_pub_line(key)}\n")
    policy.verify("[10.0.0.4]:2200", key)
    with pytest.raises(UsageError):
        HostKeyPolicy(pinned, mode="yolo")  # type: ignore[arg-type]


def test_preferred_algorithms_put_known_types_first(tmp_path: Path) -> None:
    pinned = tmp_path / "kh"
    rsa = paramiko.RSAKey.generate(1024)
    pinned.write_text(f"10.0.0.5 {_pub_line(rsa)}\n# comment\n\ngarbage line\n")
    policy = HostKeyPolicy(pinned, user_known_hosts=None)
    assert policy.preferred_algorithms("10.0.0.5")[:2] == ["rsa-sha2-512", "rsa-sha2-256"]
    assert policy.preferred_algorithms("10.0.0.6") == []


def test_concurrent_pinning_keeps_every_key_once(tmp_path: Path) -> None:
    pinned = tmp_path / "kh"
    policy = HostKeyPolicy(pinned, user_known_hosts=None)
    keys = [_ed25519() for _ in range(16)]
    shared = _ed25519()
    barrier = threading.Barrier(32)
    errors: list[BaseException] = []

    def pin(name: str, key: paramiko.PKey) -> None:
        barrier.wait(WAIT)
        try:
            # a second policy object on the same file stands in for another process
            HostKeyPolicy(pinned, user_known_hosts=None).verify(name, key)
            policy.verify(name, key)
        except (ConnectError, OSError) as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=pin, args=(f"10.0.1.{i}", k)) for i, k in enumerate(keys)]
    threads += [threading.Thread(target=pin, args=("10.0.2.1", shared)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert errors == []
    lines = pinned.read_text().splitlines()
    assert len(lines) == 17
    assert sorted(lines) == sorted(
        [f"10.0.1.{i} {_pub_line(k)}" for i, k in enumerate(keys)] + [f"10.0.2.1 {_pub_line(shared)}"]
    )
    assert not list(tmp_path.glob(".kh.*"))  # no temp files left behind


# ------------------------------------------------------------------------------------ ssh config

SSH_CONFIG = """
Host bastion
    HostName 192.0.2.10
    User jumper
    Port 2201
    IdentityFile ~/.ssh/bastion_key

Host inner
    HostName 192.0.2.20
    ProxyJump outer

Host outer
    HostName 192.0.2.30

Host hidden-*
    ProxyJump bastion,ops@inner:2222
    ConnectTimeout 7
    ServerAliveInterval 9

Host hidden-1
    HostName 10.99.0.1
    Port 2022
    User deploy

Host direct
    HostName 10.99.0.2
    ProxyJump none
"""


def test_resolve_route_follows_hostname_port_user_and_proxyjump(tmp_path: Path) -> None:
    cfg_file = tmp_path / "config"
    cfg_file.write_text(SSH_CONFIG)
    cfg = load_ssh_config(cfg_file)
    hops, final = resolve_route(Target("hidden-1"), cfg)
    assert (final.hostname, final.port, final.user) == ("10.99.0.1", 2022, "deploy")
    assert (final.connect_timeout, final.keepalive) == (7, 9)
    # The first hop's own ProxyJump is followed; later hops ride the previous one.
    assert [(h.alias, h.hostname, h.port, h.user) for h in hops] == [
        ("bastion", "192.0.2.10", 2201, "jumper"),
        ("inner", "192.0.2.20", 2222, "ops"),
    ]
    assert hops[0].identity_files == (os.path.expanduser("~/.ssh/bastion_key"),)
    # Explicit Target values win over the config; defaults let the config decide.
    _, final = resolve_route(Target("hidden-1", port=2500, user="admin"), cfg)
    assert (final.port, final.user) == (2500, "admin")
    hops, final = resolve_route(Target("direct"), cfg)
    assert hops == [] and final.hostname == "10.99.0.2"
    hops, final = resolve_route(Target("10.5.5.5"), load_ssh_config(os.devnull))
    assert hops == [] and (final.hostname, final.port, final.user) == ("10.5.5.5", 22, "root")


def test_outer_hop_own_proxyjump_is_followed(tmp_path: Path) -> None:
    cfg = paramiko.SSHConfig.from_text("Host t\n  ProxyJump inner\n" + SSH_CONFIG)
    hops, _ = resolve_route(Target("t"), cfg)
    assert [h.alias for h in hops] == ["outer", "inner"]


def test_parse_jump_spec_and_missing_config() -> None:
    assert parse_jump_spec("ops@10.0.0.1:2200") == ("10.0.0.1", "ops", 2200)
    assert parse_jump_spec("ssh://[fd00::1]:22") == ("fd00::1", None, 22)
    assert parse_jump_spec("bastion") == ("bastion", None, None)
    with pytest.raises(UsageError):
        parse_jump_spec("host:notaport")
    with pytest.raises(UsageError):
        load_ssh_config("/nonexistent/ssh_config")


# ----------------------------------------------------------------------------------------- Fleet


def _fleet(tmp_path: Path, n: int, concurrency: int) -> Fleet:
    return Fleet(
        [Target(f"h{i}") for i in range(n)],
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
        concurrency=concurrency,
    )


def test_fleet_map_is_a_sliding_window_not_fixed_batches(tmp_path: Path) -> None:
    """At concurrency 4, h4 starts as soon as h0 finishes while h1-h3 are still busy."""
    events: list[str] = []
    lock = threading.Lock()
    started = {f"h{i}": threading.Event() for i in range(5)}
    running = 0
    peak = 0

    def fn(conn: Connection) -> str:
        nonlocal running, peak
        name = conn.target.address
        with lock:
            running += 1
            peak = max(peak, running)
            events.append(f"start {name}")
        started[name].set()
        if name in ("h1", "h2", "h3"):
            # Slow hosts: they only finish after h4 has started, which needs a free slot.
            if not started["h4"].wait(WAIT):
                raise AssertionError("h4 never started while h1-h3 were busy")
        elif name == "h0":
            for other in ("h1", "h2", "h3"):
                started[other].wait(WAIT)
        with lock:
            running -= 1
            events.append(f"end {name}")
        return name.upper()

    with _fleet(tmp_path, 5, 4) as fleet:
        results = fleet.map(fn)
    assert results == {f"h{i}": f"H{i}" for i in range(5)}
    assert list(results) == ["h0", "h1", "h2", "h3", "h4"]
    assert peak == 4
    assert events.index("end h0") < events.index("start h4")
    for slow in ("h1", "h2", "h3"):
        assert events.index("start h4") < events.index(f"end {slow}")


def test_fleet_map_returns_exceptions_per_host_and_reports_each(tmp_path: Path) -> None:
    seen: list[tuple[str, object]] = []

    def fn(conn: Connection) -> int:
        if conn.target.address == "h1":
            raise StepFailed("boom", host="h1", step="test")
        return 7

    with _fleet(tmp_path, 3, 2) as fleet:
        results = fleet.map(fn, ["h2", "h1"], on_result=lambda a, r: seen.append((a, r)))
        assert list(results) == ["h2", "h1"]
        assert results["h2"] == 7
        assert isinstance(results["h1"], StepFailed) and "boom" in str(results["h1"])
        assert sorted(a for a, _ in seen) == ["h1", "h2"]
        with pytest.raises(UsageError):
            fleet.map(fn, ["nope"])
        assert fleet.conn("h0").target.address == "h0"
    with pytest.raises(UsageError):
        Fleet(
            [Target("a"), Target("a")],
            hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
            ssh_config=os.devnull,
        )


def test_connect_retries_transient_errors_with_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port with nothing listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls: list[tuple[str, int]] = []
    real = socket.create_connection

    def counting(addr: tuple[str, int], *a: object, **kw: object) -> socket.socket:
        calls.append(addr)
        return real(addr, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr("sealkit.ssh.connection.socket.create_connection", counting)
    conn = Connection(
        Target("127.0.0.1", port=port),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
        retries=2,
        backoff_base=0.001,
    )
    with pytest.raises(ConnectError) as info:
        conn.run("true")
    assert info.value.step == "connect"
    assert f"127.0.0.1:{port}" in str(info.value) and "3 attempt" in str(info.value)
    assert len(calls) == 3


# ------------------------------------------------------------------------- against a local sshd


@dataclass
class LocalSshd:
    port: int
    client_key: Path
    host_key: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def accepted(self) -> int:
        """How many logins this sshd accepted (one per SSH connection)."""
        return self.log.read_text().count("Accepted publickey")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_sshd(d: Path, client_pub: Path) -> LocalSshd:
    d.mkdir(parents=True, exist_ok=True)
    host_key = d / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    port = _free_port()
    cfg = d / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {client_pub}\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        f"StrictModes no\nPidFile {d / 'pid'}\nSubsystem sftp internal-sftp\n"
        "AllowTcpForwarding yes\nMaxSessions 10\nLogLevel INFO\n"
    )
    log = d / "log"
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )
    deadline = time.monotonic() + WAIT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.skip(f"local sshd did not start: {log.read_text()[-500:]}")
            time.sleep(0.05)
    return LocalSshd(port, Path(str(client_pub)[: -len(".pub")]), host_key, log, proc)


@pytest.fixture(scope="module")
def sshd_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSshd, LocalSshd]]:
    """Two sshd instances on 127.0.0.1 (the second one doubles as a target behind a jump host)."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server is not installed")
    if os.geteuid() != 0:
        pytest.skip("a local sshd for root logins needs root")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    d = tmp_path_factory.mktemp("sshd")
    client = d / "client_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(client)], check=True)
    a = _start_sshd(d / "a", client.with_suffix(".pub"))
    b = _start_sshd(d / "b", client.with_suffix(".pub"))
    yield a, b
    for s in (a, b):
        s.proc.terminate()
        s.proc.wait(WAIT)


@pytest.fixture
def sshd(sshd_pair: tuple[LocalSshd, LocalSshd]) -> LocalSshd:
    return sshd_pair[0]


def _conn(sshd: LocalSshd, tmp_path: Path, **kw: object) -> Connection:
    policy = kw.pop("hostkeys", None) or HostKeyPolicy(tmp_path / "kh", user_known_hosts=None)
    return Connection(
        Target("127.0.0.1", port=sshd.port, key_path=str(sshd.client_key)),
        hostkeys=policy,  # type: ignore[arg-type]
        ssh_config=kw.pop("ssh_config", os.devnull),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_exec_reuses_one_connection_and_reads_big_stdout_and_stderr_concurrently(
    sshd: LocalSshd, tmp_path: Path
) -> None:
    before = sshd.accepted()
    size = 8 * 1024 * 1024  # far beyond the SSH channel window on both streams at once
    cmd = f"head -c {size} /dev/zero | tr '\\0' o; head -c {size} /dev/zero | tr '\\0' x >&2"
    with _conn(sshd, tmp_path) as conn:
        results: list[object] = []

        def one(i: int) -> None:
            results.append(conn.run(f"echo start-{i}; {cmd}; echo end-{i} >&2"))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(results) == 4
        for r in results:
            assert r.rc == 0  # type: ignore[attr-defined]
            assert len(r.stdout) == size + len("start-0\n")  # type: ignore[attr-defined]
            assert r.stderr.count("x") == size  # type: ignore[attr-defined]
        ok = conn.run("echo hi; echo there >&2")
        assert (ok.host, ok.rc, ok.stdout, ok.stderr) == (
            f"127.0.0.1:{sshd.port}",
            0,
            "hi\n",
            "there\n",
        )
    assert sshd.accepted() - before == 1  # one persistent connection for everything


def test_run_failure_timeout_stdin_env_and_streaming(sshd: LocalSshd, tmp_path: Path) -> None:
    with _conn(sshd, tmp_path) as conn:
        with pytest.raises(CommandFailed) as info:
            conn.run("echo out; echo first >&2; echo last-words >&2; exit 3")
        err = info.value
        assert isinstance(err, StepFailed) and err.exit_code == 1
        assert err.result.rc == 3 and f"127.0.0.1:{sshd.port}" in str(err)
        assert "rc=3" in str(err) and "last-words" in str(err) and "exit 3" in str(err)
        assert conn.run("exit 4", check=False).rc == 4

        marker = f"sleep 3{os.getpid() % 10}.{os.getpid()}"
        with pytest.raises(CommandFailed, match=r"timed out after 1s"):
            conn.run(marker, timeout=1)
        # The host enforces the deadline too: the command does not linger.
        gone = conn.run(
            f"for i in $(seq 50); do pgrep -f '^{marker}$' >/dev/null || exit 0; sleep 0.1; done; exit 1",
            check=False,
        )
        assert gone.rc == 0

        data = os.urandom(3 * 1024 * 1024)
        sent_before = conn.bytes_sent
        r = conn.run("sha256sum | cut -c1-64", stdin=data)
        assert r.stdout.strip() == hashlib.sha256(data).hexdigest()
        assert conn.bytes_sent - sent_before == len(data)
        assert conn.run('printf %s "$V"', env={"V": "a 'b' $c"}).stdout == "a 'b' $c"

        lines: list[tuple[str, str]] = []
        conn.run(
            "printf 'one\\ntwo\\n'; printf 'err\\n' >&2; printf tail",
            on_line=lambda s, ln: lines.append((s, ln)),
        )
        assert [ln for s, ln in lines if s == "stdout"] == ["one", "two", "tail"]
        assert [ln for s, ln in lines if s == "stderr"] == ["err"]


def test_put_is_content_addressed_and_get_reads_back(sshd: LocalSshd, tmp_path: Path) -> None:
    remote = tmp_path / "remote" / "sub dir" / "file.bin"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5 * 1024 * 1024 + 17))
    with _conn(sshd, tmp_path) as conn:
        assert conn.sha256(str(remote)) is None
        temp_modes: set[int] = set()

        def watch(sent: int) -> None:  # mid-upload, the partial file sits in a private directory
            for d in remote.parent.glob(".file.bin.sealkit-*.tmp"):
                temp_modes.add(stat.S_IMODE(d.stat().st_mode))

        assert conn.put(big, str(remote), mode=0o640, progress=watch) is True
        assert temp_modes == {0o700}
        sent = conn.bytes_sent
        assert sent == big.stat().st_size
        assert remote.read_bytes() == big.read_bytes()
        assert stat.S_IMODE(remote.stat().st_mode) == 0o640
        assert conn.put(big, str(remote), mode=0o640) is False
        assert conn.bytes_sent == sent  # the second put sends nothing
        assert conn.put(big, str(remote), mode=0o600) is True  # mode only: chmod, no upload
        assert conn.bytes_sent == sent
        assert stat.S_IMODE(remote.stat().st_mode) == 0o600
        assert conn.sha256(str(remote)) == hashlib.sha256(big.read_bytes()).hexdigest()
        assert conn.put(b"small\n", str(remote)) is True
        assert conn.get(str(remote)) == b"small\n"
        assert [p.name for p in remote.parent.iterdir()] == ["file.bin"]  # no temp files left
        with pytest.raises(CommandFailed):
            conn.get(str(tmp_path / "missing"))
        with pytest.raises(StepFailed):
            conn.put(b"x", str(remote.parent))  # a directory is never replaced


def test_interrupted_put_leaves_the_target_untouched(sshd: LocalSshd, tmp_path: Path) -> None:
    remote = tmp_path / "remote.conf"
    remote.write_bytes(b"original\n")
    payload = tmp_path / "new.bin"
    payload.write_bytes(os.urandom(8 * 1024 * 1024))
    conn = _conn(sshd, tmp_path)

    def cut_the_link(sent: int) -> None:
        if sent >= 1024 * 1024:
            conn.close()  # the connection dies mid-transfer

    with pytest.raises((StepFailed, ConnectError)):
        conn.put(payload, str(remote), progress=cut_the_link)
    assert remote.read_bytes() == b"original\n"

    with _conn(sshd, tmp_path) as conn2:

        def interrupt(sent: int) -> None:
            if sent >= 1024 * 1024:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            conn2.put(payload, str(remote), progress=interrupt)
        assert remote.read_bytes() == b"original\n"
        # The cut link left its temp file behind (nobody could remove it); age it past an hour.
        leftovers = list(tmp_path.glob(".remote.conf.sealkit-*.tmp"))
        assert len(leftovers) == 1
        old = time.time() - 7200
        os.utime(leftovers[0], (old, old))
        assert conn2.put(payload, str(remote)) is True  # a retry completes
    assert remote.read_bytes() == payload.read_bytes()
    assert list(tmp_path.glob(".remote.conf.*")) == []  # and sweeps stale temps


def test_changed_host_key_and_strict_mode_refuse_without_retrying(sshd: LocalSshd, tmp_path: Path) -> None:
    before = sshd.accepted()
    pinned = tmp_path / "kh"
    name = f"[127.0.0.1]:{sshd.port}"
    pinned.write_text(f"{name} {_pub_line(_ed25519())}\n")
    with pytest.raises(HostKeyChanged) as info:
        _conn(sshd, tmp_path, hostkeys=HostKeyPolicy(pinned, user_known_hosts=None)).connect()
    real = subprocess.run(
        ["ssh-keygen", "-lf", str(sshd.host_key) + ".pub"], capture_output=True, text=True
    ).stdout.split()[1]
    assert real in str(info.value)
    assert f"ssh-keygen -f {pinned} -R '{name}'" in str(info.value)

    strict = HostKeyPolicy(tmp_path / "empty", mode="strict", user_known_hosts=None)
    with pytest.raises(UnknownHostKey):
        _conn(sshd, tmp_path, hostkeys=strict).connect()
    assert sshd.accepted() == before  # refused before authenticating


def test_auth_failure_is_reported_and_not_retried(
    sshd: LocalSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    monkeypatch.setenv("HOME", str(tmp_path))  # no default keys, no agent
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    calls = []
    real = socket.create_connection
    monkeypatch.setattr(
        "sealkit.ssh.connection.socket.create_connection",
        lambda *a, **kw: calls.append(a) or real(*a, **kw),
    )
    conn = Connection(
        Target("127.0.0.1", port=sshd.port, key_path=str(wrong), password="nope"),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
        retries=3,
    )
    with pytest.raises(ConnectError) as info:
        conn.connect()
    assert info.value.step == "auth" and "root" in str(info.value)
    assert len(calls) == 1
    with pytest.raises(ConnectError, match="does not exist"):
        Connection(
            Target("127.0.0.1", port=sshd.port, key_path=str(tmp_path / "nokey")),
            hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
            ssh_config=os.devnull,
        ).connect()


def test_proxyjump_from_ssh_config_pins_both_hosts(
    sshd_pair: tuple[LocalSshd, LocalSshd], tmp_path: Path
) -> None:
    jump, target = sshd_pair
    cfg = tmp_path / "ssh_config"
    cfg.write_text(
        f"Host bastion\n  HostName 127.0.0.1\n  Port {jump.port}\n"
        f"  IdentityFile {jump.client_key}\n"
        f"Host behind\n  HostName 127.0.0.1\n  Port {target.port}\n  ProxyJump bastion\n"
    )
    jump_before, target_before = jump.accepted(), target.accepted()
    policy = HostKeyPolicy(tmp_path / "kh", user_known_hosts=None)
    fleet = Fleet(
        [Target("behind", key_path=str(target.client_key), label="behind")],
        hostkeys=policy,
        ssh_config=cfg,
    )
    with fleet:
        lines: list[tuple[str, str, str]] = []
        res = fleet.run("echo via-jump", on_line=lambda *a: lines.append(a))
        out = res["behind"]
        assert isinstance(out, Result) and out.stdout == "via-jump\n"
        assert lines == [("behind", "stdout", "via-jump")]
        assert fleet.conn("behind").put(b"x", str(tmp_path / "j.txt")) is True
    pinned = (tmp_path / "kh").read_text()
    assert f"[127.0.0.1]:{jump.port} " in pinned and f"[127.0.0.1]:{target.port} " in pinned
    assert jump.accepted() - jump_before == 1 and target.accepted() - target_before == 1


# ------------------------------------------------- a non-root sudo user (sshd in a mount namespace)

SUDO_USER = "sealkit-t"
SUDO_PASSWORD = "pw with 'quotes' $and spaces"


@dataclass
class SudoSshd:
    sshd: LocalSshd
    home: Path


@pytest.fixture(scope="module")
def sudo_sshd(
    sshd_pair: tuple[LocalSshd, LocalSshd], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SudoSshd]:
    """An sshd that sees extra passwd/shadow/sudoers entries for a password-sudo user.

    The files are bind-mounted in a private mount namespace, so the machine itself is untouched.
    """
    if not (shutil.which("unshare") and shutil.which("sudo") and shutil.which("openssl")):
        pytest.skip("needs unshare, sudo and openssl")
    d = tmp_path_factory.mktemp("sudo-sshd")
    uids = {int(ln.split(":")[2]) for ln in Path("/etc/passwd").read_text().splitlines() if ln}
    uid = next(u for u in range(4242, 60000) if u not in uids)
    # pytest's temp dirs are private to root: the user's home must be reachable by the user.
    home = Path(tempfile.mkdtemp(prefix="sealkit-sudo-home-"))
    home.chmod(0o755)
    os.chown(home, uid, uid)
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=SUDO_PASSWORD,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    extra = {
        "passwd": f"{SUDO_USER}:x:{uid}:{uid}::{home}:/bin/sh\n",
        "group": f"{SUDO_USER}:x:{uid}:\n",
        "shadow": f"{SUDO_USER}:{hashed}:19000:0:99999:7:::\n",
        "sudoers": f"{SUDO_USER} ALL=(ALL:ALL) ALL\n",
    }
    for name, line in extra.items():
        copy = d / name
        copy.write_text(Path("/etc", name).read_text() + line)
        copy.chmod(0o440 if name == "sudoers" else 0o640 if name == "shadow" else 0o644)
    a = sshd_pair[0]
    pub = a.client_key.with_suffix(".pub")
    shutil.copy(pub, home / "authorized_keys")  # sshd reads it as the user
    port = _free_port()
    cfg = d / "sshd_config"
    cfg.write_text(
        (a.log.parent / "sshd_config")
        .read_text()
        .replace(f"Port {a.port}\n", f"Port {port}\n")
        .replace(f"PidFile {a.log.parent / 'pid'}", f"PidFile {d / 'pid'}")
        .replace("PasswordAuthentication no", "PasswordAuthentication yes")
        .replace(f"AuthorizedKeysFile {pub}", f"AuthorizedKeysFile {home / 'authorized_keys'}")
    )
    binds = "; ".join(f"mount --bind {d / n} /etc/{n}" for n in extra)
    log = d / "log"
    proc = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"{binds} && exec {SSHD} -D -e -f {cfg}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + WAIT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.skip(f"sshd in a mount namespace did not start: {log.read_text()[-500:]}")
            time.sleep(0.05)
    yield SudoSshd(LocalSshd(port, a.client_key, a.host_key, log, proc), home)
    proc.terminate()
    proc.wait(WAIT)
    shutil.rmtree(home)


def _sudo_conn(s: SudoSshd, tmp_path: Path, **kw: object) -> Connection:
    return Connection(
        Target("127.0.0.1", port=s.sshd.port, user=SUDO_USER, **kw),  # type: ignore[arg-type]
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
    )


def _processes() -> str:
    """Every process's argv and environment on this machine (the sshd shares our PID namespace)."""
    chunks = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            for part in ("cmdline", "environ"):
                try:
                    chunks.append((proc / part).read_bytes().replace(b"\0", b" ").decode("latin-1"))
                except OSError:
                    continue
    return "\n".join(chunks)


def test_sudo_user_runs_as_root_and_the_password_stays_off_argv_and_env(
    sudo_sshd: SudoSshd, tmp_path: Path
) -> None:
    with _sudo_conn(sudo_sshd, tmp_path, password=SUDO_PASSWORD) as conn:
        assert conn.run("id -u").stdout == "0\n"
        assert conn.run("id -un", sudo=False).stdout == f"{SUDO_USER}\n"
        data = os.urandom(512 * 1024)
        assert conn.run("cat", stdin=data).stdout.encode("latin-1", "replace")  # decodes fine
        r = conn.run("sha256sum | cut -c1-64", stdin=data)
        assert r.stdout.strip() == hashlib.sha256(data).hexdigest()  # no password line in stdin

        marker = f"sleep 2.{os.getpid()}"
        running = threading.Thread(target=conn.run, args=(marker,))
        running.start()
        snapshot = ""
        expected = "sudo -k -S -p  -- sh -c " + marker  # sudo's own argv, not the login shell's
        for _ in range(200):
            snapshot = _processes()
            if expected in snapshot:
                break
            time.sleep(0.05)
        running.join(WAIT)
        assert expected in snapshot  # looked while sudo was running
        assert SUDO_PASSWORD not in snapshot

        with pytest.raises(CommandFailed, match="timed out after 1s"):
            conn.run(f"sleep 3{os.getpid()}", timeout=1)
        gone = False
        for _ in range(100):
            if f"sleep 3{os.getpid()}" not in _processes():
                gone = True
                break
            time.sleep(0.1)
        assert gone


def test_sudo_user_puts_root_owned_files_once(sudo_sshd: SudoSshd, tmp_path: Path) -> None:
    root_dir = tmp_path / "root-only"
    root_dir.mkdir(mode=0o700)
    target = root_dir / "conf" / "secret.conf"
    with _sudo_conn(sudo_sshd, tmp_path, password=SUDO_PASSWORD) as conn:
        assert conn.put(b"s3cret\n", str(target), mode=0o600) is True
        sent = conn.bytes_sent
        assert sent == len(b"s3cret\n")
        assert conn.put(b"s3cret\n", str(target), mode=0o600) is False
        assert conn.bytes_sent == sent
        st = target.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
        assert conn.get(str(target)) == b"s3cret\n"
        # Without sudo the user writes (via SFTP) only where it may, and owns the result.
        mine = sudo_sshd.home / "mine.txt"
        assert conn.put(b"mine\n", str(mine), sudo=False) is True
        assert mine.stat().st_uid != 0
        with pytest.raises(StepFailed):
            conn.put(b"no\n", str(root_dir / "nope.txt"), sudo=False)
    assert sorted(p.name for p in target.parent.iterdir()) == ["secret.conf"]


def test_wrong_or_missing_sudo_password_is_a_clear_error(sudo_sshd: SudoSshd, tmp_path: Path) -> None:
    with _sudo_conn(sudo_sshd, tmp_path, password=SUDO_PASSWORD, sudo_password="wrong") as conn:
        with pytest.raises(ConnectError) as info:
            conn.run("true")
        assert info.value.step == "sudo" and "wrong" not in str(info.value)
        assert conn.run("id -un", sudo=False).stdout == f"{SUDO_USER}\n"
    conn = _sudo_conn(sudo_sshd, tmp_path, key_path=str(sudo_sshd.sshd.client_key))
    with conn, pytest.raises(ConnectError, match="needs a password"):
        conn.run("true")


# ------------------------------------------------------------ issue 14: sudo, digests, inline keys


def _spy_exec(conn: Connection) -> list[tuple[str, bytes]]:
    """Record every command line (and stdin prefix) the connection sends."""
    seen: list[tuple[str, bytes]] = []
    real = conn._exec

    def spy(command: str, **kw: object):  # type: ignore[no-untyped-def]
        seen.append((command, kw.get("stdin_prefix", b"")))  # type: ignore[arg-type]
        return real(command, **kw)  # type: ignore[arg-type]

    conn._exec = spy  # type: ignore[method-assign]
    return seen


def test_user_from_ssh_config_decides_sudo(tmp_path: Path) -> None:
    """Item 9: the Target says root (the default) but ``User`` in the ssh config logs in as ``ops``:
    commands must go through sudo, with the login password as the sudo password."""
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host 10.0.0.9\n  User ops\n")
    conn = Connection(
        Target("10.0.0.9", password="pw-1"),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=str(cfg),
    )
    assert conn.login_user == "ops" and not conn.is_root
    conn._sudo_mode = "password"
    line, prefix = conn._wrap("id -u", None, None)
    assert shlex.split(line)[:3] == ["sudo", "-k", "-S"]
    assert prefix == b"pw-1\n"
    root = Connection(
        Target("10.0.0.9", user="root"),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
    )
    assert root.is_root and root._wrap("id -u", None, None) == ("id -u", b"")


def test_user_from_ssh_config_runs_as_root_through_sudo(sudo_sshd: SudoSshd, tmp_path: Path) -> None:
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host 127.0.0.1\n  User {SUDO_USER}\n")
    conn = Connection(
        Target("127.0.0.1", port=sudo_sshd.sshd.port, password=SUDO_PASSWORD),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=str(cfg),
    )
    with conn:
        assert conn.run("id -un", sudo=False).stdout == f"{SUDO_USER}\n"
        assert conn.run("id -u").stdout == "0\n"


def test_put_keeps_the_digest_off_every_command_line(sshd: LocalSshd, tmp_path: Path) -> None:
    """Item 11: the sha256 of an uploaded secret never appears in argv on the host (``ps``)."""
    secret = b"password: hunter2\n"
    digest = hashlib.sha256(secret).hexdigest()
    with _conn(sshd, tmp_path) as conn:
        seen = _spy_exec(conn)
        assert conn.put(secret, str(tmp_path / "out" / "conf"), mode=0o600) is True
        assert (tmp_path / "out" / "conf").read_bytes() == secret
        assert seen and not any(digest in cmd for cmd, _ in seen)
        assert any(prefix == f"{digest}\n".encode() for _, prefix in seen)  # it travels on stdin


def test_sudo_put_keeps_the_digest_off_every_command_line(sudo_sshd: SudoSshd, tmp_path: Path) -> None:
    secret = b"token: s3cret\n"
    digest = hashlib.sha256(secret).hexdigest()
    root_dir = tmp_path / "root-only"
    root_dir.mkdir(mode=0o700)
    with _sudo_conn(sudo_sshd, tmp_path, password=SUDO_PASSWORD) as conn:
        seen = _spy_exec(conn)
        assert conn.put(secret, str(root_dir / "conf"), mode=0o600) is True
        assert conn.get(str(root_dir / "conf")) == secret
        assert conn.bytes_sent == len(secret)  # the digest line is protocol, not payload
        assert not any(digest in cmd for cmd, _ in seen)


def test_inline_key_pkdata_logs_in(sshd: LocalSshd, tmp_path: Path) -> None:
    """Item 13: ``pkData`` (the key text) is used to log in; no key file, agent or password needed."""
    env_sock = os.environ.pop("SSH_AUTH_SOCK", None)
    try:
        conn = Connection(
            Target("127.0.0.1", port=sshd.port, key_data=sshd.client_key.read_text()),
            hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
            ssh_config=os.devnull,
        )
        with conn:
            assert conn.run("echo in").stdout == "in\n"
    finally:
        if env_sock is not None:
            os.environ["SSH_AUTH_SOCK"] = env_sock
    assert "key_data" in repr(conn.target) and "PRIVATE" not in repr(conn.target)


def test_unusable_inline_key_is_refused_clearly(sshd: LocalSshd, tmp_path: Path) -> None:
    conn = Connection(
        Target("127.0.0.1", port=sshd.port, key_data="not a key"),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
    )
    with conn, pytest.raises(ConnectError, match=r"inline key \(pkData\)") as info:
        conn.run("true")
    assert info.value.step == "auth"


def test_load_key_text_reads_each_key_type_and_needs_the_passphrase(tmp_path: Path) -> None:
    from sealkit.ssh.connection import load_key_text

    for kind in ("ed25519", "ecdsa", "rsa"):
        path = tmp_path / f"k-{kind}"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
        key = load_key_text(path.read_text(), None)
        assert key.get_base64() == path.with_suffix(".pub").read_text().split()[1]
    enc = tmp_path / "k-enc"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pp", "-f", str(enc)], check=True)
    with pytest.raises(ConnectError, match="passphrase"):
        load_key_text(enc.read_text(), None)
    assert load_key_text(enc.read_text(), "pp").get_name() == "ssh-ed25519"


def test_failure_messages_show_a_brief_command_not_a_whole_script():
    from sealkit.ssh.connection import Result, _failure_message, brief

    script = "set -e\n" + "\n".join(f"echo line{i}" for i in range(300))
    msg = _failure_message(Result("10.0.0.1", script, 3, "", "disk full\n"))
    assert msg.startswith("command exited with rc=3: set -e …") and "line299" not in msg
    assert "disk full" in msg
    assert brief("x" * 300).endswith(" …") and len(brief("x" * 300)) < 110
    assert brief("systemctl start k3s") == "systemctl start k3s"

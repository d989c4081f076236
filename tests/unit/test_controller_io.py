"""A full or read-only disk on the controller is the controller's failure: exit 1 with the path and the fix,
never "internal error … report it" (exit 3) and never a host reported unreachable (issue 18 item 4a)."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealkit.cli import main as cli_main
from sealkit.cluster import SSH, Cluster, Host
from sealkit.errors import EXIT_STEP_FAILED, ControllerError, StepFailed, controller_io_error
from sealkit.ssh import Connection, HostKeyPolicy, Target
from sealkit.ssh.fleet import Fleet
from sealkit.state import ClusterState, Journal
from tests.unit import test_ssh
from tests.unit.test_ssh import LocalSshd

SEALKIT = Path(sys.executable).with_name("sealkit")

#: the real local sshd of test_ssh (module scope: started once)
sshd_pair = test_ssh.sshd_pair


@pytest.fixture
def local_sshd(sshd_pair: tuple[LocalSshd, LocalSshd]) -> LocalSshd:
    return sshd_pair[0]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "sk"))
    monkeypatch.delenv("SEALKIT_CLUSTER", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return tmp_path / "sk"


@pytest.fixture(autouse=True)
def restore_logging():
    """The CLI configures sealkit's loggers for its process; put them back for the next test."""
    import logging

    loggers = [logging.getLogger(n) for n in ("sealkit", "sealkit.progress", "paramiko")]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def sk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``sealkit ARGS`` through the console-script entry, in process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        cli_main.main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


def make_cluster(name: str, ip: str = "10.213.0.250") -> ClusterState:
    ssh = SSH(user="root", passwd="pw")
    state = ClusterState(name)
    state.save_clusterfile(
        Cluster(
            name=name,
            hosts=[Host(ip, roles=["master"], ssh=ssh)],
            images=["demo/k3s:v1.30.4"],
            runtime="k3s",
            ssh=ssh,
        )
    )
    return state


def _raise(code: int):
    def fail(*args: object, **kwargs: object) -> object:
        raise OSError(code, os.strerror(code))

    return fail


def assert_controller_failure(code: int, err: str, path: str, fix: str) -> None:
    assert code == EXIT_STEP_FAILED, err
    assert "internal error" not in err and "Traceback" not in err
    assert path in err and "on the controller" in err
    assert fix in err
    assert "unreachable" not in err


# -------------------------------------------------------------------- through the CLI, in process


def test_enospc_writing_the_lock_is_exit_1_naming_the_file(capsys, monkeypatch, home):
    state = make_cluster("demo")
    monkeypatch.setattr("sealkit.state.os.pwrite", _raise(errno.ENOSPC))
    code, _, err = sk(capsys, "--cluster", "demo", "reset", "--force")
    assert_controller_failure(code, err, str(state.lock_path), "free space on the controller")
    assert err.startswith("error: [step state] no space left on device writing ")


def test_erofs_writing_the_clusterfile_says_remount_not_free_space(capsys, monkeypatch, home):
    state = make_cluster("demo")

    def kubeconfig(options: object) -> str:  # a verb that records state on the way (as run/add do)
        state.save_clusterfile(state.load_clusterfile())
        return "unreached"

    monkeypatch.setattr("sealkit.engine.ops.kubeconfig", kubeconfig)
    monkeypatch.setattr("sealkit.state.tempfile.mkstemp", _raise(errno.EROFS))
    code, _, err = sk(capsys, "--cluster", "demo", "kubeconfig")
    assert_controller_failure(code, err, str(state.clusterfile_path), "read-only filesystem")
    assert "free space" not in err


def test_enospc_in_the_image_store_names_the_store(capsys, monkeypatch, home, tmp_path):
    archive = tmp_path / "img.tar"
    archive.write_bytes(b"")
    monkeypatch.setattr("sealkit.image.layout.tempfile.mkstemp", _raise(errno.ENOSPC))
    code, _, err = sk(capsys, "load", "-i", str(archive))
    assert_controller_failure(code, err, str(home / "images"), "free space on the controller")


def test_an_unwrapped_controller_oserror_is_exit_1_not_internal(capsys, monkeypatch, home):
    """The last-resort handler: an OSError no layer wrapped (a kubeconfig, a log) still names its file."""

    def kubeconfig(options: object) -> str:
        raise OSError(errno.EIO, "Input/output error", "/root/.kube/x")

    make_cluster("demo")
    monkeypatch.setattr("sealkit.engine.ops.kubeconfig", kubeconfig)
    code, out, err = sk(capsys, "--cluster", "demo", "-o", "json", "kubeconfig")
    assert_controller_failure(code, err, "/root/.kube/x", "check the disk (dmesg)")
    doc = json.loads(out)["error"]
    assert doc["kind"] == "ControllerError" and doc["exit_code"] == 1 and doc["host"] is None
    assert doc["step"] == "kubeconfig" and "/root/.kube/x" in doc["message"]


def test_a_bug_is_still_internal_exit_3(capsys, monkeypatch):
    def kubeconfig(options: object) -> str:
        raise KeyError("bug")

    make_cluster("demo")
    monkeypatch.setattr("sealkit.engine.ops.kubeconfig", kubeconfig)
    code, _, err = sk(capsys, "--cluster", "demo", "kubeconfig")
    assert code == 3 and "internal error" in err


# ---------------------------------------------------------------- real read-only and full disks


def _in_mount_ns(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a private mount namespace needs root and unshare")
    env = {**os.environ, "SEALKIT_HOME": str(home)}
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_real_read_only_home_through_the_console_script(home):
    state = make_cluster("demo")
    res = _in_mount_ns(
        f'mount --bind -o ro "$SEALKIT_HOME" "$SEALKIT_HOME" && {SEALKIT} --cluster demo reset --force', home
    )
    res_err = res.stderr
    assert_controller_failure(res.returncode, res_err, str(state.lock_path), "read-only filesystem")
    assert res_err.startswith("error: [step state] read-only file system opening ")


def test_real_full_disk_through_the_console_script(home):
    state = make_cluster("demo")
    saved = state.clusterfile_path.read_bytes()
    # a 64 KiB tmpfs holding the cluster's state, then filled to the last block
    script = (
        'cp -a "$SEALKIT_HOME" /tmp/.skcopy.$$ && mount -t tmpfs -o size=64k tmpfs "$SEALKIT_HOME" && '
        'cp -a /tmp/.skcopy.$$/. "$SEALKIT_HOME"/ && rm -rf /tmp/.skcopy.$$ && '
        '(dd if=/dev/zero of="$SEALKIT_HOME/fill" bs=4k 2>/dev/null; true) && '
        f"{SEALKIT} --cluster demo reset --force"
    )
    res = _in_mount_ns(script, home)
    assert_controller_failure(
        res.returncode, res.stderr, str(state.lock_path), "free space on the controller"
    )
    assert state.clusterfile_path.read_bytes() == saved  # the real home was never touched


# ------------------------------------------------------------------------- state layer directly


def test_journal_append_on_a_full_disk_names_the_journal(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record(run_id="r", phase="p", step="s", status="started")
    monkeypatch.setattr("sealkit.state.os.write", _raise(errno.ENOSPC))
    with pytest.raises(ControllerError) as exc:
        journal.record(run_id="r", phase="p", step="s", status="done")
    assert exc.value.exit_code == EXIT_STEP_FAILED and exc.value.host is None
    assert exc.value.step == "journal"
    assert str(tmp_path / "journal.jsonl") in str(exc.value)
    monkeypatch.undo()
    journal.close()
    assert Journal(tmp_path / "journal.jsonl").done("p", None, "s") is False


FIXES = {
    errno.ENOSPC: "free space on the controller",
    errno.EDQUOT: "disk quota",
    errno.EROFS: "read-only filesystem",
    errno.EACCES: "writable by the user running sealkit",
    errno.EIO: "check the disk (dmesg)",
    errno.EMFILE: "ulimit -n",
}


@pytest.mark.parametrize("code", sorted(FIXES))
def test_each_errno_gets_its_own_fix_and_no_other(code):
    err = controller_io_error(OSError(code, os.strerror(code)), doing="writing", path="/x/y", step="state")
    hint = err.hint or ""
    assert FIXES[code] in hint
    assert [f for c, f in FIXES.items() if c != code and f in hint] == []
    assert str(err).startswith(f"[step state] {os.strerror(code).lower()} writing /x/y on the controller")
    assert err.exit_code == EXIT_STEP_FAILED and err.host is None


# ------------------------------------------------------------ host transfers: never the host's fault


def test_fleet_raises_a_controller_failure_instead_of_filing_it_under_a_host():
    fleet = Fleet([Target("10.0.0.1"), Target("10.0.0.2")], hostkeys=HostKeyPolicy(os.devnull))

    def fn(conn: Connection) -> str:
        if conn.target.address == "10.0.0.2":
            raise controller_io_error(
                OSError(errno.ENOSPC, "No space left on device"), doing="spooling", path="/t"
            )
        return "ok"

    seen: list[str] = []
    with pytest.raises(ControllerError, match="spooling /t"):
        fleet.map(fn, on_result=lambda a, v: seen.append(a))
    assert sorted(seen) == ["10.0.0.1", "10.0.0.2"]  # every host finished first
    # a host's own failure is still returned per host
    assert isinstance(fleet.map(lambda c: (_ for _ in ()).throw(StepFailed("x")))["10.0.0.1"], StepFailed)


def test_a_full_disk_spooling_a_transfer_is_not_filed_under_the_host(monkeypatch):
    """distribute spools each host's tar in a SpooledTemporaryFile; its rollover to /tmp hits ENOSPC. Whatever
    layer lets that raw OSError through, the fleet names the controller, not the host."""
    import tempfile

    monkeypatch.setattr(tempfile, "TemporaryFile", _raise(errno.ENOSPC))
    fleet = Fleet([Target("10.0.0.1")], hostkeys=HostKeyPolicy(os.devnull))

    def spool(conn: Connection) -> int:
        with tempfile.SpooledTemporaryFile(max_size=16) as buf:
            buf.write(b"x" * 64)  # rolls over to disk: ENOSPC
            return buf.tell()

    with pytest.raises(ControllerError) as exc:
        fleet.map(spool)
    text = str(exc.value)
    assert text.startswith("no space left on device while working for host 10.0.0.1, at ")
    assert tempfile.gettempdir() in text and "free space on the controller" in text
    assert exc.value.host is None


def _conn(sshd: LocalSshd, tmp_path: Path, **kw: object) -> Connection:
    return Connection(
        Target("127.0.0.1", port=sshd.port, key_path=str(sshd.client_key)),
        hostkeys=HostKeyPolicy(tmp_path / "kh", user_known_hosts=None),
        ssh_config=os.devnull,
        backoff_base=0.01,
        **kw,  # type: ignore[arg-type]
    )


def test_full_disk_pinning_a_host_key_is_not_retried_as_unreachable(local_sshd, tmp_path, monkeypatch):
    import sealkit.ssh.connection as connection_mod

    dials = []
    real = connection_mod.socket.create_connection

    def counting(*a: object, **k: object):
        dials.append(1)
        return real(*a, **k)

    monkeypatch.setattr(connection_mod.socket, "create_connection", counting)
    monkeypatch.setattr("sealkit.ssh.hostkeys._atomic_write", _raise(errno.ENOSPC))
    conn = _conn(local_sshd, tmp_path, retries=3)
    with pytest.raises(ControllerError) as exc:
        conn.run("true")
    conn.close()
    assert len(dials) == 1  # old code: 4 dials, then "cannot connect … check that 127.0.0.1 is up"
    assert str(tmp_path / "kh") in str(exc.value) and "free space on the controller" in str(exc.value)
    assert exc.value.host is None


class _BrokenSpool(io.RawIOBase):
    """A spooled payload whose next read fails: the controller's disk, mid-transfer."""

    def __init__(self, good: int, code: int) -> None:
        self.left, self.code = good, code

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError(self.code, os.strerror(self.code))
        chunk = min(n if n > 0 else self.left, self.left)
        self.left -= chunk
        return b"x" * chunk


def test_controller_read_error_mid_stream_is_the_controllers_and_kills_the_command(local_sshd, tmp_path):
    out = tmp_path / "landed"
    with _conn(local_sshd, tmp_path) as conn:
        started = time.monotonic()
        with pytest.raises(ControllerError) as exc:
            conn.run(f"cat > {out}.part && mv {out}.part {out}", stdin=_BrokenSpool(1 << 20, errno.EIO))
        assert time.monotonic() - started < 15
        assert exc.value.host is None and exc.value.step == "run"
        assert "reading the data sent to 127.0.0.1" in str(exc.value)
        assert "check the disk" in str(exc.value)
        assert not out.exists()  # the truncated stdin was never committed
        assert conn.run("echo alive").stdout == "alive\n"  # the host's connection is fine


def test_controller_read_error_during_an_sftp_put_is_the_controllers(local_sshd, tmp_path, monkeypatch):
    import sealkit.ssh.connection as connection_mod

    src = tmp_path / "payload"
    src.write_bytes(os.urandom(3 * connection_mod.CHUNK))
    real_open = connection_mod._open_source

    class Failing(io.BufferedReader):
        reads = 0

        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            Failing.reads += 1
            if Failing.reads > 1:
                raise OSError(errno.EIO, "Input/output error")
            return super().read(n)

    from contextlib import contextmanager

    @contextmanager
    def failing_source(data: object):
        with real_open(data) as f:  # type: ignore[arg-type]
            yield Failing(io.FileIO(f.name))

    monkeypatch.setattr(connection_mod, "_open_source", failing_source)
    with _conn(local_sshd, tmp_path) as conn, pytest.raises(ControllerError) as exc:
        conn.put(src, str(tmp_path / "dst"))
    assert str(src) in str(exc.value) and exc.value.host is None
    assert not (tmp_path / "dst").exists()

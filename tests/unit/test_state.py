"""Cluster state directory, atomic writes, journal and lock (sealkit.state)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import sealkit
from sealkit import state as state_mod
from sealkit.cluster import SSH, Cluster, Host, load_clusterfile
from sealkit.errors import ControllerError, SealkitError, UsageError
from sealkit.state import ClusterState, Journal, atomic_write, home, list_clusters, new_run_id


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cluster(name: str = "lab") -> Cluster:
    ssh = SSH(user="ops", passwd="hunter2")
    return Cluster(
        name=name,
        hosts=[
            Host("10.213.0.2", roles=["master"], ssh=ssh),
            Host("10.213.0.3", roles=["node"], ssh=ssh),
        ],
        images=["sealkit/k3s:v1.29"],
        ssh=ssh,
    )


# ----------------------------------------------------------------------------------------- home


def test_home_honours_sealkit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "sk"))
    assert home() == tmp_path / "sk"
    assert ClusterState("a").dir == tmp_path / "sk" / "clusters" / "a"
    monkeypatch.delenv("SEALKIT_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert home() == tmp_path / "h" / ".sealkit"


def test_constructing_state_touches_nothing(tmp_path: Path) -> None:
    st = ClusterState("lab", home=tmp_path)
    assert not st.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", ""])
def test_bad_cluster_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError) as exc:
        ClusterState(name, home=tmp_path)
    assert exc.value.exit_code == 2


# ------------------------------------------------------------------------------------ directory


def test_layout_and_permissions(tmp_path: Path) -> None:
    st = ClusterState("lab", home=tmp_path)
    st.ensure()
    assert st.dir == tmp_path / "clusters" / "lab"
    assert st.known_hosts == st.dir / "known_hosts"
    assert st.journal_path == st.dir / "journal.jsonl"
    assert st.lock_path == st.dir / "lock"
    for d in (tmp_path, tmp_path / "clusters", st.dir, st.pki_dir):
        assert _mode(d) == 0o700, d


def test_ensure_tightens_loose_directories(tmp_path: Path) -> None:
    st = ClusterState("lab", home=tmp_path)
    st.pki_dir.mkdir(parents=True)
    st.pki_dir.chmod(0o755)
    st.ensure()
    assert _mode(st.pki_dir) == 0o700


def test_save_and_load_clusterfile(tmp_path: Path) -> None:
    st = ClusterState("lab", home=tmp_path)
    cluster = _cluster()
    path = st.save_clusterfile(cluster)
    assert path == st.clusterfile_path
    assert _mode(path) == 0o600  # it holds passwords
    assert st.exists()
    assert st.load_clusterfile() == cluster
    assert load_clusterfile(path) == cluster


def test_load_missing_clusterfile_is_a_usage_error(tmp_path: Path) -> None:
    ClusterState("other", home=tmp_path).save_clusterfile(_cluster("other"))
    with pytest.raises(UsageError, match="no cluster named 'lab'") as exc:
        ClusterState("lab", home=tmp_path).load_clusterfile()
    assert exc.value.exit_code == 2
    assert "other" in (exc.value.hint or "")


def test_list_clusters(tmp_path: Path) -> None:
    assert list_clusters(tmp_path) == []
    for name in ("b", "a"):
        ClusterState(name, home=tmp_path).save_clusterfile(_cluster(name))
    ClusterState("half", home=tmp_path).ensure()  # never applied: not listed
    assert list_clusters(tmp_path) == ["a", "b"]


def test_remove(tmp_path: Path) -> None:
    st = ClusterState("lab", home=tmp_path)
    st.save_clusterfile(_cluster())
    st.journal.record(run_id="r", phase="p", step="s", status="done")
    st.remove()
    assert not st.dir.exists()
    assert list_clusters(tmp_path) == []


# ---------------------------------------------------------------------------------- atomic_write


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o640])
def test_atomic_write_sets_mode_and_content(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    target.chmod(0o666)
    old_umask = os.umask(0o077)
    try:
        atomic_write(target, "new ✓", mode=mode)
    finally:
        os.umask(old_umask)
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert _mode(target) == mode
    atomic_write(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert _mode(target) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_atomic_write_failure_leaves_no_temp_and_keeps_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f"
    target.write_text("original")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(state_mod.os, "fsync", broken_fsync)
    with pytest.raises(ControllerError, match=r"i/o error writing .* on the controller"):
        atomic_write(target, "replacement")
    monkeypatch.undo()
    assert target.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_atomic_write_failed_rename_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "d"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(ControllerError, match="is a directory writing"):
        atomic_write(target, "cannot replace a non-empty directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_atomic_write_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ControllerError, match="no such file or directory writing"):
        atomic_write(tmp_path / "no" / "f", "x")


# ---------------------------------------------------------------------------------------- journal


def test_journal_records_and_resume(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.jsonl")
    assert j.entries() == [] and not j.done("init", "10.0.0.1", "kubeadm-init")
    r1, r2 = new_run_id(), new_run_id()
    assert r1 != r2
    j.record(run_id=r1, phase="init", host="10.0.0.1", step="kubeadm-init", status="started")
    assert not j.done("init", "10.0.0.1", "kubeadm-init")
    e = j.record(run_id=r1, phase="init", host="10.0.0.1", step="kubeadm-init", status="done")
    assert (e.phase, e.host, e.step, e.status, e.detail) == (
        "init",
        "10.0.0.1",
        "kubeadm-init",
        "done",
        "",
    )
    j.record(run_id=r1, phase="join", step="token", status="failed", detail="timeout")
    assert j.done("init", "10.0.0.1", "kubeadm-init")
    assert not j.done("init", "10.0.0.2", "kubeadm-init")
    assert not j.done("join", None, "token")

    # a new run that starts the step again un-does it until it completes
    j.record(run_id=r2, phase="init", host="10.0.0.1", step="kubeadm-init", status="started")
    assert not j.done("init", "10.0.0.1", "kubeadm-init")
    j.close()

    fresh = Journal(tmp_path / "journal.jsonl")  # a later process reads the same answers
    assert not fresh.done("init", "10.0.0.1", "kubeadm-init")
    assert [x.status for x in fresh.entries(run_id=r1)] == ["started", "done", "failed"]
    assert fresh.entries(run_id=r1)[2].detail == "timeout"
    assert fresh.runs() == [r1, r2]
    assert _mode(tmp_path / "journal.jsonl") == 0o600
    for line in (tmp_path / "journal.jsonl").read_text().splitlines():
        assert set(json.loads(line)) == {
            "ts",
            "run_id",
            "phase",
            "host",
            "step",
            "status",
            "detail",
        }


def test_journal_refuses_unknown_status(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    with pytest.raises(ValueError, match="status"):
        j.record(run_id="r", phase="p", step="s", status="ok")  # type: ignore[arg-type]


def test_journal_tolerates_and_repairs_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.record(run_id="r1", phase="p", host="h", step="a", status="done")
    j.close()
    with path.open("ab") as f:  # the controller died in the middle of the next write
        f.write(b'{"ts": "2024-01-01T00:00:00", "run_id": "r1", "pha')

    j2 = Journal(path)
    assert [e.step for e in j2.entries()] == ["a"]
    assert j2.done("p", "h", "a")
    j2.record(run_id="r2", phase="p", host="h", step="b", status="done")
    j2.close()

    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [json.loads(x)["step"] for x in lines[:-1]] == ["a", "b"]  # no record glued to the tear


def test_journal_whole_last_record_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.record(run_id="r1", phase="p", step="a", status="done")
    j.close()
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    j2 = Journal(path)
    j2.record(run_id="r1", phase="p", step="b", status="done")
    j2.close()
    assert [e.step for e in Journal(path).entries()] == ["a", "b"]


def test_journal_corruption_in_the_middle_raises(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    good = json.dumps(
        {
            "ts": "t",
            "run_id": "r",
            "phase": "p",
            "host": None,
            "step": "s",
            "status": "done",
            "detail": "",
        }
    )
    path.write_text(f"{good}\nnot json\n{good}\n")
    with pytest.raises(SealkitError, match="corrupt at line 2"):
        Journal(path).entries()


def test_journal_concurrent_records(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.jsonl")

    def work(host: str) -> None:
        for i in range(20):
            j.record(run_id="r", phase="p", host=host, step=f"s{i}", status="done", detail="x" * 300)

    threads = [threading.Thread(target=work, args=(f"10.0.0.{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    entries = Journal(tmp_path / "journal.jsonl").entries()
    assert len(entries) == 80
    assert all(j.done("p", f"10.0.0.{n}", "s19") for n in range(4))


# ------------------------------------------------------------------------------------------- lock


def test_lock_refuses_a_second_holder_naming_the_pid(tmp_path: Path) -> None:
    a = ClusterState("lab", home=tmp_path)
    b = ClusterState("lab", home=tmp_path)
    with a.lock():
        with pytest.raises(UsageError, match=f"PID {os.getpid()}") as exc, b.lock():
            pass
        assert exc.value.exit_code == 2
        assert _mode(a.lock_path) == 0o600
    with b.lock():  # released on exit
        pass


def test_lock_is_released_when_the_body_fails(tmp_path: Path) -> None:
    st = ClusterState("lab", home=tmp_path)
    with pytest.raises(RuntimeError), st.lock():
        raise RuntimeError("step failed")
    with st.lock():
        pass


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    root = Path(sealkit.__file__).resolve().parents[1]
    code = (
        "import sys\n"
        "from sealkit.state import ClusterState\n"
        f"with ClusterState('lab', home={str(tmp_path)!r}).lock():\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with (
            pytest.raises(UsageError, match=f"PID {proc.pid}\\b"),
            ClusterState("lab", home=tmp_path).lock(),
        ):
            pass
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    with ClusterState("lab", home=tmp_path).lock():  # free again once that run ended
        pass


def test_a_cluster_secret_is_made_once_even_when_hosts_ask_concurrently(tmp_path):
    """Hosts are prepared in parallel threads; every one must get the same join token (it was a bug:
    each thread made its own and the agents failed to join with 401)."""
    from concurrent.futures import ThreadPoolExecutor

    state = ClusterState("c1", tmp_path)
    made = []

    def make() -> str:
        value = f"secret-{len(made)}"
        made.append(value)
        return value

    with ThreadPoolExecutor(16) as pool:
        seen = set(pool.map(lambda _: state.secret("k3s-token", make), range(64)))
    assert len(seen) == 1
    path = state.dir / "secrets" / "k3s-token"
    assert path.read_text().strip() in seen
    assert path.stat().st_mode & 0o777 == 0o600
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temp files left"
    assert state.secret("k3s-token", lambda: "other") in seen  # later calls read, never remake


def test_unknown_cluster_names_the_existing_ones(tmp_path: Path) -> None:
    from sealkit.state import unknown_cluster

    ClusterState("b", home=tmp_path).save_clusterfile(_cluster("b"))
    ClusterState("a", home=tmp_path).save_clusterfile(_cluster("a"))
    err = unknown_cluster("nope", tmp_path)
    assert err.exit_code == 2 and "'nope'" in err.message and "a, b" in str(err.hint)
    with pytest.raises(UsageError) as exc:
        ClusterState("nope", home=tmp_path).load_clusterfile()
    assert "a, b" in str(exc.value)


def test_unknown_cluster_with_none_says_how_to_make_one(tmp_path: Path) -> None:
    from sealkit.state import unknown_cluster

    assert "sealkit run" in str(unknown_cluster("x", tmp_path).hint)

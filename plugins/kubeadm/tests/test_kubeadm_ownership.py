"""Ownership of the etcd data dir and the CNI config dir (issue 12 item 1): refused when foreign,
parked on take-over, given back byte-identical on reset. The shell scripts run for real, locally,
on directories under tmp_path (PRIOR_DIR moved there too)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sealkit_kubeadm import plugin as kubeadm

from sealkit import hostops, ownership
from sealkit.errors import StepFailed
from sealkit.testing.fixtures import make_context
from sealkit.testing.recording import RecordedResult


@dataclass
class LocalConn:
    """Runs each command with bash on this machine (paths are tmp_path's)."""

    commands: list[str] = field(default_factory=list)

    def run(
        self, cmd: str, *, check: bool = True, timeout: float | None = None, **_: object
    ) -> RecordedResult:
        self.commands.append(cmd)
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=timeout or 60)
        if check and p.returncode != 0:
            raise StepFailed(f"rc={p.returncode}: {p.stderr}", host="local")
        return RecordedResult("local", cmd, p.returncode, p.stdout, p.stderr)


@dataclass
class LocalHost:
    conn: LocalConn = field(default_factory=LocalConn)
    ip: str = "127.0.0.1"


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, list[ownership.Claimed]]:
    monkeypatch.setattr(hostops, "PRIOR_DIR", str(tmp_path / "prior"))
    etcd, cni = tmp_path / "etcd", tmp_path / "cni"
    return etcd, cni, [ownership.Claimed(str(etcd), "etcd data dir"), ownership.Claimed(str(cni), "CNI")]


def _probe(host: LocalHost, claimed: list[ownership.Claimed]) -> dict[str, str]:
    return ownership.parse_probe(host.conn.run(ownership.probe_script("t", claimed)).stdout)


def _tree(path: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(path)): (p.read_bytes() if p.is_file() else b"", p.stat().st_mode)
        for p in sorted(path.rglob("*"))
    }


def test_foreign_data_is_refused_naming_the_path_and_nothing_changes(dirs) -> None:
    etcd, _cni, claimed = dirs
    (etcd / "default" / "member").mkdir(parents=True)
    (etcd / "default" / "member" / "db").write_bytes(b"debian etcd data")
    host = LocalHost()
    facts = _probe(host, claimed)
    problems = ownership.foreign(facts, claimed, set(), host="10.0.0.1")
    assert len(problems) == 1 and str(etcd) in problems[0] and ownership.TAKE_OVER_ENV in problems[0]
    assert ownership.foreign(facts, claimed, {str(etcd)}, host="10.0.0.1") == []
    with pytest.raises(StepFailed, match="foreign data in"):  # prepare refuses too, belt and braces
        ownership.remember(host, "t", claimed, set())
    assert (etcd / "default" / "member" / "db").read_bytes() == b"debian etcd data"
    assert not Path(ownership.record_path("t")).exists()


def test_take_over_parks_the_data_and_reset_gives_it_back_byte_identical(dirs) -> None:
    etcd, cni, claimed = dirs
    (etcd / "default").mkdir(parents=True)
    (etcd / "default" / "db").write_bytes(b"\x00debian etcd\xff")
    etcd.chmod(0o700)
    cni.mkdir()
    (cni / "10-podman.conflist").write_text('{"name": "podman"}')
    before = {str(etcd): _tree(etcd), str(cni): _tree(cni)}
    host = LocalHost()
    ownership.remember(host, "t", claimed, {str(etcd), str(cni)})
    assert list(etcd.iterdir()) == [] and list(cni.iterdir()) == []  # kubeadm starts from empty dirs
    assert _probe(host, claimed)["record"] == "1"
    assert ownership.foreign(_probe(host, claimed), claimed, set(), host="h") == []  # a re-run
    # the cluster writes its own data; a second prepare must not record it as the host's
    (etcd / "member").mkdir()
    (etcd / "member" / "wal").write_text("ours")
    (cni / "10-flannel.conflist").write_text("ours")
    ownership.remember(host, "t", claimed, {str(etcd), str(cni)})
    # reset: kubeadm reset removed the CNI dir; give_back restores both
    subprocess.run(["rm", "-rf", str(cni)], check=True)
    ownership.give_back(host, "t", claimed)
    assert {str(etcd): _tree(etcd), str(cni): _tree(cni)} == before
    assert oct(etcd.stat().st_mode & 0o777) == "0o700"
    assert not Path(hostops.PRIOR_DIR).exists()


def test_reset_removes_dirs_that_did_not_exist_and_empties_empty_ones(dirs) -> None:
    etcd, cni, claimed = dirs
    etcd.mkdir()  # the etcd package's empty dir stays, emptied
    host = LocalHost()
    ownership.remember(host, "t", claimed, set())
    (etcd / "member").mkdir()
    cni.mkdir()
    (cni / "10-flannel.conflist").write_text("ours")
    ownership.give_back(host, "t", claimed)
    assert etcd.is_dir() and list(etcd.iterdir()) == []
    assert not cni.exists()


def test_without_a_record_reset_touches_nothing(dirs) -> None:
    _etcd, cni, claimed = dirs
    cni.mkdir()
    (cni / "99-theirs.conf").write_text("theirs")
    ownership.give_back(LocalHost(), "t", claimed)
    assert (cni / "99-theirs.conf").read_text() == "theirs"


def _ctx(tmp_path, env=None):  # type: ignore[no-untyped-def]
    ctx = make_context(
        kubeadm.Runtime(),
        masters=["10.0.0.1"],
        nodes=["10.0.0.3"],
        state_dir=tmp_path,
        runtime_name="kubeadm",
    )
    ctx.image_version = "v1.34.1"
    ctx.cluster.env.update(env or {})
    return ctx


@pytest.mark.parametrize("take_over", [False, True])
def test_kubeadm_preflight_refuses_foreign_etcd_on_a_master_only(tmp_path, take_over) -> None:
    ctx = _ctx(tmp_path, {ownership.TAKE_OVER_ENV: kubeadm.ETCD_DIR} if take_over else None)
    for host in ctx.hosts.values():
        host.conn.answer(r"kubeadm\.paths", 0, "p0=full\np1=absent\n")
    rt = kubeadm.Runtime()
    master = rt.sealkit_preflight(ctx=ctx, host=ctx.hosts["10.0.0.1"])
    worker = rt.sealkit_preflight(ctx=ctx, host=ctx.hosts["10.0.0.3"])
    foreign = [p for p in master if kubeadm.ETCD_DIR in p]
    assert foreign == [] if take_over else len(foreign) == 1
    assert [p for p in worker if "etcd" in p] == []  # p0 on a worker is the CNI dir: absent there
    assert [c.path for c in kubeadm.claimed_dirs(ctx.hosts["10.0.0.3"])] == [kubeadm.CNI_CONF_DIR]


def test_leftovers_count_only_after_sealkit_started_kubeadm(tmp_path) -> None:
    """A foreign kubelet.conf/manifests/etcd data is never reset by us: the probe is gated on our own
    kubeadm config being on the host, and a worker's /var/lib/etcd is not looked at."""
    ctx = _ctx(tmp_path)
    rt = kubeadm.Runtime()
    for ip in ("10.0.0.1", "10.0.0.3"):
        host = ctx.hosts[ip]
        rt._leftovers(host)
        (cmd,) = host.conn.commands
        assert cmd.startswith(
            f"grep -qsF '{kubeadm.MARK}' {kubeadm.INIT_CONFIG} {kubeadm.JOIN_CONFIG} || exit 0; "
        )
        assert ("etcd-data" in cmd) == (ip == "10.0.0.1")


def test_reset_gives_the_cni_dir_back_before_removing_empty_parents(tmp_path) -> None:
    """/etc/cni/net.d did not exist before: it goes, and then its empty parent /etc/cni too."""
    ctx = _ctx(tmp_path)
    host = ctx.hosts["10.0.0.3"]
    host.conn.answer(r"^cat /var/lib/sealkit/prior/kubeadm\.paths", 0, "p0=absent\n")
    kubeadm.Runtime().sealkit_reset_host(ctx=ctx, host=host)
    cmds = host.conn.commands
    gone = [i for i, c in enumerate(cmds) if c.startswith(f"for p in {kubeadm.CNI_CONF_DIR}; do")]
    parents = [i for i, c in enumerate(cmds) if "for d in /etc/cni " in c]
    assert len(gone) == 1 and len(parents) == 1 and gone[0] < parents[0]

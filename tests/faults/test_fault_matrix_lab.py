"""Issue 18 item 5, the fault matrix, through the real CLI on one lab per runtime (scenarios chained on
one cluster: each lab bring-up and install costs CI time).

Each fault ends the run with an error naming the host and the step, leaves nothing half-written under a
final name, and after the fault is removed the test runs **the command the error recommends** (parsed
from its ``fix:`` lines by tests/faults/recovery.py) and asserts convergence: every node Ready,
`sealkit check` passes, a further run changes no host.

1. two concurrent `add`s: the second refuses with the lock message naming the first's PID, the first
   succeeds;
2. a full disk under /var/lib/sealkit on the host being added (a small tmpfs, filled): the copy fails,
   its staging is gone; free the space, run what the error says;
3. a worker powered off while its join step runs: the add fails naming it; boot it, run what the error
   says;
4. a host powered off while the rootfs is on the wire to it: the add fails naming it and nothing
   half-copied is left under a final name; then, during the command the error recommends, the
   controller's SSH sessions to it are killed (its sshd processes, by PID) in the same transfer: the
   copy is idempotent, so the run re-dials, sends it again and converges;
5. the controller itself killed (SIGKILL, no chance to clean up) in every phase of an `add`, one phase
   per run (on kubeadm, for CI time, in the copy, the registry sync and the join): after each kill the
   host is "pending" and nothing half-written stands under a final name, and the same command, run
   again, finally converges;
6. a worker cut off the network (packets lost, no reset) during an upgrade, for longer than the
   reconnect window: the upgrade fails naming it and its step; the link comes back and the recommended
   command brings it to the new version.

The scenarios run in file order on the module's cluster; a failed one leaves the next to start from
whatever state it left (its own assertions then say so).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.driver import Result, Sealkit, build_images, kubectl_nodes, spans
from tests.faults.recovery import (
    assert_converged,
    assert_names_host_and_step,
    assert_rootfs_whole,
    journal_rows,
    recommended,
    ssh_sessions,
    staging_dirs,
    wait_for_record,
    wait_until,
    wait_until_journaled,
)
from tests.lab.core import SYSTEMD, Lab
from tests.lab.fixtures import require_lab
from tests.lab.model import LabHost

pytestmark = pytest.mark.lab

RUNTIMES = ["kubeadm", "k3s"]
#: the phases the controller is killed in, where not every phase of an add (each kill costs a re-run; the
#: phases are the engine's, the same for every runtime, so k3s, the fast one, takes all of them)
KILL_ONLY_IN = {"kubeadm": ("distribute", "images", "join-nodes")}
DISK = "/var/lib/sealkit"


@dataclass
class Bench:
    """The module's cluster: one master, five hosts to add, and what the scenarios have joined."""

    lab: Lab
    sk: Sealkit
    master: LabHost
    spare: list[LabHost]
    kubeconfig: Path
    joined: set[str]
    durations: dict[str, float]
    new_image: str
    new_version: str
    runtime: str


@pytest.fixture(scope="module", params=RUNTIMES)
def bench(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    require_lab(request.config)
    if not SYSTEMD.exists():
        pytest.skip(f"systemd hosts need {SYSTEMD}")
    runtime = request.param
    started = time.monotonic()
    home = tmp_path_factory.mktemp(f"faults-{runtime}")
    span = spans(runtime)["newest"]
    refs = build_images(home, runtime, (span.old, span.new))
    lab = Lab.up(6, systemd=True, name=f"faults-{os.getpid()}-{secrets.token_hex(3)}")
    try:
        master, *spare = lab.hosts
        sk = Sealkit(home, f"faults-{runtime}")
        sk("--runtime", runtime, "run", refs[span.old], "--masters", master.ip, "-i", str(master.root_key))
        conf = sk.kubeconfig(home / "admin.conf")
        durations = {"setup": time.monotonic() - started}
        joined = {master.hostname}
        yield Bench(lab, sk, master, spare, conf, joined, durations, refs[span.new], span.new, runtime)
        print(
            f"\nfault matrix ({runtime}) durations: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in durations.items())
        )
    finally:
        lab.down()


def test_concurrent_adds_second_refuses_on_the_lock(bench: Bench) -> None:
    started = time.monotonic()
    sk, (first, second, *_) = bench.sk, bench.spare
    lock = sk.home / "clusters" / sk.cluster / "lock"
    proc = sk.popen("add", "--nodes", first.ip)
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(proc.pid)):
            assert proc.poll() is None, f"the first add exited ({proc.returncode}) before taking the lock"
            assert time.monotonic() < deadline, "the first add never took the lock"
            time.sleep(0.05)
        refused = sk("add", "--nodes", second.ip, check=False)
        assert refused.rc == 2, refused
        assert f"cluster '{sk.cluster}' is locked by another sealkit run (PID {proc.pid})" in refused.err
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-4000:]
    assert json.loads(out)["changed_hosts"] == [first.ip], out
    bench.joined.add(first.hostname)
    nodes = kubectl_nodes(bench.kubeconfig)
    assert set(nodes) == bench.joined, nodes
    # the refused add touched nothing: its host is in no state of ours
    assert bench.lab.exec_on(second, f"test -e {DISK}", check=False).returncode == 1
    bench.durations["concurrent adds"] = time.monotonic() - started


def test_full_disk_then_the_recommended_command_converges(bench: Bench) -> None:
    started = time.monotonic()
    lab, sk, victim = bench.lab, bench.sk, bench.spare[1]
    # the fault: the host's sealkit dir is a small filesystem with no space left
    lab.exec_on(victim, f"mkdir -p {DISK} && mount -t tmpfs -o size=256m tmpfs {DISK}")
    lab.exec_on(victim, f"fallocate -l $(( $(stat -f -c '%a*%S' {DISK}) - 1048576 )) {DISK}/.filler")
    argv = ("add", "--nodes", victim.ip)
    failed = sk(*argv, check=False)
    assert_names_host_and_step(sk, failed, victim.ip)
    assert_rootfs_whole(lab, victim, bench.master)
    free = int(lab.exec_on(victim, f"echo $(( $(stat -f -c '%a*%S' {DISK}) ))").stdout)
    assert free >= 1 << 19, f"the failed copy did not give its space back ({free} bytes free)"

    lab.exec_on(victim, f"rm {DISK}/.filler")  # the operator frees the space
    sk(*recommended(argv, failed.err))
    bench.joined.add(victim.hostname)
    assert_rootfs_whole(lab, victim, bench.master)
    assert_converged(sk, bench.kubeconfig, bench.joined)
    bench.durations["full disk"] = time.monotonic() - started
    # the message names the cause (asserted last: the scenarios after this one need the host recovered)
    assert "no space left" in failed.err.lower(), failed.err[-3000:]


def test_worker_killed_mid_join_then_the_recommended_command_converges(bench: Bench) -> None:
    started = time.monotonic()
    lab, sk, victim = bench.lab, bench.sk, bench.spare[2]
    argv = ("add", "--nodes", victim.ip)
    proc = sk.popen(*argv)
    with _killed_on_error(proc):
        wait_until_journaled(sk, victim.ip, "join-node", "started", proc=proc, timeout=300)
        lab.stop_host(victim)
    result = _finish(proc)
    assert_names_host_and_step(sk, result, victim.ip)
    status = {row["host"]: row for row in sk("status", check=False).out}
    assert status[victim.ip].get("member") == "pending", status[victim.ip]

    lab.start_host(victim)  # the host is back
    sk(*recommended(argv, result.err))
    bench.joined.add(victim.hostname)
    assert_rootfs_whole(lab, victim, bench.master)
    assert_converged(sk, bench.kubeconfig, bench.joined)
    bench.durations["killed mid-join"] = time.monotonic() - started


@contextlib.contextmanager
def _killed_on_error(proc: subprocess.Popen[str]) -> Iterator[None]:
    """A run the test waits on does not outlive the test's own failure."""
    try:
        yield
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def _finish(proc: subprocess.Popen[str]) -> Result:
    """Wait for a run started with ``Sealkit.popen`` and read its result."""
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Result(proc.returncode, json.loads(out) if out.strip() else out, err)


def _copying(bench: Bench, victim: LabHost, argv: tuple[str, ...]) -> subprocess.Popen[str]:
    """Start ``argv`` and return once the rootfs is on the wire to ``victim``: a staging dir that was not
    there before (one a power cut left behind is no sign of a transfer) exists."""
    stale = set(staging_dirs(bench.lab, victim))
    since = len(journal_rows(bench.sk))
    proc = bench.sk.popen(*argv)
    with _killed_on_error(proc):
        wait_for_record(
            bench.sk,
            lambda r: r["phase"] == "distribute" and r["status"] == "started",
            proc=proc,
            timeout=300,
            since=since,
        )
        in_flight = lambda: bool(set(staging_dirs(bench.lab, victim)) - stale)  # noqa: E731
        wait_until(f"a new staging dir on {victim.ip}", in_flight, timeout=120, proc=proc)
    return proc


def test_host_lost_then_ssh_session_killed_mid_transfer_then_converges(bench: Bench) -> None:
    started = time.monotonic()
    lab, sk, victim = bench.lab, bench.sk, bench.spare[3]
    argv = ("add", "--nodes", victim.ip)
    lab.shape("40mbit", host=victim)  # the rootfs takes seconds on the wire: time to hit it mid-copy
    try:
        # fault 1: the host loses power while the rootfs streams to it
        proc = _copying(bench, victim, argv)
        lab.stop_host(victim)
        lost = _finish(proc)
        assert_names_host_and_step(sk, lost, victim.ip)
        lab.start_host(victim)  # the host is back with whatever the power cut left on its disk:
        # no half-copied file under a final name (its staging may be there: nobody was left to remove it)
        assert_rootfs_whole(lab, victim, bench.master, staging_ok=True)

        # fault 2: during the command the error recommends, every sshd session on the host is killed (by
        # PID) mid-transfer; the copy is idempotent, so sealkit re-dials and sends it again by itself
        proc = _copying(bench, victim, recommended(argv, lost.err))
        with _killed_on_error(proc):
            sessions = ssh_sessions(lab, victim)
            assert sessions, "no sshd session to kill while the copy runs"
            lab.exec_on(victim, "kill -9 " + " ".join(map(str, sessions)))
        again = _finish(proc)
    finally:
        lab.unshape(host=victim)
    assert again.rc == 0, again.err[-3000:]
    assert f"{victim.ip}: the SSH link dropped while copying the rootfs; sending it again" in again.err
    bench.joined.add(victim.hostname)
    assert_rootfs_whole(lab, victim, bench.master)
    assert_converged(sk, bench.kubeconfig, bench.joined)
    bench.durations["host lost, ssh session killed mid-transfer"] = time.monotonic() - started


def test_controller_killed_in_every_phase_then_the_same_command_converges(bench: Bench) -> None:
    started = time.monotonic()
    lab, sk, victim = bench.lab, bench.sk, bench.spare[4]
    argv = ("add", "--nodes", victim.ip)
    # the phases of an add, in order, as the first scenario's add journaled them
    rows = journal_rows(sk)
    first_run = next(r["run_id"] for r in rows if r["host"] == bench.spare[0].ip)
    phases = list(dict.fromkeys(r["phase"] for r in rows if r["run_id"] == first_run))
    assert "distribute" in phases and phases[-1].startswith("join"), phases
    if bench.runtime in KILL_ONLY_IN:  # CI time: the slow runtime is killed where it hurts most
        phases = [p for p in phases if p in KILL_ONLY_IN[bench.runtime]]
    killed_in: list[str] = []
    todo = list(phases)
    while todo:
        since = len(journal_rows(sk))
        proc = sk.popen(*argv)
        try:
            row = wait_for_record(
                sk,
                lambda r, todo=tuple(todo): r["phase"] in todo and r["status"] == "started",
                proc=proc,
                timeout=300,
                since=since,
            )
            proc.send_signal(signal.SIGKILL)  # no finally, no atexit: the host sees its sessions drop
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        killed_in.append(row["phase"])
        todo = todo[todo.index(row["phase"]) + 1 :]
        status = {r["host"]: r for r in sk("status", check=False).out}
        assert status[victim.ip].get("member") == "pending", (row["phase"], status[victim.ip])
        assert_rootfs_whole(lab, victim, bench.master, staging_ok=True)
        # what the killed run started on the host dies with its SSH sessions
        wait_until(
            f"the sessions of the run killed in {row['phase']} to end on {victim.ip}",
            lambda: not ssh_sessions(lab, victim) and not _sealkit_processes(lab, victim),
            timeout=30,
        )
    assert killed_in[0] == "distribute" and killed_in[-1] == phases[-1], (killed_in, phases)

    sk(*argv)  # a killed controller says nothing: the operator runs the same command again
    bench.joined.add(victim.hostname)
    assert_rootfs_whole(lab, victim, bench.master)
    assert_converged(sk, bench.kubeconfig, bench.joined)
    bench.durations[f"controller killed in {len(killed_in)} phases"] = time.monotonic() - started
    print(f"controller killed in: {killed_in} (of {phases})")


def _sealkit_processes(lab: Lab, host: LabHost) -> list[str]:
    """Processes on ``host`` that run sealkit's own remote helpers (staged scripts, the relay)."""
    out = lab.exec_on(host, "ps -eo args=").stdout
    return [a for a in out.splitlines() if ".sealkit-" in a or "sealkit-relay" in a]


def test_partition_during_upgrade_then_the_recommended_command_converges(bench: Bench) -> None:
    started = time.monotonic()
    lab, sk, victim = bench.lab, bench.sk, bench.spare[0]
    argv = ("upgrade", bench.new_image)
    since = len(journal_rows(sk))
    proc = sk.popen(*argv)
    try:
        # the worker's connection is up (the upgrade rendered its config through it); the link goes
        # silent while the masters upgrade, so the worker's own step meets it
        with _killed_on_error(proc):
            wait_for_record(
                sk,
                lambda r: r["phase"] == "upgrade-masters" and r["status"] == "started",
                proc=proc,
                timeout=600,
                since=since,
            )
        lab.cut(victim)  # until the run ends: longer than the reconnect window
        failed = _finish(proc)
    finally:
        lab.restore(victim)
    assert_names_host_and_step(sk, failed, victim.ip)
    sk(*recommended(argv, failed.err))
    assert_converged(sk, bench.kubeconfig, bench.joined)
    nodes = kubectl_nodes(bench.kubeconfig, retry_for=30)
    assert {n: v["version"].split("+")[0] for n, v in nodes.items()} == dict.fromkeys(
        bench.joined, bench.new_version
    ), nodes
    bench.durations["partition during upgrade"] = time.monotonic() - started

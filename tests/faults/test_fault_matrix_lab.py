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
   says.

The scenarios run in file order on the module's cluster; a failed one leaves the next to start from
whatever state it left (its own assertions then say so).
"""

from __future__ import annotations

import json
import os
import secrets
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
    recommended,
    wait_until_journaled,
)
from tests.lab.core import SYSTEMD, Lab
from tests.lab.fixtures import require_lab
from tests.lab.model import LabHost

pytestmark = pytest.mark.lab

RUNTIMES = ["kubeadm", "k3s"]
DISK = "/var/lib/sealkit"


@dataclass
class Bench:
    """The module's cluster: one master, three hosts to add, and what the scenarios have joined."""

    lab: Lab
    sk: Sealkit
    master: LabHost
    spare: list[LabHost]
    kubeconfig: Path
    joined: set[str]
    durations: dict[str, float]


@pytest.fixture(scope="module", params=RUNTIMES)
def bench(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    require_lab(request.config)
    if not SYSTEMD.exists():
        pytest.skip(f"systemd hosts need {SYSTEMD}")
    runtime = request.param
    started = time.monotonic()
    home = tmp_path_factory.mktemp(f"faults-{runtime}")
    span = spans(runtime)["newest"]
    refs = build_images(home, runtime, (span.old,))
    lab = Lab.up(4, systemd=True, name=f"faults-{os.getpid()}-{secrets.token_hex(3)}")
    try:
        master, *spare = lab.hosts
        sk = Sealkit(home, f"faults-{runtime}")
        sk("--runtime", runtime, "run", refs[span.old], "--masters", master.ip, "-i", str(master.root_key))
        conf = sk.kubeconfig(home / "admin.conf")
        durations = {"setup": time.monotonic() - started}
        yield Bench(lab, sk, master, spare, conf, {master.hostname}, durations)
        print(
            f"\nfault matrix ({runtime}) durations: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in durations.items())
        )
    finally:
        lab.down()


def test_concurrent_adds_second_refuses_on_the_lock(bench: Bench) -> None:
    started = time.monotonic()
    sk, (first, second, _) = bench.sk, bench.spare
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
    try:
        wait_until_journaled(sk, victim.ip, "join-node", "started", proc=proc, timeout=300)
        lab.stop_host(victim)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = Result(proc.returncode, json.loads(out) if out.strip() else out, err)
    assert_names_host_and_step(sk, result, victim.ip)
    status = {row["host"]: row for row in sk("status", check=False).out}
    assert status[victim.ip].get("member") == "pending", status[victim.ip]

    lab.start_host(victim)  # the host is back
    sk(*recommended(argv, err))
    bench.joined.add(victim.hostname)
    assert_rootfs_whole(lab, victim, bench.master)
    assert_converged(sk, bench.kubeconfig, bench.joined)
    bench.durations["killed mid-join"] = time.monotonic() - started

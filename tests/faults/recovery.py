"""What the fault-matrix lab tests share: reading a failed run's advice and proving a cluster converged.

A fault test does what an operator would: read the error, remove the fault, run the command the error
recommends. :func:`recommended` turns the error's ``fix:`` lines into that command, so a message that stops
recommending one fails the test instead of being papered over by a hard-coded retry.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.driver import Result, Sealkit, kubectl_nodes
from tests.lab.core import Lab
from tests.lab.model import LabHost
from tests.workloads.harness import wait_for

ROOTFS = "/var/lib/sealkit/rootfs"
MANIFEST = ".sealkit-manifest.json"
#: a hint that means "the command you ran": the runner's phase summary and the step hints
_SAME_COMMAND = re.compile(r"\b(re-run|run the same command again)\b")
_COMMAND = re.compile(r"`sealkit ([^`]+)`")


@dataclass(frozen=True)
class Failure:
    """The journal's failed step of a run: where the error must point."""

    phase: str
    host: str
    step: str


def fixes(stderr: str) -> list[str]:
    """Every ``fix:`` line of an error on stderr (a phase failure nests its steps' fixes), innermost first."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*fix: (.+)$", stderr, re.MULTILINE)]


def recommended(argv: tuple[str, ...], stderr: str) -> tuple[str, ...]:
    """The sealkit arguments the error tells the operator to run next: a quoted ```sealkit …``` command
    in a ``fix:`` line wins; a fix that says to re-run means ``argv`` again. AssertionError if none."""
    found = fixes(stderr)
    for fix in found:
        m = _COMMAND.search(fix)
        if m:
            return tuple(shlex.split(m.group(1)))
    if any(_SAME_COMMAND.search(fix) for fix in found):
        return argv
    raise AssertionError(f"the error recommends no command to run; its fix lines: {found}\n{stderr[-3000:]}")


def last_failures(sk: Sealkit) -> list[Failure]:
    """The failed steps of the journal's newest run (the run that just exited)."""
    path = sk.home / "clusters" / sk.cluster / "journal.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert rows, "the failed run journaled nothing"
    run = rows[-1]["run_id"]
    return [
        Failure(r["phase"], r["host"], r["step"])
        for r in rows
        if r["run_id"] == run and r["status"] == "failed"
    ]


def assert_names_host_and_step(sk: Sealkit, result: Result, host: str) -> Failure:
    """The run failed (exit 1) in a step on ``host`` (or in a cluster-wide step, such as the rootfs copy
    to every new host, that failed for it), and the message names both the host and that step."""
    err = result.err[-3000:]
    assert result.rc == 1, f"expected a failed step (exit 1), got {result.rc}\n{err}"
    failed = [f for f in last_failures(sk) if f.host in (host, "-")]
    assert failed, f"no failed step for {host} in the journal: {last_failures(sk)}\n{err}"
    assert f"host {host}" in result.err, err
    assert any(f"step {f.step}" in result.err or f"step {f.phase}" in result.err for f in failed), (
        failed,
        err,
    )
    doc = result.out.get("error") if isinstance(result.out, dict) else None
    assert doc and doc["exit_code"] == 1 and doc["hint"], result.out  # -o json carries the same facts
    return failed[0]


def journal_rows(sk: Sealkit) -> list[dict[str, Any]]:
    """Every record of the cluster's journal, oldest first."""
    path = sk.home / "clusters" / sk.cluster / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_record(
    sk: Sealkit, match: Callable[[dict[str, Any]], bool], *, proc: Any, timeout: float, since: int = 0
) -> dict[str, Any]:
    """Poll the cluster's journal until a record after the first ``since`` ones satisfies ``match`` (the
    run appends and fsyncs each record before the step acts) and return it; AssertionError if the run
    exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in journal_rows(sk)[since:]:
            if match(row):
                return row
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the run exited ({proc.returncode}) before the awaited step\n{err[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"no awaited journal record within {timeout:.0f}s")


def wait_until_journaled(
    sk: Sealkit, host: str, step: str, status: str, *, proc: Any, timeout: float
) -> None:
    """Poll the cluster's journal until ``step`` on ``host`` reaches ``status``."""
    wait_for_record(
        sk,
        lambda r: r["host"] == host and r["step"] == step and r["status"] == status,
        proc=proc,
        timeout=timeout,
    )


def ssh_sessions(lab: Lab, host: LabHost) -> list[int]:
    """PIDs of the host's sshd session processes (every connection's privileged and user halves; not
    the listener), as the host's own PID namespace numbers them."""
    out = lab.exec_on(host, "ps -eo pid=,args=").stdout
    pids = []
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if args.startswith("sshd:") and "listener" not in args and not args.startswith("sshd: /"):
            pids.append(int(pid))
    return pids


def wait_until(what: str, check: Callable[[], bool], *, timeout: float, proc: Any = None) -> None:
    """:func:`tests.workloads.harness.wait_for` at 50 ms, failing at once if ``proc`` exits first."""

    def ready() -> bool:
        if proc is not None and proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the run exited ({proc.returncode}) before {what}\n{err[-3000:]}")
        return check()

    wait_for(what, ready, timeout, every=0.05)


def staging_dirs(lab: Lab, host: LabHost) -> list[str]:
    """The rootfs copy's staging directories on ``host`` (a transfer in flight, or one left behind)."""
    return lab.exec_on(host, f"ls -a {ROOTFS} 2>/dev/null | grep '^.sealkit-staging' || true").stdout.split()


def assert_rootfs_whole(lab: Lab, host: LabHost, reference: LabHost, *, staging_ok: bool = False) -> None:
    """Nothing half-written under a final name in ``host``'s rootfs copy: every file it has that the
    image lists is byte-identical to ``reference``'s, a manifest, if there is one, lists only files that
    are in place with that content, and (unless ``staging_ok``: a killed controller cannot clean up; its
    next run does) no staging dir is left."""
    staging = staging_dirs(lab, host)
    assert staging_ok or staging == [], f"{host.ip}: staging left behind: {staging}"
    # the manifest's notation: a file's sha256, "symlink:<target>" for a link, "dir" for an empty dir
    listing = (
        "cd {0} 2>/dev/null || exit 0; find . -path './.sealkit-*' -prune -o -type f -print0 | xargs -0r "
        "sha256sum; find . -path './.sealkit-*' -prune -o -type l -printf 'symlink:%l  %P\\n' "
        "-o -type d -empty -printf 'dir  %P\\n'"
    )
    have = _sums(lab.exec_on(host, listing.format(ROOTFS)).stdout)
    ref_manifest = json.loads(lab.exec_on(reference, f"cat {ROOTFS}/{MANIFEST}").stdout)
    wrong = sorted(p for p, digest in have.items() if p in ref_manifest and ref_manifest[p] != digest)
    assert wrong == [], f"{host.ip}: files under their final names differ from the image: {wrong[:10]}"
    own = lab.exec_on(host, f"cat {ROOTFS}/{MANIFEST} 2>/dev/null || true").stdout
    if own.strip():
        listed = json.loads(own)
        missing = sorted(p for p, digest in listed.items() if have.get(p) != digest)
        assert missing == [], f"{host.ip}: the manifest lists files not in place: {missing[:10]}"


def _sums(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        digest, _, path = line.partition("  ")
        out[path.removeprefix("./")] = digest
    return out


def assert_converged(sk: Sealkit, kubeconfig: Path, hostnames: set[str], *, ready_within: float = 90) -> None:
    """All nodes Ready (polled: a kubelet restarted by the recovery reports in its own time), `check`
    passes, and a further run changes no host."""
    deadline = time.monotonic() + ready_within
    while True:
        nodes = kubectl_nodes(kubeconfig, retry_for=30)
        if set(nodes) == hostnames and all(n["ready"] for n in nodes.values()):
            break
        assert time.monotonic() < deadline, f"nodes not all Ready: {nodes}"
        time.sleep(2)
    checked = sk("check").out
    assert checked["failed"] == 0, checked
    again = sk("run").out
    assert again["changed_hosts"] == [], again

"""Relay distribution for real: a ClusterContext over sealkit's own SSH connections to lab hosts.

The controller streams one tar to the first host, which hands it on over TCP to the next; every host
verifies against the sums it got over SSH. Fallbacks (no python3, a refused or unauthenticated hop, a
checksum failure, a hop that dies mid-stream) must still leave every host with exactly the rootfs.
Needs root and the lab: ``pytest -m lab tests/lab_distribute``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealkit.context import ClusterContext
from sealkit.engine import distribute
from sealkit.engine.distribute import local_manifest, push_rootfs_many
from sealkit.errors import StepFailed
from tests.lab_distribute.labctx import lab_context, make_rootfs

pytestmark = pytest.mark.lab

ROOT = "/var/lib/sealkit/rootfs"
FILES: dict[str, int | bytes] = {
    "bin/kubelet": 14 << 20,
    "bin/kubeadm": 6 << 20,
    "images/pause.tar": 3 << 20,
    "etc/kubelet.conf": b"[kubelet]\nmaxPods = 110\n",
    "etc/empty": b"",
    "manifests/with space.yaml": b"kind: Pod\n",
}
TOKEN_LIKE = re.compile(r"\b[0-9a-f]{64}\b")


def _assert_exact(ctx: ClusterContext, rootfs: Path) -> None:
    """Every host holds exactly the rootfs files (by sha256), its manifest, and nothing half-written."""
    entries = local_manifest(rootfs)
    local = {p: e for p, e in entries.items() if e.kind == "f"}
    links = sorted(f"{p}\t{e.target}" for p, e in entries.items() if e.kind == "l")
    dirs = sorted(p for p, e in entries.items() if e.kind == "d")
    sums = "".join(f"{e.sha256}  {e.path}\n" for e in local.values()).encode()
    for ip, host in ctx.hosts.items():
        res = host.conn.run(f"cd {ROOT} && sha256sum -c --strict --quiet -", stdin=sums, check=False)
        assert res.rc == 0, f"{ip}: {res.stdout}{res.stderr}"
        listing = host.conn.run(
            f"cd {ROOT} && find . -mindepth 1 -maxdepth 1 -name '.sealkit-*' -printf '%P\\n'"
        )
        assert listing.stdout.split() == [distribute.MANIFEST_NAME], f"{ip}: leftovers {listing.stdout}"
        files = host.conn.run(f"cd {ROOT} && find . -type f ! -name '.sealkit-*' -printf '%P\\n'").stdout
        assert sorted(files.splitlines()) == sorted(local), ip
        got_links = host.conn.run(f"cd {ROOT} && find . -type l -printf '%P\\t%l\\n'").stdout
        assert sorted(got_links.splitlines()) == links, ip
        got_dirs = host.conn.run(f"cd {ROOT} && find . -mindepth 1 -type d -empty -printf '%P\\n'").stdout
        assert sorted(got_dirs.splitlines()) == dirs, ip


def _modes(ctx: ClusterContext) -> dict[str, str]:
    return {ip: h.facts.get("distribute_mode", "") for ip, h in ctx.hosts.items()}


def _hide_python3(conn: Any) -> None:
    """Remove every python3 the host's login PATH can find (in that host's overlay only). pyenv's
    ``init`` in root's .bashrc recreates its shim at each login, so its versions' python3 go too."""
    conn.run(
        "rm -f /root/.pyenv/versions/*/bin/python3 /root/.pyenv/shims/python3; "
        'while p=$(command -v python3); do rm -f "$p" || exit 1; done'
    )
    res = conn.run("command -v python3", check=False)  # a fresh login, as the probe does
    assert res.rc != 0, f"python3 still on PATH: {res.stdout}"


def _helper_pid(lab: Any, host: Any) -> str | None:
    """The pid of the python process running the relay helper as a listener on ``host``."""
    ps = lab.exec_on(host, ["ps", "-ww", "-eo", "pid,args"], check=False).stdout
    for line in ps.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and "python" in Path(parts[1]).name and parts[2].endswith(f" listen {host.ip}"):
            return parts[0]
    return None


class ArgvWatch:
    """Samples every process's argv on a host (``ps``) while a relay runs."""

    def __init__(self, lab: Any, host: Any) -> None:
        self.lab, self.host = lab, host
        self.samples: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            res = self.lab.exec_on(self.host, ["ps", "-ww", "-eo", "args"], check=False, timeout=10)
            self.samples.append(res.stdout)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def saw_helper(self) -> bool:
        return any(f" listen {self.host.ip}" in s and "import ctypes" in s for s in self.samples)


def test_relay_sends_the_payload_once_and_a_rerun_sends_nothing(
    fresh_hosts: Callable[..., Any], tmp_path: Path
) -> None:
    hosts = fresh_hosts(4)
    rootfs = make_rootfs(tmp_path / "v1" / "rootfs", FILES)
    (rootfs / "bin/kubectl").symlink_to("kubelet")  # images rely on links like kubectl -> k3s
    (rootfs / "bin/shadow").symlink_to("/etc/shadow")  # outside the rootfs: never distributed
    (rootfs / "var/lib/empty").mkdir(parents=True)
    os.utime(rootfs)
    assert local_manifest(rootfs)["bin/kubectl"].kind == "l" and "bin/shadow" not in local_manifest(rootfs)
    payload = sum(e.size for e in local_manifest(rootfs).values())
    with lab_context(hosts.lab, hosts, tmp_path / "home") as ctx:
        targets = {h.ip: rootfs for h in hosts}
        with ArgvWatch(hosts.lab, hosts[3]) as watch:
            sent = push_rootfs_many(ctx, targets)
        assert _modes(ctx) == dict.fromkeys(targets, "relay"), {
            ip: h.facts.get("relay_error") for ip, h in ctx.hosts.items()
        }
        _assert_exact(ctx, rootfs)

        # the controller sent the payload about once (to the first host), not once per host
        total = sum(sent.values())
        assert payload < total < payload * 1.05 + (256 << 10), sent
        assert distribute.bytes_sent(ctx) == total
        head, *rest = (ctx.hosts[h.ip] for h in hosts)
        assert sent[head.ip] > payload and all(sent[h.ip] < 64 << 10 for h in rest)
        assert "bytes_relayed" not in head.facts
        for h in rest:
            assert h.facts["bytes_relayed"] > payload
            assert h.facts["relay_stats"]["bytes"] == h.facts["bytes_relayed"]

        # tokens travel on stdin only: no argv on a host shows one (the helper itself was seen)
        assert watch.saw_helper(), "the sampler never caught the relay helper running"
        for sample in watch.samples:
            assert not TOKEN_LIKE.search(sample), sample

        # a re-run has nothing to send: one probe per host, 0 bytes
        start = time.monotonic()
        again = push_rootfs_many(ctx, targets)
        took = time.monotonic() - start
        assert again == dict.fromkeys(targets, 0)
        assert distribute.bytes_sent(ctx) == total
        assert _modes(ctx) == dict.fromkeys(targets, "unchanged")
        assert took < 5, f"a no-op re-run took {took:.2f}s"

        # an update relays only what changed and prunes what is gone
        v2 = tmp_path / "v2" / "rootfs"
        shutil.copytree(rootfs, v2, symlinks=True)
        (v2 / "bin/kubectl").unlink()
        (v2 / "bin/kubectl").symlink_to("kubeadm")  # retargeted
        (v2 / "images/pause.tar").unlink()
        make_rootfs(v2, {"bin/kubeadm": 6 << 20, "bin/new-tool": 2 << 20}, seed=2)
        changed = (6 << 20) + (2 << 20)
        sent = push_rootfs_many(ctx, dict.fromkeys(targets, v2))
        assert _modes(ctx) == dict.fromkeys(targets, "relay")
        assert changed < sum(sent.values()) < changed * 1.05 + (256 << 10), sent
        _assert_exact(ctx, v2)


def test_hosts_that_cannot_relay_end_correct_through_the_direct_copy(
    fresh_hosts: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """h2 has no python3; h3 expects another token than its upstream sends; h1 is told a wrong port
    for h4 (refused); h5 gets wrong sums (checksum failure). h1 then hands the stream straight to h5."""
    hosts = fresh_hosts(5)
    h1, h2, h3, h4, h5 = hosts
    rootfs = make_rootfs(tmp_path / "rootfs", FILES)
    with lab_context(hosts.lab, hosts, tmp_path / "home") as ctx:
        _hide_python3(ctx.hosts[h2.ip].conn)

        original = distribute._Chain._config

        def tampered(self: Any, m: Any, slots: list[list[list[Any]]]) -> dict[str, Any]:
            if m.ip == h1.ip:
                slots = [[[ip, 1 if ip == h4.ip else port, tok] for ip, port, tok in slot] for slot in slots]
            cfg = original(self, m, slots)
            if m.ip == h3.ip:
                cfg["token"] = "0" * 64
            if m.ip == h5.ip:
                sums = cfg["control"][".sealkit-sums"]
                cfg["control"] = {**cfg["control"], ".sealkit-sums": re.sub("^[0-9a-f]", "x", sums)}
            return cfg

        monkeypatch.setattr(distribute._Chain, "_config", tampered)
        sent = push_rootfs_many(ctx, {h.ip: rootfs for h in hosts})
        facts = {h.name: ctx.hosts[h.ip].facts for h in hosts}
        assert {n: f["distribute_mode"] for n, f in facts.items()} == {
            "h1": "relay",
            "h2": "direct",
            "h3": "fallback",
            "h4": "fallback",
            "h5": "fallback",
        }, {n: f.get("relay_error") for n, f in facts.items()}
        assert "python3" in facts["h2"]["relay_skipped"]
        # h3 refused h1 (wrong token) and kept waiting; the controller then gave up on it
        assert facts["h3"]["relay_error"].startswith("auth: token mismatch"), facts["h3"]["relay_error"]
        assert facts["h4"]["relay_error"].startswith("connect:"), facts["h4"]["relay_error"]
        assert "refused" in facts["h4"]["relay_error"].lower()
        assert facts["h5"]["relay_error"].startswith("verify: sha256 mismatch"), facts["h5"]["relay_error"]
        assert all(sent[h.ip] > 20 << 20 for h in (h1, h2, h3, h4, h5))  # each got a full copy from us
        _assert_exact(ctx, rootfs)

        monkeypatch.setattr(distribute._Chain, "_config", original)
        assert push_rootfs_many(ctx, {h.ip: rootfs for h in hosts}) == dict.fromkeys(ctx.hosts, 0)


def test_a_hop_that_dies_mid_stream_falls_back_for_it_and_every_host_after_it(
    fresh_hosts: Callable[..., Any], tmp_path: Path
) -> None:
    hosts = fresh_hosts(4)
    lab = hosts.lab
    rootfs = make_rootfs(tmp_path / "rootfs", FILES)
    killed: list[str] = []

    def kill_h3_helper_mid_stream() -> None:
        """Once h3 has staged 1 MiB, SIGKILL its relay helper (by pid, inside the host)."""
        h3 = hosts[2]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            staged = lab.exec_on(h3, f"du -sk {ROOT}/.sealkit-staging.relay-* 2>/dev/null", check=False)
            if staged.stdout.strip() and int(staged.stdout.split()[0]) > 1024:
                pid = _helper_pid(lab, h3)
                if pid:
                    lab.exec_on(h3, ["kill", "-KILL", pid], check=False)
                    killed.append(pid)
            time.sleep(0.05)

    with lab_context(lab, hosts, tmp_path / "home") as ctx:
        lab.shape("100mbit")  # ~2 s for the payload: time to kill a hop mid-stream
        try:
            killer = threading.Thread(target=kill_h3_helper_mid_stream, daemon=True)
            killer.start()
            sent = push_rootfs_many(ctx, {h.ip: rootfs for h in hosts})
            killer.join(60)
        finally:
            lab.unshape()
        assert killed, "the relay helper on h3 was never caught mid-stream"
        modes = _modes(ctx)
        errors = {ip: h.facts.get("relay_error") for ip, h in ctx.hosts.items()}
        assert [modes[h.ip] for h in hosts] == ["relay", "relay", "fallback", "fallback"], errors
        assert errors[hosts[3].ip].startswith("receive: the stream ended"), errors
        assert sent[hosts[2].ip] > 20 << 20 and sent[hosts[3].ip] > 20 << 20
        _assert_exact(ctx, rootfs)


def _when_staged(lab: Any, host: Any, kib: int, action: Callable[[], None], done: list[str]) -> None:
    """Run ``action`` once ``host`` has staged ``kib`` KiB of relay payload (polled inside the host)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not done:
        staged = lab.exec_on(host, f"du -sk {ROOT}/.sealkit-staging.relay-* 2>/dev/null", check=False)
        if staged.stdout.strip() and int(staged.stdout.split()[0]) > kib:
            action()
            done.append("yes")
        time.sleep(0.05)


def test_a_host_that_goes_dark_mid_stream_does_not_stall_the_phase(
    fresh_hosts: Callable[..., Any], tmp_path: Path
) -> None:
    """h3's cable is pulled mid-stream (packets lost, no RST): the others end correct, h3 is named in
    the error, and the phase ends in well under the minutes TCP would take to give up."""
    hosts = fresh_hosts(4)
    lab = hosts.lab
    rootfs = make_rootfs(tmp_path / "rootfs", FILES)
    done: list[str] = []
    with lab_context(lab, hosts, tmp_path / "home") as ctx:
        lab.shape("100mbit")
        try:
            cutter = threading.Thread(
                target=_when_staged, args=(lab, hosts[2], 1024, lambda: lab.cut(hosts[2]), done), daemon=True
            )
            cutter.start()
            start = time.monotonic()
            with pytest.raises(StepFailed) as err:
                push_rootfs_many(ctx, {h.ip: rootfs for h in hosts})
            took = time.monotonic() - start
            cutter.join(60)
        finally:
            lab.unshape()
        assert done, "h3 was never caught mid-stream"
        assert hosts[2].ip in err.value.message and err.value.step == "distribute"
        assert "import ctypes" not in str(err.value)  # no helper program in the message
        print(f"phase with one host dark: {took:.1f}s; {err.value.message}")
        assert took < 120, f"the phase took {took:.0f}s with one host dark"
        modes = _modes(ctx)
        assert [modes[h.ip] for h in (hosts[0], hosts[1])] == ["relay", "relay"]
        assert modes[hosts[3].ip] in ("relay", "fallback")
        lab.restore(hosts[2])
        ctx.hosts.pop(hosts[2].ip)  # its session is gone; the others must be exact
        _assert_exact(ctx, rootfs)


def _session_of(lab: Any, host: Any, pid: str) -> str | None:
    """The ``sshd: …`` session process above ``pid`` on ``host``."""
    while pid and pid != "1":
        line = lab.exec_on(host, ["ps", "-o", "ppid=,args=", "-p", pid], check=False).stdout.strip()
        if not line:
            return None
        ppid, _, _ = line.partition(" ")
        parent = lab.exec_on(host, ["ps", "-o", "args=", "-p", ppid.strip()], check=False).stdout.strip()
        if parent.startswith("sshd:"):
            return ppid.strip()
        pid = ppid.strip()
    return None


def test_the_relay_helper_dies_with_its_ssh_session(fresh_hosts: Callable[..., Any], tmp_path: Path) -> None:
    """issue 18 item 3: the sshd session serving h3's helper is killed mid-stream. The helper must go
    with it (no process writing into a staging dir the fallback is about to use) and h3 ends exact."""
    hosts = fresh_hosts(4)
    lab = hosts.lab
    rootfs = make_rootfs(tmp_path / "rootfs", FILES)
    done: list[str] = []
    victims: list[str] = []

    def kill_session() -> None:
        pid = _helper_pid(lab, hosts[2])
        session = _session_of(lab, hosts[2], pid) if pid else None
        if pid and session:
            victims.append(pid)
            lab.exec_on(hosts[2], ["kill", "-KILL", session], check=False)

    with lab_context(lab, hosts, tmp_path / "home") as ctx:
        lab.shape("100mbit")
        try:
            killer = threading.Thread(
                target=_when_staged, args=(lab, hosts[2], 1024, kill_session, done), daemon=True
            )
            killer.start()
            push_rootfs_many(ctx, {h.ip: rootfs for h in hosts})
            killer.join(60)
        finally:
            lab.unshape()
        assert victims, "the helper's session was never caught mid-stream"
        gone_at = time.monotonic() + 10
        while time.monotonic() < gone_at and _helper_pid(lab, hosts[2]) == victims[0]:
            time.sleep(0.1)
        assert _helper_pid(lab, hosts[2]) != victims[0], "the helper outlived its SSH session"
        assert _modes(ctx)[hosts[2].ip] == "fallback"
        _assert_exact(ctx, rootfs)

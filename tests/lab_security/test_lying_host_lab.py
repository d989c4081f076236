"""Issue 14, item 1 on a real lab host: a host whose ``uname -m`` or ``hostname`` lies is refused before
anything is sent to it — in particular not the controller directory its lie points at.

The lie is a wrapper earlier on the SSH session's PATH (``/usr/local/bin``) inside the host. The
architecture lie ``amd64/../../../.ssh`` would make ``$SEALKIT_HOME/rootfs/<digest>-<arch>`` resolve to
``$SEALKIT_HOME/../.ssh``: a directory planted there with a canary "private key" stands for the
controller's ``~/.ssh``; it must never reach the host.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sealkit import plugins
from tests.e2e.driver import Sealkit

pytestmark = pytest.mark.lab

CANARY = "CANARY-PRIVATE-KEY-do-not-ship"
LIES = {
    "arch": ("uname", "amd64/../../../.ssh"),
    "hostname": ("hostname", "node-1;touch${IFS}/tmp/pwned"),
}


def _build_image(home: Path) -> str:
    """A k3s test image at the oldest release the installed plugin supports (the range moves with it)."""
    version = plugins.build_manager("k3s").hook.sealkit_runtime_info().oldest_version
    tag = f"sec/k3s:{version}"
    argv = [sys.executable, "-m", "tests.e2e.images", "build", "--runtime", "k3s"]
    subprocess.run(
        [*argv, "--version", version, "--tag", tag],
        env={**os.environ, "SEALKIT_HOME": str(home)},
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        capture_output=True,
    )
    return tag


@pytest.mark.parametrize("fact", sorted(LIES))
def test_a_host_lying_about_a_fact_is_refused_and_sent_nothing(fact, fresh_lab, tmp_path):
    lab = fresh_lab(1)
    host = lab.hosts[0]
    command, lie = LIES[fact]
    wrapper = f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(lie)}\n"
    target = f"/usr/local/bin/{command}"
    lab.exec_on(host, f"printf '%s' {shlex.quote(wrapper)} > {target} && chmod 755 {target}")
    home = tmp_path / "home"
    home.mkdir()
    ssh_dir = tmp_path / ".ssh"  # where the arch lie points: $SEALKIT_HOME/rootfs/<d>-amd64/../../../.ssh
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "id_ed25519").write_text(CANARY + "\n")
    ref = _build_image(home)

    sk = Sealkit(home, f"liar-{fact}")
    res = sk("--runtime", "k3s", "run", ref, "--masters", host.ip, "-i", str(host.root_key), check=False)

    assert res.rc != 0, res.out
    assert host.ip in res.err and repr(lie) in res.err, res.err[-3000:]
    assert "refusing to use it" in res.err
    on_host = lab.exec_on(
        host,
        f"test ! -e /var/lib/sealkit/rootfs && test ! -e /tmp/pwned && "
        f"! grep -rqs {CANARY} /var/lib /tmp /root",
        check=False,
    )
    assert on_host.returncode == 0, "the lying host was sent something"
    assert [p.name for p in ssh_dir.iterdir()] == ["id_ed25519"]  # nothing unpacked where the lie points
    rootfs_cache = home / "rootfs"
    made = [p.name for p in rootfs_cache.iterdir()] if rootfs_cache.exists() else []
    assert not [name for name in made if "ssh" in name or ".." in name], made

"""Can this machine run the lab? One cheap probe, so tests can skip (or fail in CI) with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.lab.cgroups import Layout
from tests.lab.model import LabError

TOOLS = ("sh", "ip", "tc", "unshare", "nsenter", "openssl", "ssh")
APT_HINT = "apt-get install openssh-server openssh-client iproute2 util-linux openssl"


def check_environment() -> list[str]:
    """Reasons the lab cannot start here (empty list: it can)."""
    problems: list[str] = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (network namespaces, overlay mounts, cgroups)")
        return problems
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not Path("/usr/sbin/sshd").exists():
        missing.append("/usr/sbin/sshd")
    if missing:
        problems.append(f"missing tools {missing}: {APT_HINT}")
    try:
        Layout.detect()
    except LabError as exc:
        problems.append(str(exc))
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            problems.append("the kernel has no overlay filesystem")
    if shutil.which("unshare"):
        res = subprocess.run(
            ["unshare", "--net", "--mount", "--pid", "--uts", "--ipc", "--cgroup", "--fork", "true"],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            problems.append(f"cannot create namespaces here: {res.stderr.strip()}")
    return problems

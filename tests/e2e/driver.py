"""What the end-to-end tests drive and observe: the real `sealkit` CLI, real kubectl, host footprints.

The CLI runs as a subprocess exactly as a user runs it (own process, exit codes, stdout/stderr split);
only the runtime binaries inside the test cluster images are contract fakes (tests/fakes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lab.core import Lab
from tests.lab.model import LabHost

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Span:
    """A release to install and the next minor to upgrade it to (test image versions, no suffix)."""

    old: str
    new: str


def support_range(runtime: str) -> tuple[str, str]:
    """The runtime plugin's declared (oldest, newest) release, read from its RuntimeInfo."""
    from sealkit import plugins

    info = plugins.build_manager(runtime).hook.sealkit_runtime_info()
    if not (info.oldest_version and info.newest_version):
        raise AssertionError(f"the {runtime} plugin declares no support range in RuntimeInfo")
    return info.oldest_version, info.newest_version


def _release(version: str) -> tuple[int, int]:
    """(minor, patch) of ``v1.MINOR.PATCH[+suffix]``; a bound's patch 99 means "any patch" → 0."""
    m = re.match(r"^v1\.(\d+)\.(\d+)", version)
    if not m:
        raise AssertionError(f"not a Kubernetes version: {version!r}")
    minor, patch = int(m.group(1)), int(m.group(2))
    return minor, 0 if patch >= 99 else patch


def spans(runtime: str) -> dict[str, Span]:
    """``oldest``: install the oldest supported release, upgrade to the next minor; ``newest``: install
    the minor before the newest, upgrade to the newest. Both stay inside the declared range."""
    (lo_minor, lo_patch), (hi_minor, hi_patch) = (_release(v) for v in support_range(runtime))
    if hi_minor <= lo_minor:
        raise AssertionError(f"{runtime}: a one-minor upgrade needs a range of two minors at least")
    oldest = Span(f"v1.{lo_minor}.{lo_patch}", f"v1.{lo_minor + 1}.0")
    before = f"v1.{hi_minor - 1}.0" if hi_minor - 1 > lo_minor else oldest.old
    return {"oldest": oldest, "newest": Span(before, f"v1.{hi_minor}.{hi_patch}")}


#: state the host itself keeps (logs, systemd's own bookkeeping, the login session), not sealkit's
NOISE = (
    "var/log/",
    "var/lib/systemd/",
    "var/cache/",
    "var/tmp/",
    "tmp/",
    "run/",
    "root/.ssh/",
    "root/.cache/",
    "root/.bash_history",
    "etc/machine-id",
    "var/lib/dbus/",
    "var/lib/private/",
    "etc/.pwd.lock",
    # kubectl's discovery cache when a check ran it on the host
    "root/.kube/cache/",
)


@dataclass
class Result:
    rc: int
    out: Any
    err: str


class Sealkit:
    """``sealkit --cluster NAME …`` with its own $SEALKIT_HOME, always ``-o json``."""

    def __init__(self, home: Path, cluster: str) -> None:
        self.home = home
        self.cluster = cluster
        self.env = {**os.environ, "SEALKIT_HOME": str(home), "PYTHONUNBUFFERED": "1"}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sealkit", "--cluster", self.cluster, *args]

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> Result:
        proc = subprocess.run(
            self.argv("-o", "json", *args),
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        out: Any = proc.stdout
        if proc.stdout.strip():
            try:
                out = json.loads(proc.stdout)
            except json.JSONDecodeError:
                out = proc.stdout
        if check and proc.returncode != 0:
            raise AssertionError(
                f"sealkit {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
                f"--- stderr\n{proc.stderr[-6000:]}"
            )
        return Result(proc.returncode, out, proc.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv("-o", "json", *args),
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def journal(self, run_id: str) -> list[dict[str, Any]]:
        path = self.home / "clusters" / self.cluster / "journal.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in rows if r.get("run_id") == run_id]

    def kubeconfig(self, dest: Path) -> Path:
        proc = subprocess.run(
            self.argv("kubeconfig"), env=self.env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        dest.write_text(proc.stdout)
        dest.chmod(0o600)
        return dest


def build_images(home: Path, runtime: str, versions: tuple[str, ...] = ()) -> dict[str, str]:
    """The runtime's test cluster images at ``versions`` (default: every version of its :func:`spans`),
    with a busybox image to sync: ``{version: tag}``."""
    refs = {}
    wanted = versions or tuple({v for span in spans(runtime).values() for v in (span.old, span.new)})
    for version in sorted(wanted):
        tag = f"e2e/{runtime}:{version}"
        subprocess.run(
            [
                *(sys.executable, "-m", "tests.e2e.images", "build", "--runtime", runtime),
                *("--version", version, "--tag", tag, "--with-images"),
            ],
            env={**os.environ, "SEALKIT_HOME": str(home)},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        refs[version] = tag
    return refs


def kubectl_nodes(
    kubeconfig: Path, server: str | None = None, *, retry_for: float = 0
) -> dict[str, dict[str, Any]]:
    """``kubectl get nodes -o json`` (the real client) → {name: {"ready": bool, "version": str}}.

    ``retry_for``: keep asking that long while the API is unavailable (etcd electing a new leader
    after a master died is the case tests wait out; it is not a timing assertion).
    """
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (apt-get install kubernetes-client)"
    argv = [kubectl, "--kubeconfig", str(kubeconfig), "get", "nodes", "-o", "json"]
    if server:
        argv += ["--server", server]
    deadline = time.monotonic() + retry_for
    while True:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if proc.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert proc.returncode == 0, f"kubectl get nodes failed: {proc.stderr}"
    nodes = {}
    for item in json.loads(proc.stdout)["items"]:
        conds = {c["type"]: c["status"] for c in item["status"].get("conditions", [])}
        nodes[item["metadata"]["name"]] = {
            "ready": conds.get("Ready") == "True",
            "version": item["status"]["nodeInfo"]["kubeletVersion"],
        }
    return nodes


# ------------------------------------------------------------------------------------- footprints
@dataclass(frozen=True)
class Footprint:
    """What a host looks like from the outside: its changed files, processes and mounts."""

    files: dict[str, str]
    processes: frozenset[str]
    mounts: frozenset[str]


def _files(upper: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(upper):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = str(full.relative_to(upper)) + ("/" if name in dirnames else "")
            if rel.startswith(NOISE) or any(rel == n.rstrip("/") + "/" for n in NOISE):
                continue
            st = full.lstat()
            if full.is_symlink():
                out[rel] = "link:" + os.readlink(full)
            elif name in dirnames:
                out[rel] = "dir"
            elif st.st_mode & 0o170000 != 0o100000:
                out[rel] = f"special:{st.st_mode:o}"  # overlay whiteout: a file of the image was deleted
            else:
                out[rel] = hashlib.sha256(full.read_bytes()).hexdigest()
    return out


def _sig(full: Path) -> str | None:
    """The signature _files gives a path of the base system (the lab's lower dir is the real /)."""
    if full.is_symlink():
        return "link:" + os.readlink(full)
    if full.is_dir():
        return "dir"
    if full.is_file():
        return hashlib.sha256(full.read_bytes()).hexdigest()
    return None


def footprint(lab: Lab, host: LabHost) -> Footprint:
    procs = lab.exec_on(host, "ps -eo comm=").stdout.split()
    mounts = lab.exec_on(host, "awk '{print $5}' /proc/self/mountinfo").stdout.split()
    return Footprint(_files(lab.upper_dir(host)), frozenset(procs), frozenset(mounts))


#: processes that come and go on their own (the lab's sshd sessions, systemd helpers, our probes); logind
#: and dbus are activated on demand by the SSH logins themselves (pam_systemd), so the first snapshot may
#: race their start
PROCESS_NOISE = frozenset(
    {
        "ps",
        "sh",
        "awk",
        "sshd",
        "bash",
        "sleep",
        "(sd-pam)",
        "systemd",
        "sd-pam",
        "systemd-logind",
        "dbus-daemon",
    }
)


def leftovers(before: Footprint, after: Footprint) -> list[str]:
    """Everything present after that was not there before (or changed), named for the failure message."""
    out = []
    for path, sig in sorted(after.files.items()):
        if sig == "dir" and Path("/", path).is_dir():
            continue  # a directory of the base image, copied up by overlayfs when a child came and went
        if path not in before.files:
            base = _sig(Path("/", path.rstrip("/")))
            if sig.startswith("special:"):
                if base is not None:
                    out.append(f"file of the base system deleted: /{path}")
            elif sig != base:
                out.append(f"file left behind: /{path}")
        elif before.files[path] != sig and not sig.startswith("dir"):
            out.append(f"file changed and not restored: /{path}")
    for path in sorted(set(before.files) - set(after.files)):
        if not before.files[path].startswith("dir"):
            out.append(f"file removed that existed before: /{path}")
    for proc in sorted(after.processes - before.processes - PROCESS_NOISE):
        out.append(f"process still running: {proc}")
    for mnt in sorted(after.mounts - before.mounts):
        if mnt.startswith("/run/user/"):
            continue  # logind's runtime dir of an SSH session that is still closing

        out.append(f"mount left behind: {mnt}")
    return out


@dataclass(frozen=True)
class PodRuntime:
    """Where a runtime's pods live on a host: the containerd they run under and the dirs their mounts
    (rootfs, volumes) are under."""

    socket: str
    root: str
    dirs: tuple[str, ...]


POD_RUNTIMES = {
    "kubeadm": PodRuntime(
        "/run/containerd/containerd.sock",
        "/var/lib/containerd",
        ("/var/lib/kubelet", "/run/containerd/io.containerd.runtime.v2.task"),
    ),
    "binary": PodRuntime(
        "/run/containerd/containerd.sock",
        "/var/lib/containerd",
        ("/var/lib/kubelet", "/run/containerd/io.containerd.runtime.v2.task"),
    ),
    "k3s": PodRuntime(
        "/run/k3s/containerd/containerd.sock",
        "/var/lib/rancher/k3s/agent/containerd",
        ("/var/lib/kubelet", "/var/lib/rancher/k3s", "/run/k3s"),
    ),
    "k0s": PodRuntime("/run/k0s/containerd.sock", "/var/lib/k0s/containerd", ("/var/lib/k0s", "/run/k0s")),
}


def pod_leftovers(lab: Lab, host: LabHost, runtime: str) -> list[str]:
    """Containers, snapshots and mounts of pods still on `host` (inside its namespaces), named: the
    runtime's containerd is asked when it answers; its snapshot dirs and the mount table always."""
    rt = POD_RUNTIMES[runtime]
    out = []
    ctr = f"ctr --address {shlex.quote(rt.socket)} -n k8s.io"
    listed = lab.exec_on(host, f"{ctr} containers ls -q", check=False)
    if listed.returncode == 0:
        out += [f"container left: {c}" for c in listed.stdout.split()]
    snaps = lab.exec_on(
        host,
        f"ls -d {shlex.quote(rt.root)}/io.containerd.snapshotter.v1.*/snapshots/* 2>/dev/null",
        check=False,
    )
    out += [f"snapshot left: {s}" for s in snaps.stdout.split()]
    mounts = lab.exec_on(host, "awk '{print $5}' /proc/self/mountinfo").stdout.split()
    out += [f"mount left: {m}" for m in mounts if any(m == d or m.startswith(d + "/") for d in rt.dirs)]
    return out

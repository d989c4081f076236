"""Per-host cgroups: how tear-down finds every process, and what a host sees in /sys/fs/cgroup.

A host's cgroup layout mirrors the machine's: pure cgroup v2, or "hybrid" (v1 controllers + v2 at
``/sys/fs/cgroup/unified``, as on this kind of machine, where the controllers kubelet and runc
need — cpu, memory, pids — live only in v1). In every hierarchy the host gets its own cgroup, which
becomes the root of its cgroup namespace, so runc/containerd/systemd inside see a tree of their own.

v2 (always; it tracks every process): ``<v2 root>/sklab-<lab>/<host>/{sv,ns,exec}`` — ``sv`` holds
the supervising ``unshare``, ``ns`` is the host (PID 1 and descendants), ``exec`` holds
``lab.exec_on`` commands. Killing ``sklab-<lab>/<host>`` stops the host.
v1 (hybrid only): ``<own cgroup of this process>/sklab-<lab>/<host>`` in each hierarchy — under our
own cgroup so that the lab stays inside whatever accounting the machine puts us in.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab.model import PREFIX, LabError, cgroup_name


@dataclass(frozen=True)
class Hierarchy:
    mount: Path  # where the machine mounts it
    dirname: str  # its directory under /sys/fs/cgroup inside a hybrid host ("memory", "unified")
    options: str  # v1 mount options ("memory", "name=systemd"); "" for v2
    base: Path  # where lab cgroups are created
    v2: bool


@dataclass(frozen=True)
class Layout:
    v2: Hierarchy
    v1: tuple[Hierarchy, ...]
    links: tuple[tuple[str, str], ...]  # symlinks in the machine's /sys/fs/cgroup (cpu -> cpu,cpuacct)

    @property
    def hybrid(self) -> bool:
        return bool(self.v1)

    @classmethod
    def detect(cls, bases: dict[str, str] | None = None) -> Layout:
        """The machine's layout; ``bases`` (mount -> base, from :meth:`bases`) pins where a lab
        made by another process put its v1 cgroups (that process's own cgroups)."""
        own = _own_cgroups()
        pinned = bases or {}
        v2: Hierarchy | None = None
        v1: list[Hierarchy] = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fstype, _src, sopts = [*right.split(), "", "", ""][:3]
                mp = Path(left.split(" ")[4])
                if fstype == "cgroup2" and v2 is None:
                    v2 = Hierarchy(mp, mp.name, "", mp, True)
                elif fstype == "cgroup":
                    opts = [
                        o
                        for o in sopts.split(",")
                        if o not in ("rw", "ro") and not o.startswith("release_agent=")
                    ]
                    rel = next((p for ctrls, p in own if ctrls <= set(opts)), "/").lstrip("/")
                    base = Path(pinned.get(str(mp), mp / rel if rel else mp))
                    v1.append(Hierarchy(mp, mp.name, ",".join(opts), base, False))
        if v2 is None:
            raise LabError("no cgroup2 hierarchy is mounted: the lab needs cgroup v2 (or hybrid mode)")
        links: list[tuple[str, str]] = []
        if v1:
            parent = v1[0].mount.parent
            for entry in sorted(os.listdir(parent)):
                if os.path.islink(parent / entry):
                    links.append((entry, os.readlink(parent / entry)))
        return cls(v2, tuple(v1), tuple(links))

    def bases(self) -> dict[str, str]:
        return {str(h.mount): str(h.base) for h in self.v1}

    # the host's cgroups ------------------------------------------------------------
    def host_v2(self, lab: str, host: str) -> Path:
        return self.v2.base / cgroup_name(lab) / host

    def host_v1(self, lab: str, host: str) -> list[Path]:
        return [h.base / cgroup_name(lab) / host for h in self.v1]

    def make_host(self, lab: str, host: str) -> None:
        """Fresh cgroups for one boot of the host (systemd's sub-cgroups of a previous boot go)."""
        self.remove_host(lab, host)
        top = self.host_v2(lab, host)
        _mkdir_chain(self.v2.base, top)
        _enable_controllers(self.v2.base, top)
        for sub in ("sv", "ns", "exec"):
            (top / sub).mkdir()
        for h, path in zip(self.v1, self.host_v1(lab, host), strict=True):
            _mkdir_chain(h.base, path)

    def remove_host(self, lab: str, host: str) -> None:
        stop([self.host_v2(lab, host)])
        remove(self.host_v2(lab, host))
        for path in self.host_v1(lab, host):
            remove(path)

    def mounts(self) -> list[dict[str, str]]:
        """What hostinit mounts under the host's /sys/fs/cgroup (empty dirname: at it directly)."""
        if not self.hybrid:
            return [{"dir": "", "type": "cgroup2", "options": ""}]
        out = [{"dir": h.dirname, "type": "cgroup", "options": h.options} for h in self.v1]
        return [*out, {"dir": self.v2.dirname, "type": "cgroup2", "options": ""}]

    # whole labs ---------------------------------------------------------------------
    def lab_dirs(self, lab: str | None = None) -> list[Path]:
        """``sklab-<lab>`` cgroups in every hierarchy (any lab when ``lab`` is None), wherever
        another process created them (its own cgroup may differ from ours)."""
        want = cgroup_name(lab) if lab else None
        found: list[Path] = []
        for h in (self.v2, *self.v1):
            for dirpath, dirs, _files in os.walk(h.mount):
                depth = len(Path(dirpath).relative_to(h.mount).parts)
                keep = []
                for d in dirs:
                    if d.startswith(f"{PREFIX}-") and (want is None or d == want):
                        found.append(Path(dirpath) / d)
                    elif depth < 4:
                        keep.append(d)
                dirs[:] = keep
        return found

    def teardown(self, lab: str | None = None) -> list[Path]:
        """Kill every process of the lab(s), then remove their cgroups in every hierarchy."""
        dirs = self.lab_dirs(lab)
        stop([d / h for d in dirs if d.is_relative_to(self.v2.mount) for h in _subdirs(d)])
        for d in dirs:
            kill(d)  # v1: everything is dead already; catches processes outside the v2 tree
            remove(d)
        return dirs


def _own_cgroups() -> list[tuple[frozenset[str], str]]:
    """(controllers of a v1 hierarchy, e.g. {"cpu"} or {"name=systemd"}) -> our cgroup there."""
    out = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            _id, ctrl, path = line.rstrip("\n").split(":", 2)
            if ctrl:
                out.append((frozenset(ctrl.split(",")), path))
    return out


def _mkdir_chain(base: Path, path: Path) -> None:
    """mkdir -p inside a hierarchy; v1 cpuset cgroups start empty and must inherit cpus/mems."""
    cur = base
    for part in path.relative_to(base).parts:
        parent, cur = cur, cur / part
        if cur.is_dir():
            continue
        cur.mkdir()
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if (cur / knob).exists() and not (cur / knob).read_text().strip():
                (cur / knob).write_text((parent / knob).read_text())


def _enable_controllers(base: Path, path: Path) -> None:
    """v2: pass every controller the base offers down to the host's own tree (pure v2 machines)."""
    cur = base
    for part in path.relative_to(base).parts:
        cur = cur / part
        wanted = (cur / "cgroup.controllers").read_text().split()
        if wanted:
            try:
                (cur / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in wanted))
            except OSError as exc:
                raise LabError(f"enabling cgroup controllers {wanted} in {cur}: {exc}") from exc


def _subdirs(path: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir())
    except FileNotFoundError:
        return []


def stop(hosts: list[Path], timeout: float = 20.0) -> None:
    """Stop hosts (v2 ``<host>`` cgroups) the way a supervisor expects: kill each host's ``ns``
    first, so its ``unshare`` reaps PID 1 and exits by itself (no zombie left for the machine's
    init), then anything left (the supervisor, exec_on commands) — all hosts at once."""
    for h in hosts:
        _kill_now(h / "ns")
    _wait_empty([h / "ns" for h in hosts], timeout)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(populated(h / "sv") for h in hosts):
        time.sleep(0.005)
    for h in hosts:
        _kill_now(h)
    _wait_empty(hosts, timeout)


def _kill_now(path: Path) -> None:
    kill_file = path / "cgroup.kill"
    if kill_file.exists():
        try:
            kill_file.write_text("1")
            return
        except FileNotFoundError:
            return  # the cgroup went away meanwhile
    for pid in procs(path):  # v1, or a kernel before 5.14: signal each process
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def _wait_empty(paths: list[Path], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    busy = [p for p in paths if populated(p)]
    while busy:
        if time.monotonic() > deadline:
            raise LabError(
                f"cgroups {[str(p) for p in busy]} still have processes {timeout:.0f}s after "
                "SIGKILL (stuck in D state?); retry `python -m tests.lab down --all` later"
            )
        time.sleep(0.005)
        for p in busy:
            _kill_now(p)  # processes forked while we were killing
        busy = [p for p in busy if populated(p)]


def procs(path: Path) -> list[int]:
    """Every PID in the cgroup subtree (zombies are not listed: they hold nothing)."""
    out: list[int] = []
    for dirpath, _dirs, _files in os.walk(path):
        try:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                out += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            continue
        except OSError as err:
            # ENODEV: the kernel answers so for a cgroup that is being removed (a dead cgroup still shows
            # in the tree for a moment); it holds no process, and a poll that asks again sees it gone
            if err.errno != errno.ENODEV:
                raise
    return out


def populated(path: Path) -> bool:
    try:
        with open(path / "cgroup.events") as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "populated":
                    return value.strip() == "1"
    except FileNotFoundError:
        pass  # v1, or gone
    except OSError as err:
        if err.errno != errno.ENODEV:  # being removed: see procs()
            raise
        return False
    return bool(procs(path)) if path.is_dir() else False


def kill(path: Path, timeout: float = 20.0) -> None:
    """SIGKILL every process in the subtree and wait until it is empty."""
    if path.is_dir():
        _kill_now(path)
        _wait_empty([path], timeout)


def remove(path: Path) -> None:
    """rmdir the subtree bottom-up (systemd and runc inside a host create their own cgroups)."""
    if not path.is_dir():
        return
    for dirpath, _dirs, _files in os.walk(path, topdown=False):
        for attempt in range(200):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as exc:  # EBUSY for a moment after the last process exited
                if attempt == 199:
                    raise LabError(f"cannot remove cgroup {dirpath}: {exc}") from exc
                time.sleep(0.01)

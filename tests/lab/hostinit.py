"""Stage 2 of a lab host's boot: runs as PID 1 of the host's fresh PID namespace.

Started by the controller as
``sh -c 'echo $$ > SV/cgroup.procs; exec "$@"' … unshare --mount --pid --uts --ipc --fork --kill-child
python -I -S hostinit.py CONFIG.json``. It joins the host's network namespace and cgroup, builds the
root filesystem (overlay over the real ``/``, fresh /proc, /sys, /dev, /tmp, /run), pivots into it and
execs the host's PID 1 (``sshd -D -e`` or systemd).

It is a standalone script on purpose: stdlib only, no import of the ``tests`` package, so that a
host costs one short-lived Python start and nothing else (the lab measured ~15 ms).
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import socket
import stat
import sys
from typing import Any

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWNET = 0x40000000
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    """Turn a libc -1 into an OSError naming the operation (the console log shows it)."""
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, dst: str, fstype: str | None, flags: int = 0, data: str = "") -> None:
    _check(
        _libc.mount(
            None if src is None else src.encode(),
            dst.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {fstype or 'bind'} {src} on {dst} ({data})",
    )


def _mkdev(path: str, major: int, minor: int, mode: int = 0o666) -> None:
    os.mknod(path, stat.S_IFCHR | mode, os.makedev(major, minor))
    os.chmod(path, mode)  # mknod honours the umask


def _setup_dev(root: str) -> None:
    dev = f"{root}/dev"
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name, major, minor in (
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ):
        _mkdev(f"{dev}/{name}", major, minor)
    os.mkdir(f"{dev}/pts", 0o755)
    mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620,gid=5")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    os.mkdir(f"{dev}/shm")
    mount("shm", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.mkdir(f"{dev}/mqueue")
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{dev}/{name}")


def _setup_proc_sys(root: str, cfg: dict[str, Any]) -> None:
    proc = f"{root}/proc"
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # Kernel-wide sysctls (kernel.*, vm.*, fs.*) would change the whole machine: read-only. The
    # host's own network namespace's sysctls (net.*) stay writable, as on a real host.
    mount(f"{proc}/sys", f"{proc}/sys", None, MS_BIND)
    mount(None, f"{proc}/sys", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    mount(f"{proc}/sys/net", f"{proc}/sys/net", None, MS_BIND)
    mount(None, f"{proc}/sys/net", None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)
    mount("sysfs", f"{root}/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _setup_cgroups(f"{root}/sys/fs/cgroup", cfg)


def _setup_cgroups(cg: str, cfg: dict[str, Any]) -> None:
    """The machine's layout, rooted at the host's own cgroups (cgroup namespace)."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    mounts = cfg["cgroup_mounts"]
    if len(mounts) == 1 and not mounts[0]["dir"]:
        mount("cgroup2", cg, "cgroup2", flags)
        return
    mount("tmpfs", cg, "tmpfs", flags, "mode=755")
    for m in mounts:
        os.mkdir(f"{cg}/{m['dir']}")
        mount("cgroup", f"{cg}/{m['dir']}", m["type"], flags, m["options"])
    for name, target in cfg["cgroup_links"]:
        os.symlink(target, f"{cg}/{name}")


def boot(cfg: dict[str, Any]) -> None:
    """Everything between "fresh namespaces" and exec of the host's PID 1."""
    fd = os.open(cfg["netns"], os.O_RDONLY)
    _check(_libc.setns(fd, CLONE_NEWNET), f"setns {cfg['netns']}")
    os.close(fd)
    # Join the host's cgroup, then make it the root of a new cgroup namespace: systemd inside sees
    # a whole hierarchy of its own, and the lab finds (and kills) every process of the host there.
    for procs in cfg["cgroup_procs"]:
        with open(procs, "w") as f:
            f.write("0")
    _check(_libc.unshare(CLONE_NEWCGROUP), "unshare cgroup")
    if cfg["init_scope_procs"]:
        with open(cfg["init_scope_procs"], "w") as f:
            f.write("0")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    socket.sethostname(cfg["hostname"])

    root = cfg["root"]
    mount(
        "overlay",
        root,
        "overlay",
        0,
        f"lowerdir=/,upperdir={cfg['upper']},workdir={cfg['work']},index=off",
    )
    for src, dst in cfg["binds"]:
        mount(src, f"{root}{dst}", None, MS_BIND)
    _setup_proc_sys(root, cfg)
    _setup_dev(root)
    mount("tmpfs", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    mount("tmpfs", f"{root}/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    for path, mode in (("run/sshd", 0o755), ("run/lock", 0o1777)):
        os.mkdir(f"{root}/{path}")
        os.chmod(f"{root}/{path}", mode)

    os.chdir(root)
    nr = SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise OSError(f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(_libc.syscall(nr, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    os.umask(0o022)
    argv: list[str] = cfg["argv"]
    os.execve(argv[0], argv, cfg["env"])


def main() -> int:
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    try:
        boot(cfg)
    except OSError as exc:
        print(f"sealkit-lab hostinit ({cfg.get('hostname')}): {exc}", file=sys.stderr, flush=True)
        return 1
    return 1  # not reached: execve replaced us


if __name__ == "__main__":
    sys.exit(main())

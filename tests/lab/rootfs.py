"""A host's disk: the overlay upper dir, written before the host first boots.

The real ``/`` is the lower layer, so only what makes a host *this* host goes into its upper dir:
hostname, hosts, machine-id, its own ssh host key (the machine's keys hidden by whiteouts), root's
authorized_keys, the sudo user, sshd's config and, for systemd hosts, which units start.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.lab.model import LabError

SSHD_CONFIG = """\
# sealkit lab host (tests/lab/rootfs.py). Lives in this host's overlay only: the machine's own
# sshd_config and host keys are never touched.
Include /etc/ssh/sshd_config.d/*.conf
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
# one controller opens many connections at once (fleet operations, 50 hosts behind one jump host)
MaxStartups 100:30:200
"""

# Units a container has no business starting (LAB.md): consoles, udev, time sync, periodic jobs.
MASKED_UNITS = (
    "getty@.service",
    "serial-getty@.service",
    "console-getty.service",
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-timesyncd.service",
    "systemd-pstore.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "man-db.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "logrotate.timer",
    "systemd-tmpfiles-clean.timer",
)
# Only ssh starts at boot: the machine has haproxy, etcd, registry, containerd … enabled, and a host
# must start clean (tests enable what they need).
WANTS_DIRS = (
    "multi-user.target.wants",
    "sysinit.target.wants",
    "timers.target.wants",
    "getty.target.wants",
    "sockets.target.wants",
)


def new_keypair(comment: str) -> tuple[bytes, str]:
    """A fresh ed25519 key: (OpenSSH private key PEM, public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


def write_keypair(path: Path, comment: str) -> str:
    """Write ``path`` (0600) and ``path.pub``; return the public key line."""
    private, public = new_keypair(comment)
    write(path, private, 0o600)
    write(path.with_name(path.name + ".pub"), (public + "\n").encode(), 0o644)
    return public


def write(path: Path, data: bytes | str, mode: int, uid: int = 0, gid: int = 0) -> None:
    """Create ``path`` with exactly ``mode`` (no window where a secret is world-readable)."""
    if isinstance(data, str):
        data = data.encode()
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def hash_password(password: str) -> str:
    """SHA-512 crypt hash for /etc/shadow; the password goes through stdin, never argv."""
    res = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0 or not res.stdout.startswith("$6$"):
        raise LabError(f"hashing the sudo user's password failed: openssl says {res.stderr.strip()}")
    return res.stdout.strip()


@dataclass(frozen=True)
class Accounts:
    """/etc/passwd, shadow, group, gshadow of every host: the machine's plus the sudo user."""

    user: str
    uid: int
    gid: int
    home: str
    files: dict[str, str]  # "/etc/passwd" -> content

    @classmethod
    def build(cls, user: str, password_hash: str, lower: Path = Path("/")) -> Accounts:
        passwd = (lower / "etc/passwd").read_text()
        group = (lower / "etc/group").read_text()
        shadow = (lower / "etc/shadow").read_text()
        gshadow_path = lower / "etc/gshadow"
        gshadow = gshadow_path.read_text() if gshadow_path.exists() else ""

        def drop(text: str) -> list[str]:
            return [ln for ln in text.splitlines() if ln and ln.split(":", 1)[0] != user]

        p_lines, g_lines = drop(passwd), drop(group)
        used_uids = {int(ln.split(":")[2]) for ln in p_lines if ln.count(":") >= 3}
        used_gids = {int(ln.split(":")[2]) for ln in g_lines if ln.count(":") >= 3}
        uid = next(i for i in range(1000, 60000) if i not in used_uids and i not in used_gids)
        home = f"/home/{user}"
        files = {
            "/etc/passwd": "\n".join(
                [*p_lines, f"{user}:x:{uid}:{uid}:sealkit lab sudo user:{home}:/bin/bash"]
            )
            + "\n",
            "/etc/group": "\n".join([*g_lines, f"{user}:x:{uid}:"]) + "\n",
            "/etc/shadow": "\n".join([*drop(shadow), f"{user}:{password_hash}:19700:0:99999:7:::"]) + "\n",
            "/etc/gshadow": "\n".join([*drop(gshadow), f"{user}:!::"]) + "\n",
        }
        return cls(user=user, uid=uid, gid=uid, home=home, files=files)


@dataclass(frozen=True)
class HostDisk:
    """What one host's upper dir gets."""

    hostname: str
    etc_hosts: str
    host_key: bytes  # private, OpenSSH PEM
    host_key_pub: str
    root_pub: str
    user_pub: str
    accounts: Accounts
    systemd: bool
    mountpoints: tuple[str, ...]  # absolute paths that must exist (bind mount targets)
    hide: tuple[str, ...] = ()  # machine paths the host must not see (the lab dirs: other hosts' disks)


def _mkdirs(upper: Path, rel: str, lower: Path) -> Path:
    """Create ``upper/rel`` copying each missing component's mode and owner from the lower layer:
    an overlay dir takes its attributes from the upper dir, so /root must stay 0700."""
    path = upper
    low = lower
    for part in Path(rel.strip("/")).parts:
        path, low = path / part, low / part
        if path.is_dir():
            continue
        try:
            st = low.lstat()
            mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
            if not stat.S_ISDIR(st.st_mode):
                mode, uid, gid = 0o755, 0, 0
        except FileNotFoundError:
            mode, uid, gid = 0o755, 0, 0
        path.mkdir()
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    return path


def _put(upper: Path, rel: str, data: str | bytes, lower: Path, mode: int | None = None) -> None:
    """Write a file into the upper dir; mode and owner from the lower file unless ``mode``."""
    target = _mkdirs(upper, str(Path(rel).parent), lower) / Path(rel).name
    low = lower / rel.strip("/")
    uid = gid = 0
    if mode is None:
        try:
            st = low.stat()
            mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        except FileNotFoundError:
            mode = 0o644
    write(target, data, mode, uid, gid)


def _whiteout(upper: Path, rel: str, lower: Path) -> None:
    """Hide a lower file: an overlay whiteout is a 0/0 character device in the upper dir."""
    target = _mkdirs(upper, str(Path(rel).parent), lower) / Path(rel).name
    target.unlink(missing_ok=True)
    os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def _opaque(upper: Path, rel: str, lower: Path, mode: int | None = None) -> Path:
    """A dir whose lower contents are hidden (e.g. the machine's /root/.ssh)."""
    path = _mkdirs(upper, rel, lower)
    os.setxattr(path, "trusted.overlay.opaque", b"y")
    if mode is not None:
        os.chmod(path, mode)
    return path


def prepare_upper(upper: Path, disk: HostDisk, lower: Path = Path("/")) -> None:
    """Write one host's identity into its (empty or existing) upper dir."""
    upper.mkdir(parents=True, exist_ok=True)
    _put(upper, "/etc/hostname", disk.hostname + "\n", lower, 0o644)
    _put(upper, "/etc/hosts", disk.etc_hosts, lower, 0o644)
    _put(upper, "/etc/machine-id", uuid.uuid4().hex + "\n", lower, 0o444)
    _put(
        upper,
        "/etc/resolv.conf",
        "# sealkit lab host: offline, no DNS server\noptions timeout:1 attempts:1\n",
        lower,
        0o644,
    )
    _put(upper, "/etc/fstab", "# sealkit lab host: nothing to mount\n", lower, 0o644)
    for rel, content in disk.accounts.files.items():
        _put(upper, rel, content, lower)

    # ssh: only this host's key; the machine's keys and sshd drop-ins are hidden
    for low in sorted((lower / "etc/ssh").glob("ssh_host_*")):
        if not low.name.startswith("ssh_host_ed25519_key"):
            _whiteout(upper, f"/etc/ssh/{low.name}", lower)
    _put(upper, "/etc/ssh/ssh_host_ed25519_key", disk.host_key, lower, 0o600)
    _put(upper, "/etc/ssh/ssh_host_ed25519_key.pub", disk.host_key_pub + "\n", lower, 0o644)
    _put(upper, "/etc/ssh/sshd_config", SSHD_CONFIG, lower, 0o644)
    _opaque(upper, "/etc/ssh/sshd_config.d", lower)
    # root's shell startup as on a fresh Debian host: the machine's own ~/.bashrc (pyenv init here) runs
    # for every SSH command (Debian's bash sources it under sshd) and its rehash lock, shared by all
    # hosts' sessions, stalls commands for up to 60 s
    for rc in (".bashrc", ".profile"):
        skel = lower / "etc/skel" / rc
        _put(upper, f"/root/{rc}", skel.read_text() if skel.is_file() else "", lower, 0o644)
    ssh_dir = _opaque(upper, "/root/.ssh", lower, 0o700)
    write(ssh_dir / "authorized_keys", disk.root_pub + "\n", 0o600)

    # the sudo user: key and password login, sudo needs the password
    acc = disk.accounts
    _put(upper, f"/etc/sudoers.d/sealkit-lab-{acc.user}", f"{acc.user} ALL=(ALL:ALL) ALL\n", lower, 0o440)
    home = _mkdirs(upper, acc.home, lower)
    os.chmod(home, 0o750)
    skel = lower / "etc/skel"
    if skel.is_dir():
        for item in skel.iterdir():
            if item.is_file():
                shutil.copyfile(item, home / item.name)
                os.chown(home / item.name, acc.uid, acc.gid)
    (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
    write(home / ".ssh/authorized_keys", disk.user_pub + "\n", 0o600, acc.uid, acc.gid)
    for p in (home, home / ".ssh"):
        os.chown(p, acc.uid, acc.gid)

    for mp in disk.mountpoints:
        _mkdirs(upper, mp, lower)
    for path in disk.hide:
        if (lower / path.strip("/")).exists():
            _whiteout(upper, path, lower)
    if disk.systemd:
        _systemd_units(upper, lower)


def _systemd_units(upper: Path, lower: Path) -> None:
    """Boot only ssh; mask what a container cannot or should not run."""
    base = "/etc/systemd/system"
    for wants in WANTS_DIRS:
        _opaque(upper, f"{base}/{wants}", lower)
    os.symlink("/lib/systemd/system/ssh.service", upper / base.lstrip("/") / WANTS_DIRS[0] / "ssh.service")
    for unit in MASKED_UNITS:
        link = upper / base.lstrip("/") / unit
        link.unlink(missing_ok=True)
        os.symlink("/dev/null", link)


def etc_hosts(entries: Iterable[tuple[str, str]]) -> str:
    """/etc/hosts of every lab host: loopback plus every lab host's name (hosts resolve each other)."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    lines += [f"{ip}\t{name}" for ip, name in entries]
    return "\n".join(lines) + "\n"

"""Names, paths and the host record shared by every part of the lab.

Every kernel object the lab creates carries the prefix ``sklab`` so that ``down --all`` can find the
leftovers of a crashed run: network namespaces ``sklab-<lab>.<host>``, cgroups ``sklab-<lab>/``, the
controller's veth ``sklab<k>`` and routes with protocol number ``LAB_ROUTE_PROTO``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "sklab"
DEFAULT_ROOT = Path("/tmp/sealkit-lab")
REGISTRY = Path("/run/sealkit-lab")  # machine-wide: name -> lab dir (symlinks), for `down --all`
MARKER = ".sealkit-lab"  # a lab dir holds this file; nothing else is ever removed by `down`
LAB_ROUTE_PROTO = 213  # `ip route … proto 213` marks the lab's routes in the root namespace
SUBNET_BASE = "10.213"
CONTROLLER_OCTET = 1
DEADEND_OCTET = 254  # the lab namespace's address on each bridge; forwarding is off there
JUMP_OCTET = 10
FIRST_HOST_OCTET = 11
MAX_HOSTS = 200
MAX_LABS = 127  # lab k uses 10.213.(2k).0/24 and 10.213.(2k+1).0/24
USER = "sealer"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class LabError(Exception):
    """The lab could not do what was asked; the message names the lab, the host and the fix."""


def lab_root() -> Path:
    """Where lab dirs live: ``$SEALKIT_LAB_DIR`` or /tmp/sealkit-lab."""
    return Path(os.environ.get("SEALKIT_LAB_DIR") or DEFAULT_ROOT)


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise LabError(
            f"invalid lab name {name!r}: use 1-40 characters a-z, 0-9 and '-', starting with a "
            "letter or digit"
        )
    return name


def netns_name(lab: str, host: str) -> str:
    """Network namespace of one host (``host='net'`` is the lab's own bridge namespace)."""
    return f"{PREFIX}-{lab}.{host}"


def lab_netns(lab: str) -> str:
    return netns_name(lab, "net")


def cgroup_name(lab: str) -> str:
    return f"{PREFIX}-{lab}"


def root_veth(k: int) -> str:
    return f"{PREFIX}{k}"


def outer_prefix(k: int) -> str:
    return f"{SUBNET_BASE}.{2 * k}"


def inner_prefix(k: int) -> str:
    return f"{SUBNET_BASE}.{2 * k + 1}"


@dataclass(frozen=True)
class LabHost:
    """One lab host as tests see it. ``ip`` is the address to connect to (through the jump host
    when ``hidden``); keys are paths of 0600 private key files on the controller."""

    name: str  # "h1" … "hN", "jump", "hidden1" …
    hostname: str  # "lab-h1": /etc/hostname inside the host
    ip: str
    port: int
    role: str  # hint only: "master" | "node" | "jump"
    root_key: Path
    user: str  # the non-root sudo user ("sealer")
    user_key: Path
    user_password: str = field(repr=False)
    hidden: bool  # only reachable through the jump host
    jump: bool
    ips: tuple[str, ...]  # every address of the host (the jump host has two)
    host_key: str  # the host's public ed25519 host key, "ssh-ed25519 AAAA…"
    systemd: bool  # PID 1 is systemd (else sshd)
    lab: str  # name of the lab the host belongs to
    lab_dir: Path

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def ssh_config(self) -> Path:
        return self.lab_dir / "ssh_config"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "hostname": self.hostname,
            "ip": self.ip,
            "port": self.port,
            "role": self.role,
            "root_key": str(self.root_key),
            "user": self.user,
            "user_key": str(self.user_key),
            "user_password": self.user_password,
            "hidden": self.hidden,
            "jump": self.jump,
            "ips": list(self.ips),
            "host_key": self.host_key,
            "systemd": self.systemd,
            "lab": self.lab,
            "lab_dir": str(self.lab_dir),
        }

    @classmethod
    def from_json(cls, d: dict[str, object]) -> LabHost:
        ips = d["ips"]
        assert isinstance(ips, list)
        return cls(
            name=str(d["name"]),
            hostname=str(d["hostname"]),
            ip=str(d["ip"]),
            port=int(str(d["port"])),
            role=str(d["role"]),
            root_key=Path(str(d["root_key"])),
            user=str(d["user"]),
            user_key=Path(str(d["user_key"])),
            user_password=str(d["user_password"]),
            hidden=bool(d["hidden"]),
            jump=bool(d["jump"]),
            ips=tuple(str(i) for i in ips),
            host_key=str(d["host_key"]),
            systemd=bool(d["systemd"]),
            lab=str(d["lab"]),
            lab_dir=Path(str(d["lab_dir"])),
        )

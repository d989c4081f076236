"""What is applied on the hosts (as opposed to what the Clusterfile desires): the basis of every plan.

Saved atomically after each host-level milestone, so a controller killed mid-run loses at most the step it
was in, and the next run resumes from the last recorded milestone instead of starting over.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sealkit.state import atomic_write

FILENAME = "applied.json"


@dataclass
class AppliedHost:
    roles: list[str]
    hostname: str = ""
    joined: bool = False
    version: str = ""


@dataclass
class Applied:
    """Applied state of one cluster."""

    runtime: str = ""
    image: str = ""
    version: str = ""
    initialized: bool = False
    hosts: dict[str, AppliedHost] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> Applied:
        path = state_dir / FILENAME
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        hosts = {ip: AppliedHost(**h) for ip, h in raw.pop("hosts", {}).items()}
        return cls(hosts=hosts, **raw)

    def save(self, state_dir: Path) -> None:
        atomic_write(state_dir / FILENAME, json.dumps(asdict(self), indent=2, sort_keys=True), 0o600)

    def joined(self, ip: str) -> bool:
        h = self.hosts.get(ip)
        return bool(h and h.joined)

    def joined_masters(self) -> list[str]:
        return [ip for ip, h in self.hosts.items() if h.joined and "master" in h.roles]

    def joined_nodes(self) -> list[str]:
        return [ip for ip, h in self.hosts.items() if h.joined and "master" not in h.roles]

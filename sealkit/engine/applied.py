"""What is applied on the hosts (as opposed to what the Clusterfile desires): the basis of every plan.

Saved atomically after each host-level milestone, so a controller killed mid-run loses at most the step it
was in, and the next run resumes from the last recorded milestone instead of starting over.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sealkit.errors import UsageError
from sealkit.state import atomic_write

FILENAME = "applied.json"


@dataclass
class AppliedHost:
    roles: list[str]
    hostname: str = ""
    joined: bool = False
    version: str = ""
    #: path → sha256 of every file sealkit rendered on the host, recorded when it joined (and after a
    #: repair): a re-run compares the host's files with what sealkit wrote, not with a fresh rendering
    files: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.files.items()
        ):
            raise TypeError("'files' of a host is not a mapping of path to digest")


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
        """The saved state; a damaged file is a UsageError naming it (never an internal error)."""
        path = state_dir / FILENAME
        try:
            text = path.read_text()
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            raise _damaged(path, f"cannot be read: {exc}") from exc
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise TypeError(f"top level is {type(raw).__name__}, not an object")
            hosts_raw = raw.pop("hosts", {})
            if not isinstance(hosts_raw, dict):
                raise TypeError("'hosts' is not an object")
            hosts = {str(ip): AppliedHost(**h) for ip, h in hosts_raw.items()}
            applied = cls(hosts=hosts, **raw)
        except (ValueError, TypeError) as exc:
            raise _damaged(path, f"is not valid sealkit state: {exc}") from exc
        return applied

    def save(self, state_dir: Path) -> None:
        atomic_write(state_dir / FILENAME, json.dumps(asdict(self), indent=2, sort_keys=True), 0o600)

    def joined(self, ip: str) -> bool:
        h = self.hosts.get(ip)
        return bool(h and h.joined)

    def joined_masters(self) -> list[str]:
        return [ip for ip, h in self.hosts.items() if h.joined and "master" in h.roles]

    def joined_nodes(self) -> list[str]:
        return [ip for ip, h in self.hosts.items() if h.joined and "master" not in h.roles]


def _damaged(path: Path, why: str) -> UsageError:
    return UsageError(
        f"the applied-state file {path} {why}",
        hint=f"restore {path} from a backup: it records which hosts are installed and joined, and "
        "sealkit plans every run from it",
    )

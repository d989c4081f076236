"""Installed apps in the cluster state dir: ``<state>/apps.json``, written atomically.

Holds what `apps`, `apps show`, a re-run and `apps remove` need: image and digest, installer,
release or applied objects, whether the namespace was created, volumes, env *keys* (never values)
with an HMAC fingerprint, entry points, the container images pushed, the status. Credential values
are never stored here: `apps show` reads them again from the cluster (or the 0600 secrets file).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sealkit.apps.model import ObjectRef
from sealkit.errors import SealkitError
from sealkit.state import atomic_write

RECORD_FILE = "apps.json"
STATUSES = ("installing", "ready", "failed", "removing")


@dataclass
class AppRecord:
    name: str
    image: str
    repository: str
    digest: str
    version: str
    installer: str
    namespace: str
    status: str = "installing"
    namespace_created: bool = False
    release: str = ""
    objects: list[dict[str, str]] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    env_keys: list[str] = field(default_factory=list)
    env_fingerprint: str = ""
    endpoints: list[str] = field(default_factory=list)
    credential_names: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    master: str = ""
    updated: str = ""

    def object_refs(self) -> list[ObjectRef]:
        return [ObjectRef.from_dict(o) for o in self.objects]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "address": self.endpoints[0] if self.endpoints else "-",
            "image": self.image,
            "namespace": self.namespace,
            "installer": self.installer,
        }


class AppsRecord:
    """Read-modify-write of ``apps.json``; the caller holds the cluster lock."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / RECORD_FILE

    def load(self) -> dict[str, AppRecord]:
        if not self.path.is_file():
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {name: AppRecord(**data) for name, data in raw.get("apps", {}).items()}
        except (ValueError, TypeError, AttributeError) as exc:
            raise SealkitError(
                f"{self.path} is corrupt: {exc}",
                hint="restore it from a backup, or move it aside (sealkit then forgets the installed apps)",
            ) from None

    def get(self, name: str) -> AppRecord | None:
        return self.load().get(name)

    def put(self, rec: AppRecord) -> None:
        apps = self.load()
        rec.updated = datetime.now(UTC).isoformat(timespec="seconds")
        apps[rec.name] = rec
        self._save(apps)

    def delete(self, name: str) -> None:
        apps = self.load()
        if apps.pop(name, None) is not None:
            self._save(apps)

    def _save(self, apps: dict[str, AppRecord]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {"apps": {n: asdict(r) for n, r in sorted(apps.items())}}
        atomic_write(self.path, json.dumps(data, indent=2) + "\n", mode=0o600)

"""Issue 14, item 13: ``pkData`` (an inline private key) is used for login, so a value that cannot be
loaded is refused when the Clusterfile is validated, before any host is contacted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sealkit.cluster import load_clusterfile, validate
from sealkit.engine.options import target_for
from sealkit.errors import ValidationError


def _clusterfile(pk_data: str) -> str:
    body = "\n".join("      " + line for line in pk_data.strip().splitlines())
    return (
        "apiVersion: sealkit.io/v1\nkind: Cluster\nmetadata:\n  name: t\nspec:\n"
        "  image: [k3s:v1]\n"
        f"  ssh:\n    pkData: |\n{body}\n"
        "  hosts:\n  - ips: [10.0.0.1]\n    roles: [master]\n"
    )


def test_valid_inline_key_reaches_the_ssh_target(tmp_path: Path) -> None:
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    c = load_clusterfile(_clusterfile(key.read_text()))
    validate(c)
    target = target_for(c.hosts[0])
    assert target.key_data is not None and target.key_data.strip() == key.read_text().strip()
    assert "PRIVATE" not in repr(target)


def test_unusable_inline_key_is_refused_at_validation_without_echoing_it() -> None:
    c = load_clusterfile(
        _clusterfile("-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----")
    )
    with pytest.raises(ValidationError) as info:
        validate(c)
    assert "pkData" in str(info.value)
    assert "garbage" not in str(info.value)

"""Issue 14, item 2 against a real sshd: ``@revoked`` lines in known_hosts never vouch for a host. A host
known only through revoked lines is unknown (strict: refused; accept-new: pinned), and a host whose own key
is revoked is refused in both modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sealkit.errors import HostKeyChanged
from sealkit.ssh import Connection, HostKeyPolicy, Target, UnknownHostKey

pytestmark = pytest.mark.lab


def _connect(h, known_hosts: Path, mode: str) -> None:
    policy = HostKeyPolicy(known_hosts, mode=mode, user_known_hosts=None)  # type: ignore[arg-type]
    target = Target(h.ip, port=h.port, key_path=str(h.root_key), label=h.name)
    with Connection(target, hostkeys=policy, ssh_config=os.devnull, retries=0) as conn:
        assert conn.run("echo ok", sudo=False).stdout == "ok\n"


def test_revoked_lines_never_vouch_for_a_real_host(fresh_lab, tmp_path: Path) -> None:
    h = fresh_lab(1).hosts[0]
    unrelated = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBPbLGXuv0wrUVgSHEyTO5hhPIuZ3bUGbBJMyO9kqfwm"
    known = tmp_path / "known_hosts"
    known.write_text(f"@revoked * {unrelated}\n")

    with pytest.raises(UnknownHostKey):
        _connect(h, known, "strict")  # today's code let it in unchecked
    _connect(h, known, "accept-new")
    assert f"{h.ip} {h.host_key.split()[0]} {h.host_key.split()[1]}" in known.read_text()  # pinned

    own = tmp_path / "own_revoked"
    own.write_text(f"@revoked * {h.host_key}\n")
    for mode in ("strict", "accept-new"):
        with pytest.raises(HostKeyChanged, match="revoked"):
            _connect(h, own, mode)
    assert own.read_text() == f"@revoked * {h.host_key}\n"  # nothing pinned

"""``@revoked`` lines in known_hosts (issue 14, item 2): a revoked key is refused, and a host matched only by
revoked lines is *unknown* — refused in strict mode, pinned on first contact in accept-new — never trusted."""

from __future__ import annotations

import io
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from sealkit.errors import HostKeyChanged
from sealkit.ssh import HostKeyPolicy, UnknownHostKey


def _key() -> paramiko.PKey:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        .decode()
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def _line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def test_strict_refuses_a_host_known_only_by_revoked_lines(tmp_path: Path) -> None:
    pinned = tmp_path / "kh"
    pinned.write_text(f"@revoked * {_line(_key())}\n")
    policy = HostKeyPolicy(pinned, mode="strict", user_known_hosts=None)
    with pytest.raises(UnknownHostKey, match="strict host key checking"):
        policy.verify("10.0.0.9", _key())


def test_accept_new_pins_a_host_known_only_by_revoked_lines(tmp_path: Path) -> None:
    pinned = tmp_path / "kh"
    revoked = _key()
    pinned.write_text(f"@revoked * {_line(revoked)}\n")
    policy = HostKeyPolicy(pinned, user_known_hosts=None)
    first = _key()
    policy.verify("10.0.0.9", first)
    assert f"10.0.0.9 {_line(first)}" in pinned.read_text()
    with pytest.raises(HostKeyChanged, match="REMOTE HOST KEY CHANGED"):
        policy.verify("10.0.0.9", _key())  # now pinned: another key is a change
    with pytest.raises(HostKeyChanged, match="revoked"):
        policy.verify("10.0.0.9", revoked)


def test_revoked_user_line_does_not_vouch_for_a_host_in_strict_mode(tmp_path: Path) -> None:
    user = tmp_path / "user_kh"
    user.write_text(f"@revoked 10.0.0.5 {_line(_key())}\n")
    policy = HostKeyPolicy(tmp_path / "kh", mode="strict", user_known_hosts=user)
    with pytest.raises(UnknownHostKey):
        policy.verify("10.0.0.5", _key())


def test_other_keys_of_a_host_are_checked_as_usual(tmp_path: Path) -> None:
    pinned = tmp_path / "kh"
    good, revoked = _key(), _key()
    pinned.write_text(f"@revoked * {_line(revoked)}\n10.0.0.6 {_line(good)}\n")
    policy = HostKeyPolicy(pinned, mode="strict", user_known_hosts=None)
    policy.verify("10.0.0.6", good)
    with pytest.raises(HostKeyChanged):
        policy.verify("10.0.0.6", _key())

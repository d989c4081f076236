"""Every example a user copies works as written: examples/ Clusterfiles load and validate with the real
parser, and the README keeps its two first commands and pastes line by line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from sealkit.cluster import load_clusterfile, validate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.name.startswith("Clusterfile"))
README = (ROOT / "README.md").read_text()
TEST_COMMAND = ".venv/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup --durations=20"


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with the key the examples name (~/.ssh/id_ed25519, 0600) and no agent."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = home / ".ssh" / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    key.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def test_there_are_examples():
    assert {p.name for p in EXAMPLES} >= {"Clusterfile", "Clusterfile.sealos"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_loads_and_validates(path: Path, user_home: Path):
    cluster = load_clusterfile(path)
    assert validate(cluster) == []  # not even a warning
    assert cluster.masters and cluster.images
    assert all(h.ssh.key_path == user_home / ".ssh" / "id_ed25519" for h in cluster.hosts)


def test_the_example_expands_its_range(user_home: Path):
    cluster = load_clusterfile(ROOT / "examples" / "Clusterfile")
    assert [h.ip for h in cluster.nodes] == ["192.168.10.21", "192.168.10.22"]
    assert cluster.name == "prod" and len(cluster.masters) == 3


def test_readme_opens_with_the_demo_and_the_test_command():
    blocks = re.findall(r"```\n(.*?)```", README, flags=re.S)
    assert blocks[0].split()[:2] == ["bash", "demo/run"]
    after_marker = README.split("<!-- test-command -->", 1)[1]
    first = re.search(r"```\n(.*?)\n```", after_marker, flags=re.S)
    assert first is not None and first.group(1).strip() == TEST_COMMAND


def _shell_lines() -> list[str]:
    lines = []
    for block in re.findall(r"```(?:sh|bash|shell)?\n(.*?)```", README, flags=re.S):
        lines += [ln for ln in block.splitlines() if ln.strip().startswith(("sealkit ", "sudo sealkit "))]
    return lines


def test_readme_commands_are_one_per_line_and_paste_as_written():
    lines = _shell_lines()
    assert lines, "the README shows no sealkit command"
    for line in lines:
        code = line.split("  #", 1)[0]
        assert not re.search(r"\|\s*sealkit\b", code), f"alternatives written as a pipeline: {line}"
        assert code.count("sealkit ") == 1 or "$(" in code, f"two commands on one line: {line}"
        assert "$(command -v registry)" not in code


def test_readme_never_copies_a_registry_binary_debian_lacks():
    assert "command -v registry" not in README
    assert "/usr/bin/docker-registry" in README

"""The fake k0s worker's containerd configuration, on a loopback root (no lab, no root needed).

k0s writes /etc/k0s/containerd.toml itself from the drop-ins in /etc/k0s/containerd.d (k0s
pkg/component/worker/containerd, v1.33.9+k0s.0 and v1.36.3+k0s.0); the fake kubelet's pulls then
follow what containerd would read: that file and its imports. The drop-in is the one sealkit's k0s
plugin renders (sealkit.registry.mirrors.k0s_files), so a change on either side shows here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sealkit.context import RegistryInfo
from sealkit.registry import mirrors
from tests.fakes import fake_cri, fake_k0s

REGISTRY = RegistryInfo("sealkit.hub", 5000, ("10.0.0.9",), "pull", "s3cret")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    return tmp_path


def place(root: Path, containerd_major: int) -> None:
    for spec in mirrors.k0s_files(
        REGISTRY, ["docker.io"], containerd_major=containerd_major, certs_dir="/etc/k0s/certs.d"
    ):
        path = root / spec.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.content)


def test_before_1_36_cri_dropins_are_merged_into_the_run_dir_and_pulls_use_them(root: Path) -> None:
    place(root, containerd_major=1)
    other = root / "etc/k0s/containerd.d/metrics.toml"  # no CRI section: imported as it is
    other.write_text('version = 2\n[metrics]\n  address = "127.0.0.1:1338"\n')
    conf = fake_k0s.write_containerd_config("v1.35.1+k0s.0")
    text = Path(conf).read_text()
    assert text.startswith("# k0s_managed=true\n"), text
    doc = tomllib.loads(text)
    assert doc["version"] == 2
    assert doc["imports"] == ["/etc/k0s/containerd.d/metrics.toml", "/run/k0s/containerd-cri.toml"]
    cri = tomllib.loads((root / "run/k0s/containerd-cri.toml").read_text())
    plugin = cri["plugins"]["io.containerd.grpc.v1.cri"]
    assert plugin["sandbox_image"] == "quay.io/k0sproject/pause:3.10.1"
    assert plugin["registry"]["config_path"] == "/etc/k0s/certs.d"
    reg = fake_cri.RegistryConfig.load(conf)
    assert reg.hosts_dir == str(root / "etc/k0s/certs.d")
    assert reg.credentials_for("docker.io/sealkit-test/web:1.0") == ("pull", "s3cret")


def test_from_1_36_the_config_is_version_3_importing_the_dropins(root: Path) -> None:
    place(root, containerd_major=2)
    conf = fake_k0s.write_containerd_config("v1.36.3+k0s.0")
    doc = tomllib.loads(Path(conf).read_text())
    assert doc["version"] == 3
    assert doc["imports"] == ["/etc/k0s/containerd.d/*.toml"]
    assert doc["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == (
        "quay.io/k0sproject/pause:3.10.2-0"
    )
    assert not (root / "run/k0s/containerd-cri.toml").exists()
    reg = fake_cri.RegistryConfig.load(conf)
    assert reg.hosts_dir == str(root / "etc/k0s/certs.d")
    assert reg.credentials_for("sealkit-test/web:1.0") == ("pull", "s3cret")


def test_a_config_without_the_k0s_managed_marker_is_left_alone(root: Path) -> None:
    place(root, containerd_major=1)
    conf = root / "etc/k0s/containerd.toml"
    conf.write_text('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/x"\n')
    before = conf.read_text()
    assert fake_k0s.write_containerd_config("v1.35.1+k0s.0") == str(conf)
    assert conf.read_text() == before
    assert fake_cri.RegistryConfig.load(str(conf)).hosts_dir == str(root / "x")


def test_toml_emitter_round_trips_nested_tables() -> None:
    doc = {
        "version": 2,
        "imports": ["/a.toml", "/b.toml"],
        "plugins": {"p.q": {"flag": True, "n": 3, "sub": {"empty": {}}, "configs": {"h:5000": {"u": "x"}}}},
    }
    assert tomllib.loads(fake_k0s.toml_dumps(doc)) == doc


def test_merge_patch_merges_tables_and_replaces_values() -> None:
    base = {"plugins": {"cri": {"sandbox_image": "p", "registry": {"config_path": "/old"}}}, "version": 2}
    patch = {"plugins": {"cri": {"registry": {"config_path": "/new"}}}}
    assert fake_k0s.merge_patch(base, patch) == {
        "plugins": {"cri": {"sandbox_image": "p", "registry": {"config_path": "/new"}}},
        "version": 2,
    }

"""k0s fidelity: the fake decodes k0s.yaml by each release's extracted fields, and every field the k0s
plugin renders is one that release knows (tests/fakes/upstream/k0s/<release>.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sealkit_k0s import plugin as k0s_plugin

from sealkit.engine import versions
from sealkit.testing.fixtures import make_context
from tests.fakes import fake_k0s, fakelib

DATA = Path(__file__).parent / "upstream" / "k0s"
RELEASES = sorted((p.stem for p in DATA.glob("*.yaml")), key=fake_k0s.release_key)
INFO = k0s_plugin.Runtime().sealkit_runtime_info()
SUPPORTED = [
    r
    for r in RELEASES
    if versions.parse(INFO.oldest_version) <= versions.parse(r) <= versions.parse(INFO.newest_version)
]
#: releases below the support matrix, kept to show what the version branch protects against
OLDER = [r for r in RELEASES if r not in SUPPORTED]


def schema(release: str) -> dict[str, Any]:
    return yaml.safe_load((DATA / f"{release}.yaml").read_text())["clusterconfig"]


def unknown_paths(doc: Any, kind: str, types: dict[str, Any], where: str = "") -> list[str]:
    """Every key of ``doc`` that no field of the release has (strict everywhere, unlike k0s)."""
    if kind.startswith("[]"):
        items = doc if isinstance(doc, list) else []
        return [
            p for i, item in enumerate(items) for p in unknown_paths(item, kind[2:], types, f"{where}[{i}]")
        ]
    info = types.get(kind)
    if info is None or not isinstance(doc, dict):
        return []
    fields = info.get("fields") or {}
    out = []
    for key, value in doc.items():
        path = f"{where}.{key}" if where else key
        out += unknown_paths(value, fields[key], types, path) if key in fields else [path]
    return out


def _ctx(tmp_path: Path, version: str):
    ctx = make_context(
        k0s_plugin.Runtime(),
        masters=["10.0.0.1", "10.0.0.2"],
        nodes=["10.0.0.3"],
        state_dir=tmp_path,
        runtime_name="k0s",
    )
    ctx.image_version = version
    return ctx


def test_the_support_matrix_has_upstream_data_at_both_ends() -> None:
    assert SUPPORTED, "no extracted release inside the k0s plugin's support range"
    assert versions.parse(SUPPORTED[0])[:2] == versions.parse(INFO.oldest_version)[:2]
    assert versions.parse(SUPPORTED[-1])[:2] == versions.parse(INFO.newest_version)[:2]
    for release in RELEASES:
        data = yaml.safe_load((DATA / f"{release}.yaml").read_text())
        assert (data["repo"], data["tag"]) == ("k0sproject/k0s", release)
        assert fakelib.yaml_load((DATA / f"{release}.yaml").read_text()) == data  # the fake reads it alike


@pytest.mark.parametrize("release", RELEASES)
def test_plugin_renders_only_fields_the_release_knows(tmp_path: Path, release: str) -> None:
    ctx = _ctx(tmp_path, release)
    for host in ctx.masters:
        cfg = yaml.safe_load(k0s_plugin.render_config(k0s_plugin.cluster_config(ctx, host)))
        s = schema(release)
        assert unknown_paths(cfg, s["root"], s["types"]) == [], release
        fake_k0s.decode_clusterconfig(cfg, s)  # and the fake of that release accepts it


def test_fake_refuses_unknown_keys_where_k0s_decodes_strictly(tmp_path: Path) -> None:
    cfg = tmp_path / "k0s.yaml"
    base = "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nmetadata:\n  name: k0s\n"
    cfg.write_text(base + "spec:\n  telemetry:\n    enabled: false\n    interval: 10m\n  bogus: 1\n")
    with pytest.raises(fake_k0s.Fail) as err:
        fake_k0s.load_config(str(cfg), True, SUPPORTED[-1])
    assert str(err.value) == (
        "failed to load node config: error unmarshaling JSON: while decoding JSON: "
        'json: unknown field "bogus"'
    )
    # a type with its own UnmarshalJSON (APISpec) drops unknown keys silently, as k0s does; keys match
    # fields case-insensitively (encoding/json)
    cfg.write_text(base + "spec:\n  api:\n    bogus: 1\n    K0sApiPort: 9555\n")
    assert fake_k0s.load_config(str(cfg), True, SUPPORTED[-1])["api"]["k0sApiPort"] == 9555


@pytest.mark.parametrize(
    ("release", "days"), [(OLDER[0], 365), (SUPPORTED[0], 36500), (SUPPORTED[-1], 36500)]
)
def test_fake_reads_certificates_expire_after_only_where_the_release_has_it(
    tmp_path: Path, release: str, days: int
) -> None:
    """Before v1.33.1 k0s has no spec.api.ca: the key is dropped and leaves get k0s's one year."""
    cfg = tmp_path / "k0s.yaml"
    cfg.write_text(
        "apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nspec:\n  api:\n    ca:\n"
        "      certificatesExpireAfter: 876000h\n  storage:\n    etcd:\n      ca:\n"
        "        certificatesExpireAfter: 876000h\n"
    )
    assert fake_k0s.load_config(str(cfg), True, release)["leafDays"] == {"kubernetes": days, "etcd": days}


def test_fake_install_controller_refuses_an_unknown_field(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    monkeypatch.setattr(fake_k0s.os, "geteuid", lambda: 0)
    conf = tmp_path / "etc/k0s/k0s.yaml"
    conf.parent.mkdir(parents=True)
    conf.write_text("apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\nspec:\n  nope: {}\n")
    rc = fake_k0s.main(["install", "controller", "--config=/etc/k0s/k0s.yaml"], SUPPORTED[0])
    assert rc == 1
    assert 'json: unknown field "nope"' in capsys.readouterr().err
    assert not (tmp_path / "etc/systemd/system/k0scontroller.service").exists()


def test_fake_refuses_a_release_older_than_its_data(tmp_path: Path) -> None:
    cfg = tmp_path / "k0s.yaml"
    cfg.write_text("apiVersion: k0s.k0sproject.io/v1beta1\nkind: ClusterConfig\n")
    with pytest.raises(fake_k0s.Fail, match=r"no upstream data for k0s v1\.20\.0"):
        fake_k0s.load_config(str(cfg), True, "v1.20.0+k0s.0")


def test_fake_worker_loads_every_file_of_the_images_dir(tmp_path: Path, monkeypatch, capsys) -> None:
    """k0s pkg/component/worker/ocibundle.go loadAll: every regular file in <data-dir>/images."""
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    assert fake_k0s.load_oci_bundles("/var/lib/k0s") == []
    images = tmp_path / "var/lib/k0s/images"
    (images / "sub").mkdir(parents=True)
    (images / "k0s-airgap-bundle-v1.36.3+k0s.2-amd64").write_bytes(b"x")
    loaded = fake_k0s.load_oci_bundles("/var/lib/k0s")
    assert loaded == [str(images / "k0s-airgap-bundle-v1.36.3+k0s.2-amd64")]
    assert f"Loading OCI bundle {loaded[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("release", RELEASES)
def test_plugin_commands_use_only_flags_the_release_defines(tmp_path: Path, release: str) -> None:
    """Every ``k0s install|token create`` line the plugin runs, checked against the release's flags."""
    import shlex

    ctx = _ctx(tmp_path, release)
    lines = [
        k0s_plugin.install_command(ctx, ctx.first_master, role="controller", join=False),
        k0s_plugin.install_command(ctx, ctx.masters[1], role="controller", join=True),
        k0s_plugin.install_command(ctx, ctx.hosts["10.0.0.3"], role="worker", join=True),
        k0s_plugin.token_command("worker"),
        k0s_plugin.token_command("controller"),
    ]
    for line in lines:
        words = shlex.split(line)[1:]
        command = " ".join(words[:2])
        fake_k0s.check_flags(command, words[2:], release)


def test_fake_refuses_flags_by_release() -> None:
    """k0s v1.33.1 dropped the debug flags from ``token create`` (cmd/token/create.go)."""
    fake_k0s.check_flags("token create", ["--debug", "--role=worker"], "v1.30.4+k0s.0")
    with pytest.raises(fake_k0s.fakelib.FlagError, match="unknown flag: --debug"):
        fake_k0s.check_flags("token create", ["--debug", "--role=worker"], SUPPORTED[0])
    with pytest.raises(fake_k0s.fakelib.FlagError, match="unknown shorthand flag: 'x' in -x"):
        fake_k0s.check_flags("install worker", ["-x"], SUPPORTED[-1])
    # a value that looks like a flag belongs to the flag before it
    fake_k0s.check_flags("install worker", ["--kubelet-extra-args", "--node-ip=1.2.3.4", "-h"], SUPPORTED[-1])


def test_bundled_fake_reads_the_data_embedded_in_fakelib(monkeypatch, tmp_path: Path) -> None:
    """A bundled fake has no upstream/ beside it: it reads fakelib.EMBEDDED_UPSTREAM["k0s/<release>"]."""
    text = (DATA / f"{SUPPORTED[0]}.yaml").read_text()
    monkeypatch.setattr(fake_k0s, "__file__", str(tmp_path / "k0s"))  # where a bundled fake lives
    monkeypatch.setattr(fakelib, "EMBEDDED_UPSTREAM", {f"k0s/{SUPPORTED[0]}": text, "kubernetes/v1.34": ""})
    assert fake_k0s.upstream_texts() == {SUPPORTED[0]: text}
    assert fake_k0s.upstream_release(SUPPORTED[-1])["release"] == SUPPORTED[0]

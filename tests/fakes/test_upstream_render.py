"""Everything the kubeadm and binary plugins render, checked against the release's upstream facts
(tests/fakes/upstream/kubernetes/<release>.yaml, etcd/<release>.yaml): every kubeadm subcommand flag,
every kubeadm config field per apiVersion/kind, every component flag in a unit's ExecStart. A flag or
field the release does not know fails here, before a real binary would refuse or ignore it."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from sealkit_binary import plugin as binary
from sealkit_kubeadm import certs as kubeadm_certs
from sealkit_kubeadm import plugin as kubeadm

from sealkit.testing.fixtures import make_context
from tests.fakes import fakelib

UPSTREAM = Path(fakelib.UPSTREAM_DIR)


def _releases(info: Any) -> list[str]:
    """Every minor of the plugin's support range."""
    lo, hi = (int(v.split(".")[1]) for v in (info.oldest_version, info.newest_version))
    return [f"v1.{m}" for m in range(lo, hi + 1)]


KUBEADM_RELEASES = _releases(kubeadm.Runtime().sealkit_runtime_info())
BINARY_RELEASES = _releases(binary.Runtime().sealkit_runtime_info())


def _facts(release: str) -> dict[str, Any]:
    data = fakelib.upstream("kubernetes", release)
    assert data is not None, (
        f"no upstream data for {release}: add tests/fakes/upstream/kubernetes/{release}.yaml"
    )
    return data


def test_every_supported_release_has_data_with_provenance() -> None:
    for release in sorted({*KUBEADM_RELEASES, *BINARY_RELEASES}):
        data = _facts(release)
        assert data["release"] == release and data["repo"] == "kubernetes/kubernetes"
        assert re.fullmatch(rf"{re.escape(release)}\.\d+", data["tag"])
        for name, src in data["sources"].items():
            assert src.get("path") and src.get("fact") and src.get("checked"), name


def test_the_embedded_copy_in_fakelib_is_the_data_files() -> None:
    """A bundled fake carries EMBEDDED_UPSTREAM; regenerate with upstream/kubernetes/embed.py."""
    files = {
        f"{tool}/{p.stem}": p.read_text()
        for tool in ("kubernetes", "k0s")
        for p in sorted((UPSTREAM / tool).glob("v*.yaml"))
    }
    assert files == fakelib.EMBEDDED_UPSTREAM


# --------------------------------------------------------------------------------------- kubeadm
def _script(conn) -> None:  # type: ignore[no-untyped-def]
    made = (f"join{n:02d}.{n:016d}" for n in itertools.count())
    conn.answer(r"containerd --version$", 0, "containerd containerd.io 1.7.13 7c3aca7\n")
    conn.answer(r"kubelet --version$", 0, "Kubernetes v1.34.1\n")
    conn.responses.append((r"kubeadm token create ", lambda cmd: (0, next(made) + "\n")))


def _kubeadm_ctx(tmp_path: Path, release: str, nodes: tuple[str, ...], docs: list | None = None):  # type: ignore[no-untyped-def]
    ctx = make_context(
        kubeadm.Runtime(),
        masters=["10.0.0.1", "10.0.0.2"],
        nodes=list(nodes),
        state_dir=tmp_path / release,
        runtime_name="kubeadm",
    )
    ctx.image_version = f"{release}.1"
    ctx.cluster.documents = docs or []
    ctx.pki.ensure_ca(kubeadm_certs.CA)
    for host in ctx.hosts.values():
        _script(host.conn)
    return ctx


def _lifecycle(ctx) -> None:  # type: ignore[no-untyped-def]
    rt = kubeadm.Runtime()
    for host in ctx.hosts.values():
        rt.sealkit_prepare_host(ctx=ctx, host=host)
    rt.sealkit_init_cluster(ctx=ctx, host=ctx.first_master)
    for host in ctx.masters[1:]:
        rt.sealkit_join_master(ctx=ctx, host=host)
    for host in ctx.nodes:
        rt.sealkit_join_node(ctx=ctx, host=host)
    for host in ctx.hosts.values():
        rt.sealkit_upgrade_host(
            ctx=ctx, host=host, from_version=ctx.image_version, to_version=ctx.image_version
        )
    for host in ctx.hosts.values():
        rt.sealkit_reset_host(ctx=ctx, host=host)


def kubeadm_calls(commands: list[str]) -> list[list[str]]:
    """argv (after ``kubeadm``) of every kubeadm run in ``commands``."""
    out = []
    for cmd in commands:
        for m in re.finditer(re.escape(f"{kubeadm.PATH_ENV} {kubeadm.KUBEADM}") + r" ([^;&|>]*)", cmd):
            out.append(shlex.split(m.group(1)))
    return out


def unknown_kubeadm_flags(argv: list[str], facts: dict[str, Any]) -> list[str]:
    """Flags in ``argv`` that the release's ``kubeadm <command>`` does not have, or that may not go
    with --config (ValidateMixedArguments)."""
    commands = facts["kubeadm"]["commands"]
    words = [w for w in argv if not w.startswith("-")]
    cmd = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in commands), None)
    if cmd is None:
        return [f"unknown command {' '.join(words[:2])!r}"]
    known: set[str] = set()
    for spec in commands[cmd]:
        flag = fakelib.flag_from_spec(str(spec))
        known.update({flag.name, *flag.aliases})
    given = [w.lstrip("-").split("=", 1)[0] for w in argv if w.startswith("-")]
    bad = [f"{cmd}: --{g}" for g in given if g not in known]
    if "config" in given:
        allowed = set(facts["kubeadm"]["mix_with_config"])
        bad += [
            f"{cmd}: --{g} with --config" for g in given if g not in allowed and not g.startswith("skip-")
        ]
    return bad


def unknown_config_fields(text: str, facts: dict[str, Any]) -> list[str]:
    problems = []
    for doc in yaml.safe_load_all(text):
        api, kind = doc["apiVersion"], doc["kind"]
        if not api.startswith("kubeadm.k8s.io/"):
            continue
        schema = facts["kubeadm"]["schemas"].get(api)
        if api not in facts["kubeadm"]["api_versions"] or schema is None or kind not in schema["kinds"]:
            problems.append(f"{api} {kind}: unknown to the release")
            continue
        body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
        problems += [
            f"{kind}.{p}" for p in fakelib.unknown_fields(body, schema["kinds"][kind], schema["types"])
        ]
        problems += _unknown_component_args(doc, facts)
    return problems


def _unknown_component_args(doc: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    """extraArgs / kubeletExtraArgs names against the component's flags."""

    def names(args: Any) -> list[str]:
        if isinstance(args, dict):
            return list(args)
        return [a["name"] for a in args or []]

    where = {
        "kube-apiserver": (doc.get("apiServer") or {}).get("extraArgs"),
        "kube-controller-manager": (doc.get("controllerManager") or {}).get("extraArgs"),
        "kube-scheduler": (doc.get("scheduler") or {}).get("extraArgs"),
        "kubelet": (doc.get("nodeRegistration") or {}).get("kubeletExtraArgs"),
    }
    comps = facts["components"]
    return [f"{c}: --{n}" for c, args in where.items() for n in names(args) if n not in comps[c]]


@pytest.mark.parametrize("release", KUBEADM_RELEASES)
@pytest.mark.parametrize("nodes", [(), ("10.0.0.3",)], ids=["masters-only", "with-workers"])
def test_kubeadm_plugin_renders_only_what_the_release_knows(tmp_path, release, nodes) -> None:
    facts = _facts(release)
    ctx = _kubeadm_ctx(tmp_path, release, nodes)
    _lifecycle(ctx)
    calls = [argv for h in ctx.hosts.values() for argv in kubeadm_calls(h.conn.commands)]
    ran = {" ".join(w for w in argv if not w.startswith("-"))[:40] for argv in calls}
    assert any(r.startswith("init") for r in ran) and any(r.startswith("token create") for r in ran)
    assert [b for argv in calls for b in unknown_kubeadm_flags(argv, facts)] == []
    configs = [
        h.conn.files[path][0].decode()
        for h in ctx.hosts.values()
        for path in (kubeadm.INIT_CONFIG, kubeadm.JOIN_CONFIG)
        if path in h.conn.files
    ]
    assert len(configs) == len(ctx.hosts)
    assert [p for text in configs for p in unknown_config_fields(text, facts)] == []


def test_the_checks_catch_an_unknown_field_and_flag() -> None:
    """The checks above can fail: a v1beta3-only field in v1beta4, a flag the command lacks."""
    facts = _facts(KUBEADM_RELEASES[0])
    doc = (
        "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
        "apiServer:\n  timeoutForControlPlane: 4m\n  extraArgs:\n  - {name: no-such-flag, value: x}\n"
    )
    assert unknown_config_fields(doc, facts) == [
        "ClusterConfiguration.apiServer.timeoutForControlPlane",
        "kube-apiserver: --no-such-flag",
    ]
    assert unknown_kubeadm_flags(["token", "create", "--config", "/x", "--ttl", "1h"], facts) == [
        "token create: --ttl with --config"
    ]
    assert unknown_kubeadm_flags(["join", "--certificate-renewal=false"], facts) == [
        "join: --certificate-renewal"
    ]


def test_user_documents_are_checked_too(tmp_path) -> None:
    """A Clusterfile's kubeadm document is merged into ours: a field the release lacks shows up."""
    release = KUBEADM_RELEASES[-1]
    user = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration", "apiServer": {"bogus": 1}}
    ctx = _kubeadm_ctx(tmp_path, release, (), docs=[user])
    text = kubeadm.init_config_text(ctx, ctx.first_master)
    assert unknown_config_fields(text, _facts(release)) == ["ClusterConfiguration.apiServer.bogus"]


# ---------------------------------------------------------------------------------------- binary
def _exec_start(unit: str) -> list[str]:
    line = unit.split("ExecStart=", 1)[1].split("\nRestart=", 1)[0]
    return [w for w in re.split(r"\s+\\\n\s+|\s+", line.strip()) if w]


@pytest.mark.parametrize("release", BINARY_RELEASES)
def test_binary_units_pass_only_flags_the_release_knows(tmp_path, release) -> None:
    facts = _facts(release)
    etcd = fakelib.upstream("etcd", "v3.6")
    assert etcd is not None
    known = {**facts["components"], "etcd": etcd["flags"]}
    ctx = make_context(
        binary.Runtime(), masters=["10.0.0.1"], nodes=["10.0.0.3"], state_dir=tmp_path, runtime_name="binary"
    )
    ctx.image_version = f"{release}.1"
    master, worker = ctx.hosts["10.0.0.1"], ctx.hosts["10.0.0.3"]
    paths = binary.paths_of(binary.cert_layout(ctx.layout_input(master)))
    units = {
        **binary.control_plane_units(ctx, master, paths),
        **binary.node_units(worker, binary.paths_of(binary.cert_layout(ctx.layout_input(worker)))),
        binary.ETCD_UNIT: binary.etcd_unit("host-0", master.ip, paths, "amd64"),
    }
    bad, seen = [], set()
    for unit in units.values():
        argv = _exec_start(unit)
        component = Path(argv[0]).name
        comp = "etcd" if component == "etcd" else component
        assert comp in known, f"no upstream data for {component}"
        seen.add(comp)
        for word in argv[1:]:
            name = word.lstrip("-").split("=", 1)[0]
            if name not in known[comp]:
                bad.append(f"{comp}: --{name}")
    env = binary.etcd_bootstrap_env([("host-0", "https://10.0.0.1:2380")], "new", "tok")
    for line in env.splitlines():
        if line.startswith("ETCD_"):
            name = line.split("=", 1)[0][5:].lower().replace("_", "-")
            if name not in known["etcd"]:
                bad.append(f"etcd env: {line.split('=', 1)[0]}")
    assert seen == {
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "etcd",
    }
    assert bad == []
    removed = facts["components"]["removed"]["kubelet"]
    assert not [w for w in _exec_start(units[binary.KUBELET_UNIT]) if w.lstrip("-").split("=")[0] in removed]

"""Host facts are untrusted input (issue 14, items 1 and 4): arch and hostname come from closed sets before
they name a directory on the controller, a node or a remote command argument."""

from __future__ import annotations

import pytest

from sealkit.builtin.preflight import KNOWN_ARCHES, parse_facts, valid_arch, valid_hostname
from sealkit.errors import StepFailed


def _facts(**lines: str) -> str:
    base = {"hostname": "node-1", "arch": "x86_64", "now": "1000"}
    base.update(lines)
    return "\n".join(f"{k}={v}" for k, v in base.items())


@pytest.mark.parametrize(
    ("uname", "arch"),
    [
        ("x86_64", "amd64"),
        ("aarch64", "arm64"),
        ("armv7l", "arm"),
        ("ppc64le", "ppc64le"),
        ("s390x", "s390x"),
    ],
)
def test_uname_spellings_map_to_the_closed_set(uname: str, arch: str) -> None:
    assert parse_facts(_facts(arch=uname), 1000.0)["arch"] == arch
    assert arch in KNOWN_ARCHES


@pytest.mark.parametrize(
    "lie",
    ["amd64/../../../.ssh", "../x", "amd64/", "i686", "", "amd64 x", "mips64"],
)
def test_an_architecture_outside_the_closed_set_is_refused_naming_host_and_value(lie: str) -> None:
    with pytest.raises(StepFailed) as info:
        parse_facts(_facts(arch=lie), 1000.0, host="10.0.0.7")
    err = info.value
    assert err.host == "10.0.0.7"
    assert err.step == "facts"
    assert repr(lie) in err.message


@pytest.mark.parametrize(
    ("reported", "name"),
    [
        ("Node-1", "node-1"),
        ("lab-h1", "lab-h1"),
        ("a.b-c.example", "a.b-c.example"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_hostnames_are_lower_cased_as_kubernetes_does(reported: str, name: str) -> None:
    assert parse_facts(_facts(hostname=reported), 1000.0)["hostname"] == name


@pytest.mark.parametrize(
    "lie",
    [
        "x;reboot",
        "x $(id)",
        "-rf",
        "a..b",
        "node_1",
        "../etc",
        "a" * 64,
        ".".join(["a" * 60] * 5),
        "",
        "node-",
    ],
)
def test_a_hostname_that_is_not_rfc1123_is_refused(lie: str) -> None:
    with pytest.raises(StepFailed) as info:
        valid_hostname(lie, host="10.0.0.8")
    assert info.value.host == "10.0.0.8"
    assert "RFC 1123" in info.value.message


def test_missing_arch_or_hostname_is_refused() -> None:
    with pytest.raises(StepFailed, match="arch"):
        parse_facts("hostname=n1\nnow=1", 1.0, host="h")
    with pytest.raises(StepFailed, match="hostname"):
        parse_facts("arch=x86_64\nnow=1", 1.0, host="h")


def test_a_later_lying_line_cannot_override_a_valid_one() -> None:
    with pytest.raises(StepFailed):
        parse_facts(_facts() + "\narch=amd64/../../x", 1000.0)


def test_other_facts_are_typed_and_closed() -> None:
    out = _facts(
        free_mb="5000x",
        listening="22,abc,0,70000,6443,",
        foreign="/root/.ssh/id_rsa",
        sealkit_installed="yes",
    )
    facts = parse_facts(
        out + "\nforeign=/etc/kubernetes/admin.conf\nforeign=/etc/kubernetes/admin.conf", 990.0
    )
    assert "free_mb" not in facts
    assert facts["listening_ports"] == [22, 6443]
    assert facts["foreign_cluster"] == ["/etc/kubernetes/admin.conf"]
    assert "sealkit_installed" not in facts
    assert facts["clock_skew_s"] == 10


def test_valid_arch_accepts_oci_names() -> None:
    for arch in KNOWN_ARCHES:
        assert valid_arch(arch) == arch


def _ctx_with(arch: str, declared: str | None):
    from types import SimpleNamespace

    host = SimpleNamespace(arch=arch, spec=SimpleNamespace(arch=declared))
    return SimpleNamespace(hosts={"10.0.0.5": host})


def test_engine_rechecks_the_arch_before_it_names_a_controller_directory():
    """Defence in depth in ops: whatever filled HostRef.arch, a value outside the closed set never reaches
    ``ResolvedImage.rootfs_for`` (the path ``$SEALKIT_HOME/rootfs/<digest>-<arch>``)."""
    from sealkit.engine.ops import host_arch

    with pytest.raises(StepFailed) as info:
        host_arch(_ctx_with("amd64/../../../.ssh", None), "10.0.0.5")
    assert info.value.host == "10.0.0.5"
    assert host_arch(_ctx_with("amd64", None), "10.0.0.5") == "amd64"
    assert host_arch(_ctx_with("", "arm64"), "10.0.0.5") == "arm64"  # the Clusterfile's where given
    with pytest.raises(StepFailed, match="Clusterfile says arch arm64 but the host reports amd64"):
        host_arch(_ctx_with("amd64", "arm64"), "10.0.0.5")
    with pytest.raises(StepFailed, match="unknown"):
        host_arch(_ctx_with("", None), "10.0.0.5")


def test_preflight_refuses_a_registry_host_whose_pull_or_push_port_is_taken():
    from types import SimpleNamespace

    from sealkit.builtin.preflight import PreflightPlugin
    from sealkit.cluster import Cluster, Host

    cluster = Cluster(
        name="t", hosts=[Host(ip="10.0.0.1", roles=["master"]), Host(ip="10.0.0.2", roles=["node"])]
    )
    ctx = SimpleNamespace(
        cluster=cluster,
        runtime=SimpleNamespace(master_ports=(6443,), node_ports=(10250,), default_ha="haproxy"),
    )

    def problems(ip: str, listening: list[int]) -> list[str]:
        host = SimpleNamespace(ip=ip, is_master=ip == "10.0.0.1", facts={"listening_ports": listening})
        return PreflightPlugin().sealkit_preflight(ctx=ctx, host=host)

    assert "5001" in problems("10.0.0.1", [22, 5001])[0]
    assert "5000" in problems("10.0.0.1", [5000])[0]
    assert problems("10.0.0.2", [5000, 5001]) == []  # the registry does not run there

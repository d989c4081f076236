"""Clusterfile model, loader and validation (sealkit.cluster)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import sealkit
from sealkit.cluster import (
    HA,
    SSH,
    Cluster,
    Host,
    Network,
    cluster_from_flags,
    iter_hosts,
    load_clusterfile,
    parse_env,
    validate,
)
from sealkit.errors import EXIT_USAGE, UsageError, ValidationError

SEALOS_CLUSTERFILE = """\
apiVersion: apps.sealos.io/v1beta1
kind: Cluster
metadata:
  creationTimestamp: null
  name: default
spec:
  hosts:
  - ips:
    - 192.168.0.2:22
    - 192.168.0.3:22
    - 192.168.0.4:22
    roles:
    - master
    - amd64
  - ips:
    - 192.168.0.5:22
    - 192.168.0.6:2222
    roles:
    - node
    - amd64
  image:
  - labring/kubernetes:v1.25.0
  - labring/helm:v3.8.2
  - labring/calico:v3.24.1
  ssh:
    passwd: s3cret
    pk: /nonexistent/.ssh/id_rsa
    port: 22
    user: root
  env:
  - criData=/var/lib/containerd
  - registryDomain=sealos.hub
  command:
  - kubeadm init
status:
  phase: ClusterSuccess
  mounts:
  - name: default-0
    type: rootfs
    imageName: labring/kubernetes:v1.25.0
---
apiVersion: apps.sealos.io/v1beta1
kind: Config
metadata:
  name: calico
spec:
  path: charts/calico/values.yaml
  strategy: merge
  data: |
    installation:
      calicoNetwork:
        ipPools:
        - cidr: 100.64.0.0/10
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
networking:
  podSubnet: 100.64.0.0/10
  serviceSubnet: 10.96.0.0/22
"""

SEALKIT_CLUSTERFILE = """\
apiVersion: sealkit.io/v1
kind: Cluster
metadata:
  name: prod
spec:
  runtime: k3s
  image: [registry.local/sealkit/k3s:v1.29.4]
  ssh:
    user: ubuntu
    passwd: pw
    port: 2200
  hosts:
    - ips: [10.1.0.1, 10.1.0.2, "10.1.0.3:22"]
      roles: [master]
      labels: {zone: a}
    - ips: [10.1.0.10-10.1.0.11]
      roles: [worker, arm64]
      ssh:
        user: admin
        passwd: other
        sudoPasswd: sudo-pw
      env: {NODE_FLAG: "1"}
  env:
    A: 1
    B: true
    C: x=y
  network:
    podCIDR: 172.16.0.0/16
    serviceCIDR: 172.17.0.0/20
    dnsDomain: k8s.internal
  registry:
    domain: hub.internal
    port: 5443
    username: ops
    password: regpw
    roles: [node]
  certs:
    validityDays: 3650
    caValidityDays: 36500
    extraSANs: [api.example.com, 203.0.113.7]
  ha:
    strategy: haproxy
    vip: 10.103.97.2
    port: 6443
"""


@pytest.fixture(autouse=True)
def _no_ambient_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Auth checks read HOME and SSH_AUTH_SOCK: give every test an empty home and no agent."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def _err(exc_info: pytest.ExceptionInfo[ValidationError]) -> ValidationError:
    err = exc_info.value
    assert err.exit_code == EXIT_USAGE == 2
    return err


def _doc(hosts: str = "", **spec: str) -> str:
    """A small valid sealkit Clusterfile with password auth; ``spec`` adds raw YAML blocks."""
    hosts = hosts or "    - ips: [10.0.0.1]\n      roles: [master]\n"
    extra = "".join(f"  {k}:\n{v}" if v.startswith(" ") else f"  {k}: {v}\n" for k, v in spec.items())
    return (
        "apiVersion: sealkit.io/v1\nkind: Cluster\nmetadata:\n  name: t\nspec:\n"
        "  ssh:\n    passwd: pw\n"
        f"  hosts:\n{hosts}{extra}"
    )


# ----------------------------------------------------------------------------------- sealos input


def test_sealos_clusterfile_is_accepted_unchanged() -> None:
    c = load_clusterfile(SEALOS_CLUSTERFILE)
    warnings = validate(c)

    assert c.name == "default"
    assert [h.address for h in c.masters] == ["192.168.0.2:22", "192.168.0.3:22", "192.168.0.4:22"]
    assert [h.address for h in c.nodes] == ["192.168.0.5:22", "192.168.0.6:2222"]
    # sealos puts the architecture in roles: it becomes Host.arch, not a role
    assert all(h.arch == "amd64" for h in c.hosts)
    assert all(h.roles in (["master"], ["node"]) for h in c.hosts)
    assert c.hosts[4].ssh.port == 2222
    assert c.images == [
        "labring/kubernetes:v1.25.0",
        "labring/helm:v3.8.2",
        "labring/calico:v3.24.1",
    ]
    assert c.env == {"criData": "/var/lib/containerd", "registryDomain": "sealos.hub"}
    assert c.ssh.passwd == "s3cret"
    assert c.extra_spec == {"command": ["kubeadm init"]}
    # further documents are kept, in order, verbatim
    assert [d["kind"] for d in c.documents] == ["Config", "ClusterConfiguration"]
    assert c.documents[0]["spec"]["data"].startswith("installation:\n")
    # the sealos default key path does not exist here, but the password is usable: a warning
    assert any("spec.ssh.pk" in w and "password" in w for w in warnings)


def test_sealos_clusterfile_round_trips_with_its_documents(tmp_path: Path) -> None:
    c = load_clusterfile(SEALOS_CLUSTERFILE)
    again = load_clusterfile(c.to_yaml())
    assert again == c
    assert again.documents == c.documents


def test_load_from_path_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "Clusterfile"
    f.write_text(SEALOS_CLUSTERFILE)
    c = load_clusterfile(f)
    assert c.source == str(f)
    assert load_clusterfile(str(f)) == c


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist") as exc:
        load_clusterfile(tmp_path / "nope.yaml")
    assert exc.value.exit_code == 2


# ----------------------------------------------------------------------------------- sealkit input


def test_sealkit_clusterfile_fields() -> None:
    c = load_clusterfile(SEALKIT_CLUSTERFILE)
    assert validate(c) == []
    assert c.runtime == "k3s"
    assert [h.address for h in c.hosts] == [
        "10.1.0.1:2200",
        "10.1.0.2:2200",
        "10.1.0.3:22",
        "10.1.0.10:2200",
        "10.1.0.11:2200",
    ]
    assert [h.roles for h in c.hosts[3:]] == [["node"], ["node"]]  # "worker" is normalised
    assert c.hosts[3].arch == "arm64"
    assert c.hosts[0].labels == {"zone": "a"}
    # host-level ssh overrides the cluster-level one field by field
    assert c.hosts[0].ssh.user == "ubuntu" and c.hosts[0].ssh.sudo_passwd == "pw"
    w = c.hosts[3].ssh
    assert (w.user, w.passwd, w.sudo_passwd, w.port) == ("admin", "other", "sudo-pw", 2200)
    assert c.env == {"A": "1", "B": "true", "C": "x=y"}
    assert c.env_for(c.hosts[3]) == {"A": "1", "B": "true", "C": "x=y", "NODE_FLAG": "1"}
    assert c.network == Network("172.16.0.0/16", "172.17.0.0/20", "k8s.internal")
    assert (c.registry.domain, c.registry.port, c.registry.username) == (
        "hub.internal",
        5443,
        "ops",
    )
    assert c.registry.password == "regpw"
    assert [h.ip for h in c.registry_hosts] == ["10.1.0.10", "10.1.0.11"]
    assert (c.certs.validity_days, c.certs.ca_validity_days) == (3650, 36500)
    assert c.certs.extra_sans == ["api.example.com", "203.0.113.7"]
    assert c.ha == HA("haproxy", "10.103.97.2", 6443)


def test_defaults() -> None:
    c = load_clusterfile(_doc())
    assert c.network == Network("100.64.0.0/10", "10.96.0.0/22", "cluster.local")
    assert (c.registry.domain, c.registry.port, c.registry.roles) == (
        "sealkit.hub",
        5000,
        ["master"],
    )
    assert (c.certs.ca_validity_days, c.certs.validity_days, c.certs.extra_sans) == (
        36500,
        36500,
        [],
    )
    assert c.ha == HA("auto", "10.103.97.2", 6443)
    assert (c.ssh.user, c.ssh.port, c.ssh.pk) == ("root", 22, None)
    assert c.runtime is None


@pytest.mark.parametrize("text", [SEALKIT_CLUSTERFILE, SEALOS_CLUSTERFILE])
def test_round_trip(text: str) -> None:
    c = load_clusterfile(text)
    dumped = c.to_yaml()
    again = load_clusterfile(dumped)
    assert again == c
    assert again.to_yaml() == dumped  # stable: saving twice writes the same bytes


def test_round_trip_of_host_ssh_overrides_and_unset_password() -> None:
    c = load_clusterfile(
        _doc(
            "    - ips: [10.0.0.1]\n      roles: [master]\n"
            "    - ips: [10.0.0.2]\n      roles: [node]\n"
            "      ssh: {passwd: null, pk: /k, user: deploy}\n"
        )
    )
    node = c.hosts[1].ssh
    assert (node.passwd, node.pk, node.user, node.sudo_passwd) == (None, "/k", "deploy", None)
    assert c.hosts[0].ssh.passwd == "pw"
    assert load_clusterfile(c.to_yaml()) == c


def test_programmatic_model_round_trips() -> None:
    ssh = SSH(user="ops", passwd="p", pk="~/.ssh/k")
    c = Cluster(
        name="lab",
        hosts=[
            Host("10.213.0.2", roles=["master"], ssh=ssh),
            Host("10.213.0.3", 2022, ["node"], ssh),
        ],
        images=["img:1"],
        env={"K": "V"},
        runtime="kubeadm",
        ssh=ssh,
    )
    assert c.hosts[1].ssh.port == 2022  # Host.port is authoritative
    assert ssh.port == 22  # … and the shared SSH object is not mutated
    assert load_clusterfile(c.to_yaml()) == c


def test_repr_hides_secrets() -> None:
    c = load_clusterfile(SEALKIT_CLUSTERFILE)
    text = repr(c)
    for secret in ("pw", "other", "sudo-pw", "regpw"):
        assert f"'{secret}'" not in text


# ------------------------------------------------------------------------------------------ flags


def test_flags_build_the_same_model_as_the_clusterfile(tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    key.write_text("not really a key\n")
    key.chmod(0o600)
    flags = cluster_from_flags(
        masters="10.0.0.1,10.0.0.2:2222",
        nodes="10.0.0.3-10.0.0.5",
        user="root",
        password="pw",
        key=str(key),
        port=2200,
        env=["A=1", "B=x=y"],
        images=["sealkit/kubeadm:v1.29", "sealkit/calico:v3.27"],
        name="flagged",
        runtime="kubeadm",
    )
    text = f"""\
apiVersion: sealkit.io/v1
kind: Cluster
metadata: {{name: flagged}}
spec:
  runtime: kubeadm
  image: [sealkit/kubeadm:v1.29, sealkit/calico:v3.27]
  env: [A=1, B=x=y]
  ssh: {{user: root, passwd: pw, pk: {key}, port: 2200}}
  hosts:
    - ips: [10.0.0.1, "10.0.0.2:2222"]
      roles: [master]
    - ips: [10.0.0.3, 10.0.0.4, 10.0.0.5]
      roles: [node]
"""
    from_file = load_clusterfile(text)
    assert flags == from_file
    assert [h.address for h in flags.hosts] == [
        "10.0.0.1:2200",
        "10.0.0.2:2222",
        "10.0.0.3:2200",
        "10.0.0.4:2200",
        "10.0.0.5:2200",
    ]
    assert validate(flags) == validate(from_file)
    assert load_clusterfile(flags.to_yaml()) == flags


def test_flags_defaults_and_lists() -> None:
    c = cluster_from_flags(masters=["10.0.0.1", "10.0.0.2,10.0.0.3"], password="pw")
    assert c.name == "default"
    assert [h.ip for h in c.masters] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert c.nodes == []
    assert all(h.port == 22 and h.ssh.user == "root" for h in c.hosts)


@pytest.mark.parametrize(
    ("masters", "value", "why"),
    [
        ("10.0.0.1,10.0.0.300", "10.0.0.300", "not an IP address"),
        ("10.0.0.1,10.0.0.2:99999", "10.0.0.2:99999", "out of range"),
        ("10.0.0.1,10.0.0.2:ssh", "10.0.0.2:ssh", "not a number"),
        ("10.0.0.1,10.0.0.9-10.0.0.3", "10.0.0.9-10.0.0.3", "before its start"),
        ("10.0.0.1,10.0.0.1-10.0.255.255", "10.0.0.1-10.0.255.255", "more than"),
        ("10.0.0.1,10.0.0.1-host", "10.0.0.1-host", "not an IP address"),
    ],
)
def test_bad_flag_addresses(masters: str, value: str, why: str) -> None:
    with pytest.raises(ValidationError) as exc:
        cluster_from_flags(masters=masters, password="pw")
    err = _err(exc)
    assert (err.path, err.value) == ("--masters[1]", value)
    assert why in err.why


def test_bad_port_flag() -> None:
    with pytest.raises(ValidationError) as exc:
        cluster_from_flags(masters="10.0.0.1", port=0)
    assert (_err(exc).path, exc.value.value) == ("--port", 0)


# ---------------------------------------------------------------------------------------- env


def test_parse_env() -> None:
    assert parse_env(["A=1", "B=", "C=x=y", "A=2"]) == {"A": "2", "B": "", "C": "x=y"}


@pytest.mark.parametrize(
    ("items", "path", "value"),
    [
        (["A=1", "NOEQUALS"], "-e[1]", "NOEQUALS"),
        (["=token"], "-e[0]", "=<redacted>"),
        (["A=1", "B=2", "1BAD=x"], "-e[2]", "1BAD"),
    ],
)
def test_malformed_env(items: list[str], path: str, value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_env(items)
    err = _err(exc)
    assert (err.path, err.value) == (path, value)
    assert "token" not in str(err)


def test_malformed_env_from_flags_and_file() -> None:
    with pytest.raises(ValidationError) as exc:
        cluster_from_flags(masters="10.0.0.1", env=["OK=1", "BROKEN"])
    assert _err(exc).path == "-e[1]"
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(_doc(env="[OK=1, BROKEN]"))
    assert (_err(exc).path, exc.value.value) == ("spec.env[1]", "BROKEN")


# ------------------------------------------------------------------------------ structural errors


@pytest.mark.parametrize(
    ("text", "path", "suggestion"),
    [
        (_doc().replace("metadata:", "metdata:"), "metdata", "metadata"),
        (_doc().replace("  name: t", "  nmae: t"), "metadata.nmae", "name"),
        (_doc(imag="[x]"), "spec.imag", "image"),
        (_doc("    - ip: [10.0.0.1]\n      roles: [master]\n"), "spec.hosts[0].ip", "ips"),
        (_doc().replace("passwd: pw", "password: pw"), "spec.ssh.password", "passwd"),
        (_doc(network="    podCidr: 10.0.0.0/8\n"), "spec.network.podCidr", "podCIDR"),
        (_doc(certs="    extraSans: [a]\n"), "spec.certs.extraSans", "extraSANs"),
        (_doc(ha="    stratgy: haproxy\n"), "spec.ha.stratgy", "strategy"),
        (_doc(registry="    usrname: x\n"), "spec.registry.usrname", "username"),
        (
            _doc("    - ips: [10.0.0.1]\n      roles: [master]\n      ssh: {pkpasswd: x}\n"),
            "spec.hosts[0].ssh.pkpasswd",
            "pkPasswd",
        ),
    ],
)
def test_unknown_keys_suggest_the_right_one(text: str, path: str, suggestion: str) -> None:
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(text)
    err = _err(exc)
    assert err.path == path
    assert err.value == path.rsplit(".", 1)[-1]
    assert err.why == "unknown key"
    assert f"did you mean {suggestion!r}" in (err.hint or "")


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "Clusterfile"
    f.write_text(_doc(ha="    stratgy: haproxy\n"))
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(f)
    line = f.read_text().splitlines().index("    stratgy: haproxy") + 1
    assert str(exc.value).startswith(f"{f}:{line}: spec.ha.stratgy")


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "Clusterfile"
    f.write_text("apiVersion: sealkit.io/v1\nkind: Cluster\nspec:\n  hosts: [10.0.0.1\n  ssh: {}\n")
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(f)
    err = _err(exc)
    assert err.path.startswith(f"{f}:")
    assert int(err.path.rsplit(":", 1)[1]) >= 4
    assert "YAML syntax error" in err.why


def test_duplicate_yaml_key_is_an_error() -> None:
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(_doc() + "  hosts: []\n")
    assert "duplicate key 'hosts'" in _err(exc).why


@pytest.mark.parametrize(
    ("old", "new", "path", "value", "accepted"),
    [
        ("sealkit.io/v1", "sealer.cloud/v2", "apiVersion", "sealer.cloud/v2", "apps.sealos.io"),
        ("sealkit.io/v1", "sealkit.io/v2", "apiVersion", "sealkit.io/v2", "'sealkit.io/v1'"),
        ("kind: Cluster", "kind: Clustr", "kind", "Clustr", "did you mean 'Cluster'"),
    ],
)
def test_unknown_api_version_or_kind(old: str, new: str, path: str, value: str, accepted: str) -> None:
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(_doc().replace(old, new))
    err = _err(exc)
    assert (err.path, err.value) == (path, value)
    assert accepted in (err.hint or "")


def test_only_one_cluster_document() -> None:
    with pytest.raises(ValidationError, match="more than one Cluster") as exc:
        load_clusterfile(_doc() + "---\n" + _doc())
    _err(exc)


@pytest.mark.parametrize(
    ("hosts", "path", "value"),
    [
        (
            "    - ips: [10.0.0.1, 10.0.0.256]\n      roles: [master]\n",
            "spec.hosts[0].ips[1]",
            "10.0.0.256",
        ),
        ("    - ips: [master-1]\n      roles: [master]\n", "spec.hosts[0].ips[0]", "master-1"),
        (
            "    - ips: ['10.0.0.1:0']\n      roles: [master]\n",
            "spec.hosts[0].ips[0]",
            "10.0.0.1:0",
        ),
        ("    - ips: []\n      roles: [master]\n", "spec.hosts[0].ips", []),
        ("    - ips: {a: 1}\n      roles: [master]\n", "spec.hosts[0].ips", {"a": 1}),
    ],
)
def test_bad_host_addresses(hosts: str, path: str, value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(_doc(hosts))
    err = _err(exc)
    assert (err.path, err.value) == (path, value)


def test_bad_types_do_not_echo_secrets() -> None:
    with pytest.raises(ValidationError) as exc:
        load_clusterfile(_doc().replace("passwd: pw", "passwd: 0777"))
    err = _err(exc)
    assert err.path == "spec.ssh.passwd"
    assert "777" not in str(err) and "511" not in str(err)


def test_ipv6_hosts() -> None:
    c = load_clusterfile(_doc("    - ips: ['[fd00::1]:2222', 'fd00::2']\n      roles: [master]\n"))
    assert [h.address for h in c.hosts] == ["[fd00::1]:2222", "[fd00::2]:22"]
    assert load_clusterfile(c.to_yaml()) == c


# ------------------------------------------------------------------------------ semantic errors


def _validate_doc(text: str) -> ValidationError:
    c = load_clusterfile(text)
    with pytest.raises(ValidationError) as exc:
        validate(c)
    return _err(exc)


def test_no_master() -> None:
    err = _validate_doc(_doc("    - ips: [10.0.0.1, 10.0.0.2]\n      roles: [node]\n"))
    assert err.path == "spec.hosts"
    assert err.value == ["10.0.0.1:22", "10.0.0.2:22"]
    assert "no host has role master" in err.why


def test_no_master_from_flags() -> None:
    c = cluster_from_flags(nodes="10.0.0.1", password="pw")
    with pytest.raises(ValidationError) as exc:
        validate(c)
    assert _err(exc).path == "--masters"


def test_duplicate_host() -> None:
    err = _validate_doc(
        _doc(
            "    - ips: [10.0.0.1, 10.0.0.2]\n      roles: [master]\n"
            "    - ips: ['10.0.0.2:22']\n      roles: [node]\n"
        )
    )
    assert (err.path, err.value) == ("spec.hosts[1].ips[0]", "10.0.0.2:22")
    assert "spec.hosts[0].ips[1]" in err.why


def test_same_ip_on_another_port_is_another_host() -> None:
    c = load_clusterfile(_doc("    - ips: ['127.0.0.1:2201', '127.0.0.1:2202']\n      roles: [master]\n"))
    validate(c)
    assert len(c.hosts) == 2
    assert c.host("127.0.0.1:2202").port == 2202


def test_duplicate_host_from_flags() -> None:
    c = cluster_from_flags(masters="10.0.0.1", nodes="10.0.0.2,10.0.0.1", password="pw")
    with pytest.raises(ValidationError) as exc:
        validate(c)
    assert (_err(exc).path, exc.value.value) == ("--nodes[1]", "10.0.0.1:22")


def test_unknown_role() -> None:
    err = _validate_doc(
        _doc("    - ips: [10.0.0.1]\n      roles: [master]\n    - ips: [10.0.0.2]\n      roles: [mastr]\n")
    )
    assert (err.path, err.value, err.why) == ("spec.hosts[1].roles", "mastr", "unknown role")
    assert "did you mean 'master'" in (err.hint or "")


def test_host_without_role() -> None:
    err = _validate_doc(_doc("    - ips: [10.0.0.1]\n      roles: [master]\n    - ips: [10.0.0.2]\n"))
    assert (err.path, err.value) == ("spec.hosts[1].roles", [])


def test_conflicting_arch() -> None:
    err = _validate_doc(_doc("    - ips: [10.0.0.1]\n      roles: [master, amd64]\n      arch: arm64\n"))
    assert (err.path, err.value) == ("spec.hosts[0].roles", "amd64")
    assert "conflicts" in err.why


def test_even_masters_is_a_warning() -> None:
    c = load_clusterfile(_doc("    - ips: [10.0.0.1, 10.0.0.2]\n      roles: [master]\n"))
    warnings = validate(c)
    assert any("2 masters" in w for w in warnings)
    c3 = load_clusterfile(_doc("    - ips: [10.0.0.1-10.0.0.3]\n      roles: [master]\n"))
    assert not any("masters" in w for w in validate(c3))


@pytest.mark.parametrize(
    ("network", "path", "value", "why"),
    [
        ("    podCIDR: 10.0.0.0/16\n", "spec.hosts[0].ips[0]", "10.0.0.1", "inside podCIDR"),
        (
            "    serviceCIDR: 10.0.0.0/24\n",
            "spec.hosts[0].ips[0]",
            "10.0.0.1",
            "inside serviceCIDR",
        ),
        (
            "    podCIDR: 172.16.0.0/12\n    serviceCIDR: 172.20.0.0/16\n",
            "spec.network.serviceCIDR",
            "172.20.0.0/16",
            "overlaps podCIDR",
        ),
        ("    podCIDR: 100.64.0.0/33\n", "spec.network.podCIDR", "100.64.0.0/33", "not a valid"),
        ("    serviceCIDR: banana\n", "spec.network.serviceCIDR", "banana", "not a valid"),
        ("    dnsDomain: -bad-\n", "spec.network.dnsDomain", "-bad-", "not a valid DNS"),
    ],
)
def test_network_errors(network: str, path: str, value: str, why: str) -> None:
    err = _validate_doc(_doc(network=network))
    assert (err.path, err.value) == (path, value)
    assert why in err.why


def test_cidr_with_host_bits_suggests_the_network() -> None:
    err = _validate_doc(_doc(network="    podCIDR: 100.64.0.1/10\n"))
    assert err.path == "spec.network.podCIDR"
    assert "did you mean 100.64.0.0/10" in (err.hint or "")


@pytest.mark.parametrize(
    ("ha", "path", "value"),
    [
        ("    strategy: haprxy\n", "spec.ha.strategy", "haprxy"),
        ("    vip: 10.96.0.10\n", "spec.ha.vip", "10.96.0.10"),
        ("    vip: 10.0.0.1\n", "spec.ha.vip", "10.0.0.1"),
        ("    vip: nope\n", "spec.ha.vip", "nope"),
        ("    port: 70000\n", "spec.ha.port", 70000),
    ],
)
def test_ha_errors(ha: str, path: str, value: object) -> None:
    err = _validate_doc(_doc(ha=ha))
    assert (err.path, err.value) == (path, value)


def test_bad_ha_strategy_suggests() -> None:
    err = _validate_doc(_doc(ha="    strategy: haprxy\n"))
    assert "did you mean 'haproxy'" in (err.hint or "")


def test_registry_and_certs_errors() -> None:
    err = _validate_doc(_doc(registry="    roles: [node]\n"))
    assert err.path == "spec.registry.roles"
    err = _validate_doc(_doc(certs="    validityDays: 0\n"))
    assert (err.path, err.value) == ("spec.certs.validityDays", 0)
    err = _validate_doc(_doc(certs="    extraSANs: [ok.example.com, 'bad name']\n"))
    assert (err.path, err.value) == ("spec.certs.extraSANs[1]", "bad name")


def test_bad_cluster_name() -> None:
    err = _validate_doc(_doc().replace("name: t", "name: ../etc"))
    assert (err.path, err.value) == ("metadata.name", "../etc")


def test_semantic_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "Clusterfile"
    f.write_text(_doc(ha="    strategy: haprxy\n"))
    c = load_clusterfile(f)
    with pytest.raises(ValidationError) as exc:
        validate(c)
    line = f.read_text().splitlines().index("    strategy: haprxy") + 1
    assert str(exc.value).startswith(f"{f}:{line}: spec.ha.strategy")


# ------------------------------------------------------------------------------------ SSH auth


def _keyless(hosts: str = "    - ips: [10.0.0.1]\n      roles: [master]\n", ssh: str = "") -> str:
    return _doc(hosts).replace("  ssh:\n    passwd: pw\n", f"  ssh:\n    user: root\n{ssh}")


def test_no_usable_auth() -> None:
    err = _validate_doc(_keyless())
    assert (err.path, err.value) == ("spec.hosts[0].ips[0]", "root@10.0.0.1:22")
    assert "no usable SSH auth" in err.why


def test_no_usable_auth_from_flags() -> None:
    c = cluster_from_flags(masters="10.0.0.1,10.0.0.2")
    with pytest.raises(ValidationError) as exc:
        validate(c)
    assert _err(exc).path == "--masters[0]"


def test_ssh_agent_is_an_auth_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("SSH_AUTH_SOCK", str(path))
        assert validate(load_clusterfile(_keyless())) == []
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "gone.sock"))
    _validate_doc(_keyless())  # a stale agent variable is not an auth source


def test_default_key_is_an_auth_source(_no_ambient_ssh: Path) -> None:
    ssh_dir = _no_ambient_ssh / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "id_ed25519").write_text("key\n")
    assert validate(load_clusterfile(_keyless())) == []


def test_ssh_config_identity_file_is_an_auth_source(_no_ambient_ssh: Path) -> None:
    ssh_dir = _no_ambient_ssh / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "lab_key").write_text("key\n")
    (ssh_dir / "config").write_text(
        "Host 192.168.*\n  IdentityFile ~/.ssh/other\n\nHost 10.0.0.* !10.0.0.9\n"
        "  IdentityFile ~/.ssh/lab_key\n"
    )
    assert validate(load_clusterfile(_keyless())) == []
    # the negated host gets no identity
    err = _validate_doc(_keyless("    - ips: [10.0.0.9]\n      roles: [master]\n"))
    assert err.value == "root@10.0.0.9:22"


def test_unreadable_key_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing_key"
    err = _validate_doc(_keyless(ssh=f"    pk: {missing}\n"))
    assert (err.path, err.value) == ("spec.ssh.pk", str(missing))
    assert "does not exist" in err.why
    err = _validate_doc(_keyless(ssh=f"    pk: {tmp_path}\n"))
    assert (err.path, err.why) == ("spec.ssh.pk", "key file is not readable")


def test_unreadable_host_level_key_file(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text("k\n")
    good.chmod(0o600)
    hosts = (
        "    - ips: [10.0.0.1]\n      roles: [master]\n"
        f"    - ips: [10.0.0.2]\n      roles: [node]\n      ssh: {{pk: {tmp_path}/bad}}\n"
    )
    err = _validate_doc(_keyless(hosts, ssh=f"    pk: {good}\n"))
    assert (err.path, err.value) == ("spec.hosts[1].ssh.pk", f"{tmp_path}/bad")


def test_unreadable_key_flag(tmp_path: Path) -> None:
    c = cluster_from_flags(masters="10.0.0.1", key=str(tmp_path / "nokey"))
    with pytest.raises(ValidationError) as exc:
        validate(c)
    assert (_err(exc).path, exc.value.value) == ("-i", str(tmp_path / "nokey"))


def test_loose_key_permissions_warn(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("k\n")
    key.chmod(0o644)
    warnings = validate(load_clusterfile(_keyless(ssh=f"    pk: {key}\n")))
    assert any(f"chmod 600 {key}" in w for w in warnings)


def test_non_root_without_sudo_password_warns(_no_ambient_ssh: Path) -> None:
    (_no_ambient_ssh / ".ssh").mkdir()
    (_no_ambient_ssh / ".ssh" / "id_rsa").write_text("k\n")
    c = load_clusterfile(_keyless().replace("user: root", "user: ops"))
    assert any("passwordless" in w for w in validate(c))


# --------------------------------------------------------------------------------------- model


def test_model_accessors() -> None:
    c = load_clusterfile(SEALKIT_CLUSTERFILE)
    assert [h.ip for h in c.hosts_with_role("worker")] == ["10.1.0.10", "10.1.0.11"]
    assert c.host("10.1.0.2").is_master
    assert c.host("10.1.0.3:22").ip == "10.1.0.3"
    with pytest.raises(UsageError, match=r"no host 10\.9\.9\.9") as exc:
        c.host("10.9.9.9")
    assert exc.value.exit_code == 2
    assert [h.ip for h in iter_hosts(c, roles=["node"])] == ["10.1.0.10", "10.1.0.11"]
    assert [h.ip for h in iter_hosts(c, ips=["10.1.0.1"])] == ["10.1.0.1"]
    with pytest.raises(ValidationError):
        list(iter_hosts(c, roles=["nod"]))


def test_master_with_node_role_is_not_a_worker() -> None:
    c = Cluster(hosts=[Host("10.0.0.1", roles=["master", "node"]), Host("10.0.0.2", roles=["node"])])
    assert [h.ip for h in c.masters] == ["10.0.0.1"]
    assert [h.ip for h in c.nodes] == ["10.0.0.2"]
    assert [h.ip for h in c.hosts_with_role("node")] == ["10.0.0.1", "10.0.0.2"]


def test_sudo_password_defaults_to_password_for_non_root() -> None:
    assert SSH(user="ops", passwd="p").sudo_passwd == "p"
    assert SSH(user="root", passwd="p").sudo_passwd is None
    assert SSH(user="ops", passwd="p", sudo_passwd="s").sudo_passwd == "s"


def test_import_has_no_side_effects() -> None:
    """Importing the model must not pull in the CLI or SSH stacks (plugins import it cheaply)."""
    root = Path(sealkit.__file__).resolve().parents[1]
    code = (
        "import sys, sealkit.cluster, sealkit.state; "
        "print(sorted(m for m in ('click', 'paramiko') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.stdout.strip() == "[]"


def test_an_empty_ssh_user_is_refused_naming_the_field() -> None:
    text = (
        "apiVersion: sealkit.io/v1\nkind: Cluster\nmetadata: {name: c}\n"
        "spec:\n  ssh: {user: ''}\n  hosts:\n  - {ips: [10.0.0.1], roles: [master]}\n"
    )
    with pytest.raises(ValidationError) as err:
        load_clusterfile(text)
    assert "spec.ssh.user" in str(err.value) and err.value.exit_code == EXIT_USAGE

"""sealkit's PKI: long-lived CAs, idempotent leaves, and the four runtimes' certificate layouts.

Every certificate is checked twice: with ``cryptography`` (``verify_chain``) and with ``openssl
verify`` in strict mode with the purpose its usages imply, so a certificate the real tools would
reject cannot pass. RSA key generation is the expensive part: stores are built once per module and
copied for tests that change them.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from sealkit.errors import CheckFailed, PluginError, SealkitError, ValidationError
from sealkit.pki import (
    CAMismatch,
    CASpec,
    CertSpec,
    ChainError,
    FileSpec,
    KubeconfigSpec,
    Layout,
    LayoutInput,
    PKIError,
    PKIStore,
    cluster_sans,
    inspect_cert,
    same_ca,
    service_ips,
    split_sans,
    verify_chain,
)
from sealkit.pki.check import fingerprint

ROOT = Path(__file__).resolve().parents[2]


def _layout_module(runtime: str):  # type: ignore[no-untyped-def]
    """The runtime's certs module, from the installed plugin or straight from the source tree."""
    name = f"sealkit_{runtime}.certs"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        sys.path.insert(0, str(ROOT / "plugins" / runtime))
        return importlib.import_module(name)


kubeadm = _layout_module("kubeadm")
k3s = _layout_module("k3s")
k0s = _layout_module("k0s")
binary = _layout_module("binary")

OPENSSL = shutil.which("openssl")
HUNDRED_YEARS = dt.timedelta(days=99 * 365)
MASTERS = ("10.213.0.11", "10.213.0.12")
NAMES = ("master-1", "master-2")
VIP = "10.103.97.2"


def host(i: int, *, master: bool = True, **kw: object) -> LayoutInput:
    """LayoutInput for master i (0-based) or, with master=False, worker i."""
    ip = MASTERS[i] if master else f"10.213.0.{21 + i}"
    name = NAMES[i] if master else f"node-{i + 1}"
    base: dict[str, object] = dict(
        host_name=name,
        host_ip=ip,
        is_master=master,
        master_ips=MASTERS,
        master_names=NAMES,
        endpoint_host=VIP,
        first_master=master and i == 0,
    )
    base.update(kw)
    return LayoutInput(**base)  # type: ignore[arg-type]


class Rendered:
    """One runtime's store plus the layouts and files of a few hosts."""

    def __init__(self, store: PKIStore, layouts: dict[str, Layout]) -> None:
        self.store = store
        self.layouts = layouts
        self.files = {h: store.render(lay) for h, lay in layouts.items()}

    def file(self, host_key: str, path: str) -> FileSpec:
        matches = [f for f in self.files[host_key] if f.path == path]
        assert matches, f"{path} not rendered for {host_key}"
        return matches[0]

    def paths(self, host_key: str) -> set[str]:
        return {f.path for f in self.files[host_key]}


def _render(tmp: Path, module, hosts: dict[str, LayoutInput]) -> Rendered:  # type: ignore[no-untyped-def]
    store = PKIStore(tmp / "pki")
    return Rendered(store, {k: module.cert_layout(v) for k, v in hosts.items()})


@pytest.fixture(scope="module")
def kubeadm_pki(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    hosts = {"m1": host(0), "m2": host(1), "w1": host(0, master=False)}
    return _render(tmp_path_factory.mktemp("kubeadm"), kubeadm, hosts)


@pytest.fixture(scope="module")
def binary_pki(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    hosts = {"m1": host(0), "w1": host(0, master=False)}
    return _render(tmp_path_factory.mktemp("binary"), binary, hosts)


@pytest.fixture(scope="module")
def k3s_pki(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return _render(tmp_path_factory.mktemp("k3s"), k3s, {"m1": host(0), "w1": host(0, master=False)})


@pytest.fixture(scope="module")
def k0s_pki(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return _render(tmp_path_factory.mktemp("k0s"), k0s, {"m1": host(0), "w1": host(0, master=False)})


def clone(rendered: Rendered, tmp_path: Path, **store_kw: object) -> PKIStore:
    """A private copy of a module store, for tests that change it."""
    shutil.copytree(rendered.store.dir, tmp_path / "pki")
    return PKIStore(tmp_path / "pki", **store_kw)  # type: ignore[arg-type]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def cert_of(f: FileSpec) -> x509.Certificate:
    return x509.load_pem_x509_certificate(f.content)


def kubeconfig_parts(text: bytes | str) -> tuple[dict, bytes, bytes, bytes]:  # type: ignore[type-arg]
    doc = yaml.safe_load(text)
    cluster = doc["clusters"][0]["cluster"]
    user = doc["users"][0]["user"]
    return (
        doc,
        base64.b64decode(cluster["certificate-authority-data"]),
        base64.b64decode(user["client-certificate-data"]),
        base64.b64decode(user["client-key-data"]),
    )


def leaves(rendered: Rendered) -> list[tuple[str, str, bytes, frozenset[str], bytes]]:
    """Every (host, what, cert_pem, usages, ca_pem) of the layouts, kubeconfigs included."""
    out = []
    for h, lay in rendered.layouts.items():
        for spec in lay.certs:
            ca_pem = rendered.store.get_ca(spec.ca).cert_pem
            pem = rendered.file(h, spec.cert_path).content
            out.append((h, spec.cert_path, pem, spec.usages, ca_pem))
        for k in lay.kubeconfigs:
            _, ca_data, cert_data, _ = kubeconfig_parts(rendered.file(h, k.path).content)
            out.append((h, k.path, cert_data, frozenset({"client"}), ca_data))
    return out


def openssl_verify(tmp: Path, ca_pem: bytes, cert_pem: bytes, purpose: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    ca, crt = tmp / "ca.pem", tmp / "cert.pem"
    ca.write_bytes(ca_pem)
    crt.write_bytes(cert_pem)
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "verify", "-x509_strict", "-purpose", purpose, "-CAfile", str(ca), str(crt)],
        capture_output=True,
        text=True,
        check=False,
    )


RUNTIMES = ["kubeadm_pki", "binary_pki", "k3s_pki", "k0s_pki"]


# ------------------------------------------------------------------------------------- chain checks
@pytest.mark.parametrize("runtime", ["kubeadm_pki", "binary_pki"])
def test_every_leaf_verifies_with_cryptography_and_openssl(
    runtime: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if OPENSSL is None:
        pytest.skip("openssl binary not installed")
    rendered: Rendered = request.getfixturevalue(runtime)
    checked = 0
    for h, what, pem, usages, ca_pem in leaves(rendered):
        verify_chain(pem, ca_pem, where=f"{what} on {h}")
        for usage, purpose in (("server", "sslserver"), ("client", "sslclient")):
            res = openssl_verify(tmp_path, ca_pem, pem, purpose)
            if usage in usages:
                assert res.returncode == 0, f"{what} on {h} ({purpose}): {res.stdout}{res.stderr}"
            else:
                assert res.returncode != 0, f"{what} on {h} passes {purpose} without that usage"
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_ca_is_a_self_signed_root_openssl_accepts(
    runtime: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if OPENSSL is None:
        pytest.skip("openssl binary not installed")
    rendered: Rendered = request.getfixturevalue(runtime)
    for lay in rendered.layouts.values():
        for spec in lay.cas:
            ca = rendered.store.get_ca(spec.name)
            info = inspect_cert(ca.cert_pem)
            assert info.is_ca and info.subject == info.issuer
            assert info.not_after - info.not_before >= HUNDRED_YEARS
            res = openssl_verify(tmp_path, ca.cert_pem, ca.cert_pem, "any")
            assert res.returncode == 0, res.stdout + res.stderr
            bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints)
            assert bc.critical and bc.value.path_length == 0
            ku = ca.cert.extensions.get_extension_for_class(x509.KeyUsage).value
            assert ku.key_cert_sign and ku.crl_sign


def test_leaves_carry_ski_aki_and_a_backdated_not_before(kubeadm_pki: Rendered) -> None:
    ca = kubeadm_pki.store.get_ca("ca")
    cert = cert_of(kubeadm_pki.file("m1", "/etc/kubernetes/pki/apiserver.crt"))
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.not_valid_before_utc < dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize("runtime", ["kubeadm_pki", "binary_pki"])
def test_default_validity_is_a_hundred_years(runtime: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(runtime)
    for h, what, pem, _, _ in leaves(rendered):
        info = inspect_cert(pem)
        assert info.not_after - info.not_before >= HUNDRED_YEARS, f"{what} on {h}"
        assert info.days_left >= 99 * 365


def test_validity_is_configurable_per_call(tmp_path: Path) -> None:
    store = PKIStore(tmp_path / "pki")
    layout = k3s.cert_layout(host(0))
    store.render(Layout(cas=layout.cas[:1]), ca_validity_days=3650)
    spec = CertSpec("x/leaf", "server-ca", "leaf", "/tmp/l.crt", "/tmp/l.key", usages=frozenset({"server"}))
    cert_pem, _ = store.issue(spec, validity_days=400)
    info = inspect_cert(cert_pem)
    assert 399 <= (info.not_after - info.not_before).days <= 401
    ca_info = inspect_cert(store.get_ca("server-ca").cert_pem)
    assert 3649 <= (ca_info.not_after - ca_info.not_before).days <= 3651


# ---------------------------------------------------------------------------------- kubeadm layout
def test_kubeadm_master_layout_matches_kubeadm(kubeadm_pki: Rendered) -> None:
    pki = "/etc/kubernetes/pki"
    expected = {
        f"{pki}/{n}"
        for n in (
            "ca.crt",
            "ca.key",
            "apiserver.crt",
            "apiserver.key",
            "apiserver-kubelet-client.crt",
            "apiserver-kubelet-client.key",
            "front-proxy-ca.crt",
            "front-proxy-ca.key",
            "front-proxy-client.crt",
            "front-proxy-client.key",
            "sa.key",
            "sa.pub",
            "etcd/ca.crt",
            "etcd/ca.key",
            "etcd/server.crt",
            "etcd/server.key",
            "etcd/peer.crt",
            "etcd/peer.key",
            "etcd/healthcheck-client.crt",
            "etcd/healthcheck-client.key",
            "apiserver-etcd-client.crt",
            "apiserver-etcd-client.key",
        )
    } | {
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/super-admin.conf",
        "/etc/kubernetes/controller-manager.conf",
        "/etc/kubernetes/scheduler.conf",
        "/var/lib/kubelet/pki/kubelet.crt",
        "/var/lib/kubelet/pki/kubelet.key",
    }
    assert kubeadm_pki.paths("m1") == expected
    # super-admin.conf only on the init node; kubelet.conf never (kubeadm join refuses it)
    assert kubeadm_pki.paths("m2") == expected - {"/etc/kubernetes/super-admin.conf"}


def test_kubeadm_apiserver_cert_has_every_san_kubeadm_requires(kubeadm_pki: Rendered) -> None:
    info = inspect_cert(kubeadm_pki.file("m2", "/etc/kubernetes/pki/apiserver.crt").content)
    assert info.common_name == "kube-apiserver"
    assert info.usages == frozenset({"server"})
    for dns in (
        "master-2",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
    ):
        assert dns in info.dns_names
    for ip in (MASTERS[1], VIP, "10.96.0.1", "127.0.0.1", "::1"):
        assert ip in info.ip_addresses
    # per-host: another master's address is not needed, and adding a master touches no other host
    assert MASTERS[0] not in info.ip_addresses


def test_kubeadm_subjects_follow_v129(kubeadm_pki: Rendered) -> None:
    def info(path: str, h: str = "m1"):  # type: ignore[no-untyped-def]
        return inspect_cert(kubeadm_pki.file(h, path).content)

    pki = "/etc/kubernetes/pki"
    kc = info(f"{pki}/apiserver-kubelet-client.crt")
    assert (kc.common_name, kc.organizations, kc.usages) == (
        "kube-apiserver-kubelet-client",
        ("kubeadm:cluster-admins",),
        frozenset({"client"}),
    )
    ec_ = info(f"{pki}/apiserver-etcd-client.crt")
    assert (ec_.common_name, ec_.organizations) == ("kube-apiserver-etcd-client", ())
    hc = info(f"{pki}/etcd/healthcheck-client.crt")
    assert (hc.common_name, hc.organizations) == ("kube-etcd-healthcheck-client", ())
    fp = info(f"{pki}/front-proxy-client.crt")
    assert fp.common_name == "front-proxy-client"
    assert fp.issuer == inspect_cert(kubeadm_pki.store.get_ca("front-proxy-ca").cert_pem).subject
    for name in ("server", "peer"):
        e = info(f"{pki}/etcd/{name}.crt", "m2")
        assert e.common_name == "master-2"
        assert e.usages == frozenset({"server", "client"})
        assert set(e.dns_names) == {"master-2", "localhost"}
        assert set(e.ip_addresses) == {MASTERS[1], "127.0.0.1", "::1"}
    kl = info("/var/lib/kubelet/pki/kubelet.crt")
    assert (kl.common_name, kl.organizations) == ("system:node:master-1", ("system:nodes",))
    assert kl.usages == frozenset({"server"}) and MASTERS[0] in kl.ip_addresses


def _kubeconfig_subject(rendered: Rendered, h: str, path: str) -> tuple[str, tuple[str, ...], str]:
    doc, _, cert_pem, _ = kubeconfig_parts(rendered.file(h, path).content)
    i = inspect_cert(cert_pem)
    return i.common_name, i.organizations, doc["clusters"][0]["cluster"]["server"]


def test_kubeadm_kubeconfigs(kubeadm_pki: Rendered) -> None:
    conf = "/etc/kubernetes"
    assert _kubeconfig_subject(kubeadm_pki, "m1", f"{conf}/admin.conf") == (
        "kubernetes-admin",
        ("kubeadm:cluster-admins",),
        f"https://{VIP}:6443",
    )
    assert _kubeconfig_subject(kubeadm_pki, "m1", f"{conf}/super-admin.conf") == (
        "kubernetes-super-admin",
        ("system:masters",),
        f"https://{VIP}:6443",
    )
    assert _kubeconfig_subject(kubeadm_pki, "m2", f"{conf}/controller-manager.conf") == (
        "system:kube-controller-manager",
        (),
        f"https://{MASTERS[1]}:6443",
    )
    assert _kubeconfig_subject(kubeadm_pki, "m2", f"{conf}/scheduler.conf") == (
        "system:kube-scheduler",
        (),
        f"https://{MASTERS[1]}:6443",
    )
    # admin.conf is one cluster-wide identity: the same bytes on every master
    admin = "/etc/kubernetes/admin.conf"
    assert kubeadm_pki.file("m1", admin).content == kubeadm_pki.file("m2", admin).content


def test_kubeadm_before_129_uses_system_masters() -> None:
    lay = kubeadm.cert_layout(host(0, kube_version="v1.28.9"))
    kc = next(c for c in lay.certs if c.cert_path.endswith("apiserver-kubelet-client.crt"))
    assert kc.organizations == ("system:masters",)
    assert {k.name for k in lay.kubeconfigs} == {
        "admin",
        f"{MASTERS[0]}/controller-manager",
        f"{MASTERS[0]}/scheduler",
    }
    assert next(k for k in lay.kubeconfigs if k.name == "admin").organizations == ("system:masters",)


def test_kubeadm_worker_gets_only_its_kubelet_serving_cert(kubeadm_pki: Rendered) -> None:
    assert kubeadm_pki.paths("w1") == {
        "/var/lib/kubelet/pki/kubelet.crt",
        "/var/lib/kubelet/pki/kubelet.key",
    }
    info = inspect_cert(kubeadm_pki.file("w1", "/var/lib/kubelet/pki/kubelet.crt").content)
    assert info.common_name == "system:node:node-1"
    assert set(info.ip_addresses) == {"10.213.0.21"}


# ------------------------------------------------------------------------------- binary, k3s, k0s
def test_binary_master_and_worker(binary_pki: Rendered) -> None:
    pki, conf = "/etc/kubernetes/pki", "/etc/kubernetes"
    m, w = binary_pki.paths("m1"), binary_pki.paths("w1")
    assert w == {
        f"{pki}/ca.crt",
        f"{pki}/kubelet.crt",
        f"{pki}/kubelet.key",
        f"{conf}/kubelet.conf",
        f"{conf}/kube-proxy.conf",
    }
    assert w < m
    for needed in (
        "apiserver.crt",
        "apiserver-kubelet-client.crt",
        "apiserver-etcd-client.crt",
        "front-proxy-client.crt",
        "front-proxy-ca.crt",
        "etcd/ca.crt",
        "etcd/server.crt",
        "etcd/peer.crt",
        "etcd/healthcheck-client.crt",
        "sa.key",
        "sa.pub",
        "ca.key",
    ):
        assert f"{pki}/{needed}" in m
    for conf_file in ("admin.conf", "controller-manager.conf", "scheduler.conf"):
        assert f"{conf}/{conf_file}" in m
    # the etcd and front-proxy CA keys never leave the controller; workers never get ca.key
    assert f"{pki}/etcd/ca.key" not in m and f"{pki}/front-proxy-ca.key" not in m
    assert _kubeconfig_subject(binary_pki, "w1", f"{conf}/kubelet.conf") == (
        "system:node:node-1",
        ("system:nodes",),
        f"https://{VIP}:6443",
    )
    assert _kubeconfig_subject(binary_pki, "w1", f"{conf}/kube-proxy.conf")[:2] == (
        "system:kube-proxy",
        (),
    )
    assert _kubeconfig_subject(binary_pki, "m1", f"{conf}/admin.conf")[:2] == (
        "kubernetes-admin",
        ("system:masters",),
    )


def test_k3s_preplaces_the_custom_ca_files(k3s_pki: Rendered) -> None:
    tls = "/var/lib/rancher/k3s/server/tls"
    names = ["server-ca", "client-ca", "request-header-ca", "etcd/server-ca", "etcd/peer-ca"]
    expected = {f"{tls}/{n}.{ext}" for n in names for ext in ("crt", "key")} | {f"{tls}/service.key"}
    assert k3s_pki.paths("m1") == expected
    assert k3s_pki.paths("w1") == set()
    cas = {inspect_cert(k3s_pki.file("m1", f"{tls}/{n}.crt").content).fingerprint_sha256 for n in names}
    assert len(cas) == 5, "the five k3s CAs must be distinct"
    sa = load_pem_private_key(k3s_pki.file("m1", f"{tls}/service.key").content, None)
    assert isinstance(sa, rsa.RSAPrivateKey)


def test_k0s_preplaces_cas_and_sa_keypair(k0s_pki: Rendered) -> None:
    pki = "/var/lib/k0s/pki"
    assert k0s_pki.paths("m1") == {
        f"{pki}/{n}"
        for n in (
            "ca.crt",
            "ca.key",
            "front-proxy-ca.crt",
            "front-proxy-ca.key",
            "etcd/ca.crt",
            "etcd/ca.key",
            "sa.key",
            "sa.pub",
        )
    }
    assert k0s_pki.paths("w1") == set()
    key = load_pem_private_key(k0s_pki.file("m1", f"{pki}/sa.key").content, None)
    pub = k0s_pki.file("m1", f"{pki}/sa.pub").content
    assert b"BEGIN PUBLIC KEY" in pub
    assert isinstance(key, rsa.RSAPrivateKey)


def test_ca_files_are_identical_on_every_master(kubeadm_pki: Rendered) -> None:
    for path in (
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/sa.key",
    ):
        assert kubeadm_pki.file("m1", path).content == kubeadm_pki.file("m2", path).content


# ------------------------------------------------------------------------------------- idempotency
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_second_run_changes_no_byte(runtime: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(runtime)
    before = snapshot(rendered.store.dir)
    for h, lay in rendered.layouts.items():
        again = rendered.store.render(lay)
        assert again == rendered.files[h], f"{h}: a re-run rendered different files"
    assert snapshot(rendered.store.dir) == before


def test_a_new_store_instance_loads_the_same_cas(kubeadm_pki: Rendered) -> None:
    again = PKIStore(kubeadm_pki.store.dir)
    for h, lay in kubeadm_pki.layouts.items():
        assert again.render(lay) == kubeadm_pki.files[h]


def test_lost_leaf_is_reissued_with_the_same_ca(kubeadm_pki: Rendered, tmp_path: Path) -> None:
    store = clone(kubeadm_pki, tmp_path)
    ca_before = store.get_ca("ca").cert_pem
    (store.dir / "certs" / MASTERS[0] / "apiserver.crt").unlink()
    files = {f.path: f for f in store.render(kubeadm_pki.layouts["m1"])}
    assert store.get_ca("ca").cert_pem == ca_before
    verify_chain(files["/etc/kubernetes/pki/apiserver.crt"].content, ca_before)
    # the key survived, so only the certificate is new
    assert files["/etc/kubernetes/pki/apiserver.key"] == kubeadm_pki.file(
        "m1", "/etc/kubernetes/pki/apiserver.key"
    )


def test_adding_a_san_changes_only_the_apiserver_certs(kubeadm_pki: Rendered, tmp_path: Path) -> None:
    store = clone(kubeadm_pki, tmp_path)
    for h, i in (("m1", 0), ("m2", 1)):
        lay = kubeadm.cert_layout(host(i, extra_sans=("api.example.com", "192.0.2.10")))
        new = {f.path: f for f in store.render(lay)}
        old = {f.path: f for f in kubeadm_pki.files[h]}
        assert new.keys() == old.keys()
        changed = {p for p in new if new[p] != old[p]}
        assert changed == {"/etc/kubernetes/pki/apiserver.crt"}, h
        info = inspect_cert(new["/etc/kubernetes/pki/apiserver.crt"].content)
        assert "api.example.com" in info.dns_names and "192.0.2.10" in info.ip_addresses
        assert (
            info.public_key_sha256
            == inspect_cert(old["/etc/kubernetes/pki/apiserver.crt"].content).public_key_sha256
        )


def test_renew_keeps_keys_unless_asked(kubeadm_pki: Rendered, tmp_path: Path) -> None:
    store = clone(kubeadm_pki, tmp_path)
    lay = kubeadm_pki.layouts["m1"]
    api = "/etc/kubernetes/pki/apiserver.crt"
    old = inspect_cert(kubeadm_pki.file("m1", api).content)
    renewed = store.renew([lay])
    assert f"certs/{MASTERS[0]}/apiserver" in renewed and "kubeconfigs/admin" in renewed
    assert len(renewed) == len(set(renewed)) == len(lay.certs) + len(lay.kubeconfigs)
    files = {f.path: f for f in store.render(lay)}
    same = inspect_cert(files[api].content)
    assert same.serial != old.serial
    assert same.public_key_sha256 == old.public_key_sha256
    for p in (
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/sa.key",
    ):
        assert files[p] == kubeadm_pki.file("m1", p), "renew must never touch CAs or the SA key"

    store.renew([lay], new_keys=True)
    files2 = {f.path: f for f in store.render(lay)}
    fresh = inspect_cert(files2[api].content)
    assert fresh.public_key_sha256 != old.public_key_sha256
    verify_chain(files2[api].content, store.get_ca("ca").cert_pem)
    _, _, cert_pem, key_pem = kubeconfig_parts(files2["/etc/kubernetes/admin.conf"].content)
    key = load_pem_private_key(key_pem, None)
    assert (
        inspect_cert(cert_pem).public_key_sha256
        != inspect_cert(
            kubeconfig_parts(kubeadm_pki.file("m1", "/etc/kubernetes/admin.conf").content)[2]
        ).public_key_sha256
    )
    assert x509.load_pem_x509_certificate(cert_pem).public_key() == key.public_key()


def test_near_expiry_is_reissued_with_the_same_key(kubeadm_pki: Rendered, tmp_path: Path) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=70 * 365)
    store = clone(kubeadm_pki, tmp_path, clock=lambda: later)
    spec = next(c for c in kubeadm_pki.layouts["m1"].certs if c.cert_path.endswith("/apiserver.crt"))
    assert store.why_reissue(spec) == "near expiry"
    cert_pem, key_pem = store.issue(spec)
    info = inspect_cert(cert_pem, now=later)
    assert info.days_left >= 99 * 365
    assert key_pem == kubeadm_pki.file("m1", "/etc/kubernetes/pki/apiserver.key").content
    assert store.why_reissue(spec) is None


def test_short_lived_cert_is_replaced_by_a_long_one(tmp_path: Path) -> None:
    """A 1-year cert (as kubeadm would mint it) never survives a run configured for 100 years."""
    store = PKIStore(tmp_path / "pki")
    store.ensure_ca(CASpec("ca", "kubernetes"))
    spec = CertSpec("x/leaf", "ca", "leaf", "/l.crt", "/l.key", key_type="ecdsa-p256")
    short, _ = store.issue(spec, validity_days=365)
    assert store.why_reissue(spec) == "near expiry"
    long_, _ = store.issue(spec)
    assert inspect_cert(long_).days_left > 99 * 365 and long_ != short


def test_key_type_change_forces_a_new_key(tmp_path: Path) -> None:
    store = PKIStore(tmp_path / "pki")
    store.ensure_ca(CASpec("ca", "kubernetes", key_type="ecdsa-p256"))
    spec = CertSpec("x/leaf", "ca", "leaf", "/l.crt", "/l.key", key_type="ecdsa-p256")
    _, k1 = store.issue(spec)
    assert isinstance(load_pem_private_key(k1, None), ec.EllipticCurvePrivateKey)
    _, k2 = store.issue(CertSpec("x/leaf", "ca", "leaf", "/l.crt", "/l.key"))
    assert isinstance(load_pem_private_key(k2, None), rsa.RSAPrivateKey)


def test_concurrent_renders_mint_one_ca(tmp_path: Path) -> None:
    store = PKIStore(tmp_path / "pki")
    layouts = [kubeadm.cert_layout(host(i, master=False)) for i in range(4)]
    with ThreadPoolExecutor(max_workers=len(layouts)) as pool:
        results = list(pool.map(store.render, layouts))  # re-raises any thread's error
    ca_pem = store.get_ca("ca").cert_pem
    for files in results:
        crt = next(f for f in files if f.path.endswith("kubelet.crt"))
        verify_chain(crt.content, ca_pem)
    assert len(list((store.dir / "ca").glob("*.crt"))) == 1


def test_ca_without_its_key_is_an_error_not_a_new_ca(tmp_path: Path) -> None:
    store = PKIStore(tmp_path / "pki")
    spec = CASpec("ca", "kubernetes", key_type="ecdsa-p256")
    ca = store.ensure_ca(spec)
    (store.dir / "ca" / "ca.key").unlink()
    with pytest.raises(PKIError, match="never regenerates a CA"):
        store.ensure_ca(spec)
    assert (store.dir / "ca" / "ca.crt").read_bytes() == ca.cert_pem


# ------------------------------------------------------------------------------------- files, modes
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_file_modes(runtime: str, request: pytest.FixtureRequest) -> None:
    rendered: Rendered = request.getfixturevalue(runtime)
    for files in rendered.files.values():
        for f in files:
            secret = f.path.endswith((".key", ".conf"))
            assert f.mode == (0o600 if secret else 0o644), f.path
            assert f.secret == secret
    store_dir = rendered.store.dir
    assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700
    for p in store_dir.rglob("*.key"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_kubeconfig_parses_with_embedded_data(kubeadm_pki: Rendered) -> None:
    doc, ca, cert_pem, key_pem = kubeconfig_parts(
        kubeadm_pki.file("m1", "/etc/kubernetes/admin.conf").content
    )
    assert doc["kind"] == "Config" and doc["apiVersion"] == "v1"
    assert doc["current-context"] == "kubernetes-admin@kubernetes"
    assert doc["contexts"][0]["context"] == {"cluster": "kubernetes", "user": "kubernetes-admin"}
    assert ca == kubeadm_pki.store.get_ca("ca").cert_pem
    key = load_pem_private_key(key_pem, None)
    assert x509.load_pem_x509_certificate(cert_pem).public_key() == key.public_key()


def test_controller_kubeconfig_reuses_the_admin_identity(kubeadm_pki: Rendered) -> None:
    spec = next(k for k in kubeadm_pki.layouts["m1"].kubeconfigs if k.name == "admin")
    local = KubeconfigSpec(
        spec.name, spec.path, "https://127.0.0.1:16443", spec.common_name, spec.organizations
    )
    doc, _, cert_pem, _ = kubeconfig_parts(kubeadm_pki.store.kubeconfig(local))
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:16443"
    assert cert_pem == kubeconfig_parts(kubeadm_pki.file("m1", spec.path).content)[2]


def test_layout_writing_one_path_twice_is_refused(tmp_path: Path) -> None:
    spec = CertSpec("a", "ca", "a", "/etc/x.crt", "/etc/x.key")
    twin = CertSpec("b", "ca", "b", "/etc/x.crt", "/etc/y.key")
    with pytest.raises(PluginError, match=r"/etc/x\.crt"):
        PKIStore(tmp_path / "pki").render(Layout(certs=(spec, twin)))


def test_leaf_signed_by_an_unlisted_ca_is_refused(tmp_path: Path) -> None:
    spec = CertSpec("a", "nope", "a", "/etc/x.crt", "/etc/x.key")
    with pytest.raises(PluginError, match="'nope'"):
        PKIStore(tmp_path / "pki").render(Layout(certs=(spec,)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cert_path": "etc/x.crt"}, "absolute"),
        ({"usages": frozenset({"signing"})}, "usages"),
        ({"name": "../escape"}, "invalid"),
        ({"key_type": "dsa"}, "key_type"),
        ({"ip_addresses": ("not-an-ip",)}, "not an IP"),
    ],
)
def test_bad_specs_fail_loudly(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = dict(name="a", ca="ca", common_name="a", cert_path="/x.crt", key_path="/x.key")
    base.update(kwargs)
    with pytest.raises(PluginError, match=match):
        CertSpec(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- checks
def test_same_ca_refuses_a_foreign_ca_naming_host_file_and_fix(kubeadm_pki: Rendered, tmp_path: Path) -> None:
    ours = kubeadm_pki.store.get_ca("ca").cert_pem
    same_ca(ours, ours, host="10.213.0.11", path="/etc/kubernetes/pki/ca.crt")
    foreign = PKIStore(tmp_path / "pki").ensure_ca(CASpec("ca", "kubernetes", key_type="ecdsa-p256"))
    with pytest.raises(CAMismatch) as err:
        same_ca(ours, foreign.cert_pem, host="10.213.0.11", path="/etc/kubernetes/pki/ca.crt")
    text = str(err.value)
    assert "10.213.0.11" in text and "/etc/kubernetes/pki/ca.crt" in text
    assert fingerprint(x509.load_pem_x509_certificate(ours)) in text
    assert foreign.fingerprint in text
    assert "sealkit reset" in text
    assert isinstance(err.value, CheckFailed) and err.value.exit_code == 5


def test_verify_chain_explains_failures(kubeadm_pki: Rendered, tmp_path: Path) -> None:
    leaf = kubeadm_pki.file("m1", "/etc/kubernetes/pki/apiserver.crt").content
    etcd_ca = kubeadm_pki.store.get_ca("etcd-ca").cert_pem
    with pytest.raises(ChainError, match="not by the cluster CA"):
        verify_chain(leaf, etcd_ca)
    # same CA name, different key: a regenerated CA
    impostor = PKIStore(tmp_path / "pki").ensure_ca(CASpec("ca", "kubernetes", key_type="ecdsa-p256"))
    with pytest.raises(ChainError, match="signature does not verify"):
        verify_chain(leaf, impostor.cert_pem)
    with pytest.raises(ChainError, match="expired"):
        verify_chain(
            leaf,
            kubeadm_pki.store.get_ca("ca").cert_pem,
            now=dt.datetime.now(dt.UTC) + dt.timedelta(days=200 * 365),
        )
    with pytest.raises(ChainError, match="not a CA"):
        verify_chain(leaf, leaf)


def test_inspect_cert_reports_what_cert_check_shows(kubeadm_pki: Rendered) -> None:
    pem = kubeadm_pki.file("m1", "/etc/kubernetes/pki/apiserver.crt").content
    info = inspect_cert(pem)
    assert info.subject == "CN=kube-apiserver"
    assert info.issuer == "CN=kubernetes"
    assert not info.is_ca and info.days_left > 99 * 365
    assert len(info.fingerprint_sha256.split(":")) == 32
    assert int(info.serial, 16) == x509.load_pem_x509_certificate(pem).serial_number
    names = dict(kubeadm_pki.store.inventory())
    assert names[f"certs/{MASTERS[0]}/apiserver"] == info
    assert names["ca/ca"].is_ca


def test_unreadable_files_raise_sealkit_errors() -> None:
    with pytest.raises(SealkitError, match="not a PEM certificate"):
        inspect_cert(b"garbage", where="/etc/kubernetes/pki/ca.crt")


# --------------------------------------------------------------------------------------------- SANs
def test_cluster_sans_always_include_the_basics_sorted_and_deduplicated() -> None:
    dns, ips = cluster_sans(
        ["10.0.0.12", "10.0.0.11", "10.0.0.11"],
        ["Master-1", "master-1", "master-2"],
        "apiserver.cluster.local",
        "10.96.0.0/12",
        "cluster.local",
        ["api.example.com", "10.0.0.11", " 192.0.2.7 ", "[fd00::7]", ""],
    )
    assert dns == tuple(sorted(dns))
    assert set(dns) == {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "master-1",
        "master-2",
        "apiserver.cluster.local",
        "api.example.com",
    }
    assert ips == (
        "10.0.0.11",
        "10.0.0.12",
        "10.96.0.1",
        "127.0.0.1",
        "192.0.2.7",
        "::1",
        "fd00::7",
    )


def test_cluster_sans_endpoint_ip_and_dual_stack_service_cidr() -> None:
    dns, ips = cluster_sans([], [], "10.103.97.2", "10.96.0.0/12,fd00:10:96::/112", "corp.local")
    assert "10.103.97.2" in ips and "fd00:10:96::1" in ips and "10.96.0.1" in ips
    assert "kubernetes.default.svc.corp.local" in dns and "10.103.97.2" not in dns


@pytest.mark.parametrize("bad", ["under_score.example", "-leading.example", "a..b", "x" * 300])
def test_invalid_san_is_rejected_with_its_field(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"spec\.certs\.sans\[1\]"):
        split_sans(["ok.example.com", bad])


def test_wildcard_san_is_accepted() -> None:
    assert split_sans(["*.apps.example.com"]) == (["*.apps.example.com"], [])


def test_service_ips_rejects_garbage() -> None:
    with pytest.raises(ValidationError, match="serviceCIDR"):
        service_ips("10.96.0.0/33")

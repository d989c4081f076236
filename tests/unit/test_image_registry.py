"""Push/pull against a real Distribution registry (Debian's docker-registry) on 127.0.0.1.

Variants: plain http, TLS with a custom CA, htpasswd basic auth, and token auth with a small
token server in this process (RS256 JWTs whose x5c certificate the registry trusts, the same flow
as Docker Hub). skopeo checks that what we push is readable by another client. A fake registry
(stdlib http.server) serves tampered content to prove pulls verify digests.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import io
import ipaddress
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from sealkit.errors import EXIT_CONNECT, ConnectError, ImageError
from sealkit.image import ImageStore, RegistryOptions
from sealkit.image import store as store_mod
from sealkit.image.oci import canonical_json, sha256_digest
from sealkit.image.remote import RegistryClient

REGISTRY_BIN = Path("/usr/bin/docker-registry")
pytestmark = pytest.mark.skipif(
    not REGISTRY_BIN.exists(), reason="needs Debian's docker-registry (apt install docker-registry)"
)
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")

USER, PASSWORD = "alice", "s3cret-pw"


# ---- infrastructure -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def noise(seed: str, size: int) -> bytes:
    """Deterministic incompressible bytes (so layers are big enough to upload in chunks)."""
    out = bytearray()
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    for _ in range(200):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"registry exited: {log.read_text() if log else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Certs:
    ca: Path
    cert: Path
    key: Path
    cert_dir: Path  # skopeo --cert-dir layout (ca.crt)


def make_certs(root: Path) -> Certs:
    root.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealkit test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certs(root / "ca.pem", root / "server.pem", root / "server.key", root / "certdir")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    paths.key.chmod(0o600)
    paths.cert_dir.mkdir()
    shutil.copy(paths.ca, paths.cert_dir / "ca.crt")
    return paths


class TokenServer:
    """Issues registry bearer tokens (Distribution's JWT format) for ``alice`` only.

    Anonymous or wrongly-authenticated requests get a token with no access (anonymous) or a
    401 (bad password), like a real auth service.
    """

    def __init__(self, root: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealkit test token signer")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = root / "token-signer.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, object]] = []
        self.port = free_port()
        self.service = "sealkit-test-registry"
        self.issuer = "sealkit-test-auth"
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def handle(self, req: http.server.BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(req.path).query)
        user = None
        auth = req.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if (name, pw) != (USER, PASSWORD):
                self.requests.append({"user": name, "scopes": query.get("scope", []), "ok": False})
                req.send_response(401)
                req.end_headers()
                return
            user = name
        scopes = query.get("scope", [])
        self.requests.append(
            {"user": user, "scopes": scopes, "ok": True, "service": query.get("service", [None])[0]}
        )
        access = []
        if user == USER:
            for scope in scopes:
                kind, name, actions = scope.split(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        token = self.sign(
            {
                "iss": self.issuer,
                "sub": user or "",
                "aud": self.service,
                "exp": int(time.time()) + 300,
                "nbf": int(time.time()) - 60,
                "iat": int(time.time()),
                "jti": hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:16],
                "access": access,
            }
        )
        body = json.dumps({"token": token, "expires_in": 300}).encode()
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def sign(self, claims: dict[str, object]) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(sig)}"

    def __enter__(self) -> TokenServer:
        self.thread.start()
        wait_for_port(self.port, None, None)
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@dataclass
class Registry:
    """One docker-registry process with its own config and storage; stopped by its PID."""

    root: Path
    tls: Certs | None = None
    htpasswd: bool = False
    token: TokenServer | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Registry:
        self.root.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root / 'data'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: sealkit-test-secret",
        ]
        if self.tls:
            lines += ["  tls:", f"    certificate: {self.tls.cert}", f"    key: {self.tls.key}"]
        if self.htpasswd:
            import bcrypt  # a paramiko dependency, so always there

            hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
            (self.root / "htpasswd").write_text(f"{USER}:{hashed}\n")
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: sealkit-test",
                f"    path: {self.root / 'htpasswd'}",
            ]
        if self.token:
            lines += [
                "auth:",
                "  token:",
                f"    realm: {self.token.realm}",
                f"    service: {self.token.service}",
                f"    issuer: {self.token.issuer}",
                f"    rootcertbundle: {self.token.bundle}",
            ]
        config = self.root / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        log = self.root / "registry.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(REGISTRY_BIN), "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self.proc, log)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def http_registry(tmp_path_factory) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("reg-http")).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory, certs) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("reg-tls"), tls=certs).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory, certs) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("reg-auth"), tls=certs, htpasswd=True).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("reg-token")
    with TokenServer(root) as token:
        reg = Registry(root, token=token).start()
        yield reg
        reg.stop()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> ImageStore:
    """A local store with a two-platform cluster image ``k3s:v1``."""
    root = tmp_path_factory.mktemp("built")
    ctx = root / "ctx"
    for arch in ("amd64", "arm64"):
        (ctx / "bin" / arch).mkdir(parents=True)
        (ctx / "bin" / arch / "k3s").write_bytes(f"k3s {arch}\n".encode() + noise(arch, 20_000))
        (ctx / "bin" / arch / "k3s").chmod(0o755)
    (ctx / "manifests").mkdir()
    (ctx / "manifests" / "a.yaml").write_text("kind: ConfigMap\n")
    (ctx / "Kubefile").write_text(
        "FROM scratch\nLABEL sealkit.io/type=rootfs sealkit.io/runtime=k3s "
        "sealkit.io/version=v1.29.3\nCOPY bin/${TARGETARCH}/ bin/\nCOPY manifests manifests\n"
        'CMD ["scripts/init.sh"]\n'
    )
    store = ImageStore(root / "store")
    store.build(ctx / "Kubefile", ctx, "k3s:v1", platforms="linux/amd64,linux/arm64")
    return store


class Recorder:
    """Wraps RegistryClient._raw to record (method, path) of every HTTP request sent."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str]] = []
        original = RegistryClient._raw

        def raw(client, method, url, headers, body=None):
            self.calls.append((method, urllib.parse.urlsplit(url).path))
            return original(client, method, url, headers, body)

        monkeypatch.setattr(RegistryClient, "_raw", raw)

    def count(self, method: str, contains: str) -> int:
        return sum(1 for m, p in self.calls if m == method and contains in p)


def skopeo(*args: str) -> bytes:
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, timeout=120).stdout


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- plain http -----------------------------------------------------------------------------


@needs_skopeo
def test_push_http_skopeo_reads_it_and_pull_by_digest_matches(built, http_registry, tmp_path):
    local = built.inspect("k3s:v1")["digest"]
    dest = f"{http_registry.host}/sealkit/k3s:v1"
    assert built.push("k3s:v1", dest, insecure=True) == local

    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{dest}"))
    assert info["Digest"] == local
    assert info["Labels"]["sealkit.io/runtime"] == "k3s"
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{dest}")
    assert sha256_digest(raw) == local  # the registry holds our exact bytes

    other = ImageStore(tmp_path / "other")
    pulled = other.pull(f"{http_registry.host}/sealkit/k3s@{local}", insecure=True)
    assert pulled == local
    assert (
        other.inspect(f"{http_registry.host}/sealkit/k3s@{local}")["platforms"]
        == built.inspect("k3s:v1")["platforms"]
    )
    for arch in ("amd64", "arm64"):
        mine = built.unpack("k3s:v1", tmp_path / f"a-{arch}", arch=arch)
        theirs = other.unpack(f"{http_registry.host}/sealkit/k3s@{local}", tmp_path / f"b-{arch}", arch=arch)
        assert files(mine) == files(theirs)
        assert (theirs / "bin/k3s").read_bytes().startswith(f"k3s {arch}".encode())

    narrow = ImageStore(tmp_path / "narrow")
    arm = narrow.pull(dest, insecure=True, platform="linux/arm64")
    expected = [p["digest"] for p in built.inspect("k3s:v1")["platforms"] if p["platform"] == "linux/arm64"]
    assert [arm] == expected
    assert narrow.list()[0].platforms == ["linux/arm64"]


def test_second_push_skips_blobs_and_chunked_upload_works(built, http_registry, monkeypatch, tmp_path):
    calls = Recorder(monkeypatch)
    dest = f"{http_registry.host}/sealkit/skip:v1"
    built.push("k3s:v1", dest, insecure=True)
    first_uploads = calls.count("POST", "/blobs/uploads/")
    assert first_uploads >= 4  # 2 configs, 3+ distinct layers
    calls.calls.clear()
    built.push("k3s:v1", dest, insecure=True)
    assert calls.count("HEAD", "/blobs/") >= first_uploads
    assert calls.count("POST", "/blobs/uploads/") == 0

    calls.calls.clear()
    chunked = f"{http_registry.host}/sealkit/chunked:v1"
    digest = built.push("k3s:v1", chunked, insecure=True, chunk_size=1024)
    assert calls.count("PATCH", "/blobs/uploads/") > first_uploads  # several chunks per layer
    store = ImageStore(tmp_path / "s")
    assert store.pull(chunked, insecure=True) == digest
    assert files(store.unpack(chunked, tmp_path / "u")) == files(built.unpack("k3s:v1", tmp_path / "v"))


def test_pull_unknown_tag_is_an_image_error(http_registry, tmp_path):
    with pytest.raises(ImageError, match="not found") as err:
        ImageStore(tmp_path / "s").pull(f"{http_registry.host}/nothing/here:v9", insecure=True)
    assert "MANIFEST_UNKNOWN" in str(err.value) or "NAME_UNKNOWN" in str(err.value)


@needs_skopeo
def test_build_fetches_listed_images_from_registry(built, http_registry, tmp_path):
    # a "container image" in the registry, referenced by the cluster image's shim list
    ctx = tmp_path / "cimg"
    (ctx / "bin").mkdir(parents=True)
    (ctx / "bin" / "sh").write_text("busybox\n")
    (ctx / "Kubefile").write_text("FROM scratch\nCOPY bin bin\n")
    mirror = ImageStore(tmp_path / "mirror")
    mirror.build(ctx / "Kubefile", ctx, "busybox:1.36", platforms="linux/amd64,linux/arm64")
    ref = f"{http_registry.host}/library/busybox:1.36"
    mirror.push("busybox:1.36", ref, insecure=True)

    cluster = tmp_path / "cluster"
    (cluster / "images" / "shim").mkdir(parents=True)
    (cluster / "images" / "shim" / "list").write_text(f"# images\n{ref}\n")
    (cluster / "Kubefile").write_text("FROM scratch\nCOPY images/shim images/shim\n")
    store = ImageStore(tmp_path / "store")
    store.build(
        cluster / "Kubefile",
        cluster,
        "app:v1",
        platforms="linux/amd64",
        registry=RegistryOptions(insecure=True),
    )
    out = store.unpack("app:v1", tmp_path / "rootfs")
    raw = skopeo("inspect", "--raw", f"oci:{out / 'images/oci'}:{ref}")
    assert json.loads(raw)["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    amd = [p["digest"] for p in mirror.inspect("busybox:1.36")["platforms"] if p["platform"] == "linux/amd64"]
    assert [sha256_digest(raw)] == amd

    broken = ImageStore(tmp_path / "broken")
    (cluster / "images" / "shim" / "list").write_text(f"{http_registry.host}/library/nope:1\n")
    with pytest.raises(ImageError, match="not found") as err:
        broken.build(cluster / "Kubefile", cluster, "app:v2", registry=RegistryOptions(insecure=True))
    assert "--images-from DIR" in str(err.value)
    assert broken.list() == []


# ---- TLS with a custom CA -------------------------------------------------------------------


@needs_skopeo
def test_tls_with_custom_ca(built, tls_registry, certs, tmp_path):
    dest = f"{tls_registry.host}/sealkit/k3s:v1"
    with pytest.raises(ConnectError, match="not trusted") as err:
        built.push("k3s:v1", dest)
    assert err.value.exit_code == EXIT_CONNECT and "--ca-file" in str(err.value)

    digest = built.push("k3s:v1", dest, ca_file=certs.ca)
    info = json.loads(skopeo("inspect", "--cert-dir", str(certs.cert_dir), f"docker://{dest}"))
    assert info["Digest"] == digest
    other = ImageStore(tmp_path / "o")
    assert other.pull(f"{tls_registry.host}/sealkit/k3s@{digest}", ca_file=certs.ca) == digest


# ---- htpasswd basic auth --------------------------------------------------------------------


@needs_skopeo
def test_basic_auth(built, auth_registry, certs, tmp_path):
    dest = f"{auth_registry.host}/sealkit/k3s:v1"
    with pytest.raises(ConnectError, match="requires a username and password") as err:
        built.push("k3s:v1", dest, ca_file=certs.ca)
    assert err.value.exit_code == EXIT_CONNECT
    with pytest.raises(ConnectError, match="authentication failed") as err:
        built.push("k3s:v1", dest, ca_file=certs.ca, username=USER, password="wrong")
    assert "wrong" not in str(err.value)

    digest = built.push("k3s:v1", dest, ca_file=certs.ca, username=USER, password=PASSWORD)
    authfile = tmp_path / "auth.json"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    authfile.write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    authfile.chmod(0o600)
    info = json.loads(
        skopeo(
            "inspect",
            "--cert-dir",
            str(certs.cert_dir),
            "--authfile",
            str(authfile),
            f"docker://{dest}",
        )
    )
    assert info["Digest"] == digest
    empty = tmp_path / "none.json"
    empty.write_text("{}")
    refused = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--cert-dir",
            str(certs.cert_dir),
            "--authfile",
            str(empty),
            f"docker://{dest}",
        ],
        capture_output=True,
        timeout=120,
    )
    assert refused.returncode != 0  # the registry really enforces auth

    other = ImageStore(tmp_path / "o")
    with pytest.raises(ConnectError):
        other.pull(dest, ca_file=certs.ca)
    assert other.pull(dest, ca_file=certs.ca, username=USER, password=PASSWORD) == digest


# ---- token auth -----------------------------------------------------------------------------


def test_token_auth(built, token_registry, tmp_path):
    token = token_registry.token
    assert token is not None
    dest = f"{token_registry.host}/sealkit/k3s:v1"
    with pytest.raises(ConnectError, match=r"token server .* refused user 'alice'"):
        built.push("k3s:v1", dest, insecure=True, username=USER, password="wrong")
    with pytest.raises(ConnectError, match="authentication failed"):
        built.push("k3s:v1", dest, insecure=True)  # anonymous gets a token without access

    token.requests.clear()
    digest = built.push("k3s:v1", dest, insecure=True, username=USER, password=PASSWORD)
    granted = [r for r in token.requests if r["ok"] and r["user"] == USER]
    assert granted and all(r["service"] == token.service for r in granted)
    assert "repository:sealkit/k3s:pull,push" in granted[-1]["scopes"]
    assert len(token.requests) <= 2  # the token is reused, not fetched per request

    other = ImageStore(tmp_path / "o")
    with pytest.raises(ConnectError):
        other.pull(dest, insecure=True)
    pulled = other.pull(
        f"{token_registry.host}/sealkit/k3s@{digest}",
        insecure=True,
        username=USER,
        password=PASSWORD,
    )
    assert pulled == digest
    assert other.labels(f"{token_registry.host}/sealkit/k3s@{digest}")["sealkit.io/type"] == "rootfs"


# ---- a lying registry -----------------------------------------------------------------------


class FakeRegistry:
    """Serves one Docker schema2 image; ``tamper`` decides what gets corrupted."""

    def __init__(self, tamper: str) -> None:
        self.layer = b"layer bytes"
        self.config = canonical_json(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
        )
        self.manifest = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": sha256_digest(self.config),
                    "size": len(self.config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": sha256_digest(self.layer),
                        "size": len(self.layer),
                    }
                ],
            }
        )
        self.tamper = tamper
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.serve(self)

            def log_message(self, *args: object) -> None:
                pass

        class Storage(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.storage_auth.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.send_header("Content-Length", str(len(fake.layer)))
                self.end_headers()
                self.wfile.write(fake.layer)

            def log_message(self, *args: object) -> None:
                pass

        self.seen_auth: list[str | None] = []
        self.storage_auth: list[str | None] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.storage = http.server.ThreadingHTTPServer(("localhost", 0), Storage)
        self.store_host = f"localhost:{self.storage.server_address[1]}"
        self.storage_thread = threading.Thread(target=self.storage.serve_forever, args=(0.05,), daemon=True)

    def serve(self, req: http.server.BaseHTTPRequestHandler) -> None:
        path = req.path
        body, ctype, digest = b"{}", "application/json", None
        if self.tamper.startswith("realm-"):  # a Bearer challenge naming a token server elsewhere
            self.seen_auth.append(req.headers.get("Authorization"))
            realm = {
                "realm-other-host": f"http://{self.store_host}/token",
                "realm-other-https": f"https://{self.store_host}/token",
            }[self.tamper]
            req.send_response(401)
            req.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="fake"')
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        if self.tamper == "huge" and path.startswith("/v2/x/manifests/"):
            req.send_response(200)
            req.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            req.end_headers()  # no Content-Length: the body just goes on
            chunk = b" " * (1 << 20)
            try:
                for _ in range(64):
                    req.wfile.write(chunk)
            except OSError:
                pass  # the client stopped reading, as it should
            return
        if self.tamper == "redirect":
            self.seen_auth.append(req.headers.get("Authorization"))
            if (
                req.headers.get("Authorization")
                != "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            ):
                req.send_response(401)
                req.send_header("WWW-Authenticate", 'Basic realm="fake"')
                req.send_header("Content-Length", "0")
                req.end_headers()
                return
            if path == f"/v2/x/blobs/{sha256_digest(self.layer)}":
                req.send_response(307)
                req.send_header("Location", f"http://{self.store_host}/storage/layer")
                req.send_header("Content-Length", "0")
                req.end_headers()
                return
        if path.startswith("/v2/x/manifests/"):
            body, ctype = self.manifest, "application/vnd.docker.distribution.manifest.v2+json"
            digest = sha256_digest(body)
            if self.tamper == "manifest":
                body = body.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
        elif path == f"/v2/x/blobs/{sha256_digest(self.config)}":
            body = self.config
        elif path == f"/v2/x/blobs/{sha256_digest(self.layer)}":
            body = b"LAYER BYTES" if self.tamper == "layer" else self.layer
        elif path != "/v2/":
            req.send_response(404)
            req.end_headers()
            return
        req.send_response(200)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        if digest:
            req.send_header("Docker-Content-Digest", digest)
        req.end_headers()
        req.wfile.write(body)

    def __enter__(self) -> FakeRegistry:
        self.thread.start()
        self.storage_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server, thread in ((self.httpd, self.thread), (self.storage, self.storage_thread)):
            server.shutdown()
            server.server_close()
            thread.join()


@pytest.mark.parametrize("tamper", ["manifest", "layer"])
def test_pull_verifies_digests(tmp_path, tamper):
    with FakeRegistry(tamper) as fake:
        store = ImageStore(tmp_path / "s")
        with pytest.raises(ImageError, match="failed verification") as err:
            store.pull(f"{fake.host}/x:v1", insecure=True)
        assert "expected" in str(err.value) and "got sha256:" in str(err.value)
        assert store.list() == []
        assert list(store.layout.blobs.iterdir()) == []


def test_pull_accepts_docker_schema2(tmp_path):
    with FakeRegistry("nothing") as fake:
        store = ImageStore(tmp_path / "s")
        digest = store.pull(f"{fake.host}/x:v1", insecure=True)
        assert digest == sha256_digest(fake.manifest)
        assert store.list()[0].platforms == ["linux/amd64"]


def test_blob_redirect_to_other_host_does_not_leak_credentials(tmp_path):
    with FakeRegistry("redirect") as fake:
        store = ImageStore(tmp_path / "s")
        with pytest.raises(ConnectError, match="requires a username and password"):
            store.pull(f"{fake.host}/x:v1", insecure=True)
        digest = store.pull(f"{fake.host}/x:v1", insecure=True, username=USER, password=PASSWORD)
        assert digest == sha256_digest(fake.manifest)
        assert fake.storage_auth == [None]  # followed the redirect, without the password
        assert any(a and a.startswith("Basic ") for a in fake.seen_auth)


def test_unbounded_manifest_is_refused_without_reading_it_all(tmp_path):
    with FakeRegistry("huge") as fake:
        store = ImageStore(tmp_path / "s")
        with pytest.raises(ImageError, match="longer than the 4194304 bytes"):
            store.pull(f"{fake.host}/x:v1", insecure=True)
        assert store.list() == []


@pytest.mark.parametrize("tamper", ["realm-other-host", "realm-other-https"])
def test_credentials_never_go_to_a_token_server_on_another_host(tmp_path, tamper):
    with FakeRegistry(tamper) as fake:
        store = ImageStore(tmp_path / "s")
        with pytest.raises(ConnectError, match="refused to send them") as err:
            store.pull(f"{fake.host}/x:v1", insecure=True, username=USER, password=PASSWORD)
        assert "not the registry's own host" in err.value.message
        assert PASSWORD not in str(err.value)
        assert fake.storage_auth == []  # the "token server" got no request at all


def test_credentials_never_go_to_a_plain_http_realm_of_a_tls_registry():
    client = RegistryClient("reg.example.com", RegistryOptions(username=USER, password=PASSWORD))
    with pytest.raises(ConnectError, match="over plain http"):
        client._fetch_token({"realm": "http://reg.example.com/token"}, {"repository:x:pull"})
    other = RegistryClient(
        "registry-1.docker.io",
        RegistryOptions(username=USER, password=PASSWORD, token_hosts=frozenset({"auth.docker.io"})),
    )
    with pytest.raises(ConnectError, match="not the registry's own host"):
        other._check_realm("https://evil.example/token")
    other._check_realm("https://auth.docker.io/token")  # configured: allowed
    hub = RegistryClient("registry-1.docker.io", RegistryOptions(username=USER, password=PASSWORD))
    hub._check_realm("https://auth.docker.io/token")  # Docker Hub's own token server, known
    with pytest.raises(ConnectError, match="over plain http"):
        hub._check_realm("http://auth.docker.io/token")


def test_archive_with_a_huge_index_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "MAX_JSON_BYTES", 1000)
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in (("oci-layout", b"{}"), ("index.json", b" " * 5000 + b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ImageError, match=r"index\.json is 5002 bytes"):
        ImageStore(tmp_path / "s").load(archive)


def test_oversized_json_blob_is_refused_unread(tmp_path, monkeypatch):
    from sealkit.image import layout as layout_mod

    layout = layout_mod.OciLayout(tmp_path / "l").ensure()
    digest = layout.write_blob(b"{" + b" " * 5000 + b"}")
    monkeypatch.setattr(layout_mod, "MAX_JSON_BYTES", 1000)
    with pytest.raises(ImageError, match="is 5002 bytes, more than the 1000 sealkit reads"):
        layout.read_json(digest)
    monkeypatch.setattr(layout_mod, "MAX_JSON_BYTES", 16 << 20)
    assert layout.read_json(digest) == {}

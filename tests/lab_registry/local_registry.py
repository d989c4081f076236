"""Run the real Distribution registry on loopback with sealkit's own config, cert and htpasswd.

Used by unit tests (no lab needed) to check what sealkit renders against the real binary: TLS from
the cluster CA, bcrypt htpasswd auth, and the sync client.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sealkit.context import RegistryInfo
from sealkit.pki.store import PKIStore
from sealkit.registry import service

DEBIAN_REGISTRY = "/usr/bin/docker-registry"


def registry_binary() -> str | None:
    """Debian's registry binary (the cluster image ships its own as bin/registry)."""
    return shutil.which("docker-registry") or (DEBIAN_REGISTRY if Path(DEBIAN_REGISTRY).exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalRegistry:
    info: RegistryInfo
    ca_file: Path
    data_dir: Path
    log_file: Path

    @property
    def address(self) -> str:
        return f"{self.info.hosts[0]}:{self.info.port}"


def _wait_ready(
    port: int, ca_file: Path, proc: subprocess.Popen[bytes], log_file: Path, ip: str = "127.0.0.1"
) -> None:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited rc={proc.returncode}: {log_file.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"https://{ip}:{port}/v2/", context=ctx, timeout=2)
        except urllib.error.HTTPError as err:
            if err.code == 401:  # up, and asking for credentials
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
            continue
        return
    raise RuntimeError(f"registry did not come up on :{port}: {log_file.read_text()[-2000:]}")


@contextlib.contextmanager
def local_registry(
    tmp: Path,
    binary: str,
    *,
    ip: str = "127.0.0.1",
    port: int | None = None,
    pki: PKIStore | None = None,
    creds: service.Credentials | None = None,
) -> Iterator[LocalRegistry]:
    """Start the registry on ``ip`` (a loopback address) and ``port`` (default: a free one), with a
    certificate for ``ip`` from ``pki``'s cluster CA (default: a CA of its own); stop it (by PID) on
    exit. Several registries of one cluster share ``pki`` and ``creds``."""
    creds = creds or service.Credentials.generate()
    pki = pki or PKIStore(tmp / "pki")
    ca = pki.ensure_ca(service.ca_spec())
    cert, key = pki.issue(service.cert_spec("sealkit.hub", ip))
    etc = tmp / "etc"
    etc.mkdir(parents=True)
    (etc / "tls.crt").write_bytes(cert)
    (etc / "tls.key").write_bytes(key)
    (etc / "tls.key").chmod(0o600)
    (etc / "ca.crt").write_bytes(ca.cert_pem)
    (etc / "htpasswd").write_text(service.render_htpasswd(creds))
    port = port or free_port()
    data = tmp / "data"
    config = service.render_config(
        port=port,
        http_secret=creds.http_secret,
        data_dir=str(data),
        cert_path=str(etc / "tls.crt"),
        key_path=str(etc / "tls.key"),
        htpasswd_path=str(etc / "htpasswd"),
    ).replace(f"addr: :{port}", f"addr: {ip}:{port}")
    (etc / "config.yml").write_text(config)
    log_file = tmp / "registry.log"
    with open(log_file, "wb") as log:
        proc = subprocess.Popen([binary, "serve", str(etc / "config.yml")], stdout=log, stderr=log)
    try:
        _wait_ready(port, etc / "ca.crt", proc, log_file, ip)
        info = RegistryInfo(
            domain="sealkit.hub",
            port=port,
            hosts=(ip,),
            username=creds.username,
            password=creds.password,
            ca_pem=ca.cert_pem,
        )
        yield LocalRegistry(info, etc / "ca.crt", data, log_file)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _start(binary: str, config: Path, log_file: Path, port: int, ca_file: Path) -> subprocess.Popen[bytes]:
    with open(log_file, "wb") as log:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        _wait_ready(port, ca_file, proc, log_file)
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        raise
    return proc


@contextlib.contextmanager
def local_registry_pair(tmp: Path, binary: str) -> Iterator[tuple[LocalRegistry, LocalRegistry]]:
    """sealkit's two registry instances over one storage on loopback, configured as
    :func:`sealkit.registry.service.service_files` renders them: ``(pull, push)`` — the read-only one
    with the pull account, the read-write one with the push account. Stopped (by PID) on exit."""
    push_creds = service.Credentials.generate()
    pull_creds = service.Credentials.generate(f"sealkit{service.PULL_USER_SUFFIX}")
    pki = PKIStore(tmp / "pki")
    ca = pki.ensure_ca(service.ca_spec())
    cert, key = pki.issue(service.cert_spec("sealkit.hub", "127.0.0.1"))
    etc = tmp / "etc"
    etc.mkdir(parents=True)
    (etc / "tls.crt").write_bytes(cert)
    (etc / "tls.key").write_bytes(key)
    (etc / "tls.key").chmod(0o600)
    (etc / "ca.crt").write_bytes(ca.cert_pem)
    data = tmp / "data"
    regs: list[LocalRegistry] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, creds, read_only in (("pull", pull_creds, True), ("push", push_creds, False)):
            (etc / f"htpasswd-{name}").write_text(service.render_htpasswd(creds))
            port = free_port()
            config = service.render_config(
                port=port,
                http_secret=push_creds.http_secret,
                data_dir=str(data),
                cert_path=str(etc / "tls.crt"),
                key_path=str(etc / "tls.key"),
                htpasswd_path=str(etc / f"htpasswd-{name}"),
                read_only=read_only,
            ).replace(f"addr: :{port}", f"addr: 127.0.0.1:{port}")
            (etc / f"config-{name}.yml").write_text(config)
            log_file = tmp / f"registry-{name}.log"
            procs.append(_start(binary, etc / f"config-{name}.yml", log_file, port, etc / "ca.crt"))
            info = RegistryInfo(
                domain="sealkit.hub",
                port=port,
                hosts=("127.0.0.1",),
                username=creds.username,
                password=creds.password,
                ca_pem=ca.cert_pem,
            )
            regs.append(LocalRegistry(info, etc / "ca.crt", data, log_file))
        yield regs[0], regs[1]
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

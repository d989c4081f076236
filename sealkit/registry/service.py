"""The embedded registry service: the Distribution registry the cluster image ships, as two systemd
units over one storage directory.

Every host holds registry credentials (the runtime's mirror config), so those credentials must not be
able to push: root on one worker could otherwise replace the images every master pulls. Distribution's
htpasswd auth has no per-user permissions (any valid user may push), so the split is by instance
(distribution/distribution v2.8.2 registry/handlers/app.go reads ``storage.maintenance.readonly.enabled``;
manifests.go, blob.go and blobupload.go then register no PUT/POST/PATCH/DELETE handlers):

* ``sealkit-registry.service`` — **read-only** (``maintenance.readonly``, upload purging off), on
  ``spec.registry.port`` (default 5000): the address every host's mirror config names, with the **pull**
  account (``<username>-pull``) in its htpasswd;
* ``sealkit-registry-push.service`` — read-write on ``port + 1``, with the **push** account in its own
  htpasswd. Only the controller holds that password (cluster state, 0600); it syncs images through it.

On each registry host sealkit writes (all content-addressed, so a re-run with matching files sends
nothing and restarts nothing):

* ``/etc/sealkit/registry/config.yml`` and ``config-push.yml`` (0600: they hold the HTTP secret) —
  filesystem storage under ``/var/lib/sealkit/registry``, ``http.addr``, TLS, htpasswd auth;
* ``/etc/sealkit/registry/tls.crt|tls.key`` — issued by the cluster CA (``ca`` in the PKI store)
  with SANs = the registry domain, the host's IP(s), ``localhost``/``127.0.0.1``;
* ``/etc/sealkit/registry/htpasswd`` (pull account) and ``htpasswd-push`` (push account), 0600 — one
  bcrypt entry each, generated on the controller;
* the two units — ``Restart=always``; restarted only when one of the files above changed (the registry
  reads htpasswd and TLS files once, at start).

Credentials (user, password, bcrypt hash, HTTP secret) are generated once per cluster and kept in
the cluster state, mode 0600 (:class:`CredentialStore`); they never appear in logs or in remote
argv. Storing the bcrypt hash (not just the password) keeps htpasswd byte-identical across runs:
bcrypt salts are random.

Which hosts: every host with role ``registry``, else every host with one of ``spec.registry.roles``
(default ``["master"]``), so the registry is as available as the control plane. Each runs both
instances over its OWN storage: registries share nothing; the controller pushes the images to each
one (content-addressed, so a registry that already has a blob is not sent it again), and every
host's mirror configuration lists every registry by IP (:mod:`sealkit.registry.mirrors`), so a pull
falls through to the next registry when one is down or lacks an image. Each host's certificate
carries its own IP (and the stable name), so adding a master never re-issues the others'.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sealkit.context import RegistryInfo
from sealkit.errors import PluginError, StepFailed
from sealkit.pki.model import MODE_PUBLIC, MODE_SECRET, CASpec, CertSpec, FileSpec, Layout, scoped
from sealkit.registry import DEFAULT_DOMAIN, DEFAULT_PORT
from sealkit.ssh.quoting import quote

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

#: the read-only instance every host pulls from (pull account)
UNIT_NAME = "sealkit-registry.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT_NAME}"
#: the read-write instance only the controller pushes to (push account), on the pull port + 1
PUSH_UNIT_NAME = "sealkit-registry-push.service"
PUSH_UNIT_PATH = f"/etc/systemd/system/{PUSH_UNIT_NAME}"
UNITS = (UNIT_NAME, PUSH_UNIT_NAME)
CONFIG_DIR = "/etc/sealkit/registry"
CONFIG_PATH = f"{CONFIG_DIR}/config.yml"
HTPASSWD_PATH = f"{CONFIG_DIR}/htpasswd"
PUSH_CONFIG_PATH = f"{CONFIG_DIR}/config-push.yml"
PUSH_HTPASSWD_PATH = f"{CONFIG_DIR}/htpasswd-push"
#: the pull account is the push account's name with this suffix
PULL_USER_SUFFIX = "-pull"
CERT_PATH = f"{CONFIG_DIR}/tls.crt"
KEY_PATH = f"{CONFIG_DIR}/tls.key"
DATA_DIR = "/var/lib/sealkit/registry"
#: the PKI store's cluster CA that signs the registry certificate and that every host trusts
CA_NAME = "ca"
CA_COMMON_NAME = "kubernetes"
DEFAULT_USER = "sealkit"
#: relative to the cluster image's rootfs on the host
IMAGE_BINARY = "bin/registry"


# ----------------------------------------------------------------------------------- credentials
@dataclass(frozen=True)
class Credentials:
    """One registry account (push or pull), and the HTTP secret that signs upload state."""

    username: str
    password: str = field(repr=False)
    bcrypt_hash: str = field(repr=False)
    http_secret: str = field(repr=False)

    @classmethod
    def generate(
        cls,
        username: str = DEFAULT_USER,
        password: str | None = None,
        http_secret: str | None = None,
    ) -> Credentials:
        """A random password (32 bytes, URL-safe) unless given, and its bcrypt hash, made on the
        controller.

        The registry checks the bcrypt hash on EVERY request (a pull is a dozen of them), so the
        cost is a latency budget: a generated 256-bit password gains nothing from stretching and
        gets cost 5 (Apache ``htpasswd -B``'s default); a password a person chose gets cost 10.
        """
        import bcrypt

        pw = password or secrets.token_urlsafe(32)
        rounds = 10 if password else 5
        hashed = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=rounds)).decode()
        return cls(_check_username(username), pw, hashed, http_secret or secrets.token_hex(32))

    def matches(self, username: str, password: str | None) -> bool:
        """True when these credentials already are ``username`` (and ``password``, when given)."""
        if username != self.username:
            return False
        return password is None or password == self.password

    def to_json(self) -> dict[str, str]:
        return {
            "username": self.username,
            "password": self.password,
            "bcrypt_hash": self.bcrypt_hash,
            "http_secret": self.http_secret,
        }


class CredentialStore:
    """``<state>/registry/credentials.json`` (0600 in a 0700 dir): created once, then only loaded.

    The first caller generates under an ``flock``, so hosts prepared concurrently (or two sealkit
    processes) agree on a single password.
    """

    def __init__(self, directory: str | os.PathLike[str], filename: str = "credentials.json") -> None:
        self.dir = Path(directory)
        self.path = self.dir / filename

    def load(self) -> Credentials | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data: dict[str, Any] = json.loads(raw)
            creds = Credentials(
                str(data["username"]),
                str(data["password"]),
                str(data["bcrypt_hash"]),
                str(data["http_secret"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise PluginError(
                f"registry credentials {self.path} are unreadable ({type(exc).__name__})",
                step="registry",
                hint=f"restore {self.path} from a backup of the cluster state; deleting it makes "
                "sealkit generate new credentials and rewrite them on every host",
            ) from None
        _check_username(creds.username)
        return creds

    def ensure(self, username: str = DEFAULT_USER, password: str | None = None) -> Credentials:
        """Load the credentials, creating them on first use; a changed username or a given password
        that differs re-keys them (the HTTP secret is kept)."""
        with self._locked():
            creds = self.load()
            if creds is None or not creds.matches(username, password):
                keep = creds.password if creds is not None and password is None else password
                secret = creds.http_secret if creds is not None else None
                creds = Credentials.generate(username, keep, secret)
                self._write(json.dumps(creds.to_json(), indent=2, sort_keys=True).encode())
            return creds

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{self.path.stem}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)


def _check_username(name: str) -> str:
    if not name or any(c in name for c in ":\n\r") or any(c.isspace() for c in name):
        raise PluginError(
            f"registry username {name!r} is invalid (no ':' or whitespace: it is an htpasswd key)",
            hint="set spec.registry.username to a plain word",
        )
    return name


# ------------------------------------------------------------------------------------- renderers
def render_htpasswd(creds: Credentials) -> str:
    """One htpasswd entry; the Distribution registry only accepts bcrypt."""
    if not creds.bcrypt_hash.startswith(("$2a$", "$2b$", "$2y$")):
        raise PluginError("registry credentials: the stored hash is not bcrypt")
    return f"{_check_username(creds.username)}:{creds.bcrypt_hash}\n"


def render_config(
    *,
    port: int = DEFAULT_PORT,
    http_secret: str,
    data_dir: str = DATA_DIR,
    cert_path: str = CERT_PATH,
    key_path: str = KEY_PATH,
    htpasswd_path: str = HTPASSWD_PATH,
    read_only: bool = False,
    unit: str = UNIT_NAME,
) -> str:
    """The registry's ``config.yml`` (Distribution configuration ``version: 0.1``).

    ``read_only`` sets ``storage.maintenance.readonly`` (the registry then serves no write method at
    all) and turns upload purging off, so this instance never deletes anything of the one that writes.
    """
    if not 0 < port < 65536:
        raise PluginError(f"registry port {port} is not 1-65535", hint="fix spec.registry.port")
    if not http_secret.isalnum():
        raise PluginError("registry HTTP secret must be alphanumeric")
    maintenance = (
        "  maintenance:\n    readonly:\n      enabled: true\n    uploadpurging:\n      enabled: false\n"
        if read_only
        else ""
    )
    return (
        f"# Managed by sealkit ({unit}). Do not edit: sealkit rewrites it.\n"
        "version: 0.1\n"
        "log:\n"
        "  level: info\n"
        "  fields:\n"
        "    service: sealkit-registry\n"
        "storage:\n"
        "  filesystem:\n"
        f"    rootdirectory: {data_dir}\n"
        "  delete:\n"
        # manifests are deleted only through the push account (`sealkit apps remove`); hosts never can
        f"    enabled: {'false' if read_only else 'true'}\n"
        f"{maintenance}"
        "http:\n"
        f"  addr: :{port}\n"
        f"  secret: {http_secret}\n"
        "  headers:\n"
        "    X-Content-Type-Options: [nosniff]\n"
        "  tls:\n"
        f"    certificate: {cert_path}\n"
        f"    key: {key_path}\n"
        "    minimumtls: tls1.2\n"
        "auth:\n"
        "  htpasswd:\n"
        "    realm: sealkit-registry\n"
        f"    path: {htpasswd_path}\n"
        "health:\n"
        "  storagedriver:\n"
        "    enabled: true\n"
        "    interval: 10s\n"
        "    threshold: 3\n"
    )


def render_unit(
    binary: str,
    config_path: str = CONFIG_PATH,
    description: str = "sealkit embedded image registry (Distribution)",
) -> str:
    """A registry unit: the image's registry binary with ``config_path``, restarted whenever it stops."""
    if not binary.startswith("/") or any(c.isspace() or c in "\"'\\%$" for c in binary):
        raise PluginError(
            f"registry binary path {binary!r} must be absolute, without spaces, quotes, % or $",
        )
    return (
        "# Managed by sealkit. Do not edit: sealkit rewrites it.\n"
        "[Unit]\n"
        f"Description={description}\n"
        "Documentation=https://distribution.github.io/distribution/about/configuration/\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={binary} serve {config_path}\n"
        "Restart=always\n"
        "RestartSec=2\n"
        "LimitNOFILE=65536\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def cert_spec(domain: str, host_ip: str, extra_ips: tuple[str, ...] = ()) -> CertSpec:
    """The registry host's server certificate (one per host: the name is host-scoped)."""
    return CertSpec(
        name=scoped(host_ip, "registry"),
        ca=CA_NAME,
        common_name=domain,
        dns_names=(domain, "localhost"),
        ip_addresses=tuple(dict.fromkeys((host_ip, *extra_ips, "127.0.0.1"))),
        usages=frozenset({"server"}),
        cert_path=CERT_PATH,
        key_path=KEY_PATH,
        key_type="ecdsa-p256",
    )


def ca_spec() -> CASpec:
    return CASpec(name=CA_NAME, common_name=CA_COMMON_NAME)


# ---------------------------------------------------------------------------------- cluster glue
def registry_settings(ctx: ClusterContext) -> tuple[str, int, str]:
    """``(domain, port, username)`` from the Clusterfile's ``spec.registry``: the pull port every host
    uses, and the push account's name."""
    reg = ctx.cluster.registry
    return reg.domain or DEFAULT_DOMAIN, int(reg.port or DEFAULT_PORT), reg.username or DEFAULT_USER


def push_port(port: int) -> int:
    """Where the read-write instance listens: the pull port + 1."""
    if not 0 < port < 65535:
        raise PluginError(
            f"registry port {port} leaves no room for the push port {port + 1}",
            hint="set spec.registry.port to 1-65534",
        )
    return port + 1


#: the engine marks hosts it removes in this run with this label in ``ctx.cluster`` (they stay there
#: so that they can be drained and reset): they no longer count as registry hosts
REMOVING_LABEL = "sealkit.io/removing"


def registry_hosts(ctx: ClusterContext) -> list[str]:
    """IPs that run the registry, in Clusterfile order: every host with role ``registry``, else every
    host with one of ``spec.registry.roles``; hosts being removed in this run are left out."""
    hosts = [h for h in ctx.cluster.registry_hosts if not is_removing(ctx, h.ip)]
    if not hosts:
        roles = ", ".join(ctx.cluster.registry.roles)
        raise PluginError(
            f"no host has role 'registry' or one of spec.registry.roles ({roles})",
            step="registry",
            hint="give a host the role 'registry', or set spec.registry.roles",
        )
    return [h.ip for h in hosts]


def is_removing(ctx: ClusterContext, ip: str) -> bool:
    """Whether the engine removes ``ip`` in this run (label in ``ctx.cluster`` or the drain's fact)."""
    spec = next((h for h in ctx.cluster.hosts if h.ip == ip), None)
    if spec is not None and spec.labels.get(REMOVING_LABEL) == "true":
        return True
    ref = ctx.hosts.get(ip)
    return ref is not None and ref.facts.get("removed", False) is True


def hosts_entries(info: RegistryInfo, own_ip: str) -> list[tuple[str, str]]:
    """The ``/etc/hosts`` lines for the stable name: every registry host (the host's own registry
    first when it runs one), so a client of the name falls through to the next address."""
    order = [own_ip] if own_ip in info.hosts else []
    order += [ip for ip in info.hosts if ip != own_ip]
    return [(ip, info.domain) for ip in order]


def credential_store(ctx: ClusterContext) -> CredentialStore:
    """Where this cluster's registry credentials live (next to the PKI in the cluster state)."""
    return CredentialStore(Path(ctx.state.dir) / "registry")


def credentials(ctx: ClusterContext) -> Credentials:
    """The push account (controller only); ``spec.registry.password`` wins over a generated one."""
    _, _, username = registry_settings(ctx)
    return credential_store(ctx).ensure(username, ctx.cluster.registry.password or None)


def pull_credentials(ctx: ClusterContext) -> Credentials:
    """The pull account every host's runtime holds: valid only on the read-only instance."""
    _, _, username = registry_settings(ctx)
    store = CredentialStore(credential_store(ctx).dir, "pull-credentials.json")
    return store.ensure(f"{username}{PULL_USER_SUFFIX}")


def registry_info(ctx: ClusterContext) -> RegistryInfo:
    """What hosts get (``sealkit_registry_mirror_config``, the runtimes' containerd config): the
    read-only instance and the pull account, which cannot push."""
    domain, port, _ = registry_settings(ctx)
    return _info(ctx, domain, port, pull_credentials(ctx))


def push_registry_info(ctx: ClusterContext) -> RegistryInfo:
    """What the controller syncs images with (``sealkit_sync_images``): the read-write instance and the
    push account. Never hand this to a host."""
    domain, port, _ = registry_settings(ctx)
    return _info(ctx, domain, push_port(port), credentials(ctx))


def _info(ctx: ClusterContext, domain: str, port: int, creds: Credentials) -> RegistryInfo:
    ca = ctx.pki.ensure_ca(ca_spec())
    return RegistryInfo(
        domain=domain,
        port=port,
        hosts=tuple(registry_hosts(ctx)),
        username=creds.username,
        password=creds.password,
        ca_pem=ca.cert_pem,
    )


def service_files(ctx: ClusterContext, host: HostRef, binary: str) -> list[FileSpec]:
    """Every file the registry host needs, rendered on the controller (secrets included, mode
    0600)."""
    domain, port, _ = registry_settings(ctx)
    push, pull = credentials(ctx), pull_credentials(ctx)
    layout = Layout(cas=(ca_spec(),), certs=(cert_spec(domain, host.ip),))
    pki_files = ctx.pki.render(layout)
    pull_config = render_config(port=port, http_secret=push.http_secret, read_only=True)
    push_config = render_config(
        port=push_port(port),
        http_secret=push.http_secret,
        htpasswd_path=PUSH_HTPASSWD_PATH,
        unit=PUSH_UNIT_NAME,
    )
    push_unit = render_unit(
        binary, PUSH_CONFIG_PATH, "sealkit embedded image registry, push endpoint of the controller"
    )
    return [
        *pki_files,
        FileSpec(CONFIG_PATH, pull_config.encode(), MODE_SECRET),
        FileSpec(HTPASSWD_PATH, render_htpasswd(pull).encode(), MODE_SECRET),
        FileSpec(PUSH_CONFIG_PATH, push_config.encode(), MODE_SECRET),
        FileSpec(PUSH_HTPASSWD_PATH, render_htpasswd(push).encode(), MODE_SECRET),
        FileSpec(UNIT_PATH, render_unit(binary).encode(), MODE_PUBLIC),
        FileSpec(PUSH_UNIT_PATH, push_unit.encode(), MODE_PUBLIC),
    ]


def default_binary(ctx: ClusterContext) -> str:
    """The registry binary the cluster image ships, where the rootfs lives on the host."""
    return f"{ctx.remote_rootfs.rstrip('/')}/{IMAGE_BINARY}"


# ---------------------------------------------------------------------------------------- on host
def _run(host: HostRef, cmd: str, step: str, hint: str, **kw: Any) -> Any:
    res = host.conn.run(cmd, check=False, **kw)
    if res.rc != 0:
        detail = (res.stderr or res.stdout or "").strip().splitlines()[-5:]
        raise StepFailed(
            f"`{cmd}` failed (rc={res.rc}): {' | '.join(detail)}",
            host=host.ip,
            step=step,
            hint=hint,
        )
    return res


def ensure_service(ctx: ClusterContext, host: HostRef, *, binary: str | None = None) -> bool:
    """Install and (re)start the registry on ``host``; returns True when anything changed.

    Idempotent: files are put content-addressed; the unit is restarted only when a file changed and
    is merely started if it is not running.
    """
    exe = binary or default_binary(ctx)
    step = "registry-service"
    _run(
        host,
        f"test -x {quote(exe)}",
        step,
        hint=f"the cluster image must ship the Distribution registry as {IMAGE_BINARY} "
        "(executable); rebuild the image with it",
    )
    files = service_files(ctx, host, exe)
    _run(
        host,
        f"mkdir -p {quote(CONFIG_DIR)} {quote(DATA_DIR)} && chmod 0700 {quote(CONFIG_DIR)}",
        step,
        hint="check the host's disk and permissions",
    )
    changed = False
    for f in files:
        if host.conn.put(f.content, f.path, mode=f.mode):
            changed = True
    units = " ".join(UNITS)
    if changed:
        _run(host, "systemctl daemon-reload", step, hint="is systemd running on this host?")
        _run(
            host,
            f"systemctl enable {units} && systemctl restart {units}",
            step,
            hint=f"see `journalctl -u {UNIT_NAME} -u {PUSH_UNIT_NAME}` on the host",
        )
        return True
    for unit in UNITS:
        res = host.conn.run(f"systemctl is-active --quiet {unit}", check=False)
        if res.rc != 0:
            changed = True
            _run(
                host,
                f"systemctl enable {unit} && systemctl start {unit}",
                step,
                hint=f"see `journalctl -u {unit}` on the host",
            )
    return changed


def remove_service(host: HostRef) -> None:
    """Stop and remove the unit, its config and the stored images (reset). A unit that will not
    stop is an error: its files are then left in place, so nothing runs on deleted data."""
    stops = "".join(
        f"if [ -e {quote(path)} ] || systemctl cat {quote(name)} >/dev/null 2>&1; then "
        f"systemctl disable --now {quote(name)} >/dev/null 2>&1; "
        f"if systemctl is-active --quiet {quote(name)}; then "
        f"echo '{name} is still running after systemctl disable --now' >&2; exit 1; fi; "
        f"rm -f {quote(path)} && systemctl daemon-reload || exit 1; fi; "
        for name, path in ((UNIT_NAME, UNIT_PATH), (PUSH_UNIT_NAME, PUSH_UNIT_PATH))
    )
    _run(
        host,
        stops + f"rm -rf {quote(DATA_DIR)} {quote(CONFIG_DIR)}",
        "registry-reset",
        hint=f"stop {UNIT_NAME} and {PUSH_UNIT_NAME}, then remove {UNIT_PATH}, {PUSH_UNIT_PATH}, "
        f"{DATA_DIR} and {CONFIG_DIR} by hand",
    )

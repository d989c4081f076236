"""The cluster's PKI on the controller: long-lived CAs, and leaves that only change when they must.

Layout of the store (the cluster state's ``pki/`` directory, 0700; keys 0600)::

    ca/<name>.crt|.key            CAs: created once, then only ever loaded
    certs/<name>.crt|.key         leaf certificates (host-scoped: certs/10.0.0.11/apiserver.crt)
    kubeconfigs/<name>.crt|.key   client certificates embedded in kubeconfigs
    keypairs/<name>.key|.pub      bare key pairs (service-account signing key)

Rules that make re-runs safe:

* a CA is never regenerated: a re-run (or another process) always loads the existing one;
* a leaf is re-signed only when the stored one no longer fits its spec (subject, SANs, usages, key
  type, issuer) or is near expiry, and it keeps its key unless asked for a new one — so a second run
  leaves every key and certificate byte-identical, and adding a SAN changes only the certificates
  that carry it;
* every write is atomic (temp file, fsync, rename), every mutation holds a thread lock and an
  ``flock`` on ``pki/.lock``, so hosts rendered concurrently (or two sealkit processes) cannot mint
  two different CAs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography import x509

from sealkit.errors import PluginError
from sealkit.pki import crypto
from sealkit.pki.check import CertInfo, fingerprint, inspect_cert
from sealkit.pki.crypto import PKIError
from sealkit.pki.kubeconfig import render_kubeconfig
from sealkit.pki.model import (
    DEFAULT_VALIDITY_DAYS,
    MODE_PUBLIC,
    MODE_SECRET,
    CASpec,
    CertSpec,
    FileSpec,
    KeyPairSpec,
    KubeconfigSpec,
    Layout,
)
from sealkit.pki.sans import sort_dns, sort_ips

#: a leaf is re-signed when fewer days than this are left (and never with less than a month to go)
MIN_RENEW_BEFORE_DAYS = 30

DEFAULT_SA = KeyPairSpec(
    name="sa", private_path="/etc/kubernetes/pki/sa.key", public_path="/etc/kubernetes/pki/sa.pub"
)


def renew_before_days(validity_days: int) -> int:
    """Re-sign when a third of the configured lifetime is left: a 100-year cert after ~66 years, a
    1-year cert after ~8 months; a cert shorter-lived than configured (say, minted by kubeadm for 1
    year while 100 are configured) is replaced on the next run."""
    return max(MIN_RENEW_BEFORE_DAYS, validity_days // 3)


@dataclass(frozen=True)
class CA:
    """A loaded certificate authority."""

    name: str
    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @cached_property
    def cert(self) -> x509.Certificate:
        return crypto.load_cert(self.cert_pem, where=f"CA {self.name}")

    @cached_property
    def key(self) -> crypto.PrivateKey:
        return crypto.load_key(self.key_pem, where=f"CA {self.name} key")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)

    @property
    def common_name(self) -> str:
        return crypto.common_name(self.cert.subject)


class PKIStore:
    """The controller-side PKI of one cluster, rooted at ``directory`` (``<state>/pki``).

    ``clock`` returns the current UTC time; tests pass a fixed one to exercise expiry without
    waiting.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.dir = Path(directory)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.RLock()
        self._depth = 0
        self._lock_fh: int | None = None

    # ------------------------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Thread lock + exclusive ``flock`` on ``pki/.lock`` (re-entrant within one thread)."""
        with self._lock:
            if self._depth == 0:
                self._ensure_dir()
                fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_fh = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fh is not None:
                    fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
                    os.close(self._lock_fh)
                    self._lock_fh = None

    def _ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.dir.stat().st_mode & 0o077:
            os.chmod(self.dir, 0o700)

    def _write(self, path: Path, data: bytes, mode: int) -> None:
        """Atomic write (temp file, fsync, rename) via the state module's shared helper."""
        from sealkit.state import atomic_write  # lazy: importing sealkit.pki stays light

        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, data, mode)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _paths(self, kind: str, name: str, suffixes: tuple[str, str] = (".crt", ".key")) -> tuple[Path, Path]:
        base = self.dir / kind / name
        return base.with_name(base.name + suffixes[0]), base.with_name(base.name + suffixes[1])

    def _now(self) -> dt.datetime:
        return self._clock()

    # ----------------------------------------------------------------------------------------- CAs
    def ensure_ca(self, spec: CASpec, validity_days: int = DEFAULT_VALIDITY_DAYS) -> CA:
        """Create the CA the first time, load it every time after (never regenerated)."""
        with self._locked():
            crt_path, key_path = self._paths("ca", spec.name)
            cert_pem, key_pem = self._read(crt_path), self._read(key_path)
            if cert_pem is not None and key_pem is None:
                raise PKIError(
                    f"CA {spec.name}: {crt_path} exists but its key {key_path} is missing",
                    step="certs",
                    hint=f"restore {key_path} from a backup of the cluster state; sealkit never "
                    "regenerates a CA because every certificate and node trusts it",
                )
            if key_pem is None:
                key = crypto.generate_key(spec.key_type)
                key_pem = crypto.key_to_pem(key)
                self._write(key_path, key_pem, MODE_SECRET)
            if cert_pem is None:
                # a key without a certificate is a crash between the two writes: nothing can have
                # been signed with it yet, so finishing the CA from that key is safe
                key = crypto.load_key(key_pem, where=str(key_path))
                cert = crypto.create_ca(spec.common_name, key, validity_days, now=self._now())
                cert_pem = crypto.cert_to_pem(cert)
                self._write(crt_path, cert_pem, MODE_PUBLIC)
            ca = CA(spec.name, cert_pem, key_pem)
            if crypto.spki_sha256(ca.cert.public_key()) != crypto.spki_sha256(ca.key.public_key()):
                raise PKIError(
                    f"CA {spec.name}: {crt_path} and {key_path} do not belong together",
                    step="certs",
                    hint="restore both files from the same backup of the cluster state",
                )
            return ca

    def get_ca(self, name: str) -> CA:
        """Load an existing CA; a missing one is an error (only :meth:`ensure_ca` creates)."""
        crt_path, key_path = self._paths("ca", name)
        cert_pem, key_pem = self._read(crt_path), self._read(key_path)
        if cert_pem is None or key_pem is None:
            raise PKIError(
                f"CA {name!r} does not exist in {self.dir}",
                step="certs",
                hint="the runtime's layout must list this CA (CASpec) so it exists before signing",
            )
        return CA(name, cert_pem, key_pem)

    def has_ca(self, name: str) -> bool:
        crt_path, key_path = self._paths("ca", name)
        return crt_path.exists() and key_path.exists()

    # -------------------------------------------------------------------------------------- leaves
    def _mismatch(
        self,
        cert: x509.Certificate,
        spec: CertSpec,
        ca: CA,
        key: crypto.PrivateKey,
        validity_days: int,
    ) -> str | None:
        """Why the stored certificate no longer fits ``spec`` (None: it still fits)."""
        if crypto.spki_sha256(cert.public_key()) != crypto.spki_sha256(key.public_key()):
            return "key changed"
        if not crypto.signed_by(cert, ca.cert):
            return "issuer changed"
        if crypto.common_name(cert.subject) != spec.common_name:
            return "common name changed"
        if sorted(crypto.organizations(cert.subject)) != sorted(spec.organizations):
            return "organizations changed"
        if crypto.sans(cert) != (sort_dns(spec.dns_names), sort_ips(spec.ip_addresses)):
            return "SANs changed"
        if crypto.usages(cert) != frozenset(spec.usages):
            return "usages changed"
        if crypto.days_left(cert, self._now()) < renew_before_days(validity_days):
            return "near expiry"
        return None

    def _leaf_key(self, key_path: Path, key_type: str, *, new_key: bool) -> tuple[crypto.PrivateKey, bytes]:
        """The stored key when there is one of the right type (and no new key is asked), else a new
        one, written before any certificate is signed for it."""
        key_pem = None if new_key else self._read(key_path)
        if key_pem is not None:
            key = crypto.load_key(key_pem, where=str(key_path))
            if crypto.key_type_of(key) == key_type:
                return key, key_pem
        key = crypto.generate_key(key_type)
        key_pem = crypto.key_to_pem(key)
        self._write(key_path, key_pem, MODE_SECRET)
        return key, key_pem

    def _issue(
        self,
        kind: str,
        spec: CertSpec,
        validity_days: int,
        *,
        new_key: bool,
        force: bool,
    ) -> tuple[bytes, bytes]:
        with self._locked():
            ca = self.get_ca(spec.ca)
            crt_path, key_path = self._paths(kind, spec.name)
            key, key_pem = self._leaf_key(key_path, spec.key_type, new_key=new_key)
            cert_pem = self._read(crt_path)
            if cert_pem is not None and not force:
                cert = crypto.load_cert(cert_pem, where=str(crt_path))
                if self._mismatch(cert, spec, ca, key, validity_days) is None:
                    return cert_pem, key_pem
            cert = crypto.sign_leaf(
                common_name=spec.common_name,
                organizations=spec.organizations,
                dns_names=sort_dns(spec.dns_names),
                ip_addresses=sort_ips(spec.ip_addresses),
                usages=spec.usages,
                public_key=key.public_key(),
                ca_cert=ca.cert,
                ca_key=ca.key,
                validity_days=validity_days,
                now=self._now(),
            )
            cert_pem = crypto.cert_to_pem(cert)
            self._write(crt_path, cert_pem, MODE_PUBLIC)
            return cert_pem, key_pem

    def issue(
        self, spec: CertSpec, validity_days: int = DEFAULT_VALIDITY_DAYS, *, new_key: bool = False
    ) -> tuple[bytes, bytes]:
        """``(cert_pem, key_pem)`` for ``spec``: the stored pair when it still fits, else a
        re-signed one (same key unless ``new_key``). The signing CA must exist (see
        :meth:`ensure_ca`)."""
        return self._issue("certs", spec, validity_days, new_key=new_key, force=False)

    def why_reissue(
        self, spec: CertSpec | KubeconfigSpec, validity_days: int = DEFAULT_VALIDITY_DAYS
    ) -> str | None:
        """Dry-run of :meth:`issue`: why the next render would re-sign this cert (None: no need)."""
        kind, cspec = self._kind(spec)
        crt_path, key_path = self._paths(kind, cspec.name)
        cert_pem, key_pem = self._read(crt_path), self._read(key_path)
        if cert_pem is None or key_pem is None:
            return "missing"
        key = crypto.load_key(key_pem, where=str(key_path))
        if crypto.key_type_of(key) != cspec.key_type:
            return "key type changed"
        cert = crypto.load_cert(cert_pem, where=str(crt_path))
        return self._mismatch(cert, cspec, self.get_ca(cspec.ca), key, validity_days)

    @staticmethod
    def _kind(spec: CertSpec | KubeconfigSpec) -> tuple[str, CertSpec]:
        if isinstance(spec, KubeconfigSpec):
            return "kubeconfigs", spec.cert_spec()
        return "certs", spec

    # --------------------------------------------------------------------------------- kubeconfigs
    def kubeconfig(
        self,
        spec: KubeconfigSpec,
        validity_days: int = DEFAULT_VALIDITY_DAYS,
        *,
        new_key: bool = False,
    ) -> str:
        """Kubeconfig text with the CA and the (stored or re-signed) client certificate embedded."""
        with self._locked():
            cert_pem, key_pem = self._issue(
                "kubeconfigs", spec.cert_spec(), validity_days, new_key=new_key, force=False
            )
            ca = self.get_ca(spec.ca)
        return render_kubeconfig(
            server=spec.server,
            ca_pem=ca.cert_pem,
            cert_pem=cert_pem,
            key_pem=key_pem,
            user=spec.user_name,
            cluster_name=spec.cluster_name,
            context=spec.context_name,
        )

    # ------------------------------------------------------------------------------------ keypairs
    def service_account_keypair(self, spec: KeyPairSpec = DEFAULT_SA) -> tuple[bytes, bytes]:
        """``(private_pem, public_pem)`` of the token-signing key: created once, never rotated."""
        with self._locked():
            key_path, pub_path = self._paths("keypairs", spec.name, (".key", ".pub"))
            key_pem = self._read(key_path)
            if key_pem is None:
                key = crypto.generate_key(spec.key_type)
                key_pem = crypto.key_to_pem(key)
                self._write(key_path, key_pem, MODE_SECRET)
            else:
                key = crypto.load_key(key_pem, where=str(key_path))
            pub_pem = crypto.public_pem(key)
            if self._read(pub_path) != pub_pem:
                self._write(pub_path, pub_pem, MODE_PUBLIC)
            return key_pem, pub_pem

    # -------------------------------------------------------------------------------------- render
    def render(
        self,
        layout: Layout,
        *,
        validity_days: int = DEFAULT_VALIDITY_DAYS,
        ca_validity_days: int = DEFAULT_VALIDITY_DAYS,
    ) -> list[FileSpec]:
        """Every file of ``layout`` for one host, sorted by path. CAs are created if missing; leaves
        are reused or re-signed as :meth:`issue` decides."""
        paths = layout.paths()
        dupes = sorted({p for p in paths if paths.count(p) > 1})
        if dupes:
            raise PluginError(f"certificate layout writes the same path twice: {', '.join(dupes)}")
        files: list[FileSpec] = []
        with self._locked():
            for ca_spec in layout.cas:
                ca = self.ensure_ca(ca_spec, ca_validity_days)
                if ca_spec.cert_path:
                    files.append(FileSpec(ca_spec.cert_path, ca.cert_pem, MODE_PUBLIC))
                if ca_spec.key_path:
                    files.append(FileSpec(ca_spec.key_path, ca.key_pem, MODE_SECRET))
            for spec in layout.certs:
                self._require_ca(spec.ca, spec.name)
                cert_pem, key_pem = self.issue(spec, validity_days)
                files.append(FileSpec(spec.cert_path, cert_pem, MODE_PUBLIC))
                files.append(FileSpec(spec.key_path, key_pem, MODE_SECRET))
            for kspec in layout.kubeconfigs:
                self._require_ca(kspec.ca, kspec.name)
                text = self.kubeconfig(kspec, validity_days)
                files.append(FileSpec(kspec.path, text.encode(), MODE_SECRET))
            for kp in layout.keypairs:
                key_pem, pub_pem = self.service_account_keypair(kp)
                files.append(FileSpec(kp.private_path, key_pem, MODE_SECRET))
                if kp.public_path:
                    files.append(FileSpec(kp.public_path, pub_pem, MODE_PUBLIC))
        return sorted(files, key=lambda f: f.path)

    def _require_ca(self, ca: str, who: str) -> None:
        if not self.has_ca(ca):
            raise PluginError(
                f"certificate {who!r} is signed by CA {ca!r}, which neither exists yet nor is "
                "listed in the layout",
                hint="add a CASpec for it to the runtime's cert_layout (paths may be None)",
            )

    # --------------------------------------------------------------------------------------- renew
    def renew(
        self,
        specs: Iterable[CertSpec | KubeconfigSpec | Layout],
        *,
        new_keys: bool = False,
        validity_days: int = DEFAULT_VALIDITY_DAYS,
    ) -> list[str]:
        """Re-sign every leaf and kubeconfig certificate of ``specs`` now (CAs and the
        service-account key are never touched). Same keys by default; ``new_keys`` generates new
        ones. Returns the renewed store names (``certs/<name>``, ``kubeconfigs/<name>``), each once.
        A following :meth:`render` returns the renewed files."""
        flat: list[CertSpec | KubeconfigSpec] = []
        for item in specs:
            if isinstance(item, Layout):
                flat += [*item.certs, *item.kubeconfigs]
            else:
                flat.append(item)
        done: list[str] = []
        with self._locked():
            for spec in flat:
                kind, cspec = self._kind(spec)
                label = f"{kind}/{cspec.name}"
                if label in done:
                    continue
                self._issue(kind, cspec, validity_days, new_key=new_keys, force=True)
                done.append(label)
        return done

    # ------------------------------------------------------------------------------------- inspect
    def inventory(self) -> list[tuple[str, CertInfo]]:
        """Every certificate in the store as ``(ca/<name> | certs/<name> | kubeconfigs/<name>,
        info)``, sorted: what ``cert check`` reports for the controller side."""
        out: list[tuple[str, CertInfo]] = []
        now = self._now()
        for kind in ("ca", "certs", "kubeconfigs"):
            root = self.dir / kind
            if not root.is_dir():
                continue
            for crt in sorted(root.rglob("*.crt")):
                name = str(crt.relative_to(root))[: -len(".crt")]
                out.append((f"{kind}/{name}", inspect_cert(crt.read_bytes(), where=str(crt), now=now)))
        return out

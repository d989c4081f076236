"""Read and verify certificates: ``cert check``, chain verification, and "is this host's CA ours?".

A host whose CA differs from the controller's (left over from another cluster, or a hand-made
install) must stop the run before a single file is overwritten: the error names the host, the file,
both fingerprints and the way out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from sealkit.errors import CheckFailed
from sealkit.pki import crypto


class ChainError(CheckFailed):
    """A certificate does not verify against the CA it should chain to."""


class CAMismatch(CheckFailed):
    """A host holds a CA certificate that is not the cluster's."""


@dataclass(frozen=True)
class CertInfo:
    """What ``cert check`` shows about one certificate."""

    subject: str
    common_name: str
    organizations: tuple[str, ...]
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    usages: frozenset[str]
    not_before: dt.datetime
    not_after: dt.datetime
    days_left: int
    serial: str
    fingerprint_sha256: str
    public_key_sha256: str
    is_ca: bool

    @property
    def sans(self) -> tuple[str, ...]:
        return self.dns_names + self.ip_addresses


def _pem(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as ``AB:CD:…``, the form ``openssl x509 -fingerprint -sha256`` prints."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def inspect_cert(pem: bytes | str, *, where: str = "certificate", now: dt.datetime | None = None) -> CertInfo:
    """Parse a PEM certificate (the first one in the data) into a :class:`CertInfo`."""
    cert = crypto.load_cert(_pem(pem), where=where)
    dns, ips = crypto.sans(cert)
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        common_name=crypto.common_name(cert.subject),
        organizations=crypto.organizations(cert.subject),
        issuer=cert.issuer.rfc4514_string(),
        dns_names=dns,
        ip_addresses=ips,
        usages=crypto.usages(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        days_left=crypto.days_left(cert, now),
        serial=f"{cert.serial_number:x}",
        fingerprint_sha256=fingerprint(cert),
        public_key_sha256=crypto.spki_sha256(cert.public_key()),
        is_ca=crypto.is_ca(cert),
    )


def verify_chain(
    cert_pem: bytes | str,
    ca_pem: bytes | str,
    *,
    where: str = "certificate",
    now: dt.datetime | None = None,
) -> None:
    """Raise :class:`ChainError` with the precise reason unless ``ca_pem`` issued ``cert_pem`` and
    both are valid at ``now``."""
    cert = crypto.load_cert(_pem(cert_pem), where=where)
    ca = crypto.load_cert(_pem(ca_pem), where=f"CA of {where}")
    now = now or dt.datetime.now(dt.UTC)
    subject = cert.subject.rfc4514_string()
    if not crypto.is_ca(ca):
        raise ChainError(f"{where}: the issuer certificate {ca.subject.rfc4514_string()} is not a CA")
    if cert.issuer != ca.subject:
        raise ChainError(
            f"{where} ({subject}) was issued by {cert.issuer.rfc4514_string()}, "
            f"not by the cluster CA {ca.subject.rfc4514_string()}",
            hint="re-issue it with `sealkit cert renew`",
        )
    if not crypto.signed_by(cert, ca):
        raise ChainError(
            f"{where} ({subject}): signature does not verify with the CA {fingerprint(ca)} "
            "(same CA name, different key: the CA was regenerated)",
            hint="re-issue it with `sealkit cert renew`",
        )
    for label, c in (("CA", ca), ("certificate", cert)):
        if now < c.not_valid_before_utc:
            raise ChainError(
                f"{where}: {label} {c.subject.rfc4514_string()} is not valid before "
                f"{c.not_valid_before_utc.isoformat()} (clock skew?)",
                hint="sync the clocks (chrony/ntp) of the controller and the hosts",
            )
        if now > c.not_valid_after_utc:
            raise ChainError(
                f"{where}: {label} {c.subject.rfc4514_string()} expired on "
                f"{c.not_valid_after_utc.isoformat()}",
                hint="run `sealkit cert renew`",
            )


def same_ca(
    local_pem: bytes | str,
    remote_pem: bytes | str,
    *,
    host: str = "",
    path: str = "",
) -> None:
    """Refuse (:class:`CAMismatch`) when a host's CA certificate is not the controller's.

    Both are compared by DER fingerprint. ``host``/``path`` name where ``remote_pem`` was read.
    """
    local = crypto.load_cert(_pem(local_pem), where="controller CA")
    where = f"{path} on {host}" if host else (path or "remote CA")
    remote = crypto.load_cert(_pem(remote_pem), where=where)
    if local == remote:
        return
    raise CAMismatch(
        f"{path or 'the CA certificate'} is not this cluster's CA: host has "
        f"{remote.subject.rfc4514_string()} SHA256 {fingerprint(remote)}, "
        f"the controller has {local.subject.rfc4514_string()} SHA256 {fingerprint(local)}",
        host=host or None,
        step="certs",
        hint=(
            "the host belongs to another cluster or was installed by hand: run `sealkit reset` "
            "on it (or remove the host's old PKI directory) and retry; if the host's CA is the "
            "right one, point SEALKIT_HOME at the cluster state that created it"
        ),
    )

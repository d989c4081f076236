"""X.509 primitives on ``cryptography``: keys, CAs, leaves, and "does this cert still fit its spec".

Formats follow what Kubernetes components parse everywhere: PEM certificates, keys in the
traditional OpenSSL encodings (``RSA PRIVATE KEY`` / ``EC PRIVATE KEY``) as kubeadm writes them,
PKIX public keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sealkit.errors import SealkitError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: not_before is backdated so a host whose clock lags the controller's accepts a fresh certificate
CLOCK_SKEW = dt.timedelta(minutes=5)

_EKU = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
_EKU_NAMES = {v: k for k, v in _EKU.items()}


class PKIError(SealkitError):
    """A key or certificate in the cluster's pki/ directory is unreadable or inconsistent."""


def generate_key(key_type: str) -> PrivateKey:
    if key_type == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise PKIError(f"unknown key type {key_type!r}")


def key_type_of(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256"
    return f"other-{type(key).__name__}"


def key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_key(pem: bytes, *, where: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(
            f"{where}: not an unencrypted PEM private key ({exc})",
            hint="restore it from a backup of the cluster state, or remove it to regenerate it",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PKIError(f"{where}: unsupported key algorithm {type(key).__name__}")
    return key


def load_cert(pem: bytes, *, where: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise PKIError(f"{where}: not a PEM certificate ({exc})") from None


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def spki_sha256(public_key: object) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo: identifies a key pair, whatever cert carries it."""
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash_for(key: PrivateKey) -> hashes.HashAlgorithm:
    """SHA-256 for RSA (PKCS#1 v1.5) and ECDSA signatures: what every Kubernetes component takes."""
    return hashes.SHA256()


def create_ca(
    common_name: str, key: PrivateKey, validity_days: int, *, now: dt.datetime | None = None
) -> x509.Certificate:
    """Self-signed root: CA:TRUE pathlen 0 (no intermediates below it), keyCertSign + cRLSign."""
    now = now or _now()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    return builder.sign(key, _hash_for(key))


def subject_name(common_name: str, organizations: Iterable[str]) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def sign_leaf(
    *,
    common_name: str,
    organizations: Iterable[str],
    dns_names: Iterable[str],
    ip_addresses: Iterable[str],
    usages: Iterable[str],
    public_key: object,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    validity_days: int,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """Sign an end-entity cert: CA:FALSE, digitalSignature (+keyEncipherment for RSA), EKU, SANs."""
    now = now or _now()
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name(common_name, organizations))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([_EKU[u] for u in sorted(set(usages))]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, _hash_for(ca_key))


# ------------------------------------------------------------------------------------------ reading
def common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def organizations(name: x509.Name) -> tuple[str, ...]:
    return tuple(str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))


def sans(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(dns_names, ips)`` of a certificate, sorted like :mod:`sealkit.pki.sans` sorts them."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (), ()
    dns = tuple(sorted(ext.get_values_for_type(x509.DNSName)))
    ips = sorted((ip for ip in ext.get_values_for_type(x509.IPAddress)), key=lambda a: (a.version, int(a)))
    return dns, tuple(str(i) for i in ips)


def usages(cert: x509.Certificate) -> frozenset[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(_EKU_NAMES.get(oid, oid.dotted_string) for oid in ext)


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """True when ``ca_cert`` issued ``cert`` (issuer name matches and the signature verifies)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def days_left(cert: x509.Certificate, now: dt.datetime | None = None) -> int:
    delta = cert.not_valid_after_utc - (now or _now())
    return delta.days

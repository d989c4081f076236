"""sealkit's own long-lived PKI: CAs that are created once, leaves that live 100 years by default.

kubeadm, k3s and k0s mint 1-year leaves; sealos's 100-year certificates fall back to 1 year after a
``kubeadm upgrade``. Here the controller holds the CAs (``<state>/pki``), runtimes describe what
each host needs (:class:`~sealkit.pki.model.Layout`), and :class:`~sealkit.pki.store.PKIStore` signs
it.
"""

from __future__ import annotations

from sealkit.pki.check import CAMismatch, CertInfo, ChainError, inspect_cert, same_ca, verify_chain
from sealkit.pki.crypto import PKIError
from sealkit.pki.model import (
    DEFAULT_VALIDITY_DAYS,
    CASpec,
    CertSpec,
    FileSpec,
    KeyPairSpec,
    KubeconfigSpec,
    Layout,
    LayoutInput,
    scoped,
)
from sealkit.pki.sans import cluster_sans, host_sans, service_ips, split_sans
from sealkit.pki.store import CA, PKIStore

__all__ = [
    "CA",
    "DEFAULT_VALIDITY_DAYS",
    "CAMismatch",
    "CASpec",
    "CertInfo",
    "CertSpec",
    "ChainError",
    "FileSpec",
    "KeyPairSpec",
    "KubeconfigSpec",
    "Layout",
    "LayoutInput",
    "PKIError",
    "PKIStore",
    "cluster_sans",
    "host_sans",
    "inspect_cert",
    "same_ca",
    "scoped",
    "service_ips",
    "split_sans",
    "verify_chain",
]

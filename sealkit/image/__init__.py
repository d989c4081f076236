"""Cluster images: OCI layout store, Kubefile build, registry push/pull, save/load, unpack.

The public surface is re-exported here; see DESIGN §3 for the image format.
"""

from sealkit.image.containers import collect_images, fetch_images
from sealkit.image.kubefile import Kubefile
from sealkit.image.oci import (
    IMAGE_TYPES,
    LABEL_RUNTIME,
    LABEL_TYPE,
    LABEL_VERSION,
    host_arch,
    select_manifest,
)
from sealkit.image.reference import Reference, parse_reference
from sealkit.image.remote import RegistryClient, RegistryOptions
from sealkit.image.store import ImageStore, ImageSummary, default_store, sealkit_home

__all__ = [
    "IMAGE_TYPES",
    "LABEL_RUNTIME",
    "LABEL_TYPE",
    "LABEL_VERSION",
    "ImageStore",
    "ImageSummary",
    "Kubefile",
    "Reference",
    "RegistryClient",
    "RegistryOptions",
    "collect_images",
    "default_store",
    "fetch_images",
    "host_arch",
    "parse_reference",
    "sealkit_home",
    "select_manifest",
]
